"""Scenario overrides: the operations of a what-if, one model per ``op``.

An override is a small JSON-serialisable record with an ``op`` (the ``overrides`` of a
``spin-scenario/1`` document). Each op has a frozen pydantic model here that rejects
unknown fields, says what it does in a few words (``describe``) and edits the round's data
(``apply_to``); :data:`Override` is their union, told apart by ``op``. Parsing records into
these models and applying them to a round, every problem attributed to the override at
fault, is :mod:`matcher.whatif.apply`.

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

Each model is named after its ``op`` (``set_weights``: :class:`SetWeights`), except the
pins and bans: ``pin``, ``unpin``, ``ban`` and ``unban`` are :class:`AddPin`,
:class:`RemovePin`, :class:`AddBan` and :class:`RemoveBan`, because ``Pin`` and ``Ban``
are the round's own records (:class:`matcher.domain.Pin`, :class:`matcher.domain.Ban`).

Removing a placement withdraws it from the offer: it leaves every preference list (later
preferences move up a rank), every supervisor's list, the bans, the travel overrides and
the reference. A placement still in someone's ``history`` cannot be removed (history
counts for rotation and sector rules): close it instead. A pin to it is an error too: the
pin was a decision about that placement, so unpin it first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from matcher.domain import (
    Id,
    NonNegInt,
    Pharmacist,
    Placement,
    ReferenceAssignment,
    Rules,
    Weights,
)

if TYPE_CHECKING:
    from matcher.result import Result

__all__ = [
    "OVERRIDE_MODELS",
    "OVERRIDE_OPS",
    "AddBan",
    "AddPharmacist",
    "AddPin",
    "AddPlacement",
    "ClosePlacement",
    "Override",
    "RemoveBan",
    "RemovePharmacist",
    "RemovePin",
    "RemovePlacement",
    "SetCapacity",
    "SetReference",
    "SetRules",
    "SetUnavailable",
    "SetWeights",
    "UpdatePharmacist",
    "UpdatePlacement",
]


# OverrideError, RoundDoc and OverrideModel are the machinery the models share with
# matcher.whatif.apply; not part of the package's API.


class OverrideError(Exception):
    """An override that cannot be applied to the round as it stands."""

    def __init__(self, message: str, code: str = "invalid_override", field: str | None = None
                 ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class RoundDoc:
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
        raise OverrideError(f"unknown {noun} id {rec_id!r}", "unknown_reference", field)

    def has(self, name: str, rec_id: str) -> bool:
        return any(rec.get("id") == rec_id for rec in self.records(name))

    def period(self, period_id: str, field: str) -> int:
        ids = self.period_ids
        if period_id not in ids:
            raise OverrideError(f"unknown period id {period_id!r}; the periods are: "
                           + ", ".join(ids), "unknown_reference", field)
        return ids.index(period_id)

    def drop(self, name: str, keep: Any) -> int:
        """Keep the records of list ``name`` for which ``keep(record)``; how many went."""
        before = self.records(name)
        after = [r for r in before if keep(r)]
        self.data[name] = after
        return len(before) - len(after)


class OverrideModel(BaseModel):
    """Base of every override: frozen, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def describe(self) -> str:
        """The override in a few words, for messages (``close_placement GP-X from R2``)."""
        raise NotImplementedError

    def apply_to(self, doc: RoundDoc) -> None:
        """Edit the round's data in place; raise ``OverrideError`` when it cannot apply."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready record (``op`` first)."""
        return self.model_dump(mode="json", exclude_none=True)


def _patch(section: str, allowed: Iterable[str], patch: Mapping[str, Any], doc: RoundDoc,
           field: str) -> None:
    names = list(allowed)
    for key in patch:
        if key not in names:
            raise OverrideError(f"unknown {section[:-1]} {key!r}; the {section} are: "
                           + ", ".join(names), "unknown_field", f"{field}.{key}")
    doc.data.setdefault(section, {}).update(patch)


class SetWeights(OverrideModel):
    """Set some weights of the objective (§4); the others keep their value."""

    op: Literal["set_weights"] = "set_weights"
    weights: dict[str, NonNegInt] = Field(
        min_length=1, description="Weights to set, for example {\"hard_to_recruit\": 60}.")

    def describe(self) -> str:
        return "set_weights " + ", ".join(f"{k}={v}" for k, v in self.weights.items())

    def apply_to(self, doc: RoundDoc) -> None:
        _patch("weights", Weights.model_fields, self.weights, doc, "weights")


class SetRules(OverrideModel):
    """Set some rules of the scheme (§1 ``rules``); the others keep their value."""

    op: Literal["set_rules"] = "set_rules"
    rules: dict[str, Any] = Field(
        min_length=1, description="Rules to set, for example {\"min_distinct_sectors\": 2}.")

    def describe(self) -> str:
        return "set_rules " + ", ".join(f"{k}={v}" for k, v in self.rules.items())

    def apply_to(self, doc: RoundDoc) -> None:
        _patch("rules", Rules.model_fields, self.rules, doc, "rules")


class AddPlacement(OverrideModel):
    """Offer a new placement (a whole placement record, as in §1)."""

    op: Literal["add_placement"] = "add_placement"
    placement: Placement = Field(description="The new placement.")

    def describe(self) -> str:
        return f"add_placement {self.placement.id}"

    def apply_to(self, doc: RoundDoc) -> None:
        if doc.has("placements", self.placement.id):
            raise OverrideError(f"placement {self.placement.id!r} already exists; use "
                           "update_placement or set_capacity to change it", "duplicate_id",
                           "placement.id")
        doc.records("placements").append(
            self.placement.model_dump(mode="json", exclude_none=True))


class RemovePlacement(OverrideModel):
    """Withdraw a placement altogether (see the module docstring for what goes with it)."""

    op: Literal["remove_placement"] = "remove_placement"
    placement: Id = Field(description="Id of the placement to remove.")

    def describe(self) -> str:
        return f"remove_placement {self.placement}"

    def apply_to(self, doc: RoundDoc) -> None:
        pid = self.placement
        doc.find("placements", pid, "placement")
        pinned = [f"{p['pharmacist']} in {p['period']} (pins[#{i + 1}])"
                  for i, p in enumerate(doc.records("pins")) if p["placement"] == pid]
        if pinned:
            raise OverrideError(f"{pid} is pinned for " + "; ".join(pinned) + ": unpin first "
                           "(op 'unpin')", "pinned", "placement")
        done = [ph["id"] for ph in doc.records("pharmacists") if pid in ph.get("history", ())]
        if done:
            raise OverrideError(f"{pid} is in the history of " + ", ".join(done) + "; close it "
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


class ClosePlacement(OverrideModel):
    """Close a placement from a period on: capacity and min_fill 0 from then."""

    op: Literal["close_placement"] = "close_placement"
    placement: Id = Field(description="Id of the placement that closes.")
    from_period: Id | None = Field(
        None, description="First period it is closed (absent: every period).")

    def describe(self) -> str:
        return f"close_placement {self.placement}" + (
            f" from {self.from_period}" if self.from_period else "")

    def apply_to(self, doc: RoundDoc) -> None:
        pl = doc.find("placements", self.placement, "placement")
        start = 0 if self.from_period is None else doc.period(self.from_period, "from_period")
        periods = doc.period_ids
        for key in ("capacity", "min_fill"):
            values = _per_period(pl.get(key, 0), periods)
            for t in periods[start:]:
                values[t] = 0
            pl[key] = values


class SetCapacity(OverrideModel):
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

    def apply_to(self, doc: RoundDoc) -> None:
        pl = doc.find("placements", self.placement, "placement")
        if self.period is None:
            pl["capacity"] = self.capacity
            return
        doc.period(self.period, "period")
        if not isinstance(self.capacity, int):
            raise OverrideError("with a period, capacity must be a whole number", "type",
                           "capacity")
        values = _per_period(pl["capacity"], doc.period_ids)
        values[self.period] = self.capacity
        pl["capacity"] = values


def _update(doc: RoundDoc, name: str, rec_id: str, fields: Mapping[str, Any], field: str) -> None:
    rec = doc.find(name, rec_id, field)
    if "id" in fields:
        raise OverrideError(f"an id cannot be changed; remove the {name[:-1]} and add it under "
                       "the new id", "invalid_override", "fields.id")
    rec.update(copy.deepcopy(dict(fields)))


class UpdatePlacement(OverrideModel):
    """Set fields of a placement (for example ``hard_to_recruit``); not its id."""

    op: Literal["update_placement"] = "update_placement"
    placement: Id = Field(description="Id of the placement.")
    fields: dict[str, Any] = Field(min_length=1, description="Fields to set (whole values).")

    def describe(self) -> str:
        return f"update_placement {self.placement} " + ", ".join(self.fields)

    def apply_to(self, doc: RoundDoc) -> None:
        _update(doc, "placements", self.placement, self.fields, "placement")


class AddPharmacist(OverrideModel):
    """A pharmacist joins the cohort (a whole pharmacist record, as in §1)."""

    op: Literal["add_pharmacist"] = "add_pharmacist"
    pharmacist: Pharmacist = Field(description="The new pharmacist.")

    def describe(self) -> str:
        return f"add_pharmacist {self.pharmacist.id}"

    def apply_to(self, doc: RoundDoc) -> None:
        if doc.has("pharmacists", self.pharmacist.id):
            raise OverrideError(f"pharmacist {self.pharmacist.id!r} already exists",
                           "duplicate_id", "pharmacist.id")
        doc.records("pharmacists").append(
            self.pharmacist.model_dump(mode="json", exclude_none=True))


class RemovePharmacist(OverrideModel):
    """A pharmacist leaves the cohort; their pins, bans, travel and reference entries go."""

    op: Literal["remove_pharmacist"] = "remove_pharmacist"
    pharmacist: Id = Field(description="Id of the pharmacist who leaves.")

    def describe(self) -> str:
        return f"remove_pharmacist {self.pharmacist}"

    def apply_to(self, doc: RoundDoc) -> None:
        doc.find("pharmacists", self.pharmacist, "pharmacist")
        doc.drop("pharmacists", lambda r: r["id"] != self.pharmacist)
        for name in ("pins", "bans", "travel", "reference"):
            doc.drop(name, lambda r: r["pharmacist"] != self.pharmacist)


class UpdatePharmacist(OverrideModel):
    """Set fields of a pharmacist (for example ``max_travel_km``); not their id."""

    op: Literal["update_pharmacist"] = "update_pharmacist"
    pharmacist: Id = Field(description="Id of the pharmacist.")
    fields: dict[str, Any] = Field(min_length=1, description="Fields to set (whole values).")

    def describe(self) -> str:
        return f"update_pharmacist {self.pharmacist} " + ", ".join(self.fields)

    def apply_to(self, doc: RoundDoc) -> None:
        _update(doc, "pharmacists", self.pharmacist, self.fields, "pharmacist")


class SetUnavailable(OverrideModel):
    """A pharmacist goes on leave: periods added to their ``unavailable`` list."""

    op: Literal["set_unavailable"] = "set_unavailable"
    pharmacist: Id = Field(description="Id of the pharmacist.")
    periods: tuple[Id, ...] = Field((), description="Periods of leave.")
    from_period: Id | None = Field(
        None, description="On leave from this period to the end of the round.")

    def describe(self) -> str:
        parts = list(self.periods) + ([f"from {self.from_period}"] if self.from_period else [])
        return f"set_unavailable {self.pharmacist} " + " ".join(parts)

    def apply_to(self, doc: RoundDoc) -> None:
        ph = doc.find("pharmacists", self.pharmacist, "pharmacist")
        if not self.periods and self.from_period is None:
            raise OverrideError("give the periods of leave ('periods') or 'from_period'",
                           "missing", "periods")
        off = set(ph.get("unavailable", ()))
        for j, t in enumerate(self.periods):
            doc.period(t, f"periods.{j + 1}")
            off.add(t)
        if self.from_period is not None:
            start = doc.period(self.from_period, "from_period")
            off.update(doc.period_ids[start:])
        ph["unavailable"] = [t for t in doc.period_ids if t in off]


def _check_ids(doc: RoundDoc, pharmacist: str, placement: str | None, period: str | None) -> None:
    doc.find("pharmacists", pharmacist, "pharmacist")
    if placement is not None:
        doc.find("placements", placement, "placement")
    if period is not None:
        doc.period(period, "period")


class AddPin(OverrideModel):
    """An assignment that must hold (added to ``pins``)."""

    op: Literal["pin"] = "pin"
    pharmacist: Id = Field(description="Pharmacist id.")
    period: Id = Field(description="Period id.")
    placement: Id = Field(description="Placement id.")

    def describe(self) -> str:
        return f"pin {self.pharmacist} to {self.placement} in {self.period}"

    def apply_to(self, doc: RoundDoc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)
        record = {"pharmacist": self.pharmacist, "period": self.period,
                  "placement": self.placement}
        if record not in doc.records("pins"):
            doc.records("pins").append(record)


class RemovePin(OverrideModel):
    """Remove pins of a pharmacist (those of one period and/or placement when given)."""

    op: Literal["unpin"] = "unpin"
    pharmacist: Id = Field(description="Pharmacist id.")
    period: Id | None = Field(None, description="Only the pin in this period.")
    placement: Id | None = Field(None, description="Only pins to this placement.")

    def describe(self) -> str:
        return " ".join(x for x in ("unpin", self.pharmacist, self.placement,
                                     self.period and f"in {self.period}") if x)

    def apply_to(self, doc: RoundDoc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)

        def keep(r: Mapping[str, Any]) -> bool:
            return not (r["pharmacist"] == self.pharmacist
                        and self.period in (None, r["period"])
                        and self.placement in (None, r["placement"]))

        if not doc.drop("pins", keep):
            raise OverrideError("no pin matches", "no_match")


class AddBan(OverrideModel):
    """A pharmacist-placement pair that must not happen (in one period, or in every one)."""

    op: Literal["ban"] = "ban"
    pharmacist: Id = Field(description="Pharmacist id.")
    placement: Id = Field(description="Placement id.")
    period: Id | None = Field(None, description="Period id; absent means every period.")

    def describe(self) -> str:
        return f"ban {self.pharmacist} from {self.placement}" + (
            f" in {self.period}" if self.period else "")

    def apply_to(self, doc: RoundDoc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)
        record: dict[str, Any] = {"pharmacist": self.pharmacist, "placement": self.placement}
        if self.period is not None:
            record["period"] = self.period
        if record not in doc.records("bans"):
            doc.records("bans").append(record)


class RemoveBan(OverrideModel):
    """Lift bans of a pharmacist-placement pair (only the one of ``period`` when given)."""

    op: Literal["unban"] = "unban"
    pharmacist: Id = Field(description="Pharmacist id.")
    placement: Id = Field(description="Placement id.")
    period: Id | None = Field(None, description="Only the ban of this period.")

    def describe(self) -> str:
        return f"unban {self.pharmacist} from {self.placement}" + (
            f" in {self.period}" if self.period else "")

    def apply_to(self, doc: RoundDoc) -> None:
        _check_ids(doc, self.pharmacist, self.placement, self.period)

        def keep(r: Mapping[str, Any]) -> bool:
            return not (r["pharmacist"] == self.pharmacist
                        and r["placement"] == self.placement
                        and self.period in (None, r.get("period")))

        if not doc.drop("bans", keep):
            raise OverrideError("no ban matches", "no_match")


class SetReference(OverrideModel):
    """Set the reference allocation (§1 ``reference``): what re-planning should keep."""

    op: Literal["set_reference"] = "set_reference"
    assignments: tuple[ReferenceAssignment, ...] = Field(
        description="An earlier allocation (a §5 result's assignments will do); [] clears.")

    def describe(self) -> str:
        return f"set_reference ({len(self.assignments)} assignments)"

    def apply_to(self, doc: RoundDoc) -> None:
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
    | AddPin | RemovePin | AddBan | RemoveBan | SetReference,
    Field(discriminator="op"),
]
"""One override: any of the override models, told apart by ``op``."""

OVERRIDE_OPS: tuple[str, ...] = (
    "set_weights", "set_rules", "add_placement", "remove_placement", "close_placement",
    "set_capacity", "update_placement", "add_pharmacist", "remove_pharmacist",
    "update_pharmacist", "set_unavailable", "pin", "unpin", "ban", "unban", "set_reference",
)
"""Every ``op`` an override may have."""

OVERRIDE_MODELS: dict[str, type[OverrideModel]] = {
    str(cls.model_fields["op"].default): cls
    for cls in (SetWeights, SetRules, AddPlacement, RemovePlacement, ClosePlacement,
                SetCapacity, UpdatePlacement, AddPharmacist, RemovePharmacist,
                UpdatePharmacist, SetUnavailable, AddPin, RemovePin, AddBan, RemoveBan,
                SetReference)
}
"""The override model of each ``op``."""

