"""Scheduled runs: solve every cohort in a folder, with outputs and a summary for the run.

:func:`run_batch` finds every round in ``cohorts_dir`` (``.json``, ``.xlsx``, ``.zip`` and
CSV-bundle folders; hidden entries and other files are ignored), and for each cohort writes
to ``out_dir/<cohort>/``:

* ``result.json`` (the §5 result) and ``round.json`` (the validated round it answers, so
  ``matcher report out_dir/<cohort>/result.json`` needs no ``--round``);
* ``report.html`` (:mod:`matcher.report`) and, when there is an allocation,
  ``workbook.xlsx`` (:mod:`matcher.planner_workbook`);
* for an invalid input, ``problems.txt`` listing every problem instead.

and ``out_dir/summary.csv``: one row per cohort (status, objective, bound, gap, headline
KPIs, the baseline's objective, the input's SHA-256, output paths, a message).

**Skipping.** ``out_dir/.matcher-batch.json`` records each cohort's input hash, the
settings it was solved with (time limit, seed, explanation budget, baseline order; not
the number of workers) and its outcome. An input whose content and settings are unchanged
since its last completed run, with its outputs still there, is skipped unless ``force``:
its row in the summary is carried over with ``action`` = ``skipped`` (otherwise ``run``),
and its status still counts towards the exit code, so a cron job keeps reporting a broken
input until it is fixed. A cohort that crashed (``error``) is always run again.

**Cohorts no longer there.** A folder of ``out_dir`` that holds a cohort's outputs (or is
in the state file) but whose input is no longer in ``cohorts_dir`` (removed, or renamed: its
outputs would otherwise sit beside the new name's, a stale plan a consumer may read as
current) is moved, before anything is solved, to ``out_dir/_stale/<cohort>-<timestamp>/``
with a ``MOVED-ASIDE.txt`` saying why; the run reports it (:attr:`BatchSummary.stale`) and
forgets its state. Other folders and files of ``out_dir`` are left alone.

**Postcodes.** ``settings.postcodes`` is the postcode lookup file for rounds that give
locations as postcodes (:mod:`matcher.formats.postcodes`); a change to it (size or time)
runs every cohort again.

**Status and exit code.** Each cohort ends ``optimal``, ``feasible``, ``infeasible``,
``unknown`` (no allocation within the time limit), ``invalid`` (the input is not a valid
round) or ``error`` (an unexpected failure, logged with its traceback). The run's exit code
(:attr:`BatchSummary.exit_code`), over every cohort including skipped ones, is **1** if any
input is invalid, else **2** if any cohort has no allocation (infeasible, unknown or error),
else **0**: invalid input wins because it is what a planner must fix first.

**Parallelism.** ``jobs`` cohorts run at once in separate processes (spawned, so each has
its own solver state); each solve gets ``settings.workers`` search workers (by default the
cores shared out between the jobs). Logs name cohorts, statuses and counts, never people.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.errors import InvalidRoundError
from matcher.formats import load_round, save_round
from matcher.formats.results import save_result
from matcher.formats.safety import neutralise, write_atomic
from matcher.planner_workbook import write_workbook
from matcher.report import prepare, write_report
from matcher.solving import SolveParams, solve

__all__ = [
    "ROUND_SUFFIXES",
    "STALE_DIR",
    "STATE_FILE",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "BatchSettings",
    "BatchSummary",
    "Cohort",
    "CohortOutcome",
    "StaleOutput",
    "content_hash",
    "discover",
    "exit_code",
    "run_batch",
    "solve_cohort",
    "write_summary",
]

log = logging.getLogger(__name__)

ROUND_SUFFIXES = (".json", ".xlsx", ".zip")
"""File suffixes read as rounds (folders are CSV bundles)."""
STATE_FILE = ".matcher-batch.json"
"""The state file in the output folder (input hashes, settings, outcomes)."""
STATE_FORMAT = "spin-batch-state/1"
STALE_DIR = "_stale"
"""The folder of ``out_dir`` that outputs of cohorts no longer present are moved into."""
STALE_NOTE = "MOVED-ASIDE.txt"
STATUSES = ("optimal", "feasible", "infeasible", "unknown", "invalid", "error")
"""Every cohort status."""
OUTPUTS = ("result.json", "round.json", "report.html", "workbook.xlsx", "problems.txt")
SUMMARY_COLUMNS = (
    "cohort", "input", "status", "action", "objective", "bound", "gap", "assignments",
    "unassigned", "first_choice_share", "top_3_share", "hard_to_recruit_fill",
    "population_health_fill", "shortfall", "baseline_objective", "input_sha256", "result",
    "report", "workbook", "message", "seconds", "finished_at",
)
"""Columns of ``summary.csv``, in order."""

_HEADLINE = ("assignments", "unassigned", "first_choice_share", "top_3_share",
             "hard_to_recruit_fill", "population_health_fill", "shortfall")


@dataclass(frozen=True)
class BatchSettings:
    """How each cohort is solved and reported.

    ``workers`` is the search workers per solve (0: the machine's cores divided by the
    number of jobs); ``explain_seconds`` the re-solve budget of each report's explanations
    (0: reasons without costs); ``order`` and ``seed`` the baseline's priority order;
    ``postcodes`` the postcode lookup file for rounds that give postcodes.
    """

    time_limit_s: float = 60.0
    workers: int = 0
    seed: int = 0
    explain_seconds: float = 10.0
    order: str = "listed"
    postcodes: str | None = None

    def fingerprint(self) -> str:
        """What, besides the input, changes a cohort's outputs (recorded for skipping);
        the number of workers does not. The postcode lookup file counts by its path, size
        and modification time (hashing a national directory on every run would be slow)."""
        settings = dataclasses.asdict(self)
        settings.pop("workers")
        if self.postcodes is None:
            settings.pop("postcodes")
        else:
            settings["postcodes"] = _file_stamp(Path(self.postcodes))
        return json.dumps(settings, sort_keys=True)


def _file_stamp(path: Path) -> list[Any]:
    try:
        info = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path.resolve()), info.st_size, info.st_mtime_ns]


@dataclass(frozen=True)
class Cohort:
    """One round in the cohorts folder: its name (the output folder) and its path."""

    name: str
    path: Path


@dataclass(frozen=True)
class CohortOutcome:
    """What happened to one cohort: a row of ``summary.csv`` (see :data:`SUMMARY_COLUMNS`)."""

    cohort: str
    input: str
    status: str
    action: str = "run"
    objective: int | None = None
    bound: int | None = None
    gap: float | None = None
    kpis: Mapping[str, Any] = field(default_factory=dict)
    baseline_objective: int | None = None
    input_sha256: str = ""
    result: str = ""
    report: str = ""
    workbook: str = ""
    message: str = ""
    seconds: float = 0.0
    finished_at: str = ""

    @property
    def solved(self) -> bool:
        """True when the cohort has an allocation."""
        return self.status in ("optimal", "feasible")

    def row(self) -> dict[str, Any]:
        """The ``summary.csv`` row."""
        out = {c: getattr(self, c) for c in SUMMARY_COLUMNS if hasattr(self, c)}
        out.update({k: self.kpis.get(k) for k in _HEADLINE})
        return {c: out.get(c) for c in SUMMARY_COLUMNS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for the state file)."""
        return {**dataclasses.asdict(self), "kpis": dict(self.kpis)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CohortOutcome:
        """Read :meth:`to_dict` back."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class StaleOutput:
    """Outputs of a cohort whose input is no longer in the cohorts folder, moved aside.

    ``moved_to`` is the folder they are in now, relative to ``out_dir``
    (``_stale/<cohort>-<timestamp>``); empty when they could not be moved (``message``
    says why).
    """

    cohort: str
    input: str = ""
    moved_to: str = ""
    message: str = ""


@dataclass(frozen=True)
class BatchSummary:
    """The run: every cohort's outcome (in cohort order), where the summary is, and the
    outputs of cohorts no longer present that were moved aside."""

    outcomes: tuple[CohortOutcome, ...]
    summary_path: Path
    stale: tuple[StaleOutput, ...] = ()

    @property
    def exit_code(self) -> int:
        """0 all solved, 1 some input invalid, 2 some cohort without an allocation."""
        return exit_code(self.outcomes)

    @property
    def ran(self) -> tuple[CohortOutcome, ...]:
        """The cohorts run this time."""
        return tuple(o for o in self.outcomes if o.action != "skipped")

    @property
    def skipped(self) -> tuple[CohortOutcome, ...]:
        """The cohorts skipped as unchanged (their outcome is their last run's)."""
        return tuple(o for o in self.outcomes if o.action == "skipped")

    def failed(self) -> list[CohortOutcome]:
        """The cohorts without an allocation (invalid, infeasible, unknown, error)."""
        return [o for o in self.outcomes if not o.solved]

    def headline(self) -> str:
        """What ran and what was skipped, truthfully: ``5 cohort(s): ran 1 (1 with an
        allocation, 0 without), skipped 4 unchanged (3 with an allocation from their last
        run, 1 without)``; and the outputs moved aside, if any."""
        ran, skipped = self.ran, self.skipped
        ok_ran = sum(o.solved for o in ran)
        ok_skipped = sum(o.solved for o in skipped)
        text = (f"{len(self.outcomes)} cohort(s): ran {len(ran)} ({ok_ran} with an "
                f"allocation, {len(ran) - ok_ran} without), skipped {len(skipped)} "
                f"unchanged ({ok_skipped} with an allocation from their last run, "
                f"{len(skipped) - ok_skipped} without)")
        if self.stale:
            text += (f"; outputs of {len(self.stale)} cohort(s) no longer in the cohorts "
                     f"folder moved aside to {STALE_DIR}/")
        return text


def exit_code(outcomes: Sequence[CohortOutcome]) -> int:
    """1 if any input is invalid, else 2 if any cohort has no allocation, else 0."""
    if any(o.status == "invalid" for o in outcomes):
        return 1
    if any(not o.solved for o in outcomes):
        return 2
    return 0


# ---- finding cohorts -------------------------------------------------------------------------


def discover(cohorts_dir: Path, *, exclude: Sequence[Path] = ()) -> list[Cohort]:
    """Every round in the folder, in name order, with unique cohort names.

    A cohort is named after its file without the suffix (a folder: its name); when two
    inputs share a name (``a.json`` and ``a.xlsx``) the suffix is kept (``a-json``).
    """
    skip = {p.resolve() for p in exclude}
    found: list[Path] = []
    for entry in sorted(cohorts_dir.iterdir()):
        if entry.name.startswith((".", "~$")) or entry.resolve() in skip:
            continue
        if entry.is_dir() or (entry.is_file() and entry.suffix.lower() in ROUND_SUFFIXES):
            found.append(entry)
        else:
            log.info("batch: ignoring %s (not a round: use .json, .xlsx, .zip or a folder)",
                     entry.name)
    stems: dict[str, int] = {}
    for p in found:
        stem = p.name if p.is_dir() else p.stem
        stems[stem] = stems.get(stem, 0) + 1
    cohorts = []
    for p in found:
        stem = p.name if p.is_dir() else p.stem
        name = stem if stems[stem] == 1 or p.is_dir() else f"{stem}-{p.suffix.lower()[1:]}"
        cohorts.append(Cohort(name, p))
    return cohorts


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes; of a folder, over its files' relative paths and hashes."""
    digest = hashlib.sha256()
    if path.is_file():
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    for member in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(member.relative_to(path).as_posix().encode() + b"\0")
        digest.update(content_hash(member).encode() + b"\n")
    return digest.hexdigest()


# ---- one cohort ------------------------------------------------------------------------------


def solve_cohort(cohort: Cohort, out_dir: Path, settings: BatchSettings,
                 input_sha256: str = "") -> CohortOutcome:
    """Solve one cohort and write its outputs (see the module docstring). Never raises for
    a bad cohort: an invalid input is ``invalid``, an unexpected failure ``error``."""

    start = time.monotonic()
    folder = out_dir / cohort.name
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (folder / name).unlink(missing_ok=True)
    base = CohortOutcome(cohort=cohort.name, input=cohort.path.name, status="error",
                         input_sha256=input_sha256 or content_hash(cohort.path))

    def done(outcome: CohortOutcome) -> CohortOutcome:
        return dataclasses.replace(
            outcome, seconds=round(time.monotonic() - start, 2),
            finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    try:
        rnd = load_round(cohort.path, postcodes=settings.postcodes)
    except InvalidRoundError as exc:
        lines = [f"{cohort.path.name}: {len(exc.problems)} problem(s) to fix", *(
            f"  - {p.where}: {p.message}" for p in exc.problems)]
        write_atomic(folder / "problems.txt", ("\n".join(lines) + "\n").encode("utf-8"))
        log.info("cohort %s: invalid input (%d problem(s))", cohort.name, len(exc.problems))
        return done(dataclasses.replace(
            base, status="invalid", report=_rel(folder / "problems.txt", out_dir),
            message=f"{len(exc.problems)} problem(s) in the input; see problems.txt"))
    try:
        return done(_solve_and_write(rnd, base, folder, out_dir, settings))
    except Exception as exc:  # one cohort's failure must not stop the run
        log.exception("cohort %s: failed", cohort.name)
        return done(dataclasses.replace(
            base, status="error", message=f"{type(exc).__name__}: {str(exc)[:200]}"))


def _solve_and_write(rnd: Any, base: CohortOutcome, folder: Path, out_dir: Path,
                     settings: BatchSettings) -> CohortOutcome:

    workers = settings.workers or 1
    result = solve(rnd, SolveParams(time_limit_s=settings.time_limit_s, workers=workers,
                                    seed=settings.seed))
    save_result(result, folder / "result.json")
    save_round(rnd, folder / "round.json")
    report = prepare(rnd, result, order=settings.order, seed=settings.seed,
                     explain_seconds=settings.explain_seconds, explain_workers=workers)
    write_report(report, folder / "report.html")
    workbook = ""
    if result.has_solution:
        write_workbook(rnd, result, folder / "workbook.xlsx", baseline=report.baseline)
        workbook = _rel(folder / "workbook.xlsx", out_dir)
    message = ""
    if result.diagnosis:
        first = result.to_dict()["diagnosis"][0]
        text = first.get("message", first) if isinstance(first, dict) else first
        message = f"{len(result.diagnosis)} conflict(s), first: {str(text)[:200]}"
    elif result.status == "unknown":
        message = "no allocation within the time limit"
    log.info("cohort %s: %s, objective %s", base.cohort, result.status, result.objective)
    return dataclasses.replace(
        base, status=result.status, objective=result.objective, bound=result.bound,
        gap=result.gap, kpis={k: result.kpis.get(k) for k in _HEADLINE},
        baseline_objective=report.baseline.objective if report.baseline else None,
        result=_rel(folder / "result.json", out_dir),
        report=_rel(folder / "report.html", out_dir), workbook=workbook, message=message)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


# ---- the run ---------------------------------------------------------------------------------


def _load_state(out_dir: Path) -> dict[str, Any]:
    path = out_dir / STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") == STATE_FORMAT and isinstance(data.get("cohorts"), dict):
            return dict(data["cohorts"])
    except (OSError, ValueError, AttributeError):
        pass
    log.warning("batch: ignoring an unreadable state file %s; every cohort will run", path)
    return {}


def _save_state(out_dir: Path, state: Mapping[str, Any]) -> None:
    data = {"format": STATE_FORMAT, "cohorts": dict(sorted(state.items()))}
    write_atomic(out_dir / STATE_FILE, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


def _unchanged(entry: Mapping[str, Any] | None, digest: str, settings: BatchSettings,
               out_dir: Path) -> CohortOutcome | None:
    """The recorded outcome when the cohort can be skipped, else ``None``."""
    if not entry or entry.get("sha256") != digest:
        return None
    if entry.get("settings") != settings.fingerprint():
        return None
    outcome = CohortOutcome.from_dict(entry.get("outcome", {}))
    if outcome.status == "error":
        return None
    outputs = [outcome.result, outcome.report, outcome.workbook]
    if not all((out_dir / p).is_file() for p in outputs if p):
        return None
    return dataclasses.replace(outcome, action="skipped")


def write_summary(outcomes: Sequence[CohortOutcome], path: Path) -> None:
    """Write ``summary.csv`` atomically (text cells safe against formula injection)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SUMMARY_COLUMNS)
    for o in outcomes:
        row = o.row()
        writer.writerow(["" if row[c] is None else neutralise(row[c])
                         if isinstance(row[c], str) else row[c] for c in SUMMARY_COLUMNS])
    write_atomic(path, buffer.getvalue().encode("utf-8"))


def run_batch(
    cohorts_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    jobs: int = 1,
    settings: BatchSettings | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[CohortOutcome], None] | None = None,
    executor: Executor | None = None,
) -> BatchSummary:
    """Solve every cohort of ``cohorts_dir`` into ``out_dir`` (see the module docstring).

    ``on_start`` is called with the number of cohorts to solve (after skipping),
    ``on_done`` with each outcome as it completes (skipped ones first). ``executor``
    replaces the process pool (any ``concurrent.futures.Executor``, for example a Dask
    cluster's); by default ``jobs`` > 1 uses a spawned process pool and 1 runs in-process.
    Raises ``NotADirectoryError`` when ``cohorts_dir`` is not a folder.
    """
    source, target = Path(cohorts_dir), Path(out_dir)
    if not source.is_dir():
        raise NotADirectoryError(f"{source} is not a folder")
    target.mkdir(parents=True, exist_ok=True)
    jobs = max(1, jobs)
    settings = settings or BatchSettings()
    if settings.workers <= 0:
        per_job = max(1, (os.cpu_count() or 1) // jobs)
        settings = dataclasses.replace(settings, workers=per_job)
    cohorts = discover(source, exclude=[target])
    state = _load_state(target)
    stale = _move_stale(target, {c.name for c in cohorts}, state, source)
    if stale:
        _save_state(target, state)
    outcomes: dict[str, CohortOutcome] = {}
    todo: list[tuple[Cohort, str]] = []
    for cohort in cohorts:
        digest = content_hash(cohort.path)
        kept = None if force else _unchanged(state.get(cohort.name), digest, settings, target)
        if kept is not None:
            outcomes[cohort.name] = kept
            log.info("cohort %s: unchanged since its last run, skipped (%s)", cohort.name,
                     kept.status)
        else:
            todo.append((cohort, digest))
    log.info("batch: %d cohort(s), %d to solve, %d unchanged", len(cohorts), len(todo),
             len(outcomes))
    if on_start is not None:
        on_start(len(todo))
    if on_done is not None:
        for o in outcomes.values():
            on_done(o)
    for outcome in _run_all(todo, target, settings, jobs, executor):
        outcomes[outcome.cohort] = outcome
        if outcome.status != "error":
            state[outcome.cohort] = {"input": outcome.input, "sha256": outcome.input_sha256,
                                     "settings": settings.fingerprint(),
                                     "outcome": outcome.to_dict()}
        else:
            state.pop(outcome.cohort, None)
        _save_state(target, state)
        if on_done is not None:
            on_done(outcome)
    ordered = tuple(outcomes[c.name] for c in cohorts)
    summary_path = target / "summary.csv"
    write_summary(ordered, summary_path)
    summary = BatchSummary(ordered, summary_path, stale)
    log.info("batch: done, exit code %d: %s", summary.exit_code, summary.headline())
    return summary


def _move_stale(out_dir: Path, current: set[str], state: dict[str, Any],
                cohorts_dir: Path) -> tuple[StaleOutput, ...]:
    """Move aside the outputs of cohorts no longer in the cohorts folder (and forget them).

    A folder is a former cohort's when the state file records it or it holds a batch
    output file; hidden folders and :data:`STALE_DIR` are never touched.
    """
    folders = {p.name: p for p in out_dir.iterdir() if p.is_dir()
               and not p.name.startswith(".") and p.name != STALE_DIR}
    former = {name for name in folders if name not in current and (
        name in state or any((folders[name] / o).is_file() for o in OUTPUTS))}
    for name in [n for n in state if n not in current and n not in folders]:
        state.pop(name)  # its outputs are gone already
    moved = []
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for name in sorted(former):
        entry = state.pop(name, None)
        recorded = entry.get("input", "") if isinstance(entry, Mapping) else ""
        given = recorded if isinstance(recorded, str) else ""
        dest = out_dir / STALE_DIR / f"{name}-{stamp}"
        n = 1
        while dest.exists():
            n += 1
            dest = out_dir / STALE_DIR / f"{name}-{stamp}-{n}"
        try:
            dest.parent.mkdir(exist_ok=True)
            folders[name].rename(dest)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            log.error("batch: cohort %s is no longer in the cohorts folder and its outputs "
                      "could not be moved aside (%s)", name, reason)
            moved.append(StaleOutput(name, given, "", f"its outputs could not be moved aside "
                                     f"({reason}); remove {name}/ by hand"))
            continue
        note = (f"These are the outputs of cohort {name!r}"
                + (f" (input {given!r})" if given else "")
                + f" from an earlier run. On {time.strftime('%Y-%m-%d %H:%M:%S %z')} its "
                f"input was no longer in {cohorts_dir.name or cohorts_dir}/, so they were "
                "moved here: they are not a current plan.\n")
        try:
            write_atomic(dest / STALE_NOTE, note.encode("utf-8"))
        except OSError:  # the move is what matters; the note only explains it
            log.warning("batch: could not write %s in %s", STALE_NOTE, _rel(dest, out_dir))
        log.warning("batch: cohort %s is no longer in the cohorts folder; its outputs were "
                    "moved to %s", name, _rel(dest, out_dir))
        moved.append(StaleOutput(name, given, _rel(dest, out_dir)))
    return tuple(moved)


def _run_all(todo: Sequence[tuple[Cohort, str]], out_dir: Path, settings: BatchSettings,
             jobs: int, executor: Executor | None) -> Iterator[CohortOutcome]:
    if not todo:
        return
    if executor is None and jobs == 1:
        for cohort, digest in todo:
            yield solve_cohort(cohort, out_dir, settings, digest)
        return
    own = executor is None
    pool = executor or ProcessPoolExecutor(
        max_workers=min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"))
    try:
        futures: dict[Future[CohortOutcome], Cohort] = {
            pool.submit(solve_cohort, cohort, out_dir, settings, digest): cohort
            for cohort, digest in todo}
        for future in as_completed(futures):
            cohort = futures[future]
            try:
                yield future.result()
            except Exception as exc:  # a worker died: report the cohort, go on
                log.error("cohort %s: the worker failed (%s)", cohort.name,
                          type(exc).__name__)
                yield CohortOutcome(cohort=cohort.name, input=cohort.path.name,
                                    status="error", message=f"{type(exc).__name__}: "
                                    f"{str(exc)[:200]}")
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)
