"""Deprecated: import from :mod:`matcher.whatif` (this path goes in 0.3).

The override models ``Pin``, ``Unpin``, ``Ban`` and ``Unban`` are now
:class:`~matcher.whatif.AddPin`, :class:`~matcher.whatif.RemovePin`,
:class:`~matcher.whatif.AddBan` and :class:`~matcher.whatif.RemoveBan` (``Pin`` and ``Ban``
are the round's records in :mod:`matcher.domain`); the old names are aliases here. The
scenario format is unchanged: the ops are still ``pin``, ``unpin``, ``ban`` and ``unban``.
"""

from typing import TYPE_CHECKING

from matcher.deprecated import forward

if TYPE_CHECKING:  # type checkers see the new module's names, and the old ones
    from matcher.whatif import *  # noqa: F403
    from matcher.whatif import AddBan, AddPin, RemoveBan, RemovePin

    Pin = AddPin
    Unpin = RemovePin
    Ban = AddBan
    Unban = RemoveBan

forward(__name__, "matcher.whatif",
        aliases={"Pin": "AddPin", "Unpin": "RemovePin", "Ban": "AddBan", "Unban": "RemoveBan"})
