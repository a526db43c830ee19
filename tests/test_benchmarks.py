"""The benchmark's peers (a plain CP-SAT model and a HiGHS MIP of the spec) agree with
``matcher.solving.solve`` and with exhaustive enumeration, every round shape of
``benchmarks/variety.py`` is a valid round with a checked solution, and
``benchmarks/bench_solve.py`` runs end to end.

No timing is asserted: the machine is shared and timings are noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bruteforce import brute_force, random_tiny_round

from matcher import checker
from matcher.domain import Round
from matcher.solving import SolveParams, solve
from matcher.synthetic import generate_round
from matcher.validation import parse_round

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
    worst_rows,
)
from benchmarks.highs_peer import build_highs, solve_highs  # noqa: E402
from benchmarks.peer import build_peer, solve_peer  # noqa: E402
from benchmarks.variety import SHAPES, build_shape  # noqa: E402

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
    from matcher.eligibility import candidates  # local: only the model-size tests need it

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
    solvers = [row.split(" | ")[COLUMNS.index("solver")].strip() for row in rows]
    assert solvers[0].startswith("ours")
    assert solvers[1] == "peer [cp-sat]"
    for row in rows:
        cells = [c.strip() for c in row.split(" | ")]
        assert cells[COLUMNS.index("status")] in ("optimal", "feasible")
        assert cells[COLUMNS.index("checked")] == "yes"
    data = json.loads(out.read_text())
    assert [r["solver"] for r in data["rows"]][1] == "peer [cp-sat]"
    assert all(r["peak_mib"] and r["peak_mib"] > 0 for r in data["rows"])
    assert data["meta"]["workers"] == 1


# ---- the HiGHS peer ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_highs_peer_equals_brute_force_on_tiny_rounds(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    res = solve_highs(rnd, time_limit_s=30, workers=1)
    if best is None:
        assert res.status == "infeasible"
        return
    assert res.status == "optimal"
    assert res.checked is True
    assert res.violations == 0
    assert res.objective == res.check_objective == best == res.bound
    assert res.highs_objective is not None
    assert round(res.highs_objective) == best


@pytest.mark.parametrize(("shape", "dims", "seed"), [
    ("plain", (12, 24, 3), 0), ("fair-5", (12, 24, 3), 1), ("fair-20", (12, 24, 3), 2),
    ("fair-50", (10, 20, 2), 3), ("one-stream", (12, 24, 3), 4),
    ("cross-supervisors", (16, 40, 3), 5), ("tight", (12, 24, 3), 6),
    ("per-period", (12, 24, 3), 7), ("org-caps", (12, 24, 3), 8),
    ("pins-bans-leave", (12, 24, 3), 9), ("replan-50", (12, 24, 3), 10),
    ("replan-1000", (14, 24, 3), 11), ("pins-bans-leave+fair-50+replan-200", (14, 24, 3), 12),
])
def test_highs_peer_agrees_with_solve_on_small_rounds_of_every_kind(
    shape: str, dims: tuple[int, int, int], seed: int
) -> None:
    rnd = build_shape(shape, *dims, seed)
    ours = solve(rnd, ONE)
    res = solve_highs(rnd, time_limit_s=30, workers=1)
    assert ours.status == res.status == "optimal"
    assert res.checked is True
    assert res.objective == ours.objective == res.bound
    assert res.gap == 0.0


def test_highs_model_is_one_column_per_eligible_triple_plus_helpers() -> None:
    from matcher.eligibility import candidates  # local: only the model-size tests need it

    rnd = build_shape("fair-20", 10, 20, 2, 3)
    hm = build_highs(rnd)
    assert hm.n_x == len(candidates(rnd)) == hm.stats["assignment_variables"]
    assert hm.stats["columns"] > hm.n_x  # continuity, sectors, fairness M
    assert len(hm.a_start) == hm.stats["rows"] == len(hm.row_lower)
    assert hm.integrality[: hm.n_x].all()
    assert not hm.integrality[hm.n_x:].any()
    assert hm.infeasible_reason is None


def test_highs_peer_reports_an_impossible_round_as_infeasible() -> None:
    base = generate_round(6, 12, 2, seed=1)
    data = base.to_data()
    data["rules"] = {**data["rules"], "allow_unassigned": False}
    for pl in data["placements"]:  # far fewer seats than people, every slot must be filled
        pl["capacity"] = 0
    data["placements"][0]["capacity"] = 1
    data["pins"] = []
    rnd = parse_round(data)
    assert solve_highs(rnd, time_limit_s=10, workers=1).status == "infeasible"
    assert solve(rnd, ONE).status == "infeasible"


# ---- the round shapes ----------------------------------------------------------------------


def _seats(rnd: Round, stream: str, period: str) -> int:
    return sum(pl.capacity_in(period) for pl in rnd.placements
               if rnd.stream_of(pl).id == stream)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_is_a_valid_deterministic_round_with_a_checked_solution(shape: str) -> None:
    rnd = build_shape(shape, 16, 30, 3, 2)
    assert parse_round(rnd.to_data()).to_data() == rnd.to_data()
    assert build_shape(shape, 16, 30, 3, 2).to_data() == rnd.to_data()
    res = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert res.has_solution
    assert checker.violations(rnd, res.allocation) == []
    assert checker.objective(rnd, res.allocation).total == res.objective


def test_shapes_change_what_they_say() -> None:
    p, l_, t, seed = 40, 60, 3, 1
    plain = build_shape("plain", p, l_, t, seed)
    n_pins, n_bans = len(plain.pins), len(plain.bans)
    for k in (5, 20, 50):
        fair = build_shape(f"fair-{k}", p, l_, t, seed)
        assert fair.weights.fairness == k
        assert len(fair.streams) == 2
        assert fair.supervisors
    assert build_shape("one-stream", p, l_, t, seed).streams == ()

    cross = build_shape("cross-supervisors", p, l_, t, seed)
    spans = [s for s in cross.supervisors
             if len({cross.stream_of(cross.placement(i)).id for i in s.placements}) == 2]
    assert len(spans) >= len(cross.supervisors) // 3

    tight = build_shape("tight", p, l_, t, seed)
    assert tight.rules.allow_unassigned
    for stream in tight.effective_streams:
        for period in tight.period_ids:
            demand = sum(period not in ph.unavailable for ph in tight.pharmacists)
            seats = _seats(tight, stream.id, period)
            assert 0.9 * demand <= seats <= demand + len(tight.pins)

    per = build_shape("per-period", p, l_, t, seed)
    assert sum(isinstance(pl.capacity, dict) for pl in per.placements) >= l_ // 4
    assert sum(any(pl.min_fill_in(x) for x in per.period_ids) for pl in per.placements) >= l_ // 4

    caps = build_shape("org-caps", p, l_, t, seed)
    capped = sum(o.max_pharmacists is not None for o in caps.organisations)
    assert capped > sum(o.max_pharmacists is not None for o in plain.organisations)
    assert capped >= len(caps.organisations) // 2

    pbl = build_shape("pins-bans-leave", p, l_, t, seed)
    assert len(pbl.pins) >= n_pins + p // 10
    assert len(pbl.bans) > n_bans
    leave = sum(len(ph.unavailable) for ph in pbl.pharmacists)
    assert leave > sum(len(ph.unavailable) for ph in plain.pharmacists)

    rounds = {k: build_shape(f"replan-{k}", p, l_, t, seed) for k in (50, 200, 1000)}
    for k, rnd in rounds.items():
        assert rnd.weights.change == k
        assert rnd.reference
        assert any(pl.capacity_in("R1") and not pl.capacity_in("R2") and not pl.capacity_in("R3")
                   for pl in rnd.placements)
        assert any(ph.unavailable == ("R2", "R3") for ph in rnd.pharmacists)
    # The same changes whatever the weight, so the three rows compare.
    assert (rounds[50].model_copy(update={"weights": rounds[1000].weights}).to_data()
            == rounds[1000].to_data())


def test_unknown_shape_lists_the_shapes() -> None:
    with pytest.raises(KeyError, match="fair-20"):
        build_shape("fair-3", 10, 20, 2, 0)
    with pytest.raises(KeyError, match="joined by"):
        build_shape("fair-20+fair-3", 10, 20, 2, 0)


def test_combined_shapes_apply_each_part_left_to_right() -> None:
    p, l_, t, seed = 30, 50, 3, 4
    both = build_shape("tight+fair-20", p, l_, t, seed)
    tight = build_shape("tight", p, l_, t, seed)
    assert both.weights.fairness == 20
    assert both.model_copy(update={"weights": tight.weights}).to_data() == tight.to_data()
    assert build_shape("one-stream+fair-5", p, l_, t, seed).streams == ()
    hard = build_shape("pins-bans-leave+fair-50+replan-200", p, l_, t, seed)
    assert (hard.weights.fairness, hard.weights.change) == (50, 200)
    assert hard.reference
    assert len(hard.bans) > len(build_shape("plain", p, l_, t, seed).bans)
    assert "pins-bans-leave+fair-50+replan-200" in SHAPES  # part of --shapes all


# ---- the command line ----------------------------------------------------------------------


def test_worst_row_per_size_and_solver() -> None:
    def row(shape: str, solver: str, status: str, gap: float, checked: bool | None = True,
            total: float = 1.0) -> Row:
        return Row(size="40x60x3", key="40x60x3", shape=shape, seed=0, solver=solver,
                   status=status, gap=gap, checked=checked, total_s=total)

    rows = [row("plain", "ours [cp-sat]", "optimal", 0.0, total=3.0),
            row("fair-20", "ours [flow+lns]", "feasible", 0.002),
            row("tight", "ours [cp-sat]", "feasible", 0.01),
            row("plain", "peer [highs]", "optimal", 0.0),
            row("fair-20", "peer [highs]", "feasible", 0.5),
            row("tight", "peer [highs]", "unknown", 0.0, checked=None)]
    worst = worst_rows(rows)
    assert [(r.shape, r.solver) for r in worst] == [("tight", "ours [cp-sat]"),
                                                    ("tight", "peer [highs]")]
    assert worst_rows(rows[:1] + rows[3:4]) == []  # one row per solver: nothing to add


def test_script_runs_shapes_seeds_and_the_highs_peer(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_solve", "--sizes", "12x20x2",
         "--shapes", "replan-50", "--seeds", "2", "--peers", "highs",
         "--time-limit", "10", "--workers", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    got = [(r["shape"], r["seed"], r["solver"].startswith("ours"), r["solver"])
           for r in data["rows"]]
    assert [g[:3] for g in got] == [("replan-50", 0, True), ("replan-50", 0, False),
                                    ("replan-50", 1, True), ("replan-50", 1, False)]
    assert {g[3] for g in got if not g[2]} == {"peer [highs]"}
    for r in data["rows"]:
        assert r["status"] == "optimal"
        assert r["checked"] is True
    assert data["rows"][0]["objective"] == data["rows"][1]["objective"]  # ours = HiGHS
    assert data["rows"][2]["objective"] == data["rows"][3]["objective"]
    tail = proc.stdout.split("worst row of each solver per size")[1]
    assert len([line for line in tail.splitlines() if line.startswith("12x20x2")]) == 2
    assert data["meta"]["shapes"] == ["replan-50"]
    assert data["meta"]["seeds"] == [0, 1]


def test_kept_rounds_are_reused_so_runs_compare_the_same_rounds(tmp_path: Path) -> None:
    """With --rounds, the first run builds a re-plan round (its reference comes from a
    time-limited solve) and keeps it; the second solves that same file instead of a new
    build."""
    kept = tmp_path / "rounds"
    cmd = [sys.executable, "-m", "benchmarks.bench_solve", "--sizes", "12x20x2",
           "--shapes", "replan-50", "--no-peer", "--no-cli", "--time-limit", "10",
           "--workers", "1", "--rounds", str(kept)]
    runs = []
    for _ in range(2):
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        runs.append(proc.stdout + proc.stderr)
    files = list(kept.glob("*.round.json"))
    assert [f.name for f in files] == ["12x20x2-replan-50-s0.round.json"]
    assert "building the round" in runs[0]
    assert "building the round" not in runs[1]
    assert f"the round kept in {kept}" in runs[1]
    assert json.loads(files[0].read_text())["reference"]


def test_bad_shape_or_peer_is_refused() -> None:
    for args in (["--shapes", "nope"], ["--peers", "gurobi"]):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_solve", "--sizes", "12x20x2", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )
        assert proc.returncode != 0
        assert "unknown" in proc.stderr
