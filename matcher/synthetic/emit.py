"""A drafted synthetic round written out as ``spin-round/1`` JSON data (spec §1).

:func:`round_data` turns the index-based drafts of :mod:`matcher.synthetic.supply` and
:mod:`matcher.synthetic.people` into records with ids (``GP-BD-001``, ``PH-00001``,
``SUP-...``), in the order the spec lists the sections. Placement names are drawn here, last,
so that naming never shifts the draws that decide the round.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import numpy as np

from matcher.domain import FORMAT, SECTORS, Weights
from matcher.synthetic.people import Cohort
from matcher.synthetic.places import NEL_ICS
from matcher.synthetic.shape import CP, GP, SECTOR_PREFIX, SKILLS, IntArray, RoundShape
from matcher.synthetic.supply import Supply

__all__ = ["json_number", "placement_ids", "round_data"]

PRACTICE_WORDS: Final = (
    "Abbey", "Beech", "Bridge", "Castle", "Cedar", "Church", "Clock Tower", "Elm",
    "Forest", "Garden", "Grange", "Green", "Grove", "Hawthorn", "Heath", "High Street",
    "Hill", "Kingfisher", "Lakeside", "Lime Tree", "Manor", "Market", "Meadow", "Mill",
    "Oak", "Orchard", "Park", "Priory", "Queens", "Riverside", "Rose", "Station", "Tower",
    "Valley", "Victoria", "Village", "Willow", "Woodland",
)  # fmt: skip
PRACTICE_KINDS: Final = (
    "Surgery", "Medical Centre", "Health Centre", "Group Practice", "Medical Practice",
    "Family Practice",
)  # fmt: skip
# Units of a site by sector index (none for practices and pharmacies).
UNITS: Final = (
    (),
    (),
    (
        "Acute Medical Unit", "Emergency Department", "Elderly Care", "Cardiology",
        "Respiratory Medicine", "Renal Unit", "Paediatrics", "General Surgery", "Oncology",
        "Medicines Information", "Antimicrobial Stewardship", "Discharge Team",
        "Critical Care", "Stroke Unit", "Haematology", "Women's Health",
    ),
    (
        "Adult Acute Inpatients", "Community Mental Health Team", "Older Adults Mental Health",
        "Perinatal Mental Health", "Learning Disability Service", "Crisis Resolution Team",
        "Early Intervention in Psychosis", "Substance Misuse Service",
    ),
    (
        "Intermediate Care", "Care Homes Team", "Community Nursing", "Virtual Ward",
        "Community Diabetes", "Rapid Response", "Falls Service", "Community Respiratory",
    ),
    (
        "Medicines Optimisation Team", "Population Health Management", "Prescribing Hub",
        "Health Inequalities Programme", "Medicines Safety", "Care Homes Medicines Team",
    ),
)  # fmt: skip


def json_number(x: float) -> int | float:
    """A whole float as an int, else the float (keeps the JSON tidy)."""
    return int(x) if float(x).is_integer() else float(x)


def placement_ids(shape: RoundShape, supply: Supply) -> tuple[list[str], IntArray]:
    """Ids like GP-BD-001 numbered within prefix and place; and the output order."""
    L = shape.n_placements
    stream_key = supply.pool if shape.streams else np.zeros(L, dtype=np.int64)
    order = np.lexsort((supply.lon, supply.place, supply.sector, stream_key))
    counts: dict[tuple[int, int], int] = {}
    for li in order:
        key = (int(supply.sector[li]), int(supply.place[li]))
        counts[key] = counts.get(key, 0) + 1
    width = max(3, len(str(max(counts.values()))))
    seen: dict[tuple[int, int], int] = {}
    ids = [""] * L
    for li in order:
        key = (int(supply.sector[li]), int(supply.place[li]))
        seen[key] = seen.get(key, 0) + 1
        ids[li] = f"{SECTOR_PREFIX[key[0]]}-{supply.places[key[1]].code}-{seen[key]:0{width}d}"
    return ids, order


def _per_period_value(shape: RoundShape, row: IntArray, omit_zero: bool) -> dict[str, int]:
    return {
        t: int(v) for t, v in zip(shape.period_ids, row, strict=True) if v or not omit_zero
    }


def _placements(
    shape: RoundShape, supply: Supply, ids: list[str], order: IntArray, rng: np.random.Generator
) -> list[dict[str, Any]]:
    sp = supply
    placements: list[dict[str, Any]] = []
    for li in order:
        s = int(sp.sector[li])
        if s == GP:
            name = f"{rng.choice(PRACTICE_WORDS)} {rng.choice(PRACTICE_KINDS)}"
        elif s == CP:
            name = f"{rng.choice(PRACTICE_WORDS)} Pharmacy"
        else:
            name = f"{sp.site[li]}, {rng.choice(UNITS[s])}"
        rec: dict[str, Any] = {"id": ids[li], "name": name,
                               "organisation": sp.orgs[int(sp.org[li])].id}  # fmt: skip
        if shape.streams:
            rec["stream"] = "practice" if sp.is_gp[li] else "host"
        rec["sector"] = SECTORS[s]
        rec["place"] = sp.places[int(sp.place[li])].name
        rec["location"] = {"lat": float(sp.lat[li]), "lon": float(sp.lon[li])}
        if sp.per_period[li]:
            rec["capacity"] = _per_period_value(shape, sp.cap[li], bool(sp.omit_zero[li]))
        else:
            rec["capacity"] = int(sp.cap[li, 0])
        if sp.min_fill[li].any():
            if sp.min_fill_per_period[li]:
                rec["min_fill"] = _per_period_value(shape, sp.min_fill[li], True)
            else:
                rec["min_fill"] = int(sp.min_fill[li].max())
        rec["hard_to_recruit"] = int(sp.hard_to_recruit[li])
        rec["population_health"] = int(sp.population_health[li])
        requires: dict[str, Any] = {}
        if sp.req_ip[li]:
            requires["independent_prescriber"] = True
        if sp.req_exp[li] > 0:
            requires["min_experience_years"] = json_number(sp.req_exp[li])
        if sp.req_skill[li] >= 0:
            requires["skills"] = [SKILLS[int(sp.req_skill[li])]]
        if requires:
            rec["requires"] = requires
        placements.append(rec)
    return placements


def _pharmacists(
    shape: RoundShape, cohort: Cohort, ids: list[str], ph_ids: list[str]
) -> list[dict[str, Any]]:
    co = cohort
    pharmacists: list[dict[str, Any]] = []
    for p in range(shape.n_pharmacists):
        prec: dict[str, Any] = {
            "id": ph_ids[p],
            "name": co.names[p],
            "home": {"lat": float(co.home_lat[p]), "lon": float(co.home_lon[p])},
        }
        if not np.isnan(co.personal_travel[p]):
            prec["max_travel_km"] = json_number(co.personal_travel[p])
        if shape.features:
            prec["independent_prescriber"] = bool(co.ip[p])
            prec["experience_years"] = json_number(co.experience[p])
            prec["skills"] = [SKILLS[k] for k in range(len(SKILLS)) if co.skill_bits[p] >> k & 1]
            prec["unavailable"] = [
                shape.period_ids[t] for t in range(shape.n_periods) if co.unavailable[p, t]
            ]
            prec["history"] = [ids[h] for h in co.history.get(p, [])]
        prec["preferences"] = [ids[li] for li in co.prefs[p]]
        pharmacists.append(prec)
    return pharmacists


def round_data(
    shape: RoundShape, supply: Supply, cohort: Cohort, rng: np.random.Generator
) -> dict[str, Any]:
    """The round's JSON data; placement names are the last draws from ``rng``."""
    N, L, T = shape.n_pharmacists, shape.n_placements, shape.n_periods
    ids, order = placement_ids(shape, supply)
    placements = _placements(shape, supply, ids, order, rng)
    organisations: list[dict[str, Any]] = []
    for org in supply.orgs:
        orec: dict[str, Any] = {"id": org.id, "name": org.name, "kind": org.kind,
                                "place": org.place}  # fmt: skip
        if org.cap is not None:
            orec["max_pharmacists"] = org.cap
        organisations.append(orec)
    width = max(5, len(str(N)))
    ph_ids = [f"PH-{p + 1:0{width}d}" for p in range(N)]
    pharmacists = _pharmacists(shape, cohort, ids, ph_ids)

    n_clusters = len(supply.clusters)
    weeks = max(1, 52 // T)
    start = dt.date(2027, 1, 4)
    data: dict[str, Any] = {
        "format": FORMAT,
        "round": {
            "id": shape.round_id,
            "name": f"Synthetic SPIN round: {N} pharmacists, {L} placements, "
            f"{T} periods (seed {shape.seed})",
            "ics": NEL_ICS
            if n_clusters == 1
            else f"Synthetic England ({n_clusters} ICS-like clusters)",
        },
        "periods": [
            {"id": t, "start": (start + dt.timedelta(weeks=weeks * i)).isoformat(),
             "weeks": weeks}
            for i, t in enumerate(shape.period_ids)
        ],
    }
    if shape.streams:
        data["streams"] = [
            {"id": "practice", "sessions": 6, "rotate": False},
            {"id": "host", "sessions": 4, "rotate": True},
        ]
    data["organisations"] = organisations
    data["placements"] = placements
    if supply.supervisors:
        data["supervisors"] = [
            {"id": s.id, "name": s.name, "role": s.role, "supervises": s.supervises,
             "placements": [ids[li] for li in s.placements], "capacity": s.capacity}
            for s in supply.supervisors
        ]  # fmt: skip
    data["pharmacists"] = pharmacists
    if shape.features:
        data["pins"] = [
            {"pharmacist": ph_ids[p], "period": shape.period_ids[t], "placement": ids[li]}
            for p, li, t in sorted(cohort.pins)
        ]
        data["bans"] = [
            {"pharmacist": ph_ids[p], "placement": ids[li],
             "period": None if t is None else shape.period_ids[t]}
            for p, li, t in cohort.bans
        ]  # fmt: skip
        data["travel"] = [
            {"pharmacist": ph_ids[p], "placement": ids[li], "cost": c}
            for (p, li), c in sorted(cohort.overrides.items())
        ]
    data["rules"] = {
        "min_distinct_sectors": shape.min_sectors,
        "required_sectors": ["general_practice"],
        "max_travel_km": json_number(shape.max_travel),
        "max_preferences": shape.max_prefs,
        "allow_unassigned": True,
    }
    data["weights"] = Weights().model_dump()
    return data
