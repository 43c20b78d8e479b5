"""Shared data of the output tests: the clock, jobs as the controller sends them, and
the peer's node and partition.

The expected header lines (and several value lines) in these tests were copied from a
real Slurm 22.05 (squeue, sinfo, scontrol, sshare on the peer; sacct's widths from its
job completion log, since the peer has no accounting database).  sprio's header
follows the 22.05 manual's default format without the association and TRES columns
(the peer runs priority/basic, where sprio refuses to run).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from kairos.model import LiveJob


def at(*fields: int) -> float:
    """Epoch seconds of a UTC date and time."""
    return datetime(*fields, tzinfo=timezone.utc).timestamp()


NOW = at(2026, 11, 25, 3, 49, 14)


@pytest.fixture(autouse=True)
def local_time_is_utc(monkeypatch):
    """Timestamps print in local time: make that UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def job(job_id: int = 24, **fields) -> LiveJob:
    """A job as the controller sends it (a JobInfo dict read by ``LiveJob.from_wire``),
    with fields overridden."""
    info = dict(job_id=job_id, array_job_id=None, array_task_id=None, name="wrap",
                user="root", uid=0, gid=0, group="root", account=None, partition="debug",
                qos=None, state="RUNNING", reason=None, priority=4294901747, nice=0,
                held=False, submit_time=NOW - 33, eligible_time=NOW - 33,
                start_time=NOW - 24, end_time=None, expected_start=None, time_limit=None,
                time_min=None, nodes=1, ntasks=1, cpus_per_task=1, cpus=1,
                mem_per_node=None, gpus=[], dependency=None, begin=None,
                work_dir="/tmp/fmtpeer", stdout=f"/tmp/fmtpeer/slurm-{job_id}.out",
                stderr=f"/tmp/fmtpeer/slurm-{job_id}.out", command="wrap",
                node_list="vm", cpu_ids=[0], gpu_ids=[], exit_code=0, signal=0,
                cpu_time=None, max_rss=None, restarts=0)
    info.update(fields)
    return LiveJob.from_wire(info)


def pending(job_id: int, **fields) -> LiveJob:
    defaults = dict(state="PENDING", reason="Priority", start_time=None, node_list=None)
    return job(job_id, **{**defaults, **fields})


def lines(text: str) -> list[str]:
    assert text.endswith("\n")
    return text[:-1].split("\n")


#: The peer's one partition and node, as ``client.partitions()`` and ``client.nodes()``
#: describe them.
PEER_PARTITION = dict(name="debug", default=True, up=True, max_time=None, default_time=None,
                      max_nodes=None, nodes=["vm"], priority_tier=1, total_cpus=2,
                      total_nodes=1)
PEER_NODE = dict(name="vm", state="allocated", cpus=2, cpus_alloc=2, mem=23081,
                 mem_alloc=23081, gpus={}, gpus_alloc={}, partitions=["debug"], features=[],
                 boot_time=None, os="Linux")
