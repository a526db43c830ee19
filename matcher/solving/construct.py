"""A greedy allocation of a component from the flow's pairs: :func:`construct`.

Used where CP-SAT finds no good first allocation in time (very large components, or a
restricted start cut short); its breaches of the sector rules and pins are then repaired
by :func:`matcher.solving.lns.repair`.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from matcher.solving.components import Component
from matcher.solving.state import POPCOUNT, FlowState, Room

__all__ = ["construct"]

IntArray = npt.NDArray[np.int64]


def construct(st: FlowState, comp: Component, keep: IntArray | None = None) -> IntArray:
    """A greedy allocation from the flow, in two passes over the pharmacists (best flow
    value first). Pass one gives each what the flow gives them: a non-rotating stream's
    flow placement in as many periods as its flow units, where it fits; the rotating
    streams' flow placements matched to periods (every order of periods tried; of the
    orders placing the most, one covering the most sectors still needed). Pass two fills
    what is still empty: a line held over the other periods it fits in (else the best
    line that fits), empty rotating periods with the best pair that fits, preferring a
    sector still needed. Capacity, organisation caps and supervision are respected
    (counted conservatively); sector rules and pins are left to CP-SAT, which gets this
    as a hint.

    Where seats run short the flow decides who goes without: in one pass, each
    pharmacist taking every period that fits, the seats went to the first pharmacists and
    the last lacked the sectors their rules need. On a tight 5,000 x 2,500 x 4 round 290
    of 5,000 broke their sector rules (now 39), and their repairs took 45 s of the 120
    (now 4 s).

    ``keep`` (candidate positions, e.g. a re-plan's reference) is taken first, like pins,
    line by line while it fits: what a mid-programme change broke (a seat cut, a
    pharmacist on leave) is left out and its slots filled from the flow like any other."""
    rnd, c, pr = st.rnd, st.cand, st.pairs
    n_t = len(rnd.periods)
    room = Room(st, np.zeros(0, np.int64))
    chosen: list[int] = []
    pidx_all = np.unique(pr.of_cand[comp.idx])
    value = np.bincount(pr.p[pidx_all], weights=(st.units[pidx_all] * pr.score[pidx_all]),
                        minlength=len(rnd.pharmacists))
    order = comp.pharmacists[np.argsort(-value[comp.pharmacists], kind="stable")]
    starts = np.searchsorted(pr.p, order)
    ends = np.searchsorted(pr.p, order, side="right")
    hist = st.hist
    # Distinct sectors each pharmacist must cover, history included.
    sectors = st.need + POPCOUNT[hist]
    fits = room.fits

    def take(p: int, li: int, t: int, j: int) -> None:
        room.move(p, li, t, 1)
        chosen.append(j)

    pinned = comp.holds(st.pins)
    pinned_slot: set[tuple[int, int, int]] = set()
    pinned_pair: dict[int, int] = {}
    for j in pinned.tolist():
        p, li, t = int(c.pharmacist[j]), int(c.placement[j]), int(c.period[j])
        take(p, li, t, j)
        pinned_slot.add((p, int(c.stream[j]), t))
        pinned_pair[int(pr.of_cand[j])] = j
    kept = np.setdiff1d(comp.holds(keep), pinned) if keep is not None \
        else np.zeros(0, np.int64)
    for j in kept.tolist():
        p, li, t = int(c.pharmacist[j]), int(c.placement[j]), int(c.period[j])
        slot, q = (p, int(c.stream[j]), t), int(pr.of_cand[j])
        if slot in pinned_slot or (q in pinned_pair and st.rotating[int(c.stream[j])]) \
                or not fits(p, li, t):
            continue
        take(p, li, t, j)
        pinned_slot.add(slot)
        pinned_pair.setdefault(q, j)
    # Pass one: every pharmacist's flow placements; pass two: the periods still empty.
    covered = {p: int(hist[p]) for p in order.tolist()}
    used: dict[tuple[int, int], set[int]] = {}  # pairs held, per (pharmacist, stream)
    held_t: dict[tuple[int, int], set[int]] = {}  # periods held, per (pharmacist, stream)
    lines: dict[tuple[int, int], int] = {}  # the pair of each non-rotating line taken
    for q, j in pinned_pair.items():
        p = int(c.pharmacist[j])
        covered[p] |= 1 << int(pr.sec[q])
    for flow_pass in (True, False):
        for p, lo, hi in zip(order.tolist(), starts.tolist(), ends.tolist(), strict=True):
            mine = np.arange(lo, hi)
            for s in range(len(st.rotating)):
                ps = mine[pr.s[mine] == s]
                if not len(ps):
                    continue
                ranked = ps[np.lexsort((-pr.score[ps], -st.units[ps]))]
                pins_here = [q for q in ranked.tolist() if q in pinned_pair]
                used_q = used.setdefault((p, s), set(pins_here))
                used_t = held_t.setdefault((p, s), set())
                if not st.rotating[s]:
                    line = lines.get((p, s))
                    if line is not None:
                        # Pass two: the line held over the periods it still fits.
                        if not flow_pass:
                            q = line
                            for j in range(int(pr.start[q]), int(pr.start[q] + pr.count[q])):
                                t = int(c.period[j])
                                if (t not in used_t and (p, s, t) not in pinned_slot
                                        and fits(p, int(pr.l[q]), t)):
                                    take(p, int(pr.l[q]), t, j)
                                    used_t.add(t)
                        continue
                    options = pins_here[:1] or [q for q in ranked[:8].tolist()
                                                if not flow_pass or st.units[q] > 0]
                    best: tuple[int, list[tuple[int, int]]] | None = None
                    for q in options:
                        js = range(int(pr.start[q]), int(pr.start[q] + pr.count[q]))
                        ok = [(j, int(c.period[j])) for j in js
                              if (p, s, int(c.period[j])) not in pinned_slot
                              and int(c.period[j]) not in used_t
                              and fits(p, int(pr.l[q]), int(c.period[j]))]
                        if best is None or len(ok) > len(best[1]):
                            best = (q, ok)
                        if len(ok) == pr.count[q]:
                            break
                    if best is not None and best[1]:
                        q, ok = best
                        if flow_pass and q not in pinned_pair:
                            ok = ok[:max(1, int(st.units[q]))]  # as many as the flow's
                        for j, t in ok:
                            take(p, int(pr.l[q]), t, j)
                            used_t.add(t)
                        lines[p, s] = q
                        covered[p] |= 1 << int(pr.sec[q])
                    continue
                periods = [t for t in range(n_t) if st.avail[p, t]
                           and (p, s, t) not in pinned_slot and t not in used_t]
                if flow_pass:
                    flow_q = [q for q in ranked[st.units[ranked] > 0].tolist()
                              if q not in pinned_pair]
                    # Candidate (pair, period) options of the flow's pairs.
                    opts = {q: {int(c.period[j]): j for j in range(
                        int(pr.start[q]), int(pr.start[q] + pr.count[q]))} for q in flow_q}
                    # The plan placing the most of them, first the one covering the
                    # most sectors still needed.
                    best_plan: list[tuple[int, int]] = []
                    plan_key = (-1, -1)
                    for perm in itertools.permutations(periods,
                                                       min(len(periods), len(flow_q))):
                        plan = [(q, opts[q][t]) for q, t in zip(flow_q, perm, strict=False)
                                if t in opts[q] and fits(p, int(pr.l[q]), t)]
                        bits = covered[p]
                        for q, _ in plan:
                            bits |= 1 << int(pr.sec[q])
                        key = (min(int(POPCOUNT[bits]), int(sectors[p])), len(plan))
                        if key > plan_key:
                            best_plan, plan_key = plan, key
                            if len(plan) == len(flow_q):
                                break
                    for q, j in best_plan:
                        take(p, int(pr.l[q]), int(c.period[j]), j)
                        used_t.add(int(c.period[j]))
                        used_q.add(q)
                        covered[p] |= 1 << int(pr.sec[q])
                    continue
                for t in periods:
                    # Fill: prefer a sector still needed, then the score.
                    short = POPCOUNT[covered[p]] < sectors[p]
                    best_j, best_key = -1, None
                    for q in ranked.tolist():
                        if q in used_q:
                            continue
                        new = not (covered[p] >> int(pr.sec[q])) & 1
                        key = (bool(short and new), int(pr.score[q]))
                        if best_key is not None and key <= best_key:
                            continue
                        for j in range(int(pr.start[q]), int(pr.start[q] + pr.count[q])):
                            if int(c.period[j]) == t and fits(p, int(pr.l[q]), t):
                                best_j, best_key = j, key
                                break
                    if best_j >= 0:
                        q = int(pr.of_cand[best_j])
                        take(p, int(pr.l[q]), t, best_j)
                        used_q.add(q)
                        used_t.add(t)
                        covered[p] |= 1 << int(pr.sec[q])
    return np.sort(np.array(chosen, dtype=np.int64))
