"""The answer to a round (spec §5): a frozen :class:`Result` and how it is made.

A result mirrors the §5 JSON exactly (:meth:`Result.to_dict` / :meth:`Result.from_dict`
round-trip), knows its allocation (:attr:`Result.allocation`), gives pandas tables for
notebooks (:meth:`Result.to_frames`) and summarises itself (:meth:`Result.summary`; in a
notebook, a table of status, objective, bound, gap and the headline KPIs).

:func:`make_result` builds one from the chosen candidates of any solve path, with the
score terms of :mod:`matcher.scoring`, planner-readable reasons for every empty slot and
the KPIs. Reasons and KPIs name ids and counts only, never names or home locations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, with_config

from matcher import kpis
from matcher.allocation import Assignment
from matcher.display import html_table, key_values
from matcher.domain import Round
from matcher.eligibility import Candidates
from matcher.scoring import TERM_NAMES, Scores

if TYPE_CHECKING:  # pandas loads on first use of the tables (0.2 s of import)
    import pandas as pd

__all__ = [
    "FORMAT",
    "REASONS",
    "Frames",
    "Result",
    "ResultAssignment",
    "Status",
    "Unassigned",
    "make_result",
]

ResultFormat = Literal["spin-result/1"]
FORMAT: ResultFormat = "spin-result/1"
Status = Literal["optimal", "feasible", "infeasible", "unknown"]
STATUSES: tuple[str, ...] = ("optimal", "feasible", "infeasible", "unknown")

IntArray = npt.NDArray[np.int64]

_SCHEMA = ConfigDict(use_attribute_docstrings=True,
                     json_schema_serialization_defaults_required=True)
"""How the §5 records describe themselves in the JSON Schema of :mod:`matcher.schema`: each
field's docstring is its description, and every field is in every document written."""

REASONS: dict[str, str] = {
    "no_eligible": "no eligible placement in this period and stream",
    "capacity": "every eligible placement is full (capacity taken by higher-scoring "
    "assignments)",
    "limits": "eligible placements with room are blocked by organisation or supervision "
    "limits",
    "rules": "left empty by the optimum: the placements with room would break rotation, "
    "continuity or sector rules, or cost the round more than the unassigned penalty",
    "unproven": "left empty by the best allocation found in the time (not proven optimal): "
    "the placements with room would break rotation, continuity or sector rules, or the "
    "search did not reach an allocation that fills it",
}
"""Reason texts for an empty (pharmacist, period, stream) slot, by code."""


@with_config(_SCHEMA)
@dataclass(frozen=True, slots=True)
class ResultAssignment:
    """One assignment of a result, with its score and weighted terms (spec §5)."""

    pharmacist: str
    """Pharmacist id."""
    period: str
    """Period id."""
    stream: str
    """Stream id (``rotation`` when the round declares no streams)."""
    placement: str
    """Placement id."""
    score: int
    """score(p, l) of spec §4: the sum of ``terms``."""
    terms: Mapping[str, int]
    """The weighted terms of the score: ``preference``, ``hard_to_recruit``,
    ``population_health`` and ``travel`` (negative)."""

    def to_dict(self) -> dict[str, Any]:
        """The §5 JSON object."""
        return {"pharmacist": self.pharmacist, "period": self.period, "stream": self.stream,
                "placement": self.placement, "score": self.score, "terms": dict(self.terms)}


@with_config(_SCHEMA)
@dataclass(frozen=True, slots=True)
class Unassigned:
    """An empty (pharmacist, period, stream) slot where the pharmacist is available."""

    pharmacist: str
    """Pharmacist id."""
    period: str
    """Period id."""
    stream: str
    """Stream id."""
    reason: str
    """Why the slot is empty, in planners' words."""

    def to_dict(self) -> dict[str, Any]:
        """The §5 JSON object."""
        return {"pharmacist": self.pharmacist, "period": self.period, "stream": self.stream,
                "reason": self.reason}


class Frames(NamedTuple):
    """Tables of a result for notebooks: one row per assignment, per empty slot, per KPI."""

    assignments: pd.DataFrame
    unassigned: pd.DataFrame
    kpis: pd.DataFrame


@with_config(_SCHEMA)
@dataclass(frozen=True)
class Result:
    """The answer to a round (spec §5).

    ``status`` is ``optimal`` (proven), ``feasible`` (a checked solution, optimality not
    proven), ``infeasible`` (no allocation satisfies the hard rules; see ``diagnosis``) or
    ``unknown`` (time ran out before any solution). ``objective`` is the §4 value of the
    assignments (``None`` without a solution), ``bound`` an upper bound on any feasible
    objective (``None`` when unknown), ``gap`` the relative gap ``(bound - objective) /
    max(1, |bound|)`` (0.0 when optimal).
    """

    round: str
    """The id of the round answered (``round.id`` of the round)."""
    status: Status
    """``optimal``, ``feasible``, ``infeasible`` or ``unknown``."""
    objective: int | None = None
    """The §4 objective of the assignments; null without a solution."""
    bound: int | None = None
    """An upper bound on the objective of any allocation; null when unknown."""
    gap: float | None = None
    """(bound - objective) / max(1, |bound|); 0 when optimal, null when either is null."""
    assignments: tuple[ResultAssignment, ...] = ()
    """Every assignment, one per (pharmacist, period, stream) filled."""
    unassigned: tuple[Unassigned, ...] = ()
    """Every empty (pharmacist, period, stream) slot of an available pharmacist."""
    kpis: Mapping[str, Any] = field(default_factory=dict)
    """The KPIs (``matcher.kpis``): counts, shares, travel, fairness, breakdowns."""
    diagnosis: tuple[Any, ...] = ()
    """For an infeasible round, the rules and records in conflict, in planners' words."""
    stats: Mapping[str, Any] = field(default_factory=dict)
    """How it was solved: path, times, workers, seed (informational)."""
    format: ResultFormat = FORMAT
    """Always ``spin-result/1``."""

    @property
    def has_solution(self) -> bool:
        """True when the result carries an allocation (optimal or feasible)."""
        return self.status in ("optimal", "feasible")

    @property
    def allocation(self) -> tuple[Assignment, ...]:
        """The assignments as (pharmacist, period, placement) triples."""
        return tuple(Assignment(a.pharmacist, a.period, a.placement) for a in self.assignments)

    def to_dict(self) -> dict[str, Any]:
        """The §5 JSON document."""
        return {
            "format": self.format,
            "round": self.round,
            "status": self.status,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "assignments": [a.to_dict() for a in self.assignments],
            "unassigned": [u.to_dict() for u in self.unassigned],
            "kpis": dict(self.kpis),
            "diagnosis": [d.to_dict() if hasattr(d, "to_dict") else d for d in self.diagnosis],
            "stats": dict(self.stats),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Result:
        """Read a §5 JSON document (as written by :meth:`to_dict`)."""
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document (format is {data.get('format')!r})")
        status = data["status"]
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return cls(
            round=str(data["round"]),
            status=status,
            objective=data.get("objective"),
            bound=data.get("bound"),
            gap=data.get("gap"),
            assignments=tuple(
                ResultAssignment(a["pharmacist"], a["period"], a["stream"], a["placement"],
                                 int(a["score"]), dict(a["terms"]))
                for a in data.get("assignments", ())
            ),
            unassigned=tuple(
                Unassigned(u["pharmacist"], u["period"], u["stream"], u["reason"])
                for u in data.get("unassigned", ())
            ),
            kpis=dict(data.get("kpis", {})),
            diagnosis=tuple(data.get("diagnosis", ())),
            stats=dict(data.get("stats", {})),
        )

    def to_frames(self) -> Frames:
        """Assignments (terms as columns), empty slots and KPIs as DataFrames."""
        import pandas as pd  # lazy: pandas costs about 0.3 s at start-up

        rows = [
            {"pharmacist": a.pharmacist, "period": a.period, "stream": a.stream,
             "placement": a.placement, "score": a.score, **dict(a.terms)}
            for a in self.assignments
        ]
        columns = ["pharmacist", "period", "stream", "placement", "score", *TERM_NAMES]
        assignments = pd.DataFrame(rows, columns=columns)
        unassigned = pd.DataFrame([u.to_dict() for u in self.unassigned],
                                  columns=["pharmacist", "period", "stream", "reason"])
        kpis = pd.DataFrame(
            {"kpi": list(self.kpis), "value": list(self.kpis.values())},
            columns=["kpi", "value"],
        )
        return Frames(assignments, unassigned, kpis)

    def summary(self) -> str:
        """A few lines for logs and the command line."""
        head = f"round {self.round}: {self.status}"
        if self.objective is not None:
            head += f", objective {self.objective}"
        if self.bound is not None:
            head += f", bound {self.bound}"
        if self.gap is not None:
            head += f", gap {self.gap:.4%}"
        lines = [head]
        quality = self.kpis.get("plan_quality")
        if self.has_solution and quality is not None and quality != self.objective:
            # A re-plan's objective holds the change penalty: say what the plan is worth.
            lines.append(f"plan quality {quality} (the objective without the change "
                         f"penalty of {self.kpis.get('changes', 0)} changed slot(s))")
        if self.has_solution:
            k = self.kpis
            lines.append(
                f"{k.get('assignments', len(self.assignments))} assignments, "
                f"{k.get('unassigned', len(self.unassigned))} empty slots, "
                f"{k.get('first_choice', 0)} first choices, "
                f"{k.get('top_3', 0)} in the top 3, "
                f"{k.get('hard_to_recruit_filled', 0)} hard-to-recruit seats filled, "
                f"shortfall {k.get('shortfall', 0)}"
            )
        if self.diagnosis:
            lines.append(f"{len(self.diagnosis)} conflict(s) found; see diagnosis")
        st = self.stats
        if st:
            lines.append(
                f"path {st.get('path', '?')}, build {st.get('build_seconds', 0):.2f} s, "
                f"solve {st.get('solve_seconds', 0):.2f} s, workers {st.get('workers', '?')}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Status, objective, bound, gap, the headline KPIs and any diagnosis as HTML tables
        (notebooks): ids and counts only."""
        st = self.stats
        head = [("status", self.status), ("objective", self.objective),
                ("bound", self.bound),
                ("gap", None if self.gap is None else f"{self.gap:.4%}"),
                ("assignments", len(self.assignments)),
                ("empty slots", len(self.unassigned))]
        if st:
            head.append(("solved by", f"{st.get('path', '?')} in "
                                      f"{st.get('solve_seconds', 0):.2f} s"))
        parts = [key_values(head, caption=f"result of round {self.round}")]
        shown = [(f"{what} ({name})", self.kpis[name])
                 for name, what in kpis.HEADLINE.items() if name in self.kpis]
        if shown:
            parts.append(key_values(shown, caption="KPIs"))
        findings = [d.to_dict() if hasattr(d, "to_dict") else d for d in self.diagnosis]
        if findings:
            parts.append(html_table(
                [(i, f.get("message", f) if isinstance(f, dict) else f)
                 for i, f in enumerate(findings, start=1)], caption="diagnosis"))
        return "".join(parts)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython's plain-text display: :meth:`summary` (the repr lists every assignment)."""
        printer.text(self.summary())


def gap_of(objective: int | None, bound: int | None) -> float | None:
    """Relative gap ``(bound - objective) / max(1, |bound|)`` (never negative)."""
    if objective is None or bound is None:
        return None
    return max(0.0, (bound - objective) / max(1.0, abs(bound)))


def make_result(
    rnd: Round,
    cand: Candidates,
    sc: Scores,
    chosen: IntArray | None,
    *,
    status: Status,
    objective: int | None = None,
    bound: int | None = None,
    breakdown: Mapping[str, Any] | None = None,
    diagnosis: Sequence[Any] = (),
    stats: Mapping[str, Any] | None = None,
) -> Result:
    """A :class:`Result` from the indices of the chosen candidates (``None``: no solution).

    ``breakdown`` (the checker's objective parts) is added to the KPIs when given.
    """
    if chosen is None:
        return Result(round=rnd.round.id, status=status, bound=bound,
                      diagnosis=tuple(diagnosis), stats=dict(stats or {}))
    chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    total = sc.total
    streams = rnd.effective_streams
    assignments = tuple(
        ResultAssignment(
            pharmacist=rnd.pharmacists[int(cand.pharmacist[i])].id,
            period=rnd.period_ids[int(cand.period[i])],
            stream=streams[int(cand.stream[i])].id,
            placement=rnd.placements[int(cand.placement[i])].id,
            score=int(total[i]),
            terms=sc.terms(int(i)),
        )
        for i in chosen
    )
    unassigned = _unassigned(rnd, cand, chosen, proven=status == "optimal")
    if status == "optimal":
        bound = objective
    kpis = _kpis(rnd, assignments, unassigned, breakdown)
    return Result(
        round=rnd.round.id,
        status=status,
        objective=objective,
        bound=bound,
        gap=0.0 if status == "optimal" else gap_of(objective, bound),
        assignments=assignments,
        unassigned=unassigned,
        kpis=kpis,
        diagnosis=tuple(diagnosis),
        stats=dict(stats or {}),
    )


def _unassigned(rnd: Round, cand: Candidates, chosen: IntArray, *,
                proven: bool) -> tuple[Unassigned, ...]:
    """Every empty slot of an available pharmacist, with the most telling reason (an
    allocation not proven optimal never says the optimum left a slot empty)."""
    n_p, n_t, n_s = len(rnd.pharmacists), len(rnd.periods), len(rnd.effective_streams)
    n_l = len(rnd.placements)
    slot = (cand.pharmacist * n_t + cand.period) * n_s + cand.stream
    filled = np.zeros(n_p * n_t * n_s, dtype=bool)
    filled[slot[chosen]] = True
    has_candidate = np.zeros(n_p * n_t * n_s, dtype=bool)
    has_candidate[slot] = True
    holders = np.bincount(cand.placement[chosen] * n_t + cand.period[chosen],
                          minlength=n_l * n_t)
    cap = np.array([[pl.capacity_in(t) for t in rnd.period_ids] for pl in rnd.placements],
                   dtype=np.int64).reshape(-1)
    room = holders[cand.placement * n_t + cand.period] < cap[cand.placement * n_t + cand.period]
    slot_has_room = np.zeros(n_p * n_t * n_s, dtype=bool)
    slot_has_room[slot[room]] = True
    limited = _limited_slots(rnd, cand, chosen, room, slot, filled)
    out = []
    for i, ph in enumerate(rnd.pharmacists):
        off = set(ph.unavailable)
        for t_i, t in enumerate(rnd.period_ids):
            if t in off:
                continue
            for s_i, s in enumerate(rnd.effective_streams):
                k = (i * n_t + t_i) * n_s + s_i
                if filled[k]:
                    continue
                if not has_candidate[k]:
                    code = "no_eligible"
                elif not slot_has_room[k]:
                    code = "capacity"
                elif limited[k]:
                    code = "limits"
                else:
                    code = "rules" if proven else "unproven"
                out.append(Unassigned(ph.id, t, s.id, REASONS[code]))
    return tuple(out)


def _limited_slots(
    rnd: Round, cand: Candidates, chosen: IntArray, room: npt.NDArray[np.bool_],
    slot: IntArray, filled: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Empty slots whose every candidate with room is blocked by a full organisation or
    supervisor (counting distinct pharmacists, as the rules do)."""
    n_slots = len(filled)
    held = [(int(cand.pharmacist[i]), int(cand.placement[i]), int(cand.period[i]))
            for i in chosen]
    org_of = [pl.organisation for pl in rnd.placements]
    caps = {o.id: o.max_pharmacists for o in rnd.organisations if o.max_pharmacists is not None}
    sups_of: dict[int, list[int]] = {}
    for k, sup in enumerate(rnd.supervisors):
        for x in sup.placements:
            sups_of.setdefault(rnd.placement_index[x], []).append(k)
    hosted: dict[tuple[str, int], set[int]] = {}
    supervised: dict[tuple[int, int], set[int]] = {}
    for p, l_i, t_i in held:
        org = org_of[l_i]
        if org in caps:
            hosted.setdefault((org, t_i), set()).add(p)
        for k in sups_of.get(l_i, ()):
            if rnd.supervisors[k].counts(rnd.pharmacists[p]):
                supervised.setdefault((k, t_i), set()).add(p)
    look = np.flatnonzero(room & ~filled[slot])
    blocked = np.zeros(len(look), dtype=bool)
    for n, k_var in enumerate(look.tolist()):
        k = int(k_var)
        p, l_i, t_i = int(cand.pharmacist[k]), int(cand.placement[k]), int(cand.period[k])
        org = org_of[l_i]
        if org in caps and len(hosted.get((org, t_i), set()) - {p}) >= (caps[org] or 0):
            blocked[n] = True
            continue
        for s_k in sups_of.get(l_i, ()):
            sup = rnd.supervisors[s_k]
            if sup.counts(rnd.pharmacists[p]) and len(
                supervised.get((s_k, t_i), set()) - {p}
            ) >= sup.capacity:
                blocked[n] = True
                break
    open_ = np.zeros(n_slots, dtype=bool)
    open_[slot[look[~blocked]]] = True
    limited = np.zeros(n_slots, dtype=bool)
    limited[slot[look]] = True
    return limited & ~open_


def _kpis(
    rnd: Round, assignments: Sequence[ResultAssignment], unassigned: Sequence[Unassigned],
    breakdown: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The result's KPIs, defined once in :mod:`matcher.kpis` (the baseline uses them too)."""
    return kpis.compute(rnd, assignments, unassigned, breakdown=breakdown)
