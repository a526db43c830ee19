"""The independent checker: is an allocation feasible, and what is it worth?

This package recomputes, from the round and the assignments alone, everything the spec
(``round-format.md``) says about an allocation:

- :func:`eligibility_failures`: every condition of §2 that rules a (pharmacist, placement,
  period) out, in planners' words;
- :func:`violations`: every hard rule of §3 the allocation breaks, one small function per
  rule, each named after it;
- :func:`objective`: the §4 objective and its parts; :func:`score` and :func:`terms` give the
  per-assignment values a §5 result reports.

It deliberately shares no code with the model builder or the solver (no OR-Tools, no
numpy arrays) so that it can catch their mistakes: it is plain Python over dicts and sets
that a reviewer can hold next to the spec. The only shared primitive is
:func:`matcher.geo.travel_km_one`, the one definition of great-circle travel.

Messages name ids, fields and rules only, never names or home locations. Integers stay
integers: the objective is an exact ``int`` in the round's own units (weights times points).

Conventions where the spec leaves room (documented so the solver can match them):

- An allocation is a set: an assignment listed twice is reported (``one_per_stream``) and
  then counted once everywhere, objective included.
- ``organisation_cap`` and ``supervision`` count distinct pharmacists, as the spec words
  them ("how many pharmacists"); a pharmacist holding two of one organisation's placements
  in one period (in two streams) counts once.
- Assignments naming unknown ids are reported (``unknown_id``) and left out of every other
  rule; :func:`objective` refuses them (``ValueError``).

Its modules: :mod:`~matcher.checker.lookups` (per-round lookups, §2, shared wording),
:mod:`~matcher.checker.feasibility` (§3) and :mod:`~matcher.checker.objective` (§4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from matcher.allocation import Allocation, as_assignments
from matcher.checker.feasibility import RULES, Violation, violations
from matcher.checker.lookups import eligibility_failures, travel
from matcher.checker.objective import ObjectiveBreakdown, objective, pref, score, terms
from matcher.domain import Round

__all__ = [
    "RULES",
    "CheckReport",
    "ObjectiveBreakdown",
    "Violation",
    "check",
    "eligibility_failures",
    "objective",
    "pref",
    "score",
    "terms",
    "travel",
    "violations",
]


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What :func:`check` found: the broken rules and the objective.

    ``objective`` is ``None`` only when an assignment names an unknown id (the objective is
    then undefined).
    """

    violations: tuple[Violation, ...]
    objective: ObjectiveBreakdown | None

    @property
    def feasible(self) -> bool:
        """True when no hard rule is broken."""
        return not self.violations

    def summary(self) -> str:
        """A short multi-line text for logs and the command line."""
        value = "undefined" if self.objective is None else str(self.objective.total)
        if self.feasible:
            return f"feasible; objective {value}"
        lines = [f"{len(self.violations)} violation(s); objective {value}"]
        lines += [f"  - {v}" for v in self.violations]
        return "\n".join(lines)


def check(round: Round, allocation: Allocation | Iterable[object]) -> CheckReport:
    """The violations of the allocation and its objective, in one report."""
    items = as_assignments(allocation)
    found = violations(round, items)
    known = not any(v.rule == "unknown_id" for v in found)
    return CheckReport(tuple(found), objective(round, items) if known else None)
