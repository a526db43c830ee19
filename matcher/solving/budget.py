"""The one object that says when solving must stop: :class:`Budget`.

A solve call has a wall-clock limit for the whole call (candidates, models, search and the
final check), may be cancelled from another thread, and must keep a little time back for
checking and writing the answer. Every part of every path asks the same :class:`Budget`
(``left()``, ``stopped()``) instead of keeping clocks or events of its own, and hands a
part a slice of it with :meth:`Budget.slice`.
"""

from __future__ import annotations

import threading
import time

__all__ = ["Budget"]

# Seconds kept back by default for checking the answer and making the result.
DEFAULT_RESERVE_S = 0.05


class Budget:
    """The whole call's time: a deadline, a stop event and a reserve for the final check.

    ``limit_s`` counts from construction. ``stop`` (optional) cancels from another thread.
    ``reserve_s`` is kept back from :meth:`left` for checking and writing the result; a
    path that knows its answer will take longer to check raises it with :meth:`keep_back`.
    """

    def __init__(self, limit_s: float, stop: threading.Event | None = None, *,
                 reserve_s: float = DEFAULT_RESERVE_S) -> None:
        self.start = time.monotonic()
        self.limit = max(0.0, float(limit_s))
        self.stop = stop
        self.reserve = reserve_s

    @property
    def deadline(self) -> float:
        """The monotonic time at which the whole call must be over."""
        return self.start + self.limit

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return time.monotonic() - self.start

    def remaining(self) -> float:
        """Seconds until the deadline (negative once past), the reserve included."""
        return self.deadline - time.monotonic()

    def left(self) -> float:
        """Seconds left for solving: the time to the deadline less the reserve (>= 0)."""
        return max(0.0, self.remaining() - self.reserve)

    def cancelled(self) -> bool:
        """Whether the caller asked to stop."""
        return self.stop is not None and self.stop.is_set()

    def stopped(self) -> bool:
        """Cancelled, or only the reserve is left."""
        return self.cancelled() or self.remaining() <= self.reserve

    def keep_back(self, seconds: float) -> None:
        """Keep at least ``seconds`` back for the final check (never lowers the reserve)."""
        self.reserve = max(self.reserve, seconds)

    def slice(self, seconds: float) -> float:
        """``seconds`` capped at what is left: the limit to give one part of the search."""
        return max(0.0, min(seconds, self.left()))
