"""Who may go where (spec §2): the sparse list of eligible (pharmacist, placement, period).

The computation is vectorised with numpy over blocks of pharmacists, so a national round
(5,000 pharmacists x 2,500 placements) never materialises more than one block of the
pharmacist x placement matrix at a time. Conditions that do not depend on the period
(travel, qualifications, skills, bans for every period, history in rotating streams) are
applied to pairs first; the survivors are expanded to periods with capacity >= 1 where the
pharmacist is available and no period ban applies.

:func:`ineligibility_reasons` answers the same question for one triple in planners' words;
validation uses it for pins, explanations for "why not there".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from matcher.allocation import Assignment, as_assignments
from matcher.domain import Round
from matcher.geo import travel_km

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_BLOCK_CELLS = 4_000_000  # pharmacist x placement cells per block (about 32 MB of float64)


@dataclass(frozen=True)
class Candidates:
    """Eligible triples as parallel int64 arrays (indices into the round's lists).

    Sorted by pharmacist, then placement, then period. ``stream`` is the index into
    ``round.effective_streams`` of the placement's stream; ``travel`` is travel(p, l).
    """

    pharmacist: IntArray
    placement: IntArray
    period: IntArray
    stream: IntArray
    travel: IntArray

    def __len__(self) -> int:
        return int(self.pharmacist.shape[0])

    def subset(self, idx: IntArray) -> Candidates:
        """The candidates at positions ``idx`` (kept in the given order)."""
        return Candidates(pharmacist=self.pharmacist[idx], placement=self.placement[idx],
                          period=self.period[idx], stream=self.stream[idx],
                          travel=self.travel[idx])

    def positions(self, rnd: Round, assignments: Iterable[Any]) -> IntArray:
        """Candidate position of each assignment, in order; -1 where it is no candidate.

        ``assignments`` are anything :func:`matcher.allocation.as_assignments` takes
        (:class:`~matcher.allocation.Assignment`, ``(pharmacist, period, placement)`` id
        tuples, §5 result dicts, a round's pins or reference records). An id the round does
        not know, or an ineligible triple, gives -1. This and :meth:`assignments` are the
        one mapping between ids and candidate positions.
        """
        items = as_assignments(assignments)
        n_l, n_t = len(rnd.placements), len(rnd.periods)
        out = np.full(len(items), -1, dtype=np.int64)
        ph, pl, pe = rnd.pharmacist_index, rnd.placement_index, rnd.period_index
        known = [k for k, a in enumerate(items)
                 if a.pharmacist in ph and a.placement in pl and a.period in pe]
        if not known or not len(self):
            return out
        query = np.array([(ph[items[k].pharmacist] * n_l + pl[items[k].placement]) * n_t
                          + pe[items[k].period] for k in known], dtype=np.int64)
        key = (self.pharmacist * n_l + self.placement) * n_t + self.period
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        at = np.minimum(np.searchsorted(sorted_key, query), len(key) - 1)
        out[np.asarray(known, dtype=np.int64)] = np.where(sorted_key[at] == query, order[at], -1)
        return out

    def assignments(self, rnd: Round, idx: Iterable[int] | IntArray) -> list[Assignment]:
        """The assignments (ids) of the candidates at positions ``idx``, in that order."""
        ph, pe, pl = rnd.pharmacists, rnd.period_ids, rnd.placements
        return [Assignment(ph[int(self.pharmacist[i])].id, pe[int(self.period[i])],
                           pl[int(self.placement[i])].id) for i in np.asarray(idx).tolist()]

    @cached_property
    def pairs(self) -> tuple[IntArray, IntArray, IntArray]:
        """Distinct eligible (pharmacist, placement) pairs with their travel."""
        if len(self) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        first = np.ones(len(self), dtype=bool)
        first[1:] = (self.pharmacist[1:] != self.pharmacist[:-1]) | (
            self.placement[1:] != self.placement[:-1]
        )
        return self.pharmacist[first], self.placement[first], self.travel[first]


@dataclass(frozen=True)
class Reason:
    """Why a pharmacist may not hold a placement in a period: the rule and a message."""

    rule: str
    message: str


def _pharmacist_arrays(rnd: Round) -> dict[str, npt.NDArray[Any]]:
    phs = rnd.pharmacists
    limits = [rnd.max_travel(p) for p in phs]
    return {
        "lat": np.array([p.home.lat for p in phs], dtype=np.float64),
        "lon": np.array([p.home.lon for p in phs], dtype=np.float64),
        "max_travel": np.array([np.inf if x is None else x for x in limits], dtype=np.float64),
        "prescriber": np.array([p.independent_prescriber for p in phs], dtype=bool),
        "experience": np.array([p.experience_years for p in phs], dtype=np.float64),
    }


def _skill_matrices(rnd: Round) -> tuple[BoolArray, BoolArray]:
    names = sorted({s for pl in rnd.placements for s in pl.requires.skills})
    col = {s: i for i, s in enumerate(names)}
    needs = np.zeros((len(rnd.placements), len(names)), dtype=bool)
    for j, pl in enumerate(rnd.placements):
        for s in pl.requires.skills:
            needs[j, col[s]] = True
    has = np.zeros((len(rnd.pharmacists), len(names)), dtype=bool)
    for i, ph in enumerate(rnd.pharmacists):
        for s in ph.skills:
            if s in col:
                has[i, col[s]] = True
    return needs, has


def candidates(rnd: Round) -> Candidates:
    """Every eligible (pharmacist, placement, period) triple of the round (spec §2)."""
    n_p, n_l, n_t = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)
    ph = _pharmacist_arrays(rnd)
    pl_lat = np.array([pl.location.lat for pl in rnd.placements], dtype=np.float64)
    pl_lon = np.array([pl.location.lon for pl in rnd.placements], dtype=np.float64)
    needs_ip = np.array([pl.requires.independent_prescriber for pl in rnd.placements], bool)
    min_exp = np.array([pl.requires.min_experience_years for pl in rnd.placements], np.float64)
    needs_skill, has_skill = _skill_matrices(rnd)
    stream_of = np.array(
        [rnd.stream_index[rnd.stream_of(pl).id] for pl in rnd.placements], dtype=np.int64
    )
    rotating = np.array([rnd.stream_of(pl).rotate for pl in rnd.placements], dtype=bool)

    overrides = {
        (rnd.pharmacist_index[tr.pharmacist], rnd.placement_index[tr.placement]): tr.cost
        for tr in rnd.travel
    }
    # Pairs excluded in every period: bans without a period, and history in rotating streams.
    excluded: set[tuple[int, int]] = {
        (rnd.pharmacist_index[b.pharmacist], rnd.placement_index[b.placement])
        for b in rnd.bans
        if b.period is None
    }
    for i, p in enumerate(rnd.pharmacists):
        for h in p.history:
            j = rnd.placement_index[h]
            if rotating[j]:
                excluded.add((i, j))

    block = max(1, _BLOCK_CELLS // max(n_l, 1))
    pair_p: list[IntArray] = []
    pair_l: list[IntArray] = []
    pair_tr: list[IntArray] = []
    for start in range(0, n_p, block):
        stop = min(n_p, start + block)
        rows = slice(start, stop)
        dist = travel_km(ph["lat"][rows, None], ph["lon"][rows, None], pl_lat[None, :],
                         pl_lon[None, :])
        for (i, j), cost in overrides.items():
            if start <= i < stop:
                dist[i - start, j] = cost
        ok = dist <= ph["max_travel"][rows, None]
        ok &= ~needs_ip[None, :] | ph["prescriber"][rows, None]
        ok &= ph["experience"][rows, None] >= min_exp[None, :]
        if needs_skill.shape[1]:
            missing = needs_skill.astype(np.int32) @ (~has_skill[rows]).T.astype(np.int32)
            ok &= missing.T == 0
        for i, j in excluded:
            if start <= i < stop:
                ok[i - start, j] = False
        bi, bj = np.nonzero(ok)
        pair_p.append(bi.astype(np.int64) + start)
        pair_l.append(bj.astype(np.int64))
        pair_tr.append(dist[bi, bj].astype(np.int64))
    pp = np.concatenate(pair_p) if pair_p else np.zeros(0, np.int64)
    pl = np.concatenate(pair_l) if pair_l else np.zeros(0, np.int64)
    ptr = np.concatenate(pair_tr) if pair_tr else np.zeros(0, np.int64)

    # Expand pairs to periods.
    cap = np.array(
        [[pl_.capacity_in(t) for t in rnd.period_ids] for pl_ in rnd.placements], dtype=np.int64
    ).reshape(n_l, n_t)
    ok_t = (cap[pl] >= 1) & availability(rnd)[pp]
    period_bans = [
        (rnd.pharmacist_index[b.pharmacist], rnd.placement_index[b.placement],
         rnd.period_index[b.period])
        for b in rnd.bans
        if b.period is not None
    ]
    if period_bans and len(pp):
        pair_key = pp * n_l + pl
        order = np.argsort(pair_key, kind="stable")
        for i, j, ti in period_bans:
            pos = np.searchsorted(pair_key, i * n_l + j, sorter=order)
            if pos < len(order) and pair_key[order[pos]] == i * n_l + j:
                ok_t[order[pos], ti] = False
    ci, ct = np.nonzero(ok_t)
    return Candidates(
        pharmacist=pp[ci],
        placement=pl[ci],
        period=ct.astype(np.int64),
        stream=stream_of[pl[ci]],
        travel=ptr[ci],
    )


def availability(rnd: Round) -> BoolArray:
    """Pharmacist x period matrix: True where the pharmacist is available (not on leave)."""
    avail = np.ones((len(rnd.pharmacists), len(rnd.periods)), dtype=bool)
    for i, ph in enumerate(rnd.pharmacists):
        for t in ph.unavailable:
            avail[i, rnd.period_index[t]] = False
    return avail


def pair_travel(rnd: Round, pharmacist_id: str, placement_id: str) -> int:
    """travel(p, l) of spec §2.2: the explicit override if given, else great-circle km."""
    for tr in rnd.travel:
        if tr.pharmacist == pharmacist_id and tr.placement == placement_id:
            return tr.cost
    p = rnd.pharmacist(pharmacist_id)
    pl = rnd.placement(placement_id)
    return int(travel_km(p.home.lat, p.home.lon, pl.location.lat, pl.location.lon))


def ineligibility_reasons(
    rnd: Round, pharmacist_id: str, placement_id: str, period_id: str
) -> list[Reason]:
    """Every §2 condition that stops the pharmacist holding the placement in the period.

    An empty list means the triple is eligible. Messages name ids and rules only.
    """
    p = rnd.pharmacist(pharmacist_id)
    pl = rnd.placement(placement_id)
    out: list[Reason] = []
    if period_id in p.unavailable:
        out.append(Reason("unavailable", f"{p.id} is unavailable in {period_id}"))
    if pl.capacity_in(period_id) < 1:
        out.append(Reason("capacity", f"{pl.id} has no capacity in {period_id}"))
    limit = rnd.max_travel(p)
    dist = pair_travel(rnd, p.id, pl.id)
    if limit is not None and dist > limit:
        out.append(Reason("travel", f"{pl.id} is {dist} km from {p.id}'s home, beyond their "
                                    f"limit of {limit:g} km"))
    req = pl.requires
    if req.independent_prescriber and not p.independent_prescriber:
        out.append(Reason("prescriber", f"{pl.id} requires an independent prescriber"))
    if p.experience_years < req.min_experience_years:
        out.append(Reason("experience", f"{pl.id} requires {req.min_experience_years:g} years' "
                                        f"experience; {p.id} has {p.experience_years:g}"))
    missing = [s for s in req.skills if s not in p.skills]
    if missing:
        out.append(Reason("skills", f"{pl.id} requires skill(s) {', '.join(missing)} that "
                                    f"{p.id} does not have"))
    for b in rnd.bans:
        if b.pharmacist == p.id and b.placement == pl.id and b.period in (None, period_id):
            when = "in every period" if b.period is None else f"in {period_id}"
            out.append(Reason("ban", f"{p.id} is banned from {pl.id} {when}"))
            break
    stream = rnd.stream_of(pl)
    if stream.rotate and pl.id in p.history:
        out.append(Reason("history", f"{p.id} has already done {pl.id} (in history) and the "
                                     f"'{stream.id}' stream rotates"))
    return out
