"""The planner's workspace in a real browser (Debian's Chromium through Playwright) against a
real `matcher serve` on 127.0.0.1: sign in; upload the NEL workbook; solve and watch it
reach optimal; the report, the planner workbook (read back with openpyxl), CSV and JSON;
the map with a boundary; a what-if closing a placement from R2 and its diff; a re-plan
from R2 that keeps R1; a broken workbook's problems by sheet, row and column; a long solve
cancelled with its best-so-far result; tenant isolation and CSRF; keyboard-only use; sign
out. Every page is audited with axe-core (no serious or critical WCAG 2.2 AA violation)
and photographed (see ``conftest.py`` for where)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from svc_helpers import NEL_JSON, NEL_XLSX, TINY_JSON, Server, wait_for

from matcher.planner_workbook import SHEETS

NEL = json.loads(NEL_JSON.read_text())


def sign_in(browser: Any, server: Server, key: str) -> tuple[Any, Any]:
    """A new browser context signed in with ``key``, and its page (on the rounds page)."""
    context = browser.new_context(base_url=server.url, accept_downloads=True,
                                  bypass_csp=True)  # axe-core is injected by the test
    page = context.new_page()
    page.goto("/")
    assert page.url.endswith("/sign-in")
    page.fill("#api_key", key)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/rounds")
    return context, page


def submitted(page: Any, selector: str) -> str:
    """Click a form's button and land on the new job's page (its id); a page with
    problems instead fails with its text."""
    with page.expect_navigation():
        page.click(selector)
    assert re.search(r"/jobs/[0-9a-f-]{36}\?base=", page.url), page.inner_text("main")
    return job_id(page)


def wait_result(page: Any, timeout_s: float = 90) -> str:
    """Wait on a job page until its result shows (the page reloads itself when the job
    ends); the result's status."""
    page.wait_for_selector("#r-status", timeout=timeout_s * 1000)
    return str(page.inner_text("#r-status"))


def api(server: Server, key: str) -> httpx.Client:
    """An API client with a tenant's key."""
    return httpx.Client(base_url=server.url, timeout=60,
                        headers={"Authorization": f"Bearer {key}"})


def job_id(page: Any) -> str:
    """The job id of the job page shown."""
    found = re.search(r"/jobs/([0-9a-f-]{36})", page.url)
    assert found, page.url
    return found.group(1)


def assignments(client: httpx.Client, job: str) -> set[tuple[str, str, str]]:
    """A job's assignments as (pharmacist, period, placement)."""
    r = client.get(f"/v1/jobs/{job}/result")
    assert r.status_code == 200, r.text
    return {(a["pharmacist"], a["period"], a["placement"]) for a in r.json()["assignments"]}


def test_planner_flow(browser: Any, server: Server, audit: Any, tmp_path: Path) -> None:
    key = server.key("North East London")
    anonymous = browser.new_context(base_url=server.url, bypass_csp=True)
    sign_in_page = anonymous.new_page()
    sign_in_page.goto("/sign-in")
    audit(sign_in_page, "01-sign-in")
    anonymous.close()

    context, page = sign_in(browser, server, key)
    audit(page, "02-rounds-empty")

    # upload the NEL workbook: its round page, with the summary
    page.set_input_files("#file", str(NEL_XLSX))
    page.click("button:has-text('Upload and check')")
    page.wait_for_url(re.compile(r".*/rounds/[0-9a-f-]{36}$"))
    summary = page.inner_text("#round-summary")
    assert f"Pharmacists\n{len(NEL['pharmacists'])}" in summary.replace("\t", "\n")
    assert f"Placements\n{len(NEL['placements'])}" in summary.replace("\t", "\n")
    audit(page, "03-round")
    round_url = page.url

    # solve: live progress to optimal, then the result
    page.fill("#time_limit_s", "30")
    page.click("button:has-text('Solve')")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}$"))
    base_job = job_id(page)
    assert wait_result(page) == "optimal"
    assert page.inner_text("#p-gap") == "0.0%"
    assert "succeeded: optimal" in page.inner_text("#job-state")
    audit(page, "04-job-result")

    # downloads: the planner workbook read back, CSV and JSON
    with page.expect_download() as got:
        page.click("#plan-link")
    plan = tmp_path / "plan.xlsx"
    got.value.save_as(plan)
    wb = openpyxl.load_workbook(plan, read_only=True)
    assert tuple(wb.sheetnames) == SHEETS
    rows = list(wb["By pharmacist"].iter_rows(values_only=True))
    assert rows[0][0] == "pharmacist"
    assert {r[0] for r in rows[1:]} == {p["id"] for p in NEL["pharmacists"]}
    with page.expect_download() as got:
        page.click("#csv-link")
    assert got.value.suggested_filename.endswith(".csv")
    with page.expect_download() as got:
        page.click("#json-link")
    doc = json.loads(Path(got.value.path()).read_text())
    assert doc["format"] == "spin-result/1"
    assert doc["status"] == "optimal"

    # the report: the same page as `matcher report`
    page.click("#report-link")
    page.wait_for_load_state()
    assert "nel-2027-c1" in page.content()
    audit(page, "05-report")
    page.go_back()

    # the map, with a boundary drawn from the planner's GeoJSON
    page.click("#map-link")
    assert page.locator("svg.app-map circle").count() == len(NEL["placements"])
    assert "HOSP-BHRUT-AMU" in page.locator("svg.app-map").inner_html()
    audit(page, "06-map")
    boundary = tmp_path / "nel.geojson"
    boundary.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[
            [-0.12, 51.47], [0.3, 51.47], [0.3, 51.66], [-0.12, 51.66], [-0.12, 51.47]]]}}]}))
    page.set_input_files("#boundary", str(boundary))
    page.click("button:has-text('Show on the map')")
    assert page.locator("svg.app-map polyline").count() == 1
    audit(page, "06b-map-with-boundary")
    page.goto(f"/jobs/{base_job}")

    # a what-if: the acute medical unit closes from R2; solved, then compared
    page.select_option("#close_placement", "HOSP-BHRUT-AMU")
    page.select_option("#close_from", "R2")
    page.fill("#wi_time_limit_s", "30")
    scenario_job = submitted(page, "#solve-what-if")
    assert wait_result(page) in ("optimal", "feasible")
    client = api(server, key)
    closed = {a for a in assignments(client, scenario_job) if a[2] == "HOSP-BHRUT-AMU"}
    assert closed
    assert {a[1] for a in closed} == {"R1"}
    page.click("#compare-link")
    assert page.locator("#headline").inner_text().startswith("base -> change")
    assert page.locator("#moves-table tbody tr").count() > 0
    audit(page, "07-compare-what-if")

    # a re-plan from R2 with the same closure: R1 exactly as served, few moves
    page.goto(f"/jobs/{base_job}")
    page.select_option("#close_placement", "HOSP-BHRUT-AMU")
    page.select_option("#close_from", "R2")
    page.select_option("#replan_from", "R2")
    page.fill("#wi_time_limit_s", "30")
    replan_job = submitted(page, "#replan")
    assert wait_result(page) in ("optimal", "feasible")
    before, after = assignments(client, base_job), assignments(client, replan_job)
    assert {a for a in before if a[1] == "R1"} == {a for a in after if a[1] == "R1"}
    page.click("#compare-link")
    headline = page.locator("#headline").inner_text()
    assert "plan quality" in headline
    moved = page.locator("#moves-table tbody tr")
    assert 0 < moved.count() < 10
    assert all(row.split("\t")[1] != "R1" for row in moved.all_inner_texts())
    audit(page, "08-compare-replan")

    # the rounds list: newest first, with the state of each round's latest job
    page.goto("/rounds")
    listed = page.locator("#rounds-table tbody tr").all_inner_texts()
    assert len(listed) == 3  # the upload, the what-if and the re-plan
    assert "re-plan from R2" in listed[0]
    assert "succeeded" in listed[-1]
    page.goto(round_url)
    assert page.locator("#jobs-table tbody tr").count() == 1
    audit(page, "09-round-with-jobs")

    # sign out: the old cookie is refused
    cookies = context.cookies()
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/sign-in")
    page.goto("/rounds")
    assert page.url.endswith("/sign-in")
    stolen = browser.new_context(base_url=server.url)
    stolen.add_cookies(cookies)
    again = stolen.new_page()
    again.goto("/rounds")
    assert again.url.endswith("/sign-in")
    r = httpx.get(f"{server.url}/rounds", follow_redirects=False,
                  cookies={c["name"]: c["value"] for c in cookies})
    assert r.status_code == 303
    stolen.close()
    context.close()


def test_a_broken_workbook_shows_every_problem_where_it_is(
        browser: Any, server: Server, audit: Any, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(NEL_XLSX)
    sheet = wb["placements"]
    head = [c.value for c in sheet[1]]
    sheet.cell(4, head.index("capacity") + 1).value = "lots"
    sheet.cell(6, head.index("stream") + 1).value = "nowhere"
    broken = tmp_path / "broken.xlsx"
    wb.save(broken)
    context, page = sign_in(browser, server, server.key("ICS broken"))
    page.set_input_files("#file", str(broken))
    page.click("button:has-text('Upload and check')")
    assert page.url.endswith("/rounds")
    rows = [r.split("\t") for r in page.locator("#problems-table tbody tr").all_inner_texts()]
    assert ["placements", "4", "capacity"] in [r[:3] for r in rows]
    assert ["placements", "6", "stream"] in [r[:3] for r in rows]
    assert all(r[4] for r in rows)  # what to do, on every row
    assert "Nothing was stored" in page.inner_text(".nhsuk-error-summary")
    assert page.locator("#rounds-table").count() == 0  # nothing was stored
    audit(page, "10-upload-problems")
    context.close()


def test_cancel_keeps_the_best_allocation_so_far(
        browser: Any, server: Server, audit: Any, tmp_path: Path) -> None:
    fair = NEL | {"weights": NEL.get("weights", {}) | {"fairness": 100}}
    path = tmp_path / "nel-fair.json"
    path.write_text(json.dumps(fair))
    context, page = sign_in(browser, server, server.key("ICS cancel"))
    page.set_input_files("#file", str(path))
    page.click("button:has-text('Upload and check')")
    page.wait_for_url(re.compile(r".*/rounds/[0-9a-f-]{36}$"))
    page.fill("#time_limit_s", "600")
    page.click("button:has-text('Solve')")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}$"))
    # live progress over the event stream: the numbers and the chart fill in
    page.wait_for_function(
        "document.getElementById('p-objective').textContent.trim() !== ''", timeout=60_000)
    page.wait_for_selector("#p-chart-figure:not([hidden])", timeout=30_000)
    xs = {p.split(",")[0] for p in page.get_attribute("#p-chart-objective", "points").split()}
    assert len(xs) >= 2  # a line, not a dot
    audit(page, "11-job-running")
    page.click("button:has-text('Cancel')")
    assert wait_result(page, 60) == "feasible"
    assert "cancelled: feasible" in page.inner_text("#job-state")
    assert page.locator("#plan-link").count() == 1
    context.close()


def test_tenants_see_only_their_own_and_forms_need_their_token(
        browser: Any, server: Server, audit: Any) -> None:
    key_a = server.key("ICS A")
    owner = api(server, key_a)
    r = owner.post("/v1/rounds", content=TINY_JSON.read_bytes(),
                   headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    round_a = r.json()["id"]
    job_a = owner.post(f"/v1/rounds/{round_a}/solve", json={"time_limit_s": 10}).json()["id"]
    wait_for(lambda: owner.get(f"/v1/jobs/{job_a}").json()["state"] == "succeeded", 60,
             "tenant A's job")
    assert owner.get(f"/v1/jobs/{job_a}/plan").status_code == 200
    report = owner.get(f"/v1/jobs/{job_a}/report")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")

    key_b = server.key("ICS B")
    other = api(server, key_b)
    for path in (f"/v1/jobs/{job_a}/report", f"/v1/jobs/{job_a}/plan"):
        assert other.get(path).status_code == 404
        assert httpx.get(server.url + path).status_code == 401
    context, page = sign_in(browser, server, key_b)
    for path in (f"/rounds/{round_a}", f"/jobs/{job_a}", f"/jobs/{job_a}/report",
                 f"/jobs/{job_a}/plan.xlsx", f"/jobs/{job_a}/result.csv",
                 f"/jobs/{job_a}/map", f"/compare/{job_a}/{job_a}", "/rounds/not-an-id"):
        response = page.goto(path)
        assert response.status == 404, path
        assert page.locator("h1").inner_text() == "Page not found"
    audit(page, "12-not-found")

    # B's own round, and a form posted without (or with another) token: refused
    r = other.post("/v1/rounds", content=TINY_JSON.read_bytes(),
                   headers={"content-type": "application/json"})
    round_b = r.json()["id"]
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    with httpx.Client(base_url=server.url, cookies=cookies, timeout=30) as browserless:
        page.goto(f"/rounds/{round_b}")
        token = page.locator("input[name=csrf]").first.get_attribute("value")
        for data in ({"time_limit_s": "5"}, {"time_limit_s": "5", "csrf": "x" * 64}):
            refused = browserless.post(f"/rounds/{round_b}/solve", data=data)
            assert refused.status_code == 403
            assert "This form has expired" in refused.text
        assert other.get(f"/v1/jobs?round={round_b}").json()["count"] == 0
        ok = browserless.post(f"/rounds/{round_b}/solve",
                              data={"time_limit_s": "5", "csrf": token})
        assert ok.status_code == 303
        # A's round through B's session and token: the same 404 as no round at all
        assert browserless.post(f"/rounds/{round_a}/solve",
                                data={"csrf": token}).status_code == 404
    assert owner.get(f"/v1/jobs?round={round_a}").json()["count"] == 1
    # the sign-in form needs its token too
    assert httpx.post(f"{server.url}/sign-in", data={"api_key": key_b}).status_code == 403
    # the page a person sees when a form's token is stale, audited like every other page
    page.goto(f"/rounds/{round_b}")
    page.evaluate("() => document.querySelectorAll('input[name=csrf]')"
                  ".forEach(i => { i.value = 'x'.repeat(64); })")
    with page.expect_navigation():
        page.click("button:has-text('Solve')")
    assert "This form has expired" in page.content()
    audit(page, "13-form-expired")
    context.close()


def tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)",
                         selector):
            return
    pytest.fail(f"Tab never reached {selector}")


def choose_by_keyboard(page: Any, attempts: int = 3) -> Any:
    """Open the focused file input's chooser with Space, as a keyboard user does.

    On a busy machine Chromium now and then drops the key press that should open the
    chooser (seen once in CI: a 30 s wait for a chooser that was never coming). A chooser
    that is coming opens within a second, so the press is repeated a few times on a
    shorter wait, the same total budget, instead of waiting longer for a lost one.
    """
    for attempt in range(attempts):
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            assert page.evaluate("document.activeElement && document.activeElement.id") == "file"
    raise AssertionError("unreachable")


def test_keyboard_only_upload_solve_download(browser: Any, server: Server, tmp_path: Path
                                             ) -> None:
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    page = context.new_page()
    page.goto("/sign-in")
    tab_to(page, "#api_key")
    page.keyboard.type(server.key("ICS keyboard"))
    page.keyboard.press("Enter")
    page.wait_for_url("**/rounds")
    tab_to(page, "#file")
    choose_by_keyboard(page).set_files(str(TINY_JSON))
    tab_to(page, "#upload-button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/rounds/[0-9a-f-]{36}$"))
    tab_to(page, "#time_limit_s")
    page.keyboard.press("Control+A")
    page.keyboard.type("10")
    page.keyboard.press("Enter")  # submits the Solve form
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}$"))
    wait_result(page)
    tab_to(page, "#plan-link")
    with page.expect_download() as got:
        page.keyboard.press("Enter")
    data = Path(got.value.path()).read_bytes()
    assert tuple(openpyxl.load_workbook(io.BytesIO(data)).sheetnames) == SHEETS
    context.close()


def test_without_javascript_the_job_page_refreshes_itself(browser: Any, server: Server
                                                          ) -> None:
    context = browser.new_context(base_url=server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/sign-in")
    page.fill("#api_key", server.key("ICS no script"))
    page.click("button:has-text('Sign in')")
    page.set_input_files("#file", str(TINY_JSON))
    page.click("#upload-button")
    page.fill("#time_limit_s", "10")
    page.click("button:has-text('Solve')")
    page.wait_for_url(re.compile(r".*/jobs/[0-9a-f-]{36}$"))
    if page.locator("#r-status").count() == 0:  # still running when the page was made
        assert page.locator("#refresh").count() == 1
    assert wait_result(page, 30) == "optimal"  # the <noscript> refresh brought it
    context.close()


def test_a_job_page_refused_its_live_stream_says_so_and_refreshes(
        browser: Any, server: Server, audit: Any, tmp_path: Path) -> None:
    """The job page's event stream counts with the tenant's API streams: with all 20
    (MAX_EVENT_STREAMS_PER_TENANT) held, the page's is refused (429), and the page says so
    and refreshes itself; once a stream closes, the refreshed page is live again."""
    key = server.key("ICS streams")
    fair = NEL | {"weights": NEL.get("weights", {}) | {"fairness": 100}}
    with api(server, key) as client, contextlib.ExitStack() as stack:
        r = client.post("/v1/rounds", content=json.dumps(fair),
                        headers={"content-type": "application/json"})
        assert r.status_code == 201, r.text
        job = client.post(f"/v1/rounds/{r.json()['id']}/solve",
                          json={"time_limit_s": 600, "workers": 1}).json()["id"]
        try:
            held = [stack.enter_context(client.stream("GET", f"/v1/jobs/{job}/events"))
                    for _ in range(20)]
            assert {s.status_code for s in held} == {200}
            context, page = sign_in(browser, server, key)
            page.goto(f"/jobs/{job}")
            page.wait_for_selector("#p-live-off:not([hidden])", timeout=15_000)
            audit(page, "14-job-live-refused")
            page.evaluate("window.refused = true")
            held[0].close()
            page.wait_for_function("window.refused === undefined", timeout=20_000)
            page.wait_for_load_state()
            # live again: only the stream's progress events draw the chart
            page.wait_for_selector("#p-chart-figure:not([hidden])", timeout=15_000)
            assert page.locator("#p-live-off").is_hidden()
            context.close()
        finally:
            client.delete(f"/v1/jobs/{job}")
