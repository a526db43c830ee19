"""Solving a round: :func:`solve` and :class:`SolveParams`, and everything beneath them.

Layers, top down (each module imports only those below it):

- :mod:`~matcher.solving.dispatch`: :func:`solve`, which path a round takes, diagnosis;
- the paths: :mod:`~matcher.solving.full` (``cp-sat``) and
  :mod:`~matcher.solving.flow_path` (``flow+lns``), whose parts are
  :mod:`~matcher.solving.starts`, :mod:`~matcher.solving.construct`,
  :mod:`~matcher.solving.lns`, :mod:`~matcher.solving.state`,
  :mod:`~matcher.solving.components`, :mod:`~matcher.solving.evaluator` and
  :mod:`~matcher.solving.flow` (the min-cost-flow relaxation and bound);
- :mod:`~matcher.solving.finish` (the independent check, status and stats every path
  ends with) and :mod:`~matcher.solving.warmstart` (hints from a previous result);
- :mod:`~matcher.solving.cpsat`: the one CP-SAT runner;
- :mod:`~matcher.solving.formulation` (one function per rule of spec §3 and term of §4)
  over :mod:`~matcher.solving.model` (variables, rows, objective);
- :mod:`~matcher.solving.budget` and :mod:`~matcher.solving.params`.

Names load on first use: ``from matcher.solving.params import SolveParams`` (or the
``SolveParams`` attribute here) does not load OR-Tools; :func:`solve` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matcher.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "PATHS": "matcher.solving.params",
    "PathName": "matcher.solving.params",
    "Progress": "matcher.solving.params",
    "SolveParams": "matcher.solving.params",
    "Budget": "matcher.solving.budget",
    "InternalSolverError": "matcher.errors",
    "choose_path": "matcher.solving.dispatch",
    "solve": "matcher.solving.dispatch",
}
"""Public name -> the module that defines it."""

__all__ = [
    "PATHS",
    "Budget",
    "InternalSolverError",
    "PathName",
    "Progress",
    "SolveParams",
    "choose_path",
    "solve",
]

if TYPE_CHECKING:
    from matcher.errors import InternalSolverError
    from matcher.solving.budget import Budget
    from matcher.solving.dispatch import choose_path, solve
    from matcher.solving.params import PATHS, PathName, Progress, SolveParams

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
