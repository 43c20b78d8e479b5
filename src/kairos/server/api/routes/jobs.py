"""``/api/v1/jobs``: submit, list, cancel, hold, release, requeue, update."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from kairos.model.job import PUBLIC_FIELDS
from kairos.server import views, why
from kairos.server.api.deps import (
    CallerDep, ControllerDep, get_caller, split, split_states,
)
from kairos.server.api.json import (
    JSONList, body_schema, collector_paused, json_response, validated_body,
)
from kairos.server.schemas import (
    BatchResult, Cancelled, CancelRequest, Done, JobBatch, JobIds, JobInfo, JobSubmit,
    JobUpdate, SubmitResult, WhyInfo, to_submission,
)

router = APIRouter(prefix="/jobs", tags=["jobs"])

Strings = Annotated[list[str] | None, Query()]


@router.post("", response_model=SubmitResult, summary="Submit a batch job (sbatch)",
             openapi_extra=body_schema(JobSubmit))
async def submit(request: Request):
    """The body is a ``JobSubmit``: the job ids it became, or why it was refused."""
    # The body is read by validated_body, not declared as a parameter: a busy cluster
    # calls this route thousands of times a second (see docs/scale-benchmarks.md).
    caller = await get_caller(request)  # who asks, before what is asked is read
    body = await validated_body(request, JobSubmit)
    controller = request.app.state.controller
    submission = to_submission(body)
    result = controller.submit(submission, caller)
    if not submission.test_only:
        await controller.commit()
    return json_response(result)


@router.post("/batch", response_model=BatchResult, summary="Submit many batch jobs at once")
async def submit_batch(batch: JobBatch, controller: ControllerDep, caller: CallerDep):
    results = []
    for body in batch.jobs:
        try:
            results.append(controller.submit(to_submission(body), caller))
        except ValueError as e:  # a refused submission, or a malformed array/dependency spec
            results.append({"error": str(e)})
    await controller.commit()
    return {"results": results}


#: What ``layout=columns`` answers: the field names once, then each job's values in
#: that order (``rows``), as ``JobInfo`` gives them.
JOB_TABLE_EXAMPLE = {"fields": ["job_id", "state", "name"],
                     "rows": [[12, "RUNNING", "train"], [13, "PENDING", "eval"]]}


@router.get("", response_class=JSONList, summary="List jobs (squeue)",
            responses={200: {"model": list[JobInfo],  # type: ignore[valid-type]
                             "description": "A list of JobInfo (the default), or with "
                             "layout=columns an object of `fields` and `rows`.",
                             "content": {"application/json": {"examples": {"columns": {
                                 "summary": "layout=columns", "value": JOB_TABLE_EXAMPLE}}}}},
                       400: {"description": "an unknown state or field name"}})
async def list_jobs(controller: ControllerDep, ids: Strings = None, users: Strings = None,
                    states: Strings = None, partitions: Strings = None, names: Strings = None,
                    start: bool = False, all_states: bool = False,
                    fields: Annotated[list[str] | None, Query(
                        description="only these JobInfo fields (comma list or repeated)")] = None,
                    layout: Annotated[Literal["records", "columns"], Query(
                        description="records: a list of JobInfo objects; columns: "
                        '{"fields": [names], "rows": [[values], ...]}, the names sent '
                        "once (what squeue asks for)")] = "records"):
    """Jobs matching the filters, as ``JobInfo`` objects (every field) by default.

    ``fields`` keeps only the named ``JobInfo`` fields; ``layout=columns`` sends the
    names once and one list of values per job, in their order (every field when
    ``fields`` is not given).  An unknown field name is refused (400)."""
    with collector_paused():  # the table is freed inside, before collection resumes
        return _job_list(controller, views.select(
            controller, split(ids), users=split(users), names=split(names),
            states=split_states(states), partitions=split(partitions),
            active_only=not all_states and not states and not ids), split(fields), layout, start)


def _job_list(controller, found: list, wanted: list[str] | None, layout: str,
              start: bool) -> Response:
    if wanted is None and layout == "records":
        return json_response(views.job_views(controller, found, start=start))
    names = wanted or list(PUBLIC_FIELDS)
    rows = views.job_table(controller, found, names, start=start)  # ValueError: 400
    if layout == "columns":
        return json_response({"fields": names, "rows": rows})
    return json_response([dict(zip(names, row)) for row in rows])


@router.get("/{job_id}", summary="One job (scontrol show job)", response_model=JobInfo)
async def get_job(job_id: str, controller: ControllerDep):
    found = views.select(controller, [job_id])
    if found:
        # With the forecast start, shown as StartTime of a pending job (Slurm shows the
        # start its backfill planned, or the begin time of a job held back until then).
        return json_response(views.job_views(controller, found, start=True)[0])
    await controller.commit()
    job = controller.store.get(int(job_id)) if job_id.isdigit() else None
    if job is None:
        raise HTTPException(404, f"Invalid job id specified: {job_id}")
    return json_response(job.to_wire())


@router.get("/{job_id}/why", summary="Why a pending job waits (kairos why)",
            response_model=WhyInfo, responses={409: {"description": "the job is not pending"}})
async def explain(job_id: str, controller: ControllerDep, caller: CallerDep):
    await controller.commit()  # a job already gone from memory is found in the store
    try:
        return why.why(controller, job_id, caller)
    except why.NotPending as e:
        raise HTTPException(409, str(e)) from None


@router.post("/cancel", response_model=Cancelled, summary="Cancel or signal jobs (scancel)")
async def cancel(body: CancelRequest, controller: ControllerDep, caller: CallerDep):
    result = controller.cancel(body.ids, caller, users=body.users, names=body.names,
                               states=split_states(body.states), partitions=body.partitions,
                               signal=body.signal)
    await controller.commit()
    return result


@router.post("/hold", response_model=Done, summary="Hold pending jobs")
async def hold(body: JobIds, controller: ControllerDep, caller: CallerDep):
    result = controller.hold(body.ids, caller)
    await controller.commit()
    return result


@router.post("/release", response_model=Done, summary="Release held jobs")
async def release(body: JobIds, controller: ControllerDep, caller: CallerDep):
    result = controller.release(body.ids, caller)
    await controller.commit()
    return result


@router.post("/requeue", response_model=Done, summary="Requeue jobs")
async def requeue(body: JobIds, controller: ControllerDep, caller: CallerDep):
    result = controller.requeue(body.ids, caller)
    await controller.commit()
    return result


@router.patch("/{job_id}", summary="Change a job (scontrol update)", response_model=JobInfo)
async def update(job_id: str, body: JobUpdate, controller: ControllerDep, caller: CallerDep):
    job = controller.update(job_id, body.model_dump(exclude_unset=True), caller)
    await controller.commit()
    return json_response(job.to_wire())
