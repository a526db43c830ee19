"""The one CP-SAT runner: a :class:`~matcher.solving.model.Model` in, an answer out.

:func:`run` is the only place that creates a ``CpSolver``. It writes the model into
CP-SAT's proto (:func:`to_cp_model`), applies the tuning of this model (:func:`tune`),
the hint, variables fixed to 1, a cap on the objective and a gap limit, runs the search
within a slice of the call's :class:`~matcher.solving.budget.Budget` (a watcher thread
stops it at the deadline or when the call is cancelled, since CP-SAT's own limit does not
cover loading and presolve of a huge model), reports improving solutions to the caller's
progress callback, and reads the answer back as chosen candidates.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from matcher.errors import InternalSolverError
from matcher.solving.budget import Budget
from matcher.solving.model import Model
from matcher.solving.params import Progress, SolveParams

__all__ = ["CpAnswer", "CpStatus", "run", "to_cp_model", "tune"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

CpStatus = Literal["optimal", "feasible", "infeasible", "unknown"]

# Seconds the watcher lets a search run past its limit before stopping it.
WATCH_SLACK_S = 0.1
# Limits below this are not worth starting CP-SAT for.
MIN_LIMIT_S = 0.02

# Full-problem CP-SAT workers beyond the first, in the order they are added.
MORE_SUBSOLVERS = ("default_lp", "quick_restart", "reduced_costs", "pseudo_costs",
                   "lb_tree_search", "core")


@dataclass
class CpAnswer:
    """CP-SAT's answer on a model.

    ``status`` is CP-SAT's own (``optimal`` means proven for this model, within
    ``gap_limit`` none). ``chosen`` are the model's candidate positions set to 1;
    ``objective`` their objective with every auxiliary at its tightest value;
    ``bound`` CP-SAT's bound (also when no solution was found, if it has one).
    """

    status: CpStatus
    chosen: IntArray | None = None
    objective: int | None = None
    bound: int | None = None
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


def tune(p: Any, workers: int) -> None:
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
        p.subsolvers.extend(["max_lp", *MORE_SUBSOLVERS[: max(0, workers - 2)]])


def to_cp_model(m: Model, hint: IntArray | None = None) -> cp_model.CpModel:
    """The CP-SAT model of ``m`` (written straight into the proto, no Python expressions).

    ``hint`` (optional) is a full value vector (every variable) given as a solution hint.
    """
    model = cp_model.CpModel()
    proto = model.proto
    lower, upper = m.variables.lower, m.variables.upper
    variables = proto.variables
    for lo, hi in zip(lower.tolist(), upper.tolist(), strict=True):
        variables.add().domain.extend((lo, hi))
    constraints = proto.constraints
    for b in m.blocks:
        ptr = b.indptr.tolist()
        idx = b.indices.tolist()
        coefs = b.coefs.tolist()
        lows = b.lower.tolist()
        ups = b.upper.tolist()
        for r in range(len(b)):
            lo_r, hi_r = ptr[r], ptr[r + 1]
            if b.at_most_one and hi_r > lo_r:
                if lows[r] >= 1:
                    constraints.add().exactly_one.literals.extend(idx[lo_r:hi_r])
                else:
                    constraints.add().at_most_one.literals.extend(idx[lo_r:hi_r])
                continue
            lin = constraints.add().linear
            lin.vars.extend(idx[lo_r:hi_r])
            lin.coeffs.extend(coefs[lo_r:hi_r])
            lin.domain.extend((lows[r], ups[r]))
    obj = m.objective_vector()
    nz = np.flatnonzero(obj)
    # CP-SAT minimises: store -objective with scaling -1 so values read as maximised.
    proto.objective.vars.extend(nz.tolist())
    proto.objective.coeffs.extend((-obj[nz]).tolist())
    proto.objective.offset = float(-m.offset)
    proto.objective.scaling_factor = -1.0
    if hint is not None:
        proto.solution_hint.vars.extend(range(len(hint)))
        proto.solution_hint.values.extend(np.asarray(hint, dtype=np.int64).tolist())
    return model


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Passes improving solutions to the caller's progress callback."""

    def __init__(self, report: Callable[[Progress], None], budget: Budget) -> None:
        super().__init__()
        self._report = report
        self._budget = budget

    def on_solution_callback(self) -> None:
        try:
            self._report(Progress(objective=round(self.objective_value),
                                  bound=float(self.best_objective_bound),
                                  elapsed=self._budget.elapsed()))
        except Exception:  # a faulty callback must not kill the search
            log.exception("progress callback failed")


def _watch(solver: cp_model.CpSolver, budget: Budget, done: threading.Event,
           deadline: float) -> None:
    """Stop ``solver`` when the call is cancelled or ``deadline`` passes."""
    while not done.wait(0.05):
        if budget.cancelled() or time.monotonic() >= deadline:
            solver.stop_search()
            return


def _floor(value: float) -> int | None:
    return math.floor(value + 1e-6) if math.isfinite(value) else None


def run(model: Model, budget: Budget, params: SolveParams, *,
        time_limit: float | None = None, hint: IntArray | None = None,
        fixed: IntArray | None = None, cap: int | None = None, workers: int | None = None,
        seed: int | None = None, gap_limit: float | None = None,
        report: bool = False, first: bool = False) -> CpAnswer:
    """Solve ``model`` with CP-SAT and read the answer back.

    ``time_limit`` (seconds from this call, writing the proto included) defaults to all
    that is left of ``budget``; it is capped at that in any case. ``hint`` is a full value
    vector (:meth:`Model.complete`). ``fixed`` variables are fixed to 1. ``cap`` (an upper
    bound on the objective, offset included) restricts the objective's domain, so reaching
    it proves optimality. ``workers`` and ``seed`` override ``params``. With ``gap_limit``
    CP-SAT stops within that many points of its bound; the answer is ``optimal`` only when
    it reaches the bound. ``report`` passes improving solutions to ``params.progress``
    (when the objective is the whole round's). ``first``: stop at the first solution.
    """
    t0 = time.monotonic()
    limit = budget.left() if time_limit is None else budget.slice(time_limit)
    if limit <= MIN_LIMIT_S or budget.cancelled():
        return CpAnswer("unknown")
    cp = to_cp_model(model, hint=hint)
    proto = cp.proto
    if fixed is not None and len(fixed):
        for v in fixed.tolist():
            dom = proto.variables[v].domain
            dom.clear()
            dom.extend((1, 1))
    if cap is not None:
        # Internally CP-SAT minimises sum(-obj * x) (offset apart): >= -(cap - offset).
        proto.objective.domain.extend((-(cap - model.offset), 2**62))
    proto_s = time.monotonic() - t0
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.01, limit - proto_s)
    p.num_workers = workers if workers is not None else params.worker_count
    p.random_seed = params.seed if seed is None else seed
    p.log_search_progress = params.log
    if params.log:
        solver.log_callback = lambda line: log.info("cp-sat: %s", line)
    tune(p, p.num_workers)
    if gap_limit is not None:
        p.absolute_gap_limit = gap_limit
    p.stop_after_first_solution = first
    if first and p.num_workers == 1:
        # A lone worker with every row in its LP (tune) spends its time in the LP before
        # any solution; for a first solution, none. A repair of a tight 5,000 x 2,500 x 4
        # component (44 rule breakers, one worker) ended in 5.4 s where with the LP it
        # found nothing in 60 s (two workers: 6.0 s); another (64) in 30 s against
        # nothing in 64 s.
        p.linearization_level = 0
    callback = _Reporter(params.progress, budget) if report and params.progress else None
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(solver, budget, done,
                                                    t0 + limit + WATCH_SLACK_S), daemon=True)
    watcher.start()
    try:
        code = solver.solve(cp, callback)
    finally:
        done.set()
        watcher.join()
    seconds = time.monotonic() - t0
    stats = {"proto_seconds": round(proto_s, 3), "cp_sat_seconds": round(solver.wall_time, 3)}
    log.debug("cp-sat: %s after %.2f s", solver.status_name(code), solver.wall_time)
    if code == cp_model.MODEL_INVALID:
        raise InternalSolverError(f"CP-SAT rejected the model: {cp.validate()}")
    if code == cp_model.INFEASIBLE:
        return CpAnswer("infeasible", seconds=seconds, stats=stats)
    bound = _floor(solver.best_objective_bound)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return CpAnswer("unknown", bound=bound, seconds=seconds, stats=stats)
    chosen = model.variables.chosen(solver)
    objective = model.objective_of(chosen)  # not solver.objective_value: see objective_of
    proven = code == cp_model.OPTIMAL and (gap_limit is None or bound is None
                                           or objective >= bound)
    return CpAnswer("optimal" if proven else "feasible", chosen, objective, bound, seconds,
                    stats)
