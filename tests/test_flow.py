"""The min-cost-flow relaxation (matcher.solving.flow) is a valid bound, and the flow path
(matcher.solving.flow_path) returns checked allocations that agree with CP-SAT where both prove."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from bruteforce import brute_force, random_tiny_round

from matcher import checker
from matcher.domain import Round
from matcher.eligibility import availability, candidates
from matcher.result import Result
from matcher.scoring import scores
from matcher.solving import Budget, SolveParams, cpsat, flow_path, solve
from matcher.solving.components import Component, components
from matcher.solving.evaluator import evaluate
from matcher.solving.flow import pairs_of, relaxation
from matcher.solving.formulation import build_model
from matcher.solving.state import FlowState
from matcher.synthetic import generate_round
from matcher.validation import parse_round


@pytest.mark.parametrize("seed", range(200))
def test_flow_bound_is_never_below_the_brute_force_optimum(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    cand = candidates(rnd)
    fr = relaxation(rnd, cand, scores(rnd, cand))
    if best is not None:
        assert fr.bound >= best


def test_flow_bound_is_often_tight_on_tiny_rounds() -> None:
    """The bound is not trivially loose (so the validity test above can fail)."""
    tight = 0
    for seed in range(60):
        rnd = random_tiny_round(seed)
        best, _ = brute_force(rnd)
        cand = candidates(rnd)
        if best is not None and relaxation(rnd, cand, scores(rnd, cand)).bound == best:
            tight += 1
    assert tight >= 20


@pytest.mark.parametrize(("seed", "exact"), [(220, True), (265, True), (821, False)])
def test_per_period_matchings_cap_the_flows_fill(monkeypatch: pytest.MonkeyPatch, seed: int,
                                                exact: bool) -> None:
    """Tiny rounds where the collapsed flow fills more slots than the periods' matchings
    allow: the cap lowers the bound, never below the brute-force optimum (on two of them
    to the optimum itself)."""
    from matcher.solving import flow

    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    assert best is not None
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    capped = relaxation(rnd, cand, sc).bound
    monkeypatch.setattr(flow, "period_fills",
                        lambda *_: np.full((len(rnd.effective_streams), len(rnd.periods)),
                                           10**9))
    uncapped = relaxation(rnd, cand, sc).bound
    assert best <= capped < uncapped
    assert (capped == best) == exact


@pytest.mark.parametrize(("seed", "collapsed"), [(159, -30069), (232, -38964)])
def test_flow_bound_holds_every_periods_seats(seed: int, collapsed: int) -> None:
    """Tiny rounds where a flow that summed a placement's seats over periods bounded above
    the brute-force optimum (``collapsed``, the bound before seats were kept per period):
    with a seat per period the bound is the optimum itself."""
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    assert best is not None
    assert best < collapsed
    cand = candidates(rnd)
    assert relaxation(rnd, cand, scores(rnd, cand)).bound == best


@pytest.mark.parametrize(("size", "seed"), [((30, 60, 3), 0), ((30, 60, 3), 1),
                                            ((40, 50, 2), 2)])
def test_flow_bound_is_above_the_proven_optimum(size: tuple[int, int, int], seed: int) -> None:
    rnd = generate_round(*size, seed=seed)
    ref = solve(rnd, SolveParams(workers=2, time_limit_s=30, path="cp-sat"))
    assert ref.status == "optimal"
    assert ref.objective is not None
    cand = candidates(rnd)
    bound = relaxation(rnd, cand, scores(rnd, cand)).bound
    assert bound >= ref.objective
    assert bound <= ref.objective + 0.05 * abs(ref.objective)  # and not absurdly loose


def test_components_partition_and_objective_evaluator_matches_checker() -> None:
    rnd = generate_round(120, 250, 3, seed=4)
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    lab_p, _ = components(rnd, cand, pairs_of(rnd, cand, sc))
    assert lab_p.min() == 0
    assert len(np.unique(lab_p)) >= 2  # generated rounds from 200 placements are clusters
    result = solve(rnd, SolveParams(workers=2, time_limit_s=30, path="flow+lns"))
    assert result.has_solution
    n_l, n_t = len(rnd.placements), len(rnd.periods)
    key = (cand.pharmacist * n_l + cand.placement) * n_t + cand.period
    q = np.array([(rnd.pharmacist_index[a.pharmacist] * n_l + rnd.placement_index[a.placement])
                  * n_t + rnd.period_index[a.period] for a in result.allocation])
    chosen = np.searchsorted(key, q)
    assert evaluate(rnd, cand, sc, chosen) == result.objective
    assert result.bound is not None
    assert result.bound >= (result.objective or 0)


@pytest.mark.parametrize("seed", range(0, 200, 9))
def test_flow_path_on_tiny_rounds(seed: int) -> None:
    rnd = random_tiny_round(seed)
    best, _ = brute_force(rnd)
    result = solve(rnd, SolveParams(workers=1, time_limit_s=10, path="flow+lns"))
    assert result.stats["path"] == "flow+lns"
    if best is None:
        assert result.status in ("infeasible", "unknown")
        return
    assert result.bound is not None
    assert result.bound >= best
    if result.status == "optimal":
        assert result.objective == best


@pytest.mark.parametrize("seed", range(2))
def test_flow_path_agrees_with_cp_sat(seed: int) -> None:
    rnd = generate_round(30, 60, 3, seed=seed)
    ours = solve(rnd, SolveParams(workers=2, time_limit_s=30, path="flow+lns"))
    ref = solve(rnd, SolveParams(workers=2, time_limit_s=30, path="cp-sat"))
    assert ref.status == "optimal"
    assert ours.status in ("optimal", "feasible")
    assert ours.bound is not None
    assert ref.objective is not None
    assert ours.bound >= ref.objective
    if ours.status == "optimal":
        assert ours.objective == ref.objective


# ---- the starts of the flow path (matcher.solving.flow_path) ------------------------------


def _solve_with(monkeypatch: pytest.MonkeyPatch, rnd: Round, **constants: int) -> Result:
    for name, value in constants.items():
        monkeypatch.setattr(flow_path, name, value)
    return solve(rnd, SolveParams(workers=2, time_limit_s=20, path="flow+lns"))


@pytest.fixture(scope="module")
def clustered() -> tuple[Round, int]:
    """A round of several independent clusters and its proven optimum."""
    rnd = generate_round(120, 250, 3, seed=4)
    ref = solve(rnd, SolveParams(workers=2, time_limit_s=60, path="cp-sat"))
    assert ref.status == "optimal"
    assert ref.objective is not None
    return rnd, ref.objective


@pytest.mark.parametrize(("constants", "source"), [
    ({"FULL_MODEL_MAX": 10**9}, "full"),
    ({"FULL_MODEL_MAX": 0, "START_MAX_CANDIDATES": 10**9}, "start"),
    ({"FULL_MODEL_MAX": 0, "START_MAX_CANDIDATES": 0}, "repair"),
])
def test_every_start_gives_a_checked_near_optimal_allocation(
    monkeypatch: pytest.MonkeyPatch, clustered: tuple[Round, int],
    constants: dict[str, int], source: str,
) -> None:
    """Whichever start a component gets (full model, restricted model around the flow,
    or the greedy construction repaired), the allocation is checked (by ``finish``), its
    bound is valid, and after the search it is within 1 % of the proven optimum."""
    rnd, best = clustered
    result = _solve_with(monkeypatch, rnd, **constants)
    assert result.has_solution
    details = result.stats["component_details"]
    assert len(details) >= 2
    if source == "full":
        assert all(d["source"] == "full" for d in details)
    elif source == "start":
        assert all("start_status" in d for d in details)
    else:
        assert all("start_status" not in d and "repaired" in d for d in details)
    # What each component's empty slots cost, and the part beyond its flow's: together
    # the round's unassigned slots.
    empty = [d["empty_points"] for d in details]
    assert sum(empty) == rnd.weights.unassigned * len(result.unassigned)
    assert all(0 <= d["beyond_flow_points"] <= d["empty_points"] for d in details)
    objective, bound = result.objective, result.bound
    assert objective is not None
    assert bound is not None
    assert objective <= best <= bound
    assert best - objective <= 0.01 * abs(best)
    if result.status == "optimal":
        assert objective == best


def test_once_a_restricted_start_finds_nothing_the_rest_start_from_the_construction(
    monkeypatch: pytest.MonkeyPatch, clustered: tuple[Round, int],
) -> None:
    """A restricted start that ends with no allocation: the components not started yet
    begin from the repaired construction and the round goes on LP first; the
    answer is still checked and its bound valid."""
    rnd, best = clustered
    tried: list[int] = []

    def finds_nothing(st: FlowState, comp: Component, limit: float,
                      warm: np.ndarray | None = None) -> None:
        tried.append(comp.index)
        comp.stats["start_status"] = "unknown"

    monkeypatch.setattr(flow_path, "solve_start", finds_nothing)
    monkeypatch.setattr(flow_path, "FULL_MODEL_MAX", 0)
    monkeypatch.setattr(flow_path, "START_MAX_CANDIDATES", 10**9)
    result = solve(rnd, SolveParams(workers=1, seed=0, time_limit_s=20, path="flow+lns"))
    details = result.stats["component_details"]
    assert len(details) >= 2
    assert len(tried) == 1  # one after another: only the first start was tried
    assert result.stats["starts_failed"] is True
    assert result.stats["lp_first"] is True
    assert all("repaired" in d for d in details)
    objective, bound = result.objective, result.bound
    assert objective is not None
    assert bound is not None
    assert objective <= best <= bound


def test_a_gap_limit_is_never_reported_as_a_proof() -> None:
    """CP-SAT says OPTIMAL when it stops within ``absolute_gap_limit``; the flow path
    must not take that for a proof."""
    rnd = generate_round(30, 60, 3, seed=0)
    cand = candidates(rnd)
    model = build_model(rnd, cand, scores(rnd, cand))
    params = SolveParams(workers=2)
    exact = cpsat.run(model, Budget(30.0), params)
    assert exact.status == "optimal"
    assert exact.objective == exact.bound
    loose = cpsat.run(model, Budget(30.0), params, gap_limit=10**9)
    assert loose.objective is not None
    assert loose.bound is not None
    assert loose.status == ("optimal" if loose.objective >= loose.bound else "feasible")
    assert exact.objective is not None
    assert loose.bound >= exact.objective


def test_a_component_without_any_allocation_makes_the_round_infeasible() -> None:
    """A pharmacist who reaches no placement, when nobody may be left unassigned, is a
    component of their own with no allocation: the round is infeasible, not unknown."""
    data = generate_round(120, 250, 3, seed=4).to_data()
    data["rules"]["allow_unassigned"] = False
    data["pharmacists"][0]["max_travel_km"] = 0
    rnd = parse_round(data)
    cand = candidates(rnd)
    assert not np.any(cand.pharmacist == 0)
    result = solve(rnd, SolveParams(workers=2, time_limit_s=20, path="flow+lns",
                                    diagnose_s=0))
    assert result.stats["path"] == "flow+lns"
    assert result.status == "infeasible"
    assert not result.has_solution


def test_search_with_small_neighbourhoods_stays_checked_and_near_optimal(
    monkeypatch: pytest.MonkeyPatch, clustered: tuple[Round, int],
) -> None:
    """The large-neighbourhood search proper (neighbourhoods smaller than a component,
    grown breadth first from a seed) on the repaired construction: every accepted step is
    checked at the end, and the search improves on its start."""
    from matcher.solving import lns

    rnd, best = clustered
    monkeypatch.setattr(lns, "LNS_TARGET_CANDIDATES", 400)
    # No LP bound: its support solves can close every gap before a step is taken.
    result = _solve_with(monkeypatch, rnd, FULL_MODEL_MAX=0, START_MAX_CANDIDATES=0,
                         LP_MAX_CANDIDATES=0)
    details = result.stats["component_details"]
    assert sum(d.get("lns_steps", 0) for d in details) > 0
    assert result.objective is not None
    assert result.bound is not None
    assert result.objective <= best <= result.bound
    assert best - result.objective <= 0.02 * abs(best)


def test_steps_grow_while_cp_sat_proves_them_and_shrink_when_it_is_cut_short(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A component's search steps on its focus adapt their size: each step CP-SAT proves
    (the best of its neighbourhood) makes the next ones larger, each it cuts short
    smaller, within limits; the steps stay checked. Steps over the whole component keep
    their size."""
    from shapes import nobody_placed

    from matcher.solving import lns

    rnd = generate_round(60, 90, 3, seed=5)
    res = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert res.has_solution
    st = nobody_placed(rnd, 60.0, workers=1)
    comp = max(st.comps, key=lambda k: len(k.idx))
    chosen = st.cand.positions(rnd, res.allocation)
    assert st.accept(comp, chosen[np.isin(chosen, comp.idx)], "test")
    # Ten pharmacists' candidates: proven in milliseconds.
    per_ph = len(comp.idx) / len(comp.pharmacists)
    monkeypatch.setattr(lns, "LNS_TARGET_CANDIDATES", int(10 * per_ph))
    monkeypatch.setattr(lns, "LNS_FOCUS_CANDIDATES", int(10 * per_ph))
    monkeypatch.setattr(lns, "SLICE_TARGET_CANDIDATES", int(10 * per_ph))
    lns.lns_step(st, comp, 5.0)
    assert comp.step_scale == 1.0  # no focus: the size is the target's
    comp.focus = comp.idx  # a focus of every candidate: the same steps, adapted
    sizes = []
    for _ in range(3):
        sizes.append(len(lns.neighbourhood(st, comp, comp.chosen, seeds=[0],
                                           scale=comp.step_scale)))
        lns.lns_step(st, comp, 5.0)
    assert comp.step_scale == pytest.approx(lns.STEP_GROW ** 3)
    assert sizes == sorted(sizes)
    assert sizes[-1] > sizes[0]
    lns.lns_step(st, comp, 0.001)  # no time to solve: cut short
    assert comp.step_scale == pytest.approx(lns.STEP_GROW ** 3 * lns.STEP_SHRINK)
    for _ in range(15):
        lns.lns_step(st, comp, 5.0)
    assert comp.step_scale == lns.STEP_SCALE_MAX
    for _ in range(15):
        lns.lns_step(st, comp, 0.001)
    assert comp.step_scale == lns.STEP_SCALE_MIN
    assert comp.chosen is not None
    found = checker.violations(st.rnd, st.cand.assignments(st.rnd, comp.chosen))
    ours = {st.rnd.pharmacists[p].id for p in comp.pharmacists.tolist()}
    assert not [v for v in found if v.pharmacist in ours]


def test_fairness_steps_free_the_worst_off_and_the_holders_of_their_wishes() -> None:
    """In a fairness round the search grows some neighbourhoods from the worst-off
    pharmacists (all at the minimum together), and frees first whoever holds the
    placements they asked for."""
    from matcher.checker import objective
    from matcher.solving import Budget, lns
    from matcher.solving.state import FlowState

    data = generate_round(60, 90, 3, seed=5).to_data()
    data["weights"] = {**data["weights"], "fairness": 20}
    rnd = parse_round(data)
    res = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert res.has_solution
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=1), Budget(10.0))
    (comp,) = st.comps  # the fairness term makes the round one component
    chosen = cand.positions(rnd, res.allocation)
    points = np.bincount(cand.pharmacist[chosen], weights=sc.points[chosen],
                         minlength=len(rnd.pharmacists))
    available = [i for i, ph in enumerate(rnd.pharmacists)
                 if len(ph.unavailable) < len(rnd.periods)]
    low = min(points[available])
    assert low == objective(rnd, res.allocation).fairness_min
    expected = [i for i in available if points[i] == low]
    assert lns.worst_off(st, comp, chosen).tolist() == expected[:lns.WORST_OFF_SEEDS]

    seed = expected[0]
    wishes = {rnd.placement_index[w] for w in rnd.pharmacists[seed].preferences}
    holders = {int(cand.pharmacist[i]) for i in chosen
               if int(cand.placement[i]) in wishes} - {seed}
    freed = set(lns.neighbourhood(st, comp, chosen, seeds=[seed], scale=0.05,
                                  wished=True).tolist())
    assert seed in freed
    # Breadth first from the seed, its wishes' holders come next.
    assert holders
    assert len(holders & freed) == min(len(holders), len(freed) - 1)


def test_a_reference_that_breaks_cut_capacities_is_repaired_not_returned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-plan's reference, after capacities were cut, breaks them. On the flow path's
    branch for components with many start candidates the reference was accepted as it was
    (the repair looked only at each pharmacist's own rules), and the checker stopped the
    solve (5,000 x 2,500 x 4, replan-200). It must be repaired into a checked answer."""
    rnd = generate_round(120, 80, 3, seed=4)
    first = solve(rnd, SolveParams(time_limit_s=20, workers=1))
    assert first.has_solution
    data = rnd.to_data()
    pinned = {p["placement"] for p in data.get("pins", [])}
    held = Counter((a.placement, a.period) for a in first.assignments)
    cut = 0
    for pl in data["placements"]:  # full placements lose a seat: one holder too many
        full = max(held[pl["id"], t] for t in rnd.period_ids)
        if isinstance(pl["capacity"], int) and pl["capacity"] >= 2 \
                and full == pl["capacity"] and pl["id"] not in pinned and cut < 6:
            pl["capacity"] -= 1
            cut += 1
    assert cut == 6
    data["reference"] = [{"pharmacist": a.pharmacist, "period": a.period,
                          "placement": a.placement} for a in first.assignments]
    data["weights"]["change"] = 200
    replan = parse_round(data)
    monkeypatch.setattr(flow_path, "START_MAX_CANDIDATES", 0)  # the large-round branch
    got = solve(replan, SolveParams(time_limit_s=20, workers=1, seed=0, path="flow+lns"))
    assert got.status in ("optimal", "feasible")
    assert not checker.violations(replan, got.allocation)  # capacities included


@pytest.mark.parametrize("seed", range(0, 240, 3))
def test_the_fairness_bound_from_the_fairness_free_optimum_is_never_below_the_optimum(
        seed: int) -> None:
    """fairness_bound: the round's optimum is at most the fairness-free optimum plus
    ``w.fairness`` times the cap on M (exhaustive search on tiny rounds)."""
    from matcher.solving.flow import fairness_bound
    from matcher.validation import with_changes

    rnd = random_tiny_round(seed)
    fair = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 1 + seed % 40})
    plain = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 0})
    best_fair, _ = brute_force(fair)
    best_plain, _ = brute_force(plain)
    if best_plain is None:
        assert best_fair is None
        return
    assert best_fair is not None
    cand = candidates(fair)
    bound = fairness_bound(fair, cand, scores(fair, cand), best_plain)
    assert bound >= best_fair
    assert fairness_bound(plain, cand, scores(plain, cand), best_plain) == best_plain


@pytest.mark.parametrize("seed", range(1, 240, 4))
def test_the_fairness_bound_of_a_round_with_many_pins_is_never_below_the_optimum(
        seed: int) -> None:
    """fairness_bound with pins: the slots of half the pharmacists pinned to a feasible
    allocation of the round (its fairness-free optimum: the pinned round stays
    feasible), and the bound checked against the exhaustive optimum. A pin fills its
    slot (flow.fairness_cap), so a pharmacist pinned where they did not ask caps M."""
    from matcher.solving.flow import fairness_bound
    from matcher.validation import with_changes

    rnd = random_tiny_round(seed)
    plain = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 0},
                         pins=[])
    _best, allocation = brute_force(plain)
    if allocation is None:
        return
    ids = [ph.id for ph in rnd.pharmacists][::2]
    pins = [{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
            for a in allocation if a.pharmacist in ids]
    plain = with_changes(plain, pins=pins)
    fair = with_changes(plain, weights=plain.weights.model_dump() | {"fairness": 1 + seed % 30})
    best_fair, _ = brute_force(fair)
    best_plain, _ = brute_force(plain)
    assert best_fair is not None
    assert best_plain is not None
    cand = candidates(fair)
    assert fairness_bound(fair, cand, scores(fair, cand), best_plain) >= best_fair


def test_a_pharmacist_pinned_where_they_did_not_ask_caps_the_worst_off_term() -> None:
    """Every slot of a pharmacist pinned to placements they did not list: M is 0 in any
    allocation, and the cap on it says so (it did not before pins counted)."""
    from matcher.solving.flow import fairness_cap, pairs_of, pin_candidates

    rnd = generate_round(40, 60, 3, seed=3)
    ph = rnd.pharmacists[0]
    result = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert result.allocation is not None
    mine = [a for a in result.allocation if a.pharmacist == ph.id]
    assert mine
    pins = [{"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
            for a in mine]
    data = rnd.to_data()
    data["pins"] = pins
    for rec in data["pharmacists"]:
        if rec["id"] == ph.id:  # asks for none of them
            rec["preferences"] = [pl for pl in rec.get("preferences", [])
                                  if pl not in {a.placement for a in mine}]
    pinned = parse_round(data)
    slots = int(availability(pinned)[0].sum()) * len(pinned.effective_streams)
    assert len(mine) == slots  # every slot of theirs is pinned
    cand = candidates(pinned)
    pairs = pairs_of(pinned, cand, scores(pinned, cand))
    a_count = availability(pinned).sum(axis=1)
    assert fairness_cap(pinned, pairs, a_count, np.zeros(0, np.int64)) > 0  # pins ignored
    assert fairness_cap(pinned, pairs, a_count, pairs.of_cand[pin_candidates(pinned, cand)]) == 0


def test_the_fairness_bound_is_often_tight_on_tiny_rounds() -> None:
    """Not trivially loose (so the validity test above can fail): on many tiny rounds the
    fairness-free optimum already gives everyone their best."""
    from matcher.solving.flow import fairness_bound
    from matcher.validation import with_changes

    tight = 0
    for seed in range(40):
        rnd = random_tiny_round(seed)
        fair = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 10})
        plain = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 0})
        best_fair, _ = brute_force(fair)
        best_plain, _ = brute_force(plain)
        if best_plain is not None and best_fair is not None:
            cand = candidates(fair)
            tight += fairness_bound(fair, cand, scores(fair, cand), best_plain) == best_fair
    assert tight >= 8


def test_a_fairness_round_on_the_flow_path_is_bounded_by_its_fairness_free_stage() -> None:
    """The fairness term makes the round one component, whose flow bound is loose; the
    fairness-free stage's bound plus the fairness term's cap bounds it (and the search).
    With per-period capacities the flow bound is loose and the first stage's, from its
    components' exact solves, is not."""
    from shapes import per_period_round

    from matcher.solving.flow import fairness_bound
    from matcher.validation import with_changes

    rnd = per_period_round(60, 80, 3, 0)
    fair = with_changes(rnd, weights=rnd.weights.model_dump() | {"fairness": 20})
    result = solve(fair, SolveParams(workers=1, time_limit_s=15, path="flow+lns"))
    first = result.stats["fairness_free_start"]
    assert first["bound"] is not None
    cand = candidates(fair)
    sc = scores(fair, cand)
    cap = fairness_bound(fair, cand, sc, first["bound"])
    assert first["cap"] == cap
    assert result.stats["component_details"][0]["cap"] == cap
    assert result.objective is not None
    assert result.bound is not None
    assert result.objective <= result.bound <= cap
    assert cap < relaxation(fair, cand, sc).bound  # tighter than the flow's own bound


@pytest.mark.parametrize("seed", range(3))
def test_a_step_leaves_out_only_candidates_the_fixed_assignments_shut_out(
        monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """A search step's sub-model leaves out the freed pharmacists' candidates at a
    placement the fixed assignments fill in that period, or in a capped organisation
    they fill (distinct pharmacists), and nothing else: checked against a count made
    assignment by assignment, and CP-SAT finds the same best answer with them in."""
    from shapes import nobody_placed

    from matcher.solving import lns
    from matcher.solving.flow import capacity_matrix

    plain = generate_round(60, 90, 3, seed=seed)
    cap = capacity_matrix(plain)
    data = plain.to_data()
    for org in data["organisations"]:  # caps that bind: the organisation's seats less one
        mine = [li for li, pl in enumerate(plain.placements) if pl.organisation == org["id"]]
        seats = int(cap[mine].sum(axis=0).max()) if mine else 0
        if seats >= 2:
            org["max_pharmacists"] = seats - 1
    rnd = parse_round(data)
    res = solve(rnd, SolveParams(workers=1, time_limit_s=20))
    assert res.has_solution
    st = nobody_placed(rnd, 60.0, workers=1)
    comp = max(st.comps, key=lambda k: len(k.idx))
    chosen = st.cand.positions(rnd, res.allocation)
    base = chosen[np.isin(chosen, comp.idx)]
    assert st.accept(comp, base, "test")
    c = st.cand
    freed = comp.pharmacists[::3]
    kept = base[~np.isin(c.pharmacist[base], freed)]
    idx = comp.idx[np.isin(c.pharmacist[comp.idx], freed)]
    holders: Counter[tuple[int, int]] = Counter()
    org_holders: dict[tuple[str, int], set[int]] = {}
    for j in kept.tolist():
        li, t = int(c.placement[j]), int(c.period[j])
        holders[li, t] += 1
        org = rnd.placements[li].organisation
        org_holders.setdefault((org or "", t), set()).add(int(c.pharmacist[j]))
    caps = {o.id: o.max_pharmacists for o in rnd.organisations}
    expected = []
    for j in idx.tolist():
        li, t = int(c.placement[j]), int(c.period[j])
        org = rnd.placements[li].organisation or ""
        cap = caps.get(org)
        expected.append(holders[li, t] < st.cap[li, t] and (
            cap is None or len(org_holders.get((org, t), ())) < cap))
    got = lns.open_to(st, kept, idx)
    assert got.tolist() == expected
    assert 0 < got.sum() < len(got)  # the caps bind somewhere, and not everywhere
    pruned, proven = lns.free_solve(st, comp, base, freed, 20.0)
    monkeypatch.setattr(lns, "open_to", lambda st, kept, idx: np.ones(len(idx), bool))
    whole, proven_whole = lns.free_solve(st, comp, base, freed, 20.0)
    assert proven
    assert proven_whole
    assert pruned is not None
    assert whole is not None
    assert st.evaluator(pruned) == st.evaluator(whole)


def _chain_round(rotate: bool, room_in_both: bool) -> Round:
    """P0 may hold only A, which P1 holds; P1 may move to B, which P2 holds; P2 may move to
    C, which has room; P3 holds D, off every chain. Two periods; P0 is available only in
    the second. C has room in the second period only unless ``room_in_both``."""
    here = {"lat": 51.55, "lon": 0.05}
    names = ["A", "B", "C", "D"]
    placements = [{"id": n, "sector": "general_practice", "location": here, "stream": "s",
                   "capacity": 1 if n != "C" or room_in_both else {"R1": 0, "R2": 1}}
                  for n in names]
    allowed = {"P0": {"A"}, "P1": {"A", "B"}, "P2": {"B", "C"}, "P3": {"D"}}
    pharmacists = [{"id": p, "home": here} for p in allowed]
    pharmacists[0]["unavailable"] = ["R1"]
    return Round.model_validate({
        "format": "spin-round/1", "round": {"id": "chains"},
        "periods": [{"id": "R1"}, {"id": "R2"}],
        "streams": [{"id": "s", "rotate": rotate}],
        "placements": placements, "pharmacists": pharmacists,
        "bans": [{"pharmacist": p, "placement": n} for p, ok in allowed.items()
                 for n in names if n not in ok],
        "rules": {"min_distinct_sectors": 0},
    })


@pytest.mark.parametrize(("rotate", "room_in_both", "expected"), [
    (True, True, ["P0", "P1", "P2"]),  # the second period's chain
    (True, False, ["P0", "P1", "P2"]),  # room in the empty slot's period is enough
    (False, True, ["P0", "P1", "P2"]),
    # Non-rotating: P2 holds B in both periods and C has room in one only, so P2 cannot
    # move there, nor P1 to B, nor P0 to A.
    (False, False, ["P0"]),
])
def test_a_step_from_an_empty_slot_frees_the_chain_of_moves_that_fills_it(
        rotate: bool, room_in_both: bool, expected: list[str]) -> None:
    """:func:`lns.chains` follows the holders of the placements the empty slot's pharmacist
    may take to a seat with room in every period the last of them needs, and leaves out
    everyone off the chain."""
    from shapes import nobody_placed

    from matcher.solving import lns

    rnd = _chain_round(rotate, room_in_both)
    st = nobody_placed(rnd, 10.0, workers=1)
    c = st.cand
    p0 = rnd.pharmacist_index["P0"]
    comp = next(k for k in st.comps if p0 in k.pharmacists.tolist())
    holds = {"P1": "A", "P2": "B", "P3": "D"}
    # No repeats in a rotating stream: P1 holds another placement in the first period.
    first = {"P1": "B"} if rotate else holds
    triples = [(p, "R2", pl) for p, pl in holds.items()] + [
        (p, "R1", pl) for p, pl in first.items()]
    base = np.sort(c.positions(rnd, triples))
    assert (base >= 0).all()
    assert not checker.violations(rnd, c.assignments(rnd, base))
    got = lns.chains(st, comp, base, p0)
    assert [rnd.pharmacists[q].id for q in got] == expected


def _slice_round() -> Round:
    """Two periods; a practice stream (continuity) with GP1 and GP2, a host stream (no
    repeats) with H1-H4, one seat each. P0 asks for H1 first, P1 for H2."""
    here = {"lat": 51.55, "lon": 0.05}
    placements = [{"id": n, "sector": "general_practice", "location": here,
                   "stream": "practice", "capacity": 1} for n in ("GP1", "GP2")] + [
        {"id": n, "sector": "hospital", "location": here, "stream": "host", "capacity": 1}
        for n in ("H1", "H2", "H3", "H4")]
    return Round.model_validate({
        "format": "spin-round/1", "round": {"id": "slices"},
        "periods": [{"id": "R1"}, {"id": "R2"}],
        "streams": [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}],
        "placements": placements,
        "pharmacists": [{"id": "P0", "home": here, "preferences": ["H1"]},
                        {"id": "P1", "home": here, "preferences": ["H2"]}],
        "rules": {"min_distinct_sectors": 0},
    })


def test_a_slice_step_frees_one_stream_in_one_period_and_keeps_every_other_slot() -> None:
    """:func:`lns.free_solve` with a :class:`lns.Slice` of the rotating stream in one period
    swaps the two pharmacists' placements there (each gets the one they asked for) and
    leaves their other period and their practice stream as they were; a slice of the
    other period, where each already holds a placement the other did not ask for, keeps
    the allocation."""
    from shapes import nobody_placed

    from matcher.solving import lns

    rnd = _slice_round()
    st = nobody_placed(rnd, 10.0, workers=1)
    c = st.cand
    (comp,) = st.comps
    base = np.sort(c.positions(rnd, [
        ("P0", "R1", "GP1"), ("P0", "R2", "GP1"), ("P1", "R1", "GP2"), ("P1", "R2", "GP2"),
        ("P0", "R1", "H2"), ("P1", "R1", "H1"), ("P0", "R2", "H3"), ("P1", "R2", "H4")]))
    assert (base >= 0).all()
    assert not checker.violations(rnd, c.assignments(rnd, base))
    host = rnd.stream_index["host"]
    got, proven = lns.free_solve(st, comp, base, comp.pharmacists, 10.0,
                                 lns.Slice(stream=host, period=0))
    assert proven
    assert got is not None
    assert not checker.violations(rnd, c.assignments(rnd, got))
    after = {(a.pharmacist, a.period, a.placement) for a in c.assignments(rnd, got)}
    before = {(a.pharmacist, a.period, a.placement) for a in c.assignments(rnd, base)}
    assert before - after == {("P0", "R1", "H2"), ("P1", "R1", "H1")}
    assert after - before == {("P0", "R1", "H1"), ("P1", "R1", "H2")}
    assert st.evaluator(got) > st.evaluator(base)
    # The second period's slice: P0 may not take H1 there (no repeats once it holds it
    # in R1), so the best of that slice is the allocation as it is.
    again, proven = lns.free_solve(st, comp, got, comp.pharmacists, 10.0,
                                   lns.Slice(stream=host, period=1))
    assert proven
    assert again is not None
    assert st.evaluator(again) == st.evaluator(got)


@pytest.mark.parametrize("seed", [0, 1])
def test_slice_steps_change_nothing_outside_their_slice(seed: int) -> None:
    """On a generated round with both streams, every slice (each stream; each period of the
    rotating one) re-solved from the repaired greedy construction keeps every assignment
    outside the slice, stays checked and never loses value; some slice gains."""
    import time

    from matcher.solving import lns
    from matcher.solving.construct import construct

    rnd = generate_round(40, 30, 3, seed=seed)
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=1, seed=seed), Budget(60.0))
    st.bound_components()
    gained = 0
    for comp in st.comps:
        lns.repair(st, comp, construct(st, comp), time.monotonic() + 10.0)
        assert comp.chosen is not None
        base = comp.chosen
        for s, rotate in enumerate(st.rotating.tolist()):
            for t in range(len(rnd.periods)) if rotate else [None]:
                sliced = lns.Slice(stream=s, period=t)
                got, _ = lns.free_solve(st, comp, base, comp.pharmacists, 10.0, sliced)
                assert got is not None
                outside = ~sliced.holds(cand, got)
                assert set(got[outside].tolist()) == set(base[~sliced.holds(cand, base)].tolist())
                assert not checker.violations(rnd, cand.assignments(rnd, got))
                assert st.evaluator(got) >= st.evaluator(base)
                gained += st.evaluator(got) - st.evaluator(base)
    assert gained > 0


def test_a_slice_step_from_an_empty_slot_frees_its_chains_and_others_at_random() -> None:
    """:func:`lns.scattered` keeps the seeds (an empty slot's pharmacist and its chains)
    and draws the rest of the step's size from the component; :func:`lns.slice_of` gives
    a step from an empty slot that slot's slice (its period only in a rotating stream)."""
    from shapes import nobody_placed

    from matcher.solving import lns

    rnd = generate_round(60, 90, 3, seed=5)
    st = nobody_placed(rnd, 10.0, workers=1)
    comp = max(st.comps, key=lambda k: len(k.pharmacists))
    seeds = comp.pharmacists[:3].tolist()
    for s, rotate in enumerate(st.rotating.tolist()):
        sliced = lns.slice_of(st, (1, s))
        assert sliced == lns.Slice(stream=s, period=1 if rotate else None)
        got = lns.scattered(st, comp, seeds, sliced, scale=0.5)
        assert set(seeds) <= set(got.tolist()) <= set(comp.pharmacists.tolist())
        assert len(got) == min(len(comp.pharmacists), lns.step_size(st, comp, 0.5, sliced))
        assert len(np.unique(got)) == len(got)


@pytest.mark.parametrize("seed", range(3))
def test_a_components_holds_is_the_intersection_with_its_candidates(seed: int) -> None:
    rng = np.random.default_rng(seed)
    comp = Component(0, np.arange(3, dtype=np.int64),
                     np.unique(rng.integers(0, 1_000, 300)).astype(np.int64), bound=0)
    positions = rng.integers(-5, 1_100, 200)
    assert comp.holds(positions).tolist() == np.intersect1d(positions, comp.idx).tolist()
    assert comp.holds(np.zeros(0, np.int64)).tolist() == []


@pytest.mark.parametrize(("shape", "seed"), [((60, 40, 3), 0), ((150, 90, 3), 1),
                                             ((300, 200, 4), 2)])
def test_the_start_size_lower_bound_never_exceeds_the_start(
        shape: tuple[int, int, int], seed: int) -> None:
    """:func:`start_at_least` only spares counting a start that cannot fit: it is never
    above the size of :func:`start_candidates`, and not far below it."""
    from matcher.solving.starts import start_at_least, start_candidates

    rnd = generate_round(*shape, seed=seed)
    cand = candidates(rnd)
    st = FlowState(rnd, cand, scores(rnd, cand), SolveParams(workers=1, seed=seed),
                   Budget(60.0))
    st.bound_components()
    for comp in st.comps:
        low, size = start_at_least(st, comp), len(start_candidates(st, comp))
        assert low <= size
        assert low >= size / 10
