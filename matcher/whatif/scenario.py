"""The scenario: a named base round plus overrides, and its JSON document.

A :class:`Scenario` is a name, a base :class:`~matcher.domain.Round` and a list of
overrides (:mod:`matcher.whatif.overrides`), applied in order by :meth:`Scenario.apply`.
The base is never mutated; the round that comes out is validated like any other, and when
it is not valid every problem names the override at fault. Its document
(:meth:`Scenario.to_dict`) has the format :data:`SCENARIO_FORMAT`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from matcher.domain import Round
from matcher.errors import InvalidRoundError, Problem
from matcher.whatif.apply import apply_overrides, parse_overrides
from matcher.whatif.overrides import Override

__all__ = ["SCENARIO_FORMAT", "Scenario"]

SCENARIO_FORMAT = "spin-scenario/1"
"""The ``format`` of a scenario document (:meth:`Scenario.to_dict`)."""


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
            from matcher.validation import parse_round  # lazy: it loads numpy

            base = parse_round(data["base"])
        return cls(name=str(data.get("name") or "scenario"), base=base,
                   overrides=tuple(data.get("overrides", ())))  # parsed in __post_init__
