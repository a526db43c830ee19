"""The empty workbook a planner fills in: ``matcher template OUT.xlsx``.

The place dropdowns offer the ICS's own places, given by the planner
(:func:`template_places`: ``--places "Barking and Dagenham,Havering"``, ``--places nel`` for
a named list of :data:`matcher.places.NAMED_PLACE_LISTS`, and/or ``--places-from FILE``).
With no places the place columns are free text: no dropdown, nothing Excel warns about.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from matcher.domain import FORMAT
from matcher.errors import FormatError, Problem
from matcher.formats import safety
from matcher.formats.excel_io import read_sheets, tables_workbook_bytes
from matcher.formats.safety import write_atomic
from matcher.formats.tabular import TABLE_NAMES, TABLES, Kind, OutTable, RawTable, cell_value
from matcher.places import NAMED_PLACE_LISTS

__all__ = ["MAX_PLACES", "template_bytes", "template_places", "template_tables",
           "write_template"]

MAX_PLACES = 1000
"""Most places a template offers (an ICS has a handful; more means the wrong file)."""
MAX_PLACE_LENGTH = 100
"""Longest place name, in characters."""
_HEADERS = ("place", "places")  # a first cell with one of these is a header, not a place
_ROUND_SHEETS = ("placements", "organisations")


def template_tables() -> dict[str, OutTable]:
    """Every table with its headers and no rows; ``round`` holds the format, and ``rules``
    and ``weights`` their defaults, ready to change."""
    out = {name: OutTable(name, TABLES[name].base_headers(), []) for name in TABLE_NAMES}
    out["round"].rows.append([FORMAT if h == "format" else None for h in out["round"].header])
    for name in ("rules", "weights"):
        spec = TABLES[name]
        row = []
        for header in out[name].header:
            f = spec.field(header)
            default = None if f is None else f.default
            row.append(None if default == () else default)
        out[name].rows.append(row)
    return out


def template_bytes(places: Sequence[str] = ()) -> bytes:
    """The empty round workbook as .xlsx bytes (for the HTTP service); ``places`` are
    offered in the place dropdowns (none: free text)."""
    return tables_workbook_bytes(template_tables(), places=places)


def write_template(path: str | os.PathLike[str], places: Sequence[str] = ()) -> None:
    """Write the empty round workbook: every sheet with its headers, header help, dropdowns
    for sector, stream and supervises (and place, when ``places`` are given: they are listed
    at the end of the instructions sheet), and an instructions sheet."""
    write_atomic(Path(path), template_bytes(places))


# ---- the places a template offers ---------------------------------------------------------


def template_places(places: str | None = None,
                    places_from: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """The places to offer, from ``--places`` and/or ``--places-from`` (both: the option's
    first), each once (ignoring case), in the order given.

    ``places`` is a comma-separated list; an item that names a list of
    :data:`~matcher.places.NAMED_PLACE_LISTS` (``nel``) stands for its places. ``places_from``
    is a file: text or CSV with one place per line (CSV: the first column); or an .xlsx
    workbook: its ``places`` sheet, else the ``place`` column of its ``placements`` and
    ``organisations`` sheets (an earlier round's workbook), else its first sheet (the column
    headed ``place`` or ``places``, else the first). A first cell reading ``place`` or
    ``places`` is a header. Raises :class:`FormatError` listing every problem.
    """
    found: list[tuple[str, str]] = []  # (place, where it came from)
    if places is not None:
        for item in places.split(","):
            named = NAMED_PLACE_LISTS.get(item.strip().lower())
            found += [(p, "--places") for p in (named or (item,))]
    if places_from is not None:
        path = Path(places_from)
        found += [(p, path.name) for p in _places_in_file(path)]
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for place, source in found:
        text = " ".join(place.split())
        if not text or text.lower() in seen:
            continue
        if ILLEGAL_CHARACTERS_RE.search(text) or len(text) > MAX_PLACE_LENGTH:
            problems.append(Problem(
                f"place {len(seen) + 1} is not a place name (over {MAX_PLACE_LENGTH} "
                "characters, or control characters); give plain names", source=source,
                code="bad_place"))
            continue
        seen[text.lower()] = text
    if len(seen) > MAX_PLACES:
        problems.append(Problem(
            f"{len(seen)} places is far more than an ICS has (at most {MAX_PLACES} are "
            "offered); is this the right file or column?", source=found[-1][1],
            code="too_many_places"))
    if problems:
        raise FormatError(problems)
    return tuple(seen.values())


def _places_in_file(path: Path) -> list[str]:
    name = path.name or str(path)
    try:
        safety.check_size(path.stat().st_size, name)
        data = path.read_bytes()
    except FileNotFoundError:
        raise safety.refuse("file not found", name, "not_found") from None
    except IsADirectoryError:
        raise safety.refuse("this is a folder, not a file", name, "not_found") from None
    except OSError as exc:
        raise safety.refuse(f"the file cannot be read ({exc.strerror or 'I/O error'})", name,
                            "not_readable") from None
    if path.suffix.lower() == ".xlsx":
        return _places_in_workbook(read_sheets(io.BytesIO(data), name))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise safety.refuse(f"the file is not UTF-8 text (byte {exc.start + 1} is not "
                            "valid); save it as UTF-8", name, "not_utf8") from None
    if path.suffix.lower() == ".csv":
        try:
            firsts = [row[0] if row else "" for row in csv.reader(io.StringIO(text))]
        except csv.Error as exc:
            raise safety.refuse(f"not a readable CSV file ({str(exc)[:80]})", name,
                                "bad_csv") from None
    else:
        firsts = text.splitlines()
    return _without_header(firsts)


def _places_in_workbook(tables: list[RawTable]) -> list[str]:
    by_name = {t.name.strip().lower(): t for t in tables}
    if "places" in by_name:
        return _column(by_name["places"])
    in_round = [t for n, t in by_name.items() if n in _ROUND_SHEETS and _place_column(t) >= 0]
    if in_round:  # an earlier round's workbook: the places it names, in name order
        named: set[str] = set()
        for table in in_round:
            at = _place_column(table)
            named.update(_texts(row[at] if at < len(row) else None for _, row in table.rows))
        return sorted(named)
    return _column(tables[0]) if tables else []


def _column(table: RawTable) -> list[str]:
    """The column headed place or places, else the first (its header cell included)."""
    at = max(_place_column(table), 0)
    header = table.header[at] if at < len(table.header) else None
    cells = [header, *(row[at] if at < len(row) else None for _, row in table.rows)]
    return _without_header(_texts(cells))


def _place_column(table: RawTable) -> int:
    names = [str(cell_value(h, Kind.TEXT, quoted=False) or "").lower() for h in table.header]
    return next((i for i, n in enumerate(names) if n in _HEADERS), -1)


def _texts(cells: Iterable[object]) -> list[str]:
    values = (cell_value(c, Kind.TEXT, quoted=True) for c in cells)
    return [str(v) for v in values if v is not None]


def _without_header(items: list[str]) -> list[str]:
    items = [i.strip() for i in items if i.strip() and not i.strip().startswith("#")]
    if items and items[0].lower() in _HEADERS:
        return items[1:]
    return items
