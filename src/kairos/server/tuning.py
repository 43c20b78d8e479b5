"""The self-tuner on the live controller (``[controller] auto = true``; ``kairos tune``).

With ``auto`` the controller plans with a ``kairos.sim.tuning.Tuner``'s scheduler: a
panel of predictors answers every submission (each answer is kept) and the tuner's
current configuration - predictor, correction, EASY's backfill order - plans.  Every
``auto_every`` seconds, or when an admin asks, ``SelfTuning`` decides as the twin's
tuner does, on the accounting database: the jobs submitted in the last ``auto_window``
that have finished, read from the store, each planned in the what-ifs with what each
predictor said at its submission.  Jobs the panel has no answer for (with an explicit
``--time-min``, or submitted before this controller started and older than what it
learned again at start, ``kairos.server.seeding``) are planned with their time limits.

The replays run in a worker process (one, started with ``spawn`` at the first tuning
and kept for the next ones): in a thread they would share the interpreter lock with the
loop, and a long tuning slowed submissions, passes and ``squeue`` down
(docs/self-tuning.md).  The loop gives the worker plain data: the window's jobs, an
empty copy of the cluster per candidate, and what each candidate's predictor said of
each job, taken from the panel on the loop.  Candidates whose correction reads a live
predictor (``remaining``; no default candidate) replay in a thread, as does every
candidate of a tuning whose worker failed (logged; a broken worker is replaced at the
next tuning).  The decision rule runs on the loop, and the decision is applied there,
between two passes (``Tuner.apply``: pending jobs get the new predictor's answers,
running jobs keep their expected ends), logged in one line, and kept in the ``tuning``
table.  A restarted controller takes from there the configuration applied last, when to tune next, and the starvation guard's reference
(EASY's longest what-if wait); the per-job evidence of earlier windows is not kept, so
its first decisions pool fewer windows.

The what-ifs do not replay dependencies, ``--begin`` (such a job is taken as submitted
at its begin time), array and QOS throttles, partition tiers and fair share (the queue
order starts afresh), nor node outages (every node is up); jobs the cluster could not
run any more (a node or partition gone) are left out.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import sqlalchemy as sa

from kairos.core.jobs import JobState

log = logging.getLogger("kairos.tuning")
# Decisions are rare and each is worth its line in the controller's log, which shows
# warnings only otherwise.
log.setLevel(logging.INFO)

FINISHED = frozenset(s for s in JobState if s.finished)


class TuningRefused(Exception):
    """No decision can be made now; the message says why and what to do."""


class SelfTuning:
    """The tuner of one controller, its decisions and when it tunes next."""

    def __init__(self, settings, store, clock) -> None:
        from kairos.sim.tuning import EASY, START, Tuner

        self.settings, self.store = settings, store
        #: ``Decision.as_dict()`` of every decision, oldest first
        self.decisions: list[dict] = load(store)
        self._snapshot = None  #: the cluster the what-ifs replay on (``_machine``)
        self.tuner = Tuner(self._machine, start=self._resumed() or START,
                           every=settings.auto_every, window=settings.auto_window,
                           min_jobs=settings.auto_min_jobs)
        self.tuner.easy_worst = max((t["max_wait"] for d in self.decisions
                                     for t in d["trials"] if t["config"] == EASY.label),
                                    default=0.0)
        last = self.decisions[-1]["time"] if self.decisions else clock()
        #: when the next periodic tuning is due
        self.next_time = last + settings.auto_every
        self.running = False
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        #: the worker process the replays run in (``_replay``), started at the first tuning
        self._pool: ProcessPoolExecutor | None = None
        #: where the last tuning's replays ran (True: the worker process), and how long
        #: they took (wall seconds): in the log line of each decision
        self.in_process, self.replay_seconds = True, 0.0

    def _resumed(self):
        """The configuration applied last, if it still names what Kairos has."""
        from kairos.sim.tuning import Config, check_config

        applied = [d["chosen"] for d in self.decisions if d["applied"]]
        if not applied:
            return None
        try:
            return check_config(Config.parse(applied[-1]))
        except ValueError as e:
            log.warning("self-tuning: not resuming %s (%s); starting afresh", applied[-1], e)
            return None

    def scheduler(self, cluster, order: str):
        """The controller's scheduler: the tuner's current configuration and panel."""
        return self.tuner.scheduler(cluster, order)

    def _machine(self):
        return copy_cluster(self._snapshot)

    # ------------------------------------------------------------------ tuning

    def due(self, now: float) -> bool:
        return not self.running and now >= self.next_time

    def start(self, controller, now: float) -> None:
        """Tune in the background (the controller's loop calls this when ``due``)."""
        self.next_time = now + self.settings.auto_every
        self._task = asyncio.create_task(self._periodic(controller, now),
                                         name="kairos-self-tuning")

    async def _periodic(self, controller, now: float) -> None:
        try:
            await self.tune(controller, now)
        except TuningRefused as e:
            log.info("self-tuning: no decision: %s", e)
        except Exception:  # noqa: BLE001 - the controller goes on with its configuration
            log.exception("self-tuning failed; the configuration is unchanged")

    def cancel(self) -> None:
        """Stop a tuning in progress and the worker process (the controller stops)."""
        if self._task is not None:
            self._task.cancel()
        self._close_pool()

    def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # shutdown() alone lets a replay in progress finish, and the interpreter's exit
        # waits for it: a stopping controller would wait out the tuning.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()

    async def tune(self, controller, now: float | None = None) -> dict:
        """Decide on the window before ``now`` (default: once a tuning in progress is
        over), apply the decision, keep it; the decision (``Decision.as_dict()``).
        ``TuningRefused`` when the window holds too few finished jobs."""
        async with self._lock:
            now = controller.clock() if now is None else now
            await controller.commit()  # the jobs that ended so far are in the store
            self.running = True
            try:
                self._snapshot = copy_cluster(controller.cluster)
                history = await asyncio.to_thread(self.history, now)
                needed = self.tuner.min_jobs
                if len(history) < needed:
                    raise TuningRefused(
                        f"{len(history)} job(s) submitted in the last "
                        f"{_duration(self.tuner.window)} have finished; a tuning needs at "
                        f"least {needed} (auto_min_jobs in [controller])")
                decision = await self._decide(history, now)
            finally:
                self.running = False
            if decision is None:  # decide counts as ``history`` does: not expected
                raise TuningRefused(f"too few finished jobs in the last "
                                    f"{_duration(self.tuner.window)}")
            return await self._record(controller, decision, now)

    async def _decide(self, finished: list, now: float):
        """``Tuner.decide`` with the replays away from the loop (the module docstring)."""
        tuner, order = self.tuner, self.settings.order
        history = tuner.window_of(finished, now)
        if history is None:
            return None
        configs = tuner.configs()
        away = [c for c in configs if tuner.portable(c)]
        # On the loop: the panel's answers change with every submission.
        plans = [(c, self._machine(), tuner.answers(history, c)) for c in away]
        trials = dict(zip(away, await self._replay(history, order, plans)))
        rest = [c for c in configs if c not in trials]
        if rest:
            trials.update(await asyncio.to_thread(
                lambda: {c: tuner.trial(history, c, order) for c in rest}))
        return tuner.conclude(history, {c: trials[c] for c in configs}, now)

    async def _replay(self, history: list, order: str, plans: list) -> list:
        """``replay_trials`` in the worker process; in a thread if that fails."""
        from kairos.sim.tuning import replay_trials

        if not plans:
            return []
        t0 = time.perf_counter()
        try:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            trials = await asyncio.get_running_loop().run_in_executor(
                self._pool, replay_trials, history, order, plans)
            self.in_process, self.replay_seconds = True, time.perf_counter() - t0
            return trials
        except Exception as e:  # noqa: BLE001 - the tuning goes on in a thread
            log.warning("self-tuning: the worker process failed (%s: %s); replaying in a "
                        "thread this time", type(e).__name__, e)
            if isinstance(e, (BrokenProcessPool, OSError)):
                self._close_pool()  # the next tuning starts a fresh worker
        trials = await asyncio.to_thread(replay_trials, history, order, plans)
        self.in_process, self.replay_seconds = False, time.perf_counter() - t0
        return trials

    async def _record(self, controller, decision, now: float) -> dict:
        from kairos.sim.tuning import Trial

        decision.trials = [Trial(t.config, t.avg_bsld, t.max_wait, None)
                           for t in decision.trials]  # the per-job arrays are big
        if decision.applied:
            self.tuner.apply(controller.scheduler, decision.chosen)
            controller.wake()
        self.tuner.panel.forget_before(now - self.tuner.window)
        self.next_time = now + self.settings.auto_every
        record = decision.as_dict()
        self.decisions.append(record)
        log.info("self-tuning: %s (replays: %.1f s, in %s)", describe(record),
                 self.replay_seconds, "the worker process" if self.in_process else "a thread")
        await asyncio.to_thread(save, self.store, record)
        return record

    def history(self, now: float) -> list:
        """The finished jobs submitted in the window before ``now``, as core jobs with
        their start and end, that the cluster can still run."""
        from kairos.core.resources import make_resources

        since = now - self.tuner.window
        rows = self.store.accounting(start=since, end=now, states=FINISHED)
        resources = make_resources(self._machine())
        jobs = []
        for row in rows:
            if (row.submit_time < since or row.start_time is None or row.end_time is None
                    or row.end_time > now):
                continue
            try:
                job = row.to_core_job()
                resources.check(job)
            except ValueError:  # a request this cluster cannot serve any more
                continue
            job.submit = max(job.submit, job.begin)
            job.begin, job.held, job.array_limit = 0.0, False, None
            job.start, job.end = row.start_time, max(row.end_time, row.start_time)
            jobs.append(job)
        return jobs

    # ------------------------------------------------------------------ the wire

    def info(self) -> dict:
        current = self.tuner.current
        return {
            "auto": True, "current": _configuration("easy", current.predictor,
                                                    current.correction, current.backfill_order),
            "every": self.settings.auto_every, "window": self.settings.auto_window,
            "min_jobs": self.tuner.min_jobs, "next": self.next_time, "running": self.running,
            "candidates": [c.label for c in self.tuner.candidates],
            "decisions": list(self.decisions),
        }


def info(controller) -> dict:
    """``GET /api/v1/tuning``: how the controller plans, whether it tunes itself, when
    next, and its decisions."""
    if controller.tuning is not None:
        return controller.tuning.info()
    s = controller.settings
    return {"auto": False, "current": _configuration(s.policy, s.predictor or "user",
                                                     s.correction, s.backfill_order),
            "every": s.auto_every, "window": s.auto_window, "min_jobs": s.auto_min_jobs,
            "next": None, "running": False, "candidates": [], "decisions": []}


async def tune_now(controller) -> dict:
    """``POST /api/v1/tuning``: a decision now (waiting for one in progress first)."""
    if controller.tuning is None:
        raise TuningRefused(f"self-tuning is off: set auto = true in [controller] of "
                            f"{controller.settings.config_path} and restart the controller")
    return await controller.tuning.tune(controller)


def _configuration(policy: str, predictor: str, correction: str, backfill_order: str) -> dict:
    return {"policy": policy, "predictor": predictor, "correction": correction,
            "backfill_order": backfill_order, "label": f"{predictor}+{correction}+{backfill_order}"}


def describe(decision: dict) -> str:
    """A decision in one line, for the log."""
    trials = {t["config"]: t for t in decision["trials"]}
    current, chosen = trials[decision["current"]], trials[decision["chosen"]]

    def numbers(t: dict) -> str:
        return f"avg bsld {t['avg_bsld']:.2f}, max wait {_duration(t['max_wait'])}"

    head = f"{decision['jobs']} finished jobs; "
    if decision["chosen"] == decision["current"]:
        return f"{head}kept {decision['current']} ({numbers(current)}): {decision['reason']}"
    verb = "switched" if decision["applied"] else "kept"
    return (f"{head}{verb} {decision['current']} ({numbers(current)}) "
            f"{'->' if decision['applied'] else 'over'} {decision['chosen']} "
            f"({numbers(chosen)}; gain {decision['gain']:.2f}, 95% interval "
            f"{decision['gain_low']:.2f} to {decision['gain_high']:.2f}): {decision['reason']}")


def _duration(seconds: float) -> str:
    from kairos.slurm.timespec import format_duration

    return format_duration(seconds)


def copy_cluster(cluster):
    """An empty copy of ``cluster`` with every node and partition up: what the
    what-ifs replay on (the past they replay had its own outages)."""
    from kairos.core.cluster import Cluster, Node, Partition

    nodes = [Node(n.name, n.cpus, n.mem, dict(n.gpus), n.features) for n in cluster.nodes]
    partitions = [Partition(p.name, p.nodes, p.max_time, p.max_nodes, p.priority_tier,
                            p.default) for p in cluster.partitions]
    return Cluster(nodes, partitions, dict(cluster.licenses), pool=cluster.is_pool,
                   dynamic=True)


# ---------------------------------------------------------------------- the database


def load(store) -> list[dict]:
    """Every decision kept, oldest first."""
    from kairos.server.tables import tuning

    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(tuning.c.decision).order_by(tuning.c.id)).scalars()
        return [dict(row) for row in rows]


def save(store, decision: dict) -> None:
    from kairos.server.tables import tuning

    with store.engine.begin() as conn:
        conn.execute(tuning.insert(), [{"time": decision["time"], "applied": decision["applied"],
                                        "chosen": decision["chosen"], "decision": decision}])
