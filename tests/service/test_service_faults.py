"""The service under hostile load and real faults, on its database (issue 13): per-tenant
limits exact under concurrency, a fair queue between tenants, SQLite write-lock contention,
honest readiness. Live `matcher serve` processes on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from svc_helpers import NEL_JSON, TINY_JSON, Server, fast_settings, wait_for

from matcher.formats import load_round, round_bytes
from matcher.validation import with_changes
from service.app import create_app
from service.logs import JsonFormatter
from service.settings import DEFAULT_DATA_DIR
from service.store import Store

TERMINAL = ("succeeded", "failed", "cancelled")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _post_round(server: Server, key: str, body: bytes | None = None) -> str:
    r = httpx.post(server.url + "/v1/rounds", content=body or TINY_JSON.read_bytes(),
                   headers=_auth(key) | {"content-type": "application/json"}, timeout=30)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _solve(server: Server, key: str, round_pk: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/rounds/{round_pk}/solve", json=body,
                      headers=_auth(key), timeout=60)


def _job(server: Server, key: str, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = server.get(f"/v1/jobs/{job_id}", headers=_auth(key)).json()
    return body


def _finished(server: Server, key: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(
        lambda: (j := _job(server, key, job_id))["state"] in TERMINAL and j,
        timeout, f"job {job_id} to finish", 0.2)
    return found


def _long_round() -> bytes:
    """The NEL sample with a fairness weight: a first solution in about a second, then a
    proof of optimality that takes minutes (a solve that runs to its time limit)."""
    rnd = load_round(NEL_JSON)
    return round_bytes(with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 100}),
                       "json")


# ---- limits that hold under concurrency --------------------------------------------------


def test_the_tenant_limit_holds_exactly_under_60_concurrent_submissions(
        make_server: Callable[..., Server], database_url: str) -> None:
    """Row 3: 40-60 concurrent submissions once got 22-26 jobs against a limit of 20."""
    server = make_server(database_url=database_url, run_jobs="false",
                         max_active_jobs_per_tenant=20)
    server.start()
    key = server.key("ICS A")
    round_pk = _post_round(server, key)
    barrier = threading.Barrier(60)

    def submit(n: int) -> int:
        barrier.wait(30)
        while True:  # a 503 (SQLite busy) is retried, as a client should
            r = _solve(server, key, round_pk, seed=n)
            if r.status_code != 503:
                return r.status_code
            assert r.json()["request_id"]
            time.sleep(0.05)

    with ThreadPoolExecutor(60) as pool:
        codes = list(pool.map(submit, range(60)))
    assert sorted(set(codes)) == [202, 429]
    assert codes.count(202) == 20
    listed = server.get("/v1/jobs?state=queued", headers=_auth(key)).json()
    assert listed["count"] == 20
    # Another tenant is not held back by A's limit.
    key_b = server.key("ICS B")
    assert _solve(server, key_b, _post_round(server, key_b)).status_code == 202


# ---- a fair queue -------------------------------------------------------------------------


def test_claims_take_turns_between_tenants(store: Store) -> None:
    """The tenant with fewer running solves goes first, then the one served longest ago."""
    def job(tenant: str) -> str:
        pk = store.add_round(tenant, round_id="r", document="{}", summary={}, warnings=[]).id
        return store.submit_job(tenant, pk, time_limit_s=1, workers=1, seed=0,
                                max_attempts=1, max_active=10)[0].id

    a = [job("ICS A") for _ in range(3)]
    b = job("ICS B")
    c = [job("ICS C") for _ in range(2)]
    order = []
    while (claimed := store.claim_next("me", 10)) is not None:
        order.append(claimed.id)
    # A, B and C each get a first solve before anyone's second; then in turn.
    assert order == [a[0], b, c[0], a[1], c[1], a[2]]


def test_a_short_job_of_another_tenant_starts_before_a_backlog(
        make_server: Callable[..., Server]) -> None:
    """Row 9: tenant A queues three long solves, then B a short one; with one solve at a
    time, B's starts as soon as A's first ends (it once waited for all three)."""
    server = make_server(max_concurrent_solves=1)
    server.start()
    key_a, key_b = server.key("ICS A"), server.key("ICS B")
    long_pk = _post_round(server, key_a, _long_round())
    a_jobs = [_solve(server, key_a, long_pk, time_limit_s=2, workers=1, seed=n).json()["id"]
              for n in range(3)]
    b_job = _solve(server, key_b, _post_round(server, key_b), time_limit_s=5,
                   workers=1).json()["id"]
    b_done = _finished(server, key_b, b_job, timeout=60)
    assert b_done["state"] == "succeeded"
    started = {j: _job(server, key_a, j) for j in a_jobs}
    assert started[a_jobs[0]]["started_at"] is not None
    assert started[a_jobs[0]]["started_at"] < b_done["started_at"]
    # Neither of A's other solves started before B's.
    for j in a_jobs[1:]:
        s = started[j]["started_at"]
        assert s is None or s > b_done["started_at"]
    for j in a_jobs[1:]:
        httpx.delete(f"{server.url}/v1/jobs/{j}", headers=_auth(key_a), timeout=30)


# ---- SQLite contention ----------------------------------------------------------------------


def test_a_held_sqlite_write_lock(make_server: Callable[..., Server], tmp_path: Path) -> None:
    """Row 7: a write lock held for seconds. Reads answer at once, writes get a JSON 503
    with Retry-After (nothing written) instead of tying up threads, the running solve
    neither crashes nor reruns, and a cancel refused during the lock is recorded when the
    client retries it."""
    data = tmp_path / "data"
    server = make_server(data, max_concurrent_solves=1, sqlite_busy_timeout_s=0.5,
                         sqlite_max_waiting_writes=4)
    server.start()
    key = server.key("ICS A")
    round_pk = _post_round(server, key, _long_round())
    job_id = _solve(server, key, round_pk, time_limit_s=30, workers=1).json()["id"]
    wait_for(lambda: _job(server, key, job_id)["progress"]["objective"] is not None, 60,
             "a first solution")

    holder = sqlite3.connect(data / "matcher.db", timeout=10, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    held_at = time.monotonic()
    try:
        reads = []
        for _ in range(5):
            t = time.perf_counter()
            r = server.get(f"/v1/jobs/{job_id}", headers=_auth(key))
            reads.append(time.perf_counter() - t)
            assert r.status_code == 200
        # A read that waited for the lock would take until it is released (4 s); the
        # bound is generous for a shared machine (they take milliseconds).
        assert max(reads) < 2.5, reads

        def write(_: int) -> httpx.Response:
            return _solve(server, key, round_pk, time_limit_s=1)

        with ThreadPoolExecutor(12) as pool:  # writers pile up while reads go on
            pending = [pool.submit(write, n) for n in range(12)]
            t = time.perf_counter()
            assert server.get(f"/v1/jobs/{job_id}", headers=_auth(key)).status_code == 200
            assert time.perf_counter() - t < 2.5
            piled = [f.result() for f in pending]
        assert {r.status_code for r in piled} == {503}
        cancel = httpx.delete(f"{server.url}/v1/jobs/{job_id}", headers=_auth(key), timeout=30)
        assert cancel.status_code == 503
        assert cancel.headers["retry-after"] == "1"
        body = cancel.json()
        assert body["request_id"] == cancel.headers["x-request-id"]
        assert "retry" in body["detail"]
        time.sleep(max(0.0, 4.0 - (time.monotonic() - held_at)))  # past its lease (3 s)
    finally:
        holder.rollback()
        holder.close()
    assert _job(server, key, job_id)["state"] == "running"
    retried = httpx.delete(f"{server.url}/v1/jobs/{job_id}", headers=_auth(key), timeout=30)
    assert retried.status_code == 202
    done = _finished(server, key, job_id, timeout=40)
    assert (done["state"], done["attempts"]) == ("cancelled", 1)
    assert server.get(f"/v1/jobs/{job_id}/result", headers=_auth(key)).status_code == 200
    assert len(server.get("/v1/jobs", headers=_auth(key)).json()["data"]) == 1  # none of
    # the refused submissions was stored
    logs = server.logs()
    assert "database busy; answered 503" in logs
    assert "Traceback" not in logs


# ---- honest readiness -----------------------------------------------------------------------


def test_ready_fails_on_a_corrupt_database(make_server: Callable[..., Server],
                                           tmp_path: Path) -> None:
    """Row 6: health said "database ok" while every data route answered a plain-text 500."""
    data = tmp_path / "data"
    server = make_server(data, min_free_disk_mb=0)
    server.start()
    key = server.key("ICS A")
    round_pk = _post_round(server, key)
    ready = server.get("/v1/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {
        "database": "ok", "disk": "ok", "job_runner": "ok", "explainer": "ok",
        "intake": "ok"}}
    db = data / "matcher.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with db.open("r+b") as f:  # every page but the last overwritten
        size = db.stat().st_size
        f.write(b"\xa5" * (size - 4096))
    r = server.get("/v1/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unready"
    assert body["checks"]["database"].startswith("a write and read of the probe row failed")
    assert body["request_id"] == r.headers["x-request-id"]
    assert server.get("/v1/health").status_code in (200, 503)  # liveness: it still answers
    for path in ("/v1/rounds", f"/v1/rounds/{round_pk}", "/v1/jobs"):
        got = server.get(path, headers=_auth(key))
        assert got.status_code == 500, path
        assert got.headers["content-type"] == "application/json", path
        assert got.json()["request_id"] == got.headers["x-request-id"], path


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_ready_and_health_fail_when_postgresql_is_gone(
        make_server: Callable[..., Server], database_url: str, pg_admin_url: str) -> None:
    """Row 6 on PostgreSQL: the service's database dropped under it."""
    import sqlalchemy as sa

    server = make_server(database_url=database_url)
    server.start()
    key = server.key("ICS A")
    ready = server.get("/v1/ready")
    assert ready.status_code == 200, ready.text
    # no local disk to check on PostgreSQL
    assert ready.json()["checks"] == {"database": "ok", "job_runner": "ok", "explainer": "ok",
                                      "intake": "ok"}
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    name = sa.make_url(database_url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
    r = server.get("/v1/ready")
    assert r.status_code == 503
    assert r.json()["checks"]["database"].startswith("a write and read of the probe row")
    health = server.get("/v1/health")
    assert health.status_code == 503
    assert health.json()["request_id"] == health.headers["x-request-id"]
    got = server.get("/v1/jobs", headers=_auth(key))  # the key cannot be checked either
    assert got.status_code == 503
    assert got.headers["retry-after"] == "5"
    assert got.json()["request_id"] == got.headers["x-request-id"]


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None:
        return False
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(where)], capture_output=True, timeout=30, check=False)
    return done.returncode == 0


def test_ready_fails_on_a_full_disk(make_server: Callable[..., Server],
                                    tmp_path: Path) -> None:
    """Row 6, the full disk: a 16 MB tmpfs made by the test (root only, else a skip)."""
    data = tmp_path / "small"
    if not _mount_tmpfs(data, "16m"):
        pytest.skip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN): the "
                    "full-disk readiness case is not run")
    try:
        server = make_server(data, min_free_disk_mb=4)
        server.start()
        key = server.key("ICS A")
        assert server.get("/v1/ready").status_code == 200
        filler = data / "filler"
        with filler.open("wb") as f:  # fill the disk to the last byte
            chunk = b"\0" * 2**20
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError:
                pass
        r = server.get("/v1/ready")
        assert r.status_code == 503
        assert "below MIN_FREE_DISK_MB=4" in r.json()["checks"]["disk"]
        # A data route that must write answers JSON, never a plain-text 500.
        sub = httpx.post(server.url + "/v1/rounds", content=TINY_JSON.read_bytes(),
                         headers=_auth(key) | {"content-type": "application/json"},
                         timeout=30)
        assert sub.status_code in (201, 503)
        if sub.status_code == 503:
            assert json.loads(sub.text)["request_id"] == sub.headers["x-request-id"]
        filler.unlink()
        assert wait_for(lambda: server.get("/v1/ready").status_code == 200, 10,
                        "readiness once space is freed")
    finally:  # lazily: the server (stopped by the fixture afterwards) may still use it
        subprocess.run(["umount", "-l", str(data)], capture_output=True, timeout=30,
                       check=False)


# ---- several instances on one PostgreSQL ----------------------------------------------------


def _reference(seed: int) -> dict[str, Any]:
    """The NEL sample solved here, as a single `matcher serve` would solve it."""
    from matcher.solving import SolveParams, solve

    result = solve(load_round(NEL_JSON), SolveParams(time_limit_s=20, workers=1, seed=seed))
    assert result.status == "optimal"
    doc: dict[str, Any] = result.to_dict()
    return doc


@pytest.mark.slow  # about 1.5 CPU-seconds a job (a solve process each): 65-85 s on 2 cores
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_instances_share_postgresql_and_survive_a_kill_9(
        make_server: Callable[..., Server], database_url: str, tmp_path: Path) -> None:
    """Two `matcher serve` on one database: 40 jobs submitted across both, one instance
    killed with kill -9 mid-run (after both have finished some, while it runs a solve);
    every job finishes exactly once (one result, one attempt that saved it) with the result
    a single instance gives for its seed. One solve at a time per instance (2 cores)."""
    import sqlalchemy as sa

    pg_url = database_url
    limits = {"max_concurrent_solves": 1, "max_active_jobs_per_tenant": 40}
    first = make_server(tmp_path / "a", database_url=pg_url, **limits)
    second = make_server(tmp_path / "b", database_url=pg_url, **limits)
    first.start()
    second.start()
    keys = {"ICS A": first.key("ICS A"), "ICS B": first.key("ICS B")}
    body = NEL_JSON.read_bytes()
    rounds = {t: _post_round(first, k, body) for t, k in keys.items()}
    submitted: list[tuple[str, str, int]] = []  # (tenant, job id, seed)
    for n in range(40):
        tenant = "ICS A" if n % 2 else "ICS B"
        via = first if n % 4 < 2 else second
        r = _solve(via, keys[tenant], rounds[tenant], time_limit_s=20, workers=1, seed=n % 3)
        assert r.status_code == 202, r.text
        submitted.append((tenant, r.json()["id"], n % 3))

    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    assert first.process is not None
    owner = f"{first.process.pid}-"

    def first_is_solving_mid_run() -> bool:
        with engine.connect() as conn:
            done = conn.execute(sa.text("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
                                ).scalar_one()
            return done >= 8 and bool(conn.execute(sa.text(
                "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE :o"
            ), {"o": owner + "%"}).scalar_one())

    # Eight NEL solves take about 10 s on an idle machine; in a full suite on a loaded
    # 2-core machine (15 min instead of 8) they once took more than 90 s.
    wait_for(first_is_solving_mid_run, 240, "the first instance to run a solve mid-run", 0.05)
    first.kill()
    with engine.connect() as conn:
        held = set(conn.execute(sa.text(
            "SELECT id FROM jobs WHERE state = 'running' AND lease_owner LIKE :o"
        ), {"o": owner + "%"}).scalars())
    for tenant, job_id, _ in submitted:
        done = _finished(second, keys[tenant], job_id, timeout=90)
        assert done["state"] == "succeeded", done
    with engine.connect() as conn:
        counts: dict[str, int] = dict(conn.execute(sa.text(
            "SELECT j.id, count(r.job_id) FROM jobs j LEFT JOIN results r ON r.job_id = j.id "
            "GROUP BY j.id")).all())
        retried = set(conn.execute(sa.text("SELECT id FROM jobs WHERE attempts > 1")
                                   ).scalars())
    engine.dispose()
    assert set(counts.values()) == {1}
    assert len(counts) == 40
    # Only the solve the killed instance held runs again, once its lease runs out; unless
    # that attempt finished the solve before it noticed its service was gone (it checks
    # every heartbeat, 0.3 s here, and a NEL solve takes about as long) and saved the
    # result itself. Either way the job is done once (above); where the kill lands
    # decides which, so this test cannot insist on the takeover (test_service_e2e's
    # whole-service kill and test_service_jobs' killed solve do).
    assert retried <= held
    assert len(held) <= 1  # one solve at a time per instance
    saved = [json.loads(line) for s in (first, second) for line in s.logs().splitlines()
             if '"solve finished"' in line]
    by_job = [d["job_id"] for d in saved if d.get("state") is not None]
    assert sorted(by_job) == sorted(j for _, j, _ in submitted)  # each saved exactly once
    references = {seed: _reference(seed) for seed in range(3)}
    for tenant, job_id, seed in submitted:
        got = second.get(f"/v1/jobs/{job_id}/result", headers=_auth(keys[tenant])).json()
        want = references[seed]
        assert (got["objective"], got["assignments"]) == (want["objective"],
                                                          want["assignments"]), job_id


def test_a_new_sqlite_database_is_private(tmp_path: Path) -> None:
    """Row 11: the database files hold names and homes; they were world-readable."""
    data = tmp_path / "new" / "data"
    store = Store(f"sqlite:///{data / 'matcher.db'}")
    try:
        store.migrate()
        store.create_key("ICS A")
        with store.read():  # open: the -wal and -shm files exist now
            modes = {p.name: p.stat().st_mode & 0o777 for p in data.iterdir()}
    finally:
        store.dispose()
    assert data.stat().st_mode & 0o777 == 0o700
    assert modes == {"matcher.db": 0o600, "matcher.db-shm": 0o600, "matcher.db-wal": 0o600}


def _modes(where: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mode & 0o777 for p in where.iterdir()
            if p.name.startswith("matcher.db")}


def test_an_older_sqlite_database_is_made_private_on_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
        ) -> None:
    """Row 11: a data directory and database made by an older version (or a loose umask)
    kept their world-readable modes. The default data directory is the service's own: on
    start it and every database file lose group and world access, in one JSON warning."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / DEFAULT_DATA_DIR
    old = Store(f"sqlite:///{data / 'matcher.db'}")
    old.migrate()
    old.dispose()
    data.chmod(0o755)
    (data / "matcher.db").chmod(0o644)  # SQLite gives -wal and -shm this mode when opened
    with caplog.at_level("WARNING", logger="service.store"):
        app = create_app(fast_settings(run_jobs=False))
    try:
        with app.state.store.read():  # open: the -wal and -shm files exist
            modes = _modes(data)
    finally:
        app.state.store.dispose()
    assert data.stat().st_mode & 0o777 == 0o700
    assert modes == {"matcher.db": 0o600, "matcher.db-shm": 0o600, "matcher.db-wal": 0o600}
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records
             if r.name == "service.store"]
    assert len(lines) == 1, lines
    assert lines[0]["level"] == "warning"
    assert "tightened to the owner only" in lines[0]["msg"]
    assert f"{data.resolve()} (0755 -> 0700)" in lines[0]["msg"]
    assert f"{data.resolve() / 'matcher.db'} (0644 -> 0600)" in lines[0]["msg"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="service.store"):  # a second start: nothing to do
        create_app(fast_settings(run_jobs=False)).state.store.dispose()
    assert not [r for r in caplog.records if r.name == "service.store"]


def test_a_directory_the_operator_chose_is_left_as_it_is(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A data directory named by the operator may be shared (the working directory, /tmp):
    the database files in it are made private, the directory only named in a warning."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    old = Store(f"sqlite:///{shared / 'matcher.db'}")
    old.migrate()
    old.dispose()
    (shared / "matcher.db").chmod(0o664)
    with caplog.at_level("WARNING", logger="service.store"):
        app = create_app(fast_settings(run_jobs=False, data_dir=shared))
    try:
        with app.state.store.read():
            modes = _modes(shared)
    finally:
        app.state.store.dispose()
    assert shared.stat().st_mode & 0o777 == 0o775
    assert modes == {"matcher.db": 0o600, "matcher.db-shm": 0o600, "matcher.db-wal": 0o600}
    messages = [r.getMessage() for r in caplog.records if r.name == "service.store"]
    assert len(messages) == 2, messages
    assert f"{shared.resolve() / 'matcher.db'} (0664 -> 0600)" in messages[0]
    assert str(shared.resolve()) + " (" not in messages[0]
    assert f"{shared.resolve()}, is open to other users and was left" in messages[1]
    assert "chmod 700" in messages[1]
