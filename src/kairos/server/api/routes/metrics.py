"""``/metrics``: Prometheus text, under the names the common Slurm exporters use
(``slurm_queue_pending``, ``slurm_cpus_alloc``, ...) so existing dashboards work."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from kairos.server import views
from kairos.server.api.deps import ControllerDep

router = APIRouter(tags=["metrics"])

_STATES = ("pending", "running", "completed", "failed", "cancelled", "timeout",
           "out_of_memory", "node_fail")


@router.get("/metrics", summary="Prometheus metrics (Slurm exporter names)")
async def metrics(controller: ControllerDep) -> Response:
    from prometheus_client import CollectorRegistry, Gauge, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = CollectorRegistry()
    counts = dict.fromkeys(_STATES, 0)
    for name, n in views.state_counts(controller).items():
        counts[name.lower()] = counts.get(name.lower(), 0) + n
    for state in _STATES:
        Gauge(f"slurm_queue_{state}", f"Jobs {state} (finished: within the last 5 minutes)",
              registry=registry).set(counts[state])
    nodes = views.nodes(controller)
    by_state: dict[str, int] = {}
    for n in nodes:
        by_state[n["state"]] = by_state.get(n["state"], 0) + 1
    for state in ("alloc", "idle", "mix", "down", "drain"):
        full = {"alloc": "allocated", "mix": "mixed"}.get(state, state)
        Gauge(f"slurm_nodes_{state}", f"Nodes {full}", registry=registry).set(by_state.get(full, 0))
    total = sum(n["cpus"] for n in nodes)
    alloc = sum(n["cpus_alloc"] for n in nodes)
    Gauge("slurm_cpus_total", "CPUs", registry=registry).set(total)
    Gauge("slurm_cpus_alloc", "CPUs allocated", registry=registry).set(alloc)
    Gauge("slurm_cpus_idle", "CPUs idle", registry=registry).set(total - alloc)
    gpus = sum(sum(n["gpus"].values()) for n in nodes)
    gpus_alloc = sum(sum(n["gpus_alloc"].values()) for n in nodes)
    Gauge("slurm_gpus_total", "GPUs", registry=registry).set(gpus)
    Gauge("slurm_gpus_alloc", "GPUs allocated", registry=registry).set(gpus_alloc)
    Gauge("slurm_gpus_idle", "GPUs idle", registry=registry).set(gpus - gpus_alloc)
    Gauge("slurm_scheduler_queue_size", "Jobs waiting to be scheduled",
          registry=registry).set(counts["pending"])
    Gauge("slurm_scheduler_last_cycle", "Last scheduling round, microseconds",
          registry=registry).set(controller.last_pass_seconds * 1e6)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
