"""Probe one solve path at one size: build/solve time, status, objective, bound, gap, RSS.

    .venv/bin/python -m benchmarks.scale_probe 2000x1500x3 --path flow+lns --time-limit 60
    .venv/bin/python -m benchmarks.scale_probe 5000x2500x4 --bound-only

Peak RSS is this process's ``ru_maxrss`` (round generation included).
"""

from __future__ import annotations

import argparse
import resource
import time

from matcher.eligibility import candidates
from matcher.scoring import scores
from matcher.solving import SolveParams, solve
from matcher.solving.flow import relaxation
from matcher.synthetic import generate_round


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("size")
    ap.add_argument("--path", default="auto")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bound-only", action="store_true")
    a = ap.parse_args()
    p, l_, t = map(int, a.size.split("x"))
    t0 = time.monotonic()
    rnd = generate_round(p, l_, t, seed=a.seed)
    gen_s = time.monotonic() - t0
    if a.bound_only:
        t1 = time.monotonic()
        cand = candidates(rnd)
        sc = scores(rnd, cand)
        t2 = time.monotonic()
        fr = relaxation(rnd, cand, sc)
        print(f"{a.size} candidates={len(cand)} cand+scores={t2 - t1:.2f}s "
              f"flow={fr.seconds:.2f}s bound={fr.bound}")
    else:
        t1 = time.monotonic()
        r = solve(rnd, SolveParams(time_limit_s=a.time_limit, workers=a.workers, seed=a.seed,
                                   path=a.path))
        wall = time.monotonic() - t1
        st = r.stats
        print(f"{a.size} path={st.get('path')} build={st.get('build_seconds')} "
              f"solve={st.get('solve_seconds')} wall={wall:.2f} status={r.status} "
              f"objective={r.objective} bound={r.bound} gap={r.gap}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generate={gen_s:.2f}s peak_rss={rss:.0f} MiB")


if __name__ == "__main__":
    main()
