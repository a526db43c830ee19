"""What-if: scenarios (a base round plus overrides), diffs of results, re-planning.

A :class:`Scenario` is a name, a base :class:`~matcher.domain.Round` and a list of
*overrides*: small JSON-serialisable records, each with an ``op``, applied in order by
:meth:`Scenario.apply`. The base is never mutated; the round that comes out is validated
like any other, and when it is not valid every problem names the override at fault
(``overrides[#3]: remove_placement GP-X: ...``, ``index`` 2 in the problem). Sweeps of many
scenarios run in parallel with :func:`matcher.sweep.solve_many`.

The overrides (``op`` and fields; ids are the round's own):

=====================  =============================================================
``set_weights``        ``weights``: some weights of §4 (others unchanged)
``set_rules``          ``rules``: some rules of §1 (others unchanged)
``add_placement``      ``placement``: a whole placement record
``remove_placement``   ``placement``: its id (see below)
``close_placement``    ``placement``, ``from_period`` (optional, default the first):
                       capacity and min_fill 0 from that period on
``set_capacity``       ``placement``, ``capacity`` (integer or per period), ``period``
                       (optional: change that period only)
``update_placement``   ``placement``, ``fields``: fields to set (not ``id``)
``add_pharmacist``     ``pharmacist``: a whole pharmacist record
``remove_pharmacist``  ``pharmacist``: its id; their pins, bans, travel and reference
                       entries go too
``update_pharmacist``  ``pharmacist``, ``fields``: fields to set (not ``id``)
``set_unavailable``    ``pharmacist``, ``periods`` and/or ``from_period``: added to their
                       leave (a pin in those periods is then an error: unpin first)
``pin`` / ``unpin``    ``pharmacist``, ``period``, ``placement`` (``unpin``: period and
                       placement optional, every matching pin goes; none matching is an
                       error)
``ban`` / ``unban``    ``pharmacist``, ``placement``, ``period`` (optional: every period;
                       ``unban`` without a period lifts every ban of the pair)
``set_reference``      ``assignments``: an earlier allocation (a §5 result's
                       ``assignments`` will do); ``[]`` clears it
=====================  =============================================================

Removing a placement withdraws it from the offer: it leaves every preference list (later
preferences move up a rank), every supervisor's list, the bans, the travel overrides and
the reference. A placement still in someone's ``history`` cannot be removed (history
counts for rotation and sector rules): close it instead. A pin to it is an error too: the
pin was a decision about that placement, so unpin it first.

:func:`diff` compares two results: who moved (pharmacist, period, stream: from -> to),
and the objective and KPI deltas, as DataFrames and as text.

:func:`replan` re-plans after a change mid-programme with as little disruption as
possible: it sets the spec's ``reference`` to an earlier result and ``weights.change``,
keeps the periods already served (pins), and warm-starts the solver from that result.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from matcher.domain import (
    Id,
    NonNegInt,
    Pharmacist,
    Placement,
    ReferenceAssignment,
    Round,
    Rules,
    Weights,
)
from matcher.errors import InvalidRoundError, Problem

if TYPE_CHECKING:
    import pandas as pd

    from matcher.result import Result
    from matcher.solve import SolveParams

__all__ = [
    "OVERRIDE_MODELS",
    "OVERRIDE_OPS",
    "SCENARIO_FORMAT",
    "AddPharmacist",
    "AddPlacement",
    "Ban",
    "ClosePlacement",
    "DiffFrames",
    "Move",
    "Override",
    "Pin",
    "RemovePharmacist",
    "RemovePlacement",
    "ResultDiff",
    "Scenario",
    "SetCapacity",
    "SetReference",
    "SetRules",
    "SetUnavailable",
    "SetWeights",
    "Unban",
    "Unpin",
    "UpdatePharmacist",
    "UpdatePlacement",
    "apply_overrides",
    "diff",
    "minimal_change_weight",
    "parse_overrides",
    "replan",
    "replan_round",
]

log = logging.getLogger(__name__)

SCENARIO_FORMAT = "spin-scenario/1"
"""The ``format`` of a scenario document (:meth:`Scenario.to_dict`)."""


# ---- overrides -----------------------------------------------------------------------------


class _OpError(Exception):
    """An override that cannot be applied to the round as it stands."""

    def __init__(self, message: str, code: str = "invalid_override", field: str | None = None
                 ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class _Doc:
    """The round being edited, as JSON-like data, with lookups the overrides share."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        for name in ("organisations", "supervisors", "pins", "bans", "travel", "reference"):
            data.setdefault(name, [])

    @property
    def period_ids(self) -> list[str]:
        return [t["id"] for t in self.data["periods"]]

    def records(self, name: str) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = self.data[name]
        return records

    def find(self, name: str, rec_id: str, field: str) -> dict[str, Any]:
        for rec in self.records(name):
            if rec.get("id") == rec_id:
                return rec
        noun = name[:-1]
        raise _OpError(f"unknown {noun} id {rec_id!r}", "unknown_reference", field)

    def has(self, name: str, rec_id: str) -> bool:
        return any(rec.get("id") == rec_id for rec in self.records(name))

    def period(self, period_id: str, field: str) -> int:
        ids = self.period_ids
        if period_id not in ids:
            raise _OpError(f"unknown period id {period_id!r}; the periods are: "
                           + ", ".join(ids), "unknown_reference", field)
        return ids.index(period_id)

    def drop(self, name: str, keep: Any) -> int:
        """Keep the records of list ``name`` for which ``keep(record)``; how many went."""
        before = self.records(name)
        after = [r for r in before if keep(r)]
        self.data[name] = after
        return len(before) - len(after)


class _Override(BaseModel):
    """Base of every override: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def describe(self) -> str:
        """The override in a few words, for messages (``close_placement GP-X from R2``)."""
        raise NotImplementedError

    def apply_to(self, doc: _Doc) -> None:
        """Edit the round's data in place; raise ``_OpError`` when it cannot apply."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record (``op`` first)."""
        return self.model_dump(mode="json", exclude_none=True)


def _patch(section: str, allowed: Iterable[str], patch: Mapping[str, Any], doc: _Doc,
           field: str) -> None:
    names = list(allowed)
    for key in patch:
        if key not in names:
            raise _OpError(f"unknown {section[:-1]} {key!r}; the {section} are: "
                           + ", ".join(names), "unknown_field", f"{field}.{key}")
    doc.data.setdefault(section, {}).update(patch)


class SetWeights(_Override):
    """Set some weights of the objective (§4); the others keep their value."""

    op: Literal["set_weights"] = "set_weights"
    weights: dict[str, NonNegInt] = Field(
        min_length=1, description="Weights to set, for example {\"hard_to_recruit\": 60}.")

    def describe(self) -> str:
        return "set_weights " + ", ".join(f"{k}={v}" for k, v in self.weights.items())

    def apply_to(self, doc: _Doc) -> None:
        _patch("weights", Weights.model_fields, self.weights, doc, "weights")


class SetRules(_Override):
    """Set some rules of the scheme (§1 ``rules``); the others keep their value."""

    op: Literal["set_rules"] = "set_rules"
    rules: dict[str, Any] = Field(
        min_length=1, description="Rules to set, for example {\"min_distinct_sectors\": 2}.")

    def describe(self) -> str:
        return "set_rules " + ", ".join(f"{k}={v}" for k, v in self.rules.items())

    def apply_to(self, doc: _Doc) -> None:
        _patch("rules", Rules.model_fields, self.rules, doc, "rules")


class AddPlacement(_Override):
    """Offer a new placement (a whole placement record, as in §1)."""

    op: Literal["add_placement"] = "add_placement"
    placement: Placement = Field(description="The new placement.")

    def describe(self) -> str:
        return f"add_placement {self.placement.id}"

    def apply_to(self, doc: _Doc) -> None:
        if doc.has("placements", self.placement.id):
            raise _OpError(f"placement {self.placement.id!r} already exists; use "
                           "update_placement or set_capacity to change it", "duplicate_id",
                           "placement.id")
        doc.records("placements").append(
            self.placement.model_dump(mode="json", exclude_none=True))


class RemovePlacement(_Override):
    """Withdraw a placement altogether (see the module docstring for what goes with it)."""

    op: Literal["remove_placement"] = "remove_placement"
    placement: Id = Field(description="Id of the placement to remove.")

    def describe(self) -> str:
        return f"remove_placement {self.placement}"

    def apply_to(self, doc: _Doc) -> None:
        pid = self.placement
        doc.find("placements", pid, "placement")
        pinned = [f"{p['pharmacist']} in {p['period']} (pins[#{i + 1}])"
                  for i, p in enumerate(doc.records("pins")) if p["placement"] == pid]
        if pinned:
            raise _OpError(f"{pid} is pinned for " + "; ".join(pinned) + ": unpin first "
                           "(op 'unpin')", "pinned", "placement")
        done = [ph["id"] for ph in doc.records("pharmacists") if pid in ph.get("history", ())]
        if done:
            raise _OpError(f"{pid} is in the history of " + ", ".join(done) + "; close it "
                           "(op 'close_placement') instead of removing it", "in_history",
                           "placement")
        doc.drop("placements", lambda r: r["id"] != pid)
        for ph in doc.records("pharmacists"):
            if pid in ph.get("preferences", ()):
                ph["preferences"] = [x for x in ph["preferences"] if x != pid]
        for sup in doc.records("supervisors"):
            sup["placements"] = [x for x in sup["placements"] if x != pid]
        for name in ("bans", "travel", "reference"):
            doc.drop(name, lambda r: r["placement"] != pid)


def _per_period(value: Any, periods: Sequence[str]) -> dict[str, int]:
    if isinstance(value, Mapping):
        return {t: int(value.get(t, 0)) for t in periods}
    return dict.fromkeys(periods, int(value))


class ClosePlacement(_Override):
    """Close a placement from a period on: capacity and min_fill 0 from then."""

    op: Literal["close_placement"] = "close_placement"
    placement: Id = Field(description="Id of the placement that closes.")
    from_period: Id | None = Field(
        None, description="First period it is closed (absent: every period).")

    def describe(self) -> str:
        return f"close_placement {self.placement}" + (
            f" from {self.from_period}" if self.from_period else "")

    def apply_to(self, doc: _Doc) -> None:
        pl = doc.find("placements", self.placement, "placement")
        start = 0 if self.from_period is None else doc.period(self.from_period, "from_period")
        periods = doc.period_ids
        for key in ("capacity", "min_fill"):
            values = _per_period(pl.get(key, 0), periods)
            for t in periods[start:]:
                values[t] = 0
            pl[key] = values


class SetCapacity(_Override):
    """Change how many pharmacists a placement takes (in every period, or in one)."""

    op: Literal["set_capacity"] = "set_capacity"
    placement: Id = Field(description="Id of the placement.")
    capacity: NonNegInt | dict[Id, NonNegInt] = Field(
        description="New capacity: an integer, or {period_id: integer} (a period left out "
        "has 0).")
    period: Id | None = Field(
        None, description="Change this period only (capacity is then an integer).")

    def describe(self) -> str:
        where = f" in {self.period}" if self.period else ""
        return f"set_capacity {self.placement}{where} to {self.capacity}"

    def apply_to(self, doc: _Doc) -> None:
        pl = doc.find("placements", self.placement, "placement")
        if self.period is None:
            pl["capacity"] = self.capacity
            return
        doc.period(self.period, "period")
        if not isinstance(self.capacity, int):
            raise _OpError("with a period, capacity must be a whole number", "type",
                           "capacity")
        values = _per_period(pl["capacity"], doc.period_ids)
        values[self.period] = self.capacity
        pl["capacity"] = values


def _update(doc: _Doc, name: str, rec_id: str, fields: Mapping[str, Any], field: str) -> None:
    rec = doc.find(name, rec_id, field)
    if "id" in fields:
        raise _OpError(f"an id cannot be changed; remove the {name[:-1]} and add it under "
                       "the new id", "invalid_override", "fields.id")
    rec.update(copy.deepcopy(dict(fields)))


class UpdatePlacement(_Override):
    """Set fields of a placement (for example ``hard_to_recruit``); not its id."""

    op: Literal["update_placement"] = "update_placement"
    placement: Id = Field(description="Id of the placement.")
    fields: dict[str, Any] = Field(min_length=1, description="Fields to set (whole values).")

    def describe(self) -> str:
        return f"update_placement {self.placement} " + ", ".join(self.fields)

    def apply_to(self, doc: _Doc) -> None:
        _update(doc, "placements", self.placement, self.fields, "placement")


class AddPharmacist(_Override):
    """A pharmacist joins the cohort (a whole pharmacist record, as in §1)."""

    op: Literal["add_pharmacist"] = "add_pharmacist"
    pharmacist: Pharmacist = Field(description="The new pharmacist.")

    def describe(self) -> str:
        return f"add_pharmacist {self.pharmacist.id}"

    def apply_to(self, doc: _Doc) -> None:
        if doc.has("pharmacists", self.pharmacist.id):
            raise _OpError(f"pharmacist {self.pharmacist.id!r} already exists",
                           "duplicate_id", "pharmacist.id")
        doc.records("pharmacists").append(
            self.pharmacist.model_dump(mode="json", exclude_none=True))


class RemovePharmacist(_Override):
    """A pharmacist leaves the cohort; their pins, bans, travel and reference entries go."""

    op: Literal["remove_pharmacist"] = "remove_pharmacist"
    pharmacist: Id = Field(description="Id of the pharmacist who leaves.")

    def describe(self) -> str:
        return f"remove_pharmacist {self.pharmacist}"

    def apply_to(self, doc: _Doc) -> None:
        doc.find("pharmacists", self.pharmacist, "pharmacist")
        doc.drop("pharmacists", lambda r: r["id"] != self.pharmacist)
        for name in ("pins", "bans", "travel", "reference"):
            doc.drop(name, lambda r: r["pharmacist"] != self.pharmacist)


class UpdatePharmacist(_Override):
    """Set fields of a pharmacist (for example ``max_travel_km``); not their id."""

    op: Literal["update_pharmacist"] = "update_pharmacist"
    pharmacist: Id = Field(description="Id of the pharmacist.")
    fields: dict[str, Any] = Field(min_length=1, description="Fields to set (whole values).")

    def describe(self) -> str:
        return f"update_pharmacist {self.pharmacist} " + ", ".join(self.fields)

    def apply_to(self, doc: _Doc) -> None:
        _update(doc, "pharmacists", self.pharmacist, self.fields, "pharmacist")


class SetUnavailable(_Override):
    """A pharmacist goes on leave: periods added to their ``unavailable`` list."""

    op: Literal["set_unavailable"] = "set_unavailable"
    pharmacist: Id = Field(description="Id of the pharmacist.")
    periods: tuple[Id, ...] = Field((), description="Periods of leave.")
    from_period: Id | None = Field(
        None, description="On leave from this period to the end of the round.")

    def describe(self) -> str:
        parts = list(self.periods) + ([f"from {self.from_period}"] if self.from_period else [])
        return f"set_unavailable {self.pharmacist} " + " ".join(parts)

    def apply_to(self, doc: _Doc) -> None:
        ph = doc.find("pharmacists", self.pharmacist, "pharmacist")
        if not self.periods and self.from_period is None:
            raise _OpError("give the periods of leave ('periods') or 'from_period'",
                           "missing", "periods")
        off = set(ph.get("unavailable", ()))
        for j, t in enumerate(self.periods):
            doc.period(t, f"periods.{j + 1}")
            off.add(t)
        if self.from_period is not None:
            start = doc.period(self.from_period, "from_period")
            off.update(doc.period_ids[start:])
        ph["unavailable"] = [t for t in doc.period_ids if t in off]


def _check_ids(doc: _Doc, pharmacist: str, placement: str | None, period: str | None) -> None:
    doc.find("pharmacists", pharmacist, "pharmacist")
    if placement is not None:
        doc.find("placements", placement, "placement")
    if period is not None:
        doc.period(period, "period")


class Pin(_Override):
    """An assignment that must hold (added to ``pins``)."""

    op: Literal["pin"] = "pin"
    pharmacist: Id = Field(description="Pharmacist id.")
    period: Id = Field(description="Period id.")
    placement: Id = Field(description="Placement id.")

    def describe(self) -> str:
        return f"pin {self.pharmacist} to {self.placement} in {self.period}"

    def apply_to(self, doc: _Doc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)
        record = {"pharmacist": self.pharmacist, "period": self.period,
                  "placement": self.placement}
        if record not in doc.records("pins"):
            doc.records("pins").append(record)


class Unpin(_Override):
    """Remove pins of a pharmacist (those of one period and/or placement when given)."""

    op: Literal["unpin"] = "unpin"
    pharmacist: Id = Field(description="Pharmacist id.")
    period: Id | None = Field(None, description="Only the pin in this period.")
    placement: Id | None = Field(None, description="Only pins to this placement.")

    def describe(self) -> str:
        return " ".join(x for x in ("unpin", self.pharmacist, self.placement,
                                     self.period and f"in {self.period}") if x)

    def apply_to(self, doc: _Doc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)

        def keep(r: Mapping[str, Any]) -> bool:
            return not (r["pharmacist"] == self.pharmacist
                        and self.period in (None, r["period"])
                        and self.placement in (None, r["placement"]))

        if not doc.drop("pins", keep):
            raise _OpError("no pin matches", "no_match")


class Ban(_Override):
    """A pharmacist-placement pair that must not happen (in one period, or in every one)."""

    op: Literal["ban"] = "ban"
    pharmacist: Id = Field(description="Pharmacist id.")
    placement: Id = Field(description="Placement id.")
    period: Id | None = Field(None, description="Period id; absent means every period.")

    def describe(self) -> str:
        return f"ban {self.pharmacist} from {self.placement}" + (
            f" in {self.period}" if self.period else "")

    def apply_to(self, doc: _Doc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)
        record: dict[str, Any] = {"pharmacist": self.pharmacist, "placement": self.placement}
        if self.period is not None:
            record["period"] = self.period
        if record not in doc.records("bans"):
            doc.records("bans").append(record)


class Unban(_Override):
    """Lift bans of a pharmacist-placement pair (only the one of ``period`` when given)."""

    op: Literal["unban"] = "unban"
    pharmacist: Id = Field(description="Pharmacist id.")
    placement: Id = Field(description="Placement id.")
    period: Id | None = Field(None, description="Only the ban of this period.")

    def describe(self) -> str:
        return f"unban {self.pharmacist} from {self.placement}" + (
            f" in {self.period}" if self.period else "")

    def apply_to(self, doc: _Doc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)

        def keep(r: Mapping[str, Any]) -> bool:
            return not (r["pharmacist"] == self.pharmacist
                        and r["placement"] == self.placement
                        and self.period in (None, r.get("period")))

        if not doc.drop("bans", keep):
            raise _OpError("no ban matches", "no_match")


class SetReference(_Override):
    """Set the reference allocation (§1 ``reference``): what re-planning should keep."""

    op: Literal["set_reference"] = "set_reference"
    assignments: tuple[ReferenceAssignment, ...] = Field(
        description="An earlier allocation (a §5 result's assignments will do); [] clears.")

    def describe(self) -> str:
        return f"set_reference ({len(self.assignments)} assignments)"

    def apply_to(self, doc: _Doc) -> None:
        doc.data["reference"] = [
            {"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
            for a in self.assignments]

    @classmethod
    def of(cls, result: Result) -> SetReference:
        """The override that makes ``result``'s allocation the reference."""
        return cls(assignments=tuple(
            ReferenceAssignment(pharmacist=a.pharmacist, period=a.period,
                                placement=a.placement) for a in result.assignments))


Override = Annotated[
    SetWeights | SetRules | AddPlacement | RemovePlacement | ClosePlacement | SetCapacity
    | UpdatePlacement | AddPharmacist | RemovePharmacist | UpdatePharmacist | SetUnavailable
    | Pin | Unpin | Ban | Unban | SetReference,
    Field(discriminator="op"),
]
"""One override: any of the override models, told apart by ``op``."""

_ADAPTER: TypeAdapter[Override] = TypeAdapter(Override)

OVERRIDE_OPS: tuple[str, ...] = (
    "set_weights", "set_rules", "add_placement", "remove_placement", "close_placement",
    "set_capacity", "update_placement", "add_pharmacist", "remove_pharmacist",
    "update_pharmacist", "set_unavailable", "pin", "unpin", "ban", "unban", "set_reference",
)
"""Every ``op`` an override may have."""

OVERRIDE_MODELS: dict[str, type[_Override]] = {
    str(cls.model_fields["op"].default): cls
    for cls in (SetWeights, SetRules, AddPlacement, RemovePlacement, ClosePlacement,
                SetCapacity, UpdatePlacement, AddPharmacist, RemovePharmacist,
                UpdatePharmacist, SetUnavailable, Pin, Unpin, Ban, Unban, SetReference)
}
"""The override model of each ``op``."""


def parse_overrides(items: Iterable[Any]) -> tuple[Override, ...]:
    """Overrides from JSON-like records (or override models, kept as they are).

    Raises :class:`InvalidRoundError` listing every malformed override, each problem at
    ``overrides[#n]`` (``index`` n - 1) with the field at fault.
    """
    if isinstance(items, Mapping | str | bytes):
        raise InvalidRoundError([Problem("overrides must be a list of records, each with an "
                                         "'op'", list="overrides", code="type")])
    out: list[Override] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        if isinstance(item, _Override):
            out.append(item)  # type: ignore[arg-type]
            continue
        try:
            out.append(_ADAPTER.validate_python(item))
        except ValidationError as exc:
            problems += _override_problems(exc, i, item)
    if problems:
        raise InvalidRoundError(problems)
    return tuple(out)


def _override_problems(exc: ValidationError, index: int, item: Any) -> list[Problem]:
    from matcher.validation import pydantic_problems

    op = item.get("op") if isinstance(item, Mapping) else None
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        if err["type"] in ("union_tag_invalid", "union_tag_not_found", "model_attributes_type",
                           "model_type"):
            what = "'op' is missing" if op is None else f"unknown op {str(op)[:40]!r}"
            if err["type"] in ("model_attributes_type", "model_type"):
                what = "an override must be an object with an 'op'"
            out.append(Problem(f"{what}; the ops are: " + ", ".join(OVERRIDE_OPS),
                               list="overrides", index=index, field="op", code="unknown_op"))
    if out:
        return out
    for p in pydantic_problems(exc, list_name="overrides", index=index, rec_id=None):
        field = p.field or ""
        if op and field.startswith(f"{op}."):
            field = field[len(op) + 1:]
        out.append(p.at(field=field or None, message=f"{op}: {p.message}"))
    return out


# ---- applying overrides --------------------------------------------------------------------


def apply_overrides(base: Round, overrides: Iterable[Any]) -> Round:
    """The base round with the overrides applied in order, validated (base unchanged).

    Raises :class:`InvalidRoundError` when an override is malformed, cannot apply (an
    unknown id, a placement still pinned...) or leaves the round invalid; every problem is
    at ``overrides[#n]`` and says which override (``op`` and target) and what is wrong.
    """
    ops = parse_overrides(overrides)
    if not ops:
        return base
    doc, failed = _apply_all(base, ops)
    if not failed:
        try:
            return Round.from_data(doc.data)
        except InvalidRoundError:
            pass  # attribute each problem to the override that introduced it, below
    raise InvalidRoundError(_attributed_problems(base, ops))


def _apply_all(base: Round, ops: Sequence[Override]
               ) -> tuple[_Doc, list[tuple[int, _OpError]]]:
    doc = _Doc(base.to_data())
    failed: list[tuple[int, _OpError]] = []
    for i, op in enumerate(ops):
        try:
            op.apply_to(doc)
        except _OpError as exc:
            failed.append((i, exc))
    return doc, failed


def _op_problem(i: int, op: Override, message: str, code: str, field: str | None = None
                ) -> Problem:
    return Problem(f"{op.describe()}: {message}", list="overrides", index=i, field=field,
                   code=code)


def _attributed_problems(base: Round, ops: Sequence[Override]) -> list[Problem]:
    """Every problem of applying ``ops``, each at the override that caused it.

    Ops that cannot apply are reported and skipped; the round is validated after each op
    that does apply, and a problem of the final round is blamed on the op after which it
    appeared (and stayed).
    """
    from matcher.validation import parse_round

    problems: list[Problem] = []
    doc = _Doc(base.to_data())
    since: dict[tuple[str, str, str], int] = {}  # problem -> op after which it appeared
    latest: dict[tuple[str, str, str], Problem] = {}
    for i, op in enumerate(ops):
        try:
            op.apply_to(doc)
        except _OpError as exc:
            problems.append(_op_problem(i, op, exc.message, exc.code, exc.field))
            continue
        try:
            parse_round(doc.data)
            current: list[Problem] = []
        except InvalidRoundError as exc:
            current = list(exc.problems)
        latest = {(p.code, p.where, p.message): p for p in current}
        since = {k: since.get(k, i) for k in latest}
    for key, p in latest.items():
        i = since[key]
        problems.append(_op_problem(i, ops[i], f"{p.where}: {p.message}", p.code))
    problems.sort(key=lambda p: p.index if p.index is not None else -1)
    return problems


# ---- the scenario --------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A what-if: a base round plus overrides, applied in order (the base is never changed).

    ``overrides`` may be given as JSON-like records or override models; they are parsed at
    construction (a malformed one raises :class:`InvalidRoundError` naming it). Whether they
    *apply* (ids exist, the round stays valid) is found by :meth:`apply`, which raises
    :class:`InvalidRoundError` naming the override at fault.
    """

    name: str
    base: Round
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("a scenario needs a non-empty name")
        object.__setattr__(self, "overrides", parse_overrides(self.overrides))

    def apply(self) -> Round:
        """The scenario's round: the base with every override applied, validated."""
        return apply_overrides(self.base, self.overrides)

    def with_overrides(self, *overrides: Any, name: str | None = None) -> Scenario:
        """A new scenario with more overrides after these (and a new name if given)."""
        return dataclasses.replace(self, name=name or self.name,
                                   overrides=(*self.overrides, *parse_overrides(overrides)))

    def replace(self, **changes: Any) -> Scenario:
        """A copy with fields replaced (``name``, ``base`` or ``overrides``)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> list[str]:
        """Each override in a few words, in order."""
        return [op.describe() for op in self.overrides]

    def to_dict(self, *, include_base: bool = True) -> dict[str, Any]:
        """The JSON-ready scenario document (without the base round if asked)."""
        out: dict[str, Any] = {"format": SCENARIO_FORMAT, "name": self.name,
                               "overrides": [op.to_dict() for op in self.overrides]}
        if include_base:
            out["base"] = self.base.to_data()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Round | None = None) -> Scenario:
        """Read a scenario document (:meth:`to_dict`); ``base`` stands in for a missing one.

        Raises :class:`InvalidRoundError` for an invalid base round or malformed overrides.
        """
        fmt = data.get("format", SCENARIO_FORMAT)
        if fmt != SCENARIO_FORMAT:
            raise InvalidRoundError([Problem(f"'format' must be \"{SCENARIO_FORMAT}\"",
                                             field="format", code="format")])
        if base is None:
            if "base" not in data:
                raise InvalidRoundError([Problem("the scenario has no base round",
                                                 field="base", code="missing")])
            base = Round.from_data(data["base"])
        return cls(name=str(data.get("name") or "scenario"), base=base,
                   overrides=tuple(data.get("overrides", ())))  # parsed in __post_init__


# ---- diff of two results -------------------------------------------------------------------


MoveKind = Literal["moved", "placed", "unplaced"]


@dataclass(frozen=True, slots=True)
class Move:
    """One (pharmacist, period, stream) whose placement differs between two results.

    ``before`` or ``after`` is ``None`` when the slot is empty on that side: ``kind`` is then
    ``placed`` (nothing -> a placement) or ``unplaced`` (a placement -> nothing), else
    ``moved``.
    """

    pharmacist: str
    period: str
    stream: str
    before: str | None
    after: str | None

    @property
    def kind(self) -> MoveKind:
        """``moved``, ``placed`` or ``unplaced``."""
        if self.before is None:
            return "placed"
        if self.after is None:
            return "unplaced"
        return "moved"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"pharmacist": self.pharmacist, "period": self.period, "stream": self.stream,
                "before": self.before, "after": self.after, "kind": self.kind}


class DiffFrames(NamedTuple):
    """A diff as tables: moves, objective parts and KPIs (columns ``before``, ``after``,
    ``delta``)."""

    moves: pd.DataFrame
    objective: pd.DataFrame
    kpis: pd.DataFrame


Number = int | float
_OBJECTIVE_PARTS = ("total", "preference", "hard_to_recruit", "population_health", "travel",
                    "unassigned_count", "shortfall", "fairness_min", "changes")


def _natural(value: str) -> tuple[Any, ...]:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", value))


def _delta(a: Number | None, b: Number | None) -> Number | None:
    if a is None or b is None:
        return None
    d = b - a
    return round(d, 6) if isinstance(d, float) else d


@dataclass(frozen=True)
class ResultDiff:
    """What changed from one result (``before``) to another (``after``).

    ``moves`` lists every (pharmacist, period, stream) whose placement differs;
    ``objective`` and ``kpis`` map a name to ``(before, after)``. Objectives of rounds with
    different weights measure different things: compare their KPIs.
    """

    before_label: str
    after_label: str
    status: tuple[str, str]
    moves: tuple[Move, ...]
    objective: Mapping[str, tuple[Number | None, Number | None]]
    kpis: Mapping[str, tuple[Number | None, Number | None]]

    @property
    def moved_pharmacists(self) -> tuple[str, ...]:
        """Pharmacists with at least one move, sorted."""
        return tuple(sorted({m.pharmacist for m in self.moves}, key=_natural))

    @property
    def objective_delta(self) -> Number | None:
        """after - before of the objective (``None`` if either has no solution)."""
        a, b = self.objective.get("total", (None, None))
        return _delta(a, b)

    def to_frames(self) -> DiffFrames:
        """Moves, objective parts and KPIs as DataFrames (the KPI table: every KPI)."""
        import pandas as pd

        moves = pd.DataFrame([m.to_dict() for m in self.moves],
                             columns=["pharmacist", "period", "stream", "before", "after",
                                      "kind"])

        def table(values: Mapping[str, tuple[Number | None, Number | None]], key: str
                  ) -> pd.DataFrame:
            rows = [{key: k, "before": a, "after": b, "delta": _delta(a, b)}
                    for k, (a, b) in values.items()]
            return pd.DataFrame(rows, columns=[key, "before", "after", "delta"])

        return DiffFrames(moves, table(self.objective, "part"), table(self.kpis, "kpi"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what the HTTP service returns)."""
        def rows(values: Mapping[str, tuple[Number | None, Number | None]]
                 ) -> dict[str, dict[str, Number | None]]:
            return {k: {"before": a, "after": b, "delta": _delta(a, b)}
                    for k, (a, b) in values.items()}

        return {"before": self.before_label, "after": self.after_label,
                "status": {"before": self.status[0], "after": self.status[1]},
                "moves": [m.to_dict() for m in self.moves],
                "moved_pharmacists": list(self.moved_pharmacists),
                "objective": rows(self.objective), "kpis": rows(self.kpis)}

    def to_text(self, *, max_moves: int = 50, all_kpis: bool = False) -> str:
        """A plain-text summary: headline, moves (at most ``max_moves``), changed KPIs."""
        a, b = self.objective.get("total", (None, None))
        head = (f"{self.before_label} -> {self.after_label}: status {self.status[0]} -> "
                f"{self.status[1]}, objective {_fmt(a)} -> {_fmt(b)}")
        if self.objective_delta is not None:
            head += f" ({self.objective_delta:+,})"
        n, k = len(self.moves), len(self.moved_pharmacists)
        lines = [head, f"{n} slot(s) changed for {k} pharmacist(s)"]
        if self.moves:
            width = max(len(m.pharmacist) for m in self.moves)
            swidth = max(len(m.stream) for m in self.moves)
            for m in self.moves[:max_moves]:
                lines.append(f"  {m.pharmacist:<{width}}  {m.period:<4} {m.stream:<{swidth}}  "
                             f"{m.before or '(none)'} -> {m.after or '(none)'}")
            if n > max_moves:
                lines.append(f"  ... and {n - max_moves} more")
        shown = [(name, x, y) for name, (x, y) in self.objective.items()
                 if all_kpis or x != y]
        if shown:
            lines.append("objective parts:")
            lines += _rows(shown)
        kpis = [(name, x, y) for name, (x, y) in self.kpis.items() if all_kpis or x != y]
        if kpis:
            lines.append("KPIs:" if all_kpis else "KPIs that changed:")
            lines += _rows(kpis)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _fmt(value: Number | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}"


def _rows(rows: Sequence[tuple[str, Number | None, Number | None]]) -> list[str]:
    width = max(len(r[0]) for r in rows)
    out = []
    for name, x, y in rows:
        d = _delta(x, y)
        sign = "" if d is None else (f"{d:+.4g}" if isinstance(d, float) else f"{d:+,}")
        out.append(f"  {name:<{width}}  {_fmt(x):>12} -> {_fmt(y):<12} {sign}")
    return out


def _flat_numbers(kpis: Mapping[str, Any]) -> dict[str, Number]:
    return {k: v for k, v in kpis.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def diff(before: Result, after: Result, *, labels: tuple[str, str] = ("before", "after"),
         round: Round | None = None) -> ResultDiff:
    """Compare two results (of the same round, or of a round and a scenario of it).

    A move is a (pharmacist, period, stream) whose placement differs, an empty slot
    counting as ``None``. ``round`` (optional) orders the moves by its period order; without
    it periods sort naturally (``R2`` before ``R10``).
    """
    def slots(r: Result) -> dict[tuple[str, str, str], str]:
        return {(a.pharmacist, a.period, a.stream): a.placement for a in r.assignments}

    a, b = slots(before), slots(after)
    order = round.period_index if round is not None else {}

    def key(s: tuple[str, str, str]) -> tuple[Any, ...]:
        return (_natural(s[0]), order.get(s[1], len(order)), _natural(s[1]), s[2])

    moves = tuple(Move(p, t, s, a.get((p, t, s)), b.get((p, t, s)))
                  for (p, t, s) in sorted(a.keys() | b.keys(), key=key)
                  if a.get((p, t, s)) != b.get((p, t, s)))
    parts_a = before.kpis.get("objective_parts") or {}
    parts_b = after.kpis.get("objective_parts") or {}
    objective: dict[str, tuple[Number | None, Number | None]] = {
        "total": (before.objective, after.objective)}
    for part in _OBJECTIVE_PARTS[1:]:
        if part in parts_a or part in parts_b:
            objective[part] = (parts_a.get(part), parts_b.get(part))
    ka, kb = _flat_numbers(before.kpis), _flat_numbers(after.kpis)
    kpis = {k: (ka.get(k), kb.get(k)) for k in [*ka, *(k for k in kb if k not in ka)]}
    return ResultDiff(labels[0], labels[1], (before.status, after.status), moves, objective,
                      kpis)


# ---- re-planning with little disruption ----------------------------------------------------


def minimal_change_weight(round: Round) -> int:
    """A ``weights.change`` so large that one change more never pays (lexicographic).

    It exceeds the widest possible swing of every other term of §4 over all allocations:
    per (pharmacist, period, stream) the spread of its candidates' scores, the unassigned
    penalty of every available slot, the shortfall of every min_fill seat and the largest
    fairness bonus. With it the solver first moves as few (pharmacist, period, stream)
    slots as it can, and only then maximises the rest of the objective.
    """
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
    """The round to re-plan with: ``reference`` set, ``weights.change`` set, and every
    reference assignment in a period before ``from_period`` pinned (those periods are
    already served and are kept as they were).

    ``reference`` is an earlier result of this round (or a variant of it), or its
    assignments. Reference entries whose pharmacist or placement is no longer in the round
    are dropped. ``change_weight`` ``None`` means :func:`minimal_change_weight`: as few
    changed (pharmacist, period, stream) slots as possible. Raises
    :class:`InvalidRoundError` if a kept assignment is no longer allowed (for example its
    placement closed from an earlier period).
    """
    from matcher.allocation import as_assignments
    from matcher.result import Result

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
    # The swing of the other terms does not depend on pins or the reference.
    weight = minimal_change_weight(round) if change_weight is None else change_weight
    return round.replace(reference=ref, pins=pins,
                         weights={**round.weights.model_dump(), "change": weight})


def replan(round: Round, reference: Result, *, from_period: str | None = None,
           change_weight: int | None = None, params: SolveParams | None = None) -> Result:
    """Re-plan ``round`` after a change, moving as little of ``reference`` as possible.

    Solves :func:`replan_round` (periods before ``from_period`` kept, ``reference`` and
    ``weights.change`` set), warm-started from ``reference`` (``params.hint``, unless one is
    given). The result's ``kpis["changes"]`` is §4's C: the (pharmacist, period, stream)
    slots that differ from the reference; :func:`diff` of the two results lists them.

    Example: a placement closes after period 1; re-plan periods 2 and 3::

        changed = base.replace(...)  # or Scenario(...).apply() with close_placement
        new = replan(changed, old_result, from_period="R2")
        print(diff(old_result, new).to_text())
    """
    from matcher.solve import SolveParams, solve

    params = params or SolveParams()
    if params.hint is None:
        params = dataclasses.replace(params, hint=reference)
    planned = replan_round(round, reference, from_period=from_period,
                           change_weight=change_weight)
    return solve(planned, params)

