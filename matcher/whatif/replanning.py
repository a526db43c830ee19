"""Re-planning after a change mid-programme, with as little disruption as possible.

:func:`replan` sets the round's ``reference`` to an earlier result and ``weights.change``
(by default :func:`minimal_change_weight`: as few moves as possible), keeps the periods
already served exactly as they were (their assignments pinned, their empty slots kept
empty) and warm-starts the solver from that result; :func:`replan_round` is the round it
solves.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem

if TYPE_CHECKING:
    from matcher.result import Result
    from matcher.solving.params import SolveParams

__all__ = ["minimal_change_weight", "replan", "replan_round"]

log = logging.getLogger(__name__)


def minimal_change_weight(round: Round) -> int:
    """A ``weights.change`` so large that one change more never pays (lexicographic).

    It exceeds the widest possible swing of every other term of §4 over all allocations:
    per (pharmacist, period, stream) the spread of its candidates' scores, the unassigned
    penalty of every available slot, the shortfall of every min_fill seat and the largest
    fairness bonus. With it the solver first moves as few (pharmacist, period, stream)
    slots as it can, and only then maximises the rest of the objective.
    """
    # lazy: numpy and the scoring load only when a weight is computed
    import numpy as np

    from matcher.eligibility import candidates
    from matcher.scoring import scores

    cand = candidates(round)
    w = round.weights
    n_t, n_s = len(round.periods), len(round.effective_streams)
    slots = len(round.pharmacists) * n_t * n_s
    swing = 0
    if len(cand):
        total = np.asarray(scores(round, cand).total, dtype=np.int64)
        slot = (cand.pharmacist.astype(np.int64) * n_t + cand.period) * n_s + cand.stream
        hi = np.zeros(slots, dtype=np.int64)
        lo = np.zeros(slots, dtype=np.int64)
        np.maximum.at(hi, slot, total)
        np.minimum.at(lo, slot, total)
        swing += int((hi - lo).sum())
    available = sum(len(round.available_periods(ph)) for ph in round.pharmacists) * n_s
    swing += w.unassigned * available
    swing += w.shortfall * sum(pl.min_fill_in(t) for pl in round.placements
                               for t in round.period_ids)
    swing += w.fairness * round.rules.max_preferences * n_t * n_s
    return swing + 1


def replan_round(round: Round, reference: Result | Iterable[Any], *,
                 from_period: str | None = None, change_weight: int | None = None) -> Round:
    """The round to re-plan with: ``reference`` set, ``weights.change`` set, and the
    periods before ``from_period`` (already served) kept exactly as they were: every
    reference assignment in them pinned, every slot the reference left empty in them kept
    empty (bans from that stream's placements in that period), and a pharmacist with no
    reference assignment at all (someone who joined since) unavailable in them.

    ``reference`` is an earlier result of this round (or a variant of it), or its
    assignments. Reference entries whose pharmacist or placement is no longer in the round
    are dropped. ``change_weight`` ``None`` means :func:`minimal_change_weight`: as few
    changed (pharmacist, period, stream) slots as possible. Raises
    :class:`InvalidRoundError` if a kept assignment is no longer allowed (for example its
    placement closed from an earlier period).
    """
    # lazy: matcher.result and matcher.validation load numpy; only re-planning needs them
    from matcher.allocation import as_assignments
    from matcher.result import Result
    from matcher.validation import with_changes

    items = as_assignments(reference.assignments if isinstance(reference, Result)
                           else reference)
    known = [a for a in items if a.pharmacist in round.pharmacist_index
             and a.placement in round.placement_index and a.period in round.period_index]
    if len(known) < len(items):
        log.info("replan: %d reference assignments name ids no longer in the round",
                 len(items) - len(known))
    ref = [{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
           for a in known]
    pins = [p.model_dump(mode="json") for p in round.pins]
    if from_period is not None:
        if from_period not in round.period_index:
            raise InvalidRoundError([Problem(
                f"unknown period id {from_period!r}; the periods are: "
                + ", ".join(round.period_ids), field="from_period",
                code="unknown_reference")])
        start = round.period_index[from_period]
        pins += [r for r in ref if round.period_index[r["period"]] < start and r not in pins]
        served: Sequence[str] = round.period_ids[:start]
    else:
        served = ()
    # The swing of the other terms does not depend on pins or the reference.
    weight = minimal_change_weight(round) if change_weight is None else change_weight
    changes: dict[str, Any] = {"reference": ref, "pins": pins,
                               "weights": {**round.weights.model_dump(), "change": weight}}
    bans, joined = _served_gaps(round, known, served)
    if bans:
        changes["bans"] = [b.model_dump(mode="json") for b in round.bans] + bans
    if joined:
        changes["pharmacists"] = [
            ph.model_dump(mode="json") | (
                {"unavailable": [t for t in round.period_ids
                                 if t in ph.unavailable or t in joined[ph.id]]}
                if ph.id in joined else {})
            for ph in round.pharmacists]
    return with_changes(round, **changes)


def _served_gaps(round: Round, known: list[Any], served: Sequence[str]
                 ) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    """What keeps the served periods' empty slots empty: bans of each pharmacist from the
    placements of a stream in a served period where the reference left that slot empty,
    and the served periods of pharmacists the reference never placed (who joined since),
    in which they become unavailable."""
    if not served:
        return [], {}
    streams = {pl.id: round.stream_of(pl).id for pl in round.placements}
    held = {(a.pharmacist, a.period, streams[a.placement]) for a in known}
    placed = {a.pharmacist for a in known}
    banned = {(b.pharmacist, b.placement, b.period) for b in round.bans}
    bans: list[dict[str, str]] = []
    joined: dict[str, list[str]] = {}
    for ph in round.pharmacists:
        periods = [t for t in served if t not in ph.unavailable]
        if ph.id not in placed:
            if periods:
                joined[ph.id] = periods
            continue
        for t in periods:
            for pl in round.placements:
                if ((ph.id, t, streams[pl.id]) not in held and pl.capacity_in(t) > 0
                        and not {(ph.id, pl.id, t), (ph.id, pl.id, None)} & banned):
                    bans.append({"pharmacist": ph.id, "placement": pl.id, "period": t})
    return bans, joined


def replan(round: Round, reference: Result, *, from_period: str | None = None,
           change_weight: int | None = None, params: SolveParams | None = None) -> Result:
    """Re-plan ``round`` after a change, moving as little of ``reference`` as possible.

    Solves :func:`replan_round` (periods before ``from_period`` kept, ``reference`` and
    ``weights.change`` set), warm-started from ``reference`` (``params.hint``, unless one is
    given). The result's ``kpis["changes"]`` is §4's C: the (pharmacist, period, stream)
    slots that differ from the reference; :func:`~matcher.whatif.diffing.diff` of the
    two results lists them.

    Example: a placement closes after period 1; re-plan periods 2 and 3::

        changed = with_changes(base, ...)  # or Scenario(...).apply() with close_placement
        new = replan(changed, old_result, from_period="R2")
        print(diff(old_result, new).to_text())
    """
    # lazy: OR-Tools loads on the first solve, not when the what-if overrides are imported
    from matcher.solving import SolveParams, solve

    params = params or SolveParams()
    if params.hint is None:
        params = dataclasses.replace(params, hint=reference)
    planned = replan_round(round, reference, from_period=from_period,
                           change_weight=change_weight)
    return solve(planned, params)

