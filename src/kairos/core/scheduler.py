"""The scheduler: the one object both clocks drive.

It is told what happened (``submit``, ``end``, ``cancel``, ``hold``...) and, at
``schedule(now)``, answers which jobs start where.  It never reads a clock: ``now`` is
always an argument, so the digital twin replays it on virtual time and the live controller
drives it on wall time with identical decisions for identical event streams.

Passes are incremental.  A pass's result depends on the queue, the running jobs' expected
ends and the time.  When since the last pass only new jobs were queued behind every job
already considered (the common case between completions), re-walking the old part would
repeat the same answers: those jobs did not fit then and cannot fit now (the same
profile, a later window).  So the walk resumes where it stopped (``Walk.scanned``).
Anything else - a job ending, a cancel, a re-sort, an overdue job - starts a fresh walk.

Size: about 680 lines because it is the one entry point of both clocks: every event the
core accepts is a short method here, next to the pass it invalidates and the patch or
freed span it records for carried profiles and conservative's promises
(``kairos.core.promises``) and the requested ends it keeps for guarded's; ``reconfigure`` is the self-tuner's one
way in, ``stop`` a forecast's copy's way out of a long pass.  The policies, orders, profiles, dependencies and fair share it calls live in
their own modules.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Callable, Sequence

from kairos.core import promises
from kairos.core.actions import KillJob, StartJob
from kairos.core.cluster import Cluster, Node, NodeState
from kairos.core.corrections import OVERDUE_SLACK, extend_to_limit, make_correction
from kairos.core.dependencies import dependency_status
from kairos.core.estimate import MIN_ESTIMATE, RuntimeEstimator
from kairos.core.jobs import DependencyKind, Job, JobState
from kairos.core.order import QueueOrder, make_order
from kairos.core.policy import Backfill, Walk, make_policy
from kairos.core.policy.freed import FreedSpans
from kairos.core.promises import carried_profile, carried_walk, restore_promises
from kairos.core.profile import Unsatisfiable
from kairos.core.resources import NodeShare, make_resources

_PENDING, _RUNNING = JobState.PENDING, JobState.RUNNING


class Scheduler:
    """Pending and running jobs of one cluster, and the decisions about them.

    ``estimator`` (optional) predicts each job's runtime at submission and learns from
    every job that ends; without one the scheduler plans with time limits.
    ``correct(job, now) -> new expected end`` (or a name from
    ``kairos.core.corrections``) is called when a running job outlives its expected end.
    """

    def __init__(self, cluster: Cluster, policy: str | Backfill = "easy",
                 order: str | QueueOrder = "submit", *,
                 estimator: RuntimeEstimator | None = None,
                 correct: str | Callable[[Job, float], float] = extend_to_limit) -> None:
        self.cluster = cluster
        self.resources = make_resources(cluster)
        self.policy = make_policy(policy) if isinstance(policy, str) else policy
        self.order = make_order(order) if isinstance(order, str) else order
        if hasattr(self.order, "configure") and cluster.total_cpus > 0:
            self.order.configure(total_cpus=cluster.total_cpus)
        self.estimator = estimator
        self.correct = make_correction(correct) if isinstance(correct, str) else correct
        #: every pending or running job, by id
        self.jobs: dict[int, Job] = {}
        #: final state of every finished job (dependencies look here)
        self.outcomes: dict[int, JobState] = {}
        #: running jobs by id
        self.running: dict[int, Job] = {}
        #: eligible pending jobs sorted by the queue order; started and cancelled jobs are
        #: removed lazily (``_dead`` counts them)
        self._queue: list[Job] = []
        self._dead = 0
        #: pending jobs that may not start yet (held, --begin, dependencies)
        self._waiting: dict[int, Job] = {}
        #: something happened that may make a waiting job eligible (an end, a start, a
        #: cancel, a release, a cluster change); until then, or until ``_next_begin``,
        #: re-checking the waiting jobs would give the same answers
        self._recheck = False
        self._next_begin = math.inf
        #: (expected_end, job_id, placement) of running jobs, sorted
        self._ends: list[tuple] = []
        #: (latest end, job_id, placement) of running jobs, sorted: the time limit's end,
        #: or the expected end of a job past it (guarded's requested-time plan); and
        #: each job's key there
        self._limit_ends: list[tuple] = []
        self._limit_key: dict[int, float] = {}
        #: the last pass's walk; resumed by the next pass unless ``_stale``
        self._walk: Walk | None = None
        self._stale = True
        self._last_recalc = -math.inf
        #: where resources were freed outside a walk since the last fresh walk (jobs that
        #: ended early, shorter expected ends), for conservative's promises
        self._freed = FreedSpans()
        #: what changed the plan since the last walk, as ``(placement, start, end, sign)``
        #: (``sign`` +1 frees): a conservative walk carries its profile on with these
        self._patches: list[tuple] = []
        #: something the patches do not describe happened (a cancel, a hold, a node
        #: change): the next fresh walk builds its profile anew
        self._rebuild = True
        #: guarded: the earliest time a job queued since the last fresh walk may need a
        #: promise (a fresh walk then need not look through the whole queue before it)
        self._protect_from = math.inf
        #: at most this many running jobs per user in each QOS (MaxJobsPerUser)
        self.qos_max_jobs_per_user: dict[str, int] = {}
        #: running jobs per throttle key (array job id; (qos, user)), for the limits above
        self._running_count: dict[object, int] = {}
        #: a forecast's copy only (``kairos.core.forecast``): asked every ``STOP_EVERY``
        #: (``kairos.core.promises``) jobs of a walk in queue order or promises put
        #: back; once it says True the pass ends there and ``cut`` is set (the starts
        #: found so far stand: no job's start depends on the jobs behind it in a walk)
        self.stop: Callable[[], bool] | None = None
        self.cut = False

    # ----------------------------------------------------------------- what happened

    def submit(self, job: Job, now: float) -> None:
        """Queue ``job``.  Raises ``Unsatisfiable`` (a ValueError) if it could never run."""
        if job.id in self.jobs or job.id in self.outcomes:
            raise ValueError(f"job id {job.id} is already known")
        self.resources.check(job)
        self.plan_estimate(job, now)
        job.state = _PENDING
        self.jobs[job.id] = job
        if self._eligible(job, now):
            self._enqueue(job, now)
        else:
            self._waiting[job.id] = job
            if job.begin > now:
                self._next_begin = min(self._next_begin, job.begin)

    def plan_estimate(self, job: Job, now: float) -> None:
        """Set the runtime ``job`` will be planned with: the predictor's answer (at least
        ``MIN_ESTIMATE``, at most the time limit); left as it is without a predictor or
        when the job gives ``--time-min``, which, as in Metastack, is the user's own."""
        if self.estimator is not None and job.time_min is None:
            predicted = self.estimator.estimate(job, now)
            job.estimate = min(max(predicted, MIN_ESTIMATE), job.time_limit)

    def adopt(self, job: Job, now: float, nodes: Sequence[str] | None = None,
              cpus: Sequence[int] | None = None) -> None:
        """Take over a job that is already running (``start`` set): after a controller
        restart, or in a forecast's copy.

        Its placement is ``job.placement`` when set, else what the job's request takes on
        ``nodes`` (the node names it runs on), whatever is free there: the job runs
        already, so its share is counted even if the nodes are now smaller.  ``cpus``:
        the CPUs it holds on each of ``nodes``, when recorded (a spread job's shares
        differ from node to node).  A job with
        no ``expected_end``, or an overdue one, is corrected like any overdue job.
        """
        if job.id in self.jobs or job.id in self.outcomes:
            raise ValueError(f"job id {job.id} is already known")
        if job.start is None:
            raise ValueError(f"job {job.id} has no start time: it is not running")
        if job.placement is None:
            job.placement = self.resources.claim(job, nodes or (), cpus)
        if job.expected_end is None or job.expected_end <= now:
            job.expected_end = max(self.correct(job, now), now + OVERDUE_SLACK * 1e-3)
        job.state = _RUNNING
        self.resources.allocate(job.placement)
        self.jobs[job.id] = job
        self.running[job.id] = job
        insort(self._ends, (job.expected_end, job.id, job.placement))
        self._limit_add(job)
        self._count_running(job, +1)
        self.order.job_started(job, job.start)
        self._stale = True
        self._rebuild = True
        self._recheck = True  # an "after:" dependency may be met now

    def end(self, job_id: int, now: float, state: JobState = JobState.COMPLETED,
            exit_code: int = 0) -> Job:
        """A running job finished (any final state); its resources are free again."""
        job = self.running.pop(job_id)
        ends = self._ends
        i = bisect_left(ends, (job.expected_end, job_id))
        del ends[i]
        self._limit_remove(job_id)
        self.resources.release(job.placement)
        self._count_running(job, -1)
        if self._patching:
            # A zero-length job holds its resources for the instant it starts.
            until = max(job.expected_end, math.nextafter(job.start, math.inf))
            if until > now:
                if self.policy.keeps_promises:
                    self._freed.add(now, until)
                self._patches.append((job.placement, now, until, +1))
        job.state = state
        job.end = now
        job.exit_code = exit_code
        self.order.job_ended(job, now)
        if self.estimator is not None:
            self.estimator.observe(job, now)
        del self.jobs[job_id]
        self.outcomes[job_id] = state
        self._stale = True
        self._recheck = True
        return job

    def cancel(self, job_id: int, now: float, *, requeue: bool = False) -> list[KillJob]:
        """Cancel a job: a pending one is gone at once; a running one must be killed by
        the driver, which then reports ``end(...)`` (and, for ``requeue``, queues it
        again with ``requeue``).  Only a running job can be requeued this way."""
        job = self.jobs[job_id]
        if job.state is _RUNNING:
            return [KillJob(job_id, now, "requeue" if requeue else "cancelled")]
        if requeue:
            raise ValueError(f"job {job_id} is {job.state.name}: only a running job can "
                             "be stopped and requeued")
        self._drop_pending(job)
        job.state = JobState.CANCELLED
        job.end = now
        self.outcomes[job_id] = JobState.CANCELLED
        del self.jobs[job_id]
        self._recheck = True
        return []

    def requeue(self, job: Job, now: float) -> None:
        """Put a finished job back in the queue under its own id (``scontrol requeue``)."""
        if job.id in self.jobs:
            raise ValueError(f"job {job.id} is {self.jobs[job.id].state.name}; only a finished job can be requeued")
        self.outcomes.pop(job.id, None)
        if any(j is job for j in self._queue):  # its entry from the first run, not yet swept
            self._queue = [j for j in self._queue if j is not job]
            self._dead -= 1
            self._stale = True  # the walk's place in the queue is no longer valid
            self._rebuild = True
        job.start = job.end = job.expected_end = job.placement = job.reserved_start = None
        job.corrections = 0
        job.exit_code = 0
        self.submit(job, now)

    def set_time_limit(self, job_id: int, limit: float, now: float) -> None:
        """Change a job's time limit (``scontrol update TimeLimit=``).  A running job
        planned on its limit is re-planned on the new one."""
        if limit <= 0:
            raise ValueError(f"a time limit must be positive (got {limit})")
        job = self.jobs[job_id]
        planned_on_limit = job.estimate < 0 or job.estimate >= job.time_limit
        job.time_limit = limit
        if job.estimate >= 0:
            job.estimate = min(job.estimate, limit)
        if job.state is _RUNNING:
            runtime = limit if planned_on_limit else job.estimate
            self.set_expected_end(job_id, max(job.start + runtime, now))
        else:
            if job.id not in self._waiting:  # its place in an order by estimate moves
                self._drop_pending(job)
                self._enqueue(job, now)
            self._stale = True
            self._rebuild = True

    def hold(self, job_id: int) -> None:
        job = self._pending(job_id)
        if not job.held:
            job.held = True
            self._drop_pending(job)
            self._waiting[job.id] = job
            job.reason = "JobHeldUser"

    def release(self, job_id: int) -> None:
        job = self._pending(job_id)
        job.held = False  # becomes eligible at the next pass
        self._recheck = True

    def set_priority(self, job_id: int, priority: float | None, now: float) -> None:
        """Admin override of a pending job's priority (None restores the computed one)."""
        job = self._pending(job_id)
        job.admin_priority = priority
        if job.id not in self._waiting:
            self._drop_pending(job)
            self._enqueue(job, now)
        self._stale = True

    def cluster_changed(self) -> None:
        """Nodes or partitions changed state: re-check every queued job's eligibility
        and plan afresh at the next pass."""
        if hasattr(self.resources, "forget_candidates"):
            self.resources.forget_candidates()
        if not self.cluster.is_pool:
            for job in [j for j in self._queue if j.state is _PENDING]:
                reason = ("PartitionDown" if not self.cluster.partition(job.partition).up
                          else self._nodes_not_available(job))
                if reason is not None:
                    self._queue.remove(job)
                    self._waiting[job.id] = job
                    job.reason = reason
        self._freed.everything = True  # a node back up frees what no span records
        self._stale = True
        self._rebuild = True
        self._recheck = True

    def add_node(self, node: Node) -> None:
        """A node joins the cluster (Slurm's dynamic nodes): it joins every partition
        whose node list is "all" or names it, and queued jobs may use it from the next
        pass.  ValueError for a name already known or a processor pool."""
        self.cluster.add_node(node)
        self.resources.add_node(node)
        if hasattr(self.order, "configure"):
            self.order.configure(total_cpus=self.cluster.total_cpus)
        self.cluster_changed()

    def set_node_state(self, name: str, state: NodeState) -> None:
        """``scontrol update NodeName=... State=``: UP takes jobs; DRAIN finishes its
        jobs and takes no new ones; DOWN is unusable.  Jobs running on a node keep
        running whatever its state: the driver ends them (``running_on``) when a node
        fails.  KeyError naming an unknown node."""
        node = self.cluster.node(name)
        if node.state is not state:
            node.state = state
            self.cluster_changed()

    def node_names(self, job_id: int) -> list[str]:
        """The nodes a running job holds, in cluster order: its batch script runs on
        the first."""
        return self.resources.describe(self.running[job_id].placement)

    def allocation(self, job_id: int) -> list[NodeShare]:
        """What a running job holds on each of its nodes (an exclusive job: all of
        each node's CPUs and GPUs), in the order of ``node_names``."""
        return self.resources.allocation(self.running[job_id].placement)

    def running_on(self, name: str) -> list[int]:
        """Ids of the running jobs holding a share of node ``name`` (those a node
        failure ends)."""
        self.cluster.node(name)
        holds = self.resources.holds
        return [job.id for job in self.running.values() if holds(job.placement, name)]

    def set_expected_end(self, job_id: int, expected_end: float) -> None:
        """A predictor revised a running job's expected end."""
        job = self.running[job_id]
        ends = self._ends
        del ends[bisect_left(ends, (job.expected_end, job_id))]
        if self._patching:
            if expected_end < job.expected_end:
                if self.policy.keeps_promises:
                    self._freed.add(expected_end, job.expected_end)
                self._patches.append((job.placement, expected_end, job.expected_end, +1))
            else:
                self._patches.append((job.placement, job.expected_end, expected_end, -1))
        job.expected_end = expected_end
        insort(ends, (expected_end, job_id, job.placement))
        self._limit_remove(job_id)
        self._limit_add(job)
        self._stale = True

    def reconfigure(self, *, policy: Backfill | None = None,
                    correct: Callable[[Job, float], float] | None = None,
                    estimator: RuntimeEstimator | None = None,
                    estimate: Callable[[Job], float] | None = None) -> None:
        """Plan differently from the next pass on: another ``policy`` (or backfill
        order), ``correct`` rule or ``estimator``, as a self-tuning controller switches
        (``kairos.sim.tuning``).  ``estimate(job)`` gives every pending job a new
        estimate (what the new predictor said at its submission); running jobs keep the
        expected ends they were started with.  The next pass walks afresh."""
        if policy is not None:
            self.policy = policy
        if correct is not None:
            self.correct = correct
        if estimator is not None:
            self.estimator = estimator
        if estimate is not None:
            for job in self.jobs.values():
                if job.state is _PENDING and job.time_min is None:
                    job.estimate = min(max(estimate(job), MIN_ESTIMATE), job.time_limit)
            self._queue = sorted((j for j in self._queue if j.state is _PENDING),
                                 key=self.order.key)
            self._dead = 0
        self._walk = None
        self._stale = self._rebuild = True
        self._freed = FreedSpans()
        self._patches = []

    # ----------------------------------------------------------------- deciding

    def schedule(self, now: float) -> list[StartJob]:
        """One scheduling pass at time ``now``: the jobs to start, with placements."""
        if self.order.recalc_period is not None and now - self._last_recalc >= self.order.recalc_period:
            self._reprioritize(now)
        if self._waiting and (self._recheck or now >= self._next_begin):
            self._admit_waiting(now)
        if self._ends and self._ends[0][0] <= now:
            self._correct_overdue(now)
        actions: list[StartJob] = []
        while True:
            walk = self._walk
            if self._stale or walk is None or not self._resumable(walk, now):
                walk = self._walk = self._fresh_walk(now, walk)
                self._stale = False
                if self.cut:
                    return actions  # a forecast's copy stopped while putting promises back
            found = (self.policy.walk(self._queue, walk, now) if self.stop is None
                     else self._walk_until_stopped(walk, now))
            for job, placement in found:
                if job.dependencies and self._singleton_blocked(job):
                    # A job of the same name started earlier in this very pass.
                    self._drop_pending(job)
                    self._waiting[job.id] = job
                    job.reason = "Dependency"
                    self._freed.add(now, now + job.estimate)  # the walk had placed it
                    continue
                throttled = self._throttled(job) if self._throttles_apply(job) else None
                if throttled:
                    # Sibling tasks (or the user's other jobs) started earlier in this pass.
                    self._drop_pending(job)
                    self._waiting[job.id] = job
                    job.reason = throttled
                    self._freed.add(now, now + job.estimate)  # the walk had placed it
                    continue
                actions.append(self._start(job, placement, now))
            # Starts may satisfy "after:" dependencies: admit those jobs in this same pass.
            if self.cut or not (actions and self._waiting and self._admit_waiting(now)):
                return actions

    def _walk_until_stopped(self, walk: Walk, now: float) -> list[tuple[Job, object]]:
        """``policy.walk`` a stretch of ``STOP_EVERY`` jobs at a time, asking ``stop``
        in between: each stretch resumes the walk as new arrivals do, so the outcome is
        one walk's.  Not for backfill orders that sort what is left of the queue (the
        stretches would sort apart): those walk whole."""
        queue, policy = self._queue, self.policy
        if policy.backfill_order != "queue" or policy.guards:
            return policy.walk(queue, walk, now)
        found: list[tuple[Job, object]] = []
        while True:
            end = walk.scanned + promises.STOP_EVERY
            if end >= len(queue):
                return found + policy.walk(queue, walk, now)
            found += policy.walk(queue[:end], walk, now)
            if self.stop():
                self.cut = True
                return found

    def _resumable(self, walk: Walk, now: float) -> bool:
        """Whether the last walk may go on at ``now`` (only new jobs since): nothing
        ended or became due in between."""
        if not self.policy.keeps_promises:
            return walk.profile.advance(now)
        profile = walk.profile
        rebase = getattr(profile, "rebase", None)
        if rebase is None:
            return profile.advance(now)
        if walk.first_promise <= now:
            return False
        # Steps in between that are neither a running job's end (that one is corrected,
        # and the walk is fresh) nor a promise's start or end (due) are the old slots of
        # promises that moved in the last walk: what they free is in ``walk.moved``.
        # On a pool the walk goes on, the next fresh walk searching there as if they
        # had moved at ``now``; on nodes the walk is fresh, as the per-step profile's
        # ``advance`` has it, so jobs walked before the move get those slots before
        # the new ones do.
        if not self.cluster.is_pool and len(profile.T) > 1 and profile.T[1] <= now:
            return False
        return rebase(now, ())

    @property
    def reservations(self) -> dict[int, float]:
        """Job id -> reserved start time, as of the last pass."""
        if self._walk is None:
            return {}
        held = {k: v[0] for k, v in self._walk.held.items()}
        held.update((k, v[0]) for k, v in self._walk.reservations.items())
        return held

    def pending(self) -> list[Job]:
        """Pending jobs: eligible ones in queue order, then the waiting ones."""
        return [j for j in self._queue if j.state is _PENDING] + list(self._waiting.values())

    # ----------------------------------------------------------------- internals

    def _nodes_not_available(self, job: Job) -> str | None:
        """Slurm's reason when nodes ``job`` must have (``-w``) are drained or down,
        ``ReqNodeNotAvail, UnavailableNodes:n1,n2`` (squeue prints it whole); None
        when they are all up."""
        down = self.cluster.unavailable(job.request.nodelist) if job.request.nodelist else ()
        return f"ReqNodeNotAvail, UnavailableNodes:{','.join(down)}" if down else None

    def _pending(self, job_id: int) -> Job:
        job = self.jobs[job_id]
        if job.state is not _PENDING:
            raise ValueError(f"job {job_id} is {job.state.name}, not PENDING")
        return job

    def _enqueue(self, job: Job, now: float) -> None:
        if self.policy.guards:
            self._protect_from = min(self._protect_from, job.submit + self.policy.patience(job))
        order, queue = self.order, self._queue
        if order.recalc_period is not None:
            order.recalc([job], now, charge=False)
        key = order.key
        if not queue or key(queue[-1]) <= key(job):
            queue.append(job)
            return
        pos = bisect_left(queue, key(job), key=key)
        queue.insert(pos, job)
        if self._walk is not None and pos < self._walk.scanned:
            self._stale = True

    def _drop_pending(self, job: Job) -> None:
        if self._waiting.pop(job.id, None) is None:
            self._queue.remove(job)
        self._stale = True
        self._rebuild = True

    def _start(self, job: Job, placement, now: float) -> StartJob:
        job.state = _RUNNING
        job.start = now
        job.placement = placement
        job.reason = "None"
        job.expected_end = now + job.estimate
        self.resources.allocate(placement)
        insort(self._ends, (job.expected_end, job.id, placement))
        self.running[job.id] = job
        self._limit_add(job)
        self._dead += 1
        self._count_running(job, +1)
        self.order.job_started(job, now)
        return StartJob(job.id, now, placement, job.expected_end)

    def _fresh_walk(self, now: float, old: Walk | None) -> Walk:
        if self._dead > 64 and self._dead * 4 > len(self._queue):
            self._queue = [j for j in self._queue if j.state is _PENDING]
            self._dead = 0
        carry = old is not None and not (self._rebuild or self.policy.reference)
        profile = None
        if old is not None and self.policy.keeps_promises:
            walk = carried_walk(self, now, old) if carry else None
            self._rebuild = False
            self._patches = []
            if walk is not None:
                return walk
        elif carry:
            profile = carried_profile(self, now, old)
        self._rebuild = False
        self._patches = []
        if profile is None:
            profile = self.resources.profile(now, list(self._ends))
            adopt = getattr(profile, "adopt_caches", None)
            if adopt is not None and old is not None:
                adopt(old.profile)
        walk = Walk(profile)
        if self.policy.guards:  # kairos.core.policy.guarded: promises in requested times
            walk.limits = self._limit_profile
            walk.promises = old.promises if old is not None else {}
            walk.promised_estimates = {}
            if old is not None:  # no pending job the old walk saw is due before its mark
                walk.next_protect = min(old.next_protect, self._protect_from)
            self._protect_from = math.inf
        if old is not None and self.policy.keeps_promises:
            restore_promises(self, walk, old, now)
        return walk

    @property
    def _patching(self) -> bool:
        """Whether events are recorded as ``_patches`` for the next fresh walk to carry
        its profile on: conservative's promises anywhere, and any walk on nodes, where
        building the profile anew costs a pass a full machine's worth of work."""
        return self.policy.keeps_promises or not self.cluster.is_pool

    def _limit_profile(self, now: float):
        """The profile with each running job ending at its time limit (the latest it may
        end; its expected end if it has outlived it), for ``guarded`` promises."""
        return self.resources.profile(now, list(self._limit_ends))

    def _limit_add(self, job: Job) -> None:
        key = self._limit_key[job.id] = max(job.start + job.time_limit, job.expected_end)
        insort(self._limit_ends, (key, job.id, job.placement))

    def _limit_remove(self, job_id: int) -> None:
        ends = self._limit_ends
        del ends[bisect_left(ends, (self._limit_key.pop(job_id), job_id))]

    def _reprioritize(self, now: float) -> None:
        self._last_recalc = now
        live = [j for j in self._queue if j.state is _PENDING]
        self.order.recalc(live, now)
        live.sort(key=self.order.key)
        self._queue = live
        self._dead = 0
        self._stale = True

    def _correct_overdue(self, now: float) -> None:
        ends = self._ends
        while ends and ends[0][0] <= now:
            _, job_id, placement = ends.pop(0)
            job = self.running[job_id]
            old = job.expected_end
            job.expected_end = max(self.correct(job, now), now + OVERDUE_SLACK * 1e-3)
            if self._patching:
                self._patches.append((placement, old, job.expected_end, -1))
            job.corrections += 1
            insort(ends, (job.expected_end, job_id, placement))
            if job.expected_end > self._limit_key[job_id]:
                self._limit_remove(job_id)
                self._limit_add(job)
        self._stale = True

    def _eligible(self, job: Job, now: float) -> bool:
        if job.held:
            job.reason = "JobHeldUser"
            return False
        if not self.cluster.is_pool and not self.cluster.partition(job.partition).up:
            job.reason = "PartitionDown"
            return False
        if job.begin > now:
            job.reason = "BeginTime"
            return False
        if job.dependencies:
            status = dependency_status(job, self.jobs, self.outcomes)
            if status != "ok":
                job.reason = status
                return False
        if job.request.nodelist:
            unavailable = self._nodes_not_available(job)
            if unavailable is not None:
                job.reason = unavailable
                return False
        if self._throttles_apply(job):
            throttled = self._throttled(job)
            if throttled:
                job.reason = throttled
                return False
        return True

    def _throttles_apply(self, job: Job) -> bool:
        return job.array_limit is not None or job.qos in self.qos_max_jobs_per_user

    def _throttled(self, job: Job) -> str | None:
        """The pending reason when a running-job limit holds ``job`` back, else None."""
        count = self._running_count
        if job.array_limit is not None and count.get(job.array_job_id, 0) >= job.array_limit:
            return "JobArrayTaskLimit"
        limit = self.qos_max_jobs_per_user.get(job.qos)
        if limit is not None and count.get((job.qos, job.user), 0) >= limit:
            return "QOSMaxJobsPerUserLimit"
        return None

    def _count_running(self, job: Job, delta: int) -> None:
        if job.array_limit is not None:
            key = job.array_job_id
            self._running_count[key] = self._running_count.get(key, 0) + delta
        if job.qos in self.qos_max_jobs_per_user:
            key = (job.qos, job.user)
            self._running_count[key] = self._running_count.get(key, 0) + delta

    def _admit_waiting(self, now: float) -> bool:
        """Queue the waiting jobs that became eligible; True if any did."""
        admitted = False
        next_begin = math.inf
        for job in list(self._waiting.values()):
            if self._eligible(job, now):
                del self._waiting[job.id]
                self._enqueue(job, now)
                admitted = True
            elif job.begin > now and job.begin < next_begin:
                next_begin = job.begin
        self._recheck = False
        self._next_begin = next_begin
        return admitted

    def _singleton_blocked(self, job: Job) -> bool:
        """A ``singleton`` job may not run beside a running job of the same user and name."""
        if not any(d.kind is DependencyKind.SINGLETON for d in job.dependencies):
            return False
        return any(o.user == job.user and o.name == job.name for o in self.running.values())

    def check_invariants(self) -> None:
        """Raise AssertionError if the bookkeeping is inconsistent (for tests)."""
        assert set(self.running) == {e[1] for e in self._ends}
        assert all(self._ends[i][0] <= self._ends[i + 1][0] for i in range(len(self._ends) - 1))
        assert self._limit_ends == sorted(
            (max(j.start + j.time_limit, j.expected_end), j.id, j.placement)
            for j in self.running.values())
        for job in self.running.values():
            assert job.state is _RUNNING and job.start is not None
        key = self.order.key
        live = [j for j in self._queue if j.state is _PENDING]
        if self.order.recalc_period is None:
            assert all(key(live[i]) <= key(live[i + 1]) for i in range(len(live) - 1))
        assert not (set(j.id for j in live) & set(self._waiting))


__all__ = ["Scheduler", "Unsatisfiable"]
