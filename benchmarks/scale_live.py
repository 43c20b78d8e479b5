"""The live manager at cluster scale: a real controller, its API and its database, with
one ``kairos node --emulate`` process standing for every node.

    .venv/bin/python benchmarks/scale_live.py                         # 14,000 nodes, 60,000 jobs, SQLite
    .venv/bin/python benchmarks/scale_live.py --database postgresql   # the same on PostgreSQL
    .venv/bin/python benchmarks/scale_live.py --nodes 14000 --jobs 20000 --backlog 0.75
    .venv/bin/python benchmarks/scale_live.py --nodes 2000 --jobs 8600 --runs 3
    .venv/bin/python benchmarks/scale_live.py --profile ctl.prof   # the controller under cProfile

The scenario: ``--nodes`` emulated nodes of 64 CPUs and 256 GiB (``kairos.node.emulation``:
jobs run for their ``KAIROS_EMULATE_RUNTIME`` without processes), a controller with EASY
backfilling and, by default, the queue in submit order (``--order multifactor`` is
Kairos's default order, but the core charges fair share to every running job at each
submission, which a machine running 14,000 jobs cannot afford; see
docs/scale-benchmarks.md), heartbeats every 30 s and Slurm's 300 s node timeout.
``--submitters`` processes submit through the API, one job per request, each process
with its own keep-alive connection and, when run as root, as a different system user
(so that ``squeue -u`` has someone to pick).  Nine jobs in ten take one whole node
(``-N1 --exclusive``), one in ten 2 to 16 whole nodes; runtimes are log-uniform between
``--min-runtime`` and ``--max-runtime`` (default 1 s to 2 min: a full machine of 14,000
nodes then frees several hundred nodes a second), time limits 10 minutes.

Two phases: ``--backlog`` of the jobs are submitted held (the machine idle) and released
at once (``scontrol release``), which fills the machine and leaves jobs waiting; the
rest are submitted while the machine runs.  Measured (wall clock; the machine is shared,
so ``--runs`` repeats and the table gives medians), the rates from every job's
accounting record afterwards:

* **registration**: the emulator's start until every node is in service;
* **held backlog**: its submit rate, and the time from the release until 95 % of the
  nodes are allocated (and the peak allocation);
* **starts/s**: jobs started per second from the release until the last job of the
  backlog started (jobs were waiting all along), and the mean allocation meanwhile
  (below 100 %: starts fell behind the ends); and from the release to the last start
  of all (the queue may run dry when submissions are slower than ends);
* **submit rate while the machine runs**: the second phase, and the allocation meanwhile;
* **squeue**: the whole ``kairos squeue`` command with every job of the run in the
  controller's memory (``-t all``, right after the second phase), the default view
  (pending and running), and ``-u USER`` for one submitting user (median of 3 each,
  output counted, not printed);
* **memory**: the controller's peak resident memory (sampled every 0.5 s);
* **nothing lost**: after the last end, ``sacct`` (the API's accounting) has every job
  with a final state, counted by state.

Raw numbers go to ``--json`` (default ``benchmarks/results/scale_live.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import pwd
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from kairos.cli.client import Client  # noqa: E402
from kairos.testing.emulated import EmulatedCluster  # noqa: E402

CPUS, MEM = 64, 256 * 1024
SETTINGS = {"scheduler_interval": 1.0, "kill_wait": 2}
CLUSTER = {"heartbeat_interval": 30, "node_timeout": 300}
#: System users the submitters take turns as when run as root (those that exist).
USERS = ("root", "daemon", "bin", "sys", "games", "man", "lp", "mail", "news", "nobody")
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
         "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


def options(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=14_000)
    p.add_argument("--jobs", type=int, default=60_000)
    p.add_argument("--runs", type=int, default=1, help="repeat the whole run; medians")
    p.add_argument("--submitters", type=int, default=8, help="submitting processes")
    p.add_argument("--backlog", type=float, default=0.5,
                   help="share of the jobs submitted held and released at once")
    p.add_argument("--min-runtime", type=float, default=1.0)
    p.add_argument("--max-runtime", type=float, default=120.0)
    p.add_argument("--multi-node", type=float, default=0.1,
                   help="share of jobs on 2 to 16 nodes")
    p.add_argument("--order", choices=("submit", "multifactor"), default="submit",
                   help="the controller's queue order (see the docstring)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres-url", default=os.environ.get(
        "KAIROS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=1800, help="give up after (s)")
    p.add_argument("--keep", action="store_true", help="keep the temporary home")
    p.add_argument("--profile", type=Path, default=None,
                   help="run the controller under cProfile, its profile written here")
    p.add_argument("--json", type=Path, default=REPO / "benchmarks/results/scale_live.json")
    return p.parse_args(argv)


# ---------------------------------------------------------------------- submitting


def job_specs(opts, template: dict, count: int, seed: int) -> list[dict]:
    """``count`` submissions drawn from the scenario."""
    rng = random.Random(seed)
    low, high = math.log(opts.min_runtime), math.log(opts.max_runtime)
    specs = []
    for _ in range(count):
        spec = dict(template)
        spec["environment"] = {**template["environment"],
                               "KAIROS_EMULATE_RUNTIME": f"{math.exp(rng.uniform(low, high)):.1f}"}
        if rng.random() < opts.multi_node:
            spec["nodes"] = spec["ntasks"] = int(2 ** rng.uniform(1, 4.01))
        specs.append(spec)
    return specs


def submitter(socket_path: str, user: str | None, specs: list[dict], out) -> None:
    """One submitting process: as ``user`` (when root), one job per request; sends
    back the (time, job id) of each accepted job."""
    if user is not None and os.geteuid() == 0 and user != "root":
        pw = pwd.getpwnam(user)
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    try:
        client = Client(socket_path, timeout=600)
        done = []
        for spec in specs:
            done.append((time.time(), client.submit(spec)["job_id"]))
        out.send(done)
    except Exception as e:  # noqa: BLE001 - said to the parent, which stops the run
        out.send(f"submitter as {user}: {type(e).__name__}: {e}")
    out.close()


def scenario(opts) -> list[dict]:
    from kairos.slurm.sbatch import parse_submission

    env = {"PATH": "/usr/bin:/bin"}
    template = parse_submission(
        ["-N1", "--exclusive", "-t", "10", "-o", "/dev/null", "--wrap", "true"],
        cwd="/tmp", env=env, now=time.time(), submit_host=socket.gethostname()).to_json()
    return job_specs(opts, template, opts.jobs, opts.seed)


def submit_all(cluster: EmulatedCluster, opts, users: list[str],
               specs: list[dict]) -> list[tuple[float, int, str]]:
    """Submit ``specs`` from ``opts.submitters`` processes; (time, job id, user) each."""
    ctx = multiprocessing.get_context("fork")
    procs, pipes = [], []
    for k in range(opts.submitters):
        receive, send = ctx.Pipe(duplex=False)
        user = users[k % len(users)]
        proc = ctx.Process(target=submitter, args=(str(cluster.socket), user,
                                                   specs[k::opts.submitters], send))
        proc.start()
        procs.append(proc)
        pipes.append((receive, user))
    accepted = []
    for receive, user in pipes:
        done = receive.recv()
        if isinstance(done, str):
            raise RuntimeError(done)
        accepted.extend((t, job_id, user) for t, job_id in done)
    for proc in procs:
        proc.join()
    return sorted(accepted)


def usable_users(count: int) -> list[str]:
    if os.geteuid() != 0:
        return [pwd.getpwuid(os.geteuid()).pw_name]
    names = []
    for name in USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        names.append(name)
    return names[:max(1, count)]


# ---------------------------------------------------------------------- watching


class Watcher(threading.Thread):
    """Samples the controller's resident memory every 0.5 s (from /proc: nothing asked
    of the controller)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.samples: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            try:
                self.samples.append(self.proc.memory_info().rss)
            except Exception:  # noqa: BLE001 - a sample missed is no result lost
                continue

    def peak_rss(self) -> int:
        return max(self.samples, default=0)


def timed_command(cluster: EmulatedCluster, *args: str, runs: int = 3) -> tuple[float, int]:
    """Median wall time of ``kairos ARGS`` (output counted, not kept) and its lines."""
    times, lines = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        out = subprocess.run([cluster.executable, *args], env=cluster.env, cwd=cluster.workdir,
                             capture_output=True, text=True, check=True, timeout=300).stdout
        times.append(time.perf_counter() - began)
        lines = max(0, out.count("\n") - 1)  # less the header
    return statistics.median(times), lines


# ---------------------------------------------------------------------- one run


def database(opts):
    """The ``[database]`` TOML of this run and what drops it afterwards."""
    if opts.database == "sqlite":
        return "", lambda: None
    import sqlalchemy as sa
    from urllib.parse import quote

    schema = f"kairos_scale_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(opts.postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in opts.postgres_url else "?"
    url = f"{opts.postgres_url}{separator}options={quote(f'-csearch_path={schema}')}"

    def drop():
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    return f'\n[database]\nurl = "{url}"\n', drop


def one_run(opts, console: Console) -> dict:
    root = Path(tempfile.mkdtemp(prefix="kairos-scale-"))
    root.chmod(0o711)  # the submitting users reach the controller's socket below it
    extra, drop = database(opts)
    settings = {**SETTINGS, "order": opts.order}
    cluster = EmulatedCluster.create(root / "home", root / "work", count=opts.nodes, cpus=CPUS,
                                     mem_mib=MEM, settings=settings, cluster=CLUSTER,
                                     extra_config=extra, command_timeout=300)
    result: dict = {"nodes": opts.nodes, "jobs": opts.jobs, "database": opts.database,
                    "order": opts.order}
    watcher = None
    try:
        if opts.profile is not None:
            start_profiled(cluster, opts.profile)
        else:
            cluster.up()
        pid = int((cluster.home / "kairos.pid").read_text().split()[0])
        watcher = Watcher(pid)
        watcher.start()
        began = time.perf_counter()
        cluster.start_emulator(timeout=600)
        result["registration_s"] = time.perf_counter() - began
        console.print(f"  {opts.nodes:,} nodes registered in {result['registration_s']:.1f} s")

        users = usable_users(opts.submitters)
        specs = scenario(opts)
        held = int(opts.jobs * opts.backlog)
        squeue: dict = {}

        def measure_squeue():
            # Every job is in memory once all are submitted (finished ones stay MinJobAge).
            squeue["all"] = timed_command(cluster, "squeue", "-t", "all")
            squeue["active"] = timed_command(cluster, "squeue")
            squeue["user"] = timed_command(cluster, "squeue", "-u", users[-1])

        # 1. A held backlog, released at once: the machine fills, the rest waits.
        began = time.time()
        backlog = submit_all(cluster, opts, users, [{**spec, "hold": True} for spec in specs[:held]])
        result["held_submit_per_s"] = len(backlog) / (time.time() - began)
        console.print(f"  {len(backlog):,} held jobs submitted at "
                      f"{result['held_submit_per_s']:,.0f}/s by {len(users)} user(s)")
        control = Client(cluster.socket, timeout=600)
        released_at = time.time()
        ids = [str(job_id) for _, job_id, _ in backlog]
        for i in range(0, len(ids), 5000):
            control.release(ids[i:i + 5000])
        result["release_s"] = time.time() - released_at
        wait_full(cluster, opts.nodes, specs[:held], opts.timeout)
        console.print(f"  released in {result['release_s']:.1f} s; the machine filled in "
                      f"{time.time() - released_at:.1f} s")
        # 2. The rest, submitted while the machine is full.
        began = time.time()
        accepted = submit_all(cluster, opts, users, specs[held:])
        second = (began, time.time())
        result["full_submit_s"] = time.time() - began
        console.print(f"  {len(accepted):,} jobs submitted while full in "
                      f"{result['full_submit_s']:.1f} s")
        accepted = sorted(backlog + accepted)
        measure_squeue()
        console.print("  squeue: " + ", ".join(f"{k} {v[0] * 1000:.0f} ms ({v[1]:,} lines)"
                                               for k, v in squeue.items()))
        began = released_at
        rows = wait_drained(cluster, len(accepted), opts.timeout, console)
        result["drain_s"] = time.time() - began
        result["peak_rss_mib"] = watcher.peak_rss() / 2**20
        began_sacct = time.perf_counter()
        rows = Client(cluster.socket, timeout=600).accounting(start=0)
        result["sacct_s"] = time.perf_counter() - began_sacct
        result.update(analyse(rows, accepted, opts.nodes, released_at, second,
                              {job_id for _, job_id, _ in backlog}))
        result["squeue_all_s"], result["squeue_all_lines"] = squeue["all"]
        result["squeue_active_s"], result["squeue_active_lines"] = squeue["active"]
        result["squeue_user_s"], result["squeue_user_lines"] = squeue["user"]
        result["squeue_user"] = users[-1]
    finally:
        if watcher is not None:
            watcher.stopping.set()
            if opts.profile is not None:
                os.kill(watcher.proc.pid, signal.SIGUSR1)
                time.sleep(5)
        cluster.stop()
        drop()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


#: The controller under cProfile; SIGUSR1 writes the profile (and ends profiling).
PROFILED = """
import cProfile, signal, sys
from kairos.server import daemon
profile = cProfile.Profile()
signal.signal(signal.SIGUSR1, lambda *_: profile.dump_stats(sys.argv[1]))
profile.enable()
daemon.main()
"""


def start_profiled(cluster: EmulatedCluster, out: Path) -> None:
    """The controller under cProfile (slower: for finding where its time goes); its
    profile is written to ``out`` before it is stopped."""
    out.parent.mkdir(parents=True, exist_ok=True)
    log = open(cluster.home / "kairos.log", "ab")
    subprocess.Popen([sys.executable, "-c", PROFILED, str(out.resolve())], env=cluster.env,
                     cwd=cluster.home, stdout=log, stderr=log, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 60
    while not cluster.socket.exists() or not (cluster.home / "kairos.pid").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the profiled controller did not start")
        time.sleep(0.1)
    time.sleep(1.0)


def wait_full(cluster: EmulatedCluster, nodes: int, specs: list[dict], timeout: float) -> None:
    """Until about 95 % of the nodes are allocated, judged from the count of running
    jobs (``/status`` is cheap; the node list of 14,000 nodes is not), or the count
    stops growing: the exact times come from the accounting afterwards."""
    client = Client(cluster.socket, timeout=300)
    per_job = statistics.mean(spec["nodes"] for spec in specs)
    began = best_at = time.time()
    best = 0
    while True:
        counts = client.status()["jobs"]
        running = counts.get("RUNNING", 0)
        if running * per_job >= 0.95 * nodes or not counts.get("PENDING"):
            return
        if running > best:
            best, best_at = running, time.time()
        elif time.time() - best_at > 15:  # ends keep up with starts: as full as it gets
            return
        if time.time() - began > timeout:
            raise TimeoutError(f"the machine was not full after {timeout:g} s")
        time.sleep(1.0)


def wait_drained(cluster: EmulatedCluster, count: int, timeout: float, console: Console):
    """Until no job is pending or running."""
    client = Client(cluster.socket, timeout=300)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        counts = client.status()["jobs"]
        active = counts.get("PENDING", 0) + counts.get("RUNNING", 0)
        if active == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{active} of {count} jobs still active after {timeout:g} s")
        if last is None or time.monotonic() - last > 15:
            console.print(f"    {counts.get('PENDING', 0):,} pending, "
                          f"{counts.get('RUNNING', 0):,} running")
            last = time.monotonic()
        time.sleep(1.0)


def analyse(rows: list[dict], accepted: list[tuple[float, int, str]], nodes: int,
            released_at: float, second: tuple[float, float], backlog: set[int]) -> dict:
    """Rates and the nothing-lost check from the accounting records (``second``: when
    the second phase's submissions began and ended; ``backlog``: the released jobs)."""
    ids = {job_id for _, job_id, _ in accepted}
    mine = [r for r in rows if r["job_id"] in ids]
    states: dict[str, int] = {}
    for r in mine:
        states[r["state"]] = states.get(r["state"], 0) + 1
    missing = len(ids - {r["job_id"] for r in mine})
    not_final = sum(1 for r in mine if r["state"] not in FINAL)
    # Allocated nodes over time, from each job's start, end and node count.
    changes: list[tuple[float, int]] = []
    for r in mine:
        if r["start_time"] is not None and r["end_time"] is not None:
            changes += [(r["start_time"], r["nodes"]), (r["end_time"], -r["nodes"])]
    changes.sort()
    full_at, busy, peak = None, 0, 0
    for t, delta in changes:
        busy += delta
        peak = max(peak, busy)
        if full_at is None and busy >= 0.95 * nodes:
            full_at = t
    out = {"states": states, "missing": missing, "not_final": not_final,
           "fill_s": None if full_at is None else full_at - released_at,
           "peak_allocation": peak / nodes}
    # Until the last job of the released backlog started, jobs were always waiting: the
    # controller started them as fast as it could, or as fast as nodes freed up (then
    # the allocation stays near 100 %).  Later the queue may run dry between submissions.
    backlog_starts = [r["start_time"] for r in mine
                      if r["job_id"] in backlog and r["start_time"] is not None]
    if backlog_starts and max(backlog_starts) > released_at:
        last = max(backlog_starts)
        out["backlog_starts_per_s"] = sum(
            1 for r in mine if r["start_time"] is not None
            and released_at <= r["start_time"] <= last) / (last - released_at)
        out["allocation_backlog"] = _mean_busy(changes, released_at, last) / nodes
    starts = sorted(r["start_time"] for r in mine
                    if r["start_time"] is not None and r["start_time"] >= released_at)
    if len(starts) > 1:
        window = starts[-1] - released_at
        out["starts_per_s"] = len(starts) / window
        per_second = dict.fromkeys(range(int(released_at), int(starts[-1]) + 1), 0)
        for t in starts:
            per_second[int(t)] += 1
        out["starts_per_s_median_second"] = statistics.median(per_second.values())
        out["window_s"] = window
        out["allocation_in_window"] = _mean_busy(changes, released_at, starts[-1]) / nodes
    first, last = second
    if last > first:
        out["second_submit_per_s"] = sum(1 for t, _, _ in accepted if first <= t <= last) \
            / (last - first)
        out["allocation_second"] = _mean_busy(changes, first, last) / nodes
    return out


def _mean_busy(changes: list[tuple[float, int]], start: float, end: float) -> float:
    busy, area, last = 0, 0.0, start
    for t, delta in changes:
        if t > start:
            area += busy * (min(t, end) - last)
            last = min(t, end)
        if t >= end:
            break
        busy += delta
    return area / (end - start) if end > start else 0.0


# ---------------------------------------------------------------------- the table


def table(results: list[dict]) -> Table:
    def med(key, scale=1.0):
        values = [r[key] for r in results if r.get(key) is not None]
        return statistics.median(values) * scale if values else float("nan")

    first = results[0]
    t = Table(title=f"{first['nodes']:,} emulated nodes, {first['jobs']:,} jobs, "
                    f"{first['database']}, {first['order']} order ({len(results)} run(s), "
                    f"medians)")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("target", justify="right")
    rows = [
        ("registration of every node", f"{med('registration_s'):.1f} s", ""),
        ("submit rate, held backlog (API, 1 job/request)", f"{med('held_submit_per_s'):,.0f}/s", ""),
        ("filling the machine: release to 95 % allocated", f"{med('fill_s'):.1f} s", ""),
        ("  peak allocation", f"{med('peak_allocation', 100):.1f} %", ""),
        ("starts/s while the released backlog waited", f"{med('backlog_starts_per_s'):,.0f}/s",
         ">= 1,000/s"),
        ("  allocation meanwhile", f"{med('allocation_backlog', 100):.1f} %", "~100 %"),
        ("starts/s, release to last start", f"{med('starts_per_s'):,.0f}/s", ""),
        ("  median starts in one second of that window",
         f"{med('starts_per_s_median_second'):,.0f}", ""),
        ("  allocation over that window", f"{med('allocation_in_window', 100):.1f} %", ""),
        ("submit rate, second phase (machine busy)", f"{med('second_submit_per_s'):,.0f}/s",
         ">= 2,000/s"),
        ("  allocation meanwhile", f"{med('allocation_second', 100):.1f} %", ""),
        (f"squeue -t all ({first.get('squeue_all_lines', 0):,} jobs)",
         f"{med('squeue_all_s', 1000):,.0f} ms", "< 1 s"),
        (f"squeue ({first.get('squeue_active_lines', 0):,} pending+running)",
         f"{med('squeue_active_s', 1000):,.0f} ms", ""),
        (f"squeue -u {first.get('squeue_user')} ({first.get('squeue_user_lines', 0):,} jobs)",
         f"{med('squeue_user_s', 1000):,.0f} ms", "< 150 ms"),
        ("controller peak memory (RSS)", f"{med('peak_rss_mib'):,.0f} MiB", ""),
        ("sacct of every job (API)", f"{med('sacct_s', 1000):,.0f} ms", ""),
        ("submission to last end", f"{med('drain_s'):.0f} s", ""),
        ("jobs missing from sacct / not final", f"{first['missing']} / {first['not_final']}", "0 / 0"),
        ("final states", ", ".join(f"{k} {v:,}" for k, v in sorted(first["states"].items())), ""),
    ]
    for row in rows:
        t.add_row(*row)
    return t


def main(argv=None) -> int:
    opts = options(argv)
    console = Console(width=110)
    results = []
    for run in range(opts.runs):
        console.print(f"run {run + 1} of {opts.runs}: {opts.nodes:,} nodes, {opts.jobs:,} jobs, "
                      f"{opts.database}")
        results.append(one_run(opts, console))
    console.print(table(results))
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    kept = {k: str(v) for k, v in vars(opts).items() if k not in ("json", "profile", "keep")}
    opts.json.write_text(json.dumps({"options": kept,
                                     "runs": results}, indent=2))
    lost = any(r["missing"] or r["not_final"] for r in results)
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
