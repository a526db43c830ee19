"""HTTP envelopes only: the round itself is :class:`matcher.Round`, the result spec §5.

Schema families in the FastAPI template's manner: what a client may send (``SolveCreate``)
is kept apart from what it gets back (``*Public``), so a client can never set an id, a
state or a tenant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.store import JobRecord, RoundRecord

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ResultStatus = Literal["optimal", "feasible", "infeasible", "unknown"]


def _when(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


class ProblemPublic(BaseModel):
    """One problem (or warning) of a round, with where it is; never quotes personal data."""

    severity: Literal["error", "warning"] = Field(description="error or warning")
    code: str = Field(description="Machine-readable kind of problem.")
    where: str = Field(description="Where it is, as a planner would look for it.")
    list: str | None = Field(None, description="Top-level list or section.")
    index: int | None = Field(None, description="0-based position in the list.")
    id: str | None = Field(None, description="Id of the record.")
    field: str | None = Field(None, description="Dotted path of the field in the record.")
    source: str | None = Field(None, description="File or sheet of an upload.")
    row: int | None = Field(None, description="Row number in the file or sheet (header 1).")
    column: str | None = Field(None, description="Column header.")
    message: str = Field(description="What is wrong and what to do.")


class ErrorPublic(BaseModel):
    """Every error answer: a message, and for an invalid round every problem found."""

    detail: str = Field(description="What went wrong.")
    errors: list[ProblemPublic] = Field(
        default_factory=list, description="Each problem with its location (422).")


class RoundSummary(BaseModel):
    """Counts that describe a round (no personal data)."""

    model_config = ConfigDict(extra="allow")

    round: str = Field(description="The round's own id (round.id in the document).")
    periods: int = Field(description="Rotation periods.")
    streams: list[str] = Field(description="Stream ids.")
    placements: int = Field(description="Placements offered.")
    pharmacists: int = Field(description="Pharmacists in the cohort.")
    seats: int = Field(description="Seats over every placement and period.")


class RoundPublic(BaseModel):
    """A stored round, without its content."""

    id: str = Field(description="The service's id of the round.")
    round_id: str = Field(description="The round's own id (round.id in the document).")
    summary: RoundSummary
    warnings: list[ProblemPublic] = Field(description="Validation warnings.")
    created_at: datetime

    @classmethod
    def of(cls, record: RoundRecord) -> RoundPublic:
        """From the stored record."""
        return cls(id=record.id, round_id=record.round_id,
                   summary=RoundSummary.model_validate(record.summary),
                   warnings=[ProblemPublic.model_validate(w) for w in record.warnings],
                   created_at=_when(record.created_at) or datetime.now(UTC))


class RoundDetail(RoundPublic):
    """A stored round with its canonical JSON document (spec §1)."""

    round: dict[str, Any] = Field(description="The round document (spin-round/1).")


class RoundsPublic(BaseModel):
    """A page of rounds, newest first."""

    data: list[RoundPublic]
    count: int = Field(description="How many rounds the tenant has in all.")


class SolveCreate(BaseModel):
    """How to solve; everything optional. Limits above the service's caps are capped."""

    model_config = ConfigDict(extra="forbid")

    time_limit_s: float | None = Field(
        None, gt=0, le=86_400, description="Seconds for the whole solve (capped by the "
        "service's max_time_limit_s; default its default_time_limit_s).")
    workers: int | None = Field(
        None, ge=0, le=1024, description="CP-SAT search workers (0 or absent: the cap).")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed of the search.")


class JobProgress(BaseModel):
    """The search so far: best objective found, bound, relative gap, seconds elapsed."""

    objective: int | None = None
    bound: float | None = None
    gap: float | None = None
    elapsed_s: float | None = None


class JobPublic(BaseModel):
    """A solve job."""

    id: str
    round: str = Field(description="Id of the round being solved.")
    state: JobState
    time_limit_s: float = Field(description="Time limit in force (after capping).")
    workers: int = Field(description="Workers in force (after capping).")
    seed: int
    attempts: int = Field(description="Processes started for this job so far.")
    max_attempts: int
    cancel_requested: bool
    progress: JobProgress
    result_status: ResultStatus | None = Field(
        None, description="Status of the result once there is one.")
    error: str | None = Field(None, description="Why it failed, or what happened on the way.")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, job: JobRecord) -> JobPublic:
        """From the stored record."""
        return cls(
            id=job.id, round=job.round_pk, state=job.state,
            time_limit_s=job.time_limit_s, workers=job.workers, seed=job.seed,
            attempts=job.attempts, max_attempts=job.max_attempts,
            cancel_requested=job.cancel_requested_at is not None,
            progress=JobProgress(objective=job.objective, bound=job.bound, gap=job.gap,
                                 elapsed_s=job.elapsed_s),
            result_status=job.result_status,
            error=job.error, created_at=_when(job.created_at) or datetime.now(UTC),
            started_at=_when(job.started_at), finished_at=_when(job.finished_at))


class JobsPublic(BaseModel):
    """A page of jobs, newest first."""

    data: list[JobPublic]
    count: int = Field(description="How many jobs match in all.")


class AssignmentPublic(BaseModel):
    """One assignment of a result (spec §5)."""

    model_config = ConfigDict(extra="allow")

    pharmacist: str
    period: str
    stream: str
    placement: str
    score: int
    terms: dict[str, int]


class UnassignedPublic(BaseModel):
    """An empty (pharmacist, period, stream) slot and why (spec §5)."""

    model_config = ConfigDict(extra="allow")

    pharmacist: str
    period: str
    stream: str
    reason: str


class ResultPublic(BaseModel):
    """The answer (spec §5, ``spin-result/1``)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["spin-result/1"]
    round: str
    status: ResultStatus
    objective: int | None
    bound: int | None
    gap: float | None
    assignments: list[AssignmentPublic]
    unassigned: list[UnassignedPublic]
    kpis: dict[str, Any]
    diagnosis: list[Any]
    stats: dict[str, Any]


class ExplanationPublic(BaseModel):
    """Why each pharmacist got what they got (see :mod:`matcher.explanations`)."""

    model_config = ConfigDict(extra="allow")

    round: str
    status: str
    objective: int | None
    optimal: bool
    assignments: list[dict[str, Any]]
    pharmacists: list[dict[str, Any]]
    placements: list[dict[str, Any]]
    diagnosis: list[dict[str, Any]]
    resolves: int
    notes: list[str]


class ReadyPublic(BaseModel):
    """Whether the service can take work: each check "ok" or what failed."""

    status: Literal["ready", "unready"]
    checks: dict[str, str] = Field(description="database (a probe row written and read "
                                   "back), disk (SQLite: free space), job_runner.")
    request_id: str | None = Field(None, description="On 503: quote it to the operator.")


class HealthPublic(BaseModel):
    """Whether the service and its database answer."""

    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    version: str
    request_id: str | None = Field(None, description="On 503: quote it to the operator.")
