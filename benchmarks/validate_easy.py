"""Kairos EASY against an independent textbook EASY replay, on real traces.

    python benchmarks/validate_easy.py            # KTH-SP2, SDSC-SP2, CTC-SP2 by default

Prints average bounded slowdown from the core, from the textbook replay
(``kairos.testing.textbook_easy``, shadow time + extra processors), and from the
textbook replay with the common shortcut of stopping the shadow walk at the first job
whose end frees enough processors.  The first two must agree exactly; the third shows
where published replays using the shortcut differ (see docs/validation.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kairos.sim.metrics import bounded_slowdown, summarize  # noqa: E402
from kairos.sim.replay import replay  # noqa: E402
from kairos.sim.workload import find_traces, load_trace  # noqa: E402
from kairos.testing.textbook_easy import textbook_easy  # noqa: E402


def avg_bsld(starts: dict[int, float], workload) -> float:
    """Average bounded slowdown of a schedule given as {job id: start}."""
    wait = [starts[j.id] - j.submit for j in workload.jobs]
    runtime = [workload.runtimes[j.id] for j in workload.jobs]
    return float(bounded_slowdown(wait, runtime).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default="KTH-SP2,SDSC-SP2,CTC-SP2")
    parser.add_argument("--folder", default=os.environ.get("KAIROS_TRACES", str(REPO.parent / "shared" / "traces")))
    args = parser.parse_args()
    wanted = [w.strip().lower() for w in args.traces.split(",")]
    table = Table(title="EASY, average bounded slowdown")
    for col in ("trace", "jobs", "kairos core", "textbook", "textbook, shortcut shadow", "core == textbook"):
        table.add_column(col, justify="left" if col == "trace" else "right")
    for path in find_traces(args.folder):
        if not any(path.name.lower().startswith(w) for w in wanted):
            continue
        workload = load_trace(path)
        result = replay(workload, "easy")
        core = summarize(result)["avg_bsld"]
        rows = [(j.id, j.submit, j.request.cpus, workload.runtimes[j.id], j.estimate) for j in workload.jobs]
        exact = textbook_easy(rows, workload.procs)
        shortcut = textbook_easy(rows, workload.procs, stop_at_first_end=True)
        same = all(j.start == exact[j.id] for j in result.jobs)
        table.add_row(workload.name, f"{len(rows):,}", f"{core:.2f}", f"{avg_bsld(exact, workload):.2f}",
                      f"{avg_bsld(shortcut, workload):.2f}", "yes" if same else "NO")
    Console(width=150).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
