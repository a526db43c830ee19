"""Deprecated: the synthetic round generator moved to :mod:`matcher.synthetic`.

This shim re-exports the old public names for one release; ``NEL_PLACES`` (the
:class:`~matcher.synthetic.Place` records) is now :data:`matcher.synthetic.NEL_PLACE_RECORDS`,
and the place names alone are :data:`matcher.places.NEL_PLACES`.
"""

from __future__ import annotations

import warnings

from matcher.synthetic import (
    CLUSTER_THRESHOLD,
    NEL_PLACE_RECORDS,
    SMALL_ROUND,
    Place,
    generate_round,
    generate_round_data,
    validate_round_data,
)

warnings.warn(
    "matcher.generate is deprecated; import from matcher.synthetic",
    DeprecationWarning,
    stacklevel=2,
)

NEL_PLACES = NEL_PLACE_RECORDS
"""Deprecated name of :data:`matcher.synthetic.NEL_PLACE_RECORDS`."""

__all__ = [
    "CLUSTER_THRESHOLD",
    "NEL_PLACES",
    "SMALL_ROUND",
    "Place",
    "generate_round",
    "generate_round_data",
    "validate_round_data",
]
