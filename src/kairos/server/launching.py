"""Starting a batch script: the launch its first node gets.

The job's environment is built here from its record (``kairos.node.environment``), over
what its submission exported and the owner's login basics; the node adds what depends
on the cores and GPUs it picks, and the Slurm commands first on its PATH
(``kairos.node.shims``).  The job's other nodes are told to hold its share of
them for its steps (``Allocate``).  An allocation-only job (srun, salloc) has no script:
nothing is launched, and every node of it holds its share.
"""

from __future__ import annotations

import math

from kairos.model.job import LiveJob
from kairos.node.shims import on_path
from kairos.node.wire import Allocate, Launch
from kairos.server import allocations


def send_started(controller) -> None:
    """Send each job the last pass started to its first node (the job is already
    RUNNING in the database, so a crash in between is recovered by requeueing it)."""
    from kairos.node.agent import LaunchSpec
    from kairos.node.environment import job_environment

    launching, controller.to_launch = controller.to_launch, []
    for job_id in launching:
        job = controller.jobs[job_id]
        core = controller.scheduler.running.get(job_id)
        if core is None:
            continue  # cancelled before it was launched
        submission = job.submission
        nodes = controller.job_nodes(job_id)
        shares = {s.name: s for s in controller.scheduler.allocation(job_id)}
        gpus = list(core.request.gpus_per_node)
        for other in nodes[0 if submission.allocation else 1:]:  # hold their cores for steps
            controller.send(other, Allocate(job_id, shares[other].cpus, gpus))
        if submission.allocation:  # held by srun or salloc: nothing to run here
            allocations.started(controller, job)
            continue
        node = nodes[0]
        env = job_environment(
            job, base_env=login_environment(job), node_name=node,
            cluster_name=controller.settings.cluster_name, submit_host=submission.submit_host)
        link = controller.nodes.link(node)
        if link is not None and not link.remote:  # a node daemon adds its own
            env["KAIROS_SOCKET"] = str(controller.settings.socket_path)
            if controller.shims is not None:
                on_path(env, controller.shims)
        limit = job.time_limit
        share = shares[node]
        batch_warning = submission.warn_signal if submission.warn_batch else None
        controller.send(node, Launch(job_id, LaunchSpec(
            user=job.user, uid=job.uid, gid=job.gid, script=submission.script,
            argv=list(submission.argv), work_dir=job.work_dir, env=env,
            stdout=job.stdout, stderr=job.stderr or job.stdout,
            mem_limit_mib=share.mem or None,  # a spread job's differs from node to node
            time_limit=None if limit is None or math.isinf(limit) else limit,
            ncpus=share.cpus, gpus=gpus, open_mode=open_mode(job),
            warn_signal=batch_warning, warn_time=submission.warn_time,
            umask=submission.umask)))


def open_mode(job: LiveJob) -> str:
    """How the batch script's output files are opened: ``--open-mode``, else truncated
    on the first run and appended to on the runs after a requeue, so that a restart
    never wipes what the earlier runs wrote (Slurm 22.05 truncates again unless
    ``JobFileAppend``; Kairos never drops a run's output unless told to)."""
    if job.submission is not None and job.submission.open_mode is not None:
        return job.submission.open_mode
    return "append" if job.restarts else "truncate"


def login_environment(job: LiveJob) -> dict:
    """What the job inherits, plus the owner's login basics (HOME, USER, LOGNAME, SHELL,
    PATH) where the submission did not carry them: Slurm adds them even for
    ``--export=NONE``, and scripts rely on ``$HOME``."""
    import pwd

    env = dict(job.submission.environment)
    try:
        pw = pwd.getpwuid(job.uid)
        login = {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
                 "SHELL": pw.pw_shell or "/bin/sh"}
    except KeyError:
        login = {"USER": job.user, "LOGNAME": job.user}
    login["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    for key, value in login.items():
        env.setdefault(key, value)
    return env
