"""The Excel workbook: one sheet per list, plus an ``instructions`` sheet that readers ignore.

Reading checks the file with :mod:`matcher.formats.safety` first (size, zip bomb, unsafe
names, DTD or entity declarations), then opens it with openpyxl in read-only mode with
``data_only=True``: formulas are never evaluated (the value Excel last saved is used) and
XML is parsed through defusedxml. Writing neutralises text that a spreadsheet would run as
a formula, adds the column help as header comments, dropdowns for the columns with fixed
choices, and the instructions sheet.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from typing import IO, Any, Literal

from defusedxml import DefusedXmlException
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet._read_only import ReadOnlyWorksheet  # noqa: PLC2701 (no public path)
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula
from openpyxl.worksheet.worksheet import Worksheet

from matcher.domain import SECTORS, Round
from matcher.errors import FormatError, Problem
from matcher.formats import guide, safety
from matcher.formats.loaded import Loaded
from matcher.formats.postcodes import Postcodes
from matcher.formats.table_writer import round_to_tables
from matcher.formats.tabular import (
    UNCALCULATED,
    Dialect,
    OutTable,
    RawTable,
    is_empty,
    read_tables,
)

_LAST_ROW = 1_048_576  # Excel's last row: dropdowns cover the whole column below the header
MAX_COLUMNS = 1000
"""Most columns a sheet may use (a round needs about 20, plus two per period at most)."""
_REFERENCED_ROWS = 1000  # ids offered in a dropdown fed from another sheet (rows 2 to this)
_HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
_AUTHOR = "SPIN Matcher"

DIALECT = Dialect(
    noun="sheet",
    container="workbook",
    source_of=lambda table: table,
    column_label=lambda position: f"column {get_column_letter(position + 1)}",
)


# ---- reading ------------------------------------------------------------------------------


def read_workbook(file: IO[bytes], source: str, postcodes: Postcodes = None,
                  limits: safety.SizeLimits | None = None) -> Loaded:
    """Read a round, with where its records came from, from an .xlsx workbook (file
    object positioned at its start); ``postcodes`` is the lookup file for ``postcode``
    columns, ``limits`` the size caps (:func:`~matcher.formats.tabular.read_tables`)."""
    return read_tables(read_sheets(file, source), DIALECT, postcodes, limits)


def read_sheets(file: IO[bytes], source: str) -> list[RawTable]:
    """Every data sheet of an .xlsx workbook as a raw table (row 1 as the header, then the
    non-blank rows), after the safety checks; the instructions sheet is skipped."""
    safety.ensure_defused_xml(source)
    with safety.open_zip(file, source, what="Excel workbook (.xlsx)") as archive:
        safety.refuse_xml_declarations(archive, source)
        formulas = _has_formulas(archive, source)
    file.seek(0)
    tables = _sheets(file, source)
    if formulas:
        file.seek(0)
        tables = _mark_uncalculated(tables, _formula_cells(file, source))
    return tables


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(archive: zipfile.ZipFile, source: str) -> bool:
    """Whether any worksheet holds a formula (a cheap scan before a second, slower pass)."""
    for info in archive.infolist():
        name = info.filename.lower()
        if (name.startswith("xl/worksheets/") and name.endswith(".xml")
                and _FORMULA.search(safety.read_member(archive, info, source))):
            return True
    return False


def _formula_cells(file: IO[bytes], source: str) -> dict[str, set[tuple[int, int]]]:
    """Per sheet, the (row, 0-based column) of every formula cell."""
    try:
        workbook = load_workbook(file, read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on damaged or hostile files
        raise _unreadable(source, exc) from None
    try:
        found: dict[str, set[tuple[int, int]]] = {}
        for title in workbook.sheetnames:
            sheet = workbook[title]
            if not isinstance(sheet, ReadOnlyWorksheet):
                continue
            sheet.reset_dimensions()
            cells = found.setdefault(title, set())
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number > _LAST_ROW:
                    break
                cells.update((number, col) for col, value in enumerate(values[:MAX_COLUMNS])
                             if _is_formula(value))
        return found
    except Exception as exc:  # sheets are parsed lazily, so damage can surface here too
        raise _unreadable(source, exc) from None
    finally:
        workbook.close()


def _is_formula(value: Any) -> bool:
    return (isinstance(value, str) and value.startswith("=")) or isinstance(
        value, ArrayFormula | DataTableFormula)


def _mark_uncalculated(tables: list[RawTable], formulas: Mapping[str, set[tuple[int, int]]]
                       ) -> list[RawTable]:
    """The tables with :data:`UNCALCULATED` in every formula cell that has no saved value
    (a file written by a program and never opened in Excel), so it is reported as such
    rather than as an empty cell."""
    out = []
    for table in tables:
        cells = formulas.get(table.source, set())
        rows = [(number, [UNCALCULATED if value is None and (number, col) in cells else value
                          for col, value in enumerate(values)])
                for number, values in table.rows] if cells else table.rows
        out.append(RawTable(table.name, table.source, table.header, rows))
    return out


def _sheets(file: IO[bytes], source: str) -> list[RawTable]:
    """Every data sheet as a raw table (the instructions sheet and chart sheets skipped)."""
    try:
        workbook = load_workbook(file, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # openpyxl raises many kinds on damaged or hostile files
        raise _unreadable(source, exc) from None
    try:
        tables = []
        for title in workbook.sheetnames:
            if title.strip().lower() == guide.INSTRUCTIONS_SHEET:
                continue
            sheet = workbook[title]
            if isinstance(sheet, ReadOnlyWorksheet):  # a chart sheet holds no data
                tables.append(_sheet_table(sheet, title, source))
        return tables
    except FormatError:
        raise
    except Exception as exc:  # sheets are parsed lazily, so damage can surface here too
        raise _unreadable(source, exc) from None
    finally:
        workbook.close()


def _sheet_table(sheet: ReadOnlyWorksheet, title: str, source: str) -> RawTable:
    """One sheet's header (row 1) and non-blank rows, refusing sheets beyond Excel's limits.

    Rows are streamed and blank ones dropped, so a tiny file that claims a far-away cell
    cannot make the reader build millions of empty rows.
    """
    sheet.reset_dimensions()  # other tools often write a wrong used range
    header: Sequence[Any] = ()
    rows: list[tuple[int, Sequence[Any]]] = []
    # The stubs declare iter_rows on Worksheet only; ReadOnlyWorksheet borrows it.
    stream = sheet.iter_rows(values_only=True)  # type: ignore[misc]
    for number, values in enumerate(stream, start=1):
        if number > _LAST_ROW:
            raise safety.refuse(
                f"sheet {title!r} has rows beyond row {_LAST_ROW}, Excel's last row; the "
                "workbook is damaged", source, "bad_workbook")
        if len(values) > MAX_COLUMNS and any(v is not None for v in values[MAX_COLUMNS:]):
            raise safety.refuse(
                f"sheet {title!r} has a value beyond column {get_column_letter(MAX_COLUMNS)} "
                f"(row {number}); a round needs far fewer columns", source, "too_many_columns")
        if number == 1:
            header = values
        elif not all(is_empty(v) for v in values):
            rows.append((number, values))
    return RawTable(name=title, source=title, header=header, rows=rows)


def _unreadable(source: str, exc: Exception) -> FormatError:
    if _from_defusedxml(exc):
        return safety.refuse(
            "the workbook's XML declares entities or a DTD, which workbooks never need; "
            "refused as a possible XML attack",
            source,
            "unsafe_xml",
        )
    reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
    return safety.refuse(
        f"the file cannot be read as an Excel workbook (.xlsx) ({reason}); open it in Excel "
        "and save it again as 'Excel Workbook (.xlsx)'",
        source,
        "bad_workbook",
    )


def _from_defusedxml(exc: BaseException | None) -> bool:
    """Whether defusedxml refused the XML, possibly under exceptions openpyxl wraps it in."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DefusedXmlException):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


# ---- writing ------------------------------------------------------------------------------


def workbook_bytes(rnd: Round) -> bytes:
    """The round as an .xlsx workbook (with the instructions sheet and dropdowns; the place
    dropdowns offer the places the round's placements and organisations name)."""
    named = {pl.place for pl in rnd.placements if pl.place}
    named |= {org.place for org in rnd.organisations if org.place}
    return tables_workbook_bytes(round_to_tables(rnd), places=sorted(named))


def tables_workbook_bytes(tables: Mapping[str, OutTable], places: Sequence[str] = ()) -> bytes:
    """A workbook of the given tables, with instructions, header help and dropdowns.

    ``places`` are listed at the end of the instructions sheet and offered in the place
    dropdowns (a place not listed can still be typed, after Excel asks to confirm it); with
    none, place is a free-text column without a dropdown.
    """
    workbook = Workbook()
    instructions = workbook.active
    assert isinstance(instructions, Worksheet)  # a new workbook starts with one worksheet
    places_range = _write_instructions(instructions, places)
    sheets = {}
    for table in tables.values():
        sheet = workbook.create_sheet(table.name)
        _write_table(sheet, table)
        sheets[table.name] = sheet
    _add_dropdowns(sheets, tables, places_range)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_table(sheet: Worksheet, table: OutTable) -> None:
    for col, header in enumerate(table.header, start=1):
        cell = sheet.cell(row=1, column=col, value=header)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        help_text = guide.column_help(table.name, header)
        if help_text:
            comment = Comment(help_text, _AUTHOR)
            comment.width, comment.height = 300, 120
            cell.comment = comment
        width = max([len(header), *(len(_shown(r[col - 1])) for r in table.rows[:200])])
        sheet.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 10), 50)
    for r, values in enumerate(table.rows, start=2):
        for col, value in enumerate(values, start=1):
            if value is None:
                continue
            _set(sheet, r, col, value, table, table.header[col - 1])
    sheet.freeze_panes = "A2"


def _set(sheet: Worksheet, row: int, col: int, value: Any, table: OutTable, header: str) -> None:
    if isinstance(value, str):
        if ILLEGAL_CHARACTERS_RE.search(value):
            raise FormatError([Problem(
                "the text holds control characters that an Excel workbook cannot store; "
                "remove them or save the round as JSON",
                list=table.name, index=row - 2, field=header, code="illegal_character")])
        cell = sheet.cell(row=row, column=col, value=safety.neutralise(value))
        cell.data_type = "s"  # text, whatever it looks like: never a formula
    else:
        cell = sheet.cell(row=row, column=col, value=value)
        if isinstance(value, dt.date):
            cell.number_format = "yyyy-mm-dd"


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _write_instructions(sheet: Worksheet, places: Sequence[str]) -> str | None:
    """Write the instructions sheet; return the range holding the places (``None`` when
    there are none), the last rows of column B."""
    sheet.title = guide.INSTRUCTIONS_SHEET
    wrap = Alignment(wrap_text=True, vertical="top")
    for values in guide.instruction_rows(places):
        sheet.append([safety.neutralise(v) for v in values])
        for cell in sheet[sheet.max_row]:
            cell.alignment = wrap
            if values[0] in ("Sheet", guide.PLACES_HEADING):
                cell.font = Font(bold=True)
                cell.fill = _HEADER_FILL
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.column_dimensions["A"].width = 16
    sheet.column_dimensions["B"].width = 60
    sheet.column_dimensions["C"].width = 90
    if not places:
        return None
    last = sheet.max_row
    first = last - len(places) + 1
    return f"{quote_sheetname(guide.INSTRUCTIONS_SHEET)}!$B${first}:$B${last}"


def _add_dropdowns(sheets: Mapping[str, Worksheet], tables: Mapping[str, OutTable],
                   places: str | None) -> None:
    """Dropdowns for columns with fixed or referenced choices (``places``: the range of the
    place list, or ``None`` for no place dropdown)."""
    choices: dict[tuple[str, str], tuple[str | None, Literal["stop", "warning"]]] = {
        ("placements", "sector"): (_inline(SECTORS), "stop"),
        ("placements", "place"): (places, "warning"),
        ("organisations", "place"): (places, "warning"),
        ("supervisors", "supervises"): (_inline(guide.SUPERVISES), "stop"),
        ("placements", "stream"): (_ids_of("streams", tables), "stop"),
        ("placements", "organisation"): (_ids_of("organisations", tables), "warning"),
    }
    for (table, column), (formula, style) in choices.items():
        if table not in tables or column not in tables[table].header or formula is None:
            continue
        letter = get_column_letter(tables[table].header.index(column) + 1)
        validation = DataValidation(
            type="list", formula1=formula, allow_blank=True, errorStyle=style,
            showErrorMessage=True, errorTitle=f"{table}.{column}",
            error="Pick a value from the list." if style == "stop"
            else "This is not in the list; keep it only if you are sure.",
        )
        validation.add(f"{letter}2:{letter}{_LAST_ROW}")
        sheets[table].add_data_validation(validation)


def _inline(values: tuple[str, ...]) -> str:
    return '"' + ",".join(values) + '"'


def _ids_of(table: str, tables: Mapping[str, OutTable]) -> str | None:
    if table not in tables or "id" not in tables[table].header:
        return None
    letter = get_column_letter(tables[table].header.index("id") + 1)
    return f"{quote_sheetname(table)}!${letter}$2:${letter}${_REFERENCED_ROWS}"
