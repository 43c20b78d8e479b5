"""Multi-node jobs under a Kairos test cluster and under a real multi-node Slurm 22.05,
compared.

Why: on a cluster, what Slurm users lean on is where their tasks run and what each task
is told (``SLURM_PROCID``, ``SLURMD_NODENAME``, node lists, tasks per node), what
``srun`` says and returns when tasks fail, and what happens to a job whose node dies.
Each scenario runs the same commands on both sides, through each side's own commands,
and compares what a user sees once node names (``kn1``/``peer1`` -> ``node1``), job
ids, addresses and directories are placeholders.

* Kairos: ``kairos up`` with as many nodes (and CPUs per node) as the peer has, 3 by
  one CPU when there is no peer; the ``test_*_on_kairos`` tests check hand-written
  expectations there, always.
* Slurm: the peer of ``shared/peers/slurm/start-multi.sh`` (nodes ``peer1..N`` in
  network namespaces ``kpeer1..N``); the ``test_*_matches_slurm`` tests (slow) skip when
  the running peer has fewer than 2 nodes.  The single-node peer of ``start.sh`` and the
  multi-node one cannot run at once (they share slurm.conf).

Differences by design are listed in :data:`PEER_ONLY_STEP_ENV`,
:data:`KAIROS_ONLY_STEP_ENV` and :func:`test_node_failure_matches_slurm`'s notes.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from uuid import uuid4

import pytest

from kairos.testing.cluster import KairosCluster
from kairos.testing.home import KAIROS
from kairos.testing.slurm_peer import PeerProbe, SlurmPeer

from .conftest import Backend, KairosBackend, SlurmBackend, submit_environment

#: Set in a step by the peer only: Slurm internals (how srun and slurmstepd talk, its
#: configuration file, topology and heterogeneous-job plugins, pids).
PEER_ONLY_STEP_ENV = {
    "SLURM_CONF", "SLURM_NODE_ALIASES", "SLURM_PRIO_PROCESS", "SLURM_TASK_PID",
    "SLURM_TOPOLOGY_ADDR", "SLURM_TOPOLOGY_ADDR_PATTERN", "SLURM_WORKING_CLUSTER",
    "SLURM_SRUN_COMM_HOST", "SLURM_SRUN_COMM_PORT", "SLURM_STEP_LAUNCHER_PORT",
    "SLURM_JOB_CPUS_PER_NODE_PACK_GROUP_0", "SLURM_EXPORT_ENV", "SLURM_GET_USER_ENV",
}
#: Set by Kairos only (the peer keeps no accounting, so it has no QoS), and pids.
KAIROS_ONLY_STEP_ENV = {"SLURM_JOB_QOS", "SLURM_TASK_PID"}


# ------------------------------------------------------------------------- the sides

@dataclass
class Side:
    """One backend with what this module needs beyond :class:`Backend`: its nodes, and
    how to kill a node's daemon and bring it back."""

    backend: Backend
    nodes: list[str]  #: node names, in order
    cpus: int  #: CPUs of each node
    directory: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory = self.backend.workdir

    @property
    def name(self) -> str:
        return self.backend.name

    def kill_node(self, name: str) -> None:
        raise NotImplementedError

    def restore_node(self, name: str, job_id: int) -> None:
        raise NotImplementedError


class KairosSide(Side):
    def kill_node(self, name: str) -> None:
        self.cluster.kill_node_daemon(name)

    def restore_node(self, name: str, job_id: int) -> None:
        self.backend.run("scancel", str(job_id), check=False)
        self.cluster.start_node_daemon(name)
        self.cluster.wait_node(name, "idle", timeout=60)

    @property
    def cluster(self) -> KairosCluster:
        return self.backend.driver


class SlurmSide(Side):
    """The ``start-multi.sh`` peer: each ``slurmd`` in network namespace ``kpeerN``, its
    pid in the file ``SlurmdPidFile`` names."""

    def pid_file(self, name: str) -> Path:
        config = self.backend.peer.config
        return Path(config["SlurmdPidFile"].replace("%n", name))

    def namespace(self, name: str) -> Path:
        return Path("/var/run/netns") / f"k{name}"

    def kill_node(self, name: str) -> None:
        if not self.namespace(name).exists():
            pytest.skip(f"the peer's node {name} has no network namespace "
                        f"{self.namespace(name)} (not started by start-multi.sh)")
        os.kill(int(self.pid_file(name).read_text().split()[0]), signal.SIGTERM)

    def restore_node(self, name: str, job_id: int) -> None:
        # On one machine the lost node's processes outlive its slurmd (the peer's
        # README): the job's step daemons and tasks are killed by their command lines.
        self.backend.run("scancel", str(job_id), check=False)
        subprocess.run(["pkill", "-f", rf"slurmstepd: \[{job_id}\."], check=False)
        subprocess.run(["pkill", "-f", f"sleep {LOST_JOB_SLEEP}"], check=False)
        subprocess.run(["nsenter", f"--net={self.namespace(name)}", "slurmd", "-N", name],
                       check=True, timeout=30)
        self.backend.wait_until(f"node {name} to come back", lambda: self.node_state(name)
                                in {"idle", "mixed"}, timeout=60)

    def node_state(self, name: str) -> str:
        return self.backend.run("sinfo", "-h", "-n", name, "-o", "%T").stdout.strip()


#: How long the job on a node that dies sleeps (its command line identifies it).
LOST_JOB_SLEEP = 317


def node_facts(backend: Backend) -> tuple[list[str], int]:
    """(node names, CPUs of the first) from ``sinfo -N``."""
    rows = [line.split() for line in
            backend.run("sinfo", "-h", "-N", "-o", "%N %c").stdout.splitlines()]
    names = list(dict.fromkeys(name for name, _ in rows))
    return names, int(rows[0][1]) if rows else 0


@pytest.fixture(scope="module")
def peer(slurm_peer: PeerProbe, tmp_path_factory) -> Iterable[SlurmSide | None]:
    """The multi-node peer, or None (the Kairos half still runs)."""
    if slurm_peer.bin_dir is None:
        yield None
        return
    work = tmp_path_factory.mktemp("compat-cluster-slurm")
    work.chmod(0o755)
    backend = SlurmBackend(SlurmPeer(slurm_peer.bin_dir, work, env=submit_environment()))
    names, cpus = node_facts(backend)
    if len(names) < 2:
        yield None
        return
    yield SlurmSide(backend, names, cpus)
    backend.cancel_leftovers()


@pytest.fixture(scope="module")
def slurm_side(peer: SlurmSide | None) -> SlurmSide:
    if peer is None:
        pytest.skip("no multi-node Slurm peer: run shared/peers/slurm/start-multi.sh 3 "
                    "(after stop.sh if the single-node peer runs)")
    return peer


@pytest.fixture(scope="module")
def kairos_side(peer: SlurmSide | None) -> Iterable[KairosSide]:
    """A Kairos test cluster shaped like the peer (3 one-CPU nodes without one)."""
    count, cpus = (len(peer.nodes), peer.cpus) if peer else (3, 1)
    root = Path(tempfile.mkdtemp(prefix="kairos-compat-cluster-"))
    cluster = KairosCluster.create(root / "home", root / "work", count=count,
                                   cpus_per_node=cpus, env=submit_environment())
    cluster.up()
    try:
        yield KairosSide(KairosBackend(cluster), cluster.node_names(), cpus)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------------- normalising

def normal(text: str, side: Side) -> str:
    """Node names -> ``node1``/``node[1-2]``, step ids -> ``{job}.0``, node addresses
    -> ``{net}.11``, the work directory -> ``{dir}``.  (The scenarios print no other job
    ids, and small ones could not be told from other numbers.)"""
    text = re.sub(r"\b(?:kn|peer)(?=\d|\[)", "node", text)
    text = re.sub(r"\b10\.\d+\.\d+\.(\d+)\b", r"{net}.\1", text)
    text = re.sub(r"\bStepId=\d+\.", "StepId={job}.", text)
    return text.replace(str(side.directory), "{dir}")


def step_env(text: str, side: Side, directory: Path) -> dict[str, dict[str, str]]:
    """``srun --label env`` lines -> {label: {name: value}} without the side's own
    names, normalised."""
    own = PEER_ONLY_STEP_ENV if side.name == "slurm" else KAIROS_ONLY_STEP_ENV
    cluster = side.backend.cluster_name
    partition = side.backend.default_partition
    found: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        label, _, assignment = line.partition(": ")
        name, _, value = assignment.partition("=")
        if name in own:
            continue
        if name == "SLURM_CLUSTER_NAME" and value == cluster:
            value = "{cluster}"
        elif name == "SLURM_JOB_PARTITION" and value == partition:
            value = "{partition}"
        elif name in ("SLURM_SUBMIT_HOST",):
            value = "{host}"
        elif name == "SLURM_SUBMIT_DIR" and value == str(directory):
            value = "{scenario}"
        elif name in ("SLURM_JOB_ID", "SLURM_JOBID"):
            value = "{job}"
        found.setdefault(label, {})[name] = normal(value, side)
    return found


# ------------------------------------------------------------------------- scenarios

#: sbatch options of the batch scenarios (nodes.sh), by name.
BATCH = {
    "per_node": ("-N2", "--ntasks-per-node=1"),
    "nodes": ("-N2",),
    "spread": ("-n3",),  # no -N: as many nodes as the tasks need
}


@dataclass
class Seen:
    """What a user saw of one scenario, normalised."""

    output: str = ""
    errors: str = ""
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    finals: list = field(default_factory=list)


def run_batch(side: Side, name: str) -> Seen:
    directory = side.backend.scenario_dir(f"batch-{name}-{uuid4().hex[:8]}")
    job_id = side.backend.sbatch(*BATCH[name], "nodes.sh", cwd=directory)
    finals = side.backend.wait(job_id)
    return Seen(output=normal((directory / f"slurm-{job_id}.out").read_text(), side),
                env=step_env((directory / "step-env").read_text(), side, directory),
                finals=finals)


#: ``srun`` commands run from the login shell, by name.
LOGIN = {
    "where": ("-N2", "--label", "printenv", "SLURMD_NODENAME"),
    "false": ("-N2", "false"),
    "killed": ("-N2", "--label", "bash", "-c", "kill -9 $$"),
    "spread": ("-n3", "--label", "printenv", "SLURMD_NODENAME"),
    "cyclic": ("-N2", "-n4", "-m", "cyclic", "--label", "printenv", "SLURMD_NODENAME"),
}


def run_login(side: Side, name: str) -> tuple[int, str, str]:
    """(exit status, sorted stdout, sorted stderr) of ``srun OPTIONS``."""
    done = side.backend.run("srun", "--mem=50M", *LOGIN[name], check=False)
    return (done.returncode, normal("\n".join(sorted(done.stdout.splitlines())), side),
            normal("\n".join(sorted(done.stderr.splitlines())), side))


@dataclass
class Failure:
    """What a user saw when one node of a running 2-node job died."""

    job: str  #: scontrol's JobState, Reason, Restarts and NodeList
    node: str  #: sinfo's state of the node
    reasons: str  #: ``sinfo -R`` rows (reason|user|nodes)
    delay: float  #: seconds from the node's death to the job's new BeginTime


def run_node_failure(side: Side) -> Failure:
    backend, lost = side.backend, side.nodes[1]
    directory = backend.scenario_dir(f"node-failure-{uuid4().hex[:8]}")
    job_id = backend.sbatch("-N2", "--wrap", f"srun sleep {LOST_JOB_SLEEP}", cwd=directory)
    backend.wait_for_state(job_id, "RUNNING")
    side.kill_node(lost)
    killed = time.time()
    try:
        backend.wait_until(f"job {job_id} to be requeued",
                           lambda: backend.states(job_id) == ["PENDING"], timeout=180)
        record = backend.run("scontrol", "show", "job", "-o", str(job_id)).stdout
        fields = dict(re.findall(r"(?<!\S)(JobState|Reason|Restarts|NodeList|StartTime)=(\S*)",
                                 record))
        begin = datetime.fromisoformat(fields.pop("StartTime")).timestamp()
        job = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        node = backend.run("sinfo", "-h", "-n", lost, "-o", "%T").stdout.strip()
        reasons = backend.run("sinfo", "-R", "-h", "-o", "%E|%u|%N").stdout.strip()
        return Failure(normal(job, side), node, normal(reasons, side), begin - killed)
    finally:
        side.restore_node(lost, job_id)


# ---------------------------------------------------------------------- expectations

def expected_batch(name: str, cpus: int) -> str | None:
    """What nodes.sh prints for scenario ``name`` on nodes of ``cpus`` CPUs (None: not
    written down for that shape)."""
    if name == "spread":  # -n 3: as many tasks on each node as it has CPUs
        shape = {1: ("node[1-3]", "1(x3)", ["node1", "node2", "node3"]),
                 2: ("node[1-2]", "2,1", ["node1", "node1", "node2"])}.get(cpus)
        if shape is None:
            return None
        nodes, per_node, where = shape
        count = len(set(where))
        ranks = [f"{i}: procid={i} nodeid={int(n[-1]) - 1} "
                 f"localid={where[:i].count(n)} node={n} nodes={nodes} ntasks=3 "
                 f"nnodes={count} tasks={per_node} step=0" for i, n in enumerate(where)]
        return "\n".join([
            f"job: nodes={nodes} nnodes={count} ntasks=3 tpn= cpus={per_node} "
            f"tasks={per_node} batch=node1",
            *sorted(set(where)), *ranks,
            "one: node=node1 nnodes=1 ntasks=1 step=1",
            "srun exit=4",
            *(f"srun: error: {n}: task {i}: Exited with exit code {i + 2}"
              for i, n in enumerate(where)),
            "",
        ])
    ntasks, per_node = ("2", "1") if name == "per_node" else ("", "")
    return "\n".join([
        f"job: nodes=node[1-2] nnodes=2 ntasks={ntasks} tpn={per_node} cpus=1(x2) "
        "tasks=1(x2) batch=node1",
        "node1", "node2",
        "0: procid=0 nodeid=0 localid=0 node=node1 nodes=node[1-2] ntasks=2 nnodes=2 "
        "tasks=1(x2) step=0",
        "1: procid=1 nodeid=1 localid=0 node=node2 nodes=node[1-2] ntasks=2 nnodes=2 "
        "tasks=1(x2) step=0",
        "one: node=node1 nnodes=1 ntasks=1 step=1",
        "srun exit=3",
        "srun: error: node1: task 0: Exited with exit code 2",
        "srun: error: node2: task 1: Exited with exit code 3",
        "",
    ])


EXPECTED_LOGIN = {
    "where": (0, "0: node1\n1: node2", ""),
    "false": (1, "", "srun: error: node1: task 0: Exited with exit code 1\n"
                     "srun: error: node2: task 1: Exited with exit code 1"),
    "killed": (137, "", "srun: Force Terminated StepId={job}.0\n"
                        "srun: error: node1: task 0: Killed\n"
                        "srun: error: node2: task 1: Killed"),
}


def expected_login(name: str, cpus: int) -> tuple[int, str, str]:
    if name == "cyclic":  # dealt in turn: 0 and 2 on the first node
        return 0, "0: node1\n1: node2\n2: node1\n3: node2", ""
    if name != "spread":
        return EXPECTED_LOGIN[name]
    where = ["node1", "node2", "node3"] if cpus == 1 else ["node1", "node1", "node2"]
    return 0, "\n".join(f"{i}: {n}" for i, n in enumerate(where)), ""


# ----------------------------------------------------------------------------- tests

@pytest.mark.parametrize("name", sorted(BATCH))
def test_batch_on_kairos(kairos_side, name):
    seen = run_batch(kairos_side, name)
    expected = expected_batch(name, kairos_side.cpus)
    if expected is not None:
        assert seen.output == expected
    assert [f.state for f in seen.finals] == ["COMPLETED"]
    tasks = 3 if name == "spread" else 2
    assert sorted(seen.env) == [str(i) for i in range(tasks)]
    assert seen.env["0"]["SLURMD_NODENAME"] == "node1"
    assert {env["SLURMD_NODENAME"] for env in seen.env.values()} >= {"node2"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BATCH))
def test_batch_matches_slurm(kairos_side, slurm_side, name):
    theirs, ours = run_batch(slurm_side, name), run_batch(kairos_side, name)
    assert ours.output == theirs.output
    assert ours.finals == theirs.finals
    for label in theirs.env:
        assert ours.env[label] == theirs.env[label], f"task {label}'s environment"
    assert ours.env.keys() == theirs.env.keys()


@pytest.mark.parametrize("name", sorted(LOGIN))
def test_srun_from_login_on_kairos(kairos_side, name):
    if name == "spread" and kairos_side.cpus > 2:
        pytest.skip("written down for nodes of 1 or 2 CPUs")
    if name == "cyclic" and kairos_side.cpus < 2:
        pytest.skip("needs nodes of 2 CPUs or more")
    assert run_login(kairos_side, name) == expected_login(name, kairos_side.cpus)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LOGIN))
def test_srun_from_login_matches_slurm(kairos_side, slurm_side, name):
    assert run_login(kairos_side, name) == run_login(slurm_side, name)


@pytest.mark.slow  # 12 to 21 s: waits out node and controller timeouts
def test_node_failure_on_kairos(kairos_side):
    failure = run_node_failure(kairos_side)
    assert failure.job == "JobState=PENDING NodeList= Reason=BeginTime Restarts=1"
    assert failure.node == "down*"
    assert failure.reasons == f"Not responding|{pwd.getpwuid(os.geteuid()).pw_name}|node2"
    assert 0 < failure.delay < 60


@pytest.mark.slow
def test_node_failure_matches_slurm(kairos_side, slurm_side):
    """The same on both, except how long the requeued job is held back: Slurm 22.05
    about two minutes, Kairos ``REQUEUE_DELAY`` (10 s), enough for the job's processes
    on the surviving nodes to be killed.  Slurm marks the node ``allocated*`` (not
    responding) for a while before ``down*``; Kairos goes straight to ``down*`` once
    ``node_timeout`` has passed."""
    theirs, ours = run_node_failure(slurm_side), run_node_failure(kairos_side)
    assert (ours.job, ours.node, ours.reasons) == (theirs.job, theirs.node, theirs.reasons)
    assert 60 < theirs.delay < 240 and 0 < ours.delay < 60


@pytest.mark.parametrize("command", [
    ("show", "hostnames", "a[1-3,5],b[01-02],c"),
    ("show", "hostlist", "n1,n2,n3,n10,m7,n11"),
    ("show", "hostlist", "a01,a02,a3"),
])
def test_hostlists_match_slurm(slurm_peer, tmp_path, command):
    """``scontrol show hostnames|hostlist`` print what Slurm's do (any peer will do:
    these need no controller)."""
    if slurm_peer.bin_dir is None:
        pytest.skip(slurm_peer.reason)
    peer = SlurmPeer(slurm_peer.bin_dir, tmp_path, env=submit_environment())
    theirs = peer.run("scontrol", *command, check=False)
    ours = subprocess.run([KAIROS, "scontrol", *command], capture_output=True, text=True,
                          env={**submit_environment(), "KAIROS_HOME": str(tmp_path / "home")})
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
