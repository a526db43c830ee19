"""Service settings: one :class:`Settings` read from ``MATCHER_*`` environment variables.

Every setting has an embedded default, so ``matcher serve`` starts with no configuration:
SQLite (WAL) under ``./.matcher-data`` in the working directory. ``MATCHER_DATABASE_URL``
points the service (and ``matcher keys``) at PostgreSQL instead, e.g.
``postgresql+psycopg://user:password@host/dbname``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from matcher.formats import MAX_BYTES

DEFAULT_DATA_DIR = Path(".matcher-data")
"""Where the SQLite database lives when no database URL is given (relative to the cwd)."""


def _cores() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Configuration of the HTTP service and its job runner (env prefix ``MATCHER_``)."""

    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Directory of the SQLite database.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite at DATA_DIR/matcher.db.")
    host: str = Field("127.0.0.1", description="Address `matcher serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `matcher serve` listens on.")
    log_level: str = Field("INFO", description="Level of the JSON log lines.")

    max_body_bytes: int = Field(MAX_BYTES, ge=1024, description="Largest uploaded file: a "
                                "round, or a map's boundary (413).")
    max_request_bytes: int = Field(
        2 * 1024 * 1024, ge=1024, description="Largest body of every other request (a "
        "solve's parameters, a scenario's overrides, a form): 413 above it.")
    header_timeout_s: float = Field(
        10.0, gt=0, description="A request's headers must all arrive within this many seconds "
        "of the connection (or of the first byte after the previous answer); else the "
        "connection is closed.")
    body_timeout_s: float = Field(
        120.0, gt=0, description="A request's whole body must arrive within this many seconds "
        "of its headers; else 408 and the connection is closed.")
    metrics_key: str | None = Field(
        None, min_length=16, description="The operator's key for /v1/metrics: when set, only "
        "`Authorization: Bearer METRICS_KEY` reads the metrics (tenants' keys get 403); "
        "unset, any tenant's key does (the metrics count every tenant's requests and jobs "
        "together and name no tenant).")
    max_event_streams_per_tenant: int = Field(
        20, ge=1, description="Server-Sent Events streams (GET /v1/jobs/{id}/events, and the "
        "workspace's job pages' own) a tenant may hold open at once in one process; more get "
        "429.")
    max_active_jobs_per_tenant: int = Field(
        20, ge=1, description="Queued plus running jobs a tenant may have at once (429).")
    default_time_limit_s: float = Field(60.0, gt=0, description="Time limit when none given.")
    max_time_limit_s: float = Field(600.0, gt=0, description="Cap on a solve's time limit.")
    max_workers: int = Field(default_factory=_cores, ge=1,
                             description="Cap on CP-SAT workers of one solve.")
    max_concurrent_solves: int = Field(
        default_factory=lambda: max(1, _cores() // 2), ge=1,
        description="Solves running at once, each in its own child process.")
    prewarm: bool = Field(True, description="Keep one solve process started ahead of time, "
                          "with the solver imported, for the next attempt.")
    max_attempts: int = Field(3, ge=1, description="Tries of a job whose process died.")
    lease_s: float = Field(15.0, gt=0, description="A running job's lease; renewed by its "
                           "process, requeued by the reconciler once expired.")
    heartbeat_s: float = Field(1.0, gt=0, description="How often a solve process renews "
                               "its lease and publishes progress.")
    reconcile_s: float = Field(2.0, gt=0, description="How often expired leases are swept.")
    cancel_grace_s: float = Field(15.0, gt=0, description="How long a cancelled solve may "
                                  "take to stop and save its best solution before it is killed.")
    solve_grace_s: float = Field(
        30.0, gt=0, description="How long past its time limit a solve may run (counted from "
        "when its process gets the job) to stop and save its best solution; then its process "
        "is killed and the job failed, not retried.")
    solve_memory_mb: int = Field(
        8192, ge=0, description="Resident memory (MiB) one solve process may use; above it "
        "the process is killed and the job failed, not retried (0: no cap).")
    events_poll_s: float = Field(0.25, gt=0, description="How often an SSE stream looks "
                                 "for changes.")
    explain_time_limit_s: float = Field(10.0, gt=0, description="Budget of an explanation.")
    explain_max_resolves: int = Field(20, ge=0, description="Re-solves of an explanation.")
    explain_memory_mb: int = Field(
        4096, ge=0, description="Memory (address space, MiB) the explanation worker may use; "
        "an explanation that needs more is refused (409) and the worker replaced. 0: no cap.")
    intake_workers: int = Field(
        2, ge=1, description="Worker processes that read uploaded rounds and apply "
        "scenarios' overrides (never the API process).")
    intake_prewarm: bool = Field(
        True, description="Start the intake workers (with the library imported) when the "
        "service starts, so the first upload does not wait for them.")
    intake_memory_mb: int = Field(
        3072, ge=0, description="Memory (address space, MiB) an intake worker may use; a "
        "round that needs more to read is refused (413) and the worker replaced. 0: no cap.")
    intake_time_limit_s: float = Field(
        120.0, gt=0, description="Longest an intake worker may spend reading one upload or "
        "applying one scenario; longer is refused (413) and the worker replaced.")
    intake_wait_s: float = Field(
        30.0, ge=0, description="Longest a request waits for an idle intake worker before "
        "it is answered 503 with Retry-After.")
    max_intake_per_tenant: int = Field(
        2, ge=1, description="Uploads and scenarios of one tenant read at once (waiting or "
        "running) in one process; more get 429, so one tenant cannot hold every worker.")
    max_pharmacists: int = Field(
        10_000, ge=1, description="Admission limit: most pharmacists in a submitted round "
        "(counted before the round is validated; 413 above it).")
    max_placements: int = Field(
        5_000, ge=1, description="Admission limit: most placements in a submitted round "
        "(counted before the round is validated; 413 above it).")
    max_candidates: int = Field(
        10_000_000, ge=1, description="Admission limit: most eligible (pharmacist, "
        "placement, period) combinations in a submitted round, which a solve's time and "
        "memory follow (413 above it). A 5,000 x 2,500 x 4 round has about 6.3 million.")
    sqlite_busy_timeout_s: float = Field(
        5.0, gt=0, description="SQLite: how long a request's write waits for the write lock "
        "before the request is answered 503 with Retry-After (nothing written).")
    sqlite_max_waiting_writes: int = Field(
        32, ge=1, description="SQLite: writes that may wait for the lock at once while it is "
        "held elsewhere; more are answered 503 at once, so waiting writes never hold every "
        "thread reads need.")
    min_free_disk_mb: int = Field(
        200, ge=0, description="Readiness (/v1/ready) fails below this much free space where "
        "the SQLite database lives.")
    run_jobs: bool = Field(True, description="Run the job runner in this process.")
    postcodes: Path | None = Field(
        None, description="Postcode lookup file (CSV in the ONS Postcode Directory layout: "
        "pcds, lat, long) for submitted rounds that give homes or placements as postcodes.")

    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, else SQLite under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'matcher.db').resolve()}"
