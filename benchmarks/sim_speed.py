"""Digital-twin replay speed: jobs simulated per second, per trace and policy.

    python benchmarks/sim_speed.py                 # every trace in $KAIROS_TRACES (or ../shared/traces)
    python benchmarks/sim_speed.py --runs 5 --policies easy --traces HPC2N,SDSC-BLUE
    python benchmarks/sim_speed.py --synthetic-only

For each trace: the median replay time over ``--runs`` runs (trace parsing is timed
separately and excluded), and - as a baseline measured in the same run on the same
jobs - a plain single-purpose Python EASY replay (``kairos.testing.textbook_easy``),
so the ratio says what the general core costs or saves.  A synthetic Lublin-Feitelson
workload of 1,000,000 jobs on a 100,000-processor machine is replayed under EASY once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kairos.sim.replay import replay  # noqa: E402
from kairos.sim.workload import find_traces, load_trace, lublin, on_nodes  # noqa: E402
from kairos.testing.textbook_easy import textbook_easy  # noqa: E402


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def reference_conservative(workload):
    """A scheduler that rebuilds its profile and searches every promise at every pass."""
    from kairos.core import Cluster, Scheduler
    from kairos.core.policy import make_policy

    s = Scheduler(Cluster.pool(workload.procs), make_policy("conservative"))
    s.policy.reference = True
    return s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", help="comma-separated name prefixes (default: all)")
    parser.add_argument("--policies", default="fcfs,easy,conservative")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--folder", default=os.environ.get("KAIROS_TRACES", str(REPO.parent / "shared" / "traces")))
    parser.add_argument("--synthetic-jobs", type=int, default=1_000_000)
    parser.add_argument("--synthetic-procs", type=int, default=100_000)
    parser.add_argument("--synthetic-only", action="store_true")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--nodes-of", type=int, metavar="CPUS",
                        help="also replay each trace with EASY on nodes of CPUS processors "
                             "(jobs as spread tasks, kairos.sim.workload.on_nodes)")
    parser.add_argument("--reference", action="store_true",
                        help="also replay conservative the way it was before carried profiles and "
                             "freed spans (every promise searched again at every pass), for the ratio")
    args = parser.parse_args()

    console = Console(width=max(Console().width, 150))
    table = Table(title=f"Replay speed (median of {args.runs} runs; parse time excluded)")
    for col in ("workload", "jobs", "parse s", "policy", "replay s", "jobs/s", "textbook EASY s", "speed vs textbook"):
        table.add_column(col, justify="left" if col in ("workload", "policy") else "right")

    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    traces = [] if args.synthetic_only else find_traces(args.folder)
    if args.traces:
        wanted = [w.strip().lower() for w in args.traces.split(",")]
        traces = [t for t in traces if any(t.name.lower().startswith(w) for w in wanted)]
    if not traces and not args.synthetic_only:
        console.print(f"[yellow]no traces in {args.folder}; set KAIROS_TRACES[/]")

    for path in traces:
        parse_s, workload = timed(lambda: load_trace(path), 1)
        baseline_s = None
        if "easy" in policies:
            rows = [(j.id, j.submit, j.request.cpus, workload.runtimes[j.id], j.estimate) for j in workload.jobs]
            baseline_s, _ = timed(lambda: textbook_easy(rows, workload.procs), args.runs)
        for policy in policies:
            runs = args.runs if policy != "conservative" else 1
            seconds, _ = timed(lambda: replay(workload, policy), runs)
            ratio = f"{baseline_s / seconds:.2f}x" if policy == "easy" and baseline_s else ""
            table.add_row(workload.name, f"{len(workload.jobs):,}", f"{parse_s:.2f}", policy,
                          f"{seconds:.2f}", f"{len(workload.jobs) / seconds:,.0f}",
                          f"{baseline_s:.2f}" if policy == "easy" and baseline_s else "", ratio)
            if policy == "conservative" and args.reference:
                ref_s, _ = timed(lambda: replay(workload, scheduler=reference_conservative(workload)), 1)
                table.add_row(workload.name, "", "", "conservative (reference)", f"{ref_s:.2f}",
                              f"{len(workload.jobs) / ref_s:,.0f}", "", f"{ref_s / seconds:.2f}x faster now")
        if args.nodes_of:
            on, cluster = on_nodes(workload, args.nodes_of)
            seconds, _ = timed(lambda: replay(on, "easy", cluster=cluster), 1)
            table.add_row(on.name, f"{len(on.jobs):,}", "", "easy on nodes", f"{seconds:.2f}",
                          f"{len(on.jobs) / seconds:,.0f}", "", "")
        console.print(f"done: {workload.name}", style="dim")

    if not args.no_synthetic:
        began = time.perf_counter()
        workload = lublin(args.synthetic_jobs, args.synthetic_procs, seed=1)
        gen_s = time.perf_counter() - began
        seconds, _ = timed(lambda: replay(workload, "easy"), 1)
        table.add_row(workload.name, f"{len(workload.jobs):,}", f"{gen_s:.2f} (generate)", "easy",
                      f"{seconds:.2f}", f"{len(workload.jobs) / seconds:,.0f}", "", "")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
