"""Small helpers that put ids and counts into planners' sentences (diagnosis, explanations,
validation's "did you mean")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

MAX_LISTED = 8
"""Ids listed in a message before "and N more"."""


def percent(value: Any, missing: str = "–") -> str:
    """A share (0.25) as '25.0%'; ``missing`` for None."""
    return missing if value is None else f"{100 * float(value):.1f}%"


def number(value: Any, missing: str = "–") -> str:
    """A count with thousands separators ('1,234'), a fraction with two decimals;
    ``missing`` for None."""
    if value is None:
        return missing
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def and_list(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def and_ids(ids: Sequence[str]) -> str:
    """Ids joined with 'and' (duplicates dropped), at most MAX_LISTED then 'and N more'."""
    ids = list(dict.fromkeys(ids))
    if len(ids) <= MAX_LISTED:
        return and_list(ids)
    return ", ".join(ids[:MAX_LISTED]) + f" and {len(ids) - MAX_LISTED} more"


def count(n: int, noun: str) -> str:
    """'1 seat', '3 seats'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def closest(value: str, choices: Iterable[str], *, cutoff: float = 0.75) -> str | None:
    """The choice closest to ``value`` (ignoring case), if one is close enough to be a typo.

    ``cutoff`` is difflib's similarity ratio (0 to 1) a choice must reach.
    """
    by_key: dict[str, str] = {}
    for choice in choices:
        by_key.setdefault(choice.lower(), choice)
    found = difflib.get_close_matches(value.lower(), list(by_key), n=1, cutoff=cutoff)
    return by_key[found[0]] if found else None


def did_you_mean(value: str, choices: Iterable[str], *, cutoff: float = 0.75) -> str:
    """``"; did you mean 'X'?"`` for the closest choice, or ``""`` when none is close."""
    found = closest(value, choices, cutoff=cutoff)
    return f"; did you mean {found!r}?" if found is not None else ""
