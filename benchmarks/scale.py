"""Cluster scale: one scheduling pass of the core on large node-level clusters.

    .venv/bin/python benchmarks/scale.py                        # 500, 1,000 and 2,000 nodes
    .venv/bin/python benchmarks/scale.py --nodes 500 --runs 3
    .venv/bin/python benchmarks/scale.py --full                 # adds 14,000 nodes / 60,000 pending
    .venv/bin/python benchmarks/scale.py --reference            # the per-step profile, for comparison
    .venv/bin/python benchmarks/scale.py --markdown docs/scale-benchmarks.md

The scenario (fixed seed, through the core API only, no I/O): nodes of 64 CPUs and
256 GiB, a tenth of them with 4 ``a100`` GPUs (feature ``gpu``) and a tenth with 1 TiB
(feature ``bigmem``); jobs of 1 to 256 whole nodes (log-uniform), time limits of
10 min to 24 h (log-uniform, planned on the limit), from 40 users of unequal activity;
about one job in twelve asks for GPUs, one in twenty for memory that only ``bigmem``
nodes have, one in twenty for a feature.  The machine is full: running jobs (adopted,
started at random times in the past) hold every node, and about 4.3 pending jobs per
node wait (60,000 on 14,000 nodes).

For each policy (EASY, conservative) and queue order (submit, multifactor with fair
share), after one unmeasured pass, ``--runs`` times:

* **fresh pass**: the running job with the earliest expected end ends at that time,
  and the pass that follows is timed (a fresh walk over the whole queue);
* **incremental pass**: one job arrives at the same instant, and the pass that
  follows is timed (the walk resumes where it stopped).

The table gives the medians.  ``--reference`` plans with the availability profile
that keeps a free vector per node at every step (the walk before the cluster-scale
work), which gives the same schedules, slowly.
"""

from __future__ import annotations

import argparse
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

CPUS, MEM, BIGMEM = 64, 256 * 1024, 1024 * 1024
#: pending jobs per node (60,000 on 14,000 nodes)
PENDING_PER_NODE = 60_000 / 14_000
SIZES = (500, 1_000, 2_000)
FULL = 14_000


def make_cluster(n: int) -> Cluster:
    """``n`` nodes: every tenth has GPUs, every tenth (offset by five) big memory."""
    nodes = []
    for i in range(n):
        if i % 10 == 3:
            nodes.append(Node(f"n{i:05d}", CPUS, mem=MEM, gpus={"a100": 4},
                              features=frozenset({"gpu"})))
        elif i % 10 == 8:
            nodes.append(Node(f"n{i:05d}", CPUS, mem=BIGMEM, features=frozenset({"bigmem"})))
        else:
            nodes.append(Node(f"n{i:05d}", CPUS, mem=MEM, features=frozenset({"cpu"})))
    return Cluster(nodes)


def draw_request(rng: random.Random, n: int) -> Request:
    """Whole nodes, 1 to 256 (at most a quarter of the special nodes for special jobs)."""
    kind = rng.random()
    top = min(256, n)
    if kind < 1 / 12:
        nodes = min(int(2 ** rng.uniform(0, 6)), max(1, n // 40))
        return Request(nodes=nodes, tasks=nodes * CPUS, gpus_per_node=((None, rng.choice([1, 2, 4])),))
    if kind < 1 / 12 + 1 / 20:
        nodes = min(int(2 ** rng.uniform(0, 5)), max(1, n // 40))
        return Request(nodes=nodes, tasks=nodes * CPUS, mem_per_node=512 * 1024)
    nodes = min(int(2 ** rng.uniform(0, math.log2(top) + 1)), top)
    if kind < 1 / 12 + 1 / 10:
        return Request(nodes=nodes, tasks=nodes * CPUS, features=frozenset({"cpu"}),
                       mem_per_node=rng.choice([0, 64 * 1024]))
    return Request(nodes=nodes, tasks=nodes * CPUS)


def draw_limit(rng: random.Random) -> float:
    return round(600 * 144 ** rng.random())  # 10 min .. 24 h


def build(n: int, pending: int, policy: str, order: str, seed: int, reference: bool):
    """The full machine with ``pending`` jobs waiting, at time ``now``; one pass done."""
    rng = random.Random(seed)
    cluster = make_cluster(n)
    s = Scheduler(cluster, policy, order)
    s.resources.reference = reference
    users = [f"user{k:02d}" for k in range(40)]
    weights = [1 / (k + 1) for k in range(40)]
    now = 100_000.0
    job_id = 0
    # Running jobs on consecutive free nodes of the kind they need.
    free = {kind: [i for i in range(n) if i % 10 == r] for kind, r in (("gpu", 3), ("bigmem", 8))}
    free["cpu"] = [i for i in range(n) if i % 10 not in (3, 8)]
    for kind in ("gpu", "bigmem", "cpu"):
        nodes = free[kind]
        while nodes:
            size = min(int(2 ** rng.uniform(0, 8)), len(nodes))
            take, nodes = nodes[:size], nodes[size:]
            job_id += 1
            limit = draw_limit(rng)
            req = Request(nodes=size, tasks=size * CPUS,
                          gpus_per_node=((None, 4),) if kind == "gpu" else ())
            job = Job(job_id, rng.choices(users, weights)[0], now - limit, req, time_limit=limit)
            job.start = now - rng.uniform(0, limit * 0.95)
            job.expected_end = job.start + limit
            s.adopt(job, job.start, [cluster.nodes[i].name for i in take])
    for k in range(pending):
        job_id += 1
        s.submit(Job(job_id, rng.choices(users, weights)[0], now - pending + k,
                     draw_request(rng, n), time_limit=draw_limit(rng)), now)
    s.schedule(now)
    return s, rng, job_id, users, weights


def measure(n: int, pending: int, policy: str, order: str, runs: int, seed: int,
            reference: bool) -> dict:
    began = time.perf_counter()
    s, rng, job_id, users, weights = build(n, pending, policy, order, seed, reference)
    setup = time.perf_counter() - began
    fresh, incremental, starts = [], [], 0
    for _ in range(runs):
        first = min(s.running.values(), key=lambda j: (j.expected_end, j.id))
        now = first.expected_end
        s.end(first.id, now)
        began = time.perf_counter()
        starts += len(s.schedule(now))
        fresh.append(time.perf_counter() - began)
        job_id += 1
        s.submit(Job(job_id, rng.choices(users, weights)[0], now, draw_request(rng, n),
                     time_limit=draw_limit(rng)), now)
        began = time.perf_counter()
        starts += len(s.schedule(now))
        incremental.append(time.perf_counter() - began)
    return {"nodes": n, "pending": len(s.pending()), "policy": policy, "order": order,
            "setup": setup, "fresh": statistics.median(fresh),
            "incremental": statistics.median(incremental), "starts": starts,
            "running": len(s.running)}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", help="comma-separated cluster sizes (default: 500,1000,2000)")
    parser.add_argument("--full", action="store_true", help="add 14,000 nodes / 60,000 pending")
    parser.add_argument("--policies", default="easy,conservative")
    parser.add_argument("--orders", default="submit,multifactor")
    parser.add_argument("--runs", type=int, default=3, help="passes measured per case (median)")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--reference", action="store_true",
                        help="plan with the per-step reference profile (slow)")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    sizes = [int(x) for x in args.nodes.split(",")] if args.nodes else list(SIZES)
    if args.full and FULL not in sizes:
        sizes.append(FULL)
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    orders = [o.strip() for o in args.orders.split(",") if o.strip()]

    console = Console(width=max(Console().width, 120))
    title = (f"One scheduling pass on a full node cluster (median of {args.runs}"
             f"{'; reference profile' if args.reference else ''})")
    table = Table(title=title)
    columns = ("nodes", "pending", "policy", "order", "fresh pass", "incremental pass",
               "starts", "setup")
    for col in columns:
        table.add_column(col, justify="left" if col in ("policy", "order") else "right")
    rows = []
    for n in sizes:
        pending = round(n * PENDING_PER_NODE)
        for policy in policies:
            for order in orders:
                r = measure(n, pending, policy, order, args.runs, args.seed, args.reference)
                row = (f"{n:,}", f"{r['pending']:,}", policy, order, ms(r["fresh"]),
                       ms(r["incremental"]), str(r["starts"]), ms(r["setup"]))
                rows.append(row)
                table.add_row(*row)
                console.print(f"done: {', '.join(row)}", style="dim")
    console.print(table)
    if args.markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(columns) + " |",
                 "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        args.markdown.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
