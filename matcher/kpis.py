"""Key performance indicators of an allocation: what a planner reports upwards.

:func:`compute` takes a round, an allocation and its empty slots and returns one JSON-ready
dict: flat headline numbers (what :meth:`matcher.result.Result.summary`, the batch summary
and the report's comparison table show) and a few small nested breakdowns. Every result's
``kpis`` comes from here, and so do the baseline's (:mod:`matcher.baseline`), so the two
are always measured the same way. :func:`tables` gives the per-pharmacist and
per-placement detail as DataFrames for the report and the planner workbook.

Definitions (each is tested on hand-checkable rounds in ``tests/test_kpis.py``):

- **seats**: sum over placements and periods of capacity(l, t); a seat is **filled** when
  held (holders above capacity are not counted: a feasible allocation has none);
- **hard-to-recruit fill by level**: filled seats over seats, for placements of each
  ``hard_to_recruit`` level 1 to 3 (and all three together);
- **population-health weighted fill**: sum of population_health(l) over filled seats,
  divided by the same sum over all seats: 1.0 when every seat is filled, and an empty seat
  in a high-priority placement costs more than one in a low-priority one;
- **preference outcomes**: per assignment, its rank in the pharmacist's list (first
  occurrence counts); ``first_choice`` is rank 1, ``top_3`` ranks 1 to 3, ``unranked`` a
  placement not in the list; shares are over all assignments;
- **sector coverage**: distinct sectors each available pharmacist covers, counting history
  as the sector rule (§3.6) does;
- **travel**: travel(p, l) of every assignment (the explicit cost where the round gives
  one), in the unit of ``max_travel_km``;
- **unfilled capacity and shortfall by place and sector**: the place is the placement's
  ``place``, else its organisation's, else ``(no place)``; shortfall is §4's S;
- **unassigned**: empty (pharmacist, period, stream) slots where the pharmacist is available,
  counted by reason; ``pharmacists_unassigned`` counts pharmacists with at least one;
- **fairness**: each available pharmacist's preference points (sum of pref(p, l), §4) over
  the round; ``worst_off_points`` is the smallest (§4's M), ``points_spread`` the largest
  minus the smallest, ``points_std`` the population standard deviation;
- **plan quality** (when the objective's parts are given): the §4 objective without the
  change penalty, ``total + weights.change * C``; with a reference it says what the plan
  is worth as a plan, apart from what moving people costs.

Pure Python over the round's records (travel vectorised with numpy): no solver, no
personal data (ids only).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from matcher.allocation import Assignment, as_assignments
from matcher.domain import Round
from matcher.geo import travel_km

if TYPE_CHECKING:  # pandas loads only when the tables are made
    import pandas as pd

__all__ = [
    "HEADLINE",
    "NO_PLACE",
    "TRAVEL_BINS",
    "EmptySlot",
    "KpiTables",
    "compute",
    "place_of",
    "tables",
]

NO_PLACE = "(no place)"
"""The place of a placement with no ``place`` and no organisation place."""

TRAVEL_BINS: tuple[tuple[int, int | None], ...] = (
    (0, 4), (5, 9), (10, 14), (15, 19), (20, 29), (30, None))
"""Travel histogram bins (inclusive, whole units); the last is open-ended."""

HEADLINE: dict[str, str] = {
    "assignments": "assignments (pharmacist, period, stream) made",
    "unassigned": "empty slots of available pharmacists",
    "pharmacists_unassigned": "pharmacists with at least one empty slot",
    "first_choice": "assignments to the pharmacist's first choice",
    "first_choice_share": "share of assignments that are a first choice",
    "top_3": "assignments to one of the pharmacist's top three",
    "top_3_share": "share of assignments in the top three",
    "unranked": "assignments to a placement the pharmacist did not rank",
    "unranked_share": "share of assignments not ranked",
    "hard_to_recruit_filled": "hard-to-recruit seats filled",
    "hard_to_recruit_fill": "share of hard-to-recruit seats filled",
    "population_health_fill": "population-health weighted fill",
    "fill": "share of all seats filled",
    "unfilled_seats": "seats left empty",
    "shortfall": "seats below min_fill",
    "mean_travel": "mean travel per assignment",
    "max_travel": "longest travel of any assignment",
    "sectors_mean": "mean distinct sectors per pharmacist (history included)",
    "worst_off_points": "preference points of the worst-off pharmacist",
    "points_spread": "largest minus smallest preference points",
}
"""The headline KPIs, in display order, with what each means (report and workbook)."""


class EmptySlot(Protocol):
    """An empty slot with its reason (a :class:`matcher.result.Unassigned` will do)."""

    @property
    def pharmacist(self) -> str:
        """Pharmacist id."""

    @property
    def period(self) -> str:
        """Period id."""

    @property
    def stream(self) -> str:
        """Stream id."""

    @property
    def reason(self) -> str:
        """Why the slot is empty, in planners' words."""


@dataclass(frozen=True)
class KpiTables:
    """Per-record detail behind the KPIs.

    ``pharmacists``: one row per pharmacist (assignments, empty slots, preference points,
    sectors covered, mean travel). ``placements``: one row per placement and period
    (capacity, min_fill, holders, empty seats, shortfall). ``assignments``: one row per
    assignment with its rank (``None`` when unranked), sector, place and travel.
    """

    pharmacists: pd.DataFrame
    placements: pd.DataFrame
    assignments: pd.DataFrame


def place_of(rnd: Round, placement_id: str) -> str:
    """The place of a placement: its own, else its organisation's, else :data:`NO_PLACE`."""
    pl = rnd.placement(placement_id)
    if pl.place:
        return pl.place
    if pl.organisation is not None:
        org = rnd.organisations[rnd.organisation_index[pl.organisation]]
        if org.place:
            return org.place
    return NO_PLACE


def _travel(rnd: Round, items: Sequence[Assignment]) -> list[int]:
    """travel(p, l) of each assignment (explicit costs first, else great-circle km)."""
    if not items:
        return []
    phs = [rnd.pharmacist(a.pharmacist) for a in items]
    pls = [rnd.placement(a.placement) for a in items]
    km = travel_km(np.array([p.home.lat for p in phs]), np.array([p.home.lon for p in phs]),
                   np.array([pl.location.lat for pl in pls]),
                   np.array([pl.location.lon for pl in pls])).tolist()
    given = {(t.pharmacist, t.placement): t.cost for t in rnd.travel}
    return [int(given.get((a.pharmacist, a.placement), d)) for a, d in zip(items, km,
                                                                             strict=True)]


def _share(part: float, whole: float) -> float:
    return round(part / whole, 6) if whole else 0.0


def _bin_label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


class _Measured:
    """The allocation indexed once; every KPI and table reads from here."""

    def __init__(self, rnd: Round, allocation: Iterable[Any],
                 unassigned: Iterable[EmptySlot]) -> None:
        self.round = rnd
        self.items = list(dict.fromkeys(as_assignments(allocation)))
        self.empty = list(unassigned)
        self.travel = _travel(rnd, self.items)
        self.rank_of = {ph.id: ph.preference_rank for ph in rnd.pharmacists}
        self.ranks: list[int | None] = [self.rank_of[a.pharmacist].get(a.placement)
                                        for a in self.items]
        limit = rnd.rules.max_preferences
        self.points = [0 if r is None else limit - r + 1 for r in self.ranks]
        self.holders: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_pharmacist: dict[str, list[int]] = defaultdict(list)
        for k, a in enumerate(self.items):
            self.holders[a.placement, a.period].append(a.pharmacist)
            self.by_pharmacist[a.pharmacist].append(k)
        self.available = {ph.id: rnd.available_periods(ph) for ph in rnd.pharmacists}

    def seat_rows(self) -> list[dict[str, Any]]:
        rnd = self.round
        rows = []
        for pl in rnd.placements:
            place = place_of(rnd, pl.id)
            for t in rnd.period_ids:
                cap, need = pl.capacity_in(t), pl.min_fill_in(t)
                held = self.holders.get((pl.id, t), [])
                filled = min(len(held), cap)
                rows.append({
                    "placement": pl.id, "period": t, "organisation": pl.organisation,
                    "place": place, "sector": pl.sector, "stream": rnd.stream_of(pl).id,
                    "hard_to_recruit": pl.hard_to_recruit,
                    "population_health": pl.population_health, "capacity": cap,
                    "min_fill": need, "filled": filled, "holders": tuple(held),
                    "empty_seats": cap - filled, "shortfall": max(0, need - len(held)),
                })
        return rows

    def pharmacist_rows(self) -> list[dict[str, Any]]:
        rnd = self.round
        empty = Counter(u.pharmacist for u in self.empty)
        rows = []
        for ph in rnd.pharmacists:
            mine = self.by_pharmacist.get(ph.id, [])
            sectors = {rnd.placement(h).sector for h in ph.history}
            sectors |= {rnd.placement(self.items[k].placement).sector for k in mine}
            travel = [self.travel[k] for k in mine]
            rows.append({
                "pharmacist": ph.id, "available_periods": len(self.available[ph.id]),
                "assignments": len(mine), "empty_slots": empty.get(ph.id, 0),
                "preference_points": sum(self.points[k] for k in mine),
                "first_choices": sum(1 for k in mine if self.ranks[k] == 1),
                "sectors_covered": len(sectors),
                "sectors": ", ".join(sorted(sectors)),
                "mean_travel": round(statistics.fmean(travel), 3) if travel else None,
            })
        return rows


def compute(
    rnd: Round,
    allocation: Iterable[Any],
    unassigned: Iterable[EmptySlot] = (),
    *,
    breakdown: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every KPI of the allocation (see the module docstring), JSON-ready.

    ``allocation`` is anything :func:`matcher.allocation.as_assignments` accepts;
    ``unassigned`` the empty slots with reasons (a result's ``unassigned``). ``breakdown``
    (the checker's :meth:`~matcher.checker.ObjectiveBreakdown.to_dict`) adds ``changes``,
    ``fairness_min`` (``None`` unless ``weights.fairness`` > 0, as in §4),
    ``objective_parts`` and ``plan_quality``: the objective without the change penalty
    (``total + weights.change * changes``), what a re-plan is worth as a plan, comparable
    with the objective of a plan solved without a reference.
    """
    m = _Measured(rnd, allocation, unassigned)
    n = len(m.items)
    seats = m.seat_rows()
    people = [r for r in m.pharmacist_rows() if r["available_periods"] >= 1]
    kpis: dict[str, Any] = {
        "assignments": n,
        "unassigned": len(m.empty),
        "pharmacists": len(rnd.pharmacists),
        "pharmacists_placed": len(m.by_pharmacist),
        "pharmacists_unassigned": len({u.pharmacist for u in m.empty}),
    }
    kpis.update(_preference_kpis(m))
    kpis.update(_seat_kpis(seats))
    kpis.update(_travel_kpis(m.travel))
    kpis.update(_people_kpis(people))
    kpis["unassigned_by_reason"] = dict(Counter(u.reason for u in m.empty).most_common())
    if breakdown is not None:
        kpis["changes"] = breakdown.get("changes", 0)
        kpis["fairness_min"] = breakdown.get("fairness_min")
        kpis["objective_parts"] = dict(breakdown)
        if breakdown.get("total") is not None:
            kpis["plan_quality"] = (breakdown["total"]
                                    + rnd.weights.change * (breakdown.get("changes") or 0))
    return kpis


def _preference_kpis(m: _Measured) -> dict[str, Any]:
    n = len(m.items)
    first = sum(1 for r in m.ranks if r == 1)
    top3 = sum(1 for r in m.ranks if r is not None and r <= 3)
    unranked = sum(1 for r in m.ranks if r is None)
    ranks = Counter(str(r) for r in m.ranks if r is not None)
    ordered = {k: ranks[k] for k in sorted(ranks, key=int)}
    return {
        "first_choice": first,
        "first_choice_share": _share(first, n),
        "top_3": top3,
        "top_3_share": _share(top3, n),
        "preferred": n - unranked,
        "unranked": unranked,
        "unranked_share": _share(unranked, n),
        "preference_ranks": {**ordered, "unranked": unranked},
    }


def _seat_kpis(seats: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    total = sum(r["capacity"] for r in seats)
    filled = sum(r["filled"] for r in seats)
    htr = [r for r in seats if r["hard_to_recruit"] > 0]
    htr_seats = sum(r["capacity"] for r in htr)
    htr_filled = sum(r["filled"] for r in htr)
    by_level = {}
    for level in (1, 2, 3):
        rows = [r for r in seats if r["hard_to_recruit"] == level]
        s, f = sum(r["capacity"] for r in rows), sum(r["filled"] for r in rows)
        by_level[str(level)] = {"seats": s, "filled": f, "fill": _share(f, s)}
    weight_all = sum(r["population_health"] * r["capacity"] for r in seats)
    weight_filled = sum(r["population_health"] * r["filled"] for r in seats)
    return {
        "seats": total,
        "seats_filled": filled,
        "fill": _share(filled, total),
        "unfilled_seats": total - filled,
        "shortfall": sum(r["shortfall"] for r in seats),
        "hard_to_recruit_seats": htr_seats,
        "hard_to_recruit_filled": htr_filled,
        "hard_to_recruit_fill": _share(htr_filled, htr_seats),
        "hard_to_recruit_by_level": by_level,
        "population_health_fill": _share(weight_filled, weight_all),
        "by_place": _grouped(seats, "place"),
        "by_sector": _grouped(seats, "sector"),
    }


def _grouped(seats: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in seats:
        g = out.setdefault(str(r[key]), {"seats": 0, "filled": 0, "unfilled": 0,
                                         "min_fill": 0, "shortfall": 0})
        g["seats"] += r["capacity"]
        g["filled"] += r["filled"]
        g["unfilled"] += r["empty_seats"]
        g["min_fill"] += r["min_fill"]
        g["shortfall"] += r["shortfall"]
    for g in out.values():
        g["fill"] = _share(g["filled"], g["seats"])
    return dict(sorted(out.items()))


def _travel_kpis(travel: Sequence[int]) -> dict[str, Any]:
    hist = {_bin_label(lo, hi): sum(1 for x in travel if x >= lo and (hi is None or x <= hi))
            for lo, hi in TRAVEL_BINS}
    if not travel:
        return {"mean_travel": 0.0, "median_travel": 0.0, "p90_travel": 0, "max_travel": 0,
                "total_travel": 0, "travel_histogram": hist}
    ordered = sorted(travel)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest-rank percentile
    return {
        "mean_travel": round(statistics.fmean(travel), 6),
        "median_travel": float(statistics.median(travel)),
        "p90_travel": p90,
        "max_travel": ordered[-1],
        "total_travel": sum(travel),
        "travel_histogram": hist,
    }


def _people_kpis(people: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    points = [int(r["preference_points"]) for r in people]
    sectors = [int(r["sectors_covered"]) for r in people]
    coverage = Counter(str(s) for s in sectors)
    return {
        "sectors_mean": round(statistics.fmean(sectors), 6) if sectors else 0.0,
        "sectors_min": min(sectors, default=0),
        "sector_coverage": {k: coverage[k] for k in sorted(coverage, key=int)},
        "worst_off_points": min(points, default=0),
        "points_mean": round(statistics.fmean(points), 6) if points else 0.0,
        "points_max": max(points, default=0),
        "points_spread": (max(points) - min(points)) if points else 0,
        "points_std": round(statistics.pstdev(points), 6) if points else 0.0,
    }


def tables(rnd: Round, allocation: Iterable[Any],
           unassigned: Iterable[EmptySlot] = ()) -> KpiTables:
    """The per-pharmacist, per-placement-and-period and per-assignment detail."""
    import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

    m = _Measured(rnd, allocation, unassigned)
    assignment_rows = [
        {"pharmacist": a.pharmacist, "period": a.period,
         "stream": m.round.stream_of(m.round.placement(a.placement)).id,
         "placement": a.placement, "rank": m.ranks[k], "points": m.points[k],
         "sector": m.round.placement(a.placement).sector, "place": place_of(rnd, a.placement),
         "travel": m.travel[k]}
        for k, a in enumerate(m.items)
    ]
    return KpiTables(
        pharmacists=pd.DataFrame(m.pharmacist_rows()),
        placements=pd.DataFrame(m.seat_rows()),
        assignments=pd.DataFrame(assignment_rows, columns=[
            "pharmacist", "period", "stream", "placement", "rank", "points", "sector",
            "place", "travel"]),
    )
