"""The explanation worker (issue 13, row 5): killed between requests it is replaced without
anyone noticing; killed while it works, that request gets a 503 it can retry and the next
request is served; readiness never reports a broken pool.

A real worker process, killed with SIGKILL: no mocks.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from svc_helpers import NEL_JSON, Api, wait_for


def _solved(api: Api) -> str:
    pk = api.submit(NEL_JSON)["id"]
    job = api.client.post(f"/v1/rounds/{pk}/solve", headers=api.h()).json()
    assert api.wait_job(job["id"])["state"] == "succeeded"
    return str(job["id"])


def _worker_pids(api: Api) -> list[int]:
    pids: list[int] = api.app.state.explainers.pids()
    return pids


def _budget(api: Api, seconds: float, resolves: int) -> None:
    """The explanation budget of the requests that follow (the app reads its settings per
    request): short ones for the quick asks, a long one to kill the worker mid-way."""
    settings = api.app.state.settings
    api.app.state.settings = settings.model_copy(
        update={"explain_time_limit_s": seconds, "explain_max_resolves": resolves})


def test_a_killed_explanation_worker_is_replaced(make_api: Callable[..., Api]) -> None:
    api = make_api()
    first, second, third = (_solved(api) for _ in range(3))
    _budget(api, 1.0, 2)
    ok = api.client.get(f"/v1/jobs/{first}/explain", headers=api.h())
    assert ok.status_code == 200, ok.text
    (pid,) = _worker_pids(api)

    # Killed between requests: the next request is served by a new worker.
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not api.app.state.explainers.alive() or None, 10, "the worker to die")
    ready = api.client.get("/v1/ready").json()
    assert ready["status"] == "ready", ready
    assert ready["checks"]["explainer"].startswith("ok")
    again = api.client.get(f"/v1/jobs/{second}/explain", headers=api.h())
    assert again.status_code == 200, again.text
    assert _worker_pids(api) != [pid]
    assert api.app.state.explainers.replaced == 1

    # Killed while it works (30 s of re-solves): that request gets a 503 to retry.
    _budget(api, 30.0, 500)
    answer: dict[str, Any] = {}

    def ask() -> None:
        answer["r"] = api.client.get(f"/v1/jobs/{third}/explain", headers=api.h())

    asking = threading.Thread(target=ask)
    asking.start()
    busy = wait_for(lambda: _worker_pids(api) or None, 30, "a worker to start")
    time.sleep(3.0)  # spawned, imported and re-solving
    assert "r" not in answer, "the explanation ended before the worker could be killed"
    os.kill(busy[0], signal.SIGKILL)
    asking.join(60)
    lost = answer["r"]
    assert lost.status_code == 503, lost.text
    assert lost.headers["retry-after"] == "1"
    assert "restarted" in lost.json()["detail"]
    assert api.app.state.explainers.replaced == 2
    _budget(api, 1.0, 2)
    retried = api.client.get(f"/v1/jobs/{third}/explain", headers=api.h())
    assert retried.status_code == 200, retried.text


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
