"""Postcodes for homes and placements (matcher.formats.postcodes): resolved from a lookup
file in the ONS Postcode Directory layout, in JSON, CSV, Excel and frames, from Python and
the command line; every mistake reported at once, and never a postcode in a message."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from matcher.errors import InvalidRoundError
from matcher.formats import load_round, round_from_frames, round_to_frames, save_round
from matcher.formats.postcodes import PostcodeLookup, normalise
from matcher.validation import parse_round
from matcher_cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
runner = CliRunner()

# Synthetic postcodes and places: none is a real person's.
POINTS = {
    "RM1 3AB": (51.5755, 0.1830),
    "IG11 7LX": (51.5330, 0.0810),
    "E1 6AN": (51.5200, -0.0700),
    "E15 4HT": (51.5410, 0.0030),
}
NO_GRID = "ZZ99 9ZZ"  # in the directory without a location (latitude 99.999999)
UNKNOWN = ("XX1 1XX", "QQ9 9QQ")
ALL_POSTCODES = (*POINTS, NO_GRID, *UNKNOWN)


def write_lookup(path: Path, columns: tuple[str, ...] = ("pcd", "pcds", "dointr", "lat",
                                                          "long", "osgrdind")) -> Path:
    """A lookup file in the ONS Postcode Directory layout (other columns around the three
    that are used, postcodes padded the way the directory's pcd column is)."""
    rows = [*((pc, lat, lon) for pc, (lat, lon) in POINTS.items()),
            (NO_GRID, 99.999999, 0.0)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for pc, lat, lon in rows:
            values = {"pcd": pc.replace(" ", "  "), "pcds": pc, "dointr": "199801",
                      "lat": f"{lat:.6f}", "long": f"{lon:.6f}", "osgrdind": "1"}
            writer.writerow([values[c] for c in columns])
    return path


@pytest.fixture
def lookup(tmp_path: Path) -> Path:
    return write_lookup(tmp_path / "ONSPD_NOV_2027_UK.csv")


def tiny_with(**changes: dict[int, Any]) -> dict[str, Any]:
    """The tiny sample with ``placements={0: {"postcode": ...}}``-style location changes."""
    data = json.loads((SAMPLES / "tiny.json").read_text())
    for name, by_index in changes.items():
        target = "location" if name == "placements" else "home"
        for i, value in by_index.items():
            data[name][i][target] = value
    return data


def write_json(tmp_path: Path, data: dict[str, Any], name: str = "round.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def problems_of(path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidRoundError) as caught:
        load_round(path, **kwargs)
    return [f"{p.where}: {p.message}" for p in caught.value.problems]


def assert_no_postcode_in(text: str) -> None:
    for pc in ALL_POSTCODES:
        assert pc not in text
        assert normalise(pc) not in text.replace(" ", "")


# ---- the lookup ----------------------------------------------------------------------------


def test_postcodes_match_ignoring_case_and_spaces() -> None:
    assert normalise(" rm1  3ab ") == "RM13AB" == normalise("RM1 3AB")


def test_the_lookup_keeps_only_what_is_asked_for(lookup: Path) -> None:
    found = PostcodeLookup(lookup).find({"RM13AB", "XX11XX"})
    assert found.points == {"RM13AB": (51.5755, 0.183)}
    assert found.present == {"RM13AB"}
    assert found.problems == []


# ---- JSON -----------------------------------------------------------------------------------


def test_json_locations_given_as_postcodes_load_as_coordinates(tmp_path: Path,
                                                               lookup: Path) -> None:
    data = tiny_with(placements={0: {"postcode": "rm13ab"}, 1: {"postcode": "E1 6AN"}},
                     pharmacists={0: {"postcode": " ig11 7lx "}})
    rnd = load_round(write_json(tmp_path, data), postcodes=lookup)
    assert (rnd.placements[0].location.lat, rnd.placements[0].location.lon) == POINTS["RM1 3AB"]
    assert (rnd.placements[1].location.lat, rnd.placements[1].location.lon) == POINTS["E1 6AN"]
    assert (rnd.pharmacists[0].home.lat, rnd.pharmacists[0].home.lon) == POINTS["IG11 7LX"]
    # The round written back out is plain spin-round/1: coordinates, no postcode.
    out = tmp_path / "written.json"
    save_round(rnd, out)
    written = json.loads(out.read_text())
    assert written["placements"][0]["location"] == {"lat": 51.5755, "lon": 0.183}
    assert "postcode" not in out.read_text()
    assert parse_round(written) == rnd


def test_coordinates_win_over_a_postcode(tmp_path: Path) -> None:
    # Both given: the coordinates are used and the postcode is not looked up (no file
    # needed, and an unknown postcode is no error).
    data = tiny_with(pharmacists={0: {"lat": 51.5, "lon": 0.0, "postcode": UNKNOWN[0]}})
    rnd = load_round(write_json(tmp_path, data))
    assert (rnd.pharmacists[0].home.lat, rnd.pharmacists[0].home.lon) == (51.5, 0.0)


def test_every_postcode_problem_at_once_with_the_lookup_files_own(tmp_path: Path) -> None:
    """Two unknown postcodes, a lookup file without its 'long' column and an unrelated
    mistake of the round: all reported together. A postcode that is in the file says
    nothing more (the missing column covers it), and no "location is missing" is repeated
    for the records whose postcode failed."""
    no_long = write_lookup(tmp_path / "lookup.csv", columns=("pcds", "lat", "osgrdind"))
    data = tiny_with(placements={0: {"postcode": UNKNOWN[0]}, 1: {"postcode": "RM1 3AB"}},
                     pharmacists={0: {"postcode": UNKNOWN[1]}})
    data["placements"][2]["capacity"] = -1
    lines = problems_of(write_json(tmp_path, data), postcodes=no_long)
    assert lines[:3] == [
        "lookup.csv, row 1, column long: the postcode lookup file has no 'long' column; it "
        "needs the columns pcds, lat, long in row 1 (the ONS Postcode Directory's CSV layout)",
        "placements[GP-A].location.postcode: postcode not found in the lookup file "
        "'lookup.csv'; check the postcode, or give location.lat and location.lon instead",
        "pharmacists[PH-1].home.postcode: postcode not found in the lookup file "
        "'lookup.csv'; check the postcode, or give home.lat and home.lon instead",
    ]
    assert len(lines) == 4
    assert lines[3].startswith("placements[HOSP-C].capacity: ")
    assert_no_postcode_in("\n".join(lines))


def test_a_postcode_the_directory_has_no_location_for(tmp_path: Path, lookup: Path) -> None:
    data = tiny_with(pharmacists={1: {"postcode": NO_GRID}})
    assert problems_of(write_json(tmp_path, data), postcodes=lookup) == [
        "pharmacists[PH-2].home.postcode: the postcode lookup file 'ONSPD_NOV_2027_UK.csv' "
        "has no location for this postcode (it has no grid reference); give home.lat and "
        "home.lon instead"]


def test_postcodes_without_a_lookup_file_are_one_problem_per_list(tmp_path: Path) -> None:
    data = tiny_with(placements={0: {"postcode": "RM1 3AB"}, 2: {"postcode": "E1 6AN"}},
                     pharmacists={1: {"postcode": "IG11 7LX"}})
    assert problems_of(write_json(tmp_path, data)) == [
        "placements[GP-A].location.postcode: 2 placements give a postcode but no postcode "
        "lookup file was given: pass one with --postcodes FILE (in Python, postcodes=FILE), "
        "a CSV in the ONS Postcode Directory layout (pcds, lat, long); or give location.lat "
        "and location.lon instead",
        "pharmacists[PH-2].home.postcode: 1 pharmacist gives a postcode but no postcode "
        "lookup file was given: pass one with --postcodes FILE (in Python, postcodes=FILE), "
        "a CSV in the ONS Postcode Directory layout (pcds, lat, long); or give home.lat and "
        "home.lon instead",
    ]


def test_a_lookup_file_without_postcodes_is_one_problem_not_one_per_record(
        tmp_path: Path) -> None:
    bad = tmp_path / "lookup.csv"
    bad.write_text("postcode,latitude,longitude\nRM1 3AB,51.5,0.1\n")
    data = tiny_with(placements={0: {"postcode": "RM1 3AB"}, 1: {"postcode": "E1 6AN"}})
    assert problems_of(write_json(tmp_path, data), postcodes=bad) == [
        f"lookup.csv, row 1, column {c}: the postcode lookup file has no {c!r} column; it "
        "needs the columns pcds, lat, long in row 1 (the ONS Postcode Directory's CSV layout)"
        for c in ("pcds", "lat", "long")]
    missing = tmp_path / "nowhere.csv"
    assert problems_of(write_json(tmp_path, data), postcodes=missing) == [
        "nowhere.csv: the postcode lookup file was not found; check the path given for it"]


def test_a_postcode_that_is_not_text_is_named(tmp_path: Path, lookup: Path) -> None:
    data = tiny_with(placements={0: {"postcode": 12}})
    assert problems_of(write_json(tmp_path, data), postcodes=lookup) == [
        "placements[GP-A].location.postcode: a postcode must be text like E1 6AN; this one "
        "is empty or not text"]


# ---- CSV, Excel and frames -----------------------------------------------------------------


def postcode_workbook(tmp_path: Path, placement_codes: list[str | None],
                      home_codes: dict[int, str]) -> Path:
    """The tiny round as a workbook whose placements give postcodes instead of coordinates
    (None: keep the coordinates), and some pharmacists too (a 'Postcode' column)."""
    save_round(load_round(SAMPLES / "tiny.json"), tmp_path / "tiny.xlsx")
    book = openpyxl.load_workbook(tmp_path / "tiny.xlsx")
    sheet = book["placements"]
    header = [c.value for c in sheet[1]]
    lat, lon = header.index("location.lat") + 1, header.index("location.lon") + 1
    sheet.cell(1, len(header) + 1, "postcode")
    for row, code in enumerate(placement_codes, start=2):
        if code is not None:
            sheet.cell(row, lat).value = sheet.cell(row, lon).value = None
            sheet.cell(row, len(header) + 1, code)
    sheet = book["pharmacists"]
    header = [c.value for c in sheet[1]]
    lat, lon = header.index("home.lat") + 1, header.index("home.lon") + 1
    sheet.cell(1, len(header) + 1, " Postcode ")
    for index, code in home_codes.items():
        sheet.cell(index + 2, lat).value = sheet.cell(index + 2, lon).value = None
        sheet.cell(index + 2, len(header) + 1, code)
    book.save(tmp_path / "postcodes.xlsx")
    return tmp_path / "postcodes.xlsx"


def test_a_postcode_column_in_excel_and_csv(tmp_path: Path, lookup: Path) -> None:
    path = postcode_workbook(tmp_path, ["rm1 3ab", None, "E15 4HT", None], {2: "E1 6AN"})
    rnd = load_round(path, postcodes=lookup)
    assert (rnd.placements[0].location.lat, rnd.placements[0].location.lon) == POINTS["RM1 3AB"]
    assert (rnd.placements[2].location.lat, rnd.placements[2].location.lon) == POINTS["E15 4HT"]
    assert rnd.placements[1].location == load_round(SAMPLES / "tiny.json").placements[1].location
    assert (rnd.pharmacists[2].home.lat, rnd.pharmacists[2].home.lon) == POINTS["E1 6AN"]
    # The same as a CSV bundle, with the column written location.postcode.
    folder = tmp_path / "bundle"
    save_round(load_round(SAMPLES / "tiny.json"), folder)
    with (folder / "placements.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    lat, lon = rows[0].index("location.lat"), rows[0].index("location.lon")
    rows[0].append("location.postcode")
    rows[1][lat] = rows[1][lon] = ""
    rows[1].append("RM1 3AB")
    for row in rows[2:]:
        row.append("")
    with (folder / "placements.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    bundle = load_round(folder, postcodes=lookup)
    assert bundle.placements[0].location == rnd.placements[0].location


def test_excel_postcode_problems_name_sheet_row_and_column_only(tmp_path: Path,
                                                                lookup: Path) -> None:
    path = postcode_workbook(tmp_path, ["RM1 3AB", UNKNOWN[0], None, None], {1: UNKNOWN[1]})
    lines = problems_of(path, postcodes=lookup)
    assert lines == [
        "placements, row 3, column postcode: postcode not found in the lookup file "
        "'ONSPD_NOV_2027_UK.csv'; check the postcode, or give location.lat and location.lon "
        "instead",
        "pharmacists, row 3, column Postcode: postcode not found in the lookup file "
        "'ONSPD_NOV_2027_UK.csv'; check the postcode, or give home.lat and home.lon instead",
    ]
    assert_no_postcode_in("\n".join(lines))
    assert problems_of(path)[0].startswith(
        "placements, row 2, column postcode: 2 placements give a postcode but no postcode "
        "lookup file was given")


def test_frames_take_a_postcode_column(lookup: Path) -> None:
    frames = round_to_frames(load_round(SAMPLES / "tiny.json"))
    placements = frames["placements"].astype(object).drop(columns=["location.lat",
                                                                   "location.lon"])
    placements["postcode"] = list(POINTS)
    frames["placements"] = placements
    rnd = round_from_frames(frames, postcodes=lookup)
    assert [(p.location.lat, p.location.lon) for p in rnd.placements] == list(POINTS.values())


# ---- the command line ----------------------------------------------------------------------


def test_the_commands_that_read_rounds_take_postcodes(tmp_path: Path, lookup: Path) -> None:
    data = tiny_with(placements={0: {"postcode": "RM1 3AB"}},
                     pharmacists={0: {"postcode": "IG11 7LX"}})
    path = write_json(tmp_path, data)
    missing = runner.invoke(app, ["validate", str(path)])
    assert missing.exit_code == 1
    assert "--postcodes FILE" in missing.output
    assert_no_postcode_in(missing.output)
    valid = runner.invoke(app, ["validate", str(path), "--postcodes", str(lookup)])
    assert valid.exit_code == 0, valid.output
    assert valid.output.startswith("VALID: round tiny")
    converted = tmp_path / "converted.json"
    done = runner.invoke(app, ["convert", str(path), str(converted), "--postcodes",
                               str(lookup)])
    assert done.exit_code == 0, done.output
    assert json.loads(converted.read_text())["pharmacists"][0]["home"] == {
        "lat": 51.533, "lon": 0.081}
    result = tmp_path / "result.json"
    solved = runner.invoke(app, ["solve", str(path), "--out", str(result), "--workers", "1",
                                 "--postcodes", str(lookup)])
    assert solved.exit_code == 0, solved.output
    report = runner.invoke(app, ["report", str(result), "--round", str(path), "--out",
                                 str(tmp_path / "r.html"), "--explain-seconds", "0"],
                           env={"MATCHER_POSTCODES": str(lookup)})
    assert report.exit_code == 0, report.output
    absent = runner.invoke(app, ["validate", str(path), "--postcodes",
                                 str(tmp_path / "absent.csv")])
    assert absent.exit_code == 2
    assert "does not exist" in absent.output


def test_batch_cohorts_with_postcodes(tmp_path: Path, lookup: Path) -> None:
    from matcher.batch import BatchSettings, run_batch

    cohorts = tmp_path / "cohorts"
    cohorts.mkdir()
    write_json(cohorts, tiny_with(placements={0: {"postcode": "E15 4HT"}}), "tiny.json")
    settings = BatchSettings(time_limit_s=20, workers=1, explain_seconds=0)
    without = run_batch(cohorts, tmp_path / "out", settings=settings)
    assert [o.status for o in without.outcomes] == ["invalid"]
    assert "--postcodes FILE" in (tmp_path / "out" / "tiny" / "problems.txt").read_text()
    shutil.copy(lookup, tmp_path / "lookup.csv")
    with_file = run_batch(cohorts, tmp_path / "out", settings=BatchSettings(
        time_limit_s=20, workers=1, explain_seconds=0, postcodes=str(tmp_path / "lookup.csv")))
    assert [(o.status, o.action) for o in with_file.outcomes] == [("optimal", "run")]
