"""Package attributes that import their module on first use (PEP 562).

``matcher``, ``matcher.solving`` and ``matcher.whatif`` re-export names from their
submodules without importing them up front (OR-Tools, pandas and the rest load only when a
name that needs them is used): each sets
``__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package`` for ``exports`` (public
    name -> the module that defines it). A name is imported on first use and then kept in
    the package's namespace; an unknown name raises ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *exports])

    return __getattr__, __dir__
