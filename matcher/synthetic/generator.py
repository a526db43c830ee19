"""The synthetic round generator's entry points: draw a round, then validate it.

:func:`generate_round_data` runs the steps in their fixed order on one random generator
seeded by ``seed`` (shape, places, supply, people, output); :func:`generate_round` validates
the result like every reader does (:func:`validate_round_data`). The order of the steps is
part of the output: the same arguments give byte-identical data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matcher.domain import Round
from matcher.synthetic.emit import round_data
from matcher.synthetic.people import Cohort
from matcher.synthetic.places import draw_geography
from matcher.synthetic.shape import RoundShape
from matcher.synthetic.supply import Supply
from matcher.validation import parse_round

__all__ = ["generate_round", "generate_round_data", "validate_round_data"]


def validate_round_data(data: dict[str, Any]) -> Round:
    """Validate round data into a :class:`Round` the way every reader does.

    Uses :func:`matcher.validation.parse_round` (field and cross-record checks, every
    problem listed at once).
    """
    return parse_round(data)


def generate_round(
    n_pharmacists: int,
    n_placements: int,
    n_periods: int = 3,
    *,
    seed: int = 0,
    streams: bool = True,
    features: bool = True,
    round_id: str | None = None,
) -> Round:
    """A seeded, realistic synthetic round (see :mod:`matcher.synthetic` for what it holds).

    ``n_pharmacists`` (at least 1) and ``n_placements`` (at least 4) are the exact sizes of
    the cohort and of the placement list; ``n_periods`` (at least 1) rotation periods
    ``R1``... With ``streams`` the round has a practice and a host stream, else the single
    implicit rotating stream; ``features`` adds every optional feature of the spec at
    realistic density. The same arguments always give an equal round.

    From :data:`~matcher.synthetic.SMALL_ROUND` (20) placements up every sector and every
    feature appears and every pharmacist can reach a practice and enough sectors for the
    sector-mix rule; smaller rounds are still valid but cannot promise that.
    """
    data = generate_round_data(
        n_pharmacists,
        n_placements,
        n_periods,
        seed=seed,
        streams=streams,
        features=features,
        round_id=round_id,
    )
    return validate_round_data(data)


def generate_round_data(
    n_pharmacists: int,
    n_placements: int,
    n_periods: int = 3,
    *,
    seed: int = 0,
    streams: bool = True,
    features: bool = True,
    round_id: str | None = None,
) -> dict[str, Any]:
    """The JSON-ready data of :func:`generate_round`, not yet validated."""
    if n_pharmacists < 1:
        raise ValueError("n_pharmacists must be at least 1")
    if n_placements < 4:
        raise ValueError("n_placements must be at least 4")
    if n_periods < 1:
        raise ValueError("n_periods must be at least 1")
    rng = np.random.default_rng(seed)
    shape = RoundShape.draw(
        rng,
        n_pharmacists,
        n_placements,
        n_periods,
        seed=seed,
        streams=streams,
        features=features,
        round_id=round_id,
    )
    geo = draw_geography(rng, n_placements)
    supply = Supply(shape, geo, rng)
    cohort = Cohort(shape, geo, supply, rng)
    return round_data(shape, supply, cohort, rng)
