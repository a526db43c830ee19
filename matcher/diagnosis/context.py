"""What every check needs, computed once per round (:class:`Context`): the pre-checks and
the wording of a conflict core read the round and its candidates through it."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from matcher.domain import SECTORS, Pin, Round, Stream
from matcher.eligibility import Candidates
from matcher.wording import count


class Context:
    """The round with its candidates, indexed for the checks."""

    def __init__(self, rnd: Round, cand: Candidates) -> None:
        self.round = rnd
        self.cand = cand
        self.streams: tuple[Stream, ...] = rnd.effective_streams
        self.declared = bool(rnd.streams)
        n_p = len(rnd.pharmacists)
        bounds = np.searchsorted(cand.pharmacist, np.arange(n_p + 1))
        self.bounds: list[int] = [int(b) for b in bounds]
        self.sector_of = np.array([SECTORS.index(pl.sector) for pl in rnd.placements],
                                  dtype=np.int64)
        self.available: list[tuple[str, ...]] = [rnd.available_periods(ph)
                                                 for ph in rnd.pharmacists]
        self.pins_of: dict[str, list[tuple[int, Pin]]] = defaultdict(list)
        for k, pin in enumerate(rnd.pins):
            self.pins_of[pin.pharmacist].append((k, pin))

    def rows(self, i: int) -> range:
        """Candidate positions of pharmacist ``i``."""
        return range(self.bounds[i], self.bounds[i + 1])

    def stream_of_id(self, placement_id: str) -> Stream:
        """The stream of a placement."""
        return self.round.stream_of(self.round.placement(placement_id))

    # wording -----------------------------------------------------------------------------

    def a_placement(self, stream: str) -> str:
        """'a host placement' when streams are declared, else 'a placement'."""
        return f"a {stream} placement" if self.declared else "a placement"

    def placement_word(self, stream: str) -> str:
        """'host placement' when streams are declared, else 'placement'."""
        return f"{stream} placement" if self.declared else "placement"

    def placements_word(self, stream: str) -> str:
        """'host placements' when streams are declared, else 'placements'."""
        return f"{stream} placements" if self.declared else "placements"

    def seats_phrase(self, stream: str, seats: int) -> str:
        """'the host stream has 11 seats' / 'there are 11 seats'."""
        if self.declared:
            return f"the {stream} stream has {count(seats, 'seat')}"
        return f"there {'is' if seats == 1 else 'are'} {count(seats, 'seat')}"

    def rotates(self, stream: str) -> str:
        """Why a placement may not be held twice."""
        if self.declared:
            return f"the {stream} stream rotates: nobody holds the same placement twice"
        return "placements rotate: nobody holds the same placement twice"
