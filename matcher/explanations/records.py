"""The explanation's records: what :func:`matcher.explanations.explain` returns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from matcher.domain import IMPLICIT_STREAM_ID

__all__ = [
    "VERDICTS",
    "Alternative",
    "AssignmentTerms",
    "Explanation",
    "PharmacistExplanation",
    "PlacementGap",
    "SlotExplanation",
    "as_dicts",
]


VERDICTS: dict[str, str] = {
    "not_eligible": "the pharmacist may not hold it in that period (spec §2)",
    "held_in_other_period": "they hold it in another period and the stream rotates",
    "pinned_elsewhere": "a pin puts them in another placement of that stream",
    "costs": "giving it to them lowers the round's objective (re-solve with it pinned): "
    "exactly, or between the stated proven ends (cost_at_least, cost_at_most)",
    "tie": "an equally good allocation gives it to them",
    "better": "re-solving with it pinned found a better allocation (the result was not "
    "proven optimal)",
    "breaks_rules": "no allocation gives it to them without breaking a hard rule",
    "not_measured": "eligible, but no cost was proven (no re-solve budget, or no allocation "
    "giving it was found in time)",
}
"""Every ``Alternative.verdict`` with what it means."""


@dataclass(frozen=True)
class AssignmentTerms:
    """One assignment with its score, the §4 terms and the preference rank it meets."""

    pharmacist: str
    period: str
    stream: str
    placement: str
    score: int
    terms: dict[str, int]
    rank: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``rank`` is ``"unranked"`` when not a preference)."""
        return {"pharmacist": self.pharmacist, "period": self.period, "stream": self.stream,
                "placement": self.placement, "score": self.score, "terms": dict(self.terms),
                "rank": "unranked" if self.rank is None else self.rank}


@dataclass(frozen=True)
class Alternative:
    """A placement the pharmacist ranked above what they got, and why they did not get it.

    ``verdict`` is one of :data:`VERDICTS`. ``rules`` names the rules behind it (§2
    conditions for ``not_eligible``, §3 rules for ``breaks_rules``). ``full`` and
    ``holders`` say whether every seat was taken in the result and by whom. ``cost`` is
    the objective points the round loses by giving it to them: exact when ``cost_exact``,
    otherwise a lower bound (``None`` when no lower bound is known). ``cost_at_least`` and
    ``cost_at_most`` are the proven ends of the cost (equal to ``cost`` when exact): the
    lower from a re-solve's bound or the result's, the upper from the best checked
    allocation found with it pinned (``None`` when unknown).
    """

    placement: str
    rank: int
    verdict: str
    message: str
    rules: tuple[str, ...] = ()
    full: bool = False
    holders: tuple[str, ...] = ()
    cost: int | None = None
    cost_exact: bool = False
    cost_at_most: int | None = None
    cost_at_least: int | None = None

    @property
    def priced(self) -> bool:
        """Whether a cost was proven: exactly, or both ends of an interval."""
        return self.cost_exact or (self.cost_at_least is not None
                                   and self.cost_at_most is not None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"placement": self.placement, "rank": self.rank, "verdict": self.verdict,
                "message": self.message, "rules": list(self.rules), "full": self.full,
                "holders": list(self.holders), "cost": self.cost,
                "cost_exact": self.cost_exact, "cost_at_most": self.cost_at_most,
                "cost_at_least": self.cost_at_least}


@dataclass(frozen=True)
class SlotExplanation:
    """What a pharmacist got in one period and stream, its rank, and the better-ranked
    placements they did not get (best first)."""

    pharmacist: str
    period: str
    stream: str
    placement: str | None
    rank: int | None
    alternatives: tuple[Alternative, ...] = ()

    @property
    def rank_label(self) -> int | str:
        """The rank, ``"unranked"`` (a placement they did not rank) or ``"unassigned"``."""
        if self.placement is None:
            return "unassigned"
        return "unranked" if self.rank is None else self.rank

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"period": self.period, "stream": self.stream, "placement": self.placement,
                "rank": self.rank_label,
                "alternatives": [a.to_dict() for a in self.alternatives]}


@dataclass(frozen=True)
class PharmacistExplanation:
    """Every period and stream of one pharmacist (periods they are available in)."""

    pharmacist: str
    slots: tuple[SlotExplanation, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"pharmacist": self.pharmacist, "slots": [s.to_dict() for s in self.slots]}


@dataclass(frozen=True)
class PlacementGap:
    """A hard-to-recruit placement with empty seats, or one below its min_fill, in a period.

    ``reason`` is ``nobody_eligible``, ``min_fill_above_capacity``, ``organisation_cap``,
    ``supervision`` or ``placed_elsewhere``. ``eligible`` lists the pharmacists eligible for
    it who do not hold it; ``moved`` is the one whose move in was measured, with ``cost``
    (exact when ``cost_exact``, otherwise a lower bound) and the proven ends
    ``cost_at_least`` and ``cost_at_most`` (``None`` when unknown).
    """

    placement: str
    period: str
    capacity: int
    min_fill: int
    hard_to_recruit: int
    holders: tuple[str, ...]
    reason: str
    message: str
    eligible: tuple[str, ...] = ()
    moved: str | None = None
    cost: int | None = None
    cost_exact: bool = False
    cost_at_least: int | None = None
    cost_at_most: int | None = None

    @property
    def empty_seats(self) -> int:
        """Seats left empty."""
        return max(0, self.capacity - len(self.holders))

    @property
    def shortfall(self) -> int:
        """Seats below min_fill."""
        return max(0, self.min_fill - len(self.holders))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"placement": self.placement, "period": self.period,
                "capacity": self.capacity, "min_fill": self.min_fill,
                "hard_to_recruit": self.hard_to_recruit, "holders": list(self.holders),
                "empty_seats": self.empty_seats, "shortfall": self.shortfall,
                "reason": self.reason, "message": self.message,
                "eligible": list(self.eligible), "moved": self.moved, "cost": self.cost,
                "cost_exact": self.cost_exact, "cost_at_least": self.cost_at_least,
                "cost_at_most": self.cost_at_most}


@dataclass(frozen=True)
class Explanation:
    """Why the result is what it is (see the module docstring). JSON-ready via
    :meth:`to_dict`; :meth:`to_text` for the command line."""

    round: str
    status: str
    objective: int | None
    optimal: bool
    assignments: tuple[AssignmentTerms, ...] = ()
    pharmacists: tuple[PharmacistExplanation, ...] = ()
    placements: tuple[PlacementGap, ...] = ()
    diagnosis: tuple[dict[str, Any], ...] = ()
    resolves: int = 0
    notes: tuple[str, ...] = field(default=())

    def slot(self, pharmacist: str, period: str, stream: str | None = None
             ) -> SlotExplanation:
        """The explanation of one pharmacist's period (and stream); KeyError if absent."""
        for ph in self.pharmacists:
            if ph.pharmacist != pharmacist:
                continue
            for s in ph.slots:
                if s.period == period and (stream is None or s.stream == stream):
                    return s
        raise KeyError((pharmacist, period, stream))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "round": self.round, "status": self.status, "objective": self.objective,
            "optimal": self.optimal,
            "assignments": [a.to_dict() for a in self.assignments],
            "pharmacists": [p.to_dict() for p in self.pharmacists],
            "placements": [g.to_dict() for g in self.placements],
            "diagnosis": [dict(d) for d in self.diagnosis],
            "resolves": self.resolves, "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """A readable report, one pharmacist and one placement gap after another."""
        head = f"Round {self.round}: {self.status}"
        if self.objective is not None:
            head += f", objective {self.objective}"
        lines = [head]
        lines += [f"Note: {n}" for n in self.notes]
        for d in self.diagnosis:
            lines.append(f"  - {d.get('message', d)}")
        by_slot = {(a.pharmacist, a.period, a.stream): a for a in self.assignments}
        for ph in self.pharmacists:
            lines.append("")
            lines.append(ph.pharmacist)
            for s in ph.slots:
                where = (s.period if s.stream == IMPLICIT_STREAM_ID
                         else f"{s.period} {s.stream}")
                if s.placement is None:
                    lines.append(f"  {where}: unassigned")
                else:
                    a = by_slot.get((ph.pharmacist, s.period, s.stream))
                    rank = ("unranked" if s.rank is None else f"preference {s.rank}")
                    score = ""
                    if a is not None:
                        parts = ", ".join(f"{k} {v}" for k, v in a.terms.items() if v)
                        score = f", score {a.score}" + (f" ({parts})" if parts else "")
                    lines.append(f"  {where}: {s.placement} ({rank}){score}")
                for alt in s.alternatives:
                    lines.append(f"    preference {alt.rank} {alt.placement}: {alt.message}")
        if self.placements:
            lines.append("")
            lines.append("Placements left short")
            for g in self.placements:
                lines.append(f"  {g.placement} in {g.period}: {g.message}")
        if self.resolves:
            lines.append("")
            lines.append(f"({self.resolves} re-solve(s) measured the costs above)")
        return "\n".join(lines)


def as_dicts(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [d.to_dict() if hasattr(d, "to_dict") else dict(d) for d in items]
