"""What the intake workers run: read an upload, apply a scenario or a re-plan, within limits.

These functions run in the capped worker processes of :class:`service.intake.Intake`, never
in the API process, and import only the library. They return :class:`Prepared` (the stored
form of a valid round) or :class:`Refused` (every problem) rather than raising, so every
problem crosses the process boundary intact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.formats import SizeLimits, TooLarge, load_round_bytes_checked, round_bytes

__all__ = ["Prepared", "Refused", "apply_replan", "apply_scenario", "export_round",
           "read_upload", "warm_up"]


def warm_up() -> None:
    """Import what reading any round needs (a worker started ahead of its first upload)."""
    from matcher.eligibility import candidates  # local: the point is to import them now
    from matcher.formats import csv_io, excel_io  # local: as above
    from matcher.validation import parse_round  # local: as above
    from matcher.whatif import Scenario  # local: as above

    del candidates, csv_io, excel_io, parse_round, Scenario


@dataclass(frozen=True)
class Prepared:
    """A valid round as the store keeps it: its id, JSON document, summary and warnings."""

    round_id: str
    document: str
    summary: dict[str, Any]
    warnings: list[dict[str, Any]]

    @classmethod
    def of(cls, rnd: Round, warnings: list[Problem]) -> Prepared:
        """The stored form of ``rnd`` with its (located) warnings."""
        return cls(rnd.round.id, round_bytes(rnd, "json").decode("utf-8"), rnd.summary(),
                   [w.to_dict() for w in warnings])


@dataclass(frozen=True)
class Refused:
    """A round that cannot be accepted: every problem, and whether it was too large."""

    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    too_large: bool = False


def _refused(exc: InvalidRoundError) -> Refused:
    return Refused(list(exc.problems), list(exc.warnings), isinstance(exc, TooLarge))


def read_upload(data: bytes, fmt: str, source: str | None, postcodes: Path | None,
                limits: SizeLimits) -> Prepared | Refused:
    """Read and validate an upload (json, xlsx or zip) within ``limits`` (in a worker)."""
    try:
        rnd, warnings = load_round_bytes_checked(data, fmt,  # type: ignore[arg-type]
                                                 source=source, postcodes=postcodes,
                                                 limits=limits)
    except InvalidRoundError as exc:
        return _refused(exc)
    return Prepared.of(rnd, warnings)


def _checked(rnd: Round, limits: SizeLimits) -> Prepared:
    from matcher.eligibility import candidates  # local: numpy; only workers need it
    from matcher.validation import round_warnings  # local: as above

    limits.check_counts({"pharmacists": len(rnd.pharmacists),
                         "placements": len(rnd.placements)}, None)
    cand = candidates(rnd)
    limits.check_candidates(len(cand), None)
    return Prepared.of(rnd, round_warnings(rnd, cand))


def apply_scenario(base_document: str, name: str, overrides: list[dict[str, Any]],
                   limits: SizeLimits) -> Prepared | Refused:
    """The stored round with a scenario's overrides applied (in a worker)."""
    from matcher.validation import parse_round  # local: workers load the library's heavy parts
    from matcher.whatif import Scenario, parse_overrides  # local: as above

    try:
        base = parse_round(json.loads(base_document))
        changed = Scenario(name, base, parse_overrides(overrides)).apply()
        return _checked(changed, limits)
    except InvalidRoundError as exc:
        return _refused(exc)


def apply_replan(base_document: str, result_document: str, name: str,
                 overrides: list[dict[str, Any]], from_period: str,
                 limits: SizeLimits) -> Prepared | Refused:
    """The round of a re-plan from ``from_period``: the stored round with the overrides,
    the stored result as the plan in force (:func:`matcher.whatif.replan_round`)."""
    from matcher.result import Result  # local: workers load the library's heavy parts
    from matcher.validation import parse_round  # local: as above
    from matcher.whatif import Scenario, parse_overrides, replan_round  # local: as above

    try:
        base = parse_round(json.loads(base_document))
        changed = (Scenario(name, base, parse_overrides(overrides)).apply() if overrides
                   else base)
        planned = replan_round(changed, Result.from_dict(json.loads(result_document)),
                               from_period=from_period)
        return _checked(planned, limits)
    except InvalidRoundError as exc:
        return _refused(exc)


def export_round(document: str, fmt: str) -> bytes | Refused:
    """A stored round as a file (``xlsx`` or ``zip``, a CSV bundle); :class:`Refused` when
    a table cannot hold it (an id with ``;``, say), with every problem."""
    from matcher.validation import parse_round  # local: workers load the library's heavy parts

    try:
        return round_bytes(parse_round(json.loads(document)), fmt)  # type: ignore[arg-type]
    except InvalidRoundError as exc:  # FormatError included
        return _refused(exc)
