"""What every step of the synthetic generator shares: the round's shape and its vocabulary.

:class:`RoundShape` holds the sizes and options a round is generated with and the rules drawn
before anything else; the sector indices and the skills are the vocabulary the places,
supply, people and output steps all speak. Arrays across placements are indexed by sector
index (:data:`GP` ... :data:`IC`, the order of :data:`matcher.domain.SECTORS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CP",
    "CS",
    "GP",
    "HOSP",
    "IC",
    "MH",
    "SECTOR_PREFIX",
    "SKILLS",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "RoundShape",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Sector indices follow matcher.domain.SECTORS.
GP, CP, HOSP, MH, CS, IC = range(6)
SECTOR_PREFIX: Final = ("GP", "CP", "HOSP", "MH", "CS", "ICB")
"""Prefix of placement ids by sector index (``GP-BD-001``)."""

SKILLS: Final = (
    "diabetes",
    "respiratory",
    "cardiovascular",
    "mental_health",
    "frailty",
    "paediatrics",
    "antimicrobial_stewardship",
    "renal",
    "pain_management",
    "learning_disability",
    "substance_misuse",
    "medicines_safety",
)
"""Skills pharmacists hold and placements may require; a skill set is a bit mask over these."""


@dataclass(frozen=True, slots=True)
class RoundShape:
    """Sizes and options of the round being generated, and the rules drawn first."""

    n_pharmacists: int
    n_placements: int
    n_periods: int
    seed: int
    streams: bool
    features: bool
    round_id: str
    period_ids: tuple[str, ...]
    max_prefs: int
    max_travel: float
    min_sectors: int

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        n_pharmacists: int,
        n_placements: int,
        n_periods: int,
        *,
        seed: int,
        streams: bool,
        features: bool,
        round_id: str | None,
    ) -> RoundShape:
        """The shape of a round: the travel limit is the first draw from ``rng``."""
        return cls(
            n_pharmacists=n_pharmacists,
            n_placements=n_placements,
            n_periods=n_periods,
            seed=seed,
            streams=streams,
            features=features,
            round_id=round_id or f"synthetic-{n_pharmacists}x{n_placements}x{n_periods}-s{seed}",
            period_ids=tuple(f"R{t + 1}" for t in range(n_periods)),
            max_prefs=10,
            max_travel=float(rng.choice([20.0, 22.0, 25.0])),
            min_sectors=min(3, n_periods),
        )
