"""API keys: ``Authorization: Bearer KEY`` maps each request to its tenant (an ICS).

Keys are random secrets made by ``matcher keys create TENANT`` and stored only as hashes.
Every route but ``/health`` depends on :data:`TenantDep`; handlers pass the tenant to every
store call, so no query can reach another tenant's rows.

:class:`KeyFirst` checks the key of every request with a body to a route that depends on
:data:`TenantDep` from the request's headers, before anything reads the body: without a valid
key it is answered 401 (and its connection closed) with no byte of the body read or parsed,
whatever its size. :func:`metrics_reader` guards ``/v1/metrics`` (the operator's key when
``METRICS_KEY`` is set).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.store import Store

MISSING_KEY = "missing API key: send 'Authorization: Bearer KEY'"
INVALID_KEY = "invalid or revoked API key"
_CHECKED = "api_key_checked"
"""Key of ``scope["state"]`` where :class:`KeyFirst` leaves (key, tenant) for the route."""

bearer = HTTPBearer(auto_error=False, description="An API key from `matcher keys create`.")


def get_store(request: Request) -> Store:
    """The application's store."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def current_tenant(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The caller's tenant; 401 without a valid, unrevoked key.

    Behind :class:`KeyFirst` the key was already checked (before the body was read); the
    tenant it found is reused when the key is the same one.
    """
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, MISSING_KEY,
                            headers={"WWW-Authenticate": "Bearer"})
    checked = getattr(request.state, _CHECKED, None)
    if checked is not None and checked[0] == credentials.credentials:
        tenant: str | None = checked[1]
    else:
        tenant = store.tenant_for_key(credentials.credentials)
    if tenant is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, INVALID_KEY,
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.tenant = tenant
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


def metrics_reader(
    request: Request,
    store: StoreDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who may read ``/v1/metrics``: with ``METRICS_KEY`` set, only that operator key (a
    tenant's key gets 403); without it, any tenant's key (the metrics name no tenant)."""
    operator: str | None = request.app.state.settings.metrics_key
    if operator is None:
        return current_tenant(request, store, credentials)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, MISSING_KEY,
                            headers={"WWW-Authenticate": "Bearer"})
    if not hmac.compare_digest(credentials.credentials.encode(), operator.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "the metrics need the operator's key (METRICS_KEY)")
    return "operator"


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length", "0").strip()
    return "transfer-encoding" in headers or not length.isdigit() or int(length) > 0


class KeyFirst:
    """ASGI middleware: every request with a body to an operation that needs a key (its
    route depends on :data:`TenantDep`, so the OpenAPI schema names the Bearer scheme as its
    security) has the key checked from the headers before the route, its body parameters
    or its upload read the body. Without a valid key: 401 with ``Connection: close``, so the
    rest of the body is never read. Operations without a key (health, readiness, the schemas)
    and paths outside the schema (the web pages, with sessions of their own) pass through
    untouched; the route's own :func:`current_tenant` reuses the tenant found here."""

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self.openapi = openapi
        self.paths: list[tuple[re.Pattern[str], set[str]]] = []

    def needs_key(self, method: str, path: str) -> bool:
        """Whether the operation ``method path`` needs an API key."""
        if not self.paths:
            for template, item in self.openapi()["paths"].items():
                pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                secured = {m.upper() for m, op in item.items() if op.get("security")}
                self.paths.append((re.compile(f"^{pattern}$"), secured))
        return any(pattern.match(path) and method in secured
                   for pattern, secured in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app: Any = scope.get("app")
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if headers is None or app is None or not _has_body(headers) or \
                not self.needs_key(scope["method"], scope["path"]):
            # Nothing to read first: the route's own dependency checks the key.
            await self.app(scope, receive, send)
            return
        scheme, key = get_authorization_scheme_param(headers.get("authorization"))
        tenant = None
        if scheme.lower() == "bearer" and key:
            store: Store = app.state.store
            tenant = await run_in_threadpool(store.tenant_for_key, key)
        if tenant is None:
            # The body is never read: the connection ends with the answer.
            answer = {"WWW-Authenticate": "Bearer", "Connection": "close"}
            detail = INVALID_KEY if scheme.lower() == "bearer" and key else MISSING_KEY
            await JSONResponse({"detail": detail, "errors": []}, status_code=401,
                               headers=answer)(scope, receive, send)
            return
        scope.setdefault("state", {})[_CHECKED] = (key, tenant)
        await self.app(scope, receive, send)
