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

Size: a little over 500 lines because the request methods and the transitions are one
state machine over the same records; each transition is a few lines and reads best
next to the requests that cause it.  Everything that is not a transition (admission,
views, permissions, recovery, launching, steps, node membership, warning signals, the
self-tuner) lives in its own module.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import os
import time
from collections.abc import Callable

from kairos.core import Scheduler
from kairos.core.actions import KillJob, StartJob
from kairos.core.events import JobCancelled, JobEnded, JobRequeued, JobSubmitted, SchedulePass, handle, handle_all
from kairos.core.jobs import Job, JobState
from kairos.model.job import LiveJob
from kairos.model.submission import Submission
from kairos.model.step import LiveStep
from kairos.node.steps import StepFinished
from kairos.server import allocations, launching, membership, steps, tuning, views, warning_signals
from kairos.slurm.signals import signal_number
from kairos.node.agent import Finished, Launched
from kairos.node.wire import (
    Cleanup, Kill, LaunchFailed, Signal, StepLaunchFailed, TimeLimit,
)
from kairos.server.admission import Admission, SubmitError, output_paths, resolve_dependencies
from kairos.server.ending import Ending
from kairos.server.errors import NotFound
from kairos.server.journal import Journal
from kairos.server.nodes import NodeRegistry
from kairos.server.permissions import Caller, PermissionDenied, Permissions
from kairos.server.training import BackgroundFits
from kairos.slurm.hostlist import compress, natural_key

log = logging.getLogger("kairos.controller")

#: at least this long between scheduling rounds, so a burst of requests shares one pass
MIN_PASS_GAP = 0.005
#: at most this long between rounds after a slow one (the gap follows the pass's length)
MAX_PASS_GAP = 0.5

#: how long a finished job stays visible to ``squeue -t all`` (Slurm's MinJobAge)
MIN_JOB_AGE = 300.0


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
        #: the self-tuner (``[controller] auto``), which chooses how the scheduler plans
        self.tuning = tuning.SelfTuning(settings, store, clock) if settings.auto else None
        self.scheduler = _scheduler(settings, cluster, estimator, self.tuning)
        self.permissions = Permissions(
            settings.admins, os.geteuid() if controller_uid is None else controller_uid)
        self.admission = Admission(settings, cluster, self.scheduler.resources)
        self.journal = Journal(store, clock, lambda: self.next_id)
        #: every pending or running job by id, and finished ones for ``MIN_JOB_AGE``
        self.jobs: dict[int, LiveJob] = {}
        #: steps by (job id, step id): running ones, and finished ones of jobs in memory
        self.steps: dict[tuple[int, int], LiveStep] = {}
        self._next_step: dict[int, int] = {}  #: job id -> its next step id
        #: allocation-only jobs (srun, salloc): when their holder must have spoken by,
        #: and those given back (job id -> exit code, or None: cancelled)
        self.allocation_deadline: dict[int, float] = {}
        self.allocation_released: dict[int, int | None] = {}
        self.arrays: dict[int, dict[int, int]] = {}  #: array id -> {task index: job id}
        self.next_id = 1
        self.to_launch: list[int] = []
        self._to_cleanup: list[tuple[int, str]] = []  #: (job id, node) to clean up
        #: running jobs being killed to be queued again (``scontrol requeue``)
        self._requeue: set[int] = set()
        #: job id -> the time of the ``--signal`` warning its steps got (see
        #: ``warning_signals``), and the next such time still ahead
        self.warned: dict[int, float] = {}
        self._next_warning: float | None = None
        #: ids of the jobs in ``jobs`` whose steps get a ``--signal`` warning
        self.warning_jobs: set[int] = set()
        #: (end time, job id) of finished jobs still shown, oldest first
        self._finished: collections.deque = collections.deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self.started_at = clock()
        self.passes = 0
        self.last_pass_seconds = 0.0
        #: delivers commands to node daemons (a cluster); None on one machine
        self.sender = None
        #: checks node daemons' requests and signs the controller's (a cluster)
        self.trust = None
        #: the Slurm commands for jobs run in this process's nodes (their PATH)
        self.shims = None
        #: trains the predictors' refits off the loop while it runs (``run``)
        self.fits: BackgroundFits | None = None

    # ------------------------------------------------------------------ requests

    def submit(self, submission: Submission, caller: Caller) -> dict:
        """Queue a submission (every task of an array).  Raises ``SubmitError``; a
        refused submission uses no job id."""
        now = self.clock()
        admitted = self.admission.admit(
            submission, caller, first_id=self.next_id, now=now, arrays=self.arrays,
            known=lambda i: i in self.jobs or i in self.scheduler.outcomes)
        if submission.test_only:
            return views.test_only(self, admitted.core_jobs[0], now)
        ids = [job.job_id for job in admitted.jobs]
        self.next_id = ids[-1] + 1
        if admitted.array_tasks is not None:
            self.arrays[ids[0]] = admitted.array_tasks
        for job, core_job in zip(admitted.jobs, admitted.core_jobs):
            handle(self.scheduler, JobSubmitted(now, core_job))
            job.reason = core_job.reason
            self.jobs[job.job_id] = job
            warning_signals.watch(self, job)
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
                    self.send(self._batch_node(job), Signal(job.job_id, signal_number(signal)))
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
                self.send(self._batch_node(job), TimeLimit(job.job_id, limit))
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
        delivering = asyncio.create_task(self.sender.run()) if self.sender else None
        self.fits = BackgroundFits(self.scheduler.estimator, loop)
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self.step()
                except Exception:  # noqa: BLE001 - a bug must not stop every job's bookkeeping
                    log.exception("scheduling round failed; retrying in 1 s")
                    await asyncio.sleep(1.0)
                # Let a burst of requests gather: one pass then serves all of them.  A
                # pass that took long (a big cluster) is followed by as long a gap (up
                # to MAX_PASS_GAP), so that requests get about half of the loop's time.
                await asyncio.sleep(min(max(MIN_PASS_GAP, self.last_pass_seconds),
                                        MAX_PASS_GAP))
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._sleep_time())
                except TimeoutError:
                    pass
        finally:
            self.fits.close()
            if self.tuning is not None:
                self.tuning.cancel()
            for fd in fds:
                loop.remove_reader(fd)
            if delivering is not None:
                delivering.cancel()

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
        membership.check_silent(self, now)
        reported = self.nodes.poll()
        endings = self._endings(reported, now)
        events: list = []
        for end in endings:
            end.nodes = self.job_nodes(end.job_id)
            events.append(JobEnded(now, end.job_id, end.state, end.exit_code))
            if end.job_id in self._requeue:
                events.append(JobRequeued(now, self.scheduler.running[end.job_id]))
        events.append(SchedulePass(now))
        actions = handle_all(self.scheduler, events)
        for end in endings:
            self._running_to_finished(self.jobs[end.job_id], end, now)
        for node, event in reported:
            if isinstance(event, (StepFinished, StepLaunchFailed)):
                steps.step_ended(self, node, event)
        self._carry_out(actions, now)
        self._forget_old(now)
        if self.tuning is not None and self.tuning.due(now):
            self.tuning.start(self, now)  # in the background; applied on this loop
        self._next_warning = warning_signals.send_due(self, now)
        self.passes += 1
        self.last_pass_seconds = time.perf_counter() - t0
        await self.commit()  # final states and RUNNING are durable before the files go
        for job_id, node in self._to_cleanup:  # before launching: a requeued job reuses its id
            self.send(node, Cleanup(job_id))
        self._to_cleanup.clear()
        launching.send_started(self)
        if self.journal.dirty:
            await self.commit()

    def _endings(self, reported: list, now: float) -> list[Ending]:
        """The jobs that end this round: from their batch node (an end, a failed
        launch), or, for an allocation, from its holder (released, gone quiet) or its
        time limit."""
        endings: dict[int, Ending] = {}
        for node, event in reported:
            if isinstance(event, Launched):
                self._launched(event)
            elif isinstance(event, LaunchFailed) and event.job_id in self.scheduler.running:
                endings[event.job_id] = Ending(event.job_id, JobState.FAILED, 1, node,
                                               reason=f"JobLaunchFailure: {event.reason}")
            elif isinstance(event, Finished):
                if self._ends_current_run(node, event):
                    endings[event.job_id] = Ending.of(node, event)
                else:  # an earlier run's end, or an orphan's: its files may go
                    self._to_cleanup.append((event.job_id, node))
        for end in allocations.ended(self, now):
            endings.setdefault(end.job_id, end)
        return list(endings.values())

    async def commit(self) -> None:
        """Return once every change made so far is in the database."""
        await self.journal.commit()

    def _sleep_time(self) -> float:
        interval = self.settings.scheduler_interval
        if interval > 2.0 and self.nodes.any_running():
            interval = 2.0  # a supervisor killed outright says nothing
        if self._next_warning is not None:  # a --signal warning is due
            interval = min(interval, max(0.0, self._next_warning - self.clock()))
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
                for node in self.job_nodes(action.job_id):
                    self.send(node, Kill(action.job_id))
                if action.job_id in self.allocation_deadline:  # nothing there to report
                    self.allocation_released[action.job_id] = None
            else:  # a new kind of action nobody carries out would be a silent bug
                raise TypeError(f"the controller cannot carry out {action!r}")

    def send(self, node: str, command) -> None:
        """Hand ``command`` to ``node``'s link (dropped, with a log line, for a node the
        controller cannot reach any more: its jobs were ended when it went)."""
        link = self.nodes.link(node)
        if link is None:
            log.warning("no way to reach node %s: dropped %r", node, command)
            return
        link.send(command)
        if link.remote:
            if self.sender is not None:
                self.sender.kick(node)
        else:
            self._wake.set()  # its result is ready for the next round

    def job_nodes(self, job_id: int) -> list[str]:
        """The nodes of a running job's allocation in the order of its node list
        (SLURM_JOB_NODELIST): its batch script runs on the first, as in Slurm."""
        return sorted(self.scheduler.node_names(job_id), key=natural_key)

    def _batch_node(self, job: LiveJob) -> str:
        """The node that runs ``job``'s batch script: its allocation's first."""
        return self.job_nodes(job.job_id)[0]

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
        cpus = {s.name: s.cpus for s in self.scheduler.allocation(job.job_id)}
        nodes = self.job_nodes(job.job_id)
        stdout, stderr = output_paths(job, nodes[0])
        self.journal.change(
            job, state=JobState.RUNNING, reason="None", start_time=now,
            expected_end=action.expected_end, node_list=compress(nodes),
            nodes=len(nodes),  # a spread job's tasks took as many as they needed
            node_cpus=tuple(cpus[n] for n in nodes),
            cpus=sum(cpus.values()),  # all of each node's for --exclusive
            eligible_time=job.eligible_time or now, stdout=stdout, stderr=stderr)
        self.to_launch.append(job.job_id)

    def _pending_to_cancelled(self, job: LiveJob, now: float) -> None:
        self._finish(job, JobState.CANCELLED, now, reason="None")

    def _running_to_finished(self, job: LiveJob, end: Ending, now: float) -> None:
        """The job's run ended (``end`` says how); a job being requeued goes back to
        PENDING (the core queued it again in the same round).  Whatever of it still runs
        on its other nodes (steps) is killed, and every node may forget it."""
        self._finish(job, end.state, end.end or now, reason=end.reason or "None",
                     exit_code=end.exit_code, signal=end.signal, cpu_time=end.cpu_time,
                     max_rss=end.max_rss, start_time=end.start or job.start_time)
        for node in end.nodes:
            if node != end.node:
                self.send(node, Kill(job.job_id))
            self._to_cleanup.append((job.job_id, node))
        allocations.forget(self, job.job_id)
        if job.job_id in self._requeue:
            self._requeue.discard(job.job_id)
            self._requeued(job, self.scheduler.jobs[job.job_id])

    def node_failed(self, job: LiveJob, node: str, now: float, *, requeued: bool) -> None:
        """``job`` lost ``node`` (the core ended it as NODE_FAIL, and requeued it when
        ``requeued``)."""
        self._finish(job, JobState.NODE_FAIL, now, reason="NodeDown", exit_code=0)
        if requeued:
            core = self.scheduler.jobs[job.job_id]
            self._requeued(job, core)
            self.journal.change(job, begin=core.begin)

    def save_node(self, status) -> None:
        """Write ``status`` (a ``NodeStatus``) at the next commit."""
        self.journal.save_node(status)

    def _finished_to_pending(self, job: LiveJob, core: Job, now: float) -> None:
        """``scontrol requeue`` of a finished job still in memory."""
        handle(self.scheduler, JobRequeued(now, core))
        self._requeued(job, core)

    def _requeued(self, job: LiveJob, core: Job) -> None:
        self.journal.change(
            job, state=JobState.PENDING, reason=core.reason, start_time=None, end_time=None,
            node_list=None, node_cpus=(), nodes=core.request.nodes, cpu_ids=(), gpu_ids=(),
            exit_code=0, signal=0, cpu_time=None, max_rss=None, restarts=job.restarts + 1)

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

    # ------------------------------------------------------------------ steps

    def running_steps(self, job_id: int) -> list[LiveStep]:
        return [s for (j, _), s in self.steps.items() if j == job_id and s.waiting_for]

    def next_step_id(self, job_id: int) -> int:
        step_id = self._next_step.get(job_id, 0)
        self._next_step[job_id] = step_id + 1
        return step_id

    def add_step(self, step: LiveStep) -> None:
        self.steps[(step.job_id, step.step_id)] = step
        self.save_step(step)

    def save_step(self, step: LiveStep) -> None:
        self.journal.save_step(step)

    def job(self, label: str, caller: Caller | None = None) -> LiveJob:
        """The job ``label`` names (``NotFound`` otherwise); with ``caller``, one they
        may change."""
        job = self._one(label)
        if caller is not None:
            self.permissions.check_owner(job, caller)
        return job

    def check_invariants(self) -> None:
        """Raise AssertionError if the records and the core disagree (for tests): every
        pending or running job is the core's, in the same state, and the other way round;
        every running job is the agent's."""
        self.scheduler.check_invariants()
        live = {i: j for i, j in self.jobs.items() if not j.state.finished}
        assert set(live) == set(self.scheduler.jobs), (set(live), set(self.scheduler.jobs))
        for job_id, job in live.items():
            assert self.scheduler.jobs[job_id].state is job.state, (job_id, job.state)
        running = {i for i, j in live.items() if j.state is JobState.RUNNING
                   and not (j.submission and j.submission.allocation)}
        assert running - set(self.to_launch) <= set(self.nodes.running()), running

    # ------------------------------------------------------------------ helpers

    def _core_job(self, job: LiveJob) -> Job:
        """A fresh core job for ``job`` (dependencies resolved against today's arrays)."""
        return job.to_core_job(resolve_dependencies(job.dependency, self.arrays))

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


def _scheduler(settings, cluster, estimator, tuner=None) -> Scheduler:
    """The core, configured with the partitions' tiers and the QOS priorities and limits;
    planned as the self-tuner says (``tuner``), else as config.toml says."""
    from kairos.core.corrections import ESTIMATOR_CORRECTIONS, make_correction
    from kairos.core.policy import make_policy

    if tuner is not None:
        scheduler = tuner.scheduler(cluster, settings.order)
    else:
        correct = (make_correction(settings.correction, estimator)
                   if settings.correction in ESTIMATOR_CORRECTIONS else settings.correction)
        scheduler = Scheduler(cluster, make_policy(settings.policy,
                                                   backfill_order=settings.backfill_order),
                              settings.order, estimator=estimator, correct=correct)
    order = scheduler.order
    if hasattr(order, "partition_tiers"):
        order.partition_tiers.update({p.name: p.priority_tier for p in cluster.partitions})
        order.qos_priority.update({n: q.priority for n, q in settings.qos.items()})
    scheduler.qos_max_jobs_per_user.update(
        {n: q.max_jobs_per_user for n, q in settings.qos.items()
         if q.max_jobs_per_user is not None})
    return scheduler
