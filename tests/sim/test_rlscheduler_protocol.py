"""RLScheduler's evaluation protocol (``kairos.sim.rlscheduler``) and the F1 order."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kairos.core.jobs import Job, Request
from kairos.core.order import ORDERS, F1Score, make_order
from kairos.sim.rlscheduler.evaluation import (
    BASELINES,
    average_bsld,
    bootstrap_ci,
    evaluate_sequence,
    groups_of_ten,
)
from kairos.sim.rlscheduler.released import RELEASED_VARIANTS, released_rules_bsld
from kairos.sim.rlscheduler.sequences import (
    SEQUENCE_LENGTH,
    load_pool,
    make_sequence,
    sample_offsets,
)


def line(n, submit, run, alloc, req_procs, req_time, user=1):
    f = [-1] * 18
    f[0], f[1], f[3], f[4], f[7], f[8], f[11] = n, submit, run, alloc, req_procs, req_time, user
    return " ".join(str(v) for v in f)


@pytest.fixture
def small_trace(tmp_path) -> Path:
    """3,000 job lines on a 64-processor machine: every 7th job has runtime 0, every 11th
    (not 7th) a negative runtime, every 13th (neither) asks for 100 processors; processors
    alternate between field 5 and field 8 being the larger; every 5th job outruns its
    request; every 17th has no requested time."""
    lines = []
    for n in range(1, 3001):
        run = 0 if n % 7 == 0 else (-1 if n % 11 == 0 else 100 + n % 50)
        alloc, req = (4, 8) if n % 2 else (8, 2)
        if n % 13 == 0 and n % 7 and n % 11:
            alloc, req = 100, 100
        req_time = -1 if n % 17 == 0 else (run - 10 if n % 5 == 0 else 1000)
        lines.append(line(n, 1000 + 30 * n, run, alloc, req, req_time, user=n % 9))
    p = tmp_path / "small.swf"
    p.write_text("; MaxProcs: 64\n" + "\n".join(lines) + "\n")
    return p


# --- pool ---------------------------------------------------------------------------------


def test_pool_filters_and_counts(small_trace):
    pool = load_pool(small_trace, pool_size=2000)
    assert len(pool) == 2000 and pool.machine == 64
    ids = pool.rows[:, 0].astype(int)
    assert not any(i % 7 == 0 for i in ids), "runtime-0 jobs are dropped"
    assert not any(i % 11 == 0 for i in ids), "negative runtimes are dropped"
    assert not any(i % 13 == 0 for i in ids), "jobs wider than the machine are dropped"
    assert (pool.runtime > 0).all()
    # Counted among the trace's jobs up to the last job in the pool.
    last = int(ids[-1])
    assert pool.dropped["zero runtime"] == last // 7
    assert pool.dropped["negative runtime"] == sum(1 for n in range(1, last + 1) if n % 11 == 0 and n % 7)
    assert pool.dropped["wider than machine"] == sum(
        1 for n in range(1, last + 1) if n % 13 == 0 and n % 7 and n % 11)


def test_pool_processors_are_max_of_allocated_and_requested(small_trace):
    pool = load_pool(small_trace, pool_size=500)
    for row, procs in zip(pool.rows, pool.procs):
        assert procs == max(row[4], row[7]) == 8


def test_pool_request_and_overruns(small_trace):
    pool = load_pool(small_trace, pool_size=1000)
    ids = pool.rows[:, 0].astype(int)
    no_request = ids % 17 == 0
    assert (pool.request[no_request] == pool.runtime[no_request]).all()
    over = (ids % 5 == 0) & ~no_request
    assert pool.overruns == int(over.sum()) > 0
    assert (pool.estimate == np.maximum(pool.request, pool.runtime)).all()
    assert (pool.estimate >= pool.runtime).all()


def test_negative_runtimes_can_run_ten_seconds(small_trace):
    pool = load_pool(small_trace, pool_size=1000, negative_runtimes="ten")
    ids = pool.rows[:, 0].astype(int)
    ten = ids % 11 == 0
    assert ten.any() and (pool.runtime[ten] == 10).all()
    assert "negative runtime" not in pool.dropped
    with pytest.raises(ValueError):
        load_pool(small_trace, negative_runtimes="keep")


# --- sequences ----------------------------------------------------------------------------


def test_sequence_is_1024_jobs_shifted_to_zero(small_trace):
    pool = load_pool(small_trace, pool_size=2000)
    w = make_sequence(pool, 300)
    assert len(w.jobs) == 1024 == SEQUENCE_LENGTH
    assert w.procs == 64
    assert w.jobs[0].submit == 0
    first = pool.rows[300, 1]
    assert [j.id for j in w.jobs] == pool.rows[300:1324, 0].astype(int).tolist()
    for job, row, procs, est, run in zip(w.jobs, pool.rows[300:1324], pool.procs[300:1324],
                                         pool.estimate[300:1324], pool.runtime[300:1324]):
        assert job.submit == row[1] - first
        assert job.request.cpus == procs
        assert job.time_limit == job.estimate == est
        assert w.runtimes[job.id] == run > 0
    assert all(a.submit <= b.submit for a, b in zip(w.jobs, w.jobs[1:]))
    unshifted = make_sequence(pool, 300, shift=False)
    assert unshifted.jobs[0].submit == first


def test_sequence_must_fit_in_pool(small_trace):
    pool = load_pool(small_trace, pool_size=1500)
    with pytest.raises(ValueError):
        make_sequence(pool, 1000)


def test_offsets_are_seeded_and_inside_the_pool():
    a = sample_offsets(10_000, 200, 1)
    assert a == sample_offsets(10_000, 200, 1)
    assert a != sample_offsets(10_000, 200, 2)
    assert all(1024 <= x <= 10_000 - 1024 for x in a)
    assert sample_offsets(10_000, 10, 1) == a[:10], "the first 10 of 200 are the 10-sequence draw"
    with pytest.raises(ValueError):
        sample_offsets(2000, 1, 1)


def test_replays_a_sequence_under_each_order(small_trace):
    pool = load_pool(small_trace, pool_size=2000)
    w = make_sequence(pool, 100, length=200)
    for config in BASELINES:
        v = average_bsld(w, config)
        assert v >= 1.0 and math.isfinite(v)
    for score in ("fcfs", "sjf", "f1"):
        for switches in RELEASED_VARIANTS.values():
            v = released_rules_bsld(pool, 100, score, length=200, **switches)
            assert v >= 1.0 and math.isfinite(v)


def test_evaluate_sequence_keys(small_trace):
    pool = load_pool(small_trace, pool_size=2000)
    out = evaluate_sequence(pool, 500, list(BASELINES), tuple(RELEASED_VARIANTS))
    for c in BASELINES:
        assert isinstance(out[c.label], float)
    for variant in RELEASED_VARIANTS:
        for score in ("fcfs", "sjf", "f1"):
            assert isinstance(out[f"{variant}:{score}"], float)


def test_statistics():
    v = np.arange(1.0, 201.0)
    lo, hi = bootstrap_ci(v)
    assert lo < v.mean() < hi
    assert groups_of_ten(v) == (5.5, 195.5, 20)


# --- the F1 order -------------------------------------------------------------------------


def job(submit, limit, cpus, jid=1):
    return Job(jid, "u", submit, Request.procs(cpus), limit)


def test_f1_registered():
    assert ORDERS["f1"] is F1Score
    assert make_order("f1").name == "f1"
    assert make_order("f1").recalc_period is None


def test_f1_key_hand_computed():
    key = F1Score().key
    # log10(3600) * 16 + 870 * log10(1000) = 3.5563025 * 16 + 2610
    assert key(job(1000, 3600, 16))[0] == pytest.approx(56.900840 + 2610.0, abs=1e-5)
    # log10(100) * 1 + 870 * log10(100000) = 2 + 4350
    assert key(job(100_000, 100, 1))[0] == pytest.approx(4352.0)
    # log10(10) * 128 + 870 * log10(10) = 128 + 870
    assert key(job(10, 10, 128))[0] == pytest.approx(998.0)


def test_f1_guards_zero():
    key = F1Score().key
    assert key(job(0, 0, 4))[0] == 0.0  # log10(max(0, 1)) terms are 0
    assert key(job(0, 1000, 2))[0] == pytest.approx(6.0)
    assert key(job(1000, 0, 2))[0] == pytest.approx(2610.0)


def test_f1_orders_smallest_first_then_submit_then_id():
    key = F1Score().key
    small_late = job(5000, 60, 1, jid=1)
    wide_early = job(4000, 86400, 64, jid=2)
    assert key(small_late) < key(wide_early)
    a, b = job(100, 100, 2, jid=7), job(100, 100, 2, jid=3)
    assert key(b) < key(a)
    assert key(job(100, 100, 2))[1:] == (100, 1)
