"""Fixtures of the service tests: databases (SQLite and PostgreSQL), apps, live servers, keys.

PostgreSQL comes from ``MATCHER_TEST_DATABASE_URL`` (CI sets it, see ``.ci/run``); without
it, a throw-away cluster is started on 127.0.0.1 from Debian's binaries when they are
installed. Only when neither works do the PostgreSQL cases skip, with the reason shown.
Each test gets a database of its own, so the suite runs in parallel (``-n auto``).

Every log line of the suite (in-process records and the live servers' stderr) is checked
for the pharmacists' names of the rounds used: a name in a log fails the suite.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from svc_helpers import Api, Server, fast_settings, free_port, names_in


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(f"{record.name} {record.getMessage()} {record.__dict__}")


@pytest.fixture(scope="session", autouse=True)
def no_names_in_logs() -> Iterator[None]:
    """Every in-process log record of the service suite is checked for pharmacist names."""
    handler = _Collect()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(min(old, logging.INFO) if old else logging.INFO)
    yield
    root.removeHandler(handler)
    root.setLevel(old)
    found = names_in("\n".join(handler.lines))
    assert not found, f"pharmacist names in the logs: {found}"


# ---- PostgreSQL -----------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _start_cluster(base: Path) -> tuple[str, Callable[[], None]]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl)")
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            raise RuntimeError("running as root without runuser to drop to 'postgres'")
        prefix = [runuser, "-u", "postgres", "--"]
        base.chmod(0o777)
    data = base / "data"
    port = free_port()
    subprocess.run([*prefix, initdb, "-D", str(data), "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    subprocess.run([*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(base / "log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=90)

    def stop() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, check=False)

    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL URL with the right to create databases; skips when none can be had."""
    url = os.environ.get("MATCHER_TEST_DATABASE_URL")
    if url:
        yield url
        return
    # Not under pytest's own temporary directory: the 'postgres' user must reach it.
    base = Path(tempfile.mkdtemp(prefix="matcher-test-pg-"))
    try:
        url, stop = _start_cluster(base)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"no PostgreSQL: MATCHER_TEST_DATABASE_URL is unset and a local cluster "
                    f"could not be started ({exc} {detail.decode(errors='replace')[:300]})")
    try:
        yield url
    finally:
        stop()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL: SQLite under a temporary directory, or PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'matcher.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    with fresh_pg_database(admin) as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Any]:
    """A migrated :class:`service.store.Store` on :func:`database_url`."""
    from service.store import Store

    s = Store(database_url)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Make apps (with their job runner) on a temporary SQLite database, closed afterwards."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    stack = contextlib.ExitStack()

    def make(database_url: str | None = None, **changes: Any) -> Api:
        settings = fast_settings(data_dir=tmp_path / f"data-{uuid.uuid4().hex[:6]}",
                                 database_url=database_url, **changes)
        app = create_app(settings)
        client = stack.enter_context(TestClient(app))
        return Api(client, app)

    with stack:
        yield make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """An app on SQLite with the job runner running."""
    return make_api()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Make live servers on a temporary data dir; stopped (and their logs checked) after."""
    servers: list[Server] = []

    def make(data_dir: Path | None = None, **settings: Any) -> Server:
        env = {**os.environ, "MATCHER_LEASE_S": "3", "MATCHER_HEARTBEAT_S": "0.3",
               "MATCHER_RECONCILE_S": "0.5", "MATCHER_EVENTS_POLL_S": "0.1",
               "MATCHER_MAX_CONCURRENT_SOLVES": "2", "MATCHER_MAX_WORKERS": "2",
               "MATCHER_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1",
               "MATCHER_INTAKE_PREWARM": "false"}
        env.pop("MATCHER_DATABASE_URL", None)
        env |= {f"MATCHER_{k.upper()}": str(v) for k, v in settings.items()}
        server = Server(data_dir or tmp_path / "data", tmp_path / f"server-{len(servers)}.log",
                        env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    for server in servers:
        text = server.logs()
        assert not names_in(text), f"pharmacist names in {server.log_path}"
        for line in text.splitlines():
            if line.startswith("{"):
                assert json.loads(line)["level"], line
