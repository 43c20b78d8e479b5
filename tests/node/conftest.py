"""Shared helpers for the node tests: an agent in a temporary home, job and step specs,
waiting, and a stand-in for srun's listener that keeps the frames a step sends."""

from __future__ import annotations

import os
import pwd
import select
import socket
import threading
import time
import weakref
from pathlib import Path

import pytest

from kairos.model import stepio
from kairos.node.agent import Finished, LaunchSpec, LocalAgent, StepFinished, StepLaunch
from kairos.node.facts import GpuFact, NodeFacts, detect


def me() -> dict:
    entry = pwd.getpwuid(os.getuid())
    return {"user": entry.pw_name, "uid": entry.pw_uid, "gid": entry.pw_gid}


def make_spec(work_dir: Path, body: str, *, out: str = "out.txt", **overrides) -> LaunchSpec:
    """A spec running ``body`` under bash in ``work_dir``, output in ``work_dir/out``."""
    fields = dict(me(), script=f"#!/bin/bash\n{body}\n", work_dir=str(work_dir),
                  stdout=str(work_dir / out), env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    fields.update(overrides)
    return LaunchSpec(**fields)


#: What poll() reported per agent and is not yet claimed by a wait_for(): batch jobs by
#: job id, steps by ``(job_id, step_id)``.
_reported: weakref.WeakKeyDictionary[LocalAgent, dict] = weakref.WeakKeyDictionary()


def wait_for(agent: LocalAgent, job_id: int, timeout: float = 10.0) -> Finished:
    """Sleep on the agent's wakeup FIFO (and poll now and then) until ``job_id`` is reported."""
    return _wait(agent, job_id, f"job {job_id}", timeout)


def wait_for_step(agent: LocalAgent, job_id: int, step_id: int, timeout: float = 10.0) -> StepFinished:
    """As :func:`wait_for`, for step ``job_id.step_id``."""
    return _wait(agent, (job_id, step_id), f"step {job_id}.{step_id}", timeout)


def _wait(agent: LocalAgent, key, what: str, timeout: float):
    seen = _reported.setdefault(agent, {})
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        for ended in agent.poll():
            seen[(ended.job_id, ended.step_id) if isinstance(ended, StepFinished) else ended.job_id] = ended
        if key in seen:
            return seen.pop(key)
        select.select([agent.wakeup_fd], [], [], 0.2)
    raise AssertionError(f"{what} did not finish within {timeout} s")


@pytest.fixture
def facts() -> NodeFacts:
    return detect()


@pytest.fixture
def agent(tmp_path, facts):
    a = LocalAgent(tmp_path / "home", facts, kill_wait=1)
    yield a
    for job_id in a.running():
        a.cancel(job_id)
    for job_id, step_id in a.running_steps():
        a.cancel_step(job_id, step_id)
    a.close()


@pytest.fixture
def workdir(tmp_path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def fake_gpu_facts(facts: NodeFacts) -> NodeFacts:
    """This machine's CPUs with two A100s and one H100 that do not exist."""
    gpus = [GpuFact(0, "GPU-aaaa-0", "a100", 40960, "NVIDIA A100-SXM4-40GB"),
            GpuFact(1, "GPU-aaaa-1", "a100", 40960, "NVIDIA A100-SXM4-40GB"),
            GpuFact(2, "GPU-hhhh-2", "h100", 81559, "NVIDIA H100 80GB HBM3")]
    return NodeFacts(facts.name, facts.cpus, facts.mem_mib, gpus, facts.boot_time, facts.os)


class SrunDouble:
    """srun's end of a step's I/O: a TCP listener on 127.0.0.1 that takes the supervisors'
    connections and keeps every frame they send, in order, per connection."""

    def __init__(self, token: str = "t0ken") -> None:
        self.token = token
        self.server = socket.create_server(("127.0.0.1", 0))
        self.io = {"host": "127.0.0.1", "port": self.server.getsockname()[1], "token": token}
        self.frames: list[tuple[bytes, int, bytes]] = []
        self.conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._reading = threading.Event()
        self._reading.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self.conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        reader = stepio.Reader()
        while True:
            self._reading.wait()
            try:
                data = conn.recv(65536)
            except OSError:
                data = b""
            with self._changed:
                if data:
                    self.frames.extend(reader.feed(data))
                else:
                    self.frames.append((b"", 0, b"EOF"))
                self._changed.notify_all()
            if not data:
                return

    def wait(self, done, timeout: float = 10.0) -> list[tuple[bytes, int, bytes]]:
        """Wait until ``done(frames)`` holds; the frames so far."""
        with self._changed:
            if not self._changed.wait_for(lambda: done(self.frames), timeout):
                raise AssertionError(f"srun's listener did not get what it waited for within {timeout} s: {self.frames[-5:]}")
            return list(self.frames)

    def wait_exits(self, count: int, timeout: float = 10.0) -> list[tuple[bytes, int, bytes]]:
        return self.wait(lambda frames: len(exits(frames)) >= count, timeout)

    def hold(self) -> None:
        """Stop reading, as a slow srun would (what is sent piles up on the way)."""
        self._reading.clear()

    def release(self) -> None:
        self._reading.set()

    def send(self, data: bytes) -> None:
        with self._lock:
            conn = self.conns[0]
        conn.sendall(data)

    def close(self) -> None:
        """srun goes away: the listener and every connection close."""
        self._reading.set()
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept(): close() alone would not stop it
        except OSError:
            pass
        self.server.close()
        with self._lock:
            for conn in self.conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()


def output_of(frames, kind: bytes = stepio.OUT) -> dict[int, bytes]:
    """Each task's stream, put together from its frames."""
    joined: dict[int, bytes] = {}
    for k, task, payload in frames:
        if k == kind:
            joined[task] = joined.get(task, b"") + payload
    return joined


def exits(frames) -> dict[int, tuple[int, int]]:
    """Each task's ``(exit code, signal)`` from its EXIT frame."""
    ended = {}
    for kind, task, payload in frames:
        if kind == stepio.EXIT:
            body = stepio.payload_json(payload)
            ended[task] = (body["exit_code"], body["signal"])
    return ended


def make_step(work_dir: Path, argv: list[str], *, job_id: int = 5, step_id: int = 0, tasks=(0, 1, 2),
              **overrides) -> StepLaunch:
    """A step of ``argv`` in ``work_dir``, all its tasks on this node, as this user."""
    fields = dict(me(), job_id=job_id, step_id=step_id, argv=list(argv), cwd=str(work_dir), tasks=list(tasks),
                  env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SLURM_JOB_ID": str(job_id)})
    fields.update(overrides)
    return StepLaunch(**fields)


@pytest.fixture
def srun():
    double = SrunDouble()
    yield double
    double.close()
