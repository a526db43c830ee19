"""Fixtures of the workspace's browser tests: a real ``matcher serve`` on 127.0.0.1 (the
service tests' :class:`Server`), Debian's Chromium driven by Playwright, the axe-core
audit and the screenshots.

Everything here is module-scoped: one server and one browser per test module (per xdist
worker), so the whole module runs in well under two minutes on two cores. The tests skip,
saying why, when Playwright, Chromium, or the front end built by ``scripts/bootstrap``
(``service/web/static``, ``service/web/node_modules/axe-core``) is missing.

Screenshots go to ``$MATCHER_WEB_SCREENSHOTS`` when set, else to a folder under pytest's
temporary directory; the folder is printed at the start of the run (``-s``, or in the
report's header section with ``-rA``) and is never inside the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "service"))

from svc_helpers import Server, names_in  # noqa: E402

WEB = ROOT / "service" / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
BUILT = WEB / "static" / "VERSION"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (it is in the dev group: scripts/bootstrap)"
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (Debian's chromium package; scripts/test-env)"
    if not BUILT.exists() or not AXE.exists():
        return ("the workspace's front end is not built (npm missing when scripts/bootstrap "
                "ran): service/web/static and node_modules/axe-core are needed")
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A live `matcher serve` with short leases and a small explanation budget."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    base = tmp_path_factory.mktemp("web-server")
    env = {**os.environ, "MATCHER_LEASE_S": "3", "MATCHER_HEARTBEAT_S": "0.3",
           "MATCHER_RECONCILE_S": "0.5", "MATCHER_EVENTS_POLL_S": "0.1",
           "MATCHER_MAX_CONCURRENT_SOLVES": "2", "MATCHER_MAX_WORKERS": "2",
           "MATCHER_EXPLAIN_TIME_LIMIT_S": "2", "MATCHER_EXPLAIN_MAX_RESOLVES": "3",
           "MATCHER_CANCEL_GRACE_S": "20", "MATCHER_LOG_LEVEL": "INFO",
           "PYTHONUNBUFFERED": "1"}
    env.pop("MATCHER_DATABASE_URL", None)
    srv = Server(base / "data", base / "server.log", env)
    srv.start()
    yield srv
    srv.stop()
    text = srv.logs()
    assert not names_in(text), f"pharmacist names in {srv.log_path}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (no browser download)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The folder this run's screenshots go to (printed)."""
    wanted = os.environ.get("MATCHER_WEB_SCREENSHOTS")
    folder = Path(wanted) if wanted else tmp_path_factory.mktemp("web-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"workspace screenshots: {folder}")
    return folder


class Audit:
    """Screenshots and the axe-core audit of each page a test visits."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pages: list[str] = []

    def __call__(self, page: Any, name: str) -> None:
        """Screenshot ``page`` as ``name``.png and fail on any serious or critical WCAG
        2.2 AA violation axe-core finds."""
        page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)
        page.add_script_tag(path=str(AXE))
        found = page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
            ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
            "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))", AXE_TAGS)
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not bad, f"{name}: {json.dumps(bad, indent=1)}"
        self.pages.append(name)


@pytest.fixture(scope="module")
def audit(shots: Path) -> Audit:
    """Screenshot and accessibility audit of a page."""
    return Audit(shots)
