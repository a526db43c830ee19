"""The integer program of a round (spec §3 and §4) as numpy index arrays: the containers.

The model is a 0-1 integer linear program. Its variables are

- ``x``: one boolean per *eligible* (pharmacist, placement, period) candidate (never for
  ineligible triples), in the order of :class:`matcher.eligibility.Candidates`;
- auxiliary variables created by the rules that need them: ``continuity`` (the chosen
  placement of a non-rotating stream), ``cover`` (a new sector covered), ``distinct`` (a
  pharmacist counted once by an organisation or supervisor holding placements in several
  streams), ``shortfall`` (seats below min_fill) and ``fairness`` (M).

This module holds the containers: :class:`Variables` (which variable is which),
:class:`RowBlock` (one rule's rows in CSR form) and :class:`Model` (variables, rows,
objective), and the small helpers that make row blocks. The rules themselves, one function
per hard rule and per soft term, are in :mod:`matcher.solving.formulation`, which also
builds the model; :mod:`matcher.solving.cpsat` turns a model into CP-SAT's. Nothing here
imports a solver.

Scale: every coefficient is an integer in objective points (weights times points, see
:mod:`matcher.scoring`); the objective is ``sum(obj * var) + offset``, maximised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.allocation import Assignment
from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.scoring import Scores

__all__ = [
    "EMPTY",
    "HARD_RULES",
    "Model",
    "RowBlock",
    "Variables",
    "groups",
    "make_block",
    "pairs_two",
    "rows_from_pairs",
    "with_rule",
]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HARD_RULES: tuple[str, ...] = (
    "one_per_stream",
    "allow_unassigned",
    "capacity",
    "organisation_cap",
    "supervision",
    "rotation",
    "continuity",
    "sector_mix",
    "required_sectors",
    "pin",
)
"""Names of the row blocks the hard rules add (the ``rule`` of each :class:`RowBlock`)."""

EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class RowBlock:
    """Rows ``lower <= sum(coef * var) <= upper`` of one rule, in CSR form.

    Row ``r`` holds ``indices[indptr[r]:indptr[r+1]]`` with ``coefs`` alike. ``at_most_one``
    marks blocks whose rows are sums of booleans with coefficient 1 and upper bound 1
    (written to CP-SAT as at-most-one / exactly-one constraints).
    """

    rule: str
    indptr: IntArray
    indices: IntArray
    coefs: IntArray
    lower: IntArray
    upper: IntArray
    at_most_one: bool = False

    def __len__(self) -> int:
        return int(self.lower.shape[0])

    @property
    def nnz(self) -> int:
        """Number of non-zero coefficients."""
        return int(self.indices.shape[0])

    def rows(self) -> IntArray:
        """The row number of every non-zero (parallel to ``indices``)."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.indptr))


class Variables:
    """Which variable is which: the answers other modules may ask for.

    Assignment variables are ``0 .. n_candidates - 1`` in candidate order; auxiliary ones
    follow. Use :meth:`for_pharmacist`, :meth:`for_placement`, :meth:`of_candidates` and
    :meth:`extract`; the arrays inside are private to this module.
    """

    def __init__(self, rnd: Round, cand: Candidates) -> None:
        self._round = rnd
        self._cand = cand
        self._lower: list[IntArray] = [np.zeros(len(cand), dtype=np.int64)]
        self._upper: list[IntArray] = [np.ones(len(cand), dtype=np.int64)]
        self._kinds: list[tuple[str, int, int]] = [("x", 0, len(cand))]
        self._count = len(cand)

    # ---- creation (used by the rule functions of this module) --------------------------

    def new(self, kind: str, lower: IntArray, upper: IntArray) -> IntArray:
        n = int(lower.shape[0])
        start = self._count
        self._lower.append(lower.astype(np.int64))
        self._upper.append(upper.astype(np.int64))
        self._kinds.append((kind, start, start + n))
        self._count += n
        return np.arange(start, start + n, dtype=np.int64)

    # ---- questions ----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    @property
    def n_assignment(self) -> int:
        """Number of assignment variables (= candidates)."""
        return len(self._cand)

    @property
    def lower(self) -> IntArray:
        """Lower bound of every variable."""
        return np.concatenate(self._lower)

    @property
    def upper(self) -> IntArray:
        """Upper bound of every variable."""
        return np.concatenate(self._upper)

    def kind_counts(self) -> dict[str, int]:
        """How many variables of each kind (for logs and stats)."""
        out: dict[str, int] = {}
        for kind, start, stop in self._kinds:
            out[kind] = out.get(kind, 0) + stop - start
        return out

    def for_pharmacist(self, pharmacist_id: str) -> IntArray:
        """Assignment variables of one pharmacist (all placements and periods)."""
        i = self._round.pharmacist_index[pharmacist_id]
        lo, hi = np.searchsorted(self._cand.pharmacist, [i, i + 1])
        return np.arange(lo, hi, dtype=np.int64)

    def for_placement(self, placement_id: str, period_id: str | None = None) -> IntArray:
        """Assignment variables of one placement (in one period, or in all)."""
        mask = self._cand.placement == self._round.placement_index[placement_id]
        if period_id is not None:
            mask &= self._cand.period == self._round.period_index[period_id]
        return np.flatnonzero(mask).astype(np.int64)

    def of_candidates(self) -> IntArray:
        """Variable of each candidate (the identity: candidates are variables 0..n-1)."""
        return np.arange(len(self._cand), dtype=np.int64)

    def triple(self, var: int) -> Assignment:
        """The assignment an assignment variable stands for."""
        c, r = self._cand, self._round
        return Assignment(
            r.pharmacists[int(c.pharmacist[var])].id,
            r.period_ids[int(c.period[var])],
            r.placements[int(c.placement[var])].id,
        )

    def chosen(self, solution: Any) -> IntArray:
        """Indices of the candidates set to 1 in a solution.

        ``solution`` is a CP-SAT solver (or solution callback) or an array of values of
        every variable (or of the assignment variables only).
        """
        n = len(self._cand)
        if isinstance(solution, np.ndarray | list | tuple):
            values = np.asarray(solution)[:n]
        else:
            values = np.asarray(solution.response_proto.solution, dtype=np.int64)[:n]
        return np.flatnonzero(values > 0.5).astype(np.int64)

    def extract(self, solution: Any) -> tuple[Assignment, ...]:
        """The assignments of a solution (see :meth:`chosen` for what it may be)."""
        return tuple(self.triple(int(i)) for i in self.chosen(solution))

    def values_for(self, chosen: IntArray) -> IntArray:
        """A full 0/1 vector of assignment variables with the given candidates set."""
        out = np.zeros(len(self._cand), dtype=np.int64)
        out[chosen] = 1
        return out


@dataclass
class Model:
    """The integer program of a round: variables, row blocks, objective (maximised).

    ``objective`` holds one integer coefficient per variable (length grows as rules add
    variables; use :meth:`objective_vector`); ``offset`` is the constant part.
    """

    round: Round
    candidates: Candidates
    scores: Scores
    variables: Variables
    blocks: list[RowBlock] = field(default_factory=list)
    offset: int = 0
    _objective: dict[str, IntArray] = field(default_factory=dict)
    scope: BoolArray | None = None
    """Pharmacists whose personal rules (sector mix, required sectors, pins, no unassigned)
    the model states; ``None``: everyone. A model over some pharmacists' candidates only
    leaves the others out with it (they are simply unassigned)."""
    _definitions: list[tuple[str, IntArray, IntArray, IntArray, IntArray, IntArray]] = field(
        default_factory=list)

    def define(
        self, op: str, aux: IntArray, row: IntArray, var: IntArray, coef: IntArray,
        extra: IntArray | None = None,
    ) -> None:
        """Record how auxiliary variables follow from assignment variables (for hints).

        ``op`` is ``any`` (1 if any member is 1), ``shortfall`` (``max(0, extra - sum)``)
        or ``min`` (the smallest weighted row sum, for the single fairness variable).
        ``row[k]`` is the position in ``aux`` (or the row for ``min``) of member ``var[k]``.
        """
        self._definitions.append(
            (op, aux, row.astype(np.int64), var.astype(np.int64), coef.astype(np.int64),
             EMPTY if extra is None else extra.astype(np.int64)))

    def complete(self, x: IntArray) -> IntArray:
        """A full value vector from values of the assignment variables: every auxiliary
        variable takes the value its definition implies (the best one for the objective)."""
        values = np.zeros(len(self.variables), dtype=np.int64)
        values[: len(x)] = x
        for op, aux, row, var, coef, extra in self._definitions:
            if op == "min":
                n_rows = int(extra[0])
                sums = np.bincount(row, weights=coef * x[var], minlength=n_rows)
                values[aux] = int(sums.min()) if n_rows else 0
                continue
            sums = np.bincount(row, weights=coef * x[var], minlength=len(aux))
            if op == "any":
                values[aux] = sums > 0
            else:
                values[aux] = np.maximum(0, extra - sums.astype(np.int64))
        return values

    def add_objective(self, vars_: IntArray, coefs: IntArray) -> None:
        """Add ``coefs`` to the objective coefficients of ``vars_`` (repeats add up)."""
        key = f"t{len(self._objective)}"
        self._objective[key] = np.stack([vars_.astype(np.int64), coefs.astype(np.int64)])

    def objective_of(self, chosen: IntArray) -> int:
        """The objective of an assignment (the chosen candidates) with every auxiliary at its
        tightest value. A solver stopped before proving optimality may leave auxiliaries
        (a shortfall, say) slack, so its own objective can understate the assignment's."""
        values = self.complete(self.variables.values_for(chosen))
        return int(values @ self.objective_vector() + self.offset)

    def objective_vector(self) -> IntArray:
        """Objective coefficient of every variable."""
        out = np.zeros(len(self.variables), dtype=np.int64)
        for pair in self._objective.values():
            np.add.at(out, pair[0], pair[1])
        return out

    def add_rows(self, block: RowBlock) -> None:
        """Append a block of rows (empty blocks are dropped)."""
        if len(block):
            self.blocks.append(block)

    def stats(self) -> dict[str, Any]:
        """Sizes for logs: variables by kind, rows and non-zeros by rule."""
        rows: dict[str, int] = {}
        for b in self.blocks:
            rows[b.rule] = rows.get(b.rule, 0) + len(b)
        return {
            "variables": self.variables.kind_counts(),
            "rows": rows,
            "nonzeros": sum(b.nnz for b in self.blocks),
        }


# ---- row-block helpers (used by the rules) ---------------------------------------------


def groups(keys: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Sort ``keys``; return (order, unique keys, CSR indptr of the groups)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if len(sorted_keys) == 0:
        return order, EMPTY, np.zeros(1, dtype=np.int64)
    start = np.ones(len(sorted_keys), dtype=bool)
    start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    starts = np.flatnonzero(start)
    indptr = np.append(starts, len(sorted_keys)).astype(np.int64)
    return order.astype(np.int64), sorted_keys[starts], indptr


def make_block(
    rule: str,
    indptr: IntArray,
    indices: IntArray,
    coefs: IntArray,
    lower: IntArray | int,
    upper: IntArray | int,
    *,
    at_most_one: bool = False,
) -> RowBlock:
    n = len(indptr) - 1
    return RowBlock(
        rule=rule,
        indptr=indptr.astype(np.int64),
        indices=indices.astype(np.int64),
        coefs=coefs.astype(np.int64),
        lower=np.broadcast_to(np.asarray(lower, dtype=np.int64), (n,)).copy(),
        upper=np.broadcast_to(np.asarray(upper, dtype=np.int64), (n,)).copy(),
        at_most_one=at_most_one,
    )


def rows_from_pairs(
    rule: str, row: IntArray, var: IntArray, coef: IntArray, n_rows: int,
    lower: IntArray, upper: IntArray,
) -> RowBlock:
    """A block of ``n_rows`` rows from (row, var, coef) triples (rows may be empty)."""
    order = np.argsort(row, kind="stable")
    counts = np.bincount(row, minlength=n_rows) if len(row) else np.zeros(n_rows, np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return make_block(rule, indptr, var[order], coef[order], lower, upper)


def pairs_two(a: IntArray, b: IntArray) -> RowBlock | None:
    """Helper for ``a - b <= 0`` rows (one per pair)."""
    n = len(a)
    if n == 0:
        return None
    indptr = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
    indices = np.empty(2 * n, dtype=np.int64)
    indices[0::2] = a
    indices[1::2] = b
    coefs = np.empty(2 * n, dtype=np.int64)
    coefs[0::2] = 1
    coefs[1::2] = -1
    return make_block("", indptr, indices, coefs, -1, 0)


def with_rule(block: RowBlock, rule: str) -> RowBlock:
    return RowBlock(rule, block.indptr, block.indices, block.coefs, block.lower, block.upper,
                    block.at_most_one)
