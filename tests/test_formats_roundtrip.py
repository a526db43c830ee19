"""Every format loads into exactly the same round: JSON, CSV folder, CSV zip, Excel, frames.

``full_round_data()`` is the fixture the other format tests reuse: one small round that
uses every field of the spec at least once, including per-period capacity and min_fill,
streams, supervisors, a reference allocation with terms, travel overrides, numeric-looking
ids and names that a spreadsheet would take for a formula.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from matcher.domain import Round
from matcher.errors import InvalidRoundError
from matcher.formats import (
    load_round,
    load_round_bytes,
    round_bytes,
    round_from_frames,
    round_to_frames,
    save_round,
    template_bytes,
    write_template,
)
from matcher.formats.tabular import TABLE_NAMES, TABLES
from matcher.synthetic import generate_round
from matcher.validation import parse_round


def full_round_data() -> dict[str, Any]:
    """Every field of the spec at least once, with formula-like and numeric-looking text."""
    return copy.deepcopy(_FULL)


_FULL: dict[str, Any] = {
    "format": "spin-round/1",
    "round": {"id": "nel-2027-c1", "name": "=SUM(A1)", "ics": "North East London"},
    "periods": [
        {"id": "R1", "start": "2027-01-04", "weeks": 17},
        {"id": "R2", "start": "2027-05-03", "weeks": 17},
        {"id": "R3"},
    ],
    "streams": [
        {"id": "practice", "sessions": 6, "rotate": False},
        {"id": "host", "sessions": 4, "rotate": True},
    ],
    "organisations": [
        {"id": "PCN-BD-RIV", "name": "Riverside PCN", "kind": "pcn",
         "place": "Barking and Dagenham", "max_pharmacists": 3},
        {"id": "BHRUT", "name": "+44 Trust", "kind": "acute_trust"},
    ],
    "placements": [
        {"id": "GP-BD-017", "name": "Thames View Health Centre", "organisation": "PCN-BD-RIV",
         "stream": "practice", "sector": "general_practice", "place": "Barking and Dagenham",
         "location": {"lat": 51.528, "lon": 0.11}, "capacity": 2, "min_fill": 1,
         "hard_to_recruit": 2, "population_health": 81,
         "requires": {"independent_prescriber": False, "min_experience_years": 0, "skills": []}},
        {"id": "GP-HK-002", "name": "-Dr Patel's surgery", "stream": "practice",
         "sector": "general_practice", "place": "City and Hackney",
         "location": {"lat": 51.545, "lon": -0.055}, "capacity": {"R1": 1, "R3": 2},
         "min_fill": {"R1": 1, "R2": 0}},
        {"id": "HOSP-BHRUT-AMU", "name": "@Queen's AMU", "organisation": "BHRUT",
         "stream": "host", "sector": "hospital", "place": "Havering",
         "location": {"lat": 51.5688, "lon": 0.1797}, "capacity": 3,
         "requires": {"independent_prescriber": True, "min_experience_years": 1.5,
                      "skills": ["acute", "=cmd|' /C calc'!A0"]}},
        {"id": "CP-HAV-002", "stream": "host", "sector": "community_pharmacy",
         "location": {"lat": 51.58, "lon": 0.2}, "capacity": 1, "hard_to_recruit": 3},
    ],
    "supervisors": [
        {"id": "DPP-BHRUT-1", "name": "Dr Supervisor", "role": "prescribing",
         "supervises": "non_prescribers", "placements": ["HOSP-BHRUT-AMU", "CP-HAV-002"],
         "capacity": 2},
        {"id": "ES-1", "placements": ["GP-BD-017"], "capacity": 1},
    ],
    "pharmacists": [
        {"id": "PH-0001", "name": "A. Pharmacist", "home": {"lat": 51.559, "lon": 0.07},
         "max_travel_km": 15, "independent_prescriber": True, "experience_years": 3,
         "skills": ["diabetes", "acute"], "unavailable": ["R3"], "history": ["CP-HAV-002"],
         "preferences": ["GP-BD-017", "HOSP-BHRUT-AMU"]},
        {"id": "PH-0002", "name": "'=quoted", "home": {"lat": 51.5, "lon": -0.02}},
        {"id": "007", "home": {"lat": 51.51, "lon": 0.0}, "experience_years": 0.5,
         "preferences": ["GP-HK-002"]},
    ],
    "pins": [{"pharmacist": "PH-0001", "period": "R1", "placement": "GP-BD-017"}],
    "bans": [{"pharmacist": "PH-0002", "placement": "CP-HAV-002"},
             {"pharmacist": "007", "placement": "GP-BD-017", "period": "R2"}],
    "travel": [{"pharmacist": "PH-0001", "placement": "GP-BD-017", "cost": 9}],
    "reference": [
        {"pharmacist": "PH-0001", "period": "R1", "placement": "GP-BD-017",
         "stream": "practice", "score": 191, "terms": {"preference": 100, "travel": -9}},
        {"pharmacist": "PH-0002", "period": "R2", "placement": "GP-HK-002"},
    ],
    "rules": {"min_distinct_sectors": 2, "required_sectors": ["general_practice", "hospital"],
              "max_travel_km": 20, "max_preferences": 5, "allow_unassigned": False},
    "weights": {"preference": 11, "hard_to_recruit": 31, "population_health": 2, "travel": 3,
                "unassigned": 9999, "shortfall": 999, "fairness": 5, "change": 7},
}


@pytest.fixture
def full_round() -> Round:
    """The round of :func:`full_round_data`, validated."""
    return parse_round(full_round_data())


DESTINATIONS = ["round.json", "bundle", "bundle.zip", "round.xlsx"]


@pytest.mark.parametrize("dest", DESTINATIONS)
def test_save_then_load_gives_an_equal_round(full_round: Round, tmp_path: Path, dest: str) -> None:
    save_round(full_round, tmp_path / dest)
    assert load_round(tmp_path / dest) == full_round


def test_a_round_travels_through_every_format_unchanged(full_round: Round, tmp_path: Path) -> None:
    rnd = full_round
    for dest in DESTINATIONS:
        save_round(rnd, tmp_path / dest)
        rnd = load_round(tmp_path / dest)
    rnd = round_from_frames(round_to_frames(rnd))
    assert rnd == full_round
    assert rnd.to_data() == full_round.to_data()


@pytest.mark.parametrize("fmt", ["json", "zip", "xlsx"])
def test_bytes_round_trip_for_uploads(full_round: Round, fmt: Any) -> None:
    assert load_round_bytes(round_bytes(full_round, fmt), fmt) == full_round


@pytest.mark.parametrize("fmt", ["csv", "zip", "xlsx", "json"])
def test_explicit_format_overrides_the_suffix(full_round: Round, tmp_path: Path, fmt: str) -> None:
    dest = tmp_path / "round.data"
    save_round(full_round, dest, fmt=fmt)
    assert load_round(dest, fmt=fmt) == full_round


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("streams", [True, False])
def test_generated_rounds_round_trip(tmp_path: Path, seed: int, streams: bool) -> None:
    rnd = generate_round(25, 20, 3, seed=seed, streams=streams)
    for dest in DESTINATIONS:
        save_round(rnd, tmp_path / dest)
        assert load_round(tmp_path / dest) == rnd, dest
    assert round_from_frames(round_to_frames(rnd)) == rnd


# ---- the layout, as a planner sees it ---------------------------------------------------------


def _csv_rows(folder: Path, table: str) -> list[list[str]]:
    text = (folder / f"{table}.csv").read_text(encoding="utf-8-sig")
    return [line.split(",") for line in text.splitlines()]


def test_csv_layout_flattens_objects_joins_lists_and_splits_periods(
    full_round: Round, tmp_path: Path
) -> None:
    save_round(full_round, tmp_path / "bundle")
    rows = _csv_rows(tmp_path / "bundle", "placements")
    assert rows[0] == [
        "id", "name", "organisation", "stream", "sector", "place", "location.lat",
        "location.lon", "capacity", "capacity.R1", "capacity.R3", "min_fill", "min_fill.R1",
        "min_fill.R2", "hard_to_recruit", "population_health",
        "requires.independent_prescriber", "requires.min_experience_years", "requires.skills",
    ]
    assert rows[2] == [
        "GP-HK-002", "'-Dr Patel's surgery", "", "practice", "general_practice",
        "City and Hackney", "51.545", "-0.055", "", "1", "2", "", "1", "0", "0", "0", "false",
        "0", "",
    ]
    assert rows[3][-1] == "acute;=cmd|' /C calc'!A0"  # only a cell's first character matters
    assert _csv_rows(tmp_path / "bundle", "round") == [
        ["format", "id", "name", "ics"],
        ["spin-round/1", "nel-2027-c1", "'=SUM(A1)", "North East London"],
    ]
    assert _csv_rows(tmp_path / "bundle", "reference")[0] == [
        "pharmacist", "period", "placement", "stream", "score", "terms.preference",
        "terms.travel",
    ]
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == sorted(
        f"{t}.csv" for t in TABLE_NAMES
    )


def test_csv_files_start_with_a_byte_order_mark_for_excel(
    full_round: Round, tmp_path: Path
) -> None:
    save_round(full_round, tmp_path / "bundle")
    assert (tmp_path / "bundle" / "periods.csv").read_bytes().startswith(
        b"\xef\xbb\xbfid,start,weeks\r\n"
    )


def test_plain_capacity_only_when_no_placement_needs_periods(tmp_path: Path) -> None:
    data = full_round_data()
    data["placements"][1]["capacity"] = 1
    data["placements"][1]["min_fill"] = 0
    save_round(parse_round(data), tmp_path / "bundle")
    header = _csv_rows(tmp_path / "bundle", "placements")[0]
    assert [h for h in header if h.startswith(("capacity", "min_fill"))] == [
        "capacity", "min_fill",
    ]


def test_json_is_canonical(full_round: Round, tmp_path: Path) -> None:
    save_round(full_round, tmp_path / "round.json")
    text = (tmp_path / "round.json").read_text(encoding="utf-8")
    assert text == json.dumps(full_round.to_data(), indent=2, ensure_ascii=False) + "\n"


def test_json_with_byte_order_mark_is_read(full_round: Round, tmp_path: Path) -> None:
    path = tmp_path / "round.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(full_round_data()).encode())
    assert load_round(path) == full_round


def test_zip_bundle_may_hold_its_files_in_one_folder(full_round: Round, tmp_path: Path) -> None:
    flat = zipfile.ZipFile(io.BytesIO(round_bytes(full_round, "zip")))
    path = tmp_path / "nested.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("round-2027/", "")
        archive.writestr("__MACOSX/round-2027/._periods.csv", b"\x00\x01")
        archive.writestr("round-2027/README.txt", "notes")
        for name in flat.namelist():
            archive.writestr(f"round-2027/{name}", flat.read(name))
    assert load_round(path) == full_round


def test_optional_csv_files_may_be_missing(tmp_path: Path) -> None:
    data = full_round_data()
    for key in ("round", "streams", "organisations", "supervisors", "pins", "bans", "travel",
                "reference", "rules", "weights"):
        data.pop(key)
    for placement in data["placements"]:
        placement.pop("stream")
        placement.pop("organisation", None)
    rnd = parse_round(data)
    save_round(rnd, tmp_path / "bundle")
    for table in ("round", "streams", "organisations", "supervisors", "pins", "bans",
                  "travel", "reference", "rules", "weights"):
        (tmp_path / "bundle" / f"{table}.csv").unlink()
    assert load_round(tmp_path / "bundle") == rnd


def test_an_empty_format_cell_means_the_current_format(full_round: Round, tmp_path: Path) -> None:
    save_round(full_round, tmp_path / "bundle")
    (tmp_path / "bundle" / "round.csv").write_text("format,id\n,nel-2027-c1\n", encoding="utf-8")
    rnd = load_round(tmp_path / "bundle")
    assert rnd.format == "spin-round/1"
    assert rnd.round.id == "nel-2027-c1"
    assert rnd.round.name is None


def test_headers_and_sheet_names_ignore_case_and_spaces(full_round: Round, tmp_path: Path) -> None:
    save_round(full_round, tmp_path / "round.xlsx")
    workbook = openpyxl.load_workbook(tmp_path / "round.xlsx")
    workbook["periods"].title = " Periods "
    workbook["placements"]["G1"] = " Location.Lat "
    workbook.save(tmp_path / "renamed.xlsx")
    assert load_round(tmp_path / "renamed.xlsx") == full_round


# ---- workbooks made by hand -------------------------------------------------------------------


def _planner_workbook(path: Path) -> None:
    """A workbook typed by a planner: numbers in id columns, date cells, TRUE/FALSE cells,
    a per-period column, a blank row, a typed-as-text number and a sector typed as its label
    ("Hospital"). (A formula with no saved value is an error: tests/test_hostile_files.py.)"""
    wb = openpyxl.Workbook()
    ws = wb.create_sheet("Periods")
    wb.remove(wb["Sheet"])
    ws.append(["id", "start", "weeks"])
    ws.append([1, dt.datetime(2027, 1, 4), 17])
    ws.append([2, dt.date(2027, 5, 3), "17"])
    placements = wb.create_sheet("placements")
    placements.append(["id", "sector", "location.lat", "location.lon", "capacity",
                       "capacity.2", "requires.independent_prescriber", "name"])
    placements.append([101, "Hospital", 51.5, -0.1, 2, None, True, None])
    placements.append([None] * 8)
    placements.append(["GP-1", "general_practice", "51.6", "0.1", None, 1, "FALSE", 12.5])
    pharmacists = wb.create_sheet("pharmacists")
    pharmacists.append(["id", "home.lat", "home.lon", "preferences", "unavailable",
                        "experience_years"])
    pharmacists.append(["PH-1", 51.55, 0.0, "GP-1; 101;", 2, 1])
    wb.save(path)


def test_a_hand_made_workbook_is_read_as_a_planner_means_it(tmp_path: Path) -> None:
    _planner_workbook(tmp_path / "hand.xlsx")
    rnd = load_round(tmp_path / "hand.xlsx")
    assert [(t.id, t.start, t.weeks) for t in rnd.periods] == [
        ("1", dt.date(2027, 1, 4), 17), ("2", dt.date(2027, 5, 3), 17),
    ]
    hosp, gp = rnd.placements
    assert (hosp.id, hosp.capacity, hosp.requires.independent_prescriber, hosp.name) == (
        "101", 2, True, None,
    )
    assert (gp.id, gp.capacity, gp.requires.independent_prescriber, gp.name) == (
        "GP-1", {"2": 1}, False, "12.5",
    )
    (ph,) = rnd.pharmacists
    assert (ph.preferences, ph.unavailable, ph.experience_years) == (("GP-1", "101"), ("2",), 1)


# ---- pandas ---------------------------------------------------------------------------------


def test_frames_have_one_table_each_with_the_file_columns(full_round: Round) -> None:
    frames = round_to_frames(full_round)
    assert list(frames) == list(TABLE_NAMES)
    placements = frames["placements"]
    assert placements.loc[1, "capacity.R3"] == 2
    assert placements["capacity"].isna().tolist() == [False, True, False, False]
    assert placements.loc[2, "requires.skills"] == "acute;=cmd|' /C calc'!A0"
    assert placements.loc[1, "name"] == "-Dr Patel's surgery"  # frames are never neutralised
    assert frames["rules"].to_dict("records") == [{
        "min_distinct_sectors": 2, "required_sectors": "general_practice;hospital",
        "max_travel_km": 20, "max_preferences": 5, "allow_unassigned": False,
    }]


def test_frames_accept_python_lists_and_numpy_missing_values(full_round: Round) -> None:
    frames = round_to_frames(full_round)
    pharmacists = frames["pharmacists"].astype(object)
    pharmacists["preferences"] = [["GP-BD-017", "HOSP-BHRUT-AMU"], [], ["GP-HK-002"]]
    pharmacists.loc[1, "max_travel_km"] = float("nan")
    frames["pharmacists"] = pharmacists
    assert round_from_frames(frames) == full_round


# ---- the template -----------------------------------------------------------------------------


def test_template_has_every_sheet_headers_dropdowns_and_instructions(tmp_path: Path) -> None:
    write_template(tmp_path / "template.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "template.xlsx")
    assert wb.sheetnames == ["instructions", *TABLE_NAMES]
    for name in TABLE_NAMES:
        assert [c.value for c in wb[name][1]] == TABLES[name].base_headers()
        assert all(c.comment is not None and c.comment.text for c in wb[name][1])
    assert [c.value for c in wb["round"][2]] == ["spin-round/1", None, None, None]
    assert [c.value for c in wb["rules"][2]] == [0, None, None, 10, True]

    def dropdowns(sheet: str) -> dict[str, str]:
        return {str(v.sqref): v.formula1 for v in wb[sheet].data_validations.dataValidation}

    # No place list by default: place is free text (tests/test_template_places.py).
    assert dropdowns("placements") == {
        "E2:E1048576": '"general_practice,community_pharmacy,hospital,mental_health,'
        'community_services,integrated_care"',
        "D2:D1048576": "'streams'!$A$2:$A$1000",
        "C2:C1048576": "'organisations'!$A$2:$A$1000",
    }
    assert dropdowns("organisations") == {}
    assert dropdowns("supervisors") == {"D2:D1048576": '"all,non_prescribers,early_years"'}
    explained = {(r[0], r[1]) for r in wb["instructions"].iter_rows(values_only=True)}
    for name in TABLE_NAMES:
        assert (name, None) in explained
        for header in TABLES[name].base_headers():
            assert (name, header) in explained


def test_the_empty_template_reads_back_as_a_clear_validation_error(tmp_path: Path) -> None:
    write_template(tmp_path / "template.xlsx")
    with pytest.raises(InvalidRoundError) as caught:
        load_round(tmp_path / "template.xlsx")
    assert [str(p) for p in caught.value.problems] == [
        "error: periods: 'periods' must list at least one period",
        "error: placements: 'placements' must list at least one placement",
        "error: pharmacists: 'pharmacists' must list at least one pharmacist",
    ]


def test_a_filled_in_template_loads(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes()))
    wb["periods"].append(["R1"])
    wb["placements"].append(["GP-1", None, None, None, "general_practice", "Newham", 51.5,
                             0.05, 1])
    wb["pharmacists"].append(["PH-1", None, 51.52, 0.04])
    wb.save(tmp_path / "filled.xlsx")
    rnd = load_round(tmp_path / "filled.xlsx")
    assert rnd.summary() == {
        "round": "round", "periods": 1, "streams": ["rotation"], "organisations": 0,
        "placements": 1, "seats": 1, "supervisors": 0, "pharmacists": 1, "pins": 0,
        "bans": 0, "travel_overrides": 0, "reference_assignments": 0,
    }
    assert rnd.rules.max_preferences == 10
