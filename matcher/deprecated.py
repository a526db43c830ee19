"""Old import paths kept for one release: :func:`forward` makes a module a warning alias.

Modules whose names clashed with the functions they hold were renamed (``matcher.check`` is
now :mod:`matcher.checker`, ``matcher.solve`` is :mod:`matcher.solving`, ``matcher.explain``
is :mod:`matcher.explanations`, ``matcher.diagnose`` is :mod:`matcher.diagnosis`, ...). The
old module stays for one release as a two-line file that calls :func:`forward`: importing
it warns (``DeprecationWarning``) and gives the new module's public names. The old module
is also callable when it was named after a function (``matcher.solve(round)`` keeps
working even after ``import matcher.solve``). Nothing inside the project imports an old path.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

__all__ = ["REMOVED_IN", "forward"]

REMOVED_IN = "0.3"
"""The release in which the old paths go."""


class _CallableModule(types.ModuleType):
    """A module that calls its ``__call_target__`` when called."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["__call_target__"](*args, **kwargs)


def forward(old: str, new: str, *, call: str | None = None,
            aliases: dict[str, str] | None = None) -> None:
    """Make module ``old`` an alias of module ``new`` for one release.

    Warns once per import with the new path, copies ``new``'s public names (its
    ``__all__``) into ``old``, adds ``aliases`` (old name -> name in ``new``) and, with
    ``call``, makes ``old`` callable as ``new.<call>``.
    """
    warnings.warn(f"{old} is deprecated and goes in {REMOVED_IN}; import from {new}",
                  DeprecationWarning, stacklevel=3)
    target = importlib.import_module(new)
    module = sys.modules[old]
    names = list(getattr(target, "__all__", ()))
    for name in names:
        setattr(module, name, getattr(target, name))
    for old_name, new_name in (aliases or {}).items():
        setattr(module, old_name, getattr(target, new_name))
    module.__all__ = [*names, *(aliases or {})]  # type: ignore[attr-defined]
    if call is not None:
        module.__call_target__ = getattr(target, call)  # type: ignore[attr-defined]
        module.__class__ = _CallableModule
