"""Scenarios: every override applies as documented, never mutates the base, validates the
result, names the override at fault, and round-trips through JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from matcher.domain import Round
from matcher.errors import InvalidRoundError
from matcher.validation import parse_round
from matcher.whatif import (
    OVERRIDE_MODELS,
    OVERRIDE_OPS,
    ClosePlacement,
    Scenario,
    SetReference,
    SetWeights,
    apply_overrides,
    parse_overrides,
)


def _round_data() -> dict[str, Any]:
    return {
        "format": "spin-round/1",
        "round": {"id": "four-by-three"},
        "periods": [{"id": "R1"}, {"id": "R2"}, {"id": "R3"}],
        "placements": [
            {"id": "GP-1", "sector": "general_practice", "location": {"lat": 51.5, "lon": 0.0},
             "capacity": 1, "min_fill": 1},
            {"id": "CP-1", "sector": "community_pharmacy",
             "location": {"lat": 51.51, "lon": 0.0}, "capacity": 1},
            {"id": "HOSP-1", "sector": "hospital", "location": {"lat": 51.52, "lon": 0.0},
             "capacity": {"R1": 1, "R2": 2}},
            {"id": "MH-1", "sector": "mental_health", "location": {"lat": 51.5, "lon": 0.01},
             "capacity": 1},
        ],
        "supervisors": [{"id": "SUP-1", "placements": ["HOSP-1", "MH-1"], "capacity": 2}],
        "pharmacists": [
            {"id": "PH-1", "home": {"lat": 51.5, "lon": 0.0},
             "preferences": ["HOSP-1", "GP-1"]},
            {"id": "PH-2", "home": {"lat": 51.5, "lon": 0.0}, "history": ["CP-1"],
             "preferences": ["GP-1", "HOSP-1", "MH-1"]},
            {"id": "PH-3", "home": {"lat": 51.5, "lon": 0.0}, "preferences": ["MH-1"]},
        ],
        "pins": [{"pharmacist": "PH-3", "period": "R1", "placement": "MH-1"}],
        "bans": [{"pharmacist": "PH-1", "placement": "HOSP-1", "period": "R3"}],
        "travel": [{"pharmacist": "PH-1", "placement": "HOSP-1", "cost": 3}],
        "reference": [{"pharmacist": "PH-1", "period": "R1", "placement": "HOSP-1"}],
    }


@pytest.fixture
def base() -> Round:
    """Four placements (one per sector), three pharmacists, three periods: every list the
    overrides touch (supervisors, history, pins, bans, travel, reference) has an entry."""
    return parse_round(_round_data())


def _problems(exc: pytest.ExceptionInfo[InvalidRoundError]) -> list[tuple[int | None, str]]:
    return [(p.index, p.message) for p in exc.value.problems]


# ---- applying -----------------------------------------------------------------------------


def test_the_base_is_never_mutated(base: Round) -> None:
    before = base.to_data()
    Scenario("all", base, [
        {"op": "set_weights", "weights": {"hard_to_recruit": 60}},
        {"op": "close_placement", "placement": "HOSP-1", "from_period": "R2"},
        {"op": "update_placement", "placement": "MH-1", "fields": {"hard_to_recruit": 3}},
        {"op": "set_unavailable", "pharmacist": "PH-2", "from_period": "R3"},
        {"op": "remove_pharmacist", "pharmacist": "PH-1"},
    ]).apply()
    assert base.to_data() == before


def test_no_overrides_gives_the_base_itself(base: Round) -> None:
    assert Scenario("same", base).apply() is base


@pytest.mark.parametrize(("override", "check"), [
    ({"op": "set_weights", "weights": {"hard_to_recruit": 60, "change": 5}},
     lambda r: (r.weights.hard_to_recruit, r.weights.change, r.weights.preference)
     == (60, 5, 10)),
    ({"op": "set_rules", "rules": {"min_distinct_sectors": 2}},
     lambda r: r.rules.min_distinct_sectors == 2 and r.rules.allow_unassigned),
    ({"op": "add_placement", "placement": {"id": "ICB-1", "sector": "integrated_care",
                                            "location": {"lat": 51.5, "lon": 0.0},
                                            "capacity": 2}},
     lambda r: r.capacity("ICB-1", "R3") == 2 and len(r.placements) == 5),
    ({"op": "close_placement", "placement": "GP-1", "from_period": "R2"},
     lambda r: [r.capacity("GP-1", t) for t in r.period_ids] == [1, 0, 0]
     and [r.placement("GP-1").min_fill_in(t) for t in r.period_ids] == [1, 0, 0]),
    ({"op": "close_placement", "placement": "CP-1"},
     lambda r: [r.capacity("CP-1", t) for t in r.period_ids] == [0, 0, 0]),
    ({"op": "set_capacity", "placement": "CP-1", "capacity": 3},
     lambda r: r.placement("CP-1").capacity == 3),
    ({"op": "set_capacity", "placement": "HOSP-1", "capacity": 4, "period": "R3"},
     lambda r: r.placement("HOSP-1").capacity == {"R1": 1, "R2": 2, "R3": 4}),
    ({"op": "update_placement", "placement": "MH-1", "fields": {"hard_to_recruit": 3}},
     lambda r: r.placement("MH-1").hard_to_recruit == 3),
    ({"op": "add_pharmacist", "pharmacist": {"id": "PH-4", "home": {"lat": 51.5, "lon": 0},
                                              "preferences": ["CP-1"]}},
     lambda r: r.pharmacist("PH-4").preferences == ("CP-1",)),
    ({"op": "remove_pharmacist", "pharmacist": "PH-1"},
     lambda r: "PH-1" not in r.pharmacist_index and not r.bans and not r.travel
     and not r.reference),
    ({"op": "update_pharmacist", "pharmacist": "PH-3", "fields": {"max_travel_km": 5}},
     lambda r: r.pharmacist("PH-3").max_travel_km == 5),
    ({"op": "set_unavailable", "pharmacist": "PH-2", "periods": ["R3", "R2"]},
     lambda r: r.pharmacist("PH-2").unavailable == ("R2", "R3")),
    ({"op": "set_unavailable", "pharmacist": "PH-2", "from_period": "R2"},
     lambda r: r.pharmacist("PH-2").unavailable == ("R2", "R3")),
    ({"op": "pin", "pharmacist": "PH-1", "period": "R2", "placement": "GP-1"},
     lambda r: len(r.pins) == 2 and r.pins[-1].placement == "GP-1"),
    ({"op": "unpin", "pharmacist": "PH-3"}, lambda r: not r.pins),
    ({"op": "ban", "pharmacist": "PH-2", "placement": "MH-1"},
     lambda r: len(r.bans) == 2 and r.bans[-1].period is None),
    ({"op": "unban", "pharmacist": "PH-1", "placement": "HOSP-1"}, lambda r: not r.bans),
    ({"op": "set_reference", "assignments": [
        {"pharmacist": "PH-2", "period": "R1", "placement": "GP-1", "stream": "rotation",
         "score": 9, "terms": {"preference": 9}}]},
     lambda r: [(a.pharmacist, a.placement) for a in r.reference] == [("PH-2", "GP-1")]),
    ({"op": "set_reference", "assignments": []}, lambda r: not r.reference),
], ids=lambda v: v["op"] if isinstance(v, dict) else "")
def test_each_override_applies(base: Round, override: dict[str, Any], check: Any) -> None:
    changed = Scenario("one", base, [override]).apply()
    assert check(changed)
    assert changed != base


def test_every_op_is_documented_and_covered() -> None:
    assert set(OVERRIDE_OPS) == set(OVERRIDE_MODELS)
    for model in OVERRIDE_MODELS.values():
        assert model.__doc__
        for name, info in model.model_fields.items():
            assert name == "op" or info.description, f"{model.__name__}.{name}"


def test_remove_placement_withdraws_it_everywhere(base: Round) -> None:
    changed = Scenario("no-hosp", base, [
        {"op": "unban", "pharmacist": "PH-1", "placement": "HOSP-1", "period": "R3"},
        {"op": "ban", "pharmacist": "PH-2", "placement": "HOSP-1"},
        {"op": "remove_placement", "placement": "HOSP-1"},
    ]).apply()
    assert "HOSP-1" not in changed.placement_index
    assert changed.pharmacist("PH-1").preferences == ("GP-1",)  # GP-1 is now first
    assert changed.pharmacist("PH-2").preferences == ("GP-1", "MH-1")
    assert changed.supervisors[0].placements == ("MH-1",)
    assert not changed.bans
    assert not changed.travel
    assert not changed.reference


def test_removing_a_pinned_or_done_placement_is_an_error_naming_the_override(
    base: Round,
) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        Scenario("x", base, [
            {"op": "set_weights", "weights": {"travel": 2}},
            {"op": "remove_placement", "placement": "MH-1"},
            {"op": "remove_placement", "placement": "CP-1"},
        ]).apply()
    problems = exc.value.problems
    assert [(p.list, p.index, p.code) for p in problems] == [
        ("overrides", 1, "pinned"), ("overrides", 2, "in_history")]
    assert problems[0].message.startswith("remove_placement MH-1: MH-1 is pinned for PH-3 in R1")
    assert "unpin" in problems[0].message
    assert "history of PH-2" in problems[1].message
    assert "close_placement" in problems[1].message
    assert str(exc.value).splitlines()[1].startswith("  - overrides[#2].placement: ")


def test_unpin_then_remove_is_fine(base: Round) -> None:
    changed = Scenario("x", base, [{"op": "unpin", "pharmacist": "PH-3", "period": "R1"},
                                   {"op": "remove_placement", "placement": "MH-1"}]).apply()
    assert not changed.pins


# ---- errors name the override at fault ----------------------------------------------------


def test_unknown_ids_name_the_override_and_field(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [
            {"op": "close_placement", "placement": "GP-9", "from_period": "R2"},
            {"op": "set_weights", "weights": {"hard_to_recruit": 60}},
            {"op": "close_placement", "placement": "GP-1", "from_period": "R7"},
            {"op": "set_unavailable", "pharmacist": "PH-9", "periods": ["R1"]},
            {"op": "set_weights", "weights": {"speed": 1}},
            {"op": "unpin", "pharmacist": "PH-1"},
        ])
    got = [(p.index, p.field, p.code) for p in exc.value.problems]
    assert got == [
        (0, "placement", "unknown_reference"),
        (2, "from_period", "unknown_reference"),
        (3, "pharmacist", "unknown_reference"),
        (4, "weights.speed", "unknown_field"),
        (5, None, "no_match"),
    ]
    messages = [p.message for p in exc.value.problems]
    assert messages[0] == "close_placement GP-9 from R2: unknown placement id 'GP-9'"
    assert "the periods are: R1, R2, R3" in messages[1]


def test_malformed_overrides_are_all_reported_at_construction(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        Scenario("x", base, [
            {"op": "close_placement"},
            {"op": "explode"},
            {"placement": "GP-1"},
            {"op": "set_weights", "weights": {"travel": -1}},
            {"op": "pin", "pharmacist": "PH-1", "period": "R1", "placement": "GP-1",
             "extra": 1},
            "set_weights",
        ])
    got = [(p.index, p.field, p.code) for p in exc.value.problems]
    assert got == [
        (0, "placement", "missing"),
        (1, "op", "unknown_op"),
        (2, "op", "unknown_op"),
        (3, "weights.travel", "greater_than_equal"),
        (4, "extra", "extra_forbidden"),
        (5, "op", "unknown_op"),
    ]
    assert "unknown op 'explode'; the ops are: set_weights" in exc.value.problems[1].message
    assert exc.value.problems[2].message.startswith("'op' is missing")


def test_a_round_left_invalid_blames_the_override_that_broke_it(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [
            {"op": "set_weights", "weights": {"travel": 2}},
            {"op": "set_unavailable", "pharmacist": "PH-3", "periods": ["R1"]},  # pinned
            {"op": "ban", "pharmacist": "PH-1", "placement": "GP-1"},
            {"op": "pin", "pharmacist": "PH-1", "period": "R3", "placement": "HOSP-1"},  # banned
        ])
    got = [(p.index, p.code) for p in exc.value.problems]
    assert got == [(1, "pin_unavailable"), (3, "pin_banned"), (3, "pin_ineligible")]
    first = exc.value.problems[0].message
    assert first.startswith("set_unavailable PH-3 R1: pins[#1]: PH-3 is pinned to MH-1")
    assert exc.value.problems[1].message.startswith(
        "pin PH-1 to HOSP-1 in R3: pins[#2]: PH-1 is pinned to HOSP-1 in R3 but is also banned")


def test_validation_layers_hold_for_scenarios_too(base: Round) -> None:
    """As for any round, pin checks wait until the records themselves are valid."""
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [
            {"op": "set_unavailable", "pharmacist": "PH-3", "periods": ["R1"]},
            {"op": "set_rules", "rules": {"max_preferences": 2}},  # PH-2 ranks 3
        ])
    assert [(p.index, p.code) for p in exc.value.problems] == [(1, "too_many_preferences")]
    assert exc.value.problems[0].message.startswith(
        "set_rules max_preferences=2: pharmacists[PH-2].preferences: ranks 3 placements")


def test_a_record_left_invalid_blames_the_override(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [
            {"op": "update_placement", "placement": "MH-1", "fields": {"hard_to_recruit": 9}}])
    assert [(p.index, p.code) for p in exc.value.problems] == [(0, "less_than_equal")]
    assert exc.value.problems[0].message == (
        "update_placement MH-1 hard_to_recruit: placements[MH-1].hard_to_recruit: must be at "
        "most 3")


def test_a_later_override_can_fix_what_an_earlier_one_broke(base: Round) -> None:
    changed = apply_overrides(base, [
        {"op": "close_placement", "placement": "MH-1"},  # breaks the pin of PH-3 ...
        {"op": "unpin", "pharmacist": "PH-3"},            # ... which goes here
    ])
    assert not changed.pins


def test_set_capacity_with_a_period_needs_a_whole_number(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [{"op": "set_capacity", "placement": "GP-1",
                                "capacity": {"R1": 2}, "period": "R1"}])
    assert [(p.index, p.field) for p in exc.value.problems] == [(0, "capacity")]


def test_changing_an_id_is_refused(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [{"op": "update_pharmacist", "pharmacist": "PH-1",
                                "fields": {"id": "PH-9"}}])
    assert exc.value.problems[0].field == "fields.id"


def test_adding_an_existing_id_is_refused(base: Round) -> None:
    with pytest.raises(InvalidRoundError) as exc:
        apply_overrides(base, [{"op": "add_placement", "placement": {
            "id": "GP-1", "sector": "hospital", "location": {"lat": 51.5, "lon": 0.0},
            "capacity": 1}}])
    assert exc.value.problems[0].code == "duplicate_id"


# ---- data, JSON and replace-style variants ------------------------------------------------


def test_scenario_round_trips_through_json(base: Round) -> None:
    scenario = Scenario("busy", base, [
        {"op": "set_weights", "weights": {"hard_to_recruit": 60}},
        ClosePlacement(placement="HOSP-1", from_period="R2"),
        {"op": "ban", "pharmacist": "PH-2", "placement": "MH-1", "period": "R2"},
        {"op": "add_pharmacist", "pharmacist": {"id": "PH-4", "home": {"lat": 51.5, "lon": 0}}},
    ])
    text = json.dumps(scenario.to_dict())
    again = Scenario.from_dict(json.loads(text))
    assert again == scenario
    assert again.apply() == scenario.apply()
    light = scenario.to_dict(include_base=False)
    assert "base" not in light
    assert Scenario.from_dict(light, base=base) == scenario
    assert [o["op"] for o in light["overrides"]] == [
        "set_weights", "close_placement", "ban", "add_pharmacist"]


def test_overrides_parse_from_their_own_dicts() -> None:
    ops = parse_overrides([{"op": "set_weights", "weights": {"travel": 3}},
                           {"op": "set_unavailable", "pharmacist": "PH-1", "periods": ["R2"]}])
    assert parse_overrides([op.to_dict() for op in ops]) == ops
    assert ops[0] == SetWeights(weights={"travel": 3})


def test_with_overrides_makes_a_new_scenario(base: Round) -> None:
    first = Scenario("a", base, [{"op": "set_weights", "weights": {"travel": 3}}])
    second = first.with_overrides({"op": "close_placement", "placement": "GP-1"}, name="b")
    assert len(first.overrides) == 1
    assert first.name == "a"
    assert second.name == "b"
    assert len(second.overrides) == 2
    assert second.describe() == ["set_weights travel=3", "close_placement GP-1"]
    assert first.replace(name="c").overrides == first.overrides
    with pytest.raises(AttributeError):
        first.name = "z"  # type: ignore[misc]


def test_set_reference_from_a_result(base: Round) -> None:
    from matcher.solving import SolveParams, solve

    result = solve(base, SolveParams(workers=1, time_limit_s=10))
    changed = Scenario("ref", base, [SetReference.of(result)]).apply()
    assert [(a.pharmacist, a.period, a.placement) for a in changed.reference] == [
        tuple(a) for a in (
            (x.pharmacist, x.period, x.placement) for x in result.assignments)]


def test_a_scenario_needs_a_name(base: Round) -> None:
    with pytest.raises(ValueError, match="name"):
        Scenario("", base)
