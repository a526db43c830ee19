"""Liveness (`/health`), readiness (`/ready`), both anonymous; Prometheus metrics (a key)."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from matcher import __version__
from service.auth import metrics_reader
from service.routes import errors
from service.schemas import HealthPublic, ReadyPublic

router = APIRouter(tags=["health"])
log = logging.getLogger("service.health")

_PROBE = f"ready-{uuid.uuid4().hex[:16]}"
"""This process's probe row (its own: instances sharing a database never read another's)."""


@router.get("/health", response_model=HealthPublic, summary="Is the service up",
            responses={503: {"model": HealthPublic, "description": "The database does not "
                             "answer."}})
async def health(request: Request) -> JSONResponse:
    """200 when the service and its database answer, else 503. No key needed."""

    try:
        await run_in_threadpool(request.app.state.store.ping)
    except Exception as exc:
        rid = uuid.uuid4().hex
        log.warning("database unavailable", extra={"request_id": rid,
                                                    "error_type": type(exc).__name__})
        body = HealthPublic(status="unavailable", database="unavailable", version=__version__,
                            request_id=rid)
        return JSONResponse(body.model_dump(), status_code=503, headers={"X-Request-ID": rid})
    return JSONResponse(HealthPublic(status="ok", database="ok",
                                     version=__version__).model_dump(exclude_none=True))


def _readiness(request: Request) -> dict[str, str]:
    """Each readiness check: "ok", or what failed (no exception text: it may quote data)."""
    app = request.app
    settings = app.state.settings
    store = app.state.store
    checks: dict[str, str] = {}
    try:
        store.probe(_PROBE)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = (f"a write and read of the probe row failed "
                              f"({type(exc).__name__})")
    if store.sqlite:
        where = Path(sa.make_url(store.url).database or ".").resolve().parent
        try:
            free_mb = shutil.disk_usage(where).free // 2**20
            checks["disk"] = ("ok" if free_mb >= settings.min_free_disk_mb else
                              f"{free_mb} MB free where the database lives, below "
                              f"MIN_FREE_DISK_MB={settings.min_free_disk_mb}")
        except OSError as exc:
            checks["disk"] = f"free space could not be read ({type(exc).__name__})"
    runner = app.state.runner
    if runner is not None:
        checks["job_runner"] = "ok" if runner.alive() else "the job runner is not running"
    # A dead explanation worker is replaced by the next request that needs it: not a reason
    # to take the instance out of service, but said.
    checks["explainer"] = ("ok" if app.state.explainers.alive() else
                           "ok (its worker has stopped; the next explanation starts a new one)")
    checks["intake"] = ("ok" if app.state.intake.alive() else
                        "ok (a worker has stopped; the next upload starts a new one)")
    return checks


@router.get("/ready", response_model=ReadyPublic, summary="Can the service take work",
            responses={503: {"model": ReadyPublic, "description": "A check failed: the "
                             "body says which (and carries a request id)."}})
async def ready(request: Request) -> JSONResponse:
    """Readiness: 200 when a probe row can be written and read back, there is free disk
    above ``MIN_FREE_DISK_MB`` where the SQLite database lives, and the job runner runs;
    else 503 naming what failed. No key needed. ``/v1/health`` is liveness only."""
    checks = await run_in_threadpool(_readiness, request)
    if all(v.startswith("ok") for v in checks.values()):
        return JSONResponse(ReadyPublic(status="ready", checks=checks).model_dump(
            exclude_none=True))
    rid = uuid.uuid4().hex
    log.warning("not ready", extra={"request_id": rid, "checks": checks})
    return JSONResponse(ReadyPublic(status="unready", checks=checks, request_id=rid)
                        .model_dump(), status_code=503, headers={"X-Request-ID": rid})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Metrics in the Prometheus text format."},
                       **errors(401, 403)})
def metrics(request: Request, _reader: Annotated[str, Depends(metrics_reader)]) -> Response:
    """Request counts and latencies, jobs by state, solve processes running."""
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
