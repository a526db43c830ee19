"""`matcher keys create|revoke` act on the same data directory as `matcher serve`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from matcher.cli import app
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
