"""Kairos on RLScheduler's evaluation protocol (Zhang et al., SC 2020), beside its table.

    python benchmarks/rlscheduler_protocol.py                       # 200 sequences, seed 1
    python benchmarks/rlscheduler_protocol.py --sequences 200 --seed 1 --traces SDSC-SP2,HPC2N,lublin_256
    python benchmarks/rlscheduler_protocol.py --negative-runtimes ten --released-rules
    python benchmarks/rlscheduler_protocol.py --ablation --no-predictive
    python benchmarks/rlscheduler_protocol.py --workers 4 --json results.json

Each trace becomes a pool: its first 10,000 jobs once the protocol's filters have run.
From the pool, ``--sequences`` windows of 1,024 consecutive jobs start at random offsets
(``--seed``); each window is replayed alone from an empty machine, its submit times
shifted so that its first job arrives at 0, under EASY backfilling with each queue order
(FCFS, SJF, F1) and, when this Kairos has them, its prediction-driven configurations.
The metric is the average bounded slowdown (10 s bound) of a window, averaged over the
windows.  The table gives the published value, our mean with a bootstrap 95% confidence
interval, the mean of the first 10 windows alone (the paper's sample size, same seed) and
the range of that 10-window mean over disjoint groups of 10 windows, to show how noisy
10 windows are.  With ``--released-rules`` the same windows are also replayed by a small
stand-alone simulator that follows the rules of the authors' released simulator
(``kairos.sim.rlscheduler.released``), which shows how much of a difference comes from
the scheduler rather than from the sequences; ``--ablation`` adds those rules changed one
at a time towards Kairos's EASY.  ``docs/rlscheduler.md`` describes every convention.

The protocol itself (pools, sequences, the released rules, the replays and their
statistics) is ``kairos.sim.rlscheduler``; this script runs it and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table  # noqa: E402

from kairos.sim.rlscheduler.evaluation import (  # noqa: E402
    BASELINES,
    PREDICTIVE,
    PUBLISHED,
    Config,
    TraceRun,
    bootstrap_ci,
    groups_of_ten,
    run_trace,
)
from kairos.sim.rlscheduler.released import RELEASED_VARIANTS  # noqa: E402
from kairos.sim.rlscheduler.sequences import POOL_SIZE, SEQUENCE_LENGTH  # noqa: E402
from kairos.sim.workload import find_trace  # noqa: E402

DEFAULT_TRACES = "SDSC-SP2,HPC2N,lublin_256"


# ---------------------------------------------------------------------------------------
# Output


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.1f}"


def build_table(runs: list[TraceRun], configs: list[Config], *, sequences: int, seed: int,
                negative_runtimes: str, released: bool = False) -> Table:
    rule = "dropped" if negative_runtimes == "drop" else "run 10 s"
    table = Table(
        title=(f"Average bounded slowdown, EASY backfilling with requested times; "
               f"{sequences} sequences of {SEQUENCE_LENGTH} jobs (seed {seed}); negative runtimes {rule}"),
    )
    columns = [("trace", "left"), ("order", "left"), ("published", "right"),
               ("Kairos mean", "right"), ("95% CI (bootstrap)", "right"),
               (f"10 seq. (seed {seed})", "right"), ("10 seq., range over groups", "right")]
    if released:
        columns += [("released rules", "right"), ("95% CI", "right")]
    for col, just in columns:
        table.add_column(col, justify=just)
    blank = [""] * (len(columns) - 4)
    for r in runs:
        label, published = PUBLISHED[r.key]
        for i, c in enumerate(configs):
            pub = published.get(c.published_as) if c.published_as else None
            name = label if i == 0 else ""
            if c.label in r.unavailable:
                table.add_row(name, c.label, _fmt(pub), "n/a: " + r.unavailable[c.label][:60], *blank)
                continue
            v = np.asarray(r.results[c.label])
            lo, hi = bootstrap_ci(v)
            g_lo, g_hi, k = groups_of_ten(v)
            row = [
                name, c.label, _fmt(pub), _fmt(float(v.mean())), f"{_fmt(lo)} - {_fmt(hi)}",
                _fmt(float(v[:10].mean())) if len(v) >= 10 else "-",
                f"{_fmt(g_lo)} - {_fmt(g_hi)} ({k})" if k > 1 else "-",
            ]
            if released:
                rv = r.results.get(f"released:{c.released}") if c.released else None
                if rv:
                    rv = np.asarray(rv)
                    rlo, rhi = bootstrap_ci(rv)
                    row += [_fmt(float(rv.mean())), f"{_fmt(rlo)} - {_fmt(rhi)}"]
                else:
                    row += ["", ""]
            table.add_row(*row)
        if "RL" in published:
            table.add_row("", "RL (RLScheduler)", _fmt(published["RL"]), "-", *blank)
        table.add_section()
    return table


def build_ablation(runs: list[TraceRun], configs: list[Config]) -> Table:
    table = Table(title=("From the released rules to Kairos's EASY, one rule at a time "
                         "(mean average bounded slowdown, same sequences)"))
    for col in ("trace", "order", "published", *RELEASED_VARIANTS, "Kairos"):
        table.add_column(col, justify="left" if col in ("trace", "order") else "right")
    for r in runs:
        label, published = PUBLISHED[r.key]
        first = True
        for c in configs:
            if not c.released or c.label not in r.results:
                continue
            cells = [_fmt(float(np.mean(r.results[f"{v}:{c.released}"])))
                     if f"{v}:{c.released}" in r.results else "-" for v in RELEASED_VARIANTS]
            table.add_row(label if first else "", c.label, _fmt(published.get(c.published_as)),
                          *cells, _fmt(float(np.mean(r.results[c.label]))))
            first = False
        table.add_section()
    return table


def describe_pools(runs: list[TraceRun]) -> Table:
    table = Table(title="Pools (first jobs of each trace after the protocol's filters)")
    for col in ("trace", "machine", "pool jobs", "left out before the pool was full",
                "ran past their request", "offsets"):
        table.add_column(col, justify="left" if col in ("trace", "left out before the pool was full") else "right")
    for r in runs:
        p = r.pool
        dropped = ", ".join(f"{k}: {v:,}" for k, v in p.dropped.items()) or "none"
        table.add_row(p.name, f"{p.machine:,}", f"{len(p):,}", dropped, f"{p.overruns:,}",
                      f"{min(r.offsets):,} - {max(r.offsets):,}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=200, help="sequences per trace (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sequence offsets (default 1)")
    parser.add_argument("--traces", default=DEFAULT_TRACES,
                        help=f"comma-separated: {', '.join(PUBLISHED)} (default: all)")
    parser.add_argument("--folder", default=os.environ.get("KAIROS_TRACES", str(REPO.parent / "shared" / "traces")),
                        help="folder of SWF traces (default: $KAIROS_TRACES, else ../shared/traces)")
    parser.add_argument("--negative-runtimes", choices=("drop", "ten"), default="drop",
                        help="drop jobs with a negative runtime (default), or run them for 10 s as the released code does")
    parser.add_argument("--released-rules", action="store_true",
                        help="also replay every sequence under the released simulator's rules (FCFS, SJF, F1)")
    parser.add_argument("--ablation", action="store_true",
                        help="also replay under the released rules changed one rule at a time towards Kairos's EASY")
    parser.add_argument("--no-predictive", action="store_true", help="skip Kairos's prediction-driven configurations")
    parser.add_argument("--workers", type=int, default=1, help="processes replaying sequences in parallel (default 1)")
    parser.add_argument("--json", type=Path, help="also write every per-sequence value to this file")
    args = parser.parse_args(argv)
    if args.sequences < 1:
        parser.error("--sequences must be at least 1")

    wanted = [t.strip() for t in args.traces.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in PUBLISHED]
    if unknown:
        parser.error(f"unknown trace(s) {', '.join(unknown)}; choose from {', '.join(PUBLISHED)}")
    paths = {}
    for key in wanted:
        path = find_trace(key, args.folder)
        if path is None:
            parser.error(f"no trace {key!r} in {args.folder}")
        paths[key] = path

    configs = list(BASELINES) + ([] if args.no_predictive else list(PREDICTIVE))
    released: tuple[str, ...] = ()
    if args.ablation:
        released = tuple(RELEASED_VARIANTS)
    elif args.released_rules:
        released = ("released",)
    console = Console(width=max(Console().width, 160))
    runs: list[TraceRun] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        for key, path in paths.items():
            task = progress.add_task(f"{PUBLISHED[key][0]}: replaying sequences", total=args.sequences)
            runs.append(run_trace(key, path, configs, sequences=args.sequences, seed=args.seed,
                                  negative_runtimes=args.negative_runtimes, released=released,
                                  workers=args.workers, advance=lambda t=task: progress.advance(t)))
    console.print(describe_pools(runs))
    console.print(build_table(runs, configs, sequences=args.sequences, seed=args.seed,
                              negative_runtimes=args.negative_runtimes, released=bool(released)))
    if args.ablation:
        console.print(build_ablation(runs, configs))
    if args.json:
        out = {
            "sequences": args.sequences, "seed": args.seed, "length": SEQUENCE_LENGTH,
            "pool_size": POOL_SIZE, "negative_runtimes": args.negative_runtimes,
            "released_variants": list(released),
            "traces": {
                r.key: {
                    "trace": r.pool.name, "machine": r.pool.machine, "dropped": r.pool.dropped,
                    "overruns": r.pool.overruns, "offsets": r.offsets,
                    "published": PUBLISHED[r.key][1], "avg_bsld": r.results,
                    "unavailable": r.unavailable,
                }
                for r in runs
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1))
        console.print(f"per-sequence values written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
