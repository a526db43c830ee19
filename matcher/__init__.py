"""SPIN Matcher: optimal allocation of SPIN pharmacists to rotation placements.

The public API, for notebooks and scripts, is functions and types::

    import matcher

    rnd = matcher.load_round("data/samples/nel-2027-c1.json")
    result = matcher.solve(rnd, matcher.SolveParams(time_limit_s=30))
    assert matcher.check(rnd, result.allocation).feasible
    why = matcher.explain(rnd, result)
    frames = result.to_frames()

Names are imported on first use, so ``import matcher`` stays cheap for the command line.
Modules are named apart from the functions they hold (:mod:`matcher.solving`,
:mod:`matcher.checker`, :mod:`matcher.explanations`, :mod:`matcher.diagnosis`), so
``matcher.solve`` is always the function. The old module paths (``matcher.solve``,
``matcher.check``, ...) still import for one release, with a ``DeprecationWarning``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matcher.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Round": "matcher.domain",
    "Problem": "matcher.errors",
    "InvalidRoundError": "matcher.errors",
    "FormatError": "matcher.errors",
    "InternalSolverError": "matcher.errors",
    "parse_round": "matcher.validation",
    "round_warnings": "matcher.validation",
    "validate": "matcher.validation",
    "with_changes": "matcher.validation",
    "candidates": "matcher.eligibility",
    "load_round": "matcher.formats",
    "save_round": "matcher.formats",
    "round_to_frames": "matcher.formats",
    "round_from_frames": "matcher.formats",
    "load_result": "matcher.formats.results",
    "save_result": "matcher.formats.results",
    "generate_round": "matcher.synthetic",
    "Assignment": "matcher.allocation",
    "check": "matcher.checker",
    "CheckReport": "matcher.checker",
    "violations": "matcher.checker",
    "objective": "matcher.checker",
    "solve": "matcher.solving",
    "SolveParams": "matcher.solving",
    "Progress": "matcher.solving",
    "Result": "matcher.result",
    "explain": "matcher.explanations",
    "Explanation": "matcher.explanations",
    "diagnose": "matcher.diagnosis",
    "Finding": "matcher.diagnosis",
    "Scenario": "matcher.whatif",
    "diff": "matcher.whatif",
    "ResultDiff": "matcher.whatif",
    "replan": "matcher.whatif",
    "apply_overrides": "matcher.whatif",
    "solve_many": "matcher.whatif",
    "ScenarioFailure": "matcher.whatif",
    "weight_sensitivity": "matcher.whatif",
    "InlineExecutor": "matcher.whatif",
}
"""Public name -> the module that defines it."""

__all__ = [
    "Assignment",
    "CheckReport",
    "Explanation",
    "Finding",
    "FormatError",
    "InlineExecutor",
    "InternalSolverError",
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
    "check",
    "diagnose",
    "diff",
    "explain",
    "generate_round",
    "load_result",
    "load_round",
    "objective",
    "parse_round",
    "replan",
    "round_from_frames",
    "round_to_frames",
    "round_warnings",
    "save_result",
    "save_round",
    "solve",
    "solve_many",
    "validate",
    "violations",
    "weight_sensitivity",
    "with_changes",
]

if TYPE_CHECKING:
    from matcher.allocation import Assignment
    from matcher.checker import CheckReport, check, objective, violations
    from matcher.diagnosis import Finding, diagnose
    from matcher.domain import Round
    from matcher.eligibility import candidates
    from matcher.errors import FormatError, InternalSolverError, InvalidRoundError, Problem
    from matcher.explanations import Explanation, explain
    from matcher.formats import load_round, round_from_frames, round_to_frames, save_round
    from matcher.formats.results import load_result, save_result
    from matcher.result import Result
    from matcher.solving import Progress, SolveParams, solve
    from matcher.synthetic import generate_round
    from matcher.validation import parse_round, round_warnings, validate, with_changes
    from matcher.whatif import (
        InlineExecutor,
        ResultDiff,
        Scenario,
        ScenarioFailure,
        apply_overrides,
        diff,
        replan,
        solve_many,
        weight_sensitivity,
    )

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
