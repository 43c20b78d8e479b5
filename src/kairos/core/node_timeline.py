"""One node's free resources over time, as a flat tuple ``(v0, t1, v1, t2, v2, ...)``:
free vector ``v0`` from the profile's origin until ``t1``, ``v1`` until ``t2``, and so on.

``TimelineProfile`` (``kairos.core.timeline``) keeps one per node; what is asked of a
single timeline (its minimum over a window, the spans where a request fits, the same
timeline with a share added or taken) lives here, apart from the node classes and
caches the profile keeps over all of them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from heapq import heapify
from operator import add, ne

_INF = math.inf


def window_min(tl: tuple, t: float, end: float) -> list[int]:
    """Elementwise minimum of a timeline's vectors over the steps that ``[t, end)``
    touches (the step holding ``t`` always)."""
    n = len(tl)
    j = 0  # index of the vector of the step holding t
    while j + 1 < n and tl[j + 1] <= t:
        j += 2
    mins = list(tl[j])
    j += 1
    while j < n and tl[j] < end:
        v = tl[j + 1]
        for k in range(len(mins)):
            if v[k] < mins[k]:
                mins[k] = v[k]
        j += 2
    return mins


def nested_spans(times, levels) -> tuple[tuple[float, float, int], ...]:
    """A step function (``levels[k]`` from ``times[k]`` until the next time, the last
    forever) as ``(a, b, height)`` spans, any two nested or apart, such that the heights
    of the spans holding a window add up to the function's least value in it.  Made
    with a stack of the levels open, like the rectangles under a histogram: a span
    closes when the function falls below its top."""
    out = []
    stack: list[list] = []  # [start, level] of the open spans, rising
    for t, level in zip(times, levels):
        start = t
        while stack and stack[-1][1] > level:
            begun, top = stack.pop()
            out.append((begun, t, top - max(level, stack[-1][1] if stack else 0)))
            start = begun
        if level > (stack[-1][1] if stack else 0):
            stack.append([start, level])
    while stack:
        begun, top = stack.pop()
        out.append((begun, _INF, top - (stack[-1][1] if stack else 0)))
    return tuple(out)


def runs(times, oks: list[bool]) -> tuple[tuple[float, float, int], ...]:
    """``nested_spans(times, oks)`` of a function that is only true or false (the
    spans where a node has room for a request): its maximal runs of true, as
    ``(a, b, 1)`` in time order, apart, in one loop (``nested_spans``'s stack costs
    three times as much).  Under conservative backfilling a node's timeline alternates
    at nearly every step, between its promises, and this is done again after each."""
    out = []
    start = None
    prev = False
    for t, ok in zip(times, oks):
        if ok != prev:
            if ok:
                start = t
            else:
                out.append((start, t, 1))
            prev = ok
    if prev:
        out.append((start, _INF, 1))
    return tuple(out)


def remark(marks: dict[float, int], old, new) -> None:
    """Count a timeline's change times ``new`` instead of ``old`` in ``marks``."""
    if old == new:
        return
    gone, came = set(old), set(new)
    for t in gone - came:
        left = marks[t] - 1
        if left:
            marks[t] = left
        else:
            del marks[t]
    for t in came - gone:
        marks[t] = marks.get(t, 0) + 1


def first_changes(timelines: list[tuple]) -> list[tuple[float, int]]:
    """A heap of (first change time, node) of the timelines that change."""
    due = [(tl[1], n) for n, tl in enumerate(timelines) if len(tl) > 1]
    heapify(due)
    return due


class LongTimeline(tuple):
    """A long timeline ``(v0, t1, v1, ...)``, hashed once: timelines key the node classes
    and the caches of good spans, and under conservative backfilling they grow as long
    as the promises on their node (hashing a tuple reads all of it, every time).  Short
    ones stay plain tuples, whose hash costs less than a method call; the two kinds
    hash and compare alike."""

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            h = self._hash = tuple.__hash__(self)
            return h


def flatten(times: list[float], vecs: list[tuple]) -> tuple:
    """``(vecs[0], times[1], vecs[1], ...)``, interleaved by slice assignment, equal
    neighbouring steps merged (a timeline never holds two: ``shifted`` relies on it)."""
    if not all(map(ne, vecs[1:], vecs)):
        merged_t, merged_v = [times[0]], [vecs[0]]
        for t, v in zip(times[1:], vecs[1:]):
            if v != merged_v[-1]:
                merged_t.append(t)
                merged_v.append(v)
        times, vecs = merged_t, merged_v
    out = [None] * (2 * len(vecs) - 1)
    out[0::2] = vecs
    out[1::2] = times[1:]
    return as_timeline(out)


#: timelines with more elements than this hash once (``LongTimeline``)
LONG_TIMELINE = 16


def as_timeline(items) -> tuple:
    """``items`` as a timeline: a ``LongTimeline`` when long, else a plain tuple."""
    items = tuple(items)
    return LongTimeline(items) if len(items) > LONG_TIMELINE else items


def plus(v, delta) -> tuple:
    """``v + delta`` elementwise; the shorter padded with zeros (a share recorded before
    GPU types were added is shorter than the free vectors)."""
    if len(v) != len(delta):
        width = max(len(v), len(delta))
        v = (*v, *[0] * (width - len(v)))
        delta = (*delta, *[0] * (width - len(delta)))
    return tuple(map(add, v, delta))


def shifted(tl: tuple, a: float, b: float, vec, sign: int) -> tuple:
    """Timeline ``tl`` with ``sign * vec`` added over ``[a, b)`` (``a`` = -inf: from the
    origin), equal neighbouring steps merged.

    Under conservative backfilling a timeline is as long as the promises on its node and
    a change touches about one step of it: the new timeline is the old one's slices
    around the steps that change, and since a timeline never holds equal neighbours
    (this keeps it so), a merge can only be needed where the change begins and ends."""
    delta = tuple([sign * amount for amount in vec])
    if not any(delta):
        return tl
    times = tl[1::2]
    m = len(times)
    # Step k runs from times[k - 1] (k = 0: the origin) with vector tl[2k].
    if a == -_INF:
        k, split_a = 0, False
    else:
        k = bisect_right(times, a)
        split_a = k == 0 or times[k - 1] != a
    if b == _INF:
        e, split_b = m, False
    else:
        kb = bisect_right(times, b)
        split_b = kb == 0 or times[kb - 1] != b
        e = kb if split_b else kb - 1  # the last step that changes
    middle = list(tl[2 * k: 2 * e + 1])  # v_k, t_k+1, ..., v_e
    middle[0::2] = [plus(v, delta) for v in middle[0::2]]
    if split_a:  # step k keeps its vector until a
        out = [*tl[: 2 * k + 1], a, *middle]
        left = 2 * k + 2  # index in ``out`` of the first changed vector
    else:
        out = [*tl[: 2 * k], *middle]
        left = 2 * k
    right = len(out) - 1  # index in ``out`` of the last changed vector
    if split_b:  # step e goes on with its old vector from b
        out += (b, tl[2 * e], *tl[2 * e + 1:])
    else:
        out += tl[2 * e + 1:]
    # Merge at the edges: the later of two equal neighbours goes, with its start.
    if right + 2 < len(out) and out[right + 2] == out[right]:
        del out[right + 1: right + 3]
    if left >= 2 and out[left - 2] == out[left]:
        del out[left - 1: left + 1]
    return as_timeline(out)


__all__ = ["LONG_TIMELINE", "LongTimeline", "as_timeline", "first_changes", "flatten",
           "nested_spans", "plus", "remark", "runs", "shifted", "window_min"]
