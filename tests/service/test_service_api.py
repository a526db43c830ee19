"""The HTTP API in process (TestClient): rounds in every format, errors with every problem
and no personal data, limits (413, 429), idempotency, results, explanations, auth."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from svc_helpers import NEL_JSON, NEL_XLSX, PHARMACIST_NAMES, TINY_JSON, Api, names_in

from matcher.checker import objective, violations
from matcher.formats import load_round, load_round_bytes, round_bytes
from matcher.result import Result

JSON = {"content-type": "application/json"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def idle(make_api: Callable[..., Api]) -> Api:
    """An app whose job runner is off: jobs stay queued."""
    return make_api(run_jobs=False)


# ---- authentication ---------------------------------------------------------------------------


def test_only_health_is_anonymous(idle: Api) -> None:
    c = idle.client
    health = c.get("/v1/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "version": "0.1.0"}
    assert c.get("/v1/ready").json()["checks"]["database"] == "ok"
    for method, path in [("GET", "/v1/rounds"), ("POST", "/v1/rounds"), ("GET", "/v1/jobs"),
                         ("GET", "/v1/metrics"), ("GET", "/v1/jobs/x/events")]:
        r = c.request(method, path)
        assert r.status_code == 401, (method, path)
        assert r.json() == {"detail": "missing API key: send 'Authorization: Bearer KEY'",
                            "errors": []}
        assert r.headers["www-authenticate"] == "Bearer"
    bad = c.get("/v1/rounds", headers={"Authorization": "Bearer smk_nope"})
    assert bad.status_code == 401
    assert bad.json()["detail"] == "invalid or revoked API key"


def test_a_revoked_key_is_refused_at_once(idle: Api) -> None:
    headers = idle.h("A")
    assert idle.client.get("/v1/rounds", headers=headers).status_code == 200
    assert idle.app.state.store.revoke_key(idle.keys["A"]) == "ICS A"
    r = idle.client.get("/v1/rounds", headers=headers)
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid or revoked API key"


# ---- rounds in ----------------------------------------------------------------------------------


def test_submit_json_and_read_it_back(idle: Api) -> None:
    created = idle.submit(NEL_JSON)
    assert created["round_id"] == "nel-2027-c1"
    assert created["summary"]["pharmacists"] == 27
    assert created["summary"]["placements"] == 81
    assert created["warnings"] == []
    r = idle.client.get(f"/v1/rounds/{created['id']}", headers=idle.h())
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == created["id"]
    assert body["round"] == load_round(NEL_JSON).to_data()
    listed = idle.client.get("/v1/rounds", headers=idle.h()).json()
    assert listed["count"] == 1
    assert [x["id"] for x in listed["data"]] == [created["id"]]


def test_submit_xlsx_and_zip_uploads_load_the_same_round(idle: Api) -> None:
    rnd = load_round(NEL_JSON)
    multipart = idle.client.post("/v1/rounds", headers=idle.h(),
                                 files={"file": ("nel.xlsx", NEL_XLSX.read_bytes())})
    assert multipart.status_code == 201, multipart.text
    raw = idle.client.post("/v1/rounds", content=NEL_XLSX.read_bytes(),
                           headers=idle.h() | {"content-type": XLSX})
    zipped = idle.client.post("/v1/rounds", headers=idle.h(),
                              files={"file": ("bundle.bin", round_bytes(rnd, "zip"))},
                              data={"format": "zip"})
    for r in (multipart, raw, zipped):
        assert r.status_code == 201, r.text
        doc = idle.client.get(f"/v1/rounds/{r.json()['id']}", headers=idle.h()).json()
        assert doc["round"] == rnd.to_data()


def test_warnings_of_an_upload_are_located_like_its_errors(idle: Api) -> None:
    data = load_round(NEL_JSON).to_data()
    home = data["pharmacists"][1]["home"]
    data["pharmacists"][1]["home"] = {"lat": home["lon"], "lon": home["lat"]}  # swapped
    book = round_bytes(load_round_bytes(json.dumps(data).encode(), "json"), "xlsx")
    r = idle.client.post("/v1/rounds", headers=idle.h(), files={"file": ("nel.xlsx", book)})
    assert r.status_code == 201, r.text
    (warning,) = r.json()["warnings"]
    assert {k: warning[k] for k in ("code", "where", "source", "row", "column")} == {
        "code": "swapped_coordinates", "where": "pharmacists, row 3, column home.lat",
        "source": "pharmacists", "row": 3, "column": "home.lat"}
    assert str(home["lat"]) not in r.text


def test_a_round_downloads_as_xlsx_and_zip(idle: Api) -> None:
    pk = idle.submit(NEL_JSON)["id"]
    rnd = load_round(NEL_JSON)
    for fmt, media in [("xlsx", XLSX), ("zip", "application/zip")]:
        r = idle.client.get(f"/v1/rounds/{pk}?format={fmt}", headers=idle.h())
        assert r.status_code == 200
        assert r.headers["content-type"] == media
        assert r.headers["content-disposition"] == f'attachment; filename="round-{pk}.{fmt}"'
        assert load_round_bytes(r.content, fmt) == rnd


def test_unsupported_upload_kinds(idle: Api) -> None:
    r = idle.client.post("/v1/rounds", content=b"a,b", headers=idle.h() | {
        "content-type": "text/csv"})
    assert r.status_code == 415
    assert "application/json" in r.json()["detail"]
    r = idle.client.post("/v1/rounds", headers=idle.h(), files={"other": ("x.json", b"{}")})
    assert r.status_code == 422
    assert r.json()["detail"] == "the multipart upload needs the round in the field 'file'"
    r = idle.client.post("/v1/rounds", headers=idle.h(), files={"file": ("round.txt", b"{}")})
    assert r.status_code == 422
    assert "name the file .json, .xlsx or .zip" in r.json()["detail"]


def test_invalid_round_lists_every_problem_without_personal_data(idle: Api) -> None:
    doc = json.loads(NEL_JSON.read_text())
    victims = doc["pharmacists"][:3]
    victims[0]["home"] = {"lat": 123.456789, "lon": 0.07}  # out of range
    victims[1]["preferences"] = ["NO-SUCH-PLACEMENT"]
    victims[2]["experience_years"] = "many"
    doc["placements"][0]["capacity"] = -1
    doc["periods"].append({"id": "R1", "start": "2027-01-04", "weeks": 17})  # duplicate id
    r = idle.client.post("/v1/rounds", content=json.dumps(doc), headers=idle.h() | JSON)
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == f"the round has {len(body['errors'])} problems; nothing was stored"
    wheres = {e["where"] for e in body["errors"]}
    assert len(body["errors"]) >= 5
    assert any(e["id"] == victims[0]["id"] and "home" in (e["field"] or "")
               for e in body["errors"]), wheres
    assert any(e["id"] == victims[1]["id"] and "preferences" in (e["field"] or "")
               for e in body["errors"]), wheres
    assert any(e["id"] == victims[2]["id"] and e["field"] == "experience_years"
               for e in body["errors"]), wheres
    assert any(e["list"] == "periods" for e in body["errors"]), wheres
    assert any(e["list"] == "placements" and e["field"] == "capacity"
               for e in body["errors"]), wheres
    assert all(e["severity"] == "error" and e["message"] for e in body["errors"])
    assert names_in(r.text) == []
    assert "123.456789" not in r.text
    assert idle.client.get("/v1/rounds", headers=idle.h()).json()["count"] == 0


def test_invalid_xlsx_upload_names_sheet_and_row(idle: Api) -> None:
    r = idle.client.post("/v1/rounds", headers=idle.h(),
                         files={"file": ("broken.xlsx", b"PK\x03\x04 not really a workbook")})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert errors
    assert errors[0]["source"] == "broken.xlsx"
    assert errors[0]["message"]


def test_request_validation_errors_do_not_echo_input(idle: Api) -> None:
    pk = idle.submit()["id"]
    name = sorted(PHARMACIST_NAMES)[0]
    r = idle.client.post(f"/v1/rounds/{pk}/solve", json={"time_limit_s": name, "seed": -1},
                         headers=idle.h())
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == "the request has 2 problem(s)"
    assert {e["where"] for e in body["errors"]} == {"body.time_limit_s", "body.seed"}
    assert name not in r.text


# ---- limits ------------------------------------------------------------------------------------


def test_body_too_large_is_413(make_api: Callable[..., Api]) -> None:
    small = make_api(run_jobs=False, max_body_bytes=4096)
    data = NEL_JSON.read_bytes()
    r = small.client.post("/v1/rounds", content=data, headers=small.h() | JSON)
    assert r.status_code == 413
    assert r.json() == {"detail": "the request body is larger than 4096 bytes", "errors": []}

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    r = small.client.post("/v1/rounds", content=chunks(), headers=small.h() | JSON)
    assert r.status_code == 413
    assert r.json()["detail"] == "the request body is larger than 4096 bytes"
    assert small.client.post("/v1/rounds", content=TINY_JSON.read_bytes(),
                             headers=small.h() | JSON).status_code == 201


def test_too_many_active_jobs_is_429_per_tenant(make_api: Callable[..., Api]) -> None:
    a = make_api(run_jobs=False, max_active_jobs_per_tenant=2)
    pk = a.submit()["id"]
    for _ in range(2):
        assert a.client.post(f"/v1/rounds/{pk}/solve", headers=a.h()).status_code == 202
    r = a.client.post(f"/v1/rounds/{pk}/solve", headers=a.h())
    assert r.status_code == 429
    assert r.json()["detail"] == ("too many jobs: at most 2 jobs may be queued or running at "
                                  "once; wait for some to finish or cancel them")
    assert r.headers["retry-after"] == "5"
    other = a.submit(tenant="B")["id"]
    assert a.client.post(f"/v1/rounds/{other}/solve", headers=a.h("B")).status_code == 202
    # Cancelling one makes room again.
    queued = a.client.get("/v1/jobs?state=queued", headers=a.h()).json()["data"]
    assert a.client.delete(f"/v1/jobs/{queued[0]['id']}", headers=a.h()).status_code == 200
    assert a.client.post(f"/v1/rounds/{pk}/solve", headers=a.h()).status_code == 202


def test_time_limit_and_workers_are_capped(make_api: Callable[..., Api]) -> None:
    a = make_api(run_jobs=False, max_time_limit_s=30, max_workers=2)
    pk = a.submit()["id"]
    r = a.client.post(f"/v1/rounds/{pk}/solve", json={"time_limit_s": 5000, "workers": 64,
                                                      "seed": 3}, headers=a.h())
    assert r.status_code == 202
    job = r.json()
    assert (job["time_limit_s"], job["workers"], job["seed"]) == (30.0, 2, 3)
    assert job["state"] == "queued"
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    default = a.client.post(f"/v1/rounds/{pk}/solve", headers=a.h()).json()
    assert (default["time_limit_s"], default["workers"], default["seed"]) == (10.0, 2, 0)


def test_idempotency_key(idle: Api) -> None:
    pk = idle.submit()["id"]
    headers = idle.h() | {"Idempotency-Key": "plan-2027-c1-run-1"}
    first = idle.client.post(f"/v1/rounds/{pk}/solve", json={"seed": 1}, headers=headers)
    again = idle.client.post(f"/v1/rounds/{pk}/solve", json={"seed": 1}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = idle.client.post(f"/v1/rounds/{pk}/solve", json={"seed": 2}, headers=headers)
    assert other.status_code == 422
    assert other.json()["detail"] == (
        "this Idempotency-Key was used for a different request (another round or other "
        "parameters); use a new key for a new request")
    fresh = idle.client.post(f"/v1/rounds/{pk}/solve", json={"seed": 1},
                             headers=idle.h() | {"Idempotency-Key": "plan-2027-c1-run-2"})
    assert fresh.json()["id"] != first.json()["id"]
    assert idle.client.get("/v1/jobs", headers=idle.h()).json()["count"] == 2


# ---- jobs, results, explanations ---------------------------------------------------------------


def test_queued_job_has_no_result_and_cancels_at_once(idle: Api) -> None:
    pk = idle.submit()["id"]
    job = idle.client.post(f"/v1/rounds/{pk}/solve", headers=idle.h()).json()
    r = idle.client.get(f"/v1/jobs/{job['id']}/result", headers=idle.h())
    assert r.status_code == 409
    assert r.json()["detail"] == "the job is queued; its result is not ready yet"
    r = idle.client.delete(f"/v1/jobs/{job['id']}", headers=idle.h())
    assert r.status_code == 200
    assert r.json()["state"] == "cancelled"
    assert r.json()["cancel_requested"] is True
    r = idle.client.get(f"/v1/jobs/{job['id']}/explain", headers=idle.h())
    assert r.status_code == 409
    assert r.json()["detail"] == ("the job is cancelled without a result: cancelled before it "
                                  "started")
    events = idle.client.get(f"/v1/jobs/{job['id']}/events", headers=idle.h())
    assert events.headers["content-type"].startswith("text/event-stream")
    assert "event: state" in events.text
    assert '"state": "cancelled"' in events.text or '"state":"cancelled"' in events.text


def test_solve_result_formats_and_explanation(api: Api) -> None:
    pk = api.submit(NEL_JSON)["id"]
    job = api.client.post(f"/v1/rounds/{pk}/solve", json={"time_limit_s": 20, "workers": 2},
                          headers=api.h()).json()
    done = api.wait_job(job["id"])
    assert done["state"] == "succeeded"
    assert done["result_status"] == "optimal"
    assert done["progress"]["gap"] == 0.0
    r = api.client.get(f"/v1/jobs/{job['id']}/result", headers=api.h())
    assert r.status_code == 200
    result = Result.from_dict(r.json())
    rnd = load_round(NEL_JSON)
    assert violations(rnd, result.allocation) == []
    assert objective(rnd, result.allocation).total == result.objective == done["progress"][
        "objective"]
    csv = api.client.get(f"/v1/jobs/{job['id']}/result?format=csv", headers=api.h())
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text.lstrip("\ufeff").startswith("pharmacist,period,stream,placement,score")
    assert len(csv.text.strip().splitlines()) >= len(result.assignments) + 1
    xlsx = api.client.get(f"/v1/jobs/{job['id']}/result?format=xlsx", headers=api.h())
    assert xlsx.headers["content-type"] == XLSX
    assert xlsx.content[:2] == b"PK"
    explained = api.client.get(f"/v1/jobs/{job['id']}/explain", headers=api.h())
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert body["round"] == "nel-2027-c1"
    assert body["objective"] == result.objective
    assert body["optimal"] is True
    assert len(body["pharmacists"]) == 27
    again = api.client.get(f"/v1/jobs/{job['id']}/explain", headers=api.h())
    assert again.json() == body  # kept, not recomputed
    metrics = api.client.get("/v1/metrics", headers=api.h()).text
    assert 'matcher_jobs{state="succeeded"} 1.0' in metrics
    assert "matcher_rounds_submitted_total 1.0" in metrics
    assert 'matcher_http_requests_total{method="GET",route="/v1/jobs/{job_id}"' in metrics


def test_deleting_a_round_deletes_its_jobs(idle: Api) -> None:
    pk = idle.submit()["id"]
    job = idle.client.post(f"/v1/rounds/{pk}/solve", headers=idle.h()).json()
    r = idle.client.delete(f"/v1/rounds/{pk}", headers=idle.h())
    assert r.status_code == 204
    assert r.content == b""
    for path in (f"/v1/rounds/{pk}", f"/v1/jobs/{job['id']}"):
        gone = idle.client.get(path, headers=idle.h())
        assert gone.status_code == 404
        assert gone.json()["detail"] in ("round not found", "job not found")


def test_list_filters_and_pages(idle: Api) -> None:
    pks = [idle.submit()["id"] for _ in range(3)]
    page = idle.client.get("/v1/rounds?limit=2&offset=1", headers=idle.h()).json()
    assert page["count"] == 3
    assert [r["id"] for r in page["data"]] == pks[::-1][1:3]
    jobs = [idle.client.post(f"/v1/rounds/{pk}/solve", headers=idle.h()).json()["id"]
            for pk in pks]
    only = idle.client.get(f"/v1/jobs?round={pks[0]}", headers=idle.h()).json()
    assert [j["id"] for j in only["data"]] == [jobs[0]]
    none = idle.client.get("/v1/jobs?state=running", headers=idle.h()).json()
    assert none == {"data": [], "count": 0}
    bad = idle.client.get("/v1/jobs?state=sleeping", headers=idle.h())
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["where"] == "query.state"


def test_openapi_documents_every_status(idle: Api) -> None:
    spec = idle.client.get("/v1/openapi.json").json()
    ops = {(m.upper(), p): op for p, item in spec["paths"].items() for m, op in item.items()}
    assert set(ops) >= {
        ("POST", "/v1/rounds"), ("GET", "/v1/rounds"), ("GET", "/v1/rounds/{round_pk}"),
        ("DELETE", "/v1/rounds/{round_pk}"), ("POST", "/v1/rounds/{round_pk}/solve"),
        ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{job_id}"), ("GET", "/v1/jobs/{job_id}/events"),
        ("GET", "/v1/jobs/{job_id}/result"), ("GET", "/v1/jobs/{job_id}/explain"),
        ("DELETE", "/v1/jobs/{job_id}"), ("GET", "/v1/health"), ("GET", "/v1/metrics"),
        ("GET", "/v1/ready"),
    }
    anonymous = {"/v1/health", "/v1/ready", "/v1/schema/{name}"}
    for (method, path), op in ops.items():
        codes = set(op["responses"])
        if path not in anonymous:
            assert "401" in codes, (method, path)
        if "{" in path:
            # The schema's name is one of two words: any other is a 422, nothing a 404.
            expected = {"422"} if path == "/v1/schema/{name}" else {"404", "422"}
            assert expected <= codes, (method, path)
    assert {"201", "413", "415", "422"} <= set(ops["POST", "/v1/rounds"]["responses"])
    assert {"202", "413", "429"} <= set(ops["POST", "/v1/rounds/{round_pk}/solve"]["responses"])
    assert {"200", "202"} <= set(ops["DELETE", "/v1/jobs/{job_id}"]["responses"])
    assert "409" in ops["GET", "/v1/jobs/{job_id}/result"]["responses"]
    assert "text/event-stream" in ops["GET", "/v1/jobs/{job_id}/events"]["responses"]["200"][
        "content"]
