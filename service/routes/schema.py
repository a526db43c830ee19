"""The contract's JSON Schemas (anonymous): ``spin-round/1`` and ``spin-result/1``."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from matcher.schema import SCHEMAS
from service.routes import errors

router = APIRouter(prefix="/schema", tags=["schema"])

_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "A JSON Schema (draft 2020-12).",
          "content": {"application/json": {"schema": {"type": "object"}}}},
}


@cache
def _schema(name: str) -> dict[str, Any]:
    return SCHEMAS[name]()


@router.get("/{name}", summary="JSON Schema of a round or a result", response_model=None,
            response_class=JSONResponse, responses={**_DOC, **errors(422)})
def schema(name: Literal["round", "result"]) -> JSONResponse:
    """The JSON Schema of a round document (`round`: `spin-round/1`, what `POST /v1/rounds`
    takes as JSON) or of a result document (`result`: `spin-result/1`, what
    `GET /v1/jobs/{id}/result` answers), generated from the library's models. No key
    needed: the schemas are the public contract (docs/round-format.md)."""
    return JSONResponse(_schema(name))
