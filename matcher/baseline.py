"""A baseline to beat: the allocation a simple serial-priority process would make.

National recruitment makes offers in rounds: pharmacists in a fixed order each accept
the best placement still open to them. :func:`serial_priority` does the same, so that a
planner can see, side by side with the optimised result, what optimisation buys:

1. **Pins first.** Every pin of the round is booked before anyone chooses.
2. **Period by period, pharmacist by pharmacist.** For each period in order, each
   pharmacist in the priority order (available in that period) fills each of their streams
   in turn, taking the **highest-ranked** eligible (§2) placement that still has room
   (capacity, organisation cap, supervision; §3.2 to §3.4). When none of their preferences
   is open they are offered what is left ("clearing"): the nearest eligible placement with
   room, one that adds a sector they still need first.
3. **Whole-programme offers in non-rotating streams.** A pharmacist's first placement in a
   stream with ``rotate: false`` is booked for every later period they are available (where
   it has room), as a practice offer for the programme is; it is chosen among placements
   with room in all those periods when there is one.
4. **Look-ahead for the sector rules.** A placement is taken only if the pharmacist can
   still meet ``min_distinct_sectors`` and ``required_sectors`` (§3.6, history counted) with
   the slots they have left; rotating streams never repeat a placement (§3.5).

It is a greedy heuristic, not an optimiser: it may leave people unassigned where the
order gets stuck (each empty slot says why), ignores hard-to-recruit and population-health
priorities and min_fill (a serial process has no way to see them), and on some rounds the
look-ahead is not enough (a later period's seats taken by someone earlier in the order).
The allocation is always passed through the independent checker: :attr:`Baseline.violations`
lists every hard rule it breaks (empty on every bundled sample), and its objective and
KPIs are computed exactly as the optimised result's are.

**The order.** ``order="listed"`` (the default) takes pharmacists in the order the round
lists them, which is where planners put their ranking (for example by application score);
``"id"`` sorts by pharmacist id; ``"random"`` is a lottery seeded by ``seed``
(reproducible). A sequence of ids gives the order explicitly; pharmacists it leaves out
follow in listed order.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matcher import checker, kpis
from matcher.allocation import Assignment
from matcher.domain import Pharmacist, Round
from matcher.eligibility import candidates
from matcher.result import ResultAssignment, Unassigned

__all__ = ["BASELINE_REASONS", "ORDERS", "Baseline", "priority_order", "serial_priority"]

log = logging.getLogger(__name__)

ORDERS: tuple[str, ...] = ("listed", "id", "random")
"""Named priority orders (see the module docstring)."""

BASELINE_REASONS: dict[str, str] = {
    "no_eligible": "no eligible placement in this period and stream",
    "capacity": "every eligible placement was full when their turn came",
    "limits": "eligible placements with room were blocked by organisation or supervision "
    "limits when their turn came",
    "rules": "the placements with room would have broken rotation, continuity or sector "
    "rules",
    "continuity": "their placement in this stream (which does not rotate) had no room in "
    "this period",
}
"""Why the baseline left a slot empty, by code."""


@dataclass(frozen=True)
class Baseline:
    """The serial-priority allocation, checked and measured like a result.

    ``violations`` lists the hard rules it breaks (empty when it is feasible); ``objective``
    is its §4 value (``breakdown`` the parts); ``kpis`` come from :func:`matcher.kpis.compute`.
    """

    round: str
    order: tuple[str, ...]
    assignments: tuple[ResultAssignment, ...]
    unassigned: tuple[Unassigned, ...]
    violations: tuple[checker.Violation, ...]
    objective: int
    breakdown: Mapping[str, Any]
    kpis: Mapping[str, Any] = field(default_factory=dict)
    order_name: str = "listed"

    @property
    def feasible(self) -> bool:
        """True when the allocation keeps every hard rule."""
        return not self.violations

    @property
    def allocation(self) -> tuple[Assignment, ...]:
        """The assignments as (pharmacist, period, placement) triples."""
        return tuple(Assignment(a.pharmacist, a.period, a.placement) for a in self.assignments)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (ids only; the order is a list of pharmacist ids)."""
        return {
            "round": self.round, "method": "serial_priority", "order": self.order_name,
            "feasible": self.feasible, "objective": self.objective,
            "assignments": [a.to_dict() for a in self.assignments],
            "unassigned": [u.to_dict() for u in self.unassigned],
            "violations": [{"rule": v.rule, "message": v.message} for v in self.violations],
            "kpis": dict(self.kpis),
        }


def priority_order(rnd: Round, order: str | Sequence[str] = "listed",
                   seed: int = 0) -> tuple[str, ...]:
    """The pharmacist ids in priority order (see the module docstring)."""
    listed = [ph.id for ph in rnd.pharmacists]
    if isinstance(order, str):
        if order == "listed":
            return tuple(listed)
        if order == "id":
            return tuple(sorted(listed))
        if order == "random":
            shuffled = list(listed)
            random.Random(seed).shuffle(shuffled)  # noqa: S311 - a lottery, not a secret
            return tuple(shuffled)
        raise ValueError(f"unknown order {order!r}; use one of {', '.join(ORDERS)} or a "
                         "list of pharmacist ids")
    given = list(dict.fromkeys(order))
    unknown = [p for p in given if p not in rnd.pharmacist_index]
    if unknown:
        raise ValueError(f"the order names unknown pharmacist id(s): {', '.join(unknown[:5])}")
    chosen = set(given)
    return (*given, *(p for p in listed if p not in chosen))


class _Book:
    """Seats, organisation caps and supervision taken so far (distinct pharmacists)."""

    def __init__(self, rnd: Round) -> None:
        self.round = rnd
        self.taken: dict[tuple[str, str], int] = defaultdict(int)
        self.hosted: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.supervised: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.caps = {o.id: o.max_pharmacists for o in rnd.organisations
                     if o.max_pharmacists is not None}
        self.sups: dict[str, list[int]] = defaultdict(list)
        for k, sup in enumerate(rnd.supervisors):
            for l_id in sup.placements:
                self.sups[l_id].append(k)

    def room(self, l_id: str, t: str) -> bool:
        return self.taken[l_id, t] < self.round.capacity(l_id, t)

    def limits_ok(self, ph: Pharmacist, l_id: str, t: str) -> bool:
        org = self.round.placement(l_id).organisation
        if org in self.caps:
            hosted = self.hosted[org, t]
            if ph.id not in hosted and len(hosted) >= (self.caps[org] or 0):
                return False
        for k in self.sups.get(l_id, ()):
            sup = self.round.supervisors[k]
            held = self.supervised[sup.id, t]
            if sup.counts(ph) and ph.id not in held and len(held) >= sup.capacity:
                return False
        return True

    def fits(self, ph: Pharmacist, l_id: str, t: str) -> bool:
        return self.room(l_id, t) and self.limits_ok(ph, l_id, t)

    def take(self, ph: Pharmacist, l_id: str, t: str) -> None:
        self.taken[l_id, t] += 1
        org = self.round.placement(l_id).organisation
        if org in self.caps:
            self.hosted[org, t].add(ph.id)
        for k in self.sups.get(l_id, ()):
            sup = self.round.supervisors[k]
            if sup.counts(ph):
                self.supervised[sup.id, t].add(ph.id)


class _Serial:
    """The serial-priority process over one round (see the module docstring)."""

    def __init__(self, rnd: Round) -> None:
        self.round = rnd
        self.book = _Book(rnd)
        self.streams = rnd.effective_streams
        cand = candidates(rnd)
        # (pharmacist, period, stream) -> eligible placement ids with travel.
        self.eligible: dict[tuple[str, str, str], list[tuple[str, int]]] = defaultdict(list)
        for p_i, l_i, t_i, s_i, tr in zip(cand.pharmacist.tolist(), cand.placement.tolist(),
                                          cand.period.tolist(), cand.stream.tolist(),
                                          cand.travel.tolist(), strict=True):
            self.eligible[rnd.pharmacists[p_i].id, rnd.period_ids[t_i],
                          self.streams[s_i].id].append((rnd.placements[l_i].id, int(tr)))
        self.held: dict[tuple[str, str, str], str] = {}
        self.fixed: dict[tuple[str, str], str] = {}
        self.used: dict[str, set[str]] = defaultdict(set)
        self.sectors: dict[str, set[str]] = {
            ph.id: {rnd.placement(h).sector for h in ph.history} for ph in rnd.pharmacists}
        self.empty: dict[tuple[str, str, str], str] = {}
        self.ranks = {ph.id: ph.preference_rank for ph in rnd.pharmacists}

    def assign(self, ph: Pharmacist, l_id: str, t: str) -> None:
        s = self.round.stream_of(self.round.placement(l_id))
        self.held[ph.id, t, s.id] = l_id
        self.book.take(ph, l_id, t)
        self.sectors[ph.id].add(self.round.placement(l_id).sector)
        if s.rotate:
            self.used[ph.id].add(l_id)
        else:
            self.fixed.setdefault((ph.id, s.id), l_id)

    def apply_pins(self) -> None:
        for pin in self.round.pins:
            ph = self.round.pharmacist(pin.pharmacist)
            s = self.round.stream_of(self.round.placement(pin.placement)).id
            if (ph.id, pin.period, s) not in self.held:
                self.assign(ph, pin.placement, pin.period)

    def run(self, order: Sequence[str]) -> None:
        self.apply_pins()
        # Non-rotating streams fixed by a pin are held in the pharmacist's other periods.
        for (pinned, stream), l_id in list(self.fixed.items()):
            self._book_programme(self.round.pharmacist(pinned), l_id, stream, None)
        for t_i, t in enumerate(self.round.period_ids):
            for p in order:
                ph = self.round.pharmacist(p)
                if t in ph.unavailable:
                    continue
                for s_i, s in enumerate(self.streams):
                    if (p, t, s.id) in self.held or (p, t, s.id) in self.empty:
                        continue
                    if not s.rotate and (p, s.id) in self.fixed:
                        self.empty[p, t, s.id] = "continuity"
                        continue
                    self.choose(ph, t_i, s_i)

    def _later(self, ph: Pharmacist, t_i: int) -> list[str]:
        return [t for t in self.round.period_ids[t_i + 1:] if t not in ph.unavailable]

    def _book_programme(self, ph: Pharmacist, l_id: str, s: str, after: int | None) -> None:
        """Hold a non-rotating placement in every (later) period it has room."""
        for t_i, t in enumerate(self.round.period_ids):
            if (after is not None and t_i <= after) or t in ph.unavailable:
                continue
            if (ph.id, t, s) in self.held:
                continue
            if any(e[0] == l_id for e in self.eligible.get((ph.id, t, s), ())) and (
                    self.book.fits(ph, l_id, t)):
                self.assign(ph, l_id, t)
            else:
                self.empty[ph.id, t, s] = "continuity"

    def _potential(self, ph: Pharmacist, t_i: int, s_i: int) -> int:
        """Slots after (t_i, s_i) that could still add a sector."""
        count = 0
        for s2_i, s2 in enumerate(self.streams):
            if not s2.rotate:
                if (ph.id, s2.id) in self.fixed or s2_i == s_i:
                    continue
                periods = [u for u, t in enumerate(self.round.period_ids)
                           if t not in ph.unavailable and (u > t_i or (u == t_i and s2_i > s_i))]
                count += 1 if periods else 0
                continue
            for u, t in enumerate(self.round.period_ids):
                later = u > t_i or (u == t_i and s2_i > s_i)
                if later and t not in ph.unavailable and (ph.id, t, s2.id) not in self.held:
                    count += 1
        return count

    def _sectors_ok(self, ph: Pharmacist, sector: str, potential: int) -> bool:
        rules = self.round.rules
        covered = self.sectors[ph.id] | {sector}
        need = min(rules.min_distinct_sectors, len(self.round.available_periods(ph)))
        missing = [x for x in rules.required_sectors if x not in covered]
        return max(need - len(covered), len(missing)) <= potential

    def choose(self, ph: Pharmacist, t_i: int, s_i: int) -> None:
        t, s = self.round.period_ids[t_i], self.streams[s_i]
        options = self.eligible.get((ph.id, t, s.id), [])
        if not options:
            self.empty[ph.id, t, s.id] = "no_eligible"
            return
        ranks = self.ranks[ph.id]
        sectors = self.sectors[ph.id]
        potential = self._potential(ph, t_i, s_i)
        later = [] if s.rotate else self._later(ph, t_i)

        def sector(l_id: str) -> str:
            return self.round.placement(l_id).sector

        preferred = sorted((o for o in options if o[0] in ranks), key=lambda o: ranks[o[0]])
        clearing = sorted((o for o in options if o[0] not in ranks),
                          key=lambda o: (sector(o[0]) in sectors, o[1], o[0]))
        ordered = [o[0] for o in (*preferred, *clearing)]
        allowed = [l_id for l_id in ordered
                   if l_id not in self.used[ph.id]
                   and self._sectors_ok(ph, sector(l_id), potential)]
        fitting = [l_id for l_id in allowed if self.book.fits(ph, l_id, t)]
        if later:  # a whole-programme offer: prefer room in every later period too
            whole = [l_id for l_id in fitting
                     if all(self.book.fits(ph, l_id, u) for u in later
                            if any(e[0] == l_id for e in self.eligible.get((ph.id, u, s.id),
                                                                             ())))]
            fitting = whole or fitting
        if fitting:
            self.assign(ph, fitting[0], t)
            if not s.rotate:
                self._book_programme(ph, fitting[0], s.id, t_i)
            return
        with_room = [l_id for l_id, _ in options if self.book.room(l_id, t)]
        if not with_room:
            code = "capacity"
        elif not any(self.book.limits_ok(ph, l_id, t) for l_id in with_room):
            code = "limits"
        else:
            code = "rules"
        self.empty[ph.id, t, s.id] = code


def serial_priority(rnd: Round, *, order: str | Sequence[str] = "listed",
                    seed: int = 0) -> Baseline:
    """The serial-priority allocation of the round, checked and measured (see the module
    docstring). Raises ``ValueError`` for an unknown ``order``."""
    ids = priority_order(rnd, order, seed)
    process = _Serial(rnd)
    process.run(ids)
    allocation = [Assignment(p, t, l_id) for (p, t, _s), l_id in process.held.items()]
    allocation.sort(key=lambda a: (rnd.pharmacist_index[a.pharmacist],
                                   rnd.period_index[a.period], a.placement))
    assignments = []
    for a in allocation:
        terms = checker.terms(rnd, a)
        assignments.append(ResultAssignment(
            a.pharmacist, a.period, a.stream(rnd), a.placement, sum(terms.values()), terms))
    unassigned = tuple(
        Unassigned(ph.id, t, s.id, BASELINE_REASONS[process.empty[ph.id, t, s.id]])
        for ph in rnd.pharmacists for t in rnd.available_periods(ph)
        for s in rnd.effective_streams if (ph.id, t, s.id) not in process.held)
    broken = tuple(checker.violations(rnd, allocation))
    breakdown = checker.objective(rnd, allocation).to_dict()
    measured = kpis.compute(rnd, allocation, unassigned, breakdown=breakdown)
    total = breakdown["total"]
    log.info("baseline of round %s: %d assignments, %d empty slots, objective %s, %d rule(s) "
             "broken", rnd.round.id, len(assignments), len(unassigned), total, len(broken))
    return Baseline(
        round=rnd.round.id, order=ids, assignments=tuple(assignments), unassigned=unassigned,
        violations=broken, objective=int(total or 0), breakdown=breakdown, kpis=measured,
        order_name=order if isinstance(order, str) else "given")
