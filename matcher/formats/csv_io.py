"""The CSV bundle: one ``<table>.csv`` per list, in a folder or a ``.zip``.

Files are UTF-8 (a byte-order mark is accepted, and written so Excel opens them as
UTF-8), comma-separated, with the column names in row 1. The layout of the tables is
:mod:`matcher.formats.tabular`'s. A zip is inspected by :mod:`matcher.formats.safety`
before anything is decompressed and its CSV files are read in memory, never extracted.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from matcher.domain import Round
from matcher.errors import FormatError, Problem
from matcher.formats import safety
from matcher.formats.loaded import Loaded
from matcher.formats.postcodes import Postcodes
from matcher.formats.table_writer import round_to_tables
from matcher.formats.tabular import Dialect, OutTable, RawTable, read_tables

SUFFIX = ".csv"
_IGNORED_PREFIXES = ("__MACOSX/",)


def _file_name(table: str) -> str:
    return f"{table}{SUFFIX}"


DIALECT = Dialect(
    noun="file",
    container="CSV bundle",
    source_of=_file_name,
    column_label=lambda position: f"column {position + 1}",
)


# ---- reading ------------------------------------------------------------------------------


def read_csv_folder(folder: Path, postcodes: Postcodes = None) -> Loaded:
    """Read a round, with where its records came from, from a folder of ``<table>.csv``
    files (other files are ignored); ``postcodes`` is the lookup file for ``postcode``
    columns."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == SUFFIX)
    total = 0
    tables = []
    for path in files:
        size = path.stat().st_size
        safety.check_size(size, path.name)
        total += size
        safety.check_size(total, folder.name or str(folder), what="the CSV files come to")
        tables.append(_parse_csv(path.read_bytes(), path.name))
    return read_tables(tables, DIALECT, postcodes)


def read_csv_zip(file: IO[bytes], source: str, postcodes: Postcodes = None,
                 limits: safety.SizeLimits | None = None) -> Loaded:
    """Read a round, with where its records came from, from a zip of ``<table>.csv``
    files (in its root or one folder); ``postcodes`` is the lookup file for ``postcode``
    columns, ``limits`` the size caps (:func:`~matcher.formats.tabular.read_tables`)."""
    with safety.open_zip(file, source) as archive:
        members = _csv_members(archive, source)
        tables = [
            _parse_csv(safety.read_member(archive, info, source), PurePosixPath(info.filename).name)
            for info in members
        ]
    return read_tables(tables, DIALECT, postcodes, limits)


def _csv_members(archive: zipfile.ZipFile, source: str) -> list[zipfile.ZipInfo]:
    members = [
        info for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith(_IGNORED_PREFIXES)
        and not PurePosixPath(info.filename).name.startswith(".")
        and PurePosixPath(info.filename).suffix.lower() == SUFFIX
    ]
    folders = {PurePosixPath(info.filename).parent for info in members}
    if len(folders) > 1:
        raise safety.refuse(
            "the zip holds CSV files in several folders; put every <table>.csv in one folder",
            source, "bad_bundle")
    if not members:
        raise safety.refuse(
            "the zip holds no CSV files; a CSV bundle has one <table>.csv per list "
            "(periods.csv, placements.csv, pharmacists.csv...)", source, "bad_bundle")
    return members


def _parse_csv(data: bytes, name: str) -> RawTable:
    """One CSV file as a raw table; row numbers count records, the header being row 1."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise safety.refuse(
            f"the file is not UTF-8 text (byte {exc.start + 1} is not valid); save it as "
            "'CSV UTF-8 (comma delimited)'", name, "not_utf8") from None
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for number, cells in enumerate(reader, start=1):
            rows.append((number, cells))
    except csv.Error as exc:
        raise FormatError([Problem(
            f"the file is not valid CSV near row {len(rows) + 1} ({exc})", source=name,
            row=len(rows) + 1, code="bad_csv")]) from None
    header: list[str] = rows[0][1] if rows else []
    if len(header) == 1 and ";" in header[0] and "," not in header[0]:
        raise FormatError([Problem(
            "the columns are separated by ';'; save the file with commas as separators "
            "('CSV UTF-8 (comma delimited)')", source=name, row=1, code="bad_csv")])
    return RawTable(
        name=PurePosixPath(name).stem, source=name, header=header, rows=rows[1:]
    )


# ---- writing ------------------------------------------------------------------------------


def write_csv_folder(rnd: Round, folder: Path) -> None:
    """Write the round as one ``<table>.csv`` per table into ``folder`` (created if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for table in round_to_tables(rnd).values():
        safety.write_atomic(folder / _file_name(table.name), csv_bytes(table))


def csv_zip_bytes(rnd: Round) -> bytes:
    """The round as a zip of ``<table>.csv`` files (in the zip's root)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in round_to_tables(rnd).values():
            archive.writestr(_file_name(table.name), csv_bytes(table))
    return buffer.getvalue()


def csv_bytes(table: OutTable) -> bytes:
    """One table as UTF-8 CSV (with a byte-order mark so Excel reads it as UTF-8)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows(_csv_cells(row) for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


def _csv_cells(row: Iterable[object]) -> Iterator[str]:
    for value in row:
        if value is None:
            yield ""
        elif isinstance(value, bool):
            yield "true" if value else "false"
        elif isinstance(value, str):
            yield safety.neutralise(value)
        elif isinstance(value, float):
            yield repr(value)
        else:
            yield str(value)  # int, datetime.date (ISO format)
