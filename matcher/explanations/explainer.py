"""Drafting an explanation: the static reasons, what to measure, and the finished records.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from matcher import checker
from matcher.allocation import Assignment
from matcher.domain import Pin, Round
from matcher.eligibility import Candidates, ineligibility_reasons
from matcher.explanations.records import (
    Alternative,
    AssignmentTerms,
    PharmacistExplanation,
    PlacementGap,
    SlotExplanation,
)
from matcher.explanations.resolver import Measured, Resolver, verdict_of
from matcher.wording import MAX_LISTED, and_ids, and_list, count

__all__ = ["AltDraft", "Explainer", "GapDraft", "SlotDraft"]


@dataclass
class AltDraft:
    placement: str
    rank: int
    verdict: str | None  # set when no re-solve is needed
    message: str
    rules: tuple[str, ...] = ()
    full: bool = False
    holders: tuple[str, ...] = ()


@dataclass
class SlotDraft:
    pharmacist: str
    period: str
    stream: str
    placement: str | None
    rank: int | None
    alternatives: list[AltDraft]
    measure: list[tuple[str, str, str]]


@dataclass
class GapDraft:
    placement: str
    period: str
    holders: tuple[str, ...]
    reason: str
    message: str
    eligible: tuple[str, ...] = ()
    measure: tuple[str, str, str] | None = None


class Explainer:
    """The round and the result's allocation, indexed for explaining."""

    def __init__(self, rnd: Round, allocation: Sequence[Assignment],
                 cand: Candidates) -> None:
        self.round = rnd
        self.allocation = allocation
        self.stream_of = {pl.id: rnd.stream_of(pl) for pl in rnd.placements}
        self.held: dict[tuple[str, str, str], str] = {}
        self.holders: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_pharmacist: dict[str, list[Assignment]] = defaultdict(list)
        for a in allocation:
            self.held[a.pharmacist, a.period, self.stream_of[a.placement].id] = a.placement
            self.holders[a.placement, a.period].append(a.pharmacist)
            self.by_pharmacist[a.pharmacist].append(a)
        self.rank = {ph.id: ph.preference_rank for ph in rnd.pharmacists}
        # (placement, period) -> eligible pharmacists, and every eligible triple.
        self.eligible: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.triples: set[tuple[str, str, str]] = set()
        for i, j, t in zip(cand.pharmacist.tolist(), cand.placement.tolist(),
                           cand.period.tolist(), strict=True):
            p, l_id, t_id = rnd.pharmacists[i].id, rnd.placements[j].id, rnd.period_ids[t]
            self.eligible[l_id, t_id].append(p)
            self.triples.add((p, l_id, t_id))
        self.pins_of: dict[str, list[Pin]] = defaultdict(list)
        for pin in rnd.pins:
            self.pins_of[pin.pharmacist].append(pin)

    # assignments -----------------------------------------------------------------------------

    def assignment_terms(self) -> tuple[AssignmentTerms, ...]:
        """Every assignment with its terms and rank, in pharmacist and period order."""
        rnd = self.round
        ordered = sorted(self.allocation, key=lambda a: (
            rnd.pharmacist_index[a.pharmacist], rnd.period_index[a.period],
            self.stream_of[a.placement].id))
        out = []
        for a in ordered:
            terms = checker.terms(rnd, a)
            out.append(AssignmentTerms(a.pharmacist, a.period, self.stream_of[a.placement].id,
                                       a.placement, sum(terms.values()), terms,
                                       self.rank[a.pharmacist].get(a.placement)))
        return tuple(out)

    # slots -----------------------------------------------------------------------------------

    def slot_drafts(self, wanted: set[str] | None) -> list[SlotDraft]:
        """Every available (pharmacist, period, stream) with its better-ranked placements."""
        rnd = self.round
        out = []
        for ph in rnd.pharmacists:
            if wanted is not None and ph.id not in wanted:
                continue
            for t in rnd.available_periods(ph):
                for s in rnd.effective_streams:
                    got = self.held.get((ph.id, t, s.id))
                    rank = self.rank[ph.id].get(got) if got is not None else None
                    better = [(l_id, r) for l_id, r in self.rank[ph.id].items()
                              if self.stream_of[l_id].id == s.id
                              and (got is None or rank is None or r < rank)]
                    better.sort(key=lambda x: x[1])
                    alts = [self._alternative(ph.id, t, s.id, l_id, r) for l_id, r in better]
                    measure = [(ph.id, a.placement, t) for a in alts if a.verdict is None]
                    out.append(SlotDraft(ph.id, t, s.id, got, rank, alts, measure))
        return out

    def _alternative(self, p: str, t: str, s: str, l_id: str, rank: int) -> AltDraft:
        rnd = self.round
        reasons = [] if (p, l_id, t) in self.triples else ineligibility_reasons(rnd, p, l_id, t)
        if reasons:
            return AltDraft(l_id, rank, "not_eligible",
                             "not eligible: " + "; ".join(r.message for r in reasons),
                             rules=tuple(dict.fromkeys(r.rule for r in reasons)))
        stream = self.stream_of[l_id]
        if stream.rotate:
            other = [a.period for a in self.by_pharmacist[p]
                     if a.placement == l_id and a.period != t]
            if other:
                why = (f"the {s} stream rotates" if rnd.streams
                       else "placements rotate")
                return AltDraft(l_id, rank, "held_in_other_period",
                                 f"{p} holds {l_id} in {and_list(other)}, and {why}: nobody holds "
                                 "the same placement twice", rules=("rotation",))
        pinned = [pin for pin in self.pins_of.get(p, ())
                  if self.stream_of[pin.placement].id == s and pin.placement != l_id
                  and (pin.period == t or not stream.rotate)]
        if pinned:
            pin = pinned[0]
            extra = "" if pin.period == t else (
                f", and the {s} stream does not rotate (one placement throughout)")
            return AltDraft(l_id, rank, "pinned_elsewhere",
                             f"{p} is pinned to {pin.placement} in {pin.period}{extra}",
                             rules=("pin",) if pin.period == t else ("pin", "continuity"))
        holders = tuple(self.holders.get((l_id, t), ()))
        full = len(holders) >= rnd.capacity(l_id, t)
        prefix = f"full (held by {and_ids(holders)}); " if full else ""
        return AltDraft(l_id, rank, None, prefix, full=full, holders=holders)

    def finish_slots(self, drafts: Sequence[SlotDraft], resolver: Resolver
                     ) -> tuple[PharmacistExplanation, ...]:
        """The slot drafts with their measured alternatives, grouped by pharmacist."""
        by_ph: dict[str, list[SlotExplanation]] = defaultdict(list)
        for d in drafts:
            alts = tuple(self._finish_alt(d, a, resolver) for a in d.alternatives)
            by_ph[d.pharmacist].append(SlotExplanation(d.pharmacist, d.period, d.stream,
                                                       d.placement, d.rank, alts))
        return tuple(PharmacistExplanation(p, tuple(slots)) for p, slots in by_ph.items())

    def _finish_alt(self, d: SlotDraft, a: AltDraft, resolver: Resolver) -> Alternative:
        if a.verdict is not None:
            return Alternative(a.placement, a.rank, a.verdict, a.message, a.rules, a.full,
                               a.holders)
        m = resolver.get(d.pharmacist, a.placement, d.period)
        what = f"giving {d.pharmacist} {a.placement} in {d.period}"
        verdict, text, rules, cost, exact = verdict_of(m, what)
        return Alternative(a.placement, a.rank, verdict, a.message + text, rules, a.full,
                           a.holders, cost, exact, *ends(m))

    # placement gaps --------------------------------------------------------------------------

    def gap_drafts(self) -> list[GapDraft]:
        """Hard-to-recruit placements with empty seats and placements below min_fill."""
        rnd = self.round
        out = []
        for pl in rnd.placements:
            for t in rnd.period_ids:
                cap = pl.capacity_in(t)
                holders = tuple(self.holders.get((pl.id, t), ()))
                empty = pl.hard_to_recruit >= 1 and cap > len(holders)
                short = pl.min_fill_in(t) > len(holders)
                if cap < 1 or not (empty or short):
                    continue
                out.append(self._gap(pl.id, t, holders))
        return out

    def _gap(self, l_id: str, t: str, holders: tuple[str, ...]) -> GapDraft:
        rnd = self.round
        pl = rnd.placement(l_id)
        cap = pl.capacity_in(t)
        if len(holders) >= cap:  # full, yet below min_fill
            return GapDraft(l_id, t, holders, "min_fill_above_capacity",
                             f"min_fill {pl.min_fill_in(t)} is above its capacity {cap} in "
                             f"{t}; the shortfall cannot be avoided")
        eligible = [p for p in self.eligible.get((l_id, t), []) if p not in holders]
        if not eligible:
            nobody = "nobody else" if holders else "nobody"
            return GapDraft(l_id, t, holders, "nobody_eligible",
                             f"{nobody} is eligible for {l_id} in {t} "
                             f"({self._why_nobody(l_id, t, holders)})")
        open_, limits = self._limits(l_id, t, eligible)
        if not open_:
            return GapDraft(l_id, t, holders, limits[0][0], limits[0][1],
                             eligible=tuple(eligible))
        placed = []
        best: tuple[int, str] | None = None
        stream = self.stream_of[l_id].id
        w = rnd.weights
        for p in open_:
            here = checker.score(rnd, Assignment(p, t, l_id))
            cur = self.held.get((p, t, stream))
            if cur is None:
                placed.append(f"{p} unassigned (score here {here})")
                delta = here + w.unassigned
            else:
                there = checker.score(rnd, Assignment(p, t, cur))
                placed.append(f"{p} at {cur} (score {there} there, {here} here)")
                delta = here - there
            if best is None or delta > best[0]:
                best = (delta, p)
        assert best is not None
        shown = "; ".join(placed[:MAX_LISTED])
        if len(placed) > MAX_LISTED:
            shown += f"; and {len(placed) - MAX_LISTED} more"
        n = len(open_)
        message = (f"{'the only' if n == 1 else f'all {n}'} eligible "
                   f"{'pharmacist is' if n == 1 else 'pharmacists are'} placed elsewhere in "
                   f"{t}: {shown}")
        if limits:
            message += "; " + "; ".join(text for _, text in limits)
        return GapDraft(l_id, t, holders, "placed_elsewhere", message,
                         eligible=tuple(eligible), measure=(best[1], l_id, t))

    def _why_nobody(self, l_id: str, t: str, holders: Sequence[str]) -> str:
        """'travel: 3 pharmacists; skills: 2 pharmacists', over everyone not holding it."""
        rnd = self.round
        counts: Counter[str] = Counter()
        for ph in rnd.pharmacists:
            if ph.id in holders:
                continue
            for r in ineligibility_reasons(rnd, ph.id, l_id, t):
                counts[r.rule] += 1
        if not counts:
            return "no pharmacist in the round"
        return "; ".join(f"{rule}: {count(n, 'pharmacist')}" for rule, n in counts.most_common())

    def _limits(self, l_id: str, t: str, eligible: Sequence[str]
                ) -> tuple[list[str], list[tuple[str, str]]]:
        """Eligible pharmacists not blocked by a full organisation or supervisor, and the
        (reason, text) of each limit that blocks some."""
        rnd = self.round
        pl = rnd.placement(l_id)
        blocked: set[str] = set()
        limits: list[tuple[str, str]] = []
        org = (rnd.organisations[rnd.organisation_index[pl.organisation]]
               if pl.organisation is not None else None)
        if org is not None and org.max_pharmacists is not None:
            own = [x.id for x in rnd.placements if x.organisation == org.id]
            hosted = list(dict.fromkeys(p for x in own for p in self.holders.get((x, t), ())))
            if len(hosted) >= org.max_pharmacists:
                newly = [p for p in eligible if p not in hosted]
                blocked.update(newly)
                if newly:
                    limits.append(("organisation_cap",
                                   f"organisation {org.id} already hosts its maximum of "
                                   f"{count(org.max_pharmacists, 'pharmacist')} in {t}"
                                   + (f" ({and_ids(hosted)})" if hosted else "")))
        for sup in rnd.supervisors:
            if l_id not in sup.placements:
                continue
            counted = [p for p in dict.fromkeys(
                p for x in sup.placements for p in self.holders.get((x, t), ()))
                if sup.counts(rnd.pharmacist(p))]
            if len(counted) < sup.capacity:
                continue
            newly = [p for p in eligible if p not in counted
                     and sup.counts(rnd.pharmacist(p)) and p not in blocked]
            if newly:
                blocked.update(newly)
                limits.append(("supervision",
                               f"supervisor {sup.id} already supervises its maximum of "
                               f"{sup.capacity} in {t}"
                               + (f" ({and_ids(counted)})" if counted else "")
                               + f", so {and_ids(newly)} cannot join"))
        return [p for p in eligible if p not in blocked], limits

    def finish_gap(self, g: GapDraft, resolver: Resolver) -> PlacementGap:
        """The gap draft with the cost of moving the best eligible pharmacist in."""
        pl = self.round.placement(g.placement)
        message, cost, exact, moved = g.message, None, False, None
        at_most: int | None = None
        at_least: int | None = None
        if g.measure is not None:
            moved = g.measure[0]
            m = resolver.get(*g.measure)
            at_most, at_least = ends(m)
            what = f"moving {moved} into {g.placement} in {g.period}"
            _, text, _, cost, exact = verdict_of(m, what)
            message += f"; {what}: {text}"
        return PlacementGap(g.placement, g.period, pl.capacity_in(g.period),
                            pl.min_fill_in(g.period), pl.hard_to_recruit, g.holders, g.reason,
                            message, g.eligible, moved, cost, exact, at_least, at_most)


def ends(m: Measured | None) -> tuple[int | None, int | None]:
    """(at most, at least) of a measurement: the proven ends of the cost."""
    if m is None or m.status in ("infeasible", "invalid"):
        return None, None
    return m.at_most, m.at_least
