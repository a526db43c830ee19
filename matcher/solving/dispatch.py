"""Solve a round: :func:`solve` chooses a path by what the round is, runs it within one
:class:`~matcher.solving.budget.Budget`, and diagnoses an infeasible round.

The paths (recorded in ``result.stats["path"]``):

- ``cp-sat`` (:mod:`matcher.solving.full`): the full model solved by CP-SAT;
- ``flow+lns`` (:mod:`matcher.solving.flow_path`): rounds of ``FLOW_PATH_FROM`` candidates
  or more, and rounds from ``SPLIT_FROM`` candidates that split into several small
  independent components; exact decomposition into components, a min-cost-flow bound,
  starts and CP-SAT large-neighbourhood search.

Whatever the path, every solution is checked by the independent checker before it is
returned (:func:`matcher.solving.finish.finish`). Infeasibility is a result with status
``infeasible`` and a diagnosis, never an exception.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from matcher.domain import Round
from matcher.eligibility import Candidates, candidates
from matcher.result import Result
from matcher.scoring import Scores, scores
from matcher.solving.budget import Budget
from matcher.solving.finish import round_s
from matcher.solving.full import solve_full_model
from matcher.solving.params import PathName, SolveParams

__all__ = ["FLOW_PATH_FROM", "SPLIT_FROM", "choose_path", "solve"]

log = logging.getLogger(__name__)

# Candidates from which ``auto`` takes the flow path. Measured with 2 workers and 60 s: at
# 1,000x1,000x3 (378k candidates) the full CP-SAT model ended 758 % short of its bound and
# the flow path 0.25 %; at 600x800x3 (181k) the full model proved optimal in 21 s while
# the flow path came within 95 points but cannot prove it. Larger: 2,000x1,500x3 (1.1 M)
# within 0.35 % in 60 s, 5,000x2,500x4 (6.3 M) within 0.83 % in 120 s.
FLOW_PATH_FROM = 250_000
# Share of the time left that a fairness round's first stage (the round without the
# fairness term) may use; its allocation warm-starts the round itself. 120x160x3 with
# fairness 20, 30 s, 2 workers: 0.21 % gap without it and 0.05 % with it on a quiet
# machine; on a loaded one the search without it once ended 79 % short (28,514 against a
# bound of 134,364), with it 0.05 %: the first stage is proven in about 5 s.
FAIRNESS_START_SHARE = 0.3
# The same share on rounds that take the flow path: there the fairness term makes the
# whole round one component (M ties everyone), while the round without it splits into
# components that the starts and the search handle far better; the term itself is worth
# little against the rest (2,000x1,500x3 with fairness 5: M at most 19, 95 points of a
# 2-million objective). With 0.3 that round ended 0.77 % short of its bound. At 0.75 the
# gap of a fairness round at that size was its first stage's: 2,000x1,500x3 fair-50
# seed 0, 60 s, 0.40-0.57 % in five runs, of which M (at most 19 x 50 points) is 0.05 %
# at most; at 0.85 0.399 / 0.391 %, at 0.9 0.330 / 0.368 % (pins-bans-leave+fair-50
# 0.408 % against 0.520, fair-5 0.264 against 0.332). 1,000x1,000x3 fair-50 loses M
# points (0.083 % against 0.072-0.089).
FAIRNESS_START_SHARE_FLOW = 0.9
# Candidates from which ``auto`` solves a round that splits into small independent
# components one component at a time (smaller rounds: one model, no overhead); 300x400x3
# (7 components) was proven in 2.7-3.1 s this way against 4.8 s as one model.
SPLIT_FROM = 20_000


def choose_path(rnd: Round, cand: Candidates, sc: Scores, requested: PathName) -> PathName:
    """The path ``auto`` takes for this round (or the one requested)."""
    if requested != "auto":
        return requested
    if len(cand) >= FLOW_PATH_FROM:
        return "flow+lns"
    if len(cand) >= SPLIT_FROM:
        # lazy: the flow path (min-cost flow) loads only for rounds that may take it
        from matcher.solving.flow_path import splits_into_small

        if splits_into_small(rnd, cand, sc):
            return "flow+lns"
    return "cp-sat"


def solve(round: Round, params: SolveParams | None = None) -> Result:
    """Solve the round within ``params.time_limit_s`` seconds (the whole call).

    Returns a checked :class:`~matcher.result.Result`: ``optimal`` only when optimality is
    proven. An infeasible round comes back with status ``infeasible`` and a ``diagnosis``
    naming the conflicting rules and records (:func:`matcher.diagnosis.diagnose`); it
    never raises for the round's sake.
    """
    params = params or SolveParams()
    budget = Budget(params.time_limit_s, params.stop)
    cand = candidates(round)
    sc = scores(round, cand)  # no score depends on the fairness weight: both stages share it
    first: Result | None = None
    cap: int | None = None
    if round.weights.fairness > 0 and params.hint is None:
        first = _fairness_free_start(round, cand, sc, params, budget)
        if first.has_solution:
            params = dataclasses.replace(params, hint=first)
        if first.bound is not None:
            # lazy: the flow module (min-cost flow) loads only for rounds that need it
            from matcher.solving.flow import fairness_bound

            cap = fairness_bound(round, cand, sc, first.bound)
    result = _solve_once(round, cand, sc, params, budget, cap=cap)
    if first is not None:
        result = dataclasses.replace(result, stats={**result.stats, "fairness_free_start": {
            "status": first.status, "seconds": first.stats.get("total_seconds"),
            "bound": first.bound, "cap": cap}})
    if result.status == "infeasible" and not result.diagnosis and params.diagnose_s > 0:
        limit = min(params.diagnose_s, max(0.5, budget.remaining()))
        result = _with_diagnosis(round, result, limit)
    return result


def _solve_once(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                budget: Budget, *, cap: int | None = None) -> Result:
    """One path on the round, chosen by :func:`choose_path`; ``cap`` is a valid bound on
    the round's objective known beforehand (:func:`~matcher.solving.flow.fairness_bound`)."""
    path = choose_path(rnd, cand, sc, params.path)
    log.info("round %s: %d candidates, path %s", rnd.round.id, len(cand), path)
    if path == "flow+lns":
        # lazy: the flow path (min-cost flow) loads only for rounds that take it
        from matcher.solving.flow_path import solve_flow_lns

        return solve_flow_lns(rnd, cand, sc, params, budget, cap=cap)
    return solve_full_model(rnd, cand, sc, params, budget, cap=cap)


def _fairness_free_start(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                         budget: Budget) -> Result:
    """The round without its fairness term, solved in a share of the budget: a warm start
    for the round itself.

    The worst-off minimum M ties every pharmacist to every other, and CP-SAT's search
    finds poor first allocations when the objective holds it; without it the round is the
    usual one (on the flow path it even splits into components again). Its allocation is
    feasible for the round (the hard rules are the same) and usually close: raising M
    rarely costs much of the rest of the objective.
    """
    t0 = time.monotonic()
    plain = rnd.model_copy(update={"weights": rnd.weights.model_copy(update={"fairness": 0})})
    on_flow = choose_path(rnd, cand, sc, params.path) == "flow+lns"
    share = Budget(budget.left() * (FAIRNESS_START_SHARE_FLOW if on_flow
                                    else FAIRNESS_START_SHARE), params.stop)
    first = _solve_once(plain, cand, sc,
                        dataclasses.replace(params, progress=None, diagnose_s=0), share)
    seconds = round_s(time.monotonic() - t0)
    log.info("fairness-free start: %s in %.2f s", first.status, seconds)
    return dataclasses.replace(first, stats={**first.stats, "total_seconds": seconds})


def _with_diagnosis(rnd: Round, result: Result, time_limit_s: float) -> Result:
    """The infeasible result with its diagnosis (spec §5); never raises."""
    # lazy: diagnosis (conflict search, max flow) loads only for infeasible rounds
    from matcher.diagnosis import diagnose

    t0 = time.monotonic()
    findings = diagnose(rnd, time_limit_s=time_limit_s)
    stats = {**result.stats, "diagnose_seconds": round_s(time.monotonic() - t0)}
    return dataclasses.replace(result, diagnosis=tuple(f.to_dict() for f in findings),
                               stats=stats)
