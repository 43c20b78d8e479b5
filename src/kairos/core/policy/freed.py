"""Where a conservative promise could have become too pessimistic: the spans of time in
which resources were freed since the promises were made.

Conservative backfilling re-places every promise at each fresh pass ("compression"), and
on a long queue that search is almost all of its cost, although most promises cannot move.
A promise at ``t0`` was the earliest slot when it was last searched; the availability the
job saw then can only have grown where something was freed since: a job that ended before
its expected end, a promise that moved or was dropped, a shorter estimate.  A window
``[s, s + d)`` that overlaps none of those spans is no roomier than before, so it still
does not fit: only start times whose window meets a freed span need checking, and a job
with none before ``t0`` keeps its promise without a search.

The spans are kept as a sorted union of disjoint ``[a, b)`` intervals (no nodes: a span
frees "something, somewhere", which over-approximates and so stays exact).
``everything`` says the spans are not known (nodes changed): search everywhere.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right


class FreedSpans:
    """A union of time spans ``[a, b)`` in which resources were freed."""

    __slots__ = ("starts", "ends", "everything")

    def __init__(self, everything: bool = False) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        #: the spans are unknown: every window must be searched
        self.everything = everything

    def __bool__(self) -> bool:
        return self.everything or bool(self.starts)

    def __repr__(self) -> str:
        if self.everything:
            return "FreedSpans(everything)"
        return f"FreedSpans({list(zip(self.starts, self.ends))})"

    def add(self, a: float, b: float) -> None:
        """Add ``[a, b)``, merging with the spans it touches (``b <= a``: the instant
        ``a``, which a zero-length job holds)."""
        if self.everything:
            return
        if b <= a:
            b = math.nextafter(a, math.inf)
        starts, ends = self.starts, self.ends
        i = bisect_left(ends, a)  # first span that ends at or after a
        j = bisect_right(starts, b)  # spans before j start at or before b
        if i < j:
            a = min(a, starts[i])
            b = max(b, ends[j - 1])
        starts[i:j] = [a]
        ends[i:j] = [b]

    def update(self, other: FreedSpans) -> None:
        if other.everything:
            self.everything = True
            self.starts, self.ends = [], []
            return
        for a, b in zip(other.starts, other.ends):
            self.add(a, b)

    def forget_before(self, now: float) -> None:
        """Drop the spans that end at or before ``now`` (no window can meet them)."""
        k = bisect_right(self.ends, now)
        if k:
            del self.starts[:k], self.ends[:k]

    def windows(self, now: float, t0: float, duration: float) -> list[tuple[float, float]] | None:
        """The start times ``s`` with ``now <= s < t0`` whose window ``[s, s + duration)``
        meets a freed span, as sorted disjoint ranges ``[lo, hi)``; None when every start
        before ``t0`` must be tried (``everything``).  Empty: nothing can be earlier."""
        if self.everything:
            return None
        out: list[tuple[float, float]] = []
        starts, ends = self.starts, self.ends
        for k in range(bisect_right(ends, now), len(starts)):
            lo = starts[k] - duration
            if lo >= t0:
                break
            if lo < now:
                lo = now
            hi = ends[k] if ends[k] < t0 else t0
            if lo >= hi:
                continue
            if out and lo <= out[-1][1]:
                if hi > out[-1][1]:
                    out[-1] = (out[-1][0], hi)
            else:
                out.append((lo, hi))
        return out


__all__ = ["FreedSpans"]
