"""What a synthetic round offers: placements, their organisations, seats and supervisors.

:class:`Supply` draws, for the clusters of a :class:`~matcher.synthetic.places.Geography`,
every placement's sector, site, organisation and location, groups practices into PCNs, scores
placements for hard-to-recruit and population health along the deprivation gradient, sizes
seats per cluster and pool against the cohort (per-period capacities, ``min_fill`` and
organisation caps with ``features``), and adds requirements and supervisors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np

from matcher.synthetic.places import Geography, Org, offset
from matcher.synthetic.shape import (
    CP,
    CS,
    GP,
    HOSP,
    IC,
    MH,
    SKILLS,
    BoolArray,
    FloatArray,
    IntArray,
    RoundShape,
)

__all__ = ["SMALL_ROUND", "SupervisorDraft", "Supply", "apportion"]

SMALL_ROUND: Final = 20
"""Below this many placements a round has no ``requires`` and, with too few placements to
go round, not every sector or feature can appear nor every pharmacist reach enough sectors."""

HOST_SECTORS: Final = (HOSP, CP, MH, CS, IC)
HOST_SHARES: Final = (0.35, 0.27, 0.15, 0.15, 0.08)
# Relative size (seats) of a placement by sector: hospital departments take more.
SEAT_WEIGHT: Final = np.array([1.0, 0.8, 2.2, 1.4, 1.2, 1.2])
# Sector nudges on the hard-to-recruit scale (mental health, community harder to fill).
SECTOR_HTR: Final = np.array([0.0, 0.02, -0.08, 0.06, 0.06, -0.05])
# Skills a placement of each sector may require.
SECTOR_SKILLS: Final = (
    ("diabetes", "respiratory", "cardiovascular", "frailty"),
    ("substance_misuse", "diabetes"),
    ("antimicrobial_stewardship", "renal", "paediatrics", "cardiovascular", "respiratory"),
    ("mental_health", "learning_disability", "substance_misuse"),
    ("frailty", "respiratory", "diabetes"),
    ("medicines_safety", "cardiovascular"),
)
PCN_WORDS: Final = (
    "North", "South", "East", "West", "Central", "Riverside", "Park", "Town", "Vale", "Heath",
    "Green", "Village",
)  # fmt: skip


def apportion(total: int, weights: Sequence[float] | FloatArray, minimum: int = 0) -> IntArray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder).

    Each part gets at least ``minimum`` when the total allows it for every part.
    """
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    floor_each = minimum if total >= minimum * n else 0
    rest = total - floor_each * n
    raw = rest * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    short = int(rest - out.sum())
    if short > 0:
        order = np.argsort(-(raw - out), kind="stable")
        out[order[:short]] += 1
    return np.asarray(out + floor_each, dtype=np.int64)


@dataclass(slots=True)
class SupervisorDraft:
    """A supervisor being drafted: placements by index, capacity per period."""

    id: str
    name: str
    role: str
    supervises: str
    placements: list[int]
    capacity: int


class Supply:
    """The placements of a round being generated; every array is indexed by placement.

    Built step by step from ``rng`` in a fixed order (the draws decide the round). The
    organisations are the geography's, copied, plus the PCNs; caps are set here.
    """

    def __init__(self, shape: RoundShape, geo: Geography, rng: np.random.Generator) -> None:
        self.rng = rng
        self.N = shape.n_pharmacists
        self.L = shape.n_placements
        self.T = shape.n_periods
        self.streams = shape.streams
        self.features = shape.features
        self.min_sectors = shape.min_sectors
        self.places = geo.places
        self.clusters = geo.clusters
        self.orgs: list[Org] = [replace(org) for org in geo.orgs]
        self.supervisors: list[SupervisorDraft] = []
        self._placements(geo)
        self._practice_networks()
        self._scores()
        self._capacities(geo.cluster_weight)
        self._requirements()
        self._supervision()

    # -- placements -----------------------------------------------------------------------

    def _placements(self, geo: Geography) -> None:
        """Sector, place, site, organisation and location of every placement."""
        rng = self.rng
        per_cluster = apportion(self.L, geo.cluster_weight, minimum=4)
        gp_share = 0.55 if self.streams else 0.40
        sector: list[int] = []
        place: list[int] = []
        org: list[int] = []
        lat: list[float] = []
        lon: list[float] = []
        site: list[str] = []
        for c, cluster in enumerate(self.clusters):
            lc = int(per_cluster[c])
            n_gp = min(max(1, round(gp_share * lc)), lc - 1)
            host_counts = apportion(lc - n_gp, HOST_SHARES, minimum=1)
            pw = geo.place_weight[cluster.places]
            counts = {GP: n_gp}
            counts.update(
                {s: int(n) for s, n in zip(HOST_SECTORS, host_counts, strict=True)}
            )
            for s in (GP, CP, HOSP, MH, CS, IC):
                n = counts[s]
                if n == 0:
                    continue
                if s in (GP, CP):
                    alloc = apportion(n, pw, minimum=1 if n >= len(pw) else 0)
                    pids = np.repeat(np.asarray(cluster.places), alloc)
                    radius = np.array([self.places[p].radius_km for p in pids])
                    centre_lat = np.array([self.places[p].lat for p in pids])
                    centre_lon = np.array([self.places[p].lon for p in pids])
                    la, lo = offset(
                        centre_lat, centre_lon,
                        rng.normal(0, 1, n) * radius * 0.5, rng.normal(0, 1, n) * radius * 0.5,
                    )  # fmt: skip
                    for i, p in enumerate(pids):
                        sector.append(s)
                        place.append(int(p))
                        org.append(-1 if s == GP else int(rng.choice(cluster.pharmacy_orgs)))
                        lat.append(float(la[i]))
                        lon.append(float(lo[i]))
                        site.append("")
                    continue
                if s == HOSP:
                    sites = cluster.hospitals
                    alloc = apportion(n, rng.uniform(0.8, 1.4, len(sites)), minimum=1)
                elif s in (MH, CS):
                    sites = [cluster.bases[p] for p in cluster.places]
                    alloc = apportion(n, pw, minimum=1 if n >= len(pw) else 0)
                else:
                    assert cluster.office is not None
                    sites = [cluster.office]
                    alloc = np.array([n], dtype=np.int64)
                for st, m in zip(sites, alloc, strict=True):
                    jitter = 0.0 if s in (HOSP, IC) else 0.4
                    la, lo = offset(
                        st.lat, st.lon, rng.normal(0, 1, int(m)) * jitter,
                        rng.normal(0, 1, int(m)) * jitter,
                    )  # fmt: skip
                    for i in range(int(m)):
                        sector.append(s)
                        place.append(st.place)
                        org.append(st.org)
                        lat.append(float(la[i]))
                        lon.append(float(lo[i]))
                        site.append(st.name)
        self.sector = np.asarray(sector, dtype=np.int64)
        self.place = np.asarray(place, dtype=np.int64)
        self.org = np.asarray(org, dtype=np.int64)
        self.lat = np.asarray(lat)
        self.lon = np.asarray(lon)
        self.site = site
        self.cluster = np.asarray(geo.place_cluster, dtype=np.int64)[self.place]
        self.is_gp = self.sector == GP
        # Pools of seats sized separately: practice (general practice) and host.
        self.pool = np.where(self.is_gp, 0, 1)
        self.rotates = ~self.is_gp if self.streams else np.ones(self.L, dtype=np.bool_)
        assert len(self.sector) == self.L

    def _practice_networks(self) -> None:
        """Group each place's practices into PCNs of about four, by bearing from the centre."""
        for pid, pl in enumerate(self.places):
            idx = np.flatnonzero(self.is_gp & (self.place == pid))
            if len(idx) == 0:
                continue
            bearing = np.arctan2(self.lat[idx] - pl.lat, self.lon[idx] - pl.lon)
            idx = idx[np.argsort(bearing, kind="stable")]
            n_pcn = max(1, round(len(idx) / 4.5))
            words = list(pl.neighbourhoods) or [f"{pl.name} {w}" for w in PCN_WORDS]
            for k, chunk in enumerate(np.array_split(idx, n_pcn)):
                base = words[k % len(words)]
                name = f"{base} PCN" if k < len(words) else f"{base} {k // len(words) + 1} PCN"
                self.orgs.append(Org(f"PCN-{pl.code}-{k + 1:02d}", name, "pcn", pl.name))
                self.org[chunk] = len(self.orgs) - 1

    def _scores(self) -> None:
        """hard_to_recruit and population_health from the local deprivation gradient."""
        rng = self.rng
        dep = np.array([p.deprivation for p in self.places])[self.place]
        local = np.clip(dep + rng.normal(0, 0.07, self.L), 0.0, 1.0)
        self.population_health = np.clip(
            np.round(18 + 72 * local + rng.normal(0, 4, self.L)), 0, 100
        ).astype(np.int64)
        htr_score = local + SECTOR_HTR[self.sector] + rng.normal(0, 0.06, self.L)
        self.hard_to_recruit = np.digitize(htr_score, [0.45, 0.65, 0.83]).astype(np.int64)

    # -- seats ----------------------------------------------------------------------------

    def _pool_share(self, pool: int) -> float:
        if self.streams:
            return 1.0
        gp = 1.0 / self.min_sectors
        return gp if pool == 0 else 1.0 - gp

    def _capacities(self, cluster_weight: FloatArray) -> None:
        """Seats per placement and period, sized per cluster and pool against the cohort."""
        rng = self.rng
        self.pharmacists_per_cluster = apportion(self.N, cluster_weight)
        factor = rng.uniform(1.3, 1.45, (len(self.clusters), 2))
        weight = SEAT_WEIGHT[self.sector] * rng.gamma(4.0, 0.25, self.L)
        caps = np.ones(self.L, dtype=np.int64)
        self.target = np.zeros((len(self.clusters), 2), dtype=np.int64)
        for c in range(len(self.clusters)):
            for pool in (0, 1):
                idx = np.flatnonzero((self.cluster == c) & (self.pool == pool))
                need = self.pharmacists_per_cluster[c] * self._pool_share(pool)
                target = math.ceil(factor[c, pool] * need)
                self.target[c, pool] = math.ceil(1.2 * need)
                extra = max(0, target - len(idx))
                if extra and len(idx):
                    w = weight[idx]
                    caps[idx] += rng.multinomial(extra, w / w.sum())
        self.cap = np.repeat(caps[:, None], self.T, axis=1)
        self.per_period = np.zeros(self.L, dtype=np.bool_)
        self.omit_zero = np.zeros(self.L, dtype=np.bool_)
        if self.features:
            self._per_period_capacity()
            self._top_up(weight)
            self._min_fill()
            self._organisation_caps()
        else:
            self.min_fill = np.zeros((self.L, self.T), dtype=np.int64)
            self.min_fill_per_period = np.zeros(self.L, dtype=np.bool_)
        self._top_up(weight)

    def _per_period_capacity(self) -> None:
        rng = self.rng
        host = np.flatnonzero(~self.is_gp if self.streams else np.ones(self.L, dtype=np.bool_))
        chosen = host[rng.random(len(host)) < 0.10]
        gp = np.flatnonzero(self.is_gp) if self.streams else np.empty(0, dtype=np.int64)
        grown = gp[rng.random(len(gp)) < 0.05]
        if len(chosen) == 0 and len(host):
            chosen = host[:1]
        for li in chosen:
            pattern = rng.choice(3, p=[0.4, 0.2, 0.4]) if self.T >= 2 else 2
            if pattern == 0:  # late start: the first period is left out of the object
                self.cap[li, 0] = 0
                self.omit_zero[li] = True
            elif pattern == 1:  # early finish: no seat in the last period
                self.cap[li, -1] = 0
            else:  # a seat added after the first period
                self.cap[li, 1:] += 1
        for li in grown:
            self.cap[li, 1:] += 1
        self.per_period[chosen] = True
        self.per_period[grown] = True

    def _top_up(self, weight: FloatArray) -> None:
        """Add seats until every cluster, pool and period meets its target (after caps)."""
        rng = self.rng
        for c in range(len(self.clusters)):
            for pool in (0, 1):
                in_pool = (self.cluster == c) & (self.pool == pool)
                for _ in range(50):
                    deficit = int(np.max(self.target[c, pool] - self._effective(in_pool)))
                    if deficit <= 0:
                        break
                    capped = np.array(
                        [self.orgs[o].cap is not None if o >= 0 else False for o in self.org]
                    )
                    cand = np.flatnonzero(in_pool & ~self.per_period & ~capped)
                    if len(cand) == 0:
                        cand = np.flatnonzero(in_pool & ~capped)
                    if len(cand) == 0:
                        # Every organisation in the pool is capped: lift the largest cap.
                        orgs_in = sorted({int(o) for o in self.org[in_pool]})
                        biggest = max(orgs_in, key=lambda o: int(self.cap[self.org == o].sum()))
                        self.orgs[biggest].cap = None
                        continue
                    w = weight[cand]
                    add = rng.multinomial(deficit, w / w.sum())
                    # A period a per-period placement does not run in stays closed.
                    running = ~self.per_period[cand, None] | (self.cap[cand] > 0)
                    self.cap[cand] += add[:, None] * running

    def _effective(self, in_pool: BoolArray) -> IntArray:
        """Seats per period of a pool once organisation caps are applied."""
        total = np.zeros(self.T, dtype=np.int64)
        for o in np.unique(self.org[in_pool]):
            seats = self.cap[in_pool & (self.org == o)].sum(axis=0)
            cap = self.orgs[int(o)].cap
            total += seats if cap is None else np.minimum(seats, cap)
        return total

    def _min_fill(self) -> None:
        rng = self.rng
        p = 0.05 + 0.06 * self.hard_to_recruit
        chosen = rng.random(self.L) < p
        chosen[int(np.argmax(self.hard_to_recruit))] = True  # at least one
        mf = np.where(chosen[:, None], np.minimum(self.cap, 1), 0)
        two = chosen & (self.cap.min(axis=1) >= 3) & (rng.random(self.L) < 0.2)
        mf[two] = 2
        self.min_fill = mf.astype(np.int64)
        self.min_fill_per_period = chosen & self.per_period & (self.cap.min(axis=1) == 0)

    def _organisation_caps(self) -> None:
        rng = self.rng
        for oi, org in enumerate(self.orgs):
            members = self.org == oi
            seats = self.cap[members].sum(axis=0)
            if members.sum() >= 2 and seats.max() >= 3 and rng.random() < 0.3:
                org.cap = max(1, math.ceil(0.8 * int(seats.max())))
        if all(org.cap is None for org in self.orgs):  # at least one cap
            seats = [
                int(self.cap[self.org == oi].sum(axis=0).max()) for oi in range(len(self.orgs))
            ]
            biggest = int(np.argmax(seats))
            self.orgs[biggest].cap = max(1, math.ceil(0.8 * seats[biggest]))

    # -- requirements and supervision -----------------------------------------------------

    def _requirements(self) -> None:
        rng = self.rng
        L = self.L
        self.req_ip = np.zeros(L, dtype=np.bool_)
        self.req_exp = np.zeros(L)
        self.req_skill = np.full(L, -1, dtype=np.int64)
        if not self.features or L < SMALL_ROUND:
            return
        clinical = np.isin(self.sector, [HOSP, MH])
        self.req_ip = clinical & (rng.random(L) < 0.15)
        base = np.where(self.is_gp, 0.05, 0.10)
        exp_rows = rng.random(L) < base
        self.req_exp = np.where(exp_rows, rng.choice([1.0, 2.0, 3.0], L), 0.0)
        skill_rows = np.flatnonzero(rng.random(L) < np.where(self.is_gp, 0.05, 0.08))
        for li in skill_rows:
            pool = SECTOR_SKILLS[int(self.sector[li])]
            self.req_skill[li] = SKILLS.index(pool[int(rng.integers(len(pool)))])
        # Make sure each kind of requirement occurs at least once.
        if not self.req_ip.any():
            self.req_ip[int(np.flatnonzero(~self.is_gp)[0])] = True
        if not (self.req_exp > 0).any():
            self.req_exp[int(np.flatnonzero(~self.is_gp)[-1])] = 1.0
        if not (self.req_skill >= 0).any():
            self.req_skill[int(np.flatnonzero(self.is_gp)[0])] = SKILLS.index("diabetes")

    def _supervision(self) -> None:
        """Supervisors over groups of an organisation's placements (all three kinds)."""
        if not self.features:
            return
        rng = self.rng
        kinds_seen: set[str] = set()
        for oi, org in enumerate(self.orgs):
            members = np.flatnonzero(self.org == oi)
            if len(members) == 0:
                continue
            members = members[rng.permutation(len(members))]
            groups = np.array_split(members, max(1, math.ceil(len(members) / 3)))
            for gi, group in enumerate(groups):
                seats = int(self.cap[group].max(axis=0).sum())
                draw = rng.random()
                if org.kind == "pcn":
                    spec = ("clinical", "all", 0.9) if draw < 0.25 else None
                elif org.kind in ("acute_trust", "mental_health_and_community_trust"):
                    if draw < 0.45:
                        spec = ("prescribing", "non_prescribers", 0.7)
                    elif draw < 0.65:
                        spec = ("educational", "early_years", 0.5)
                    else:
                        spec = None
                else:
                    spec = ("educational", "all", 0.9) if draw < 0.3 else None
                if spec is None:
                    continue
                role, whom, share = spec
                self._add_supervisor(org, gi, group, role, whom, share, seats)
                kinds_seen.add(whom)
        for whom, role, share in (
            ("all", "clinical", 0.9),
            ("non_prescribers", "prescribing", 0.7),
            ("early_years", "educational", 0.5),
        ):
            if whom not in kinds_seen:
                li = int(np.flatnonzero(~self.is_gp)[0]) if whom != "all" else 0
                org = self.orgs[int(self.org[li])]
                group = np.array([li])
                self._add_supervisor(org, 0, group, role, whom, share, int(self.cap[li].max()))

    def _add_supervisor(
        self, org: Org, gi: int, group: IntArray, role: str, whom: str, share: float, seats: int
    ) -> None:
        sid = f"SUP-{org.id}-{len(self.supervisors) + 1:04d}"
        title = {"prescribing": "Designated prescribing practitioner",
                 "educational": "Educational supervisor",
                 "clinical": "Clinical supervisor"}[role]  # fmt: skip
        self.supervisors.append(
            SupervisorDraft(
                sid, f"{title} {gi + 1}, {org.name}", role, whom,
                [int(x) for x in sorted(group)], max(1, math.ceil(share * seats)),
            )
        )  # fmt: skip
