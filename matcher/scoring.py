"""The objective's per-assignment terms (spec §4) for every candidate, as int64 arrays.

One definition shared by the model builder (the coefficients of the assignment
variables), the fast paths (flow costs, LP objective) and the result (the ``terms`` of
each assignment). Everything is integer: weights are non-negative integers and the points
they multiply are integers, so no scaling is needed. The unit of every array is "objective
points" (weight x points), exactly the unit of the objective the checker recomputes.

``score(p, l) = w.preference * pref(p, l) + w.hard_to_recruit * hard_to_recruit(l)
+ w.population_health * population_health(l) - w.travel * travel(p, l)``, with
``pref(p, l) = R - rank + 1`` for the rank-th preference (first occurrence), else 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from matcher.domain import Round
from matcher.eligibility import Candidates

__all__ = ["TERM_NAMES", "Scores", "preference_points", "scores"]

IntArray = npt.NDArray[np.int64]

TERM_NAMES: tuple[str, ...] = ("preference", "hard_to_recruit", "population_health", "travel")
"""Names of the weighted terms of score(p, l), in the order a §5 result lists them."""


@dataclass(frozen=True)
class Scores:
    """Per-candidate objective terms, parallel to the :class:`Candidates` arrays.

    ``points`` is the unweighted pref(p, l) (used by the fairness term M); the four
    weighted terms sum to ``total`` = score(p, l). ``travel`` is zero or negative.
    """

    points: IntArray
    preference: IntArray
    hard_to_recruit: IntArray
    population_health: IntArray
    travel: IntArray

    @cached_property
    def total(self) -> IntArray:
        """score(p, l) of every candidate (computed once: the search reads it thousands of
        times)."""
        return self.preference + self.hard_to_recruit + self.population_health + self.travel

    def subset(self, idx: IntArray) -> Scores:
        """The scores of the candidates at positions ``idx`` (see ``Candidates.subset``)."""
        return Scores(points=self.points[idx], preference=self.preference[idx],
                      hard_to_recruit=self.hard_to_recruit[idx],
                      population_health=self.population_health[idx], travel=self.travel[idx])

    def terms(self, i: int) -> dict[str, int]:
        """The weighted terms of candidate ``i``, keyed by :data:`TERM_NAMES`."""
        return {
            "preference": int(self.preference[i]),
            "hard_to_recruit": int(self.hard_to_recruit[i]),
            "population_health": int(self.population_health[i]),
            "travel": int(self.travel[i]),
        }


def preference_points(rnd: Round, pharmacist: IntArray, placement: IntArray) -> IntArray:
    """pref(p, l) for each (pharmacist index, placement index) pair given as parallel arrays.

    R - rank + 1 for the first occurrence of l in p's preferences (rank 1 = first), else 0.
    """
    n_l = max(len(rnd.placements), 1)
    limit = rnd.rules.max_preferences
    keys: list[int] = []
    values: list[int] = []
    for i, ph in enumerate(rnd.pharmacists):
        seen: set[str] = set()
        for rank, placement_id in enumerate(ph.preferences, start=1):
            if placement_id in seen:
                continue
            seen.add(placement_id)
            keys.append(i * n_l + rnd.placement_index[placement_id])
            values.append(limit - rank + 1)
    out = np.zeros(len(pharmacist), dtype=np.int64)
    if not keys or len(pharmacist) == 0:
        return out
    key_arr = np.asarray(keys, dtype=np.int64)
    order = np.argsort(key_arr, kind="stable")
    key_sorted = key_arr[order]
    val_sorted = np.asarray(values, dtype=np.int64)[order]
    query = pharmacist.astype(np.int64) * n_l + placement.astype(np.int64)
    pos = np.searchsorted(key_sorted, query)
    pos_clipped = np.minimum(pos, len(key_sorted) - 1)
    hit = key_sorted[pos_clipped] == query
    out[hit] = val_sorted[pos_clipped[hit]]
    return out


def scores(rnd: Round, cand: Candidates) -> Scores:
    """The §4 terms of every candidate (weighted; integer objective points)."""
    w = rnd.weights
    htr = np.array([pl.hard_to_recruit for pl in rnd.placements], dtype=np.int64)
    pop = np.array([pl.population_health for pl in rnd.placements], dtype=np.int64)
    if len(htr) == 0:
        htr = np.zeros(1, dtype=np.int64)
        pop = np.zeros(1, dtype=np.int64)
    points = preference_points(rnd, cand.pharmacist, cand.placement)
    return Scores(
        points=points,
        preference=w.preference * points,
        hard_to_recruit=w.hard_to_recruit * htr[cand.placement],
        population_health=w.population_health * pop[cand.placement],
        travel=-w.travel * cand.travel.astype(np.int64),
    )
