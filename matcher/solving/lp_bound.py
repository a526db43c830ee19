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

**Continuity kept, not priced.** A non-rotating stream's rule (a pharmacist holds the same
placement in every period they hold one: ``x[p,l,t] <= z[p,l]``, at most one ``z``) makes
most of the rows of a large model: 153,000 of 200,000 for a 268,000-column component of a
2,000 x 1,500 x 3 per-period round. :class:`Lagrangian` keeps those rows in the
subproblem instead of pricing them: each (pharmacist, stream) picks its best placement and,
in each period, that placement or nothing; a sum over candidates like the slots' (exact
for any multipliers, so still valid for any), and only tighter than pricing the rows. With
a quarter of the multipliers left to find, the polish below bounded that component within
1,050-1,750 points of the LP optimum in the time it came within 11,400 pricing every row,
and from no multipliers at all within 4,800-5,200 (the flow bound is 15,000 above it).
Keeping a rotating stream's rows too (no placement twice: an exact assignment per
pharmacist) was tried: valid, but the steps bounded no tighter and each took longer.

**Polishing PDLP's multipliers.** PDLP needs long to converge on large components (53 s for
268,000 columns of a 2,000 x 1,500 x 3 per-period round) and its multipliers stopped early
are uneven. The right-hand side above is a convex function of ``y`` whose subgradient costs
a sparse product over every column and one over the few the subproblem picks, so
:func:`polish` takes projected subgradient steps on it from where PDLP stopped (Polyak's
step towards the component's allocation value, halved when the bound stops falling).
Pricing every row, 8 s of PDLP and 6 s of steps bounded that component within 4,000 points
of the LP optimum, closer than PDLP alone after 32 s; with continuity kept, within
1,100-1,750. PDLP finds the region, the steps finish; but early in a run PDLP's
multipliers can be millions of points further off than none at all, a start the steps
never recover from, so they start from none where those bound the model more tightly.
Every step's multipliers give a valid bound, so the polish can only tighten it.

**Row sides without a limit go to PDLP as infinite.** The formulation writes an absent
limit as a large number (:data:`NO_LIMIT`: the shortfall rows' upper side, the fairness
rows' lower one). PDLP's tolerances are relative to the size of the row bounds, and with
those numbers among them it stopped at once and reported OPTIMAL for solutions that broke
their rows (8 of 30 tiny rounds); most of the figures above were measured so. Passed as
infinite, PDLP on the 268,000-column component above bounded it 25,508 points above the
flow bound after 4 s (1,474,099 before), 7,509 below after 8 s (2,082) and 14,646 below
after 16 s (11,669; the LP optimum is 15,044 below); a 542,000-column component of
5,000 x 2,500 x 4 per-period 12,566 below after 20 s (990).

**HiGHS's simplex where it is quick.** OR-Tools bundles HiGHS; through OR-Tools' MathOpt
interface its dual simplex solves the LP of a component exactly, and its multipliers give
this module's bound (the LP optimum itself, up to the rounding). On components of
89,000-128,000 candidates of 2,000 x 1,500 x 3 rounds whose capacities do not change
between periods it finished in 2-9 s, where PDLP and its polish had closed 0-65 % of the
distance from the flow bound to the LP optimum in 4-6 s; but on components of a
per-period round of 103,000 candidates it took 52-56 s, and above 150,000 candidates
20-180 s. So :func:`lp_bound` tries it first only when asked (``simplex_s``), and
a simplex stopped early gives nothing (its intermediate multipliers are not returned):
PDLP then has the rest of the time. OR-Tools' model builder was not used for it: its
HiGHS answer (OR-Tools 9.15) gives the rows' values in place of the multipliers.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.solving.model import Model

__all__ = ["SLOT_RULES", "Lagrangian", "LpBound", "LpMatrix", "lagrangian_bound", "lp_bound",
           "lp_matrix", "lp_primal", "polish"]

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

    def open_sides(self) -> tuple[FloatArray, FloatArray]:
        """The row bounds with each absent limit (:data:`NO_LIMIT`) made infinite."""
        return (np.where(self.lower <= -NO_LIMIT, -np.inf, self.lower),
                np.where(self.upper >= NO_LIMIT, np.inf, self.upper))


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


def lagrangian_bound(m: Model, lp: LpMatrix, y: FloatArray, *,
                     lag: Lagrangian | None = None) -> int | None:
    """The bound of the module docs for multipliers ``y`` (one per row; the values of
    rows :class:`Lagrangian` keeps out of the pricing are ignored), rounded up to an
    integer; ``None`` when the model has no solution (a slot that must be filled has no
    candidate: any bound holds). ``lag``: the model's :class:`Lagrangian`, if built."""
    lag = Lagrangian(m, lp) if lag is None else lag
    return lag.bound(np.nan_to_num(np.asarray(y, dtype=np.float64))[lag.rows])


def _support(ids: list[IntArray], vals: list[FloatArray]) -> tuple[IntArray, FloatArray]:
    """The subproblem's non-zero variables and their values, gathered."""
    if not ids:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(ids).astype(np.int64), np.concatenate(vals).astype(np.float64)


def _csr(vals: FloatArray, rows: IntArray, cols: IntArray, shape: tuple[int, int]) -> Any:
    import scipy.sparse as sp  # lazy: only this bound needs it

    return sp.csr_matrix((vals, (rows, cols)), shape=shape)


def _continuity(m: Model, lp: LpMatrix, kept: npt.NDArray[np.bool_]
                ) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """The continuity rows of ``m`` (:func:`~matcher.solving.formulation.add_continuity`):
    the ``(x, z)`` of every ``x <= z`` row, and the ``z``'s sorted by group (their
    at-most-one row) with each one's group number; their rows are marked in ``kept``.
    Nothing (and nothing marked) unless every such row has the expected shape, every
    ``x`` is in one slot whose members are all linked to ``z``'s of one group, at most one
    per ``z``, and every ``z`` is a 0-1 variable in no slot and one group: anything else
    is left to the pricing, which is valid for any rows."""
    none = (np.zeros(0, np.int64),) * 4
    links: list[tuple[int, Any]] = []
    groups: list[tuple[int, Any]] = []
    r0 = 0
    for b in m.blocks:
        if b.rule == "continuity":
            two = len(b) > 0 and bool(np.all(np.diff(b.indptr) == 2))
            if b.at_most_one and np.all(b.coefs == 1) and np.all(b.upper == 1):
                groups.append((r0, b))
            elif (two and np.all(b.coefs[0::2] == 1) and np.all(b.coefs[1::2] == -1)
                  and np.all(b.upper == 0)):
                links.append((r0, b))
            else:
                return none
        r0 += len(b)
    if not links or not groups:
        return none
    lx = np.concatenate([b.indices[0::2] for _, b in links])
    lz = np.concatenate([b.indices[1::2] for _, b in links])
    z = np.concatenate([b.indices for _, b in groups])
    z_row = np.concatenate([b.rows() + r for r, b in groups])
    slot = lp.slot_of_var[lx]
    var_lo, var_up = m.variables.lower, m.variables.upper
    if (len(np.unique(lx)) < len(lx) or len(np.unique(z)) < len(z) or np.any(slot < 0)
            or np.any(lp.slot_of_var[z] >= 0) or np.any(var_lo[z] != 0)
            or np.any(var_up[z] != 1) or not np.all(np.isin(lz, z))):
        return none
    order = np.argsort(z_row, kind="stable")
    z, z_row = z[order], z_row[order]
    z_group = np.cumsum(np.r_[0, z_row[1:] != z_row[:-1]]).astype(np.int64)
    group_of = np.full(lp.n_vars, -1, dtype=np.int64)
    group_of[z] = z_group
    g = group_of[lz]
    # Every member of a linked slot linked, all to one group, one per z and slot.
    members = np.bincount(lp.slot_of_var[lp.slot_of_var >= 0], minlength=lp.n_rows)
    linked = np.bincount(slot, minlength=lp.n_rows)
    lowest = np.full(lp.n_rows, np.iinfo(np.int64).max)
    highest = np.full(lp.n_rows, -1)
    np.minimum.at(lowest, slot, g)
    np.maximum.at(highest, slot, g)
    used = linked > 0
    if (np.any(members[used] != linked[used]) or np.any(lowest[used] != highest[used])
            or len(np.unique(lz * lp.n_rows + slot)) < len(lz)):
        return none
    for r, b in links + groups:
        kept[r:r + len(b)] = True
    return lx, lz, z, z_group


class Lagrangian:
    """The bound of the module docs for a model, ready to evaluate at many multipliers.

    Rows kept out of the pricing: the slot rows and, where the model has them in the
    shape :func:`~matcher.solving.formulation.add_continuity` makes, the continuity rows
    of non-rotating streams (``x[p,l,t] <= z[p,l]``, at most one ``z`` per pharmacist and
    stream). A *group* (pharmacist, stream) then picks one ``z`` (or none, when its slots
    may stay empty) and, in each of its slots, that placement's candidate or nothing:
    ``rc(z) + sum over its slots of (rc(x) if the slot must be filled, else max(rc(x), 0))``,
    the best ``z`` of each group. Every other row is priced (``y``, the multipliers of
    :attr:`rows`). Enforcing a rule in the subproblem instead of pricing it only tightens
    the bound, and takes 150,000 of the 200,000 rows of a 268,000-column component out of
    the multipliers the polish must find. ``keep_continuity=False`` prices them too."""

    def __init__(self, m: Model, lp: LpMatrix, *, keep_continuity: bool = True) -> None:
        self.offset = int(m.offset)
        self.n_vars = lp.n_vars
        kept = lp.is_slot.copy()
        none = np.zeros(0, np.int64)
        lx, lz, z, z_group = _continuity(m, lp, kept) if keep_continuity else (none,) * 4
        self.rows = np.flatnonzero(~kept)  # the priced rows
        priced = ~kept[lp.rows]
        # The priced rows' matrix, transposed: one row per variable (the steps read the
        # columns the subproblem picks, and price every column).
        self.at = _csr(lp.vals[priced], np.searchsorted(self.rows, lp.rows[priced]),
                       lp.cols[priced], (len(self.rows), lp.n_vars)).T.tocsr()
        # The row limits as they are (for the bound: a multiplier on an absent limit
        # makes it huge, never wrong), and with absent ones at zero (for the steps).
        self.lower, self.upper = lp.lower[self.rows], lp.upper[self.rows]
        self.no_lo, self.no_up = self.lower <= -NO_LIMIT, self.upper >= NO_LIMIT
        self.lo = np.where(self.no_lo, 0.0, self.lower)
        self.up = np.where(self.no_up, 0.0, self.upper)
        # Where a multiplier is zero its row's side may be anything between the limits
        # (an absent one unbounded): the subgradient takes the one nearest the row's value.
        lo_open, up_open = lp.open_sides()
        self.lo_open, self.up_open = lo_open[self.rows], up_open[self.rows]
        self.c = m.objective_vector().astype(np.float64)
        self.var_lo = m.variables.lower.astype(np.float64)
        self.var_up = m.variables.upper.astype(np.float64)
        # Slots outside the groups, their members grouped by slot.
        slot_group = np.full(lp.n_rows, -1, dtype=np.int64)
        z_pos = np.full(lp.n_vars, -1, dtype=np.int64)
        z_pos[z] = np.arange(len(z))
        self.link_x, self.link_z = lx, z_pos[lz]
        self.link_exact = lp.slot_exact[lp.slot_of_var[lx]]
        slot_group[lp.slot_of_var[lx]] = z_group[self.link_z]
        members = np.flatnonzero(lp.slot_of_var >= 0)
        members = members[slot_group[lp.slot_of_var[members]] < 0]
        self.order = members[np.argsort(lp.slot_of_var[members], kind="stable")]
        slot = lp.slot_of_var[self.order]
        self.starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) \
            if len(slot) else np.zeros(0, np.int64)
        self.sizes = np.diff(np.r_[self.starts, len(slot)])
        self.optional = ~lp.slot_exact[slot[self.starts]] if len(slot) else \
            np.zeros(0, dtype=bool)
        slots = np.flatnonzero(lp.is_slot)
        grouped = slot_group[slots] >= 0
        # A slot that must be filled but has no candidate: the model has no solution.
        has = np.zeros(lp.n_rows, dtype=bool)
        has[lp.slot_of_var[lp.slot_of_var >= 0]] = True
        self.feasible = not np.any(lp.slot_exact[slots] & ~has[slots])
        # Groups: their z's in order, where each starts, how many slots must be filled.
        self.z = z
        self.z_starts = np.flatnonzero(np.r_[True, z_group[1:] != z_group[:-1]]) \
            if len(z) else np.zeros(0, np.int64)
        self.z_sizes = np.diff(np.r_[self.z_starts, len(z)])
        n_groups = len(self.z_starts)
        exact_slots = slots[grouped & lp.slot_exact[slots]]
        must = np.bincount(slot_group[exact_slots], minlength=n_groups)
        covers = np.bincount(self.link_z, weights=self.link_exact, minlength=len(z))
        # A z may be chosen only if it has a candidate in every slot that must be filled.
        self.z_ok = covers >= must[z_group] if len(z) else np.zeros(0, dtype=bool)
        self.none_value = np.where(must > 0, -np.inf, 0.0)  # no z: every slot empty
        in_z = np.zeros(lp.n_vars, dtype=bool)
        in_z[z] = True
        self.free = np.flatnonzero((lp.slot_of_var < 0) & ~in_z)

    def project(self, v: FloatArray) -> FloatArray:
        """``v`` with the multipliers of row sides without a limit held at zero."""
        return np.where(self.no_up & (v > 0) | self.no_lo & (v < 0), 0.0, v)

    def solve(self, v: FloatArray, *, margin: bool = True
              ) -> tuple[float, float, tuple[IntArray, FloatArray]]:
        """For multipliers ``v`` of :attr:`rows`: the bound before rounding and without the
        model's offset (``inf`` when some slot or group has no allowed choice), the absolute
        sum of its terms (for the rounding margin; 0 without ``margin``, which the steps
        do not need) and the subproblem's solution, as its non-zero variables and their
        values (a few thousand of a million: the subgradient's product then reads only
        their columns, 0.3 ms instead of 5.5 at 1,239,000 columns)."""
        rc = self.c - self.at @ v
        ids: list[IntArray] = []
        vals: list[FloatArray] = []
        row_terms = np.where(v > 0, v * self.upper, v * self.lower)
        value = float(row_terms.sum())
        scale = float(np.abs(row_terms).sum() + np.abs(rc).sum()) if margin else 0.0
        if len(self.order):
            r = rc[self.order]
            best = np.maximum.reduceat(r, self.starts)
            first = np.flatnonzero(r >= np.repeat(best, self.sizes))
            arg = self.order[first[np.searchsorted(first, self.starts)]]
            take = ~self.optional | (best > 0)
            ids.append(arg[take])
            vals.append(np.ones(int(take.sum())))
            value += float(best[take].sum())
            if margin:
                scale += float(np.abs(best[take]).sum())
        rf = rc[self.free]
        at_free = np.where(rf > 0, self.var_up[self.free], self.var_lo[self.free])
        ids.append(self.free[at_free != 0])
        vals.append(at_free[at_free != 0])
        free_terms = np.maximum(rf * self.var_lo[self.free], rf * self.var_up[self.free])
        value += float(free_terms.sum())
        if margin:
            scale += float(np.abs(free_terms).sum())
        if len(self.z):
            rl = rc[self.link_x]
            terms = np.where(self.link_exact, rl, np.maximum(rl, 0.0))
            vz = rc[self.z] + np.bincount(self.link_z, weights=terms, minlength=len(self.z))
            vz = np.where(self.z_ok, vz, -np.inf)
            best = np.maximum.reduceat(vz, self.z_starts)
            group = np.maximum(best, self.none_value)
            if not np.all(np.isfinite(group)):
                return math.inf, scale, _support(ids, vals)
            value += float(group.sum())
            if margin:
                scale += float(np.abs(group).sum() + np.abs(terms).sum())
            first = np.flatnonzero(vz >= np.repeat(best, self.z_sizes))
            arg = first[np.searchsorted(first, self.z_starts)]
            chosen = np.zeros(len(self.z), dtype=bool)
            chosen[arg[best >= self.none_value]] = True
            links = self.link_x[chosen[self.link_z] & (self.link_exact | (rl > 0))]
            ids += [self.z[chosen], links]
            vals += [np.ones(int(chosen.sum())), np.ones(len(links))]
        if not self.feasible or not math.isfinite(value):
            return math.inf, scale, _support(ids, vals)
        return value, scale, _support(ids, vals)

    def bound(self, v: FloatArray) -> int | None:
        """:meth:`solve`'s bound rounded up by more than the rounding error of its sums
        (objective values are integers); ``None`` when the model has no solution."""
        value, scale, _ = self.solve(v)
        if not math.isfinite(value):
            return None
        # Rounding error of sums of n float64 terms is far below 1e-9 of their absolute sum.
        return math.floor(value + 1e-9 * scale + 1.0) + self.offset

    def subgradient(self, v: FloatArray, x: tuple[IntArray, FloatArray]) -> FloatArray:
        """A subgradient of the bound at ``v`` given the subproblem's solution ``x`` (its
        non-zero variables and their values, as :meth:`solve` gives it): each priced row's
        side (the limit its multiplier's sign picks; for a zero multiplier the one nearest
        the row's value) less the row's value."""
        ids, vals = x
        ax: FloatArray = self.at[ids].T @ vals
        side: FloatArray = np.where(v > 0, self.up, np.where(
            v < 0, self.lo, np.clip(ax, self.lo_open, self.up_open)))
        return side - ax


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
    simplex: bool = False  # HiGHS's simplex ran (see lp_bound's simplex_s)


def lp_bound(m: Model, time_limit_s: float, *, threads: int = 1,
             interrupt: threading.Event | None = None, polish_share: float = 0.0,
             target: float | None = None, simplex_s: float = 0.0) -> LpBound:
    """Solve the LP relaxation of ``m`` with PDLP for at most ``time_limit_s`` seconds and
    turn its multipliers into a valid bound (module docs). Setting ``interrupt`` from
    another thread stops PDLP early (the bound from where it got to is still valid).
    With ``polish_share`` > 0 and ``target`` (an objective some allocation reaches, so at
    most the optimum), PDLP has that share less of the time, and if it has not converged
    its multipliers are polished (:func:`polish`) in the rest. With ``simplex_s`` > 0,
    HiGHS's dual simplex (:func:`_simplex`) tries first, for at most that many of the
    seconds: if it proves the LP's optimum, its multipliers give the bound (the LP
    optimum itself, up to the rounding) and its vertex the primal; if not, PDLP as above
    in what is left.
    Needs ``scipy`` (OR-Tools reads the matrix from it)."""
    t0 = time.monotonic()
    if interrupt is not None and interrupt.is_set():
        return LpBound(bound=None, seconds=0.0, status="INTERRUPTED")
    lp = lp_matrix(m)
    t1 = t0  # PDLP's time counts from here: after the simplex, if it tried
    if simplex_s > 0:
        status, duals, primal = _simplex(m, lp, min(simplex_s, time_limit_s),
                                         interrupt=interrupt)
        if duals is not None:
            bound = lagrangian_bound(m, lp, duals)
            secs = time.monotonic() - t0
            log.info("LP bound: %s (simplex: optimal, %d columns, %d rows) in %.2f s",
                     bound, lp.n_vars, lp.n_rows, secs)
            return LpBound(bound=bound, seconds=secs, status="OPTIMAL", primal=primal,
                           pdlp_bound=bound, simplex=True)
        t1 = time.monotonic()
        time_limit_s -= t1 - t0
        if time_limit_s <= 0 or (interrupt is not None and interrupt.is_set()):
            return LpBound(bound=None, seconds=time.monotonic() - t0, status=status,
                           simplex=True)
    polishing = polish_share > 0 and target is not None
    pdlp_s = time_limit_s * (1.0 - polish_share) if polishing else time_limit_s
    status, duals, primal = _pdlp(m, lp, pdlp_s - (time.monotonic() - t1), threads=threads,
                                  interrupt=interrupt)
    y = duals if duals is not None else np.zeros(lp.n_rows)
    lag = Lagrangian(m, lp)
    bound = pdlp_bound = lagrangian_bound(m, lp, y, lag=lag)
    from_zero = lagrangian_bound(m, lp, np.zeros(lp.n_rows), lag=lag)
    off = from_zero is not None and bound is not None and from_zero < bound
    if off:
        # PDLP stopped far off (stopped early its multipliers can be millions of points
        # above the bound of none): start from none, a start the steps recover from
        # where they never do from PDLP's.
        y, bound = np.zeros(lp.n_rows), from_zero
    steps = 0
    if (polishing and primal is not None and (status != "OPTIMAL" or off)
            and bound is not None and not (interrupt is not None and interrupt.is_set())):
        assert target is not None
        y, steps = polish(m, lp, y, target, t1 + time_limit_s, interrupt=interrupt, lag=lag)
        better = lagrangian_bound(m, lp, y, lag=lag)
        if better is not None:
            bound = min(bound, better)
    secs = time.monotonic() - t0
    log.info("LP bound: %s (PDLP %s: %s, %d columns, %d rows; %d polish steps) in %.2f s",
             bound, status, pdlp_bound, lp.n_vars, lp.n_rows, steps, secs)
    return LpBound(bound=bound, seconds=secs, status=status, primal=primal,
                   pdlp_bound=pdlp_bound, polish_steps=steps, simplex=simplex_s > 0)


@contextmanager
def _watched(interrupt: threading.Event | None, stop: Callable[[], Any]) -> Iterator[None]:
    """Call ``stop`` (an LP solver's interrupt) if ``interrupt`` is set while the body
    runs, from a thread that looks every 0.1 s."""
    done = threading.Event()

    def watch() -> None:
        assert interrupt is not None
        while not done.is_set():
            if interrupt.wait(0.1):
                stop()
                return

    if interrupt is not None:
        threading.Thread(target=watch, name="lp-interrupt", daemon=True).start()
    try:
        yield
    finally:
        done.set()


def _simplex(m: Model, lp: LpMatrix, time_limit_s: float, *,
             interrupt: threading.Event | None = None
             ) -> tuple[str, FloatArray | None, FloatArray | None]:
    """HiGHS's dual simplex (bundled with OR-Tools, reached through MathOpt) on the LP
    relaxation of ``m`` for at most ``time_limit_s`` seconds: as :func:`_pdlp`, its
    status, multipliers and values of the candidates, the last two only when it proved
    the LP's optimum (an exact vertex; a simplex stopped early has no multipliers to give).
    MathOpt, not OR-Tools' model builder: in OR-Tools 9.15 the builder's HiGHS answer
    gives the rows' values where the multipliers should be. ``interrupt`` stops it."""
    # Lazy, all of them: only this LP needs MathOpt.
    import datetime  # lazy: see above

    from ortools.math_opt import model_pb2, result_pb2  # lazy: see above
    from ortools.math_opt.core.python import solver as core  # lazy: see above
    from ortools.math_opt.python import (  # lazy: see above
        callback,
        init_arguments,
        model_parameters,
        parameters,
    )
    from ortools.util.python import solve_interrupter  # lazy: see above

    proto = model_pb2.ModelProto()
    n = lp.n_vars
    proto.variables.ids.extend(np.arange(n, dtype=np.int64))
    proto.variables.lower_bounds.extend(m.variables.lower.astype(np.float64))
    proto.variables.upper_bounds.extend(m.variables.upper.astype(np.float64))
    proto.variables.integers.extend(np.zeros(n, dtype=bool))
    c = m.objective_vector().astype(np.float64)
    nz = np.flatnonzero(c)
    proto.objective.maximize = True
    proto.objective.linear_coefficients.ids.extend(nz)
    proto.objective.linear_coefficients.values.extend(c[nz])
    lower, upper = lp.open_sides()
    proto.linear_constraints.ids.extend(np.arange(lp.n_rows, dtype=np.int64))
    proto.linear_constraints.lower_bounds.extend(lower)
    proto.linear_constraints.upper_bounds.extend(upper)
    # MathOpt wants the matrix's entries in (row, column) order, without repeats.
    a = _csr(lp.vals, lp.rows, lp.cols, (lp.n_rows, n))
    a.sum_duplicates()
    a.sort_indices()
    coo = a.tocoo()
    proto.linear_constraint_matrix.row_ids.extend(coo.row.astype(np.int64))
    proto.linear_constraint_matrix.column_ids.extend(coo.col.astype(np.int64))
    proto.linear_constraint_matrix.coefficients.extend(coo.data)
    params = parameters.SolveParameters(
        time_limit=datetime.timedelta(seconds=max(0.01, time_limit_s)),
        lp_algorithm=parameters.LPAlgorithm.DUAL_SIMPLEX)
    stopper = solve_interrupter.SolveInterrupter()
    with _watched(interrupt, stopper.interrupt):
        res = core.solve(proto, parameters.SolverType.HIGHS.value,
                         init_arguments.StreamableSolverInitArguments().to_proto(),
                         params.to_proto(), model_parameters.ModelSolveParameters().to_proto(),
                         None, callback.CallbackRegistration().to_proto(), None,
                         stopper.pybind_interrupter)
    reason = result_pb2.TerminationReasonProto.Name(res.termination.reason)
    status = reason.removeprefix("TERMINATION_REASON_")
    if status != "OPTIMAL" or not res.solutions:
        return status, None, None
    sol = res.solutions[0]
    if not sol.HasField("dual_solution") or not sol.HasField("primal_solution"):
        return status, None, None
    duals = np.zeros(lp.n_rows)
    d = sol.dual_solution.dual_values
    duals[np.asarray(d.ids, dtype=np.int64)] = np.asarray(d.values, dtype=np.float64)
    primal = np.zeros(n)
    v = sol.primal_solution.variable_values
    primal[np.asarray(v.ids, dtype=np.int64)] = np.asarray(v.values, dtype=np.float64)
    return status, duals, primal[:len(m.candidates)]


def lp_primal(m: Model, time_limit_s: float, *,
              interrupt: threading.Event | None = None) -> tuple[str, FloatArray | None]:
    """PDLP's status and values of the model's candidates after at most ``time_limit_s``
    seconds (approximately feasible until it converged; ``None`` when it had none), and
    no bound: for a model that restricts a component (some pharmacists held to their
    lines), whose LP bounds nothing but whose support shows CP-SAT where to look."""
    status, _, primal = _pdlp(m, lp_matrix(m), time_limit_s, interrupt=interrupt)
    return status, primal


def _pdlp(m: Model, lp: LpMatrix, time_limit_s: float, *, threads: int = 1,
          interrupt: threading.Event | None = None
          ) -> tuple[str, FloatArray | None, FloatArray | None]:
    """PDLP on the LP relaxation of ``m`` (rows ``lp``) for at most ``time_limit_s``
    seconds: its status, its multipliers (one per row) and its values of the model's
    candidates, each ``None`` when it had none. ``interrupt`` stops it (while it has not
    started iterating: see the benchmarks' notes). Needs ``scipy`` (OR-Tools reads the
    matrix from it)."""
    from ortools.linear_solver.python import model_builder_helper as mbh  # lazy: LP only

    matrix = _csr(lp.vals, lp.rows, lp.cols, (lp.n_rows, lp.n_vars))
    builder: Any = mbh.ModelBuilderHelper()  # its stubs mistype numpy arrays
    # A row side without a limit goes to PDLP as infinite, not as the formulation's
    # stand-in (NO_LIMIT): PDLP's tolerances are relative to the size of the row bounds,
    # and with 10^9 or 10^12 among them it reported OPTIMAL for a solution that broke
    # its rows (two assignments in one slot of a tiny round).
    lower, upper = lp.open_sides()
    builder.fill_model_from_sparse_data(
        m.variables.lower.astype(np.float64), m.variables.upper.astype(np.float64),
        m.objective_vector().astype(np.float64), lower, upper, matrix)
    builder.set_maximize(True)
    solver = mbh.ModelSolverHelper("pdlp")
    solver.set_time_limit_in_seconds(max(0.01, time_limit_s))
    solver.set_solver_specific_parameters(f"num_threads: {max(1, int(threads))}")
    # PDLP checks for the interrupt between its iterations.
    with _watched(interrupt, solver.interrupt_solve):
        solver.solve(builder)
    status = str(solver.status()).rsplit(".", 1)[-1]
    if solver.has_response() and lp.n_rows:
        duals = np.asarray(solver.dual_values(), dtype=np.float64)
        if len(duals) == lp.n_rows:  # none when PDLP refused the model (invalid input)
            primal = np.asarray(solver.variable_values(), dtype=np.float64)[
                :len(m.candidates)]
            return status, duals, primal
    return status, None, None


def polish(m: Model, lp: LpMatrix, y: FloatArray, target: float, deadline: float, *,
           interrupt: threading.Event | None = None,
           lag: Lagrangian | None = None) -> tuple[FloatArray, int]:
    """Projected subgradient steps on the bound of the module docs, from multipliers ``y``
    until ``deadline`` (``time.monotonic()``) or ``interrupt``: the multipliers of the best
    bound seen (zero on the rows :class:`Lagrangian` keeps) and the number of steps.
    ``target`` is an objective some allocation reaches (Polyak's step aims at it). A row
    side with no limit (:data:`NO_LIMIT`) keeps its multiplier's sign at zero, so no step
    makes the bound infinite; the bound of the result is :func:`lagrangian_bound`'s, valid
    whatever the steps did. ``lag``: the model's :class:`Lagrangian`, if built."""
    lag = Lagrangian(m, lp) if lag is None else lag
    if not len(lag.rows):
        return np.asarray(y, dtype=np.float64), 0
    v = lag.project(np.nan_to_num(np.asarray(y, dtype=np.float64))[lag.rows])
    best_v, best_value = v, math.inf
    reach, since, steps = math.inf, 0, 0
    while time.monotonic() < deadline and not (interrupt is not None and interrupt.is_set()):
        raw, _, x = lag.solve(v, margin=False)
        if not math.isfinite(raw):
            break  # the model has no solution: any bound holds
        value = raw + lag.offset
        g = lag.subgradient(v, x)
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
        v = lag.project(v - (value - best_value + reach) / norm * g)
    out = np.zeros(lp.n_rows)
    out[lag.rows] = best_v
    return out, steps
