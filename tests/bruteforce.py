"""Exhaustive optimum of tiny rounds, and random tiny rounds to feed it.

:func:`brute_force` knows nothing about the solver: it enumerates allocations and asks only
:func:`matcher.checker.violations` whether each is feasible and :func:`matcher.checker.objective`
what it is worth, so it is an oracle for the solver's ``optimal`` claims.

:func:`random_tiny_round` builds a random valid round small enough for the oracle that still
exercises every feature of the spec (streams, supervisors, organisation caps, history,
pins, bans, min_fill, per-period capacity, fairness, a reference, sector rules, travel
overrides).

How the enumeration works
-------------------------
A *slot* is one (period, stream) of one pharmacist; its options are ``None`` (nothing) and
each placement of the stream that :func:`matcher.checker.eligibility_failures` allows there
(``None`` is left out when ``rules.allow_unassigned`` is false and the pharmacist is
available, and is the only option when they are not). These pre-filters only drop
allocations that ``violations`` would reject anyway.

1. For each pharmacist, ``itertools.product`` over their slots gives their *plans*; a plan
   is kept only if ``violations`` finds nothing wrong with that pharmacist alone (the rules
   in :data:`PERSONAL_RULES` depend on one pharmacist's assignments only).
2. A depth-first search picks one plan per pharmacist. After each pick the partial
   allocation is checked against the shared rules (:data:`SHARED_RULES`: capacity,
   organisation cap, supervision); adding assignments can only make those worse, so a
   violation prunes the whole subtree.
3. Each complete allocation is checked in full by ``violations`` (the same call that
   checks the shared rules at the last pharmacist) and scored by ``objective``; the best
   is kept (the first found on ties).
4. With ``prune=True`` (the default) a subtree is also skipped when an upper bound on its
   objective cannot beat the best found. The objective splits into a part per pharmacist
   (their scores, their unassigned slots, their changed reference slots: all read off
   ``objective`` of their plan alone) plus shortfall (a penalty, bounded by 0) and fairness
   (bounded by the smallest best-possible preference total). ``prune=False`` is the plain
   enumeration; the tests check that both agree.

Complexity: with P pharmacists, T periods, S streams and at most k options per slot, step 1
costs P * k^(T*S) checks and step 2 visits at most prod_p |plans(p)| <= k^(P*T*S) leaves,
each checked in O(size of the round). The bound usually cuts this by orders of magnitude:
the rounds of :func:`random_tiny_round` (at most 4 pharmacists with one period or 3 with
two, 5 placements, 2 streams) take milliseconds typically and well under a second at worst.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matcher.allocation import Assignment
from matcher.checker import eligibility_failures, objective, pref, violations
from matcher.domain import SECTORS, Pharmacist, Round

__all__ = ["PERSONAL_RULES", "SHARED_RULES", "brute_force", "plans", "random_tiny_round"]

PERSONAL_RULES = frozenset({
    "eligibility",
    "one_per_stream",
    "allow_unassigned",
    "rotation",
    "continuity",
    "sector_mix",
    "required_sectors",
    "pin",
})
"""Rules whose violations depend on one pharmacist's own assignments only."""

SHARED_RULES = frozenset({"capacity", "organisation_cap", "supervision"})
"""Rules over several pharmacists; each can only get worse when assignments are added."""

Plan = tuple[Assignment, ...]


def brute_force(
    round: Round, *, prune: bool = True
) -> tuple[int | None, tuple[Assignment, ...] | None]:
    """The best objective of the round and one allocation reaching it (sorted), by
    exhaustive search; ``(None, None)`` when no allocation is feasible.

    ``prune=False`` enumerates every allocation without the objective bound (slower; the
    same answer).
    """
    search = _Search(round, [_Option.of(round, ph, plans(round, ph)) for ph in round.pharmacists],
                     prune)
    if not all(search.options):
        return None, None  # someone cannot be placed under their own rules
    search.run(0, (), 0, ())
    return search.best_value, search.best


def plans(round: Round, pharmacist: Pharmacist) -> list[Plan]:
    """Every assignment of the pharmacist alone that breaks none of the personal rules."""
    slots = [(t, s.id) for t in round.period_ids for s in round.effective_streams]
    choices = [_slot_options(round, pharmacist, t, s) for t, s in slots]
    kept = []
    for picked in itertools.product(*choices):
        plan = tuple(
            Assignment(pharmacist.id, t, placement)
            for (t, _), placement in zip(slots, picked, strict=True)
            if placement is not None
        )
        if not any(
            v.rule in PERSONAL_RULES and v.pharmacist == pharmacist.id
            for v in violations(round, plan)
        ):
            kept.append(plan)
    return kept


def _slot_options(round: Round, ph: Pharmacist, period: str, stream: str) -> list[str | None]:
    if period in ph.unavailable:
        return [None]
    eligible: list[str | None] = [
        pl.id
        for pl in round.placements
        if round.stream_of(pl).id == stream
        and not eligibility_failures(round, ph.id, pl.id, period)
    ]
    return eligible if not round.rules.allow_unassigned else [None, *eligible]


@dataclass(frozen=True)
class _Option:
    """One plan of one pharmacist, with what it adds to the objective on its own."""

    plan: Plan
    value: int  # scores - w.unassigned * (own U) - w.change * (own C), up to a constant
    preference_points: int  # sum of pref(p, l): this pharmacist's candidate for M

    @staticmethod
    def of(round: Round, ph: Pharmacist, found: Sequence[Plan]) -> list[_Option]:
        """The plans as options, best value first (good answers early prune more)."""
        w = round.weights
        empty = objective(round, ())
        options = []
        for plan in found:
            alone = objective(round, plan)
            # U and C are sums over pharmacists: the plan's own share is the difference
            # from the empty allocation.
            value = (
                alone.assignment_score
                - w.unassigned * (alone.unassigned_count - empty.unassigned_count)
                - w.change * (alone.changes - empty.changes)
            )
            points = sum(pref(round, ph.id, a.placement) for a in plan)
            options.append(_Option(plan, value, points))
        return sorted(options, key=lambda o: -o.value)


class _Search:
    """Depth-first search over one plan per pharmacist (see the module docstring)."""

    def __init__(self, round: Round, options: list[list[_Option]], prune: bool) -> None:
        self.round = round
        self.options = options
        self.prune = prune
        self.best_value: int | None = None
        self.best: tuple[Assignment, ...] | None = None
        w = round.weights
        empty = objective(round, ())
        # objective = sum of option values + this constant - w.shortfall * S + w.fairness * M
        self.constant = -w.unassigned * empty.unassigned_count - w.change * empty.changes
        self.max_value = [max((o.value for o in opts), default=0) for opts in options]
        self.max_points = [max((o.preference_points for o in opts), default=0)
                           for opts in options]
        self.counts_for_m = [bool(round.available_periods(ph)) for ph in round.pharmacists]

    def run(self, depth: int, chosen: Plan, value: int, points: tuple[int, ...]) -> None:
        """Try every option of pharmacist ``depth`` after the ``chosen`` plans."""
        if not self.options:  # no pharmacists: the empty allocation is the only one
            self._consider(())
            return
        for option in self.options[depth]:
            new_value, new_points = value + option.value, (*points, option.preference_points)
            if self.prune and not self._may_beat_best(depth, new_value, new_points):
                continue
            candidate = chosen + option.plan
            found = violations(self.round, candidate)
            if depth + 1 == len(self.options):
                # Complete: every rule is checked, pins and sector rules of all included.
                if not found:
                    self._consider(candidate)
            elif not any(v.rule in SHARED_RULES for v in found):
                # Personal rules of pharmacists not yet placed fail on a partial allocation;
                # only a shared rule broken now stays broken in every completion.
                self.run(depth + 1, candidate, new_value, new_points)

    def _consider(self, allocation: Plan) -> None:
        value = objective(self.round, allocation).total
        if self.best_value is None or value > self.best_value:
            self.best_value, self.best = value, tuple(sorted(allocation))

    def _may_beat_best(self, depth: int, value: int, points: tuple[int, ...]) -> bool:
        """An upper bound on every completion of the first ``depth + 1`` picks > best?"""
        if self.best_value is None:
            return True
        bound = value + sum(self.max_value[depth + 1:]) + self.constant
        w = self.round.weights
        if w.fairness > 0:
            best_points = [*points, *self.max_points[depth + 1:]]
            counted = [pts for pts, ok in zip(best_points, self.counts_for_m, strict=True) if ok]
            bound += w.fairness * min(counted, default=0)
        return bound > self.best_value


# ---- random tiny rounds ------------------------------------------------------------------

# East London; homes and placements within about 7 km of the centre, so distances run
# from 0 to about 14 km and the travel limits (9, 12, 15 km) bite.
_CENTRE = (51.55, 0.05)
_SKILLS = ("diabetes", "respiratory")
_SECTOR_POOL = SECTORS[:4]  # fewer sectors than the full list, so sector rules bite.


def random_tiny_round(rng_seed: int) -> Round:
    """A random valid round small enough for :func:`brute_force` (same seed, same round).

    2 to 4 pharmacists (3 with two periods), 3 to 5 placements, 1 or 2 periods; about a
    third of the rounds have a
    practice stream (no rotation) and a host stream (rotating), the rest one stream. Pins
    and the reference are drawn among eligible triples, so the round always validates.
    """
    rng = random.Random(rng_seed)
    periods = [f"R{i + 1}" for i in range(rng.choice((1, 2, 2)))]
    portfolio = rng.random() < 0.35
    data: dict[str, Any] = {
        "format": "spin-round/1",
        "round": {"id": f"tiny-{rng_seed}"},
        "periods": [{"id": t, "weeks": 17} for t in periods],
        "organisations": [
            {"id": "ORG-A", "max_pharmacists": rng.choice((None, 1, 2))},
            {"id": "ORG-B", "max_pharmacists": rng.choice((None, None, 1))},
        ],
    }
    if portfolio:
        data["streams"] = [
            {"id": "practice", "sessions": 6, "rotate": False},
            {"id": "host", "sessions": 4, "rotate": True},
        ]
    n_placements = rng.randint(3, 5)
    n_pharmacists = rng.randint(2, 4 if len(periods) == 1 else 3)
    data["placements"] = [
        _random_placement(rng, j, periods, portfolio) for j in range(n_placements)
    ]
    placement_ids = [pl["id"] for pl in data["placements"]]
    max_preferences = rng.randint(2, 5)
    data["pharmacists"] = [
        _random_pharmacist(rng, i, periods, placement_ids, max_preferences)
        for i in range(n_pharmacists)
    ]
    pharmacist_ids = [ph["id"] for ph in data["pharmacists"]]
    data["supervisors"] = [
        {
            "id": f"SUP-{k + 1}",
            "supervises": rng.choice(("all", "non_prescribers", "early_years")),
            "placements": rng.sample(placement_ids, rng.randint(1, 3)),
            "capacity": rng.choice((0, 1, 1, 2)),
        }
        for k in range(rng.choice((0, 1, 1, 2)))
    ]
    data["bans"] = [
        {
            "pharmacist": rng.choice(pharmacist_ids),
            "placement": rng.choice(placement_ids),
            "period": rng.choice((None, *periods)),
        }
        for _ in range(rng.choice((0, 0, 1, 2)))
    ]
    pairs = rng.sample(
        [(p, pl) for p in pharmacist_ids for pl in placement_ids], rng.choice((0, 0, 1, 2))
    )
    data["travel"] = [
        {"pharmacist": p, "placement": pl, "cost": rng.randint(0, 25)} for p, pl in pairs
    ]
    data["rules"] = {
        "max_preferences": max_preferences,
        "min_distinct_sectors": rng.choice((0, 0, 0, 1, 2)),
        "required_sectors": rng.choice(
            ([], [], [], [], [rng.choice(data["placements"])["sector"]])
        ),
        "max_travel_km": rng.choice((None, 12, 15)),
        "allow_unassigned": rng.random() < 0.8,
    }
    data["weights"] = {
        "preference": rng.randint(0, 10),
        "hard_to_recruit": rng.randint(0, 30),
        "population_health": rng.randint(0, 2),
        "travel": rng.randint(0, 3),
        "unassigned": rng.choice((0, 40, 10000)),
        "shortfall": rng.choice((0, 25, 1000)),
        "fairness": rng.choice((0, 0, rng.randint(1, 30))),
        "change": 0,
    }
    draft = Round.model_validate(data)
    eligible = [
        (p, t, pl)
        for p in pharmacist_ids
        for t in periods
        for pl in placement_ids
        if not eligibility_failures(draft, p, pl, t)
    ]
    if eligible and rng.random() < 0.35:
        p, t, pl = rng.choice(eligible)
        data["pins"] = [{"pharmacist": p, "period": t, "placement": pl}]
    if eligible and rng.random() < 0.35:
        data["reference"] = _random_reference(rng, draft, eligible)
        data["weights"]["change"] = rng.randint(1, 50)
    return Round.model_validate(data)


def _random_placement(
    rng: random.Random, j: int, periods: Sequence[str], portfolio: bool
) -> dict[str, Any]:
    placement: dict[str, Any] = {
        "id": f"PL-{j + 1}",
        "organisation": rng.choice(("ORG-A", "ORG-B", None)),
        "sector": rng.choice(_SECTOR_POOL),
        "location": _near_centre(rng),
        "capacity": _per_period(rng, periods, (1, 1, 2), rng.random() < 0.3),
        "min_fill": _per_period(rng, periods, (0, 0, 1), rng.random() < 0.2),
        "hard_to_recruit": rng.randint(0, 3),
        "population_health": rng.randint(0, 100),
        "requires": {
            "independent_prescriber": rng.random() < 0.15,
            "min_experience_years": rng.choice((0, 0, 0, 0, 0, 2)),
            "skills": rng.choice(([], [], [], [], [], [rng.choice(_SKILLS)])),
        },
    }
    if portfolio:
        # The first two placements guarantee each stream has one.
        placement["stream"] = ("practice", "host")[j] if j < 2 else rng.choice(
            ("practice", "host")
        )
    return placement


def _random_pharmacist(
    rng: random.Random,
    i: int,
    periods: Sequence[str],
    placement_ids: Sequence[str],
    max_preferences: int,
) -> dict[str, Any]:
    return {
        "id": f"PH-{i + 1:04d}",
        "home": _near_centre(rng),
        "max_travel_km": rng.choice((None, None, 9, 12)),
        "independent_prescriber": rng.random() < 0.4,
        "experience_years": rng.choice((0, 1, 3, 5)),
        "skills": rng.sample(_SKILLS, rng.randint(0, 2)),
        "unavailable": [rng.choice(periods)] if len(periods) > 1 and rng.random() < 0.2 else [],
        "history": [rng.choice(placement_ids)] if rng.random() < 0.25 else [],
        "preferences": rng.sample(
            list(placement_ids), rng.randint(0, min(max_preferences, len(placement_ids)))
        ),
    }


def _random_reference(
    rng: random.Random, draft: Round, eligible: Sequence[tuple[str, str, str]]
) -> list[dict[str, str]]:
    """At most one eligible placement per (pharmacist, period, stream), some left empty."""
    by_slot: dict[tuple[str, str, str], list[str]] = {}
    for p, t, pl in eligible:
        stream = draft.stream_of(draft.placement(pl)).id
        by_slot.setdefault((p, t, stream), []).append(pl)
    return [
        {"pharmacist": p, "period": t, "placement": rng.choice(options)}
        for (p, t, _), options in by_slot.items()
        if rng.random() < 0.7
    ]


def _near_centre(rng: random.Random) -> dict[str, float]:
    return {
        "lat": round(_CENTRE[0] + rng.uniform(-0.06, 0.06), 4),
        "lon": round(_CENTRE[1] + rng.uniform(-0.09, 0.09), 4),
    }


def _per_period(
    rng: random.Random, periods: Sequence[str], values: Sequence[int], per_period: bool
) -> int | dict[str, int]:
    if not per_period:
        return rng.choice(values)
    # A period left out of the object has 0.
    return {t: rng.choice(values) for t in periods if rng.random() < 0.85}
