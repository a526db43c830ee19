"""The serial-priority baseline (matcher.baseline): allocations known by hand, checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matcher import checker
from matcher.allocation import Assignment
from matcher.baseline import BASELINE_REASONS, priority_order, serial_priority
from matcher.domain import Round
from matcher.formats import load_round

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
HERE = {"lat": 51.5, "lon": 0.0}


def place(id_: str, sector: str = "hospital", km: int = 0, **extra: Any) -> dict[str, Any]:
    """A placement ``km`` whole km north of HERE (0.009 degrees is 1.0008 km)."""
    return {"id": id_, "sector": sector, "capacity": 1,
            "location": {"lat": 51.5 + 0.009 * km, "lon": 0.0}, **extra}


def make(placements: list[dict[str, Any]], pharmacists: list[dict[str, Any]],
         periods: int = 1, **extra: Any) -> Round:
    return Round.model_validate({
        "format": "spin-round/1",
        "periods": [{"id": f"R{i + 1}"} for i in range(periods)],
        "placements": placements,
        "pharmacists": [{"home": HERE, **p} for p in pharmacists],
        **extra,
    })


def held(b: Any) -> set[tuple[str, str, str]]:
    return {(a.pharmacist, a.period, a.placement) for a in b.assignments}


def test_tiny_outcome_is_known() -> None:
    """Listed order: PH-1 takes its first choice HOSP-C in P1, PH-2 (GP-A banned in P1)
    its second CP-D, PH-3 its first GP-B; in P2 PH-1 needs general practice and takes
    GP-B, PH-2 takes GP-A. CP-D is empty in P2: a shortfall of 1 (1000 points)."""
    b = serial_priority(load_round(SAMPLES / "tiny.json"))
    assert held(b) == {("PH-1", "P1", "HOSP-C"), ("PH-2", "P1", "CP-D"),
                       ("PH-3", "P1", "GP-B"), ("PH-1", "P2", "GP-B"),
                       ("PH-2", "P2", "GP-A")}
    assert b.feasible
    assert b.objective == 147 + 125 + 177 + 235 + 138 - 1000 == -178
    assert b.kpis["shortfall"] == 1
    assert (b.kpis["first_choice"], b.kpis["top_3"]) == (3, 5)
    assert [a.score for a in b.assignments if a.pharmacist == "PH-1"] == [147, 125]
    assert b.unassigned == ()


def test_order_decides_who_gets_the_contested_seat() -> None:
    rnd = make([place("A"), place("B")],
               [{"id": "P1", "preferences": ["A", "B"]}, {"id": "P2", "preferences": ["A"]}])
    assert held(serial_priority(rnd)) == {("P1", "R1", "A"), ("P2", "R1", "B")}
    assert held(serial_priority(rnd, order=["P2"])) == {("P2", "R1", "A"), ("P1", "R1", "B")}
    assert priority_order(rnd, "id") == ("P1", "P2")
    assert priority_order(rnd, "random", seed=3) == priority_order(rnd, "random", seed=3)
    with pytest.raises(ValueError, match="unknown order"):
        serial_priority(rnd, order="alphabetical")
    with pytest.raises(ValueError, match="unknown pharmacist"):
        serial_priority(rnd, order=["P9"])


def test_pins_are_booked_before_anyone_chooses() -> None:
    """P1 is pinned to B; P2, who ranks B first, has to take A."""
    rnd = make([place("A"), place("B")],
               [{"id": "P1", "preferences": ["A"]}, {"id": "P2", "preferences": ["B", "A"]}],
               pins=[{"pharmacist": "P1", "period": "R1", "placement": "B"}])
    assert held(serial_priority(rnd)) == {("P1", "R1", "B"), ("P2", "R1", "A")}


def test_look_ahead_keeps_the_sector_rules() -> None:
    """P1 ranks two hospitals first; with two periods and general practice required, a
    plain greedy would take both and break the rule. The look-ahead takes one, then GP."""
    rnd = make([place("H1"), place("H2"), place("GP", "general_practice", km=5)],
               [{"id": "P1", "preferences": ["H1", "H2"]}], periods=2,
               rules={"min_distinct_sectors": 2, "required_sectors": ["general_practice"]})
    b = serial_priority(rnd)
    assert held(b) == {("P1", "R1", "H1"), ("P1", "R2", "GP")}
    assert b.feasible


def test_clearing_offers_the_nearest_placement_left() -> None:
    rnd = make([place("FAR", km=9), place("NEAR", km=2), place("A")],
               [{"id": "P1", "preferences": ["A"]}, {"id": "P2", "preferences": ["A"]}])
    assert held(serial_priority(rnd)) == {("P1", "R1", "A"), ("P2", "R1", "NEAR")}


def test_non_rotating_stream_is_a_whole_programme_offer() -> None:
    """P1 takes practice X for both periods; P2 would like X in R2 too but it is booked."""
    rnd = make([place("X", "general_practice", stream="practice"),
                place("Y", "general_practice", stream="practice", km=3)],
               [{"id": "P1", "preferences": ["X"]},
                {"id": "P2", "preferences": ["X"], "unavailable": ["R1"]}],
               periods=2, streams=[{"id": "practice", "rotate": False}])
    b = serial_priority(rnd)
    assert held(b) == {("P1", "R1", "X"), ("P1", "R2", "X"), ("P2", "R2", "Y")}
    assert b.feasible


def test_empty_slots_say_why() -> None:
    """FAR is beyond everyone's 10 km: P1 takes A, P2 finds it full, P3 (who lives 11 km
    south) reaches nothing."""
    rnd = make([place("A"), place("FAR", km=30)],
               [{"id": "P1", "preferences": ["A"]}, {"id": "P2", "preferences": ["A"]},
                {"id": "P3", "home": {"lat": 51.4, "lon": 0.0}}],
               rules={"max_travel_km": 10})
    b = serial_priority(rnd)
    reasons = {u.pharmacist: u.reason for u in b.unassigned}
    assert reasons == {"P2": BASELINE_REASONS["capacity"],
                       "P3": BASELINE_REASONS["no_eligible"]}
    assert b.kpis["unassigned_by_reason"] == {BASELINE_REASONS["capacity"]: 1,
                                              BASELINE_REASONS["no_eligible"]: 1}


@pytest.mark.parametrize("sample", ["tiny.json", "single-stream.json", "nel-2027-c1.json"])
def test_baseline_of_every_feasible_sample_keeps_every_rule(sample: str) -> None:
    rnd = load_round(SAMPLES / sample)
    for order in ("listed", "random"):
        b = serial_priority(rnd, order=order, seed=1)
        assert b.violations == ()
        assert checker.violations(rnd, b.allocation) == []
        assert b.objective == checker.objective(rnd, b.allocation).total
        assert all(Assignment(p.pharmacist, p.period, p.placement) in set(b.allocation)
                   for p in rnd.pins)


def test_broken_rules_are_reported_not_hidden() -> None:
    """On the infeasible sample no allocation keeps every rule; the baseline says which."""
    b = serial_priority(load_round(SAMPLES / "infeasible.json"))
    assert not b.feasible
    rules = {v.rule for v in b.violations}
    assert "allow_unassigned" in rules
    assert b.to_dict()["violations"]
