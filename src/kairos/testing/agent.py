"""An in-process node agent for controller tests: jobs "run" until the test ends them.

It answers the calls the controller makes of ``kairos.node.agent.LocalAgent`` (launch,
cancel, signal, time limits, adoption, poll) without processes, so the controller's
rules - permissions, transitions, recovery - are tested in milliseconds and without
root.  A cancel ends the job at the next ``poll`` (as a supervisor would report it);
everything else ends when the test calls ``finish``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kairos.core.jobs import JobState
from kairos.node.agent import AgentError, Finished, Launched, LaunchSpec


@dataclass
class FakeJob:
    spec: LaunchSpec | None
    cpu_ids: list[int]
    gpu_ids: list[int]
    start: float
    signals: list[int] = field(default_factory=list)
    time_limit: float | None = None


class InProcessAgent:
    """Jobs by id, with what the controller asked for; ``clock`` gives start/end times."""

    wakeup_fd = -1

    def __init__(self, cpus: int, clock) -> None:
        self.cpus = cpus
        self.clock = clock
        self.jobs: dict[int, FakeJob] = {}
        self.launched: set[int] = set()  #: every id ever launched (its launch.json)
        self.cancelled: list[int] = []  #: ids the controller asked to kill, in order
        self.cleaned: list[int] = []
        self._ended: list[Finished] = []
        self.fail_launch: str | None = None  #: set to make the next launches fail
        self.held: dict[int, tuple[list[int], list[int]]] = {}  #: allocations for steps
        self.steps: dict[tuple[int, int], object] = {}  #: running steps' launches
        self.step_signals: list[tuple[int, int, int]] = []

    def launch(self, job_id: int, spec: LaunchSpec) -> Launched:
        if self.fail_launch:
            raise AgentError(self.fail_launch)
        if job_id in self.jobs:
            raise AgentError(f"job {job_id} is already running")
        used = {c for job in self.jobs.values() for c in job.cpu_ids}
        free = [c for c in range(self.cpus) if c not in used]
        cpu_ids = free[:spec.ncpus]
        self.jobs[job_id] = FakeJob(spec, cpu_ids, [], self.clock(), time_limit=spec.time_limit)
        self.launched.add(job_id)
        return Launched(job_id, 10_000 + job_id, cpu_ids, [], self.clock())

    def finish(self, job_id: int, state: JobState = JobState.COMPLETED, exit_code: int = 0,
               signal: int = 0, reason: str = "") -> None:
        """The job ends now; the controller hears of it at its next round."""
        job = self.jobs.pop(job_id)
        self._ended.append(Finished(job_id, state, exit_code, signal, job.start, self.clock(),
                                    0.0, 0, reason))

    def poll(self) -> list[Finished]:
        ended, self._ended = self._ended, []
        return ended

    def running(self) -> list[int]:
        return list(self.jobs)

    def cancel(self, job_id: int) -> bool:
        self.cancelled.append(job_id)
        for job, step in [k for k in self.steps if k[0] == job_id]:
            self.cancel_step(job, step)
        if job_id not in self.jobs:
            return False
        self.finish(job_id, JobState.CANCELLED, 0, 15)
        return True

    def signal(self, job_id: int, signum: int) -> bool:
        job = self.jobs.get(job_id)
        if job is not None:
            job.signals.append(signum)
        return job is not None

    def set_time_limit(self, job_id: int, seconds: float | None) -> bool:
        job = self.jobs.get(job_id)
        if job is not None:
            job.time_limit = seconds
        return job is not None

    def was_launched(self, job_id: int) -> bool:
        return job_id in self.launched

    def adopt(self, job_id: int, cpu_ids: list[int], gpu_ids: list[int]) -> bool:
        if job_id not in self.jobs:
            self.jobs[job_id] = FakeJob(None, list(cpu_ids), list(gpu_ids), self.clock())
        return True

    def cleanup(self, job_id: int) -> None:
        self.cleaned.append(job_id)
        self.held.pop(job_id, None)

    # -- steps ----------------------------------------------------------------------------

    def allocate(self, job_id: int, ncpus: int, gpus) -> tuple[list[int], list[int]]:
        self.held[job_id] = (list(range(ncpus)), [])
        return self.held[job_id]

    def launch_step(self, spec):
        from kairos.node.steps import StepLaunched

        key = (spec.job_id, spec.step_id)
        if key in self.steps:
            raise AgentError(f"step {spec.job_id}.{spec.step_id} is already running")
        self.steps[key] = spec
        return StepLaunched(spec.job_id, spec.step_id, 20_000 + spec.step_id, [], [], self.clock())

    def finish_step(self, job_id: int, step_id: int, state: JobState = JobState.COMPLETED,
                    exit_code: int = 0) -> None:
        """The step's tasks on this node end now."""
        from kairos.node.steps import StepFinished

        spec = self.steps.pop((job_id, step_id))
        self._ended.append(StepFinished(job_id, step_id, state, exit_code, 0,
                                        {t: (exit_code, 0) for t in spec.tasks}, None,
                                        self.clock(), 0.0, 0, ""))

    def cancel_step(self, job_id: int, step_id: int) -> bool:
        if (job_id, step_id) not in self.steps:
            return False
        self.finish_step(job_id, step_id, JobState.CANCELLED)
        return True

    def signal_step(self, job_id: int, step_id: int, signum: int) -> bool:
        self.step_signals.append((job_id, step_id, signum))
        return (job_id, step_id) in self.steps
