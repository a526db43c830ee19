"""Fill a component's empty slots by single moves: :func:`fill_empty`.

A CP-SAT start or search step cut short by its time limit can leave (pharmacist, period,
stream) slots empty that a one-line change fills. Nearly all of them are in a
non-rotating stream, where the rule "the same placement in every period" meets per-period
capacities: a pharmacist holds a practice in two periods that is closed or full in the
third. At 2,000 x 1,500 x 3 with per-period capacities 34 of 35 empty slots (10,000
points each, most of the round's gap) were of that kind, each with 30-70 placements that
had room in every period. The moves:

- **rotating stream**: the best placement with room in the empty period that the
  pharmacist has not held;
- **non-rotating stream**: the placement, with room in every period the pharmacist
  holds one and in as many empty ones as possible, that gains most: keeping the same
  placement and adding periods, or moving all of them to another one (never a pinned
  line, never breaking the sector mix).

Each move is priced by its change to the §4 objective (score, unassigned, shortfall,
change; with fairness no move lowers the pharmacist's preference points) and kept only
when it gains. Room is counted for capacity, organisation caps and supervisors. The
result is checked by the independent checker before the caller may keep it.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import numpy.typing as npt

from matcher.eligibility import Candidates
from matcher.solving.components import Component
from matcher.solving.flow import Pairs, required_mask
from matcher.solving.lns import bad_pharmacists
from matcher.solving.state import POPCOUNT, FlowState, Room

__all__ = ["fill_empty", "fill_gaps", "relieve_shortfall"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]


class _Moves:
    """An allocation of one component being changed by single moves: its room, each
    pharmacist's lines and the objective terms a move changes."""

    def __init__(self, st: FlowState, chosen: IntArray) -> None:
        rnd, c = st.rnd, st.cand
        self.st, self.c, self.pr, self.sc = st, c, st.pairs, st.sc
        self.w = rnd.weights
        self.room = Room(st, chosen)
        # The objective's own min_fill and reference (the evaluator's, computed once).
        self.mf = st.evaluator.mf.reshape(st.cap.shape)
        self.ref = set(st.evaluator.ref.tolist())
        self.pinned = set(st.pins.tolist())
        self.required = required_mask(rnd)
        self.out = set(chosen.tolist())
        self.mine: dict[int, list[int]] = defaultdict(list)
        self.lines: dict[tuple[int, int], list[int]] = defaultdict(list)
        for j, p, s in zip(chosen.tolist(), c.pharmacist[chosen].tolist(),
                           c.stream[chosen].tolist(), strict=True):
            self.mine[p].append(j)
            self.lines[p, s].append(j)

    def gain(self, j: int, sign: int) -> int:
        """What adding (1) or removing (-1) candidate j changes in the objective, with the
        room as it is now (fairness aside)."""
        c, w = self.c, self.w
        li, t = int(c.placement[j]), int(c.period[j])
        g = int(self.sc.total[j]) + w.unassigned + (w.change if j in self.ref else 0)
        h = int(self.room.held[li, t])
        short = h < self.mf[li, t] if sign > 0 else h <= self.mf[li, t]
        return sign * (g + (w.shortfall if short else 0))

    def sectors_ok(self, p: int, held: list[int]) -> bool:
        """Whether ``held`` (p's candidates) meets the sector mix (§3.6)."""
        st = self.st
        mask = int(st.hist[p])
        for j in held:
            mask |= 1 << int(self.pr.sec[self.pr.of_cand[j]])
        a = int(st.a_count[p])
        return bool(POPCOUNT[mask] >= min(st.rnd.rules.min_distinct_sectors, a)
                    and (a == 0 or mask & self.required == self.required))

    def pairs(self, p: int, s: int) -> list[int]:
        """The pairs of ``p`` in stream ``s``."""
        lo, hi = np.searchsorted(self.pr.p, [p, p + 1])
        return [q for q in range(int(lo), int(hi)) if int(self.pr.s[q]) == s]

    def apply(self, p: int, drop: list[int], add: list[int]) -> bool:
        """Replace ``drop`` by ``add`` in p's lines unless that breaks the sector mix or
        (with fairness) lowers p's preference points; whether it was done."""
        c = self.c
        others = [j for j in self.mine[p] if j not in drop]
        if not self.sectors_ok(p, others + add) and self.sectors_ok(p, self.mine[p]):
            return False
        if self.w.fairness and self.sc.points[add].sum() < self.sc.points[drop].sum():
            return False
        for j in drop:
            self.room.move(p, int(c.placement[j]), int(c.period[j]), -1)
            self.out.discard(j)
        for j in add:
            self.room.move(p, int(c.placement[j]), int(c.period[j]), 1)
            self.out.add(j)
        self.mine[p] = others + add
        for s in {int(c.stream[j]) for j in [*drop, *add]}:
            self.lines[p, s] = [j for j in self.mine[p] if int(c.stream[j]) == s]
        return True

    def chosen(self) -> IntArray:
        """The allocation as it is now."""
        return np.array(sorted(self.out), dtype=np.int64)


def fill_empty(st: FlowState, comp: Component, chosen: IntArray) -> IntArray:
    """``chosen`` (the component's allocation, candidate positions) with empty slots
    filled by single moves that gain (module docs); ``chosen`` itself when none does.
    Only rules the moves could break are tracked here: the caller checks the answer."""
    empty = st.empty_slots(comp, chosen)
    todo = comp.pharmacists[empty > 0]
    if not len(todo):
        return chosen
    mv = _Moves(st, chosen)
    c, pr = st.cand, st.pairs
    for p in todo.tolist():
        for s in range(len(st.rotating)):
            held_s = list(mv.lines.get((p, s), ()))
            busy = {int(c.period[j]) for j in held_s}
            empty_t = [t for t in range(st.cap.shape[1]) if st.avail[p, t] and t not in busy]
            if not empty_t:
                continue
            qs = mv.pairs(p, s)
            if not st.rotating[s]:
                plan = _continuity_move(mv, p, qs, held_s, empty_t)
                if plan is not None:
                    mv.apply(p, *plan)
                continue
            for t in empty_t:
                taken = {int(c.placement[j]) for j in mv.mine[p]}
                best, best_g = -1, 0
                for q in qs:
                    li = int(pr.l[q])
                    j = _in_period(c, pr, q, t)
                    if li not in taken and j >= 0 and mv.room.fits(p, li, t):
                        g = mv.gain(j, 1)
                        if g > best_g:
                            best, best_g = j, g
                if best >= 0:
                    mv.apply(p, [], [best])
    return mv.chosen()


def relieve_shortfall(st: FlowState, comp: Component, chosen: IntArray) -> IntArray:
    """``chosen`` with placement-periods below their ``min_fill`` topped up by moving a
    pharmacist there from a placement that does not fall short for it, where that gains:
    in a rotating stream the one period, in a non-rotating one the whole line."""
    if not st.rnd.weights.shortfall:
        return chosen
    cells = st.short_cells(comp, chosen).tolist()
    if not cells:
        return chosen
    mv = _Moves(st, chosen)
    c, pr = st.cand, st.pairs
    # The component's candidates by placement and period.
    key = c.placement[comp.idx] * st.cap.shape[1] + c.period[comp.idx]
    order = np.argsort(key, kind="stable")
    skey = key[order]
    w = st.rnd.weights
    # The most one added line can gain (its score plus what any line may earn besides).
    ceiling = st.sc.total + w.unassigned + w.change + w.shortfall
    for li, t in cells:
        while mv.room.held[li, t] < mv.mf[li, t]:
            a, b = np.searchsorted(skey, [li * st.cap.shape[1] + t,
                                          li * st.cap.shape[1] + t + 1])
            best: tuple[int, list[int], list[int]] | None = None
            best_g = 0
            js = comp.idx[order[a:b]]
            for j, p, s, top in zip(js.tolist(), c.pharmacist[js].tolist(),
                                    c.stream[js].tolist(), ceiling[js].tolist(), strict=True):
                held_s = mv.lines.get((p, s))
                if not held_s:
                    continue  # an empty slot (fill_empty's work) or nothing to move
                if st.rotating[s]:
                    here = [h for h in held_s if int(c.period[h]) == t]
                    if not here:
                        continue  # an empty slot: fill_empty's work
                    drop = here
                else:
                    drop = held_s
                lost = sum(mv.gain(h, -1) for h in drop)
                if lost + top * len(drop) <= best_g:
                    continue  # cannot beat the best move found
                if any(h in mv.pinned for h in held_s) or \
                        any(int(c.placement[h]) == li for h in mv.mine[p]):
                    continue
                if st.rotating[s]:
                    add = [j] if mv.room.fits(p, li, t, int(c.placement[here[0]])) else []
                else:
                    q = int(pr.of_cand[j])
                    l0 = int(c.placement[held_s[0]])
                    add = [k for h in held_s
                           if (k := _in_period(c, pr, q, int(c.period[h]))) >= 0
                           and mv.room.fits(p, li, int(c.period[h]), leaving=l0)]
                if len(add) < len(drop):
                    continue
                g = lost + sum(mv.gain(k, 1) for k in add)
                if g > best_g:
                    best, best_g = (p, drop, add), g
            if best is None or not mv.apply(*best):
                break
    return mv.chosen()


def _in_period(c: Candidates, pr: Pairs, q: int, t: int) -> int:
    """The candidate of pair ``q`` in period ``t``, or -1."""
    start, count = int(pr.start[q]), int(pr.count[q])
    periods = c.period[start:start + count]
    k = int(np.searchsorted(periods, t))
    return start + k if k < count and int(periods[k]) == t else -1


def _continuity_move(mv: _Moves, p: int, qs: list[int], held: list[int],
                     empty_t: list[int]) -> tuple[list[int], list[int]] | None:
    """The best gaining move of ``p`` in a non-rotating stream that fills some of its
    ``empty_t`` periods: (candidates dropped, candidates added), or None."""
    c, pr, room = mv.c, mv.pr, mv.room
    l0 = int(c.placement[held[0]]) if held else -1
    if l0 >= 0 and any(j in mv.pinned for j in held):
        qs = [q for q in qs if int(pr.l[q]) == l0]  # a pinned line stays where it is
    lost = sum(mv.gain(j, -1) for j in held)
    best: tuple[list[int], list[int]] | None = None
    best_g = 0
    for q in qs:
        li = int(pr.l[q])
        same = li == l0
        # The same periods at the new placement (all of them, or the move is not made).
        keep = [] if same else [j for j0 in held
                                if (j := _in_period(c, pr, q, int(c.period[j0]))) >= 0
                                and room.fits(p, li, int(c.period[j0]), leaving=l0)]
        if len(keep) < (0 if same else len(held)):
            continue
        new = [j for t in empty_t if (j := _in_period(c, pr, q, t)) >= 0
               and room.fits(p, li, t)]
        if not new:
            continue
        g = sum(mv.gain(j, 1) for j in new)
        if not same:
            g += sum(mv.gain(j, 1) for j in keep) + lost
        if g > best_g:
            best_g = g
            best = ([], new) if same else (list(held), keep + new)
    return best


def fill_gaps(st: FlowState, comp: Component) -> bool:
    """Fill the empty slots of the component's allocation (:func:`fill_empty`) and keep
    the answer when the checker finds it breaks no rule and it is better.

    The moves depend only on the component's allocation, so an allocation already tried
    (a search step that gained nothing leaves it as it was) is not tried again. That
    saves little where most steps gain: on 5,000 x 2,500 x 4 with per-period capacities
    the moves took 27 s of the search's two cores in 78-82 calls a run, changed the
    allocation in 12 (7 of them right after the starts) and gained 15,000 points after
    the starts."""
    if comp.chosen is None or st.fill_tried.get(comp.index) is comp.chosen:
        return False
    st.fill_tried[comp.index] = comp.chosen
    got = relieve_shortfall(st, comp, fill_empty(st, comp, comp.chosen))
    if len(got) == len(comp.chosen) and bool((got == comp.chosen).all()):
        return False
    bad = bad_pharmacists(st, got, comp)
    if bad:  # a rule the moves do not track (a bug): keep the allocation as it was
        log.warning("filling empty slots broke the rules of %d pharmacists", len(bad))
        return False
    return st.accept(comp, got, "fill")
