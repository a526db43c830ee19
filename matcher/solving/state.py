"""The flow path's state over the whole round: :class:`FlowState`.

It holds what every part of the flow path shares: the round's pairs and their flow units,
the components with their bounds and best allocations, the vectorised objective, the
round's resources, the random generator of the search, and the call's
:class:`~matcher.solving.budget.Budget`. Allocations enter only through
:meth:`FlowState.accept` (thread-safe, keeps the better one, reports progress).
"""

from __future__ import annotations

import logging
import math
import threading

import numpy as np
import numpy.typing as npt

from matcher.domain import Round
from matcher.eligibility import Candidates, availability
from matcher.scoring import Scores
from matcher.solving.budget import Budget
from matcher.solving.components import UNBOUNDED, Component, components, split
from matcher.solving.evaluator import Evaluator
from matcher.solving.flow import (
    capacity_matrix,
    history_masks,
    pairs_of,
    pin_candidates,
    relaxation,
)
from matcher.solving.params import Progress, SolveParams

__all__ = ["POPCOUNT", "FlowState", "Resources", "Room"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# Seconds kept back per (pharmacist, period, stream) slot for checking the answer and
# making the result: with less, 2,000 x 1,500 x 3 ended at 60.00-60.27 s on a 60 s limit
# and 5,000 x 2,500 x 4 at 120.85 s on 120 s.
RESERVE_PER_SLOT = 1e-4
# Relative gap (of the round's bound) at which the searches stop, shared by components.
STOP_GAP = 0.001

POPCOUNT = np.array([bin(m).count("1") for m in range(64)], dtype=np.int64)
"""Number of sectors in a 6-bit sector mask."""


class Resources:
    """Shared per-period resources besides capacity: capped organisations and supervisors
    (which placements each covers and whom it counts), for the greedy construction, the
    search's sub-models and the slice exchanges."""

    def __init__(self, rnd: Round) -> None:
        n_t, n_l = len(rnd.periods), len(rnd.placements)
        capped = [o for o in rnd.organisations if o.max_pharmacists is not None]
        row = {o.id: k for k, o in enumerate(capped)}
        self.org_of_l = [row.get(pl.organisation or "", -1) for pl in rnd.placements]
        self.org_cap = np.repeat(np.array([o.max_pharmacists or 0 for o in capped],
                                          dtype=np.int64)[:, None], n_t, axis=1)
        self.sup_cap = np.repeat(np.array([s.capacity for s in rnd.supervisors],
                                          dtype=np.int64)[:, None], n_t, axis=1)
        # The supervisors covering each placement, as CSR: placement li's are
        # sup_index[sup_ptr[li]:sup_ptr[li + 1]].
        cover: list[list[int]] = [[] for _ in range(n_l)]
        for k, sup in enumerate(rnd.supervisors):
            for pid in sup.placements:
                cover[rnd.placement_index[pid]].append(k)
        self.sup_ptr = np.zeros(n_l + 1, dtype=np.int64)
        self.sup_ptr[1:] = np.cumsum([len(x) for x in cover])
        self.sup_index = np.array([k for x in cover for k in x], dtype=np.int64)
        # Whom each supervisor counts (supervisor x pharmacist): Supervisor.counts, once
        # per kind of supervisor.
        by_kind: dict[str, npt.NDArray[np.bool_]] = {}
        for sup in rnd.supervisors:
            if sup.supervises not in by_kind:
                by_kind[sup.supervises] = np.array([sup.counts(ph) for ph in rnd.pharmacists],
                                                   dtype=bool)
        self.counts = (np.stack([by_kind[s.supervises] for s in rnd.supervisors])
                       if rnd.supervisors else np.zeros((0, len(rnd.pharmacists)), bool))
        self._cache: dict[tuple[int, int], IntArray] = {}

    def sups_of(self, p: int, li: int) -> IntArray:
        """Supervisors that count pharmacist ``p`` at placement ``li``."""
        key = (p, li)
        got = self._cache.get(key)
        if got is None:
            ks = self.sup_index[self.sup_ptr[li]:self.sup_ptr[li + 1]]
            got = ks[self.counts[ks, p]]
            self._cache[key] = got
        return got

    def counted(self, p: IntArray, li: IntArray) -> tuple[IntArray, IntArray]:
        """:meth:`sups_of` for many at once: (row, supervisor) for every supervisor that
        counts pharmacist ``p[row]`` at placement ``li[row]``."""
        ptr = self.sup_ptr
        n = ptr[li + 1] - ptr[li]
        row = np.repeat(np.arange(len(li), dtype=np.int64), n)
        if not len(row):
            return row, row
        offset = np.arange(len(row), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        k = self.sup_index[np.repeat(ptr[li], n) + offset]
        keep = self.counts[k, p[row]]
        return row[keep], k[keep]

    def org_left(self, c: Candidates, chosen: IntArray) -> IntArray:
        """What the assignments ``chosen`` leave of each capped organisation's cap in each
        period (organisation x period), counting distinct pharmacists as the cap does."""
        n_t = self.org_cap.shape[1]
        org_of = np.asarray(self.org_of_l, dtype=np.int64)
        ko = org_of[c.placement[chosen]]
        has = ko >= 0
        cells = np.unique(np.stack([c.pharmacist[chosen][has],
                                    ko[has] * n_t + c.period[chosen][has]]), axis=1)[1]
        left: IntArray = (self.org_cap.ravel() - np.bincount(
            cells, minlength=self.org_cap.size)).reshape(self.org_cap.shape)
        return left


class FlowState:
    """The flow path's state over the whole round (module docs)."""

    def __init__(self, rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                 budget: Budget) -> None:
        self.rnd, self.cand, self.sc, self.params, self.budget = rnd, cand, sc, params, budget
        self.pairs = pairs_of(rnd, cand, sc)
        self.units = np.zeros(len(self.pairs), dtype=np.int64)  # flow units of each pair
        self.evaluator = Evaluator(rnd, cand, sc)
        self.empty_value = self.evaluator(np.zeros(0, np.int64))
        self._rng = np.random.default_rng(params.seed)
        self.pins = pin_candidates(rnd, cand)
        self.cap = capacity_matrix(rnd)
        self.rotating = np.array([s.rotate for s in rnd.effective_streams], dtype=bool)
        self.lab_p, _ = components(rnd, cand, self.pairs)
        self.comps: list[Component] = split(cand, self.lab_p)
        self.lock = threading.RLock()
        self.local = threading.local()  # per-thread CP-SAT workers when side by side
        # Kept back for the checker and the result, which take time in proportion to the
        # assignments (about 0.8 s for the 12,000 slots of 2,000 x 1,500 x 3).
        budget.keep_back(0.5 + RESERVE_PER_SLOT * self.evaluator.n_slots)
        self.resources = Resources(rnd)
        self.avail = availability(rnd)
        self.a_count = self.avail.sum(axis=1)
        # Bit mask, per pharmacist, of the periods they are available.
        self.avail_bits = (self.avail.astype(np.int64)
                           << np.arange(self.avail.shape[1])).sum(axis=1)
        self.hist = history_masks(rnd)
        self.need = np.maximum(0, np.minimum(rnd.rules.min_distinct_sectors,
                                             self.a_count) - POPCOUNT[self.hist])
        self._reported = -math.inf
        # Search steps grown from each (placement, period) below its min_fill so far.
        self.short_tries: dict[tuple[int, int], int] = {}
        # The allocation of each component the single moves last tried (fill.fill_gaps).
        self.fill_tried: dict[int, IntArray] = {}
        # The allocation of each component the slice exchanges last started from
        # (slice_flow.sweep).
        self.swept: dict[int, IntArray] = {}
        # Where the last repair of each component that ran out of time got to: its
        # allocation with the pharmacists still to place back left out (lns.repair).
        self.repairing: dict[int, IntArray] = {}
        # Sweeps of each component in a row that gained nothing (slice_flow.sweep).
        self.sweeps_idle: dict[int, int] = {}

    @property
    def rng(self) -> np.random.Generator:
        """The search's random generator: this thread's own when the search runs side by
        side (:meth:`use_thread`), else the call's (seeded by ``params.seed``)."""
        got: np.random.Generator | None = getattr(self.local, "rng", None)
        return self._rng if got is None else got

    def use_thread(self, *key: int) -> None:
        """Set this thread up as one of several working side by side: one CP-SAT worker per
        solve and a random generator of its own, seeded by the call's seed and ``key``
        (non-negative integers naming the thread's work)."""
        self.local.workers = 1
        self.local.rng = np.random.default_rng([self.params.seed % 2**63, *key])

    def cover(self, chosen: IntArray) -> IntArray:
        """Bit mask, per pharmacist, of the sectors their history and their assignments
        in ``chosen`` (candidate positions) cover."""
        out = self.hist.copy()
        np.bitwise_or.at(out, self.cand.pharmacist[chosen],
                         np.left_shift(1, self.pairs.sec[self.pairs.of_cand[chosen]]))
        return out

    def line_periods(self, lines: IntArray) -> tuple[IntArray, IntArray]:
        """Per pharmacist, the bit mask of the periods its ``lines`` (candidate
        positions in one non-rotating stream, where a pharmacist holds one placement in
        every period it holds one) cover, and that placement (-1: none)."""
        c = self.cand
        bits = np.zeros(len(self.rnd.pharmacists), dtype=np.int64)
        np.bitwise_or.at(bits, c.pharmacist[lines], np.left_shift(1, c.period[lines]))
        at = np.full(len(self.rnd.pharmacists), -1, dtype=np.int64)
        at[c.pharmacist[lines]] = c.placement[lines]
        return bits, at

    def scope(self, comp: Component) -> npt.NDArray[np.bool_]:
        """Pharmacist mask of the component (the personal rules a sub-model states)."""
        mask = np.zeros(len(self.rnd.pharmacists), dtype=bool)
        mask[comp.pharmacists] = True
        return mask

    def bound_components(self, comps: list[Component] | None = None) -> None:
        """The flow bound of the components (all by default) and the pairs the flow uses."""
        for comp in self.comps if comps is None else comps:
            sub = self.cand.subset(comp.idx)
            fr = relaxation(self.rnd, sub, self.sc.subset(comp.idx))
            comp.bound = min(comp.bound, fr.bound)
            # Map the component's pairs back to the round's pairs.
            if len(comp.idx):
                first_pairs = self.pairs.of_cand[comp.idx[fr.pairs.start]]
                self.units[first_pairs] = fr.units
                comp.flow_filled = np.bincount(
                    self.cand.stream[comp.idx[fr.pairs.start]], weights=fr.units,
                    minlength=len(self.rotating)).astype(np.int64)

    def workers(self) -> int | None:
        """CP-SAT workers for this thread's solves (None: the call's own)."""
        got: int | None = getattr(self.local, "workers", None)
        return got

    def empty_slots(self, comp: Component, chosen: IntArray) -> IntArray:
        """Empty (period, stream) slots of each of the component's pharmacists (in the order
        of ``comp.pharmacists``) under the allocation ``chosen``."""
        held = np.bincount(self.cand.pharmacist[chosen], minlength=len(self.rnd.pharmacists))
        slots = self.a_count * len(self.rotating)
        out: IntArray = np.maximum(0, slots[comp.pharmacists]
                                   - held[comp.pharmacists]).astype(np.int64)
        return out

    def short_cells(self, comp: Component, chosen: IntArray) -> IntArray:
        """The (placement, period) cells of the component held by fewer than their
        ``min_fill`` under ``chosen``, as rows of an array of shape (k, 2)."""
        c = self.cand
        n_t = self.cap.shape[1]
        held = np.bincount(c.placement[chosen] * n_t + c.period[chosen],
                           minlength=self.cap.size)
        mine = np.zeros(self.cap.shape[0], dtype=bool)
        mine[c.placement[comp.idx]] = True
        flat = np.flatnonzero((self.evaluator.mf > held) & np.repeat(mine, n_t))
        out: IntArray = np.stack([flat // n_t, flat % n_t], axis=1).astype(np.int64)
        return out

    def bound_scale(self) -> float:
        """The size of the round's bound (points), against which gaps are judged."""
        return float(abs(sum(k.bound for k in self.comps) - (len(self.comps) - 1)
                         * self.empty_value))

    def gap_limit(self, comp: Component, share: float = STOP_GAP) -> float:
        """Points a component's search may stop short of its bound: its share (by
        candidates) of ``share`` (by default :data:`STOP_GAP`) of the round's bound."""
        return max(1.0, share * self.bound_scale() * len(comp.idx)
                   / max(1, len(self.cand)))

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
        """Pass the round's objective and bound to the progress callback when it improved."""
        if self.params.progress is None:
            return
        _chosen, objective, bound = self.current()
        if objective is None or bound is None or objective <= self._reported:
            return
        self._reported = objective
        try:
            self.params.progress(Progress(objective=objective, bound=float(bound),
                                          elapsed=self.budget.elapsed()))
        except Exception:  # a faulty callback must not kill the search
            log.exception("progress callback failed")


class Room:
    """What is left of capacity, organisation caps and supervisors under an allocation
    (candidate positions; empty for a fresh start), and the holders of every placement and
    period: what the greedy construction and the single moves of the fill book against."""

    def __init__(self, st: FlowState, chosen: IntArray) -> None:
        c, res = st.cand, st.resources
        self.res = res
        self.held = np.zeros_like(st.cap)
        np.add.at(self.held, (c.placement[chosen], c.period[chosen]), 1)
        self.cap = st.cap - self.held
        self.org = res.org_cap.copy()
        self.sup = res.sup_cap.copy()
        for j in chosen.tolist():
            self._use(int(c.pharmacist[j]), int(c.placement[j]), int(c.period[j]), 1)

    def _use(self, p: int, li: int, t: int, n: int) -> None:
        o = self.res.org_of_l[li]
        if o >= 0:
            self.org[o, t] -= n
        sl = self.res.sups_of(p, li)
        if len(sl):
            self.sup[sl, t] -= n

    def fits(self, p: int, li: int, t: int, leaving: int = -1) -> bool:
        """Whether ``p`` may take ``li`` in ``t``, releasing ``leaving`` there (-1: none)."""
        if self.cap[li, t] <= 0:
            return False
        o = self.res.org_of_l[li]
        if o >= 0 and self.org[o, t] <= 0 and (
                leaving < 0 or self.res.org_of_l[leaving] != o):
            return False
        sl = self.res.sups_of(p, li)
        if len(sl):
            freed = self.res.sups_of(p, leaving) if leaving >= 0 else sl[:0]
            for k in sl.tolist():
                if self.sup[k, t] <= 0 and k not in freed:
                    return False
        return True

    def move(self, p: int, li: int, t: int, n: int) -> None:
        """Add (``n`` = 1) or remove (``n`` = -1) ``p`` at ``li`` in ``t``."""
        self.cap[li, t] -= n
        self.held[li, t] += n
        self._use(p, li, t, n)
