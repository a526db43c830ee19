"""Persistence through SQLAlchemy 2 (Core): SQLite in WAL mode by default, PostgreSQL by URL.

The database row is the truth about every round, job and result; the job runner and the
solve processes talk to each other only through it. Every query a request makes is scoped
to the caller's tenant, so another tenant's id behaves exactly like an id that does not
exist. Job state changes are conditional ``UPDATE`` statements on ``(id, attempt, owner)``,
and a result's primary key is its job id: one job can never have two results, whichever
process tries to write a second one.

Each tenant has a row in ``tenants``: a submission locks it (``SELECT ... FOR UPDATE``)
before counting the tenant's active jobs, so the per-tenant limit holds exactly however many
submissions race, on PostgreSQL as on SQLite (where ``BEGIN IMMEDIATE`` serialises writers).
The runner claims jobs fairly: the tenant with the fewest running solves first, then the one
served longest ago, then its oldest queued job (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several service instances on one database claim different jobs without waiting).

On SQLite, reads go through a pool of their own and never wait on a writer (WAL). This
process's writers queue for the one write lock; each waits at most ``busy_timeout_s``, and
when the lock has been stuck for a second (held elsewhere) with ``max_waiting_writes``
already waiting, more are refused at once. Both raise :class:`StoreBusy`, which the API
answers 503 with ``Retry-After`` (nothing was written; the client retries).

Times are seconds since the epoch (floats), the same on every database.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

__all__ = [
    "ACTIVE_STATES",
    "JOB_STATES",
    "TERMINAL_STATES",
    "IdempotencyConflict",
    "JobRecord",
    "NotFound",
    "RoundRecord",
    "Store",
    "StoreBusy",
    "TooManyJobs",
    "hash_key",
    "metadata",
    "web_sessions",
]

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
ACTIVE_STATES = ("queued", "running")
TERMINAL_STATES = ("succeeded", "failed", "cancelled")
KEY_PREFIX = "smk_"

log = logging.getLogger("service.store")

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False, index=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
)

rounds = sa.Table(
    "rounds", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False, index=True),
    sa.Column("round_id", sa.String(200), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("warnings", sa.JSON, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant", sa.String(100), nullable=False, index=True),
    sa.Column("round_pk", sa.String(36), sa.ForeignKey("rounds.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("time_limit_s", sa.Float, nullable=False),
    sa.Column("workers", sa.Integer, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_expires_at", sa.Float, nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
    sa.Column("cancel_requested_at", sa.Float, nullable=True),
    sa.Column("objective", sa.BigInteger, nullable=True),
    sa.Column("bound", sa.Float, nullable=True),
    sa.Column("gap", sa.Float, nullable=True),
    sa.Column("elapsed_s", sa.Float, nullable=True),
    sa.Column("progress_seq", sa.Integer, nullable=False, default=0),
    sa.Column("result_status", sa.String(16), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False, index=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
)

results = sa.Table(
    "results", metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

tenants = sa.Table(
    "tenants", metadata,
    sa.Column("tenant", sa.String(100), primary_key=True),
    sa.Column("last_claimed_at", sa.Float, nullable=True),
)

probes = sa.Table(
    "probes", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
)

web_sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 of the cookie's token
    sa.Column("tenant", sa.String(100), nullable=False, index=True),
    sa.Column("credential_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
)
"""The workspace's sign-in sessions (:mod:`service.web.sessions`)."""

explanations = sa.Table(
    "explanations", metadata,
    sa.Column("job_id", sa.String(36), sa.ForeignKey("jobs.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


class NotFound(LookupError):
    """No such record for this tenant (whether it does not exist or is another's)."""


class TooManyJobs(RuntimeError):
    """The tenant already has the most queued and running jobs it may have."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} jobs may be queued or running at once")
        self.limit = limit


class StoreBusy(RuntimeError):
    """The database could not take a write now (SQLite's write lock is held): retry soon.

    Nothing was written; the API answers 503 with ``Retry-After``.
    """

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__("the database is busy with other writes; retry in a moment")
        self.retry_after_s = retry_after_s


def _locked(exc: OperationalError) -> bool:
    """Whether ``exc`` is SQLite refusing a lock (not a broken database)."""
    text = str(exc.orig).lower()
    return "database is locked" in text or "database is busy" in text


class IdempotencyConflict(ValueError):
    """The Idempotency-Key was used before with a different request."""


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """A stored round (its document only when asked for)."""

    id: str
    tenant: str
    round_id: str
    summary: dict[str, Any]
    warnings: list[dict[str, Any]]
    created_at: float
    document: str | None = None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A stored solve job, as the database holds it."""

    id: str
    tenant: str
    round_pk: str
    state: str
    time_limit_s: float
    workers: int
    seed: int
    idempotency_key: str | None
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    pid: int | None
    cancel_requested_at: float | None
    objective: int | None
    bound: float | None
    gap: float | None
    elapsed_s: float | None
    progress_seq: int
    result_status: str | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    request_hash: str | None = None

    @property
    def terminal(self) -> bool:
        """True once the job can change no more."""
        return self.state in TERMINAL_STATES


_JOB_FIELDS = tuple(JobRecord.__dataclass_fields__)


def hash_key(key: str) -> str:
    """The stored form of an API key (keys are random 256-bit secrets: SHA-256 suffices)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_id() -> str:
    """A random public id."""
    return str(uuid.uuid4())


def _valid_id(value: str) -> bool:
    """Whether ``value`` can be one of our ids (anything else cannot exist: no query)."""
    try:
        return str(uuid.UUID(value)) == value
    except (ValueError, TypeError, AttributeError):
        return False


def _sqlite_pragmas(busy_timeout_s: float) -> Any:
    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred only).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
    return pragmas


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock up front: upgrading a read transaction later can fail
    # at once with "database is locked" instead of waiting for the busy timeout.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(url: str) -> bool:
    """Whether ``url`` names a SQLite database."""
    return sa.make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool: bool = True, busy_timeout_s: float = 30.0,
                pool_size: int = 8, max_overflow: int = 16) -> Engine:
    """An engine for ``url``; SQLite gets WAL mode, a busy timeout and its directory made.

    A new SQLite directory is made ``0700`` and a new database file ``0600`` (SQLite gives
    its ``-wal`` and ``-shm`` files the database file's mode): they hold names and homes.
    Existing ones made before (or with a loose umask) are :meth:`Store.make_private`'s.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s,
                                                   "check_same_thread": False}}
        if not pool:
            kwargs["poolclass"] = sa.pool.NullPool
        else:
            kwargs |= {"pool_size": pool_size, "max_overflow": max_overflow,
                       "pool_timeout": max(1.0, busy_timeout_s)}
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_s))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if not pool:
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _ensure_tenant(conn: Connection, tenant: str) -> None:
    """Make the tenant's row if it has none (a no-op, without error, when it exists)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(tenants).values(tenant=tenant, last_claimed_at=None)
                 .on_conflict_do_nothing(index_elements=["tenant"]))


def _lock_tenant(conn: Connection, tenant: str) -> None:
    """Hold the tenant's row until the transaction ends (other lockers wait).

    On SQLite the write transaction already holds the database's write lock.
    """
    _ensure_tenant(conn, tenant)
    conn.execute(sa.select(tenants.c.tenant).where(tenants.c.tenant == tenant)
                 .with_for_update())


def _job(row: Any) -> JobRecord:
    return JobRecord(**{k: row[k] for k in _JOB_FIELDS})


def _round(row: Any, with_document: bool) -> RoundRecord:
    return RoundRecord(id=row["id"], tenant=row["tenant"], round_id=row["round_id"],
                       summary=row["summary"], warnings=row["warnings"],
                       created_at=row["created_at"],
                       document=row["document"] if with_document else None)


class Store:
    """The service's database: keys, rounds, jobs, results and explanations."""

    def __init__(self, url: str, *, pool: bool = True, busy_timeout_s: float = 30.0,
                 max_waiting_writes: int = 0) -> None:
        """Open ``url``. On SQLite, ``busy_timeout_s`` bounds a write's wait for the write
        lock and ``max_waiting_writes`` (0: no cap) the writes of this process that may wait
        at once while the lock is stuck: more are refused with :class:`StoreBusy` instead of
        tying up threads that reads need."""
        self.url = url
        self.sqlite = is_sqlite(url)
        self.busy_timeout_s = busy_timeout_s
        extra = max(16, max_waiting_writes - 8)
        self.engine = make_engine(url, pool=pool, busy_timeout_s=busy_timeout_s,
                                  max_overflow=extra)
        self._writer = self.engine.execution_options(sqlite_immediate=True)
        # SQLite: reads have connections of their own, so waiting writers never starve them.
        self._reader = (make_engine(url, pool=pool, busy_timeout_s=busy_timeout_s,
                                    max_overflow=32) if self.sqlite and pool else self.engine)
        self._max_waiting = max_waiting_writes if self.sqlite else 0
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        # SQLite has one writer at a time: this process's writers queue here, handed the
        # lock the moment it is free (SQLite's own busy wait polls, with sleeps of up to
        # 100 ms), and meet the busy timeout only against other processes.
        self._one_writer = threading.Lock()
        self._last_write = time.monotonic()  # when the last write took the lock

    # ---- plumbing ------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest migration (idempotent, safe on every start)."""
        # lazy: alembic loads only when the schema is created
        from service.migrations import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._reader is not self.engine:
            self._reader.dispose()

    def make_private(self, *, own_dir: bool) -> None:
        """Take group and world access off an existing SQLite database (they hold names and
        homes), as the service starts: a database or directory made by an older version or
        under a loose umask kept it. One JSON warning line names what was tightened.

        The database file and its ``-wal`` and ``-shm`` files lose it always. The directory
        does only when ``own_dir`` (the service's own default data directory, or one it
        made, which is ``0700`` already): a directory the operator chose may be shared
        (``/tmp``, the working directory), so it is left as it is, with a warning line
        saying to ``chmod 700`` it. Nothing happens on PostgreSQL or in memory; a file the
        service's user cannot change is named in a warning line and left.
        """
        database = sa.make_url(self.url).database
        if not self.sqlite or not database or database == ":memory:":
            return
        db = Path(database)
        tightened: list[str] = []
        refused: list[str] = []
        targets = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        for path in ([db.parent] if own_dir else []) + targets:
            try:  # a symlinked directory may lead anywhere: left alone
                st = path.lstat() if path == db.parent else path.stat()
                if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
                    continue
                mode = stat.S_IMODE(st.st_mode)
                os.chmod(path, mode & 0o700)
                tightened.append(f"{path} ({mode:04o} -> {mode & 0o700:04o})")
            except FileNotFoundError:
                continue
            except OSError as exc:
                refused.append(f"{path} ({type(exc).__name__})")
        if tightened:
            log.warning("database files were open to other users; tightened to the owner "
                        "only: %s", ", ".join(tightened))
        if refused:
            log.warning("database files are open to other users and could not be "
                        "tightened: %s; make them the service user's, mode 0600",
                        ", ".join(refused))
        with contextlib.suppress(OSError):
            if not own_dir and db.parent.stat().st_mode & 0o077:
                log.warning("the directory of the SQLite database, %s, is open to other "
                            "users and was left as it is (not the service's own data "
                            "directory): chmod 700 it, or move the database to a private "
                            "directory", db.parent)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (on SQLite it never waits on a writer)."""
        with self._reader.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (on SQLite, holding the write lock from its start).

        Raises :class:`StoreBusy` when SQLite's write lock could not be had in time (or too
        many writes already wait): nothing was written, the caller may retry.
        """
        if self._max_waiting:
            with self._waiting_lock:
                # Many waiting writes are refused only when writing is stuck (the lock
                # held elsewhere for a second or more), not when they merely queue.
                stuck = time.monotonic() - self._last_write > 1.0
                if self._waiting >= self._max_waiting and stuck:
                    raise StoreBusy()
                self._waiting += 1
        try:
            if self.sqlite and not self._one_writer.acquire(timeout=self.busy_timeout_s):
                raise StoreBusy()
            self._last_write = time.monotonic()
            try:
                with self._writer.begin() as conn:
                    yield conn
            finally:
                if self.sqlite:
                    self._one_writer.release()
        except OperationalError as exc:
            if self.sqlite and _locked(exc):
                raise StoreBusy() from exc
            raise
        except sa.exc.TimeoutError as exc:  # no pooled connection came free in time
            raise StoreBusy() from exc
        finally:
            if self._max_waiting:
                with self._waiting_lock:
                    self._waiting -= 1

    def ping(self) -> None:
        """Raise unless the database answers."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def probe(self, name: str) -> None:
        """Write the probe row ``name`` and read it back (readiness); raise unless both work.

        On SQLite the read uses a new connection, so it reads the file as it is now (a
        pooled connection may still hold pages of a file corrupted since).
        """
        now = time.time()
        with self.write() as conn:
            if conn.execute(probes.update().where(probes.c.name == name)
                            .values(at=now)).rowcount == 0:
                conn.execute(probes.insert().values(name=name, at=now))
        if self.sqlite:
            fresh = make_engine(self.url, pool=False, busy_timeout_s=self.busy_timeout_s)
            try:
                with fresh.begin() as conn:
                    seen = conn.execute(sa.select(probes.c.at).where(
                        probes.c.name == name)).scalar_one_or_none()
            finally:
                fresh.dispose()
        else:
            with self.read() as conn:
                seen = conn.execute(sa.select(probes.c.at).where(
                    probes.c.name == name)).scalar_one_or_none()
        if seen != now:
            raise RuntimeError("the probe row read back is not the one written")

    # ---- API keys ------------------------------------------------------------------------

    def create_key(self, tenant: str) -> str:
        """Make a new API key for ``tenant``; only its hash is stored."""
        tenant = tenant.strip()
        if not tenant or len(tenant) > 100:
            raise ValueError("a tenant name is 1 to 100 characters")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.write() as conn:
            conn.execute(api_keys.insert().values(
                id=new_id(), tenant=tenant, key_hash=hash_key(key), prefix=key[:10],
                created_at=time.time(), revoked_at=None))
        return key

    def revoke_key(self, key: str) -> str | None:
        """Revoke a key; returns its tenant, or None when the key is unknown."""
        with self.write() as conn:
            row = conn.execute(sa.select(api_keys.c.id, api_keys.c.tenant).where(
                api_keys.c.key_hash == hash_key(key.strip()))).first()
            if row is None:
                return None
            conn.execute(api_keys.update().where(api_keys.c.id == row.id,
                                                 api_keys.c.revoked_at.is_(None))
                         .values(revoked_at=time.time()))
            return str(row.tenant)

    def tenant_for_key(self, key: str) -> str | None:
        """The tenant of a valid (known, not revoked) key."""
        with self.read() as conn:
            row = conn.execute(sa.select(api_keys.c.tenant).where(
                api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None))).first()
        return None if row is None else str(row.tenant)

    # ---- rounds --------------------------------------------------------------------------

    def add_round(self, tenant: str, *, round_id: str, document: str,
                  summary: dict[str, Any], warnings: list[dict[str, Any]]) -> RoundRecord:
        """Store a validated round's canonical JSON."""
        record = {"id": new_id(), "tenant": tenant, "round_id": round_id, "summary": summary,
                  "warnings": warnings, "document": document, "created_at": time.time()}
        with self.write() as conn:
            conn.execute(rounds.insert().values(**record))
        return _round(record, with_document=False)

    def add_round_once(self, tenant: str, *, idempotency_key: str, request_hash: str,
                       round_id: str, document: str, summary: dict[str, Any],
                       warnings: list[dict[str, Any]]) -> tuple[RoundRecord, bool]:
        """:meth:`add_round` with an Idempotency-Key; returns (round, created).

        The tenant's round stored earlier with the same key is returned (``created``
        False) when ``request_hash`` is the same, and :class:`IdempotencyConflict` raised
        when it is not. The look-up and the insert share one transaction holding the
        tenant's row, so the same request sent twice at once stores one round. The key is
        kept hashed, in the summary (``idempotency``).
        """
        key_hash = hash_key(idempotency_key)
        summary = summary | {"idempotency": {"key": key_hash, "request": request_hash}}
        cols = [c for c in rounds.c if c.name != "document"]
        with self.write() as conn:
            _lock_tenant(conn, tenant)
            row = conn.execute(sa.select(*cols).where(
                rounds.c.tenant == tenant,
                rounds.c.summary[("idempotency", "key")].as_string() == key_hash)
            ).mappings().first()
            if row is not None:
                if (row["summary"].get("idempotency") or {}).get("request") != request_hash:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was used for a different round; use a new key "
                        "for a new submission")
                return _round(row, with_document=False), False
            record = {"id": new_id(), "tenant": tenant, "round_id": round_id,
                      "summary": summary, "warnings": warnings, "document": document,
                      "created_at": time.time()}
            conn.execute(rounds.insert().values(**record))
        return _round(record, with_document=False), True

    def list_rounds(self, tenant: str, *, limit: int, offset: int
                    ) -> tuple[list[RoundRecord], int]:
        """The tenant's rounds, newest first, and how many there are."""
        cols = [c for c in rounds.c if c.name != "document"]
        with self.read() as conn:
            rows = conn.execute(sa.select(*cols).where(rounds.c.tenant == tenant)
                                .order_by(rounds.c.created_at.desc(), rounds.c.id)
                                .limit(limit).offset(offset)).mappings().all()
            count = conn.execute(sa.select(sa.func.count()).select_from(rounds)
                                 .where(rounds.c.tenant == tenant)).scalar_one()
        return [_round(r, with_document=False) for r in rows], int(count)

    def get_round(self, tenant: str, round_pk: str, *, document: bool = False) -> RoundRecord:
        """One of the tenant's rounds; :class:`NotFound` otherwise."""
        if not _valid_id(round_pk):
            raise NotFound(round_pk)
        cols = list(rounds.c) if document else [c for c in rounds.c if c.name != "document"]
        with self.read() as conn:
            row = conn.execute(sa.select(*cols).where(
                rounds.c.id == round_pk, rounds.c.tenant == tenant)).mappings().first()
        if row is None:
            raise NotFound(round_pk)
        return _round(row, with_document=document)

    def delete_round(self, tenant: str, round_pk: str) -> list[str]:
        """Delete a round with its jobs, results and explanations; returns the job ids.

        A solve still running for one of them notices at its next heartbeat and stops.
        """
        if not _valid_id(round_pk):
            raise NotFound(round_pk)
        with self.write() as conn:
            found = conn.execute(sa.select(rounds.c.id).where(
                rounds.c.id == round_pk, rounds.c.tenant == tenant)).first()
            if found is None:
                raise NotFound(round_pk)
            job_ids = list(conn.execute(sa.select(jobs.c.id).where(
                jobs.c.round_pk == round_pk)).scalars())
            if job_ids:
                conn.execute(explanations.delete().where(explanations.c.job_id.in_(job_ids)))
                conn.execute(results.delete().where(results.c.job_id.in_(job_ids)))
                conn.execute(jobs.delete().where(jobs.c.id.in_(job_ids)))
            conn.execute(rounds.delete().where(rounds.c.id == round_pk))
        return job_ids

    # ---- jobs: the API side --------------------------------------------------------------

    def submit_job(self, tenant: str, round_pk: str, *, time_limit_s: float, workers: int,
                   seed: int, max_attempts: int, max_active: int,
                   idempotency_key: str | None = None) -> tuple[JobRecord, bool]:
        """Queue a solve of one of the tenant's rounds; returns (job, created).

        With an ``idempotency_key`` already used by this tenant, the same request returns
        the existing job (``created`` False) and a different one raises
        :class:`IdempotencyConflict`. Raises :class:`TooManyJobs` when the tenant has
        ``max_active`` queued or running jobs, :class:`NotFound` for an unknown round.
        """
        if not _valid_id(round_pk):
            raise NotFound(round_pk)
        request_hash = hashlib.sha256(json.dumps(
            {"round": round_pk, "time_limit_s": time_limit_s, "workers": workers,
             "seed": seed}, sort_keys=True).encode()).hexdigest()
        try:
            with self.write() as conn:
                if idempotency_key is not None:
                    existing = self._by_idempotency_key(conn, tenant, idempotency_key)
                    if existing is not None:
                        return self._replay(existing, request_hash), False
                if conn.execute(sa.select(rounds.c.id).where(
                        rounds.c.id == round_pk, rounds.c.tenant == tenant)).first() is None:
                    raise NotFound(round_pk)
                # One submission of a tenant at a time past this point: the count below
                # then sees every job committed before it (exact limit under races).
                _lock_tenant(conn, tenant)
                active = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(
                    jobs.c.tenant == tenant, jobs.c.state.in_(ACTIVE_STATES))).scalar_one()
                if active >= max_active:
                    raise TooManyJobs(max_active)
                now = time.time()
                values: dict[str, Any] = {
                    "id": new_id(), "tenant": tenant, "round_pk": round_pk, "state": "queued",
                    "time_limit_s": time_limit_s, "workers": workers, "seed": seed,
                    "idempotency_key": idempotency_key, "request_hash": request_hash,
                    "attempts": 0, "max_attempts": max_attempts, "lease_owner": None,
                    "lease_expires_at": None, "pid": None, "cancel_requested_at": None,
                    "objective": None, "bound": None, "gap": None, "elapsed_s": None,
                    "progress_seq": 0, "result_status": None, "error": None,
                    "created_at": now, "started_at": None, "finished_at": None,
                    "updated_at": now,
                }
                conn.execute(jobs.insert().values(**values))
                return _job(values), True
        except IntegrityError:
            # Two requests with the same key raced; the first one's job is the answer.
            if idempotency_key is None:
                raise
            with self.read() as conn:
                existing = self._by_idempotency_key(conn, tenant, idempotency_key)
            if existing is None:
                raise
            return self._replay(existing, request_hash), False

    @staticmethod
    def _by_idempotency_key(conn: Connection, tenant: str, key: str) -> JobRecord | None:
        row = conn.execute(sa.select(jobs).where(
            jobs.c.tenant == tenant, jobs.c.idempotency_key == key)).mappings().first()
        return None if row is None else _job(row)

    @staticmethod
    def _replay(existing: JobRecord, request_hash: str) -> JobRecord:
        if existing.request_hash != request_hash:
            raise IdempotencyConflict(
                "this Idempotency-Key was used for a different request (another round or "
                "other parameters); use a new key for a new request")
        return existing

    def job_by_idempotency_key(self, tenant: str, key: str) -> JobRecord | None:
        """The tenant's job submitted with ``key`` as its Idempotency-Key, if any."""
        with self.read() as conn:
            return self._by_idempotency_key(conn, tenant, key)

    def get_job(self, tenant: str | None, job_id: str) -> JobRecord:
        """A job of the tenant (any tenant's when ``tenant`` is None); NotFound otherwise."""
        if not _valid_id(job_id):
            raise NotFound(job_id)
        query = sa.select(jobs).where(jobs.c.id == job_id)
        if tenant is not None:
            query = query.where(jobs.c.tenant == tenant)
        with self.read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(job_id)
        return _job(row)

    def list_jobs(self, tenant: str, *, limit: int, offset: int, state: str | None = None,
                  round_pk: str | None = None) -> tuple[list[JobRecord], int]:
        """The tenant's jobs, newest first (optionally of one state or round), and a count."""
        cond = [jobs.c.tenant == tenant]
        if state is not None:
            cond.append(jobs.c.state == state)
        if round_pk is not None:
            if not _valid_id(round_pk):
                return [], 0
            cond.append(jobs.c.round_pk == round_pk)
        with self.read() as conn:
            rows = conn.execute(sa.select(jobs).where(*cond)
                                .order_by(jobs.c.created_at.desc(), jobs.c.id)
                                .limit(limit).offset(offset)).mappings().all()
            count = conn.execute(sa.select(sa.func.count()).select_from(jobs)
                                 .where(*cond)).scalar_one()
        return [_job(r) for r in rows], int(count)

    def request_cancel(self, tenant: str, job_id: str) -> JobRecord:
        """Cancel a job: a queued one at once, a running one at its next heartbeat.

        A running solve stops its search and saves the best solution found so far. A job
        that already finished is returned unchanged.
        """
        if not _valid_id(job_id):
            raise NotFound(job_id)
        now = time.time()
        with self.write() as conn:
            row = conn.execute(sa.select(jobs).where(
                jobs.c.id == job_id, jobs.c.tenant == tenant)).mappings().first()
            if row is None:
                raise NotFound(job_id)
            job = _job(row)
            if job.state == "queued":
                conn.execute(jobs.update().where(jobs.c.id == job_id, jobs.c.state == "queued")
                             .values(state="cancelled", cancel_requested_at=now,
                                     finished_at=now, updated_at=now,
                                     error="cancelled before it started"))
            elif job.state == "running" and job.cancel_requested_at is None:
                conn.execute(jobs.update().where(jobs.c.id == job_id)
                             .values(cancel_requested_at=now, updated_at=now))
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().one()
        return _job(row)

    def get_result(self, tenant: str, job_id: str) -> tuple[JobRecord, str | None]:
        """A job of the tenant and its result document (None while it has none)."""
        job = self.get_job(tenant, job_id)
        with self.read() as conn:
            doc = conn.execute(sa.select(results.c.document).where(
                results.c.job_id == job_id)).scalar_one_or_none()
        return job, doc

    def result_count(self, job_id: str) -> int:
        """How many results a job has (0 or 1; the schema allows no more)."""
        with self.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(results)
                                    .where(results.c.job_id == job_id)).scalar_one())

    def get_explanation(self, job_id: str) -> str | None:
        """A cached explanation document."""
        with self.read() as conn:
            return conn.execute(sa.select(explanations.c.document).where(
                explanations.c.job_id == job_id)).scalar_one_or_none()

    def put_explanation(self, job_id: str, document: str) -> None:
        """Cache an explanation (the first one written wins)."""
        with contextlib.suppress(IntegrityError), self.write() as conn:
            if conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id)).first():
                conn.execute(explanations.insert().values(
                    job_id=job_id, document=document, created_at=time.time()))

    def job_counts(self) -> dict[str, int]:
        """Jobs by state over every tenant (for metrics)."""
        with self.read() as conn:
            rows = conn.execute(sa.select(jobs.c.state, sa.func.count())
                                .group_by(jobs.c.state)).all()
        counts = dict.fromkeys(JOB_STATES, 0)
        counts.update({str(s): int(n) for s, n in rows})
        return counts

    # ---- jobs: the runner side -----------------------------------------------------------

    def any_queued(self) -> bool:
        """Whether some job (of any tenant) waits to be claimed."""
        with self.read() as conn:
            return conn.execute(sa.select(jobs.c.id).where(jobs.c.state == "queued")
                                .limit(1)).first() is not None

    def claim_next(self, owner: str, lease_s: float) -> JobRecord | None:
        """Take the next queued job fairly: running, one more attempt, leased to ``owner``.

        The turn goes to the tenant with the fewest running solves, then to the one whose
        last job started longest ago, then to its oldest queued job: one tenant's backlog
        never holds another's job behind it. Safe with several claimers (threads,
        processes, service instances): a job is claimed by exactly one.
        """
        with self.read() as conn:
            waiting = conn.execute(
                sa.select(jobs.c.tenant, sa.func.min(jobs.c.created_at).label("oldest"))
                .where(jobs.c.state == "queued").group_by(jobs.c.tenant)).all()
            if not waiting:
                return None
            running = {str(t): int(n) for t, n in conn.execute(
                sa.select(jobs.c.tenant, sa.func.count()).where(jobs.c.state == "running")
                .group_by(jobs.c.tenant)).all()}
            turns = {str(t): at for t, at in conn.execute(
                sa.select(tenants.c.tenant, tenants.c.last_claimed_at).where(
                    tenants.c.tenant.in_([w.tenant for w in waiting]))).all()}
        order = sorted(waiting, key=lambda w: (running.get(w.tenant, 0),
                                               turns.get(w.tenant) or 0.0, w.oldest))
        for w in order:
            now = time.time()
            with self.write() as conn:
                job_id = conn.execute(
                    sa.select(jobs.c.id).where(jobs.c.tenant == w.tenant,
                                               jobs.c.state == "queued")
                    .order_by(jobs.c.created_at, jobs.c.id).limit(1)
                    .with_for_update(skip_locked=True)).scalar_one_or_none()
                if job_id is None:
                    continue
                done = conn.execute(
                    jobs.update().where(jobs.c.id == job_id, jobs.c.state == "queued")
                    .values(state="running", attempts=jobs.c.attempts + 1, lease_owner=owner,
                            lease_expires_at=now + lease_s, pid=None, updated_at=now,
                            started_at=sa.func.coalesce(jobs.c.started_at, now))).rowcount
                if done != 1:
                    continue
                _ensure_tenant(conn, w.tenant)
                conn.execute(tenants.update().where(tenants.c.tenant == w.tenant)
                             .values(last_claimed_at=now))
                row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().one()
                return _job(row)
        return None

    def _mine(self, job_id: str, attempt: int, owner: str) -> list[Any]:
        return [jobs.c.id == job_id, jobs.c.attempts == attempt, jobs.c.lease_owner == owner,
                jobs.c.state == "running"]

    def set_pid(self, job_id: str, attempt: int, owner: str, pid: int) -> None:
        """Record the solve process of a running attempt."""
        with self.write() as conn:
            conn.execute(jobs.update().where(*self._mine(job_id, attempt, owner))
                         .values(pid=pid))

    def heartbeat(self, job_id: str, attempt: int, owner: str, lease_s: float,
                  progress: Mapping[str, Any] | None = None) -> tuple[bool, bool]:
        """Renew the lease (and publish progress); returns (still ours, cancel requested)."""
        now = time.time()
        values: dict[str, Any] = {"lease_expires_at": now + lease_s, "updated_at": now}
        if progress:
            values |= dict(progress) | {"progress_seq": jobs.c.progress_seq + 1}
        with self.write() as conn:
            done = conn.execute(jobs.update().where(*self._mine(job_id, attempt, owner))
                                .values(**values)).rowcount
            if done != 1:
                return False, False
            cancel = conn.execute(sa.select(jobs.c.cancel_requested_at).where(
                jobs.c.id == job_id)).scalar_one()
        return True, cancel is not None

    def finish(self, job_id: str, attempt: int, owner: str, *, result: Mapping[str, Any] | None,
               error: str | None = None) -> str | None:
        """End a running attempt with its result (or error): exactly once.

        The final state is ``cancelled`` when a cancel was asked for, else ``succeeded``
        with a result and ``failed`` without. Returns the state, or None when the attempt
        is no longer the job's (its lease was lost, the job deleted): nothing is written.
        """
        now = time.time()
        with self.write() as conn:
            row = conn.execute(sa.select(jobs.c.cancel_requested_at).where(
                *self._mine(job_id, attempt, owner))).first()
            if row is None:
                return None
            state = ("cancelled" if row.cancel_requested_at is not None
                     else "succeeded" if result is not None else "failed")
            values: dict[str, Any] = {
                "state": state, "finished_at": now, "updated_at": now, "lease_owner": None,
                "lease_expires_at": None,
            }
            if error is not None:  # else keep what happened on the way (a retried attempt)
                values["error"] = error
            if result is not None:
                values |= {"result_status": result["status"], "objective": result["objective"],
                           "bound": result["bound"], "gap": result["gap"],
                           "progress_seq": jobs.c.progress_seq + 1}
            done = conn.execute(jobs.update().where(*self._mine(job_id, attempt, owner))
                                .values(**values)).rowcount
            if done != 1:
                return None
            if result is not None:
                conn.execute(results.insert().values(
                    job_id=job_id, attempt=attempt, status=result["status"],
                    document=json.dumps(result, separators=(",", ":")), created_at=now))
        return state

    def retry_or_fail(self, job_id: str, attempt: int, reason: str, *,
                      only_if_expired: bool = False, retry: bool = True) -> str | None:
        """An attempt's process died: queue the job again, or fail it after its last attempt.

        A cancelled job whose process died is cancelled (without a result). Returns the new
        state, or None when the attempt is no longer current. With ``only_if_expired`` (the
        lease sweep), nothing happens when the attempt renewed its lease meanwhile. With
        ``retry=False`` (the runner stopped a solve that overran its time or memory: another
        attempt would do the same) the job is failed at once with ``reason`` as its error.
        """
        now = time.time()
        current = [jobs.c.id == job_id, jobs.c.attempts == attempt, jobs.c.state == "running"]
        if only_if_expired:
            current.append(jobs.c.lease_expires_at < now)
        with self.write() as conn:
            row = conn.execute(sa.select(jobs.c.attempts, jobs.c.max_attempts,
                                         jobs.c.cancel_requested_at).where(*current)
                               .with_for_update()).first()
            if row is None:
                return None
            if row.cancel_requested_at is not None:
                state, values = "cancelled", {"finished_at": now,
                                              "error": f"cancelled; {reason}"}
            elif not retry:
                state, values = "failed", {"finished_at": now, "error": reason}
            elif row.attempts < row.max_attempts:
                state, values = "queued", {"error": f"attempt {attempt}: {reason}; queued again"}
            else:
                state, values = "failed", {
                    "finished_at": now,
                    "error": f"{reason} (attempt {attempt} of {row.max_attempts}); giving up"}
            done = conn.execute(jobs.update().where(*current)
                .values(state=state, lease_owner=None, lease_expires_at=None, pid=None,
                        updated_at=now, **values)).rowcount
        return state if done == 1 else None

    def expired_leases(self, now: float | None = None) -> list[JobRecord]:
        """Running jobs whose lease ran out: their process is gone (or lost touch)."""
        now = time.time() if now is None else now
        with self.read() as conn:
            rows = conn.execute(sa.select(jobs).where(
                jobs.c.state == "running", jobs.c.lease_expires_at < now)).mappings().all()
        return [_job(r) for r in rows]

    def round_document_of(self, job_id: str) -> str:
        """The canonical round JSON a job solves."""
        with self.read() as conn:
            doc = conn.execute(sa.select(rounds.c.document).join(
                jobs, jobs.c.round_pk == rounds.c.id).where(jobs.c.id == job_id)
            ).scalar_one_or_none()
        if doc is None:
            raise NotFound(job_id)
        return str(doc)

    def jobs_by_ids(self, job_ids: Sequence[str]) -> list[JobRecord]:
        """Jobs by id over every tenant (for the runner)."""
        if not job_ids:
            return []
        with self.read() as conn:
            rows = conn.execute(sa.select(jobs).where(jobs.c.id.in_(list(job_ids)))
                                ).mappings().all()
        return [_job(r) for r in rows]
