"""What the checker looks up once per round, §2 eligibility, and the wording it shares.

:func:`lookups_of` builds dicts over the round's lists once per live round, so each check is
linear in the allocation; :func:`travel` and :func:`eligibility_failures` are spec §2 in
plain Python; the ``*_text`` helpers word ids and numbers for messages.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable

from matcher.domain import Pharmacist, Placement, Round, Stream
from matcher.geo import travel_km_one

__all__ = [
    "Lookups",
    "eligibility_failures",
    "eligibility_failures_of",
    "ids_text",
    "in_stream_text",
    "lookups_of",
    "number_text",
    "rotates_text",
    "travel",
    "travel_of",
    "unknown_ids",
]


class Lookups:
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
        # (pharmacist, placement, period) -> eligibility failures, computed on first use:
        # the explanations check thousands of allocations that differ in a few assignments.
        self.failures: dict[tuple[str, str, str], tuple[str, ...]] = {}


# One Lookups per live round, found by identity (a Round is immutable, so it never goes
# stale); the entry goes when the round is garbage-collected.
_LOOKUPS: dict[int, tuple[weakref.ref[Round], Lookups]] = {}


def lookups_of(round: Round) -> Lookups:
    key = id(round)
    hit = _LOOKUPS.get(key)
    if hit is not None and hit[0]() is round:
        return hit[1]
    lookups = Lookups(round)
    _LOOKUPS[key] = (weakref.ref(round, lambda _: _LOOKUPS.pop(key, None)), lookups)
    return lookups


def travel(round: Round, pharmacist: Pharmacist | str, placement: Placement | str) -> int:
    """travel(p, l) of spec §2.2: the explicit ``travel`` cost if the round gives one, else the
    great-circle distance from home to the placement in whole km (nearest, halves up).

    Accepts records or ids (``KeyError`` for an unknown id).
    """
    ph = round.pharmacist(pharmacist) if isinstance(pharmacist, str) else pharmacist
    pl = round.placement(placement) if isinstance(placement, str) else placement
    return travel_of(lookups_of(round), ph, pl)


def _distance(ph: Pharmacist, pl: Placement) -> int:
    return travel_km_one(ph.home.lat, ph.home.lon, pl.location.lat, pl.location.lon)


def travel_of(lookups: Lookups, ph: Pharmacist, pl: Placement) -> int:
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
    unknown = unknown_ids(round, pharmacist_id, placement_id, period_id)
    if unknown:
        return unknown
    return eligibility_failures_of(
        round,
        lookups_of(round),
        round.pharmacist(pharmacist_id),
        round.placement(placement_id),
        period_id,
    )


def eligibility_failures_of(
    round: Round, lookups: Lookups, ph: Pharmacist, pl: Placement, period: str
) -> list[str]:
    """:func:`eligibility_failures` of records, remembered in ``lookups`` (the round is
    immutable, so the answer never changes)."""
    key = (ph.id, pl.id, period)
    known = lookups.failures.get(key)
    if known is None:
        known = lookups.failures[key] = tuple(_failures(round, lookups, ph, pl, period))
    return list(known)


def _failures(
    round: Round, lookups: Lookups, ph: Pharmacist, pl: Placement, period: str
) -> list[str]:
    failures: list[str] = []
    # §2.1 available, and the placement has a seat in the period.
    if period in ph.unavailable:
        failures.append(f"{ph.id} is unavailable in {period}")
    if pl.capacity_in(period) < 1:
        failures.append(f"{pl.id} has no capacity in {period}")
    # §2.2 travel within the pharmacist's limit.
    limit = round.max_travel(ph)
    distance = travel_of(lookups, ph, pl)
    if limit is not None and distance > limit:
        given = " (given travel cost)" if (ph.id, pl.id) in lookups.travel_cost else ""
        failures.append(
            f"{pl.id} is {distance} km from {ph.id}'s home{given}; "
            f"their limit is {number_text(limit)} km"
        )
    # §2.3 requirements.
    needs = pl.requires
    if needs.independent_prescriber and not ph.independent_prescriber:
        failures.append(f"{pl.id} requires an independent prescriber; {ph.id} is not one")
    if ph.experience_years < needs.min_experience_years:
        failures.append(
            f"{pl.id} requires {number_text(needs.min_experience_years)} years' experience; "
            f"{ph.id} has {number_text(ph.experience_years)}"
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
            f"{ph.id} has already done {pl.id} in history ({rotates_text(round, stream)})"
        )
    return failures


def unknown_ids(round: Round, pharmacist: str, placement: str, period: str) -> list[str]:
    unknown = []
    if pharmacist not in round.pharmacist_index:
        unknown.append(f"unknown pharmacist id '{pharmacist}'")
    if period not in round.period_index:
        unknown.append(f"unknown period id '{period}'")
    if placement not in round.placement_index:
        unknown.append(f"unknown placement id '{placement}'")
    return unknown


# ---- wording helpers ---------------------------------------------------------------------


def ids_text(ids: Iterable[str]) -> str:
    """Ids sorted and comma-separated, so messages do not depend on input order."""
    return ", ".join(sorted(ids))


def number_text(value: float) -> str:
    """1.0 -> '1', 2.5 -> '2.5'."""
    return str(int(value)) if float(value).is_integer() else str(value)


def in_stream_text(round: Round, stream_id: str) -> str:
    """' in stream 'host'' when streams are declared; '' for the implicit single stream."""
    return f" in stream '{stream_id}'" if round.streams else ""


def rotates_text(round: Round, stream: Stream) -> str:
    if round.streams:
        return f"stream '{stream.id}' rotates"
    return "placements are not repeated"
