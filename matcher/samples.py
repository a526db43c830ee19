"""The sample rounds shipped with SPIN Matcher, wherever it is installed or run from.

The samples are the files of ``data/samples/`` in the project (the one copy; installing the
project ships that folder as the package data ``matcher/sample_rounds``), so a notebook or a
script finds them from any folder::

    from matcher import load_round, samples

    samples.names()                          # ['infeasible', 'nel-2027-c1', ...]
    rnd = load_round(samples.path("nel-2027-c1"))
    samples.path("nel-2027-c1.xlsx")         # the same round as a planner's workbook
    samples.path("nel-2027-c1-csv")          # ... and as a CSV bundle (a folder)

What each sample is for is in ``data/samples/README.md`` (also shipped: ``path("README.md")``).
Every person in them is synthetic.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["folder", "names", "path"]

_PACKAGE_DATA = "sample_rounds"
"""The folder of the ``matcher`` package the samples are installed in."""


def folder() -> Path:
    """The folder that holds the samples: the installed package data, or in a checkout (an
    editable install, or running from the project folder) the project's ``data/samples``."""
    installed = resources.files("matcher") / _PACKAGE_DATA
    if installed.is_dir():
        return Path(str(installed))
    checkout = Path(__file__).resolve().parents[1] / "data" / "samples"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"the sample rounds are not installed (looked in {installed} and {checkout}); "
        "reinstall spin-matcher")


def names() -> list[str]:
    """The sample rounds' names (their JSON files without ``.json``), sorted."""
    return sorted(p.stem for p in folder().glob("*.json"))


def path(name: str) -> Path:
    """The file of sample ``name``: ``"nel-2027-c1"`` (or ``"nel-2027-c1.json"``) is the
    JSON round; any other file or folder of the samples by its own name
    (``"nel-2027-c1.xlsx"``, ``"nel-2027-c1-csv"``, ``"README.md"``).

    Raises :class:`LookupError` for an unknown name, listing the names there are.
    """
    base = folder()
    shipped = {p.name: p for p in base.iterdir()
               if not p.name.startswith((".", "_")) and p.name != "__pycache__"}
    for candidate in (name, f"{name}.json"):
        if "/" not in candidate and "\\" not in candidate and candidate in shipped:
            return shipped[candidate]
    others = sorted(set(shipped) - {f"{n}.json" for n in names()})
    raise LookupError(f"no sample round named {name!r}; the samples are "
                      f"{', '.join(names())} (also {', '.join(others)})")
