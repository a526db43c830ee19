"""The planner workbook: an allocation as the Excel sheets planners pass on.

Unlike the result workbook of :mod:`matcher.formats.results` (the §5 document as tables),
this one is arranged for people, names included (the planner's own data):

* ``Summary``: the round, the status, the objective and the baseline's;
* ``By pharmacist``: one row per pharmacist, one column per period and stream (their
  rotation), with preference points and sectors covered;
* ``Rotations``: the same, one row per pharmacist, period and stream (to filter and sort);
* ``By placement``: one row per placement and period: who holds it, empty seats, shortfall;
* ``By organisation``: one row per organisation and period: whom it hosts, against its cap;
* ``Unfilled``: the placement-periods with empty seats or below min_fill;
* ``Unassigned``: the empty slots of available pharmacists, with the reason;
* ``KPIs``: every KPI of :mod:`matcher.kpis`, optimised and baseline side by side.

Safe against formula injection: every text cell is written as text (never a formula) and
text a spreadsheet could run (``=``, ``+``, ``-``, ``@``, tab, carriage return first) gets a
leading quote (:func:`matcher.formats.safety.neutralise`). Written atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from matcher import kpis
from matcher.domain import Round
from matcher.formats.safety import neutralise, write_atomic
from matcher.result import Result

if TYPE_CHECKING:
    from matcher.baseline import Baseline

__all__ = ["SHEETS", "workbook_bytes", "write_workbook"]

SHEETS: tuple[str, ...] = ("Summary", "By pharmacist", "Rotations", "By placement",
                           "By organisation", "Unfilled", "Unassigned", "KPIs")
"""Sheet names, in order."""

_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_MAX_WIDTH = 60


def workbook_bytes(rnd: Round, result: Result, *, baseline: Baseline | None = None) -> bytes:
    """The planner workbook of a result (an allocation of ``rnd``) as .xlsx bytes."""
    detail = kpis.tables(rnd, result.allocation, result.unassigned)
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    _sheet(wb, "Summary", ["item", "value"], _summary(rnd, result, baseline))
    head, rows = _by_pharmacist(rnd, result, detail)
    _sheet(wb, "By pharmacist", head, rows)
    _sheet(wb, "Rotations", _ROTATION_HEAD, _rotations(rnd, result, detail))
    _sheet(wb, "By placement", _PLACEMENT_HEAD, _by_placement(rnd, detail))
    _sheet(wb, "By organisation", _ORG_HEAD, _by_organisation(rnd, result))
    _sheet(wb, "Unfilled", _UNFILLED_HEAD, _unfilled(rnd, detail))
    _sheet(wb, "Unassigned", ["pharmacist", "name", "period", "stream", "reason"],
           [[u.pharmacist, _person(rnd, u.pharmacist), u.period, u.stream, u.reason]
            for u in result.unassigned])
    _sheet(wb, "KPIs", ["kpi", "meaning", "optimised", "baseline", "difference"],
           _kpi_rows(result.kpis, baseline.kpis if baseline is not None else None,
                     result.objective, baseline.objective if baseline is not None else None),
           percent_when=lambda row: _is_share(str(row[0])))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def write_workbook(rnd: Round, result: Result, dest: str | os.PathLike[str], *,
                   baseline: Baseline | None = None) -> None:
    """Write the planner workbook (.xlsx) atomically."""
    write_atomic(Path(dest), workbook_bytes(rnd, result, baseline=baseline))


# ---- sheets --------------------------------------------------------------------------------


def _person(rnd: Round, pharmacist_id: str) -> str:
    return rnd.pharmacist(pharmacist_id).name or ""


def _placement_name(rnd: Round, placement_id: str) -> str:
    return rnd.placement(placement_id).name or placement_id


def _org_name(rnd: Round, org_id: str | None) -> str:
    if org_id is None:
        return ""
    org = rnd.organisations[rnd.organisation_index[org_id]]
    return org.name or org.id


def _summary(rnd: Round, result: Result, baseline: Baseline | None) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["round", rnd.round.id], ["name", rnd.round.name or ""], ["ICS", rnd.round.ics or ""],
        ["status", result.status], ["objective", result.objective], ["bound", result.bound],
        ["gap", result.gap], ["pharmacists", len(rnd.pharmacists)],
        ["placements", len(rnd.placements)],
        ["periods", ", ".join(rnd.period_ids)],
        ["streams", ", ".join(s.id for s in rnd.effective_streams)],
    ]
    if baseline is not None:
        rows += [["baseline objective (serial priority)", baseline.objective],
                 ["baseline order", baseline.order_name],
                 ["baseline keeps every hard rule", "yes" if baseline.feasible else
                  f"no: {len(baseline.violations)} rule(s) broken"]]
    rows += [[f"diagnosis {n}", d.get("message", str(d)) if isinstance(d, dict) else str(d)]
             for n, d in enumerate(result.to_dict()["diagnosis"], start=1)]
    return rows


def _slot_label(rnd: Round, placement_id: str) -> str:
    return f"{placement_id} – {_placement_name(rnd, placement_id)}"


def _by_pharmacist(rnd: Round, result: Result, detail: kpis.KpiTables
                   ) -> tuple[list[str], list[list[Any]]]:
    streams = rnd.effective_streams
    slots = [(t, s.id) for t in rnd.period_ids for s in streams]
    head = ["pharmacist", "name",
            *(f"{t} {s}" if rnd.streams else t for t, s in slots),
            "preference points", "sectors covered", "sectors", "empty slots"]
    held = {(a.pharmacist, a.period, a.stream): a.placement for a in result.assignments}
    people = {r["pharmacist"]: r for r in detail.pharmacists.to_dict("records")}
    rows = []
    for ph in rnd.pharmacists:
        cells: list[Any] = [ph.id, ph.name or ""]
        for t, s in slots:
            l_id = held.get((ph.id, t, s))
            cells.append(_slot_label(rnd, l_id) if l_id else
                         "on leave" if t in ph.unavailable else "unassigned")
        info = people.get(ph.id, {})
        cells += [info.get("preference_points", 0), info.get("sectors_covered", 0),
                  info.get("sectors", ""), info.get("empty_slots", 0)]
        rows.append(cells)
    return head, rows


_ROTATION_HEAD = ["pharmacist", "name", "period", "start", "weeks", "stream", "placement",
                  "placement name", "organisation", "sector", "place", "preference rank",
                  "travel", "score", "reason"]


def _rotations(rnd: Round, result: Result, detail: kpis.KpiTables) -> list[list[Any]]:
    held = {(a.pharmacist, a.period, a.stream): a for a in result.assignments}
    empty = {(u.pharmacist, u.period, u.stream): u.reason for u in result.unassigned}
    measured = {(r["pharmacist"], r["period"], r["stream"]): r
                for r in detail.assignments.to_dict("records")}
    rows: list[list[Any]] = []
    for ph in rnd.pharmacists:
        for t in rnd.periods:
            if t.id in ph.unavailable:
                continue
            for s in rnd.effective_streams:
                a = held.get((ph.id, t.id, s.id))
                start = t.start.isoformat() if t.start else ""
                if a is None:
                    rows.append([ph.id, ph.name or "", t.id, start, t.weeks, s.id, "", "",
                                 "", "", "", "", None, None,
                                 empty.get((ph.id, t.id, s.id), "")])
                    continue
                pl = rnd.placement(a.placement)
                m = measured[ph.id, t.id, s.id]
                rank = m["rank"]
                rows.append([ph.id, ph.name or "", t.id, start, t.weeks, s.id, pl.id,
                             pl.name or pl.id, _org_name(rnd, pl.organisation), pl.sector,
                             m["place"], "unranked" if _missing(rank) else int(rank),
                             m["travel"], a.score, ""])
    return rows


_PLACEMENT_HEAD = ["placement", "name", "organisation", "place", "sector", "stream",
                   "period", "capacity", "min_fill", "filled", "empty seats", "shortfall",
                   "hard_to_recruit", "population_health", "pharmacists"]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _holders(rnd: Round, ids: Iterable[str]) -> str:
    return "; ".join(f"{_person(rnd, p)} ({p})" if _person(rnd, p) else p for p in ids)


def _by_placement(rnd: Round, detail: kpis.KpiTables) -> list[list[Any]]:
    return [[r["placement"], _placement_name(rnd, r["placement"]),
             _org_name(rnd, r["organisation"]), r["place"], r["sector"], r["stream"],
             r["period"], r["capacity"], r["min_fill"], r["filled"], r["empty_seats"],
             r["shortfall"], r["hard_to_recruit"], r["population_health"],
             _holders(rnd, r["holders"])]
            for r in detail.placements.to_dict("records")]


_ORG_HEAD = ["organisation", "name", "kind", "place", "period", "max_pharmacists",
             "pharmacists hosted", "placements held", "pharmacists"]


def _by_organisation(rnd: Round, result: Result) -> list[list[Any]]:
    by_org: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for a in result.assignments:
        org_id = rnd.placement(a.placement).organisation
        if org_id is not None:
            by_org.setdefault((org_id, a.period), []).append((a.pharmacist, a.placement))
    rows: list[list[Any]] = []
    for org in rnd.organisations:
        for t in rnd.period_ids:
            held = by_org.get((org.id, t), [])
            people = list(dict.fromkeys(p for p, _ in held))
            rows.append([org.id, org.name or org.id, org.kind or "", org.place or "", t,
                         org.max_pharmacists, len(people),
                         "; ".join(sorted({l_id for _, l_id in held})),
                         _holders(rnd, people)])
    return rows


_UNFILLED_HEAD = ["placement", "name", "organisation", "place", "sector", "stream",
                  "period", "capacity", "filled", "empty seats", "min_fill", "shortfall",
                  "hard_to_recruit", "population_health"]


def _unfilled(rnd: Round, detail: kpis.KpiTables) -> list[list[Any]]:
    return [[r["placement"], _placement_name(rnd, r["placement"]),
             _org_name(rnd, r["organisation"]), r["place"], r["sector"], r["stream"],
             r["period"], r["capacity"], r["filled"], r["empty_seats"], r["min_fill"],
             r["shortfall"], r["hard_to_recruit"], r["population_health"]]
            for r in detail.placements.to_dict("records")
            if r["empty_seats"] > 0 or r["shortfall"] > 0]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _is_share(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last.endswith("_share") or (last.endswith("fill") and last != "min_fill")


def _kpi_rows(ours: Mapping[str, Any], theirs: Mapping[str, Any] | None,
              objective: int | None, base_objective: int | None) -> list[list[Any]]:
    flat = {"objective": objective, **_flatten(ours)}
    other = {"objective": base_objective, **_flatten(theirs)} if theirs is not None else {}
    order = ["objective", *kpis.HEADLINE, *(k for k in flat if k not in kpis.HEADLINE)]
    rows: list[list[Any]] = []
    for key in dict.fromkeys(order):
        if key not in flat or key.startswith("objective_parts"):
            continue
        mine, base = flat[key], other.get(key)
        diff = (mine - base if isinstance(mine, int | float) and isinstance(base, int | float)
                and not isinstance(mine, bool) else None)
        rows.append([key, kpis.HEADLINE.get(key, "§4 objective" if key == "objective" else ""),
                     mine, base, diff])
    return rows


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if hasattr(value, "item"):
        return value.item()
    return neutralise(str(value))


def _sheet(wb: Workbook, title: str, head: Sequence[str], rows: Iterable[Sequence[Any]], *,
           percent_when: Any = None) -> Worksheet:
    ws: Worksheet = wb.create_sheet(title)
    ws.append([neutralise(h) for h in head])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(vertical="top", wrap_text=True)
    widths = [len(str(h)) for h in head]
    for row in rows:
        values = [_cell(v) for v in row]
        ws.append(values)
        for i, v in enumerate(values):
            if v is not None and i < len(widths):
                widths[i] = max(widths[i], min(_MAX_WIDTH, len(str(v))))
        if percent_when is not None and percent_when(row):
            for cell in ws[ws.max_row][2:5]:
                if isinstance(cell.value, int | float):
                    cell.number_format = "0.0%"
    for row_cells in ws.iter_rows(min_row=1):
        for cell in row_cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text is never a formula, whatever it starts with
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width + 2
    ws.freeze_panes = "A2"
    if ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions
    return ws
