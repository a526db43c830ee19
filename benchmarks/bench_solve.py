"""Benchmark ``matcher.solving.solve`` against plain peers and print one table.

Run from the project folder (see ``benchmarks/README.md``)::

    .venv/bin/python -m benchmarks.bench_solve                 # the full benchmark
    .venv/bin/python -m benchmarks.bench_solve --quick         # small sizes only (CI smoke)
    .venv/bin/python -m benchmarks.bench_solve --sizes 300x400x3 --time-limit 30 --no-peer
    .venv/bin/python -m benchmarks.bench_solve --sizes 300x400x3 --shapes fair-20 replan-200 \
        --seeds 3 --peers cp-sat highs

For each size, round shape (:mod:`benchmarks.variety`; ``plain`` by default) and seed,
``ours`` (``matcher.solving.solve``) and each peer (the CP-SAT model of
:mod:`benchmarks.peer`, the HiGHS MIP of :mod:`benchmarks.highs_peer`) run one after the
other, each in its own child process, so that

- the peak memory of every run is its own (the child's ``ru_maxrss`` as reported by
  ``wait4``, which also covers a run that had to be killed);
- a crash or an out-of-memory kill of one run costs one row, not the table;
- a run that ignores its time limit is killed at the limit plus a margin (reported as
  ``killed``), and a run that grows beyond ``--max-memory-gib`` is killed too, to protect a
  shared machine.

For the NEL sample the whole ``matcher solve`` command is timed as well, when the command
line has a ``solve`` command.

A shape other than ``plain`` is built once per (size, seed) in a child process of its own
(some shapes solve the round first), saved as JSON and loaded by every solver's child, so
no row's memory or time includes building it.

The table goes to standard output, then, when a size has several rows per solver, the
worst row of each solver per size; progress goes to standard error. ``--json OUT`` saves
the raw figures. The exit code is 1 when a run crashed or an answer failed the independent
checker, else 0 (missed targets do not change the exit code).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.variety import SHAPE_HELP, SHAPES, TRANSFORMS, build_shape

__all__ = ["Row", "Size", "Target", "judge", "main", "parse_size", "render_table", "worst_rows"]

ROOT = Path(__file__).resolve().parent.parent
NEL_SAMPLE = ROOT / "data" / "samples" / "nel-2027-c1.json"

DEFAULT_SIZES: tuple[str, ...] = ("nel", "300x400x3", "2000x1500x3", "5000x2500x4")
QUICK_SIZES: tuple[str, ...] = ("nel", "30x60x3")
DEFAULT_LIMITS: dict[str, float] = {
    "nel": 10.0, "300x400x3": 60.0, "2000x1500x3": 60.0, "5000x2500x4": 120.0,
}
OTHER_LIMIT = 60.0
"""Time limit (s) of a size with no default of its own."""
QUICK_LIMIT = 10.0
"""Default time limit (s) of every size under ``--quick``."""
QUICK_MAX_CELLS = 100_000
"""Under ``--quick``, sizes with more pharmacist x placement x period cells are skipped."""
GENERATE_CAP_S = 900.0
"""Most seconds a child may take to generate or load its round before it is killed."""
POLL_S = 0.1

PEERS: dict[str, str] = {"cp-sat": "peer [cp-sat]", "highs": "peer [highs]"}
"""Peers by ``--peers`` name, with the solver label of their rows."""
DEFAULT_PEERS: tuple[str, ...] = ("cp-sat",)

COLUMNS: tuple[str, ...] = ("size", "shape", "seed", "solver", "build s", "solve s", "total s",
                            "status", "objective", "bound", "gap %", "peak MiB", "checked",
                            "target", "met")
"""Header of the printed table, in order."""


# ---- sizes and targets -------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """A round to benchmark: the NEL sample, a generated ``PxLxT`` round or a round file.

    ``key`` is what limits and targets are keyed by (``nel`` or ``PxLxT``); ``dims`` is
    (pharmacists, placements, periods).
    """

    key: str
    label: str
    dims: tuple[int, int, int]
    path: str | None = None

    @property
    def cells(self) -> int:
        """Pharmacists x placements x periods: how big the round is."""
        p, l_, t = self.dims
        return p * l_ * t

    @property
    def generated(self) -> bool:
        """True for a ``generate_round`` size (no file)."""
        return self.path is None


def _dims_of_file(path: Path) -> tuple[int, int, int]:
    """(pharmacists, placements, periods) of a JSON round, counted without validating."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return len(data["pharmacists"]), len(data["placements"]), len(data["periods"])


def parse_dims(text: str) -> tuple[int, int, int] | None:
    """``"300x400x3"`` -> (300, 400, 3); None when ``text`` is not of that form."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        return None
    p, l_, t = (int(part) for part in parts)
    return p, l_, t


def parse_size(text: str) -> Size:
    """A :class:`Size` from ``nel``, ``PxLxT`` or the path of a round file.

    Raises ``ValueError`` for anything else (or a missing file).
    """
    text = text.strip()
    if text.lower() == "nel":
        if not NEL_SAMPLE.exists():
            raise ValueError(f"the NEL sample {NEL_SAMPLE} is not there")
        dims = _dims_of_file(NEL_SAMPLE)
        return Size("nel", f"nel ({'x'.join(map(str, dims))})", dims, str(NEL_SAMPLE))
    dims_or_none = parse_dims(text)
    if dims_or_none is not None:
        key = "x".join(map(str, dims_or_none))
        return Size(key, key, dims_or_none)
    path = Path(text)
    if path.is_file() and path.suffix.lower() == ".json":
        dims = _dims_of_file(path)
        key = "x".join(map(str, dims))
        return Size(key, f"{path.stem} ({key})", dims, str(path.resolve()))
    raise ValueError(f"{text!r} is not 'nel', PxLxT (for example 300x400x3) or a .json round")


@dataclass(frozen=True)
class Target:
    """A performance target of the issue for one size.

    A row meets it when its answer is checked and every given bound holds: ``optimal``
    (proven), ``gap`` (at most, as a fraction), ``seconds`` (strictly below when
    ``strict``, else at most; measured on ``total s``) and ``mib`` (peak memory below).
    ``cli`` targets are judged on the ``matcher solve`` command's row only.
    """

    text: str
    short: str
    seconds: float
    optimal: bool = False
    gap: float | None = None
    mib: float | None = None
    cli: bool = False
    strict: bool = True


TARGETS: dict[str, Target] = {
    "nel": Target("proven optimal, < 1 s for the whole `matcher solve` command",
                  "optimal, <1 s command", 1.0, optimal=True, cli=True),
    "300x400x3": Target("proven optimal, < 1 s solve", "optimal, <1 s", 1.0, optimal=True),
    "2000x1500x3": Target("checked, gap ≤ 0.5 % in 60 s, peak < 4 GiB",
                          "gap≤0.5%, ≤60 s, <4 GiB", 60.0, gap=0.005, mib=4096.0,
                          strict=False),
    "1000x1000x3": Target("checked, gap ≤ 0.3 % in 60 s", "gap≤0.3%, ≤60 s", 60.0,
                          gap=0.003, strict=False),
    "5000x2500x4": Target("checked, gap ≤ 1 % in 120 s, peak < 8 GiB",
                          "gap≤1%, ≤120 s, <8 GiB", 120.0, gap=0.01, mib=8192.0,
                          strict=False),
}
"""The issue's targets, by size key."""


# ---- rows --------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: one run of one solver on one size (raw figures)."""

    size: str
    solver: str
    status: str
    key: str = ""
    shape: str = "plain"
    seed: int | None = None
    time_limit: float | None = None
    build_s: float | None = None
    solve_s: float | None = None
    total_s: float | None = None
    objective: int | None = None
    bound: int | None = None
    gap: float | None = None
    peak_mib: float | None = None
    checked: bool | None = None
    check_objective: int | None = None
    path: str | None = None
    target: str = ""
    met: bool | None = None
    why: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def judge(target: Target, row: Row) -> tuple[bool | None, str]:
    """Whether ``row`` meets ``target``: (True/False, what failed) or (None, why not judged)."""
    if target.cli and not row.solver.startswith("ours (cli"):
        return None, "see the cli row" if row.solver.startswith("ours") else "command target"
    failed: list[str] = []
    if row.checked is not True:
        failed.append("no checked answer" if row.checked is None else "checker disagrees")
    if target.optimal and row.status != "optimal":
        failed.append("not proven optimal")
    if target.gap is not None and (row.gap is None or row.gap > target.gap + 1e-12):
        failed.append("no gap" if row.gap is None else f"gap {100 * row.gap:.2f} %")
    seconds = row.total_s
    if seconds is None:
        failed.append("no time")
    elif seconds > target.seconds or (target.strict and seconds >= target.seconds):
        failed.append(f"{seconds:.2f} s")
    if target.mib is not None and (row.peak_mib is None or row.peak_mib >= target.mib):
        failed.append("no memory figure" if row.peak_mib is None else f"{row.peak_mib:.0f} MiB")
    return not failed, ", ".join(failed)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _cells(row: Row) -> list[str]:
    met = "-" if row.met is None else ("yes" if row.met else f"NO ({row.why})")
    if row.met is None and row.why and row.target:
        met = f"- ({row.why})"
    return [
        row.size, row.shape, _fmt(row.seed), row.solver, _fmt(row.build_s),
        _fmt(row.solve_s), _fmt(row.total_s),
        row.status, _fmt(row.objective), _fmt(row.bound),
        _fmt(None if row.gap is None else 100 * row.gap, 3),
        _fmt(row.peak_mib, 0), _fmt(row.checked), row.target or "-", met,
    ]


def render_table(rows: Sequence[Row]) -> str:
    """The rows as one aligned text table (numbers right-aligned), header first."""
    body = [_cells(r) for r in rows]
    widths = [max([len(h)] + [len(cells[i]) for cells in body]) for i, h in enumerate(COLUMNS)]
    numeric = {"build s", "solve s", "total s", "objective", "bound", "gap %", "peak MiB"}

    def line(cells: Sequence[str]) -> str:
        out = [c.rjust(w) if h in numeric else c.ljust(w)
               for c, w, h in zip(cells, widths, COLUMNS, strict=True)]
        return " | ".join(out).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(COLUMNS), rule, *(line(c) for c in body)])


def _family(row: Row) -> str:
    """The solver of a row without the path ``ours`` took: ``ours``, ``ours (cli)``, a peer."""
    return "ours" if row.solver.startswith("ours [") or row.solver == "ours" else row.solver


def _badness(row: Row) -> tuple[int, int, float, float]:
    """Sort key, larger is worse: no checked answer, then unproven, then gap, then time."""
    gap = row.gap if row.gap is not None else math.inf
    return (row.checked is not True, row.status != "optimal",
            gap if row.status != "optimal" else 0.0, row.total_s or 0.0)


def worst_rows(rows: Sequence[Row]) -> list[Row]:
    """The worst row of each solver per size (see :func:`_badness`), in table order.

    Skipped rows are left out. Empty when no (size, solver) has more than one row.
    """
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if row.status != "skipped":
            groups.setdefault((row.key or row.size, _family(row)), []).append(row)
    if all(len(g) <= 1 for g in groups.values()):
        return []
    worst = {id(max(g, key=_badness)) for g in groups.values()}
    return [r for r in rows if id(r) in worst]


# ---- child processes ---------------------------------------------------------------------


def _proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmHWM and VmRSS (kB) of a process from /proc; empty where /proc is missing."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            out[name] = int(rest.split()[0])
    return out


@dataclass
class Outcome:
    """How a child process ended: exit code (None if killed by us), why it was killed,
    its peak memory, its wall time, the phases it reported and the tail of its stderr."""

    returncode: int | None
    killed: str | None
    peak_mib: float | None
    wall_s: float
    phases: dict[str, float]
    stderr_tail: str


def run_process(
    argv: Sequence[str],
    *,
    deadline: Callable[[dict[str, float]], float],
    max_rss_mib: float,
    status_file: Path | None = None,
    log_path: Path,
) -> Outcome:
    """Run ``argv`` in the project folder; kill it (only it, by pid) past its deadline.

    ``deadline(phases)`` gives the latest wall time (seconds since the start) allowed given
    the phases the child has reported so far (``name -> seconds since start`` as the
    parent first saw them in ``status_file``). Peak memory is the child's own ``ru_maxrss``
    from ``wait4``.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    with log_path.open("wb") as log:
        start = time.monotonic()
        proc = subprocess.Popen(list(argv), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log)
        phases: dict[str, float] = {}
        killed: str | None = None
        while True:
            pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(wait_status)
                break
            now = time.monotonic() - start
            if status_file is not None and status_file.exists():
                for name in status_file.read_text().split():
                    phases.setdefault(name, now)
            rss_kib = _proc_status(proc.pid).get("VmRSS", 0)
            if killed is None and rss_kib / 1024 > max_rss_mib:
                killed = f"memory above {max_rss_mib / 1024:.1f} GiB"
                proc.kill()
            elif killed is None and now > deadline(phases):
                killed = f"still running after {now:.0f} s"
                proc.kill()
            time.sleep(POLL_S)
        wall = time.monotonic() - start
    tail = log_path.read_text(errors="replace").strip().splitlines()[-3:]
    return Outcome(
        returncode=None if killed else proc.returncode,
        killed=killed,
        peak_mib=usage.ru_maxrss / 1024 if usage.ru_maxrss else None,
        wall_s=wall,
        phases=phases,
        stderr_tail=" | ".join(tail),
    )


def _mark(status_file: Path, phase: str) -> None:
    with status_file.open("a") as f:
        f.write(phase + "\n")


def _load(size: dict[str, Any], seed: int, round_file: str | None = None) -> Any:
    """The round of a size (in the child): a built shape's file, the size's file, or
    ``generate_round`` (the ``plain`` shape)."""
    path = round_file or size["path"]
    if path is not None:
        from matcher.formats import load_round  # lazy: only the child loads rounds

        return load_round(path)
    from matcher.synthetic import generate_round  # lazy: only the child builds rounds

    p, l_, t = size["dims"]
    return generate_round(p, l_, t, seed=seed)


def _build_main(job: dict[str, Any]) -> int:
    """Build the round of a shape (a child of its own) and save it as JSON."""
    from matcher.formats import save_round  # lazy: only the build child writes rounds

    status_file = Path(job["status"])
    _mark(status_file, "started")
    p, l_, t = job["size"]["dims"]
    rnd = build_shape(job["shape"], p, l_, t, job["seed"])
    tmp = Path(job["round_file"] + ".tmp.json")
    save_round(rnd, tmp)
    tmp.replace(job["round_file"])
    _mark(status_file, "ready")
    return 0


def child_main(job: dict[str, Any]) -> int:
    """Run one (size, solver) job and write its figures as JSON to ``job["result"]``."""
    if job["solver"] == "build":
        return _build_main(job)
    from matcher import checker  # lazy: the parent process never loads the library

    status_file = Path(job["status"])
    _mark(status_file, "started")
    rnd = _load(job["size"], job["seed"], job.get("round_file"))
    _mark(status_file, "ready")
    out: dict[str, Any] = {"round_mib": _proc_status().get("VmRSS", 0) / 1024}
    if job["solver"] == "ours":
        from matcher.solving import SolveParams, solve  # lazy: the ours child only

        t0 = time.monotonic()
        res = solve(rnd, SolveParams(time_limit_s=job["time_limit"], workers=job["workers"],
                                     seed=job["seed"]))
        total = time.monotonic() - t0
        checked: bool | None = None
        recomputed: int | None = None
        if res.has_solution:
            found = checker.violations(rnd, res.allocation)
            recomputed = checker.objective(rnd, res.allocation).total
            checked = not found and recomputed == res.objective
        out |= {
            "status": res.status, "objective": res.objective, "bound": res.bound,
            "gap": res.gap, "build_s": res.stats.get("build_seconds"),
            "solve_s": res.stats.get("solve_seconds"), "total_s": total,
            "path": res.stats.get("path"), "checked": checked, "check_objective": recomputed,
        }
    elif job["solver"] == "highs":
        from benchmarks.highs_peer import build_highs, solve_highs_built  # lazy: highspy

        hm = build_highs(rnd)
        _mark(status_file, "built")
        hr = solve_highs_built(hm, time_limit_s=job["time_limit"], workers=job["workers"],
                               seed=job["seed"])
        out |= {
            "status": hr.status, "objective": hr.objective, "bound": hr.bound, "gap": hr.gap,
            "build_s": hr.build_seconds, "solve_s": hr.solve_seconds,
            "total_s": hr.build_seconds + hr.solve_seconds, "checked": hr.checked,
            "check_objective": hr.check_objective, "model": hr.stats,
            "violations": hr.violations, "highs_objective": hr.highs_objective,
            "model_status": hr.model_status,
        }
    else:
        from benchmarks.peer import build_peer, solve_built  # lazy: the CP-SAT peer child only

        t0 = time.monotonic()
        pm = build_peer(rnd)
        _mark(status_file, "built")
        pr = solve_built(pm, time_limit_s=job["time_limit"], workers=job["workers"],
                         seed=job["seed"])
        out |= {
            "status": pr.status, "objective": pr.objective, "bound": pr.bound, "gap": pr.gap,
            "build_s": pr.build_seconds, "solve_s": pr.solve_seconds,
            "total_s": pr.build_seconds + pr.solve_seconds, "checked": pr.checked,
            "check_objective": pr.check_objective, "model": pr.stats,
            "violations": pr.violations,
        }
    hwm = _proc_status().get("VmHWM")
    out["vm_hwm_mib"] = None if hwm is None else hwm / 1024
    tmp = Path(job["result"] + ".tmp")
    tmp.write_text(json.dumps(out))
    tmp.replace(job["result"])
    return 0


# ---- the benchmark -----------------------------------------------------------------------


@dataclass
class Settings:
    """What the command line asked for."""

    sizes: list[Size]
    limits: dict[str, float]
    workers: int
    seed: int
    peer: bool
    peer_max_cells: int | None
    margin: float | None
    peer_build_cap: float | None
    max_rss_mib: float
    cli: bool
    skipped: list[str]
    shapes: list[str] = field(default_factory=lambda: ["plain"])
    seeds: list[int] = field(default_factory=lambda: [0])
    peers: list[str] = field(default_factory=lambda: list(DEFAULT_PEERS))
    rounds: Path | None = None  # --rounds: where built rounds are kept and reused


@dataclass(frozen=True)
class Case:
    """One round of the benchmark: a size, a shape and a seed (of the round and solvers).

    ``round_file`` is the built round of a shape other than ``plain``; ``None`` means the
    child makes the round itself (``generate_round`` or the size's file).
    """

    size: Size
    shape: str = "plain"
    seed: int = 0
    round_file: str | None = None

    @property
    def stem(self) -> str:
        """A file-name stem unique to the case within one run."""
        where = self.size.key if self.size.generated else Path(str(self.size.path)).stem
        return f"{where}-{self.shape}-s{self.seed}"


def _limit(settings: Settings, size: Size) -> float:
    return settings.limits.get(size.key, settings.limits.get("*", OTHER_LIMIT))


def _margin(settings: Settings, limit: float) -> float:
    return settings.margin if settings.margin is not None else max(20.0, 0.25 * limit)


def _progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _case_label(case: Case) -> str:
    return f"{case.size.label} {case.shape} seed {case.seed}"


def build_case(settings: Settings, case: Case, work: Path) -> Case | Row:
    """Build the round of a shape in a child of its own; the case with its round file, or a
    ``crashed``/``killed`` row (solver ``(build)``) when building failed."""
    if case.shape == "plain" or not case.size.generated:
        return case
    round_file = (settings.rounds or work) / f"{case.stem}.round.json"
    if settings.rounds is not None:
        if round_file.exists():
            _progress(f"{_case_label(case)}: the round kept in {settings.rounds}")
            return Case(case.size, case.shape, case.seed, str(round_file))
        settings.rounds.mkdir(parents=True, exist_ok=True)
    status_file = work / f"{case.stem}-build.status"
    job = {"size": {"path": None, "dims": list(case.size.dims)}, "solver": "build",
           "shape": case.shape, "seed": case.seed, "round_file": str(round_file),
           "status": str(status_file)}
    _progress(f"{_case_label(case)}: building the round")
    outcome = run_process(
        [sys.executable, "-m", "benchmarks.bench_solve", "--child", json.dumps(job)],
        deadline=lambda _: GENERATE_CAP_S, max_rss_mib=settings.max_rss_mib,
        status_file=status_file, log_path=work / f"{case.stem}-build.log",
    )
    if round_file.exists() and outcome.returncode == 0:
        return Case(case.size, case.shape, case.seed, str(round_file))
    row = Row(size=case.size.label, solver="(build)", key=case.size.key, shape=case.shape,
              seed=case.seed, status="killed" if outcome.killed else "crashed",
              peak_mib=outcome.peak_mib)
    row.note = (f"building the round: {outcome.killed}" if outcome.killed else
                f"building the round: exit {outcome.returncode}: "
                f"{outcome.stderr_tail[-300:]}")
    _progress(f"{_case_label(case)}: {row.note}")
    return row


def run_solver(settings: Settings, case: Case, solver: str, work: Path) -> Row:
    """One (case, solver) run in its own process, as a :class:`Row`.

    ``solver`` is ``ours`` or a peer of :data:`PEERS` (``cp-sat``, ``highs``).
    """
    size = case.size
    limit = _limit(settings, size)
    margin = _margin(settings, limit)
    build_cap = (settings.peer_build_cap if settings.peer_build_cap is not None
                 else max(300.0, 3 * limit))
    peer = solver in PEERS
    stem = f"{case.stem}-{solver}"
    status_file, result_file = work / f"{stem}.status", work / f"{stem}.json"
    job = {"size": {"path": size.path, "dims": list(size.dims)}, "solver": solver,
           "time_limit": limit, "workers": settings.workers, "seed": case.seed,
           "round_file": case.round_file, "shape": case.shape,
           "status": str(status_file), "result": str(result_file)}

    def deadline(phases: dict[str, float]) -> float:
        if peer and "built" in phases:
            return phases["built"] + limit + margin
        if "ready" in phases:
            return phases["ready"] + (build_cap + limit + margin if peer else limit + margin)
        return GENERATE_CAP_S

    label = PEERS.get(solver, solver)
    _progress(f"{_case_label(case)} {label}: time limit {limit:g} s")
    outcome = run_process(
        [sys.executable, "-m", "benchmarks.bench_solve", "--child", json.dumps(job)],
        deadline=deadline, max_rss_mib=settings.max_rss_mib, status_file=status_file,
        log_path=work / f"{stem}.log",
    )
    row = Row(size=size.label, solver=label, status="?", key=size.key, shape=case.shape,
              seed=case.seed, time_limit=limit, peak_mib=outcome.peak_mib)
    if result_file.exists():
        data = json.loads(result_file.read_text())
        row.status = data["status"]
        for name in ("build_s", "solve_s", "total_s", "objective", "bound", "gap", "checked",
                     "check_objective", "path"):
            setattr(row, name, data.get(name))
        if row.path:
            row.solver = f"ours [{row.path}]"
        row.extra = {k: v for k, v in data.items() if k in
                     ("round_mib", "vm_hwm_mib", "model", "violations", "highs_objective",
                      "model_status")}
        if row.peak_mib is None and data.get("vm_hwm_mib") is not None:
            row.peak_mib = data["vm_hwm_mib"]
    elif outcome.killed:
        row.status = "killed"
        row.note = outcome.killed
        if outcome.killed.startswith("still running"):
            row.note += f" (time limit {limit:g} s + margin {margin:g} s)"
        if "built" in outcome.phases and "ready" in outcome.phases:
            row.build_s = outcome.phases["built"] - outcome.phases["ready"]
            row.note += f"; model built after ~{row.build_s:.0f} s"
        elif "ready" in outcome.phases:
            row.note += "; never reached the solve" if peer else ""
    else:
        code = outcome.returncode
        row.status = "crashed"
        hint = " (killed by signal 9: out of memory?)" if code == -9 else ""
        row.note = f"exit {code}{hint}: {outcome.stderr_tail[-300:]}"
    _progress(f"{_case_label(case)} {label}: {row.status} in {outcome.wall_s:.1f} s wall"
              + (f" ({row.note})" if row.note else ""))
    return row


def _matcher_command() -> str | None:
    """The ``matcher`` console script next to this Python, or on PATH."""
    here = Path(sys.executable).parent / "matcher"
    if here.exists():
        return str(here)
    return shutil.which("matcher")


def run_cli(settings: Settings, size: Size, work: Path) -> Row | str:
    """Time the whole ``matcher solve SAMPLE --out OUT`` command; a note if it cannot run."""
    exe = _matcher_command()
    if exe is None:
        return "CLI row skipped: no `matcher` command found"
    probe = subprocess.run([exe, "solve", "--help"], cwd=ROOT, capture_output=True,
                           timeout=120, check=False)
    if probe.returncode != 0:
        return "CLI row skipped: `matcher solve` does not exist yet (the CLI has no solve command)"
    limit = _limit(settings, size)
    out_file = work / "cli-result.json"
    _progress(f"{size.label} `matcher solve`")
    outcome = run_process(
        [exe, "solve", str(size.path), "--out", str(out_file)],
        deadline=lambda _: limit + _margin(settings, limit), max_rss_mib=settings.max_rss_mib,
        log_path=work / "cli.log",
    )
    row = Row(size=size.label, solver="ours (cli)", status="?", key=size.key,
              seed=settings.seeds[0], total_s=outcome.wall_s, peak_mib=outcome.peak_mib,
              time_limit=limit)
    if outcome.killed:
        row.status = "killed"
        row.note = f"`matcher solve`: {outcome.killed}"
        return row
    if not out_file.exists():
        row.status = "error"
        row.note = f"`matcher solve` exit {outcome.returncode}: {outcome.stderr_tail[-300:]}"
        return row
    from matcher import checker  # lazy: the parent loads the library only for this row
    from matcher.formats import load_round  # lazy: as above
    from matcher.result import Result  # lazy: as above

    res = Result.from_dict(json.loads(out_file.read_text()))
    row.status, row.objective, row.bound, row.gap = res.status, res.objective, res.bound, res.gap
    row.build_s, row.solve_s = res.stats.get("build_seconds"), res.stats.get("solve_seconds")
    row.path = res.stats.get("path")
    if res.has_solution:
        rnd = load_round(str(size.path))
        recomputed = checker.objective(rnd, res.allocation).total
        row.check_objective = recomputed
        row.checked = not checker.violations(rnd, res.allocation) and recomputed == res.objective
    if outcome.returncode not in (0, None):
        row.note = f"`matcher solve` exit {outcome.returncode}"
    _progress(f"{size.label} `matcher solve`: {row.status} in {outcome.wall_s:.2f} s")
    return row


def cases(settings: Settings) -> tuple[list[Case], list[str]]:
    """Every (size, shape, seed) to run, in order, and notes on what was left out.

    Shapes and seeds vary generated sizes; the NEL sample and round files run once, as
    they are (``plain``, the first seed).
    """
    out: list[Case] = []
    notes: list[str] = []
    for size in settings.sizes:
        if size.generated:
            out += [Case(size, shape, seed) for shape in settings.shapes
                    for seed in settings.seeds]
            continue
        out.append(Case(size, "plain", settings.seeds[0]))
        if settings.shapes != ["plain"] or len(settings.seeds) > 1:
            notes.append(f"{size.label}: a fixed round, run once as it is (shapes and "
                         "seeds vary generated sizes only)")
    return out, notes


def run_benchmark(settings: Settings, work: Path) -> tuple[list[Row], list[str]]:
    """Every run of the benchmark, in order: rows of the table and notes under it."""
    rows: list[Row] = []
    todo, notes = cases(settings)
    notes = list(settings.skipped) + notes
    peers = settings.peers if settings.peer else []
    for planned in todo:
        built = build_case(settings, planned, work)
        if isinstance(built, Row):
            case_rows = [built]
        else:
            case = built
            size = case.size
            case_rows = [run_solver(settings, case, "ours", work)]
            if size.key == "nel" and settings.cli:
                cli = run_cli(settings, size, work)
                if isinstance(cli, Row):
                    case_rows.append(cli)
                else:
                    notes.append(cli)
            for peer in peers:
                if settings.peer_max_cells is not None and size.cells > settings.peer_max_cells:
                    case_rows.append(Row(size=size.label, solver=PEERS[peer], key=size.key,
                                         shape=case.shape, seed=case.seed, status="skipped",
                                         note="peer skipped (--peer-max-size)"))
                else:
                    case_rows.append(run_solver(settings, case, peer, work))
        target = TARGETS.get(planned.size.key)
        for row in case_rows:
            if target is not None:
                row.target = target.short
                if row.status != "skipped":
                    row.met, row.why = judge(target, row)
            if row.note:
                notes.append(f"{row.size} {row.shape} seed {row.seed} {row.solver}: {row.note}")
        rows += case_rows
    return rows, notes


def _mem_available_mib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _parse_limits(values: Sequence[str]) -> dict[str, float]:
    """``--time-limit`` values: ``SECONDS`` (every size) or ``SIZE=SECONDS`` lists."""
    out: dict[str, float] = {}
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            name, sep, seconds = item.rpartition("=")
            if not sep:
                out["*"] = float(seconds)
                continue
            key = name.strip().lower()
            dims = parse_dims(key)
            out[key if dims is None else "x".join(map(str, dims))] = float(seconds)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_solve",
        description="Benchmark matcher.solving.solve against plain peers; print one table.",
        epilog="shapes: " + "; ".join(f"{name}: {text}" for name, text in SHAPE_HELP.items()),
    )
    p.add_argument("--sizes", nargs="+", metavar="SIZE",
                   help="'nel' (the NEL sample), PxLxT (a generated round) or a .json round; "
                        "space- or comma-separated (default: nel 300x400x3 2000x1500x3 "
                        "5000x2500x4; with --quick: nel 30x60x3)")
    p.add_argument("--time-limit", nargs="+", default=[], metavar="SECONDS",
                   help="seconds per run: one number for every size, or SIZE=SECONDS items "
                        "(defaults: nel 10, 300x400x3 60, 2000x1500x3 60, 5000x2500x4 120, "
                        f"other sizes {OTHER_LIMIT:g}; {QUICK_LIMIT:g} with --quick)")
    p.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default 2)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the generated rounds and of the solvers (default 0)")
    p.add_argument("--seeds", type=int, default=1, metavar="N",
                   help="run every generated size and shape with N seeds: --seed, --seed + 1, "
                        "... (default 1)")
    p.add_argument("--shapes", nargs="+", metavar="SHAPE",
                   help="round shapes of benchmarks/variety.py for the generated sizes, space- "
                        "or comma-separated, or 'all' (default: plain). One of: "
                        + ", ".join(SHAPES) + "; or several joined by '+' "
                        "(e.g. fair-50+replan-200)")
    p.add_argument("--peers", nargs="+", metavar="PEER",
                   help="peers to run beside ours: " + ", ".join(PEERS)
                        + " (default: " + " ".join(DEFAULT_PEERS) + ")")
    p.add_argument("--no-peer", action="store_true", help="run ours only")
    p.add_argument("--peer-max-size", metavar="PxLxT",
                   help="skip the peer on sizes with more pharmacist x placement x period "
                        "cells than this (PxLxT or a number of cells)")
    p.add_argument("--no-cli", action="store_true", help="do not time `matcher solve`")
    p.add_argument("--quick", action="store_true",
                   help=f"small sizes only (skip sizes above {QUICK_MAX_CELLS:,} cells), "
                        "for a CI smoke run")
    p.add_argument("--margin", type=float,
                   help="seconds past the time limit before a run is killed "
                        "(default max(20, a quarter of the limit))")
    p.add_argument("--peer-build-cap", type=float,
                   help="seconds the peer may spend building its model before the time "
                        "limit starts counting (default max(300, 3 x the limit))")
    p.add_argument("--max-memory-gib", type=float,
                   help="kill a run whose resident memory exceeds this (default: 60 %% of "
                        "the memory available at start, at most 12 GiB)")
    p.add_argument("--json", metavar="OUT", type=Path, help="also save the raw figures here")
    p.add_argument("--rounds", metavar="DIR", type=Path,
                   help="keep the built rounds of shapes other than plain in DIR and reuse "
                        "those already there, so that runs compare the same rounds (the "
                        "re-plan shapes solve their round for the reference under a time "
                        "limit, so each build differs); empty it when the generator or the "
                        "shapes change")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p


def _settings(args: argparse.Namespace) -> Settings:
    skipped: list[str] = []
    names: list[str] = []
    for item in args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES):
        names += [n for n in item.split(",") if n.strip()]
    sizes: list[Size] = []
    for name in names:
        try:
            size = parse_size(name)
        except ValueError as exc:
            if name.strip().lower() == "nel":
                skipped.append(f"nel skipped: {exc}")
                continue
            raise SystemExit(f"error: {exc}") from None
        if args.quick and size.cells > QUICK_MAX_CELLS:
            skipped.append(f"{size.label} skipped: above {QUICK_MAX_CELLS:,} cells (--quick)")
            continue
        sizes.append(size)
    given = _parse_limits(args.time_limit)
    if "*" in given:  # one number for every size replaces every default
        limits = given
    else:
        limits = ({"*": QUICK_LIMIT} if args.quick else dict(DEFAULT_LIMITS)) | given
    peer_max: int | None = None
    if args.peer_max_size:
        dims = parse_dims(args.peer_max_size)
        if dims is not None:
            peer_max = dims[0] * dims[1] * dims[2]
        elif args.peer_max_size.replace("_", "").isdigit():
            peer_max = int(args.peer_max_size.replace("_", ""))
        else:
            raise SystemExit(f"error: --peer-max-size {args.peer_max_size!r} is not PxLxT "
                             "or a number of cells")
    if args.max_memory_gib is not None:
        max_rss = args.max_memory_gib * 1024
    else:
        available = _mem_available_mib() or 16 * 1024
        max_rss = min(12 * 1024, 0.6 * available)
    if args.seeds < 1:
        raise SystemExit("error: --seeds must be 1 or more")
    return Settings(sizes=sizes, limits=limits, workers=args.workers, seed=args.seed,
                    peer=not args.no_peer, peer_max_cells=peer_max, margin=args.margin,
                    peer_build_cap=args.peer_build_cap, max_rss_mib=max_rss,
                    cli=not args.no_cli, skipped=skipped, shapes=_names(args.shapes),
                    seeds=[args.seed + i for i in range(args.seeds)],
                    peers=_peers(args.peers) if not args.no_peer else [],
                    rounds=args.rounds)


def _split(values: Sequence[str] | None) -> list[str]:
    return [n.strip() for item in values or () for n in item.split(",") if n.strip()]


def _names(values: Sequence[str] | None) -> list[str]:
    """``--shapes``: known names (``all`` for every shape), in order, each once."""
    names = _split(values) or ["plain"]
    if "all" in names:
        return list(SHAPES)
    unknown = [n for n in names if not all(part in TRANSFORMS for part in n.split("+"))]
    if unknown:
        raise SystemExit(f"error: unknown shape(s) {', '.join(unknown)}; the shapes are: "
                         + ", ".join(SHAPES) + ", or several joined by '+'")
    return list(dict.fromkeys(names))


def _peers(values: Sequence[str] | None) -> list[str]:
    """``--peers``: known peers, in order, each once; HiGHS only when highspy is installed."""
    names = _split(values) or list(DEFAULT_PEERS)
    unknown = [n for n in names if n not in PEERS]
    if unknown:
        raise SystemExit(f"error: unknown peer(s) {', '.join(unknown)}; the peers are: "
                         + ", ".join(PEERS))
    if "highs" in names and importlib.util.find_spec("highspy") is None:
        raise SystemExit("error: the highs peer needs highspy, a dev dependency: "
                         ".venv/bin/pip install 'highspy>=1.16,<2'")
    return list(dict.fromkeys(names))


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except Exception:  # a missing distribution only loses a line of the header
        return "?"


def _meta(settings: Settings) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": platform.node(), "python": platform.python_version(),
        "ortools": _version("ortools"),
        "highspy": _version("highspy") if "highs" in settings.peers else None,
        "cpus": os.cpu_count(), "workers": settings.workers, "seed": settings.seed,
        "seeds": settings.seeds, "shapes": settings.shapes, "peers": settings.peers,
        "max_memory_mib": round(settings.max_rss_mib),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.child:
        return child_main(json.loads(args.child))
    settings = _settings(args)
    meta = _meta(settings)
    with tempfile.TemporaryDirectory(prefix="bench-solve-") as tmp:
        rows, notes = run_benchmark(settings, Path(tmp))
    peers = ", ".join(settings.peers) or "no peer"
    highs = f", highspy {meta['highspy']}" if meta["highspy"] else ""
    seeds = (f"seed {settings.seed}" if len(settings.seeds) == 1
             else f"seeds {settings.seeds[0]}-{settings.seeds[-1]}")
    print(f"matcher.solve vs peers ({peers}) — {meta['date']}, {meta['cpus']} cpus, "
          f"ortools {meta['ortools']}{highs}, workers {settings.workers}, {seeds}")
    print(render_table(rows))
    worst = worst_rows(rows)
    if worst:
        print()
        print("worst row of each solver per size (no checked answer, then unproven, then the "
              "largest gap, then the slowest):")
        print(render_table(worst))
    per_size = {r.size: r.time_limit for r in rows if r.time_limit is not None}
    limits = ", ".join(f"{size} {limit:g} s" for size, limit in per_size.items())
    if limits:
        print(f"time limits: {limits}")
    keys = list(dict.fromkeys(r.key for r in rows if r.key in TARGETS))
    for key in keys:
        print(f"target {key}: {TARGETS[key].text}")
    for note in notes:
        print(f"note: {note}")
    if args.json is not None:
        args.json.write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows],
                                         "notes": notes}, indent=2))
    bad = [r for r in rows if r.status in ("crashed", "error") or r.checked is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
