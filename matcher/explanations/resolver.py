"""Re-solving the round with one more pin: what a better-ranked alternative would cost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matcher.diagnosis import diagnose
from matcher.domain import Round
from matcher.errors import InvalidRoundError
from matcher.explanations.records import as_dicts
from matcher.result import Result
from matcher.solving import SolveParams, solve
from matcher.validation import with_changes
from matcher.wording import count

__all__ = ["DIAGNOSE_S", "RESOLVE_FLOOR_S", "Measured", "Resolver", "points", "verdict_of"]

log = logging.getLogger(__name__)


RESOLVE_FLOOR_S = 0.5  # least time given to one re-solve while the budget lasts
DIAGNOSE_S = 2.0  # most time spent explaining one infeasible pinned round


@dataclass(frozen=True)
class Measured:
    """What a re-solve with (pharmacist, placement, period) pinned said."""

    status: str  # optimal | feasible | unknown | infeasible | invalid
    cost: int | None = None  # exact cost against the result (an optimal re-solve)
    at_least: int | None = None  # lower bound on the cost
    at_most: int | None = None  # upper bound on the cost (a solution was found)
    findings: tuple[dict[str, Any], ...] = ()  # diagnosis entries (Finding.to_dict())
    problems: tuple[str, ...] = ()


class Resolver:
    """Re-solves the round with one extra pin, within a count and a time budget."""

    def __init__(self, rnd: Round, result: Result, base: int, max_resolves: int,
                 deadline: float, workers: int, seed: int) -> None:
        self.round = rnd
        self.result = result
        self.base = base
        self.left = max_resolves
        self.deadline = deadline
        self.workers = workers
        self.seed = seed
        self.cache: dict[tuple[str, str, str], Measured] = {}
        self.count = 0
        # A re-solve needs about as long as the solve that made the result (warm start or
        # not): fewer re-solves that finish beat many that all stop unproven.
        took = sum(float(result.stats.get(k, 0.0) or 0.0)
                   for k in ("solve_seconds", "build_seconds"))
        self.floor = max(RESOLVE_FLOOR_S, 1.5 * took)

    def measure_all(self, wanted: Sequence[tuple[str, str, str]]) -> None:
        """Measure the triples in order while the budget lasts."""
        todo = [w for w in dict.fromkeys(wanted) if w not in self.cache]
        for n, triple in enumerate(todo):
            remaining = self.deadline - time.monotonic()
            if self.left <= 0 or remaining <= 0.05:
                break
            pending = min(len(todo) - n, self.left)
            share = min(remaining, max(remaining / pending, self.floor))
            self.cache[triple] = self._measure(*triple, time_limit_s=share)
            self.left -= 1
            self.count += 1

    def get(self, p: str, l_id: str, t: str) -> Measured | None:
        """The measurement of a triple, if it was made."""
        return self.cache.get((p, l_id, t))

    def _measure(self, p: str, l_id: str, t: str, *, time_limit_s: float) -> Measured:
        pins = [pin.model_dump() for pin in self.round.pins]
        try:
            pinned = with_changes(
                self.round,
                pins=[*pins, {"pharmacist": p, "period": t, "placement": l_id}])
        except InvalidRoundError as exc:
            return Measured("invalid", problems=tuple(pr.message for pr in exc.problems))
        res = solve(pinned, SolveParams(time_limit_s=time_limit_s, workers=self.workers,
                                        seed=self.seed, hint=self.result))
        if res.status == "infeasible":
            found = as_dicts(res.diagnosis)  # solve's own diagnosis, when it gives one
            if not found:
                budget = min(DIAGNOSE_S, max(0.2, self.deadline - time.monotonic()))
                found = [f.to_dict() for f in diagnose(pinned, time_limit_s=budget)]
            return Measured("infeasible", findings=tuple(found))
        at_least = None if res.bound is None else self.base - res.bound
        at_most = None if res.objective is None else self.base - res.objective
        if res.status == "optimal" and res.objective is not None:
            cost = self.base - res.objective  # exact, relative to the result explained
            return Measured("optimal", cost=cost, at_least=cost, at_most=cost)
        return Measured(res.status, at_least=at_least, at_most=at_most)


# ---- wording -------------------------------------------------------------------------------


def verdict_of(m: Measured | None, what: str
             ) -> tuple[str, str, tuple[str, ...], int | None, bool]:
    """(verdict, text, rules, cost, cost_exact) of a measurement."""
    if m is None:
        return "not_measured", "not measured (the re-solve budget ran out)", (), None, False
    if m.status == "invalid":
        return ("breaks_rules", f"{what} is not allowed: " + "; ".join(m.problems),
                ("pin",), None, False)
    if m.status == "infeasible":
        rules = tuple(dict.fromkeys(
            str(r) for f in m.findings for r in (f.get("rules") or [f.get("rule", "unknown")])))
        reasons = (" / ".join(str(f.get("message", "")) for f in m.findings[:3])
                   or "no reason found in time")
        return "breaks_rules", f"{what} breaks the hard rules: {reasons}", rules, None, False
    if m.cost is not None:
        if m.cost > 0:
            return "costs", f"it would cost the round {points(m.cost)}", (), m.cost, True
        if m.cost == 0:
            return ("tie", f"an equally good allocation does this ({what} costs 0 points)",
                    (), 0, True)
        return ("better", f"re-solving with it found an allocation {points(-m.cost)} "
                          "better (this result was not proven optimal)", (), m.cost, True)
    if m.at_most is not None and m.at_most < 0:
        return ("better", f"re-solving with it found an allocation {points(-m.at_most)} "
                          "better (this result was not proven optimal)", (), m.at_most, False)
    if m.at_least is not None and m.at_least > 0:
        upto = f" and at most {points(m.at_most)}" if m.at_most is not None else ""
        return ("costs", f"it would cost the round at least {points(m.at_least)}{upto} (the "
                         "re-solve was not proven optimal in time)", (), m.at_least, False)
    if m.at_most == 0:
        return ("tie", f"an allocation as good as this one does this ({what} costs 0 points "
                       "as far as measured)", (), 0, False)
    if m.at_most is not None:
        return ("costs", f"it would cost the round at most {points(m.at_most)} (the re-solve "
                         "found such an allocation but could not prove in time that none "
                         "costs less)", (), None, False)
    return ("not_measured", "not measured (the re-solve found no allocation in time)", (),
            None, False)


def points(n: int) -> str:
    return count(n, "point")
