"""The rules of a round as rows of the integer program, and :func:`build_model`.

Every hard rule of spec §3 is one small function named after it that appends a block of
rows (``add_capacity``...); every soft term of §4 one that sets objective coefficients
(``add_unassigned``...). :func:`build_model` applies them all to a set of candidates; the
containers they fill are in :mod:`matcher.solving.model`. Nothing here solves.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from matcher.domain import SECTORS, Round
from matcher.eligibility import Candidates, availability
from matcher.scoring import Scores, scores
from matcher.solving.model import (
    EMPTY,
    Model,
    RowBlock,
    Variables,
    groups,
    make_block,
    pairs_two,
    rows_from_pairs,
    with_rule,
)

__all__ = ["HARD_RULE_FUNCTIONS", "SOFT_TERM_FUNCTIONS", "build_model"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


# ---- round-level arrays ------------------------------------------------------------------


def _placement_array(rnd: Round, attr: str) -> IntArray:
    values = [getattr(pl, attr) for pl in rnd.placements]
    return np.array(values, dtype=np.int64) if values else EMPTY


def _sector_of(rnd: Round) -> IntArray:
    index = {s: i for i, s in enumerate(SECTORS)}
    return np.array([index[pl.sector] for pl in rnd.placements], dtype=np.int64)


def _history_sectors(rnd: Round) -> BoolArray:
    out = np.zeros((len(rnd.pharmacists), len(SECTORS)), dtype=bool)
    sector = _sector_of(rnd)
    for i, ph in enumerate(rnd.pharmacists):
        for h in ph.history:
            out[i, sector[rnd.placement_index[h]]] = True
    return out


# ---- hard rules (§3) -------------------------------------------------------------------


def add_one_per_stream(m: Model) -> None:
    """§3.1: at most one placement per pharmacist, period and stream (exactly one in every
    stream of every available period when ``rules.allow_unassigned`` is false)."""
    rnd, c = m.round, m.candidates
    n_t, n_s = len(rnd.periods), len(rnd.effective_streams)
    slot = (c.pharmacist * n_t + c.period) * n_s + c.stream
    order, keys, indptr = groups(slot)
    if rnd.rules.allow_unassigned:
        multi = np.diff(indptr) >= 2  # a single candidate is already <= 1
        keep = np.flatnonzero(multi)
        if not len(keep):
            return
        lens = np.diff(indptr)[keep]
        idx = np.concatenate([order[indptr[k]:indptr[k + 1]] for k in keep])
        ptr = np.concatenate([[0], np.cumsum(lens)])
        m.add_rows(make_block("one_per_stream", ptr, idx, np.ones(len(idx), np.int64), 0, 1,
                          at_most_one=True))
        return
    # Exactly one in every (pharmacist, available period, stream) slot: slots with no
    # candidate give an empty row 1 <= 0, which makes the round infeasible, as it is.
    avail = availability(rnd)
    if m.scope is not None:
        avail = avail & m.scope[:, None]
    p_idx, t_idx = np.nonzero(avail)
    all_slots = ((p_idx * n_t + t_idx)[:, None] * n_s + np.arange(n_s)[None, :]).ravel()
    row_of_key = np.searchsorted(all_slots, keys)
    row_of_var = np.repeat(row_of_key, np.diff(indptr))
    block = rows_from_pairs("allow_unassigned", row_of_var, order,
                             np.ones(len(order), np.int64), len(all_slots),
                             np.ones(len(all_slots), np.int64), np.ones(len(all_slots), np.int64))
    m.add_rows(RowBlock(block.rule, block.indptr, block.indices, block.coefs, block.lower,
                        block.upper, at_most_one=True))


def add_capacity(m: Model) -> None:
    """§3.2: at most capacity(l, t) pharmacists hold l in t (rows only where it can bind)."""
    rnd, c = m.round, m.candidates
    n_t = len(rnd.periods)
    cap = np.array([[pl.capacity_in(t) for t in rnd.period_ids] for pl in rnd.placements],
                   dtype=np.int64).reshape(len(rnd.placements), n_t)
    order, keys, indptr = groups(c.placement * n_t + c.period)
    limit = cap[keys // n_t, keys % n_t] if len(keys) else EMPTY
    binding = np.flatnonzero(np.diff(indptr) > limit)
    if not len(binding):
        return
    lens = np.diff(indptr)[binding]
    idx = np.concatenate([order[indptr[k]:indptr[k + 1]] for k in binding])
    ptr = np.concatenate([[0], np.cumsum(lens)])
    m.add_rows(make_block("capacity", ptr, idx, np.ones(len(idx), np.int64), 0, limit[binding],
                      at_most_one=bool(np.all(limit[binding] == 1))))


def _distinct_pharmacist_caps(
    m: Model, rule: str, var: IntArray, group: IntArray, cap_of_group: IntArray,
) -> None:
    """Rows ``(distinct pharmacists among the vars of a group) <= cap`` per group.

    ``var``/``group`` are parallel (a variable may be in several groups). A pharmacist with
    candidates of the group in one stream only counts as the sum of those (at most one by
    §3.1); one with candidates in several streams gets a ``distinct`` indicator ``d`` with
    ``d >= sum(x of each stream)``.
    """
    if not len(var):
        return
    c = m.candidates
    n_s = len(m.round.effective_streams)
    ph = c.pharmacist[var]
    # One entry per (group, pharmacist): is it single-stream?
    gp = group * (int(c.pharmacist.max(initial=0)) + 1) + ph
    order, gp_keys, gp_ptr = groups(gp)
    stream_sorted = c.stream[var][order]
    entry_gp = np.repeat(np.arange(len(gp_keys)), np.diff(gp_ptr))
    if n_s > 1:
        distinct = np.unique(entry_gp * n_s + stream_sorted)
        n_streams = np.bincount(distinct // n_s, minlength=len(gp_keys)).astype(np.int64)
    else:
        n_streams = np.ones(len(gp_keys), dtype=np.int64)
    group_of_gp = group[order][gp_ptr[:-1]]
    # Distinct pharmacists per group: skip groups that can never exceed their cap.
    per_group = np.bincount(group_of_gp, minlength=len(cap_of_group))
    binding_group = per_group > cap_of_group
    keep_entry = binding_group[group_of_gp[entry_gp]]
    single = (n_streams == 1)[entry_gp] & keep_entry
    rows_var = [var[order][single]]
    rows_grp = [group[order][single]]
    multi_gp = np.flatnonzero((n_streams > 1) & binding_group[group_of_gp])
    link_blocks: list[RowBlock] = []
    if len(multi_gp):
        d = m.variables.new("distinct", np.zeros(len(multi_gp), np.int64),
                             np.ones(len(multi_gp), np.int64))
        rows_var.append(d)
        rows_grp.append(group_of_gp[multi_gp])
        # d - sum(x in stream s) >= 0 for each stream of the entry.
        d_of_gp = np.full(len(gp_keys), -1, dtype=np.int64)
        d_of_gp[multi_gp] = d
        e = np.flatnonzero(d_of_gp[entry_gp] >= 0)
        xs = var[order][e]
        link_key = d_of_gp[entry_gp[e]] * n_s + c.stream[xs]
        lorder, lkeys, lptr = groups(link_key)
        row = np.repeat(np.arange(len(lkeys)), np.diff(lptr))
        r_var = np.concatenate([xs[lorder], lkeys // n_s])
        r_row = np.concatenate([row, np.arange(len(lkeys))])
        r_coef = np.concatenate([-np.ones(len(xs), np.int64), np.ones(len(lkeys), np.int64)])
        m.define("any", d, d_of_gp[entry_gp[e]] - d[0], xs, np.ones(len(xs), np.int64))
        link_blocks.append(rows_from_pairs(
            rule, r_row, r_var, r_coef, len(lkeys), np.zeros(len(lkeys), np.int64),
            np.ones(len(lkeys), np.int64)))
    all_var = np.concatenate(rows_var)
    all_grp = np.concatenate(rows_grp)
    binding = np.flatnonzero(binding_group)
    row_of_group = np.full(len(cap_of_group), -1, dtype=np.int64)
    row_of_group[binding] = np.arange(len(binding))
    m.add_rows(rows_from_pairs(rule, row_of_group[all_grp], all_var,
                                np.ones(len(all_var), np.int64), len(binding),
                                np.zeros(len(binding), np.int64), cap_of_group[binding]))
    for b in link_blocks:
        m.add_rows(b)


def add_organisation_caps(m: Model) -> None:
    """§3.3: at most ``max_pharmacists`` distinct pharmacists across an organisation's
    placements in each period."""
    rnd, c = m.round, m.candidates
    n_t = len(rnd.periods)
    capped = [o for o in rnd.organisations if o.max_pharmacists is not None]
    if not capped or not len(c):
        return
    org_row = {o.id: k for k, o in enumerate(capped)}
    org_of = np.array([org_row.get(pl.organisation or "", -1) for pl in rnd.placements],
                      dtype=np.int64)
    o = org_of[c.placement]
    var = np.flatnonzero(o >= 0).astype(np.int64)
    group = o[var] * n_t + c.period[var]
    caps = np.repeat(np.array([org.max_pharmacists or 0 for org in capped], np.int64), n_t)
    _distinct_pharmacist_caps(m, "organisation_cap", var, group, caps)


def add_supervision(m: Model) -> None:
    """§3.4: per supervisor and period, the distinct pharmacists it counts holding one of
    its placements number at most its capacity."""
    rnd, c = m.round, m.candidates
    if not rnd.supervisors or not len(c):
        return
    n_t = len(rnd.periods)
    # Whom each kind of supervisor counts, one pass over the pharmacists per kind (a pass
    # per supervisor was a fifth of a search step's time on 5,000 x 2,500 x 4).
    counted: dict[str, BoolArray] = {}
    vars_: list[IntArray] = []
    groups: list[IntArray] = []
    for k, sup in enumerate(rnd.supervisors):
        if sup.supervises not in counted:
            counted[sup.supervises] = np.array([sup.counts(ph) for ph in rnd.pharmacists],
                                               dtype=bool)
        covered = np.zeros(len(rnd.placements), dtype=bool)
        covered[[rnd.placement_index[pid] for pid in sup.placements]] = True
        v = np.flatnonzero(covered[c.placement]
                           & counted[sup.supervises][c.pharmacist]).astype(np.int64)
        vars_.append(v)
        groups.append(k * n_t + c.period[v])
    caps = np.repeat(np.array([s.capacity for s in rnd.supervisors], np.int64), n_t)
    _distinct_pharmacist_caps(m, "supervision", np.concatenate(vars_),
                              np.concatenate(groups), caps)


def add_rotation(m: Model) -> None:
    """§3.5: in a rotating stream nobody holds the same placement twice (history is
    already excluded by eligibility)."""
    rnd, c = m.round, m.candidates
    rotating = np.array([s.rotate for s in rnd.effective_streams], dtype=bool)
    var = np.flatnonzero(rotating[c.stream]).astype(np.int64)
    if not len(var):
        return
    order, _, indptr = groups(c.pharmacist[var] * len(rnd.placements) + c.placement[var])
    keep = np.flatnonzero(np.diff(indptr) >= 2)
    if not len(keep):
        return
    lens = np.diff(indptr)[keep]
    idx = np.concatenate([var[order[indptr[k]:indptr[k + 1]]] for k in keep])
    ptr = np.concatenate([[0], np.cumsum(lens)])
    m.add_rows(make_block("rotation", ptr, idx, np.ones(len(idx), np.int64), 0, 1,
                      at_most_one=True))


def add_continuity(m: Model) -> None:
    """§3.5: in a non-rotating stream a pharmacist holds the same placement in every period
    they hold one: ``x[p,l,t] <= z[p,l]`` and at most one ``z`` per pharmacist and stream."""
    rnd, c = m.round, m.candidates
    fixed = np.array([not s.rotate for s in rnd.effective_streams], dtype=bool)
    var = np.flatnonzero(fixed[c.stream]).astype(np.int64)
    if not len(var):
        return
    n_l, n_s = len(rnd.placements), len(rnd.effective_streams)
    pair = c.pharmacist[var] * n_l + c.placement[var]
    p_order, pair_keys, pair_ptr = groups(pair)
    pair_p = pair_keys // n_l
    pair_s = c.stream[var[p_order[pair_ptr[:-1]]]]
    # Only (pharmacist, stream) with two or more placements need the rule.
    ps = pair_p * n_s + pair_s
    ps_order, _, ps_ptr = groups(ps)
    n_pairs_of_ps = np.diff(ps_ptr)
    needs = np.repeat(n_pairs_of_ps >= 2, n_pairs_of_ps)[np.argsort(ps_order, kind="stable")]
    chosen_pairs = np.flatnonzero(needs)
    if not len(chosen_pairs):
        return
    z = m.variables.new("continuity", np.zeros(len(chosen_pairs), np.int64),
                         np.ones(len(chosen_pairs), np.int64))
    z_of_pair = np.full(len(pair_keys), -1, dtype=np.int64)
    z_of_pair[chosen_pairs] = z
    entry_pair = np.repeat(np.arange(len(pair_keys)), np.diff(pair_ptr))
    x_sorted = var[p_order]
    zz = z_of_pair[entry_pair]
    has = zz >= 0
    m.define("any", z, zz[has] - z[0], x_sorted[has], np.ones(int(has.sum()), np.int64))
    link = pairs_two(x_sorted[has], zz[has])
    if link is not None:
        m.add_rows(with_rule(link, "continuity"))
    # At most one chosen placement per (pharmacist, stream).
    z_order, _, z_ptr = groups(ps[chosen_pairs])
    m.add_rows(make_block("continuity", z_ptr, z[z_order], np.ones(len(z), np.int64), 0, 1,
                      at_most_one=True))


def add_sector_mix(m: Model) -> None:
    """§3.6: at least min(min_distinct_sectors, A(p)) distinct sectors over history and the
    round; every required sector covered when A(p) >= 1."""
    rnd, c = m.round, m.candidates
    wanted = rnd.rules.min_distinct_sectors
    required = [SECTORS.index(s) for s in dict.fromkeys(rnd.rules.required_sectors)]
    if wanted == 0 and not required:
        return
    n_sec = len(SECTORS)
    avail_count = availability(rnd).sum(axis=1)
    history = _history_sectors(rnd)
    need = np.maximum(0, np.minimum(wanted, avail_count) - history.sum(axis=1))
    sector = _sector_of(rnd)[c.placement] if len(c) else EMPTY
    key = c.pharmacist * n_sec + sector
    order, keys, indptr = groups(key)
    key_p, key_sec = keys // n_sec, keys % n_sec
    # Distinct-sector count: cover[p,sec] <= sum(x of p in sec) for sectors new to p.
    use = (need[key_p] > 0) & ~history[key_p, key_sec]
    sel = np.flatnonzero(use)
    if m.scope is not None:
        need = np.where(m.scope, need, 0)
    needy = np.flatnonzero(need > 0)
    if len(needy):
        cover = m.variables.new("cover", np.zeros(len(sel), np.int64),
                                 np.ones(len(sel), np.int64))
        lens = np.diff(indptr)[sel]
        xs = (np.concatenate([order[indptr[k]:indptr[k + 1]] for k in sel])
              if len(sel) else EMPTY)
        row = np.repeat(np.arange(len(sel)), lens)
        m.define("any", cover, row, xs, np.ones(len(xs), np.int64))
        blk = rows_from_pairs(
            "sector_mix",
            np.concatenate([row, np.arange(len(sel))]),
            np.concatenate([xs, cover]),
            np.concatenate([-np.ones(len(xs), np.int64), np.ones(len(sel), np.int64)]),
            len(sel), np.full(len(sel), -(10**9), np.int64), np.zeros(len(sel), np.int64))
        m.add_rows(blk)
        # sum(cover of p) >= need[p]; a pharmacist with too few sectors gets an empty or
        # short row, infeasible as the round is.
        row_of_p = np.full(len(rnd.pharmacists), -1, dtype=np.int64)
        row_of_p[needy] = np.arange(len(needy))
        m.add_rows(rows_from_pairs(
            "sector_mix", row_of_p[key_p[sel]], cover, np.ones(len(sel), np.int64),
            len(needy), need[needy], np.full(len(needy), n_sec, np.int64)))
    if required:
        rows_p, rows_sec = [], []
        in_scope = (avail_count >= 1) if m.scope is None else (avail_count >= 1) & m.scope
        for i in np.flatnonzero(in_scope):
            for s in required:
                if not history[i, s]:
                    rows_p.append(int(i))
                    rows_sec.append(s)
        if rows_p:
            rp = np.array(rows_p, np.int64)
            rs = np.array(rows_sec, np.int64)
            row_key = rp * n_sec + rs
            pos = np.searchsorted(keys, row_key)
            posc = np.minimum(pos, max(len(keys) - 1, 0))
            found = (keys[posc] == row_key) if len(keys) else np.zeros(len(rp), bool)
            r_rows, r_vars = [], []
            for r in np.flatnonzero(found):
                k = posc[r]
                seg = order[indptr[k]:indptr[k + 1]]
                r_rows.append(np.full(len(seg), r, np.int64))
                r_vars.append(seg)
            rr = np.concatenate(r_rows) if r_rows else EMPTY
            rv = np.concatenate(r_vars) if r_vars else EMPTY
            m.add_rows(rows_from_pairs(
                "required_sectors", rr, rv, np.ones(len(rv), np.int64), len(rp),
                np.ones(len(rp), np.int64), np.full(len(rp), 10**9, np.int64)))


def add_pins(m: Model) -> None:
    """§3.7: every pin holds (``x = 1``; a pin with no candidate makes an empty row 1 <= 0)."""
    rnd = m.round
    pins = [p for p in rnd.pins
            if m.scope is None or m.scope[rnd.pharmacist_index[p.pharmacist]]]
    if not pins:
        return
    pos = m.candidates.positions(m.round, pins)
    rows = np.arange(len(pos), dtype=np.int64)
    ok = pos >= 0
    m.add_rows(rows_from_pairs("pin", rows[ok], pos[ok], np.ones(int(ok.sum()), np.int64),
                                len(pos), np.ones(len(pos), np.int64),
                                np.ones(len(pos), np.int64)))


# ---- soft terms (§4) -------------------------------------------------------------------


def add_scores(m: Model) -> None:
    """§4: score(p, l) for every assignment."""
    m.add_objective(m.variables.of_candidates(), m.scores.total)


def add_unassigned(m: Model) -> None:
    """§4 U: ``-w.unassigned`` per empty (pharmacist, available period, stream) slot, written
    as a constant for every slot plus ``+w.unassigned`` per assignment (one per slot)."""
    w = m.round.weights.unassigned
    if w == 0:
        return
    slots = int(availability(m.round).sum()) * len(m.round.effective_streams)
    m.offset -= w * slots
    m.add_objective(m.variables.of_candidates(), np.full(len(m.candidates), w, np.int64))


def add_shortfall(m: Model) -> None:
    """§4 S: ``-w.shortfall * max(0, min_fill(l, t) - holders(l, t))`` per placement and
    period, with an integer ``shortfall`` variable ``s >= min_fill - holders``."""
    rnd, c = m.round, m.candidates
    w = rnd.weights.shortfall
    if w == 0:
        return
    n_t = len(rnd.periods)
    mf = np.array([[pl.min_fill_in(t) for t in rnd.period_ids] for pl in rnd.placements],
                  dtype=np.int64).reshape(len(rnd.placements), n_t)
    lt = np.flatnonzero(mf.ravel() > 0)
    if not len(lt):
        return
    order, keys, indptr = groups(c.placement * n_t + c.period)
    pos = np.minimum(np.searchsorted(keys, lt), max(len(keys) - 1, 0))
    has = (keys[pos] == lt) if len(keys) else np.zeros(len(lt), bool)
    # Placement-periods nobody can hold are a constant shortfall.
    m.offset -= w * int(mf.ravel()[lt[~has]].sum())
    lt_h = lt[has]
    if not len(lt_h):
        return
    need = mf.ravel()[lt_h]
    s = m.variables.new("shortfall", np.zeros(len(lt_h), np.int64), need)
    segs = [order[indptr[k]:indptr[k + 1]] for k in pos[has]]
    xs = np.concatenate(segs)
    row = np.repeat(np.arange(len(lt_h)), [len(g) for g in segs])
    m.add_rows(rows_from_pairs(
        "shortfall", np.concatenate([row, np.arange(len(lt_h))]), np.concatenate([xs, s]),
        np.ones(len(xs) + len(s), np.int64), len(lt_h), need,
        np.full(len(lt_h), 10**9, np.int64)))
    m.define("shortfall", s, row, xs, np.ones(len(xs), np.int64), need)
    m.add_objective(s, np.full(len(s), -w, np.int64))


def add_fairness(m: Model) -> None:
    """§4 M: ``+w.fairness * M`` with ``M <= sum(pref points)`` of every pharmacist
    available in at least one period (only when ``w.fairness > 0``)."""
    rnd, c = m.round, m.candidates
    w = rnd.weights.fairness
    if w == 0:
        return
    avail = np.flatnonzero(availability(rnd).sum(axis=1) >= 1)
    if not len(avail):
        return
    points = m.scores.points
    best = np.bincount(c.pharmacist, weights=points, minlength=len(rnd.pharmacists))
    ub = int(best[avail].min())
    mvar = m.variables.new("fairness", np.zeros(1, np.int64), np.array([ub], np.int64))
    row_of_p = np.full(len(rnd.pharmacists), -1, dtype=np.int64)
    row_of_p[avail] = np.arange(len(avail))
    xs = np.flatnonzero((points > 0) & (row_of_p[c.pharmacist] >= 0)).astype(np.int64)
    m.add_rows(rows_from_pairs(
        "fairness",
        np.concatenate([row_of_p[c.pharmacist[xs]], np.arange(len(avail))]),
        np.concatenate([xs, np.full(len(avail), mvar[0])]),
        np.concatenate([-points[xs], np.ones(len(avail), np.int64)]),
        len(avail), np.full(len(avail), -(10**12), np.int64), np.zeros(len(avail), np.int64)))
    m.define("min", mvar, row_of_p[c.pharmacist[xs]], xs, points[xs],
             np.array([len(avail)], np.int64))
    m.add_objective(mvar, np.array([w], np.int64))


def add_change(m: Model) -> None:
    """§4 C: ``-w.change`` per reference (pharmacist, period, stream) whose placement
    differs: a constant per reference slot plus ``+w.change`` on the matching assignment."""
    rnd = m.round
    w = rnd.weights.change
    if w == 0 or not rnd.reference:
        return
    seen: dict[tuple[str, str, str], str] = {}
    for r in rnd.reference:
        stream = rnd.stream_of(rnd.placement(r.placement)).id
        seen.setdefault((r.pharmacist, r.period, stream), r.placement)
    m.offset -= w * len(seen)
    pos = m.candidates.positions(m.round, [(p, t, pl) for (p, t, _), pl in seen.items()])
    pos = pos[pos >= 0]
    m.add_objective(pos, np.full(len(pos), w, np.int64))


HARD_RULE_FUNCTIONS = (
    add_one_per_stream,
    add_capacity,
    add_organisation_caps,
    add_supervision,
    add_rotation,
    add_continuity,
    add_sector_mix,
    add_pins,
)
SOFT_TERM_FUNCTIONS = (add_scores, add_unassigned, add_shortfall, add_fairness, add_change)


def build_model(rnd: Round, cand: Candidates, sc: Scores | None = None, *,
                scope: BoolArray | None = None) -> Model:
    """The integer program of the round over the given candidates (all eligible ones, or
    a subset: a subset gives a restriction whose solutions are still feasible).

    ``scope`` (pharmacist mask) limits the personal rules to those pharmacists: use it when
    ``cand`` holds some pharmacists' candidates only (see :attr:`Model.scope`)."""
    m = Model(round=rnd, candidates=cand, scores=sc if sc is not None else scores(rnd, cand),
              scope=scope,
              variables=Variables(rnd, cand))
    for rule in HARD_RULE_FUNCTIONS:
        rule(m)
    for term in SOFT_TERM_FUNCTIONS:
        term(m)
    log.debug("model built: %s", m.stats())
    return m
