"""Validation of a round: every problem at once, each with where it is and what to do.

:func:`parse_round` is the single entrance from JSON-like data to a :class:`Round`. It
checks the document in three passes and reports all problems together:

1. the document's shape (``format``, known top-level keys, lists that are lists);
2. each record on its own, with pydantic (types, ranges, required and unknown fields);
   the labels a person types for fixed choices are accepted first ("General Practice" is
   ``general_practice``). A record that fails is kept as a draft holding the fields that
   passed, so it still takes part in the next pass;
3. the records together (:func:`semantic_problems`), on every record, failed or not, at its
   own position: unique ids (each duplicate with all its rows), references that resolve
   (with "did you mean" for a near miss), per-period keys that are periods, preference
   lists, streams, and, once every record is valid, pins that contradict a ban, a leave or
   the pharmacist's eligibility. References to a list that is missing (or has no ids at
   all) are not checked: that is reported once, not once per reference.

How messages name other rows and per-period values depends on the source (:class:`Origin`):
``entries #3 and #8`` in JSON, ``rows 4 and 9`` for a sheet or CSV file.

:func:`round_warnings` lists what is legal but suspicious (a pharmacist with nowhere to go
in a period, a placement nobody can reach, too few seats for the cohort, a location outside
the UK or a home far from every placement). The location warnings are also given with the
errors of an invalid round (``InvalidRoundError.warnings``).

Messages name ids, fields and rules, never names or home locations.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Optional

import numpy as np
from pydantic import BaseModel, ValidationError, create_model

from matcher.domain import FORMAT, LIST_MODELS, SECTION_MODELS, Location, Round, plain
from matcher.eligibility import Candidates, candidates, ineligibility_reasons
from matcher.errors import InvalidRoundError, Problem
from matcher.geo import great_circle_km
from matcher.wording import and_list, closest, did_you_mean

_TOP_LEVEL = {"format", *SECTION_MODELS, *LIST_MODELS}
_REQUIRED_LISTS = ("periods", "placements", "pharmacists")
_PER_PERIOD_FIELDS = ("capacity", "min_fill")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a round document came from, so messages name its records as the planner does.

    The default is a JSON document: records are entries of their list (``entry #3``).
    Readers of tables pass ``rows`` (per list, the row each record came from: its sheet or
    file row when ``sheet_rows``, else its 0-based position in a frame) and ``columns``
    (per-period values are columns such as ``capacity.R1``, not objects). References to a
    list in ``unreadable`` (a sheet that is missing or misnamed, already reported once) are
    not checked, so one mistake does not cascade into a line per reference.
    """

    rows: Mapping[str, Sequence[int]] = field(default_factory=dict)
    sheet_rows: bool = False
    columns: bool = False
    unreadable: frozenset[str] = frozenset()

    def record(self, list_name: str, index: int) -> str:
        """How a message names one record: ``row 5`` or ``entry #4``."""
        return self.records(list_name, [index])

    def records(self, list_name: str, indices: Sequence[int]) -> str:
        """How a message names several records: ``rows 4 and 9`` or ``entries #3 and #8``."""
        rows = self.rows.get(list_name)
        numbers = [rows[i] if rows is not None and 0 <= i < len(rows) else i for i in indices]
        if self.sheet_rows:
            return ("row " if len(numbers) == 1 else "rows ") + and_list(
                [str(n) for n in numbers])
        return ("entry " if len(numbers) == 1 else "entries ") + and_list(
            [f"#{n + 1}" for n in numbers])


def parse_round(data: Any, *, origin: Origin | None = None) -> Round:
    """Validate JSON-like data into a :class:`Round`.

    Raises :class:`InvalidRoundError` listing every problem found, each with its location,
    and any location warnings found alongside. ``origin`` (given by the table readers)
    says how messages name rows and per-period values.
    """
    origin = origin or Origin()
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise InvalidRoundError(
            [Problem("a round must be a JSON object with 'format', 'periods', 'placements' "
                     "and 'pharmacists'", code="not_an_object")]
        )
    problems += _document_problems(data)
    data = _with_choices(data)
    hint = _per_period_hint(origin, _raw_ids(data.get("periods")))

    parsed: dict[str, Any] = {}
    for name, model in SECTION_MODELS.items():
        raw = data.get(name)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            problems.append(Problem(f"'{name}' must be an object", list=name, code="type"))
            continue
        record, errs, failed = _parse_record(model, raw, list_name=name, index=None,
                                             hint=hint)
        problems += errs
        if not errs:
            parsed[name] = record
    unreadable = set(origin.unreadable)
    failures: dict[tuple[str, int], frozenset[str]] = {}
    for name, model in LIST_MODELS.items():
        raw = data.get(name)
        if raw is None:
            if name in _REQUIRED_LISTS:
                unreadable.add(name)
                problems.append(Problem(f"'{name}' is required and must list at least one "
                                        f"{_singular(name)}", list=name, code="missing"))
            continue
        if not isinstance(raw, list | tuple):
            unreadable.add(name)
            problems.append(Problem(f"'{name}' must be a list", list=name, code="type"))
            continue
        if not raw and name in _REQUIRED_LISTS:
            problems.append(Problem(f"'{name}' must list at least one {_singular(name)}",
                                    list=name, code="empty"))
        records = []
        for i, item in enumerate(raw):
            if not isinstance(item, Mapping):
                problems.append(Problem("must be an object with named fields", list=name,
                                        index=i, code="type"))
                failures[(name, i)] = frozenset(model.model_fields)
                records.append(_draft(model, {}, failures[(name, i)]))
                continue
            record, errs, failed = _parse_record(model, item, list_name=name, index=i,
                                                 hint=hint)
            problems += errs
            if errs:
                failures[(name, i)] = failed
            records.append(record)
        if records and "id" in model.model_fields and all(r.id is None for r in records):
            unreadable.add(name)  # no record has an id (a missing id column): nothing to match
        parsed[name] = tuple(records)

    for name in _REQUIRED_LISTS:
        parsed.setdefault(name, ())
    # A draft of every record (the fields that failed left empty), so the cross-record checks
    # run on all of them and their positions are the planner's.
    draft = Round.model_construct(format="spin-round/1", **parsed)
    checked = replace(origin, unreadable=frozenset(unreadable))
    problems += semantic_problems(draft, origin=checked, failures=failures,
                                  complete=not problems)
    if problems:
        raise InvalidRoundError(problems, location_warnings(draft))
    return Round.model_validate(data, context={"checked": True})


def with_changes(round: Round, **changes: Any) -> Round:
    """A validated copy of ``round`` with top-level fields replaced (the base is never
    mutated): ``with_changes(rnd, weights={"fairness": 5})``. Values may be records or plain
    data. Raises :class:`InvalidRoundError` listing every problem of the new round."""
    data = round.to_data()
    for key, value in changes.items():
        data[key] = plain(value)
    return parse_round(data)


def _choices_of(annotation: Any) -> tuple[str, ...] | None:
    """The values of a Literal field (or of a list of them), or ``None`` for other fields."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    if origin in (tuple, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _choices_of(arg)
            if found is not None:
                return found
    return None


_CHOICES: dict[str, dict[str, tuple[str, ...]]] = {
    name: fields
    for name, model in {**LIST_MODELS, **SECTION_MODELS}.items()
    if (fields := {f: c for f, info in model.model_fields.items()
                   if (c := _choices_of(info.annotation)) is not None})
}
"""Fields with fixed choices (``sector``, ``supervises``...), by list or section."""


def choice_key(label: str) -> str:
    """A label as the choice it names: case, spaces and hyphens ignored
    (``"General Practice"`` and ``"general-practice"`` are ``general_practice``)."""
    return re.sub(r"[\s_\-]+", "_", label.strip().lower()).strip("_")


def _with_choices(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document with the labels a person types for fixed choices made canonical
    (a copy where anything changes; other values are left for validation to judge)."""
    out: dict[str, Any] | None = None
    for name, fields in _CHOICES.items():
        raw = data.get(name)
        single = isinstance(raw, Mapping)
        if single:
            records: list[Any] = [raw]
        elif isinstance(raw, list | tuple):
            records = list(raw)
        else:
            continue
        changed = False
        for i, record in enumerate(records):
            if not isinstance(record, Mapping):
                continue
            fixed = {f: _canonical(record[f], choices) for f, choices in fields.items()
                     if f in record}
            if any(fixed[f] is not record[f] for f in fixed):
                records[i] = {**record, **fixed}
                changed = True
        if changed:
            out = out if out is not None else dict(data)
            out[name] = records[0] if single else records
    return out if out is not None else data


def _canonical(value: Any, choices: tuple[str, ...]) -> Any:
    if isinstance(value, list | tuple):
        items = [_canonical(v, choices) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, str) and value not in choices:
        key = choice_key(value)
        if key in choices:
            return key
    return value


def _singular(name: str) -> str:
    return name.removesuffix("s")


def _raw_ids(raw: Any) -> list[str]:
    """The ids of a raw list's records that are text (for messages, before validation)."""
    if not isinstance(raw, list | tuple):
        return []
    return [r["id"].strip() for r in raw if isinstance(r, Mapping) and isinstance(r.get("id"), str)]


def _document_problems(data: Mapping[str, Any]) -> list[Problem]:
    problems = []
    fmt = data.get("format")
    if fmt is None:
        problems.append(Problem(f"'format' is missing; it must be \"{FORMAT}\"",
                                field="format", code="format"))
    elif fmt != FORMAT:
        shown = fmt if isinstance(fmt, str) and len(fmt) <= 40 else "this value"
        problems.append(Problem(f"'format' is {shown!r} but must be \"{FORMAT}\"",
                                field="format", code="format"))
    for key in data:
        if key not in _TOP_LEVEL:
            problems.append(Problem(
                f"unknown section {str(key)[:40]!r}; the sections are: "
                + ", ".join(sorted(_TOP_LEVEL)),
                field=str(key)[:40], code="unknown_field"))
    return problems


def _parse_record(
    model: type[BaseModel], raw: Mapping[str, Any], *, list_name: str, index: int | None,
    hint: Callable[[str], str] | None = None,
) -> tuple[Any, list[Problem], frozenset[str]]:
    """The record, or a draft of it when it fails; its problems; the fields that failed."""
    rec_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        return model.model_validate(raw, context={"checked": True}), [], frozenset()
    except ValidationError as exc:
        failed = frozenset(str(e["loc"][0]) for e in exc.errors(include_url=False) if e["loc"])
        problems = pydantic_problems(exc, list_name=list_name, index=index, rec_id=rec_id,
                                     per_period_hint=hint)
        return _draft(model, raw, failed), problems, failed


def _draft(model: type[BaseModel], raw: Mapping[str, Any], failed: frozenset[str]) -> Any:
    """A record of a draft model (``model`` with every required field optional) holding the
    fields that passed, so cross-record checks can see them; failed fields are left empty."""
    draft = _draft_model(model)
    try:
        return draft.model_validate({k: v for k, v in raw.items() if k not in failed})
    except ValidationError:
        return draft.model_validate({})


@functools.cache
def _draft_model(model: type[BaseModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.is_required():
            tp = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            fields[name] = (Optional[tp], None)  # noqa: UP045 (a runtime type, not a hint)
    return create_model(f"{model.__name__}Draft", __base__=model, **fields)


def pydantic_problems(
    exc: ValidationError, *, list_name: str | None, index: int | None, rec_id: str | None,
    per_period_hint: Callable[[str], str] | None = None,
) -> list[Problem]:
    """Translate pydantic's errors into planner-readable problems (input values not echoed).

    ``per_period_hint(field)`` ends the message of a per-period field (``capacity``) that is
    neither a whole number nor one per period; by default it names the JSON object form.
    """
    hint = per_period_hint or _json_per_period_hint
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False, include_input=False)
    deep_union = {
        str(e["loc"][0]) for e in errors
        if len(e["loc"]) >= 3 and str(e["loc"][0]) in _PER_PERIOD_FIELDS
    }
    fields = _allowed_fields(exc.title)
    # A misspelt field name is one problem: "unknown field 'sectr'; did you mean 'sector'?",
    # not that and "sector: required field is missing" as well.
    missing = {str(e["loc"][0]) for e in errors if e["type"] == "missing" and len(e["loc"]) == 1}
    misspelt = {str(e["loc"][0]): closest(str(e["loc"][0]), fields) for e in errors
                if e["type"] == "extra_forbidden" and len(e["loc"]) == 1}
    explained = missing & set(misspelt.values())
    for err in errors:
        loc = [str(x) for x in err["loc"]]
        if err["type"] == "missing" and len(loc) == 1 and loc[0] in explained:
            continue
        message = _message(err["type"], err["msg"], err.get("ctx"))
        if loc and loc[0] in _PER_PERIOD_FIELDS and len(loc) >= 2:
            # int | {period: int}: report the branch the planner meant.
            if loc[0] in deep_union:
                if len(loc) < 3:
                    continue
                loc = [loc[0], *loc[2:]]
            else:
                if "dict" in loc[1]:
                    continue
                loc = [loc[0]]
                message += hint(loc[0])
        if err["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
            guess = misspelt.get(loc[0]) if len(loc) == 1 else None
            if guess is not None:
                message += f"; did you mean {guess!r}?"
            elif fields and len(loc) == 1:
                message += "; allowed fields are: " + ", ".join(fields)
        field = ".".join(loc) or None
        key = (field or "", message)
        if key in seen:
            continue
        seen.add(key)
        out.append(Problem(message, list=list_name, index=index, id=rec_id, field=field,
                           code=err["type"]))
    return out


def _json_per_period_hint(field: str) -> str:
    return " (or an object {period_id: whole number})"


def _per_period_hint(origin: Origin, periods: Sequence[str]) -> Callable[[str], str]:
    """How a message tells the planner to give a per-period value, in the source's terms."""
    if not origin.columns:
        return _json_per_period_hint

    def hint(field: str) -> str:
        shown = [f"{field}.{p}" for p in periods[:3]] or [f"{field}.<period>"]
        columns = and_list(shown) if len(periods) <= 3 else ", ".join(shown) + "..."
        return f"; for a {field} per period, use the columns {columns} instead"
    return hint


def _allowed_fields(model_title: str) -> list[str]:
    for model in (*LIST_MODELS.values(), *SECTION_MODELS.values()):
        if model.__name__ == model_title:
            return list(model.model_fields)
    return []


def _message(kind: str, msg: str, ctx: Mapping[str, Any] | None) -> str:
    ctx = ctx or {}
    if kind == "missing":
        return "required field is missing"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        lo, hi = ctx.get("ge"), ctx.get("le")
        if kind == "greater_than_equal":
            return f"must be at least {lo}"
        if kind == "less_than_equal":
            return f"must be at most {hi}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "string_unicode":
        return ("must be valid text: it holds a lone surrogate (half of a character), "
                "which is not Unicode text")
    if kind == "too_short":
        return "must not be empty"
    if kind == "int_from_float":
        return "must be a whole number"
    if kind in ("int_parsing", "int_type"):
        return "must be a whole number"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind in ("bool_parsing", "bool_type"):
        return "must be true or false"
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_type"):
        return "must be a date like 2027-01-04"
    if kind == "literal_error":
        return msg.replace("Input should be", "must be one of:")
    if kind in ("tuple_type", "list_type"):
        return "must be a list"
    return msg.replace("Input should be", "must be")


# ---- cross-record checks -------------------------------------------------------------


def semantic_problems(
    rnd: Round,
    *,
    known_ids: Mapping[str, set[str]] | None = None,
    origin: Origin | None = None,
    failures: Mapping[tuple[str, int], frozenset[str]] | None = None,
    complete: bool = True,
) -> list[Problem]:
    """Cross-record problems of a round, or of a draft of one whose failed fields are empty.

    ``known_ids`` adds ids of records that are not in ``rnd``, so references to them are not
    reported. ``failures`` names, per ``(list, index)``, the fields that failed their own
    checks (nothing is said about them twice). The checks that need every record valid
    (pins against bans and eligibility, repeated reference entries) run only when
    ``complete`` and nothing else is wrong.
    """
    origin = origin or Origin()
    failures = failures or {}
    problems: list[Problem] = []
    ids: dict[str, set[str]] = {}
    for name in ("periods", "streams", "organisations", "placements", "supervisors",
                 "pharmacists"):
        records = getattr(rnd, name)
        problems += _duplicate_ids(name, records, origin)
        ids[name] = {r.id for r in records if r.id is not None} | set(
            (known_ids or {}).get(name, ()))
    suggestions: dict[tuple[str, str], str] = {}

    def ref(kind: str, value: str | None, **where: Any) -> bool:
        if value is None or value in ids[kind] or kind in origin.unreadable:
            return True
        noun = _singular(kind) if kind in _REQUIRED_LISTS else kind.rstrip("s")
        key = (kind, value)
        if key not in suggestions:
            suggestions[key] = _id_suggestion(value, ids[kind]) if len(suggestions) < 100 else ""
        problems.append(Problem(f"unknown {noun} id {value!r}{suggestions[key]}",
                                code="unknown_reference", **where))
        return False

    problems += _placement_problems(rnd, ids, ref, failures, origin)
    for i, sup in enumerate(rnd.supervisors):
        for j, pl in enumerate(sup.placements or ()):
            ref("placements", pl, list="supervisors", index=i, id=sup.id,
                field=f"placements.{j + 1}")
        problems += _repeats(sup.placements or (), "supervisors", i, sup.id, "placements")
    problems += _pharmacist_problems(rnd, ref)
    for name in ("pins", "bans", "travel", "reference"):
        for i, rec in enumerate(getattr(rnd, name)):
            ref("pharmacists", rec.pharmacist, list=name, index=i, field="pharmacist")
            ref("placements", rec.placement, list=name, index=i, field="placement")
            period = getattr(rec, "period", None)
            ref("periods", period, list=name, index=i, field="period")
    for i, r in enumerate(rnd.reference):
        actual = _stream_id(rnd, r.placement)
        if r.stream is not None and actual is not None and r.stream != actual:
            problems.append(Problem(
                f"stream {r.stream!r} does not match placement {r.placement}'s stream "
                f"{actual!r}", list="reference", index=i, field="stream",
                code="stream_mismatch"))
    problems += _travel_duplicates(rnd, origin)
    if not problems and complete and known_ids is None:  # every record valid, every id known
        problems += _reference_duplicates(rnd, origin)
        problems += _pin_problems(rnd, origin)
    return problems


def _id_suggestion(value: str, ids: Iterable[str]) -> str:
    """"; did you mean 'X'?" for a known id that looks like a typo of ``value``. Only ids with
    the same numbers are offered (``GP-HAV-05`` for ``GP-HAV-005``, never ``PH-2`` for
    ``PH-9``): a different number names a different record, not a typo."""
    numbers = _numbers(value)
    return did_you_mean(value, [i for i in ids if _numbers(i) == numbers], cutoff=0.85)


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def _duplicate_ids(name: str, records: Sequence[Any], origin: Origin) -> list[Problem]:
    where: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        if r.id is not None:
            where[r.id].append(i)
    return [Problem(f"id {rid!r} appears {len(at)} times: {origin.records(name, at)}; each "
                    f"{_singular(name)} needs its own id", list=name, index=at[0], id=rid,
                    field="id", code="duplicate_id")
            for rid, at in where.items() if len(at) > 1]


def _stream_id(rnd: Round, placement_id: str | None) -> str | None:
    """The id of a placement's stream, or ``None`` when the placement or stream is unknown."""
    index = rnd.placement_index.get(placement_id) if placement_id is not None else None
    if index is None:
        return None
    if not rnd.streams:
        return rnd.effective_streams[0].id
    stream = rnd.placements[index].stream
    return stream if stream in rnd.stream_index else None


def _repeats(values: Sequence[str], name: str, index: int, rec_id: str, field: str
             ) -> list[Problem]:
    counts = Counter(values)
    return [Problem(f"{v!r} is listed {n} times in {field}", list=name, index=index,
                    id=rec_id, field=field, code="repeated")
            for v, n in counts.items() if n > 1]


def _placement_problems(
    rnd: Round, ids: Mapping[str, set[str]], ref: Any,
    failures: Mapping[tuple[str, int], frozenset[str]], origin: Origin,
) -> list[Problem]:
    problems = []
    stream_ids = {s.id for s in rnd.streams}
    for i, pl in enumerate(rnd.placements):
        where: dict[str, Any] = {"list": "placements", "index": i, "id": pl.id}
        ref("organisations", pl.organisation, field="organisation", **where)
        if "stream" in failures.get(("placements", i), ()) or "streams" in origin.unreadable:
            pass  # already reported
        elif rnd.streams:
            if pl.stream is None:
                problems.append(Problem(
                    "stream is missing; streams are declared, so every placement names one "
                    "of: " + ", ".join(s.id for s in rnd.streams),
                    field="stream", code="missing_stream", **where))
            elif pl.stream not in stream_ids:
                problems.append(Problem(
                    f"unknown stream {pl.stream!r}; the streams are: "
                    + ", ".join(s.id for s in rnd.streams),
                    field="stream", code="unknown_reference", **where))
        elif pl.stream is not None:
            problems.append(Problem(
                f"stream {pl.stream!r} is given but the round declares no streams; add it "
                "to 'streams' or leave the field empty", field="stream",
                code="unknown_reference", **where))
        for fname in _PER_PERIOD_FIELDS:
            value = getattr(pl, fname)
            if isinstance(value, Mapping) and "periods" not in origin.unreadable:
                for key in value:
                    if key not in ids["periods"]:
                        problems.append(Problem(
                            f"{key!r} is not a period; {fname} per period uses the period ids: "
                            + ", ".join(rnd.period_ids), field=f"{fname}.{key}",
                            code="bad_period_key", **where))
        problems += _repeats(pl.requires.skills, "placements", i, pl.id, "requires.skills")
    return problems


def _pharmacist_problems(rnd: Round, ref: Any) -> list[Problem]:
    problems = []
    limit = rnd.rules.max_preferences
    for i, ph in enumerate(rnd.pharmacists):
        where: dict[str, Any] = {"list": "pharmacists", "index": i, "id": ph.id}
        for j, t in enumerate(ph.unavailable):
            ref("periods", t, field=f"unavailable.{j + 1}", **where)
        for j, pl in enumerate(ph.history):
            ref("placements", pl, field=f"history.{j + 1}", **where)
        for j, pl in enumerate(ph.preferences):
            ref("placements", pl, field=f"preferences.{j + 1}", **where)
        if len(ph.preferences) > limit:
            problems.append(Problem(
                f"ranks {len(ph.preferences)} placements but rules.max_preferences is {limit}; "
                f"keep the top {limit}", field="preferences", code="too_many_preferences",
                **where))
        for fname in ("preferences", "unavailable", "history", "skills"):
            problems += _repeats(getattr(ph, fname), "pharmacists", i, ph.id, fname)
    return problems


def _travel_duplicates(rnd: Round, origin: Origin) -> list[Problem]:
    seen: dict[tuple[str, str], int] = {}
    out = []
    for i, tr in enumerate(rnd.travel):
        if tr.pharmacist is None or tr.placement is None:
            continue
        key = (tr.pharmacist, tr.placement)
        if key in seen:
            out.append(Problem(f"travel for {tr.pharmacist} to {tr.placement} is already given "
                               f"in {origin.record('travel', seen[key])}", list="travel",
                               index=i, code="duplicate"))
        seen.setdefault(key, i)
    return out


def _reference_duplicates(rnd: Round, origin: Origin) -> list[Problem]:
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for i, r in enumerate(rnd.reference):
        key = (r.pharmacist, r.period, rnd.stream_of(rnd.placement(r.placement)).id)
        if key in seen:
            out.append(Problem(
                f"{r.pharmacist} already has a reference placement in {r.period} for stream "
                f"{key[2]!r} ({origin.record('reference', seen[key])})", list="reference", index=i,
                code="duplicate"))
        seen.setdefault(key, i)
    return out


def _pin_problems(rnd: Round, origin: Origin) -> list[Problem]:
    problems = []
    banned = {(b.pharmacist, b.placement, b.period) for b in rnd.bans}
    slots: dict[tuple[str, str, str], int] = {}
    for i, pin in enumerate(rnd.pins):
        where: dict[str, Any] = {"list": "pins", "index": i}
        what = f"{pin.pharmacist} is pinned to {pin.placement} in {pin.period}"
        if (pin.pharmacist, pin.placement, None) in banned or (
            pin.pharmacist, pin.placement, pin.period) in banned:
            problems.append(Problem(f"{what} but is also banned from it; remove the pin or "
                                    "the ban", code="pin_banned", **where))
        ph = rnd.pharmacist(pin.pharmacist)
        if pin.period in ph.unavailable:
            problems.append(Problem(f"{what} but is unavailable in {pin.period}",
                                    code="pin_unavailable", **where))
        reasons = [r for r in ineligibility_reasons(rnd, pin.pharmacist, pin.placement,
                                                    pin.period)
                   if r.rule not in ("ban", "unavailable")]
        for reason in reasons:
            problems.append(Problem(f"{what} but {reason.message}", code="pin_ineligible",
                                    **where))
        stream = rnd.stream_of(rnd.placement(pin.placement)).id
        key = (pin.pharmacist, pin.period, stream)
        if key in slots and rnd.pins[slots[key]].placement != pin.placement:
            problems.append(Problem(
                f"{what} but is also pinned to {rnd.pins[slots[key]].placement} in the same "
                f"period and stream {stream!r} ({origin.record('pins', slots[key])})",
                code="pin_conflict",
                **where))
        slots.setdefault(key, i)
    return problems


# ---- warnings ------------------------------------------------------------------------


def round_warnings(rnd: Round, cand: Candidates | None = None) -> list[Problem]:
    """Legal but suspicious features of a valid round, as ``warning`` problems.

    ``cand`` is the round's :func:`~matcher.eligibility.candidates` when the caller has them
    already (they are computed otherwise).

    A location that is almost surely a mistake (:func:`location_warnings`) comes first, and
    the warnings that follow from it (that pharmacist has nowhere to go, nobody can reach
    that placement) are left out: the cause is reported, not a cascade of its effects.
    """
    located = location_warnings(rnd)
    flagged = {(w.list, w.index) for w in located}
    return located + [w for w in _record_warnings(rnd, cand)
                      if (w.list, w.index) not in flagged]


def _record_warnings(rnd: Round, cand: Candidates | None) -> list[Problem]:
    cand = candidates(rnd) if cand is None else cand
    warnings: list[Problem] = []
    n_p, n_l, n_t = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)
    streams = rnd.effective_streams
    n_s = len(streams)
    has = np.zeros((n_p, n_t, n_s), dtype=bool)
    has[cand.pharmacist, cand.period, cand.stream] = True
    for i, ph in enumerate(rnd.pharmacists):
        off = set(ph.unavailable)
        for t_i, t in enumerate(rnd.period_ids):
            if t in off:
                continue
            missing = [streams[s].id for s in range(n_s) if not has[i, t_i, s]]
            if missing:
                label = f"stream {missing[0]!r}" if rnd.streams and len(missing) == 1 else (
                    "streams " + ", ".join(repr(m) for m in missing) if rnd.streams else
                    "any placement")
                warnings.append(Problem(
                    f"{ph.id} has no eligible placement in {t} for {label} (travel, "
                    "requirements, bans, history or capacity rule them all out)",
                    list="pharmacists", index=i, id=ph.id, severity="warning",
                    code="no_eligible_placement"))
    reachable = np.zeros(n_l, dtype=bool)
    reachable[cand.placement] = True
    for j, pl in enumerate(rnd.placements):
        if not reachable[j] and any(pl.capacity_in(t) > 0 for t in rnd.period_ids):
            warnings.append(Problem(
                f"no pharmacist can take {pl.id} in any period (travel, requirements, "
                "bans or history rule everyone out)", list="placements", index=j, id=pl.id,
                severity="warning", code="unreachable_placement"))
        for t in rnd.period_ids:
            if pl.min_fill_in(t) > pl.capacity_in(t):
                warnings.append(Problem(
                    f"min_fill {pl.min_fill_in(t)} is above capacity {pl.capacity_in(t)} in "
                    f"{t}; the shortfall cannot be avoided", list="placements", index=j,
                    id=pl.id, field="min_fill", severity="warning", code="min_fill_above_capacity"))
    warnings += _capacity_warnings(rnd)
    warnings += _sector_warnings(rnd, cand)
    return warnings


UK_LAT = (49.8, 60.9)
"""Latitudes of the United Kingdom (the Isles of Scilly to Shetland), in degrees."""
UK_LON = (-8.7, 1.8)
"""Longitudes of the United Kingdom (Northern Ireland to East Anglia), in degrees."""
FAR_KM = 150.0
"""A home farther than this from every placement is reported as a likely mistake."""


def _in_uk(lat: float, lon: float) -> bool:
    return UK_LAT[0] <= lat <= UK_LAT[1] and UK_LON[0] <= lon <= UK_LON[1]


def location_warnings(rnd: Round) -> list[Problem]:
    """Locations that are legal but almost surely mistakes: outside the UK (with a hint when
    latitude and longitude look swapped), or a home far from every placement.

    Works on a draft round too (records without a location are skipped). Messages never
    quote the coordinates: homes are personal data.
    """
    out: list[Problem] = []
    sites: list[tuple[float, float]] = []
    for i, pl in enumerate(rnd.placements):
        if isinstance(pl.location, Location):
            sites.append((pl.location.lat, pl.location.lon))
            out += _outside_uk(pl.location, "the location", "location",
                               list="placements", index=i, id=pl.id)
    lats = np.array([s[0] for s in sites])
    lons = np.array([s[1] for s in sites])
    for i, ph in enumerate(rnd.pharmacists):
        if not isinstance(ph.home, Location):
            continue
        where: dict[str, Any] = {"list": "pharmacists", "index": i, "id": ph.id}
        outside = _outside_uk(ph.home, "the home", "home", **where)
        out += outside
        if outside or not sites:
            continue
        nearest = float(great_circle_km(ph.home.lat, ph.home.lon, lats, lons).min())
        if nearest > FAR_KM:
            out.append(Problem(
                f"the home is more than {FAR_KM:.0f} km from every placement; check home.lat "
                "and home.lon (decimal degrees, latitude first)", field="home.lat",
                severity="warning", code="far_from_placements", **where))
    return out


def _outside_uk(point: Location, what: str, prefix: str, **where: Any) -> list[Problem]:
    if _in_uk(point.lat, point.lon):
        return []
    if _in_uk(point.lon, point.lat):
        message = (f"{what} is outside the UK, but would be inside it with latitude and "
                   f"longitude swapped; put the latitude (about 50 to 61) in {prefix}.lat and "
                   f"the longitude (about -8 to 2) in {prefix}.lon")
        code = "swapped_coordinates"
    else:
        message = (f"{what} is outside the UK; check {prefix}.lat and {prefix}.lon (decimal "
                   "degrees, latitude first)")
        code = "outside_uk"
    return [Problem(message, field=f"{prefix}.lat", severity="warning", code=code, **where)]


def _capacity_warnings(rnd: Round) -> list[Problem]:
    out = []
    for t in rnd.period_ids:
        need = sum(1 for ph in rnd.pharmacists if t not in ph.unavailable)
        for stream in rnd.effective_streams:
            seats = sum(pl.capacity_in(t) for pl in rnd.placements
                        if rnd.stream_of(pl).id == stream.id)
            if seats < need:
                where = f" in stream {stream.id!r}" if rnd.streams else ""
                out.append(Problem(
                    f"{t}{where} offers {seats} seats for {need} available pharmacists; at "
                    f"least {need - seats} will go without", list="placements",
                    severity="warning", code="capacity_below_need"))
    return out


def _sector_warnings(rnd: Round, cand: Any) -> list[Problem]:
    out: list[Problem] = []
    need_k = rnd.rules.min_distinct_sectors
    required = set(rnd.rules.required_sectors)
    if not need_k and not required:
        return out
    sector_of = [pl.sector for pl in rnd.placements]
    reach: dict[int, set[str]] = defaultdict(set)
    for p, j in zip(cand.pharmacist.tolist(), cand.placement.tolist(), strict=True):
        reach[p].add(sector_of[j])
    for i, ph in enumerate(rnd.pharmacists):
        avail = len(rnd.available_periods(ph))
        if avail == 0:
            continue
        done = {rnd.placement(h).sector for h in ph.history}
        sectors = reach[i] | done
        k = min(need_k, avail)
        if len(sectors) < k:
            out.append(Problem(
                f"{ph.id} can reach only {len(sectors)} sector(s) ({_fmt(sorted(sectors))}) "
                f"counting history, but {k} distinct sectors are required",
                list="pharmacists", index=i, id=ph.id, severity="warning",
                code="too_few_sectors"))
        missing = required - sectors
        if missing:
            out.append(Problem(
                f"{ph.id} cannot reach the required sector(s) {_fmt(sorted(missing))}",
                list="pharmacists", index=i, id=ph.id, severity="warning",
                code="required_sector_unreachable"))
    return out


def _fmt(values: Iterable[str]) -> str:
    return ", ".join(values) or "none"


def validate(data: Any) -> tuple[Round | None, list[Problem], list[Problem]]:
    """Validate data without raising: ``(round or None, errors, warnings)``."""
    try:
        rnd = parse_round(data)
    except InvalidRoundError as exc:
        return None, list(exc.problems), []
    return rnd, [], round_warnings(rnd)
