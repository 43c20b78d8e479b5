"""A test cluster on one machine: the controller plus N node "hosts", for ``kairos up --nodes N``.

One command gives developers, tests, demos and benchmarks a real multi-host cluster on
one machine (as ``flux start --test-size=N`` does).  :meth:`Testbed.up` plans the nodes
(:mod:`kairos.node.testbed_plan`: names, CPUs, memory, homes, addresses, ports), gives
each its own network namespace on a bridge where it can (:mod:`kairos.node.netns`; root
and working ``ip netns``), else puts every node on 127.0.0.1 with a port of its own, and
starts a munged per node where MUNGE is installed (:mod:`kairos.node.munged`).  Then the
caller starts the controller on ``plan.controller`` and each node daemon with
:meth:`Testbed.start_node`; :func:`teardown` removes it all again.

Inside a node, a process sees the node's network, its name as host name (``hostname``
prints ``kn2``), the cluster's names in /etc/hosts, and the machine's cgroup file
systems (which ``ip netns exec`` would otherwise hide by remounting /sys).

Everything a cluster makes is written down in ``<home>/testbed/state.json`` as it is
made; besides, its processes carry the home in their environment (``KAIROS_TESTBED``)
and its network names derive from its bridge, whose alias names the home.  So
:func:`teardown` works from any later process, twice, after a crash, and even when the
state file is lost.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from kairos.node import detached, munged, netns
from kairos.node.detached import Detached
from kairos.node.supervisor.files import read_json, write_json_atomic
from kairos.node.testbed_plan import Network, NodePlan, TestbedPlan, make_plan, with_munge

STATE_NAME = "state.json"
HOSTS_NAME = "hosts.txt"
NODE_LOG = "node.log"
#: Sets the node's host name, brings back the cgroup mounts, then runs the command.
_NODE_SHELL = 'hostname "$1" && shift && {cgroups} exec "$@"'
_PRIVATE_MOUNTS = ["unshare", "--mount", "--propagation", "slave", "--"]
#: Every process the cluster starts carries ``KAIROS_TESTBED=<home>``, and so do its
#: children: the teardown finds them all by it, even without the state file.
MARK = "KAIROS_TESTBED"


class TestbedError(RuntimeError):
    """The test cluster cannot be set up as asked."""

    __test__ = False  # not a pytest test class


class Testbed:
    """A running test cluster: its :class:`TestbedPlan` and the processes started in it.

    ``network_reason`` says why the nodes are on the loopback network (None when they
    have namespaces), ``munge_reason`` why they have no munged of their own (None when
    they have).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, plan: TestbedPlan, processes: Sequence[Detached] = (), *,
                 network_reason: str | None = None, munge_reason: str | None = None) -> None:
        self.plan = plan
        self.processes = list(processes)
        self.network_reason = network_reason
        self.munge_reason = munge_reason

    # -- life cycle -------------------------------------------------------------------

    @classmethod
    def up(cls, home: Path, count: int, *, network: Network | None = None, munge: bool | None = None,
           **plan_options) -> Testbed:
        """Set up ``count`` nodes for the controller whose ``KAIROS_HOME`` is ``home``.

        ``network`` None takes namespaces where they work, else the loopback network;
        ``munge`` None starts per-node munged daemons where MUNGE works.  Asking for
        either explicitly where it cannot work raises :class:`TestbedError` with the
        reason.  ``plan_options`` go to :func:`make_plan` (names, cpus_per_node, ...).
        Leftovers of an earlier cluster of this home are removed first; one still
        running is an error.  Returns the running cluster, munged daemons started and
        waited for; nothing else runs in its nodes yet.
        """
        home = Path(home).resolve()
        _refuse_running(home)
        teardown(home)
        network_reason = netns.probe() if network is not Network.LOOPBACK else "loopback network asked for"
        if network is Network.NAMESPACES and network_reason:
            raise TestbedError(network_reason)
        munge_reason = munged.probe() if munge is not False else "MUNGE not asked for"
        if munge and munge_reason:
            raise TestbedError(munge_reason)
        state_dir(home).mkdir(parents=True, exist_ok=True)
        try:
            bridge = None if network_reason else netns.claim_bridge(str(home))
            _save(home, bridge=bridge and bridge.name)  # from here on, teardown finds it
            plan = make_plan(home, count, bridge=bridge, **plan_options)
            plan = plan if munge_reason else with_munge(plan)
            testbed = cls(plan, network_reason=network_reason, munge_reason=munge_reason)
            testbed._save()
            for node in plan.nodes:
                node.home.mkdir(parents=True, exist_ok=True)
            if bridge:
                testbed._wire(bridge)
            if not munge_reason:
                testbed._start_munged()
            return testbed
        except BaseException:
            teardown(home)
            raise

    @classmethod
    def attach(cls, home: Path) -> Testbed:
        """The test cluster set up earlier (maybe by another process) for ``home``."""
        state = read_json(str(state_dir(Path(home).resolve()) / STATE_NAME))
        if not state or not state.get("plan"):
            raise TestbedError(f"no test cluster is up for {home}")
        return cls(TestbedPlan.from_json(state["plan"]), [Detached.from_json(p) for p in state["processes"]],
                   network_reason=state.get("network_reason"), munge_reason=state.get("munge_reason"))

    def teardown(self, grace: float = 5.0) -> None:
        """Stop everything and remove the network; see :func:`teardown`."""
        teardown(self.plan.home, grace)
        self.processes.clear()

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    # -- processes in nodes -----------------------------------------------------------

    def wrap(self, node: NodePlan | str, argv: Sequence[str]) -> list[str]:
        """``argv`` as it runs inside ``node`` (unchanged on the loopback network)."""
        node = self._node(node)
        if node.netns is None:
            return list(argv)
        shell = _NODE_SHELL.format(cgroups=_cgroup_mounts())
        return ["ip", "netns", "exec", node.netns, "unshare", "--uts", "--",
                "sh", "-c", shell, "kairos-node", node.name, *argv]

    def controller_view(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run from the controller's side (the machine's network) but with the
        cluster's names in /etc/hosts (unchanged on the loopback network)."""
        if self.plan.network is Network.LOOPBACK:
            return list(argv)
        hosts = state_dir(self.plan.home) / HOSTS_NAME
        return [*_PRIVATE_MOUNTS, "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts), *argv]

    def start(self, node: NodePlan | str, argv: Sequence[str], *, log: str = NODE_LOG,
              label: str | None = None, env: Mapping[str, str] | None = None) -> int:
        """Start ``argv`` inside ``node``, detached in a session of its own, from its home,
        output appended to ``<node home>/<log>``; its pid.

        ``env`` defaults to this process's environment with ``KAIROS_HOME`` the node's
        home and no ``KAIROS_SOCKET``, so that what runs in a node reaches the controller
        through the node, never through the controller's own socket.
        """
        node = self._node(node)
        if env is None:
            env = {k: v for k, v in os.environ.items() if k != "KAIROS_SOCKET"} | {"KAIROS_HOME": str(node.home)}
        proc = self._launch(self.wrap(node, argv), label or f"{node.name} {Path(argv[0]).name}",
                            node.home / log, node.home, env)
        return proc.pid

    def start_node(self, node: NodePlan | str, *, kairos: Sequence[str] | None = None,
                   key_file: Path | None = None, env: Mapping[str, str] | None = None) -> int:
        """Start the node daemon of ``node`` (see :func:`node_command`); its pid."""
        node = self._node(node)
        return self.start(node, node_command(self.plan, node, kairos=kairos, key_file=key_file),
                          label=f"{node.name} node", env=env)

    def stop(self, pid: int, grace: float = 5.0) -> None:
        """SIGTERM the process ``pid`` started here (and its process group), SIGKILL after
        ``grace`` s."""
        proc = next((p for p in self.processes if p.pid == pid), None)
        if proc is None:
            raise ValueError(f"pid {pid} was not started by this test cluster")
        detached.stop([proc], grace)
        self.processes.remove(proc)
        self._save()

    def running(self) -> list[Detached]:
        """The processes started here that still run."""
        return [p for p in self.processes if detached.alive(p)]

    # -- inside -------------------------------------------------------------------------

    def _node(self, node: NodePlan | str) -> NodePlan:
        return self.plan.node(node) if isinstance(node, str) else node

    def _launch(self, argv: list[str], label: str, log: Path, cwd: Path,
                env: Mapping[str, str] | None = None) -> Detached:
        env = {**(os.environ if env is None else env), MARK: str(self.plan.home)}
        proc = detached.start(argv, label=label, log=log, cwd=cwd, env=env)
        self.processes.append(proc)
        self._save()
        return proc

    def _save(self) -> None:
        _save(self.plan.home, bridge=self.plan.bridge, plan=self.plan.to_json(),
              processes=[p.to_json() for p in self.processes],
              network_reason=self.network_reason, munge_reason=self.munge_reason)

    def _wire(self, bridge: netns.Bridge) -> None:
        """Each node's namespace on the bridge, and everyone's hosts file."""
        names = dict(self.plan.addresses())
        names.setdefault(socket.gethostname(), self.plan.controller_addr)  # this machine is the controller's host
        hosts = netns.hosts_text(names, _machine_hosts())
        (state_dir(self.plan.home) / HOSTS_NAME).write_text(hosts)
        for node in self.plan.nodes:
            netns.add_node(bridge, node.name, node.index)
            netns.write_etc(node.netns, hosts)

    def _start_munged(self) -> None:
        """The controller's munged and one per node, each on its own address."""
        plan = self.plan
        folder = plan.controller_munge_socket.parent
        munged.prepare(folder)
        self._launch(munged.private_mounts(munged.daemon_argv(folder, plan.controller_addr)),
                     "controller munged", folder / munged.LOG_NAME, state_dir(plan.home))
        for node in plan.nodes:
            folder = node.munge_socket.parent
            munged.prepare(folder)
            argv = munged.daemon_argv(folder, node.addr)
            argv = self.wrap(node, argv) if node.netns else munged.private_mounts(argv)
            self._launch(argv, f"{node.name} munged", folder / munged.LOG_NAME, node.home)
        munged.wait_ready([plan.controller_munge_socket, *(n.munge_socket for n in plan.nodes)])
        for node in plan.nodes:  # what the controller will check: each node signs with its own address
            origin = munged.encode_host(node.munge_socket, plan.controller_munge_socket)
            if origin != node.addr:
                raise munged.MungeError(f"{node.name}'s munged signs with origin {origin}, not {node.addr}")


def node_command(plan: TestbedPlan, node: NodePlan, *, kairos: Sequence[str] | None = None,
                 key_file: Path | None = None) -> list[str]:
    """The node daemon's command line for ``node``: ``kairos node --controller HOST:PORT
    --name ... --mem-mib M`` then ``--munge-socket`` (the node's own munged) or, without
    MUNGE, ``--key-file`` when given.  ``kairos`` is the executable (default: the
    ``kairos`` beside this Python)."""
    argv = [*(kairos or [default_kairos()]), "node", "--controller", plan.controller, "--name", node.name,
            "--home", str(node.home), "--addr", node.addr, "--port", str(node.port), "--cpus", str(node.cpus),
            "--cpu-ids", ",".join(map(str, node.cpu_ids)), "--mem-mib", str(node.mem_mib)]
    if node.munge_socket is not None:
        return [*argv, "--munge-socket", str(node.munge_socket)]
    return [*argv, "--key-file", str(key_file)] if key_file is not None else argv


def default_kairos() -> str:
    beside = Path(sys.executable).parent / "kairos"
    return str(beside) if beside.exists() else "kairos"


def teardown(home: Path, grace: float = 5.0) -> bool:
    """Remove the test cluster of ``home``: its processes (those it started, then anything
    left in its namespaces), namespaces, veths, bridge, /etc/netns folders, state and
    hosts files.  Whatever is already gone is skipped, so it is safe to call twice and
    after a crash.  Whether anything was left to remove.  The node homes stay (logs)."""
    home = Path(home).resolve()
    state = read_json(str(state_dir(home) / STATE_NAME)) or {}
    procs = [Detached.from_json(p) for p in state.get("processes", [])]
    recorded = {p.pid for p in procs}
    procs += [p for p in detached.find_marked(MARK, str(home)) if p.pid not in recorded]
    found = [netns.leftovers(b) for b in netns.owned_bridges(str(home))] if shutil.which("ip") else []
    anything = any(detached.alive(p) for p in procs) or any(found)
    detached.stop(procs, grace)
    detached.stop_pids([pid for leftover in found for ns in leftover.namespaces for pid in netns.pids_in(ns)], grace)
    for leftover in found:
        netns.remove(leftover)
    if found:
        netns.remove_empty_etc()
    for name in (STATE_NAME, HOSTS_NAME):
        (state_dir(home) / name).unlink(missing_ok=True)
    return anything or bool(state)


def state_dir(home: Path) -> Path:
    """Where a controller's test cluster keeps its state and node homes."""
    return home / "testbed"


def _refuse_running(home: Path) -> None:
    state = read_json(str(state_dir(home) / STATE_NAME)) or {}
    recorded = [Detached.from_json(p) for p in state.get("processes", [])]
    live = [p for p in recorded if detached.alive(p)] or detached.find_marked(MARK, str(home))
    if live:
        raise TestbedError(f"a test cluster is already up for {home} ({', '.join(p.label for p in live)}); "
                           "tear it down first")


def _save(home: Path, **state) -> None:
    write_json_atomic(str(state_dir(home) / STATE_NAME), state)


def _machine_hosts() -> str:
    try:
        return Path("/etc/hosts").read_text()
    except OSError:
        return "127.0.0.1\tlocalhost\n::1\tlocalhost\n"


def _cgroup_mounts() -> str:
    """Shell commands that mount again, in a node's private /sys, the cgroup file systems
    this machine has under /sys/fs/cgroup (best effort: a failure leaves them out)."""
    commands = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            point, (fstype, source, options) = left.split()[4], right.split()[:3]
            if point == "/sys/fs/cgroup" or point.startswith("/sys/fs/cgroup/"):
                p, t, s, o = map(shlex.quote, (point, fstype, source, options))
                mount = f"mount -t {t} -o {o} {s} {p} || mount -t {t} {s} {p}"
                commands.append(f"{{ mkdir -p {p}; {mount}; }} 2>/dev/null;")
    return " ".join(commands)
