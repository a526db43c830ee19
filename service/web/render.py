"""Pages from the workspace's Jinja2 templates (``service/web/templates``), with the
headers every page gets: no caching of tenants' data, a strict Content-Security-Policy
(only this service's own styles, scripts and images), no framing, no sniffing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from matcher.wording import number, percent
from service.web.sessions import Session

__all__ = ["CSP", "Page", "render"]

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "object-src 'none'")
"""The pages' Content-Security-Policy (the report, a page of the library's, has its own)."""


@dataclass(frozen=True)
class Page:
    """What the layout needs: the title, the signed-in session (if any), the CSRF token."""

    title: str
    session: Session | None = None
    csrf: str = ""


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return str(value.strftime("%d %b %Y %H:%M UTC"))


@cache
def environment() -> jinja2.Environment:
    """The templates' environment (autoescaping on)."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("service.web", "templates"),
                             autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["pct"] = lambda value: percent(value, missing="")
    env.filters["num"] = lambda value: number(value, missing="")
    env.filters["when"] = _when
    return env


def render(request: Request, template: str, page: Page, *, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    """A page rendered with ``context``."""
    html = environment().get_template(template).render(page=page, request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers={
        "Cache-Control": "private, no-store", "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin"})
