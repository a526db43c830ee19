"""The repair of a greedy construction (matcher.solving.lns.repair): on tight rounds the
construction leaves many pharmacists short of their sector rules at once, competing for
the same few seats; the repair takes them all out and places them back in batches."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from matcher import checker
from matcher.eligibility import candidates
from matcher.scoring import scores
from matcher.solving import Budget, SolveParams, lns
from matcher.solving.construct import construct
from matcher.solving.state import FlowState

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.variety import build_shape


@pytest.fixture(scope="module")
def tight() -> tuple[FlowState, np.ndarray]:
    """A tight round (seats 0.9-1.0 x demand) and its construction without the flow's
    guide (every pair's flow units zeroed: the greedy fill alone), which breaks the sector
    rules of 68 of its 200 pharmacists (with the guide, 2: see test_construct)."""
    rnd = build_shape("tight", 200, 150, 3, 1)
    cand = candidates(rnd)
    st = FlowState(rnd, cand, scores(rnd, cand), SolveParams(workers=1, seed=1), Budget(120.0))
    st.bound_components()
    assert len(st.comps) == 1
    units = st.units.copy()
    st.units[:] = 0
    base = construct(st, st.comps[0])
    st.units[:] = units
    return st, base


def _breakers(st: FlowState, chosen: np.ndarray) -> set[str]:
    found = checker.violations(st.rnd, st.cand.assignments(st.rnd, chosen))
    return {v.pharmacist for v in found if v.pharmacist is not None}


def test_the_repair_places_every_rule_breaker_back_within_the_rules(
        tight: tuple[FlowState, np.ndarray]) -> None:
    st, base = tight
    comp = st.comps[0]
    bad = lns.bad_pharmacists(st, base, comp)
    assert len(bad) > 2 * lns.REPAIR_BATCH  # several batches
    lns.repair(st, comp, base, time.monotonic() + 60.0)
    assert comp.chosen is not None
    assert comp.stats["repaired"] == len(bad)
    assert not _breakers(st, comp.chosen)
    held = set(st.cand.pharmacist[comp.chosen].tolist())
    assert set(bad) <= held  # every one of them holds a placement again


def test_pharmacists_out_of_scope_have_no_rules_in_the_sub_model(
        tight: tuple[FlowState, np.ndarray]) -> None:
    """With the rule breakers taken out of the allocation, a sub-solve over others is
    infeasible while their sector rules are stated, and solved once they are out of
    scope (their seats free, nothing of theirs in it)."""
    st, base = tight
    comp = st.comps[0]
    bad = lns.bad_pharmacists(st, base, comp)
    out = np.zeros(len(st.rnd.pharmacists), dtype=bool)
    out[bad] = True
    work = base[~out[st.cand.pharmacist[base]]]
    others = np.setdiff1d(comp.pharmacists, bad)[:20]
    stated, proven = lns.free_solve(st, comp, work, others, 10.0)
    assert stated is None
    assert proven
    got, _ = lns.free_solve(st, comp, work, others, 10.0, scope=st.scope(comp) & ~out)
    assert got is not None
    assert not set(st.cand.pharmacist[got].tolist()) & set(bad)
    assert _breakers(st, got) == {st.rnd.pharmacists[p].id for p in bad}


def test_the_menders_are_the_batch_and_holders_of_the_seats_it_lacks(
        tight: tuple[FlowState, np.ndarray]) -> None:
    st, base = tight
    comp = st.comps[0]
    c, pr = st.cand, st.pairs
    bad = lns.bad_pharmacists(st, base, comp)
    out = np.zeros(len(st.rnd.pharmacists), dtype=bool)
    out[bad] = True
    work = base[~out[c.pharmacist[base]]]
    batch = bad[:2]
    waiting = out.copy()
    waiting[batch] = False
    freed = lns._menders(st, comp, work, batch, waiting, 0.5)
    assert set(batch) <= set(freed.tolist())
    assert not waiting[freed].any()
    assert len(freed) >= 2 * len(batch)
    # Placements in a sector one of the batch lacks (nothing of theirs is in ``work``).
    lacking: set[int] = set()
    for p in batch:
        lo, hi = np.searchsorted(pr.p, [p, p + 1])
        new = (np.left_shift(1, pr.sec[lo:hi]) & ~st.hist[p]) != 0
        lacking |= set(pr.l[lo:hi][new].tolist())
    holders = {int(q) for q, li in zip(c.pharmacist[work], c.placement[work], strict=True)
               if int(li) in lacking}
    menders = set(freed.tolist()) - set(batch)
    assert menders
    assert menders <= holders


def test_a_repair_that_runs_out_is_gone_on_with_from_where_it_got_to(
        tight: tuple[FlowState, np.ndarray]) -> None:
    """Out of time before its first batch, the repair accepts nothing and keeps the
    allocation with every rule breaker taken out; a repair from there places them all
    back within the rules and forgets it."""
    st, base = tight
    comp = st.comps[0]
    comp.chosen, comp.value = None, None
    bad = lns.bad_pharmacists(st, base, comp)
    lns.repair(st, comp, base, time.monotonic() - 1.0)
    assert comp.chosen is None
    partial = st.repairing[comp.index]
    assert not set(st.cand.pharmacist[partial].tolist()) & set(bad)
    kept = base[~np.isin(st.cand.pharmacist[base], bad)]
    assert np.array_equal(np.sort(partial), np.sort(kept))
    lns.repair(st, comp, partial, time.monotonic() + 60.0)
    assert comp.chosen is not None
    assert comp.index not in st.repairing
    assert not _breakers(st, comp.chosen)
    assert set(bad) <= set(st.cand.pharmacist[comp.chosen].tolist())
