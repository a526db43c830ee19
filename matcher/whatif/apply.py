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
    """
    from matcher.validation import parse_round  # lazy: it loads numpy; only applying needs it

    ops = parse_overrides(overrides)
    if not ops:
        return base
    doc, failed = _apply_all(base, ops)
    if not failed:
        try:
            return parse_round(doc.data)
        except InvalidRoundError:
            pass  # attribute each problem to the override that introduced it, below
    raise InvalidRoundError(_attributed_problems(base, ops))


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


def _attributed_problems(base: Round, ops: Sequence[Override]) -> list[Problem]:
    """Every problem of applying ``ops``, each at the override that caused it.

    Ops that cannot apply are reported and skipped; the round is validated after each op
    that does apply, and a problem of the final round is blamed on the op after which it
    appeared (and stayed).
    """
    from matcher.validation import parse_round  # lazy: it loads numpy; needed on a fault

    problems: list[Problem] = []
    doc = RoundDoc(base.to_data())
    since: dict[tuple[str, str, str], int] = {}  # problem -> op after which it appeared
    latest: dict[tuple[str, str, str], Problem] = {}
    for i, op in enumerate(ops):
        try:
            op.apply_to(doc)
        except OverrideError as exc:
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
