"""Runs of the twin as people name them: a configuration of policy, runtime estimates,
correction and backfill order, checked against the names the core and the predictors
know, and one replay of a workload under it.

The commands (``kairos simulate``, ``kairos predict evaluate``) and the benchmarks name
runs this way; the names come from the registries (``kairos.core.POLICIES``,
``kairos.predict.PREDICTORS``, ...), so a policy or predictor added there is known here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kairos.core import ORDERS, POLICIES
from kairos.core.corrections import CORRECTIONS
from kairos.core.policy import BACKFILL_ORDERS
from kairos.predict import PREDICTORS
from kairos.sim.replay import ReplayResult, replay
from kairos.sim.workload import Workload

#: What each kind of name is called in messages, where it differs from the kind.
_SPOKEN = {"order": "queue order"}


def known_names(kind: str) -> tuple[str, ...]:
    """The names of a ``kind``: "policy", "order" (queue order), "predictor",
    "correction" or "backfill order"."""
    return tuple({"policy": POLICIES, "order": ORDERS, "predictor": PREDICTORS,
                  "correction": CORRECTIONS, "backfill order": BACKFILL_ORDERS}[kind])


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a known ``kind`` (see ``known_names``), else a ValueError that
    lists the known ones."""
    known = known_names(kind)
    if name not in known:
        raise ValueError(f"unknown {_SPOKEN.get(kind, kind)} {name!r}; "
                         f"choose from: {', '.join(known)}")
    return name


@dataclass(frozen=True)
class RunConfig:
    """One way to run the twin: policy, runtime estimates, correction, backfill order."""

    policy: str
    predictor: str = "user"
    correction: str = "limit"
    backfill_order: str = "queue"
    #: the self-tuner (``kairos.sim.tuning``) chooses predictor, correction and backfill
    #: order as the replay goes (EASY)
    auto: bool = False

    @property
    def label(self) -> str:
        """The policy, then each other setting that is not the default, joined by '+'
        (``easy+ml+shortest``): the syntax ``kairos simulate --compare`` reads."""
        if self.auto:
            return "auto"
        parts = [self.policy]
        if self.predictor != "user":
            parts.append(self.predictor)
        if self.correction != "limit":
            parts.append(self.correction)
        if self.backfill_order != "queue":
            parts.append(self.backfill_order)
        return "+".join(parts)


def run_replay(workload: Workload, config: RunConfig, order: str, forecast_every: int = 0, *,
               progress: Callable[[int], None] | None = None) -> ReplayResult:
    """One replay of ``workload`` under ``config`` and queue ``order``
    (``kairos.sim.replay.replay``)."""
    if config.auto:
        from kairos.core import Cluster
        from kairos.sim.tuning import Tuner

        tuner = Tuner(lambda: Cluster.pool(workload.procs))
        return replay(workload, "easy", order, forecast_every=forecast_every,
                      progress=progress, tuner=tuner)
    predictor = None if config.predictor == "user" else config.predictor
    return replay(workload, config.policy, order, predictor=predictor,
                  correction=config.correction, backfill_order=config.backfill_order,
                  forecast_every=forecast_every, progress=progress)
