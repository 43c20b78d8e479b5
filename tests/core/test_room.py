"""``RoomNow`` (``kairos.core.room``): the nodes with room at a profile's origin, kept up
to date node by node, answer as gathering them again would."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from kairos.core.room import RoomNow

INF = math.inf
ENDS = st.sampled_from([None, 5.0, 10.0, 20.0, INF])


def gathered(ends: dict[int, float | None], end: float) -> list[int]:
    """What visiting every node would say: those with room until ``end`` at least."""
    return sorted(n for n, b in ends.items() if b is not None and b >= end)


def groups_of(ends: dict[int, float | None]) -> list[tuple[float, list[int]]]:
    by_end: dict[float, list[int]] = {}
    for n, b in ends.items():
        if b is not None:
            by_end.setdefault(b, []).append(n)
    return list(by_end.items())


@given(st.dictionaries(st.integers(0, 30), ENDS, max_size=20),
       st.lists(st.tuples(st.integers(0, 30), ENDS), max_size=40),
       st.sampled_from([0.0, 5.0, 7.0, 10.0, 20.0, 21.0]))
def test_updates_node_by_node_answer_as_gathering_anew(first, changes, end):
    ends = dict(first)
    room = RoomNow(lambda n: ends.get(n), groups_of(ends))
    for n, b in changes:
        ends[n] = b
        room.update(n)
        for asked in (end, end + 3.0):
            assert list(room.nodes(asked)) == gathered(ends, asked)
            assert room.count(asked) == len(gathered(ends, asked))


def test_a_node_whose_room_shrinks_leaves_the_longer_requests():
    ends = {0: INF, 1: INF, 2: 50.0}
    room = RoomNow(lambda n: ends[n], groups_of(ends))
    assert list(room.nodes(100.0)) == [0, 1] and room.count(40.0) == 3
    ends[0] = 30.0  # a reservation from 30 on node 0
    room.update(0)
    assert list(room.nodes(100.0)) == [1]
    assert list(room.nodes(30.0)) == [0, 1, 2]
    assert room.count(40.0) == 2
    ends[1] = None  # node 1 taken now
    room.update(1)
    assert list(room.nodes(10.0)) == [0, 2] and room.count(100.0) == 0
