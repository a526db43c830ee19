"""Stage 3, coarse and fast: which whole rule families must be relaxed for the round to
become feasible (:func:`family_finding`), for rounds too large for a record-level conflict
within the budget.

A family is every group of one rule (all capacities, all organisation caps, every "nobody
unassigned" slot, ...). Rather than dropping one family, then pairs, each a feasibility
search of seconds on a large round, families are *added* one at a time to a set that is
known to hold together (the least likely causes first, each search warm-started from the
last solution): a family that cannot join is relaxed. The relaxed families are a minimal
relaxation at the family level when every refusal was proven (relaxing only some of them
is not enough); they are not a minimal conflict among records.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from matcher.diagnosis.conflicts import ConflictModel
from matcher.diagnosis.context import Context
from matcher.diagnosis.findings import RULE_ORDER, Finding, Group, finding
from matcher.wording import and_ids, and_list, count

ADD_ORDER = (
    "pin",
    "rotation",
    "continuity",
    "required_sectors",
    "supervision",
    "sector_mix",
    "organisation_cap",
    "capacity",
    "allow_unassigned",
)
"""Order in which families join the set that holds: the last ones are the likeliest to be
relaxed, so the usual suspects (nobody unassigned, then the limits) come last."""

FAMILY_WORDS = {
    "allow_unassigned": "some pharmacists may be left unassigned (rules.allow_unassigned)",
    "capacity": "placement capacities",
    "organisation_cap": "organisation caps (max_pharmacists)",
    "supervision": "supervisor capacities",
    "rotation": "the rotation rule",
    "continuity": "continuity in non-rotating streams",
    "sector_mix": "the sector mix (rules.min_distinct_sectors)",
    "required_sectors": "the required sectors (rules.required_sectors)",
    "pin": "pins",
}
"""Each family as the thing that must give way, in planners' words."""

SUSPECTS = frozenset({"allow_unassigned", "capacity", "organisation_cap", "supervision"})
"""Families tried one at a time; the others first try to join together."""

_NAMING_S = 2.0  # longest search for the fewest records to relax within the families
_MARGIN_S = 0.3  # kept back for building and reading the last search


def family_finding(ctx: Context, model: ConflictModel, deadline: float,
                   budget_s: float) -> Finding | None:
    """The families the round cannot keep, as a ``families`` finding; None when nothing
    was shown before ``deadline`` (or every family holds together: the round is feasible,
    see :attr:`ConflictModel.last_status`)."""
    members: dict[str, list[int]] = {}
    for k, g in enumerate(model.groups):
        members.setdefault(g.rule, []).append(k)
    order = [rule for rule in ADD_ORDER if rule in members]
    # The families rarely at fault try to join in one go (split in halves if they cannot);
    # the suspects one at a time.
    pending: list[list[str]] = [[r for r in order if r not in SUSPECTS]]
    pending += [[r] for r in order if r in SUSPECTS]
    pending = [batch for batch in pending if batch]
    kept: list[int] = []
    relaxed: list[str] = []
    proven = True
    while pending:
        batch = pending.pop(0)
        remaining = deadline - _MARGIN_S - time.monotonic()
        if remaining <= 0:
            return None
        free = [k for rule in batch for k in members[rule]]
        share = 0.6 if len(batch) > 1 else 1 / (len(pending) + 1)  # a batch is most work
        status, off = model.relax(kept, free, remaining * share)
        if status != "unknown" and not off:
            kept += free
        elif len(batch) > 1:
            half = len(batch) // 2
            pending[:0] = [batch[:half], batch[half:]]
        else:  # optimal with records off: proven that the family cannot join
            relaxed.append(batch[0])
            proven = proven and status in ("optimal", "infeasible")
    if not relaxed:
        model.last_status = "feasible"
        return None
    free = [k for rule in relaxed for k in members[rule]]
    remaining = deadline - _MARGIN_S - time.monotonic()
    status, off = (model.relax(kept, free, min(remaining, _NAMING_S)) if remaining > 0
                   else ("unknown", []))
    records = [model.groups[k] for k in off] if status in ("feasible", "optimal") else []
    return _finding(ctx, relaxed, proven, records, budget_s)


def _finding(ctx: Context, relaxed: Sequence[str], proven: bool, records: Sequence[Group],
             budget_s: float) -> Finding:
    relaxed = sorted(relaxed, key=RULE_ORDER.index)
    what = [FAMILY_WORDS[r] for r in relaxed]
    if relaxed == ["allow_unassigned"]:
        cause = f"the round becomes feasible if {what[0]}"
    elif len(relaxed) == 1:
        cause = f"the round becomes feasible if {what[0]} are relaxed"
    else:
        cause = f"the round becomes feasible if {and_list(what)} are relaxed together"
        cause += ("; relaxing only some of them is not enough" if proven else
                  " (not shown within the budget to be the fewest families)")
    message = (f"No minimal conflict among records was found within the {budget_s:g} s "
               "diagnosis budget; relaxing whole rule families instead (a coarse result, "
               f"not a minimal conflict), {cause}.")
    if records:
        message += " " + _records_sentence(ctx, records)
    periods = sorted({g.period for g in records if g.period},
                     key=ctx.round.period_index.__getitem__)
    return finding(
        "families", relaxed[0], message,
        pharmacists=[g.pharmacist for g in records if g.pharmacist],
        placements=[g.placement for g in records if g.placement], periods=periods,
        organisations=[g.organisation for g in records if g.organisation],
        supervisors=[g.supervisor for g in records if g.supervisor],
        rules=relaxed, groups=records)


def _records_sentence(ctx: Context, records: Sequence[Group]) -> str:
    """What the relaxation found within the budget gives way on, family by family."""
    parts = []
    for rule in RULE_ORDER:
        mine = [g for g in records if g.rule == rule]
        if mine:
            parts.append(_records_part(ctx, rule, mine))
    return ("In the relaxation found within the budget (few records, not necessarily the "
            "fewest): " + "; ".join(parts) + ".")


def _records_part(ctx: Context, rule: str, groups: Sequence[Group]) -> str:
    n = len(groups)
    if rule == "allow_unassigned":
        who = and_ids([g.pharmacist or "" for g in groups])
        return f"{count(n, 'pharmacist-period')} left unassigned ({who})"
    if rule == "capacity":
        where = and_ids([f"{g.placement} in {g.period}" for g in groups])
        return f"{count(n, 'placement capacity')} exceeded ({where})"
    if rule == "organisation_cap":
        where = and_ids([f"{g.organisation} in {g.period}" for g in groups])
        return f"{count(n, 'organisation cap')} exceeded ({where})"
    if rule == "supervision":
        where = and_ids([f"{g.supervisor} in {g.period}" for g in groups])
        return f"{count(n, 'supervisor capacity')} exceeded ({where})"
    if rule == "pin":
        return f"{count(n, 'pin')} dropped ({and_ids([str(g.pin) for g in groups])})"
    who = and_ids([g.pharmacist or "" for g in groups])
    label = {"rotation": "rotation", "continuity": "continuity", "sector_mix": "sector mix",
             "required_sectors": "required sector"}[rule]
    return f"the {label} rule waived {count(n, 'time')} ({who})"
