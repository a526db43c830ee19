#!/usr/bin/env python3
"""Guard rails for the shape of the code, run by ``scripts/test`` after ``lint-imports``.

    .venv/bin/python scripts/check_imports.py [--cycles-only]

It fails (exit 1, one line per finding with file and line) when:

1. a module imports a private name (``from x import _y``) of another module;
2. an ``import`` inside a function carries no comment saying why it is local (a comment on
   the import's first line or on the line just above it, or above the block of imports it
   starts), e.g. ``import pandas as pd  # lazy: pandas costs 0.3 s at start-up``;
3. the modules of ``matcher``, ``matcher_cli`` and ``service`` import each other in a
   cycle, counting function-local imports (a package importing its own submodules, as
   ``__init__`` files re-exporting them do, is not a cycle).

The layers themselves are the import-linter contracts in ``pyproject.toml``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("matcher", "matcher_cli", "service")
PRIVATE_SCOPE = (*PACKAGES, "tests", "benchmarks", "scripts")


def python_files(folders: tuple[str, ...]) -> Iterator[Path]:
    """Every ``.py`` file under the given folders of the project."""
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def private_imports(path: Path, tree: ast.Module) -> Iterator[str]:
    """``from x import _y`` anywhere in the file."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield (f"{path.relative_to(ROOT)}:{node.lineno}: imports the private "
                           f"name {alias.name!r} of {node.module}")


def local_imports(path: Path, tree: ast.Module, lines: list[str]) -> Iterator[str]:
    """Imports inside functions without a comment that says why.

    A comment counts on the import's first line or on the line just above it; a block of
    consecutive imports shares the comment above its first one."""
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        nodes = sorted((n for n in ast.walk(func) if isinstance(n, ast.Import | ast.ImportFrom)),
                       key=lambda n: n.lineno)
        explained_until = -1  # last line of the explained block of imports
        for node in nodes:
            line = lines[node.lineno - 1]
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            end = node.end_lineno or node.lineno
            follows = explained_until > 0 and all(
                not lines[k].strip() for k in range(explained_until, node.lineno - 1))
            if "#" in line or above.startswith("#") or follows:
                explained_until = end
                continue
            yield (f"{path.relative_to(ROOT)}:{node.lineno}: function-local import without "
                   "a comment saying why it is local")


def cycles() -> list[list[str]]:
    """Import cycles among the project's modules (strongly connected components)."""
    import grimp  # local: only this check needs the import graph (installed for lint-imports)

    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    modules = sorted(graph.modules)

    def edges(m: str) -> set[str]:
        # A package's own submodules are not a cycle with it.
        return {n for n in graph.find_modules_directly_imported_by(m)
                if n in graph.modules and not n.startswith(m + ".")
                and not m.startswith(n + ".")}

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for m in modules:
        if m not in index:
            visit(m)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles-only", action="store_true", help="only look for cycles")
    args = parser.parse_args(argv)
    problems: list[str] = []
    if not args.cycles_only:
        for path in python_files(PRIVATE_SCOPE):
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text, filename=str(path))
            problems += private_imports(path, tree)
            if path.parts[len(ROOT.parts)] in PACKAGES:
                problems += local_imports(path, tree, text.splitlines())
    for comp in cycles():
        problems.append("import cycle: " + " -> ".join(comp))
    for line in problems:
        print(line)
    if problems:
        print(f"check_imports: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check_imports: no private imports, every local import says why, no cycles")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
