"""Workloads: the trace conventions, the Lublin-Feitelson generator, the default choice."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import real_trace, traces_dir
from kairos.core.jobs import Request
from kairos.sim.swf import SwfError, read_swf, write_swf
from kairos.sim.workload import (
    Workload,
    default_workload,
    find_trace,
    find_traces,
    load_trace,
    lublin,
)


def job(n, submit=0, run=10, alloc=1, req=-1, req_time=-1, user=1, group=-1, app=-1,
        queue=-1, part=-1, req_mem=-1, wait=0):
    f = [-1] * 18
    f[0], f[1], f[2], f[3], f[4], f[7], f[8] = n, submit, wait, run, alloc, req, req_time
    f[9], f[11], f[12], f[13], f[14], f[15] = req_mem, user, group, app, queue, part
    return " ".join(str(v) for v in f)


def write(tmp_path: Path, lines: list[str], header: str = "; MaxProcs: 64\n", name="w.swf") -> Path:
    p = tmp_path / name
    p.write_text(header + "".join(line + "\n" for line in lines))
    return p


# --- conversion rules ----------------------------------------------------------------------


def test_processors_field_8_else_field_5(tmp_path):
    w = load_trace(write(tmp_path, [job(1, alloc=4, req=8), job(2, 1, alloc=6, req=-1), job(3, 2, alloc=3, req=0)]))
    assert [j.request.cpus for j in w.jobs] == [8, 6, 3]
    assert w.jobs[0].request is Request.procs(8) or w.jobs[0].request == Request.procs(8)


def test_skipped_jobs_are_counted_by_reason(tmp_path):
    lines = [
        job(1, 0, alloc=-1, req=-1),  # no processors
        job(2, 1, alloc=0, req=0),  # no processors
        job(3, 2, alloc=65, req=-1),  # wider than the 64-processor machine
        job(4, 3, alloc=1, req=100),  # field 8 counts, wider
        job(5, 4, run=-1),  # negative runtime
        job(6, 5, alloc=-1, req=-1, run=-1),  # counted once, under the first reason
        job(7, 6, alloc=64),  # kept: exactly the machine
        job(8, 7, run=0),  # kept: zero runtime is fine
    ]
    w = load_trace(write(tmp_path, lines))
    assert w.skipped == {"no processors": 3, "wider than machine": 2, "negative runtime": 1}
    assert [j.id for j in w.jobs] == [7, 8]
    assert set(w.runtimes) == {7, 8}
    assert len(w.records) == 8  # the original records stay available


def test_estimate_rule(tmp_path):
    lines = [
        job(1, 0, run=100, req_time=600),  # request above runtime: the request
        job(2, 1, run=700, req_time=600),  # ran past its request: the runtime
        job(3, 2, run=50, req_time=-1),  # no request: the runtime
        job(4, 3, run=50, req_time=0),  # zero is no request either
    ]
    w = load_trace(write(tmp_path, lines))
    assert [j.estimate for j in w.jobs] == [600, 700, 50, 50]
    assert [j.time_limit for j in w.jobs] == [600, 700, 50, 50]
    assert w.runtimes == {1: 100, 2: 700, 3: 50, 4: 50}


def test_machine_size_precedence(tmp_path):
    lines = [job(1, alloc=2)]
    both = write(tmp_path, lines, "; MaxNodes: 16\n; MaxProcs: 64\n", "both.swf")
    nodes = write(tmp_path, lines, "; MaxNodes: 16 (batch)\n; MaxProcs: -1\n", "nodes.swf")
    none = write(tmp_path, lines, "; Version: 2\n", "none.swf")
    assert load_trace(both).procs == 64
    assert load_trace(both, procs=32).procs == 32
    assert load_trace(nodes).procs == 16
    assert load_trace(none, procs=8).procs == 8
    with pytest.raises(SwfError, match=r"none\.swf.*--procs N"):
        load_trace(none)
    with pytest.raises(ValueError):
        load_trace(both, procs=0)


def test_procs_argument_changes_what_is_too_wide(tmp_path):
    p = write(tmp_path, [job(1, alloc=8), job(2, 1, alloc=40)])
    assert load_trace(p, procs=16).skipped == {"wider than machine": 1}
    assert load_trace(p).skipped == {}


def test_job_fields(tmp_path):
    lines = [
        job(5, 100, run=30, alloc=2, user=7, group=3, app=11, queue=2, part=4, req_mem=512),
        job(6, 101, run=30, alloc=2, user=-1, group=-1, part=-1),
    ]
    w = load_trace(write(tmp_path, lines, name="KTH-like-1.0-cln.swf"))
    a, b = w.jobs
    assert (a.id, a.submit, a.user, a.group, a.account, a.partition) == (5, 100, "7", "3", "3", "4")
    assert a.meta == {"app": 11, "queue": 2, "req_mem": 512}
    assert (b.user, b.group, b.partition) == ("unknown", "-1", "")
    assert w.name == "KTH-like-1.0-cln"
    assert w.header == {"MaxProcs": "64"}
    assert w.records[5][0] == 5 and len(w.records[5]) == 18


def test_jobs_sorted_by_submit_then_id(tmp_path):
    lines = [job(3, 10), job(1, 10), job(2, 5)]
    with pytest.warns(UserWarning):
        w = load_trace(write(tmp_path, lines))
    assert [j.id for j in w.jobs] == [2, 1, 3]


def test_limit_counts_lines_before_skipping(tmp_path):
    lines = [job(1, 0, run=-1), job(2, 1), job(3, 2), job(4, 3)]
    w = load_trace(write(tmp_path, lines), limit=2)
    assert [j.id for j in w.jobs] == [2]
    assert w.skipped == {"negative runtime": 1}


def test_gzip_trace_and_swf_record(tmp_path):
    src = write(tmp_path, [job(1, 0, run=10, alloc=2, req_time=60)])
    t = read_swf(src)
    gz = write_swf(tmp_path / "copy.swf.gz", t.header_lines, t.records())
    w = load_trace(gz)
    assert w.name == "copy" and len(w) == 1
    assert w.swf_record(w.jobs[0]) == t.record(0)


def test_requests_are_shared(tmp_path):
    w = load_trace(write(tmp_path, [job(i, i, alloc=4) for i in range(1, 50)]))
    assert len({id(j.request) for j in w.jobs}) == 1


# --- real traces -------------------------------------------------------------------------


def test_kth_sp2():
    w = load_trace(real_trace("KTH-SP2-1996-2.1-cln"))
    assert w.procs == 100
    assert len(w.jobs) + sum(w.skipped.values()) == 28_476
    assert w.name == "KTH-SP2-1996-2.1-cln"
    assert all(1 <= j.request.cpus <= 100 for j in w.jobs)
    assert all(j.estimate >= w.runtimes[j.id] for j in w.jobs)


def test_sdsc_sp2_jobs_without_allocation():
    path = real_trace("SDSC-SP2-1998-4.2-cln")
    data = read_swf(path).data
    unallocated = data[:, 4] == -1
    assert np.count_nonzero(unallocated) == 5_669
    w = load_trace(path)
    assert w.procs == 128
    # Those jobs were cancelled before starting: no runtime, so they are left out.
    assert w.skipped == {"negative runtime": int(np.count_nonzero(data[:, 3] < 0))}
    assert len(w.jobs) + sum(w.skipped.values()) == 59_715
    kept = {j.id for j in w.jobs}
    assert not kept & set(data[unallocated, 0].astype(int).tolist())
    assert all(1 <= j.request.cpus <= 128 for j in w.jobs)


def test_ctc_sp2_uses_field_5():
    path = real_trace("CTC-SP2-1996-3.1-cln")
    data = read_swf(path).data
    assert np.all(data[:, 7] == -1)
    w = load_trace(path)
    assert w.procs == 338 and w.skipped == {}
    alloc = dict(zip(data[:, 0].astype(int).tolist(), data[:, 4].astype(int).tolist()))
    assert all(j.request.cpus == alloc[j.id] for j in w.jobs)


# --- Lublin-Feitelson ----------------------------------------------------------------------


def _summary(w: Workload):
    return [(j.id, j.submit, j.request.cpus, j.time_limit, j.user, w.runtimes[j.id]) for j in w.jobs]


def test_lublin_deterministic_for_a_seed():
    a, b, c = lublin(2000, 128, seed=7), lublin(2000, 128, seed=7), lublin(2000, 128, seed=8)
    assert _summary(a) == _summary(b)
    assert _summary(a) != _summary(c)
    assert a.name == "lublin-2000-128"


@pytest.mark.parametrize("procs", [1, 6, 256, 100_000])
def test_lublin_shapes(procs):
    w = lublin(5000, procs, seed=1)
    sizes = np.array([j.request.cpus for j in w.jobs])
    assert sizes.min() >= 1 and sizes.max() <= procs
    assert [j.id for j in w.jobs] == list(range(1, 5001))
    submits = [j.submit for j in w.jobs]
    assert submits == sorted(submits)
    assert all(j.time_limit >= w.runtimes[j.id] >= 1 for j in w.jobs)
    assert all(j.estimate == j.time_limit for j in w.jobs)
    assert w.records is None and w.header == {} and w.skipped == {}
    if procs >= 256:
        serial = np.mean(sizes == 1)
        assert 0.2 < serial < 0.3  # the model's serial share is 0.244
        parallel = sizes[sizes > 1]
        assert np.mean((parallel & (parallel - 1)) == 0) > 0.6  # mostly powers of two


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95])
def test_lublin_offered_load(target):
    w = lublin(10_000, 256, seed=3, load=target)
    assert w.offered_load() == pytest.approx(target, rel=0.02)


def test_lublin_default_load_busy_and_natural_rate():
    assert 0.7 <= lublin(5000, 256).offered_load() <= 0.9
    natural = lublin(5000, 256, load=None).offered_load()
    assert 0.1 < natural < 3


def test_lublin_daily_cycle():
    w = lublin(20_000, 256, seed=2)
    hours = np.array([j.submit % 86_400 for j in w.jobs]) // 3600
    per_hour = np.bincount(hours.astype(int), minlength=24)
    assert per_hour[9:18].sum() > 2 * per_hour[list(range(0, 6)) + [21, 22, 23]].sum()


def test_lublin_users_zipf_like():
    w = lublin(20_000, 256, seed=4, users=32)
    counts = {}
    for j in w.jobs:
        counts[j.user] = counts.get(j.user, 0) + 1
    assert set(counts) <= {str(k) for k in range(1, 33)}
    assert counts["1"] > 3 * counts.get("16", 0) > 0
    assert {j.group for j in w.jobs} <= {"1", "2", "3", "4"}
    assert all(j.account == j.group for j in w.jobs)


def test_lublin_job_types():
    w = lublin(5000, 128, seed=5, job_types=True)
    queues = {j.meta["queue"] for j in w.jobs}
    assert queues == {0, 1}
    assert w.offered_load() == pytest.approx(0.8, rel=0.05)


def test_lublin_time_limits_are_round():
    w = lublin(3000, 64, seed=6)
    assert all(j.time_limit % 300 == 0 for j in w.jobs)
    ratio = np.array([j.time_limit / w.runtimes[j.id] for j in w.jobs])
    assert np.median(ratio) > 1.5


def test_lublin_edge_cases():
    assert len(lublin(0, 16)) == 0
    assert len(lublin(1, 16)) == 1
    with pytest.raises(ValueError):
        lublin(10, 0)
    with pytest.raises(ValueError):
        lublin(10, 16, load=0)


def test_lublin_swf_record_round_trip(tmp_path):
    w = lublin(50, 32, seed=9)
    out = write_swf(tmp_path / "l.swf", ["; MaxProcs: 32"], [w.swf_record(j) for j in w.jobs])
    back = load_trace(out)
    assert [(j.id, j.submit, j.request.cpus, j.time_limit) for j in back.jobs] == [
        (j.id, j.submit, j.request.cpus, j.time_limit) for j in w.jobs
    ]
    assert back.runtimes == w.runtimes


@pytest.mark.slow
def test_lublin_million_jobs():
    w = lublin(1_000_000, 100_000, seed=0)
    assert len(w) == 1_000_000
    assert w.offered_load() == pytest.approx(0.8, rel=0.02)


# --- finding and choosing ---------------------------------------------------------------


def _trace_folder(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "traces"
    folder.mkdir()
    for i, n in enumerate(names):
        write(folder, [job(1, 0, alloc=1 + i)], name=n)
    (folder / "notes.txt").write_text("not a trace")
    return folder


def test_find_traces(tmp_path, monkeypatch):
    folder = _trace_folder(tmp_path, ["b.swf", "A.swf.gz", "c.SWF"])
    assert [p.name for p in find_traces(folder)] == ["A.swf.gz", "b.swf", "c.SWF"]
    monkeypatch.delenv("KAIROS_TRACES", raising=False)
    assert find_traces() == []
    monkeypatch.setenv("KAIROS_TRACES", str(folder))
    assert len(find_traces()) == 3
    monkeypatch.setenv("KAIROS_TRACES", str(tmp_path / "missing"))
    assert find_traces() == []


def test_find_trace_by_name(tmp_path):
    folder = _trace_folder(tmp_path, ["KTH-SP2-1996-2.1-cln.swf", "SDSC-SP2-1998-4.2-cln.swf"])
    assert find_trace("kth-sp2", folder).name.startswith("KTH")
    assert find_trace("SDSC-SP2-1998-4.2-cln", folder).name.startswith("SDSC")
    assert find_trace("sdsc", folder).name.startswith("SDSC")
    assert find_trace("ctc-sp2", folder) is None


def test_default_workload_prefers_kth(tmp_path, monkeypatch):
    folder = _trace_folder(tmp_path, ["AAA-1.swf", "KTH-SP2-1996-2.1-cln.swf", "ZZZ.swf"])
    monkeypatch.setenv("KAIROS_TRACES", str(folder))
    assert default_workload().name == "KTH-SP2-1996-2.1-cln"
    (folder / "KTH-SP2-1996-2.1-cln.swf").unlink()
    assert default_workload().name == "AAA-1"
    assert default_workload(folder / "ZZZ.swf").name == "ZZZ"
    assert default_workload("zzz").name == "ZZZ"
    with pytest.raises(SwfError):
        default_workload(tmp_path / "nope.swf")


def test_default_workload_falls_back_to_lublin(tmp_path, monkeypatch):
    monkeypatch.delenv("KAIROS_TRACES", raising=False)
    w = default_workload()
    assert w.name == "lublin-10000-256" and w.procs == 256 and len(w) == 10_000
    monkeypatch.setenv("KAIROS_TRACES", str(tmp_path))  # a folder without traces
    assert default_workload(limit=100).name == "lublin-100-256"
    assert default_workload(procs=64, limit=10).procs == 64


def test_default_workload_real_traces(monkeypatch):
    folder = traces_dir()
    if folder is None or not any(folder.glob("KTH-SP2*")):
        pytest.skip("no KTH-SP2 trace: set KAIROS_TRACES or put traces in ../shared/traces")
    monkeypatch.setenv("KAIROS_TRACES", str(folder))
    w = default_workload(limit=500)
    assert w.name.startswith("KTH-SP2") and w.procs == 100
    assert len(w.jobs) + sum(w.skipped.values()) == 500
    assert math.isfinite(w.offered_load())


def test_a_trace_replays_on_nodes_as_spread_tasks():
    from kairos.core import Request
    from kairos.sim.replay import replay
    from kairos.sim.workload import on_nodes
    from tests.core.conftest import make_workload

    # 10 processors as 3 nodes of 4: a 6-processor job spreads over 2 nodes.
    pool = make_workload([(1, 0, 6, 10, 20, "a"), (2, 0, 4, 5, 10, "b"), (3, 1, 10, 5, 10, "a")], 10)
    workload, cluster = on_nodes(pool, 4)
    assert [n.cpus for n in cluster.nodes] == [4, 4, 4]
    assert workload.jobs[0].request == Request(nodes=1, tasks=6, spread=True)
    assert pool.jobs[0].request.cpus == 6  # the pool's jobs are left as they were
    result = replay(workload, "easy", cluster=cluster)
    starts = {j.id: j.start for j in result.jobs}
    # Jobs 1 and 2 (6 + 4 CPUs) share the 12 CPUs at once; job 3 (10) waits for both.
    assert starts == {1: 0, 2: 0, 3: 10}
    with pytest.raises(ValueError, match="at least one CPU"):
        on_nodes(pool, 0)


def test_a_trace_with_partition_numbers_replays_on_nodes():
    """SWF partitions are numbers the pool ignores; on nodes they must not name a
    partition the cluster lacks."""
    import dataclasses

    from kairos.sim.replay import replay
    from kairos.sim.workload import on_nodes
    from tests.core.conftest import make_workload

    pool = make_workload([(1, 0, 6, 10, 20, "a"), (2, 0, 4, 5, 10, "b")], 10)
    pool = dataclasses.replace(pool, jobs=[dataclasses.replace(j, partition=str(k + 1))
                                           for k, j in enumerate(pool.jobs)])
    assert replay(pool, "easy").jobs  # the pool ignores them
    workload, cluster = on_nodes(pool, 4)
    assert {j.partition for j in workload.jobs} == {""}
    assert {j.id: j.start for j in replay(workload, "easy", cluster=cluster).jobs} == {1: 0, 2: 0}
