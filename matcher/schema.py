"""JSON Schemas of the contract's two documents, generated from the models that read them.

- ``spin-round/1`` (a round, spec §1 and ``docs/round-format.md``) from
  :class:`matcher.domain.Round`: what a round document may hold, field by field, with each
  field's description, type, range and default. It checks the *shape* of a document;
  :func:`matcher.validation.parse_round` checks the rest (ids unique, references resolve,
  pins eligible...), so a document can match the schema and still be refused.
- ``spin-result/1`` (an answer, spec §5) from :class:`matcher.result.Result`: every field
  of every result written.

``scripts/make_schema.py`` writes them to ``docs/schema/round.schema.json`` and
``docs/schema/result.schema.json``; the HTTP service publishes them at
``GET /v1/schema/round`` and ``GET /v1/schema/result``; a test checks that the committed
files are what the models generate::

    from matcher.schema import SCHEMAS, schema_text

    print(schema_text("round"))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from matcher.domain import FORMAT as ROUND_FORMAT
from matcher.domain import Round
from matcher.result import FORMAT as RESULT_FORMAT
from matcher.result import Result

__all__ = ["DIALECT", "SCHEMAS", "result_schema", "round_schema", "schema_text"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect of the generated schemas."""


def _document(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    return {"$schema": DIALECT, "title": title, "description": description,
            **{k: v for k, v in schema.items() if k not in ("title", "description")}}


def round_schema() -> dict[str, Any]:
    """The JSON Schema of a round document (``spin-round/1``)."""
    return _document(
        Round.model_json_schema(mode="validation"), ROUND_FORMAT,
        "A rotation round of SPIN Matcher (docs/round-format.md): one cohort of pharmacists, "
        "the placements offered over the rotation periods, the scheme's rules and the "
        "weights of its priorities. The schema checks a document's shape; references "
        "between records (ids, pins, preferences) are checked when the round is loaded.")


def result_schema() -> dict[str, Any]:
    """The JSON Schema of a result document (``spin-result/1``)."""
    return _document(
        TypeAdapter(Result).json_schema(mode="serialization"), RESULT_FORMAT,
        "The answer of SPIN Matcher to a round (docs/round-format.md, 'The answer'): status, "
        "objective, bound and gap, every assignment with its score terms, every empty slot "
        "with its reason, the KPIs, the diagnosis of an infeasible round and solve stats.")


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "round": round_schema,
    "result": result_schema,
}
"""The schemas by name (``docs/schema/<name>.schema.json``, ``/v1/schema/<name>``)."""


def schema_text(name: str) -> str:
    """The schema ``name`` (``round`` or ``result``) as the committed file holds it:
    indented JSON, keys in the models' order, a final newline."""
    if name not in SCHEMAS:
        raise ValueError(f"unknown schema {name!r}; the schemas are {', '.join(SCHEMAS)}")
    return json.dumps(SCHEMAS[name](), indent=2, ensure_ascii=False) + "\n"
