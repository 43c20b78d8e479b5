"""``/api/v1/jobs/{job_id}/steps`` and allocations: what ``srun``, ``salloc`` and
``sstat`` ask of a running job."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from kairos.server import allocations, steps
from kairos.server.api.deps import CallerDep, ControllerDep
from kairos.server.api.json import json_response
from kairos.server.schemas import Release, SignalBody, StepCreated, StepInfo, StepSubmit, to_step_request

router = APIRouter(prefix="/jobs", tags=["steps"])

#: The variables of a batch script's own process, not of an allocation's shell.
_BATCH_ONLY = frozenset({"ENVIRONMENT", "SLURMD_NODENAME", "SLURM_PROCID", "SLURM_LOCALID",
                         "SLURM_NODEID", "SLURM_GTIDS"})


@router.post("/{job_id}/steps", response_model=StepCreated, summary="Start a job step (srun)")
async def create_step(job_id: str, body: StepSubmit, controller: ControllerDep,  # type: ignore[valid-type]
                      caller: CallerDep):
    try:
        step = steps.create_step(controller, controller.job(job_id, caller), to_step_request(body))
    except steps.StepBusy as e:
        raise HTTPException(409, str(e)) from None
    await controller.commit()
    return {"job_id": step.job_id, "step_id": step.step_id, "node_list": step.node_list,
            "nodes": list(step.layout), "ntasks": step.ntasks, "tasks": step.layout}


@router.get("/{job_id}/steps", summary="A job's steps (sstat, sacct)",
            responses={200: {"model": list[StepInfo]}})  # type: ignore[valid-type]
async def list_steps(job_id: str, controller: ControllerDep):
    job = controller.job(job_id)
    found = [s for (j, _), s in sorted(controller.steps.items()) if j == job.job_id]
    if not found:
        await controller.commit()
        found = controller.store.steps([job.job_id])
    return json_response([s.to_wire() for s in found])


@router.post("/{job_id}/steps/{step_id}/signal", summary="Signal a step's tasks (srun)")
async def signal_step(job_id: str, step_id: int, body: SignalBody, controller: ControllerDep,
                      caller: CallerDep):
    from kairos.slurm.signals import signal_number

    step = steps.step_of(controller, job_id, step_id, caller)
    steps.signal_step(controller, step, signal_number(body.signal))
    return {"signalled": step.label}


@router.post("/{job_id}/steps/{step_id}/cancel", summary="End a step on every node")
async def cancel_step(job_id: str, step_id: int, controller: ControllerDep, caller: CallerDep):
    step = steps.step_of(controller, job_id, step_id, caller)
    steps.cancel_step(controller, step)
    return {"cancelled": step.label}


@router.post("/{job_id}/keepalive", summary="An allocation's holder is still there")
async def keepalive(job_id: str, controller: ControllerDep, caller: CallerDep):
    job = allocations.allocation_of(controller, job_id, caller)
    allocations.keepalive(controller, job)
    return {"job_id": job.job_id, "state": job.state.name}


@router.post("/{job_id}/release", summary="Give an allocation back (srun, salloc)")
async def release(job_id: str, body: Release, controller: ControllerDep, caller: CallerDep):
    job = allocations.allocation_of(controller, job_id, caller)
    allocations.release(controller, job, body.exit_code)
    return {"job_id": job.job_id}


@router.get("/{job_id}/environment", summary="The SLURM_* variables of an allocation")
async def environment(job_id: str, controller: ControllerDep, caller: CallerDep):
    from kairos.node.environment import job_environment

    job = allocations.allocation_of(controller, job_id, caller, running=True)
    nodes = controller.job_nodes(job.job_id)
    env = job_environment(job, base_env={}, node_name=nodes[0],
                          cluster_name=controller.settings.cluster_name,
                          submit_host=job.submission.submit_host)
    return {k: v for k, v in env.items() if k not in _BATCH_ONLY}
