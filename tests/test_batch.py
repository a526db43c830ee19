"""Batch runs (matcher.batch and ``matcher batch``): outputs, skipping, force, failing
cohorts and exit codes."""

from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher.batch import (
    STALE_DIR,
    STATE_FILE,
    SUMMARY_COLUMNS,
    BatchSettings,
    CohortOutcome,
    discover,
    exit_code,
    run_batch,
)
from matcher.formats import load_round, save_round
from matcher.formats.results import load_result
from matcher_cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
FAST = BatchSettings(time_limit_s=20, workers=1, explain_seconds=0)
runner = CliRunner()


def summary_rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "summary.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == SUMMARY_COLUMNS
        return {row["cohort"]: row for row in reader}


@pytest.fixture
def cohorts(tmp_path: Path) -> Path:
    """Three small cohorts in three formats: the tiny sample as JSON, the same round as an
    Excel workbook under another name, and the infeasible sample."""
    folder = tmp_path / "cohorts"
    folder.mkdir()
    shutil.copy(SAMPLES / "tiny.json", folder / "tiny.json")
    save_round(load_round(SAMPLES / "tiny.json"), folder / "pilot.xlsx")
    shutil.copy(SAMPLES / "infeasible.json", folder / "havering.json")
    (folder / "notes.txt").write_text("not a round")
    return folder


def test_first_run_writes_every_output(cohorts: Path, tmp_path: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    caplog.set_level(logging.INFO)
    summary = run_batch(cohorts, out, settings=FAST)
    assert [o.cohort for o in summary.outcomes] == ["havering", "pilot", "tiny"]
    assert {o.cohort: o.status for o in summary.outcomes} == {
        "havering": "infeasible", "pilot": "optimal", "tiny": "optimal"}
    assert summary.exit_code == 2
    rows = summary_rows(out)
    tiny = rows["tiny"]
    assert (tiny["status"], tiny["action"], tiny["objective"], tiny["bound"], tiny["gap"]) == (
        "optimal", "run", "778", "778", "0.0")
    assert (tiny["assignments"], tiny["first_choice_share"], tiny["shortfall"],
            tiny["baseline_objective"]) == ("5", "0.4", "0", "-178")
    assert tiny["result"] == "tiny/result.json"
    assert tiny["workbook"] == "tiny/workbook.xlsx"
    assert len(tiny["input_sha256"]) == 64
    for name in ("result.json", "round.json", "report.html", "workbook.xlsx"):
        assert (out / "tiny" / name).is_file()
    assert load_result(out / "pilot" / "result.json").objective == 778
    havering = rows["havering"]
    assert havering["status"] == "infeasible"
    assert havering["workbook"] == ""
    assert "conflict" in havering["message"]
    assert (out / "havering" / "report.html").is_file()
    # Logs name cohorts, never people.
    names = [ph.name for ph in load_round(SAMPLES / "tiny.json").pharmacists if ph.name]
    assert names
    assert not any(n in caplog.text for n in names)
    assert "notes.txt" in caplog.text


def test_unchanged_inputs_are_skipped_and_changes_rerun(cohorts: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch(cohorts, out, settings=FAST)
    before = (out / "tiny" / "result.json").stat().st_mtime_ns
    again = run_batch(cohorts, out, settings=FAST)
    assert {o.action for o in again.outcomes} == {"skipped"}
    assert again.exit_code == 2  # the infeasible cohort still counts
    assert (out / "tiny" / "result.json").stat().st_mtime_ns == before
    assert summary_rows(out)["tiny"]["objective"] == "778"
    # Change one input: only that cohort runs.
    data = json.loads((cohorts / "tiny.json").read_text())
    data["weights"]["hard_to_recruit"] = 0
    (cohorts / "tiny.json").write_text(json.dumps(data))
    third = run_batch(cohorts, out, settings=FAST)
    assert {o.cohort: o.action for o in third.outcomes} == {
        "havering": "skipped", "pilot": "skipped", "tiny": "run"}
    assert summary_rows(out)["tiny"]["objective"] != "778"
    # Force runs everything.
    forced = run_batch(cohorts, out, settings=FAST, force=True)
    assert {o.action for o in forced.outcomes} == {"run"}
    # Missing outputs are made again.
    (out / "pilot" / "report.html").unlink()
    fourth = run_batch(cohorts, out, settings=FAST)
    assert {o.cohort: o.action for o in fourth.outcomes}["pilot"] == "run"
    state = json.loads((out / STATE_FILE).read_text())
    assert set(state["cohorts"]) == {"havering", "pilot", "tiny"}


def test_invalid_cohort_and_exit_code_precedence(cohorts: Path, tmp_path: Path) -> None:
    (cohorts / "broken.json").write_text('{"format": "spin-round/1", "periods": []}')
    out = tmp_path / "out"
    summary = run_batch(cohorts, out, settings=FAST)
    assert summary.exit_code == 1  # invalid wins over infeasible
    row = summary_rows(out)["broken"]
    assert row["status"] == "invalid"
    assert row["report"] == "broken/problems.txt"
    problems = (out / "broken" / "problems.txt").read_text()
    assert problems.startswith("broken.json: ")
    assert "periods" in problems
    # Fix the input: its old problems.txt goes, its outputs appear.
    shutil.copy(SAMPLES / "tiny.json", cohorts / "broken.json")
    (cohorts / "havering.json").unlink()
    fixed = run_batch(cohorts, out, settings=FAST)
    assert fixed.exit_code == 0
    assert not (out / "broken" / "problems.txt").exists()
    assert (out / "broken" / "result.json").is_file()


def test_exit_code_rules() -> None:
    def o(status: str) -> CohortOutcome:
        return CohortOutcome(cohort=status, input=status, status=status)

    assert exit_code([o("optimal"), o("feasible")]) == 0
    assert exit_code([o("optimal"), o("unknown")]) == 2
    assert exit_code([o("error")]) == 2
    assert exit_code([o("infeasible"), o("invalid")]) == 1
    assert exit_code([]) == 0


def test_discover_names_and_formats(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "a.xlsx").write_bytes(b"")
    (tmp_path / "bundle").mkdir()
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "out").mkdir()
    found = discover(tmp_path, exclude=[tmp_path / "out"])
    assert [(c.name, c.path.name) for c in found] == [
        ("a-json", "a.json"), ("a-xlsx", "a.xlsx"), ("bundle", "bundle")]


def test_parallel_jobs(cohorts: Path, tmp_path: Path) -> None:
    (cohorts / "havering.json").unlink()
    summary = run_batch(cohorts, tmp_path / "out", settings=FAST, jobs=2)
    assert {o.cohort: o.status for o in summary.outcomes} == {"pilot": "optimal",
                                                               "tiny": "optimal"}
    assert summary.exit_code == 0


def test_cli_batch(cohorts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["batch", str(cohorts), "--out", str(out), "--time-limit", "20",
            "--explain-seconds", "0", "--workers", "1"]
    first = runner.invoke(app, args)
    assert first.exit_code == 2, first.output
    assert ("3 cohort(s): ran 3 (2 with an allocation, 1 without), skipped 0 unchanged (0 "
            "with an allocation from their last run, 0 without)") in first.stdout
    assert "  - havering: infeasible" in first.stdout
    assert f"wrote {out / 'summary.csv'}" in first.stdout
    # Not a terminal: plain log lines, no progress bar.
    assert "[1/3] havering: infeasible" in first.stderr
    assert "tiny: optimal, objective 778" in first.stderr
    second = runner.invoke(app, args)
    assert second.exit_code == 2
    assert "[skip] tiny: optimal, objective 778 (unchanged, skipped)" in second.stderr
    # All skipped: nothing is said to have been solved this time.
    assert ("3 cohort(s): ran 0 (0 with an allocation, 0 without), skipped 3 unchanged (2 "
            "with an allocation from their last run, 1 without)") in second.stdout
    assert "solved" not in second.stdout
    assert "  - havering: infeasible (last run): " in second.stdout
    third = runner.invoke(app, [*args, "--force"])
    assert "ran 3 (2 with an allocation, 1 without), skipped 0 unchanged" in third.stdout
    # A report of a batch result needs no --round: round.json is next to it.
    page = tmp_path / "again.html"
    done = runner.invoke(app, ["report", str(out / "tiny" / "result.json"), "--out",
                               str(page), "--explain-seconds", "0"])
    assert done.exit_code == 0, done.output
    (cohorts / "havering.json").unlink()
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0
    missing = runner.invoke(app, ["batch", str(tmp_path / "nowhere"), "--out", str(out)])
    assert missing.exit_code == 2


def test_outputs_of_a_renamed_cohort_are_moved_aside(cohorts: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    run_batch(cohorts, out, settings=FAST)
    (out / "notes").mkdir()
    (out / "notes" / "todo.txt").write_text("the planner's own folder")
    (cohorts / "tiny.json").rename(cohorts / "tiny-2027.json")
    (cohorts / "havering.json").unlink()
    caplog.set_level(logging.INFO)
    summary = run_batch(cohorts, out, settings=FAST)
    assert {o.cohort: o.action for o in summary.outcomes} == {"pilot": "skipped",
                                                              "tiny-2027": "run"}
    assert [(s.cohort, s.input) for s in summary.stale] == [("havering", "havering.json"),
                                                            ("tiny", "tiny.json")]
    # Nothing of the old names is left where a consumer reads current plans.
    assert sorted(p.name for p in out.iterdir()) == [
        ".matcher-batch.json", "_stale", "notes", "pilot", "summary.csv", "tiny-2027"]
    assert set(summary_rows(out)) == {"pilot", "tiny-2027"}
    state = json.loads((out / STATE_FILE).read_text())
    assert set(state["cohorts"]) == {"pilot", "tiny-2027"}
    moved = out / summary.stale[1].moved_to
    assert moved.parent == out / STALE_DIR
    assert moved.name.startswith("tiny-")
    assert load_result(moved / "result.json").objective == 778
    note = (moved / "MOVED-ASIDE.txt").read_text()
    assert "cohort 'tiny' (input 'tiny.json')" in note
    assert "not a current plan" in note
    assert (out / "notes" / "todo.txt").is_file()
    assert "cohort tiny is no longer in the cohorts folder" in caplog.text
    assert summary.headline() == (
        "2 cohort(s): ran 1 (1 with an allocation, 0 without), skipped 1 unchanged (1 with an "
        "allocation from their last run, 0 without); outputs of 2 cohort(s) no longer in the "
        "cohorts folder moved aside to _stale/")
    # The next run has nothing more to move, and the moved outputs stay where they are.
    again = run_batch(cohorts, out, settings=FAST)
    assert again.stale == ()
    assert {o.action for o in again.outcomes} == {"skipped"}
    assert len(list((out / STALE_DIR).iterdir())) == 2


def test_cli_batch_reports_the_outputs_it_moved_aside(cohorts: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (cohorts / "havering.json").unlink()
    args = ["batch", str(cohorts), "--out", str(out), "--time-limit", "20",
            "--explain-seconds", "0", "--workers", "1"]
    assert runner.invoke(app, args).exit_code == 0
    (cohorts / "pilot.xlsx").rename(cohorts / "pilot-2027.xlsx")
    done = runner.invoke(app, args)
    assert done.exit_code == 0, done.output
    assert ("2 cohort(s): ran 1 (1 with an allocation, 0 without), skipped 1 unchanged (1 "
            "with an allocation from their last run, 0 without); outputs of 1 cohort(s) no "
            "longer in the cohorts folder moved aside to _stale/") in done.stdout
    moved = next((out / STALE_DIR).iterdir())
    assert f"  - pilot: no longer in {cohorts}; its outputs moved to {moved}" in done.stdout
    assert not (out / "pilot").exists()
