"""Re-solving the round with one more pin: what a better-ranked alternative would cost.

:class:`Resolver` prices every (pharmacist, placement, period) it is asked about with one
:class:`~matcher.explanations.counterfactual.PinnedModel` (the round's model built once):
first the ends known without a re-solve (the result's allocation repaired to hold the pin,
checked, and the result's bound), then CP-SAT re-solves in the order asked, side by side in
threads of one CP-SAT worker each, while the count and the time budget last. A re-solve
not proven in its share keeps the interval it did prove.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.explanations.counterfactual import Measured, PinnedModel
from matcher.result import Result
from matcher.wording import count

__all__ = ["DIAGNOSE_S", "RESOLVE_FLOOR_S", "Measured", "Resolver", "points", "verdict_of"]

log = logging.getLogger(__name__)


RESOLVE_FLOOR_S = 0.5  # least time given to one re-solve while the budget lasts
DIAGNOSE_S = 2.0  # most time spent explaining one infeasible pinned round
QUICK_SHARE = 0.5  # most of the budget the re-solve-free ends may take


class Resolver:
    """Re-solves the round with one extra pin, within a count and a time budget.

    ``max_resolves`` caps the CP-SAT re-solves (``None``: the time budget only); 0 measures
    nothing. ``workers`` is the number of re-solves run at once (0: one per core), each
    with one CP-SAT worker.
    """

    def __init__(self, rnd: Round, result: Result, base: int, max_resolves: int | None,
                 deadline: float, workers: int, seed: int, cand: Candidates) -> None:
        self.round = rnd
        self.cand = cand
        self.result = result
        self.base = base
        self.left = max_resolves if max_resolves is not None else 10**9
        self.deadline = deadline
        self.threads = workers if workers > 0 else max(1, os.cpu_count() or 1)
        self.seed = seed
        self.cache: dict[tuple[str, str, str], Measured] = {}
        self.count = 0
        self.pinned: PinnedModel | None = None
        self.lock = threading.Lock()
        # A re-solve needs about as long as the solve that made the result (warm start or
        # not): fewer re-solves that finish beat many that all stop unproven.
        took = sum(float(result.stats.get(k, 0.0) or 0.0)
                   for k in ("solve_seconds", "build_seconds"))
        self.floor = max(RESOLVE_FLOOR_S, 1.5 * took)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def measure_all(self, wanted: Sequence[tuple[str, str, str]]) -> None:
        """Measure the triples: their re-solve-free ends, then re-solves in order while the
        budget lasts."""
        todo = [w for w in dict.fromkeys(wanted) if w not in self.cache]
        if not todo or self.left <= 0 or self.remaining() <= 0.05:
            return
        if self.pinned is None:
            self.pinned = PinnedModel(self.round, self.result, self.base, self.cand,
                                      seed=self.seed, diagnose_s=DIAGNOSE_S)
        pinned = self.pinned
        quick_until = time.monotonic() + QUICK_SHARE * self.remaining()
        for triple in todo:
            if time.monotonic() >= quick_until:
                break
            self.cache[triple] = pinned.quick(*triple)
        log.debug("re-solve-free ends of %d of %d", sum(w in self.cache for w in todo),
                  len(todo))
        # Those still without both ends first (they are not priced at all yet), then the
        # others in the order asked.
        queue = sorted((w for w in todo if w not in self.cache or not self.cache[w].exact),
                       key=lambda w: w in self.cache and self.cache[w].at_most is not None
                       and self.cache[w].at_least is not None)
        queue = queue[: max(0, self.left)]
        if not queue:
            return
        threads = min(self.threads, len(queue))
        state = {"next": 0}

        def work() -> None:
            while True:
                with self.lock:
                    n = state["next"]
                    remaining = self.remaining()
                    if n >= len(queue) or self.left <= 0 or remaining <= 0.05:
                        return
                    state["next"] = n + 1
                    pending = len(queue) - n
                    share = min(remaining, max(remaining * threads / pending, self.floor))
                    self.left -= 1
                    self.count += 1
                    triple = queue[n]
                    prior = self.cache.get(triple)
                diag = min(DIAGNOSE_S, max(0.2, self.remaining()))
                m = pinned.measure(*triple, time_limit_s=share, prior=prior, diagnose_s=diag)
                with self.lock:
                    self.cache[triple] = m

        if threads == 1:
            work()
            return
        with ThreadPoolExecutor(max_workers=threads,
                                thread_name_prefix="matcher-resolve") as pool:
            for f in [pool.submit(work) for _ in range(threads)]:
                f.result()

    def get(self, p: str, l_id: str, t: str) -> Measured | None:
        """The measurement of a triple, if it was made."""
        return self.cache.get((p, l_id, t))


# ---- wording -------------------------------------------------------------------------------


def verdict_of(m: Measured | None, what: str
             ) -> tuple[str, str, tuple[str, ...], int | None, bool]:
    """(verdict, text, rules, cost, cost_exact) of a measurement."""
    if m is None:
        return "not_measured", "not measured (the re-solve budget ran out)", (), None, False
    if m.status == "invalid":
        return ("breaks_rules", f"{what} is not allowed: " + "; ".join(m.problems),
                ("pin",), None, False)
    if m.status == "infeasible":
        rules = tuple(dict.fromkeys(
            str(r) for f in m.findings for r in (f.get("rules") or [f.get("rule", "unknown")])))
        reasons = (" / ".join(str(f.get("message", "")) for f in m.findings[:3])
                   or "no reason found in time")
        return "breaks_rules", f"{what} breaks the hard rules: {reasons}", rules, None, False
    if m.cost is not None:
        if m.cost > 0:
            return "costs", f"it would cost the round {points(m.cost)}", (), m.cost, True
        if m.cost == 0:
            return ("tie", f"an equally good allocation does this ({what} costs 0 points)",
                    (), 0, True)
        return ("better", f"re-solving with it found an allocation {points(-m.cost)} "
                          "better (this result was not proven optimal)", (), m.cost, True)
    lo, hi = m.at_least, m.at_most
    why = ("the re-solve was not proven optimal in time" if m.resolved
           else "the re-solve budget ran out; measured from a checked allocation that gives "
                "it and the result's bound")
    if hi is not None and hi < 0:
        return ("better", f"re-solving with it found an allocation {points(-hi)} "
                          "better (this result was not proven optimal)", (), hi, False)
    if hi is None:
        if lo is not None and lo > 0:
            return ("costs", f"it would cost the round at least {points(lo)} (no allocation "
                             f"giving it was found in time; {why})", (), lo, False)
        return ("not_measured", "not measured (no allocation giving it was found in time)",
                (), None, False)
    if lo is None or lo < 0:
        if hi == 0:
            return ("tie", f"an allocation as good as this one does this ({what} costs 0 "
                           "points as far as measured)", (), 0, False)
        return ("costs", f"it would cost the round at most {points(hi)} ({why}; the result "
                         "was not proven optimal, so it may cost less)", (), lo, False)
    return ("costs", f"it would cost the round between {lo} and {points(hi)} ({why})", (), lo,
            False)


def points(n: int) -> str:
    return count(n, "point")
