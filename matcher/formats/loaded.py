"""A round as a reader loaded it, with the way back from its records to the file's cells.

Validation speaks of lists, positions and fields (``pharmacists[#3].home.lat``); a CSV
bundle or a workbook is read by sheet, row and column. :class:`Loaded` keeps what a reader
knows about where each record came from, so warnings found after loading (by
:func:`matcher.validation.round_warnings`) are placed exactly like the reader's errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from matcher.domain import Round
from matcher.errors import Problem

if TYPE_CHECKING:
    from matcher.eligibility import Candidates


def _as_is(problem: Problem) -> Problem:
    return problem


@dataclass(frozen=True, slots=True)
class Loaded:
    """A validated round and ``locate``, which moves a problem about one of its records onto
    the file, sheet, row and column the record came from (JSON: left as it is)."""

    round: Round
    locate: Callable[[Problem], Problem] = _as_is

    def warnings(self, cand: Candidates | None = None) -> list[Problem]:
        """The round's warnings, each located like an error of the same source (``cand``:
        the round's eligible triples, when the caller has them already)."""
        from matcher.validation import round_warnings  # lazy: it loads numpy and eligibility

        return [self.locate(w) for w in round_warnings(self.round, cand)]
