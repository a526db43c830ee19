"""The report's empty seats grouped by reason: one table per reason, not one paragraph per
seat (:func:`gap_groups`, used by :mod:`matcher.report`)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcher.explanations import Explanation

__all__ = ["GAP_REASONS", "gap_groups"]


GAP_REASONS = {
    "placed_elsewhere": "Every eligible pharmacist is placed somewhere worth more to the round",
    "nobody_eligible": "Nobody else is eligible (spec §2)",
    "organisation_cap": "The organisation already hosts its maximum of pharmacists",
    "supervision": "The supervisor already supervises its maximum",
    "min_fill_above_capacity": "min_fill is above the placement's capacity",
}
"""The heading of each group of placement gaps (``PlacementGap.reason``)."""


def gap_groups(ex: Explanation) -> list[dict[str, Any]]:
    """The placement gaps grouped by reason: one table per reason, one row per placement and
    period with its counts and the cost of moving the best eligible pharmacist in."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for g in ex.placements:
        if g.moved is None or (g.cost is None and g.cost_at_most is None):
            cost = "" if g.moved is None else "not measured"
        elif g.cost_exact:
            cost = f"{g.moved}: {g.cost}"
        elif g.cost_at_least is not None and g.cost_at_most is not None:
            cost = f"{g.moved}: {g.cost_at_least} to {g.cost_at_most}"
        elif g.cost_at_most is not None:
            cost = f"{g.moved}: at most {g.cost_at_most}"
        else:
            cost = f"{g.moved}: at least {g.cost}"
        detail = "" if g.reason == "placed_elsewhere" else g.message
        if g.cost is None and g.cost_at_most is None and g.moved is not None:
            detail = g.message  # the re-solve's own words (a rule it breaks)
        groups[g.reason].append({
            "placement": g.placement, "period": g.period, "empty": g.empty_seats,
            "short": g.shortfall, "holders": len(g.holders), "eligible": len(g.eligible),
            "cost": cost, "detail": detail})
    return [{"reason": r, "title": GAP_REASONS.get(r, r), "rows": rows,
             "empty": sum(x["empty"] for x in rows), "short": sum(x["short"] for x in rows),
             "details": any(x["detail"] for x in rows)}
            for r, rows in groups.items()]
