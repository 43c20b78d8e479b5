"""Job steps on this node, as the agent sees them: what the controller asks for
(:class:`StepLaunch`), what the agent answers (:class:`StepLaunched`) and reports when a
step's tasks have all ended (:class:`StepFinished`), and the step's directory
``<home>/jobs/<job_id>/steps/<step_id>/`` as the agent writes and reads it.

A step runs inside its job's allocation, on the job's cores unless the controller names
others, and possibly on a node where the job has no batch script (a multi-node job's
other nodes, an allocation made by ``srun`` or ``salloc``): so a step needs no batch job
here, only a step id not already running. One step supervisor per node runs the tasks
that node was given (:mod:`kairos.node.supervisor.steploop`).

States: COMPLETED when every task exited 0; FAILED when one exited non-zero or died of a
signal nobody sent it; CANCELLED when cancelled, or when a task died of a signal sent on
request (``signal_step``, recorded in the step's ``signals`` file before it is sent);
TIMEOUT or OUT_OF_MEMORY when a limit ended it; NODE_FAIL when its supervisor vanished
without a word.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from kairos.core.jobs import JobState
from kairos.node.supervised import read_json

#: Step requests sent by signal_step, one number a line (read by the supervisor at the end).
SIGNALS_FILE = "signals"
#: Left in a step's directory once poll() has reported it, so adopting never reports it twice.
REPORTED_FILE = "reported"


@dataclass
class StepLaunch:
    """The part of a job step one node runs; the agent adds the placement."""

    job_id: int
    step_id: int
    user: str
    uid: int
    gid: int
    argv: list[str]  #: the command and its arguments
    env: dict[str, str]  #: the step's environment from the controller, without per-task variables
    cwd: str
    tasks: list[int]  #: the global task ids this node runs, in order
    node_id: int = 0  #: this node's index in the step
    node_name: str | None = None  #: None: the agent's own
    ntasks: int | None = None  #: the step's total; None: this node's tasks are all of it
    cpus_per_task: int | None = None  #: shown as SLURM_CPUS_PER_TASK when given
    cpu_ids: list[int] | None = None  #: None: the job's cores on this node, if the agent knows them
    gpu_ids: list[int] | None = None  #: None: the job's GPUs on this node, if the agent knows them
    io: dict | None = None  #: ``{"host", "port", "token"}`` of srun's listener; None: no srun (streams
    #: not given as files go to /dev/null)
    stdout: str | None = None  #: srun's ``-o`` pattern: that stream to files instead of srun
    stderr: str | None = None  #: ``-e``; defaults to ``-o``'s pattern
    stdin: str | None = None  #: ``-i``: ``all``, ``none``, a task id or a pattern; None: task 0 reads srun's
    time_limit: float | None = None  #: seconds left, from the launch (TIMEOUT when they run out)
    kill_wait: float | None = None  #: None: the agent's default
    mem_limit_mib: int | None = None


@dataclass(frozen=True)
class StepLaunched:
    job_id: int
    step_id: int
    pid: int  # the step supervisor's
    cpu_ids: list[int]
    gpu_ids: list[int]
    start: float


@dataclass(frozen=True)
class StepFinished:
    job_id: int
    step_id: int
    state: JobState  #: COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY or NODE_FAIL
    exit_code: int  #: the highest of the tasks'
    signal: int  #: the signal that ended the first task killed by one
    tasks: dict[int, tuple[int, int]]  #: task id -> (exit code, signal)
    start: float | None
    end: float
    cpu_time: float | None
    max_rss_kib: int | None
    reason: str
    io_error: str = ""  #: why output did not all reach srun (it went away); empty when it did


def step_launch_record(spec: StepLaunch, *, node_name: str, cpu_ids: list[int], gpu_ids: list[int],
                       env: dict[str, str], kill_wait: float, notify: str) -> dict:
    """The step supervisor's launch.json."""
    return {
        "kind": "step", "job_id": spec.job_id, "step_id": spec.step_id,
        "user": spec.user, "uid": spec.uid, "gid": spec.gid,
        "argv": list(spec.argv), "env": env, "cwd": spec.cwd, "tasks": list(spec.tasks),
        "node_id": spec.node_id, "node_name": node_name,
        "ntasks": spec.ntasks if spec.ntasks is not None else len(spec.tasks),
        "cpus_per_task": spec.cpus_per_task, "cpu_ids": cpu_ids, "gpu_ids": gpu_ids,
        "io": spec.io, "stdout": spec.stdout, "stderr": spec.stderr, "stdin": spec.stdin,
        "time_limit": spec.time_limit, "kill_wait": kill_wait, "mem_limit_mib": spec.mem_limit_mib,
        "notify": notify,
    }


def final_state(name) -> JobState:
    """The state a supervisor wrote; a name it should never write is a failure."""
    state = JobState.__members__.get(str(name))
    return state if state is not None and state.finished else JobState.FAILED


def step_finished_from(job_id: int, step_id: int, status: dict) -> StepFinished:
    tasks = {int(t["task"]): (int(t.get("exit_code") or 0), int(t.get("signal") or 0))
             for t in status.get("tasks") or []}
    return StepFinished(
        job_id=job_id, step_id=step_id,
        state=final_state(status.get("state")),
        exit_code=int(status.get("exit_code") or 0),
        signal=int(status.get("signal") or 0),
        tasks=tasks,
        start=status.get("start"),
        end=float(status.get("end") or time.time()),
        cpu_time=status.get("cpu_time"),
        max_rss_kib=status.get("max_rss_kib"),
        reason=str(status.get("reason") or ""),
        io_error=str(status.get("io_error") or ""),
    )


def lost_step(job_id: int, step_id: int, stepdir: Path) -> StepFinished:
    """A step whose supervisor vanished without status.json: its tasks are killed."""
    state = read_json(stepdir / "state.json") or {}
    kill_orphaned_step(state)
    start = float(state["start"]) if state.get("start") else None
    return StepFinished(job_id, step_id, JobState.NODE_FAIL, 0, 0, {}, start, time.time(),
                        None, None, "supervisor lost")


def kill_orphaned_step(state: dict) -> int:
    """SIGKILL what is left of a step whose supervisor died: the processes still in its
    group and session that started after it did (so no later process that reuses the
    ids is touched). Returns how many were killed."""
    try:
        pgid, session, start = int(state["job_pid"]), int(state["session"]), float(state["start"])
    except (KeyError, TypeError, ValueError):
        return 0
    killed = 0
    for proc in psutil.process_iter(["pid", "create_time"]):
        pid = proc.info["pid"]
        try:
            if os.getpgid(pid) == pgid and os.getsid(pid) == session and (proc.info["create_time"] or 0) >= start - 1:
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except OSError:
            continue
    return killed


def record_signal(stepdir: Path, signum: int) -> None:
    """Note that ``signum`` is sent on request, before it is sent (one short append, atomic)."""
    with open(stepdir / SIGNALS_FILE, "a") as f:
        f.write(f"{int(signum)}\n")


def steps_on_disk(jobs_dir: Path, job_id: int | None = None) -> list[tuple[int, int]]:
    """``(job_id, step_id)`` of every step directory with a launch.json that poll() has
    not reported yet (running, or ended while no agent watched)."""
    found = []
    pattern = f"{job_id if job_id is not None else '*'}/steps/*/launch.json"
    for launch in jobs_dir.glob(pattern):
        stepdir = launch.parent
        if (stepdir / REPORTED_FILE).exists():
            continue
        try:
            found.append((int(stepdir.parent.parent.name), int(stepdir.name)))
        except ValueError:
            continue
    return sorted(found)


def mark_reported(stepdir: Path) -> None:
    try:
        (stepdir / REPORTED_FILE).touch()
    except OSError:
        pass
