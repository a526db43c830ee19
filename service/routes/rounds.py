"""Rounds: submit (JSON, .xlsx, CSV .zip, multipart), list, read (also as files), delete."""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from matcher.errors import InvalidRoundError
from service.auth import StoreDep, TenantDep
from service.intake_work import Prepared, Refused, export_round, read_upload
from service.routes import errors
from service.schemas import (
    ErrorPublic,
    ProblemPublic,
    RoundDetail,
    RoundPublic,
    RoundsPublic,
)
from service.store import IdempotencyConflict, NotFound, RoundRecord, Store

router = APIRouter(prefix="/rounds", tags=["rounds"])

Upload = Literal["json", "xlsx", "zip"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BY_TYPE: dict[str, Upload] = {"application/json": "json", XLSX: "xlsx",
                               "application/zip": "zip", "application/x-zip-compressed": "zip"}
_BY_SUFFIX: dict[str, Upload] = {".json": "json", ".xlsx": "xlsx", ".zip": "zip"}
_MEDIA: dict[str, str] = {"json": "application/json", "xlsx": XLSX, "zip": "application/zip"}

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A round (spec §1): a JSON document, a workbook, a zipped CSV bundle, "
        "or a multipart upload of one of them in the field `file` (its format from the "
        "field `format` or the file name).",
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            XLSX: _BINARY,
            "application/zip": _BINARY,
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "format": {"type": "string", "enum": ["json", "xlsx", "zip"]},
                }}},
        },
    }
}


class Invalid(Exception):
    """A round that cannot be accepted: answered 422 with every problem."""

    def __init__(self, exc: InvalidRoundError) -> None:
        super().__init__(exc.summary())
        self.problems = exc.problems


def _store(store: Store, tenant: str, prepared: Prepared, fmt: Upload, data: bytes,
           idempotency_key: str | None) -> tuple[RoundRecord, bool]:
    """Store a read round: (round, created). Under an Idempotency-Key, the round stored the
    first time when the key was used for the same file (``created`` False)."""
    if idempotency_key is None:
        return store.add_round(tenant, round_id=prepared.round_id, document=prepared.document,
                               summary=prepared.summary, warnings=prepared.warnings), True
    request_hash = hashlib.sha256(fmt.encode() + b"\0" + data).hexdigest()
    return store.add_round_once(tenant, idempotency_key=idempotency_key,
                                request_hash=request_hash, round_id=prepared.round_id,
                                document=prepared.document, summary=prepared.summary,
                                warnings=prepared.warnings)


def _fmt_of(content_type: str) -> Upload | None:
    return _BY_TYPE.get(content_type.split(";")[0].strip().lower())


async def _read_upload(request: Request) -> tuple[bytes, Upload, str | None]:
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        limit = request.app.state.settings.max_body_bytes
        async with request.form(max_files=1, max_fields=4, max_part_size=limit) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    "the multipart upload needs the round in the field 'file'")
            name = PurePath(upload.filename or "").name[:100] or None
            wanted = form.get("format")
            fmt: Upload | None
            if isinstance(wanted, str) and wanted:
                fmt = wanted if wanted in ("json", "xlsx", "zip") else None  # type: ignore[assignment]
                if fmt is None:
                    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                        "the field 'format' must be json, xlsx or zip")
            else:
                fmt = _BY_SUFFIX.get(PurePath(name or "").suffix.lower())
                fmt = fmt or _fmt_of(upload.content_type or "")
            if fmt is None:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                                    "unknown kind of upload: name the file .json, .xlsx or "
                                    ".zip, or send the field 'format'")
            return await upload.read(), fmt, name
    fmt = _fmt_of(content_type) if content_type else "json"
    if fmt is None:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            "send the round as application/json, an .xlsx workbook, a CSV "
                            ".zip or a multipart/form-data upload")
    return await request.body(), fmt, None


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RoundPublic,
    summary="Submit a round",
    responses=errors(400, 401, 413, 415, 422, 429, 503), openapi_extra=_SUBMIT_BODY,
)
async def submit_round(
    request: Request, response: Response, store: StoreDep, tenant: TenantDep,
    idempotency_key: Annotated[str | None, Header(
        min_length=1, max_length=200,
        description="Retry-safe submission: the same key with the same file returns the "
        "round stored the first time (nothing stored twice); with another file, 422.")
    ] = None,
) -> RoundPublic:
    """Validate and store a round; 201 with its id and any warnings, 422 with every problem.

    Problems name lists, ids, rows and fields, never personal data. Nothing is stored for
    an invalid round. The round is read in an intake worker process (:mod:`service.intake`),
    never in the API process: 413 when it is above the admission limits (pharmacists,
    placements, eligible combinations) or needs more memory or time than a worker may use;
    429 when this tenant has rounds being read at the cap; 503 with ``Retry-After`` when
    every worker stays busy.
    """
    settings = request.app.state.settings
    intake = request.app.state.intake
    try:
        async with intake.turn(tenant, settings):  # before the body is read
            data, fmt, source = await _read_upload(request)
            prepared = await intake.prepare(settings, read_upload, data, fmt, source,
                                            settings.postcodes)
        record, created = await run_in_threadpool(_store, store, tenant, prepared, fmt, data,
                                                  idempotency_key)
    except InvalidRoundError as exc:
        raise Invalid(exc) from None
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    if created:
        request.app.state.metrics.rounds_submitted.inc()
    else:
        response.headers["Idempotent-Replayed"] = "true"
    return RoundPublic.of(record)


@router.get("", response_model=RoundsPublic, summary="List rounds", responses=errors(401, 422))
def list_rounds(
    store: StoreDep, tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> RoundsPublic:
    """The tenant's rounds, newest first."""
    rows, count = store.list_rounds(tenant, limit=limit, offset=offset)
    return RoundsPublic(data=[RoundPublic.of(r) for r in rows], count=count)


def get_round_or_404(store: Store, tenant: str, round_pk: str, *, document: bool = False
                     ) -> RoundRecord:
    """One of the tenant's rounds; 404 otherwise."""
    try:
        return store.get_round(tenant, round_pk, document=document)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "round not found") from None


@router.get(
    "/{round_pk}", response_model=RoundDetail, summary="Read a round (JSON, .xlsx or .zip)",
    responses={
        200: {"description": "The round with its document; or, with `format`, the round "
              "as a file.",
              "content": {XLSX: _BINARY, "application/zip": _BINARY}},
        **errors(401, 404, 409, 422, 503),
    },
)
async def read_round(
    round_pk: str, request: Request, store: StoreDep, tenant: TenantDep,
    format: Annotated[Upload | None, Query(
        description="Download the round as a file: json, xlsx or zip (CSV bundle).")] = None,
) -> Any:
    """The round: an envelope with its document, or as a file with ``format`` (a workbook or
    a CSV bundle is made in an intake worker, never in the API process)."""
    record = await run_in_threadpool(get_round_or_404, store, tenant, round_pk, document=True)
    if format is None:
        public = RoundPublic.of(record)
        return RoundDetail(**public.model_dump(), round=json.loads(record.document or "{}"))
    if format == "json":
        content = (record.document or "").encode("utf-8")
    else:
        made = await request.app.state.intake.render(request.app.state.settings, export_round,
                                                     record.document or "{}", format)
        if isinstance(made, Refused):  # a valid round a table cannot hold (an id with ';')
            problems = [ProblemPublic.model_validate(p.to_dict()) for p in made.problems]
            return JSONResponse(ErrorPublic(
                detail=f"this round cannot be written as {format}: "
                + "; ".join(p.message for p in made.problems[:3]),
                errors=problems).model_dump(), status_code=status.HTTP_409_CONFLICT)
        content = bytes(made)
    filename = f"round-{record.id}.{format}"
    return Response(content, media_type=_MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.delete("/{round_pk}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a round",
               responses=errors(401, 404, 422))
def delete_round(round_pk: str, request: Request, store: StoreDep, tenant: TenantDep
                 ) -> Response:
    """Delete a round with its jobs and results; its running solves stop."""
    try:
        store.delete_round(tenant, round_pk)
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "round not found") from None
    runner = request.app.state.runner
    if runner is not None:
        runner.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
