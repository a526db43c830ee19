"""The service resolves postcodes from the lookup file of its setting (MATCHER_POSTCODES);
without one, a round that gives postcodes is refused with the reason, never a postcode."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from svc_helpers import TINY_JSON, Api

JSON = {"content-type": "application/json"}


def tiny_with_postcodes() -> bytes:
    data = json.loads(TINY_JSON.read_text())
    data["placements"][0]["location"] = {"postcode": "e15 4ht"}
    data["pharmacists"][0]["home"] = {"postcode": "XX1 1XX"}  # synthetic, not in the file
    return json.dumps(data).encode()


def test_submitted_postcodes_resolve_from_the_configured_file(
        make_api: Callable[..., Api], tmp_path: Path) -> None:
    lookup = tmp_path / "postcodes.csv"
    lookup.write_text("pcds,lat,long\nE15 4HT,51.541000,0.003000\nXX1 1XX,51.5,0.0\n")
    api = make_api(run_jobs=False, postcodes=lookup)
    r = api.client.post("/v1/rounds", content=tiny_with_postcodes(), headers=api.h() | JSON)
    assert r.status_code == 201, r.text
    stored = api.client.get(f"/v1/rounds/{r.json()['id']}", headers=api.h()).json()["round"]
    assert stored["placements"][0]["location"] == {"lat": 51.541, "lon": 0.003}
    assert stored["pharmacists"][0]["home"] == {"lat": 51.5, "lon": 0.0}


def test_without_a_lookup_file_postcodes_are_refused(make_api: Callable[..., Api]) -> None:
    api = make_api(run_jobs=False)
    r = api.client.post("/v1/rounds", content=tiny_with_postcodes(), headers=api.h() | JSON)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [(e["where"], e["code"]) for e in errors] == [
        ("placements[GP-A].location.postcode", "postcodes_no_lookup"),
        ("pharmacists[PH-1].home.postcode", "postcodes_no_lookup")]
    assert "XX1" not in r.text
    assert "E15" not in r.text.upper()
