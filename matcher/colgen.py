"""Column generation over personal plans: a tight bound, and a primal from the plans.

The round's LP is reformulated over *plans*: a plan is one pharmacist's whole allocation
that satisfies every personal rule (:class:`matcher.lagrange.PersonalSolver` finds the
best one under any prices). The restricted master LP (GLOP) picks a convex combination
of known plans per pharmacist subject to the shared rows (capacity, organisation caps,
supervision counting distinct pharmacists exactly, shortfall). Its duals price new plans;
iterate until no plan has a positive reduced cost or time runs out.

**Bound.** At every iteration the master's duals ``y`` (clipped to their valid signs) are
Lagrange multipliers, and :func:`matcher.lagrange.evaluate` gives ``L(y)``, a valid upper
bound on the *full* model whatever ``y`` is (see :mod:`matcher.lagrange`); the smallest
one seen is kept. At convergence it equals the LP optimum over the plans' convex hulls,
at least as tight as the model's LP relaxation.

**Primal.** The master integer program (one plan per pharmacist, every shared row exact,
shortfall and fairness exact) is solved by CP-SAT from a hint; its solutions are
allocations of the round, checked independently by the caller. Artificial columns (one
per pharmacist, heavily penalised) keep the master LP feasible and never enter the IP.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from matcher.lagrange import Dual, Instance, PersonalSolver, evaluate

__all__ = ["ColumnGeneration", "MasterIp"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_ARTIFICIAL = 1.0e6
_GLOP_PARAMS = ""


@dataclass
class _Column:
    p: int
    cands: IntArray
    rows: IntArray  # shared "<=" rows (capacity, organisation, supervision), coefficient 1
    short: IntArray  # shortfall rows it helps fill (one per candidate with min_fill)
    value: float  # sum of c over the candidates (fairness as uniform multipliers)
    true_value: int  # sum of the model's integer objective coefficients
    points: int


@dataclass
class MasterIp:
    """Outcome of the master integer program."""

    chosen: IntArray | None
    objective: int | None
    status: str
    seconds: float


@dataclass
class ColumnGeneration:
    """Column generation state over an :class:`Instance`."""

    inst: Instance
    solver: PersonalSolver
    columns: list[_Column] = field(default_factory=list)
    best_bound: float = math.inf
    best_dual: Dual | None = None
    lp_value: float = math.nan
    iterations: int = 0
    seen: set[bytes] = field(default_factory=set)

    def __post_init__(self) -> None:
        inst = self.inst
        n_l, n_t = inst.n_l, inst.n_t
        self.n_cap = n_l * n_t
        self.n_org = len(inst.org_cap) * n_t
        self.n_sup = len(inst.sup_cap) * n_t
        self.rhs = np.concatenate([inst.cap.ravel(),
                                   np.repeat(inst.org_cap, n_t),
                                   np.repeat(inst.sup_cap, n_t)]).astype(np.float64)
        # Rows a candidate touches: (class, placement, period) -> supervisor rows.
        self.sup_rows_of: list[list[IntArray]] = []
        for cls in range(4):
            m = inst.sup_cover & inst.sup_counted[:, cls, None]
            self.sup_rows_of.append([np.flatnonzero(m[:, j]) for j in range(n_l)])
        self.int_c = np.rint(self._true_c()).astype(np.int64)
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
        self.lp.SetSolverSpecificParametersAsString(_GLOP_PARAMS)
        self.conv: dict[int, pywraplp.Constraint] = {}
        self.rows: dict[int, pywraplp.Constraint] = {}
        self.short_rows: dict[int, pywraplp.Constraint] = {}
        self.vars: list[pywraplp.Variable] = []
        inf = self.lp.infinity()
        for p in range(inst.n_p):
            ct = self.lp.Constraint(1.0, 1.0)
            a = self.lp.NumVar(0.0, 1.0, "")
            ct.SetCoefficient(a, 1.0)
            self.lp.Objective().SetCoefficient(a, -_ARTIFICIAL)
            self.conv[p] = ct
        w_s = float(inst.round.weights.shortfall)
        for k in np.flatnonzero(inst.mf.ravel() > 0).tolist():
            ct = self.lp.Constraint(float(inst.mf.ravel()[k]), inf)
            s = self.lp.NumVar(0.0, float(inst.mf.ravel()[k]), "")
            ct.SetCoefficient(s, 1.0)
            self.lp.Objective().SetCoefficient(s, -w_s)
            self.short_rows[k] = ct
        self.lp.Objective().SetMaximization()

    def _true_c(self) -> FloatArray:
        """The model's own objective coefficient of each candidate (no fairness share)."""
        inst = self.inst
        w_f = inst.round.weights.fairness
        if w_f <= 0:
            return inst.c
        n_avail = int((inst.avail.sum(axis=1) >= 1).sum())
        return inst.c - (w_f / max(1, n_avail)) * inst.scores.points.astype(np.float64)

    # ---- columns -------------------------------------------------------------------------

    def add_plans(self, plans: IntArray, only: set[int] | None = None) -> int:
        """Add the plans (candidates of several pharmacists, sorted) as columns."""
        inst = self.inst
        c = inst.cand
        if not len(plans):
            return 0
        pl_p = c.pharmacist[plans]
        cut = np.flatnonzero(np.r_[True, pl_p[1:] != pl_p[:-1]])
        ends = np.r_[cut[1:], len(plans)]
        added = 0
        n_t = inst.n_t
        for lo, hi in zip(cut.tolist(), ends.tolist(), strict=True):
            p = int(pl_p[lo])
            if only is not None and p not in only:
                continue
            cands = plans[lo:hi]
            key = p.to_bytes(4, "little") + cands.tobytes()
            if key in self.seen:
                continue
            self.seen.add(key)
            self._add_column(p, cands, n_t)
            added += 1
        return added

    def _add_column(self, p: int, cands: IntArray, n_t: int) -> None:
        inst = self.inst
        c = inst.cand
        lt = c.placement[cands] * n_t + c.period[cands]
        rows = [lt]
        o = inst.org_of_l[c.placement[cands]]
        if (o >= 0).any():
            rows.append(np.unique(self.n_cap + o[o >= 0] * n_t + c.period[cands][o >= 0]))
        if self.n_sup:
            cls = int(inst.pclass[p])
            sup = [self.sup_rows_of[cls][int(li)] * n_t + int(ti)
                   for li, ti in zip(c.placement[cands].tolist(), c.period[cands].tolist(),
                                     strict=True)]
            if sup:
                cat = np.concatenate(sup)
                if len(cat):
                    rows.append(np.unique(cat) + self.n_cap + self.n_org)
        row_arr = np.concatenate(rows).astype(np.int64)
        short = lt[inst.mf.ravel()[lt] > 0]
        col = _Column(p, cands, row_arr, short, float(inst.c[cands].sum()),
                      int(self.int_c[cands].sum()),
                      int(inst.scores.points[cands].sum()))
        self.columns.append(col)
        var = self.lp.NumVar(0.0, 1.0, "")
        self.vars.append(var)
        self.lp.Objective().SetCoefficient(var, col.value)
        self.conv[p].SetCoefficient(var, 1.0)
        inf = self.lp.infinity()
        for r in row_arr.tolist():
            ct = self.rows.get(r)
            if ct is None:
                ct = self.lp.Constraint(-inf, float(self.rhs[r]))
                self.rows[r] = ct
            ct.SetCoefficient(var, 1.0)
        for r in short.tolist():
            self.short_rows[r].SetCoefficient(var, 1.0)

    # ---- iterations ----------------------------------------------------------------------

    def master_duals(self) -> tuple[Dual, FloatArray]:
        """Solve the master LP; its duals as multipliers and per-pharmacist convexity."""
        inst = self.inst
        n_l, n_t = inst.n_l, inst.n_t
        status = self.lp.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            raise RuntimeError(f"master LP status {status}")
        self.lp_value = float(self.lp.Objective().Value()) + self.inst.offset
        self._values = np.array([v.solution_value() for v in self.vars])
        y = np.zeros(len(self.rhs))
        for r, ct in self.rows.items():
            y[r] = max(0.0, ct.dual_value())
        pi = np.zeros(n_l * n_t)
        w_s = float(inst.round.weights.shortfall)
        for r, ct in self.short_rows.items():
            pi[r] = min(w_s, max(0.0, -ct.dual_value()))
        sigma = np.array([self.conv[p].dual_value() for p in range(inst.n_p)])
        dual = Dual(y[: self.n_cap].reshape(n_l, n_t), pi.reshape(n_l, n_t),
                    y[self.n_cap: self.n_cap + self.n_org].reshape(-1, n_t),
                    y[self.n_cap + self.n_org:].reshape(-1, n_t))
        return dual, sigma

    def run(self, deadline: float, max_iter: int = 100, tol: float = 0.5) -> None:
        """Iterate pricing and master solves until converged or ``deadline``."""
        inst = self.inst
        if not self.columns:
            val, _, plans = evaluate(inst, self.solver, Dual.zeros(inst))
            self._note_bound(val, Dual.zeros(inst))
            self.add_plans(plans)
        while self.iterations < max_iter and time.monotonic() < deadline:
            self.iterations += 1
            dual, sigma = self.master_duals()
            val, values, plans = evaluate(inst, self.solver, dual)
            self._note_bound(val, dual)
            improving = {int(p) for p in np.flatnonzero(values - sigma > 1e-6)}
            gap = self.best_bound - self.lp_value
            log.info("colgen %d: LP %.1f bound %.1f, %d improving", self.iterations,
                      self.lp_value, self.best_bound, len(improving))
            if gap <= tol or not improving:
                break
            if not self.add_plans(plans, improving):
                break
        log.info("colgen: LP %.1f, bound %.1f after %d iterations, %d columns",
                 self.lp_value, self.best_bound, self.iterations, len(self.columns))

    def _note_bound(self, val: float, dual: Dual) -> None:
        if val < self.best_bound:
            self.best_bound, self.best_dual = val, dual.copy()

    def lp_values(self) -> FloatArray:
        """Master LP values of every column at the last solve (later columns: 0)."""
        vals = getattr(self, "_values", np.zeros(0))
        return np.concatenate([vals, np.zeros(len(self.columns) - len(vals))])

    def rounded(self) -> IntArray:
        """Candidates of the plans the master LP takes at 0.5 or more."""
        vals = self.lp_values()
        parts = [self.columns[k].cands for k in np.flatnonzero(vals >= 0.5).tolist()]
        return np.unique(np.concatenate(parts)).astype(np.int64) if parts else \
            np.zeros(0, np.int64)

    def dive_candidates(self) -> IntArray:
        """Candidates for a restricted model around the master LP optimum: those of every
        plan in the LP solution, and every candidate of pharmacists whose LP choice is
        fractional (or artificial)."""
        inst = self.inst
        vals = self.lp_values()
        used = np.flatnonzero(vals > 1e-6)
        parts = [self.columns[k].cands for k in used.tolist()]
        whole = np.zeros(inst.n_p, dtype=bool)
        for k in used.tolist():
            if vals[k] < 1 - 1e-6:
                whole[self.columns[k].p] = True
        covered = np.zeros(inst.n_p)
        for k in used.tolist():
            covered[self.columns[k].p] += vals[k]
        whole |= covered < 1 - 1e-6
        parts.append(np.flatnonzero(whole[inst.cand.pharmacist]))
        return np.unique(np.concatenate(parts)).astype(np.int64)

    # ---- the master integer program --------------------------------------------------

    def master_ip(self, time_limit_s: float, *, workers: int = 1, seed: int = 0,
                  hint: IntArray | None = None) -> MasterIp:
        """One column per pharmacist by CP-SAT; ``hint`` is a column index per pharmacist
        (-1: none). Returns the chosen candidates and the exact objective."""
        t0 = time.monotonic()
        inst = self.inst
        w = inst.round.weights
        model = cp_model.CpModel()
        xs = [model.new_bool_var("") for _ in self.columns]
        by_p: dict[int, list[int]] = {}
        for k, col in enumerate(self.columns):
            by_p.setdefault(col.p, []).append(k)
        for p in range(inst.n_p):
            ks = by_p.get(p, [])
            if not ks:
                if not inst.feasible_mask[p, 0] or inst.pins_of[p]:
                    return MasterIp(None, None, "infeasible", time.monotonic() - t0)
                continue
            empty_ok = bool(inst.feasible_mask[p, 0]) and not inst.pins_of[p]
            if empty_ok:
                model.add_at_most_one(xs[k] for k in ks)
            else:
                model.add_exactly_one(xs[k] for k in ks)
        row_terms: dict[int, list[int]] = {}
        short_terms: dict[int, list[int]] = {}
        for k, col in enumerate(self.columns):
            for r in col.rows.tolist():
                row_terms.setdefault(r, []).append(k)
            for r in col.short.tolist():
                short_terms.setdefault(r, []).append(k)
        for r, ks in row_terms.items():
            if len(ks) > self.rhs[r]:
                model.add(sum(xs[k] for k in ks) <= int(self.rhs[r]))
        obj = [col.true_value * xs[k] for k, col in enumerate(self.columns)]
        offset = inst.offset
        mf = inst.mf.ravel()
        for r in np.flatnonzero(mf > 0).tolist():
            ks = short_terms.get(r, [])
            s = model.new_int_var(0, int(mf[r]), "")
            model.add(s + sum(xs[k] for k in ks) >= int(mf[r]))
            obj.append(-w.shortfall * s)
        if w.fairness > 0:
            avail = np.flatnonzero(inst.avail.sum(axis=1) >= 1)
            ub = max([c.points for c in self.columns] + [0])
            m_var = model.new_int_var(0, ub, "")
            for p in avail.tolist():
                ks = by_p.get(p, [])
                model.add(m_var <= sum(self.columns[k].points * xs[k] for k in ks))
            obj.append(w.fairness * m_var)
        model.maximize(sum(obj) + round(offset))
        if hint is not None:
            for p, k in enumerate(hint.tolist()):
                for kk in by_p.get(p, []):
                    model.add_hint(xs[kk], kk == k)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
        solver.parameters.num_workers = workers
        solver.parameters.random_seed = seed
        code = solver.solve(model)
        secs = time.monotonic() - t0
        if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return MasterIp(None, None, solver.status_name(code), secs)
        picked = [k for k, x in enumerate(xs) if solver.boolean_value(x)]
        chosen = (np.sort(np.concatenate([self.columns[k].cands for k in picked]))
                  if picked else np.zeros(0, np.int64))
        log.info("master IP: %s %.0f in %.2f s over %d columns", solver.status_name(code),
                 solver.objective_value, secs, len(self.columns))
        return MasterIp(chosen, round(solver.objective_value),
                        solver.status_name(code), secs)
