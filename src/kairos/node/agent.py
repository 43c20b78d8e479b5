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

Job steps (:mod:`kairos.node.steps`): ``launch_step`` starts a step supervisor for the
tasks a step has on this node, in ``<home>/jobs/<job_id>/steps/<step_id>/``, whether or
not the job's batch script runs here; ``poll()`` reports their ends as ``StepFinished``
(before any ``Finished`` of the same round), ``cancel(job_id)`` ends the job's steps
with it, and a batch job's end cancels the steps it leaves here (a job's steps end with
the job, as in Slurm). After a restart ``adopt_steps()`` finds the step supervisors
again from their directories.

Size: just over 500 lines because batch supervisors and step supervisors share one
bookkeeping of cores, GPUs and directories, which must change in one place; what a
supervisor does lives in :mod:`kairos.node.supervisor`, how steps are laid out in
:mod:`kairos.node.steps`.
"""

from __future__ import annotations

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
from kairos.node.environment import placement_environment
from kairos.node.facts import NodeFacts
from kairos.node.holds import Holds
from kairos.node.steps import (
    StepFinished,
    StepLaunch,
    StepLaunched,
    final_state,
    lost_step,
    mark_reported,
    record_signal,
    step_finished_from,
    step_launch_record,
    steps_on_disk,
)
from kairos.node.supervised import SUPERVISOR_PATH, Supervised, read_json, supervisor_command
from kairos.node.supervisor.files import write_json_atomic

__all__ = [
    "AgentError", "Finished", "Launched", "LaunchSpec", "LocalAgent", "NodeBusyError", "SUPERVISOR_PATH",
    "StepFinished", "StepLaunch", "StepLaunched", "kill_left_behind", "supervisor_command",
]

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
    #: ``--signal=B:``: sent to the batch shell alone ``warn_time`` s before the limit
    warn_signal: int | None = None
    warn_time: float = 0.0
    umask: int | None = None  #: the submitter's; None: the supervisor's own


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


class LocalAgent:
    """Runs jobs on this machine, one supervisor each, and owns its cores and GPUs."""

    def __init__(self, home: Path, facts: NodeFacts, *, python: str = sys.executable, kill_wait: float = 30) -> None:
        self.home = Path(home)
        self.facts = facts
        self.python = python
        self.kill_wait = kill_wait
        self.jobs_dir = self.home / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._jobs: dict[int, Supervised] = {}
        self._steps: dict[tuple[int, int], Supervised] = {}
        #: cores and GPUs of jobs whose batch script is elsewhere, for their steps
        self.holds = Holds(self.jobs_dir)
        self._cleanup_after_steps: set[int] = set()
        self._unreaped: list[subprocess.Popen] = []
        self._wakeup_path = self.home / WAKEUP_FIFO
        self.wakeup_fd = self._open_wakeup_fifo()

    # ------------------------------------------------------------------ resources

    def free_cpus(self) -> list[int]:
        used = {c for job in self._watched() for c in job.cpu_ids} | self.holds.cpu_ids()
        return [c for c in self.facts.cpus if c not in used]

    def free_gpus(self) -> list[int]:
        used = {g for job in self._watched() for g in job.gpu_ids} | self.holds.gpu_ids()
        return [g.index for g in self.facts.gpus if g.index not in used]

    def allocate(self, job_id: int, ncpus: int, gpus: list[tuple[str | None, int]]) -> tuple[list[int], list[int]]:
        """Hold cores and GPUs here for a job whose batch script runs elsewhere (see
        :mod:`kairos.node.holds`); its steps run on them.  The ids."""
        held = self.holds.of(job_id)
        if held is None:
            cpu_ids, gpu_ids = self.pick_cpus(ncpus), self.pick_gpus(gpus)
            self.holds.hold(job_id, cpu_ids, gpu_ids)
            held = (cpu_ids, gpu_ids)
        return held

    def _watched(self) -> list[Supervised]:
        """Batch jobs and steps: a step holds its cores too (an allocation without a
        batch script here is known to the agent by its steps only)."""
        return [*self._jobs.values(), *self._steps.values()]

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
        self._cleanup_after_steps.discard(job_id)
        env = dict(spec.env)
        env.update(placement_environment(cpu_ids, gpu_ids, hide_gpus=bool(self.facts.gpus)))
        write_json_atomic(str(jobdir / "launch.json"), {
            "job_id": job_id, "user": spec.user, "uid": spec.uid, "gid": spec.gid,
            "script": spec.script, "argv": list(spec.argv), "work_dir": spec.work_dir, "env": env,
            "stdout": spec.stdout, "stderr": spec.stderr or spec.stdout, "cpu_ids": cpu_ids,
            "mem_limit_mib": spec.mem_limit_mib, "time_limit": spec.time_limit,
            "kill_wait": self.kill_wait if spec.kill_wait is None else spec.kill_wait,
            "open_mode": spec.open_mode, "notify": str(self._wakeup_path),
            "warn_signal": spec.warn_signal, "warn_time": spec.warn_time,
            "umask": spec.umask,
        })
        start = time.time()
        job = self._jobs[job_id] = Supervised.start(self.python, job_id, jobdir, cpu_ids, gpu_ids)
        return Launched(job_id, job.pid, cpu_ids, gpu_ids, start)

    def _fresh_jobdir(self, job_id: int) -> Path:
        jobdir = self.jobdir(job_id)
        if jobdir.exists():  # left by an earlier run of the same id (a requeue)
            shutil.rmtree(jobdir)
        jobdir.mkdir(mode=0o700)
        return jobdir

    def launch_step(self, spec: StepLaunch) -> StepLaunched:
        """Start the tasks ``spec`` gives this node under a new step supervisor; returns at once.

        ``spec.cpu_ids``/``gpu_ids`` None: the job's, when its batch script runs here;
        otherwise none (not pinned; GPUs hidden on a machine that has some).
        """
        key = (spec.job_id, spec.step_id)
        if key in self._steps:
            raise AgentError(f"step {spec.job_id}.{spec.step_id} is already running on {self.facts.name}; "
                             "cancel it or wait for poll() to report it")
        job = self._jobs.get(spec.job_id)
        held = (job.cpu_ids, job.gpu_ids) if job is not None else self.holds.of(spec.job_id)
        cpu_ids = list(spec.cpu_ids if spec.cpu_ids is not None else held[0] if held else [])
        gpu_ids = list(spec.gpu_ids if spec.gpu_ids is not None else held[1] if held else [])
        stepdir = self._fresh_stepdir(*key)
        env = dict(spec.env)
        env.update(placement_environment(cpu_ids, gpu_ids, hide_gpus=bool(self.facts.gpus)))
        write_json_atomic(str(stepdir / "launch.json"), step_launch_record(
            spec, node_name=spec.node_name or self.facts.name, cpu_ids=cpu_ids, gpu_ids=gpu_ids, env=env,
            kill_wait=self.kill_wait if spec.kill_wait is None else spec.kill_wait, notify=str(self._wakeup_path)))
        start = time.time()
        step = self._steps[key] = Supervised.start(self.python, spec.job_id, stepdir, cpu_ids, gpu_ids, spec.step_id)
        return StepLaunched(spec.job_id, spec.step_id, step.pid, cpu_ids, gpu_ids, start)

    def _fresh_stepdir(self, job_id: int, step_id: int) -> Path:
        stepdir = self.stepdir(job_id, step_id)
        stepdir.parent.parent.mkdir(mode=0o700, exist_ok=True)
        stepdir.parent.mkdir(mode=0o700, exist_ok=True)
        if stepdir.exists():  # an earlier run of the job id (a requeue), reported already
            shutil.rmtree(stepdir)
        stepdir.mkdir(mode=0o700)
        return stepdir

    def stepdir(self, job_id: int, step_id: int) -> Path:
        return self.jobdir(job_id) / "steps" / str(step_id)

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

    def held(self) -> list[int]:
        """Jobs whose batch script does not run here but that hold part of this node
        or have steps here (see :mod:`kairos.node.holds`)."""
        return sorted((set(self.holds.jobs()) | {job for job, _ in self._steps})
                      - set(self._jobs))

    def running_steps(self) -> list[tuple[int, int]]:
        """``(job_id, step_id)`` of the steps launched or adopted and not yet reported by poll()."""
        return sorted(self._steps)

    def poll(self) -> list[Finished | StepFinished]:
        """The steps, then the jobs, that ended since the last call; never blocks. Their
        cores and GPUs are free again; a job's end cancels its steps still running here."""
        self._drain_wakeup()
        self._unreaped = [p for p in self._unreaped if p.poll() is None]
        finished: list[Finished | StepFinished] = []
        for key, step in list(self._steps.items()):
            ended = self._step_result(step)
            if ended is not None:
                del self._steps[key]
                mark_reported(step.jobdir)
                finished.append(ended)
        for job in list(self._jobs.values()):
            result = self._result(job)
            if result is not None:
                del self._jobs[job.job_id]
                finished.append(result)
                self._cancel_steps(job.job_id)
        self._clean_up_after_steps()
        return finished

    def _ended(self, sup: Supervised) -> tuple[bool, dict | None]:
        """Whether the supervisor is done, and its status.json (None: it left none)."""
        ended, status = sup.ended()
        if status is not None and sup.proc is not None and sup.proc.poll() is None:
            self._unreaped.append(sup.proc)  # status.json is written; its exit follows
        return ended, status

    def _result(self, job: Supervised) -> Finished | None:
        ended, status = self._ended(job)
        if not ended:
            return None
        if status is not None:
            return _finished_from(job.job_id, status)
        self._kill_orphaned_job(job)
        return Finished(job.job_id, JobState.NODE_FAIL, 0, 0, job.recorded_start(), time.time(), None, None, "supervisor lost")

    def _step_result(self, step: Supervised) -> StepFinished | None:
        ended, status = self._ended(step)
        if not ended:
            return None
        if status is not None:
            return step_finished_from(step.job_id, step.step_id, status)
        return lost_step(step.job_id, step.step_id, step.jobdir)

    def _kill_orphaned_job(self, job: Supervised) -> None:
        """A supervisor died without a word: kill what is left of its job, if it is still its job."""
        state = read_json(job.jobdir / "state.json")
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
        """Ask the job's supervisor and those of its steps here to cancel (SIGTERM, then
        SIGKILL after kill_wait); True when any was told."""
        job = self._jobs.get(job_id)
        steps = self._steps_of(job_id)
        if job is None and not steps:
            if self.holds.of(job_id) is not None:
                return False  # held for steps that never came: nothing to stop
            self._known(job_id)  # says why
        told = self._cancel_steps(job_id)
        return job.signal_supervisor(signal.SIGTERM) if job is not None else told

    def signal(self, job_id: int, signum: int) -> bool:
        """Send ``signum`` to the job's process group; False when the job is already over."""
        return self._known(job_id).signal_group(signum)

    def signal_step(self, job_id: int, step_id: int, signum: int) -> bool:
        """Send ``signum`` to every task of the step (its process group); False when the
        step is already over. A task it kills counts as cancelled, not failed."""
        step = self._known_step(job_id, step_id)
        return step.signal_group(signum, before=lambda: record_signal(step.jobdir, signum))

    def cancel_step(self, job_id: int, step_id: int) -> bool:
        """Ask the step's supervisor to cancel it (SIGTERM, then SIGKILL after kill_wait)."""
        return self._known_step(job_id, step_id).signal_supervisor(signal.SIGTERM)

    def _cancel_steps(self, job_id: int) -> bool:
        told = [step.signal_supervisor(signal.SIGTERM) for step in self._steps_of(job_id)]
        return any(told)

    def _steps_of(self, job_id: int) -> list[Supervised]:
        return [step for (job, _), step in sorted(self._steps.items()) if job == job_id]

    def set_time_limit(self, job_id: int, seconds: float | None) -> bool:
        """A new time limit for a running job, counted from its start; None for no limit."""
        job = self._known(job_id)
        write_json_atomic(str(job.jobdir / "limits.json"), {"time_limit": seconds})
        return job.signal_supervisor(signal.SIGHUP)

    def _known(self, job_id: int) -> Supervised:
        job = self._jobs.get(job_id)
        if job is None:
            raise AgentError(f"job {job_id} is not running on {self.facts.name}: it was never launched or adopted here, or poll() already reported it")
        return job

    def _known_step(self, job_id: int, step_id: int) -> Supervised:
        step = self._steps.get((job_id, step_id))
        if step is None:
            raise AgentError(f"step {job_id}.{step_id} is not running on {self.facts.name}: it was never launched or adopted here, or poll() already reported it")
        return step

    # ------------------------------------------------------------------ recovery

    def adopt(self, job_id: int, cpu_ids: list[int], gpu_ids: list[int]) -> bool:
        """Watch a job launched by an earlier controller; True when its supervisor is alive.

        Its cores and GPUs are taken again either way; a dead supervisor's job is reported
        by the next poll(), from its status.json or as NODE_FAIL.
        """
        if job_id in self._jobs:
            raise AgentError(f"job {job_id} is already running on {self.facts.name}; adopt each job once")
        job = self._jobs[job_id] = Supervised.find(job_id, self.jobdir(job_id), list(cpu_ids), list(gpu_ids))
        return job.alive()

    def adopt_step(self, job_id: int, step_id: int) -> bool:
        """Watch a step launched by an earlier agent; True when its supervisor is alive.
        Its cores and GPUs (from its launch.json) are taken again; a dead supervisor's
        step is reported by the next poll(), from its status.json or as NODE_FAIL."""
        if (job_id, step_id) in self._steps:
            raise AgentError(f"step {job_id}.{step_id} is already running on {self.facts.name}; adopt each step once")
        stepdir = self.stepdir(job_id, step_id)
        launch = read_json(stepdir / "launch.json") or {}
        step = self._steps[(job_id, step_id)] = Supervised.find(
            job_id, stepdir, list(launch.get("cpu_ids") or []), list(launch.get("gpu_ids") or []), step_id)
        return step.alive()

    def adopt_steps(self, job_id: int | None = None) -> list[tuple[int, int]]:
        """Adopt every step under ``<home>/jobs`` (of ``job_id``, or of all jobs) that no
        poll() has reported yet: those still running and those that ended while no agent
        watched. Returns their ``(job_id, step_id)``."""
        found = [key for key in steps_on_disk(self.jobs_dir, job_id) if key not in self._steps]
        for key in found:
            self.adopt_step(*key)
        return found

    def cleanup(self, job_id: int) -> None:
        """Remove a finished job's directory, its steps' included, once its result is
        recorded. Steps of the job still running here are cancelled, and the directory
        goes once poll() has reported the last of them."""
        if job_id in self._jobs:
            raise AgentError(f"job {job_id} is still running on {self.facts.name}; clean up only after poll() reports it")
        self.holds.release(job_id)
        if self._steps_of(job_id):
            self._cancel_steps(job_id)
            self._cleanup_after_steps.add(job_id)
            return
        shutil.rmtree(self.jobdir(job_id), ignore_errors=True)

    def _clean_up_after_steps(self) -> None:
        for job_id in sorted(self._cleanup_after_steps):
            if job_id not in self._jobs and not self._steps_of(job_id):
                self._cleanup_after_steps.discard(job_id)
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


def _finished_from(job_id: int, status: dict) -> Finished:
    return Finished(
        job_id=job_id,
        state=final_state(status.get("state")),
        exit_code=int(status.get("exit_code") or 0),
        signal=int(status.get("signal") or 0),
        start=status.get("start"),
        end=float(status.get("end") or time.time()),
        cpu_time=status.get("cpu_time"),
        max_rss_kib=status.get("max_rss_kib"),
        reason=str(status.get("reason") or ""),
    )


def kill_left_behind(home: Path) -> int:
    """SIGKILL every supervisor and job or step process group recorded under ``home/jobs`` (what
    a stopped controller leaves running; for tests, benchmarks and a forced clean-up).
    Returns how many jobs were signalled."""
    killed = 0
    jobs = Path(home) / "jobs"
    for state_path in sorted([*jobs.glob("*/state.json"), *jobs.glob("*/steps/*/state.json")]):
        state = read_json(state_path)
        if not state:
            continue
        for kill, pid in ((os.kill, state.get("supervisor_pid")), (os.killpg, state.get("job_pid"))):
            try:
                kill(int(pid), signal.SIGKILL)
                killed += 1
            except (OSError, TypeError, ValueError):
                pass
    return killed
