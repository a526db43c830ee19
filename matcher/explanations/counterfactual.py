"""One built model of the round, re-solved with one more assignment pinned.

:class:`PinnedModel` builds the integer program of the round once
(:func:`matcher.solving.formulation.build_model` over the round's candidates and scores) and
answers "what is the best allocation that gives p placement l in period t" by fixing that
one assignment variable to 1 and running the one CP-SAT runner
(:func:`matcher.solving.cpsat.run`) with a hint: the result's allocation repaired to hold
the pin (:meth:`PinnedModel.repair`). Nothing is rebuilt between re-solves, and re-solves
may run side by side in threads (the model is only read).

Every number it reports is proven and checked:

- an **upper end** of the cost comes only from an allocation that holds the pin and that
  :func:`matcher.checker.violations` accepts, its cost computed with
  :func:`matcher.checker.objective` (never from the solver's own objective);
- a **lower end** is ``base - bound``, where ``bound`` is CP-SAT's proven bound on the
  pinned round, or the result's own bound on the round (a pin never raises the optimum).

A cost is exact when the two ends meet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher import checker
from matcher.allocation import Assignment
from matcher.diagnosis import diagnose
from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.errors import InvalidRoundError
from matcher.result import Result
from matcher.scoring import scores
from matcher.solving import cpsat
from matcher.solving.budget import Budget
from matcher.solving.formulation import build_model
from matcher.solving.params import SolveParams
from matcher.solving.warmstart import hint_positions, hint_vector
from matcher.validation import with_changes

__all__ = ["Measured", "PinnedModel"]

log = logging.getLogger(__name__)

# Holders of a full placement tried as the one to move out when repairing the hint.
MAX_DISPLACED = 4
# Assignments near the pin dropped, one at a time, to repair the hint.
MAX_DROPS = 4


@dataclass(frozen=True)
class Measured:
    """What a re-solve with (pharmacist, placement, period) pinned said.

    ``cost`` is set when the cost is exact (``at_least == at_most``). ``at_least`` and
    ``at_most`` are the proven lower and upper ends of the cost (``None`` when unknown).
    ``resolved`` says whether CP-SAT was run (False: the ends come from the repaired
    allocation and the result's bound only).
    """

    status: str  # optimal | feasible | unknown | infeasible | invalid
    cost: int | None = None  # exact cost against the result (an optimal re-solve)
    at_least: int | None = None  # lower bound on the cost
    at_most: int | None = None  # upper bound on the cost (a checked allocation holds it)
    findings: tuple[dict[str, Any], ...] = ()  # diagnosis entries (Finding.to_dict())
    problems: tuple[str, ...] = ()
    resolved: bool = False

    @property
    def exact(self) -> bool:
        """Whether the cost is known exactly (or the pin is known to break the rules)."""
        return self.cost is not None or self.status in ("infeasible", "invalid")


def measured(at_least: int | None, at_most: int | None, *, proven: bool,
             resolved: bool) -> Measured:
    """A measurement from its two ends (exact when they meet or the re-solve is proven)."""
    if at_most is not None and (proven or (at_least is not None and at_least >= at_most)):
        return Measured("optimal", cost=at_most, at_least=at_most, at_most=at_most,
                        resolved=resolved)
    status = "feasible" if at_most is not None else "unknown"
    return Measured(status, at_least=at_least, at_most=at_most, resolved=resolved)


class PinnedModel:
    """The round's model built once, for re-solves with one extra pin."""

    def __init__(self, rnd: Round, result: Result, base: int, cand: Candidates, *,
                 seed: int = 0, diagnose_s: float = 2.0) -> None:
        self.round = rnd
        self.base = base
        self.seed = seed
        self.diagnose_s = diagnose_s
        self.allocation: tuple[Assignment, ...] = tuple(result.allocation)
        self.cand = cand
        self.model = build_model(rnd, self.cand, scores(rnd, self.cand))
        self.current = hint_positions(rnd, self.cand, result)
        # A pin never raises the optimum, so the result's bound on the round bounds every
        # pinned round too: no cost is below base - bound (0 for an optimal result).
        self.floor = None if result.bound is None else base - int(result.bound)
        self.stream_of = {pl.id: rnd.stream_of(pl) for pl in rnd.placements}
        self.params = SolveParams(workers=1, seed=seed, diagnose_s=0)
        self.repaired: dict[tuple[str, str, str], tuple[list[Assignment], int] | None] = {}

    def position(self, p: str, l_id: str, t: str) -> int:
        """The assignment variable of (p, l, t), -1 when it is no candidate."""
        return int(self.cand.positions(self.round, [Assignment(p, t, l_id)])[0])

    # ---- the repaired hint -------------------------------------------------------------

    def checked_cost(self, allocation: Sequence[Assignment], pin: Assignment) -> int | None:
        """The cost of an allocation that holds ``pin`` and keeps every hard rule, else None."""
        if pin not in allocation or checker.violations(self.round, allocation):
            return None
        return self.base - checker.objective(self.round, allocation).total

    def repair(self, p: str, l_id: str, t: str) -> tuple[list[Assignment], int] | None:
        """The result's allocation changed to give p l in t (p leaves their placement of that
        stream; a holder of a full l swaps into it or leaves), the cheapest variant that
        keeps every hard rule with its cost, or None when none does (kept for the next ask)."""
        key = (p, l_id, t)
        if key not in self.repaired:
            self.repaired[key] = self.repair_now(p, l_id, t)
        return self.repaired[key]

    def repair_now(self, p: str, l_id: str, t: str) -> tuple[list[Assignment], int] | None:
        """:meth:`repair` without the memo."""
        stream = self.stream_of[l_id]
        pin = Assignment(p, t, l_id)
        mine = [a for a in self.allocation
                if a.pharmacist == p and self.stream_of[a.placement].id == stream.id]
        # A stream that does not rotate keeps one placement: p moves to l in every period.
        periods = {t} if stream.rotate else {t, *(a.period for a in mine)}
        left = {a.period: a.placement for a in mine if a.period in periods}
        kept = [a for a in self.allocation if not (a in mine and a.period in periods)]
        moved = [Assignment(p, u, l_id) for u in sorted(periods)]
        base_alloc = kept + moved
        variants: list[list[Assignment]] = [base_alloc]
        holders = list(dict.fromkeys(a.pharmacist for a in kept
                                     if a.placement == l_id and a.period in periods))
        for q in holders[:MAX_DISPLACED]:
            out = [a for a in base_alloc
                   if not (a.pharmacist == q and a.placement == l_id and a.period in periods)]
            variants.append(out)
            swapped = [Assignment(q, u, left[u]) for u in sorted(periods)
                       if u in left and any(a.pharmacist == q and a.period == u
                                            and a.placement == l_id for a in kept)]
            if swapped:
                variants.append(out + swapped)
        best: tuple[list[Assignment], int] | None = None
        for v in variants:
            cost = self.checked_cost(self.fixed(v, pin), pin)
            if cost is not None and (best is None or cost < best[1]):
                best = (v, cost)
        return best

    def fixed(self, allocation: list[Assignment], pin: Assignment) -> list[Assignment]:
        """``allocation`` with assignments near the pin dropped, lowest score first, until
        no capacity, organisation, supervision or rotation rule is broken (or no drop
        helps): the pin and the round's pins stay."""
        rnd = self.round
        keep = {pin, *(Assignment(x.pharmacist, x.period, x.placement) for x in rnd.pins)}
        pl = rnd.placement(pin.placement)
        near = {pin.placement}
        near.update(x.id for x in rnd.placements
                    if pl.organisation is not None and x.organisation == pl.organisation)
        for sup in rnd.supervisors:
            if pin.placement in sup.placements:
                near.update(sup.placements)
        out = list(allocation)
        for _ in range(MAX_DROPS):
            broken = checker.violations(rnd, out)
            if not broken:
                break
            drop: set[Assignment] = set()
            for v in broken:
                if v.rule == "rotation" and v.pharmacist is not None:
                    drop.update(a for a in out if a.pharmacist == v.pharmacist
                                and a.placement == v.placement and a not in keep)
                elif v.rule in ("capacity", "organisation_cap", "supervision"):
                    t = v.period or pin.period
                    options = [a for a in out if a.period == t and a.placement in near
                               and a not in keep]
                    if options:
                        drop.add(min(options, key=lambda a: checker.score(rnd, a)))
                if drop:
                    break
            if not drop:
                break
            out = [a for a in out if a not in drop]
        return out

    # ---- measuring -------------------------------------------------------------------------

    def quick(self, p: str, l_id: str, t: str) -> Measured:
        """The ends known without a re-solve: the repaired allocation and the result's bound."""
        fixed = self.repair(p, l_id, t)
        return measured(self.floor, None if fixed is None else fixed[1], proven=False,
                        resolved=False)

    def measure(self, p: str, l_id: str, t: str, *, time_limit_s: float,
                prior: Measured | None = None, diagnose_s: float | None = None) -> Measured:
        """Re-solve with (p, l, t) pinned within ``time_limit_s`` seconds; ``prior`` is a
        measurement already made (its ends are kept when the re-solve proves less)."""
        var = self.position(p, l_id, t)
        if var < 0:
            return self.infeasible(p, l_id, t, diagnose_s)
        fixed = self.repair(p, l_id, t)
        chosen = (self.cand.positions(self.round, fixed[0]) if fixed is not None
                  else self.current)
        if chosen is not None:
            chosen = np.unique(chosen[chosen >= 0]).astype(np.int64)
        ans = cpsat.run(self.model, Budget(time_limit_s), self.params, time_limit=time_limit_s,
                        hint=hint_vector(self.model, chosen),
                        fixed=np.array([var], dtype=np.int64), workers=1, seed=self.seed)
        if ans.status == "infeasible":
            return self.infeasible(p, l_id, t, diagnose_s)
        at_most = None if fixed is None else fixed[1]
        proven = False
        if ans.chosen is not None:
            found = self.checked_cost(self.cand.assignments(self.round, ans.chosen),
                                      Assignment(p, t, l_id))
            if found is None:
                log.warning("a re-solve with %s pinned gave an allocation the checker "
                            "refuses; its cost is not used", (p, l_id, t))
            elif at_most is None or found <= at_most:
                at_most = found
                proven = ans.status == "optimal"
        ends = [x for x in (self.floor, None if ans.bound is None else self.base - ans.bound,
                            None if prior is None else prior.at_least) if x is not None]
        at_least = max(ends) if ends else None
        if prior is not None and prior.at_most is not None and (
                at_most is None or prior.at_most < at_most):
            at_most = prior.at_most
        return measured(at_least, at_most, proven=proven, resolved=True)

    def infeasible(self, p: str, l_id: str, t: str, diagnose_s: float | None = None
                   ) -> Measured:
        """No allocation holds the pin: why, from the diagnosis of the pinned round."""
        rnd = self.round
        pins = [pin.model_dump() for pin in rnd.pins]
        try:
            pinned = with_changes(
                rnd, pins=[*pins, {"pharmacist": p, "period": t, "placement": l_id}])
        except InvalidRoundError as exc:
            return Measured("invalid", problems=tuple(pr.message for pr in exc.problems),
                            resolved=True)
        found = [f.to_dict() for f in diagnose(
            pinned, time_limit_s=self.diagnose_s if diagnose_s is None else diagnose_s)]
        return Measured("infeasible", findings=tuple(found), resolved=True)
