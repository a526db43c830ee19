"""Fast paths: the LP relaxation (GLOP) for bounds, warm starts and proofs.

The model of :mod:`matcher.build` is a 0-1 linear program, so its LP relaxation is an
upper bound on every allocation. Three uses:

- **Proof by integrality.** When GLOP's optimum is integral, the rounded point is an
  optimal allocation of the round: no CP-SAT search is needed. It is still checked by the
  independent checker, and "optimal" is claimed only if its objective equals the bound.
- **An honest bound at any size.** For large rounds the LP is solved over a restriction (the
  best-scoring candidates of each slot), and a bound for the *full* model is computed from
  its duals: for any multipliers ``y``, ``c.x <= sum_r y_r b_r + sum_j max(0, c_j - y.A_j)``
  over every candidate, kept or not (:func:`lagrangian_bound`). Pruned candidates only ever
  loosen the bound; they never make it wrong.
- **A warm start.** The rounded LP point (completed with its auxiliary variables) is given
  to CP-SAT as a hint.

The LP is passed to GLOP through an ``MPModelProto`` written from the model's arrays.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from ortools.linear_solver import linear_solver_pb2, pywraplp

from matcher.build import Model, build_model
from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.scoring import Scores

if TYPE_CHECKING:
    from matcher.result import Result
    from matcher.solve import SolveParams, _Clock

__all__ = [
    "LpSolution",
    "lagrangian_bound",
    "restrict",
    "solve_lp",
    "solve_lp_first",
    "solve_restricted",
]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# Candidates kept per (pharmacist, period, stream) slot in the restricted model.
KEEP_PER_SLOT = 8
# Largest LP handed to GLOP.
LP_MAX_COLUMNS = 60_000
_INTEGRAL_TOL = 1e-6


@dataclass(frozen=True)
class LpSolution:
    """GLOP's answer over some columns of a model.

    ``values`` has one entry per model variable (pruned columns are 0); ``duals`` one per
    row, block after block; ``bound`` is a valid upper bound on the *full* model's integer
    optimum (``None`` if GLOP did not reach an optimum).
    """

    values: FloatArray
    duals: FloatArray
    objective: float
    bound: int | None
    seconds: float

    def integral(self) -> bool:
        """Whether every value is within 1e-6 of an integer."""
        return bool(np.all(np.abs(self.values - np.round(self.values)) <= _INTEGRAL_TOL))

    def rounded(self) -> IntArray:
        """The values rounded to the nearest integers."""
        return np.round(self.values).astype(np.int64)


def _csr(model: Model) -> tuple[IntArray, IntArray, IntArray, FloatArray, FloatArray,
                                  FloatArray]:
    """All rows of the model stacked: (row of each nnz, column, coefficient, lo, up)."""
    rows, cols, coefs, lo, up = [], [], [], [], []
    offset = 0
    for b in model.blocks:
        rows.append(b.rows() + offset)
        cols.append(b.indices)
        coefs.append(b.coefs)
        lo.append(b.lower)
        up.append(b.upper)
        offset += len(b)
    empty_i = np.zeros(0, np.int64)
    r = np.concatenate(rows) if rows else empty_i
    c = np.concatenate(cols) if cols else empty_i
    a = np.concatenate(coefs) if coefs else empty_i
    lo_f = np.concatenate(lo).astype(np.float64) if lo else np.zeros(0)
    up_f = np.concatenate(up).astype(np.float64) if up else np.zeros(0)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(r, minlength=offset))]) if offset \
        else np.zeros(1, np.int64)
    return r, c, a, lo_f, up_f, indptr.astype(np.float64)


def lagrangian_bound(model: Model, duals: FloatArray) -> float:
    """An upper bound on the model's integer (and LP) optimum from any row multipliers.

    ``c.x = y.Ax + (c - yA).x <= sum_r max(y_r lo_r, y_r up_r) + sum_j max(d_j l_j, d_j u_j)``
    for every x within the rows and bounds, whatever ``y`` is (a multiplier whose sign does
    not match a finite side of its row gives +inf). Exact arithmetic is not needed: the
    caller floors the value after a small safety margin.
    """
    r, c, a, lo, up, _ = _csr(model)
    y = np.where(np.abs(duals) < 1e-9, 0.0, duals)
    obj = model.objective_vector().astype(np.float64)
    d = obj - np.bincount(c, weights=a * y[r], minlength=len(obj))
    # Sides at or beyond 1e9 stand for "no limit": a multiplier on them gives no bound.
    up = np.where(up >= 1e9, np.inf, up)
    lo = np.where(lo <= -1e9, -np.inf, lo)
    with np.errstate(invalid="ignore"):
        row_part = np.where(y > 0, y * up, np.where(y < 0, y * lo, 0.0))
    var_lo = model.variables.lower.astype(np.float64)
    var_up = model.variables.upper.astype(np.float64)
    col_part = np.maximum(d * var_lo, d * var_up)
    return float(row_part.sum() + col_part.sum() + model.offset)


def _safe_floor(value: float, scale: float) -> int:
    """floor(value) after a margin for floating-point error (never below the true value)."""
    return math.floor(value + 1e-6 + 1e-9 * scale)


def solve_lp(model: Model, columns: IntArray | None = None,
             time_limit_s: float = 60.0) -> LpSolution | None:
    """Solve the LP relaxation with GLOP over the assignment ``columns`` (all if None;
    auxiliary variables are always kept). ``None`` if GLOP fails or runs out of time."""
    t0 = time.monotonic()
    n_x = model.variables.n_assignment
    n = len(model.variables)
    keep = np.ones(n, dtype=bool)
    if columns is not None:
        keep[:n_x] = False
        keep[columns] = True
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[keep] = np.arange(int(keep.sum()))
    obj = model.objective_vector()
    lower, upper = model.variables.lower, model.variables.upper
    mp = linear_solver_pb2.MPModelProto()
    mp.maximize = True
    mp.objective_offset = float(model.offset)
    variables = mp.variable
    for lo_j, up_j, c_j in zip(lower[keep].tolist(), upper[keep].tolist(),
                               obj[keep].tolist(), strict=True):
        variables.add(lower_bound=lo_j, upper_bound=up_j, objective_coefficient=c_j)
    constraints = mp.constraint
    for b in model.blocks:
        cols = new_index[b.indices]
        ptr = b.indptr.tolist()
        cl = cols.tolist()
        cf = b.coefs.tolist()
        for r, (lo_r, up_r) in enumerate(zip(b.lower.tolist(), b.upper.tolist(), strict=True)):
            seg_c = cl[ptr[r]:ptr[r + 1]]
            seg_a = cf[ptr[r]:ptr[r + 1]]
            if columns is not None:
                kept = [(ci, ai) for ci, ai in zip(seg_c, seg_a, strict=True) if ci >= 0]
                seg_c = [ci for ci, _ in kept]
                seg_a = [ai for _, ai in kept]
            ct = constraints.add(lower_bound=lo_r, upper_bound=up_r)
            ct.var_index.extend(seg_c)
            ct.coefficient.extend(seg_a)
    request = linear_solver_pb2.MPModelRequest(
        model=mp,
        solver_type=linear_solver_pb2.MPModelRequest.GLOP_LINEAR_PROGRAMMING,
        solver_time_limit_seconds=max(0.1, time_limit_s),
    )
    response = linear_solver_pb2.MPSolutionResponse()
    pywraplp.Solver.SolveWithProto(request, response)
    seconds = time.monotonic() - t0
    if response.status != linear_solver_pb2.MPSOLVER_OPTIMAL:
        log.info("GLOP status %s after %.2f s", response.status, seconds)
        return None
    values = np.zeros(n, dtype=np.float64)
    values[keep] = np.asarray(response.variable_value, dtype=np.float64)
    duals = np.asarray(response.dual_value, dtype=np.float64)
    raw = min(lagrangian_bound(model, duals), lagrangian_bound(model, -duals))
    scale = float(np.abs(obj).sum() + abs(model.offset))
    bound = _safe_floor(raw, scale) if math.isfinite(raw) else None
    log.info("GLOP: LP %.1f, bound %s over %d of %d columns in %.2f s",
             response.objective_value, bound, int(keep[:n_x].sum()), n_x, seconds)
    return LpSolution(values, duals, float(response.objective_value), bound, seconds)


def restrict(rnd: Round, cand: Candidates, sc: Scores, per_slot: int = KEEP_PER_SLOT,
             must: IntArray | None = None) -> IntArray:
    """Indices of the candidates kept in a restricted model: the ``per_slot`` best-scoring
    of every (pharmacist, period, stream) slot, the candidates of the pharmacists' own
    preferences and pins, and ``must`` (for example a previous result's assignments)."""
    n_t, n_s = len(rnd.periods), len(rnd.effective_streams)
    slot = (cand.pharmacist * n_t + cand.period) * n_s + cand.stream
    order = np.lexsort((-sc.total, slot))
    slot_sorted = slot[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = slot_sorted[1:] != slot_sorted[:-1]
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    rank = np.arange(len(order)) - start
    keep = np.zeros(len(cand), dtype=bool)
    keep[order[rank < per_slot]] = True
    keep |= sc.points > 0
    if rnd.pins:
        n_l = len(rnd.placements)
        key = (cand.pharmacist * n_l + cand.placement) * n_t + cand.period
        q = np.array([(rnd.pharmacist_index[p.pharmacist] * n_l
                       + rnd.placement_index[p.placement]) * n_t + rnd.period_index[p.period]
                      for p in rnd.pins], dtype=np.int64)
        pos = np.minimum(np.searchsorted(key, q), len(key) - 1)
        keep[pos[key[pos] == q]] = True
    if must is not None:
        keep[must] = True
    return np.flatnonzero(keep).astype(np.int64)



def solve_lp_first(
    rnd: Round, cand: Candidates, sc: Scores, params: SolveParams, clock: _Clock,
    *, restricted: bool,
) -> Result:
    """LP first, then CP-SAT from the rounded LP point.

    With ``restricted`` the LP and CP-SAT see only :func:`restrict`'s candidates; the bound
    stays valid for the full round. Optimality is claimed when the integral LP point or
    CP-SAT's answer reaches the full-model bound, or when CP-SAT proves the full model.
    """
    from matcher.solve import finish, hint_vector, run_cp_sat

    t0 = time.monotonic()
    full = build_model(rnd, cand, sc)
    build_s = time.monotonic() - t0
    must = None
    if params.hint is not None and params.hint.has_solution:
        hv = hint_vector(full, params.hint)
        if hv is not None:
            must = np.flatnonzero(hv[: len(cand)] > 0)
    keep = restrict(rnd, cand, sc, must=must) if restricted else None
    n_cols = len(cand) if keep is None else len(keep)
    # GLOP took 42 s and failed on 250k columns (2,000x1,500x3): beyond LP_MAX_COLUMNS the
    # whole budget goes to CP-SAT and no bound is claimed.
    lp = (solve_lp(full, keep, time_limit_s=max(0.1, clock.remaining() * 0.4))
          if n_cols <= LP_MAX_COLUMNS else None)
    lp_s = lp.seconds if lp is not None else time.monotonic() - t0 - build_s
    stats_base: dict[str, Any] = {"lp_seconds": round(lp_s, 3),
                                  "lp_bound": None if lp is None else lp.bound,
                                  "candidates": len(cand),
                                  "kept": len(cand) if keep is None else len(keep)}
    path = "lp+cp-sat"
    if lp is not None and lp.integral() and lp.bound is not None:
        chosen = np.flatnonzero(lp.rounded()[: len(cand)] > 0)
        objective = int(lp.rounded()[: len(cand)] @ full.objective_vector()[: len(cand)]
                        + _aux_value(full, lp.rounded()))
        if objective >= lp.bound:
            stats = _stats("lp", params, build_s, lp_s) | stats_base
            return finish(rnd, cand, sc, chosen, status="optimal", objective=objective,
                          bound=lp.bound, stats=stats)
    # Without an LP bound, the collapsed flow relaxation gives a valid one in about a
    # second even at national scale (matcher.flow), so the gap is still reported honestly.
    flow_bound = None
    if lp is None and keep is not None:
        from matcher.flow import relaxation

        flow_bound = relaxation(rnd, cand, sc).bound
        stats_base["flow_bound"] = flow_bound
    # CP-SAT on the (restricted) model from the rounded LP point. A restriction proven
    # infeasible says nothing about the round: widen it (twice the candidates per slot,
    # then all of them) while time remains.
    per_slot = KEEP_PER_SLOT
    solve_s = lp_s
    while True:
        t1 = time.monotonic()
        idx: IntArray
        if keep is None:
            model, idx = full, np.arange(len(cand), dtype=np.int64)
        else:
            idx = keep
            model = build_model(rnd, cand.subset(idx), sc.subset(idx))
        build_s += time.monotonic() - t1
        hint = None
        if params.hint is not None:
            hint = hint_vector(model, params.hint)
        elif lp is not None:
            x = (lp.values[: len(cand)][idx] > 0.5).astype(np.int64)
            hint = model.complete(x)
        t2 = time.monotonic()
        status, chosen_sub, objective_cp, bound_cp, extra = run_cp_sat(model, params, clock,
                                                                      hint=hint)
        solve_s += time.monotonic() - t2
        # Widening builds a larger model: only worth starting with a fair share of the
        # budget left, or the call would overrun its time limit while building.
        if (status != "infeasible" or keep is None
                or clock.remaining() < max(1.0, 0.25 * clock.limit)):
            break
        per_slot *= 2
        wider = restrict(rnd, cand, sc, per_slot=per_slot, must=must)
        keep = None if len(wider) >= len(cand) or per_slot > 4 * KEEP_PER_SLOT else wider
        stats_base["kept"] = len(cand) if keep is None else len(keep)
        stats_base["widened_to_per_slot"] = per_slot
        log.info("restricted model infeasible; widening to %s candidates",
                 stats_base["kept"])
    bounds = [b for b in (lp.bound if lp is not None else None, flow_bound,
                          bound_cp if keep is None else None) if b is not None]
    bound = min(bounds) if bounds else None
    chosen_full = None if chosen_sub is None else idx[chosen_sub]
    if status == "optimal" and keep is not None:
        # Optimal for the restriction only: proven for the round if it meets the bound.
        status = "optimal" if bound is not None and objective_cp == bound else "feasible"
    if status == "infeasible" and keep is not None:
        status = "unknown"  # the restriction may be infeasible when the round is not
    if status == "feasible" and bound is not None and objective_cp == bound:
        status = "optimal"
    stats = _stats(path, params, build_s, solve_s) | stats_base | extra
    return finish(rnd, cand, sc, chosen_full, status=status, objective=objective_cp,
                  bound=bound, stats=stats)


def solve_restricted(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                     clock: _Clock) -> Result:
    """The large-round path: LP over the best candidates of each slot, then CP-SAT."""
    return solve_lp_first(rnd, cand, sc, params, clock, restricted=True)


def _aux_value(model: Model, values: IntArray) -> int:
    obj = model.objective_vector()
    n_x = model.variables.n_assignment
    return int(values[n_x:] @ obj[n_x:] + model.offset)


def _stats(path: str, params: SolveParams, build_s: float, solve_s: float) -> dict[str, Any]:
    from matcher.solve import _workers

    return {
        "solver": "glop" if path == "lp" else "glop+cp-sat",
        "path": path,
        "solve_seconds": round(solve_s, 3),
        "build_seconds": round(build_s, 3),
        "workers": _workers(params),
        "seed": params.seed,
    }
