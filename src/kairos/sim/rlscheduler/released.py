"""The scheduling rules of RLScheduler's released simulator, re-implemented as a reference.

This is not Kairos's scheduler: it is a small stand-alone replay that follows the rules
of the authors' released simulator on the protocol's sequences, so that a difference
with the published figures can be traced to the scheduler or to the sequences.
``RELEASED_VARIANTS`` changes those rules one at a time towards Kairos's EASY.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from kairos.sim.metrics import bounded_slowdown
from kairos.sim.rlscheduler.sequences import SEQUENCE_LENGTH, Pool


def _f1_released(request: float, procs: int, submit: float) -> float:
    # The released code's F1: a non-positive value counts as 0.1.
    r = request if request > 0 else 0.1
    s = submit if submit > 0 else 0.1
    return math.log10(r) * procs + 870.0 * math.log10(s)


def released_rules_bsld(pool: Pool, start: int, score: str, *, length: int = SEQUENCE_LENGTH,
                        easy_backfill: bool = False, keep_head: bool = True) -> float:
    """Average bounded slowdown of one sequence under the rules of the authors' released
    simulator, re-implemented here as a reference (it is not Kairos's scheduler).

    * The queue is sorted by ``score`` ("fcfs": submit time; "sjf": requested time, then
      submit time; "f1": F1 on the trace's own clock, with the requested time as given,
      even when shorter than the runtime); the first job is chosen and kept until it
      starts, even if a better job arrives meanwhile.
    * While it does not fit: its shadow time is the requested end (start + requested
      time) of the running job, in order of requested ends, at which enough processors
      would be free, computed once for the chosen job; the queue is walked in submit
      order and every job that fits now and whose requested time ends strictly before
      the shadow time starts (no "extra processors" rule); then the clock moves to the
      next arrival or real end, one event at a time.
    * Requested time = field 9 when > 0, else the runtime (never raised to the runtime).

    Two switches measure what the rules cost, one step closer to Kairos's EASY each:
    ``easy_backfill`` recomputes the shadow time at every event (an overdue job is
    expected to end now) and also starts a job that ends after it on processors the
    chosen job will not need (EASY's "extra" processors); ``keep_head=False`` re-sorts the
    queue and chooses the first job again at every event.
    """
    sl = slice(start, start + length)
    sub = pool.rows[sl, 1].tolist()
    run = pool.runtime[sl].tolist()
    req = np.where(pool.rows[sl, 8] > 0, pool.rows[sl, 8], pool.runtime[sl]).tolist()
    width = pool.procs[sl].tolist()
    keys: dict[str, Callable[[int], object]] = {
        "fcfs": lambda i: sub[i],
        "sjf": lambda i: (req[i], sub[i]),
        "f1": lambda i: _f1_released(req[i], width[i], sub[i]),
    }
    key = keys[score]
    n = len(sub)
    began: list[float] = [math.nan] * n
    queue = [0]
    running: list[int] = []
    now, nxt, free = sub[0], 1, pool.machine

    def launch(i: int) -> None:
        nonlocal free
        began[i] = now
        free -= width[i]
        running.append(i)
        queue.remove(i)

    def advance() -> None:
        """Move to the next arrival or real end, whichever comes first."""
        nonlocal now, nxt, free
        first = min(running, key=lambda i: began[i] + run[i]) if running else None
        end = began[first] + run[first] if first is not None else math.inf
        if nxt < n and sub[nxt] <= end:
            now = max(now, sub[nxt])
            queue.append(nxt)
            nxt += 1
        else:
            now = max(now, end)
            free += width[first]
            running.remove(first)

    def shadow_of(head: int) -> tuple[float, int]:
        """(shadow time, processors the head leaves spare then)."""
        def expected_end(i: int) -> float:
            end = began[i] + req[i]
            return max(end, now) if easy_backfill else end
        avail, shadow = free, now
        for i in sorted(running, key=expected_end):
            avail += width[i]
            shadow = expected_end(i)
            if avail >= width[head]:
                break
        return shadow, avail - width[head]

    while True:
        queue.sort(key=key)
        head = queue[0]
        if width[head] > free:
            shadow, extra = shadow_of(head)
            while width[head] > free:
                if easy_backfill:
                    shadow, extra = shadow_of(head)
                queue.sort(key=lambda i: sub[i])
                for j in queue[:]:
                    if j == head or width[j] > free:
                        continue
                    if now + req[j] < shadow:
                        launch(j)
                    elif easy_backfill and width[j] <= extra:
                        extra -= width[j]
                        launch(j)
                advance()
                if not keep_head:
                    queue.sort(key=key)
                    head = queue[0]
        launch(head)
        if queue:
            continue
        if nxt >= n:
            break
        while not queue:
            advance()
    wait = np.array(began) - np.array(sub)
    return float(bounded_slowdown(wait, np.array(run)).mean())


#: Variants of the released rules: name -> ``released_rules_bsld`` switches.  The first is
#: the released simulator itself; each next one moves one step towards Kairos's EASY.
RELEASED_VARIANTS: dict[str, dict] = {
    "released": {},
    "+EASY backfill": {"easy_backfill": True},
    "+re-chosen head": {"easy_backfill": True, "keep_head": False},
}
