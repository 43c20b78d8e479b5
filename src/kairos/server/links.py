"""How the controller reaches a node: commands out, events back, for every kind of node.

The controller never waits on a node.  It hands each node its commands (``send``) and
collects what the nodes report (``poll``): a launch's result, a job's end.  A
``LocalLink`` carries the commands out at once with the in-process ``LocalAgent`` (the
one-machine default, and a cluster's controller host when it runs jobs too); a
``RemoteLink`` queues them for a node daemon, which the controller's sender delivers over
HTTP, while the daemon's events arrive through the controller's API.  Either way the
controller sees the same events in the same shape, so it has one way of running jobs.
"""

from __future__ import annotations

import collections
import itertools
import logging
import secrets
from typing import Any

from kairos.node.agent import Finished
from kairos.node.link import LocalLink
from kairos.node.wire import Launch, LaunchFailed, encode

__all__ = ["LocalLink", "RemoteLink"]

log = logging.getLogger("kairos.links")


class RemoteLink:
    """A node daemon somewhere else: commands wait in ``outbox`` for the controller's
    sender; events are put in by the API when the daemon reports them."""

    remote = True
    wakeup_fd = -1

    def __init__(self, name: str, addr: str, port: int) -> None:
        self.name = name
        self.addr = addr
        self.port = port
        self.outbox: collections.deque = collections.deque()
        self._events: list[Any] = []
        #: the jobs the daemon said it runs, at its last registration or heartbeat
        self.reported: set[int] = set()
        #: batch jobs launched here and not yet reported ended (what the core runs here)
        self._running: set[int] = set()
        #: whether the daemon registered with this controller process (after a restart
        #: it must again: its registration says what it really runs)
        self.registered = False
        #: whether its daemon takes commands in bundles (``/node/v1/bundle``, one request
        #: for all the nodes it speaks for: ``kairos node --emulate``)
        self.bundles = False
        #: the commands are numbered within this session, ``taken`` of them so far (the
        #: daemon skips a batch sent again: ``kairos.node.wire.Deliveries``)
        self.session = secrets.token_hex(8)
        self.taken = 0

    def batch(self, size: int) -> tuple[list, dict[str, Any]]:
        """The outbox's first ``size`` commands and the body that sends them."""
        batch = list(itertools.islice(self.outbox, size))
        return batch, {"commands": [encode(c) for c in batch], "session": self.session,
                       "first": self.taken + 1}

    def taken_up_to(self, said: dict | None) -> None:
        """The daemon registered saying which commands of this session it took (its
        answer to the last batch may have been lost): they leave the outbox."""
        if not said or said.get("session") != self.session:
            return
        while self.taken < int(said.get("taken") or 0) and self.outbox:
            self.outbox.popleft()
            self.taken += 1

    def send(self, command: Any) -> None:
        if isinstance(command, Launch):
            self._running.add(command.job_id)
        self.outbox.append(command)

    def deliver(self, events: list[Any]) -> None:
        """Events the daemon reported (through the API)."""
        for event in events:
            if isinstance(event, (Finished, LaunchFailed)):
                self._running.discard(event.job_id)
        self._events.extend(events)

    def poll(self) -> list[Any]:
        events, self._events = self._events, []
        return events

    def running(self) -> list[int]:
        return sorted(self._running)

    def busy(self) -> bool:
        return bool(self._running)

    def was_launched(self, job_id: int) -> bool:
        """After a controller restart, a job the database says runs here is taken to
        run here; the daemon's registration says whether it really does."""
        return True

    def adopt(self, job_id: int, cpu_ids: list[int], gpu_ids: list[int]) -> None:
        self._running.add(job_id)

    def lose_everything(self) -> list[int]:
        """The node is gone: forget its queued commands; the jobs it was running."""
        self.outbox.clear()
        lost, self._running = sorted(self._running), set()
        return lost
