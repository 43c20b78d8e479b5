"""A controller with one ``kairos node --emulate`` process: many nodes, no job
processes, for tests and the scale benchmark.

The home gets a ``[cluster]`` (TCP on the loopback, shared-key trust, dynamic nodes)
and a cluster key; the emulator is given that key, from which it derives each node's.
Both processes are real (the ``kairos`` executable), stopped and cleaned up at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from kairos.testing.cluster import KairosCluster
from kairos.testing.home import QUICK_SETTINGS, KairosHome, toml_value, write_config


def free_port() -> int:
    """A TCP port of the loopback nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmulatedCluster(KairosHome):
    """A controller in ``home`` and ``count`` emulated nodes of ``cpus`` CPUs each."""

    def __init__(self, home: Path, workdir: Path, *, count: int, cpus: int = 4,
                 mem_mib: int = 16384, gpus: str = "", node_port: int | None = None,
                 controller_port: int | None = None, **options) -> None:
        super().__init__(home, workdir, **options)
        self.count, self.cpus, self.mem_mib, self.gpus = count, cpus, mem_mib, gpus
        self.controller_port = controller_port
        self.node_port = node_port
        self.emulator: subprocess.Popen | None = None

    wait_state = KairosCluster.wait_state
    wait_node = KairosCluster.wait_node
    nodes = KairosCluster.nodes

    @classmethod
    def create(cls, home: Path, workdir: Path, *, count: int,
               settings: Mapping[str, float] = QUICK_SETTINGS, cluster: Mapping = (),
               extra_config: str = "", **options) -> EmulatedCluster:
        """Write the home (``cluster``: more ``[cluster]`` keys, e.g. node_timeout) and
        the cluster key; the driver."""
        from kairos.trust import create_cluster_key

        port = free_port()
        keys = {"listen": f"127.0.0.1:{port}", "auth": "key", "key_file": "cluster.key",
                "dynamic_nodes": True, **dict(cluster)}
        lines = "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())
        write_config(home, settings, "[cluster]\n" + lines + extra_config)
        create_cluster_key(home / "cluster.key")
        workdir.mkdir(parents=True, exist_ok=True)
        return cls(home, workdir, count=count, controller_port=port, **options)

    def start_emulator(self, timeout: float = 120.0) -> int:
        """Start the emulator and wait until every node is in service; its pid."""
        self.node_port = self.node_port or free_port()
        argv = [self.executable, "node", "--controller", f"127.0.0.1:{self.controller_port}",
                "--emulate", str(self.count), "--cpus", str(self.cpus),
                "--mem-mib", str(self.mem_mib), "--addr", "127.0.0.1",
                "--port", str(self.node_port), "--auth", "key",
                "--key-file", str(self.home / "cluster.key")]
        if self.gpus:
            argv += ["--gpus", self.gpus]
        log = open(self.home / "emulator.log", "ab")
        try:
            self.emulator = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             env=self.env, cwd=self.home,
                                             start_new_session=True)
        finally:
            log.close()
        self.wait_registered(timeout)
        return self.emulator.pid

    def wait_registered(self, timeout: float) -> None:
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            up = sum(1 for n in client.nodes() if n["state"] != "down" and n["responding"])
            if up >= self.count:
                return
            if self.emulator is not None and self.emulator.poll() is not None:
                raise RuntimeError(f"the emulator exited ({self.emulator.returncode}); see "
                                   f"{self.home / 'emulator.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{up} of {self.count} emulated nodes registered after "
                                   f"{timeout:g} s; see {self.home / 'emulator.log'}")
            time.sleep(0.2)

    def kill_emulator(self, sig: int = signal.SIGKILL) -> None:
        """End the emulator (``kill -9`` by default: its nodes go silent)."""
        if self.emulator is not None and self.emulator.poll() is None:
            os.kill(self.emulator.pid, sig)
            self.emulator.wait(timeout=30)

    def stop(self) -> None:
        self.kill_emulator(signal.SIGTERM)
        super().stop()


@contextmanager
def running_emulated_cluster(count: int, *, prefix: str = "kairos-emu-",
                             **options) -> Iterator[EmulatedCluster]:
    """A controller and ``count`` emulated nodes in a fresh temporary folder; both
    stopped and the folder removed at the end (``options``: as for ``create``)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    made = EmulatedCluster.create(root / "home", root / "work", count=count, **options)
    try:
        made.up()
        made.start_emulator()
        yield made
    finally:
        made.stop()
        shutil.rmtree(root, ignore_errors=True)
