"""Live-mode speed, Kairos beside a real Slurm 22.05 on the same machine.

    .venv/bin/python benchmarks/live.py                     # Kairos and the Slurm peer
    .venv/bin/python benchmarks/live.py --no-peer           # Kairos only
    .venv/bin/python benchmarks/live.py --jobs 1000 --queued 10000 --markdown docs/live-benchmarks.md
    .venv/bin/python benchmarks/live.py --reuse-peer        # peer numbers from the last run's JSON

What is measured, each from an idle, freshly started controller (a temporary
``KAIROS_HOME`` with its own SQLite database; ``kairos down`` at the end):

1. Submissions per second.  Through the command line: ``--cli-submits`` held
   ``sbatch --wrap true`` processes one after another, Kairos and the peer.  Through
   the Python API (Kairos only; Slurm 22.05 here has no REST daemon): ``--api-submits``
   held jobs from 1 client and from ``--api-clients`` client threads, each with its own
   keep-alive Unix-socket connection.  Jobs are held (``--hold``) so that running them
   does not compete with the submitters for the CPUs; they are cancelled afterwards.
2. Time to drain ``--jobs`` trivial jobs (``true``), from the first submission until the
   last one has finished: as one array and as single jobs.  Single jobs are submitted
   ``--parallel`` at a time: by API client threads for Kairos and by ``sbatch``
   processes for the peer (also by ``kairos sbatch`` processes, in a row of its own).
   Every job asks for ``--mem=100M`` (without it the peer, ``CR_Core_Memory`` with no
   default memory, gives each job the whole node and runs one at a time) and
   ``--nice=1000`` (so other people's jobs on the shared peer are not stuck behind these).
   The peer is done when ``squeue -r -n NAME`` lists none of them (it keeps no accounting).
3. ``squeue`` latency with ``--queued`` held jobs: the wall time of the whole command
   (median of ``--runs``).  The peer holds at most ``MaxJobCount`` job records, finished
   ones included for ``MinJobAge``, so it gets ``--peer-queued`` (or what fits).
4. Command-line start: ``kairos squeue`` against an idle controller, ``kairos --help``
   and ``python -c pass`` as the floor (median of ``--cold-runs``), and the slowest
   imports of ``kairos squeue`` by ``python -X importtime``.

Only job ids this run submitted are ever cancelled on the peer.  The ratio column says
how many times better Kairos did (above 1: Kairos is faster).  Raw numbers go to
``--json`` (default ``benchmarks/results/live.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
KAIROS = str(Path(sys.executable).parent / "kairos")
DEFAULT_PEER_START = REPO.parent / "shared" / "peers" / "slurm" / "start.sh"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "live.json"
#: what both systems' jobs ask for (see the module docstring)
JOB_OPTIONS = ("--output=/dev/null", "--mem=100M", "--nice=1000")
FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL")
PEER_UNAVAILABLE = "peer unavailable"

err = Console(stderr=True)


# ----------------------------------------------------------------------- results


@dataclass(frozen=True)
class Target:
    """A goal for one row: Kairos's own value, or its advantage over the peer."""

    text: str
    check: Callable[[float | None, float | None], bool | None]


def at_least(value: float, unit: str) -> Target:
    return Target(f">= {value:,.0f} {unit}", lambda kairos, ratio: None if kairos is None else kairos >= value)


def at_most(value: float, unit: str) -> Target:
    return Target(f"<= {value:,.0f} {unit}", lambda kairos, ratio: None if kairos is None else kairos <= value)


def faster_by(times: float) -> Target:
    return Target(f">= {times:g}x the peer", lambda kairos, ratio: None if ratio is None else ratio >= times)


@dataclass
class Row:
    """One line of the table: a measure, both systems' values and how they compare."""

    key: str
    measure: str
    unit: str  #: "jobs/s", "s" or "ms"
    kairos: float | None = None
    peer: float | None = None
    peer_note: str = ""  #: shown instead of a peer value ("n/a", "peer unavailable")
    higher_is_better: bool = False
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better Kairos did than the peer."""
        if not self.kairos or not self.peer:
            return None
        return self.kairos / self.peer if self.higher_is_better else self.peer / self.kairos

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        met = self.target.check(self.kairos, self.ratio)
        return "" if met is None else ("met" if met else "MISSED")

    def cells(self) -> list[str]:
        peer = self.peer_note if self.peer is None else _number(self.peer, self.unit)
        ratio = "" if self.ratio is None else (
            f"{self.ratio:.1f}x" if self.ratio >= 1 else f"{self.ratio:.2g}x")
        return [self.measure, _number(self.kairos, self.unit), peer, ratio,
                self.target.text if self.target else "", self.verdict]

    def to_json(self) -> dict:
        return {"key": self.key, "measure": self.measure, "unit": self.unit,
                "kairos": self.kairos, "peer": self.peer, "peer_note": self.peer_note,
                "ratio": self.ratio, "target": self.target.text if self.target else None,
                "verdict": self.verdict or None, "note": self.note}


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "jobs/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:,.1f} s"
    return f"{value:,.0f} ms"


COLUMNS = ("measure", "Kairos", "Slurm 22.05 peer", "Kairos vs peer", "target", "verdict")


@dataclass
class Report:
    """Everything one run found, for the table, the JSON file and the Markdown page."""

    rows: list[Row] = field(default_factory=list)
    imports: list[dict] = field(default_factory=list)
    peer_parameters: dict[str, str] = field(default_factory=dict)
    peer_cadence: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)  #: 1-minute load average, per phase
    peer_reused_from: str | None = None  #: the date of the run the peer numbers come from

    def sample_load(self) -> None:
        self.loads.append(os.getloadavg()[0])

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


# ----------------------------------------------------------------------- timing


def wall_seconds(argv: list[str], env: dict | None = None, cwd: Path | None = None) -> float:
    """Wall time of one command run to completion (output discarded)."""
    began = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def median_ms(argv: list[str], runs: int, env: dict | None = None, cwd: Path | None = None,
              label: str = "") -> float:
    """Median wall time in milliseconds over ``runs`` runs, after one unmeasured warm-up."""
    wall_seconds(argv, env, cwd)
    samples = []
    with progress_bar() as bar:
        task = bar.add_task(label or " ".join(argv[-2:]), total=runs)
        for _ in range(runs):
            samples.append(wall_seconds(argv, env, cwd) * 1000)
            bar.advance(task)
    return statistics.median(samples)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True)


def run_parallel(count: int, parallel: int, submit_one: Callable[[int], int],
                 label: str) -> list[int]:
    """``submit_one(i)`` for i in range(count), ``parallel`` at a time; the job ids."""
    ids: list[int] = []
    with progress_bar() as bar, ThreadPoolExecutor(parallel) as pool:
        task = bar.add_task(label, total=count)
        for job_id in pool.map(submit_one, range(count)):
            ids.append(job_id)
            bar.advance(task)
    return ids


def parsable_id(stdout: str) -> int:
    """The job id ``sbatch --parsable`` printed (``123`` or ``123;cluster``)."""
    return int(stdout.strip().split(";")[0])


# ----------------------------------------------------------------------- Kairos


class Kairos:
    """A private controller in a temporary ``KAIROS_HOME``, driven as users drive it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.workdir = root / "work"
        self.home.mkdir(parents=True)
        self.workdir.mkdir()
        # scheduler_interval is Kairos's default, written out: passes are also run at
        # once on every submission and every job exit.
        (self.home / "config.toml").write_text(
            "[controller]\nscheduler_interval = 1.0\nkill_wait = 2\n")
        self.env = dict(os.environ, KAIROS_HOME=str(self.home))
        self.env.pop("KAIROS_SOCKET", None)
        self.socket = self.home / "kairos.sock"
        self._clients: list = []
        self._control = None  #: the benchmark's own connection (status, cancel)

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([KAIROS, *args], env=self.env, cwd=self.workdir,
                              capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            raise RuntimeError(f"kairos {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def up(self) -> None:
        self.command("up")

    def down(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._control = None
        self.command("down", check=False)

    def restart(self) -> None:
        """A fresh controller process: nothing from earlier phases left in memory."""
        self.down()
        self.up()

    def client(self):
        from kairos.cli.client import Client

        client = Client(self.socket, timeout=300)
        self._clients.append(client)
        return client

    def spec(self, *options: str, name: str) -> dict:
        """The wire form of ``sbatch <options> -J name --wrap true``, built once."""
        from kairos.slurm.sbatch import parse_submission

        argv = [*options, f"--job-name={name}", "--wrap", "true"]
        return parse_submission(argv, cwd=str(self.workdir), env=self.env, now=time.time(),
                                submit_host=socket.gethostname()).to_json()

    def submit_api(self, spec: dict, count: int, clients: int, label: str) -> tuple[list[int], float]:
        """Submit ``spec`` ``count`` times from ``clients`` threads (one connection each);
        the job ids and the seconds it took."""
        local = threading.local()

        def submit_one(_: int) -> int:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = self.client()
            return client.submit(spec)["job_id"]

        began = time.perf_counter()
        ids = run_parallel(count, clients, submit_one, label)
        return ids, time.perf_counter() - began

    def submit_batches(self, spec: dict, count: int, size: int, label: str) -> tuple[list[int], float]:
        """Submit ``spec`` ``count`` times, ``size`` per request, from one client."""
        client = self.client()
        ids: list[int] = []
        began = time.perf_counter()
        with progress_bar() as bar:
            task = bar.add_task(label, total=count)
            while len(ids) < count:
                results = client.submit_many([spec] * min(size, count - len(ids)))
                ids.extend(r["job_id"] for r in results)
                bar.update(task, completed=len(ids))
        return ids, time.perf_counter() - began

    def sbatch(self, *args: str) -> int:
        return parsable_id(self.command("sbatch", "--parsable", *args).stdout)

    def control(self):
        if self._control is None:
            self._control = self.client()
        return self._control

    def cancel(self, ids: list[int]) -> None:
        if ids:
            self.control().cancel(ids=[str(i) for i in ids])

    def counts(self) -> dict[str, int]:
        """Jobs per state (the controller holds only this run's jobs)."""
        return self.control().status()["jobs"]

    def kill_leftovers(self) -> None:
        """SIGKILL supervisors and jobs still running after ``kairos down`` (none when
        every phase finished normally)."""
        jobs = self.home / "jobs"
        for state in jobs.glob("*/state.json") if jobs.is_dir() else ():
            try:
                info = json.loads(state.read_text())
                os.kill(info["supervisor_pid"], signal.SIGKILL)
                os.killpg(info["job_pid"], signal.SIGKILL)
            except (OSError, ValueError, KeyError):
                pass


# ----------------------------------------------------------------------- the peer


class SlurmPeer:
    """The real Slurm 22.05 on this machine.  Shared with other people: only job ids
    submitted through this object are ever cancelled."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.mine: set[int] = set()
        self.config = self._show_config()

    @staticmethod
    def start(script: Path) -> str | None:
        """Start the peer if need be; None when it runs, else why it does not."""
        if not script.is_file():
            return f"no peer start script at {script}"
        try:
            proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{script} failed: {e}"
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            return f"{script} exited {proc.returncode}: {last[0] if last else ''}"
        return None

    def _show_config(self) -> dict[str, str]:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                             check=True).stdout
        config = {}
        for line in out.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                config[key.strip()] = value.strip()
        return config

    def sbatch(self, *args: str) -> int:
        proc = subprocess.run(["sbatch", "--parsable", *args], cwd=self.workdir,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"peer sbatch {' '.join(args)} failed: {proc.stderr.strip()}")
        job_id = parsable_id(proc.stdout)
        self.mine.add(job_id)
        return job_id

    def listed(self, name: str) -> int:
        """How many of this run's jobs named ``name`` squeue still shows (array tasks
        one per line)."""
        out = subprocess.run(["squeue", "-h", "-r", "-n", name, "-o", "%i"],
                             capture_output=True, text=True, check=True).stdout
        return len(out.split())

    def records(self) -> int:
        """Job records the controller holds now (finished ones until MinJobAge)."""
        out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i"],
                             capture_output=True, text=True, check=True).stdout
        return len(out.split())

    def room(self) -> int:
        return int(self.config.get("MaxJobCount", "10000")) - self.records()

    def wait_for_room(self, wanted: int, timeout: float) -> int:
        """Wait (for finished records to be purged) until ``wanted`` more jobs fit, at
        most ``timeout`` seconds; the room there is then."""
        deadline = time.monotonic() + timeout
        room = self.room()
        if room >= wanted:
            return room
        with err.status("") as status:
            while room < wanted and time.monotonic() < deadline:
                status.update(f"peer: waiting for finished job records to be purged "
                              f"(MinJobAge {self.config.get('MinJobAge')}): room for {room:,} "
                              f"of {wanted:,} jobs")
                time.sleep(5)
                room = self.room()
        return room

    def cancel(self, ids) -> None:
        ids = sorted(set(ids) & self.mine)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            subprocess.run(["scancel", *map(str, chunk)], capture_output=True, timeout=300)
        self.mine.difference_update(ids)

    def forget(self, ids) -> None:
        """These jobs have finished: nothing of them to cancel any more."""
        self.mine.difference_update(ids)

    def parameters(self) -> dict[str, str]:
        """The settings that bound how fast this peer schedules (defaults spelled out)."""
        sched = dict(item.partition("=")[::2] for item in
                     self.config.get("SchedulerParameters", "(null)").split(",")
                     if "=" in item)
        cpus = subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True).stdout.split()
        return {
            "SchedulerType": self.config.get("SchedulerType", "?"),
            "SchedulerParameters": self.config.get("SchedulerParameters", "?"),
            "batch_sched_delay": sched.get("batch_sched_delay", "3") + " s",
            "sched_interval": sched.get("sched_interval", "60") + " s",
            "sched_min_interval": sched.get("sched_min_interval", "2") + " us",
            "default_queue_depth": sched.get("default_queue_depth", "100"),
            "bf_interval": sched.get("bf_interval", "30") + " s",
            "PriorityType": self.config.get("PriorityType", "?"),
            "SelectTypeParameters": self.config.get("SelectTypeParameters", "?"),
            "DefMemPerNode": self.config.get("DefMemPerNode", "?"),
            "MaxJobCount": self.config.get("MaxJobCount", "?"),
            "MaxArraySize": self.config.get("MaxArraySize", "?"),
            "MinJobAge": self.config.get("MinJobAge", "?"),
            "node CPUs": cpus[0] if cpus else "?",
        }

    def start_times(self, job_ids: set[int], array_id: int | None, since: float) -> list[float]:
        """When the controller started each of these jobs, from its log (epoch seconds)."""
        log = self.config.get("SlurmctldLogFile")
        if not log or not os.path.isfile(log):
            return []
        pattern = re.compile(r"^\[(\S+)\] (?:sched: Allocate|sched/backfill: _start_job: Started) "
                             r"JobId=(\d+)(?:_(\d+))?")
        times = []
        with open(log, errors="replace") as f:
            for line in f:
                m = pattern.match(line)
                if not m:
                    continue
                job = int(m.group(2))
                if (array_id is not None and job == array_id and m.group(3)) or job in job_ids:
                    t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
                    if t >= since - 1:
                        times.append(t)
        return sorted(times)


def cadence(start_times: list[float]) -> dict[str, float]:
    """Scheduling passes seen in start times: starts within 0.5 s of each other are one
    pass; the median gap between passes and the mean jobs started per pass."""
    if len(start_times) < 2:
        return {}
    passes = [[start_times[0]]]
    for t in start_times[1:]:
        if t - passes[-1][-1] <= 0.5:
            passes[-1].append(t)
        else:
            passes.append([t])
    gaps = [b[0] - a[0] for a, b in zip(passes, passes[1:])]
    return {"passes": len(passes), "median_gap_s": statistics.median(gaps) if gaps else 0.0,
            "jobs_per_pass": len(start_times) / len(passes)}


# ----------------------------------------------------------------------- phases


@dataclass
class Options:
    jobs: int
    queued: int
    peer_queued: int
    cli_submits: int
    api_submits: int
    api_clients: int
    parallel: int
    runs: int
    cold_runs: int
    batch_size: int
    peer_timeout: float
    tag: str


def phase_cold_start(kairos: Kairos, peer: SlurmPeer | None, opts: Options, report: Report) -> None:
    """``kairos squeue`` on an idle controller, ``kairos --help``, ``python -c pass``."""
    kairos.restart()
    runs, no_cache = opts.cold_runs, bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    squeue = report.add(Row("squeue_idle", f"`squeue`, idle controller (median of {runs})"
                            + (", no bytecode cache (PYTHONDONTWRITEBYTECODE=1 here)" if no_cache else ""),
                            "ms", target=at_most(150, "ms")))
    squeue.kairos = median_ms([KAIROS, "squeue"], runs, kairos.env, kairos.workdir,
                              "kairos squeue (idle)")
    if peer is not None:
        squeue.peer = median_ms(["squeue"], runs, label="peer squeue (idle)")
        squeue.note = "the shared peer may list other people's jobs"
    env = kairos.env
    if no_cache:  # what an installed Kairos does: bytecode compiled once, then reused
        env = {k: v for k, v in kairos.env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(kairos.root / "pycache")
        cached = report.add(Row("squeue_idle_cached", f"`squeue`, idle controller (median of "
                                f"{runs}), bytecode cached as after an install", "ms",
                                target=at_most(150, "ms")))
        cached.kairos = median_ms([KAIROS, "squeue"], runs, env, kairos.workdir,
                                  "kairos squeue (idle, bytecode cached)")
        cached.peer = squeue.peer
    help_row = report.add(Row("help", f"`kairos --help` (median of {runs})", "ms",
                              peer_note="n/a"))
    help_row.kairos = median_ms([KAIROS, "--help"], runs, env, kairos.workdir, "kairos --help")
    floor = report.add(Row("python", f"`python -c pass`, the floor (median of {runs})",
                           "ms", peer_note="n/a"))
    floor.kairos = median_ms([PYTHON, "-c", "pass"], runs, env, label="python -c pass")
    report.imports = slowest_imports(kairos, env, 5)


def slowest_imports(kairos: Kairos, env: dict, count: int, runs: int = 5) -> list[dict]:
    """The top-level imports of ``kairos squeue`` that take longest (``-X importtime``,
    each module's median over ``runs`` runs)."""
    samples: dict[str, list[tuple[float, float]]] = {}
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-X", "importtime", KAIROS, "squeue"], env=env,
                              cwd=kairos.workdir, capture_output=True, text=True)
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
            if m and not m.group(3):  # top level: together they cover every import
                samples.setdefault(m.group(4), []).append(
                    (int(m.group(1)) / 1000, int(m.group(2)) / 1000))
    rows = [{"module": module, "self_ms": statistics.median(s for s, _ in pairs),
             "cumulative_ms": statistics.median(c for _, c in pairs)}
            for module, pairs in samples.items()]
    total = sum(r["cumulative_ms"] for r in rows)
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return [{"module": "(all imports)", "self_ms": None, "cumulative_ms": total}] + rows[:count]


def phase_cli_submissions(kairos: Kairos, peer: SlurmPeer | None, opts: Options, report: Report) -> None:
    """``sbatch --hold --wrap true`` processes one after another."""
    kairos.restart()
    n, name = opts.cli_submits, f"{opts.tag}-cli"
    args = ["--hold", *JOB_OPTIONS, f"--job-name={name}", "--wrap", "true"]
    row = report.add(Row("cli_submit", f"submissions/s, CLI: {n} held `sbatch` in a row",
                         "jobs/s", higher_is_better=True))
    ids, seconds = _in_sequence(n, lambda: kairos.sbatch(*args), "kairos sbatch")
    row.kairos = n / seconds
    kairos.cancel(ids)
    if peer is not None:
        peer.wait_for_room(n + 100, 420)
        ids, seconds = _in_sequence(n, lambda: peer.sbatch(*args), "peer sbatch")
        row.peer = n / seconds
        peer.cancel(ids)


def _in_sequence(count: int, submit: Callable[[], int], label: str) -> tuple[list[int], float]:
    began = time.perf_counter()
    ids = run_parallel(count, 1, lambda _: submit(), label)
    return ids, time.perf_counter() - began


def phase_api_submissions(kairos: Kairos, opts: Options, report: Report) -> None:
    """Held submissions through the Python API, 1 client and several."""
    n = opts.api_submits
    spec = kairos.spec("--hold", *JOB_OPTIONS, name=f"{opts.tag}-api")
    for clients in (1, opts.api_clients):
        kairos.restart()
        row = report.add(Row(f"api_submit_{clients}",
                             f"submissions/s, API: {n:,} held, {clients} client"
                             + ("s" if clients > 1 else "") + ", one job per request",
                             "jobs/s", peer_note="n/a (no API)", higher_is_better=True,
                             target=at_least(2000, "jobs/s") if clients > 1 else None))
        ids, seconds = kairos.submit_api(spec, n, clients, f"API submit, {clients} client(s)")
        row.kairos = n / seconds
        kairos.cancel(ids)
    kairos.restart()
    size = opts.batch_size
    row = report.add(Row("api_submit_batch", f"submissions/s, API: {n:,} held, 1 client, "
                         f"{size} jobs per request (`Client.submit_many`)", "jobs/s",
                         peer_note="n/a (no API)", higher_is_better=True))
    ids, seconds = kairos.submit_batches(spec, n, size, f"API submit, batches of {size}")
    row.kairos = n / seconds
    kairos.cancel(ids)


def phase_squeue_queued(kairos: Kairos, peer: SlurmPeer | None, opts: Options, report: Report) -> None:
    """``squeue`` with a long queue of held jobs."""
    row = report.add(Row("squeue_queued", "", "ms", target=None))
    peer_count = None
    if peer is not None:
        peer_count, row.peer = _peer_squeue(peer, opts)
    kairos.restart()
    spec = kairos.spec("--hold", *JOB_OPTIONS, name=f"{opts.tag}-queued")
    ids, _ = kairos.submit_api(spec, opts.queued, opts.api_clients,
                               f"Kairos: queue {opts.queued:,} held jobs")
    _check_lines(kairos.command("squeue", "-h").stdout, opts.queued, "kairos squeue")
    row.kairos = median_ms([KAIROS, "squeue"], opts.runs, kairos.env, kairos.workdir,
                           "kairos squeue (queued)")
    kairos.cancel(ids)
    row.measure = (f"`squeue`, {opts.queued:,} held jobs queued (median of {opts.runs})"
                   if peer_count in (None, opts.queued) else
                   f"`squeue`, held jobs queued: Kairos {opts.queued:,}, peer {peer_count:,} "
                   f"(median of {opts.runs})")
    if peer_count is not None and peer_count != opts.queued:
        row.note = (f"the peer's MaxJobCount ({peer.config.get('MaxJobCount')}) counts finished "
                    f"records too; it got {peer_count:,} jobs")


def _peer_squeue(peer: SlurmPeer, opts: Options) -> tuple[int, float]:
    room = peer.wait_for_room(opts.peer_queued + 200, 420)
    count = max(0, min(opts.peer_queued, room - 200))
    name = f"{opts.tag}-queued"
    args = ["--hold", *JOB_OPTIONS, f"--job-name={name}", "--wrap", "true"]
    ids = run_parallel(count, opts.parallel, lambda _: peer.sbatch(*args),
                       f"peer: queue {count:,} held jobs")
    try:
        _check_lines(subprocess.run(["squeue", "-h", "-n", name], capture_output=True,
                                    text=True).stdout, count, "peer squeue")
        return count, median_ms(["squeue"], opts.runs, label="peer squeue (queued)")
    finally:
        peer.cancel(ids)


def _check_lines(out: str, expected: int, what: str) -> None:
    lines = len(out.splitlines())
    if lines < expected:
        raise RuntimeError(f"{what} listed {lines} jobs, expected {expected}")


def phase_drain(kairos: Kairos, peer: SlurmPeer | None, opts: Options, report: Report) -> None:
    """Time from the first submission until ``--jobs`` trivial jobs have all finished."""
    n = opts.jobs
    array = report.add(Row("drain_array", f"drain {n:,} `true` jobs: one array `--array=1-{n}`",
                           "s", target=faster_by(10)))
    singles = report.add(Row("drain_single", f"drain {n:,} `true` jobs: single jobs, Kairos "
                             f"by API ({opts.parallel} threads), peer by `sbatch` x{opts.parallel}",
                             "s", target=faster_by(10)))
    singles_cli = report.add(Row("drain_single_cli", f"drain {n:,} `true` jobs: single jobs by "
                                 f"`kairos sbatch` x{opts.parallel} (peer: as above)", "s"))
    array.kairos = _kairos_drain(kairos, opts, "array", f"--array=1-{n}")
    singles.kairos = _kairos_drain(kairos, opts, "api")
    singles_cli.kairos = _kairos_drain(kairos, opts, "cli")
    if peer is not None:
        array.peer = _peer_drain(peer, opts, report, "array")
        singles.peer = singles_cli.peer = _peer_drain(peer, opts, report, "single")


def _kairos_drain(kairos: Kairos, opts: Options, how: str, *array: str) -> float:
    kairos.restart()
    n, name = opts.jobs, f"{opts.tag}-drain-{how}"
    args = [*JOB_OPTIONS, f"--job-name={name}", *array, "--wrap", "true"]
    began = time.perf_counter()
    if how == "array":
        kairos.sbatch(*args)
    elif how == "api":
        kairos.submit_api(kairos.spec(*JOB_OPTIONS, name=name), n, opts.parallel,
                          "Kairos: submit single jobs (API)")
    else:
        run_parallel(n, opts.parallel, lambda _: kairos.sbatch(*args),
                     "Kairos: submit single jobs (kairos sbatch)")
    with progress_bar() as bar:
        task = bar.add_task(f"Kairos: drain {n:,} ({how})", total=n)
        while True:
            counts = kairos.counts()
            done = sum(counts.get(s, 0) for s in FINAL_STATES)
            bar.update(task, completed=done)
            if not counts.get("PENDING") and not counts.get("RUNNING") and done >= n:
                break
            time.sleep(0.05)
    seconds = time.perf_counter() - began
    if counts.get("COMPLETED", 0) != n:
        raise RuntimeError(f"Kairos drain ({how}): expected {n} COMPLETED, got {counts}")
    return seconds


def _peer_drain(peer: SlurmPeer, opts: Options, report: Report, how: str) -> float | None:
    n, name = opts.jobs, f"{opts.tag}-drain-{how}"
    args = [*JOB_OPTIONS, f"--job-name={name}", "--wrap", "true"]
    peer.wait_for_room(n + 100, 900)
    began_epoch, began = time.time(), time.perf_counter()
    if how == "array":
        ids = [peer.sbatch(f"--array=1-{n}", *args)]
    else:
        ids = run_parallel(n, opts.parallel, lambda _: peer.sbatch(*args),
                           "peer: submit single jobs (sbatch)")
    deadline = began + opts.peer_timeout
    with progress_bar() as bar:
        task = bar.add_task(f"peer: drain {n:,} ({how})", total=n)
        while True:
            left = peer.listed(name)
            bar.update(task, completed=n - left)
            if left == 0:
                break
            if time.perf_counter() > deadline:
                peer.cancel(ids)
                report.notes.append(f"peer drain ({how}) stopped after {opts.peer_timeout:.0f} s "
                                    f"with {left} jobs left (--peer-timeout)")
                return None
            time.sleep(0.25)
    seconds = time.perf_counter() - began
    peer.forget(ids)
    starts = peer.start_times(set(ids), ids[0] if how == "array" else None, began_epoch)
    report.peer_cadence[how] = cadence(starts)
    return seconds


# ----------------------------------------------------------------------- output


def render_table(report: Report, console: Console) -> None:
    table = Table(title="Kairos live mode vs Slurm 22.05 on the same machine")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("measure", "target", "verdict") else "right")
    for row in report.rows:
        table.add_row(*row.cells())
    console.print(table)
    if report.imports:
        imports = Table(title="Where `kairos squeue` spends its import time "
                              "(python -X importtime, top level, median of 5)")
        for col in ("module", "self ms", "cumulative ms"):
            imports.add_column(col, justify="left" if col == "module" else "right")
        for r in report.imports:
            imports.add_row(r["module"], "" if r["self_ms"] is None else f"{r['self_ms']:.1f}",
                            f"{r['cumulative_ms']:.1f}")
        console.print(imports)
    if report.peer_parameters:
        console.print("Peer scheduling parameters: " + ", ".join(
            f"{k}={v}" for k, v in report.peer_parameters.items()))
    for how, c in report.peer_cadence.items():
        if c:
            console.print(f"Peer drain ({how}): {c['passes']:.0f} passes started jobs, median "
                          f"{c['median_gap_s']:.2f} s apart, {c['jobs_per_pass']:.2f} jobs per pass")
    for note in report.notes + [f"{r.measure}: {r.note}" for r in report.rows if r.note]:
        console.print(f"note: {note}", style="dim")


def markdown(report: Report, command: str) -> str:
    lines = [
        "# Live-mode benchmarks",
        "",
        "How fast the live manager takes submissions, runs trivial jobs and answers",
        "`squeue`, beside a real Slurm 22.05 (Debian packages, one node, `sched/backfill`)",
        "on the same machine, "
        + (f"the peer's numbers taken from the run of {report.peer_reused_from} "
           "(`--reuse-peer`; its drains take about 45 minutes)."
           if report.peer_reused_from else "both measured in the same run.")
        + " Generated by `benchmarks/live.py`; its docstring describes each measurement.",
        "",
        "```sh",
        command,
        "```",
        "",
        "- Submissions: held jobs (`--hold`), so that running them does not take CPU from the",
        "  submitters; cancelled afterwards. The API rows use `kairos.cli.client.Client`,",
        "  one keep-alive Unix-socket connection per client thread.",
        "- Drain: from the first submission until every job has finished; each job is",
        f"  `sbatch {' '.join(JOB_OPTIONS)} --wrap true` on both systems (`--mem` because the",
        "  peer otherwise gives each job the whole node's memory and runs one at a time).",
        "- `squeue`: wall time of the whole command, output discarded.",
        "- Each measurement starts from a freshly started, empty Kairos controller",
        "  (temporary `KAIROS_HOME`, SQLite, default scheduling settings).",
        "- The ratio says how many times better Kairos did (above 1: Kairos is faster).",
        "",
        f"Machine: {os.cpu_count()} cores, shared with other work while measured. "
        f"Run on {datetime.date.today().isoformat()}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if c in ("measure", "target", "verdict") else "---:" for c in COLUMNS) + "|",
    ]
    for row in report.rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |")
    if report.imports:
        lines += ["", "Where `kairos squeue` spends its import time (`python -X importtime`, "
                  "top-level imports, median of 5 runs):", "", "| module | self ms | cumulative ms |", "|---|---:|---:|"]
        for r in report.imports:
            self_ms = "" if r["self_ms"] is None else f"{r['self_ms']:.1f}"
            lines.append(f"| `{r['module']}` | {self_ms} | {r['cumulative_ms']:.1f} |")
    if report.peer_parameters:
        lines += ["", "The peer's scheduling settings (defaults where `SchedulerParameters` "
                  "sets nothing):", ""]
        lines += [f"- `{k}`: {v}" for k, v in report.peer_parameters.items()]
        lines += ["", "Slurm starts jobs in an event-triggered pass after a submission or a "
                  "job's end, at most once per `batch_sched_delay`, in the periodic main pass "
                  "(`sched_interval`) and in the backfill pass (`bf_interval`); with "
                  "sub-second jobs the first bounds the drain rate to about CPUs / "
                  "`batch_sched_delay` jobs per second."]
        for how, c in report.peer_cadence.items():
            if c:
                lines.append(f"Seen in the peer's log while draining ({how}): "
                             f"{c['passes']:.0f} passes started these jobs, a median of "
                             f"{c['median_gap_s']:.2f} s apart, {c['jobs_per_pass']:.2f} jobs each.")
    notes = report.notes + [f"{r.measure}: {r.note}" for r in report.rows if r.note]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def save_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    date = datetime.datetime.now().isoformat(timespec="seconds")
    data = {"date": date, "peer_date": report.peer_reused_from or date,
            "cores": os.cpu_count(), "options": report.options,
            "rows": [r.to_json() for r in report.rows], "imports": report.imports,
            "peer_parameters": report.peer_parameters, "peer_cadence": report.peer_cadence,
            "notes": report.notes, "load_averages": report.loads}
    path.write_text(json.dumps(data, indent=1) + "\n")


def reuse_peer(report: Report, data: dict, path: Path) -> None:
    """Fill the peer column from an earlier run's JSON (its date noted)."""
    earlier = {r["key"]: r for r in data.get("rows", [])}
    for row in report.rows:
        old = earlier.get(row.key)
        if old and old.get("peer") is not None:
            row.peer = old["peer"]
            notes = [row.note, old.get("note") or ""]
            if old.get("measure") and old["measure"] != row.measure:
                notes.append(f"the peer's value was measured as: {old['measure']}")
            row.note = "; ".join(dict.fromkeys(n for n in notes if n))
    report.peer_reused_from = data.get("peer_date") or data.get("date")
    report.peer_parameters = data.get("peer_parameters", {})
    report.peer_cadence = data.get("peer_cadence", {})
    report.notes.append(f"peer numbers reused from the run of {report.peer_reused_from} ({path.name})")


# ----------------------------------------------------------------------- main


PHASES = ("cold", "cli", "api", "squeue", "drain")


@contextmanager
def kairos_controller(keep: bool) -> Iterator[Kairos]:
    root = Path(tempfile.mkdtemp(prefix="kairos-bench-"))
    kairos = Kairos(root)
    try:
        kairos.up()
        yield kairos
    finally:
        kairos.down()
        kairos.kill_leftovers()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs to drain (array size too)")
    parser.add_argument("--queued", type=int, default=10_000, help="held jobs queued for squeue")
    parser.add_argument("--peer-queued", type=int, default=9000,
                        help="held jobs queued on the peer (its MaxJobCount is 10,000)")
    parser.add_argument("--cli-submits", type=int, default=200)
    parser.add_argument("--api-submits", type=int, default=5000)
    parser.add_argument("--api-clients", type=int, default=8, help="concurrent API clients")
    parser.add_argument("--batch-size", type=int, default=100, help="jobs per batch request")
    parser.add_argument("--parallel", type=int, default=8, help="concurrent submitters when draining")
    parser.add_argument("--runs", type=int, default=10, help="squeue runs with a long queue")
    parser.add_argument("--cold-runs", type=int, default=20, help="runs per cold-start measurement")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"subset of {','.join(PHASES)}")
    parser.add_argument("--no-peer", action="store_true", help="Kairos only")
    parser.add_argument("--reuse-peer", action="store_true",
                        help="take the peer's numbers from --json instead of measuring them")
    parser.add_argument("--peer-start", type=Path, default=DEFAULT_PEER_START)
    parser.add_argument("--peer-timeout", type=float, default=5400, help="seconds per peer drain")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where raw results go")
    parser.add_argument("--markdown", type=Path, help="also write the report page here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary KAIROS_HOME")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")

    opts = Options(jobs=args.jobs, queued=args.queued, peer_queued=args.peer_queued,
                   cli_submits=args.cli_submits, api_submits=args.api_submits,
                   api_clients=args.api_clients, parallel=args.parallel, runs=args.runs,
                   cold_runs=args.cold_runs, batch_size=args.batch_size,
                   peer_timeout=args.peer_timeout,
                   tag=f"kbench{os.getpid()}")
    report = Report(options={k: v for k, v in asdict(opts).items() if k != "tag"})
    earlier = None
    if args.reuse_peer:
        if not args.json.is_file():
            parser.error(f"--reuse-peer: no earlier results at {args.json}")
        earlier = json.loads(args.json.read_text())
    work = Path(tempfile.mkdtemp(prefix="kairos-bench-peer-"))
    peer_note, peer = _peer(args, report, work)
    report.sample_load()
    signal.signal(signal.SIGTERM, _interrupt)
    interrupted = False
    try:
        with kairos_controller(args.keep) as kairos:
            _run_phases(phases, kairos, peer, opts, report)
    except KeyboardInterrupt:
        interrupted = True
        report.notes.append("interrupted: the table is partial; nothing was saved")
    finally:
        if peer is not None:
            peer.cancel(set(peer.mine))
        shutil.rmtree(work, ignore_errors=True)
    report.sample_load()
    report.notes.append(f"1-minute load average between {min(report.loads):.1f} and "
                        f"{max(report.loads):.1f} at the phases' starts and ends "
                        f"({os.cpu_count()} cores; other people's work included)")
    for row in report.rows:
        if row.peer is None and not row.peer_note:
            row.peer_note = peer_note
    if earlier is not None:
        reuse_peer(report, earlier, args.json)
    console = Console(width=max(Console().width, 160))
    render_table(report, console)
    if interrupted:
        return 130
    save_json(report, args.json)
    if args.markdown:
        command = ".venv/bin/python benchmarks/live.py " + " ".join(sys.argv[1:])
        args.markdown.write_text(markdown(report, command.strip()))
        err.print(f"wrote {args.markdown}")
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does: the peer jobs are cancelled


def _peer(args, report: Report, workdir: Path) -> tuple[str, SlurmPeer | None]:
    """The peer to measure (None: not measured) and what to show in its column then."""
    if args.no_peer:
        return "not run (--no-peer)", None
    if args.reuse_peer:
        return "not in the earlier run", None
    problem = SlurmPeer.start(args.peer_start)
    if problem:
        report.notes.append(f"{PEER_UNAVAILABLE}: {problem}")
        return PEER_UNAVAILABLE, None
    peer = SlurmPeer(workdir)
    report.peer_parameters = peer.parameters()
    return PEER_UNAVAILABLE, peer


def _run_phases(phases: list[str], kairos: Kairos, peer: SlurmPeer | None, opts: Options,
                report: Report) -> None:
    steps = {
        "cold": lambda: phase_cold_start(kairos, peer, opts, report),
        "cli": lambda: phase_cli_submissions(kairos, peer, opts, report),
        "api": lambda: phase_api_submissions(kairos, opts, report),
        "squeue": lambda: phase_squeue_queued(kairos, peer, opts, report),
        "drain": lambda: phase_drain(kairos, peer, opts, report),
    }
    for name in PHASES:
        if name in phases:
            err.print(f"[bold]phase: {name}[/]")
            before = len(report.rows)
            report.sample_load()
            try:
                steps[name]()
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                report.notes.append(f"phase {name} failed: {e}")
                err.print(f"[red]phase {name} failed:[/] {e}")
            for row in report.rows[before:]:
                err.print("  " + " | ".join(cell for cell in row.cells() if cell))


if __name__ == "__main__":
    raise SystemExit(main())
