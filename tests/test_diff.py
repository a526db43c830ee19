"""Diff of two results on hand-checkable results: who moved, objective and KPI deltas."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from matcher.result import Result
from matcher.validation import parse_round
from matcher.whatif import Move, ResultDiff, Scenario, diff, plan_quality


def _result(rows: list[tuple[str, str, str, str]], objective: int, kpis: dict[str, Any],
            status: str = "optimal") -> Result:
    return Result.from_dict({
        "format": "spin-result/1", "round": "hand", "status": status,
        "objective": objective, "bound": objective, "gap": 0.0,
        "assignments": [{"pharmacist": p, "period": t, "stream": s, "placement": pl,
                         "score": 0, "terms": {}} for p, t, s, pl in rows],
        "unassigned": [], "kpis": kpis, "diagnosis": [], "stats": {},
    })


@pytest.fixture
def before() -> Result:
    """Two pharmacists, two periods, portfolio streams: seven slots held."""
    return _result([
        ("PH-1", "R1", "practice", "GP-1"), ("PH-1", "R2", "practice", "GP-1"),
        ("PH-1", "R1", "host", "HOSP-1"), ("PH-1", "R2", "host", "MH-1"),
        ("PH-2", "R1", "practice", "GP-2"), ("PH-2", "R2", "practice", "GP-2"),
        ("PH-2", "R1", "host", "MH-1"),
    ], 1000, {"first_choice": 3, "fill": 0.5, "unassigned": 1, "label": "x",
              "flag": True, "nested": {"a": 1},
              "objective_parts": {"total": 1000, "preference": 600, "changes": 0}})


@pytest.fixture
def after() -> Result:
    """PH-1 moves host placement in R2, PH-2 gains a host placement in R2 and loses R1's."""
    return _result([
        ("PH-1", "R1", "practice", "GP-1"), ("PH-1", "R2", "practice", "GP-1"),
        ("PH-1", "R1", "host", "HOSP-1"), ("PH-1", "R2", "host", "CP-1"),
        ("PH-2", "R1", "practice", "GP-2"), ("PH-2", "R2", "practice", "GP-2"),
        ("PH-2", "R2", "host", "MH-1"),
    ], 950, {"first_choice": 2, "fill": 0.625, "unassigned": 1, "label": "y",
             "objective_parts": {"total": 950, "preference": 580, "changes": 3}})


def test_moves_are_every_slot_that_differs(before: Result, after: Result) -> None:
    d = diff(before, after)
    assert d.moves == (
        Move("PH-1", "R2", "host", "MH-1", "CP-1"),
        Move("PH-2", "R1", "host", "MH-1", None),
        Move("PH-2", "R2", "host", None, "MH-1"),
    )
    assert [m.kind for m in d.moves] == ["moved", "unplaced", "placed"]
    assert d.moved_pharmacists == ("PH-1", "PH-2")


def test_objective_and_kpi_deltas(before: Result, after: Result) -> None:
    d = diff(before, after, labels=("base", "what-if"))
    assert d.objective_delta == -50
    assert d.objective == {"total": (1000, 950), "preference": (600, 580), "changes": (0, 3)}
    # Flat numbers only: strings, booleans and nested dicts are not KPIs to subtract.
    assert d.kpis == {"first_choice": (3, 2), "fill": (0.5, 0.625), "unassigned": (1, 1)}
    frames = d.to_frames()
    assert list(frames.moves.columns) == ["pharmacist", "period", "stream", "before",
                                          "after", "kind"]
    assert len(frames.moves) == 3
    kpis = frames.kpis.set_index("kpi")
    assert kpis.loc["first_choice", "delta"] == -1
    assert kpis.loc["fill", "delta"] == pytest.approx(0.125)
    assert kpis.loc["unassigned", "delta"] == 0
    objective = frames.objective.set_index("part")
    assert objective.loc["total"].tolist() == [1000, 950, -50]


def test_text_lists_moves_and_what_changed(before: Result, after: Result) -> None:
    text = diff(before, after, labels=("base", "what-if")).to_text()
    lines = text.splitlines()
    assert lines[0] == "base -> what-if: status optimal -> optimal, objective 1,000 -> 950 (-50)"
    assert lines[1] == "3 slot(s) changed for 2 pharmacist(s)"
    assert "  PH-1  R2   host  MH-1 -> CP-1" in lines
    assert "  PH-2  R1   host  MH-1 -> (none)" in lines
    assert "  PH-2  R2   host  (none) -> MH-1" in lines
    assert "unassigned" not in text  # unchanged KPIs are left out by default
    assert "unassigned" in diff(before, after).to_text(all_kpis=True)
    assert "... and 2 more" in diff(before, after).to_text(max_moves=1)
    assert str(diff(before, after)) == diff(before, after).to_text()


def test_identical_results_have_no_moves(before: Result) -> None:
    d = diff(before, before)
    assert d.moves == ()
    assert d.objective_delta == 0
    assert "0 slot(s) changed for 0 pharmacist(s)" in d.to_text()
    assert d.to_frames().moves.empty


def test_a_result_without_solution(before: Result) -> None:
    empty = Result(round="hand", status="infeasible")
    d = diff(before, empty)
    assert len(d.moves) == 7
    assert all(m.kind == "unplaced" for m in d.moves)
    assert d.objective_delta is None
    assert "objective 1,000 -> -" in d.to_text()


def test_periods_follow_the_round_order_when_given() -> None:
    rows_a = [("PH-1", t, "rotation", "A") for t in ("R10", "R2", "Autumn")]
    rows_b = [("PH-1", t, "rotation", "B") for t in ("R10", "R2", "Autumn")]
    a, b = _result(rows_a, 0, {}), _result(rows_b, 0, {})
    assert [m.period for m in diff(a, b).moves] == ["Autumn", "R2", "R10"]
    rnd = parse_round({
        "format": "spin-round/1",
        "periods": [{"id": "R2"}, {"id": "R10"}, {"id": "Autumn"}],
        "placements": [{"id": x, "sector": "hospital", "location": {"lat": 0, "lon": 0},
                        "capacity": 1} for x in "AB"],
        "pharmacists": [{"id": "PH-1", "home": {"lat": 0, "lon": 0}}],
    })
    assert [m.period for m in diff(a, b, round=rnd).moves] == ["R2", "R10", "Autumn"]


def test_to_dict_is_json_ready(before: Result, after: Result) -> None:
    import json

    data = json.loads(json.dumps(diff(before, after).to_dict()))
    assert data["moved_pharmacists"] == ["PH-1", "PH-2"]
    assert data["objective"]["total"] == {"before": 1000, "after": 950, "delta": -50}
    assert data["moves"][0] == {"pharmacist": "PH-1", "period": "R2", "stream": "host",
                                "before": "MH-1", "after": "CP-1", "kind": "moved"}
    assert isinstance(diff(before, after), ResultDiff)


def test_diff_of_real_solves_matches_the_allocations() -> None:
    from bruteforce import random_tiny_round

    from matcher.solving import SolveParams, solve
    from matcher.whatif import Scenario

    rnd = random_tiny_round(3)
    one = solve(rnd, SolveParams(workers=1, time_limit_s=10))
    target = one.assignments[0]
    other = solve(Scenario("ban", rnd, [{"op": "ban", "pharmacist": target.pharmacist,
                                         "placement": target.placement,
                                         "period": target.period}]).apply(),
                  SolveParams(workers=1, time_limit_s=10))
    d = diff(one, other)
    slot = (target.pharmacist, target.period, target.stream)
    assert slot in {(m.pharmacist, m.period, m.stream) for m in d.moves}
    frame = pd.DataFrame([a.to_dict() for a in other.assignments])
    for m in d.moves:
        held = frame[(frame.pharmacist == m.pharmacist) & (frame.period == m.period)
                     & (frame.stream == m.stream)].placement.tolist()
        assert held == ([] if m.after is None else [m.after])


def test_the_diff_command(before: Result, after: Result, tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from matcher_cli import app

    a, b = tmp_path / "plan.json", tmp_path / "what-if.json"
    a.write_text(json.dumps(before.to_dict()))
    b.write_text(json.dumps(after.to_dict()))
    run = CliRunner().invoke(app, ["diff", str(a), str(b)])
    assert run.exit_code == 0, run.output
    assert run.output.splitlines()[0].startswith("plan.json -> what-if.json: status optimal")
    assert "  PH-1  R2   host  MH-1 -> CP-1" in run.output
    as_json = CliRunner().invoke(app, ["diff", str(a), str(b), "--json"])
    assert json.loads(as_json.output)["objective"]["total"]["delta"] == -50
    (tmp_path / "bad.json").write_text("{}")
    bad = CliRunner().invoke(app, ["diff", str(a), str(tmp_path / "bad.json")])
    assert bad.exit_code == 1
    assert "not a spin-result/1 JSON document" in bad.output


def test_the_headline_leads_with_plan_quality_when_a_change_penalty_is_paid(
    before: Result,
) -> None:
    # A re-plan: one slot moved, charged 100,000 (the objective alone reads as a collapse).
    replanned = _result(
        [(a.pharmacist, a.period, a.stream, a.placement) for a in before.assignments],
        -99_020, {"changes": 1, "plan_quality": 980,
                  "objective_parts": {"total": -99_020, "preference": 580, "changes": 1}})
    d = diff(before, replanned, labels=("plan", "re-plan"))
    assert d.quality == (1000, 980)
    assert d.quality_delta == -20
    assert d.change_penalty
    assert d.to_text().splitlines()[0] == (
        "plan -> re-plan: status optimal -> optimal, plan quality 1,000 -> 980 (-20); "
        "objective with the change penalty: 1,000 -> -99,020")
    assert "plan_quality" not in d.to_text()  # the headline has it; no KPI line repeats it
    data = d.to_dict()
    assert data["plan_quality"] == {"before": 1000, "after": 980, "delta": -20}
    assert data["objective"]["total"] == {"before": 1000, "after": -99_020,
                                          "delta": -100_020}  # the old field, unchanged
    assert data["kpis"]["plan_quality"] == {"before": None, "after": 980, "delta": None}
    parts = d.to_frames().objective.set_index("part")
    assert parts.loc["plan_quality"].tolist() == [1000, 980, -20]


def test_plan_quality_of_results_that_do_not_record_it(before: Result, after: Result) -> None:
    # No changes counted: the objective is the plan quality. Changes counted but no
    # plan_quality (a result written before it existed): unknown, and the headline stays
    # the objective's.
    assert plan_quality(before) == 1000
    assert plan_quality(after) is None
    assert plan_quality(Result(round="hand", status="infeasible")) is None
    d = diff(before, after)
    assert d.quality == (1000, None)
    assert not d.change_penalty
    assert d.to_dict()["plan_quality"] == {"before": 1000, "after": None, "delta": None}
    assert d.to_text().splitlines()[0].endswith("objective 1,000 -> 950 (-50)")


def test_a_solved_result_records_its_plan_quality() -> None:
    from bruteforce import random_tiny_round

    from matcher.solving import SolveParams, solve
    from matcher.validation import with_changes

    rnd = random_tiny_round(3)
    one = solve(rnd, SolveParams(workers=1, time_limit_s=10))
    assert one.kpis["plan_quality"] == one.objective
    target = one.assignments[0]
    charged = with_changes(
        Scenario("ban", rnd, [{"op": "ban", "pharmacist": target.pharmacist,
                               "placement": target.placement,
                               "period": target.period}]).apply(),
        reference=[{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
                   for a in one.assignments],
        weights={**rnd.weights.model_dump(), "change": 1000})
    other = solve(charged, SolveParams(workers=1, time_limit_s=10))
    assert other.kpis["changes"] >= 1
    assert other.kpis["plan_quality"] == other.objective + 1000 * other.kpis["changes"]
