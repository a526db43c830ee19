"""KPIs (matcher.kpis): every KPI with exact values on rounds checked by hand."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from matcher import kpis
from matcher.allocation import Assignment
from matcher.domain import Round
from matcher.formats import load_round
from matcher.result import Unassigned
from matcher.solving import SolveParams, solve

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"

TINY_OPTIMUM = [
    Assignment("PH-1", "P1", "GP-A"), Assignment("PH-2", "P1", "CP-D"),
    Assignment("PH-3", "P1", "GP-B"), Assignment("PH-1", "P2", "CP-D"),
    Assignment("PH-2", "P2", "GP-A"),
]
"""The unique optimum of data/samples/tiny.json, worked by hand in its README."""


@pytest.fixture(scope="module")
def tiny() -> Round:
    """The hand-checkable sample: 3 pharmacists, 4 placements, 2 periods."""
    return load_round(SAMPLES / "tiny.json")


@pytest.fixture(scope="module")
def tiny_kpis(tiny: Round) -> dict[str, Any]:
    return kpis.compute(tiny, TINY_OPTIMUM)


def odd_round() -> Round:
    """Two periods, three placements and three pharmacists, built so that every grouping
    rule shows: a placement with its own place (A, level 3, min_fill 2), one taking its
    organisation's place and a seat only in R1 (B), one with no place at all (C); a travel
    override (P1 to A costs 7), a history placement (P1 did C), a pharmacist on leave in R2
    (P2) and one on leave throughout (P3, left out of the per-pharmacist KPIs)."""
    here = {"lat": 51.5, "lon": 0.0}
    return Round.model_validate({
        "format": "spin-round/1",
        "periods": [{"id": "R1"}, {"id": "R2"}],
        "organisations": [{"id": "ORG-E", "place": "East"}],
        "placements": [
            {"id": "A", "sector": "hospital", "place": "North", "location": here,
             "capacity": 2, "min_fill": 2, "hard_to_recruit": 3, "population_health": 100},
            {"id": "B", "sector": "general_practice", "organisation": "ORG-E",
             "location": {"lat": 51.509, "lon": 0.0}, "capacity": {"R1": 1}},
            {"id": "C", "sector": "mental_health", "location": here, "capacity": 1,
             "population_health": 50},
        ],
        "pharmacists": [
            {"id": "P1", "home": here, "preferences": ["A", "B"], "history": ["C"]},
            {"id": "P2", "home": here, "preferences": ["B"], "unavailable": ["R2"]},
            {"id": "P3", "home": here, "unavailable": ["R1", "R2"]},
        ],
        "travel": [{"pharmacist": "P1", "placement": "A", "cost": 7}],
    })


ODD_ALLOCATION = [Assignment("P1", "R1", "B"), Assignment("P1", "R2", "A")]
ODD_EMPTY = [Unassigned("P2", "R1", "rotation", "every eligible placement is full")]


@pytest.fixture(scope="module")
def odd_kpis() -> dict[str, Any]:
    return kpis.compute(odd_round(), ODD_ALLOCATION, ODD_EMPTY)


def test_preference_outcomes_on_tiny(tiny_kpis: dict[str, Any]) -> None:
    # PH-1 holds two unranked placements, PH-2 its 2nd and 1st choices, PH-3 its 1st.
    k = tiny_kpis
    assert (k["assignments"], k["first_choice"], k["top_3"], k["unranked"]) == (5, 2, 3, 2)
    assert (k["first_choice_share"], k["top_3_share"], k["unranked_share"]) == (0.4, 0.6, 0.4)
    assert k["preferred"] == 3
    assert k["preference_ranks"] == {"1": 2, "2": 1, "unranked": 2}


def test_hard_to_recruit_fill_by_level_on_tiny(tiny_kpis: dict[str, Any]) -> None:
    # GP-A (level 2) and CP-D (level 1) are held in both periods.
    assert tiny_kpis["hard_to_recruit_by_level"] == {
        "1": {"seats": 2, "filled": 2, "fill": 1.0},
        "2": {"seats": 2, "filled": 2, "fill": 1.0},
        "3": {"seats": 0, "filled": 0, "fill": 0.0},
    }
    assert (tiny_kpis["hard_to_recruit_seats"], tiny_kpis["hard_to_recruit_filled"],
            tiny_kpis["hard_to_recruit_fill"]) == (4, 4, 1.0)


def test_seats_and_population_health_fill_on_tiny(tiny_kpis: dict[str, Any]) -> None:
    k = tiny_kpis
    assert (k["seats"], k["seats_filled"], k["unfilled_seats"], k["fill"]) == (8, 5, 3, 0.625)
    # Weights of all seats: 2 x (80 + 40 + 50 + 60) = 460; filled: 80 + 80 + 40 + 60 + 60.
    assert k["population_health_fill"] == pytest.approx(320 / 460, abs=1e-6)
    assert k["shortfall"] == 0
    assert k["by_sector"]["general_practice"] == {
        "seats": 4, "filled": 3, "unfilled": 1, "min_fill": 0, "shortfall": 0, "fill": 0.75}
    assert k["by_sector"]["hospital"]["filled"] == 0
    assert k["by_sector"]["community_pharmacy"]["min_fill"] == 2
    assert list(k["by_place"]) == ["Tinytown"]


def test_travel_distribution_on_tiny(tiny_kpis: dict[str, Any]) -> None:
    # Travel of the five assignments: 0, 3, 2, 2, 5 km (data/samples/README.md).
    k = tiny_kpis
    assert (k["mean_travel"], k["median_travel"], k["p90_travel"], k["max_travel"],
            k["total_travel"]) == (2.4, 2.0, 5, 5, 12)
    assert k["travel_histogram"] == {"0-4": 4, "5-9": 1, "10-14": 0, "15-19": 0,
                                     "20-29": 0, "30+": 0}


def test_sector_coverage_and_fairness_on_tiny(tiny_kpis: dict[str, Any]) -> None:
    # Points: PH-1 0 (both unranked), PH-2 9 + 10, PH-3 10. Sectors: 2, 2, 1.
    k = tiny_kpis
    assert k["sector_coverage"] == {"1": 1, "2": 2}
    assert (k["sectors_min"], k["sectors_mean"]) == (1, pytest.approx(5 / 3, abs=1e-6))
    assert (k["worst_off_points"], k["points_max"], k["points_spread"]) == (0, 19, 19)
    assert k["points_mean"] == pytest.approx(29 / 3, abs=1e-6)
    assert k["points_std"] == pytest.approx(statistics.pstdev([0, 19, 10]), abs=1e-6)


def test_unassigned_by_reason_and_pharmacists(odd_kpis: dict[str, Any]) -> None:
    k = odd_kpis
    assert (k["unassigned"], k["pharmacists_unassigned"]) == (1, 1)
    assert k["unassigned_by_reason"] == {"every eligible placement is full": 1}
    assert (k["pharmacists"], k["pharmacists_placed"]) == (3, 1)


def test_fill_and_shortfall_by_place_with_fallbacks(odd_kpis: dict[str, Any]) -> None:
    # A (North): 4 seats, held once (R2), min_fill 2 per period -> shortfall 2 + 1.
    # B takes ORG-E's place (East); C has no place.
    assert odd_kpis["by_place"] == {
        "(no place)": {"seats": 2, "filled": 0, "unfilled": 2, "min_fill": 0,
                       "shortfall": 0, "fill": 0.0},
        "East": {"seats": 1, "filled": 1, "unfilled": 0, "min_fill": 0, "shortfall": 0,
                 "fill": 1.0},
        "North": {"seats": 4, "filled": 1, "unfilled": 3, "min_fill": 4, "shortfall": 3,
                  "fill": 0.25},
    }
    assert odd_kpis["shortfall"] == 3
    assert odd_kpis["hard_to_recruit_by_level"]["3"] == {"seats": 4, "filled": 1,
                                                         "fill": 0.25}
    # Seat weights: A 4 x 100, C 2 x 50; filled: one seat of A.
    assert odd_kpis["population_health_fill"] == 0.2


def test_travel_override_history_and_leave(odd_kpis: dict[str, Any]) -> None:
    k = odd_kpis
    # B is 1 km from P1's home; A's travel is the override 7.
    assert (k["mean_travel"], k["p90_travel"], k["max_travel"]) == (4.0, 7, 7)
    # P1 covers C (history), B and A; P2 nothing; P3 is never available and left out.
    assert k["sector_coverage"] == {"0": 1, "3": 1}
    assert (k["sectors_mean"], k["sectors_min"]) == (1.5, 0)
    assert (k["worst_off_points"], k["points_max"], k["points_spread"]) == (0, 19, 19)
    assert (k["first_choice"], k["top_3"], k["unranked"]) == (1, 2, 0)


def test_empty_allocation_is_all_zeros(tiny: Round) -> None:
    k = kpis.compute(tiny, [])
    assert (k["assignments"], k["first_choice_share"], k["mean_travel"], k["fill"]) == (
        0, 0.0, 0.0, 0.0)
    assert k["worst_off_points"] == 0


def test_tables_detail(tiny: Round) -> None:
    t = kpis.tables(tiny, TINY_OPTIMUM)
    ph1 = t.pharmacists.set_index("pharmacist").loc["PH-1"]
    assert (ph1["assignments"], ph1["preference_points"], ph1["sectors_covered"]) == (2, 0, 2)
    gp_a = t.placements.set_index(["placement", "period"]).loc[("GP-A", "P2")]
    assert gp_a["holders"] == ("PH-2",)
    assert len(t.assignments) == 5
    assert t.assignments["travel"].sum() == 12


def test_result_kpis_come_from_this_module(tiny: Round) -> None:
    result = solve(tiny, SolveParams(time_limit_s=20, workers=1))
    assert result.status == "optimal"
    k = result.kpis
    expected = kpis.compute(tiny, result.allocation, result.unassigned)
    for key, value in expected.items():
        assert k[key] == value, key
    assert k["objective_parts"]["total"] == 778
    # The keys Result.summary() reads are still there.
    for key in ("assignments", "unassigned", "first_choice", "top_3",
                "hard_to_recruit_filled", "shortfall"):
        assert key in k
    assert "2 first choices, 3 in the top 3, 4 hard-to-recruit seats filled" in (
        result.summary())


def test_place_of_falls_back() -> None:
    rnd = odd_round()
    assert [kpis.place_of(rnd, x) for x in ("A", "B", "C")] == ["North", "East",
                                                               kpis.NO_PLACE]
