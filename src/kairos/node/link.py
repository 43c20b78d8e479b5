"""Carrying out the controller's commands on this machine's agent.

``LocalLink`` takes the commands of ``kairos.node.wire`` (launch, kill, signal, time
limit, clean up) and runs them at once with a ``LocalAgent``; what they lead to (a
launch's result, a job's end) comes back from ``poll`` as events.  The controller uses
it for a node run in its own process, and a node daemon for the commands it receives, so
both run jobs the same way.
"""

from __future__ import annotations

from typing import Any

from kairos.node.agent import AgentError
from kairos.node.wire import (
    Allocate, Cleanup, Kill, KillStep, Launch, LaunchFailed, LaunchStep, Signal, SignalStep,
    StepLaunchFailed, TimeLimit,
)


#: How the agent carries out each command about a job it may or may not run.
_DIRECT = {
    Kill: lambda agent, c: agent.cancel(c.job_id),
    Signal: lambda agent, c: agent.signal(c.job_id, c.signum),
    TimeLimit: lambda agent, c: agent.set_time_limit(c.job_id, c.seconds),
    Cleanup: lambda agent, c: agent.cleanup(c.job_id),
    KillStep: lambda agent, c: agent.cancel_step(c.job_id, c.step_id),
    SignalStep: lambda agent, c: agent.signal_step(c.job_id, c.step_id, c.signum),
}


class LocalLink:
    """A node run in this process by ``agent`` (a ``kairos.node.agent.LocalAgent``)."""

    remote = False

    def __init__(self, name: str, agent) -> None:
        self.name = name
        self.agent = agent
        self._events: list[Any] = []

    @property
    def wakeup_fd(self) -> int:
        return getattr(self.agent, "wakeup_fd", -1)

    def send(self, command: Any) -> None:
        """Carry ``command`` out now; its result is an event for the next ``poll``."""
        agent = self.agent
        if isinstance(command, Launch):
            try:
                self._events.append(agent.launch(command.job_id, command.spec))
            except (OSError, AgentError) as e:
                self._events.append(LaunchFailed(command.job_id, str(e)))
        elif isinstance(command, Allocate):
            try:
                agent.allocate(command.job_id, command.ncpus, command.gpus)
            except AgentError as e:  # the controller's count and the node's disagree
                self._events.append(LaunchFailed(command.job_id, str(e)))
        elif isinstance(command, LaunchStep):
            spec = command.spec
            try:
                self._events.append(agent.launch_step(spec))
            except (OSError, AgentError) as e:
                self._events.append(StepLaunchFailed(spec.job_id, spec.step_id, str(e)))
        elif isinstance(command, tuple(_DIRECT)):
            try:
                _DIRECT[type(command)](agent, command)
            except AgentError:
                pass  # nothing of that job here (any more): nothing to do
        else:
            raise TypeError(f"a node cannot carry out {command!r}")

    def poll(self) -> list[Any]:
        events, self._events = self._events, []
        return events + list(self.agent.poll())

    def running(self) -> list[int]:
        return list(self.agent.running())

    def busy(self) -> bool:
        return bool(self.agent.running())

    def was_launched(self, job_id: int) -> bool:
        return self.agent.was_launched(job_id)

    def adopt(self, job_id: int, cpu_ids: list[int], gpu_ids: list[int]) -> None:
        self.agent.adopt(job_id, cpu_ids, gpu_ids)
