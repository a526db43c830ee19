"""The worker that renders explanations and reports (a :class:`~service.workers.WorkerPool`).

Explaining a result re-solves the round many times (OR-Tools, memory, seconds of CPU), so it
runs in a worker process of its own, never in the API process: capped in memory
(``explain_memory_mb``), killed and replaced when it dies or overruns its deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, status

from service.settings import Settings
from service.workers import Busy, OutOfMemory, WorkerLost, WorkerPool

__all__ = ["Explainers", "WorkerLost"]


class Explainers(WorkerPool):
    """One explanation worker process, started on first use and replaced when it fails."""

    def __init__(self, memory_mb: int = 0) -> None:
        super().__init__("explanation", processes=1, memory_mb=memory_mb)

    async def for_request(self, fn: Callable[..., Any], round_doc: Any, doc: Any,
                          settings: Settings, failed: str) -> Any:
        """``fn(round_doc, doc, time limit, max re-solves)`` within the service's explanation
        budget, as a route answers it: 503 with ``Retry-After`` when the worker was lost or
        stayed busy, 409 "``failed`` (reason)" when the result cannot be explained, needed
        more memory than the cap, or overran."""
        budget = settings.explain_time_limit_s + 120
        try:
            return await self.run(fn, round_doc, doc, settings.explain_time_limit_s,
                                  settings.explain_max_resolves, timeout=budget)
        except (WorkerLost, Busy) as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                                headers={"Retry-After": "1"}) from None
        except OutOfMemory as exc:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"{failed}: {exc} (MATCHER_EXPLAIN_MEMORY_MB)") from None
        except (ValueError, TimeoutError) as exc:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"{failed} ({type(exc).__name__})") from None
