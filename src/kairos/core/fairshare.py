"""Fair share: decayed usage per user and per account, and the classic fair-share factor.

Usage is counted in billing-seconds: a job is billed ``billing(job)`` units per second it
runs (its CPUs, plus ``gpu_weight`` per GPU; GPUs are free by default), like Slurm's
TRES-billing.  Past usage fades with a half-life (Slurm's PriorityDecayHalfLife)::

    usage(t) = usage(t0) * 2 ** (-(t - t0) / half_life)

so a week-old hour of CPU time counts half as much as one used just now.  The fair-share
factor of a user (Slurm's classic formula, before Fair Tree) is::

    F = 2 ** (-U / S)

    U = the user's decayed usage / all users' decayed usage   (0 while nothing is used)
    S = the user's shares / the shares of every user seen     (1 share each by default)

F is 1 for a user who has used nothing, 0.5 for one who used exactly their share, and
tends to 0 the further past it they go.

Decay is lazy: each counter keeps a value and the time it was last updated and is decayed
when read, so a charge costs O(1) whatever the number of users.  Nothing here reads a
clock; every time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kairos.core.jobs import Job

WEEK = 7 * 24 * 3600.0


def billing(job: Job, gpu_weight: float = 0.0) -> float:
    """Billing units per second of run time: the request's CPUs + ``gpu_weight`` a GPU."""
    return job.request.cpus + gpu_weight * job.request.gpus


def _decay(half_life: float, dt: float) -> float:
    """The factor a value shrinks by over ``dt`` seconds (1 when decay is off)."""
    if half_life <= 0 or math.isinf(half_life):
        return 1.0
    return 2.0 ** (-dt / half_life)


def _accrued(rate: float, half_life: float, dt: float) -> float:
    """Usage at the end of ``dt`` seconds of running at ``rate``, each instant decayed.

    The integral of ``rate * 2**(-(dt - s) / half_life)`` over ``s`` in ``[0, dt]``.  Using
    the integral rather than ``rate * dt`` makes a job's charge the same however often it
    is charged (one charge over [0, 2t] equals a charge over [0, t] decayed by t plus one
    over [t, 2t]).  For ``dt`` much shorter than the half-life it is ``rate * dt``.
    """
    if half_life <= 0 or math.isinf(half_life):
        return rate * dt
    k = math.log(2.0) / half_life
    return rate * -math.expm1(-k * dt) / k


@dataclass(slots=True)
class _Decayed:
    """A usage counter with lazy decay: ``value`` as of time ``at``."""

    value: float = 0.0
    at: float = -math.inf

    def read(self, now: float, half_life: float) -> float:
        if self.value == 0.0:
            return 0.0
        return self.value * _decay(half_life, now - self.at)

    def add(self, amount: float, now: float, half_life: float) -> None:
        if now < self.at:
            raise ValueError(f"usage charged at {now}, before its last update at {self.at}")
        self.value = self.read(now, half_life) + amount
        self.at = now


@dataclass(slots=True)
class _Running:
    """A running job and the time up to which it has been charged."""

    job: Job
    charged_to: float


class FairShare:
    """Decayed usage accounting and the fair-share factor ``2 ** (-U / S)``.

    The owner tells it when jobs start and end (``job_started``, ``job_ended``) and calls
    ``charge_running(now)`` at each priority recalculation, so a long job's usage counts
    while it runs (Slurm charges running jobs every PriorityCalcPeriod), not only when it
    ends.  ``half_life`` 0 (or infinity) turns decay off.

    ``shares`` gives some users more (or fewer) shares than the default 1; a user with 0
    shares gets factor 0.  A user counts towards the total shares once seen: when named in
    ``shares``, charged, started a job, or passed to ``see``.
    """

    def __init__(
        self,
        half_life: float = WEEK,
        shares: dict[str, float] | None = None,
        *,
        gpu_weight: float = 0.0,
    ) -> None:
        if half_life < 0:
            raise ValueError(f"half_life must be >= 0, got {half_life}")
        if any(s < 0 for s in (shares or {}).values()):
            raise ValueError("shares must be >= 0")
        self.half_life = half_life  #: seconds; 0 or inf = no decay
        self.gpu_weight = gpu_weight  #: billing units per GPU (0: GPUs are free)
        #: configured shares; a user not named here has 1
        self.shares: dict[str, float] = dict(shares or {})
        #: Users seen, in first-seen order, with their shares (the order keeps sums exact
        #: to the bit from one run to the next).
        self._seen: dict[str, float] = {}
        self._total_shares = 0.0
        self._users: dict[str, _Decayed] = {}
        self._accounts: dict[str, _Decayed] = {}
        self._total = _Decayed()
        self._running: dict[int, _Running] = {}  #: job id -> running job, charged so far
        for user in self.shares:
            self.see(user)

    # -- who takes part ------------------------------------------------------------------

    def share_of(self, user: str) -> float:
        return self.shares.get(user, 1.0)

    def see(self, user: str) -> None:
        """Count ``user`` towards the total shares from now on."""
        if user not in self._seen:
            share = self.share_of(user)
            self._seen[user] = share
            self._total_shares += share

    # -- charging --------------------------------------------------------------------------

    def charge(self, user: str, amount: float, now: float, account: str = "") -> None:
        """Add ``amount`` billing-seconds to ``user`` and ``account`` at ``now``."""
        self.see(user)
        h = self.half_life
        self._users.setdefault(user, _Decayed()).add(amount, now, h)
        self._accounts.setdefault(account, _Decayed()).add(amount, now, h)
        self._total.add(amount, now, h)

    def job_started(self, job: Job, now: float) -> None:
        self.see(job.user)
        self._running[job.id] = _Running(job, now)

    def job_ended(self, job: Job, now: float) -> None:
        """Charge the job's last stretch of run time and stop tracking it.

        A job that was never started here (cancelled while pending) costs nothing.
        """
        run = self._running.pop(job.id, None)
        if run is not None:
            self._charge_run(run, now)

    def charge_running(self, now: float) -> None:
        """Charge every running job for its run time since it was last charged."""
        for run in self._running.values():
            self._charge_run(run, now)

    def _charge_run(self, run: _Running, now: float) -> None:
        if now < run.charged_to:
            raise ValueError(f"job {run.job.id} charged at {now}, before {run.charged_to}")
        rate = billing(run.job, self.gpu_weight)
        amount = _accrued(rate, self.half_life, now - run.charged_to)
        self.charge(run.job.user, amount, now, run.job.account)
        run.charged_to = now

    @property
    def running(self) -> list[Job]:
        """Jobs being charged, in start order."""
        return [run.job for run in self._running.values()]

    # -- reading -------------------------------------------------------------------------

    def usage(self, user: str, now: float) -> float:
        """The user's decayed usage at ``now`` (billing-seconds)."""
        counter = self._users.get(user)
        return 0.0 if counter is None else counter.read(now, self.half_life)

    def account_usage(self, account: str, now: float) -> float:
        counter = self._accounts.get(account)
        return 0.0 if counter is None else counter.read(now, self.half_life)

    def total_usage(self, now: float) -> float:
        return self._total.read(now, self.half_life)

    def normalized_usage(self, user: str) -> float:
        """U: the user's part of all decayed usage, in [0, 1].

        Both counters decay at the same rate, so the ratio does not depend on the time it
        is read at; it is computed from the stored values to keep it exactly so.
        """
        counter = self._users.get(user)
        if counter is None or self._total.value <= 0.0:
            return 0.0
        # The total was updated no earlier than the user's counter: decay the user's value
        # to the total's time (never the other way, which could overflow).
        mine = counter.value * _decay(self.half_life, self._total.at - counter.at)
        return min(max(mine / self._total.value, 0.0), 1.0)

    def normalized_shares(self, user: str) -> float:
        """S: the user's part of the shares of every user seen (counting ``user`` too)."""
        share = self.share_of(user)
        total = self._total_shares if user in self._seen else self._total_shares + share
        return 0.0 if total <= 0.0 else share / total

    def factor(self, user: str) -> float:
        """The fair-share factor ``2 ** (-U / S)`` in [0, 1]; 0 for a user with no shares.

        It needs no ``now``: decay shrinks every user's usage alike, so U only changes when
        usage is charged.
        """
        s = self.normalized_shares(user)
        if s <= 0.0:
            return 0.0
        return 2.0 ** (-self.normalized_usage(user) / s)
