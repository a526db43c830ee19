"""Tests of solve() and Result: statuses, limits, progress, round trips, tables."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from bruteforce import random_tiny_round

from matcher.domain import Round
from matcher.result import REASONS, Result
from matcher.solving import InternalSolverError, Progress, SolveParams, solve
from matcher.synthetic import generate_round
from matcher.validation import with_changes

ONE = SolveParams(workers=1, time_limit_s=20)


@pytest.fixture(scope="module")
def nel() -> Round:
    """A real-cohort-sized generated round (30 x 60 x 3) with every feature."""
    return generate_round(30, 60, 3, seed=0)


@pytest.fixture(scope="module")
def nel_result(nel: Round) -> Result:
    return solve(nel, ONE)


def test_nel_round_is_solved_to_proven_optimality(nel_result: Result) -> None:
    assert nel_result.status == "optimal"
    assert nel_result.gap == 0.0
    assert nel_result.bound == nel_result.objective
    assert nel_result.stats["path"] == "cp-sat"
    assert nel_result.stats["workers"] == 1


def test_result_round_trips_through_json(nel_result: Result) -> None:
    data = json.loads(json.dumps(nel_result.to_dict()))
    assert data["format"] == "spin-result/1"
    assert set(data) == {"format", "round", "status", "objective", "bound", "gap",
                         "assignments", "unassigned", "kpis", "diagnosis", "stats"}
    again = Result.from_dict(data)
    assert again.to_dict() == nel_result.to_dict()
    assert again.allocation == nel_result.allocation


def test_result_records_follow_section_5(nel: Round, nel_result: Result) -> None:
    first = nel_result.to_dict()["assignments"][0]
    assert set(first) == {"pharmacist", "period", "stream", "placement", "score", "terms"}
    assert set(first["terms"]) == {"preference", "hard_to_recruit", "population_health",
                                   "travel"}
    for u in nel_result.unassigned:
        assert u.reason in REASONS.values()
        assert u.period not in nel.pharmacist(u.pharmacist).unavailable
    k = nel_result.kpis
    assert k["assignments"] == len(nel_result.assignments)
    assert k["unassigned"] == len(nel_result.unassigned)
    for key in ("first_choice", "top_3", "hard_to_recruit_filled", "shortfall"):
        assert key in k


def test_frames_and_summary(nel_result: Result) -> None:
    frames = nel_result.to_frames()
    assert len(frames.assignments) == len(nel_result.assignments)
    assert int(frames.assignments["score"].sum()) == sum(a.score for a in
                                                           nel_result.assignments)
    assert "assignments" in set(frames.kpis["kpi"])
    text = nel_result.summary()
    assert "optimal" in text
    assert str(nel_result.objective) in text


def test_unavailable_periods_are_not_listed_as_unassigned() -> None:
    rnd = Round.model_validate({
        "format": "spin-round/1", "periods": [{"id": "R1"}, {"id": "R2"}],
        "placements": [{"id": "A", "sector": "hospital", "location": {"lat": 51.5, "lon": 0},
                        "capacity": {"R1": 1}}],
        "pharmacists": [{"id": "P1", "home": {"lat": 51.5, "lon": 0}, "unavailable": ["R1"]}],
    })
    r = solve(rnd, ONE)
    assert r.assignments == ()
    assert [(u.period, u.reason) for u in r.unassigned] == [("R2", REASONS["no_eligible"])]


def test_capacity_reason() -> None:
    rnd = Round.model_validate({
        "format": "spin-round/1", "periods": [{"id": "R1"}],
        "placements": [{"id": "A", "sector": "hospital", "location": {"lat": 51.5, "lon": 0},
                        "capacity": 1}],
        "pharmacists": [{"id": f"P{i}", "home": {"lat": 51.5, "lon": 0}} for i in (1, 2)],
    })
    r = solve(rnd, ONE)
    assert [u.reason for u in r.unassigned] == [REASONS["capacity"]]


def test_an_unproven_answer_never_says_the_optimum_left_a_slot_empty() -> None:
    """The same empty slot (a placement with room that the allocation did not use) is
    "left empty by the optimum" only in an optimal answer."""
    from matcher.eligibility import candidates
    from matcher.result import make_result
    from matcher.scoring import scores

    rnd = Round.model_validate({
        "format": "spin-round/1", "periods": [{"id": "R1"}],
        "placements": [{"id": "A", "sector": "hospital", "location": {"lat": 51.5, "lon": 0},
                        "capacity": 1}],
        "pharmacists": [{"id": "P1", "home": {"lat": 51.5, "lon": 0}}],
    })
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    nobody = np.zeros(0, np.int64)
    optimal = make_result(rnd, cand, sc, nobody, status="optimal", objective=-10000)
    feasible = make_result(rnd, cand, sc, nobody, status="feasible", objective=-10000,
                           bound=0)
    assert [u.reason for u in optimal.unassigned] == [REASONS["rules"]]
    assert [u.reason for u in feasible.unassigned] == [REASONS["unproven"]]
    assert "optimum" not in feasible.unassigned[0].reason


def test_infeasible_is_a_result_not_an_exception() -> None:
    rnd = Round.model_validate({
        "format": "spin-round/1", "periods": [{"id": "R1"}],
        "placements": [{"id": "A", "sector": "hospital", "location": {"lat": 51.5, "lon": 0},
                        "capacity": 1}],
        "pharmacists": [{"id": f"P{i}", "home": {"lat": 51.5, "lon": 0}} for i in (1, 2)],
        "rules": {"allow_unassigned": False},
    })
    r = solve(rnd, ONE)
    assert r.status == "infeasible"
    assert r.objective is None
    assert r.assignments == ()
    assert [d["message"] for d in r.diagnosis] == [
        "Nobody may be left unassigned, but in R1 there is 1 seat for 2 available pharmacists"]
    assert Result.from_dict(r.to_dict()) == r
    quiet = solve(rnd, SolveParams(workers=1, diagnose_s=0))
    assert quiet.status == "infeasible"
    assert quiet.diagnosis == ()


def test_progress_reports_improving_solutions(nel: Round) -> None:
    seen: list[Progress] = []
    r = solve(nel, SolveParams(workers=1, time_limit_s=20, progress=seen.append))
    assert seen
    assert [p.objective for p in seen] == sorted(p.objective for p in seen)
    assert seen[-1].objective == r.objective
    assert all(p.bound >= p.objective and p.elapsed >= 0 for p in seen)


def test_time_limit_is_honoured_in_status() -> None:
    """A larger round with a tiny budget comes back unknown or feasible, never optimal."""
    rnd = generate_round(300, 400, 3, seed=3)
    r = solve(rnd, SolveParams(workers=1, time_limit_s=0.5))
    assert r.status in ("unknown", "feasible")
    if r.status == "feasible":
        assert r.bound is None or r.bound >= (r.objective or 0)


def test_a_checker_disagreement_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the checker finds a violation in a solver answer, solve raises loudly."""
    from matcher import checker
    from matcher.checker import Violation

    rnd = next(r for r in map(random_tiny_round, range(50)) if solve(r, ONE).has_solution)
    monkeypatch.setattr(checker, "violations",
                        lambda rnd, alloc: [Violation("capacity", "planted")])
    with pytest.raises(InternalSolverError, match="planted"):
        solve(rnd, ONE)


def test_an_objective_disagreement_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from matcher import checker

    real = checker.objective
    rnd = next(r for r in map(random_tiny_round, range(50)) if solve(r, ONE).has_solution)

    def off_by_one(rnd: Round, alloc: object) -> checker.ObjectiveBreakdown:
        b = real(rnd, alloc)
        return checker.ObjectiveBreakdown(**(b.to_dict() | {"total": b.total + 1}))  # type: ignore[arg-type]

    monkeypatch.setattr(checker, "objective", off_by_one)
    with pytest.raises(InternalSolverError, match="differs"):
        solve(rnd, ONE)


def test_params_are_frozen() -> None:
    with pytest.raises(AttributeError):
        ONE.seed = 3  # type: ignore[misc]


def test_stop_event_keeps_the_best_solution_so_far(nel: Round) -> None:
    """Cancelling (params.stop) ends the search early with a checked best-so-far answer."""
    import threading

    hard = with_changes(nel, weights={"fairness": 100})  # proving this takes minutes
    stop = threading.Event()
    seen: list[Progress] = []

    def progress(p: Progress) -> None:
        seen.append(p)
        stop.set()

    r = solve(hard, SolveParams(workers=1, time_limit_s=300, progress=progress, stop=stop))
    assert r.status == "feasible"
    assert seen
    assert r.objective is not None
    assert r.objective >= seen[0].objective


def test_stop_set_before_solving_returns_unknown_without_searching(nel: Round) -> None:
    import threading

    stop = threading.Event()
    stop.set()
    r = solve(nel, SolveParams(workers=1, time_limit_s=60, stop=stop))
    assert r.status == "unknown"
    assert r.assignments == ()


def test_an_unproven_solution_is_valued_with_tight_auxiliaries() -> None:
    """CP-SAT may stop with a shortfall variable slack (above min_fill - holders); the
    objective reported must still be the assignment's own, as the checker computes it."""
    from matcher import checker
    from matcher.eligibility import candidates
    from matcher.scoring import scores
    from matcher.solving.formulation import build_model

    rnd = Round.model_validate({
        "format": "spin-round/1", "periods": [{"id": "R1"}],
        "placements": [{"id": "A", "sector": "hospital", "location": {"lat": 51.5, "lon": 0},
                        "capacity": 2, "min_fill": 2}],
        "pharmacists": [{"id": "P1", "home": {"lat": 51.5, "lon": 0}}],
    })
    cand = candidates(rnd)
    model = build_model(rnd, cand, scores(rnd, cand))
    chosen = np.arange(len(cand), dtype=np.int64)  # P1 holds A: one seat short
    values = model.complete(model.variables.values_for(chosen))
    slack = values.copy()
    slack[len(cand):] = model.variables.upper[len(cand):]  # shortfall at its upper bound
    loose = int(slack @ model.objective_vector() + model.offset)
    tight = model.objective_of(chosen)
    assert tight == checker.objective(rnd, [("P1", "R1", "A")]).total
    assert loose == tight - rnd.weights.shortfall


def test_a_fairness_round_starts_from_its_fairness_free_allocation() -> None:
    """The worst-off term makes CP-SAT's first allocations poor; solve first solves the
    round without it and starts from that allocation, so the answer is never worse than
    that allocation valued with the fairness term (and proven optimal on a small round)."""
    from matcher import checker
    from matcher.validation import with_changes

    rnd = generate_round(30, 60, 3, seed=2)
    fair = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 20})
    plain = solve(rnd, ONE)
    result = solve(fair, ONE)
    assert result.stats["fairness_free_start"]["status"] == "optimal"
    assert result.status == "optimal"
    assert result.objective is not None
    assert result.objective >= checker.objective(fair, plain.allocation).total
    hinted = solve(fair, dataclasses.replace(ONE, hint=plain))
    assert "fairness_free_start" not in hinted.stats  # a caller's hint is kept
    assert hinted.objective == result.objective


def test_an_unproven_cp_sat_answer_reports_the_better_of_its_bound_and_the_flow_bound(
) -> None:
    """CP-SAT's bound comes from its LP, which it may not finish in time; the flow
    relaxation's bound is valid for every round, so an unproven answer reports the better
    of the two (and the checker still holds the bound above the objective)."""
    from matcher.eligibility import candidates
    from matcher.scoring import scores
    from matcher.solving.flow import relaxation

    rnd = generate_round(120, 160, 3, seed=0)
    result = solve(rnd, SolveParams(workers=1, time_limit_s=1.0, path="cp-sat"))
    if result.status == "optimal":  # a machine fast enough to prove it in 1 s
        pytest.skip("proven within the limit: no flow bound needed")
    cand = candidates(rnd)
    flow_bound = relaxation(rnd, cand, scores(rnd, cand)).bound
    assert result.stats["flow_bound"] == flow_bound
    assert result.bound is not None
    assert result.bound <= flow_bound
    if result.objective is not None:
        assert result.objective <= result.bound


def test_a_round_that_charges_changes_starts_from_its_reference() -> None:
    """Without a hint, the plan in force is the warm start of a round with
    ``weights.change`` > 0: its lines that are still candidates (a closed placement's are
    not), and nothing when changes are free."""
    from matcher.eligibility import candidates
    from matcher.solving.warmstart import hint_positions

    rnd = generate_round(30, 50, 3, seed=2)
    plan = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert plan.status == "optimal"
    closed = plan.allocation[0].placement
    data = rnd.to_data()
    for pl in data["placements"]:
        if pl["id"] == closed:
            pl["capacity"] = 0
            pl["min_fill"] = 0
    data["pins"] = [p for p in data.get("pins", []) if p["placement"] != closed]
    reference = [{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
                 for a in plan.allocation]
    charged = with_changes(rnd, placements=data["placements"], pins=data["pins"],
                           reference=reference,
                           weights={**rnd.weights.model_dump(), "change": 100})
    cand = candidates(charged)
    warm = hint_positions(charged, cand, None)
    assert warm is not None
    kept = {a for a in plan.allocation if a.placement != closed}
    assert set(cand.assignments(charged, warm)) == kept
    free = with_changes(charged, weights={**charged.weights.model_dump(), "change": 0})
    assert hint_positions(free, candidates(free), None) is None
    res = solve(charged, SolveParams(workers=1, time_limit_s=20))
    assert res.status == "optimal"


def test_a_cap_known_beforehand_bounds_the_full_model() -> None:
    """solve_full_model's ``cap`` (a valid bound from elsewhere, such as the fairness-free
    stage's) caps CP-SAT's objective: at the optimum itself the answer is the optimum, proven;
    an unproven answer never reports a bound above it."""
    from matcher.eligibility import candidates
    from matcher.scoring import scores
    from matcher.solving import Budget
    from matcher.solving.full import solve_full_model

    rnd = generate_round(30, 60, 3, seed=3)
    best = solve(rnd, ONE)
    assert best.status == "optimal"
    assert best.objective is not None
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    capped = solve_full_model(rnd, cand, sc, ONE, Budget(20), cap=best.objective)
    assert capped.status == "optimal"
    assert capped.objective == best.objective
    quick = solve_full_model(rnd, cand, sc, SolveParams(workers=1, time_limit_s=0.3),
                             Budget(0.3), cap=best.objective + 7)
    if quick.status == "feasible":
        assert quick.bound is not None
        assert quick.bound <= best.objective + 7
