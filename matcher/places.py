"""The places (boroughs) of North East London, by name: data only, the one list of them.

North East London is the ICS of the sample rounds and of small synthetic rounds. The
synthetic generator builds its North East London places from these names
(:data:`matcher.synthetic.NEL_PLACE_RECORDS`), and a planner may ask for them by name in the
Excel template's place dropdowns (``matcher template OUT.xlsx --places nel``; the template
offers no place list unless one is given: :mod:`matcher.formats.template`). This module
imports nothing, so any layer may use it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NAMED_PLACE_LISTS", "NEL_PLACES"]

NEL_PLACES: Final[tuple[str, ...]] = (
    "Barking and Dagenham",
    "City and Hackney",
    "Havering",
    "Newham",
    "Redbridge",
    "Tower Hamlets",
    "Waltham Forest",
)
"""The seven places (boroughs) of the North East London ICS, in alphabetical order."""

NAMED_PLACE_LISTS: Final[dict[str, tuple[str, ...]]] = {"nel": NEL_PLACES}
"""Place lists a planner can ask for by name (``--places nel``), by lower-case name."""
