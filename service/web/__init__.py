"""The planner's workspace: server-rendered pages at ``/`` of the same service.

Built on what the ``/v1`` API has (the store, the job runner, the API's own route
functions) and on the library (:mod:`matcher.report`, :mod:`matcher.planner_workbook`,
:mod:`matcher.whatif`, :mod:`matcher.formats`); the service's API never imports this
package, :func:`mount` adds it to an app. The NHS.UK frontend's styles and scripts are
installed from the npm registry and copied into ``static/`` by ``scripts/bootstrap``
(``package.json``, ``package-lock.json``, ``build.mjs`` here); without them the pages
still work, unstyled. ``assets/`` holds the workspace's own small script and styles.

Modules: :mod:`~service.web.sessions` (sign-in sessions, CSRF), :mod:`~service.web.pages`
(the routes), :mod:`~service.web.render` (templates and headers), :mod:`~service.web.map`
(the SVG map).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
"""The NHS.UK frontend as built by scripts/bootstrap (git-ignored)."""
ASSETS = HERE / "assets"
"""The workspace's own script and styles (committed)."""

__all__ = ["ASSETS", "STATIC", "mount"]


def mount(app: FastAPI) -> None:
    """Add the workspace's pages, sessions and static files to the service's app."""
    # local: the pages load the library's report and what-if code only when mounted
    from service.web import pages
    from service.web.render import Page, render
    from service.web.sessions import SessionStore, load_secret

    settings = app.state.settings
    app.state.web_sessions = SessionStore(app.state.store, load_secret(settings.data_dir))
    app.include_router(pages.router)
    app.mount("/static/app", StaticFiles(directory=ASSETS), name="web-assets")
    if (STATIC / "nhsuk").is_dir():
        app.mount("/static/nhsuk", StaticFiles(directory=STATIC / "nhsuk"), name="nhsuk")
        app.mount("/assets", StaticFiles(directory=STATIC / "assets"), name="nhsuk-assets")

    @app.exception_handler(pages.SignInNeeded)
    async def sign_in_needed(request: Request, exc: pages.SignInNeeded) -> Response:
        if request.method == "GET" and not request.url.path.endswith("/events"):
            return RedirectResponse("/sign-in", status_code=303)
        return render(request, "error.html.j2", Page("Sign in again"), status_code=401,
                      heading="Sign in again", message="You are not signed in, or your "
                      "session has ended. Sign in and try again.")

    @app.exception_handler(pages.PageNotFound)
    async def not_found(request: Request, exc: pages.PageNotFound) -> Response:
        session = app.state.web_sessions.session(request.cookies.get("spin_session"))
        return render(request, "error.html.j2",
                      Page("Page not found", session=session,
                           csrf=session.csrf if session else ""),
                      status_code=404, heading="Page not found",
                      message="There is no such round or job. Check the address, or go "
                      "back to your rounds.")

    @app.exception_handler(pages.CsrfRefused)
    async def csrf_refused(request: Request, exc: pages.CsrfRefused) -> Response:
        return render(request, "error.html.j2", Page("Form expired"), status_code=403,
                      heading="This form has expired",
                      message="The form was sent without its security token, or from "
                      "an old page. Go back, reload the page and send it again.")
