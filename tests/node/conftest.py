"""Shared helpers for the node tests: an agent in a temporary home, job specs, waiting."""

from __future__ import annotations

import os
import pwd
import select
import time
import weakref
from pathlib import Path

import pytest

from kairos.node.agent import Finished, LaunchSpec, LocalAgent
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


#: What poll() reported per agent and is not yet claimed by a wait_for().
_reported: weakref.WeakKeyDictionary[LocalAgent, dict[int, Finished]] = weakref.WeakKeyDictionary()


def wait_for(agent: LocalAgent, job_id: int, timeout: float = 10.0) -> Finished:
    """Sleep on the agent's wakeup FIFO (and poll now and then) until ``job_id`` is reported."""
    seen = _reported.setdefault(agent, {})
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        seen.update((f.job_id, f) for f in agent.poll())
        if job_id in seen:
            return seen.pop(job_id)
        select.select([agent.wakeup_fd], [], [], 0.2)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


@pytest.fixture
def facts() -> NodeFacts:
    return detect()


@pytest.fixture
def agent(tmp_path, facts):
    a = LocalAgent(tmp_path / "home", facts, kill_wait=1)
    yield a
    for job_id in a.running():
        a.cancel(job_id)
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
