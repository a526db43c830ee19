"""The two stages in order: :func:`prechecks` (stage 1 alone) and :func:`diagnose` (stage 1,
then conflict cores from stage 2 while the time budget lasts)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from matcher.diagnosis.conflicts import ConflictModel
from matcher.diagnosis.context import Context
from matcher.diagnosis.families import family_finding
from matcher.diagnosis.findings import Finding, finding
from matcher.diagnosis.pins import (
    pins_break_continuity,
    pins_break_rotation,
    pins_over_capacity,
    pins_over_organisation_cap,
    pins_over_supervision,
)
from matcher.diagnosis.sectors import required_sector_seats, sector_reach
from matcher.diagnosis.unassigned import (
    continuity_impossible,
    no_eligible_placement,
    rotation_exhausted,
    seats_below_need,
)
from matcher.diagnosis.wording import core_finding
from matcher.domain import Round
from matcher.eligibility import Candidates, candidates

log = logging.getLogger(__name__)

_MAX_CORES = 5  # independent conflicts looked for by one call
_AFTER_PRECHECKS = 0.3  # share of the budget left to CP-SAT once pre-checks found reasons
_CORE_SHARE = 0.3  # share of the budget for conflict cores before the family stage


def prechecks(round: Round, cand: Candidates | None = None) -> list[Finding]:
    """Every fast, exact reason for infeasibility the pre-checks find (no CP-SAT search).

    Each finding proves on its own that the round is infeasible.
    """
    ctx = Context(round, cand if cand is not None else candidates(round))
    checks: tuple[Callable[[Context], list[Finding]], ...] = (
        pins_over_capacity,
        pins_over_organisation_cap,
        pins_over_supervision,
        pins_break_continuity,
        pins_break_rotation,
        sector_reach,
        required_sector_seats,
        no_eligible_placement,
        seats_below_need,
        rotation_exhausted,
        continuity_impossible,
    )
    found: list[Finding] = []
    for check in checks:
        found += check(ctx)
    return found


def diagnose(round: Round, *, time_limit_s: float = 10.0) -> list[Finding]:
    """Why the round has no feasible allocation: pre-checks, then minimal CP-SAT conflicts.

    Returns an empty list when the round turns out to be feasible, and a single
    ``unexplained`` finding when no reason is found within ``time_limit_s`` seconds.
    Never raises: an internal error is logged and reported as ``unexplained``.
    """
    start = time.monotonic()
    try:
        findings = _diagnose(round, start, max(0.0, float(time_limit_s)))
    except Exception:  # a diagnosis must never break the solve that asked for it
        log.exception("diagnosis failed on round %s", round.round.id)
        findings = None
    if findings is None:
        findings = [_unexplained(time_limit_s)]
    log.info("diagnosis of round %s: %d finding(s) in %.2f s", round.round.id,
             len(findings), time.monotonic() - start)
    return findings


def _unexplained(time_limit_s: float) -> Finding:
    return finding(
        "unexplained", "unknown",
        "No allocation meets every hard rule, but no specific conflict was found within the "
        f"{time_limit_s:g} s diagnosis budget; allow a longer diagnosis, or relax rules one "
        "at a time (allow_unassigned, the sector rules, pins) to find the one that binds.",
    )


def _diagnose(rnd: Round, start: float, time_limit_s: float) -> list[Finding] | None:
    """Findings, ``[]`` when feasible, ``None`` when no reason was found in time."""
    end = start + time_limit_s
    ctx = Context(rnd, candidates(rnd))
    found = prechecks(rnd, ctx.cand)
    # Explained already: look for further conflicts, but briefly. Else leave the family
    # stage the rest of the budget.
    deadline = (_shorter(end, time_limit_s) if found
                else min(end, start + _CORE_SHARE * time_limit_s))
    if time.monotonic() >= (deadline if found else end):
        return found or None
    model = ConflictModel(rnd, ctx.cand)
    active = set(range(len(model.groups)))
    for f in found:
        active -= {model.index[g] for g in f.groups if g in model.index}
    for _ in range(_MAX_CORES):
        if time.monotonic() >= deadline:
            break
        outcome = model.minimal_core(sorted(active), deadline)
        if outcome is None:  # the rest is feasible, or undecided in time
            if model.last_status == "feasible":
                return found
            break
        core, minimal = outcome
        found.append(core_finding(ctx, [model.groups[k] for k in core], minimal))
        active -= set(core)
        deadline = _shorter(deadline, time_limit_s)
    if not found and time.monotonic() < end:
        coarse = family_finding(ctx, model, end, time_limit_s)
        if coarse is not None:
            return [coarse]
        if model.last_status == "feasible":
            return []
    return found or None


def _shorter(deadline: float, time_limit_s: float) -> float:
    """The deadline for looking for further conflicts once one is explained."""
    return min(deadline, time.monotonic() + max(1.0, _AFTER_PRECHECKS * time_limit_s))
