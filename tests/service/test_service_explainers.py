"""The explanation worker (issue 13, row 5): killed between requests it is replaced without
anyone noticing; killed while it works, that request gets a 503 it can retry and the next
request is served; readiness never reports a broken pool.

A real ``matcher serve`` on loopback and its real worker process, killed with SIGKILL: no
mocks.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from svc_helpers import NEL_JSON, Api, Server, spawned_children, wait_for


def _solved(api: Api) -> str:
    pk = api.submit(NEL_JSON)["id"]
    job = api.client.post(f"/v1/rounds/{pk}/solve", headers=api.h()).json()
    assert api.wait_job(job["id"])["state"] == "succeeded"
    return str(job["id"])


def _live_solved(server: Server, key: str, pk: str) -> str:
    r = httpx.post(f"{server.url}/v1/rounds/{pk}/solve", json={"workers": 1},
                   headers=_auth(key), timeout=30)
    assert r.status_code == 202, r.text
    job = str(r.json()["id"])
    wait_for(lambda: server.get(f"/v1/jobs/{job}", headers=_auth(key)).json()["state"]
             == "succeeded", 90, "the solve")
    return job


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_killed_explanation_worker_is_replaced(make_server: Callable[..., Server]) -> None:
    """A live ``matcher serve``: its explanation worker killed between requests, then while
    it works; the service stays ready and serves the next request each time."""
    server = make_server(prewarm="false", explain_time_limit_s=6, explain_max_resolves=500)
    server.start()
    assert server.process is not None
    pid = server.process.pid
    key = server.key("ICS A")
    up = httpx.post(server.url + "/v1/rounds", content=NEL_JSON.read_bytes(), timeout=60,
                    headers=_auth(key) | {"content-type": "application/json"})
    assert up.status_code == 201, up.text
    first, second, third = (_live_solved(server, key, up.json()["id"]) for _ in range(3))
    wait_for(lambda: len(spawned_children(pid)) == 1 or None, 30, "the solves' processes to end")
    others = spawned_children(pid)  # the intake worker

    def explain(job: str) -> httpx.Response:
        return httpx.get(f"{server.url}/v1/jobs/{job}/explain", headers=_auth(key),
                         timeout=120)

    ok = explain(first)
    assert ok.status_code == 200, ok.text
    (worker,) = spawned_children(pid) - others

    # Killed between requests: the next request is served by a new worker.
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: worker not in spawned_children(pid), 10, "the worker to die")
    ready = server.get("/v1/ready").json()
    assert ready["status"] == "ready", ready
    assert ready["checks"]["explainer"].startswith("ok")
    again = explain(second)
    assert again.status_code == 200, again.text
    (new,) = spawned_children(pid) - others
    assert new != worker

    # Killed while it works: that request gets a 503 to retry.
    answer: dict[str, Any] = {}
    asking = threading.Thread(target=lambda: answer.update(r=explain(third)))
    asking.start()
    time.sleep(2.0)  # re-solving (the worker is started and warm)
    assert "r" not in answer, "the explanation ended before the worker could be killed"
    os.kill(new, signal.SIGKILL)
    asking.join(60)
    lost = answer["r"]
    assert lost.status_code == 503, lost.text
    assert lost.headers["retry-after"] == "1"
    assert "restarted" in lost.json()["detail"]
    retried = explain(third)
    assert retried.status_code == 200, retried.text
    replaced = [json.loads(line) for line in server.logs().splitlines()
                if '"worker replaced"' in line]
    assert [(d["pool"], d["reason"]) for d in replaced] == [
        ("explanation", "found dead"), ("explanation", "died")]


def test_an_explanation_over_the_memory_cap_is_refused_and_the_worker_replaced(
        make_api: Callable[..., Api]) -> None:
    """The explanation worker's address space is capped (``explain_memory_mb``): an
    explanation that needs more is answered 409 naming the cap and its setting (never a
    500), the worker is replaced each time, and the service stays ready."""
    api = make_api(explain_memory_mb=250)  # an explanation of NEL needs about 420 MiB
    job = _solved(api)
    for n in (1, 2):
        r = api.client.get(f"/v1/jobs/{job}/explain", headers=api.h())
        assert r.status_code == 409, r.text
        assert "more than the 250 MiB of memory" in r.json()["detail"], r.json()
        assert "MATCHER_EXPLAIN_MEMORY_MB" in r.json()["detail"]
        assert api.app.state.explainers.replaced == n
    assert api.client.get("/v1/ready").json()["status"] == "ready"
