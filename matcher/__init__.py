"""SPIN Matcher: optimal allocation of SPIN pharmacists to rotation placements.

The public API, for notebooks and scripts::

    from matcher import SolveParams, load_round
    from matcher.solve import solve

    rnd = load_round("data/samples/nel-2027-c1.json")
    result = solve(rnd, SolveParams(time_limit_s=30))
    frames = result.to_frames()

Names are imported on first use, so ``import matcher`` stays cheap for the command line.
Functions that share their module's name (``solve``, ``check``, ``explain``, ``diagnose``)
are not re-exported: the package attribute ``matcher.solve`` is the module as soon as
anything imports it, so a re-exported function would be the module or the function
depending on import order. Import them from their modules::

    from matcher.solve import solve
    from matcher.explain import explain
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Round": "matcher.domain",
    "Problem": "matcher.errors",
    "InvalidRoundError": "matcher.errors",
    "FormatError": "matcher.errors",
    "parse_round": "matcher.validation",
    "round_warnings": "matcher.validation",
    "validate": "matcher.validation",
    "candidates": "matcher.eligibility",
    "load_round": "matcher.formats",
    "save_round": "matcher.formats",
    "load_result": "matcher.formats.results",
    "save_result": "matcher.formats.results",
    "generate_round": "matcher.generate",
    "Assignment": "matcher.allocation",
    "violations": "matcher.check",
    "objective": "matcher.check",
    "SolveParams": "matcher.solve",
    "Progress": "matcher.solve",
    "Result": "matcher.result",
    "Explanation": "matcher.explain",
    "Finding": "matcher.diagnose",
    "Scenario": "matcher.scenarios",
    "diff": "matcher.scenarios",
    "ResultDiff": "matcher.scenarios",
    "replan": "matcher.scenarios",
    "apply_overrides": "matcher.scenarios",
    "solve_many": "matcher.sweep",
    "ScenarioFailure": "matcher.sweep",
    "weight_sensitivity": "matcher.sweep",
    "InlineExecutor": "matcher.sweep",
}

__all__ = [
    "Assignment",
    "Explanation",
    "Finding",
    "FormatError",
    "InlineExecutor",
    "InvalidRoundError",
    "Problem",
    "Progress",
    "Result",
    "ResultDiff",
    "Round",
    "Scenario",
    "ScenarioFailure",
    "SolveParams",
    "apply_overrides",
    "candidates",
    "diagnose",
    "diff",
    "explain",
    "generate_round",
    "load_result",
    "load_round",
    "objective",
    "parse_round",
    "replan",
    "round_warnings",
    "save_result",
    "save_round",
    "solve_many",
    "validate",
    "violations",
    "weight_sensitivity",
]

if TYPE_CHECKING:
    from matcher.allocation import Assignment
    from matcher.check import objective, violations
    from matcher.diagnose import Finding
    from matcher.domain import Round
    from matcher.eligibility import candidates
    from matcher.errors import FormatError, InvalidRoundError, Problem
    from matcher.explain import Explanation
    from matcher.formats import load_round, save_round
    from matcher.formats.results import load_result, save_result
    from matcher.generate import generate_round
    from matcher.result import Result
    from matcher.scenarios import ResultDiff, Scenario, apply_overrides, diff, replan
    from matcher.solve import Progress, SolveParams
    from matcher.sweep import InlineExecutor, ScenarioFailure, solve_many, weight_sensitivity
    from matcher.validation import parse_round, round_warnings, validate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'matcher' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

