"""Validation of a round: every problem at once, each with where it is and what to do.

:func:`parse_round` is the single entrance from JSON-like data to a :class:`Round`. It
checks the document in three passes and reports all problems together:

1. the document's shape (``format``, known top-level keys, lists that are lists);
2. each record on its own, with pydantic (types, ranges, required and unknown fields);
   a record that fails is set aside, but its id still counts as known, so one bad record
   does not cause a cascade of "unknown id" reports elsewhere;
3. the records together (:func:`semantic_problems`): unique ids, references that resolve,
   per-period keys that are periods, preference lists, streams, and pins that contradict a
   ban, a leave or the pharmacist's eligibility.

:func:`round_warnings` lists what is legal but suspicious (a pharmacist with nowhere to go
in a period, a placement nobody can reach, too few seats for the cohort).

Messages name ids, fields and rules, never names or home locations.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from matcher.domain import FORMAT, LIST_MODELS, SECTION_MODELS, Round, plain
from matcher.eligibility import candidates, ineligibility_reasons
from matcher.errors import InvalidRoundError, Problem

_TOP_LEVEL = {"format", *SECTION_MODELS, *LIST_MODELS}
_REQUIRED_LISTS = ("periods", "placements", "pharmacists")
_PER_PERIOD_FIELDS = ("capacity", "min_fill")


def parse_round(data: Any) -> Round:
    """Validate JSON-like data into a :class:`Round`.

    Raises :class:`InvalidRoundError` listing every problem found, each with its location.
    """
    problems: list[Problem] = []
    if not isinstance(data, Mapping):
        raise InvalidRoundError(
            [Problem("a round must be a JSON object with 'format', 'periods', 'placements' "
                     "and 'pharmacists'", code="not_an_object")]
        )
    problems += _document_problems(data)

    parsed: dict[str, Any] = {}
    known_ids: dict[str, set[str]] = defaultdict(set)
    for name, model in SECTION_MODELS.items():
        raw = data.get(name)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            problems.append(Problem(f"'{name}' must be an object", list=name, code="type"))
            continue
        record, errs = _parse_record(model, raw, list_name=name, index=None)
        problems += errs
        if record is not None:
            parsed[name] = record
    for name, model in LIST_MODELS.items():
        raw = data.get(name)
        if raw is None:
            if name in _REQUIRED_LISTS:
                problems.append(Problem(f"'{name}' is required and must list at least one "
                                        f"{_singular(name)}", list=name, code="missing"))
            continue
        if not isinstance(raw, list | tuple):
            problems.append(Problem(f"'{name}' must be a list", list=name, code="type"))
            continue
        if not raw and name in _REQUIRED_LISTS:
            problems.append(Problem(f"'{name}' must list at least one {_singular(name)}",
                                    list=name, code="empty"))
        records = []
        for i, item in enumerate(raw):
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                known_ids[name].add(item["id"].strip())
            if not isinstance(item, Mapping):
                problems.append(Problem("must be an object with named fields", list=name,
                                        index=i, code="type"))
                continue
            record, errs = _parse_record(model, item, list_name=name, index=i)
            problems += errs
            if record is not None:
                records.append(record)
        parsed[name] = tuple(records)

    shaped_ok = not problems
    for name in _REQUIRED_LISTS:
        parsed.setdefault(name, ())
    # An unvalidated draft of what parsed, so the cross-record checks can run on it too.
    draft = Round.model_construct(format="spin-round/1", **parsed)
    problems += semantic_problems(draft, known_ids=known_ids if not shaped_ok else None)
    if problems:
        raise InvalidRoundError(problems)
    return Round.model_validate(data, context={"checked": True})


def with_changes(round: Round, **changes: Any) -> Round:
    """A validated copy of ``round`` with top-level fields replaced (the base is never
    mutated): ``with_changes(rnd, weights={"fairness": 5})``. Values may be records or plain
    data. Raises :class:`InvalidRoundError` listing every problem of the new round."""
    data = round.to_data()
    for key, value in changes.items():
        data[key] = plain(value)
    return parse_round(data)


def _singular(name: str) -> str:
    return {"periods": "period", "placements": "placement", "pharmacists": "pharmacist"}.get(
        name, name
    )


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
    model: type[BaseModel], raw: Mapping[str, Any], *, list_name: str, index: int | None
) -> tuple[Any, list[Problem]]:
    rec_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        return model.model_validate(raw, context={"checked": True}), []
    except ValidationError as exc:
        return None, pydantic_problems(exc, list_name=list_name, index=index, rec_id=rec_id)


def pydantic_problems(
    exc: ValidationError, *, list_name: str | None, index: int | None, rec_id: str | None
) -> list[Problem]:
    """Translate pydantic's errors into planner-readable problems (input values not echoed)."""
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    errors = exc.errors(include_url=False, include_input=False)
    deep_union = {
        str(e["loc"][0]) for e in errors
        if len(e["loc"]) >= 3 and str(e["loc"][0]) in _PER_PERIOD_FIELDS
    }
    for err in errors:
        loc = [str(x) for x in err["loc"]]
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
                message += " (or an object {period_id: whole number})"
        if err["type"] == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}"
            fields = _allowed_fields(exc.title)
            if fields:
                message += "; allowed fields are: " + ", ".join(fields)
        field = ".".join(loc) or None
        key = (field or "", message)
        if key in seen:
            continue
        seen.add(key)
        out.append(Problem(message, list=list_name, index=index, id=rec_id, field=field,
                           code=err["type"]))
    return out


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
    rnd: Round, *, known_ids: Mapping[str, set[str]] | None = None
) -> list[Problem]:
    """Cross-record problems of a (structurally valid or partial) round.

    ``known_ids`` adds ids of records that failed their own validation, so references to
    them are not reported a second time.
    """
    problems: list[Problem] = []
    ids: dict[str, set[str]] = {}
    for name in ("periods", "streams", "organisations", "placements", "supervisors",
                 "pharmacists"):
        records = getattr(rnd, name)
        problems += _duplicate_ids(name, records)
        ids[name] = {r.id for r in records} | set((known_ids or {}).get(name, ()))

    def ref(kind: str, value: str | None, **where: Any) -> bool:
        if value is None or value in ids[kind]:
            return True
        noun = _singular(kind) if kind in _REQUIRED_LISTS else kind.rstrip("s")
        problems.append(Problem(f"unknown {noun} id {value!r}", code="unknown_reference",
                                **where))
        return False

    problems += _placement_problems(rnd, ids, ref)
    for i, sup in enumerate(rnd.supervisors):
        for j, pl in enumerate(sup.placements):
            ref("placements", pl, list="supervisors", index=i, id=sup.id,
                field=f"placements.{j + 1}")
        problems += _repeats(sup.placements, "supervisors", i, sup.id, "placements")
    problems += _pharmacist_problems(rnd, ids, ref)
    for name in ("pins", "bans", "travel", "reference"):
        for i, rec in enumerate(getattr(rnd, name)):
            ref("pharmacists", rec.pharmacist, list=name, index=i, field="pharmacist")
            ref("placements", rec.placement, list=name, index=i, field="placement")
            period = getattr(rec, "period", None)
            ref("periods", period, list=name, index=i, field="period")
    for i, r in enumerate(rnd.reference):
        if r.stream is not None and r.placement in rnd.placement_index:
            actual = rnd.stream_of(rnd.placement(r.placement)).id
            if r.stream != actual:
                problems.append(Problem(
                    f"stream {r.stream!r} does not match placement {r.placement}'s stream "
                    f"{actual!r}", list="reference", index=i, field="stream",
                    code="stream_mismatch"))
    problems += _travel_duplicates(rnd)
    if not problems and known_ids is None:  # every record parsed and every id resolves
        problems += _reference_duplicates(rnd)
        problems += _pin_problems(rnd)
    return problems


def _duplicate_ids(name: str, records: Sequence[Any]) -> list[Problem]:
    counts = Counter(r.id for r in records)
    out = []
    reported: set[str] = set()
    for i, r in enumerate(records):
        if counts[r.id] > 1 and r.id not in reported:
            reported.add(r.id)
            out.append(Problem(f"id {r.id!r} is used by {counts[r.id]} {name}; ids must be "
                               "unique", list=name, index=i, id=r.id, field="id",
                               code="duplicate_id"))
    return out


def _repeats(values: Sequence[str], name: str, index: int, rec_id: str, field: str
             ) -> list[Problem]:
    counts = Counter(values)
    return [Problem(f"{v!r} is listed {n} times in {field}", list=name, index=index,
                    id=rec_id, field=field, code="repeated")
            for v, n in counts.items() if n > 1]


def _placement_problems(rnd: Round, ids: Mapping[str, set[str]], ref: Any) -> list[Problem]:
    problems = []
    stream_ids = {s.id for s in rnd.streams}
    for i, pl in enumerate(rnd.placements):
        where: dict[str, Any] = {"list": "placements", "index": i, "id": pl.id}
        ref("organisations", pl.organisation, field="organisation", **where)
        if rnd.streams:
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
            if isinstance(value, Mapping):
                for key in value:
                    if key not in ids["periods"]:
                        problems.append(Problem(
                            f"{key!r} is not a period; {fname} per period uses the period ids: "
                            + ", ".join(rnd.period_ids), field=f"{fname}.{key}",
                            code="bad_period_key", **where))
        problems += _repeats(pl.requires.skills, "placements", i, pl.id, "requires.skills")
    return problems


def _pharmacist_problems(rnd: Round, ids: Mapping[str, set[str]], ref: Any) -> list[Problem]:
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


def _travel_duplicates(rnd: Round) -> list[Problem]:
    seen: dict[tuple[str, str], int] = {}
    out = []
    for i, tr in enumerate(rnd.travel):
        key = (tr.pharmacist, tr.placement)
        if key in seen:
            out.append(Problem(f"travel for {tr.pharmacist} to {tr.placement} is already given "
                               f"in row #{seen[key] + 1}", list="travel", index=i,
                               code="duplicate"))
        seen.setdefault(key, i)
    return out


def _reference_duplicates(rnd: Round) -> list[Problem]:
    seen: dict[tuple[str, str, str], int] = {}
    out = []
    for i, r in enumerate(rnd.reference):
        key = (r.pharmacist, r.period, rnd.stream_of(rnd.placement(r.placement)).id)
        if key in seen:
            out.append(Problem(
                f"{r.pharmacist} already has a reference placement in {r.period} for stream "
                f"{key[2]!r} (entry #{seen[key] + 1})", list="reference", index=i,
                code="duplicate"))
        seen.setdefault(key, i)
    return out


def _pin_problems(rnd: Round) -> list[Problem]:

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
                f"period and stream {stream!r} (pin #{slots[key] + 1})", code="pin_conflict",
                **where))
        slots.setdefault(key, i)
    return problems


# ---- warnings ------------------------------------------------------------------------


def round_warnings(rnd: Round) -> list[Problem]:
    """Legal but suspicious features of a valid round, as ``warning`` problems."""

    cand = candidates(rnd)
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
