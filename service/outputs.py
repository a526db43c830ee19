"""A stored result as a planner reads it: the HTML report and the planner workbook.

The same library calls as ``matcher report``: :func:`matcher.report.prepare` (the result
checked against its round, the baseline, the explanations) and
:func:`matcher.report.render_html` for the page; :func:`matcher.planner_workbook.
workbook_bytes` (with the baseline) for the workbook. The report's explanations re-solve,
so :func:`report_html` runs in the service's explanation pool (a spawned process: the API
process never loads the solver) through :func:`job_report`; a report is rendered once per
job and kept in memory (results never change once written).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool

from service.store import JobRecord, Store

__all__ = ["REPORT_HEADERS", "job_plan", "job_report", "plan_bytes", "report_html"]

REPORT_HEADERS = {
    "Cache-Control": "private, no-store",
    # the page is self-contained: inline styles and embedded images, no script, no link out
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src data:; frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""Headers of a served report (it names pharmacists: never cached by a shared cache)."""

_KEEP = 16
_reports: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def report_html(round_json: str, result_json: str, explain_s: float, max_resolves: int) -> str:
    """The HTML report of a stored result (runs in a spawned pool process)."""
    # local: runs in the explanation worker; the API process never loads OR-Tools
    from matcher.report import prepare, render_html
    from matcher.result import Result
    from matcher.validation import parse_round

    rnd = parse_round(json.loads(round_json))
    result = Result.from_dict(json.loads(result_json))
    built = prepare(rnd, result, explain_seconds=explain_s, max_resolves=max_resolves,
                    explain_workers=1)
    return render_html(built)


def plan_bytes(round_json: str, result_json: str) -> bytes:
    """The planner workbook (.xlsx) of a stored result, with the baseline's KPIs."""
    # local: the workbook's libraries load only when one is asked for
    from matcher.baseline import serial_priority
    from matcher.planner_workbook import workbook_bytes
    from matcher.result import Result
    from matcher.validation import parse_round

    rnd = parse_round(json.loads(round_json))
    result = Result.from_dict(json.loads(result_json))
    baseline = serial_priority(rnd) if result.has_solution else None
    return workbook_bytes(rnd, result, baseline=baseline)


def _no_result(job: JobRecord) -> HTTPException:
    if job.state in ("queued", "running"):
        detail = f"the job is {job.state}; its result is not ready yet"
    else:
        detail = f"the job is {job.state} without a result"
    return HTTPException(status.HTTP_409_CONFLICT, detail)


async def _documents(store: Store, tenant: str, job_id: str) -> tuple[JobRecord, str, str]:
    job, doc = await run_in_threadpool(store.get_result, tenant, job_id)
    if doc is None:
        raise _no_result(job)
    round_doc = await run_in_threadpool(store.round_document_of, job.id)
    return job, round_doc, doc


async def job_report(request: Request, store: Store, tenant: str, job_id: str) -> str:
    """The report of one of the tenant's jobs (``NotFound``; 409 without a result)."""
    await run_in_threadpool(store.get_job, tenant, job_id)  # the tenant's, or NotFound
    with _lock:
        cached = _reports.get(job_id)
    if cached is not None:
        return cached
    job, round_doc, doc = await _documents(store, tenant, job_id)
    html: str = await request.app.state.explainers.for_request(
        report_html, round_doc, doc, request.app.state.settings, "the report could not be made")
    with _lock:
        _reports[job.id] = html
        while len(_reports) > _KEEP:
            _reports.popitem(last=False)
    return html


async def job_plan(request: Request, store: Store, tenant: str, job_id: str
                   ) -> tuple[JobRecord, bytes]:
    """The planner workbook of one of the tenant's jobs (``NotFound``; 409 without one),
    made in an intake worker (:meth:`service.intake.Intake.render`)."""
    job, round_doc, doc = await _documents(store, tenant, job_id)
    data: Any = await request.app.state.intake.render(request.app.state.settings, plan_bytes,
                                                       round_doc, doc)
    return job, bytes(data)
