"""The flow path (``stats["path"] == "flow+lns"``): exact decomposition into independent
components, a min-cost-flow bound, a flow-guided start and CP-SAT large-neighbourhood
search.

1. **Components.** Pharmacists and placements linked by eligibility, and placements linked
   by a shared capped organisation or a supervisor, form independent sub-rounds: no rule
   and no objective term spans two of them (fairness does; with ``w.fairness > 0`` the
   round is one component). Each is solved on its own; their allocations together are an
   allocation of the round.
2. **Bound.** :func:`matcher.flow.relaxation` on each component's candidates bounds the
   objective of the round restricted to them (the other pharmacists unassigned); with
   ``obj_c`` the objective of a component's own allocation alone, the round's bound is
   ``objective + sum_c (bound_c - obj_c)`` (objectives add up over components, up to the
   same constants).
3. **Start.** CP-SAT on the component's model restricted to the pairs the flow uses plus
   the best few other pairs of every pharmacist and stream (every rule exact).
4. **Improve.** Small components: CP-SAT on the component's full model, hinted with the
   start and with the objective capped at the flow bound (a proof the moment it reaches
   it). Large ones: large-neighbourhood search: free the pharmacists competing for the
   placements around a random pharmacist, keep everyone else's assignments fixed (their
   variables fixed to 1 in the sub-model), solve the sub-model with CP-SAT for a short time
   from the current allocation, keep it if it is better. Deterministic for a seed with one
   worker (time limits aside).

Every answer goes through :func:`matcher.solve.finish` (the independent checker).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from matcher.build import Model, build_model, to_cp_model
from matcher.domain import Round
from matcher.eligibility import Candidates, availability
from matcher.flow import (
    Pairs,
    capacity_matrix,
    history_masks,
    min_fill_matrix,
    pairs_of,
    pin_candidates,
    reference_candidates,
    relaxation,
)
from matcher.scoring import Scores

if TYPE_CHECKING:
    from matcher.result import Result, Status
    from matcher.solve import SolveParams, _Clock

__all__ = ["components", "evaluate", "solve_flow_lns"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# A component's bound before it is known.
UNBOUNDED = 2**62
# Components with at most this many candidates get the full model (with the flow cap).
# At 1,000 x 1,000 x 3 components of 33,000-56,000 candidates ended 1,300-34,000 points
# short of the bound in their share of 60 s, while restricted starts plus search reached
# 400-560 on larger ones; components of 4,000-8,000 (300 x 400 x 3) prove in 0.1-0.3 s.
FULL_MODEL_MAX = 15_000
# Other pairs kept per pharmacist and stream in the start model, besides the flow's:
# with 3 a 2,000 x 1,500 x 3 component took 15.7 s and left a slot empty, with 8 it was
# solved in 2.9 s within 652 points of the flow bound.
START_EXTRA_PAIRS = 8
# Target size (candidates) of an LNS sub-model. With CP-SAT tuned as for the full model
# (linearisation level 2, light presolve), steps of 15,000-30,000 candidates took 0.5-1.2 s
# and filled the slots a restricted start left empty; 45,000 untuned ran out of 4 s.
LNS_TARGET_CANDIDATES = 20_000
LNS_MIN_PHARMACISTS = 8
# Longest CP-SAT run of one LNS step (seconds).
LNS_STEP_S = 4.0
# Largest restricted start model (candidates); a component whose start model would be
# larger starts from the greedy construction, repaired, and goes straight to the search.
# At 5,000 x 2,500 x 4 (start models of 45,000-68,000 candidates) CP-SAT found no good
# first solution in 15 s, while construction, repair and 30 s of search reached 0.8 %.
START_MAX_CANDIDATES = 30_000
# Seconds kept back per (pharmacist, period, stream) slot for checking the answer and
# making the result: with less, 2,000 x 1,500 x 3 ended at 60.00-60.27 s on a 60 s limit
# and 5,000 x 2,500 x 4 at 120.85 s on 120 s.
RESERVE_PER_SLOT = 1e-4
# Share of the time left that the starts of all components may use together.
START_SHARE = 0.9
# Relative gap (of the round's bound) at which the searches stop, shared by components.
STOP_GAP = 0.001


def components(rnd: Round, cand: Candidates, pairs: Pairs) -> tuple[IntArray, IntArray]:
    """Component label of every pharmacist and every placement (labels 0..k-1 in order of
    first pharmacist; placements nobody can hold get -1)."""
    n_p, n_l = len(rnd.pharmacists), len(rnd.placements)
    if rnd.weights.fairness > 0:
        lab_p = np.zeros(n_p, dtype=np.int64)
        lab_l = np.zeros(n_l, dtype=np.int64)
        held = np.zeros(n_l, dtype=bool)
        held[pairs.l] = True
        lab_l[~held] = -1
        return lab_p, lab_l
    src = [pairs.p, ]
    dst = [n_p + pairs.l]
    link: list[tuple[int, int]] = []
    groups: list[list[int]] = []
    for o in rnd.organisations:
        if o.max_pharmacists is not None:
            groups.append([j for j, pl in enumerate(rnd.placements) if pl.organisation == o.id])
    for sup in rnd.supervisors:
        groups.append([rnd.placement_index[x] for x in sup.placements])
    for g in groups:
        link.extend((n_p + g[0], n_p + j) for j in g[1:])
    if link:
        arr = np.array(link, dtype=np.int64)
        src.append(arr[:, 0])
        dst.append(arr[:, 1])
    a = np.concatenate(src)
    b = np.concatenate(dst)
    lab = np.arange(n_p + n_l, dtype=np.int64)
    while True:
        m = np.minimum(lab[a], lab[b])
        new = lab.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        new = new[new]
        if np.array_equal(new, lab):
            break
        lab = new
    roots_p = lab[:n_p]
    uniq, first = np.unique(roots_p, return_index=True)
    order = np.argsort(first, kind="stable")
    remap = np.full(n_p + n_l, -1, dtype=np.int64)
    remap[uniq[order]] = np.arange(len(uniq))
    lab_p = remap[roots_p]
    lab_l = remap[lab[n_p:]]
    return lab_p, lab_l


class Evaluator:
    """The §4 objective of an allocation given as chosen candidate indices, vectorised
    (the same formula as :func:`matcher.check.objective`; the final answer is still checked
    there)."""

    def __init__(self, rnd: Round, cand: Candidates, sc: Scores) -> None:
        self.rnd, self.cand, self.sc = rnd, cand, sc
        w = rnd.weights
        self.w = w
        avail = availability(rnd)
        self.a_count = avail.sum(axis=1)
        self.n_slots = int(self.a_count.sum()) * len(rnd.effective_streams)
        self.n_l, self.n_t = len(rnd.placements), len(rnd.periods)
        self.mf = min_fill_matrix(rnd).ravel()
        self.ref, self.n_ref = ((reference_candidates(rnd, cand)) if w.change and rnd.reference
                                else (np.zeros(0, np.int64), 0))
        self.avail_p = np.flatnonzero(self.a_count >= 1)

    def __call__(self, chosen: IntArray) -> int:
        c, w = self.cand, self.w
        total = int(self.sc.total[chosen].sum())
        total -= w.unassigned * (self.n_slots - len(chosen))
        if w.shortfall:
            h = np.bincount(c.placement[chosen] * self.n_t + c.period[chosen],
                            minlength=self.n_l * self.n_t)
            total -= w.shortfall * int(np.maximum(0, self.mf - h).sum())
        if w.fairness and len(self.avail_p):
            pts = np.bincount(c.pharmacist[chosen], weights=self.sc.points[chosen],
                              minlength=len(self.a_count)).astype(np.int64)
            total += w.fairness * int(pts[self.avail_p].min())
        if self.n_ref:
            total -= w.change * (self.n_ref - int(np.isin(chosen, self.ref).sum()))
        return total


def evaluate(rnd: Round, cand: Candidates, sc: Scores, chosen: IntArray) -> int:
    """The §4 objective of the chosen candidates (see :class:`Evaluator`)."""
    return Evaluator(rnd, cand, sc)(chosen)


# ---- CP-SAT on a sub-model -----------------------------------------------------------------


@dataclass
class SubAnswer:
    """CP-SAT's answer on a sub-model (``chosen`` are sub-model candidate positions)."""

    status: str
    chosen: IntArray | None
    objective: int | None
    bound: int | None
    seconds: float


def _stop_event(params: SolveParams) -> threading.Event | None:
    ev = getattr(params, "stop", None)
    return ev if isinstance(ev, threading.Event) else None


def sub_solve(model: Model, params: SolveParams, time_limit: float, *,
              hint: IntArray | None = None, fixed: IntArray | None = None,
              cap: int | None = None, workers: int | None = None,
              seed: int | None = None, tune: bool = True,
              gap_limit: float | None = None) -> SubAnswer:
    """Solve ``model`` with CP-SAT for at most ``time_limit`` seconds.

    ``fixed`` variables are fixed to 1; ``cap`` (an upper bound on the model's objective,
    offset included) restricts the objective's domain, so reaching it proves optimality.
    """
    from matcher.solve import _tune, _workers

    t0 = time.monotonic()
    if time_limit <= 0.02:
        return SubAnswer("unknown", None, None, None, 0.0)
    cp = to_cp_model(model, hint=hint)
    proto = cp.proto
    if fixed is not None and len(fixed):
        for v in fixed.tolist():
            dom = proto.variables[v].domain
            dom.clear()
            dom.extend((1, 1))
    if cap is not None:
        # Internally CP-SAT minimises sum(-obj * x) (offset apart): >= -(cap - offset).
        inner = -(cap - model.offset)
        proto.objective.domain.extend((inner, 2**62))
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = max(0.01, time_limit - (time.monotonic() - t0))
    p.num_workers = workers if workers is not None else _workers(params)
    p.random_seed = params.seed if seed is None else seed
    p.log_search_progress = params.log
    if tune:
        _tune(p, p.num_workers)
    if gap_limit is not None:
        p.absolute_gap_limit = gap_limit
    stop = _stop_event(params)
    done = threading.Event()

    def watch() -> None:
        # From the call's start, so building the sub-model counts against the limit.
        deadline = t0 + time_limit + 0.05
        while not done.wait(0.05):
            if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code = solver.solve(cp)
    finally:
        done.set()
    secs = time.monotonic() - t0
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected a sub-model: {cp.validate()}")
    if code == cp_model.INFEASIBLE:
        return SubAnswer("infeasible", None, None, None, secs)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return SubAnswer("unknown", None, None, None, secs)
    chosen = model.variables.chosen(solver)
    bound = math.floor(solver.best_objective_bound + 1e-6)
    objective = model.objective_of(chosen)
    # With a gap limit CP-SAT says OPTIMAL once within the gap: proven only at the bound.
    proven = code == cp_model.OPTIMAL and (gap_limit is None or objective >= bound)
    return SubAnswer("optimal" if proven else "feasible", chosen, objective, bound, secs)


# ---- one component -------------------------------------------------------------------------


@dataclass
class Component:
    """A component's state: its pharmacists, candidates, bound and best allocation."""

    index: int
    pharmacists: IntArray
    idx: IntArray  # candidate indices (sorted)
    bound: int  # bound on the objective of the round restricted to this component
    # (UNBOUNDED until computed)
    chosen: IntArray | None = None  # global candidate indices
    value: int | None = None  # objective of the round with this component's allocation only
    proven: bool = False
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        if self.value is None:
            return math.inf
        return float(self.bound - self.value)


class FlowLns:
    """The flow path's state over the whole round."""

    def __init__(self, rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                 clock: _Clock) -> None:
        self.rnd, self.cand, self.sc, self.params, self.clock = rnd, cand, sc, params, clock
        self.pairs = pairs_of(rnd, cand, sc)
        self.evaluator = Evaluator(rnd, cand, sc)
        self.rng = np.random.default_rng(params.seed)
        self.pins = pin_candidates(rnd, cand)
        self.cap = capacity_matrix(rnd)
        self.rotating = np.array([s.rotate for s in rnd.effective_streams], dtype=bool)
        lab_p, _ = components(rnd, cand, self.pairs)
        self.lab_p = lab_p
        order = np.argsort(lab_p, kind="stable")
        bounds = np.searchsorted(lab_p[order], np.arange(int(lab_p.max(initial=-1)) + 2))
        cand_lab = lab_p[cand.pharmacist]
        corder = np.argsort(cand_lab, kind="stable")
        cb = np.searchsorted(cand_lab[corder], np.arange(int(lab_p.max(initial=-1)) + 2))
        self.comps: list[Component] = []
        for k in range(len(bounds) - 1):
            ph = np.sort(order[bounds[k]:bounds[k + 1]])
            idx = np.sort(corder[cb[k]:cb[k + 1]]).astype(np.int64)
            self.comps.append(Component(k, ph, idx, bound=UNBOUNDED))
        self.stop = _stop_event(params)
        self.lock = threading.RLock()
        self.local = threading.local()  # per-thread CP-SAT workers when side by side
        # Kept back for the checker and the result, which take time in proportion to the
        # assignments (about 0.8 s for the 12,000 slots of 2,000 x 1,500 x 3).
        self.reserve = 0.5 + RESERVE_PER_SLOT * self.evaluator.n_slots
        self.resources = _Resources(rnd)
        self.avail = availability(rnd)
        self.a_count = self.avail.sum(axis=1)
        self.hist = history_masks(rnd)
        self.need = np.maximum(0, np.minimum(rnd.rules.min_distinct_sectors,
                                             self.avail.sum(axis=1)) - _POPC[self.hist])

    def scope(self, comp: Component) -> npt.NDArray[np.bool_]:
        mask = np.zeros(len(self.rnd.pharmacists), dtype=bool)
        mask[comp.pharmacists] = True
        return mask

    def stopped(self) -> bool:
        """Cancelled, or only the reserve for checking and writing the result is left."""
        return ((self.stop is not None and self.stop.is_set())
                or self.clock.remaining() <= self.reserve)

    def time_left(self) -> float:
        """Seconds left for the search (the reserve kept back)."""
        return max(0.0, self.clock.remaining() - self.reserve)

    # -- bound ------------------------------------------------------------------------------

    def bound_components(self, comps: list[Component] | None = None) -> None:
        """The flow bound of the components (all by default; those without one yet when
        ``comps`` is given) and the pairs the flow uses."""
        if not hasattr(self, "units"):
            self.units = np.zeros(len(self.pairs), dtype=np.int64)
            self.empty_value = self.evaluator(np.zeros(0, np.int64))
        for comp in self.comps if comps is None else comps:
            sub = self.cand.subset(comp.idx)
            fr = relaxation(self.rnd, sub, self.sc.subset(comp.idx))
            comp.bound = min(comp.bound, fr.bound)
            # Map the component's pairs back to the round's pairs.
            if len(comp.idx):
                first_pairs = self.pairs.of_cand[comp.idx[fr.pairs.start]]
                self.units[first_pairs] = fr.units

    # -- start ------------------------------------------------------------------------------

    def start_candidates(self, comp: Component) -> IntArray:
        """The flow's pairs plus the best few other pairs of every pharmacist-stream.

        In a non-rotating stream the other pairs eligible in every period the pharmacist
        is available come first: the flow relaxes per-period capacity, and a practice
        that opens late cannot fill the first period (at 2,000 x 1,500 x 3 every slot the
        restriction left empty was of this kind)."""
        pr = self.pairs
        pidx = np.unique(pr.of_cand[comp.idx])
        used = self.units[pidx] > 0
        key = pr.p[pidx] * 8 + pr.s[pidx]
        partial = ~self.rotating[pr.s[pidx]] & (pr.count[pidx] < self.a_count[pr.p[pidx]])
        order = np.lexsort((-pr.score[pidx], partial, ~used, key))
        ks = key[order]
        first = np.r_[True, ks[1:] != ks[:-1]] if len(ks) else np.zeros(0, bool)
        start = np.maximum.accumulate(np.where(first, np.arange(len(ks)), 0))
        rank = np.arange(len(ks)) - start
        n_used = np.bincount(np.searchsorted(np.unique(ks), ks), weights=used[order])
        keep_rank = n_used[np.searchsorted(np.unique(ks), ks)] + START_EXTRA_PAIRS
        keep_pairs = pidx[order[(rank < keep_rank) | used[order]]]
        keep = np.zeros(len(self.pairs), dtype=bool)
        keep[keep_pairs] = True
        sel = comp.idx[keep[pr.of_cand[comp.idx]]]
        if len(self.pins):
            sel = np.union1d(sel, np.intersect1d(self.pins, comp.idx))
        return np.sort(sel).astype(np.int64)

    def construct(self, comp: Component) -> IntArray:
        """A greedy allocation from the flow: per pharmacist (best flow value first), the
        non-rotating streams' flow placement in every period it fits, then the rotating
        streams' flow placements matched to periods (every order of periods tried), empty
        periods filled with the best pair that fits, preferring sectors still needed.
        Capacity, organisation caps and supervision are respected (counted
        conservatively); sector rules and pins are left to CP-SAT, which gets this as a
        hint."""
        rnd, c, pr = self.rnd, self.cand, self.pairs
        n_t = len(rnd.periods)
        cap_rem = self.cap.copy()
        res = self.resources
        org_rem = res.org_cap.copy()
        sup_rem = res.sup_cap.copy()
        chosen: list[int] = []
        pidx_all = np.unique(pr.of_cand[comp.idx])
        value = np.bincount(pr.p[pidx_all], weights=(self.units[pidx_all] * pr.score[pidx_all]),
                            minlength=len(rnd.pharmacists))
        order = comp.pharmacists[np.argsort(-value[comp.pharmacists], kind="stable")]
        starts = np.searchsorted(pr.p, order)
        ends = np.searchsorted(pr.p, order, side="right")
        sector_need = self.need
        hist = self.hist

        def fits(p: int, li: int, t: int) -> bool:
            if cap_rem[li, t] <= 0:
                return False
            o = res.org_of_l[li]
            if o >= 0 and org_rem[o, t] <= 0:
                return False
            sl = res.sups_of(p, li)
            return not (len(sl) and bool((sup_rem[sl, t] <= 0).any()))

        def take(p: int, li: int, t: int, j: int) -> None:
            cap_rem[li, t] -= 1
            o = res.org_of_l[li]
            if o >= 0:
                org_rem[o, t] -= 1
            sl = res.sups_of(p, li)
            if len(sl):
                sup_rem[sl, t] -= 1
            chosen.append(j)

        import itertools

        pinned = np.intersect1d(self.pins, comp.idx)
        pinned_slot: set[tuple[int, int, int]] = set()
        pinned_pair: dict[int, int] = {}
        for j in pinned.tolist():
            p, li, t = int(c.pharmacist[j]), int(c.placement[j]), int(c.period[j])
            take(p, li, t, j)
            pinned_slot.add((p, int(c.stream[j]), t))
            pinned_pair[int(pr.of_cand[j])] = j
        for p, lo, hi in zip(order.tolist(), starts.tolist(), ends.tolist(), strict=True):
            mine = np.arange(lo, hi)
            covered = int(hist[p])
            for q in mine.tolist():
                if q in pinned_pair:
                    covered |= 1 << int(pr.sec[q])
            for s in range(len(self.rotating)):
                ps = mine[pr.s[mine] == s]
                if not len(ps):
                    continue
                ranked = ps[np.lexsort((-pr.score[ps], -self.units[ps]))]
                pins_here = [q for q in ranked.tolist() if q in pinned_pair]
                if not self.rotating[s]:
                    best: tuple[int, list[tuple[int, int]]] | None = None
                    for q in (pins_here[:1] or ranked[:8].tolist()):
                        js = range(int(pr.start[q]), int(pr.start[q] + pr.count[q]))
                        ok = [(j, int(c.period[j])) for j in js
                              if (p, s, int(c.period[j])) not in pinned_slot
                              and fits(p, int(pr.l[q]), int(c.period[j]))]
                        if best is None or len(ok) > len(best[1]):
                            best = (q, ok)
                        if len(ok) == pr.count[q]:
                            break
                    if best is not None and best[1]:
                        for j, t in best[1]:
                            take(p, int(pr.l[best[0]]), t, j)
                        covered |= 1 << int(pr.sec[best[0]])
                    continue
                flow_q = [q for q in ranked[self.units[ranked] > 0].tolist()
                          if q not in pinned_pair]
                # Candidate (pair, period) options of the flow's pairs.
                opts = {q: {int(c.period[j]): j for j in range(int(pr.start[q]),
                                                                 int(pr.start[q] + pr.count[q]))}
                        for q in flow_q}
                periods = [t for t in range(n_t) if self.avail[p, t]
                           and (p, s, t) not in pinned_slot]
                best_plan: list[tuple[int, int]] = []
                for perm in itertools.permutations(periods, min(len(periods), len(flow_q))):
                    plan = [(q, opts[q][t]) for q, t in zip(flow_q, perm, strict=False)
                            if t in opts[q] and fits(p, int(pr.l[q]), t)]
                    if len(plan) > len(best_plan):
                        best_plan = plan
                        if len(plan) == len(flow_q):
                            break
                used_t: set[int] = set()
                used_q: set[int] = set(pins_here)
                for q, j in best_plan:
                    take(p, int(pr.l[q]), int(c.period[j]), j)
                    used_t.add(int(c.period[j]))
                    used_q.add(q)
                    covered |= 1 << int(pr.sec[q])
                for t in periods:
                    if t in used_t:
                        continue
                    # Fill: prefer a sector still needed, then the score.
                    short = _POPC[covered] < sector_need[p]
                    best_j, best_key = -1, None
                    for q in ranked.tolist():
                        if q in used_q:
                            continue
                        new = not (covered >> int(pr.sec[q])) & 1
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
                        covered |= 1 << int(pr.sec[q])
        return np.sort(np.array(chosen, dtype=np.int64))

    def solve_start(self, comp: Component, time_limit: float,
                    warm: IntArray | None = None) -> None:
        """CP-SAT on the component restricted to :meth:`start_candidates` (plus ``warm``,
        a previous allocation, given as a hint), with the objective capped at the flow
        bound. No hint otherwise: the greedy construction as a hint made the start slower
        (14.2 s against 2.9 s on a 2,000 x 1,500 x 3 component)."""
        idx = self.start_candidates(comp)
        if warm is not None:
            idx = np.union1d(idx, warm).astype(np.int64)
        model = build_model(self.rnd, self.cand.subset(idx), self.sc.subset(idx),
                            scope=self.scope(comp))
        hint = (None if warm is None else
                model.complete(model.variables.values_for(np.searchsorted(idx, warm))))
        ans = sub_solve(model, self.params, time_limit, cap=comp.bound, hint=hint,
                        gap_limit=self.gap_limit(comp), workers=self.workers())
        comp.stats["start_seconds"] = round(ans.seconds, 2)
        if ans.status != "optimal" and ans.seconds >= time_limit - 0.1:
            comp.stats["start_timed_out"] = True
        comp.stats["start_limit"] = round(time_limit, 2)
        comp.stats["start_candidates"] = len(idx)
        comp.stats["start_status"] = ans.status
        if ans.chosen is not None:
            self.accept(comp, idx[ans.chosen], "start")
            if comp.value is not None and comp.value >= comp.bound:
                comp.proven = True

    def workers(self) -> int | None:
        """CP-SAT workers for this thread's solves (None: the call's own)."""
        got: int | None = getattr(self.local, "workers", None)
        return got

    def gap_limit(self, comp: Component) -> float:
        """Points a component's search may stop short of its bound: its share (by
        candidates) of :data:`STOP_GAP` of the round's bound."""
        total = abs(sum(k.bound for k in self.comps) - (len(self.comps) - 1)
                    * self.empty_value)
        return max(1.0, STOP_GAP * total * len(comp.idx) / max(1, len(self.cand)))

    def accept(self, comp: Component, chosen: IntArray, source: str) -> bool:
        """Keep ``chosen`` as the component's allocation if it is better (thread-safe)."""
        value = self.evaluator(chosen)
        with self.lock:
            if comp.value is None or value > comp.value:
                comp.chosen, comp.value = np.sort(chosen), value
                comp.stats["source"] = source
                self.report()
                return True
            return False

    # -- full model of a small component ---------------------------------------------------

    def solve_full(self, comp: Component, time_limit: float,
                   warm: IntArray | None = None) -> None:
        """CP-SAT on the component's full model, capped at the flow bound, hinted only
        with a previous allocation (``warm``)."""
        idx = comp.idx
        model = build_model(self.rnd, self.cand.subset(idx), self.sc.subset(idx),
                            scope=self.scope(comp))
        hint = (None if warm is None else
                model.complete(model.variables.values_for(np.searchsorted(idx, warm))))
        ans = sub_solve(model, self.params, time_limit, hint=hint,
                        cap=None if comp.bound >= UNBOUNDED else comp.bound,
                        workers=self.workers())
        if ans.chosen is not None:
            self.accept(comp, idx[ans.chosen], "full")
        if ans.bound is not None:
            comp.bound = min(comp.bound, ans.bound)
        if ans.status == "optimal" or ans.status == "infeasible":
            comp.proven = True
            if ans.status == "infeasible":
                comp.stats["infeasible"] = True
            elif comp.value is not None:
                comp.bound = comp.value

    # -- large-neighbourhood search ----------------------------------------------------------

    def neighbourhood(self, comp: Component, base: IntArray,
                      seeds: list[int] | None = None, scale: float = 1.0) -> IntArray:
        """Pharmacists to free: from the seeds (or a random pharmacist), those holding the
        placements the freed ones like best, breadth first, up to a size target."""
        c = self.cand
        per_ph = max(1.0, len(comp.idx) / max(1, len(comp.pharmacists)))
        target = int(max(LNS_MIN_PHARMACISTS, scale * LNS_TARGET_CANDIDATES / per_ph))
        if target >= len(comp.pharmacists):
            return comp.pharmacists
        cp_ = c.placement[base]
        ch_p = c.pharmacist[base]
        order = np.argsort(cp_, kind="stable")
        lsorted = cp_[order]
        free: set[int] = set()
        queued: set[int] = set()
        frontier = list(seeds) if seeds else [int(self.rng.choice(comp.pharmacists))]
        queued.update(frontier)
        pr = self.pairs
        while len(free) < target:
            if not frontier:
                rest = np.setdiff1d(comp.pharmacists, np.fromiter(free, np.int64))
                if not len(rest):
                    break
                frontier.append(int(self.rng.choice(rest)))
            p = frontier.pop(0)
            if p in free:
                continue
            free.add(p)
            lo, hi = np.searchsorted(pr.p, [p, p + 1])
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

    def free_solve(self, comp: Component, base: IntArray, freed: IntArray,
                   time_limit: float) -> IntArray | None:
        """CP-SAT over every candidate of ``freed``, everyone else's ``base`` assignments
        fixed; the answer (global candidate indices) or None."""
        c = self.cand
        is_free = np.zeros(len(self.rnd.pharmacists), dtype=bool)
        is_free[freed] = True
        free_idx = comp.idx[is_free[c.pharmacist[comp.idx]]]
        kept = base[~is_free[c.pharmacist[base]]]
        idx = np.union1d(free_idx, kept).astype(np.int64)
        model = build_model(self.rnd, c.subset(idx), self.sc.subset(idx),
                            scope=self.scope(comp))
        pos = np.searchsorted(idx, base)
        hint = model.complete(model.variables.values_for(pos))
        fixed = np.searchsorted(idx, kept)
        seed = int(self.rng.integers(0, 2**31 - 1))
        ans = sub_solve(model, self.params, time_limit, hint=hint, fixed=fixed, seed=seed,
                        tune=True, workers=self.workers())
        if ans.chosen is None:
            return None
        out: IntArray = idx[ans.chosen]
        return out

    def bad_pharmacists(self, chosen: IntArray, comp: Component) -> list[int]:
        """Pharmacists of the component whose own rules the allocation breaks."""
        from matcher import check

        rnd, c = self.rnd, self.cand
        alloc = [(rnd.pharmacists[int(c.pharmacist[i])].id, rnd.period_ids[int(c.period[i])],
                  rnd.placements[int(c.placement[i])].id) for i in chosen.tolist()]
        found = check.violations(rnd, alloc)
        mine = set(comp.pharmacists.tolist())
        bad = {rnd.pharmacist_index[v.pharmacist] for v in found
               if v.pharmacist is not None and v.pharmacist in rnd.pharmacist_index}
        bad |= {int(p) for p in comp.pharmacists.tolist()
                if self.avail[p].any() and not rnd.rules.allow_unassigned
                and any(v.rule == "allow_unassigned" for v in found)}
        return sorted(bad & mine)

    def repair(self, comp: Component, base: IntArray, deadline: float) -> None:
        """Make the constructed allocation feasible: free the pharmacists whose rules it
        breaks and their competitors, growing the neighbourhood until CP-SAT places them."""
        bad = self.bad_pharmacists(base, comp)
        comp.stats["repaired"] = len(bad)
        if not bad:
            self.accept(comp, base, "construct")
            return
        scale = 0.5
        while time.monotonic() < deadline and not self.stopped():
            freed = self.neighbourhood(comp, base, seeds=bad, scale=scale)
            limit = min(max(0.5, deadline - time.monotonic()), 3.0 * scale)
            got = self.free_solve(comp, base, freed, limit)
            if got is not None:
                self.accept(comp, got, "repair")
                return
            if len(freed) >= len(comp.pharmacists):
                return
            scale *= 2

    def lns_step(self, comp: Component, time_limit: float) -> bool:
        assert comp.chosen is not None
        c = self.cand
        # Seed with a pharmacist holding an empty slot (if any), else at random.
        held = np.bincount(c.pharmacist[comp.chosen], minlength=len(self.rnd.pharmacists))
        slots = self.avail.sum(axis=1) * len(self.rotating)
        short = comp.pharmacists[held[comp.pharmacists] < slots[comp.pharmacists]]
        seeds = None
        if len(short) and self.rng.random() < 0.8:
            seeds = [int(self.rng.choice(short))]
        freed = self.neighbourhood(comp, comp.chosen, seeds=seeds)
        comp.stats["lns_steps"] = comp.stats.get("lns_steps", 0) + 1
        got = self.free_solve(comp, comp.chosen, freed, time_limit)
        return got is not None and self.accept(comp, got, "lns")

    # -- totals -------------------------------------------------------------------------------

    def current(self) -> tuple[IntArray | None, int | None, int | None]:
        """The round's allocation, objective and bound (None when a component has none)."""
        if any(comp.chosen is None for comp in self.comps):
            return None, None, None
        parts = [comp.chosen for comp in self.comps if comp.chosen is not None]
        chosen = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        objective = self.evaluator(chosen)
        if any(comp.bound >= UNBOUNDED for comp in self.comps):
            return chosen, objective, None
        bound = objective + sum(comp.bound - (comp.value or 0) for comp in self.comps)
        return chosen, objective, int(bound)

    def report(self) -> None:
        if self.params.progress is None:
            return
        from matcher.solve import Progress

        _chosen, objective, bound = self.current()
        if objective is None or bound is None:
            return
        if objective <= getattr(self, "_reported", -math.inf):
            return
        self._reported = objective
        try:
            self.params.progress(Progress(objective=objective, bound=float(bound),
                                          elapsed=self.clock.elapsed()))
        except Exception:
            log.exception("progress callback failed")


_POPC = np.array([bin(m).count("1") for m in range(64)], dtype=np.int64)


class _Resources:
    """Shared per-period resources besides capacity: capped organisations and supervisors
    (who counts whom), for the greedy construction."""

    def __init__(self, rnd: Round) -> None:
        n_t = len(rnd.periods)
        capped = [o for o in rnd.organisations if o.max_pharmacists is not None]
        row = {o.id: k for k, o in enumerate(capped)}
        self.org_of_l = [row.get(pl.organisation or "", -1) for pl in rnd.placements]
        self.org_cap = np.repeat(np.array([o.max_pharmacists or 0 for o in capped],
                                          dtype=np.int64)[:, None], n_t, axis=1)
        self.sup_cap = np.repeat(np.array([s.capacity for s in rnd.supervisors],
                                          dtype=np.int64)[:, None], n_t, axis=1)
        self.rnd = rnd
        self._cover: dict[int, list[int]] = {}
        for k, sup in enumerate(rnd.supervisors):
            for pid in sup.placements:
                self._cover.setdefault(rnd.placement_index[pid], []).append(k)
        self._cache: dict[tuple[int, int], IntArray] = {}

    def sups_of(self, p: int, li: int) -> IntArray:
        """Supervisors that count pharmacist ``p`` at placement ``li``."""
        key = (p, li)
        got = self._cache.get(key)
        if got is None:
            ph = self.rnd.pharmacists[p]
            got = np.array([k for k in self._cover.get(li, ())
                            if self.rnd.supervisors[k].counts(ph)], dtype=np.int64)
            self._cache[key] = got
        return got


def _hint_chosen(rnd: Round, cand: Candidates, hint: Result | None) -> IntArray | None:
    if hint is None or not hint.has_solution:
        return None
    n_l, n_t = len(rnd.placements), len(rnd.periods)
    key = (cand.pharmacist * n_l + cand.placement) * n_t + cand.period
    q = np.array([(rnd.pharmacist_index[a.pharmacist] * n_l + rnd.placement_index[a.placement])
                  * n_t + rnd.period_index[a.period] for a in hint.allocation
                  if a.pharmacist in rnd.pharmacist_index
                  and a.placement in rnd.placement_index and a.period in rnd.period_index],
                 dtype=np.int64)
    if not len(q) or not len(key):
        return None
    pos = np.minimum(np.searchsorted(key, q), len(key) - 1)
    return np.unique(pos[key[pos] == q]).astype(np.int64)


def solve_flow_lns(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                   clock: _Clock) -> Result:
    """The flow path (module docs)."""
    from matcher.solve import finish

    t0 = time.monotonic()
    st = FlowLns(rnd, cand, sc, params, clock)
    comps = st.comps
    # Flow bounds now for the components that are not small; a small one is usually proven
    # by its full model, and gets its flow bound afterwards only if it is not.
    st.bound_components([k for k in comps if len(k.idx) > FULL_MODEL_MAX])
    flow_s = time.monotonic() - t0
    # A warm start: the previous allocation, per component (a hint).
    hinted = _hint_chosen(rnd, cand, params.hint)
    # Start: small components get their full model, then large ones the restricted model
    # around the flow's pairs (or the repaired greedy); each a share of START_SHARE of the
    # time left in proportion to its candidates (see _side_by_side).
    small = [k for k in comps if len(k.idx) <= FULL_MODEL_MAX]
    large = [k for k in comps if len(k.idx) > FULL_MODEL_MAX]
    left = len(cand)
    _side_by_side(st, small, left, lambda comp, limit: st.solve_full(
        comp, limit, None if hinted is None else np.intersect1d(hinted, comp.idx)))
    if any(k.stats.get("infeasible") for k in small):
        large = []  # the round is infeasible: nothing more to search
    st.bound_components([k for k in small if not k.proven])
    left -= sum(len(k.idx) for k in small)

    def start(comp: Component, limit: float) -> None:
        warm = None if hinted is None else np.intersect1d(hinted, comp.idx)
        if len(st.start_candidates(comp)) <= START_MAX_CANDIDATES:
            st.solve_start(comp, limit, warm)
            if comp.chosen is None or comp.stats.get("start_timed_out"):
                # Cut short before CP-SAT's LP-guided search found a good allocation, a
                # start can be millions of points short (27 empty slots in one run at
                # 2,000 x 1,500 x 3); the repaired construction is then the better base.
                st.repair(comp, st.construct(comp), time.monotonic() + min(limit, 3.0))
        else:
            st.repair(comp, st.construct(comp) if warm is None else warm,
                      time.monotonic() + limit)

    _side_by_side(st, large, left, start)
    start_s = time.monotonic() - t0 - flow_s
    # Components the start has not placed: the greedy construction, repaired.
    for comp in large:
        if comp.chosen is None and not st.stopped():
            st.repair(comp, st.construct(comp), time.monotonic() + st.time_left() / 2)
    # Small components not proven in their share: their full model again, from their
    # allocation, sharing the time left with the search of the large ones below.
    unproven = [k for k in small if not k.proven]
    for n, comp in enumerate(unproven):
        if st.stopped():
            break
        shares = len(unproven) - n + (1 if large else 0)
        st.solve_full(comp, st.time_left() / shares, comp.chosen)
    large = [k for k in large if k.chosen is not None]
    steps = 0
    while large and not st.stopped():
        open_ = [k for k in large if k.gap > 0]
        if not open_:
            break
        gaps = np.array([k.gap for k in open_], dtype=np.float64)
        comp = open_[int(st.rng.choice(len(open_), p=gaps / gaps.sum()))]
        # Building the step's model is not in CP-SAT's limit: leave it some time.
        limit = min(st.time_left() - 0.3, max(1.0, min(LNS_STEP_S, st.time_left() / 4)))
        st.lns_step(comp, limit)
        steps += 1
    st.bound_components([k for k in comps if k.bound >= UNBOUNDED])
    chosen, objective, bound = st.current()
    proven = all(k.proven or k.gap <= 0 for k in comps)
    status: Status = "optimal" if chosen is not None and proven else (
        "feasible" if chosen is not None else "unknown")
    if any(k.stats.get("infeasible") for k in comps):
        # A component's full model has no allocation: neither has the round.
        chosen, objective, bound, status = None, None, None, "infeasible"
    elif chosen is None:
        # No allocation for some component: report the flow bound alone.
        bound = int(st.empty_value + sum(k.bound - st.empty_value for k in comps)) \
            if comps else None
    stats: dict[str, Any] = {
        "solver": "min-cost-flow+cp-sat",
        "path": "flow+lns",
        "components": len(comps),
        "component_details": [
            {"pharmacists": len(k.pharmacists), "candidates": len(k.idx),
             "gap": None if k.value is None else int(k.bound - k.value), "proven": k.proven,
             **k.stats} for k in comps],
        "flow_seconds": round(flow_s, 3),
        "start_seconds": round(start_s, 3),
        "lns_steps": steps,
        "build_seconds": round(flow_s, 3),
        "solve_seconds": round(time.monotonic() - t0 - flow_s, 3),
        "workers": _workers_of(params),
        "seed": params.seed,
        "candidates": len(cand),
    }
    return finish(rnd, cand, sc, chosen, status=status, objective=objective, bound=bound,
                  stats=stats)


def _side_by_side(st: FlowLns, comps: list[Component], left: int,
                  work: Callable[[Component, float], None]) -> None:
    """``work(component, time limit)`` for every component, side by side in as many threads
    as the call has workers, each solve with one CP-SAT worker (with one worker, one after
    another: the answers are then deterministic). A component's limit is its share, by
    candidates out of ``left``, of ``START_SHARE`` of the time left, times the threads.

    One worker adds every row to its LP up front (:func:`matcher.solve._tune`) and is as
    fast per model as two here: the 7 components of 300x400x3 take 1.4 s in all one after
    another with one worker each, 1.8 s with two; restricted starts of 2,000x1,500x3
    components took 2.4 s with one worker and 2.5 s with two."""
    if not comps:
        return
    threads = min(len(comps), _workers_of(st.params))

    def run(comp: Component) -> None:
        if st.stopped():
            return
        if threads > 1:
            st.local.workers = 1
        share = min(1.0, threads * len(comp.idx) / max(1, left)) * START_SHARE
        work(comp, st.time_left() * share)

    if threads <= 1:
        for comp in comps:
            run(comp)
        return
    from concurrent.futures import ThreadPoolExecutor

    # Largest first, so the last to start are the quickest.
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="component") as pool:
        list(pool.map(run, sorted(comps, key=lambda k: -len(k.idx))))


def _workers_of(params: SolveParams) -> int:
    from matcher.solve import _workers

    return _workers(params)
