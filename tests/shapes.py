"""Generated rounds of the shapes the solver finds hardest, and the flow state the flow
path's tests start from, shared by the tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from matcher.domain import Round
from matcher.eligibility import candidates
from matcher.scoring import scores
from matcher.solving import Budget, SolveParams
from matcher.solving.state import FlowState
from matcher.synthetic import generate_round
from matcher.validation import parse_round


def per_period_round(n_p: int, n_l: int, n_t: int, seed: int) -> Round:
    """A generated round with per-period capacities and min_fill on about half of the
    placements (the shape the flow bound is weakest on)."""
    data = generate_round(n_p, n_l, n_t, seed=seed, features=True).to_data()
    rng = np.random.default_rng(seed)
    periods = [p["id"] for p in data["periods"]]
    data["pins"] = []  # a cut capacity could break one
    for pl in data["placements"]:
        cap = {t: (pl["capacity"].get(t, 0) if isinstance(pl["capacity"], dict)
                   else int(pl["capacity"])) for t in periods}
        if rng.random() < 0.5:
            cap = {t: max(0, c + int(rng.integers(-1, 2))) for t, c in cap.items()}
            pl["capacity"] = cap
        pl.pop("min_fill", None)
        if rng.random() < 0.5:
            pl["min_fill"] = {t: int(rng.integers(0, cap[t] + 1)) for t in periods}
    return parse_round(data)


def nobody_placed(rnd: Round, seconds: float, workers: int = 2) -> FlowState:
    """The flow state of ``rnd`` (seed 0, a budget of ``seconds``) with every component
    bounded by its flow and given an allocation with nobody placed."""
    cand = candidates(rnd)
    sc = scores(rnd, cand)
    st = FlowState(rnd, cand, sc, SolveParams(workers=workers, seed=0), Budget(seconds))
    st.bound_components()
    for comp in st.comps:
        st.accept(comp, np.zeros(0, np.int64), "test")
    return st


def two_stream_round(pharmacists: list[dict[str, Any]], placements: list[dict[str, Any]],
                     *, periods: tuple[str, ...] = ("R1", "R2"), **extra: Any) -> Round:
    """A round of one practice stream and one rotating host stream, everyone at one spot."""
    here = {"lat": 51.55, "lon": 0.05}
    for x in (*pharmacists, *placements):
        x.setdefault("home" if "preferences" in x else "location", here)
    return Round.model_validate({
        "format": "spin-round/1", "round": {"id": "slice-flow"},
        "periods": [{"id": t} for t in periods],
        "streams": [{"id": "practice", "rotate": False}, {"id": "host", "rotate": True}],
        "placements": placements, "pharmacists": pharmacists,
        "rules": {"min_distinct_sectors": 0}, **extra})


def gp(name: str, **kw: Any) -> dict[str, Any]:
    """A general-practice placement of the practice stream, one seat (``kw`` adds)."""
    return {"id": name, "sector": "general_practice", "stream": "practice",
            "capacity": 1, **kw}


def host(name: str, **kw: Any) -> dict[str, Any]:
    """A hospital placement of the host stream, one seat (``kw`` adds)."""
    return {"id": name, "sector": "hospital", "stream": "host", "capacity": 1, **kw}
