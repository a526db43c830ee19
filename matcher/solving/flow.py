"""A collapsed min-cost-flow relaxation of a round: a valid upper bound in a fraction of a
second at any size, and the per-pharmacist placements it picks (the primal's guide).

score(p, l) does not depend on the period, so a pharmacist's periods are collapsed: each
pharmacist p sends ``A(p)`` units (one per available period) from a node ``(p, s)`` per
stream ``s``; a unit is one assignment. Placements keep their periods. The network (costs
are negated values; the flow is solved by OR-Tools' ``SimpleMinCostFlow``, which is exact
on integers):

- ``(p, s) -> sink`` (capacity ``A(p)``, value 0): an unassigned slot;
- a rotating stream's pair: ``(p, s) -> l`` (capacity 1: no repeat), value
  ``score(p, l) + w.unassigned`` (pins and reference triples make a unit worth more, see
  *bonuses*); ``l -> (l, t)`` for every period, so the unit takes a seat in one period;
- a non-rotating stream's pair, per period: ``(p, s) -> (p, s, t)`` (capacity 1: one
  assignment per stream and period) ``-> (l, t)`` for each eligible candidate (p, l, t),
  valued as above. Continuity is relaxed (the pharmacist may take another placement in
  another period), but every period's seat is a seat of that period (a pharmacist-stream
  whose units run through the sector gadget below reaches ``l`` collapsed instead, with
  a capacity of its pair's eligible periods);
- ``(l, t) -> sink`` (or through ``(organisation, t)`` and ``(stream, t)``, below):
  capacity ``min(cap(l, t), eligible(l, t))``, the first ``min(min_fill, cap, eligible)``
  units earning ``+w.shortfall`` each;
- organisations with ``max_pharmacists`` whose placements are all in one stream get a
  node per period with capacity ``min(max_pharmacists, sum of their capacities)`` (one
  stream: a pharmacist holds at most one of its placements per period, so distinct
  pharmacists = assignments); other organisations and supervisors are relaxed (dropped);
- a stream's placements (and organisation nodes) drain in period ``t`` through a node of
  capacity ``F(s, t)`` when that is below the stream's seats in ``t``: ``F(s, t)``
  (:func:`period_fills`) is a maximum matching of the stream's pharmacists (one slot
  each) to its placements (their capacity in that period) through the capped
  organisations. On a tight 2,000 x 1,500 x 3 round this took 30,000 points (three slots)
  off the bound, in 0.1 s.

Per-period seats took 2,138 points off the flow bound of a 2,000 x 1,500 x 3 per-period
round and 2,183 off a 5,000 x 2,500 x 4 one, at no cost in time (0.5 and 2.4 s); on 11 of
400 tiny rounds they lowered it, on two of them to the optimum. (A flow per period with
nothing collapsed, without no-repeat, pair capacities or the sector gadget, was 12,400-
18,800 points looser than the collapsed one: what the collapsed flow misses most is
continuity, which no flow holds.)
- **sector gadget** for a pharmacist-stream that must cover new sectors: ``(p, s)`` feeds
  sector nodes ``(p, s, sigma)`` directly (capacity ``A(p)``, the "repeat" route) and
  through a node ``D(p, s)`` whose arcs to the sector nodes have capacity 1 (the "first
  unit of a sector" route); the first ``k(p, s)`` units into ``D`` earn a bonus ``big``.
  ``k(p, s) = need(p) - sum of the most new sectors the other streams can cover`` where
  ``need(p) = min(min_distinct_sectors, A(p)) - |sectors of p's history|``; a required
  sector (not in history) that only stream ``s`` can give earns ``big`` on its ``D`` arc.

**Why the bound is valid.** Take any feasible allocation X. Map it to a flow: every
assignment (p, l, t) is one unit ``(p, s) -> [sector node] -> l -> (l, t) -> [org, t] ->
[stream, t] -> sink`` (in a non-rotating stream outside the gadget ``(p, s) -> (p, s, t) ->
(l, t) -> ...``); each empty slot one unit on the unassigned arc. Per-stream unit counts
are A(p) (one per available period and stream, §3.1); a rotating pair is used at most once
(§3.5); a non-rotating pair at most in its eligible periods, and p has one assignment per
stream and period; a placement holds in each period at most its capacity and its eligible
pharmacists (§3.2); an organisation's assignments in a period obey its cap (§3.3); a
stream's assignments in one period are a matching of its pharmacists to its placements
within capacities and the caps, so they are at most ``F(s, t)``. So the flow is feasible.
Its value is at least X's objective plus the bonuses: X covers >= need(p) new sectors, of
which at most ``sum of the other streams' maxima`` come from other streams, so stream s
covers >= k(p, s) new sectors; route one unit of each newly covered sector of s through D
(capacity 1 per sector) and the bonus ``big * k(p, s)`` is earned; a required sector only s
can cover likewise earns its bonus; each pin earns its bonus (X holds every pin).
Shortfall: ``max(0, m_t - h_t) = m_t - min(m_t, h_t)`` and the flow earns ``w.shortfall``
on ``min(m_t, cap_t, e_t) >= min(m_t, h_t)`` units of ``(l, t)``, so its shortfall term is
at least X's. Change: ``-w.change * C`` is written as a constant ``-w.change * |reference
slots|`` plus ``+w.change`` per matching assignment; the flow earns it on at most as many
units per pair as the pair has reference triples, and X's matches are among those.
Fairness: ``M`` is at most the smallest, over available pharmacists, of their largest
possible preference points (a constant added). So ``flow optimum >= objective(X) +
bonuses`` and the returned bound ``flow optimum + constants - bonuses`` is >= objective(X)
for every feasible X, whatever the size of ``big`` (its size only makes the relaxation
enforce the rules it encodes).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import max_flow, min_cost_flow

from matcher.domain import SECTORS, Round
from matcher.eligibility import Candidates, availability
from matcher.scoring import Scores

__all__ = ["Arcs", "FlowRelaxation", "Pairs", "fairness_bound", "pairs_of", "period_fills",
           "relaxation"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

N_SEC = len(SECTORS)


@dataclass(frozen=True)
class Pairs:
    """Distinct eligible (pharmacist, placement) pairs (candidates are sorted by
    pharmacist, placement, period, so the candidates of a pair are contiguous)."""

    start: IntArray  # first candidate of each pair
    count: IntArray  # eligible periods of the pair
    p: IntArray
    l: IntArray  # noqa: E741
    s: IntArray
    sec: IntArray
    score: IntArray
    points: IntArray
    of_cand: IntArray  # pair of every candidate

    def __len__(self) -> int:
        return int(self.p.shape[0])


def pairs_of(rnd: Round, cand: Candidates, sc: Scores) -> Pairs:
    """The pairs of the candidates."""
    n = len(cand)
    if n == 0:
        e = np.zeros(0, np.int64)
        return Pairs(e, e, e, e, e, e, e, e, e)
    first = np.ones(n, dtype=bool)
    first[1:] = (cand.pharmacist[1:] != cand.pharmacist[:-1]) | (
        cand.placement[1:] != cand.placement[:-1])
    start = np.flatnonzero(first).astype(np.int64)
    count = np.diff(np.append(start, n)).astype(np.int64)
    sec_index = {s: i for i, s in enumerate(SECTORS)}
    sector = np.array([sec_index[pl.sector] for pl in rnd.placements], dtype=np.int64)
    of_cand = np.repeat(np.arange(len(start), dtype=np.int64), count)
    return Pairs(start=start, count=count, p=cand.pharmacist[start],
                 l=cand.placement[start], s=cand.stream[start],
                 sec=sector[cand.placement[start]], score=sc.total[start],
                 points=sc.points[start], of_cand=of_cand)


class Arcs:
    """The arcs of a min-cost-flow network, added in bulk as arrays (each array's arcs
    of capacity 0 left out), for OR-Tools' ``SimpleMinCostFlow``."""

    def __init__(self) -> None:
        self._parts: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
        self.count = 0

    def add(self, tails: IntArray, heads: IntArray, caps: IntArray,
            costs: IntArray) -> IntArray:
        """Add arcs (unit ``costs``, minimised); the indices of those kept."""
        keep = caps > 0
        part = (tails[keep], heads[keep], caps[keep], costs[keep])
        self._parts.append(part)
        out = self.count + np.arange(len(part[0]), dtype=np.int64)
        self.count += len(part[0])
        return out

    def arrays(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], IntArray,
                              IntArray]:
        """Tails and heads (int32), capacities and costs (int64) of every arc, in order."""
        if not self._parts:
            e = np.zeros(0, np.int64)
            return e.astype(np.int32), e.astype(np.int32), e, e
        t, h, c, v = (np.concatenate(x) for x in zip(*self._parts, strict=True))
        return t.astype(np.int32), h.astype(np.int32), c.astype(np.int64), v.astype(np.int64)


@dataclass(frozen=True)
class FlowRelaxation:
    """The relaxation's answer.

    ``bound`` is a valid upper bound on the round's objective; ``units`` the flow on every
    pair (how many periods the relaxation gives the pair); ``seconds`` the time taken.
    """

    bound: int
    units: IntArray
    pairs: Pairs
    seconds: float


def capacity_matrix(rnd: Round) -> IntArray:
    """capacity(l, t) as a placement x period array."""
    return np.array([[pl.capacity_in(t) for t in rnd.period_ids] for pl in rnd.placements],
                    dtype=np.int64).reshape(len(rnd.placements), len(rnd.periods))


def min_fill_matrix(rnd: Round) -> IntArray:
    """min_fill(l, t) as a placement x period array."""
    return np.array([[pl.min_fill_in(t) for t in rnd.period_ids] for pl in rnd.placements],
                    dtype=np.int64).reshape(len(rnd.placements), len(rnd.periods))


def history_masks(rnd: Round) -> IntArray:
    """Bit mask of the sectors of every pharmacist's history."""
    sec_index = {s: i for i, s in enumerate(SECTORS)}
    out = np.zeros(len(rnd.pharmacists), dtype=np.int64)
    for i, ph in enumerate(rnd.pharmacists):
        for h in ph.history:
            out[i] |= 1 << sec_index[rnd.placement(h).sector]
    return out


def required_mask(rnd: Round) -> int:
    """Bit mask of the round's ``rules.required_sectors``."""
    mask = 0
    for sector in rnd.rules.required_sectors:
        mask |= 1 << SECTORS.index(sector)
    return mask


_POP = np.array([bin(m).count("1") for m in range(1 << N_SEC)], dtype=np.int64)


def reference_candidates(rnd: Round, cand: Candidates) -> tuple[IntArray, int]:
    """Candidates matching a reference slot, and the number of reference slots (one per
    pharmacist, period and stream; the first listed wins, as in
    :mod:`matcher.solving.formulation`)."""
    seen: dict[tuple[str, str, str], str] = {}
    for r in rnd.reference:
        stream = rnd.stream_of(rnd.placement(r.placement)).id
        seen.setdefault((r.pharmacist, r.period, stream), r.placement)
    pos = cand.positions(rnd, [(p, t, pl) for (p, t, _), pl in seen.items()])
    return np.unique(pos[pos >= 0]), len(seen)


def pin_candidates(rnd: Round, cand: Candidates) -> IntArray:
    """Candidates that are pinned (distinct; a pin that is not eligible is left out: the
    round is then infeasible and any bound is valid)."""
    pos = cand.positions(rnd, rnd.pins)
    return np.unique(pos[pos >= 0])


def fairness_cap(rnd: Round, pairs: Pairs, avail_count: IntArray, pinned: IntArray) -> int:
    """An upper bound on M: the smallest, over available pharmacists, of the most
    preference points they could collect (rotating: the best A(p) distinct pairs;
    non-rotating: the best pair times its eligible periods). ``pinned``: the pairs of the
    round's pins (:func:`pin_candidates`, one per pin). A pin fills its slot with its
    pair: in a rotating stream the pinned pairs count once each and the best of the
    other pairs fill the periods left; in a non-rotating stream the pinned pair is the
    pharmacist's one placement there. A pharmacist pinned to placements they did not
    ask for caps M at what their other slots can give (0 where every slot is pinned)."""
    n_p = len(rnd.pharmacists)
    who = np.flatnonzero(avail_count >= 1)
    if not len(who):
        return 0
    best = np.zeros(n_p, dtype=np.int64)
    rotating = np.array([s.rotate for s in rnd.effective_streams], dtype=bool)
    pin_pair = np.asarray(pinned, np.int64)
    is_pinned = np.zeros(len(pairs), dtype=bool)
    is_pinned[pin_pair] = True
    for s in range(len(rnd.effective_streams)):
        mine = pin_pair[pairs.s[pin_pair] == s]
        sel = np.flatnonzero((pairs.s == s) & (pairs.points > 0) & ~is_pinned)
        if rotating[s]:
            # Each pin takes one of the pharmacist's periods in the stream.
            left = avail_count - np.bincount(pairs.p[mine], minlength=n_p)
            once = np.unique(mine)
            best += np.bincount(pairs.p[once], weights=pairs.points[once],
                                minlength=n_p).astype(np.int64)
            order = sel[np.lexsort((-pairs.points[sel], pairs.p[sel]))]
            pp = pairs.p[order]
            first = np.r_[True, pp[1:] != pp[:-1]]
            start = np.maximum.accumulate(np.where(first, np.arange(len(pp)), 0))
            rank = np.arange(len(pp)) - start
            keep = rank < left[pp]
            best += np.bincount(pp[keep], weights=pairs.points[order][keep],
                                minlength=n_p).astype(np.int64)
        else:
            top = np.zeros(n_p, dtype=np.int64)
            np.maximum.at(top, pairs.p[sel], pairs.points[sel] * pairs.count[sel])
            # Pinned in the stream: the pinned placement in every period or none (two
            # pinned placements: infeasible, and any bound will do).
            held = np.zeros(n_p, dtype=bool)
            held[pairs.p[mine]] = True
            top[held] = 0
            np.maximum.at(top, pairs.p[mine], pairs.points[mine] * pairs.count[mine])
            best += top
    return int(best[who].min())


def fairness_bound(rnd: Round, cand: Candidates, sc: Scores, plain_bound: int) -> int:
    """A bound on the round's objective from ``plain_bound``, a valid bound on the same
    round with ``weights.fairness`` 0 (the fairness-free first stage's). The objective is
    the fairness-free one plus ``w.fairness * M``, and no allocation's M exceeds
    :func:`fairness_cap`; no other term depends on the fairness weight.

    The flow relaxation of a fairness round is one component of the whole round, too large
    for the LP bound in the time; the first stage's components get theirs: on 1,000 x
    1,000 x 3 with fairness 50 (pins, bans and leave, a re-plan) the flow bound was 0.5 %
    above the allocation and this one 0.05 %."""
    w = rnd.weights
    if not w.fairness:
        return int(plain_bound)
    a_count = availability(rnd).sum(axis=1).astype(np.int64)
    pairs = pairs_of(rnd, cand, sc)
    return int(plain_bound) + w.fairness * fairness_cap(
        rnd, pairs, a_count, pairs.of_cand[pin_candidates(rnd, cand)])


def period_fills(rnd: Round, cand: Candidates, cap: IntArray, org_of_l: IntArray,
                 org_max: list[int]) -> IntArray:
    """The most assignments each stream can hold in each period (a stream x period array):
    a maximum matching of the stream's pharmacists (one each) to its placements (their
    capacity in that period), through the organisations of ``org_of_l`` (index into
    ``org_max``, their ``max_pharmacists``; -1: none). An exact maximum flow per period
    and stream, so the count bounds every allocation's (module docs)."""
    n_t = cap.shape[1]
    n_s = len(rnd.effective_streams)
    out = np.zeros((n_s, n_t), dtype=np.int64)
    sink = 1
    for s in range(n_s):
        for t in range(n_t):
            sel = np.flatnonzero((cand.period == t) & (cand.stream == s))
            if not len(sel):
                continue
            up, pi = np.unique(cand.pharmacist[sel], return_inverse=True)
            ul, li = np.unique(cand.placement[sel], return_inverse=True)
            p_node = 2 + np.arange(len(up), dtype=np.int64)
            l_node = 2 + len(up) + np.arange(len(ul), dtype=np.int64)
            og = org_of_l[ul]
            uo = np.unique(og[og >= 0])
            o_node = np.full(len(org_max), sink, dtype=np.int64)
            o_node[uo] = 2 + len(up) + len(ul) + np.arange(len(uo), dtype=np.int64)
            tails = np.concatenate([np.zeros(len(up), np.int64), p_node[pi], l_node,
                                    o_node[uo]])
            heads = np.concatenate([p_node, l_node[li], np.where(og >= 0, o_node[
                np.maximum(og, 0)] if len(org_max) else sink, sink),
                np.full(len(uo), sink, np.int64)])
            caps = np.concatenate([np.ones(len(up) + len(sel), np.int64), cap[ul, t],
                                   np.array(org_max, np.int64)[uo] if len(uo)
                                   else np.zeros(0, np.int64)])
            mf = max_flow.SimpleMaxFlow()
            mf.add_arcs_with_capacity(tails.astype(np.int32), heads.astype(np.int32), caps)
            if mf.solve(0, sink) != mf.OPTIMAL:
                raise RuntimeError("maximum flow failed")
            out[s, t] = mf.optimal_flow()
    return out


def relaxation(rnd: Round, cand: Candidates, sc: Scores, pairs: Pairs | None = None
               ) -> FlowRelaxation:
    """Solve the collapsed relaxation (module docs); the bound is valid for the round."""
    t0 = time.monotonic()
    pairs = pairs if pairs is not None else pairs_of(rnd, cand, sc)
    w = rnd.weights
    n_p, n_l, n_t = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)
    n_s = len(rnd.effective_streams)
    rotating = np.array([s.rotate for s in rnd.effective_streams], dtype=bool)
    avail = availability(rnd)
    a_count = avail.sum(axis=1).astype(np.int64)
    cap = capacity_matrix(rnd)
    mf = min_fill_matrix(rnd)
    n_pairs = len(pairs)

    # ---- constants of the objective -------------------------------------------------
    offset = -w.unassigned * int(a_count.sum()) * n_s
    if w.shortfall:
        offset -= w.shortfall * int(mf.sum())
    ref_cands, n_ref_slots = (reference_candidates(rnd, cand) if w.change and rnd.reference
                              else (np.zeros(0, np.int64), 0))
    offset -= w.change * n_ref_slots
    pins = pin_candidates(rnd, cand)
    max_abs = int(np.abs(pairs.score).max()) if n_pairs else 0
    big = (w.unassigned + max_abs + w.shortfall + w.change + 1) * (n_s * n_t + 1) * 2
    penalty = big * len(pins)

    # ---- value of every candidate unit -----------------------------------------------
    cval = sc.total + w.unassigned
    special = np.zeros(len(cand), dtype=bool)
    if len(ref_cands):
        cval = cval.copy()
        cval[ref_cands] += w.change
        special[ref_cands] = True
    if len(pins):
        cval = cval.copy()
        cval[pins] += big
        special[pins] = True

    # ---- nodes -------------------------------------------------------------------------
    sink = 0
    l_node = 1 + np.arange(n_l, dtype=np.int64)
    n_nodes = 1 + n_l
    capped = [o for o in rnd.organisations if o.max_pharmacists is not None]
    stream_of_l = np.array([rnd.stream_index[rnd.stream_of(pl).id] for pl in rnd.placements],
                           dtype=np.int64)
    org_of_l = np.full(n_l, -1, dtype=np.int64)
    org_max: list[int] = []
    org_cap_t: list[IntArray] = []
    org_stream: list[int] = []
    for o in capped:
        members = np.array([j for j, pl in enumerate(rnd.placements)
                            if pl.organisation == o.id], dtype=np.int64)
        if not len(members) or len(set(stream_of_l[members].tolist())) != 1:
            continue  # spans streams: distinct counting, relaxed
        org_of_l[members] = len(org_max)
        org_max.append(int(o.max_pharmacists or 0))
        org_cap_t.append(np.minimum(int(o.max_pharmacists or 0), cap[members].sum(axis=0)))
        org_stream.append(int(stream_of_l[members[0]]))
    n_o = len(org_max)
    # A node per placement and period, and per capped organisation and period.
    lt_node = n_nodes + np.arange(n_l * n_t, dtype=np.int64).reshape(n_l, n_t)
    n_nodes += n_l * n_t
    ot_node = n_nodes + np.arange(n_o * n_t, dtype=np.int64).reshape(n_o, n_t)
    n_nodes += n_o * n_t
    # Stream-periods whose assignments the period's matching holds below the seats.
    elig_lt = np.bincount(cand.placement * n_t + cand.period, minlength=n_l * n_t).reshape(
        n_l, n_t) if len(cand) else np.zeros((n_l, n_t), np.int64)
    seats = np.minimum(cap, elig_lt)
    fills = period_fills(rnd, cand, cap, org_of_l, org_max)
    stream_seats = np.zeros((n_s, n_t), dtype=np.int64)
    np.add.at(stream_seats, stream_of_l, seats)
    binding = fills < stream_seats
    st_out = np.full((n_s, n_t), sink, dtype=np.int64)
    st_out[binding] = n_nodes + np.arange(int(binding.sum()), dtype=np.int64)
    n_nodes += int(binding.sum())

    ps_key = pairs.p * n_s + pairs.s
    ps_keys, ps_of_pair = np.unique(ps_key, return_inverse=True)
    ps_node = n_nodes + np.arange(len(ps_keys), dtype=np.int64)
    n_nodes += len(ps_keys)
    ps_p, ps_s = ps_keys // n_s, ps_keys % n_s
    ps_supply = a_count[ps_p]

    # ---- sector rules --------------------------------------------------------------------
    hist = history_masks(rnd)
    req_mask = required_mask(rnd)
    need = np.maximum(0, np.minimum(rnd.rules.min_distinct_sectors, a_count) - _POP[hist])
    # New sectors reachable per (p, s): bit masks.
    new_bit = (1 << pairs.sec) & ~hist[pairs.p]
    ps_mask = np.zeros(len(ps_keys), dtype=np.int64)
    np.bitwise_or.at(ps_mask, ps_of_pair, new_bit)
    ps_cmax = np.where(rotating[ps_s], np.minimum(a_count[ps_p], _POP[ps_mask]),
                       np.minimum(1, _POP[ps_mask]))
    total_cmax = np.bincount(ps_p, weights=ps_cmax, minlength=n_p).astype(np.int64)
    ps_k = np.maximum(0, need[ps_p] - (total_cmax[ps_p] - ps_cmax))
    ps_k = np.minimum(ps_k, ps_cmax)
    # Required sectors coverable by one stream only.
    p_mask_all = np.zeros(n_p, dtype=np.int64)
    np.bitwise_or.at(p_mask_all, ps_p, ps_mask)
    # Bits reachable in two or more streams of p.
    seen_once = np.zeros(n_p, dtype=np.int64)
    seen_twice = np.zeros(n_p, dtype=np.int64)
    for j in range(len(ps_keys)):  # small: one entry per pharmacist-stream
        pj = ps_p[j]
        seen_twice[pj] |= seen_once[pj] & ps_mask[j]
        seen_once[pj] |= ps_mask[j]
    req_here = np.where(a_count[ps_p] >= 1, ps_mask & ~seen_twice[ps_p] & req_mask
                        & ~hist[ps_p], 0)
    gadget = (ps_k > 0) | (req_here != 0)
    penalty += big * int(ps_k.sum()) + big * int(_POP[req_here].sum())

    net = Arcs()

    def arcs(t: IntArray, h: IntArray, c: IntArray, v: IntArray) -> IntArray:
        return net.add(t, h, c, -v)

    # Unassigned slots.
    arcs(ps_node, np.full(len(ps_node), sink), ps_supply, np.zeros(len(ps_node), np.int64))
    # Gadget nodes.
    g_ps = np.flatnonzero(gadget)
    d_node = np.full(len(ps_keys), -1, dtype=np.int64)
    d_node[g_ps] = n_nodes + np.arange(len(g_ps))
    n_nodes += len(g_ps)
    in_gadget = gadget[ps_of_pair]
    gs_key = ps_of_pair * N_SEC + pairs.sec
    gs_keys, gs_inv = np.unique(gs_key[in_gadget], return_inverse=True)
    gs_node_of = n_nodes + np.arange(len(gs_keys), dtype=np.int64)
    n_nodes += len(gs_keys)
    gs_ps, gs_sec = gs_keys // N_SEC, gs_keys % N_SEC
    if len(g_ps):
        k = ps_k[g_ps]
        arcs(ps_node[g_ps], d_node[g_ps], k, np.full(len(g_ps), big))
        arcs(ps_node[g_ps], d_node[g_ps], ps_supply[g_ps] - k, np.zeros(len(g_ps), np.int64))
        arcs(ps_node[gs_ps], gs_node_of, ps_supply[gs_ps], np.zeros(len(gs_ps), np.int64))
        is_new = ((hist[ps_p[gs_ps]] >> gs_sec) & 1) == 0
        bonus = np.where((req_here[gs_ps] >> gs_sec) & 1 == 1, big, 0)
        arcs(d_node[gs_ps], gs_node_of, is_new.astype(np.int64), bonus)
    # Pair arcs. A rotating pair, and a pair whose pharmacist-stream runs through the
    # sector gadget, reaches its placement's node collapsed over periods; a non-rotating
    # pair reaches the placement in each period through its pharmacist's node for that
    # period (one unit), so the placement's capacity holds in every period.
    tail = ps_node[ps_of_pair].copy()
    gi = np.flatnonzero(in_gadget)
    tail[gi] = gs_node_of[gs_inv]
    pair_val = cval[pairs.start]
    rot_pair = rotating[pairs.s]
    per_period = ~rot_pair & ~in_gadget
    has_special = np.zeros(n_pairs, dtype=bool)
    if special.any():
        has_special[pairs.of_cand[special]] = True
    # Rotating pairs: one unit worth their best triple.
    best_val = np.maximum.reduceat(cval, pairs.start) if n_pairs else pair_val
    plain = (~has_special | rot_pair) & ~per_period
    sel = np.flatnonzero(plain)
    unit_cap = np.where(rot_pair, 1, pairs.count)
    # Every pair arc has a capacity of 1 or more: none is left out.
    plain_arc_index = arcs(tail[sel], l_node[pairs.l[sel]], unit_cap[sel],
                           np.where(rot_pair[sel], best_val[sel], pair_val[sel]))
    # Collapsed non-rotating pairs with pins or reference triples: one arc per candidate.
    spec_pairs = np.flatnonzero(~plain & ~per_period)
    spec_cands = np.flatnonzero(np.isin(pairs.of_cand, spec_pairs))
    pc = pairs.of_cand[spec_cands]
    spec_arc_index = arcs(tail[pc], l_node[pairs.l[pc]], np.ones(len(spec_cands), np.int64),
                          cval[spec_cands])
    # Per-period pairs: pharmacist-stream -> its period -> placement-period, per candidate.
    pp_cands = np.flatnonzero(per_period[pairs.of_cand])
    pst_keys, pst_inv = np.unique(ps_of_pair[pairs.of_cand[pp_cands]] * n_t
                                  + cand.period[pp_cands], return_inverse=True)
    pst_node = n_nodes + np.arange(len(pst_keys), dtype=np.int64)
    n_nodes += len(pst_keys)
    arcs(ps_node[pst_keys // n_t], pst_node, np.ones(len(pst_keys), np.int64),
         np.zeros(len(pst_keys), np.int64))
    pp_arc_index = arcs(pst_node[pst_inv], lt_node[cand.placement[pp_cands],
                                                   cand.period[pp_cands]],
                        np.ones(len(pp_cands), np.int64), cval[pp_cands])
    # Placements into their periods, then to organisations or the sink, period by period.
    arcs(np.repeat(l_node, n_t), lt_node.ravel(), seats.ravel(), np.zeros(n_l * n_t, np.int64))
    fill = np.minimum(mf, seats) if w.shortfall else np.zeros((n_l, n_t), np.int64)
    t_of = np.broadcast_to(np.arange(n_t, dtype=np.int64), (n_l, n_t))
    s_of = np.broadcast_to(stream_of_l[:, None], (n_l, n_t))
    o_of = np.broadcast_to(org_of_l[:, None], (n_l, n_t))
    head_lt = np.where(o_of >= 0, ot_node[np.maximum(o_of, 0), t_of] if n_o else sink,
                       st_out[s_of, t_of])
    arcs(lt_node.ravel(), head_lt.ravel(), fill.ravel(), np.full(n_l * n_t, w.shortfall,
                                                                 np.int64))
    arcs(lt_node.ravel(), head_lt.ravel(), (seats - fill).ravel(), np.zeros(n_l * n_t,
                                                                            np.int64))
    if n_o:
        os_ = np.array(org_stream, dtype=np.int64)
        arcs(ot_node.ravel(), st_out[np.repeat(os_, n_t), np.tile(np.arange(n_t), n_o)],
             np.concatenate(org_cap_t).astype(np.int64), np.zeros(n_o * n_t, np.int64))
    arcs(st_out[binding], np.full(int(binding.sum()), sink), fills[binding].astype(np.int64),
         np.zeros(int(binding.sum()), np.int64))

    # ---- solve ------------------------------------------------------------------------------
    mcf = min_cost_flow.SimpleMinCostFlow()
    tl, hd, cp, co = net.arrays()
    mcf.add_arcs_with_capacity_and_unit_cost(tl, hd, cp, co)
    supplies = np.zeros(n_nodes, dtype=np.int64)
    supplies[ps_node] = ps_supply
    supplies[sink] = -int(ps_supply.sum())
    mcf.set_nodes_supplies(np.arange(n_nodes, dtype=np.int32), supplies)
    status = mcf.solve()
    if status != mcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    value = -int(mcf.optimal_cost())
    fair = (fairness_cap(rnd, pairs, a_count, pairs.of_cand[pins]) * w.fairness
            if w.fairness else 0)
    bound = value + offset - penalty + fair
    units = np.zeros(n_pairs, dtype=np.int64)
    if len(sel):
        units[sel] = mcf.flows(plain_arc_index)
    if len(spec_cands):
        np.add.at(units, pairs.of_cand[spec_cands], mcf.flows(spec_arc_index))
    if len(pp_cands):
        np.add.at(units, pairs.of_cand[pp_cands], mcf.flows(pp_arc_index))
    secs = time.monotonic() - t0
    log.info("flow relaxation: bound %d (%d arcs, %d nodes) in %.2f s", bound, len(cp),
             n_nodes, secs)
    return FlowRelaxation(bound=int(bound), units=units, pairs=pairs, seconds=secs)
