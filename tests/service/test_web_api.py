"""The report and planner-workbook routes of the API, and the workspace's sessions and CSRF
tokens, in process (no browser: ``tests/web`` drives the pages in Chromium)."""

from __future__ import annotations

import io
import re
import stat
from collections.abc import Callable
from typing import Any

import openpyxl
from svc_helpers import NEL_JSON, TINY_JSON, Api

from matcher.planner_workbook import SHEETS
from service.web.sessions import COOKIE, load_secret


def _solved(api: Api, path: Any = TINY_JSON, tenant: str = "A") -> str:
    pk = api.submit(path, tenant)["id"]
    r = api.client.post(f"/v1/rounds/{pk}/solve", json={"time_limit_s": 10},
                        headers=api.h(tenant))
    assert r.status_code == 202, r.text
    job = api.wait_job(r.json()["id"], tenant)
    assert job["state"] == "succeeded"
    return str(job["id"])


def test_report_and_plan_routes(api: Api) -> None:
    job = _solved(api, NEL_JSON)
    r = api.client.get(f"/v1/jobs/{job}/plan", headers=api.h())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content), read_only=True)
    assert tuple(wb.sheetnames) == SHEETS
    r = api.client.get(f"/v1/jobs/{job}/report", headers=api.h())
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "nel-2027-c1" in r.text
    # another tenant's job, no key, an unknown id
    for path in (f"/v1/jobs/{job}/report", f"/v1/jobs/{job}/plan"):
        assert api.client.get(path, headers=api.h("B")).status_code == 404
        assert api.client.get(path).status_code == 401
    assert api.client.get("/v1/jobs/nope/plan", headers=api.h()).status_code == 404
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    for path in ("/v1/jobs/{job_id}/report", "/v1/jobs/{job_id}/plan"):
        assert {"200", "401", "404", "409", "422"} <= set(paths[path]["get"]["responses"])


def test_report_and_plan_wait_for_a_result(make_api: Callable[..., Api]) -> None:
    idle = make_api(run_jobs=False)
    pk = idle.submit()["id"]
    job = idle.client.post(f"/v1/rounds/{pk}/solve", headers=idle.h()).json()["id"]
    for path in (f"/v1/jobs/{job}/report", f"/v1/jobs/{job}/plan"):
        r = idle.client.get(path, headers=idle.h())
        assert r.status_code == 409
        assert "not ready" in r.json()["detail"]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _sign_in(api: Api, key: str) -> Any:
    form = api.client.get("/sign-in")
    return api.client.post("/sign-in", data={"csrf": _csrf(form.text), "api_key": key},
                           follow_redirects=False)


def test_sessions_are_signed_server_side_and_end(api: Api) -> None:
    secret = api.app.state.settings.data_dir / "web-secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert load_secret(api.app.state.settings.data_dir) == secret.read_bytes()
    key = api.app.state.store.create_key("ICS session")
    assert _sign_in(api, "smk_wrong").status_code == 401
    r = _sign_in(api, key)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here; Secure when the request is HTTPS
    value = api.client.cookies[COOKIE]
    assert api.client.get("/rounds").status_code == 200
    # an event stream is checked before it starts: another tenant's job or none is a 404
    other = _solved(api, TINY_JSON, "B")
    assert api.client.get(f"/jobs/{other}/events").status_code == 404
    # a tampered cookie is refused
    api.client.cookies.set(COOKIE, value[:-1] + ("0" if value[-1] != "0" else "1"))
    assert api.client.get("/rounds", follow_redirects=False).status_code == 303
    api.client.cookies.set(COOKIE, value)
    token = _csrf(api.client.get("/rounds").text)
    # sign-out needs the token; then the same cookie is refused
    assert api.client.post("/sign-out", follow_redirects=False).status_code == 403
    assert api.client.post("/sign-out", data={"csrf": token},
                           follow_redirects=False).status_code == 303
    api.client.cookies.set(COOKIE, value)
    assert api.client.get("/rounds", follow_redirects=False).status_code == 303
    assert api.client.get(f"/jobs/{other}/events").status_code == 401
    # revoking the key ends its sessions
    _sign_in(api, key)
    assert api.client.get("/rounds").status_code == 200
    api.app.state.store.revoke_key(key)
    assert api.client.get("/rounds", follow_redirects=False).status_code == 303


def test_upload_problems_are_listed_and_nothing_is_stored(api: Api) -> None:
    key = api.app.state.store.create_key("ICS upload")
    _sign_in(api, key)
    token = _csrf(api.client.get("/rounds").text)
    r = api.client.post("/rounds", data={"csrf": token},
                        files={"file": ("round.json", b'{"format": "spin-round/1"}')})
    assert r.status_code == 422
    assert 'id="problems-table"' in r.text
    assert api.client.get("/v1/rounds", headers={
        "Authorization": f"Bearer {key}"}).json()["count"] == 0
    r = api.client.post("/rounds", data={"csrf": token},
                        files={"file": ("notes.txt", b"hello")})
    assert r.status_code == 422
    assert "is not a round file" in r.text
    r = api.client.post("/rounds", data={"csrf": token},
                        files={"file": ("tiny.json", TINY_JSON.read_bytes())},
                        follow_redirects=False)
    assert r.status_code == 303
    assert re.fullmatch(r"/rounds/[0-9a-f-]{36}", r.headers["location"])
    # the Solve form sent twice (a double click) queues one job
    page = api.client.get(r.headers["location"]).text
    found = re.search(r'name="submission" value="([^"]+)"', page)
    assert found
    form = {"csrf": token, "submission": found.group(1), "time_limit_s": "5"}
    first = api.client.post(f"{r.headers['location']}/solve", data=form, follow_redirects=False)
    again = api.client.post(f"{r.headers['location']}/solve", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    template = api.client.get("/template.xlsx")
    assert template.status_code == 200
    assert "round" in openpyxl.load_workbook(io.BytesIO(template.content)).sheetnames
