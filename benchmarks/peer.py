"""The peer: a plain CP-SAT model of the whole spec, built the obvious way.

This is the yardstick :mod:`benchmarks.bench_solve` sets ``matcher.solve`` against. It models
exactly the problem of ``round-format.md`` (§3 hard rules, §4 objective) the way a
competent engineer would write it on a first day, with none of the structure
``matcher.solve`` exploits (no flow path, no LP bound, no period collapsing, no numpy model
building, no hint, no parameter tuning):

- one ``model.new_bool_var`` per eligible (pharmacist, placement, period) triple, created in
  a Python loop (eligibility comes from :func:`matcher.eligibility.candidates`, so both
  solvers model the same problem: that is the fair comparison);
- one ``model.add`` per rule instance, with Python ``sum`` over the variables involved;
- auxiliary variables only where a rule needs them: the chosen practice of a non-rotating
  stream, the sectors a pharmacist covers, a "holds one of these" indicator when an
  organisation or a supervisor counts distinct pharmacists across streams, the shortfall
  of a placement and the fairness minimum M;
- CP-SAT with default parameters except the time limit, the number of workers and the seed.

Every answer is verified by the independent checker (:func:`matcher.checker.violations` and
:func:`matcher.checker.objective`): :class:`PeerResult` says whether it passed and what the
checker recomputes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from matcher import checker
from matcher.allocation import Assignment
from matcher.domain import Round
from matcher.eligibility import candidates

__all__ = ["PeerModel", "PeerResult", "build_peer", "solve_built", "solve_peer"]

Triple = tuple[int, int, int]
"""(pharmacist index, placement index, period index)."""


@dataclass
class PeerModel:
    """A built peer model: the CP-SAT model and its assignment variables by triple."""

    round: Round
    model: cp_model.CpModel
    x: dict[Triple, cp_model.IntVar]
    build_seconds: float
    infeasible_reason: str | None = None
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class PeerResult:
    """What the peer found, in the same terms as a :class:`matcher.result.Result`.

    ``status`` is ``optimal``, ``feasible``, ``infeasible`` or ``unknown``; ``objective`` is
    CP-SAT's objective value and ``bound`` its best bound (rounded down: the objective is an
    integer); ``gap`` is ``(bound - objective) / max(1, |bound|)``. ``checked`` is ``True``
    when the checker finds no violation and recomputes the same objective, ``False`` when it
    disagrees, ``None`` without a solution; ``check_objective`` is the checker's value.
    """

    status: str
    objective: int | None
    bound: int | None
    gap: float | None
    build_seconds: float
    solve_seconds: float
    checked: bool | None
    check_objective: int | None
    violations: int
    assignments: tuple[Assignment, ...] = ()
    stats: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The figures as plain JSON (assignments left out)."""
        out = asdict(self)
        out.pop("assignments")
        out["n_assignments"] = len(self.assignments)
        return out


def _pref_points(rnd: Round) -> dict[tuple[int, int], int]:
    """pref(p, l) of §4 for every ranked pair: R - rank + 1 (first occurrence counts)."""
    limit = rnd.rules.max_preferences
    out: dict[tuple[int, int], int] = {}
    for i, ph in enumerate(rnd.pharmacists):
        for rank, placement_id in enumerate(ph.preferences, start=1):
            key = (i, rnd.placement_index[placement_id])
            if key not in out:
                out[key] = limit - rank + 1
    return out


def build_peer(rnd: Round) -> PeerModel:
    """Build the plain CP-SAT model of the round (spec §3 and §4), one rule at a time."""
    t0 = time.monotonic()
    model = cp_model.CpModel()
    w = rnd.weights
    streams = rnd.effective_streams
    stream_of = [rnd.stream_index[rnd.stream_of(pl).id] for pl in rnd.placements]
    sector_of = [pl.sector for pl in rnd.placements]
    htr = [pl.hard_to_recruit for pl in rnd.placements]
    pop = [pl.population_health for pl in rnd.placements]
    available = [
        [t not in set(ph.unavailable) for t in rnd.period_ids] for ph in rnd.pharmacists
    ]
    infeasible: list[str] = []

    def impossible(reason: str) -> None:
        """A rule that no assignment can satisfy: an empty clause makes the model infeasible."""
        infeasible.append(reason)
        model.add_bool_or([])

    # Variables: one boolean per eligible triple, with its score.
    cand = candidates(rnd)
    points = _pref_points(rnd)
    x: dict[Triple, cp_model.IntVar] = {}
    score: dict[Triple, int] = {}
    for p, l_, t, tr in zip(cand.pharmacist.tolist(), cand.placement.tolist(),
                            cand.period.tolist(), cand.travel.tolist(), strict=True):
        x[p, l_, t] = model.new_bool_var(f"x_{p}_{l_}_{t}")
        score[p, l_, t] = (w.preference * points.get((p, l_), 0) + w.hard_to_recruit * htr[l_]
                           + w.population_health * pop[l_] - w.travel * tr)

    by_slot: dict[tuple[int, int, int], list[cp_model.IntVar]] = defaultdict(list)
    by_seat: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    holders: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    by_pair: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
    by_sector: dict[tuple[int, str], list[cp_model.IntVar]] = defaultdict(list)
    by_pharmacist: dict[int, list[Triple]] = defaultdict(list)
    for (p, l_, t), var in x.items():
        by_slot[p, t, stream_of[l_]].append(var)
        by_seat[l_, t].append(var)
        holders[l_, t].append((p, var))
        by_pair[p, l_].append(var)
        by_sector[p, sector_of[l_]].append(var)
        by_pharmacist[p].append((p, l_, t))

    # §3.1 at most one placement per pharmacist, period and stream (exactly one if asked).
    objective: list[Any] = []
    constant = 0
    for p in range(len(rnd.pharmacists)):
        for t in range(len(rnd.periods)):
            for s in range(len(streams)):
                held = by_slot.get((p, t, s), [])
                if not available[p][t]:
                    continue
                if not rnd.rules.allow_unassigned:
                    if held:
                        model.add(sum(held) == 1)
                    else:
                        impossible(f"pharmacist {p} has no eligible placement in {t}/{s}")
                elif held:
                    model.add(sum(held) <= 1)
                # §4 U: an empty slot costs w.unassigned, i.e. w.unassigned * (1 - sum(held)).
                constant -= w.unassigned
                if held:
                    objective.append(w.unassigned * sum(held))

    # §3.2 capacity.
    for (l_, t), held in by_seat.items():
        cap = rnd.placements[l_].capacity_in(rnd.period_ids[t])
        if len(held) > cap:
            model.add(sum(held) <= cap)

    # §3.3 organisation cap and §3.4 supervision: distinct pharmacists among some placements.
    def count_pharmacists(placements: set[int], t: int, who: set[int]) -> list[Any]:
        """One 0-1 term per pharmacist of ``who`` holding one of ``placements`` in ``t``."""
        held: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
        for l_ in sorted(placements):
            for p, var in holders.get((l_, t), []):
                if p in who:
                    held[p].append((l_, var))
        terms: list[Any] = []
        for p, pairs in held.items():
            if len({stream_of[l_] for l_, _ in pairs}) == 1:
                terms.append(sum(v for _, v in pairs))  # one stream: at most one anyway
            else:
                y = model.new_bool_var(f"holds_{p}_{t}")
                for _, v in pairs:
                    model.add(v <= y)
                terms.append(y)
        return terms

    everyone = set(range(len(rnd.pharmacists)))
    for org in rnd.organisations:
        if org.max_pharmacists is None:
            continue
        own = {j for j, pl in enumerate(rnd.placements) if pl.organisation == org.id}
        for t in range(len(rnd.periods)):
            terms = count_pharmacists(own, t, everyone)
            if len(terms) > org.max_pharmacists:
                model.add(sum(terms) <= org.max_pharmacists)
    for sup in rnd.supervisors:
        covered = {rnd.placement_index[pl_id] for pl_id in sup.placements}
        whom = {i for i, ph in enumerate(rnd.pharmacists) if sup.counts(ph)}
        for t in range(len(rnd.periods)):
            terms = count_pharmacists(covered, t, whom)
            if len(terms) > sup.capacity:
                model.add(sum(terms) <= sup.capacity)

    # §3.5 rotation (history is already excluded by eligibility) and continuity.
    continuity: dict[tuple[int, int], cp_model.IntVar] = {}
    for (_, l_), held in by_pair.items():
        if streams[stream_of[l_]].rotate and len(held) > 1:
            model.add(sum(held) <= 1)
    for p, triples in by_pharmacist.items():
        for s, stream in enumerate(streams):
            if stream.rotate:
                continue
            places = sorted({l_ for _, l_, _ in triples if stream_of[l_] == s})
            if len(places) < 2:
                continue
            for l_ in places:
                continuity[p, l_] = model.new_bool_var(f"keeps_{p}_{l_}")
                for var in by_pair[p, l_]:
                    model.add(var <= continuity[p, l_])
            model.add(sum(continuity[p, l_] for l_ in places) <= 1)

    # §3.6 sector mix and required sectors (history counts).
    for p, ph in enumerate(rnd.pharmacists):
        a_p = sum(available[p])
        done = {rnd.placement(h).sector for h in ph.history}
        for sector in rnd.rules.required_sectors if a_p >= 1 else ():
            if sector in done:
                continue
            held = by_sector.get((p, sector), [])
            if held:
                model.add(sum(held) >= 1)
            else:
                impossible(f"pharmacist {p} cannot cover required sector {sector}")
        need = min(rnd.rules.min_distinct_sectors, a_p) - len(done)
        if need <= 0:
            continue
        covers = []
        for sector in sorted({sector_of[l_] for _, l_, _ in by_pharmacist.get(p, [])} - done):
            c = model.new_bool_var(f"covers_{p}_{sector}")
            model.add(c <= sum(by_sector[p, sector]))
            covers.append(c)
        if len(covers) >= need:
            model.add(sum(covers) >= need)
        else:
            impossible(f"pharmacist {p} cannot cover enough sectors")

    # §3.7 pins.
    for pin in rnd.pins:
        key = (rnd.pharmacist_index[pin.pharmacist], rnd.placement_index[pin.placement],
               rnd.period_index[pin.period])
        if key in x:
            model.add(x[key] == 1)
        else:
            impossible(f"pin {key} is not eligible")

    # §4 objective: scores, shortfall, fairness, changes (U is above).
    objective.append(sum(score[k] * var for k, var in x.items() if score[k]))
    if w.shortfall:
        for l_, pl in enumerate(rnd.placements):
            for t, t_id in enumerate(rnd.period_ids):
                want = pl.min_fill_in(t_id)
                if want <= 0:
                    continue
                short = model.new_int_var(0, want, f"short_{l_}_{t}")
                model.add(short >= want - sum(by_seat.get((l_, t), [])))
                objective.append(-w.shortfall * short)
    if w.fairness:
        counted = [p for p in range(len(rnd.pharmacists)) if any(available[p])]
        top = rnd.rules.max_preferences * len(rnd.periods) * len(streams)
        m_var = model.new_int_var(0, top if counted else 0, "fairness_min")
        for p in counted:
            model.add(m_var <= sum(points.get((p, l_), 0) * x[p, l_, t]
                                   for _, l_, t in by_pharmacist.get(p, [])))
        objective.append(w.fairness * m_var)
    if w.change:
        reference: dict[tuple[int, int, int], Triple] = {}
        for r in rnd.reference:
            l_ = rnd.placement_index[r.placement]
            p, t = rnd.pharmacist_index[r.pharmacist], rnd.period_index[r.period]
            reference.setdefault((p, t, stream_of[l_]), (p, l_, t))
        for key in reference.values():
            constant -= w.change
            if key in x:
                objective.append(w.change * x[key])
    model.maximize(sum(objective) + constant)

    stats = {"variables": len(model.proto.variables), "constraints": len(model.proto.constraints),
             "assignment_variables": len(x)}
    return PeerModel(rnd, model, x, time.monotonic() - t0,
                     "; ".join(infeasible) or None, stats)


def solve_built(pm: PeerModel, *, time_limit_s: float, workers: int = 2,
                seed: int = 0) -> PeerResult:
    """Solve a built peer model with CP-SAT's defaults, then check the answer."""
    rnd = pm.round
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    t0 = time.monotonic()
    code = solver.solve(pm.model)
    solve_s = time.monotonic() - t0
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        status = "infeasible" if code == cp_model.INFEASIBLE else "unknown"
        return PeerResult(status, None, None, None, pm.build_seconds, solve_s, checked=None,
                          check_objective=None, violations=0, stats=pm.stats)
    allocation = tuple(
        Assignment(rnd.pharmacists[p].id, rnd.period_ids[t], rnd.placements[l_].id)
        for (p, l_, t), var in pm.x.items()
        if solver.boolean_value(var)
    )
    value = round(solver.objective_value)
    bound = int(solver.best_objective_bound // 1)
    status = "optimal" if code == cp_model.OPTIMAL else "feasible"
    if status == "optimal":
        bound = value
    found = checker.violations(rnd, allocation)
    recomputed = checker.objective(rnd, allocation).total
    return PeerResult(
        status=status,
        objective=value,
        bound=bound,
        gap=max(0.0, (bound - value) / max(1.0, abs(bound))),
        checked=not found and recomputed == value,
        check_objective=recomputed,
        violations=len(found),
        assignments=allocation,
        build_seconds=pm.build_seconds,
        solve_seconds=solve_s,
        stats=pm.stats,
    )


def solve_peer(rnd: Round, *, time_limit_s: float, workers: int = 2,
               seed: int = 0) -> PeerResult:
    """Build the peer model of ``rnd`` and solve it (CP-SAT gets ``time_limit_s`` after the
    build; building is timed separately)."""
    return solve_built(build_peer(rnd), time_limit_s=time_limit_s, workers=workers, seed=seed)
