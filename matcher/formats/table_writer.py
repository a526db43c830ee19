"""The tables of a round, for the CSV bundle, the Excel workbook and pandas: the writing
half of the layout of :mod:`matcher.formats.tabular` (:func:`round_to_tables`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matcher.domain import Round
from matcher.errors import FormatError, Problem
from matcher.formats.tabular import (
    LIST_SEPARATOR,
    TABLE_NAMES,
    TABLES,
    Kind,
    OutTable,
    TableSpec,
    resolve_column,
)

__all__ = ["round_to_tables"]


def round_to_tables(rnd: Round) -> dict[str, OutTable]:
    """Every table of the round, ready for a writer (empty lists give header-only tables).

    Raises :class:`FormatError` when a list item contains ``;``, which the layout cannot hold.
    """
    data = rnd.model_dump(mode="python", exclude_none=True)
    out: dict[str, OutTable] = {}
    for name in TABLE_NAMES:
        spec = TABLES[name]
        if name == "round":
            records = [{"format": data["format"], **data["round"]}]
        elif spec.section:
            records = [data[name]]
        else:
            records = list(data[name])
        header = _headers(spec, records, rnd.period_ids)
        rows = [_cells(spec, header, rec, name, i) for i, rec in enumerate(records)]
        out[name] = OutTable(name, header, rows)
    return out


def _headers(spec: TableSpec, records: Sequence[Mapping[str, Any]],
             period_ids: Sequence[str]) -> list[str]:
    header: list[str] = []
    for f in spec.fields:
        if f.kind is Kind.MODEL:
            header += [f"{f.name}.{s.name}" for s in f.sub]
            continue
        if f.kind is Kind.PER_PERIOD:
            header.append(f.name)
        if f.kind in (Kind.PER_PERIOD, Kind.MAPPING):
            keys: dict[str, None] = {}
            if f.kind is Kind.PER_PERIOD:
                used = {k for r in records if isinstance(r.get(f.name), dict) for k in r[f.name]}
                keys.update((k, None) for k in period_ids if k in used)
            for r in records:
                if isinstance(r.get(f.name), dict):
                    keys.update((k, None) for k in r[f.name])
            header += [f"{f.name}.{k}" for k in keys]
            continue
        header.append(f.name)
    return header


def _cells(spec: TableSpec, header: Sequence[str], record: Mapping[str, Any], table: str,
           index: int) -> list[Any]:
    row: list[Any] = []
    for h in header:
        column = resolve_column(spec, h)
        assert column is not None, h  # headers come from the spec itself
        f = column.field
        value = record.get(f.name)
        if f.kind is Kind.MODEL:
            value = value.get(column.sub) if isinstance(value, dict) else None
        elif f.kind is Kind.PER_PERIOD and column.sub is None:
            # An empty per-period object (zero everywhere) has no cells: write 0.
            value = 0 if value == {} else value if not isinstance(value, dict) else None
        elif column.sub is not None:
            value = value.get(column.sub) if isinstance(value, dict) else None
        if column.kind is Kind.LIST and value is not None:
            value = _joined(value, table, index, record.get("id"), column.key)
        row.append(value)
    return row


def _joined(items: Sequence[str], table: str, index: int, rec_id: Any, key: str) -> str | None:
    for item in items:
        if LIST_SEPARATOR in item:
            raise FormatError([Problem(
                f"{item!r} contains {LIST_SEPARATOR!r}, which separates list items in CSV and "
                "Excel; rename it or save the round as JSON",
                list=table, index=index, id=rec_id if isinstance(rec_id, str) else None,
                field=key, code="separator_in_item")])
    return LIST_SEPARATOR.join(items) if items else None
