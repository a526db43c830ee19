"""Rich display in notebooks: ``_repr_html_`` of a round, a result and a diff shows counts,
statuses and ids (escaped), never a pharmacist's name or home."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from matcher.domain import Round
from matcher.formats import load_round
from matcher.result import Result
from matcher.solving import SolveParams, solve
from matcher.whatif import Scenario, diff

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
PARAMS = SolveParams(time_limit_s=20, workers=1, seed=0)


@pytest.fixture(scope="module")
def nel() -> Round:
    return load_round(SAMPLES / "nel-2027-c1.json")


@pytest.fixture(scope="module")
def nel_result(nel: Round) -> Result:
    return solve(nel, PARAMS)


def _cells(html: str) -> list[str]:
    """The text of every header and data cell, in order."""
    return [text for _, text in re.findall(r"<t([hd])(?:\s[^>]*)?>(.*?)</t\1>", html)]


def _personal(rnd: Round) -> list[str]:
    """Names and home latitudes of the round's pharmacists, as they could be printed."""
    return [x for ph in rnd.pharmacists for x in (ph.name, str(ph.home.lat)) if x]


def _assert_no_personal_data(html: str, rnd: Round) -> None:
    found = [x for x in _personal(rnd) if x in html]
    assert not found, f"personal data in the display: {found}"


def test_a_round_shows_its_size_and_shape(nel: Round) -> None:
    html = nel._repr_html_()
    assert "<caption" in html
    assert "round nel-2027-c1 (spin-round/1)" in html
    cells = _cells(html)
    pairs = dict(zip(cells[::2], cells[1::2], strict=True))
    s = nel.summary()
    assert pairs == {
        "pharmacists": "27", "placements": "81",
        "seats (capacity over all periods)": f"{s['seats']:,}",
        "periods": "3 (R1, R2, R3)", "streams": "practice, host",
        "organisations": str(s["organisations"]), "supervisors": str(s["supervisors"]),
        "pins": str(s["pins"]), "bans": str(s["bans"]),
        "travel overrides": str(s["travel_overrides"]),
        "reference assignments": "0",
    }
    _assert_no_personal_data(html, nel)


def test_the_display_escapes_what_it_shows(nel: Round) -> None:
    odd = nel.model_copy(update={"round": nel.round.model_copy(
        update={"id": "<b>c1</b> & co"})})
    html = odd._repr_html_()
    assert "round &lt;b&gt;c1&lt;/b&gt; &amp; co" in html
    assert "<b>c1</b>" not in html


def test_a_result_shows_status_objective_bound_gap_and_kpis(
        nel: Round, nel_result: Result) -> None:
    html = nel_result._repr_html_()
    cells = _cells(html)
    pairs = dict(zip(cells[::2], cells[1::2], strict=True))
    assert pairs["status"] == "optimal"
    assert pairs["objective"] == f"{nel_result.objective:,}"
    assert pairs["bound"] == f"{nel_result.bound:,}"
    assert pairs["gap"] == "0.0000%"
    assert pairs["assignments"] == str(len(nel_result.assignments))
    htr = "share of hard-to-recruit seats filled (hard_to_recruit_fill)"
    assert pairs[htr] == f"{nel_result.kpis['hard_to_recruit_fill']:.4g}"
    assert "diagnosis" not in html
    _assert_no_personal_data(html, nel)


def test_an_infeasible_result_shows_its_diagnosis() -> None:
    rnd = load_round(SAMPLES / "infeasible.json")
    html = solve(rnd, PARAMS)._repr_html_()
    assert ">infeasible<" in html
    assert "diagnosis" in html
    assert "PH-0206 can reach only general_practice and community_pharmacy" in html
    _assert_no_personal_data(html, rnd)


def test_a_diff_shows_its_headline_moves_and_what_changed(
        nel: Round, nel_result: Result) -> None:
    closed = Scenario("closed", nel, [{"op": "close_placement", "placement": "HOSP-BHRUT-AMU",
                                       "from_period": "R2"}]).apply()
    d = diff(nel_result, solve(closed, PARAMS), labels=("plan", "closed"), round=nel)
    html = d._repr_html_()
    assert f"<b>{d.headline()}</b>" in html.replace("&gt;", ">")
    cells = _cells(html)
    assert cells[:4] == ["slots changed", str(len(d.moves)), "pharmacists moved",
                         str(len(d.moved_pharmacists))]
    first = d.moves[0]
    row = ["pharmacist", "period", "stream", "before", "after", first.pharmacist,
           first.period, first.stream, first.before or "(none)", first.after or "(none)"]
    assert cells[4:14] == row
    assert "HOSP-BHRUT-AMU" in html
    assert "KPIs that changed" in html
    _assert_no_personal_data(html, nel)
