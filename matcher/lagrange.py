"""Lagrangian decomposition of a round: a valid upper bound at any size and the plans that
drive the primal heuristic (:mod:`matcher.heuristic`).

The shared rows of the model (spec §3.2 capacity, §3.3 organisation caps, §3.4 supervision
and the §4 shortfall rows ``holders + s >= min_fill``) are moved into the objective with
multipliers ``y >= 0`` (shortfall multipliers ``0 <= pi <= w.shortfall``). What is left
splits into one independent *personal* problem per pharmacist, solved exactly here:

- one placement per stream and period, only eligible ones (§3.1, §2);
- rotating streams: distinct placements; non-rotating streams: one placement, held in any
  subset of the periods (§3.5);
- sector mix and required sectors over history and the plan (§3.6); pins (§3.7).

**Why the bound is valid for the full model.** For any feasible allocation ``x`` and any
multipliers, every relaxed term ``y * (capacity - holders)`` (and alike) is >= 0, so
``objective(x) <= L(y) = sum_p V_p(y) + sum_rows y * rhs + offset`` where ``V_p`` is the
best personal value under reduced scores ``r = c - y.A``. Three details keep it valid:

1. Organisation caps and supervision count *distinct* pharmacists; a pharmacist holding
   placements of one group in ``k`` streams in a period is charged ``1/k`` of the price per
   stream, so a pharmacist is never charged more than the row counts them (``V_p`` is
   over-estimated when they hold fewer streams, never under-estimated).
2. Fairness (``+w.fairness * M``) is relaxed with uniform multipliers
   ``theta_p = w.fairness / n`` over the ``n`` pharmacists available at least once:
   ``w M = sum_p theta_p M <= sum_p theta_p points_p``, so each assignment gains
   ``theta_p * pref``.
3. ``V_p`` is exact: a rotating stream's best plan only ever uses, in period ``t`` and
   sector ``s``, one of the ``T`` best candidates of ``(p, s, t)`` (at most ``T - 1`` other
   periods can take one of them; swapping never loses), and every combination of those
   with distinct placements is enumerated, per sector and per subset of periods; sector
   masks (64 of them) combine the streams exactly. Pins get a bonus ``B`` larger than
   any other difference that is taken off again, which forces them into the plan.

``allow_unassigned: false`` is relaxed (an empty slot is allowed in ``V_p``): that only
raises ``V_p``. Rounds with more than :data:`MAX_PERIODS` periods are not handled here.

The multipliers are found by a subgradient method with Polyak steps towards the best
known objective. The bound returned is floored after a floating-point safety margin.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matcher.build import Model, Variables, add_change, add_scores, add_unassigned
from matcher.domain import EARLY_YEARS, SECTORS, Round
from matcher.eligibility import Candidates, availability
from matcher.scoring import Scores

__all__ = ["MAX_PERIODS", "Dual", "Instance", "PersonalSolver", "subgradient"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MAX_PERIODS = 4
N_SEC = len(SECTORS)
N_MASK = 1 << N_SEC
PIN_BONUS = 1.0e7
NEG = -np.inf


def _popcount(m: int) -> int:
    return bin(m).count("1")


class Instance:
    """The period-indexed data of a round that the decomposition needs, as arrays."""

    def __init__(self, rnd: Round, cand: Candidates, sc: Scores) -> None:
        self.round, self.cand, self.scores = rnd, cand, sc
        n_p, n_l, n_t = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)
        self.n_p, self.n_l, self.n_t = n_p, n_l, n_t
        self.n_s = len(rnd.effective_streams)
        self.rotating = np.array([s.rotate for s in rnd.effective_streams], dtype=bool)
        # Objective of each assignment variable and the constant, exactly as build.py
        # writes them (scores, unassigned, change); shortfall and fairness are relaxed.
        bare = Model(round=rnd, candidates=cand, scores=sc, variables=Variables(rnd, cand))
        add_scores(bare)
        add_unassigned(bare)
        add_change(bare)
        self.c = bare.objective_vector()[: len(cand)].astype(np.float64)
        self.offset = float(bare.offset)
        self.avail = availability(rnd)
        n_avail = int((self.avail.sum(axis=1) >= 1).sum())
        if rnd.weights.fairness > 0 and n_avail:
            self.c += (rnd.weights.fairness / n_avail) * sc.points.astype(np.float64)
        self.cap = np.array([[pl.capacity_in(t) for t in rnd.period_ids]
                             for pl in rnd.placements], dtype=np.int64).reshape(n_l, n_t)
        self.mf = np.array([[pl.min_fill_in(t) for t in rnd.period_ids]
                            for pl in rnd.placements], dtype=np.int64).reshape(n_l, n_t)
        if rnd.weights.shortfall == 0:
            self.mf[:] = 0
        sec_index = {s: i for i, s in enumerate(SECTORS)}
        self.sector = np.array([sec_index[pl.sector] for pl in rnd.placements], np.int64)
        self.stream_of_l = np.array([rnd.stream_index[rnd.stream_of(pl).id]
                                     for pl in rnd.placements], np.int64)
        # Pharmacist classes for supervision: 2 * prescriber + early years.
        self.pclass = np.array([2 * int(ph.independent_prescriber)
                                + int(ph.experience_years < EARLY_YEARS)
                                for ph in rnd.pharmacists], dtype=np.int64)
        # Organisation caps.
        capped = [o for o in rnd.organisations if o.max_pharmacists is not None]
        org_row = {o.id: k for k, o in enumerate(capped)}
        self.org_of_l = np.array([org_row.get(pl.organisation or "", -1)
                                  for pl in rnd.placements], dtype=np.int64)
        self.org_cap = np.array([o.max_pharmacists or 0 for o in capped], dtype=np.int64)
        self.org_alpha = np.ones(len(capped))
        for k in range(len(capped)):
            spans = len(set(self.stream_of_l[self.org_of_l == k].tolist()))
            self.org_alpha[k] = 1.0 / max(1, spans)
        # Supervisors.
        n_sup = len(rnd.supervisors)
        self.sup_cover = np.zeros((n_sup, n_l), dtype=bool)
        self.sup_counted = np.zeros((n_sup, 4), dtype=bool)
        self.sup_cap = np.array([s.capacity for s in rnd.supervisors], dtype=np.int64)
        self.sup_alpha = np.ones(n_sup)
        for k, sup in enumerate(rnd.supervisors):
            self.sup_cover[k, [rnd.placement_index[x] for x in sup.placements]] = True
            for cls in range(4):
                ip, early = bool(cls // 2), bool(cls % 2)
                self.sup_counted[k, cls] = (
                    sup.supervises == "all"
                    or (sup.supervises == "non_prescribers" and not ip)
                    or (sup.supervises == "early_years" and early))
            spans = len(set(self.stream_of_l[self.sup_cover[k]].tolist()))
            self.sup_alpha[k] = 1.0 / max(1, spans)
        # Candidate keys into the (class, placement, period) price table.
        self.key = (self.pclass[cand.pharmacist] * n_l + cand.placement) * n_t + cand.period
        # Sector rules as a table of acceptable sector masks per pharmacist.
        hist = np.zeros(n_p, dtype=np.int64)
        for i, ph in enumerate(rnd.pharmacists):
            for h in ph.history:
                hist[i] |= 1 << int(self.sector[rnd.placement_index[h]])
        self.history_mask = hist
        a = self.avail.sum(axis=1)
        wanted = np.minimum(rnd.rules.min_distinct_sectors, a)
        req = 0
        for s in rnd.rules.required_sectors:
            req |= 1 << sec_index[s]
        masks = np.arange(N_MASK, dtype=np.int64)
        union = masks[None, :] | hist[:, None]
        pop = np.array([_popcount(m) for m in range(N_MASK)], dtype=np.int64)
        ok = pop[union] >= wanted[:, None]
        ok &= ((union & req) == req) | (a[:, None] == 0)
        self.feasible_mask = ok
        # Pins: a bonus that forces them into every personal plan.
        self.pin_bonus = np.zeros(len(cand))
        self.pins_of = np.zeros(n_p, dtype=np.int64)
        if rnd.pins:
            key = (cand.pharmacist * n_l + cand.placement) * n_t + cand.period
            for pin in rnd.pins:
                i = rnd.pharmacist_index[pin.pharmacist]
                q = (i * n_l + rnd.placement_index[pin.placement]) * n_t \
                    + rnd.period_index[pin.period]
                pos = int(np.searchsorted(key, q))
                self.pins_of[i] += 1
                if pos < len(key) and key[pos] == q and self.pin_bonus[pos] == 0:
                    self.pin_bonus[pos] = PIN_BONUS
                elif pos < len(key) and key[pos] == q:
                    self.pins_of[i] -= 1  # the same pin twice
        self.scale = float(np.abs(self.c).sum() + abs(self.offset) + 1.0)

    @staticmethod
    def applicable(rnd: Round) -> bool:
        """Whether the exact personal problems apply (at most :data:`MAX_PERIODS`)."""
        return 1 <= len(rnd.periods) <= MAX_PERIODS


@dataclass
class Dual:
    """Multipliers: capacity ``lam`` and shortfall ``pi`` (placement x period),
    organisation ``mu`` (capped organisation x period), supervision ``nu``."""

    lam: FloatArray
    pi: FloatArray
    mu: FloatArray
    nu: FloatArray

    @classmethod
    def zeros(cls, inst: Instance) -> Dual:
        t = inst.n_t
        return cls(np.zeros((inst.n_l, t)), np.zeros((inst.n_l, t)),
                   np.zeros((len(inst.org_cap), t)), np.zeros((len(inst.sup_cap), t)))

    def copy(self) -> Dual:
        return Dual(self.lam.copy(), self.pi.copy(), self.mu.copy(), self.nu.copy())

    def prices(self, inst: Instance) -> FloatArray:
        """Price of every (class, placement, period), flattened like ``inst.key``."""
        base = self.lam - self.pi
        has_org = inst.org_of_l >= 0
        if has_org.any():
            base = base.copy()
            base[has_org] += (self.mu * inst.org_alpha[:, None])[inst.org_of_l[has_org]]
        out = np.repeat(base[None, :, :], 4, axis=0)
        if len(inst.sup_cap):
            weighted = self.nu * inst.sup_alpha[:, None]
            cover = inst.sup_cover.astype(np.float64)
            for cls in range(4):
                w = weighted * inst.sup_counted[:, cls, None]
                out[cls] += cover.T @ w
        return out.ravel()

    def constant(self, inst: Instance) -> float:
        return float((self.lam * inst.cap).sum() - (self.pi * inst.mf).sum()
                     + (self.mu * inst.org_cap[:, None]).sum()
                     + (self.nu * inst.sup_cap[:, None]).sum())


def reduced(inst: Instance, dual: Dual) -> FloatArray:
    """Reduced score of every candidate under the multipliers (pins not included)."""
    out: FloatArray = inst.c - dual.prices(inst)[inst.key]
    return out


# ---- the exact personal problems -----------------------------------------------------------


def _tuples(n_t: int) -> list[tuple[int, IntArray, IntArray]]:
    """For every non-empty subset of periods: (mask, periods, rank tuples with ranks < size)."""
    out = []
    for sub in range(1, 1 << n_t):
        ts = np.array([t for t in range(n_t) if sub >> t & 1], dtype=np.int64)
        m = len(ts)
        tup = np.array(list(itertools.product(range(m), repeat=m)), dtype=np.int64)
        out.append((sub, ts, tup.reshape(-1, m)))
    return out


class PersonalSolver:
    """Exact personal problems of a set of pharmacists, over a subset of candidates.

    ``solve(r)`` takes reduced scores of *every* candidate of the round (``-inf`` forbids
    one) and returns each pharmacist's best value and the candidates of the best plans.
    """

    def __init__(self, inst: Instance, pharmacists: IntArray | None = None,
                 cand_idx: IntArray | None = None) -> None:
        self.inst = inst
        c = inst.cand
        ph = np.arange(inst.n_p, dtype=np.int64) if pharmacists is None else pharmacists
        self.ph = ph
        n = len(ph)
        local = np.full(inst.n_p, -1, dtype=np.int64)
        local[ph] = np.arange(n)
        if cand_idx is None:
            cand_idx = np.flatnonzero(local[c.pharmacist] >= 0).astype(np.int64)
        self.local = local
        n_t = inst.n_t
        self.tuples = _tuples(n_t)
        self.sub_pos = {sub: k for k, (sub, _, _) in enumerate(self.tuples)}
        self.streams: list[dict[str, object]] = []
        for s in range(inst.n_s):
            sel = cand_idx[c.stream[cand_idx] == s]
            lp = local[c.pharmacist[sel]]
            sec = inst.sector[c.placement[sel]]
            info: dict[str, object] = {"s": s, "sel": sel,
                                       "sectors": sorted(set(sec.tolist()))}
            if inst.rotating[s]:
                key = (lp * N_SEC + sec) * n_t + c.period[sel]
                order = np.argsort(key, kind="stable")
                ks = key[order]
                start = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]]) if len(ks) else \
                    np.zeros(0, np.int64)
                gk = ks[start]
                info.update(order=sel[order], start=start, g_lp=gk // (N_SEC * n_t),
                            g_sec=(gk // n_t) % N_SEC, g_t=gk % n_t,
                            lens=np.diff(np.r_[start, len(ks)]))
                self._patterns(info)
            else:
                # sel is sorted by pharmacist, placement, period: pairs are contiguous.
                pk = lp * inst.n_l + c.placement[sel]
                pstart = np.flatnonzero(np.r_[True, pk[1:] != pk[:-1]]) if len(pk) else \
                    np.zeros(0, np.int64)
                pair_lp = lp[pstart]
                pair_sec = sec[pstart]
                gkey = pair_lp * N_SEC + pair_sec
                gorder = np.argsort(gkey, kind="stable")
                gks = gkey[gorder]
                gstart = np.flatnonzero(np.r_[True, gks[1:] != gks[:-1]]) if len(gks) else \
                    np.zeros(0, np.int64)
                pair_of = np.repeat(np.arange(len(pstart)), np.diff(np.r_[pstart, len(pk)]))
                info.update(pstart=pstart, pair_of=pair_of, gorder=gorder, gstart=gstart,
                            g_lp=gks[gstart] // N_SEC, g_sec=gks[gstart] % N_SEC,
                            glens=np.diff(np.r_[gstart, len(gks)]))
            self.streams.append(info)

    def _patterns(self, info: dict[str, object]) -> None:
        """Period -> sector patterns of a rotating stream, as column indices."""
        n_t = self.inst.n_t
        secs = list(info["sectors"])  # type: ignore[call-overload]
        n_sub = len(self.tuples)
        cols, masks, parts = [], [], []
        for pat in itertools.product([-1, *secs], repeat=n_t):
            by_sec: dict[int, int] = {}
            for t, s in enumerate(pat):
                if s >= 0:
                    by_sec[s] = by_sec.get(s, 0) | (1 << t)
            col = [s * n_sub + self.sub_pos[sub] for s, sub in by_sec.items()]
            col += [N_SEC * n_sub] * (n_t - len(col))  # a zero column
            cols.append(col)
            m = 0
            for s in by_sec:
                m |= 1 << s
            masks.append(m)
            parts.append(pat)
        info["pat_cols"] = np.array(cols, dtype=np.int64).reshape(-1, n_t)
        info["pat_mask"] = np.array(masks, dtype=np.int64)
        info["pat_sec"] = np.array(parts, dtype=np.int64).reshape(-1, n_t)

    # ---- evaluation ------------------------------------------------------------------

    def solve(self, r: FloatArray, want_plans: bool = True
              ) -> tuple[FloatArray, IntArray]:
        """(best value of each pharmacist in ``self.ph`` order, chosen candidates)."""
        inst = self.inst
        n = len(self.ph)
        rr = r + inst.pin_bonus
        tables: list[tuple[FloatArray, object]] = []
        for info in self.streams:
            if inst.rotating[int(info["s"])]:  # type: ignore[call-overload]
                tables.append(self._rotating(info, rr))
            else:
                tables.append(self._fixed(info, rr))
        # Combine streams over sector masks (OR), remembering each stream's mask.
        w = np.full((n, N_MASK), NEG)
        w[:, 0] = 0.0
        picks: list[IntArray] = []
        for tab, _ in tables:
            active = [m for m in range(N_MASK) if np.isfinite(tab[:, m]).any()]
            cur = [m for m in range(N_MASK) if np.isfinite(w[:, m]).any()]
            new = np.full((n, N_MASK), NEG)
            pick = np.zeros((n, N_MASK), dtype=np.int64)
            for m1 in cur:
                for m2 in active:
                    v = w[:, m1] + tab[:, m2]
                    m = m1 | m2
                    better = v > new[:, m]
                    new[:, m] = np.where(better, v, new[:, m])
                    pick[:, m] = np.where(better, m1 * N_MASK + m2, pick[:, m])
            w = new
            picks.append(pick)
        ok = inst.feasible_mask[self.ph]
        w_ok = np.where(ok, w, NEG)
        best_mask = np.argmax(w_ok, axis=1)
        value = w_ok[np.arange(n), best_mask] - PIN_BONUS * inst.pins_of[self.ph]
        value = np.where(np.isfinite(value) & (value > -PIN_BONUS / 2), value, NEG)
        if not want_plans:
            return value, np.zeros(0, np.int64)
        # Backtrack each stream's mask.
        rows = np.arange(n)
        mask = best_mask.copy()
        stream_mask = [np.zeros(n, np.int64) for _ in tables]
        for k in range(len(tables) - 1, -1, -1):
            code = picks[k][rows, mask]
            stream_mask[k] = code % N_MASK
            mask = code // N_MASK
        feasible = np.isfinite(value)
        chosen = []
        for (_, aux), info, sm in zip(tables, self.streams, stream_mask, strict=True):
            chosen.append(self._plan(info, aux, sm, feasible, rr))
        out = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
        return value, np.sort(out)

    def _fixed(self, info: dict[str, object], rr: FloatArray
               ) -> tuple[FloatArray, object]:
        n = len(self.ph)
        sel: IntArray = info["sel"]  # type: ignore[assignment]
        tab = np.full((n, N_MASK), NEG)
        tab[:, 0] = 0.0
        if not len(sel):
            return tab, None
        v = rr[sel]
        pstart: IntArray = info["pstart"]  # type: ignore[assignment]
        pos = np.add.reduceat(np.maximum(v, 0.0), pstart)
        mx = np.maximum.reduceat(v, pstart)
        pv = np.where(mx > 0, pos, mx)
        gorder: IntArray = info["gorder"]  # type: ignore[assignment]
        gstart: IntArray = info["gstart"]  # type: ignore[assignment]
        pvs = pv[gorder]
        gbest = np.maximum.reduceat(pvs, gstart)
        glens: IntArray = info["glens"]  # type: ignore[assignment]
        hit = pvs == np.repeat(gbest, glens)
        arg = np.minimum.reduceat(np.where(hit, np.arange(len(pvs)), len(pvs)), gstart)
        best_pair = gorder[np.minimum(arg, len(pvs) - 1)]
        g_lp: IntArray = info["g_lp"]  # type: ignore[assignment]
        g_sec: IntArray = info["g_sec"]  # type: ignore[assignment]
        tab[g_lp, 1 << g_sec] = gbest
        bp = np.full((n, N_SEC), -1, dtype=np.int64)
        bp[g_lp, g_sec] = best_pair
        return tab, bp

    def _rotating(self, info: dict[str, object], rr: FloatArray
                  ) -> tuple[FloatArray, object]:
        inst = self.inst
        n, n_t = len(self.ph), inst.n_t
        k_max = n_t
        tv = np.full((n, N_SEC, n_t, k_max), NEG)
        tc = np.full((n, N_SEC, n_t, k_max), -1, dtype=np.int64)
        tab = np.full((n, N_MASK), NEG)
        tab[:, 0] = 0.0
        order: IntArray = info["order"]  # type: ignore[assignment]
        if not len(order):
            return tab, None
        start: IntArray = info["start"]  # type: ignore[assignment]
        lens: IntArray = info["lens"]  # type: ignore[assignment]
        g_lp: IntArray = info["g_lp"]  # type: ignore[assignment]
        g_sec: IntArray = info["g_sec"]  # type: ignore[assignment]
        g_t: IntArray = info["g_t"]  # type: ignore[assignment]
        vals = rr[order].copy()
        idx = np.arange(len(vals))
        for k in range(k_max):
            gmax = np.maximum.reduceat(vals, start)
            hit = vals == np.repeat(gmax, lens)
            pos = np.minimum.reduceat(np.where(hit, idx, len(vals)), start)
            good = np.isfinite(gmax) & (pos < len(vals))
            tv[g_lp[good], g_sec[good], g_t[good], k] = gmax[good]
            tc[g_lp[good], g_sec[good], g_t[good], k] = order[pos[good]]
            vals[pos[good]] = NEG
        plc = np.where(tc >= 0, inst.cand.placement[np.maximum(tc, 0)], -1)
        n_sub = len(self.tuples)
        vs = np.full((n, N_SEC, n_sub), NEG)
        arg = np.zeros((n, N_SEC, n_sub), dtype=np.int64)
        secs: list[int] = info["sectors"]  # type: ignore[assignment]
        sec_idx = np.array(secs, dtype=np.int64)
        tvs = tv[:, sec_idx]
        pls = plc[:, sec_idx]
        for j, (_, ts, tup) in enumerate(self.tuples):
            best = np.full((n, len(secs)), NEG)
            barg = np.zeros((n, len(secs)), dtype=np.int64)
            for q in range(len(tup)):
                ranks = tup[q]
                v = tvs[:, :, ts[0], ranks[0]].copy()
                for i in range(1, len(ts)):
                    v += tvs[:, :, ts[i], ranks[i]]
                for i in range(len(ts)):
                    for i2 in range(i + 1, len(ts)):
                        same = pls[:, :, ts[i], ranks[i]] == pls[:, :, ts[i2], ranks[i2]]
                        v[same] = NEG
                better = v > best
                best = np.where(better, v, best)
                barg = np.where(better, q, barg)
            vs[:, sec_idx, j] = best
            arg[:, sec_idx, j] = barg
        flat = np.concatenate([vs.reshape(n, N_SEC * n_sub), np.zeros((n, 1))], axis=1)
        pat_cols: IntArray = info["pat_cols"]  # type: ignore[assignment]
        pat_mask: IntArray = info["pat_mask"]  # type: ignore[assignment]
        pv = flat[:, pat_cols[:, 0]]
        for t in range(1, n_t):
            pv = pv + flat[:, pat_cols[:, t]]
        pat_of = np.zeros((n, N_MASK), dtype=np.int64)
        for m in np.unique(pat_mask).tolist():
            cols = np.flatnonzero(pat_mask == m)
            sub = pv[:, cols]
            a = np.argmax(sub, axis=1)
            tab[:, m] = sub[np.arange(n), a]
            pat_of[:, m] = cols[a]
        return tab, (tc, arg, pat_of)

    def _plan(self, info: dict[str, object], aux: object, sm: IntArray, feasible: BoolArray,
              rr: FloatArray) -> IntArray:
        inst = self.inst
        n = len(self.ph)
        use = np.flatnonzero((sm != 0) & feasible)
        if aux is None or not len(use):
            return np.zeros(0, np.int64)
        if not inst.rotating[int(info["s"])]:  # type: ignore[call-overload]
            bp: IntArray = aux  # type: ignore[assignment]
            sec = np.zeros(n, dtype=np.int64)
            for s in range(N_SEC):
                sec[(sm >> s) & 1 == 1] = s
            pair = bp[use, sec[use]]
            sel: IntArray = info["sel"]  # type: ignore[assignment]
            pair_of: IntArray = info["pair_of"]  # type: ignore[assignment]
            pstart: IntArray = info["pstart"]  # type: ignore[assignment]
            wanted: BoolArray = np.zeros(len(pstart), dtype=np.bool_)
            wanted[pair] = True
            v = rr[sel]
            in_pair: BoolArray = wanted[pair_of]
            take: BoolArray = in_pair & (v > 0)
            # A pair with no positive period still covers its sector with its best period.
            mx = np.maximum.reduceat(v, pstart)
            none_pos = wanted & (mx <= 0)
            if none_pos.any():
                cand_pairs = np.flatnonzero(none_pos)
                for p_ in cand_pairs.tolist():
                    lo = int(pstart[p_])
                    hi = int(pstart[p_ + 1]) if p_ + 1 < len(pstart) else len(sel)
                    take[lo + int(np.argmax(v[lo:hi]))] = True
            picked: IntArray = sel[take]
            return picked
        tc: IntArray
        arg: IntArray
        pat_of: IntArray
        tc, arg, pat_of = aux  # type: ignore[misc]
        pat = pat_of[use, sm[use]]
        pat_sec: IntArray = info["pat_sec"]  # type: ignore[assignment]
        out = []
        n_t = inst.n_t
        psec = pat_sec[pat]  # (len(use), n_t)
        for t in range(n_t):
            sec_t: IntArray = psec[:, t]
            has: BoolArray = sec_t >= 0
            if not has.any():
                continue
            u, sx = use[has], sec_t[has]
            same = psec[has] == sx[:, None]
            sub = (same * (1 << np.arange(n_t))[None, :]).sum(axis=1)
            j = np.array([self.sub_pos[int(x)] for x in sub], dtype=np.int64)
            q = arg[u, sx, j]
            ranks = np.array([self.tuples[jj][2][qq][int(np.searchsorted(
                self.tuples[jj][1], t))] for jj, qq in zip(j.tolist(), q.tolist(),
                                                           strict=True)], dtype=np.int64)
            out.append(tc[u, sx, t, ranks])
        got: IntArray = np.concatenate(out) if out else np.zeros(0, np.int64)
        kept: IntArray = got[got >= 0]
        return kept


# ---- the dual --------------------------------------------------------------------------


@dataclass
class DualResult:
    """Outcome of :func:`subgradient`."""

    bound: float
    dual: Dual
    plans: IntArray
    values: FloatArray
    iterations: int
    seconds: float


def evaluate(inst: Instance, solver: PersonalSolver, dual: Dual
             ) -> tuple[float, FloatArray, IntArray]:
    """L(y), the personal values and the chosen candidates at the multipliers."""
    r = reduced(inst, dual)
    values, plans = solver.solve(r)
    total = float(values.sum()) + dual.constant(inst) + inst.offset
    return total, values, plans


def usage(inst: Instance, chosen: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Row activities of a set of chosen candidates (as the relaxation charges them)."""
    n_l, n_t = inst.n_l, inst.n_t
    cnt = np.bincount(inst.key[chosen], minlength=4 * n_l * n_t).reshape(4, n_l, n_t)
    cnt = cnt.astype(np.float64)
    cap_use = cnt.sum(axis=0)
    org_use = np.zeros((len(inst.org_cap), n_t))
    has = inst.org_of_l >= 0
    if has.any():
        np.add.at(org_use, inst.org_of_l[has], cap_use[has])
        org_use *= inst.org_alpha[:, None]
    sup_use = np.zeros((len(inst.sup_cap), n_t))
    if len(inst.sup_cap):
        cover = inst.sup_cover.astype(np.float64)
        for cls in range(4):
            sup_use += (cover @ cnt[cls]) * inst.sup_counted[:, cls, None]
        sup_use *= inst.sup_alpha[:, None]
    return cap_use, org_use, sup_use


def safe_floor(value: float, scale: float) -> int:
    """floor(value) after a margin for floating-point error (never below the true value)."""
    return math.floor(value + 1e-6 + 1e-11 * scale)


def subgradient(
    inst: Instance,
    solver: PersonalSolver,
    *,
    target: Callable[[], float | None],
    deadline: float,
    max_iter: int = 200,
    dual: Dual | None = None,
    on_iteration: Callable[[int, Dual, IntArray], None] | None = None,
) -> DualResult:
    """Minimise L(y) by projected subgradient steps (Polyak step towards ``target()``, the
    best objective known, or 2 % below the bound when none is known)."""
    t0 = time.monotonic()
    y = dual.copy() if dual is not None else Dual.zeros(inst)
    w_s = float(inst.round.weights.shortfall)
    best_l, best_y, best_plans = math.inf, y.copy(), np.zeros(0, np.int64)
    best_values = np.zeros(0)
    theta, stall = 1.0, 0
    it = 0
    for it in range(1, max_iter + 1):
        val, values, plans = evaluate(inst, solver, y)
        if val < best_l - 1e-9:
            improved = best_l - val
            best_l, best_y, best_plans, best_values = val, y.copy(), plans, values
            stall = 0 if improved > 1e-4 * abs(val) else stall + 1
        else:
            stall += 1
        if on_iteration is not None:
            on_iteration(it, y, plans)
        if not math.isfinite(val) or time.monotonic() > deadline:
            break
        if stall >= 5:
            theta *= 0.5
            stall = 0
        if theta < 1e-4:
            break
        cap_use, org_use, sup_use = usage(inst, plans)
        g_lam = cap_use - inst.cap
        g_pi = inst.mf - cap_use
        g_mu = org_use - inst.org_cap[:, None]
        g_nu = sup_use - inst.sup_cap[:, None]
        # Projected directions: a zero multiplier with a negative direction stays at 0.
        g_lam = np.where((y.lam <= 0) & (g_lam < 0), 0.0, g_lam)
        g_pi = np.where(((y.pi <= 0) & (g_pi < 0)) | ((y.pi >= w_s) & (g_pi > 0)), 0.0, g_pi)
        g_mu = np.where((y.mu <= 0) & (g_mu < 0), 0.0, g_mu)
        g_nu = np.where((y.nu <= 0) & (g_nu < 0), 0.0, g_nu)
        norm = float((g_lam**2).sum() + (g_pi**2).sum() + (g_mu**2).sum() + (g_nu**2).sum())
        if norm == 0:
            break  # the plans satisfy every relaxed row with complementary slackness
        tgt = target()
        goal = tgt if tgt is not None and tgt < val else val - 0.02 * abs(val) - 1.0
        step = theta * (val - goal) / norm
        y = Dual(np.maximum(0.0, y.lam + step * g_lam),
                 np.clip(y.pi + step * g_pi, 0.0, w_s),
                 np.maximum(0.0, y.mu + step * g_mu),
                 np.maximum(0.0, y.nu + step * g_nu))
    secs = time.monotonic() - t0
    log.info("lagrangian: bound %.1f after %d iterations in %.2f s", best_l, it, secs)
    return DualResult(best_l, best_y, best_plans, best_values, it, secs)


# ---- reduced-cost fixing ---------------------------------------------------------------


def forced_upper(inst: Instance, r: FloatArray) -> FloatArray:
    """For every candidate ``j`` of pharmacist ``p``: an upper bound on ``p``'s personal
    value when ``x_j = 1`` (sector mix, pins and rotation between the other periods are
    relaxed; continuity is kept: a non-rotating candidate fixes the placement of its
    stream). Used by :func:`fixable`."""
    c = inst.cand
    n_s, n_t = inst.n_s, inst.n_t
    slot = (c.pharmacist * n_s + c.stream) * n_t + c.period
    n_slot = inst.n_p * n_s * n_t
    order = np.lexsort((-r, slot))
    ss = slot[order]
    first = np.r_[True, ss[1:] != ss[:-1]] if len(ss) else np.zeros(0, bool)
    start = np.flatnonzero(first)
    b1v = np.full(n_slot, NEG)
    b1l = np.full(n_slot, -1, dtype=np.int64)
    b2v = np.full(n_slot, NEG)
    if len(ss):
        b1v[ss[start]] = r[order[start]]
        b1l[ss[start]] = c.placement[order[start]]
        nxt = start + 1
        has2 = nxt < len(ss)
        has2[has2] &= ss[nxt[has2]] == ss[start[has2]]
        b2v[ss[start[has2]]] = r[order[nxt[has2]]]
    pos1 = np.maximum(b1v, 0.0).reshape(inst.n_p, n_s, n_t)
    # Unconstrained value of each (pharmacist, stream).
    u = np.zeros((inst.n_p, n_s))
    rot = inst.rotating
    u[:, rot] = pos1[:, rot].sum(axis=2)
    # Non-rotating: best pair of positive parts.
    pair_key = c.pharmacist * inst.n_l + c.placement
    rp = np.maximum(r, 0.0)
    pk_start = np.flatnonzero(np.r_[True, pair_key[1:] != pair_key[:-1]]) if len(r) else \
        np.zeros(0, np.int64)
    pair_sum = np.add.reduceat(rp, pk_start) if len(r) else np.zeros(0)
    pair_p = c.pharmacist[pk_start]
    pair_s = c.stream[pk_start]
    for s in np.flatnonzero(~rot).tolist():
        sel = pair_s == s
        best = np.zeros(inst.n_p)
        np.maximum.at(best, pair_p[sel], pair_sum[sel])
        u[:, s] = best
    total_u = u.sum(axis=1)
    out = r + total_u[c.pharmacist] - u[c.pharmacist, c.stream]
    pair_of = np.repeat(np.arange(len(pk_start)), np.diff(np.r_[pk_start, len(r)]))
    fixed_rest = pair_sum[pair_of] - rp  # same placement in the other periods
    rot_c = rot[c.stream]
    rest = np.zeros(len(r))
    base = (c.pharmacist * n_s + c.stream) * n_t
    for t in range(n_t):
        other = c.period != t
        sl = base + t
        excl = np.where(b1l[sl] == c.placement, b2v[sl], b1v[sl])
        rest += np.where(other, np.maximum(excl, 0.0), 0.0)
    out += np.where(rot_c, rest, fixed_rest)
    result: FloatArray = out
    return result


def fixable(inst: Instance, r: FloatArray, values: FloatArray, bound: float,
            objective: int) -> BoolArray:
    """Candidates that no allocation better than ``objective`` can use.

    ``values`` are the personal values at the multipliers that gave ``bound`` = L(y). Any
    allocation with ``x_j = 1`` is worth at most ``bound - V_p + forced_upper_j``; when that
    is below ``objective + 1`` (integer objectives) the candidate can be dropped without
    losing any strictly better allocation.
    """
    ub = forced_upper(inst, r)
    p = inst.cand.pharmacist
    margin = 1e-6 + 1e-11 * inst.scale
    return np.asarray(bound - values[p] + ub + margin < objective + 1, dtype=bool)
