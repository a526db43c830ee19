"""The sample rounds of ``data/samples/``: shape, realism, feasibility and reproducibility.

Feasibility is shown without the project's solver: :func:`best_allocation` is a compact,
independent CP-SAT model of spec §3 (hard rules) and §4 (objective, without fairness and
change), and every allocation it finds is confirmed by :func:`matcher.checker.violations`.
Infeasibility claims rest on that model and, for ``tiny`` and ``infeasible``, on the
exhaustive search of ``tests/bruteforce.py``.
"""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
from bruteforce import brute_force, plans
from ortools.sat.python import cp_model

from matcher.allocation import Assignment
from matcher.checker import eligibility_failures, objective, score, violations
from matcher.domain import Round, Weights
from matcher.places import NEL_PLACES
from matcher.synthetic import generate_round
from matcher.validation import parse_round, with_changes

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SAMPLE_FILES = ("nel-2027-c1.json", "tiny.json", "single-stream.json", "infeasible.json")
HOST_SECTORS = {
    "hospital", "mental_health", "community_services", "community_pharmacy", "integrated_care",
}  # fmt: skip


def load_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return data


def load(name: str) -> Round:
    return parse_round(load_data(name))


# ---- an independent CP-SAT model of the hard rules and the objective ---------------------------


def best_allocation(
    rnd: Round, *, optimise: bool = True, time_limit: float = 30.0
) -> list[Assignment] | None:
    """A feasible allocation, None if there is none.

    With ``optimise`` the allocation is the best found in ``time_limit`` (optimal on the
    tiny round); without, the first feasible one (fast: a feasibility proof).

    One boolean per eligible (pharmacist, placement, period) by :func:`eligibility_failures`;
    organisation caps and supervision count assignments (the same as distinct pharmacists
    when, as in the samples, no organisation spans two streams).
    """
    assert rnd.weights.fairness == 0
    assert not rnd.reference
    m = cp_model.CpModel()
    x: dict[tuple[str, str, str], cp_model.IntVar] = {}
    for ph in rnd.pharmacists:
        for pl in rnd.placements:
            for t in rnd.period_ids:
                if not eligibility_failures(rnd, ph.id, pl.id, t):
                    x[ph.id, pl.id, t] = m.new_bool_var(f"x[{ph.id},{pl.id},{t}]")
    for pin in rnd.pins:
        key = (pin.pharmacist, pin.placement, pin.period)
        if key not in x:
            return None
        m.add(x[key] == 1)
    stream_of = {pl.id: rnd.stream_of(pl) for pl in rnd.placements}
    sector_of = {pl.id: pl.sector for pl in rnd.placements}
    slot: dict[tuple[str, str, str], list[cp_model.IntVar]] = defaultdict(list)
    seat: dict[tuple[str, str], list[cp_model.IntVar]] = defaultdict(list)
    for (p, lid, t), var in x.items():
        slot[p, stream_of[lid].id, t].append(var)
        seat[lid, t].append(var)
    # §3.1 one placement per stream and period; everyone placed if unassigned is not allowed.
    for ph in rnd.pharmacists:
        for t in rnd.available_periods(ph):
            for s in rnd.effective_streams:
                terms = slot[ph.id, s.id, t]
                if not rnd.rules.allow_unassigned:
                    if not terms:
                        return None
                    m.add(sum(terms) == 1)
                elif terms:
                    m.add(sum(terms) <= 1)
    # §3.2 capacity, §3.3 organisation caps, §3.4 supervision.
    for pl in rnd.placements:
        for t in rnd.period_ids:
            if seat[pl.id, t]:
                m.add(sum(seat[pl.id, t]) <= pl.capacity_in(t))
    for org in rnd.organisations:
        if org.max_pharmacists is None:
            continue
        for t in rnd.period_ids:
            terms = [v for (_, lid, tt), v in x.items()
                     if tt == t and rnd.placement(lid).organisation == org.id]  # fmt: skip
            if terms:
                m.add(sum(terms) <= org.max_pharmacists)
    for sup in rnd.supervisors:
        covered = set(sup.placements)
        for t in rnd.period_ids:
            terms = [v for (p, lid, tt), v in x.items()
                     if tt == t and lid in covered and sup.counts(rnd.pharmacist(p))]  # fmt: skip
            if terms:
                m.add(sum(terms) <= sup.capacity)
    # §3.5 rotation and continuity; §3.6 sector mix and required sectors.
    for ph in rnd.pharmacists:
        mine = {(lid, t): v for (p, lid, t), v in x.items() if p == ph.id}
        chosen: dict[str, cp_model.IntVar] = {}
        for lid in {lid for lid, _ in mine}:
            held = [v for (l2, _), v in mine.items() if l2 == lid]
            if stream_of[lid].rotate:
                m.add(sum(held) <= 1)
            else:
                chosen[lid] = m.new_bool_var(f"y[{ph.id},{lid}]")
                for v in held:
                    m.add(v <= chosen[lid])
        for s in rnd.effective_streams:
            ys = [v for lid, v in chosen.items() if stream_of[lid].id == s.id]
            if ys:
                m.add(sum(ys) <= 1)
        avail = len(rnd.available_periods(ph))
        if avail == 0:
            continue
        done = {sector_of[h] for h in ph.history}
        covers = []
        for sector in {pl.sector for pl in rnd.placements} - done:
            terms = [v for (lid, _), v in mine.items() if sector_of[lid] == sector]
            if not terms:
                if sector in rnd.rules.required_sectors:
                    return None
                continue
            z = m.new_bool_var(f"z[{ph.id},{sector}]")
            m.add(z <= sum(terms))
            covers.append(z)
            if sector in rnd.rules.required_sectors:
                m.add(sum(terms) >= 1)
        if any(s not in done and s not in {sector_of[lid] for lid, _ in mine}
               for s in rnd.rules.required_sectors):  # fmt: skip
            return None
        m.add(len(done) + sum(covers) >= min(rnd.rules.min_distinct_sectors, avail))
    # §4: scores, unassigned (as a bonus per assignment) and shortfall.
    w = rnd.weights
    shortfall = []
    for pl in rnd.placements:
        for t in rnd.period_ids:
            need = pl.min_fill_in(t)
            if need:
                short = m.new_int_var(0, need, f"s[{pl.id},{t}]")
                m.add(short >= need - sum(seat[pl.id, t]))
                shortfall.append(short)
    if optimise:
        m.maximize(
                sum((score(rnd, Assignment(p, t, lid)) + w.unassigned) * v
                for (p, lid, t), v in x.items())
            - w.shortfall * sum(shortfall)
        )
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 2
    solver.parameters.random_seed = 0
    status = solver.solve(m)
    if status == cp_model.INFEASIBLE:
        return None
    assert status in (cp_model.OPTIMAL, cp_model.FEASIBLE), solver.status_name(status)
    return sorted(Assignment(p, t, lid) for (p, lid, t), v in x.items() if solver.value(v))


def assert_feasible(rnd: Round) -> list[Assignment]:
    allocation = best_allocation(rnd, optimise=False)
    assert allocation is not None, f"{rnd.round.id} should be feasible"
    assert violations(rnd, allocation) == []
    return allocation


# ---- every sample -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_validates(name: str) -> None:
    rnd = load(name)
    assert isinstance(rnd, Round)
    assert rnd.format == "spin-round/1"


def test_samples_directory_holds_exactly_the_samples() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == sorted(SAMPLE_FILES)
    assert (SAMPLES / "README.md").is_file()


def test_make_samples_reproduces_the_files_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "samples"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_samples.py"), "--out", str(out)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    for name in SAMPLE_FILES:
        assert (out / name).read_bytes() == (SAMPLES / name).read_bytes(), name
    csv_files = sorted(p.name for p in (SAMPLES / "nel-2027-c1-csv").iterdir())
    assert csv_files == sorted(p.name for p in (out / "nel-2027-c1-csv").iterdir())
    for name in csv_files:
        assert (out / "nel-2027-c1-csv" / name).read_bytes() == (
            SAMPLES / "nel-2027-c1-csv" / name).read_bytes(), name


@pytest.mark.parametrize("copy", ["nel-2027-c1-csv", "nel-2027-c1.xlsx"])
def test_nel_sample_ships_as_csv_and_excel_loading_to_the_same_round(copy: str) -> None:
    from matcher.formats import load_round

    assert load_round(SAMPLES / copy) == load_round(SAMPLES / "nel-2027-c1.json")


# ---- matcher.samples: the same files, from any folder -------------------------------------
# (That an installed wheel ships exactly these files is tests/test_packaging.py.)


def test_matcher_samples_finds_the_samples_by_name() -> None:
    from matcher import samples

    assert samples.names() == sorted(n.removesuffix(".json") for n in SAMPLE_FILES)
    for name in SAMPLE_FILES:
        stem = name.removesuffix(".json")
        assert samples.path(stem).read_bytes() == (SAMPLES / name).read_bytes()
        assert samples.path(name) == samples.path(stem)
    assert samples.path("nel-2027-c1.xlsx").read_bytes() == (
        SAMPLES / "nel-2027-c1.xlsx").read_bytes()
    assert samples.path("nel-2027-c1-csv").is_dir()
    assert samples.path("README.md").is_file()


@pytest.mark.parametrize("name", ["nel-2027-c2", "../README.md", "nel-2027-c1.xls"])
def test_an_unknown_sample_names_the_samples_there_are(name: str) -> None:
    from matcher import samples

    with pytest.raises(LookupError) as caught:
        samples.path(name)
    assert str(caught.value) == (
        f"no sample round named {name!r}; the samples are infeasible, nel-2027-c1, "
        "single-stream, tiny (also README.md, nel-2027-c1-csv, nel-2027-c1.xlsx)")


# ---- North East London, cohort 1 ------------------------------------------------------------


def test_nel_shape() -> None:
    rnd = load("nel-2027-c1.json")
    assert rnd.round.id == "nel-2027-c1"
    assert [(t.id, t.weeks) for t in rnd.periods] == [("R1", 17), ("R2", 17), ("R3", 17)]
    assert [(s.id, s.sessions, s.rotate) for s in rnd.streams] == [
        ("practice", 6, False), ("host", 4, True)
    ]  # fmt: skip
    assert {pl.place for pl in rnd.placements} == set(NEL_PLACES)
    practice = [pl for pl in rnd.placements if pl.stream == "practice"]
    host = [pl for pl in rnd.placements if pl.stream == "host"]
    assert 40 <= len(practice) <= 60
    assert all(pl.sector == "general_practice" for pl in practice)
    assert {pl.sector for pl in host} == HOST_SECTORS
    by_sector = {s: sum(pl.sector == s for pl in host) for s in HOST_SECTORS}
    assert by_sector == {"hospital": 8, "mental_health": 4, "community_services": 6,
                         "community_pharmacy": 10, "integrated_care": 2}  # fmt: skip
    assert {pl.place for pl in practice} == set(NEL_PLACES)  # practices in every borough
    assert 24 <= len(rnd.pharmacists) <= 30
    orgs = {o.id: o for o in rnd.organisations}
    for trust in ("BHRUT", "BARTS", "HUH", "ELFT", "NELFT", "NEL-ICB"):
        assert trust in orgs
    assert sum(o.kind == "pcn" for o in rnd.organisations) >= 14
    assert rnd.rules.min_distinct_sectors == 3
    assert rnd.rules.required_sectors == ("general_practice",)
    assert rnd.rules.max_travel_km == 20
    assert rnd.weights == Weights()
    assert {s.supervises for s in rnd.supervisors} == {"all", "non_prescribers", "early_years"}
    assert rnd.pins
    assert rnd.bans
    assert rnd.travel
    assert any(ph.history for ph in rnd.pharmacists)
    assert any(ph.unavailable for ph in rnd.pharmacists)
    assert any(isinstance(pl.capacity, dict) for pl in rnd.placements)


def test_nel_seats_cover_the_cohort_in_each_stream() -> None:
    rnd = load("nel-2027-c1.json")
    for t in rnd.period_ids:
        available = sum(t not in ph.unavailable for ph in rnd.pharmacists)
        for stream in ("practice", "host"):
            seats = sum(pl.capacity_in(t) for pl in rnd.placements if pl.stream == stream)
            assert seats >= 1.2 * available, (t, stream)


def test_nel_follows_the_deprivation_gradient() -> None:
    """Barking and Dagenham and Newham score far above the City; Harold Hill above the rest
    of Havering."""
    rnd = load("nel-2027-c1.json")

    def in_city(lat: float, lon: float) -> bool:  # the square mile, roughly
        return 51.505 <= lat <= 51.524 and -0.115 <= lon <= -0.072

    east = [pl for pl in rnd.placements if pl.place in ("Barking and Dagenham", "Newham")]
    city = [pl for pl in rnd.placements if in_city(pl.location.lat, pl.location.lon)]
    assert len(city) >= 2
    assert mean(pl.population_health for pl in east) > mean(
        pl.population_health for pl in city) + 30  # fmt: skip
    assert mean(pl.hard_to_recruit for pl in east) > mean(pl.hard_to_recruit for pl in city) + 1
    havering = [pl for pl in rnd.placements
                if pl.place == "Havering" and pl.sector == "general_practice"]  # fmt: skip
    harold_hill = [pl for pl in havering if pl.location.lat > 51.6]
    rest = [pl for pl in havering if pl.location.lat <= 51.6]
    assert harold_hill
    assert mean(pl.population_health for pl in harold_hill) > mean(
        pl.population_health for pl in rest) + 20  # fmt: skip


def test_nel_every_pharmacist_can_reach_enough_sectors() -> None:
    rnd = load("nel-2027-c1.json")
    for ph in rnd.pharmacists:
        reach = {pl.sector for pl in rnd.placements for t in rnd.available_periods(ph)
                 if not eligibility_failures(rnd, ph.id, pl.id, t)}  # fmt: skip
        assert "general_practice" in reach, ph.id
        assert len(reach - {"general_practice"}) >= 3, ph.id  # one spare sector


def test_nel_is_feasible_even_with_everyone_placed() -> None:
    """Feasible as given, and still feasible if nobody may be left without a placement."""
    assert_feasible(load("nel-2027-c1.json"))
    data = load_data("nel-2027-c1.json")
    data["rules"]["allow_unassigned"] = False
    assert_feasible(parse_round(data))


# ---- tiny ---------------------------------------------------------------------------------------

TINY_OPTIMUM = [
    Assignment("PH-1", "P1", "GP-A"),
    Assignment("PH-1", "P2", "CP-D"),
    Assignment("PH-2", "P1", "CP-D"),
    Assignment("PH-2", "P2", "GP-A"),
    Assignment("PH-3", "P1", "GP-B"),
]


def test_tiny_shape() -> None:
    rnd = load("tiny.json")
    assert not rnd.streams
    assert all(pl.stream is None for pl in rnd.placements)
    assert (len(rnd.pharmacists), len(rnd.placements), len(rnd.periods)) == (3, 4, 2)


def test_tiny_hand_calculation() -> None:
    """The objective of the README's allocation, term by term (spec §4)."""
    rnd = load("tiny.json")
    assert violations(rnd, TINY_OPTIMUM) == []
    parts = objective(rnd, TINY_OPTIMUM)
    assert (parts.preference, parts.hard_to_recruit, parts.population_health, parts.travel) == (
        290, 180, 320, -12)  # fmt: skip
    assert (parts.unassigned_count, parts.shortfall) == (0, 0)
    assert parts.total == 778
    assert [score(rnd, a) for a in TINY_OPTIMUM] == [140, 88, 177, 235, 138]


def test_tiny_optimum_is_778_and_unique() -> None:
    rnd = load("tiny.json")
    value, allocation = brute_force(rnd)
    assert value == 778
    assert allocation is not None
    assert list(allocation) == TINY_OPTIMUM
    # Every feasible allocation, enumerated: the optimum is reached only once.
    best = []
    for combo in itertools.product(*(plans(rnd, ph) for ph in rnd.pharmacists)):
        alloc = [a for plan in combo for a in plan]
        if not violations(rnd, alloc) and objective(rnd, alloc).total == 778:
            best.append(sorted(alloc))
    assert best == [TINY_OPTIMUM]
    assert best_allocation(rnd) == TINY_OPTIMUM


# ---- single-stream ------------------------------------------------------------------------------


def test_single_stream_shape_and_feasible() -> None:
    rnd = load("single-stream.json")
    assert not rnd.streams
    assert all(pl.stream is None for pl in rnd.placements)
    assert len(rnd.pharmacists) == 8
    assert len(rnd.periods) == 3
    assert len({pl.sector for pl in rnd.placements}) == 6
    assert_feasible(rnd)


# ---- infeasible ---------------------------------------------------------------------------------


def _relaxed(sector_conflict: bool, capacity_conflict: bool) -> Round:
    """The infeasible round with either planted conflict kept or removed."""
    data = copy.deepcopy(load_data("infeasible.json"))
    if not sector_conflict:  # PH-0206 may travel as far as everyone else
        (ph,) = [p for p in data["pharmacists"] if p["id"] == "PH-0206"]
        del ph["max_travel_km"]
    if not capacity_conflict:  # Queen's Hospital also takes one in R2
        (pl,) = [p for p in data["placements"] if p["id"] == "HOSP-BHRUT-AMU"]
        pl["capacity"] = 1
    return parse_round(data)


def test_infeasible_shape() -> None:
    rnd = load("infeasible.json")
    assert not rnd.rules.allow_unassigned
    assert rnd.rules.min_distinct_sectors == 3
    assert sum(pl.capacity_in("R2") for pl in rnd.placements) == len(rnd.pharmacists) - 1
    ph = rnd.pharmacist("PH-0206")
    reach = {pl.sector for pl in rnd.placements
             if not eligibility_failures(rnd, ph.id, pl.id, "R1")}  # fmt: skip
    assert reach == {"general_practice", "community_pharmacy"}


def test_infeasible_is_infeasible() -> None:
    rnd = load("infeasible.json")
    assert best_allocation(rnd, optimise=False) is None
    assert brute_force(rnd) == (None, None)


@pytest.mark.parametrize(
    ("sector_conflict", "capacity_conflict", "feasible"),
    [(True, False, False), (False, True, False), (False, False, True)],
)
def test_each_planted_conflict_alone_is_infeasible(
    sector_conflict: bool, capacity_conflict: bool, feasible: bool
) -> None:
    rnd = _relaxed(sector_conflict, capacity_conflict)
    if feasible:
        assert_feasible(rnd)
    else:
        assert best_allocation(rnd, optimise=False) is None


# ---- small generated rounds are feasible too --------------------------------------------------


@pytest.mark.parametrize(
    ("n_pharmacists", "n_placements", "n_periods", "streams", "seed"),
    [(30, 60, 3, True, 0), (30, 60, 3, True, 1), (40, 60, 3, False, 2), (25, 40, 2, True, 3)],
)
def test_small_generated_rounds_are_feasible(
    n_pharmacists: int, n_placements: int, n_periods: int, streams: bool, seed: int
) -> None:
    rnd = generate_round(n_pharmacists, n_placements, n_periods, seed=seed, streams=streams)
    assert_feasible(rnd)
    # Supply is generous enough that nobody need be left without a placement.
    assert_feasible(with_changes(rnd, rules=rnd.rules.model_copy(
        update={"allow_unassigned": False})))
