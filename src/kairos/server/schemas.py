"""API schemas (Pydantic): what crosses the wire, validated at the edge.

``JobSubmit`` mirrors ``kairos.slurm.sbatch.SubmitSpec``; responses are ``JobInfo``
dicts (docs/live.md), documented here and served as plain JSON for speed (``squeue`` on
10,000 jobs should not pay for 10,000 model validations).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JobSubmit(BaseModel):
    """One ``sbatch``: a script and what it asks for."""

    model_config = ConfigDict(extra="forbid")

    script: str = Field(description="the batch script text, starting with #!")
    argv: list[str] = []
    name: str | None = None
    command: str | None = Field(None, description="script file name, or 'wrap'")
    work_dir: str
    stdout: str | None = None
    stderr: str | None = None
    time_limit: float | None = Field(None, gt=0, description="seconds; null: partition default")
    time_min: float | None = Field(None, gt=0)
    nodes: int = Field(1, ge=1)
    ntasks: int = Field(1, ge=1)
    cpus_per_task: int = Field(1, ge=1)
    cpus_per_task_set: bool = False
    mem_per_node: int | None = Field(None, ge=0, description="MiB")
    mem_per_cpu: int | None = Field(None, ge=0, description="MiB")
    gpus: list[tuple[str | None, int]] = []
    partition: str | None = None
    qos: str | None = None
    account: str | None = None
    array: str | None = None
    dependency: str | None = None
    begin: float | None = None
    hold: bool = False
    nice: int = 0
    environment: dict[str, str] = {}
    export: str = "ALL"
    submit_host: str = ""
    test_only: bool = False
    submit_dir: str = ""
    ntasks_set: bool = False


class SubmitResult(BaseModel):
    job_id: int
    job_ids: list[int] = []
    expected_start: float | None = None
    node_list: str | None = None
    cpus: int | None = None
    partition: str | None = None


class JobUpdate(BaseModel):
    """``scontrol update``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    time_limit: float | None = Field(None, description="seconds; null: unlimited")
    priority: float | None = None
    nice: int | None = None
    name: str | None = None


class CancelRequest(BaseModel):
    """``scancel``: ids and/or filters; with ``signal`` running jobs are signalled only."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = None
    users: list[str] | None = None
    names: list[str] | None = None
    states: list[str] | None = None
    partitions: list[str] | None = None
    signal: str | int | None = Field(None, description="a name (USR1, SIGUSR1) or a number")


class JobIds(BaseModel):
    ids: list[str]


class Done(BaseModel):
    done: list[str]


class Cancelled(BaseModel):
    cancelled: list[str]
    signalled: list[str]


class JobBatch(BaseModel):
    """Many submissions in one request (scripted pipelines, benchmarks): one round trip
    and one database commit for all of them."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobSubmit] = Field(max_length=10_000)


class BatchResult(BaseModel):
    """One entry per submitted spec, in order: a ``SubmitResult`` or an ``error``."""

    results: list[dict]
