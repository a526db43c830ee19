"""Why each pharmacist got what they got, and why seats were left empty.

:func:`explain` takes a round and a solved :class:`matcher.result.Result` and answers the
questions planners are asked:

- **what each assignment is worth**: its score and the §4 terms (:func:`matcher.checker.terms`);
- **what rank each pharmacist got** in each period and stream (a preference rank, or
  ``unranked``), and for every placement they ranked higher **why they did not get it**:
  not eligible (the §2 rule, from :func:`matcher.eligibility.ineligibility_reasons`), already
  held by them in another period of a rotating stream, pinned elsewhere, full (and held by
  whom), or what it would cost the round, measured by re-solving the round with that
  assignment pinned (one model of the round built once, the pinned variable fixed, the
  result's allocation repaired to hold the pin as the hint; see
  :mod:`~matcher.explanations.counterfactual`). A pinned round that is infeasible is
  explained with :func:`matcher.diagnosis.diagnose`. A cost is exact when the re-solve is
  proven optimal; otherwise it is the interval that was proven (``cost_at_least`` from
  the re-solve's bound or the result's, ``cost_at_most`` from an allocation giving it that
  the checker accepts), and "not measured" only when no re-solve budget was given;
- **why hard-to-recruit seats stay empty and min_fill falls short**: nobody eligible (and
  why, by rule), the organisation or supervision limit is reached, or every eligible
  pharmacist is placed somewhere worth more, with the cost of moving the best one in.

Costs are in objective points (the unit of the round's objective: weights times points).
Re-solves are bounded by ``max_resolves`` and ``time_limit_s``, run side by side when
``workers`` allows, and reused when the same (pharmacist, placement, period) is asked
about twice. Messages name ids, rules and numbers
only, never names or home locations.

The package: :mod:`~matcher.explanations.records` (what is returned),
:mod:`~matcher.explanations.resolver` (re-solves with one more pin) and
:mod:`~matcher.explanations.explainer` (the static reasons and drafts).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from matcher import checker
from matcher.domain import Round
from matcher.eligibility import candidates
from matcher.explanations.explainer import Explainer
from matcher.explanations.records import (
    VERDICTS,
    Alternative,
    AssignmentTerms,
    Explanation,
    PharmacistExplanation,
    PlacementGap,
    SlotExplanation,
    as_dicts,
)
from matcher.explanations.resolver import Resolver
from matcher.result import Result

__all__ = [
    "VERDICTS",
    "Alternative",
    "AssignmentTerms",
    "Explanation",
    "PharmacistExplanation",
    "PlacementGap",
    "SlotExplanation",
    "explain",
]

log = logging.getLogger(__name__)


def explain(
    round: Round,
    result: Result,
    *,
    max_resolves: int | None = 50,
    time_limit_s: float = 30.0,
    pharmacists: Iterable[str] | None = None,
    workers: int = 1,
    seed: int = 0,
) -> Explanation:
    """Explain the result of the round (see the module docstring).

    ``max_resolves`` and ``time_limit_s`` bound the re-solves that measure costs (the
    first better-ranked eligible alternative of every slot is measured first, then the
    placement gaps, then the other alternatives; ``None``: no count limit, only time).
    Before any re-solve every one gets the interval known without one (a repaired,
    checked allocation and the result's bound), within half the time. ``workers`` is
    how many re-solves run at once, one CP-SAT worker each (0: one per core).
    ``pharmacists`` limits the per-pharmacist
    part to those ids (all by default). Raises ``ValueError`` when the result's allocation
    breaks the round's hard rules (a result of another round).
    """
    start = time.monotonic()
    if not result.has_solution:
        return Explanation(
            round=round.round.id, status=result.status, objective=result.objective,
            optimal=False, diagnosis=tuple(as_dicts(result.diagnosis)),
            notes=(f"the result is {result.status}: there is no allocation to explain",))
    allocation = result.allocation
    broken = checker.violations(round, allocation)
    if broken:
        shown = "; ".join(str(v) for v in broken[:5])
        raise ValueError(f"the result does not fit this round: {len(broken)} hard rule(s) "
                         f"broken ({shown})")
    base = checker.objective(round, allocation).total
    notes: list[str] = []
    if result.objective is not None and result.objective != base:
        notes.append(f"the result states objective {result.objective}; recomputed from its "
                     f"assignments it is {base}")
    optimal = result.status == "optimal"
    if not optimal:
        notes.append("the result is not proven optimal: costs are measured against it and "
                     "may be negative where a better allocation exists")
    cand = candidates(round)  # one candidate list for the reasons and the re-solves
    ctx = Explainer(round, allocation, cand)
    wanted_ids = set(pharmacists) if pharmacists is not None else None
    drafts = ctx.slot_drafts(wanted_ids)
    gaps = ctx.gap_drafts()
    resolver = Resolver(round, result, base,
                        None if max_resolves is None else max(0, max_resolves),
                        start + max(0.0, time_limit_s), workers, seed, cand)
    first = [d.measure[0] for d in drafts if d.measure]
    rest = [m for d in drafts for m in d.measure[1:]]
    resolver.measure_all([*first, *(g.measure for g in gaps if g.measure), *rest])
    explanation = Explanation(
        round=round.round.id, status=result.status, objective=base, optimal=optimal,
        assignments=ctx.assignment_terms(),
        pharmacists=ctx.finish_slots(drafts, resolver),
        placements=tuple(ctx.finish_gap(g, resolver) for g in gaps),
        resolves=resolver.count, notes=tuple(notes))
    log.info("explained round %s: %d slots, %d gaps, %d re-solves in %.2f s", round.round.id,
             sum(len(p.slots) for p in explanation.pharmacists), len(explanation.placements),
             resolver.count, time.monotonic() - start)
    return explanation
