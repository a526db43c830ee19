"""Wall time of a scenario sweep: serially, on the local process pool, on a Dask cluster.

Run from the project folder::

    .venv/bin/python -m benchmarks.bench_sweep                 # 8 NEL scenarios, 2 workers
    .venv/bin/python -m benchmarks.bench_sweep --n 16 --workers 4
    .venv/bin/python -m benchmarks.bench_sweep --round 30x60x3 --time-limit 20

The sweep is ``N`` variants of one round (hard-to-recruit weight, travel weight, a host
placement closed after the first period, a pharmacist on leave), each solved with one
CP-SAT search worker and the same seed, three ways:

- ``serial``: one after another in this process (:class:`matcher.whatif.InlineExecutor`);
- ``local pool``: :func:`matcher.whatif.solve_many`'s default spawn process pool with
  ``--workers`` processes (the pool's start-up is inside the time);
- ``dask``: a ``dask.distributed.LocalCluster`` with ``--workers`` worker processes of one
  thread each; the cluster's start-up is shown apart from the sweep.

Every way must give the same objectives (one search worker, same seed: deterministic); the
``agree`` column says so. The table goes to standard output, progress to standard error.
On a shared machine every figure is pessimistic.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Timing", "main", "make_scenarios", "render"]

ROOT = Path(__file__).resolve().parent.parent
NEL_SAMPLE = ROOT / "data" / "samples" / "nel-2027-c1.json"


@dataclass(frozen=True)
class Timing:
    """One way of running the sweep: its wall time and what came back."""

    way: str
    startup_s: float | None
    sweep_s: float
    solved: int
    failed: int
    objectives: dict[str, int | None]


def _load(spec: str) -> Any:
    from matcher.formats import load_round
    from matcher.synthetic import generate_round  # lazy: matcher loads once a round is needed

    if spec == "nel":
        return load_round(NEL_SAMPLE)
    if "x" in spec and all(part.isdigit() for part in spec.split("x")):
        n_p, n_l, n_t = (int(x) for x in spec.split("x"))
        return generate_round(n_p, n_l, n_t, seed=0)
    return load_round(Path(spec))


def make_scenarios(base: Any, n: int) -> list[Any]:
    """``n`` distinct, valid variants of ``base`` (weights, a closure, a leave)."""
    from matcher.whatif import Scenario

    periods = base.period_ids
    rotating = [pl.id for pl in base.placements if base.stream_of(pl).rotate
                and not any(p.placement == pl.id for p in base.pins)]
    free = [ph.id for ph in base.pharmacists
            if not any(p.pharmacist == ph.id for p in base.pins)]
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            ops: list[dict[str, Any]] = [
                {"op": "set_weights", "weights": {"hard_to_recruit": 15 * (i // 4 + 1)}}]
        elif kind == 1:
            ops = [{"op": "set_weights", "weights": {"travel": i // 4 + 2}}]
        elif kind == 2 and rotating and len(periods) > 1:
            ops = [{"op": "close_placement", "placement": rotating[(i // 4) % len(rotating)],
                    "from_period": periods[1]}]
        elif free and len(periods) > 1:
            ops = [{"op": "set_unavailable", "pharmacist": free[(i // 4) % len(free)],
                    "from_period": periods[-1]}]
        else:
            ops = [{"op": "set_weights", "weights": {"preference": 10 + i}}]
        out.append(Scenario(f"s{i:02d}", base, ops))
    return out


def _run(way: str, scenarios: Sequence[Any], params: Any, executor: Any,
         max_workers: int | None, startup_s: float | None) -> Timing:
    from matcher.result import Result
    from matcher.whatif import solve_many

    t0 = time.perf_counter()
    objectives: dict[str, int | None] = {}
    failed = 0
    for name, outcome in solve_many(scenarios, params, executor=executor,
                                    max_workers=max_workers, progress=False):
        if isinstance(outcome, Result):
            objectives[name] = outcome.objective
        else:
            failed += 1
            objectives[name] = None
            print(f"  {way}: {name} failed: {outcome}", file=sys.stderr)
    took = time.perf_counter() - t0
    print(f"{way}: {took:.1f} s", file=sys.stderr)
    return Timing(way, startup_s, took, len(scenarios) - failed, failed, objectives)


def _dask(scenarios: Sequence[Any], params: Any, workers: int) -> Timing:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(workers)
        startup = time.perf_counter() - t0
        return _run("dask", scenarios, params, client, None, startup)


def render(rows: Iterable[Timing], n: int, workers: int, label: str) -> str:
    """The table of timings (speed-up relative to the serial row)."""
    rows = list(rows)
    serial = next((r.sweep_s for r in rows if r.way == "serial"), None)
    reference = rows[0].objectives if rows else {}
    lines = [f"sweep of {n} scenarios of {label}; {workers} workers for the pool and the "
             f"cluster; {os.cpu_count()} cores",
             f"{'way':<12} {'startup s':>10} {'sweep s':>9} {'total s':>9} {'speed-up':>9} "
             f"{'solved':>7} {'agree':>6}"]
    for r in rows:
        total = r.sweep_s + (r.startup_s or 0.0)
        speed = f"{serial / total:.2f}x" if serial else "-"
        startup = f"{r.startup_s:.1f}" if r.startup_s is not None else "-"
        agree = "yes" if r.objectives == reference else "NO"
        lines.append(f"{r.way:<12} {startup:>10} {r.sweep_s:>9.1f} {total:>9.1f} "
                     f"{speed:>9} {r.solved:>4}/{r.solved + r.failed:<2} {agree:>6}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the table. Exit 1 if the ways disagree or a scenario
    failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--round", default="nel",
                        help="nel (the sample), PxLxT (generated) or a round file")
    parser.add_argument("--n", type=int, default=8, help="scenarios in the sweep")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes of the pool and of the cluster")
    parser.add_argument("--time-limit", type=float, default=60.0,
                        help="seconds per scenario")
    parser.add_argument("--skip", nargs="*", default=(), choices=("serial", "pool", "dask"),
                        help="ways not to run")
    args = parser.parse_args(argv)

    from matcher.solving import SolveParams
    from matcher.whatif import InlineExecutor

    base = _load(args.round)
    scenarios = make_scenarios(base, args.n)
    params = SolveParams(time_limit_s=args.time_limit, workers=1, seed=0)
    ways: list[tuple[str, Callable[[], Timing]]] = [
        ("serial", lambda: _run("serial", scenarios, params, InlineExecutor(), None, None)),
        ("pool", lambda: _run("local pool", scenarios, params, None, args.workers, None)),
        ("dask", lambda: _dask(scenarios, params, args.workers)),
    ]
    rows = [run() for name, run in ways if name not in args.skip]
    print(render(rows, args.n, args.workers, args.round))
    bad = any(r.failed for r in rows) or any(r.objectives != rows[0].objectives for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
