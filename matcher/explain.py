"""Why each pharmacist got what they got, and why seats were left empty.

:func:`explain` takes a round and a solved :class:`matcher.result.Result` and answers the
questions planners are asked:

- **what each assignment is worth**: its score and the §4 terms (:func:`matcher.check.terms`);
- **what rank each pharmacist got** in each period and stream (a preference rank, or
  ``unranked``), and for every placement they ranked higher **why they did not get it**:
  not eligible (the §2 rule, from :func:`matcher.eligibility.ineligibility_reasons`), already
  held by them in another period of a rotating stream, pinned elsewhere, full (and held by
  whom), or what it would cost the round, measured by re-solving the round with that
  assignment pinned (warm-started from the result). A pinned round that is infeasible is
  explained with :func:`matcher.diagnose.diagnose`. A cost is exact when the re-solve is
  proven optimal and the result was optimal; otherwise it is an "at least" bound (or not
  measured when the budget ran out);
- **why hard-to-recruit seats stay empty and min_fill falls short**: nobody eligible (and
  why, by rule), the organisation or supervision limit is reached, or every eligible
  pharmacist is placed somewhere worth more, with the cost of moving the best one in.

Costs are in objective points (the unit of the round's objective: weights times points).
Re-solves are bounded by ``max_resolves`` and ``time_limit_s`` and reused when the same
(pharmacist, placement, period) is asked about twice. Messages name ids, rules and numbers
only, never names or home locations.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from matcher import check
from matcher.allocation import Assignment
from matcher.diagnose import diagnose
from matcher.domain import IMPLICIT_STREAM_ID, Pin, Round
from matcher.eligibility import candidates, ineligibility_reasons
from matcher.errors import InvalidRoundError
from matcher.result import Result
from matcher.wording import MAX_LISTED, and_ids, and_list, count

__all__ = [
    "VERDICTS",
    "Alternative",
    "AssignmentTerms",
    "Explanation",
    "PharmacistExplanation",
    "PlacementGap",
    "SlotExplanation",
    "explain",
]

log = logging.getLogger(__name__)

VERDICTS: dict[str, str] = {
    "not_eligible": "the pharmacist may not hold it in that period (spec §2)",
    "held_in_other_period": "they hold it in another period and the stream rotates",
    "pinned_elsewhere": "a pin puts them in another placement of that stream",
    "costs": "giving it to them lowers the round's objective (re-solve with it pinned): "
    "exactly, at least or at most by the stated points",
    "tie": "an equally good allocation gives it to them",
    "better": "re-solving with it pinned found a better allocation (the result was not "
    "proven optimal)",
    "breaks_rules": "no allocation gives it to them without breaking a hard rule",
    "not_measured": "eligible, but the re-solve budget ran out before it was measured",
}
"""Every ``Alternative.verdict`` with what it means."""

_RESOLVE_FLOOR_S = 0.5  # least time given to one re-solve while the budget lasts
_DIAGNOSE_S = 2.0  # most time spent explaining one infeasible pinned round


# ---- the explanation -----------------------------------------------------------------------


@dataclass(frozen=True)
class AssignmentTerms:
    """One assignment with its score, the §4 terms and the preference rank it meets."""

    pharmacist: str
    period: str
    stream: str
    placement: str
    score: int
    terms: dict[str, int]
    rank: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``rank`` is ``"unranked"`` when not a preference)."""
        return {"pharmacist": self.pharmacist, "period": self.period, "stream": self.stream,
                "placement": self.placement, "score": self.score, "terms": dict(self.terms),
                "rank": "unranked" if self.rank is None else self.rank}


@dataclass(frozen=True)
class Alternative:
    """A placement the pharmacist ranked above what they got, and why they did not get it.

    ``verdict`` is one of :data:`VERDICTS`. ``rules`` names the rules behind it (§2
    conditions for ``not_eligible``, §3 rules for ``breaks_rules``). ``full`` and
    ``holders`` say whether every seat was taken in the result and by whom. ``cost`` is
    the objective points the round loses by giving it to them: exact when ``cost_exact``,
    otherwise a lower bound (``None`` when no lower bound is known). ``cost_at_most`` is an
    upper bound from the best allocation the re-solve found with it pinned (``None`` if
    none).
    """

    placement: str
    rank: int
    verdict: str
    message: str
    rules: tuple[str, ...] = ()
    full: bool = False
    holders: tuple[str, ...] = ()
    cost: int | None = None
    cost_exact: bool = False
    cost_at_most: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"placement": self.placement, "rank": self.rank, "verdict": self.verdict,
                "message": self.message, "rules": list(self.rules), "full": self.full,
                "holders": list(self.holders), "cost": self.cost,
                "cost_exact": self.cost_exact, "cost_at_most": self.cost_at_most}


@dataclass(frozen=True)
class SlotExplanation:
    """What a pharmacist got in one period and stream, its rank, and the better-ranked
    placements they did not get (best first)."""

    pharmacist: str
    period: str
    stream: str
    placement: str | None
    rank: int | None
    alternatives: tuple[Alternative, ...] = ()

    @property
    def rank_label(self) -> int | str:
        """The rank, ``"unranked"`` (a placement they did not rank) or ``"unassigned"``."""
        if self.placement is None:
            return "unassigned"
        return "unranked" if self.rank is None else self.rank

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"period": self.period, "stream": self.stream, "placement": self.placement,
                "rank": self.rank_label,
                "alternatives": [a.to_dict() for a in self.alternatives]}


@dataclass(frozen=True)
class PharmacistExplanation:
    """Every period and stream of one pharmacist (periods they are available in)."""

    pharmacist: str
    slots: tuple[SlotExplanation, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"pharmacist": self.pharmacist, "slots": [s.to_dict() for s in self.slots]}


@dataclass(frozen=True)
class PlacementGap:
    """A hard-to-recruit placement with empty seats, or one below its min_fill, in a period.

    ``reason`` is ``nobody_eligible``, ``min_fill_above_capacity``, ``organisation_cap``,
    ``supervision`` or ``placed_elsewhere``. ``eligible`` lists the pharmacists eligible for
    it who do not hold it; ``moved`` is the one whose move in was measured, with ``cost``
    (exact when ``cost_exact``, otherwise a lower bound).
    """

    placement: str
    period: str
    capacity: int
    min_fill: int
    hard_to_recruit: int
    holders: tuple[str, ...]
    reason: str
    message: str
    eligible: tuple[str, ...] = ()
    moved: str | None = None
    cost: int | None = None
    cost_exact: bool = False

    @property
    def empty_seats(self) -> int:
        """Seats left empty."""
        return max(0, self.capacity - len(self.holders))

    @property
    def shortfall(self) -> int:
        """Seats below min_fill."""
        return max(0, self.min_fill - len(self.holders))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"placement": self.placement, "period": self.period,
                "capacity": self.capacity, "min_fill": self.min_fill,
                "hard_to_recruit": self.hard_to_recruit, "holders": list(self.holders),
                "empty_seats": self.empty_seats, "shortfall": self.shortfall,
                "reason": self.reason, "message": self.message,
                "eligible": list(self.eligible), "moved": self.moved, "cost": self.cost,
                "cost_exact": self.cost_exact}


@dataclass(frozen=True)
class Explanation:
    """Why the result is what it is (see the module docstring). JSON-ready via
    :meth:`to_dict`; :meth:`to_text` for the command line."""

    round: str
    status: str
    objective: int | None
    optimal: bool
    assignments: tuple[AssignmentTerms, ...] = ()
    pharmacists: tuple[PharmacistExplanation, ...] = ()
    placements: tuple[PlacementGap, ...] = ()
    diagnosis: tuple[dict[str, Any], ...] = ()
    resolves: int = 0
    notes: tuple[str, ...] = field(default=())

    def slot(self, pharmacist: str, period: str, stream: str | None = None
             ) -> SlotExplanation:
        """The explanation of one pharmacist's period (and stream); KeyError if absent."""
        for ph in self.pharmacists:
            if ph.pharmacist != pharmacist:
                continue
            for s in ph.slots:
                if s.period == period and (stream is None or s.stream == stream):
                    return s
        raise KeyError((pharmacist, period, stream))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "round": self.round, "status": self.status, "objective": self.objective,
            "optimal": self.optimal,
            "assignments": [a.to_dict() for a in self.assignments],
            "pharmacists": [p.to_dict() for p in self.pharmacists],
            "placements": [g.to_dict() for g in self.placements],
            "diagnosis": [dict(d) for d in self.diagnosis],
            "resolves": self.resolves, "notes": list(self.notes),
        }

    def to_text(self) -> str:
        """A readable report, one pharmacist and one placement gap after another."""
        head = f"Round {self.round}: {self.status}"
        if self.objective is not None:
            head += f", objective {self.objective}"
        lines = [head]
        lines += [f"Note: {n}" for n in self.notes]
        for d in self.diagnosis:
            lines.append(f"  - {d.get('message', d)}")
        by_slot = {(a.pharmacist, a.period, a.stream): a for a in self.assignments}
        for ph in self.pharmacists:
            lines.append("")
            lines.append(ph.pharmacist)
            for s in ph.slots:
                where = (s.period if s.stream == IMPLICIT_STREAM_ID
                         else f"{s.period} {s.stream}")
                if s.placement is None:
                    lines.append(f"  {where}: unassigned")
                else:
                    a = by_slot.get((ph.pharmacist, s.period, s.stream))
                    rank = ("unranked" if s.rank is None else f"preference {s.rank}")
                    score = ""
                    if a is not None:
                        parts = ", ".join(f"{k} {v}" for k, v in a.terms.items() if v)
                        score = f", score {a.score}" + (f" ({parts})" if parts else "")
                    lines.append(f"  {where}: {s.placement} ({rank}){score}")
                for alt in s.alternatives:
                    lines.append(f"    preference {alt.rank} {alt.placement}: {alt.message}")
        if self.placements:
            lines.append("")
            lines.append("Placements left short")
            for g in self.placements:
                lines.append(f"  {g.placement} in {g.period}: {g.message}")
        if self.resolves:
            lines.append("")
            lines.append(f"({self.resolves} re-solve(s) measured the costs above)")
        return "\n".join(lines)


# ---- re-solving with one more pin ------------------------------------------------------------


@dataclass(frozen=True)
class _Measured:
    """What a re-solve with (pharmacist, placement, period) pinned said."""

    status: str  # optimal | feasible | unknown | infeasible | invalid
    cost: int | None = None  # exact cost against the result (an optimal re-solve)
    at_least: int | None = None  # lower bound on the cost
    at_most: int | None = None  # upper bound on the cost (a solution was found)
    findings: tuple[dict[str, Any], ...] = ()  # diagnosis entries (Finding.to_dict())
    problems: tuple[str, ...] = ()


class _Resolver:
    """Re-solves the round with one extra pin, within a count and a time budget."""

    def __init__(self, rnd: Round, result: Result, base: int, max_resolves: int,
                 deadline: float, workers: int, seed: int) -> None:
        self.round = rnd
        self.result = result
        self.base = base
        self.left = max_resolves
        self.deadline = deadline
        self.workers = workers
        self.seed = seed
        self.cache: dict[tuple[str, str, str], _Measured] = {}
        self.count = 0
        # A re-solve needs about as long as the solve that made the result (warm start or
        # not): fewer re-solves that finish beat many that all stop unproven.
        took = sum(float(result.stats.get(k, 0.0) or 0.0)
                   for k in ("solve_seconds", "build_seconds"))
        self.floor = max(_RESOLVE_FLOOR_S, 1.5 * took)

    def measure_all(self, wanted: Sequence[tuple[str, str, str]]) -> None:
        """Measure the triples in order while the budget lasts."""
        todo = [w for w in dict.fromkeys(wanted) if w not in self.cache]
        for n, triple in enumerate(todo):
            remaining = self.deadline - time.monotonic()
            if self.left <= 0 or remaining <= 0.05:
                break
            pending = min(len(todo) - n, self.left)
            share = min(remaining, max(remaining / pending, self.floor))
            self.cache[triple] = self._measure(*triple, time_limit_s=share)
            self.left -= 1
            self.count += 1

    def get(self, p: str, l_id: str, t: str) -> _Measured | None:
        """The measurement of a triple, if it was made."""
        return self.cache.get((p, l_id, t))

    def _measure(self, p: str, l_id: str, t: str, *, time_limit_s: float) -> _Measured:
        # Imported on use: only measuring a cost needs the solver.
        from matcher.solve import SolveParams, solve

        pins = [pin.model_dump() for pin in self.round.pins]
        try:
            pinned = self.round.replace(
                pins=[*pins, {"pharmacist": p, "period": t, "placement": l_id}])
        except InvalidRoundError as exc:
            return _Measured("invalid", problems=tuple(pr.message for pr in exc.problems))
        res = solve(pinned, SolveParams(time_limit_s=time_limit_s, workers=self.workers,
                                        seed=self.seed, hint=self.result))
        if res.status == "infeasible":
            found = _as_dicts(res.diagnosis)  # solve's own diagnosis, when it gives one
            if not found:
                budget = min(_DIAGNOSE_S, max(0.2, self.deadline - time.monotonic()))
                found = [f.to_dict() for f in diagnose(pinned, time_limit_s=budget)]
            return _Measured("infeasible", findings=tuple(found))
        at_least = None if res.bound is None else self.base - res.bound
        at_most = None if res.objective is None else self.base - res.objective
        if res.status == "optimal" and res.objective is not None:
            cost = self.base - res.objective  # exact, relative to the result explained
            return _Measured("optimal", cost=cost, at_least=cost, at_most=cost)
        return _Measured(res.status, at_least=at_least, at_most=at_most)


# ---- the entry point -----------------------------------------------------------------------


def explain(
    round: Round,
    result: Result,
    *,
    max_resolves: int = 50,
    time_limit_s: float = 30.0,
    pharmacists: Iterable[str] | None = None,
    workers: int = 1,
    seed: int = 0,
) -> Explanation:
    """Explain the result of the round (see the module docstring).

    ``max_resolves`` and ``time_limit_s`` bound the re-solves that measure costs (the
    first better-ranked eligible alternative of every slot is measured first, then the
    placement gaps, then the other alternatives). ``pharmacists`` limits the per-pharmacist
    part to those ids (all by default). Raises ``ValueError`` when the result's allocation
    breaks the round's hard rules (a result of another round).
    """
    start = time.monotonic()
    if not result.has_solution:
        return Explanation(
            round=round.round.id, status=result.status, objective=result.objective,
            optimal=False, diagnosis=tuple(_as_dicts(result.diagnosis)),
            notes=(f"the result is {result.status}: there is no allocation to explain",))
    allocation = result.allocation
    broken = check.violations(round, allocation)
    if broken:
        shown = "; ".join(str(v) for v in broken[:5])
        raise ValueError(f"the result does not fit this round: {len(broken)} hard rule(s) "
                         f"broken ({shown})")
    base = check.objective(round, allocation).total
    notes: list[str] = []
    if result.objective is not None and result.objective != base:
        notes.append(f"the result states objective {result.objective}; recomputed from its "
                     f"assignments it is {base}")
    optimal = result.status == "optimal"
    if not optimal:
        notes.append("the result is not proven optimal: costs are measured against it and "
                     "may be negative where a better allocation exists")
    ctx = _Explainer(round, allocation)
    wanted_ids = set(pharmacists) if pharmacists is not None else None
    drafts = ctx.slot_drafts(wanted_ids)
    gaps = ctx.gap_drafts()
    resolver = _Resolver(round, result, base, max(0, max_resolves),
                         start + max(0.0, time_limit_s), workers, seed)
    first = [d.measure[0] for d in drafts if d.measure]
    rest = [m for d in drafts for m in d.measure[1:]]
    resolver.measure_all([*first, *(g.measure for g in gaps if g.measure), *rest])
    explanation = Explanation(
        round=round.round.id, status=result.status, objective=base, optimal=optimal,
        assignments=ctx.assignment_terms(),
        pharmacists=ctx.finish_slots(drafts, resolver),
        placements=tuple(ctx.finish_gap(g, resolver) for g in gaps),
        resolves=resolver.count, notes=tuple(notes))
    log.info("explained round %s: %d slots, %d gaps, %d re-solves in %.2f s", round.round.id,
             sum(len(p.slots) for p in explanation.pharmacists), len(explanation.placements),
             resolver.count, time.monotonic() - start)
    return explanation


def _as_dicts(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [d.to_dict() if hasattr(d, "to_dict") else dict(d) for d in items]


# ---- drafting: static reasons, and what to measure -----------------------------------------


@dataclass
class _AltDraft:
    placement: str
    rank: int
    verdict: str | None  # set when no re-solve is needed
    message: str
    rules: tuple[str, ...] = ()
    full: bool = False
    holders: tuple[str, ...] = ()


@dataclass
class _SlotDraft:
    pharmacist: str
    period: str
    stream: str
    placement: str | None
    rank: int | None
    alternatives: list[_AltDraft]
    measure: list[tuple[str, str, str]]


@dataclass
class _GapDraft:
    placement: str
    period: str
    holders: tuple[str, ...]
    reason: str
    message: str
    eligible: tuple[str, ...] = ()
    measure: tuple[str, str, str] | None = None


class _Explainer:
    """The round and the result's allocation, indexed for explaining."""

    def __init__(self, rnd: Round, allocation: Sequence[Assignment]) -> None:
        self.round = rnd
        self.allocation = allocation
        self.stream_of = {pl.id: rnd.stream_of(pl) for pl in rnd.placements}
        self.held: dict[tuple[str, str, str], str] = {}
        self.holders: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.by_pharmacist: dict[str, list[Assignment]] = defaultdict(list)
        for a in allocation:
            self.held[a.pharmacist, a.period, self.stream_of[a.placement].id] = a.placement
            self.holders[a.placement, a.period].append(a.pharmacist)
            self.by_pharmacist[a.pharmacist].append(a)
        self.rank = {ph.id: ph.preference_rank for ph in rnd.pharmacists}
        cand = candidates(rnd)
        # (placement, period) -> eligible pharmacists, and every eligible triple.
        self.eligible: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.triples: set[tuple[str, str, str]] = set()
        for i, j, t in zip(cand.pharmacist.tolist(), cand.placement.tolist(),
                           cand.period.tolist(), strict=True):
            p, l_id, t_id = rnd.pharmacists[i].id, rnd.placements[j].id, rnd.period_ids[t]
            self.eligible[l_id, t_id].append(p)
            self.triples.add((p, l_id, t_id))
        self.pins_of: dict[str, list[Pin]] = defaultdict(list)
        for pin in rnd.pins:
            self.pins_of[pin.pharmacist].append(pin)

    # assignments -----------------------------------------------------------------------------

    def assignment_terms(self) -> tuple[AssignmentTerms, ...]:
        """Every assignment with its terms and rank, in pharmacist and period order."""
        rnd = self.round
        ordered = sorted(self.allocation, key=lambda a: (
            rnd.pharmacist_index[a.pharmacist], rnd.period_index[a.period],
            self.stream_of[a.placement].id))
        out = []
        for a in ordered:
            terms = check.terms(rnd, a)
            out.append(AssignmentTerms(a.pharmacist, a.period, self.stream_of[a.placement].id,
                                       a.placement, sum(terms.values()), terms,
                                       self.rank[a.pharmacist].get(a.placement)))
        return tuple(out)

    # slots -----------------------------------------------------------------------------------

    def slot_drafts(self, wanted: set[str] | None) -> list[_SlotDraft]:
        """Every available (pharmacist, period, stream) with its better-ranked placements."""
        rnd = self.round
        out = []
        for ph in rnd.pharmacists:
            if wanted is not None and ph.id not in wanted:
                continue
            for t in rnd.available_periods(ph):
                for s in rnd.effective_streams:
                    got = self.held.get((ph.id, t, s.id))
                    rank = self.rank[ph.id].get(got) if got is not None else None
                    better = [(l_id, r) for l_id, r in self.rank[ph.id].items()
                              if self.stream_of[l_id].id == s.id
                              and (got is None or rank is None or r < rank)]
                    better.sort(key=lambda x: x[1])
                    alts = [self._alternative(ph.id, t, s.id, l_id, r) for l_id, r in better]
                    measure = [(ph.id, a.placement, t) for a in alts if a.verdict is None]
                    out.append(_SlotDraft(ph.id, t, s.id, got, rank, alts, measure))
        return out

    def _alternative(self, p: str, t: str, s: str, l_id: str, rank: int) -> _AltDraft:
        rnd = self.round
        reasons = [] if (p, l_id, t) in self.triples else ineligibility_reasons(rnd, p, l_id, t)
        if reasons:
            return _AltDraft(l_id, rank, "not_eligible",
                             "not eligible: " + "; ".join(r.message for r in reasons),
                             rules=tuple(dict.fromkeys(r.rule for r in reasons)))
        stream = self.stream_of[l_id]
        if stream.rotate:
            other = [a.period for a in self.by_pharmacist[p]
                     if a.placement == l_id and a.period != t]
            if other:
                why = (f"the {s} stream rotates" if rnd.streams
                       else "placements rotate")
                return _AltDraft(l_id, rank, "held_in_other_period",
                                 f"{p} holds {l_id} in {and_list(other)}, and {why}: nobody holds "
                                 "the same placement twice", rules=("rotation",))
        pinned = [pin for pin in self.pins_of.get(p, ())
                  if self.stream_of[pin.placement].id == s and pin.placement != l_id
                  and (pin.period == t or not stream.rotate)]
        if pinned:
            pin = pinned[0]
            extra = "" if pin.period == t else (
                f", and the {s} stream does not rotate (one placement throughout)")
            return _AltDraft(l_id, rank, "pinned_elsewhere",
                             f"{p} is pinned to {pin.placement} in {pin.period}{extra}",
                             rules=("pin",) if pin.period == t else ("pin", "continuity"))
        holders = tuple(self.holders.get((l_id, t), ()))
        full = len(holders) >= rnd.capacity(l_id, t)
        prefix = f"full (held by {and_ids(holders)}); " if full else ""
        return _AltDraft(l_id, rank, None, prefix, full=full, holders=holders)

    def finish_slots(self, drafts: Sequence[_SlotDraft], resolver: _Resolver
                     ) -> tuple[PharmacistExplanation, ...]:
        """The slot drafts with their measured alternatives, grouped by pharmacist."""
        by_ph: dict[str, list[SlotExplanation]] = defaultdict(list)
        for d in drafts:
            alts = tuple(self._finish_alt(d, a, resolver) for a in d.alternatives)
            by_ph[d.pharmacist].append(SlotExplanation(d.pharmacist, d.period, d.stream,
                                                       d.placement, d.rank, alts))
        return tuple(PharmacistExplanation(p, tuple(slots)) for p, slots in by_ph.items())

    def _finish_alt(self, d: _SlotDraft, a: _AltDraft, resolver: _Resolver) -> Alternative:
        if a.verdict is not None:
            return Alternative(a.placement, a.rank, a.verdict, a.message, a.rules, a.full,
                               a.holders)
        m = resolver.get(d.pharmacist, a.placement, d.period)
        what = f"giving {d.pharmacist} {a.placement} in {d.period}"
        verdict, text, rules, cost, exact = _verdict(m, what)
        return Alternative(a.placement, a.rank, verdict, a.message + text, rules, a.full,
                           a.holders, cost, exact, None if m is None else m.at_most)

    # placement gaps --------------------------------------------------------------------------

    def gap_drafts(self) -> list[_GapDraft]:
        """Hard-to-recruit placements with empty seats and placements below min_fill."""
        rnd = self.round
        out = []
        for pl in rnd.placements:
            for t in rnd.period_ids:
                cap = pl.capacity_in(t)
                holders = tuple(self.holders.get((pl.id, t), ()))
                empty = pl.hard_to_recruit >= 1 and cap > len(holders)
                short = pl.min_fill_in(t) > len(holders)
                if cap < 1 or not (empty or short):
                    continue
                out.append(self._gap(pl.id, t, holders))
        return out

    def _gap(self, l_id: str, t: str, holders: tuple[str, ...]) -> _GapDraft:
        rnd = self.round
        pl = rnd.placement(l_id)
        cap = pl.capacity_in(t)
        if len(holders) >= cap:  # full, yet below min_fill
            return _GapDraft(l_id, t, holders, "min_fill_above_capacity",
                             f"min_fill {pl.min_fill_in(t)} is above its capacity {cap} in "
                             f"{t}; the shortfall cannot be avoided")
        eligible = [p for p in self.eligible.get((l_id, t), []) if p not in holders]
        if not eligible:
            nobody = "nobody else" if holders else "nobody"
            return _GapDraft(l_id, t, holders, "nobody_eligible",
                             f"{nobody} is eligible for {l_id} in {t} "
                             f"({self._why_nobody(l_id, t, holders)})")
        open_, limits = self._limits(l_id, t, eligible)
        if not open_:
            return _GapDraft(l_id, t, holders, limits[0][0], limits[0][1],
                             eligible=tuple(eligible))
        placed = []
        best: tuple[int, str] | None = None
        stream = self.stream_of[l_id].id
        w = rnd.weights
        for p in open_:
            here = check.score(rnd, Assignment(p, t, l_id))
            cur = self.held.get((p, t, stream))
            if cur is None:
                placed.append(f"{p} unassigned (score here {here})")
                delta = here + w.unassigned
            else:
                there = check.score(rnd, Assignment(p, t, cur))
                placed.append(f"{p} at {cur} (score {there} there, {here} here)")
                delta = here - there
            if best is None or delta > best[0]:
                best = (delta, p)
        assert best is not None
        shown = "; ".join(placed[:MAX_LISTED])
        if len(placed) > MAX_LISTED:
            shown += f"; and {len(placed) - MAX_LISTED} more"
        n = len(open_)
        message = (f"{'the only' if n == 1 else f'all {n}'} eligible "
                   f"{'pharmacist is' if n == 1 else 'pharmacists are'} placed elsewhere in "
                   f"{t}: {shown}")
        if limits:
            message += "; " + "; ".join(text for _, text in limits)
        return _GapDraft(l_id, t, holders, "placed_elsewhere", message,
                         eligible=tuple(eligible), measure=(best[1], l_id, t))

    def _why_nobody(self, l_id: str, t: str, holders: Sequence[str]) -> str:
        """'travel: 3 pharmacists; skills: 2 pharmacists', over everyone not holding it."""
        rnd = self.round
        counts: Counter[str] = Counter()
        for ph in rnd.pharmacists:
            if ph.id in holders:
                continue
            for r in ineligibility_reasons(rnd, ph.id, l_id, t):
                counts[r.rule] += 1
        if not counts:
            return "no pharmacist in the round"
        return "; ".join(f"{rule}: {count(n, 'pharmacist')}" for rule, n in counts.most_common())

    def _limits(self, l_id: str, t: str, eligible: Sequence[str]
                ) -> tuple[list[str], list[tuple[str, str]]]:
        """Eligible pharmacists not blocked by a full organisation or supervisor, and the
        (reason, text) of each limit that blocks some."""
        rnd = self.round
        pl = rnd.placement(l_id)
        blocked: set[str] = set()
        limits: list[tuple[str, str]] = []
        org = (rnd.organisations[rnd.organisation_index[pl.organisation]]
               if pl.organisation is not None else None)
        if org is not None and org.max_pharmacists is not None:
            own = [x.id for x in rnd.placements if x.organisation == org.id]
            hosted = list(dict.fromkeys(p for x in own for p in self.holders.get((x, t), ())))
            if len(hosted) >= org.max_pharmacists:
                newly = [p for p in eligible if p not in hosted]
                blocked.update(newly)
                if newly:
                    limits.append(("organisation_cap",
                                   f"organisation {org.id} already hosts its maximum of "
                                   f"{count(org.max_pharmacists, 'pharmacist')} in {t}"
                                   + (f" ({and_ids(hosted)})" if hosted else "")))
        for sup in rnd.supervisors:
            if l_id not in sup.placements:
                continue
            counted = [p for p in dict.fromkeys(
                p for x in sup.placements for p in self.holders.get((x, t), ()))
                if sup.counts(rnd.pharmacist(p))]
            if len(counted) < sup.capacity:
                continue
            newly = [p for p in eligible if p not in counted
                     and sup.counts(rnd.pharmacist(p)) and p not in blocked]
            if newly:
                blocked.update(newly)
                limits.append(("supervision",
                               f"supervisor {sup.id} already supervises its maximum of "
                               f"{sup.capacity} in {t}"
                               + (f" ({and_ids(counted)})" if counted else "")
                               + f", so {and_ids(newly)} cannot join"))
        return [p for p in eligible if p not in blocked], limits

    def finish_gap(self, g: _GapDraft, resolver: _Resolver) -> PlacementGap:
        """The gap draft with the cost of moving the best eligible pharmacist in."""
        pl = self.round.placement(g.placement)
        message, cost, exact, moved = g.message, None, False, None
        if g.measure is not None:
            moved = g.measure[0]
            m = resolver.get(*g.measure)
            what = f"moving {moved} into {g.placement} in {g.period}"
            _, text, _, cost, exact = _verdict(m, what)
            message += f"; {what}: {text}"
        return PlacementGap(g.placement, g.period, pl.capacity_in(g.period),
                            pl.min_fill_in(g.period), pl.hard_to_recruit, g.holders, g.reason,
                            message, g.eligible, moved, cost, exact)


# ---- wording -------------------------------------------------------------------------------


def _verdict(m: _Measured | None, what: str
             ) -> tuple[str, str, tuple[str, ...], int | None, bool]:
    """(verdict, text, rules, cost, cost_exact) of a measurement."""
    if m is None:
        return "not_measured", "not measured (the re-solve budget ran out)", (), None, False
    if m.status == "invalid":
        return ("breaks_rules", f"{what} is not allowed: " + "; ".join(m.problems),
                ("pin",), None, False)
    if m.status == "infeasible":
        rules = tuple(dict.fromkeys(
            str(r) for f in m.findings for r in (f.get("rules") or [f.get("rule", "unknown")])))
        reasons = (" / ".join(str(f.get("message", "")) for f in m.findings[:3])
                   or "no reason found in time")
        return "breaks_rules", f"{what} breaks the hard rules: {reasons}", rules, None, False
    if m.cost is not None:
        if m.cost > 0:
            return "costs", f"it would cost the round {_points(m.cost)}", (), m.cost, True
        if m.cost == 0:
            return ("tie", f"an equally good allocation does this ({what} costs 0 points)",
                    (), 0, True)
        return ("better", f"re-solving with it found an allocation {_points(-m.cost)} "
                          "better (this result was not proven optimal)", (), m.cost, True)
    if m.at_most is not None and m.at_most < 0:
        return ("better", f"re-solving with it found an allocation {_points(-m.at_most)} "
                          "better (this result was not proven optimal)", (), m.at_most, False)
    if m.at_least is not None and m.at_least > 0:
        upto = f" and at most {_points(m.at_most)}" if m.at_most is not None else ""
        return ("costs", f"it would cost the round at least {_points(m.at_least)}{upto} (the "
                         "re-solve was not proven optimal in time)", (), m.at_least, False)
    if m.at_most == 0:
        return ("tie", f"an allocation as good as this one does this ({what} costs 0 points "
                       "as far as measured)", (), 0, False)
    if m.at_most is not None:
        return ("costs", f"it would cost the round at most {_points(m.at_most)} (the re-solve "
                         "found such an allocation but could not prove in time that none "
                         "costs less)", (), None, False)
    return ("not_measured", "not measured (the re-solve found no allocation in time)", (),
            None, False)


def _points(n: int) -> str:
    return count(n, "point")

