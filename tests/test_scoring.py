"""Tests of matcher.scoring: the §4 terms per candidate agree with the checker."""

from __future__ import annotations

import numpy as np
import pytest
from bruteforce import random_tiny_round

from matcher import checker
from matcher.allocation import Assignment
from matcher.eligibility import candidates
from matcher.scoring import TERM_NAMES, preference_points, scores


@pytest.mark.parametrize("seed", range(20))
def test_terms_match_the_checker(seed: int) -> None:
    """Every candidate's terms equal checker.terms for the same assignment."""
    rnd = random_tiny_round(seed)
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    for i in range(len(cand)):
        a = Assignment(rnd.pharmacists[int(cand.pharmacist[i])].id,
                       rnd.period_ids[int(cand.period[i])],
                       rnd.placements[int(cand.placement[i])].id)
        assert sc.terms(i) == checker.terms(rnd, a)
        assert int(sc.total[i]) == checker.score(rnd, a)
        assert set(sc.terms(i)) == set(TERM_NAMES)


def test_preference_points_rank_and_unranked() -> None:
    """R - rank + 1 for ranked placements, 0 otherwise."""
    rnd = random_tiny_round(3)
    for i, ph in enumerate(rnd.pharmacists):
        pl = np.arange(len(rnd.placements), dtype=np.int64)
        pts = preference_points(rnd, np.full(len(pl), i, dtype=np.int64), pl)
        for j, placement in enumerate(rnd.placements):
            expected = checker.pref(rnd, ph.id, placement.id)
            assert pts[j] == expected


def test_travel_term_is_never_positive() -> None:
    rnd = random_tiny_round(5)
    sc = scores(rnd, candidates(rnd))
    assert (sc.travel <= 0).all()
    assert sc.total.dtype == np.int64
