"""Pre-checks on pins: pins that overfill a placement, an organisation or a supervisor, or that
break continuity or rotation for one pharmacist. Each finding is a proof of infeasibility."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from matcher.diagnosis.context import Context
from matcher.diagnosis.findings import Finding, Group, finding, pin_group
from matcher.diagnosis.wording import WHOM, plural
from matcher.domain import Pin
from matcher.wording import and_list, count


def pins_over_capacity(ctx: Context) -> list[Finding]:
    """Pins that put more pharmacists in a placement in a period than its capacity."""
    rnd = ctx.round
    by_seat: dict[tuple[str, str], list[tuple[int, Pin]]] = defaultdict(list)
    for k, pin in enumerate(rnd.pins):
        if all(pin.pharmacist != other.pharmacist for _, other in by_seat[pin.placement,
                                                                           pin.period]):
            by_seat[pin.placement, pin.period].append((k, pin))
    out = []
    for (l_id, t), pins in by_seat.items():
        cap = rnd.capacity(l_id, t)
        if len(pins) <= cap:
            continue
        first, last = pins[:cap], pins[cap]
        holders = [p.pharmacist for _, p in first]
        if cap == 0:  # validation rejects such pins; kept for rounds built otherwise
            message = (f"{last[1].pharmacist} is pinned to {l_id} in {t}, but {l_id} has no "
                       f"capacity in {t}")
        else:
            message = (f"{last[1].pharmacist} is pinned to {l_id} in {t}, but {l_id}'s "
                       f"capacity in {t} ({cap}) is already taken by the "
                       f"{plural(len(holders), 'pin')} of {and_list(holders)}")
        if len(pins) > cap + 1:
            message += (f"; {len(pins)} pharmacists are pinned there in all "
                        f"({and_list([p.pharmacist for _, p in pins])})")
        out.append(finding(
            "pins_over_capacity", "capacity", message,
            pharmacists=[p.pharmacist for _, p in pins], placements=[l_id], periods=[t],
            rules=["pin"],
            groups=[Group("capacity", placement=l_id, period=t),
                    *(pin_group(k, p) for k, p in pins)]))
    return out


def _pins_over_limit(
    ctx: Context, kind: str, group: Group, covered: Sequence[str],
    counts: Callable[[str], bool], limit: int, owner: str, verb: str, whom: str,
    limit_name: str,
) -> list[Finding]:
    """Pins of distinct counted pharmacists to ``covered`` placements above ``limit`` in a
    period. ``group`` is the limit's group without its period; ``owner`` says whose limit
    it is ('organisation PCN-1') and ``verb`` how it limits ('hosts')."""
    rnd = ctx.round
    covered_set = set(covered)
    per_period: dict[str, dict[str, list[tuple[int, Pin]]]] = defaultdict(dict)
    for k, pin in enumerate(rnd.pins):
        if pin.placement in covered_set and counts(pin.pharmacist):
            per_period[pin.period].setdefault(pin.pharmacist, []).append((k, pin))
    out = []
    for t, by_ph in per_period.items():
        if len(by_ph) <= limit:
            continue
        pharmacists = list(by_ph)
        first, last = pharmacists[:limit], pharmacists[limit]
        last_pin = by_ph[last][0][1]
        if limit == 0:
            tail = f"{verb} nobody in {t} (its {limit_name} is 0)"
        else:
            who = and_list([f"{p} ({', '.join(x.placement for _, x in by_ph[p])})"
                        for p in first])
            tail = (f"{verb} at most {count(limit, whom)} in {t}, already taken by the "
                    f"{plural(len(first), 'pin')} of {who}")
        message = f"{last} is pinned to {last_pin.placement} in {t}, but {owner} {tail}"
        if len(pharmacists) > limit + 1:
            message += f"; {len(pharmacists)} are pinned to its placements in all"
        groups = [Group(group.rule, organisation=group.organisation,
                        supervisor=group.supervisor, period=t)]
        groups += [pin_group(k, pin) for p in pharmacists for k, pin in by_ph[p]]
        out.append(finding(
            kind, group.rule, message, pharmacists=pharmacists,
            placements=[pin.placement for p in pharmacists for _, pin in by_ph[p]],
            periods=[t], rules=["pin"], groups=groups,
            organisations=[group.organisation] if group.organisation else (),
            supervisors=[group.supervisor] if group.supervisor else ()))
    return out


def pins_over_organisation_cap(ctx: Context) -> list[Finding]:
    """Pins that make an organisation host more pharmacists in a period than its cap."""
    out = []
    for org in ctx.round.organisations:
        if org.max_pharmacists is None:
            continue
        own = [pl.id for pl in ctx.round.placements if pl.organisation == org.id]
        out += _pins_over_limit(
            ctx, "pins_over_organisation_cap",
            Group("organisation_cap", organisation=org.id), own, lambda _: True,
            org.max_pharmacists, f"organisation {org.id}", "hosts", "pharmacist",
            "max_pharmacists")
    return out


def pins_over_supervision(ctx: Context) -> list[Finding]:
    """Pins that give a supervisor more counted pharmacists in a period than its capacity."""
    rnd = ctx.round
    out = []
    for sup in rnd.supervisors:
        def counts(p: str, sup: Any = sup) -> bool:
            return bool(sup.counts(rnd.pharmacist(p)))
        out += _pins_over_limit(
            ctx, "pins_over_supervision", Group("supervision", supervisor=sup.id),
            sup.placements, counts, sup.capacity, f"supervisor {sup.id}", "supervises",
            WHOM[sup.supervises], "capacity")
    return out


def pins_break_continuity(ctx: Context) -> list[Finding]:
    """Pins to different placements of a non-rotating stream for one pharmacist."""
    out = []
    for p, pins in ctx.pins_of.items():
        by_stream: dict[str, list[tuple[int, Pin]]] = defaultdict(list)
        for k, pin in pins:
            stream = ctx.stream_of_id(pin.placement)
            if not stream.rotate:
                by_stream[stream.id].append((k, pin))
        for s, held in by_stream.items():
            if len({pin.placement for _, pin in held}) < 2:
                continue
            held.sort(key=lambda kp: ctx.round.period_index[kp[1].period])
            listed = and_list([f"{pin.placement} in {pin.period}" for _, pin in held])
            message = (f"{p} is pinned to {listed}, but the {s} stream does not rotate: a "
                       f"pharmacist keeps the same {s} placement in every period")
            out.append(finding(
                "pins_break_continuity", "continuity", message, pharmacists=[p],
                placements=[pin.placement for _, pin in held],
                periods=[pin.period for _, pin in held], rules=["pin"],
                groups=[Group("continuity", pharmacist=p, stream=s),
                        *(pin_group(k, pin) for k, pin in held)]))
    return out


def pins_break_rotation(ctx: Context) -> list[Finding]:
    """Pins to the same placement of a rotating stream in two periods for one pharmacist."""
    out = []
    for p, pins in ctx.pins_of.items():
        by_placement: dict[str, list[tuple[int, Pin]]] = defaultdict(list)
        for k, pin in pins:
            if ctx.stream_of_id(pin.placement).rotate:
                by_placement[pin.placement].append((k, pin))
        for l_id, held in by_placement.items():
            periods = list(dict.fromkeys(pin.period for _, pin in held))
            if len(periods) < 2:
                continue
            periods.sort(key=ctx.round.period_index.__getitem__)
            s = ctx.stream_of_id(l_id).id
            message = f"{p} is pinned to {l_id} in {and_list(periods)}, but {ctx.rotates(s)}"
            out.append(finding(
                "pins_break_rotation", "rotation", message, pharmacists=[p],
                placements=[l_id], periods=periods, rules=["pin"],
                groups=[Group("rotation", pharmacist=p, placement=l_id),
                        *(pin_group(k, pin) for k, pin in held)]))
    return out
