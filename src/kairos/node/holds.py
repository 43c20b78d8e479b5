"""Cores and GPUs a job holds on a node where its batch script does not run.

A multi-node job's batch script runs on its first node; on the others, and on every node
of an allocation made by ``srun`` or ``salloc``, nothing runs until a step does.  The
controller still gave the job part of those nodes, so the node's agent picks the core
ids and GPU indices of that part when told (``Allocate``) and keeps them for the job's
steps until the job is over (``Cleanup``).  A hold is written to
``<jobdir>/allocation.json`` so that a restarted node daemon holds the same ids again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from kairos.node.supervisor.files import write_json_atomic

HOLD_FILE = "allocation.json"


class Holds:
    """Job id -> (core ids, GPU indices) held on this node for the job's steps."""

    def __init__(self, jobs_dir: Path) -> None:
        self.jobs_dir = jobs_dir
        self._held: dict[int, tuple[list[int], list[int]]] = {}

    def hold(self, job_id: int, cpu_ids: list[int], gpu_ids: list[int]) -> None:
        jobdir = self.jobs_dir / str(job_id)
        jobdir.mkdir(mode=0o700, exist_ok=True)
        write_json_atomic(str(jobdir / HOLD_FILE), {"cpu_ids": cpu_ids, "gpu_ids": gpu_ids})
        self._held[job_id] = (list(cpu_ids), list(gpu_ids))

    def of(self, job_id: int) -> tuple[list[int], list[int]] | None:
        return self._held.get(job_id)

    def release(self, job_id: int) -> None:
        self._held.pop(job_id, None)

    def jobs(self) -> list[int]:
        """The jobs held for."""
        return sorted(self._held)

    def cpu_ids(self) -> set[int]:
        return {c for cpus, _ in self._held.values() for c in cpus}

    def gpu_ids(self) -> set[int]:
        return {g for _, gpus in self._held.values() for g in gpus}

    def reload(self) -> list[int]:
        """Hold again what the files say (after a restart); the jobs."""
        for path in sorted(self.jobs_dir.glob(f"*/{HOLD_FILE}")):
            try:
                data = json.loads(path.read_text())
                self._held[int(path.parent.name)] = (list(data["cpu_ids"]), list(data["gpu_ids"]))
            except (OSError, ValueError, KeyError):
                continue
        return sorted(self._held)


def forget_files(jobdir: Path) -> None:
    shutil.rmtree(jobdir, ignore_errors=True)
