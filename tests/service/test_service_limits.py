"""A solve's time limit and memory are enforced from outside it (issue 13, row 8): a solve
with a 90 s limit once ran 141 s and used 8.1 GB. Live `matcher serve` processes on
loopback run real solves that overrun; the runner kills them and fails their jobs with the
reason, once, without a retry, and the next job runs as usual."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from svc_helpers import TINY_JSON, Server, wait_for

from matcher.synthetic import generate_round_data
from service.store import Store

TERMINAL = ("succeeded", "failed", "cancelled")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def large_round() -> bytes:
    """A synthetic round of 2,000 pharmacists and 1,500 placements: building its model
    alone takes seconds (far past a 0.1 s limit plus a 0.2 s grace) and its solve process
    holds 300 MiB and more within a second of starting."""
    return json.dumps(generate_round_data(2000, 1500, 3, seed=1)).encode()


def _post_round(server: Server, key: str, body: bytes) -> str:
    r = httpx.post(server.url + "/v1/rounds", content=body,
                   headers=_auth(key) | {"content-type": "application/json"}, timeout=60)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _solve(server: Server, key: str, round_pk: str, **body: Any) -> str:
    r = httpx.post(f"{server.url}/v1/rounds/{round_pk}/solve", json=body,
                   headers=_auth(key), timeout=60)
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _finished(server: Server, key: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job: dict[str, Any] = server.get(f"/v1/jobs/{job_id}", headers=_auth(key)).json()
        return job if job["state"] in TERMINAL else None

    found: dict[str, Any] = wait_for(done, timeout, f"job {job_id} to finish", 0.2)
    return found


def _log_lines(server: Server, job_id: str, msg: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    return [d for d in lines if d.get("job_id") == job_id and d["msg"] == msg]


def _gone(pid: int) -> bool:
    """Whether process ``pid`` no longer exists (killed and reaped by the runner)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _stopped_then_next_job_runs(server: Server, key: str, job_id: str, kind: str,
                                error_start: str) -> dict[str, Any]:
    """The job failed for ``kind`` after one attempt, its process is gone, and a small
    round solved after it succeeds. Returns the runner's log line of the kill."""
    done = _finished(server, key, job_id)
    assert done["state"] == "failed", done
    assert done["error"].startswith(error_start), done["error"]
    assert done["attempts"] == 1
    assert server.get(f"/v1/jobs/{job_id}/result", headers=_auth(key)).status_code != 200
    started = _log_lines(server, job_id, "solve started")
    assert len(started) == 1  # one attempt: never retried
    assert _gone(started[0]["pid"])
    killed = _log_lines(server, job_id, "solve over its limit; killed")
    assert [k["reason"] for k in killed] == [kind]
    stopped = _log_lines(server, job_id, "solve stopped by the runner")
    assert [(s["reason"], s["state"], s["tenant"]) for s in stopped] == [
        (kind, "failed", "ICS A")]
    metrics = server.get("/v1/metrics", headers=_auth(key)).text
    assert f'matcher_solves_stopped_total{{reason="{kind}"}} 1.0' in metrics
    # The next job runs in a fresh process, as usual.
    small = _solve(server, key, _post_round(server, key, TINY_JSON.read_bytes()),
                   time_limit_s=10, workers=1)
    assert _finished(server, key, small)["state"] == "succeeded"
    killed[0]["error"] = done["error"]
    return killed[0]


def test_a_solve_past_its_time_limit_plus_grace_is_killed_and_failed(
        make_server: Callable[..., Server], large_round: bytes) -> None:
    """A 0.1 s limit and a 0.2 s grace on a round whose model takes seconds to build: the
    solve cannot stop in time (its clock is not checked while the model is built), so the
    runner kills it and fails the job, once, with the reason."""
    server = make_server(max_concurrent_solves=1, solve_grace_s=0.2, solve_memory_mb=0)
    server.start()
    key = server.key("ICS A")
    job_id = _solve(server, key, _post_round(server, key, large_round), time_limit_s=0.1,
                    workers=1)
    killed = _stopped_then_next_job_runs(
        server, key, job_id, "time_limit",
        "the solve ran past its time limit of 0.1 s plus the 0.2 s grace")
    assert "MATCHER_SOLVE_GRACE_S" in killed["error"]
    assert killed["elapsed_s"] > 0.3


def test_a_solve_above_the_memory_cap_is_killed_and_failed(
        make_server: Callable[..., Server], large_round: bytes) -> None:
    """A 250 MiB cap on a solve whose process holds more within a second: killed long
    before its 60 s limit, the job failed (not retried) with what to do about it."""
    server = make_server(max_concurrent_solves=1, solve_memory_mb=250)
    server.start()
    key = server.key("ICS A")
    job_id = _solve(server, key, _post_round(server, key, large_round), time_limit_s=60,
                    workers=1)
    killed = _stopped_then_next_job_runs(
        server, key, job_id, "memory", "the solve used more than 250 MiB of memory")
    assert "raise MATCHER_SOLVE_MEMORY_MB or solve a smaller round" in killed["error"]
    assert killed["rss_mib"] > 250


def test_failing_an_attempt_without_retry_happens_once(store: Store) -> None:
    """``retry_or_fail(retry=False)``: failed at once though attempts are left, with the
    reason as the error; a second call (or one for another attempt) changes nothing."""
    pk = store.add_round("ICS A", round_id="r", document="{}", summary={}, warnings=[]).id
    job = store.submit_job("ICS A", pk, time_limit_s=1, workers=1, seed=0, max_attempts=3,
                           max_active=10)[0]
    claimed = store.claim_next("me", 10)
    assert claimed is not None
    assert claimed.id == job.id
    assert store.retry_or_fail(job.id, claimed.attempts + 1, "stale", retry=False) is None
    assert store.retry_or_fail(job.id, claimed.attempts, "too big", retry=False) == "failed"
    assert store.retry_or_fail(job.id, claimed.attempts, "again", retry=False) is None
    assert store.retry_or_fail(job.id, claimed.attempts, "crash") is None
    final = store.jobs_by_ids([job.id])[0]
    assert (final.state, final.error, final.attempts) == ("failed", "too big", 1)
    assert final.finished_at is not None
    assert store.claim_next("me", 10) is None
