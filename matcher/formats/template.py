"""The empty workbook a planner fills in: ``matcher template OUT.xlsx``."""

from __future__ import annotations

import os
from pathlib import Path

from matcher.domain import FORMAT
from matcher.formats.excel_io import tables_workbook_bytes
from matcher.formats.safety import write_atomic
from matcher.formats.tabular import TABLE_NAMES, TABLES, OutTable


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


def template_bytes() -> bytes:
    """The empty round workbook as .xlsx bytes (for the HTTP service)."""
    return tables_workbook_bytes(template_tables())


def write_template(path: str | os.PathLike[str]) -> None:
    """Write the empty round workbook: every sheet with its headers, header help, dropdowns
    for sector, stream, place and supervises, and an instructions sheet."""
    write_atomic(Path(path), template_bytes())
