"""What a diagnosis is made of: :class:`Group` (one rule applied to one record), :class:`Finding`
(one reason the round is infeasible), the kinds of finding and the order rules are named in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from matcher.domain import Pin

KINDS: dict[str, str] = {
    "sectors_unreachable": "a pharmacist cannot reach enough distinct sectors",
    "sectors_do_not_fit": "enough sectors are reachable, but not in enough separate "
    "periods and streams",
    "required_sector_unreachable": "a pharmacist cannot reach a required sector",
    "required_sectors_do_not_fit": "the required sectors cannot all fit in the pharmacist's "
    "periods and streams",
    "pins_block_sectors": "a pharmacist's pins leave no room for the sector rules",
    "required_sector_seats": "pharmacists who still need a required sector outnumber the "
    "seats in that sector they can reach",
    "no_eligible_placement": "nobody may be unassigned, but a pharmacist has no eligible "
    "placement in a period and stream",
    "too_few_seats": "nobody may be unassigned, but a period and stream has fewer seats "
    "than available pharmacists",
    "seats_out_of_reach": "nobody may be unassigned, but some pharmacists can only reach "
    "fewer seats than they number",
    "rotation_exhausted": "nobody may be unassigned, but a pharmacist runs out of "
    "placements they have not held in a rotating stream",
    "continuity_impossible": "nobody may be unassigned, but no placement of a non-rotating "
    "stream is open to a pharmacist in every period",
    "pins_over_capacity": "pins overfill a placement",
    "pins_over_organisation_cap": "pins exceed an organisation's max_pharmacists",
    "pins_over_supervision": "pins exceed a supervisor's capacity",
    "pins_break_continuity": "pins put a pharmacist in different placements of a "
    "non-rotating stream",
    "pins_break_rotation": "pins put a pharmacist in the same rotating placement twice",
    "conflict": "a minimal set of rules and records that cannot all hold (CP-SAT core)",
    "families": "no minimal conflict among records was found in time; whole rule families "
    "that must be relaxed for the round to become feasible (a coarse, family-level result)",
    "unexplained": "no specific reason found within the time budget",
}
"""Every ``Finding.kind`` with what it means."""

RULE_ORDER = (
    "pin",
    "allow_unassigned",
    "required_sectors",
    "sector_mix",
    "continuity",
    "rotation",
    "supervision",
    "organisation_cap",
    "capacity",
)
"""Order in which rules are named when several take part in one conflict: what is asked of
a pharmacist first, the limits that stop it last."""


@dataclass(frozen=True)
class Group:
    """One rule applied to one record: the unit a conflict is made of.

    ``rule`` is a §3 rule name (as in :data:`matcher.build.HARD_RULES`); the other fields
    say which record: ``capacity`` (placement, period), ``organisation_cap`` (organisation,
    period), ``supervision`` (supervisor, period), ``allow_unassigned`` (pharmacist, period,
    stream), ``rotation`` (pharmacist, placement), ``continuity`` (pharmacist, stream),
    ``sector_mix`` (pharmacist), ``required_sectors`` (pharmacist, sector), ``pin`` (pin:
    its position in ``round.pins``, with pharmacist, placement and period).
    """

    rule: str
    pharmacist: str | None = None
    placement: str | None = None
    period: str | None = None
    stream: str | None = None
    organisation: str | None = None
    supervisor: str | None = None
    sector: str | None = None
    pin: int | None = None

    def __str__(self) -> str:
        parts = [
            f"{k}={v}"
            for k, v in (
                ("pharmacist", self.pharmacist), ("placement", self.placement),
                ("period", self.period), ("stream", self.stream),
                ("organisation", self.organisation), ("supervisor", self.supervisor),
                ("sector", self.sector), ("pin", self.pin),
            )
            if v is not None
        ]
        return f"{self.rule}({', '.join(parts)})"


@dataclass(frozen=True)
class Finding:
    """One reason the round is infeasible.

    ``kind`` is one of :data:`KINDS`; ``rule`` the §3 rule at its heart and ``rules`` every
    rule involved; ``message`` says what conflicts in planners' words. The id lists name
    the records involved. ``minimal`` is set for CP-SAT conflicts: True when dropping any
    one of its parts was shown to remove the conflict, False when the time budget ran out
    first. ``groups`` are the model groups the finding accounts for (used to look for
    further conflicts, and by tests); they are not part of :meth:`to_dict`.
    """

    kind: str
    rule: str
    message: str
    pharmacists: tuple[str, ...] = ()
    placements: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    supervisors: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    minimal: bool | None = None
    groups: tuple[Group, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object a result's ``diagnosis`` lists."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "rule": self.rule,
            "rules": list(self.rules or (self.rule,)),
            "message": self.message,
            "pharmacists": list(self.pharmacists),
            "placements": list(self.placements),
            "periods": list(self.periods),
        }
        if self.organisations:
            out["organisations"] = list(self.organisations)
        if self.supervisors:
            out["supervisors"] = list(self.supervisors)
        if self.minimal is not None:
            out["minimal"] = self.minimal
        return out


def finding(
    kind: str,
    rule: str,
    message: str,
    *,
    pharmacists: Iterable[str] = (),
    placements: Iterable[str] = (),
    periods: Iterable[str] = (),
    organisations: Iterable[str] = (),
    supervisors: Iterable[str] = (),
    rules: Iterable[str] = (),
    groups: Iterable[Group] = (),
    minimal: bool | None = None,
) -> Finding:
    """A :class:`Finding`, its rules and id lists without repeats (first mention kept)."""
    listed_rules = tuple(dict.fromkeys([rule, *rules]))
    return Finding(
        kind=kind, rule=rule, message=message,
        pharmacists=tuple(dict.fromkeys(pharmacists)),
        placements=tuple(dict.fromkeys(placements)),
        periods=tuple(dict.fromkeys(periods)),
        organisations=tuple(dict.fromkeys(organisations)),
        supervisors=tuple(dict.fromkeys(supervisors)),
        rules=listed_rules, minimal=minimal, groups=tuple(dict.fromkeys(groups)),
    )


def pin_group(k: int, pin: Pin) -> Group:
    """The group of ``pin``, the ``k``-th of ``round.pins``."""
    return Group("pin", pharmacist=pin.pharmacist, placement=pin.placement, period=pin.period,
                 pin=k)
