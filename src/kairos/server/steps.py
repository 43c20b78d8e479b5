"""Job steps on the controller's side: laying ``srun``'s tasks out on a job's nodes,
starting them, and putting together how they ended.

A step lives inside its job's allocation.  Its shape defaults to the allocation's (all
its nodes, its task count, each node running the tasks the job has there: a job whose
tasks spread over nodes holds different numbers on each); otherwise its tasks go to
nodes in the order of the job's node list, as evenly as they fit (``-n 3`` on two nodes
is 2 and 1), consecutive task ids on each node (Slurm's block distribution) or, with
``-m cyclic``, dealt to the nodes in turn.
As in Slurm 22.05, a step holds every CPU its job has on the nodes it uses, unless
``--exact`` (only its tasks' CPUs) or ``--overlap`` (none: it shares); a step that fits
the allocation but not what other steps hold now is ``StepBusy`` (srun retries), one
that could never fit is a ``StepError``.

Each node of the step gets a ``LaunchStep`` with its tasks and the step's environment
(Slurm's: SLURM_NNODES, SLURM_TASKS_PER_NODE and SLURM_DISTRIBUTION are the step's,
SLURM_CPUS_ON_NODE what it holds on that node); the step is over when every
one of them has reported its end (``StepFinished``), or was lost with its node: its
exit code is the highest of its tasks', its state COMPLETED only if every part
completed.
"""

from __future__ import annotations

import os
from collections import Counter

from kairos.core.jobs import JobState
from kairos.model.step import LiveStep, StepRequest
from kairos.node.environment import per_node
from kairos.node.steps import StepLaunch
from kairos.node.wire import KillStep, LaunchStep, SignalStep
from kairos.server.errors import NotFound
from kairos.slurm.hostlist import compress

#: How bad each way a part of a step can end is: the step takes the worst of its parts'.
_SEVERITY = {JobState.COMPLETED: 0, JobState.FAILED: 1, JobState.TIMEOUT: 2,
             JobState.OUT_OF_MEMORY: 3, JobState.CANCELLED: 4, JobState.NODE_FAIL: 5}


class StepError(ValueError):
    """A step that cannot be made (HTTP 400), in Slurm's words where Slurm has some."""


class StepBusy(Exception):
    """The allocation could run the step, but other steps hold its CPUs now (HTTP 409)."""


def step_of(controller, label: str, step_id: int, caller=None) -> LiveStep:
    """Step ``step_id`` of the job ``label`` names (with ``caller``: one they may change)."""
    job = controller.job(label, caller)
    step = controller.steps.get((job.job_id, step_id))
    if step is None:
        raise NotFound(f"Invalid job step specified: {job.job_id}.{step_id}")
    return step


def create_step(controller, job, request: StepRequest) -> LiveStep:
    """Lay out, record and start a step of running ``job`` (a ``LiveJob``)."""
    if job.state is not JobState.RUNNING:
        raise StepError("Job/step already completing or completed" if job.state.finished
                        else "Job has not started yet")
    if not request.argv:
        raise StepError("no command to run: give srun a program")
    nodes = controller.job_nodes(job.job_id)
    shares = {s.name: s.cpus for s in controller.scheduler.allocation(job.job_id)}
    busy = Counter()
    for step in controller.running_steps(job.job_id):
        if not step.overlap:
            busy.update(step.cpus_by_node)
    layout, held = lay_out(request, nodes, shares, busy, job.ntasks,
                           job_layout=job.tasks_by_node())
    step_id = controller.next_step_id(job.job_id)
    step = LiveStep(
        job.job_id, step_id, name=request.name or os.path.basename(request.argv[0]),
        user=job.user, state=JobState.RUNNING, node_list=compress(list(layout)),
        nodes=len(layout), ntasks=sum(len(t) for t in layout.values()),
        cpus=sum(held.values()), tasks_per_node=per_node([len(t) for t in layout.values()]),
        start_time=controller.clock(), command=" ".join(request.argv), layout=layout,
        cpus_by_node=held, waiting_for=list(layout), overlap=request.overlap)
    controller.add_step(step)
    controller.wake()
    env = _step_environment(request, step)
    for node_id, (node, tasks) in enumerate(layout.items()):
        controller.send(node, LaunchStep(StepLaunch(
            job_id=job.job_id, step_id=step_id, user=job.user, uid=job.uid, gid=job.gid,
            argv=list(request.argv), env={**env, "SLURM_CPUS_ON_NODE": str(held[node])},
            cwd=request.cwd, tasks=tasks, node_id=node_id,
            node_name=node, ntasks=step.ntasks,
            cpus_per_task=request.cpus_per_task, io=request.io, stdout=request.stdout,
            stderr=request.stderr, stdin=request.stdin, time_limit=_time_left(controller, job, request),
            mem_limit_mib=None)))
    return step


def lay_out(request: StepRequest, nodes: list[str], shares: dict[str, int],
            busy: Counter, job_tasks: int, job_layout: list[int] | None = None,
            ) -> tuple[dict[str, list[int]], dict[str, int]]:
    """(node -> task ids, node -> CPUs the step holds) for ``request`` on a job holding
    ``shares`` CPUs on each of ``nodes`` (in node-list order), ``busy`` of them held by
    other steps.  A step of the job's own shape (no ``-n -N -w -x -c
    --ntasks-per-node``) runs its tasks where the job has them (``job_layout``, tasks
    per node in node-list order): a spread job's nodes hold different numbers."""
    if job_layout is not None and len(job_layout) == len(nodes) and _job_shaped(request):
        laid = _as_the_job(request, nodes, shares, busy, job_layout)
        if laid is not None:
            return laid
    usable = [n for n in nodes if n not in set(request.exclude)]
    if request.nodelist:
        unknown = sorted(set(request.nodelist) - set(nodes))
        if unknown:
            raise StepError(f"Requested node configuration is not available: node(s) "
                            f"{compress(unknown)} are not in the job's allocation "
                            f"({compress(nodes)})")
        usable = [n for n in usable if n in set(request.nodelist)] + \
            [n for n in usable if n not in set(request.nodelist)]
    cpt = request.cpus_per_task or 1
    if request.ntasks_per_node:
        count = request.nodes or len(usable)
        ntasks = request.ntasks or request.ntasks_per_node * count
    else:
        ntasks = request.ntasks or (request.nodes if request.nodes else job_tasks)
        count = request.nodes or min(len(usable), ntasks)
    count = min(count, ntasks)
    if count > len(usable) or count < 1:
        raise StepError(f"Requested node configuration is not available: {count} node(s) "
                        f"asked, the allocation offers {len(usable)}")
    fits = {n: shares[n] // cpt for n in usable}
    if sum(sorted(fits.values(), reverse=True)[:count]) < ntasks and not request.overlap:
        raise StepError("More processors requested than permitted")
    free = {n: (shares[n] if request.overlap else shares[n] - busy.get(n, 0)) // cpt for n in usable}
    chosen = _choose(usable, count, free if not request.overlap else fits, ntasks,
                     request.ntasks_per_node)
    if chosen is None:
        raise StepBusy("Requested nodes are busy")
    layout = _deal(chosen, request.distribution == "cyclic")
    exact = request.exact or request.cpus_per_task is not None
    held = {node: (len(ids) * cpt if exact else shares[node]) for node, ids in layout.items()}
    if request.overlap:
        held = {node: len(ids) * cpt for node, ids in layout.items()}
    return layout, held


def _deal(chosen: list[tuple[str, int]], cyclic: bool) -> dict[str, list[int]]:
    """Task ids for ``chosen`` (node, task count): consecutive ids on each node
    (block), or dealt to the nodes in turn, skipping those that have all theirs
    (cyclic: ``-n 4`` on two nodes is 0,2 and 1,3)."""
    layout: dict[str, list[int]] = {node: [] for node, _ in chosen}
    if not cyclic:
        task = 0
        for node, n in chosen:
            layout[node] = list(range(task, task + n))
            task += n
        return layout
    task, total = 0, sum(n for _, n in chosen)
    while task < total:
        for node, n in chosen:
            if len(layout[node]) < n:
                layout[node].append(task)
                task += 1
    return layout


def _job_shaped(request: StepRequest) -> bool:
    """Whether ``request`` leaves its shape to the job's."""
    return (request.ntasks is None and request.nodes is None and not request.ntasks_per_node
            and request.cpus_per_task is None and not request.nodelist and not request.exclude
            and request.distribution != "cyclic")


def _as_the_job(request: StepRequest, nodes: list[str], shares: dict[str, int], busy: Counter,
                job_layout: list[int]) -> tuple[dict[str, list[int]], dict[str, int]] | None:
    """``lay_out`` for a step of the job's shape: its tasks where the job has them;
    None when other steps hold their room now (they are then laid out as any step)."""
    if not request.overlap and any(shares[n] - busy.get(n, 0) < count
                                   for n, count in zip(nodes, job_layout)):
        return None
    layout, task = {}, 0
    for node, count in zip(nodes, job_layout):
        layout[node] = list(range(task, task + count))
        task += count
    if request.overlap or request.exact:
        return layout, {node: len(ids) for node, ids in layout.items()}
    return layout, {node: shares[node] for node in layout}


def _choose(nodes: list[str], count: int, room: dict[str, int], ntasks: int,
            per_node: int | None) -> list[tuple[str, int]] | None:
    """``count`` nodes and their task counts, balanced (block), within ``room`` tasks
    each; None when they do not fit now."""
    candidates = [n for n in nodes if room[n] >= 1]
    if len(candidates) < count:
        return None
    picked = candidates[:count]
    if per_node:
        counts = [per_node] * count
    else:
        base, extra = divmod(ntasks, count)
        counts = [base + (1 if i < extra else 0) for i in range(count)]
    # Move tasks off nodes without room onto those with some (block, as Slurm fills).
    spare = 0
    for i, node in enumerate(picked):
        if counts[i] > room[node]:
            spare += counts[i] - room[node]
            counts[i] = room[node]
    for i, node in enumerate(picked):
        give = min(spare, room[node] - counts[i])
        counts[i] += give
        spare -= give
    if spare or any(c < 1 for c in counts):
        return None
    return list(zip(picked, counts))


def step_ended(controller, node: str, event) -> LiveStep | None:
    """Node ``node`` reports its part of a step ended (``StepFinished``), or could not
    start it (``StepLaunchFailed``); the step when this was its last part."""
    step = controller.steps.get((event.job_id, event.step_id))
    if step is None or node not in step.waiting_for:
        return None
    state = getattr(event, "state", JobState.FAILED)
    step.waiting_for.remove(node)
    worse = _SEVERITY.get(state, 1) > _SEVERITY.get(step.state, 0) or step.state is JobState.RUNNING
    if worse and state is not JobState.COMPLETED:
        step.state, step.reason = state, getattr(event, "reason", None) or "None"
    step.exit_code = max(step.exit_code, getattr(event, "exit_code", 1))
    step.signal = step.signal or getattr(event, "signal", 0)
    if getattr(event, "cpu_time", None) is not None:
        step.cpu_time = (step.cpu_time or 0.0) + event.cpu_time
    if getattr(event, "max_rss_kib", None) is not None:
        step.max_rss = max(step.max_rss or 0, event.max_rss_kib)
    if not step.waiting_for:
        if step.state is JobState.RUNNING:
            step.state = JobState.COMPLETED
        step.end_time = getattr(event, "end", None) or controller.clock()
    controller.save_step(step)
    return step if not step.waiting_for else None


def lose_node(controller, node: str) -> None:
    """``node`` is gone: its part of every step that ran there ended as NODE_FAIL."""
    from kairos.node.steps import StepFinished

    for step in list(controller.steps.values()):
        if node in step.waiting_for:
            step_ended(controller, node, StepFinished(
                step.job_id, step.step_id, JobState.NODE_FAIL, 0, 0, {}, None,
                controller.clock(), None, None, "NodeFail"))


def signal_step(controller, step: LiveStep, signum: int) -> None:
    for node in list(step.waiting_for):
        controller.send(node, SignalStep(step.job_id, step.step_id, signum))


def cancel_step(controller, step: LiveStep) -> None:
    for node in list(step.waiting_for):
        controller.send(node, KillStep(step.job_id, step.step_id))


def _step_environment(request: StepRequest, step: LiveStep) -> dict[str, str]:
    """srun's environment with the step's layout (the per-node and per-task variables
    are the step supervisor's).  As in Slurm, SLURM_NNODES and SLURM_TASKS_PER_NODE are
    the step's (SLURM_JOB_NUM_NODES and SLURM_JOB_NODELIST stay the job's), and
    SLURM_DISTRIBUTION is ``-m``'s, else ``cyclic`` when no node runs two tasks and
    ``block`` otherwise."""
    env = {k: v for k, v in request.env.items() if not k.startswith("SLURM_STEP")}
    distribution = request.distribution or ("cyclic" if step.ntasks <= step.nodes else "block")
    env.update({
        "SLURM_STEP_NODELIST": step.node_list,
        "SLURM_STEP_NUM_NODES": str(step.nodes),
        "SLURM_STEP_TASKS_PER_NODE": step.tasks_per_node,
        "SLURM_NNODES": str(step.nodes),
        "SLURM_TASKS_PER_NODE": step.tasks_per_node,
        "SLURM_DISTRIBUTION": distribution,
    })
    if request.ntasks_per_node:
        env["SLURM_NTASKS_PER_NODE"] = str(request.ntasks_per_node)
    return env


def _time_left(controller, job, request: StepRequest) -> float | None:
    """The step's time limit: its own (``srun -t``), within what the job has left."""
    left = None
    if job.time_limit is not None and job.start_time is not None:
        left = max(1.0, job.start_time + job.time_limit - controller.clock())
    if request.time_limit is not None:
        left = request.time_limit if left is None else min(left, request.time_limit)
    return left
