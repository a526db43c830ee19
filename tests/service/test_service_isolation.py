"""Tenant isolation: for every route with an id and every method, another tenant's id
answers exactly like an id that does not exist, and the owner's data is unchanged."""

from __future__ import annotations

import re
import uuid

from svc_helpers import TINY_JSON, Api


def _fill(path: str, round_pk: str, job_id: str) -> str:
    """The path with {round_pk} set to a round id and every other parameter to a job id."""
    return re.sub(r"\{([^}]+)\}", lambda m: round_pk if m.group(1) == "round_pk" else job_id,
                  path)


def _snapshot(api: Api, round_pk: str, job_id: str) -> dict[str, object]:
    h = api.h("A")
    return {
        "round": api.client.get(f"/v1/rounds/{round_pk}", headers=h).json(),
        "job": api.client.get(f"/v1/jobs/{job_id}", headers=h).json(),
        "result": api.client.get(f"/v1/jobs/{job_id}/result", headers=h).json(),
        "explain": api.client.get(f"/v1/jobs/{job_id}/explain", headers=h).json(),
        "rounds": api.client.get("/v1/rounds", headers=h).json(),
        "jobs": api.client.get("/v1/jobs", headers=h).json(),
    }


def test_another_tenants_ids_answer_404_like_missing_ones(api: Api) -> None:
    round_pk = api.submit(TINY_JSON, tenant="A")["id"]
    job_id = api.client.post(f"/v1/rounds/{round_pk}/solve", headers=api.h("A")).json()["id"]
    assert api.wait_job(job_id, "A")["state"] == "succeeded"
    before = _snapshot(api, round_pk, job_id)
    assert before["result"]["status"] == "optimal"  # type: ignore[index]
    api.submit(TINY_JSON, tenant="B")  # B has data of its own too

    spec = api.client.get("/v1/openapi.json").json()
    tried = set()
    for path, item in spec["paths"].items():
        if "{" not in path:
            continue
        for method in sorted(m.upper() for m in item):
            theirs = api.client.request(method, _fill(path, round_pk, job_id), headers=api.h("B"))
            nowhere = str(uuid.uuid4())
            missing = api.client.request(method, _fill(path, nowhere, nowhere), headers=api.h("B"))
            assert theirs.status_code == missing.status_code, (method, path, theirs.text)
            assert theirs.json() == missing.json(), (method, path)
            if missing.status_code != 422:  # a route whose body is checked first
                assert theirs.status_code == 404, (method, path, theirs.text)
                assert theirs.json()["detail"].endswith("not found")
            tried.add((method, path))
    assert len(tried) >= 8  # every method of every route with an id (8 of them are ours)
    assert _snapshot(api, round_pk, job_id) == before
    # B sees none of A's rounds or jobs in its lists either.
    listed = api.client.get("/v1/rounds", headers=api.h("B")).json()
    assert round_pk not in {r["id"] for r in listed["data"]}
    assert listed["count"] == 1
    assert api.client.get("/v1/jobs", headers=api.h("B")).json() == {"data": [], "count": 0}
