"""Solve a round: ``solve(round, SolveParams(...)) -> Result``.

The entry point chooses a path (recorded in ``result.stats["path"]``):

- ``cp-sat``: the general model of :mod:`matcher.build` solved by CP-SAT;
- ``flow+lns``: large rounds (``FLOW_PATH_FROM`` candidates or more); exact decomposition
  into independent components, a min-cost-flow bound, and per component a restricted
  CP-SAT start or a repaired greedy one, then CP-SAT large-neighbourhood search
  (:mod:`matcher.lns`);
- ``lp+cp-sat`` (forced, or ``auto`` above ``LARGE_MODEL`` if the flow path is off): the
  LP relaxation (GLOP) over the most promising candidates gives an honest bound on the
  *full* model (duals plus reduced costs of every candidate), its rounding a warm start,
  and CP-SAT searches the restricted model from there.

Whatever the path, every solution is checked by the independent checker
(:func:`matcher.check.violations` and :func:`matcher.check.objective`) before it is
returned; a disagreement is a bug and raises :class:`InternalSolverError`. Infeasibility
is a :class:`Result` with status ``infeasible``, never an exception.

The time limit holds for the whole call: candidate generation, model building and loading
included. CP-SAT gets the remaining budget, and a timer thread stops its search if it
overruns.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from matcher import check
from matcher.build import Model, build_model, to_cp_model
from matcher.domain import Round
from matcher.eligibility import Candidates, candidates
from matcher.result import Result, Status, make_result
from matcher.scoring import Scores, scores

__all__ = ["InternalSolverError", "Progress", "SolveParams", "solve"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# Candidates above which the LP-restricted path is used for rounds that are not pure flow.
LARGE_MODEL = 400_000
# Candidates from which ``auto`` uses the decomposition path (Lagrangian bound, heuristics,
# reduced-cost fixing, CP-SAT on the rest). Disabled for now: measured faster only at
# 30x60x3 (0.8 s vs 1.5 s) and slower or worse at 300x400x3 and 2,000x1,500x3; force it
# with ``path="lagrange"``.
DECOMPOSE_FROM: int | None = None
# Candidates from which ``auto`` takes the flow path (:mod:`matcher.lns`); None: never.
# Measured with 2 workers and 60 s: at 1,000x1,000x3 (378k candidates) the full CP-SAT
# model ended 758 % short of its bound and the flow path 0.25 %; at 600x800x3 (181k) the
# full model proved optimal in 21 s while the flow path came within 95 points but cannot
# prove it. Larger: 2,000x1,500x3 (1.1 M) within 0.35 % in 60 s, 5,000x2,500x4 (6.3 M)
# within 0.83 % in 120 s, where the LP-restricted path found no allocation at all.
FLOW_PATH_FROM: int | None = 250_000
# Candidates from which ``auto`` solves a round that splits into small independent
# components one component at a time (smaller rounds: one model, no overhead).
SPLIT_FROM = 20_000
# Seconds kept back from the limit for checking and writing the result.
_RESERVE_S = 0.05


@dataclass(frozen=True)
class Progress:
    """An improving solution found during the search."""

    objective: int
    bound: float
    elapsed: float


@dataclass(frozen=True)
class SolveParams:
    """How to solve.

    ``time_limit_s`` bounds the whole call (building included). ``workers`` is the number of
    CP-SAT search workers (0: one per core). ``seed`` fixes the search; with one worker the
    answer is deterministic. ``log`` streams CP-SAT's log to this module's logger.
    ``hint`` is a previous result of the same (or a similar) round used as a warm start.
    ``progress`` is called with a :class:`Progress` for each improving solution.
    ``path`` forces a path (``"auto"``, ``"cp-sat"``, ``"flow+lns"`` (components, flow
    bound and large-neighbourhood search, :mod:`matcher.lns`), ``"lp"``, ``"lp+cp-sat"``
    or ``"lagrange"``, the decomposition path of :mod:`matcher.scale`); any other name
    solves the full model with CP-SAT.
    ``diagnose_s`` caps the seconds spent diagnosing an infeasible round (0 skips it);
    the diagnosis also stays within what is left of ``time_limit_s`` (at least 0.5 s).
    ``stop`` cancels from another thread: once it is set the search stops and ``solve``
    returns the best checked solution found so far (status ``feasible``, or ``unknown``
    when there is none yet).
    """

    time_limit_s: float = 60.0
    workers: int = 0
    seed: int = 0
    log: bool = False
    hint: Result | None = None
    progress: Callable[[Progress], None] | None = None
    path: str = "auto"
    diagnose_s: float = 10.0
    stop: threading.Event | None = None


class InternalSolverError(RuntimeError):
    """A solver answer disagrees with the independent checker: a bug, never bad input."""


class _Clock:
    """The whole call's time budget."""

    def __init__(self, limit_s: float) -> None:
        self.start = time.monotonic()
        self.limit = max(0.0, float(limit_s))

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return self.limit - self.elapsed()


def _workers(params: SolveParams) -> int:
    return params.workers if params.workers > 0 else max(1, os.cpu_count() or 1)


def solve(round: Round, params: SolveParams | None = None) -> Result:
    """Solve the round within ``params.time_limit_s`` seconds (the whole call).

    Returns a checked :class:`Result`: ``optimal`` only when optimality is proven. An
    infeasible round comes back with status ``infeasible`` and a ``diagnosis`` naming the
    conflicting rules and records (:func:`matcher.diagnose.diagnose`); it never raises.
    """
    params = params or SolveParams()
    started = time.monotonic()
    result = _solve_paths(round, params)
    if result.status == "infeasible" and not result.diagnosis and params.diagnose_s > 0:
        remaining = params.time_limit_s - (time.monotonic() - started)
        result = _with_diagnosis(round, result, min(params.diagnose_s, max(0.5, remaining)))
    return result


def _with_diagnosis(rnd: Round, result: Result, time_limit_s: float) -> Result:
    """The infeasible result with its diagnosis (spec §5); never raises."""
    from matcher.diagnose import diagnose

    t0 = time.monotonic()
    findings = diagnose(rnd, time_limit_s=time_limit_s)
    stats = {**result.stats, "diagnose_seconds": round_s(time.monotonic() - t0)}
    return dataclasses.replace(result, diagnosis=tuple(f.to_dict() for f in findings),
                               stats=stats)


def round_s(seconds: float) -> float:
    """Seconds rounded to milliseconds, for stats."""
    return float(f"{seconds:.3f}")


def _solve_paths(round: Round, params: SolveParams) -> Result:
    """Choose a path and solve (the body of :func:`solve`, before any diagnosis)."""
    clock = _Clock(params.time_limit_s)
    cand = candidates(round)
    sc = scores(round, cand)
    log.info("round %s: %d candidates", round.round.id, len(cand))
    if params.path == "lagrange" or (params.path == "auto" and _decomposable(round, cand)):
        from matcher.scale import solve_decomposed

        return solve_decomposed(round, cand, sc, params, clock)
    if params.path == "flow+lns" or (params.path == "auto" and (
            _flow_path(round, cand) or _splits_into_small(round, cand, sc))):
        from matcher.lns import solve_flow_lns

        return solve_flow_lns(round, cand, sc, params, clock)
    # The LP paths load GLOP (ortools.linear_solver) only when taken.
    if params.path == "lp":
        from matcher.fastpath import solve_lp_first

        return solve_lp_first(round, cand, sc, params, clock, restricted=False)
    if params.path == "lp+cp-sat" or (params.path == "auto" and len(cand) > LARGE_MODEL):
        from matcher.fastpath import solve_restricted

        return solve_restricted(round, cand, sc, params, clock)
    return solve_model(round, cand, sc, params, clock)


def _splits_into_small(rnd: Round, cand: Candidates, sc: Scores) -> bool:
    """Whether ``auto`` solves the round component by component (the flow path): from
    ``SPLIT_FROM`` candidates, when the round splits into several independent components,
    each small enough for its full model (:data:`matcher.lns.FULL_MODEL_MAX`). Each is then
    proven on its own: 300x400x3 (7 components) in 2.7-3.1 s against 4.8 s as one model."""
    if len(cand) < SPLIT_FROM or rnd.weights.fairness > 0:
        return False
    from matcher.flow import pairs_of
    from matcher.lns import FULL_MODEL_MAX, components

    lab_p, _ = components(rnd, cand, pairs_of(rnd, cand, sc))
    sizes = np.bincount(lab_p[cand.pharmacist])
    return len(sizes) >= 2 and int(sizes.max()) <= FULL_MODEL_MAX


def _decomposable(rnd: Round, cand: Candidates) -> bool:
    """Whether ``auto`` takes the decomposition path (:mod:`matcher.scale`)."""
    if DECOMPOSE_FROM is None or len(cand) < DECOMPOSE_FROM:
        return False
    from matcher.lagrange import Instance

    return Instance.applicable(rnd)


# ---- the general CP-SAT path -------------------------------------------------------------


class _Callback(cp_model.CpSolverSolutionCallback):
    """Reports improving solutions to the user's progress callback."""

    def __init__(self, report: Callable[[Progress], None], clock: _Clock) -> None:
        super().__init__()
        self._report = report
        self._clock = clock

    def on_solution_callback(self) -> None:
        try:
            self._report(Progress(objective=round(self.objective_value),
                                  bound=float(self.best_objective_bound),
                                  elapsed=self._clock.elapsed()))
        except Exception:  # a faulty callback must not kill the search
            log.exception("progress callback failed")


def hint_vector(model: Model, result: Result | None) -> IntArray | None:
    """Full value vector of the model from a previous result's allocation (or None)."""
    if result is None or not result.has_solution:
        return None
    rnd, c = model.round, model.candidates
    n_l, n_t = len(rnd.placements), len(rnd.periods)
    key = (c.pharmacist * n_l + c.placement) * n_t + c.period
    wanted = [
        (rnd.pharmacist_index[a.pharmacist] * n_l + rnd.placement_index[a.placement]) * n_t
        + rnd.period_index[a.period]
        for a in result.allocation
        if a.pharmacist in rnd.pharmacist_index and a.placement in rnd.placement_index
        and a.period in rnd.period_index
    ]
    x = np.zeros(len(c), dtype=np.int64)
    if wanted and len(key):
        q = np.asarray(wanted, dtype=np.int64)
        pos = np.minimum(np.searchsorted(key, q), len(key) - 1)
        x[pos[key[pos] == q]] = 1
    return model.complete(x)


def run_cp_sat(
    model: Model,
    params: SolveParams,
    clock: _Clock,
    *,
    hint: IntArray | None = None,
) -> tuple[Status, IntArray | None, int | None, int | None, dict[str, Any]]:
    """Solve ``model`` with CP-SAT in the remaining time.

    Returns (status, chosen candidates, objective, bound, stats). The status is CP-SAT's
    own (``optimal`` means proven for this model).
    """
    t0 = time.monotonic()
    cp = to_cp_model(model, hint=hint)
    load_s = time.monotonic() - t0
    remaining = clock.remaining() - _RESERVE_S
    stats: dict[str, Any] = {"proto_seconds": round(load_s, 3)}
    if remaining <= 0 or (params.stop is not None and params.stop.is_set()):
        return "unknown", None, None, None, stats
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = remaining
    p.num_workers = _workers(params)
    p.random_seed = params.seed
    p.log_search_progress = params.log
    if params.log:
        solver.log_callback = lambda line: log.info("cp-sat: %s", line)
    _tune(p, p.num_workers)
    callback = _Callback(params.progress, clock) if params.progress else None
    # CP-SAT's own limit does not cover loading and presolve of huge models: stop it
    # from a watcher as well, which also honours a cancellation (params.stop).
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(solver, params.stop, done,
                                                    remaining + 0.25), daemon=True)
    watcher.start()
    try:
        code = solver.solve(cp, callback)
    finally:
        done.set()
        watcher.join()
    stats["cp_sat_seconds"] = round(solver.wall_time, 3)
    name = solver.status_name(code)
    log.info("cp-sat: %s after %.2f s", name, solver.wall_time)
    if code == cp_model.MODEL_INVALID:
        raise InternalSolverError(f"CP-SAT rejected the model: {cp.validate()}")
    if code == cp_model.INFEASIBLE:
        return "infeasible", None, None, None, stats
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        bound = solver.best_objective_bound
        return "unknown", None, None, (int(np.floor(bound + 1e-6)) if np.isfinite(bound)
                                       else None), stats
    chosen = model.variables.chosen(solver)
    objective = model.objective_of(chosen)  # not solver.objective_value: see objective_of
    bound = int(np.floor(solver.best_objective_bound + 1e-6))
    status: Status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    return status, chosen, objective, bound, stats


def _watch(solver: cp_model.CpSolver, stop: threading.Event | None, done: threading.Event,
           limit_s: float) -> None:
    """Stop ``solver`` when ``stop`` is set or ``limit_s`` passes, whichever comes first."""
    deadline = time.monotonic() + limit_s
    while not done.is_set():
        if (stop is not None and stop.is_set()) or time.monotonic() >= deadline:
            solver.stop_search()
            return
        done.wait(0.05)


# Full-problem CP-SAT workers beyond the first, in the order they are added.
_MORE_SUBSOLVERS = ("default_lp", "quick_restart", "reduced_costs", "pseudo_costs",
                    "lb_tree_search", "core")


def _tune(p: Any, workers: int) -> None:
    """Put every constraint in CP-SAT's LP (linearization level 2).

    Most rows of this model are implications and at-most-ones that the default level keeps
    out of the LP, leaving the bound weak: a 30x60x3 round was not proven in 60 s at level
    1 and is proven in under a second at level 2. With several workers the full-problem
    worker is ``max_lp`` (the portfolio's ``default_lp`` ignores the level).

    Presolve is kept light (one iteration, no probing, no symmetry detection): on this
    model the full presolve costs more than it saves. Measured with 2 workers, full against
    light: NEL 0.60 s against 0.23 s, 30x60x3 0.37 against 0.15 s, 100x150x3 13.5 against
    7.0 s, 150x200x4 4.2 against 3.4 s and 300x400x3 6.4 against 2.2 s, all proven optimal.

    No cuts either: the LP with every row is already tight on these models, and its cuts
    cost more than they prune (best of 2 runs, with against without: NEL 0.25 against
    0.20 s, 100x150x3 7.1 against 6.0 s, 150x200x4 3.5 against 2.8 s; equal on four
    smaller rounds).
    """
    p.linearization_level = 2
    p.max_presolve_iterations = 1
    p.cp_model_probing_level = 0
    p.symmetry_level = 0
    p.cut_level = 0
    if workers == 1:
        # The lone worker then adds every row to its LP up front, as ``max_lp`` does: the
        # 7 components of 300x400x3 took 1.4 s in all instead of 4.9 s (2 workers: 1.8 s).
        p.add_lp_constraints_lazily = False
    if workers >= 2:
        p.subsolvers.extend(["max_lp", *_MORE_SUBSOLVERS[: max(0, workers - 2)]])


def solve_model(
    rnd: Round, cand: Candidates, sc: Scores, params: SolveParams, clock: _Clock,
) -> Result:
    """The general path: the full model of every eligible candidate, solved by CP-SAT."""
    t0 = time.monotonic()
    model = build_model(rnd, cand, sc)
    hint = hint_vector(model, params.hint)
    build_s = time.monotonic() - t0
    t1 = time.monotonic()
    status, chosen, objective, bound, extra = run_cp_sat(model, params, clock, hint=hint)
    solve_s = time.monotonic() - t1
    stats = _stats("cp-sat", params, build_s, solve_s, model) | extra
    return finish(rnd, cand, sc, chosen, status=status, objective=objective, bound=bound,
                  stats=stats)


def _stats(path: str, params: SolveParams, build_s: float, solve_s: float,
           model: Model | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "solver": "cp-sat" if "cp-sat" in path else "ortools-min-cost-flow",
        "path": path,
        "solve_seconds": round(solve_s, 3),
        "build_seconds": round(build_s, 3),
        "workers": _workers(params),
        "seed": params.seed,
    }
    if model is not None:
        out["model"] = model.stats()
    return out


def finish(
    rnd: Round,
    cand: Candidates,
    sc: Scores,
    chosen: IntArray | None,
    *,
    status: Status,
    objective: int | None,
    bound: int | None,
    stats: dict[str, Any],
) -> Result:
    """Check a solution independently and make the :class:`Result`.

    Raises :class:`InternalSolverError` if the checker finds a violation or a different
    objective: every path ends here, so no unchecked answer leaves the library.
    """
    if chosen is None:
        if status in ("optimal", "feasible"):
            raise InternalSolverError(f"status {status} without a solution")
        return make_result(rnd, cand, sc, None, status=status, bound=bound, stats=stats)
    t0 = time.monotonic()
    allocation = [
        (rnd.pharmacists[int(cand.pharmacist[i])].id, rnd.period_ids[int(cand.period[i])],
         rnd.placements[int(cand.placement[i])].id)
        for i in chosen
    ]
    found = check.violations(rnd, allocation)
    if found:
        shown = "; ".join(str(v) for v in found[:5])
        raise InternalSolverError(
            f"the {stats.get('path')} answer breaks {len(found)} hard rule(s): {shown}")
    breakdown = check.objective(rnd, allocation)
    if objective is None:
        objective = breakdown.total
    if breakdown.total != objective:
        raise InternalSolverError(
            f"the {stats.get('path')} objective {objective} differs from the checker's "
            f"{breakdown.total}")
    if bound is not None and bound < objective:
        raise InternalSolverError(f"bound {bound} below the objective {objective}")
    stats = stats | {"check_seconds": round(time.monotonic() - t0, 3)}
    return make_result(rnd, cand, sc, chosen, status=status, objective=objective,
                       bound=bound, breakdown=breakdown.to_dict(), stats=stats)


def _flow_path(rnd: Round, cand: Candidates) -> bool:
    """Whether ``auto`` takes the flow path (:mod:`matcher.lns`): rounds too large for the
    full CP-SAT model (``FLOW_PATH_FROM`` candidates or more)."""
    return FLOW_PATH_FROM is not None and len(cand) >= FLOW_PATH_FROM
