"""The store on SQLite and PostgreSQL: keys, tenant scoping, idempotency, exactly-once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.store import (
    IdempotencyConflict,
    NotFound,
    Store,
    TooManyJobs,
    hash_key,
    results,
)


def _round(store: Store, tenant: str = "ICS A") -> str:
    return store.add_round(tenant, round_id="r1", document='{"format": "spin-round/1"}',
                           summary={"round": "r1"}, warnings=[]).id


def _job(store: Store, round_pk: str, tenant: str = "ICS A", **kw: Any) -> Any:
    args: dict[str, Any] = {"time_limit_s": 5.0, "workers": 1, "seed": 0, "max_attempts": 2,
                            "max_active": 10}
    args.update(kw)
    return store.submit_job(tenant, round_pk, **args)


def test_keys_are_stored_hashed_and_revocable(store: Store) -> None:
    key = store.create_key("North East London")
    assert key.startswith("smk_")
    assert len(key) > 40
    assert store.tenant_for_key(key) == "North East London"
    with store.read() as conn:
        stored = conn.execute(sa.text("SELECT key_hash, prefix FROM api_keys")).one()
    assert stored.key_hash == hash_key(key)
    assert key not in stored.key_hash
    assert store.revoke_key(key) == "North East London"
    assert store.tenant_for_key(key) is None
    assert store.revoke_key("smk_unknown") is None
    with pytest.raises(ValueError, match="1 to 100 characters"):
        store.create_key("  ")


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    with store.read() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == "0003"


def test_rounds_are_scoped_to_their_tenant(store: Store) -> None:
    pk = _round(store, "ICS A")
    assert store.get_round("ICS A", pk, document=True).document == '{"format": "spin-round/1"}'
    with pytest.raises(NotFound):
        store.get_round("ICS B", pk)
    with pytest.raises(NotFound):
        store.delete_round("ICS B", pk)
    rows, count = store.list_rounds("ICS B", limit=10, offset=0)
    assert (rows, count) == ([], 0)
    rows, count = store.list_rounds("ICS A", limit=10, offset=0)
    assert [r.id for r in rows] == [pk]
    assert count == 1


def test_jobs_are_scoped_and_deleted_with_their_round(store: Store) -> None:
    pk = _round(store)
    job, created = _job(store, pk)
    assert created
    assert job.state == "queued"
    assert job.attempts == 0
    with pytest.raises(NotFound):
        _job(store, pk, tenant="ICS B")
    with pytest.raises(NotFound):
        store.get_job("ICS B", job.id)
    with pytest.raises(NotFound):
        store.request_cancel("ICS B", job.id)
    assert store.delete_round("ICS A", pk) == [job.id]
    with pytest.raises(NotFound):
        store.get_job("ICS A", job.id)


def test_idempotency_key_replays_or_conflicts(store: Store) -> None:
    pk = _round(store)
    first, created = _job(store, pk, idempotency_key="k-1")
    again, created_again = _job(store, pk, idempotency_key="k-1")
    assert created
    assert not created_again
    assert again.id == first.id
    with pytest.raises(IdempotencyConflict, match="different request"):
        _job(store, pk, idempotency_key="k-1", seed=7)
    # Keys are per tenant: another tenant's same key is another job.
    pk_b = _round(store, "ICS B")
    other, created_b = _job(store, pk_b, tenant="ICS B", idempotency_key="k-1")
    assert created_b
    assert other.id != first.id


def test_too_many_active_jobs(store: Store) -> None:
    pk = _round(store)
    for _ in range(2):
        _job(store, pk, max_active=2)
    with pytest.raises(TooManyJobs, match="at most 2 jobs"):
        _job(store, pk, max_active=2)
    # Another tenant is not held back.
    assert _job(store, _round(store, "ICS B"), tenant="ICS B", max_active=2)[1]


def test_claim_is_exclusive_under_concurrency(store: Store) -> None:
    pk = _round(store)
    ids = {_job(store, pk)[0].id for _ in range(6)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        while (job := store.claim_next(f"owner-{n}", 10)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(ids)  # each exactly once


def test_finish_writes_one_result_and_only_for_the_current_attempt(store: Store) -> None:
    pk = _round(store)
    job, _ = _job(store, pk)
    claimed = store.claim_next("me", 10)
    assert claimed is not None
    assert claimed.id == job.id
    assert claimed.attempts == 1
    doc = {"status": "optimal", "objective": 5, "bound": 5, "gap": 0.0}
    assert store.finish(job.id, 1, "someone-else", result=doc) is None
    assert store.finish(job.id, 1, "me", result=doc) == "succeeded"
    assert store.finish(job.id, 1, "me", result=doc) is None  # a second time: nothing
    assert store.result_count(job.id) == 1
    with pytest.raises(IntegrityError), store.write() as conn:
        conn.execute(results.insert().values(job_id=job.id, attempt=2, status="optimal",
                                             document="{}", created_at=time.time()))
    final = store.get_job("ICS A", job.id)
    assert (final.state, final.result_status, final.objective) == ("succeeded", "optimal", 5)


def test_dead_attempts_are_retried_then_failed(store: Store) -> None:
    pk = _round(store)
    job, _ = _job(store, pk, max_attempts=2)
    assert store.claim_next("me", 10) is not None
    assert store.retry_or_fail(job.id, 1, "killed by signal 9") == "queued"
    assert "attempt 1: killed by signal 9" in (store.get_job(None, job.id).error or "")
    assert store.retry_or_fail(job.id, 1, "again") is None  # not running any more
    assert store.claim_next("me", 10) is not None
    assert store.retry_or_fail(job.id, 2, "killed by signal 9") == "failed"
    failed = store.get_job(None, job.id)
    assert failed.state == "failed"
    assert failed.attempts == 2
    assert failed.error == "killed by signal 9 (attempt 2 of 2); giving up"


def test_expired_leases_and_heartbeats(store: Store) -> None:
    pk = _round(store)
    job, _ = _job(store, pk)
    assert store.claim_next("me", 0.2) is not None
    assert store.heartbeat(job.id, 1, "me", 0.2, {"objective": 3, "bound": 9.0}) == (True, False)
    assert store.get_job(None, job.id).progress_seq == 1
    assert store.heartbeat(job.id, 1, "other", 10) == (False, False)
    time.sleep(0.3)
    assert [j.id for j in store.expired_leases()] == [job.id]
    store.request_cancel("ICS A", job.id)
    assert store.heartbeat(job.id, 1, "me", 10) == (True, True)
    assert store.expired_leases() == []


def test_cancel_queued_at_once_and_running_by_request(store: Store) -> None:
    pk = _round(store)
    queued, _ = _job(store, pk)
    cancelled = store.request_cancel("ICS A", queued.id)
    assert cancelled.state == "cancelled"
    assert cancelled.error == "cancelled before it started"
    running, _ = _job(store, pk)
    assert store.claim_next("me", 10) is not None
    asked = store.request_cancel("ICS A", running.id)
    assert asked.state == "running"
    assert asked.cancel_requested_at is not None
    doc = {"status": "feasible", "objective": 4, "bound": 9, "gap": 0.5}
    assert store.finish(running.id, 1, "me", result=doc) == "cancelled"
    assert store.get_result("ICS A", running.id)[1] is not None
    assert store.job_counts()["cancelled"] == 2
