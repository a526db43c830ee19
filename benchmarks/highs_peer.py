"""A second peer: the spec's MIP solved by HiGHS (``highspy``), built from numpy arrays.

:mod:`benchmarks.bench_solve` runs it beside the CP-SAT peer (``--peers cp-sat highs``). It
models exactly the problem of ``round-format.md``, §3 hard rules and §4 objective
(fairness M and the change term included), as a mixed-integer program:

- one binary column per eligible (pharmacist, placement, period) triple
  (:func:`matcher.eligibility.candidates`, so every solver models the same problem), with
  objective ``score(p, l) + w.unassigned`` (+ ``w.change`` when the triple is in the
  reference); the constant ``-w.unassigned * available slots - w.change * reference
  slots`` is the objective offset. Pins fix their column to 1;
- continuous helper columns where a rule needs one (they take 0-1 or integer values at
  every integral assignment, so they need not be integer): ``z`` the practice kept in a
  non-rotating stream, ``c`` a new sector covered, ``y`` "holds one of these placements"
  when an organisation or supervisor counts a pharmacist whose options span two streams,
  ``s`` the shortfall of a placement-period and ``M`` the fairness minimum;
- rows, as numpy blocks: one placement per stream and period (exactly one when
  ``allow_unassigned`` is false), capacity, organisation caps and supervision (distinct
  pharmacists), no repeat in a rotating stream, continuity, sector mix and required
  sectors (history counts), shortfall and fairness rows.

The whole model goes to HiGHS in one ``passModel`` call (row-wise sparse matrix). HiGHS
runs with its defaults except the time limit, threads, seed and the gap: ``mip_rel_gap``
0 and ``mip_abs_gap`` just under 1, since the objective is an integer (a bound less than
one above the incumbent proves it optimal).

The answer is read back (``x > 0.5``) and verified by :mod:`matcher.checker`. Its
``objective`` is the checker's value of that allocation; ``checked`` is true when the
checker finds no violation and that value equals HiGHS's own objective (at least HiGHS's
when the answer is not proven optimal: a heuristic incumbent may carry a helper column
below its best value).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt

from matcher import checker
from matcher.allocation import Assignment
from matcher.domain import SECTORS, Round
from matcher.eligibility import Candidates, availability, candidates

__all__ = ["HighsModel", "HighsResult", "build_highs", "solve_highs", "solve_highs_built"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

INF = math.inf


@dataclass
class HighsModel:
    """A built MIP: the arrays handed to HiGHS, and which columns are the assignments.

    Columns ``0 .. n_x - 1`` are the candidates of ``cand`` in order. ``infeasible_reason``
    is set when a rule cannot hold at all (the model is then not solved).
    """

    round: Round
    cand: Candidates
    n_x: int
    col_cost: FloatArray
    col_lower: FloatArray
    col_upper: FloatArray
    integrality: npt.NDArray[np.int32]
    row_lower: FloatArray
    row_upper: FloatArray
    a_start: npt.NDArray[np.int32]
    a_index: npt.NDArray[np.int32]
    a_value: FloatArray
    offset: float
    build_seconds: float
    infeasible_reason: str | None = None
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class HighsResult:
    """What HiGHS found, in the same terms as :class:`benchmarks.peer.PeerResult`.

    ``status`` is ``optimal``, ``feasible``, ``infeasible`` or ``unknown``; ``objective`` the
    checker's value of the allocation read back; ``bound`` HiGHS's dual bound rounded down;
    ``gap`` ``(bound - objective) / max(1, |bound|)``; ``highs_objective`` HiGHS's own value.
    """

    status: str
    objective: int | None
    bound: int | None
    gap: float | None
    build_seconds: float
    solve_seconds: float
    checked: bool | None
    check_objective: int | None
    violations: int
    highs_objective: float | None = None
    model_status: str = ""
    assignments: tuple[Assignment, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON (assignments left out)."""
        out = asdict(self)
        out.pop("assignments")
        out["n_assignments"] = len(self.assignments)
        return out


class _Blocks:
    """Columns and row blocks of the MIP, gathered as numpy arrays (COO entries)."""

    def __init__(self) -> None:
        self.cost: list[FloatArray] = []
        self.lower: list[FloatArray] = []
        self.upper: list[FloatArray] = []
        self.integer: list[npt.NDArray[np.int32]] = []
        self.n_cols = 0
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []
        self.row_lower: list[FloatArray] = []
        self.row_upper: list[FloatArray] = []
        self.n_rows = 0

    def columns(self, cost: Any, lower: Any, upper: Any, *, integer: bool = False) -> IntArray:
        """Add columns (arrays or scalars broadcast to ``cost``); their indices."""
        cost = np.asarray(cost, dtype=np.float64)
        n = cost.shape[0]
        self.cost.append(cost)
        self.lower.append(np.broadcast_to(np.asarray(lower, np.float64), (n,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, np.float64), (n,)).copy())
        self.integer.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        out = np.arange(self.n_cols, self.n_cols + n, dtype=np.int64)
        self.n_cols += n
        return out

    def rows_of(self, n: int, row: IntArray, col: IntArray, val: Any, lower: Any,
                upper: Any) -> None:
        """Add ``n`` rows; entry k is ``val[k]`` at (row ``row[k]`` of the block, ``col[k]``)."""
        if n == 0:
            return
        row = np.asarray(row, dtype=np.int64)
        self.rows.append(row + self.n_rows)
        self.cols.append(np.asarray(col, dtype=np.int64))
        self.vals.append(np.broadcast_to(np.asarray(val, np.float64), row.shape).copy())
        self.row_lower.append(np.broadcast_to(np.asarray(lower, np.float64), (n,)).copy())
        self.row_upper.append(np.broadcast_to(np.asarray(upper, np.float64), (n,)).copy())
        self.n_rows += n

    def csr(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray]:
        """The rows as a row-wise sparse matrix: (start, index, value)."""
        if not self.rows:
            return (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float64))
        row = np.concatenate(self.rows)
        col = np.concatenate(self.cols)
        val = np.concatenate(self.vals)
        order = np.argsort(row, kind="stable")
        counts = np.bincount(row, minlength=self.n_rows)
        start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int32)
        return start, col[order].astype(np.int32), val[order]


def _cat(parts: list[Any], dtype: Any) -> Any:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def _groups(key: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct keys and the group index of every entry."""
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq, inverse.astype(np.int64)


def _pref_points(rnd: Round, p: IntArray, l_: IntArray) -> IntArray:
    """pref(p, l) of §4 for every (p, l) given: R - rank + 1, 0 when not ranked."""
    limit = rnd.rules.max_preferences
    n_l = len(rnd.placements)
    seen: dict[int, int] = {}
    for i, ph in enumerate(rnd.pharmacists):
        for rank, placement_id in enumerate(ph.preferences, start=1):
            seen.setdefault(i * n_l + rnd.placement_index[placement_id], limit - rank + 1)
    if not seen or not len(p):
        return np.zeros(len(p), dtype=np.int64)
    keys = np.fromiter(seen.keys(), dtype=np.int64, count=len(seen))
    pts = np.fromiter(seen.values(), dtype=np.int64, count=len(seen))
    order = np.argsort(keys)
    keys, pts = keys[order], pts[order]
    query = p * n_l + l_
    at = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return np.where(keys[at] == query, pts[at], 0)


def build_highs(rnd: Round) -> HighsModel:
    """Build the MIP of the round (spec §3 and §4) as numpy arrays."""
    t0 = time.monotonic()
    w = rnd.weights
    streams = rnd.effective_streams
    n_p, n_l, n_t, n_s = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods), len(streams)
    cand = candidates(rnd)
    n = len(cand)
    p, l_, t, s = cand.pharmacist, cand.placement, cand.period, cand.stream
    avail = availability(rnd)
    a_count = avail.sum(axis=1).astype(np.int64)
    infeasible: list[str] = []
    b = _Blocks()

    # Assignment columns and the constant part of the objective.
    htr = np.array([pl.hard_to_recruit for pl in rnd.placements], dtype=np.int64)
    pop = np.array([pl.population_health for pl in rnd.placements], dtype=np.int64)
    points = _pref_points(rnd, p, l_)
    score = (w.preference * points + w.hard_to_recruit * htr[l_]
             + w.population_health * pop[l_] - w.travel * cand.travel)
    cost = score + w.unassigned
    offset = -float(w.unassigned) * int(a_count.sum()) * n_s
    if w.change and rnd.reference:
        ref_pos = cand.positions(rnd, rnd.reference)
        cost = cost.copy()
        np.add.at(cost, ref_pos[ref_pos >= 0], w.change)
        offset -= float(w.change) * len(rnd.reference)
    lower = np.zeros(n)
    if rnd.pins:  # §3.7 pins
        pin_pos = cand.positions(rnd, rnd.pins)
        if (pin_pos < 0).any():
            infeasible.append(f"{int((pin_pos < 0).sum())} pin(s) name no eligible triple")
        lower[pin_pos[pin_pos >= 0]] = 1.0
    x = b.columns(cost, lower, 1.0, integer=True)

    # §3.1 one placement per pharmacist, period and stream (exactly one when asked).
    slots, slot_of = _groups((p * n_t + t) * n_s + s)
    exact = not rnd.rules.allow_unassigned
    b.rows_of(len(slots), slot_of, x, 1.0, 1.0 if exact else -INF, 1.0)
    if exact and len(slots) < int(a_count.sum()) * n_s:
        infeasible.append("an available pharmacist has no eligible placement in some "
                          "period and stream (rules.allow_unassigned is false)")

    # §3.2 capacity (only where the eligible could exceed it).
    cap = np.array([[pl.capacity_in(tid) for tid in rnd.period_ids] for pl in rnd.placements],
                   dtype=np.int64).reshape(n_l, n_t)
    seats, seat_of = _groups(l_ * n_t + t)
    tight_seat = np.bincount(seat_of, minlength=len(seats)) > cap.ravel()[seats]
    _limited_rows(b, seat_of, x, tight_seat, cap.ravel()[seats])

    # §3.5 no repeat in a rotating stream.
    rotating = np.array([st.rotate for st in streams], dtype=bool)
    rot = np.flatnonzero(rotating[s])
    pairs, pair_of = _groups(p[rot] * n_l + l_[rot])
    repeat = np.bincount(pair_of, minlength=len(pairs)) > 1
    _limited_rows(b, pair_of, x[rot], repeat, np.ones(len(pairs), dtype=np.int64))

    # §3.5 continuity: one placement per pharmacist in a non-rotating stream.
    keep = np.flatnonzero(~rotating[s])
    if len(keep):
        stream_of_l = np.array([rnd.stream_index[rnd.stream_of(pl).id] for pl in rnd.placements],
                               dtype=np.int64)
        kpairs, kpair_of = _groups(p[keep] * n_l + l_[keep])
        owners, owner_of = _groups((kpairs // n_l) * n_s + stream_of_l[kpairs % n_l])
        several = np.bincount(owner_of, minlength=len(owners)) >= 2
        chosen = several[owner_of]  # pairs whose pharmacist-stream has two places or more
        z = b.columns(np.zeros(int(chosen.sum())), 0.0, 1.0)
        z_of_pair = np.full(len(kpairs), -1, dtype=np.int64)
        z_of_pair[chosen] = z
        entries = np.flatnonzero(chosen[kpair_of])  # x - z <= 0
        m = len(entries)
        b.rows_of(m, np.repeat(np.arange(m), 2),
                  np.column_stack([x[keep][entries], z_of_pair[kpair_of[entries]]]).ravel(),
                  np.tile([1.0, -1.0], m), -INF, 0.0)
        kept_owner = np.flatnonzero(several)  # sum of z <= 1
        row_of_owner = np.full(len(owners), -1, dtype=np.int64)
        row_of_owner[kept_owner] = np.arange(len(kept_owner))
        b.rows_of(len(kept_owner), row_of_owner[owner_of[chosen]], z, 1.0, -INF, 1.0)

    # §3.3 organisation caps and §3.4 supervision: distinct pharmacists in a group.
    _group_caps(rnd, b, cand, x)

    # §3.6 sector mix and required sectors (history counts).
    sec_index = {name: i for i, name in enumerate(SECTORS)}
    n_sec = len(SECTORS)
    sector = np.array([sec_index[pl.sector] for pl in rnd.placements], dtype=np.int64)
    done = np.zeros((n_p, n_sec), dtype=bool)
    for i, ph in enumerate(rnd.pharmacists):
        for h in ph.history:
            done[i, sector[rnd.placement_index[h]]] = True
    need = np.minimum(rnd.rules.min_distinct_sectors, a_count) - done.sum(axis=1)
    csec = sector[l_]
    new = np.flatnonzero((need[p] > 0) & ~done[p, csec])
    covers, cover_of = _groups(p[new] * n_sec + csec[new])
    c = b.columns(np.zeros(len(covers)), 0.0, 1.0)
    # c - sum x <= 0 per (pharmacist, new sector)
    b.rows_of(len(covers), np.concatenate([np.arange(len(covers)), cover_of]),
              np.concatenate([c, x[new]]),
              np.concatenate([np.ones(len(covers)), -np.ones(len(new))]), -INF, 0.0)
    needy = np.flatnonzero(need > 0)
    cover_p = covers // n_sec
    have = np.bincount(cover_p, minlength=n_p)
    if (have[needy] < need[needy]).any():
        infeasible.append("a pharmacist cannot cover enough distinct sectors")
    row_of_p = np.full(n_p, -1, dtype=np.int64)
    row_of_p[needy] = np.arange(len(needy))
    b.rows_of(len(needy), row_of_p[cover_p], c, 1.0, need[needy], INF)
    for name in rnd.rules.required_sectors:
        sig = sec_index[name]
        who = np.flatnonzero((a_count >= 1) & ~done[:, sig])
        sel = np.flatnonzero((csec == sig) & (a_count[p] >= 1) & ~done[p, sig])
        if len(np.unique(p[sel])) < len(who):
            infeasible.append(f"a pharmacist cannot cover the required sector {name}")
        owners_r, owner_r_of = _groups(p[sel])
        b.rows_of(len(owners_r), owner_r_of, x[sel], 1.0, 1.0, INF)

    # §4 shortfall: s + holders >= min_fill, s >= 0, cost -w.shortfall.
    if w.shortfall:
        mf = np.array([[pl.min_fill_in(tid) for tid in rnd.period_ids]
                       for pl in rnd.placements], dtype=np.int64).reshape(n_l, n_t).ravel()
        want = np.flatnonzero(mf > 0)
        short = b.columns(np.full(len(want), -float(w.shortfall)), 0.0, mf[want])
        row_of_seat = np.full(n_l * n_t, -1, dtype=np.int64)
        row_of_seat[want] = np.arange(len(want))
        r_x = row_of_seat[l_ * n_t + t]
        has = r_x >= 0
        b.rows_of(len(want), np.concatenate([np.arange(len(want)), r_x[has]]),
                  np.concatenate([short, x[has]]), 1.0, mf[want], INF)

    # §4 fairness: M <= sum pref(p, l) x for every pharmacist available at least once.
    if w.fairness:
        counted = np.flatnonzero(a_count >= 1)
        top = rnd.rules.max_preferences * n_t * n_s if len(counted) else 0
        m_col = b.columns([float(w.fairness)], 0.0, float(top))
        row_of_p = np.full(n_p, -1, dtype=np.int64)
        row_of_p[counted] = np.arange(len(counted))
        sel = np.flatnonzero((points > 0) & (row_of_p[p] >= 0))
        b.rows_of(len(counted), np.concatenate([np.arange(len(counted)), row_of_p[p[sel]]]),
                  np.concatenate([np.repeat(m_col, len(counted)), x[sel]]),
                  np.concatenate([np.ones(len(counted)), -points[sel].astype(np.float64)]),
                  -INF, 0.0)

    start, index, value = b.csr()
    model = HighsModel(
        round=rnd, cand=cand, n_x=n,
        col_cost=_cat(b.cost, np.float64), col_lower=_cat(b.lower, np.float64),
        col_upper=_cat(b.upper, np.float64), integrality=_cat(b.integer, np.int32),
        row_lower=_cat(b.row_lower, np.float64), row_upper=_cat(b.row_upper, np.float64),
        a_start=start, a_index=index, a_value=value, offset=offset,
        build_seconds=0.0, infeasible_reason="; ".join(infeasible) or None,
        stats={"columns": b.n_cols, "rows": b.n_rows, "nonzeros": len(value),
               "assignment_variables": n},
    )
    model.build_seconds = time.monotonic() - t0
    return model


def _limited_rows(b: _Blocks, group_of: IntArray, cols: IntArray, keep: Any,
                  limit: IntArray) -> None:
    """``sum of the group's columns <= limit`` for every group where ``keep``."""
    kept = np.flatnonzero(keep)
    row_of = np.full(len(keep), -1, dtype=np.int64)
    row_of[kept] = np.arange(len(kept))
    r = row_of[group_of]
    sel = r >= 0
    b.rows_of(len(kept), r[sel], cols[sel], 1.0, -INF, limit[kept])


def _group_caps(rnd: Round, b: _Blocks, cand: Candidates, x: IntArray) -> None:
    """Organisation caps (§3.3) and supervision (§3.4), counting distinct pharmacists.

    A pharmacist whose options in the group (in one period) lie in one stream holds at most
    one of them, so its columns enter the row directly; one whose options span two streams
    gets a column ``y >= x`` for each option, and ``y`` enters the row.
    """
    n_p, n_l, n_t = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)
    counted = np.ones((4, n_p), dtype=bool)  # kinds: all, non_prescribers, early_years
    kinds = {"all": 0, "non_prescribers": 1, "early_years": 2}
    for i, ph in enumerate(rnd.pharmacists):
        counted[1, i] = not ph.independent_prescriber
        counted[2, i] = ph.experience_years < 2.0
    members: list[tuple[int, int]] = []
    caps: list[int] = []
    kind_of: list[int] = []
    by_org: dict[str, list[int]] = {}
    for j, pl in enumerate(rnd.placements):
        if pl.organisation is not None:
            by_org.setdefault(pl.organisation, []).append(j)
    for org in rnd.organisations:
        if org.max_pharmacists is None:
            continue
        g = len(caps)
        members += [(g, j) for j in by_org.get(org.id, [])]
        caps.append(org.max_pharmacists)
        kind_of.append(0)
    for sup in rnd.supervisors:
        g = len(caps)
        members += [(g, rnd.placement_index[pid]) for pid in dict.fromkeys(sup.placements)]
        caps.append(sup.capacity)
        # Spell the rule as the domain does: a supervisor counts whom Supervisor.counts says.
        kind_of.append(kinds.get(sup.supervises, 0))
    if not members or not len(cand):
        return
    gm = np.array(members, dtype=np.int64)
    cap = np.array(caps, dtype=np.int64)
    kind = np.array(kind_of, dtype=np.int64)
    # Candidates of each placement, then of each (group, placement) membership.
    by_l = np.argsort(cand.placement, kind="stable")
    l_start = np.searchsorted(cand.placement[by_l], np.arange(n_l))
    l_count = np.bincount(cand.placement, minlength=n_l)
    cnt = l_count[gm[:, 1]]
    total = int(cnt.sum())
    g = np.repeat(gm[:, 0], cnt)
    first = np.repeat(l_start[gm[:, 1]], cnt)
    within = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    k = by_l[first + within]
    ok = counted[kind[g], cand.pharmacist[k]]
    g, k = g[ok], k[ok]
    p, t, s = cand.pharmacist[k], cand.period[k], cand.stream[k]
    row_key = g * n_t + t
    who, who_of = _groups(row_key * n_p + p)  # (group, period, pharmacist)
    n_s = len(rnd.effective_streams)
    ws, _ = _groups(who_of * n_s + s)  # distinct (group, period, pharmacist, stream)
    n_streams = np.bincount(ws // n_s, minlength=len(who))
    rows, row_of = _groups(who // n_p)  # (group, period) with someone counted
    distinct = np.bincount(row_of, minlength=len(rows))
    over = distinct > cap[rows // n_t]
    row_id = np.full(len(rows), -1, dtype=np.int64)
    row_id[over] = np.arange(int(over.sum()))
    n_rows = int(over.sum())
    if n_rows == 0:
        return
    r_who = row_id[row_of]  # row of every (group, period, pharmacist); -1 when not limited
    multi = (n_streams >= 2) & (r_who >= 0)
    y_of_who = np.full(len(who), -1, dtype=np.int64)
    y_of_who[multi] = b.columns(np.zeros(int(multi.sum())), 0.0, 1.0)
    direct = (r_who[who_of] >= 0) & ~multi[who_of]
    entry_rows = np.concatenate([r_who[who_of[direct]], r_who[multi]])
    entry_cols = np.concatenate([x[k[direct]], y_of_who[multi]])
    b.rows_of(n_rows, entry_rows, entry_cols, 1.0, -INF, cap[rows[over] // n_t])
    link = np.flatnonzero(multi[who_of])  # x - y <= 0
    m = len(link)
    b.rows_of(m, np.repeat(np.arange(m), 2),
              np.column_stack([x[k[link]], y_of_who[who_of[link]]]).ravel(),
              np.tile([1.0, -1.0], m), -INF, 0.0)


def solve_highs_built(hm: HighsModel, *, time_limit_s: float, workers: int = 2,
                      seed: int = 0) -> HighsResult:
    """Solve a built model with HiGHS, read the answer back and check it."""
    rnd = hm.round
    if hm.infeasible_reason is not None:
        return HighsResult("infeasible", None, None, None, hm.build_seconds, 0.0, checked=None,
                           check_objective=None, violations=0, model_status="built infeasible",
                           stats=hm.stats)
    h = highspy.Highs()
    for name, value in (("output_flag", False), ("time_limit", float(time_limit_s)),
                        ("threads", int(max(1, workers))), ("random_seed", int(seed)),
                        ("mip_rel_gap", 0.0), ("mip_abs_gap", 1.0 - 1e-6)):
        h.setOptionValue(name, value)
    t0 = time.monotonic()
    n_cols, n_rows = len(hm.col_cost), len(hm.row_lower)
    h.passModel(n_cols, n_rows, len(hm.a_value), int(highspy.MatrixFormat.kRowwise),
                int(highspy.ObjSense.kMaximize), hm.offset, hm.col_cost, hm.col_lower,
                hm.col_upper, hm.row_lower, hm.row_upper, hm.a_start, hm.a_index, hm.a_value,
                hm.integrality)
    h.run()
    solve_s = time.monotonic() - t0
    status = h.getModelStatus()
    info = h.getInfo()
    name = h.modelStatusToString(status)
    empty = status == highspy.HighsModelStatus.kModelEmpty  # nobody can go anywhere
    has_solution = empty or info.primal_solution_status == highspy.kSolutionStatusFeasible
    if status in (highspy.HighsModelStatus.kInfeasible,
                  highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return HighsResult("infeasible", None, None, None, hm.build_seconds, solve_s,
                           checked=None, check_objective=None, violations=0, model_status=name,
                           stats=hm.stats)
    if not has_solution:
        return HighsResult("unknown", None, None, None, hm.build_seconds, solve_s,
                           checked=None, check_objective=None, violations=0, model_status=name,
                           stats=hm.stats)
    values = (np.zeros(hm.n_x) if empty
              else np.asarray(h.getSolution().col_value[: hm.n_x]))
    chosen = np.flatnonzero(values > 0.5)
    cand = hm.cand
    allocation = tuple(
        Assignment(rnd.pharmacists[pi].id, rnd.period_ids[ti], rnd.placements[li].id)
        for pi, li, ti in zip(cand.pharmacist[chosen].tolist(), cand.placement[chosen].tolist(),
                              cand.period[chosen].tolist(), strict=True)
    )
    own = hm.offset if empty else float(info.objective_function_value)
    optimal = empty or status == highspy.HighsModelStatus.kOptimal
    found = checker.violations(rnd, allocation)
    recomputed = checker.objective(rnd, allocation).total
    bound: int | None
    if optimal:  # proven: the dual bound is less than one above the integer objective
        bound = recomputed
        agrees = recomputed == round(own)
    else:  # a heuristic incumbent may hold a helper column below its best value
        dual = float(info.mip_dual_bound)
        bound = math.floor(dual + 1e-6) if math.isfinite(dual) else None
        agrees = round(own) <= recomputed and (bound is None or recomputed <= bound)
    return HighsResult(
        status="optimal" if optimal else "feasible",
        objective=recomputed,
        bound=bound,
        gap=None if bound is None else max(0.0, (bound - recomputed) / max(1.0, abs(bound))),
        build_seconds=hm.build_seconds,
        solve_seconds=solve_s,
        checked=not found and agrees,
        check_objective=recomputed,
        violations=len(found),
        highs_objective=own,
        model_status=name,
        assignments=allocation,
        stats=hm.stats,
    )


def solve_highs(rnd: Round, *, time_limit_s: float, workers: int = 2,
                seed: int = 0) -> HighsResult:
    """Build the MIP of ``rnd`` and solve it with HiGHS (the time limit starts after the
    build; building is timed separately)."""
    return solve_highs_built(build_highs(rnd), time_limit_s=time_limit_s, workers=workers,
                             seed=seed)
