"""Where a synthetic round happens: places (boroughs), ICS-like clusters and their sites.

Below :data:`CLUSTER_THRESHOLD` placements a round is North East London alone: its seven
places (named by :data:`matcher.places.NEL_PLACES`) with approximate real centres, hospital
sites and trust bases. From :data:`CLUSTER_THRESHOLD` up, :func:`draw_geography` adds up to
six synthetic clusters of seven boroughs with made-up names around anchors across England.
Each cluster brings its organisations (acute and mental-health trusts, community pharmacy
companies, the ICB) and the sites where their placements sit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from matcher.places import NEL_PLACES
from matcher.synthetic.shape import FloatArray

__all__ = [
    "CLUSTER_THRESHOLD",
    "NEL_ICS",
    "NEL_PLACE_RECORDS",
    "PHARMACY_COMPANIES",
    "Cluster",
    "Geography",
    "Org",
    "Place",
    "Site",
    "draw_geography",
    "offset",
]

KM_PER_DEGREE: Final = 6371.0 * math.pi / 180.0
"""Kilometres per degree of latitude on the spec's sphere (radius 6371.0 km)."""

CLUSTER_THRESHOLD: Final = 200
"""From this many placements up, a generated round spans several ICS-like clusters."""

MAX_CLUSTERS: Final = 7
"""Most clusters in a round: North East London and six synthetic ones."""

NEL_ICS: Final = "North East London"
"""Name of the North East London ICS (its cluster, and the place of its trusts)."""

PHARMACY_COMPANIES: Final = (
    "Greenleaf Pharmacy Group", "Riverside Chemists", "Crescent Pharmacy", "Oakwell Healthcare",
    "Meridian Pharmacies", "Bluebell Chemists", "Harbour Pharmacy Group", "Parkview Pharmacies",
    "Kingsway Chemists", "Lantern Pharmacy",
)  # fmt: skip
"""Community pharmacy companies; each cluster has three of them."""

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


# Code, centre, radius (km), deprivation and neighbourhoods of each North East London place.
_NEL_DETAILS: Final[dict[str, tuple[str, float, float, float, float, tuple[str, ...]]]] = {
    "Barking and Dagenham": ("BD", 51.5450, 0.1290, 3.5, 0.92,
        ("Barking", "Dagenham", "Becontree", "Thames View", "Chadwell Heath", "Eastbrook")),
    "City and Hackney": ("CH", 51.5450, -0.0600, 3.0, 0.72,
        ("Hackney Downs", "Shoreditch Park", "Clapton", "Hackney Marshes", "Woodberry",
         "London Fields", "Springfield", "Well Street Common")),
    "Havering": ("HAV", 51.5700, 0.2150, 5.0, 0.40,
        ("Romford", "Hornchurch", "Harold Hill", "Upminster", "Rainham")),
    "Newham": ("NEW", 51.5250, 0.0300, 3.5, 0.88,
        ("Stratford", "East Ham", "Plaistow", "Canning Town", "Forest Gate", "Beckton",
         "Manor Park")),
    "Redbridge": ("RED", 51.5750, 0.0750, 3.5, 0.50,
        ("Ilford", "Wanstead", "Seven Kings", "Fairlop", "Loxford")),
    "Tower Hamlets": ("TH", 51.5150, -0.0350, 3.0, 0.86,
        ("Bethnal Green", "Poplar", "Isle of Dogs", "Whitechapel", "Bow", "Stepney",
         "Limehouse")),
    "Waltham Forest": ("WF", 51.5900, -0.0150, 3.5, 0.62,
        ("Walthamstow", "Leyton", "Leytonstone", "Chingford", "Highams Park")),
}  # fmt: skip
if set(_NEL_DETAILS) != set(NEL_PLACES):  # pragma: no cover - a data error, caught on import
    raise RuntimeError("the North East London place details do not match matcher.places")

NEL_PLACE_RECORDS: Final = tuple(Place(name, *_NEL_DETAILS[name]) for name in NEL_PLACES)
"""North East London's 7 places (:data:`matcher.places.NEL_PLACES`, in that order) with
approximate centres, a deprivation index and neighbourhoods (which name the PCNs)."""

# (site, trust, place code, lat, lon) of North East London's acute hospital sites.
NEL_SITES: Final = (
    ("Queen's Hospital", "BHRUT", "HAV", 51.5686, 0.1794),
    ("King George Hospital", "BHRUT", "RED", 51.5762, 0.1096),
    ("Royal London Hospital", "BARTS", "TH", 51.5187, -0.0590),
    ("Newham University Hospital", "BARTS", "NEW", 51.5247, 0.0337),
    ("Whipps Cross Hospital", "BARTS", "WF", 51.5776, 0.0089),
    ("Homerton University Hospital", "HUH", "CH", 51.5469, -0.0456),
)
NEL_ACUTE: Final = (
    ("BHRUT", "Barking, Havering and Redbridge University Hospitals NHS Trust"),
    ("BARTS", "Barts Health NHS Trust"),
    ("HUH", "Homerton Healthcare NHS Foundation Trust"),
)
NEL_MH: Final = (
    ("ELFT", "East London NHS Foundation Trust"),
    ("NELFT", "North East London NHS Foundation Trust"),
)
# (place code, trust, base, lat, lon) of the mental-health and community trusts' bases.
NEL_BASES: Final = (
    ("BD", "NELFT", "Barking Community Hospital", 51.5390, 0.0865),
    ("CH", "ELFT", "City and Hackney Centre for Mental Health", 51.5475, -0.0445),
    ("HAV", "NELFT", "Romford community base", 51.5770, 0.1830),
    ("NEW", "ELFT", "Newham Centre for Mental Health", 51.5235, 0.0345),
    ("RED", "NELFT", "Goodmayes Hospital", 51.5758, 0.1124),
    ("TH", "ELFT", "Tower Hamlets Centre for Mental Health", 51.5245, -0.0440),
    ("WF", "NELFT", "Wood Street Health Centre", 51.5865, -0.0050),
)


def offset(
    lat: FloatArray | float, lon: FloatArray | float, dx_km: FloatArray, dy_km: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Points moved ``dx_km`` east and ``dy_km`` north, rounded to 5 decimals (~1 m)."""
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    new_lat = lat_a + dy_km / KM_PER_DEGREE
    new_lon = lon_a + dx_km / (KM_PER_DEGREE * np.cos(np.radians(lat_a)))
    return np.round(new_lat, 5), np.round(new_lon, 5)


@dataclass(slots=True)
class Org:
    """An organisation being drafted; ``cap`` becomes ``max_pharmacists``."""

    id: str
    name: str
    kind: str
    place: str
    cap: int | None = None


@dataclass(slots=True)
class Site:
    """A building where placements of one organisation sit (hospital, trust base, office)."""

    name: str
    org: int
    place: int
    lat: float
    lon: float


@dataclass(slots=True)
class Cluster:
    """An ICS-like cluster: its places (indices), centre, hub place and sites."""

    name: str
    places: list[int]
    centre: tuple[float, float]
    hub: int
    hospitals: list[Site] = field(default_factory=list)
    bases: dict[int, Site] = field(default_factory=dict)
    pharmacy_orgs: list[int] = field(default_factory=list)
    office: Site | None = None


@dataclass(slots=True)
class Geography:
    """Places, clusters and the clusters' organisations; sites refer to them by index."""

    places: list[Place] = field(default_factory=list)
    place_cluster: list[int] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    orgs: list[Org] = field(default_factory=list)
    cluster_weight: FloatArray = field(default_factory=lambda: np.ones(0))
    place_weight: FloatArray = field(default_factory=lambda: np.ones(0))

    def add_org(self, org_id: str, name: str, kind: str, place: str) -> int:
        """Add an organisation; its index."""
        self.orgs.append(Org(org_id, name, kind, place))
        return len(self.orgs) - 1


def draw_geography(rng: np.random.Generator, n_placements: int) -> Geography:
    """North East London, plus synthetic clusters from :data:`CLUSTER_THRESHOLD` placements."""
    geo = Geography()
    k = 1 if n_placements < CLUSTER_THRESHOLD else min(MAX_CLUSTERS, max(2, n_placements // 50))
    _nel_cluster(geo)
    if k > 1:
        combos = [(a, b) for a in NAME_PREFIXES for b in NAME_SUFFIXES]
        order = rng.permutation(len(combos))
        names = [combos[i] for i in order[: (k - 1) * 8]]
        for c in range(k - 1):
            _synthetic_cluster(geo, rng, c, names[c * 8 : (c + 1) * 8])
    geo.cluster_weight = np.concatenate([[1.0], rng.uniform(0.7, 1.3, k - 1)])
    geo.place_weight = rng.uniform(0.8, 1.2, len(geo.places))
    return geo


def _nel_cluster(geo: Geography) -> None:
    first = len(geo.places)
    geo.places.extend(NEL_PLACE_RECORDS)
    geo.place_cluster.extend([0] * len(NEL_PLACE_RECORDS))
    by_code = {p.code: first + i for i, p in enumerate(NEL_PLACE_RECORDS)}
    cluster = Cluster(NEL_ICS, list(by_code.values()), (51.5500, 0.0500), by_code["NEW"])
    acute = {code: geo.add_org(code, name, "acute_trust", NEL_ICS) for code, name in NEL_ACUTE}
    for site, trust, place, lat, lon in NEL_SITES:
        cluster.hospitals.append(Site(site, acute[trust], by_code[place], lat, lon))
    mh = {
        code: geo.add_org(code, name, "mental_health_and_community_trust", NEL_ICS)
        for code, name in NEL_MH
    }
    for place, trust, base, lat, lon in NEL_BASES:
        cluster.bases[by_code[place]] = Site(base, mh[trust], by_code[place], lat, lon)
    for i, company in enumerate(PHARMACY_COMPANIES[:3]):
        cluster.pharmacy_orgs.append(
            geo.add_org(f"CPC-NEL-{i + 1}", company, "community_pharmacy", NEL_ICS)
        )
    icb = geo.add_org("NEL-ICB", "NHS North East London ICB", "icb", NEL_ICS)
    cluster.office = Site("Unex Tower, Stratford", icb, by_code["NEW"], 51.5430, -0.0005)
    geo.clusters.append(cluster)


def _synthetic_cluster(
    geo: Geography, rng: np.random.Generator, c: int, names: list[tuple[str, str]]
) -> None:
    """A cluster of seven boroughs: an inner one, six on a ring 6-9 km out."""
    clat, clon = SYNTHETIC_ANCHORS[c]
    cname = names[0][0] + names[0][1]
    first = len(geo.places)
    angles = np.arange(6) * (2 * np.pi / 6) + rng.uniform(0, 2 * np.pi)
    ring = rng.uniform(6.0, 9.0, 6)
    dx = np.concatenate([[0.0], ring * np.cos(angles)])
    dy = np.concatenate([[0.0], ring * np.sin(angles)])
    lats, lons = offset(clat, clon, dx, dy)
    dist = np.hypot(dx, dy)
    dep = np.clip(0.88 - 0.045 * dist + rng.normal(0, 0.1, 7), 0.05, 0.98)
    for i, (a, b) in enumerate(names[1:8]):
        name = a + b
        code = (a[:3] + b[:3]).upper()
        geo.places.append(
            Place(name, code, float(lats[i]), float(lons[i]), 3.0 if i == 0 else 3.5,
                  float(np.round(dep[i], 3)))
        )  # fmt: skip
        geo.place_cluster.append(c + 1)
    ids = list(range(first, first + 7))
    cluster = Cluster(cname, ids, (float(clat), float(clon)), ids[0])
    cc = cname[:3].upper() + str(c + 1)
    inner = geo.places[ids[0]].name
    trust_a = geo.add_org(
        f"ACUTE-{cc}-1", f"{cname} University Hospitals NHS Trust", "acute_trust", cname
    )
    trust_b = geo.add_org(
        f"ACUTE-{cc}-2", f"{geo.places[ids[4]].name} Hospitals NHS Foundation Trust",
        "acute_trust", cname,
    )  # fmt: skip
    for j, (pi, trust) in enumerate(((0, trust_a), (2, trust_a), (4, trust_b))):
        place = geo.places[ids[pi]]
        slat, slon = offset(place.lat, place.lon, rng.normal(0, 1.0, 1), rng.normal(0, 1.0, 1))
        label = "General Hospital" if j != 1 else "Community Hospital"
        cluster.hospitals.append(
            Site(f"{place.name} {label}", trust, ids[pi], float(slat[0]), float(slon[0]))
        )
    mh = geo.add_org(
        f"MHCT-{cc}", f"{cname} Partnership NHS Foundation Trust",
        "mental_health_and_community_trust", cname,
    )  # fmt: skip
    for pid in ids:
        place = geo.places[pid]
        blat, blon = offset(place.lat, place.lon, rng.normal(0, 1.0, 1), rng.normal(0, 1.0, 1))
        cluster.bases[pid] = Site(
            f"{place.name} Health and Wellbeing Centre", mh, pid, float(blat[0]), float(blon[0])
        )
    for j, k in enumerate(rng.choice(len(PHARMACY_COMPANIES), 3, replace=False)):
        cluster.pharmacy_orgs.append(
            geo.add_org(
                f"CPC-{cc}-{j + 1}", f"{PHARMACY_COMPANIES[int(k)]} ({cname})",
                "community_pharmacy", cname,
            )
        )  # fmt: skip
    icb = geo.add_org(f"ICB-{cc}", f"NHS {cname} ICB", "icb", cname)
    olat, olon = offset(clat, clon, rng.normal(0, 0.8, 1), rng.normal(0, 0.8, 1))
    cluster.office = Site(f"{inner} Civic Centre", icb, ids[0], float(olat[0]), float(olon[0]))
    geo.clusters.append(cluster)
