"""The controller: the scheduling core on the wall clock.

It is the I/O shell around ``kairos.core.Scheduler`` (the same object the digital twin
drives): requests and process exits come in, the core decides, the node agent carries
out ``StartJob``/``KillJob``, and every transition is written to the store.

One asyncio loop owns everything; API handlers call the methods below directly (they
only touch memory) and then ``await commit()``, which returns once their changes are
durable.  Changes are group-committed: one transaction holds whatever accumulated
while the previous one was being written, which is what lets one SQLite file take
thousands of submissions a second without acknowledging anything it could lose.

The loop, each round: reap finished jobs, one scheduling pass, persist, launch what the
pass started, sleep until something happens (a request, a child exiting, a ``--begin``
time) or ``scheduler_interval`` passes.

Crash safety: a job is recorded RUNNING before its supervisor is launched, and its
record is final before its job directory is removed.  After a ``kill -9``,
``recover()`` reloads unfinished jobs: pending ones re-enter the queue in their old
order; running ones are adopted when their supervisor lives, recorded from its
``status.json`` when it has finished, and put back in the queue when it was never
launched.
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
from kairos.core.actions import StartJob
from kairos.core.forecast import forecast_starts
from kairos.core.jobs import Job, JobState
from kairos.core.profile import Unsatisfiable
from kairos.server import records
from kairos.server.records import FINAL_STATES, Caller, SubmitError, job_label

log = logging.getLogger("kairos.controller")

#: at least this long between scheduling rounds, so a burst of requests shares one pass
MIN_PASS_GAP = 0.005

#: how long a finished job stays visible to ``squeue -t all`` (Slurm's MinJobAge)
MIN_JOB_AGE = 300.0


class PermissionDenied(PermissionError):
    """The caller may not change this job (only its owner and admins may)."""


class NotFound(KeyError):
    """No such job."""

    def __str__(self) -> str:
        return str(self.args[0])


class Controller:
    """Pending and running jobs of the local cluster, kept by the core, run by the agent."""

    def __init__(self, settings, store, agent, cluster, *, node_name: str,
                 clock: Callable[[], float] = time.time, estimator=None) -> None:
        self.settings = settings
        self.store = store
        self.agent = agent
        self.cluster = cluster
        self.node_name = node_name
        self.clock = clock
        self.scheduler = Scheduler(cluster, settings.policy, settings.order, estimator=estimator)
        order = self.scheduler.order
        if hasattr(order, "partition_tiers"):
            order.partition_tiers.update({p.name: p.priority_tier for p in cluster.partitions})
            order.qos_priority.update({n: q.priority for n, q in settings.qos.items()})
        self.scheduler.qos_max_jobs_per_user.update(
            {n: q.max_jobs_per_user for n, q in settings.qos.items()
             if q.max_jobs_per_user is not None})
        #: job id -> record (JobInfo + spec) of every pending or running job, and of
        #: finished ones for ``MIN_JOB_AGE``
        self.records: dict[int, dict] = {}
        self.arrays: dict[int, dict[int, int]] = {}  #: array id -> {task index: job id}
        self.next_id = 1
        self._inserts: list[dict] = []
        self._updates: dict[int, dict] = {}
        self._committed: list[asyncio.Future] = []
        self._flush_lock = asyncio.Lock()
        self._write_inline = str(getattr(store, "url", "")).startswith("sqlite")
        self._to_launch: list[int] = []
        self._to_cleanup: list[int] = []
        self._requeue: set[int] = set()
        #: (end time, job id) of finished records still shown, oldest first
        self._finished: collections.deque = collections.deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self.started_at = clock()
        self.passes = 0
        self.last_pass_seconds = 0.0

    # ------------------------------------------------------------------ requests

    def submit(self, spec: dict, caller: Caller) -> dict:
        """Queue a submission (every task of an array).  Raises ``SubmitError``."""
        from kairos.slurm.arrays import parse_array
        from kairos.slurm.deps import parse_dependency

        now = self.clock()
        partition = self._partition_for(spec)
        qos = self._qos_for(spec)
        limit = self._time_limit_for(spec, partition, qos)
        indices, throttle = [None], None
        if spec.get("array"):
            parsed = parse_array(spec["array"])
            indices, throttle = parsed.indices, parsed.limit
        deps_parsed = parse_dependency(spec["dependency"]) if spec.get("dependency") else []
        deps = records.dependencies(deps_parsed, self.arrays)
        for dep in deps:
            if dep.job_id is not None and dep.job_id not in self.records \
                    and dep.job_id not in self.scheduler.outcomes:
                raise SubmitError(f"Job dependency problem: job {dep.job_id} does not exist")
        first = self.next_id
        ids = list(range(first, first + len(indices)))
        new = []
        for job_id, index in zip(ids, indices):
            record = self._new_record(spec, caller, job_id, now, partition, limit)
            if index is not None:
                record.update(array_job_id=first, array_task_id=index, array_limit=throttle,
                              array_task_count=len(indices), array_task_min=min(indices),
                              array_task_max=max(indices),
                              array_task_step=_step(indices))
            self._resolve_outputs(record)
            new.append((record, records.to_core_job(record, deps)))
        try:
            self.scheduler.resources.check(new[0][1])
        except Unsatisfiable as e:
            raise SubmitError(f"Requested node configuration is not available: {e}") from None
        if spec.get("test_only"):
            return self._test_only(new[0][1], now)
        self.next_id = ids[-1] + 1
        if indices != [None]:
            self.arrays[first] = dict(zip(indices, ids))
        for record, job in new:
            self.scheduler.submit(job, now)
            record["reason"] = job.reason
            self.records[job.id] = record
            self._inserts.append(dict(record))
        self._wake.set()
        return {"job_id": first, "job_ids": ids}

    def cancel(self, ids: list[str] | None, caller: Caller, *, users=None, names=None,
               states=None, partitions=None, signal: str | None = None) -> dict:
        """``scancel``: matching jobs of the caller (all users' for admins)."""
        matched = self.select(ids, users=users, names=names, states=states,
                              partitions=partitions, active_only=True)
        now = self.clock()
        done, signalled = [], []
        for record in matched:
            self._check_owner(record, caller)
            job_id = record["job_id"]
            if signal is not None:
                if record["state"] == "RUNNING":
                    self.agent.signal(job_id, _signal_number(signal))
                    signalled.append(job_label(record))
                continue
            if record["state"] == "RUNNING":
                self.agent.cancel(job_id)
            elif record["state"] == "PENDING":
                self.scheduler.cancel(job_id, now)
                self._finish(record, "CANCELLED", now, reason="None")
            done.append(job_label(record))
        self._wake.set()
        return {"cancelled": done, "signalled": signalled}

    def hold(self, ids: list[str], caller: Caller) -> dict:
        return self._each_pending(ids, caller, self._hold_one)

    def release(self, ids: list[str], caller: Caller) -> dict:
        return self._each_pending(ids, caller, self._release_one)

    def requeue(self, ids: list[str], caller: Caller) -> dict:
        """``scontrol requeue``: a running job is killed and queued again under its id; a
        finished one (still in memory) is queued again."""
        done = []
        for record in self.select(ids):
            self._check_owner(record, caller)
            if record["state"] == "RUNNING":
                self._requeue.add(record["job_id"])
                self.agent.cancel(record["job_id"])
            elif record["state"] in FINAL_STATES:
                self._requeue_finished(record, self.clock())
            else:
                raise SubmitError(f"job {job_label(record)} is pending: nothing to requeue")
            done.append(job_label(record))
        self._wake.set()
        return {"done": done}

    def update(self, job_label_: str, fields: dict, caller: Caller) -> dict:
        """``scontrol update``: TimeLimit, Priority (admins), Nice, JobName."""
        record = self._one(job_label_)
        self._check_owner(record, caller)
        if record["state"] in FINAL_STATES:
            raise SubmitError(f"job {job_label_} has finished; it cannot be changed")
        job_id, now, admin = record["job_id"], self.clock(), self.is_admin(caller)
        job = self.scheduler.jobs[job_id]
        changes: dict = {}
        if "time_limit" in fields:
            limit = fields["time_limit"]
            part = self.cluster.partition(record["partition"])
            if not admin and (limit is None or limit > (record["time_limit"] or math.inf)):
                raise PermissionDenied("only an administrator may raise a time limit")
            if limit is not None and limit > part.max_time:
                raise SubmitError(f"time limit exceeds partition {part.name}'s MaxTime")
            self.scheduler.set_time_limit(job_id, math.inf if limit is None else limit, now)
            if record["state"] == "RUNNING":
                self.agent.set_time_limit(job_id, limit)
            changes["time_limit"] = limit
        if "priority" in fields:
            if not admin:
                raise PermissionDenied("only an administrator may set a priority")
            if record["state"] != "PENDING":
                raise SubmitError(f"job {job_label_} is not pending")
            self.scheduler.set_priority(job_id, fields["priority"], now)
            changes["admin_priority"] = fields["priority"]
        if "nice" in fields:
            if fields["nice"] < 0 and not admin:
                raise PermissionDenied("only an administrator may set a negative nice value")
            job.nice = changes["nice"] = int(fields["nice"])
        if "name" in fields:
            job.name = changes["name"] = str(fields["name"])
        self._change(record, **changes)
        self._wake.set()
        return records.public(record)

    # ------------------------------------------------------------------ queries

    def select(self, ids: list[str] | None = None, *, users=None, names=None, states=None,
               partitions=None, active_only: bool = False) -> list[dict]:
        """Records matching Slurm-style filters (``ids`` are ``12`` or ``12_3``; an
        array job id matches all its tasks)."""
        if ids:
            chosen = []
            for label in ids:
                chosen.extend(self._by_label(label))
        else:
            chosen = list(self.records.values())
        out = []
        for r in chosen:
            if active_only and r["state"] in FINAL_STATES:
                continue
            if users and r["user"] not in users:
                continue
            if names and r["name"] not in names:
                continue
            if states and r["state"] not in states:
                continue
            if partitions and r["partition"] not in partitions:
                continue
            out.append(r)
        return out

    def view(self, records_: list[dict], *, start: bool = False) -> list[dict]:
        """Public JobInfo dicts with the core's live reason and priority
        (``start``: with forecast start times, as ``squeue --start``)."""
        now = self.clock()
        forecasts = {}
        if start:
            pending = [r["job_id"] for r in records_ if r["state"] == "PENDING"]
            if pending:
                forecasts = forecast_starts(self.scheduler, now, pending)
        out = []
        for record in records_:
            info = records.public(record)
            job = self.scheduler.jobs.get(record["job_id"])
            if job is not None and record["state"] == "PENDING":
                info["reason"] = job.reason if job.reason != "None" else "Priority"
                info["priority"] = job.priority
                if job.dependencies:
                    info["dependency"] = self._dependency_left(job)
            elif record["state"] != "PENDING":
                info["dependency"] = None  # nothing left to wait for
            if record["job_id"] in forecasts:
                t = forecasts[record["job_id"]]
                info["expected_start"] = None if math.isinf(t) else t
            out.append(info)
        return out

    def _dependency_left(self, job: Job) -> str | None:
        """Slurm's view of a pending job's dependencies: those not yet satisfied, each
        ``kind:id(unfulfilled)`` or ``kind:id(failed)``; None when none is left."""
        from kairos.core.jobs import DependencyKind

        ok = {DependencyKind.AFTEROK: {JobState.COMPLETED}}
        parts = []
        for dep in job.dependencies:
            kind = dep.kind.name.lower()
            if dep.kind is DependencyKind.SINGLETON:
                parts.append("singleton(unfulfilled)") if job.reason == "Dependency" else None
                continue
            other = self.scheduler.jobs.get(dep.job_id)
            if other is not None:
                if not (dep.kind is DependencyKind.AFTER and other.state is JobState.RUNNING):
                    parts.append(f"{kind}:{dep.job_id}(unfulfilled)")
                continue
            outcome = self.scheduler.outcomes.get(dep.job_id)
            if outcome is None or dep.kind in (DependencyKind.AFTER, DependencyKind.AFTERANY):
                continue
            good = outcome in ok.get(dep.kind, set()) if dep.kind is DependencyKind.AFTEROK \
                else outcome is not JobState.COMPLETED
            if not good:
                parts.append(f"{kind}:{dep.job_id}(failed)")
        return ",".join(parts) or None

    def nodes(self) -> list[dict]:
        res = self.scheduler.resources
        gpu_types = getattr(res, "gpu_types", [])
        out = []
        for i, node in enumerate(self.cluster.nodes):
            cap, free = res.capacity[i], res.free[i]
            cpus_alloc = cap[0] - free[0]
            state = node.state.value
            if state == "up":
                state = "idle" if cpus_alloc == 0 else (
                    "allocated" if free[0] == 0 else "mixed")
            out.append({
                "name": node.name, "state": state, "cpus": node.cpus, "cpus_alloc": cpus_alloc,
                "mem": node.mem, "mem_alloc": cap[1] - free[1], "gpus": dict(node.gpus),
                "gpus_alloc": {t: cap[2 + k] - free[2 + k] for k, t in enumerate(gpu_types)},
                "partitions": [p.name for p in self.cluster.partitions
                               if p.nodes is None or node.name in p.nodes],
                "features": sorted(node.features), "boot_time": _boot_time(),
                "os": " ".join(os.uname()[:3:2]),
            })
        return out

    def partitions(self) -> list[dict]:
        out = []
        configs = {p.name: p for p in self.settings.partitions}
        for p in self.cluster.partitions:
            names = [n.name for n in self.cluster.nodes if p.nodes is None or n.name in p.nodes]
            conf = configs.get(p.name)
            out.append({
                "name": p.name, "default": p.default, "up": p.up,
                "max_time": None if math.isinf(p.max_time) else p.max_time,
                "default_time": getattr(conf, "default_time", None),
                "max_nodes": p.max_nodes, "nodes": names, "priority_tier": p.priority_tier,
                "total_cpus": sum(n.cpus for n in self.cluster.nodes if n.name in names),
                "total_nodes": len(names),
            })
        return out

    def priorities(self, ids=None, users=None) -> list[dict]:
        """``sprio``: each pending job's weighted priority factors."""
        order, now = self.scheduler.order, self.clock()
        if not hasattr(order, "factors"):
            return []
        out = []
        for record in self.select(ids, users=users, states=["PENDING"]):
            job = self.scheduler.jobs.get(record["job_id"])
            if job is None:
                continue
            raw = order.factors(job, now)
            weighted = {k: raw[k] * w for k, w in order.weights.items()}
            weighted["nice"] = raw["nice"]
            weighted["site"] = 0.0
            out.append({"job_id": job_label(record), "user": record["user"],
                        "account": record["account"], "partition": record["partition"],
                        "priority": raw["priority"], "factors": weighted})
        return out

    def shares(self, users=None) -> list[dict]:
        """``sshare``: each user's shares, decayed usage and fair-share factor."""
        order, now = self.scheduler.order, self.clock()
        fs = getattr(order, "fairshare", None)
        if fs is None:
            return []
        fs.charge_running(now)
        known = set(fs.shares) if hasattr(fs, "shares") else set()
        known |= {r["user"] for r in self.records.values()}
        total = fs.total_usage(now) or 0.0
        out = []
        for user in sorted(known):
            if users and user not in users:
                continue
            fs.see(user)
            usage = fs.usage(user, now)
            out.append({"account": "root", "user": user, "raw_shares": 1,
                        "norm_shares": fs.normalized_shares(user), "raw_usage": usage,
                        "effective_usage": usage / total if total else 0.0,
                        "fairshare": fs.factor(user)})
        return out

    def is_admin(self, caller: Caller) -> bool:
        return caller.uid == 0 or caller.uid == os.geteuid() \
            or caller.user in self.settings.admins

    # ------------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Schedule until ``stop()``: the live counterpart of the twin's replay loop."""
        loop = asyncio.get_running_loop()
        fd = getattr(self.agent, "wakeup_fd", -1)
        if fd is not None and fd >= 0:
            loop.add_reader(fd, self._wake.set)  # a supervisor reports an exit
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
            if fd is not None and fd >= 0:
                loop.remove_reader(fd)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def step(self) -> None:
        """One round: reap, schedule, persist, launch, persist."""
        t0 = time.perf_counter()
        now = self.clock()
        for finished in self.agent.poll():
            self._ended(finished, now)
        for action in self.scheduler.schedule(now):
            self._started(action, now)
        self._forget_old(now)
        self.passes += 1
        self.last_pass_seconds = time.perf_counter() - t0
        await self.commit()  # final states and RUNNING are durable before the files go
        for job_id in self._to_cleanup:  # before launching: a requeued job reuses its id
            self.agent.cleanup(job_id)
        self._to_cleanup.clear()
        self._launch_started(now)
        if self._inserts or self._updates:
            await self.commit()

    async def commit(self) -> None:
        """Return once every change made so far is in the database."""
        if not (self._inserts or self._updates or self._flush_lock.locked()):
            return
        # Let requests that are already readable add their rows first: one transaction
        # then carries them all (group commit).
        await asyncio.sleep(0)
        async with self._flush_lock:
            inserts, self._inserts = self._inserts, []
            updates, self._updates = list(self._updates.values()), {}
            if not (inserts or updates):
                return
            if self._write_inline:
                # SQLite in WAL mode commits without waiting for the disk (a few hundred
                # microseconds): cheaper than a hop to a thread and back.
                self.store.write(inserts, updates, next_job_id=self.next_id)
            else:  # a database server: do not stall the loop on the network
                await asyncio.to_thread(
                    self.store.write, inserts, updates, next_job_id=self.next_id)

    def _sleep_time(self) -> float:
        interval = self.settings.scheduler_interval
        if self.agent.running():
            interval = min(interval, 2.0)  # a supervisor killed outright says nothing
        return interval

    # ------------------------------------------------------------------ transitions

    def _started(self, action: StartJob, now: float) -> None:
        record = self.records[action.job_id]
        record["expected_end"] = action.expected_end
        self._change(record, state="RUNNING", reason="None", start_time=now,
                     node_list=",".join(self.scheduler.resources.describe(action.placement)),
                     eligible_time=record.get("eligible_time") or now)
        self._to_launch.append(action.job_id)

    def _launch_started(self, now: float) -> None:
        from kairos.node.agent import AgentError, LaunchSpec
        from kairos.node.environment import job_environment

        launching, self._to_launch = self._to_launch, []
        for job_id in launching:
            record = self.records[job_id]
            job = self.scheduler.running.get(job_id)
            if job is None:
                continue  # cancelled before it was launched
            spec = record["spec"]
            env = job_environment(
                self._environment_view(record), base_env=_login_environment(record, spec),
                node_name=self.node_name, cluster_name=self.settings.cluster_name,
                submit_host=spec.get("submit_host") or "")
            limit = record["time_limit"]
            launch = LaunchSpec(
                user=record["user"], uid=record["uid"], gid=record["gid"],
                script=spec["script"], argv=list(spec.get("argv") or []),
                work_dir=record["work_dir"], env=env, stdout=record["stdout"],
                stderr=record["stderr"] or record["stdout"],
                mem_limit_mib=job.request.mem_per_node or None,
                time_limit=None if limit is None or math.isinf(limit) else limit,
                ncpus=job.request.cpus_per_node, gpus=list(job.request.gpus_per_node))
            try:
                launched = self.agent.launch(job_id, launch)
            except (OSError, AgentError) as e:
                self.scheduler.end(job_id, now, JobState.FAILED, exit_code=1)
                self._finish(record, "FAILED", now, reason=f"JobLaunchFailure: {e}", exit_code=1)
                continue
            self._change(record, cpu_ids=list(launched.cpu_ids),
                         gpu_ids=list(launched.gpu_ids), supervisor_pid=launched.pid)

    def _environment_view(self, record: dict) -> dict:
        """The job as ``kairos.node.environment`` reads it (JobInfo plus what only the
        controller knows: which options were given explicitly)."""
        spec = record["spec"]
        view = records.public(record)
        view.update(cpus_per_task_set=bool(record.get("cpus_per_task_set")),
                    ntasks_set=bool(spec.get("ntasks_set")),
                    mem_per_cpu=spec.get("mem_per_cpu"), submit_dir=spec.get("submit_dir")
                    or record["work_dir"])
        return view

    def _ended(self, finished, now: float) -> None:
        record = self.records.get(finished.job_id)
        if record is None or finished.job_id not in self.scheduler.running:
            return
        state = finished.state
        if finished.job_id in self._requeue:
            state = "REQUEUED"
        core_state = JobState[state] if state in JobState.__members__ else JobState.CANCELLED
        job = self.scheduler.end(finished.job_id, now, core_state, exit_code=finished.exit_code)
        end = finished.end or now
        self._finish(record, core_state.name if state != "REQUEUED" else "REQUEUED", end,
                     reason=finished.reason or "None", exit_code=finished.exit_code,
                     signal=finished.signal, cpu_time=finished.cpu_time,
                     max_rss=finished.max_rss_kib, start_time=finished.start or record["start_time"])
        self._to_cleanup.append(finished.job_id)
        if finished.job_id in self._requeue:
            self._requeue.discard(finished.job_id)
            self._requeue_finished(record, now, job)

    def _requeue_finished(self, record: dict, now: float, job: Job | None = None) -> None:
        if job is None:
            job = records.to_core_job(record, self._dependencies_of(record))
        self.scheduler.requeue(job, now)
        self._change(record, state="PENDING", reason=job.reason, start_time=None,
                     end_time=None, node_list=None, cpu_ids=[], gpu_ids=[], exit_code=0,
                     signal=0, cpu_time=None, max_rss=None, restarts=record["restarts"] + 1)

    def _finish(self, record: dict, state: str, end: float, **fields) -> None:
        self._change(record, state=state, end_time=end, **fields)
        self._finished.append((self.clock(), record["job_id"]))

    def _change(self, record: dict, **fields) -> None:
        record.update(fields)
        record["updated"] = self.clock()
        pending = self._updates.setdefault(record["job_id"], {"job_id": record["job_id"]})
        pending.update(fields)
        pending["updated"] = record["updated"]
        for key in ("expected_end",):
            pending[key] = record.get(key)

    def _forget_old(self, now: float) -> None:
        """Finished jobs leave memory (and ``squeue``) after ``MIN_JOB_AGE``; the
        database keeps them."""
        finished = self._finished
        while finished and now - finished[0][0] > MIN_JOB_AGE:
            _, job_id = finished.popleft()
            record = self.records.get(job_id)
            if record is not None and record["state"] in FINAL_STATES:
                del self.records[job_id]

    # ------------------------------------------------------------------ recovery

    def recover(self) -> dict:
        """Reload unfinished jobs after a restart (see the module docstring)."""
        now = self.clock()
        self.next_id = max(self.next_id, self.store.next_job_id())
        self.scheduler.outcomes.update(
            (k, JobState[v]) for k, v in self.store.outcomes().items() if v in JobState.__members__)
        self._charge_history(now)
        counts = {"pending": 0, "adopted": 0, "requeued": 0}
        rows = self.store.unfinished()
        for row in rows:
            if row.get("array_job_id") is not None:
                self.arrays.setdefault(row["array_job_id"], {})[row["array_task_id"]] = row["job_id"]
        for row in rows:
            row.setdefault("array_limit", _array_limit(row))
            job = records.to_core_job(row, self._dependencies_of(row))
            self.records[row["job_id"]] = row
            if row["state"] == "RUNNING" and (self.agent.jobdir(row["job_id"]) / "launch.json").exists():
                self.agent.adopt(row["job_id"], row.get("cpu_ids") or [], row.get("gpu_ids") or [])
                job.start = row["start_time"]
                job.placement = self.scheduler.resources.place(
                    job, self.scheduler.resources.free, self.scheduler.resources.licenses,
                    all_nodes=True)
                job.expected_end = row.get("expected_end")
                if job.placement is None:  # the node shrank under it: keep it honest
                    job.placement = (((0, (job.request.cpus_per_node, 0) + (0,) * len(
                        self.scheduler.resources.gpu_types)),), ())
                self.scheduler.adopt(job, now)
                counts["adopted"] += 1
                continue
            if row["state"] == "RUNNING":  # recorded, never launched: run it again
                self._change(row, state="PENDING", start_time=None, node_list=None)
                counts["requeued"] += 1
            self.scheduler.submit(job, now)
            counts["pending"] += 1
        return counts

    def _charge_history(self, now: float) -> None:
        """Rebuild decayed fair-share usage from the accounting of recent finished jobs
        (four half-lives back: older usage weighs under 1/16)."""
        fs = getattr(self.scheduler.order, "fairshare", None)
        if fs is None:
            return
        since = now - 4 * fs.half_life if not math.isinf(fs.half_life) else 0.0
        rows = [r for r in self.store.accounting(start=since)
                if r["state"] in FINAL_STATES and r["start_time"] and r["end_time"]]
        for r in sorted(rows, key=lambda r: r["end_time"]):
            fs.charge(r["user"], r["cpus"] * (r["end_time"] - r["start_time"]),
                      min(r["end_time"], now), r["account"] or "")

    # ------------------------------------------------------------------ helpers

    def _new_record(self, spec: dict, caller: Caller, job_id: int, now: float,
                    partition, limit) -> dict:
        req = records.core_request(spec)
        user = spec.get("user_override") or caller.user
        return {
            "job_id": job_id, "array_job_id": None, "array_task_id": None,
            "array_limit": None, "array_task_count": None, "array_task_min": None,
            "array_task_max": None, "array_task_step": None,
            "name": spec.get("name") or "sbatch", "user": user, "uid": caller.uid,
            "gid": caller.gid, "group": caller.group, "account": spec.get("account") or "",
            "partition": partition.name, "qos": spec.get("qos") or "normal",
            "state": "PENDING", "reason": "None", "priority": 0.0, "nice": spec.get("nice") or 0,
            "held": bool(spec.get("hold")), "admin_priority": None,
            "submit_time": now, "eligible_time": None, "start_time": None, "end_time": None,
            "expected_start": None, "expected_end": None, "time_limit": limit,
            "time_min": spec.get("time_min"), "nodes": req.nodes, "ntasks": req.tasks,
            "cpus_per_task": req.cpus_per_task, "cpus": req.cpus,
            "cpus_per_task_set": bool(spec.get("cpus_per_task_set")),
            "mem_per_node": req.mem_per_node or None, "gpus": [list(g) for g in req.gpus_per_node],
            "dependency": spec.get("dependency"), "begin": spec.get("begin"),
            "work_dir": spec["work_dir"], "stdout": spec.get("stdout") or _default_output(spec),
            "stderr": spec.get("stderr") or spec.get("stdout") or _default_output(spec), "command": spec.get("command") or spec.get("name") or "",
            "node_list": None, "cpu_ids": [], "gpu_ids": [], "exit_code": 0, "signal": 0,
            "cpu_time": None, "max_rss": None, "restarts": 0, "supervisor_pid": None,
            "spec": {k: spec.get(k) for k in _SPEC_KEYS},
            "updated": now,
        }

    def _resolve_outputs(self, record: dict) -> None:
        """``-o``/``-e`` patterns become paths (Slurm shows them resolved too)."""
        from kairos.slurm.patterns import expand_pattern

        for key in ("stdout", "stderr"):
            path = expand_pattern(
                record[key], job_id=record["job_id"], array_job_id=record["array_job_id"],
                array_task_id=record["array_task_id"], name=record["name"],
                user=record["user"], node=self.node_name)
            record[key] = os.path.join(record["work_dir"], path)

    def _partition_for(self, spec: dict):
        name = spec.get("partition") or ""
        try:
            return self.cluster.partition(name)
        except KeyError:
            raise SubmitError(f"invalid partition name specified: {name!r}; partitions: "
                              + ", ".join(p.name for p in self.cluster.partitions)) from None

    def _qos_for(self, spec: dict):
        name = spec.get("qos") or "normal"
        spec["qos"] = name
        qos = self.settings.qos.get(name)
        if qos is None:
            raise SubmitError(f"Invalid qos specification: {name!r}; QOS: "
                              + ", ".join(sorted(self.settings.qos)))
        return qos

    def _time_limit_for(self, spec: dict, partition, qos) -> float | None:
        limit = spec.get("time_limit")
        if limit is None:
            conf = next((p for p in self.settings.partitions if p.name == partition.name), None)
            limit = getattr(conf, "default_time", None)
            if limit is None and not math.isinf(partition.max_time):
                limit = partition.max_time
            if limit is None or (qos.max_wall is not None and limit > qos.max_wall):
                limit = qos.max_wall if qos.max_wall is not None else limit
        if limit is not None and qos.max_wall is not None and limit > qos.max_wall:
            raise SubmitError(
                f"Job violates accounting/QOS policy (job submit limit, user's size and/or "
                f"time limits): QOS {spec['qos']} allows at most {qos.max_wall:.0f} s")
        if limit is not None and limit > partition.max_time:
            raise SubmitError(
                f"Requested time limit is invalid (exceeds partition {partition.name}'s "
                f"MaxTime); ask for at most {partition.max_time:.0f} s with --time")
        if limit is not None and limit <= 0:
            raise SubmitError("Requested time limit is invalid: it must be positive")
        return limit

    def _test_only(self, job: Job, now: float) -> dict:
        twin_id = self.next_id
        job.id = twin_id
        self.scheduler.submit(job, now)
        try:
            t = forecast_starts(self.scheduler, now, [twin_id])[twin_id]
        finally:
            self.scheduler.cancel(twin_id, now)
            self.scheduler.outcomes.pop(twin_id, None)
        return {"job_id": twin_id, "expected_start": None if math.isinf(t) else t,
                "node_list": self.node_name, "cpus": job.request.cpus,
                "partition": job.partition}

    def _by_label(self, label: str) -> list[dict]:
        label = str(label).strip()
        try:
            if "_" in label:
                array_id, task = (int(x) for x in label.split("_", 1))
                return [r for r in self.records.values()
                        if r.get("array_job_id") == array_id and r.get("array_task_id") == task]
            job_id = int(label)
        except ValueError:
            raise SubmitError(f"invalid job id {label!r}") from None
        if job_id in self.arrays:
            return [self.records[i] for i in self.arrays[job_id].values() if i in self.records]
        record = self.records.get(job_id)
        return [record] if record is not None else []

    def _dependencies_of(self, record: dict) -> tuple:
        from kairos.slurm.deps import parse_dependency

        spec = record.get("dependency")
        return records.dependencies(parse_dependency(spec) if spec else [], self.arrays)

    def _one(self, label: str) -> dict:
        found = self._by_label(label)
        if not found:
            raise NotFound(f"Invalid job id specified: {label}")
        return found[0]

    def _check_owner(self, record: dict, caller: Caller) -> None:
        if record["uid"] != caller.uid and not self.is_admin(caller):
            raise PermissionDenied(
                f"Access/permission denied: job {job_label(record)} belongs to "
                f"{record['user']}, not {caller.user}")

    def _each_pending(self, ids, caller, action) -> dict:
        done = []
        for record in self.select(ids):
            self._check_owner(record, caller)
            if record["state"] != "PENDING":
                raise SubmitError(f"job {job_label(record)} is {record['state']}: "
                                  "only pending jobs can be held or released")
            action(record)
            done.append(job_label(record))
        self._wake.set()
        return {"done": done}

    def _hold_one(self, record: dict) -> None:
        self.scheduler.hold(record["job_id"])
        self._change(record, held=True, reason="JobHeldUser")

    def _release_one(self, record: dict) -> None:
        self.scheduler.release(record["job_id"])
        self._change(record, held=False, reason="None")


_SPEC_KEYS = ("script", "argv", "environment", "export", "submit_host", "array",
              "dependency", "command", "mem_per_cpu", "ntasks_set", "submit_dir",
              "cpus_per_task_set")


def _array_limit(row: dict) -> int | None:
    from kairos.slurm.arrays import parse_array

    spec = (row.get("spec") or {}).get("array")
    return parse_array(spec).limit if spec and row.get("array_job_id") is not None else None


def _login_environment(record: dict, spec: dict) -> dict:
    """What the job inherits, plus the owner's login basics (HOME, USER, LOGNAME, SHELL,
    PATH) where the submission did not carry them: Slurm adds them even for
    ``--export=NONE``, and scripts rely on ``$HOME``."""
    import pwd

    env = dict(spec.get("environment") or {})
    try:
        pw = pwd.getpwuid(record["uid"])
        login = {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name,
                 "SHELL": pw.pw_shell or "/bin/sh"}
    except KeyError:
        login = {"USER": record["user"], "LOGNAME": record["user"]}
    login["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    for key, value in login.items():
        env.setdefault(key, value)
    return env


def _default_output(spec: dict) -> str:
    return "slurm-%A_%a.out" if spec.get("array") else "slurm-%j.out"


def _step(indices: list[int]) -> int:
    steps = {b - a for a, b in zip(indices, indices[1:])}
    return steps.pop() if len(steps) == 1 else 1


def _signal_number(name: str) -> int:
    name = str(name).upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(getattr(signals.Signals, name))
    except AttributeError:
        raise SubmitError(f"unknown signal {name!r}") from None


def _boot_time() -> float:
    try:
        import psutil

        return psutil.boot_time()
    except Exception:  # noqa: BLE001 - facts are best effort
        return 0.0
