"""Warm starts: a previous result's allocation as candidate positions and model hints."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.result import Result
from matcher.solving.model import Model

__all__ = ["hint_positions", "hint_vector"]

IntArray = npt.NDArray[np.int64]


def hint_positions(rnd: Round, cand: Candidates, result: Result | None) -> IntArray | None:
    """Candidate positions (sorted, distinct) of a previous result's assignments that are
    still candidates of this round.

    Without a result, a round that charges changes (``weights.change`` > 0) starts from its
    ``reference``: the plan in force is what the objective pulls towards, and the lines
    that are still candidates are usually most of the answer (the solver repairs what a
    mid-programme change broke). None otherwise."""
    if result is None:
        if rnd.weights.change > 0 and rnd.reference:
            pos = cand.positions(rnd, rnd.reference)
            return np.unique(pos[pos >= 0]).astype(np.int64)
        return None
    if not result.has_solution:
        return None
    pos = cand.positions(rnd, result.allocation)
    return np.unique(pos[pos >= 0]).astype(np.int64)


def hint_vector(model: Model, chosen: IntArray | None) -> IntArray | None:
    """The full value vector of ``model`` with the candidates at positions ``chosen`` (of
    the model's own candidates) set and every auxiliary at the value it implies."""
    if chosen is None:
        return None
    return model.complete(model.variables.values_for(chosen))
