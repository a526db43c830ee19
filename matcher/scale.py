"""The decomposition path (``stats["path"] == "lagrange+cp-sat"``): bound, primal, proof.

1. **Bound.** Column generation over personal plans (small and medium rounds) or the
   subgradient method (large rounds) gives multipliers ``y`` and ``L(y)``, a valid upper
   bound on the full model (:mod:`matcher.lagrange`).
2. **Primal.** The master integer program over the generated plans
   (:mod:`matcher.colgen`) and the greedy repair of the plans at ``y``
   (:mod:`matcher.heuristic`) give allocations; the best one checked feasible is kept.
3. **Reduced-cost fixing.** With a feasible objective ``z`` every candidate whose best
   allocation is provably worth less than ``z + 1`` is dropped
   (:func:`matcher.lagrange.fixable`): no allocation better than ``z`` uses it.
4. **CP-SAT** solves the model over the remaining candidates from the best allocation (a
   full hint via :meth:`Model.complete`). Optimality is claimed only when the fixing was
   exact (nothing else dropped) and CP-SAT proves the reduced model, or when the objective
   reaches ``floor(L(y))``. On large rounds the reduced model is further restricted to the
   best candidates of each slot by reduced score (no proof; the bound stays ``L(y)``).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from matcher import check
from matcher.build import build_model
from matcher.colgen import ColumnGeneration
from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.heuristic import greedy
from matcher.lagrange import (
    Dual,
    Instance,
    PersonalSolver,
    evaluate,
    fixable,
    reduced,
    safe_floor,
    subgradient,
)
from matcher.scoring import Scores

if TYPE_CHECKING:
    from matcher.result import Result
    from matcher.solve import SolveParams, _Clock

__all__ = ["COLGEN_MAX_PHARMACISTS", "solve_decomposed"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

# Column generation (GLOP master) up to this many pharmacists; subgradient beyond.
COLGEN_MAX_PHARMACISTS = 600
# Candidates kept per slot (by reduced score) when the reduced model is still too big.
CP_MAX_CANDIDATES = 150_000
KEEP_PER_SLOT = 3


def _allocation(rnd: Round, cand: Candidates, chosen: IntArray) -> list[tuple[str, str, str]]:
    return [(rnd.pharmacists[int(cand.pharmacist[i])].id, rnd.period_ids[int(cand.period[i])],
             rnd.placements[int(cand.placement[i])].id) for i in chosen.tolist()]


def _value(rnd: Round, cand: Candidates, chosen: IntArray) -> int | None:
    """The checked objective of an allocation, or None if it breaks a hard rule."""
    alloc = _allocation(rnd, cand, chosen)
    if check.violations(rnd, alloc):
        return None
    return check.objective(rnd, alloc).total


def _top_per_slot(inst: Instance, r: npt.NDArray[np.float64], k: int) -> IntArray:
    c = inst.cand
    # Per slot and sector, so that every sector a pharmacist may need stays reachable.
    slot = ((c.pharmacist * inst.n_s + c.stream) * inst.n_t + c.period) * 6 \
        + inst.sector[c.placement]
    order = np.lexsort((-r, slot))
    ss = slot[order]
    first = np.r_[True, ss[1:] != ss[:-1]] if len(ss) else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(ss)), 0))
    rank = np.arange(len(ss)) - start
    return np.sort(order[rank < k]).astype(np.int64)


def _dive(rnd: Round, cand: Candidates, sc: Scores, idx: IntArray, best_x: IntArray | None,
          params: SolveParams, clock: _Clock, rounded: IntArray | None = None
          ) -> IntArray | None:
    """CP-SAT on the model restricted to ``idx`` (plus the best allocation), briefly."""
    from dataclasses import replace

    from matcher.solve import _Clock, run_cp_sat

    if best_x is not None:
        idx = np.union1d(idx, best_x)
    model = build_model(rnd, cand.subset(idx), sc.subset(idx))
    hint = None
    if best_x is not None:
        hint = model.complete(model.variables.values_for(np.searchsorted(idx, best_x)))
    elif rounded is not None:
        pos = np.searchsorted(idx, rounded)
        hint = model.complete(model.variables.values_for(pos[idx[np.minimum(
            pos, len(idx) - 1)] == rounded]))
    sub_clock = _Clock(min(clock.remaining() * 0.3, 5.0))
    _status, chosen, _, _, _ = run_cp_sat(model, replace(params, progress=None), sub_clock,
                                         hint=hint)
    return None if chosen is None else idx[chosen]


def _repair(rnd: Round, cand: Candidates, sc: Scores, inst: Instance, chosen: IntArray,
            unplaced: IntArray, params: SolveParams, clock: _Clock,
            neighbours: int = 300) -> IntArray | None:
    """Place the pharmacists the greedy could not: CP-SAT over every candidate of them and
    of up to ``neighbours`` pharmacists holding their placements; everyone else may only
    keep (or drop) their greedy plan. Any solution is an allocation of the round."""
    c = cand
    held_by = c.pharmacist[chosen]
    wanted = np.zeros(inst.n_l, dtype=bool)
    wanted[np.unique(c.placement[np.isin(c.pharmacist, unplaced)])] = True
    rivals = np.unique(held_by[wanted[c.placement[chosen]]])
    rng = np.random.default_rng(params.seed)
    if len(rivals) > neighbours:
        rivals = np.sort(rng.choice(rivals, neighbours, replace=False))
    free = np.union1d(unplaced, rivals)
    is_free = np.zeros(inst.n_p, dtype=bool)
    is_free[free] = True
    idx = np.union1d(np.flatnonzero(is_free[c.pharmacist]), chosen[~is_free[held_by]])
    idx = np.union1d(idx, np.flatnonzero(inst.pin_bonus > 0))
    return _dive(rnd, cand, sc, idx.astype(np.int64), None, params, clock, rounded=chosen)


def solve_decomposed(rnd: Round, cand: Candidates, sc: Scores, params: SolveParams,
                     clock: _Clock) -> Result:
    """Bound by decomposition, primal by heuristics, finish with CP-SAT (module docs)."""
    from matcher.solve import finish, hint_vector, run_cp_sat

    t0 = time.monotonic()
    inst = Instance(rnd, cand, sc)
    solver = PersonalSolver(inst)
    stats: dict[str, Any] = {"candidates": len(cand)}
    budget = clock.remaining()
    best_obj: int | None = None
    best_x: IntArray | None = None

    def consider(chosen: IntArray | None, source: str) -> None:
        nonlocal best_obj, best_x
        if chosen is None:
            return
        v = _value(rnd, cand, chosen)
        log.info("primal from %s: %s", source, v)
        if v is not None and (best_obj is None or v > best_obj):
            best_obj, best_x = v, chosen
            stats["primal_source"] = source
            if params.progress is not None:
                from matcher.solve import Progress
                try:
                    params.progress(Progress(objective=v, bound=math.inf,
                                             elapsed=clock.elapsed()))
                except Exception:
                    log.exception("progress callback failed")

    if params.hint is not None and params.hint.has_solution:
        # A warm start: the previous allocation's candidates, if still feasible.
        n_l, n_t = inst.n_l, inst.n_t
        key = (cand.pharmacist * n_l + cand.placement) * n_t + cand.period
        q = np.array([(rnd.pharmacist_index[a.pharmacist] * n_l
                       + rnd.placement_index[a.placement]) * n_t + rnd.period_index[a.period]
                      for a in params.hint.allocation
                      if a.pharmacist in rnd.pharmacist_index
                      and a.placement in rnd.placement_index
                      and a.period in rnd.period_index], dtype=np.int64)
        if len(q) and len(key):
            pos = np.minimum(np.searchsorted(key, q), len(key) - 1)
            consider(np.unique(pos[key[pos] == q]), "hint")

    dual: Dual
    cg: ColumnGeneration | None = None
    bound_f: float
    if inst.n_p <= COLGEN_MAX_PHARMACISTS:
        cg = ColumnGeneration(inst, solver)
        g0 = greedy(inst, reduced(inst, Dual.zeros(inst)))
        cg.add_plans(g0.chosen)
        if not len(g0.unplaced):
            consider(g0.chosen, "greedy")
        cg.run(clock.start + clock.limit * 0.3 if budget > 0 else time.monotonic())
        assert cg.best_dual is not None
        dual, bound_f = cg.best_dual, cg.best_bound
        stats["colgen_iterations"] = cg.iterations
    else:
        res = subgradient(inst, solver, target=lambda: best_obj,
                          deadline=clock.start + clock.limit * 0.35, max_iter=400)
        dual, bound_f = res.dual, res.bound
        stats["subgradient_iterations"] = res.iterations
    bound = safe_floor(bound_f, inst.scale) if math.isfinite(bound_f) else None
    r = reduced(inst, dual)
    g = greedy(inst, r, deadline=clock.start + clock.limit * 0.6)
    if not len(g.unplaced):
        consider(g.chosen, "greedy")
    elif best_x is None:
        consider(_repair(rnd, cand, sc, inst, g.chosen, g.unplaced, params, clock), "repair")
    if cg is not None and (best_obj is None or bound is None or best_obj < bound):
        consider(_dive(rnd, cand, sc, cg.dive_candidates(), best_x, params, clock,
                       cg.rounded()), "lp-dive")
    stats["lagrange_seconds"] = round(time.monotonic() - t0, 3)
    stats["lagrange_bound"] = bound
    from matcher.fastpath import _stats

    if bound is not None and best_obj is not None and best_obj >= bound:
        st = _stats("lagrange", params, time.monotonic() - t0, 0.0) | stats
        st["solver"] = "lagrange"
        return finish(rnd, cand, sc, best_x, status="optimal", objective=best_obj,
                      bound=bound, stats=st)
    # Reduced-cost fixing, then CP-SAT on what is left.
    _, values, _ = evaluate(inst, solver, dual)
    exact = best_obj is not None and math.isfinite(bound_f)
    if exact:
        assert best_obj is not None
        keep_mask = ~fixable(inst, r, values, bound_f, best_obj)
    else:
        keep_mask = np.ones(len(cand), dtype=bool)
    if best_x is not None:
        keep_mask[best_x] = True
    keep_mask[inst.pin_bonus > 0] = True
    if int(keep_mask.sum()) > CP_MAX_CANDIDATES:
        top = _top_per_slot(inst, np.where(keep_mask, r, -np.inf), KEEP_PER_SLOT)
        narrow = np.zeros(len(cand), dtype=bool)
        narrow[top] = True
        narrow &= keep_mask
        if best_x is not None:
            narrow[best_x] = True
        narrow[inst.pin_bonus > 0] = True
        keep_mask = narrow
        exact = False
    idx = np.flatnonzero(keep_mask).astype(np.int64)
    stats["kept"] = len(idx)
    t1 = time.monotonic()
    model = build_model(rnd, cand.subset(idx), sc.subset(idx))
    build_s = time.monotonic() - t1
    hint = None
    if best_x is not None:
        pos = np.searchsorted(idx, best_x)
        hint = model.complete(model.variables.values_for(pos))
    elif params.hint is not None:
        hint = hint_vector(model, params.hint)
    elif len(g.chosen):
        # The greedy's partial allocation (some pharmacists unplaced) as a hint.
        pos = np.searchsorted(idx, g.chosen)
        ok = idx[np.minimum(pos, len(idx) - 1)] == g.chosen
        hint = model.complete(model.variables.values_for(pos[ok]))
    t2 = time.monotonic()
    status, chosen_sub, obj_cp, _, extra = run_cp_sat(model, params, clock, hint=hint)
    solve_s = time.monotonic() - t2
    chosen = None if chosen_sub is None else idx[chosen_sub]
    objective = obj_cp
    if chosen is None or (best_obj is not None and obj_cp is not None and obj_cp < best_obj):
        chosen, objective = best_x, best_obj
        if status in ("optimal", "feasible") and best_x is None:
            status = "unknown"
        elif best_x is not None and status not in ("optimal",):
            status = "feasible"
    if status == "optimal" and not exact:
        status = "feasible"
    if status == "infeasible":
        # Only the full model can be infeasible: the reduced one holds the best allocation.
        status = "unknown" if best_x is None else "feasible"
        chosen, objective = best_x, best_obj
    if chosen is not None and status == "unknown":
        status = "feasible"
    final_bound = bound
    if status == "optimal":
        final_bound = objective
    elif objective is not None and bound is not None and objective >= bound:
        status, final_bound = "optimal", bound
    st = _stats("lagrange+cp-sat", params, build_s + (t1 - t0), solve_s) | stats | extra
    return finish(rnd, cand, sc, chosen, status=status, objective=objective,
                  bound=final_bound, stats=st)
