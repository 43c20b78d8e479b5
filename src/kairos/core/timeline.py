"""Availability of a node cluster over time, kept per node (``TimelineProfile``).

``NodeProfile`` (``kairos.core.profile``) holds a free vector for every node at every
step, so building it and asking it anything costs nodes x steps: on thousands of
nodes a pass grows with pending jobs times nodes.  This profile answers the same
questions with the same answers (a property test compares the two), cheaply:

* Each node keeps only its own changes: a timeline ``(v0, t1, v1, t2, v2, ...)``, free
  vector ``v0`` from the origin until ``t1``, and so on (``kairos.core.node_timeline``).
  Most nodes change once or twice, so building is linear in nodes plus running jobs.
* Nodes with the same timeline and the same static kind (capacity, features,
  partitions, state) form a class; a question about a request shape is answered once
  per class, not once per node.  A full cluster of thousands of nodes has a few hundred
  classes.
* ``count`` bounds from below what a placement needs: a request of ``k`` nodes cannot
  fit unless ``k`` usable nodes qualify throughout the window (a spread request: unless
  the nodes have room for all its tasks throughout).  Only when enough do is
  the exact placement made, by ``NodeResources.place`` itself on the window's minima
  of the nodes it looks at (computed on demand), so the chosen nodes and shares are
  the reference's.
* Within one state of the profile, a request that did not fit now for ``d`` seconds
  does not fit for longer either (a wider window has smaller minima): it is
  remembered, so a long queue of alike jobs costs one answer each.

The global step times ``T`` are kept exactly as ``NodeProfile`` keeps them, so
``advance`` says "stale" at the same moments and the walk resumes or restarts alike (a
carried profile drops the steps where nothing changes any more: ``prune``).

Size: about 650 lines because the timelines, the node classes over them and what is
kept over both (the caches, the rooms at the origin, the free CPUs counted there, the
heap of first changes, the change times) change together in ``_change`` and
``rebase``; split, each half would reach into the other's state.  ``RoomNow``
(``kairos.core.room``) and what is asked of one timeline (``kairos.core.node_timeline``)
stand alone.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_left, bisect_right
from heapq import heappop, heappush

from kairos.core.cluster import NodeState
from kairos.core.jobs import Job
from kairos.core.node_timeline import (
    as_timeline, first_changes, flatten, nested_spans, plus, remark, runs, shifted, window_min)
from kairos.core.profile import NodeProfile, Unsatisfiable
from kairos.core.room import RoomNow
from kairos.core.spread import task_room

_INF = math.inf
_UP = NodeState.UP


class _Window:
    """The free vectors of every node, as minima over ``[t, t + d)``, computed when asked
    (``NodeResources.place`` looks at a few nodes only)."""

    __slots__ = ("tl", "t", "end")

    def __init__(self, timelines: list[tuple], t: float, d: float) -> None:
        self.tl, self.t, self.end = timelines, t, t + d

    def __getitem__(self, i: int) -> list[int]:
        return window_min(self.tl[i], self.t, self.end)


class TimelineProfile:
    """Free resources per node over time, plus cluster-wide licenses: the interface
    and answers of ``NodeProfile`` (see the module docstring)."""

    def __init__(self, now: float, free: list[list[int]], licenses: dict[str, int],
                 running, resources) -> None:
        self.res = resources
        self._generation = resources.generation
        self.T: list[float] = [now]
        nodes = resources.cluster.nodes
        changes: dict[int, list] = {}
        self._with_licenses = bool(licenses)
        self.L: list[dict[str, int]] | None = [dict(licenses)] if self._with_licenses else None
        for end, _job_id, placement in running:
            if end == _INF:
                continue
            if end != self.T[-1]:
                self.T.append(end)
                if self.L is not None:
                    self.L.append(dict(self.L[-1]))
            per_node, lic = placement
            for node, vec in per_node:
                changes.setdefault(node, []).append((end, vec))
            if lic and self.L is not None:
                step = self.L[-1]
                for name, amount in lic:
                    step[name] += amount
        timelines = []
        for i, v in enumerate(free):
            on_node = changes.get(i)
            if on_node is None:
                timelines.append((tuple(v),))
                continue
            cur = tuple(v)
            times, vecs = [-_INF], [cur]
            for end, vec in on_node:
                cur = plus(cur, vec)
                if times[-1] == end:
                    vecs[-1] = cur
                else:
                    times.append(end)
                    vecs.append(cur)
            timelines.append(flatten(times, vecs))
        self.tl = timelines
        # Static kinds: what makes two nodes interchangeable apart from their order.
        kinds: dict[tuple, int] = {}
        self._kind_of: list[int] = []
        self._kinds: list[tuple] = []  # (capacity, node, its index) of each kind
        parts = resources.cluster.partitions
        for i, node in enumerate(nodes):
            key = (tuple(resources.capacity[i]), node.features, node.state,
                   tuple(p.nodes is None or node.name in p.nodes for p in parts))
            k = kinds.get(key)
            if k is None:
                k = kinds[key] = len(self._kinds)
                self._kinds.append((tuple(resources.capacity[i]), node, i))
            self._kind_of.append(k)
        #: (kind, timeline) -> node indices
        self._classes: dict[tuple, set[int]] = {}
        for i, tl in enumerate(timelines):
            self._classes.setdefault((self._kind_of[i], tl), set()).add(i)
        #: (partition, features, any features) -> whether each kind of node may serve
        self._eligible: dict[tuple, list[bool]] = {}
        #: request shape -> (kind, timeline) -> spans (``_class_spans``)
        self._good: dict[tuple, dict] = {}
        self._version = 0
        #: (first change, node) of nodes whose timeline changes: ``rebase`` forgets the
        #: past of those whose first change has come, not of every node
        self._due = first_changes(timelines)
        #: time -> how many timelines change then: a step no timeline (nor the licenses)
        #: changes at is one a profile built anew would not have (``prune``; counted
        #: from its first call on, as only a carried profile asks)
        self._marks: dict[float, int] | None = None
        #: free CPUs at the origin: nodes per count, and each node's (``headroom``)
        self._cpus_now: dict[int, int] | None = None
        self._cpus_of: list[int] = []
        self._cache_at: tuple = (0, now)
        #: request shape -> the nodes with room for it at ``_rooms_at`` (the origin)
        self._rooms: dict[tuple, RoomNow] = {}
        self._rooms_at = now
        #: nodes changed since the rooms were made, in order: a room catches up when asked
        self._touched: list[int] = []
        self._failed: dict[tuple, float] = {}

    # ----------------------------------------------------------------- the interface

    @property
    def now(self) -> float:
        return self.T[0]

    def headroom(self) -> int:
        """Most CPUs one node could give a job starting now (a bound for quick rejects).
        Kept as a count of nodes per free CPU count at the origin, updated with the nodes
        each change touches (a walk asks after every start)."""
        counts = self._cpus_now
        if counts is None:
            t = self.T[0]
            counts = self._cpus_now = {}
            of = self._cpus_of = []
            for tl in self.tl:
                cpus = window_min(tl, t, t)[0] if len(tl) > 1 else tl[0][0]
                of.append(cpus)
                counts[cpus] = counts.get(cpus, 0) + 1
        return max(counts, default=0)

    def _recount(self, n: int) -> None:
        """Node ``n``'s timeline or the origin changed: its free CPUs now, counted again."""
        counts = self._cpus_now
        if counts is None:
            return
        t, tl = self.T[0], self.tl[n]
        cpus = window_min(tl, t, t)[0] if len(tl) > 1 else tl[0][0]
        old = self._cpus_of[n]
        if cpus != old:
            self._cpus_of[n] = cpus
            left = counts[old] - 1
            if left:
                counts[old] = left
            else:
                del counts[old]
            counts[cpus] = counts.get(cpus, 0) + 1

    #: the same steps ``T`` and generation as ``NodeProfile``: stale at the same moments
    advance = NodeProfile.advance

    def fits_now(self, job: Job, duration: float):
        self._fresh_caches()
        req = job.request
        key = (job.partition, req)
        failed = self._failed.get(key)
        if failed is not None and duration >= failed:
            return None
        t = self.T[0]
        placement = None
        if self._count_now(job, duration) >= _needed(req):
            placement = self.res.place(job, _Window(self.tl, t, duration), self._licenses(0, t + duration),
                                       among=self._roomy_now(job, duration))
        if placement is None and (failed is None or duration < failed):
            self._failed[key] = duration
        return placement

    def fits_at(self, job: Job, start: float, duration: float, prefer=None):
        """As ``NodeProfile.fits_at`` (``prefer``: a placement to keep if it still fits)."""
        if start < self.T[0]:
            return None
        i = self._step_at(start)
        end = start + duration
        if prefer is not None and self._holds(prefer, start, end, i):
            return prefer
        return self.res.place(job, _Window(self.tl, start, duration), self._licenses(i, end))

    def earliest(self, job: Job, duration: float, within=None):
        """As ``PoolProfile.earliest`` (``within``: only start times in those ranges).

        The sweep counts, at each step, what the candidate nodes could hold throughout
        the window (``_intervals``): nodes, or a spread request's tasks; only where that
        reaches what the request needs is a placement tried."""
        req = job.request
        need = req.tasks if req.spread else _needed(req)
        intervals = self._intervals(job, duration)
        intervals.sort()
        T = list(self.T)
        ranges = iter(within) if within is not None else None
        lo, hi = -_INF, _INF
        if ranges is not None:
            lo, hi = next(ranges, (_INF, _INF))
        # Finite intervals begun, as a heap of (end, nodes): one that ends before a
        # window ends never counts again, since windows only end later as t grows.
        active: list[tuple[float, int]] = []
        counted = 0  # nodes in ``active``
        forever = 0
        p = 0
        n_intervals = len(intervals)
        for i, t in enumerate(T):
            if ranges is not None:
                while t >= hi:
                    lo, hi = next(ranges, (_INF, _INF))
                if lo == _INF:
                    return None
            while p < n_intervals and intervals[p][0] <= t:
                _, b, n = intervals[p]
                p += 1
                if b == _INF:
                    forever += n
                else:
                    heappush(active, (b, n))
                    counted += n
            end = t + duration
            # A window of no length still needs the interval to go on after t.
            least = end if end > t else math.nextafter(t, _INF)
            while active and active[0][0] < least:
                counted -= heappop(active)[1]
            if forever + counted < need or t < lo:
                continue
            placement = self.res.place(job, _Window(self.tl, t, duration),
                                       self._licenses(i, t + duration),
                                       among=self._roomy(job, t, duration))
            if placement is not None:
                return t, placement
        if ranges is not None:
            return None
        raise Unsatisfiable(f"job {job.id} never fits on the nodes it may use")

    def _cached_spans(self) -> int:
        return sum(map(len, self._good.values()))

    def adopt_caches(self, old) -> None:
        """Answer from ``old``'s caches of spans per timeline: a profile built anew at
        each pass (a small cluster) finds most nodes' timelines as they were."""
        if (type(old) is TimelineProfile and old.res is self.res
                and old._generation == self._generation
                and old._cached_spans() <= 4 * len(self.tl) + 4096):
            self._good, self._eligible = old._good, old._eligible

    def fork(self, resources) -> TimelineProfile:
        """A copy that changes apart from this one, planning with ``resources`` (a
        forecast's copy of the scheduler carries it on instead of building anew).
        Timelines are tuples and shared; what changes is copied; the rooms are left
        behind (they are made again when asked)."""
        new = copy.copy(self)
        new.res, new._generation = resources, resources.generation
        new.T, new.tl = list(self.T), list(self.tl)
        new.L = None if self.L is None else [dict(step) for step in self.L]
        new._classes = {key: set(members) for key, members in self._classes.items()}
        new._eligible = dict(self._eligible)
        new._good = {shape: dict(cache) for shape, cache in self._good.items()}
        new._due, new._cpus_of = list(self._due), list(self._cpus_of)
        new._marks = None if self._marks is None else dict(self._marks)
        new._cpus_now = None if self._cpus_now is None else dict(self._cpus_now)
        new._rooms, new._touched, new._failed = {}, [], {}
        return new

    def rebase(self, now: float, patches) -> bool:
        """As ``PoolProfile.rebase``: on to ``now``, with ``patches`` ``(placement,
        start, end, sign)`` applied; False if the nodes changed since the profile was
        built or a late job now overlaps a reservation (then rebuild)."""
        if self.res.generation != self._generation:
            return False
        if self._cached_spans() > 4 * len(self.tl) + 4096:
            self._good.clear()  # spans of timelines long gone: a profile carried for hours
        T = self.T
        k = bisect_right(T, now) - 1
        if k > 0 or T[0] != now:
            if self.L is not None:
                self.L[: k + 1] = [self.L[k]]
            T[: k + 1] = [now]
            # Forget each node's past, so that nodes alike from now on share a class:
            # the nodes whose first change has come, from a heap of first changes
            # (entries left by later changes are skipped).
            classes, kind_of, tls, due = self._classes, self._kind_of, self.tl, self._due
            while due and due[0][0] <= now:
                first, n = heappop(due)
                tl = tls[n]
                if len(tl) == 1 or tl[1] != first:
                    continue
                j = 1
                while j + 2 < len(tl) and tl[j + 2] <= now:
                    j += 2
                new = as_timeline(tl[j + 1:])
                tls[n] = new
                if self._marks is not None:
                    remark(self._marks, tl[1:j + 1:2], ())
                if len(new) > 1:
                    heappush(due, (new[1], n))
                members = classes[(kind_of[n], tl)]
                members.discard(n)
                if not members:
                    del classes[(kind_of[n], tl)]
                classes.setdefault((kind_of[n], new), set()).add(n)
                self._recount(n)
            if len(due) > 2 * len(tls) + 1024:
                self._due = first_changes(tls)
        taken = []
        for placement, a, b, sign in patches:
            if a < now:
                a = now
            if b > a:
                self._change(placement, a, b, sign)
                if sign < 0:
                    taken.append(placement)
        self._version += 1
        for per_node, licenses in taken:
            for n, _vec in per_node:
                tl = self.tl[n]
                if any(x < 0 for j in range(0, len(tl), 2) for x in tl[j]):
                    return False
            if licenses and any(v < 0 for step in self.L for v in step.values()):
                return False
        return True

    def prune(self) -> None:
        """Drop the steps where nothing changes any more (taken-out reservations, moved
        promises' old slots, ends that came early): a profile built anew has none, and
        one left there would make ``advance`` (or, on nodes, the conservative walk's
        resume) call the walk stale, and give a search a start time of its own."""
        T, L, marks = self.T, self.L, self._marks
        if marks is None:
            marks = self._marks = {}
            for tl in self.tl:
                for t in tl[1::2]:
                    marks[t] = marks.get(t, 0) + 1
        if len(T) - 1 == len(marks):  # every step past the origin is a change
            return
        keep = [i for i in range(1, len(T))
                if T[i] in marks or (L is not None and L[i] != L[i - 1])]
        if len(keep) < len(T) - 1:
            if L is not None:
                L[1:] = [L[i] for i in keep]
            T[1:] = [T[i] for i in keep]

    def reserve(self, placement, start: float, end: float) -> None:
        self._change(placement, start, end, -1)

    def release(self, placement, start: float, end: float) -> None:
        self._change(placement, start, end, +1)

    # ----------------------------------------------------------------- internals

    def _fresh_caches(self) -> None:
        at = (self._version, self.T[0])
        if self._cache_at != at:
            self._cache_at = at
            self._failed.clear()

    def _step_at(self, t: float) -> int:
        T = self.T
        i = bisect_left(T, t)
        if i == len(T) or T[i] != t:
            T.insert(i, t)
            if self.L is not None:
                self.L.insert(i, dict(self.L[i - 1]))
        return i

    def _licenses(self, i: int, end: float) -> dict[str, int]:
        """Cluster-wide licenses free throughout the steps from ``i`` until ``end``."""
        if self.L is None:
            return {}
        T, L = self.T, self.L
        lic = dict(L[i])
        j = i + 1
        while j < len(T) and T[j] < end:
            for name, amount in L[j].items():
                if amount < lic[name]:
                    lic[name] = amount
            j += 1
        return lic

    def _holds(self, placement, start: float, end: float, i: int) -> bool:
        per_node, wanted = placement
        nodes = self.res.cluster.nodes
        for n, vec in per_node:
            if nodes[n].state is not _UP:
                return False
            free = window_min(self.tl[n], start, end)
            if any(f < v for f, v in zip(free, vec)):
                return False
        licenses = self._licenses(i, end)
        return all(licenses.get(name, 0) >= n for name, n in wanted)

    def _change(self, placement, start: float, end: float, sign: int) -> None:
        if end <= start:  # a zero-length job still holds its resources for an instant
            end = math.nextafter(start, _INF)
        a = self._step_at(start)
        b = self._step_at(end) if end != _INF else len(self.T)
        per_node, licenses = placement
        if licenses and self.L is not None:
            for k in range(a, b):
                step = self.L[k]
                for name, amount in licenses:
                    step[name] += sign * amount
        origin = self.T[0]
        lo = -_INF if start <= origin else start
        classes, kind_of, marks = self._classes, self._kind_of, self._marks
        for n, vec in per_node:
            old = self.tl[n]
            new = shifted(old, lo, end, vec, sign)
            self.tl[n] = new
            if marks is not None:
                remark(marks, old[1::2], new[1::2])
            kind = kind_of[n]
            members = classes[(kind, old)]
            members.discard(n)
            if not members:
                del classes[(kind, old)]
            classes.setdefault((kind, new), set()).add(n)
            if len(new) > 1 and (len(old) == 1 or new[1] != old[1]):
                heappush(self._due, (new[1], n))
            self._recount(n)
        if self._rooms:
            if self._rooms_at != origin:
                self._rooms.clear()
                self._touched.clear()
            else:  # each room looks at these nodes again when next asked
                self._touched.extend(n for n, _vec in per_node)
        self._version += 1

    def _eligible_kind(self, kind: int, job: Job) -> bool:
        """Whether nodes of ``kind`` are among ``job``'s candidates (``-w``/``-x``
        aside: a bound counts every node they might add or remove)."""
        return self._eligible_kinds(job)[kind]

    def _eligible_kinds(self, job: Job) -> list[bool]:
        """``_eligible_kind`` of every kind, by kind."""
        req = job.request
        key = (job.partition, req.features, req.any_features)
        oks = self._eligible.get(key)
        if oks is None:
            part = self.res.cluster.partition(job.partition)
            oks = self._eligible[key] = [
                node.state is _UP and (part.nodes is None or node.name in part.nodes)
                and req.features <= node.features
                and (not req.any_features or not req.any_features.isdisjoint(node.features))
                for _, node, _ in self._kinds]
        return oks

    def _spans_cache(self, shape: tuple) -> dict:
        """Spans per class (``(kind, timeline)``) already found for a request shape."""
        cache = self._good.get(shape)
        if cache is None:
            cache = self._good[shape] = {}
        return cache

    def _good_intervals(self, kind: int, tl: tuple, job: Job) -> tuple:
        """The maximal ``(a, b, 1)`` spans of a timeline where one node could hold one
        share of ``job`` (``a`` = -inf: from the origin)."""
        cache = self._spans_cache(_shape(job.request))
        good = cache.get((kind, tl))
        if good is None:
            good = cache[(kind, tl)] = self._find_good(kind, tl, job.request)
        return good

    def _find_good(self, kind: int, tl: tuple, req) -> tuple:
        capacity = self._kinds[kind][0]
        res = self.res
        cpn, mem, gpus = req.cpus_per_node, req.mem_per_node, req.gpus_per_node
        if req.exclusive and not (capacity[0] >= cpn and capacity[1] >= mem
                                  and res.gpu_share(capacity, gpus) is not None):
            return ()
        vecs = tl[0::2]
        if req.exclusive:
            oks = [v == capacity for v in vecs]
        elif gpus:
            # The GPU test once per distinct free vector: a long timeline has few.
            gpu_share = res.gpu_share
            ok_of = {v: v[0] >= cpn and v[1] >= mem and gpu_share(v, gpus) is not None
                     for v in set(vecs)}
            oks = [ok_of[v] for v in vecs]
        else:
            oks = [v[0] >= cpn and v[1] >= mem for v in vecs]
        return runs((-_INF, *tl[1::2]), oks)

    def _find_task_spans(self, kind: int, tl: tuple, req) -> tuple:
        """``(a, b, tasks)``: a spread request's tasks that one node of a timeline has
        room for, as nested spans whose sum over those holding a window is the least
        room of the steps it touches (a bound: ``place`` counts the room of the window's
        minima, never more)."""
        res, i = self.res, self._kinds[kind][2]
        rooms = [task_room(res, req, i, list(v)) for v in tl[0::2]]
        return nested_spans((-_INF, *tl[1::2]), rooms)

    def _class_spans(self, job: Job, tasks: bool = False):
        """``(members, spans)`` of every class of candidate nodes: where one of its
        nodes could hold a share of ``job`` (``_find_good``), or with ``tasks`` how
        many of a spread ``job``'s tasks (``_find_task_spans``); cached per shape."""
        req = job.request
        oks = self._eligible_kinds(job)
        cache = self._spans_cache(_task_shape(req) if tasks else _shape(req))
        find = self._find_task_spans if tasks else self._find_good
        for key, members in self._classes.items():
            if oks[key[0]]:
                spans = cache.get(key)
                if spans is None:
                    spans = cache[key] = find(key[0], key[1], req)
                yield members, spans

    def _intervals(self, job: Job, duration: float) -> list[tuple[float, float, int]]:
        """``(a, b, count)``: for every class of candidate nodes, the spans where one
        of its nodes could hold a share of ``job`` (count: the class's nodes), or a
        spread ``job``'s tasks (count: its nodes times the tasks).  Spans shorter than
        ``duration`` are left out: no window of that length fits in them (under
        conservative backfilling most spans are the gaps between promises)."""
        out = []
        append = out.append
        for members, spans in self._class_spans(job, job.request.spread):
            n = len(members)
            for a, b, height in spans:
                if a + duration <= b:  # as the window's end is computed, not b - a
                    append((a, b, n * height))
        return out

    def _roomy(self, job: Job, t: float, duration: float) -> list[int] | None:
        """The candidate nodes that could hold a share of a request (of a spread one:
        a task; without ``-w`` or ``-x``) throughout ``[t, t + duration)``, in cluster
        order: the only ones ``place`` would take.  None (look at all) for other
        requests, or when most nodes qualify and sorting them costs more than looking."""
        req = job.request
        if req.nodelist or req.exclude:
            return None
        end = t + duration if duration > 0 else math.nextafter(t, _INF)
        roomy: list[int] = []
        last_begun = (t, _INF, _INF)  # sorts after every span (a, b, 1) with a <= t
        for members, spans in self._class_spans(job):
            # Runs of room (``runs``), apart and in order: only the last one begun by
            # t can hold the window.
            k = bisect_right(spans, last_begun) - 1
            if k >= 0 and spans[k][1] >= end:
                roomy.extend(members)
        if 2 * len(roomy) > len(self.tl):
            return None
        roomy.sort()
        return roomy

    def _count_now(self, job: Job, duration: float) -> int:
        """How many candidate nodes could hold a share of ``job`` from now for
        ``duration`` (a bound: a placement needs at least ``_needed`` of them)."""
        return self._room(job).count(self.T[0] + duration)

    def _roomy_now(self, job: Job, duration: float):
        """``_roomy`` at the origin (an iterable in cluster order), kept up to date from
        start to start instead of gathered from every class (``kairos.core.room``)."""
        req = job.request
        if req.nodelist or req.exclude:
            return None
        return self._room(job).nodes(self.T[0] + duration)

    def _room(self, job: Job) -> RoomNow:
        t = self.T[0]
        if self._rooms_at != t:
            self._rooms.clear()
            self._touched.clear()
            self._rooms_at = t
        req = job.request
        key = (job.partition, req.features, req.any_features, req.exclusive,
               req.cpus_per_node, req.mem_per_node, req.gpus_per_node)
        room = self._rooms.get(key)
        touched = self._touched
        if room is not None and room.seen < len(touched):
            for n in touched[room.seen:]:
                room.update(n)
            room.seen = len(touched)
        if room is None:
            # ``job`` stands for its shape: only the fields in ``key`` are read.
            eligible, good = self._eligible_kind, self._good_intervals
            kind_of, tls = self._kind_of, self.tl

            def room_end(kind: int, tl: tuple) -> float | None:
                if eligible(kind, job):
                    for a, b, _ in good(kind, tl, job):
                        if a <= t < b:
                            return b
                return None

            groups = []
            for (kind, tl), members in self._classes.items():
                b = room_end(kind, tl)
                if b is not None:
                    groups.append((b, members))
            room = self._rooms[key] = RoomNow(lambda n: room_end(kind_of[n], tls[n]), groups)
            room.seen = len(touched)
        return room


def _shape(req) -> tuple:
    """What decides whether one node could hold one share of ``req``."""
    return (req.exclusive, req.cpus_per_node, req.mem_per_node, req.gpus_per_node)


def _task_shape(req) -> tuple:
    """What decides how many of a spread ``req``'s tasks one node has room for."""
    return ("tasks", req.exclusive, req.cpus_per_task, req.mem_per_node, req.mem_per_cpu,
            req.gpus_per_node)


def _needed(req) -> int:
    """The fewest nodes a placement of ``req`` holds."""
    return max(req.nodes, len(req.nodelist)) if req.spread else req.nodes


__all__ = ["TimelineProfile"]
