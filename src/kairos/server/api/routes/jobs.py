"""``/api/v1/jobs``: submit, list, cancel, hold, release, requeue, update."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kairos.server.api.deps import CallerDep, ControllerDep, split
from kairos.server.api.json import JSONList, json_response
from kairos.server.records import public
from kairos.server.schemas import (
    BatchResult, Cancelled, CancelRequest, Done, JobBatch, JobIds, JobSubmit, JobUpdate,
    SubmitResult,
)

router = APIRouter(prefix="/jobs", tags=["jobs"])

Strings = Annotated[list[str] | None, Query()]


@router.post("", response_model=SubmitResult, summary="Submit a batch job (sbatch)")
async def submit(spec: JobSubmit, controller: ControllerDep, caller: CallerDep):
    result = controller.submit(spec.model_dump(), caller)
    if not spec.test_only:
        await controller.commit()
    return json_response(result)


@router.post("/batch", response_model=BatchResult, summary="Submit many batch jobs at once")
async def submit_batch(batch: JobBatch, controller: ControllerDep, caller: CallerDep):
    results = []
    for spec in batch.jobs:
        try:
            results.append(controller.submit(spec.model_dump(), caller))
        except ValueError as e:  # SubmitError, or a malformed array/dependency spec
            results.append({"error": str(e)})
    await controller.commit()
    return {"results": results}


@router.get("", response_class=JSONList, summary="List jobs (squeue)")
async def list_jobs(controller: ControllerDep, ids: Strings = None, users: Strings = None,
                    states: Strings = None, partitions: Strings = None, names: Strings = None,
                    start: bool = False, all_states: bool = False):
    found = controller.select(split(ids), users=split(users), names=split(names),
                              states=split(states), partitions=split(partitions),
                              active_only=not all_states and not states and not ids)
    return json_response(controller.view(found, start=start))


@router.get("/{job_id}", summary="One job (scontrol show job)")
async def get_job(job_id: str, controller: ControllerDep):
    found = controller.select([job_id])
    if found:
        return json_response(controller.view(found)[0])
    await controller.commit()
    row = controller.store.get(int(job_id)) if job_id.isdigit() else None
    if row is None:
        from fastapi import HTTPException

        raise HTTPException(404, f"Invalid job id specified: {job_id}")
    return json_response(public(row))


@router.post("/cancel", response_model=Cancelled, summary="Cancel or signal jobs (scancel)")
async def cancel(body: CancelRequest, controller: ControllerDep, caller: CallerDep):
    result = controller.cancel(body.ids, caller, users=body.users, names=body.names,
                               states=body.states, partitions=body.partitions,
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


@router.patch("/{job_id}", summary="Change a job (scontrol update)")
async def update(job_id: str, body: JobUpdate, controller: ControllerDep, caller: CallerDep):
    result = controller.update(job_id, body.model_dump(exclude_unset=True), caller)
    await controller.commit()
    return json_response(public(result))
