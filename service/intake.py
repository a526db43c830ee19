"""Reading rounds out of the API process: uploads, scenarios and re-plans, within limits.

Validating a round costs CPU and memory in proportion to its size (a 50,000-pharmacist
upload took 5.6 GB and 43 s), and applying a scenario validates again. None of that runs
in the API process: :class:`Intake` is a :class:`~service.workers.WorkerPool` whose
workers are capped in memory (``intake_memory_mb``) and time (``intake_time_limit_s``), and
the API process only receives the stored form of the round (:class:`Prepared`).

Before that, the **admission limits** (``max_pharmacists``, ``max_placements``,
``max_candidates``; :class:`~matcher.formats.SizeLimits`) refuse a round that is too large
for this service with 413, naming each count, its cap and the setting that raises it:
pharmacists and placements are counted before any record is validated, so refusing a huge
round costs little. A tenant may have ``max_intake_per_tenant`` rounds being received or
read at once (:meth:`Intake.turn`: more wait their turn, up to ``intake_wait_s``, then 429),
so one tenant can neither hold every worker nor fill the API process with upload bodies.

What the workers run is in :mod:`service.intake_work` (it imports only the library, so a
worker starts quickly).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import HTTPException, status
from fastapi.concurrency import run_in_threadpool

from matcher.errors import InvalidRoundError, Problem
from matcher.formats import SizeLimits
from service.intake_work import Prepared, Refused
from service.settings import Settings
from service.store import RoundRecord, Store
from service.workers import Busy, OutOfMemory, WorkerLost, WorkerPool, poll

__all__ = ["Intake", "RoundTooLarge", "limits_of", "store_prepared"]

_SETTING_OF = {"too_many_pharmacists": "MATCHER_MAX_PHARMACISTS",
               "too_many_placements": "MATCHER_MAX_PLACEMENTS",
               "too_many_candidates": "MATCHER_MAX_CANDIDATES"}


class RoundTooLarge(Exception):
    """A round above this service's limits (answered 413 with every problem)."""

    def __init__(self, detail: str, problems: list[Problem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


def limits_of(settings: Settings) -> SizeLimits:
    """The admission limits in ``settings``."""
    return SizeLimits(pharmacists=settings.max_pharmacists, placements=settings.max_placements,
                      candidates=settings.max_candidates)


# ---- in the API process ----------------------------------------------------------------------


class Intake(WorkerPool):
    """The intake workers, and how many rounds each tenant has being read."""

    def __init__(self, settings: Settings) -> None:
        super().__init__("intake", processes=settings.intake_workers,
                         memory_mb=settings.intake_memory_mb)
        self._tenants: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    @asynccontextmanager
    async def turn(self, tenant: str, settings: Settings) -> AsyncIterator[None]:
        """One of ``tenant``'s ``max_intake_per_tenant`` places: wait up to
        ``intake_wait_s`` for one, else 429. Take it before reading an upload's body, so
        the bodies a tenant has in this process at once are bounded too."""
        def place() -> bool | None:
            with self._count_lock:
                if self._tenants[tenant] >= settings.max_intake_per_tenant:
                    return None
                self._tenants[tenant] += 1
                return True

        if await poll(place, settings.intake_wait_s) is None:
            with self._count_lock:
                held = self._tenants[tenant]
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"{held} of your rounds are being read already (at most "
                f"{settings.max_intake_per_tenant} at once); try again when they are done",
                headers={"Retry-After": "2"})
        try:
            yield
        finally:
            with self._count_lock:
                self._tenants[tenant] -= 1
                if self._tenants[tenant] <= 0:
                    del self._tenants[tenant]

    async def prepare(self, settings: Settings, fn: Callable[..., Prepared | Refused],
                      *args: Any) -> Prepared:
        """``fn(*args, limits)`` in an intake worker, answered as a route answers it (the
        caller holds the tenant's :meth:`turn`).

        Raises :class:`InvalidRoundError` with every problem (422),
        :class:`RoundTooLarge` above an admission limit, the memory cap or the time limit
        (413), and :class:`HTTPException` 503 with ``Retry-After`` (every worker stayed
        busy, or the worker was lost)."""
        try:
            out = await self.run(fn, *args, limits_of(settings),
                                 timeout=settings.intake_time_limit_s,
                                 wait=settings.intake_wait_s)
        except (WorkerLost, Busy) as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                                headers={"Retry-After": "2"}) from None
        except OutOfMemory:
            raise RoundTooLarge(
                f"reading this round needs more than the {settings.intake_memory_mb:,} "
                "MiB of memory this service allows (MATCHER_INTAKE_MEMORY_MB): split the "
                "round, or ask the operator to raise the limit") from None
        except TimeoutError:
            raise RoundTooLarge(
                f"reading this round took longer than the {settings.intake_time_limit_s:g}"
                " s this service allows (MATCHER_INTAKE_TIME_LIMIT_S): split the round, "
                "or ask the operator to raise the limit") from None
        if isinstance(out, Refused):
            if out.too_large:
                raise RoundTooLarge(_too_large_detail(out.problems), out.problems)
            raise InvalidRoundError(out.problems, out.warnings)
        if not isinstance(out, Prepared):
            raise TypeError(f"an intake worker returned {type(out).__name__}")
        return out


    async def render(self, settings: Settings, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` (a file made from a stored round: a planner workbook, an export) in
        an intake worker, so the API process never parses a large round: 503 with
        ``Retry-After`` when every worker stayed busy or the worker was lost, 409 when it
        needs more memory or time than a worker may use."""
        try:
            return await self.run(fn, *args, timeout=settings.intake_time_limit_s,
                                  wait=settings.intake_wait_s)
        except (WorkerLost, Busy) as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc),
                                headers={"Retry-After": "2"}) from None
        except OutOfMemory:
            raise HTTPException(status.HTTP_409_CONFLICT, (
                f"making this file needs more than the {settings.intake_memory_mb:,} MiB of "
                "memory this service allows (MATCHER_INTAKE_MEMORY_MB)")) from None
        except TimeoutError:
            raise HTTPException(status.HTTP_409_CONFLICT, (
                f"making this file took longer than the {settings.intake_time_limit_s:g} s "
                "this service allows (MATCHER_INTAKE_TIME_LIMIT_S)")) from None


async def store_prepared(store: Store, tenant: str, prepared: Prepared, **summary: Any
                         ) -> RoundRecord:
    """Store a round an intake worker read (its summary with ``summary`` added), off the
    event loop."""
    return await run_in_threadpool(
        store.add_round, tenant, round_id=prepared.round_id, document=prepared.document,
        summary=prepared.summary | summary, warnings=prepared.warnings)


def _too_large_detail(problems: list[Problem]) -> str:
    settings = sorted({_SETTING_OF[p.code] for p in problems if p.code in _SETTING_OF})
    return ("the round is larger than this service accepts: "
            + "; ".join(p.message for p in problems)
            + (f" (the operator can raise {', '.join(settings)})" if settings else ""))
