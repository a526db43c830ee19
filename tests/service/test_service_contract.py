"""The contract's JSON Schemas over HTTP: anonymous, the committed files, in the OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from svc_helpers import Api

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["round", "result"])
def test_the_schemas_are_published_without_a_key(make_api: Callable[..., Api],
                                                 name: str) -> None:
    client = make_api(run_jobs=False).client
    r = client.get(f"/v1/schema/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    committed = json.loads((ROOT / "docs" / "schema" / f"{name}.schema.json").read_text())
    assert r.json() == committed
    assert r.json()["title"] == f"spin-{name}/1"


def test_an_unknown_schema_is_a_422_and_both_are_in_the_openapi(
        make_api: Callable[..., Api]) -> None:
    client = make_api(run_jobs=False).client
    r = client.get("/v1/schema/scenario")
    assert r.status_code == 422
    assert r.json()["errors"][0]["where"] == "path.name"
    operation = client.get("/v1/openapi.json").json()["paths"]["/v1/schema/{name}"]["get"]
    assert operation["parameters"][0]["schema"]["enum"] == ["round", "result"]
    assert "security" not in operation
