"""Per-rule micro-tests on hand-made rounds of one to three pharmacists.

Each hard rule makes a round infeasible exactly when it should (and feasible once relaxed);
each objective term moves the optimum the way spec §4 says. Every answer is also compared
with the exhaustive optimum of ``bruteforce``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from bruteforce import brute_force

from matcher.domain import Round
from matcher.result import Result
from matcher.solving import SolveParams, solve

HERE = {"lat": 51.55, "lon": 0.05}
NEAR = {"lat": 51.551, "lon": 0.05}  # about 0 km
FAR = {"lat": 51.60, "lon": 0.05}  # about 6 km


def placement(pid: str, sector: str = "general_practice", **extra: Any) -> dict[str, Any]:
    return {"id": pid, "sector": sector, "location": NEAR, "capacity": 1, **extra}


def pharmacist(pid: str, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "home": HERE, **extra}


def make(periods: int = 1, placements: list[dict[str, Any]] | None = None,
         pharmacists: list[dict[str, Any]] | None = None, **extra: Any) -> Round:
    """A hand round: every weight 0 unless given, unassigned allowed unless ruled out."""
    data: dict[str, Any] = {
        "format": "spin-round/1",
        "round": {"id": "hand"},
        "periods": [{"id": f"R{i + 1}"} for i in range(periods)],
        "placements": placements or [placement("A")],
        "pharmacists": pharmacists or [pharmacist("P1")],
        "weights": {"preference": 0, "hard_to_recruit": 0, "population_health": 0,
                    "travel": 0, "unassigned": 100, "shortfall": 0},
    }
    for key, value in extra.items():
        if key in ("weights", "rules"):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    return Round.model_validate(copy.deepcopy(data))


def run(rnd: Round) -> Result:
    result = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    best, _ = brute_force(rnd)
    if best is None:
        assert result.status == "infeasible"
    else:
        assert result.status == "optimal"
        assert result.objective == best
    return result


def held(result: Result) -> set[tuple[str, str, str]]:
    return {(a.pharmacist, a.period, a.placement) for a in result.assignments}


MUST = {"allow_unassigned": False}


# ---- hard rules --------------------------------------------------------------------------


def test_one_per_stream_and_allow_unassigned() -> None:
    """Three pharmacists, two seats: must-assign is infeasible, a third seat fixes it."""
    phs = [pharmacist(f"P{i}") for i in range(1, 4)]
    two = [placement("A"), placement("B")]
    assert run(make(placements=two, pharmacists=phs, rules=MUST)).status == "infeasible"
    three = [*two, placement("C")]
    r = run(make(placements=three, pharmacists=phs, rules=MUST))
    assert len(r.assignments) == 3
    relaxed = run(make(placements=two, pharmacists=phs))
    assert len(relaxed.assignments) == 2
    assert len(relaxed.unassigned) == 1


def test_capacity() -> None:
    phs = [pharmacist("P1"), pharmacist("P2")]
    assert run(make(placements=[placement("A")], pharmacists=phs, rules=MUST)).status == \
        "infeasible"
    r = run(make(placements=[placement("A", capacity=2)], pharmacists=phs, rules=MUST))
    assert len(r.assignments) == 2


def test_organisation_cap() -> None:
    phs = [pharmacist("P1"), pharmacist("P2")]
    pls = [placement("A", organisation="O"), placement("B", organisation="O")]
    capped = [{"id": "O", "max_pharmacists": 1}]
    assert run(make(placements=pls, pharmacists=phs, organisations=capped,
                    rules=MUST)).status == "infeasible"
    r = run(make(placements=pls, pharmacists=phs,
                 organisations=[{"id": "O", "max_pharmacists": 2}], rules=MUST))
    assert len(r.assignments) == 2


def test_organisation_cap_counts_a_pharmacist_once_across_streams() -> None:
    """One pharmacist in a practice and a host placement of one organisation counts once."""
    streams = [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}]
    pls = [placement("A", organisation="O", stream="practice"),
           placement("B", "hospital", organisation="O", stream="host")]
    r = run(make(placements=pls, streams=streams, rules=MUST,
                 organisations=[{"id": "O", "max_pharmacists": 1}]))
    assert len(r.assignments) == 2


@pytest.mark.parametrize(("supervises", "feasible"),
                         [("all", False), ("non_prescribers", True), ("early_years", False)])
def test_supervision(supervises: str, feasible: bool) -> None:
    phs = [pharmacist("P1", independent_prescriber=True, experience_years=1),
           pharmacist("P2", experience_years=1)]
    sup = [{"id": "S", "supervises": supervises, "placements": ["A", "B"], "capacity": 1}]
    r = run(make(placements=[placement("A"), placement("B")], pharmacists=phs,
                 supervisors=sup, rules=MUST))
    assert (r.status == "optimal") is feasible


def test_rotation() -> None:
    assert run(make(periods=2, rules=MUST)).status == "infeasible"
    r = run(make(periods=2, placements=[placement("A"), placement("B")], rules=MUST))
    assert {a.placement for a in r.assignments} == {"A", "B"}


def test_rotation_counts_history() -> None:
    phs = [pharmacist("P1", history=["A"])]
    assert run(make(pharmacists=phs, rules=MUST)).status == "infeasible"
    assert run(make(pharmacists=phs, placements=[placement("A"), placement("B")],
                    rules=MUST)).status == "optimal"


def test_continuity() -> None:
    """A practice open only in R1 and another only in R2 cannot both be held."""
    streams = [{"id": "practice", "rotate": False}]
    split = [placement("A", stream="practice", capacity={"R1": 1}),
             placement("B", stream="practice", capacity={"R2": 1})]
    assert run(make(periods=2, placements=split, streams=streams, rules=MUST)).status == \
        "infeasible"
    both = [placement("A", stream="practice"), placement("B", stream="practice")]
    r = run(make(periods=2, placements=both, streams=streams, rules=MUST))
    assert len({a.placement for a in r.assignments}) == 1
    assert len(r.assignments) == 2
    relaxed = run(make(periods=2, placements=split, streams=streams))
    assert len(relaxed.assignments) == 1  # one period left empty rather than switch


def test_sector_mix() -> None:
    same = [placement("A"), placement("B")]
    rules = {"min_distinct_sectors": 2}
    assert run(make(periods=2, placements=same, rules=rules)).status == "infeasible"
    mixed = [placement("A"), placement("B", "hospital")]
    assert run(make(periods=2, placements=mixed, rules=rules)).status == "optimal"
    # History counts: a hospital placement done before covers the second sector.
    hist = [*same, placement("H", "hospital", capacity=0)]
    r = run(make(periods=2, placements=hist, rules=rules,
                 pharmacists=[pharmacist("P1", history=["H"])]))
    assert r.status == "optimal"
    # min(min_distinct_sectors, A(p)): one available period asks for one sector only.
    r = run(make(periods=2, placements=same, rules=rules,
                 pharmacists=[pharmacist("P1", unavailable=["R2"])]))
    assert r.status == "optimal"


def test_required_sectors() -> None:
    rules = {"required_sectors": ["hospital"]}
    assert run(make(rules=rules)).status == "infeasible"
    assert run(make(rules=rules, placements=[placement("A"), placement("B", "hospital")])
               ).status == "optimal"
    # Not available at all: nothing is required.
    assert run(make(rules=rules, pharmacists=[pharmacist("P1", unavailable=["R1"])])
               ).status == "optimal"


def test_pins() -> None:
    phs = [pharmacist("P1"), pharmacist("P2")]
    pins = [{"pharmacist": "P1", "period": "R1", "placement": "A"},
            {"pharmacist": "P2", "period": "R1", "placement": "A"}]
    assert run(make(pharmacists=phs, pins=pins)).status == "infeasible"
    # A pin against the objective holds: B is preferred but P1 is pinned to A.
    r = run(make(placements=[placement("A"), placement("B")],
                 pharmacists=[pharmacist("P1", preferences=["B"])],
                 pins=pins[:1], weights={"preference": 10}))
    assert held(r) == {("P1", "R1", "A")}


# ---- objective terms ---------------------------------------------------------------------

TWO = [placement("A"), placement("B")]


def test_preference_moves_the_optimum() -> None:
    r = run(make(placements=TWO, pharmacists=[pharmacist("P1", preferences=["B", "A"])],
                 weights={"preference": 10}))
    assert held(r) == {("P1", "R1", "B")}
    assert r.assignments[0].terms["preference"] == 10 * 10  # R = 10, rank 1


def test_hard_to_recruit_moves_the_optimum() -> None:
    pls = [placement("A"), placement("B", hard_to_recruit=2)]
    r = run(make(placements=pls, weights={"hard_to_recruit": 30}))
    assert held(r) == {("P1", "R1", "B")}


def test_population_health_moves_the_optimum() -> None:
    pls = [placement("A", population_health=80), placement("B", population_health=20)]
    r = run(make(placements=pls, weights={"population_health": 1}))
    assert held(r) == {("P1", "R1", "A")}


def test_travel_moves_the_optimum() -> None:
    pls = [placement("A", location=FAR), placement("B")]
    r = run(make(placements=pls, weights={"travel": 1}))
    assert held(r) == {("P1", "R1", "B")}


def test_unassigned_weight_decides_whether_to_place() -> None:
    far = [placement("A", location=FAR)]
    assert run(make(placements=far, weights={"travel": 10, "unassigned": 0})).assignments == ()
    assert len(run(make(placements=far, weights={"travel": 10, "unassigned": 100})
                   ).assignments) == 1


def test_shortfall_moves_the_optimum() -> None:
    pls = [placement("A", min_fill=1), placement("B", hard_to_recruit=1)]
    base = {"hard_to_recruit": 30}
    assert held(run(make(placements=pls, weights=base))) == {("P1", "R1", "B")}
    r = run(make(placements=pls, weights=base | {"shortfall": 1000}))
    assert held(r) == {("P1", "R1", "A")}


def test_fairness_moves_the_optimum() -> None:
    """Both like A best; P1 likes B nearly as much, P2 not at all. Without fairness the
    tie-break is free; with fairness P2 gets A (the worst-off is better off)."""
    phs = [pharmacist("P1", preferences=["A", "B"]), pharmacist("P2", preferences=["A"])]
    rules = {"max_preferences": 2}
    r = run(make(placements=TWO, pharmacists=phs, rules=rules,
                 weights={"preference": 1, "fairness": 5}))
    assert held(r) == {("P1", "R1", "B"), ("P2", "R1", "A")}
    assert r.kpis["fairness_min"] == 1


def test_change_keeps_the_reference() -> None:
    pls = [placement("A"), placement("B", hard_to_recruit=1)]
    ref = [{"pharmacist": "P1", "period": "R1", "placement": "A"}]
    moved = run(make(placements=pls, reference=ref, weights={"hard_to_recruit": 30}))
    assert held(moved) == {("P1", "R1", "B")}
    kept = run(make(placements=pls, reference=ref,
                    weights={"hard_to_recruit": 30, "change": 50}))
    assert held(kept) == {("P1", "R1", "A")}
