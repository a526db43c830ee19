"""The scenario: a named base round plus overrides, and its JSON document.

A :class:`Scenario` is a name, a base :class:`~matcher.domain.Round` and a list of
overrides (:mod:`matcher.whatif.overrides`), applied in order by :meth:`Scenario.apply`.
The base is never mutated; the round that comes out is validated like any other, and when
it is not valid every problem names the override at fault. Its document
(:meth:`Scenario.to_dict`) has the format :data:`SCENARIO_FORMAT`:
``{"format": "spin-scenario/1", "name": ..., "overrides": [...], "base": {...}}``
(``format`` optional; ``base`` optional when the base round is given separately, as
``matcher scenario BASE SCENARIO.json`` does). :func:`document_problems` lists every
problem of such a document short of applying it.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.whatif.apply import apply_overrides, parse_overrides
from matcher.whatif.overrides import Override

__all__ = ["DOCUMENT_KEYS", "SCENARIO_FORMAT", "Scenario", "document_problems"]

SCENARIO_FORMAT = "spin-scenario/1"
"""The ``format`` of a scenario document (:meth:`Scenario.to_dict`)."""

DOCUMENT_KEYS = ("format", "name", "overrides", "base")
"""The keys a scenario document may have."""


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
        """Read a scenario document (:meth:`to_dict`); ``base`` stands in for the
        document's own (which is then not read).

        Raises :class:`InvalidRoundError` listing every problem at once: those of
        :func:`document_problems`, then those of the document's base round.
        """
        problems = document_problems(data, needs_base=base is None)
        if base is None and isinstance(data, Mapping) and isinstance(data.get("base"),
                                                                     Mapping):
            from matcher.validation import parse_round  # lazy: it loads numpy

            try:
                base = parse_round(data["base"])
            except InvalidRoundError as exc:
                problems += exc.problems
        if problems or base is None:
            raise InvalidRoundError(problems)
        return cls(name=str(data.get("name") or "scenario"), base=base,
                   overrides=tuple(data.get("overrides", ())))  # parsed in __post_init__


def document_problems(data: Any, *, needs_base: bool = False) -> list[Problem]:
    """Every problem of a scenario document short of applying it, all at once.

    The document must be an object with only the keys of :data:`DOCUMENT_KEYS` (a close
    misspelling is named), ``format`` (optional) :data:`SCENARIO_FORMAT`, ``name`` (optional)
    a string, ``overrides`` a list of well-formed overrides (each problem at
    ``overrides[#n]``, as :func:`~matcher.whatif.apply.parse_overrides` reports them) and,
    when ``needs_base``, a ``base`` round object (its own validity is checked on reading).
    Whether the overrides *apply* to the base is :meth:`Scenario.apply`'s to say.
    """
    if not isinstance(data, Mapping):
        shape = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        hint = (": write it as {\"name\": ..., \"overrides\": [the list]}"
                if isinstance(data, list) else "")
        return [Problem(f"a scenario is a JSON object with \"name\" and \"overrides\", "
                        f"not {shape}{hint}", list="scenario", code="type")]
    problems: list[Problem] = []
    for key in data:
        if key not in DOCUMENT_KEYS:
            close = difflib.get_close_matches(str(key), DOCUMENT_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(Problem(
                f"unknown key {str(key)[:40]!r}{hint}; a scenario has the keys "
                + ", ".join(DOCUMENT_KEYS), list="scenario", field=str(key)[:40],
                code="unknown_field"))
    if data.get("format", SCENARIO_FORMAT) != SCENARIO_FORMAT:
        problems.append(Problem(f"'format' must be \"{SCENARIO_FORMAT}\" (or left out)",
                                list="scenario", field="format", code="format"))
    if "name" in data and not (isinstance(data["name"], str) and data["name"].strip()):
        problems.append(Problem("'name' must be a non-empty string", list="scenario",
                                field="name", code="type"))
    if "overrides" not in data:
        problems.append(Problem("the scenario has no \"overrides\": give the list of "
                                "changes, each an object with an \"op\"", list="scenario",
                                field="overrides", code="missing"))
    else:
        try:
            parse_overrides(data["overrides"])
        except InvalidRoundError as exc:
            problems += exc.problems
    if needs_base and not isinstance(data.get("base"), Mapping):
        what = "has no base round" if "base" not in data else "has a base that is not a round"
        problems.append(Problem(f"the scenario {what}: give the base round as \"base\"",
                                list="scenario", field="base", code="missing"))
    return problems
