"""A component's first allocation from CP-SAT: its full model when it is small
(:func:`solve_full`), else a model restricted to the flow's pairs and the best few others
(:func:`solve_start`). Both are capped at the component's flow bound, so reaching it is a
proof of optimality.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from matcher.solving import cpsat
from matcher.solving.components import UNBOUNDED, Component
from matcher.solving.formulation import build_model
from matcher.solving.state import FlowState
from matcher.solving.warmstart import hint_vector

__all__ = ["FULL_MODEL_MAX", "solve_full", "solve_start", "solve_support", "start_at_least",
           "start_candidates"]

IntArray = npt.NDArray[np.int64]

# Components with at most this many candidates get the full model (with the flow cap).
# At 1,000 x 1,000 x 3 components of 33,000-56,000 candidates ended 1,300-34,000 points
# short of the bound in their share of 60 s, while restricted starts plus search reached
# 400-560 on larger ones; components of 4,000-8,000 (300 x 400 x 3) prove in 0.1-0.3 s.
FULL_MODEL_MAX = 15_000
# Other pairs kept per pharmacist and stream in the start model, besides the flow's:
# with 3 a 2,000 x 1,500 x 3 component took 15.7 s and left a slot empty, with 8 it was
# solved in 2.9 s within 652 points of the flow bound.
START_EXTRA_PAIRS = 8


def start_at_least(st: FlowState, comp: Component) -> int:
    """A lower bound on the size of :func:`start_candidates`, from the pairs alone: each
    pharmacist-stream keeps at least :data:`START_EXTRA_PAIRS` pairs (or all it has), each
    of at least one candidate. Counting them exactly sorts every candidate of the
    component: 9.6 s for the 6.3 million of a fairness round's one component at
    5,000 x 2,500 x 4, whose start could never be restricted."""
    pr = st.pairs
    mine = np.zeros(len(st.rnd.pharmacists), dtype=bool)
    mine[comp.pharmacists] = True
    at = mine[pr.p]
    per = np.bincount(pr.p[at] * len(st.rotating) + pr.s[at])
    return int(np.minimum(per, START_EXTRA_PAIRS).sum())


def start_candidates(st: FlowState, comp: Component) -> IntArray:
    """The flow's pairs plus the best few other pairs of every pharmacist-stream.

    In a non-rotating stream the other pairs eligible in every period the pharmacist
    is available come first: the flow relaxes per-period capacity, and a practice
    that opens late cannot fill the first period (at 2,000 x 1,500 x 3 every slot the
    restriction left empty was of this kind)."""
    pr = st.pairs
    pidx = np.unique(pr.of_cand[comp.idx])
    used = st.units[pidx] > 0
    key = pr.p[pidx] * 8 + pr.s[pidx]
    partial = ~st.rotating[pr.s[pidx]] & (pr.count[pidx] < st.a_count[pr.p[pidx]])
    order = np.lexsort((-pr.score[pidx], partial, ~used, key))
    ks = key[order]
    first = np.r_[True, ks[1:] != ks[:-1]] if len(ks) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(ks)), 0))
    rank = np.arange(len(ks)) - start
    n_used = np.bincount(np.searchsorted(np.unique(ks), ks), weights=used[order])
    keep_rank = n_used[np.searchsorted(np.unique(ks), ks)] + START_EXTRA_PAIRS
    keep_pairs = pidx[order[(rank < keep_rank) | used[order]]]
    keep = np.zeros(len(st.pairs), dtype=bool)
    keep[keep_pairs] = True
    sel = comp.idx[keep[pr.of_cand[comp.idx]]]
    if len(st.pins):
        sel = np.union1d(sel, comp.holds(st.pins))
    return np.sort(sel).astype(np.int64)


def solve_start(st: FlowState, comp: Component, time_limit: float,
                warm: IntArray | None = None) -> None:
    """CP-SAT on the component restricted to :func:`start_candidates` (plus ``warm``,
    a previous allocation, given as a hint), with the objective capped at the flow
    bound. No hint otherwise: the greedy construction as a hint made the start slower
    (14.2 s against 2.9 s on a 2,000 x 1,500 x 3 component)."""
    idx = start_candidates(st, comp)
    if warm is not None:
        idx = np.union1d(idx, warm).astype(np.int64)
    model = build_model(st.rnd, st.cand.subset(idx), st.sc.subset(idx),
                        scope=st.scope(comp))
    hint = hint_vector(model, None if warm is None else np.searchsorted(idx, warm))
    ans = cpsat.run(model, st.budget, st.params, time_limit=time_limit, cap=comp.bound,
                    hint=hint, gap_limit=st.gap_limit(comp), workers=st.workers())
    comp.stats["start_seconds"] = round(ans.seconds, 2)
    if ans.status != "optimal" and ans.seconds >= time_limit - 0.1:
        comp.stats["start_timed_out"] = True
    comp.stats["start_limit"] = round(time_limit, 2)
    comp.stats["start_candidates"] = len(idx)
    comp.stats["start_status"] = ans.status
    if ans.chosen is not None:
        st.accept(comp, idx[ans.chosen], "start")
        if comp.value is not None and comp.value >= comp.bound:
            comp.proven = True


def solve_full(st: FlowState, comp: Component, time_limit: float,
               warm: IntArray | None = None) -> None:
    """CP-SAT on the component's full model, capped at the flow bound, hinted only
    with a previous allocation (``warm``)."""
    idx = comp.idx
    model = build_model(st.rnd, st.cand.subset(idx), st.sc.subset(idx),
                        scope=st.scope(comp))
    hint = hint_vector(model, None if warm is None else np.searchsorted(idx, warm))
    ans = cpsat.run(model, st.budget, st.params, time_limit=time_limit, hint=hint,
                    cap=None if comp.bound >= UNBOUNDED else comp.bound,
                    workers=st.workers())
    if ans.chosen is not None:
        st.accept(comp, idx[ans.chosen], "full")
    if ans.bound is not None:
        comp.bound = min(comp.bound, ans.bound)
    if ans.status == "optimal" or ans.status == "infeasible":
        comp.proven = True
        if ans.status == "infeasible":
            comp.stats["infeasible"] = True
        elif comp.value is not None:
            comp.bound = comp.value


def solve_support(st: FlowState, comp: Component, support: IntArray, time_limit: float) -> bool:
    """CP-SAT on the component restricted to ``support`` (candidate positions: those the
    LP relaxation uses), the component's allocation and its pins, from that allocation,
    with one worker and the objective capped at the component's bound.

    Where the LP relaxation is nearly integral this is most of the optimum: on 1,000 x
    1,000 x 3 rounds with per-period capacities the LP's support was 1,800-2,100
    candidates of components of 58,000-84,000, and CP-SAT solved each in under a second to
    within 1-18 points of the LP bound, where the search had ended 300-3,900 short.

    Whether CP-SAT ended before its time limit (it proved the support's optimum, or came
    within the search's stopping gap of its bound): then nothing is left to find there."""
    if comp.chosen is None:
        return False
    idx = np.union1d(support, comp.chosen)
    if len(st.pins):
        idx = np.union1d(idx, comp.holds(st.pins))
    idx = idx.astype(np.int64)
    model = build_model(st.rnd, st.cand.subset(idx), st.sc.subset(idx), scope=st.scope(comp))
    hint = hint_vector(model, np.searchsorted(idx, comp.chosen))
    ans = cpsat.run(model, st.budget, st.params, time_limit=time_limit, cap=comp.bound,
                    hint=hint, gap_limit=st.gap_limit(comp), workers=1)
    comp.stats["support_candidates"] = len(idx)
    comp.stats["support_status"] = ans.status
    if ans.chosen is not None and st.accept(comp, idx[ans.chosen], "lp-support"):
        with st.lock:
            if comp.value is not None and comp.value >= comp.bound:
                comp.proven = True
    return ans.status != "unknown" and ans.seconds < time_limit - 0.1
