"""The controller: the scheduling core on the wall clock.

It is the I/O shell around ``kairos.core.Scheduler`` (the same object the digital twin
drives): requests and process exits come in as the core's events, the core decides, and
the controller carries out the actions it returns - ``StartJob`` through the node
agent's launch, ``KillJob`` through the agent's cancel - and nothing else decides.
Every change of a job goes through one of the transitions below and is recorded in the
journal (``kairos.server.journal``), which group-commits it to the store.

One asyncio loop owns everything; API handlers call the request methods (they only
touch memory) and then ``await commit()``, which returns once their changes are
durable.  Admission rules live in ``kairos.server.admission``, read views in
``kairos.server.views``, the admin rules in ``kairos.server.permissions``, restart
recovery in ``kairos.server.recovery``.

The loop, each round, reads like a checklist: collect the exits the agent saw, hand
them to the core with one scheduling pass (``handle_all``: ends, requeues, then the
pass), record what happened, commit, clean up finished jobs' directories, launch what
the pass started, commit; then sleep until something happens (a request, a job ending,
a ``--begin`` time) or ``scheduler_interval`` passes.

Crash safety: a job is recorded RUNNING before its supervisor is launched, and its
record is final before its job directory is removed (see ``recovery``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import os
import signal as signals
import time
from collections.abc import Callable

from kairos.core import Scheduler
from kairos.core.actions import KillJob, StartJob
from kairos.core.events import JobCancelled, JobEnded, JobRequeued, JobSubmitted, SchedulePass, handle, handle_all
from kairos.core.forecast import forecast_starts
from kairos.core.jobs import Job, JobState
from kairos.model.job import LiveJob
from kairos.model.submission import Submission
from kairos.server import views
from kairos.node.agent import Finished, Launched
from kairos.node.wire import Cleanup, Kill, Launch, LaunchFailed, Signal, TimeLimit
from kairos.server.admission import Admission, SubmitError, output_paths, resolve_dependencies
from kairos.server.journal import Journal
from kairos.server.nodes import NodeRegistry
from kairos.server.permissions import Caller, PermissionDenied, Permissions
from kairos.slurm.hostlist import compress

log = logging.getLogger("kairos.controller")

#: at least this long between scheduling rounds, so a burst of requests shares one pass
MIN_PASS_GAP = 0.005

#: how long a finished job stays visible to ``squeue -t all`` (Slurm's MinJobAge)
MIN_JOB_AGE = 300.0


class NotFound(KeyError):
    """No such job."""

    def __str__(self) -> str:
        return str(self.args[0])


class Controller:
    """Pending and running jobs of the local cluster, kept by the core, run by the agent."""

    def __init__(self, settings, store, nodes: NodeRegistry, cluster, *,
                 clock: Callable[[], float] = time.time, estimator=None,
                 controller_uid: int | None = None) -> None:
        self.settings = settings
        self.store = store
        self.nodes = nodes
        self.cluster = cluster
        self.clock = clock
        self.scheduler = _scheduler(settings, cluster, estimator)
        self.permissions = Permissions(
            settings.admins, os.geteuid() if controller_uid is None else controller_uid)
        self.admission = Admission(settings, cluster, self.scheduler.resources)
        self.journal = Journal(store, clock, lambda: self.next_id)
        #: every pending or running job by id, and finished ones for ``MIN_JOB_AGE``
        self.jobs: dict[int, LiveJob] = {}
        self.arrays: dict[int, dict[int, int]] = {}  #: array id -> {task index: job id}
        self.next_id = 1
        self._to_launch: list[int] = []
        self._to_cleanup: list[tuple[int, str]] = []  #: (job id, node) to clean up
        #: running jobs being killed to be queued again (``scontrol requeue``)
        self._requeue: set[int] = set()
        #: (end time, job id) of finished jobs still shown, oldest first
        self._finished: collections.deque = collections.deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self.started_at = clock()
        self.passes = 0
        self.last_pass_seconds = 0.0

    # ------------------------------------------------------------------ requests

    def submit(self, submission: Submission, caller: Caller) -> dict:
        """Queue a submission (every task of an array).  Raises ``SubmitError``; a
        refused submission uses no job id."""
        now = self.clock()
        admitted = self.admission.admit(
            submission, caller, first_id=self.next_id, now=now, arrays=self.arrays,
            known=lambda i: i in self.jobs or i in self.scheduler.outcomes)
        if submission.test_only:
            return self._test_only(admitted.core_jobs[0], now)
        ids = [job.job_id for job in admitted.jobs]
        self.next_id = ids[-1] + 1
        if admitted.array_tasks is not None:
            self.arrays[ids[0]] = admitted.array_tasks
        for job, core_job in zip(admitted.jobs, admitted.core_jobs):
            handle(self.scheduler, JobSubmitted(now, core_job))
            job.reason = core_job.reason
            self.jobs[job.job_id] = job
            self.journal.insert(job)
        self._wake.set()
        return {"job_id": ids[0], "job_ids": ids}

    def cancel(self, ids: list[str] | None, caller: Caller, *, users=None, names=None,
               states=None, partitions=None, signal: str | int | None = None) -> dict:
        """``scancel``: matching jobs (``signal``: running ones are signalled only)."""
        matched = views.select(self, ids, users=users, names=names, states=states,
                               partitions=partitions, active_only=True)
        now = self.clock()
        done, signalled = [], []
        for job in matched:
            self.permissions.check_owner(job, caller)
            if signal is not None:
                if job.state is JobState.RUNNING:
                    self._send(self._batch_node(job), Signal(job.job_id, _signal_number(signal)))
                    signalled.append(job.label)
                continue
            self._carry_out(handle(self.scheduler, JobCancelled(now, job.job_id)), now)
            if job.state is JobState.PENDING:
                self._pending_to_cancelled(job, now)
            done.append(job.label)
        self._wake.set()
        return {"cancelled": done, "signalled": signalled}

    def hold(self, ids: list[str], caller: Caller) -> dict:
        return self._each_pending(ids, caller, self._hold_one)

    def release(self, ids: list[str], caller: Caller) -> dict:
        return self._each_pending(ids, caller, self._release_one)

    def requeue(self, ids: list[str], caller: Caller) -> dict:
        """``scontrol requeue``: a running job is killed and queued again under its id; a
        finished one (still in memory) is queued again."""
        now, done = self.clock(), []
        for job in views.select(self, ids):
            self.permissions.check_owner(job, caller)
            if job.state is JobState.RUNNING:
                self._carry_out(handle(self.scheduler, JobCancelled(now, job.job_id, requeue=True)), now)
            elif job.state.finished:
                self._finished_to_pending(job, self._core_job(job), now)
            else:
                raise SubmitError(f"job {job.label} is pending: nothing to requeue")
            done.append(job.label)
        self._wake.set()
        return {"done": done}

    def update(self, label: str, fields: dict, caller: Caller) -> LiveJob:
        """``scontrol update``: TimeLimit, Priority (admins), Nice, JobName."""
        job = self._one(label)
        self.permissions.check_owner(job, caller)
        if job.state.finished:
            raise SubmitError(f"job {label} has finished; it cannot be changed")
        now, admin = self.clock(), self.permissions.is_admin(caller)
        core = self.scheduler.jobs[job.job_id]
        changes: dict = {}
        if "time_limit" in fields:
            limit = fields["time_limit"]
            part = self.cluster.partition(job.partition)
            if not admin and (limit is None or limit > (job.time_limit or math.inf)):
                raise PermissionDenied("only an administrator may raise a time limit")
            if limit is not None and limit > part.max_time:
                raise SubmitError(f"time limit exceeds partition {part.name}'s MaxTime")
            self.scheduler.set_time_limit(job.job_id, math.inf if limit is None else limit, now)
            if job.state is JobState.RUNNING:
                self._send(self._batch_node(job), TimeLimit(job.job_id, limit))
            changes["time_limit"] = limit
        if "priority" in fields:
            self.permissions.check_admin(caller, "set a priority")
            if job.state is not JobState.PENDING:
                raise SubmitError(f"job {label} is not pending")
            self.scheduler.set_priority(job.job_id, fields["priority"], now)
            changes["admin_priority"] = fields["priority"]
        if "nice" in fields:
            if fields["nice"] < 0 and not admin:
                raise PermissionDenied("only an administrator may set a negative nice value")
            core.nice = changes["nice"] = int(fields["nice"])
        if "name" in fields:
            core.name = changes["name"] = str(fields["name"])
        self.journal.change(job, **changes)
        self._wake.set()
        return job

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Schedule until ``stop()``: the live counterpart of the twin's replay loop."""
        loop = asyncio.get_running_loop()
        fds = self.nodes.wakeup_fds()
        for fd in fds:
            loop.add_reader(fd, self._wake.set)  # a local supervisor reports an exit
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self.step()
                except Exception:  # noqa: BLE001 - a bug must not stop every job's bookkeeping
                    log.exception("scheduling round failed; retrying in 1 s")
                    await asyncio.sleep(1.0)
                # Let a burst of requests gather: one pass then serves all of them.
                await asyncio.sleep(MIN_PASS_GAP)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_time())
                except TimeoutError:
                    pass
        finally:
            for fd in fds:
                loop.remove_reader(fd)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def step(self) -> None:
        """One round: what the nodes reported and a pass through the core, record,
        commit, clean up, launch, commit."""
        t0 = time.perf_counter()
        now = self.clock()
        reported = self.nodes.poll()
        for node, event in reported:
            if isinstance(event, Launched):
                self._launched(event)
        failed = [e for _, e in reported if isinstance(e, LaunchFailed)
                  and e.job_id in self.scheduler.running]
        finished = [(node, e) for node, e in reported if isinstance(e, Finished)
                    and self._ends_current_run(node, e)]
        events: list = [JobEnded(now, e.job_id, JobState.FAILED, 1) for e in failed]
        for _, f in finished:
            events.append(JobEnded(now, f.job_id, f.state, f.exit_code))
            if f.job_id in self._requeue:
                events.append(JobRequeued(now, self.scheduler.running[f.job_id]))
        events.append(SchedulePass(now))
        actions = handle_all(self.scheduler, events)
        for e in failed:
            self._finish(self.jobs[e.job_id], JobState.FAILED, now,
                         reason=f"JobLaunchFailure: {e.reason}", exit_code=1)
        for node, f in finished:
            self._running_to_finished(self.jobs[f.job_id], f, node, now)
        self._carry_out(actions, now)
        self._forget_old(now)
        self.passes += 1
        self.last_pass_seconds = time.perf_counter() - t0
        await self.commit()  # final states and RUNNING are durable before the files go
        for job_id, node in self._to_cleanup:  # before launching: a requeued job reuses its id
            self._send(node, Cleanup(job_id))
        self._to_cleanup.clear()
        self._launch_started(now)
        if self.journal.dirty:
            await self.commit()

    async def commit(self) -> None:
        """Return once every change made so far is in the database."""
        await self.journal.commit()

    def _sleep_time(self) -> float:
        interval = self.settings.scheduler_interval
        if self.nodes.running():
            interval = min(interval, 2.0)  # a supervisor killed outright says nothing
        return interval

    # ------------------------------------------------------------------ actions

    def _carry_out(self, actions: list, now: float) -> None:
        """Do what the core decided."""
        for action in actions:
            if isinstance(action, StartJob):
                self._pending_to_running(self.jobs[action.job_id], action, now)
            elif isinstance(action, KillJob):
                if action.why == "requeue":
                    self._requeue.add(action.job_id)
                for node in self._job_nodes(action.job_id):
                    self._send(node, Kill(action.job_id))
            else:  # a new kind of action nobody carries out would be a silent bug
                raise TypeError(f"the controller cannot carry out {action!r}")

    def _send(self, node: str, command) -> None:
        """Hand ``command`` to ``node``'s link (dropped, with a log line, for a node the
        controller cannot reach any more: its jobs were ended when it went)."""
        link = self.nodes.link(node)
        if link is None:
            log.warning("no way to reach node %s: dropped %r", node, command)
            return
        link.send(command)
        if not link.remote:
            self._wake.set()  # its result is ready for the next round

    def _job_nodes(self, job_id: int) -> list[str]:
        """The nodes of a running job's allocation, the batch script's first."""
        return self.scheduler.resources.describe(self.scheduler.running[job_id].placement)

    def _batch_node(self, job: LiveJob) -> str:
        """The node that runs ``job``'s batch script: its allocation's first."""
        return self._job_nodes(job.job_id)[0]

    def _launch_started(self, now: float) -> None:
        """Send each job the last pass started to its first node (the job is already
        RUNNING in the database, so a crash in between is recovered by requeueing it)."""
        from kairos.node.agent import LaunchSpec
        from kairos.node.environment import job_environment

        launching, self._to_launch = self._to_launch, []
        for job_id in launching:
            job = self.jobs[job_id]
            core = self.scheduler.running.get(job_id)
            if core is None:
                continue  # cancelled before it was launched
            submission = job.submission
            node = self._batch_node(job)
            env = job_environment(
                job, base_env=_login_environment(job), node_name=node,
                cluster_name=self.settings.cluster_name, submit_host=submission.submit_host)
            limit = job.time_limit
            launch = LaunchSpec(
                user=job.user, uid=job.uid, gid=job.gid, script=submission.script,
                argv=list(submission.argv), work_dir=job.work_dir, env=env,
                stdout=job.stdout, stderr=job.stderr or job.stdout,
                mem_limit_mib=core.request.mem_per_node or None,
                time_limit=None if limit is None or math.isinf(limit) else limit,
                ncpus=core.request.cpus_per_node, gpus=list(core.request.gpus_per_node))
            self._send(node, Launch(job_id, launch))

    def _launched(self, event: Launched) -> None:
        job = self.jobs.get(event.job_id)
        if job is not None and job.state is JobState.RUNNING:
            self.journal.change(job, cpu_ids=tuple(event.cpu_ids),
                                gpu_ids=tuple(event.gpu_ids), supervisor_pid=event.pid)

    def _ends_current_run(self, node: str, finished: Finished) -> bool:
        """Whether ``finished`` is the end of the job's run now going: the job runs, the
        report comes from its batch node, and it did not start before this run did (a
        run killed with a lost node may report long after the job was requeued)."""
        job = self.jobs.get(finished.job_id)
        if job is None or finished.job_id not in self.scheduler.running:
            return False
        if node != self._batch_node(job):
            return False
        return finished.start is None or job.start_time is None \
            or finished.start >= job.start_time - 1.0

    # ------------------------------------------------------------------ transitions
    # Every change of a job's state goes through one of these, named after its edge.

    def _pending_to_running(self, job: LiveJob, action: StartJob, now: float) -> None:
        nodes = self.scheduler.resources.describe(action.placement)
        stdout, stderr = output_paths(job, nodes[0])
        self.journal.change(
            job, state=JobState.RUNNING, reason="None", start_time=now,
            expected_end=action.expected_end, node_list=compress(nodes),
            eligible_time=job.eligible_time or now, stdout=stdout, stderr=stderr)
        self._to_launch.append(job.job_id)

    def _pending_to_cancelled(self, job: LiveJob, now: float) -> None:
        self._finish(job, JobState.CANCELLED, now, reason="None")

    def _running_to_finished(self, job: LiveJob, finished, node: str, now: float) -> None:
        """A supervisor reported the end; a job being requeued goes back to PENDING
        (the core queued it again in the same round)."""
        self._finish(job, finished.state, finished.end or now,
                     reason=finished.reason or "None", exit_code=finished.exit_code,
                     signal=finished.signal, cpu_time=finished.cpu_time,
                     max_rss=finished.max_rss_kib, start_time=finished.start or job.start_time)
        self._to_cleanup.append((job.job_id, node))
        if job.job_id in self._requeue:
            self._requeue.discard(job.job_id)
            self._requeued(job, self.scheduler.jobs[job.job_id])

    def _finished_to_pending(self, job: LiveJob, core: Job, now: float) -> None:
        """``scontrol requeue`` of a finished job still in memory."""
        handle(self.scheduler, JobRequeued(now, core))
        self._requeued(job, core)

    def _requeued(self, job: LiveJob, core: Job) -> None:
        self.journal.change(
            job, state=JobState.PENDING, reason=core.reason, start_time=None, end_time=None,
            node_list=None, cpu_ids=(), gpu_ids=(), exit_code=0, signal=0, cpu_time=None,
            max_rss=None, restarts=job.restarts + 1)

    def _hold_one(self, job: LiveJob) -> None:
        self.scheduler.hold(job.job_id)
        self.journal.change(job, held=True, reason="JobHeldUser")

    def _release_one(self, job: LiveJob) -> None:
        self.scheduler.release(job.job_id)
        self.journal.change(job, held=False, reason="None")

    def _finish(self, job: LiveJob, state: JobState, end: float, **fields) -> None:
        self.journal.change(job, state=state, end_time=end, **fields)
        self._finished.append((self.clock(), job.job_id))

    def _forget_old(self, now: float) -> None:
        """Finished jobs leave memory (and ``squeue``) after ``MIN_JOB_AGE``; the
        database keeps them."""
        finished = self._finished
        while finished and now - finished[0][0] > MIN_JOB_AGE:
            _, job_id = finished.popleft()
            job = self.jobs.get(job_id)
            if job is not None and job.state.finished:
                del self.jobs[job_id]

    def check_invariants(self) -> None:
        """Raise AssertionError if the records and the core disagree (for tests): every
        pending or running job is the core's, in the same state, and the other way round;
        every running job is the agent's."""
        self.scheduler.check_invariants()
        live = {i: j for i, j in self.jobs.items() if not j.state.finished}
        assert set(live) == set(self.scheduler.jobs), (set(live), set(self.scheduler.jobs))
        for job_id, job in live.items():
            assert self.scheduler.jobs[job_id].state is job.state, (job_id, job.state)
        running = {i for i, j in live.items() if j.state is JobState.RUNNING}
        assert running - set(self._to_launch) <= set(self.nodes.running()), running

    # ------------------------------------------------------------------ helpers

    def _core_job(self, job: LiveJob) -> Job:
        """A fresh core job for ``job`` (dependencies resolved against today's arrays)."""
        return job.to_core_job(resolve_dependencies(job.dependency, self.arrays))

    def _test_only(self, core: Job, now: float) -> dict:
        """``sbatch --test-only``: when the job would start, without queueing it."""
        self.scheduler.submit(core, now)
        try:
            t = forecast_starts(self.scheduler, now, [core.id])[core.id]
        finally:
            self.scheduler.cancel(core.id, now)
            self.scheduler.outcomes.pop(core.id, None)
        return {"job_id": core.id, "expected_start": None if math.isinf(t) else t,
                "node_list": compress(self.scheduler.resources.describe(
                    self.scheduler.resources.claim(core, ()))),
                "cpus": core.request.cpus, "partition": core.partition}

    def _one(self, label: str) -> LiveJob:
        found = views.by_label(self, label)
        if not found:
            raise NotFound(f"Invalid job id specified: {label}")
        return found[0]

    def _each_pending(self, ids, caller: Caller, action) -> dict:
        done = []
        for job in views.select(self, ids):
            self.permissions.check_owner(job, caller)
            if job.state is not JobState.PENDING:
                raise SubmitError(f"job {job.label} is {job.state.name}: "
                                  "only pending jobs can be held or released")
            action(job)
            done.append(job.label)
        self._wake.set()
        return {"done": done}


def _scheduler(settings, cluster, estimator) -> Scheduler:
    """The core, configured with the partitions' tiers and the QOS priorities and limits."""
    scheduler = Scheduler(cluster, settings.policy, settings.order, estimator=estimator)
    order = scheduler.order
    if hasattr(order, "partition_tiers"):
        order.partition_tiers.update({p.name: p.priority_tier for p in cluster.partitions})
        order.qos_priority.update({n: q.priority for n, q in settings.qos.items()})
    scheduler.qos_max_jobs_per_user.update(
        {n: q.max_jobs_per_user for n, q in settings.qos.items()
         if q.max_jobs_per_user is not None})
    return scheduler


def _login_environment(job: LiveJob) -> dict:
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


def _signal_number(name: str | int) -> int:
    name = str(name).upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(signals.Signals, name))
    except AttributeError:
        raise SubmitError(f"unknown signal {name!r}") from None
