"""Helpers of the service tests (fixtures are in ``conftest.py``): sample paths, bounded
polling, the pharmacist names that must never be logged, test settings, an in-process API
client and a live `matcher serve` process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from matcher.synthetic import generate_round_data

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
NEL_JSON = SAMPLES / "nel-2027-c1.json"
NEL_XLSX = SAMPLES / "nel-2027-c1.xlsx"
TINY_JSON = SAMPLES / "tiny.json"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1
             ) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


# ---- personal data must never reach a log ------------------------------------------


def _names() -> set[str]:
    names = {p["name"] for p in json.loads(NEL_JSON.read_text())["pharmacists"]}
    names |= {p["name"] for p in generate_round_data(60, 45, 3, seed=0)["pharmacists"]}
    return {n for n in names if n}


PHARMACIST_NAMES = frozenset(_names())


def names_in(text: str) -> list[str]:
    """The pharmacist names that occur in ``text``."""
    return sorted(n for n in PHARMACIST_NAMES if n in text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def fast_settings(**changes: Any) -> Any:
    """Settings with short leases and polls, for tests."""
    from service.settings import Settings

    values: dict[str, Any] = {
        "lease_s": 3.0, "heartbeat_s": 0.3, "reconcile_s": 0.5, "events_poll_s": 0.1,
        "max_concurrent_solves": 2, "max_workers": 2, "default_time_limit_s": 10.0,
        "explain_time_limit_s": 5.0, "explain_max_resolves": 5, "cancel_grace_s": 20.0,
        # Most tests upload once or not at all: a worker is started when first needed
        # (tests/service/test_service_intake.py runs the service's default).
        "intake_prewarm": False,
    }
    values.update(changes)
    return Settings(**values)



def spawned_children(pid: int) -> set[int]:
    """Live processes spawned (``multiprocessing`` spawn) by process ``pid``: a server's
    solve processes and worker processes (Linux ``/proc``)."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.add(int(entry))
    return found


@dataclass
class Api:
    """A TestClient on an app, with a key per tenant."""

    client: Any
    app: Any
    keys: dict[str, str] = field(default_factory=dict)

    def h(self, tenant: str = "A") -> dict[str, str]:
        """The Authorization header of ``tenant`` (a key is made on first use)."""
        if tenant not in self.keys:
            self.keys[tenant] = self.app.state.store.create_key(f"ICS {tenant}")
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    def submit(self, path: Path = TINY_JSON, tenant: str = "A") -> dict[str, Any]:
        """Submit a round file as JSON; returns the 201 body."""
        r = self.client.post("/v1/rounds", content=path.read_bytes(),
                             headers=self.h(tenant) | {"content-type": "application/json"})
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_job(self, job_id: str, tenant: str = "A", timeout: float = 60) -> dict[str, Any]:
        """Poll a job until it is terminal."""
        def done() -> dict[str, Any] | None:
            body: dict[str, Any] = self.client.get(f"/v1/jobs/{job_id}",
                                                   headers=self.h(tenant)).json()
            return body if body["state"] in ("succeeded", "failed", "cancelled") else None
        result: dict[str, Any] = wait_for(done, timeout, f"job {job_id} to finish", 0.2)
        return result


@dataclass
class Server:
    """A `matcher serve` process on 127.0.0.1 (port chosen by the OS)."""

    data_dir: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self, timeout: float = 60) -> None:
        """Start and wait until it listens."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "matcher_cli", "serve", "--port", "0", "--data-dir",
             str(self.data_dir)], stdout=log, stderr=log, env=self.env, cwd=ROOT,
            start_new_session=True)
        log.close()
        offset = self.log_path.stat().st_size

        def listening() -> str | None:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"server exited: {self.log_path.read_text()[-2000:]}")
            text = self.log_path.read_text(errors="replace")
            found = re.findall(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", text)
            return found[-1] if found and len(text) >= offset else None

        self.url = wait_for(listening, timeout, "the server to listen", 0.1)
        wait_for(lambda: self.get("/v1/health").status_code == 200, timeout, "health")

    def get(self, path: str, **kw: Any) -> httpx.Response:
        """GET on the server."""
        return httpx.get(self.url + path, timeout=30, **kw)

    def kill(self) -> None:
        """kill -9 the service process (its solve processes are left to notice)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), killing it if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        """Everything the server (and its solve processes) logged."""
        return self.log_path.read_text(errors="replace")

    def key(self, tenant: str) -> str:
        """A new API key, made with `matcher keys create` on the server's data dir."""
        out = subprocess.run(
            [sys.executable, "-m", "matcher_cli", "keys", "create", tenant, "--data-dir",
             str(self.data_dir)], capture_output=True, text=True, env=self.env, cwd=ROOT,
            check=True, timeout=60)
        return out.stdout.strip()


