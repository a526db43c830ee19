"""The independent checker (matcher.checker) and the brute-force oracle built on it.

Every expectation here is worked out by hand from the spec, on rounds small enough to do so.
Distances are along the equator, where 0.09 degrees of longitude is 10 km (10.007) and 0.18
degrees is 20 km (20.015), both after rounding.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import pytest
from bruteforce import brute_force, plans, random_tiny_round

from matcher.allocation import Assignment, as_assignments
from matcher.checker import (
    RULES,
    CheckReport,
    ObjectiveBreakdown,
    Violation,
    check,
    eligibility_failures,
    objective,
    pref,
    score,
    terms,
    travel,
    violations,
)
from matcher.domain import Round

A = Assignment

# ---- hand rounds -------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "format": "spin-round/1",
    "periods": [{"id": "R1"}, {"id": "R2"}],
    "organisations": [{"id": "ORG-1"}],
    "placements": [
        {"id": "GP-A", "organisation": "ORG-1", "sector": "general_practice",
         "location": {"lat": 0.0, "lon": 0.0}, "capacity": 1,
         "hard_to_recruit": 2, "population_health": 50},
        {"id": "HOSP-B", "organisation": "ORG-1", "sector": "hospital",
         "location": {"lat": 0.0, "lon": 0.09}, "capacity": 1,
         "hard_to_recruit": 0, "population_health": 10},
        {"id": "CP-C", "sector": "community_pharmacy",
         "location": {"lat": 0.0, "lon": 0.18}, "capacity": {"R1": 1},
         "hard_to_recruit": 1, "population_health": 0},
    ],
    "pharmacists": [
        {"id": "PH-0001", "name": "Ann Example", "home": {"lat": 0.0, "lon": 0.0},
         "independent_prescriber": True, "experience_years": 3, "skills": ["diabetes"],
         "preferences": ["GP-A", "HOSP-B"]},
        {"id": "PH-0002", "name": "Bob Example", "home": {"lat": 0.0, "lon": 0.09},
         "experience_years": 1, "preferences": ["HOSP-B"]},
    ],
    "rules": {"max_preferences": 3},
    "weights": {"preference": 10, "hard_to_recruit": 30, "population_health": 1,
                "travel": 1, "unassigned": 1000, "shortfall": 100, "fairness": 0,
                "change": 0},
}
"""Two pharmacists, three placements, two periods, one rotating stream.

Travel: PH-0001 is 0 / 10 / 20 km from GP-A / HOSP-B / CP-C, PH-0002 10 / 0 / 10 km.
CP-C has a seat in R1 only. pref (R = 3): PH-0001 GP-A 3, HOSP-B 2; PH-0002 HOSP-B 3.
score: PH-0001 GP-A 30+60+50-0 = 140, HOSP-B 20+0+10-10 = 20, CP-C 0+30+0-20 = 10;
       PH-0002 GP-A 0+60+50-10 = 100, HOSP-B 30+0+10-0 = 40, CP-C 0+30+0-10 = 20.
"""

VALID = (
    A("PH-0001", "R1", "GP-A"),
    A("PH-0001", "R2", "HOSP-B"),
    A("PH-0002", "R1", "HOSP-B"),
    A("PH-0002", "R2", "GP-A"),
)
"""A feasible allocation of BASE worth 140 + 20 + 40 + 100 = 300."""


def make(*edits: tuple[str, Any]) -> Round:
    """BASE with edits applied: ("rules.max_travel_km", 15), ("pharmacists.1.unavailable",
    ["R2"]), ("pins", [...])... (list positions are 0-based)."""
    data = copy.deepcopy(BASE)
    for path, value in edits:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return Round.model_validate(data)


def portfolio(*edits: tuple[str, Any]) -> Round:
    """BASE with streams: GP-A and GP-D in 'practice' (no rotation), HOSP-B and CP-C in
    'host' (rotating). GP-D is next to GP-A (0 km from PH-0001, scores 0 otherwise)."""
    placements = copy.deepcopy(BASE["placements"])
    for pl, stream in zip(placements, ("practice", "host", "host"), strict=True):
        pl["stream"] = stream
    placements.append({"id": "GP-D", "stream": "practice", "sector": "general_practice",
                       "location": {"lat": 0.0, "lon": 0.0}, "capacity": 1})
    return make(
        ("streams", [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}]),
        ("placements", placements),
        *edits,
    )


def messages(found: list[Violation]) -> list[tuple[str, str]]:
    return [(v.rule, v.message) for v in found]


# ---- allocation --------------------------------------------------------------------------


def test_as_assignments_accepts_every_form() -> None:
    result_row = {"pharmacist": "PH-0001", "period": "R1", "stream": "rotation",
                  "placement": "GP-A", "score": 140, "terms": {"preference": 30}}
    reference = make(("reference", [{"pharmacist": "PH-0002", "period": "R2",
                                     "placement": "GP-A"}])).reference[0]
    got = as_assignments([A("PH-0001", "R2", "HOSP-B"), ("PH-0002", "R1", "HOSP-B"),
                          result_row, reference])
    assert got == (A("PH-0001", "R2", "HOSP-B"), A("PH-0002", "R1", "HOSP-B"),
                   A("PH-0001", "R1", "GP-A"), A("PH-0002", "R2", "GP-A"))


@pytest.mark.parametrize(
    ("item", "error", "text"),
    [
        ({"pharmacist": "PH-0001", "period": "R1"}, ValueError, "lacks 'placement'"),
        (("PH-0001", "R1"), ValueError, "not 2 values"),
        (42, TypeError, "is a int"),
        (("PH-0001", "R1", 3), TypeError, "ids must be strings"),
    ],
)
def test_as_assignments_rejects_malformed(item: Any, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        as_assignments([A("PH-0001", "R1", "GP-A"), item])


def test_assignment_stream_follows_its_placement() -> None:
    assert A("PH-0001", "R1", "GP-A").stream(make()) == "rotation"
    assert A("PH-0001", "R1", "GP-A").stream(portfolio()) == "practice"
    assert A("PH-0001", "R1", "CP-C").stream(portfolio()) == "host"


# ---- §2 eligibility ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edits", "triple", "expected"),
    [
        pytest.param((), ("PH-0001", "CP-C", "R1"), [], id="eligible"),
        pytest.param((("pharmacists.1.unavailable", ["R2"]),), ("PH-0002", "GP-A", "R2"),
                     ["PH-0002 is unavailable in R2"], id="unavailable"),
        pytest.param((), ("PH-0001", "CP-C", "R2"), ["CP-C has no capacity in R2"],
                     id="no-capacity"),
        pytest.param((("rules.max_travel_km", 15),), ("PH-0001", "CP-C", "R1"),
                     ["CP-C is 20 km from PH-0001's home; their limit is 15 km"],
                     id="travel-rules-limit"),
        pytest.param((("rules.max_travel_km", 25), ("pharmacists.0.max_travel_km", 12.5)),
                     ("PH-0001", "CP-C", "R1"),
                     ["CP-C is 20 km from PH-0001's home; their limit is 12.5 km"],
                     id="travel-own-limit-wins"),
        pytest.param((("rules.max_travel_km", 15),
                      ("travel", [{"pharmacist": "PH-0001", "placement": "CP-C", "cost": 5}])),
                     ("PH-0001", "CP-C", "R1"), [], id="travel-override-shorter"),
        pytest.param((("rules.max_travel_km", 15),
                      ("travel", [{"pharmacist": "PH-0001", "placement": "GP-A", "cost": 16}])),
                     ("PH-0001", "GP-A", "R1"),
                     ["GP-A is 16 km from PH-0001's home (given travel cost); their limit is "
                      "15 km"], id="travel-override-longer"),
        pytest.param((("placements.1.requires", {"independent_prescriber": True}),),
                     ("PH-0002", "HOSP-B", "R1"),
                     ["HOSP-B requires an independent prescriber; PH-0002 is not one"],
                     id="prescriber"),
        pytest.param((("placements.1.requires", {"independent_prescriber": True}),),
                     ("PH-0001", "HOSP-B", "R1"), [], id="prescriber-ok"),
        pytest.param((("placements.1.requires", {"min_experience_years": 2}),),
                     ("PH-0002", "HOSP-B", "R1"),
                     ["HOSP-B requires 2 years' experience; PH-0002 has 1"], id="experience"),
        pytest.param((("placements.1.requires", {"skills": ["diabetes", "respiratory"]}),),
                     ("PH-0001", "HOSP-B", "R1"),
                     ["HOSP-B needs skill 'respiratory', which PH-0001 does not have"],
                     id="skills"),
        pytest.param((("bans", [{"pharmacist": "PH-0001", "placement": "HOSP-B"}]),),
                     ("PH-0001", "HOSP-B", "R1"), ["PH-0001 is banned from HOSP-B"],
                     id="ban-every-period"),
        pytest.param((("bans", [{"pharmacist": "PH-0001", "placement": "HOSP-B",
                                 "period": "R2"}]),),
                     ("PH-0001", "HOSP-B", "R2"), ["PH-0001 is banned from HOSP-B in R2"],
                     id="ban-one-period"),
        pytest.param((("bans", [{"pharmacist": "PH-0001", "placement": "HOSP-B",
                                 "period": "R2"}]),),
                     ("PH-0001", "HOSP-B", "R1"), [], id="ban-other-period"),
        pytest.param((("pharmacists.0.history", ["GP-A"]),), ("PH-0001", "GP-A", "R1"),
                     ["PH-0001 has already done GP-A in history (placements are not "
                      "repeated)"], id="history"),
        pytest.param((("pharmacists.1.unavailable", ["R2"]), ("rules.max_travel_km", 5)),
                     ("PH-0002", "CP-C", "R2"),
                     ["PH-0002 is unavailable in R2", "CP-C has no capacity in R2",
                      "CP-C is 10 km from PH-0002's home; their limit is 5 km"],
                     id="several-in-spec-order"),
        pytest.param((), ("PH-0009", "GP-X", "R3"),
                     ["unknown pharmacist id 'PH-0009'", "unknown period id 'R3'",
                      "unknown placement id 'GP-X'"], id="unknown-ids"),
    ],
)
def test_eligibility_failures(
    edits: tuple[tuple[str, Any], ...], triple: tuple[str, str, str], expected: list[str]
) -> None:
    pharmacist, placement, period = triple
    assert eligibility_failures(make(*edits), pharmacist, placement, period) == expected


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ("CP-C", ["PH-0001 has already done CP-C in history (stream 'host' rotates)"]),
        ("GP-A", []),  # the practice stream does not rotate: going back is fine
    ],
)
def test_history_only_excludes_rotating_streams(placement: str, expected: list[str]) -> None:
    rnd = portfolio(("pharmacists.0.history", ["CP-C", "GP-A"]))
    assert eligibility_failures(rnd, "PH-0001", placement, "R1") == expected


def test_messages_never_show_names_or_homes() -> None:
    rnd = make(("rules.max_travel_km", 1), ("rules.required_sectors", ["mental_health"]))
    text = " ".join(v.message for v in violations(rnd, VALID))
    assert "Example" not in text
    assert "0.09" not in text
    assert "lat" not in text


@pytest.mark.parametrize(
    ("pharmacist", "placement", "edits", "km"),
    [
        ("PH-0001", "GP-A", (), 0),
        ("PH-0001", "HOSP-B", (), 10),
        ("PH-0001", "CP-C", (), 20),
        ("PH-0002", "CP-C", (), 10),
        ("PH-0001", "CP-C",
         (("travel", [{"pharmacist": "PH-0001", "placement": "CP-C", "cost": 7}]),), 7),
    ],
)
def test_travel(
    pharmacist: str, placement: str, edits: tuple[tuple[str, Any], ...], km: int
) -> None:
    rnd = make(*edits)
    assert travel(rnd, pharmacist, placement) == km
    assert travel(rnd, rnd.pharmacist(pharmacist), rnd.placement(placement)) == km


# ---- §3 hard rules -----------------------------------------------------------------------


def test_valid_allocation_has_no_violations() -> None:
    report = check(make(), VALID)
    assert report.violations == ()
    assert report.feasible
    assert report.summary() == "feasible; objective 300"


def test_the_empty_allocation_is_feasible_when_unassigned_is_allowed() -> None:
    assert violations(make(), []) == []


RULE_CASES = [
    pytest.param(
        (), [*VALID, ("PH-0009", "R3", "GP-A")],
        [("unknown_id", "assignment #5 (PH-0009, R3, GP-A): unknown pharmacist id "
                        "'PH-0009'; unknown period id 'R3'")],
        id="unknown_id",
    ),
    pytest.param(
        (), [*VALID, ("PH-0001", "R1", "CP-C")],
        [("one_per_stream", "PH-0001 holds 2 placements in R1 (GP-A, CP-C); at most one "
                            "is allowed")],
        id="one_per_stream",
    ),
    pytest.param(
        (), [*VALID, ("PH-0001", "R1", "GP-A")],
        [("one_per_stream", "PH-0001 is assigned GP-A in R1 2 times")],
        id="one_per_stream-listed-twice",
    ),
    pytest.param(
        (("pharmacists.1.unavailable", ["R2"]),), VALID,
        [("eligibility", "PH-0002 may not hold GP-A in R2: PH-0002 is unavailable in R2")],
        id="eligibility",
    ),
    pytest.param(
        (("rules.allow_unassigned", False),), VALID[:3],
        [("allow_unassigned", "PH-0002 has no placement in R2; rules.allow_unassigned is "
                              "false")],
        id="allow_unassigned",
    ),
    pytest.param(
        (("rules.allow_unassigned", False), ("pharmacists.1.unavailable", ["R2"])),
        VALID[:3], [], id="allow_unassigned-on-leave-is-fine",
    ),
    pytest.param(
        (), [("PH-0001", "R1", "GP-A"), ("PH-0002", "R1", "GP-A")],
        [("capacity", "GP-A is held by 2 pharmacists in R1 (PH-0001, PH-0002); its "
                      "capacity there is 1")],
        id="capacity",
    ),
    pytest.param(
        (), [("PH-0001", "R2", "CP-C")],
        [("eligibility", "PH-0001 may not hold CP-C in R2: CP-C has no capacity in R2"),
         ("capacity", "CP-C is held by 1 pharmacist in R2 (PH-0001); its capacity there "
                      "is 0")],
        id="capacity-zero-in-period",
    ),
    pytest.param(
        (("organisations.0.max_pharmacists", 1),), VALID,
        [("organisation_cap", "organisation ORG-1 hosts 2 pharmacists in R1 (PH-0001, "
                              "PH-0002); its max_pharmacists is 1"),
         ("organisation_cap", "organisation ORG-1 hosts 2 pharmacists in R2 (PH-0001, "
                              "PH-0002); its max_pharmacists is 1")],
        id="organisation_cap",
    ),
    pytest.param(
        (("organisations.0.max_pharmacists", 2),), VALID, [], id="organisation_cap-ok",
    ),
    pytest.param(
        (("supervisors", [{"id": "SUP-1", "supervises": "all", "placements": ["GP-A", "CP-C"],
                           "capacity": 1}]),),
        [("PH-0001", "R1", "GP-A"), ("PH-0002", "R1", "CP-C")],
        [("supervision", "supervisor SUP-1 has 2 pharmacists in R1 (PH-0001, PH-0002); its "
                         "capacity is 1")],
        id="supervision-all",
    ),
    pytest.param(
        (("supervisors", [{"id": "SUP-1", "supervises": "non_prescribers",
                           "placements": ["GP-A", "CP-C"], "capacity": 1}]),),
        [("PH-0001", "R1", "GP-A"), ("PH-0002", "R1", "CP-C")], [],
        id="supervision-prescriber-not-counted",
    ),
    pytest.param(
        (("supervisors", [{"id": "SUP-1", "supervises": "non_prescribers",
                           "placements": ["GP-A", "CP-C"], "capacity": 0}]),),
        [("PH-0001", "R1", "GP-A"), ("PH-0002", "R1", "CP-C")],
        [("supervision", "supervisor SUP-1 has 1 non-prescriber in R1 (PH-0002); its "
                         "capacity is 0")],
        id="supervision-non-prescribers",
    ),
    pytest.param(
        (("supervisors", [{"id": "SUP-1", "supervises": "early_years",
                           "placements": ["GP-A", "HOSP-B"], "capacity": 0}]),),
        VALID,
        [("supervision", "supervisor SUP-1 has 1 early-years pharmacist in R1 (PH-0002); "
                         "its capacity is 0"),
         ("supervision", "supervisor SUP-1 has 1 early-years pharmacist in R2 (PH-0002); "
                         "its capacity is 0")],
        id="supervision-early-years",
    ),
    pytest.param(
        (), [("PH-0001", "R1", "GP-A"), ("PH-0001", "R2", "GP-A")],
        [("rotation", "PH-0001 holds GP-A in R1 and R2; placements are not repeated")],
        id="rotation",
    ),
    pytest.param(
        (("pharmacists.0.history", ["HOSP-B"]),), VALID,
        [("eligibility", "PH-0001 may not hold HOSP-B in R2: PH-0001 has already done "
                         "HOSP-B in history (placements are not repeated)"),
         ("rotation", "PH-0001 holds HOSP-B in R2 and has already done it (history); "
                      "placements are not repeated")],
        id="rotation-history",
    ),
    pytest.param(
        (("rules.min_distinct_sectors", 2),), [("PH-0001", "R1", "GP-A"), *VALID[2:]],
        [("sector_mix", "PH-0001 covers 1 distinct sector (general_practice) counting "
                        "history; the rules require at least 2")],
        id="sector_mix",
    ),
    pytest.param(
        (("rules.min_distinct_sectors", 2), ("pharmacists.0.history", ["CP-C"])),
        [("PH-0001", "R1", "GP-A"), *VALID[2:]], [], id="sector_mix-history-counts",
    ),
    pytest.param(
        # PH-0001 is available once, so needs min(3, 1) = 1 sector; PH-0002 min(3, 2) = 2.
        (("rules.min_distinct_sectors", 3), ("pharmacists.0.unavailable", ["R2"])),
        [("PH-0001", "R1", "GP-A"), *VALID[2:]], [],
        id="sector_mix-capped-by-available-periods",
    ),
    pytest.param(
        (("rules.min_distinct_sectors", 1),), VALID[:2],
        [("sector_mix", "PH-0002 covers 0 distinct sectors (none) counting history; the "
                        "rules require at least 1")],
        id="sector_mix-unassigned",
    ),
    pytest.param(
        (("rules.required_sectors", ["community_pharmacy"]),), VALID,
        [("required_sectors", "PH-0001 never covers required sector 'community_pharmacy' "
                              "(history included)"),
         ("required_sectors", "PH-0002 never covers required sector 'community_pharmacy' "
                              "(history included)")],
        id="required_sectors",
    ),
    pytest.param(
        (("rules.required_sectors", ["community_pharmacy"]),
         ("pharmacists.0.history", ["CP-C"]), ("pharmacists.1.unavailable", ["R1", "R2"])),
        VALID[:2], [], id="required_sectors-history-and-leave",
    ),
    pytest.param(
        (("pins", [{"pharmacist": "PH-0001", "period": "R1", "placement": "GP-A"}]),), VALID,
        [], id="pin-held",
    ),
    pytest.param(
        (("pins", [{"pharmacist": "PH-0001", "period": "R1", "placement": "GP-A"}]),),
        [("PH-0001", "R1", "HOSP-B"), ("PH-0001", "R2", "GP-A"),
         ("PH-0002", "R1", "GP-A"), ("PH-0002", "R2", "HOSP-B")],
        [("pin", "PH-0001 is pinned to GP-A in R1 but does not hold it")],
        id="pin",
    ),
]


@pytest.mark.parametrize(("edits", "allocation", "expected"), RULE_CASES)
def test_each_rule(
    edits: tuple[tuple[str, Any], ...], allocation: Any, expected: list[tuple[str, str]]
) -> None:
    assert messages(violations(make(*edits), allocation)) == expected


PORTFOLIO_CASES = [
    pytest.param(
        (), [("PH-0001", "R1", "GP-A"), ("PH-0001", "R2", "GP-A"),
             ("PH-0001", "R1", "HOSP-B"), ("PH-0002", "R2", "HOSP-B")],
        [], id="one-placement-in-each-stream-and-continuity-are-fine",
    ),
    pytest.param(
        (), [("PH-0001", "R1", "GP-A"), ("PH-0001", "R1", "GP-D")],
        [("one_per_stream", "PH-0001 holds 2 placements in stream 'practice' in R1 "
                            "(GP-A, GP-D); at most one is allowed")],
        id="one_per_stream",
    ),
    pytest.param(
        (), [("PH-0001", "R1", "GP-A"), ("PH-0001", "R2", "GP-D")],
        [("continuity", "PH-0001 holds different placements in stream 'practice' (GP-A in "
                        "R1, GP-D in R2); it does not rotate, so every period must be the "
                        "same placement")],
        id="continuity",
    ),
    pytest.param(
        (), [("PH-0001", "R2", "GP-A")], [], id="continuity-unassigned-period-allowed",
    ),
    pytest.param(
        (("rules.allow_unassigned", False),),
        [("PH-0001", "R1", "GP-A"), ("PH-0001", "R2", "GP-A"), ("PH-0001", "R1", "HOSP-B"),
         ("PH-0002", "R1", "GP-D"), ("PH-0002", "R2", "GP-D"), ("PH-0002", "R1", "CP-C"),
         ("PH-0002", "R2", "HOSP-B")],
        [("allow_unassigned", "PH-0001 has no placement in stream 'host' in R2; "
                              "rules.allow_unassigned is false")],
        id="allow_unassigned-per-stream",
    ),
    pytest.param(
        (), [("PH-0001", "R1", "HOSP-B"), ("PH-0001", "R2", "HOSP-B")],
        [("rotation", "PH-0001 holds HOSP-B in R1 and R2; stream 'host' rotates")],
        id="rotation",
    ),
    pytest.param(
        (("organisations.0.max_pharmacists", 1),),
        [("PH-0001", "R1", "GP-A"), ("PH-0001", "R1", "HOSP-B")], [],
        id="organisation_cap-counts-pharmacists-not-seats",
    ),
]


@pytest.mark.parametrize(("edits", "allocation", "expected"), PORTFOLIO_CASES)
def test_each_rule_with_streams(
    edits: tuple[tuple[str, Any], ...], allocation: Any, expected: list[tuple[str, str]]
) -> None:
    assert messages(violations(portfolio(*edits), allocation)) == expected


def test_every_rule_is_exercised() -> None:
    expected = [cast(list[tuple[str, str]], case.values[2])
                for case in [*RULE_CASES, *PORTFOLIO_CASES]]
    seen = {rule for found in expected for rule, _ in found}
    assert seen == set(RULES)


def test_violation_names_the_records() -> None:
    (found,) = violations(make(("pharmacists.1.unavailable", ["R2"])), VALID)
    assert (found.pharmacist, found.placement, found.period) == ("PH-0002", "GP-A", "R2")
    assert str(found).startswith("eligibility: PH-0002 may not hold GP-A in R2")


# ---- §4 objective ------------------------------------------------------------------------


def test_objective_of_the_valid_allocation() -> None:
    assert objective(make(), VALID) == ObjectiveBreakdown(
        total=300, preference=80, hard_to_recruit=120, population_health=120, travel=-20,
        unassigned_count=0, shortfall=0, fairness_min=None, changes=0,
    )


@pytest.mark.parametrize(
    ("assignment", "expected"),
    [
        (A("PH-0001", "R1", "GP-A"),
         {"preference": 30, "hard_to_recruit": 60, "population_health": 50, "travel": 0}),
        (A("PH-0001", "R2", "HOSP-B"),
         {"preference": 20, "hard_to_recruit": 0, "population_health": 10, "travel": -10}),
        (A("PH-0001", "R1", "CP-C"),
         {"preference": 0, "hard_to_recruit": 30, "population_health": 0, "travel": -20}),
        (A("PH-0002", "R2", "GP-A"),
         {"preference": 0, "hard_to_recruit": 60, "population_health": 50, "travel": -10}),
    ],
)
def test_terms_and_score(assignment: Assignment, expected: dict[str, int]) -> None:
    rnd = make()
    assert terms(rnd, assignment) == expected
    assert score(rnd, assignment) == sum(expected.values())


@pytest.mark.parametrize(
    ("pharmacist", "placement", "points"),
    [("PH-0001", "GP-A", 3), ("PH-0001", "HOSP-B", 2), ("PH-0001", "CP-C", 0),
     ("PH-0002", "HOSP-B", 3), ("PH-0002", "GP-A", 0)],
)
def test_pref_is_r_minus_rank_plus_one(pharmacist: str, placement: str, points: int) -> None:
    assert pref(make(), pharmacist, placement) == points


def test_weights_scale_the_terms() -> None:
    rnd = make(("weights", {"preference": 1, "hard_to_recruit": 2, "population_health": 3,
                            "travel": 4}),
               ("travel", [{"pharmacist": "PH-0001", "placement": "HOSP-B", "cost": 7}]))
    assert terms(rnd, A("PH-0001", "R2", "HOSP-B")) == {
        "preference": 2, "hard_to_recruit": 0, "population_health": 30, "travel": -28}


@pytest.mark.parametrize(
    ("edits", "allocation", "unassigned", "total"),
    [
        pytest.param((), [], 4, -4000, id="nobody-placed"),
        pytest.param((("pharmacists.1.unavailable", ["R2"]),), [], 3, -3000,
                     id="leave-is-not-unassigned"),
        pytest.param((), VALID[:3], 1, 140 + 20 + 40 - 1000, id="one-slot-empty"),
    ],
)
def test_unassigned(
    edits: tuple[tuple[str, Any], ...], allocation: Any, unassigned: int, total: int
) -> None:
    result = objective(make(*edits), allocation)
    assert (result.unassigned_count, result.total) == (unassigned, total)


def test_unassigned_counts_each_stream() -> None:
    # Two pharmacists x two periods x two streams, one slot filled.
    result = objective(portfolio(), [("PH-0001", "R1", "GP-A")])
    assert result.unassigned_count == 7
    assert result.total == 140 - 7000


def test_shortfall() -> None:
    rnd = make(("placements.0.min_fill", 1), ("placements.2.min_fill", {"R1": 2}))
    # GP-A is held in both periods; CP-C wants 2 in R1 (above its capacity) and has none.
    result = objective(rnd, VALID)
    assert (result.shortfall, result.total) == (2, 300 - 2 * 100)
    # Without PH-0002's R2 assignment GP-A misses its one in R2 as well.
    result = objective(rnd, VALID[:3])
    assert (result.shortfall, result.unassigned_count) == (3, 1)
    assert result.total == 200 - 3 * 100 - 1000


@pytest.mark.parametrize(
    ("edits", "allocation", "fairness_min", "total"),
    [
        # PH-0001 has 3 + 2 = 5 preference points, PH-0002 3 + 0 = 3: M = 3.
        pytest.param((("weights.fairness", 5),), VALID, 3, 300 + 5 * 3, id="worst-off"),
        # Nobody on leave for the whole round: an unplaced pharmacist has M = 0.
        pytest.param((("weights.fairness", 5),), VALID[:2], 0, 160 - 2000, id="unplaced"),
        # PH-0002 is away all round (A = 0), so only PH-0001 counts.
        pytest.param((("weights.fairness", 5), ("pharmacists.1.unavailable", ["R1", "R2"])),
                     VALID[:2], 5, 160 + 25, id="away-all-round-not-counted"),
        pytest.param((), VALID, None, 300, id="weight-zero-not-counted"),
    ],
)
def test_fairness(
    edits: tuple[tuple[str, Any], ...], allocation: Any, fairness_min: int | None, total: int
) -> None:
    result = objective(make(*edits), allocation)
    assert (result.fairness_min, result.total) == (fairness_min, total)


REFERENCE = [{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
             for a in VALID]


@pytest.mark.parametrize(
    ("allocation", "changes"),
    [
        pytest.param(VALID, 0, id="same"),
        pytest.param(VALID[:3], 1, id="unassigned-counts-as-changed"),
        pytest.param([("PH-0001", "R1", "HOSP-B"), ("PH-0001", "R2", "GP-A"), *VALID[2:]], 2,
                     id="swapped-periods"),
        pytest.param([], 4, id="empty"),
    ],
)
def test_changes(allocation: Any, changes: int) -> None:
    rnd = make(("reference", REFERENCE), ("weights.change", 7))
    result = objective(rnd, allocation)
    plain = objective(make(), allocation)
    assert result.changes == changes
    assert result.total == plain.total - 7 * changes


def test_changes_are_counted_per_stream() -> None:
    reference = [{"pharmacist": "PH-0001", "period": "R1", "placement": "GP-A"},
                 {"pharmacist": "PH-0001", "period": "R1", "placement": "HOSP-B"}]
    rnd = portfolio(("reference", reference))
    # The practice slot keeps GP-A; the host slot moves from HOSP-B to CP-C.
    result = objective(rnd, [("PH-0001", "R1", "GP-A"), ("PH-0001", "R1", "CP-C")])
    assert result.changes == 1
    assert objective(rnd, []).changes == 2


def test_no_reference_no_changes() -> None:
    assert objective(make(("weights.change", 7)), []).changes == 0


def test_listed_twice_counts_once() -> None:
    assert objective(make(), [*VALID, VALID[0]]) == objective(make(), VALID)


def test_objective_refuses_unknown_ids() -> None:
    with pytest.raises(ValueError, match="unknown placement id 'GP-X'"):
        objective(make(), [("PH-0001", "R1", "GP-X")])
    report = check(make(), [("PH-0001", "R1", "GP-X")])
    assert report.objective is None
    assert not report.feasible
    assert "objective undefined" in report.summary()


def test_check_reports_both() -> None:
    rnd = make(("organisations.0.max_pharmacists", 1))
    report = check(rnd, VALID)
    assert isinstance(report, CheckReport)
    assert [v.rule for v in report.violations] == ["organisation_cap", "organisation_cap"]
    assert report.objective is not None
    assert report.objective.total == 300
    assert report.objective.to_dict()["total"] == 300


# ---- brute force -------------------------------------------------------------------------


def test_brute_force_base_round() -> None:
    # R2 has two seats (GP-A, HOSP-B) for two pharmacists, so both are used in R2 and each
    # pharmacist does GP-A and HOSP-B in some order (or CP-C in R1): the best is 300, in
    # two ways (VALID, or each of them swapping periods).
    value, allocation = brute_force(make())
    assert value == 300
    assert allocation is not None
    assert set(allocation) in (
        set(VALID),
        {A("PH-0001", "R1", "HOSP-B"), A("PH-0001", "R2", "GP-A"),
         A("PH-0002", "R1", "GP-A"), A("PH-0002", "R2", "HOSP-B")},
    )


def fairness_round(fairness: int) -> Round:
    """Both prefer X; X is 30 km from PH-0001 (a given travel cost); everything else is 0.

    Scores: PH-0001 X 20 - 30 = -10, Y 0; PH-0002 X 20, Y 10. Best without fairness:
    PH-0001 Y, PH-0002 X = 20 with M = min(0, 2) = 0. The fair answer PH-0001 X,
    PH-0002 Y = 0 with M = min(2, 1) = 1, so it wins once fairness is worth more than 20.
    """
    here = {"lat": 0.0, "lon": 0.0}
    return Round.model_validate({
        "format": "spin-round/1",
        "periods": [{"id": "R1"}],
        "placements": [
            {"id": "X", "sector": "hospital", "location": here, "capacity": 1},
            {"id": "Y", "sector": "hospital", "location": here, "capacity": 1},
        ],
        "pharmacists": [
            {"id": "PH-0001", "home": here, "preferences": ["X"]},
            {"id": "PH-0002", "home": here, "preferences": ["X", "Y"]},
        ],
        "travel": [{"pharmacist": "PH-0001", "placement": "X", "cost": 30}],
        "rules": {"max_preferences": 2},
        "weights": {"preference": 10, "hard_to_recruit": 0, "population_health": 0,
                    "travel": 1, "unassigned": 1000, "fairness": fairness},
    })


@pytest.mark.parametrize(
    ("fairness", "value", "allocation"),
    [
        (0, 20, {A("PH-0001", "R1", "Y"), A("PH-0002", "R1", "X")}),
        (15, 20, {A("PH-0001", "R1", "Y"), A("PH-0002", "R1", "X")}),
        (25, 25, {A("PH-0001", "R1", "X"), A("PH-0002", "R1", "Y")}),
    ],
)
def test_brute_force_fairness(fairness: int, value: int, allocation: set[Assignment]) -> None:
    best, found = brute_force(fairness_round(fairness))
    assert best == value
    assert found is not None
    assert set(found) == allocation


def continuity_round() -> Round:
    """One pharmacist, two periods; practice GP-1 / GP-2 (no rotation), host H-1 / H-2.

    R = 3, prefs [GP-2, H-1]: GP-2 30 a period, H-1 20, GP-1 5 (population health), H-2 0.
    Practice: GP-2 both periods (60) beats GP-1 both (10); mixing is not allowed. Host:
    H-1 only has a seat in R2, so R1 H-2 and R2 H-1 (20). Optimum 80, unique.
    """
    here = {"lat": 0.0, "lon": 0.0}

    def placement(pid: str, stream: str, capacity: Any, health: int = 0) -> dict[str, Any]:
        return {"id": pid, "stream": stream, "sector": "general_practice" if stream ==
                "practice" else "hospital", "location": here, "capacity": capacity,
                "population_health": health}

    return Round.model_validate({
        "format": "spin-round/1",
        "periods": [{"id": "R1"}, {"id": "R2"}],
        "streams": [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}],
        "placements": [placement("GP-1", "practice", 1, health=5),
                       placement("GP-2", "practice", 1),
                       placement("H-1", "host", {"R2": 1}),
                       placement("H-2", "host", 1)],
        "pharmacists": [{"id": "PH-0001", "home": here, "preferences": ["GP-2", "H-1"]}],
        "rules": {"max_preferences": 3},
        "weights": {"preference": 10, "hard_to_recruit": 0, "population_health": 1,
                    "travel": 1},
    })


def test_brute_force_continuity_and_rotation() -> None:
    value, allocation = brute_force(continuity_round())
    assert value == 80
    assert allocation == (A("PH-0001", "R1", "GP-2"), A("PH-0001", "R1", "H-2"),
                          A("PH-0001", "R2", "GP-2"), A("PH-0001", "R2", "H-1"))


def test_brute_force_infeasible() -> None:
    # Everyone must be placed, but within 5 km PH-0002 can only reach HOSP-B, and is
    # banned from it.
    rnd = make(
        ("rules.allow_unassigned", False),
        ("rules.max_travel_km", 5),
        ("bans", [{"pharmacist": "PH-0002", "placement": "HOSP-B"}]),
    )
    assert brute_force(rnd) == (None, None)


def test_brute_force_respects_pins() -> None:
    pinned = make(("pins", [{"pharmacist": "PH-0001", "period": "R1", "placement": "CP-C"}]))
    # PH-0001: CP-C (10) in R1, then GP-A (140) in R2; PH-0002: GP-A (100) in R1, HOSP-B (40)
    # in R2. Total 290 (vs 300 unpinned).
    value, allocation = brute_force(pinned)
    assert value == 290
    assert allocation == (A("PH-0001", "R1", "CP-C"), A("PH-0001", "R2", "GP-A"),
                          A("PH-0002", "R1", "GP-A"), A("PH-0002", "R2", "HOSP-B"))


def test_plans_are_personally_feasible() -> None:
    rnd = portfolio(("rules.allow_unassigned", False))
    for ph in rnd.pharmacists:
        for plan in plans(rnd, ph):
            assert not [v for v in violations(rnd, plan) if v.pharmacist == ph.id]


# ---- random tiny rounds ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
def test_random_tiny_round_is_deterministic(seed: int) -> None:
    assert random_tiny_round(seed).to_data() == random_tiny_round(seed).to_data()


def test_random_tiny_rounds_differ_and_vary() -> None:
    rounds = [random_tiny_round(seed) for seed in range(60)]
    assert len({str(r.to_data()) for r in rounds}) == len(rounds)
    assert any(r.streams for r in rounds)
    assert any(not r.streams for r in rounds)
    assert {s.supervises for r in rounds for s in r.supervisors} == {
        "all", "non_prescribers", "early_years"}
    for feature in (
        lambda r: r.pins, lambda r: r.bans, lambda r: r.travel, lambda r: r.reference,
        lambda r: r.weights.fairness > 0, lambda r: not r.rules.allow_unassigned,
        lambda r: r.rules.min_distinct_sectors > 0, lambda r: r.rules.required_sectors,
        lambda r: any(p.history for p in r.pharmacists),
        lambda r: any(o.max_pharmacists is not None for o in r.organisations),
        lambda r: any(isinstance(pl.capacity, dict) for pl in r.placements),
        lambda r: any(pl.min_fill != 0 for pl in r.placements),
    ):
        assert any(feature(r) for r in rounds)


def test_tiny_round_optimum_is_feasible_and_consistent(tiny_round: Round) -> None:
    value, allocation = brute_force(tiny_round)
    if allocation is None:
        assert value is None
        return
    assert violations(tiny_round, allocation) == []
    assert objective(tiny_round, allocation).total == value
    # The per-assignment scores of a §5 result add up to the score part of the objective.
    assert sum(score(tiny_round, a) for a in allocation) == objective(
        tiny_round, allocation).assignment_score


@pytest.mark.parametrize("seed", range(12))
def test_pruning_does_not_change_the_optimum(seed: int) -> None:
    rnd = random_tiny_round(seed)
    assert brute_force(rnd)[0] == brute_force(rnd, prune=False)[0]
