"""The planner workbook (matcher.planner_workbook): sheets, cells, no formulas."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from matcher.baseline import serial_priority
from matcher.domain import Round
from matcher.formats import load_round
from matcher.planner_workbook import SHEETS, workbook_bytes, write_workbook
from matcher.result import Result
from matcher.solving import SolveParams, solve
from matcher.validation import parse_round

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
ONE = SolveParams(time_limit_s=20, workers=1)


@pytest.fixture(scope="module")
def tiny() -> tuple[Round, Result]:
    """The hand-checkable sample and its unique optimum (objective 778)."""
    rnd = load_round(SAMPLES / "tiny.json")
    return rnd, solve(rnd, ONE)


@pytest.fixture(scope="module")
def book(tiny: tuple[Round, Result]) -> openpyxl.Workbook:
    rnd, result = tiny
    data = workbook_bytes(rnd, result, baseline=serial_priority(rnd))
    return openpyxl.load_workbook(io.BytesIO(data))


def rows(book: openpyxl.Workbook, sheet: str) -> list[list[Any]]:
    return [list(r) for r in book[sheet].iter_rows(values_only=True)]


def keyed(book: openpyxl.Workbook, sheet: str) -> list[dict[str, Any]]:
    head, *body = rows(book, sheet)
    return [dict(zip(head, r, strict=True)) for r in body]


def test_sheets_in_order(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == list(SHEETS)


def test_by_pharmacist_is_each_rotation(book: openpyxl.Workbook) -> None:
    table = rows(book, "By pharmacist")
    assert table[0] == ["pharmacist", "name", "P1", "P2", "preference points",
                        "sectors covered", "sectors", "empty slots"]
    assert table[1] == ["PH-1", "Pharmacist 1", "GP-A – Riverside Surgery",
                        "CP-D – High Street Pharmacy", 0, 2,
                        "community_pharmacy, general_practice", 0]
    assert table[3][2:4] == ["GP-B – Hilltop Practice", "on leave"]
    assert book["By pharmacist"].freeze_panes == "A2"


def test_rotations_rows(book: openpyxl.Workbook) -> None:
    rot = keyed(book, "Rotations")
    assert len(rot) == 5  # PH-3 is on leave in P2
    ph2 = [r for r in rot if r["pharmacist"] == "PH-2"]
    assert [(r["period"], r["placement"], r["preference rank"], r["travel"], r["score"])
            for r in ph2] == [("P1", "CP-D", 2, 3, 177), ("P2", "GP-A", 1, 5, 235)]
    assert ph2[0]["start"] == "2027-01-04"


def test_by_placement_says_who_and_when(book: openpyxl.Workbook) -> None:
    table = {(r["placement"], r["period"]): r for r in keyed(book, "By placement")}
    assert len(table) == 8
    assert table["GP-A", "P1"]["pharmacists"] == "Pharmacist 1 (PH-1)"
    assert table["GP-A", "P2"]["pharmacists"] == "Pharmacist 2 (PH-2)"
    assert table["HOSP-C", "P1"]["empty seats"] == 1
    assert table["CP-D", "P2"]["organisation"] == "Tinytown Health"


def test_by_organisation_counts_hosted_pharmacists(book: openpyxl.Workbook) -> None:
    table = {(r["organisation"], r["period"]): r for r in keyed(book, "By organisation")}
    assert table["PCN-TINY", "P1"]["pharmacists hosted"] == 2
    assert table["PCN-TINY", "P1"]["placements held"] == "GP-A; GP-B"
    assert table["HOST-TINY", "P2"]["pharmacists"] == "Pharmacist 1 (PH-1)"


def test_unfilled_and_unassigned(book: openpyxl.Workbook) -> None:
    unfilled = {(r["placement"], r["period"]) for r in keyed(book, "Unfilled")}
    assert unfilled == {("GP-B", "P2"), ("HOSP-C", "P1"), ("HOSP-C", "P2")}
    assert rows(book, "Unassigned") == [["pharmacist", "name", "period", "stream", "reason"]]


def test_kpis_side_by_side_with_the_baseline(book: openpyxl.Workbook) -> None:
    table = {r["kpi"]: r for r in keyed(book, "KPIs")}
    assert (table["objective"]["optimised"], table["objective"]["baseline"],
            table["objective"]["difference"]) == (778, -178, 956)
    assert table["shortfall"]["baseline"] == 1
    assert table["first_choice"]["optimised"] == 2
    assert table["hard_to_recruit_by_level.2.fill"]["optimised"] == 1.0
    ws = book["KPIs"]
    share_row = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "top_3_share")
    assert share_row[2].number_format == "0.0%"
    summary = dict(rows(book, "Summary")[1:])
    assert summary["status"] == "optimal"
    assert summary["baseline keeps every hard rule"] == "yes"


def test_formula_injection_is_neutralised(tmp_path: Path) -> None:
    """Names a spreadsheet would run are written as text with a leading quote."""
    rnd = load_round(SAMPLES / "tiny.json")
    data = rnd.to_data()
    data["pharmacists"][0]["name"] = '=HYPERLINK("http://example.invalid","x")'
    data["placements"][0]["name"] = "+1+2"
    data["organisations"][0]["name"] = "@SUM(A1:A9)"
    hostile = parse_round(data)
    result = solve(hostile, ONE)
    path = tmp_path / "plan.xlsx"
    write_workbook(hostile, result, path)
    book = openpyxl.load_workbook(path)
    texts = []
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    assert """'=HYPERLINK("http://example.invalid","x")""" in texts
    assert "'+1+2" in texts
    assert any(t.startswith("GP-A – +1+2") for t in texts)
    assert not any(t.startswith(("=", "+", "@")) for t in texts)


def test_nel_workbook_has_every_pharmacist_and_placement(tmp_path: Path) -> None:
    rnd = load_round(SAMPLES / "nel-2027-c1.json")
    result = solve(rnd, SolveParams(time_limit_s=5, workers=1, path="cp-sat"))
    assert result.has_solution
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(rnd, result)))
    assert book["By pharmacist"].max_row == 1 + len(rnd.pharmacists)
    assert rows(book, "By pharmacist")[0][2:4] == ["R1 practice", "R1 host"]
    assert book["By placement"].max_row == 1 + len(rnd.placements) * len(rnd.periods)
    kpi = {r["kpi"]: r for r in keyed(book, "KPIs")}
    assert kpi["objective"]["baseline"] is None
