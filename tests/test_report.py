"""The HTML report (matcher.report) and ``matcher report``: content checked in a real
browser (headless Chromium), self-containment, escaping, printing."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from matcher.domain import Round
from matcher.formats import load_round, save_round
from matcher.formats.results import save_result
from matcher.report import ResultMismatchError, prepare, render_html, write_report
from matcher.result import Result
from matcher.solving import SolveParams, solve
from matcher.validation import parse_round, with_changes
from matcher_cli import app

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
ONE = SolveParams(time_limit_s=20, workers=1)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_browser = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium "
                                   "(.ci/run installs it)")
runner = CliRunner()

# Appended to a copy of the page: once it has loaded, write what the browser shows into
# the DOM, which --dump-dom then prints. The report itself has no script.
PROBE = """<script>
window.addEventListener('load', () => {
  const cells = (tr) => [...tr.children].map((c) => c.innerText.trim());
  const tables = {};
  for (const t of document.querySelectorAll('table[id]')) {
    tables[t.id] = [...t.querySelectorAll('tr')].map(cells);
  }
  const out = {
    title: document.title,
    text: document.body.innerText,
    h3: [...document.querySelectorAll('h3')].map((h) => h.innerText.trim()),
    images: [...document.images].map((i) => ({alt: i.alt, width: i.naturalWidth,
                                               height: i.naturalHeight})),
    sections: [...document.querySelectorAll('section[id]')].map((s) => s.id),
    timeline: [...document.querySelectorAll('table.timeline tbody tr')].map(cells),
    tables,
  };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def in_browser(page: Path, tmp_path: Path) -> dict[str, Any]:
    """What headless Chromium shows of the page (text, tables, decoded images)."""
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"),
                     encoding="utf-8")
    done = chromium(tmp_path, "--virtual-time-budget=15000", "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not load in chromium: {done.stderr[-2000:]}"
    data: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return data


@pytest.fixture(scope="module")
def tiny() -> tuple[Round, Result]:
    """The hand-checkable sample and its unique optimum (objective 778; the serial-priority
    baseline makes -178, see tests/test_baseline.py)."""
    rnd = load_round(SAMPLES / "tiny.json")
    return rnd, solve(rnd, ONE)


@pytest.fixture(scope="module")
def tiny_page(tiny: tuple[Round, Result], tmp_path_factory: pytest.TempPathFactory) -> Path:
    rnd, result = tiny
    path = tmp_path_factory.mktemp("tiny") / "report.html"
    write_report(prepare(rnd, result, explain_seconds=0), path)
    return path


@pytest.fixture(scope="module")
def nel_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Round, Result, Path]:
    """The NEL sample's report, with a small re-solve budget for the explanations."""
    rnd = load_round(SAMPLES / "nel-2027-c1.json")
    result = solve(rnd, SolveParams(time_limit_s=30, workers=2))
    path = tmp_path_factory.mktemp("nel") / "report.html"
    write_report(prepare(rnd, result, explain_seconds=3, max_resolves=3), path)
    return rnd, result, path


# ---- the page as text --------------------------------------------------------------------


def test_page_is_self_contained(tiny_page: Path) -> None:
    page = tiny_page.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "<link" not in page
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs
    assert all(r.startswith(("data:image/svg+xml;base64,", "#")) for r in refs)
    assert not re.search(r"url\(|@import|https?://", page)
    charts = [r for r in refs if r.startswith("data:")]
    assert len(charts) == 6
    for uri in charts:
        svg = base64.b64decode(uri.split(",", 1)[1]).decode()
        assert "<svg" in svg
        assert "<script" not in svg


def test_text_is_escaped(tiny: tuple[Round, Result]) -> None:
    rnd, _ = tiny
    data = rnd.to_data()
    data["pharmacists"][0]["name"] = "<script>alert('x')</script> & co"
    hostile = parse_round(data)
    page = render_html(prepare(hostile, solve(hostile, ONE), explain_seconds=0))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in page


def test_result_of_another_round_is_refused(tiny: tuple[Round, Result]) -> None:
    _, result = tiny
    with pytest.raises(ResultMismatchError, match="round 'tiny', not"):
        prepare(load_round(SAMPLES / "single-stream.json"), result)
    rnd, _ = tiny
    changed = with_changes(rnd, bans=[{"pharmacist": "PH-2", "placement": "CP-D"}])
    with pytest.raises(ResultMismatchError, match="hard rule"):
        prepare(changed, result)


def test_without_the_explain_module(tiny: tuple[Round, Result],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    rnd, result = tiny
    monkeypatch.setitem(sys.modules, "matcher.explanations", None)
    report = prepare(rnd, result, explain_seconds=0)
    assert report.explanation is None
    assert "Explanations are not available in this installation." in render_html(report)


# ---- in the browser ----------------------------------------------------------------------


@needs_browser
def test_tiny_report_in_the_browser(tiny_page: Path, tmp_path: Path) -> None:
    shown = in_browser(tiny_page, tmp_path)
    assert shown["title"] == "Tiny hand-checkable round: SPIN allocation report"
    assert shown["sections"] == ["summary", "kpis", "fill", "travel", "map", "places",
                                 "timeline", "unassigned", "explanations"]
    assert "Status: optimal · objective 778 · bound 778" in shown["text"]
    kpi = {row[0]: row[1:] for row in shown["tables"]["kpi-table"]}
    assert kpi["KPI"] == ["Optimised", "Baseline", "Difference"]
    assert kpi["Objective (§4)"] == ["778", "-178", "+956"]
    assert kpi["First choice"] == ["40.0%", "60.0%", "-20.0 pp"]
    assert kpi["Seats below min_fill"] == ["0", "1", "-1"]
    # The baseline holds GP-A (level 2) only in P2 and CP-D (level 1) only in P1.
    assert kpi["Hard-to-recruit seats filled"] == ["100.0%", "50.0%", "+50.0 pp"]
    levels = {row[0]: row[1:] for row in shown["tables"]["htr-table"]}
    assert levels["Level 2"] == ["2", "2", "100.0%", "50.0%"]
    assert levels["Level 1"] == ["2", "2", "100.0%", "50.0%"]
    # Every chart decoded and laid out.
    assert len(shown["images"]) == 6
    assert all(i["width"] > 100 and i["height"] > 50 for i in shown["images"])
    assert any(i["alt"].startswith("Map: placements") for i in shown["images"])
    # The timeline: one row per pharmacist, a cell per period; leave shown as such.
    timeline = {row[0].split("\n")[0]: row for row in shown["timeline"]}
    assert set(timeline) == {"Pharmacist 1", "Pharmacist 2", "Pharmacist 3"}
    assert timeline["Pharmacist 1"][1].startswith("GP-A\nRiverside Surgery\nunranked")
    assert timeline["Pharmacist 2"][2].startswith("GP-A\nRiverside Surgery\n#1 · score 235")
    assert timeline["Pharmacist 3"][2] == "on leave"
    assert "Tinytown · 8 of 8 seats filled" not in shown["h3"]
    assert "Tinytown · 5 of 8 seats filled" in shown["h3"]
    assert "Every available pharmacist holds a placement in every period." in shown["text"]


@needs_browser
def test_nel_report_in_the_browser(nel_page: tuple[Round, Result, Path],
                                   tmp_path: Path) -> None:
    rnd, result, page = nel_page
    shown = in_browser(page, tmp_path)
    assert shown["title"] == "NEL SPIN cohort 1, 2027: SPIN allocation report"
    places = ["Barking and Dagenham", "City and Hackney", "Havering", "Newham", "Redbridge",
              "Tower Hamlets", "Waltham Forest"]
    assert [row[0] for row in shown["tables"]["place-table"][1:]] == places
    assert [h.split(" · ")[0] for h in shown["h3"] if " seats filled" in h] == places
    assert len(shown["timeline"]) == len(rnd.pharmacists)
    assert all(len(row) == 1 + 6 + 2 for row in shown["timeline"])
    kpi = {row[0]: row[1:] for row in shown["tables"]["kpi-table"]}
    assert kpi["Objective (§4)"][0] == f"{result.objective:,}"
    assert all(i["width"] > 100 for i in shown["images"])
    assert "Explanations" in shown["text"]
    assert "Explanations are not available" not in shown["text"]
    names = [ph.name for ph in rnd.pharmacists if ph.name]
    assert sum(1 for n in names if n in shown["text"]) == len(names)


@needs_browser
def test_report_prints(nel_page: tuple[Round, Result, Path], tmp_path: Path) -> None:
    _, _, page = nel_page
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages >= 5  # sections that start a page: KPIs, map, places, timeline, ...


@needs_browser
def test_infeasible_report_shows_the_diagnosis(tmp_path: Path) -> None:
    rnd = load_round(SAMPLES / "infeasible.json")
    result = solve(rnd, SolveParams(time_limit_s=20, workers=1))
    assert result.status == "infeasible"
    page = tmp_path / "report.html"
    write_report(prepare(rnd, result, explain_seconds=0), page)
    shown = in_browser(page, tmp_path)
    assert shown["sections"] == ["summary", "explanations"]
    assert "No allocation can keep every hard rule of this round." in shown["text"]
    assert "PH-0206" in shown["text"]
    assert shown["images"] == []


# ---- the command line --------------------------------------------------------------------


def test_cli_report_finds_the_round_next_to_the_result(tiny: tuple[Round, Result],
                                                        tmp_path: Path) -> None:
    rnd, result = tiny
    save_result(result, tmp_path / "result.json")
    save_round(rnd, tmp_path / "tiny.json")
    page, book = tmp_path / "out" / "report.html", tmp_path / "out" / "plan.xlsx"
    done = runner.invoke(app, ["report", str(tmp_path / "result.json"), "--out", str(page),
                               "--out", str(book), "--explain-seconds", "0"])
    assert done.exit_code == 0, done.output
    assert f"wrote {page}" in done.output
    assert f"wrote {book}" in done.output
    assert "Tiny hand-checkable round" in page.read_text(encoding="utf-8")
    assert openpyxl.load_workbook(book).sheetnames[0] == "Summary"


def test_cli_report_without_a_round_says_it_is_needed(tiny: tuple[Round, Result],
                                                      tmp_path: Path) -> None:
    _, result = tiny
    save_result(result, tmp_path / "answer.json")
    done = runner.invoke(app, ["report", str(tmp_path / "answer.json"), "--out",
                               str(tmp_path / "r.html")])
    assert done.exit_code == 2
    assert "the report needs the round this result answers (round 'tiny'); pass --round" in (
        done.output)
    assert not (tmp_path / "r.html").exists()


def test_cli_report_exit_codes(tiny: tuple[Round, Result], tmp_path: Path) -> None:
    _, result = tiny
    save_result(result, tmp_path / "answer.json")
    other = runner.invoke(app, ["report", str(tmp_path / "answer.json"), "--round",
                                str(SAMPLES / "single-stream.json"), "--out",
                                str(tmp_path / "r.html")])
    assert other.exit_code == 1
    assert "INVALID: the result is of round 'tiny'" in other.output
    wrong = runner.invoke(app, ["report", str(tmp_path / "answer.json"), "--round",
                                str(SAMPLES / "tiny.json"), "--out", str(tmp_path / "r.pdf")])
    assert wrong.exit_code == 2
    (tmp_path / "junk.json").write_text("{}")
    junk = runner.invoke(app, ["report", str(tmp_path / "junk.json"), "--round",
                               str(SAMPLES / "tiny.json"), "--out", str(tmp_path / "r.html")])
    assert junk.exit_code == 1
