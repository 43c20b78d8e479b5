"""A Kairos test cluster (``kairos up --nodes N``) in a temporary home, driven as users
and admins drive it: the real ``kairos`` executable, the real API, real daemons in their
own network namespaces (when root), and ways to break it (kill a node daemon, kill the
controller) and mend it.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kairos.testing.home import KairosHome


class KairosCluster(KairosHome):
    """``count`` nodes and a controller for ``home``; commands run from ``workdir``."""

    def __init__(self, home: Path, workdir: Path, count: int = 3,
                 cpus_per_node: int | None = None, **options) -> None:
        super().__init__(home, workdir, **options)
        self.count = count
        self.cpus_per_node = cpus_per_node

    def up(self) -> None:
        extra = ["--cpus-per-node", str(self.cpus_per_node)] if self.cpus_per_node else []
        self.run("up", "--nodes", str(self.count), *extra, timeout=120)

    def stop(self) -> None:
        self.run("down", check=False, timeout=120)

    # -- the cluster's parts --------------------------------------------------------------

    def testbed(self):
        from kairos.node.testbed import Testbed

        return Testbed.attach(self.home)

    def node_names(self) -> list[str]:
        return [n.name for n in self.testbed().plan.nodes]

    def node_daemon_pid(self, name: str) -> int | None:
        for proc in self.testbed().running():
            if proc.label == f"{name} node":
                return proc.pid
        return None

    def kill_node_daemon(self, name: str) -> int:
        """``kill -9`` node ``name``'s daemon (its jobs' supervisors live on); its pid."""
        pid = self.node_daemon_pid(name)
        if pid is None:
            raise AssertionError(f"no daemon of node {name} runs: {self.testbed().running()}")
        os.kill(pid, signal.SIGKILL)
        return pid

    def start_node_daemon(self, name: str) -> int:
        bed = self.testbed()
        node = next(n for n in bed.plan.nodes if n.name == name)
        key = Path(node.home) / "node.key"
        return bed.start_node(node, key_file=key if key.exists() else None)

    def kill_controller(self) -> None:
        """``kill -9`` the controller (its node daemons and jobs live on)."""
        pid = int((self.home / "kairos.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def nodes(self) -> dict[str, dict]:
        client = self.client()
        return {n["name"]: n for n in client.nodes()}

    def wait_node(self, name: str, state: str, timeout: float = 40.0) -> dict:
        """Until node ``name``'s sinfo state is ``state``; its record."""
        deadline = time.monotonic() + timeout
        while True:
            node = self.nodes().get(name)
            if node is not None and node["state"] == state:
                return node
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {name} is {node and node['state']}, not {state}, "
                                   f"after {timeout:g} s")
            time.sleep(0.2)

    def wait_state(self, job_id: int, states: set[str], timeout: float = 40.0) -> dict:
        """Until job ``job_id`` (as squeue shows it) is in one of ``states``."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            found = client.jobs(ids=[str(job_id)], all_states=True)
            if found and found[0]["state"] in states:
                return found[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is {found and found[0]['state']}, not "
                                   f"one of {sorted(states)}, after {timeout:g} s")
            time.sleep(0.1)


@contextmanager
def running_cluster(count: int = 3, cpus_per_node: int | None = None, *,
                    prefix: str = "kairos-cluster-", **options) -> Iterator[KairosCluster]:
    """A test cluster up in a fresh temporary folder; stopped, with every process of it,
    and the folder removed at the end.  Not pytest's tmp_path: its long paths do not fit
    a Unix socket's, and other pytest runs on the machine prune old tmp folders."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    made = KairosCluster.create(root / "home", root / "work", count=count,
                                cpus_per_node=cpus_per_node, **options)
    try:
        made.up()
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)

