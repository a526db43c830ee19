"""The public face of solving: ``matcher.solve(round)`` and friends, typed paths, the
budget, the id <-> candidate mapping, old import paths, and determinism of ``flow+lns``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import matcher
from matcher.allocation import Assignment
from matcher.eligibility import candidates
from matcher.solving import PATHS, Budget, SolveParams, solve
from matcher.synthetic import generate_round


@pytest.fixture(scope="module")
def small() -> matcher.Round:
    return generate_round(12, 20, 3, seed=1)


def test_the_package_exports_functions_not_modules(small: matcher.Round) -> None:
    result = matcher.solve(small, matcher.SolveParams(workers=1, time_limit_s=20))
    assert result.status == "optimal"
    assert matcher.check(small, result.allocation).feasible
    assert matcher.explain(small, result, max_resolves=2).pharmacists
    assert matcher.diagnose(small, time_limit_s=5) == []
    for name in matcher.__all__:
        assert not isinstance(getattr(matcher, name), type(matcher)), name


def test_an_unknown_path_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown solve path 'lp'"):
        SolveParams(path="lp")  # type: ignore[arg-type]
    assert PATHS == ("auto", "cp-sat", "flow+lns")


def test_both_paths_agree_on_a_small_round(small: matcher.Round) -> None:
    a = solve(small, SolveParams(workers=1, path="cp-sat"))
    b = solve(small, SolveParams(workers=1, path="flow+lns"))
    assert (a.status, b.status) == ("optimal", "optimal")
    assert a.objective == b.objective
    assert (a.stats["path"], b.stats["path"]) == ("cp-sat", "flow+lns")


def test_old_import_paths_warn_and_still_work() -> None:
    code = (
        "import warnings, matcher\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n"
        "    import matcher.solve\n"
        "except DeprecationWarning as w:\n"
        "    print('warned:', w)\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "from matcher.solve import SolveParams, solve\n"
        "import matcher.check, matcher.explain\n"
        "from matcher.synthetic import generate_round\n"
        "rnd = generate_round(8, 12, 2, seed=0)\n"
        "r = matcher.solve(rnd, SolveParams(workers=1))\n"  # the module is callable
        "print(r.status, solve is matcher.solving.solve,\n"
        "      matcher.check(rnd, r.allocation).feasible)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "warned: matcher.solve is deprecated" in out
    assert "import from matcher.solving" in out
    assert out.strip().endswith("optimal True True")


def test_budget_keeps_its_reserve_and_honours_a_stop() -> None:
    stop = threading.Event()
    b = Budget(10.0, stop)
    assert 9.0 < b.left() <= 10.0
    b.keep_back(2.0)
    assert b.left() <= 8.0
    b.keep_back(0.5)  # never lowers the reserve
    assert b.reserve == 2.0
    assert b.slice(100.0) == pytest.approx(b.left(), abs=0.01)
    assert not b.stopped()
    stop.set()
    assert b.cancelled()
    assert b.stopped()
    short = Budget(0.05)
    time.sleep(0.06)
    assert short.stopped()
    assert short.left() == 0.0


def test_candidates_map_ids_to_positions_and_back(small: matcher.Round) -> None:
    cand = candidates(small)
    picks = np.array([0, len(cand) // 2, len(cand) - 1])
    back = cand.assignments(small, picks)
    assert list(cand.positions(small, back)) == picks.tolist()
    unknown = [Assignment("NOBODY", small.period_ids[0], small.placements[0].id),
               (back[0].pharmacist, back[0].period, "NOWHERE")]
    assert cand.positions(small, unknown).tolist() == [-1, -1]
    shuffled = np.array(picks[::-1])
    sub = cand.subset(shuffled)  # not in candidate order: still found
    assert sub.positions(small, back).tolist() == [2, 1, 0]


def test_flow_lns_is_deterministic_with_one_worker_and_a_seed() -> None:
    """The flow path's docstring promises the same answer for the same seed with one
    worker when the search ends by proof (not by the clock)."""
    rnd = generate_round(120, 250, 3, seed=4)
    params = SolveParams(workers=1, seed=7, time_limit_s=60, path="flow+lns")
    first = solve(rnd, params)
    second = solve(rnd, params)
    assert first.status == second.status == "optimal"
    assert first.stats["components"] >= 2
    assert first.assignments == second.assignments
    assert first.objective == second.objective
