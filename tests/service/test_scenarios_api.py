"""Scenarios over HTTP: ``POST /v1/rounds/{id}/scenarios`` solves a what-if as a job (the
same jobs as ``/solve``); ``GET /v1/jobs/{a}/diff/{b}`` compares two results; every id of
another tenant answers 404 like one that does not exist."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from svc_helpers import TINY_JSON, Api

from matcher.result import Result
from matcher.whatif import diff

CLOSE_GP_B = {"name": "GP-B closes after P1",
              "overrides": [{"op": "close_placement", "placement": "GP-B",
                             "from_period": "P2"},
                            {"op": "set_weights", "weights": {"hard_to_recruit": 60}}]}


@pytest.fixture
def idle(make_api: Callable[..., Api]) -> Api:
    """An app whose job runner is off: jobs stay queued."""
    return make_api(run_jobs=False)


def _result(api: Api, job_id: str, tenant: str = "A") -> Result:
    r = api.client.get(f"/v1/jobs/{job_id}/result", headers=api.h(tenant))
    assert r.status_code == 200, r.text
    return Result.from_dict(r.json())


def test_a_scenario_is_solved_as_a_job_of_its_own_round(api: Api) -> None:
    base = api.submit(TINY_JSON)
    r = api.client.post(f"/v1/rounds/{base['id']}/scenarios", json=CLOSE_GP_B | {"seed": 3},
                        headers=api.h())
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["round"] != base["id"]
    assert job["seed"] == 3
    assert api.wait_job(job["id"])["state"] == "succeeded"
    # The scenario's round is stored like any round; its summary says where it came from.
    stored = api.client.get(f"/v1/rounds/{job['round']}", headers=api.h()).json()
    assert stored["summary"]["scenario"] == "GP-B closes after P1"
    assert stored["summary"]["base_round"] == base["id"]
    assert stored["summary"]["overrides"] == 2
    gp_b = next(p for p in stored["round"]["placements"] if p["id"] == "GP-B")
    assert gp_b["capacity"] == {"P1": 1, "P2": 0}
    assert stored["round"]["weights"]["hard_to_recruit"] == 60
    # The base round is unchanged.
    original = api.client.get(f"/v1/rounds/{base['id']}", headers=api.h()).json()
    assert next(p for p in original["round"]["placements"] if p["id"] == "GP-B")[
        "capacity"] == 1
    result = _result(api, job["id"])
    assert result.status == "optimal"
    assert not [a for a in result.assignments if a.placement == "GP-B" and a.period == "P2"]


def test_overrides_that_do_not_apply_name_the_override_and_store_nothing(idle: Api) -> None:
    base = idle.submit(TINY_JSON)
    body = {"overrides": [{"op": "set_weights", "weights": {"travel": 2}},
                          {"op": "remove_placement", "placement": "GP-Z"},
                          {"op": "set_unavailable", "pharmacist": "PH-9", "periods": ["P1"]}]}
    r = idle.client.post(f"/v1/rounds/{base['id']}/scenarios", json=body, headers=idle.h())
    assert r.status_code == 422
    problems = r.json()["errors"]
    assert [(p["list"], p["index"], p["field"]) for p in problems] == [
        ("overrides", 1, "placement"), ("overrides", 2, "pharmacist")]
    assert problems[0]["where"] == "overrides[#2].placement"
    assert problems[0]["message"] == "remove_placement GP-Z: unknown placement id 'GP-Z'"
    assert idle.client.get("/v1/rounds", headers=idle.h()).json()["count"] == 1
    assert idle.client.get("/v1/jobs", headers=idle.h()).json()["count"] == 0


def test_a_malformed_override_is_refused(idle: Api) -> None:
    base = idle.submit(TINY_JSON)
    for body in ({"overrides": [{"op": "explode"}]}, {"overrides": "close"}, {},
                 {"overrides": [], "name": ""}):
        r = idle.client.post(f"/v1/rounds/{base['id']}/scenarios", json=body,
                             headers=idle.h())
        assert r.status_code == 422, body
        assert r.json()["errors"], body


def test_no_job_means_no_scenario_round(make_api: Callable[..., Api]) -> None:
    api = make_api(run_jobs=False, max_active_jobs_per_tenant=1)
    base = api.submit(TINY_JSON)
    assert api.client.post(f"/v1/rounds/{base['id']}/solve",
                           headers=api.h()).status_code == 202
    r = api.client.post(f"/v1/rounds/{base['id']}/scenarios", json=CLOSE_GP_B,
                        headers=api.h())
    assert r.status_code == 429
    assert api.client.get("/v1/rounds", headers=api.h()).json()["count"] == 1


def test_diff_of_two_jobs(api: Api) -> None:
    base = api.submit(TINY_JSON)
    first = api.client.post(f"/v1/rounds/{base['id']}/solve", headers=api.h()).json()["id"]
    second = api.client.post(f"/v1/rounds/{base['id']}/scenarios", json=CLOSE_GP_B,
                             headers=api.h()).json()["id"]
    for job_id in (first, second):
        assert api.wait_job(job_id)["state"] == "succeeded"
    r = api.client.get(f"/v1/jobs/{first}/diff/{second}", headers=api.h())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    expected = diff(_result(api, first), _result(api, second), labels=(first, second))
    assert body == json.loads(json.dumps(expected.to_dict()))
    assert body["before"] == first
    assert body["after"] == second
    assert body["objective"]["total"]["delta"] == (
        body["objective"]["total"]["after"] - body["objective"]["total"]["before"])
    text = api.client.get(f"/v1/jobs/{first}/diff/{second}?format=text", headers=api.h())
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith(f"{first} -> {second}: status optimal -> optimal")
    same = api.client.get(f"/v1/jobs/{first}/diff/{first}", headers=api.h()).json()
    assert same["moves"] == []


def test_diff_needs_both_results(idle: Api) -> None:
    base = idle.submit(TINY_JSON)
    queued = idle.client.post(f"/v1/rounds/{base['id']}/solve", headers=idle.h()).json()["id"]
    r = idle.client.get(f"/v1/jobs/{queued}/diff/{queued}", headers=idle.h())
    assert r.status_code == 409
    assert r.json()["detail"] == f"job {queued} is queued; its result is not ready yet"


def test_another_tenants_ids_answer_404_like_missing_ones(api: Api) -> None:
    base = api.submit(TINY_JSON, tenant="A")
    mine = api.submit(TINY_JSON, tenant="B")
    job_a = api.client.post(f"/v1/rounds/{base['id']}/solve", headers=api.h("A")).json()["id"]
    job_b = api.client.post(f"/v1/rounds/{mine['id']}/solve", headers=api.h("B")).json()["id"]
    for job_id, tenant in ((job_a, "A"), (job_b, "B")):
        assert api.wait_job(job_id, tenant)["state"] == "succeeded"
    missing = str(uuid.uuid4())

    theirs = api.client.post(f"/v1/rounds/{base['id']}/scenarios", json=CLOSE_GP_B,
                             headers=api.h("B"))
    nothing = api.client.post(f"/v1/rounds/{missing}/scenarios", json=CLOSE_GP_B,
                              headers=api.h("B"))
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json() == nothing.json() == {"detail": "round not found", "errors": []}
    for a, b in ((job_a, job_b), (job_b, job_a), (job_a, job_a), (missing, job_b)):
        r = api.client.get(f"/v1/jobs/{a}/diff/{b}", headers=api.h("B"))
        assert r.status_code == 404, (a, b)
        assert r.json() == {"detail": "job not found", "errors": []}
    # A's data is untouched, and B can diff its own job.
    assert api.client.get("/v1/rounds", headers=api.h("A")).json()["count"] == 1
    assert api.client.get(f"/v1/jobs/{job_b}/diff/{job_b}", headers=api.h("B")).status_code \
        == 200
    assert api.client.post(f"/v1/rounds/{base['id']}/scenarios", json=CLOSE_GP_B).status_code \
        == 401


def test_the_routes_are_documented(idle: Api) -> None:
    spec = idle.client.get("/v1/openapi.json").json()
    post = spec["paths"]["/v1/rounds/{round_pk}/scenarios"]["post"]
    assert {"202", "404", "422", "429"} <= set(post["responses"])
    body = spec["components"]["schemas"]["ScenarioCreate"]
    assert {"name", "overrides", "time_limit_s", "workers", "seed"} <= set(body["properties"])
    get = spec["paths"]["/v1/jobs/{job_id}/diff/{other_job_id}"]["get"]
    assert {"200", "404", "409"} <= set(get["responses"])
