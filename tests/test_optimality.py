"""Brute-force optimality: on 200 random tiny rounds the solver's optimum equals exhaustive
enumeration, and it finds a round infeasible exactly when enumeration finds nothing."""

from __future__ import annotations

import pytest
from bruteforce import brute_force, random_tiny_round

from matcher.solving import SolveParams, solve


@pytest.mark.parametrize("seed", range(200))
def test_optimum_equals_exhaustive_enumeration(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    result = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    if best is None:
        assert result.status == "infeasible"
        assert result.assignments == ()
    else:
        assert result.status == "optimal"
        assert result.objective == best
        assert result.bound == best
        assert result.gap == 0.0


def test_the_sample_exercises_every_feature() -> None:
    """The 200 rounds above cover every feature and both outcomes (so the test can fail)."""
    rounds = [random_tiny_round(s) for s in range(200)]
    assert sum(bool(r.streams) for r in rounds) >= 20
    assert sum(bool(r.supervisors) for r in rounds) >= 20
    assert sum(any(o.max_pharmacists is not None for o in r.organisations) for r in rounds) >= 20
    assert sum(any(p.history for p in r.pharmacists) for r in rounds) >= 20
    assert sum(bool(r.pins) for r in rounds) >= 20
    assert sum(bool(r.bans) for r in rounds) >= 20
    assert sum(r.weights.fairness > 0 for r in rounds) >= 20
    assert sum(bool(r.reference) for r in rounds) >= 20
    assert sum(brute_force(r)[0] is None for r in rounds[:60]) >= 1
