"""The greedy construction from the flow (matcher.solving.construct): it breaks only the
rules it leaves to the repair (sector mix, required sectors, pins), and on a tight round,
where seats run short, it leaves them short where the flow does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from matcher import checker
from matcher.eligibility import candidates
from matcher.scoring import scores
from matcher.solving import Budget, SolveParams, lns
from matcher.solving.construct import construct
from matcher.solving.flow import reference_candidates
from matcher.solving.state import FlowState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.variety import build_shape

LEFT_TO_THE_REPAIR = {"sector_mix", "required_sectors", "pin"}


def _state(shape: str, n_p: int, n_l: int, seed: int) -> FlowState:
    rnd = build_shape(shape, n_p, n_l, 3, seed)
    cand = candidates(rnd)
    st = FlowState(rnd, cand, scores(rnd, cand), SolveParams(workers=1, seed=1), Budget(60.0))
    st.bound_components()
    return st


@pytest.mark.parametrize("shape", ["tight", "per-period", "org-caps", "cross-supervisors",
                                   "pins-bans-leave", "replan-200"])
def test_the_construction_breaks_only_the_rules_left_to_the_repair(shape: str) -> None:
    st = _state(shape, 150, 120, 0)
    for comp in st.comps:
        # A re-plan's reference kept where it still fits, as the flow path's warm start.
        keep = comp.holds(reference_candidates(st.rnd, st.cand)[0]) if st.rnd.reference \
            else None
        chosen = construct(st, comp, keep=keep)
        found = checker.violations(st.rnd, st.cand.assignments(st.rnd, chosen))
        mine = {st.rnd.pharmacists[p].id for p in comp.pharmacists.tolist()}
        broken = {v.rule for v in found if v.pharmacist in mine or v.pharmacist is None}
        assert broken <= LEFT_TO_THE_REPAIR, broken


def test_on_a_tight_round_the_flows_units_come_first() -> None:
    """Seats 0.9-1.0 x demand in both streams. Each pharmacist first takes what the flow
    gives them (a line over as many periods as its units), then the periods still empty:
    2 of 200 pharmacists break their sector rules. Taking every period that fits, one
    pharmacist after another, took the seats later pharmacists' sectors needed (17 broke
    them); without the flow's guide at all, 68 do."""
    st = _state("tight", 200, 150, 1)
    (comp,) = st.comps
    guided = lns.bad_pharmacists(st, construct(st, comp), comp)
    st.units[:] = 0
    unguided = lns.bad_pharmacists(st, construct(st, comp), comp)
    assert len(guided) <= 2
    assert len(unguided) >= 30
