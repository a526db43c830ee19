"""Diffs of two results: who moved, and the objective and KPI deltas.

:func:`diff` compares two results (of one round, or of a round and a scenario of it): who
moved (pharmacist, period, stream: from -> to), and the objective and KPI deltas, as a
:class:`ResultDiff` that renders as DataFrames (:class:`DiffFrames`), JSON-ready dicts (what
the HTTP service returns) and text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

    from matcher.domain import Round
    from matcher.result import Result

__all__ = ["DiffFrames", "Move", "ResultDiff", "diff"]


MoveKind = Literal["moved", "placed", "unplaced"]


@dataclass(frozen=True, slots=True)
class Move:
    """One (pharmacist, period, stream) whose placement differs between two results.

    ``before`` or ``after`` is ``None`` when the slot is empty on that side: ``kind`` is then
    ``placed`` (nothing -> a placement) or ``unplaced`` (a placement -> nothing), else
    ``moved``.
    """

    pharmacist: str
    period: str
    stream: str
    before: str | None
    after: str | None

    @property
    def kind(self) -> MoveKind:
        """``moved``, ``placed`` or ``unplaced``."""
        if self.before is None:
            return "placed"
        if self.after is None:
            return "unplaced"
        return "moved"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"pharmacist": self.pharmacist, "period": self.period, "stream": self.stream,
                "before": self.before, "after": self.after, "kind": self.kind}


class DiffFrames(NamedTuple):
    """A diff as tables: moves, objective parts and KPIs (columns ``before``, ``after``,
    ``delta``)."""

    moves: pd.DataFrame
    objective: pd.DataFrame
    kpis: pd.DataFrame


Number = int | float
_OBJECTIVE_PARTS = ("total", "preference", "hard_to_recruit", "population_health", "travel",
                    "unassigned_count", "shortfall", "fairness_min", "changes")


def _natural(value: str) -> tuple[Any, ...]:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", value))


def _delta(a: Number | None, b: Number | None) -> Number | None:
    if a is None or b is None:
        return None
    d = b - a
    return round(d, 6) if isinstance(d, float) else d


@dataclass(frozen=True)
class ResultDiff:
    """What changed from one result (``before``) to another (``after``).

    ``moves`` lists every (pharmacist, period, stream) whose placement differs;
    ``objective`` and ``kpis`` map a name to ``(before, after)``. Objectives of rounds with
    different weights measure different things: compare their KPIs.
    """

    before_label: str
    after_label: str
    status: tuple[str, str]
    moves: tuple[Move, ...]
    objective: Mapping[str, tuple[Number | None, Number | None]]
    kpis: Mapping[str, tuple[Number | None, Number | None]]

    @property
    def moved_pharmacists(self) -> tuple[str, ...]:
        """Pharmacists with at least one move, sorted."""
        return tuple(sorted({m.pharmacist for m in self.moves}, key=_natural))

    @property
    def objective_delta(self) -> Number | None:
        """after - before of the objective (``None`` if either has no solution)."""
        a, b = self.objective.get("total", (None, None))
        return _delta(a, b)

    def to_frames(self) -> DiffFrames:
        """Moves, objective parts and KPIs as DataFrames (the KPI table: every KPI)."""
        import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

        moves = pd.DataFrame([m.to_dict() for m in self.moves],
                             columns=["pharmacist", "period", "stream", "before", "after",
                                      "kind"])

        def table(values: Mapping[str, tuple[Number | None, Number | None]], key: str
                  ) -> pd.DataFrame:
            rows = [{key: k, "before": a, "after": b, "delta": _delta(a, b)}
                    for k, (a, b) in values.items()]
            return pd.DataFrame(rows, columns=[key, "before", "after", "delta"])

        return DiffFrames(moves, table(self.objective, "part"), table(self.kpis, "kpi"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what the HTTP service returns)."""
        def rows(values: Mapping[str, tuple[Number | None, Number | None]]
                 ) -> dict[str, dict[str, Number | None]]:
            return {k: {"before": a, "after": b, "delta": _delta(a, b)}
                    for k, (a, b) in values.items()}

        return {"before": self.before_label, "after": self.after_label,
                "status": {"before": self.status[0], "after": self.status[1]},
                "moves": [m.to_dict() for m in self.moves],
                "moved_pharmacists": list(self.moved_pharmacists),
                "objective": rows(self.objective), "kpis": rows(self.kpis)}

    def to_text(self, *, max_moves: int = 50, all_kpis: bool = False) -> str:
        """A plain-text summary: headline, moves (at most ``max_moves``), changed KPIs."""
        a, b = self.objective.get("total", (None, None))
        head = (f"{self.before_label} -> {self.after_label}: status {self.status[0]} -> "
                f"{self.status[1]}, objective {_fmt(a)} -> {_fmt(b)}")
        if self.objective_delta is not None:
            head += f" ({self.objective_delta:+,})"
        n, k = len(self.moves), len(self.moved_pharmacists)
        lines = [head, f"{n} slot(s) changed for {k} pharmacist(s)"]
        if self.moves:
            width = max(len(m.pharmacist) for m in self.moves)
            swidth = max(len(m.stream) for m in self.moves)
            for m in self.moves[:max_moves]:
                lines.append(f"  {m.pharmacist:<{width}}  {m.period:<4} {m.stream:<{swidth}}  "
                             f"{m.before or '(none)'} -> {m.after or '(none)'}")
            if n > max_moves:
                lines.append(f"  ... and {n - max_moves} more")
        shown = [(name, x, y) for name, (x, y) in self.objective.items()
                 if all_kpis or x != y]
        if shown:
            lines.append("objective parts:")
            lines += _rows(shown)
        kpis = [(name, x, y) for name, (x, y) in self.kpis.items() if all_kpis or x != y]
        if kpis:
            lines.append("KPIs:" if all_kpis else "KPIs that changed:")
            lines += _rows(kpis)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _fmt(value: Number | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return f"{value:,}"


def _rows(rows: Sequence[tuple[str, Number | None, Number | None]]) -> list[str]:
    width = max(len(r[0]) for r in rows)
    out = []
    for name, x, y in rows:
        d = _delta(x, y)
        sign = "" if d is None else (f"{d:+.4g}" if isinstance(d, float) else f"{d:+,}")
        out.append(f"  {name:<{width}}  {_fmt(x):>12} -> {_fmt(y):<12} {sign}")
    return out


def _flat_numbers(kpis: Mapping[str, Any]) -> dict[str, Number]:
    return {k: v for k, v in kpis.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def diff(before: Result, after: Result, *, labels: tuple[str, str] = ("before", "after"),
         round: Round | None = None) -> ResultDiff:
    """Compare two results (of the same round, or of a round and a scenario of it).

    A move is a (pharmacist, period, stream) whose placement differs, an empty slot
    counting as ``None``. ``round`` (optional) orders the moves by its period order; without
    it periods sort naturally (``R2`` before ``R10``).
    """
    def slots(r: Result) -> dict[tuple[str, str, str], str]:
        return {(a.pharmacist, a.period, a.stream): a.placement for a in r.assignments}

    a, b = slots(before), slots(after)
    order = round.period_index if round is not None else {}

    def key(s: tuple[str, str, str]) -> tuple[Any, ...]:
        return (_natural(s[0]), order.get(s[1], len(order)), _natural(s[1]), s[2])

    moves = tuple(Move(p, t, s, a.get((p, t, s)), b.get((p, t, s)))
                  for (p, t, s) in sorted(a.keys() | b.keys(), key=key)
                  if a.get((p, t, s)) != b.get((p, t, s)))
    parts_a = before.kpis.get("objective_parts") or {}
    parts_b = after.kpis.get("objective_parts") or {}
    objective: dict[str, tuple[Number | None, Number | None]] = {
        "total": (before.objective, after.objective)}
    for part in _OBJECTIVE_PARTS[1:]:
        if part in parts_a or part in parts_b:
            objective[part] = (parts_a.get(part), parts_b.get(part))
    ka, kb = _flat_numbers(before.kpis), _flat_numbers(after.kpis)
    kpis = {k: (ka.get(k), kb.get(k)) for k in [*ka, *(k for k in kb if k not in ka)]}
    return ResultDiff(labels[0], labels[1], (before.status, after.status), moves, objective,
                      kpis)
