"""Solve jobs: submit, list, read, follow (SSE), result, explanation, cancel."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent

from matcher.formats.results import result_bytes
from matcher.result import Result
from service.auth import StoreDep, TenantDep
from service.jobs import explain_document
from service.routes import errors
from service.routes.rounds import XLSX
from service.schemas import (
    ExplanationPublic,
    JobPublic,
    JobsPublic,
    JobState,
    ResultPublic,
    SolveCreate,
)
from service.store import IdempotencyConflict, JobRecord, NotFound, TooManyJobs

router = APIRouter(tags=["jobs"])


def job_or_404(job_id: str, store: StoreDep, tenant: TenantDep) -> JobRecord:
    """The tenant's job named in the path; 404 otherwise."""
    try:
        return store.get_job(tenant, job_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "job not found") from None


JobDep = Annotated[JobRecord, Depends(job_or_404)]


@router.post(
    "/rounds/{round_pk}/solve", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic,
    summary="Solve a round (queue a job)", responses=errors(400, 401, 404, 413, 422, 429),
)
def solve_round(
    round_pk: str, request: Request, response: Response, store: StoreDep, tenant: TenantDep,
    body: SolveCreate | None = None,
    idempotency_key: Annotated[str | None, Header(
        min_length=1, max_length=200,
        description="Retry-safe submission: the same key with the same body returns the "
        "same job; with a different body, 422.")] = None,
) -> JobPublic:
    """Queue a solve; 202 with the job. Time limit and workers are capped by the service."""
    settings = request.app.state.settings
    body = body or SolveCreate()
    time_limit = min(body.time_limit_s or settings.default_time_limit_s,
                     settings.max_time_limit_s)
    workers = min(body.workers or settings.max_workers, settings.max_workers)
    try:
        job, created = store.submit_job(
            tenant, round_pk, time_limit_s=time_limit, workers=workers, seed=body.seed,
            max_attempts=settings.max_attempts,
            max_active=settings.max_active_jobs_per_tenant, idempotency_key=idempotency_key)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "round not found") from None
    except TooManyJobs as exc:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many jobs: {exc}; wait for some to finish or cancel them",
                            headers={"Retry-After": "5"}) from None
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if created:
        request.app.state.metrics.jobs_submitted.inc()
        runner = request.app.state.runner
        if runner is not None:
            runner.wake()
    else:
        response.headers["Idempotent-Replayed"] = "true"
    return JobPublic.of(job)


@router.get("/jobs", response_model=JobsPublic, summary="List jobs", responses=errors(401, 422))
def list_jobs(
    store: StoreDep, tenant: TenantDep,
    state: Annotated[JobState | None, Query(description="Only jobs in this state.")] = None,
    round: Annotated[str | None, Query(description="Only jobs of this round.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> JobsPublic:
    """The tenant's jobs, newest first."""
    rows, count = store.list_jobs(tenant, limit=limit, offset=offset, state=state,
                                  round_pk=round)
    return JobsPublic(data=[JobPublic.of(j) for j in rows], count=count)


@router.get("/jobs/{job_id}", response_model=JobPublic, summary="Read a job",
            responses=errors(401, 404, 422))
def read_job(job: JobDep) -> JobPublic:
    """State and progress (best objective, bound, gap, elapsed) of a job."""
    return JobPublic.of(job)


@asynccontextmanager
async def stream_slot(request: Request, tenant: str) -> AsyncIterator[None]:
    """A place among the tenant's open event streams while inside; 429 (HTTPException)
    beyond ``max_event_streams_per_tenant`` open in this process."""
    state = request.app.state
    if not hasattr(state, "event_streams"):
        state.event_streams = Counter()
    streams: Counter[str] = state.event_streams
    limit = state.settings.max_event_streams_per_tenant
    if streams[tenant] >= limit:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS,
                            f"too many event streams: this key's organisation already follows "
                            f"{limit} jobs at once; close one, or poll GET /v1/jobs/{{id}}",
                            headers={"Retry-After": "5"})
    streams[tenant] += 1
    try:
        yield
    finally:
        streams[tenant] -= 1
        if streams[tenant] <= 0:
            del streams[tenant]


async def event_stream_slot(request: Request, tenant: TenantDep) -> AsyncIterator[None]:
    """:func:`stream_slot` for as long as the stream lasts (until it ends or the client
    goes away)."""
    async with stream_slot(request, tenant):
        yield


@router.get(
    "/jobs/{job_id}/events", response_class=EventSourceResponse,
    summary="Follow a job (Server-Sent Events)",
    responses=errors(401, 404, 422, 429, json_only=True),
)
async def job_events(job: JobDep, request: Request, store: StoreDep, tenant: TenantDep,
                     _slot: Annotated[None, Depends(event_stream_slot)] = None
                     ) -> AsyncIterable[ServerSentEvent]:
    """``event: progress`` with the search's progress whenever it changes and ``event:
    state`` with the whole job whenever its state changes; the stream ends after the
    terminal state (succeeded, failed or cancelled)."""
    poll = request.app.state.settings.events_poll_s
    last_state: str | None = None
    last_seq: int | None = None
    current: JobRecord | None = job
    while current is not None:
        public = JobPublic.of(current)
        if current.progress_seq != last_seq and current.progress_seq > 0:
            last_seq = current.progress_seq
            yield ServerSentEvent(event="progress", id=f"{current.id}:{current.progress_seq}",
                                  data=public.progress.model_dump())
        if current.state != last_state:
            last_state = current.state
            yield ServerSentEvent(event="state", data=public.model_dump(mode="json"))
        if current.terminal:
            return
        await asyncio.sleep(poll)
        try:
            current = await run_in_threadpool(store.get_job, tenant, current.id)
        except NotFound:  # the round was deleted
            yield ServerSentEvent(event="deleted", data={"id": job.id})
            return


_RESULT_MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX}


@router.get(
    "/jobs/{job_id}/result", response_model=ResultPublic, summary="The result (spec §5)",
    responses={
        200: {"description": "The §5 result; CSV or a workbook with `format`.",
              "content": {"text/csv": {"schema": {"type": "string"}},
                          XLSX: {"schema": {"type": "string", "format": "binary"}}}},
        **errors(401, 404, 409, 422),
    },
)
def job_result(
    job: JobDep, store: StoreDep, tenant: TenantDep,
    format: Annotated[Literal["json", "csv", "xlsx"], Query(
        description="json (spec §5), csv (one row per assignment) or xlsx.")] = "json",
) -> Any:
    """The result: when the job succeeded, or was cancelled after finding a solution."""
    _, doc = store.get_result(tenant, job.id)
    if doc is None:
        raise HTTPException(status.HTTP_409_CONFLICT, _no_result(job))
    if format == "json":
        return JSONResponse(json.loads(doc))

    content = result_bytes(Result.from_dict(json.loads(doc)), format)
    return Response(content, media_type=_RESULT_MEDIA[format], headers={
        "Content-Disposition": f'attachment; filename="result-{job.id}.{format}"'})


def _no_result(job: JobRecord) -> str:
    if job.state in ("queued", "running"):
        return f"the job is {job.state}; its result is not ready yet"
    return f"the job is {job.state} without a result" + (f": {job.error}" if job.error else "")


@router.get(
    "/jobs/{job_id}/explain", response_model=ExplanationPublic,
    summary="Why each pharmacist got what they got",
    responses=errors(401, 404, 409, 422, 503),
)
async def job_explain(job: JobDep, request: Request, store: StoreDep, tenant: TenantDep
                      ) -> Any:
    """The explanation of the job's result (computed once, in its own process, then kept)."""
    cached = await run_in_threadpool(store.get_explanation, job.id)
    if cached is None:
        _, doc = await run_in_threadpool(store.get_result, tenant, job.id)
        if doc is None:
            raise HTTPException(status.HTTP_409_CONFLICT, _no_result(job))
        round_doc = await run_in_threadpool(store.round_document_of, job.id)
        cached = await request.app.state.explainers.for_request(
            explain_document, round_doc, doc, request.app.state.settings,
            "the result could not be explained")
        await run_in_threadpool(store.put_explanation, job.id, cached)
    return JSONResponse(json.loads(cached))


@router.delete(
    "/jobs/{job_id}", response_model=JobPublic, summary="Cancel a job",
    responses={202: {"model": JobPublic, "description": "Cancel requested: the solve stops "
                     "and keeps the best solution found so far."},
               **errors(401, 404, 422)},
)
def cancel_job(job: JobDep, request: Request, response: Response, store: StoreDep,
               tenant: TenantDep) -> JobPublic:
    """Cancel: a queued job at once (200); a running one stops its search and keeps the
    best solution found so far (202, then ``cancelled`` with a result). A finished job is
    returned unchanged (200)."""
    updated = store.request_cancel(tenant, job.id)
    if updated.state == "running":
        response.status_code = status.HTTP_202_ACCEPTED
        runner = request.app.state.runner
        if runner is not None:
            runner.wake()
    return JobPublic.of(updated)
