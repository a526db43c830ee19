"""Diffs of two results: who moved, and the objective and KPI deltas.

:func:`diff` compares two results (of one round, or of a round and a scenario of it): who
moved (pharmacist, period, stream: from -> to), and the objective and KPI deltas, as a
:class:`ResultDiff` that renders as DataFrames (:class:`DiffFrames`), JSON-ready dicts (what
the HTTP service returns) and text.

A re-plan charges ``weights.change`` for every slot it moves, and the weight that keeps
moves to a minimum is large (:func:`~matcher.whatif.replanning.minimal_change_weight`), so
its objective reads like a collapse (``31,535 -> -1,603,749`` for one moved slot). The
diff therefore also compares **plan quality**, the objective without the change penalty
(the result's ``plan_quality`` KPI), and leads with it whenever either side paid one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from matcher.display import html_table

if TYPE_CHECKING:
    import pandas as pd

    from matcher.domain import Round
    from matcher.result import Result

__all__ = ["DiffFrames", "Move", "ResultDiff", "diff", "plan_quality"]


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
    ``objective`` and ``kpis`` map a name to ``(before, after)``. ``quality`` is each
    side's plan quality: the objective without the change penalty (``None`` without a
    solution, or for a result that does not record it and charged changes). Objectives of
    rounds with different weights measure different things: compare their KPIs.
    """

    before_label: str
    after_label: str
    status: tuple[str, str]
    moves: tuple[Move, ...]
    objective: Mapping[str, tuple[Number | None, Number | None]]
    kpis: Mapping[str, tuple[Number | None, Number | None]]
    quality: tuple[Number | None, Number | None] = (None, None)

    @property
    def moved_pharmacists(self) -> tuple[str, ...]:
        """Pharmacists with at least one move, sorted."""
        return tuple(sorted({m.pharmacist for m in self.moves}, key=_natural))

    @property
    def objective_delta(self) -> Number | None:
        """after - before of the objective (``None`` if either has no solution)."""
        a, b = self.objective.get("total", (None, None))
        return _delta(a, b)

    @property
    def quality_delta(self) -> Number | None:
        """after - before of the plan quality (``None`` if either is unknown)."""
        return _delta(*self.quality)

    @property
    def change_penalty(self) -> bool:
        """Whether either side's objective includes a change penalty (so the objectives
        are not plan quality; compare :attr:`quality`)."""
        totals = self.objective.get("total", (None, None))
        return any(q is not None and t is not None and q != t
                   for q, t in zip(self.quality, totals, strict=True))

    def headline(self) -> str:
        """One line: labels, statuses and the objective; when either side paid a change
        penalty, plan quality first and the objective with the penalty after it."""
        a, b = self.objective.get("total", (None, None))
        head = (f"{self.before_label} -> {self.after_label}: status {self.status[0]} -> "
                f"{self.status[1]}, ")
        if not self.change_penalty:
            head += f"objective {_fmt(a)} -> {_fmt(b)}"
            if self.objective_delta is not None:
                head += f" ({self.objective_delta:+,})"
            return head
        qa, qb = self.quality
        head += f"plan quality {_fmt(qa)} -> {_fmt(qb)}"
        if self.quality_delta is not None:
            head += f" ({self.quality_delta:+,})"
        return head + f"; objective with the change penalty: {_fmt(a)} -> {_fmt(b)}"

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

        parts = {**self.objective, "plan_quality": self.quality}
        return DiffFrames(moves, table(parts, "part"), table(self.kpis, "kpi"))

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
                "objective": rows(self.objective), "kpis": rows(self.kpis),
                "plan_quality": {"before": self.quality[0], "after": self.quality[1],
                                 "delta": self.quality_delta}}

    def to_text(self, *, max_moves: int = 50, all_kpis: bool = False) -> str:
        """A plain-text summary: :meth:`headline`, moves (at most ``max_moves``), changed
        objective parts and KPIs."""
        n, k = len(self.moves), len(self.moved_pharmacists)
        lines = [self.headline(), f"{n} slot(s) changed for {k} pharmacist(s)"]
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
        kpis = [(name, x, y) for name, (x, y) in self.kpis.items()
                if (all_kpis or x != y) and name != "plan_quality"]  # in the headline
        if kpis:
            lines.append("KPIs:" if all_kpis else "KPIs that changed:")
            lines += _rows(kpis)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        """The diff as HTML tables (notebooks): see :func:`diff_html`."""
        return diff_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: :meth:`to_text` (at most 20 moves)."""
        printer.text(self.to_text(max_moves=20))


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
                      kpis, (plan_quality(before), plan_quality(after)))


def plan_quality(result: Result) -> Number | None:
    """The result's objective without the change penalty (``None`` without a solution).

    The ``plan_quality`` KPI where the result has it; for a result written before that KPI
    existed, its objective when it counted no changes, else ``None`` (unknown: the
    change weight it paid is not in the result).
    """
    if result.objective is None:
        return None
    quality = result.kpis.get("plan_quality")
    if isinstance(quality, int | float) and not isinstance(quality, bool):
        return quality
    parts = result.kpis.get("objective_parts") or {}
    return None if parts.get("changes") or result.kpis.get("changes") else result.objective


def diff_html(d: ResultDiff, *, max_moves: int = 20) -> str:
    """HTML tables of a diff for notebooks: the headline, the moves (at most ``max_moves``),
    and the objective parts and KPIs that changed."""
    n, k = len(d.moves), len(d.moved_pharmacists)
    parts = [html_table([("slots changed", n), ("pharmacists moved", k)],
                        caption=d.headline())]
    if d.moves:
        more = f" (the first {max_moves})" if n > max_moves else ""
        parts.append(html_table(
            [(m.pharmacist, m.period, m.stream, m.before or "(none)", m.after or "(none)")
             for m in d.moves[:max_moves]],
            header=("pharmacist", "period", "stream", "before", "after"),
            caption=f"moves{more}"))
    for caption, values in (("objective parts that changed", d.objective),
                            ("KPIs that changed", d.kpis)):
        rows = [(name, x, y, _delta(x, y)) for name, (x, y) in values.items() if x != y]
        if rows:
            parts.append(html_table(rows, header=("", d.before_label, d.after_label,
                                                  "delta"), caption=caption))
    return "".join(parts)
