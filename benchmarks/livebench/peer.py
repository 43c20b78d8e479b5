"""The Slurm side of the benchmark: the real Slurm 22.05 on this machine
(:class:`kairos.testing.slurm_peer.SlurmPeer`, which only ever cancels our own job
ids), plus what only the benchmark asks of it: how many of our jobs it still lists,
room under its MaxJobCount, the settings that bound how fast it schedules, and when
its log says it started our jobs (how many scheduling passes a drain took)."""

from __future__ import annotations

import datetime
import os
import re
import statistics
import time
from pathlib import Path

from kairos.testing import slurm_peer
from kairos.testing.slurm_peer import SlurmPeer

from .measure import err

#: A job start in the peer's controller log: by the main or the backfill scheduler.
_STARTED = re.compile(r"^\[(\S+)\] (?:sched: Allocate|sched/backfill: _start_job: Started) "
                      r"JobId=(\d+)(?:_(\d+))?")


class BenchPeer(SlurmPeer):
    """The peer, its commands run from ``workdir``."""

    def __init__(self, bin_dir: Path, workdir: Path) -> None:
        super().__init__(bin_dir, workdir, command_timeout=120)

    def listed(self, name: str) -> int:
        """How many of this run's jobs named ``name`` squeue still shows (array tasks
        one per line)."""
        return len(self.run("squeue", "-h", "-r", "-n", name, "-o", "%i").stdout.split())

    def wait_for_room(self, wanted: int, timeout: float) -> int:
        """Wait (for finished records to be purged) until ``wanted`` more jobs fit, at
        most ``timeout`` seconds; the room there is then."""
        deadline = time.monotonic() + timeout
        room = self.room()
        if room >= wanted:
            return room
        with err.status("") as status:
            while room < wanted and time.monotonic() < deadline:
                status.update(f"peer: waiting for finished job records to be purged "
                              f"(MinJobAge {self.config.get('MinJobAge')}): room for {room:,} "
                              f"of {wanted:,} jobs")
                time.sleep(5)
                room = self.room()
        return room

    def parameters(self) -> dict[str, str]:
        """The settings that bound how fast this peer schedules (defaults spelled out)."""
        sched = dict(item.partition("=")[::2] for item in
                     self.config.get("SchedulerParameters", "(null)").split(",")
                     if "=" in item)
        cpus = self.run("sinfo", "-h", "-o", "%c", check=False).stdout.split()
        return {
            "SchedulerType": self.config.get("SchedulerType", "?"),
            "SchedulerParameters": self.config.get("SchedulerParameters", "?"),
            "batch_sched_delay": sched.get("batch_sched_delay", "3") + " s",
            "sched_interval": sched.get("sched_interval", "60") + " s",
            "sched_min_interval": sched.get("sched_min_interval", "2") + " us",
            "default_queue_depth": sched.get("default_queue_depth", "100"),
            "bf_interval": sched.get("bf_interval", "30") + " s",
            "PriorityType": self.config.get("PriorityType", "?"),
            "SelectTypeParameters": self.config.get("SelectTypeParameters", "?"),
            "DefMemPerNode": self.config.get("DefMemPerNode", "?"),
            "MaxJobCount": self.config.get("MaxJobCount", "?"),
            "MaxArraySize": self.config.get("MaxArraySize", "?"),
            "MinJobAge": self.config.get("MinJobAge", "?"),
            "node CPUs": cpus[0] if cpus else "?",
        }

    def start_times(self, job_ids: set[int], array_id: int | None, since: float) -> list[float]:
        """When the controller started each of these jobs, from its log (epoch seconds)."""
        log = self.config.get("SlurmctldLogFile")
        if not log or not os.path.isfile(log):
            return []
        times = []
        with open(log, errors="replace") as f:
            for line in f:
                m = _STARTED.match(line)
                if not m:
                    continue
                job = int(m.group(2))
                if (array_id is not None and job == array_id and m.group(3)) or job in job_ids:
                    t = datetime.datetime.fromisoformat(m.group(1)).timestamp()
                    if t >= since - 1:
                        times.append(t)
        return sorted(times)


def open_peer(start_script: Path, workdir: Path) -> tuple[BenchPeer | None, str | None]:
    """Start the peer if need be and find its commands: the peer, or None and why not."""
    problem = slurm_peer.start(start_script)
    if problem:
        return None, problem
    probe = slurm_peer.locate()
    if probe.bin_dir is None:
        return None, probe.reason
    return BenchPeer(probe.bin_dir, workdir), None


def cadence(start_times: list[float]) -> dict[str, float]:
    """Scheduling passes seen in start times: starts within 0.5 s of each other are one
    pass; the median gap between passes and the mean jobs started per pass."""
    if len(start_times) < 2:
        return {}
    passes = [[start_times[0]]]
    for t in start_times[1:]:
        if t - passes[-1][-1] <= 0.5:
            passes[-1].append(t)
        else:
            passes.append([t])
    gaps = [b[0] - a[0] for a, b in zip(passes, passes[1:])]
    return {"passes": len(passes), "median_gap_s": statistics.median(gaps) if gaps else 0.0,
            "jobs_per_pass": len(start_times) / len(passes)}
