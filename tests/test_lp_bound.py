"""The LP bound (matcher.solving.lp_bound) is valid for any multipliers, tight where the
flow bound is weak, and used by the flow path only to lower its bound."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import pytest
from bruteforce import brute_force, random_tiny_round
from shapes import nobody_placed, per_period_round

from matcher.domain import Round
from matcher.eligibility import candidates
from matcher.scoring import scores
from matcher.solving import Budget, SolveParams, flow_path, solve
from matcher.solving.flow import relaxation
from matcher.solving.formulation import build_model
from matcher.solving.lp_bound import (
    Lagrangian,
    LpMatrix,
    lagrangian_bound,
    lp_bound,
    lp_matrix,
    lp_primal,
    polish,
)
from matcher.solving.model import Model
from matcher.solving.state import FlowState
from matcher.synthetic import generate_round


def case_of(rnd: Round) -> tuple[int, Model, LpMatrix] | None:
    """The exhaustive optimum, model and rows of a tiny round; None when it has no
    allocation."""
    best, _ = brute_force(rnd)
    if best is None:
        return None
    cand = candidates(rnd)
    m = build_model(rnd, cand, scores(rnd, cand))
    return best, m, lp_matrix(m)


def tiny(seed: int) -> tuple[int, Model, LpMatrix] | None:
    """:func:`case_of` the tiny round ``seed``."""
    return case_of(random_tiny_round(seed))


@pytest.mark.parametrize("seed", range(120))
def test_the_bound_holds_for_any_multipliers(seed: int) -> None:
    """Random multipliers (of any sign and size), no multipliers, and PDLP's: every bound
    is at least the exhaustive optimum."""
    case = tiny(seed)
    if case is None:
        return
    best, m, lp = case
    rng = np.random.default_rng(seed)
    tries = [np.zeros(lp.n_rows), rng.normal(0, 50, lp.n_rows),
             rng.exponential(500, lp.n_rows), -rng.exponential(500, lp.n_rows)]
    for y in tries:
        got = lagrangian_bound(m, lp, y)
        assert got is None or got >= best
    pdlp = lp_bound(m, 5.0)
    assert pdlp.bound is not None
    assert pdlp.bound >= best


@pytest.mark.parametrize("seed", range(30))
def test_the_steps_subproblem_is_the_bounds_own(seed: int) -> None:
    """The steps' shortcuts change nothing: without the rounding margin the subproblem's
    value is the same, its solution (non-zero variables only) gives the subproblem's
    value back as sum(rc * x) plus the priced rows' terms, and the subgradient equals
    each row's side less A x computed over every column."""
    case = tiny(seed)
    if case is None:
        return
    _best, m, lp = case
    lag = Lagrangian(m, lp)
    rng = np.random.default_rng(seed)
    for v in (np.zeros(len(lag.rows)), lag.project(rng.normal(0, 50, len(lag.rows)))):
        value, scale, (ids, vals) = lag.solve(v)
        quick, no_scale, (ids2, vals2) = lag.solve(v, margin=False)
        assert quick == value
        assert no_scale == 0.0
        np.testing.assert_array_equal(ids, ids2)
        np.testing.assert_array_equal(vals, vals2)
        if not math.isfinite(value):
            continue
        assert scale > 0.0
        assert len(np.unique(ids)) == len(ids)
        assert np.all(vals != 0)
        x = np.zeros(lag.n_vars)
        x[ids] = vals
        rc = lag.c - lag.at @ v
        row_terms = np.where(v > 0, v * lag.upper, v * lag.lower)
        assert float(rc @ x + row_terms.sum()) == pytest.approx(value, abs=1e-6 * scale)
        ax = lag.at.T @ x  # over every column
        side = np.where(v > 0, lag.up, np.where(v < 0, lag.lo,
                                                np.clip(ax, lag.lo_open, lag.up_open)))
        np.testing.assert_allclose(lag.subgradient(v, (ids, vals)), side - ax, atol=1e-9)


def test_the_bound_is_often_the_optimum_on_tiny_rounds() -> None:
    """Not trivially loose (so the validity test above can fail)."""
    tight = 0
    for seed in range(40):
        rnd = random_tiny_round(seed)
        best, _ = brute_force(rnd)
        if best is None:
            continue
        cand = candidates(rnd)
        got = lp_bound(build_model(rnd, cand, scores(rnd, cand)), 5.0).bound
        assert got is not None
        tight += got <= best + 1
    assert tight >= 15


@pytest.mark.parametrize("seed", range(40))
def test_the_simplex_bound_is_valid_and_its_vertex_solves_the_lp(seed: int) -> None:
    """HiGHS's simplex first (``simplex_s``): it proves the LP's optimum on every tiny
    round; the bound of its multipliers is at least the exhaustive optimum and at most the
    LP optimum its vertex reaches (plus the rounding), and that vertex keeps every row."""
    case = tiny(seed)
    if case is None:
        return
    best, m, lp = case
    got = lp_bound(m, 10.0, simplex_s=10.0)
    assert got.simplex
    assert got.status == "OPTIMAL"
    assert got.bound is not None
    assert got.primal is not None
    assert got.bound >= best
    full = np.zeros(lp.n_vars)
    full[:len(got.primal)] = got.primal
    # The vertex's auxiliary values are not returned; its candidates' part is the LP's
    # own, so the rows of candidates only (slots) hold, and the objective of the
    # candidates alone is at most what the LP reaches with the rest.
    slot_rows = lp.is_slot[lp.rows]
    ax = np.bincount(lp.rows[slot_rows], weights=lp.vals[slot_rows] * full[lp.cols[slot_rows]],
                     minlength=lp.n_rows)
    assert np.all(ax[lp.is_slot] <= lp.upper[lp.is_slot] + 1e-6)
    assert np.all((got.primal >= -1e-9) & (got.primal <= 1 + 1e-9))


def test_after_a_simplex_that_does_not_finish_pdlp_has_the_rest_of_the_time(
        per_period: tuple[Round, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The simplex's seconds come out of the LP's time once: PDLP gets what is left (the
    real simplex, given 1 ms after a 1 s wait, ends without an answer)."""
    from matcher.solving import lp_bound as module

    rnd, optimum = per_period
    cand = candidates(rnd)
    model = build_model(rnd, cand, scores(rnd, cand))
    simplex, pdlp = module._simplex, module._pdlp
    given: list[float] = []

    def slow_simplex(*args: Any, **kw: Any) -> Any:
        threading.Event().wait(1.0)
        got = simplex(args[0], args[1], 0.001, **kw)
        assert got[1] is None  # it did not finish
        return got

    def timed_pdlp(m: Model, lp: LpMatrix, time_limit_s: float, **kw: Any) -> Any:
        given.append(time_limit_s)
        return pdlp(m, lp, time_limit_s, **kw)

    monkeypatch.setattr(module, "_simplex", slow_simplex)
    monkeypatch.setattr(module, "_pdlp", timed_pdlp)
    got = lp_bound(model, 5.0, simplex_s=2.0)
    assert got.simplex
    assert given
    assert given[0] > 3.5  # 5 s less the simplex's 1 s and the matrix, counted once
    assert got.bound is None or got.bound >= optimum


def test_the_simplex_leaves_a_round_whose_periods_vary_to_pdlp() -> None:
    """The lanes try the simplex only where periods do not vary (it is slow there)."""
    assert flow_path.periods_vary(per_period_round(60, 80, 3, 0)) >= flow_path.LP_FIRST_FROM
    plain = generate_round(60, 80, 3, seed=0)
    assert flow_path.periods_vary(plain) < flow_path.LP_FIRST_FROM


def test_the_lanes_solve_small_components_by_simplex_and_their_supports_follow() -> None:
    """With ``simplex`` lanes, every component gets its LP's optimum (status OPTIMAL):
    its bound stays at least the proven optimum of the round, and CP-SAT on the vertex's
    support, from nobody placed, comes within 0.5 % of that optimum."""
    rnd = generate_round(60, 80, 3, seed=3)
    ref = solve(rnd, SolveParams(workers=2, time_limit_s=60, path="cp-sat"))
    assert ref.status == "optimal"
    assert ref.objective is not None
    st = nobody_placed(rnd, 60.0)
    flow_path.tighten_bounds(st, st.comps, lanes=flow_path.LpLanes(1, simplex=True))
    solved = [k for k in st.comps if k.stats.get("lp_simplex")]
    assert solved, "no component's LP went to the simplex"
    assert all(k.stats["lp_status"] == "OPTIMAL" for k in solved)
    chosen, objective, bound = st.current()
    assert chosen is not None
    assert objective is not None
    assert bound is not None
    assert bound >= ref.objective
    assert ref.objective - objective <= 0.005 * abs(ref.objective)


@pytest.fixture(scope="module")
def per_period() -> tuple[Round, int]:
    """The 60 x 80 x 3 per-period round and its optimum, proven by CP-SAT."""
    rnd = per_period_round(60, 80, 3, 0)
    ref = solve(rnd, SolveParams(workers=2, time_limit_s=60, path="cp-sat"))
    assert ref.status == "optimal"
    assert ref.objective is not None
    return rnd, ref.objective


def test_tighter_than_the_flow_where_periods_matter_and_never_below_the_optimum(
        per_period: tuple[Round, int]) -> None:
    rnd, optimum = per_period
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    flow = relaxation(rnd, cand, sc).bound
    got = lp_bound(build_model(rnd, cand, sc), 30.0, threads=2)
    assert got.bound is not None
    assert optimum <= got.bound < flow
    # The flow is 9.8 % above the optimum here; the LP all but meets it (5 points above).
    assert got.bound - optimum <= 0.1 * (flow - optimum)


@pytest.mark.parametrize("seed", range(60))
def test_polished_multipliers_stay_valid(seed: int) -> None:
    """The polish's steps, from no multipliers and from random ones, aiming at targets
    below and far below the optimum: the bound of what it returns is never below the
    exhaustive optimum and never above where it started."""
    case = tiny(seed)
    if case is None:
        return
    best, m, lp = case
    rng = np.random.default_rng(seed)
    for y in (np.zeros(lp.n_rows), rng.normal(0, 50, lp.n_rows)):
        start = lagrangian_bound(m, lp, y)
        for target in (best - 1, best - 1000):
            got = lagrangian_bound(m, lp, polish(m, lp, y, target, math.inf)[0])
            assert got is None or got >= best
            assert start is None or got is None or got <= start


def test_the_polish_tightens_the_bound_on_most_tiny_rounds() -> None:
    """From no multipliers the polish lowers the bound on most tiny rounds where there is
    room (so the validity test above can fail)."""
    lower = room = 0
    for seed in range(60):
        case = tiny(seed)
        if case is None:
            continue
        best, m, lp = case
        start = lagrangian_bound(m, lp, np.zeros(lp.n_rows))
        if start is None or start <= best + 1:
            continue
        room += 1
        got = lagrangian_bound(m, lp, polish(m, lp, np.zeros(lp.n_rows), best, math.inf)[0])
        lower += got is not None and got < start
    assert room >= 20
    assert lower >= 0.7 * room


def test_the_polish_closes_most_of_the_way_on_a_per_period_round(
        per_period: tuple[Round, int]) -> None:
    """On the 60 x 80 x 3 per-period round, from no multipliers (a bound 29 % above the
    optimum), the polish alone closes more than half the way to the optimum; PDLP stopped
    early and then polished is still valid and no looser than PDLP's own."""
    rnd, optimum = per_period
    cand = candidates(rnd)
    m = build_model(rnd, cand, scores(rnd, cand))
    lp = lp_matrix(m)
    zero = lagrangian_bound(m, lp, np.zeros(lp.n_rows))
    assert zero is not None
    got = lagrangian_bound(m, lp, polish(m, lp, np.zeros(lp.n_rows), optimum - 3000,
                                         math.inf)[0])
    assert got is not None
    assert optimum <= got < (zero + optimum) / 2
    short = lp_bound(m, 0.3, polish_share=0.5, target=optimum - 1000)
    assert short.bound is not None
    assert short.pdlp_bound is not None
    assert optimum <= short.bound <= short.pdlp_bound
    # PDLP stopped almost at once: the steps start from no multipliers where those bound
    # it more tightly, so the result is never looser than that start.
    early = lp_bound(m, 0.2, polish_share=0.95, target=optimum - 1000)
    assert early.bound is not None
    assert optimum <= early.bound <= zero


def continuity_rounds() -> list[tuple[int, Model, LpMatrix, Lagrangian]]:
    """Tiny rounds whose continuity rows the bound keeps (a practice stream with two or
    more placements for someone), each also with every slot that must be filled (no
    empty slots allowed) where that still has an allocation: the optimum, model, rows and
    the model's :class:`Lagrangian`."""
    out = []
    for seed in range(300):
        base = random_tiny_round(seed)
        strict = base.model_copy(update={"rules": base.rules.model_copy(
            update={"allow_unassigned": False})})
        for rnd in (base, strict):
            case = case_of(rnd)
            if case is None:
                continue
            best, m, lp = case
            lag = Lagrangian(m, lp)
            if len(lag.z):
                out.append((best, m, lp, lag))
    return out


@pytest.fixture(scope="module")
def with_continuity() -> list[tuple[int, Model, LpMatrix, Lagrangian]]:
    return continuity_rounds()


def test_keeping_the_continuity_rows_only_tightens_a_valid_bound(
        with_continuity: list[tuple[int, Model, LpMatrix, Lagrangian]]) -> None:
    """On tiny rounds with a practice stream, some with slots that must be filled: with
    the continuity rows kept out of the pricing, the bound at any multipliers (random,
    none, polished) is never below the exhaustive optimum and never above the bound with
    every row priced; on some rounds it is strictly below it."""
    assert len(with_continuity) >= 20
    assert any(bool(lag.link_exact.any()) for *_, lag in with_continuity)
    tighter = 0
    for k, (best, m, lp, lag) in enumerate(with_continuity):
        priced = Lagrangian(m, lp, keep_continuity=False)
        assert len(priced.rows) > len(lag.rows)
        rng = np.random.default_rng(k)
        tries = [np.zeros(lp.n_rows), rng.normal(0, 50, lp.n_rows),
                 rng.exponential(300, lp.n_rows), -rng.exponential(300, lp.n_rows),
                 polish(m, lp, np.zeros(lp.n_rows), best - 1, math.inf)[0]]
        for y in tries:
            kept = lagrangian_bound(m, lp, y, lag=lag)
            every = lagrangian_bound(m, lp, y, lag=priced)
            assert kept is None or kept >= best
            assert every is None or kept is None or kept <= every
            tighter += every is not None and kept is not None and kept < every
    assert tighter > 0


def test_the_continuity_rows_are_kept_on_a_per_period_round(
        per_period: tuple[Round, int]) -> None:
    """The generated per-period round has practice streams: the bound keeps their rows,
    and from no multipliers the polish's bound with them kept is tighter than with every
    row priced, and valid."""
    rnd, optimum = per_period
    cand = candidates(rnd)
    m = build_model(rnd, cand, scores(rnd, cand))
    lp = lp_matrix(m)
    lag, priced = Lagrangian(m, lp), Lagrangian(m, lp, keep_continuity=False)
    assert len(lag.z) > 0
    assert len(lag.rows) < len(priced.rows)
    zero = np.zeros(lp.n_rows)
    kept = lagrangian_bound(m, lp, polish(m, lp, zero, optimum - 3000, math.inf, lag=lag)[0],
                            lag=lag)
    every = lagrangian_bound(m, lp, polish(m, lp, zero, optimum - 3000, math.inf,
                                           lag=priced)[0], lag=priced)
    assert kept is not None
    assert every is not None
    assert optimum <= kept < every


def test_the_flow_path_takes_the_lp_bound_of_a_component_far_from_its_flow_bound(
        per_period: tuple[Round, int]) -> None:
    rnd, optimum = per_period
    st = nobody_placed(rnd, 60.0)
    before = {comp.index: comp.bound for comp in st.comps}
    flow_path.tighten_bounds(st, st.comps)
    tightened = [comp for comp in st.comps if "lp_bound" in comp.stats]
    assert tightened, "no component got the LP bound"
    for comp in st.comps:
        assert comp.bound <= before[comp.index]
    _chosen, _objective, bound = st.current()
    assert bound is not None
    assert bound >= optimum


def test_an_interrupted_lp_still_gives_a_valid_bound_or_none(
        per_period: tuple[Round, int]) -> None:
    rnd, optimum = per_period
    cand = candidates(rnd)
    model = build_model(rnd, cand, scores(rnd, cand))
    stop = threading.Event()
    stop.set()
    before = lp_bound(model, 30.0, interrupt=stop)
    assert before.bound is None
    assert before.status == "INTERRUPTED"
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    during = lp_bound(model, 30.0, interrupt=stop)
    assert during.seconds < 15.0  # sanity: it stopped long before its limit
    assert during.bound is None or during.bound >= optimum


def test_cp_sat_on_the_lps_support_reaches_the_optimum_of_a_per_period_round(
        per_period: tuple[Round, int]) -> None:
    """From an allocation with nobody placed, CP-SAT on the LP's support (a small share of
    the candidates) finds an allocation within 0.1 % of the proven optimum, checked."""
    from matcher import checker
    from matcher.solving.starts import solve_support

    rnd, optimum = per_period
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=1, seed=0), Budget(120.0))
    st.bound_components()
    for comp in st.comps:
        st.accept(comp, np.zeros(0, np.int64), "test")
        model = build_model(rnd, cand.subset(comp.idx), sc.subset(comp.idx),
                            scope=st.scope(comp))
        got = lp_bound(model, 30.0)
        assert got.primal is not None
        support = comp.idx[got.primal > flow_path.LP_SUPPORT]
        assert len(support) < len(comp.idx) / 4
        solve_support(st, comp, support, 20.0)
        assert comp.stats["source"] == "lp-support"
    chosen, objective, _bound = st.current()
    assert chosen is not None
    assert objective is not None
    assert not checker.violations(rnd, cand.assignments(rnd, chosen))
    assert optimum - objective <= 0.001 * abs(optimum)


def test_lp_lanes_bound_components_side_by_side_and_then_leave_their_cores() -> None:
    """Beside the search (with ``stop``), two lanes take components for their LP; each
    counts as at work until it finds none waiting, and both end not at work."""
    st = nobody_placed(per_period_round(120, 250, 3, 0), 60.0)  # five components
    lanes = flow_path.LpLanes(2)
    assert lanes.busy == 2
    stop = threading.Event()
    lane_thread = threading.Thread(target=flow_path.tighten_bounds, args=(st, st.comps),
                                   kwargs={"stop": stop, "lanes": lanes})
    lane_thread.start()
    deadline = 40.0
    step = 0.1
    waited = 0.0
    while lanes.busy and waited < deadline:  # every lane finds nothing left to bound
        threading.Event().wait(step)
        waited += step
    stop.set()
    lane_thread.join()
    assert lanes.busy == 0
    tightened = [comp for comp in st.comps if "lp_bound" in comp.stats]
    assert len(tightened) >= 2
    _chosen, objective, bound = st.current()
    assert objective is not None
    assert bound is not None
    assert bound >= objective


def test_the_search_leaves_the_lp_lanes_their_cores(per_period: tuple[Round, int]) -> None:
    """Search thread k takes a step only while at most workers - 1 - k lanes are at work:
    with both lanes at work no step is taken; with one, the first thread searches."""
    rnd, _optimum = per_period

    def steps_with(busy: int) -> int:
        st = nobody_placed(rnd, 3.0)
        lanes = flow_path.LpLanes(2)
        lanes.busy = busy
        return flow_path.search(st, st.comps, lanes=lanes)

    assert steps_with(2) == 0
    assert steps_with(1) > 0


def test_a_second_lane_takes_only_a_component_that_needs_half_the_time_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While one lane runs an LP, another takes only a component whose columns need at most
    LP_SECOND_LANE_SHARE of the time left (two lanes leave the search no core); alone, a
    lane takes any component the time left covers."""
    st = nobody_placed(per_period_round(120, 250, 3, 0), 60.0)
    largest = max(len(k.idx) for k in st.comps)
    # The largest component needs 40 % of the time left: alone yes, beside another no.
    per_s = largest / (0.4 * (st.budget.left() - flow_path.LP_TAIL_S))
    monkeypatch.setattr(flow_path, "LP_CANDIDATES_PER_S", per_s)
    monkeypatch.setattr(flow_path, "LP_SECOND_LANE_SHARE", 0.2)
    lanes = flow_path.LpLanes(2)
    lanes.running = 1
    beside = flow_path._next_for_lp(st, list(st.comps), lanes)
    assert beside is None or len(beside[0].idx) < largest
    # and for at most that share of the time left
    assert beside is None or beside[1] <= 0.2 * st.budget.left()
    lanes.running = 0
    queue = [k for k in st.comps if len(k.idx) == largest]
    alone = flow_path._next_for_lp(st, queue, lanes)
    assert alone is not None
    assert len(alone[0].idx) == largest
    assert lanes.running == 1


def test_lps_get_twice_their_columns_time_while_it_fits_else_shares_of_the_time_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """While the lanes' time left covers every waiting component's generous time (twice its
    columns at LP_CANDIDATES_PER_S), a component gets it; else a share in proportion to
    its columns, never below its columns at LP_LEAN_PER_S."""
    st = nobody_placed(per_period_round(120, 250, 3, 0), 60.0)
    lanes = flow_path.LpLanes(2)
    comp, limit = flow_path._next_for_lp(st, list(st.comps), lanes) or (None, 0.0)
    assert comp is not None
    assert limit == pytest.approx(2 * len(comp.idx) / flow_path.LP_CANDIDATES_PER_S)
    # Every component's generous time together is four times the lanes' time left.
    total = sum(len(k.idx) for k in st.comps)
    per_s = 2 * total / (4 * 2 * (st.budget.left() - flow_path.LP_TAIL_S))
    monkeypatch.setattr(flow_path, "LP_CANDIDATES_PER_S", per_s)
    monkeypatch.setattr(flow_path, "LP_LEAN_PER_S", per_s * 100)
    lanes.running = 0
    comp, limit = flow_path._next_for_lp(st, list(st.comps), lanes) or (None, 0.0)
    assert comp is not None
    assert limit == pytest.approx(2 * len(comp.idx) / per_s / 4, rel=0.05)
    # A lean time above that share is the floor.
    monkeypatch.setattr(flow_path, "LP_LEAN_PER_S", per_s * 2)
    lanes.running = 0
    comp, limit = flow_path._next_for_lp(st, list(st.comps), lanes) or (None, 0.0)
    assert comp is not None
    assert limit == pytest.approx(len(comp.idx) / (per_s * 2))


def test_the_lanes_stop_once_the_lps_done_closed_too_little() -> None:
    """Once the LPs done (with their supports) closed less than LP_WORTH of the gaps they
    were tried on, no lane takes another component; before any is done, and while they
    close enough, lanes do."""
    st = nobody_placed(per_period_round(120, 250, 3, 0), 60.0)
    lanes = flow_path.LpLanes(2)
    assert lanes.worth_it()
    assert flow_path._next_for_lp(st, list(st.comps), lanes) is not None
    lanes.running = 0
    lanes.tried, lanes.closed = 1000.0, 1000.0 * flow_path.LP_WORTH * 0.9
    assert not lanes.worth_it()
    assert flow_path._next_for_lp(st, list(st.comps), lanes) is None
    assert lanes.running == 0
    lanes.closed = 1000.0 * flow_path.LP_WORTH
    assert flow_path._next_for_lp(st, list(st.comps), lanes) is not None


def test_an_lp_counts_what_it_closed_in_the_lanes(per_period: tuple[Round, int]) -> None:
    """The LP of a component (with its support) adds the gap it started from to
    ``tried`` and what it closed to ``closed``."""
    rnd, _optimum = per_period
    st = nobody_placed(rnd, 30.0)
    lanes = flow_path.LpLanes(1)
    comp = max(st.comps, key=lambda k: len(k.idx))
    gap = comp.gap
    flow_path._lp_of(st, comp, 20.0, None, lanes)
    assert lanes.tried == gap
    assert lanes.closed == gap - comp.gap
    assert lanes.closed > 0


@pytest.mark.parametrize("seed", range(30))
def test_lp_primal_gives_the_lp_values_of_the_models_candidates(seed: int) -> None:
    """On tiny rounds: one value per candidate, each within its bounds, and where PDLP
    converged they keep the rows over candidates alone: at most one assignment per
    (pharmacist, period, stream) and at most the capacity per (placement, period). With
    the formulation's stand-ins for absent row limits (10^9, 10^12) passed as they are,
    PDLP reported OPTIMAL for values that break those rows on 8 of these rounds."""
    rnd = random_tiny_round(seed)
    cand = candidates(rnd)
    m = build_model(rnd, cand, scores(rnd, cand))
    status, primal = lp_primal(m, 10.0)
    assert primal is not None
    assert primal.shape == (len(cand),)
    assert (primal >= -1e-4).all()
    assert (primal <= 1 + 1e-4).all()
    if status != "OPTIMAL":
        return
    n_t, n_s = len(rnd.periods), len(rnd.effective_streams)
    slot = (cand.pharmacist * n_t + cand.period) * n_s + cand.stream
    assert (np.bincount(slot, weights=primal) <= 1 + 1e-3).all()
    held = np.bincount(cand.placement * n_t + cand.period, weights=primal,
                       minlength=len(rnd.placements) * n_t).reshape(-1, n_t)
    cap = np.array([[pl.capacity_in(t) for t in rnd.period_ids] for pl in rnd.placements])
    assert (held <= cap + 1e-3).all()
