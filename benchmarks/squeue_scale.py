"""``kairos squeue`` over tens of thousands of jobs: the whole command, and where its
time goes.

    .venv/bin/python benchmarks/squeue_scale.py                  # 60,000 jobs, 50 nodes
    .venv/bin/python benchmarks/squeue_scale.py --jobs 20000 --runs 3
    .venv/bin/python benchmarks/squeue_scale.py --before-src OLD/src   # an older tree too

A real controller in a temporary ``KAIROS_HOME`` with ``--nodes`` emulated nodes of 64
CPUs (``kairos.testing.emulated``), given ``--jobs`` jobs through the batch endpoint:
a twentieth end within seconds and stay in memory as COMPLETED (MinJobAge), a
twentieth run for an hour (those the nodes hold; the rest wait), of the others one
submission in ten is a held array of 10 tasks (one squeue line each) and the rest are
held single jobs, a twentieth of which are cancelled.  When run as root
the jobs are split between up to four system users (so that ``-u`` has someone to pick).

Measured, median of ``--runs``: the whole ``kairos squeue -t all``, ``kairos squeue``
(pending and running) and ``kairos squeue -u USER`` as subprocesses, output counted; and
in this process, stage by stage, ``-t all`` both ways: the list endpoint's default
layout (every field as a JobInfo object, decoded by the standard library into
``LiveJob``s: what squeue asked for before the columnar layout) and the columnar layout
of only the fields squeue prints (decoded with orjson, as the command does).  ``--before-src`` also times the commands of another source tree (its ``src``
put first on PYTHONPATH) against the same controller (this tree's), a run of each in
turn, and checks that both trees print the same bytes for formats without times (the
times move between two commands).
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

import orjson  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kairos.cli.client import Client  # noqa: E402
from kairos.cli.unix_http import UnixHTTPConnection  # noqa: E402
from kairos.testing.emulated import EmulatedCluster  # noqa: E402

USERS = ("root", "daemon", "bin", "sys")
#: Formats whose output does not move with the clock, compared between two trees.
STILL_FORMATS = (["-t", "all", "-o", "%.18i %.9P %.8j %.8u %.2t %.6D %R"],
                 ["-t", "all", "-O", "JobID,Name:30,State,ReasonList,Partition", "-S", "-i"],
                 ["-t", "all", "-r", "-h", "-o", "%i %T %u %p %Q"])


def options(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=60_000)
    p.add_argument("--nodes", type=int, default=50, help="emulated nodes of 64 CPUs")
    p.add_argument("--runs", type=int, default=5, help="repeats of each command; medians")
    p.add_argument("--before-src", type=Path, default=None,
                   help="another tree's src/ whose commands are timed too")
    p.add_argument("--keep", action="store_true", help="keep the temporary home")
    p.add_argument("--json", type=Path, default=REPO / "benchmarks/results/squeue_scale.json")
    return p.parse_args(argv)


# ---------------------------------------------------------------------- the queue


def specs(count: int) -> list[dict]:
    """The submissions: see the module docstring."""
    from kairos.slurm.sbatch import parse_submission

    def spec(*argv: str, runtime: float, **fields) -> dict:
        out = parse_submission(["-t", "120", "-o", "/dev/null", *argv, "--wrap", "true"],
                               cwd="/tmp", env={"PATH": "/usr/bin:/bin"}, now=time.time(),
                               submit_host=socket.gethostname()).to_json()
        out["environment"] = {**out["environment"], "KAIROS_EMULATE_RUNTIME": str(runtime)}
        return {**out, **fields}

    short = spec("-J", "short", runtime=1)
    running = spec("-J", "train", runtime=3600)
    held = spec("-J", "held", runtime=60, hold=True)
    array = spec("-J", "sweep", "--array", "0-9", runtime=60, hold=True)
    first = [short] * (count // 20) + [running] * (count // 20)
    rest, total = [], len(first)
    while total < count:
        kind = array if len(rest) % 10 == 9 and count - total >= 10 else held
        rest.append(kind)
        total += 10 if kind is array else 1
    return first + rest


def submitter(path: str, user: str | None, batch: list[dict], out) -> None:
    """One submitting process, as ``user`` when root; sends back the job ids."""
    if user is not None and os.geteuid() == 0 and user != "root":
        pw = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    client = Client(path, timeout=600)
    ids = []
    for i in range(0, len(batch), 2000):
        ids += [r["job_id"] for r in client.submit_many(batch[i:i + 2000]) if "job_id" in r]
    out.send(ids)
    out.close()


def users() -> list[str]:
    if os.geteuid() != 0:
        return [pwd.getpwuid(os.geteuid()).pw_name]
    found = []
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        found.append(name)
    return found


def fill(cluster: EmulatedCluster, count: int, names: list[str]) -> list[int]:
    """Submit the queue (one process per user) and cancel a twentieth of the held jobs."""
    todo = specs(count)
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for k, user in enumerate(names):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=submitter, args=(str(cluster.socket), user,
                                                   todo[k::len(names)], send))
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    ids = [job_id for receive in pipes for job_id in receive.recv()]
    for proc in procs:
        proc.join()
    control = Client(cluster.socket, timeout=600)
    held = [str(job["job_id"]) for job in control.jobs(states=["PENDING"], names=["held"])]
    control.cancel(ids=held[::20])
    return ids


def settle(cluster: EmulatedCluster, timeout: float = 300) -> dict[str, int]:
    """Until no short job is left pending or running; the count of jobs by state."""
    client = Client(cluster.socket, timeout=600)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not client.jobs(names=["short"]):
            break
        time.sleep(1.0)
    return client.status()["jobs"]


# ---------------------------------------------------------------------- measuring


def timed(cluster: EmulatedCluster, args: list[str], runs: int,
          env: dict | None = None) -> tuple[float, int, str]:
    """Median wall time of ``kairos squeue ARGS``, its lines, its last output."""
    times, out = [], ""
    for _ in range(runs):
        began = time.perf_counter()
        out = subprocess.run([cluster.executable, "squeue", *args], env=env or cluster.env,
                             cwd=cluster.workdir, capture_output=True, text=True, check=True,
                             timeout=600).stdout
        times.append(time.perf_counter() - began)
    return statistics.median(times), out.count("\n"), out


def fetched_from(cluster: EmulatedCluster):
    """GET on a connection of its own (an idle keep-alive one may be closed meanwhile)."""
    def fetch(method: str, target: str) -> tuple[int, bytes]:
        conn = UnixHTTPConnection(str(cluster.socket), 600)
        try:
            return conn.request(method, target)
        finally:
            conn.close()
    return fetch


def stages(cluster: EmulatedCluster, runs: int) -> dict[str, dict[str, float]]:
    """``squeue -t all`` in this process, stage by stage, both layouts (median seconds)."""
    from kairos.cli.slurm import squeue
    from kairos.model import LiveJob
    from kairos.model.job import rows_from_wire

    opts = squeue.parse_args(["-t", "all"], {})
    fields = squeue.wire_fields(opts)
    fetched = fetched_from(cluster)

    def records():
        began = time.perf_counter()
        status, body = fetched("GET", "/api/v1/jobs?all_states=true")
        got = time.perf_counter()
        data = json.loads(body)
        decoded = time.perf_counter()
        jobs = [LiveJob.from_wire(job) for job in data]
        built = time.perf_counter()
        return body, jobs, {"request": got - began, "decode": decoded - got,
                            "jobs": built - decoded}

    def columns():
        query = "&".join(["all_states=true", "layout=columns", "fields=" + ",".join(fields)])
        began = time.perf_counter()
        status, body = fetched("GET", "/api/v1/jobs?" + query)
        got = time.perf_counter()
        data = orjson.loads(body)  # as Client.job_table
        decoded = time.perf_counter()
        jobs = rows_from_wire(data["fields"], data["rows"])
        built = time.perf_counter()
        return body, jobs, {"request": got - began, "decode": decoded - got,
                            "jobs": built - decoded}

    out: dict[str, dict[str, list[float]]] = {}
    for name, fetch in (("records", records), ("columns", columns)):
        samples: dict[str, list[float]] = {}
        for _ in range(runs):
            gc.collect()
            gc.disable()  # as the command does
            try:
                body, jobs, times = fetch()
                began = time.perf_counter()
                text = squeue.render(squeue.select(jobs, opts), opts, now=time.time())
                times["select + render"] = time.perf_counter() - began
            finally:
                gc.enable()
            times["bytes/job"] = len(body) / max(1, len(jobs))
            times["lines"] = text.count("\n")
            for key, value in times.items():
                samples.setdefault(key, []).append(value)
        out[name] = {key: statistics.median(values) for key, values in samples.items()}
    return out


# ---------------------------------------------------------------------- one run


def run(opts, console: Console) -> dict:
    root = Path(tempfile.mkdtemp(prefix="kairos-squeue-"))
    root.chmod(0o711)  # the submitting users reach the controller's socket below it
    cluster = EmulatedCluster.create(root / "home", root / "work", count=opts.nodes, cpus=64,
                                     mem_mib=256 * 1024,
                                     settings={"scheduler_interval": 1.0, "kill_wait": 2},
                                     cluster={"heartbeat_interval": 30, "node_timeout": 300},
                                     command_timeout=600)
    result: dict = {"jobs": opts.jobs, "nodes": opts.nodes}
    try:
        cluster.up()
        cluster.start_emulator(timeout=600)
        names = users()
        began = time.perf_counter()
        ids = fill(cluster, opts.jobs, names)
        result["submit_s"] = time.perf_counter() - began
        result["states"] = settle(cluster)
        result["in_memory"] = sum(result["states"].values())
        console.print(f"  {len(ids):,} submissions in {result['submit_s']:.1f} s: "
                      + ", ".join(f"{k} {v:,}" for k, v in sorted(result["states"].items())))
        user = names[-1]
        commands = {"-t all": ["-t", "all"], "default": [], f"-u {user}": ["-u", user]}
        trees = {"after": cluster.env}
        if opts.before_src is not None:
            env = {**cluster.env, "PYTHONPATH": str(opts.before_src.resolve())}
            trees["before"] = env
        for tree in trees:
            result[tree] = {}
        for name, args in commands.items():
            samples: dict[str, list[float]] = {tree: [] for tree in trees}
            for _ in range(opts.runs):  # the trees in turn: both see the same load
                for tree, tree_env in trees.items():
                    seconds, lines, _ = timed(cluster, args, 1, tree_env)
                    samples[tree].append(seconds)
                    result[tree][name] = (statistics.median(samples[tree]), lines)
        if opts.before_src is not None:
            result["same_output"] = all(
                timed(cluster, args, 1)[2] == timed(cluster, args, 1, env)[2]
                for args in STILL_FORMATS)
        result["stages"] = stages(cluster, opts.runs)
    finally:
        cluster.stop()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


def tables(result: dict) -> list[Table]:
    commands = Table(title=f"kairos squeue, {result['in_memory']:,} jobs in memory "
                           f"(median of the runs)")
    commands.add_column("command")
    if "before" in result:
        commands.add_column("before", justify="right")
    commands.add_column("after", justify="right")
    commands.add_column("lines", justify="right")
    for name, (seconds, lines) in result["after"].items():
        cells = [f"kairos squeue {name}"]
        if "before" in result:
            cells.append(f"{result['before'][name][0] * 1000:,.0f} ms")
        commands.add_row(*cells, f"{seconds * 1000:,.0f} ms", f"{lines:,}")
    if "same_output" in result:
        commands.caption = f"same output in both trees: {result['same_output']}"
    breakdown = Table(title="squeue -t all in process, by stage (median)")
    breakdown.add_column("stage")
    breakdown.add_column("every field (JobInfo, LiveJob)", justify="right")
    breakdown.add_column("columnar, squeue's fields", justify="right")
    before, after = result["stages"]["records"], result["stages"]["columns"]
    labels = {"request": "HTTP request (controller builds and sends)",
              "decode": "JSON decoding", "jobs": "jobs built",
              "select + render": "select, sort and format"}
    for key, label in labels.items():
        breakdown.add_row(label, f"{before[key] * 1000:,.0f} ms", f"{after[key] * 1000:,.0f} ms")
    total = [sum(s[k] for k in labels) for s in (before, after)]
    breakdown.add_row("total", *(f"{t * 1000:,.0f} ms" for t in total))
    breakdown.add_row("bytes per job", f"{before['bytes/job']:,.0f}", f"{after['bytes/job']:,.0f}")
    return [commands, breakdown]


def main(argv=None) -> int:
    opts = options(argv)
    console = Console(width=110)
    console.print(f"{opts.jobs:,} jobs, {opts.nodes:,} emulated nodes")
    result = run(opts, console)
    for table in tables(result):
        console.print(table)
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps({"options": {k: str(v) for k, v in vars(opts).items()},
                                     "result": result}, indent=2))
    return 0 if result.get("same_output", True) else 1


if __name__ == "__main__":
    raise SystemExit(main())
