"""Build the broken-workbook gallery: rounds broken the way planners break them.

Each case starts from a sample round in ``data/samples/`` and makes several mistakes at
once, as a planner would in one sitting. ``<case>.expected.txt`` beside this script holds
the exact ``matcher validate`` output a planner sees for it (``tests/test_validation_gallery.py``
checks every line). The built files are 40-50 KB each, so they are built on demand rather
than committed:

    .venv/bin/python tests/data/gallery/make_gallery.py OUT_DIR
    .venv/bin/matcher validate OUT_DIR/rows-and-duplicates.xlsx

The cases:

``rows-and-duplicates.xlsx``
    Bad numbers in placements rows 3 and 4, a formula Excel never calculated in a required
    cell (row 6), a duplicate placement (rows 20 and 21) whose copy also has a bad number,
    sectors typed as labels ("General Practice", "general-practice"), a misspelt
    preference, a pin for a pharmacist who does not exist, and a home with latitude and
    longitude swapped. Every row number is the sheet's own.
``missing-columns.xlsx``
    No ``sector`` column in placements (one line, not one per row), ``home.lon`` typed as
    ``home.lng``, ``weeks`` typed as ``wekes``, and a header typed ``Capacity `` (accepted).
``misnamed-sheets.xlsx``
    The ``pharmacists`` sheet named ``pharmacist`` and ``bans`` named ``Ban`` (one line each,
    no cascade of unknown pharmacist ids from pins, bans and travel), and a stray ``Notes``
    sheet.
``csv-bundle``
    A CSV folder: ``travel.csv`` saved as ``travels.csv``, a pharmacist pasted twice (rows 3
    and 29) with a bad number in the copy, a capacity of 1.5, a sector typed as a label, a
    home far from every placement and a placement outside the UK.
``messy.json``
    The JSON form: bad numbers, a duplicate placement, a misspelt field name, a misspelt
    preference, a sector label, an unknown pharmacist in a pin, swapped coordinates.
``warnings-only.xlsx``
    A valid round whose warnings are located like errors: swapped coordinates, a home far
    from every placement, a placement outside the UK.

Everything here is synthetic: the samples' people are invented.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples"
"""The sample rounds every case starts from."""
HERE = Path(__file__).resolve().parent


def _column(sheet: Worksheet, header: str) -> int:
    """The 1-based column of a header in row 1."""
    return [c.value for c in sheet[1]].index(header) + 1


def _set(sheet: Worksheet, row: int, header: str, value: Any) -> None:
    sheet.cell(row=row, column=_column(sheet, header), value=value)


def _get(sheet: Worksheet, row: int, header: str) -> Any:
    return sheet.cell(row=row, column=_column(sheet, header)).value


def _swap_home(sheet: Worksheet, row: int) -> None:
    lat, lon = _get(sheet, row, "home.lat"), _get(sheet, row, "home.lon")
    _set(sheet, row, "home.lat", lon)
    _set(sheet, row, "home.lon", lat)


def _workbook() -> openpyxl.Workbook:
    return openpyxl.load_workbook(SAMPLES / "nel-2027-c1.xlsx")


def rows_and_duplicates(out: Path) -> Path:
    """Row numbers, duplicates among failed records, formulas, labels, "did you mean"."""
    wb = _workbook()
    placements = wb["placements"]
    _set(placements, 3, "capacity", "two")
    _set(placements, 4, "hard_to_recruit", 9)
    _set(placements, 6, "capacity", "=2+2")  # written by a program: no saved value
    _set(placements, 2, "sector", "General Practice")
    _set(placements, 8, "sector", "general-practice")
    copied = [c.value for c in placements[20]]
    placements.insert_rows(21)
    for col, value in enumerate(copied, start=1):
        placements.cell(row=21, column=col, value=value)
    _set(placements, 21, "population_health", "lots")
    pharmacists = wb["pharmacists"]
    preferences = str(_get(pharmacists, 3, "preferences"))
    _set(pharmacists, 3, "preferences", preferences.replace("GP-CH-005", "GP-CH-05"))
    _swap_home(pharmacists, 4)
    _set(wb["pins"], 5, "pharmacist", "PH-0999")
    path = out / "rows-and-duplicates.xlsx"
    wb.save(path)
    return path


def missing_columns(out: Path) -> Path:
    """A missing column, misspelt headers, a header in another case."""
    wb = _workbook()
    placements = wb["placements"]
    placements.delete_cols(_column(placements, "sector"))
    pharmacists = wb["pharmacists"]
    pharmacists.cell(row=1, column=_column(pharmacists, "home.lon"), value="home.lng")
    periods = wb["periods"]
    periods.cell(row=1, column=_column(periods, "weeks"), value="wekes")
    supervisors = wb["supervisors"]
    supervisors.cell(row=1, column=_column(supervisors, "capacity"), value="Capacity ")
    path = out / "missing-columns.xlsx"
    wb.save(path)
    return path


def misnamed_sheets(out: Path) -> Path:
    """Misspelt sheet names, and a sheet that is not part of a round."""
    wb = _workbook()
    wb["pharmacists"].title = "pharmacist"
    wb["bans"].title = "Ban"
    notes = wb.create_sheet("Notes")
    notes.append(["note"])
    notes.append(["ask the trusts about R3"])
    path = out / "misnamed-sheets.xlsx"
    wb.save(path)
    return path


def _read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")


def _cell(rows: list[list[str]], row: int, header: str) -> tuple[int, int]:
    """(list index, cell index) of a sheet-style row number (header = row 1) and header."""
    return row - 1, rows[0].index(header)


def csv_bundle(out: Path) -> Path:
    """The CSV bundle: a misnamed file, a pasted duplicate, labels, locations."""
    folder = out / "csv-bundle"
    shutil.copytree(SAMPLES / "nel-2027-c1-csv", folder)
    (folder / "travel.csv").rename(folder / "travels.csv")
    path = folder / "pharmacists.csv"
    rows = _read_csv(path)
    copied = list(rows[2])  # PH-0002, sheet row 3
    copied[rows[0].index("experience_years")] = "ten"
    rows.append(copied)  # sheet row 29
    r, c = _cell(rows, 5, "home.lat")
    rows[r][c], rows[r][c + 1] = "55.953", "-3.189"  # a home in Edinburgh
    _write_csv(path, rows)
    path = folder / "placements.csv"
    rows = _read_csv(path)
    r, c = _cell(rows, 2, "sector")
    rows[r][c] = "Community Pharmacy"
    r, c = _cell(rows, 5, "capacity")
    rows[r][c] = "1.5"
    r, c = _cell(rows, 7, "location.lon")
    rows[r][c] = "14.2"
    _write_csv(path, rows)
    return folder


def messy_json(out: Path) -> Path:
    """The JSON form of a round with several mistakes."""
    data = json.loads((SAMPLES / "nel-2027-c1.json").read_text(encoding="utf-8"))
    placements = data["placements"]
    placements[1]["capacity"] = "two"
    placements[2]["hard_to_recruit"] = 9
    duplicate = copy.deepcopy(placements[18])
    duplicate["population_health"] = "lots"
    placements.insert(19, duplicate)
    placements[0]["sector"] = "General Practice"
    placements[5]["sectr"] = placements[5].pop("sector")
    pharmacists = data["pharmacists"]
    pharmacists[1]["preferences"][1] = "GP-CH-05"
    home = pharmacists[2]["home"]
    pharmacists[2]["home"] = {"lat": home["lon"], "lon": home["lat"]}
    data["pins"][0]["pharmacist"] = "PH-0999"
    path = out / "messy.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def warnings_only(out: Path) -> Path:
    """A valid round with suspicious locations: warnings, located like errors."""
    wb = _workbook()
    pharmacists = wb["pharmacists"]
    _swap_home(pharmacists, 3)
    _set(pharmacists, 5, "home.lat", 55.861)  # a home in Glasgow
    _set(pharmacists, 5, "home.lon", -4.251)
    _set(wb["placements"], 4, "location.lon", 14.0)
    path = out / "warnings-only.xlsx"
    wb.save(path)
    return path


CASES: dict[str, Callable[[Path], Path]] = {
    "rows-and-duplicates.xlsx": rows_and_duplicates,
    "missing-columns.xlsx": missing_columns,
    "misnamed-sheets.xlsx": misnamed_sheets,
    "csv-bundle": csv_bundle,
    "messy.json": messy_json,
    "warnings-only.xlsx": warnings_only,
}
"""Every case: its file (or folder) name, and the function that builds it."""


def expected(case: str) -> str:
    """The exact ``matcher validate`` output expected for a case."""
    return (HERE / f"{case}.expected.txt").read_text(encoding="utf-8")


def build(out: Path) -> dict[str, Path]:
    """Build every case into ``out`` (created if needed); returns each case's path."""
    out.mkdir(parents=True, exist_ok=True)
    return {name: make(out) for name, make in CASES.items()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_gallery.py OUT_DIR")
    for name, built in build(Path(sys.argv[1])).items():
        print(f"{name}: {built}")
