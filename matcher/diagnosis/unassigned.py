"""Pre-checks that apply when nobody may be left unassigned (``allow_unassigned`` false): a
slot with no eligible placement, too few seats, rotation run out, continuity impossible.
Each finding is a proof of infeasibility."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from ortools.graph.python import max_flow

from matcher.diagnosis.context import Context
from matcher.diagnosis.findings import Finding, Group, finding, pin_group
from matcher.diagnosis.sectors import matching_size
from matcher.diagnosis.wording import seats_sentence
from matcher.eligibility import ineligibility_reasons
from matcher.wording import and_ids, and_list


def no_eligible_placement(ctx: Context) -> list[Finding]:
    """With ``allow_unassigned`` false: an available (pharmacist, period, stream) with no
    eligible placement at all."""
    rnd, c = ctx.round, ctx.cand
    if rnd.rules.allow_unassigned:
        return []
    out = []
    for i, ph in enumerate(rnd.pharmacists):
        has = {(int(c.period[r]), int(c.stream[r])) for r in ctx.rows(i)}
        for t in ctx.available[i]:
            t_i = rnd.period_index[t]
            for s_i, s in enumerate(ctx.streams):
                if (t_i, s_i) in has:
                    continue
                offered = [pl.id for pl in rnd.placements if rnd.stream_of(pl).id == s.id]
                why = _why_not_in(ctx, ph.id, offered, t)
                message = (f"Nobody may be left unassigned, but {ph.id} has no eligible "
                           f"{ctx.placement_word(s.id)} in {t}")
                if why:
                    message += f" ({why})"
                out.append(finding(
                    "no_eligible_placement", "allow_unassigned", message,
                    pharmacists=[ph.id], placements=offered, periods=[t],
                    groups=[Group("allow_unassigned", pharmacist=ph.id, period=t,
                                  stream=s.id)]))
    return out


def _why_not_in(ctx: Context, p: str, placement_ids: Sequence[str], t: str) -> str:
    parts = []
    for l_id in placement_ids[:4]:
        reasons = ineligibility_reasons(ctx.round, p, l_id, t)
        if reasons:
            parts.append("; ".join(r.message for r in reasons[:2]))
    if len(placement_ids) > 4:
        parts.append(f"and {len(placement_ids) - 4} more")
    return "; ".join(parts)


def seats_below_need(ctx: Context) -> list[Finding]:
    """With ``allow_unassigned`` false: per period and stream, fewer seats than available
    pharmacists; failing that, a set of pharmacists whose eligible placements have fewer
    seats between them than they number (Hall's condition, by maximum flow)."""
    rnd = ctx.round
    if rnd.rules.allow_unassigned:
        return []
    out = []
    for t_i, t in enumerate(rnd.period_ids):
        present = [ph.id for ph in rnd.pharmacists if t not in ph.unavailable]
        for s_i, s in enumerate(ctx.streams):
            own = [pl for pl in rnd.placements if rnd.stream_of(pl).id == s.id]
            seats = sum(pl.capacity_in(t) for pl in own)
            groups = [Group("allow_unassigned", pharmacist=p, period=t, stream=s.id)
                      for p in present]
            if seats < len(present):
                message = (f"Nobody may be left unassigned, but in {t} "
                           f"{ctx.seats_phrase(s.id, seats)} for {len(present)} available "
                           "pharmacists")
                out.append(finding(
                    "too_few_seats", "allow_unassigned", message, pharmacists=present,
                    placements=[pl.id for pl in own if pl.capacity_in(t) > 0], periods=[t],
                    rules=["capacity"], groups=groups))
                continue
            hall = _hall_violation(ctx, t_i, s_i)
            if hall is None:
                continue
            who, where, n_seats = hall
            message = (f"Nobody may be left unassigned, but in {t} {and_ids(who)} can only "
                       f"take {seats_sentence(ctx, s.id, where, n_seats)}")
            out.append(finding(
                "seats_out_of_reach", "allow_unassigned", message, pharmacists=who,
                placements=where, periods=[t], rules=["capacity"],
                groups=[Group("allow_unassigned", pharmacist=p, period=t, stream=s.id)
                        for p in who]))
    return out


def _hall_violation(ctx: Context, t_i: int, s_i: int
                    ) -> tuple[list[str], list[str], int] | None:
    """Pharmacists (with some candidate) in period ``t_i`` and stream ``s_i`` who cannot all
    be seated: (pharmacists, their placements, seats there), or None."""
    rnd, c = ctx.round, ctx.cand
    sel = np.flatnonzero((c.period == t_i) & (c.stream == s_i))
    if not len(sel):
        return None
    ph_ids = np.unique(c.pharmacist[sel])
    pl_ids = np.unique(c.placement[sel])
    n_ph, n_pl = len(ph_ids), len(pl_ids)
    ph_node = {int(p): 2 + k for k, p in enumerate(ph_ids)}
    pl_node = {int(j): 2 + n_ph + k for k, j in enumerate(pl_ids)}
    t = rnd.period_ids[t_i]
    flow = max_flow.SimpleMaxFlow()
    big = n_ph + 1
    tails = [0] * n_ph + [ph_node[int(c.pharmacist[r])] for r in sel] + list(pl_node.values())
    heads = (list(ph_node.values()) + [pl_node[int(c.placement[r])] for r in sel]
             + [1] * n_pl)
    caps = ([1] * n_ph + [big] * len(sel)
            + [rnd.placements[int(j)].capacity_in(t) for j in pl_ids])
    flow.add_arcs_with_capacity(np.asarray(tails, np.int32), np.asarray(heads, np.int32),
                                np.asarray(caps, np.int64))
    if flow.solve(0, 1) != flow.OPTIMAL or flow.optimal_flow() >= n_ph:
        return None
    side = {int(v) for v in flow.get_source_side_min_cut()}
    who = [rnd.pharmacists[int(p)].id for p in ph_ids if ph_node[int(p)] in side]
    where_idx = [int(j) for j in pl_ids if pl_node[int(j)] in side]
    seats = sum(rnd.placements[j].capacity_in(t) for j in where_idx)
    return who, [rnd.placements[j].id for j in where_idx], seats


def rotation_exhausted(ctx: Context) -> list[Finding]:
    """With ``allow_unassigned`` false: in a rotating stream a pharmacist needs a different
    placement in each available period, but fewer are open to them in some set of periods."""
    rnd, c = ctx.round, ctx.cand
    if rnd.rules.allow_unassigned:
        return []
    out = []
    for i, ph in enumerate(rnd.pharmacists):
        periods = list(ctx.available[i])
        if len(periods) < 2:
            continue
        for s_i, s in enumerate(ctx.streams):
            if not s.rotate:
                continue
            opts: dict[str, set[int]] = defaultdict(set)
            for r in ctx.rows(i):
                if int(c.stream[r]) == s_i:
                    opts[rnd.period_ids[int(c.period[r])]].add(int(c.placement[r]))
            if any(not opts[t] for t in periods):
                continue  # an empty slot is no_eligible_placement's finding
            if _match_periods(periods, opts) == len(periods):
                continue
            bad = _smallest_hall_set(periods, opts)
            open_ = sorted(set().union(*(opts[t] for t in bad)))
            names = [rnd.placements[j].id for j in open_]
            message = (f"Nobody may be left unassigned, but {ph.id} needs a different "
                       f"{ctx.placement_word(s.id)} in each of {and_list(bad)} "
                       f"({ctx.rotates(s.id)}) and only {len(names)} "
                       f"{'is' if len(names) == 1 else 'are'} open to them "
                       f"there ({and_list(names)})")
            out.append(finding(
                "rotation_exhausted", "allow_unassigned", message, pharmacists=[ph.id],
                placements=names, periods=bad, rules=["rotation"],
                groups=[*(Group("allow_unassigned", pharmacist=ph.id, period=t, stream=s.id)
                          for t in bad),
                        *(Group("rotation", pharmacist=ph.id, placement=n) for n in names)]))
    return out


def _match_periods(periods: Sequence[str], opts: dict[str, set[int]]) -> int:
    """Most periods that can get distinct placements (``opts[t]``: placements open in t)."""
    placements = sorted(set().union(*(opts[t] for t in periods)))
    takes = [frozenset(k for k, t in enumerate(periods) if j in opts[t]) for j in placements]
    return matching_size(range(len(periods)), takes)


def _smallest_hall_set(periods: Sequence[str], opts: dict[str, set[int]]) -> list[str]:
    """The smallest set of periods offering fewer distinct placements than periods."""
    if len(periods) <= 12:
        for size in range(2, len(periods) + 1):
            for subset in itertools.combinations(periods, size):
                if len(set().union(*(opts[t] for t in subset))) < size:
                    return list(subset)
    return list(periods)


def continuity_impossible(ctx: Context) -> list[Finding]:
    """With ``allow_unassigned`` false: in a non-rotating stream a pharmacist must keep one
    placement in every available period, but none is open to them in all (or their pin's
    placement is not)."""
    rnd, c = ctx.round, ctx.cand
    if rnd.rules.allow_unassigned:
        return []
    out = []
    for i, ph in enumerate(rnd.pharmacists):
        periods = list(ctx.available[i])
        if len(periods) < 2:
            continue
        for s_i, s in enumerate(ctx.streams):
            if s.rotate:
                continue
            open_in: dict[int, set[str]] = defaultdict(set)
            for r in ctx.rows(i):
                if int(c.stream[r]) == s_i:
                    open_in[int(c.placement[r])].add(rnd.period_ids[int(c.period[r])])
            if not open_in:
                continue  # no_eligible_placement's finding
            pinned = [(k, pin) for k, pin in ctx.pins_of.get(ph.id, [])
                      if ctx.stream_of_id(pin.placement).id == s.id]
            pinned_ids = {pin.placement for _, pin in pinned}
            if len(pinned_ids) > 1:
                continue  # pins_break_continuity's finding
            if pinned:
                l_id = pinned[0][1].placement
                missing = [t for t in periods
                           if t not in open_in.get(rnd.placement_index[l_id], set())]
                if not missing:
                    continue
                why = "; ".join(r.message for r in
                                ineligibility_reasons(rnd, ph.id, l_id, missing[0])[:2])
                message = (f"{ph.id} is pinned to {l_id} in {pinned[0][1].period}; nobody may "
                           f"be left unassigned and the {s.id} stream does not rotate, so "
                           f"they must hold {l_id} in {and_list(periods)}, but it is not open to "
                           f"them in {and_list(missing)}" + (f" ({why})" if why else ""))
                out.append(finding(
                    "continuity_impossible", "continuity", message, pharmacists=[ph.id],
                    placements=[l_id], periods=missing, rules=["allow_unassigned", "pin"],
                    groups=[Group("continuity", pharmacist=ph.id, stream=s.id),
                            *(Group("allow_unassigned", pharmacist=ph.id, period=t,
                                    stream=s.id) for t in periods),
                            *(pin_group(k, pin) for k, pin in pinned)]))
                continue
            if any(all(t in ok for t in periods) for ok in open_in.values()):
                continue
            gaps = [f"{rnd.placements[j].id}: not in "
                    f"{and_list([t for t in periods if t not in ok])}"
                    for j, ok in sorted(open_in.items())]
            message = (f"Nobody may be left unassigned and the {s.id} stream does not rotate, "
                       f"so {ph.id} must keep one {s.id} placement in {and_list(periods)}, but "
                       f"none is open to them in all of those periods ({'; '.join(gaps[:6])}"
                       + (f"; and {len(gaps) - 6} more" if len(gaps) > 6 else "") + ")")
            out.append(finding(
                "continuity_impossible", "continuity", message, pharmacists=[ph.id],
                placements=[rnd.placements[j].id for j in sorted(open_in)], periods=periods,
                rules=["allow_unassigned"],
                groups=[Group("continuity", pharmacist=ph.id, stream=s.id),
                        *(Group("allow_unassigned", pharmacist=ph.id, period=t, stream=s.id)
                          for t in periods)]))
    return out
