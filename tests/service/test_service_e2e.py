"""End to end against a real `matcher serve` (uvicorn) on 127.0.0.1 started by the test:
the NEL sample as JSON and as .xlsx, solved, followed over SSE, checked independently;
a long solve cancelled with its best-so-far result; a job served by a solve process started
(and warmed up) before it was submitted; and faults: a solve process killed with -9, and
the whole service killed with -9 and restarted."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from svc_helpers import NEL_JSON, NEL_XLSX, TINY_JSON, Server, spawned_children, wait_for

from matcher.checker import objective, violations
from matcher.formats import load_round
from matcher.result import Result
from matcher.validation import with_changes
from service.store import Store

TERMINAL = ("succeeded", "failed", "cancelled")


def nel_fair_document() -> bytes:
    """The NEL sample with a fairness weight: a first solution in about a second, a proof
    of optimality that takes minutes; the long solve to cancel or to kill."""
    doc = json.loads(NEL_JSON.read_text())
    doc["weights"] = doc.get("weights", {}) | {"fairness": 100}
    return json.dumps(doc).encode()


class Client:
    """httpx on a live server with one tenant's key."""

    def __init__(self, server: Server, tenant: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {server.key(tenant)}"}
        self.http = httpx.Client(base_url=server.url, headers=self.headers, timeout=60)

    def submit_json(self, data: bytes) -> str:
        r = self.http.post("/v1/rounds", content=data,
                           headers={"content-type": "application/json"})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def solve(self, round_pk: str, **params: Any) -> dict[str, Any]:
        r = self.http.post(f"/v1/rounds/{round_pk}/solve", json=params)
        assert r.status_code == 202, r.text
        body: dict[str, Any] = r.json()
        return body

    def job(self, job_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get(f"/v1/jobs/{job_id}").json()
        return body

    def events(self, job_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The job's SSE stream as (event, data) pairs, until the server ends it."""
        with httpx.stream("GET", f"{self.server.url}/v1/jobs/{job_id}/events",
                          headers=self.headers, timeout=120) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event is not None:
                    yield event, json.loads(line.removeprefix("data: "))
                    event = None

    def checked_result(self, job_id: str, rnd: Any) -> Result:
        r = self.http.get(f"/v1/jobs/{job_id}/result")
        assert r.status_code == 200, r.text
        result = Result.from_dict(r.json())
        assert violations(rnd, result.allocation) == []
        assert objective(rnd, result.allocation).total == result.objective
        return result


def test_nel_json_and_xlsx_end_to_end(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.start()
    client = Client(server, "North East London")
    rnd = load_round(NEL_JSON)
    from_json = client.submit_json(NEL_JSON.read_bytes())
    r = client.http.post("/v1/rounds", files={"file": ("nel.xlsx", NEL_XLSX.read_bytes())})
    assert r.status_code == 201, r.text
    from_xlsx = r.json()["id"]
    assert r.json()["summary"] == client.http.get(f"/v1/rounds/{from_json}").json()["summary"]
    objectives = []
    for pk in (from_json, from_xlsx):
        job = client.solve(pk, time_limit_s=30, workers=2, seed=0)
        assert job["state"] == "queued"
        events = list(client.events(job["id"]))
        kinds = [e for e, _ in events]
        assert kinds[-1] == "state"
        assert events[-1][1]["state"] == "succeeded"
        assert "progress" in kinds
        last_progress = next(d for e, d in reversed(events) if e == "progress")
        result = client.checked_result(job["id"], rnd)
        assert result.status == "optimal"
        assert last_progress["objective"] == result.objective
        assert last_progress["gap"] == 0.0
        objectives.append(result.objective)
    assert objectives[0] == objectives[1]  # the same round, whichever format it came in
    listed = client.http.get("/v1/jobs?state=succeeded").json()
    assert listed["count"] == 2
    health = httpx.get(server.url + "/v1/health").json()
    assert health["status"] == "ok"


def test_cancel_a_long_solve_keeps_its_best_solution(make_server: Callable[..., Server]
                                                     ) -> None:
    server = make_server()
    server.start()
    client = Client(server, "ICS cancel")
    pk = client.submit_json(nel_fair_document())
    job = client.solve(pk, time_limit_s=600, workers=2)
    stream = client.events(job["id"])
    seen = None
    for event, data in stream:
        if event == "progress" and data["objective"] is not None:
            seen = data
            break
    assert seen is not None
    r = client.http.delete(f"/v1/jobs/{job['id']}")
    assert r.status_code == 202
    assert r.json()["cancel_requested"] is True
    assert r.json()["state"] == "running"
    rest = list(stream)
    assert rest[-1][0] == "state"
    assert rest[-1][1]["state"] == "cancelled"
    assert rest[-1][1]["result_status"] == "feasible"
    rnd = with_changes(load_round(NEL_JSON), weights=json.loads(nel_fair_document())["weights"])
    result = client.checked_result(job["id"], rnd)
    assert result.status == "feasible"
    assert result.objective is not None
    assert result.objective >= seen["objective"]
    assert result.bound is not None
    assert result.bound >= result.objective


def _result_counts(data_dir: Any, job_ids: list[str]) -> dict[str, int]:
    store = Store(f"sqlite:///{data_dir / 'matcher.db'}", pool=False)
    try:
        return {j: store.result_count(j) for j in job_ids}
    finally:
        store.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def solve_processes(server: Server) -> set[int]:
    """The live solve processes (spawned children) of the server."""
    assert server.process is not None
    return spawned_children(server.process.pid)


def test_a_job_is_served_by_a_process_started_before_it(make_server: Callable[..., Server]
                                                         ) -> None:
    server = make_server()
    server.start()
    client = Client(server, "ICS warm")
    pk = client.submit_json(NEL_JSON.read_bytes())
    spares = wait_for(lambda: solve_processes(server), 60, "a spare solve process")
    job = client.solve(pk, time_limit_s=30, workers=2)
    done = wait_for(lambda: (j := client.job(job["id"]))["state"] in TERMINAL and j, 90,
                    "the job to finish")
    assert done["state"] == "succeeded"
    client.checked_result(job["id"], load_round(NEL_JSON))
    store = Store(f"sqlite:///{server.data_dir / 'matcher.db'}", pool=False)
    pid = store.get_job(None, job["id"]).pid
    store.dispose()
    assert pid in spares  # alive before the job was submitted
    assert '"warm": true' in server.logs()
    # A new spare replaces it; a graceful stop takes the spare with it.
    after = wait_for(lambda: solve_processes(server) - {pid}, 60, "the next spare")
    server.stop()
    assert not any(_alive(p) for p in after)


def test_a_solve_process_killed_mid_solve(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.start()
    client = Client(server, "ICS faults")
    long_pk = client.submit_json(nel_fair_document())
    tiny_pk = client.submit_json(TINY_JSON.read_bytes())
    victim = client.solve(long_pk, time_limit_s=8, workers=2)
    others = [client.solve(tiny_pk, time_limit_s=5, workers=1) for _ in range(3)]
    running = wait_for(lambda: (j := client.job(victim["id"]))["state"] == "running" and
                       (j["progress"]["elapsed_s"] or 0) >= 1 and j, 60, "the victim to solve")
    store = Store(f"sqlite:///{server.data_dir / 'matcher.db'}", pool=False)
    pid = store.get_job(None, victim["id"]).pid
    store.dispose()
    assert pid is not None
    assert running["attempts"] == 1
    os.kill(pid, signal.SIGKILL)
    ids = [victim["id"], *(o["id"] for o in others)]
    finals = [wait_for(lambda i=i: (j := client.job(i))["state"] in TERMINAL and j, 90,
                       f"job {i} to finish") for i in ids]
    assert [f["state"] for f in finals] == ["succeeded"] * 4
    assert finals[0]["attempts"] == 2
    assert finals[0]["error"] == ("attempt 1: the solve process was killed by signal 9; "
                                  "queued again")
    assert _result_counts(server.data_dir, ids) == dict.fromkeys(ids, 1)
    assert server.process is not None
    assert server.process.poll() is None  # the service itself never noticed a thing


def test_the_whole_service_killed_mid_solve(make_server: Callable[..., Server]) -> None:
    server = make_server()
    server.start()
    client = Client(server, "ICS restart")
    long_pk = client.submit_json(nel_fair_document())
    tiny_pk = client.submit_json(TINY_JSON.read_bytes())
    jobs = [client.solve(long_pk, time_limit_s=6, workers=1) for _ in range(2)]
    jobs += [client.solve(tiny_pk, time_limit_s=5, workers=1) for _ in range(3)]
    ids = [j["id"] for j in jobs]
    wait_for(lambda: (j := client.job(ids[0]))["state"] == "running" and
             (j["progress"]["elapsed_s"] or 0) >= 1, 60, "the first solve to be under way")
    store = Store(f"sqlite:///{server.data_dir / 'matcher.db'}", pool=False)
    pids = [p for j in ids if (p := store.get_job(None, j).pid)]
    store.dispose()
    assert pids
    spares = solve_processes(server) - set(pids)
    server.kill()
    # Orphaned solve processes (and the idle spare) notice their service is gone and stop
    # on their own.
    wait_for(lambda: not any(_alive(p) for p in [*pids, *spares]), 30,
             "orphaned solves to exit")
    restarted = make_server(server.data_dir)
    restarted.start()
    client.http = httpx.Client(base_url=restarted.url, headers=client.headers, timeout=60)
    finals = [wait_for(lambda i=i: (j := client.job(i))["state"] in TERMINAL and j, 120,
                       f"job {i} to finish") for i in ids]
    assert [f["state"] for f in finals] == ["succeeded"] * 5  # none lost
    assert finals[0]["attempts"] == 2
    assert "stopped renewing its lease" in finals[0]["error"]
    assert _result_counts(server.data_dir, ids) == dict.fromkeys(ids, 1)  # none twice
    listed = client.http.get("/v1/jobs").json()
    assert sorted(j["id"] for j in listed["data"]) == sorted(ids)
