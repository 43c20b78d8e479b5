"""Recovery after a restart (a ``kill -9`` included): nothing acknowledged is lost.

Supervisors outlive the controller, and every job's state is in the store.  On start
the controller reloads unfinished jobs in id order: pending ones re-enter the queue in
their old order; running ones whose supervisor left a ``launch.json`` are adopted (the
agent watches the supervisor again, the core counts the job on its nodes through
``Scheduler.adopt``) and report their end as usual, even if it came while no controller
ran; running ones never launched (the crash came between recording RUNNING and
launching) are queued again.  Fair-share usage is rebuilt from the accounting of
recently finished jobs.
"""

from __future__ import annotations

import math

from kairos.core.events import JobSubmitted, handle
from kairos.core.jobs import JobState
from kairos.server import allocations, warning_signals
from kairos.server.admission import resolve_dependencies


def recover(controller) -> dict[str, int]:
    """Reload unfinished jobs into ``controller``; how many were queued, adopted and
    queued again."""
    store, scheduler, now = controller.store, controller.scheduler, controller.clock()
    controller.next_id = max(controller.next_id, store.next_job_id())
    scheduler.outcomes.update(store.outcomes())
    _charge_history(controller, now)
    for step in store.steps(running=True):  # their ends may still come
        controller.steps[(step.job_id, step.step_id)] = step
    for step in store.steps(job_ids=[j.job_id for j in store.unfinished()]):
        controller._next_step[step.job_id] = max(controller._next_step.get(step.job_id, 0),
                                                 step.step_id + 1)
    counts = {"pending": 0, "adopted": 0, "requeued": 0}
    jobs = store.unfinished()
    for job in jobs:
        if job.array_job_id is not None:
            controller.arrays.setdefault(job.array_job_id, {})[job.array_task_id] = job.job_id
    for job in jobs:
        core = job.to_core_job(resolve_dependencies(job.dependency, controller.arrays))
        controller.jobs[job.job_id] = job
        warning_signals.watch(controller, job)
        nodes = _node_names(job.node_list)
        link = controller.nodes.link(nodes[0]) if nodes else None
        allocation = job.submission is not None and job.submission.allocation
        if job.state is JobState.RUNNING and allocation and nodes:
            core.start, core.expected_end = job.start_time, job.expected_end
            scheduler.adopt(core, now, nodes=nodes, cpus=job.node_cpus or None)
            allocations.started(controller, job)
            counts["adopted"] += 1
            continue
        if job.state is JobState.RUNNING and link is not None and link.was_launched(job.job_id):
            link.adopt(job.job_id, list(job.cpu_ids), list(job.gpu_ids))
            core.start, core.expected_end = job.start_time, job.expected_end
            scheduler.adopt(core, now, nodes=nodes, cpus=job.node_cpus or None)
            counts["adopted"] += 1
            continue
        if job.state is JobState.RUNNING:  # recorded, never launched: run it again
            controller.journal.change(job, state=JobState.PENDING, start_time=None,
                                      node_list=None, node_cpus=(), nodes=core.request.nodes)
            counts["requeued"] += 1
        handle(scheduler, JobSubmitted(now, core))
        counts["pending"] += 1
    return counts


def _node_names(node_list: str | None) -> list[str]:
    from kairos.slurm.hostlist import expand

    if not node_list:
        return []
    try:
        return expand(node_list)
    except ValueError:
        return node_list.split(",")


def _charge_history(controller, now: float) -> None:
    """Rebuild decayed fair-share usage from the accounting of recent finished jobs
    (four half-lives back: older usage weighs under 1/16)."""
    fs = getattr(controller.scheduler.order, "fairshare", None)
    if fs is None:
        return
    since = now - 4 * fs.half_life if not math.isinf(fs.half_life) else 0.0
    finished = [j for j in controller.store.accounting(start=since)
                if j.state.finished and j.start_time and j.end_time]
    for job in sorted(finished, key=lambda j: j.end_time):
        fs.charge(job.user, job.cpus * (job.end_time - job.start_time),
                  min(job.end_time, now), job.account)
