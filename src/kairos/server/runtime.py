"""Build a controller from settings: the store, this machine's facts, the agent."""

from __future__ import annotations

import getpass

from kairos.server.controller import Controller


def build_controller(settings) -> Controller:
    """Everything a controller needs, recovered from the database."""
    from kairos.node.agent import LocalAgent
    from kairos.node.facts import detect
    from kairos.server.config import build_cluster
    from kairos.server.nodes import NodeRegistry
    from kairos.server.recovery import recover
    from kairos.server.store import Store

    facts = detect()
    store = Store(settings.db_url)
    store.create()
    agent = LocalAgent(settings.home, facts, kill_wait=settings.kill_wait)
    cluster = build_cluster(settings, facts)
    nodes = NodeRegistry.local(facts.name, agent)
    controller = Controller(settings, store, nodes, cluster,
                            estimator=_estimator(settings.predictor))
    controller.settings_user = getpass.getuser()
    controller.store_description = _describe_url(settings.db_url)
    controller.recovered = recover(controller)
    return controller


def _estimator(name: str | None):
    """The runtime predictor the scheduler plans with (None: users' time limits).  It
    learns from every job that ends, like in the twin; ``kairos predict evaluate``
    shows which predictor suits a workload."""
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
