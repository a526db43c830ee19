"""The §4 objective of an allocation given as candidate positions, vectorised.

The flow path values thousands of allocations (every start, repair and search step); the
checker (:func:`matcher.checker.objective`) states the same formula one assignment at a
time and still checks the final answer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from matcher.domain import Round
from matcher.eligibility import Candidates, availability
from matcher.scoring import Scores
from matcher.solving.flow import min_fill_matrix, reference_candidates

__all__ = ["Evaluator", "evaluate"]

IntArray = npt.NDArray[np.int64]


class Evaluator:
    """The §4 objective of an allocation given as chosen candidate indices, vectorised
    (the same formula as :func:`matcher.checker.objective`; the final answer is still checked
    there)."""

    def __init__(self, rnd: Round, cand: Candidates, sc: Scores) -> None:
        self.rnd, self.cand, self.sc = rnd, cand, sc
        w = rnd.weights
        self.w = w
        avail = availability(rnd)
        self.a_count = avail.sum(axis=1)
        self.n_slots = int(self.a_count.sum()) * len(rnd.effective_streams)
        self.n_l, self.n_t = len(rnd.placements), len(rnd.periods)
        self.mf = min_fill_matrix(rnd).ravel()
        self.ref, self.n_ref = ((reference_candidates(rnd, cand)) if w.change and rnd.reference
                                else (np.zeros(0, np.int64), 0))
        self.avail_p = np.flatnonzero(self.a_count >= 1)

    def __call__(self, chosen: IntArray) -> int:
        c, w = self.cand, self.w
        total = int(self.sc.total[chosen].sum())
        total -= w.unassigned * (self.n_slots - len(chosen))
        if w.shortfall:
            h = np.bincount(c.placement[chosen] * self.n_t + c.period[chosen],
                            minlength=self.n_l * self.n_t)
            total -= w.shortfall * int(np.maximum(0, self.mf - h).sum())
        if w.fairness and len(self.avail_p):
            pts = np.bincount(c.pharmacist[chosen], weights=self.sc.points[chosen],
                              minlength=len(self.a_count)).astype(np.int64)
            total += w.fairness * int(pts[self.avail_p].min())
        if self.n_ref:
            total -= w.change * (self.n_ref - int(np.isin(chosen, self.ref).sum()))
        return total


def evaluate(rnd: Round, cand: Candidates, sc: Scores, chosen: IntArray) -> int:
    """The §4 objective of the chosen candidates (see :class:`Evaluator`)."""
    return Evaluator(rnd, cand, sc)(chosen)
