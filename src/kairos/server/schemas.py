"""API schemas (pydantic): what crosses the wire, validated at the edge.

The shapes are not written twice: ``JobSubmit`` is generated from
``kairos.model.Submission`` (its field metadata carries the numeric bounds) and
``JobInfo`` from the public fields of ``kairos.model.LiveJob``, so the OpenAPI document,
the validation and the commands' own dataclasses cannot drift apart.  Job lists are
served as plain JSON built by ``LiveJob.to_wire`` (``squeue`` on 10,000 jobs should not
pay for 10,000 model validations); ``JobInfo`` documents them.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from kairos.core.jobs import JobState
from kairos.model.job import PUBLIC_FIELDS, LiveJob
from kairos.model.step import PUBLIC_FIELDS as STEP_FIELDS
from kairos.model.step import LiveStep, StepRequest
from kairos.model.submission import Submission


def _fields(cls, names: typing.Iterable[str] | None = None,
            replace: dict[str, Any] | None = None) -> dict[str, tuple[Any, Any]]:
    """pydantic field definitions for the dataclass ``cls`` (``names``: only those)."""
    hints = typing.get_type_hints(cls)
    wanted = set(names) if names is not None else None
    out = {}
    for f in dataclasses.fields(cls):
        if wanted is not None and f.name not in wanted:
            continue
        annotation = (replace or {}).get(f.name, hints[f.name])
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = Field(default_factory=f.default_factory)  # type: ignore[misc]
        else:
            default = ...
        bounds = f.metadata.get("bounds", {})
        if bounds:
            default = Field(default, **bounds) if not isinstance(default, type(Field())) else default
        out[f.name] = (annotation, default)
    return out


#: One ``sbatch``: a script and what it asks for (``kairos.model.Submission``).  No NaN
#: or infinity: no option means one, and JSON (the database's included) has none.
JobSubmit = create_model(
    "JobSubmit", __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
    **_fields(Submission))

_STATE_NAMES = Literal[tuple(s.name for s in JobState)]  # type: ignore[valid-type]

#: One job as the API shows it (``kairos.model.LiveJob``'s public fields).
JobInfo = create_model(
    "JobInfo", **_fields(LiveJob, PUBLIC_FIELDS, replace={"state": _STATE_NAMES}))


#: One ``srun`` inside an allocation (``kairos.model.step.StepRequest``).
StepSubmit = create_model(
    "StepSubmit", __config__=ConfigDict(extra="forbid"), **_fields(StepRequest))

#: One step as the API shows it (``kairos.model.step.LiveStep``'s public fields).
StepInfo = create_model(
    "StepInfo", **_fields(LiveStep, STEP_FIELDS, replace={"state": _STATE_NAMES}))


class StepCreated(BaseModel):
    job_id: int
    step_id: int
    node_list: str
    nodes: list[str]
    ntasks: int
    tasks: dict[str, list[int]]


class SignalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str | int = Field(description="a name (USR1, SIGUSR1) or a number")


class Release(BaseModel):
    """An allocation given back by its holder, with the exit code of what ran in it."""

    model_config = ConfigDict(extra="forbid")

    exit_code: int = 0


def to_step_request(body: BaseModel) -> StepRequest:
    return StepRequest(**body.__dict__)


def to_submission(body: BaseModel) -> Submission:
    """The model's dataclass for a validated ``JobSubmit`` (the schema has exactly its
    fields, already of its types: no dump and no second check)."""
    return Submission(**body.__dict__)


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

    jobs: list[JobSubmit] = Field(max_length=10_000)  # type: ignore[valid-type]


class BatchResult(BaseModel):
    """One entry per submitted job, in order: a ``SubmitResult`` or an ``error``."""

    results: list[dict]


# -- kairos why ------------------------------------------------------------------------
# Times are epoch seconds; None where a time never comes under the forecast's
# assumptions (a held job, a job without a time limit).  Jobs are named by label.


class WhyHolder(BaseModel):
    """A running job on nodes the pending job is forecast to start on, expected to end
    by then."""

    job_id: str
    user: str
    nodes: list[str]
    expected_end: float
    limit_end: float | None


class WhyReservation(BaseModel):
    job_id: str
    user: str
    start: float


class WhyDependency(BaseModel):
    kind: str
    job_id: str | None
    status: Literal["unfulfilled", "failed"]
    state: str | None = Field(None, description="the other job's state, when known")


class WhyWhatIf(BaseModel):
    """A change the twin confirms would start the job sooner."""

    kind: Literal["time_limit", "fewer_nodes", "fewer_cpus", "partition", "release"]
    changes: dict[str, Any] = Field(description="time_limit (s), nodes, tasks, cpus_per_task, "
                                                "partition or held: the new values")
    start: float
    nodes: list[str]


class WhyInfo(BaseModel):
    """``kairos why``: why a pending job waits, its forecast start and what would make it
    sooner (``kairos.core.explain``)."""

    job_id: str
    user: str
    partition: str
    now: float
    reason: str = Field(description="the pending reason, as squeue shows it")
    rule: str = Field(description="the rule that gives that reason")
    policy: str
    order: str
    expected_start: float | None = Field(description="the forecast squeue --start shows")
    start_interval: tuple[float | None, float | None] = Field(
        description="the forecast if every job runs its expected time and if every job "
                    "runs to its time limit, earliest first")
    forecast_known: bool = Field(
        True, description="false when the forecasts stopped at the controller's "
                          "forecast_budget before the job started: then the start is not "
                          "known (null), rather than never")
    nodes: list[str] = Field(description="where it is forecast to start")
    time_limit: float | None
    estimate: float | None = Field(description="the runtime the scheduler plans it with")
    begin: float | None
    jobs_ahead: int
    reservation: WhyReservation | None
    blocking: list[WhyReservation]
    holders: list[WhyHolder]
    dependencies: list[WhyDependency]
    what_ifs: list[WhyWhatIf]
