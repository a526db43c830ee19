"""`matcher keys create|revoke` act on the same data directory as `matcher serve`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from matcher_cli import app
from service.store import Store


def test_keys_create_and_revoke(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "data"
    made = runner.invoke(app, ["keys", "create", "North East London", "--data-dir", str(data)])
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert key.startswith("smk_")
    store = Store(f"sqlite:///{data / 'matcher.db'}", pool=False)
    assert store.tenant_for_key(key) == "North East London"
    revoked = runner.invoke(app, ["keys", "revoke", key, "--data-dir", str(data)])
    assert revoked.exit_code == 0
    assert revoked.output.strip() == "revoked a key of tenant North East London"
    assert store.tenant_for_key(key) is None
    unknown = runner.invoke(app, ["keys", "revoke", "smk_nope", "--data-dir", str(data)])
    assert unknown.exit_code == 1
    assert "unknown key" in unknown.output
    empty = runner.invoke(app, ["keys", "create", " ", "--data-dir", str(data)])
    assert empty.exit_code == 2
    store.dispose()


def test_serve_help_names_its_options() -> None:
    out = CliRunner().invoke(app, ["serve", "--help"])
    assert out.exit_code == 0
    for option in ("--host", "--port", "--data-dir", "--database-url"):
        assert option in out.output


def test_matcher_serve_logs_only_json_lines(tmp_path: Path) -> None:
    """`matcher serve` from the command line: every line it logs is a JSON object."""
    import json
    import subprocess
    import sys

    import httpx
    from svc_helpers import free_port, wait_for

    port = free_port()
    exe = Path(sys.executable).parent / "matcher"
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--data-dir",
                                 str(tmp_path / "data")], stdout=sink, stderr=sink)
        try:
            def healthy() -> bool:
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(healthy, 60, "the service to answer /health")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines
    not_json = []
    for line in lines:
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            not_json.append(line[:80])
    assert not_json == []
