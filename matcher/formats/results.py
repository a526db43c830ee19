"""Reading and writing results (spec §5): JSON (canonical), one CSV, or an Excel workbook.

* JSON is the §5 document, exactly :meth:`Result.to_dict`.
* CSV is one table a planner can filter: a row per assignment (with its score and terms) and
  a row per empty (pharmacist, period, stream) slot, whose ``placement`` is empty and whose
  ``reason`` says why.
* Excel has the sheets ``summary``, ``assignments``, ``unassigned``, ``kpis`` and
  ``diagnosis``; text that a spreadsheet could run as a formula is neutralised.

Every file is written atomically: it is replaced whole or left as it was.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matcher.errors import FormatError, Problem
from matcher.formats.safety import MAX_BYTES, check_size, neutralise, refuse, write_atomic
from matcher.result import Result

if TYPE_CHECKING:  # pandas and openpyxl load only when a table or workbook is made
    import pandas as pd

RESULT_SUFFIXES = (".json", ".csv", ".xlsx")


def result_table(result: Result) -> pd.DataFrame:
    """Assignments and empty slots in one DataFrame (the CSV layout)."""
    import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

    frames = result.to_frames()
    empty = frames.unassigned.assign(placement=None)
    table = pd.concat([frames.assignments, empty], ignore_index=True)
    columns = [*frames.assignments.columns, "reason"]
    table = table.reindex(columns=columns)
    # Empty slots have no score: keep the numbers whole (nullable integers, not floats).
    numbers = [c for c in frames.assignments.columns
               if c not in ("pharmacist", "period", "stream", "placement")]
    table[numbers] = table[numbers].astype("Int64")
    return table.sort_values(["pharmacist", "period", "stream"], kind="stable",
                             ignore_index=True)


def result_bytes(result: Result, fmt: str) -> bytes:
    """The result as bytes in ``json``, ``csv`` or ``xlsx``."""
    if fmt == "json":
        return (json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n").encode()
    if fmt == "csv":
        return _csv_bytes(result_table(result))
    if fmt == "xlsx":
        return _xlsx_bytes(result)
    raise refuse(f"unknown result format {fmt[:20]!r}; use json, csv or xlsx", None,
                 "unknown_format")


def save_result(result: Result, dest: str | os.PathLike[str]) -> None:
    """Write a result; the format comes from the suffix (.json, .csv or .xlsx)."""
    path = Path(dest)
    fmt = path.suffix.lower().lstrip(".")
    if f".{fmt}" not in RESULT_SUFFIXES:
        raise refuse(f"cannot write a result to {path.name!r}: use a name ending in "
                     + ", ".join(RESULT_SUFFIXES), str(path.name), "unknown_format")
    write_atomic(path, result_bytes(result, fmt))


def load_result(source: str | os.PathLike[str]) -> Result:
    """Read a §5 result from a JSON file (as written by :func:`save_result`)."""
    path = Path(source)
    name = path.name
    if not path.is_file():
        raise refuse(f"no such file: {name!r}", name, "not_found")
    check_size(path.stat().st_size, name, limit=MAX_BYTES)
    try:
        data: Any = json.loads(path.read_bytes().decode("utf-8-sig"))
        return Result.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        detail = str(exc) if isinstance(exc, ValueError) else f"missing or wrong {exc}"
        raise FormatError([Problem(f"not a spin-result/1 JSON document: {detail[:200]}",
                                   source=name, code="not_a_result")]) from None


def _csv_bytes(table: pd.DataFrame) -> bytes:
    import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.itertuples(index=False):
        writer.writerow(["" if pd.isna(v) else neutralise(v) if isinstance(v, str) else v
                         for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _xlsx_bytes(result: Result) -> bytes:
    # lazy: pandas and openpyxl cost about 0.5 s at start-up
    import pandas as pd
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Font

    frames = result.to_frames()
    summary = pd.DataFrame(
        [("round", result.round), ("status", result.status),
         ("objective", result.objective), ("bound", result.bound), ("gap", result.gap),
         *((f"stats.{k}", v) for k, v in result.stats.items())],
        columns=["item", "value"])
    diagnosis = pd.DataFrame(
        [{"rule": d.get("rule", ""), "message": d.get("message", str(d))}
         if isinstance(d, dict) else {"rule": "", "message": str(d)}
         for d in result.to_dict()["diagnosis"]], columns=["rule", "message"])
    sheets = {"summary": summary, "assignments": frames.assignments,
              "unassigned": frames.unassigned, "kpis": frames.kpis, "diagnosis": diagnosis}
    workbook = Workbook()
    first = True
    for title, frame in sheets.items():
        sheet = workbook.active if first else workbook.create_sheet(title)
        assert sheet is not None
        sheet.title = title
        first = False
        sheet.append(list(frame.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in frame.itertuples(index=False):
            sheet.append([_cell(v) for v in row])
        for row_cells in sheet.iter_rows(min_row=2):
            for cell in row_cells:
                if isinstance(cell, Cell) and isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

    if value is None or (not isinstance(value, str | dict | list) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict | list):
        return neutralise(json.dumps(value))
    if hasattr(value, "item"):
        return value.item()
    return value
