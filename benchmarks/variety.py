"""Named round *shapes*: the variety of rounds planners send, built deterministically.

Every shape is a function ``(P, L, T, seed) -> Round``: it starts from
:func:`matcher.synthetic.generate_round` (streams and every feature, unless the shape says
otherwise), transforms the round's data and validates the result with
:func:`matcher.validation.parse_round`, so every round is valid by construction. Shapes
combine: ``pins-bans-leave+fair-50+replan-200`` applies the three transformations left to
right (:func:`compose`); the combinations in :data:`COMBINED` are part of ``all``. The same
arguments always give the same round, except for the shapes that need a solution of the
round first (``pins-bans-leave`` and ``replan-*``, marked *solved* below): they take it
from :func:`matcher.solve` with one worker and :data:`SOLVE_S` seconds, which is
reproducible whenever that solve ends proven optimal (every small round) and the best
found in the limit otherwise.

=================== ==========================================================================
shape               what it changes in ``generate_round(P, L, T, seed=seed)``
=================== ==========================================================================
``plain``           nothing (what ``bench_solve`` always ran)
``fair-5/20/50``    ``weights.fairness`` 5, 20 or 50 (both streams, supervisors)
``one-stream``      ``streams=False``: one implicit rotating stream
``cross-supervisors`` every other supervisor (and a few new ones) also covers the nearest
                    placements of the *other* stream, capacity raised to match
``tight``           seats of each stream and period cut to 0.9-1.0 x the pharmacists
                    available in it; ``rules.allow_unassigned`` true
``per-period``      capacity ``{period: n}`` (+-1 a period, some host seats closed in a
                    period) on ~half of the placements, ``min_fill`` on ~half
``org-caps``        ``max_pharmacists`` (60-90 % of the seats) on ~80 % of organisations
``pins-bans-leave`` leave on ~15 % of pharmacists, bans on ~15 %, then pins for ~25 % of
                    pharmacists taken from a solution of that round (*solved*)
``replan-50/200/1000`` ``reference`` = a solution of the round, then from R2: placements
                    closed, pharmacists on leave and capacities cut by one (each
                    ``max(1, P // 200)`` times); ``weights.change`` 50, 200 or 1000; the
                    served period is not pinned (*solved*)
=================== ==========================================================================

Pins of the generated round that a transformation would break (a pin in a closed period,
on leave, beyond a cut capacity) are dropped; capacities, organisation caps and
supervisor capacities are never cut below what the remaining pins need.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from matcher.domain import Round
from matcher.synthetic import generate_round
from matcher.validation import parse_round

__all__ = ["COMBINED", "SHAPES", "SHAPE_HELP", "SOLVE_S", "TRANSFORMS", "ShapeBuilder", "Transform",
           "build_shape", "compose", "solution_of"]

ShapeBuilder = Callable[[int, int, int, int], Round]
"""``(n_pharmacists, n_placements, n_periods, seed) -> Round``."""

Transform = Callable[[dict[str, Any], int], dict[str, Any]]
"""``(round data, seed) -> round data``: one shape's change to the round (in place)."""

SOLVE_S = 30.0
"""Time limit (s) of the one-worker solve that solved shapes take a solution from."""

Data = dict[str, Any]


# ---- helpers on round data ---------------------------------------------------------------


def _rng(name: str, seed: int) -> random.Random:
    """A generator of its own for each (shape, seed): shapes never share draws."""
    return random.Random(f"{name}/{seed}")


def _base(n_p: int, n_l: int, n_t: int, seed: int, *, streams: bool = True) -> Data:
    return generate_round(n_p, n_l, n_t, seed=seed, streams=streams, features=True).to_data()


def _periods(data: Data) -> list[str]:
    return [p["id"] for p in data["periods"]]


def _value(field: Any, t: str) -> int:
    """A per-period integer field (int or ``{period: n}``) in period ``t``."""
    return int(field) if isinstance(field, int) else int(field.get(t, 0))


def _per_period(values: dict[str, int], periods: list[str]) -> int | dict[str, int]:
    """An integer when every period has the same value, else ``{period: n}`` (zeros left
    out: a period left out has capacity 0)."""
    distinct = {values.get(t, 0) for t in periods}
    if len(distinct) == 1:
        return distinct.pop()
    return {t: values[t] for t in periods if values.get(t, 0)}


def _set(pl: Data, field: str, values: dict[str, int], periods: list[str]) -> None:
    pl[field] = _per_period(values, periods)


def _clip_min_fill(pl: Data, periods: list[str]) -> None:
    """min_fill never above capacity (a shortfall nobody can avoid only shifts the objective)."""
    _set(pl, "min_fill", {t: min(_value(pl.get("min_fill", 0), t), _value(pl["capacity"], t))
                          for t in periods}, periods)


def _stream_of(data: Data, pl: Data) -> str:
    return pl.get("stream") or "rotation"


def _pinned(data: Data) -> Counter[tuple[str, str]]:
    """Pins per (placement, period)."""
    return Counter((p["placement"], p["period"]) for p in data.get("pins", []))


def _drop_pins(data: Data, keep: Callable[[Data], bool]) -> None:
    data["pins"] = [p for p in data.get("pins", []) if keep(p)]


def _group_pins(data: Data, placements: set[str], counted: Callable[[str], bool]
                ) -> dict[str, int]:
    """Distinct counted pharmacists pinned to one of ``placements``, per period."""
    who: dict[str, set[str]] = defaultdict(set)
    for p in data.get("pins", []):
        if p["placement"] in placements and counted(p["pharmacist"]):
            who[p["period"]].add(p["pharmacist"])
    return {t: len(s) for t, s in who.items()}


def _counts(data: Data, supervisor: Data) -> Callable[[str], bool]:
    """Whether the supervisor counts a pharmacist (spec §1 ``supervises``)."""
    by_id = {ph["id"]: ph for ph in data["pharmacists"]}
    kind = supervisor.get("supervises", "all")

    def counted(pharmacist_id: str) -> bool:
        ph = by_id[pharmacist_id]
        if kind == "non_prescribers":
            return not ph.get("independent_prescriber", False)
        if kind == "early_years":
            return float(ph.get("experience_years", 0)) < 2.0
        return True

    return counted


def _km(a: Data, b: Data) -> float:
    """Rough distance between two locations (only to pick near placements)."""
    dlat = (a["lat"] - b["lat"]) * 111.0
    dlon = (a["lon"] - b["lon"]) * 111.0 * math.cos(math.radians(a["lat"]))
    return math.hypot(dlat, dlon)


def solution_of(rnd: Round, seed: int) -> list[Data]:
    """The assignments of a one-worker :func:`matcher.solve` of ``rnd`` (``SOLVE_S`` s).

    Raises ``RuntimeError`` when the solve finds no allocation.
    """
    from matcher.solving import SolveParams, solve  # lazy: OR-Tools only for solved shapes

    res = solve(rnd, SolveParams(time_limit_s=SOLVE_S, workers=1, seed=seed, diagnose_s=0))
    if not res.has_solution:
        raise RuntimeError(f"no solution of {rnd.round.id if rnd.round else 'the round'} to "
                           f"build the shape from (status {res.status})")
    return [{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
            for a in res.allocation]


# ---- the shapes --------------------------------------------------------------------------


def plain(data: Data, seed: int) -> Data:
    """The generated round as it is."""
    return data


def fairness(weight: int) -> Transform:
    """``weights.fairness`` = ``weight``."""

    def build(data: Data, seed: int) -> Data:
        data["weights"] = {**data.get("weights", {}), "fairness": weight}
        return data

    build.__doc__ = f"weights.fairness {weight} (both streams, supervisors)."
    return build


def one_stream(data: Data, seed: int) -> Data:
    """No streams: the single implicit rotating stream."""
    return data  # the base is generated without streams (see ONE_STREAM_BASE)


def cross_supervisors(data: Data, seed: int) -> Data:
    """Supervisors whose placements span both streams."""
    rng = _rng("cross-supervisors", seed)
    periods = _periods(data)
    placements = {pl["id"]: pl for pl in data["placements"]}
    by_stream: dict[str, list[Data]] = defaultdict(list)
    for pl in data["placements"]:
        by_stream[_stream_of(data, pl)].append(pl)
    if len(by_stream) < 2:
        raise ValueError("cross-supervisors needs a round with two streams")

    def seats(ids: list[str]) -> int:
        return sum(max(_value(placements[i]["capacity"], t) for t in periods) for i in ids)

    def nearest_other(anchor: Data, stream: str, k: int, taken: set[str]) -> list[str]:
        others = [pl for s, pls in by_stream.items() if s != stream for pl in pls
                  if pl["id"] not in taken]
        others.sort(key=lambda pl: (_km(anchor["location"], pl["location"]), pl["id"]))
        return [pl["id"] for pl in others[:k]]

    sups = data.setdefault("supervisors", [])
    for i, sup in enumerate(sups):
        if i % 2:
            continue
        anchor = placements[sup["placements"][0]]
        added = nearest_other(anchor, _stream_of(data, anchor), rng.randint(1, 3),
                              set(sup["placements"]))
        sup["placements"] = [*sup["placements"], *added]
        sup["capacity"] = int(sup["capacity"]) + math.ceil(0.5 * seats(added))
    # A few new supervisors over two host and two practice placements near each other.
    streams = sorted(by_stream)
    for j in range(max(1, len(data["placements"]) // 40)):
        anchor = rng.choice(by_stream[streams[-1]])
        own = sorted(by_stream[streams[-1]],
                     key=lambda pl, a=anchor: (_km(a["location"], pl["location"]), pl["id"]))
        ids = [pl["id"] for pl in own[:2]]
        ids += nearest_other(anchor, streams[-1], 2, set(ids))
        sups.append({"id": f"SUP-CROSS-{j + 1:04d}", "role": "educational",
                     "supervises": rng.choice(["all", "non_prescribers", "early_years"]),
                     "placements": ids, "capacity": max(1, math.ceil(0.5 * seats(ids)))})
    for sup in sups:  # never below what the pins already need
        need = _group_pins(data, set(sup["placements"]), _counts(data, sup))
        sup["capacity"] = max([int(sup["capacity"]), *need.values()])
    return data


def _available(data: Data, periods: list[str]) -> dict[str, int]:
    """Pharmacists available in each period."""
    return {t: sum(t not in ph.get("unavailable", []) for ph in data["pharmacists"])
            for t in periods}


def tight(data: Data, seed: int) -> Data:
    """Seats of every stream and period cut to 0.9-1.0 x demand; unassigned allowed."""
    rng = _rng("tight", seed)
    periods = _periods(data)
    demand = _available(data, periods)
    pinned = _pinned(data)
    by_stream: dict[str, list[Data]] = defaultdict(list)
    for pl in data["placements"]:
        by_stream[_stream_of(data, pl)].append(pl)
    for stream in sorted(by_stream):
        pls = by_stream[stream]
        factor = rng.uniform(0.9, 1.0)
        tie = {pl["id"]: rng.random() for pl in pls}  # the same placements win every period
        new: dict[str, dict[str, int]] = {pl["id"]: {} for pl in pls}
        for t in periods:
            caps = {pl["id"]: _value(pl["capacity"], t) for pl in pls}
            seats = sum(caps.values())
            target = math.ceil(factor * demand[t])
            if seats <= target:
                for pid, c in caps.items():
                    new[pid][t] = c
                continue
            f = target / seats
            floor = {pid: math.floor(c * f) for pid, c in caps.items()}
            left = target - sum(floor.values())
            order = sorted(caps, key=lambda pid, f=f, c=caps: (-(c[pid] * f % 1), tie[pid]))
            for pid in order[:left]:
                floor[pid] += 1
            for pid in caps:
                new[pid][t] = max(floor[pid], pinned[pid, t])
        for pl in pls:
            _set(pl, "capacity", new[pl["id"]], periods)
            _clip_min_fill(pl, periods)
    data["rules"] = {**data.get("rules", {}), "allow_unassigned": True}
    return data


def per_period(data: Data, seed: int) -> Data:
    """Per-period capacities and min_fill on many placements."""
    rng = _rng("per-period", seed)
    periods = _periods(data)
    pinned = _pinned(data)
    rotating = {s["id"]: s.get("rotate", True) for s in data.get("streams", [])}
    for pl in data["placements"]:
        caps = {t: _value(pl["capacity"], t) for t in periods}
        if rng.random() < 0.5:
            closed = (rng.choice(periods) if len(periods) > 1 and rng.random() < 0.2
                      and rotating.get(_stream_of(data, pl), True) else None)
            for t in periods:
                c = 0 if t == closed else caps[t] + rng.choice((-1, 0, 0, 1))
                caps[t] = max(c, pinned[pl["id"], t], 0)
            _set(pl, "capacity", caps, periods)
        if rng.random() < 0.5:
            fill = {t: rng.randint(min(1, caps[t]), caps[t]) if rng.random() < 0.7 else 0
                    for t in periods}
            _set(pl, "min_fill", fill, periods)
        _clip_min_fill(pl, periods)
    return data


def org_caps(data: Data, seed: int) -> Data:
    """``max_pharmacists`` on ~80 % of organisations with two seats or more."""
    rng = _rng("org-caps", seed)
    periods = _periods(data)
    own: dict[str, list[Data]] = defaultdict(list)
    for pl in data["placements"]:
        if pl.get("organisation"):
            own[pl["organisation"]].append(pl)
    for org in data.get("organisations", []):
        pls = own.get(org["id"], [])
        seats = max((sum(_value(pl["capacity"], t) for pl in pls) for t in periods), default=0)
        if seats < 2 or rng.random() >= 0.8:
            continue
        need = _group_pins(data, {pl["id"] for pl in pls}, lambda _: True)
        cap = max(1, math.ceil(rng.uniform(0.6, 0.9) * seats), *need.values())
        old = org.get("max_pharmacists")
        org["max_pharmacists"] = cap if old is None else min(int(old), cap)
        org["max_pharmacists"] = max(org["max_pharmacists"], *need.values(), 0)
    return data


def pins_bans_leave(data: Data, seed: int) -> Data:
    """Leave, bans, then many pins taken from a solution (so the round stays feasible)."""
    rng = _rng("pins-bans-leave", seed)
    periods = _periods(data)
    sector = {pl["id"]: pl["sector"] for pl in data["placements"]}
    required = set(data.get("rules", {}).get("required_sectors", []))
    pin_keys = {(p["pharmacist"], p["placement"]) for p in data.get("pins", [])}
    bans = data.setdefault("bans", [])
    banned = {(b["pharmacist"], b["placement"]) for b in bans}
    for ph in data["pharmacists"]:
        free = [t for t in periods if t not in ph.get("unavailable", [])]
        if len(free) > 1 and rng.random() < 0.15:  # leave: one more period off
            off = rng.choice(free)
            ph["unavailable"] = [t for t in periods if t == off or t in ph.get("unavailable", [])]
        if rng.random() < 0.15:  # a ban on one of the top wishes (never a required sector)
            wishes = [w for w in ph.get("preferences", [])[:3]
                      if sector[w] not in required and (ph["id"], w) not in banned
                      and (ph["id"], w) not in pin_keys]
            if wishes:
                w = rng.choice(wishes)
                bans.append({"pharmacist": ph["id"], "placement": w,
                             "period": None if rng.random() < 0.5 else rng.choice(periods)})
                banned.add((ph["id"], w))
    off = {(ph["id"], t) for ph in data["pharmacists"] for t in ph.get("unavailable", [])}
    _drop_pins(data, lambda p: (p["pharmacist"], p["period"]) not in off)
    solution = solution_of(parse_round(data), seed)
    by_pharmacist: dict[str, list[Data]] = defaultdict(list)
    for a in solution:
        by_pharmacist[a["pharmacist"]].append(a)
    pins = list(data.get("pins", []))
    seen = {(p["pharmacist"], p["period"], p["placement"]) for p in pins}
    for ph in data["pharmacists"]:
        held = by_pharmacist.get(ph["id"], [])
        if not held or rng.random() >= 0.25:
            continue
        chosen = held if rng.random() < 0.5 else [rng.choice(held)]
        for a in chosen:
            key = (a["pharmacist"], a["period"], a["placement"])
            if key not in seen:
                seen.add(key)
                pins.append(dict(a))
    data["pins"] = pins
    return data


def replan(weight: int) -> Transform:
    """A reference and ``weights.change`` = ``weight`` after mid-programme changes."""

    def build(data: Data, seed: int) -> Data:
        rng = _rng("replan", seed)  # the same changes whatever the weight
        reference = solution_of(parse_round(data), seed)
        n_p = len(data["pharmacists"])
        periods = _periods(data)
        later = periods[min(1, len(periods) - 1):]  # from R2 (from R1 in a 1-period round)
        placements = {pl["id"]: pl for pl in data["placements"]}
        held_later = Counter(a["placement"] for a in reference if a["period"] in later)
        moving = sorted({a["pharmacist"] for a in reference if a["period"] in later})
        n = max(1, n_p // 200)
        busy = sorted(held_later)
        closed = set(rng.sample(busy, min(n, len(busy))))
        for pid in sorted(closed):  # closed from R2
            pl = placements[pid]
            for field in ("capacity", "min_fill"):
                _set(pl, field, {t: 0 if t in later else _value(pl.get(field, 0), t)
                                 for t in periods}, periods)
        on_leave = set(rng.sample(moving, min(n, len(moving))))
        for ph in data["pharmacists"]:  # on leave from R2
            if ph["id"] in on_leave:
                ph["unavailable"] = [t for t in periods
                                     if t in later or t in ph.get("unavailable", [])]
        _drop_pins(data, lambda p: p["placement"] not in closed
                   and not (p["pharmacist"] in on_leave and p["period"] in later))
        pinned = _pinned(data)
        cuttable = [pid for pid in busy if pid not in closed
                    and any(_value(placements[pid]["capacity"], t) >= 1 for t in later)]
        for pid in sorted(rng.sample(cuttable, min(n, len(cuttable)))):  # capacity cut by one
            pl = placements[pid]
            _set(pl, "capacity", {
                t: max(_value(pl["capacity"], t) - (t in later), pinned[pid, t], 0)
                for t in periods}, periods)
            _clip_min_fill(pl, periods)
        data["reference"] = reference
        data["weights"] = {**data.get("weights", {}), "change": weight}
        return data

    build.__doc__ = (f"reference + weights.change {weight}, after a closure, a leave and a "
                     "capacity cut from R2.")
    return build


TRANSFORMS: dict[str, Transform] = {
    "plain": plain,
    "fair-5": fairness(5),
    "fair-20": fairness(20),
    "fair-50": fairness(50),
    "one-stream": one_stream,
    "cross-supervisors": cross_supervisors,
    "tight": tight,
    "per-period": per_period,
    "org-caps": org_caps,
    "pins-bans-leave": pins_bans_leave,
    "replan-50": replan(50),
    "replan-200": replan(200),
    "replan-1000": replan(1000),
}
"""Every single transformation by name, ``plain`` first."""

COMBINED = (
    "pins-bans-leave+fair-50",
    "pins-bans-leave+replan-200",
    "pins-bans-leave+fair-50+replan-200",
)
"""Combined shapes in ``all``: the levers planners pull together (the issue's hardest
medium rounds were many pins, bans and leave with fairness 50 and/or a re-plan)."""


def compose(name: str) -> ShapeBuilder:
    """The builder of ``name``: one transformation or several joined by ``+``, applied left
    to right to the generated round (without streams when one of them is ``one-stream``)
    and validated once at the end. ``KeyError`` (listing the shapes) for an unknown part."""
    parts = name.split("+")
    unknown = [part for part in parts if part not in TRANSFORMS]
    if unknown or not name:
        raise KeyError(f"unknown shape {name!r}; the shapes are: {', '.join(TRANSFORMS)}, "
                       "or several joined by '+'")

    def build(n_p: int, n_l: int, n_t: int, seed: int) -> Round:
        data = _base(n_p, n_l, n_t, seed, streams="one-stream" not in parts)
        for part in parts:
            data = TRANSFORMS[part](data, seed)
        return parse_round(data)

    build.__doc__ = "; then ".join((TRANSFORMS[part].__doc__ or "").strip().splitlines()[0]
                                   for part in parts)
    return build


SHAPES: dict[str, ShapeBuilder] = {name: compose(name) for name in (*TRANSFORMS, *COMBINED)}
"""Every shape of ``--shapes all`` by name, ``plain`` first, the combined ones last."""

SHAPE_HELP: dict[str, str] = {name: (fn.__doc__ or "").strip().splitlines()[0]
                              for name, fn in SHAPES.items()}
"""One line per shape, for ``--help`` and the README."""


def build_shape(name: str, n_p: int, n_l: int, n_t: int, seed: int) -> Round:
    """The round of shape ``name`` (a name of :data:`TRANSFORMS` or several joined by
    ``+``); ``KeyError`` (listing the shapes) for an unknown name."""
    return (SHAPES.get(name) or compose(name))(n_p, n_l, n_t, seed)
