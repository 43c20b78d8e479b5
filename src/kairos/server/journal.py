"""Changes on their way to the database, committed in groups.

The controller changes jobs in memory and records what changed here; ``commit()``
returns once everything recorded so far is durable.  One transaction carries whatever
accumulated while the previous one was being written (group commit), which is what lets
one SQLite file take thousands of submissions a second without acknowledging anything
it could lose.  SQLite commits inline (a WAL commit takes a few hundred microseconds,
less than a hop to a thread and back); a database server is written from a thread so
the event loop never waits on the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kairos.model.job import LiveJob


class Journal:
    """Inserted jobs and changed fields, until the next commit."""

    def __init__(self, store, clock: Callable[[], float],
                 next_job_id: Callable[[], int]) -> None:
        self.store = store
        self.clock = clock
        self.next_job_id = next_job_id
        self._inserts: dict[int, LiveJob] = {}
        self._changed: dict[int, tuple[LiveJob, set[str]]] = {}
        self._nodes: dict[str, object] = {}  #: node statuses to write whole
        self._steps: dict[tuple[int, int], object] = {}  #: steps to write whole
        self._lock = asyncio.Lock()
        self._inline = str(getattr(store, "url", "")).startswith("sqlite")

    def insert(self, job: LiveJob) -> None:
        """``job`` is new: write all of it."""
        job.updated = self.clock()
        self._inserts[job.job_id] = job

    def change(self, job: LiveJob, **fields) -> None:
        """Set ``fields`` on ``job`` and write them at the next commit."""
        for name, value in fields.items():
            setattr(job, name, value)
        job.updated = self.clock()
        if job.job_id in self._inserts:
            return  # the insert writes the job as it is then
        entry = self._changed.get(job.job_id)
        if entry is None:
            self._changed[job.job_id] = (job, set(fields))
        else:
            entry[1].update(fields)

    def save_node(self, status) -> None:
        """Write node ``status`` (a ``NodeStatus``) whole at the next commit."""
        self._nodes[status.name] = status

    def save_step(self, step) -> None:
        """Write ``step`` (a ``LiveStep``) whole at the next commit."""
        step.updated = self.clock()
        self._steps[(step.job_id, step.step_id)] = step

    @property
    def dirty(self) -> bool:
        return bool(self._inserts or self._changed or self._nodes or self._steps)

    async def commit(self) -> None:
        """Return once every change recorded so far is in the database."""
        if not (self.dirty or self._lock.locked()):
            return
        # Let requests that are already readable record their changes first: one
        # transaction then carries them all.
        await asyncio.sleep(0)
        async with self._lock:
            inserts, self._inserts = list(self._inserts.values()), {}
            changed, self._changed = list(self._changed.values()), {}
            nodes, self._nodes = [n.to_row() for n in self._nodes.values()], {}
            steps, self._steps = [s.to_row() for s in self._steps.values()], {}
            if not (inserts or changed or nodes or steps):
                return
            updates = [job.to_row(("job_id", "updated", *sorted(names))) for job, names in changed]
            if self._inline:
                self.store.write(inserts, updates, next_job_id=self.next_job_id(),
                                 node_rows=nodes, step_rows=steps)
            else:
                await asyncio.to_thread(self.store.write, inserts, updates,
                                        next_job_id=self.next_job_id(), node_rows=nodes,
                                        step_rows=steps)
