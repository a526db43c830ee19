"""The decomposition's building blocks against the independent checker and brute force:
personal problems are exact, Lagrangian bounds are valid, heuristic plans are feasible."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bruteforce import brute_force, plans, random_tiny_round

from matcher import check
from matcher.domain import Round
from matcher.eligibility import candidates
from matcher.generate import generate_round
from matcher.heuristic import greedy
from matcher.lagrange import (
    Dual,
    Instance,
    PersonalSolver,
    evaluate,
    fixable,
    reduced,
    safe_floor,
    subgradient,
)
from matcher.scoring import scores
from matcher.solve import SolveParams, solve


def _inst(rnd: Round) -> Instance:
    cand = candidates(rnd)
    return Instance(rnd, cand, scores(rnd, cand))


def _alloc(inst: Instance, chosen: np.ndarray) -> list[tuple[str, str, str]]:
    rnd, c = inst.round, inst.cand
    return [(rnd.pharmacists[int(c.pharmacist[i])].id, rnd.period_ids[int(c.period[i])],
             rnd.placements[int(c.placement[i])].id) for i in chosen]


@pytest.mark.parametrize("seed", range(0, 120, 3))
def test_personal_problems_are_exact(seed: int) -> None:
    """V_p equals the best of brute force's personal plans under random prices (never
    below it: that would make the bound invalid), and the returned plan is worth V_p."""
    rnd = random_tiny_round(seed)
    inst = _inst(rnd)
    rng = np.random.default_rng(seed)
    r = reduced(inst, Dual.zeros(inst)) - rng.integers(0, 20000, len(inst.cand)) * (
        rng.random(len(inst.cand)) < 0.5)
    values, chosen = PersonalSolver(inst).solve(r)
    c = inst.cand
    key = (c.pharmacist * inst.n_l + c.placement) * inst.n_t + c.period
    for i, ph in enumerate(rnd.pharmacists):
        best = -math.inf
        for plan in plans(rnd, ph):
            q = [(i * inst.n_l + rnd.placement_index[a.placement]) * inst.n_t
                 + rnd.period_index[a.period] for a in plan]
            if any(not any(a.placement == p.placement and a.period == p.period for a in plan)
                   for p in rnd.pins if p.pharmacist == ph.id):
                continue
            best = max(best, float(r[np.searchsorted(key, q)].sum()))
        assert values[i] >= best - 1e-6
        if rnd.rules.allow_unassigned:  # exactly one relaxation otherwise: none
            assert values[i] == pytest.approx(best) or (best == -math.inf == values[i])
        mine = chosen[c.pharmacist[chosen] == i]
        if np.isfinite(values[i]):
            assert float(r[mine].sum()) == pytest.approx(values[i])


@pytest.mark.parametrize("seed", range(0, 200, 2))
def test_lagrangian_bound_is_never_below_the_optimum(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    if best is None:
        return
    inst = _inst(rnd)
    solver = PersonalSolver(inst)
    for bound in (evaluate(inst, solver, Dual.zeros(inst))[0],
                  subgradient(inst, solver, target=lambda: best, deadline=math.inf,
                              max_iter=40).bound):
        assert safe_floor(bound, inst.scale) >= best


@pytest.mark.parametrize("seed", range(0, 200, 5))
def test_reduced_cost_fixing_keeps_every_optimal_allocation(seed: int) -> None:
    """Candidates of a brute-force optimum are never fixed at a lower objective."""
    rnd = random_tiny_round(seed)
    best, alloc = brute_force(rnd)
    if best is None or alloc is None:
        return
    inst = _inst(rnd)
    solver = PersonalSolver(inst)
    res = subgradient(inst, solver, target=lambda: best, deadline=math.inf, max_iter=40)
    r = reduced(inst, res.dual)
    val, values, _ = evaluate(inst, solver, res.dual)
    fixed = fixable(inst, r, values, val, best - 1)
    c = inst.cand
    key = (c.pharmacist * inst.n_l + c.placement) * inst.n_t + c.period
    for a in alloc:
        q = (rnd.pharmacist_index[a.pharmacist] * inst.n_l
             + rnd.placement_index[a.placement]) * inst.n_t + rnd.period_index[a.period]
        assert not fixed[int(np.searchsorted(key, q))]


@pytest.mark.parametrize(("size", "seed"), [((30, 60, 3), 0), ((30, 60, 3), 1),
                                            ((60, 80, 2), 2), ((100, 150, 4), 3),
                                            ((300, 400, 3), 4)])
def test_greedy_plans_pass_the_checker(size: tuple[int, int, int], seed: int) -> None:
    rnd = generate_round(*size, seed=seed)
    inst = _inst(rnd)
    solver = PersonalSolver(inst)
    res = subgradient(inst, solver, target=lambda: None, deadline=math.inf, max_iter=15)
    g = greedy(inst, reduced(inst, res.dual))
    placed = np.setdiff1d(np.arange(inst.n_p), g.unplaced)
    assert len(placed) >= 0.9 * inst.n_p
    found = check.violations(rnd, _alloc(inst, g.chosen))
    # Only the unplaced pharmacists' own personal rules may be broken.
    unplaced = {rnd.pharmacists[int(i)].id for i in g.unplaced}
    assert all(v.pharmacist in unplaced for v in found)
    assert all(v.rule in ("sector_mix", "required_sectors", "pin", "allow_unassigned")
               for v in found)


@pytest.mark.parametrize("seed", range(3))
def test_decomposition_path_matches_cp_sat_on_small_rounds(seed: int) -> None:
    rnd = generate_round(30, 60, 3, seed=seed)
    dec = solve(rnd, SolveParams(workers=1, time_limit_s=30, path="lagrange"))
    ref = solve(rnd, SolveParams(workers=1, time_limit_s=30, path="cp-sat"))
    assert dec.stats["path"] in ("lagrange", "lagrange+cp-sat")
    assert ref.status == "optimal"
    assert ref.objective is not None
    assert dec.bound is not None
    assert dec.bound >= ref.objective
    if dec.status == "optimal":
        assert dec.objective == ref.objective


@pytest.mark.parametrize("seed", range(0, 200, 7))
def test_decomposition_path_on_tiny_rounds(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    result = solve(rnd, SolveParams(workers=1, time_limit_s=10, path="lagrange"))
    if best is None:
        assert result.status in ("infeasible", "unknown")
        return
    assert result.bound is not None
    assert result.bound >= best
    if result.status == "optimal":
        assert result.objective == best
