"""The ``cp-sat`` path: the full model of every eligible candidate, solved by CP-SAT."""

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
                     budget: Budget) -> Result:
    """Build the whole model, hint it with ``params.hint``, solve it in what is left of the
    budget and return the checked result."""
    t0 = time.monotonic()
    model = build_model(rnd, cand, sc)
    hint = hint_vector(model, hint_positions(rnd, cand, params.hint))
    build_s = time.monotonic() - t0
    t1 = time.monotonic()
    ans = cpsat.run(model, budget, params, hint=hint, report=True)
    stats = (path_stats("cp-sat", "cp-sat", params, build_s=build_s,
                        solve_s=time.monotonic() - t1)
             | {"model": model.stats()} | ans.stats)
    return finish(rnd, cand, sc, ans.chosen, status=ans.status, objective=ans.objective,
                  bound=ans.bound, stats=stats)
