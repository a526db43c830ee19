"""What-if: scenarios of a round, diffs of results, re-planning and sweeps.

A scenario is a name, a base :class:`~matcher.domain.Round` and a list of *overrides*:
small JSON-serialisable records, each with an ``op`` (``set_weights``, ``close_placement``,
``pin``...), applied in order. The base is never mutated; the round that comes out is
validated like any other, and when it is not valid every problem names the override at
fault (``overrides[#3]: remove_placement GP-X: ...``, ``index`` 2 in the problem)::

    from matcher.whatif import Scenario, diff, replan, solve_many

    closed = Scenario("GP-7 closes", base, [{"op": "close_placement", "placement": "GP-7",
                                             "from_period": "R2"}])
    new = replan(closed.apply(), old_result, from_period="R2")
    print(diff(old_result, new).to_text())

The modules, each importable on its own:

- :mod:`~matcher.whatif.overrides`: one model per ``op`` (the table of ops and their
  fields is there), and :data:`Override`, their union;
- :mod:`~matcher.whatif.apply`: :func:`parse_overrides` and :func:`apply_overrides`, which
  attribute every problem to the override at fault;
- :mod:`~matcher.whatif.scenario`: :class:`Scenario` and its ``spin-scenario/1`` document;
- :mod:`~matcher.whatif.diffing`: :func:`diff` of two results (:class:`ResultDiff`: who
  moved, plan quality, objective and KPI deltas, as DataFrames, JSON or text);
- :mod:`~matcher.whatif.replanning`: :func:`replan` after a change mid-programme, with as
  little disruption as possible;
- :mod:`~matcher.whatif.sweep`: :func:`solve_many` scenarios in parallel (a local process
  pool, a Dask cluster or any executor) and :func:`weight_sensitivity`.

Names are imported from their modules on first use, so importing one part (the service's
routes need only the overrides) does not load the solver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from matcher.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "OVERRIDE_MODELS": "matcher.whatif.overrides",
    "OVERRIDE_OPS": "matcher.whatif.overrides",
    "AddBan": "matcher.whatif.overrides",
    "AddPharmacist": "matcher.whatif.overrides",
    "AddPin": "matcher.whatif.overrides",
    "AddPlacement": "matcher.whatif.overrides",
    "ClosePlacement": "matcher.whatif.overrides",
    "Override": "matcher.whatif.overrides",
    "RemoveBan": "matcher.whatif.overrides",
    "RemovePharmacist": "matcher.whatif.overrides",
    "RemovePin": "matcher.whatif.overrides",
    "RemovePlacement": "matcher.whatif.overrides",
    "SetCapacity": "matcher.whatif.overrides",
    "SetReference": "matcher.whatif.overrides",
    "SetRules": "matcher.whatif.overrides",
    "SetUnavailable": "matcher.whatif.overrides",
    "SetWeights": "matcher.whatif.overrides",
    "UpdatePharmacist": "matcher.whatif.overrides",
    "UpdatePlacement": "matcher.whatif.overrides",
    "apply_overrides": "matcher.whatif.apply",
    "parse_overrides": "matcher.whatif.apply",
    "SCENARIO_FORMAT": "matcher.whatif.scenario",
    "Scenario": "matcher.whatif.scenario",
    "DiffFrames": "matcher.whatif.diffing",
    "Move": "matcher.whatif.diffing",
    "ResultDiff": "matcher.whatif.diffing",
    "diff": "matcher.whatif.diffing",
    "plan_quality": "matcher.whatif.diffing",
    "minimal_change_weight": "matcher.whatif.replanning",
    "replan": "matcher.whatif.replanning",
    "replan_round": "matcher.whatif.replanning",
    "DEFAULT_PARAMS": "matcher.whatif.sweep",
    "SENSITIVITY_KPIS": "matcher.whatif.sweep",
    "ExecutorProvider": "matcher.whatif.sweep",
    "InlineExecutor": "matcher.whatif.sweep",
    "ScenarioFailure": "matcher.whatif.sweep",
    "ScenarioOutcome": "matcher.whatif.sweep",
    "Sensitivity": "matcher.whatif.sweep",
    "outcomes_frame": "matcher.whatif.sweep",
    "solve_many": "matcher.whatif.sweep",
    "solve_scenario": "matcher.whatif.sweep",
    "weight_sensitivity": "matcher.whatif.sweep",
}

__all__ = [
    "DEFAULT_PARAMS",
    "OVERRIDE_MODELS",
    "OVERRIDE_OPS",
    "SCENARIO_FORMAT",
    "SENSITIVITY_KPIS",
    "AddBan",
    "AddPharmacist",
    "AddPin",
    "AddPlacement",
    "ClosePlacement",
    "DiffFrames",
    "ExecutorProvider",
    "InlineExecutor",
    "Move",
    "Override",
    "RemoveBan",
    "RemovePharmacist",
    "RemovePin",
    "RemovePlacement",
    "ResultDiff",
    "Scenario",
    "ScenarioFailure",
    "ScenarioOutcome",
    "Sensitivity",
    "SetCapacity",
    "SetReference",
    "SetRules",
    "SetUnavailable",
    "SetWeights",
    "UpdatePharmacist",
    "UpdatePlacement",
    "apply_overrides",
    "diff",
    "minimal_change_weight",
    "outcomes_frame",
    "parse_overrides",
    "plan_quality",
    "replan",
    "replan_round",
    "solve_many",
    "solve_scenario",
    "weight_sensitivity",
]

if TYPE_CHECKING:
    from matcher.whatif.apply import apply_overrides, parse_overrides
    from matcher.whatif.diffing import DiffFrames, Move, ResultDiff, diff, plan_quality
    from matcher.whatif.overrides import (
        OVERRIDE_MODELS,
        OVERRIDE_OPS,
        AddBan,
        AddPharmacist,
        AddPin,
        AddPlacement,
        ClosePlacement,
        Override,
        RemoveBan,
        RemovePharmacist,
        RemovePin,
        RemovePlacement,
        SetCapacity,
        SetReference,
        SetRules,
        SetUnavailable,
        SetWeights,
        UpdatePharmacist,
        UpdatePlacement,
    )
    from matcher.whatif.replanning import minimal_change_weight, replan, replan_round
    from matcher.whatif.scenario import SCENARIO_FORMAT, Scenario
    from matcher.whatif.sweep import (
        DEFAULT_PARAMS,
        SENSITIVITY_KPIS,
        ExecutorProvider,
        InlineExecutor,
        ScenarioFailure,
        ScenarioOutcome,
        Sensitivity,
        outcomes_frame,
        solve_many,
        solve_scenario,
        weight_sensitivity,
    )

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
