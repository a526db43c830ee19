"""Property test: every result of a random small round passes the independent checker and
reports the objective the checker recomputes."""

from __future__ import annotations

from bruteforce import random_tiny_round
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import checker
from matcher.domain import Round
from matcher.solving import SolveParams, solve
from matcher.synthetic import generate_round


@st.composite
def small_rounds(draw: st.DrawFn) -> Round:
    """Seeds into the two generators: tiny random rounds (every feature, odd corners) and
    small realistic generated rounds (streams or not, features or not)."""
    if draw(st.booleans()):
        return random_tiny_round(draw(st.integers(1000, 10**6)))
    return generate_round(
        draw(st.integers(1, 6)), draw(st.integers(4, 9)), draw(st.integers(1, 3)),
        seed=draw(st.integers(0, 10**6)), streams=draw(st.booleans()),
        features=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(small_rounds())
def test_every_result_is_checked_and_its_objective_recomputes(rnd: Round) -> None:
    result = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert result.status in ("optimal", "feasible", "infeasible")
    if result.has_solution:
        assert checker.violations(rnd, result.allocation) == []
        assert checker.objective(rnd, result.allocation).total == result.objective
        assert result.bound is not None
        assert result.bound >= result.objective
        for a in result.assignments:
            assert a.score == sum(a.terms.values())
    else:
        assert result.objective is None
