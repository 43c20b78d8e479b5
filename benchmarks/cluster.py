"""Multi-node speed: a Kairos test cluster beside a real multi-node Slurm 22.05, on the
same machine and shaped alike (as many nodes, as many CPUs on each).

    .venv/bin/python benchmarks/cluster.py                    # both, when the peer runs
    .venv/bin/python benchmarks/cluster.py --no-peer          # Kairos only
    .venv/bin/python benchmarks/cluster.py --markdown docs/cluster-benchmarks.md

The peer is ``shared/peers/slurm/start-multi.sh N CPUS`` (``4 2`` for the documented
run: ``srun -n 8`` over 4 nodes) (slurmd daemons in network
namespaces); Kairos is ``kairos up --nodes N --cpus-per-node CPUS`` in a temporary
``KAIROS_HOME`` (node daemons in network namespaces, MUNGE), stopped at the end.  Each
measure is the median of ``--runs`` after one unmeasured warm-up, every command through
the side's own executables (``kairos srun`` for Kairos, Slurm's C ``srun`` for the peer):

1. **srun from the login shell**: ``srun -N N -n T true`` (T = every CPU of the N
   nodes), the whole command (ask for an allocation, wait for it, launch the tasks on
   every node, wait for them, release).
2. **Step launch in an allocation**: inside one batch job on N nodes, ``srun -N N -n T
   true`` ``--runs`` times in a row, each timed by the job itself (``date +%s%N``).
3. **Batch job start**: from just before ``sbatch -N N`` is run until the job's script
   prints its first line (``date +%s%N``) on an idle cluster, one job at a time.

The ratio column says how many times faster Kairos was (above 1: Kairos is faster).
Raw numbers go to ``--json`` (default ``benchmarks/results/cluster.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from kairos.testing.cluster import KairosCluster
from kairos.testing.commands import clean_environment
from kairos.testing.home import KAIROS
from kairos.testing.slurm_peer import SlurmPeer, locate

err = Console(stderr=True)
RESULTS = Path(__file__).parent / "results"
STEP_SCRIPT = """#!/bin/bash
for i in $(seq {runs}); do
  a=$(date +%s%N); srun -N {nodes} -n {tasks} true; b=$(date +%s%N)
  echo $(( (b - a) / 1000 ))
done > step-times
"""
START_SCRIPT = "#!/bin/bash\ndate +%s%N > start-{tag}\n"


@dataclass
class Side:
    """A workload manager's commands (``tool`` -> argv), run from ``workdir``."""

    name: str
    argv: dict[str, list[str]]
    workdir: Path
    env: dict[str, str]
    samples: dict[str, list[float]] = field(default_factory=dict)

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.argv[tool], *args], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {tool} {' '.join(args)} exited "
                               f"{done.returncode}: {done.stderr.strip()}")
        return done

    def submit(self, *args: str) -> int:
        return int(self.run("sbatch", "--parsable", "--mem=50M", *args).stdout.split(";")[0])

    def wait_ended(self, job_id: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run("squeue", "-h", "-t", "all", "-j", str(job_id), "-o", "%T").stdout
            if state.strip() and state.split()[0] not in {"PENDING", "RUNNING", "CONFIGURING",
                                                          "COMPLETING"}:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name}: job {job_id} did not end in {timeout:g} s")


def login_srun(side: Side, nodes: int, tasks: int, runs: int) -> list[float]:
    """Milliseconds of ``srun -N nodes -n tasks true`` from the login shell."""
    times = []
    for i in range(runs + 1):
        began = time.perf_counter()
        side.run("srun", "--mem=50M", "-N", str(nodes), "-n", str(tasks), "true")
        if i:  # the first is the warm-up
            times.append((time.perf_counter() - began) * 1000)
    return times


def step_launch(side: Side, nodes: int, tasks: int, runs: int) -> list[float]:
    """Milliseconds of each ``srun -N nodes -n tasks true`` inside one batch job."""
    script = side.workdir / "steps.sh"
    script.write_text(STEP_SCRIPT.format(runs=runs + 1, nodes=nodes, tasks=tasks))
    job_id = side.submit("-N", str(nodes), "-n", str(tasks), str(script))
    side.wait_ended(job_id, timeout=60 + 10 * runs)
    micros = [int(line) for line in (side.workdir / "step-times").read_text().split()]
    return [m / 1000 for m in micros[1:]]


def batch_start(side: Side, nodes: int, tasks: int, runs: int) -> list[float]:
    """Milliseconds from sbatch's start to the first line of the job's script."""
    times = []
    for i in range(runs + 1):
        script = side.workdir / f"start-{i}.sh"
        script.write_text(START_SCRIPT.format(tag=i))
        began = time.time_ns()
        job_id = side.submit("-N", str(nodes), "-n", str(tasks), "-o", "/dev/null",
                             str(script))
        side.wait_ended(job_id)
        started = int((side.workdir / f"start-{i}").read_text())
        if i:
            times.append((started - began) / 1e6)
    return times


MEASURES = {
    "srun -N N -n T true from the login shell": login_srun,
    "srun -N N -n T true inside a batch job (step launch)": step_launch,
    "sbatch -N N -n T until the script runs": batch_start,
}


def shaped(label: str, nodes: int, tasks: int) -> str:
    return label.replace("-N N", f"-N {nodes}").replace("-n T", f"-n {tasks}")


def measure(side: Side, nodes: int, tasks: int, runs: int) -> None:
    for label, how in MEASURES.items():
        err.print(f"{side.name}: {shaped(label, nodes, tasks)} ...")
        side.samples[label] = how(side, nodes, tasks, runs)


def peer_side(work: Path) -> tuple[Side, int, int] | str:
    """The multi-node peer as a side with its node count and CPUs per node, or why not."""
    probe = locate()
    if probe.bin_dir is None:
        return probe.reason
    peer = SlurmPeer(probe.bin_dir, work, env=clean_environment())
    rows = [line.split() for line in
            peer.run("sinfo", "-h", "-N", "-o", "%N %c %T").stdout.splitlines()]
    idle = [r for r in rows if r[2] == "idle"]
    if len(idle) < 2:
        return f"the Slurm peer has {len(idle)} idle node(s); start start-multi.sh"
    argv = {tool: peer.argv(tool) for tool in ("srun", "sbatch", "squeue")}
    return Side("slurm", argv, work, peer.env), len(idle), int(idle[0][1])


def markdown(rows: list[tuple], nodes: int, cpus: int, command: str, runs: int) -> str:
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    lines = [
        "# Cluster benchmarks", "",
        f"How fast multi-node jobs and steps start on a Kairos test cluster beside a real "
        f"Slurm 22.05 with the same shape ({nodes} nodes of {cpus} CPU(s), each node's "
        f"daemon in its own network namespace, MUNGE on both), on one machine, measured in "
        f"the same run ({stamp}). Median of {runs} runs, milliseconds; the ratio is how many "
        "times faster Kairos was. Generated by `benchmarks/cluster.py`; its docstring "
        "describes each measure.", "", "```sh", command, "```", "",
        "| measure | Kairos ms | Slurm ms | ratio |", "|---|---:|---:|---:|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--nodes", type=int, help="without a peer (default 4)")
    parser.add_argument("--cpus-per-node", type=int, help="without a peer (default 2)")
    parser.add_argument("--json", type=Path, default=RESULTS / "cluster.json")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kairos-cluster-bench-"))
    root.chmod(0o755)
    sides: list[Side] = []
    nodes, cpus = args.nodes or 4, args.cpus_per_node or 2
    if not args.no_peer:
        (root / "slurm").mkdir()
        found = peer_side(root / "slurm")
        if isinstance(found, str):
            err.print(f"no peer: {found}")
        else:
            peer, nodes, cpus = found
            sides.append(peer)
    cluster = KairosCluster.create(root / "home", root / "kairos", count=nodes,
                                   cpus_per_node=cpus, env=clean_environment())
    cluster.up()
    try:
        argv = {tool: [KAIROS, tool] for tool in ("srun", "sbatch", "squeue")}
        sides.insert(0, Side("kairos", argv, cluster.workdir, cluster.env))
        for side in reversed(sides):  # the peer first: Kairos's cluster idles meanwhile
            measure(side, nodes, nodes * cpus, args.runs)
    finally:
        cluster.stop()
    medians = {s.name: {k: statistics.median(v) for k, v in s.samples.items()} for s in sides}
    rows = []
    for label in MEASURES:
        ours = medians["kairos"][label]
        theirs = medians.get("slurm", {}).get(label)
        rows.append((shaped(label, nodes, nodes * cpus), f"{ours:.0f}",
                     "" if theirs is None else f"{theirs:.0f}",
                     "" if theirs is None else f"{theirs / ours:.1f}"))
    table = Table(title=f"{nodes} nodes x {cpus} CPU(s), median of {args.runs} runs (ms)")
    for col in ("measure", "Kairos", "Slurm 22.05", "ratio"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"nodes": nodes, "cpus_per_node": cpus, "runs": args.runs,
                                     "samples_ms": {s.name: s.samples for s in sides}},
                                    indent=1) + "\n")
    if args.markdown:
        command = "python benchmarks/cluster.py " + " ".join(sys.argv[1:])
        args.markdown.write_text(markdown(rows, nodes, cpus, command.strip(), args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
