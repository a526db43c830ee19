"""Every server error answered as JSON with a request id, never a plain-text 500.

:class:`ServerErrors` is an ASGI middleware around the routes. A :class:`StoreBusy`
(SQLite's write lock not had in time) becomes 503 with ``Retry-After``: nothing was written
and the client may send the same request again. A database that cannot be reached or cannot
write (PostgreSQL down, a full disk: SQLAlchemy's ``OperationalError``) becomes 503 with
``Retry-After: 5``. Any other unexpected exception (a corrupt database file among them)
becomes 500. Every body carries a ``request_id`` (also in the ``X-Request-ID`` header) that
is logged with the exception's type, so an operator can find the log line; the exception's
text is not logged and not sent, since it may quote a round's data.
"""

from __future__ import annotations

import logging
import uuid

from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.store import StoreBusy

__all__ = ["ServerErrors", "server_error"]

log = logging.getLogger("service.errors")


def server_error(status_code: int, detail: str, request_id: str | None = None,
                 headers: dict[str, str] | None = None) -> JSONResponse:
    """A 5xx answer: ``{"detail", "errors": [], "request_id"}`` and ``X-Request-ID``."""
    request_id = request_id or uuid.uuid4().hex
    return JSONResponse({"detail": detail, "errors": [], "request_id": request_id},
                        status_code=status_code,
                        headers={"X-Request-ID": request_id, **(headers or {})})


class ServerErrors:
    """Turns exceptions the routes did not handle into JSON 503 (busy) or 500 answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except HTTPException:
            raise
        except StoreBusy as exc:
            if started:
                raise
            rid = uuid.uuid4().hex
            log.warning("database busy; answered 503", extra={
                "request_id": rid, "path": scope["path"], "method": scope["method"]})
            await server_error(503, str(exc), rid, {"Retry-After": str(exc.retry_after_s)}
                               )(scope, receive, send)
        except OperationalError as exc:
            if started:
                raise
            rid = uuid.uuid4().hex
            log.error("database unavailable; answered 503", extra={
                "request_id": rid, "path": scope["path"], "method": scope["method"],
                "error_type": type(exc.orig).__name__})
            await server_error(503, "the database is unavailable; retry later", rid,
                               {"Retry-After": "5"})(scope, receive, send)
        except Exception as exc:
            if started:
                raise
            rid = uuid.uuid4().hex
            log.error("unexpected error; answered 500", extra={
                "request_id": rid, "path": scope["path"], "method": scope["method"],
                "error_type": type(exc).__name__})
            await server_error(500, "internal error: quote the request_id when reporting it",
                               rid)(scope, receive, send)
