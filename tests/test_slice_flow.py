"""Exact exchanges over a whole slice by min-cost flow (:mod:`matcher.solving.slice_flow`):
every answer keeps every rule and everything outside its slice, never beats CP-SAT's
optimum of the same neighbourhood and matches it where the flow is exact."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bruteforce import random_tiny_round
from shapes import gp, host, nobody_placed, per_period_round, two_stream_round
from test_fill import thinned

from matcher import checker
from matcher.domain import Round
from matcher.solving import lns
from matcher.solving.slice_flow import flow_slice, slices, sweep
from matcher.solving.state import FlowState


def _outside_kept(st: FlowState, sliced: lns.Slice, base: np.ndarray,
                  got: np.ndarray) -> bool:
    c = st.cand
    return (set(got[~sliced.holds(c, got)].tolist())
            == set(base[~sliced.holds(c, base)].tolist()))


def _exact(rnd: Round) -> Round:
    """The round without what the flow states only conservatively: supervisors,
    organisation caps, fairness and leave."""
    return rnd.model_copy(update={
        "supervisors": (),
        "organisations": tuple(o.model_copy(update={"max_pharmacists": None})
                               for o in rnd.organisations),
        "weights": rnd.weights.model_copy(update={"fairness": 0}),
        "pharmacists": tuple(p.model_copy(update={"unavailable": ()})
                             for p in rnd.pharmacists),
    })


def _compare(rnd: Round, seed: int, *, exact: bool) -> int:
    """Every slice of every component of a thinned allocation: the flow's answer against
    CP-SAT's optimum of the slice freed for every pharmacist. Returns how many answers
    were compared."""
    st, base = thinned(rnd, seed)
    c = st.cand
    compared = 0
    for comp in st.comps:
        mine = base[np.isin(c.pharmacist[base], comp.pharmacists)]
        for sliced in slices(st):
            got = flow_slice(st, comp, mine, sliced)
            best, proven = lns.free_solve(st, comp, mine, comp.pharmacists, 10.0, sliced)
            assert proven
            if got is None:
                continue
            whole = np.union1d(got, np.setdiff1d(base, mine))
            assert not checker.violations(rnd, c.assignments(rnd, whole))
            assert _outside_kept(st, sliced, mine, got)
            assert best is not None
            assert st.evaluator(got) <= st.evaluator(best)
            if exact and not _partial_lines(st, sliced, mine):
                assert st.evaluator(got) == st.evaluator(best)
            compared += 1
    return compared


def _partial_lines(st: FlowState, sliced: lns.Slice, base: np.ndarray) -> bool:
    """Whether someone holds the non-rotating slice's placement in some periods only
    (the flow keeps them fixed)."""
    if sliced.period is not None:
        return False
    c = st.cand
    lines = np.bincount(c.pharmacist[base[sliced.holds(c, base)]],
                        minlength=len(st.rnd.pharmacists))
    return bool(((lines > 0) & (lines < st.cap.shape[1])).any())


@pytest.mark.parametrize("seed", range(40))
def test_slice_exchanges_on_tiny_rounds_keep_every_rule_and_never_beat_cp_sat(
        seed: int) -> None:
    """Supervisors, organisation caps, sector rules, pins, leave, references and fairness
    as the tiny rounds draw them: every answer is checked, keeps everything outside its
    slice, and is no better than CP-SAT's proven optimum of the same neighbourhood."""
    rnd = random_tiny_round(seed)
    if not rnd.pharmacists or not checker_ok(rnd):
        return
    _compare(rnd, seed, exact=False)


def checker_ok(rnd: Round) -> bool:
    from matcher.solving import SolveParams, solve
    return solve(rnd, SolveParams(workers=1, time_limit_s=10)).has_solution


@pytest.mark.parametrize("seed", range(40))
def test_slice_exchanges_are_exact_where_the_slice_is_a_network(seed: int) -> None:
    """Without supervisors, organisation caps, fairness and leave the slice is a network:
    the flow's answer is CP-SAT's proven optimum of the slice, to the point."""
    rnd = _exact(random_tiny_round(seed))
    if not checker_ok(rnd):
        return
    _compare(rnd, seed, exact=True)


def test_exact_slices_are_compared_on_most_tiny_rounds() -> None:
    """The exactness test above is not empty: most tiny rounds give it slices to compare."""
    compared = sum(_compare(_exact(random_tiny_round(seed)), seed, exact=True) > 0
                   for seed in range(12) if checker_ok(_exact(random_tiny_round(seed))))
    assert compared >= 8


def test_per_period_slices_are_exact_and_gain() -> None:
    """On a generated round with per-period capacities and min_fill, both streams, from a
    thinned allocation: every slice answer is checked, and the sweep gains."""
    rnd = _exact(per_period_round(30, 24, 3, seed=1))
    assert _compare(rnd, 1, exact=True) > 0
    st, base = thinned(rnd, 1)
    gained = 0
    for comp in st.comps:
        st.accept(comp, base[np.isin(st.cand.pharmacist[base], comp.pharmacists)], "test")
        gained += sweep(st, comp)
        assert comp.chosen is not None
        assert not checker.violations(rnd, st.cand.assignments(rnd, comp.chosen))
        # Swept already: nothing is tried again.
        assert sweep(st, comp) == 0
    assert gained > 0


def _placed(rnd: Round, lines: list[tuple[str, str, str]]
            ) -> tuple[FlowState, Any, np.ndarray]:
    """The flow state of a one-component round and ``lines`` (pharmacist, period,
    placement) as its allocation, which breaks no rule."""
    st = nobody_placed(rnd, 10.0, workers=1)
    (comp,) = st.comps
    base = np.sort(st.cand.positions(rnd, lines))
    assert (base >= 0).all()
    assert not checker.violations(rnd, st.cand.assignments(rnd, base))
    return st, comp, base


def test_the_practice_stream_swaps_two_practices_in_every_period() -> None:
    """P0 holds GP2 and P1 GP1 in both periods, each asking for the other's: the practice
    slice swaps them in both periods at once and leaves the host stream alone."""
    rnd = two_stream_round(
        [{"id": "P0", "preferences": ["GP1"]}, {"id": "P1", "preferences": ["GP2"]}],
        [gp("GP1"), gp("GP2"), host("H1"), host("H2")])
    st, comp, base = _placed(rnd, [
        ("P0", "R1", "GP2"), ("P0", "R2", "GP2"), ("P1", "R1", "GP1"), ("P1", "R2", "GP1"),
        ("P0", "R1", "H1"), ("P0", "R2", "H2"), ("P1", "R1", "H2"), ("P1", "R2", "H1")])
    c = st.cand
    practice = lns.Slice(stream=rnd.stream_index["practice"], period=None)
    got = flow_slice(st, comp, base, practice)
    assert got is not None
    after = {(a.pharmacist, a.period, a.placement) for a in c.assignments(rnd, got)}
    assert {("P0", "R1", "GP1"), ("P0", "R2", "GP1"), ("P1", "R1", "GP2"),
            ("P1", "R2", "GP2")} <= after
    assert _outside_kept(st, practice, base, got)
    assert not checker.violations(rnd, c.assignments(rnd, got))


def _is_best(st: FlowState, comp: Any, base: np.ndarray, got: np.ndarray | None,
             sliced: lns.Slice) -> np.ndarray:
    """The flow's answer ``got`` for ``sliced``, checked: it keeps every rule and
    everything outside the slice, and equals CP-SAT's proven best of the slice, which
    gains on ``base``."""
    assert got is not None
    assert not checker.violations(st.rnd, st.cand.assignments(st.rnd, got))
    assert _outside_kept(st, sliced, base, got)
    best, proven = lns.free_solve(st, comp, base, comp.pharmacists, 10.0, sliced)
    assert proven
    assert best is not None
    assert st.evaluator(got) == st.evaluator(best) > st.evaluator(base)
    return got


def _practice_best(st: FlowState, comp: Any, base: np.ndarray,
                   got: np.ndarray | None) -> set[tuple[str, str, str]]:
    """The flow's answer ``got`` for the practice stream, checked by :func:`_is_best`:
    its practice lines."""
    practice = lns.Slice(stream=st.rnd.stream_index["practice"], period=None)
    got = _is_best(st, comp, base, got, practice)
    return {(a.pharmacist, a.period, a.placement) for a in st.cand.assignments(st.rnd, got)
            if a.placement.startswith("GP")}


def test_a_pharmacist_on_leave_moves_to_a_practice_open_in_one_period_only() -> None:
    """X (on leave in R2) holds GP1 in R1; Y may hold only GP1, and GP2 is open in R1
    alone. The practice slice moves X to GP2 (a line over R1, GP2's chain) and gives Y
    GP1 in both periods: CP-SAT's best, which a flow of whole lines alone cannot reach."""
    rnd = two_stream_round(
        [{"id": "X", "preferences": [], "unavailable": ["R2"]}, {"id": "Y", "preferences": []}],
        [gp("GP1"), gp("GP2", capacity={"R1": 1}), host("H1"), host("H2")],
        bans=[{"pharmacist": "Y", "placement": "GP2"}],
        rules={"min_distinct_sectors": 0, "allow_unassigned": True})
    st, comp, base = _placed(rnd, [("X", "R1", "GP1")])
    practice = lns.Slice(stream=rnd.stream_index["practice"], period=None)
    got = flow_slice(st, comp, base, practice)
    assert _practice_best(st, comp, base, got) == {
        ("X", "R1", "GP2"), ("Y", "R1", "GP1"), ("Y", "R2", "GP1")}


def test_two_lines_over_one_period_each_become_whole_lines_in_two_flows() -> None:
    """Y holds GP1 in R1 and Z in R2; Y may hold only GP1. No chain of patterns holds
    both lines, so one stays fixed in each flow: with Z freed (patterns R1 + R2, then R2
    alone) Z moves to GP2 in both periods, and with Y freed (then R1 alone) Y takes GP1
    in both: CP-SAT's best. Freeing Y first gains nothing: Z still holds GP1 in R2."""
    rnd = two_stream_round(
        [{"id": "Y", "preferences": []}, {"id": "Z", "preferences": []}],
        [gp("GP1"), gp("GP2"), host("H1"), host("H2")],
        bans=[{"pharmacist": "Y", "placement": "GP2"}],
        rules={"min_distinct_sectors": 0, "allow_unassigned": True})
    st, comp, base = _placed(rnd, [("Y", "R1", "GP1"), ("Z", "R2", "GP1")])
    practice = lns.Slice(stream=rnd.stream_index["practice"], period=None)
    y_first = flow_slice(st, comp, base, practice, order=[1, 0])
    assert y_first is None or st.evaluator(y_first) == st.evaluator(base)
    z_moved = flow_slice(st, comp, base, practice, order=[0, 1])
    assert z_moved is not None
    assert st.evaluator(z_moved) > st.evaluator(base)
    got = flow_slice(st, comp, z_moved, practice, order=[1, 0])
    assert _practice_best(st, comp, base, got) == {
        ("Y", "R1", "GP1"), ("Y", "R2", "GP1"), ("Z", "R1", "GP2"), ("Z", "R2", "GP2")}


def _first_host_period(rnd: Round) -> tuple[FlowState, np.ndarray, np.ndarray]:
    """From P0 at GP1 and P1 at GP2, each at H3 or H4 in the host stream: the flow's
    answer for the host stream's first period (checked) and CP-SAT's proven best of it."""
    st, comp, base = _placed(rnd, [
        ("P0", "R1", "GP1"), ("P0", "R2", "GP1"), ("P1", "R1", "GP2"), ("P1", "R2", "GP2"),
        ("P0", "R1", "H3"), ("P1", "R1", "H4"), ("P0", "R2", "H4"), ("P1", "R2", "H3")])
    first = lns.Slice(stream=rnd.stream_index["host"], period=0)
    return st, _is_best(st, comp, base, flow_slice(st, comp, base, first), first), base


def test_a_supervisor_at_capacity_keeps_the_exchange_within_it() -> None:
    """H1 and H2 share a supervisor who counts one pharmacist a period. P0 asks for H1
    and P1 for H2; the flow that gives each what they asked for puts two under the
    supervisor in R1, so it keeps one of them and the flow solved again sends the other
    elsewhere: CP-SAT's best."""
    rnd = two_stream_round(
        [{"id": "P0", "preferences": ["H1"]}, {"id": "P1", "preferences": ["H2"]}],
        [gp("GP1"), gp("GP2"), host("H1"), host("H2"), host("H3"), host("H4")],
        supervisors=[{"id": "S", "placements": ["H1", "H2"], "capacity": 1}])
    st, got, _ = _first_host_period(rnd)
    held = {a.placement for a in st.cand.assignments(rnd, got) if a.period == "R1"}
    assert len(held & {"H1", "H2"}) == 1


def test_a_supervisor_counts_a_pharmacist_it_supervises_in_the_other_stream_once() -> None:
    """S covers GP1 (practice) and H1 (host) and counts one pharmacist a period; P0 holds
    GP1 in both periods, so P0 taking H1 as well leaves S's count at one: the host slice
    gives P0 the H1 it asked for, as CP-SAT does."""
    rnd = two_stream_round(
        [{"id": "P0", "preferences": ["H1"]}, {"id": "P1", "preferences": []}],
        [gp("GP1"), gp("GP2"), host("H1"), host("H2"), host("H3"), host("H4")],
        supervisors=[{"id": "S", "placements": ["GP1", "H1"], "capacity": 1}])
    st, got, _ = _first_host_period(rnd)
    assert ("P0", "R1", "H1") in {(a.pharmacist, a.period, a.placement)
                                  for a in st.cand.assignments(rnd, got)}


def test_sweeps_that_keep_gaining_nothing_are_made_less_often() -> None:
    """A component whose sweeps gained nothing many times in a row is swept about once
    in that many calls: with a long idle run, a changed allocation is left as it is
    and not marked as swept; with none, it is swept."""
    rnd = _exact(per_period_round(30, 24, 3, seed=1))
    st, base = thinned(rnd, 1)
    comp = st.comps[0]
    st.accept(comp, base[np.isin(st.cand.pharmacist[base], comp.pharmacists)], "test")
    st.sweeps_idle[comp.index] = 10**9
    value = comp.value
    assert sweep(st, comp) == 0
    assert comp.value == value
    assert st.swept.get(comp.index) is None
    st.sweeps_idle[comp.index] = 0
    assert sweep(st, comp) > 0
    assert st.swept.get(comp.index) is comp.chosen
    assert st.sweeps_idle[comp.index] == 0
