"""The workspace's pages: server-rendered HTML forms over the same store, job runner and
library calls as the ``/v1`` API (the route functions of :mod:`service.routes` are called
as they are: one implementation of submitting, solving, cancelling, scenarios and diffs).

Every page needs a session (:mod:`service.web.sessions`) and shows only the session's
tenant's rounds and jobs: another tenant's id is the same 404 page as an id that does not
exist. Every POST carries the session's CSRF token. Each step works without JavaScript;
``static/app/progress.js`` only makes the job page live (Server-Sent Events).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from matcher.errors import InvalidRoundError, Problem
from matcher.formats.results import result_bytes
from matcher.formats.template import template_bytes
from matcher.result import Result
from matcher.validation import parse_round
from matcher.whatif import diff, parse_overrides
from service.intake import RoundTooLarge, store_prepared
from service.intake_work import apply_replan, read_upload
from service.outputs import REPORT_HEADERS, job_plan, job_report
from service.routes import jobs as job_routes
from service.routes import scenarios as scenario_routes
from service.routes.rounds import XLSX, Invalid
from service.schemas import JobPublic, SolveCreate
from service.settings import Settings
from service.store import JobRecord, NotFound, RoundRecord, Store
from service.web.map import boundary_paths, placement_map
from service.web.render import Page, render
from service.web.sessions import COOKIE, PRE_COOKIE, Session, SessionStore

router = APIRouter(include_in_schema=False)

_UPLOADS = {".json": "json", ".xlsx": "xlsx", ".zip": "zip"}


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page."""


class PageNotFound(Exception):
    """No such round or job for this tenant: the 404 page."""


class CsrfRefused(Exception):
    """A form without its CSRF token: 403."""


def sessions(request: Request) -> SessionStore:
    """The app's session store."""
    found: SessionStore = request.app.state.web_sessions
    return found


def store_of(request: Request) -> Store:
    """The app's store."""
    found: Store = request.app.state.store
    return found


def signed_in(request: Request) -> Session:
    """The request's live session; :class:`SignInNeeded` otherwise."""
    session = sessions(request).session(request.cookies.get(COOKIE))
    if session is None:
        raise SignInNeeded
    request.state.tenant = session.tenant
    return session


async def checked_form(request: Request, session: Session) -> FormData:
    """The posted form, once its CSRF token is the session's; :class:`CsrfRefused` else."""
    limit = request.app.state.settings.max_body_bytes
    form = await request.form(max_files=2, max_fields=40, max_part_size=limit)
    token = form.get("csrf")
    if not SessionStore.same(token if isinstance(token, str) else None, session.csrf):
        raise CsrfRefused
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _seconds(form: FormData, request: Request) -> float:
    settings: Settings = request.app.state.settings
    try:
        value = float(_text(form, "time_limit_s") or settings.default_time_limit_s)
    except ValueError:
        value = settings.default_time_limit_s
    return max(1.0, min(value, settings.max_time_limit_s))


def _round(store: Store, tenant: str, round_pk: str, *, document: bool = False
           ) -> RoundRecord:
    try:
        return store.get_round(tenant, round_pk, document=document)
    except NotFound:
        raise PageNotFound from None


def _job(store: Store, tenant: str, job_id: str) -> JobRecord:
    try:
        return store.get_job(tenant, job_id)
    except NotFound:
        raise PageNotFound from None


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


@dataclass(frozen=True)
class ProblemRow:
    """One row of a problems table: where (sheet or file, row, column), what, what to do."""

    sheet: str
    row: str
    column: str
    problem: str
    todo: str


def problem_rows(problems: list[Problem] | list[dict[str, Any]]) -> list[ProblemRow]:
    """Problems as a planner acts on them (sheet, row as Excel shows it, column)."""
    from matcher.formats.guide import column_help  # local: only for a failed upload

    rows = []
    for p in problems:
        d = p.to_dict() if isinstance(p, Problem) else p
        sheet = d.get("source") or d.get("list") or "round"
        column = d.get("column") or d.get("field") or ""
        todo = ""
        if d.get("list") and column:
            try:
                todo = column_help(str(d["list"]), str(column))
            except (KeyError, AttributeError):
                todo = ""
        where = "" if d.get("row") is not None else d.get("where", "")
        rows.append(ProblemRow(
            sheet=str(sheet), row="" if d.get("row") is None else str(d["row"]),
            column=str(column), problem=str(d.get("message", "")) + (
                f" ({where})" if where and where != sheet else ""),
            todo=todo or "Correct it in your file and upload the file again."))
    return rows


# ---- sign in and out ---------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """The rounds when signed in, else the sign-in page."""
    signed = sessions(request).session(request.cookies.get(COOKIE))
    return _redirect("/rounds" if signed else "/sign-in")


def _sign_in_page(request: Request, *, error: str | None = None, code: int = 200
                  ) -> Response:
    import secrets  # local: only the sign-in page makes a nonce

    nonce = secrets.token_urlsafe(16)
    page = Page("Sign in", csrf=sessions(request).pre_csrf(nonce))
    response = render(request, "sign_in.html.j2", page, status_code=code, error=error)
    response.set_cookie(PRE_COOKIE, nonce, max_age=3600, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/sign-in")
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    """The sign-in form: one field, the tenant's API key."""
    return _sign_in_page(request)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    """Start a session from an API key; back to the form with an error otherwise."""
    form = await request.form(max_files=0, max_fields=4)
    nonce = request.cookies.get(PRE_COOKIE) or ""
    token = form.get("csrf")
    if not nonce or not SessionStore.same(token if isinstance(token, str) else None,
                                         sessions(request).pre_csrf(nonce)):
        raise CsrfRefused
    started = await run_in_threadpool(sessions(request).sign_in, _text(form, "api_key"))
    if started is None:
        return _sign_in_page(request, code=401, error="That API key is not valid, or it "
                             "has been revoked. Check you copied all of it, or ask the "
                             "person who runs the service for a new one.")
    response = _redirect("/rounds")
    response.set_cookie(COOKIE, sessions(request).cookie_value(started), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    response.delete_cookie(PRE_COOKIE, path="/sign-in", httponly=True, samesite="strict")
    return response


@router.post("/sign-out", response_class=HTMLResponse)
async def sign_out(request: Request) -> Response:
    """End the session: its cookie is refused from now on."""
    session = signed_in(request)
    await checked_form(request, session)
    await run_in_threadpool(sessions(request).end, session.token)
    response = _redirect("/sign-in")
    response.delete_cookie(COOKIE, path="/")
    return response


# ---- rounds ------------------------------------------------------------------------------


def _rounds_page(request: Request, session: Session, *, code: int = 200,
                 problems: list[ProblemRow] | None = None,
                 warnings: list[ProblemRow] | None = None, error: str | None = None,
                 upload_name: str | None = None) -> Response:
    store = store_of(request)
    records, count = store.list_rounds(session.tenant, limit=100, offset=0)
    rows = []
    for rec in records:
        latest, _ = store.list_jobs(session.tenant, limit=1, offset=0, round_pk=rec.id)
        rows.append({"round": rec, "latest": latest[0] if latest else None})
    page = Page("Rounds", session=session, csrf=session.csrf)
    return render(request, "rounds.html.j2", page, status_code=code, rows=rows, count=count,
                  problems=problems, warnings=warnings, error=error, upload_name=upload_name)


@router.get("/rounds", response_class=HTMLResponse)
def rounds_page(request: Request) -> Response:
    """The tenant's rounds (newest first, each with its latest job), the upload form and
    the planner's template."""
    return _rounds_page(request, signed_in(request))


@router.post("/rounds", response_class=HTMLResponse)
async def upload_round(request: Request) -> Response:
    """Validate and store an uploaded round; every problem at once when it is invalid
    (nothing is stored then)."""
    session = signed_in(request)
    form = await checked_form(request, session)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _rounds_page(request, session, code=422, error="Choose a file to upload: "
                            "an Excel workbook (.xlsx), a zip of CSV files (.zip) or a "
                            "JSON round (.json).")
    name = PurePath(upload.filename).name[:100]
    fmt = _UPLOADS.get(PurePath(name).suffix.lower())
    if fmt is None:
        return _rounds_page(request, session, code=422, upload_name=name, error=(
            f"{name} is not a round file: upload an Excel workbook (.xlsx), a zip of CSV "
            "files (.zip) or a JSON round (.json)."))
    settings = request.app.state.settings
    intake = request.app.state.intake
    try:
        async with intake.turn(session.tenant, settings):
            data = await upload.read()
            prepared = await intake.prepare(settings, read_upload, data, fmt, name,
                                            settings.postcodes)
    except InvalidRoundError as exc:
        errors = [p for p in exc.problems if p.severity == "error"]
        warnings = [p for p in exc.problems if p.severity != "error"]
        return _rounds_page(request, session, code=422, upload_name=name,
                            problems=problem_rows(errors), warnings=problem_rows(warnings))
    except RoundTooLarge as exc:
        return _rounds_page(request, session, code=413, upload_name=name, error=exc.detail)
    except HTTPException as exc:
        return _rounds_page(request, session, code=exc.status_code, upload_name=name,
                            error=_http_error(exc))
    record = await store_prepared(store_of(request), session.tenant, prepared)
    request.app.state.metrics.rounds_submitted.inc()
    return _redirect(f"/rounds/{record.id}")


@router.get("/template.xlsx")
def planner_template(request: Request) -> Response:
    """The empty planner's workbook (``matcher template``)."""
    signed_in(request)
    return Response(template_bytes(), media_type=XLSX, headers={
        "Content-Disposition": 'attachment; filename="round-template.xlsx"'})


def _round_context(store: Store, session: Session, round_pk: str) -> dict[str, Any]:
    record = _round(store, session.tenant, round_pk, document=True)
    jobs, _ = store.list_jobs(session.tenant, limit=50, offset=0, round_pk=record.id)
    doc = json.loads(record.document or "{}")
    return {
        "round": record, "jobs": jobs, "warnings": problem_rows(record.warnings),
        "periods": [p["id"] for p in doc.get("periods", [])],
        "placements": sorted(p["id"] for p in doc.get("placements", [])),
        "pharmacists": sorted(p["id"] for p in doc.get("pharmacists", [])),
        "weights": sorted((doc.get("weights") or {}).items()),
    }


def _round_page(request: Request, session: Session, round_pk: str, *, code: int = 200,
                error: str | None = None) -> Response:
    ctx = _round_context(store_of(request), session, round_pk)
    page = Page(f"Round {ctx['round'].round_id}", session=session, csrf=session.csrf)
    return render(request, "round.html.j2", page, status_code=code, error=error,
                  submission=str(uuid.uuid4()), **ctx)


@router.get("/rounds/{round_pk}", response_class=HTMLResponse)
def round_page(round_pk: str, request: Request) -> Response:
    """A round: its summary and warnings, the Solve form and its jobs."""
    return _round_page(request, signed_in(request), round_pk)


def _http_error(exc: HTTPException) -> str:
    return str(exc.detail)


@router.post("/rounds/{round_pk}/solve", response_class=HTMLResponse)
async def solve(round_pk: str, request: Request) -> Response:
    """Queue a solve (``POST /v1/rounds/{id}/solve``'s own function) and go to its job."""
    session = signed_in(request)
    form = await checked_form(request, session)
    store = store_of(request)
    _round(store, session.tenant, round_pk)
    body = SolveCreate(time_limit_s=_seconds(form, request))
    # the form's own id: a double click (or a resent form) queues one job, not two
    submission = _text(form, "submission")[:64]
    try:
        job = await run_in_threadpool(
            lambda: job_routes.solve_round(round_pk=round_pk, request=request,
                                           response=Response(), store=store,
                                           tenant=session.tenant, body=body,
                                           idempotency_key=f"web-{submission}"
                                           if submission else None))
    except HTTPException as exc:
        return _round_page(request, session, round_pk, code=exc.status_code,
                           error=_http_error(exc))
    return _redirect(f"/jobs/{job.id}")


# ---- jobs --------------------------------------------------------------------------------


def _result(store: Store, tenant: str, job_id: str) -> Result | None:
    _, doc = store.get_result(tenant, job_id)
    return None if doc is None else Result.from_dict(json.loads(doc))


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(job_id: str, request: Request) -> Response:
    """A job: live progress while it runs (Cancel keeps the best so far), then its result
    with the report, the downloads, and the what-if and re-plan forms."""
    session = signed_in(request)
    return _job_page(request, session, job_id)


def _job_page(request: Request, session: Session, job_id: str, *, code: int = 200,
              problems: list[ProblemRow] | None = None, error: str | None = None
              ) -> Response:
    store = store_of(request)
    job = _job(store, session.tenant, job_id)
    ctx = _round_context(store, session, job.round_pk)
    result = _result(store, session.tenant, job.id)
    base = request.query_params.get("base")
    if base:
        try:
            store.get_job(session.tenant, base)
        except NotFound:
            base = None
    page = Page(f"Job {job.id[:8]}", session=session, csrf=session.csrf)
    return render(request, "job.html.j2", page, status_code=code, job=JobPublic.of(job),
                  result=result, base=base, problems=problems, error=error, **ctx)


def followed_job(job_id: str, request: Request) -> tuple[Session, JobRecord]:
    """The session and the job an event stream follows, checked before the stream starts
    (so a missing session is a 401 and another tenant's job a 404, not a broken stream)."""
    session = signed_in(request)
    return session, _job(store_of(request), session.tenant, job_id)


async def followed_in_slot(
        followed: Annotated[tuple[Session, JobRecord], Depends(followed_job)],
        request: Request) -> AsyncIterator[tuple[Session, JobRecord]]:
    """:func:`followed_job`, holding a place among the session's tenant's open event
    streams for as long as the stream lasts: the API's own count
    (:func:`service.routes.jobs.stream_slot`, ``MAX_EVENT_STREAMS_PER_TENANT`` per process,
    web pages and API clients together); beyond it 429 before the stream starts (the page's
    script then refreshes the page instead)."""
    async with job_routes.stream_slot(request, followed[0].tenant):
        yield followed


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events(
        followed: Annotated[tuple[Session, JobRecord], Depends(followed_in_slot)],
        request: Request) -> AsyncIterable[ServerSentEvent]:
    """The job's progress as Server-Sent Events (``GET /v1/jobs/{id}/events``'s stream),
    counted with the tenant's API streams (429 beyond ``MAX_EVENT_STREAMS_PER_TENANT``)."""
    session, job = followed
    async for event in job_routes.job_events(job=job, request=request, store=store_of(request),
                                             tenant=session.tenant):
        yield event


@router.post("/jobs/{job_id}/cancel", response_class=HTMLResponse)
async def cancel(job_id: str, request: Request) -> Response:
    """Cancel (``DELETE /v1/jobs/{id}``'s own function): a running solve keeps its best
    allocation so far."""
    session = signed_in(request)
    await checked_form(request, session)
    store = store_of(request)
    job = await run_in_threadpool(_job, store, session.tenant, job_id)
    await run_in_threadpool(job_routes.cancel_job, job=job, request=request,
                            response=Response(), store=store, tenant=session.tenant)
    return _redirect(f"/jobs/{job.id}")


@router.get("/jobs/{job_id}/report", response_class=HTMLResponse)
async def report(job_id: str, request: Request) -> Response:
    """The HTML report (``matcher report``'s page)."""
    session = signed_in(request)
    try:
        html = await job_report(request, store_of(request), session.tenant, job_id)
    except NotFound:
        raise PageNotFound from None
    except HTTPException as exc:
        return _job_page(request, session, job_id, code=exc.status_code,
                         error=_http_error(exc))
    return HTMLResponse(html, headers=REPORT_HEADERS)


@router.get("/jobs/{job_id}/plan.xlsx")
async def plan(job_id: str, request: Request) -> Response:
    """The planner workbook (``matcher report``'s .xlsx)."""
    session = signed_in(request)
    try:
        job, data = await job_plan(request, store_of(request), session.tenant, job_id)
    except NotFound:
        raise PageNotFound from None
    except HTTPException as exc:
        return _job_page(request, session, job_id, code=exc.status_code,
                         error=_http_error(exc))
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="plan-{job.id[:8]}.xlsx"',
        "Cache-Control": "private, no-store"})


@router.get("/jobs/{job_id}/result.{fmt}")
def result_file(job_id: str, fmt: str, request: Request) -> Response:
    """The result as §5 JSON or CSV."""
    session = signed_in(request)
    if fmt not in ("json", "csv"):
        raise PageNotFound
    store = store_of(request)
    job = _job(store, session.tenant, job_id)
    result = _result(store, session.tenant, job.id)
    if result is None:
        return _job_page(request, session, job_id, code=409,
                         error="This job has no result yet.")
    media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    return Response(result_bytes(result, fmt), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="result-{job.id[:8]}.{fmt}"',
        "Cache-Control": "private, no-store"})


# ---- what-if and re-plan -----------------------------------------------------------------


def overrides_of(form: FormData) -> list[dict[str, Any]]:
    """The what-if form's changes as :mod:`matcher.whatif` overrides (empty fields: none)."""
    out: list[dict[str, Any]] = []
    placement, period = _text(form, "close_placement"), _text(form, "close_from")
    if placement:
        out.append({"op": "close_placement", "placement": placement,
                    **({"from_period": period} if period else {})})
    placement, capacity = _text(form, "resize_placement"), _text(form, "resize_capacity")
    if placement:
        resize: dict[str, Any] = {"op": "set_capacity", "placement": placement,
                                  "capacity": capacity}
        if _text(form, "resize_period"):
            resize["period"] = _text(form, "resize_period")
        out.append(resize)
    pharmacist = _text(form, "leave_pharmacist")
    if pharmacist:
        out.append({"op": "set_unavailable", "pharmacist": pharmacist,
                    "from_period": _text(form, "leave_from") or None})
    pharmacist, placement = _text(form, "pin_pharmacist"), _text(form, "pin_placement")
    if pharmacist or placement:
        out.append({"op": "pin", "pharmacist": pharmacist, "placement": placement,
                    "period": _text(form, "pin_period")})
    pharmacist, placement = _text(form, "ban_pharmacist"), _text(form, "ban_placement")
    if pharmacist or placement:
        ban: dict[str, Any] = {"op": "ban", "pharmacist": pharmacist, "placement": placement}
        if _text(form, "ban_period"):
            ban["period"] = _text(form, "ban_period")
        out.append(ban)
    weight, value = _text(form, "weight_name"), _text(form, "weight_value")
    if weight:
        out.append({"op": "set_weights", "weights": {weight: value}})
    return out


def _problems_of(exc: InvalidRoundError | Invalid | ValidationError) -> list[ProblemRow]:
    if isinstance(exc, ValidationError):
        return problem_rows([{"message": e["msg"], "list": "changes",
                              "where": ".".join(str(x) for x in e["loc"])}
                             for e in exc.errors()])
    return problem_rows(list(exc.problems))


_REFUSALS = (InvalidRoundError, Invalid, ValidationError, RoundTooLarge, HTTPException)
"""What a what-if or a re-plan can be refused with (every problem, a limit, a status)."""


def _refused(request: Request, session: Session, job_id: str, exc: Exception) -> Response:
    """The job page again, saying why its what-if or re-plan was refused: 422 with every
    problem, 413 for a round above the limits, else the status the route answered."""
    if isinstance(exc, InvalidRoundError | Invalid | ValidationError):
        return _job_page(request, session, job_id, code=422, problems=_problems_of(exc))
    if isinstance(exc, RoundTooLarge):
        return _job_page(request, session, job_id, code=413, error=exc.detail)
    assert isinstance(exc, HTTPException)
    return _job_page(request, session, job_id, code=exc.status_code, error=_http_error(exc))


@router.post("/jobs/{job_id}/scenario", response_class=HTMLResponse)
async def scenario(job_id: str, request: Request) -> Response:
    """Solve a what-if of the job's round (``POST /v1/rounds/{id}/scenarios``'s own
    function), then compare it with this job."""
    session = signed_in(request)
    form = await checked_form(request, session)
    store = store_of(request)
    job = await run_in_threadpool(_job, store, session.tenant, job_id)
    overrides = overrides_of(form)
    if not overrides:
        return _job_page(request, session, job_id, code=422,
                         error="Fill in at least one change for the what-if.")
    name = _text(form, "name") or "what-if"
    try:
        body = scenario_routes.ScenarioCreate(
            name=name[:100], overrides=list(parse_overrides(overrides)),
            time_limit_s=_seconds(form, request))
        created = await scenario_routes.solve_scenario(
            round_pk=job.round_pk, body=body, request=request, response=Response(),
            store=store, tenant=session.tenant, idempotency_key=None)
    except _REFUSALS as exc:
        return _refused(request, session, job_id, exc)
    return _redirect(f"/jobs/{created.id}?base={job.id}")


async def _replan_round(request: Request, store: Store, tenant: str, job: JobRecord,
                        from_period: str, overrides: list[dict[str, Any]], name: str) -> str:
    """Store the re-plan's round (the job's round with the changes, its result as the
    plan in force, the periods before ``from_period`` kept; made in an intake worker); its
    id."""
    _, doc = await run_in_threadpool(store.get_result, tenant, job.id)
    if doc is None:
        raise InvalidRoundError([Problem("this job has no result to re-plan from",
                                         field="job", code="no_result")])
    document = await run_in_threadpool(store.round_document_of, job.id)
    intake, settings = request.app.state.intake, request.app.state.settings
    async with intake.turn(tenant, settings):
        prepared = await intake.prepare(settings, apply_replan, document, doc, name,
                                        overrides, from_period)
    stored = await store_prepared(store, tenant, prepared, scenario=name,
                                  base_round=job.round_pk, replan_from=from_period,
                                  base_job=job.id, overrides=len(overrides))
    return stored.id


@router.post("/jobs/{job_id}/replan", response_class=HTMLResponse)
async def replan(job_id: str, request: Request) -> Response:
    """Re-plan from a period with the what-if's changes: the periods before it kept
    exactly as this job's result serves them, every slot moved charged
    (:func:`matcher.whatif.replan_round`); then compare with this job."""
    session = signed_in(request)
    form = await checked_form(request, session)
    store = store_of(request)
    job = await run_in_threadpool(_job, store, session.tenant, job_id)
    from_period = _text(form, "replan_from")
    name = (f"{_text(form, 'name') or 'no change'}, re-plan from {from_period}")[:100]
    try:
        round_pk = await _replan_round(request, store, session.tenant, job, from_period,
                                       overrides_of(form), name)
    except _REFUSALS as exc:
        return _refused(request, session, job_id, exc)
    body = SolveCreate(time_limit_s=_seconds(form, request))
    try:
        created = await run_in_threadpool(
            lambda: job_routes.solve_round(round_pk=round_pk, request=request,
                                           response=Response(), store=store,
                                           tenant=session.tenant, body=body,
                                           idempotency_key=None))
    except HTTPException as exc:
        store.delete_round(session.tenant, round_pk)  # no job (429): keep nothing
        return _job_page(request, session, job_id, code=exc.status_code,
                         error=_http_error(exc))
    return _redirect(f"/jobs/{created.id}?base={job.id}")


@router.get("/compare/{base_id}/{other_id}", response_class=HTMLResponse)
def compare(base_id: str, other_id: str, request: Request) -> Response:
    """Two jobs' results side by side: who moved, plan quality (the objective without the
    change penalty) and every KPI before and after (:func:`matcher.whatif.diff`)."""
    session = signed_in(request)
    store = store_of(request)
    first = _job(store, session.tenant, base_id)
    second = _job(store, session.tenant, other_id)
    before = _result(store, session.tenant, first.id)
    after = _result(store, session.tenant, second.id)
    found = None
    if before is not None and after is not None:
        rnd = parse_round(json.loads(store.round_document_of(second.id)))
        found = diff(before, after, labels=("base", "change"), round=rnd)
    page = Page("Compare results", session=session, csrf=session.csrf)
    return render(request, "compare.html.j2", page, first=JobPublic.of(first),
                  second=JobPublic.of(second), diff=found,
                  base_summary=store.get_round(session.tenant, first.round_pk).summary,
                  other_summary=store.get_round(session.tenant, second.round_pk).summary)


# ---- the map -----------------------------------------------------------------------------


def _map_page(request: Request, session: Session, job_id: str,
              geojson: bytes | None = None) -> Response:
    store = store_of(request)
    job = _job(store, session.tenant, job_id)
    rnd = parse_round(json.loads(store.round_document_of(job.id)))
    result = _result(store, session.tenant, job.id)
    boundary, error = ([], None) if geojson is None else boundary_paths(geojson)
    svg, legend = placement_map(rnd, result, boundary)
    page = Page(f"Map of round {rnd.round.id}", session=session, csrf=session.csrf)
    return render(request, "map.html.j2", page, status_code=422 if error else 200, job=job,
                  svg=svg, legend=legend, error=error, has_result=result is not None)


@router.get("/jobs/{job_id}/map", response_class=HTMLResponse)
def map_page(job_id: str, request: Request) -> Response:
    """The placements on their coordinates, coloured by the share of seats filled."""
    return _map_page(request, signed_in(request), job_id)


@router.post("/jobs/{job_id}/map", response_class=HTMLResponse)
async def map_with_boundary(job_id: str, request: Request) -> Response:
    """The map with the planner's boundary (a GeoJSON file, drawn, not stored)."""
    session = signed_in(request)
    form = await checked_form(request, session)
    upload = form.get("boundary")
    data = await upload.read() if isinstance(upload, UploadFile) else b""
    return await run_in_threadpool(_map_page, request, session, job_id, data)
