"""Multifactor priority and fair share, checked against hand-computed numbers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.core.fairshare import FairShare, billing
from kairos.core.jobs import Job, Request
from kairos.core.priority import MultifactorPriority

HOUR = 3600.0


def make_job(
    id: int = 1, user: str = "alice", submit: float = 0.0, cpus: int = 1, **kw
) -> Job:
    return Job(id=id, user=user, submit=submit, request=Request(tasks=cpus), **kw)


def only(factor: str, **kw) -> MultifactorPriority:
    """An order that weighs one factor by 1 and every other by 0."""
    names = ("age", "fairshare", "jobsize", "partition", "qos")
    weights = {f"weight_{name}": 0.0 for name in names}
    weights[f"weight_{factor}"] = 1.0
    return MultifactorPriority(**weights, **kw)


# -- age ---------------------------------------------------------------------------------


def test_age_factor_grows_linearly_and_caps_at_max_age():
    order = MultifactorPriority(max_age=1000.0)
    job = make_job(submit=100.0)
    assert order.age_factor(job, 100.0) == 0.0
    assert order.age_factor(job, 350.0) == 0.25
    assert order.age_factor(job, 600.0) == 0.5
    assert order.age_factor(job, 1100.0) == 1.0
    assert order.age_factor(job, 50_000.0) == 1.0
    assert order.age_factor(job, 0.0) == 0.0  # before submission: no age, never negative


def test_age_counts_from_begin_time_when_later_than_submit():
    order = MultifactorPriority(max_age=1000.0)
    job = make_job(submit=0.0, begin=500.0)
    assert order.age_factor(job, 400.0) == 0.0
    assert order.age_factor(job, 750.0) == 0.25


# -- fair share ----------------------------------------------------------------------------


def test_fair_share_two_users_one_used_three_times_more():
    fs = FairShare(half_life=0)  # no decay
    fs.charge("alice", 300.0, now=0.0)
    fs.charge("bob", 100.0, now=0.0)
    # U_alice = 300/400 = 0.75, U_bob = 0.25; S = 1/2 each.
    # F_alice = 2^(-0.75/0.5) = 2^-1.5 = 1/(2*sqrt 2); F_bob = 2^-0.5 = 1/sqrt 2.
    assert fs.normalized_usage("alice") == 0.75
    assert fs.normalized_shares("alice") == 0.5
    assert fs.factor("alice") == pytest.approx(1 / (2 * math.sqrt(2)))
    assert fs.factor("bob") == pytest.approx(1 / math.sqrt(2))
    # A newcomer has used nothing: 2^0 = 1.  Once seen, the shares are thirds and alice
    # gets 2^(-0.75 * 3) = 2^-2.25.
    assert fs.factor("carol") == 1.0
    fs.see("carol")
    assert fs.factor("alice") == pytest.approx(2 ** -2.25)


def test_fair_share_with_decay_is_the_same_whenever_read():
    fs = FairShare(half_life=HOUR)
    fs.charge("alice", 300.0, now=0.0)
    fs.charge("bob", 100.0, now=0.0)
    assert fs.factor("alice") == pytest.approx(2 ** -1.5)
    # An hour later both have halved: the proportions, hence the factors, are unchanged.
    assert fs.usage("alice", HOUR) == pytest.approx(150.0)
    assert fs.factor("alice") == pytest.approx(2 ** -1.5)


def test_older_usage_weighs_less():
    fs = FairShare(half_life=HOUR)
    fs.charge("alice", 100.0, now=0.0)
    fs.charge("bob", 100.0, now=HOUR)
    # At t=1h alice's 100 has decayed to 50: U_alice = 50/150 = 1/3, U_bob = 2/3.
    assert fs.normalized_usage("alice") == pytest.approx(1 / 3)
    assert fs.factor("alice") == pytest.approx(2 ** (-2 / 3))
    assert fs.factor("bob") == pytest.approx(2 ** (-4 / 3))


def test_shares_weigh_the_factor():
    fs = FairShare(half_life=0, shares={"alice": 3.0})  # bob gets the default 1
    fs.charge("alice", 300.0, now=0.0)
    fs.charge("bob", 100.0, now=0.0)
    # S_alice = 3/4, U_alice = 3/4: exactly her share, factor 1/2; bob likewise.
    assert fs.factor("alice") == pytest.approx(0.5)
    assert fs.factor("bob") == pytest.approx(0.5)


def test_user_with_no_shares_gets_factor_zero():
    fs = FairShare(shares={"guest": 0.0})
    assert fs.factor("guest") == 0.0


def test_usage_halves_after_one_half_life():
    fs = FairShare(half_life=HOUR)
    fs.charge("alice", 100.0, now=0.0, account="physics")
    assert fs.usage("alice", 0.0) == 100.0
    assert fs.usage("alice", HOUR) == pytest.approx(50.0)
    assert fs.usage("alice", 2 * HOUR) == pytest.approx(25.0)
    assert fs.account_usage("physics", HOUR) == pytest.approx(50.0)
    assert fs.total_usage(HOUR) == pytest.approx(50.0)
    fs.charge("alice", 10.0, now=HOUR)
    assert fs.usage("alice", HOUR) == pytest.approx(60.0)
    assert fs.usage("alice", 2 * HOUR) == pytest.approx(30.0)


def test_running_job_is_charged_before_it_ends():
    fs = FairShare(half_life=0)
    job = make_job(cpus=4)
    fs.job_started(job, now=0.0)
    assert fs.usage("alice", 0.0) == 0.0
    fs.charge_running(now=100.0)
    assert fs.usage("alice", 100.0) == 400.0  # 4 CPUs x 100 s, while still running
    fs.job_ended(job, now=150.0)
    assert fs.usage("alice", 150.0) == 600.0
    assert fs.running == []
    fs.charge_running(now=200.0)  # no longer running: nothing more
    assert fs.usage("alice", 200.0) == 600.0


def test_running_charge_does_not_depend_on_how_often_it_is_charged():
    once, often = FairShare(half_life=HOUR), FairShare(half_life=HOUR)
    job = make_job(cpus=2)
    once.job_started(job, 0.0)
    often.job_started(job, 0.0)
    for t in range(60, 7200 + 1, 60):
        often.charge_running(float(t))
    once.charge_running(7200.0)
    assert often.usage("alice", 7200.0) == pytest.approx(once.usage("alice", 7200.0))
    # 2 CPUs for two half-lives, each instant decayed: 2 * h/ln2 * (1 - 1/4).
    assert once.usage("alice", 7200.0) == pytest.approx(2 * HOUR / math.log(2) * 0.75)


def test_recalc_charges_running_jobs():
    order = only("fairshare", fairshare=FairShare(half_life=0))
    big = make_job(id=1, user="alice", cpus=8)
    mine, theirs = make_job(id=2, user="alice"), make_job(id=3, user="bob")
    order.job_started(big, now=0.0)
    order.recalc([mine, theirs], now=100.0)
    # alice has all the usage: U=1, S=1/2 -> 2^-2; bob: 2^0.
    assert mine.priority == pytest.approx(0.25)
    assert theirs.priority == 1.0
    order.job_ended(big, now=200.0)
    assert order.fairshare.usage("alice", 200.0) == 1600.0


def test_gpus_are_billed_by_weight():
    job = Job(1, "alice", 0.0, Request(nodes=2, tasks=4, gpus_per_node=(("a100", 2),)))
    assert billing(job) == 4
    assert billing(job, gpu_weight=10.0) == 4 + 10.0 * 4
    fs = FairShare(half_life=0, gpu_weight=10.0)
    fs.job_started(job, 0.0)
    fs.job_ended(job, 10.0)
    assert fs.usage("alice", 10.0) == 440.0


def test_ending_a_job_never_started_costs_nothing():
    fs = FairShare()
    fs.job_ended(make_job(), now=10.0)
    assert fs.total_usage(10.0) == 0.0


def test_time_going_backwards_is_refused():
    fs = FairShare()
    fs.charge("alice", 1.0, now=100.0)
    with pytest.raises(ValueError):
        fs.charge("alice", 1.0, now=50.0)


# -- job size, partition, QOS, nice, admin -----------------------------------------------


def test_favor_small_orders_small_jobs_first():
    order = only("jobsize", total_cpus=64)
    jobs = [make_job(id=i, cpus=c) for i, c in ((1, 64), (2, 8), (3, 1))]
    order.recalc(jobs, now=0.0)
    assert [j.priority for j in jobs] == [1 / 64, 1 - 7 / 64, 1.0]
    assert [j.id for j in sorted(jobs, key=order.key)] == [3, 2, 1]


def test_favor_large_orders_big_jobs_first():
    order = only("jobsize", total_cpus=64, favor_small=False)
    jobs = [make_job(id=i, cpus=c) for i, c in ((1, 1), (2, 8), (3, 64), (4, 128))]
    order.recalc(jobs, now=0.0)
    assert [j.priority for j in jobs] == [1 / 64, 0.125, 1.0, 1.0]  # clamped at 1
    assert [j.id for j in sorted(jobs, key=order.key)] == [3, 4, 2, 1]


def test_job_size_is_neutral_until_total_cpus_is_known():
    order = only("jobsize")
    assert order.size_factor(make_job(cpus=4)) == 0.0
    order.configure(total_cpus=8)
    assert order.size_factor(make_job(cpus=4)) == 1 - 3 / 8


def test_partition_tiers():
    order = only("partition", partition_tiers={"low": 1.0, "high": 4.0})
    low, high, other = (
        make_job(id=i, partition=p) for i, p in ((1, "low"), (2, "high"), (3, "x"))
    )
    assert order.partition_factor(low) == 0.25
    assert order.partition_factor(high) == 1.0
    assert order.partition_factor(other) == 0.0
    order.recalc([low, high, other], now=0.0)
    assert [j.id for j in sorted([low, high, other], key=order.key)] == [2, 1, 3]
    assert only("partition").partition_factor(high) == 0.0  # no tiers configured


def test_qos_priority():
    order = only("qos", qos_priority={"normal": 10.0, "high": 40.0})
    assert order.qos_factor(make_job(qos="normal")) == 0.25
    assert order.qos_factor(make_job(qos="high")) == 1.0
    assert order.qos_factor(make_job(qos="scavenger")) == 0.0


def test_nice_is_subtracted():
    order = only("age", max_age=100.0)
    job = make_job(nice=30)
    order.recalc([job], now=50.0)
    assert job.priority == 0.5 - 30


def test_admin_priority_overrides_everything():
    order = MultifactorPriority(total_cpus=16)
    normal = make_job(id=1, submit=0.0)
    pinned = make_job(id=2, submit=0.0, cpus=16, nice=100, admin_priority=1e6)
    sunk = make_job(id=3, submit=0.0, admin_priority=0.0)
    order.recalc([normal, pinned, sunk], now=HOUR)
    assert pinned.priority == 1e6
    assert sunk.priority == 0.0
    assert order.factors(pinned, HOUR)["priority"] == 1e6
    assert [j.id for j in sorted([normal, pinned, sunk], key=order.key)] == [2, 1, 3]


def test_default_weights_hand_computed():
    tiers = {"batch": 1.0, "debug": 2.0}
    order = MultifactorPriority(total_cpus=100, partition_tiers=tiers)
    job = make_job(cpus=11, partition="batch", submit=0.0)
    f = order.factors(job, now=3.5 * 24 * HOUR)  # half of the default week-long max age
    assert f["age"] == 0.5
    assert f["fairshare"] == 1.0  # nobody has used anything yet
    assert f["jobsize"] == pytest.approx(0.9)  # 1 - 10/100
    assert f["partition"] == 0.5
    assert f["qos"] == 0.0
    # 1000*0.5 + 10000*1 + 1000*0.9 + 1000*0.5 + 0*0
    assert f["priority"] == pytest.approx(11_900.0)


# -- the queue order protocol ------------------------------------------------------------


def test_key_ties_break_by_submit_then_id():
    order = only("age")
    jobs = [
        make_job(id=5, submit=10.0),
        make_job(id=4, submit=10.0),
        make_job(id=1, submit=20.0),
        make_job(id=9, submit=5.0, admin_priority=2.0),
    ]
    order.recalc(jobs, now=10.0)  # jobs 5, 4, 1 all have priority 0
    assert [j.id for j in sorted(jobs, key=order.key)] == [9, 4, 5, 1]
    assert order.key(jobs[0]) == (-0.0, 10.0, 5)


def test_recalc_reads_no_clock_and_repeats_exactly():
    def run() -> list[float]:
        order = MultifactorPriority(
            total_cpus=32,
            fairshare=FairShare(half_life=2 * HOUR, shares={"carol": 2.0}),
            partition_tiers={"a": 1.0, "b": 3.0},
        )
        users = ["alice", "bob", "carol"]
        jobs = [
            make_job(i, users[i % 3], 37.0 * i, cpus=1 + i % 7, partition="ab"[i % 2])
            for i in range(30)
        ]
        for job in jobs[:6]:
            order.job_started(job, now=job.submit + 1.0)
        order.job_ended(jobs[0], now=500.0)
        pending = jobs[6:]
        for now in (600.0, 900.0, 1200.0):
            order.recalc(pending, now)
        return [j.priority for j in pending]

    first, second = run(), run()
    assert first == second
    assert len(set(first)) > 1


def test_recalc_does_not_depend_on_job_order():
    def priorities(reverse: bool) -> dict[int, float]:
        order = MultifactorPriority(fairshare=FairShare(half_life=0))
        order.fairshare.charge("alice", 100.0, now=0.0)
        jobs = [make_job(id=1, user="alice"), make_job(id=2, user="bob")]
        order.recalc(jobs[::-1] if reverse else jobs, now=10.0)
        return {j.id: j.priority for j in jobs}

    assert priorities(False) == priorities(True)


def test_registered_as_multifactor_order():
    from kairos.core.order import make_order

    order = make_order("multifactor")
    assert isinstance(order, MultifactorPriority)
    assert order.recalc_period == 300.0


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        MultifactorPriority(max_age=0)
    with pytest.raises(ValueError):
        MultifactorPriority(total_cpus=0)
    with pytest.raises(ValueError):
        FairShare(half_life=-1)
    with pytest.raises(ValueError):
        FairShare(shares={"alice": -1.0})


# -- properties ----------------------------------------------------------------------------

charges = st.lists(
    st.tuples(
        st.sampled_from(["alice", "bob", "carol"]), st.floats(0, 1e7), st.floats(0, 1e6)
    ),
    max_size=8,
)
jobs = st.builds(
    make_job,
    id=st.integers(1, 1000),
    user=st.sampled_from(["alice", "bob", "carol", "dave"]),
    submit=st.floats(0, 1e7),
    cpus=st.integers(1, 512),
    partition=st.sampled_from(["", "low", "high"]),
    qos=st.sampled_from(["normal", "high", "other"]),
    nice=st.integers(-1000, 1000),
    begin=st.floats(0, 1e7),
)


def order_with_usage(usage: list[tuple[str, float, float]]) -> MultifactorPriority:
    fs = FairShare(half_life=HOUR, shares={"bob": 2.0})
    for user, at, amount in sorted(usage, key=lambda c: c[1]):
        fs.charge(user, amount, at)
    return MultifactorPriority(
        fairshare=fs,
        total_cpus=128,
        partition_tiers={"low": 1.0, "high": 5.0},
        qos_priority={"normal": 1.0, "high": 2.0},
        weight_qos=500.0,
    )


@settings(max_examples=200, deadline=None)
@given(usage=charges, job=jobs, now=st.floats(0, 2e7))
def test_factors_stay_within_unit_interval(usage, job, now):
    f = order_with_usage(usage).factors(job, now)
    for name in ("age", "fairshare", "jobsize", "partition", "qos"):
        assert 0.0 <= f[name] <= 1.0, name


@settings(max_examples=200, deadline=None)
@given(usage=charges, job=jobs, t1=st.floats(0, 2e7), t2=st.floats(0, 2e7))
def test_priority_never_falls_as_a_job_ages(usage, job, t1, t2):
    order = order_with_usage(usage)
    early, late = sorted((t1, t2))
    assert order.priority(job, early) <= order.priority(job, late)
