"""The JSON Schemas of ``spin-round/1`` and ``spin-result/1`` in ``docs/schema/``: the
committed files are what the models generate, every sample round and real results
validate against them, and documents of the wrong shape do not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from matcher.formats import load_round
from matcher.schema import SCHEMAS, round_schema, schema_text
from matcher.solving import SolveParams, solve

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
SCHEMA_DIR = ROOT / "docs" / "schema"


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _errors(name: str, document: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in _validator(name).iter_errors(document)]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_committed_schema_is_what_the_models_generate(name: str) -> None:
    committed = (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(name), (
        f"docs/schema/{name}.schema.json is out of date: run scripts/make_schema.py")


def test_the_round_schema_names_its_format_and_describes_every_field() -> None:
    schema = round_schema()
    assert schema["title"] == "spin-round/1"
    assert schema["properties"]["format"]["const"] == "spin-round/1"
    assert set(schema["required"]) == {"format", "periods", "placements", "pharmacists"}
    for name, definition in schema["$defs"].items():
        for field, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no description"


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_every_sample_round_validates(sample: str) -> None:
    document = json.loads((SAMPLES / sample).read_text(encoding="utf-8"))
    assert _errors("round", document) == []
    # ... and so does its canonical form, as the library writes it.
    assert _errors("round", load_round(SAMPLES / sample).to_data()) == []


@pytest.mark.parametrize("copy_of", ["nel-2027-c1.xlsx", "nel-2027-c1-csv"])
def test_the_tabular_samples_load_into_a_round_that_validates(copy_of: str) -> None:
    assert _errors("round", load_round(SAMPLES / copy_of).to_data()) == []


@pytest.mark.parametrize(("change", "where"), [
    (lambda d: d.pop("format"), ""),
    (lambda d: d.update(format="spin-round/2"), "format"),
    (lambda d: d["placements"][0].update(capacity=-1), "placements/0/capacity"),
    (lambda d: d["placements"][0].update(sector="pharmacy"), "placements/0/sector"),
    (lambda d: d["pharmacists"][0].update(nickname="x"), "pharmacists/0"),
    (lambda d: d["pharmacists"][0]["home"].pop("lat"), "pharmacists/0/home"),
    (lambda d: d["weights"].update(travel=1.5), "weights/travel"),
])
def test_a_round_of_the_wrong_shape_does_not_validate(change: Any, where: str) -> None:
    document = json.loads((SAMPLES / "tiny.json").read_text(encoding="utf-8"))
    change(document)
    errors = _errors("round", document)
    assert any(e.startswith(f"{where}:") for e in errors), errors


@pytest.mark.parametrize("sample", ["tiny.json", "nel-2027-c1.json", "infeasible.json"])
def test_a_solved_result_validates(sample: str) -> None:
    result = solve(load_round(SAMPLES / sample), SolveParams(time_limit_s=20, workers=1))
    document = json.loads(json.dumps(result.to_dict()))
    assert _errors("result", document) == []
    assert bool(document["diagnosis"]) == (sample == "infeasible.json")
    broken = copy.deepcopy(document)
    broken["status"] = "solved"
    del broken["unassigned"]
    assert sorted(_errors("result", broken)) == [
        ": 'unassigned' is a required property",
        "status: 'solved' is not one of ['optimal', 'feasible', 'infeasible', 'unknown']"]
