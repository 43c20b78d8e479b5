"""Sustained job starts of the core on a busy node cluster: what a live controller's
scheduler can start per second of its own time, the rest of the controller aside.

    .venv/bin/python benchmarks/core_starts.py                      # 2,000, 4,000 and 14,000 nodes
    .venv/bin/python benchmarks/core_starts.py --nodes 14000 --jobs 60000 --runs 3

The stream of ``benchmarks/scale_live.py``, through the core API only (no I/O): nodes
of 64 CPUs, nine jobs in ten on one whole node (``--exclusive``), one in ten on 2 to 16,
runtimes log-uniform between 1 s and 2 min, 10-minute limits, EASY in submit order.
Half the jobs are queued at the start, the rest arrive 50 a second; every second of
virtual time the jobs due end and one pass runs.  The time is the scheduler's only
(``end``, ``submit`` and ``schedule``), and the table gives starts per second of it.

``rebuild`` is the same stream with the availability profile built anew at every
fresh pass (the core before it carried its profile from pass to pass), measured in the
same run as the baseline.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kairos.core import Cluster, Job, Node, Request, Scheduler  # noqa: E402

CPUS, MEM = 64, 256 * 1024
SIZES = ((2_000, 8_000), (4_000, 16_000), (14_000, 30_000))
ARRIVALS_PER_SECOND = 50


def stream(nodes: int, jobs: int, *, seed: int, rebuild: bool) -> tuple[int, float]:
    """(jobs started, seconds of scheduler time) for one replay of the stream."""
    rng = random.Random(seed)
    cluster = Cluster([Node(f"n{i:05d}", CPUS, mem=MEM) for i in range(nodes)])
    s = Scheduler(cluster, "easy", "submit")
    runtimes: dict[int, float] = {}
    busy = 0.0
    next_id = 0

    def submit(now: float) -> None:
        nonlocal next_id
        next_id += 1
        width = int(2 ** rng.uniform(1, 4.01)) if rng.random() < 0.1 else 1
        runtimes[next_id] = math.exp(rng.uniform(0, math.log(120)))
        s.submit(Job(next_id, "user", now, Request(nodes=width, tasks=width, exclusive=True),
                     time_limit=600), now)

    now = 1_000.0
    began = time.perf_counter()
    for _ in range(jobs // 2):
        submit(now)
    busy += time.perf_counter() - began
    ends: list[tuple[float, int]] = []
    started = 0
    while started < jobs:
        began = time.perf_counter()
        while ends and ends[0][0] <= now:
            end, job_id = heapq.heappop(ends)
            s.end(job_id, end)
        for _ in range(min(ARRIVALS_PER_SECOND, jobs - next_id)):
            submit(now)
        if rebuild:
            s._rebuild = True  # noqa: SLF001 - the baseline: a profile built at every pass
        actions = s.schedule(now)
        busy += time.perf_counter() - began
        for action in actions:
            heapq.heappush(ends, (now + runtimes[action.job_id], action.job_id))
        started += len(actions)
        now += 1.0
    return started, busy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, help="one cluster size (default: three)")
    parser.add_argument("--jobs", type=int, help="jobs of the stream (with --nodes)")
    parser.add_argument("--runs", type=int, default=1, help="replays per case (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="skip the rebuild rows")
    args = parser.parse_args()
    sizes = [(args.nodes, args.jobs or 4 * args.nodes)] if args.nodes else list(SIZES)
    console = Console()
    table = Table(title=f"Core starts per second of scheduler time (EASY, median of {args.runs})")
    for col in ("nodes", "jobs", "carried profile", "rebuilt every pass", "ratio"):
        table.add_column(col, justify="right")
    for nodes, jobs in sizes:
        rates = {}
        for rebuild in ([False] if args.no_baseline else [False, True]):
            runs = [stream(nodes, jobs, seed=args.seed, rebuild=rebuild) for _ in range(args.runs)]
            rates[rebuild] = statistics.median(started / busy for started, busy in runs)
            console.print(f"  {nodes:,} nodes, {'rebuilt' if rebuild else 'carried'}: "
                          f"{rates[rebuild]:,.0f} starts/s", style="dim")
        base = rates.get(True)
        table.add_row(f"{nodes:,}", f"{jobs:,}", f"{rates[False]:,.0f}/s",
                      f"{base:,.0f}/s" if base else "-",
                      f"{rates[False] / base:.1f}x" if base else "-")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
