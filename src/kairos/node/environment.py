"""The environment a batch job sees: its exported variables plus ``SLURM_*`` and ``KAIROS_*``.

Scripts written for Slurm read their job id, array index, CPU count and GPUs from
``SLURM_*`` variables, so a job run by Kairos gets the same names with the same meaning.
The list below is what a real Slurm 22.05 batch job (single node, ``sbatch --wrap 'env'``
and an array job) was seen to receive; names only:

    ENVIRONMENT=BATCH, SLURM_JOB_ID, SLURM_JOBID, SLURM_JOB_NAME,
    SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT,
    SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_MAX, SLURM_ARRAY_TASK_STEP (array tasks only),
    SLURM_CPUS_ON_NODE, SLURM_CPUS_PER_TASK (only with -c), SLURM_JOB_CPUS_PER_NODE,
    SLURM_TASKS_PER_NODE, SLURM_NTASKS and SLURM_NPROCS (only with -n or
    --ntasks-per-node), SLURM_NTASKS_PER_NODE (only with --ntasks-per-node),
    SLURM_JOB_NODELIST, SLURM_NODELIST, SLURM_JOB_NUM_NODES, SLURM_NNODES,
    SLURM_JOB_PARTITION, SLURM_JOB_USER, SLURM_JOB_UID, SLURM_JOB_GID,
    SLURM_SUBMIT_DIR, SLURM_SUBMIT_HOST, SLURM_CLUSTER_NAME, SLURMD_NODENAME,
    SLURM_PROCID, SLURM_LOCALID, SLURM_NODEID, SLURM_GTIDS,
    SLURM_MEM_PER_NODE (only with --mem), SLURM_MEM_PER_CPU (only with --mem-per-cpu),
    and, Slurm-internal and not reproduced: SLURM_CONF, SLURM_NODE_ALIASES,
    SLURM_PRIO_PROCESS, SLURM_TASK_PID, SLURM_TOPOLOGY_ADDR,
    SLURM_TOPOLOGY_ADDR_PATTERN, SLURM_WORKING_CLUSTER.

On several nodes (a 3-node Slurm 22.05 of one-CPU nodes) the per-node values follow
the allocation the job got, in Slurm's run form: ``SLURM_JOB_CPUS_PER_NODE`` and
``SLURM_TASKS_PER_NODE`` are ``1(x3)`` for ``-n 3``, ``2,1`` for three tasks on nodes of
two CPUs; ``SLURM_JOB_NUM_NODES``/``SLURM_NNODES`` count its nodes, and
``SLURM_CPUS_ON_NODE`` is the CPUs it holds on the node the script runs on.
``--ntasks-per-node`` adds ``SLURM_NTASKS_PER_NODE`` and the task counts
(``SLURM_NTASKS``, ``SLURM_NPROCS``); ``-N`` alone adds neither.

Not seen on that peer (no accounting, no GPUs, no requeue) but set by Slurm as its manual
describes, and set here under the same conditions: SLURM_JOB_ACCOUNT and SLURM_JOB_QOS
(when the job has them), SLURM_RESTART_COUNT (after a requeue), SLURM_GPUS_ON_NODE,
SLURM_JOB_GPUS, CUDA_VISIBLE_DEVICES and GPU_DEVICE_ORDINAL (with GPUs).
``CUDA_DEVICE_ORDER=PCI_BUS_ID`` is added with GPUs so CUDA numbers devices as NVML does.
Slurm 22.05 sets no time-limit variable and neither does Kairos. ``PWD`` is left as the
submitter's, as Slurm leaves it.

Kairos's own names, for scripts that want them without the Slurm vocabulary:
``KAIROS_JOB_ID``, ``KAIROS_JOB_NAME``, ``KAIROS_ARRAY_JOB_ID``, ``KAIROS_ARRAY_TASK_ID``
(array tasks only), ``KAIROS_CPU_IDS`` (the cores the job is pinned to, ``0-3,8`` form)
and ``KAIROS_GPU_IDS`` (physical NVML indices, with GPUs).

Every name in this list is first removed from the exported environment, so a job
submitted from inside another job does not inherit, say, its parent's array index.

Who calls what: the controller builds the job's environment with :func:`job_environment`
(without ids, or with them if it already knows them); the agent, which picks the core ids
and GPU indices, lays :func:`placement_environment` over it at launch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kairos.model.job import LiveJob

#: Every variable this module owns; stale copies in the exported environment are dropped.
MANAGED = frozenset({
    "ENVIRONMENT", "SLURM_JOB_ID", "SLURM_JOBID", "SLURM_JOB_NAME",
    "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP",
    "SLURM_CPUS_ON_NODE", "SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE",
    "SLURM_TASKS_PER_NODE", "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_NTASKS_PER_NODE",
    "SLURM_JOB_NODELIST", "SLURM_NODELIST", "SLURM_JOB_NUM_NODES", "SLURM_NNODES",
    "SLURM_JOB_PARTITION", "SLURM_JOB_ACCOUNT", "SLURM_JOB_QOS",
    "SLURM_JOB_USER", "SLURM_JOB_UID", "SLURM_JOB_GID",
    "SLURM_SUBMIT_DIR", "SLURM_SUBMIT_HOST", "SLURM_CLUSTER_NAME", "SLURMD_NODENAME",
    "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID", "SLURM_GTIDS",
    "SLURM_RESTART_COUNT", "SLURM_MEM_PER_NODE", "SLURM_MEM_PER_CPU",
    "SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
    "GPU_DEVICE_ORDINAL",
    "KAIROS_JOB_ID", "KAIROS_JOB_NAME", "KAIROS_ARRAY_JOB_ID", "KAIROS_ARRAY_TASK_ID",
    "KAIROS_CPU_IDS", "KAIROS_GPU_IDS",
})

#: The job keys, beyond JobInfo's, that the controller adds for the environment.
ARRAY_COUNT_KEYS = {
    "SLURM_ARRAY_TASK_COUNT": "array_task_count",
    "SLURM_ARRAY_TASK_MIN": "array_task_min",
    "SLURM_ARRAY_TASK_MAX": "array_task_max",
    "SLURM_ARRAY_TASK_STEP": "array_task_step",
}


def job_environment(
    job: LiveJob,
    *,
    base_env: Mapping[str, str],
    node_name: str,
    cluster_name: str,
    submit_host: str,
    cpu_ids: Sequence[int] | None = None,
    gpu_ids: Sequence[int] | None = None,
) -> dict[str, str]:
    """The full environment of a batch job.

    ``job`` is the job's record; its submission says which options were given
    explicitly (``-c``, ``-n``: SLURM_CPUS_PER_TASK, SLURM_NTASKS), ``--mem-per-cpu`` and
    where sbatch ran (SLURM_SUBMIT_DIR; the work directory when unknown).
    ``base_env`` is what ``--export`` gives the job. ``cpu_ids`` and ``gpu_ids``, when
    given, add the placement variables (see :func:`placement_environment`).
    """
    env = {k: v for k, v in base_env.items() if k not in MANAGED}
    env.update(_identity(job))
    env.update(_array(job))
    env.update(_shape(job, node_name))
    env.update(_location(job, node_name=node_name, cluster_name=cluster_name, submit_host=submit_host))
    env.update(_memory(job))
    if cpu_ids is not None or gpu_ids is not None:
        env.update(placement_environment(cpu_ids or [], gpu_ids or []))
    return env


def placement_environment(
    cpu_ids: Sequence[int], gpu_ids: Sequence[int], *, hide_gpus: bool = False
) -> dict[str, str]:
    """The variables that depend on which cores and GPUs the job got.

    With GPUs: ``CUDA_VISIBLE_DEVICES``, ``SLURM_JOB_GPUS``, ``GPU_DEVICE_ORDINAL`` and
    ``KAIROS_GPU_IDS`` list the NVML indices, ``SLURM_GPUS_ON_NODE`` counts them and
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` makes CUDA's numbering match NVML's. Without GPUs on
    a machine that has some (``hide_gpus``), ``CUDA_VISIBLE_DEVICES`` is empty so a CPU job
    cannot take another job's GPU by accident.
    """
    env = {"KAIROS_CPU_IDS": compress_ids(cpu_ids)} if cpu_ids else {}
    if gpu_ids:
        listed = ",".join(str(i) for i in gpu_ids)
        env.update({
            "SLURM_GPUS_ON_NODE": str(len(gpu_ids)),
            "SLURM_JOB_GPUS": listed,
            "CUDA_VISIBLE_DEVICES": listed,
            "GPU_DEVICE_ORDINAL": listed,
            "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
            "KAIROS_GPU_IDS": listed,
        })
    elif hide_gpus:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def compress_ids(ids: Iterable[int]) -> str:
    """CPU ids in the kernel's list form: ``[0, 1, 2, 3, 8]`` -> ``"0-3,8"``."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def per_node(counts: Sequence[int]) -> str:
    """Per-node counts in Slurm's form: ``[4]`` -> ``4``, ``[4, 4, 4]`` -> ``4(x3)``,
    ``[2, 2, 1]`` -> ``2(x2),1``."""
    runs: list[list[int]] = []
    for n in counts:
        if runs and runs[-1][0] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    return ",".join(str(n) if k == 1 else f"{n}(x{k})" for n, k in runs)


def _identity(job: LiveJob) -> dict[str, str]:
    job_id = str(job.job_id)
    env = {
        "ENVIRONMENT": "BATCH",
        "SLURM_JOB_ID": job_id,
        "SLURM_JOBID": job_id,
        "SLURM_JOB_NAME": job.name,
        "SLURM_JOB_USER": job.user,
        "SLURM_JOB_UID": str(job.uid),
        "SLURM_JOB_GID": str(job.gid),
        "KAIROS_JOB_ID": job_id,
        "KAIROS_JOB_NAME": job.name,
    }
    for value, var in ((job.partition, "SLURM_JOB_PARTITION"), (job.account, "SLURM_JOB_ACCOUNT"),
                       (job.qos, "SLURM_JOB_QOS")):
        if value:
            env[var] = value
    if job.restarts:
        env["SLURM_RESTART_COUNT"] = str(job.restarts)
    return env


def _array(job: LiveJob) -> dict[str, str]:
    if job.array_job_id is None or job.array_task_id is None:
        return {}
    env = {
        "SLURM_ARRAY_JOB_ID": str(job.array_job_id),
        "SLURM_ARRAY_TASK_ID": str(job.array_task_id),
        "KAIROS_ARRAY_JOB_ID": str(job.array_job_id),
        "KAIROS_ARRAY_TASK_ID": str(job.array_task_id),
    }
    for var, attribute in ARRAY_COUNT_KEYS.items():
        value = getattr(job, attribute)
        if value is not None:
            env[var] = str(value)
    return env


def _shape(job: LiveJob, node_name: str) -> dict[str, str]:
    """The allocation's shape as it is (a spread job's nodes differ), or, before the
    job has nodes, as it asked for it."""
    nodes = len(job.node_cpus) or max(1, job.nodes)
    cpus = list(job.node_cpus) or [job.cpus // nodes] * nodes
    here = _node_index(job, node_name)
    env = {
        "SLURM_CPUS_ON_NODE": str(cpus[here] if here < len(cpus) else cpus[0]),
        "SLURM_JOB_CPUS_PER_NODE": per_node(cpus),
        "SLURM_TASKS_PER_NODE": per_node(job.tasks_by_node()),
        "SLURM_JOB_NUM_NODES": str(nodes),
        "SLURM_NNODES": str(nodes),
        "SLURM_PROCID": "0",
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": "0",
        "SLURM_GTIDS": "0",
    }
    submission = job.submission
    if submission is not None and submission.cpus_per_task_set:
        env["SLURM_CPUS_PER_TASK"] = str(job.cpus_per_task)
    if submission is not None and (submission.ntasks_set or submission.ntasks_per_node):
        env["SLURM_NTASKS"] = env["SLURM_NPROCS"] = str(job.ntasks)
    if submission is not None and submission.ntasks_per_node:
        env["SLURM_NTASKS_PER_NODE"] = str(submission.ntasks_per_node)
    return env


def _node_index(job: LiveJob, node_name: str) -> int:
    """Where ``node_name`` is in the job's node list (0 when it is not there)."""
    if not job.node_list or len(job.node_cpus) < 2:
        return 0
    from kairos.slurm.hostlist import expand

    try:
        names = expand(job.node_list)
    except ValueError:
        return 0
    return names.index(node_name) if node_name in names else 0


def _location(job: LiveJob, *, node_name: str, cluster_name: str, submit_host: str) -> dict[str, str]:
    node_list = job.node_list or node_name
    submit_dir = job.submission.submit_dir if job.submission is not None else ""
    return {
        "SLURM_JOB_NODELIST": node_list,
        "SLURM_NODELIST": node_list,
        "SLURMD_NODENAME": node_name,
        "SLURM_CLUSTER_NAME": cluster_name,
        "SLURM_SUBMIT_HOST": submit_host,
        "SLURM_SUBMIT_DIR": submit_dir or job.work_dir,
    }


def _memory(job: LiveJob) -> dict[str, str]:
    env = {}
    if job.mem_per_node is not None:
        env["SLURM_MEM_PER_NODE"] = str(int(job.mem_per_node))
    mem_per_cpu = job.submission.mem_per_cpu if job.submission is not None else None
    if mem_per_cpu is not None:
        env["SLURM_MEM_PER_CPU"] = str(int(mem_per_cpu))
    return env
