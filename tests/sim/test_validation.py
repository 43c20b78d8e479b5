"""The twin against independent references on real traces (skipped without traces)."""

from __future__ import annotations

import pytest

from kairos.sim.metrics import bounded_slowdown, summarize
from kairos.sim.replay import replay
from kairos.sim.workload import load_trace
from kairos.testing.textbook_easy import textbook_easy


def rows(workload):
    return [(j.id, j.submit, j.request.cpus, workload.runtimes[j.id], j.estimate) for j in workload.jobs]


@pytest.mark.parametrize("trace", ["KTH-SP2", "SDSC-SP2"])
def test_easy_equals_the_textbook_replay_on_a_real_trace(trace_path, trace):
    workload = load_trace(trace_path(trace), limit=8000)
    expected = textbook_easy(rows(workload), workload.procs)
    assert {j.id: j.start for j in replay(workload, "easy").jobs} == expected


@pytest.mark.slow
@pytest.mark.parametrize("trace, published, exact", [
    # Published replays (reference figures) stop the shadow-time walk at the first job
    # whose end frees enough processors; Kairos counts every job ending at that instant.
    ("KTH-SP2", 90.6, 90.94),
    ("SDSC-SP2", 92.6, 92.62),
    ("CTC-SP2", 52.7, 51.81),
])
def test_reference_figures_of_whole_traces(trace_path, trace, published, exact):
    workload = load_trace(trace_path(trace))
    assert summarize(replay(workload, "easy"))["avg_bsld"] == pytest.approx(exact, abs=0.005)
    shortcut = textbook_easy(rows(workload), workload.procs, stop_at_first_end=True)
    wait = [shortcut[j.id] - j.submit for j in workload.jobs]
    runtime = [workload.runtimes[j.id] for j in workload.jobs]
    assert bounded_slowdown(wait, runtime).mean() == pytest.approx(published, abs=0.06)
