"""Spec §3 in plain Python: :func:`violations`, one small function per hard rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matcher.allocation import Allocation, Assignment, as_assignments
from matcher.checker.lookups import (
    eligibility_failures_of,
    ids_text,
    in_stream_text,
    lookups_of,
    rotates_text,
    unknown_ids,
)
from matcher.domain import Pharmacist, Round
from matcher.wording import count

__all__ = ["RULES", "Checked", "Violation", "is_known", "unknown_id_violations", "violations"]

RULES: tuple[str, ...] = (
    "unknown_id",
    "one_per_stream",
    "eligibility",
    "allow_unassigned",
    "capacity",
    "organisation_cap",
    "supervision",
    "rotation",
    "continuity",
    "sector_mix",
    "required_sectors",
    "pin",
)
"""Names of the rules :func:`violations` checks, in the order it reports them."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One hard rule broken by an allocation.

    ``rule`` is one of :data:`RULES`; ``message`` says what is wrong in planners' words.
    The optional fields name the records involved, when the rule is about one of them;
    ``involved`` names every pharmacist of a rule about several (a placement's capacity,
    an organisation's cap, a supervisor's capacity), so a caller can free them all.
    """

    rule: str
    message: str
    pharmacist: str | None = None
    placement: str | None = None
    period: str | None = None
    stream: str | None = None
    involved: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class Checked:
    """The allocation as the rules see it: known ids only, each assignment once, indexed."""

    def __init__(self, round: Round, assignments: Iterable[Assignment]) -> None:
        self.round = round
        self.lookups = lookups_of(round)
        self.listed: list[Assignment] = [a for a in assignments if is_known(round, a)]
        self.assignments: list[Assignment] = list(dict.fromkeys(self.listed))
        self.stream = self.lookups.stream
        # (pharmacist, period, stream) -> placements held in that slot.
        self.by_slot: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        # (placement, period) -> pharmacists holding it.
        self.holders: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_pharmacist: dict[str, list[Assignment]] = defaultdict(list)
        for a in self.assignments:
            self.by_slot[a.pharmacist, a.period, self.stream[a.placement].id].append(
                a.placement
            )
            self.holders[a.placement, a.period].append(a.pharmacist)
            self.by_pharmacist[a.pharmacist].append(a)


def is_known(round: Round, a: Assignment) -> bool:
    return (
        a.pharmacist in round.pharmacist_index
        and a.period in round.period_index
        and a.placement in round.placement_index
    )


def violations(round: Round, allocation: Allocation | Iterable[object]) -> list[Violation]:
    """Every hard rule of spec §3 the allocation breaks (empty: it is feasible).

    ``allocation`` is anything :func:`matcher.allocation.as_assignments` accepts. Rules are
    reported in the order of :data:`RULES`.
    """
    items = as_assignments(allocation)
    checked = Checked(round, items)
    found = unknown_id_violations(round, items)
    for rule in (
        _one_per_stream,
        _eligibility,
        _allow_unassigned,
        _capacity,
        _organisation_cap,
        _supervision,
        _rotation,
        _continuity,
        _sector_mix,
        _required_sectors,
        _pin,
    ):
        found += rule(checked)
    return found


def unknown_id_violations(round: Round, items: Sequence[Assignment]) -> list[Violation]:
    """Every assignment names a pharmacist, a period and a placement of the round."""
    found = []
    for position, a in enumerate(items, start=1):
        unknown = unknown_ids(round, a.pharmacist, a.placement, a.period)
        if unknown:
            found.append(Violation(
                "unknown_id",
                f"assignment #{position} ({a.pharmacist}, {a.period}, {a.placement}): "
                + "; ".join(unknown),
                pharmacist=a.pharmacist, placement=a.placement, period=a.period,
            ))
    return found


def _one_per_stream(c: Checked) -> list[Violation]:
    """§3.1: at most one placement per pharmacist, period and stream (and each listed once)."""
    found = []
    slots: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for a in c.listed:
        slots[a.pharmacist, a.period, c.stream[a.placement].id].append(a.placement)
    for (p, t, s), held in slots.items():
        if len(held) < 2:
            continue
        if len(set(held)) == 1:
            message = f"{p} is assigned {held[0]} in {t} {len(held)} times"
        else:
            message = (
                f"{p} holds {len(held)} placements{in_stream_text(c.round, s)} in {t} "
                f"({', '.join(held)}); at most one is allowed"
            )
        found.append(Violation("one_per_stream", message, pharmacist=p, period=t, stream=s))
    return found


def _eligibility(c: Checked) -> list[Violation]:
    """§3.1: only eligible placements (§2)."""
    found = []
    for a in c.assignments:
        failures = eligibility_failures_of(
            c.round, c.lookups, c.round.pharmacist(a.pharmacist),
            c.round.placement(a.placement), a.period,
        )
        if failures:
            found.append(Violation(
                "eligibility",
                f"{a.pharmacist} may not hold {a.placement} in {a.period}: "
                + "; ".join(failures),
                pharmacist=a.pharmacist, placement=a.placement, period=a.period,
            ))
    return found


def _allow_unassigned(c: Checked) -> list[Violation]:
    """§3.1: when ``rules.allow_unassigned`` is false, one placement in every stream in every
    period the pharmacist is available."""
    if c.round.rules.allow_unassigned:
        return []
    found = []
    for ph in c.round.pharmacists:
        for t in c.lookups.available[ph.id]:
            for s in c.round.effective_streams:
                if not c.by_slot.get((ph.id, t, s.id)):
                    found.append(Violation(
                        "allow_unassigned",
                        f"{ph.id} has no placement{in_stream_text(c.round, s.id)} in {t}; "
                        "rules.allow_unassigned is false",
                        pharmacist=ph.id, period=t, stream=s.id,
                    ))
    return found


def _capacity(c: Checked) -> list[Violation]:
    """§3.2: at most capacity(l, t) pharmacists hold l in t."""
    found = []
    for (l_id, t), pharmacists in c.holders.items():
        limit = c.round.capacity(l_id, t)
        if len(pharmacists) > limit:
            found.append(Violation(
                "capacity",
                f"{l_id} is held by {count(len(pharmacists), 'pharmacist')} in {t} "
                f"({ids_text(pharmacists)}); its capacity there is {limit}",
                placement=l_id, period=t, involved=tuple(pharmacists),
            ))
    return found


def _organisation_cap(c: Checked) -> list[Violation]:
    """§3.3: at most ``max_pharmacists`` across an organisation's placements per period."""
    found = []
    for org in c.round.organisations:
        if org.max_pharmacists is None:
            continue
        own = [pl.id for pl in c.round.placements if pl.organisation == org.id]
        for t in c.round.period_ids:
            hosted = _distinct(p for l_id in own for p in c.holders.get((l_id, t), ()))
            if len(hosted) > org.max_pharmacists:
                found.append(Violation(
                    "organisation_cap",
                    f"organisation {org.id} hosts {count(len(hosted), 'pharmacist')} in {t} "
                    f"({ids_text(hosted)}); its max_pharmacists is {org.max_pharmacists}",
                    period=t, involved=tuple(hosted),
                ))
    return found


def _supervision(c: Checked) -> list[Violation]:
    """§3.4: per supervisor and period, the pharmacists it counts who hold one of its
    placements number at most its capacity."""
    whom = {"all": "pharmacist", "non_prescribers": "non-prescriber",
            "early_years": "early-years pharmacist"}
    found = []
    for sup in c.round.supervisors:
        for t in c.round.period_ids:
            holders = _distinct(
                p for l_id in sup.placements for p in c.holders.get((l_id, t), ())
            )
            counted = [p for p in holders if sup.counts(c.round.pharmacist(p))]
            if len(counted) > sup.capacity:
                found.append(Violation(
                    "supervision",
                    f"supervisor {sup.id} has {count(len(counted), whom[sup.supervises])} "
                    f"in {t} ({ids_text(counted)}); its capacity is {sup.capacity}",
                    period=t, involved=tuple(counted),
                ))
    return found


def _rotation(c: Checked) -> list[Violation]:
    """§3.5: in a rotating stream nobody holds the same placement twice, history included."""
    found = []
    for ph in c.round.pharmacists:
        periods_held: dict[str, list[str]] = defaultdict(list)
        for a in _in_period_order(c.round, c.by_pharmacist.get(ph.id, [])):
            if c.stream[a.placement].rotate:
                periods_held[a.placement].append(a.period)
        for l_id, periods in periods_held.items():
            done_before = l_id in ph.history
            if len(periods) + done_before < 2:
                continue
            stream = c.stream[l_id]
            held = " and ".join(periods)
            before = " and has already done it (history)" if done_before else ""
            found.append(Violation(
                "rotation",
                f"{ph.id} holds {l_id} in {held}{before}; {rotates_text(c.round, stream)}",
                pharmacist=ph.id, placement=l_id, stream=stream.id,
            ))
    return found


def _continuity(c: Checked) -> list[Violation]:
    """§3.5: in a non-rotating stream a pharmacist's placement is the same in every period
    they hold one."""
    found = []
    for ph in c.round.pharmacists:
        held: dict[str, list[Assignment]] = defaultdict(list)
        for a in _in_period_order(c.round, c.by_pharmacist.get(ph.id, [])):
            if not c.stream[a.placement].rotate:
                held[c.stream[a.placement].id].append(a)
        for s, assignments in held.items():
            # Two placements in one period are a one_per_stream matter, not continuity.
            periods = {a.period for a in assignments}
            if len({a.placement for a in assignments}) < 2 or len(periods) < 2:
                continue
            listed = ", ".join(f"{a.placement} in {a.period}" for a in assignments)
            found.append(Violation(
                "continuity",
                f"{ph.id} holds different placements in stream '{s}' ({listed}); it does "
                "not rotate, so every period must be the same placement",
                pharmacist=ph.id, stream=s,
            ))
    return found


def _sector_mix(c: Checked) -> list[Violation]:
    """§3.6: over history and the round, at least min(min_distinct_sectors, A(p)) sectors."""
    found = []
    wanted = c.round.rules.min_distinct_sectors
    for ph in c.round.pharmacists:
        need = min(wanted, len(c.lookups.available[ph.id]))
        covered = _sectors_covered(c, ph)
        if len(covered) < need:
            found.append(Violation(
                "sector_mix",
                f"{ph.id} covers {count(len(covered), 'distinct sector')} "
                f"({', '.join(sorted(covered)) or 'none'}) counting history; "
                f"the rules require at least {need}",
                pharmacist=ph.id,
            ))
    return found


def _required_sectors(c: Checked) -> list[Violation]:
    """§3.6: every sector of ``rules.required_sectors`` covered (history counts) by each
    pharmacist available in at least one period."""
    found = []
    for ph in c.round.pharmacists:
        if not c.lookups.available[ph.id]:
            continue
        covered = _sectors_covered(c, ph)
        for sector in c.round.rules.required_sectors:
            if sector not in covered:
                found.append(Violation(
                    "required_sectors",
                    f"{ph.id} never covers required sector '{sector}' (history included)",
                    pharmacist=ph.id,
                ))
    return found


def _pin(c: Checked) -> list[Violation]:
    """§3.7: every pin holds."""
    held = set(c.assignments)
    return [
        Violation(
            "pin",
            f"{pin.pharmacist} is pinned to {pin.placement} in {pin.period} "
            "but does not hold it",
            pharmacist=pin.pharmacist, placement=pin.placement, period=pin.period,
        )
        for pin in c.round.pins
        if Assignment(pin.pharmacist, pin.period, pin.placement) not in held
    ]


def _sectors_covered(c: Checked, ph: Pharmacist) -> set[str]:
    placements = [*ph.history, *(a.placement for a in c.by_pharmacist.get(ph.id, []))]
    return {
        c.round.placement(l_id).sector for l_id in placements
        if l_id in c.round.placement_index
    }


def _in_period_order(round: Round, assignments: Iterable[Assignment]) -> list[Assignment]:
    return sorted(assignments, key=lambda a: (round.period_index[a.period], a.placement))


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
