"""How to solve: :class:`SolveParams`, the paths it may force, and :class:`Progress`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from matcher.result import Result

__all__ = ["PATHS", "PathName", "Progress", "SolveParams"]

PathName = Literal["auto", "cp-sat", "flow+lns"]
"""``auto`` lets :func:`matcher.solving.solve` choose; ``cp-sat`` is the full model solved by
CP-SAT (:mod:`matcher.solving.full`); ``flow+lns`` splits the round into components, bounds
them by a min-cost flow and searches them with CP-SAT (:mod:`matcher.solving.flow_path`)."""

PATHS: tuple[str, ...] = get_args(PathName)


@dataclass(frozen=True)
class Progress:
    """An improving solution found during the search."""

    objective: int
    bound: float
    elapsed: float


@dataclass(frozen=True)
class SolveParams:
    """How to solve.

    ``time_limit_s`` bounds the whole call (building included). ``workers`` is the number of
    CP-SAT search workers (0: one per core). ``seed`` fixes the search; with one worker the
    answer is deterministic when the search ends by proof or gap rather than by the clock.
    ``log`` streams CP-SAT's log to the logger of :mod:`matcher.solving.cpsat`.
    ``hint`` is a previous result of the same (or a similar) round used as a warm start.
    ``progress`` is called with a :class:`Progress` for each improving solution.
    ``path`` forces a path (:data:`PathName`); any other name raises ``ValueError``.
    ``diagnose_s`` caps the seconds spent diagnosing an infeasible round (0 skips it);
    the diagnosis also stays within what is left of ``time_limit_s`` (at least 0.5 s).
    ``stop`` cancels from another thread: once it is set the search stops and ``solve``
    returns the best checked solution found so far (status ``feasible``, or ``unknown``
    when there is none yet).
    """

    time_limit_s: float = 60.0
    workers: int = 0
    seed: int = 0
    log: bool = False
    hint: Result | None = None
    progress: Callable[[Progress], None] | None = None
    path: PathName = "auto"
    diagnose_s: float = 10.0
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise ValueError(f"unknown solve path {self.path!r}; choose one of "
                             + ", ".join(repr(p) for p in PATHS))
        if self.workers < 0:
            raise ValueError(f"workers must be 0 (one per core) or more, not {self.workers}")

    @property
    def worker_count(self) -> int:
        """CP-SAT workers this call uses: ``workers``, or one per core when it is 0."""
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)
