"""Exact exchanges over a whole slice of a component by min-cost flow: :func:`sweep`.

A :class:`~matcher.solving.lns.Slice` is one stream of the round, and in a rotating stream
one period of it. With every assignment outside the slice fixed, re-assigning the slice
for *all* of a component's pharmacists at once is almost an assignment problem: each
pharmacist holds at most one of the slice's placements, each placement takes at most its
room in that period, and the rest of the rules become limits on which arcs exist:

- **no repeat** (rotating stream): no arc to a placement the pharmacist holds in another
  period of the stream;
- **continuity** (non-rotating stream): a pharmacist holds one placement over a set of
  periods (its line's *pattern*). Each placement gets an order of the periods, and its
  patterns are the chain that order makes: every period, all but the first, all but the
  first two, ... down to the last alone. A line over pattern k enters the placement's
  chain of nodes at node k, and link j of the chain carries the room of the order's
  j-th period, so every line uses the room of exactly its own periods. A pharmacist is
  freed when its line now is one of its placement's patterns (or it has none), with an
  arc for every pattern of a placement whose periods the pair is eligible in (without
  ``allow_unassigned``, only the pattern of all its available periods). Each
  placement's order is the one whose chain holds the most lines there now, then the
  most pairs eligible in some periods only (leave), so a pharmacist on leave in one
  period takes the line over the others; or, in half the flows, one drawn at random.
  Three lines over different pairs of periods at one placement are in no chain, so
  such an exchange stays out of reach. On a 2,000 x 1,500 x 3 tight component whose
  allocation was 20,502 points (two empty slots) below HiGHS's optimum, with the host
  stream as it was, a pharmacist on leave and lines over some periods held it back: a
  single pattern chain for all placements filled neither slot, one per placement
  filled both in two flows;
- **sector mix**: from the sectors the pharmacist's other assignments and history cover,
  the slice may need one more sector (or a required one), which limits the arcs and
  forbids the empty arc; a pharmacist it cannot satisfy stays fixed;
- **organisation caps**: a node per capped organisation with what the fixed assignments
  leave of its cap (counting the freed as new, which is safe; in a non-rotating stream
  its least over the periods, as a line over some periods counts against all);
- **min_fill**: a placement's first units below its ``min_fill`` in a period are worth
  the shortfall weight (on the chain link of that period in a non-rotating stream);
- **supervision** is not a network constraint: where the flow puts more counted
  pharmacists under a supervisor than its room, the supervisor keeps only those there
  now, less the ones worth least there, and the flow is solved again, until every
  supervisor is within its room (else no answer): exact where no supervisor is over, a
  good answer where one is (in a non-rotating stream, against its least room over the
  periods). A pharmacist the supervisor already counts in every period of its new line
  (a line in the other stream) takes none of its room, as the rule counts pharmacists;
- **pins** in the slice keep their pharmacist fixed; the change weight is a reward on the
  reference's candidates. Fairness is left to :meth:`FlowState.accept`, which values
  the answer by the whole objective.

OR-Tools' ``SimpleMinCostFlow`` solves it exactly in a fraction of a second where CP-SAT
needs seconds (2,000 x 1,500 x 3) or cannot improve it in 10 s (a 632,000-candidate
practice stream at 5,000 x 2,500 x 4). On a 2,000 x 1,500 x 3 per-period component whose
60 s allocation was 3,077 points below HiGHS's optimum, CP-SAT on its three host-stream
periods in turn gained 1,342 points in 1 s and could not move its practice stream at all.
The answer is checked by the independent checker before it is kept.
"""

from __future__ import annotations

import itertools
import logging
import math
import time

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

from matcher.solving.components import Component
from matcher.solving.flow import Arcs, required_mask
from matcher.solving.lns import Slice, bad_pharmacists
from matcher.solving.state import POPCOUNT, FlowState

__all__ = ["flow_slice", "slices", "sweep"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# Flows solved at most for one slice: each after the first closes a supervisor the one
# before put over its room to all but the counted pharmacists it kept there.
SUPERVISION_ROUNDS = 12

# Up to this many periods every order of them is weighed for a placement's chain of line
# patterns (24 orders of 4 periods); beyond, as many orders drawn at random.
ORDERS_ALL = 4

# How often each placement's order is drawn at random instead (:func:`_orders`). On a
# 2,000 x 1,500 x 3 tight component one empty slot below HiGHS's optimum, the weighed
# orders gained nothing in 40 flows, random ones filled the slot in the second; from
# two slots below, both filled them (in two flows and in about ten).
RANDOM_ORDERS = 0.5
# A sweep's exchange begins only with this many times its expected time left (sweep).
SWEEP_MARGIN = 2.0


def slices(st: FlowState) -> list[Slice]:
    """Every slice of the round: each non-rotating stream whole, each rotating stream
    period by period."""
    n_t = st.cap.shape[1]
    out: list[Slice] = []
    for s, rot in enumerate(st.rotating.tolist()):
        out.extend([Slice(s, t) for t in range(n_t)] if rot else [Slice(s, None)])
    return out


def flow_slice(st: FlowState, comp: Component, base: IntArray, sliced: Slice,
               order: list[int] | None = None) -> IntArray | None:
    """The best re-assignment of ``sliced`` for the component's pharmacists with every
    other assignment of ``base`` fixed (module docs), as the component's new allocation,
    or None when there is nothing to free or no answer within the supervisors' rooms was
    found (:data:`SUPERVISION_ROUNDS`). In a non-rotating stream ``order`` (a
    permutation of the periods) gives every placement the chain of period sets a line
    may cover: every period, then all but ``order[0]``, then all but ``order[:2]``, and
    so on (None: each placement's own, :func:`_orders`)."""
    rnd, c, w = st.rnd, st.cand, st.rnd.weights
    n_p, n_t = len(rnd.pharmacists), st.cap.shape[1]
    n_l = st.cap.shape[0]
    s, t = sliced.stream, sliced.period
    rotating = t is not None
    in_slice = sliced.holds(c, base)

    # ---- who is freed -------------------------------------------------------------------
    free = np.zeros(n_p, dtype=bool)
    free[comp.pharmacists] = True
    if t is not None:
        free &= st.avail[:, t]
        links = np.full((n_l, 1), t, dtype=np.int64)
        chain = np.zeros((n_l, 1), dtype=np.int64)
    else:
        # Each placement's chain of line patterns (module docs): a pharmacist is freed
        # when the periods its line covers now are one of its placement's (or none).
        links = (_orders(st, comp, base, sliced) if order is None
                 else np.tile(np.asarray(order, dtype=np.int64), (n_l, 1)))
        chain = _chains(links)
        now, at = st.line_periods(base[in_slice])
        fits = (chain[at] == now[:, None]).any(axis=1)  # no line (at -1): now == 0 frees it
        free &= (st.a_count >= 1) & ((now == 0) | fits)
    pins = st.pins[sliced.holds(c, st.pins)]
    free[c.pharmacist[pins]] = False
    # Sector mix: what the pharmacist's assignments outside the slice and history cover.
    cover = st.cover(base[~in_slice])
    req = required_mask(rnd)
    need = np.minimum(rnd.rules.min_distinct_sectors, st.a_count)
    miss = np.where(st.a_count >= 1, req & ~cover, 0)
    n_miss = POPCOUNT[miss]
    allowed = np.full(n_p, (1 << 6) - 1, dtype=np.int64)
    must = np.zeros(n_p, dtype=bool)
    one_req = n_miss == 1
    allowed[one_req] = miss[one_req]
    must[one_req] = True
    free &= ~(one_req & (POPCOUNT[cover | miss] < need))
    free &= n_miss <= 1
    short_one = ~one_req & (POPCOUNT[cover] == need - 1)
    allowed[short_one] = ~cover[short_one] & ((1 << 6) - 1)
    must[short_one] = True
    free &= one_req | (POPCOUNT[cover] >= need - 1)
    if not rnd.rules.allow_unassigned:
        must[:] = True
    # Pharmacists freed after all: their slice lines leave; the others' stay.
    mine = in_slice & free[c.pharmacist[base]]
    kept = base[~mine]
    who = np.flatnonzero(free)
    if not len(who):
        return None

    # ---- arcs: pharmacist -> placement ----------------------------------------------
    idx = comp.idx[sliced.holds(c, comp.idx)]
    idx = idx[free[c.pharmacist[idx]]]
    pr = st.pairs
    idx = idx[((allowed[c.pharmacist[idx]] >> pr.sec[pr.of_cand[idx]]) & 1) > 0]
    value = st.sc.total[idx] + w.unassigned
    if st.evaluator.n_ref:
        value = value + w.change * np.isin(idx, st.evaluator.ref)
    if rotating:
        # No repeat: not a placement the pharmacist holds in another period of the stream.
        other = kept[c.stream[kept] == s]
        taken = np.unique(c.pharmacist[other] * n_l + c.placement[other])
        ok = ~np.isin(c.pharmacist[idx] * n_l + c.placement[idx], taken)
        idx, value = idx[ok], value[ok]
        arc_p, arc_l, arc_v = c.pharmacist[idx], c.placement[idx], value
        arc_k, members = np.zeros(len(idx), dtype=np.int64), idx
    else:
        arc_p, arc_l, arc_v, arc_k, members = _line_arcs(st, idx, value, chain)
    if not len(arc_p):
        return None

    # ---- room left by the fixed assignments -----------------------------------------
    held = np.zeros((n_l, n_t), dtype=np.int64)
    np.add.at(held, (c.placement[kept], c.period[kept]), 1)
    room_lt = st.cap - held
    short_lt = np.maximum(0, st.evaluator.mf.reshape(n_l, n_t) - held)
    used_l = np.unique(arc_l)
    # The periods whose room the placement's chain of arcs carries, one link each (a
    # rotating slice: its one period).
    here = links[used_l]
    room = np.maximum(room_lt[used_l[:, None], here], 0)
    short = short_lt[used_l[:, None], here]
    res = st.resources
    org_of_l = np.asarray(res.org_of_l, dtype=np.int64)
    org_room = np.zeros(0, dtype=np.int64)
    if len(res.org_cap):
        left = res.org_left(c, kept)
        org_room = np.maximum(0, left[:, t] if rotating else left.min(axis=1))

    # ---- supervision rows ---------------------------------------------------------------
    a_row, a_sup = res.counted(arc_p, arc_l)
    sup_room = np.zeros(0, dtype=np.int64)
    if len(a_row):
        n_k = len(res.sup_cap)
        k_row, k_sup = res.counted(c.pharmacist[kept], c.placement[kept])
        k_p, k_t = c.pharmacist[kept][k_row], c.period[kept][k_row]
        # Distinct pharmacists per supervisor and period, as the rule counts them.
        cells = np.unique((k_p * n_k + k_sup) * n_t + k_t)
        used = np.bincount(cells // n_t % n_k * n_t + cells % n_t,
                           minlength=n_k * n_t).reshape(n_k, n_t)
        left = res.sup_cap - used
        sup_room = left[:, t] if rotating else left.min(axis=1)
        # A pharmacist its supervisor counts already (the other stream's line, in every
        # period the slice holds) takes none of its room.
        base_key = (arc_p[a_row] * n_k + a_sup) * n_t
        if rotating:
            counted_already = np.isin(base_key + t, cells)
        else:
            pattern = chain[arc_l[a_row], arc_k[a_row]]
            counted_already = np.all([np.isin(base_key + tt, cells)
                                      | ((pattern >> tt) & 1 == 0) for tt in range(n_t)],
                                     axis=0)
        a_row, a_sup = a_row[~counted_already], a_sup[~counted_already]
        # Rows the arcs cannot break are dropped.
        demand = np.bincount(a_sup, minlength=len(sup_room))
        binding = demand > sup_room
        keep = binding[a_sup]
        a_row, a_sup = a_row[keep], a_sup[keep]

    # ---- the network --------------------------------------------------------------------
    n_w, n_u, n_j = len(who), len(used_l), links.shape[1]
    p_node = np.full(n_p, -1, dtype=np.int64)
    p_node[who] = np.arange(n_w)
    # Placement l's node j: where lines over pattern j come in (rotating: the one node).
    l_node = np.full((n_l, n_j), -1, dtype=np.int64)
    l_node[used_l] = n_w + np.arange(n_u * n_j).reshape(n_u, n_j)
    o_used = np.unique(org_of_l[used_l][org_of_l[used_l] >= 0])
    o_node = np.full(max(1, len(org_room)), -1, dtype=np.int64)
    o_node[o_used] = n_w + n_u * n_j + np.arange(len(o_used))
    sink = n_w + n_u * n_j + len(o_used)
    big = (int(np.abs(arc_v).max()) + w.shortfall * n_t + 1) << 20
    net = Arcs()
    add = net.add
    # Empty arcs (forbidden where the sector mix or allow_unassigned needs the slot), then
    # the pharmacist -> placement arcs (all of capacity 1: none is left out).
    empty_arc = add(p_node[who], np.full(n_w, sink), np.ones(n_w, np.int64),
                    np.where(must[who], big, 0).astype(np.int64))
    pl_arc = add(p_node[arc_p], l_node[arc_l, arc_k], np.ones(len(arc_p), np.int64),
                 -arc_v)
    # Along each placement's chain, link j carries the lines covering its period
    # ``links[l, j]`` (patterns 0..j): its room there, the units short of min_fill first.
    # The last link leads to the placement's organisation (or the sink).
    out_of_l = np.where(org_of_l[used_l] >= 0, o_node[np.maximum(org_of_l[used_l], 0)],
                        sink)
    for j in range(n_j):
        head = l_node[used_l, j + 1] if j + 1 < n_j else out_of_l
        first = np.minimum(short[:, j], room[:, j])
        add(l_node[used_l, j], head, first, np.full(n_u, -w.shortfall))
        add(l_node[used_l, j], head, room[:, j] - first, np.zeros(n_u, np.int64))
    if len(o_used):
        add(o_node[o_used], np.full(len(o_used), sink), org_room[o_used],
            np.zeros(len(o_used), np.int64))
    tl, hd, cp, co = net.arrays()
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_w] = 1
    supplies[sink] = -n_w

    for _ in range(SUPERVISION_ROUNDS):
        mcf = min_cost_flow.SimpleMinCostFlow()
        mcf.add_arcs_with_capacity_and_unit_cost(tl, hd, cp, co)
        mcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
        if mcf.solve() != mcf.OPTIMAL:
            return None
        on = mcf.flows(pl_arc) > 0
        if not len(a_row):
            break
        counted = on[a_row]
        over = np.bincount(a_sup[counted], minlength=len(sup_room)) - sup_room
        if (over <= 0).all():
            break
        # Over a supervisor's room: its counted pharmacists worth least there lose the
        # arc, and so does everyone it counts who is not there now, so the next flow
        # keeps it within its room.
        full = over > 0
        cp[pl_arc[a_row[full[a_sup] & ~counted]]] = 0
        r, k = a_row[counted & full[a_sup]], a_sup[counted & full[a_sup]]
        worst = np.lexsort((arc_v[r], k))
        r, k = r[worst], k[worst]
        rank = np.arange(len(k)) - np.searchsorted(k, k)
        cp[pl_arc[r[rank < over[k]]]] = 0
    else:
        return None
    empty = mcf.flows(empty_arc) > 0
    if (empty & must[who]).any():
        return None
    new = members[on].ravel()
    new = new[new >= 0]
    out: IntArray = np.sort(np.concatenate([kept, new])).astype(np.int64)
    return out


def _chains(orders: IntArray) -> IntArray:
    """The chain of period masks of each row of ``orders`` (a permutation of the periods
    per row): every period, all but the first, all but the first two, ... down to the
    last alone."""
    out: IntArray = np.cumsum(np.left_shift(1, orders)[:, ::-1], axis=1)[:, ::-1]
    return out


def _pair_periods(st: FlowState, idx: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """The distinct (pharmacist, placement) pairs of candidates ``idx`` (indices into
    ``st.pairs``), each candidate's row among them, and each pair's periods in ``idx``
    as a bit mask."""
    pairs, inv = np.unique(st.pairs.of_cand[idx], return_inverse=True)
    mask = np.zeros(len(pairs), dtype=np.int64)
    np.bitwise_or.at(mask, inv, np.left_shift(1, st.cand.period[idx]))
    return pairs, inv, mask


def _orders(st: FlowState, comp: Component, base: IntArray, sliced: Slice) -> IntArray:
    """Each placement's order of the periods for a non-rotating ``sliced``
    (:func:`flow_slice`): the one whose chain of patterns holds the most lines held there
    now (a line outside it stays fixed), then the most pairs eligible in some periods
    only (a pharmacist on leave in one: the line over the others is in the chain), ties
    broken at random; every order is weighed for up to :data:`ORDERS_ALL` periods, else
    as many drawn at random. In a share :data:`RANDOM_ORDERS` of the calls every
    placement's order is drawn at random instead."""
    c, (n_l, n_t) = st.cand, st.cap.shape
    if st.rng.random() < RANDOM_ORDERS:
        out: IntArray = np.argsort(st.rng.random((n_l, n_t)), axis=1)
        return out
    if n_t <= ORDERS_ALL:
        perms = np.array(list(itertools.permutations(range(n_t))), dtype=np.int64)
    else:
        perms = np.array([st.rng.permutation(n_t)
                          for _ in range(math.factorial(ORDERS_ALL))], dtype=np.int64)
    chains = _chains(perms)
    now, _, now_m = _pair_periods(st, base[sliced.holds(c, base)])
    pairs, _, pair_m = _pair_periods(st, comp.idx[sliced.holds(c, comp.idx)])
    some = pair_m != (1 << n_t) - 1
    now_l, pair_l, pair_m = st.pairs.l[now], st.pairs.l[pairs[some]], pair_m[some]
    score = st.rng.random((n_l, len(perms)))
    for q, chain in enumerate(chains):
        score[:, q] += len(pair_l) * np.bincount(now_l[np.isin(now_m, chain)],
                                                 minlength=n_l)
        score[:, q] += np.bincount(pair_l[np.isin(pair_m, chain)], minlength=n_l)
    out = perms[score.argmax(axis=1)]
    return out


def _line_arcs(st: FlowState, idx: IntArray, value: IntArray, chain: IntArray
               ) -> tuple[IntArray, IntArray, IntArray, IntArray, IntArray]:
    """The arcs of a non-rotating slice: one per (pharmacist, placement, pattern of
    its placement's ``chain``) whose periods are all among the pair's candidates ``idx``
    (without allow_unassigned, only the pattern of every period the pharmacist is
    available). Returns each arc's pharmacist, placement, value (its candidates'
    ``value`` summed), pattern index and candidates (one row per arc, -1 past the
    pattern's periods)."""
    c, n_t = st.cand, st.cap.shape[1]
    pairs, inv, have = _pair_periods(st, idx)
    pair_p, pair_l = st.pairs.p[pairs], st.pairs.l[pairs]
    cell = np.full((len(pairs), n_t), -1, dtype=np.int64)
    cell[inv, c.period[idx]] = idx
    worth = np.zeros((len(pairs), n_t), dtype=np.int64)
    worth[inv, c.period[idx]] = value
    only = st.avail_bits[pair_p]
    arcs, pats = [], []
    for k in range(n_t):
        pattern = chain[pair_l, k]
        ok = (have & pattern) == pattern
        if not st.rnd.rules.allow_unassigned:
            ok &= only == pattern
        arcs.append(np.flatnonzero(ok))
        pats.append(np.full(int(ok.sum()), k, dtype=np.int64))
    pair, arc_k = np.concatenate(arcs), np.concatenate(pats)
    inside = (chain[pair_l[pair], arc_k][:, None] >> np.arange(n_t)) & 1 > 0
    members = np.where(inside, cell[pair], -1)
    arc_v = np.where(inside, worth[pair], 0).sum(axis=1)
    return pair_p[pair], pair_l[pair], arc_v, arc_k, members


def _exchange(st: FlowState, comp: Component, sliced: Slice) -> None:
    """One slice exchange of :func:`sweep`: kept if the checker passes it and the
    objective prefers it."""
    got = flow_slice(st, comp, comp.chosen, sliced) if comp.chosen is not None else None
    if got is None or st.evaluator(got) <= (comp.value or 0):
        return
    bad = bad_pharmacists(st, got, comp)
    if bad:
        log.warning("a slice exchange broke the rules of %d pharmacists", len(bad))
        return
    st.accept(comp, got, "slice-flow")


def sweep(st: FlowState, comp: Component, *, rounds: int = 3) -> int:
    """Re-assign the component's slices one after another by :func:`flow_slice`, in a
    random order, keeping each answer the checker passes and the objective prefers;
    again while a round gains (at most ``rounds``). Returns the points gained.

    An allocation already swept (nothing changed it since) is not swept again, and after
    ``n`` sweeps of the component in a row that gained nothing, one in ``n + 1`` is
    made (drawn at random): at 5,000 x 2,500 x 4 a sweep takes 1-3 s, and where the
    search's steps leave nothing for it (supervisors across both streams: 6 of 39
    sweeps gained) they took 80 of the search's 110 s.

    No exchange begins with less than :data:`SWEEP_MARGIN` times its expected time left
    (its slice's candidates at the slowest rate of this sweep so far). A fairness round's
    second stage is one component of the whole round: at 5,000 x 2,500 x 4 its
    host-period exchanges took 1-2 s each and its practice one 7.6 s, begun 5.5 s before
    the end, and the round ended 3-5 s after its time limit."""
    if (comp.chosen is None or comp.value is None
            or st.swept.get(comp.index) is comp.chosen):
        return 0
    idle = st.sweeps_idle.get(comp.index, 0)
    if idle and st.rng.random() * (idle + 1) >= 1.0:
        return 0
    start = comp.value
    rate = 0.0  # the slowest exchange so far, in seconds per candidate of its slice
    order = slices(st)
    sizes = [int(sliced.holds(st.cand, comp.idx).sum()) for sliced in order]
    for _ in range(rounds):
        before = comp.value
        for j in st.rng.permutation(len(order)).tolist():
            if st.budget.stopped() or comp.chosen is None:
                break
            size = sizes[j]
            if st.budget.left() < SWEEP_MARGIN * rate * size:
                continue  # not begun without twice the time it should take
            t0 = time.monotonic()
            _exchange(st, comp, order[j])
            rate = max(rate, (time.monotonic() - t0) / max(1, size))
        if comp.value is None or comp.value <= before:
            break
    st.swept[comp.index] = comp.chosen
    gained = int((comp.value or 0) - start)
    st.sweeps_idle[comp.index] = 0 if gained > 0 else idle + 1
    return gained
