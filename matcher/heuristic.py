"""A fast primal heuristic: Lagrangian plans made feasible by a greedy repair.

Each pharmacist's best personal plan under the multipliers' reduced scores
(:class:`matcher.lagrange.PersonalSolver`, which already respects every personal rule:
one per stream and period, rotation, continuity, sector mix, required sectors, pins) is
accepted whole, in priority order, while every shared resource it uses still has room:
capacity per placement and period, organisation caps, supervision. Pharmacists whose
plan no longer fits are re-planned with the exhausted resources forbidden, in rounds,
until everyone is placed or has no feasible plan left (``unplaced``).

The counting is conservative (a pharmacist holding two placements of one organisation or
supervisor in one period counts twice), so every accepted set is feasible for the spec's
distinct counting too. The result is checked independently by the caller.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.lagrange import NEG, Instance, PersonalSolver

__all__ = ["Greedy", "greedy"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Greedy:
    """Outcome of :func:`greedy`: chosen candidates and pharmacists left without a plan."""

    chosen: IntArray
    unplaced: IntArray
    rounds: int
    seconds: float


def _sup_lists(inst: Instance) -> list[list[IntArray]]:
    """For every (class, placement): the supervisors counting that class over it."""
    out: list[list[IntArray]] = []
    for cls in range(4):
        m = inst.sup_cover & inst.sup_counted[:, cls, None]
        out.append([np.flatnonzero(m[:, j]) for j in range(inst.n_l)])
    return out


def greedy(inst: Instance, r: FloatArray, *, deadline: float | None = None,
           pharmacists: IntArray | None = None, max_rounds: int = 60) -> Greedy:
    """Feasible plans for as many pharmacists as possible (see the module docs)."""
    t0 = time.monotonic()
    c = inst.cand
    cap_rem = inst.cap.copy()
    org_rem = np.repeat(inst.org_cap[:, None], inst.n_t, axis=1).astype(np.int64)
    sup_rem = np.repeat(inst.sup_cap[:, None], inst.n_t, axis=1).astype(np.int64)
    sups = _sup_lists(inst)
    forbidden = np.zeros(len(c), dtype=bool)
    active = (np.arange(inst.n_p, dtype=np.int64) if pharmacists is None
              else np.sort(pharmacists))
    chosen_all: list[IntArray] = []
    unplaced: list[IntArray] = []
    rounds = 0
    org_of_l = inst.org_of_l.tolist()
    pclass = inst.pclass.tolist()
    while len(active) and rounds < max_rounds:
        rounds += 1
        solver = PersonalSolver(inst, active)
        values, plans = solver.solve(np.where(forbidden, NEG, r))
        dead = active[~np.isfinite(values)]
        if len(dead):
            unplaced.append(dead)
        # Accept plans in order of value (best first), whole or not at all.
        pl_p = c.pharmacist[plans]
        starts = np.searchsorted(pl_p, active)
        ends = np.searchsorted(pl_p, active, side="right")
        order = np.argsort(-np.where(np.isfinite(values), values, -1e300), kind="stable")
        rejected: list[int] = []
        plans_l = c.placement[plans].tolist()
        plans_t = c.period[plans].tolist()
        accepted: list[IntArray] = []
        for k in order.tolist():
            if not np.isfinite(values[k]):
                continue
            lo, hi = int(starts[k]), int(ends[k])
            cls = pclass[int(active[k])]
            ok = True
            for q in range(lo, hi):
                li, ti = plans_l[q], plans_t[q]
                if cap_rem[li, ti] <= 0:
                    ok = False
                    break
                o = org_of_l[li]
                if o >= 0 and org_rem[o, ti] <= 0:
                    ok = False
                    break
                sl = sups[cls][li]
                if len(sl) and (sup_rem[sl, ti] <= 0).any():
                    ok = False
                    break
            if ok:
                # Re-check with this plan's own multiple uses (two streams in one org).
                for q in range(lo, hi):
                    li, ti = plans_l[q], plans_t[q]
                    cap_rem[li, ti] -= 1
                    o = org_of_l[li]
                    if o >= 0:
                        org_rem[o, ti] -= 1
                    sl = sups[cls][li]
                    if len(sl):
                        sup_rem[sl, ti] -= 1
                over = False
                for q in range(lo, hi):
                    li, ti = plans_l[q], plans_t[q]
                    o = org_of_l[li]
                    sl = sups[cls][li]
                    if cap_rem[li, ti] < 0 or (o >= 0 and org_rem[o, ti] < 0) or (
                            len(sl) and (sup_rem[sl, ti] < 0).any()):
                        over = True
                        break
                if over:
                    for q in range(lo, hi):  # undo: this plan overfills on its own
                        li, ti = plans_l[q], plans_t[q]
                        cap_rem[li, ti] += 1
                        o = org_of_l[li]
                        if o >= 0:
                            org_rem[o, ti] += 1
                        sl = sups[cls][li]
                        if len(sl):
                            sup_rem[sl, ti] += 1
                    rejected.append(k)
                    continue
                accepted.append(plans[lo:hi])
            else:
                rejected.append(k)
        if accepted:
            chosen_all.append(np.concatenate(accepted))
        active = np.sort(active[np.array(rejected, dtype=np.int64)])
        # Forbid every candidate that touches an exhausted resource.
        blocked = cap_rem[c.placement, c.period] <= 0
        if len(inst.org_cap):
            has_org = inst.org_of_l[c.placement] >= 0
            blocked |= has_org & (org_rem[np.maximum(inst.org_of_l[c.placement], 0),
                                          c.period] <= 0)
        if len(inst.sup_cap):
            exhausted = (sup_rem <= 0).astype(np.float64)
            for cls in range(4):
                m = (inst.sup_cover & inst.sup_counted[:, cls, None]).astype(np.float64)
                bad_lt = (m.T @ exhausted) > 0
                sel = inst.pclass[c.pharmacist] == cls
                blocked |= sel & bad_lt[c.placement, c.period]
        forbidden |= blocked
        if deadline is not None and time.monotonic() > deadline:
            break
    if len(active):
        unplaced.append(active)
    chosen = np.sort(np.concatenate(chosen_all)) if chosen_all else np.zeros(0, np.int64)
    left = np.unique(np.concatenate(unplaced)) if unplaced else np.zeros(0, np.int64)
    secs = time.monotonic() - t0
    log.info("greedy: %d assignments, %d pharmacists unplaced, %d rounds, %.2f s",
             len(chosen), len(left), rounds, secs)
    return Greedy(chosen, left, rounds, secs)
