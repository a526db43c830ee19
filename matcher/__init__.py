"""SPIN Matcher: optimal allocation of SPIN pharmacists to rotation placements.

The public API, for notebooks and scripts::

    from matcher import load_round, solve, SolveParams

    rnd = load_round("data/samples/nel-2027-c1.json")
    result = solve(rnd, SolveParams(time_limit_s=30))
    frames = result.to_frames()

Most names are imported on first use. ``explain`` and ``diagnose`` share their names with
their modules, so they are imported eagerly at the end: a lazily exported function would be
replaced by its module the moment anything imported ``matcher.explain``.
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
    "solve": "matcher.solve",
    "SolveParams": "matcher.solve",
    "Progress": "matcher.solve",
    "Result": "matcher.result",
    "Explanation": "matcher.explain",
    "Finding": "matcher.diagnose",
}

__all__ = [
    "Assignment",
    "Explanation",
    "Finding",
    "FormatError",
    "InvalidRoundError",
    "Problem",
    "Progress",
    "Result",
    "Round",
    "SolveParams",
    "candidates",
    "diagnose",
    "explain",
    "generate_round",
    "load_result",
    "load_round",
    "objective",
    "parse_round",
    "round_warnings",
    "save_result",
    "save_round",
    "solve",
    "validate",
    "violations",
]

if TYPE_CHECKING:
    from matcher.allocation import Assignment
    from matcher.check import objective, violations
    from matcher.diagnose import Finding, diagnose
    from matcher.domain import Round
    from matcher.eligibility import candidates
    from matcher.errors import FormatError, InvalidRoundError, Problem
    from matcher.explain import Explanation, explain
    from matcher.formats import load_round, save_round
    from matcher.formats.results import load_result, save_result
    from matcher.generate import generate_round
    from matcher.result import Result
    from matcher.solve import Progress, SolveParams, solve
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


# Functions named like their modules: bound after the submodules load, so the package
# attribute is the function (``from matcher import explain`` gives the function).
from matcher.diagnose import diagnose  # noqa: E402
from matcher.explain import explain  # noqa: E402
