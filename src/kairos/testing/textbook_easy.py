"""A textbook EASY replay (shadow time and extra processors), written independently of
``kairos.core`` so that the core's general profile-based backfill can be checked against
the classic formulation on the same workloads.

``stop_at_first_end=True`` reproduces a common shortcut: the shadow-time walk stops at
the first job whose end frees enough processors and ignores other jobs ending at that
very instant, which undercounts the spare processors.  Published replays with that
shortcut give slightly different averages (see docs/validation.md).
"""

from __future__ import annotations

import heapq


def textbook_easy(jobs, procs, *, stop_at_first_end=False):
    """``jobs``: (id, submit, procs, runtime, estimate) sorted by submit.  Returns
    {job id: start time}."""
    free = procs
    queue: list[tuple] = []
    running: list[tuple] = []  # (actual end, id, procs, expected end)
    start: dict[int, float] = {}

    def launch(job, now):
        nonlocal free
        free -= job[2]
        start[job[0]] = now
        heapq.heappush(running, (now + job[3], job[0], job[2], now + job[4]))

    def schedule(now):
        while queue and queue[0][2] <= free:
            launch(queue.pop(0), now)
        if not queue:
            return
        head = queue[0]
        ends = sorted((r[3], r[2]) for r in running)
        avail, shadow, k = free, None, 0
        while k < len(ends):
            t = ends[k][0]
            avail += ends[k][1]
            k += 1
            if not stop_at_first_end:
                while k < len(ends) and ends[k][0] == t:
                    avail += ends[k][1]
                    k += 1
            if avail >= head[2]:
                shadow = t
                break
        extra = avail - head[2]
        rest = []
        for job in queue[1:]:
            short = now + job[4] <= shadow
            if job[2] <= free and (short or job[2] <= extra):
                if not short:
                    extra -= job[2]
                launch(job, now)
            else:
                rest.append(job)
        queue[1:] = rest

    i, n = 0, len(jobs)
    inf = float("inf")
    while i < n or running:
        t = min(jobs[i][1] if i < n else inf, running[0][0] if running else inf)
        while running and running[0][0] == t:
            free += heapq.heappop(running)[2]
        while i < n and jobs[i][1] == t:
            queue.append(jobs[i])
            i += 1
        schedule(t)
    return start
