"""A job step's ``launch.json``, checked, and what it implies per task: the task's
environment and the names of its output files.

Variables: the controller builds the step's environment with everything that is the
same for every node of the step (the job's ``SLURM_JOB_*``, ``SLURM_NNODES``,
``SLURM_JOB_NODELIST``, ``SLURM_TASKS_PER_NODE``, ... and the step's layout:
``SLURM_STEP_NODELIST``, ``SLURM_STEP_NUM_NODES``, ``SLURM_STEP_TASKS_PER_NODE``); the
agent lays the placement variables over it (``CUDA_VISIBLE_DEVICES``, ...). The
supervisor adds what it knows from ``launch.json`` and what differs per task, with the
formats a Slurm 22.05 step shows (``srun -n 2 -l env``):

- the step: ``SLURM_STEPID`` and ``SLURM_STEP_ID`` (step id), ``SLURM_NTASKS``,
  ``SLURM_NPROCS`` and ``SLURM_STEP_NUM_TASKS`` (the step's total), ``SLURM_CPUS_PER_TASK``
  (only when given, as ``srun -c``);
- this node: ``SLURM_NODEID`` (its index in the step), ``SLURMD_NODENAME``, ``SLURM_GTIDS``
  (its global task ids, ``0,1``);
- the task: ``SLURM_PROCID`` (global task id), ``SLURM_LOCALID`` (index on this node),
  ``SLURM_TASK_PID`` (its own pid, set by the task's child before ``exec``).

When every task of the step runs here, the supervisor also fills in the layout the
controller left out (``SLURM_STEP_NODELIST`` = this node, ``SLURM_STEP_NUM_NODES=1``,
``SLURM_STEP_TASKS_PER_NODE`` = the task count); with several nodes only the controller
knows it.

File patterns are srun's ``-o/-e/-i``: ``%t`` task id, ``%n`` the node's index in the
step (what Slurm 22.05 writes for ``%n``: the same for every task of a node), ``%N`` node
name, ``%j`` job id, ``%s`` step id, ``%J`` ``job.step``, ``%u`` user, ``%x`` job name,
``%%``; a number after ``%`` zero-pads a numeric field (``%3t`` -> ``007``). Relative
names are relative to the step's directory. ``-e`` defaults to ``-o``'s pattern, as in
srun. ``-i`` takes srun's modes too: ``all`` (every task reads srun's stdin), ``none``,
a task id, or a file pattern; unset, task 0 reads srun's stdin.
"""

from __future__ import annotations

import os
import re

from kairos.node.supervisor.files import optional_float

_PATTERN = re.compile(r"%(\d*)(.)")
_NUMERIC = frozenset("tnjs")


class StepLaunch:
    """launch.json of a step (``"kind": "step"``), checked."""

    def __init__(self, raw: dict) -> None:
        self.job_id = int(raw["job_id"])
        self.step_id = int(raw["step_id"])
        self.user = str(raw.get("user") or "")
        self.uid = int(raw["uid"])
        self.gid = int(raw["gid"])
        self.argv = [str(a) for a in raw["argv"]]
        if not self.argv:
            raise ValueError("launch.json: argv is empty; a step runs a command")
        self.env = {str(k): str(v) for k, v in (raw.get("env") or {}).items()}
        self.cwd = str(raw["cwd"])
        self.tasks = [int(t) for t in raw["tasks"]]
        if not self.tasks:
            raise ValueError("launch.json: tasks is empty; a step runs at least one task on a node")
        self.node_id = int(raw.get("node_id") or 0)
        self.node_name = str(raw.get("node_name") or os.uname().nodename.split(".")[0])
        self.ntasks = int(raw.get("ntasks") or len(self.tasks))
        cpus_per_task = raw.get("cpus_per_task")
        self.cpus_per_task = None if cpus_per_task is None else int(cpus_per_task)
        self.cpu_ids = [int(c) for c in raw.get("cpu_ids") or []]
        io = raw.get("io")
        self.io = None if not io else {"host": str(io["host"]), "port": int(io["port"]), "token": str(io["token"])}
        self.stdout = raw.get("stdout") or None
        self.stderr = raw.get("stderr") or self.stdout
        self.stdin = raw.get("stdin") or None
        self.mem_limit_mib = optional_float(raw.get("mem_limit_mib"))
        self.time_limit = optional_float(raw.get("time_limit"))
        kill_wait = raw.get("kill_wait")
        self.kill_wait = 30.0 if kill_wait is None else float(kill_wait)
        self.notify = raw.get("notify")
        # --signal reaches steps from the controller (kairos.server.warning_signals)
        self.warn_signal: int | None = None
        self.warn_time = 0.0

    @property
    def label(self) -> str:
        """``job.step``, as Slurm names a step."""
        return f"{self.job_id}.{self.step_id}"

    def stdin_from_srun(self, task: int) -> bool:
        """Whether ``task`` reads srun's stdin (needs a connection to srun)."""
        if self.io is None:
            return False
        mode = self.stdin
        if mode is None:
            return task == 0
        if mode == "all":
            return True
        return mode.isdigit() and int(mode) == task

    def stdin_file(self) -> str | None:
        """The stdin pattern when it names files rather than a mode."""
        mode = self.stdin
        if mode is None or mode in ("all", "none") or mode.isdigit():
            return None
        return mode

    def path(self, pattern: str, task: int) -> str:
        """``pattern`` for ``task``, made absolute against the step's directory."""
        return os.path.join(self.cwd, expand_pattern(pattern, self, task))

    def task_environment(self, task: int, local_id: int) -> dict[str, str]:
        """The environment of ``task`` (without SLURM_TASK_PID, which only its process knows)."""
        env = dict(self.env)
        if self.ntasks == len(self.tasks):  # the whole step is here: its layout is known
            env.setdefault("SLURM_STEP_NODELIST", self.node_name)
            env.setdefault("SLURM_STEP_NUM_NODES", "1")
            env.setdefault("SLURM_STEP_TASKS_PER_NODE", str(len(self.tasks)))
        step, total = str(self.step_id), str(self.ntasks)
        env.update({
            "SLURM_STEPID": step, "SLURM_STEP_ID": step,
            "SLURM_NTASKS": total, "SLURM_NPROCS": total, "SLURM_STEP_NUM_TASKS": total,
            "SLURM_NODEID": str(self.node_id),
            "SLURMD_NODENAME": self.node_name,
            "SLURM_GTIDS": ",".join(str(t) for t in self.tasks),
            "SLURM_PROCID": str(task),
            "SLURM_LOCALID": str(local_id),
        })
        if self.cpus_per_task is not None:
            env["SLURM_CPUS_PER_TASK"] = str(self.cpus_per_task)
        return env


def expand_pattern(pattern: str, launch: StepLaunch, task: int) -> str:
    """srun's file name pattern for one task; an unknown ``%x`` is left as written."""
    fields = {
        "t": task, "n": launch.node_id, "j": launch.job_id, "s": launch.step_id,
        "N": launch.node_name, "J": launch.label, "u": launch.user,
        "x": launch.env.get("SLURM_JOB_NAME", ""), "%": "%",
    }

    def one(match: re.Match) -> str:
        width, key = match.group(1), match.group(2)
        if key not in fields:
            return match.group(0)
        value = fields[key]
        if key in _NUMERIC and width:
            return str(value).zfill(int(width))
        return str(value)

    return _PATTERN.sub(one, pattern)
