"""The ``cp-sat`` path: the full model of every eligible candidate, solved by CP-SAT.

When CP-SAT does not prove optimality, the reported bound is the better of CP-SAT's and
the min-cost-flow relaxation's (:mod:`matcher.solving.flow`, valid for every round and
computed in a fraction of a second). CP-SAT's own bound comes from its LP, which on some
rounds it never finishes within the limit: with supervisors spanning both streams
(120x160x3, 30 s) it stayed at the trivial 1,417,806 while the flow bound is 134,468,
against an allocation of 133,152 (GLOP needs 120 s for that LP; its optimum is 133,739).
"""

from __future__ import annotations

import time

from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.result import Result
from matcher.scoring import Scores
from matcher.solving import cpsat
from matcher.solving.budget import Budget
from matcher.solving.finish import finish, path_stats
from matcher.solving.formulation import build_model
from matcher.solving.params import SolveParams
from matcher.solving.warmstart import hint_positions, hint_vector

__all__ = ["solve_full_model"]


def solve_full_model(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                     budget: Budget, *, cap: int | None = None) -> Result:
    """Build the whole model, hint it with ``params.hint``, solve it in what is left of the
    budget and return the checked result. ``cap``, a valid bound on the round's objective
    known beforehand, caps the objective (reaching it proves optimality)."""
    t0 = time.monotonic()
    model = build_model(rnd, cand, sc)
    hint = hint_vector(model, hint_positions(rnd, cand, params.hint))
    build_s = time.monotonic() - t0
    t1 = time.monotonic()
    ans = cpsat.run(model, budget, params, hint=hint, report=True, cap=cap)
    stats = (path_stats("cp-sat", "cp-sat", params, build_s=build_s,
                        solve_s=time.monotonic() - t1)
             | {"model": model.stats()} | ans.stats)
    bound = ans.bound
    if ans.status in ("feasible", "unknown"):
        # lazy: min-cost flow loads only for the rounds CP-SAT does not prove
        from matcher.solving.flow import relaxation

        flow_bound = relaxation(rnd, cand, sc).bound
        stats["flow_bound"] = flow_bound
        bound = flow_bound if bound is None else min(bound, flow_bound)
        if cap is not None:
            stats["cap"] = cap
            bound = min(bound, cap)
    return finish(rnd, cand, sc, ans.chosen, status=ans.status, objective=ans.objective,
                  bound=bound, stats=stats)
