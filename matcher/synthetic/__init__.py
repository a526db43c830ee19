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

The package, from the bottom up:

- :mod:`~matcher.synthetic.shape`: the round's sizes and options, sector and skill vocabulary;
- :mod:`~matcher.synthetic.places`: places, clusters, their organisations and sites;
- :mod:`~matcher.synthetic.supply`: placements, seats, requirements and supervisors;
- :mod:`~matcher.synthetic.people`: pharmacists, travel, eligibility, histories,
  preferences, bans and pins;
- :mod:`~matcher.synthetic.emit`: the drafts written out as ``spin-round/1`` data;
- :mod:`~matcher.synthetic.generator`: :func:`generate_round`, :func:`generate_round_data`
  and :func:`validate_round_data`, which run the steps in their fixed order.
"""

from __future__ import annotations

from matcher.synthetic.generator import generate_round, generate_round_data, validate_round_data
from matcher.synthetic.places import CLUSTER_THRESHOLD, NEL_PLACE_RECORDS, Place
from matcher.synthetic.supply import SMALL_ROUND

__all__ = [
    "CLUSTER_THRESHOLD",
    "NEL_PLACE_RECORDS",
    "SMALL_ROUND",
    "Place",
    "generate_round",
    "generate_round_data",
    "validate_round_data",
]
