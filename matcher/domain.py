"""The rotation round: immutable, validated pydantic models of spec §1.

Every record is frozen and rejects unknown fields. This module is the bottom layer: it
imports nothing else of the library but :mod:`matcher.display` (HTML tables, stdlib only).
Rounds come from :func:`matcher.validation.parse_round` (what every reader uses), which
checks them field by field *and* across records (ids unique, references resolve, pins
eligible), with every problem reported at once as :class:`matcher.errors.InvalidRoundError`;
``Round.model_validate(data)`` checks fields only. Make a validated variant with
:func:`matcher.validation.with_changes`. In a notebook a round shows as a table of its size
and shape (``_repr_html_``: counts and ids only, never names or homes).

Index helpers (``round.placement_index``, ``round.capacity(l, t)``...) are computed once per
round and cached: the model is immutable, so they never go stale.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from matcher.display import key_values

FORMAT = "spin-round/1"
IMPLICIT_STREAM_ID = "rotation"

Sector = Literal[
    "general_practice",
    "community_pharmacy",
    "hospital",
    "mental_health",
    "community_services",
    "integrated_care",
]
SECTORS: tuple[str, ...] = (
    "general_practice",
    "community_pharmacy",
    "hospital",
    "mental_health",
    "community_services",
    "integrated_care",
)
SupervisesWhom = Literal["all", "non_prescribers", "early_years"]

MAX_ID_LENGTH = 100
"""Longest id (characters)."""
MAX_TEXT_LENGTH = 500
"""Longest free text: a name, a place, a kind, a role."""
MAX_COUNT = 100_000
"""Largest count of pharmacists: a capacity, a min_fill, an organisation's or a supervisor's
cap. The spec sets no upper bound; this one keeps every sum of the model far inside 64 bits."""
MAX_COST = 100_000
"""Largest travel cost and furthest travel (in the round's travel unit)."""
MAX_WEIGHT = 1_000_000
"""Largest objective weight: the objective stays far inside 64 bits with every other
number at its own limit."""
MAX_CHANGE_WEIGHT = 10**12
"""Largest ``weights.change``: room for the lexicographic weight re-planning picks
(:func:`matcher.whatif.replanning.minimal_change_weight`) on a national round, while the
change penalty of every slot still fits in 64 bits."""
MAX_WEEKS = 520
"""Longest period (weeks: ten years)."""
MAX_IGNORED = 2**63 - 1
"""Bound of the ignored numbers of a reused result (``score``, ``terms``): 64 bits."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    """An id is printable text: no control characters, tabs, line breaks, unusual spaces or
    invisible formatting characters (they break exports, databases and look-alikes)."""
    if not value.isprintable():
        raise PydanticCustomError(
            "id_not_printable", "an id must be printable text: no control characters, "
            "tabs, line breaks, non-breaking or other unusual spaces, or invisible "
            "formatting characters")
    return value


def _storable(value: str) -> str:
    """Free text holds no control characters but tab and line breaks (what a workbook
    cell can store)."""
    if _CONTROL.search(value):
        raise PydanticCustomError(
            "text_control_characters", "must not hold control characters (only letters, "
            "digits, punctuation, spaces, tabs and line breaks)")
    return value


Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH,
                          description="A non-empty identifier: printable text, at most "
                          f"{MAX_ID_LENGTH} characters."), AfterValidator(_printable)]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_storable)]
NonNegInt = Annotated[int, Field(ge=0, le=MAX_COUNT)]
PerPeriodInt = NonNegInt | dict[Id, NonNegInt]
Weight = Annotated[int, Field(ge=0, le=MAX_WEIGHT)]


class Record(BaseModel):
    """Base of every round model: frozen, unknown fields rejected, whitespace stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class RoundInfo(Record):
    """Identity of the round."""

    id: Id = Field("round", description="Identifier of the round, echoed in the result.")
    name: Text | None = Field(None, description="Human-readable title of the round.")
    ics: Text | None = Field(None, description="The Integrated Care System running the round.")


class Period(Record):
    """A rotation period (for example four months). Periods are listed in time order."""

    id: Id = Field(description="Unique period id, for example 'R1'.")
    start: dt.date | None = Field(None, description="First day of the period (ISO date).")
    weeks: int | None = Field(None, ge=1, le=MAX_WEEKS,
                              description="Length of the period in weeks.")


class Stream(Record):
    """A strand of portfolio working held in parallel with the others in every period."""

    id: Id = Field(description="Unique stream id, for example 'practice' or 'host'.")
    sessions: int | None = Field(
        None, ge=0, le=10, description="Sessions a week in this stream (informational)."
    )
    rotate: bool = Field(
        True,
        description="True: never the same placement twice (history included). False: the "
        "same placement in every period the pharmacist holds one (continuity).",
    )


class Organisation(Record):
    """A practice, PCN, trust or community pharmacy company hosting placements."""

    id: Id = Field(description="Unique organisation id.")
    name: Text | None = Field(None, description="Display name; defaults to the id.")
    kind: Text | None = Field(
        None, description="Kind of organisation, for example 'pcn', 'acute_trust'."
    )
    place: Text | None = Field(None, description="Place (borough) the organisation is in.")
    max_pharmacists: int | None = Field(
        None,
        ge=0,
        le=MAX_COUNT,
        description="At most this many pharmacists across its placements in one period.",
    )


class Location(Record):
    """A point on the earth, in decimal degrees (WGS84)."""

    lat: float = Field(ge=-90, le=90, description="Latitude in degrees, -90 to 90.")
    lon: float = Field(ge=-180, le=180, description="Longitude in degrees, -180 to 180.")


class Requirements(Record):
    """What a pharmacist needs to hold a placement."""

    independent_prescriber: bool = Field(
        False, description="Only independent prescribers may hold the placement."
    )
    min_experience_years: float = Field(
        0, ge=0, le=60, description="Minimum years of experience as a pharmacist."
    )
    skills: tuple[Id, ...] = Field((), description="Skills the pharmacist must all have.")


class Placement(Record):
    """One offered seat type: who hosts it, where, how many, how much it matters."""

    id: Id = Field(description="Unique placement id.")
    name: Text | None = Field(None, description="Display name; defaults to the id.")
    organisation: Id | None = Field(None, description="Id of the hosting organisation.")
    stream: Id | None = Field(
        None, description="Stream the placement belongs to (required when streams are declared)."
    )
    sector: Sector = Field(description="Sector of practice.")
    place: Text | None = Field(None, description="Place (borough) of the placement.")
    location: Location = Field(description="Where the placement is.")
    capacity: PerPeriodInt = Field(
        description="Most pharmacists per period: an integer, or {period_id: integer} "
        "(a period left out has capacity 0)."
    )
    min_fill: PerPeriodInt = Field(
        0,
        description="How many the placement should get per period (soft: a shortfall costs "
        "weights.shortfall each); integer or {period_id: integer}.",
    )
    hard_to_recruit: int = Field(0, ge=0, le=3, description="0 (not) to 3 (hardest to recruit).")
    population_health: int = Field(
        0, ge=0, le=100, description="Population-health priority, 0 to 100."
    )
    requires: Requirements = Field(
        default_factory=Requirements, description="Who may hold it."
    )

    def capacity_in(self, period_id: str) -> int:
        """Capacity in one period (0 for a period left out of a per-period capacity)."""
        return _per_period(self.capacity, period_id)

    def min_fill_in(self, period_id: str) -> int:
        """min_fill in one period (0 for a period left out of a per-period value)."""
        return _per_period(self.min_fill, period_id)


def _per_period(value: int | Mapping[str, int], period_id: str) -> int:
    if isinstance(value, int):
        return value
    return int(value.get(period_id, 0))


class Supervisor(Record):
    """A supervisor (for example a designated prescribing practitioner) over some placements."""

    id: Id = Field(description="Unique supervisor id.")
    name: Text | None = Field(None, description="Display name; defaults to the id.")
    role: Text | None = Field(None, description="Role, for example 'prescribing' or 'educational'.")
    supervises: SupervisesWhom = Field(
        "all",
        description="Whom the supervisor counts: 'all', 'non_prescribers' (not independent "
        "prescribers) or 'early_years' (experience_years below 2).",
    )
    placements: tuple[Id, ...] = Field(description="Placements the supervisor covers.")
    capacity: int = Field(ge=0, le=MAX_COUNT,
                          description="Most counted pharmacists per period.")

    def counts(self, pharmacist: Pharmacist) -> bool:
        """Whether this supervisor counts the pharmacist against its capacity."""
        if self.supervises == "non_prescribers":
            return not pharmacist.independent_prescriber
        if self.supervises == "early_years":
            return pharmacist.experience_years < EARLY_YEARS
        return True


EARLY_YEARS = 2.0


class Pharmacist(Record):
    """A pharmacist in the cohort."""

    id: Id = Field(description="Unique pharmacist id.")
    name: Text | None = Field(None, description="Name (personal data: never logged).")
    home: Location = Field(description="Home location (personal data: never logged).")
    max_travel_km: float | None = Field(
        None, ge=0, le=MAX_COST,
        description="Furthest travel accepted; defaults to rules.max_travel_km."
    )
    independent_prescriber: bool = Field(False, description="Is an independent prescriber.")
    experience_years: float = Field(0, ge=0, le=60, description="Years of experience.")
    skills: tuple[Id, ...] = Field((), description="Skills held.")
    unavailable: tuple[Id, ...] = Field((), description="Period ids on leave.")
    history: tuple[Id, ...] = Field(
        (), description="Placement ids already done in this programme."
    )
    preferences: tuple[Id, ...] = Field((), description="Placement ids, best first.")

    @cached_property
    def preference_rank(self) -> dict[str, int]:
        """Placement id -> its 1-based rank in ``preferences`` (absent: not ranked)."""
        ranks: dict[str, int] = {}
        for position, placement_id in enumerate(self.preferences, start=1):
            ranks.setdefault(placement_id, position)
        return ranks


class Pin(Record):
    """An assignment that must hold."""

    pharmacist: Id = Field(description="Pharmacist id.")
    period: Id = Field(description="Period id.")
    placement: Id = Field(description="Placement id.")


class Ban(Record):
    """A pharmacist-placement pair that must not happen (in one period, or in all)."""

    pharmacist: Id = Field(description="Pharmacist id.")
    placement: Id = Field(description="Placement id.")
    period: Id | None = Field(None, description="Period id; null or absent means every period.")


class TravelCost(Record):
    """An explicit travel cost that replaces the computed distance for one pair."""

    pharmacist: Id = Field(description="Pharmacist id.")
    placement: Id = Field(description="Placement id.")
    cost: int = Field(ge=0, le=MAX_COST,
                      description="Cost in the unit of max_travel_km (whole units).")


class ReferenceAssignment(Record):
    """One assignment of an earlier allocation of this round (for re-planning)."""

    pharmacist: Id = Field(description="Pharmacist id.")
    period: Id = Field(description="Period id.")
    placement: Id = Field(description="Placement id.")
    stream: Id | None = Field(
        None, description="Stream (optional; it follows from the placement)."
    )
    score: int | None = Field(None, ge=-MAX_IGNORED, le=MAX_IGNORED,
                              description="Ignored: accepted so results can be reused.")
    terms: dict[str, Annotated[int, Field(ge=-MAX_IGNORED, le=MAX_IGNORED)]] | None = Field(
        None, description="Ignored: accepted so results can be reused."
    )


class Rules(Record):
    """Hard rules of the scheme."""

    min_distinct_sectors: int = Field(
        0, ge=0, le=len(SECTORS), description="Distinct sectors each pharmacist must cover."
    )
    required_sectors: tuple[Sector, ...] = Field(
        (), description="Sectors every available pharmacist must cover."
    )
    max_travel_km: float | None = Field(
        None, ge=0, le=MAX_COST, description="Default furthest travel (null: no limit)."
    )
    max_preferences: int = Field(10, ge=1, le=1000, description="Longest preference list.")
    allow_unassigned: bool = Field(
        True, description="False: every available pharmacist holds a placement in every stream."
    )


class Weights(Record):
    """Weights of the objective's terms (non-negative integers)."""

    preference: Weight = Field(10, description="Per preference point.")
    hard_to_recruit: Weight = Field(30, description="Per hard-to-recruit level.")
    population_health: Weight = Field(1, description="Per population-health point.")
    travel: Weight = Field(1, description="Per unit of travel (subtracted).")
    unassigned: Weight = Field(10000, description="Per unfilled pharmacist-period-stream.")
    shortfall: Weight = Field(1000, description="Per seat below min_fill.")
    fairness: Weight = Field(0, description="Per preference point of the worst-off.")
    change: Annotated[int, Field(ge=0, le=MAX_CHANGE_WEIGHT)] = Field(
        0, description="Per assignment changed from the reference.")


class Round(Record):
    """A whole rotation round (spec §1). Immutable; lists keep their given order."""

    format: Literal["spin-round/1"] = Field(description="Always 'spin-round/1'.")
    round: RoundInfo = Field(default_factory=RoundInfo, description="Identity of the round.")
    periods: tuple[Period, ...] = Field(min_length=1, description="Rotation periods in order.")
    streams: tuple[Stream, ...] = Field(
        (), description="Portfolio streams; absent means one rotating stream."
    )
    organisations: tuple[Organisation, ...] = Field((), description="Host organisations.")
    placements: tuple[Placement, ...] = Field(description="Offered placements.")
    supervisors: tuple[Supervisor, ...] = Field((), description="Supervisors.")
    pharmacists: tuple[Pharmacist, ...] = Field(description="The cohort.")
    pins: tuple[Pin, ...] = Field((), description="Assignments that must hold.")
    bans: tuple[Ban, ...] = Field((), description="Pairs that must not happen.")
    travel: tuple[TravelCost, ...] = Field((), description="Explicit travel costs.")
    reference: tuple[ReferenceAssignment, ...] = Field(
        (), description="An earlier allocation, for re-planning with little disruption."
    )
    rules: Rules = Field(default_factory=Rules, description="Hard rules.")
    weights: Weights = Field(default_factory=Weights, description="Objective weights.")

    # ---- construction: validated rounds come from matcher.validation.parse_round ----------

    def to_data(self) -> dict[str, Any]:
        """The canonical JSON-ready dict (defaults included, ``None`` fields dropped)."""
        return self.model_dump(mode="json", exclude_none=True)

    # ---- lookups (cached: the round is immutable) ----------------------------------------

    @cached_property
    def period_ids(self) -> tuple[str, ...]:
        """Period ids in order."""
        return tuple(t.id for t in self.periods)

    @cached_property
    def period_index(self) -> dict[str, int]:
        """Period id -> position."""
        return {t.id: i for i, t in enumerate(self.periods)}

    @cached_property
    def effective_streams(self) -> tuple[Stream, ...]:
        """Declared streams, or the implicit single rotating stream."""
        return self.streams or (Stream(id=IMPLICIT_STREAM_ID, rotate=True),)

    @cached_property
    def stream_index(self) -> dict[str, int]:
        """Stream id -> position in ``effective_streams``."""
        return {s.id: i for i, s in enumerate(self.effective_streams)}

    @cached_property
    def organisation_index(self) -> dict[str, int]:
        """Organisation id -> position."""
        return {o.id: i for i, o in enumerate(self.organisations)}

    @cached_property
    def placement_index(self) -> dict[str, int]:
        """Placement id -> position."""
        return {p.id: i for i, p in enumerate(self.placements)}

    @cached_property
    def pharmacist_index(self) -> dict[str, int]:
        """Pharmacist id -> position."""
        return {p.id: i for i, p in enumerate(self.pharmacists)}

    @cached_property
    def supervisor_index(self) -> dict[str, int]:
        """Supervisor id -> position."""
        return {s.id: i for i, s in enumerate(self.supervisors)}

    def placement(self, placement_id: str) -> Placement:
        """The placement with this id."""
        return self.placements[self.placement_index[placement_id]]

    def pharmacist(self, pharmacist_id: str) -> Pharmacist:
        """The pharmacist with this id."""
        return self.pharmacists[self.pharmacist_index[pharmacist_id]]

    def stream_of(self, placement: Placement) -> Stream:
        """The stream a placement belongs to (the implicit one when none are declared)."""
        if not self.streams:
            return self.effective_streams[0]
        assert placement.stream is not None
        return self.streams[self.stream_index[placement.stream]]

    def capacity(self, placement_id: str, period_id: str) -> int:
        """capacity(l, t) of the spec."""
        return self.placement(placement_id).capacity_in(period_id)

    def max_travel(self, pharmacist: Pharmacist) -> float | None:
        """The pharmacist's own travel limit, or the rules' default (None: no limit)."""
        if pharmacist.max_travel_km is not None:
            return pharmacist.max_travel_km
        return self.rules.max_travel_km

    def available_periods(self, pharmacist: Pharmacist) -> tuple[str, ...]:
        """Period ids the pharmacist is available in, in order."""
        off = set(pharmacist.unavailable)
        return tuple(t for t in self.period_ids if t not in off)

    def summary(self) -> dict[str, Any]:
        """Counts that describe the round's size and shape (no personal data)."""
        return {
            "round": self.round.id,
            "periods": len(self.periods),
            "streams": [s.id for s in self.effective_streams],
            "organisations": len(self.organisations),
            "placements": len(self.placements),
            "seats": sum(
                pl.capacity_in(t) for pl in self.placements for t in self.period_ids
            ),
            "supervisors": len(self.supervisors),
            "pharmacists": len(self.pharmacists),
            "pins": len(self.pins),
            "bans": len(self.bans),
            "travel_overrides": len(self.travel),
            "reference_assignments": len(self.reference),
        }

    def _repr_html_(self) -> str:
        """The round's size and shape as an HTML table (notebooks): counts and ids only."""
        s = self.summary()
        return key_values([
            ("pharmacists", s["pharmacists"]),
            ("placements", s["placements"]),
            ("seats (capacity over all periods)", s["seats"]),
            ("periods", f"{s['periods']} ({', '.join(self.period_ids)})"),
            ("streams", s["streams"]),
            ("organisations", s["organisations"]),
            ("supervisors", s["supervisors"]),
            ("pins", s["pins"]),
            ("bans", s["bans"]),
            ("travel overrides", s["travel_overrides"]),
            ("reference assignments", s["reference_assignments"]),
        ], caption=f"round {self.round.id} ({self.format})")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: one line of counts (the repr lists every record)."""
        s = self.summary()
        printer.text(f"round {s['round']}: {s['pharmacists']} pharmacists, {s['placements']} "
                     f"placements ({s['seats']} seats), {s['periods']} periods, streams "
                     f"{', '.join(s['streams'])}")


def plain(value: Any) -> Any:
    """Turn records (and tuples of records) into plain JSON-like data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


# Record models by the top-level list they appear in (readers and validation use this).
LIST_MODELS: dict[str, type[Record]] = {
    "periods": Period,
    "streams": Stream,
    "organisations": Organisation,
    "placements": Placement,
    "supervisors": Supervisor,
    "pharmacists": Pharmacist,
    "pins": Pin,
    "bans": Ban,
    "travel": TravelCost,
    "reference": ReferenceAssignment,
}
# Single-record sections.
SECTION_MODELS: dict[str, type[Record]] = {"round": RoundInfo, "rules": Rules, "weights": Weights}
