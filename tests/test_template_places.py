"""The template's places: none by default (free text, no dropdown, nothing for Excel to warn
about), the ICS's own from ``--places`` / ``--places-from``, North East London by name, and
a round written as a workbook offering the places it names."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from matcher.errors import InvalidRoundError
from matcher.formats import load_round, round_bytes, save_round, template_bytes
from matcher.formats.template import MAX_PLACES, template_places
from matcher.places import NEL_PLACES
from matcher_cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
runner = CliRunner()


def place_dropdowns(book: Any) -> dict[str, list[tuple[str, str]]]:
    """Per sheet, the place column's dropdowns: (formula, error style)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for sheet in ("placements", "organisations"):
        header = [c.value for c in book[sheet][1]]
        letter = openpyxl.utils.get_column_letter(header.index("place") + 1)
        out[sheet] = [(v.formula1, v.errorStyle)
                      for v in book[sheet].data_validations.dataValidation
                      if str(v.sqref).startswith(f"{letter}2:")]
    return out


def offered(book: Any) -> list[str]:
    """The places the place dropdowns offer: the cells of the range they reference."""
    formulas = {f for found in place_dropdowns(book).values() for f, _ in found}
    assert len(formulas) == 1, formulas
    sheet, cells = formulas.pop().split("!")
    first, last = cells.replace("$", "").split(":")
    return [c.value for (c,) in book[sheet.strip("'")][f"{first}:{last}"]]


def template(tmp_path: Path, *args: str) -> Any:
    out = tmp_path / "template.xlsx"
    done = runner.invoke(app, ["template", str(out), "--force", *args])
    assert done.exit_code == 0, done.output
    return openpyxl.load_workbook(out), done.output


def test_by_default_place_is_free_text(tmp_path: Path) -> None:
    book, output = template(tmp_path)
    assert place_dropdowns(book) == {"placements": [], "organisations": []}
    assert "no place list: place is typed freely" in output
    cells = [v for row in book["instructions"].iter_rows(values_only=True) for v in row if v]
    assert "Places" not in cells
    assert not any(p in cells for p in NEL_PLACES)
    help_text = book["placements"]["F1"].comment.text
    assert "Type the place's name, or pick it from the list when the workbook offers one" in (
        help_text)


def test_the_ics_places_from_the_option(tmp_path: Path) -> None:
    book, output = template(tmp_path, "--places",
                            " Castle Point , Southend-on-Sea,castle point,,Thurrock")
    assert offered(book) == ["Castle Point", "Southend-on-Sea", "Thurrock"]
    assert "place dropdowns offer 3 place(s)" in output
    styles = {s for found in place_dropdowns(book).values() for _, s in found}
    assert styles == {"warning"}  # another place can still be typed
    last = list(book["instructions"].iter_rows(values_only=True))[-4]
    assert last[0] == "Places"


def test_north_east_london_by_name(tmp_path: Path) -> None:
    book, _ = template(tmp_path, "--places", "NEL")
    assert offered(book) == list(NEL_PLACES)


def test_places_from_files(tmp_path: Path) -> None:
    text = tmp_path / "places.txt"
    text.write_text("Places\n# the boroughs\nBath and North East Somerset, Swindon\n\n"
                    "Wiltshire\n", encoding="utf-8")
    assert template_places(places_from=text) == ("Bath and North East Somerset, Swindon",
                                                 "Wiltshire")
    table = tmp_path / "places.csv"
    table.write_text("place,code\nWirral,W\n\"Cheshire East, South\",C\n", encoding="utf-8")
    assert template_places(places_from=table) == ("Wirral", "Cheshire East, South")
    # A workbook with a places sheet; the option's places come first.
    book = openpyxl.Workbook()
    assert book.active is not None
    book.active.title = "notes"
    sheet = book.create_sheet("Places")
    for value in ("code", "place"), ("K1", "Kirklees"), ("C1", "Calderdale"):
        sheet.append(value)
    book.save(tmp_path / "mine.xlsx")
    assert template_places("Leeds,kirklees", tmp_path / "mine.xlsx") == (
        "Leeds", "kirklees", "Calderdale")
    # An earlier round's workbook: the places it names.
    save_round(load_round(SAMPLES / "nel-2027-c1.json"), tmp_path / "last-year.xlsx")
    assert template_places(places_from=tmp_path / "last-year.xlsx") == NEL_PLACES
    # Through the command line, a comma inside a place name survives.
    built, _ = template(tmp_path, "--places-from", str(text))
    assert offered(built) == ["Bath and North East Somerset, Swindon", "Wiltshire"]


def test_bad_place_lists_are_refused_with_every_problem(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["template", str(tmp_path / "t.xlsx"), "--places-from",
                                  str(tmp_path / "nowhere.txt")])
    assert missing.exit_code == 1
    assert "  - nowhere.txt: file not found" in missing.output
    assert not (tmp_path / "t.xlsx").exists()
    many = tmp_path / "onspd.csv"
    many.write_text("\n".join(f"AB{i} 1AA" for i in range(MAX_PLACES + 1)))
    with pytest.raises(InvalidRoundError) as caught:
        template_places("Leeds,Bad\x01Name", many)
    assert [f"{p.where}: {p.message}" for p in caught.value.problems] == [
        "--places: place 2 is not a place name (over 100 characters, or control characters); "
        "give plain names",
        f"onspd.csv: {MAX_PLACES + 2} places is far more than an ICS has (at most "
        f"{MAX_PLACES} are offered); is this the right file or column?",
    ]


def test_a_filled_template_with_another_place_loads(tmp_path: Path) -> None:
    book = openpyxl.load_workbook(io.BytesIO(template_bytes(["Havering"])))
    book["periods"].append(["R1"])
    book["placements"].append(["GP-1", None, None, None, "general_practice", "Maldon", 51.5,
                               0.05, 1])
    book["pharmacists"].append(["PH-1", None, 51.52, 0.04])
    book.save(tmp_path / "filled.xlsx")
    assert load_round(tmp_path / "filled.xlsx").placements[0].place == "Maldon"


def test_a_round_as_a_workbook_offers_the_places_it_names() -> None:
    nel = openpyxl.load_workbook(io.BytesIO(round_bytes(load_round(
        SAMPLES / "nel-2027-c1.json"), "xlsx")))
    assert offered(nel) == sorted(NEL_PLACES)
    tiny = openpyxl.load_workbook(io.BytesIO(round_bytes(load_round(SAMPLES / "tiny.json"),
                                                         "xlsx")))
    assert offered(tiny) == ["Tinytown"]
