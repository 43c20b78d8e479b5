"""``TimeWindow``: rf's last 90 days of finished jobs, as arrays."""

from __future__ import annotations

from collections import deque

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.predict.window import TimeWindow


@settings(max_examples=300)
@given(st.lists(st.one_of(st.tuples(st.just("add"), st.integers(0, 50)),
                          st.tuples(st.just("drop"), st.integers(0, 60))), max_size=60))
def test_a_time_window_holds_what_a_deque_would(steps):
    """Appends and drops (times not always in order, as a live controller's ends may
    come) against a deque of (time, row, label) popped while its oldest ended before
    the horizon; rows read earlier stay as they were while the window grows."""
    window, expected = TimeWindow(2, capacity=2), deque()
    read = []
    for k, (what, t) in enumerate(steps):
        if what == "add":
            window.append(float(t), [k, -k], float(k) / 2)
            expected.append((float(t), [float(k), float(-k)], k / 2))
        else:
            window.drop_before(float(t))
            while expected and expected[0][0] < t:
                expected.popleft()
        read.append((window.arrays(), [tuple(e) for e in expected]))
        assert len(window) == len(expected)
    for (t, X, y), held in read:
        assert [(a, b.tolist(), c) for a, b, c in zip(t.tolist(), X, y.tolist())] == \
            [(a, b, c) for a, b, c in held]


def test_a_time_window_extends_with_many_rows_and_tells_its_last_time():
    window = TimeWindow(3, capacity=1)
    window.append(1.0, [1, 2, 3], 10.0)
    window.extend(np.array([2.0, 3.0]), np.arange(6).reshape(2, 3), np.array([20.0, 30.0]))
    t, X, y = window.arrays()
    assert t.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [10.0, 20.0, 30.0]
    assert X.tolist() == [[1, 2, 3], [0, 1, 2], [3, 4, 5]]
    assert window.last_time() == 3.0
