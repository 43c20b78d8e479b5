"""The test cluster on one machine: its plan, its network namespaces, munged daemons,
processes started inside nodes, and a teardown that leaves the machine as it was.

The namespace tests need root and working ``ip netns``; the MUNGE ones a working munged.
A tiny HTTP server answering with its node's name stands in for the node daemon: when
every node answers at its address and by its name, from the machine and from another
node, the nodes talk real TCP to each other.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from kairos.node import detached, munged, netns
from kairos.node.testbed import Testbed, TestbedError, node_command, state_dir, teardown
from kairos.node.testbed_plan import Network, TestbedPlan, cpu_shares, make_plan

NETNS_REASON = netns.probe()
MUNGE_REASON = munged.probe()
needs_netns = pytest.mark.skipif(NETNS_REASON is not None, reason=f"no network namespaces: {NETNS_REASON}")
needs_munge = pytest.mark.skipif(MUNGE_REASON is not None, reason=f"no per-node munged: {MUNGE_REASON}")

#: The stand-in node daemon: answers every GET with the node's name.
STANDIN = """
import http.server, sys
name, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer((addr, port), Answer).serve_forever()
"""
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
PYTHON = [sys.executable, "-I", "-S"]


def start_standins(testbed: Testbed) -> list[int]:
    pids = [testbed.start(n, [*PYTHON, "-c", STANDIN, n.name, n.addr, str(n.port)], log="standin.log")
            for n in testbed.plan.nodes]
    for node in testbed.plan.nodes:
        wait_listening(node.addr, node.port)
    return pids


def wait_listening(addr: str, port: int, timeout: float = 5.0) -> None:
    give_up = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > give_up:
                raise
            time.sleep(0.02)


def wait_for_file(path: Path, timeout: float = 5.0) -> None:
    give_up = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < give_up, f"{path} did not appear"
        time.sleep(0.02)


def fetch(url: str) -> str:
    return urllib.request.urlopen(url, timeout=5).read().decode()


def fetch_via(argv: list[str]) -> str:
    """Run ``argv`` (a command wrapped to run in a node, or from the controller's side);
    what it printed."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def listing() -> set[str]:
    """Every name in ``ip netns list``, ``ip -o link`` and /etc/netns."""
    namespaces = {line.split()[0] for line in run("ip", "netns", "list").splitlines() if line.strip()}
    links = {line.split(":")[1].strip().split("@")[0] for line in run("ip", "-o", "link", "show").splitlines()}
    etc = set(os.listdir(netns.NETNS_ETC)) if netns.NETNS_ETC.is_dir() else set()
    return namespaces | links | etc


def ours(names: set[str], home: Path, bridge: str) -> set[str]:
    """The ``names`` of the cluster of ``home`` on ``bridge``.  Once that bridge belongs to
    another cluster (tests elsewhere may run at the same time), its names are not ours."""
    if netns.leftovers(bridge).bridge and bridge not in netns.owned_bridges(str(home)):
        return set()
    return {n for n in names if n == bridge or n.startswith((f"{bridge}-", f"{bridge}v"))}


def traces(home: Path, bridge: str | None) -> set[str]:
    """What is left of the cluster of ``home``: its network names, and the processes
    working in its folders (all the cluster's processes start there)."""
    network = ours(listing(), home, bridge) if bridge else set()
    return network | {f"pid {pid}" for pid in processes_under(home)}


def processes_under(home: Path) -> set[int]:
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(home):
                found.add(int(pid))
        except OSError:
            continue
    return found


@pytest.fixture
def home():
    """A controller's home outside pytest's temporary folders, which another pytest run
    on this machine may delete under a running cluster."""
    folder = Path(tempfile.mkdtemp(prefix="kairos-testbed-"))
    yield folder / "home"
    teardown(folder / "home", grace=1)  # after a failed test
    shutil.rmtree(folder, ignore_errors=True)


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


# -- the plan -----------------------------------------------------------------------------


def bridge(third: int) -> netns.Bridge:
    return netns.Bridge(f"ktb{third}", ipaddress.IPv4Network(f"10.78.{third}.0/24"))


def test_plan_on_the_loopback_network(tmp_path):
    plan = make_plan(tmp_path, 3, cores=[0, 1, 2, 3, 4, 5, 6, 7], mem_mib=3000)
    assert [n.name for n in plan.nodes] == ["kn1", "kn2", "kn3"]
    assert [n.home for n in plan.nodes] == [tmp_path / "testbed" / f"kn{i}" for i in (1, 2, 3)]
    assert {n.addr for n in plan.nodes} == {plan.controller_addr} == {"127.0.0.1"}
    ports = [n.port for n in plan.nodes] + [plan.controller_port]
    assert len(set(ports)) == 4
    assert plan.network is Network.LOOPBACK and all(n.netns is None for n in plan.nodes)
    assert [n.mem_mib for n in plan.nodes] == [1000, 1000, 1000]


def test_plan_with_namespaces_gives_each_node_an_address(tmp_path):
    plan = make_plan(tmp_path, 3, cores=[0, 1], mem_mib=1000, bridge=bridge(9), names=["alpha", "beta", "gamma"],
                     controller_name="ctl")
    assert plan.controller == "10.78.9.1:6820"
    assert [(n.name, n.addr, n.port, n.netns) for n in plan.nodes] == [
        ("alpha", "10.78.9.11", 6818, "ktb9-alpha"), ("beta", "10.78.9.12", 6818, "ktb9-beta"),
        ("gamma", "10.78.9.13", 6818, "ktb9-gamma")]
    assert plan.addresses() == {"ctl": "10.78.9.1", "alpha": "10.78.9.11", "beta": "10.78.9.12",
                                "gamma": "10.78.9.13"}


def test_cores_are_dealt_round_robin():
    assert cpu_shares(list(range(8)), 3) == [(3, (0, 3, 6)), (3, (1, 4, 7)), (2, (2, 5))]
    assert cpu_shares([0, 1], 2) == [(1, (0,)), (1, (1,))]


def test_more_nodes_than_cores_share_cores_one_each():
    assert cpu_shares([4, 5], 5) == [(1, (4,)), (1, (5,)), (1, (4,)), (1, (5,)), (1, (4,))]


def test_a_fixed_cpu_count_per_node_shares_cores_when_they_run_out():
    assert cpu_shares([0, 1, 2, 3], 2, cpus_per_node=2) == [(2, (0, 1)), (2, (2, 3))]
    assert cpu_shares([0, 1, 2], 3, cpus_per_node=2) == [(2, (0, 1)), (2, (0, 2)), (2, (1, 2))]
    for impossible in (0, 3):  # no CPU, or more than there are cores
        with pytest.raises(ValueError, match="1 CPU at least and 2"):
            cpu_shares([0, 1], 1, cpus_per_node=impossible)


@pytest.mark.parametrize("names, message", [(["kn1", "kn1"], "repeat"), (["kn1", "Kn_2"], "not a node name"),
                                            (["kn1"], "1 node names for 2 nodes"),
                                            (["kn1", "ctl"], "names the controller")])
def test_bad_node_names_are_refused(tmp_path, names, message):
    with pytest.raises(ValueError, match=message):
        make_plan(tmp_path, 2, names=names, cores=[0], mem_mib=100, controller_name="ctl")


def test_plan_survives_its_state_file(tmp_path):
    plan = make_plan(tmp_path, 2, cores=[0, 1], mem_mib=100, bridge=bridge(4))
    assert TestbedPlan.from_json(plan.to_json()) == plan


def test_node_command_line(tmp_path):
    plan = make_plan(tmp_path, 2, cores=[0, 1, 2, 3], mem_mib=2048, bridge=bridge(5))
    kn2 = plan.node("kn2")
    assert node_command(plan, kn2, kairos=["kairos"], key_file=Path("/k/kn2.key")) == [
        "kairos", "node", "--controller", "10.78.5.1:6820", "--name", "kn2", "--home", str(kn2.home),
        "--addr", "10.78.5.12", "--port", "6818", "--cpus", "2", "--cpu-ids", "1,3", "--mem-mib", "1024",
        "--key-file", "/k/kn2.key"]


def test_hosts_file_keeps_the_machine_lines_and_adds_the_cluster():
    base = "127.0.0.1 localhost\n127.0.1.1 vm kn1\n::1 localhost ip6-localhost\n"
    text = netns.hosts_text({"vm": "10.78.3.1", "kn1": "10.78.3.11"}, base)
    assert text.splitlines() == ["127.0.0.1 localhost", "::1 localhost ip6-localhost", "# the test cluster",
                                 "10.78.3.1\tvm", "10.78.3.11\tkn1"]


# -- namespaces ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """Three nodes in namespaces, each running the stand-in daemon."""
    if NETNS_REASON is not None:
        pytest.skip(f"no network namespaces: {NETNS_REASON}")
    folder = Path(tempfile.mkdtemp(prefix="kairos-testbed-"))
    testbed = Testbed.up(folder / "home", 3)
    try:
        start_standins(testbed)
        yield testbed
    finally:
        testbed.teardown(grace=2)
        shutil.rmtree(folder, ignore_errors=True)


@needs_netns
def test_every_node_answers_at_its_address_from_the_machine(cluster):
    for node in cluster.plan.nodes:
        assert fetch(f"http://{node.addr}:{node.port}/") == node.name


@needs_netns
def test_every_node_answers_by_name_from_the_controllers_side(cluster):
    for node in cluster.plan.nodes:
        url = f"http://{node.name}:{node.port}/"
        assert fetch_via(cluster.controller_view([*PYTHON, "-c", FETCH, url])) == node.name


@needs_netns
def test_nodes_reach_each_other_by_name_and_address(cluster):
    kn1 = cluster.plan.node("kn1")
    for node in cluster.plan.nodes[1:]:
        for host in (node.name, node.addr):
            url = f"http://{host}:{node.port}/"
            assert fetch_via(cluster.wrap(kn1, [*PYTHON, "-c", FETCH, url])) == node.name


@needs_netns
def test_a_node_reaches_the_controller_by_the_machines_name(cluster):
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"controller")

        def log_message(self, *args):
            pass

    server = HTTPServer((cluster.plan.controller_addr, 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://{cluster.plan.controller_name}:{server.server_port}/"
        assert fetch_via(cluster.wrap("kn3", [*PYTHON, "-c", FETCH, url])) == "controller"
    finally:
        server.shutdown()
        server.server_close()


@needs_netns
def test_inside_a_node_its_name_is_the_host_name_and_resolves_to_its_address(cluster):
    kn2 = cluster.plan.node("kn2")
    out = fetch_via(cluster.wrap(kn2, ["sh", "-c", "hostname; getent hosts kn2 kn3 localhost"]))
    assert out.split("\n")[0] == "kn2"
    assert kn2.addr in out and cluster.plan.node("kn3").addr in out and "127.0.0.1" in out


@needs_netns
@needs_munge
def test_each_nodes_munged_signs_with_its_address(cluster):
    for node in cluster.plan.nodes:
        assert munged.encode_host(node.munge_socket, cluster.plan.controller_munge_socket) == node.addr
    assert munged.encode_host(cluster.plan.controller_munge_socket) == cluster.plan.controller_addr


@needs_netns
def test_stop_ends_a_process_started_in_a_node(cluster):
    kn1 = cluster.plan.node("kn1")
    ready = kn1.home / "stubborn.ready"
    pid = cluster.start(kn1, ["sh", "-c", f"trap '' TERM; touch {ready}; while :; do sleep 0.05; done"],
                        log="stubborn.log")
    wait_for_file(ready)
    started = time.monotonic()
    cluster.stop(pid, grace=0.3)
    assert 0.3 <= time.monotonic() - started < 3
    assert pid not in [p.pid for p in cluster.running()]
    assert not Path(f"/proc/{pid}").exists()


RECORD_ARGS = """
import json, os, sys, time
json.dump({"argv": sys.argv[1:], "home": os.environ.get("KAIROS_HOME")}, open("node-args.tmp", "w"))
os.replace("node-args.tmp", "node-args.json")
time.sleep(30)
"""


@needs_netns
def test_a_node_daemon_starts_in_its_node_with_its_command_line(cluster):
    kn2 = cluster.plan.node("kn2")
    pid = cluster.start_node(kn2, kairos=[*PYTHON, "-c", RECORD_ARGS])
    try:
        wait_for_file(kn2.home / "node-args.json")
        seen = json.loads((kn2.home / "node-args.json").read_text())
    finally:
        cluster.stop(pid, grace=1)
    assert seen["argv"] == node_command(cluster.plan, kn2, kairos=["kairos"])[1:]
    assert seen["home"] == str(kn2.home)
    if MUNGE_REASON is None:
        assert seen["argv"][-2:] == ["--munge-socket", str(kn2.munge_socket)]


@needs_netns
def test_two_clusters_live_side_by_side(cluster, home):
    with Testbed.up(home, 1, munge=False) as other:
        assert other.plan.bridge != cluster.plan.bridge
        assert not ipaddress.IPv4Network(f"{other.plan.controller_addr}/24", strict=False).overlaps(
            ipaddress.IPv4Network(f"{cluster.plan.controller_addr}/24", strict=False))
        start_standins(other)
        assert fetch(f"http://{other.plan.nodes[0].addr}:{other.plan.nodes[0].port}/") == "kn1"
    node = cluster.plan.node("kn1")
    assert fetch(f"http://{node.addr}:{node.port}/") == "kn1"


@needs_netns
def test_a_second_cluster_for_the_same_home_is_refused(cluster):
    with pytest.raises(TestbedError, match="already up"):
        Testbed.up(cluster.plan.home, 1)


# -- teardown -----------------------------------------------------------------------------


@needs_netns
def test_teardown_leaves_nothing_and_is_safe_twice(home):
    before = listing()
    testbed = Testbed.up(home, 2)
    start_standins(testbed)
    bridge = testbed.plan.bridge
    assert ours(listing() - before, home, bridge) and processes_under(home)
    assert teardown(home, grace=2) is True
    assert ours(listing() - before, home, bridge) == set() and processes_under(home) == set()
    assert teardown(home, grace=2) is False
    assert traces(home, bridge) == set()


CRASHING = """
import sys, time
from pathlib import Path
from kairos.node.testbed import Testbed
testbed = Testbed.up(Path(sys.argv[1]), 2, munge={munge})
for n in testbed.plan.nodes:
    testbed.start(n, ["sleep", "60"])
print(testbed.plan.bridge, flush=True)
time.sleep(60)
"""


def crash_a_cluster(home: Path, *, munge: bool | None = None) -> str:
    """Bring a cluster up in a process, kill that process outright; the cluster's bridge."""
    child = subprocess.Popen([sys.executable, "-c", CRASHING.format(munge=munge), str(home)],
                             stdout=subprocess.PIPE, text=True)
    try:
        bridge = child.stdout.readline().strip()
        assert bridge.startswith(netns.PREFIX)
        return bridge
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()


@needs_netns
def test_a_crashed_clusters_leftovers_go_with_the_next_teardown(home):
    bridge = crash_a_cluster(home)
    left = traces(home, bridge)
    assert {bridge, f"{bridge}-kn1", f"{bridge}-kn2"} <= left and any(t.startswith("pid") for t in left)
    assert teardown(home, grace=2) is True
    assert traces(home, bridge) == set()


@needs_netns
def test_leftovers_are_found_without_the_state_file(home):
    bridge = crash_a_cluster(home)
    (state_dir(home) / "state.json").unlink()
    teardown(home, grace=2)
    assert traces(home, bridge) == set()


@needs_netns
def test_bringing_a_cluster_up_clears_a_crashed_ones_leftovers(home):
    crashed = crash_a_cluster(home, munge=False)
    with pytest.raises(TestbedError, match="already up"):
        Testbed.up(home, 1)  # its sleeps still run: it may not be dead
    sleeps = Testbed.attach(home).running()
    for proc in sleeps:
        os.kill(proc.pid, signal.SIGKILL)
    assert not detached.wait_gone(sleeps, 5.0)
    with Testbed.up(home, 1, munge=False) as testbed:
        new = testbed.plan.bridge
        assert ours(listing(), home, crashed) <= {new, f"{new}-kn1", f"{new}v1"}  # the same bridge may be reused


# -- the loopback network -------------------------------------------------------------------


def test_loopback_nodes_answer_on_their_own_ports(home):
    with Testbed.up(home, 3, network=Network.LOOPBACK) as testbed:
        assert testbed.network_reason and testbed.plan.bridge is None
        start_standins(testbed)
        for node in testbed.plan.nodes:
            assert fetch(f"http://127.0.0.1:{node.port}/") == node.name
        if testbed.munge_reason is None:
            assert munged.encode_host(testbed.plan.node("kn2").munge_socket) == "127.0.0.1"
    assert traces(home, None) == set()


def test_without_root_the_nodes_share_the_loopback_network_and_say_why(home, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(TestbedError, match="network namespaces need root"):
        Testbed.up(home, 1, network=Network.NAMESPACES)
    with pytest.raises(TestbedError, match="munged as the munge user needs root"):
        Testbed.up(home, 1, munge=True)
    with Testbed.up(home, 2) as testbed:
        assert testbed.plan.network is Network.LOOPBACK
        assert testbed.network_reason == "network namespaces need root"
        assert testbed.munge_reason == "starting munged as the munge user needs root"
        start_standins(testbed)
        assert [fetch(f"http://127.0.0.1:{n.port}/") for n in testbed.plan.nodes] == ["kn1", "kn2"]
        command = node_command(testbed.plan, testbed.plan.nodes[0], key_file=home / "node.key")
        assert command[-2:] == ["--key-file", str(home / "node.key")]
    assert traces(home, None) == set()
