"""Seeded synthetic rotation rounds of any size (spec §1), for tests, benchmarks and demos.

:func:`generate_round` builds a realistic round from a seed: the same arguments always give
the same round, and every round it returns validates. Everything across pharmacists and
placements (travel, requirements, eligibility, preferences) is computed with numpy arrays,
so 5,000 pharmacists x 2,500 placements x 4 periods take a few seconds.

Geography. Below :data:`CLUSTER_THRESHOLD` placements the round is one ICS, North East
London: its 7 places (boroughs) with approximate real centres, hospital sites and trust
bases, so a small round looks like a real cohort and almost every placement is within
reach. From :data:`CLUSTER_THRESHOLD` placements up there are several ICS-like clusters
(North East London plus up to six synthetic ones with made-up borough names at synthetic
coordinates across England, 70 km or more apart). Pharmacists live in or near a cluster,
so each reaches about one cluster's placements: roughly 10-20 % of all placements.

Supply. Seats are sized per cluster so that total capacity comfortably exceeds what the
cohort needs: with ``streams=True`` each of the practice stream (general practice,
``rotate: false``) and the host stream (hospital, mental health, community services,
community pharmacy, integrated care; ``rotate: true``) offers about 1.3-1.45x the
cluster's pharmacists in every period (at least 1.2x after organisation caps). With
``streams=False`` there is one implicit rotating stream; general-practice seats cover
1/min(T, 3) of the cohort per period and the other sectors the rest, which is what the
sector-mix rule asks for. ``hard_to_recruit`` and ``population_health`` follow a
deprivation gradient (the real one in North East London; in synthetic clusters the inner
borough is the most deprived).

Features (``features=True``), with their approximate densities:

- per-period ``capacity`` on ~10 % of host placements (late start with the first period
  left out, early finish, or a seat added after the first period) and ~5 % of practices;
- ``min_fill`` on ~15 % of placements (more likely the harder to recruit);
- ``max_pharmacists`` on ~30 % of organisations with several seats (80 % of their seats);
- supervisors over roughly 40 % of placements, of all three ``supervises`` kinds, with
  capacities of 50-90 % of the seats they cover;
- 35-40 % independent prescribers (more among the experienced), experience from a gamma
  distribution (~20 % under two years), 0-3 skills each; ~15 % of placements with
  ``requires`` (prescriber, experience or a skill);
- ~7 % of pharmacists unavailable in one period (about 2 % of pharmacist-periods);
- ~20 % of pharmacists with a history of 1-2 earlier placements in distinct sectors;
- preferences for everyone (3 to ``rules.max_preferences``, never repeated, drawn among
  reachable placements, ~10 % of lists with one out-of-reach wish);
- pins for ~3 % of pharmacists (a host placement in one period, or a practice in every
  available period), each eligible and jointly within every capacity;
- bans for ~2 % of pharmacists (half for one period), ~8 % personal ``max_travel_km`` and
  explicit ``travel`` overrides for ~1 % of pharmacists.

With ``features=False`` the round has only the core of the problem: capacities (one
integer each), travel, preferences, hard-to-recruit and population-health scores and the
sector-mix and travel rules, which is the shape the min-cost-flow model solves exactly.
Names of people are synthetic (given name and surname drawn independently).
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt

from matcher.domain import FORMAT, SECTORS, Round, Weights
from matcher.geo import travel_km

__all__ = [
    "CLUSTER_THRESHOLD",
    "NEL_PLACES",
    "SMALL_ROUND",
    "Place",
    "generate_round",
    "generate_round_data",
    "validate_round_data",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

KM_PER_DEGREE: Final = 6371.0 * math.pi / 180.0
"""Kilometres per degree of latitude on the spec's sphere (radius 6371.0 km)."""

CLUSTER_THRESHOLD: Final = 200
"""From this many placements up, a generated round spans several ICS-like clusters."""

SMALL_ROUND: Final = 20
"""Below this many placements a round has no ``requires`` and, with too few placements to
go round, not every sector or feature can appear nor every pharmacist reach enough sectors."""

MAX_CLUSTERS: Final = 7

# Sector indices follow matcher.domain.SECTORS.
GP, CP, HOSP, MH, CS, IC = range(6)
PREFIX: Final = ("GP", "CP", "HOSP", "MH", "CS", "ICB")
HOST_SECTORS: Final = (HOSP, CP, MH, CS, IC)
HOST_SHARES: Final = (0.35, 0.27, 0.15, 0.15, 0.08)
# Relative size (seats) of a placement by sector: hospital departments take more.
SEAT_WEIGHT: Final = np.array([1.0, 0.8, 2.2, 1.4, 1.2, 1.2])
# How much pharmacists like a sector, on the scale of the preference utility.
SECTOR_APPEAL: Final = np.array([0.5, 0.0, 0.8, 0.3, 0.1, 0.6])
# Sector nudges on the hard-to-recruit scale (mental health, community harder to fill).
SECTOR_HTR: Final = np.array([0.0, 0.02, -0.08, 0.06, 0.06, -0.05])

SKILLS: Final = (
    "diabetes",
    "respiratory",
    "cardiovascular",
    "mental_health",
    "frailty",
    "paediatrics",
    "antimicrobial_stewardship",
    "renal",
    "pain_management",
    "learning_disability",
    "substance_misuse",
    "medicines_safety",
)
SKILL_PREVALENCE: Final = np.array(
    [0.22, 0.2, 0.2, 0.15, 0.18, 0.08, 0.1, 0.06, 0.08, 0.05, 0.05, 0.12]
)
# Skills a placement of each sector may require.
SECTOR_SKILLS: Final = (
    ("diabetes", "respiratory", "cardiovascular", "frailty"),
    ("substance_misuse", "diabetes"),
    ("antimicrobial_stewardship", "renal", "paediatrics", "cardiovascular", "respiratory"),
    ("mental_health", "learning_disability", "substance_misuse"),
    ("frailty", "respiratory", "diabetes"),
    ("medicines_safety", "cardiovascular"),
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
PRACTICE_WORDS: Final = (
    "Abbey", "Beech", "Bridge", "Castle", "Cedar", "Church", "Clock Tower", "Elm",
    "Forest", "Garden", "Grange", "Green", "Grove", "Hawthorn", "Heath", "High Street",
    "Hill", "Kingfisher", "Lakeside", "Lime Tree", "Manor", "Market", "Meadow", "Mill",
    "Oak", "Orchard", "Park", "Priory", "Queens", "Riverside", "Rose", "Station", "Tower",
    "Valley", "Victoria", "Village", "Willow", "Woodland",
)  # fmt: skip
PRACTICE_KINDS: Final = (
    "Surgery", "Medical Centre", "Health Centre", "Group Practice", "Medical Practice",
    "Family Practice",
)  # fmt: skip
UNITS: Final = (
    (),
    (),
    (
        "Acute Medical Unit", "Emergency Department", "Elderly Care", "Cardiology",
        "Respiratory Medicine", "Renal Unit", "Paediatrics", "General Surgery", "Oncology",
        "Medicines Information", "Antimicrobial Stewardship", "Discharge Team",
        "Critical Care", "Stroke Unit", "Haematology", "Women's Health",
    ),
    (
        "Adult Acute Inpatients", "Community Mental Health Team", "Older Adults Mental Health",
        "Perinatal Mental Health", "Learning Disability Service", "Crisis Resolution Team",
        "Early Intervention in Psychosis", "Substance Misuse Service",
    ),
    (
        "Intermediate Care", "Care Homes Team", "Community Nursing", "Virtual Ward",
        "Community Diabetes", "Rapid Response", "Falls Service", "Community Respiratory",
    ),
    (
        "Medicines Optimisation Team", "Population Health Management", "Prescribing Hub",
        "Health Inequalities Programme", "Medicines Safety", "Care Homes Medicines Team",
    ),
)  # fmt: skip
PHARMACY_COMPANIES: Final = (
    "Greenleaf Pharmacy Group", "Riverside Chemists", "Crescent Pharmacy", "Oakwell Healthcare",
    "Meridian Pharmacies", "Bluebell Chemists", "Harbour Pharmacy Group", "Parkview Pharmacies",
    "Kingsway Chemists", "Lantern Pharmacy",
)  # fmt: skip
PCN_WORDS: Final = (
    "North", "South", "East", "West", "Central", "Riverside", "Park", "Town", "Vale", "Heath",
    "Green", "Village",
)  # fmt: skip
NAME_PREFIXES: Final = (
    "Ash", "Bram", "Brock", "Cal", "Dun", "Elm", "Fen", "Gil", "Hal", "Hart", "Kel", "Lang",
    "Mar", "Mel", "Nor", "Oak", "Pen", "Ral", "Red", "Sel", "Stan", "Thorn", "Wex", "Wyn",
    "Ald", "Bex", "Cor", "Dal", "Hol", "Tam",
)  # fmt: skip
NAME_SUFFIXES: Final = (
    "bridge", "by", "combe", "dale", "field", "ford", "gate", "ham", "hurst", "ley", "mere",
    "moor", "stead", "ton", "well", "wick", "worth", "brook",
)  # fmt: skip
# Centres of synthetic clusters across England (degrees); pairwise 70 km or more apart and
# as far from North East London.
SYNTHETIC_ANCHORS: Final = (
    (52.48, -1.90),
    (53.45, -2.25),
    (53.95, -1.10),
    (51.45, -2.60),
    (52.63, 1.30),
    (54.95, -1.60),
    (50.80, -1.10),
)


@dataclass(frozen=True, slots=True)
class Place:
    """A place (borough) of an ICS: centre, spread and deprivation (0 least, 1 most)."""

    name: str
    code: str
    lat: float
    lon: float
    radius_km: float
    deprivation: float
    neighbourhoods: tuple[str, ...] = ()


NEL_PLACES: Final = (
    Place("Barking and Dagenham", "BD", 51.5450, 0.1290, 3.5, 0.92,
          ("Barking", "Dagenham", "Becontree", "Thames View", "Chadwell Heath", "Eastbrook")),
    Place("City and Hackney", "CH", 51.5450, -0.0600, 3.0, 0.72,
          ("Hackney Downs", "Shoreditch Park", "Clapton", "Hackney Marshes", "Woodberry",
           "London Fields", "Springfield", "Well Street Common")),
    Place("Havering", "HAV", 51.5700, 0.2150, 5.0, 0.40,
          ("Romford", "Hornchurch", "Harold Hill", "Upminster", "Rainham")),
    Place("Newham", "NEW", 51.5250, 0.0300, 3.5, 0.88,
          ("Stratford", "East Ham", "Plaistow", "Canning Town", "Forest Gate", "Beckton",
           "Manor Park")),
    Place("Redbridge", "RED", 51.5750, 0.0750, 3.5, 0.50,
          ("Ilford", "Wanstead", "Seven Kings", "Fairlop", "Loxford")),
    Place("Tower Hamlets", "TH", 51.5150, -0.0350, 3.0, 0.86,
          ("Bethnal Green", "Poplar", "Isle of Dogs", "Whitechapel", "Bow", "Stepney",
           "Limehouse")),
    Place("Waltham Forest", "WF", 51.5900, -0.0150, 3.5, 0.62,
          ("Walthamstow", "Leyton", "Leytonstone", "Chingford", "Highams Park")),
)  # fmt: skip
"""North East London's 7 places with approximate centres and a deprivation index."""

# (site, trust, place code, lat, lon) of North East London's acute hospital sites.
_NEL_SITES: Final = (
    ("Queen's Hospital", "BHRUT", "HAV", 51.5686, 0.1794),
    ("King George Hospital", "BHRUT", "RED", 51.5762, 0.1096),
    ("Royal London Hospital", "BARTS", "TH", 51.5187, -0.0590),
    ("Newham University Hospital", "BARTS", "NEW", 51.5247, 0.0337),
    ("Whipps Cross Hospital", "BARTS", "WF", 51.5776, 0.0089),
    ("Homerton University Hospital", "HUH", "CH", 51.5469, -0.0456),
)
_NEL_ACUTE: Final = (
    ("BHRUT", "Barking, Havering and Redbridge University Hospitals NHS Trust"),
    ("BARTS", "Barts Health NHS Trust"),
    ("HUH", "Homerton Healthcare NHS Foundation Trust"),
)
_NEL_MH: Final = (
    ("ELFT", "East London NHS Foundation Trust"),
    ("NELFT", "North East London NHS Foundation Trust"),
)
# (place code, trust, base, lat, lon) of the mental-health and community trusts' bases.
_NEL_BASES: Final = (
    ("BD", "NELFT", "Barking Community Hospital", 51.5390, 0.0865),
    ("CH", "ELFT", "City and Hackney Centre for Mental Health", 51.5475, -0.0445),
    ("HAV", "NELFT", "Romford community base", 51.5770, 0.1830),
    ("NEW", "ELFT", "Newham Centre for Mental Health", 51.5235, 0.0345),
    ("RED", "NELFT", "Goodmayes Hospital", 51.5758, 0.1124),
    ("TH", "ELFT", "Tower Hamlets Centre for Mental Health", 51.5245, -0.0440),
    ("WF", "NELFT", "Wood Street Health Centre", 51.5865, -0.0050),
)


def validate_round_data(data: dict[str, Any]) -> Round:
    """Validate round data into a :class:`Round` the way every reader does.

    Uses :func:`matcher.validation.parse_round` (field and cross-record checks, every
    problem listed at once). While that module is not available the data is checked field by
    field only, by pydantic.
    """
    try:
        module = importlib.import_module("matcher.validation")
    except ModuleNotFoundError as exc:
        if exc.name != "matcher.validation":
            raise
        return Round.model_validate(data, context={"checked": True})
    return cast(Round, module.parse_round(data))


def generate_round(
    n_pharmacists: int,
    n_placements: int,
    n_periods: int = 3,
    *,
    seed: int = 0,
    streams: bool = True,
    features: bool = True,
    round_id: str | None = None,
) -> Round:
    """A seeded, realistic synthetic round (see the module docstring for what it holds).

    ``n_pharmacists`` (at least 1) and ``n_placements`` (at least 4) are the exact sizes of
    the cohort and of the placement list; ``n_periods`` (at least 1) rotation periods
    ``R1``... With ``streams`` the round has a practice and a host stream, else the single
    implicit rotating stream; ``features`` adds every optional feature of the spec at
    realistic density. The same arguments always give an equal round.

    From :data:`SMALL_ROUND` (20) placements up every sector and every feature appears and
    every pharmacist can reach a practice and enough sectors for the sector-mix rule; smaller
    rounds are still valid but cannot promise that.
    """
    data = generate_round_data(
        n_pharmacists,
        n_placements,
        n_periods,
        seed=seed,
        streams=streams,
        features=features,
        round_id=round_id,
    )
    return validate_round_data(data)


def generate_round_data(
    n_pharmacists: int,
    n_placements: int,
    n_periods: int = 3,
    *,
    seed: int = 0,
    streams: bool = True,
    features: bool = True,
    round_id: str | None = None,
) -> dict[str, Any]:
    """The JSON-ready data of :func:`generate_round`, not yet validated."""
    if n_pharmacists < 1:
        raise ValueError("n_pharmacists must be at least 1")
    if n_placements < 4:
        raise ValueError("n_placements must be at least 4")
    if n_periods < 1:
        raise ValueError("n_periods must be at least 1")
    return _Generator(
        n_pharmacists, n_placements, n_periods, seed, streams, features, round_id
    ).build()


# ---- helpers ------------------------------------------------------------------------------


def _apportion(total: int, weights: Sequence[float] | FloatArray, minimum: int = 0) -> IntArray:
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


def _offset(
    lat: FloatArray | float, lon: FloatArray | float, dx_km: FloatArray, dy_km: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Points moved ``dx_km`` east and ``dy_km`` north, rounded to 5 decimals (~1 m)."""
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    new_lat = lat_a + dy_km / KM_PER_DEGREE
    new_lon = lon_a + dx_km / (KM_PER_DEGREE * np.cos(np.radians(lat_a)))
    return np.round(new_lat, 5), np.round(new_lon, 5)


def _json_number(x: float) -> int | float:
    """A whole float as an int, else the float (keeps the JSON tidy)."""
    return int(x) if float(x).is_integer() else float(x)


@dataclass(slots=True)
class _Org:
    id: str
    name: str
    kind: str
    place: str
    cap: int | None = None


@dataclass(slots=True)
class _Site:
    """A building where placements of one organisation sit (hospital, trust base, office)."""

    name: str
    org: int
    place: int
    lat: float
    lon: float


@dataclass(slots=True)
class _Cluster:
    name: str
    places: list[int]
    centre: tuple[float, float]
    hub: int
    hospitals: list[_Site] = field(default_factory=list)
    bases: dict[int, _Site] = field(default_factory=dict)
    pharmacy_orgs: list[int] = field(default_factory=list)
    office: _Site | None = None


@dataclass(slots=True)
class _Supervisor:
    id: str
    name: str
    role: str
    supervises: str
    placements: list[int]
    capacity: int


# ---- the generator ------------------------------------------------------------------------


class _Generator:
    """Builds one round step by step; every array is indexed by pharmacist or placement."""

    def __init__(
        self,
        n_pharmacists: int,
        n_placements: int,
        n_periods: int,
        seed: int,
        streams: bool,
        features: bool,
        round_id: str | None,
    ) -> None:
        self.N = n_pharmacists
        self.L = n_placements
        self.T = n_periods
        self.seed = seed
        self.streams = streams
        self.features = features
        self.round_id = round_id or f"synthetic-{n_pharmacists}x{n_placements}x{n_periods}-s{seed}"
        self.rng = np.random.default_rng(seed)
        self.period_ids = [f"R{t + 1}" for t in range(n_periods)]
        self.max_prefs = 10
        self.max_travel = float(self.rng.choice([20.0, 22.0, 25.0]))
        self.min_sectors = min(3, n_periods)
        self.places: list[Place] = []
        self.place_cluster: list[int] = []
        self.clusters: list[_Cluster] = []
        self.orgs: list[_Org] = []
        self.supervisors: list[_Supervisor] = []
        self.history: dict[int, list[int]] = {}
        self.overrides: dict[tuple[int, int], int] = {}
        self.prefs: list[list[int]] = []
        self.bans: list[tuple[int, int, int | None]] = []
        self.pins: list[tuple[int, int, int]] = []

    # -- orchestration ------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        self._geography()
        self._placements()
        self._practice_networks()
        self._scores()
        self._capacities()
        self._requirements()
        self._supervision()
        self._pharmacists()
        self._travel()
        self._history()
        self._repair()
        self._preferences()
        self._bans()
        self._pins()
        return self._emit()

    # -- geography ----------------------------------------------------------------------

    def _geography(self) -> None:
        rng = self.rng
        k = 1 if self.L < CLUSTER_THRESHOLD else min(MAX_CLUSTERS, max(2, self.L // 50))
        self._nel_cluster()
        if k > 1:
            combos = [(a, b) for a in NAME_PREFIXES for b in NAME_SUFFIXES]
            order = rng.permutation(len(combos))
            names = [combos[i] for i in order[: (k - 1) * 8]]
            for c in range(k - 1):
                self._synthetic_cluster(c, names[c * 8 : (c + 1) * 8])
        self.cluster_weight = np.concatenate([[1.0], rng.uniform(0.7, 1.3, k - 1)])
        self.place_weight = rng.uniform(0.8, 1.2, len(self.places))

    def _add_org(self, org_id: str, name: str, kind: str, place: str) -> int:
        self.orgs.append(_Org(org_id, name, kind, place))
        return len(self.orgs) - 1

    def _nel_cluster(self) -> None:
        first = len(self.places)
        self.places.extend(NEL_PLACES)
        self.place_cluster.extend([0] * len(NEL_PLACES))
        by_code = {p.code: first + i for i, p in enumerate(NEL_PLACES)}
        cluster = _Cluster(
            "North East London", list(by_code.values()), (51.5500, 0.0500), by_code["NEW"]
        )
        acute = {
            code: self._add_org(code, name, "acute_trust", "North East London")
            for code, name in _NEL_ACUTE
        }
        for site, trust, place, lat, lon in _NEL_SITES:
            cluster.hospitals.append(_Site(site, acute[trust], by_code[place], lat, lon))
        nel = "North East London"
        mh = {
            code: self._add_org(code, name, "mental_health_and_community_trust", nel)
            for code, name in _NEL_MH
        }
        for place, trust, base, lat, lon in _NEL_BASES:
            cluster.bases[by_code[place]] = _Site(base, mh[trust], by_code[place], lat, lon)
        for i, company in enumerate(PHARMACY_COMPANIES[:3]):
            cluster.pharmacy_orgs.append(
                self._add_org(f"CPC-NEL-{i + 1}", company, "community_pharmacy", nel)
            )
        icb = self._add_org("NEL-ICB", "NHS North East London ICB", "icb", "North East London")
        cluster.office = _Site("Unex Tower, Stratford", icb, by_code["NEW"], 51.5430, -0.0005)
        self.clusters.append(cluster)

    def _synthetic_cluster(self, c: int, names: list[tuple[str, str]]) -> None:
        """A cluster of seven boroughs: an inner one, six on a ring 6-9 km out."""
        rng = self.rng
        clat, clon = SYNTHETIC_ANCHORS[c]
        cname = names[0][0] + names[0][1]
        first = len(self.places)
        angles = np.arange(6) * (2 * np.pi / 6) + rng.uniform(0, 2 * np.pi)
        ring = rng.uniform(6.0, 9.0, 6)
        dx = np.concatenate([[0.0], ring * np.cos(angles)])
        dy = np.concatenate([[0.0], ring * np.sin(angles)])
        lats, lons = _offset(clat, clon, dx, dy)
        dist = np.hypot(dx, dy)
        dep = np.clip(0.88 - 0.045 * dist + rng.normal(0, 0.1, 7), 0.05, 0.98)
        for i, (a, b) in enumerate(names[1:8]):
            name = a + b
            code = (a[:3] + b[:3]).upper()
            self.places.append(
                Place(name, code, float(lats[i]), float(lons[i]), 3.0 if i == 0 else 3.5,
                      float(np.round(dep[i], 3)))
            )  # fmt: skip
            self.place_cluster.append(c + 1)
        ids = list(range(first, first + 7))
        cluster = _Cluster(cname, ids, (float(clat), float(clon)), ids[0])
        cc = cname[:3].upper() + str(c + 1)
        inner = self.places[ids[0]].name
        trust_a = self._add_org(
            f"ACUTE-{cc}-1", f"{cname} University Hospitals NHS Trust", "acute_trust", cname
        )
        trust_b = self._add_org(
            f"ACUTE-{cc}-2", f"{self.places[ids[4]].name} Hospitals NHS Foundation Trust",
            "acute_trust", cname,
        )  # fmt: skip
        for j, (pi, trust) in enumerate(((0, trust_a), (2, trust_a), (4, trust_b))):
            place = self.places[ids[pi]]
            slat, slon = _offset(place.lat, place.lon, rng.normal(0, 1.0, 1), rng.normal(0, 1.0, 1))
            label = "General Hospital" if j != 1 else "Community Hospital"
            cluster.hospitals.append(
                _Site(f"{place.name} {label}", trust, ids[pi], float(slat[0]), float(slon[0]))
            )
        mh = self._add_org(
            f"MHCT-{cc}", f"{cname} Partnership NHS Foundation Trust",
            "mental_health_and_community_trust", cname,
        )  # fmt: skip
        for pid in ids:
            place = self.places[pid]
            blat, blon = _offset(place.lat, place.lon, rng.normal(0, 1.0, 1), rng.normal(0, 1.0, 1))
            cluster.bases[pid] = _Site(
                f"{place.name} Health and Wellbeing Centre", mh, pid, float(blat[0]), float(blon[0])
            )
        for j, k in enumerate(rng.choice(len(PHARMACY_COMPANIES), 3, replace=False)):
            cluster.pharmacy_orgs.append(
                self._add_org(
                    f"CPC-{cc}-{j + 1}", f"{PHARMACY_COMPANIES[int(k)]} ({cname})",
                    "community_pharmacy", cname,
                )
            )  # fmt: skip
        icb = self._add_org(f"ICB-{cc}", f"NHS {cname} ICB", "icb", cname)
        olat, olon = _offset(clat, clon, rng.normal(0, 0.8, 1), rng.normal(0, 0.8, 1))
        cluster.office = _Site(f"{inner} Civic Centre", icb, ids[0], float(olat[0]), float(olon[0]))
        self.clusters.append(cluster)

    # -- placements -----------------------------------------------------------------------

    def _placements(self) -> None:
        """Sector, place, site, organisation and location of every placement."""
        rng = self.rng
        per_cluster = _apportion(self.L, self.cluster_weight, minimum=4)
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
            host_counts = _apportion(lc - n_gp, HOST_SHARES, minimum=1)
            pw = self.place_weight[cluster.places]
            counts = {GP: n_gp}
            counts.update(
                {s: int(n) for s, n in zip(HOST_SECTORS, host_counts, strict=True)}
            )
            for s in (GP, CP, HOSP, MH, CS, IC):
                n = counts[s]
                if n == 0:
                    continue
                if s in (GP, CP):
                    alloc = _apportion(n, pw, minimum=1 if n >= len(pw) else 0)
                    pids = np.repeat(np.asarray(cluster.places), alloc)
                    radius = np.array([self.places[p].radius_km for p in pids])
                    centre_lat = np.array([self.places[p].lat for p in pids])
                    centre_lon = np.array([self.places[p].lon for p in pids])
                    la, lo = _offset(
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
                    alloc = _apportion(n, rng.uniform(0.8, 1.4, len(sites)), minimum=1)
                elif s in (MH, CS):
                    sites = [cluster.bases[p] for p in cluster.places]
                    alloc = _apportion(n, pw, minimum=1 if n >= len(pw) else 0)
                else:
                    assert cluster.office is not None
                    sites = [cluster.office]
                    alloc = np.array([n], dtype=np.int64)
                for st, m in zip(sites, alloc, strict=True):
                    jitter = 0.0 if s in (HOSP, IC) else 0.4
                    la, lo = _offset(
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
        self.cluster = np.asarray(self.place_cluster, dtype=np.int64)[self.place]
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
                oi = self._add_org(f"PCN-{pl.code}-{k + 1:02d}", name, "pcn", pl.name)
                self.org[chunk] = oi

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

    # -- supply ---------------------------------------------------------------------------

    def _pool_share(self, pool: int) -> float:
        if self.streams:
            return 1.0
        gp = 1.0 / self.min_sectors
        return gp if pool == 0 else 1.0 - gp

    def _capacities(self) -> None:
        """Seats per placement and period, sized per cluster and pool against the cohort."""
        rng = self.rng
        self.pharmacists_per_cluster = _apportion(self.N, self.cluster_weight)
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

    # -- who may hold what ----------------------------------------------------------------

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
        self, org: _Org, gi: int, group: IntArray, role: str, whom: str, share: float, seats: int
    ) -> None:
        sid = f"SUP-{org.id}-{len(self.supervisors) + 1:04d}"
        title = {"prescribing": "Designated prescribing practitioner",
                 "educational": "Educational supervisor",
                 "clinical": "Clinical supervisor"}[role]  # fmt: skip
        self.supervisors.append(
            _Supervisor(
                sid, f"{title} {gi + 1}, {org.name}", role, whom,
                [int(x) for x in sorted(group)], max(1, math.ceil(share * seats)),
            )
        )  # fmt: skip

    # -- the cohort -----------------------------------------------------------------------

    def _pharmacists(self) -> None:
        rng = self.rng
        N = self.N
        cluster = np.repeat(np.arange(len(self.clusters)), self.pharmacists_per_cluster)
        place = np.empty(N, dtype=np.int64)
        for c, cl in enumerate(self.clusters):
            idx = np.flatnonzero(cluster == c)
            w = self.place_weight[cl.places]
            place[idx] = rng.choice(np.asarray(cl.places), len(idx), p=w / w.sum())
        self.ph_cluster = cluster
        self.ph_place = place
        radius = np.array([self.places[p].radius_km for p in place])
        plat = np.array([self.places[p].lat for p in place])
        plon = np.array([self.places[p].lon for p in place])
        lat, lon = _offset(plat, plon, rng.normal(0, 1, N) * radius * 0.8,
                           rng.normal(0, 1, N) * radius * 0.8)  # fmt: skip
        # About 8 % commute from further out, around the cluster.
        far = rng.random(N) < 0.08
        clat = np.array([self.clusters[c].centre[0] for c in cluster])
        clon = np.array([self.clusters[c].centre[1] for c in cluster])
        flat, flon = _offset(clat, clon, rng.normal(0, 9, N), rng.normal(0, 9, N))
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
            self.home_lat[rows, None], self.home_lon[rows, None], self.lat[None, :],
            self.lon[None, :],
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
        reach = self._travel_cost(rows) <= self.limit[rows, None]
        ok = reach & (~self.req_ip[None, :] | self.ip[rows, None])
        ok &= self.experience[rows, None] >= self.req_exp[None, :]
        bits = np.where(self.req_skill >= 0, np.left_shift(1, np.maximum(self.req_skill, 0)), 0)
        ok &= (self.skill_bits[rows, None] & bits[None, :]) == bits[None, :]
        return ok

    def _refresh_eligible(self, rows: IntArray) -> None:
        """Recompute ``self.elig`` rows: travel, requirements, and no repeat of history."""
        for start in range(0, len(rows), 1024):
            chunk = rows[start : start + 1024]
            self.elig[chunk] = self._static_eligible(chunk)
        for p in (int(x) for x in rows):
            rot = [h for h in self.history.get(p, []) if self.rotates[h]]
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
        draw = rng.random(self.N) < 0.2
        draw[int(rng.integers(self.N))] = True  # at least one, even in a small cohort
        for p in (int(x) for x in np.flatnonzero(draw)):
            cand = np.flatnonzero(self.elig[p] & self.rotates)
            if len(cand) == 0:
                continue
            first = int(rng.choice(cand))
            hist = [first]
            if rng.random() < 0.3:
                other = cand[self.sector[cand] != self.sector[first]]
                if len(other):
                    hist.append(int(rng.choice(other)))
            self.history[p] = hist
            self.elig[p, hist] = False

    def _available(self) -> IntArray:
        return np.asarray(self.T - self.unavailable.sum(axis=1), dtype=np.int64)

    def _short(self, rows: IntArray) -> IntArray:
        """Rows (pharmacists) whose reachable placements leave too little choice."""
        ok = self.elig[rows]
        avail = self._available()[rows]
        need = np.minimum(self.min_sectors, avail)
        covered = np.zeros((len(rows), 6), dtype=np.bool_)
        for s in range(6):
            covered[:, s] = ok[:, self.sector == s].any(axis=1)
        n_gp = ok[:, self.is_gp].sum(axis=1)
        if self.streams:
            host_sectors = covered[:, 1:].sum(axis=1)
            n_host = ok[:, ~self.is_gp].sum(axis=1)
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
            inner = np.array([self.clusters[c].hub for c in self.ph_cluster[short]])
            plat = np.array([self.places[p].lat for p in inner])
            plon = np.array([self.places[p].lon for p in inner])
            lat, lon = _offset(plat, plon, rng.normal(0, 1, len(short)),
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
        reputation = rng.normal(0, 0.4, self.L) + SECTOR_APPEAL[self.sector]
        reputation -= 0.1 * self.hard_to_recruit
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
        used = np.zeros((self.L, self.T), dtype=np.int64)
        used_org = np.zeros((len(self.orgs), self.T), dtype=np.int64)
        used_sup = np.zeros((len(self.supervisors), self.T), dtype=np.int64)
        sup_of: dict[int, list[int]] = {}
        for si, sup in enumerate(self.supervisors):
            for li in sup.placements:
                sup_of.setdefault(li, []).append(si)
        banned: dict[int, list[tuple[int, int | None]]] = {}
        for p, li, t in self.bans:
            banned.setdefault(p, []).append((li, t))
        avail = self._available()

        def counted(si: int, p: int) -> bool:
            whom = self.supervisors[si].supervises
            if whom == "non_prescribers":
                return not bool(self.ip[p])
            if whom == "early_years":
                return bool(self.experience[p] < 2)
            return True

        def fits(p: int, li: int, t: int) -> bool:
            if self.cap[li, t] - used[li, t] < 1:
                return False
            if any(b == li and (bt is None or bt == t) for b, bt in banned.get(p, [])):
                return False
            org = self.orgs[int(self.org[li])]
            if org.cap is not None and used_org[int(self.org[li]), t] >= org.cap:
                return False
            return all(
                used_sup[si, t] < self.supervisors[si].capacity
                for si in sup_of.get(li, [])
                if counted(si, p)
            )

        def take(p: int, li: int, t: int) -> None:
            used[li, t] += 1
            used_org[int(self.org[li]), t] += 1
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
                for li in (x for x in ranked if self.is_gp[x]):
                    if all(fits(p, li, t) for t in periods):
                        for t in periods:
                            take(p, li, t)
                        done += 1
                        break
                continue
            t = periods[int(rng.integers(len(periods)))]
            for li in ranked:
                if self.streams and self.is_gp[li]:
                    continue
                # A lone available period must cover general practice (required sector).
                if not self.streams and avail[p] == 1 and not self.is_gp[li]:
                    continue
                if fits(p, li, t):
                    take(p, li, t)
                    done += 1
                    break

    # -- output ---------------------------------------------------------------------------

    def _placement_ids(self) -> tuple[list[str], IntArray]:
        """Ids like GP-BD-001 numbered within prefix and place; and the output order."""
        stream_key = self.pool if self.streams else np.zeros(self.L, dtype=np.int64)
        order = np.lexsort((self.lon, self.place, self.sector, stream_key))
        counts: dict[tuple[int, int], int] = {}
        for li in order:
            key = (int(self.sector[li]), int(self.place[li]))
            counts[key] = counts.get(key, 0) + 1
        width = max(3, len(str(max(counts.values()))))
        seen: dict[tuple[int, int], int] = {}
        ids = [""] * self.L
        for li in order:
            key = (int(self.sector[li]), int(self.place[li]))
            seen[key] = seen.get(key, 0) + 1
            ids[li] = f"{PREFIX[key[0]]}-{self.places[key[1]].code}-{seen[key]:0{width}d}"
        return ids, order

    def _per_period_value(self, row: IntArray, omit_zero: bool) -> dict[str, int]:
        return {
            t: int(v) for t, v in zip(self.period_ids, row, strict=True) if v or not omit_zero
        }

    def _emit(self) -> dict[str, Any]:
        rng = self.rng
        ids, order = self._placement_ids()
        placements: list[dict[str, Any]] = []
        for li in order:
            s = int(self.sector[li])
            if s == GP:
                name = f"{rng.choice(PRACTICE_WORDS)} {rng.choice(PRACTICE_KINDS)}"
            elif s == CP:
                name = f"{rng.choice(PRACTICE_WORDS)} Pharmacy"
            else:
                name = f"{self.site[li]}, {rng.choice(UNITS[s])}"
            rec: dict[str, Any] = {"id": ids[li], "name": name,
                                   "organisation": self.orgs[int(self.org[li])].id}  # fmt: skip
            if self.streams:
                rec["stream"] = "practice" if self.is_gp[li] else "host"
            rec["sector"] = SECTORS[s]
            rec["place"] = self.places[int(self.place[li])].name
            rec["location"] = {"lat": float(self.lat[li]), "lon": float(self.lon[li])}
            if self.per_period[li]:
                rec["capacity"] = self._per_period_value(self.cap[li], bool(self.omit_zero[li]))
            else:
                rec["capacity"] = int(self.cap[li, 0])
            if self.min_fill[li].any():
                if self.min_fill_per_period[li]:
                    rec["min_fill"] = self._per_period_value(self.min_fill[li], True)
                else:
                    rec["min_fill"] = int(self.min_fill[li].max())
            rec["hard_to_recruit"] = int(self.hard_to_recruit[li])
            rec["population_health"] = int(self.population_health[li])
            requires: dict[str, Any] = {}
            if self.req_ip[li]:
                requires["independent_prescriber"] = True
            if self.req_exp[li] > 0:
                requires["min_experience_years"] = _json_number(self.req_exp[li])
            if self.req_skill[li] >= 0:
                requires["skills"] = [SKILLS[int(self.req_skill[li])]]
            if requires:
                rec["requires"] = requires
            placements.append(rec)

        organisations: list[dict[str, Any]] = []
        for org in self.orgs:
            orec: dict[str, Any] = {"id": org.id, "name": org.name, "kind": org.kind,
                                    "place": org.place}  # fmt: skip
            if org.cap is not None:
                orec["max_pharmacists"] = org.cap
            organisations.append(orec)

        pharmacists: list[dict[str, Any]] = []
        width = max(5, len(str(self.N)))
        ph_ids = [f"PH-{p + 1:0{width}d}" for p in range(self.N)]
        for p in range(self.N):
            prec: dict[str, Any] = {
                "id": ph_ids[p],
                "name": self.names[p],
                "home": {"lat": float(self.home_lat[p]), "lon": float(self.home_lon[p])},
            }
            if not np.isnan(self.personal_travel[p]):
                prec["max_travel_km"] = _json_number(self.personal_travel[p])
            if self.features:
                prec["independent_prescriber"] = bool(self.ip[p])
                prec["experience_years"] = _json_number(self.experience[p])
                prec["skills"] = [
                    SKILLS[k] for k in range(len(SKILLS)) if self.skill_bits[p] >> k & 1
                ]
                prec["unavailable"] = [
                    self.period_ids[t] for t in range(self.T) if self.unavailable[p, t]
                ]
                prec["history"] = [ids[h] for h in self.history.get(p, [])]
            prec["preferences"] = [ids[li] for li in self.prefs[p]]
            pharmacists.append(prec)

        weeks = max(1, 52 // self.T)
        start = dt.date(2027, 1, 4)
        data: dict[str, Any] = {
            "format": FORMAT,
            "round": {
                "id": self.round_id,
                "name": f"Synthetic SPIN round: {self.N} pharmacists, {self.L} placements, "
                f"{self.T} periods (seed {self.seed})",
                "ics": "North East London"
                if len(self.clusters) == 1
                else f"Synthetic England ({len(self.clusters)} ICS-like clusters)",
            },
            "periods": [
                {"id": t, "start": (start + dt.timedelta(weeks=weeks * i)).isoformat(),
                 "weeks": weeks}
                for i, t in enumerate(self.period_ids)
            ],
        }
        if self.streams:
            data["streams"] = [
                {"id": "practice", "sessions": 6, "rotate": False},
                {"id": "host", "sessions": 4, "rotate": True},
            ]
        data["organisations"] = organisations
        data["placements"] = placements
        if self.supervisors:
            data["supervisors"] = [
                {"id": s.id, "name": s.name, "role": s.role, "supervises": s.supervises,
                 "placements": [ids[li] for li in s.placements], "capacity": s.capacity}
                for s in self.supervisors
            ]  # fmt: skip
        data["pharmacists"] = pharmacists
        if self.features:
            data["pins"] = [
                {"pharmacist": ph_ids[p], "period": self.period_ids[t], "placement": ids[li]}
                for p, li, t in sorted(self.pins)
            ]
            data["bans"] = [
                {"pharmacist": ph_ids[p], "placement": ids[li],
                 "period": None if t is None else self.period_ids[t]}
                for p, li, t in self.bans
            ]  # fmt: skip
            data["travel"] = [
                {"pharmacist": ph_ids[p], "placement": ids[li], "cost": c}
                for (p, li), c in sorted(self.overrides.items())
            ]
        data["rules"] = {
            "min_distinct_sectors": self.min_sectors,
            "required_sectors": ["general_practice"],
            "max_travel_km": _json_number(self.max_travel),
            "max_preferences": self.max_prefs,
            "allow_unassigned": True,
        }
        data["weights"] = Weights().model_dump()
        return data
