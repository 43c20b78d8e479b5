"""A test cluster per test module: ``kairos up --nodes 3`` in a temporary home (network
namespaces and a munged per node when root; the loopback network otherwise), driven
through the real ``kairos`` executable; stopped, with every process of it, at the end."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from kairos.testing.cluster import KairosCluster


@pytest.fixture(scope="module")
def cluster():
    # Not pytest's tmp_path: other pytest runs on the machine prune old tmp folders,
    # and a cluster's home must outlive nothing but this module.
    root = Path(tempfile.mkdtemp(prefix="kairos-cluster-"))
    made = KairosCluster.create(root / "home", root / "work", count=3)
    made.up()
    yield made
    made.stop()
    shutil.rmtree(root, ignore_errors=True)
