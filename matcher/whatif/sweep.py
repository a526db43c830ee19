"""Sweeps: solve many scenarios in parallel, on one machine or on a Dask cluster.

:func:`solve_many` runs scenarios on any :class:`concurrent.futures.Executor` and yields
``(name, Result or ScenarioFailure)`` pairs as they complete:

- by default, a local process pool (``spawn`` start method: each solve has its own solver
  state) with one process per core, shut down when the sweep ends;
- a ``dask.distributed.Client``: the scenarios go to its cluster through
  ``client.get_executor()`` (the standard executor interface; nothing here is specific to
  Dask beyond that call); or a Dask scheduler's address (``"tcp://scheduler:8786"``): a
  client of that scheduler is made for the sweep and closed after it (this needs the
  ``dask`` extra, and says so when it is missing);
- any other executor, used as given and left running (:class:`InlineExecutor` solves in
  the calling process, one after another and in order: for debugging and for timing a
  serial sweep).

Each scenario is applied and solved in the worker; a scenario that fails (invalid
overrides, an unexpected error, a worker that died) comes back as a
:class:`ScenarioFailure` and the others go on. Each solve uses ``params.workers`` CP-SAT
search workers, **1 by default** (``workers=0`` is taken as 1 here): a sweep parallelises
across scenarios, and more search threads per solve would only compete for the same cores.
Pass ``workers >= 2`` explicitly for long solves on a cluster with spare cores per worker.

A progress bar (``tqdm.auto``: a widget in a notebook, text on standard error elsewhere) is
shown when standard error is a terminal, in a Jupyter notebook, or when ``progress=True``.
In a notebook without the ``notebook`` extra (no ipywidgets) the bar is text, with a
warning saying what to install.

:func:`weight_sensitivity` varies one weight over values and tabulates (and plots) the
trade-off, for example the hard-to-recruit fill against the first-choice rate.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, ParamSpec, Protocol, TypeVar

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.extras import MissingExtraError, missing, require
from matcher.kpis import HEADLINE
from matcher.result import Result
from matcher.solving.params import SolveParams
from matcher.whatif.overrides import SetWeights
from matcher.whatif.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "DEFAULT_PARAMS",
    "SENSITIVITY_KPIS",
    "ExecutorProvider",
    "InlineExecutor",
    "ScenarioFailure",
    "ScenarioOutcome",
    "Sensitivity",
    "outcomes_frame",
    "solve_many",
    "solve_scenario",
    "weight_sensitivity",
]

log = logging.getLogger(__name__)

DEFAULT_PARAMS = SolveParams(time_limit_s=60.0, workers=1)
"""What each scenario of a sweep is solved with when no params are given."""

SENSITIVITY_KPIS: tuple[str, ...] = (
    "hard_to_recruit_fill", "first_choice_share", "top_3_share", "fill",
    "population_health_fill", "mean_travel", "unassigned", "shortfall", "worst_off_points",
)
"""KPIs tabulated by :func:`weight_sensitivity` (see :mod:`matcher.kpis`)."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


class ExecutorProvider(Protocol):
    """Anything with ``get_executor()``, such as a ``dask.distributed.Client``."""

    def get_executor(self, **kwargs: Any) -> Executor:
        """An executor that runs tasks on the provider's workers."""
        ...


@dataclass(frozen=True)
class ScenarioFailure:
    """Why a scenario has no result: ``invalid`` (its overrides do not apply; ``problems``
    lists them) or ``error`` (an unexpected failure; ``message`` has the exception)."""

    kind: Literal["invalid", "error"]
    message: str
    problems: tuple[Problem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"kind": self.kind, "message": self.message,
                "problems": [p.to_dict() for p in self.problems]}

    @property
    def text(self) -> str:
        """The whole error on one line, for tables: every problem of an invalid scenario
        (``"the round has 2 problems: overrides[#1]...: ...; overrides[#2]...: ..."``), or
        an error's exception (its traceback left out; it stays in ``message``)."""
        if self.kind == "invalid" and self.problems:
            n = len(self.problems)
            return (f"the round has {n} problem{'s' if n != 1 else ''}: "
                    + "; ".join(f"{p.where}: {p.message}" for p in self.problems))
        text = self.message.split("\nTraceback (most recent call last):", 1)[0]
        return " ".join(line.strip() for line in text.splitlines() if line.strip())

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class ScenarioOutcome(NamedTuple):
    """One scenario's outcome: its name and its :class:`Result` or :class:`ScenarioFailure`.

    Unpacks as ``name, outcome``.
    """

    name: str
    outcome: Result | ScenarioFailure

    @property
    def ok(self) -> bool:
        """True when the scenario was solved (whatever the status: even ``infeasible``)."""
        return isinstance(self.outcome, Result)

    @property
    def result(self) -> Result | None:
        """The result, or ``None`` for a failure."""
        return self.outcome if isinstance(self.outcome, Result) else None


class InlineExecutor(Executor):
    """Runs each task in the calling thread when it is submitted (a serial sweep)."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
               ) -> Future[_T]:
        """Run ``fn`` now; return a finished future with its value or exception."""
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it, like any executor's
            future.set_exception(exc)
        return future


def solve_scenario(scenario: Scenario, params: SolveParams) -> Result | ScenarioFailure:
    """Apply and solve one scenario; never raises (what each worker of a sweep runs).

    Errors come back as :class:`ScenarioFailure` because exceptions do not always survive
    the trip back from a worker process (pickling), and because one scenario's failure
    must not end a sweep.
    """
    try:
        from matcher.solving import solve  # lazy: OR-Tools loads on the first solve

        return solve(scenario.apply(), params)
    except InvalidRoundError as exc:
        return ScenarioFailure("invalid", exc.summary(), tuple(exc.problems))
    except Exception as exc:
        log.error("scenario %s failed: %s", scenario.name, type(exc).__name__)
        return ScenarioFailure("error", f"{type(exc).__name__}: {exc}\n"
                               + "".join(traceback.format_exc(limit=5)))


def _sweep_params(params: SolveParams | None) -> SolveParams:
    params = params or DEFAULT_PARAMS
    # Callbacks stay in this process; one search worker unless more are asked for.
    return dataclasses.replace(params, progress=None, workers=params.workers or 1)


def _executor(executor: Executor | ExecutorProvider | str | None, n: int,
              max_workers: int | None) -> tuple[Executor, Callable[[], None] | None]:
    """The executor to use, and how to close it when this sweep made it (else ``None``)."""
    if executor is None:
        workers = max(1, min(n, max_workers or os.cpu_count() or 1))
        pool = ProcessPoolExecutor(max_workers=workers,
                                   mp_context=multiprocessing.get_context("spawn"))
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    if isinstance(executor, str):  # a Dask scheduler's address
        require("dask", "the Dask sweep backend")
        from dask.distributed import Client  # lazy: Dask is an extra

        client = Client(executor)  # type: ignore[no-untyped-call]
        return client.get_executor(pure=False), client.close  # type: ignore[no-untyped-call]
    if isinstance(executor, Executor):
        return executor, None
    if hasattr(executor, "get_executor"):  # a dask.distributed.Client
        # pure=False: every scenario runs, even two that hash alike.
        return executor.get_executor(pure=False), None
    raise TypeError("executor must be a concurrent.futures.Executor, have get_executor() "
                    "(a dask.distributed.Client) or be a Dask scheduler's address")


def solve_many(
    scenarios: Iterable[Scenario],
    params: SolveParams | None = None,
    *,
    executor: Executor | ExecutorProvider | str | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> Iterator[ScenarioOutcome]:
    """Solve scenarios in parallel; yield ``(name, Result or ScenarioFailure)`` as each
    completes.

    ``executor``: ``None`` for a local spawn process pool (``max_workers`` processes, by
    default one per core, at most one per scenario), a ``dask.distributed.Client`` or a
    Dask scheduler's address (``"tcp://scheduler:8786"``; needs the ``dask`` extra) for its
    cluster, or any :class:`concurrent.futures.Executor`. ``params`` apply to every
    scenario (default :data:`DEFAULT_PARAMS`: 60 s, one search worker; ``progress``
    callbacks are dropped). ``progress``: a ``tqdm.auto`` bar (default: when standard error
    is a terminal or in a Jupyter notebook). Scenario names must be unique. It is a
    generator: the work starts when the first outcome is asked for, and stopping early
    (leaving the loop) cancels the scenarios not yet started.
    """
    todo = list(scenarios)
    names = [s.name for s in todo]
    if len(set(names)) != len(names):
        seen = sorted({n for n in names if names.count(n) > 1})
        raise ValueError("scenario names must be unique; repeated: " + ", ".join(seen))
    if not todo:
        return
    run_params = _sweep_params(params)
    pool, close = _executor(executor, len(todo), max_workers)
    bar = _progress_bar(len(todo), progress)
    futures: dict[Future[Result | ScenarioFailure], str] = {}
    log.info("sweep: %d scenarios on %s", len(todo), type(pool).__name__)
    try:
        if isinstance(pool, InlineExecutor):  # solve lazily, one by one, in order
            completed: Iterator[Future[Result | ScenarioFailure]] = (
                _track(futures, pool.submit(solve_scenario, s, run_params), s.name)
                for s in todo)
        else:
            for scenario in todo:
                futures[pool.submit(solve_scenario, scenario, run_params)] = scenario.name
            completed = as_completed(futures)
        for future in completed:
            name = futures[future]
            try:
                outcome: Result | ScenarioFailure = future.result()
            except Exception as exc:  # the worker died or the task could not be sent
                log.error("scenario %s: the worker failed (%s)", name, type(exc).__name__)
                outcome = ScenarioFailure("error", f"{type(exc).__name__}: {exc}")
            if bar is not None:
                bar.set_postfix_str(name[:30], refresh=False)
                bar.update(1)
            yield ScenarioOutcome(name, outcome)
    finally:
        for future in futures:
            future.cancel()
        if bar is not None:
            bar.close()
        if close is not None:
            close()


def _track(futures: dict[Future[_T], str], future: Future[_T], name: str) -> Future[_T]:
    futures[future] = name
    return future


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where a progress bar is a widget)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _progress_bar(total: int, progress: bool | None) -> Any:
    notebook = _in_notebook()
    if progress is None:
        progress = sys.stderr.isatty() or notebook
    if not progress:
        return None
    if notebook and missing("notebook", ["ipywidgets"]):
        warnings.warn(str(MissingExtraError("a progress bar in a notebook", "notebook",
                                            ["ipywidgets"])), stacklevel=3)
        from tqdm.std import tqdm  # lazy: tqdm loads only when a bar is shown

        return tqdm(total=total, unit="scenario", desc="scenarios", file=sys.stderr)
    from tqdm.auto import tqdm as auto_tqdm  # a widget in a notebook, text elsewhere

    return auto_tqdm(total=total, unit="scenario", desc="scenarios")


def outcomes_frame(outcomes: Iterable[ScenarioOutcome],
                   kpis: Sequence[str] = SENSITIVITY_KPIS) -> pd.DataFrame:
    """One row per outcome: name, status (or ``invalid``/``error``), objective, KPIs and
    the whole failure (every problem: :attr:`ScenarioFailure.text`); in the order given."""
    import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

    rows = []
    for name, outcome in outcomes:
        row: dict[str, Any] = {"scenario": name}
        if isinstance(outcome, Result):
            row |= {"status": outcome.status, "objective": outcome.objective,
                    "changes": outcome.kpis.get("changes")}
            row |= {k: outcome.kpis.get(k) for k in kpis}
            row["error"] = None
        else:
            row |= {"status": outcome.kind, "objective": None, "changes": None}
            row |= dict.fromkeys(kpis)
            row["error"] = outcome.text or None
        rows.append(row)
    return pd.DataFrame(rows, columns=["scenario", "status", "objective", "changes", *kpis,
                                       "error"])


# ---- weight sensitivity --------------------------------------------------------------------


@dataclass(frozen=True)
class Sensitivity:
    """The trade-off of one weight: ``table`` has one row per value (``value``, status,
    objective and :data:`SENSITIVITY_KPIS`), in increasing order of the value."""

    weight: str
    table: pd.DataFrame
    results: Mapping[int, Result] = field(default_factory=dict)
    failures: Mapping[int, ScenarioFailure] = field(default_factory=dict)

    def plot(self, x: str = "first_choice_share", y: str = "hard_to_recruit_fill",
             ax: Axes | None = None) -> Axes:
        """Plot KPI ``y`` against KPI ``x``, one point per value, labelled with the value."""
        import matplotlib.pyplot as plt  # lazy: matplotlib loads only when a chart is drawn

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        data = self.table.dropna(subset=[x, y])
        ax.plot(data[x], data[y], marker="o")
        for value, xv, yv in zip(data["value"], data[x], data[y], strict=True):
            ax.annotate(f"{self.weight}={value}", (xv, yv), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
        ax.set_xlabel(HEADLINE.get(x, x))
        ax.set_ylabel(HEADLINE.get(y, y))
        ax.set_title(f"Trade-off as weights.{self.weight} varies")
        ax.grid(True, alpha=0.3)
        return ax


def weight_sensitivity(
    base: Round,
    weight: str,
    values: Iterable[int],
    params: SolveParams | None = None,
    *,
    executor: Executor | ExecutorProvider | str | None = None,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> Sensitivity:
    """Solve ``base`` once per value of ``weights.<weight>`` (a sweep of
    :func:`solve_many`) and tabulate the KPIs against the value.

    Raises :class:`InvalidRoundError` for an unknown weight or a negative value.
    """
    values = sorted(set(values))
    scenarios = [Scenario(f"{weight}={v}", base, (SetWeights(weights={weight: v}),))
                 for v in values]
    for s in scenarios[:1]:
        s.apply()  # an unknown weight fails here, once, rather than in every worker
    by_name = {s.name: v for s, v in zip(scenarios, values, strict=True)}
    results: dict[int, Result] = {}
    failures: dict[int, ScenarioFailure] = {}
    for name, outcome in solve_many(scenarios, params, executor=executor,
                                    max_workers=max_workers, progress=progress):
        if isinstance(outcome, Result):
            results[by_name[name]] = outcome
        else:
            failures[by_name[name]] = outcome
    order = {s.name: i for i, s in enumerate(scenarios)}
    outcomes = sorted(
        [ScenarioOutcome(f"{weight}={v}", r) for v, r in results.items()]
        + [ScenarioOutcome(f"{weight}={v}", f) for v, f in failures.items()],
        key=lambda o: order[o.name])
    table = outcomes_frame(outcomes)
    table.insert(0, "value", [by_name[o.name] for o in outcomes])
    table = table.drop(columns=["scenario", "changes"])
    return Sensitivity(weight, table.reset_index(drop=True), results, failures)
