"""Small helpers that put ids and counts into planners' sentences (diagnosis, explanations)."""

from __future__ import annotations

from collections.abc import Sequence

MAX_LISTED = 8
"""Ids listed in a message before "and N more"."""


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
