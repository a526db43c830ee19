"""The analyst notebook ``examples/what-if.ipynb``: committed with its outputs, and run top to
bottom again, from a copy in a folder outside the project (it finds its sample round through
``matcher.samples``, not the project's folders).

The kernel is this interpreter's own (a kernel spec written to a temporary folder that
points at ``sys.executable``), so the test needs nothing installed at user level: only the
``notebook`` extra (ipykernel, ipywidgets) and the ``dev`` group (nbclient, nbformat).
Regenerate the committed outputs with ``scripts/execute_notebook.py``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "what-if.ipynb"
KERNEL = "spin-matcher-test"


@pytest.fixture
def kernel_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A kernel manager whose only kernel is ipykernel on this interpreter (connection
    files under the test's temporary folder too)."""
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "SPIN Matcher (tests)", "language": "python",
        "env": {"PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")],
                              ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def _outputs(notebook: Any) -> str:
    return "\n".join(
        out.get("text", "") + json.dumps(out.get("data", {}))
        for cell in notebook.cells if cell.cell_type == "code"
        for out in cell.get("outputs", ()))


def _check_walk_through(outputs: str) -> None:
    """The walk-through reached every step and said what it should."""
    assert "round nel-2027-c1: 27 pharmacists, 81 placements" in outputs  # the round's repr
    assert "round nel-2027-c1 (spin-round/1)" in outputs  # ... and its HTML table
    assert "round nel-2027-c1: optimal" in outputs
    assert "result of round nel-2027-c1" in outputs  # the result's HTML table
    assert "close_placement HOSP-BHRUT-AMU from R2" in outputs
    assert "overrides[#2].placement: close_placement HOSP-BHRUT-AMX" in outputs
    assert "base -> what-if" in outputs
    assert "plan -> re-plan" in outputs
    assert "pharmacists moved" in outputs  # the diff's HTML table
    assert "image/png" in outputs  # the trade-off plot
    assert "application/vnd.jupyter.widget-view+json" in outputs  # tqdm.auto's widget
    # The failing scenario of the last sweep, with every problem in its error column.
    assert ("the round has 2 problems: overrides[#1].placement: remove_placement NO-SUCH: "
            "unknown placement id 'NO-SUCH'; overrides[#2].pharmacist: set_unavailable "
            "PH-9999") in outputs


def _shape(notebook: Any) -> list[list[tuple[str, ...]]]:
    """Per code cell, what it showed: each output's type and MIME types (stderr aside).

    Consecutive stdout chunks count as one: the kernel splits printed text into as many
    stream messages as its flushes happened to make (one on a quiet machine, two in a CI
    run)."""
    shapes = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        shown: list[tuple[str, ...]] = []
        for out in cell.get("outputs", ()):
            if out.get("name") == "stderr":
                continue
            kind = (out["output_type"], out.get("name", ""), *sorted(out.get("data", {})))
            if not (shown and kind == shown[-1] and out["output_type"] == "stream"):
                shown.append(kind)
        shapes.append(shown)
    return shapes


def test_the_notebook_is_committed_with_its_outputs() -> None:
    nbformat = pytest.importorskip("nbformat")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("outputs") for cell in code), "run scripts/execute_notebook.py"
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [out for cell in code for out in cell.outputs if out.output_type == "error"]
    _check_walk_through(_outputs(notebook))
    assert "widgets" in notebook.metadata  # the progress bars' state, so they render
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert str(ROOT) not in text
    assert "/tmp/" not in text
    names = [p["name"] for p in json.loads((ROOT / "data" / "samples" / "nel-2027-c1.json")
                                           .read_text(encoding="utf-8"))["pharmacists"]]
    assert not [n for n in names if n in text], "pharmacists' names in the outputs"


@pytest.mark.slow
def test_the_what_if_notebook_runs_from_any_folder(  # type: ignore[no-untyped-def]
        kernel_manager, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    elsewhere = tmp_path / "analyst"
    elsewhere.mkdir()
    copy = shutil.copy(NOTEBOOK, elsewhere / NOTEBOOK.name)
    notebook = nbformat.read(copy, as_version=4)
    committed = _shape(notebook)
    client = nbclient.NotebookClient(
        notebook, km=kernel_manager, timeout=240, kernel_name=KERNEL,
        resources={"metadata": {"path": str(elsewhere)}})
    client.execute()
    _check_walk_through(_outputs(notebook))
    # The committed outputs are what the notebook shows today.
    assert _shape(notebook) == committed, "run scripts/execute_notebook.py"
