"""Spec §4 in plain Python: :func:`objective` and its parts, :func:`score` and
:func:`terms` per assignment."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from matcher.allocation import Allocation, Assignment, as_assignments
from matcher.checker.feasibility import Checked, unknown_id_violations
from matcher.checker.lookups import Lookups, lookups_of, travel_of
from matcher.domain import Round

__all__ = ["ObjectiveBreakdown", "objective", "pref", "score", "terms"]


@dataclass(frozen=True, slots=True)
class ObjectiveBreakdown:
    """The §4 objective of an allocation and the parts it is made of.

    ``preference``, ``hard_to_recruit``, ``population_health`` and ``travel`` are sums over
    the assignments of the weighted terms (``travel`` is zero or negative). The penalty and
    bonus parts are the unweighted counts of the spec: ``unassigned_count`` (U),
    ``shortfall`` (S), ``fairness_min`` (M; ``None`` when ``weights.fairness`` is 0 and M is
    not counted) and ``changes`` (C). ``total`` is the objective.
    """

    total: int
    preference: int
    hard_to_recruit: int
    population_health: int
    travel: int
    unassigned_count: int
    shortfall: int
    fairness_min: int | None
    changes: int

    @property
    def assignment_score(self) -> int:
        """Sum of score(p, l) over every assignment (the four weighted terms)."""
        return self.preference + self.hard_to_recruit + self.population_health + self.travel

    def to_dict(self) -> dict[str, int | None]:
        """A JSON-ready dict of every field."""
        return asdict(self)


def pref(round: Round, pharmacist_id: str, placement_id: str) -> int:
    """pref(p, l) of spec §4: R - rank + 1 for p's rank-th preference (1 = first), else 0."""
    rank = round.pharmacist(pharmacist_id).preference_rank.get(placement_id)
    return 0 if rank is None else round.rules.max_preferences - rank + 1


def terms(round: Round, assignment: Assignment) -> dict[str, int]:
    """The weighted terms of score(p, l) for one assignment, as a §5 result reports them:
    ``preference``, ``hard_to_recruit``, ``population_health`` and ``travel`` (negative).

    Raises ``KeyError`` for an unknown pharmacist or placement.
    """
    return terms_of(round, lookups_of(round), assignment)


def score(round: Round, assignment: Assignment) -> int:
    """score(p, l) of spec §4 for one assignment: the sum of its :func:`terms`."""
    return sum(terms(round, assignment).values())


def pref_of(round: Round, lookups: Lookups, pharmacist_id: str, placement_id: str) -> int:
    rank = lookups.rank[pharmacist_id].get(placement_id)
    return 0 if rank is None else round.rules.max_preferences - rank + 1


def terms_of(round: Round, lookups: Lookups, a: Assignment) -> dict[str, int]:
    w = round.weights
    ph, pl = round.pharmacist(a.pharmacist), round.placement(a.placement)
    return {
        "preference": w.preference * pref_of(round, lookups, ph.id, pl.id),
        "hard_to_recruit": w.hard_to_recruit * pl.hard_to_recruit,
        "population_health": w.population_health * pl.population_health,
        "travel": -w.travel * travel_of(lookups, ph, pl),
    }


def objective(round: Round, allocation: Allocation | Iterable[object]) -> ObjectiveBreakdown:
    """The §4 objective of the allocation, with its parts.

    Computed as written whether or not the allocation is feasible (each distinct assignment
    counted once). Raises ``ValueError`` if an assignment names an unknown id.
    """
    items = as_assignments(allocation)
    unknown = unknown_id_violations(round, items)
    if unknown:
        raise ValueError(
            "the objective is undefined: " + "; ".join(v.message for v in unknown)
        )
    c = Checked(round, items)
    w = round.weights
    parts = Counter[str]()
    for a in c.assignments:
        parts.update(terms_of(round, c.lookups, a))
    unassigned = _unassigned_count(c)
    shortfall = _shortfall(c)
    fairness_min = _fairness_min(c) if w.fairness > 0 else None
    changes = _changes(c)
    total = (
        sum(parts.values())
        - w.unassigned * unassigned
        - w.shortfall * shortfall
        + w.fairness * (fairness_min or 0)
        - w.change * changes
    )
    return ObjectiveBreakdown(
        total=total,
        preference=parts["preference"],
        hard_to_recruit=parts["hard_to_recruit"],
        population_health=parts["population_health"],
        travel=parts["travel"],
        unassigned_count=unassigned,
        shortfall=shortfall,
        fairness_min=fairness_min,
        changes=changes,
    )


def _unassigned_count(c: Checked) -> int:
    """U: (pharmacist, period, stream) triples with no placement where p is available."""
    return sum(
        1
        for ph in c.round.pharmacists
        for t in c.lookups.available[ph.id]
        for s in c.round.effective_streams
        if not c.by_slot.get((ph.id, t, s.id))
    )


def _shortfall(c: Checked) -> int:
    """S: sum over placements and periods of max(0, min_fill(l, t) - holders(l, t))."""
    return sum(
        max(0, pl.min_fill_in(t) - len(c.holders.get((pl.id, t), ())))
        for pl in c.round.placements
        for t in c.round.period_ids
    )


def _fairness_min(c: Checked) -> int:
    """M: the smallest preference-point total over pharmacists with A(p) >= 1 (0 if none)."""
    totals = [
        sum(pref_of(c.round, c.lookups, ph.id, a.placement) for a in c.by_pharmacist[ph.id])
        for ph in c.round.pharmacists
        if c.lookups.available[ph.id]
    ]
    return min(totals, default=0)


def _changes(c: Checked) -> int:
    """C: reference (pharmacist, period, stream) triples whose placement differs now
    (unassigned counts as different)."""
    reference: dict[tuple[str, str, str], str] = {}
    for r in c.round.reference:
        stream = c.round.stream_of(c.round.placement(r.placement)).id
        reference.setdefault((r.pharmacist, r.period, stream), r.placement)
    return sum(
        1 for slot, placement in reference.items()
        if c.by_slot.get(slot) != [placement]
    )
