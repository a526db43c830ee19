"""JSON, the canonical form of a round: UTF-8, written with two-space indentation."""

from __future__ import annotations

import json
from typing import Any

from matcher.domain import Round
from matcher.formats import safety
from matcher.formats.loaded import Loaded
from matcher.formats.postcodes import Postcodes, parse_round_with_postcodes


def parse_json_bytes(data: bytes, source: str | None, postcodes: Postcodes = None,
                     limits: safety.SizeLimits | None = None) -> Loaded:
    """Validate a round from JSON bytes (UTF-8, a byte-order mark tolerated), as
    :class:`Loaded` (JSON problems are already where they belong).

    ``postcodes`` is the lookup file for locations given as ``{"postcode": ...}`` (see
    :mod:`matcher.formats.postcodes`). Raises :class:`FormatError` when the text is too
    large, not UTF-8, or not JSON (with the line and column of the mistake), and
    :class:`InvalidRoundError` when the round is not valid; :class:`~matcher.formats.safety.
    TooLarge` when it has more pharmacists or placements than ``limits`` allow (counted
    before validation).
    """
    document = json_document(data, source)
    if limits is not None:
        limits.check_document(document, source)
    return Loaded(parse_round_with_postcodes(document, postcodes))


def json_document(data: bytes, source: str | None) -> Any:
    """The JSON document in ``data``, refusing what is too large, not UTF-8 or not JSON."""
    safety.check_size(len(data), source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise safety.refuse(
            f"the file is not UTF-8 text (byte {exc.start + 1} is not valid)", source, "not_utf8"
        ) from None
    try:
        return json.loads(text, parse_constant=_no_constant, parse_int=_whole_number,
                          object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise safety.refuse(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", source,
            "bad_json") from None
    except _Refused as exc:
        raise safety.refuse(f"not valid JSON: {exc}", source, "bad_json") from None
    except RecursionError:
        raise safety.refuse("not valid JSON: nested too deeply", source, "bad_json") from None


class _Refused(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number; write a number or leave the field out")


HUGE = 10**30
"""What a whole number of more than 30 digits reads as (with its sign): beyond every limit of
a round, so validation refuses it at its field ("must be at most ...") instead of Python
refusing to convert a number of thousands of digits."""


def _whole_number(text: str) -> int:
    if len(text) > 31:
        return -HUGE if text.startswith("-") else HUGE
    return int(text)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key[:40]!r} appears twice in one object")
        out[key] = value
    return out


def json_bytes(rnd: Round) -> bytes:
    """The canonical JSON of a round: ``round.to_data()``, indent 2, UTF-8, final newline."""
    return (json.dumps(rnd.to_data(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
