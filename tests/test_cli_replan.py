"""The what-if commands: `matcher replan`, `matcher scenario`, `matcher diff`'s headline and
the warning of `matcher solve --reference`, on real solves of the samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from matcher import checker
from matcher.formats import load_round, save_round
from matcher.formats.results import load_result
from matcher.result import Result
from matcher.whatif import Scenario, minimal_change_weight
from matcher_cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
NEL = SAMPLES / "nel-2027-c1.json"
TINY = SAMPLES / "tiny.json"
NEL_SCENARIO = ROOT / "data" / "scenarios" / "nel-what-if.json"
FAST = ("--workers", "1", "--time-limit", "20")
AMU_CLOSES = [{"op": "close_placement", "placement": "HOSP-BHRUT-AMU", "from_period": "R2"}]
runner = CliRunner()


def run(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def held_in(result: Result, period: str) -> set[tuple[str, str, str]]:
    """(pharmacist, stream, placement) of every assignment of ``period``."""
    return {(a.pharmacist, a.stream, a.placement) for a in result.assignments
            if a.period == period}


def scenario_round(base: Path, overrides: list[dict[str, Any]], path: Path) -> Path:
    """Write the base round with the overrides applied to ``path`` (JSON)."""
    save_round(Scenario("x", load_round(base), overrides).apply(), path)
    return path


@pytest.fixture(scope="module")
def nel_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NEL sample's plan in force (one search worker: deterministic)."""
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    result = run("solve", NEL, "--out", path, *FAST)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def nel_closed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NEL round after the Queen's AMU closes from R2."""
    return scenario_round(NEL, AMU_CLOSES, tmp_path_factory.mktemp("round") / "closed.json")


# ---- matcher replan ---------------------------------------------------------------------------


def test_replan_keeps_served_periods_exactly_and_reports_the_moves(
    nel_plan: Path, nel_closed: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "new.json"
    result = run("replan", nel_closed, "--reference", nel_plan, "--from", "R2", "--out", out,
                 *FAST)
    assert result.exit_code == 0, result.output
    plan, new, rnd = load_result(nel_plan), load_result(out), load_round(nel_closed)
    # R1 is served: exactly as it was. Only the two AMU holders of R2 and R3 move.
    assert held_in(new, "R1") == held_in(plan, "R1")
    displaced = {(a.pharmacist, a.period, a.stream) for a in plan.assignments
                 if a.placement == "HOSP-BHRUT-AMU" and a.period != "R1"}
    held = {(a.pharmacist, a.period, a.stream): a.placement for a in new.assignments}
    moved = {slot for slot, placement in
             (((a.pharmacist, a.period, a.stream), a.placement) for a in plan.assignments)
             if held.get(slot) != placement}
    assert moved == displaced
    assert checker.violations(rnd, new.allocation) == []
    lines = result.output.splitlines()
    r1 = sum(1 for a in plan.assignments if a.period == "R1")
    assert f"served periods kept exactly: R1 ({r1} assignment(s) pinned)" in lines
    pharmacists = len({p for p, _, _ in displaced})
    assert f"{len(displaced)} slot(s) changed for {pharmacists} pharmacist(s)" in lines
    weight = minimal_change_weight(rnd)
    assert (f"re-plan from R2 against plan.json: change weight {weight:,} per moved slot (the "
            "default for a weight of 0: more than any other gain, so the fewest slots move, "
            "then the best plan among those)") in lines
    # The headline compares plan quality, not the objective with its huge change penalty.
    quality = new.kpis["plan_quality"]
    assert quality == new.objective + weight * len(displaced)
    assert (f"plan.json -> re-plan: status optimal -> optimal, plan quality "
            f"{plan.objective:,} -> {quality:,} ({quality - plan.objective:+,}); objective "
            f"with the change penalty: {plan.objective:,} -> {new.objective:,}") in lines
    assert f"wrote {out}" in lines


def test_replan_json_says_which_change_weight_was_used(nel_plan: Path, tmp_path: Path) -> None:
    # The round's own weights.change is used when it is not 0 ...
    charged = scenario_round(NEL, [*AMU_CLOSES, {"op": "set_weights",
                                                 "weights": {"change": 500}}],
                             tmp_path / "charged.json")
    got = json.loads(run("replan", charged, "--reference", nel_plan, "--from", "R2", "--json",
                         *FAST).output)
    assert (got["replan"]["change_weight"], got["replan"]["change_weight_source"]) == (
        500, "round")
    assert got["replan"]["served_periods"] == ["R1"]
    assert got["replan"]["served_kept"] is True
    assert got["replan"]["moved_slots"] == len(got["diff"]["moves"])
    assert got["result"]["status"] == "optimal"
    # ... --change-weight wins over it; and 0 falls back to the fewest-moves default.
    option = json.loads(run("replan", charged, "--reference", nel_plan, "--from", "R2",
                            "--change-weight", "7", "--json", *FAST).output)
    assert (option["replan"]["change_weight"], option["replan"]["change_weight_source"]) == (
        7, "option")
    zero = json.loads(run("replan", charged, "--reference", nel_plan, "--from", "R2",
                          "--change-weight", "0", "--json", *FAST).output)
    assert zero["replan"]["change_weight_source"] == "default"
    assert zero["replan"]["change_weight"] == minimal_change_weight(load_round(charged))
    assert zero["replan"]["moved_slots"] <= option["replan"]["moved_slots"]


def test_replan_never_places_a_newcomer_in_a_served_period(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert run("solve", TINY, "--out", plan, *FAST).exit_code == 0
    joined = scenario_round(TINY, [{"op": "add_pharmacist", "pharmacist": {
        "id": "PH-4", "home": {"lat": 51.5, "lon": 0.0}, "preferences": ["GP-B"]}}],
        tmp_path / "joined.json")
    out = tmp_path / "new.json"
    result = run("replan", joined, "--reference", plan, "--from", "P2", "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    before, after = load_result(plan), load_result(out)
    assert held_in(after, "P1") == held_in(before, "P1")
    assert [a.period for a in after.assignments if a.pharmacist == "PH-4"] == ["P2"]
    assert "served periods kept exactly: P1 (3 assignment(s) pinned)" in result.output


def test_replan_says_which_served_slots_went_with_someone_who_left(
    nel_plan: Path, tmp_path: Path,
) -> None:
    left = scenario_round(NEL, [{"op": "remove_pharmacist", "pharmacist": "PH-0027"}],
                          tmp_path / "left.json")
    result = run("replan", left, "--reference", nel_plan, "--from", "R2", *FAST)
    assert result.exit_code == 0, result.output
    plan = load_result(nel_plan)
    theirs = [a for a in plan.assignments if a.pharmacist == "PH-0027"]
    r1 = [a for a in plan.assignments if a.period == "R1" and a.pharmacist != "PH-0027"]
    gone = sum(1 for a in theirs if a.period == "R1")
    assert (f"served periods kept: R1 ({len(r1)} assignment(s) pinned), except {gone} "
            "slot(s) of pharmacists or placements no longer in the round") in result.stdout
    assert result.stderr == (f"note: {len(theirs)} assignment(s) of the reference name "
                             "pharmacists, placements or periods no longer in the round; "
                             "they are not kept\n")


def test_replan_without_an_allocation_exits_2(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert run("solve", TINY, "--out", plan, *FAST).exit_code == 0
    # In P2 nobody may go without, and only CP-D stays open for PH-1 and PH-2.
    squeezed = scenario_round(TINY, [
        {"op": "set_rules", "rules": {"allow_unassigned": False}},
        *({"op": "close_placement", "placement": p, "from_period": "P2"}
          for p in ("GP-A", "GP-B", "HOSP-C"))], tmp_path / "squeezed.json")
    result = run("replan", squeezed, "--reference", plan, "--from", "P2", *FAST)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("round tiny: infeasible")
    assert "served periods" not in result.output


def test_replan_reports_every_input_problem_at_once(tmp_path: Path) -> None:
    data = json.loads(TINY.read_text())
    data["placements"][0]["location"]["lat"] = 123
    bad_round = tmp_path / "round.json"
    bad_round.write_text(json.dumps(data))
    not_a_result = tmp_path / "plan.json"
    not_a_result.write_text("{}")
    result = run("replan", bad_round, "--reference", not_a_result, "--from", "P2")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "INVALID: 2 problems to fix",
        "  - round.json: placements[GP-A].location.lat: must be at most 90.0",
        "  - plan.json: not a spin-result/1 JSON document: not a spin-result/1 document "
        "(format is None)",
    ]
    infeasible = tmp_path / "infeasible.json"
    assert run("solve", SAMPLES / "infeasible.json", "--out", infeasible).exit_code == 2
    result = run("replan", TINY, "--reference", infeasible, "--from", "P9")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "INVALID: 2 problems to fix",
        "  - infeasible.json: the reference has no allocation (status infeasible): give the "
        "result of the plan in force",
        "  - --from: unknown period id 'P9'; the periods are: P1, P2",
    ]


def test_replan_refuses_a_change_to_a_served_period(nel_plan: Path, tmp_path: Path) -> None:
    closed_all = scenario_round(NEL, [{"op": "close_placement", "placement": "HOSP-BHRUT-AMU"}],
                                tmp_path / "closed-all.json")
    result = run("replan", closed_all, "--reference", nel_plan, "--from", "R2", *FAST)
    assert result.exit_code == 1
    held = sorted(a.pharmacist for a in load_result(nel_plan).assignments
                  if a.placement == "HOSP-BHRUT-AMU" and a.period == "R1")
    assert result.output.splitlines() == [
        f"INVALID: {len(held)} problem{'s' if len(held) != 1 else ''} to fix",
        *(f"  - plan.json: kept as served (before R2): {p} is pinned to HOSP-BHRUT-AMU in R1 "
          "but HOSP-BHRUT-AMU has no capacity in R1" for p in held),
        "The periods before R2 are kept exactly as served: undo the round's change to them, "
        "or re-plan from an earlier period.",
    ]


def test_replan_usage_errors_exit_2(nel_plan: Path, tmp_path: Path) -> None:
    assert run("replan", NEL, "--reference", nel_plan).exit_code == 2  # no --from
    bad_out = run("replan", NEL, "--reference", nel_plan, "--from", "R2", "--out",
                  tmp_path / "new.txt")
    assert bad_out.exit_code == 2
    assert not (tmp_path / "new.txt").exists()


# ---- matcher solve --reference ----------------------------------------------------------------


def test_solve_with_a_reference_and_no_change_weight_warns(nel_plan: Path,
                                                           nel_closed: Path) -> None:
    result = run("solve", nel_closed, "--reference", nel_plan, *FAST)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: weights.change is 0, so --reference only warm-starts the search: nothing "
        "stops it moving people, served periods included; to re-plan keeping served periods "
        "and charging every move, use `matcher replan ROUND --reference EARLIER.json --from "
        "PERIOD`"]
    assert "warning" not in result.stdout


def test_solve_with_a_reference_and_a_change_weight_does_not_warn(nel_plan: Path,
                                                                  tmp_path: Path) -> None:
    charged = scenario_round(NEL, [*AMU_CLOSES, {"op": "set_weights",
                                                 "weights": {"change": 500}}],
                             tmp_path / "charged.json")
    result = run("solve", charged, "--reference", nel_plan, *FAST)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_solve_help_no_longer_promises_little_disruption() -> None:
    text = " ".join(run("solve", "--help").output.replace("│", " ").split())
    assert "little disruption" not in text
    assert "matcher replan" in text


# ---- matcher scenario -------------------------------------------------------------------------


def test_scenario_solves_base_and_scenario_and_prints_the_diff(tmp_path: Path) -> None:
    out, saved = tmp_path / "scenario.json", tmp_path / "what-if.xlsx"
    result = run("scenario", NEL, NEL_SCENARIO, "--out", out, "--save-round", saved, *FAST)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:7] == [
        "scenario 'what-if' of round nel-2027-c1 (4 overrides):",
        "  - close_placement HOSP-BHRUT-AMU from R2",
        "  - set_capacity HOSP-BARTS-NUH to 4",
        "  - set_weights hard_to_recruit=60",
        "  - set_unavailable PH-0010 from R3",
        f"wrote the scenario's round to {saved}",
        lines[6],
    ]
    assert lines[6].startswith("base -> what-if: status optimal -> optimal, objective ")
    # The written result is the scenario's, and it is feasible for the scenario's round.
    changed = Scenario.from_dict(json.loads(NEL_SCENARIO.read_text()),
                                 base=load_round(NEL)).apply()
    assert load_round(saved) == changed
    after = load_result(out)
    assert checker.violations(changed, after.allocation) == []
    assert not [a for a in after.assignments
                if a.placement == "HOSP-BHRUT-AMU" and a.period != "R1"]
    assert not [a for a in after.assignments if a.pharmacist == "PH-0010" and a.period == "R3"]
    as_json = json.loads(run("scenario", NEL, NEL_SCENARIO, "--json", *FAST).output)
    assert as_json["diff"]["objective"]["total"] == {
        "before": as_json["base"]["objective"], "after": after.objective,
        "delta": after.objective - as_json["base"]["objective"]}
    assert [o["op"] for o in as_json["scenario"]["overrides"]] == [
        "close_placement", "set_capacity", "set_weights", "set_unavailable"]


def test_scenario_reports_every_problem_of_both_files_at_once(tmp_path: Path) -> None:
    data = json.loads(TINY.read_text())
    data["placements"][0]["location"]["lat"] = 123
    bad_round = tmp_path / "round.json"
    bad_round.write_text(json.dumps(data))
    scenario = tmp_path / "what-if.json"
    scenario.write_text(json.dumps({"nmae": "typo", "overrides": [
        {"op": "close_placement", "placement": "GP-A", "from_period": "P2"},
        {"op": "set_capacity", "placement": "GP-B"},
        {"op": "explode"},
    ]}))
    result = run("scenario", bad_round, scenario)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[:4] == [
        "INVALID: 4 problems to fix",
        "  - round.json: placements[GP-A].location.lat: must be at most 90.0",
        "  - what-if.json: scenario.nmae: unknown key 'nmae' (did you mean 'name'?); a "
        "scenario has the keys format, name, overrides, base",
        "  - what-if.json: overrides[#2].capacity: set_capacity: required field is missing",
    ]
    assert lines[4].startswith("  - what-if.json: overrides[#3].op: unknown op 'explode'; "
                               "the ops are: set_weights, ")


def test_scenario_overrides_that_do_not_apply_are_all_named(tmp_path: Path) -> None:
    scenario = tmp_path / "what-if.json"
    scenario.write_text(json.dumps({"title": "four mistakes", "overrides": [
        {"op": "close_placement", "placement": "GP-Z", "from_period": "P2"},
        {"op": "set_weights", "weights": {"hard_to_recruit": 60}},
        {"op": "set_capacity", "placement": "GP-B", "capacity": 2, "period": "P7"},
        {"op": "ban", "pharmacist": "PH-9", "placement": "GP-A"},
    ]}))
    result = run("scenario", TINY, scenario)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "INVALID: 4 problems to fix",
        "  - what-if.json: scenario.title: unknown key 'title'; a scenario has the keys "
        "format, name, overrides, base",
        "  - what-if.json: overrides[#1].placement: close_placement GP-Z from P2: unknown "
        "placement id 'GP-Z'",
        "  - what-if.json: overrides[#3].period: set_capacity GP-B in P7 to 2: unknown period "
        "id 'P7'; the periods are: P1, P2",
        "  - what-if.json: overrides[#4].pharmacist: ban PH-9 from GP-A: unknown pharmacist id "
        "'PH-9'",
    ]


@pytest.mark.parametrize(("text", "message"), [
    ('{"overrides": [', "not valid JSON at line 1, column 16: Expecting value"),
    ('[{"op": "set_weights", "weights": {"travel": 2}}]',
     'scenario: a scenario is a JSON object with "name" and "overrides", not a list: write '
     'it as {"name": ..., "overrides": [the list]}'),
    ('{"name": "no ops"}', 'scenario.overrides: the scenario has no "overrides": give the '
     'list of changes, each an object with an "op"'),
])
def test_a_scenario_file_that_is_not_a_scenario(tmp_path: Path, text: str,
                                                message: str) -> None:
    scenario = tmp_path / "what-if.json"
    scenario.write_text(text)
    result = run("scenario", TINY, scenario)
    assert result.exit_code == 1
    assert result.output.splitlines() == ["INVALID: 1 problem to fix",
                                          f"  - what-if.json: {message}"]


def test_scenario_without_an_allocation_exits_2_with_the_diagnosis(tmp_path: Path) -> None:
    scenario = tmp_path / "squeeze.json"
    scenario.write_text(json.dumps({"name": "squeeze", "overrides": [
        {"op": "set_rules", "rules": {"allow_unassigned": False}},
        *({"op": "close_placement", "placement": p, "from_period": "P2"}
          for p in ("GP-A", "GP-B", "HOSP-C"))]}))
    result = run("scenario", TINY, scenario, *FAST)
    assert result.exit_code == 2, result.output
    assert "squeeze: round tiny: infeasible" in result.output
    assert "base -> squeeze: status optimal -> infeasible, objective 778 -> -" in result.output
    assert run("scenario", TINY, scenario, "--out", tmp_path / "r.txt").exit_code == 2


# ---- matcher diff -----------------------------------------------------------------------------


def test_diff_headline_shows_plan_quality_beside_the_objective(
    nel_plan: Path, nel_closed: Path, tmp_path: Path,
) -> None:
    new = tmp_path / "new.json"
    assert run("replan", nel_closed, "--reference", nel_plan, "--from", "R2", "--out", new,
               *FAST).exit_code == 0
    plan, after = load_result(nel_plan), load_result(new)
    result = run("diff", nel_plan, new)
    assert result.exit_code == 0, result.output
    quality = after.kpis["plan_quality"]
    assert result.output.splitlines()[0] == (
        f"plan.json -> new.json: status optimal -> optimal, plan quality {plan.objective:,} "
        f"-> {quality:,} ({quality - plan.objective:+,}); objective with the change penalty: "
        f"{plan.objective:,} -> {after.objective:,}")
    data = json.loads(run("diff", nel_plan, new, "--json").output)
    assert data["plan_quality"] == {"before": plan.objective, "after": quality,
                                    "delta": quality - plan.objective}
    assert data["objective"]["total"]["after"] == after.objective  # unchanged field
    # Two plans without a change penalty keep the plain objective headline.
    again = run("diff", nel_plan, nel_plan)
    assert again.output.splitlines()[0] == (
        f"plan.json -> plan.json: status optimal -> optimal, objective {plan.objective:,} -> "
        f"{plan.objective:,} (+0)")


def test_diff_reports_both_unreadable_results(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "b.json").write_text(json.dumps(Result(round="x", status="unknown").to_dict()))
    result = run("diff", tmp_path / "a.json", tmp_path / "missing.json")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "INVALID: 2 problems to fix",
        "  - a.json: not a spin-result/1 JSON document: not a spin-result/1 document (format "
        "is None)",
        "  - missing.json: no such file: 'missing.json'",
    ]
    assert run("diff", tmp_path / "b.json", tmp_path / "b.json").exit_code == 0
