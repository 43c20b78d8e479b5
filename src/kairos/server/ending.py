"""How a job's run ended, whoever saw it end: its batch node (``Finished``), the node
that could not launch it, or the controller for an allocation (released, its holder
gone, out of time)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kairos.core.jobs import JobState
from kairos.node.agent import Finished


@dataclass(slots=True)
class Ending:
    """How a job's run ended, from whoever saw it end (its batch node, or the
    controller for an allocation); ``nodes`` is filled in while it still runs."""

    job_id: int
    state: JobState
    exit_code: int
    node: str | None  #: where its batch script ran (None: an allocation)
    reason: str = "None"
    signal: int = 0
    start: float | None = None
    end: float | None = None
    cpu_time: float | None = None
    max_rss: int | None = None
    nodes: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, node: str, finished: Finished) -> Ending:
        return cls(finished.job_id, finished.state, finished.exit_code, node,
                   finished.reason or "None", finished.signal, finished.start, finished.end,
                   finished.cpu_time, finished.max_rss_kib)
