"""The nodes the controller knows: how to reach each one, and whether it is in service.

A node is UP (takes jobs), DRAIN (finishes its jobs, takes no new ones) or DOWN
(unusable), each with the reason and time a person or the controller gave.  The core
knows the same states (``Scheduler.set_node_state``); this registry adds what only the
live manager knows: each node's link (``kairos.server.links``), when it was last heard
from, where its daemon listens, and whether it is DOWN because it stopped answering
(which ``return_to_service`` may undo when it registers again) or because an admin said
so.
"""

from __future__ import annotations

import math
import os
import pwd
from dataclasses import dataclass, field
from functools import cache

from kairos.core.cluster import NodeState

#: The reason a node that stopped heartbeating is DOWN with (Slurm's words).
NOT_RESPONDING = "Not responding"


@cache
def controller_user() -> str:
    """Who the controller runs as: named beside the reasons it sets itself, as Slurm
    names its SlurmUser in ``sinfo -R`` and ``scontrol show node``."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


@dataclass(slots=True)
class NodeStatus:
    """One node as the controller sees it (persisted in the ``nodes`` table)."""

    name: str
    state: NodeState = NodeState.UP
    reason: str | None = None  #: why it is DOWN or DRAIN
    reason_time: float | None = None
    reason_user: str | None = None  #: who set the reason (None: the controller)
    addr: str | None = None  #: where its daemon listens (None: in this process)
    port: int | None = None
    last_seen: float | None = None  #: its last registration or heartbeat
    boot_time: float = 0.0
    version: str = ""
    static: bool = False  #: listed in config.toml (else it registered itself)
    responding: bool = True  #: False after ``node_timeout`` without a word
    cpus: int = 0
    mem_mib: int = 0
    gpus: dict[str, int] = field(default_factory=dict)
    features: tuple[str, ...] = ()

    def to_row(self) -> dict:
        """The ``nodes`` table's row."""
        row = {f: getattr(self, f) for f in _FIELDS}
        row["state"] = self.state.name
        row["features"] = list(self.features)
        return row

    @classmethod
    def from_row(cls, row: dict) -> NodeStatus:
        values = {f: row[f] for f in _FIELDS if f in row}
        values["state"] = NodeState[row["state"]]
        values["features"] = tuple(row.get("features") or ())
        values["gpus"] = dict(row.get("gpus") or {})
        return cls(**values)


_FIELDS = tuple(f for f in NodeStatus.__dataclass_fields__)


class NodeRegistry:
    """Links and statuses by node name.

    Remote nodes' events are put in through ``deliver``, which notes who reported, so
    that a round polls the nodes that said something and the in-process ones, not all
    of thousands of links."""

    def __init__(self) -> None:
        self.links: dict[str, object] = {}
        self.status: dict[str, NodeStatus] = {}
        self._reported: dict[str, None] = {}  #: remote nodes with events, in order
        self._local: list[tuple[str, object]] | None = None  #: in-process links (cache)
        self.silence_checked = -math.inf  #: when silent nodes were last looked for
        self.deaf_pass = -1  #: the round after which the controller last made up for deafness

    @classmethod
    def local(cls, name: str, agent, **facts) -> NodeRegistry:
        """The one-machine default: this machine, run in process by ``agent``."""
        from kairos.server.links import LocalLink

        registry = cls()
        registry.add(NodeStatus(name, **facts), LocalLink(name, agent))
        return registry

    def add(self, status: NodeStatus, link=None) -> None:
        self.status[status.name] = status
        if link is not None:
            self.set_link(status.name, link)

    def set_link(self, name: str, link) -> None:
        self.links[name] = link
        self._local = None

    def link(self, name: str):
        return self.links.get(name)

    def deliver(self, name: str, events: list) -> None:
        """Events remote node ``name`` reported, for the next ``poll``."""
        self.links[name].deliver(events)
        self._reported[name] = None

    def poll(self) -> list[tuple[str, object]]:
        """Every node's events since the last call, as (node name, event)."""
        if self._local is None:
            self._local = [(n, link) for n, link in self.links.items() if not link.remote]
        reported, self._reported = self._reported, {}
        out = [(name, event) for name, link in self._local for event in link.poll()]
        for name in reported:
            link = self.links.get(name)
            if link is not None:
                out.extend((name, event) for event in link.poll())
        return out

    def running(self) -> list[int]:
        """Batch jobs launched and not yet reported ended, on any node."""
        return sorted({job_id for link in self.links.values() for job_id in link.running()})

    def any_running(self) -> bool:
        """Whether any node runs a batch job (cheaper than ``running``)."""
        return any(link.busy() for link in self.links.values())

    def wakeup_fds(self) -> list[int]:
        return [fd for link in self.links.values() if (fd := link.wakeup_fd) >= 0]

    def remote(self) -> list:
        return [link for link in self.links.values() if link.remote]

    def silent(self, now: float, timeout: float) -> list[str]:
        """Remote nodes in service that have said nothing for ``timeout`` seconds."""
        return [
            name for name, status in self.status.items()
            if status.addr is not None and status.responding and status.last_seen is not None
            and status.state is not NodeState.DOWN and now - status.last_seen > timeout
        ]
