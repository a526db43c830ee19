"""The conflict core: the hard rules as CP-SAT rows (:class:`ConflictModel`), and the search
for a minimal set of groups that cannot hold together (localisation to a few pharmacists,
CP-SAT assumptions, QuickXplain, deletion-based minimisation)."""

from __future__ import annotations

import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from matcher.diagnosis.findings import Group, pin_group
from matcher.domain import SECTORS, Round
from matcher.eligibility import Candidates, candidates

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

_ASSUME_S = 2.0  # longest search under assumptions before switching to hard checks
_SMALL = 12  # pharmacists below which a conflict is not localised further


class ConflictModel:
    """The hard rules (§3) of a round as CP-SAT rows, each group switched on by a literal.

    Variables are one boolean per eligible candidate (the order of
    :class:`matcher.eligibility.Candidates`), one literal per :class:`Group` and auxiliary
    booleans (the chosen placement of a non-rotating stream, a sector covered, a pharmacist
    counted once by an organisation or supervisor across streams). Rows that only define
    an auxiliary variable (``x <= z``) and "at most one placement per stream and period"
    are always on; every other row is enforced by its group's literal, so solving under
    assumptions tells which groups conflict. There is no objective.
    """

    def __init__(self, rnd: Round, cand: Candidates | None = None, *,
                 pharmacists: Iterable[int] | None = None) -> None:
        self.round = rnd
        cand = cand if cand is not None else candidates(rnd)
        self._only = None if pharmacists is None else set(pharmacists)
        self.cand = cand if self._only is None else _restrict(cand, self._only)
        self.groups: list[Group] = []
        self.index: dict[Group, int] = {}
        self.last_status = "unknown"
        self._last_solution: list[int] = []
        self._model = cp_model.CpModel()
        self._proto = self._model.proto
        self._literal: list[int] = []
        self._n_vars = 0
        self._new_vars(len(self.cand))
        c = self.cand
        self._streams = rnd.effective_streams
        self._n_t = len(rnd.periods)
        self._n_s = len(self._streams)
        self._slot = (c.pharmacist * self._n_t + c.period) * self._n_s + c.stream
        for rule in (self._one_per_stream, self._allow_unassigned, self._capacity,
                     self._organisation_cap, self._supervision, self._rotation,
                     self._continuity, self._sector_mix, self._required_sectors, self._pins):
            rule()
        self._group_of_literal = {lit: k for k, lit in enumerate(self._literal)}

    # ---- building blocks ---------------------------------------------------------------

    def _includes(self, i: int) -> bool:
        return self._only is None or i in self._only

    def _new_vars(self, n: int) -> list[int]:
        start = self._n_vars
        variables = self._proto.variables
        for _ in range(n):
            variables.add().domain.extend((0, 1))
        self._n_vars += n
        return list(range(start, start + n))

    def _group(self, group: Group) -> int:
        k = self.index.get(group)
        if k is None:
            k = len(self.groups)
            self.groups.append(group)
            self.index[group] = k
            self._literal.append(self._new_vars(1)[0])
        return self._literal[k]

    def _linear(self, variables: Sequence[int], coefs: Sequence[int], lower: int, upper: int,
                group: Group | None = None) -> None:
        ct = self._proto.constraints.add()
        if group is not None:
            ct.enforcement_literal.append(self._group(group))
        ct.linear.vars.extend(int(v) for v in variables)
        ct.linear.coeffs.extend(int(a) for a in coefs)
        ct.linear.domain.extend((int(lower), int(upper)))

    def _sum_at_most(self, variables: Sequence[int], limit: int, group: Group) -> None:
        self._linear(variables, [1] * len(variables), 0, limit, group)

    def _sum_at_least(self, variables: Sequence[int], need: int, group: Group) -> None:
        self._linear(variables, [1] * len(variables), need, max(need, len(variables)), group)

    def _implies(self, x: int, z: int) -> None:
        """Always on: x <= z."""
        self._linear([x, z], [1, -1], -1, 0)

    def _by(self, keys: IntArray) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for r, k in enumerate(keys.tolist()):
            out[k].append(r)
        return out

    # ---- rules ---------------------------------------------------------------------------

    def _one_per_stream(self) -> None:
        """§3.1 (always on): at most one placement per pharmacist, period and stream."""
        for rows in self._by(self._slot).values():
            if len(rows) > 1:
                self._proto.constraints.add().at_most_one.literals.extend(rows)

    def _allow_unassigned(self) -> None:
        """§3.1: with allow_unassigned false, one placement in every available slot."""
        rnd = self.round
        if rnd.rules.allow_unassigned:
            return
        by_slot = self._by(self._slot)
        for i, ph in enumerate(rnd.pharmacists):
            if not self._includes(i):
                continue
            off = set(ph.unavailable)
            for t_i, t in enumerate(rnd.period_ids):
                if t in off:
                    continue
                for s_i, s in enumerate(self._streams):
                    rows = by_slot.get((i * self._n_t + t_i) * self._n_s + s_i, [])
                    self._sum_at_least(rows, 1, Group("allow_unassigned", pharmacist=ph.id,
                                                      period=t, stream=s.id))

    def _capacity(self) -> None:
        """§3.2: at most capacity(l, t) holders (only where more candidates than seats)."""
        rnd, c = self.round, self.cand
        for key, rows in self._by(c.placement * self._n_t + c.period).items():
            pl, t = rnd.placements[key // self._n_t], rnd.period_ids[key % self._n_t]
            cap = pl.capacity_in(t)
            if len(rows) > cap:
                self._sum_at_most(rows, cap, Group("capacity", placement=pl.id, period=t))

    def _distinct_cap(self, rows: Sequence[int], limit: int, group: Group) -> None:
        """Distinct pharmacists among ``rows`` (one period) at most ``limit``."""
        c = self.cand
        by_ph: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            by_ph[int(c.pharmacist[r])].append(r)
        if len(by_ph) <= limit:
            return
        terms: list[int] = []
        for own in by_ph.values():
            if len({int(c.stream[r]) for r in own}) == 1:
                terms += own  # at most one of them by one_per_stream
                continue
            d = self._new_vars(1)[0]
            for r in own:
                self._implies(r, d)
            terms.append(d)
        self._sum_at_most(terms, limit, group)

    def _organisation_cap(self) -> None:
        """§3.3: distinct pharmacists across an organisation's placements per period."""
        rnd, c = self.round, self.cand
        for org in rnd.organisations:
            if org.max_pharmacists is None:
                continue
            own = np.array([pl.organisation == org.id for pl in rnd.placements], dtype=bool)
            sel = np.flatnonzero(own[c.placement]) if len(c) else np.zeros(0, np.int64)
            for t_i, t in enumerate(rnd.period_ids):
                rows = sel[c.period[sel] == t_i].tolist()
                self._distinct_cap(rows, org.max_pharmacists,
                                   Group("organisation_cap", organisation=org.id, period=t))

    def _supervision(self) -> None:
        """§3.4: counted distinct pharmacists across a supervisor's placements per period."""
        rnd, c = self.round, self.cand
        for sup in rnd.supervisors:
            covered = np.zeros(len(rnd.placements), dtype=bool)
            covered[[rnd.placement_index[x] for x in sup.placements]] = True
            counted = np.array([sup.counts(ph) for ph in rnd.pharmacists], dtype=bool)
            sel = (np.flatnonzero(covered[c.placement] & counted[c.pharmacist])
                   if len(c) else np.zeros(0, np.int64))
            for t_i, t in enumerate(rnd.period_ids):
                rows = sel[c.period[sel] == t_i].tolist()
                self._distinct_cap(rows, sup.capacity,
                                   Group("supervision", supervisor=sup.id, period=t))

    def _rotation(self) -> None:
        """§3.5: nobody holds a placement of a rotating stream twice (history is excluded
        by eligibility)."""
        rnd, c = self.round, self.cand
        rotating = np.array([s.rotate for s in self._streams], dtype=bool)
        n_l = len(rnd.placements)
        for key, rows in self._by(c.pharmacist * n_l + c.placement).items():
            if len(rows) > 1 and rotating[int(c.stream[rows[0]])]:
                self._sum_at_most(rows, 1, Group(
                    "rotation", pharmacist=rnd.pharmacists[key // n_l].id,
                    placement=rnd.placements[key % n_l].id))

    def _continuity(self) -> None:
        """§3.5: one placement throughout a non-rotating stream (``x <= z[l]``, at most one
        ``z`` per pharmacist and stream)."""
        rnd, c = self.round, self.cand
        for key, rows in self._by(c.pharmacist * self._n_s + c.stream).items():
            s = self._streams[key % self._n_s]
            if s.rotate:
                continue
            by_l: dict[int, list[int]] = defaultdict(list)
            for r in rows:
                by_l[int(c.placement[r])].append(r)
            if len(by_l) < 2:
                continue
            zs = self._new_vars(len(by_l))
            for z, own in zip(zs, by_l.values(), strict=True):
                for r in own:
                    self._implies(r, z)
            self._sum_at_most(zs, 1, Group("continuity",
                                           pharmacist=rnd.pharmacists[key // self._n_s].id,
                                           stream=s.id))

    def _sector_mix(self) -> None:
        """§3.6: at least min(min_distinct_sectors, A(p)) distinct sectors, history counted."""
        rnd, c = self.round, self.cand
        wanted = rnd.rules.min_distinct_sectors
        if not wanted:
            return
        sector_of = np.array([SECTORS.index(pl.sector) for pl in rnd.placements], np.int64)
        n_sec = len(SECTORS)
        by_key = self._by(c.pharmacist * n_sec + sector_of[c.placement]) if len(c) else {}
        for i, ph in enumerate(rnd.pharmacists):
            hist = {SECTORS.index(rnd.placement(h).sector) for h in ph.history}
            need = min(wanted, len(rnd.available_periods(ph))) - len(hist)
            if need <= 0 or not self._includes(i):
                continue
            covers = []
            for sec in range(n_sec):
                rows = by_key.get(i * n_sec + sec)
                if sec in hist or not rows:
                    continue
                cover = self._new_vars(1)[0]
                self._linear([cover, *rows], [1] + [-1] * len(rows), -len(rows), 0)
                covers.append(cover)
            self._linear(covers, [1] * len(covers), need, max(need, len(covers)),
                         Group("sector_mix", pharmacist=ph.id))

    def _required_sectors(self) -> None:
        """§3.6: every required sector covered (history counts) when A(p) >= 1."""
        rnd, c = self.round, self.cand
        required = list(dict.fromkeys(rnd.rules.required_sectors))
        if not required:
            return
        sector = np.array([pl.sector for pl in rnd.placements], dtype=object)
        for i, ph in enumerate(rnd.pharmacists):
            if not rnd.available_periods(ph) or not self._includes(i):
                continue
            hist = {rnd.placement(h).sector for h in ph.history}
            lo, hi = np.searchsorted(c.pharmacist, [i, i + 1])
            mine = np.arange(lo, hi)
            for sec in required:
                if sec in hist:
                    continue
                rows = mine[sector[c.placement[mine]] == sec].tolist() if len(mine) else []
                self._sum_at_least(rows, 1, Group("required_sectors", pharmacist=ph.id,
                                                  sector=sec))

    def _pins(self) -> None:
        """§3.7: every pin holds."""
        rnd, c = self.round, self.cand
        n_l, n_t = len(rnd.placements), self._n_t
        key = (c.pharmacist * n_l + c.placement) * n_t + c.period
        for k, pin in enumerate(rnd.pins):
            if not self._includes(rnd.pharmacist_index[pin.pharmacist]):
                continue
            q = ((rnd.pharmacist_index[pin.pharmacist] * n_l
                  + rnd.placement_index[pin.placement]) * n_t + rnd.period_index[pin.period])
            pos = int(np.searchsorted(key, q)) if len(key) else 0
            rows = [pos] if pos < len(key) and int(key[pos]) == q else []
            self._sum_at_least(rows, 1, pin_group(k, pin))

    # ---- solving -------------------------------------------------------------------------

    def _run(self, time_limit_s: float) -> tuple[Any, cp_model.CpSolver]:
        solver = cp_model.CpSolver()
        p = solver.parameters
        p.max_time_in_seconds = max(0.01, time_limit_s)
        p.num_workers = 1  # a core is read from the sequential search; the machine is shared
        p.random_seed = 0
        code = solver.solve(self._model)
        if code == cp_model.MODEL_INVALID:
            raise RuntimeError(f"diagnosis model invalid: {self._model.validate()}")
        return code, solver

    @staticmethod
    def _status(code: Any) -> str:
        if code == cp_model.INFEASIBLE:
            return "infeasible"
        return "feasible" if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else "unknown"

    def _fix(self, variables: Iterable[int], value: int | None) -> None:
        """Fix variables to ``value`` (None: back to 0..1)."""
        domains = self._proto.variables
        lo, hi = (0, 1) if value is None else (value, value)
        for v in variables:
            domains[v].domain[0] = lo
            domains[v].domain[1] = hi

    def restricted(self, pharmacists: Iterable[int]) -> ConflictModel:
        """The model of the same round with only these pharmacists (indices): the others'
        candidates and own groups are left out. Leaving pharmacists out only loosens the
        shared limits, so a conflict of the restricted model is a conflict of the round;
        its groups are found in this model by :meth:`translate`."""
        return ConflictModel(self.round, self.cand, pharmacists=pharmacists)

    def translate(self, groups: Iterable[int], other: ConflictModel) -> list[int]:
        """Indices in ``other`` of these groups (by identity; groups ``other`` lacks, such
        as a capacity that cannot bind there, are left out)."""
        return [other.index[self.groups[k]] for k in groups if self.groups[k] in other.index]

    def check(self, active: Iterable[int], time_limit_s: float) -> str:
        """``feasible``, ``infeasible`` or ``unknown`` with exactly the ``active`` groups
        enforced: their literals fixed to 1 and the others to 0, so presolve sees the
        rules as hard and drops the rest (this proves most conflicts at once, even on
        large rounds where a search under thousands of assumptions stalls)."""
        on = set(active)
        self._model.clear_assumptions()
        self._fix([lit for k, lit in enumerate(self._literal) if k in on], 1)
        self._fix([lit for k, lit in enumerate(self._literal) if k not in on], 0)
        try:
            code, _ = self._run(time_limit_s)
        finally:
            self._fix(self._literal, None)
        return self._status(code)

    def relax(self, active: Iterable[int], free: Iterable[int], time_limit_s: float
              ) -> tuple[str, list[int]]:
        """Solve with the ``active`` groups on, the ``free`` ones allowed off (as few as
        possible: the objective) and the rest off, from the last solution found (a hint).
        Returns the status (``optimal`` when no fewer free groups can be off) and the free
        groups off in the best solution found."""
        on, loose = set(active), sorted(set(free) - set(active))
        self._model.clear_assumptions()
        self._fix([lit for k, lit in enumerate(self._literal) if k in on], 1)
        self._fix([lit for k, lit in enumerate(self._literal) if k not in on | set(loose)], 0)
        obj, hint = self._proto.objective, self._proto.solution_hint
        obj.vars.extend(self._literal[k] for k in loose)
        obj.coeffs.extend([-1] * len(loose))
        obj.offset = len(loose)
        hint.vars.extend(range(len(self._last_solution)))
        hint.values.extend(self._last_solution)
        try:
            code, solver = self._run(time_limit_s)
            values = list(solver.response_proto.solution)
            if values:
                self._last_solution = values
        finally:
            self._proto.clear_objective()
            self._proto.clear_solution_hint()
            self._fix(self._literal, None)
        status = "optimal" if code == cp_model.OPTIMAL else self._status(code)
        return status, [k for k in loose if values and not values[self._literal[k]]]

    def solve(self, active: Iterable[int], time_limit_s: float) -> tuple[str, list[int]]:
        """Solve with the groups ``active`` (indices into :attr:`groups`) assumed on and
        the others free. Returns ``("infeasible", core)`` with a conflicting subset of the
        active groups read from CP-SAT, ``("feasible", [])``, or ``("unknown", [])`` when
        time ran out."""
        self._model.clear_assumptions()
        self._proto.assumptions.extend(self._literal[k] for k in active)
        try:
            code, solver = self._run(time_limit_s)
            core = ([self._group_of_literal[v]
                     for v in solver.sufficient_assumptions_for_infeasibility()]
                    if code == cp_model.INFEASIBLE else [])
        finally:
            self._model.clear_assumptions()
        return self._status(code), sorted(set(core))

    def minimal_core(self, active: Sequence[int], deadline: float
                     ) -> tuple[list[int], bool] | None:
        """A conflicting subset of ``active``, made minimal while time allows.

        The active groups are first checked as hard rules (:meth:`check`). If they
        conflict, the conflict is localised to a few pharmacists (connected components,
        then QuickXplain over pharmacists) and the rest is done on the model restricted to
        them: a first core from CP-SAT's assumptions (QuickXplain over groups if that
        search stalls), then groups dropped one at a time while the rest still conflicts.
        Returns ``(core, minimal)``, or None when the active groups are feasible or nothing
        was isolated before ``deadline`` (see :attr:`last_status`).
        """
        t0 = time.monotonic()
        self.last_status = self.check(active, deadline - t0)
        log.debug("diagnosis: %d groups %s (%.2f s)", len(active), self.last_status,
                  time.monotonic() - t0)
        if self.last_status != "infeasible":
            return None
        model: ConflictModel = self
        local = list(active)
        kept = self._localise(active, deadline)
        if kept is not None:
            model = self.restricted(kept)
            local = self.translate(active, model)
        log.debug("diagnosis: localised to %d pharmacists, %d groups (%.2f s)",
                  len(model._only or self.round.pharmacists), len(local),
                  time.monotonic() - t0)
        remaining = deadline - time.monotonic()
        status, core = model.solve(local, min(remaining / 3, _ASSUME_S))
        if status != "infeasible" or not core:
            found = _quickxplain(local, lambda groups: model._conflicts(groups, deadline))
            if found is None:
                self.last_status = "unknown"
                return None
            core = found
        log.debug("diagnosis: core of %d groups (%.2f s)", len(core), time.monotonic() - t0)
        core, minimal = model._shrink(core, deadline)
        return model.translate(core, self), minimal

    def _conflicts(self, groups: Sequence[int], deadline: float) -> bool | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        status = self.check(groups, remaining)
        return None if status == "unknown" else status == "infeasible"

    def _localise(self, active: Sequence[int], deadline: float) -> list[int] | None:
        """A small set of pharmacists (indices) whose groups, with the shared limits,
        already conflict; None (all of them) for small rounds or when none is found."""
        if len(self.round.pharmacists) <= _SMALL:
            return None

        def conflicts(pharmacists: Sequence[int]) -> bool | None:
            sub = self.restricted(pharmacists)
            return sub._conflicts(self.translate(active, sub), deadline)

        components = sorted(self._components(), key=len)
        comp = components[0]
        if len(components) > 1:
            for comp in components:
                verdict = conflicts(comp)
                if verdict is None:
                    return None
                if verdict:
                    break
            else:
                return None  # a conflict always lies within one component; be safe
        if len(comp) <= _SMALL:
            return comp
        return _quickxplain(comp, conflicts) or comp

    def _components(self) -> list[list[int]]:
        """Pharmacists linked by a placement, organisation or supervisor they could share."""
        rnd, c = self.round, self.cand
        parent = list(range(len(rnd.pharmacists) + len(rnd.placements)))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        n_p = len(rnd.pharmacists)
        for i, j in zip(c.pharmacist.tolist(), c.placement.tolist(), strict=True):
            parent[find(i)] = find(n_p + j)
        linked: list[list[str]] = [
            [pl.id for pl in rnd.placements if pl.organisation == org.id]
            for org in rnd.organisations if org.max_pharmacists is not None
        ]
        linked += [list(sup.placements) for sup in rnd.supervisors]
        for ids in linked:
            for a, b in itertools.pairwise(ids):
                parent[find(n_p + rnd.placement_index[a])] = find(n_p + rnd.placement_index[b])
        comps: dict[int, list[int]] = defaultdict(list)
        for i in range(n_p):
            if self._includes(i):
                comps[find(i)].append(i)
        return list(comps.values())

    def _decide(self, groups: Sequence[int], deadline: float) -> tuple[str, list[int]]:
        """Feasibility of a small set of groups: assumptions first (they give a sub-core),
        the hard check if that search does not finish quickly."""
        remaining = deadline - time.monotonic()
        status, sub = self.solve(groups, min(remaining, _ASSUME_S))
        if status == "unknown" and deadline - time.monotonic() > 0:
            status = self.check(groups, deadline - time.monotonic())
            sub = list(groups) if status == "infeasible" else []
        return status, sub

    def _shrink(self, core: Sequence[int], deadline: float) -> tuple[list[int], bool]:
        """Deletion-based minimisation with clause-set refinement."""
        minimal = True
        necessary: list[int] = []
        pending = list(core)
        while pending:
            if deadline - time.monotonic() <= 0:
                return necessary + pending, False
            g = pending.pop(0)
            status, sub = self._decide(necessary + pending, deadline)
            if status == "infeasible":
                keep = set(sub)
                # A necessary group is in every conflicting subset, so it is in ``sub``.
                pending = [k for k in pending if k in keep]
            else:
                necessary.append(g)
                if status == "unknown":
                    minimal = False
        return necessary, minimal


def _restrict(cand: Candidates, pharmacists: set[int]) -> Candidates:
    """The candidates of some pharmacists only (order kept)."""
    keep = np.isin(cand.pharmacist, np.fromiter(pharmacists, dtype=np.int64))
    return Candidates(pharmacist=cand.pharmacist[keep], placement=cand.placement[keep],
                      period=cand.period[keep], stream=cand.stream[keep],
                      travel=cand.travel[keep])


def _quickxplain(items: Sequence[int], conflicts: Callable[[Sequence[int]], bool | None]
                 ) -> list[int] | None:
    """A minimal subset of ``items`` that conflicts, by QuickXplain (Junker 2004):
    O(k log(n/k)) calls of ``conflicts`` for a conflict of k items among n. ``conflicts``
    answers None when it cannot decide (time is up): the search then returns None."""

    class _Undecided(Exception):
        pass

    def conflicting(subset: Sequence[int]) -> bool:
        verdict = conflicts(subset)
        if verdict is None:
            raise _Undecided
        return verdict

    def qx(base: list[int], added: list[int], candidates: list[int]) -> list[int]:
        if added and conflicting(base):
            return []
        if len(candidates) == 1:
            return candidates
        half = len(candidates) // 2
        first, second = candidates[:half], candidates[half:]
        from_second = qx(base + first, first, second)
        from_first = qx(base + from_second, from_second, first)
        return from_first + from_second

    try:
        return qx([], [], list(items)) if items else None
    except _Undecided:
        return None
