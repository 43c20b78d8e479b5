"""``/api/v1/accounting``, ``/priority``, ``/shares``: sacct, sprio, sshare."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kairos.server import views
from kairos.server.api.deps import ControllerDep, split, split_states
from kairos.server.api.json import collector_paused, json_response

router = APIRouter(tags=["accounting"])

Strings = Annotated[list[str] | None, Query()]


@router.get("/accounting", summary="Finished and current jobs from the database (sacct)")
async def accounting(controller: ControllerDep, ids: Strings = None, users: Strings = None,
                     states: Strings = None, start: float | None = None,
                     end: float | None = None, limit: int | None = None,
                     steps: bool = False):
    await controller.commit()  # what the caller saw happen is in the database
    id_list = split(ids)
    job_ids, array_ids = None, None
    if id_list:
        job_ids, array_ids = _parse_ids(id_list)
    with collector_paused():  # a whole cluster's history: see collector_paused
        out = controller.store.accounting_info(
            ids=job_ids, array_ids=array_ids, users=split(users), states=split_states(states),
            start=start, end=end, limit=limit)
        if steps and out:
            by_job: dict[int, list] = {}
            for step in controller.store.steps([info["job_id"] for info in out]):
                by_job.setdefault(step.job_id, []).append(step.to_wire())
            for info in out:
                info["steps"] = by_job.get(info["job_id"], [])
        return json_response(out)


def _parse_ids(labels: list[str]) -> tuple[list[int], list[tuple[int, int]]]:
    """``12`` (a job, or every task of array 12), ``12_3`` (one task), ``12.batch``."""
    from kairos.server.admission import SubmitError

    plain, tasks = [], []
    for label in labels:
        head = label.split(".", 1)[0]
        try:
            if "_" in head:
                array_id, index = head.split("_", 1)
                tasks.append((int(array_id), int(index)))
            else:
                plain.append(int(head))
        except ValueError:
            raise SubmitError(f"invalid job id {label!r}") from None
    return plain, tasks


@router.get("/priority", summary="Pending jobs' priority factors (sprio)")
async def priority(controller: ControllerDep, ids: Strings = None, users: Strings = None):
    return json_response(views.priorities(controller, split(ids), split(users)))


@router.get("/shares", summary="Fair-share usage per user (sshare)")
async def shares(controller: ControllerDep, users: Strings = None):
    return json_response(views.shares(controller, split(users)))
