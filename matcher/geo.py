"""Great-circle travel distance, the one geometric primitive the spec defines (§2.2).

Distance is measured on a sphere of radius 6371.0 km with the haversine formula and rounded
to the nearest whole km, halves rounded up. The eligibility module and the independent
checker both call this one function, so they can never disagree in the last bit of a
rounding.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def great_circle_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Haversine distance in km between points given in degrees (broadcasts like numpy)."""
    phi1 = np.radians(np.asarray(lat1, dtype=np.float64))
    phi2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def travel_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> IntArray:
    """Great-circle distance rounded to the nearest whole km (halves up), as int64."""
    return np.floor(great_circle_km(lat1, lon1, lat2, lon2) + 0.5).astype(np.int64)


def travel_km_one(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """travel_km for a single pair, as a Python int."""
    return int(travel_km(lat1, lon1, lat2, lon2))
