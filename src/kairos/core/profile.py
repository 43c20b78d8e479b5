"""Availability over time: how many resources are free from ``now`` on.

Backfilling asks three questions of the future, and both variants (EASY and conservative)
ask them through this module only:

* ``fits_now(job, d)``  - can ``job`` start now and run ``d`` seconds without touching any
  reservation?  Returns a placement or None.
* ``earliest(job, d)``  - the earliest start at or after now for ``d`` seconds, and where.
* ``fits_at(job, t, d)`` - could it run in ``[t, t + d)``?  (to re-check an old promise)

and change it with ``reserve(placement, a, b)`` / ``release(placement, a, b)``.  A pool
also answers ``earlier``: can a conservative promise move, asked without releasing it.

Two representations share that interface:

``PoolProfile``
    One pool of processors (the SWF model).  A step function ``T[i] -> F[i]`` (free
    processors on ``[T[i], T[i+1])``), materialised lazily from the running jobs' expected
    ends: backfilling usually needs only the first few steps, and building the whole
    profile at every pass would dominate a trace replay.

    The invariant that makes laziness exact: every reservation starts at or before the
    last materialised step ``T[-1]``.  Beyond it only running jobs and reservations
    *end*, so availability never decreases there, and a window that reaches past
    ``T[-1]`` only needs checking up to ``T[-1]``.  Reservations that end beyond ``T[-1]``
    wait in a heap (``_tail``) and become steps when the profile is extended.

``NodeProfile``
    Nodes with CPUs, memory and typed GPUs, plus cluster-wide licenses.  Every step holds
    a free vector per node; built eagerly, since such clusters are small.

Size: about 500 lines because the two share the interface above and the exceptions its
callers catch, and ``NodeProfile`` stays as the reference the fast node profile
(``kairos.core.timeline``) is tested against; apart, each would import the other.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from kairos.core.cluster import NodeState
from kairos.core.jobs import Job


class Unsatisfiable(ValueError):
    """The request can never be met, even on an empty machine.

    ``slurm_error`` is what Slurm says for such a refusal (sbatch prints it after
    "Batch job submission failed: "); the message says what exactly is wrong.
    """

    slurm_error = "Requested node configuration is not available"


class InvalidFeature(Unsatisfiable):
    """The constraint names a feature no node has."""

    slurm_error = "Invalid feature specification"


class InvalidNodeName(Unsatisfiable):
    """``-w`` or ``-x`` names a node the cluster does not have."""

    slurm_error = "Invalid node name specified"


class PoolProfile:
    """Free processors of one pool over time (see the module docstring)."""

    __slots__ = ("T", "F", "capacity", "_ends", "_next", "_tail", "_compact_at")

    def __init__(self, now: float, free: int, capacity: int, ends: Sequence[tuple]) -> None:
        """``ends``: running jobs as ``(expected_end, job_id, cpus)`` sorted by end; every
        end must lie after ``now`` (the scheduler corrects overdue jobs first)."""
        self.T: list[float] = [now]
        self.F: list[int] = [free]
        self.capacity = capacity
        self._ends = ends
        self._next = 0
        self._tail: list[tuple[float, int]] = []
        self._compact_at = 64  #: ``rebase`` merges equal steps beyond this many

    @property
    def now(self) -> float:
        return self.T[0]

    def headroom(self) -> int:
        """Most CPUs one node could give a job starting now (a bound for quick rejects)."""
        return self.F[0]

    def _extend(self) -> bool:
        """Materialise the next step; False when nothing else ever ends."""
        ends, i, tail = self._ends, self._next, self._tail
        t = ends[i][0] if i < len(ends) else math.inf
        if tail and tail[0][0] < t:
            t = tail[0][0]
        if t == math.inf:
            return False
        f = self.F[-1]
        n_ends = len(ends)
        while i < n_ends and ends[i][0] == t:
            f += ends[i][2]
            i += 1
        while tail and tail[0][0] == t:
            f += heapq.heappop(tail)[1]
        self._next = i
        self.T.append(t)
        self.F.append(f)
        return True

    def advance(self, now: float) -> bool:
        """Move the origin to ``now`` if no step lies in between; False if one does
        (then the profile is stale and must be rebuilt)."""
        T = self.T
        if now == T[0]:
            return True
        if (len(T) > 1 and T[1] <= now) or (
            len(T) == 1
            and (
                (self._next < len(self._ends) and self._ends[self._next][0] <= now)
                or (self._tail and self._tail[0][0] <= now)
            )
        ):
            return False
        T[0] = now
        return True

    def fits_now(self, job: Job, duration: float) -> int | None:
        n = job.request.cpus
        F = self.F
        if F[0] < n:
            return None
        T = self.T
        end = T[0] + duration
        for i in range(1, len(T)):
            if T[i] >= end:
                return n
            if F[i] < n:
                return None
        return n

    def fits_at(self, job: Job, start: float, duration: float, prefer=None) -> int | None:
        """``prefer`` (a placement to keep) means nothing in one pool."""
        n = job.request.cpus
        T, F = self.T, self.F
        while T[-1] < start and self._extend():
            pass
        i = bisect_right(T, start) - 1
        end = start + duration
        if F[i] < n:
            return None
        for j in range(i + 1, len(T)):
            if T[j] >= end:
                return n
            if F[j] < n:
                return None
        return n

    def earliest(self, job: Job, duration: float) -> tuple[float, int]:
        """The earliest start for ``duration`` seconds, and the placement.  (A held
        promise is re-checked with ``earlier`` instead, only where something was freed.)"""
        n = job.request.cpus
        if n > self.capacity:
            raise Unsatisfiable(f"job {job.id} asks for {n} processors; the machine has {self.capacity}")
        T, F = self.T, self.F
        size = len(T)
        i = good = 0  # steps i..good-1 are known to have n free
        while True:
            if i == size:
                if not self._extend():
                    raise Unsatisfiable(f"job {job.id} never fits: {n} processors are never free")
                size += 1
            # The window's last step (beyond the last step nothing decreases), then
            # backwards: a step short of n rules out every start up to it at once.
            j = bisect_left(T, T[i] + duration, i + 1) - 1
            k = j
            stop = good if good > i else i
            while k >= stop and F[k] >= n:
                k -= 1
            if k < stop:
                return T[i], n
            good = j + 1
            i = k + 1

    def earlier(self, n: int, duration: float, until: float, starts: Sequence[float],
                ends: Sequence[float]) -> float | None:
        """The first start ``s`` before ``until`` whose window ``[s, s + duration)``
        reaches one of the spans ``[starts[k], ends[k])`` (sorted, disjoint, at least
        one) and has ``n`` processors free throughout, or up to ``until`` if that
        comes first; None if there is none.

        A promise at ``until`` is re-checked so, with its own slot still in the
        profile: from ``until`` on, that slot gives the job its processors back, so
        only the time before it matters.  The spans are where something was freed
        since it was searched (``kairos.core.policy.freed``).  Windows are scanned
        from their ends backwards: the last step short of ``n`` rules out every start
        up to it, so the search jumps over whole windows, and scans no step twice."""
        T, F = self.T, self.F
        size, count = len(T), len(starts)
        i = good = 0  # steps i..good-1 are known to have n free
        k = 0  # the span the windows from step i meet first
        while True:
            t = T[i]
            if ends[k] <= t:
                k = bisect_right(ends, t, k + 1)
                if k == count:
                    return None
            lo = starts[k] - duration  # the first start whose window reaches span k
            if t < lo:
                if lo >= until:
                    return None
                i = bisect_left(T, lo, i + 1)
                if i == size:
                    return None
                continue
            if t >= until:
                return None
            end = t + duration
            if end > until:
                end = until
            j = bisect_left(T, end, i + 1) - 1
            m = j
            stop = good if good > i else i
            while m >= stop and F[m] >= n:
                m -= 1
            if m < stop:
                return t
            good = j + 1
            i = m + 1
            if i == size:
                return None

    def may_start(self, job: Job, within) -> bool:
        """Whether ``job`` could start at some step in the ranges ``within`` (all
        before its own promise, which is still in the profile): a quick necessary
        condition before searching them."""
        n = job.request.cpus
        T, F = self.T, self.F
        size = len(T)
        for lo, hi in within:
            i = bisect_left(T, lo)
            while i < size and T[i] < hi:
                if F[i] >= n:
                    return True
                i += 1
        return False

    def fork(self, resources=None) -> PoolProfile:
        """A copy that changes apart from this one, for a forecast's copy of the
        scheduler (``kairos.core.forecast``) to carry on instead of building anew."""
        new = PoolProfile.__new__(PoolProfile)
        new.T, new.F, new.capacity = list(self.T), list(self.F), self.capacity
        new._ends, new._next = self._ends, self._next  # read only
        new._tail, new._compact_at = list(self._tail), self._compact_at
        return new

    def rebase(self, now: float, patches: Sequence[tuple]) -> bool:
        """Move the origin on to ``now`` (dropping the steps before) and apply
        ``patches``, ``(cpus, start, end, sign)`` (+1 frees, -1 takes; clipped to
        ``now``): the profile a rebuild at ``now`` would give with the same
        reservations in it.  False, leaving the profile unusable, if it no longer
        holds them all (a late job now overlaps a reservation): then rebuild."""
        T, F = self.T, self.F
        while self._next_end() <= now:
            self._extend()
        k = bisect_right(T, now) - 1
        if k > 0 or T[0] != now:
            T[: k + 1] = [now]
            F[: k + 1] = [F[k]]
        for n, a, b, sign in patches:
            if a < now:
                a = now
            if b > a:
                self.reserve(-sign * n, a, b)
        if len(T) > self._compact_at or len(self._tail) > 4 * self._compact_at:
            # Carried on and on, the profile keeps the steps of slots given back, where
            # nothing changes any more: merge them (the last step stays: see the
            # module docstring).
            keep_t, keep_f = [T[0]], [F[0]]
            for k in range(1, len(T) - 1):
                if F[k] != keep_f[-1]:
                    keep_t.append(T[k])
                    keep_f.append(F[k])
            if len(T) > 1:
                keep_t.append(T[-1])
                keep_f.append(F[-1])
            T[:], F[:] = keep_t, keep_f
            self._compact_at = max(64, 2 * len(T))
            # Slots given back beyond the last step left pairs of +n and -n in the
            # tail: add up what ends at each time, drop the zeros.
            sums: dict[float, int] = {}
            for t, n in self._tail:
                sums[t] = sums.get(t, 0) + n
            self._tail = [(t, n) for t, n in sums.items() if n]
            heapq.heapify(self._tail)
        return min(F) >= 0

    def _next_end(self) -> float:
        """When the next step beyond ``T[-1]`` begins (inf: none)."""
        ends, i, tail = self._ends, self._next, self._tail
        t = ends[i][0] if i < len(ends) else math.inf
        if tail and tail[0][0] < t:
            t = tail[0][0]
        return t

    def _step_at(self, t: float) -> int:
        """Index of a step starting exactly at ``t`` (inserted if needed); ``t`` <= T[-1]."""
        T = self.T
        i = bisect_left(T, t)
        if i == len(T) or T[i] != t:
            T.insert(i, t)
            self.F.insert(i, self.F[i - 1])
        return i

    def reserve(self, n: int, start: float, end: float) -> None:
        """Take ``n`` processors over ``[start, end)``.  A zero-length job still holds
        its processors for the instant it starts."""
        if end <= start:
            end = math.nextafter(start, math.inf)
        T, F = self.T, self.F
        while T[-1] < start and self._extend():
            pass
        if T[-1] < start:
            T.append(start)
            F.append(F[-1])
        a = self._step_at(start)
        if end > T[-1]:
            F[a:] = [f - n for f in F[a:]]
            heapq.heappush(self._tail, (end, n))
        else:
            b = self._step_at(end)
            F[a:b] = [f - n for f in F[a:b]]

    def release(self, n: int, start: float, end: float) -> None:
        """Give back what ``reserve(n, start, end)`` took."""
        self.reserve(-n, start, end)

    def move(self, n: int, start: float, end: float, to: float, to_end: float) -> None:
        """``release(n, start, end)`` then ``reserve(n, to, to_end)`` for a promise
        moving earlier (``to < start``): the same steps, changed only where the two
        slots do not overlap (a promise usually moves less than its length)."""
        T, F = self.T, self.F
        if end <= start or to_end <= to or end > T[-1] or to_end > T[-1]:
            self.release(n, start, end)
            self.reserve(n, to, to_end)
            return
        step_at = self._step_at
        step_at(start)
        step_at(end)
        step_at(to)
        step_at(to_end)
        a, b = bisect_left(T, to), bisect_left(T, to_end)
        c, d = bisect_left(T, start), bisect_left(T, end)
        if b <= c:  # apart
            F[a:b] = [f - n for f in F[a:b]]
            F[c:d] = [f + n for f in F[c:d]]
        else:  # overlapping: taken before ``start``, given back after ``to_end``
            F[a:c] = [f - n for f in F[a:c]]
            F[b:d] = [f + n for f in F[b:d]]


class NodeProfile:
    """Free resources per node over time, plus cluster-wide licenses.

    A free vector is ``[cpus, mem, gpu_type_0, gpu_type_1, ...]``; the
    ``NodeResources`` that builds the profile translates requests into those terms
    (``needs``) and chooses nodes (``place``).
    """

    def __init__(self, now: float, free: list[list[int]], licenses: dict[str, int],
                 running: Sequence[tuple], resources) -> None:
        """``running``: ``(expected_end, job_id, placement)`` sorted by end, all after now."""
        self.res = resources
        self._generation = resources.generation  #: see ``advance``
        self.T: list[float] = [now]
        self.F: list[list[list[int]]] = [[list(v) for v in free]]
        self.L: list[dict[str, int]] = [dict(licenses)]
        for end, _job_id, placement in running:
            if end == math.inf:
                continue
            if end != self.T[-1]:
                self.T.append(end)
                self.F.append([list(v) for v in self.F[-1]])
                self.L.append(dict(self.L[-1]))
            self._apply(len(self.T) - 1, len(self.T), placement, +1)

    @property
    def now(self) -> float:
        return self.T[0]

    def headroom(self) -> int:
        """Most CPUs one node could give a job starting now (a bound for quick rejects)."""
        return max((v[0] for v in self.F[0]), default=0)

    def advance(self, now: float) -> bool:
        """Move the origin to ``now``; False when the profile is stale: a step lies in
        between, or nodes changed since it was built (a node back up may let jobs that
        did not fit before start now)."""
        if self.res.generation != self._generation:
            return False
        if len(self.T) > 1 and self.T[1] <= now:
            return False
        self.T[0] = now
        return True

    def _apply(self, a: int, b: int, placement, sign: int) -> None:
        per_node, licenses = placement
        for k in range(a, b):
            step = self.F[k]
            for node, vec in per_node:
                free = step[node]
                for d, amount in enumerate(vec):
                    free[d] += sign * amount
            lic = self.L[k]
            for name, amount in licenses:
                lic[name] += sign * amount

    def _window_min(self, i: int, end: float) -> tuple[list[list[int]], dict[str, int]]:
        """Elementwise minimum of the free vectors over the steps from ``i`` until ``end``."""
        T, F, L = self.T, self.F, self.L
        mins = [list(v) for v in F[i]]
        lic = dict(L[i])
        j = i + 1
        while j < len(T) and T[j] < end:
            for m, v in zip(mins, F[j]):
                for d in range(len(m)):
                    if v[d] < m[d]:
                        m[d] = v[d]
            for name, amount in L[j].items():
                if amount < lic[name]:
                    lic[name] = amount
            j += 1
        return mins, lic

    def _fits_from(self, job: Job, i: int, duration: float):
        mins, lic = self._window_min(i, self.T[i] + duration)
        return self.res.place(job, mins, lic)

    def fits_now(self, job: Job, duration: float):
        return self._fits_from(job, 0, duration)

    def fits_at(self, job: Job, start: float, duration: float, prefer=None):
        """A placement for ``job`` over ``[start, start + duration)``, or None.

        ``prefer``: a placement to keep if it still fits (its nodes are up and have room
        throughout).  Re-checking a promise must keep its nodes: placed afresh, first fit
        may take nodes that another promise holds, and that promise then breaks."""
        if start < self.T[0]:
            return None
        i = self._step_at(start)
        if prefer is not None:
            mins, lic = self._window_min(i, start + duration)
            if self._holds(prefer, mins, lic):
                return prefer
        return self._fits_from(job, i, duration)

    def _holds(self, placement, free: list[list[int]], licenses: dict[str, int]) -> bool:
        per_node, wanted = placement
        nodes = self.res.cluster.nodes
        for i, vec in per_node:
            if nodes[i].state is not NodeState.UP:
                return False
            if any(f < n for f, n in zip(free[i], vec)):
                return False
        return all(licenses.get(name, 0) >= n for name, n in wanted)

    def earliest(self, job: Job, duration: float, within=None):
        """As ``PoolProfile.earliest``."""
        if within is not None:
            T = self.T
            for lo, hi in within:
                i = bisect_left(T, lo)
                while i < len(T) and T[i] < hi:
                    placement = self._fits_from(job, i, duration)
                    if placement is not None:
                        return T[i], placement
                    i += 1
            return None
        for i in range(len(self.T)):
            placement = self._fits_from(job, i, duration)
            if placement is not None:
                return self.T[i], placement
        raise Unsatisfiable(f"job {job.id} never fits on the nodes it may use")

    def _step_at(self, t: float) -> int:
        T = self.T
        i = bisect_left(T, t)
        if i == len(T) or T[i] != t:
            T.insert(i, t)
            self.F.insert(i, [list(v) for v in self.F[i - 1]])
            self.L.insert(i, dict(self.L[i - 1]))
        return i

    def reserve(self, placement, start: float, end: float) -> None:
        if end <= start:  # a zero-length job still holds its resources for an instant
            end = math.nextafter(start, math.inf)
        a = self._step_at(start)
        b = self._step_at(end) if end != math.inf else len(self.T)
        self._apply(a, b, placement, -1)

    def release(self, placement, start: float, end: float) -> None:
        if end <= start:
            end = math.nextafter(start, math.inf)
        a = self._step_at(start)
        b = self._step_at(end) if end != math.inf else len(self.T)
        self._apply(a, b, placement, +1)
