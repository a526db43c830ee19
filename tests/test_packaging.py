"""Packaging: what ``pip install .`` gives, with and without the extras.

The core (``pip install .``) is the library and the ``matcher`` command line: a fresh
virtual environment with only the core validates and solves the NEL sample (and reports,
explains, diffs, converts, templates and batches), finds the sample rounds shipped as
package data, and ``matcher serve`` and a Dask sweep say which extra to install;
with ``.[service]`` the same environment serves HTTP. The fresh environment installs with
pip's own resolver, offline, from a wheelhouse of the distributions this test environment
already has (each repacked as a wheel): only what the core's requirements pull in, so an
import the core needs but does not declare fails here, and nothing of the service, Dask,
Jupyter or the dev tools is there.

Also: every dependency has an upper bound, the package list names every package folder,
the extras' module lists agree with ``pyproject.toml``, and the build prints no warning.
"""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from matcher.extras import EXTRA_MODULES

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SAMPLES = ROOT / "data" / "samples"
PROJECT_FILES = ("pyproject.toml", "README.md", "matcher", "matcher_cli", "service",
                 "data/samples")
"""What a build of the project reads (a copy is built, so the checkout gets no build/)."""


def _requirements(group: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    if group == "core":
        texts = project["dependencies"]
    elif group == "build":
        texts = PYPROJECT["build-system"]["requires"]
    elif group == "dev":
        texts = [r for r in PYPROJECT["dependency-groups"]["dev"] if isinstance(r, str)]
    else:
        texts = project["optional-dependencies"][group]
    return [Requirement(t) for t in texts]


# ---- pyproject.toml ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["core", "service", "dask", "notebook", "dev", "build"])
def test_every_dependency_has_an_upper_bound(group: str) -> None:
    unbounded = [str(r) for r in _requirements(group)
                 if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)]
    assert not unbounded, f"{group}: no upper bound on {unbounded}"


def test_the_licence_is_an_spdx_string_and_setuptools_can_read_it() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    (setuptools,) = [r for r in _requirements("build") if r.name == "setuptools"]
    assert setuptools.specifier.contains("77")
    assert not setuptools.specifier.contains("76.9")


def test_the_core_leaves_the_service_dask_and_jupyter_to_extras() -> None:
    core = {canonicalize_name(r.name) for r in _requirements("core")}
    for extra in ("service", "dask", "notebook"):
        assert not core & {canonicalize_name(r.name) for r in _requirements(extra)}, extra
    assert {"fastapi", "uvicorn", "sqlalchemy", "dask", "jupyterlab", "pytest"}.isdisjoint(core)


def test_every_package_folder_is_listed() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(ROOT).parts)
               for top in ("matcher", "matcher_cli", "service")
               for p in (ROOT / top).rglob("__init__.py")}
    data = {"matcher.templates", "matcher.sample_rounds", "service.web.assets",
            "service.web.templates"}
    assert listed == folders | data
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {
        "matcher.sample_rounds": "data/samples"}


def test_the_extras_module_lists_agree_with_pyproject() -> None:
    """Each extra's distributions (installed here: the test environment has every extra)
    provide exactly the modules :data:`matcher.extras.EXTRA_MODULES` checks for."""
    assert set(EXTRA_MODULES) == set(PYPROJECT["project"]["optional-dependencies"])
    provides = metadata.packages_distributions()
    for extra, modules in EXTRA_MODULES.items():
        named = {canonicalize_name(r.name) for r in _requirements(extra)}
        # ... and what their own extras bring (dask[distributed]: distributed)
        brought = {canonicalize_name(d) for d in _closure(_requirements(extra))}
        by_module = {m: {canonicalize_name(d) for d in provides.get(m, ())} for m in modules}
        assert all(by_module.values()), f"{extra}: not installed here: {by_module}"
        assert all(d & brought for d in by_module.values()), f"{extra}: {by_module}"
        covered = set().union(*by_module.values())
        assert named <= covered, f"{extra}: no module checked for {named - covered}"


# ---- a wheelhouse of this environment's distributions -----------------------------------------


def _closure(requirements: list[Requirement]) -> dict[str, metadata.Distribution]:
    """The installed distributions these requirements pull in, markers and extras
    evaluated as pip would."""
    found: dict[str, metadata.Distribution] = {}
    todo = [(r, "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        dist = metadata.distribution(name)
        assert req.specifier.contains(dist.version, prereleases=True), (req, dist.version)
        for wanted in ("", *sorted(req.extras)):
            key = f"{name}[{wanted}]"
            if key in found:
                continue
            found[key] = dist
            todo += [(Requirement(r), wanted) for r in dist.requires or ()]
    return {canonicalize_name(d.metadata["Name"]): d for d in found.values()}


def _wheel_tags(dist: metadata.Distribution) -> str:
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    parts = [t.split("-") for t in tags] or [["py3", "none", "any"]]
    return "-".join(".".join(sorted({p[i] for p in parts})) for i in range(3))


def _repack(dist: metadata.Distribution, out: Path) -> Path:
    """An installed distribution as a wheel again (its files under site-packages; scripts
    are made again by pip from the entry points)."""
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = out / f"{name}-{dist.version}-{_wheel_tags(dist)}.whl"
    skip = {"INSTALLER", "REQUESTED", "direct_url.json"}
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for file in dist.files or ():
            if file.parts[0] == ".." or file.suffix == ".pyc" or file.name in skip:
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                zf.write(source, file.as_posix())
    return wheel


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of everything the core, the service extra, the build and a Jupyter kernel
    need."""
    try:
        kernel = [r for r in _requirements("notebook") if r.name == "ipykernel"]
        dists = _closure(_requirements("core") + _requirements("service")
                         + _requirements("build") + kernel)
    except metadata.PackageNotFoundError as exc:
        pytest.skip(f"this environment lacks {exc}: run scripts/bootstrap")
    out = tmp_path_factory.mktemp("wheelhouse")
    for dist in dists.values():
        _repack(dist, out)
    return out


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a build reads, copied (the checkout gets no build/ or egg-info)."""
    out = tmp_path_factory.mktemp("project") / "spin-matcher"
    for name in PROJECT_FILES:
        source, dest = ROOT / name, out / name
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    return out


def _hermetic_env(**more: str) -> dict[str, str]:
    """The environment without any pip configuration of this machine (no index, no extra
    wheel folders: only the wheelhouse), nor this test environment's Python path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "MATCHER_"))}
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                  "PIP_NO_INPUT": "1"} | more


def _run(args: list[str | Path], cwd: Path, timeout: float = 120,
         **more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=_hermetic_env(**more), timeout=timeout, check=False)


def test_the_build_prints_no_warning_and_ships_the_samples(
        project_copy: Path, tmp_path: Path) -> None:
    """The wheel (built by setuptools from this environment, as `pip install .` builds it)
    ships data/samples byte for byte as matcher/sample_rounds, and building says nothing
    about deprecated settings."""
    script = ("import sys; from setuptools import build_meta; "
              f"print(build_meta.build_wheel({str(tmp_path)!r}))")
    built = _run([sys.executable, "-W", "default", "-c", script], cwd=project_copy)
    assert built.returncode == 0, built.stderr[-3000:]
    warnings = [line for line in built.stderr.splitlines() if re.search(r"\w+Warning\b", line)]
    assert not warnings, "\n".join(warnings)
    wheel = tmp_path / built.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n.removeprefix("matcher/sample_rounds/"): zf.read(n) for n in zf.namelist()
                   if n.startswith("matcher/sample_rounds/")}
        names = zf.namelist()
        dist_info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = zf.read(dist_info).decode()
    expected = {p.relative_to(SAMPLES).as_posix(): p.read_bytes()
                for p in SAMPLES.rglob("*") if p.is_file()}
    assert shipped == expected
    assert "matcher/templates/report.html.j2" in names
    assert "service/migrations/script.py.mako" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "scripts/")) for n in names)
    assert "License-Expression: MIT" in meta
    assert "Provides-Extra: service" in meta
    assert "Provides-Extra: notebook" in meta


# ---- a fresh virtual environment --------------------------------------------------------------


def _pip_install(venv_dir: Path, wheelhouse: Path, target: str | Path, cwd: Path) -> None:
    """`pip install TARGET` offline, from the wheelhouse only."""
    done = _run([venv_dir / "bin" / "python", "-m", "pip", "install", "--no-index",
                 "--find-links", wheelhouse, "--no-compile", "--quiet", target], cwd=cwd,
                timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _installed(venv_dir: Path) -> set[str]:
    listed = _run([venv_dir / "bin" / "python", "-m", "pip", "list", "--format", "freeze"],
                  cwd=venv_dir)
    return {canonicalize_name(line.split("==")[0]) for line in listed.stdout.split()}


@pytest.mark.slow
def test_a_fresh_environment_gets_the_core_then_each_extra(
        wheelhouse: Path, project_copy: Path, tmp_path: Path) -> None:
    """One new virtual environment, in order (each stage builds on the one before):
    `pip install .` alone; then a Jupyter kernel without the notebook extra; then
    `pip install .[service]`."""
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(fresh)
    stages = [tmp_path / name for name in ("core", "kernel", "service")]
    for stage in stages:
        stage.mkdir()
    _pip_install(fresh, wheelhouse, project_copy, tmp_path)
    _check_core(fresh, stages[0])
    _pip_install(fresh, wheelhouse, "ipykernel", tmp_path)
    _check_notebook_without_the_extra(fresh, stages[1])
    _pip_install(fresh, wheelhouse, f"{project_copy}[service]", tmp_path)
    _check_service(fresh, stages[2])


def _check_core(fresh_venv: Path, tmp_path: Path) -> None:
    """`pip install .`: the command line works, the samples are there, and what needs an
    extra says which; nothing of the extras or the dev tools came with it."""
    installed = _installed(fresh_venv)
    assert "spin-matcher" in installed
    for absent in ("fastapi", "uvicorn", "sqlalchemy", "psycopg", "dask", "distributed",
                   "jupyterlab", "ipykernel", "ipywidgets", "pytest", "ruff", "mypy"):
        assert absent not in installed, f"{absent} came with the core install"
    matcher = fresh_venv / "bin" / "matcher"
    nel = SAMPLES / "nel-2027-c1.json"

    checked = _run([matcher, "validate", nel], cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("VALID: round nel-2027-c1: 27 pharmacists, 81 placements")

    solved = _run([matcher, "solve", nel, "--time-limit", "30", "--workers", "1", "--out",
                   tmp_path / "result.json"], cwd=tmp_path)
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert solved.stdout.startswith("round nel-2027-c1: optimal, objective 31535")
    assert (tmp_path / "result.json").is_file()

    # The rest of the command line needs no extra either (on the tiny sample, for speed).
    tiny = SAMPLES / "tiny.json"
    for args in (
        ["solve", tiny, "--workers", "1", "--out", tmp_path / "tiny.json"],
        ["report", tmp_path / "tiny.json", "--round", tiny, "--explain-seconds", "0",
         "--out", tmp_path / "tiny.html", "--out", tmp_path / "tiny.xlsx"],
        ["explain", tmp_path / "tiny.json", "--round", tiny, "--time-limit", "5"],
        ["diff", tmp_path / "tiny.json", tmp_path / "result.json"],
        ["convert", nel, tmp_path / "nel.xlsx"],
        ["template", tmp_path / "template.xlsx"],
    ):
        done = _run([matcher, *args], cwd=tmp_path)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    (tmp_path / "cohorts").mkdir()
    shutil.copy(tiny, tmp_path / "cohorts" / "tiny.json")
    batch = _run([matcher, "batch", tmp_path / "cohorts", "--out", tmp_path / "runs",
                  "--workers", "1", "--explain-seconds", "0"], cwd=tmp_path)
    assert batch.returncode == 0, batch.stdout + batch.stderr
    assert (tmp_path / "runs" / "tiny" / "report.html").is_file()

    served = _run([matcher, "serve", "--port", "0"], cwd=tmp_path, timeout=60)
    assert served.returncode == 2
    assert served.stderr == ("error: the HTTP service needs the service extra: "
                             "pip install 'spin-matcher[service]'\n")
    assert "Traceback" not in served.stdout + served.stderr

    # The samples come from the installed package, identical to data/samples.
    where = _run([fresh_venv / "bin" / "python", "-c",
                  "from matcher import samples; print(samples.folder()); "
                  "print(samples.path('nel-2027-c1'))"], cwd=tmp_path)
    folder, nel_path = where.stdout.split()
    assert Path(folder).is_relative_to(fresh_venv)
    assert Path(folder).name == "sample_rounds"
    assert Path(nel_path).read_bytes() == nel.read_bytes()

    # A sweep on a Dask scheduler without the dask extra says what to install.
    dask = _run([fresh_venv / "bin" / "python", "-c",
                 "from matcher import Scenario, load_round, samples, solve_many\n"
                 "rnd = load_round(samples.path('tiny'))\n"
                 "next(solve_many([Scenario('a', rnd)], executor='tcp://127.0.0.1:1'))"],
                cwd=tmp_path)
    assert dask.returncode == 1
    assert dask.stderr.splitlines()[-1] == (
        "matcher.extras.MissingExtraError: the Dask sweep backend needs the dask extra: "
        "pip install 'spin-matcher[dask]'")


def _check_notebook_without_the_extra(fresh_venv: Path, tmp_path: Path) -> None:
    """A sweep in a Jupyter kernel without ipywidgets: a text progress bar, and a warning
    saying which extra draws it as a widget."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = tmp_path / "kernels" / "core"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(fresh_venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f",
                 "{connection_file}"],
        "display_name": "core only", "language": "python",
        "env": {"PYTHONPATH": "", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}}))
    manager = KernelManager(kernel_name="core", kernel_spec_manager=KernelSpecManager(
        kernel_dirs=[str(tmp_path / "kernels")], ensure_native_kernel=False))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from matcher import InlineExecutor, Scenario, load_round, samples, solve_many\n"
        "rnd = load_round(samples.path('tiny'))\n"
        "print(all(o.ok for o in solve_many([Scenario('a', rnd)], executor=InlineExecutor())))")])
    nbclient.NotebookClient(notebook, km=manager, timeout=120, kernel_name="core",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    streams = {name: "".join(out.text for out in notebook.cells[0].outputs
                             if out.output_type == "stream" and out.name == name)
               for name in ("stdout", "stderr")}
    assert streams["stdout"] == "True\n"
    assert ("UserWarning: a progress bar in a notebook needs the notebook extra: "
            "pip install 'spin-matcher[notebook]'") in streams["stderr"]
    assert "1/1" in streams["stderr"]  # the text bar instead


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check_service(fresh_venv: Path, tmp_path: Path) -> None:
    """`.[service]`: `matcher serve` starts (real uvicorn on loopback) and answers."""
    assert {"fastapi", "uvicorn", "sqlalchemy"} <= _installed(fresh_venv)
    assert "dask" not in _installed(fresh_venv)

    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(fresh_venv / "bin" / "matcher"), "serve", "--port", str(port), "--data-dir",
         str(tmp_path / "data")], stdout=log, stderr=log, cwd=tmp_path,
        env=_hermetic_env(MATCHER_PREWARM="false"), start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health",
                                            timeout=5) as answer:
                    body = answer.read().decode()
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer in 60 s"
                time.sleep(0.2)
        assert '"status":"ok"' in body.replace(" ", "")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/schema/round",
                                    timeout=5) as answer:
            assert b'"spin-round/1"' in answer.read()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    # uvicorn shuts down cleanly, then ends with the signal it got (as it does in 0.30+).
    logged = (tmp_path / "serve.log").read_text()
    assert server.returncode in (0, -signal.SIGTERM), logged[-3000:]
    assert "Application shutdown complete" in logged
