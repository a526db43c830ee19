"""Errors from files name the file or sheet, the row the planner sees and the column.

Each test corrupts one cell, column or file of the full fixture round (see
``test_formats_roundtrip.full_round_data``) written by the real writers, and asserts the
exact problems reported.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_formats_roundtrip import full_round_data

from matcher.errors import FormatError, InvalidRoundError
from matcher.formats import (
    load_round,
    load_round_bytes,
    round_from_frames,
    round_to_frames,
    save_round,
)
from matcher.validation import parse_round


def _problems(source: Path) -> list[str]:
    with pytest.raises(InvalidRoundError) as caught:
        load_round(source)
    return [str(p) for p in caught.value.problems]


def _bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    save_round(parse_round(full_round_data()), folder)
    return folder


def _edit_csv(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file written by the bundle writer (row 1 is the header)."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    cells = lines[row - 1].split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _workbook(tmp_path: Path) -> tuple[Path, openpyxl.Workbook]:
    path = tmp_path / "round.xlsx"
    save_round(parse_round(full_round_data()), path)
    return path, openpyxl.load_workbook(path)


def _cell(wb: openpyxl.Workbook, sheet: str, row: int, column: str) -> Any:
    header = [c.value for c in wb[sheet][1]]
    return wb[sheet].cell(row=row, column=header.index(column) + 1)


# ---- CSV ------------------------------------------------------------------------------------


def test_csv_bad_latitude_names_file_row_and_column(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    _edit_csv(folder / "placements.csv", 3, "location.lat", "north")
    assert _problems(folder) == ["error: placements.csv, row 3, column location.lat: "
                                 "must be a number"]


def test_csv_errors_in_a_zip_name_the_csv_file(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    _edit_csv(folder / "placements.csv", 3, "location.lat", "95")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        for path in folder.iterdir():
            archive.write(path, path.name)
    assert _problems(tmp_path / "bundle.zip") == [
        "error: placements.csv, row 3, column location.lat: must be at most 90.0"
    ]


def test_csv_per_period_and_list_items_point_at_their_columns(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    _edit_csv(folder / "placements.csv", 3, "capacity.R3", "-1")
    _edit_csv(folder / "pharmacists.csv", 4, "preferences", "GP-HK-002;NOWHERE")
    _edit_csv(folder / "rules.csv", 2, "max_preferences", "0")
    _edit_csv(folder / "round.csv", 2, "format", "spin-round/9")
    assert _problems(folder) == [
        "error: round.csv, row 2, column format: 'format' is 'spin-round/9' but must be "
        "\"spin-round/1\"",
        "error: rules.csv, row 2, column max_preferences: must be at least 1",
        "error: placements.csv, row 3, column capacity.R3: must be at least 0",
        "error: pharmacists.csv, row 4, column preferences: unknown placement id 'NOWHERE'",
    ]


def test_csv_rows_count_as_the_planner_sees_them_with_blank_rows(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    path = folder / "periods.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines.insert(2, ",,")  # a blank row 3: skipped, but still counted
    lines[3] = lines[3].replace("17", "zero")  # R2, now on row 4
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _problems(folder) == [
        "error: periods.csv, row 4, column weeks: must be a whole number"
    ]


def test_csv_unknown_column_is_named(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    path = folder / "periods.csv"
    text = path.read_text(encoding="utf-8-sig").replace("id,start,weeks", "id,start,wekes", 1)
    path.write_text(text, encoding="utf-8")
    assert _problems(folder) == [
        "error: periods.csv, row 1, column wekes: unknown column 'wekes': did you mean "
        "'weeks'? Rename the column"
    ]


def test_csv_unknown_column_not_close_to_any_lists_the_columns(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    path = folder / "periods.csv"
    text = path.read_text(encoding="utf-8-sig").replace("id,start,weeks", "id,start,notes", 1)
    path.write_text(text, encoding="utf-8")
    assert _problems(folder) == [
        "error: periods.csv, row 1, column notes: unknown column 'notes'; the periods columns "
        "are: id, start, weeks"
    ]


def test_csv_unknown_nested_column_lists_the_per_period_columns(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    path = folder / "placements.csv"
    text = path.read_text(encoding="utf-8-sig").replace("location.lon", "location.where", 1)
    path.write_text(text, encoding="utf-8")
    assert _problems(folder) == [
        "error: placements.csv, row 1, column location.where: unknown column "
        "'location.where'; the placements columns are: id, name, organisation, stream, "
        "sector, place, location.lat, location.lon, capacity, min_fill, hard_to_recruit, "
        "population_health, requires.independent_prescriber, requires.min_experience_years, "
        "requires.skills (and capacity.<period>, min_fill.<period>)",
        "error: placements.csv, row 1: no column 'location.lon'; it is required: add it",
    ]


def test_csv_misspelt_required_column_is_one_line_not_one_per_row(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    path = folder / "placements.csv"
    text = path.read_text(encoding="utf-8-sig").replace("location.lon", "location.lng", 1)
    path.write_text(text, encoding="utf-8")
    assert _problems(folder) == [
        "error: placements.csv, row 1, column location.lng: no column 'location.lon'; found "
        "'location.lng': did you mean 'location.lon'? Rename the column"
    ]


def test_csv_missing_required_file(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    (folder / "pharmacists.csv").unlink()
    for table in ("pins", "bans", "travel", "reference"):
        (folder / f"{table}.csv").unlink()
    assert _problems(folder) == [
        "error: pharmacists.csv: the CSV bundle has no 'pharmacists.csv' file; it is required "
        "and lists at least one pharmacist"
    ]


def test_csv_unknown_file_and_duplicate_column(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    (folder / "notes.csv").write_text("a\n1\n", encoding="utf-8")
    (folder / "weights.csv").write_text("travel,Travel\n1,2\n", encoding="utf-8")
    assert _problems(folder) == [
        "error: notes.csv: unknown file 'notes.csv'; the files are: round.csv, periods.csv, "
        "streams.csv, organisations.csv, placements.csv, supervisors.csv, pharmacists.csv, "
        "pins.csv, bans.csv, travel.csv, reference.csv, rules.csv, weights.csv",
        "error: weights.csv, row 1, column Travel: column 'Travel' appears twice; keep one",
    ]


def test_csv_capacity_given_both_ways(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    _edit_csv(folder / "placements.csv", 3, "capacity", "4")
    assert _problems(folder) == [
        "error: placements.csv, row 3, column capacity: give either 'capacity' or the "
        "per-period columns 'capacity.<period>', not both"
    ]


def test_csv_value_without_header_and_second_section_row(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    (folder / "periods.csv").write_text("id,start,weeks,\nR1,,,oops\nR2\nR3\n",
                                        encoding="utf-8")
    with (folder / "weights.csv").open("a", encoding="utf-8") as handle:
        handle.write("1,1,1,1,1,1,1,1\n")
    assert _problems(folder) == [
        "error: periods.csv, row 2, column column 4: this value is in a column without a "
        "header; name the column in row 1 or delete the value",
        "error: weights.csv, row 3: the weights file holds one row of values; this row is one "
        "too many",
    ]


def test_csv_not_utf8(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    (folder / "periods.csv").write_bytes("id,start\nR1,\nRé2,\n".encode("cp1252"))
    with pytest.raises(FormatError) as caught:
        load_round(folder)
    assert str(caught.value.problems[0]) == (
        "error: periods.csv: the file is not UTF-8 text (byte 15 is not valid); save it as "
        "'CSV UTF-8 (comma delimited)'"
    )


def test_csv_semicolon_separated(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    (folder / "periods.csv").write_text("id;start;weeks\nR1;;\n", encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_round(folder)
    assert str(caught.value.problems[0]) == (
        "error: periods.csv, row 1: the columns are separated by ';'; save the file with "
        "commas as separators ('CSV UTF-8 (comma delimited)')"
    )


def test_csv_broken_quoting(tmp_path: Path) -> None:
    folder = _bundle(tmp_path)
    (folder / "periods.csv").write_text('id,start\nR1,\n"R2"x,\n', encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_round(folder)
    assert str(caught.value.problems[0]).startswith(
        "error: periods.csv, row 3: the file is not valid CSV near row 3 ("
    )


# ---- Excel ----------------------------------------------------------------------------------


def test_excel_bad_latitude_names_sheet_row_and_column(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    _cell(wb, "placements", 3, "location.lat").value = "north"
    wb.save(path)
    assert _problems(path) == ["error: placements, row 3, column location.lat: "
                               "must be a number"]


def test_excel_problems_carry_structured_locations(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    _cell(wb, "pharmacists", 2, "home.lon").value = 200
    wb.save(path)
    with pytest.raises(InvalidRoundError) as caught:
        load_round(path)
    (problem,) = caught.value.problems
    assert problem.to_dict() == {
        "severity": "error", "code": "less_than_equal",
        "where": "pharmacists, row 2, column home.lon", "list": "pharmacists", "index": 0,
        "id": "PH-0001", "field": "home.lon", "source": "pharmacists", "row": 2,
        "column": "home.lon", "message": "must be at most 180.0",
    }


def test_excel_missing_required_sheet(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    del wb["periods"]
    wb["pharmacists"].cell(row=2, column=1).value = None
    wb.save(path)
    problems = _problems(path)
    assert problems[0] == (
        "error: periods: the workbook has no 'periods' sheet; it is required and lists at "
        "least one period"
    )
    assert "error: pharmacists, row 2, column id: required field is missing" in problems


def test_excel_unknown_sheet_and_unknown_column(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    wb.create_sheet("Pin")
    wb["bans"]["D1"] = "reason"
    wb["bans"]["D2"] = "conflict of interest"
    wb.save(path)
    assert _problems(path) == [
        "error: bans, row 1, column reason: unknown column 'reason'; the bans columns are: "
        "pharmacist, placement, period",
        "error: Pin: unknown sheet 'Pin'; the sheets are: round, periods, streams, "
        "organisations, placements, supervisors, pharmacists, pins, bans, travel, reference, "
        "rules, weights",
    ]


def test_excel_value_without_header_names_the_column_letter(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    wb["periods"]["F3"] = "note"
    wb.save(path)
    assert _problems(path) == [
        "error: periods, row 3, column column F: this value is in a column without a header; "
        "name the column in row 1 or delete the value"
    ]


def test_excel_empty_required_sheet(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    wb["pharmacists"].delete_rows(2, 10)
    for sheet in ("pins", "bans", "travel", "reference"):
        wb[sheet].delete_rows(2, 10)
    wb.save(path)
    assert _problems(path) == [
        "error: pharmacists: 'pharmacists' must list at least one pharmacist"
    ]


def test_excel_duplicate_ids_point_at_the_row(tmp_path: Path) -> None:
    path, wb = _workbook(tmp_path)
    _cell(wb, "periods", 4, "id").value = "R1"
    _cell(wb, "placements", 3, "capacity.R3").value = None
    _cell(wb, "pharmacists", 2, "unavailable").value = None
    wb.save(path)
    assert _problems(path) == [
        "error: periods, row 2, column id: id 'R1' appears 2 times: rows 2 and 4; each "
        "period needs its own id"
    ]


# ---- frames ---------------------------------------------------------------------------------


def test_frames_problems_give_position_and_column() -> None:
    frames = round_to_frames(parse_round(full_round_data()))
    frames["placements"] = frames["placements"].astype(object)
    frames["placements"].loc[2, "location.lat"] = "north"
    frames["notes"] = frames["rules"]
    with pytest.raises(InvalidRoundError) as caught:
        round_from_frames(frames)
    unknown, lat = caught.value.problems
    assert str(unknown) == (
        "error: notes: unknown frame 'notes'; the frames are: round, periods, streams, "
        "organisations, placements, supervisors, pharmacists, pins, bans, travel, reference, "
        "rules, weights"
    )
    assert (lat.list, lat.index, lat.id, lat.column, lat.message) == (
        "placements", 2, "HOSP-BHRUT-AMU", "location.lat", "must be a number"
    )
    assert str(lat) == "error: placements[HOSP-BHRUT-AMU].location.lat: must be a number"


# ---- JSON and the choice of format ------------------------------------------------------------


def test_json_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "round.json"
    path.write_text('{\n  "format": "spin-round/1",\n  "periods": [}\n', encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_round(path)
    assert str(caught.value) == (
        "the round has 1 problem:\n"
        "  - round.json: not valid JSON at line 3, column 15: Expecting value"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"format": NaN}', "not valid JSON: NaN is not a JSON number; write a number or leave "
         "the field out"),
        ('{"format": "a", "format": "b"}', "not valid JSON: the key 'format' appears twice in "
         "one object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON: nested too deeply"),
    ],
)
def test_json_refusals(text: str, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        load_round_bytes(text.encode(), "json")
    assert str(caught.value.problems[0]) == f"error: upload.json: {message}"


def test_json_validation_problems_keep_their_json_location(tmp_path: Path) -> None:
    data = full_round_data()
    data["placements"][1]["location"]["lat"] = "north"
    path = tmp_path / "round.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert _problems(path) == ["error: placements[GP-HK-002].location.lat: must be a number"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("round.xls", "the old .xls format cannot be read; save it as 'Excel Workbook (.xlsx)'"),
        ("placements.csv", "a CSV bundle is a folder (or a .zip) of one CSV file per list; "
         "give the folder, not one file"),
        ("round.txt", "unknown kind of file; use .json, .xlsx, .zip or a folder of CSV files"),
        ("absent.json", "file not found"),
    ],
)
def test_unreadable_paths(tmp_path: Path, name: str, message: str) -> None:
    if name != "absent.json":
        (tmp_path / name).write_text("x", encoding="utf-8")
    with pytest.raises(FormatError) as caught:
        load_round(tmp_path / name)
    assert str(caught.value.problems[0]) == f"error: {name}: {message}"


def test_list_items_containing_the_separator_cannot_be_tabulated(tmp_path: Path) -> None:
    data = full_round_data()
    data["pharmacists"][0]["skills"] = ["diabetes;renal"]
    with pytest.raises(FormatError) as caught:
        save_round(parse_round(data), tmp_path / "round.xlsx")
    assert str(caught.value.problems[0]) == (
        "error: pharmacists[PH-0001].skills: 'diabetes;renal' contains ';', which separates list "
        "items in CSV and Excel; rename it or save the round as JSON"
    )
    assert not (tmp_path / "round.xlsx").exists()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a/periods.csv": "id\nR1\n", "b/placements.csv": "id\n"},
         "the zip holds CSV files in several folders; put every <table>.csv in one folder"),
        ({"readme.txt": "hello"},
         "the zip holds no CSV files; a CSV bundle has one <table>.csv per list (periods.csv, "
         "placements.csv, pharmacists.csv...)"),
    ],
)
def test_zip_bundle_shape(tmp_path: Path, members: dict[str, str], message: str) -> None:
    path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    with pytest.raises(FormatError) as caught:
        load_round(path)
    assert str(caught.value.problems[0]) == f"error: bundle.zip: {message}"
