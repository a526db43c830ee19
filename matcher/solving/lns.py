"""Large-neighbourhood search on a component, and the repair of a greedy allocation.

A step frees the pharmacists competing for the placements around a seed pharmacist (one
holding an empty slot, with those whose moves would fill it, most of the time), keeps
everyone else's assignments fixed (their variables fixed to 1 in the sub-model), solves
the sub-model with CP-SAT for a short time from the current allocation, and keeps the
answer if it is better. Steps from an empty slot, and half of the others, free only a
*slice* of those pharmacists' slots (:class:`Slice`: one stream, and one period of a
rotating one), so many more pharmacists move at once within it. Once the component has
a focus (its LP's support, :func:`pool`) the steps choose only among those candidates and
the allocation's, in smaller, shorter sub-models whose size adapts to what CP-SAT proves.
Deterministic for a seed with one worker, time limits aside.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher import checker
from matcher.eligibility import Candidates
from matcher.solving import cpsat
from matcher.solving.components import Component
from matcher.solving.formulation import build_model
from matcher.solving.state import FlowState

__all__ = ["LNS_STEP_S", "Slice", "around_empty", "bad_pharmacists", "chains", "empty_slot",
           "free_solve", "lns_step", "neighbourhood", "open_to", "pool", "repair",
           "scattered", "slice_of", "step_size", "worst_off"]

IntArray = npt.NDArray[np.int64]

# Target size (candidates) of an LNS sub-model. With CP-SAT tuned as for the full model
# (linearisation level 2, light presolve), steps of 15,000-30,000 candidates took 0.5-1.2 s
# and filled the slots a restricted start left empty; 45,000 untuned ran out of 4 s.
LNS_TARGET_CANDIDATES = 20_000
LNS_MIN_PHARMACISTS = 8
# Longest CP-SAT run of one LNS step (seconds).
LNS_STEP_S = 4.0
# Steps on a component's focus (its LP's support, :func:`pool`): target size and longest
# run. On a 156,000-candidate component of a 2,000 x 1,500 x 3 per-period round whose
# support (x > 0.05) was 5,750 candidates, CP-SAT on the whole support from the
# allocation closed 1 point of 13,558 in 10 s; 1.5 s steps of 2,500 candidates closed
# 11,300 (of 1,000: 10,500; of 4,000: none, every step cut short).
LNS_FOCUS_CANDIDATES = 2_500
LNS_FOCUS_STEP_S = 1.5
# Adaptive size of the steps on a focus: a step CP-SAT proves (the best of its
# neighbourhood) makes the component's next steps STEP_GROW times larger, one cut short
# STEP_SHRINK times, within STEP_SCALE_MIN..MAX of the target. On 2,000 x 1,500 x 3
# per-period rounds, focus steps of 2,500 candidates were proven in 67 of 77 steps (0.48 s
# each on average), and steps of 4,000 were cut short so often that the round ended
# 3.2-5.2 % from its bound against 1.7-2.1 %: the size CP-SAT copes with differs by
# component and is close to the edge. Three seeds, two runs: 1.71 / 1.67 / 1.50 % and
# 1.97 / 1.73 / 1.79 % against 2.24 / 1.96 / 1.59 % with fixed steps. Not on steps over a
# whole component: re-plans of that size ended 1.09 / 1.57 / 0.93 % with it, 0.99 / 1.21 /
# 0.82 % without.
STEP_GROW = 1.1
STEP_SHRINK = 0.8
STEP_SCALE_MIN = 0.3
STEP_SCALE_MAX = 3.0
# Fairness rounds: share of the steps grown from the worst-off pharmacists, and how many
# of them seed one step at most.
WORST_OFF_SHARE = 0.5
WORST_OFF_SEEDS = 24
# Steps grown from a placement-period below its min_fill: their share of the steps when
# there is one (the rest grow from a random pharmacist: a short seat may be one nobody can
# fill), and how many of the pharmacists who could take it seed the step, besides its
# holders.
SHORT_SHARE = 0.5
SHORT_TAKERS = 6
# Steps grown from an empty slot free first the pharmacists on the shortest chains of
# moves from it to a seat with room (:func:`chains`): at most CHAIN_PATHS chains of at
# most CHAIN_DEPTH moves, looked for among at most CHAIN_VISITS pharmacists. On a tight
# 2,000 x 1,500 x 3 round (seed 0), where each component ended 1-3 slots short of optima
# that HiGHS found within 1,500 points of the bound, the round ended 2.9-5.5 % from its
# bound against 6.7-7.3 % with steps grown through the placements the seed scores best.
CHAIN_PATHS = 4
CHAIN_DEPTH = 6
CHAIN_VISITS = 600
# Slice steps (:func:`lns_step`): share of the steps not grown from an empty slot that
# free one stream of the freed pharmacists (and one period of it, in a rotating stream)
# instead of all their slots (every step from an empty slot frees its slot's slice, see
# :func:`scattered`), and their target size (candidates of the slice). A slice
# frees two to ten times as many pharmacists for the same size, and the exchanges that
# per-period capacities and continuity call for span many pharmacists in one stream: on a
# 2,000 x 1,500 x 3 per-period round's components, HiGHS's optimum differed from the
# allocation in 206 of 231 pharmacists, and a run of twice the time (120 s) ended no
# better. With slices, three seeds of that round ended 0.63 / 0.36 / 0.30 % from their
# bounds against 1.86 / 1.57 / 1.54 %; other shapes gained or held (re-plan, change 200:
# 0.004 % against 0.24 %; supervisors spanning streams 0.83 / 0.73 / 1.01 % against
# 0.85 / 1.12 / 1.30 %). Shares of 0.8: per-period 0.69 / 0.79 % against 0.61 / 0.71 %;
# targets of 5,000 and 20,000: tight seed 0 3.5-4.2 % and 2.7-3.5 % against 1.6-2.1 %.
SLICE_SHARE = 0.5
SLICE_TARGET_CANDIDATES = 10_000
# Rule breakers of a constructed allocation placed back by one CP-SAT sub-solve
# (:func:`repair`).
REPAIR_BATCH = 8


def pool(comp: Component, base: IntArray | None = None) -> IntArray:
    """The candidate positions the search on ``comp`` chooses from: all of them, or its
    :attr:`~matcher.solving.components.Component.focus` with ``base`` (by default its
    allocation), so the allocation a step starts from stays feasible in it."""
    if comp.focus is None:
        return comp.idx
    base = comp.chosen if base is None else base
    if base is None:
        return comp.focus
    out: IntArray = np.union1d(comp.focus, base).astype(np.int64)
    return out


def step_size(st: FlowState, comp: Component, scale: float = 1.0,
              sliced: Slice | None = None) -> int:
    """How many pharmacists a step on ``comp`` frees: ``scale`` times the target size
    (candidates: :data:`LNS_TARGET_CANDIDATES`, on a focus :data:`LNS_FOCUS_CANDIDATES`,
    of a slice :data:`SLICE_TARGET_CANDIDATES`) over the candidates a pharmacist has in
    the component's :func:`pool` (in the slice), at least :data:`LNS_MIN_PHARMACISTS`."""
    among = pool(comp)
    if sliced is not None:
        among = among[sliced.holds(st.cand, among)]
    per_ph = max(1.0, len(among) / max(1, len(comp.pharmacists)))
    size = (SLICE_TARGET_CANDIDATES if sliced is not None
            else LNS_TARGET_CANDIDATES if comp.focus is None else LNS_FOCUS_CANDIDATES)
    return int(max(LNS_MIN_PHARMACISTS, scale * size / per_ph))


def scattered(st: FlowState, comp: Component, seeds: list[int], sliced: Slice,
              scale: float = 1.0) -> IntArray:
    """Pharmacists to free for a slice step from an empty slot: the ``seeds`` (the slot's
    pharmacist and its chains of moves) and others of the component drawn at random, up
    to :func:`step_size`. Growing it through the placements the freed like best instead
    left a tight 2,000 x 1,500 x 3 round (seed 0) 3.5-4.6 % from its bound; with these
    1.6-2.1 %: in a tight round the seats that help are the ones nobody likes."""
    mine = np.asarray(seeds, dtype=np.int64)
    rest = np.setdiff1d(comp.pharmacists, mine)
    k = max(0, min(len(rest), step_size(st, comp, scale, sliced) - len(mine)))
    out: IntArray = np.union1d(mine, st.rng.choice(rest, k, replace=False)).astype(np.int64)
    return out


def neighbourhood(st: FlowState, comp: Component, base: IntArray,
                  seeds: list[int] | None = None, scale: float = 1.0,
                  wished: bool = False, sliced: Slice | None = None) -> IntArray:
    """Pharmacists to free: from the seeds (or a random pharmacist), those holding the
    placements the freed ones like best, breadth first, up to a size target.

    ``wished``: the seeds' placements are taken in order of their preference points
    first (the placements they asked for), then of score: the holders of what a worst-off
    pharmacist wished for are freed before anyone else. ``sliced``: only that slice of
    each freed pharmacist's candidates will be free (:func:`free_solve`), and the target
    is :data:`SLICE_TARGET_CANDIDATES` of those."""
    c = st.cand
    target = step_size(st, comp, scale, sliced)
    if target >= len(comp.pharmacists):
        return comp.pharmacists
    cp_ = c.placement[base]
    ch_p = c.pharmacist[base]
    order = np.argsort(cp_, kind="stable")
    lsorted = cp_[order]
    free: set[int] = set()
    queued: set[int] = set()
    frontier = list(seeds) if seeds else [int(st.rng.choice(comp.pharmacists))]
    queued.update(frontier)
    pr = st.pairs
    while len(free) < target:
        if not frontier:
            rest = np.setdiff1d(comp.pharmacists, np.fromiter(free, np.int64))
            if not len(rest):
                break
            frontier.append(int(st.rng.choice(rest)))
        p = frontier.pop(0)
        if p in free:
            continue
        free.add(p)
        lo, hi = np.searchsorted(pr.p, [p, p + 1])
        if wished and seeds and p in seeds:
            top = np.arange(lo, hi)[np.lexsort((-pr.score[lo:hi], -pr.points[lo:hi]))]
        else:
            top = np.arange(lo, hi)[np.argsort(-pr.score[lo:hi], kind="stable")]
        if not seeds or p not in seeds:
            top = top[:6]
        for li in pr.l[top].tolist():
            a, b = np.searchsorted(lsorted, [li, li + 1])
            for q in ch_p[order[a:b]].tolist():
                if q not in queued:
                    queued.add(q)
                    frontier.append(q)
    return np.sort(np.fromiter(free, np.int64))


def open_to(st: FlowState, kept: IntArray, idx: IntArray) -> npt.NDArray[np.bool_]:
    """Which candidates of ``idx`` still have room with the ``kept`` assignments fixed:
    their placement not filled in that period, nor their capped organisation (distinct
    pharmacists). The others cannot be chosen in a sub-model that fixes ``kept``."""
    c = st.cand
    n_t = st.cap.shape[1]
    held = np.bincount(c.placement[kept] * n_t + c.period[kept], minlength=st.cap.size)
    out: npt.NDArray[np.bool_] = (st.cap.ravel() - held)[c.placement[idx] * n_t
                                                        + c.period[idx]] > 0
    res = st.resources
    if len(res.org_cap):
        org_of = np.asarray(res.org_of_l, dtype=np.int64)
        full = (res.org_left(c, kept) <= 0).ravel()
        o = org_of[c.placement[idx]]
        has = o >= 0
        out[has] &= ~full[o[has] * n_t + c.period[idx][has]]
    return out


@dataclass(frozen=True)
class Slice:
    """The part of a freed pharmacist's slots a slice step frees: one stream, and in a
    rotating stream one period of it (``period`` None: every period, as a non-rotating
    stream's continuity needs)."""

    stream: int
    period: int | None

    def holds(self, c: Candidates, idx: IntArray) -> npt.NDArray[np.bool_]:
        """Which candidates of ``idx`` are in the slice."""
        out: npt.NDArray[np.bool_] = c.stream[idx] == self.stream
        if self.period is not None:
            out &= c.period[idx] == self.period
        return out


def free_solve(st: FlowState, comp: Component, base: IntArray, freed: IntArray,
               time_limit: float, sliced: Slice | None = None, *,
               scope: npt.NDArray[np.bool_] | None = None, first: bool = False
               ) -> tuple[IntArray | None, bool]:
    """CP-SAT over the candidates of ``freed`` (in the component's :func:`pool`; with
    ``sliced``, only those in the slice) with room left (:func:`open_to`), every other
    ``base`` assignment fixed: the answer (global candidate indices) or None, and whether
    CP-SAT proved it the best of the neighbourhood (or none exists). ``scope``: the
    pharmacists whose personal rules the sub-model states (default: the component's);
    one left out must hold nothing in ``base`` and not be freed. ``first``: CP-SAT stops
    at its first solution."""
    c = st.cand
    is_free = np.zeros(len(st.rnd.pharmacists), dtype=bool)
    is_free[freed] = True
    among = pool(comp, base)

    def frees(idx: IntArray) -> npt.NDArray[np.bool_]:
        out = is_free[c.pharmacist[idx]]
        return out if sliced is None else out & sliced.holds(c, idx)

    free_idx = among[frees(among)]
    kept = base[~frees(base)]
    # Half the candidates of a step or more sit where the fixed assignments fill every
    # seat (2,000 x 1,500 x 3: 45-75 %; 5,000 x 2,500 x 4 per-period: 47 %); CP-SAT's
    # presolve drops them, after they were built and written. The freed pharmacists' own
    # assignments stay: the hint, and a repair's ``base`` may overfill.
    free_idx = free_idx[open_to(st, kept, free_idx) | np.isin(free_idx, base)]
    idx = np.union1d(free_idx, kept).astype(np.int64)
    model = build_model(st.rnd, c.subset(idx), st.sc.subset(idx),
                        scope=st.scope(comp) if scope is None else scope)
    pos = np.searchsorted(idx, base)
    hint = model.complete(model.variables.values_for(pos))
    fixed = np.searchsorted(idx, kept)
    seed = int(st.rng.integers(0, 2**31 - 1))
    ans = cpsat.run(model, st.budget, st.params, time_limit=time_limit, hint=hint,
                    fixed=fixed, seed=seed, workers=st.workers(), first=first)
    proven = ans.status in ("optimal", "infeasible")
    if ans.chosen is None:
        return None, proven
    out: IntArray = idx[ans.chosen]
    return out, proven


def empty_slot(st: FlowState, base: IntArray, p: int) -> tuple[int, int] | None:
    """One of ``p``'s empty (period, stream) slots under ``base``, drawn at random; None
    when it has none."""
    c = st.cand
    mine = base[c.pharmacist[base] == p]
    taken = set(zip(c.period[mine].tolist(), c.stream[mine].tolist(), strict=True))
    slots = [(t, s) for t in np.flatnonzero(st.avail[p]).tolist()
             for s in range(len(st.rotating)) if (t, s) not in taken]
    return slots[int(st.rng.integers(len(slots)))] if slots else None


def chains(st: FlowState, comp: Component, base: IntArray, p: int,
           slot: tuple[int, int] | None = None) -> list[int]:
    """``p`` and the pharmacists on the shortest chains of moves that would fill one of its
    empty (period, stream) slots under ``base`` (``slot``, else one drawn at random, see
    :func:`empty_slot`): ``p`` takes a placement of that stream that others hold, they
    take others..., until one takes a seat with room (:func:`open_to`). Shortest chains
    first, at most :data:`CHAIN_PATHS` of them, of at most :data:`CHAIN_DEPTH` moves,
    among at most :data:`CHAIN_VISITS` pharmacists; just ``[p]`` when none is found.

    A move is to a placement the pharmacist may hold in every period it needs there: the
    empty slot's period in a rotating stream; in a non-rotating one, where a pharmacist
    holds the same placement in every period it holds one, the periods it holds one (and
    the empty slot's, for ``p``). The placement's holders in those periods where it has
    no room are the next pharmacists of the chain. With fewer seats than pharmacists the
    seats with room are the ones nobody likes, and a step grown from ``p`` through the
    placements it scores best (:func:`neighbourhood`) seldom frees a whole chain. Other
    rules across periods (no repeat, sector mix, supervision) are left to the step's
    sub-model."""
    c = st.cand
    slot = empty_slot(st, base, p) if slot is None else slot
    if slot is None:
        return [p]
    t, s = slot
    rotating = bool(st.rotating[s])
    n_t = st.cap.shape[1]
    among = pool(comp, base)
    among = among[(c.stream[among] == s) & ((c.period[among] == t) if rotating else True)]
    room = open_to(st, base, among)
    owner = c.pharmacist[among]  # sorted: so are the candidates
    ours = base[c.stream[base] == s]
    holders: dict[int, list[int]] = {}  # placement * n_t + period -> its pharmacists
    periods = np.zeros(len(st.rnd.pharmacists), dtype=np.int64)  # bit mask held in s
    for li, tt, q in zip(c.placement[ours].tolist(), c.period[ours].tolist(),
                         c.pharmacist[ours].tolist(), strict=True):
        holders.setdefault(li * n_t + tt, []).append(q)
        periods[q] |= 1 << tt
    parent = {p: p}
    level = [p]
    ends: list[int] = []
    for _ in range(CHAIN_DEPTH):
        nxt: list[int] = []
        for q in level:
            need = 1 << t if rotating else int(periods[q]) | (1 << t if q == p else 0)
            a, b = np.searchsorted(owner, [q, q + 1])
            pl, pe = c.placement[among[a:b]], c.period[among[a:b]]
            bit = np.left_shift(1, pe)
            inside = (bit & need) > 0
            # Per placement: the periods needed it may be held in, and those with room.
            keys, inv = np.unique(pl[inside], return_inverse=True)
            elig = np.bincount(inv, weights=bit[inside], minlength=len(keys)).astype(np.int64)
            free = np.bincount(inv, weights=(bit * room[a:b])[inside],
                               minlength=len(keys)).astype(np.int64)
            ok = elig == need
            if (ok & (free == need)).any():
                ends.append(q)
                if len(ends) >= CHAIN_PATHS:
                    break
                continue
            for li, full in zip(keys[ok].tolist(), (need & ~free[ok]).tolist(), strict=True):
                for tt in range(n_t):
                    if full >> tt & 1:
                        for r in holders.get(li * n_t + tt, ()):
                            if r not in parent and len(parent) < CHAIN_VISITS:
                                parent[r] = q
                                nxt.append(r)
        if ends or not nxt:
            break
        level = nxt
    out = [p]
    for q in ends:
        chain = []
        while q != p:
            chain.append(q)
            q = parent[q]
        out.extend(reversed(chain))  # in the order of the moves
    return list(dict.fromkeys(out))


def around_empty(st: FlowState, comp: Component, base: IntArray, stream: int,
                 target: int) -> IntArray:
    """Pharmacists whose lines in ``stream`` to free for the LP of the stream around its
    empty slots under ``base`` (:func:`~matcher.solving.flow_path._stream_lp`): those
    with an empty slot there, the holders of the placement each holds in its other
    periods in the periods it lacks (the seat that would fill its slot), then others of
    the component drawn at random, while their candidates in the stream number at most
    ``target`` in all (the first two whatever theirs).

    On a tight 5,000 x 2,500 x 4 round's component (833 pharmacists, 30 empty practice
    slots) the LP and its support around 97 such pharmacists filled 6 slots in 3.7 s;
    around 95 grown through each slot's chains of moves (:func:`chains`) instead, 1 slot
    in 10 s, 8 s of which went on the chains' 30 searches."""
    c = st.cand
    n_t = st.cap.shape[1]
    n_p = len(st.rnd.pharmacists)
    lines = base[c.stream[base] == stream]
    # The seats of a pharmacist's slots are those of the placement it holds (``line``).
    held, line = st.line_periods(lines)
    among = comp.idx[c.stream[comp.idx] == stream]
    wants = np.zeros(n_p, dtype=np.int64)
    np.bitwise_or.at(wants, c.pharmacist[among], np.left_shift(1, c.period[among]))
    lacks = wants & ~held & st.avail_bits
    short = comp.pharmacists[lacks[comp.pharmacists] > 0]
    cell = c.placement[lines] * n_t + c.period[lines]
    wanted = [line[p] * n_t + t for p in short.tolist() if line[p] >= 0
              for t in range(n_t) if lacks[p] >> t & 1]
    seeds = np.union1d(short, c.pharmacist[lines[np.isin(cell, wanted)]])
    count = np.bincount(c.pharmacist[among], minlength=n_p)
    freed = seeds.tolist()
    size = int(count[seeds].sum())
    for q in st.rng.permutation(np.setdiff1d(comp.pharmacists, seeds)).tolist():
        if size + count[q] > target:
            break
        freed.append(q)
        size += int(count[q])
    out: IntArray = np.sort(np.asarray(freed, dtype=np.int64))
    return out


def bad_pharmacists(st: FlowState, chosen: IntArray, comp: Component) -> list[int]:
    """Pharmacists of the component whose rules the allocation breaks: their own (one per
    stream, sector mix...) or a rule they break together (a placement's capacity, an
    organisation's or a supervisor's cap: every pharmacist involved). A warm start from a
    reference after mid-programme capacity cuts breaks the latter."""
    rnd = st.rnd
    found = checker.violations(rnd, st.cand.assignments(rnd, chosen))
    mine = set(comp.pharmacists.tolist())
    named = [p for v in found for p in (v.pharmacist, *v.involved) if p is not None]
    bad = {rnd.pharmacist_index[p] for p in named if p in rnd.pharmacist_index}
    bad |= {int(p) for p in comp.pharmacists.tolist()
            if st.avail[p].any() and not rnd.rules.allow_unassigned
            and any(v.rule == "allow_unassigned" for v in found)}
    return sorted(bad & mine)


def repair(st: FlowState, comp: Component, base: IntArray, deadline: float) -> None:
    """Make the constructed allocation feasible: take every pharmacist whose rules it
    breaks out of it, then place them back up to :data:`REPAIR_BATCH` at a time, each
    batch with pharmacists freed around it (:func:`_menders`; the pharmacists still out
    are left out of the sub-model: their seats are free and their rules not stated).
    A batch CP-SAT cannot place is halved; a single pharmacist's neighbourhood grows
    until it is placed. Accepted once every one is placed within the rules; if the time
    runs out first, what it got to is kept in ``st.repairing`` for the next repair of the
    component to go on from.

    All at once, the neighbourhood had to hold every rule breaker before CP-SAT could
    place any: on a tight 5,000 x 2,500 x 4 round (44-64 of 567-833 pharmacists per
    component breaking their sector rules) the sub-models of 8-64 freed pharmacists were
    infeasible, 128 took the whole 24 s of their limit, and four components' repairs
    took 60 s of the 120 one after the other (the round ended 14.5 % from its bound)."""
    bad = bad_pharmacists(st, base, comp)
    comp.stats["repaired"] = len(bad)
    if not bad:
        st.accept(comp, base, "construct")
        return
    out = np.zeros(len(st.rnd.pharmacists), dtype=bool)
    out[bad] = True
    work = base[~out[st.cand.pharmacist[base]]]
    pending = list(bad)
    size, scale = REPAIR_BATCH, 0.5
    while pending and time.monotonic() < deadline and not st.budget.stopped():
        batch = pending[:size]
        waiting = out.copy()
        waiting[batch] = False
        freed = _menders(st, comp, work, batch, waiting, scale)
        limit = min(max(0.5, deadline - time.monotonic()), 3.0 * scale)
        got, _ = free_solve(st, comp, work, freed, limit, scope=st.scope(comp) & ~waiting,
                            first=scale > 1)
        if got is not None:
            work, pending = got, pending[len(batch):]
            out[batch] = False
            size, scale = min(REPAIR_BATCH, 2 * size), 0.5
        elif size > 1:
            size //= 2  # a smaller batch first: its members may compete for the same seats
        elif len(freed) >= int((~waiting[comp.pharmacists]).sum()):
            return  # the whole component free and still no place for it
        else:
            scale *= 2
    if not pending and not bad_pharmacists(st, work, comp):
        st.accept(comp, work, "repair")
        st.repairing.pop(comp.index, None)
    elif pending:
        st.repairing[comp.index] = work


def _menders(st: FlowState, comp: Component, work: IntArray, batch: list[int],
             waiting: npt.NDArray[np.bool_], scale: float) -> IntArray:
    """Pharmacists to free to place ``batch`` back (:func:`repair`): the batch, then
    holders in ``work`` of the placements that would mend its rules (its pins, and its
    eligible placements in sectors neither its history nor ``work`` gives it), drawn at
    random, then the usual :func:`neighbourhood`, up to :func:`step_size` (never one of
    ``waiting``). The seats that mend a sector rule are rarely the ones the batch likes
    best: freed through those alone, one batch of a tight 5,000 x 2,500 x 4 round needed
    257 pharmacists before CP-SAT could place it."""
    c, pr = st.cand, st.pairs
    target = max(step_size(st, comp, scale), 2 * len(batch))
    holder = c.pharmacist[work]
    cover = st.cover(work)
    places: list[IntArray] = []
    for p in batch:
        lo, hi = np.searchsorted(pr.p, [p, p + 1])
        new = (np.left_shift(1, pr.sec[lo:hi]) & ~cover[p]) != 0
        places.append(pr.l[lo:hi][new])
        places.append(c.placement[st.pins[c.pharmacist[st.pins] == p]])
    at = np.isin(c.placement[work], np.concatenate(places))
    mend = np.unique(holder[at])
    mend = mend[~waiting[mend] & ~np.isin(mend, batch)]
    room = max(0, target - len(batch))
    if len(mend) > room:
        mend = st.rng.choice(mend, room, replace=False)
    freed = np.union1d(mend, batch).astype(np.int64)
    if len(freed) < target:
        more = neighbourhood(st, comp, work, seeds=freed.tolist(), scale=scale)
        freed = np.union1d(freed, more[~waiting[more]]).astype(np.int64)
    return freed


def worst_off(st: FlowState, comp: Component, chosen: IntArray) -> IntArray:
    """The component's available pharmacists with the fewest preference points in
    ``chosen`` (those that hold the worst-off minimum M down), at most
    :data:`WORST_OFF_SEEDS` of them, drawn at random when there are more."""
    c = st.cand
    n_p = len(st.rnd.pharmacists)
    pts = np.bincount(c.pharmacist[chosen], weights=st.sc.points[chosen], minlength=n_p)
    who = comp.pharmacists[st.a_count[comp.pharmacists] >= 1]
    if not len(who):
        return np.zeros(0, np.int64)
    low = who[pts[who] == pts[who].min()]
    if len(low) > WORST_OFF_SEEDS:
        low = np.sort(st.rng.choice(low, WORST_OFF_SEEDS, replace=False))
    out: IntArray = low.astype(np.int64)
    return out


def short_seeds(st: FlowState, comp: Component, chosen: IntArray) -> list[int] | None:
    """Seeds for a step at a placement-period below its ``min_fill`` (drawn at random,
    those tried before less often): its holders in other periods and a few pharmacists
    who could take it. Single moves have not topped it up, so it takes an exchange, which
    the sub-model can find; None when no seat is short."""
    cells = st.short_cells(comp, chosen)
    if not len(cells):
        return None
    # Cells already tried are drawn less often: some cannot be topped up at all.
    tries = np.array([st.short_tries.get((li, t), 0) for li, t in cells.tolist()], float)
    weight = 1.0 / (1.0 + tries) ** 2
    li, t = cells[int(st.rng.choice(len(cells), p=weight / weight.sum()))].tolist()
    with st.lock:
        st.short_tries[li, t] = st.short_tries.get((li, t), 0) + 1
    c = st.cand
    holders = np.unique(c.pharmacist[chosen[c.placement[chosen] == li]])
    among = pool(comp)
    could = among[(c.placement[among] == li) & (c.period[among] == t)]
    takers = np.unique(c.pharmacist[could])
    if len(takers) > SHORT_TAKERS:
        takers = st.rng.choice(takers, SHORT_TAKERS, replace=False)
    return sorted(set(holders.tolist()) | set(takers.tolist())) or None


def slice_of(st: FlowState, slot: tuple[int, int] | None) -> Slice | None:
    """The slice a step frees, or None (all of the freed pharmacists' slots): for a step
    from the empty (period, stream) ``slot``, that stream (in a rotating stream, that
    period of it); for :data:`SLICE_SHARE` of the other steps, drawn at random, a stream
    and period drawn at random. None where a slice would be every slot (one non-rotating
    stream)."""
    n_s = len(st.rotating)
    if (n_s == 1 and not st.rotating[0]) or (slot is None and st.rng.random() >= SLICE_SHARE):
        return None
    if slot is None:
        slot = (int(st.rng.integers(st.cap.shape[1])), int(st.rng.integers(n_s)))
    t, s = slot
    return Slice(stream=s, period=t if st.rotating[s] else None)


def lns_step(st: FlowState, comp: Component, time_limit: float) -> bool:
    """One step of the search on ``comp``: free a neighbourhood, re-solve it from the
    current allocation, keep the answer when it is better.

    The neighbourhood grows from a pharmacist holding an empty slot and the chains of
    moves that would fill it (:func:`chains`; most of the time, when there is one), else
    from a placement-period below its ``min_fill`` (:func:`short_seeds`, half the time
    when there is one), else from a random one. A step from an empty slot frees the
    slot's slice of its pharmacists and others drawn at random (:func:`scattered`); of
    the other steps :data:`SLICE_SHARE` free a slice drawn at random (:func:`slice_of`).
    In a fairness round half of the steps grow it from the worst-off pharmacists
    together: M rises only when every one of them gains at once, which a neighbourhood
    around one random pharmacist almost never frees."""
    assert comp.chosen is not None
    empty = comp.pharmacists[st.empty_slots(comp, comp.chosen) > 0]
    seeds = None
    slot: tuple[int, int] | None = None
    wished = st.rnd.weights.fairness > 0 and st.rng.random() < WORST_OFF_SHARE
    if wished:
        seeds = worst_off(st, comp, comp.chosen).tolist() or None
    elif len(empty) and st.rng.random() < 0.8:
        p = int(st.rng.choice(empty))
        slot = empty_slot(st, comp.chosen, p)
        seeds = chains(st, comp, comp.chosen, p, slot)
    elif st.rng.random() < SHORT_SHARE:
        seeds = short_seeds(st, comp, comp.chosen)
    sliced = None if wished else slice_of(st, slot)
    focused = comp.focus is not None
    scale = ((comp.step_scale if focused else 1.0)
             * (float(st.rng.uniform(0.5, 1.5)) if wished else 1.0))
    if sliced is not None and slot is not None:
        freed = scattered(st, comp, seeds or [], sliced, scale)
    else:
        freed = neighbourhood(st, comp, comp.chosen, seeds=seeds, wished=wished, scale=scale,
                              sliced=sliced)
    comp.stats["lns_steps"] = comp.stats.get("lns_steps", 0) + 1
    if sliced is not None:
        comp.stats["slice_steps"] = comp.stats.get("slice_steps", 0) + 1
    if focused:
        time_limit = min(time_limit, LNS_FOCUS_STEP_S)
    got, proven = free_solve(st, comp, comp.chosen, freed, time_limit, sliced)
    if focused:
        # Steps CP-SAT proves grow, steps it is cut short in shrink (see STEP_GROW).
        comp.step_scale = (min(STEP_SCALE_MAX, comp.step_scale * STEP_GROW) if proven
                           else max(STEP_SCALE_MIN, comp.step_scale * STEP_SHRINK))
        comp.stats["lns_step_scale"] = round(comp.step_scale, 3)
    return got is not None and st.accept(comp, got, "lns")

# -- totals -------------------------------------------------------------------------------
