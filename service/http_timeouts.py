"""Slow clients cannot hold connections: a deadline for a request's headers and one for its
body, enforced where the bytes arrive (uvicorn's HTTP protocol), since a request whose
headers never finish never reaches the application.

:func:`timed_protocol` makes the protocol class ``matcher serve`` gives uvicorn: uvicorn's
own h11 protocol plus two timers. A connection must deliver a request's complete headers
within ``header_timeout_s`` of connecting (or of its first byte after the previous answer),
else it is closed; a request's whole body must arrive within ``body_timeout_s`` of its
headers, else it is answered 408 and closed. These are whole-request deadlines, not idle
timeouts: a client trickling a byte a second is cut off like a silent one. Headers larger
than h11's limit (16 KiB) are refused with 400 by uvicorn itself; idle keep-alive
connections close after uvicorn's ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["TimedH11Protocol", "timed_protocol"]

log = logging.getLogger("service.http")


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a body deadline per request."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header deadline: a connection that sends nothing is closed too."""
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop both timers."""
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed uvicorn, then follow where the request stands: headers done (the header
        deadline stops, the body deadline starts when a body follows), body done (both
        stop), or a new request begun (the header deadline starts again)."""
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        """After an answer: the next request's headers have their own deadline (armed at
        its first byte; until then uvicorn's keep-alive timeout applies)."""
        self._cancel_timers()
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        if self.transport is None or self.transport.is_closing():
            self._cancel_timers()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self.conn.trailing_data[0] and self._header_timer is None:
                self._arm_header_timer()
        elif state is h11.SEND_BODY:
            self._cancel_header_timer()
            if self._body_timer is None:
                self._body_timer = self.loop.call_later(self.body_timeout_s, self._body_late)
        else:
            self._cancel_timers()

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_header_timer()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; the next one's clock starts later
        log.debug("request headers not complete in time; connection closed",
                  extra={"duration_ms": self.header_timeout_s * 1000})
        self.transport.close()

    def _body_late(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        cycle = self.cycle
        log.info("request body not complete in time; answered 408",
                 extra={"path": self.scope["path"] if self.scope else None,
                        "duration_ms": self.body_timeout_s * 1000})
        if cycle is not None and not cycle.response_started:
            body = json.dumps({"detail": f"the request body did not arrive within "
                               f"{self.body_timeout_s:g} s", "errors": []}).encode()
            cycle.response_started = True
            try:
                self.transport.write(self.conn.send(h11.Response(status_code=408, headers=[
                    (b"content-type", b"application/json"), (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode())], reason=b"Request Timeout")))
                self.transport.write(self.conn.send(h11.Data(data=body)))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:
                pass
        if cycle is not None:
            # The application's next read sees a disconnect; its answer goes nowhere.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def timed_protocol(header_timeout_s: float, body_timeout_s: float) -> type[TimedH11Protocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with these deadlines."""
    return type("TimedH11Protocol", (TimedH11Protocol,), {
        "header_timeout_s": header_timeout_s, "body_timeout_s": body_timeout_s})
