"""The job runner on SQLite and PostgreSQL: solves in child processes (started ahead of
time, with the solver imported), cancels keeping the best solution, survives killed
processes and dead services, never writes two results."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import NEL_JSON, TINY_JSON, fast_settings, wait_for

from matcher.checker import objective, violations
from matcher.formats import load_round, round_bytes
from matcher.result import Result
from matcher.validation import with_changes
from service.jobs import JobRunner
from service.store import JobRecord, Store

TENANT = "ICS A"


def nel_with_fairness() -> Any:
    """The NEL sample with a fairness weight: a first solution in about a second, but a
    proof of optimality that takes minutes. The long solve to cancel."""
    rnd = load_round(NEL_JSON)
    return with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 100})


def add_round(store: Store, path: Path | None = None, rnd: Any = None) -> str:
    rnd = rnd if rnd is not None else load_round(path or TINY_JSON)
    return store.add_round(TENANT, round_id=rnd.round.id,
                           document=round_bytes(rnd, "json").decode(), summary=rnd.summary(),
                           warnings=[]).id


def submit(store: Store, round_pk: str, runner: JobRunner, time_limit_s: float = 10,
           max_attempts: int = 3) -> JobRecord:
    job, _ = store.submit_job(TENANT, round_pk, time_limit_s=time_limit_s, workers=2, seed=0,
                              max_attempts=max_attempts, max_active=10)
    runner.wake()
    return job


def finished(store: Store, job_id: str, timeout: float = 90) -> JobRecord:
    job: JobRecord = wait_for(lambda: (j := store.get_job(TENANT, job_id)).terminal and j,
                              timeout, "the job to finish", 0.1)
    return job


def checked_result(store: Store, job_id: str, path: Path | None = None, rnd: Any = None
                   ) -> Result:
    """The job's result, passed through the solver-independent checker."""
    _, doc = store.get_result(TENANT, job_id)
    assert doc is not None
    result = Result.from_dict(json.loads(doc))
    rnd = rnd if rnd is not None else load_round(path or TINY_JSON)
    assert violations(rnd, result.allocation) == []
    assert objective(rnd, result.allocation).total == result.objective
    return result


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def warm_spare(runner: JobRunner, other_than: int | None = None) -> int:
    """The runner's idle spare once it has imported OR-Tools (it is in its memory map)."""
    def ready() -> int | None:
        pid = runner.spare_pid()
        if pid is None or pid == other_than or not alive(pid):
            return None
        with open(f"/proc/{pid}/maps") as maps:
            return pid if "ortools" in maps.read() else None
    found: int = wait_for(ready, 90, "a warm spare solve process", 0.1)
    return found


def open_files(pid: int) -> set[str]:
    """What the process has open (files; sockets show as ``socket:[...]``)."""
    out: set[str] = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return out


@pytest.fixture
def runner(store: Store) -> Iterator[JobRunner]:
    r = JobRunner(store, fast_settings())
    r.start()
    yield r
    r.stop()


def test_a_job_is_solved_in_a_child_process(store: Store, runner: JobRunner) -> None:
    spare = warm_spare(runner)
    job = submit(store, add_round(store), runner)
    done = finished(store, job.id)
    assert (done.state, done.attempts, done.error) == ("succeeded", 1, None)
    assert done.pid is not None
    assert done.pid != os.getpid()
    assert done.pid == spare  # started, with the solver imported, before the job existed
    assert runner.stats["warm_starts"] == 1
    assert runner.stats["cold_starts"] == 0
    # The next one is started at once, and the process that served the job is gone.
    assert warm_spare(runner, other_than=spare) != spare
    wait_for(lambda: not alive(spare), 30, "the solve process to exit")
    result = checked_result(store, job.id)
    assert result.status == "optimal"
    assert done.result_status == "optimal"
    assert done.objective == result.objective
    assert done.gap == 0.0
    assert store.result_count(job.id) == 1


def test_cancel_stops_the_search_and_keeps_the_best_solution(store: Store,
                                                             runner: JobRunner) -> None:
    rnd = nel_with_fairness()
    job = submit(store, add_round(store, rnd=rnd), runner, time_limit_s=300)
    found = wait_for(lambda: (j := store.get_job(TENANT, job.id)).objective is not None and j,
                     90, "a first solution")
    assert found.state == "running"
    assert found.bound is not None
    asked = store.request_cancel(TENANT, job.id)
    assert asked.state == "running"
    assert asked.cancel_requested_at is not None
    done = finished(store, job.id, timeout=30)
    assert done.state == "cancelled"
    assert done.result_status == "feasible"
    result = checked_result(store, job.id, rnd=rnd)
    assert result.status == "feasible"
    assert result.objective is not None
    assert result.objective >= found.objective  # the best so far, not an older one
    assert done.finished_at is not None
    assert done.finished_at - done.started_at < 120


def test_a_killed_solve_is_queued_again_and_solved_once(store: Store,
                                                        runner: JobRunner) -> None:
    # The fairness variant searches for its whole limit: the NEL sample itself is proven
    # in about 0.3 s, which can end before the kill.
    rnd = nel_with_fairness()
    spare = warm_spare(runner)
    job = submit(store, add_round(store, rnd=rnd), runner, time_limit_s=8)
    running = wait_for(lambda: (j := store.get_job(TENANT, job.id)).pid and
                       j.elapsed_s is not None and j, 60, "the solve to start")
    assert running.pid == spare  # the pre-started process serves the job
    os.kill(running.pid, signal.SIGKILL)
    done = finished(store, job.id)
    assert done.state == "succeeded"
    assert done.attempts == 2
    assert done.error == "attempt 1: the solve process was killed by signal 9; queued again"
    assert done.pid != running.pid
    assert runner.stats["cold_starts"] == 0  # the second attempt had a spare too
    checked_result(store, job.id, rnd=rnd)
    assert store.result_count(job.id) == 1


def test_a_job_fails_with_the_reason_after_its_last_attempt(store: Store,
                                                            runner: JobRunner) -> None:
    job = submit(store, add_round(store, rnd=nel_with_fairness()), runner, time_limit_s=60,
                 max_attempts=1)
    running = wait_for(lambda: (j := store.get_job(TENANT, job.id)).pid and j, 60,
                       "the solve to start")
    os.kill(running.pid, signal.SIGKILL)
    done = finished(store, job.id)
    assert done.state == "failed"
    assert done.attempts == 1
    assert done.error == ("the solve process was killed by signal 9 (attempt 1 of 1); "
                          "giving up")
    assert store.get_result(TENANT, job.id)[1] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_jobs_of_a_dead_service_are_recovered(store: Store) -> None:
    job, _ = store.submit_job(TENANT, add_round(store), time_limit_s=5, workers=1, seed=0,
                              max_attempts=3, max_active=10)
    # A service that died right after claiming the job: the lease is never renewed.
    assert store.claim_next("dead-service", lease_s=0.5) is not None
    runner = JobRunner(store, fast_settings())
    runner.start()
    try:
        done = finished(store, job.id)
    finally:
        runner.stop()
    assert done.state == "succeeded"
    assert done.attempts == 2
    assert done.error is not None
    assert "stopped renewing its lease" in done.error
    checked_result(store, job.id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deleting_the_round_stops_its_solve(store: Store, runner: JobRunner) -> None:
    pk = add_round(store, rnd=nel_with_fairness())
    job = submit(store, pk, runner, time_limit_s=300)
    running = wait_for(lambda: (j := store.get_job(TENANT, job.id)).pid and j, 60,
                       "the solve to start")
    store.delete_round(TENANT, pk)
    wait_for(lambda: runner.running_pids() == {}, 30, "the solve process to stop")
    with pytest.raises(ProcessLookupError):
        os.kill(running.pid, 0)
    # The runner goes on with new work.
    again = submit(store, add_round(store), runner)
    assert finished(store, again.id).state == "succeeded"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_spare_holds_no_database_connection_until_it_gets_a_job(store: Store,
                                                                  runner: JobRunner) -> None:
    spare = warm_spare(runner)
    database = store.url.removeprefix("sqlite:///")
    assert not any(f.startswith(database) for f in open_files(spare))
    job = submit(store, add_round(store, rnd=nel_with_fairness()), runner, time_limit_s=60)
    running = wait_for(lambda: (j := store.get_job(TENANT, job.id)).elapsed_s is not None
                       and j, 60, "the solve to start")
    assert running.pid == spare
    store.request_cancel(TENANT, job.id)
    done = finished(store, job.id)
    assert (done.state, done.pid, done.attempts) == ("cancelled", spare, 1)


def test_an_idle_spare_that_dies_is_replaced(store: Store, runner: JobRunner) -> None:
    spare = warm_spare(runner)
    os.kill(spare, signal.SIGKILL)
    replacement = warm_spare(runner, other_than=spare)
    assert not alive(spare)  # reaped
    assert runner.stats["spares_replaced"] == 1
    job = submit(store, add_round(store), runner)
    done = finished(store, job.id)
    assert (done.state, done.attempts, done.error) == ("succeeded", 1, None)
    assert done.pid == replacement
    checked_result(store, job.id)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_stopping_the_runner_stops_its_spare(store: Store) -> None:
    runner = JobRunner(store, fast_settings())
    runner.start()
    try:
        spare = warm_spare(runner)
    finally:
        runner.stop()
    assert not alive(spare)
    assert runner.spare_pid() is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_prewarm_each_attempt_starts_its_own_process(store: Store) -> None:
    runner = JobRunner(store, fast_settings(prewarm=False))
    runner.start()
    try:
        job = submit(store, add_round(store), runner)
        done = finished(store, job.id)
        assert runner.spare_pid() is None
    finally:
        runner.stop()
    assert (done.state, done.attempts) == ("succeeded", 1)
    assert runner.stats == {"warm_starts": 0, "cold_starts": 1, "spares_replaced": 0,
                            "stopped_time_limit": 0, "stopped_memory": 0}
    checked_result(store, job.id)
