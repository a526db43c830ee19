"""The ``matcher`` command line: validate, convert and template rounds (and more to come).

Exit codes are stable for scheduled runs:

* 0: success (``validate``: the round is valid, warnings allowed);
* 1: invalid input (every problem is printed, each with where it is);
* 2: wrong usage (unknown option, missing argument), as typer reports it; for ``solve``,
  ``replan`` and ``scenario``, also a round with no allocation: ``infeasible`` or
  ``unknown`` (see the printed status); for ``report``, a round that cannot be found next
  to the result (pass ``--round``).

The what-if commands (``replan``, ``scenario``, ``diff``) are in :mod:`matcher_cli.whatif`;
what the commands share (exit codes, problem and progress output) in
:mod:`matcher_cli.common`.

``batch`` exits 0 when every cohort has an allocation, 1 when any input is invalid, else 2
when any cohort is infeasible, unknown or failed; ``summary.csv`` says which.

Output goes to standard output; ``--json`` gives machine-readable output instead of text.
Nothing here prints personal data: problems name ids, fields and rules only.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from matcher.errors import InvalidRoundError, Problem
from matcher_cli import whatif
from matcher_cli.common import (
    EXIT_INVALID,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    EXIT_USAGE,
    PostcodesOpt,
    RoundPath,
    check_result_out,
    end_progress,
    live_progress,
    load_round,
)
from matcher_cli.common import problem_lines as _problem_lines
from matcher_cli.common import report_invalid as _report_invalid

__all__ = ["EXIT_INVALID", "EXIT_NO_SOLUTION", "EXIT_OK", "EXIT_USAGE", "app", "main"]

app = typer.Typer(
    name="matcher",
    help="SPIN Matcher: allocate SPIN pharmacists to rotation placements, provably well.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")]
    = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command()
def validate(
    round_path: RoundPath,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report.")] = False,
    postcodes: PostcodesOpt = None,
) -> None:
    """Check a round; print every problem and warning. Exit 0 valid, 1 invalid."""
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats import load_round_checked

    try:
        rnd, warnings = load_round_checked(round_path, postcodes=postcodes)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=as_json)
        if exc.warnings and not as_json:
            _echo_warnings(exc.warnings)
        raise typer.Exit(EXIT_INVALID) from None
    if as_json:
        typer.echo(json.dumps({"valid": True, "errors": [],
                               "warnings": [w.to_dict() for w in warnings],
                               "summary": rnd.summary()}, indent=2))
        return
    typer.echo(f"VALID: {_summary_line(rnd.summary())}")
    _echo_warnings(warnings)


def _echo_warnings(warnings: list[Problem]) -> None:
    if warnings:
        typer.echo(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}:")
        for line in _problem_lines(warnings):
            typer.echo(line)


def _summary_line(s: dict[str, Any]) -> str:
    return (f"round {s['round']}: {s['pharmacists']} pharmacists, {s['placements']} "
            f"placements ({s['seats']} seats), {s['periods']} periods, streams "
            f"{', '.join(s['streams'])}, {s['supervisors']} supervisors, {s['pins']} pins, "
            f"{s['bans']} bans")


@app.command()
def template(
    out: Annotated[Path, typer.Argument(help="Where to write the empty .xlsx workbook.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]
    = False,
    places: Annotated[str | None, typer.Option(
        "--places", help="The ICS's places for the place dropdowns, separated by commas "
        "(\"Barking and Dagenham,Havering\"); 'nel' stands for North East London's 7. "
        "Default: no list (place is typed freely).")] = None,
    places_from: Annotated[Path | None, typer.Option(
        "--places-from", help="A file of places: text or CSV with one per line, or an .xlsx "
        "workbook (its 'places' sheet, or the places an earlier round's workbook names).")]
    = None,
) -> None:
    """Write an empty round workbook for planners: headers, dropdowns, instructions."""
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats.template import template_places, write_template

    if out.suffix.lower() != ".xlsx":
        typer.echo(f"error: the template is an Excel workbook; give a name ending in .xlsx, "
                   f"not {out.name!r}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if out.exists() and not force:
        typer.echo(f"error: {out} exists; pass --force to overwrite it", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        offered = template_places(places, places_from)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=False)
        raise typer.Exit(EXIT_INVALID) from None
    write_template(out, offered)
    typer.echo(f"wrote {out} (" + (f"place dropdowns offer {len(offered)} place(s)" if offered
                                   else "no place list: place is typed freely; --places "
                                   "offers a dropdown") + ")")


@app.command()
def convert(
    source: RoundPath,
    dest: Annotated[Path, typer.Argument(
        help="Output: .json, .xlsx, .zip (CSV bundle) or a folder (CSV bundle).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")]
    = False,
    postcodes: PostcodesOpt = None,
) -> None:
    """Convert a round between JSON, CSV bundle and Excel (validated on the way; postcodes
    are written out as their latitude and longitude)."""
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats import save_round

    if dest.exists() and not force and not (dest.is_dir() and not any(dest.iterdir())):
        typer.echo(f"error: {dest} exists; pass --force to overwrite it", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        rnd = load_round(source, postcodes)
        # Saving can refuse too (a ';' inside a list item cannot be written to CSV or Excel).
        save_round(rnd, dest)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=False)
        raise typer.Exit(EXIT_INVALID) from None
    typer.echo(f"wrote {dest}")


@app.command()
def solve(
    round_path: RoundPath,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the result: .json (spec §5), .csv or .xlsx.")] = None,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", min=0.0, help="Seconds for the whole solve.")] = 60.0,
    workers: Annotated[int, typer.Option(
        "--workers", min=0, help="Search workers (0: one per core).")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the search.")] = 0,
    reference: Annotated[Path | None, typer.Option(
        "--reference", help="An earlier result (.json) of this round: warm-start from it and "
        "charge the round's weights.change per changed slot. With weights.change 0 nothing "
        "stops the solve moving anyone, served periods included: to re-plan safely, use "
        "`matcher replan`.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
    = False,
    postcodes: PostcodesOpt = None,
) -> None:
    """Solve a round. Exit 0 optimal or feasible, 2 infeasible or unknown, 1 invalid input."""
    # lazy: each command loads only what it uses (start-up time)
    from matcher.formats.results import load_result, save_result
    from matcher.solving import SolveParams
    from matcher.solving import solve as run_solve
    from matcher.validation import with_changes

    try:
        rnd = load_round(round_path, postcodes)
        hint = None
        if reference is not None:
            hint = load_result(reference)
            if hint.round != rnd.round.id:
                typer.echo(f"note: the reference is a result of round {hint.round!r}, not "
                           f"{rnd.round.id!r}", err=True)
            if not rnd.weights.change:
                typer.echo("warning: weights.change is 0, so --reference only warm-starts "
                           "the search: nothing stops it moving people, served periods "
                           "included; to re-plan keeping served periods and charging every "
                           "move, use `matcher replan ROUND --reference EARLIER.json --from "
                           "PERIOD`", err=True)
            rnd = with_changes(rnd, reference=[
                {"pharmacist": a.pharmacist, "period": a.period, "placement": a.placement}
                for a in hint.assignments])
        check_result_out(out)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=False)
        raise typer.Exit(EXIT_INVALID) from None

    progress = live_progress(as_json)
    params = SolveParams(time_limit_s=time_limit, workers=workers, seed=seed, hint=hint,
                         progress=progress)
    result = run_solve(rnd, params)
    end_progress(progress)
    if out is not None:
        save_result(result, out)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo(result.summary())
        for finding in result.to_dict()["diagnosis"]:
            message = finding.get("message") if isinstance(finding, dict) else finding
            typer.echo(f"  - {message}")
        if out is not None:
            typer.echo(f"wrote {out}")
    if not result.has_solution:
        raise typer.Exit(EXIT_NO_SOLUTION)


# ---- the HTTP service (imported lazily: the library never depends on service/) ----------

DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Directory of the SQLite database (default ./.matcher-data; "
    "env MATCHER_DATA_DIR).")]
DatabaseUrlOpt = Annotated[str | None, typer.Option(
    "--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db "
    "(env MATCHER_DATABASE_URL); overrides --data-dir.")]


def _require_service() -> None:
    """Exit 2, saying what to install, when the service extra is not installed."""
    from matcher.extras import MissingExtraError, require  # lazy: service commands only

    try:
        require("service", "the HTTP service")
    except MissingExtraError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(
        "--host", help="Address to listen on (default 127.0.0.1; env MATCHER_HOST).")] = None,
    port: Annotated[int | None, typer.Option(
        "--port", help="Port to listen on (default 8000; env MATCHER_PORT).")] = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Run the HTTP service (other settings from MATCHER_* environment variables).

    Needs the service extra: pip install 'spin-matcher[service]'."""
    _require_service()
    # lazy: the service stack loads only for service commands
    from service.cli import serve as run_service
    from service.cli import settings_with

    run_service(settings_with(data_dir=data_dir, database_url=database_url, host=host,
                              port=port))


keys_app = typer.Typer(help="API keys of the HTTP service, each mapped to a tenant (an ICS).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Argument(help="The tenant (ICS) the key acts for.")],
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Print a new API key for TENANT (only its hash is stored; keep the key safe)."""
    _require_service()
    # lazy: the service stack loads only for service commands
    from service.cli import create_key, settings_with

    try:
        key = create_key(settings_with(data_dir=data_dir, database_url=database_url), tenant)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(key)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The API key to revoke.")],
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
) -> None:
    """Revoke an API key at once. Exit 1 when the key is unknown."""
    _require_service()
    # lazy: the service stack loads only for service commands
    from service.cli import revoke_key, settings_with

    tenant = revoke_key(settings_with(data_dir=data_dir, database_url=database_url), key)
    if tenant is None:
        typer.echo("error: unknown key", err=True)
        raise typer.Exit(EXIT_INVALID)
    typer.echo(f"revoked a key of tenant {tenant}")


_ROUND_NEXT_TO = ("round.json", "{id}.json", "{id}.xlsx", "{id}.zip", "{id}")


def _round_next_to(result_path: Path, round_id: str) -> tuple[Path | None, list[str]]:
    """The round a result answers, looked for next to it (as ``matcher batch`` leaves it)."""
    tried = []
    for pattern in _ROUND_NEXT_TO:
        name = pattern.format(id=round_id)
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            continue
        path = result_path.parent / name
        tried.append(name)
        if path.is_file() or (pattern == "{id}" and path.is_dir()):
            return path, tried
    return None, tried


@app.command()
def report(
    result_path: Annotated[Path, typer.Argument(
        help="A result (.json, spec §5), as written by `matcher solve --out` or `matcher "
        "batch`.")],
    out: Annotated[list[Path], typer.Option(
        "--out", "-o", help="Write the HTML report (.html) or the planner workbook (.xlsx); "
        "repeat for both.")],
    round_path: Annotated[Path | None, typer.Option(
        "--round", help="The round the result answers (any round format). By default "
        "round.json or <round id>.json/.xlsx/.zip next to the result.")] = None,
    explain_seconds: Annotated[float, typer.Option(
        "--explain-seconds", min=0.0, help="Seconds of re-solving to measure what better "
        "placements would cost in the explanations (0: reasons only).")] = 10.0,
    order: Annotated[str, typer.Option(
        "--order", help="The baseline's priority order: listed (the round's order), id, or "
        "random (seeded by --seed).")] = "listed",
    seed: Annotated[int, typer.Option("--seed", help="Seed of a random baseline order.")]
    = 0,
    postcodes: PostcodesOpt = None,
) -> None:
    """Write a planner's report of a result: HTML page and/or Excel workbook.

    Exit 0 written, 1 invalid input (round invalid, result unreadable or not of this round),
    2 wrong usage (round not found, unknown output type).
    """
    # lazy: each command loads only what it uses (start-up time)
    from matcher.baseline import ORDERS
    from matcher.formats.results import load_result
    from matcher.planner_workbook import write_workbook
    from matcher.report import ResultMismatchError, prepare, write_report

    bad = [p.name for p in out if p.suffix.lower() not in (".html", ".xlsx")]
    if bad or not out:
        typer.echo(f"error: --out must end in .html (report) or .xlsx (workbook), not "
                   f"{', '.join(repr(b) for b in bad) or 'nothing'}", err=True)
        raise typer.Exit(EXIT_USAGE)
    if order not in ORDERS:
        typer.echo(f"error: --order must be one of {', '.join(ORDERS)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        result = load_result(result_path)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=False)
        raise typer.Exit(EXIT_INVALID) from None
    if round_path is None:
        round_path, tried = _round_next_to(result_path, result.round)
        if round_path is None:
            typer.echo(f"error: the report needs the round this result answers (round "
                       f"{result.round!r}); pass --round ROUND (looked next to the result "
                       f"for: {', '.join(tried)})", err=True)
            raise typer.Exit(EXIT_USAGE)
    try:
        rnd = load_round(round_path, postcodes)
        built = prepare(rnd, result, order=order, seed=seed, explain_seconds=explain_seconds)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=False)
        raise typer.Exit(EXIT_INVALID) from None
    except ResultMismatchError as exc:
        typer.echo(f"INVALID: {exc}")
        raise typer.Exit(EXIT_INVALID) from None
    for path in out:
        if path.suffix.lower() == ".html":
            write_report(built, path)
        else:
            write_workbook(rnd, result, path, baseline=built.baseline)
        typer.echo(f"wrote {path}")


@app.command()
def batch(
    cohorts_dir: Annotated[Path, typer.Argument(
        help="A folder of rounds, one per cohort: .json, .xlsx, .zip or CSV folders.")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder: one folder per cohort and summary.csv.")],
    force: Annotated[bool, typer.Option(
        "--force", help="Solve every cohort, even those unchanged since their last run.")]
    = False,
    jobs: Annotated[int, typer.Option(
        "--jobs", "-j", min=1, help="Cohorts solved at once, each in its own process.")] = 1,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", min=0.0, help="Seconds for each cohort's solve.")] = 60.0,
    workers: Annotated[int, typer.Option(
        "--workers", min=0, help="Search workers per solve (0: the cores shared out between "
        "the jobs).")] = 0,
    explain_seconds: Annotated[float, typer.Option(
        "--explain-seconds", min=0.0, help="Re-solve budget of each report's explanations "
        "(0: reasons only).")] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the search.")] = 0,
    postcodes: PostcodesOpt = None,
) -> None:
    """Solve every cohort in a folder: result, report and workbook per cohort, summary.csv.

    Unchanged inputs (by content hash) are skipped unless --force; outputs of cohorts no
    longer in the folder are moved to OUT/_stale/. Exit 0 every cohort has an allocation,
    1 some input invalid, 2 some cohort infeasible, unknown or failed (1 wins).
    """
    # lazy: each command loads only what it uses (start-up time)
    from matcher.batch import BatchSettings, CohortOutcome, run_batch

    if not cohorts_dir.is_dir():
        typer.echo(f"error: {cohorts_dir} is not a folder of rounds", err=True)
        raise typer.Exit(EXIT_USAGE)
    settings = BatchSettings(time_limit_s=time_limit, workers=workers, seed=seed,
                             explain_seconds=explain_seconds,
                             postcodes=None if postcodes is None else str(postcodes))
    live = sys.stderr.isatty()
    bar: Any = None
    done = 0
    total = 0

    def on_start(n: int) -> None:
        nonlocal bar, total
        total = n
        if live and n:
            # lazy: tqdm loads only when a progress bar is shown
            from tqdm import tqdm

            bar = tqdm(total=n, unit="cohort", file=sys.stderr, dynamic_ncols=True)

    def on_done(o: CohortOutcome) -> None:
        nonlocal done
        line = f"{o.cohort}: {o.status}" + (
            f", objective {o.objective}" if o.objective is not None else "") + (
            " (unchanged, skipped)" if o.action == "skipped" else f" ({o.seconds:.1f} s)")
        if o.action != "skipped":
            done += 1
        if bar is not None:
            if o.action != "skipped":
                bar.update(1)
            bar.write(line, file=sys.stderr)
        else:
            prefix = f"[{done}/{total}] " if o.action != "skipped" else "[skip] "
            sys.stderr.write(prefix + line + "\n")
            sys.stderr.flush()

    try:
        summary = run_batch(cohorts_dir, out, force=force, jobs=jobs, settings=settings,
                            on_start=on_start, on_done=on_done)
    finally:
        if bar is not None:
            bar.close()
    typer.echo(summary.headline())
    for o in summary.failed():
        typer.echo(f"  - {o.cohort}: {o.status}" + (" (last run)" if o.action == "skipped"
                                                     else "")
                   + (f": {o.message}" if o.message else ""))
    for gone in summary.stale:
        what = f"moved to {out / gone.moved_to}" if gone.moved_to else gone.message
        typer.echo(f"  - {gone.cohort}: no longer in {cohorts_dir}; its outputs {what}")
    typer.echo(f"wrote {summary.summary_path}")
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


@app.command(name="explain")
def explain_command(
    result_path: Annotated[Path, typer.Argument(
        help="A result (.json) written by `matcher solve`.")],
    round_path: Annotated[Path, typer.Option(
        "--round", help="The round the result answers: .json, a CSV bundle or .xlsx.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")]
    = False,
    max_resolves: Annotated[int, typer.Option(
        "--max-resolves", min=0, help="Most re-solves used to measure what alternatives "
        "cost.")] = 50,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", min=0.0, help="Seconds for all the re-solves together.")] = 30.0,
    postcodes: PostcodesOpt = None,
) -> None:
    """Explain a result: score terms, ranks, why better-ranked placements went elsewhere,
    why seats stayed empty. Exit 0, or 1 when the round or result cannot be read."""
    # lazy: each command loads only what it uses (start-up time)
    from matcher.explanations import explain
    from matcher.formats.results import load_result

    try:
        rnd = load_round(round_path, postcodes)
        result = load_result(result_path)
    except InvalidRoundError as exc:
        _report_invalid(exc, as_json=as_json)
        raise typer.Exit(EXIT_INVALID) from None
    try:
        explanation = explain(rnd, result, max_resolves=max_resolves, time_limit_s=time_limit)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_INVALID) from None
    typer.echo(json.dumps(explanation.to_dict(), indent=2) if as_json else explanation.to_text())


# ---- what-if: re-plan, scenario, diff (matcher_cli/whatif.py) ------------------------------

app.command(name="replan")(whatif.replan_command)
app.command(name="scenario")(whatif.scenario_command)
app.command(name="diff")(whatif.diff_command)


def main() -> None:
    """Console-script entry point."""
    app()
