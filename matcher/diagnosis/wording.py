"""A conflict core in planners' words (:func:`core_finding`), and the phrases the pre-checks
share with it. Messages name ids, rules and numbers, never names or home locations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from matcher.diagnosis.context import Context
from matcher.diagnosis.findings import RULE_ORDER, Finding, Group, finding
from matcher.domain import SECTORS
from matcher.wording import MAX_LISTED, and_ids, and_list, count

WHOM = {"all": "pharmacist", "non_prescribers": "non-prescriber",
        "early_years": "early-years pharmacist"}
"""A supervisor's ``supervises`` as the noun for whom it counts."""


def plural(n: int, noun: str) -> str:
    """The noun, with an s unless ``n`` is 1 ('pin', 'pins')."""
    return noun if n == 1 else noun + "s"


def core_finding(ctx: Context, core: Sequence[Group], minimal: bool) -> Finding:
    """The finding for a conflict core (its groups). A minimal core of empty slots against
    capacities is said as seats against pharmacists; any other core rule by rule."""
    groups = sorted(core, key=lambda g: (RULE_ORDER.index(g.rule), str(g)))
    rules = list(dict.fromkeys(g.rule for g in groups))
    pharmacists = [g.pharmacist for g in groups if g.pharmacist]
    placements = [g.placement for g in groups if g.placement]
    periods = sorted({g.period for g in groups if g.period},
                     key=ctx.round.period_index.__getitem__)
    message = (minimal and _hall_sentence(ctx, groups)) or _generic_sentence(ctx, groups)
    if minimal:
        message += " Relaxing any one of these removes this conflict."
    return finding(
        "conflict", rules[0], message, pharmacists=pharmacists, placements=placements,
        periods=periods,
        organisations=[g.organisation for g in groups if g.organisation],
        supervisors=[g.supervisor for g in groups if g.supervisor],
        rules=rules, groups=groups, minimal=minimal)


def _hall_sentence(ctx: Context, groups: Sequence[Group]) -> str | None:
    """Slots of one period and stream that nobody may leave empty, against the capacity of
    every placement they could take: say it as seats against pharmacists."""
    if {g.rule for g in groups} != {"allow_unassigned", "capacity"}:
        return None
    slots = [g for g in groups if g.rule == "allow_unassigned"]
    caps = [g for g in groups if g.rule == "capacity"]
    if len({(g.period, g.stream) for g in slots}) != 1:
        return None
    t, s = slots[0].period, slots[0].stream
    assert t is not None
    assert s is not None
    who = [g.pharmacist for g in slots if g.pharmacist]
    where = [g.placement for g in caps if g.placement]
    seats = sum(ctx.round.capacity(x, t) for x in where)
    return (f"Nobody may be left unassigned, but in {t} {and_ids(who)} can only take "
            f"{seats_sentence(ctx, s, where, seats)}.")


def seats_sentence(ctx: Context, stream: str, where: Sequence[str], seats: int) -> str:
    """'host placements A and B, which have 1 seat between them' / 'placement A, which has
    1 seat'."""
    if len(where) == 1:
        return f"{ctx.placement_word(stream)} {where[0]}, which has {count(seats, 'seat')}"
    return (f"{ctx.placements_word(stream)} {and_ids(where)}, which have "
            f"{count(seats, 'seat')} between them")


def _generic_sentence(ctx: Context, groups: Sequence[Group]) -> str:
    clauses = _slot_clauses(ctx, [g for g in groups if g.rule == "allow_unassigned"])
    clauses += [_clause(ctx, g, groups) for g in groups if g.rule != "allow_unassigned"]
    return "These rules cannot all hold together: " + "; ".join(clauses) + "."


def _slot_clauses(ctx: Context, slots: Sequence[Group]) -> list[str]:
    """'PH-1 and PH-2 must each hold a host placement in R1 and R2 (nobody may be left
    unassigned)': slots merged by pharmacist, then pharmacists with the same periods."""
    periods: dict[tuple[str, str], list[str]] = defaultdict(list)
    for g in slots:
        assert g.pharmacist is not None
        assert g.stream is not None
        assert g.period is not None
        periods[g.stream, g.pharmacist].append(g.period)
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (s, p), ts in periods.items():
        ts.sort(key=ctx.round.period_index.__getitem__)
        merged[s, tuple(ts)].append(p)
    out = []
    for (s, slot_periods), who in merged.items():
        text = (f"{and_ids(who)} must {'each ' if len(who) > 1 else ''}hold "
                f"{ctx.a_placement(s)} in {and_list(list(slot_periods))} (nobody may be left "
                "unassigned")
        open_ = _open_to(ctx, who, slot_periods, s)
        if open_ and len(open_) <= MAX_LISTED:
            text += f"; open to them there: {and_list(open_)}"
        elif not open_:
            text += "; nothing is open to them there"
        out.append(text + ")")
    return out


def _open_to(ctx: Context, who: Sequence[str], periods: Sequence[str], stream: str
             ) -> list[str]:
    """Placements of the stream eligible for any of the pharmacists in any of the periods."""
    rnd, c = ctx.round, ctx.cand
    wanted_t = {rnd.period_index[t] for t in periods}
    s_i = rnd.stream_index[stream]
    found: set[int] = set()
    for p in who:
        for r in ctx.rows(rnd.pharmacist_index[p]):
            if int(c.period[r]) in wanted_t and int(c.stream[r]) == s_i:
                found.add(int(c.placement[r]))
    return [rnd.placements[j].id for j in sorted(found)]


def _clause(ctx: Context, g: Group, core: Sequence[Group]) -> str:
    rnd = ctx.round
    if g.rule == "pin":
        return f"{g.pharmacist} is pinned to {g.placement} in {g.period}"
    if g.rule == "capacity":
        assert g.placement is not None
        assert g.period is not None
        cap = rnd.capacity(g.placement, g.period)
        return f"{g.placement} takes at most {count(cap, 'pharmacist')} in {g.period}"
    if g.rule == "organisation_cap":
        org = rnd.organisations[rnd.organisation_index[g.organisation or ""]]
        if not org.max_pharmacists:
            return f"organisation {org.id} hosts nobody in {g.period} (max_pharmacists 0)"
        return (f"organisation {org.id} hosts at most "
                f"{count(org.max_pharmacists, 'pharmacist')} in {g.period}")
    if g.rule == "supervision":
        sup = rnd.supervisors[rnd.supervisor_index[g.supervisor or ""]]
        whom = WHOM[sup.supervises]
        limit = (f"can supervise no {whom}s (capacity 0)" if sup.capacity == 0 else
                 f"can supervise at most {count(sup.capacity, whom)}")
        return (f"supervisor {sup.id} {limit} in {g.period} across "
                f"{and_list(list(sup.placements))}")
    if g.rule == "rotation":
        assert g.placement is not None
        s = ctx.stream_of_id(g.placement).id
        return f"{g.pharmacist} may hold {g.placement} only once ({ctx.rotates(s)})"
    if g.rule == "continuity":
        return (f"{g.pharmacist} must keep the same {g.stream} placement in every period "
                "(the stream does not rotate)")
    if g.rule == "sector_mix":
        assert g.pharmacist is not None
        ph = rnd.pharmacist(g.pharmacist)
        need = min(rnd.rules.min_distinct_sectors, len(rnd.available_periods(ph)))
        hist = sorted({rnd.placement(h).sector for h in ph.history})
        text = f"{ph.id} must cover at least {count(need, 'distinct sector')}"
        text += f" (history covers {and_list(hist)})" if hist else " (no history)"
        return text + _only_at(ctx, ph.id, core, set(hist))
    if g.rule == "required_sectors":
        assert g.pharmacist is not None
        assert g.sector is not None
        text = f"{g.pharmacist} must cover the required sector {g.sector}"
        others = set(SECTORS) - {g.sector}
        return text + _only_at(ctx, g.pharmacist, core, others)
    return str(g)


def _only_at(ctx: Context, p: str, core: Sequence[Group], skip: set[str]) -> str:
    """', and can reach mental_health only at MH-1 in R2' for sectors whose every option is
    limited by a capacity, organisation or supervisor group of the core."""
    rnd, c = ctx.round, ctx.cand
    seats = {(g.placement, g.period) for g in core if g.rule == "capacity"}
    orgs = {(g.organisation, g.period) for g in core if g.rule == "organisation_cap"}
    sups = {(g.supervisor, g.period) for g in core if g.rule == "supervision"}
    sup_of: dict[str, set[str]] = defaultdict(set)
    for sup in rnd.supervisors:
        for x in sup.placements:
            sup_of[x].add(sup.id)
    options: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for r in ctx.rows(rnd.pharmacist_index[p]):
        pl = rnd.placements[int(c.placement[r])]
        options[pl.sector].append((pl.id, rnd.period_ids[int(c.period[r])]))
    parts = []
    for sector, opts in options.items():
        if sector in skip:
            continue

        def limited(o: tuple[str, str]) -> bool:
            pl = rnd.placement(o[0])
            return (o in seats or (pl.organisation, o[1]) in orgs
                    or any((k, o[1]) in sups for k in sup_of[o[0]]))

        if opts and all(limited(o) for o in opts) and len(opts) <= 4:
            at = " or ".join(f"{l_id} in {t}" for l_id, t in opts)
            parts.append(f"{sector} only at {at}")
    return ", and can reach " + ", and ".join(parts) if parts else ""

