"""Which nodes have room for a request shape at a profile's origin, kept up to date
as jobs are placed (``RoomNow``, used by ``TimelineProfile.fits_now``).

Starting a job is the common question of a pass: "which candidate nodes could hold a
share of this shape from now for ``d`` seconds, and which come first in cluster order".
Answered by visiting every class of nodes, it costs a full machine's worth of work at
each start: on 14,000 nodes a few milliseconds, which caps a controller at a few hundred
starts a second.  Here the answer is gathered once per shape and origin, and every
change of the profile updates only the nodes it touched, so a start costs what its own
nodes cost.

For each node with room now the end ``b`` of that room is kept: nodes whose room lasts
forever in a sorted list (the usual idle node), the others in a map.  A request fits on
a node for ``d`` seconds iff ``b >= now + d``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from heapq import merge

_INF = math.inf


class RoomNow:
    """The candidate nodes with room for one shape at the origin ``now``, and until
    when (see the module docstring).  ``room_of(node)`` gives a node's room end (None:
    no room now, or not a candidate); ``update`` is called with every node whose
    timeline changed."""

    __slots__ = ("room_of", "forever", "until", "_ends", "seen")

    def __init__(self, room_of: Callable[[int], float | None],
                 groups: Iterable[tuple[float, Iterable[int]]]) -> None:
        """``groups``: (room end, nodes) for every group of nodes with room now."""
        self.room_of = room_of
        self.forever: list[int] = []
        self.until: dict[int, float] = {}
        self._ends: list[float] | None = None  #: sorted ``until`` values, built when asked
        self.seen = 0  #: how many of the profile's changed nodes it has looked at again
        for b, nodes in groups:
            if b == _INF:
                self.forever.extend(nodes)
            else:
                for n in nodes:
                    self.until[n] = b
        self.forever.sort()

    def update(self, n: int) -> None:
        """Node ``n``'s timeline changed: look at its room again."""
        b = self.room_of(n)
        forever = self.forever
        i = bisect_left(forever, n)
        was_forever = i < len(forever) and forever[i] == n
        if b == _INF:
            if not was_forever:
                forever.insert(i, n)
        elif was_forever:
            del forever[i]
        if b is None or b == _INF:
            if self.until.pop(n, None) is not None:
                self._ends = None
        elif self.until.get(n) != b:
            self.until[n] = b
            self._ends = None

    def count(self, end: float) -> int:
        """How many nodes have room from now until ``end`` at least."""
        ends = self._ends
        if ends is None:
            ends = self._ends = sorted(self.until.values())
        return len(self.forever) + len(ends) - bisect_left(ends, end)

    def nodes(self, end: float) -> Iterable[int]:
        """Those nodes, in cluster order (an iterable read once)."""
        until = self.until
        if not until:
            return self.forever
        extra = sorted(n for n, b in until.items() if b >= end)
        if not extra:
            return self.forever
        return merge(self.forever, extra)

