"""Reading and writing rounds: JSON (canonical), CSV bundle, Excel workbook, DataFrames.

The only place in the library that touches files. Every reader builds the JSON-like
document and validates it with :func:`matcher.validation.parse_round`, so every format
loads into exactly the same :class:`~matcher.domain.Round`; CSV and Excel problems name the
file or sheet, the row as the planner sees it and the column. Hostile files (too large,
zip bombs, unsafe names, XML entity tricks) are refused with :class:`FormatError` before
they are parsed; see :mod:`matcher.formats.safety`.

* ``.json``: the canonical form;
* a folder or a ``.zip`` of ``<table>.csv`` files: the CSV bundle;
* ``.xlsx``: the workbook, one sheet per list (``instructions`` is ignored);
* :func:`round_to_frames` / :func:`round_from_frames`: pandas DataFrames.

:func:`load_round_checked` (and :func:`load_round_bytes_checked`) also return the round's
warnings, located like its errors (file or sheet, row and column).

The tables' layout is described in :mod:`matcher.formats.tabular`. Homes and placements may
be given as postcodes, resolved from a lookup file the caller supplies (``postcodes=``; see
:mod:`matcher.formats.postcodes`).
"""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from matcher.domain import Round
from matcher.errors import FormatError, Problem
from matcher.formats import json_io, safety
from matcher.formats.loaded import Loaded
from matcher.formats.postcodes import PostcodeLookup, Postcodes, as_lookup
from matcher.formats.safety import MAX_BYTES, SizeLimits, TooLarge

# The CSV, Excel and DataFrame modules pull in pandas and openpyxl (about 0.35 s): they
# load on first use, so reading and writing JSON stays quick (the CLI's solve command).
if TYPE_CHECKING:
    from matcher.formats import csv_io as csv_io
    from matcher.formats import excel_io as excel_io
    from matcher.formats.frames import round_from_frames, round_to_frames
    from matcher.formats.template import template_bytes, write_template

_LAZY = {"csv_io": ("matcher.formats.csv_io", None),
         "excel_io": ("matcher.formats.excel_io", None),
         "round_from_frames": ("matcher.formats.frames", "round_from_frames"),
         "round_to_frames": ("matcher.formats.frames", "round_to_frames"),
         "template_bytes": ("matcher.formats.template", "template_bytes"),
         "write_template": ("matcher.formats.template", "write_template")}


def __getattr__(name: str) -> Any:
    """Load the pandas- and openpyxl-based parts on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _LAZY[name]
    loaded = importlib.import_module(module)
    value = loaded if attr is None else getattr(loaded, attr)
    globals()[name] = value
    return value

__all__ = [
    "MAX_BYTES",
    "Format",
    "FormatError",
    "PostcodeLookup",
    "SizeLimits",
    "TooLarge",
    "detect_format",
    "load_round",
    "load_round_bytes",
    "load_round_bytes_checked",
    "load_round_checked",
    "round_bytes",
    "round_from_frames",
    "round_to_frames",
    "save_round",
    "template_bytes",
    "write_template",
]

Format = Literal["json", "csv", "zip", "xlsx"]
"""``json``; ``csv`` (a CSV bundle: a folder, or a zip when the path is a file or ends in
``.zip``); ``zip`` (a zipped CSV bundle); ``xlsx`` (an Excel workbook)."""

_SUFFIXES: dict[str, Format] = {".json": "json", ".zip": "zip", ".xlsx": "xlsx"}
_FORMATS: tuple[str, ...] = ("json", "csv", "zip", "xlsx")


def detect_format(path: str | os.PathLike[str], *, fmt: str | None = None) -> Format:
    """The format of a path: ``fmt`` if given, else from the suffix (a folder is ``csv``)."""
    p = Path(path)
    name = p.name or str(p)
    if fmt is not None:
        if fmt not in _FORMATS:
            raise safety.refuse(
                f"unknown format {fmt[:20]!r}; use one of: " + ", ".join(_FORMATS), name,
                "unknown_format")
        if fmt == "csv":
            return "zip" if p.is_file() else "csv"
        return _SUFFIXES[f".{fmt}"]
    if p.is_dir():
        return "csv"
    suffix = p.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    hints = {
        ".xls": "the old .xls format cannot be read; save it as 'Excel Workbook (.xlsx)'",
        ".xlsm": "save the workbook without macros, as 'Excel Workbook (.xlsx)'",
        ".csv": "a CSV bundle is a folder (or a .zip) of one CSV file per list; give the "
        "folder, not one file",
    }
    raise safety.refuse(
        hints.get(suffix, "unknown kind of file; use .json, .xlsx, .zip or a folder of CSV "
                  "files"), name, "unknown_format")


def load_round(source: str | os.PathLike[str], *, fmt: str | None = None,
               postcodes: Postcodes = None) -> Round:
    """Read and validate a round from a file or folder.

    The format comes from ``fmt`` or the suffix: ``.json``; ``.zip`` or a folder (a CSV
    bundle); ``.xlsx``. ``postcodes`` is the postcode lookup file (a path or a
    :class:`PostcodeLookup`) for homes and placements given as postcodes (see
    :mod:`matcher.formats.postcodes`). Raises :class:`~matcher.errors.FormatError` for a
    file that cannot be read at all (missing, too large, corrupt, hostile) and
    :class:`~matcher.errors.InvalidRoundError` listing every problem of an invalid round.
    """
    return _load(source, fmt=fmt, postcodes=postcodes).round


def load_round_checked(source: str | os.PathLike[str], *, fmt: str | None = None,
                       postcodes: Postcodes = None) -> tuple[Round, list[Problem]]:
    """:func:`load_round`, and the round's warnings (:func:`~matcher.validation.round_warnings`)
    located like its errors: file or sheet, row and column for a CSV bundle or workbook,
    ``list[id].field`` for JSON. Raises like :func:`load_round`."""
    loaded = _load(source, fmt=fmt, postcodes=postcodes)
    return loaded.round, loaded.warnings()


def _load(source: str | os.PathLike[str], *, fmt: str | None, postcodes: Postcodes) -> Loaded:
    path = Path(source)
    name = path.name or str(path)
    kind = detect_format(path, fmt=fmt)
    lookup = as_lookup(postcodes)
    if kind == "csv":
        if not path.is_dir():
            raise safety.refuse("folder not found", name, "not_found")
        from matcher.formats import csv_io  # lazy: each format's reader loads on use
        return csv_io.read_csv_folder(path, lookup)
    try:
        size = path.stat().st_size
        safety.check_size(size, name)
        with path.open("rb") as handle:
            if kind == "json":
                return json_io.parse_json_bytes(handle.read(), name, lookup)
            if kind == "zip":
                from matcher.formats import csv_io  # lazy: each format's reader loads on use
                return csv_io.read_csv_zip(handle, name, lookup)
            from matcher.formats import excel_io  # lazy: each format's reader loads on use
            return excel_io.read_workbook(handle, name, lookup)
    except FileNotFoundError:
        raise safety.refuse("file not found", name, "not_found") from None
    except IsADirectoryError:
        raise safety.refuse("this is a folder, not a file", name, "not_found") from None
    except PermissionError:
        raise safety.refuse("permission denied: the file cannot be opened", name,
                            "not_readable") from None
    except OSError as exc:
        raise safety.refuse(f"the file cannot be read ({exc.strerror or 'I/O error'})", name,
                            "not_readable") from None


def load_round_bytes(
    data: bytes, fmt: Literal["json", "xlsx", "zip"], *, source: str | None = None,
    postcodes: Postcodes = None,
) -> Round:
    """Read and validate a round from uploaded bytes (``zip`` is a zipped CSV bundle).

    ``source`` names the upload in messages; ``postcodes`` as for :func:`load_round`.
    Raises like :func:`load_round`.
    """
    return _load_bytes(data, fmt, source=source, postcodes=postcodes).round


def load_round_bytes_checked(
    data: bytes, fmt: Literal["json", "xlsx", "zip"], *, source: str | None = None,
    postcodes: Postcodes = None, limits: SizeLimits | None = None,
) -> tuple[Round, list[Problem]]:
    """:func:`load_round_bytes`, and the round's warnings located like its errors (as
    :func:`load_round_checked`).

    ``limits`` caps the round's size (a service's admission limits): a round with more
    pharmacists or placements than allowed is refused before its records are validated, one
    with more eligible triples once it is valid, with :class:`~matcher.formats.safety.
    TooLarge` (a :class:`FormatError`) naming each count and its cap.
    """
    loaded = _load_bytes(data, fmt, source=source, postcodes=postcodes, limits=limits)
    cand = None
    if limits is not None and limits.candidates is not None:
        from matcher.eligibility import candidates  # lazy: numpy; only a capped read needs it

        cand = candidates(loaded.round)
        limits.check_candidates(len(cand), source or f"upload.{fmt}")
    return loaded.round, loaded.warnings(cand)


def _load_bytes(data: bytes, fmt: Literal["json", "xlsx", "zip"], *, source: str | None,
                postcodes: Postcodes, limits: SizeLimits | None = None) -> Loaded:
    label = source or f"upload.{fmt}"
    safety.check_size(len(data), label)
    lookup = as_lookup(postcodes)
    if fmt == "json":
        return json_io.parse_json_bytes(data, label, lookup, limits)
    if fmt == "zip":
        from matcher.formats import csv_io  # lazy: each format's reader loads on use
        return csv_io.read_csv_zip(io.BytesIO(data), label, lookup, limits)
    if fmt == "xlsx":
        from matcher.formats import excel_io  # lazy: each format's reader loads on use
        return excel_io.read_workbook(io.BytesIO(data), label, lookup, limits)
    raise safety.refuse(f"unknown upload format {str(fmt)[:20]!r}; use json, xlsx or zip",
                        label, "unknown_format")


def round_bytes(rnd: Round, fmt: Literal["json", "xlsx", "zip"]) -> bytes:
    """The round as file content (``zip`` is a zipped CSV bundle), e.g. for a download."""
    if fmt == "json":
        return json_io.json_bytes(rnd)
    if fmt == "zip":
        from matcher.formats import csv_io  # lazy: each format's reader loads on use
        return csv_io.csv_zip_bytes(rnd)
    if fmt == "xlsx":
        from matcher.formats import excel_io  # lazy: each format's reader loads on use
        return excel_io.workbook_bytes(rnd)
    raise safety.refuse(f"unknown format {str(fmt)[:20]!r}; use json, xlsx or zip", None,
                        "unknown_format")


def save_round(rnd: Round, dest: str | os.PathLike[str], *, fmt: str | None = None) -> None:
    """Write a round; the format comes from ``fmt`` or the suffix (as for :func:`load_round`;
    a path without a suffix, or ``fmt="csv"``, is a folder of CSV files).

    Files are replaced atomically, so a failed write never leaves half a file.
    """
    path = Path(dest)
    if fmt is None and not path.suffix:
        fmt = "csv"
    kind = detect_format(path, fmt=fmt)
    if kind == "csv":
        from matcher.formats import csv_io  # lazy: each format's reader loads on use
        csv_io.write_csv_folder(rnd, path)
        return
    safety.write_atomic(path, round_bytes(rnd, kind))
