"""The optional parts of SPIN Matcher, and a clear message when one is not installed.

``pip install spin-matcher`` (or ``pip install .`` from a checkout) installs the library and
the ``matcher`` command line; three extras add the rest (``pyproject.toml`` defines them):

- ``service``: the HTTP service (``matcher serve``, ``matcher keys``): FastAPI, uvicorn,
  SQLAlchemy, Alembic, psycopg and the rest;
- ``dask``: sweeps on a Dask cluster (``solve_many(..., executor="tcp://scheduler:8786")``);
- ``notebook``: JupyterLab, a kernel, and the widgets ``tqdm.auto`` draws progress bars with.

Code that needs an extra calls :func:`require` first, which raises
:class:`MissingExtraError` naming what to install, for example "the HTTP service needs the
service extra: pip install 'spin-matcher[service]'", instead of a bare ``ImportError``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

__all__ = ["EXTRA_MODULES", "PROJECT", "MissingExtraError", "missing", "require"]

PROJECT = "spin-matcher"
"""The distribution's name, as ``pip install`` takes it."""

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "service": ("fastapi", "uvicorn", "pydantic_settings", "sqlalchemy", "alembic", "psycopg",
                "multipart", "prometheus_client"),
    "dask": ("dask", "distributed"),
    "notebook": ("jupyterlab", "ipykernel", "ipywidgets"),
}
"""The modules each extra of ``pyproject.toml`` brings (a test checks they agree)."""


class MissingExtraError(ImportError):
    """Something needs an extra that is not installed; the message says what to install."""

    def __init__(self, purpose: str, extra: str, modules: Sequence[str]) -> None:
        self.purpose = purpose
        self.extra = extra
        self.modules = tuple(modules)
        super().__init__(f"{purpose} needs the {extra} extra: pip install "
                         f"'{PROJECT}[{extra}]'", name=self.modules[0] if self.modules else None)


def missing(extra: str, modules: Sequence[str] | None = None) -> tuple[str, ...]:
    """The modules of ``extra`` (or only ``modules`` of it) that cannot be imported here.

    Looks them up without importing them, so the check costs next to nothing.
    """
    if extra not in EXTRA_MODULES:
        raise ValueError(f"unknown extra {extra!r}; the extras are "
                         f"{', '.join(EXTRA_MODULES)}")
    wanted = EXTRA_MODULES[extra] if modules is None else tuple(modules)
    return tuple(m for m in wanted if importlib.util.find_spec(m) is None)


def require(extra: str, purpose: str, modules: Sequence[str] | None = None) -> None:
    """Raise :class:`MissingExtraError` unless every module ``extra`` brings (or only
    ``modules`` of it) can be imported; ``purpose`` says what needs it ("the HTTP service")."""
    absent = missing(extra, modules)
    if absent:
        raise MissingExtraError(purpose, extra, absent)
