"""Why a round is infeasible: which hard rules and records conflict, in planners' words.

:func:`diagnose` is called when no allocation satisfies the hard rules of spec §3. It works
in two stages and returns a list of :class:`Finding`:

1. **Pre-checks**: small, fast, exact arguments about one pharmacist, one placement or one
   period at a time (each is a function below named after what it finds). Each one is a
   proof of infeasibility on its own: a pharmacist who cannot reach enough sectors, a
   required sector out of reach, a slot nobody may leave empty with no eligible placement,
   more pharmacists than seats, pins that overfill a placement, an organisation or a
   supervisor, pins that break continuity, rotation or the sector mix, and so on.
2. **Conflict core**: the hard rules as CP-SAT rows (:class:`ConflictModel`), every group
   of rows about one rule and one record (the capacity of GP-A in R2, the sector mix of
   PH-0007, one pin, the "nobody unassigned" rule of PH-0003 in R2's host stream) switched
   on by one literal. The groups are first checked together as hard rules (presolve proves
   most conflicts at once). A conflict is then localised to a few pharmacists (connected
   components of who could share what, then QuickXplain over pharmacists: leaving
   pharmacists out only loosens shared limits, so a conflict among the rest is a conflict
   of the round), and on the model of those pharmacists CP-SAT solves under assumptions
   and reports a set of groups that cannot hold together
   (``sufficient_assumptions_for_infeasibility``; QuickXplain over groups if that search
   stalls). Deletion-based minimisation then drops groups one at a time while the rest
   stays infeasible, so the conflict reported is minimal whenever the budget allows
   (``Finding.minimal``). Groups already explained by a pre-check are relaxed first, and
   after each conflict its groups are relaxed too, so one call can report several
   independent conflicts (once one reason is known, the search for more is kept short).

Every message names ids, rules and numbers, never names or home locations. The function
never raises: a failure inside is logged and reported as an ``unexplained`` finding. For a
round that is in fact feasible it returns an empty list.

Conventions (as :mod:`matcher.check`): organisation caps and supervision count distinct
pharmacists; eligibility (spec §2) is :func:`matcher.eligibility.candidates`, so ineligible
triples never appear as variables and the rules are stated over eligible triples only.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.graph.python import max_flow
from ortools.sat.python import cp_model

from matcher.domain import SECTORS, Pin, Round, Stream
from matcher.eligibility import Candidates, candidates, ineligibility_reasons
from matcher.wording import MAX_LISTED, and_ids, and_list, count

__all__ = ["KINDS", "ConflictModel", "Finding", "Group", "diagnose", "prechecks"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

KINDS: dict[str, str] = {
    "sectors_unreachable": "a pharmacist cannot reach enough distinct sectors",
    "sectors_do_not_fit": "enough sectors are reachable, but not in enough separate "
    "periods and streams",
    "required_sector_unreachable": "a pharmacist cannot reach a required sector",
    "required_sectors_do_not_fit": "the required sectors cannot all fit in the pharmacist's "
    "periods and streams",
    "pins_block_sectors": "a pharmacist's pins leave no room for the sector rules",
    "required_sector_seats": "pharmacists who still need a required sector outnumber the "
    "seats in that sector they can reach",
    "no_eligible_placement": "nobody may be unassigned, but a pharmacist has no eligible "
    "placement in a period and stream",
    "too_few_seats": "nobody may be unassigned, but a period and stream has fewer seats "
    "than available pharmacists",
    "seats_out_of_reach": "nobody may be unassigned, but some pharmacists can only reach "
    "fewer seats than they number",
    "rotation_exhausted": "nobody may be unassigned, but a pharmacist runs out of "
    "placements they have not held in a rotating stream",
    "continuity_impossible": "nobody may be unassigned, but no placement of a non-rotating "
    "stream is open to a pharmacist in every period",
    "pins_over_capacity": "pins overfill a placement",
    "pins_over_organisation_cap": "pins exceed an organisation's max_pharmacists",
    "pins_over_supervision": "pins exceed a supervisor's capacity",
    "pins_break_continuity": "pins put a pharmacist in different placements of a "
    "non-rotating stream",
    "pins_break_rotation": "pins put a pharmacist in the same rotating placement twice",
    "conflict": "a minimal set of rules and records that cannot all hold (CP-SAT core)",
    "unexplained": "no specific reason found within the time budget",
}
"""Every ``Finding.kind`` with what it means."""

# Order in which rules are named when several take part in one conflict: what is asked
# of a pharmacist first, the limits that stop it last.
_RULE_ORDER = (
    "pin",
    "allow_unassigned",
    "required_sectors",
    "sector_mix",
    "continuity",
    "rotation",
    "supervision",
    "organisation_cap",
    "capacity",
)
_MAX_CORES = 5  # independent conflicts looked for by one call
_ASSUME_S = 2.0  # longest search under assumptions before switching to hard checks
_SMALL = 12  # pharmacists below which a conflict is not localised further
_AFTER_PRECHECKS = 0.3  # share of the budget left to CP-SAT once pre-checks found reasons


# ---- public data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """One rule applied to one record: the unit a conflict is made of.

    ``rule`` is a §3 rule name (as in :data:`matcher.build.HARD_RULES`); the other fields
    say which record: ``capacity`` (placement, period), ``organisation_cap`` (organisation,
    period), ``supervision`` (supervisor, period), ``allow_unassigned`` (pharmacist, period,
    stream), ``rotation`` (pharmacist, placement), ``continuity`` (pharmacist, stream),
    ``sector_mix`` (pharmacist), ``required_sectors`` (pharmacist, sector), ``pin`` (pin:
    its position in ``round.pins``, with pharmacist, placement and period).
    """

    rule: str
    pharmacist: str | None = None
    placement: str | None = None
    period: str | None = None
    stream: str | None = None
    organisation: str | None = None
    supervisor: str | None = None
    sector: str | None = None
    pin: int | None = None

    def __str__(self) -> str:
        parts = [
            f"{k}={v}"
            for k, v in (
                ("pharmacist", self.pharmacist), ("placement", self.placement),
                ("period", self.period), ("stream", self.stream),
                ("organisation", self.organisation), ("supervisor", self.supervisor),
                ("sector", self.sector), ("pin", self.pin),
            )
            if v is not None
        ]
        return f"{self.rule}({', '.join(parts)})"


@dataclass(frozen=True)
class Finding:
    """One reason the round is infeasible.

    ``kind`` is one of :data:`KINDS`; ``rule`` the §3 rule at its heart and ``rules`` every
    rule involved; ``message`` says what conflicts in planners' words. The id lists name
    the records involved. ``minimal`` is set for CP-SAT conflicts: True when dropping any
    one of its parts was shown to remove the conflict, False when the time budget ran out
    first. ``groups`` are the model groups the finding accounts for (used to look for
    further conflicts, and by tests); they are not part of :meth:`to_dict`.
    """

    kind: str
    rule: str
    message: str
    pharmacists: tuple[str, ...] = ()
    placements: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    supervisors: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    minimal: bool | None = None
    groups: tuple[Group, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object a result's ``diagnosis`` lists."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "rule": self.rule,
            "rules": list(self.rules or (self.rule,)),
            "message": self.message,
            "pharmacists": list(self.pharmacists),
            "placements": list(self.placements),
            "periods": list(self.periods),
        }
        if self.organisations:
            out["organisations"] = list(self.organisations)
        if self.supervisors:
            out["supervisors"] = list(self.supervisors)
        if self.minimal is not None:
            out["minimal"] = self.minimal
        return out


def _finding(
    kind: str,
    rule: str,
    message: str,
    *,
    pharmacists: Iterable[str] = (),
    placements: Iterable[str] = (),
    periods: Iterable[str] = (),
    organisations: Iterable[str] = (),
    supervisors: Iterable[str] = (),
    rules: Iterable[str] = (),
    groups: Iterable[Group] = (),
    minimal: bool | None = None,
) -> Finding:
    listed_rules = tuple(dict.fromkeys([rule, *rules]))
    return Finding(
        kind=kind, rule=rule, message=message,
        pharmacists=tuple(dict.fromkeys(pharmacists)),
        placements=tuple(dict.fromkeys(placements)),
        periods=tuple(dict.fromkeys(periods)),
        organisations=tuple(dict.fromkeys(organisations)),
        supervisors=tuple(dict.fromkeys(supervisors)),
        rules=listed_rules, minimal=minimal, groups=tuple(dict.fromkeys(groups)),
    )


# ---- the entry point -----------------------------------------------------------------------


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
    return _finding(
        "unexplained", "unknown",
        "No allocation meets every hard rule, but no specific conflict was found within the "
        f"{time_limit_s:g} s diagnosis budget; allow a longer diagnosis, or relax rules one "
        "at a time (allow_unassigned, the sector rules, pins) to find the one that binds.",
    )


def _diagnose(rnd: Round, start: float, time_limit_s: float) -> list[Finding] | None:
    """Findings, ``[]`` when feasible, ``None`` when no reason was found in time."""
    deadline = start + time_limit_s
    ctx = _Context(rnd, candidates(rnd))
    found = prechecks(rnd, ctx.cand)
    if found:  # already explained: look for further conflicts, but briefly
        deadline = _shorter(deadline, time_limit_s)
    if time.monotonic() >= deadline:
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
        found.append(_core_finding(ctx, model, core, minimal))
        active -= set(core)
        deadline = _shorter(deadline, time_limit_s)
    return found or None


def _shorter(deadline: float, time_limit_s: float) -> float:
    """The deadline for looking for further conflicts once one is explained."""
    return min(deadline, time.monotonic() + max(1.0, _AFTER_PRECHECKS * time_limit_s))


# ---- what every check needs, computed once ---------------------------------------------------


class _Context:
    """The round with its candidates, indexed for the checks."""

    def __init__(self, rnd: Round, cand: Candidates) -> None:
        self.round = rnd
        self.cand = cand
        self.streams: tuple[Stream, ...] = rnd.effective_streams
        self.declared = bool(rnd.streams)
        n_p = len(rnd.pharmacists)
        bounds = np.searchsorted(cand.pharmacist, np.arange(n_p + 1))
        self.bounds: list[int] = [int(b) for b in bounds]
        self.sector_of = np.array([SECTORS.index(pl.sector) for pl in rnd.placements],
                                  dtype=np.int64)
        self.available: list[tuple[str, ...]] = [rnd.available_periods(ph)
                                                 for ph in rnd.pharmacists]
        self.pins_of: dict[str, list[tuple[int, Pin]]] = defaultdict(list)
        for k, pin in enumerate(rnd.pins):
            self.pins_of[pin.pharmacist].append((k, pin))

    def rows(self, i: int) -> range:
        """Candidate positions of pharmacist ``i``."""
        return range(self.bounds[i], self.bounds[i + 1])

    def stream_of_id(self, placement_id: str) -> Stream:
        """The stream of a placement."""
        return self.round.stream_of(self.round.placement(placement_id))

    # wording -----------------------------------------------------------------------------

    def a_placement(self, stream: str) -> str:
        """'a host placement' when streams are declared, else 'a placement'."""
        return f"a {stream} placement" if self.declared else "a placement"

    def placement_word(self, stream: str) -> str:
        """'host placement' when streams are declared, else 'placement'."""
        return f"{stream} placement" if self.declared else "placement"

    def placements_word(self, stream: str) -> str:
        """'host placements' when streams are declared, else 'placements'."""
        return f"{stream} placements" if self.declared else "placements"

    def seats_phrase(self, stream: str, seats: int) -> str:
        """'the host stream has 11 seats' / 'there are 11 seats'."""
        if self.declared:
            return f"the {stream} stream has {count(seats, 'seat')}"
        return f"there {'is' if seats == 1 else 'are'} {count(seats, 'seat')}"

    def rotates(self, stream: str) -> str:
        """Why a placement may not be held twice."""
        if self.declared:
            return f"the {stream} stream rotates: nobody holds the same placement twice"
        return "placements rotate: nobody holds the same placement twice"


# ---- pre-checks ----------------------------------------------------------------------------


def prechecks(round: Round, cand: Candidates | None = None) -> list[Finding]:
    """Every fast, exact reason for infeasibility the pre-checks find (no CP-SAT search).

    Each finding proves on its own that the round is infeasible.
    """
    ctx = _Context(round, cand if cand is not None else candidates(round))
    checks: tuple[Callable[[_Context], list[Finding]], ...] = (
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


def pins_over_capacity(ctx: _Context) -> list[Finding]:
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
                       f"{_plural(len(holders), 'pin')} of {and_list(holders)}")
        if len(pins) > cap + 1:
            message += (f"; {len(pins)} pharmacists are pinned there in all "
                        f"({and_list([p.pharmacist for _, p in pins])})")
        out.append(_finding(
            "pins_over_capacity", "capacity", message,
            pharmacists=[p.pharmacist for _, p in pins], placements=[l_id], periods=[t],
            rules=["pin"],
            groups=[Group("capacity", placement=l_id, period=t),
                    *(_pin_group(k, p) for k, p in pins)]))
    return out


def _pin_group(k: int, pin: Pin) -> Group:
    return Group("pin", pharmacist=pin.pharmacist, placement=pin.placement, period=pin.period,
                 pin=k)


def _pins_over_limit(
    ctx: _Context, kind: str, group: Group, covered: Sequence[str],
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
                    f"{_plural(len(first), 'pin')} of {who}")
        message = f"{last} is pinned to {last_pin.placement} in {t}, but {owner} {tail}"
        if len(pharmacists) > limit + 1:
            message += f"; {len(pharmacists)} are pinned to its placements in all"
        groups = [Group(group.rule, organisation=group.organisation,
                        supervisor=group.supervisor, period=t)]
        groups += [_pin_group(k, pin) for p in pharmacists for k, pin in by_ph[p]]
        out.append(_finding(
            kind, group.rule, message, pharmacists=pharmacists,
            placements=[pin.placement for p in pharmacists for _, pin in by_ph[p]],
            periods=[t], rules=["pin"], groups=groups,
            organisations=[group.organisation] if group.organisation else (),
            supervisors=[group.supervisor] if group.supervisor else ()))
    return out


def pins_over_organisation_cap(ctx: _Context) -> list[Finding]:
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


_WHOM = {"all": "pharmacist", "non_prescribers": "non-prescriber",
         "early_years": "early-years pharmacist"}


def pins_over_supervision(ctx: _Context) -> list[Finding]:
    """Pins that give a supervisor more counted pharmacists in a period than its capacity."""
    rnd = ctx.round
    out = []
    for sup in rnd.supervisors:
        def counts(p: str, sup: Any = sup) -> bool:
            return bool(sup.counts(rnd.pharmacist(p)))
        out += _pins_over_limit(
            ctx, "pins_over_supervision", Group("supervision", supervisor=sup.id),
            sup.placements, counts, sup.capacity, f"supervisor {sup.id}", "supervises",
            _WHOM[sup.supervises], "capacity")
    return out


def pins_break_continuity(ctx: _Context) -> list[Finding]:
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
            out.append(_finding(
                "pins_break_continuity", "continuity", message, pharmacists=[p],
                placements=[pin.placement for _, pin in held],
                periods=[pin.period for _, pin in held], rules=["pin"],
                groups=[Group("continuity", pharmacist=p, stream=s),
                        *(_pin_group(k, pin) for k, pin in held)]))
    return out


def pins_break_rotation(ctx: _Context) -> list[Finding]:
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
            out.append(_finding(
                "pins_break_rotation", "rotation", message, pharmacists=[p],
                placements=[l_id], periods=periods, rules=["pin"],
                groups=[Group("rotation", pharmacist=p, placement=l_id),
                        *(_pin_group(k, pin) for k, pin in held)]))
    return out


# sector rules ---------------------------------------------------------------------------------


def _match(left: Sequence[int], options: Sequence[frozenset[int]]) -> int:
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


def _sector_slots(ctx: _Context, i: int, *, with_pins: bool
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


def sector_reach(ctx: _Context) -> list[Finding]:
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


def _unreachable_sectors(ctx: _Context, i: int, hist: set[int], reach: set[int], need: int,
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
        out.append(_finding(
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
        out.append(_finding(
            "sectors_unreachable", "sector_mix", message, pharmacists=[ph.id],
            groups=[Group("sector_mix", pharmacist=ph.id)]))
    return out


def _sectors_do_not_fit(ctx: _Context, i: int, hist: set[int],
                        slots: Sequence[tuple[str, frozenset[int]]], need: int,
                        required: Sequence[int], *, kind_prefix: str) -> list[Finding]:
    """The transversal-matroid test: the required sectors must fit into distinct slots, and
    some basis (which can always be grown from them) must be large enough."""
    rnd = ctx.round
    ph = rnd.pharmacists[i]
    options = [o - hist for _, o in slots]
    new = sorted(set().union(*options)) if options else []
    need_new = max(0, need - len(hist))
    fits_required = _match(required, options) == len(required)
    rank = _match(new, options)
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
        groups += [_pin_group(k, pin) for k, pin in pinned]
        pins = and_list([f"{pin.placement} in {pin.period}" for _, pin in pinned])
        head = f"{ph.id}'s {_plural(len(pinned), 'pin')} ({pins})"
        if not fits_required:
            verb = "leaves" if len(pinned) == 1 else "leave"
            message = (f"{head} {verb} no free period and stream to cover the required "
                       f"{_plural(len(required), 'sector')} {and_list(_sector_names(required))}")
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
    return [_finding(kind, rule, message, pharmacists=[ph.id],
                     placements=[pin.placement for _, pin in pinned],
                     periods=[pin.period for _, pin in pinned],
                     rules=["pin"] if pinned else (), groups=groups)]


def required_sector_seats(ctx: _Context) -> list[Finding]:
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
        out.append(_finding(
            "required_sector_seats", "required_sectors", message, pharmacists=who,
            placements=[rnd.placements[x // n_t].id for x in held],
            periods=sorted({rnd.period_ids[x % n_t] for x in held},
                           key=rnd.period_index.__getitem__),
            rules=["capacity"],
            groups=[Group("required_sectors", pharmacist=p, sector=sector) for p in who]))
    return out


def _why_not(ctx: _Context, p: str, placement_ids: Sequence[str]) -> str:
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


# nobody unassigned ------------------------------------------------------------------------------


def no_eligible_placement(ctx: _Context) -> list[Finding]:
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
                out.append(_finding(
                    "no_eligible_placement", "allow_unassigned", message,
                    pharmacists=[ph.id], placements=offered, periods=[t],
                    groups=[Group("allow_unassigned", pharmacist=ph.id, period=t,
                                  stream=s.id)]))
    return out


def _why_not_in(ctx: _Context, p: str, placement_ids: Sequence[str], t: str) -> str:
    parts = []
    for l_id in placement_ids[:4]:
        reasons = ineligibility_reasons(ctx.round, p, l_id, t)
        if reasons:
            parts.append("; ".join(r.message for r in reasons[:2]))
    if len(placement_ids) > 4:
        parts.append(f"and {len(placement_ids) - 4} more")
    return "; ".join(parts)


def seats_below_need(ctx: _Context) -> list[Finding]:
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
                out.append(_finding(
                    "too_few_seats", "allow_unassigned", message, pharmacists=present,
                    placements=[pl.id for pl in own if pl.capacity_in(t) > 0], periods=[t],
                    rules=["capacity"], groups=groups))
                continue
            hall = _hall_violation(ctx, t_i, s_i)
            if hall is None:
                continue
            who, where, n_seats = hall
            message = (f"Nobody may be left unassigned, but in {t} {and_ids(who)} can only "
                       f"take {_seats_sentence(ctx, s.id, where, n_seats)}")
            out.append(_finding(
                "seats_out_of_reach", "allow_unassigned", message, pharmacists=who,
                placements=where, periods=[t], rules=["capacity"],
                groups=[Group("allow_unassigned", pharmacist=p, period=t, stream=s.id)
                        for p in who]))
    return out


def _hall_violation(ctx: _Context, t_i: int, s_i: int
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


def rotation_exhausted(ctx: _Context) -> list[Finding]:
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
            out.append(_finding(
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
    return _match(range(len(periods)), takes)


def _smallest_hall_set(periods: Sequence[str], opts: dict[str, set[int]]) -> list[str]:
    """The smallest set of periods offering fewer distinct placements than periods."""
    if len(periods) <= 12:
        for size in range(2, len(periods) + 1):
            for subset in itertools.combinations(periods, size):
                if len(set().union(*(opts[t] for t in subset))) < size:
                    return list(subset)
    return list(periods)


def continuity_impossible(ctx: _Context) -> list[Finding]:
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
                out.append(_finding(
                    "continuity_impossible", "continuity", message, pharmacists=[ph.id],
                    placements=[l_id], periods=missing, rules=["allow_unassigned", "pin"],
                    groups=[Group("continuity", pharmacist=ph.id, stream=s.id),
                            *(Group("allow_unassigned", pharmacist=ph.id, period=t,
                                    stream=s.id) for t in periods),
                            *(_pin_group(k, pin) for k, pin in pinned)]))
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
            out.append(_finding(
                "continuity_impossible", "continuity", message, pharmacists=[ph.id],
                placements=[rnd.placements[j].id for j in sorted(open_in)], periods=periods,
                rules=["allow_unassigned"],
                groups=[Group("continuity", pharmacist=ph.id, stream=s.id),
                        *(Group("allow_unassigned", pharmacist=ph.id, period=t, stream=s.id)
                          for t in periods)]))
    return out


# ---- the conflict model ------------------------------------------------------------------------


class ConflictModel:
    """The hard rules (§3) of a round as CP-SAT rows, each group switched on by a literal.

    Variables are one boolean per eligible candidate (the order of
    :class:`matcher.eligibility.Candidates`), one literal per :class:`Group` and auxiliary
    booleans (the chosen placement of a non-rotating stream, a sector covered, a pharmacist
    counted once by an organisation or supervisor across streams). Rows that only define
    an auxiliary variable (``x <= z``) and "at most one placement per stream and period"
    are always on; every other row is enforced by its group's literal, so solving under
    assumptions tells which groups conflict. There is no objective.
    """

    def __init__(self, rnd: Round, cand: Candidates | None = None, *,
                 pharmacists: Iterable[int] | None = None) -> None:
        self.round = rnd
        cand = cand if cand is not None else candidates(rnd)
        self._only = None if pharmacists is None else set(pharmacists)
        self.cand = cand if self._only is None else _restrict(cand, self._only)
        self.groups: list[Group] = []
        self.index: dict[Group, int] = {}
        self.last_status = "unknown"
        self._model = cp_model.CpModel()
        self._proto = self._model.proto
        self._literal: list[int] = []
        self._n_vars = 0
        self._new_vars(len(self.cand))
        c = self.cand
        self._streams = rnd.effective_streams
        self._n_t = len(rnd.periods)
        self._n_s = len(self._streams)
        self._slot = (c.pharmacist * self._n_t + c.period) * self._n_s + c.stream
        for rule in (self._one_per_stream, self._allow_unassigned, self._capacity,
                     self._organisation_cap, self._supervision, self._rotation,
                     self._continuity, self._sector_mix, self._required_sectors, self._pins):
            rule()
        self._group_of_literal = {lit: k for k, lit in enumerate(self._literal)}

    # ---- building blocks ---------------------------------------------------------------

    def _includes(self, i: int) -> bool:
        return self._only is None or i in self._only

    def _new_vars(self, n: int) -> list[int]:
        start = self._n_vars
        variables = self._proto.variables
        for _ in range(n):
            variables.add().domain.extend((0, 1))
        self._n_vars += n
        return list(range(start, start + n))

    def _group(self, group: Group) -> int:
        k = self.index.get(group)
        if k is None:
            k = len(self.groups)
            self.groups.append(group)
            self.index[group] = k
            self._literal.append(self._new_vars(1)[0])
        return self._literal[k]

    def _linear(self, variables: Sequence[int], coefs: Sequence[int], lower: int, upper: int,
                group: Group | None = None) -> None:
        ct = self._proto.constraints.add()
        if group is not None:
            ct.enforcement_literal.append(self._group(group))
        ct.linear.vars.extend(int(v) for v in variables)
        ct.linear.coeffs.extend(int(a) for a in coefs)
        ct.linear.domain.extend((int(lower), int(upper)))

    def _sum_at_most(self, variables: Sequence[int], limit: int, group: Group) -> None:
        self._linear(variables, [1] * len(variables), 0, limit, group)

    def _sum_at_least(self, variables: Sequence[int], need: int, group: Group) -> None:
        self._linear(variables, [1] * len(variables), need, max(need, len(variables)), group)

    def _implies(self, x: int, z: int) -> None:
        """Always on: x <= z."""
        self._linear([x, z], [1, -1], -1, 0)

    def _by(self, keys: IntArray) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for r, k in enumerate(keys.tolist()):
            out[k].append(r)
        return out

    # ---- rules ---------------------------------------------------------------------------

    def _one_per_stream(self) -> None:
        """§3.1 (always on): at most one placement per pharmacist, period and stream."""
        for rows in self._by(self._slot).values():
            if len(rows) > 1:
                self._proto.constraints.add().at_most_one.literals.extend(rows)

    def _allow_unassigned(self) -> None:
        """§3.1: with allow_unassigned false, one placement in every available slot."""
        rnd = self.round
        if rnd.rules.allow_unassigned:
            return
        by_slot = self._by(self._slot)
        for i, ph in enumerate(rnd.pharmacists):
            if not self._includes(i):
                continue
            off = set(ph.unavailable)
            for t_i, t in enumerate(rnd.period_ids):
                if t in off:
                    continue
                for s_i, s in enumerate(self._streams):
                    rows = by_slot.get((i * self._n_t + t_i) * self._n_s + s_i, [])
                    self._sum_at_least(rows, 1, Group("allow_unassigned", pharmacist=ph.id,
                                                      period=t, stream=s.id))

    def _capacity(self) -> None:
        """§3.2: at most capacity(l, t) holders (only where more candidates than seats)."""
        rnd, c = self.round, self.cand
        for key, rows in self._by(c.placement * self._n_t + c.period).items():
            pl, t = rnd.placements[key // self._n_t], rnd.period_ids[key % self._n_t]
            cap = pl.capacity_in(t)
            if len(rows) > cap:
                self._sum_at_most(rows, cap, Group("capacity", placement=pl.id, period=t))

    def _distinct_cap(self, rows: Sequence[int], limit: int, group: Group) -> None:
        """Distinct pharmacists among ``rows`` (one period) at most ``limit``."""
        c = self.cand
        by_ph: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            by_ph[int(c.pharmacist[r])].append(r)
        if len(by_ph) <= limit:
            return
        terms: list[int] = []
        for own in by_ph.values():
            if len({int(c.stream[r]) for r in own}) == 1:
                terms += own  # at most one of them by one_per_stream
                continue
            d = self._new_vars(1)[0]
            for r in own:
                self._implies(r, d)
            terms.append(d)
        self._sum_at_most(terms, limit, group)

    def _organisation_cap(self) -> None:
        """§3.3: distinct pharmacists across an organisation's placements per period."""
        rnd, c = self.round, self.cand
        for org in rnd.organisations:
            if org.max_pharmacists is None:
                continue
            own = np.array([pl.organisation == org.id for pl in rnd.placements], dtype=bool)
            sel = np.flatnonzero(own[c.placement]) if len(c) else np.zeros(0, np.int64)
            for t_i, t in enumerate(rnd.period_ids):
                rows = sel[c.period[sel] == t_i].tolist()
                self._distinct_cap(rows, org.max_pharmacists,
                                   Group("organisation_cap", organisation=org.id, period=t))

    def _supervision(self) -> None:
        """§3.4: counted distinct pharmacists across a supervisor's placements per period."""
        rnd, c = self.round, self.cand
        for sup in rnd.supervisors:
            covered = np.zeros(len(rnd.placements), dtype=bool)
            covered[[rnd.placement_index[x] for x in sup.placements]] = True
            counted = np.array([sup.counts(ph) for ph in rnd.pharmacists], dtype=bool)
            sel = (np.flatnonzero(covered[c.placement] & counted[c.pharmacist])
                   if len(c) else np.zeros(0, np.int64))
            for t_i, t in enumerate(rnd.period_ids):
                rows = sel[c.period[sel] == t_i].tolist()
                self._distinct_cap(rows, sup.capacity,
                                   Group("supervision", supervisor=sup.id, period=t))

    def _rotation(self) -> None:
        """§3.5: nobody holds a placement of a rotating stream twice (history is excluded
        by eligibility)."""
        rnd, c = self.round, self.cand
        rotating = np.array([s.rotate for s in self._streams], dtype=bool)
        n_l = len(rnd.placements)
        for key, rows in self._by(c.pharmacist * n_l + c.placement).items():
            if len(rows) > 1 and rotating[int(c.stream[rows[0]])]:
                self._sum_at_most(rows, 1, Group(
                    "rotation", pharmacist=rnd.pharmacists[key // n_l].id,
                    placement=rnd.placements[key % n_l].id))

    def _continuity(self) -> None:
        """§3.5: one placement throughout a non-rotating stream (``x <= z[l]``, at most one
        ``z`` per pharmacist and stream)."""
        rnd, c = self.round, self.cand
        for key, rows in self._by(c.pharmacist * self._n_s + c.stream).items():
            s = self._streams[key % self._n_s]
            if s.rotate:
                continue
            by_l: dict[int, list[int]] = defaultdict(list)
            for r in rows:
                by_l[int(c.placement[r])].append(r)
            if len(by_l) < 2:
                continue
            zs = self._new_vars(len(by_l))
            for z, own in zip(zs, by_l.values(), strict=True):
                for r in own:
                    self._implies(r, z)
            self._sum_at_most(zs, 1, Group("continuity",
                                           pharmacist=rnd.pharmacists[key // self._n_s].id,
                                           stream=s.id))

    def _sector_mix(self) -> None:
        """§3.6: at least min(min_distinct_sectors, A(p)) distinct sectors, history counted."""
        rnd, c = self.round, self.cand
        wanted = rnd.rules.min_distinct_sectors
        if not wanted:
            return
        sector_of = np.array([SECTORS.index(pl.sector) for pl in rnd.placements], np.int64)
        n_sec = len(SECTORS)
        by_key = self._by(c.pharmacist * n_sec + sector_of[c.placement]) if len(c) else {}
        for i, ph in enumerate(rnd.pharmacists):
            hist = {SECTORS.index(rnd.placement(h).sector) for h in ph.history}
            need = min(wanted, len(rnd.available_periods(ph))) - len(hist)
            if need <= 0 or not self._includes(i):
                continue
            covers = []
            for sec in range(n_sec):
                rows = by_key.get(i * n_sec + sec)
                if sec in hist or not rows:
                    continue
                cover = self._new_vars(1)[0]
                self._linear([cover, *rows], [1] + [-1] * len(rows), -len(rows), 0)
                covers.append(cover)
            self._linear(covers, [1] * len(covers), need, max(need, len(covers)),
                         Group("sector_mix", pharmacist=ph.id))

    def _required_sectors(self) -> None:
        """§3.6: every required sector covered (history counts) when A(p) >= 1."""
        rnd, c = self.round, self.cand
        required = list(dict.fromkeys(rnd.rules.required_sectors))
        if not required:
            return
        sector = np.array([pl.sector for pl in rnd.placements], dtype=object)
        for i, ph in enumerate(rnd.pharmacists):
            if not rnd.available_periods(ph) or not self._includes(i):
                continue
            hist = {rnd.placement(h).sector for h in ph.history}
            lo, hi = np.searchsorted(c.pharmacist, [i, i + 1])
            mine = np.arange(lo, hi)
            for sec in required:
                if sec in hist:
                    continue
                rows = mine[sector[c.placement[mine]] == sec].tolist() if len(mine) else []
                self._sum_at_least(rows, 1, Group("required_sectors", pharmacist=ph.id,
                                                  sector=sec))

    def _pins(self) -> None:
        """§3.7: every pin holds."""
        rnd, c = self.round, self.cand
        n_l, n_t = len(rnd.placements), self._n_t
        key = (c.pharmacist * n_l + c.placement) * n_t + c.period
        for k, pin in enumerate(rnd.pins):
            if not self._includes(rnd.pharmacist_index[pin.pharmacist]):
                continue
            q = ((rnd.pharmacist_index[pin.pharmacist] * n_l
                  + rnd.placement_index[pin.placement]) * n_t + rnd.period_index[pin.period])
            pos = int(np.searchsorted(key, q)) if len(key) else 0
            rows = [pos] if pos < len(key) and int(key[pos]) == q else []
            self._sum_at_least(rows, 1, _pin_group(k, pin))

    # ---- solving -------------------------------------------------------------------------

    def _run(self, time_limit_s: float) -> tuple[Any, cp_model.CpSolver]:
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = max(0.01, time_limit_s)
        p.num_workers = 1  # a core is read from the sequential search; the machine is shared
        p.random_seed = 0
        code = solver.solve(self._model)
        if code == cp_model.MODEL_INVALID:
            raise RuntimeError(f"diagnosis model invalid: {self._model.validate()}")
        return code, solver

    @staticmethod
    def _status(code: Any) -> str:
        if code == cp_model.INFEASIBLE:
            return "infeasible"
        return "feasible" if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else "unknown"

    def _fix(self, variables: Iterable[int], value: int | None) -> None:
        """Fix variables to ``value`` (None: back to 0..1)."""
        domains = self._proto.variables
        lo, hi = (0, 1) if value is None else (value, value)
        for v in variables:
            domains[v].domain[0] = lo
            domains[v].domain[1] = hi

    def restricted(self, pharmacists: Iterable[int]) -> ConflictModel:
        """The model of the same round with only these pharmacists (indices): the others'
        candidates and own groups are left out. Leaving pharmacists out only loosens the
        shared limits, so a conflict of the restricted model is a conflict of the round;
        its groups are found in this model by :meth:`translate`."""
        return ConflictModel(self.round, self.cand, pharmacists=pharmacists)

    def translate(self, groups: Iterable[int], other: ConflictModel) -> list[int]:
        """Indices in ``other`` of these groups (by identity; groups ``other`` lacks, such
        as a capacity that cannot bind there, are left out)."""
        return [other.index[self.groups[k]] for k in groups if self.groups[k] in other.index]

    def check(self, active: Iterable[int], time_limit_s: float) -> str:
        """``feasible``, ``infeasible`` or ``unknown`` with exactly the ``active`` groups
        enforced: their literals fixed to 1 and the others to 0, so presolve sees the
        rules as hard and drops the rest (this proves most conflicts at once, even on
        large rounds where a search under thousands of assumptions stalls)."""
        on = set(active)
        self._model.clear_assumptions()
        self._fix([lit for k, lit in enumerate(self._literal) if k in on], 1)
        self._fix([lit for k, lit in enumerate(self._literal) if k not in on], 0)
        try:
            code, _ = self._run(time_limit_s)
        finally:
            self._fix(self._literal, None)
        return self._status(code)

    def solve(self, active: Iterable[int], time_limit_s: float) -> tuple[str, list[int]]:
        """Solve with the groups ``active`` (indices into :attr:`groups`) assumed on and
        the others free. Returns ``("infeasible", core)`` with a conflicting subset of the
        active groups read from CP-SAT, ``("feasible", [])``, or ``("unknown", [])`` when
        time ran out."""
        self._model.clear_assumptions()
        self._proto.assumptions.extend(self._literal[k] for k in active)
        try:
            code, solver = self._run(time_limit_s)
            core = ([self._group_of_literal[v]
                     for v in solver.sufficient_assumptions_for_infeasibility()]
                    if code == cp_model.INFEASIBLE else [])
        finally:
            self._model.clear_assumptions()
        return self._status(code), sorted(set(core))

    def minimal_core(self, active: Sequence[int], deadline: float
                     ) -> tuple[list[int], bool] | None:
        """A conflicting subset of ``active``, made minimal while time allows.

        The active groups are first checked as hard rules (:meth:`check`). If they
        conflict, the conflict is localised to a few pharmacists (connected components,
        then QuickXplain over pharmacists) and the rest is done on the model restricted to
        them: a first core from CP-SAT's assumptions (QuickXplain over groups if that
        search stalls), then groups dropped one at a time while the rest still conflicts.
        Returns ``(core, minimal)``, or None when the active groups are feasible or nothing
        was isolated before ``deadline`` (see :attr:`last_status`).
        """
        t0 = time.monotonic()
        self.last_status = self.check(active, deadline - t0)
        log.debug("diagnosis: %d groups %s (%.2f s)", len(active), self.last_status,
                  time.monotonic() - t0)
        if self.last_status != "infeasible":
            return None
        model: ConflictModel = self
        local = list(active)
        kept = self._localise(active, deadline)
        if kept is not None:
            model = self.restricted(kept)
            local = self.translate(active, model)
        log.debug("diagnosis: localised to %d pharmacists, %d groups (%.2f s)",
                  len(model._only or self.round.pharmacists), len(local),
                  time.monotonic() - t0)
        remaining = deadline - time.monotonic()
        status, core = model.solve(local, min(remaining / 3, _ASSUME_S))
        if status != "infeasible" or not core:
            found = _quickxplain(local, lambda groups: model._conflicts(groups, deadline))
            if found is None:
                self.last_status = "unknown"
                return None
            core = found
        log.debug("diagnosis: core of %d groups (%.2f s)", len(core), time.monotonic() - t0)
        core, minimal = model._shrink(core, deadline)
        return model.translate(core, self), minimal

    def _conflicts(self, groups: Sequence[int], deadline: float) -> bool | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        status = self.check(groups, remaining)
        return None if status == "unknown" else status == "infeasible"

    def _localise(self, active: Sequence[int], deadline: float) -> list[int] | None:
        """A small set of pharmacists (indices) whose groups, with the shared limits,
        already conflict; None (all of them) for small rounds or when none is found."""
        if len(self.round.pharmacists) <= _SMALL:
            return None

        def conflicts(pharmacists: Sequence[int]) -> bool | None:
            sub = self.restricted(pharmacists)
            return sub._conflicts(self.translate(active, sub), deadline)

        components = sorted(self._components(), key=len)
        comp = components[0]
        if len(components) > 1:
            for comp in components:
                verdict = conflicts(comp)
                if verdict is None:
                    return None
                if verdict:
                    break
            else:
                return None  # a conflict always lies within one component; be safe
        if len(comp) <= _SMALL:
            return comp
        return _quickxplain(comp, conflicts) or comp

    def _components(self) -> list[list[int]]:
        """Pharmacists linked by a placement, organisation or supervisor they could share."""
        rnd, c = self.round, self.cand
        parent = list(range(len(rnd.pharmacists) + len(rnd.placements)))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        n_p = len(rnd.pharmacists)
        for i, j in zip(c.pharmacist.tolist(), c.placement.tolist(), strict=True):
            parent[find(i)] = find(n_p + j)
        linked: list[list[str]] = [
            [pl.id for pl in rnd.placements if pl.organisation == org.id]
            for org in rnd.organisations if org.max_pharmacists is not None
        ]
        linked += [list(sup.placements) for sup in rnd.supervisors]
        for ids in linked:
            for a, b in itertools.pairwise(ids):
                parent[find(n_p + rnd.placement_index[a])] = find(n_p + rnd.placement_index[b])
        comps: dict[int, list[int]] = defaultdict(list)
        for i in range(n_p):
            if self._includes(i):
                comps[find(i)].append(i)
        return list(comps.values())

    def _decide(self, groups: Sequence[int], deadline: float) -> tuple[str, list[int]]:
        """Feasibility of a small set of groups: assumptions first (they give a sub-core),
        the hard check if that search does not finish quickly."""
        remaining = deadline - time.monotonic()
        status, sub = self.solve(groups, min(remaining, _ASSUME_S))
        if status == "unknown" and deadline - time.monotonic() > 0:
            status = self.check(groups, deadline - time.monotonic())
            sub = list(groups) if status == "infeasible" else []
        return status, sub

    def _shrink(self, core: Sequence[int], deadline: float) -> tuple[list[int], bool]:
        """Deletion-based minimisation with clause-set refinement."""
        minimal = True
        necessary: list[int] = []
        pending = list(core)
        while pending:
            if deadline - time.monotonic() <= 0:
                return necessary + pending, False
            g = pending.pop(0)
            status, sub = self._decide(necessary + pending, deadline)
            if status == "infeasible":
                keep = set(sub)
                # A necessary group is in every conflicting subset, so it is in ``sub``.
                pending = [k for k in pending if k in keep]
            else:
                necessary.append(g)
                if status == "unknown":
                    minimal = False
        return necessary, minimal


def _restrict(cand: Candidates, pharmacists: set[int]) -> Candidates:
    """The candidates of some pharmacists only (order kept)."""
    keep = np.isin(cand.pharmacist, np.fromiter(pharmacists, dtype=np.int64))
    return Candidates(pharmacist=cand.pharmacist[keep], placement=cand.placement[keep],
                      period=cand.period[keep], stream=cand.stream[keep],
                      travel=cand.travel[keep])


def _quickxplain(items: Sequence[int], conflicts: Callable[[Sequence[int]], bool | None]
                 ) -> list[int] | None:
    """A minimal subset of ``items`` that conflicts, by QuickXplain (Junker 2004):
    O(k log(n/k)) calls of ``conflicts`` for a conflict of k items among n. ``conflicts``
    answers None when it cannot decide (time is up): the search then returns None."""

    class _Undecided(Exception):
        pass

    def conflicting(subset: Sequence[int]) -> bool:
        verdict = conflicts(subset)
        if verdict is None:
            raise _Undecided
        return verdict

    def qx(base: list[int], added: list[int], candidates: list[int]) -> list[int]:
        if added and conflicting(base):
            return []
        if len(candidates) == 1:
            return candidates
        half = len(candidates) // 2
        first, second = candidates[:half], candidates[half:]
        from_second = qx(base + first, first, second)
        from_first = qx(base + from_second, from_second, first)
        return from_first + from_second

    try:
        return qx([], [], list(items)) if items else None
    except _Undecided:
        return None


# ---- a core in planners' words ---------------------------------------------------------------


def _core_finding(ctx: _Context, model: ConflictModel, core: Sequence[int],
                  minimal: bool) -> Finding:
    groups = [model.groups[k] for k in core]
    groups.sort(key=lambda g: (_RULE_ORDER.index(g.rule), str(g)))
    rules = list(dict.fromkeys(g.rule for g in groups))
    pharmacists = [g.pharmacist for g in groups if g.pharmacist]
    placements = [g.placement for g in groups if g.placement]
    periods = sorted({g.period for g in groups if g.period},
                     key=ctx.round.period_index.__getitem__)
    message = (minimal and _hall_sentence(ctx, groups)) or _generic_sentence(ctx, groups)
    if minimal:
        message += " Relaxing any one of these removes this conflict."
    return _finding(
        "conflict", rules[0], message, pharmacists=pharmacists, placements=placements,
        periods=periods,
        organisations=[g.organisation for g in groups if g.organisation],
        supervisors=[g.supervisor for g in groups if g.supervisor],
        rules=rules, groups=groups, minimal=minimal)


def _hall_sentence(ctx: _Context, groups: Sequence[Group]) -> str | None:
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
            f"{_seats_sentence(ctx, s, where, seats)}.")


def _seats_sentence(ctx: _Context, stream: str, where: Sequence[str], seats: int) -> str:
    """'host placements A and B, which have 1 seat between them' / 'placement A, which has
    1 seat'."""
    if len(where) == 1:
        return f"{ctx.placement_word(stream)} {where[0]}, which has {count(seats, 'seat')}"
    return (f"{ctx.placements_word(stream)} {and_ids(where)}, which have "
            f"{count(seats, 'seat')} between them")


def _generic_sentence(ctx: _Context, groups: Sequence[Group]) -> str:
    clauses = _slot_clauses(ctx, [g for g in groups if g.rule == "allow_unassigned"])
    clauses += [_clause(ctx, g, groups) for g in groups if g.rule != "allow_unassigned"]
    return "These rules cannot all hold together: " + "; ".join(clauses) + "."


def _slot_clauses(ctx: _Context, slots: Sequence[Group]) -> list[str]:
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


def _open_to(ctx: _Context, who: Sequence[str], periods: Sequence[str], stream: str
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


def _clause(ctx: _Context, g: Group, core: Sequence[Group]) -> str:
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
        whom = _WHOM[sup.supervises]
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


def _only_at(ctx: _Context, p: str, core: Sequence[Group], skip: set[str]) -> str:
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


# ---- wording helpers -----------------------------------------------------------------------------


def _plural(n: int, noun: str) -> str:
    return noun if n == 1 else noun + "s"
