"""What the ``matcher`` commands share: exit codes, arguments, problem and progress output.

Exit codes are stable for scheduled runs (see :mod:`matcher_cli.app`): :data:`EXIT_OK`,
:data:`EXIT_INVALID` (every problem printed, each with where it is), :data:`EXIT_USAGE`
and :data:`EXIT_NO_SOLUTION` (a solve without an allocation).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from matcher.errors import InvalidRoundError, Problem

if TYPE_CHECKING:
    from matcher.domain import Round
    from matcher.solving import Progress

__all__ = [
    "EXIT_INVALID",
    "EXIT_NO_SOLUTION",
    "EXIT_OK",
    "EXIT_USAGE",
    "RESULT_SUFFIXES",
    "PostcodesOpt",
    "RoundPath",
    "check_result_out",
    "end_progress",
    "live_progress",
    "load_round",
    "problem_lines",
    "report_invalid",
    "report_problems",
]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_NO_SOLUTION = 2  # solve: infeasible, or no solution within the time limit

RESULT_SUFFIXES = (".json", ".csv", ".xlsx")
"""What a result may be written as (``--out``)."""

RoundPath = Annotated[
    Path,
    typer.Argument(help="A round: .json, a CSV bundle (folder or .zip) or an .xlsx workbook."),
]

PostcodesOpt = Annotated[Path | None, typer.Option(
    "--postcodes", envvar="MATCHER_POSTCODES", exists=True, dir_okay=False,
    help="Postcode lookup file for homes and placements given as postcodes: a CSV in the ONS "
    "Postcode Directory layout (columns pcds, lat, long); never fetched from the network.")]


def load_round(path: Path, postcodes: Path | None = None) -> Round:
    """Read a round named on the command line: every command that reads rounds comes here,
    so ``--postcodes`` works alike in each. Raises like :func:`matcher.formats.load_round`."""
    from matcher.formats import load_round as load  # lazy: start-up time

    return load(path, postcodes=postcodes)


def problem_lines(problems: Sequence[Problem]) -> list[str]:
    """One indented line per problem: where it is, then what is wrong."""
    return [f"  - {p.where}: {p.message}" for p in problems]


def report_invalid(exc: InvalidRoundError, *, as_json: bool) -> None:
    """Print every problem of an invalid input (text, or the ``--json`` report)."""
    if as_json:
        typer.echo(json.dumps({"valid": False,
                               "errors": [p.to_dict() for p in exc.problems],
                               "warnings": [p.to_dict() for p in exc.warnings]}, indent=2))
        return
    n = len(exc.problems)
    typer.echo(f"INVALID: {n} problem{'s' if n != 1 else ''} to fix", err=False)
    for line in problem_lines(exc.problems):
        typer.echo(line)


def report_problems(found: Sequence[tuple[str, Sequence[Problem]]], *, as_json: bool
                    ) -> None:
    """Print every problem of several inputs at once, each line naming its input: a file's
    name, or an option (``--from``).

    A problem already located in that file (its ``source`` is the file's name), or located
    nowhere more precise, is not named twice; the ``--json`` report gives each problem's
    ``input``.
    """
    if as_json:
        typer.echo(json.dumps({"valid": False, "errors": [
            {"input": name, **p.to_dict()} for name, problems in found for p in problems
        ]}, indent=2))
        return
    n = sum(len(problems) for _, problems in found)
    typer.echo(f"INVALID: {n} problem{'s' if n != 1 else ''} to fix")
    for name, problems in found:
        for p in problems:
            bare = p.source is None and p.list is None and p.field is None and p.id is None \
                and p.index is None
            where = name if p.source == name or bare else f"{name}: {p.where}"
            typer.echo(f"  - {where}: {p.message}")


def check_result_out(out: Path | None) -> None:
    """Refuse (exit 2) an ``--out`` that is not a result's type."""
    if out is not None and out.suffix.lower() not in RESULT_SUFFIXES:
        typer.echo(f"error: --out must end in .json, .csv or .xlsx, not {out.name!r}",
                   err=True)
        raise typer.Exit(EXIT_USAGE)


def live_progress(as_json: bool) -> Callable[[Progress], None] | None:
    """A one-line progress display on a terminal's stderr; ``None`` in cron, CI or --json.

    After the solve, :func:`end_progress` ends the line.
    """
    if as_json or not sys.stderr.isatty():
        return None

    def progress(p: Progress) -> None:
        gap = (p.bound - p.objective) / max(1.0, abs(p.bound))
        sys.stderr.write(f"\r  {p.elapsed:7.1f} s  objective {p.objective:>12,}  "
                         f"bound {p.bound:>14,.0f}  gap {gap:7.3%}  ")
        sys.stderr.flush()

    return progress


def end_progress(progress: Callable[[Progress], None] | None) -> None:
    """End the progress line (if one was shown)."""
    if progress is not None:
        sys.stderr.write("\n")
