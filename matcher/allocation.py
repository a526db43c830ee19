"""An allocation: who holds which placement in which period.

An :class:`Assignment` is the triple (pharmacist, period, placement); its stream follows
from the placement (``round.stream_of(round.placement(a.placement))``), so it is not stored
and can never disagree with the round. An :data:`Allocation` is any sequence of them.

:func:`as_assignments` turns what callers have at hand (assignments, plain tuples, the
``assignments`` dicts of a spec §5 result, a round's ``reference`` records) into a tuple of
``Assignment``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matcher.domain import Round

__all__ = ["Allocation", "Assignment", "as_assignments"]

_FIELDS = ("pharmacist", "period", "placement")


@dataclass(frozen=True, slots=True, order=True)
class Assignment:
    """Pharmacist ``pharmacist`` holds placement ``placement`` in period ``period`` (ids)."""

    pharmacist: str
    period: str
    placement: str

    def stream(self, round: Round) -> str:
        """Id of the stream this assignment is in (that of its placement).

        Raises ``KeyError`` if the placement is not in the round.
        """
        return round.stream_of(round.placement(self.placement)).id


Allocation = Sequence[Assignment]
"""An allocation of a round: its assignments, in any order."""


def as_assignments(items: Iterable[Any]) -> tuple[Assignment, ...]:
    """The items as a tuple of :class:`Assignment`, order kept.

    Each item may be an ``Assignment``; a ``(pharmacist, period, placement)`` tuple or list;
    a mapping with the keys ``pharmacist``, ``period`` and ``placement`` (other keys such as
    ``stream``, ``score`` or ``terms`` of a §5 result are ignored); or any object with those
    three attributes (for example a round's ``reference`` records). Raises ``TypeError`` or
    ``ValueError`` naming the position of the first item that is none of these.
    """
    out: list[Assignment] = []
    for position, item in enumerate(items):
        if isinstance(item, Assignment):
            out.append(item)
            continue
        if isinstance(item, Mapping):
            missing = [key for key in _FIELDS if key not in item]
            if missing:
                raise ValueError(
                    f"assignment #{position + 1} lacks {', '.join(repr(k) for k in missing)}"
                )
            values = tuple(item[key] for key in _FIELDS)
        elif isinstance(item, tuple | list):
            if len(item) != len(_FIELDS):
                raise ValueError(
                    f"assignment #{position + 1} must be (pharmacist, period, placement), "
                    f"not {len(item)} values"
                )
            values = tuple(item)
        elif all(hasattr(item, key) for key in _FIELDS):
            values = tuple(getattr(item, key) for key in _FIELDS)
        else:
            raise TypeError(
                f"assignment #{position + 1} is a {type(item).__name__}; expected an "
                "Assignment, a (pharmacist, period, placement) tuple or a mapping with "
                "those keys"
            )
        if not all(isinstance(value, str) for value in values):
            raise TypeError(f"assignment #{position + 1}: ids must be strings")
        out.append(Assignment(*values))
    return tuple(out)
