"""Exact decomposition of a round into independent components, and a component's state.

Pharmacists and placements linked by eligibility, and placements linked by a shared capped
organisation or a supervisor, form independent sub-rounds: no rule and no objective term
spans two of them (fairness does: with ``w.fairness > 0`` the round is one component).
Their allocations together are an allocation of the round, and objectives add up over
components (up to the same constants), which the flow path relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.solving.flow import Pairs

__all__ = ["UNBOUNDED", "Component", "components", "split"]

IntArray = npt.NDArray[np.int64]

# A component's bound before it is known.
UNBOUNDED = 2**62


def components(rnd: Round, cand: Candidates, pairs: Pairs) -> tuple[IntArray, IntArray]:
    """Component label of every pharmacist and every placement (labels 0..k-1 in order of
    first pharmacist; placements nobody can hold get -1)."""
    n_p, n_l = len(rnd.pharmacists), len(rnd.placements)
    if rnd.weights.fairness > 0:
        lab_p = np.zeros(n_p, dtype=np.int64)
        lab_l = np.zeros(n_l, dtype=np.int64)
        held = np.zeros(n_l, dtype=bool)
        held[pairs.l] = True
        lab_l[~held] = -1
        return lab_p, lab_l
    src = [pairs.p, ]
    dst = [n_p + pairs.l]
    link: list[tuple[int, int]] = []
    groups: list[list[int]] = []
    for o in rnd.organisations:
        if o.max_pharmacists is not None:
            groups.append([j for j, pl in enumerate(rnd.placements) if pl.organisation == o.id])
    for sup in rnd.supervisors:
        groups.append([rnd.placement_index[x] for x in sup.placements])
    for g in groups:
        link.extend((n_p + g[0], n_p + j) for j in g[1:])
    if link:
        arr = np.array(link, dtype=np.int64)
        src.append(arr[:, 0])
        dst.append(arr[:, 1])
    a = np.concatenate(src)
    b = np.concatenate(dst)
    lab = np.arange(n_p + n_l, dtype=np.int64)
    while True:
        m = np.minimum(lab[a], lab[b])
        new = lab.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        new = new[new]
        new = new[new]
        if np.array_equal(new, lab):
            break
        lab = new
    roots_p = lab[:n_p]
    uniq, first = np.unique(roots_p, return_index=True)
    order = np.argsort(first, kind="stable")
    remap = np.full(n_p + n_l, -1, dtype=np.int64)
    remap[uniq[order]] = np.arange(len(uniq))
    lab_p = remap[roots_p]
    lab_l = remap[lab[n_p:]]
    return lab_p, lab_l


@dataclass
class Component:
    """A component's state: its pharmacists, candidates, bound and best allocation."""

    index: int
    pharmacists: IntArray
    idx: IntArray  # candidate indices (sorted)
    bound: int  # bound on the objective of the round restricted to this component
    # (UNBOUNDED until computed)
    chosen: IntArray | None = None  # global candidate indices
    value: int | None = None  # objective of the round with this component's allocation only
    proven: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    # Candidate positions the search keeps to, with the allocation's (None: all of idx):
    # the support of the component's LP relaxation once it has one.
    focus: IntArray | None = None
    # Size of its search steps on the focus relative to their target
    # (:mod:`matcher.solving.lns`), adapted to how CP-SAT copes with them.
    step_scale: float = 1.0
    # Slots its flow relaxation fills in each stream (None until it has a flow bound).
    # Filling a slot is worth ``w.unassigned``, so the flow fills as many as it can: where
    # an allocation leaves more empty, those are the ones a search may fill.
    flow_filled: npt.NDArray[np.int64] | None = None

    @property
    def gap(self) -> float:
        if self.value is None:
            return math.inf
        return float(self.bound - self.value)

    def holds(self, positions: IntArray) -> IntArray:
        """The distinct ``positions`` (candidate indices) that are the component's,
        sorted: a binary search in its sorted ``idx``, where ``np.intersect1d`` sorts all
        of it (7 s for the 6.3 million candidates of a fairness round's one component at
        5,000 x 2,500 x 4)."""
        pos = np.unique(np.asarray(positions, dtype=np.int64))
        at = np.searchsorted(self.idx, pos)
        ok = at < len(self.idx)
        ok[ok] = self.idx[at[ok]] == pos[ok]
        out: IntArray = pos[ok]
        return out


def split(cand: Candidates, lab_p: IntArray) -> list[Component]:
    """One :class:`Component` per label of ``lab_p`` (see :func:`components`), with its
    pharmacists and candidate positions, each sorted."""
    order = np.argsort(lab_p, kind="stable")
    n = int(lab_p.max(initial=-1)) + 2
    bounds = np.searchsorted(lab_p[order], np.arange(n))
    cand_lab = lab_p[cand.pharmacist]
    corder = np.argsort(cand_lab, kind="stable")
    cb = np.searchsorted(cand_lab[corder], np.arange(n))
    return [Component(k, np.sort(order[bounds[k]:bounds[k + 1]]),
                      np.sort(corder[cb[k]:cb[k + 1]]).astype(np.int64), bound=UNBOUNDED)
            for k in range(len(bounds) - 1)]
