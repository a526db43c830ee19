"""The command line: exit codes, what is printed, and the files written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from matcher import checker
from matcher.formats import load_round
from matcher.formats.results import load_result
from matcher_cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
NEL = SAMPLES / "nel-2027-c1.json"
runner = CliRunner()


def run(*args: str | Path) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def broken_round(tmp_path: Path) -> Path:
    data = json.loads((SAMPLES / "tiny.json").read_text())
    data["placements"][0]["location"]["lat"] = 123
    data["pharmacists"][0]["preferences"].append("NOWHERE")
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


def test_validate_valid_sample_exits_0_and_summarises() -> None:
    result = run("validate", NEL)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("VALID: round nel-2027-c1: ")
    rnd = load_round(NEL)
    assert f"{len(rnd.pharmacists)} pharmacists, {len(rnd.placements)} placements" in (
        result.output)


def test_validate_invalid_exits_1_and_lists_every_problem(tmp_path: Path) -> None:
    path = broken_round(tmp_path)
    result = run("validate", path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "INVALID: 2 problems to fix"
    first_pl = json.loads(path.read_text())["placements"][0]["id"]
    first_ph = json.loads(path.read_text())["pharmacists"][0]["id"]
    assert f"  - placements[{first_pl}].location.lat: must be at most 90.0" in lines
    assert any(line.startswith(f"  - pharmacists[{first_ph}].preferences.") and
               line.endswith("unknown placement id 'NOWHERE'") for line in lines)


def test_validate_json_output(tmp_path: Path) -> None:
    result = run("validate", broken_round(tmp_path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    assert report["errors"][0]["field"] == "location.lat"
    assert {e["severity"] for e in report["errors"]} == {"error"}
    ok = json.loads(run("validate", NEL, "--json").output)
    assert ok["valid"] is True
    assert ok["summary"]["round"] == "nel-2027-c1"


def test_validate_reports_warnings_but_exits_0() -> None:
    result = run("validate", SAMPLES / "infeasible.json")
    assert result.exit_code == 0
    assert "warning" in result.output
    assert "distinct sectors are required" in result.output


def test_validate_excel_errors_name_sheet_row_and_column(tmp_path: Path) -> None:
    book = tmp_path / "nel.xlsx"
    assert run("convert", NEL, book).exit_code == 0
    wb = openpyxl.load_workbook(book)
    sheet = wb["placements"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=4, column=header.index("location.lat") + 1, value=200)
    wb.save(book)
    result = run("validate", book)
    assert result.exit_code == 1
    assert "  - placements, row 4, column location.lat: must be at most 90.0" in (
        result.output.splitlines())


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    result = run("validate", tmp_path / "nope.json")
    assert result.exit_code == 1
    assert "nope.json" in result.output


def test_template_then_validate(tmp_path: Path) -> None:
    out = tmp_path / "round.xlsx"
    result = run("template", out)
    assert result.exit_code == 0
    wb = openpyxl.load_workbook(out)
    assert {"instructions", "placements", "pharmacists", "periods"} <= set(wb.sheetnames)
    empty = run("validate", out)
    assert empty.exit_code == 1
    assert "must list at least one" in empty.output
    again = run("template", out)
    assert again.exit_code == 2
    assert "--force" in again.output
    assert run("template", tmp_path / "round.csv").exit_code == 2


@pytest.mark.parametrize("dest", ["nel.xlsx", "nel.zip", "nel-csv", "nel-copy.json"])
def test_convert_round_trips(tmp_path: Path, dest: str) -> None:
    out = tmp_path / dest
    result = run("convert", NEL, out)
    assert result.exit_code == 0, result.output
    assert load_round(out) == load_round(NEL)


def test_convert_invalid_input_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    result = run("convert", broken_round(tmp_path), out)
    assert result.exit_code == 1
    assert not out.exists()


def test_convert_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "nel.json"
    shutil.copy(NEL, out)
    result = run("convert", NEL, out)
    assert result.exit_code == 2
    assert run("convert", NEL, out, "--force").exit_code == 0


def test_solve_writes_a_checked_result(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = run("solve", NEL, "--out", out, "--time-limit", "60", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("round nel-2027-c1: optimal, objective ")
    res = load_result(out)
    rnd = load_round(NEL)
    assert checker.violations(rnd, res.allocation) == []
    assert checker.objective(rnd, res.allocation).total == res.objective


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_solve_writes_csv_and_excel(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"result{suffix}"
    result = run("solve", SAMPLES / "tiny.json", "--out", out, "--workers", "1")
    assert result.exit_code == 0
    res = load_result_via_json(tmp_path)
    if suffix == ".csv":
        text = out.read_text(encoding="utf-8-sig").splitlines()
        assert text[0].startswith("pharmacist,period,stream,placement,score,")
        assert len(text) == 1 + len(res.assignments) + len(res.unassigned)
    else:
        wb = openpyxl.load_workbook(out)
        assert wb.sheetnames == ["summary", "assignments", "unassigned", "kpis", "diagnosis"]
        assert wb["assignments"].max_row == 1 + len(res.assignments)


def load_result_via_json(tmp_path: Path) -> Any:
    out = tmp_path / "same.json"
    assert run("solve", SAMPLES / "tiny.json", "--out", out, "--workers", "1").exit_code == 0
    return load_result(out)


def test_solve_infeasible_exits_2_with_status(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = run("solve", SAMPLES / "infeasible.json", "--out", out)
    assert result.exit_code == 2
    assert "infeasible" in result.output.splitlines()[0]
    assert load_result(out).status == "infeasible"


def test_solve_invalid_exits_1(tmp_path: Path) -> None:
    result = run("solve", broken_round(tmp_path))
    assert result.exit_code == 1
    assert result.output.startswith("INVALID: 2 problems to fix")


def test_solve_bad_out_suffix_is_usage_error(tmp_path: Path) -> None:
    result = run("solve", SAMPLES / "tiny.json", "--out", tmp_path / "r.txt")
    assert result.exit_code == 2
    assert not (tmp_path / "r.txt").exists()


def test_solve_with_reference_keeps_the_plan(tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    assert run("solve", NEL, "--out", first, "--workers", "1").exit_code == 0
    again = tmp_path / "again.json"
    result = run("solve", NEL, "--reference", first, "--out", again, "--workers", "1")
    assert result.exit_code == 0, result.output
    a, b = load_result(first), load_result(again)
    assert b.objective == a.objective  # weights.change is 0 in the sample: same optimum


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "matcher"
    proc = subprocess.run([str(exe), "validate", str(NEL), "--json"], capture_output=True,
                          text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["valid"] is True
    proc = subprocess.run([str(exe), "solve", str(SAMPLES / "infeasible.json")],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == ""  # not a terminal: no progress line


def test_solve_infeasible_prints_the_diagnosis() -> None:
    result = run("solve", SAMPLES / "infeasible.json")
    assert result.exit_code == 2
    assert ("  - PH-0206 can reach only general_practice and community_pharmacy placements "
            "but 3 sectors are required") in result.output.splitlines()
    assert ("  - Nobody may be left unassigned, but in R2 there are 5 seats for 6 available "
            "pharmacists") in result.output.splitlines()


def test_explain_the_tiny_round(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    assert run("solve", SAMPLES / "tiny.json", "--out", out, "--workers", "1").exit_code == 0
    result = run("explain", out, "--round", SAMPLES / "tiny.json")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Round tiny: optimal, objective 778"
    # PH-2 is banned from their first choice in P1 (see data/samples/README.md).
    assert "    preference 1 GP-A: not eligible: PH-2 is banned from GP-A in P1" in lines
    as_json = json.loads(run("explain", out, "--round", SAMPLES / "tiny.json", "--json").output)
    assert {a["pharmacist"] for a in as_json["assignments"]} == {"PH-1", "PH-2", "PH-3"}


def test_explain_refuses_a_result_of_another_round(tmp_path: Path) -> None:
    out = tmp_path / "tiny.json"
    assert run("solve", SAMPLES / "tiny.json", "--out", out, "--workers", "1").exit_code == 0
    result = run("explain", out, "--round", NEL)
    assert result.exit_code == 1


def test_written_files_are_readable_by_the_group_like_any_file(tmp_path: Path) -> None:
    """Atomic writes go through a temporary file; it must not stay private (0600)."""
    out = tmp_path / "tiny.json"
    assert run("solve", SAMPLES / "tiny.json", "--out", out, "--workers", "1").exit_code == 0
    assert out.stat().st_mode & 0o044 == 0o044


def test_result_csv_keeps_scores_whole_and_lists_empty_slots(tmp_path: Path) -> None:
    data = json.loads((SAMPLES / "tiny.json").read_text())
    data["pharmacists"].append({"id": "PH-9", "home": {"lat": 0.0, "lon": 0.0}})  # far away
    data["rules"].update({"min_distinct_sectors": 0, "required_sectors": []})
    path = tmp_path / "round.json"
    path.write_text(json.dumps(data))
    out = tmp_path / "result.csv"
    assert run("solve", path, "--out", out, "--workers", "1").exit_code == 0
    rows = out.read_text(encoding="utf-8-sig").splitlines()
    header = rows[0].split(",")
    placed = [r.split(",") for r in rows[1:] if not r.startswith("PH-9,")]
    empty = [r.split(",") for r in rows[1:] if r.startswith("PH-9,")]
    assert placed
    assert all(r[header.index("score")].lstrip("-").isdigit() for r in placed)
    assert empty
    assert all(r[header.index("placement")] == "" and r[header.index("score")] == ""
               for r in empty)
    assert all(r[-1] for r in empty)  # each empty slot says why
