"""Health (anonymous) and Prometheus metrics (any valid key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from matcher import __version__
from service.auth import TenantDep
from service.routes import errors
from service.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic, summary="Is the service up",
            responses={503: {"model": HealthPublic, "description": "The database does not "
                             "answer."}})
async def health(request: Request) -> JSONResponse:
    """200 when the service and its database answer, else 503. No key needed."""

    try:
        await run_in_threadpool(request.app.state.store.ping)
    except Exception:
        body = HealthPublic(status="unavailable", database="unavailable", version=__version__)
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(HealthPublic(status="ok", database="ok",
                                     version=__version__).model_dump())


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Metrics in the Prometheus text format."},
                       **errors(401)})
def metrics(request: Request, _tenant: TenantDep) -> Response:
    """Request counts and latencies, jobs by state, solve processes running."""
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
