"""The places (boroughs) of North East London, by name: data only, the one list of them.

North East London is the ICS of the sample rounds and of small synthetic rounds. The Excel
template offers these names in its place dropdowns (:mod:`matcher.formats.excel_io`) and the
synthetic generator builds its North East London places from them
(:data:`matcher.synthetic.NEL_PLACE_RECORDS`). This module imports nothing, so any layer may
use it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NEL_PLACES"]

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
