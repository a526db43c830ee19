"""From override records to a round: parsing and applying overrides.

:func:`parse_overrides` turns JSON-like records into the models of
:mod:`matcher.whatif.overrides`; :func:`apply_overrides` applies them in order to a copy of
the base round and validates the outcome. Either way, an override that is malformed,
cannot apply or leaves the round invalid raises :class:`~matcher.errors.InvalidRoundError`
in which every problem names the override at fault (``overrides[#3]: remove_placement
GP-X: ...``, ``index`` 2 in the problem).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.whatif.overrides import OVERRIDE_OPS, Override, OverrideError, OverrideModel, RoundDoc

__all__ = ["apply_overrides", "parse_overrides"]

_ADAPTER: TypeAdapter[Override] = TypeAdapter(Override)


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
        if isinstance(item, OverrideModel):
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
    from matcher.validation import pydantic_problems  # lazy: it loads numpy; needed on a fault

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


def apply_overrides(base: Round, overrides: Iterable[Any]) -> Round:
    """The base round with the overrides applied in order, validated (base unchanged).

    Raises :class:`InvalidRoundError` when an override is malformed, cannot apply (an
    unknown id, a placement still pinned...) or leaves the round invalid; every problem is
    at ``overrides[#n]`` and says which override (``op`` and target) and what is wrong.
    Finding the override behind each problem of a round left invalid re-validates the round
    after a few prefixes of the overrides (a bisection, at most ``_MAX_ATTRIBUTION_CHECKS``
    extra validations), never once per override.
    """
    ops = parse_overrides(overrides)
    if not ops:
        return base
    doc, failed = _apply_all(base, ops)
    changed, final = _validated(doc.data)
    if changed is not None and not failed:
        return changed
    raise InvalidRoundError(_attributed_problems(base, ops, failed, final))


_MAX_ATTRIBUTION_CHECKS = 64
"""At most this many extra validations to find the override behind each problem.

A problem found outside that budget (a scenario with many faults at different overrides)
is reported at the last override of the range it was narrowed to, naming the range.
"""

_MAX_HINT_MISSES = 4  # then plain bisection: a hint that misses costs a validation

_Key = tuple[str, str, str]  # a problem as told apart across validations: code, where, message


def _validated(data: dict[str, Any]) -> tuple[Round | None, list[Problem]]:
    """The round of ``data`` and no problems, or ``None`` and every problem."""
    from matcher.validation import parse_round  # lazy: it loads numpy; only applying needs it

    try:
        return parse_round(data), []
    except InvalidRoundError as exc:
        return None, list(exc.problems)


def _apply_all(base: Round, ops: Sequence[Override]
               ) -> tuple[RoundDoc, list[tuple[int, OverrideError]]]:
    doc = RoundDoc(base.to_data())
    failed: list[tuple[int, OverrideError]] = []
    for i, op in enumerate(ops):
        try:
            op.apply_to(doc)
        except OverrideError as exc:
            failed.append((i, exc))
    return doc, failed


def _op_problem(i: int, op: Override, message: str, code: str, field: str | None = None
                ) -> Problem:
    return Problem(f"{op.describe()}: {message}", list="overrides", index=i, field=field,
                   code=code)


def _key(p: Problem) -> _Key:
    return (p.code, p.where, p.message)


def _attributed_problems(base: Round, ops: Sequence[Override],
                         failed: Sequence[tuple[int, OverrideError]],
                         final: Sequence[Problem]) -> list[Problem]:
    """Every problem of applying ``ops``, each at the override that caused it.

    ``failed`` are the ops that could not apply (reported as they are; they changed
    nothing) and ``final`` the problems of the round after all the others. Each of those is
    blamed on the op from which on it is present: with ``applied`` the ops that apply, an
    op ``applied[k - 1]`` such that the round after ``applied[:k]`` has the problem and the
    round after ``applied[:k - 1]`` has not (the base is taken to have none), found by
    bisection (:func:`_first_prefixes`). A problem that stays once it appears (nearly all
    of them) has one such op: the one after which it appeared and stayed. One that appears,
    is hidden (the pin checks wait until the records are valid), then shows again has
    several; the bisection names one of them, not necessarily the last (``set_unavailable``
    then ``set_rules`` breaking a record then ``set_rules`` mending it: the pin problem is
    blamed on ``set_unavailable``, where validating after every op blamed the mend).
    """
    problems = [_op_problem(i, ops[i], exc.message, exc.code, exc.field) for i, exc in failed]
    skipped = {i for i, _ in failed}
    applied = [i for i in range(len(ops)) if i not in skipped]
    latest = {_key(p): p for p in final}
    if applied and latest:
        bounds = _first_prefixes(base, ops, applied, latest)
        for key, p in latest.items():
            lo, hi = bounds[key]
            i = applied[hi - 1]
            if hi - lo == 1:
                problems.append(_op_problem(i, ops[i], f"{p.where}: {p.message}", p.code))
            else:
                problems.append(Problem(
                    f"{p.where}: {p.message} (left by one of overrides[#{applied[lo] + 1}] "
                    f"to [#{i + 1}]; too many problems to narrow it down further)",
                    list="overrides", index=i, code=p.code))
    problems.sort(key=lambda p: p.index if p.index is not None else -1)
    return problems


def _first_prefixes(base: Round, ops: Sequence[Override], applied: Sequence[int],
                    latest: Mapping[_Key, Problem]) -> dict[_Key, tuple[int, int]]:
    """For each problem of the final round, ``(lo, hi)``: absent after ``applied[:lo]``,
    present after ``applied[:hi]``; ``hi == lo + 1`` unless the budget ran out.

    A simultaneous bisection: each validation of a prefix narrows every problem whose range
    holds it. A problem at a record (``placements[GP-1]``) first tries the last op in its
    range that targets that record (two validations when that is the one; after
    ``_MAX_HINT_MISSES`` wrong guesses no more are tried), then halves its range. So a
    fault costs about log2(ops) validations, never one per op, and the total is at most
    ``_MAX_ATTRIBUTION_CHECKS``.
    """
    n = len(applied)
    bounds = dict.fromkeys(latest, (0, n))
    targets = [_targets(ops[i]) for i in applied]
    hinted: set[_Key] = set()  # problems whose hint was tried
    checks = misses = 0  # misses: hint probes that did not confirm their op
    while checks < _MAX_ATTRIBUTION_CHECKS:
        key = next((k for k, (lo, hi) in bounds.items() if hi - lo > 1), None)
        if key is None:
            break
        lo, hi = bounds[key]
        probe, expect = (lo + hi) // 2, None  # expect: whether a hint expects it present
        record = (latest[key].list, latest[key].id)
        if key not in hinted and misses < _MAX_HINT_MISSES:
            h = next((j + 1 for j in range(hi - 1, lo - 1, -1) if record in targets[j]), None)
            if h is None or h == hi:
                hinted.add(key)
            if h is not None:  # present after that op, absent before it?
                probe, expect = (h, True) if h < hi else (h - 1, False)
        present = {_key(p) for p in _problems_after(base, ops, applied[probe - 1] + 1)}
        checks += 1
        misses += expect is not None and (key in present) != expect
        for k, (lo, hi) in bounds.items():
            if lo < probe < hi:
                bounds[k] = (lo, probe) if k in present else (probe, hi)
    return bounds


def _problems_after(base: Round, ops: Sequence[Override], stop: int) -> list[Problem]:
    """The problems of the base round with ``ops[:stop]`` applied (those that can)."""
    doc, _ = _apply_all(base, ops[:stop])
    return _validated(doc.data)[1]


def _targets(op: Override) -> set[tuple[str | None, str | None]]:
    """The records an op edits, as a problem names them: ``("placements", "GP-1")``."""
    out: set[tuple[str | None, str | None]] = set()
    for attr, name in (("placement", "placements"), ("pharmacist", "pharmacists")):
        value = getattr(op, attr, None)
        rec_id = value if isinstance(value, str) else getattr(value, "id", None)
        if isinstance(rec_id, str):
            out.add((name, rec_id))
    return out
