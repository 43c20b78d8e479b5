"""Self-tuning: the scheduler chooses how it plans by replaying its own recent past.

No configuration wins on every workload (docs/prediction.md): the best predictor,
correction and backfill order differ from trace to trace, and from month to month on one
machine.  So ``Tuner`` decides online, from the past only.  Every ``every`` seconds it
takes the jobs that were submitted in the last ``window`` seconds *and have finished*,
replays them through the twin once per candidate configuration (each predictor planning
with the answers it really gave at each job's submission, kept by a
``kairos.predict.panel.PredictorPanel``), and switches when a candidate

* keeps its maximum wait within ``bound`` x the longest wait EASY with requested times
  had in any what-if so far (the starvation guard: a maximum over a few weeks is one
  job's wait, and EASY's in a quiet month would condemn every policy that makes a
  long job wait a little longer than it must), and
* beats the current configuration's average bounded slowdown by at least ``margin``, with
  the 95% bootstrap interval of the gain (paired, job by job) above zero.

The bound decides what the tuner may switch *to*; it leaves the current configuration
for one within the bound without the margin only when the current one starved jobs far
past it (``STARVING``): the default candidates promise starts to jobs that waited too
long (guarded) or are EASY, and a window's longest wait is too noisy to act on alone
(on CTC a tuner that did so went back to EASY twice and lost half its gain).  Each
decision is a ``Decision`` (every trial's numbers, the expected gain with its interval,
what was applied), for ``kairos simulate --auto`` and ``kairos tune``.

Why replays rather than a model of the schedule: a replay of the same jobs under each
candidate is a paired experiment, the only estimate of a policy's effect that the
literature trusts (and the twin is fast enough to run one per candidate each week).
What it does not see: the jobs still pending or running at the tuning instant (their
runtimes are the future), and the queue that stood at the window's start (each what-if
starts on an empty machine).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from kairos.core import Cluster, Job, Scheduler
from kairos.core.corrections import ESTIMATOR_CORRECTIONS, make_correction
from kairos.core.policy import make_policy
from kairos.predict.panel import PredictorPanel
from kairos.sim.metrics import bounded_slowdown
from kairos.sim.workload import Workload

DAY = 86400.0
#: A current configuration whose longest what-if wait exceeds the bound by this factor
#: is left for the best candidate within the bound, even without the margin.
STARVING = 1.5


@dataclass(frozen=True)
class Config:
    """One way to plan: a predictor, a correction and a backfill order (EASY policy)."""

    predictor: str
    correction: str = "limit"
    backfill_order: str = "queue"

    @property
    def label(self) -> str:
        return f"{self.predictor}+{self.correction}+{self.backfill_order}"

    @classmethod
    def parse(cls, text: str) -> Config:
        """``"ml+limit+guarded"`` -> Config (all three parts, in that order)."""
        parts = [p.strip() for p in text.split("+")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{text!r}: a configuration is predictor+correction+backfill "
                             f"order, e.g. ml+limit+guarded")
        return cls(*parts)


#: EASY as Slurm plans it: requested times.  Always replayed: it sets the wait bound.
EASY = Config("user", "limit", "queue")

#: Where a tuner starts, before it has a past to learn from: the configuration with the
#: best results over the shared traces (docs/prediction.md, "Guarded backfilling").
START = Config("ml", "limit", "guarded")

#: What a tuner chooses from: guarded backfilling (docs/prediction.md: the best within
#: the wait limit on five of six traces) with ml and last2, and with ml at a lower and a
#: higher slowdown bound (``guarded@S5``: promises sooner, ``guarded@S20``: later), and
#: EASY itself.  Backfill orders without promises (shortest, aged) are left out: a
#: what-if starts on an empty machine and sees a few weeks, too little to catch the
#: starvation they cause over months (on KTH a tuner that could pick them ended with a
#: maximum wait 1.9x EASY's).  Each candidate costs one replay of the window per
#: tuning; a site may give its own list (``Tuner(candidates=...)``).
CANDIDATES: tuple[Config, ...] = (
    START,
    Config("ml", "limit", "guarded@S5"),
    Config("ml", "limit", "guarded@S20"),
    Config("last2", "limit", "guarded"),
    EASY,
)


@dataclass
class Trial:
    """One candidate replayed over one window."""

    config: Config
    avg_bsld: float
    max_wait: float  #: seconds
    #: per job, in the window's job order (None in a decision's record)
    bsld: np.ndarray | None = field(repr=False)


@dataclass
class Decision:
    """One tuning: what was compared, what was chosen, and whether it was applied."""

    time: float  #: when (the scheduler's clock)
    jobs: int  #: finished jobs in the pooled windows
    current: Config
    chosen: Config
    applied: bool
    reason: str
    gain: float = 0.0  #: expected average bounded slowdown saved by ``chosen`` over ``current``
    gain_low: float = 0.0  #: 95% bootstrap interval of ``gain``
    gain_high: float = 0.0
    wait_limit: float = 0.0  #: the maximum wait a candidate could have (seconds)
    trials: list[Trial] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "time": self.time, "jobs": self.jobs, "current": self.current.label,
            "chosen": self.chosen.label, "applied": self.applied, "reason": self.reason,
            "gain": self.gain, "gain_low": self.gain_low, "gain_high": self.gain_high,
            "wait_limit": self.wait_limit,
            "trials": [{"config": t.config.label, "avg_bsld": t.avg_bsld,
                        "max_wait": t.max_wait} for t in self.trials],
        }


def make_backfill(order: str):
    """The EASY policy for a backfill order, or for ``guarded@S<bound>`` /
    ``guarded@<hours>h`` (guarded with another slowdown bound or wait cap)."""
    from kairos.core.policy import Guarded

    name, _, option = order.partition("@")
    if not option:
        return make_policy("easy", backfill_order=order)
    try:
        if name == "guarded" and option.startswith("S"):
            return Guarded(slowdown_bound=float(option[1:]))
        if name == "guarded" and option.endswith("h"):
            return Guarded(wait_cap=float(option[:-1]) * 3600)
    except ValueError:
        pass
    raise ValueError(f"unknown backfill order {order!r}: the known ones, or guarded@S<bound> "
                     f"(e.g. guarded@S20) or guarded@<hours>h (e.g. guarded@48h)")


def check_config(config: Config) -> Config:
    """``config`` if every part names something Kairos has, else a ValueError."""
    from kairos.core.corrections import CORRECTIONS
    from kairos.predict import PREDICTORS

    if config.predictor not in PREDICTORS or config.predictor == "oracle":
        known = ", ".join(p for p in PREDICTORS if p != "oracle")
        raise ValueError(f"{config.label}: unknown predictor {config.predictor!r} (known: {known})")
    if config.correction not in CORRECTIONS and config.correction not in ESTIMATOR_CORRECTIONS:
        raise ValueError(f"{config.label}: unknown correction {config.correction!r} "
                         f"(known: {', '.join([*CORRECTIONS, *ESTIMATOR_CORRECTIONS])})")
    if config.correction in ESTIMATOR_CORRECTIONS and config.predictor not in ("ml", "mlq"):
        raise ValueError(f"{config.label}: the {config.correction!r} correction reads what "
                         f"ml or mlq learned; pair it with one of them")
    make_backfill(config.backfill_order)
    return config


class Tuner:
    """Chooses, and switches, a scheduler's predictor, correction and backfill order.

    ``machine()`` builds an empty copy of the cluster for each what-if replay;
    ``candidates`` are the configurations to choose from (``EASY`` is always replayed
    too, for the wait bound); the tuner starts with ``start``.  Every ``every`` seconds
    it replays the finished jobs submitted in the last ``window`` seconds, and decides
    on the trials of the last ``pooled`` such windows together (one window is a few
    hundred jobs: its maximum wait is one job's, and chasing it makes a tuner switch back
    and forth).  ``min_jobs``: the fewest finished jobs in a window worth replaying.
    A what-if does not depend on the configuration in use, so windows pool fairly
    across switches.
    """

    def __init__(self, machine: Callable[[], Cluster], *,
                 candidates: Sequence[Config] = CANDIDATES, start: Config = START,
                 every: float = 21 * DAY, window: float = 7 * DAY, pooled: int = 4,
                 bound: float = 1.25, margin: float = 0.10, min_jobs: int = 200,
                 wait_floor: float = 3600.0, predictor_options: dict | None = None) -> None:
        self.machine = machine
        self.candidates = tuple(dict.fromkeys([start, *candidates]))
        for config in self.candidates:  # a bad name fails here, not weeks in
            check_config(config)
        self.current = start
        self.every, self.window = every, window
        #: (job ids, trials) of the last ``pooled`` windows; decisions pool them
        self.evidence: deque[tuple[np.ndarray, dict[Config, Trial]]] = deque(maxlen=pooled)
        self.bound, self.margin = bound, margin
        self.min_jobs, self.wait_floor = min_jobs, wait_floor
        self.predictor_options = predictor_options or {}
        self.decisions: list[Decision] = []
        #: EASY's longest wait in any what-if so far: the starvation guard's reference
        self.easy_worst = 0.0
        self.panel: PredictorPanel | None = None
        self._next: float | None = None

    # ------------------------------------------------------------------ wiring

    def make_panel(self) -> PredictorPanel:
        """A panel with every predictor a candidate names (and ``user``)."""
        from kairos.predict import make_predictor

        names = dict.fromkeys(["user", *(c.predictor for c in self.candidates)])
        self.panel = PredictorPanel(
            {name: make_predictor(name, **self.predictor_options.get(name, {}))
             for name in names}, self.current.predictor)
        return self.panel

    def scheduler(self, cluster: Cluster, order: str = "submit") -> Scheduler:
        """A scheduler planning with the current configuration and a fresh panel."""
        panel = self.make_panel()
        return Scheduler(cluster, make_backfill(self.current.backfill_order),
                         order, estimator=panel, correct=self._correction(self.current))

    def _correction(self, config: Config):
        # ``remaining`` reads the live predictor: a what-if in another thread (the live
        # controller's) would read it while the loop updates it.  No default candidate
        # uses it; a site adding one should tune on the loop.
        if config.correction in ESTIMATOR_CORRECTIONS:
            return make_correction(config.correction, self.panel.members[config.predictor])
        return make_correction(config.correction)

    # ------------------------------------------------------------------ tuning

    def step(self, sched: Scheduler, now: float) -> Decision | None:
        """Tune if it is time (call before each pass); returns the decision taken."""
        if self._next is None:
            self._next = now + self.every
            return None
        if now < self._next:
            return None
        self._next = now + self.every
        decision = self.decide(list(self.panel.finished), now, sched.order.name)
        if decision is not None:
            decision.trials = [Trial(t.config, t.avg_bsld, t.max_wait, None)
                               for t in decision.trials]  # the per-job arrays are big
            self.decisions.append(decision)
            if decision.applied:
                self.apply(sched, decision.chosen)
        self.panel.forget_before(now - self.window)
        return decision

    def apply(self, sched: Scheduler, config: Config) -> None:
        """Plan with ``config`` from the next pass on."""
        panel = self.panel
        panel.active = config.predictor
        sched.reconfigure(policy=make_backfill(config.backfill_order),
                          correct=self._correction(config),
                          estimate=lambda job: panel.answer(job, config.predictor))
        self.current = config

    def decide(self, finished: list[Job], now: float, order: str = "submit") -> Decision | None:
        """Replay the window's finished jobs under every candidate; None when too few."""
        history = self.window_of(finished, now)
        if history is None:
            return None
        return self.conclude(history, {c: self.trial(history, c, order)
                                       for c in self.configs()}, now)

    # A live controller runs the replays in another process (kairos.server.tuning): it
    # calls ``window_of``, replays what ``portable`` allows with ``replay_trials`` on
    # ``answers`` it took from the panel, the rest with ``trial``, then ``conclude``.

    def window_of(self, finished: list[Job], now: float) -> list[Job] | None:
        """The finished jobs submitted in the window before ``now``, by submission;
        None when fewer than ``min_jobs``."""
        history = sorted((j for j in finished if j.submit >= now - self.window
                          and j.end is not None and j.end <= now),
                         key=lambda j: (j.submit, j.id))
        return history if len(history) >= self.min_jobs else None

    def configs(self) -> list[Config]:
        """What each tuning replays: the candidates, and EASY for the wait bound."""
        return list(dict.fromkeys([*self.candidates, EASY]))

    @staticmethod
    def portable(config: Config) -> bool:
        """Whether ``config`` replays without the live predictors (in another process):
        not with a correction that reads what a predictor learned."""
        return config.correction not in ESTIMATOR_CORRECTIONS

    def answers(self, history: list[Job], config: Config) -> dict[int, float] | None:
        """What ``config``'s predictor said of each job of ``history`` at its submission
        (job id -> seconds); None for ``user``, which plans with the requested times."""
        if config.predictor == "user":
            return None
        panel, name = self.panel, config.predictor
        return {job.id: panel.answer(job, name) for job in history}

    def conclude(self, history: list[Job], trials: dict[Config, Trial], now: float) -> Decision:
        """The decision on ``trials`` (one per ``configs()``, in that order) of
        ``history``, pooled with the windows before."""
        ids = np.fromiter((j.id for j in history), np.int64, len(history))
        self.evidence.append((ids, trials))
        pooled = pool(self.evidence)
        return self.choose(pooled, now, len(pooled[EASY].bsld))

    def choose(self, trials: dict[Config, Trial], now: float, jobs: int) -> Decision:
        """The decision rule (see the module docstring) over one window's trials."""
        current = trials[self.current]
        self.easy_worst = max(self.easy_worst, trials[EASY].max_wait)
        limit = self.bound * max(self.easy_worst, self.wait_floor)
        keep = [t for t in trials.values() if t.max_wait <= limit]
        decision = Decision(now, jobs, self.current, self.current, False, "", wait_limit=limit,
                            trials=list(trials.values()))
        if not keep:
            decision.reason = "no candidate kept the wait bound; keeping the current one"
            return decision
        best = min(keep, key=lambda t: (t.avg_bsld, t.config != self.current))
        decision.chosen = best.config
        if best.config == self.current:
            decision.reason = "the current configuration is the best within the wait bound"
            return decision
        decision.gain, decision.gain_low, decision.gain_high = paired_gain(current.bsld, best.bsld)
        if current.max_wait > STARVING * limit:
            decision.applied = True
            decision.reason = "the current configuration starved jobs far past the wait bound"
        elif decision.gain_low > 0 and decision.gain >= self.margin * current.avg_bsld:
            decision.applied = True
            decision.reason = "a candidate won by the margin"
        else:
            decision.reason = "the best candidate's gain is within the noise or the margin"
        return decision

    def trial(self, history: list[Job], config: Config, order: str) -> Trial:
        """Replay ``history`` (finished jobs, by submission) under ``config``."""
        return replay_trial(history, config, order, self.machine(),
                            self.answers(history, config), self._correction(config))


def replay_trial(history: list[Job], config: Config, order: str, cluster: Cluster,
                 answers: dict[int, float] | None, correct=None) -> Trial:
    """Replay ``history`` (finished jobs, by submission) under ``config`` on ``cluster``
    (empty; used up), each job planned with ``answers[job id]`` (None: its time limit).

    A module-level function of plain, picklable arguments, so that a live controller
    can run it in a worker process, away from its event loop's interpreter lock.
    ``correct``: the correction to plan with; by default ``config``'s, which must then
    not read a predictor (``Tuner.portable``).
    """
    from kairos.sim.replay import fresh_copy, replay

    jobs = [fresh_copy(j) for j in history]
    for job in jobs:  # planned with what the live predictor said: start from the request
        job.estimate = job.time_limit
    workload = Workload("what-if", 0, jobs, {j.id: j.end - j.start for j in history})
    recorded = None if answers is None else _Recorded(answers, config.predictor)
    if correct is None:
        correct = make_correction(config.correction)
    sched = Scheduler(cluster, make_backfill(config.backfill_order),
                      order, estimator=recorded, correct=correct)
    result = replay(workload, scheduler=sched)
    start = np.fromiter((j.start for j in result.jobs), float, len(jobs))
    submit = np.fromiter((j.submit for j in result.jobs), float, len(jobs))
    runtime = np.fromiter((workload.runtimes[j.id] for j in result.jobs), float, len(jobs))
    wait = start - submit
    bsld = bounded_slowdown(wait, runtime)
    return Trial(config, float(bsld.mean()), float(wait.max()), bsld)


def replay_trials(history: list[Job], order: str,
                  plans: list[tuple[Config, Cluster, dict[int, float] | None]]) -> list[Trial]:
    """``replay_trial`` for each ``(config, cluster, answers)`` of ``plans``, in order:
    one call, one pickled ``history``, for a worker process."""
    return [replay_trial(history, config, order, cluster, answers)
            for config, cluster, answers in plans]


class _Recorded:
    """A predictor that gives, for each job, what a panel member said of it live (its
    time limit when the member said nothing)."""

    def __init__(self, answers: dict[int, float], name: str) -> None:
        self.answers, self.name = answers, name

    def estimate(self, job: Job, now: float) -> float:
        return self.answers.get(job.id, job.time_limit)

    def observe(self, job: Job, now: float) -> None:
        pass


def pool(windows) -> dict[Config, Trial]:
    """One trial per configuration over several windows' ``(job ids, trials)``: every
    job's bounded slowdown (a job in two overlapping windows counts once, from the
    newest), the longest wait."""
    seen = np.empty(0, np.int64)
    parts: dict[Config, list] = {config: [] for config in windows[-1][1]}
    waits: dict[Config, float] = dict.fromkeys(parts, 0.0)
    for ids, trials in reversed(windows):
        new = ~np.isin(ids, seen)
        seen = np.concatenate([seen, ids])
        for config in parts:
            trial = trials.get(config)
            if trial is not None:
                parts[config].append(trial.bsld[new])
                waits[config] = max(waits[config], trial.max_wait)
    pooled = {}
    for config, arrays in parts.items():
        bsld = np.concatenate(arrays)
        pooled[config] = Trial(config, float(bsld.mean()), waits[config], bsld)
    return pooled


def paired_gain(current: np.ndarray, other: np.ndarray, *, resamples: int = 400,
                seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``current - other`` (per job) and its 95% bootstrap interval."""
    diff = np.asarray(current, float) - np.asarray(other, float)
    n = diff.size
    if n == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)
