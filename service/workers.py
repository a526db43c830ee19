"""Worker processes for work that must not run in the API process: bounded and replaceable.

Reading an upload, expanding a scenario and explaining a result can each take seconds of CPU
and gigabytes of memory on a large or hostile round. A :class:`WorkerPool` runs such calls
in a few spawned processes of its own, each with

* a **memory cap**: ``RLIMIT_AS`` set in the worker before it imports anything, so an
  allocation past the cap raises :class:`MemoryError` there (the worker is then replaced,
  the caller gets :class:`OutOfMemory`) instead of growing the API process or waking the
  kernel's out-of-memory killer;
* a **wall-clock limit** per call: a call that overruns has its worker killed and replaced,
  the caller gets :class:`TimeoutError`;
* **no orphans**: a worker exits when its service process is gone, and is killed when the
  service stops;
* **replacement** of a worker that died (killed by an operator or the kernel): the call it
  was serving gets :class:`WorkerLost` (the routes answer 503 with ``Retry-After``), and a
  worker found dead between calls is replaced before the next call reaches it, so no later
  call ever meets a broken pool.

Each worker is a single-process executor of its own, so replacing one never disturbs the
calls the others are serving. A call waits for an idle worker for at most ``wait`` seconds,
then gets :class:`Busy` (503 with ``Retry-After``): waiting callers are bounded, and nothing
here is tied to one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Busy", "OutOfMemory", "WorkerLost", "WorkerPool", "poll"]

log = logging.getLogger(__name__)

SPAWN = multiprocessing.get_context("spawn")
"""Workers are fresh interpreters (no state inherited from the API process)."""

T = TypeVar("T")

_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class WorkerLost(RuntimeError):
    """The worker died or was replaced while serving this call (try again)."""


class OutOfMemory(RuntimeError):
    """The call needed more memory than the pool's cap (its worker was replaced)."""


class Busy(RuntimeError):
    """No worker became idle within the call's wait (try again shortly)."""


@dataclass(frozen=True)
class _Overflow:
    """What a worker returns in place of a result when the call ran out of memory."""


def start_worker(memory_mb: int) -> None:
    """Set a worker up, before it imports anything: cap its address space at ``memory_mb``
    MiB (0: no cap; numeric libraries are kept to one thread, so their per-thread
    reservations do not eat the cap), and make it exit when its service process is gone
    (killed with ``kill -9``: nothing else would tell an idle worker)."""
    for name in _ONE_THREAD:
        os.environ.setdefault(name, "1")
    if memory_mb > 0:
        import resource  # local: POSIX only, and only workers cap themselves

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def call_capped(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker; running out of memory becomes a marker the pool acts on:
    a :class:`MemoryError`, or an :class:`ImportError` of a compiled module the capped
    address space had no room to map (the first call that needs OR-Tools, say)."""
    try:
        return fn(*args)
    except MemoryError:
        return _Overflow()
    except ImportError as exc:
        if _NO_ROOM.search(str(exc)):
            return _Overflow()
        raise


_NO_ROOM = re.compile(r"cannot allocate memory|failed to map segment", re.IGNORECASE)


async def poll(take: Callable[[], T | None], wait: float) -> T | None:
    """``take()`` until it gives something, for at most ``wait`` seconds (None then),
    sleeping 10 ms, then longer up to 100 ms, between tries: nothing here is tied to one
    event loop, unlike an ``asyncio`` semaphore."""
    deadline = time.monotonic() + wait
    pause = 0.01
    while True:
        got = take()
        if got is not None or time.monotonic() >= deadline:
            return got
        await asyncio.sleep(pause)
        pause = min(0.1, pause * 2)


def _ping() -> bool:
    """A call that does nothing (does the worker answer?)."""
    return True


class _Slot:
    """One worker process (a one-process executor), started on first use."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.executor: ProcessPoolExecutor | None = None

    def current(self) -> ProcessPoolExecutor:
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=1, mp_context=SPAWN, initializer=start_worker,
                initargs=(self.memory_mb,))
        return self.executor

    def alive(self) -> bool:
        executor = self.executor
        if executor is None:
            return True  # none started yet: the next call starts one
        return not getattr(executor, "_broken", False) and all(
            p.is_alive() for p in getattr(executor, "_processes", {}).values())

    def stop(self, *, kill: bool = True, wait: bool = False) -> None:
        """Forget the worker (the next call starts a fresh one): killed first with
        ``kill`` (busy or not), else left to finish and exit; ``wait`` waits for that."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        if kill:
            # ProcessPoolExecutor has no public way to kill a busy worker; its processes
            # are in ``_processes`` (pid -> Process) on every supported Python.
            for process in list(getattr(executor, "_processes", {}).values()):
                with contextlib.suppress(Exception):
                    process.kill()
        executor.shutdown(wait=wait, cancel_futures=True)

    def pids(self) -> list[int]:
        executor = self.executor
        return [] if executor is None else list(getattr(executor, "_processes", {}))


class WorkerPool:
    """``processes`` worker processes capped at ``memory_mb`` MiB each (0: no cap)."""

    def __init__(self, name: str, *, processes: int = 1, memory_mb: int = 0) -> None:
        self.name = name
        self.memory_mb = memory_mb
        self._slots = [_Slot(memory_mb) for _ in range(max(1, processes))]
        self._idle = list(self._slots)
        self._lock = threading.Lock()
        self.replaced = 0
        """How many workers were replaced (dead, overrunning, out of memory) since start."""

    def warm(self, fn: Callable[[], Any]) -> None:
        """Start every worker not started yet and have it run ``fn`` (its imports), without
        waiting: the first real call finds a worker ready instead of paying for its start."""
        with self._lock:
            idle = [slot for slot in self._idle if slot.executor is None]
        for slot in idle:
            with contextlib.suppress(Exception):  # only a head start
                slot.current().submit(fn)

    def alive(self) -> bool:
        """False when an idle worker has died and not been replaced yet (readiness)."""
        with self._lock:
            idle = list(self._idle)
        return all(slot.alive() for slot in idle)

    def pids(self) -> list[int]:
        """Process ids of the workers started so far."""
        with self._lock:
            return [pid for slot in self._slots for pid in slot.pids()]

    def _replace(self, slot: _Slot, why: str) -> None:
        with self._lock:
            self.replaced += 1
        log.warning("worker replaced", extra={"pool": self.name, "reason": why})
        slot.stop()

    async def _acquire(self, wait: float) -> _Slot:
        def idle() -> _Slot | None:
            with self._lock:
                return self._idle.pop() if self._idle else None

        slot = await poll(idle, wait)
        if slot is None:
            raise Busy(f"every {self.name} worker is busy; try again in a few seconds")
        return slot

    def _release(self, slot: _Slot) -> None:
        with self._lock:
            self._idle.append(slot)

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float,
                  wait: float | None = None) -> Any:
        """``fn(*args)`` in a worker, within ``timeout`` seconds once a worker is idle.

        Waits at most ``wait`` seconds (default ``timeout``) for an idle worker, else
        :class:`Busy`. Raises :class:`WorkerLost` when the worker dies during the call,
        :class:`OutOfMemory` when the call needed more than the cap, and
        :class:`TimeoutError` when it overran (the worker is replaced in those three cases);
        exceptions of ``fn`` itself pass through (they must be picklable)."""
        slot = await self._acquire(timeout if wait is None else wait)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            if slot.executor is not None:
                # A worker killed since its last call can still look alive (its executor
                # notices a death only on its own thread): a no-op call through it finds
                # a dead one for certain (a broken executor refuses it at once), in about
                # a millisecond, and waits out a warm-up within the call's time.
                try:
                    await asyncio.wait_for(loop.run_in_executor(slot.executor, _ping),
                                           timeout=timeout)
                except BrokenProcessPool:
                    self._replace(slot, "found dead")
                except TimeoutError:
                    self._replace(slot, "overran")
                    raise
            try:
                future = loop.run_in_executor(slot.current(), call_capped, fn, *args)
            except BrokenProcessPool:
                self._replace(slot, "found dead")
                future = loop.run_in_executor(slot.current(), call_capped, fn, *args)
            try:
                out = await asyncio.wait_for(future, timeout=max(0.0, deadline - loop.time()))
            except BrokenProcessPool:
                self._replace(slot, "died")
                raise WorkerLost(f"the {self.name} worker stopped while working on this "
                                 "request; it has been restarted: try again") from None
            except TimeoutError:
                self._replace(slot, "overran")
                raise
            except asyncio.CancelledError:  # the caller gave up: do not leave it running
                self._replace(slot, "abandoned")
                raise
            if isinstance(out, _Overflow):
                self._replace(slot, "out of memory")  # a MemoryError can leave it unsound
                raise OutOfMemory(f"this needs more than the {self.memory_mb:,} MiB of "
                                  f"memory a {self.name} worker may use")
            return out
        finally:
            self._release(slot)

    def shutdown(self) -> None:
        """Stop every worker (at service shutdown): a busy one is killed (its call is
        abandoned, as its request is), an idle one finishes what it was warming up and
        exits; each executor is then closed and waited for, so no queue or semaphore is
        left for multiprocessing's resource tracker to complain about."""
        with self._lock:
            slots = list(self._slots)
            idle = set(map(id, self._idle))
        for slot in slots:
            slot.stop(kill=id(slot) not in idle, wait=True)
