"""The independent checker: is an allocation feasible, and what is it worth?

This module recomputes, from the round and the assignments alone, everything the spec
(``round-format.md``) says about an allocation:

- :func:`eligibility_failures`: every condition of §2 that rules a (pharmacist, placement,
  period) out, in planners' words;
- :func:`violations`: every hard rule of §3 the allocation breaks, one small function per
  rule, each named after it;
- :func:`objective`: the §4 objective and its parts; :func:`score` and :func:`terms` give the
  per-assignment values a §5 result reports.

It deliberately shares no code with the model builder or the solver (no OR-Tools, no
numpy arrays) so that it can catch their mistakes: it is plain Python over dicts and sets
that a reviewer can hold next to the spec. The only shared primitive is
:func:`matcher.geo.travel_km_one`, the one definition of great-circle travel.

Messages name ids, fields and rules only, never names or home locations. Integers stay
integers: the objective is an exact ``int`` in the round's own units (weights times points).

Conventions where the spec leaves room (documented so the solver can match them):

- An allocation is a set: an assignment listed twice is reported (``one_per_stream``) and
  then counted once everywhere, objective included.
- ``organisation_cap`` and ``supervision`` count distinct pharmacists, as the spec words
  them ("how many pharmacists"); a pharmacist holding two of one organisation's placements
  in one period (in two streams) counts once.
- Assignments naming unknown ids are reported (``unknown_id``) and left out of every other
  rule; :func:`objective` refuses them (``ValueError``).
"""

from __future__ import annotations

import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from matcher.allocation import Allocation, Assignment, as_assignments
from matcher.domain import Pharmacist, Placement, Round, Stream
from matcher.geo import travel_km_one
from matcher.wording import count

__all__ = [
    "RULES",
    "CheckReport",
    "ObjectiveBreakdown",
    "Violation",
    "check",
    "eligibility_failures",
    "objective",
    "pref",
    "score",
    "terms",
    "travel",
    "violations",
]

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


# ---- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """One hard rule broken by an allocation.

    ``rule`` is one of :data:`RULES`; ``message`` says what is wrong in planners' words.
    The optional fields name the records involved, when the rule is about one of them.
    """

    rule: str
    message: str
    pharmacist: str | None = None
    placement: str | None = None
    period: str | None = None
    stream: str | None = None

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


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


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What :func:`check` found: the broken rules and the objective.

    ``objective`` is ``None`` only when an assignment names an unknown id (the objective is
    then undefined).
    """

    violations: tuple[Violation, ...]
    objective: ObjectiveBreakdown | None

    @property
    def feasible(self) -> bool:
        """True when no hard rule is broken."""
        return not self.violations

    def summary(self) -> str:
        """A short multi-line text for logs and the command line."""
        value = "undefined" if self.objective is None else str(self.objective.total)
        if self.feasible:
            return f"feasible; objective {value}"
        lines = [f"{len(self.violations)} violation(s); objective {value}"]
        lines += [f"  - {v}" for v in self.violations]
        return "\n".join(lines)


# ---- lookups built once per round --------------------------------------------------------


class _Lookups:
    """Dicts over the round's lists, so each check is linear in the allocation.

    Travel distances are computed on first use and remembered: one call of
    ``travel_km_one`` costs tens of microseconds, and the brute-force oracle checks the
    same pairs thousands of times.
    """

    def __init__(self, round: Round) -> None:
        self.travel_cost = {(t.pharmacist, t.placement): t.cost for t in round.travel}
        # (pharmacist, placement) -> banned periods; None in the set means every period.
        self.banned: dict[tuple[str, str], set[str | None]] = defaultdict(set)
        for ban in round.bans:
            self.banned[ban.pharmacist, ban.placement].add(ban.period)
        self.rank = {ph.id: ph.preference_rank for ph in round.pharmacists}
        self.available = {ph.id: round.available_periods(ph) for ph in round.pharmacists}
        self.stream: dict[str, Stream] = {pl.id: round.stream_of(pl) for pl in round.placements}
        self.distance: dict[tuple[str, str], int] = {}


# One _Lookups per live round, found by identity (a Round is immutable, so it never goes
# stale); the entry goes when the round is garbage-collected.
_LOOKUPS: dict[int, tuple[weakref.ref[Round], _Lookups]] = {}


def _lookups(round: Round) -> _Lookups:
    key = id(round)
    hit = _LOOKUPS.get(key)
    if hit is not None and hit[0]() is round:
        return hit[1]
    lookups = _Lookups(round)
    _LOOKUPS[key] = (weakref.ref(round, lambda _: _LOOKUPS.pop(key, None)), lookups)
    return lookups


# ---- §2 eligibility ----------------------------------------------------------------------


def travel(round: Round, pharmacist: Pharmacist | str, placement: Placement | str) -> int:
    """travel(p, l) of spec §2.2: the explicit ``travel`` cost if the round gives one, else the
    great-circle distance from home to the placement in whole km (nearest, halves up).

    Accepts records or ids (``KeyError`` for an unknown id).
    """
    ph = round.pharmacist(pharmacist) if isinstance(pharmacist, str) else pharmacist
    pl = round.placement(placement) if isinstance(placement, str) else placement
    return _travel(_lookups(round), ph, pl)


def _distance(ph: Pharmacist, pl: Placement) -> int:
    return travel_km_one(ph.home.lat, ph.home.lon, pl.location.lat, pl.location.lon)


def _travel(lookups: _Lookups, ph: Pharmacist, pl: Placement) -> int:
    cost = lookups.travel_cost.get((ph.id, pl.id))
    if cost is not None:
        return cost
    if (ph.id, pl.id) not in lookups.distance:
        lookups.distance[ph.id, pl.id] = _distance(ph, pl)
    return lookups.distance[ph.id, pl.id]


def eligibility_failures(
    round: Round, pharmacist_id: str, placement_id: str, period_id: str
) -> list[str]:
    """Every condition of spec §2 that stops the pharmacist holding the placement in the
    period, in planners' words and in the spec's order; empty when eligible.

    Unknown ids are reported as such (nothing else can then be judged).
    """
    unknown = _unknown_ids(round, pharmacist_id, placement_id, period_id)
    if unknown:
        return unknown
    return _eligibility_failures(
        round,
        _lookups(round),
        round.pharmacist(pharmacist_id),
        round.placement(placement_id),
        period_id,
    )


def _eligibility_failures(
    round: Round, lookups: _Lookups, ph: Pharmacist, pl: Placement, period: str
) -> list[str]:
    failures: list[str] = []
    # §2.1 available, and the placement has a seat in the period.
    if period in ph.unavailable:
        failures.append(f"{ph.id} is unavailable in {period}")
    if pl.capacity_in(period) < 1:
        failures.append(f"{pl.id} has no capacity in {period}")
    # §2.2 travel within the pharmacist's limit.
    limit = round.max_travel(ph)
    distance = _travel(lookups, ph, pl)
    if limit is not None and distance > limit:
        given = " (given travel cost)" if (ph.id, pl.id) in lookups.travel_cost else ""
        failures.append(
            f"{pl.id} is {distance} km from {ph.id}'s home{given}; "
            f"their limit is {_number(limit)} km"
        )
    # §2.3 requirements.
    needs = pl.requires
    if needs.independent_prescriber and not ph.independent_prescriber:
        failures.append(f"{pl.id} requires an independent prescriber; {ph.id} is not one")
    if ph.experience_years < needs.min_experience_years:
        failures.append(
            f"{pl.id} requires {_number(needs.min_experience_years)} years' experience; "
            f"{ph.id} has {_number(ph.experience_years)}"
        )
    for skill in needs.skills:
        if skill not in ph.skills:
            failures.append(f"{pl.id} needs skill '{skill}', which {ph.id} does not have")
    # §2.4 bans, and history in a rotating stream.
    banned_in = lookups.banned.get((ph.id, pl.id), set())
    if None in banned_in:
        failures.append(f"{ph.id} is banned from {pl.id}")
    elif period in banned_in:
        failures.append(f"{ph.id} is banned from {pl.id} in {period}")
    stream = round.stream_of(pl)
    if stream.rotate and pl.id in ph.history:
        failures.append(
            f"{ph.id} has already done {pl.id} in history ({_rotates(round, stream)})"
        )
    return failures


def _unknown_ids(round: Round, pharmacist: str, placement: str, period: str) -> list[str]:
    unknown = []
    if pharmacist not in round.pharmacist_index:
        unknown.append(f"unknown pharmacist id '{pharmacist}'")
    if period not in round.period_index:
        unknown.append(f"unknown period id '{period}'")
    if placement not in round.placement_index:
        unknown.append(f"unknown placement id '{placement}'")
    return unknown


# ---- §3 hard rules -----------------------------------------------------------------------


class _Checked:
    """The allocation as the rules see it: known ids only, each assignment once, indexed."""

    def __init__(self, round: Round, assignments: Iterable[Assignment]) -> None:
        self.round = round
        self.lookups = _lookups(round)
        self.listed: list[Assignment] = [a for a in assignments if _known(round, a)]
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


def _known(round: Round, a: Assignment) -> bool:
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
    checked = _Checked(round, items)
    found = _unknown_id(round, items)
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


def _unknown_id(round: Round, items: Sequence[Assignment]) -> list[Violation]:
    """Every assignment names a pharmacist, a period and a placement of the round."""
    found = []
    for position, a in enumerate(items, start=1):
        unknown = _unknown_ids(round, a.pharmacist, a.placement, a.period)
        if unknown:
            found.append(Violation(
                "unknown_id",
                f"assignment #{position} ({a.pharmacist}, {a.period}, {a.placement}): "
                + "; ".join(unknown),
                pharmacist=a.pharmacist, placement=a.placement, period=a.period,
            ))
    return found


def _one_per_stream(c: _Checked) -> list[Violation]:
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
                f"{p} holds {len(held)} placements{_in_stream(c.round, s)} in {t} "
                f"({', '.join(held)}); at most one is allowed"
            )
        found.append(Violation("one_per_stream", message, pharmacist=p, period=t, stream=s))
    return found


def _eligibility(c: _Checked) -> list[Violation]:
    """§3.1: only eligible placements (§2)."""
    found = []
    for a in c.assignments:
        failures = _eligibility_failures(
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


def _allow_unassigned(c: _Checked) -> list[Violation]:
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
                        f"{ph.id} has no placement{_in_stream(c.round, s.id)} in {t}; "
                        "rules.allow_unassigned is false",
                        pharmacist=ph.id, period=t, stream=s.id,
                    ))
    return found


def _capacity(c: _Checked) -> list[Violation]:
    """§3.2: at most capacity(l, t) pharmacists hold l in t."""
    found = []
    for (l_id, t), pharmacists in c.holders.items():
        limit = c.round.capacity(l_id, t)
        if len(pharmacists) > limit:
            found.append(Violation(
                "capacity",
                f"{l_id} is held by {count(len(pharmacists), 'pharmacist')} in {t} "
                f"({_ids(pharmacists)}); its capacity there is {limit}",
                placement=l_id, period=t,
            ))
    return found


def _organisation_cap(c: _Checked) -> list[Violation]:
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
                    f"({_ids(hosted)}); its max_pharmacists is {org.max_pharmacists}",
                    period=t,
                ))
    return found


def _supervision(c: _Checked) -> list[Violation]:
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
                    f"in {t} ({_ids(counted)}); its capacity is {sup.capacity}",
                    period=t,
                ))
    return found


def _rotation(c: _Checked) -> list[Violation]:
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
                f"{ph.id} holds {l_id} in {held}{before}; {_rotates(c.round, stream)}",
                pharmacist=ph.id, placement=l_id, stream=stream.id,
            ))
    return found


def _continuity(c: _Checked) -> list[Violation]:
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


def _sector_mix(c: _Checked) -> list[Violation]:
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


def _required_sectors(c: _Checked) -> list[Violation]:
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


def _pin(c: _Checked) -> list[Violation]:
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


def _sectors_covered(c: _Checked, ph: Pharmacist) -> set[str]:
    placements = [*ph.history, *(a.placement for a in c.by_pharmacist.get(ph.id, []))]
    return {
        c.round.placement(l_id).sector for l_id in placements
        if l_id in c.round.placement_index
    }


def _in_period_order(round: Round, assignments: Iterable[Assignment]) -> list[Assignment]:
    return sorted(assignments, key=lambda a: (round.period_index[a.period], a.placement))


def _distinct(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


# ---- §4 objective ------------------------------------------------------------------------


def pref(round: Round, pharmacist_id: str, placement_id: str) -> int:
    """pref(p, l) of spec §4: R - rank + 1 for p's rank-th preference (1 = first), else 0."""
    rank = round.pharmacist(pharmacist_id).preference_rank.get(placement_id)
    return 0 if rank is None else round.rules.max_preferences - rank + 1


def terms(round: Round, assignment: Assignment) -> dict[str, int]:
    """The weighted terms of score(p, l) for one assignment, as a §5 result reports them:
    ``preference``, ``hard_to_recruit``, ``population_health`` and ``travel`` (negative).

    Raises ``KeyError`` for an unknown pharmacist or placement.
    """
    return _terms(round, _lookups(round), assignment)


def score(round: Round, assignment: Assignment) -> int:
    """score(p, l) of spec §4 for one assignment: the sum of its :func:`terms`."""
    return sum(terms(round, assignment).values())


def _pref(round: Round, lookups: _Lookups, pharmacist_id: str, placement_id: str) -> int:
    rank = lookups.rank[pharmacist_id].get(placement_id)
    return 0 if rank is None else round.rules.max_preferences - rank + 1


def _terms(round: Round, lookups: _Lookups, a: Assignment) -> dict[str, int]:
    w = round.weights
    ph, pl = round.pharmacist(a.pharmacist), round.placement(a.placement)
    return {
        "preference": w.preference * _pref(round, lookups, ph.id, pl.id),
        "hard_to_recruit": w.hard_to_recruit * pl.hard_to_recruit,
        "population_health": w.population_health * pl.population_health,
        "travel": -w.travel * _travel(lookups, ph, pl),
    }


def objective(round: Round, allocation: Allocation | Iterable[object]) -> ObjectiveBreakdown:
    """The §4 objective of the allocation, with its parts.

    Computed as written whether or not the allocation is feasible (each distinct assignment
    counted once). Raises ``ValueError`` if an assignment names an unknown id.
    """
    items = as_assignments(allocation)
    unknown = _unknown_id(round, items)
    if unknown:
        raise ValueError(
            "the objective is undefined: " + "; ".join(v.message for v in unknown)
        )
    c = _Checked(round, items)
    w = round.weights
    parts = Counter[str]()
    for a in c.assignments:
        parts.update(_terms(round, c.lookups, a))
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


def _unassigned_count(c: _Checked) -> int:
    """U: (pharmacist, period, stream) triples with no placement where p is available."""
    return sum(
        1
        for ph in c.round.pharmacists
        for t in c.lookups.available[ph.id]
        for s in c.round.effective_streams
        if not c.by_slot.get((ph.id, t, s.id))
    )


def _shortfall(c: _Checked) -> int:
    """S: sum over placements and periods of max(0, min_fill(l, t) - holders(l, t))."""
    return sum(
        max(0, pl.min_fill_in(t) - len(c.holders.get((pl.id, t), ())))
        for pl in c.round.placements
        for t in c.round.period_ids
    )


def _fairness_min(c: _Checked) -> int:
    """M: the smallest preference-point total over pharmacists with A(p) >= 1 (0 if none)."""
    totals = [
        sum(_pref(c.round, c.lookups, ph.id, a.placement) for a in c.by_pharmacist[ph.id])
        for ph in c.round.pharmacists
        if c.lookups.available[ph.id]
    ]
    return min(totals, default=0)


def _changes(c: _Checked) -> int:
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


# ---- both --------------------------------------------------------------------------------


def check(round: Round, allocation: Allocation | Iterable[object]) -> CheckReport:
    """The violations of the allocation and its objective, in one report."""
    items = as_assignments(allocation)
    found = violations(round, items)
    known = not any(v.rule == "unknown_id" for v in found)
    return CheckReport(tuple(found), objective(round, items) if known else None)


# ---- wording helpers ---------------------------------------------------------------------


def _ids(ids: Iterable[str]) -> str:
    """Ids sorted and comma-separated, so messages do not depend on input order."""
    return ", ".join(sorted(ids))


def _number(value: float) -> str:
    """1.0 -> '1', 2.5 -> '2.5'."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _in_stream(round: Round, stream_id: str) -> str:
    """' in stream 'host'' when streams are declared; '' for the implicit single stream."""
    return f" in stream '{stream_id}'" if round.streams else ""


def _rotates(round: Round, stream: Stream) -> str:
    if round.streams:
        return f"stream '{stream.id}' rotates"
    return "placements are not repeated"
