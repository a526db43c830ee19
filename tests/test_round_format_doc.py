"""``docs/round-format.md`` is kept in step with the code: every table and column the
readers know, every default, choice, objective term, status, reason and headline KPI is
there, and the README points to it rather than to a spec outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from matcher.domain import SECTORS
from matcher.formats.tabular import TABLE_NAMES, TABLES
from matcher.kpis import HEADLINE
from matcher.result import REASONS, STATUSES
from matcher.scoring import TERM_NAMES

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "round-format.md").read_text(encoding="utf-8")


def _section(table: str) -> str:
    match = re.search(rf"^### `{table}`\n(.*?)(?=^#{{2,3}} )", DOC, re.M | re.S)
    assert match, f"docs/round-format.md has no section ### `{table}`"
    return match.group(1)


def _rows(table: str) -> dict[str, str]:
    """Column -> its 'required / default' cell, from the section's table."""
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"^\| `([\w.]+)` \| ([^|]*) \|", _section(table), re.M)}


def _default_text(value: object) -> str:
    if isinstance(value, bool):
        return f"default `{str(value).lower()}`"
    if value == ():
        return "default empty"
    return f"default `{value}`"


@pytest.mark.parametrize("table", TABLE_NAMES)
def test_every_column_is_documented_with_its_default(table: str) -> None:
    rows = _rows(table)
    headers = TABLES[table].base_headers()
    assert list(rows) == headers, f"{table}: the doc's columns differ from the code's"
    for header in headers:
        head, _, sub = header.partition(".")
        spec = TABLES[table].field(head)
        assert spec is not None
        nested = next((s for s in spec.sub if s.name == sub), None) if sub else None
        required = spec.required and (nested.required if nested else True)
        default = nested.default if nested else spec.default
        cell = rows[header]
        if required:
            assert cell.startswith("required"), f"{table}.{header}: {cell!r}"
        elif default is not None and not isinstance(default, BaseModel):
            assert cell == _default_text(default), f"{table}.{header}: {cell!r}"
        else:
            assert cell.startswith(("optional", "required in JSON")), f"{table}.{header}"


def test_every_choice_term_status_reason_and_headline_kpi_is_documented() -> None:
    flat = " ".join(DOC.split())
    for sector in SECTORS:
        assert f"`{sector}`" in DOC, sector
    for whom in ("all", "non_prescribers", "early_years"):
        assert f"`{whom}`" in _section("supervisors"), whom
    for term in TERM_NAMES:
        assert f"`{term}`" in DOC, term
    for status in STATUSES:
        assert f"`{status}`" in DOC, status
    for reason in REASONS.values():
        assert reason in flat, reason
    for kpi in HEADLINE:
        assert f"`{kpi}`" in DOC, kpi
    for part in ("w.unassigned * U", "w.shortfall * S", "w.fairness * M", "w.change * C"):
        assert part in DOC, part


def test_the_readme_links_the_contract_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/round-format.md)" in readme
    assert "../shared/spec" not in readme
    for link in re.findall(r"\]\(((?:schema|\.\./)[^)#]*)\)", DOC):
        assert (ROOT / "docs" / link).exists(), link
