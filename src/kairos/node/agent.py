"""Starts, signals, adopts and reaps the job supervisors of this machine.

The controller asks the agent to launch a job; the agent picks the cores and GPUs it
gets (contiguous core ids when it can, GPUs of the requested type), writes
``<home>/jobs/<job_id>/launch.json`` and starts a supervisor (:mod:`kairos.node.supervisor`)
on it in a session of its own, so that the job outlives the controller. ``poll()``
reports the jobs whose supervisors have finished, from their ``status.json``.

After a controller crash a new agent adopts the jobs the store says were running:
it marks their cores and GPUs as taken again and watches their supervisors, which are no
longer its children, by pid and kernel start time (so a recycled pid is not mistaken for
a live supervisor). A supervisor gone without ``status.json`` is reported as NODE_FAIL.

Waking up: supervisors write their job id into the FIFO ``<home>/wakeup`` once their
``status.json`` exists, adopted ones included. The controller can ``select`` on
``agent.wakeup_fd`` and call ``poll()`` when it is readable; it must also call ``poll()``
every few seconds, because a supervisor killed outright writes nothing. Calling ``poll()``
every 0.1 s without the FIFO works too. SIGCHLD is not used: adopted supervisors are not
our children, and the controller's process owns its own signal handlers.

Environment: the controller passes the job's environment in ``LaunchSpec.env`` (built
with :func:`kairos.node.environment.job_environment` without ids); the agent adds the
variables that depend on the ids it picked (:func:`placement_environment`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from kairos.core.jobs import JobState
from kairos.node import supervisor as supervisor_package
from kairos.node.environment import placement_environment
from kairos.node.facts import NodeFacts
from kairos.node.supervisor.files import write_json_atomic
from kairos.node.supervisor.procs import start_ticks

#: The supervisor's bootstrap, run by its path (see :mod:`kairos.node.supervisor` for why).
SUPERVISOR_PATH = Path(supervisor_package.__file__).resolve().parent / "__main__.py"
WAKEUP_FIFO = "wakeup"


class AgentError(ValueError):
    """A request the agent cannot honour (unknown job, job already running, ...)."""


class NodeBusyError(AgentError):
    """Not enough free cores or GPUs of the asked type for a launch."""


@dataclass
class LaunchSpec:
    """What a job needs to start; the agent adds its core ids and GPU indices."""

    user: str
    uid: int
    gid: int
    script: str
    work_dir: str
    stdout: str
    stderr: str | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ncpus: int = 1
    gpus: list[tuple[str | None, int]] = field(default_factory=list)
    mem_limit_mib: int | None = None
    time_limit: float | None = None
    kill_wait: float | None = None  # None: the agent's default
    open_mode: str = "truncate"


@dataclass(frozen=True)
class Launched:
    job_id: int
    pid: int  # the supervisor's
    cpu_ids: list[int]
    gpu_ids: list[int]
    start: float


@dataclass(frozen=True)
class Finished:
    job_id: int
    state: JobState  #: COMPLETED, FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY or NODE_FAIL
    exit_code: int
    signal: int
    start: float | None
    end: float
    cpu_time: float | None
    max_rss_kib: int | None
    reason: str


@dataclass
class _Job:
    """A job the agent watches: its ids, its directory, its supervisor."""

    job_id: int
    jobdir: Path
    cpu_ids: list[int]
    gpu_ids: list[int]
    proc: subprocess.Popen | None = None  # set when the supervisor is our child
    pid: int | None = None
    start_ticks: int | None = None


class LocalAgent:
    """Runs jobs on this machine, one supervisor each, and owns its cores and GPUs."""

    def __init__(self, home: Path, facts: NodeFacts, *, python: str = sys.executable, kill_wait: float = 30) -> None:
        self.home = Path(home)
        self.facts = facts
        self.python = python
        self.kill_wait = kill_wait
        self.jobs_dir = self.home / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._jobs: dict[int, _Job] = {}
        self._unreaped: list[subprocess.Popen] = []
        self._wakeup_path = self.home / WAKEUP_FIFO
        self.wakeup_fd = self._open_wakeup_fifo()

    # ------------------------------------------------------------------ resources

    def free_cpus(self) -> list[int]:
        used = {c for job in self._jobs.values() for c in job.cpu_ids}
        return [c for c in self.facts.cpus if c not in used]

    def free_gpus(self) -> list[int]:
        used = {g for job in self._jobs.values() for g in job.gpu_ids}
        return [g.index for g in self.facts.gpus if g.index not in used]

    def pick_cpus(self, ncpus: int) -> list[int]:
        """``ncpus`` free core ids: the first contiguous run that fits, else the lowest free."""
        free = self.free_cpus()
        if ncpus > len(free):
            raise NodeBusyError(f"{ncpus} CPUs asked, {len(free)} free on {self.facts.name} ({len(self.facts.cpus)} in all)")
        for i in range(len(free) - ncpus + 1):
            window = free[i:i + ncpus]
            if window[-1] - window[0] == ncpus - 1:
                return window
        return free[:ncpus]

    def pick_gpus(self, wanted: list[tuple[str | None, int]]) -> list[int]:
        """Free GPU indices for ``[(type or None, count), ...]``; typed requests are served first."""
        free = set(self.free_gpus())
        picked: list[int] = []
        for gpu_type, count in sorted(wanted, key=lambda w: w[0] is None):
            matching = [g.index for g in self.facts.gpus
                        if g.index in free and (gpu_type is None or g.type == gpu_type.lower())]
            if count > len(matching):
                kind = f"'{gpu_type}' GPUs" if gpu_type else "GPUs"
                raise NodeBusyError(
                    f"{count} {kind} asked, {len(matching)} free on {self.facts.name} "
                    f"(it has {self.facts.gpu_types() or 'no GPUs'})"
                )
            picked.extend(matching[:count])
            free.difference_update(matching[:count])
        return sorted(picked)

    # ------------------------------------------------------------------ launch

    def launch(self, job_id: int, spec: LaunchSpec) -> Launched:
        """Start ``job_id`` under a new supervisor; its cores and GPUs are taken until poll() reports it."""
        if job_id in self._jobs:
            raise AgentError(f"job {job_id} is already running on {self.facts.name}; cancel it or wait for poll() to report it")
        cpu_ids = self.pick_cpus(spec.ncpus)
        gpu_ids = self.pick_gpus(spec.gpus)
        jobdir = self._fresh_jobdir(job_id)
        env = dict(spec.env)
        env.update(placement_environment(cpu_ids, gpu_ids, hide_gpus=bool(self.facts.gpus)))
        write_json_atomic(str(jobdir / "launch.json"), {
            "job_id": job_id, "user": spec.user, "uid": spec.uid, "gid": spec.gid,
            "script": spec.script, "argv": list(spec.argv), "work_dir": spec.work_dir, "env": env,
            "stdout": spec.stdout, "stderr": spec.stderr or spec.stdout, "cpu_ids": cpu_ids,
            "mem_limit_mib": spec.mem_limit_mib, "time_limit": spec.time_limit,
            "kill_wait": self.kill_wait if spec.kill_wait is None else spec.kill_wait,
            "open_mode": spec.open_mode, "notify": str(self._wakeup_path),
        })
        start = time.time()
        proc = self._start_supervisor(jobdir)
        self._jobs[job_id] = _Job(job_id, jobdir, cpu_ids, gpu_ids, proc=proc, pid=proc.pid)
        return Launched(job_id, proc.pid, cpu_ids, gpu_ids, start)

    def _fresh_jobdir(self, job_id: int) -> Path:
        jobdir = self.jobdir(job_id)
        if jobdir.exists():  # left by an earlier run of the same id (a requeue)
            shutil.rmtree(jobdir)
        jobdir.mkdir(mode=0o700)
        return jobdir

    def _start_supervisor(self, jobdir: Path) -> subprocess.Popen:
        with open(jobdir / "supervisor.log", "ab") as log:
            return subprocess.Popen(
                supervisor_command(self.python, jobdir),
                start_new_session=True, close_fds=True, cwd="/",
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )

    def was_launched(self, job_id: int) -> bool:
        """Whether a supervisor was ever started for ``job_id`` (its launch.json is
        written first): after a crash, a job recorded RUNNING but never launched runs
        again, one that was launched is adopted."""
        return (self.jobdir(job_id) / "launch.json").exists()

    def jobdir(self, job_id: int) -> Path:
        return self.jobs_dir / str(job_id)

    # ------------------------------------------------------------------ watch

    def running(self) -> list[int]:
        """Jobs launched or adopted and not yet reported by poll()."""
        return sorted(self._jobs)

    def poll(self) -> list[Finished]:
        """The jobs that ended since the last call; never blocks. Their cores and GPUs are free again."""
        self._drain_wakeup()
        self._unreaped = [p for p in self._unreaped if p.poll() is None]
        finished = []
        for job in list(self._jobs.values()):
            result = self._result(job)
            if result is not None:
                del self._jobs[job.job_id]
                finished.append(result)
        return finished

    def _result(self, job: _Job) -> Finished | None:
        status = _read_json(job.jobdir / "status.json")
        if status is not None:
            if job.proc is not None and job.proc.poll() is None:
                self._unreaped.append(job.proc)
            return _finished_from(job.job_id, status)
        if self._supervisor_alive(job):
            return None
        status = _read_json(job.jobdir / "status.json")  # written just before it exited
        if status is not None:
            return _finished_from(job.job_id, status)
        self._kill_orphaned_job(job)
        return Finished(job.job_id, JobState.NODE_FAIL, 0, 0, _job_start(job), time.time(), None, None, "supervisor lost")

    def _supervisor_alive(self, job: _Job) -> bool:
        if job.proc is not None:
            return job.proc.poll() is None
        if job.pid is None:
            return False
        ticks = start_ticks(job.pid)
        return ticks is not None and ticks == job.start_ticks and not _is_zombie(job.pid)

    def _kill_orphaned_job(self, job: _Job) -> None:
        """A supervisor died without a word: kill what is left of its job, if it is still its job."""
        state = _read_json(job.jobdir / "state.json")
        if not state or not state.get("job_pid"):
            return
        pgid = int(state["job_pid"])
        try:
            leader = psutil.Process(pgid)
            if os.getsid(pgid) == pgid and abs(leader.create_time() - float(state["start"])) < 2.0:
                os.killpg(pgid, signal.SIGKILL)
        except (psutil.Error, OSError, ValueError):
            pass

    # ------------------------------------------------------------------ control

    def cancel(self, job_id: int) -> bool:
        """Ask the job's supervisor to cancel it (SIGTERM, then SIGKILL after kill_wait)."""
        return self._signal_supervisor(job_id, signal.SIGTERM)

    def signal(self, job_id: int, signum: int) -> bool:
        """Send ``signum`` to the job's process group; False when the job is already over."""
        job = self._known(job_id)
        state = _read_json(job.jobdir / "state.json")
        if state is None or (job.jobdir / "status.json").exists() or not self._supervisor_alive(job):
            return False
        try:
            os.killpg(int(state["job_pid"]), signum)
        except ProcessLookupError:
            return False
        return True

    def set_time_limit(self, job_id: int, seconds: float | None) -> bool:
        """A new time limit for a running job, counted from its start; None for no limit."""
        job = self._known(job_id)
        write_json_atomic(str(job.jobdir / "limits.json"), {"time_limit": seconds})
        return self._signal_supervisor(job_id, signal.SIGHUP)

    def _signal_supervisor(self, job_id: int, signum: int) -> bool:
        job = self._known(job_id)
        if job.pid is None or not self._supervisor_alive(job):
            return False
        try:
            os.kill(job.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def _known(self, job_id: int) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise AgentError(f"job {job_id} is not running on {self.facts.name}: it was never launched or adopted here, or poll() already reported it")
        return job

    # ------------------------------------------------------------------ recovery

    def adopt(self, job_id: int, cpu_ids: list[int], gpu_ids: list[int]) -> bool:
        """Watch a job launched by an earlier controller; True when its supervisor is alive.

        Its cores and GPUs are taken again either way; a dead supervisor's job is reported
        by the next poll(), from its status.json or as NODE_FAIL.
        """
        if job_id in self._jobs:
            raise AgentError(f"job {job_id} is already running on {self.facts.name}; adopt each job once")
        job = _Job(job_id, self.jobdir(job_id), list(cpu_ids), list(gpu_ids))
        job.pid, job.start_ticks = self._find_supervisor(job.jobdir)
        self._jobs[job_id] = job
        return self._supervisor_alive(job)

    def _find_supervisor(self, jobdir: Path) -> tuple[int | None, int | None]:
        """The supervisor's pid and start ticks, from state.json or by its command line."""
        state = _read_json(jobdir / "state.json")
        if state and state.get("supervisor_pid"):
            return int(state["supervisor_pid"]), int(state.get("supervisor_start_ticks") or 0)
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if len(cmdline) >= 2 and cmdline[-1] == str(jobdir) and cmdline[-2] == str(SUPERVISOR_PATH):
                return proc.pid, start_ticks(proc.pid)
        return None, None

    def cleanup(self, job_id: int) -> None:
        """Remove a finished job's directory once its result is recorded."""
        if job_id in self._jobs:
            raise AgentError(f"job {job_id} is still running on {self.facts.name}; clean up only after poll() reports it")
        shutil.rmtree(self.jobdir(job_id), ignore_errors=True)

    # ------------------------------------------------------------------ wakeup FIFO

    def _open_wakeup_fifo(self) -> int:
        """The read end of ``<home>/wakeup``, opened read-write so it never reports end-of-file."""
        try:
            if not stat.S_ISFIFO(os.stat(self._wakeup_path).st_mode):
                os.unlink(self._wakeup_path)
                os.mkfifo(self._wakeup_path, 0o600)
        except FileNotFoundError:
            os.mkfifo(self._wakeup_path, 0o600)
        return os.open(self._wakeup_path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)

    def _drain_wakeup(self) -> None:
        try:
            while os.read(self.wakeup_fd, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Stop listening on the wakeup FIFO; running supervisors carry on."""
        if self.wakeup_fd >= 0:
            os.close(self.wakeup_fd)
            self.wakeup_fd = -1


def supervisor_command(python: str, jobdir: Path) -> list[str]:
    """The command line of ``jobdir``'s supervisor: isolated (``-I``), without site-packages
    (``-S``), so it starts in milliseconds on the standard library alone."""
    return [python, "-I", "-S", str(SUPERVISOR_PATH), str(jobdir)]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _finished_from(job_id: int, status: dict) -> Finished:
    return Finished(
        job_id=job_id,
        state=_final_state(status.get("state")),
        exit_code=int(status.get("exit_code") or 0),
        signal=int(status.get("signal") or 0),
        start=status.get("start"),
        end=float(status.get("end") or time.time()),
        cpu_time=status.get("cpu_time"),
        max_rss_kib=status.get("max_rss_kib"),
        reason=str(status.get("reason") or ""),
    )


def _final_state(name) -> JobState:
    """The state a supervisor wrote; a name it should never write is a failure."""
    state = JobState.__members__.get(str(name))
    return state if state is not None and state.finished else JobState.FAILED


def _job_start(job: _Job) -> float | None:
    state = _read_json(job.jobdir / "state.json")
    return float(state["start"]) if state and state.get("start") else None


def _is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def kill_left_behind(home: Path) -> int:
    """SIGKILL every supervisor and job process group recorded under ``home/jobs`` (what
    a stopped controller leaves running; for tests, benchmarks and a forced clean-up).
    Returns how many jobs were signalled."""
    killed = 0
    for state_path in sorted((Path(home) / "jobs").glob("*/state.json")):
        state = _read_json(state_path)
        if not state:
            continue
        for kill, pid in ((os.kill, state.get("supervisor_pid")), (os.killpg, state.get("job_pid"))):
            try:
                kill(int(pid), signal.SIGKILL)
                killed += 1
            except (OSError, TypeError, ValueError):
                pass
    return killed
