"""The ``flow+lns`` path: components, flow bounds, starts and large-neighbourhood search.

1. **Components** (:mod:`matcher.solving.components`): the round splits exactly into
   independent sub-rounds, each solved on its own.
2. **Bound** (:mod:`matcher.solving.flow`): the collapsed min-cost-flow relaxation of each
   component bounds the round restricted to it; with ``obj_c`` the objective of a
   component's own allocation alone, the round's bound is
   ``objective + sum_c (bound_c - obj_c)``.
3. **Start** (:mod:`matcher.solving.starts`): small components get their full model,
   capped at the flow bound (a proof the moment it reaches it); large ones a model
   restricted to the flow's pairs plus the best few others, or, when that would be too
   large or is cut short, or the round is solved LP first (:func:`lp_first`: most
   placements change capacity between periods or have a ``min_fill``, a large re-plan
   weighs changes heavily, or many supervisors of a large round span both streams; and
   for the rest once a restricted start finds nothing), the greedy construction from
   the flow (:mod:`matcher.solving.construct`) repaired by CP-SAT.
4. **Improve** (:mod:`matcher.solving.lns`): large-neighbourhood search on the large
   components, the component with the largest gap most often, on as many components side
   by side as there are workers; after every start and step, single moves fill what a
   solve cut short left empty or below ``min_fill`` (:mod:`matcher.solving.fill`), and
   after every step, exact exchanges over each whole slice of the component (a practice
   stream, one period of a rotating stream) by min-cost flow
   (:mod:`matcher.solving.slice_flow`).
5. **Tighter bound** (:mod:`matcher.solving.lp_bound`), beside the search in one thread
   per worker, each with a core of its own while it works (:class:`LpLanes`): where a
   large component is still far from its flow bound (and not because of empty slots),
   the LP relaxation of its model, priced by PDLP, often bounds it much more tightly
   (per-period capacities and ``min_fill``, which the flow collapses; the change term of
   a re-plan). After its LP, CP-SAT on the LP's support; LP first, the component's
   search keeps to that support (its ``focus``): first in the lane (:func:`on_support`),
   then in every step of the search. Late in the run a lane takes first the component
   whose empty slots in a non-rotating stream, beyond those its flow leaves empty, cost
   the most: with the other streams' lines held, the LP of that stream and CP-SAT on
   its support (:func:`_stream_lp`), which moves many lines over different periods at
   once; again while it fills something.

Components are worked on side by side, one CP-SAT worker each. Every answer goes through
:func:`matcher.solving.finish.finish` (the independent checker).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.result import Result
from matcher.scoring import Scores
from matcher.solving.budget import Budget
from matcher.solving.components import UNBOUNDED, Component, components
from matcher.solving.construct import construct
from matcher.solving.fill import fill_gaps
from matcher.solving.finish import finish, path_stats, status_of
from matcher.solving.flow import capacity_matrix, min_fill_matrix, pairs_of
from matcher.solving.formulation import build_model
from matcher.solving.lns import (
    LNS_STEP_S,
    around_empty,
    bad_pharmacists,
    lns_step,
    open_to,
    repair,
)
from matcher.solving.lp_bound import lp_bound, lp_primal
from matcher.solving.params import SolveParams
from matcher.solving.slice_flow import sweep
from matcher.solving.starts import (
    FULL_MODEL_MAX,
    solve_full,
    solve_start,
    solve_support,
    start_at_least,
    start_candidates,
)
from matcher.solving.state import FlowState
from matcher.solving.warmstart import hint_positions

__all__ = ["LpLanes", "cross_stream_share", "lp_first", "on_support", "search", "side_by_side",
           "solve_flow_lns", "splits_into_small", "tighten_bounds"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# Largest restricted start model (candidates); a component whose start model would be
# larger starts from the greedy construction, repaired, and goes straight to the search.
# At 5,000 x 2,500 x 4 (start models of 45,000-68,000 candidates) CP-SAT found no good
# first solution in 15 s, while construction, repair and 30 s of search reached 0.8 %.
START_MAX_CANDIDATES = 30_000
# Share of the time left that the starts of all components may use together: small
# components' full models (START_SHARE), and large components' restricted models
# (LARGE_START_SHARE). A restricted start that runs out of its time leaves a feasible but
# poor allocation (supervisors spanning both streams: 1,000 x 1,000 x 3, seed 1, starts cut
# off after 3-25 s took 40 s of 60 and the round ended 11.5-13.9 % from its bound); with
# less for the starts and more for the search it ended 4.3-4.9 %, and 2,000 x 1,500 x 3,
# seed 2, 3.1-3.6 % (10.4 %). Not a free lunch: at 2,000 x 1,500 x 3 with per-period
# capacities, where starts need their time to find any allocation, seed 2 ended 22.0 %
# against 12.0 % (and 10.1 % with 90 % and the LP bound). Stopping a start at half its
# time once it had an allocation was worse than both (cross-supervisors 6.8-12.4 %).
START_SHARE = 0.9
LARGE_START_SHARE = 0.45
# The LP bound (:func:`tighten_bounds`) is tried on a large component whose gap, less what
# its empty slots cost, is above the search's stopping gap (``FlowState.gap_limit``: 0.1 %
# of the round's bound, pro rata by candidates), with at most LP_MAX_CANDIDATES. With five
# times that (0.5 %, until 2026-12-06) the seven components of a 1,000 x 1,000 x 3 round
# with fairness 50, 127-529 points from their flow bounds, got no LP, and the round ended
# 0.29-0.30 % from its bound (target 0.3 %); their LPs took 1.7-5.6 s each, converged, and
# closed 2,000 of the 2,400 points its fairness-free stage was short: 0.08 %. LP first
# (:func:`lp_first`) the threshold stays LP_FIRST_GAP: there the lanes, with their support
# phases, hold the cores for the components far from their bounds, and taking those near
# theirs too left a 2,000 x 1,500 x 3 round with organisation caps 5 search steps instead
# of 24 for LPs that moved no bound (0.55 % against 0.41 %, two runs each).
# PDLP needs time in proportion to the columns before its multipliers are of use:
# 300 x 400 x 3 per-period rounds (41,000 candidates) converged in 3-4 s; components of
# 1,000 x 1,000 x 3 (32,000-67,000) in 3-7 s; the whole of that round
# (362,000) bounded it at 959,764 after 20 s on two threads (flow 992,150, LP optimum
# 955,104) but at 1,546,070 after 10 s. A component's LP has twice its columns at
# LP_CANDIDATES_PER_S while the time left covers that for every component waiting; else
# their shares of the time left, in proportion, but never less than its columns at
# LP_LEAN_PER_S. Of its time, LP_POLISH_SHARE polishes PDLP's multipliers where PDLP has
# not converged (lp_bound.polish): on the seven components of a 2,000 x 1,500 x 3
# per-period round (85,000-268,000 candidates), the lean time (55 s for all seven, with
# the polish) closed 92 % of what the converged LPs close on the flow bound, where PDLP
# took 193 s to converge. A floor of 10,000 a second instead (measured once, three seeds)
# (longer LPs, fewer components with one) was worse on every shape of the variety at
# 2,000 x 1,500 x 3: per-period 3.4-4.5 % against 2.9-3.9 %, re-plans 1.9-2.2 % against
# 0.4-1.3 %. Those rates were 10,000 and 20,000 a second until PDLP got infinite row
# sides (lp_bound) and converged about twice as fast; at twice the rates the 5,000 x
# 2,500 x 4 per-period round gave two components an LP instead of one (44.5 and 43 s,
# closing 16,123 and 18,631 points) and ended 2.84 % from its bound against 3.03-3.08 %,
# 2,000 x 1,500 x 3 per-period seeds 0-2 0.179 / 0.148 / 0.155 % (0.132 / 0.186 /
# 0.272 %), cross-stream supervisors 0.146 / 0.303 / 0.282 % (0.256 / 0.298 / 0.277 %),
# fairness 50 at 2,000 x 1,500 x 3 0.268 % (0.213 %), one run each.
# HiGHS's dual simplex (lp_bound._simplex) first, for the component's candidates at
# SIMPLEX_PER_S on top of the LP's usual time, on components of at most SIMPLEX_MAX
# candidates in rounds whose periods do not vary (LpLanes.simplex). Where it proves
# the LP's optimum the bound is that optimum and its vertex a support on which CP-SAT
# comes within a few hundred points of it. On 2,000 x 1,500 x 3 cross-stream supervisors
# (seed 2), from a 60 s run's allocation: components of 89,273 / 97,429 / 128,110
# candidates solved in 8.4 / 5.7 / 8.9 s (PDLP and its polish had closed 1,045 / 0 / 0
# of their 1,600 / 650 / 1,287 points between flow bound and LP optimum in 3.9-5.9 s),
# and CP-SAT on the vertex's support took the gaps from 3,887 / 1,125 / 1,616 to
# 189 / 82 / 221 in 2.2 / 0.2 / 0.8 s. Where periods vary the simplex is slow (52-56 s
# on 103,000-candidate components of a per-period round; PDLP's 8 s polished is close),
# and above 150,000 candidates it took 20-106 s on tight and supervisor rounds.
SIMPLEX_MAX = 130_000
SIMPLEX_PER_S = 8_000
LP_FIRST_GAP = 0.005
LP_MAX_CANDIDATES = 600_000
LP_CANDIDATES_PER_S = 20_000
LP_LEAN_PER_S = 40_000
LP_POLISH_SHARE = 0.4
# Seconds before the end by which PDLP must be done: beside the search its last steps (and
# the bound's sums) share the cores, and a 304,000-column component of 2,000 x 1,500 x 3
# finished 1.3 s past the time limit when PDLP had all the time left.
LP_TAIL_S = 2.0
# An LP whose time left, once its model is built, is below this share of its lean time is
# not started (the budget ran out meanwhile).
LP_BUILT_SHARE = 0.8
# After the LP of a component, CP-SAT on the candidates it gives more than LP_SUPPORT (with
# the allocation) for at most LP_SUPPORT_S seconds (:func:`solve_support`).
LP_SUPPORT = 0.05
LP_SUPPORT_S = 10.0
# Share of that time for CP-SAT on the whole support before search steps within it
# (:func:`on_support`), where PDLP converged.
LP_SUPPORT_WHOLE_SHARE = 0.3
# A lane takes a component while another lane is at work only if its columns need at most
# this share of the time left (at LP_CANDIDATES_PER_S), and for at most that share: two
# lanes leave the search no core. Measured at the lean rate instead, two lanes at
# 5,000 x 2,500 x 4 per-period spent 87-90 s on components of 542,000-575,000 candidates
# and the round ended 6.1 % from its bound.
# At 5,000 x 2,500 x 4 with per-period capacities two lanes each spent 91 s on components
# of 542,000-576,000 candidates without converging, the search took 2 steps in 120 s and
# the round ended 6.1 % from its bound (5.1 % with one lane).
LP_SECOND_LANE_SHARE = 0.5
# The lanes stop once the LPs done (with their supports) closed less than this share of the
# gaps they were tried on: there the gap is the allocation's, which the search closes. On a
# 2,000 x 1,500 x 3 round with supervisors spanning both streams (seed 2) three LPs moved
# no bound and took 27 s of the search's cores: 2.3 % against 1.7 % with this rule (two
# LPs start side by side before either is done) and 1.5 % without LPs; on per-period rounds
# and re-plans each LP closed 20-100 % of its component's gap. Holding the second lane
# back until the first LP is done made that 1.5 % but cost a per-period round an LP
# (3.4 % against 3.1 %).
LP_WORTH = 0.1
# LP first: where at least LP_FIRST_FROM of the placements have a capacity that changes
# between periods or a min_fill, the flow bound (which collapses periods) is far off and a
# restricted start rarely finds a good allocation in its time (at 2,000 x 1,500 x 3 with
# per-period capacities, 77 % of placements so, five of seven starts ran out, two with no
# allocation, in 26 s of the 60): large components then start from the repaired
# construction (LP_FIRST_START_SHARE of the time for all of them), the lanes begin at
# once, two side by side on any component, the largest first, and each LP's support
# phase is LP_FIRST_SUPPORT_S; the search keeps to the supports after. Three seeds of that
# round, with the support steps and the lanes' reservations: 2.29 / 1.75 / 1.95 % against
# 3.14 / 3.43 / 3.53 % (the rounds generate_round makes have 19 % of placements so); with
# the largest first, adaptive steps and no CP-SAT on a whole support PDLP has not
# converged, 1.71 / 1.67 / 1.50 %.
LP_FIRST_FROM = 0.4
# ... or where a re-plan's change weight is at least LP_FIRST_CHANGE: its LP relaxation is
# nearly integral (the reference pulls every line), so the supports hold the optimum,
# while a restricted start from the reference as a hint barely moves from it. At
# 2,000 x 1,500 x 3 (60 s), gap % restricted starts -> LP first: change 1000 (seeds 0-2)
# 1.09 / 1.57 / 0.93 -> 0.012 / 0.002 / 0.029; change 200 0.235 / 0.132 / 0.179 ->
# 0.148 / 0.221 / 0.163 (even), with many pins, bans and leave (seed 0) 0.215 -> 0.224;
# change 50 (seed 0) 0.214 -> 0.282. So between 200 and 1000.
LP_FIRST_CHANGE = 500
# ... on rounds of at least LP_FIRST_CHANGE_FROM candidates: at 1,000 x 1,000 x 3 (375,000
# candidates) with change 1000 the restricted starts end proven in about 8 s and the
# round 0.001 / 0.001 / 0.001 % from its bound (seeds 0-2), where LP first ended 0.005 /
# 0.109 / 0.114 %; at 2,000 x 1,500 x 3 (1,126,000) LP first is the one that works (above).
# No size in between was measured.
LP_FIRST_CHANGE_FROM = 600_000
# ... or where at least LP_FIRST_CROSS of the placements are under a supervisor whose
# placements span two streams (who counts distinct pharmacists across both), on rounds of
# at least LP_FIRST_CROSS_FROM candidates. There the restricted starts of a
# 2,000 x 1,500 x 3 round (36 % of placements so) ran out with nothing after 10-11 s each
# and took 13-22 s of the 60 before the construction took over. LP first (no restricted
# starts, so 1.6-2.5 s) the supports' steps ended seeds 2 / 0 at 0.69-0.72 / 0.60 % from
# their bounds against 1.15-1.18 / 0.92 %, and restricted starts skipped without LP first
# 1.24 / 0.82 %; the benchmark's three seeds 0.611 / 0.487 / 0.675 % against
# 0.830 / 0.734 / 1.011 %. At 1,000 x 1,000 x 3 (376,000 candidates, 32 %) the
# starts succeed and LP first was even (seeds 1 / 0: 0.156 / 0.031 % against
# 0.133 / 0.037 %), so the size is the re-plan's.
LP_FIRST_CROSS = 0.2
LP_FIRST_CROSS_FROM = 600_000
# ... and only while the lean times of all large components together are at most this
# share of the workers' time left (2,000 x 1,500 x 3 per-period: 56 s of 2 x 58 s).
LP_FIRST_COVER = 0.7
LP_FIRST_START_SHARE = 0.1
LP_FIRST_SUPPORT_S = 5.0
# The stream LP (:func:`_stream_lp`): once STREAM_LP_AFTER of the time has gone, a lane,
# before any bound LP, takes the component whose empty slots in one non-rotating stream
# beyond its flow's cost the most (above its stopping gap), holds every line of the other
# streams, and solves the LP of that stream's candidates with PDLP for its columns at
# STREAM_LP_PER_S (models of at most STREAM_LP_MAX columns), then CP-SAT on the LP's
# support for at most STREAM_LP_SUPPORT_S. Again, while the last one filled something,
# at most STREAM_LP_TRIES times. At 15,000 a second, once per component and after 30 %
# of the time, on a tight 2,000 x 1,500 x 3 round (seed 0) a 215,608-candidate
# component kept one empty 10,000-point slot in three runs of five (the round ended
# 1.19-1.23 % from its bound, 0.60-0.61 % otherwise): from where one of those ended, the
# stream LP filled nothing in 8.4 s (a support of 4,963 candidates, on which CP-SAT did
# not finish in 5 s) and filled the slot in 17 s (a support of 2,162). At 7,500 a
# second the slot still stayed empty in two runs of twelve where that component's stream
# LP came third and left no time for a second; after 20 % of the time, four runs of
# four ended 0.41-0.47 % (with the late bound LPs of _next_for_lp).
STREAM_LP_AFTER = 0.2
LATE_LP_MAX = 300_000
STREAM_LP_PER_S = 7_500
STREAM_LP_MAX = 250_000
STREAM_LP_SUPPORT_S = 5.0
STREAM_LP_TRIES = 3
# A component whose stream model is larger than STREAM_LP_MAX has the LP of the stream
# around its empty slots instead (:func:`~matcher.solving.lns.around_empty`: its
# pharmacists' lines freed until their candidates in the stream number
# STREAM_LP_AROUND), a new neighbourhood each time, up to STREAM_LP_AROUND_TRIES times
# until STREAM_LP_AROUND_MISSES in a row have filled nothing. On a tight 5,000 x 2,500 x 4
# round (components of 552,000-1,208,000 candidates, practice streams of 326,000-
# 695,000), where the allocations kept 16-19 practice slots empty beyond their flows in
# three components, the round ended 2.97 % (75,000), 2.56 % (120,000) and 2.14 %
# (100,000, in the benchmark) from its bound against 8.17 % without. PDLP has
# STREAM_LP_AROUND_S for such an LP: its support, unconverged, already holds the moves.
# From a saved allocation with 8 practice slots empty beyond the flow (88,449 points of
# gap), three 100,000-candidate LPs of 4 s filled 58,000 points in 18 s, one of 8 s
# 19,000 in 10 s and one of 60 s on 300,000 candidates 38,000 in 66 s; at the 14 s the
# columns' rate gave them, the run's own tries had filled 20,000-30,000 each and the
# last one nothing, which ended that component's tries (a fresh draw then filled 19,000:
# a try that fills nothing is often the neighbourhood's luck, not the end).
# A try fills something when the component has fewer empty slots after it; until
# 2026-12-07 any gain of points counted, and on that round a component whose last slot the
# tries could not fill kept taking them to its end with gains of 20 points, while of
# components whose slots were worth the same the first in order won every tie, so one
# whose first try filled 19 slots never had a second for its last (now the least tried).
# After a miss the next LP around the slots frees twice the candidates and has twice the
# time: late in a run the slots left need longer chains than 100,000 candidates hold. On
# that round (four 120 s runs each) the round ended 0.896-1.146 % from its bound (mean
# 1.027 %) against 1.119-1.281 % (1.186 %) with the same size every time; the grown tries
# (115,000-180,000 columns, 8 s) filled 1-4 slots in five of seven. A benchmark run after
# them ended 1.426 %: runs of this code spread over 0.90-1.43 %, so the gain is not sure.
STREAM_LP_AROUND = 100_000
STREAM_LP_AROUND_TRIES = 20
STREAM_LP_AROUND_S = 4.0
STREAM_LP_AROUND_MISSES = 2


def lp_first(rnd: Round, n_candidates: int) -> bool:
    """Whether the round (of ``n_candidates`` candidates) is solved LP first: at least
    :data:`LP_FIRST_FROM` of its placements have a capacity that changes between periods
    or a ``min_fill``, or it re-plans (a ``reference``) with ``weights.change`` of at
    least :data:`LP_FIRST_CHANGE` and has at least :data:`LP_FIRST_CHANGE_FROM`
    candidates, or at least :data:`LP_FIRST_CROSS` of its placements are under a
    supervisor spanning two streams (:func:`cross_stream_share`) and it has at least
    :data:`LP_FIRST_CROSS_FROM` candidates."""
    if not rnd.placements:
        return False
    if (rnd.reference and rnd.weights.change >= LP_FIRST_CHANGE
            and n_candidates >= LP_FIRST_CHANGE_FROM):
        return True
    if n_candidates >= LP_FIRST_CROSS_FROM and cross_stream_share(rnd) >= LP_FIRST_CROSS:
        return True
    return periods_vary(rnd) >= LP_FIRST_FROM


def periods_vary(rnd: Round) -> float:
    """The share of the round's placements with a capacity that changes between periods
    or a ``min_fill``."""
    if not rnd.placements:
        return 0.0
    cap, fill = capacity_matrix(rnd), min_fill_matrix(rnd)
    varies = (cap.max(axis=1) != cap.min(axis=1)) | (fill.max(axis=1) > 0)
    return float(varies.mean())


def cross_stream_share(rnd: Round) -> float:
    """The share of the round's placements under a supervisor whose placements are in
    more than one stream."""
    if not rnd.placements:
        return 0.0
    under: set[str] = set()
    for sup in rnd.supervisors:
        if len({rnd.stream_of(rnd.placement(pid)).id for pid in sup.placements}) > 1:
            under.update(sup.placements)
    return len(under) / len(rnd.placements)


def splits_into_small(rnd: Round, cand: Candidates, sc: Scores) -> bool:
    """Whether the round splits into several independent components, each small enough
    for its full model (:data:`~matcher.solving.starts.FULL_MODEL_MAX` candidates)."""
    if rnd.weights.fairness > 0:
        return False
    lab_p, _ = components(rnd, cand, pairs_of(rnd, cand, sc))
    sizes = np.bincount(lab_p[cand.pharmacist])
    return len(sizes) >= 2 and int(sizes.max()) <= FULL_MODEL_MAX


def solve_flow_lns(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                   budget: Budget, *, cap: int | None = None) -> Result:
    """The flow path (module docs): the checked result. ``cap`` is a valid bound on the
    round's objective known beforehand; it bounds a round that is one component (a
    fairness round: :func:`~matcher.solving.flow.fairness_bound`)."""
    t0 = time.monotonic()
    st = FlowState(rnd, cand, sc, params, budget)
    comps = st.comps
    capped = cap is not None and len(comps) == 1
    # Flow bounds now for the components that are not small; a small one is usually proven
    # by its full model, and gets its flow bound afterwards only if it is not. Not for a
    # fairness round's second stage, from its first stage's allocation: its flow bound
    # (the fairness-free flow plus the same cap on M) is never below ``cap``, whose
    # first-stage part is at most that flow, and the flow's pairs only guide a
    # construction the warm start makes needless (1.1 s at 2,000 x 1,500 x 3).
    if not (capped and params.hint is not None):
        st.bound_components([k for k in comps if len(k.idx) > FULL_MODEL_MAX])
    if cap is not None and capped:
        # One component: its bound is the round's (its allocation is the round's).
        comps[0].bound = min(comps[0].bound, cap)
        comps[0].stats["cap"] = cap
    flow_s = time.monotonic() - t0
    # A warm start: the previous allocation, per component (a hint).
    hinted = hint_positions(rnd, cand, params.hint)
    # Start: small components get their full model, then large ones the restricted model
    # around the flow's pairs (or the repaired greedy); each a share of START_SHARE of the
    # time left in proportion to its candidates (see side_by_side).
    small = [k for k in comps if len(k.idx) <= FULL_MODEL_MAX]
    large = [k for k in comps if len(k.idx) > FULL_MODEL_MAX]
    left = len(cand)
    side_by_side(st, small, left, lambda comp, limit: solve_full(
        st, comp, limit, None if hinted is None else comp.holds(hinted)))
    if any(k.stats.get("infeasible") for k in small):
        large = []  # the round is infeasible: nothing more to search
    st.bound_components([k for k in small if not k.proven])
    left -= sum(len(k.idx) for k in small)

    # LP first only where the lanes can give every large component its LP, in its lean
    # time: at 5,000 x 2,500 x 4 per-period (components of 540,000-580,000 candidates) the
    # LPs reach few components in 120 s, the rest kept their repaired construction, and
    # the round ended 5.85 % from its bound against 5.18 % with the restricted starts.
    def lps_fit() -> bool:
        return all(len(k.idx) <= LP_MAX_CANDIDATES for k in large) and (
            sum(len(k.idx) for k in large) / LP_LEAN_PER_S
            <= LP_FIRST_COVER * max(1, st.params.worker_count) * budget.left())

    first = lp_first(rnd, len(cand)) and lps_fit()
    # Set once a restricted start ends without any allocation: its model was too hard
    # for CP-SAT in its share, and so, most likely, are those of the round's other
    # components. Those not started yet begin from the repaired construction, and the
    # round goes on LP first if the LPs fit. At 2,000 x 1,500 x 3 with supervisors
    # spanning both streams five of seven starts ran out with nothing after 3-10 s each
    # (25 s of the 60 went on starts); with this rule the round ended 0.95 / 1.24 /
    # 1.32 % from its bound (seeds 0-2) against 1.13 / 1.46 / 1.44 %.
    starts_fail = threading.Event()

    def start(comp: Component, limit: float) -> None:
        warm = None if hinted is None else comp.holds(hinted)
        if (not first and not starts_fail.is_set()
                and start_at_least(st, comp) <= START_MAX_CANDIDATES
                and len(start_candidates(st, comp)) <= START_MAX_CANDIDATES):
            solve_start(st, comp, limit, warm)
            if comp.chosen is None:
                starts_fail.set()
            if comp.chosen is None or comp.stats.get("start_timed_out"):
                # Cut short before CP-SAT's LP-guided search found a good allocation, a
                # start can be millions of points short (27 empty slots in one run at
                # 2,000 x 1,500 x 3); the repaired construction is then the better base.
                repair(st, comp, construct(st, comp), time.monotonic() + min(limit, 3.0))
        elif warm is not None and len(warm) and not bad_pharmacists(st, warm, comp):
            # A warm start that breaks no rule (a fairness round's first stage) is the
            # base as it is: the construction would keep all of it and only try the
            # empty slots, which the single moves after the start try too (1.2 s of a
            # second stage's 6-15 s at 2,000 x 1,500 x 3).
            st.accept(comp, warm, "warm start")
        else:
            # Too large for a restricted start, LP first, or another start found nothing:
            # the greedy construction, keeping what still fits of the warm start (a
            # re-plan's reference), repaired.
            repair(st, comp, construct(st, comp, keep=warm), time.monotonic() + limit)

    side_by_side(st, large, left, start,
                 share=LP_FIRST_START_SHARE if first else LARGE_START_SHARE)
    start_s = time.monotonic() - t0 - flow_s
    starts_failed = starts_fail.is_set()  # never set LP first: no restricted starts
    if starts_failed:
        first = lps_fit()
    # Components the start has not placed: their repair, from where the start's got to
    # if it ran out (else from the greedy construction), one after another in this thread
    # with every worker. From a new construction, two repairs of a tight 5,000 x 2,500 x 4
    # round's components took 20 s after their starts' had taken 14 s; from where its
    # start's got to, one (64 rule breakers) took 2.5 s against 25 s. Side by side, one
    # CP-SAT worker each, that one ran out of its 41 s and the round had no allocation.
    for comp in large:
        if comp.chosen is None and not budget.stopped():
            base = st.repairing.get(comp.index)
            repair(st, comp, construct(st, comp) if base is None else base,
                   time.monotonic() + budget.left() / 2)
        fill_gaps(st, comp)
    # Small components not proven in their share: their full model again, from their
    # allocation, sharing the time left with the search of the large ones below.
    unproven = [k for k in small if not k.proven]
    for n, comp in enumerate(unproven):
        if budget.stopped():
            break
        shares = len(unproven) - n + (1 if large else 0)
        solve_full(st, comp, budget.left() / shares, comp.chosen)
    large = [k for k in large if k.chosen is not None]
    if not first:
        # One sweep of every large component before the LP lanes start (LP first, the
        # LPs' supports are the search's first steps instead): with both lanes in an LP
        # the search waits, and at 5,000 x 2,500 x 4 it waited 44 s (tight) and 52 s
        # (per-period) for LPs of 550,000-585,000 columns, where each component's first
        # sweep, 2.5-7 s, took 28-95 % off its gap.
        side_by_side(st, large, sum(len(k.idx) for k in large),
                     lambda comp, _limit: sweep(st, comp))
    # The LP bound beside the search, in threads of its own (PDLP leaves Python's lock);
    # with one worker, one pass before the search instead.
    lp_thread: threading.Thread | None = None
    lp_stop = threading.Event()
    lanes = LpLanes(st.params.worker_count, first=first,
                    simplex=periods_vary(rnd) < LP_FIRST_FROM)
    if st.params.worker_count >= 2:
        lp_thread = threading.Thread(target=tighten_bounds, args=(st, large),
                                     kwargs={"stop": lp_stop, "lanes": lanes},
                                     name="lp-bound", daemon=True)
        lp_thread.start()
    else:
        tighten_bounds(st, large, lanes=lanes)
    steps = search(st, large, lanes=lanes)
    if lp_thread is not None:
        lp_stop.set()
        lp_thread.join()
    st.bound_components([k for k in comps if k.bound >= UNBOUNDED])
    chosen, objective, bound = st.current()
    infeasible = any(k.stats.get("infeasible") for k in comps)
    status = status_of(chosen is not None,
                       all(k.proven or k.gap <= 0 for k in comps), infeasible)
    if infeasible:
        # A component's full model has no allocation: neither has the round.
        chosen, objective, bound = None, None, None
    elif chosen is None:
        # No allocation for some component: report the flow bound alone.
        bound = int(st.empty_value + sum(k.bound - st.empty_value for k in comps)) \
            if comps else None
    stats: dict[str, Any] = path_stats(
        "flow+lns", "min-cost-flow+cp-sat", params, build_s=flow_s,
        solve_s=time.monotonic() - t0 - flow_s) | {
        "components": len(comps),
        "component_details": [
            {"pharmacists": len(k.pharmacists), "candidates": len(k.idx),
             "gap": None if k.value is None else int(k.bound - k.value), "proven": k.proven,
             "empty_points": empty_points(st, k),
             "beyond_flow_points": beyond_flow_points(st, k), **k.stats} for k in comps],
        "flow_seconds": round(flow_s, 3),
        "start_seconds": round(start_s, 3),
        "lns_steps": steps,
        "lp_first": first,
        "starts_failed": starts_failed,
        "candidates": len(cand),
    }
    return finish(rnd, cand, sc, chosen, status=status, objective=objective, bound=bound,
                  stats=stats)


class LpLanes:
    """The LP bound's threads (:func:`tighten_bounds`) and how many of them are at work;
    the search (:func:`search`) leaves those cores to them. A lane counts as at work
    (``busy``) from its start until it finds no component waiting for its LP (and again
    once one is); ``running`` counts the lanes inside a component's LP. ``tried`` sums
    the gaps of the components whose LP (and LP support) is done, as they were before it,
    and ``closed`` what those closed. All change only under the flow state's lock.

    ``first``: the round is solved LP first (:func:`lp_first`): a lane beside another
    takes any component, and each LP's support phase is shorter. ``simplex``: the LPs
    of components of at most :data:`SIMPLEX_MAX` candidates try HiGHS's simplex first."""

    def __init__(self, total: int, *, first: bool = False, simplex: bool = False) -> None:
        self.total = max(1, total)
        self.busy = self.total
        self.running = 0
        self.tried = 0.0
        self.closed = 0.0
        self.first = first
        self.simplex = simplex
        # When each running LP (with its support phase) is due to end, by component.
        self.ends: dict[int, float] = {}
        # Components in their support phase (on_support): the search leaves them to it.
        self.supporting: set[int] = set()
        # How many stream LPs (_stream_lp) each component has taken, whose is running
        # and how many in a row filled nothing.
        self.stream_tries: dict[int, int] = {}
        self.stream_running: set[int] = set()
        self.stream_misses: dict[int, int] = {}
        # (slots, candidates) of each component in each non-rotating stream
        # (_stream_sizes), counted once.
        self.stream_sizes: dict[tuple[int, int], tuple[int, int]] = {}

    def stream_done(self, index: int, filled: int) -> None:
        """Count a finished stream LP of component ``index`` that filled ``filled`` empty
        slots (a try that only moved points filled nothing)."""
        self.stream_running.discard(index)
        self.stream_misses[index] = 0 if filled > 0 else self.stream_misses.get(index, 0) + 1

    def around_grow(self, index: int) -> int:
        """How many times :data:`STREAM_LP_AROUND` (and :data:`STREAM_LP_AROUND_S`) the next
        LP around component ``index``'s empty slots gets: twice after a miss."""
        return int(2 ** self.stream_misses.get(index, 0))

    @property
    def support_s(self) -> float:
        """The longest support phase after an LP (shorter LP first)."""
        return LP_FIRST_SUPPORT_S if self.first else LP_SUPPORT_S

    def worth_it(self) -> bool:
        """Whether the LPs done so far (if any) closed at least :data:`LP_WORTH` of the
        gaps they were tried on."""
        return self.tried <= 0 or self.closed >= LP_WORTH * self.tried


def search(st: FlowState, comps: list[Component], *, lanes: LpLanes | None = None) -> int:
    """Large-neighbourhood search on the components until the budget runs out or every
    gap is closed; the number of steps taken. A step picks a component not being searched
    at random in proportion to its gap. With two or more workers and components, steps on
    different components run side by side, one CP-SAT worker each (a step's sub-model is
    solved as fast by one worker as by two, so this doubles the steps on two cores); else
    one at a time with all the workers. With ``lanes``, search thread ``k`` takes a step
    only while at most ``workers - 1 - k`` LP lanes are at work: the LP's PDLP needs a
    core to itself to converge, and after it a component's LP support is worth far more
    than a step (:func:`tighten_bounds`)."""
    budget = st.budget
    workers = st.params.worker_count
    threads = min(len(comps), workers)
    busy: set[int] = set()
    steps = [0]

    def pick() -> Component | None:
        with st.lock:
            # A gap of one point is the LP bound's rounding (lp_bound): nothing to find.
            # A component in its support phase is being searched by its lane: a step
            # beside it starts from the same allocation, and one of the two is lost.
            held = busy if lanes is None else busy | lanes.supporting
            open_ = [k for k in comps if k.gap > 1 and k.index not in held]
            if not open_:
                return None
            gaps = np.array([k.gap for k in open_], dtype=np.float64)
            comp = open_[int(st.rng.choice(len(open_), p=gaps / gaps.sum()))]
            busy.add(comp.index)
            return comp

    def wait_for_a_core(number: int) -> None:
        while (lanes is not None and lanes.busy > workers - 1 - number
               and not budget.stopped()):
            time.sleep(0.2)

    def loop(number: int) -> None:
        if threads > 1:
            st.use_thread(2, number)
        while not budget.stopped():
            wait_for_a_core(number)
            if budget.stopped():
                return
            comp = pick()
            if comp is None:
                return  # every gap closed, or the rest are being searched
            try:
                # Building the step's model is not in CP-SAT's limit: leave it some time.
                limit = min(budget.left() - 0.3, max(1.0, min(LNS_STEP_S, budget.left() / 4)))
                if limit < 0.2:
                    return  # too little left to build and solve a step
                lns_step(st, comp, limit)
                polish(st, comp)
                with st.lock:
                    steps[0] += 1
            finally:
                with st.lock:
                    busy.discard(comp.index)

    if threads <= 1:
        loop(0)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="search") as pool:
            list(pool.map(loop, range(threads)))
    return steps[0]


def empty_points(st: FlowState, comp: Component) -> int:
    """What the component's empty (pharmacist, period, stream) slots cost its allocation:
    the part of its gap that a search fills and a tighter bound cannot close."""
    if comp.chosen is None:
        return 0
    return int(st.empty_slots(comp, comp.chosen).sum()) * st.rnd.weights.unassigned


def beyond_flow_points(st: FlowState, comp: Component) -> int:
    """What the component's empty slots beyond those its flow relaxation leaves empty
    cost its allocation (:func:`empty_points` where the flow fill is not known)."""
    if comp.chosen is None or comp.flow_filled is None:
        return empty_points(st, comp)
    return max(0, int(comp.flow_filled.sum()) - len(comp.chosen)) * st.rnd.weights.unassigned


def tighten_bounds(st: FlowState, comps: list[Component], *,
                   stop: threading.Event | None = None,
                   lanes: LpLanes | None = None) -> None:
    """The LP bound (:mod:`matcher.solving.lp_bound`) of large components whose gap, less
    what their empty slots cost, is above the search's stopping gap
    (:meth:`~matcher.solving.state.FlowState.gap_limit`; LP first, :data:`LP_FIRST_GAP`
    instead): the components whose bound, not allocation, may be what is far off. The
    largest such gap per candidate first, each while the time left covers its columns
    (see the constants), then CP-SAT on the LP's support (:func:`solve_support`).

    With ``stop``: beside the search, in ``lanes.total`` threads (one PDLP each: PDLP gains
    nothing from a second thread on components of 85,000 columns, while two components
    side by side take half the time of one after the other), checking again as the search
    fills empty slots, until ``stop`` is set (which also interrupts PDLP). Each thread
    counts as at work in ``lanes`` until it finds no component waiting, and the search
    leaves it its core (:func:`search`); while one lane runs an LP, another takes only a
    component needing at most :data:`LP_SECOND_LANE_SHARE` of the time left (unless the
    round is solved LP first). After its LP, a component's support phase
    (:func:`on_support`) runs in the lane too. The lanes
    run at the usual priority: with the search on every core, PDLP at the lowest one never
    converged and the round's bound stayed the flow's. Without ``stop``: one pass now, in
    this thread."""
    queue = [k for k in comps if len(k.idx) <= LP_MAX_CANDIDATES]
    n = 1 if stop is None or lanes is None else lanes.total
    if n <= 1:
        _lane(st, comps, queue, stop, lanes)
        return
    threads = [threading.Thread(target=_lane, args=(st, comps, queue, stop, lanes, i),
                                name=f"lp-bound-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _lane(st: FlowState, comps: list[Component], queue: list[Component],
          stop: threading.Event | None, lanes: LpLanes | None,
          number: int | None = None) -> None:
    """One thread of :func:`tighten_bounds`: takes components from ``queue`` (shared with
    the other lanes, under ``st.lock``) for their LP and, when none is ready, one of
    ``comps`` for its stream LP (:func:`_stream_lp`); marks itself not at work in
    ``lanes`` when it waits and when it ends. Lane ``number`` of several solves with one
    CP-SAT worker."""
    if number is not None:
        st.use_thread(3, number)
    at_work = True

    def work(now: bool) -> None:
        nonlocal at_work
        if lanes is not None and now != at_work:
            with st.lock:
                lanes.busy += 1 if now else -1
        at_work = now

    try:
        while not st.budget.stopped() and not (stop is not None and stop.is_set()):
            # A stream LP first once one is due: the empty slots it fills are worth far
            # more than what a bound LP closes.
            streamed = _next_for_stream_lp(st, comps, lanes)
            if streamed is not None and lanes is not None:
                work(True)
                _stream_lp(st, *streamed, stop, lanes)
                continue
            nxt = _next_for_lp(st, queue, lanes)
            if nxt is None:
                work(False)
                if stop is None or stop.wait(0.5):
                    return
                continue
            work(True)
            try:
                _lp_of(st, *nxt, stop, lanes)
            finally:
                if lanes is not None:
                    with st.lock:
                        lanes.running -= 1
                        lanes.ends.pop(nxt[0].index, None)
    finally:
        work(False)


def _next_for_lp(st: FlowState, queue: list[Component], lanes: LpLanes | None
                 ) -> tuple[Component, float] | None:
    """The next component for its LP, taken out of ``queue`` (and counted in
    ``lanes.running``), with the time its LP may take (see :data:`LP_CANDIDATES_PER_S`);
    None when none is ready (components whose lean time the time left no longer covers
    leave the queue). While another lane runs an LP, only a component whose columns need
    at most :data:`LP_SECOND_LANE_SHARE` of the time left is ready, for at most that
    share (LP first, ``lanes.first``: any component, as for a lane alone)."""
    first = lanes is not None and lanes.first
    with st.lock:
        left = st.budget.left() - LP_TAIL_S
        queue[:] = [k for k in queue if len(k.idx) / LP_LEAN_PER_S <= left]
        # Beside another LP, only a component whose full time (its columns at
        # LP_CANDIDATES_PER_S) is at most LP_SECOND_LANE_SHARE of the time left, and for
        # at most that share (LP first: any whose lean time the time left covers).
        beside = lanes is not None and lanes.running > 0 and not first
        room = left * LP_SECOND_LANE_SHARE if beside else left
        rate = LP_CANDIDATES_PER_S if beside else LP_LEAN_PER_S

        def ready_by(empty: Callable[[FlowState, Component], int]
                     ) -> list[tuple[float, Component]]:
            """The components that fit, with their gaps less ``empty``, above their
            stopping gaps."""
            gaps = [(k.gap - empty(st, k), k) for k in queue if len(k.idx) / rate <= room]
            return [(g, k) for g, k in gaps
                    if g > (st.gap_limit(k, LP_FIRST_GAP) if first else st.gap_limit(k))]

        ready = ready_by(empty_points)
        late = (not ready and lanes is not None and not first
                and st.budget.elapsed() >= STREAM_LP_AFTER * st.budget.limit)
        if late:
            # Late, with no stream LP due (the lanes try those first): the empty slots
            # left are most likely those the flow leaves empty too (capacity below
            # demand), so a component's gap beyond them may be its bound's. Such an LP
            # has all the room there is: on a tight 2,000 x 1,500 x 3 round (seed 0) a
            # 195,326-candidate component's got 11-16 s and bound it 672-1,714 points
            # below its flow bound (of a gap of 2,600-3,100), where with only its share
            # of the time left (4-6 s) it bound it no lower. Not a component of more
            # than LATE_LP_MAX candidates: PDLP does not converge on one in the time a
            # round has left (tight 5,000 x 2,500 x 4: 552,471 and 585,054 candidates,
            # 33-66 s each, bounds above the flow's), and the search lost that core.
            ready = [(g, k) for g, k in ready_by(beyond_flow_points)
                     if len(k.idx) <= LATE_LP_MAX]
        if not ready or (lanes is not None and not lanes.worth_it()):
            return None
        if first:
            # LP first every large component is meant to have its LP: the largest first,
            # so the last to start are the shortest and fit in what the lanes have left
            # (in order of gap per candidate, a 2,000 x 1,500 x 3 per-period round's
            # 189,000-candidate component came last and found 8 s left of the 9.4 s it
            # needed: no LP, and 15,000 of the round's 50,000 points of gap).
            # Those the simplex solves before them: its bound and support are the
            # surest gains, and the smallest component, last by size, was left 5 s of
            # the 11 its simplex needed.
            comp = max(ready, key=lambda gk: (simplex_s(gk[1], lanes) > 0,
                                              len(gk[1].idx)))[1]
        else:
            # The largest gap per candidate first: a smaller component's LP converges
            # sooner (PDLP's time grows with the columns: 10 s for 87,000, 36 s for
            # 252,000); those the simplex solves before the others.
            comp = max(ready, key=lambda gk: (simplex_s(gk[1], lanes) > 0,
                                              gk[0] / len(gk[1].idx)))[1]
        # Twice its columns' time while the lanes' time left covers that for every
        # component waiting, else in proportion, never below the lean time.
        generous = 2.0 * len(comp.idx) / LP_CANDIDATES_PER_S
        waiting = sum(2.0 * len(k.idx) / LP_CANDIDATES_PER_S for k in queue)
        lanes_left = left * (lanes.total if lanes is not None else 1)
        if lanes is not None and lanes.first:
            # LP first, each LP's support phase (on_support, which runs to its end)
            # comes out of the lanes' time too, and so does what the LPs running in
            # other lanes still have of theirs: counting a busy lane's time as free let
            # one LP take 19 s of the last 24 and left a 175,000-candidate component of
            # a 2,000 x 1,500 x 3 per-period round none. (Not otherwise: there the
            # support's CP-SAT mostly ends in a second or two, and reserving its 10 s
            # cut the LPs of 1,000 x 1,000 x 3 cross-supervisor rounds to their lean
            # time and their bounds by 2,200 points: 0.53 % against 0.27 %.)
            now = time.monotonic()
            lanes_left -= lanes.support_s * len(queue) + sum(
                max(0.0, min(end - now, left)) for end in lanes.ends.values())
        limit = max(len(comp.idx) / LP_LEAN_PER_S,
                    generous * min(1.0, max(0.0, lanes_left) / waiting))
        queue.remove(comp)
        limit = room if late else min(limit, room)
        limit = min(room, limit + simplex_s(comp, lanes))
        if lanes is not None:
            lanes.running += 1
            lanes.ends[comp.index] = time.monotonic() + limit + lanes.support_s
        return comp, limit


def simplex_s(comp: Component, lanes: LpLanes | None) -> float:
    """The seconds HiGHS's simplex has first for the LP of ``comp``: its candidates at
    :data:`SIMPLEX_PER_S` where the lanes use the simplex and it has at most
    :data:`SIMPLEX_MAX`, else 0 (no simplex)."""
    if lanes is None or not lanes.simplex or len(comp.idx) > SIMPLEX_MAX:
        return 0.0
    return len(comp.idx) / SIMPLEX_PER_S


def _lp_of(st: FlowState, comp: Component, limit: float,
           stop: threading.Event | None, lanes: LpLanes | None = None) -> None:
    """The LP bound of one component in at most ``limit`` seconds (polished,
    :func:`~matcher.solving.lp_bound.polish`), then its support phase
    (:func:`on_support`); what they closed of its gap is counted in ``lanes``
    (:meth:`LpLanes.worth_it`)."""
    model = build_model(st.rnd, st.cand.subset(comp.idx), st.sc.subset(comp.idx),
                        scope=st.scope(comp))
    # The LP's time counts from here: taken out of ``limit``, the build (0.2-0.4 s at
    # 95,000-220,000 candidates) left a limit at the lean floor below it, and three of the
    # seven components of a 2,000 x 1,500 x 3 per-period round lost their LP that way.
    limit = min(limit, st.budget.left() - LP_TAIL_S)
    if limit < LP_BUILT_SHARE * len(comp.idx) / LP_LEAN_PER_S:
        return  # the time ran out while the model was built
    with st.lock:
        target = comp.value  # an allocation's objective: at most the optimum
        before, room, gap = comp.bound, comp.gap - empty_points(st, comp), comp.gap
    got = lp_bound(model, limit, interrupt=stop, polish_share=LP_POLISH_SHARE,
                   target=target,
                   simplex_s=simplex_s(comp, lanes))
    with st.lock:
        comp.stats["lp_seconds"] = round(got.seconds, 3)
        comp.stats["lp_status"] = got.status
        if got.bound is not None:
            comp.stats["lp_bound"] = got.bound
            comp.bound = min(comp.bound, got.bound)
        comp.stats["lp_gain"] = before - comp.bound
        comp.stats["lp_room"] = room
        if got.simplex:
            comp.stats["lp_simplex"] = True
        if got.polish_steps:
            comp.stats["lp_pdlp_bound"] = got.pdlp_bound
            comp.stats["lp_polish_steps"] = got.polish_steps
    if got.primal is not None and not (stop is not None and stop.is_set()):
        # The LP's support, with the allocation, is a small model that holds most of
        # the optimum where the LP is nearly integral. LP first, the search keeps to it
        # from now (on_support); otherwise the support phase is CP-SAT on all of it, as
        # before LP first was measured (its steps are measured only on per-period rounds).
        support = comp.idx[got.primal > LP_SUPPORT]
        limit = min(LP_SUPPORT_S if lanes is None else lanes.support_s,
                    st.budget.left() - LP_TAIL_S)
        if lanes is not None and lanes.first:
            if len(st.pins):
                support = np.union1d(support, comp.holds(st.pins))
            with st.lock:
                comp.focus = support.astype(np.int64)
            if limit > 0.5:
                with st.lock:
                    lanes.supporting.add(comp.index)
                try:
                    on_support(st, comp, support, limit, whole=got.status == "OPTIMAL")
                finally:
                    with st.lock:
                        lanes.supporting.discard(comp.index)
        elif limit > 0.5:
            solve_support(st, comp, support, limit)
    if lanes is not None and not (stop is not None and stop.is_set()):
        with st.lock:
            lanes.tried += gap
            lanes.closed += gap - comp.gap


def _next_for_stream_lp(st: FlowState, comps: list[Component], lanes: LpLanes | None
                        ) -> tuple[Component, int, float] | None:
    """The component, non-rotating stream and PDLP time of the next stream LP
    (:func:`_stream_lp`), marked as taken in ``lanes``; None when none is due: before
    :data:`STREAM_LP_AFTER` of the time, or when no component due one has empty slots in
    such a stream beyond its flow's whose cost (at most the component's gap: what
    filling them may gain) is above its stopping gap, with a model and time that fit
    (see the constants). The largest such gain first (of equal ones, the component tried
    least). A component is due one until it
    has taken :data:`STREAM_LP_TRIES` while the last one filled something (around its
    empty slots, :data:`STREAM_LP_AROUND_TRIES` of :data:`STREAM_LP_AROUND_S` each, twice
    that after a miss, until
    :data:`STREAM_LP_AROUND_MISSES` in a row filled nothing)."""
    budget = st.budget
    if lanes is None or budget.elapsed() < STREAM_LP_AFTER * budget.limit:
        return None
    w = st.rnd.weights.unassigned
    fixed = np.flatnonzero(~st.rotating).tolist()

    def due(comp: Component) -> bool:
        tries = lanes.stream_tries.get(comp.index, 0)
        if tries == 0:
            return True
        if comp.index in lanes.stream_running:
            return False
        return (tries < STREAM_LP_AROUND_TRIES
                and lanes.stream_misses.get(comp.index, 0) < STREAM_LP_AROUND_MISSES)

    # Counted outside the lock (the search's steps wait on it), once per run.
    sizes = {(k.index, s): _stream_sizes(st, k, s, lanes) for k in comps if due(k)
             for s in fixed}
    best: tuple[tuple[float, int], Component, int, float] | None = None
    with st.lock:
        for comp in comps:
            if not due(comp) or comp.chosen is None or comp.proven:
                continue
            held = np.bincount(st.cand.stream[comp.chosen], minlength=len(st.rotating))
            for s in fixed:
                if (comp.index, s) not in sizes:
                    continue  # due since the sizes were counted: next time
                slots, n_mine = sizes[comp.index, s]
                # What filling them may gain: the cost of those beyond the flow's, at
                # most the gap.
                fillable = slots if comp.flow_filled is None else comp.flow_filled[s]
                worth = min(float((fillable - held[s]) * w), float(comp.gap))
                columns = len(comp.chosen) + n_mine
                if columns > STREAM_LP_MAX:
                    grow = lanes.around_grow(comp.index)
                    columns = len(comp.chosen) + STREAM_LP_AROUND * grow  # around its slots
                    seconds = STREAM_LP_AROUND_S * grow
                elif (lanes.stream_tries.get(comp.index, 0) >= STREAM_LP_TRIES
                      or lanes.stream_misses.get(comp.index, 0)):
                    continue  # the whole stream's LP: while the last filled something
                else:
                    seconds = columns / STREAM_LP_PER_S
                # The largest gain first; of equal ones, the component tried least.
                rank = (worth, -lanes.stream_tries.get(comp.index, 0))
                if (worth > st.gap_limit(comp) and columns <= STREAM_LP_MAX
                        and seconds + STREAM_LP_SUPPORT_S + LP_TAIL_S <= budget.left()
                        and (best is None or rank > best[0])):
                    best = (rank, comp, s, seconds)
        if best is None:
            return None
        index = best[1].index
        lanes.stream_tries[index] = lanes.stream_tries.get(index, 0) + 1
        lanes.stream_running.add(index)
    return best[1], best[2], best[3]


def _stream_sizes(st: FlowState, comp: Component, stream: int, lanes: LpLanes
                  ) -> tuple[int, int]:
    """The component's (pharmacist, period) slots with a candidate in ``stream`` and its
    candidates there: fixed for the run, so counted once (kept in ``lanes``)."""
    key = (comp.index, stream)
    got = lanes.stream_sizes.get(key)
    if got is None:
        c = st.cand
        mine = comp.idx[c.stream[comp.idx] == stream]
        slots = np.unique(c.pharmacist[mine] * len(st.rnd.periods) + c.period[mine])
        got = lanes.stream_sizes[key] = (len(slots), len(mine))
    return got


def _stream_lp(st: FlowState, comp: Component, stream: int, limit: float,
               stop: threading.Event | None, lanes: LpLanes) -> None:
    """Fill a component's empty slots in one non-rotating stream by moving many lines of
    that stream at once: every line of the other streams held as it is, the LP of all the
    component's candidates in ``stream`` (PDLP, at most ``limit`` seconds), then CP-SAT
    on its support with the allocation (:func:`solve_support`). Where those candidates
    are more than :data:`STREAM_LP_MAX`, only the lines of the pharmacists around the
    stream's empty slots are freed (:data:`STREAM_LP_AROUND`; twice as many after a try
    that filled nothing), and only their candidates
    with room beside the lines held are the LP's.

    That stream's lines hold each other in place: a pharmacist on leave in one period
    holds a line over the others, and filling one empty seat can take dozens of lines
    moved over different sets of periods (complementary packing no single move or
    exchange finds). The LP of the stream with the other lines fixed is nearly integral
    there, and its support small. On a tight 2,000 x 1,500 x 3 round (seed 0), from the
    allocation a 60 s run ended with, it filled a 10,000-point empty slot of a
    159,626-candidate component (PDLP 8 s on 94,252 columns, CP-SAT 0.5 s on 2,696
    candidates), where the search had not in 60 s, and added 100-700 points on four of
    the five other components.

    A try that stops before its support (no allocation, no time left, no values from
    PDLP, or ``stop``) is counted as one that filled nothing, so the component is not
    left marked as running a stream LP."""

    def none_filled() -> None:
        with st.lock:
            lanes.stream_done(comp.index, 0)

    with st.lock:
        chosen = comp.chosen
    if chosen is None:
        none_filled()
        return
    c = st.cand
    mine = comp.idx[c.stream[comp.idx] == stream]
    around = len(chosen) + len(mine) > STREAM_LP_MAX
    if around:
        # Too many columns for PDLP in the time: free the stream's lines of the
        # pharmacists around its empty slots only (around_empty), the others held.
        freed = np.zeros(len(st.rnd.pharmacists), dtype=bool)
        freed[around_empty(st, comp, chosen, stream,
                           STREAM_LP_AROUND * lanes.around_grow(comp.index))] = True
        mine = mine[freed[c.pharmacist[mine]]]
        held = chosen[~(freed[c.pharmacist[chosen]] & (c.stream[chosen] == stream))]
        mine = mine[open_to(st, held, mine)]
    t0 = time.monotonic()
    idx = np.union1d(chosen, mine).astype(np.int64)
    model = build_model(st.rnd, c.subset(idx), st.sc.subset(idx), scope=st.scope(comp))
    limit = min(limit, st.budget.left() - STREAM_LP_SUPPORT_S - LP_TAIL_S)
    if limit <= 0.5:
        none_filled()
        return
    with st.lock:
        before, now = comp.value, comp.chosen
        empty = 0 if now is None else int(st.empty_slots(comp, now).sum())
    t1 = time.monotonic()
    status, primal = lp_primal(model, limit, interrupt=stop)
    if primal is None or (stop is not None and stop.is_set()):
        none_filled()
        return
    support = idx[primal > LP_SUPPORT]
    t2 = time.monotonic()
    with st.lock:
        lanes.supporting.add(comp.index)
    try:
        solve_support(st, comp, support, min(STREAM_LP_SUPPORT_S,
                                             st.budget.left() - LP_TAIL_S))
    finally:
        with st.lock:
            lanes.supporting.discard(comp.index)
            gain = (comp.value or 0) - (before or 0)
            filled = 0 if comp.chosen is None else (
                empty - int(st.empty_slots(comp, comp.chosen).sum()))
            lanes.stream_done(comp.index, filled)
            log.debug("stream LP of component %d at %.1f s: %d columns (%s), model %.1f s, "
                      "PDLP %.1f s %s, support %d in %.1f s, filled %d, gain %d",
                      comp.index, st.budget.elapsed(), len(idx),
                      "around" if around else "whole", t1 - t0, t2 - t1, status,
                      len(support), time.monotonic() - t2, filled, gain)
            comp.stats["stream_lp"] = {"stream": stream, "columns": len(idx),
                                       "status": status, "support": len(support),
                                       "around": around, "filled": filled,
                                       "gain": gain, "tries": lanes.stream_tries.get(
                                           comp.index, 1)}


def on_support(st: FlowState, comp: Component, support: IntArray, limit: float, *,
               whole: bool = True) -> None:
    """Improve the component's allocation within its LP's ``support`` for at most
    ``limit`` seconds: with ``whole`` (PDLP converged), CP-SAT on the whole support from
    the allocation (:func:`solve_support`) for :data:`LP_SUPPORT_WHOLE_SHARE` of the time,
    and if that ends early (the support holds nothing better) the component's focus is
    dropped; then, while the gap is above the search's stopping gap, search steps on its
    focus (:func:`~matcher.solving.lns.lns_step`), which the search keeps to afterwards.

    Where the LP is nearly integral (re-plans) the whole support closes the gap in well
    under a second. Where PDLP stopped far from converged it stalls: one support of 5,750
    candidates (a 156,000-candidate component of a 2,000 x 1,500 x 3 per-period round)
    gained 1 point of 13,558 in 10 s, where 1.5 s steps of 2,500 candidates of it gained
    11,300; at that size, with lean LPs, it gained nothing on any of six components in
    its 1.5 s, and three seeds ended 2.13 / 1.71 / 1.87 % from their bounds without it
    against 2.28 / 2.03 / 2.07 % with it."""
    end = time.monotonic() + limit
    if whole and solve_support(st, comp, support, LP_SUPPORT_WHOLE_SHARE * limit):
        # The support's optimum is found: nothing is left within it, so the search goes
        # back to the whole component.
        with st.lock:
            comp.focus = None
        return
    while (time.monotonic() < end - 0.3 and not st.budget.stopped()
           and comp.gap > st.gap_limit(comp)):
        lns_step(st, comp, end - time.monotonic())
        polish(st, comp)


def polish(st: FlowState, comp: Component) -> None:
    """After a search step: single moves into the component's empty slots and seats
    below ``min_fill`` (:func:`~matcher.solving.fill.fill_gaps`), then exact exchanges
    over each of its slices (:func:`~matcher.solving.slice_flow.sweep`)."""
    fill_gaps(st, comp)
    sweep(st, comp)


def side_by_side(st: FlowState, comps: list[Component], left: int,
                 work: Callable[[Component, float], object], *,
                 share: float = START_SHARE) -> None:
    """``work(component, time limit)`` for every component, side by side in as many threads
    as the call has workers, each solve with one CP-SAT worker (with one worker, one after
    another: the answers are then deterministic). A component's limit is its share, by
    candidates out of ``left``, of ``share`` of the time left, times the threads.

    One worker adds every row to its LP up front (:func:`matcher.solving.cpsat.tune`) and is as
    fast per model as two here: the 7 components of 300x400x3 take 1.4 s in all one after
    another with one worker each, 1.8 s with two; restricted starts of 2,000x1,500x3
    components took 2.4 s with one worker and 2.5 s with two."""
    if not comps:
        return
    threads = min(len(comps), st.params.worker_count)

    def run(comp: Component) -> None:
        if st.budget.stopped():
            return
        if threads > 1:
            st.use_thread(1, comp.index)
        part = min(1.0, threads * len(comp.idx) / max(1, left)) * share
        work(comp, st.budget.left() * part)

    if threads <= 1:
        for comp in comps:
            run(comp)
        return
    # Largest first, so the last to start are the quickest.
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="component") as pool:
        list(pool.map(run, sorted(comps, key=lambda k: -len(k.idx))))
