"""Hand-computed tiny traces: the expected start times are worked out in the comments."""

from __future__ import annotations

import pytest

from kairos.sim.replay import replay
from tests.core.conftest import make_workload

# 10 processors.  (id, submit, procs, runtime = estimate)
#   J1 t=0  6 procs 100 s
#   J2 t=1  8 procs 100 s   does not fit (4 free): the head
#   J3 t=2 10 procs  50 s   needs the whole machine
#   J4 t=3  2 procs 250 s   fits now (4 free) but runs until 253
DELAYS_SECOND = [(1, 0, 6, 100, 100), (2, 1, 8, 100, 100), (3, 2, 10, 50, 50), (4, 3, 2, 250, 250)]

EXPECTED = {
    # FCFS: J2 waits for J1 (t=100); J3 waits for J2 (t=200); J4 is behind J3 and only
    # fits once J3 is gone (t=250).
    "fcfs": {1: 0, 2: 100, 3: 200, 4: 250},
    # EASY: J2 holds a reservation at 100 (J1 ends: 10 free, 2 spare).  J4 (2 procs)
    # fits in the spare 2 past 100, so it starts at 3.  J3 was not protected: at 100 it
    # becomes the head and must wait for J2 (ends 200) and J4 (ends 253): starts at 253.
    "easy": {1: 0, 2: 100, 3: 253, 4: 3},
    # Conservative: J2 reserved at 100, J3 at 200 (when J2 ends).  J4 would overlap J3's
    # whole-machine slot, so it is reserved after J3: 250.
    "conservative": {1: 0, 2: 100, 3: 200, 4: 250},
}


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_policies_on_hand_computed_trace(policy):
    result = replay(make_workload(DELAYS_SECOND, procs=10), policy)
    assert {j.id: j.start for j in result.jobs} == EXPECTED[policy]


def test_shortest_estimate_first_order_under_easy():
    # Order by estimate: J3 (50 s) overtakes J2 (100 s) when it arrives at t=2 and
    # becomes the protected head: reserved at 100 when J1 ends.  J4 (2 procs until 253)
    # would break that reservation (0 spare at 100).  At 100 J3 starts; J2 is the new
    # head, reserved at 150 (J3 ends); at 150 J2 starts and J4 fits beside it.
    result = replay(make_workload(DELAYS_SECOND, procs=10), "easy", "sjf")
    assert {j.id: j.start for j in result.jobs} == {1: 0, 2: 150, 3: 100, 4: 150}


def test_early_completion_lets_reservations_move_earlier():
    # 4 processors.  J1 (4 procs) estimates 100 but ends at 20.  J2 (4 procs, t=1) is
    # reserved at 100, then starts at 20 when J1 really ends.  J3 (1 proc, t=2, 10 s)
    # cannot start before J2 (no free processor), so it starts when J2 ends at 20 + 30.
    rows = [(1, 0, 4, 20, 100), (2, 1, 4, 30, 30), (3, 2, 1, 10, 10)]
    for policy in ("easy", "conservative", "fcfs"):
        starts = {j.id: j.start for j in replay(make_workload(rows, 4), policy).jobs}
        assert starts == {1: 0, 2: 20, 3: 50}, policy


def test_same_instant_order_completions_then_arrivals_then_one_pass():
    # J1 ends at exactly t=10, when J2 arrives: completions come first, so J2 sees the
    # free machine and starts at 10 (not later).
    rows = [(1, 0, 4, 10, 10), (2, 10, 4, 5, 5)]
    starts = {j.id: j.start for j in replay(make_workload(rows, 4), "fcfs").jobs}
    assert starts == {1: 0, 2: 10}


def test_backfill_window_ending_exactly_at_reservation():
    # 4 procs.  J1 (3 procs) until 100.  J2 (4 procs) is reserved at 100.  J3 (1 proc,
    # 99 s, t=1) ends at exactly 100: it does not delay J2, so EASY starts it at 1.
    # J4 (1 proc, 100 s, t=1) would end at 101 with 0 spare at 100: it waits.
    rows = [(1, 0, 3, 100, 100), (2, 1, 4, 10, 10), (3, 1, 1, 99, 99), (4, 1, 1, 100, 100)]
    starts = {j.id: j.start for j in replay(make_workload(rows, 4), "easy").jobs}
    assert starts == {1: 0, 2: 100, 3: 1, 4: 110}
