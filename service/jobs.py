"""The durable job runner: the database row is the truth, each solve its own process.

How a job moves (every step a conditional update of its row, see :mod:`service.store`)::

    queued --claim--> running --finish--> succeeded | failed | cancelled
       ^                 |
       +--retry_or_fail--+  (the process died or its lease expired: again, or failed)

* :class:`JobRunner` lives in the service process. It claims queued jobs up to
  ``max_concurrent_solves`` (fairly between tenants, and safely beside other service
  instances on the same database: :meth:`Store.claim_next`) and runs each attempt in a child
  process of its own (``spawn`` start method), so a solve that crashes or is killed takes
  nothing else with it. With ``prewarm`` (the default) it keeps one *spare* started ahead of
  time: a process that has imported OR-Tools and the library and waits on a pipe for its
  :class:`AttemptSpec`, so an attempt does not pay for process start-up and imports. The
  spare holds no database connection and no tenant's data until it is handed a spec; the
  runner then starts the next spare (at once, or when a solve ends if the running solves use
  every core and no job waits), replaces a spare that died while idle, and stops it on
  shutdown. It reaps children (a dead child's job is queued again, at most ``max_attempts``
  times, or failed with the reason), kills a cancelled solve that does not stop within
  ``cancel_grace_s``, enforces each solve's limits from outside it (a process still running
  ``solve_grace_s`` past its job's time limit, or whose resident memory is above
  ``solve_memory_mb``, is killed and its job failed with the reason, never retried: another
  attempt would do the same), and sweeps expired leases on start-up and every
  ``reconcile_s``: that
  is how jobs of a service that was killed outright are recovered (by itself when it
  restarts, or by another instance on the same database once their lease runs out).
* :func:`serve_attempt` is the child: it warms up (imports), waits for a spec, then runs
  :func:`run_attempt`, which solves in a thread while its main thread renews the
  lease and publishes progress every ``heartbeat_s``; it stops the search when a cancel is
  asked for and saves the best solution found so far; it exits at once when its service
  process is gone or its lease is no longer its own (the job was requeued or deleted).
  A heartbeat the database refuses (SQLite's write lock held elsewhere) is skipped and the
  outcome is saved with retries, so a held lock neither crashes nor reruns a solve.
  The result is written in the same transaction that ends the attempt, under the job id as
  primary key: a job never gets two results.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from matcher.wording import number
from service.settings import Settings
from service.store import JobRecord, Store, StoreBusy

__all__ = ["AttemptSpec", "JobRunner", "explain_document", "run_attempt", "serve_attempt"]

log = logging.getLogger("service.jobs")

SPAWN = multiprocessing.get_context("spawn")
"""The process context of every solve attempt and explanation worker (fresh interpreters)."""


@dataclass(frozen=True)
class AttemptSpec:
    """What a solve process needs to run one attempt of a job (picklable)."""

    database_url: str
    job_id: str
    tenant: str
    attempt: int
    owner: str
    time_limit_s: float
    workers: int
    seed: int
    lease_s: float
    heartbeat_s: float
    log_level: str = "INFO"


@dataclass
class _Child:
    spec: AttemptSpec
    process: BaseProcess
    started: float
    stopped_for: tuple[str, str] | None = None
    """(kind, error) once the runner killed it for a limit: ``time_limit`` or ``memory``."""


@dataclass
class _Ready:
    """A solve process started ahead of time, and the pipe its spec will be sent down."""

    process: BaseProcess
    conn: Connection
    started: float

    def close(self) -> None:
        """Stop it (it holds nothing yet): close its pipe, SIGTERM, SIGKILL if it lingers."""
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# ---- the service side ------------------------------------------------------------------------


class JobRunner:
    """Claims queued jobs and runs each attempt in its own spawned process."""

    def __init__(self, store: Store, settings: Settings, *, owner: str | None = None) -> None:
        self.store = store
        self.settings = settings
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._children: dict[str, _Child] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._spare: _Ready | None = None
        self._spare_due = 0.0  # monotonic time before which no new spare is started
        self._spare_deaths = 0  # spares in a row that died while idle (for the backoff)
        self.stats = {"warm_starts": 0, "cold_starts": 0, "spares_replaced": 0,
                      "stopped_time_limit": 0, "stopped_memory": 0}
        """Attempts started in a spare / in a process started for them; idle spares lost;
        solves killed for running past their time limit plus grace / above the memory cap."""
        self.on_finished: Callable[[str, str], None] | None = None

    # lifecycle

    def start(self) -> None:
        """Recover what a previous service left behind, then run in a background thread."""
        self.reconcile()
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)
        self._thread.start()
        log.info("job runner started", extra={"owner": self.owner})

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; stop running solves and put their jobs back in the queue."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            children = list(self._children.values())
            self._children.clear()
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.close()
        for child in children:
            child.process.terminate()
        for child in children:
            child.process.join(5)
            if child.process.is_alive():
                child.process.kill()
                child.process.join(5)
            state = self.store.retry_or_fail(child.spec.job_id, child.spec.attempt,
                                             "the service shut down during the solve")
            log.info("job interrupted by shutdown", extra={
                "job_id": child.spec.job_id, "tenant": child.spec.tenant, "state": state})

    def wake(self) -> None:
        """Look for work now (a job was submitted or cancelled)."""
        self._wake.set()

    def alive(self) -> bool:
        """Whether the runner's loop is running (for readiness)."""
        return self._thread is not None and self._thread.is_alive()

    def running_pids(self) -> dict[str, int]:
        """Job id to solve process id, for the solves this runner started."""
        with self._lock:
            return {k: c.process.pid for k, c in self._children.items()
                    if c.process.pid is not None}

    def spare_pid(self) -> int | None:
        """The process id of the idle spare solve process, if there is one."""
        with self._lock:
            return self._spare.process.pid if self._spare is not None else None

    # the loop

    def _loop(self) -> None:
        next_sweep = time.monotonic() + self.settings.reconcile_s
        while not self._stopping.is_set():
            try:
                self._enforce_limits()
                self._reap()
                self._keep_spare()
                self._enforce_cancels()
                if time.monotonic() >= next_sweep:
                    self.reconcile()
                    next_sweep = time.monotonic() + self.settings.reconcile_s
                self._fill()
            except Exception:  # the database may be briefly unavailable: keep going
                log.exception("job runner iteration failed")
            self._wake.wait(min(0.5, self.settings.reconcile_s))
            self._wake.clear()

    def reconcile(self) -> None:
        """Queue again (or fail) running jobs whose lease expired and that are not ours."""
        with self._lock:
            mine = {(c.spec.job_id, c.spec.attempt) for c in self._children.values()}
        for job in self.store.expired_leases():
            if (job.id, job.attempts) in mine:
                continue
            state = self.store.retry_or_fail(
                job.id, job.attempts, "its solve process stopped renewing its lease (the "
                "service restarted or the process was lost)", only_if_expired=True)
            if state is not None:
                log.warning("expired lease recovered", extra={
                    "job_id": job.id, "tenant": job.tenant, "attempt": job.attempts,
                    "state": state})
                self._notify(job.id, state)

    def _reap(self) -> None:
        with self._lock:
            done = [c for c in self._children.values() if not c.process.is_alive()]
            for child in done:
                del self._children[child.spec.job_id]
        for child in done:
            child.process.join()
            code = child.process.exitcode
            if child.stopped_for is not None:  # killed for a limit: failed, not retried
                kind, reason = child.stopped_for
                extra: dict[str, Any] = {"reason": kind}
                retry, what = False, "solve stopped by the runner"
            else:
                reason = (f"the solve process was killed by signal {-code}"
                          if code is not None and code < 0
                          else f"the solve process exited with code {code}")
                extra = {"exit_code": code}
                retry, what = True, "solve process died"
            # Only takes effect when the attempt did not end itself first.
            state = self.store.retry_or_fail(child.spec.job_id, child.spec.attempt, reason,
                                             retry=retry)
            if state is not None:
                log.warning(what, extra={
                    "job_id": child.spec.job_id, "tenant": child.spec.tenant,
                    "attempt": child.spec.attempt, "state": state} | extra)
            final = self.store.jobs_by_ids([child.spec.job_id])
            if final:
                self._notify(child.spec.job_id, final[0].state)

    def _notify(self, job_id: str, state: str) -> None:
        if self.on_finished is not None and state in ("succeeded", "failed", "cancelled"):
            with contextlib.suppress(Exception):
                self.on_finished(job_id, state)

    def _enforce_cancels(self) -> None:
        with self._lock:
            children = dict(self._children)
        if not children:
            return
        now = time.time()
        for job in self.store.jobs_by_ids(list(children)):
            child = children[job.id]
            overdue = (job.cancel_requested_at is not None
                       and now - job.cancel_requested_at > self.settings.cancel_grace_s)
            if overdue and child.process.is_alive():
                log.warning("cancelled solve did not stop in time; killing it", extra={
                    "job_id": job.id, "tenant": job.tenant})
                child.process.kill()

    def _enforce_limits(self) -> None:
        """Kill each solve past its time limit plus ``solve_grace_s`` (counted from when its
        process got the spec) or above ``solve_memory_mb`` of resident memory.

        The solve stops itself at its time limit (:class:`matcher.solving.budget.Budget`);
        one still running a grace later is stuck in work that checks no clock, and asking
        it again would not help, so it is killed outright (SIGKILL), as is one above the
        memory cap, before it takes the machine's memory from everything else. The reason
        is kept on the child; :meth:`_reap`, next in the loop, fails the job with it.

        Memory is watched from here rather than capped with ``RLIMIT_AS`` in the child:
        CP-SAT's worker threads reserve three to four times their resident memory as
        address space (thread stacks, malloc arenas), and an address-space limit anywhere
        near the cap aborts the solver (``std::bad_alloc``) on rounds that fit well in it.
        """
        with self._lock:
            children = [c for c in self._children.values() if c.stopped_for is None]
        if not children:
            return
        cap = self.settings.solve_memory_mb
        for child in children:
            if not child.process.is_alive() or child.process.pid is None:
                continue
            elapsed = time.monotonic() - child.started
            limit, grace = child.spec.time_limit_s, self.settings.solve_grace_s
            rss = _rss_mib(child.process.pid) if cap > 0 else None
            if elapsed > limit + grace:
                kind, error = "time_limit", (
                    f"the solve ran past its time limit of {limit:g} s plus the "
                    f"{grace:g} s grace (MATCHER_SOLVE_GRACE_S) and was stopped; a "
                    "smaller round, or a longer grace, lets it finish")
            elif rss is not None and rss > cap:
                kind, error = "memory", (
                    f"the solve used more than {number(cap)} MiB of memory and was stopped; "
                    "raise MATCHER_SOLVE_MEMORY_MB or solve a smaller round")
            else:
                continue
            child.stopped_for = (kind, error)
            child.process.kill()
            child.process.join(5)
            self.stats[f"stopped_{kind}"] += 1
            log.warning("solve over its limit; killed", extra={
                "job_id": child.spec.job_id, "tenant": child.spec.tenant,
                "attempt": child.spec.attempt, "reason": kind,
                "elapsed_s": round(elapsed, 2), "rss_mib": rss})

    def _fill(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                if len(self._children) >= self.settings.max_concurrent_solves:
                    return
            job = self.store.claim_next(self.owner, self.settings.lease_s)
            if job is None:
                return
            self._spawn(job)

    def _spawn(self, job: JobRecord) -> None:
        spec = AttemptSpec(
            database_url=self.store.url, job_id=job.id, tenant=job.tenant,
            attempt=job.attempts, owner=self.owner, time_limit_s=job.time_limit_s,
            workers=job.workers, seed=job.seed, lease_s=self.settings.lease_s,
            heartbeat_s=self.settings.heartbeat_s, log_level=self.settings.log_level)
        with self._lock:
            spare, self._spare = self._spare, None
        warm = spare is not None and _hand_over(spare, spec)
        if spare is not None and not warm:
            log.warning("spare solve process lost; starting the attempt in a new one",
                        extra={"job_id": job.id, "pid": spare.process.pid})
            spare.close()
        ready = spare if warm and spare is not None else self._start_process()
        if not warm and not _hand_over(ready, spec):
            log.error("a new solve process could not be handed its attempt",
                      extra={"job_id": job.id, "pid": ready.process.pid})
        with contextlib.suppress(OSError):
            ready.conn.close()  # one spec per process: the pipe is done with
        process = ready.process
        self.stats["warm_starts" if warm else "cold_starts"] += 1
        if warm:
            self._spare_deaths = 0
        with self._lock:
            self._children[job.id] = _Child(spec, process, time.monotonic())
        if process.pid is not None:
            self.store.set_pid(job.id, job.attempts, self.owner, process.pid)
        log.info("solve started", extra={"job_id": job.id, "tenant": job.tenant,
                                         "attempt": job.attempts, "pid": process.pid,
                                         "warm": warm})
        self._keep_spare()

    def _start_process(self) -> _Ready:
        """Start a solve process; it warms up, then waits for its spec on the pipe."""
        reader, writer = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(target=serve_attempt,
                                args=(reader, self.settings.log_level, self.store.url),
                                daemon=True, name="solve")
        process.start()
        reader.close()  # the child's end: sending to a dead child then fails at once
        return _Ready(process, writer, time.monotonic())

    def _keep_spare(self) -> None:
        """Have one idle spare (``prewarm``): replace one that died; none when stopping."""
        if not self.settings.prewarm or self._stopping.is_set():
            return
        with self._lock:
            spare = self._spare
        if spare is not None:
            if spare.process.is_alive():
                return
            with self._lock:
                self._spare = None
            spare.close()
            self._spare_deaths += 1
            self.stats["spares_replaced"] += 1
            # A spare that keeps dying (it cannot import the solver?) is not restarted
            # in a tight loop: 1, 2, 4 ... 60 s apart.
            self._spare_due = time.monotonic() + min(60.0, 2.0 ** (self._spare_deaths - 1))
            log.warning("idle spare solve process died; replacing it", extra={
                "pid": spare.process.pid, "exit_code": spare.process.exitcode,
                "count": self._spare_deaths})
        if time.monotonic() < self._spare_due or self._spare_would_slow_a_solve():
            return
        ready = self._start_process()
        with self._lock:
            self._spare = ready
        log.debug("spare solve process started", extra={"pid": ready.process.pid})


    def _spare_would_slow_a_solve(self) -> bool:
        """Whether warming a spare up now would take CPU from a running solve for nothing.

        Importing OR-Tools takes most of a core for a second or so. When the running solves'
        workers already use every core and no job is waiting, the next spare is started
        when a solve ends instead (on a 2-core machine that saves the lone running solve
        about a third of a second); with a core to spare, or jobs queued, at once.
        """
        with self._lock:
            busy = sum(c.spec.workers for c in self._children.values())
        if busy == 0 or busy < _cores():
            return False
        return not self.store.any_queued()


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _rss_mib(pid: int) -> int | None:
    """The resident memory of process ``pid`` in MiB (Linux ``/proc``); None elsewhere or
    when it is gone. A solve's CP-SAT workers are threads of its process, so this is all
    of it."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _hand_over(ready: _Ready, spec: AttemptSpec) -> bool:
    """Send ``spec`` to a waiting solve process; False when it is gone."""
    if not ready.process.is_alive():
        return False
    try:
        ready.conn.send(spec)
    except OSError:  # BrokenPipeError: it died since
        return False
    return True


# ---- the child side --------------------------------------------------------------------------


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _solve_params(spec: AttemptSpec, progress: Callable[[Any], None],
                  stop: threading.Event) -> Any:
    """Solve parameters of an attempt; ``stop`` cancels and keeps the best solution so far."""
    from matcher.solving import SolveParams  # local: only the solve process loads the solver

    return SolveParams(time_limit_s=spec.time_limit_s, workers=spec.workers, seed=spec.seed,
                       progress=progress, stop=stop)


def serve_attempt(conn: Connection, log_level: str = "INFO",
                  database_url: str | None = None) -> None:
    """A solve process (spawned): import the solver, wait for a spec, run that attempt.

    Until the spec arrives it holds no database connection and no tenant's data (the
    database driver is imported, not connected). It exits (code 0) when the pipe is closed
    or its service process is gone before that.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service to handle
    parent = os.getppid()
    # local: this runs in a fresh (spawned) interpreter; warming it up is the point
    from service.logs import configure_logging

    configure_logging(log_level)
    _warm_up(database_url)
    spec = None
    while spec is None:
        if os.getppid() != parent:
            return
        try:
            if conn.poll(1.0):
                spec = conn.recv()
        except (EOFError, OSError):  # the runner closed the pipe (shutdown) or died
            return
    conn.close()
    if os.getppid() != parent:  # the service died right after sending it
        return
    run_attempt(spec, parent=parent)


def _warm_up(database_url: str | None) -> None:
    """Import what an attempt needs (OR-Tools, the solver, the database driver)."""
    # local: only solve processes load the solver; the API process never does
    from matcher.solving import solve
    from matcher.validation import parse_round

    del solve, parse_round
    if database_url:
        with contextlib.suppress(Exception):  # only a head start: the attempt says what failed
            make_url(database_url).get_dialect().import_dbapi()


def run_attempt(spec: AttemptSpec, parent: int | None = None) -> None:
    """Run one attempt of a job in this (child) process; see the module docstring.

    ``parent`` is the service process (default: this process's parent now).
    """
    from service.logs import configure_logging  # local: a fresh (spawned) interpreter

    configure_logging(spec.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the service to handle
    parent = os.getppid() if parent is None else parent
    ids = {"job_id": spec.job_id, "tenant": spec.tenant, "attempt": spec.attempt}
    # A short wait for SQLite's write lock: a heartbeat that cannot be written is skipped
    # (the next one renews the lease), so the loop keeps watching its service process.
    store = Store(spec.database_url, pool=False,
                  busy_timeout_s=min(5.0, max(1.0, 2 * spec.heartbeat_s)))
    try:
        _run(spec, store, parent, ids)
    finally:
        store.dispose()


_TRANSIENT = (StoreBusy, OperationalError)
"""Database errors an attempt outlives: a write lock held elsewhere, a database restarting."""


def _finish(spec: AttemptSpec, store: Store, parent: int, ids: dict[str, Any],
            **outcome: Any) -> str | None:
    """``store.finish`` retried while the database refuses it (a held write lock, a restart).

    The attempt keeps its lease meanwhile (no one else can write either), so the result is
    saved once the database takes writes again; it gives up (exit code 5, the runner then
    queues the job again) only after ``max(120, 4 * lease_s)`` seconds or when its service
    process is gone.
    """
    deadline = time.monotonic() + max(120.0, 4 * spec.lease_s)
    pause = 0.1
    while True:
        try:
            return store.finish(spec.job_id, spec.attempt, spec.owner, **outcome)
        except _TRANSIENT as exc:
            if time.monotonic() > deadline or os.getppid() != parent:
                log.error("could not save the outcome; giving up",
                          extra=ids | {"error_type": type(exc).__name__})
                os._exit(5)
            log.warning("database refused the outcome; retrying",
                        extra=ids | {"error_type": type(exc).__name__})
            time.sleep(pause)
            pause = min(1.0, pause * 2)


def _run(spec: AttemptSpec, store: Store, parent: int, ids: dict[str, Any]) -> None:
    # local: runs in the solve process; the API process never loads OR-Tools
    from matcher.errors import InvalidRoundError
    from matcher.solving import solve
    from matcher.validation import parse_round

    try:
        rnd = parse_round(json.loads(store.round_document_of(spec.job_id)))
    except (InvalidRoundError, ValueError, LookupError) as exc:
        _finish(spec, store, parent, ids, result=None,
                error=f"the stored round could not be read ({type(exc).__name__})")
        log.error("stored round unreadable", extra=ids)
        return

    lock = threading.Lock()
    latest: dict[str, Any] = {}

    def progress(p: Any) -> None:
        bound = _finite(float(p.bound))
        gap = (None if bound is None
               else max(0.0, (bound - p.objective) / max(1.0, abs(bound))))
        with lock:
            latest.update(objective=int(p.objective), bound=bound, gap=gap,
                          elapsed_s=round(float(p.elapsed), 3))

    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = solve(rnd, _solve_params(spec, progress, stop))
        except Exception as exc:
            outcome["error"] = exc

    log.info("solving", extra=ids)
    started = time.monotonic()
    thread = threading.Thread(target=work, name="solve", daemon=True)
    thread.start()
    published: dict[str, Any] = {}
    while thread.is_alive():
        thread.join(spec.heartbeat_s)
        if os.getppid() != parent:
            log.warning("service process gone; abandoning the attempt", extra=ids)
            os._exit(3)
        with lock:
            now = dict(latest)
        fresh = {k: v for k, v in now.items() if published.get(k) != v}
        if "elapsed_s" not in now:
            fresh["elapsed_s"] = round(time.monotonic() - started, 3)
        try:
            ours, cancel = store.heartbeat(spec.job_id, spec.attempt, spec.owner,
                                           spec.lease_s, fresh or None)
        except _TRANSIENT as exc:  # the solve goes on; the next heartbeat tries again
            log.warning("heartbeat not written (database busy or unavailable)",
                        extra=ids | {"error_type": type(exc).__name__})
            continue
        published = now
        if not ours:
            log.warning("lease lost (job requeued or deleted); stopping", extra=ids)
            os._exit(4)
        if cancel and not stop.is_set():
            log.info("cancel requested; stopping the search", extra=ids)
            stop.set()
    if "error" in outcome:
        kind = type(outcome["error"]).__name__
        state = _finish(spec, store, parent, ids, result=None,
                        error=f"the solver failed: {kind}")
        log.error("solve failed", extra=ids | {"state": state, "error_type": kind})
        return
    result = outcome["result"]
    doc = result.to_dict()
    state = _finish(spec, store, parent, ids, result=doc)
    log.info("solve finished", extra=ids | {"state": state, "status": result.status,
                                            "objective": result.objective})


# ---- explanations (run in the runner's explainer pool) ----------------------------------------


def explain_document(round_json: str, result_json: str, time_limit_s: float,
                     max_resolves: int) -> str:
    """The JSON explanation of a stored result (runs in a spawned pool process)."""
    # local: runs in the explanation worker; the API process never loads OR-Tools
    from matcher.explanations import explain
    from matcher.result import Result
    from matcher.validation import parse_round

    rnd = parse_round(json.loads(round_json))
    result = Result.from_dict(json.loads(result_json))
    explanation = explain(rnd, result, time_limit_s=time_limit_s, max_resolves=max_resolves,
                          workers=1)
    return json.dumps(explanation.to_dict(), separators=(",", ":"))
