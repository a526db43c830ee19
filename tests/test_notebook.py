"""The analyst notebook ``examples/what-if.ipynb`` runs top to bottom without an error.

The kernel is this interpreter's own (a kernel spec written to a temporary folder that
points at ``sys.executable``), so the test needs nothing installed at user level: only the
``dev`` dependency group (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

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


@pytest.mark.slow
def test_the_what_if_notebook_runs(kernel_manager) -> None:  # type: ignore[no-untyped-def]
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, km=kernel_manager, timeout=240, kernel_name=KERNEL,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = "\n".join(
        out.get("text", "") + json.dumps(out.get("data", {}))
        for cell in notebook.cells if cell.cell_type == "code"
        for out in cell.get("outputs", ()))
    # The walk-through reached every step and said what it should.
    assert "round nel-2027-c1: optimal" in outputs
    assert "close_placement HOSP-BHRUT-AMU from R2" in outputs
    assert "overrides[#2].placement: close_placement HOSP-BHRUT-AMX" in outputs
    assert "base -> what-if" in outputs
    assert "plan -> re-plan" in outputs
    assert "image/png" in outputs  # the trade-off plot
    assert "invalid" in outputs  # the failing scenario of the last sweep
