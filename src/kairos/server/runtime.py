"""Build a controller from settings: the store, the nodes, the trust between them.

On one machine (no ``[cluster]`` in config.toml) the controller runs jobs on this machine
with an in-process agent.  At the head of a cluster it starts with the nodes it knows
(``[[nodes]]`` and those the database remembers) and waits for their daemons to
register; the controller's own machine runs jobs too only with ``local_node = true``.
"""

from __future__ import annotations

import getpass
import math

from kairos.server.controller import Controller


def build_controller(settings) -> Controller:
    """Everything a controller needs, recovered from the database."""
    from kairos.predict.fitting import learners
    from kairos.server.recovery import recover
    from kairos.server.seeding import teach
    from kairos.server.store import Store

    store = Store(settings.db_url)
    store.create()
    if settings.cluster is None:
        nodes, cluster = _one_machine(settings)
        trust = None
    else:
        nodes, cluster = _cluster_nodes(settings, store)
        trust = cluster_trust(settings, nodes)
    controller = Controller(settings, store, nodes, cluster,
                            estimator=_estimator(settings.predictor))
    controller.trust = trust
    for status in nodes.status.values():
        if status.responding and status.last_seen is None:
            status.last_seen = controller.clock()
    if trust is not None:
        from kairos.server.sender import Sender

        controller.sender = Sender(nodes, trust)
    # The Slurm command names for jobs on this machine and for salloc's shells here
    # (kairos.node.shims); node daemons write their own.
    from kairos.node.shims import write_shims

    controller.shims = write_shims(settings.home / "bin")
    controller.settings_user = getpass.getuser()
    controller.store_description = _describe_url(settings.db_url)
    for predictor in learners(controller.scheduler.estimator):
        predictor.prepare()  # the libraries' import, here rather than at the first refit
    teach(controller)  # before recovery queues the pending jobs with its answers
    controller.recovered = recover(controller)
    return controller


def _one_machine(settings):
    from kairos.node.agent import LocalAgent
    from kairos.node.facts import detect
    from kairos.server.config import build_cluster
    from kairos.server.nodes import NodeRegistry

    facts = detect()
    agent = LocalAgent(settings.home, facts, kill_wait=settings.kill_wait)
    return NodeRegistry.local(facts.name, agent), build_cluster(settings, facts)


def _cluster_nodes(settings, store):
    """The registry and the core's cluster of a cluster's head: the listed nodes, the
    ones the database remembers, and this machine when it runs jobs too.  Nodes are
    assumed UP (unless an admin said otherwise) and get ``node_timeout`` to register."""
    from kairos.core.cluster import Cluster, Node, NodeState, Partition
    from kairos.server.links import RemoteLink
    from kairos.server.nodes import NOT_RESPONDING, NodeRegistry, NodeStatus

    registry, core_nodes = NodeRegistry(), []
    if settings.cluster.local_node:
        local, local_cluster = _one_machine(settings)
        registry = local
        core_nodes.extend(local_cluster.nodes)
    remembered = {row["name"]: NodeStatus.from_row(row) for row in store.nodes()}
    for listed in settings.nodes:
        status = remembered.pop(listed.name, None)
        if status is None:  # never registered: DOWN until its daemon does
            status = NodeStatus(listed.name, state=NodeState.DOWN, reason=NOT_RESPONDING)
        status.static, status.addr = True, listed.addr
        status.cpus, status.mem_mib = listed.cpus, listed.mem_mib
        status.gpus, status.features = dict(listed.gpus), tuple(listed.features)
        remembered[listed.name] = status
    for status in remembered.values():
        if status.name in registry.status:
            continue
        # Known before the restart: in service as it was, given node_timeout to answer.
        status.responding = status.port is not None
        status.last_seen = None
        registry.add(status, RemoteLink(status.name, status.addr or "", status.port or 0))
        core_nodes.append(Node(status.name, cpus=status.cpus, mem=status.mem_mib,
                               gpus=dict(status.gpus), features=frozenset(status.features),
                               state=status.state))
    partitions = [
        Partition(p.name, nodes=p.nodes, max_time=math.inf if p.max_time is None else p.max_time,
                  max_nodes=p.max_nodes, priority_tier=p.priority_tier, default=p.default)
        for p in settings.partitions
    ]
    return registry, Cluster(core_nodes, partitions, dynamic=True)


def cluster_trust(settings, nodes):
    """How the controller signs its commands and checks its nodes (``kairos.trust``)."""
    from pathlib import Path

    from kairos.trust import controller_trust

    key_file = Path(settings.cluster.key_file)
    if not key_file.is_absolute():
        key_file = settings.home / key_file

    def addresses(name: str):
        status = nodes.status.get(name)
        return [status.addr] if status is not None and status.addr else None

    return controller_trust(auth=settings.cluster.auth,
                            key_file=key_file if key_file.exists() else None,
                            munge_socket=settings.cluster.munge_socket,
                            node_addresses=addresses)


def _estimator(name: str | None):
    """The runtime predictor the scheduler plans with (None: users' time limits).  It
    learns from every job that ends, like in the twin, and at start from those the
    database holds (``kairos.server.seeding``); ``kairos predict evaluate`` shows which
    predictor suits a workload."""
    if name in (None, "none", "user"):
        return None
    from kairos.predict import make_predictor

    return make_predictor(name)


def _describe_url(url: str) -> str:
    """The database URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
