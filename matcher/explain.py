"""Deprecated: import from :mod:`matcher.explanations` (this path goes in 0.3)."""

from typing import TYPE_CHECKING

from matcher.deprecated import forward

if TYPE_CHECKING:  # type checkers see the new module's names
    from matcher.explanations import *  # noqa: F403

forward(__name__, "matcher.explanations", call="explain")
