"""Scenarios: solve a what-if of a stored round as a job; diff two jobs' results.

``POST /rounds/{round_pk}/scenarios`` applies the overrides (:mod:`matcher.whatif`) to
the tenant's round, stores the scenario's round as a round of its own (its summary names the
base round and the scenario), and queues its solve exactly as ``POST /rounds/{id}/solve``
does (same job runner, caps and limits). ``GET /jobs/{job_id}/diff/{other_job_id}``
compares the results of two of the tenant's jobs. Another tenant's ids answer 404 like ids
that do not exist.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from matcher.errors import InvalidRoundError
from matcher.result import Result
from matcher.whatif import Override, diff
from service.auth import StoreDep, TenantDep
from service.intake import store_prepared
from service.intake_work import apply_scenario
from service.routes import errors
from service.routes.jobs import solve_round
from service.routes.rounds import Invalid, get_round_or_404
from service.schemas import JobPublic, SolveCreate
from service.store import JobRecord, NotFound, Store

router = APIRouter(tags=["scenarios"])

MAX_OVERRIDES = 500
"""Most overrides in one scenario (each may re-validate the round when one is at fault)."""


class ScenarioCreate(SolveCreate):
    """A what-if of a stored round: overrides applied in order, then solved like any round."""

    name: str = Field("scenario", min_length=1, max_length=100,
                      description="A name for the scenario (kept in the new round's summary).")
    overrides: list[Override] = Field(
        max_length=MAX_OVERRIDES,
        description="Overrides, each with an `op` (see matcher.whatif): set_weights, "
        "set_rules, add/remove/close_placement, set_capacity, update_placement, "
        "add/remove/update_pharmacist, set_unavailable, pin, unpin, ban, unban, "
        "set_reference.")


class MovePublic(BaseModel):
    """A (pharmacist, period, stream) whose placement differs (null: none)."""

    pharmacist: str
    period: str
    stream: str
    before: str | None
    after: str | None
    kind: Literal["moved", "placed", "unplaced"]


class DeltaPublic(BaseModel):
    """A value before and after, and after minus before (null when either is missing)."""

    before: int | float | None
    after: int | float | None
    delta: int | float | None


class StatusPair(BaseModel):
    """The status of each result."""

    before: str
    after: str


class DiffPublic(BaseModel):
    """What changed from one job's result to another's."""

    before: str = Field(description="Id of the first job.")
    after: str = Field(description="Id of the second job.")
    status: StatusPair
    moves: list[MovePublic] = Field(description="Every slot whose placement differs.")
    moved_pharmacists: list[str]
    objective: dict[str, DeltaPublic] = Field(description="The objective and its parts.")
    kpis: dict[str, DeltaPublic] = Field(description="Every numeric KPI.")
    plan_quality: DeltaPublic | None = Field(
        None, description="The objective without the change penalty (weights.change times "
        "the changed slots): what a re-plan is worth as a plan. Null sides: no solution, or "
        "a result that does not record it.")


async def scenario_round(request: Request, store: Store, tenant: str, round_pk: str,
                         body: ScenarioCreate, request_hash: str) -> str:
    """Apply the overrides to the stored round (in an intake worker) and store the result;
    its id. Raises like :meth:`service.intake.Intake.prepare`."""
    record = await run_in_threadpool(get_round_or_404, store, tenant, round_pk,
                                     document=True)
    overrides = [o.model_dump(mode="json", exclude_unset=True) for o in body.overrides]
    intake, settings = request.app.state.intake, request.app.state.settings
    async with intake.turn(tenant, settings):
        prepared = await intake.prepare(settings, apply_scenario, record.document or "{}",
                                        body.name, overrides)
    stored = await store_prepared(store, tenant, prepared, scenario=body.name,
                                  base_round=round_pk, overrides=len(body.overrides),
                                  request=request_hash)
    return stored.id


@router.post(
    "/rounds/{round_pk}/scenarios", status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic, summary="Solve a what-if of a round (queue a job)",
    responses=errors(400, 401, 404, 413, 422, 429, 503),
)
async def solve_scenario(
    round_pk: str, body: ScenarioCreate, request: Request, response: Response,
    store: StoreDep, tenant: TenantDep,
    idempotency_key: Annotated[str | None, Header(
        min_length=1, max_length=200,
        description="Retry-safe submission: the same key with the same round and body "
        "returns the same job (and stores no second scenario round); with anything "
        "different, 422.")] = None,
) -> JobPublic:
    """Apply the overrides to the round, store the scenario's round and queue its solve;
    202 with the job (its ``round`` is the scenario's round). 422 lists every problem, each
    naming the override at fault (``overrides[#n]``); nothing is stored then. The overrides
    are applied in an intake worker process, never in the API process (413, 429 and 503 as
    for ``POST /v1/rounds``)."""
    request_hash = hashlib.sha256(json.dumps(
        {"base_round": round_pk, "scenario": body.model_dump(mode="json")},
        sort_keys=True).encode()).hexdigest()
    if idempotency_key is not None:
        replayed = await run_in_threadpool(_replay, store, tenant, idempotency_key,
                                           request_hash, response)
        if replayed is not None:
            return replayed
    try:
        scenario_pk = await scenario_round(request, store, tenant, round_pk, body,
                                           request_hash)
    except InvalidRoundError as exc:
        raise Invalid(exc) from None
    solve = SolveCreate(time_limit_s=body.time_limit_s, workers=body.workers, seed=body.seed)
    return await run_in_threadpool(_queue, scenario_pk, request, response, store, tenant,
                                   solve, idempotency_key, request_hash)


def _queue(scenario_pk: str, request: Request, response: Response, store: Store, tenant: str,
           solve: SolveCreate, idempotency_key: str | None, request_hash: str) -> JobPublic:
    try:
        # The same path as POST /rounds/{id}/solve: caps, limits, runner, metrics.
        return solve_round(round_pk=scenario_pk, request=request, response=response,
                           store=store, tenant=tenant, body=solve,
                           idempotency_key=idempotency_key)
    except HTTPException:
        store.delete_round(tenant, scenario_pk)  # no job (429, or a twin won): keep nothing
        if idempotency_key is not None:  # the same request sent twice at once: the twin's
            replayed = _replay(store, tenant, idempotency_key, request_hash, response)
            if replayed is not None:
                return replayed
        raise


def _replay(store: Store, tenant: str, key: str, request_hash: str, response: Response
            ) -> JobPublic | None:
    """The job an earlier scenario request with ``key`` made (None: no such request); 422
    when that request was a different one."""
    job = store.job_by_idempotency_key(tenant, key)
    if job is None:
        return None
    try:
        made_by = store.get_round(tenant, job.round_pk).summary.get("request")
    except NotFound:
        made_by = None
    if made_by != request_hash:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "this Idempotency-Key was used for a different request (another "
                            "round, overrides or parameters); use a new key for a new request")
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    response.headers["Idempotent-Replayed"] = "true"
    return JobPublic.of(job)


def _result_of(store: Store, tenant: str, job_id: str) -> tuple[JobRecord, str]:
    try:
        job, doc = store.get_result(tenant, job_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "job not found") from None
    if doc is None:
        detail = (f"job {job.id} is {job.state}; its result is not ready yet"
                  if job.state in ("queued", "running")
                  else f"job {job.id} is {job.state} without a result")
        raise HTTPException(status.HTTP_409_CONFLICT, detail)
    return job, doc


@router.get(
    "/jobs/{job_id}/diff/{other_job_id}", response_model=DiffPublic,
    summary="What changed between two jobs' results",
    responses={200: {"description": "The diff; plain text with `format=text`.",
                     "content": {"text/plain": {"schema": {"type": "string"}}}},
               **errors(401, 404, 409, 422)},
)
def diff_jobs(
    job_id: str, other_job_id: str, store: StoreDep, tenant: TenantDep,
    format: Annotated[Literal["json", "text"], Query(
        description="json, or text (a readable summary).")] = "json",
) -> Any:
    """Who moved (pharmacist, period, stream: before -> after) and the objective and KPI
    deltas, from ``job_id``'s result to ``other_job_id``'s. Both jobs must be the caller's
    (404 otherwise) and have a result (409 otherwise)."""
    first, doc_a = _result_of(store, tenant, job_id)
    second, doc_b = _result_of(store, tenant, other_job_id)
    found = diff(Result.from_dict(json.loads(doc_a)), Result.from_dict(json.loads(doc_b)),
                 labels=(first.id, second.id))
    if format == "text":
        return PlainTextResponse(found.to_text())
    return DiffPublic.model_validate(found.to_dict())
