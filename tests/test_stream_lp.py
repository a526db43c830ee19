"""The stream LP (:func:`matcher.solving.flow_path._stream_lp`): with every other
stream's lines held, the LP of one non-rotating stream and CP-SAT on its support fill
empty slots that take many lines moved over different periods; its answer keeps every
rule and the other streams' lines, and the lanes take it late, again only while it fills
something."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from shapes import gp, host, nobody_placed, two_stream_round

from matcher import checker
from matcher.domain import Round
from matcher.solving import flow_path, solve
from matcher.solving.params import SolveParams
from matcher.solving.state import FlowState


def _leave_round(gp1_seats: int = 2) -> Round:
    """A, B and C are each on leave in a different period and may hold only GP1 (two
    seats); D may hold GP1 or GP2 (one seat) and prefers GP1. Everyone holds a host
    placement in every period they are available (four of them, one seat each)."""
    only_gp1 = [{"pharmacist": p, "placement": "GP2"} for p in ("A", "B", "C")]
    return two_stream_round(
        [{"id": "A", "preferences": [], "unavailable": ["R1"]},
         {"id": "B", "preferences": [], "unavailable": ["R2"]},
         {"id": "C", "preferences": [], "unavailable": ["R3"]},
         {"id": "D", "preferences": ["GP1"]}],
        [gp("GP1", capacity=gp1_seats), gp("GP2"), *(host(f"H{k}") for k in range(1, 5))],
        periods=("R1", "R2", "R3"), bans=only_gp1,
        rules={"min_distinct_sectors": 0, "allow_unassigned": True})


def _host_lines() -> list[tuple[str, str, str]]:
    """A host line for each pharmacist in each period they are available, no placement
    twice (the host stream rotates)."""
    order = {"A": ["H1", "H2", "H3"], "B": ["H2", "H3", "H4"], "C": ["H3", "H4", "H1"],
             "D": ["H4", "H1", "H2"]}
    away = {"A": "R1", "B": "R2", "C": "R3", "D": ""}
    return [(p, t, hosts[k]) for p, hosts in order.items()
            for k, t in enumerate(("R1", "R2", "R3")) if t != away[p]]


def _placed(rnd: Round, lines: list[tuple[str, str, str]]) -> tuple[FlowState, Any]:
    """The flow state of a one-component round, with ``lines`` (which break no rule) as
    its allocation."""
    st = nobody_placed(rnd, 30.0)
    (comp,) = st.comps
    base = np.sort(st.cand.positions(rnd, lines))
    assert (base >= 0).all()
    assert not checker.violations(rnd, st.cand.assignments(rnd, base))
    assert st.accept(comp, base, "test")
    return st, comp


def test_the_stream_lp_packs_lines_over_complementary_periods() -> None:
    """D holds GP1 in every period and A holds it in R2 and R3, so B and C have nowhere
    to go. Filling their slots takes three moves at once: D to GP2, B into GP1 for R1
    and R3, C for R1 and R2. The stream LP makes them, reaches the round's optimum,
    keeps every rule, and leaves every host line where it was."""
    rnd = _leave_round()
    hosts = _host_lines()
    st, comp = _placed(rnd, [("D", t, "GP1") for t in ("R1", "R2", "R3")]
                       + [("A", "R2", "GP1"), ("A", "R3", "GP1")] + hosts)
    before = comp.value
    practice = rnd.stream_index["practice"]
    flow_path._stream_lp(st, comp, practice, 5.0, None, flow_path.LpLanes(2))
    assert comp.value is not None
    assert before is not None
    assert comp.value > before
    got = st.cand.assignments(rnd, comp.chosen)
    assert not checker.violations(rnd, got)
    lines = {(a.pharmacist, a.period, a.placement) for a in got}
    assert {x for x in lines if x[2].startswith("H")} == set(hosts)
    assert {("B", "R1", "GP1"), ("B", "R3", "GP1"), ("C", "R1", "GP1"),
            ("C", "R2", "GP1"), ("D", "R1", "GP2")} <= lines
    best = solve(rnd, SolveParams(time_limit_s=20, workers=1))
    assert best.status == "optimal"
    assert comp.value == best.objective
    assert comp.stats["stream_lp"]["gain"] == comp.value - before
    # B's R1 and R3 and C's R1 and R2: four practice slots filled.
    assert comp.stats["stream_lp"]["filled"] == 4


def test_a_stream_lp_that_only_moves_points_filled_nothing() -> None:
    """Every practice slot is held, but D, who prefers GP1, is on GP2 while GP1 has a
    third seat: the stream LP moves D there, a gain of points that filled no slot, so
    it counts as a miss."""
    rnd = _leave_round(gp1_seats=3)
    st, comp = _placed(rnd, _FULL_PRACTICE + _host_lines())
    lanes = flow_path.LpLanes(2)
    flow_path._stream_lp(st, comp, rnd.stream_index["practice"], 5.0, None, lanes)
    assert comp.stats["stream_lp"]["gain"] > 0
    assert comp.stats["stream_lp"]["filled"] == 0
    assert lanes.stream_misses[comp.index] == 1


_FULL_PRACTICE = [("A", "R2", "GP1"), ("A", "R3", "GP1"), ("B", "R1", "GP1"),
                  ("B", "R3", "GP1"), ("C", "R1", "GP1"), ("C", "R2", "GP1"),
                  ("D", "R1", "GP2"), ("D", "R2", "GP2"), ("D", "R3", "GP2")]


def test_the_stream_lp_never_moves_another_streams_line() -> None:
    """With the practice stream full and the empty slots in the host stream, the
    practice stream's LP has nothing to gain: the allocation stays as it was."""
    rnd = _leave_round()
    lines = [("A", "R2", "GP1"), ("A", "R3", "GP1"), ("B", "R1", "GP1"),
             ("B", "R3", "GP1"), ("C", "R1", "GP1"), ("C", "R2", "GP1")]
    lines += [("D", t, "GP2") for t in ("R1", "R2", "R3")]
    st, comp = _placed(rnd, lines)
    before = comp.chosen.copy()
    flow_path._stream_lp(st, comp, rnd.stream_index["practice"], 5.0, None,
                         flow_path.LpLanes(2))
    assert np.array_equal(comp.chosen, before)


def test_the_lanes_take_a_stream_lp_late_and_again_only_while_it_fills(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before STREAM_LP_AFTER of the time no stream LP is due; after it, the component
    with empty practice slots is, in its practice stream; not while that one runs, again
    once it filled something, never after one that filled nothing nor after
    STREAM_LP_TRIES (around its empty slots: again until two in a row filled nothing); a
    component whose practice slots are all filled is not."""
    rnd = _leave_round()
    st, comp = _placed(rnd, [("D", t, "GP1") for t in ("R1", "R2", "R3")])
    lanes = flow_path.LpLanes(2)
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is None  # too early
    monkeypatch.setattr(flow_path, "STREAM_LP_AFTER", 0.0)
    got = flow_path._next_for_stream_lp(st, st.comps, lanes)
    assert got is not None
    taken, stream, seconds = got
    assert taken is comp
    assert stream == rnd.stream_index["practice"]
    assert seconds > 0
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is None  # running
    lanes.stream_done(comp.index, 0)
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is None  # filled nothing
    lanes = flow_path.LpLanes(2)
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is not None
    lanes.stream_done(comp.index, 10)
    again = flow_path._next_for_stream_lp(st, st.comps, lanes)
    assert again is not None
    assert again[0] is comp
    assert again[2] == pytest.approx(seconds)
    lanes.stream_done(comp.index, 10)
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is not None
    lanes.stream_done(comp.index, 10)
    assert lanes.stream_tries[comp.index] == flow_path.STREAM_LP_TRIES
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is None  # tried enough
    # Around the empty slots (a stream model above STREAM_LP_MAX): short LPs, again
    # after one that filled nothing, until STREAM_LP_AROUND_MISSES in a row did.
    monkeypatch.setattr(flow_path, "STREAM_LP_MAX", 0)
    monkeypatch.setattr(flow_path, "STREAM_LP_AROUND", -10**6)  # any columns fit
    lanes = flow_path.LpLanes(2)
    for gains in ([0], [10, 0], [10, 10, 0]):
        for gain in gains:
            got = flow_path._next_for_stream_lp(st, st.comps, lanes)
            assert got is not None
            # Twice the time after a miss (and twice the columns: see below).
            grow = 2 if lanes.stream_misses.get(comp.index) else 1
            assert got[2] == grow * flow_path.STREAM_LP_AROUND_S
            lanes.stream_done(comp.index, gain)
    assert lanes.stream_misses[comp.index] == 1
    got = flow_path._next_for_stream_lp(st, st.comps, lanes)
    assert got is not None
    assert got[2] == 2 * flow_path.STREAM_LP_AROUND_S
    lanes.stream_done(comp.index, 0)
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is None  # two in a row
    st, comp = _placed(rnd, _FULL_PRACTICE)
    assert flow_path._next_for_stream_lp(st, st.comps, flow_path.LpLanes(2)) is None


def _twin_leave_round() -> Round:
    """The leave round twice over, the second copy 200 km away (a travel limit of 50 km
    keeps the copies apart): two components of the same shape."""
    def copy(suffix: str, where: dict[str, float]) -> tuple[list[dict[str, Any]],
                                                             list[dict[str, Any]],
                                                             list[dict[str, str]]]:
        people = [{"id": f"{p}{suffix}", "preferences": [f"GP1{suffix}"] if p == "D" else [],
                   "home": where, **({"unavailable": [t]} if t else {})}
                  for p, t in (("A", "R1"), ("B", "R2"), ("C", "R3"), ("D", ""))]
        seats = [gp(f"GP1{suffix}", capacity=2, location=where),
                 gp(f"GP2{suffix}", location=where),
                 *(host(f"H{k}{suffix}", location=where) for k in range(1, 5))]
        bans = [{"pharmacist": f"{p}{suffix}", "placement": f"GP2{suffix}"}
                for p in ("A", "B", "C")]
        return people, seats, bans

    p1, l1, b1 = copy("", {"lat": 51.55, "lon": 0.05})
    p2, l2, b2 = copy("x", {"lat": 53.35, "lon": 0.05})
    return two_stream_round(p1 + p2, l1 + l2, periods=("R1", "R2", "R3"), bans=b1 + b2,
                            rules={"min_distinct_sectors": 0, "allow_unassigned": True,
                                   "max_travel_km": 50})


def test_of_components_worth_the_same_the_one_tried_least_goes_first(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two components each with the same empty practice slots: after the first one's
    stream LP (which filled something, so it is due again), the next goes to the other,
    not to the first again (which once kept the last component of a tight 5,000 x 2,500
    x 4 round from a second try for the rest of the run)."""
    rnd = _twin_leave_round()
    lines = [(f"D{s}", t, f"GP1{s}") for s in ("", "x") for t in ("R1", "R2", "R3")]
    st = nobody_placed(rnd, 30.0)
    assert len(st.comps) == 2
    base = np.sort(st.cand.positions(rnd, lines))
    for comp in st.comps:
        assert st.accept(comp, base[np.isin(st.cand.pharmacist[base], comp.pharmacists)],
                         "test")
    monkeypatch.setattr(flow_path, "STREAM_LP_AFTER", 0.0)
    lanes = flow_path.LpLanes(2)
    got = flow_path._next_for_stream_lp(st, st.comps, lanes)
    assert got is not None
    first = got[0]
    lanes.stream_done(first.index, 1)
    again = flow_path._next_for_stream_lp(st, st.comps, lanes)
    assert again is not None
    assert again[0] is not first


def _short_round() -> Round:
    """GP1's two seats over three periods hold six of the nine practice slots A-D have:
    three stay empty in any allocation."""
    return two_stream_round(
        [{"id": "A", "preferences": [], "unavailable": ["R1"]},
         {"id": "B", "preferences": [], "unavailable": ["R2"]},
         {"id": "C", "preferences": [], "unavailable": ["R3"]},
         {"id": "D", "preferences": ["GP1"]}],
        [gp("GP1", capacity=2), *(host(f"H{k}") for k in range(1, 5))],
        periods=("R1", "R2", "R3"),
        rules={"min_distinct_sectors": 0, "allow_unassigned": True})


_GP1_FULL = [("A", "R2", "GP1"), ("A", "R3", "GP1"), ("B", "R1", "GP1"),
             ("B", "R3", "GP1"), ("C", "R1", "GP1"), ("C", "R2", "GP1")]


def test_no_stream_lp_for_empty_slots_the_flow_leaves_empty_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With GP1 full, the flow fills as many practice slots as the allocation, so no
    stream LP is due, while the one with a seat free is."""
    rnd = _short_round()
    monkeypatch.setattr(flow_path, "STREAM_LP_AFTER", 0.0)
    practice = rnd.stream_index["practice"]
    full = _GP1_FULL
    st, comp = _placed(rnd, full)
    assert comp.flow_filled is not None
    assert comp.flow_filled[practice] == len(full)
    assert flow_path._next_for_stream_lp(st, st.comps, flow_path.LpLanes(2)) is None
    st, comp = _placed(rnd, full[:-1])
    got = flow_path._next_for_stream_lp(st, st.comps, flow_path.LpLanes(2))
    assert got is not None
    assert got[1] == practice


def test_late_a_gap_beside_only_the_flows_empty_slots_gets_a_bound_lp_with_all_the_room(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every slot the flow fills is filled, and the component is 5,000 points from its
    bound (less than its empty slots cost, so no bound LP is ready by the usual rule).
    Late in the run, with no stream LP due, its LP is ready with all the room left
    (unless it has more than LATE_LP_MAX candidates); earlier it is not."""
    rnd = _short_round()
    st, comp = _placed(rnd, _GP1_FULL + _host_lines())
    assert comp.flow_filled is not None
    assert int(comp.flow_filled.sum()) == len(comp.chosen)
    assert comp.value is not None
    comp.bound = comp.value + 5000  # a loose bound, as the flow's can be
    assert flow_path.empty_points(st, comp) > comp.gap
    assert flow_path.beyond_flow_points(st, comp) == 0
    assert flow_path._next_for_lp(st, [comp], flow_path.LpLanes(2)) is None  # too early
    monkeypatch.setattr(flow_path, "STREAM_LP_AFTER", 0.0)
    lanes = flow_path.LpLanes(2)
    assert flow_path._next_for_stream_lp(st, st.comps, lanes) is None
    room = st.budget.left() - flow_path.LP_TAIL_S
    got = flow_path._next_for_lp(st, [comp], lanes)
    assert got is not None
    assert got[0] is comp
    assert room - 0.5 < got[1] <= room
    assert flow_path._next_for_lp(st, [comp], flow_path.LpLanes(2, first=True)) is None
    # Not a component too large for PDLP to converge in the time left.
    monkeypatch.setattr(flow_path, "LATE_LP_MAX", len(comp.idx) - 1)
    assert flow_path._next_for_lp(st, [comp], flow_path.LpLanes(2)) is None


def test_around_its_empty_slots_the_stream_lp_frees_only_their_neighbourhood(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the stream's model would be too large, the LP frees the lines of the
    pharmacists around its empty slots only. With room for nobody else, B and C (no
    practice line) are freed, A and D hold GP1 as they were, and one of them takes the
    R1 seat D leaves free; with room for everyone, the LP reaches the round's optimum
    as the whole stream's does."""
    rnd = _leave_round()
    hosts = _host_lines()
    lines = ([("D", t, "GP1") for t in ("R1", "R2", "R3")]
             + [("A", "R2", "GP1"), ("A", "R3", "GP1")] + hosts)
    practice = rnd.stream_index["practice"]
    monkeypatch.setattr(flow_path, "STREAM_LP_MAX", 0)
    monkeypatch.setattr(flow_path, "STREAM_LP_AROUND", 0)
    st, comp = _placed(rnd, lines)
    before = comp.value
    assert before is not None
    flow_path._stream_lp(st, comp, practice, 5.0, None, flow_path.LpLanes(2))
    assert comp.stats["stream_lp"]["around"] is True
    assert comp.value > before
    got = st.cand.assignments(rnd, comp.chosen)
    assert not checker.violations(rnd, got)
    held = {(a.pharmacist, a.period, a.placement) for a in got}
    assert {(p, t, li) for p, t, li in lines if p in ("A", "D")} <= held
    assert len({("B", "R1", "GP1"), ("C", "R1", "GP1")} & held) == 1
    monkeypatch.setattr(flow_path, "STREAM_LP_AROUND", 10**6)
    st, comp = _placed(rnd, lines)
    flow_path._stream_lp(st, comp, practice, 5.0, None, flow_path.LpLanes(2))
    assert comp.stats["stream_lp"]["around"] is True
    assert comp.value == solve(rnd, SolveParams(time_limit_s=20, workers=1)).objective


def test_a_stream_lp_stopped_before_its_support_counts_as_a_miss() -> None:
    """Stopped (or with no time left) before its support, a try is still done: the
    component is no longer marked as running one, and it filled nothing."""
    rnd = _leave_round()
    st, comp = _placed(rnd, [("D", t, "GP1") for t in ("R1", "R2", "R3")])
    stop = threading.Event()
    stop.set()
    for limit, halt in ((5.0, stop), (0.1, None)):
        lanes = flow_path.LpLanes(2)
        lanes.stream_running.add(comp.index)  # as _next_for_stream_lp leaves it
        before = comp.chosen.copy()
        flow_path._stream_lp(st, comp, rnd.stream_index["practice"], limit, halt, lanes)
        assert comp.index not in lanes.stream_running
        assert lanes.stream_misses[comp.index] == 1
        assert np.array_equal(comp.chosen, before)


def test_after_a_miss_the_lp_around_the_empty_slots_frees_twice_as_many(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The LP around a stream's empty slots asks :func:`around_empty` for
    STREAM_LP_AROUND candidates, and for twice that after a try that filled nothing."""
    rnd = _leave_round()
    lines = [("D", t, "GP1") for t in ("R1", "R2", "R3")] + _host_lines()
    monkeypatch.setattr(flow_path, "STREAM_LP_MAX", 0)
    asked: list[int] = []
    real = flow_path.around_empty

    def spy(st: FlowState, comp: Any, chosen: Any, stream: int, size: int) -> Any:
        asked.append(size)
        return real(st, comp, chosen, stream, size)

    monkeypatch.setattr(flow_path, "around_empty", spy)
    practice = rnd.stream_index["practice"]
    for misses in (0, 1):
        st, comp = _placed(rnd, lines)
        lanes = flow_path.LpLanes(2)
        lanes.stream_misses[comp.index] = misses
        flow_path._stream_lp(st, comp, practice, 5.0, None, lanes)
    assert asked == [flow_path.STREAM_LP_AROUND, 2 * flow_path.STREAM_LP_AROUND]


@pytest.fixture(scope="module")
def tight_round() -> tuple[FlowState, Any]:
    """A tight two-stream round of 200 pharmacists, repaired: practice slots stay empty."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.variety import build_shape
    from matcher.eligibility import candidates
    from matcher.scoring import scores
    from matcher.solving import Budget
    from matcher.solving.construct import construct
    from matcher.solving.lns import repair

    rnd = build_shape("tight", 200, 150, 3, 1)
    cand = candidates(rnd)
    st = FlowState(rnd, cand, scores(rnd, cand), SolveParams(workers=1, seed=1), Budget(120.0))
    st.bound_components()
    (comp,) = st.comps
    repair(st, comp, construct(st, comp), 1e12)
    assert comp.chosen is not None
    return st, comp


def test_around_empty_is_the_short_the_holders_of_their_seats_and_others_by_count(
        tight_round: tuple[FlowState, Any]) -> None:
    """Recounted one line at a time: every pharmacist short of a practice slot (available,
    with a candidate there, none held), the holders of the placement each holds in
    other periods in the periods it lacks; then others while their practice candidates
    stay within the target."""
    from matcher.solving.lns import around_empty

    st, comp = tight_round
    rnd, c = st.rnd, st.cand
    (s,) = [k for k, rot in enumerate(st.rotating) if not rot]
    mine = comp.idx[c.stream[comp.idx] == s]
    could = set(zip(c.pharmacist[mine].tolist(), c.period[mine].tolist(), strict=True))
    lines = comp.chosen[c.stream[comp.chosen] == s]
    held = {(int(c.pharmacist[i]), int(c.period[i])): int(c.placement[i]) for i in lines}
    line = {p: li for (p, _t), li in held.items()}
    short = {(p, t) for p, t in could if st.avail[p, t] and (p, t) not in held}
    assert short  # the round is tight
    seeds = {p for p, _t in short}
    seeds |= {q for (q, t), li in held.items()
              for p, tt in short if t == tt and line.get(p) == li}
    got = around_empty(st, comp, comp.chosen, s, 0)
    assert set(got.tolist()) == seeds
    count = np.bincount(c.pharmacist[mine], minlength=len(rnd.pharmacists))
    target = int(count[sorted(seeds)].sum()) + 20 * int(count.max())
    more = around_empty(st, comp, comp.chosen, s, target)
    assert seeds < set(more.tolist())
    assert int(count[more].sum()) <= target
