"""The what-if commands: ``replan``, ``scenario`` and ``diff``, over :mod:`matcher.whatif`.

* ``matcher replan ROUND --reference EARLIER.json --from PERIOD``: the library's safe
  re-plan (:func:`matcher.whatif.replan`): the periods before ``PERIOD`` are served and
  kept exactly (pinned), every slot moved from the reference is charged the change weight,
  and the output says how many slots of how many pharmacists moved.
* ``matcher scenario BASE SCENARIO.json``: solves the base round and the scenario (the
  overrides of :class:`matcher.whatif.Scenario`, as a ``spin-scenario/1`` document) and
  prints the diff.
* ``matcher diff BEFORE.json AFTER.json``: who moved, plan quality, objective and KPIs.

Exit codes as for every command: 0 ok, 1 invalid input (every problem of every input file
at once), 2 wrong usage or no allocation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from matcher.errors import InvalidRoundError, Problem
from matcher_cli.common import (
    EXIT_INVALID,
    EXIT_NO_SOLUTION,
    PostcodesOpt,
    RoundPath,
    check_result_out,
    end_progress,
    live_progress,
    load_round,
    report_problems,
)

if TYPE_CHECKING:
    from matcher.domain import Round
    from matcher.result import Result
    from matcher.whatif import ResultDiff, Scenario

__all__ = ["ChangeWeight", "change_weight_for", "diff_command", "replan_command",
           "scenario_command"]

OutOpt = Annotated[Path | None, typer.Option(
    "--out", "-o", help="Write the result: .json (spec §5), .csv or .xlsx.")]
WorkersOpt = Annotated[int, typer.Option(
    "--workers", min=0, help="Search workers (0: one per core).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed of the search.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")]


# ---- replan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeWeight:
    """The ``weights.change`` a re-plan charges per moved slot, and where it came from:
    ``option`` (``--change-weight``), ``round`` (the round's ``weights.change``) or
    ``default`` (:func:`~matcher.whatif.minimal_change_weight`)."""

    value: int
    source: str

    def describe(self) -> str:
        """The weight in words, for the command's output."""
        if self.source == "option":
            return f"change weight {self.value:,} per moved slot (--change-weight)"
        if self.source == "round":
            return f"change weight {self.value:,} per moved slot (the round's weights.change)"
        return (f"change weight {self.value:,} per moved slot (the default for a weight of "
                "0: more than any other gain, so the fewest slots move, then the best plan "
                "among those)")


def change_weight_for(rnd: Round, option: int | None) -> ChangeWeight:
    """The change weight of a re-plan: ``--change-weight`` if given, else the round's
    ``weights.change``; a weight of 0 would leave the re-plan free to move anyone, so 0
    means the default, :func:`~matcher.whatif.minimal_change_weight` (fewest moves first).
    """
    if option:
        return ChangeWeight(option, "option")
    if option is None and rnd.weights.change:
        return ChangeWeight(rnd.weights.change, "round")
    # lazy: the weight's scores load numpy and the eligibility tables
    from matcher.whatif import minimal_change_weight

    return ChangeWeight(minimal_change_weight(rnd), "default")


def _load_result(path: Path, found: list[tuple[str, list[Problem]]]) -> Result | None:
    """The result at ``path``, or ``None`` with its problems added to ``found``."""
    from matcher.formats.results import load_result  # lazy: start-up time

    try:
        return load_result(path)
    except InvalidRoundError as exc:
        found.append((path.name, list(exc.problems)))
        return None


def _load_inputs(round_path: Path, reference: Path, postcodes: Path | None
                 ) -> tuple[Round | None, Result | None, list[tuple[str, list[Problem]]]]:
    """The round and the reference, and every problem of either (both are read)."""
    found: list[tuple[str, list[Problem]]] = []
    rnd = None
    try:
        rnd = load_round(round_path, postcodes)
    except InvalidRoundError as exc:
        found.append((round_path.name, list(exc.problems)))
    ref = _load_result(reference, found)
    if ref is not None and not ref.has_solution:
        found.append((reference.name, [Problem(
            f"the reference has no allocation (status {ref.status}): give the result of "
            "the plan in force", source=reference.name, code="no_allocation")]))
    return rnd, ref, found


def _served_problems(exc: InvalidRoundError, rnd: Round, names: tuple[str, str],
                     from_period: str) -> list[tuple[str, list[Problem]]]:
    """Problems of keeping the served periods, told as what they are: the reference's
    assignments before ``from_period`` (pinned after the round's own pins); ``names`` are
    the round's and the reference's file names."""
    own, served = [], []
    for p in exc.problems:
        if p.list == "pins" and p.index is not None and p.index >= len(rnd.pins):
            served.append(p.at(list=f"kept as served (before {from_period})", index=None,
                               field=None))
        else:
            own.append(p)
    found = [(names[1], served)] if served else []
    return found + ([(names[0], own)] if own else [])


def replan_command(
    round_path: RoundPath,
    reference: Annotated[Path, typer.Option(
        "--reference", help="The plan in force: an earlier result (.json) of this round.")],
    from_period: Annotated[str, typer.Option(
        "--from", help="The first period to re-plan; the periods before it are served and "
        "kept exactly as in the reference.")],
    change_weight: Annotated[int | None, typer.Option(
        "--change-weight", min=0, help="Objective points each moved (pharmacist, period, "
        "stream) slot costs. Default: the round's weights.change; 0 means as few moves as "
        "possible first (a weight larger than any other gain).")] = None,
    out: OutOpt = None,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", min=0.0, help="Seconds for the whole solve.")] = 60.0,
    workers: WorkersOpt = 0,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    postcodes: PostcodesOpt = None,
) -> None:
    """Re-plan a round after a change mid-programme: periods before --from are kept exactly
    as served, every slot moved from the reference is charged, and what moved is listed.

    Exit 0 re-planned, 1 invalid input (every problem of the round, the reference and
    --from at once), 2 wrong usage or no allocation.
    """
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats.results import save_result
    from matcher.solving import SolveParams
    from matcher.whatif import diff, replan

    check_result_out(out)
    rnd, ref, found = _load_inputs(round_path, reference, postcodes)
    if rnd is not None and from_period not in rnd.period_index:
        found.append(("--from", [Problem(
            f"unknown period id {from_period!r}; the periods are: "
            + ", ".join(rnd.period_ids), code="unknown_reference")]))
    if found or rnd is None or ref is None:
        report_problems(found, as_json=as_json)
        raise typer.Exit(EXIT_INVALID)
    if ref.round != rnd.round.id:
        typer.echo(f"note: the reference is a result of round {ref.round!r}, not "
                   f"{rnd.round.id!r}", err=True)
    served = rnd.period_ids[:rnd.period_index[from_period]]
    known = [a for a in ref.assignments if a.pharmacist in rnd.pharmacist_index
             and a.placement in rnd.placement_index and a.period in rnd.period_index]
    if len(known) < len(ref.assignments):
        typer.echo(f"note: {len(ref.assignments) - len(known)} assignment(s) of the "
                   "reference name pharmacists, placements or periods no longer in the "
                   "round; they are not kept", err=True)
    weight = change_weight_for(rnd, change_weight)
    progress = live_progress(as_json)
    params = SolveParams(time_limit_s=time_limit, workers=workers, seed=seed,
                         progress=progress)
    try:
        result = replan(rnd, ref, from_period=from_period, change_weight=weight.value,
                        params=params)
    except InvalidRoundError as exc:
        end_progress(progress)
        report_problems(_served_problems(exc, rnd, (round_path.name, reference.name),
                                         from_period), as_json=as_json)
        if not as_json:
            typer.echo(f"The periods before {from_period} are kept exactly as served: undo "
                       "the round's change to them, or re-plan from an earlier period.")
        raise typer.Exit(EXIT_INVALID) from None
    end_progress(progress)
    if out is not None:
        save_result(result, out)
    found_diff = diff(ref, result, labels=(reference.name, "re-plan"), round=rnd)
    pinned = sum(1 for a in known if a.period in served)
    served_moves = [m for m in found_diff.moves if m.period in served]
    # A slot of a pharmacist or placement no longer in the round cannot be kept; any other
    # change to a served period would be a fault of the re-plan (it pins and bans them).
    gone = [m for m in served_moves if m.pharmacist not in rnd.pharmacist_index
            or (m.before is not None and m.before not in rnd.placement_index)]
    outcome = {"from_period": from_period, "served_periods": served,
               "change_weight": weight.value, "change_weight_source": weight.source,
               "pinned": pinned,
               "served_kept": result.has_solution and len(gone) == len(served_moves),
               "served_gone": len(gone),
               "moved_slots": len(found_diff.moves) if result.has_solution else None,
               "moved_pharmacists": (len(found_diff.moved_pharmacists)
                                     if result.has_solution else None)}
    if as_json:
        typer.echo(json.dumps({"replan": outcome, "diff": found_diff.to_dict(),
                               "result": result.to_dict()}, indent=2))
    else:
        _print_replan(result, found_diff, weight, outcome, reference.name)
        if out is not None:
            typer.echo(f"wrote {out}")
    if not result.has_solution:
        raise typer.Exit(EXIT_NO_SOLUTION)


def _print_replan(result: Result, found: ResultDiff, weight: ChangeWeight,
                  outcome: dict[str, Any], reference: str) -> None:
    typer.echo(result.summary())
    _print_diagnosis(result)
    typer.echo(f"re-plan from {outcome['from_period']} against {reference}: "
               f"{weight.describe()}")
    if not result.has_solution:
        return
    served = ", ".join(outcome["served_periods"])
    if not served:
        typer.echo("no period served yet: every period re-planned")
    elif not outcome["served_kept"]:
        typer.echo(f"served periods {served} NOT kept exactly: see the moves below")
    elif outcome["served_gone"]:
        typer.echo(f"served periods kept: {served} ({outcome['pinned']} assignment(s) "
                   f"pinned), except {outcome['served_gone']} slot(s) of pharmacists or "
                   "placements no longer in the round")
    else:
        typer.echo(f"served periods kept exactly: {served} ({outcome['pinned']} "
                   "assignment(s) pinned)")
    typer.echo(found.to_text())


def _print_diagnosis(result: Result) -> None:
    for finding in result.to_dict()["diagnosis"]:
        message = finding.get("message") if isinstance(finding, dict) else finding
        typer.echo(f"  - {message}")


# ---- scenario -------------------------------------------------------------------------------


def scenario_command(
    base_path: Annotated[Path, typer.Argument(
        metavar="BASE", help="The base round: .json, a CSV bundle (folder or .zip) or an "
        ".xlsx workbook.")],
    scenario_path: Annotated[Path, typer.Argument(
        metavar="SCENARIO.json", help="The scenario: {\"name\": ..., \"overrides\": [...]} "
        "(spin-scenario/1; the ops are those of matcher.Scenario).")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the scenario's result: .json (spec §5), .csv or .xlsx.")]
    = None,
    save_round_to: Annotated[Path | None, typer.Option(
        "--save-round", help="Also write the scenario's round (.json, .xlsx, .zip or a CSV "
        "folder), e.g. to re-plan it with `matcher replan`.")] = None,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", min=0.0, help="Seconds for each of the two solves.")] = 60.0,
    workers: WorkersOpt = 0,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
    postcodes: PostcodesOpt = None,
) -> None:
    """Solve a base round and a scenario of it (overrides applied in order) and print the
    diff: who moved, plan quality, objective and KPIs.

    Exit 0 both solved, 1 invalid input (every problem of the round and the scenario file
    at once, each override by its position), 2 wrong usage or either without an allocation.
    """
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats import save_round
    from matcher.formats.results import save_result
    from matcher.solving import SolveParams, solve
    from matcher.whatif import diff

    check_result_out(out)
    found: list[tuple[str, list[Problem]]] = []
    base = scenario = changed = None
    try:
        base = load_round(base_path, postcodes)
    except InvalidRoundError as exc:
        found.append((base_path.name, list(exc.problems)))
    data, scenario, changed, problems = _read_scenario(scenario_path, base)
    if problems:
        found.append((scenario_path.name, problems))
    if found or base is None or scenario is None or changed is None:
        report_problems(found, as_json=as_json)
        raise typer.Exit(EXIT_INVALID)
    if "base" in data:
        typer.echo(f"note: {scenario_path.name} has a base round of its own; it is not "
                   f"used: the base is {base_path.name}", err=True)
    if save_round_to is not None:
        try:
            save_round(changed, save_round_to)
        except InvalidRoundError as exc:  # a ';' in a list item cannot go to CSV or Excel
            report_problems([(save_round_to.name, list(exc.problems))], as_json=as_json)
            raise typer.Exit(EXIT_INVALID) from None

    results = []
    for rnd in (base, changed):
        progress = live_progress(as_json)
        results.append(solve(rnd, SolveParams(time_limit_s=time_limit, workers=workers,
                                              seed=seed, progress=progress)))
        end_progress(progress)
    before, after = results
    if out is not None:
        save_result(after, out)
    found_diff = diff(before, after, labels=("base", scenario.name), round=changed)
    if as_json:
        typer.echo(json.dumps({"scenario": scenario.to_dict(include_base=False),
                               "diff": found_diff.to_dict(), "base": before.to_dict(),
                               "result": after.to_dict()}, indent=2))
    else:
        n = len(scenario.overrides)
        typer.echo(f"scenario {scenario.name!r} of round {base.round.id} "
                   f"({n} override{'s' if n != 1 else ''}):")
        for line in scenario.describe():
            typer.echo(f"  - {line}")
        if save_round_to is not None:
            typer.echo(f"wrote the scenario's round to {save_round_to}")
        for label, result in (("base", before), (scenario.name, after)):
            if not result.has_solution:
                typer.echo(f"{label}: {result.summary().splitlines()[0]}")
                _print_diagnosis(result)
        typer.echo(found_diff.to_text())
        if out is not None:
            typer.echo(f"wrote {out}")
    if not (before.has_solution and after.has_solution):
        raise typer.Exit(EXIT_NO_SOLUTION)


def _read_scenario(path: Path, base: Round | None
                   ) -> tuple[Any, Scenario | None, Round | None, list[Problem]]:
    """The scenario file's document, the scenario, its round and every problem found.

    The document's own problems (not JSON, unknown keys, malformed overrides) and, when the
    overrides are well formed and the base round loaded, those of applying them to it: all
    at once. A document without a ``name`` is named after the file.
    """
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats.json_io import json_document
    from matcher.whatif import Scenario, apply_overrides
    from matcher.whatif.scenario import document_problems

    if not path.is_file():
        return None, None, None, [Problem(f"no such file: {path.name!r}", source=path.name,
                                          code="not_found")]
    try:
        data = json_document(path.read_bytes(), path.name)
    except InvalidRoundError as exc:
        return None, None, None, list(exc.problems)
    if isinstance(data, dict):
        data = {"name": path.stem, **data}
    problems = document_problems(data)
    if base is None:
        return data, None, None, problems
    if not problems:
        scenario = Scenario.from_dict(data, base=base)
        try:
            return data, scenario, scenario.apply(), []
        except InvalidRoundError as exc:
            return data, scenario, None, list(exc.problems)
    if "overrides" in data and not [p for p in problems if p.list == "overrides"]:
        try:  # a typo in a key should not hide what is wrong with the overrides
            apply_overrides(base, data["overrides"])
        except InvalidRoundError as exc:
            problems += exc.problems
    return data, None, None, problems


# ---- diff -----------------------------------------------------------------------------------


def diff_command(
    before: Annotated[Path, typer.Argument(help="A result (.json, spec §5): the plan before.")],
    after: Annotated[Path, typer.Argument(help="A result (.json, spec §5): the plan after.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
    max_moves: Annotated[int, typer.Option(
        "--max-moves", min=0, help="Most moves listed in the text.")] = 200,
    all_kpis: Annotated[bool, typer.Option(
        "--all-kpis", help="List every KPI, not only those that changed.")] = False,
) -> None:
    """Compare two results: who moved (pharmacist, period, stream: from -> to), plan
    quality (the objective without the change penalty), objective and KPI deltas.
    Exit 0, or 1 when a result cannot be read (the problems of both at once)."""
    from matcher.whatif import diff  # lazy: each command loads only what it uses

    problems: list[tuple[str, list[Problem]]] = []
    first, second = _load_result(before, problems), _load_result(after, problems)
    if first is None or second is None:
        report_problems(problems, as_json=as_json)
        raise typer.Exit(EXIT_INVALID)
    found = diff(first, second, labels=(before.name, after.name))
    typer.echo(json.dumps(found.to_dict(), indent=2) if as_json
               else found.to_text(max_moves=max_moves, all_kpis=all_kpis))
