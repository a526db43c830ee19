"""One router per resource: rounds, jobs, scenarios, health (with metrics), and the
contract's JSON Schemas."""

from __future__ import annotations

from typing import Any

from service.schemas import ErrorPublic

_WHY = {
    400: "The body could not be read (malformed JSON or multipart).",
    401: "No valid API key (send `Authorization: Bearer KEY`).",
    403: "This key may not read it (the metrics need the operator's `METRICS_KEY`).",
    404: "No such id for this tenant (another tenant's id answers the same).",
    409: "Not available in the job's current state.",
    413: "Too large: the request body, or the round, above this service's limits (most "
         "pharmacists, placements or eligible combinations; the memory or time a worker "
         "may spend reading it). The message names each count, its cap and the setting.",
    415: "The body is neither JSON, an .xlsx workbook, a CSV .zip nor a multipart upload.",
    422: "Invalid request: every problem is listed with where it is.",
    429: "Too many at once: the tenant already has the most queued and running jobs (or "
         "open event streams, or rounds being read) it may have.",
    503: "Not now: the database does not answer, or the workers that read rounds or "
         "explain results are busy or were restarted. Retry after the Retry-After seconds.",
}


def errors(*codes: int, json_only: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all answered with :class:`ErrorPublic`.

    ``json_only`` is for routes whose success is not JSON (an event stream): their errors
    still are, and are documented as such.
    """
    if json_only:
        ref = {"schema": {"$ref": "#/components/schemas/ErrorPublic"}}
        return {code: {"description": _WHY[code], "content": {"application/json": ref}}
                for code in codes}
    return {code: {"model": ErrorPublic, "description": _WHY[code]} for code in codes}
