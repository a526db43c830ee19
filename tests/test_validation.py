"""Every validation rule: a bad input, the problem it produces, and where it points."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.synthetic import generate_round
from matcher.validation import parse_round, round_warnings, validate, with_changes


def base() -> dict[str, Any]:
    """Two periods, two streams, three placements, two pharmacists: small but complete."""
    return {
        "format": "spin-round/1",
        "round": {"id": "t1"},
        "periods": [{"id": "R1"}, {"id": "R2"}],
        "streams": [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}],
        "organisations": [{"id": "PCN-1", "max_pharmacists": 2}, {"id": "TRUST-1"}],
        "placements": [
            {"id": "GP-1", "organisation": "PCN-1", "stream": "practice",
             "sector": "general_practice", "location": {"lat": 51.50, "lon": 0.00},
             "capacity": 2},
            {"id": "HOSP-1", "organisation": "TRUST-1", "stream": "host", "sector": "hospital",
             "location": {"lat": 51.52, "lon": 0.02}, "capacity": {"R1": 1, "R2": 1},
             "requires": {"independent_prescriber": True}},
            {"id": "CP-1", "stream": "host", "sector": "community_pharmacy",
             "location": {"lat": 51.51, "lon": 0.01}, "capacity": 2},
        ],
        "supervisors": [{"id": "DPP-1", "placements": ["HOSP-1"], "capacity": 1}],
        "pharmacists": [
            {"id": "PH-1", "name": "Zelda Quux", "home": {"lat": 51.505, "lon": 0.005},
             "independent_prescriber": True, "preferences": ["HOSP-1", "GP-1"]},
            {"id": "PH-2", "name": "Yannick Plover", "home": {"lat": 51.51, "lon": 0.0},
             "history": ["CP-1"], "unavailable": ["R2"]},
        ],
        "pins": [{"pharmacist": "PH-1", "period": "R1", "placement": "HOSP-1"}],
        "bans": [{"pharmacist": "PH-2", "placement": "GP-1", "period": "R2"}],
        "travel": [{"pharmacist": "PH-1", "placement": "CP-1", "cost": 4}],
        "rules": {"max_travel_km": 20},
    }


def problems_of(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InvalidRoundError) as info:
        parse_round(data)
    return info.value.problems


def only(data: dict[str, Any]) -> Problem:
    found = problems_of(data)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_base_is_valid_and_defaults_apply() -> None:
    rnd = parse_round(base())
    assert isinstance(rnd, Round)
    assert rnd.weights.unassigned == 10000
    assert rnd.weights.change == 0
    assert rnd.rules.max_preferences == 10
    assert rnd.rules.allow_unassigned is True
    assert rnd.placement("GP-1").min_fill == 0
    assert rnd.placement("HOSP-1").capacity_in("R2") == 1
    assert rnd.pharmacist("PH-2").max_travel_km is None
    assert rnd.max_travel(rnd.pharmacist("PH-2")) == 20


def test_wrong_format() -> None:
    data = base()
    data["format"] = "spin-round/2"
    p = only(data)
    assert p.code == "format"
    assert p.message == "'format' is 'spin-round/2' but must be \"spin-round/1\""


def test_missing_format() -> None:
    data = base()
    del data["format"]
    assert only(data).message == "'format' is missing; it must be \"spin-round/1\""


def test_not_an_object() -> None:
    with pytest.raises(InvalidRoundError) as info:
        parse_round([1, 2])
    assert "must be a JSON object" in info.value.problems[0].message


def test_unknown_section_and_field() -> None:
    data = base()
    data["extras"] = {}
    data["pharmacists"][0]["nickname"] = "Z"
    found = problems_of(data)
    assert [p.where for p in found] == ["round.extras", "pharmacists[PH-1].nickname"]
    assert found[0].message.startswith("unknown section 'extras'")
    assert found[1].message.startswith("unknown field 'nickname'; allowed fields are: id, name")


@pytest.mark.parametrize("name", ["periods", "placements", "pharmacists"])
def test_required_lists(name: str) -> None:
    data = base()
    del data[name]
    data.pop("pins")
    data.pop("bans")
    data.pop("travel")
    data.pop("supervisors")
    found = [p for p in problems_of(data) if p.code == "missing"]
    assert len(found) == 1
    assert found[0].list == name
    assert found[0].message.startswith(f"'{name}' is required")


@pytest.mark.parametrize("name", ["periods", "streams", "organisations", "placements",
                                  "supervisors", "pharmacists"])
def test_duplicate_ids(name: str) -> None:
    data = base()
    data[name].append(copy.deepcopy(data[name][0]))
    dup = [p for p in problems_of(data) if p.code == "duplicate_id"]
    assert len(dup) == 1
    rid = data[name][0]["id"]
    last = len(data[name])
    assert dup[0].message == (f"id {rid!r} appears 2 times: entries #1 and #{last}; each "
                              f"{name.removesuffix('s')} needs its own id")
    assert dup[0].where == f"{name}[{rid}].id"


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        (("placements", 0, "organisation"), "PCN-9", "placements[GP-1].organisation",
         "unknown organisation id 'PCN-9'"),
        (("placements", 0, "stream"), "weekend", "placements[GP-1].stream",
         "unknown stream 'weekend'; the streams are: practice, host"),
        (("supervisors", 0, "placements"), ["HOSP-1", "HOSP-9"],
         "supervisors[DPP-1].placements.2", "unknown placement id 'HOSP-9'"),
        (("pins", 0, "placement"), "GP-9", "pins[#1].placement", "unknown placement id 'GP-9'"),
        (("pins", 0, "period"), "R7", "pins[#1].period", "unknown period id 'R7'"),
        (("bans", 0, "pharmacist"), "PH-9", "bans[#1].pharmacist",
         "unknown pharmacist id 'PH-9'"),
        (("travel", 0, "placement"), "X", "travel[#1].placement", "unknown placement id 'X'"),
        (("pharmacists", 0, "preferences"), ["HOSP-1", "NOPE"],
         "pharmacists[PH-1].preferences.2", "unknown placement id 'NOPE'"),
        (("pharmacists", 1, "history"), ["OLD-1"], "pharmacists[PH-2].history.1",
         "unknown placement id 'OLD-1'"),
        (("pharmacists", 1, "unavailable"), ["R3"], "pharmacists[PH-2].unavailable.1",
         "unknown period id 'R3'"),
    ],
)
def test_dangling_references(path: tuple[Any, ...], value: Any, where: str,
                             message: str) -> None:
    data = base()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    p = only(data)
    assert (p.where, p.message, p.code) == (where, message, "unknown_reference")


def test_reference_to_unknown_ids() -> None:
    data = base()
    data["reference"] = [{"pharmacist": "PH-1", "period": "R9", "placement": "GP-1"}]
    p = only(data)
    assert (p.where, p.message) == ("reference[#1].period", "unknown period id 'R9'")


def test_per_period_keys_must_be_periods() -> None:
    data = base()
    data["placements"][1]["capacity"] = {"R1": 1, "R4": 2}
    data["placements"][1]["min_fill"] = {"Spring": 1}
    found = problems_of(data)
    assert [p.where for p in found] == ["placements[HOSP-1].capacity.R4",
                                        "placements[HOSP-1].min_fill.Spring"]
    assert found[0].message == "'R4' is not a period; capacity per period uses the period " \
        "ids: R1, R2"


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        (("placements", 0, "hard_to_recruit"), 4, "hard_to_recruit", "must be at most 3"),
        (("placements", 0, "hard_to_recruit"), -1, "hard_to_recruit", "must be at least 0"),
        (("placements", 0, "population_health"), 101, "population_health",
         "must be at most 100"),
        (("placements", 0, "capacity"), -1, "capacity",
         "must be at least 0 (or an object {period_id: whole number})"),
        (("placements", 0, "capacity"), 1.5, "capacity",
         "must be a whole number (or an object {period_id: whole number})"),
        (("placements", 1, "capacity"), {"R1": -2}, "capacity.R1", "must be at least 0"),
        (("placements", 0, "location", "lat"), 91, "location.lat", "must be at most 90"),
        (("placements", 0, "location", "lon"), -181, "location.lon", "must be at least -180"),
        (("pharmacists", 0, "experience_years"), -2, "experience_years", "must be at least 0"),
        (("pharmacists", 0, "max_travel_km"), -5, "max_travel_km", "must be at least 0"),
        (("supervisors", 0, "capacity"), -1, "capacity", "must be at least 0"),
        (("organisations", 0, "max_pharmacists"), -3, "max_pharmacists", "must be at least 0"),
        (("travel", 0, "cost"), -4, "cost", "must be at least 0"),
        (("placements", 0, "sector"), "dentistry", "sector",
         "must be one of: 'general_practice', 'community_pharmacy', 'hospital', "
         "'mental_health', 'community_services' or 'integrated_care'"),
    ],
)
def test_numbers_out_of_range(path: tuple[Any, ...], value: Any, field: str,
                              message: str) -> None:
    data = base()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    p = only(data)
    assert p.field == field
    assert p.list == path[0]
    assert p.message.replace(".0", "") == message


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("rules", "max_preferences", 0, "must be at least 1"),
        ("rules", "min_distinct_sectors", 7, "must be at most 6"),
        ("weights", "preference", -1, "must be at least 0"),
        ("weights", "unassigned", "lots", "must be a whole number"),
        ("rules", "allow_unassigned", "perhaps", "must be true or false"),
    ],
)
def test_rules_and_weights(section: str, key: str, value: Any, message: str) -> None:
    data = base()
    data.setdefault(section, {})[key] = value
    p = only(data)
    assert p.where == f"{section}.{key}"
    assert p.message == message


def test_missing_required_fields_all_reported() -> None:
    data = base()
    del data["placements"][0]["location"]
    del data["placements"][2]["capacity"]
    del data["pharmacists"][1]["home"]
    found = problems_of(data)
    assert [p.where for p in found] == ["placements[GP-1].location", "placements[CP-1].capacity",
                                        "pharmacists[PH-2].home"]
    assert {p.message for p in found} == {"required field is missing"}


def test_preferences_too_long_and_repeated() -> None:
    data = base()
    data["rules"]["max_preferences"] = 2
    data["pharmacists"][0]["preferences"] = ["HOSP-1", "GP-1", "HOSP-1"]
    found = problems_of(data)
    assert [p.code for p in found] == ["too_many_preferences", "repeated"]
    assert found[0].message == ("ranks 3 placements but rules.max_preferences is 2; keep the "
                                "top 2")
    assert found[1].message == "'HOSP-1' is listed 2 times in preferences"


def test_pin_contradicts_ban() -> None:
    data = base()
    data["bans"].append({"pharmacist": "PH-1", "placement": "HOSP-1"})
    p = only(data)
    assert p.code == "pin_banned"
    assert p.message == ("PH-1 is pinned to HOSP-1 in R1 but is also banned from it; remove "
                         "the pin or the ban")


def test_pin_contradicts_unavailability() -> None:
    data = base()
    data["pins"] = [{"pharmacist": "PH-2", "period": "R2", "placement": "CP-1"}]
    found = problems_of(data)
    assert [p.code for p in found] == ["pin_unavailable", "pin_ineligible"]
    assert found[0].message == "PH-2 is pinned to CP-1 in R2 but is unavailable in R2"
    # CP-1 is also in PH-2's history and the host stream rotates.
    assert "has already done CP-1 (in history)" in found[1].message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"independent_prescriber": False}, "HOSP-1 requires an independent prescriber"),
        ({"home": {"lat": 52.5, "lon": 0.0}}, "km from PH-1's home, beyond their limit of 20 km"),
        ({"experience_years": 1}, "HOSP-1 requires 3 years' experience; PH-1 has 1"),
    ],
)
def test_pin_contradicts_eligibility(change: dict[str, Any], fragment: str) -> None:
    data = base()
    data["placements"][1]["requires"]["min_experience_years"] = (
        3 if "experience_years" in change else 0)
    if "experience_years" not in change:
        data["pharmacists"][0]["experience_years"] = 5
    data["pharmacists"][0].update(change)
    p = only(data)
    assert p.code == "pin_ineligible"
    assert p.message.startswith("PH-1 is pinned to HOSP-1 in R1 but ")
    assert fragment in p.message


def test_pin_to_placement_without_capacity_in_period() -> None:
    data = base()
    data["placements"][1]["capacity"] = {"R2": 1}
    p = only(data)
    assert p.message == "PH-1 is pinned to HOSP-1 in R1 but HOSP-1 has no capacity in R1"


def test_two_pins_same_slot() -> None:
    data = base()
    data["pins"].append({"pharmacist": "PH-1", "period": "R1", "placement": "CP-1"})
    p = only(data)
    assert p.code == "pin_conflict"
    assert p.message == ("PH-1 is pinned to CP-1 in R1 but is also pinned to HOSP-1 in the same "
                         "period and stream 'host' (entry #1)")


def test_placement_without_stream_when_streams_declared() -> None:
    data = base()
    del data["placements"][2]["stream"]
    p = only(data)
    assert p.where == "placements[CP-1].stream"
    assert p.message == ("stream is missing; streams are declared, so every placement names "
                         "one of: practice, host")


def test_placement_with_stream_when_none_declared() -> None:
    data = base()
    del data["streams"]
    for pl in data["placements"][1:]:
        del pl["stream"]
    p = only(data)
    assert p.where == "placements[GP-1].stream"
    assert "the round declares no streams" in p.message


def test_every_problem_at_once_across_lists() -> None:
    data = base()
    data["format"] = "x"
    data["placements"][0]["location"]["lat"] = 95
    data["placements"][2]["organisation"] = "NOPE"
    data["pharmacists"][0]["preferences"] = ["HOSP-1", "HOSP-1"]
    data["pins"][0]["period"] = "R5"
    found = problems_of(data)
    assert [p.where for p in found] == [
        "round.format",
        "placements[GP-1].location.lat",
        "placements[CP-1].organisation",
        "pharmacists[PH-1].preferences",
        "pins[#1].period",
    ]


def test_a_broken_record_does_not_cascade_into_unknown_ids() -> None:
    """A pharmacist whose own fields are wrong is still a known id for pins and bans."""
    data = base()
    data["pharmacists"][0]["home"] = {"lat": "north"}
    found = problems_of(data)
    assert [p.where for p in found] == ["pharmacists[PH-1].home.lat",
                                        "pharmacists[PH-1].home.lon"]


def test_personal_data_never_echoed() -> None:
    data = base()
    data["pharmacists"][0]["name"] = 12345678
    data["pharmacists"][1]["home"] = {"lat": 123.456789, "lon": 0.0}
    text = str(InvalidRoundError(problems_of(data)))
    assert "123.456789" not in text
    assert "12345678" not in text
    assert "Yannick" not in text


def test_cross_record_checks_belong_to_parse_round() -> None:
    """``Round.model_validate`` checks the records field by field only (the domain layer
    imports nothing above it); ``parse_round``, what every reader uses, checks across
    records too."""
    data = base()
    data["pins"][0]["placement"] = "GP-404"
    assert Round.model_validate(data).pins[0].placement == "GP-404"
    with pytest.raises(InvalidRoundError, match="unknown placement id 'GP-404'"):
        parse_round(data)
    data["pins"][0]["period"] = 7
    with pytest.raises(ValueError, match="period"):
        Round.model_validate(data)


def test_round_is_immutable_and_with_changes_validates() -> None:
    rnd = parse_round(base())
    with pytest.raises(ValueError, match="frozen"):
        rnd.rules = rnd.rules  # type: ignore[misc]
    heavier = with_changes(rnd, weights={"hard_to_recruit": 60})
    assert heavier.weights.hard_to_recruit == 60
    assert rnd.weights.hard_to_recruit == 30
    with pytest.raises(InvalidRoundError, match="unknown placement id 'NOPE'"):
        with_changes(rnd, pins=[{"pharmacist": "PH-1", "period": "R1", "placement": "NOPE"}])


def test_validate_returns_without_raising() -> None:
    ok, errors, warnings = validate(base())
    assert ok is not None
    assert errors == []
    assert [w.code for w in warnings] == ["no_eligible_placement"]
    bad = base()
    bad["format"] = 3
    none, errors, _ = validate(bad)
    assert none is None
    assert errors[0].code == "format"


# ---- warnings -------------------------------------------------------------------------


def codes(rnd: Round) -> list[str]:
    return [w.code for w in round_warnings(rnd)]


def test_valid_round_warnings() -> None:
    rnd = parse_round(base())
    found = round_warnings(rnd)
    assert all(w.severity == "warning" for w in found)
    # PH-2 cannot take HOSP-1 (not a prescriber) and has done CP-1: no host placement.
    assert [str(w) for w in found if w.code == "no_eligible_placement"] == [
        "warning: pharmacists[PH-2]: PH-2 has no eligible placement in R1 for stream 'host' "
        "(travel, requirements, bans, history or capacity rule them all out)"
    ]


def test_unreachable_placement_warning() -> None:
    data = base()
    data["placements"].append({"id": "FAR-1", "stream": "host", "sector": "mental_health",
                               "location": {"lat": 53.0, "lon": -2.0}, "capacity": 1})
    rnd = parse_round(data)
    found = [w for w in round_warnings(rnd) if w.code == "unreachable_placement"]
    assert [w.where for w in found] == ["placements[FAR-1]"]
    assert found[0].message.startswith("no pharmacist can take FAR-1 in any period")


def test_capacity_below_need_warning() -> None:
    data = base()
    data["pharmacists"][1]["unavailable"] = []
    data["placements"][0]["capacity"] = 1
    rnd = parse_round(data)
    found = [w.message for w in round_warnings(rnd) if w.code == "capacity_below_need"]
    assert found == [
        "R1 in stream 'practice' offers 1 seats for 2 available pharmacists; at least 1 will "
        "go without",
        "R2 in stream 'practice' offers 1 seats for 2 available pharmacists; at least 1 will "
        "go without",
    ]


def test_sector_warnings() -> None:
    data = base()
    data["periods"].append({"id": "R3"})
    data["rules"].update({"min_distinct_sectors": 3, "required_sectors": ["mental_health"]})
    data["pharmacists"][1].update({"history": [], "unavailable": []})
    rnd = parse_round(data)
    found = {(w.id, w.code): w.message for w in round_warnings(rnd)
             if w.code in ("too_few_sectors", "required_sector_unreachable")}
    # PH-2 is not a prescriber, so HOSP-1 is out: only GP-1 and CP-1 are reachable.
    assert found == {
        ("PH-2", "too_few_sectors"): "PH-2 can reach only 2 sector(s) (community_pharmacy, "
        "general_practice) counting history, but 3 distinct sectors are required",
        ("PH-1", "required_sector_unreachable"): "PH-1 cannot reach the required sector(s) "
        "mental_health",
        ("PH-2", "required_sector_unreachable"): "PH-2 cannot reach the required sector(s) "
        "mental_health",
    }


def test_sector_requirement_scales_with_availability() -> None:
    """min(min_distinct_sectors, A(p)): one available period asks for one sector only."""
    data = base()
    data["rules"]["min_distinct_sectors"] = 3
    rnd = parse_round(data)
    assert "too_few_sectors" not in codes(rnd)


def test_min_fill_above_capacity_warning() -> None:
    data = base()
    data["placements"][2]["min_fill"] = 3
    rnd = parse_round(data)
    found = [w for w in round_warnings(rnd) if w.code == "min_fill_above_capacity"]
    assert [w.message for w in found] == [
        "min_fill 3 is above capacity 2 in R1; the shortfall cannot be avoided",
        "min_fill 3 is above capacity 2 in R2; the shortfall cannot be avoided",
    ]


def test_every_model_field_is_described() -> None:
    from matcher.domain import LIST_MODELS, SECTION_MODELS, Location, Requirements

    models = [*LIST_MODELS.values(), *SECTION_MODELS.values(), Location, Requirements, Round]
    undocumented = [f"{m.__name__}.{name}" for m in models
                    for name, info in m.model_fields.items() if not info.description]
    assert undocumented == []


def test_generated_round_with_streams_off_and_checks_at_scale() -> None:
    rnd = generate_round(300, 400, 3, seed=3)
    again = parse_round(rnd.to_data())
    assert again == rnd
    single = generate_round(30, 40, 2, seed=1, streams=False)
    assert [s.id for s in single.effective_streams] == ["rotation"]
    assert all(pl.stream is None for pl in single.placements)


# ---- messy input: failed records, labels, near misses, locations -----------------------------


def test_cross_record_checks_see_records_that_fail_their_own_checks() -> None:
    data = base()
    bad = copy.deepcopy(data["pharmacists"][0])
    bad["home"]["lat"] = "north"
    bad["preferences"] = ["GP-01"]
    data["pharmacists"].append(bad)  # entry #3: a bad number, a duplicate id, a near miss
    assert [(p.where, p.message) for p in problems_of(data)] == [
        ("pharmacists[PH-1].home.lat", "must be a number"),
        ("pharmacists[PH-1].id",
         "id 'PH-1' appears 2 times: entries #1 and #3; each pharmacist needs its own id"),
        ("pharmacists[PH-1].preferences.1",
         "unknown placement id 'GP-01'; did you mean 'GP-1'?"),
    ]
    dup = [p for p in problems_of(data) if p.code == "duplicate_id"]
    assert dup[0].index == 0


def test_positions_stay_the_planner_s_after_failed_records() -> None:
    data = base()
    data["placements"][0]["capacity"] = -1
    data["placements"].append({**copy.deepcopy(data["placements"][2]), "hard_to_recruit": 9})
    found = {p.code: p for p in problems_of(data)}
    assert found["duplicate_id"].index == 2  # CP-1, third entry, not shifted by GP-1's error
    assert found["duplicate_id"].message.startswith("id 'CP-1' appears 2 times: entries #3 "
                                                    "and #4")
    assert found["less_than_equal"].index == 3


def test_a_near_miss_is_suggested_only_with_the_same_numbers() -> None:
    data = base()
    data["pharmacists"][0]["preferences"] = ["HOSP-01", "GP-2", "hosp-1"]
    assert [p.message for p in problems_of(data)] == [
        "unknown placement id 'HOSP-01'; did you mean 'HOSP-1'?",
        "unknown placement id 'GP-2'",  # GP-1 is another record, not a typo of it
        "unknown placement id 'hosp-1'; did you mean 'HOSP-1'?",
    ]


def test_a_missing_list_is_one_problem_not_a_cascade_of_unknown_ids() -> None:
    data = base()
    del data["pharmacists"]
    assert [(p.where, p.code) for p in problems_of(data)] == [("pharmacists", "missing")]


def test_a_misspelt_field_is_one_problem_with_a_suggestion() -> None:
    data = base()
    data["placements"][0]["sectr"] = data["placements"][0].pop("sector")
    data["placements"][1]["colour"] = "red"
    assert [(p.where, p.message) for p in problems_of(data)] == [
        ("placements[GP-1].sectr", "unknown field 'sectr'; did you mean 'sector'?"),
        ("placements[HOSP-1].colour", "unknown field 'colour'; allowed fields are: id, name, "
         "organisation, stream, sector, place, location, capacity, min_fill, hard_to_recruit, "
         "population_health, requires"),
    ]


def test_the_labels_people_type_are_accepted_for_choices() -> None:
    data = base()
    data["placements"][0]["sector"] = "General Practice"
    data["placements"][2]["sector"] = " community-pharmacy "
    data["supervisors"][0]["supervises"] = "Non Prescribers"
    data["rules"]["required_sectors"] = ["Hospital", "general practice"]
    rnd = parse_round(data)
    assert [pl.sector for pl in rnd.placements] == [
        "general_practice", "hospital", "community_pharmacy"]
    assert rnd.supervisors[0].supervises == "non_prescribers"
    assert rnd.rules.required_sectors == ("hospital", "general_practice")
    data["placements"][1]["sector"] = "Hospitals"  # not a label of any choice: still an error
    assert only(data).where == "placements[HOSP-1].sector"


@pytest.mark.parametrize(
    ("home", "code", "message"),
    [
        ({"lat": 0.005, "lon": 51.505}, "swapped_coordinates",
         "the home is outside the UK, but would be inside it with latitude and longitude "
         "swapped; put the latitude (about 50 to 61) in home.lat and the longitude (about -8 "
         "to 2) in home.lon"),
        ({"lat": 40.4, "lon": -3.7}, "outside_uk",
         "the home is outside the UK; check home.lat and home.lon (decimal degrees, latitude "
         "first)"),
        ({"lat": 55.95, "lon": -3.19}, "far_from_placements",
         "the home is more than 150 km from every placement; check home.lat and home.lon "
         "(decimal degrees, latitude first)"),
    ],
)
def test_locations_that_are_surely_mistakes_warn_without_the_coordinates(
    home: dict[str, float], code: str, message: str
) -> None:
    data = base()
    data["pharmacists"][1]["home"] = home
    found = [w for w in round_warnings(parse_round(data)) if w.list == "pharmacists"]
    assert [(w.where, w.code, w.message) for w in found] == [
        ("pharmacists[PH-2].home.lat", code, message)]  # and nothing that follows from it
    assert not any(str(v) in message for v in home.values())


def test_location_warnings_come_with_the_errors_of_an_invalid_round() -> None:
    data = base()
    data["placements"][2]["location"] = {"lat": 0.01, "lon": 51.51}
    data["pharmacists"][0]["experience_years"] = -1
    with pytest.raises(InvalidRoundError) as info:
        parse_round(data)
    assert [p.where for p in info.value.problems] == ["pharmacists[PH-1].experience_years"]
    assert [(w.where, w.code) for w in info.value.warnings] == [
        ("placements[CP-1].location.lat", "swapped_coordinates")]
