"""Problems found in a round, and the exception that carries them.

A :class:`Problem` says *where* something is wrong in the planner's terms (the list, the
record id or position, the field; and, when the round came from a CSV bundle or a
workbook, the file or sheet and the row number as the planner sees it) and *what* to do
about it. Messages never quote personal data (names, home locations): they name ids,
fields and rules only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (``error``) or suspicious (``warning``) in a round.

    ``list`` is the top-level list or section (``"placements"``, ``"rules"``...),
    ``index`` the 0-based position in that list, ``id`` the record's id when it has one,
    ``field`` a dotted path inside the record (``"capacity.R2"``). ``source`` and ``row``
    are filled in by the CSV and Excel readers: the file or sheet name and the 1-based
    row number the planner sees (the header is row 1). ``column`` is the column header.
    """

    message: str
    list: str | None = None
    index: int | None = None
    id: str | None = None
    field: str | None = None
    code: str = "invalid"
    severity: Severity = "error"
    source: str | None = None
    row: int | None = None
    column: str | None = None

    def __post_init__(self) -> None:
        # An id that is itself the problem (a control character, half a character, a
        # thousand characters) is not shown: the record is named by its position instead.
        if self.id is not None and (not self.id.isprintable() or len(self.id) > 100):
            object.__setattr__(self, "id", None)

    @property
    def where(self) -> str:
        """Where the problem is, as a planner would look for it."""
        if self.source is not None:
            parts = [self.source]
            if self.row is not None:
                parts.append(f"row {self.row}")
            if self.column is not None:
                parts.append(f"column {self.column}")
            elif self.field is not None:
                parts.append(f"column {self.field}")
            return ", ".join(parts)
        out = self.list or "round"
        if self.id is not None:
            out += f"[{self.id}]"
        elif self.index is not None:
            out += f"[#{self.index + 1}]"
        if self.field:
            out += f".{self.field}"
        return out

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"

    def at(self, **changes: object) -> Problem:
        """A copy with location fields replaced (used by the file readers)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (for ``--json`` output and the HTTP service)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "where": self.where,
            "list": self.list,
            "index": self.index,
            "id": self.id,
            "field": self.field,
            "source": self.source,
            "row": self.row,
            "column": self.column,
            "message": self.message,
        }


@dataclass
class InvalidRoundError(ValueError):
    """Raised when a round cannot be accepted; ``problems`` lists every error at once.

    ``warnings`` carries any warnings found alongside, so a caller can show both.
    """

    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    def summary(self) -> str:
        """A multi-line, human-readable list of every problem."""
        n = len(self.problems)
        head = f"the round has {n} problem{'s' if n != 1 else ''}:"
        return "\n".join([head, *(f"  - {p.where}: {p.message}" for p in self.problems)])

    def __str__(self) -> str:
        return self.summary()


class FormatError(InvalidRoundError):
    """A file could not be read as a round at all (wrong type, too large, corrupt)."""


class InternalSolverError(RuntimeError):
    """A solver answer disagrees with the independent checker, or CP-SAT rejected a model
    the library built: a bug, never bad input."""
