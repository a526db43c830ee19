"""A valid upper bound from the LP relaxation of a model, however roughly the LP is solved.

The collapsed flow bound (:mod:`matcher.solving.flow`) forgets which period a unit is in.
Where per-period capacities and ``min_fill`` pull pharmacists to particular periods it
drifts far from the optimum: on 300 x 400 x 3 rounds with per-period capacities it was
8-14 % above the proven optimum, while the LP relaxation of the integer program was the
optimum itself. This module prices that LP.

**The bound.** The model (:class:`~matcher.solving.model.Model`) is ``max c.x`` subject to
rows ``lo <= A x <= up`` and bounds ``l <= x <= u``. Keep the *slot rows* (at most, or
exactly, one assignment per pharmacist, period and stream) as they are and move every
other row into the objective with a multiplier ``y_i`` (any real number). For every
feasible ``x`` (integer or not) and every ``y``:

    c.x = sum_j rc_j x_j + sum_i y_i (A x)_i       where rc = c - A'y (slot rows left out)
        <= sum_j max(rc_j l_j, rc_j u_j)             [variables in no slot row]
         + sum_slots max over its candidates of rc   [one per slot; or 0 if it may be empty]
         + sum_i (y_i up_i if y_i > 0 else y_i lo_i)

so the right-hand side plus the model's offset bounds the round's objective **whatever
``y`` is**: the multipliers only decide how tight it is. They come from OR-Tools' PDLP
(a first-order LP method that scales to hundreds of thousands of columns) stopped at a time
limit; an inaccurate answer gives a looser bound, never a wrong one. Keeping the slot rows
matters: their multipliers are the ones PDLP gets least right (every assignment is worth
``w.unassigned`` more than an empty slot, and that offset sits in the slot rows), and taking
each slot's best candidate instead of pricing the row made the bound of a 300 x 400 x 3
round 267,290 (the optimum is 267,284) where the plain version was far off.

The sum is taken in floating point; the bound returned is rounded *up* by a margin larger
than the rounding error of the sums (objective values are integers).

**Polishing PDLP's multipliers.** PDLP needs long to converge on large components (53 s for
268,000 columns of a 2,000 x 1,500 x 3 per-period round) and its multipliers stopped early
are uneven. The right-hand side above is a convex function of ``y`` whose subgradient costs
two sparse products, so :func:`polish` takes projected subgradient steps on it from where
PDLP stopped (Polyak's step towards the component's allocation value, halved when the bound
stops falling). On that component, 8 s of PDLP and 6 s of steps bound it within 4,000
points of the LP optimum, closer than PDLP alone after 32 s; on two of 175,000-180,000
columns within 160 and 870 points, where PDLP alone needed 22-26 s to converge. From
multipliers of zero the steps stall near the flow bound: PDLP finds the region, the steps
finish. Every step's multipliers give a valid bound, so the polish can only tighten it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.solving.model import Model

__all__ = ["SLOT_RULES", "LpBound", "LpMatrix", "lagrangian_bound", "lp_bound", "lp_matrix",
           "polish"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SLOT_RULES = ("one_per_stream", "allow_unassigned")
"""Row blocks of one assignment per (pharmacist, period, stream): kept, never priced."""

NO_LIMIT = 10**9
"""A row bound at least this large stands for no bound (the formulation's stand-in): the
polish keeps that side's multiplier at zero."""

# The polish aims half as far below its best bound after this many steps without a better
# bound.
POLISH_PATIENCE = 25


@dataclass(frozen=True)
class LpMatrix:
    """A model's rows as one sparse matrix (a row, column and value per non-zero), with
    the slot row of every variable (-1: none) and which rows are slots."""

    n_rows: int
    n_vars: int
    rows: IntArray  # row of every non-zero
    cols: IntArray  # variable of every non-zero
    vals: FloatArray
    lower: FloatArray  # row bounds
    upper: FloatArray
    slot_of_var: IntArray  # slot row of each variable, -1 when in none
    is_slot: npt.NDArray[np.bool_]  # per row
    slot_exact: npt.NDArray[np.bool_]  # per row: a slot that must be filled (= 1)


def lp_matrix(m: Model) -> LpMatrix:
    """The model's rows, gathered (see :class:`LpMatrix`)."""
    n = len(m.variables)
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    vals: list[IntArray] = []
    lo: list[IntArray] = []
    up: list[IntArray] = []
    slot_of_var = np.full(n, -1, dtype=np.int64)
    slot_blocks: list[tuple[int, int, bool]] = []
    r0 = 0
    for b in m.blocks:
        rr = b.rows() + r0
        if b.rule in SLOT_RULES:
            slot_of_var[b.indices] = rr
            slot_blocks.append((r0, r0 + len(b), b.rule == "allow_unassigned"))
        rows.append(rr)
        cols.append(b.indices)
        vals.append(b.coefs)
        lo.append(b.lower)
        up.append(b.upper)
        r0 += len(b)
    is_slot = np.zeros(r0, dtype=bool)
    exact = np.zeros(r0, dtype=bool)
    for a, z, eq in slot_blocks:
        is_slot[a:z] = True
        exact[a:z] = eq

    def cat(parts: list[IntArray]) -> IntArray:
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    return LpMatrix(n_rows=r0, n_vars=n, rows=cat(rows), cols=cat(cols),
                    vals=cat(vals).astype(np.float64), lower=cat(lo).astype(np.float64),
                    upper=cat(up).astype(np.float64), slot_of_var=slot_of_var,
                    is_slot=is_slot, slot_exact=exact)


def lagrangian_bound(m: Model, lp: LpMatrix, y: FloatArray) -> int | None:
    """The bound of the module docs for multipliers ``y`` (one per row; slot rows' values
    are ignored), rounded up to an integer; ``None`` when a slot that must be filled has no
    candidate (the model is infeasible and any bound holds)."""
    y = np.where(lp.is_slot, 0.0, np.nan_to_num(np.asarray(y, dtype=np.float64)))
    c = m.objective_vector().astype(np.float64)
    rc = c - np.bincount(lp.cols, weights=lp.vals * y[lp.rows], minlength=lp.n_vars)
    lower = m.variables.lower.astype(np.float64)
    upper = m.variables.upper.astype(np.float64)
    row_terms = np.where(y > 0, y * lp.upper, y * lp.lower)
    in_slot = lp.slot_of_var >= 0
    var_terms = np.maximum(rc * lower, rc * upper)[~in_slot]
    best = np.full(lp.n_rows, -np.inf)
    members = np.flatnonzero(in_slot)
    np.maximum.at(best, lp.slot_of_var[members], rc[members])
    slots = np.flatnonzero(lp.is_slot)
    slot_best = best[slots]
    exact = lp.slot_exact[slots]
    if np.any(exact & ~np.isfinite(slot_best)):
        return None
    slot_terms = np.where(exact, slot_best, np.maximum(slot_best, 0.0))
    total = float(row_terms.sum() + var_terms.sum() + slot_terms.sum())
    scale = float(np.abs(row_terms).sum() + np.abs(var_terms).sum()
                  + np.abs(slot_terms).sum() + np.abs(rc).sum())
    if not math.isfinite(total):
        return None
    # Rounding error of sums of n float64 terms is far below 1e-9 of their absolute sum.
    return math.floor(total + 1e-9 * scale + 1.0) + int(m.offset)


@dataclass(frozen=True)
class LpBound:
    """What :func:`lp_bound` found: ``bound`` (valid, ``None`` when none could be made),
    PDLP's status, the time taken and the LP's values of the model's candidates where
    PDLP had any (``primal``, approximately feasible until PDLP converged); the bound of
    PDLP's own multipliers and the number of :func:`polish` steps taken after it."""

    bound: int | None
    seconds: float
    status: str
    primal: npt.NDArray[np.float64] | None = None
    pdlp_bound: int | None = None  # before the polish (the same when there was none)
    polish_steps: int = 0


def lp_bound(m: Model, time_limit_s: float, *, threads: int = 1,
             interrupt: threading.Event | None = None, polish_share: float = 0.0,
             target: float | None = None) -> LpBound:
    """Solve the LP relaxation of ``m`` with PDLP for at most ``time_limit_s`` seconds and
    turn its multipliers into a valid bound (module docs). Setting ``interrupt`` from
    another thread stops PDLP early (the bound from where it got to is still valid).
    With ``polish_share`` > 0 and ``target`` (an objective some allocation reaches, so at
    most the optimum), PDLP has that share less of the time, and if it has not converged
    its multipliers are polished (:func:`polish`) in the rest. Needs ``scipy`` (OR-Tools
    reads the matrix from it)."""
    import scipy.sparse as sp  # lazy: only this bound needs it
    from ortools.linear_solver.python import model_builder_helper as mbh

    t0 = time.monotonic()
    if interrupt is not None and interrupt.is_set():
        return LpBound(bound=None, seconds=0.0, status="INTERRUPTED")
    lp = lp_matrix(m)
    matrix = sp.csr_matrix((lp.vals, (lp.rows, lp.cols)), shape=(lp.n_rows, lp.n_vars))
    builder: Any = mbh.ModelBuilderHelper()  # its stubs mistype numpy arrays
    builder.fill_model_from_sparse_data(
        m.variables.lower.astype(np.float64), m.variables.upper.astype(np.float64),
        m.objective_vector().astype(np.float64), lp.lower, lp.upper, matrix)
    builder.set_maximize(True)
    solver = mbh.ModelSolverHelper("pdlp")
    polishing = polish_share > 0 and target is not None
    pdlp_s = time_limit_s * (1.0 - polish_share) if polishing else time_limit_s
    solver.set_time_limit_in_seconds(max(0.01, pdlp_s - (time.monotonic() - t0)))
    solver.set_solver_specific_parameters(f"num_threads: {max(1, int(threads))}")
    done = threading.Event()

    def watch() -> None:  # interrupt PDLP when asked to (it checks between iterations)
        assert interrupt is not None
        while not done.is_set():
            if interrupt.wait(0.1):
                solver.interrupt_solve()
                return

    if interrupt is not None:
        threading.Thread(target=watch, name="lp-interrupt", daemon=True).start()
    try:
        solver.solve(builder)
    finally:
        done.set()
    status = str(solver.status()).rsplit(".", 1)[-1]
    primal = None
    y = np.zeros(lp.n_rows)
    if solver.has_response() and lp.n_rows:
        duals = np.asarray(solver.dual_values(), dtype=np.float64)
        if len(duals) == lp.n_rows:  # none when PDLP refused the model (invalid input)
            y = duals
            primal = np.asarray(solver.variable_values(), dtype=np.float64)[
                :len(m.candidates)]
    bound = pdlp_bound = lagrangian_bound(m, lp, y)
    steps = 0
    if (polishing and primal is not None and status != "OPTIMAL" and bound is not None
            and not (interrupt is not None and interrupt.is_set())):
        assert target is not None
        y, steps = polish(m, lp, y, target, t0 + time_limit_s, interrupt=interrupt)
        better = lagrangian_bound(m, lp, y)
        if better is not None:
            bound = min(bound, better)
    secs = time.monotonic() - t0
    log.info("LP bound: %s (PDLP %s: %s, %d columns, %d rows; %d polish steps) in %.2f s",
             bound, status, pdlp_bound, lp.n_vars, lp.n_rows, steps, secs)
    return LpBound(bound=bound, seconds=secs, status=status, primal=primal,
                   pdlp_bound=pdlp_bound, polish_steps=steps)


def polish(m: Model, lp: LpMatrix, y: FloatArray, target: float, deadline: float, *,
           interrupt: threading.Event | None = None) -> tuple[FloatArray, int]:
    """Projected subgradient steps on the bound of the module docs, from multipliers ``y``
    until ``deadline`` (``time.monotonic()``) or ``interrupt``: the multipliers of the best
    bound seen (slot rows' values zero) and the number of steps. ``target`` is an objective
    some allocation reaches (Polyak's step aims at it). A row side with no limit
    (:data:`NO_LIMIT`) keeps its multiplier's sign at zero, so no step makes the bound
    infinite; the bound of the result is :func:`lagrangian_bound`'s, valid whatever the
    steps did."""
    import scipy.sparse as sp  # lazy, as in lp_bound

    rows = np.flatnonzero(~lp.is_slot)
    if not len(rows):
        return np.asarray(y, dtype=np.float64), 0
    keep = ~lp.is_slot[lp.rows]
    a = sp.csr_matrix((lp.vals[keep], (np.searchsorted(rows, lp.rows[keep]), lp.cols[keep])),
                      shape=(len(rows), lp.n_vars))
    at = a.T.tocsr()
    lo, up = lp.lower[rows], lp.upper[rows]
    no_lo, no_up = lo <= -NO_LIMIT, up >= NO_LIMIT
    lo, up = np.where(no_lo, 0.0, lo), np.where(no_up, 0.0, up)
    # Where a multiplier is zero, its row's side may be anything between the limits (an
    # absent limit unbounded): the subgradient takes the one nearest the row's value.
    lo_open, up_open = np.where(no_lo, -np.inf, lo), np.where(no_up, np.inf, up)
    c = m.objective_vector().astype(np.float64)
    var_lo = m.variables.lower.astype(np.float64)
    var_up = m.variables.upper.astype(np.float64)
    # Slot members grouped by slot, for the best candidate of every slot at once.
    members = np.flatnonzero(lp.slot_of_var >= 0)
    order = members[np.argsort(lp.slot_of_var[members], kind="stable")]
    slot = lp.slot_of_var[order]
    starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if len(order) else \
        np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, len(order)])
    optional = ~lp.slot_exact[slot[starts]] if len(order) else np.zeros(0, bool)
    free = np.flatnonzero(lp.slot_of_var < 0)

    def project(v: FloatArray) -> FloatArray:
        return np.where(no_up & (v > 0) | no_lo & (v < 0), 0.0, v)

    def step_at(v: FloatArray) -> tuple[float, FloatArray]:
        rc = c - at @ v
        x = np.zeros(lp.n_vars)
        value = float(np.where(v > 0, v * up, v * lo).sum())
        if len(order):
            r = rc[order]
            best = np.maximum.reduceat(r, starts)
            first = np.flatnonzero(r >= np.repeat(best, sizes))
            arg = order[first[np.searchsorted(first, starts)]]
            take = ~optional | (best > 0)
            x[arg[take]] = 1.0
            value += float(best[take].sum())
        rf = rc[free]
        x[free] = np.where(rf > 0, var_up[free], var_lo[free])
        value += float(np.maximum(rf * var_lo[free], rf * var_up[free]).sum())
        ax = a @ x
        side = np.where(v > 0, up, np.where(v < 0, lo, np.clip(ax, lo_open, up_open)))
        return value + float(m.offset), side - ax

    v = project(np.nan_to_num(np.asarray(y, dtype=np.float64)[rows]))
    best_v, best_value = v, math.inf
    reach, since, steps = math.inf, 0, 0
    while time.monotonic() < deadline and not (interrupt is not None and interrupt.is_set()):
        value, g = step_at(v)
        steps += 1
        if value < best_value - 1.0:
            best_v, best_value, since = v, value, 0
        else:
            since += 1
            if since >= POLISH_PATIENCE:
                reach, since = reach / 2, 0
        reach = min(reach, best_value - target)
        norm = float(g @ g)
        if norm == 0.0 or reach < 1.0:
            break  # the steps' own optimum, or the target reached
        # Polyak's step towards a level below the best bound by ``reach``: at first the
        # target, then, each time the bound stops falling, half as far.
        v = project(v - (value - best_value + reach) / norm * g)
    out = np.zeros(lp.n_rows)
    out[rows] = best_v
    return out, steps
