"""``create_app(settings)``: the FastAPI application, its routers, error handlers, lifespan.

Only assembly happens here. The store is opened (and migrated) when the app is made; the
job runner starts with the app's lifespan and stops with it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher import __version__
from service import web
from service.auth import KeyFirst
from service.explainers import Explainers
from service.intake import Intake, RoundTooLarge
from service.intake_work import warm_up
from service.jobs import JobRunner
from service.routes import health, jobs, outputs, rounds, scenarios, schema
from service.routes.rounds import Invalid
from service.schemas import ErrorPublic, ProblemPublic
from service.server_errors import ServerErrors
from service.settings import DEFAULT_DATA_DIR, Settings
from service.store import Store

__all__ = ["create_app"]

log = logging.getLogger("service.access")

DESCRIPTION = """Rotation rounds in, durable solve jobs, live progress, results and
explanations out. Every route but `/v1/health`, `/v1/ready` and the JSON Schemas of the
contract (`/v1/schema/round`, `/v1/schema/result`) needs `Authorization: Bearer KEY` (a key from
`matcher keys create TENANT`); every round, job and result belongs to the key's tenant, and
another tenant's id answers 404 like an id that does not exist."""


class Metrics:
    """The app's Prometheus metrics (a registry of its own, so apps never share one)."""

    def __init__(self, store: Store, runner_pids: Any,
                 runner_stats: dict[str, int] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("matcher_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("matcher_http_request_seconds", "HTTP request latency",
                                 ["method", "route"], registry=self.registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.rounds_submitted = Counter("matcher_rounds_submitted", "Rounds accepted",
                                        registry=self.registry)
        self.jobs_submitted = Counter("matcher_jobs_submitted", "Solve jobs queued",
                                      registry=self.registry)
        self.registry.register(_JobsCollector(store, runner_pids, runner_stats or {}))


class _JobsCollector(Collector):
    def __init__(self, store: Store, runner_pids: Any, runner_stats: dict[str, int]) -> None:
        self.store = store
        self.runner_pids = runner_pids
        self.runner_stats = runner_stats

    def collect(self) -> Any:
        by_state = GaugeMetricFamily("matcher_jobs", "Jobs by state (every tenant)",
                                     labels=["state"])
        for state, n in self.store.job_counts().items():
            by_state.add_metric([state], n)
        yield by_state
        yield GaugeMetricFamily("matcher_solve_processes", "Solve processes running here",
                                value=len(self.runner_pids()))
        stopped = CounterMetricFamily(
            "matcher_solves_stopped", "Solves this process killed for running past their "
            "time limit plus SOLVE_GRACE_S (time_limit) or above SOLVE_MEMORY_MB (memory)",
            labels=["reason"])
        for reason in ("time_limit", "memory"):
            stopped.add_metric([reason], self.runner_stats.get(f"stopped_{reason}", 0))
        yield stopped


class BodyTooLarge(HTTPException):
    """The request body is above ``max_body_bytes``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


_UPLOAD_PATHS = re.compile(r"^(/v1/rounds|/rounds|/jobs/[^/]+/map)/?$")
"""Where files are uploaded (rounds; a map's boundary): the large body limit applies."""


class BodyLimit:
    """Refuses request bodies above a size with 413: by Content-Length before reading, and
    by counting what arrives (chunked uploads) as it is read.

    File uploads (:data:`_UPLOAD_PATHS`) may be up to ``max_bytes``; every other body (a
    solve's parameters, a scenario's overrides, a form) up to ``small_bytes``, so an
    authenticated client cannot make the API process parse a huge JSON body on its event
    loop."""

    def __init__(self, app: ASGIApp, max_bytes: int, small_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.small_bytes = min(small_bytes, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (self.max_bytes if _UPLOAD_PATHS.match(scope["path"]) else self.small_bytes)
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(limit)(scope, receive, send)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(ErrorPublic(detail=f"the request body is larger than {limit} bytes")
                        .model_dump(), status_code=413)


class AccessLog:
    """One JSON log line and the metrics of each request (method, route, status, tenant)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        code = 500

        async def watched(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            took = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if scope["path"].startswith("/v1/") and route.startswith("/") and not \
                    route.startswith("/v1"):
                route = "/v1" + route  # routers are mounted under /v1
            self.metrics.requests.labels(scope["method"], route, str(code)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(took)
            state = scope.get("state") or {}
            log.info("request", extra={
                "method": scope["method"], "path": scope["path"], "status_code": code,
                "duration_ms": round(took * 1000, 1), "tenant": state.get("tenant")})


class AllowHeader:
    """Names every method of a path in the ``Allow`` header of a 405 (routers are matched
    one at a time, so the framework's own header names only the first router's methods)."""

    def __init__(self, app: ASGIApp, openapi: Any) -> None:
        self.app = app
        self.openapi = openapi
        self.paths: list[tuple[re.Pattern[str], str]] = []

    def allow(self, path: str) -> str | None:
        """The methods documented for ``path``."""
        if not self.paths:
            for template, item in self.openapi()["paths"].items():
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                self.paths.append((re.compile(f"^{pattern}$"),
                                   ", ".join(sorted(m.upper() for m in item))))
        return next((methods for pattern, methods in self.paths if pattern.match(path)), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def fixed(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                methods = self.allow(scope["path"])
                if methods:
                    headers = [(k, v) for k, v in message.get("headers", [])
                               if k.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", methods.encode())]}
            await send(message)

        await self.app(scope, receive, fixed)


def _validation_problems(exc: RequestValidationError) -> list[ProblemPublic]:
    out = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        # The input is never echoed: only where and what.
        out.append(ProblemPublic(severity="error", code=str(err.get("type", "invalid")),
                                 where=".".join(loc) or "request", list=loc[0] if loc else None,
                                 field=".".join(loc[1:]) or None,
                                 message=str(err.get("msg", "invalid"))))
    return out


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service as an ASGI app (see :mod:`service`)."""
    settings = settings or Settings()
    store = Store(settings.resolved_database_url(),
                  busy_timeout_s=settings.sqlite_busy_timeout_s,
                  max_waiting_writes=settings.sqlite_max_waiting_writes)
    store.migrate()
    # The default data directory is the service's own; one the operator named may be shared.
    store.make_private(own_dir=settings.database_url is None
                       and settings.data_dir == DEFAULT_DATA_DIR)
    runner = JobRunner(store, settings) if settings.run_jobs else None
    explainers = Explainers(settings.explain_memory_mb)
    intake = Intake(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runner is not None:
            runner.start()
        if settings.intake_prewarm:
            intake.warm(warm_up)
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            explainers.shutdown()
            intake.shutdown()
            store.dispose()


    app = FastAPI(title="SPIN Matcher", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, openapi_url="/v1/openapi.json", docs_url="/v1/docs",
                  redoc_url=None)
    metrics = Metrics(store, runner.running_pids if runner is not None else dict,
                      runner.stats if runner is not None else None)
    app.state.settings = settings
    app.state.store = store
    app.state.runner = runner
    app.state.metrics = metrics
    app.state.explainers = explainers
    app.state.intake = intake

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(ErrorPublic(detail=str(exc.detail)).model_dump(),
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = _validation_problems(exc)
        body = ErrorPublic(detail=f"the request has {len(problems)} problem(s)",
                           errors=problems)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(Invalid)
    async def round_invalid(request: Request, exc: Invalid) -> JSONResponse:
        n = len(exc.problems)
        body = ErrorPublic(
            detail=f"the round has {n} problem{'s' if n != 1 else ''}; nothing was stored",
            errors=[ProblemPublic.model_validate(p.to_dict()) for p in exc.problems])
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(RoundTooLarge)
    async def round_too_large(request: Request, exc: RoundTooLarge) -> JSONResponse:
        body = ErrorPublic(detail=exc.detail, errors=[
            ProblemPublic.model_validate(p.to_dict()) for p in exc.problems])
        return JSONResponse(body.model_dump(), status_code=413)

    for router in (rounds.router, jobs.router, outputs.router, scenarios.router,
                   health.router, schema.router):
        app.include_router(router, prefix="/v1")
    app.add_api_route("/health", health.health, include_in_schema=False)
    web.mount(app)  # the planner's workspace at / (service/web)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       small_bytes=settings.max_request_bytes)
    app.add_middleware(KeyFirst, openapi=app.openapi)  # keys checked before bodies are read
    app.add_middleware(ServerErrors)
    app.add_middleware(AllowHeader, openapi=app.openapi)
    app.add_middleware(AccessLog, metrics=metrics)
    return app
