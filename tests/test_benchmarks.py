"""The benchmark's peer (a plain CP-SAT model of the spec) agrees with ``matcher.solving.solve`` and
with exhaustive enumeration, and ``benchmarks/bench_solve.py`` runs end to end.

No timing is asserted: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bruteforce import brute_force, random_tiny_round

from matcher.solving import SolveParams, solve
from matcher.synthetic import generate_round

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of the project, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_solve import (  # noqa: E402
    COLUMNS,
    TARGETS,
    Row,
    judge,
    parse_size,
    render_table,
)
from benchmarks.peer import build_peer, solve_peer  # noqa: E402

ONE = SolveParams(workers=1, time_limit_s=30)


@pytest.mark.parametrize("seed", range(24))
def test_peer_equals_brute_force_and_solve_on_tiny_rounds(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    peer = solve_peer(rnd, time_limit_s=30, workers=1)
    ours = solve(rnd, ONE)
    if best is None:
        assert peer.status == "infeasible"
        assert ours.status == "infeasible"
        return
    assert peer.status == "optimal"
    assert peer.checked is True
    assert peer.violations == 0
    assert peer.objective == peer.check_objective == best
    assert ours.status == "optimal"
    assert ours.objective == peer.objective


@pytest.mark.parametrize(("dims", "seed"), [((6, 8, 2), 0), ((8, 12, 2), 1), ((10, 12, 3), 2),
                                           ((12, 20, 2), 3)])
def test_peer_agrees_with_solve_on_small_generated_rounds(
    dims: tuple[int, int, int], seed: int
) -> None:
    rnd = generate_round(*dims, seed=seed)
    peer = solve_peer(rnd, time_limit_s=30, workers=1)
    ours = solve(rnd, ONE)
    assert peer.status == ours.status == "optimal"
    assert peer.checked is True
    assert peer.objective == ours.objective == peer.check_objective
    assert peer.bound == peer.objective
    assert peer.gap == 0.0


def test_peer_has_one_variable_per_eligible_triple() -> None:
    from matcher.eligibility import candidates

    rnd = generate_round(8, 12, 2, seed=4)
    pm = build_peer(rnd)
    assert len(pm.x) == len(candidates(rnd))
    assert pm.stats["assignment_variables"] == len(pm.x)
    assert pm.infeasible_reason is None


def test_sizes_and_targets() -> None:
    assert parse_size("300x400x3").dims == (300, 400, 3)
    assert parse_size("20×30×2").key == "20x30x2"
    with pytest.raises(ValueError):
        parse_size("big")
    target = TARGETS["2000x1500x3"]
    good = Row(size="2000x1500x3", solver="ours", status="feasible", total_s=59.0,
               gap=0.004, peak_mib=3000.0, checked=True)
    assert judge(target, good) == (True, "")
    slow = Row(size="2000x1500x3", solver="peer", status="feasible", total_s=75.0,
               gap=0.01, peak_mib=5000.0, checked=True)
    met, why = judge(target, slow)
    assert met is False
    assert "gap 1.00 %" in why
    assert "75.00 s" in why
    assert "5000 MiB" in why
    nel = TARGETS["nel"]
    assert judge(nel, Row(size="nel", solver="ours", status="optimal"))[0] is None
    cli = Row(size="nel", solver="ours (cli)", status="optimal", total_s=0.5, checked=True)
    assert judge(nel, cli) == (True, "")
    assert render_table([good]).splitlines()[0].split(" | ")[0].strip() == "size"


def test_script_runs_end_to_end_in_quick_mode(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_solve", "--quick", "--sizes", "20x30x2",
         "--time-limit", "5", "--workers", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("size"))
    assert [c.strip() for c in header.split(" | ")] == list(COLUMNS)
    rows = [line for line in lines if line.startswith("20x30x2")]
    assert len(rows) == 2
    solvers = [row.split(" | ")[1].strip() for row in rows]
    assert solvers[0].startswith("ours")
    assert solvers[1] == "peer"
    for row in rows:
        cells = [c.strip() for c in row.split(" | ")]
        assert cells[COLUMNS.index("status")] in ("optimal", "feasible")
        assert cells[COLUMNS.index("checked")] == "yes"
    data = json.loads(out.read_text())
    assert [r["solver"] for r in data["rows"]][1] == "peer"
    assert all(r["peak_mib"] and r["peak_mib"] > 0 for r in data["rows"])
    assert data["meta"]["workers"] == 1
