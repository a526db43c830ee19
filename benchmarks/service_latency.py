"""Round-trip latency of one solve on an idle service: from ``POST /v1/rounds/{id}/solve``
to ``GET /v1/jobs/{id}/result`` answering 200, for the NEL sample.

Starts ``matcher serve`` on 127.0.0.1 with a temporary data directory (or uses ``--url``
and ``--key``), submits the round once, then runs ``--jobs`` solves of it one after the
other, polling the result every ``--poll`` seconds, and waits ``--idle`` seconds between
solves so each starts on an idle service. Prints p50, p90 and max in milliseconds, plus
the time from submission to the job being ``running`` (what process start-up costs).

    .venv/bin/python -m benchmarks.service_latency --jobs 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.load_service import ROOT, make_key, pct, start_server

NEL = ROOT / "data" / "samples" / "nel-2027-c1.json"


def one_job(client: httpx.Client, round_pk: str, poll: float, time_limit_s: float,
            workers: int) -> tuple[float, float]:
    """Seconds from the solve request to the result being readable, and to ``running``."""
    start = time.perf_counter()
    r = client.post(f"/v1/rounds/{round_pk}/solve",
                    json={"time_limit_s": time_limit_s, "workers": workers, "seed": 0})
    r.raise_for_status()
    job_id = r.json()["id"]
    running = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        res = client.get(f"/v1/jobs/{job_id}/result")
        if res.status_code == 200:
            took = time.perf_counter() - start
            return took, running if running is not None else took
        if res.status_code != 409:
            raise SystemExit(f"unexpected {res.status_code}: {res.text[:300]}")
        if running is None and "running" in res.json().get("detail", ""):
            running = time.perf_counter() - start
        if "without a result" in res.json().get("detail", ""):
            raise SystemExit(f"job {job_id} ended without a result: {res.text[:300]}")
        time.sleep(poll)
    raise SystemExit(f"job {job_id} did not finish within 120 s")


def main() -> None:
    """Run the solves one by one and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--poll", type=float, default=0.01, help="seconds between result reads")
    ap.add_argument("--idle", type=float, default=3.0, help="seconds between solves")
    ap.add_argument("--warmup", type=int, default=1, help="solves run first, not counted")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--url", help="use a running service instead of starting one")
    ap.add_argument("--key", help="API key for --url")
    ap.add_argument("--log", type=Path, help="keep the started server's log here")
    args = ap.parse_args()

    proc = None
    with tempfile.TemporaryDirectory(prefix="matcher-latency-") as tmp:
        if args.url:
            if not args.key:
                raise SystemExit("--url needs --key")
            url, key = args.url, args.key
        else:
            data_dir = Path(tmp) / "data"
            proc, url = start_server(data_dir, args.log or Path(tmp) / "server.log")
            key = make_key(data_dir, "ICS latency")
        totals: list[float] = []
        runnings: list[float] = []
        try:
            with httpx.Client(base_url=url, timeout=60,
                              headers={"Authorization": f"Bearer {key}"}) as client:
                r = client.post("/v1/rounds", content=NEL.read_bytes(),
                                headers={"content-type": "application/json"})
                r.raise_for_status()
                round_pk = r.json()["id"]
                time.sleep(args.idle)
                for i in range(args.warmup + args.jobs):
                    took, running = one_job(client, round_pk, args.poll, args.time_limit,
                                            args.workers)
                    if i >= args.warmup:
                        totals.append(took)
                        runnings.append(running)
                    time.sleep(args.idle)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(30)
    print(f"NEL sample, {len(totals)} solves one at a time ({args.idle} s idle between), "
          f"workers {args.workers}, poll {1000 * args.poll:.0f} ms, on {os.cpu_count()} cores")
    print(f"{'measure':<28}{'p50 ms':>9}{'p90 ms':>9}{'max ms':>9}")
    for name, values in (("solve request -> result 200", totals),
                         ("solve request -> running", runnings)):
        print(f"{name:<28}{pct(values, 50):>9.1f}{pct(values, 90):>9.1f}"
              f"{1000 * max(values):>9.1f}")


if __name__ == "__main__":
    main()
