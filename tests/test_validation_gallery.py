"""The broken-workbook gallery: the exact messages a planner sees for rounds broken the way
planners break them.

``tests/data/gallery/make_gallery.py`` builds each case from the samples (several mistakes
at once); ``<case>.expected.txt`` beside it is the exact ``matcher validate`` output. The
cases cover: row numbers that are the sheet's own when earlier rows fail; duplicates found
among failed records, with all their rows; one line for a missing column or a misnamed sheet
and no cascade from it; "did you mean" for ids, columns, sheets, files and fields; labels
typed for choices ("General Practice"); a formula Excel never calculated; a per-period
capacity in the source's own terms; warnings for locations, located exactly like errors.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from matcher.formats import load_round_checked
from matcher_cli.app import app

GALLERY = Path(__file__).parent / "data" / "gallery"
SAMPLES = Path(__file__).parents[1] / "data" / "samples"


def _gallery_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_gallery", GALLERY / "make_gallery.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_gallery = _gallery_module()
CASES = list(make_gallery.CASES)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every case, built once into a temporary folder."""
    built: dict[str, Path] = make_gallery.build(tmp_path_factory.mktemp("gallery"))
    return built


def _validate(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", str(path), *args])
    return result.exit_code, result.output


def test_every_case_has_its_expected_messages_and_nothing_else_is_there() -> None:
    expected = {p.name.removesuffix(".expected.txt") for p in GALLERY.glob("*.expected.txt")}
    assert expected == set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_validate_prints_exactly_the_expected_messages(gallery: dict[str, Path],
                                                       case: str) -> None:
    code, output = _validate(gallery[case])
    wanted = make_gallery.expected(case)
    assert output == wanted
    assert code == (0 if wanted.startswith("VALID") else 1)


def test_the_old_cascades_are_gone(gallery: dict[str, Path]) -> None:
    """What the issue saw: 81 lines for a missing column, "unknown pharmacist id" lines
    after a misnamed sheet, duplicates reported on the wrong row."""
    _, columns = _validate(gallery["missing-columns.xlsx"])
    assert "required field is missing" not in columns
    _, sheets = _validate(gallery["misnamed-sheets.xlsx"])
    assert "unknown pharmacist id" not in sheets
    _, rows = _validate(gallery["rows-and-duplicates.xlsx"])
    assert "rows 20 and 21" in rows
    assert "row 18" not in rows


@pytest.mark.parametrize("case", CASES)
def test_no_name_or_home_location_is_ever_echoed(gallery: dict[str, Path], case: str) -> None:
    sample = json.loads((SAMPLES / "nel-2027-c1.json").read_text(encoding="utf-8"))
    personal = {ph["name"] for ph in sample["pharmacists"]}
    for ph in sample["pharmacists"]:
        personal |= {str(ph["home"]["lat"]), str(ph["home"]["lon"])}
    personal |= {"55.953", "-3.189", "55.861", "-4.251"}  # the homes the gallery moves
    for args in ((), ("--json",)):
        _, output = _validate(gallery[case], *args)
        assert not [p for p in personal if p in output]


def test_warnings_carry_the_same_location_fields_as_errors(gallery: dict[str, Path]) -> None:
    code, output = _validate(gallery["rows-and-duplicates.xlsx"], "--json")
    report = json.loads(output)
    assert code == 1
    error = next(e for e in report["errors"] if e["code"] == "duplicate_id")
    assert error == {
        "severity": "error", "code": "duplicate_id", "where": "placements, row 20, column id",
        "list": "placements", "index": 18, "id": "GP-HAV-004", "field": "id",
        "source": "placements", "row": 20, "column": "id",
        "message": "id 'GP-HAV-004' appears 2 times: rows 20 and 21; each placement needs its "
        "own id",
    }
    assert report["warnings"] == [{
        "severity": "warning", "code": "swapped_coordinates",
        "where": "pharmacists, row 4, column home.lat", "list": "pharmacists", "index": 2,
        "id": "PH-0003", "field": "home.lat", "source": "pharmacists", "row": 4,
        "column": "home.lat",
        "message": "the home is outside the UK, but would be inside it with latitude and "
        "longitude swapped; put the latitude (about 50 to 61) in home.lat and the longitude "
        "(about -8 to 2) in home.lon",
    }]


def test_a_valid_round_s_warnings_are_located_in_python_too(gallery: dict[str, Path]) -> None:
    rnd, warnings = load_round_checked(gallery["warnings-only.xlsx"])
    assert rnd.round.id == "nel-2027-c1"
    assert [(w.source, w.row, w.column, w.code) for w in warnings] == [
        ("placements", 4, "location.lat", "outside_uk"),
        ("pharmacists", 3, "home.lat", "swapped_coordinates"),
        ("pharmacists", 5, "home.lat", "far_from_placements"),
    ]


def test_the_same_round_as_json_warns_at_list_id_and_field(tmp_path: Path) -> None:
    data = json.loads((SAMPLES / "nel-2027-c1.json").read_text(encoding="utf-8"))
    home = data["pharmacists"][1]["home"]
    data["pharmacists"][1]["home"] = {"lat": home["lon"], "lon": home["lat"]}
    path = tmp_path / "round.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    _, warnings = load_round_checked(path)
    assert [(w.where, w.code) for w in warnings] == [
        ("pharmacists[PH-0002].home.lat", "swapped_coordinates")]
