"""The self-tuner live: a controller with ``auto = true`` against a fixed EASY controller
on the same day-long synthetic stream, at an accelerated clock.

    .venv/bin/python benchmarks/auto_live.py                       # one day, 240x: ~10 minutes
    .venv/bin/python benchmarks/auto_live.py --scale 120           # half the latency, ~20 minutes
    .venv/bin/python benchmarks/auto_live.py --streams 8 --hours 12 --seed 5

The stream: the Lublin-Feitelson model (``kairos.sim.workload.lublin``) gives about 130
jobs a simulated day whatever the machine size, too few for a tuner, so ``--streams``
independent streams (seeds ``--seed``, ``--seed`` + 1, ...; each on ``--procs``
processors at offered load ``--load``) are superposed on a machine that many times as
large, and their first ``--hours`` kept: about 500 jobs a day with the defaults.  The
jobs keep the model's runtimes and time limits (the model's users' requested times);
each asks for its processors as tasks (``-n``, one CPU each) spread over emulated nodes
of ``--cpus`` CPUs (``kairos node --emulate``: jobs last their ``KAIROS_EMULATE_RUNTIME``
without processes).  Users are the model's, per stream: run as root, each submission is
made under the user's own uid (``20000 + 1000 x stream + user``, no account needed),
else all are the caller's.

The clock runs ``--scale`` (S) times faster: submit times, runtimes and time limits are
divided by S, and the waits measured on the wall clock multiplied by S (one day in six
minutes at S = 240).  Two controllers, each with its own home, database and emulator,
the same machine and the queue in submit order, get the same submissions at the same
instants from one submitting process each:

* **auto**: ``auto = true`` (``[controller]``), tuning every ``--every`` hours of the
  stream on the finished jobs of the last ``--window`` hours (both divided by S, as
  Slurm durations in whole seconds), ``auto_min_jobs = --min-jobs``;
* **easy**: EASY with the requested times (``predictor = "user"``, ``correction =
  "limit"``, ``backfill_order = "queue"``).

After both have drained, every job's accounting record (``sacct``'s API) gives its wait,
and the table has, in stream time: jobs, average bounded slowdown (max((wait + run) /
max(run, 10 s), 1), with the job's true runtime), the same with the bound the tuner's
what-ifs use (10 s of the controller's clock: 10 x S of the stream), average and
maximum wait, and the tunings and switches; the ratio auto / easy.  Nothing lost: every
submitted job must have a final state.  The tuner's decisions (``GET /api/v1/tuning``)
and the text of ``kairos tune`` run against the auto controller are printed and kept.
The same stream replayed through the twin (EASY, and the same ``Tuner`` at the same
period and window), at the same clock and at the stream's own (x1), is given beside:
what the live controllers would do without latency, and what the tuner would do on a
machine whose clock is not accelerated.  Raw numbers go to
``--json`` (default ``benchmarks/results/auto_live.json``).

Caveats.  A controller's latency (a pass, an end reported by the emulator) is stretched
S times: the submissions' lateness and the gap between the measured and the true
runtimes are given, in stream seconds.  The tuner's own constants are on the
controller's clock, not the stream's: its bounded slowdown's 10 s is 10 x S of stream,
its starvation guard's floor of one hour is S hours (with its factor 1.25, no bound at
all on a day's stream at S = 240), and
the predictors floor their answers at 1 s (S seconds of stream) and read the hour of the
day; so the live tuner, and the twin's reference, are the tuner on a machine whose jobs
are S times shorter, not the tuner on this stream.  A what-if replays only the finished
jobs submitted in its window, on an empty machine: with a window shorter than the
longer runtimes it sees no queue at all (every candidate at slowdown 1), hence the
12-hour default.  One day is one sample: other ``--seed`` values give other days, with
offered loads from about 0.6 to 1.2.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kairos.cli.client import Client  # noqa: E402
from kairos.testing.emulated import EmulatedCluster  # noqa: E402

HOUR = 3600.0
BOUND = 10.0  #: seconds: the bounded slowdown's threshold
MEM = 256 * 1024
CLUSTER = {"heartbeat_interval": 30, "node_timeout": 300}
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "PREEMPTED", "BOOT_FAIL", "DEADLINE"}
#: uid of stream k's user u: 20000 + 1000 k + u (gid: 20000 + k)
UID_BASE = 20_000


def options(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=240.0,
                   help="the clock runs this many times faster than the stream's")
    p.add_argument("--streams", type=int, default=4, help="Lublin streams superposed")
    p.add_argument("--procs", type=int, default=256, help="processors per stream")
    p.add_argument("--cpus", type=int, default=64, help="CPUs per emulated node")
    p.add_argument("--load", type=float, default=0.9, help="each stream's offered load")
    p.add_argument("--seed", type=int, default=1, help="the first stream's seed")
    p.add_argument("--hours", type=float, default=24.0, help="hours of the stream kept")
    p.add_argument("--every", type=float, default=2.0, help="hours of stream between tunings")
    p.add_argument("--window", type=float, default=12.0,
                   help="hours of stream each tuning looks back")
    p.add_argument("--min-jobs", type=int, default=40, help="auto_min_jobs")
    p.add_argument("--interval", type=float, default=0.2, help="scheduler_interval (s)")
    p.add_argument("--timeout", type=float, default=None,
                   help="give up after (wall s; default: the stream plus 72 h, scaled)")
    p.add_argument("--keep", action="store_true", help="keep the temporary homes")
    p.add_argument("--json", type=Path, default=REPO / "benchmarks/results/auto_live.json")
    return p.parse_args(argv)


# ---------------------------------------------------------------------- the stream


def make_stream(opts) -> list[dict]:
    """The superposed jobs in submit order: stream, the model's id and user, submit
    time, processors, true runtime and time limit (stream seconds)."""
    from kairos.sim.workload import lublin

    horizon = opts.hours * HOUR
    per_stream = max(1000, int(opts.hours * 40))
    jobs = []
    for k in range(opts.streams):
        workload = lublin(per_stream, opts.procs, seed=opts.seed + k, load=opts.load)
        if workload.jobs[-1].submit < horizon:
            raise ValueError(f"stream {k}: {per_stream} jobs end before {opts.hours:g} h")
        for job in workload.jobs:
            if job.submit < horizon:
                jobs.append({"stream": k, "model_id": job.id, "user": int(job.user),
                             "submit": job.submit, "procs": job.request.cpus,
                             "runtime": workload.runtimes[job.id],
                             "time_limit": job.time_limit})
    jobs.sort(key=lambda j: (j["submit"], j["stream"], j["model_id"]))
    for index, job in enumerate(jobs):
        job["index"] = index
        job["uid"] = UID_BASE + 1000 * job["stream"] + job["user"]
        job["gid"] = UID_BASE + job["stream"]
    return jobs


def offered_load(jobs: list[dict], opts) -> float:
    """Processor-seconds of the stream's jobs over the machine's in ``--hours``."""
    work = sum(j["procs"] * j["runtime"] for j in jobs)
    return work / (opts.streams * opts.procs * opts.hours * HOUR)


def submission(job: dict, template: dict, scale: float) -> dict:
    spec = dict(template)
    spec["name"] = f"s{job['stream']}j{job['model_id']}"
    spec["ntasks"] = job["procs"]
    spec["spread"] = job["procs"] > 1  # as sbatch -n N without -N
    spec["time_limit"] = job["time_limit"] / scale
    spec["environment"] = {**template["environment"],
                           "KAIROS_EMULATE_RUNTIME": repr(job["runtime"] / scale)}
    return spec


def template() -> dict:
    from kairos.slurm.sbatch import parse_submission

    return parse_submission(["-n", "1", "-t", "10", "-o", "/dev/null", "--wrap", "true"],
                            cwd="/tmp", env={"PATH": "/usr/bin:/bin"}, now=time.time(),
                            submit_host=socket.gethostname()).to_json()


def submitter(socket_path: str, jobs: list[dict], scale: float, t0: float, as_users: bool,
              out) -> None:
    """Submit each job at ``t0`` + its scaled submit time, under its user's uid when
    ``as_users`` (the socket's peer credentials name the submitter); sends back
    (index, job id, lateness in wall seconds) of each."""
    try:
        spec0 = template()
        done = []
        for job in jobs:
            due = t0 + job["submit"] / scale
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            spec = submission(job, spec0, scale)
            if as_users:
                os.setegid(job["gid"])
                os.seteuid(job["uid"])
            try:
                client = Client(socket_path, timeout=120)
                job_id = client.submit(spec)["job_id"]
                client.close()
            finally:
                if as_users:
                    os.seteuid(0)
                    os.setegid(0)
            done.append((job["index"], job_id, time.time() - due))
        out.send(done)
    except Exception as e:  # noqa: BLE001 - said to the parent, which stops the run
        out.send(f"submitter: {type(e).__name__}: {e}")
    out.close()


# ---------------------------------------------------------------------- controllers


def duration(seconds: float) -> str:
    """Whole seconds as a Slurm duration (minutes:seconds)."""
    s = max(1, round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def controllers(root: Path, opts, nodes: int) -> dict[str, EmulatedCluster]:
    """The two homes: ``auto`` (the self-tuner) and ``easy`` (EASY, requested times)."""
    base = {"kill_wait": 2, "scheduler_interval": opts.interval, "policy": "easy",
            "order": "submit"}
    tuned = {"auto_every": duration(opts.every * HOUR / opts.scale),
             "auto_window": duration(opts.window * HOUR / opts.scale),
             "auto_min_jobs": opts.min_jobs}
    fixed = {"predictor": "user", "correction": "limit", "backfill_order": "queue"}
    made = {}
    for name, settings in (("auto", {**base, **tuned}), ("easy", {**base, **fixed})):
        made[name] = EmulatedCluster.create(root / name / "home", root / name / "work",
                                            count=nodes, cpus=opts.cpus, mem_mib=MEM,
                                            settings=settings, cluster=CLUSTER,
                                            command_timeout=300)
    # write_config writes Python literals: a boolean goes in by hand.
    config = made["auto"].home / "config.toml"
    config.write_text(config.read_text().replace("[controller]\n", "[controller]\nauto = true\n", 1))
    return made


def wait_drained(clusters: dict[str, EmulatedCluster], pipes: dict, deadline: float,
                 began: float, scale: float, console: Console) -> dict[str, list]:
    """Until every submitter has reported and no job is pending or running anywhere;
    what each submitter reported.  Progress (and each new tuning of ``auto``) every 20 s."""
    clients = {name: Client(c.socket, timeout=120) for name, c in clusters.items()}
    submitted: dict[str, list] = {}
    seen, last = 0, 0.0
    while True:
        for name, receive in pipes.items():
            if name not in submitted and receive.poll():
                done = receive.recv()
                if isinstance(done, str):
                    raise RuntimeError(f"{name}: {done}")
                submitted[name] = done
        counts = {name: client.status()["jobs"] for name, client in clients.items()}
        active = sum(c.get("PENDING", 0) + c.get("RUNNING", 0) for c in counts.values())
        if len(submitted) == len(pipes) and active == 0:
            return submitted
        if time.time() > deadline:
            raise TimeoutError(f"{active} jobs still active at the deadline")
        if time.time() - last > 20:
            last = time.time()
            decisions = clients["auto"].tuning()["decisions"]
            for d in decisions[seen:]:
                console.print(f"    tuning at {(d['time'] - began) * scale / HOUR:.1f} h: "
                              f"{d['jobs']} jobs, {d['current']} -> {d['chosen']}"
                              f"{' (applied)' if d['applied'] else ''}")
            seen = len(decisions)
            console.print(f"  {(time.time() - began) * scale / HOUR:5.1f} h of stream: " + "; ".join(
                f"{name} {c.get('PENDING', 0)} pending, {c.get('RUNNING', 0)} running"
                for name, c in counts.items()))
        time.sleep(1.0)


# ---------------------------------------------------------------------- measuring


def schedule_metrics(wait: np.ndarray, runtime: np.ndarray, scale: float) -> dict:
    """Stream-time waits and true runtimes -> the table's numbers."""
    bsld = np.maximum((wait + runtime) / np.maximum(runtime, BOUND), 1.0)
    coarse = np.maximum((wait + runtime) / np.maximum(runtime, BOUND * scale), 1.0)
    return {"jobs": int(wait.size), "avg_bsld": float(bsld.mean()),
            "avg_bsld_tuner_bound": float(coarse.mean()),
            "avg_wait_h": float(wait.mean() / HOUR), "max_wait_h": float(wait.max() / HOUR)}


def analyse(rows: list[dict], ids: dict[int, int], jobs: list[dict], scale: float) -> dict:
    """One controller's accounting records (``ids``: stream index -> job id)."""
    by_id = {r["job_id"]: r for r in rows}
    states: dict[str, int] = {}
    missing = not_final = 0
    wait = np.full(len(jobs), np.nan)
    measured_run = np.full(len(jobs), np.nan)
    for index, job_id in ids.items():
        row = by_id.get(job_id)
        if row is None:
            missing += 1
            continue
        states[row["state"]] = states.get(row["state"], 0) + 1
        if row["state"] not in FINAL:
            not_final += 1
        if row["start_time"] is not None:
            wait[index] = (row["start_time"] - row["submit_time"]) * scale
            if row["end_time"] is not None:
                measured_run[index] = (row["end_time"] - row["start_time"]) * scale
    missing += len(jobs) - len(ids)
    runtime = np.array([j["runtime"] for j in jobs])
    started = ~np.isnan(wait)
    out = schedule_metrics(wait[started], runtime[started], scale)
    gap = np.abs(measured_run - runtime)[~np.isnan(measured_run)]
    out.update(states=states, missing=missing, not_final=not_final,
               users=len({by_id[i]["user"] for i in ids.values() if i in by_id}),
               run_gap_median_s=float(np.median(gap)) if gap.size else None,
               run_gap_p95_s=float(np.percentile(gap, 95)) if gap.size else None,
               waits_s=[None if math.isnan(w) else round(float(w), 1) for w in wait])
    return out


def twin_reference(jobs: list[dict], opts, s: float) -> dict:
    """The stream at clock x``s`` through the twin: EASY with requested times, and the
    tuner at the live controller's period and window (its decisions too)."""
    from kairos.core.jobs import Job, Request
    from kairos.sim.replay import replay
    from kairos.sim.tuning import Tuner
    from kairos.sim.workload import Workload, on_nodes

    core = [Job(j["index"] + 1, str(j["uid"]), j["submit"] / s, Request(nodes=1, tasks=j["procs"]),
                j["time_limit"] / s, group=str(j["gid"]), account=str(j["gid"]))
            for j in jobs]
    workload = Workload("auto-live", opts.streams * opts.procs, core,
                        {j["index"] + 1: j["runtime"] / s for j in jobs})
    workload, _ = on_nodes(workload, opts.cpus)

    def machine():
        return on_nodes(workload, opts.cpus)[1]

    runtime = np.array([j["runtime"] for j in jobs])
    out = {}
    for name in ("easy", "auto"):
        tuner = None
        if name == "auto":
            tuner = Tuner(machine, every=opts.every * HOUR / s, window=opts.window * HOUR / s,
                          min_jobs=opts.min_jobs)
        result = replay(workload, "easy", "submit", cluster=machine(), tuner=tuner)
        starts = {j.id: j.start - j.submit for j in result.jobs}
        wait = np.array([starts[j["index"] + 1] for j in jobs]) * s
        out[name] = schedule_metrics(wait, runtime, opts.scale)
        if tuner is not None:
            out[name]["decisions"] = [d.as_dict() for d in tuner.decisions]
    return out


def ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def tuning_summary(decisions: list[dict]) -> str:
    switches = sum(1 for d in decisions if d["applied"])
    return f"{len(decisions)} / {switches}"


# ---------------------------------------------------------------------- the table


def table(result: dict) -> Table:
    live, twin = result["live"], result["twin"]
    t = Table(title=f"{result['stream']['jobs']} jobs, {result['options']['hours']:g} h of "
                    f"{result['options']['streams']} Lublin streams (offered load "
                    f"{result['stream']['offered_load']:.2f}) on {result['nodes']} nodes x "
                    f"{result['options']['cpus']} CPUs, clock x{result['options']['scale']:g}; "
                    f"stream time")
    for column in ("controller", "jobs", "avg bsld", f"avg bsld @{BOUND * result['options']['scale']:g} s",
                   "avg wait (h)", "max wait (h)", "tunings / switches"):
        t.add_column(column, justify="left" if column == "controller" else "right")

    def row(label, m, tunings):
        t.add_row(label, str(m["jobs"]), f"{m['avg_bsld']:.2f}", f"{m['avg_bsld_tuner_bound']:.3f}",
                  f"{m['avg_wait_h']:.3f}", f"{m['max_wait_h']:.2f}", tunings)

    row("live auto", live["auto"], tuning_summary(result["tuning"]["decisions"]))
    row("live easy", live["easy"], "-")
    def ratios(r):
        t.add_row("  ratio auto / easy", "", number(r["avg_bsld"]), "", "", number(r["max_wait"]), "")

    ratios(result["ratio"])
    row("twin auto", twin["auto"], tuning_summary(twin["auto"]["decisions"]))
    row("twin easy", twin["easy"], "-")
    ratios(result["twin_ratio"])
    unscaled = result["twin_unscaled"]
    row("twin auto, clock x1", unscaled["auto"], tuning_summary(unscaled["auto"]["decisions"]))
    row("twin easy, clock x1", unscaled["easy"], "-")
    ratios(result["twin_unscaled_ratio"])
    return t


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def decisions_table(decisions: list[dict], began: float, scale: float, title: str) -> Table:
    t = Table(title=title)
    for column in ("at (h)", "jobs", "current", "chosen", "applied", "gain [95%]",
                   "candidates: avg bsld / max wait (h)"):
        t.add_column(column)
    for d in decisions:
        trials = ", ".join(f"{x['config']} {x['avg_bsld']:.2f}/{x['max_wait'] * scale / HOUR:.1f}"
                           for x in d["trials"])
        t.add_row(f"{(d['time'] - began) * scale / HOUR:.1f}", str(d["jobs"]), d["current"],
                  d["chosen"], "yes" if d["applied"] else "no",
                  f"{d['gain']:.2f} [{d['gain_low']:.2f}, {d['gain_high']:.2f}]", trials)
    return t


# ---------------------------------------------------------------------- the run


def run(opts, console: Console) -> dict:
    jobs = make_stream(opts)
    nodes = -(-opts.streams * opts.procs // opts.cpus)
    load = offered_load(jobs, opts)
    console.print(f"stream: {len(jobs)} jobs from {opts.streams} Lublin streams, offered load "
                  f"{load:.2f}; {nodes} nodes of {opts.cpus} CPUs; clock x{opts.scale:g}")
    twin = twin_reference(jobs, opts, opts.scale)
    unscaled = twin_reference(jobs, opts, 1.0)
    as_users = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="kairos-auto-live-"))
    root.chmod(0o711)  # the submitting users reach the controllers' sockets below it
    clusters = controllers(root, opts, nodes)
    result: dict = {"options": {k: v for k, v in vars(opts).items() if k not in ("json", "keep")},
                    "nodes": nodes, "as_users": as_users,
                    "stream": {"jobs": len(jobs), "offered_load": load,
                               "per_stream": [sum(1 for j in jobs if j["stream"] == k)
                                              for k in range(opts.streams)]},
                    "twin": twin,
                    "twin_ratio": {"avg_bsld": ratio(twin["auto"]["avg_bsld"], twin["easy"]["avg_bsld"]),
                                   "max_wait": ratio(twin["auto"]["max_wait_h"],
                                                     twin["easy"]["max_wait_h"])},
                    "twin_unscaled": unscaled,
                    "twin_unscaled_ratio": {
                        "avg_bsld": ratio(unscaled["auto"]["avg_bsld"], unscaled["easy"]["avg_bsld"]),
                        "max_wait": ratio(unscaled["auto"]["max_wait_h"],
                                          unscaled["easy"]["max_wait_h"])}}
    procs = []
    try:
        for name, cluster in clusters.items():
            cluster.up()
            cluster.start_emulator(timeout=120)
            console.print(f"  {name}: controller and {nodes} emulated nodes up")
        result["config"] = {name: (c.home / "config.toml").read_text()
                            for name, c in clusters.items()}
        ctx = multiprocessing.get_context("fork")
        t0 = time.time() + 2.0
        pipes = {}
        for name, cluster in clusters.items():
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=submitter, args=(str(cluster.socket), jobs, opts.scale,
                                                       t0, as_users, send))
            proc.start()
            procs.append(proc)
            pipes[name] = receive
        timeout = opts.timeout or (opts.hours + 72) * HOUR / opts.scale + 120
        submitted = wait_drained(clusters, pipes, t0 + timeout, t0, opts.scale, console)
        for proc in procs:
            proc.join()
        result["drain_wall_s"] = time.time() - t0
        live = {}
        for name, cluster in clusters.items():
            rows = Client(cluster.socket, timeout=300).accounting(start=0)
            ids = {index: job_id for index, job_id, _ in submitted[name]}
            live[name] = analyse(rows, ids, jobs, opts.scale)
            late = [lateness * opts.scale for _, _, lateness in submitted[name]]
            live[name]["submit_lateness_median_s"] = float(np.median(late))
            live[name]["submit_lateness_max_s"] = float(np.max(late))
        result["live"] = live
        result["ratio"] = {"avg_bsld": ratio(live["auto"]["avg_bsld"], live["easy"]["avg_bsld"]),
                           "max_wait": ratio(live["auto"]["max_wait_h"], live["easy"]["max_wait_h"])}
        auto = clusters["auto"]
        result["tuning"] = Client(auto.socket, timeout=120).tuning()
        result["easy_planning"] = Client(clusters["easy"].socket, timeout=120).tuning()["current"]
        tune = subprocess.run([auto.executable, "tune"], env=auto.env, cwd=auto.workdir,
                              capture_output=True, text=True, timeout=120)
        result["kairos_tune"] = {"returncode": tune.returncode, "stdout": tune.stdout,
                                 "stderr": tune.stderr}
        result["t0"] = t0
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
        for cluster in clusters.values():
            cluster.stop()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


def main(argv=None) -> int:
    opts = options(argv)
    console = Console(width=160)
    result = run(opts, console)
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(result, indent=2))
    console.print(table(result))
    for name, m in result["live"].items():
        console.print(f"{name}: final states "
                      + ", ".join(f"{k} {v}" for k, v in sorted(m["states"].items()))
                      + f"; {m['users']} users; missing {m['missing']}, not final {m['not_final']}; "
                      f"submissions late "
                      f"by {m['submit_lateness_median_s']:.1f} s (median), "
                      f"{m['submit_lateness_max_s']:.0f} s (max); measured - true runtime "
                      f"{m['run_gap_median_s']:.1f} s (median), {m['run_gap_p95_s']:.0f} s (95th pct)"
                      " of stream time")
    console.print(f"easy plans with {result['easy_planning']['label']}; auto with "
                  f"{result['tuning']['current']['label']} at the end")
    console.print(decisions_table(result["tuning"]["decisions"], result["t0"], opts.scale,
                                  "live auto: the tuner's decisions (stream hours)"))
    console.print(decisions_table(result["twin"]["auto"]["decisions"], 0.0, opts.scale,
                                  "twin auto: the tuner's decisions (stream hours)"))
    console.print(decisions_table(result["twin_unscaled"]["auto"]["decisions"], 0.0, 1.0,
                                  "twin auto, clock x1: the tuner's decisions (stream hours)"))
    console.print("kairos tune (against the auto controller):")
    console.print(result["kairos_tune"]["stdout"], markup=False, highlight=False)
    lost = any(m["missing"] or m["not_final"] for m in result["live"].values())
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
