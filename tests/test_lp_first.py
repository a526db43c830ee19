"""Where periods matter the flow path works LP first, and once a component has its LP the
search keeps to the LP's support (matcher.solving.flow_path, matcher.solving.lns)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from shapes import nobody_placed, per_period_round

from matcher import checker
from matcher.domain import Round
from matcher.solving import SolveParams, flow_path, solve
from matcher.solving.components import Component
from matcher.solving.formulation import build_model
from matcher.solving.lns import free_solve, lns_step, pool
from matcher.solving.lp_bound import lp_bound
from matcher.solving.state import FlowState
from matcher.synthetic import generate_round
from matcher.validation import parse_round, with_changes


@pytest.fixture(scope="module")
def round_120() -> Round:
    """A 120 x 250 x 3 per-period round (five components)."""
    return per_period_round(120, 250, 3, 0)


def valid(st: FlowState, comp: Component) -> bool:
    """Whether the component's allocation breaks no rule of the round for its own
    pharmacists (the others, placed nowhere, break the sector rules)."""
    assert comp.chosen is not None
    ours = {st.rnd.pharmacists[p].id for p in comp.pharmacists.tolist()}
    found = checker.violations(st.rnd, st.cand.assignments(st.rnd, comp.chosen))
    return not [v for v in found if v.pharmacist is None or v.pharmacist in ours]


def test_lp_first_where_most_placements_change_capacity_or_have_a_min_fill() -> None:
    assert flow_path.lp_first(per_period_round(60, 80, 3, 0), 1000)
    # generate_round's own rounds have a few such placements: not enough.
    assert not flow_path.lp_first(generate_round(60, 80, 3, seed=0), 1000)
    data = per_period_round(60, 80, 3, 0).to_data()
    for pl in data["placements"]:
        pl["capacity"] = 2
        pl.pop("min_fill", None)
    assert not flow_path.lp_first(parse_round(data), 1000)
    # Every placement with a min_fill (the same capacity in every period) is enough.
    for pl in data["placements"]:
        pl["min_fill"] = 1
    assert flow_path.lp_first(parse_round(data), 1000)


def test_lp_first_where_a_large_re_plan_charges_changes_heavily() -> None:
    """A re-plan (a ``reference``) with ``weights.change`` of at least LP_FIRST_CHANGE and
    at least LP_FIRST_CHANGE_FROM candidates is solved LP first; a lighter change weight,
    a smaller round or no reference is not."""
    rnd = generate_round(60, 80, 3, seed=0)
    large = flow_path.LP_FIRST_CHANGE_FROM
    assert not flow_path.lp_first(rnd, large)
    p = rnd.pharmacists[0]
    line = {"pharmacist": p.id, "period": rnd.period_ids[0], "placement": p.preferences[0]}
    heavy = rnd.weights.model_dump() | {"change": flow_path.LP_FIRST_CHANGE}
    light = rnd.weights.model_dump() | {"change": flow_path.LP_FIRST_CHANGE - 1}
    replan = with_changes(rnd, reference=[line], weights=heavy)
    assert flow_path.lp_first(replan, large)
    assert not flow_path.lp_first(replan, large - 1)
    assert not flow_path.lp_first(with_changes(rnd, reference=[line], weights=light), large)
    assert not flow_path.lp_first(with_changes(rnd, weights=heavy), large)


def test_lp_first_where_many_supervisors_of_a_large_round_span_both_streams() -> None:
    """At least LP_FIRST_CROSS of the placements under a supervisor whose placements are
    in two streams, and at least LP_FIRST_CROSS_FROM candidates: LP first; fewer such
    placements or a smaller round: not."""
    rnd = generate_round(60, 80, 3, seed=0)
    large = flow_path.LP_FIRST_CROSS_FROM
    assert rnd.supervisors
    assert flow_path.cross_stream_share(rnd) == 0.0
    assert not flow_path.lp_first(rnd, large)
    data = rnd.to_data()
    stream = {pl["id"]: pl["stream"] for pl in data["placements"]}
    assert len(set(stream.values())) == 2
    crossed: set[str] = set()
    for sup in data["supervisors"]:
        # Add the first placement of the other stream to each supervisor.
        mine = stream[sup["placements"][0]]
        other = next(pid for pid, s in stream.items() if s != mine)
        sup["placements"] = [*sup["placements"], other]
        crossed.update(sup["placements"])
        share = len(crossed) / len(stream)
        if share >= flow_path.LP_FIRST_CROSS:
            break
    crossing = parse_round(data)
    assert flow_path.cross_stream_share(crossing) == pytest.approx(share)
    assert flow_path.lp_first(crossing, large)
    assert not flow_path.lp_first(crossing, large - 1)
    # The last supervisor taken back out of the other stream: too few placements so.
    sup["placements"].pop()
    fewer = parse_round(data)
    assert flow_path.cross_stream_share(fewer) < flow_path.LP_FIRST_CROSS
    assert not flow_path.lp_first(fewer, large)


def test_an_lp_given_just_its_lean_time_runs_once_its_model_is_built(
        round_120: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lane gives an LP at least its columns at LP_LEAN_PER_S; building the model must
    not take that below the floor and skip the LP (three of seven components of a
    2,000 x 1,500 x 3 round lost their LP so)."""
    st = nobody_placed(round_120, 60.0)
    comp = max(st.comps, key=lambda k: len(k.idx))
    # A lean time of 3 s for this component.
    monkeypatch.setattr(flow_path, "LP_LEAN_PER_S", len(comp.idx) / 3.0)
    flow_path._lp_of(st, comp, 3.0, None, flow_path.LpLanes(1))
    assert "lp_seconds" in comp.stats
    assert "lp_bound" in comp.stats


def test_after_its_lp_a_component_keeps_to_the_support(
        round_120: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    """LP first, the LP's support becomes the component's focus, a small share of its
    candidates, unless CP-SAT on the whole support proves its optimum in its share of
    the support phase (nothing is left to find there); with the focus kept, every search
    step chooses only among the focus and the allocation, and its answers stay
    feasible."""
    st = nobody_placed(round_120, 60.0)
    comp = max(st.comps, key=lambda k: len(k.idx))
    flow_path._lp_of(st, comp, 15.0, None, flow_path.LpLanes(1, first=True))
    assert comp.stats["support_status"] == "optimal"  # 300 candidates: proven at once
    assert comp.focus is None
    # No time for the whole support: the support phase takes steps within it.
    monkeypatch.setattr(flow_path, "LP_SUPPORT_WHOLE_SHARE", 0.0)
    st = nobody_placed(round_120, 60.0)
    comp = max(st.comps, key=lambda k: len(k.idx))
    flow_path._lp_of(st, comp, 15.0, None, flow_path.LpLanes(1, first=True))
    assert comp.focus is not None
    assert np.all(np.isin(comp.focus, comp.idx))
    assert 0 < len(comp.focus) < len(comp.idx) / 4
    assert comp.chosen is not None
    assert valid(st, comp)
    for _ in range(4):
        among = pool(comp)
        assert np.all(np.isin(comp.chosen, among))
        freed = comp.pharmacists[: len(comp.pharmacists) // 2]
        got, _ = free_solve(st, comp, comp.chosen, freed, 2.0)
        assert got is not None
        assert np.all(np.isin(got, among))
        lns_step(st, comp, 2.0)
        assert valid(st, comp)


def on_its_support(rnd: Round) -> tuple[FlowState, Component, np.ndarray]:
    """The nobody-placed flow state of ``rnd`` (one worker), its largest component with
    its LP's support as its focus, and that support."""
    st = nobody_placed(rnd, 60.0, workers=1)
    comp = max(st.comps, key=lambda k: len(k.idx))
    model = build_model(st.rnd, st.cand.subset(comp.idx), st.sc.subset(comp.idx),
                        scope=st.scope(comp))
    got = lp_bound(model, 20.0)
    assert got.primal is not None
    support = comp.idx[got.primal > flow_path.LP_SUPPORT]
    comp.focus = support
    return st, comp, support


def test_steps_on_the_support_then_the_whole_support_improve_an_empty_allocation(
        round_120: Round) -> None:
    """on_support from an allocation with nobody placed: checked, much better, and only
    of candidates of the support."""
    st, comp, support = on_its_support(round_120)
    before = comp.value
    assert before is not None
    flow_path.on_support(st, comp, support, 6.0)
    assert comp.value is not None
    assert comp.value > before
    assert comp.chosen is not None
    assert np.all(np.isin(comp.chosen, support))
    assert valid(st, comp)
    assert comp.value <= comp.bound


def test_where_pdlp_stopped_short_the_support_phase_goes_straight_to_steps(
        round_120: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    """An LP that PDLP did not converge gives a rough support on which CP-SAT as a whole
    stalls: the support phase skips it and takes steps within the support at once."""
    st, comp, support = on_its_support(round_120)
    whole: list[int] = []

    def solve_support(*args: object, **kwargs: object) -> bool:
        whole.append(1)
        return False

    monkeypatch.setattr(flow_path, "solve_support", solve_support)
    before = comp.value
    assert before is not None
    flow_path.on_support(st, comp, support, 3.0, whole=False)
    assert not whole
    assert comp.value is not None
    assert comp.value > before
    assert comp.focus is not None
    flow_path.on_support(st, comp, support, 1.0)
    assert whole == [1]


def test_lp_first_lanes_take_any_component_side_by_side(
        round_120: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    """LP first, a lane beside another takes even a component needing most of the time
    left, which the usual lanes leave to one lane alone; its support phase is shorter."""
    st = nobody_placed(round_120, 60.0)
    largest = max(len(k.idx) for k in st.comps)
    per_s = largest / (0.8 * (st.budget.left() - flow_path.LP_TAIL_S))
    monkeypatch.setattr(flow_path, "LP_CANDIDATES_PER_S", per_s)
    monkeypatch.setattr(flow_path, "LP_LEAN_PER_S", per_s)
    queue = [k for k in st.comps if len(k.idx) == largest]
    usual = flow_path.LpLanes(2)
    usual.running = 1
    assert flow_path._next_for_lp(st, list(queue), usual) is None
    first = flow_path.LpLanes(2, first=True)
    first.running = 1
    beside = flow_path._next_for_lp(st, list(queue), first)
    assert beside is not None
    assert len(beside[0].idx) == largest
    assert first.support_s == flow_path.LP_FIRST_SUPPORT_S < usual.support_s


def test_a_per_period_round_is_solved_lp_first_and_checked(round_120: Round) -> None:
    result = solve(round_120, SolveParams(workers=2, time_limit_s=15, path="flow+lns"))
    assert result.stats["lp_first"] is True
    assert result.has_solution
    assert not checker.violations(round_120, result.allocation)
    assert result.objective == checker.objective(round_120, result.allocation).total
    assert result.bound is not None
    assert result.objective <= result.bound
    plain = generate_round(120, 250, 3, seed=0)
    other = solve(plain, SolveParams(workers=2, time_limit_s=5, path="flow+lns"))
    assert other.stats["lp_first"] is False


def test_a_busy_lanes_time_is_not_shared_out_again(
        round_120: Round, monkeypatch: pytest.MonkeyPatch) -> None:
    """The time another lane's running LP (with its support phase) still holds is not
    counted as the lanes' time left when the next LP's share is set; the LP taken is
    due to end at its limit plus its support phase."""
    st = nobody_placed(round_120, 60.0)
    total = sum(len(k.idx) for k in st.comps)
    # Every component's generous time together is four times the lanes' time left.
    per_s = 2 * total / (4 * 2 * (st.budget.left() - flow_path.LP_TAIL_S))
    monkeypatch.setattr(flow_path, "LP_CANDIDATES_PER_S", per_s)
    monkeypatch.setattr(flow_path, "LP_LEAN_PER_S", per_s * 100)
    monkeypatch.setattr(flow_path, "LP_FIRST_SUPPORT_S", 0.0)

    def share(busy_for: float) -> tuple[float, flow_path.LpLanes, int]:
        lanes = flow_path.LpLanes(2, first=True)
        if busy_for:
            lanes.ends[-1] = time.monotonic() + busy_for
        got = flow_path._next_for_lp(st, list(st.comps), lanes)
        assert got is not None
        return got[1], lanes, got[0].index

    free, lanes, taken = share(0.0)
    assert lanes.ends[taken] == pytest.approx(time.monotonic() + free, abs=0.5)
    one_lane = st.budget.left() - flow_path.LP_TAIL_S  # one lane's whole time left
    busy, _, _ = share(one_lane)
    assert busy == pytest.approx(free / 2, rel=0.05)


def test_without_lp_first_the_lp_leaves_the_search_the_whole_component(
        round_120: Round) -> None:
    """Not LP first, the support phase is CP-SAT on the support alone and no focus is
    set; nor does a lane's share then leave out a running LP's time."""
    st = nobody_placed(round_120, 60.0)
    comp = max(st.comps, key=lambda k: len(k.idx))
    flow_path._lp_of(st, comp, 15.0, None, flow_path.LpLanes(1))
    assert comp.focus is None
    assert "support_status" in comp.stats
    lanes = flow_path.LpLanes(2)
    free = flow_path._next_for_lp(st, list(st.comps), lanes)
    lanes = flow_path.LpLanes(2)
    lanes.ends[-1] = time.monotonic() + 1000.0
    busy = flow_path._next_for_lp(st, list(st.comps), lanes)
    assert free is not None
    assert busy is not None
    assert busy[1] == pytest.approx(free[1], rel=0.05)


def test_lp_first_lanes_take_the_largest_component_first(round_120: Round) -> None:
    """LP first, the lanes take components largest first, so the last LPs are the
    shortest and fit in what is left; otherwise the largest gap per candidate first."""
    st = nobody_placed(round_120, 60.0)
    sizes = sorted((len(k.idx) for k in st.comps), reverse=True)
    queue = list(st.comps)
    taken = []
    while (got := flow_path._next_for_lp(st, queue, flow_path.LpLanes(2, first=True))):
        taken.append(len(got[0].idx))
    assert len(taken) >= 3
    assert taken == sizes[:len(taken)]
    queue = list(st.comps)
    usual = flow_path._next_for_lp(st, queue, flow_path.LpLanes(2))
    assert usual is not None
    ready = [k for k in st.comps if k.gap > 0]
    assert usual[0] is max(ready, key=lambda k: k.gap / len(k.idx))


def test_the_lanes_take_a_component_whose_gap_is_above_the_stopping_gap(
        round_120: Round) -> None:
    """A component whose gap, less its empty slots, is above the search's stopping gap
    gets its LP, even when that gap is small (at 1,000 x 1,000 x 3 with fairness 50 the
    LPs closed most of gaps of 0.1-0.5 %); one within the stopping gap does not. LP
    first, the lanes leave a gap below LP_FIRST_GAP to the search."""
    st = nobody_placed(round_120, 60.0)
    comp = max(st.comps, key=lambda k: len(k.idx))
    for k in st.comps:
        k.chosen, k.value = None, k.bound  # no gap, and no empty slots counted
    limit = st.gap_limit(comp)
    assert limit < 0.01 * st.bound_scale()
    comp.value = int(comp.bound - 2 * limit)
    got = flow_path._next_for_lp(st, list(st.comps), flow_path.LpLanes(2))
    assert got is not None
    assert got[0] is comp
    first = flow_path._next_for_lp(st, list(st.comps), flow_path.LpLanes(2, first=True))
    assert first is None
    comp.value = int(comp.bound - 1.1 * st.gap_limit(comp, flow_path.LP_FIRST_GAP))
    first = flow_path._next_for_lp(st, list(st.comps), flow_path.LpLanes(2, first=True))
    assert first is not None
    assert first[0] is comp
    comp.value = int(comp.bound - limit / 2)
    assert flow_path._next_for_lp(st, list(st.comps), flow_path.LpLanes(2)) is None
