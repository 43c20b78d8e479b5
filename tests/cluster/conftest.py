"""A test cluster per test module: ``kairos up --nodes 3`` in a temporary home (network
namespaces and a munged per node when root; the loopback network otherwise), driven
through the real ``kairos`` executable; stopped, with every process of it, at the end."""

from __future__ import annotations

import pytest

from kairos.testing.cluster import running_cluster


@pytest.fixture(scope="module")
def cluster():
    with running_cluster(3) as made:
        yield made
