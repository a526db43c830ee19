"""The planner's report: KPIs against the baseline, tables, charts and explanations.

:func:`prepare` gathers what a report needs from a round and its result: the KPIs
(:mod:`matcher.kpis`), the serial-priority baseline (:mod:`matcher.baseline`) and the
explanations (:mod:`matcher.explanations`, with a bounded re-solve budget). :func:`render_html`
turns that into one self-contained HTML page (Jinja2 with autoescaping; matplotlib charts
embedded as SVG data URIs; CSS inline; no external URL, no script) that also reads well
printed; :func:`write_report` writes it atomically. The same :class:`Report` feeds the
planner workbook (:mod:`matcher.planner_workbook`).

The page shows, in order: a summary; the KPIs side by side with the baseline's; fill by
hard-to-recruit level, place and sector; travel and fairness; the placements drawn on
their coordinates coloured by fill; a table per place (who holds each placement, when);
each pharmacist's rotation timeline across periods and streams; empty slots with their
reasons; and the explanations. Reports are for planners and show pharmacist names (the
planner's own data); nothing here logs them.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from matcher import checker, kpis
from matcher.baseline import Baseline, serial_priority
from matcher.domain import Round
from matcher.formats.safety import write_atomic
from matcher.gap_tables import gap_groups
from matcher.result import Result
from matcher.wording import number, percent

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from matcher.explanations import Explanation

__all__ = [
    "COMPARED",
    "Report",
    "ResultMismatchError",
    "ensure_fits",
    "explanation_of",
    "prepare",
    "render_html",
    "sector_label",
    "write_report",
]

log = logging.getLogger(__name__)

COMPARED: tuple[tuple[str, str, str, int], ...] = (
    ("objective", "Objective (§4)", "count", 1),
    ("assignments", "Assignments made", "count", 1),
    ("unassigned", "Empty slots (pharmacist, period, stream)", "count", -1),
    ("pharmacists_unassigned", "Pharmacists with an empty slot", "count", -1),
    ("first_choice_share", "First choice", "share", 1),
    ("top_3_share", "Top three", "share", 1),
    ("unranked_share", "Not ranked by the pharmacist", "share", -1),
    ("hard_to_recruit_fill", "Hard-to-recruit seats filled", "share", 1),
    ("population_health_fill", "Population-health weighted fill", "share", 1),
    ("fill", "All seats filled", "share", 1),
    ("shortfall", "Seats below min_fill", "count", -1),
    ("mean_travel", "Mean travel", "number", -1),
    ("max_travel", "Longest travel", "count", -1),
    ("sectors_mean", "Mean sectors per pharmacist", "number", 1),
    ("worst_off_points", "Worst-off pharmacist's preference points", "count", 1),
    ("points_spread", "Spread of preference points (max − min)", "count", -1),
)
"""Rows of the KPI comparison: key, label, kind (count, share, number) and direction
(1: higher is better, -1: lower is better)."""

SECTOR_COLOURS: dict[str, str] = {
    "general_practice": "#4e79a7",
    "community_pharmacy": "#59a14f",
    "hospital": "#e15759",
    "mental_health": "#b07aa1",
    "community_services": "#f28e2b",
    "integrated_care": "#76b7b2",
}
"""One colour per sector (timeline and legend)."""

_OPTIMISED, _BASE = "#1f5f9e", "#b9b9b9"


class ResultMismatchError(ValueError):
    """The result is not an allocation of this round (other round, or it breaks its rules)."""


@dataclass(frozen=True)
class Report:
    """Everything a report or planner workbook shows: the round, the result, its KPI
    tables, the baseline (``None`` without a solution) and the explanations (``None``
    when :mod:`matcher.explanations` is not installed)."""

    round: Round
    result: Result
    tables: kpis.KpiTables
    baseline: Baseline | None
    explanation: Explanation | None
    generated: dt.datetime


def ensure_fits(rnd: Round, result: Result) -> None:
    """Raise :class:`ResultMismatchError` unless the result is an allocation of this round
    that keeps its hard rules."""
    if result.round != rnd.round.id:
        raise ResultMismatchError(
            f"the result is of round {result.round!r}, not {rnd.round.id!r}")
    broken = checker.violations(rnd, result.allocation) if result.has_solution else []
    if broken:
        shown = "; ".join(str(v) for v in broken[:3])
        raise ResultMismatchError(
            f"the result does not fit this round: {len(broken)} hard rule(s) broken ({shown})")


def explanation_of(rnd: Round, result: Result, *, time_limit_s: float = 10.0,
                   max_resolves: int | None = 20, workers: int = 0) -> Explanation | None:
    """The explanations of the result, or ``None`` when :mod:`matcher.explanations` is absent.

    ``time_limit_s`` and ``max_resolves`` bound the re-solves that measure what a better
    placement would cost (0 for either: reasons only, no costs; ``None`` re-solves: no count
    limit). ``workers`` re-solves run at once (0: one per core).
    """
    try:
        from matcher.explanations import explain  # local: the report works without it
    except ModuleNotFoundError as exc:
        if exc.name != "matcher.explanations":
            raise
        log.info("matcher.explanations is not installed: the report has no explanations")
        return None
    resolves = max_resolves if time_limit_s > 0 else 0
    return explain(rnd, result, max_resolves=resolves, time_limit_s=max(0.0, time_limit_s),
                   workers=workers)


def prepare(
    rnd: Round,
    result: Result,
    *,
    baseline: Baseline | None = None,
    order: str | Sequence[str] = "listed",
    seed: int = 0,
    explain_seconds: float = 10.0,
    max_resolves: int | None = 20,
    with_explanations: bool = True,
    explain_workers: int = 0,
) -> Report:
    """Gather a :class:`Report`: checks the result fits the round (``ResultMismatchError``),
    computes the baseline (``order``/``seed``, see :mod:`matcher.baseline`) unless given,
    and the explanations within ``explain_seconds`` of re-solving (``explain_workers``
    re-solves at once, 0: one per core)."""
    ensure_fits(rnd, result)
    if baseline is None and result.has_solution:
        baseline = serial_priority(rnd, order=order, seed=seed)
    explanation = (explanation_of(rnd, result, time_limit_s=explain_seconds,
                                  max_resolves=max_resolves, workers=explain_workers)
                   if with_explanations else None)
    return Report(round=rnd, result=result,
                  tables=kpis.tables(rnd, result.allocation, result.unassigned),
                  baseline=baseline, explanation=explanation,
                  generated=dt.datetime.now(dt.UTC).replace(microsecond=0))


def write_report(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the HTML report atomically."""
    write_atomic(Path(path), render_html(report).encode("utf-8"))
    log.info("wrote the report of round %s", report.round.round.id)


# ---- the page ------------------------------------------------------------------------------


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    import jinja2  # lazy: jinja2 loads only when HTML is rendered

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("matcher", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = percent
    env.filters["num"] = number
    env.filters["sector"] = sector_label
    return env.get_template("report.html.j2").render(**_context(report))


def _format(value: Any, kind: str) -> str:
    return percent(value) if kind == "share" else number(value)


def _difference(ours: Any, theirs: Any, kind: str, better: int) -> tuple[str, str]:
    if ours is None or theirs is None:
        return "", ""
    delta = float(ours) - float(theirs)
    if abs(delta) < 1e-9:
        return "=", "same"
    text = (f"{100 * delta:+.1f} pp" if kind == "share"
            else f"{delta:+,.2f}" if kind == "number" else f"{int(delta):+,}")
    return text, "better" if delta * better > 0 else "worse"


def _context(report: Report) -> dict[str, Any]:
    rnd, result = report.round, report.result
    ours = {**result.kpis, "objective": result.objective}
    base = report.baseline
    theirs: Mapping[str, Any] = ({**base.kpis, "objective": base.objective}
                                 if base is not None else {})
    rows = []
    for key, label, kind, better in COMPARED:
        diff, tone = _difference(ours.get(key), theirs.get(key), kind, better)
        rows.append({"label": label, "ours": _format(ours.get(key), kind),
                     "theirs": _format(theirs.get(key), kind) if base else "",
                     "diff": diff, "tone": tone})
    return {
        "r": rnd,
        "title": rnd.round.name or rnd.round.id,
        "result": result,
        "k": result.kpis,
        "base": base,
        "bk": theirs,
        "compare": rows,
        "generated": report.generated.strftime("%Y-%m-%d %H:%M UTC"),
        "periods": rnd.periods,
        "streams": rnd.effective_streams,
        "show_streams": bool(rnd.streams),
        "places": _places(report),
        "timeline": _timeline(report),
        "unassigned": _unassigned(report),
        "diagnosis": _diagnosis(result),
        "explanation": _explanation(report),
        "explanation_notes": list(report.explanation.notes) if report.explanation else [],
        "explained": report.explanation is not None,
        "charts": _charts(report) if result.has_solution else {},
        "sector_colours": SECTOR_COLOURS,
        "levels": [(lvl, result.kpis.get("hard_to_recruit_by_level", {}).get(lvl, {}),
                    theirs.get("hard_to_recruit_by_level", {}).get(lvl, {}))
                   for lvl in ("1", "2", "3")],
    }


def _name(rnd: Round, pharmacist_id: str) -> str:
    ph = rnd.pharmacist(pharmacist_id)
    return f"{ph.name} ({ph.id})" if ph.name and ph.name != ph.id else ph.id


def _places(report: Report) -> list[dict[str, Any]]:
    """One table per place: its placements, who holds each in each period."""
    rnd = report.round
    seats = report.tables.placements
    out: list[dict[str, Any]] = []
    if seats.empty:
        return out
    for place, frame in seats.groupby("place", sort=True):
        rows = []
        for l_id, per in frame.groupby("placement", sort=False):
            pl = rnd.placement(str(l_id))
            cells = []
            for rec in per.to_dict("records"):
                cells.append({
                    "capacity": rec["capacity"], "filled": rec["filled"],
                    "holders": [_name(rnd, p) for p in rec["holders"]],
                    "short": rec["shortfall"] > 0,
                    "empty": rec["empty_seats"] > 0 and rec["capacity"] > 0,
                })
            org = (rnd.organisations[rnd.organisation_index[pl.organisation]]
                   if pl.organisation is not None else None)
            rows.append({"id": pl.id, "name": pl.name or pl.id,
                         "organisation": (org.name or org.id) if org else "",
                         "sector": pl.sector, "stream": rnd.stream_of(pl).id,
                         "htr": pl.hard_to_recruit, "ph": pl.population_health,
                         "cells": cells})
        out.append({"place": str(place), "rows": rows,
                    "seats": int(frame["capacity"].sum()),
                    "filled": int(frame["filled"].sum()),
                    "shortfall": int(frame["shortfall"].sum())})
    return out


def _timeline(report: Report) -> list[dict[str, Any]]:
    """Each pharmacist's rotation: one cell per period and stream."""
    rnd, result = report.round, report.result
    held = {(a.pharmacist, a.period, a.stream): a for a in result.assignments}
    empty = {(u.pharmacist, u.period, u.stream): u.reason for u in result.unassigned}
    ranks = {ph.id: ph.preference_rank for ph in rnd.pharmacists}
    people = {r["pharmacist"]: r for r in report.tables.pharmacists.to_dict("records")}
    out = []
    for ph in rnd.pharmacists:
        cells = []
        for t in rnd.periods:
            for s in rnd.effective_streams:
                a = held.get((ph.id, t.id, s.id))
                if a is not None:
                    pl = rnd.placement(a.placement)
                    rank = ranks[ph.id].get(pl.id)
                    cells.append({"kind": "held", "id": pl.id, "name": pl.name or pl.id,
                                  "sector": pl.sector,
                                  "rank": f"#{rank}" if rank else "unranked",
                                  "score": a.score})
                elif t.id in ph.unavailable:
                    cells.append({"kind": "leave"})
                else:
                    cells.append({"kind": "empty",
                                  "reason": empty.get((ph.id, t.id, s.id), "")})
        info = people.get(ph.id, {})
        out.append({"id": ph.id, "name": ph.name or "", "cells": cells,
                    "points": info.get("preference_points", 0),
                    "sectors": info.get("sectors_covered", 0),
                    "history": [rnd.placement(h).sector for h in ph.history]})
    return out


def _unassigned(report: Report) -> list[dict[str, str]]:
    rnd = report.round
    return [{"who": _name(rnd, u.pharmacist), "period": u.period, "stream": u.stream,
             "reason": u.reason} for u in report.result.unassigned]


def _diagnosis(result: Result) -> list[str]:
    out = []
    for d in result.to_dict()["diagnosis"]:
        out.append(str(d.get("message", d)) if isinstance(d, dict) else str(d))
    return out


def _explanation(report: Report) -> dict[str, Any]:
    """The explanations, grouped for the page (empty when there are none)."""
    ex = report.explanation
    if ex is None:
        return {"pharmacists": [], "gaps": [], "resolves": 0}
    rnd = report.round
    people = []
    for pe in ex.pharmacists:
        slots = []
        for s in pe.slots:
            alts = [{"rank": a.rank, "placement": a.placement, "message": a.message}
                    for a in s.alternatives]
            if s.placement is None:
                got = "unassigned"
            else:
                label = s.rank_label
                rank = f"preference {label}" if isinstance(label, int) else label
                got = f"{s.placement} ({rank})"
            slots.append({"period": s.period, "stream": s.stream, "got": got, "alts": alts})
        if any(s["alts"] for s in slots) or any(s["got"] == "unassigned" for s in slots):
            people.append({"who": _name(rnd, pe.pharmacist), "slots": slots})
    gaps = [{"placement": g.placement, "period": g.period, "message": g.message}
            for g in ex.placements]
    return {"pharmacists": people, "gaps": gaps, "gap_groups": gap_groups(ex),
            "resolves": ex.resolves, "satisfied": len(ex.pharmacists) - len(people)}


# ---- charts --------------------------------------------------------------------------------


def _svg(fig: Figure) -> str:
    """A figure as an SVG data URI (vector: crisp on screen and in print)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure  # lazy: matplotlib loads only when a chart is drawn

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def _style(fig: Figure) -> None:
    for ax in fig.axes:
        ax.spines[["top", "right"]].set_visible(False)


def _charts(report: Report) -> dict[str, str]:
    import matplotlib as mpl  # lazy: matplotlib loads only when a chart is drawn

    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "spin-matcher",
                         "font.size": 9, "font.family": "sans-serif"}):
        k = report.result.kpis
        bk = report.baseline.kpis if report.baseline is not None else None
        return {
            "kpis": _kpi_chart(k, bk),
            "ranks": _rank_chart(k, bk, report.round.rules.max_preferences),
            "travel": _travel_chart(k, bk),
            "fairness": _fairness_chart(report),
            "map": _map_chart(report),
            "places": _place_chart(k),
        }


def _bars(ax: Any, labels: Sequence[str], ours: Sequence[float],
          theirs: Sequence[float] | None, *, horizontal: bool = False) -> None:

    pos = np.arange(len(labels))
    width = 0.4 if theirs is not None else 0.6
    draw = ax.barh if horizontal else ax.bar
    offset = width / 2 if theirs is not None else 0.0
    draw(pos - offset if not horizontal else pos + offset, ours, width, color=_OPTIMISED,
         label="optimised")
    if theirs is not None:
        draw(pos + offset if not horizontal else pos - offset, theirs, width, color=_BASE,
             label="baseline (serial priority)")
    if horizontal:
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(pos, labels)
    ax.legend(frameon=False, fontsize=8)


def _kpi_chart(k: Mapping[str, Any], bk: Mapping[str, Any] | None) -> str:
    keys = [("first_choice_share", "first choice"), ("top_3_share", "top three"),
            ("hard_to_recruit_fill", "hard-to-recruit fill"),
            ("population_health_fill", "population-health fill"), ("fill", "all seats")]
    fig = _figure(6.5, 2.6)
    ax = fig.add_subplot()
    _bars(ax, [label for _, label in keys], [100 * float(k.get(key, 0)) for key, _ in keys],
          None if bk is None else [100 * float(bk.get(key, 0)) for key, _ in keys],
          horizontal=True)
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    _style(fig)
    return _svg(fig)


def _rank_chart(k: Mapping[str, Any], bk: Mapping[str, Any] | None, limit: int) -> str:
    ours = k.get("preference_ranks", {})
    theirs = bk.get("preference_ranks", {}) if bk is not None else {}
    ranked = sorted({int(x) for x in (*ours, *theirs) if x != "unranked"} or {1})
    labels = [*(f"#{r}" for r in range(1, min(max(ranked), limit) + 1)), "unranked"]
    keys = [*(str(r) for r in range(1, len(labels))), "unranked"]
    fig = _figure(6.5, 2.4)
    ax = fig.add_subplot()
    _bars(ax, labels, [ours.get(x, 0) for x in keys],
          None if bk is None else [theirs.get(x, 0) for x in keys])
    ax.set_ylabel("assignments")
    ax.set_xlabel("preference rank of the placement held")
    _style(fig)
    return _svg(fig)


def _travel_chart(k: Mapping[str, Any], bk: Mapping[str, Any] | None) -> str:
    ours = k.get("travel_histogram", {})
    theirs = bk.get("travel_histogram", {}) if bk is not None else {}
    labels = list(ours)
    fig = _figure(6.5, 2.4)
    ax = fig.add_subplot()
    _bars(ax, labels, [ours[x] for x in labels],
          None if bk is None else [theirs.get(x, 0) for x in labels])
    ax.set_ylabel("assignments")
    ax.set_xlabel("travel (km, or the round's travel unit)")
    _style(fig)
    return _svg(fig)


def _fairness_chart(report: Report) -> str:
    people = report.tables.pharmacists
    fig = _figure(6.5, 2.4)
    ax = fig.add_subplot()
    ours = sorted(people.loc[people["available_periods"] > 0, "preference_points"].tolist())
    ax.step(range(1, len(ours) + 1), ours, where="mid", color=_OPTIMISED, label="optimised")
    if report.baseline is not None:
        base = kpis.tables(report.round, report.baseline.allocation).pharmacists
        theirs = sorted(base.loc[base["available_periods"] > 0, "preference_points"].tolist())
        ax.step(range(1, len(theirs) + 1), theirs, where="mid", color="#777777",
                linestyle="--", label="baseline (serial priority)")
    ax.set_xlabel("pharmacists, worst-off first")
    ax.set_ylabel("preference points")
    ax.legend(frameon=False, fontsize=8)
    _style(fig)
    return _svg(fig)


def _map_chart(report: Report) -> str:
    import matplotlib as mpl  # lazy: matplotlib loads only when a chart is drawn

    rnd = report.round
    seats = report.tables.placements
    per = {str(l_id): (int(g["capacity"].sum()), int(g["filled"].sum()))
           for l_id, g in seats.groupby("placement", sort=False)}
    xs, ys, fill, size, marker = [], [], [], [], []
    for pl in rnd.placements:
        cap, filled = per.get(pl.id, (0, 0))
        if cap == 0:
            continue
        xs.append(pl.location.lon)
        ys.append(pl.location.lat)
        fill.append(filled / cap)
        size.append(25 + 12 * cap)
        marker.append(rnd.stream_index[rnd.stream_of(pl).id])
    fig = _figure(6.5, 4.6)
    ax = fig.add_subplot()
    cmap = mpl.colormaps["RdYlGn"]
    shapes = "os^Dv<>"
    scatter = None
    for m in sorted(set(marker)):
        idx = [i for i, v in enumerate(marker) if v == m]
        scatter = ax.scatter([xs[i] for i in idx], [ys[i] for i in idx],
                             c=[fill[i] for i in idx], s=[size[i] for i in idx],
                             cmap=cmap, vmin=0, vmax=1, marker=shapes[m % len(shapes)],
                             edgecolors="#333333", linewidths=0.5,
                             label=rnd.effective_streams[m].id)
    if scatter is not None:
        fig.colorbar(scatter, ax=ax, label="share of seats filled over the round",
                     shrink=0.8)
    centres: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for pl in rnd.placements:
        centres[kpis.place_of(rnd, pl.id)].append((pl.location.lon, pl.location.lat))
    if len(centres) <= 15:
        for place, pts in centres.items():
            if place == kpis.NO_PLACE:
                continue
            ax.annotate(place, (sum(p[0] for p in pts) / len(pts),
                                sum(p[1] for p in pts) / len(pts)),
                        fontsize=7, color="#333333", ha="center", alpha=0.8)
    if ys:
        ax.set_aspect(1 / max(0.1, math.cos(math.radians(sum(ys) / len(ys)))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    if len(set(marker)) > 1:
        ax.legend(frameon=False, fontsize=8, title="stream", title_fontsize=8)
    _style(fig)
    return _svg(fig)


def _place_chart(k: Mapping[str, Any]) -> str:
    groups = k.get("by_place", {})
    labels = list(groups)
    filled = [groups[x]["filled"] for x in labels]
    empty = [groups[x]["unfilled"] for x in labels]
    fig = _figure(6.5, 0.5 + 0.32 * max(3, len(labels)))
    ax = fig.add_subplot()
    ax.barh(labels, filled, color=_OPTIMISED, label="filled")
    ax.barh(labels, empty, left=filled, color="#e6e6e6", edgecolor="#999999",
            linewidth=0.5, label="empty")
    ax.invert_yaxis()
    ax.set_xlabel("seats over the round (placement × period)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    _style(fig)
    return _svg(fig)


def sector_label(sector: str) -> str:
    """A sector id as planners write it ('general_practice' -> 'General practice')."""
    return sector.replace("_", " ").capitalize()

