"""Single moves that fill empty slots and top up placements below min_fill
(matcher.solving.fill): they keep every rule and never lose objective."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bruteforce import random_tiny_round
from shapes import per_period_round

from matcher import checker
from matcher.domain import Round
from matcher.eligibility import candidates
from matcher.scoring import scores
from matcher.solving import Budget, SolveParams, solve
from matcher.solving.evaluator import evaluate
from matcher.solving.fill import fill_empty, fill_gaps, relieve_shortfall
from matcher.solving.state import FlowState
from matcher.validation import parse_round


def thinned(rnd: Round, seed: int) -> tuple[FlowState, np.ndarray]:
    """A solved round's allocation with random assignments taken away, one at a time,
    while the rest stays feasible (empty slots and shortfall to work on)."""
    res = solve(rnd, SolveParams(workers=1, time_limit_s=10, seed=0))
    assert res.has_solution
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=1, seed=0), Budget(10.0))
    chosen = np.sort(cand.positions(rnd, res.allocation))
    rng = np.random.default_rng(seed)
    for j in rng.permutation(chosen)[: max(1, len(chosen) // 3)]:
        rest = chosen[chosen != j]
        if not checker.violations(rnd, cand.assignments(rnd, rest)):
            chosen = rest
    return st, chosen


def moved(st: FlowState, chosen: np.ndarray) -> np.ndarray:
    """Both kinds of move on every component of the round."""
    out = []
    for comp in st.comps:
        mine = chosen[np.isin(st.cand.pharmacist[chosen], comp.pharmacists)]
        out.append(relieve_shortfall(st, comp, fill_empty(st, comp, mine)))
    return np.sort(np.concatenate(out)) if out else chosen


def empty_and_short(st: FlowState, chosen: np.ndarray) -> tuple[int, int]:
    rnd = st.rnd
    breakdown = checker.objective(rnd, st.cand.assignments(rnd, chosen))
    return breakdown.unassigned_count, breakdown.shortfall


@pytest.mark.parametrize("seed", range(40))
def test_moves_on_tiny_rounds_keep_every_rule_and_never_lose(seed: int) -> None:
    rnd = random_tiny_round(seed)
    res = solve(rnd, SolveParams(workers=1, time_limit_s=10))
    if not res.has_solution:
        return
    st, base = thinned(rnd, seed)
    got = moved(st, base)
    assert not checker.violations(rnd, st.cand.assignments(rnd, got))
    assert evaluate(rnd, st.cand, st.sc, got) >= evaluate(rnd, st.cand, st.sc, base)


@pytest.mark.parametrize("seed", range(4))
def test_moves_fill_slots_and_seats_on_per_period_rounds(seed: int) -> None:
    """On rounds with per-period capacities and min_fill most of what was taken away is
    put back, by moves that keep every rule (so the test can fail both ways)."""
    rnd = per_period_round(40, 60, 3, seed)
    st, base = thinned(rnd, seed)
    got = moved(st, base)
    assert not checker.violations(rnd, st.cand.assignments(rnd, got))
    before, after = evaluate(rnd, st.cand, st.sc, base), evaluate(rnd, st.cand, st.sc, got)
    assert after > before
    (empty0, short0), (empty1, short1) = empty_and_short(st, base), empty_and_short(st, got)
    assert empty1 <= empty0 // 4
    assert short1 <= short0 // 2


def _round(placements: list[dict[str, Any]], pharmacists: list[dict[str, Any]],
           **extra: Any) -> Round:
    home = {"lat": 51.5, "lon": -0.05}
    return parse_round({
        "format": "spin-round/1", "round": {"id": "moves"},
        "periods": [{"id": "R1"}, {"id": "R2"}, {"id": "R3"}],
        "streams": [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}],
        "placements": [{"location": home, "hard_to_recruit": 0, **pl} for pl in placements],
        "pharmacists": [{"home": home, **ph} for ph in pharmacists],
        **extra,
    })


def test_a_line_at_a_practice_closed_in_one_period_moves_to_one_open_in_all() -> None:
    """A practice closed in R3 leaves its holder's R3 empty (continuity); the move takes
    the whole line to a practice open in every period."""
    rnd = _round(
        [{"id": "GP-1", "stream": "practice", "sector": "general_practice",
          "capacity": {"R1": 1, "R2": 1}},
         {"id": "GP-2", "stream": "practice", "sector": "general_practice", "capacity": 1},
         {"id": "H-1", "stream": "host", "sector": "hospital", "capacity": 1},
         {"id": "H-2", "stream": "host", "sector": "mental_health", "capacity": 1},
         {"id": "H-3", "stream": "host", "sector": "community_pharmacy", "capacity": 1}],
        [{"id": "PH-1", "preferences": ["GP-1"]}])
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=1), Budget(10.0))
    start = cand.positions(rnd, [("PH-1", "R1", "GP-1"), ("PH-1", "R2", "GP-1"),
                                 ("PH-1", "R1", "H-1"), ("PH-1", "R2", "H-2"),
                                 ("PH-1", "R3", "H-3")])
    (comp,) = st.comps
    st.accept(comp, np.sort(start), "test")
    assert fill_gaps(st, comp)
    assert comp.chosen is not None
    got = {(a.period, a.placement) for a in cand.assignments(rnd, comp.chosen)}
    assert {p for t, p in got if p.startswith("GP")} == {"GP-2"}
    assert len(got) == 6


def test_a_placement_below_min_fill_takes_a_pharmacist_from_one_that_is_not() -> None:
    """H-1 wants one pharmacist in R1 and has none; PH-1 holds H-2 there (no minimum):
    1,000 points of shortfall against a few points of score, so PH-1 moves."""
    rnd = _round(
        [{"id": "H-1", "stream": "host", "sector": "hospital", "capacity": 1,
          "min_fill": {"R1": 1}},
         {"id": "H-2", "stream": "host", "sector": "hospital", "capacity": 1,
          "population_health": 50}],
        [{"id": "PH-1", "unavailable": ["R2", "R3"]}],
        streams=[{"id": "host", "rotate": True}])
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=1), Budget(10.0))
    (comp,) = st.comps
    start = cand.positions(rnd, [("PH-1", "R1", "H-2")])
    got = relieve_shortfall(st, comp, np.sort(start))
    assert [(a.period, a.placement) for a in cand.assignments(rnd, got)] == [("R1", "H-1")]


def test_a_search_step_at_a_seat_below_min_fill_frees_its_holders_and_takers() -> None:
    """When single moves cannot top a placement-period up, the search grows steps from it:
    its holders (in any period) and some of those who could take it are freed."""
    from matcher.solving import lns

    rnd = per_period_round(40, 60, 3, 0)
    st, chosen = thinned(rnd, 0)
    c = st.cand
    for comp in st.comps:
        mine = chosen[np.isin(c.pharmacist[chosen], comp.pharmacists)]
        cells = st.short_cells(comp, mine)
        if not len(cells):
            continue
        for li, t in cells.tolist():
            held = int(((c.placement[mine] == li) & (c.period[mine] == t)).sum())
            assert held < rnd.placements[li].min_fill_in(rnd.period_ids[t])
        seeds = lns.short_seeds(st, comp, mine)
        assert seeds
        assert set(seeds) <= set(comp.pharmacists.tolist())
        picked = [(li, t) for li, t in cells.tolist()
                  if {int(p) for p in c.pharmacist[mine[c.placement[mine] == li]]}
                  <= set(seeds)
                  and set(seeds) & set(c.pharmacist[comp.idx[
                      (c.placement[comp.idx] == li) & (c.period[comp.idx] == t)]].tolist())]
        assert picked, "the seeds are not the holders and takers of any short cell"
        return
    pytest.fail("no placement-period below min_fill to grow a step from")


def test_an_allocation_already_tried_is_not_tried_again(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """fill_gaps tries the moves once per allocation: again only after it changed."""
    from matcher.solving import fill

    rnd = per_period_round(40, 60, 3, 0)
    st, base = thinned(rnd, 0)
    calls: list[int] = []
    real = fill.relieve_shortfall

    def counted(*args: Any) -> np.ndarray:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(fill, "relieve_shortfall", counted)
    comp = max(st.comps, key=lambda k: len(k.idx))
    comp.chosen = np.intersect1d(base, comp.idx)
    comp.value = st.evaluator(comp.chosen)
    assert fill_gaps(st, comp)  # the thinned allocation gains
    assert len(calls) == 1
    rounds = 1
    while fill_gaps(st, comp):  # every new allocation is tried, once
        rounds += 1
        assert rounds < 10
    tried = len(calls)
    assert tried == rounds + 1
    assert not fill_gaps(st, comp)  # unchanged since: not tried again
    assert len(calls) == tried
    comp.chosen = comp.chosen.copy()  # a new allocation (equal, but another array)
    fill_gaps(st, comp)
    assert len(calls) == tried + 1
