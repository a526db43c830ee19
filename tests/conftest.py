"""Shared fixtures: small rounds any test module can use.

``tests/`` is on ``sys.path`` under pytest (rootdir conftest), so helpers such as
``bruteforce`` import as top-level modules.
"""

from __future__ import annotations

import pytest
from bruteforce import random_tiny_round

from matcher.domain import Round

TINY_SEEDS = range(30)
"""Seeds of the random tiny rounds every solver-facing test can sweep."""


@pytest.fixture(params=TINY_SEEDS, ids=lambda seed: f"tiny-{seed}")
def tiny_round(request: pytest.FixtureRequest) -> Round:
    """A random tiny round (see ``tests/bruteforce.py``), one per seed: every feature of the
    spec on a round small enough to solve exhaustively."""
    seed: int = request.param
    return random_tiny_round(seed)
