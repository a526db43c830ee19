"""Every path ends here: :func:`finish` checks the answer independently and makes the
:class:`~matcher.result.Result`; :func:`path_stats` is the stats every path reports.

No unchecked answer leaves the library: the allocation goes through the solver-independent
checker (:func:`matcher.checker.violations` and :func:`matcher.checker.objective`), and a
disagreement (a broken rule, another objective, a bound below the objective) raises
:class:`~matcher.errors.InternalSolverError`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher import checker
from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.errors import InternalSolverError
from matcher.result import Result, Status, make_result
from matcher.scoring import Scores
from matcher.solving.params import SolveParams

__all__ = ["finish", "path_stats", "round_s", "status_of"]

IntArray = npt.NDArray[np.int64]


def round_s(seconds: float) -> float:
    """Seconds rounded to milliseconds, for stats."""
    return float(f"{seconds:.3f}")


def path_stats(path: str, solver: str, params: SolveParams, *, build_s: float,
               solve_s: float) -> dict[str, Any]:
    """The stats every path reports: which path and solver, times, workers and seed."""
    return {
        "solver": solver,
        "path": path,
        "solve_seconds": round_s(solve_s),
        "build_seconds": round_s(build_s),
        "workers": params.worker_count,
        "seed": params.seed,
    }


def status_of(has_solution: bool, proven: bool, infeasible: bool = False) -> Status:
    """The status of an answer: ``infeasible`` when proven so, ``optimal`` when a solution
    is proven optimal, ``feasible`` for any other solution, else ``unknown``."""
    if infeasible:
        return "infeasible"
    if not has_solution:
        return "unknown"
    return "optimal" if proven else "feasible"


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
    """Check a solution independently and make the :class:`Result` (module docs)."""
    if chosen is None:
        if status in ("optimal", "feasible"):
            raise InternalSolverError(f"status {status} without a solution")
        return make_result(rnd, cand, sc, None, status=status, bound=bound, stats=stats)
    t0 = time.monotonic()
    allocation = cand.assignments(rnd, chosen)
    found = checker.violations(rnd, allocation)
    if found:
        shown = "; ".join(str(v) for v in found[:5])
        raise InternalSolverError(
            f"the {stats.get('path')} answer breaks {len(found)} hard rule(s): {shown}")
    breakdown = checker.objective(rnd, allocation)
    if objective is None:
        objective = breakdown.total
    if breakdown.total != objective:
        raise InternalSolverError(
            f"the {stats.get('path')} objective {objective} differs from the checker's "
            f"{breakdown.total}")
    if bound is not None and bound < objective:
        raise InternalSolverError(f"bound {bound} below the objective {objective}")
    stats = stats | {"check_seconds": round_s(time.monotonic() - t0)}
    return make_result(rnd, cand, sc, chosen, status=status, objective=objective,
                       bound=bound, breakdown=breakdown.to_dict(), stats=stats)
