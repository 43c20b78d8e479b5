"""``kairos up --nodes N``: a controller and N node daemons on this machine, a real
cluster in miniature (Flux's ``flux start --test-size=N``).

The machinery that places the nodes (network namespaces, addresses, per-node munged) is
``kairos.node.testbed``; this module puts a cluster on it:

1. set the nodes up (``Testbed.up``);
2. write the controller's ``[cluster]`` to ``<home>/testbed/cluster.toml``, which the
   settings read as long as the test cluster is up (``kairos.server.config``): listen on
   the controller's address of the test cluster, MUNGE when each node has its own
   munged, else keys (the cluster key and one key file per node are written); and the
   nodes as ``[[nodes]]``, so their order is fixed;
3. start the controller, then each node daemon, and wait until every node has
   registered.

``kairos down`` stops the controller, the daemons (their jobs with them), the namespaces
and munged, and removes ``cluster.toml``: the home is a one-machine home again.
"""

from __future__ import annotations

import time
from pathlib import Path

from kairos.server.config import TESTBED_CLUSTER

#: Seconds to wait for every node to register.
REGISTRATION_TIMEOUT = 60.0


class TestClusterError(RuntimeError):
    """The test cluster could not be started (the message says what failed)."""

    __test__ = False


def start(home: Path, count: int, *, cpus_per_node: int | None = None,
          mem_mib_per_node: int | None = None, network=None, munge: bool | None = None,
          timeout: float = REGISTRATION_TIMEOUT) -> dict:
    """Start a controller and ``count`` node daemons for ``home``; what was started."""
    from kairos.node.testbed import Testbed, TestbedError
    from kairos.server import daemon
    from kairos.server.config import load_settings

    home = Path(home).resolve()
    if (home / "config.toml").is_file() and "[cluster]" in (home / "config.toml").read_text():
        raise TestClusterError(f"{home / 'config.toml'} has a [cluster] of its own: a test "
                               f"cluster needs a home without one")
    options = {k: v for k, v in (("cpus_per_node", cpus_per_node),
                                 ("mem_mib_per_node", mem_mib_per_node)) if v is not None}
    try:
        bed = Testbed.up(home, count, network=network, munge=munge, **options)
    except TestbedError as e:
        raise TestClusterError(str(e)) from None
    try:
        plan = bed.plan
        keys = None if bed.munge_reason is None else _write_keys(home, plan)
        _write_cluster_file(home, plan, munge=bed.munge_reason is None)
        settings = load_settings(home)
        pid = daemon.start_background(settings)
        for node in plan.nodes:
            bed.start_node(node, key_file=None if keys is None else keys[node.name])
        _wait_registered(settings, [n.name for n in plan.nodes], timeout)
    except Exception:
        stop(home)
        raise
    return {"controller_pid": pid, "controller": plan.controller,
            "nodes": [(n.name, n.addr, n.cpus) for n in plan.nodes],
            "network": "namespaces" if bed.network_reason is None else
                       f"loopback ({bed.network_reason})",
            "auth": "munge" if bed.munge_reason is None else f"key ({bed.munge_reason})"}


def stop(home: Path) -> bool:
    """Stop ``home``'s test cluster (controller, daemons, network); whether one was up."""
    from kairos.node.testbed import teardown
    from kairos.server import daemon
    from kairos.server.config import load_settings

    home = Path(home).resolve()
    cluster_file = home / TESTBED_CLUSTER
    was_up = cluster_file.exists()
    if was_up:
        daemon.stop(load_settings(home))
    removed = teardown(home)
    cluster_file.unlink(missing_ok=True)
    return was_up or removed


def is_up(home: Path) -> bool:
    return (Path(home) / TESTBED_CLUSTER).exists()


def _write_cluster_file(home: Path, plan, *, munge: bool) -> None:
    lines = ["# The test cluster `kairos up --nodes` started; `kairos down` removes it.",
             "[cluster]", f'listen = "{plan.controller}"', "node_timeout = 10",
             "heartbeat_interval = 2", "return_to_service = 1"]
    if munge:
        lines += ['auth = "munge"', f'munge_socket = "{plan.controller_munge_socket}"']
    else:
        lines += ['auth = "key"', 'key_file = "testbed/cluster.key"']
    # Listed, as Slurm lists its NodeName lines: the nodes keep this order (the order
    # jobs are placed in) whichever daemon registers first.
    for node in plan.nodes:
        lines += ["", "[[nodes]]", f'name = "{node.name}"', f'addr = "{node.addr}"',
                  f"cpus = {node.cpus}", f"mem_mib = {node.mem_mib}"]
    path = home / TESTBED_CLUSTER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _write_keys(home: Path, plan) -> dict[str, Path]:
    """The cluster key and each node's own key, for a cluster without MUNGE."""
    from kairos.trust import create_cluster_key, derive_node_key, write_node_key

    cluster_key = home / "testbed" / "cluster.key"
    cluster_key.unlink(missing_ok=True)
    key = create_cluster_key(cluster_key)
    files = {}
    for node in plan.nodes:
        path = Path(node.home) / "node.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_node_key(path, derive_node_key(key, node.name), overwrite=True)
        files[node.name] = path
    return files


def _wait_registered(settings, names: list[str], timeout: float) -> None:
    """Until every node is in service (registered), asking the controller's API."""
    import httpx

    transport = httpx.HTTPTransport(uds=str(settings.socket_path))
    deadline = time.monotonic() + timeout
    waiting = set(names)
    with httpx.Client(transport=transport, base_url="http://kairos") as client:
        while True:
            nodes = client.get("/api/v1/nodes").json()
            waiting = set(names) - {n["name"] for n in nodes
                                    if n["state"] != "down" and n.get("responding", True)}
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TestClusterError(
                    f"node(s) {', '.join(sorted(waiting))} did not register within "
                    f"{timeout:.0f} s; their logs are in {settings.home / 'testbed'}")
            time.sleep(0.2)
