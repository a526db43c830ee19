"""Postcodes for homes and placements, resolved from a lookup file the planner supplies.

A placement's ``location`` or a pharmacist's ``home`` may be given as a UK postcode instead
of decimal latitude and longitude: ``{"postcode": "E1 6AN"}`` in JSON, a ``postcode``
column (or ``location.postcode`` / ``home.postcode``) in the placements and pharmacists
tables of a CSV bundle, workbook or DataFrames. The postcode is an input convenience: it is
resolved to ``lat`` and ``lon`` before validation, so the loaded :class:`~matcher.domain.Round`
holds coordinates only and a round written back out is plain ``spin-round/1``.

The lookup file is a CSV in the layout of the ONS Postcode Directory (ONSPD) or the National
Statistics Postcode Lookup: a header row with at least the columns ``pcds`` (the postcode),
``lat`` and ``long`` (WGS84 decimal degrees); other columns are ignored. Postcodes are
matched ignoring case and spaces (``e16an`` is ``E1 6AN``). The file is streamed once per
round and only the postcodes the round uses are kept, so the full national directory (about
2.7 million rows) works; a file cut down to the ICS's postcodes is quicker. Nothing is ever
fetched over the network.

Rules:

* when a record gives both coordinates and a postcode, the coordinates win and the postcode
  is not looked up;
* a postcode not in the file, or one the file has no location for (the directory's
  ``99.999999`` latitude), is an error at that record's row and column;
* postcodes without a lookup file are one error per table, naming what to pass;
* the lookup file's own problems (missing columns, unreadable) are reported with the
  round's, all at once.

Messages never quote a postcode (a home postcode is personal data): they say the table, row
and column only.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.validation import Origin, parse_round

__all__ = [
    "LOCATION_FIELDS",
    "LOOKUP_COLUMNS",
    "PostcodeHits",
    "PostcodeLookup",
    "Postcodes",
    "as_lookup",
    "normalise",
    "parse_round_with_postcodes",
    "resolve_postcodes",
]

LOCATION_FIELDS: Mapping[str, str] = {"placements": "location", "pharmacists": "home"}
"""The list whose records may give a postcode, and the location field it stands for."""
LOOKUP_COLUMNS: tuple[str, ...] = ("pcds", "lat", "long")
"""Columns the lookup file must have (ONS Postcode Directory layout)."""
_NO_LOCATION_LAT = 99.0  # the directory's latitude (99.999999) of a postcode without a location
_SPACE = re.compile(r"\s+")


def normalise(postcode: str) -> str:
    """A postcode as a lookup key: upper case, every space removed (``e1 6an`` -> ``E16AN``)."""
    return _SPACE.sub("", postcode).upper()


@dataclass
class PostcodeHits:
    """What one pass over the lookup file found for the postcodes asked for."""

    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)  # in the file, with or without a location
    no_location: set[str] = field(default_factory=set)  # in the file without a grid reference
    problems: list[Problem] = field(default_factory=list)
    usable: bool = True  # False when no postcode can be judged missing (no pcds column...)


@dataclass(frozen=True)
class PostcodeLookup:
    """A postcode lookup file (CSV, ONS Postcode Directory layout: ``pcds``, ``lat``,
    ``long``). Nothing is read until :meth:`find` is called."""

    path: Path

    @property
    def name(self) -> str:
        """The file's name, as messages show it."""
        return self.path.name or str(self.path)

    def find(self, wanted: Iterable[str]) -> PostcodeHits:
        """Stream the file once and keep the coordinates of the ``wanted`` postcodes
        (normalised keys). Problems of the file itself are returned, not raised."""
        keys = set(wanted)
        found = PostcodeHits()
        try:
            with self.path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                self._scan(csv.reader(handle), keys, found)
        except FileNotFoundError:
            found.usable = False
            found.problems.append(self._problem(
                "the postcode lookup file was not found; check the path given for it",
                "postcodes_not_found"))
        except (IsADirectoryError, PermissionError, OSError) as exc:
            found.usable = False
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            found.problems.append(self._problem(
                f"the postcode lookup file cannot be read ({reason})", "postcodes_unreadable"))
        except csv.Error as exc:
            found.usable = False
            found.problems.append(self._problem(
                f"the postcode lookup file is not a readable CSV file ({str(exc)[:80]})",
                "postcodes_unreadable"))
        return found

    def _scan(self, reader: Any, keys: set[str], found: PostcodeHits) -> None:
        header = next(reader, None)
        names = [str(h).strip().lower() for h in header or ()]
        missing = [c for c in LOOKUP_COLUMNS if c not in names]
        for column in missing:
            found.problems.append(self._problem(
                f"the postcode lookup file has no {column!r} column; it needs the columns "
                f"{', '.join(LOOKUP_COLUMNS)} in row 1 (the ONS Postcode Directory's CSV "
                "layout)", "postcodes_missing_column", row=1, column=column))
        if "pcds" in missing:
            found.usable = False
            return
        at = {c: names.index(c) for c in LOOKUP_COLUMNS if c in names}
        left = set(keys)
        for number, cells in enumerate(reader, start=2):
            if not left:
                break
            if len(cells) <= at["pcds"]:
                continue
            key = normalise(cells[at["pcds"]])
            if key not in left:
                continue
            left.discard(key)
            found.present.add(key)
            point = self._point(cells, at, number, found)
            if point is None:
                continue
            if point[0] > _NO_LOCATION_LAT:  # the directory's "no grid reference"
                found.no_location.add(key)
            else:
                found.points[key] = point

    def _point(self, cells: list[str], at: Mapping[str, int], number: int,
               found: PostcodeHits) -> tuple[float, float] | None:
        if "lat" not in at or "long" not in at:
            return None  # already reported: the file has no such column
        values = []
        for column in ("lat", "long"):
            text = cells[at[column]].strip() if len(cells) > at[column] else ""
            try:
                value = float(text)
            except ValueError:
                found.problems.append(self._problem(
                    f"{column} must be a number in decimal degrees", "postcodes_bad_value",
                    row=number, column=column))
                return None
            if not math.isfinite(value):
                found.problems.append(self._problem(
                    f"{column} must be a number in decimal degrees", "postcodes_bad_value",
                    row=number, column=column))
                return None
            values.append(value)
        return values[0], values[1]

    def _problem(self, message: str, code: str, *, row: int | None = None,
                 column: str | None = None) -> Problem:
        return Problem(message, source=self.name, row=row, column=column, code=code)


Postcodes = PostcodeLookup | str | os.PathLike[str] | None
"""What readers accept for ``postcodes=``: a lookup, the path of its file, or nothing."""


def as_lookup(postcodes: Postcodes) -> PostcodeLookup | None:
    """The lookup for a path (or ``None`` for none)."""
    if postcodes is None or isinstance(postcodes, PostcodeLookup):
        return postcodes
    return PostcodeLookup(Path(postcodes))


@dataclass
class _Use:
    """One record that needs its postcode looked up."""

    list: str
    index: int
    id: str | None
    target: str  # "location" or "home"
    key: str  # normalised postcode ("" when the value is not text)

    def problem(self, message: str, code: str) -> Problem:
        """A problem at this record's postcode (never quoting it)."""
        return Problem(message, list=self.list, index=self.index, id=self.id,
                       field=f"{self.target}.postcode", code=code)


def resolve_postcodes(
    data: Any, postcodes: Postcodes
) -> tuple[Any, list[Problem], set[tuple[str, int]]]:
    """The round document with every postcode replaced by its ``lat`` and ``lon``.

    Returns ``(document, problems, unresolved)``: the document is a copy (``data`` is not
    changed; returned as is when it uses no postcode), ``problems`` every postcode problem
    and the lookup file's own, ``unresolved`` the ``(list, index)`` of records whose
    location could not be resolved (left without one, so callers can drop the "location is
    missing" that validation would add).
    """
    if not isinstance(data, Mapping):
        return data, [], set()
    out = dict(data)
    uses: list[_Use] = []
    for name, target in LOCATION_FIELDS.items():
        records = data.get(name)
        if not isinstance(records, list | tuple):
            continue
        copied: list[Any] = list(records)
        for i, record in enumerate(records):
            place = record.get(target) if isinstance(record, Mapping) else None
            if not isinstance(place, Mapping) or "postcode" not in place:
                continue
            rest = {k: v for k, v in place.items() if k != "postcode"}
            record = dict(record)
            if "lat" in rest or "lon" in rest:  # coordinates win; the postcode is not used
                record[target] = rest
            else:
                value = place["postcode"]
                key = normalise(value) if isinstance(value, str) else ""
                rec_id = record.get("id")
                uses.append(_Use(name, i, rec_id if isinstance(rec_id, str) else None,
                                 target, key))
                record[target] = rest  # filled in below when the postcode resolves
            copied[i] = record
        out[name] = copied
    if not uses:
        return out, [], set()
    problems = _resolve(out, uses, as_lookup(postcodes))
    unresolved = {(u.list, u.index) for u in uses
                  if "lat" not in out[u.list][u.index][u.target]}
    return out, problems, unresolved


def _resolve(out: dict[str, Any], uses: list[_Use], lookup: PostcodeLookup | None
             ) -> list[Problem]:
    problems: list[Problem] = []
    if lookup is None:
        for name in LOCATION_FIELDS:
            mine = [u for u in uses if u.list == name]
            if not mine:
                continue
            first, target = mine[0], mine[0].target
            noun = name if len(mine) > 1 else name.removesuffix("s")
            verb = "give" if len(mine) > 1 else "gives"
            problems.append(Problem(
                f"{len(mine)} {noun} {verb} a postcode but no postcode lookup file was given: "
                "pass one with --postcodes FILE (in Python, postcodes=FILE), a CSV in the ONS "
                "Postcode "
                f"Directory layout ({', '.join(LOOKUP_COLUMNS)}); or give {target}.lat and "
                f"{target}.lon instead", list=name, index=first.index, id=first.id,
                field=f"{target}.postcode", code="postcodes_no_lookup"))
        return problems
    found = lookup.find({u.key for u in uses if u.key})
    problems += found.problems
    for u in uses:
        point = found.points.get(u.key)
        if point is not None:
            out[u.list][u.index][u.target].update(lat=point[0], lon=point[1])
        elif not u.key:
            problems.append(u.problem(
                "a postcode must be text like E1 6AN; this one is empty or not text",
                "postcode_type"))
        elif u.key in found.no_location:
            problems.append(u.problem(
                f"the postcode lookup file {lookup.name!r} has no location for this postcode "
                f"(it has no grid reference); give {u.target}.lat and {u.target}.lon instead",
                "postcode_no_location"))
        elif found.usable and u.key not in found.present:
            # A postcode in the file without usable coordinates is already reported there
            # (a missing lat or long column, or a bad value on its row).
            problems.append(u.problem(
                f"postcode not found in the lookup file {lookup.name!r}; check the postcode, "
                f"or give {u.target}.lat and {u.target}.lon instead",
                "postcode_not_found"))
    return problems


def parse_round_with_postcodes(data: Any, postcodes: Postcodes = None, *,
                               origin: Origin | None = None) -> Round:
    """:func:`~matcher.validation.parse_round` (``origin`` passed on) after resolving
    postcodes.

    Raises :class:`InvalidRoundError` listing the postcode problems together with every
    validation problem of the round (without the "location missing" of a record whose
    postcode did not resolve, which would say the same thing twice).
    """
    resolved, problems, unresolved = resolve_postcodes(data, postcodes)
    if not problems:
        return parse_round(resolved, origin=origin)
    warnings: list[Problem] = []
    try:
        parse_round(resolved, origin=origin)
    except InvalidRoundError as exc:
        problems += [p for p in exc.problems if not _about_unresolved(p, unresolved)]
        warnings = list(exc.warnings)
    raise InvalidRoundError(problems, warnings)


def _about_unresolved(p: Problem, unresolved: set[tuple[str, int]]) -> bool:
    if p.list is None or p.index is None or (p.list, p.index) not in unresolved:
        return False
    target = LOCATION_FIELDS.get(p.list, "")
    return p.field is not None and (p.field == target or p.field.startswith(f"{target}."))
