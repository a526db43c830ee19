"""Eligibility (spec §2): the vectorised candidate list against the per-triple reasons."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from matcher.domain import Round
from matcher.eligibility import candidates, ineligibility_reasons, pair_travel
from matcher.geo import great_circle_km, travel_km, travel_km_one
from matcher.synthetic import generate_round
from matcher.validation import parse_round


def triples(rnd: Round) -> set[tuple[str, str, str]]:
    c = candidates(rnd)
    return {
        (rnd.pharmacists[p].id, rnd.placements[j].id, rnd.period_ids[t])
        for p, j, t in zip(c.pharmacist.tolist(), c.placement.tolist(), c.period.tolist(),
                           strict=True)
    }


def scalar_triples(rnd: Round) -> set[tuple[str, str, str]]:
    return {
        (p.id, pl.id, t)
        for p, pl, t in itertools.product(rnd.pharmacists, rnd.placements, rnd.period_ids)
        if not ineligibility_reasons(rnd, p.id, pl.id, t)
    }


def round_with(**changes: Any) -> Round:
    """One pharmacist at the origin; placements east along the equator, 1 km apart-ish."""
    data: dict[str, Any] = {
        "format": "spin-round/1",
        "periods": [{"id": "R1"}, {"id": "R2"}, {"id": "R3"}],
        "streams": [{"id": "practice", "rotate": False}, {"id": "host"}],
        "placements": [
            {"id": "GP", "stream": "practice", "sector": "general_practice",
             "location": {"lat": 0.0, "lon": 0.05}, "capacity": 1},
            {"id": "H", "stream": "host", "sector": "hospital",
             "location": {"lat": 0.0, "lon": 0.10}, "capacity": {"R1": 1, "R3": 2},
             "requires": {"skills": ["aseptics"], "min_experience_years": 2}},
            {"id": "MH", "stream": "host", "sector": "mental_health",
             "location": {"lat": 0.0, "lon": 0.30}, "capacity": 1,
             "requires": {"independent_prescriber": True}},
        ],
        "pharmacists": [
            {"id": "A", "home": {"lat": 0.0, "lon": 0.0}, "skills": ["aseptics"],
             "experience_years": 3, "independent_prescriber": True, "max_travel_km": 25},
            {"id": "B", "home": {"lat": 0.0, "lon": 0.0}, "experience_years": 1,
             "unavailable": ["R2"]},
        ],
        "rules": {"max_travel_km": 20},
    }
    for key, value in changes.items():
        data[key] = value
    return parse_round(data)


def test_travel_is_rounded_great_circle_km() -> None:
    # One degree of longitude on the equator is 2*pi*6371/360 = 111.19 km.
    assert travel_km_one(0, 0, 0, 1) == 111
    assert float(great_circle_km(0, 0, 0, 1)) == pytest.approx(111.1949, abs=1e-4)
    # Halves round up: find a distance of exactly x.5 km along the equator.
    half = 0.5 / (2 * np.pi * 6371.0 / 360)
    assert travel_km_one(0, 0, 0, half * 1.000001) == 1
    assert travel_km(np.array([0.0, 51.5]), np.array([0.0, -0.1]), 51.5, -0.1).tolist() == [
        5727, 0]


def test_candidates_match_rules_by_hand() -> None:
    rnd = round_with()
    # GP 5.6 km, H 11.1 km, MH 33.4 km (beyond both limits).
    assert pair_travel(rnd, "A", "MH") == 33
    assert triples(rnd) == {
        ("A", "GP", "R1"), ("A", "GP", "R2"), ("A", "GP", "R3"),
        ("A", "H", "R1"), ("A", "H", "R3"),  # H has no capacity in R2
        ("B", "GP", "R1"), ("B", "GP", "R3"),  # B is away in R2; H needs skill + 2 years
    }


def test_travel_override_replaces_distance_both_ways() -> None:
    rnd = round_with(travel=[{"pharmacist": "A", "placement": "MH", "cost": 18},
                             {"pharmacist": "A", "placement": "GP", "cost": 26}])
    got = triples(rnd)
    assert ("A", "MH", "R1") in got
    assert not any(p == "A" and pl == "GP" for p, pl, _ in got)
    c = candidates(rnd)
    mh = rnd.placement_index["MH"]
    assert set(c.travel[c.placement == mh].tolist()) == {18}


def test_bans_history_and_streams() -> None:
    base = round_with()
    pharmacists = [p.model_dump() for p in base.pharmacists]
    pharmacists[0]["history"] = ["H", "GP"]
    rnd = round_with(pharmacists=pharmacists,
                     bans=[{"pharmacist": "B", "placement": "GP", "period": "R3"}])
    got = triples(rnd)
    # H rotates and is in A's history: out. GP's stream keeps continuity: history is no bar.
    assert not any(p == "A" and pl == "H" for p, pl, _ in got)
    assert ("A", "GP", "R1") in got
    assert ("B", "GP", "R3") not in got
    assert ("B", "GP", "R1") in got
    reasons = ineligibility_reasons(rnd, "B", "GP", "R3")
    assert [r.message for r in reasons] == ["B is banned from GP in R3"]


def test_reasons_list_every_failing_rule() -> None:
    rnd = round_with()
    got = [(r.rule, r.message) for r in ineligibility_reasons(rnd, "B", "MH", "R2")]
    assert got == [
        ("unavailable", "B is unavailable in R2"),
        ("travel", "MH is 33 km from B's home, beyond their limit of 20 km"),
        ("prescriber", "MH requires an independent prescriber"),
    ]
    got = [r.message for r in ineligibility_reasons(rnd, "B", "H", "R2")]
    assert got == [
        "B is unavailable in R2",
        "H has no capacity in R2",
        "H requires 2 years' experience; B has 1",
        "H requires skill(s) aseptics that B does not have",
    ]


def test_no_travel_limit_means_anywhere() -> None:
    rnd = round_with(rules={})
    pharmacists = [p.model_dump() for p in rnd.pharmacists]
    pharmacists[0]["max_travel_km"] = None
    rnd = round_with(rules={}, pharmacists=pharmacists)
    assert ("A", "MH", "R1") in triples(rnd)


def test_candidates_sorted_and_streams_indexed() -> None:
    rnd = round_with()
    c = candidates(rnd)
    keys = list(zip(c.pharmacist.tolist(), c.placement.tolist(), c.period.tolist(), strict=True))
    assert keys == sorted(keys)
    assert c.stream.tolist() == [rnd.stream_index[rnd.stream_of(rnd.placements[j]).id]
                                 for j in c.placement.tolist()]
    pp, pl, tr = c.pairs
    assert len(pp) == len(set(zip(pp.tolist(), pl.tolist(), strict=True)))
    assert tr.tolist() == [pair_travel(rnd, rnd.pharmacists[p].id, rnd.placements[j].id)
                           for p, j in zip(pp.tolist(), pl.tolist(), strict=True)]


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_equals_scalar_on_generated_rounds(seed: int) -> None:
    rnd = generate_round(40, 50, 3, seed=seed)
    assert triples(rnd) == scalar_triples(rnd)
