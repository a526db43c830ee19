"""Load test of the HTTP service on loopback: many concurrent clients submit and poll.

Starts ``matcher serve`` on 127.0.0.1 with a temporary data directory (or uses ``--url``
and ``--key``), then runs ``--clients`` concurrent clients. Each submits a round, asks for
a solve, polls the job every ``--poll`` seconds until it is finished and fetches the
result, ``--jobs`` times. Solves run in the service's child processes meanwhile, so the
status reads are measured while solves run. Prints throughput, p50/p99 latency per kind of
request, errors, and lost jobs (accepted but never finished with exactly one result).

The per-tenant limit is in force (``--limit``, the service's default 20): a submission
answered 429 (too many jobs) or 503 (the database busy) is retried after its
``Retry-After`` with the same ``Idempotency-Key``, as a client should, and counted apart
from errors. ``--database-url`` runs the server on PostgreSQL instead of SQLite.

    .venv/bin/python benchmarks/load_service.py --clients 50
    .venv/bin/python benchmarks/load_service.py --clients 60 --tenants 2 --limit 20 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/load
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ROUND = ROOT / "data" / "samples" / "tiny.json"
TERMINAL = {"succeeded", "failed", "cancelled"}
RETRIED = (429, 503)
"""Answers a client waits out (``Retry-After``) and sends again: not errors."""


class Stats:
    """Latencies and errors by kind of request."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.refused: dict[int, int] = defaultdict(int)  # 429s and 503s, retried

    async def call(self, kind: str, client: httpx.AsyncClient, method: str, url: str,
                   expect: int, **kw: Any) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError:
            self.errors[kind] += 1
            return None
        self.latency[kind].append(time.perf_counter() - start)
        if r.status_code in RETRIED:
            self.refused[r.status_code] += 1
            return r
        if r.status_code != expect:
            self.errors[kind] += 1
            return None
        return r


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) in milliseconds."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def one_client(n: int, url: str, key: str, jobs: int, poll: float, stats: Stats,
                     accepted: list[tuple[str, str]]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    data = ROUND.read_bytes()
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for i in range(jobs):
            r = await _retried(stats, "submit round", client, "/v1/rounds", 201,
                               content=data, headers={"content-type": "application/json"})
            if r is None:
                continue
            r = await _retried(stats, "submit solve", client,
                               f"/v1/rounds/{r.json()['id']}/solve", 202,
                               json={"time_limit_s": 10, "workers": 1},
                               headers={"Idempotency-Key": f"load-{n}-{i}"})
            if r is None:
                continue
            job_id = r.json()["id"]
            accepted.append((key, job_id))
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                await asyncio.sleep(poll)
                r = await stats.call("read status", client, "GET", f"/v1/jobs/{job_id}", 200)
                if r is not None and r.json()["state"] in TERMINAL:
                    break
            await stats.call("fetch result", client, "GET", f"/v1/jobs/{job_id}/result", 200)


async def _retried(stats: Stats, kind: str, client: httpx.AsyncClient, url: str,
                   expect: int, **kw: Any) -> httpx.Response | None:
    """POST until it is not refused (429/503), waiting each ``Retry-After`` (10 min at most)."""
    deadline = time.monotonic() + 600
    while True:
        r = await stats.call(kind, client, "POST", url, expect, **kw)
        if r is None or r.status_code not in RETRIED:
            return r
        if time.monotonic() > deadline:
            stats.errors[kind] += 1
            return None
        await asyncio.sleep(float(r.headers.get("retry-after", "1")))


async def audit(url: str, accepted: list[tuple[str, str]]) -> int:
    """Accepted jobs that did not finish with a result: should be none."""
    lost = 0
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for key, job_id in accepted:
            h = {"Authorization": f"Bearer {key}"}
            job = (await client.get(f"/v1/jobs/{job_id}", headers=h)).json()
            result = await client.get(f"/v1/jobs/{job_id}/result", headers=h)
            if job.get("state") != "succeeded" or result.status_code != 200:
                lost += 1
    return lost


def start_server(data_dir: Path, log: Path, limit: int, database_url: str | None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """``matcher serve`` on a free port of 127.0.0.1; returns the process and its URL."""
    env = {**os.environ, "MATCHER_MAX_ACTIVE_JOBS_PER_TENANT": str(limit),
           "MATCHER_LOG_LEVEL": "INFO"}
    if database_url:
        env["MATCHER_DATABASE_URL"] = database_url
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "matcher_cli", "serve", "--port", "0",
                                 "--data-dir", str(data_dir)], stdout=out, stderr=out,
                                env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.findall(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", log.read_text())
        if found:
            return proc, found[-1]
        if proc.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start within 60 s")


def make_key(data_dir: Path, tenant: str, database_url: str | None) -> str:
    """A key made with ``matcher keys create``."""
    where = ["--database-url", database_url] if database_url else ["--data-dir", str(data_dir)]
    out = subprocess.run([sys.executable, "-m", "matcher_cli", "keys", "create", tenant,
                          *where], capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip()


def main() -> None:
    """Run the load test and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--jobs", type=int, default=1, help="jobs per client")
    ap.add_argument("--tenants", type=int, default=5)
    ap.add_argument("--poll", type=float, default=0.5, help="seconds between status reads")
    ap.add_argument("--limit", type=int, default=20,
                    help="the server's MAX_ACTIVE_JOBS_PER_TENANT (429s beyond it)")
    ap.add_argument("--database-url", help="start the server on this database (PostgreSQL) "
                    "instead of SQLite in a temporary directory")
    ap.add_argument("--url", help="use a running service instead of starting one")
    ap.add_argument("--key", help="API key for --url")
    args = ap.parse_args()

    proc = None
    with tempfile.TemporaryDirectory(prefix="matcher-load-") as tmp:
        if args.url:
            if not args.key:
                raise SystemExit("--url needs --key")
            url, keys = args.url, [args.key]
        else:
            data_dir = Path(tmp) / "data"
            proc, url = start_server(data_dir, Path(tmp) / "server.log", args.limit,
                                     args.database_url)
            keys = [make_key(data_dir, f"ICS load {t}", args.database_url)
                    for t in range(args.tenants)]
        stats = Stats()
        accepted: list[tuple[str, str]] = []
        start = time.perf_counter()
        try:
            asyncio.run(_run(args, url, keys, stats, accepted))
            took = time.perf_counter() - start
            lost = asyncio.run(audit(url, accepted))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
    requests = sum(len(v) for v in stats.latency.values())
    db = "PostgreSQL" if args.database_url else "SQLite" if not args.url else "given"
    print(f"{args.clients} clients x {args.jobs} job(s), {len(keys)} tenant(s), poll "
          f"{args.poll} s, limit {args.limit} active jobs per tenant, {db} database, on "
          f"{os.cpu_count()} cores")
    print(f"{requests} requests in {took:.1f} s: {requests / took:.1f} requests/s, "
          f"{len(accepted) / took:.2f} jobs/s")
    print(f"{'request':<14}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for kind, values in stats.latency.items():
        print(f"{kind:<14}{len(values):>7}{pct(values, 50):>9.1f}{pct(values, 99):>9.1f}"
              f"{1000 * max(values):>9.1f}{stats.errors[kind]:>8}")
    errors = sum(stats.errors.values())
    print(f"refused and retried: {stats.refused[429]} x 429 (tenant limit), "
          f"{stats.refused[503]} x 503 (database busy)")
    print(f"errors: {errors}; jobs accepted: {len(accepted)}; lost jobs: {lost}; "
          f"mean status read {1000 * statistics.fmean(stats.latency['read status']):.1f} ms")
    if errors or lost:
        raise SystemExit(1)


async def _run(args: argparse.Namespace, url: str, keys: list[str], stats: Stats,
               accepted: list[tuple[str, str]]) -> None:
    await asyncio.gather(*(one_client(n, url, keys[n % len(keys)], args.jobs, args.poll,
                                      stats, accepted) for n in range(args.clients)))


if __name__ == "__main__":
    main()
