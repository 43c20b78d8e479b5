"""Jobs that run for a time without any process: what an emulated node does with the
controller's commands (``kairos node --emulate``).

An emulated node takes the same commands as a real one (``kairos.node.wire``) and
answers with the same events, so the controller cannot tell it from a real node except
by its ``emulated`` feature.  Nothing is started: a launch picks core ids and GPUs like
the agent does, says ``Launched`` (supervisor pid 0), and the job "runs" until its time
is up:

* its runtime is ``KAIROS_EMULATE_RUNTIME`` (seconds) from the job's environment, else
  ``N`` when its script is a single ``sleep N`` command, else unlimited;
* it ends ``COMPLETED`` with exit code 0 after its runtime, or ``TIMEOUT`` at its time
  limit when the runtime reaches it (a job without a runtime runs to its limit, or
  until killed when it has none);
* ``Kill`` ends it at once as ``CANCELLED`` (signal 15, as after ``scancel``);
  ``TimeLimit`` moves its end; ``Signal`` has no process to reach and changes nothing;
  ``Allocate`` holds cores until ``Cleanup``; steps cannot run (``StepLaunchFailed``);
  a launch delivered twice (its first answer lost) is answered as the first was.

``Emulation`` is plain bookkeeping with the time as an argument (no I/O, no clock), so
the emulator process (``kairos.node.emulator``) decides when to ask what is due.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field

from kairos.core.jobs import JobState
from kairos.node.agent import Finished, Launched, LaunchSpec
from kairos.node.wire import (
    Allocate, Cleanup, Kill, KillStep, Launch, LaunchFailed, LaunchStep, Signal, SignalStep,
    StepLaunchFailed, TimeLimit,
)

#: The feature every emulated node carries (``sinfo -o %f`` shows it).
EMULATED_FEATURE = "emulated"
#: The job environment variable that sets an emulated job's runtime, in seconds.
RUNTIME_VARIABLE = "KAIROS_EMULATE_RUNTIME"

_SLEEP = re.compile(r"(?:exec\s+)?(?:/usr)?(?:/bin/)?sleep\s+(\d+(?:\.\d*)?)")


def emulated_runtime(spec: LaunchSpec) -> float:
    """How long the job runs (``math.inf``: until its time limit or a kill); ValueError
    when ``KAIROS_EMULATE_RUNTIME`` is not a number of seconds."""
    value = spec.env.get(RUNTIME_VARIABLE)
    if value is not None:
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < math.inf:
            raise ValueError(f"{RUNTIME_VARIABLE}={value!r} in the job's environment: expected "
                             f"a number of seconds, 0 or more (e.g. {RUNTIME_VARIABLE}=30)")
        return seconds
    commands = [line.strip() for line in spec.script.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    if len(commands) == 1 and (match := _SLEEP.fullmatch(commands[0])):
        return float(match[1])
    return math.inf


@dataclass(slots=True)
class EmulatedJob:
    job_id: int
    node: str
    start: float
    runtime: float
    time_limit: float  #: math.inf: none
    cpu_ids: list[int]
    gpu_ids: list[int]
    end: float = math.inf
    ended: bool = False

    def plan_end(self) -> None:
        self.end = self.start + min(self.runtime, self.time_limit)

    @property
    def outcome(self) -> JobState:
        return JobState.COMPLETED if self.runtime < self.time_limit else JobState.TIMEOUT


@dataclass(slots=True)
class EmulatedNode:
    """One node's cores, GPUs and jobs."""

    name: str
    cpus: int
    mem_mib: int
    gpus: dict[str, int] = field(default_factory=dict)
    free_cpus: list[int] = field(default_factory=list)
    free_gpus: dict[str, list[int]] = field(default_factory=dict)
    jobs: dict[int, EmulatedJob] = field(default_factory=dict)  #: batch jobs, until cleaned up
    holds: dict[int, tuple[list[int], list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free_cpus = list(range(self.cpus))
        first = 0
        for kind, count in sorted(self.gpus.items()):
            self.free_gpus[kind] = list(range(first, first + count))
            first += count

    def take(self, ncpus: int, gpus: list[tuple[str | None, int]]) -> tuple[list[int], list[int]]:
        """The lowest free core ids and GPUs of the asked types; ValueError when busy."""
        if ncpus > len(self.free_cpus):
            raise ValueError(f"node {self.name} has {len(self.free_cpus)} free core(s), "
                             f"{ncpus} asked")
        picked_gpus: list[int] = []
        taken: list[tuple[str, list[int]]] = []
        for kind, count in gpus:
            pool_name = kind if kind is not None else next(
                (k for k, ids in sorted(self.free_gpus.items()) if len(ids) >= count), None)
            pool = self.free_gpus.get(pool_name or "", [])
            if count > len(pool):
                for name, ids in taken:  # give back what this launch took
                    self.free_gpus[name].extend(ids)
                    self.free_gpus[name].sort()
                raise ValueError(f"node {self.name} has {len(pool)} free GPU(s) of type "
                                 f"{kind or 'any'}, {count} asked")
            ids, self.free_gpus[pool_name] = pool[:count], pool[count:]
            taken.append((pool_name, ids))
            picked_gpus.extend(ids)
        self.free_cpus.sort()
        cpu_ids, self.free_cpus = self.free_cpus[:ncpus], self.free_cpus[ncpus:]
        return cpu_ids, picked_gpus

    def give_back(self, cpu_ids: list[int], gpu_ids: list[int]) -> None:
        self.free_cpus.extend(cpu_ids)
        for gpu in gpu_ids:
            kind = next(k for k, n in self._gpu_ranges() if gpu in n)
            self.free_gpus[kind].append(gpu)
            self.free_gpus[kind].sort()

    def _gpu_ranges(self):
        first = 0
        for kind, count in sorted(self.gpus.items()):
            yield kind, range(first, first + count)
            first += count


class Emulation:
    """The nodes one emulator process stands for, and the jobs they "run"."""

    def __init__(self, nodes: list[EmulatedNode]) -> None:
        self.nodes = {node.name: node for node in nodes}
        self._ends: list[tuple[float, int, int, str]] = []  #: (end, seq, job id, node)
        self._seq = 0

    def carry_out(self, node_name: str, command, now: float) -> list:
        """Do ``command`` on node ``node_name`` at ``now``; the events it gives at once."""
        node = self.nodes[node_name]
        if isinstance(command, Launch):
            return [self._launch(node, command.job_id, command.spec, now)]
        if isinstance(command, Kill):
            job = node.jobs.get(command.job_id)
            if job is not None and not job.ended:
                return [self._end(job, now, JobState.CANCELLED, signal=15, reason="Cancelled")]
            return []
        if isinstance(command, TimeLimit):
            job = node.jobs.get(command.job_id)
            if job is not None and not job.ended:
                job.time_limit = math.inf if command.seconds is None else float(command.seconds)
                self._schedule(job)
            return []
        if isinstance(command, Allocate):
            if command.job_id in node.holds:  # delivered twice
                return []
            try:
                node.holds[command.job_id] = node.take(command.ncpus, list(command.gpus))
            except ValueError as e:
                return [LaunchFailed(command.job_id, str(e))]
            return []
        if isinstance(command, Cleanup):
            job = node.jobs.pop(command.job_id, None)
            if job is not None and not job.ended:  # cleaned up while running: gone
                job.ended = True
                node.give_back(job.cpu_ids, job.gpu_ids)
            held = node.holds.pop(command.job_id, None)
            if held is not None:
                node.give_back(*held)
            return []
        if isinstance(command, LaunchStep):
            return [StepLaunchFailed(command.spec.job_id, command.spec.step_id,
                                     f"node {node.name} is emulated: it runs no job steps")]
        if isinstance(command, (Signal, SignalStep, KillStep)):
            return []  # no process to reach
        raise TypeError(f"an emulated node cannot carry out {command!r}")

    def due(self, now: float) -> list[tuple[str, Finished]]:
        """The ends due by ``now``, in time order, as (node name, event)."""
        out = []
        while self._ends and self._ends[0][0] <= now:
            end, _, job_id, node_name = heapq.heappop(self._ends)
            job = self.nodes[node_name].jobs.get(job_id)
            if job is None or job.ended or job.end != end:
                continue  # ended otherwise, or its end moved
            state = job.outcome
            out.append((node_name, self._end(
                job, end, state, signal=15 if state is JobState.TIMEOUT else 0,
                reason="TimeLimit" if state is JobState.TIMEOUT else "")))
        return out

    def next_end(self) -> float:
        """When the next job ends (``math.inf``: none runs with an end)."""
        while self._ends:
            end, _, job_id, node_name = self._ends[0]
            job = self.nodes[node_name].jobs.get(job_id)
            if job is not None and not job.ended and job.end == end:
                return end
            heapq.heappop(self._ends)
        return math.inf

    def running(self, node_name: str) -> list[int]:
        """Batch jobs launched on the node and not ended."""
        return sorted(j for j, job in self.nodes[node_name].jobs.items() if not job.ended)

    def held(self, node_name: str) -> list[int]:
        return sorted(self.nodes[node_name].holds)

    def _launch(self, node: EmulatedNode, job_id: int, spec: LaunchSpec, now: float):
        known = node.jobs.get(job_id)
        if known is not None:
            # The same launch again (its first delivery's answer was lost): the same
            # answer.  A job launched anew after a requeue is cleaned up first.
            return Launched(job_id, 0, known.cpu_ids, known.gpu_ids, known.start)
        try:
            runtime = emulated_runtime(spec)
            cpu_ids, gpu_ids = node.take(spec.ncpus, list(spec.gpus))
        except ValueError as e:
            return LaunchFailed(job_id, str(e))
        limit = math.inf if spec.time_limit is None else float(spec.time_limit)
        job = EmulatedJob(job_id, node.name, now, runtime, limit, cpu_ids, gpu_ids)
        node.jobs[job_id] = job
        self._schedule(job)
        return Launched(job_id, 0, cpu_ids, gpu_ids, now)

    def _schedule(self, job: EmulatedJob) -> None:
        job.plan_end()
        if job.end < math.inf:
            self._seq += 1
            heapq.heappush(self._ends, (job.end, self._seq, job.job_id, job.node))

    def _end(self, job: EmulatedJob, at: float, state: JobState, *, signal: int,
             reason: str) -> Finished:
        job.ended = True
        self.nodes[job.node].give_back(job.cpu_ids, job.gpu_ids)
        return Finished(job.job_id, state, 0, signal, job.start, at, 0.0, 0, reason)
