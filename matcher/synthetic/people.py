"""Who a synthetic round places: pharmacists, what they may hold, want and must do.

:class:`Cohort` draws, against a :class:`~matcher.synthetic.supply.Supply`, every
pharmacist's home (in or near a cluster), name, experience, prescribing, skills, personal
travel limit and unavailable periods; travel to every placement (great-circle km, spec §2.2)
with a few explicit overrides; histories of earlier placements; then moves pharmacists with
too little within reach closer in, and draws ranked preferences, bans and pins, each pin
eligible and all of them jointly within every capacity.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from matcher.geo import travel_km
from matcher.synthetic.places import Geography, offset
from matcher.synthetic.shape import SKILLS, BoolArray, FloatArray, IntArray, RoundShape
from matcher.synthetic.supply import Supply

__all__ = ["Cohort"]

# How much pharmacists like a sector, on the scale of the preference utility.
SECTOR_APPEAL: Final = np.array([0.5, 0.0, 0.8, 0.3, 0.1, 0.6])
# Share of pharmacists holding each skill of matcher.synthetic.shape.SKILLS.
SKILL_PREVALENCE: Final = np.array(
    [0.22, 0.2, 0.2, 0.15, 0.18, 0.08, 0.1, 0.06, 0.08, 0.05, 0.05, 0.12]
)
GIVEN_NAMES: Final = (
    "Aaliyah", "Abdul", "Adaeze", "Aisha", "Alex", "Amara", "Amir", "Ana", "Anil", "Bola",
    "Chen", "Chloe", "Daniel", "Deepa", "Eleni", "Emeka", "Fatima", "Femi", "Grace",
    "Hannah", "Harpreet", "Ibrahim", "Imran", "Jade", "James", "Joanna", "Kavita", "Kemi",
    "Kwame", "Laura", "Leila", "Li", "Marta", "Mei", "Mohammed", "Nadia", "Naveen", "Nia",
    "Olu", "Omar", "Priya", "Rachel", "Rahul", "Ruth", "Sadia", "Samir", "Sara", "Sean",
    "Simran", "Sofia", "Tariq", "Tom", "Tunde", "Yasmin", "Yusuf", "Zainab", "Zoe",
)  # fmt: skip
SURNAMES: Final = (
    "Adeyemi", "Ahmed", "Akhtar", "Ali", "Asante", "Begum", "Bennett", "Bhatt", "Chowdhury",
    "Clarke", "Costa", "Das", "Davies", "Evans", "Fernandes", "Francis", "Gill", "Green",
    "Gupta", "Hall", "Hassan", "Hossain", "Hughes", "Iqbal", "Islam", "Jones", "Kaur",
    "Khan", "Kowalski", "Lewis", "Malik", "Mensah", "Miah", "Mitchell", "Nguyen", "Novak",
    "Obi", "Okafor", "Okonkwo", "Osei", "Owusu", "Papadopoulos", "Patel", "Rahman", "Reid",
    "Rossi", "Sandhu", "Shah", "Silva", "Singh", "Smith", "Taylor", "Thomas", "Uddin",
    "Walker", "Wang", "Williams", "Wilson", "Yilmaz", "Zhang",
)  # fmt: skip


class Cohort:
    """The pharmacists of a round being generated; every array is indexed by pharmacist.

    Built step by step from ``rng`` in a fixed order (the draws decide the round). ``elig``
    is the period-independent eligibility matrix (pharmacist x placement): travel,
    requirements and no repeat of history.
    """

    def __init__(
        self, shape: RoundShape, geo: Geography, supply: Supply, rng: np.random.Generator
    ) -> None:
        self.rng = rng
        self.geo = geo
        self.supply = supply
        self.N = shape.n_pharmacists
        self.L = shape.n_placements
        self.T = shape.n_periods
        self.streams = shape.streams
        self.features = shape.features
        self.min_sectors = shape.min_sectors
        self.max_travel = shape.max_travel
        self.max_prefs = shape.max_prefs
        self.history: dict[int, list[int]] = {}
        self.overrides: dict[tuple[int, int], int] = {}
        self.prefs: list[list[int]] = []
        self.bans: list[tuple[int, int, int | None]] = []
        self.pins: list[tuple[int, int, int]] = []
        self._pharmacists()
        self._travel()
        self._history()
        self._repair()
        self._preferences()
        self._bans()
        self._pins()

    # -- the people -----------------------------------------------------------------------

    def _pharmacists(self) -> None:
        rng = self.rng
        N = self.N
        places = self.geo.places
        clusters = self.geo.clusters
        cluster = np.repeat(np.arange(len(clusters)), self.supply.pharmacists_per_cluster)
        place = np.empty(N, dtype=np.int64)
        for c, cl in enumerate(clusters):
            idx = np.flatnonzero(cluster == c)
            w = self.geo.place_weight[cl.places]
            place[idx] = rng.choice(np.asarray(cl.places), len(idx), p=w / w.sum())
        self.ph_cluster = cluster
        self.ph_place = place
        radius = np.array([places[p].radius_km for p in place])
        plat = np.array([places[p].lat for p in place])
        plon = np.array([places[p].lon for p in place])
        lat, lon = offset(plat, plon, rng.normal(0, 1, N) * radius * 0.8,
                          rng.normal(0, 1, N) * radius * 0.8)  # fmt: skip
        # About 8 % commute from further out, around the cluster.
        far = rng.random(N) < 0.08
        clat = np.array([clusters[c].centre[0] for c in cluster])
        clon = np.array([clusters[c].centre[1] for c in cluster])
        flat, flon = offset(clat, clon, rng.normal(0, 9, N), rng.normal(0, 9, N))
        self.home_lat = np.where(far, flat, lat)
        self.home_lon = np.where(far, flon, lon)
        self.names = [
            f"{GIVEN_NAMES[int(g)]} {SURNAMES[int(s)]}"
            for g, s in zip(
                rng.integers(len(GIVEN_NAMES), size=N), rng.integers(len(SURNAMES), size=N),
                strict=True,
            )
        ]
        self.personal_travel = np.full(N, np.nan)
        self.unavailable = np.zeros((N, self.T), dtype=np.bool_)
        self.ip = np.zeros(N, dtype=np.bool_)
        self.experience = np.zeros(N)
        self.skill_bits = np.zeros(N, dtype=np.int64)
        if not self.features:
            return
        self.experience = np.clip(np.round(rng.gamma(2.0, 2.0, N) * 2) / 2, 0, 30)
        p_ip = np.where(self.experience < 2, 0.1, np.where(self.experience < 5, 0.35, 0.55))
        self.ip = rng.random(N) < p_ip
        has = rng.random((N, len(SKILLS))) < SKILL_PREVALENCE
        # At most three skills each: keep the first three drawn.
        has &= np.cumsum(has, axis=1) <= 3
        self.skill_bits = (has.astype(np.int64) << np.arange(len(SKILLS))).sum(axis=1)
        own = rng.random(N) < 0.08
        own[int(rng.integers(N))] = True  # at least one, even in a small cohort
        self.personal_travel = np.where(own, rng.choice([10.0, 12.0, 15.0, 30.0], N), np.nan)
        if self.T >= 2:
            leave = rng.random(N) < 0.07
            leave[int(rng.integers(N))] = True
            off = np.flatnonzero(leave)
            self.unavailable[off, rng.integers(self.T, size=len(off))] = True

    @property
    def limit(self) -> FloatArray:
        """Each pharmacist's travel limit (personal, else the rules')."""
        return np.where(np.isnan(self.personal_travel), self.max_travel, self.personal_travel)

    def available(self) -> IntArray:
        """How many periods each pharmacist is available in."""
        return np.asarray(self.T - self.unavailable.sum(axis=1), dtype=np.int64)

    # -- travel and eligibility -----------------------------------------------------------

    def _travel(self) -> None:
        """Great-circle km (spec §2.2) for every pair, then a few explicit overrides."""
        self.dist = np.empty((self.N, self.L), dtype=np.int32)
        for start in range(0, self.N, 1024):
            stop = min(self.N, start + 1024)
            self._travel_rows(np.arange(start, stop))
        if not self.features:
            return
        rng = self.rng
        who = rng.choice(self.N, max(1, round(0.01 * self.N)), replace=False)
        for p in sorted(int(x) for x in who):
            near = np.flatnonzero(self.dist[p] <= self.limit[p] + 5)
            if len(near) == 0:
                continue
            for li in rng.choice(near, min(len(near), int(rng.integers(1, 3))), replace=False):
                factor = rng.uniform(0.75, 1.4)
                self.overrides[(p, int(li))] = max(1, round(float(self.dist[p, li]) * factor))

    def _travel_rows(self, rows: IntArray) -> None:
        self.dist[rows] = travel_km(
            self.home_lat[rows, None], self.home_lon[rows, None], self.supply.lat[None, :],
            self.supply.lon[None, :],
        )  # fmt: skip

    def _travel_cost(self, rows: IntArray) -> npt.NDArray[np.int32]:
        """Travel with the explicit overrides applied, for some pharmacists."""
        cost = self.dist[rows].copy()
        pos = {int(p): i for i, p in enumerate(rows)}
        for (p, li), c in self.overrides.items():
            if p in pos:
                cost[pos[p], li] = c
        return cost

    def _static_eligible(self, rows: IntArray) -> BoolArray:
        """Travel and requirements (spec §2.2-2.3) for some pharmacists, every placement."""
        sp = self.supply
        reach = self._travel_cost(rows) <= self.limit[rows, None]
        ok = reach & (~sp.req_ip[None, :] | self.ip[rows, None])
        ok &= self.experience[rows, None] >= sp.req_exp[None, :]
        bits = np.where(sp.req_skill >= 0, np.left_shift(1, np.maximum(sp.req_skill, 0)), 0)
        ok &= (self.skill_bits[rows, None] & bits[None, :]) == bits[None, :]
        return ok

    def _refresh_eligible(self, rows: IntArray) -> None:
        """Recompute ``self.elig`` rows: travel, requirements, and no repeat of history."""
        for start in range(0, len(rows), 1024):
            chunk = rows[start : start + 1024]
            self.elig[chunk] = self._static_eligible(chunk)
        for p in (int(x) for x in rows):
            rot = [h for h in self.history.get(p, []) if self.supply.rotates[h]]
            if rot:
                self.elig[p, rot] = False

    def _history(self) -> None:
        """Placements some pharmacists already did (second-year cohort), distinct sectors.

        Also computes ``self.elig``, the period-independent eligibility matrix.
        """
        self.elig = np.zeros((self.N, self.L), dtype=np.bool_)
        self._refresh_eligible(np.arange(self.N))
        if not self.features:
            return
        rng = self.rng
        sector = self.supply.sector
        draw = rng.random(self.N) < 0.2
        draw[int(rng.integers(self.N))] = True  # at least one, even in a small cohort
        for p in (int(x) for x in np.flatnonzero(draw)):
            cand = np.flatnonzero(self.elig[p] & self.supply.rotates)
            if len(cand) == 0:
                continue
            first = int(rng.choice(cand))
            hist = [first]
            if rng.random() < 0.3:
                other = cand[sector[cand] != sector[first]]
                if len(other):
                    hist.append(int(rng.choice(other)))
            self.history[p] = hist
            self.elig[p, hist] = False

    def _short(self, rows: IntArray) -> IntArray:
        """Rows (pharmacists) whose reachable placements leave too little choice."""
        sector, is_gp = self.supply.sector, self.supply.is_gp
        ok = self.elig[rows]
        avail = self.available()[rows]
        need = np.minimum(self.min_sectors, avail)
        covered = np.zeros((len(rows), 6), dtype=np.bool_)
        for s in range(6):
            covered[:, s] = ok[:, sector == s].any(axis=1)
        n_gp = ok[:, is_gp].sum(axis=1)
        if self.streams:
            host_sectors = covered[:, 1:].sum(axis=1)
            n_host = ok[:, ~is_gp].sum(axis=1)
            bad = (n_gp < 2) | (host_sectors < need) | (n_host < 2 * avail)
        else:
            bad = (n_gp < 2) | (covered.sum(axis=1) < need + 1) | (ok.sum(axis=1) < 2 * avail)
        return np.asarray(rows[bad & (avail > 0)], dtype=np.int64)

    def _repair(self) -> None:
        """Bring pharmacists with too little within reach closer to their cluster's centre."""
        self._move_short()
        if self.features and not self.overrides:
            # The repair dropped the only overrides: add one that keeps its pair in reach.
            p = int(self.rng.integers(self.N))
            near = np.flatnonzero(self.elig[p])
            if len(near):
                li = int(near[0])
                cost = max(1, round(float(self.dist[p, li]) * 1.2))
                self.overrides[(p, li)] = min(cost, math.floor(self.limit[p]))

    def _move_short(self) -> None:
        rng = self.rng
        short = self._short(np.arange(self.N))
        for attempt in range(3):
            if len(short) == 0:
                return
            if attempt == 2:  # last resort: their history is what blocks them
                for p in (int(x) for x in short):
                    self.history.pop(p, None)
                self._refresh_eligible(short)
                short = self._short(short)
                continue
            inner = np.array([self.geo.clusters[c].hub for c in self.ph_cluster[short]])
            plat = np.array([self.geo.places[p].lat for p in inner])
            plon = np.array([self.geo.places[p].lon for p in inner])
            lat, lon = offset(plat, plon, rng.normal(0, 1, len(short)),
                              rng.normal(0, 1, len(short)))  # fmt: skip
            self.home_lat[short] = lat
            self.home_lon[short] = lon
            self.ph_place[short] = inner
            self.personal_travel[short] = np.nan if attempt == 0 else 35.0
            bad = {int(p) for p in short}
            self.overrides = {k: v for k, v in self.overrides.items() if k[0] not in bad}
            self._travel_rows(short)
            self._refresh_eligible(short)
            short = self._short(short)

    # -- wishes and constraints -----------------------------------------------------------

    def _preferences(self) -> None:
        """Ranked wishes by utility (near, liked sectors, reputation) with Gumbel noise.

        Only eligible pairs get a utility (sparse), so the cost follows the ~15 % of pairs
        within reach rather than every pair.
        """
        rng = self.rng
        R = self.max_prefs
        reputation = rng.normal(0, 0.4, self.L) + SECTOR_APPEAL[self.supply.sector]
        reputation -= 0.1 * self.supply.hard_to_recruit
        lengths = np.where(rng.random(self.N) < 0.55, R, rng.integers(3, R + 1, self.N))
        stray = rng.random(self.N) < 0.10
        self.prefs = [[] for _ in range(self.N)]
        for start in range(0, self.N, 1024):
            rows = np.arange(start, min(self.N, start + 1024))
            ok = self.elig[rows]
            cost = self._travel_cost(rows)
            r, c = np.nonzero(ok)
            util = -0.12 * cost[r, c] + reputation[c] + rng.gumbel(0, 1, len(r))
            order = np.lexsort((-util, r))
            r, c = r[order], c[order]
            first = np.searchsorted(r, np.arange(len(rows)))
            rank = np.arange(len(r)) - first[r]
            keep = rank < lengths[rows][r]
            for i, li in zip(r[keep], c[keep], strict=True):
                self.prefs[start + int(i)].append(int(li))
        # About one list in ten carries a wish out of reach (in place of its last one).
        for p in np.flatnonzero(stray):
            chosen = self.prefs[p]
            far = np.flatnonzero(~self.elig[p])
            far = far[~np.isin(far, self.history.get(int(p), []))]
            if chosen and len(far):
                wish = int(rng.choice(far))
                self.prefs[p] = [*chosen[: int(lengths[p]) - 1], wish]

    def _bans(self) -> None:
        """Bans (pharmacist, placement, period or every period) on eligible placements."""
        if not self.features:
            return
        rng = self.rng
        who = rng.choice(self.N, max(1, round(0.02 * self.N)), replace=False)
        for p in sorted(int(x) for x in who):
            ok = self.elig[p].copy()
            ok[self.prefs[p]] = False
            cand = np.flatnonzero(ok)
            if len(cand) == 0:
                continue
            li = int(rng.choice(cand))
            period = int(rng.integers(self.T)) if rng.random() < 0.5 else None
            self.bans.append((p, li, period))

    def _pins(self) -> None:
        """Pins on eligible placements that fit together within every capacity."""
        if not self.features:
            return
        rng = self.rng
        sp = self.supply
        used = np.zeros((self.L, self.T), dtype=np.int64)
        used_org = np.zeros((len(sp.orgs), self.T), dtype=np.int64)
        used_sup = np.zeros((len(sp.supervisors), self.T), dtype=np.int64)
        sup_of: dict[int, list[int]] = {}
        for si, sup in enumerate(sp.supervisors):
            for li in sup.placements:
                sup_of.setdefault(li, []).append(si)
        banned: dict[int, list[tuple[int, int | None]]] = {}
        for p, li, t in self.bans:
            banned.setdefault(p, []).append((li, t))
        avail = self.available()

        def counted(si: int, p: int) -> bool:
            whom = sp.supervisors[si].supervises
            if whom == "non_prescribers":
                return not bool(self.ip[p])
            if whom == "early_years":
                return bool(self.experience[p] < 2)
            return True

        def fits(p: int, li: int, t: int) -> bool:
            if sp.cap[li, t] - used[li, t] < 1:
                return False
            if any(b == li and (bt is None or bt == t) for b, bt in banned.get(p, [])):
                return False
            org = sp.orgs[int(sp.org[li])]
            if org.cap is not None and used_org[int(sp.org[li]), t] >= org.cap:
                return False
            return all(
                used_sup[si, t] < sp.supervisors[si].capacity
                for si in sup_of.get(li, [])
                if counted(si, p)
            )

        def take(p: int, li: int, t: int) -> None:
            used[li, t] += 1
            used_org[int(sp.org[li]), t] += 1
            for si in sup_of.get(li, []):
                if counted(si, p):
                    used_sup[si, t] += 1
            self.pins.append((p, li, t))

        order = rng.permutation(self.N)
        wanted = max(1, round(0.03 * self.N))
        done = 0
        for p in (int(x) for x in order):
            if done >= wanted:
                break
            if avail[p] == 0:
                continue
            ok = self.elig[p]
            periods = [t for t in range(self.T) if not self.unavailable[p, t]]
            ranked = [li for li in self.prefs[p] if ok[li]]
            ranked += [int(li) for li in rng.permutation(np.flatnonzero(ok)) if li not in ranked]
            practice = self.streams and rng.random() < 0.3
            if practice:
                for li in (x for x in ranked if sp.is_gp[x]):
                    if all(fits(p, li, t) for t in periods):
                        for t in periods:
                            take(p, li, t)
                        done += 1
                        break
                continue
            t = periods[int(rng.integers(len(periods)))]
            for li in ranked:
                if self.streams and sp.is_gp[li]:
                    continue
                # A lone available period must cover general practice (required sector).
                if not self.streams and avail[p] == 1 and not sp.is_gp[li]:
                    continue
                if fits(p, li, t):
                    take(p, li, t)
                    done += 1
                    break
