#!/usr/bin/env python3
"""Run a notebook top to bottom and save it with its outputs (as committed).

    .venv/bin/python scripts/execute_notebook.py [examples/what-if.ipynb ...]

Each notebook runs in a fresh kernel on this interpreter (ipykernel, from the ``notebook``
extra), from its own folder, and is written back in place with every output, including the
progress bars' widget state. ``tests/test_notebook.py`` runs the same notebook again from a
copy outside the project and checks that the committed outputs are complete and current.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT / "examples" / "what-if.ipynb",)


def execute(path: Path, *, timeout: float = 240) -> None:
    """Execute ``path`` in place (outputs replaced)."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("notebooks", nargs="*", type=Path, default=list(DEFAULT))
    for path in parser.parse_args(argv).notebooks:
        execute(path)
        print(f"executed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
