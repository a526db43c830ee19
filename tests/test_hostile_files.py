"""Hostile files are refused cleanly, and written files never carry a live formula.

Every refusal is a :class:`FormatError` with one planner-readable problem naming the file;
nothing is extracted to disk and no raw zipfile or openpyxl exception escapes.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import defusedxml
import openpyxl
import openpyxl.xml
import openpyxl.xml.functions
import pytest
from openpyxl.utils import get_column_letter
from test_formats_roundtrip import full_round_data

from matcher.errors import FormatError, InvalidRoundError
from matcher.formats import (
    MAX_BYTES,
    load_round,
    load_round_bytes,
    round_bytes,
    save_round,
    template_bytes,
)
from matcher.formats.safety import check_members, neutralise, unneutralise
from matcher.validation import parse_round

MB = 1024 * 1024


def _refusal(source: Path | bytes, fmt: Literal["json", "xlsx", "zip"] = "zip") -> str:
    """The single problem of the FormatError raised when loading ``source``."""
    with pytest.raises(FormatError) as caught:
        _load(source, fmt)
    (problem,) = caught.value.problems
    return str(problem)


def _load(source: Path | bytes, fmt: Literal["json", "xlsx", "zip"]) -> object:
    if isinstance(source, bytes):
        return load_round_bytes(source, fmt)
    return load_round(source)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# ---- zip bundles ----------------------------------------------------------------------------


def test_zip_bomb_member_is_refused_by_its_compression_ratio(tmp_path: Path) -> None:
    path = _zip(tmp_path / "bomb.zip", {"placements.csv": b"0" * (4 * MB)})
    info = zipfile.ZipFile(path).getinfo("placements.csv")
    ratio = info.file_size // info.compress_size
    assert ratio > 100
    assert _refusal(path) == (
        f"error: bomb.zip: 'placements.csv' in the zip archive is compressed {ratio} to 1 "
        "(the limit is 100 to 1); refused as a possible zip bomb"
    )


def test_zip_unpacking_beyond_the_size_cap_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "big.zip", {"placements.csv": b"0" * (MAX_BYTES + 1)})
    assert path.stat().st_size < MB
    assert _refusal(path) == (
        "error: big.zip: the zip archive unpacks to more than the 50 MB limit; refused as a "
        "possible zip bomb"
    )


@pytest.mark.parametrize(
    "name", ["../evil.csv", "bundle/../../evil.csv", "/etc/periods.csv", "C:/periods.csv",
             "bundle\\..\\periods.csv"],
)
def test_zip_with_unsafe_member_names_is_refused(tmp_path: Path, name: str) -> None:
    path = _zip(tmp_path / "evil.zip", {"periods.csv": b"id\nR1\n", name: b"id\nR2\n"})
    assert _refusal(path) == (
        f"error: evil.zip: the zip archive contains a file with an unsafe name ({name!r}): "
        "absolute paths and '..' are not allowed"
    )
    assert not (tmp_path.parent / "evil.csv").exists()


def test_zip_with_too_many_members_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(1001)})
    assert _refusal(path) == (
        "error: many.zip: the zip archive holds 1001 files, more than the 1000 allowed"
    )


def test_encrypted_zip_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "locked.zip", {"periods.csv": b"id\nR1\n"})
    data = bytearray(path.read_bytes())  # set the "encrypted" flag as an encrypting tool does
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    path.write_bytes(bytes(data))
    assert _refusal(path) == (
        "error: locked.zip: the zip archive is encrypted; save it without a password"
    )


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"PK\x03\x04 certainly not a zip")
    assert _refusal(path) == "error: bundle.zip: the file is not a valid zip archive"


def test_member_checks_take_smaller_limits() -> None:
    info = zipfile.ZipInfo("periods.csv")
    info.file_size, info.compress_size = 2000, 1500
    with pytest.raises(FormatError) as caught:
        check_members([info], "upload.zip", limit=1000)
    assert str(caught.value.problems[0]) == (
        "error: upload.zip: the zip archive unpacks to more than the 1000 bytes limit; "
        "refused as a possible zip bomb"
    )


# ---- sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["round.json", "round.xlsx", "bundle.zip"])
def test_oversized_files_are_refused_before_reading(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with path.open("wb") as handle:  # a sparse file: large, but costs no disk
        handle.truncate(60 * MB)
    assert _refusal(path) == (
        f"error: {name}: the file is 60 MB, above the 50 MB limit; split the round or remove "
        "unused rows"
    )


@pytest.mark.parametrize("fmt", ["json", "xlsx", "zip"])
def test_oversized_uploads_are_refused(fmt: Literal["json", "xlsx", "zip"]) -> None:
    assert _refusal(b" " * (60 * MB), fmt) == (
        f"error: upload.{fmt}: the file is 60 MB, above the 50 MB limit; split the round or "
        "remove unused rows"
    )


def test_oversized_csv_in_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    with (folder / "placements.csv").open("wb") as handle:
        handle.truncate(60 * MB)
    assert _refusal(folder) == (
        "error: placements.csv: the file is 60 MB, above the 50 MB limit; split the round or "
        "remove unused rows"
    )


# ---- workbooks ------------------------------------------------------------------------------

_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]>\n"
)


def _edit_part(xlsx: bytes, part: str, edit: Callable[[bytes], bytes]) -> bytes:
    """The workbook with one part's bytes replaced by ``edit(bytes)``."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info)
            archive.writestr(info.filename, edit(data) if info.filename == part else data)
    return out.getvalue()


def _full_xlsx() -> bytes:
    return round_bytes(parse_round(full_round_data()), "xlsx")


@pytest.mark.parametrize("part", ["xl/worksheets/sheet2.xml", "xl/workbook.xml"])
def test_xlsx_with_xml_entity_expansion_is_refused(part: str) -> None:
    def laughs(xml: bytes) -> bytes:
        return _LAUGHS + xml.replace(b"</t>", b"&lol9;</t>", 1)

    hostile = _edit_part(_full_xlsx(), part, laughs)
    assert _refusal(hostile, "xlsx") == (
        f"error: upload.xlsx: the workbook part {part!r} declares XML entities or a DTD, which "
        "workbooks never need; refused as a possible XML attack"
    )


def test_entities_the_byte_scan_cannot_see_are_refused_by_defusedxml() -> None:
    """A UTF-16 part hides the declaration from the byte scan; openpyxl's defused parser
    still refuses it."""
    def utf16_laughs(xml: bytes) -> bytes:
        declaration = _LAUGHS.replace(b'"1.0"?>', b'"1.0" encoding="UTF-16"?>', 1)
        xml = declaration + xml.replace(b'name="round"', b'name="&lol9;"', 1)
        return xml.decode().encode("utf-16")

    hostile = _edit_part(_full_xlsx(), "xl/workbook.xml", utf16_laughs)
    assert _refusal(hostile, "xlsx") == (
        "error: upload.xlsx: the workbook's XML declares entities or a DTD, which workbooks "
        "never need; refused as a possible XML attack"
    )


def test_openpyxl_parses_through_defusedxml() -> None:
    """The second line of defence: openpyxl's own parsers refuse entities."""
    assert openpyxl.xml.DEFUSEDXML is True
    payload = _LAUGHS + b"<sst><si><t>&lol9;</t></si></sst>"
    with pytest.raises(defusedxml.EntitiesForbidden):
        openpyxl.xml.functions.fromstring(payload)
    with pytest.raises(defusedxml.EntitiesForbidden):
        list(openpyxl.xml.functions.iterparse(io.BytesIO(payload)))


def test_workbooks_are_refused_when_openpyxl_is_not_defused(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    path.write_bytes(template_bytes())
    script = (
        "import sys\n"
        "from matcher.errors import FormatError\n"
        "from matcher.formats import load_round\n"
        "try:\n"
        "    load_round(sys.argv[1])\n"
        "except FormatError as exc:\n"
        "    print(exc.problems[0])\n"
    )
    env = {**os.environ, "OPENPYXL_DEFUSEDXML": "False"}
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env,
                          capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == (
        "error: template.xlsx: reading Excel workbooks needs the 'defusedxml' package (and "
        "OPENPYXL_DEFUSEDXML not set to False) so hostile XML cannot be expanded; install it"
    )


def _add_to_periods_sheet(row_xml: bytes) -> bytes:
    """The full workbook with one more row element in its periods sheet."""
    return _edit_part(_full_xlsx(), "xl/worksheets/sheet3.xml",
                      lambda xml: xml.replace(b"</sheetData>", row_xml + b"</sheetData>", 1))


def test_a_sheet_claiming_a_row_beyond_excels_last_is_refused() -> None:
    far = _add_to_periods_sheet(
        b'<row r="999999999"><c r="A999999999" t="inlineStr"><is><t>R9</t></is></c></row>'
    )
    assert _refusal(far, "xlsx") == (
        "error: upload.xlsx: sheet 'periods' has rows beyond row 1048576, Excel's last row; "
        "the workbook is damaged"
    )


def test_a_sheet_with_a_value_far_to_the_right_is_refused() -> None:
    column = get_column_letter(1001).encode()
    wide = _add_to_periods_sheet(
        b'<row r="9"><c r="%s9" t="inlineStr"><is><t>x</t></is></c></row>' % column
    )
    assert _refusal(wide, "xlsx") == (
        "error: upload.xlsx: sheet 'periods' has a value beyond column ALL (row 9); a round "
        "needs far fewer columns"
    )


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "round.xlsx", {"hello.txt": b"hello"})
    assert _refusal(path).startswith(
        "error: round.xlsx: the file cannot be read as an Excel workbook (.xlsx) ("
    )
    assert _refusal(path).endswith(
        "); open it in Excel and save it again as 'Excel Workbook (.xlsx)'"
    )


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "round.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0 an encrypted or old-format workbook")
    assert _refusal(path) == "error: round.xlsx: the file is not a valid Excel workbook (.xlsx)"


def test_formulas_in_a_workbook_are_not_evaluated(tmp_path: Path) -> None:
    path = tmp_path / "round.xlsx"
    save_round(parse_round(full_round_data()), path)
    wb = openpyxl.load_workbook(path)
    wb["periods"]["C2"] = "=WEBSERVICE(\"http://example.invalid\")"
    wb.save(path)
    with pytest.raises(InvalidRoundError) as caught:  # never run: reported, without a value
        load_round(path)
    assert [str(p) for p in caught.value.problems] == [
        "error: periods, row 2, column weeks: the cell holds a formula Excel has not "
        "calculated; open and save the file in Excel"]


# ---- formula injection in what we write ---------------------------------------------------------


def test_excel_cells_that_look_like_formulas_are_stored_as_text(tmp_path: Path) -> None:
    data = full_round_data()
    data["pharmacists"][0]["name"] = "=cmd|' /C calc'!A0"
    rnd = parse_round(data)
    path = tmp_path / "round.xlsx"
    save_round(rnd, path)
    wb = openpyxl.load_workbook(path)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert not any(isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))
                   for c in cells)
    shown = {(c.parent.title, c.value, c.data_type) for c in cells if c.value is not None}
    assert ("pharmacists", "'=cmd|' /C calc'!A0", "s") in shown
    assert ("round", "'=SUM(A1)", "s") in shown
    assert ("placements", "'-Dr Patel's surgery", "s") in shown
    assert ("placements", "'@Queen's AMU", "s") in shown
    assert ("organisations", "'+44 Trust", "s") in shown
    assert ("pharmacists", "''=quoted", "s") in shown
    assert ("placements", -0.055, "n") in shown  # numbers stay numbers
    assert load_round(path) == rnd


def test_csv_cells_that_look_like_formulas_are_quoted(tmp_path: Path) -> None:
    data = full_round_data()
    data["pharmacists"][0]["name"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    rnd = parse_round(data)
    save_round(rnd, tmp_path / "bundle")
    text = (tmp_path / "bundle" / "pharmacists.csv").read_bytes().decode("utf-8-sig")
    assert "\r\nPH-0001,'@SUM(1+1)*cmd|' /C calc'!A0," in text
    assert "\r\nPH-0002,''=quoted," in text
    assert ",51.5,-0.02," in text  # numbers are not text: never quoted
    assert load_round(tmp_path / "bundle") == rnd


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+44 20", "'+44 20"),
        ("-Dr", "'-Dr"),
        ("@here", "'@here"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=already", "''=already"),
        ("''-twice", "'''-twice"),
        ("'quoted", "'quoted"),
        ("'", "'"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralise_is_exactly_undone(text: str, written: str) -> None:
    assert neutralise(text) == written
    assert unneutralise(written) == text
