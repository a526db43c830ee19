"""The README's examples run as written (on the bundled samples): its ``python`` blocks,
and its ``console`` blocks, whose ``$ matcher ...`` commands run in order and print (at
least) the lines shown, ``...`` standing for lines left out."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from matcher_cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.M | re.S)
CONSOLE = re.findall(r"^```console\n(.*?)^```", README, re.M | re.S)


def test_the_readme_has_python_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"readme_example_{index}"}
    exec(compile(BLOCKS[index], f"README.md python block {index + 1}", "exec"), namespace)
    out = capsys.readouterr().out
    for value in namespace.values():
        if type(value).__name__ == "Result":
            assert value.status == "optimal"  # type: ignore[attr-defined]
    assert out or any(tmp_path.iterdir())


def steps(block: str) -> Iterator[tuple[list[str], list[str]]]:
    """Each ``$ command`` of a console block (as argv) with the output lines shown for it."""
    command: list[str] | None = None
    shown: list[str] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, shown
            command, shown = shlex.split(line[2:]), []
        else:
            shown.append(line)
    if command is not None:
        yield command, shown


def test_the_readme_runs_the_what_if_commands() -> None:
    commands = {argv[1] for block in CONSOLE for argv, _ in steps(block)}
    assert {"replan", "scenario", "diff"} <= commands


@pytest.mark.parametrize("index", range(len(CONSOLE)))
def test_readme_console_example_runs(index: int, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").symlink_to(ROOT / "data")
    monkeypatch.chdir(tmp_path)
    for argv, shown in steps(CONSOLE[index]):
        assert argv[0] == "matcher"
        result = CliRunner().invoke(app, argv[1:])
        assert result.exit_code == 0, (argv, result.output)
        printed = iter(result.stdout.splitlines())
        for line in shown:  # in this order, each somewhere after the one before
            assert line == "..." or line in printed, (argv, line, result.stdout)
