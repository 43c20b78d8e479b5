"""What the controller and a node daemon say to each other, as JSON.

Commands go from the controller to a node (launch a batch script or a step's tasks,
kill or signal a job or a step, change a job's time limit, forget a finished job);
events come back (a launch's result, a job's or a step's end).  The dataclasses are the agent's own (``kairos.node.agent``): a node
daemon hands a command to its ``LocalAgent`` as is, and the controller handles a remote
node's events exactly as those of its in-process agent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from kairos.core.jobs import JobState
from kairos.node.agent import Finished, Launched, LaunchSpec
from kairos.node.steps import StepFinished, StepLaunch, StepLaunched

# ------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class Launch:
    """Start ``job_id``'s batch script on the node."""

    job_id: int
    spec: LaunchSpec


@dataclass(frozen=True, slots=True)
class Kill:
    """End ``job_id`` on the node: its batch script and every step (SIGTERM, then
    SIGKILL after the kill wait); the end comes back as an event."""

    job_id: int


@dataclass(frozen=True, slots=True)
class Signal:
    """Send ``signum`` to ``job_id``'s batch script and what it started."""

    job_id: int
    signum: int


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """``job_id``'s time limit is now ``seconds`` from its start (None: unlimited)."""

    job_id: int
    seconds: float | None


@dataclass(frozen=True, slots=True)
class Cleanup:
    """``job_id``'s end is recorded: the node may remove its files."""

    job_id: int


@dataclass(frozen=True, slots=True)
class Allocate:
    """Hold ``ncpus`` cores and ``gpus`` on the node for ``job_id``, whose batch script
    runs elsewhere (or nowhere: an allocation); its steps here use them."""

    job_id: int
    ncpus: int
    gpus: list


@dataclass(frozen=True, slots=True)
class LaunchStep:
    """Start this node's share of a job step (its tasks)."""

    spec: StepLaunch


@dataclass(frozen=True, slots=True)
class KillStep:
    """End a step's tasks on the node (SIGTERM, then SIGKILL after the kill wait)."""

    job_id: int
    step_id: int


@dataclass(frozen=True, slots=True)
class SignalStep:
    """Send ``signum`` to a step's tasks on the node."""

    job_id: int
    step_id: int
    signum: int


COMMANDS = {cls.__name__: cls for cls in (Launch, Kill, Signal, TimeLimit, Cleanup,
                                          Allocate, LaunchStep, KillStep, SignalStep)}

# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class LaunchFailed:
    """The node could not start ``job_id`` (``reason`` says why)."""

    job_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class StepLaunchFailed:
    """The node could not start its share of a step (``reason`` says why)."""

    job_id: int
    step_id: int
    reason: str


EVENTS = {cls.__name__: cls for cls in (Launched, LaunchFailed, Finished, StepLaunched,
                                        StepLaunchFailed, StepFinished)}

# ------------------------------------------------------------------------ encoding


def encode(message: Any) -> dict[str, Any]:
    """``{"type": <class name>, ...fields}`` for a command or an event."""
    data = {f.name: _plain(getattr(message, f.name)) for f in dataclasses.fields(message)}
    data["type"] = type(message).__name__
    return data


def decode_command(data: dict[str, Any]):
    return _decode(data, COMMANDS)


class Deliveries:
    """Which of its controller's numbered commands a node has taken, so that a batch
    sent again is not carried out twice.

    The controller numbers each node's commands 1, 2, ... within a *session* (a token
    of its link to the node: a controller that restarts starts another) and sends the
    number of a batch's first; it sends a batch again when it cannot tell whether the
    node took it (a lost answer).  A Launch carried out twice would find its job
    running and fail it; so the commands of a batch at or below the highest number
    taken are skipped.  A node says its session and count when it registers, and the
    controller drops from its outbox what the node took already."""

    def __init__(self) -> None:
        self.session: str | None = None
        self.taken = 0

    def fresh(self, commands: list, session: str | None, first: int | None) -> list:
        """The commands of a batch (numbered from ``first``) not taken before; all of
        them for a batch without numbers or from another session."""
        if session is None or first is None:
            return commands
        first = int(first)
        if session != self.session:
            self.session, self.taken = session, first - 1
        skip = min(len(commands), max(0, self.taken - first + 1))
        self.taken = max(self.taken, first + len(commands) - 1)
        return commands[skip:]

    def said(self) -> dict[str, Any]:
        """What the node says of them when it registers."""
        return {"session": self.session, "taken": self.taken}


def decode_event(data: dict[str, Any]):
    return _decode(data, EVENTS)


def _decode(data: dict[str, Any], kinds: dict[str, type]):
    """The message in ``data``; ValueError naming what is wrong with it."""
    kind = kinds.get(str(data.get("type")))
    if kind is None:
        raise ValueError(f"unknown message type {data.get('type')!r}; expected one of "
                         f"{', '.join(sorted(kinds))}")
    values = {f.name: data.get(f.name) for f in dataclasses.fields(kind) if f.name in data}
    if kind is Launch:
        values["spec"] = LaunchSpec(**{k: v for k, v in values["spec"].items()})
        values["spec"].gpus = [tuple(g) for g in values["spec"].gpus]
    if kind is Allocate:
        values["gpus"] = [tuple(g) for g in values.get("gpus") or ()]
    if kind is LaunchStep:
        values["spec"] = StepLaunch(**values["spec"])
    if kind in (Finished, StepFinished):
        values["state"] = JobState[values["state"]]
    if kind is StepFinished:  # JSON keys are text
        values["tasks"] = {int(t): tuple(v) for t, v in (values.get("tasks") or {}).items()}
    try:
        return kind(**values)
    except TypeError as e:
        raise ValueError(f"malformed {kind.__name__}: {e}") from None


#: Types ``_plain`` gives back as they are, checked first (most values are these).
_AS_IS = frozenset({str, int, float, bool, type(None)})
#: A dataclass's field names, by type (``dataclasses.fields`` is slow to ask each time).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {k: _plain(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
        return _plain(value)
    return _plain_other(value)


def _plain_other(value: Any) -> Any:
    if isinstance(value, JobState):
        return value.name
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
