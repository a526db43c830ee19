"""A job's result as a planner reads it: the HTML report and the planner workbook
(``matcher report``'s ``.html`` and ``.xlsx``; see :mod:`service.outputs`)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse

from service.auth import StoreDep, TenantDep
from service.outputs import REPORT_HEADERS, job_plan, job_report
from service.routes import errors
from service.routes.rounds import XLSX
from service.store import NotFound

router = APIRouter(tags=["jobs"])


@router.get(
    "/jobs/{job_id}/report", response_class=HTMLResponse,
    summary="The HTML report of a job's result",
    responses={200: {"description": "One self-contained HTML page (the same as `matcher "
                     "report --out report.html`).",
                     "content": {"text/html": {"schema": {"type": "string"}}}},
               **errors(401, 404, 409, 422, 503, json_only=True)},
)
async def job_report_page(job_id: str, request: Request, store: StoreDep, tenant: TenantDep
                          ) -> HTMLResponse:
    """KPIs against the baseline, fill by hard-to-recruit level, place and sector, the
    map, timelines, every empty slot with its reason and the explanations. Made once per
    job (the explanations re-solve within the service's explanation budget). 409 while
    the job has no result. The page names pharmacists: it is personal data."""
    try:
        html = await job_report(request, store, tenant, job_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "job not found") from None
    return HTMLResponse(html, headers=REPORT_HEADERS)


@router.get(
    "/jobs/{job_id}/plan", response_class=Response,
    summary="The planner workbook of a job's result",
    responses={200: {"description": "The planner workbook (the same as `matcher report "
                     "--out plan.xlsx`): Summary, By pharmacist, Rotations, By placement, "
                     "By organisation, Unfilled, Unassigned, KPIs.",
                     "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}},
               **errors(401, 404, 409, 422, 503, json_only=True)},
)
async def job_plan_workbook(job_id: str, request: Request, store: StoreDep,
                            tenant: TenantDep) -> Response:
    """The rotations by pharmacist and by placement, the unfilled seats, the unassigned
    slots with reasons and every KPI beside the baseline's. 409 while the job has no
    result."""
    try:
        job, data = await job_plan(request, store, tenant, job_id)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "job not found") from None
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="plan-{job.id}.xlsx"',
        "Cache-Control": "private, no-store"})
