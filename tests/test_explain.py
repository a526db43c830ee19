"""Explanations of results (matcher.explanations) on rounds small enough to check by hand.

Every placement and home is at the same point (travel 0), and only the weights each round
names are non-zero, so each score is a few multiplications; the docstrings work them out.
Every cost the explanation measures by re-solving is also recomputed here with the
brute-force oracle on the round with that assignment pinned.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from bruteforce import brute_force

import matcher.explanations.counterfactual as counterfactual
from matcher.domain import Round
from matcher.eligibility import candidates
from matcher.errors import InvalidRoundError
from matcher.explanations import VERDICTS, Explanation, explain
from matcher.result import Result
from matcher.solving import SolveParams, cpsat, solve
from matcher.validation import parse_round, with_changes

HERE = {"lat": 51.5, "lon": 0.0}
WEIGHTS = {"preference": 10, "hard_to_recruit": 0, "population_health": 0, "travel": 0,
           "unassigned": 1000, "shortfall": 0, "fairness": 0, "change": 0}


def placement(pid: str, sector: str = "general_practice", **fields: Any) -> dict[str, Any]:
    return {"id": pid, "sector": sector, "location": HERE, "capacity": 1, **fields}


def pharmacist(pid: str, preferences: list[str], **fields: Any) -> dict[str, Any]:
    return {"id": pid, "name": f"Name of {pid}", "home": HERE, "preferences": preferences,
            **fields}


def round_of(rid: str, periods: list[str], placements: list[dict[str, Any]],
             pharmacists: list[dict[str, Any]], **fields: Any) -> Round:
    return parse_round({"format": "spin-round/1", "round": {"id": rid},
                            "periods": [{"id": t} for t in periods],
                            "placements": placements, "pharmacists": pharmacists,
                            "weights": WEIGHTS, **fields})


CONTESTED = round_of(
    "contested", ["R1"],
    [placement("X", requires={"independent_prescriber": True}), placement("A"),
     placement("B"), placement("C")],
    [pharmacist("PH-1", ["X", "A", "B"]), pharmacist("PH-2", ["A"])],
    rules={"max_preferences": 3})
"""Two pharmacists want A (one seat). R = 3, preference weight 10.

PH-1 ranks X (needs an independent prescriber; PH-1 is not one), A, B: points 3, 2, 1.
PH-2 ranks only A: 3 points. Optimum: PH-2 at A (30) and PH-1 at B (10) = 40. Giving PH-1
A pushes PH-2 to an unranked seat: 20 + 0 = 20, so A costs PH-1's round 40 - 20 = 20.
"""

ROTATING = round_of(
    "rotating", ["R1", "R2"], [placement("A"), placement("B"), placement("C")],
    [pharmacist("PH-1", ["A", "B"]), pharmacist("PH-2", ["A"], unavailable=["R1"])],
    rules={"max_preferences": 2})
"""One rotating stream, two periods. R = 2.

PH-1 ranks A (20), B (10); PH-2 (away in R1) ranks A (20). Optimum 50: PH-1 A in R1 and B
in R2, PH-2 A in R2. In R2 PH-1 cannot have A: they hold it in R1 and placements rotate.
"""

SHORT = round_of(
    "short", ["R1"],
    [placement("A"), placement("B"),
     placement("H", hard_to_recruit=2, requires={"skills": ["respiratory"]}),
     placement("M", min_fill=1, requires={"skills": ["diabetes"]})],
    [pharmacist("PH-1", ["A"], skills=["respiratory"]), pharmacist("PH-2", ["B"])],
    rules={"max_preferences": 1},
    weights={**WEIGHTS, "preference": 100, "hard_to_recruit": 30, "shortfall": 500})
"""A hard-to-recruit seat left empty and a min_fill left short. R = 1.

PH-1 at A scores 100 (first choice), at H 2 x 30 = 60; only PH-1 has H's skill. PH-2 at B
scores 100. Nobody has M's skill, so M (min_fill 1) is short: -500. Optimum
100 + 100 - 500 = -300; moving PH-1 into H gives 60 + 100 - 500 = -340: it costs 40.
"""

CONTINUITY = round_of(
    "continuity", ["R1", "R2"],
    [placement("G2", stream="practice", capacity={"R1": 1}), placement("G1", stream="practice")],
    [pharmacist("PH-1", ["G2", "G1"])],
    streams=[{"id": "practice", "rotate": False}],
    rules={"max_preferences": 2, "allow_unassigned": False})
"""A practice stream that does not rotate, and nobody may be unassigned. R = 2.

PH-1 ranks G2 (20) over G1 (10), but G2 has a seat in R1 only: holding it in R1 would mean
holding it in R2 too. So PH-1 keeps G1 in both periods (objective 20).
"""


def solved(rnd: Round) -> Result:
    result = solve(rnd, SolveParams(time_limit_s=20, workers=1))
    assert result.status == "optimal"
    return result


def pinned(rnd: Round, p: str, t: str, l_id: str) -> Round:
    pins = [pin.model_dump() for pin in rnd.pins]
    return with_changes(rnd, pins=[*pins, {"pharmacist": p, "period": t, "placement": l_id}])


def oracle_cost(rnd: Round, p: str, t: str, l_id: str) -> int:
    """The cost of (p, l, t) by brute force: best objective minus best with it pinned."""
    best, _ = brute_force(rnd)
    with_it, _ = brute_force(pinned(rnd, p, t, l_id))
    assert best is not None
    assert with_it is not None
    return best - with_it


@pytest.fixture(scope="module")
def contested() -> Explanation:
    return explain(CONTESTED, solved(CONTESTED))


def test_contested_ranks_and_reasons(contested: Explanation) -> None:
    assert contested.objective == 40
    assert contested.optimal
    slot = contested.slot("PH-1", "R1")
    assert (slot.placement, slot.rank) == ("B", 3)
    x, a = slot.alternatives
    assert (x.placement, x.rank, x.verdict, x.rules) == ("X", 1, "not_eligible", ("prescriber",))
    assert x.message == "not eligible: X requires an independent prescriber"
    assert (a.placement, a.rank, a.verdict) == ("A", 2, "costs")
    assert a.full
    assert a.holders == ("PH-2",)
    assert (a.cost, a.cost_exact) == (20, True)
    assert a.message == "full (held by PH-2); it would cost the round 20 points"
    assert oracle_cost(CONTESTED, "PH-1", "R1", "A") == 20
    other = contested.slot("PH-2", "R1")
    assert (other.placement, other.rank, other.alternatives) == ("A", 1, ())
    assert contested.resolves == 1


def test_contested_terms(contested: Explanation) -> None:
    by_pharmacist = {a.pharmacist: a for a in contested.assignments}
    assert by_pharmacist["PH-1"].terms == {"preference": 10, "hard_to_recruit": 0,
                                           "population_health": 0, "travel": 0}
    assert by_pharmacist["PH-1"].score == 10
    assert (by_pharmacist["PH-2"].score, by_pharmacist["PH-2"].rank) == (30, 1)


def test_rotation_is_the_reason() -> None:
    e = explain(ROTATING, solved(ROTATING))
    assert e.objective == 50
    assert (e.slot("PH-1", "R1").placement, e.slot("PH-1", "R1").rank) == ("A", 1)
    slot = e.slot("PH-1", "R2")
    assert (slot.placement, slot.rank) == ("B", 2)
    (alt,) = slot.alternatives
    assert (alt.placement, alt.verdict, alt.rules) == ("A", "held_in_other_period",
                                                      ("rotation",))
    assert alt.message == ("PH-1 holds A in R1, and placements rotate: nobody holds the same "
                           "placement twice")
    ph2 = next(p for p in e.pharmacists if p.pharmacist == "PH-2")
    assert [(s.period, s.placement, s.rank) for s in ph2.slots] == [("R2", "A", 1)]
    assert e.resolves == 0


def test_empty_hard_to_recruit_seat_and_short_min_fill() -> None:
    e = explain(SHORT, solved(SHORT))
    assert e.objective == -300
    gaps = {(g.placement, g.period): g for g in e.placements}
    assert set(gaps) == {("H", "R1"), ("M", "R1")}
    h = gaps["H", "R1"]
    assert (h.reason, h.eligible, h.moved, h.cost, h.cost_exact) == (
        "placed_elsewhere", ("PH-1",), "PH-1", 40, True)
    assert (h.empty_seats, h.shortfall) == (1, 0)
    assert h.message == ("the only eligible pharmacist is placed elsewhere in R1: PH-1 at A "
                         "(score 100 there, 60 here); moving PH-1 into H in R1: it would cost "
                         "the round 40 points")
    assert oracle_cost(SHORT, "PH-1", "R1", "H") == 40
    m = gaps["M", "R1"]
    assert (m.reason, m.shortfall, m.cost) == ("nobody_eligible", 1, None)
    assert m.message == "nobody is eligible for M in R1 (skills: 2 pharmacists)"
    assert e.slot("PH-1", "R1").rank == 1


def test_alternative_that_breaks_continuity() -> None:
    e = explain(CONTINUITY, solved(CONTINUITY))
    r1, r2 = e.slot("PH-1", "R1"), e.slot("PH-1", "R2")
    assert [(s.placement, s.rank) for s in (r1, r2)] == [("G1", 2), ("G1", 2)]
    (alt,) = r1.alternatives
    assert alt.verdict == "breaks_rules"
    assert "continuity" in alt.rules
    assert alt.message == (
        "giving PH-1 G2 in R1 breaks the hard rules: PH-1 is pinned to G2 in R1; nobody may be "
        "left unassigned and the practice stream does not rotate, so they must hold G2 in R1 "
        "and R2, but it is not open to them in R2 (G2 has no capacity in R2)")
    assert brute_force(pinned(CONTINUITY, "PH-1", "R1", "G2")) == (None, None)
    (not_open,) = r2.alternatives
    assert (not_open.verdict, not_open.rules) == ("not_eligible", ("capacity",))


def test_without_resolves_costs_are_not_measured() -> None:
    e = explain(CONTESTED, solved(CONTESTED), max_resolves=0)
    a = e.slot("PH-1", "R1").alternatives[1]
    assert (a.verdict, a.cost, a.full) == ("not_measured", None, True)
    assert a.message == "full (held by PH-2); not measured (the re-solve budget ran out)"
    assert e.resolves == 0


def test_unproven_resolve_gives_the_proven_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-solve stopped with a bound of 35 and no solution proves the cost is at least
    40 - 35 = 5; the result's allocation repaired to give PH-1 A (PH-2 swaps to B, unranked:
    20 + 0) proves it is at most 40 - 20 = 20."""
    result = solved(CONTESTED)

    def stopped(*args: Any, **kwargs: Any) -> cpsat.CpAnswer:
        return cpsat.CpAnswer("unknown", bound=35)

    monkeypatch.setattr(counterfactual.cpsat, "run", stopped)
    e = explain(CONTESTED, result)
    a = e.slot("PH-1", "R1").alternatives[1]
    assert (a.verdict, a.cost, a.cost_exact) == ("costs", 5, False)
    assert (a.cost_at_least, a.cost_at_most, a.priced) == (5, 20, True)
    assert a.message.endswith("it would cost the round between 5 and 20 points (the re-solve "
                              "was not proven optimal in time)")
    assert a.to_dict()["cost_at_least"] == 5
    assert e.resolves == 1


def test_a_resolve_the_checker_refuses_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-solve that claims an optimal allocation breaking the rules (both pharmacists at A)
    does not set the cost: the repaired allocation's checked cost stays the upper end."""
    result = solved(CONTESTED)
    pm = counterfactual.PinnedModel(CONTESTED, result, 40, candidates(CONTESTED))
    both = pm.cand.positions(CONTESTED, [("PH-1", "R1", "A"), ("PH-2", "R1", "A")])

    def wrong(*args: Any, **kwargs: Any) -> cpsat.CpAnswer:
        return cpsat.CpAnswer("optimal", chosen=both, objective=50, bound=50)

    monkeypatch.setattr(counterfactual.cpsat, "run", wrong)
    m = pm.measure("PH-1", "A", "R1", time_limit_s=5)
    assert (m.cost, m.at_least, m.at_most) == (None, 0, 20)


def test_a_result_of_another_round_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit this round"):
        explain(ROTATING, solved(CONTESTED))


def test_infeasible_result_has_nothing_to_explain() -> None:
    bad = Result(round="x", status="infeasible",
                 diagnosis=({"kind": "too_few_seats", "message": "m"},))
    e = explain(CONTESTED, bad)
    assert (e.status, e.pharmacists, e.placements) == ("infeasible", (), ())
    assert e.diagnosis == ({"kind": "too_few_seats", "message": "m"},)


def test_json_and_text(contested: Explanation) -> None:
    data = contested.to_dict()
    assert json.loads(json.dumps(data)) == data
    slot = data["pharmacists"][0]["slots"][0]
    assert (slot["placement"], slot["rank"]) == ("B", 3)
    assert {a["verdict"] for a in slot["alternatives"]} <= set(VERDICTS)
    text = contested.to_text()
    assert "  R1: B (preference 3), score 10" in text
    assert "    preference 2 A: full (held by PH-2); it would cost the round 20 points" in text
    assert "Name of" not in text
    assert "Name of" not in json.dumps(data)


def test_unranked_and_unassigned_labels() -> None:
    rnd = round_of("labels", ["R1"], [placement("A"), placement("B")],
                   [pharmacist("PH-1", ["A"]), pharmacist("PH-2", [])],
                   rules={"max_preferences": 1}, weights={**WEIGHTS, "unassigned": 0})
    e = explain(rnd, solved(rnd))
    assert e.slot("PH-1", "R1").rank_label == 1
    # PH-2 ranked nothing: whatever they got (or not) is unranked and has no better choice.
    label = e.slot("PH-2", "R1").rank_label
    assert label in ("unranked", "unassigned")
    assert e.slot("PH-2", "R1").alternatives == ()


def test_measured_costs_agree_with_the_oracle(tiny_round: Round) -> None:
    """On random tiny rounds: every rank is the preference position, every exact cost is
    the brute-force optimum minus the brute-force optimum with that assignment pinned, and
    every alternative said to break the rules has no feasible pinned round."""
    best, _ = brute_force(tiny_round)
    if best is None:
        return
    result = solve(tiny_round, SolveParams(time_limit_s=20, workers=1))
    assert result.status == "optimal"
    e = explain(tiny_round, result, max_resolves=6)
    assert e.objective == best
    checked = 0
    for ph in e.pharmacists:
        ranks = {l_id: k for k, l_id in
                 reversed(list(enumerate(tiny_round.pharmacist(ph.pharmacist).preferences, 1)))}
        for slot in ph.slots:
            assert slot.rank == (ranks.get(slot.placement) if slot.placement else None)
            for alt in slot.alternatives:
                assert alt.rank == ranks[alt.placement]
                assert slot.rank is None or alt.rank < slot.rank
                if alt.verdict in ("costs", "tie") and alt.cost_exact:
                    with_it, _ = brute_force(pinned(tiny_round, ph.pharmacist, slot.period,
                                                    alt.placement))
                    assert with_it is not None
                    assert alt.cost == best - with_it
                    checked += 1
                elif alt.verdict == "breaks_rules":
                    assert brute_force(pinned(tiny_round, ph.pharmacist, slot.period,
                                              alt.placement)) == (None, None)
    for gap in e.placements:
        if gap.cost is not None and gap.cost_exact:
            assert gap.moved is not None
            with_it, _ = brute_force(pinned(tiny_round, gap.moved, gap.period, gap.placement))
            assert with_it is not None
            assert gap.cost == best - with_it
    assert checked <= len([a for p in e.pharmacists for s in p.slots for a in s.alternatives])


def pinned_solve(rnd: Round, p: str, t: str, l_id: str) -> Result:
    """The round with (p, l, t) pinned, solved from scratch by solve()."""
    return solve(pinned(rnd, p, t, l_id), SolveParams(time_limit_s=20, workers=1, diagnose_s=0))


def test_reused_model_costs_equal_solve_with_the_pin(tiny_round: Round) -> None:
    """Every eligible (pharmacist, ranked placement, period) of random tiny rounds, priced on
    the one reused model, costs what solve() of the round with that pin says; a pin that
    makes the round infeasible is infeasible for both; a re-solve given no time keeps a
    valid interval: lower <= the true cost <= upper."""
    result = solve(tiny_round, SolveParams(time_limit_s=20, workers=1))
    if result.status != "optimal":
        return
    base = result.objective
    assert base is not None
    pm = counterfactual.PinnedModel(tiny_round, result, base, candidates(tiny_round))
    for ph in tiny_round.pharmacists:
        for l_id in ph.preferences:
            for t in tiny_round.period_ids:
                if pm.position(ph.id, l_id, t) < 0:
                    continue
                m = pm.measure(ph.id, l_id, t, time_limit_s=10, diagnose_s=0.5)
                short = pm.measure(ph.id, l_id, t, time_limit_s=0.0)
                try:
                    truth = pinned_solve(tiny_round, ph.id, t, l_id)
                except InvalidRoundError:  # the pin contradicts a pin of the round
                    assert m.status in ("infeasible", "invalid")
                    continue
                if truth.status == "infeasible":
                    assert m.status in ("infeasible", "invalid")
                    assert short.at_most is None
                    continue
                assert truth.status == "optimal"
                assert truth.objective is not None
                cost = base - truth.objective
                assert (m.status, m.cost) == ("optimal", cost)
                assert short.at_least is not None
                assert short.at_least <= cost
                assert short.at_most is None or cost <= short.at_most
                quick = pm.quick(ph.id, l_id, t)
                assert quick.at_least is not None
                assert quick.at_least <= cost
                assert quick.at_most is None or cost <= quick.at_most


def test_intervals_of_a_short_budget_hold(tiny_round: Round) -> None:
    """explain with a budget too short to prove anything: every priced alternative's ends
    hold against the proven pinned solve."""
    result = solve(tiny_round, SolveParams(time_limit_s=20, workers=1))
    if result.status != "optimal":
        return
    base = result.objective
    assert base is not None
    e = explain(tiny_round, result, max_resolves=2, time_limit_s=0.3, workers=2)
    for ph in e.pharmacists:
        for slot in ph.slots:
            for alt in slot.alternatives:
                if alt.cost_at_least is None and alt.cost_at_most is None:
                    continue
                truth = pinned_solve(tiny_round, ph.pharmacist, slot.period, alt.placement)
                assert truth.objective is not None
                cost = base - truth.objective
                assert alt.cost_at_least is None or alt.cost_at_least <= cost
                assert alt.cost_at_most is None or cost <= alt.cost_at_most
                if alt.cost_exact:
                    assert alt.cost == cost


def test_infeasible_pin_on_the_reused_model() -> None:
    """CONTINUITY: G2 in R1 would need G2 in R2 too, which has no seat: the reused model
    says infeasible, as solve() of the pinned round does, with the diagnosis."""
    pm = counterfactual.PinnedModel(CONTINUITY, solved(CONTINUITY), 20, candidates(CONTINUITY))
    m = pm.measure("PH-1", "G2", "R1", time_limit_s=5)
    assert m.status == "infeasible"
    assert "continuity" in {r for f in m.findings for r in f.get("rules", [])}
    assert pinned_solve(CONTINUITY, "PH-1", "R1", "G2").status == "infeasible"
