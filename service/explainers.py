"""The process that renders explanations and reports, replaced when it dies or overruns.

Explaining a result re-solves the round many times (OR-Tools, memory, seconds of CPU), so
it runs in a worker process of its own, never in the API process. One worker, started on
first use. When it dies (killed by an operator or the kernel's out-of-memory killer) or
overruns its deadline, :class:`Explainers` kills what is left of it and starts a fresh one
for the next request: the request that was running gets :class:`WorkerLost` (the routes
answer 503 with ``Retry-After``), and no later request ever meets a broken pool. A worker
found dead between requests is replaced before the request is sent to it, so that request
does not notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fastapi import HTTPException, status

from service.jobs import SPAWN
from service.settings import Settings

__all__ = ["Explainers", "WorkerLost"]

log = logging.getLogger(__name__)


class WorkerLost(RuntimeError):
    """The explanation worker died or overran while serving this request (it is replaced)."""


class Explainers:
    """One explanation worker process, started on first use and replaced when it fails."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.replaced = 0
        """How many workers were replaced (dead or overrunning) since start."""

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=SPAWN)
            return self._pool

    def _replace(self, pool: ProcessPoolExecutor, why: str) -> None:
        """Kill ``pool``'s worker and forget it (the next request starts a fresh one)."""
        with self._lock:
            if self._pool is not pool:
                return  # another request replaced it already
            self._pool = None
            self.replaced += 1
        log.warning("explanation worker replaced", extra={"reason": why})
        # ProcessPoolExecutor has no public way to kill a busy worker; its processes are
        # in ``_processes`` (pid -> Process) on every supported Python.
        for process in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def alive(self) -> bool:
        """False when the current worker has died and not been replaced yet (readiness)."""
        with self._lock:
            pool = self._pool
        if pool is None:
            return True  # none started yet: the next request starts one
        return not getattr(pool, "_broken", False) and all(
            p.is_alive() for p in getattr(pool, "_processes", {}).values())

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """``fn(*args)`` in the worker, within ``timeout`` seconds.

        Raises :class:`WorkerLost` when the worker dies during the call, and
        :class:`TimeoutError` when the call overruns (the worker is killed and replaced in
        both cases); exceptions of ``fn`` itself pass through."""
        loop = asyncio.get_running_loop()
        pool = self._current()
        if not self.alive():
            self._replace(pool, "found dead")
            pool = self._current()
        try:
            future = loop.run_in_executor(pool, fn, *args)
        except BrokenProcessPool:
            self._replace(pool, "found dead")
            pool = self._current()
            future = loop.run_in_executor(pool, fn, *args)
        try:
            return await asyncio.wait_for(future, timeout=timeout)
        except BrokenProcessPool:
            self._replace(pool, "died")
            raise WorkerLost("the explanation worker stopped while working on this "
                             "request; it has been restarted: try again") from None
        except TimeoutError:
            self._replace(pool, "overran")
            raise

    async def for_request(self, fn: Callable[..., Any], round_doc: Any, doc: Any,
                          settings: Settings, failed: str) -> Any:
        """``fn(round_doc, doc, time limit, max re-solves)`` within the service's explanation
        budget, as a route answers it: 503 with ``Retry-After`` when the worker was lost,
        409 "``failed`` (reason)" when the result cannot be explained or it overran."""
        try:
            return await self.run(fn, round_doc, doc, settings.explain_time_limit_s,
                                  settings.explain_max_resolves,
                                  timeout=settings.explain_time_limit_s + 120)
        except WorkerLost as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                                headers={"Retry-After": "1"}) from None
        except (ValueError, TimeoutError) as exc:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"{failed} ({type(exc).__name__})") from None

    def shutdown(self) -> None:
        """Stop the worker (at service shutdown)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
