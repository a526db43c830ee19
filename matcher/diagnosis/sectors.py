"""Pre-checks on the sector rules (§3.6), one pharmacist at a time, and on the seats of each
required sector. Each finding is a proof of infeasibility."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from ortools.graph.python import max_flow

from matcher.diagnosis.context import Context
from matcher.diagnosis.findings import Finding, Group, finding, pin_group
from matcher.diagnosis.wording import plural
from matcher.domain import SECTORS
from matcher.eligibility import ineligibility_reasons
from matcher.wording import and_ids, and_list, count


def matching_size(left: Sequence[int], options: Sequence[frozenset[int]]) -> int:
    """Size of a maximum matching of ``left`` items into distinct slots (Kuhn's algorithm);
    ``options[j]`` is the set of items slot ``j`` can take."""
    slot_of: dict[int, int] = {}  # item -> slot
    item_in: dict[int, int] = {}  # slot -> item

    def augment(item: int, seen: set[int]) -> bool:
        for j, opts in enumerate(options):
            if item in opts and j not in seen:
                seen.add(j)
                if j not in item_in or augment(item_in[j], seen):
                    item_in[j] = item
                    slot_of[item] = j
                    return True
        return False

    return sum(1 for item in left if augment(item, set()))


def _sector_slots(ctx: Context, i: int, *, with_pins: bool
                  ) -> list[tuple[str, frozenset[int]]]:
    """The pharmacist's (label, sectors it can add) per slot: each period of a rotating
    stream, and each non-rotating stream once (continuity: one placement throughout)."""
    rnd, c = ctx.round, ctx.cand
    ph = rnd.pharmacists[i]
    avail = set(ctx.available[i])
    opts: dict[tuple[str, str | None], set[int]] = defaultdict(set)
    for r in ctx.rows(i):
        s = ctx.streams[int(c.stream[r])]
        t = rnd.period_ids[int(c.period[r])]
        key = (s.id, t if s.rotate else None)
        opts[key].add(int(ctx.sector_of[int(c.placement[r])]))
    if with_pins:
        pinned: dict[tuple[str, str | None], set[int]] = defaultdict(set)
        for _, pin in ctx.pins_of.get(ph.id, []):
            s = ctx.stream_of_id(pin.placement)
            pinned[s.id, pin.period if s.rotate else None].add(
                SECTORS.index(rnd.placement(pin.placement).sector))
        opts.update(pinned)
    out = []
    for s in ctx.streams:
        if s.rotate:
            for t in rnd.period_ids:
                if t in avail:
                    label = f"{t} ({s.id})" if ctx.declared else t
                    out.append((label, frozenset(opts.get((s.id, t), ()))))
        else:
            out.append((f"the {s.id} stream (one placement throughout)",
                        frozenset(opts.get((s.id, None), ()))))
    return out


def _sector_names(indices: Iterable[int]) -> list[str]:
    return [SECTORS[k] for k in sorted(indices)]


def sector_reach(ctx: Context) -> list[Finding]:
    """Per pharmacist, the sector rules (§3.6) against what they can reach at all, then
    against what fits in their periods and streams, then with their pins."""
    rnd = ctx.round
    wanted = rnd.rules.min_distinct_sectors
    required_all = [SECTORS.index(s) for s in dict.fromkeys(rnd.rules.required_sectors)]
    if not wanted and not required_all:
        return []
    out: list[Finding] = []
    for i, ph in enumerate(rnd.pharmacists):
        n_avail = len(ctx.available[i])
        if n_avail == 0:
            continue
        hist = {SECTORS.index(rnd.placement(h).sector) for h in ph.history}
        need = min(wanted, n_avail)
        required = [s for s in required_all if s not in hist]
        slots = _sector_slots(ctx, i, with_pins=False)
        reach = set().union(*(o for _, o in slots)) if slots else set()
        found = _unreachable_sectors(ctx, i, hist, reach, need, required)
        if not found:
            found = _sectors_do_not_fit(ctx, i, hist, slots, need, required,
                                        kind_prefix="")
        if not found and ctx.pins_of.get(ph.id):
            pinned = _sector_slots(ctx, i, with_pins=True)
            found = _sectors_do_not_fit(ctx, i, hist, pinned, need, required,
                                        kind_prefix="pins")
        out += found
    return out


def _unreachable_sectors(ctx: Context, i: int, hist: set[int], reach: set[int], need: int,
                         required: Sequence[int]) -> list[Finding]:
    rnd = ctx.round
    ph = rnd.pharmacists[i]
    out = []
    for s in required:
        if s in reach:
            continue
        sector = SECTORS[s]
        offered = [pl.id for pl in rnd.placements if pl.sector == sector]
        why = _why_not(ctx, ph.id, offered)
        message = (f"{ph.id} must cover {sector} (a required sector) but can reach no "
                   f"{sector} placement")
        message += f" ({why})" if why else " (the round offers none)"
        out.append(finding(
            "required_sector_unreachable", "required_sectors", message, pharmacists=[ph.id],
            placements=offered,
            groups=[Group("required_sectors", pharmacist=ph.id, sector=sector)]))
    covered = hist | reach
    if len(covered) < need:
        reach_only = _sector_names(reach - hist)
        required_text = f"{count(need, 'sector')} {'is' if need == 1 else 'are'} required"
        if not reach:
            message = f"{ph.id} can reach no placement at all, but {required_text}"
        elif hist:
            message = (f"{ph.id} has done {and_list(_sector_names(hist))} (history) and can "
                       f"reach only {and_list(reach_only) or 'no other'} placements, but "
                       f"{required_text}")
        else:
            message = (f"{ph.id} can reach only {and_list(reach_only)} placements but "
                       f"{required_text}")
        out.append(finding(
            "sectors_unreachable", "sector_mix", message, pharmacists=[ph.id],
            groups=[Group("sector_mix", pharmacist=ph.id)]))
    return out


def _sectors_do_not_fit(ctx: Context, i: int, hist: set[int],
                        slots: Sequence[tuple[str, frozenset[int]]], need: int,
                        required: Sequence[int], *, kind_prefix: str) -> list[Finding]:
    """The transversal-matroid test: the required sectors must fit into distinct slots, and
    some basis (which can always be grown from them) must be large enough."""
    rnd = ctx.round
    ph = rnd.pharmacists[i]
    options = [o - hist for _, o in slots]
    new = sorted(set().union(*options)) if options else []
    need_new = max(0, need - len(hist))
    fits_required = matching_size(required, options) == len(required)
    rank = matching_size(new, options)
    if fits_required and rank >= need_new:
        return []
    detail = "; ".join(f"{label}: {and_list(_sector_names(o)) or 'none'}" for label, o in slots)
    groups: list[Group] = []
    if not fits_required:
        groups += [Group("required_sectors", pharmacist=ph.id, sector=SECTORS[s])
                   for s in required]
    if rank < need_new:
        groups.append(Group("sector_mix", pharmacist=ph.id))
    pinned = ctx.pins_of.get(ph.id, []) if kind_prefix else []
    if pinned:
        groups += [pin_group(k, pin) for k, pin in pinned]
        pins = and_list([f"{pin.placement} in {pin.period}" for _, pin in pinned])
        head = f"{ph.id}'s {plural(len(pinned), 'pin')} ({pins})"
        if not fits_required:
            verb = "leaves" if len(pinned) == 1 else "leave"
            message = (f"{head} {verb} no free period and stream to cover the required "
                       f"{plural(len(required), 'sector')} {and_list(_sector_names(required))}")
        else:
            verb = "leaves" if len(pinned) == 1 else "leave"
            message = (f"{head} {verb} room for at most "
                       f"{count(rank + len(hist), 'distinct sector')} counting history, but "
                       f"{need} {'is' if need == 1 else 'are'} required")
        kind, rule = "pins_block_sectors", ("required_sectors" if not fits_required
                                            else "sector_mix")
    elif not fits_required:
        message = (f"{ph.id} must cover the required sectors "
                   f"{and_list(_sector_names(required))}, but they do not fit into separate "
                   f"periods and streams (one placement per stream in each period)")
        kind, rule = "required_sectors_do_not_fit", "required_sectors"
    else:
        message = (f"{ph.id} can cover at most {count(rank + len(hist), 'distinct sector')} "
                   "counting history with one placement per stream in each period they are "
                   f"available, but {need} {'is' if need == 1 else 'are'} required")
        kind, rule = "sectors_do_not_fit", "sector_mix"
    message += f" (sectors open to them: {detail})"
    if hist:
        message += f"; history covers {and_list(_sector_names(hist))}"
    return [finding(kind, rule, message, pharmacists=[ph.id],
                    placements=[pin.placement for _, pin in pinned],
                    periods=[pin.period for _, pin in pinned],
                    rules=["pin"] if pinned else (), groups=groups)]


def required_sector_seats(ctx: Context) -> list[Finding]:
    """Per required sector, pharmacists who still need it (and can reach it) against the
    seats in that sector, over every placement and period, that they can reach: each needs
    one, so a set of them larger than the seats open to it cannot all be served (Hall's
    condition, by maximum flow)."""
    rnd, c = ctx.round, ctx.cand
    out = []
    for sector in dict.fromkeys(rnd.rules.required_sectors):
        k = SECTORS.index(sector)
        needy = np.array([bool(ctx.available[i]) and sector not in
                          {rnd.placement(h).sector for h in ph.history}
                          for i, ph in enumerate(rnd.pharmacists)], dtype=bool)
        rows = (np.flatnonzero((ctx.sector_of[c.placement] == k) & needy[c.pharmacist])
                if len(c) else np.zeros(0, dtype=np.int64))
        if not len(rows):
            continue
        n_t = len(rnd.periods)
        seat_key = c.placement[rows] * n_t + c.period[rows]
        who_idx = np.unique(c.pharmacist[rows])
        seats = np.unique(seat_key)
        p_node = {int(p): 2 + n for n, p in enumerate(who_idx)}
        s_node = {int(x): 2 + len(who_idx) + n for n, x in enumerate(seats)}
        cap = [rnd.placements[int(x) // n_t].capacity_in(rnd.period_ids[int(x) % n_t])
               for x in seats]
        flow = max_flow.SimpleMaxFlow()
        tails = [0] * len(who_idx) + [p_node[int(c.pharmacist[r])] for r in rows]
        tails += list(s_node.values())
        heads = list(p_node.values()) + [s_node[int(x)] for x in seat_key] + [1] * len(seats)
        caps = [1] * len(who_idx) + [len(who_idx) + 1] * len(rows) + cap
        flow.add_arcs_with_capacity(np.asarray(tails, np.int32), np.asarray(heads, np.int32),
                                    np.asarray(caps, np.int64))
        if flow.solve(0, 1) != flow.OPTIMAL or flow.optimal_flow() >= len(who_idx):
            continue
        side = {int(v) for v in flow.get_source_side_min_cut()}
        who = [rnd.pharmacists[int(p)].id for p in who_idx if p_node[int(p)] in side]
        held = [int(x) for x in seats if s_node[int(x)] in side]
        n_seats = sum(cap[n] for n, x in enumerate(seats) if s_node[int(x)] in side)
        where = [f"{rnd.placements[x // n_t].id} in {rnd.period_ids[x % n_t]}" for x in held]
        message = (f"{sector} is a required sector, but {and_ids(who)} ({len(who)} "
                   f"pharmacists who have not covered it yet) can reach only "
                   f"{count(n_seats, f'{sector} seat')} between them over the round "
                   f"({and_ids(where)})")
        out.append(finding(
            "required_sector_seats", "required_sectors", message, pharmacists=who,
            placements=[rnd.placements[x // n_t].id for x in held],
            periods=sorted({rnd.period_ids[x % n_t] for x in held},
                           key=rnd.period_index.__getitem__),
            rules=["capacity"],
            groups=[Group("required_sectors", pharmacist=p, sector=sector) for p in who]))
    return out


def _why_not(ctx: Context, p: str, placement_ids: Sequence[str]) -> str:
    """Why the pharmacist can hold none of a few placements in any available period."""
    rnd = ctx.round
    periods = rnd.available_periods(rnd.pharmacist(p))
    parts = []
    for l_id in placement_ids[:4]:
        reasons: list[str] = []
        for t in periods:
            for r in ineligibility_reasons(rnd, p, l_id, t):
                if r.message not in reasons:
                    reasons.append(r.message)
        if reasons:
            parts.append("; ".join(reasons[:2]) + ("; ..." if len(reasons) > 2 else ""))
    if len(placement_ids) > 4:
        parts.append(f"and {len(placement_ids) - 4} more")
    return "; ".join(parts)
