"""Synthetic rounds from :func:`matcher.synthetic.generate_round`.

Every property is checked against the round itself (spec §1-§3), never against the
generator's internals: eligibility comes from :func:`matcher.checker.eligibility_failures` or
an independent numpy recomputation of spec §2 over all pairs.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import cache

import numpy as np
import numpy.typing as npt
import pytest

from matcher.checker import eligibility_failures, violations
from matcher.domain import SECTORS, Round, Weights
from matcher.geo import travel_km
from matcher.places import NEL_PLACES
from matcher.synthetic import (
    CLUSTER_THRESHOLD,
    NEL_PLACE_RECORDS,
    generate_round,
    generate_round_data,
    validate_round_data,
)
from matcher.validation import parse_round

Case = tuple[int, int, int, bool, bool]  # pharmacists, placements, periods, streams, features

CASES: tuple[Case, ...] = (
    (30, 60, 3, True, True),
    (30, 60, 3, False, True),
    (30, 60, 3, True, False),
    (120, 150, 2, True, True),
    (100, 150, 4, False, True),
    (300, 400, 3, True, True),
    (300, 400, 3, False, False),
    (60, 80, 1, False, True),
    (2000, 1500, 3, True, True),
)
FEATURE_CASES = tuple(c for c in CASES if c[4])
LARGE: Case = (2000, 1500, 3, True, True)


def case_id(case: Case) -> str:
    n, m, t, streams, features = case
    return f"{n}x{m}x{t}-{'streams' if streams else 'single'}-{'full' if features else 'core'}"


@cache
def gen(case: Case, seed: int = 0) -> Round:
    n, m, t, streams, features = case
    return generate_round(n, m, t, seed=seed, streams=streams, features=features)


def static_eligibility(rnd: Round) -> npt.NDArray[np.bool_]:
    """Spec §2.2-2.4 for every (pharmacist, placement), period aside: travel (with the
    explicit costs), requirements, bans for every period, no repeat of history in a rotating
    stream."""
    ph_idx, pl_idx = rnd.pharmacist_index, rnd.placement_index
    home = np.array([[p.home.lat, p.home.lon] for p in rnd.pharmacists])
    loc = np.array([[pl.location.lat, pl.location.lon] for pl in rnd.placements])
    cost = travel_km(home[:, 0, None], home[:, 1, None], loc[None, :, 0], loc[None, :, 1])
    for tc in rnd.travel:
        cost[ph_idx[tc.pharmacist], pl_idx[tc.placement]] = tc.cost
    limit = np.array([np.inf if (m := rnd.max_travel(p)) is None else m for p in rnd.pharmacists])
    ok = cost <= limit[:, None]
    ip = np.array([p.independent_prescriber for p in rnd.pharmacists])
    exp = np.array([p.experience_years for p in rnd.pharmacists])
    ok &= ~np.array([pl.requires.independent_prescriber for pl in rnd.placements]) | ip[:, None]
    ok &= exp[:, None] >= np.array([pl.requires.min_experience_years for pl in rnd.placements])
    for j, pl in enumerate(rnd.placements):
        for skill in pl.requires.skills:
            ok[:, j] &= np.array([skill in p.skills for p in rnd.pharmacists])
    for ban in rnd.bans:
        if ban.period is None:
            ok[ph_idx[ban.pharmacist], pl_idx[ban.placement]] = False
    for i, p in enumerate(rnd.pharmacists):
        for h in p.history:
            if rnd.stream_of(rnd.placement(h)).rotate:
                ok[i, pl_idx[h]] = False
    return ok


def effective_seats(rnd: Round, period: str, stream: str | None) -> int:
    """Seats of a stream (all streams for None) in a period, organisation caps applied."""
    by_org: dict[str | None, int] = defaultdict(int)
    for pl in rnd.placements:
        if stream is None or rnd.stream_of(pl).id == stream:
            by_org[pl.organisation] += pl.capacity_in(period)
    caps = {o.id: o.max_pharmacists for o in rnd.organisations}
    return sum(
        seats if org is None or caps.get(org) is None else min(seats, caps[org] or 0)
        for org, seats in by_org.items()
    )


# ---- arguments, determinism, identity -----------------------------------------------------------


@pytest.mark.parametrize(
    ("n_pharmacists", "n_placements", "n_periods"), [(0, 10, 3), (10, 3, 3), (10, 10, 0)]
)
def test_rejects_impossible_sizes(n_pharmacists: int, n_placements: int, n_periods: int) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate_round(n_pharmacists, n_placements, n_periods)


def test_same_seed_gives_the_same_round() -> None:
    a = generate_round(50, 70, 3, seed=7)
    b = generate_round(50, 70, 3, seed=7)
    assert a == b
    assert a.to_data() == b.to_data()
    assert generate_round_data(300, 400, seed=3) == generate_round_data(300, 400, seed=3)


def test_different_seed_gives_a_different_round() -> None:
    a, b = generate_round(50, 70, 3, seed=7), generate_round(50, 70, 3, seed=8)
    assert a != b
    assert [p.home for p in a.pharmacists] != [p.home for p in b.pharmacists]
    assert [p.preferences for p in a.pharmacists] != [p.preferences for p in b.pharmacists]


@pytest.mark.parametrize(("n", "m", "t"), [(1, 4, 1), (3, 5, 2), (10, 8, 3)])
@pytest.mark.parametrize("streams", [True, False])
def test_tiny_sizes_still_give_valid_rounds(n: int, m: int, t: int, streams: bool) -> None:
    rnd = generate_round(n, m, t, seed=2, streams=streams)
    assert (len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)) == (n, m, t)
    assert parse_round(rnd.to_data()) == rnd


def test_round_identity() -> None:
    rnd = gen((30, 60, 3, True, True))
    assert rnd.round.id == "synthetic-30x60x3-s0"
    assert generate_round(30, 60, round_id="my-round").round.id == "my-round"


def test_validate_round_data_is_parse_round() -> None:
    data = generate_round_data(30, 60, seed=4)
    assert validate_round_data(data) == parse_round(data)


# ---- shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_sizes_and_shape(case: Case) -> None:
    n, m, t, streams, _ = case
    rnd = gen(case)
    assert isinstance(rnd, Round)
    assert (len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)) == (n, m, t)
    assert rnd.period_ids == tuple(f"R{i + 1}" for i in range(t))
    if streams:
        assert [(s.id, s.rotate) for s in rnd.streams] == [("practice", False), ("host", True)]
        for pl in rnd.placements:
            assert pl.stream == ("practice" if pl.sector == "general_practice" else "host")
    else:
        assert rnd.streams == ()
        assert all(pl.stream is None for pl in rnd.placements)
    assert {pl.sector for pl in rnd.placements} == set(SECTORS)
    assert rnd.rules.min_distinct_sectors == min(3, t)
    assert rnd.rules.required_sectors == ("general_practice",)
    assert rnd.rules.max_travel_km is not None
    assert 20 <= rnd.rules.max_travel_km <= 25
    assert rnd.weights == Weights()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_output_round_trips_through_validation(case: Case) -> None:
    rnd = gen(case)
    assert parse_round(rnd.to_data()) == rnd


def test_ids_and_names_look_real() -> None:
    rnd = gen((300, 400, 3, True, True))
    assert all(re.fullmatch(r"PH-\d{5}", p.id) for p in rnd.pharmacists)
    for pl in rnd.placements:
        assert re.fullmatch(r"(GP|CP|HOSP|MH|CS|ICB)-[A-Z]{2,6}-\d{3}", pl.id), pl.id
    assert Counter(pl.id.split("-")[0] for pl in rnd.placements).keys() == {
        "GP", "CP", "HOSP", "MH", "CS", "ICB"}  # fmt: skip
    assert all(p.name and " " in p.name for p in rnd.pharmacists)
    assert {o.kind for o in rnd.organisations} >= {"pcn", "acute_trust", "icb"}
    pcn = {o.id for o in rnd.organisations if o.kind == "pcn"}
    assert all(pl.organisation in pcn for pl in rnd.placements if pl.sector == "general_practice")


def test_small_rounds_are_north_east_london() -> None:
    rnd = gen((30, 60, 3, True, True))
    assert rnd.round.ics == "North East London"
    assert {pl.place for pl in rnd.placements} <= set(NEL_PLACES)
    assert static_eligibility(rnd).mean() > 0.7  # one ICS: almost everything within reach


def test_nel_place_records_are_the_canonical_places() -> None:
    assert tuple(p.name for p in NEL_PLACE_RECORDS) == NEL_PLACES
    assert len({p.code for p in NEL_PLACE_RECORDS}) == len(NEL_PLACES)


def test_large_rounds_span_several_clusters_with_limited_reach() -> None:
    rnd = gen(LARGE)
    assert len(rnd.placements) >= CLUSTER_THRESHOLD
    assert "ICS-like clusters" in (rnd.round.ics or "")
    assert len({pl.place for pl in rnd.placements}) >= 5 * 7
    reach = static_eligibility(rnd)
    assert 0.08 <= reach.mean() <= 0.22
    lats = [pl.location.lat for pl in rnd.placements]
    assert max(lats) - min(lats) > 3  # spread across England


def test_scores_follow_a_deprivation_gradient() -> None:
    rnd = gen(LARGE)
    ph = np.array([pl.population_health for pl in rnd.placements])
    htr = np.array([pl.hard_to_recruit for pl in rnd.placements])
    assert set(htr.tolist()) == {0, 1, 2, 3}
    assert np.corrcoef(ph, htr)[0, 1] > 0.5
    small = gen((30, 60, 3, True, True))
    by_place: dict[str, list[int]] = defaultdict(list)
    for pl in small.placements:
        by_place[pl.place or ""].append(pl.population_health)
    assert np.mean(by_place["Barking and Dagenham"]) > np.mean(by_place["Havering"]) + 15


# ---- supply -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_capacity_per_stream_covers_demand(case: Case) -> None:
    rnd = gen(case)
    t_count = len(rnd.periods)
    for t in rnd.period_ids:
        available = sum(t not in p.unavailable for p in rnd.pharmacists)
        if rnd.streams:
            for s in rnd.streams:
                assert effective_seats(rnd, t, s.id) >= 1.2 * available, (t, s.id)
        else:
            assert effective_seats(rnd, t, None) >= 1.2 * available, t
            gp = sum(pl.capacity_in(t) for pl in rnd.placements
                     if pl.sector == "general_practice")  # fmt: skip
            assert gp >= 1.2 * available / min(3, t_count), t


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_pharmacist_can_reach_enough_sectors(case: Case) -> None:
    rnd = gen(case)
    ok = static_eligibility(rnd)
    sector = np.array([pl.sector for pl in rnd.placements])
    gp = sector == "general_practice"
    for i, p in enumerate(rnd.pharmacists):
        available = len(rnd.available_periods(p))
        need = min(rnd.rules.min_distinct_sectors, available)
        if available == 0:
            continue
        reach = set(sector[ok[i]].tolist())
        assert ok[i, gp].any(), p.id
        if rnd.streams:
            assert len(reach - {"general_practice"}) >= need - 1, p.id
            assert ok[i, ~gp].sum() >= available, p.id
        else:
            assert len(reach) >= need, p.id
            assert ok[i].sum() >= available, p.id


# ---- features -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", FEATURE_CASES, ids=case_id)
def test_every_feature_is_present(case: Case) -> None:
    rnd = gen(case)
    pls, phs = rnd.placements, rnd.pharmacists
    assert any(isinstance(pl.capacity, dict) for pl in pls)
    assert any(pl.min_fill for pl in pls)
    assert any(o.max_pharmacists is not None for o in rnd.organisations)
    assert {s.supervises for s in rnd.supervisors} == {"all", "non_prescribers", "early_years"}
    assert all(s.capacity >= 1 for s in rnd.supervisors)
    assert any(p.independent_prescriber for p in phs)
    assert not all(p.independent_prescriber for p in phs)
    assert any(p.experience_years < 2 for p in phs)
    assert any(p.experience_years >= 2 for p in phs)
    assert any(p.skills for p in phs)
    assert any(pl.requires.independent_prescriber for pl in pls)
    assert any(pl.requires.min_experience_years > 0 for pl in pls)
    assert any(pl.requires.skills for pl in pls)
    if len(rnd.periods) > 1:
        assert any(p.unavailable for p in phs)
    assert all(len(p.unavailable) < len(rnd.periods) for p in phs)
    assert any(p.history for p in phs)
    assert all(p.preferences for p in phs)
    assert rnd.pins
    assert rnd.bans
    assert rnd.travel
    assert any(p.max_travel_km is not None for p in phs)


@pytest.mark.parametrize("case", FEATURE_CASES, ids=case_id)
def test_feature_densities_are_realistic(case: Case) -> None:
    rnd = gen(case)
    n, m, t = len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)
    if n < 100:
        return  # too few to measure a rate
    off = sum(len(p.unavailable) for p in rnd.pharmacists) / (n * t)
    assert 0.005 <= off <= 0.05  # a few % of pharmacist-periods
    assert 0.25 <= np.mean([p.independent_prescriber for p in rnd.pharmacists]) <= 0.55
    assert 0.1 <= np.mean([bool(p.history) for p in rnd.pharmacists]) <= 0.3
    assert 0.05 <= np.mean([bool(pl.min_fill) for pl in rnd.placements]) <= 0.3
    assert 0.02 <= np.mean([isinstance(pl.capacity, dict) for pl in rnd.placements]) <= 0.2
    covered = {lid for s in rnd.supervisors for lid in s.placements}
    assert 0.15 <= len(covered) / m <= 0.6
    assert len({p.pharmacist for p in rnd.pins}) <= 0.05 * n
    assert len(rnd.bans) <= 0.05 * n


def test_without_features_only_the_core_remains() -> None:
    for case in (c for c in CASES if not c[4]):
        rnd = gen(case)
        assert not (rnd.supervisors)
        assert not (rnd.pins)
        assert not (rnd.bans)
        assert not rnd.travel
        assert all(isinstance(pl.capacity, int) and pl.min_fill == 0 for pl in rnd.placements)
        assert all(pl.requires == type(pl.requires)() for pl in rnd.placements)
        assert all(o.max_pharmacists is None for o in rnd.organisations)
        for p in rnd.pharmacists:
            assert not (p.unavailable)
            assert not (p.history)
            assert not (p.skills)
            assert not p.independent_prescriber
            assert p.max_travel_km is None
            assert p.preferences


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_preferences_are_ranked_reachable_wishes(case: Case) -> None:
    rnd = gen(case)
    ok = static_eligibility(rnd)
    idx = rnd.placement_index
    in_reach = total = 0
    for i, p in enumerate(rnd.pharmacists):
        assert 1 <= len(p.preferences) <= rnd.rules.max_preferences
        assert len(set(p.preferences)) == len(p.preferences)
        assert not set(p.preferences) & set(p.history)
        in_reach += sum(bool(ok[i, idx[lid]]) for lid in p.preferences)
        total += len(p.preferences)
    assert in_reach / total >= 0.9


@pytest.mark.parametrize("case", FEATURE_CASES, ids=case_id)
def test_history_is_consistent(case: Case) -> None:
    rnd = gen(case)
    for p in rnd.pharmacists:
        sectors = [rnd.placement(h).sector for h in p.history]
        assert len(set(sectors)) == len(sectors), p.id  # distinct sectors
        assert all(rnd.stream_of(rnd.placement(h)).rotate for h in p.history)


@pytest.mark.parametrize("case", FEATURE_CASES, ids=case_id)
def test_pins_are_eligible_and_fit_together(case: Case) -> None:
    rnd = gen(case)
    pins = [(p.pharmacist, p.period, p.placement) for p in rnd.pins]
    assert len(set(pins)) == len(pins)
    for p, t, lid in pins:
        assert eligibility_failures(rnd, p, lid, t) == [], (p, t, lid)
    # Capacity, organisation caps, supervision, one per stream, rotation, continuity: the
    # pins alone, as an allocation, break none of the rules that partial allocations obey.
    shared = {"eligibility", "one_per_stream", "capacity", "organisation_cap", "supervision",
              "rotation", "continuity", "pin"}  # fmt: skip
    assert [v for v in violations(rnd, pins) if v.rule in shared] == []
    by_slot = Counter((p, t, rnd.stream_of(rnd.placement(lid)).id) for p, t, lid in pins)
    assert max(by_slot.values()) == 1
    # A pinned practice (non-rotating stream) is pinned in every period the pharmacist is
    # available, and a pharmacist has at most one pinned host placement.
    by_pharmacist: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for p, t, lid in pins:
        by_pharmacist[p].append((t, lid))
    for p, held in by_pharmacist.items():
        ph = rnd.pharmacist(p)
        fixed = [(t, lid) for t, lid in held if not rnd.stream_of(rnd.placement(lid)).rotate]
        if fixed:
            assert len({lid for _, lid in fixed}) == 1
            assert sorted(t for t, _ in fixed) == sorted(rnd.available_periods(ph))
        assert len(held) - len(fixed) <= 1
        if not rnd.streams and len(rnd.available_periods(ph)) == 1:
            assert all(rnd.placement(lid).sector == "general_practice" for _, lid in held)


def test_bans_and_travel_overrides_are_plausible() -> None:
    rnd = gen(LARGE)
    assert all(b.period is None or b.period in rnd.period_ids for b in rnd.bans)
    assert any(b.period is None for b in rnd.bans)
    assert any(b.period for b in rnd.bans)
    for b in rnd.bans:
        assert b.placement not in rnd.pharmacist(b.pharmacist).preferences
    pairs = [(tc.pharmacist, tc.placement) for tc in rnd.travel]
    assert len(set(pairs)) == len(pairs)
    assert all(tc.cost >= 1 for tc in rnd.travel)


# ---- scale --------------------------------------------------------------------------------


@pytest.mark.slow
def test_national_scale_generates() -> None:
    # How long it takes is a benchmark figure (benchmarks/scale_probe.py), not a test.
    rnd = generate_round(5000, 2500, 4, seed=1)
    assert (len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)) == (5000, 2500, 4)
