"""Metamorphic tests: changes to a round whose effect on the optimum is known."""

from __future__ import annotations

import random

import pytest
from bruteforce import random_tiny_round

from matcher.domain import Round
from matcher.solving import SolveParams, solve
from matcher.synthetic import generate_round
from matcher.validation import parse_round, with_changes

ONE = SolveParams(workers=1, time_limit_s=20)


def _optimum(rnd: Round) -> int | None:
    r = solve(rnd, ONE)
    assert r.status in ("optimal", "infeasible")
    return r.objective


@pytest.mark.parametrize("seed", range(25))
def test_adding_a_ban_never_raises_the_optimum(seed: int) -> None:
    rnd = random_tiny_round(seed)
    base = _optimum(rnd)
    rng = random.Random(seed)
    pinned = {(p.pharmacist, p.placement) for p in rnd.pins}
    pairs = [(ph.id, pl.id) for ph in rnd.pharmacists for pl in rnd.placements
             if (ph.id, pl.id) not in pinned]
    ph_id, pl_id = rng.choice(pairs)
    bans = [*rnd.bans, {"pharmacist": ph_id, "placement": pl_id, "period": None}]
    banned = _optimum(with_changes(rnd, bans=bans))
    if base is None:
        assert banned is None
    elif banned is not None:
        assert banned <= base


@pytest.mark.parametrize("seed", range(25))
def test_shuffling_every_list_leaves_the_optimum(seed: int) -> None:
    rnd = random_tiny_round(seed)
    rng = random.Random(seed)
    data = rnd.to_data()
    for key, value in data.items():
        if isinstance(value, list) and key != "periods":  # period order is meaningful
            rng.shuffle(value)
    for ph in data["pharmacists"]:
        for key in ("skills", "unavailable", "history"):
            rng.shuffle(ph[key])
    assert _optimum(parse_round(data)) == _optimum(rnd)


@pytest.mark.parametrize("seed", range(3))
def test_raising_the_hard_to_recruit_weight_never_lowers_its_fill(seed: int) -> None:
    rnd = generate_round(12, 20, 2, seed=seed)
    fills = []
    for weight in (0, 30, 300, 3000):
        heavier = rnd.weights.model_copy(update={"hard_to_recruit": weight})
        r = solve(with_changes(rnd, weights=heavier), ONE)
        assert r.status == "optimal"
        levels = {pl.id: pl.hard_to_recruit for pl in rnd.placements}
        fills.append(sum(levels[a.placement] for a in r.assignments))
    assert fills == sorted(fills)


def test_same_seed_one_worker_is_deterministic() -> None:
    rnd = generate_round(30, 60, 3, seed=1)
    params = SolveParams(workers=1, seed=7, time_limit_s=60)
    first, second = solve(rnd, params), solve(rnd, params)
    assert first.status == second.status
    assert first.assignments == second.assignments


def test_warm_start_gives_the_same_optimum() -> None:
    rnd = generate_round(30, 60, 3, seed=2)
    cold = solve(rnd, ONE)
    warm = solve(rnd, SolveParams(workers=1, time_limit_s=20, hint=cold))
    assert cold.status == warm.status == "optimal"
    assert warm.objective == cold.objective


@pytest.mark.parametrize("seed", range(10))
def test_every_path_agrees_on_tiny_rounds(seed: int) -> None:
    """The flow path proves the same optimum as CP-SAT (or the same infeasibility)."""
    rnd = random_tiny_round(seed)
    direct = solve(rnd, SolveParams(workers=1, path="cp-sat"))
    lp = solve(rnd, SolveParams(workers=1, path="flow+lns"))
    assert lp.status == direct.status
    assert lp.objective == direct.objective
