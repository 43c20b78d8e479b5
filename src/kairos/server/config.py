"""What ``config.toml`` may change, validated, and the cluster it describes.

The live manager keeps its files in one folder, ``$KAIROS_HOME`` (see
``kairos.server.paths``, which the command-line client reads without this module).
Without a ``config.toml`` there the defaults describe this machine as one node in one
partition named ``local`` (a single-machine cluster has no "debug" or "batch" split to
make), one QoS ``normal``, EASY backfilling in multifactor priority order.

``<home>/config.toml`` (all sections optional)::

    [controller]
    cluster_name = "kairos"
    admins = ["alice"]             # root is always an admin
    kill_wait = 30                 # seconds between SIGTERM and SIGKILL
    policy = "easy"                # fcfs | easy | conservative
    order = "multifactor"          # submit | sjf | f1 | multifactor
    predictor = "last2"            # none | user | last2 | rf | ml | mlq
    backfill_order = "queue"       # queue | shortest | aged | guarded (easy only)
    correction = "limit"           # limit | tsafrir | metastack | remaining (ml, mlq)
    scheduler_interval = 1.0       # seconds between periodic scheduling passes
    forecast_budget = 2.0          # seconds of its time one request's start forecasts may take
    max_script_size = 4194304      # bytes: a larger batch script is refused (Slurm's default)
    auto = false                   # self-tuning: choose predictor, correction, backfill order
    auto_every = "21-00:00:00"     # how often (Slurm durations)
    auto_window = "7-00:00:00"     # on the jobs submitted this far back that have finished
    auto_min_jobs = 200            # fewer finished jobs in the window: no decision
    predictor_history = 20000      # at start the predictor learns the last jobs to finish

    [database]
    url = "postgresql+psycopg://kairos@dbhost/kairos"   # default: sqlite in the home

    [[partition]]                  # one table per partition; the first is the default
    name = "short"                 # unless one says default = true
    nodes = "ALL"                  # a hostlist or a list of node names
    max_time = "4:00:00"           # Slurm durations; bare numbers are minutes
    default_time = "30"
    max_nodes = 1
    priority_tier = 2
    default = true

    [qos.high]
    priority = 0.8                 # the QoS priority factor, 0..1
    max_wall = "1-00:00:00"
    max_jobs_per_user = 4

    [node]                         # what to offer of this machine (default: all of it)
    cpus = 8
    mem_mib = "32G"                # MiB, or a Slurm size with a unit
    gpus = { a100 = 1 }
    features = ["avx512"]

    [cluster]                      # several hosts, each running `kairos node`
    listen = "10.0.0.1:6820"       # where node daemons reach the controller
    auth = "auto"                  # munge when munged answers, else a key file
    key_file = "cluster.key"       # for auth = "key" (mode 0400; `kairos keys`)
    node_timeout = 30              # seconds without a heartbeat: the node is DOWN
    heartbeat_interval = 5
    return_to_service = 1          # 0: stays DOWN; 1: back when it answers again; 2: always
    dynamic_nodes = true           # nodes not listed below may register themselves
    local_node = false             # this machine runs jobs too

    [[nodes]]                      # Slurm's NodeName lines; DOWN until the daemon registers
    name = "n1"
    addr = "10.0.0.11"
    cpus = 64
    mem_mib = "256G"
    gpus = { h200 = 8 }

``auto = true`` lets the self-tuner choose the predictor, the correction and EASY's
backfill order (``kairos.server.tuning``): every ``auto_every`` it replays the jobs of
the last ``auto_window`` that have finished under each candidate configuration, and
switches when one is clearly better; ``kairos tune`` shows its decisions.  It needs
``policy = "easy"``.  ``predictor``, ``correction`` and ``backfill_order`` are then the
tuner's: giving one of them too is a mistake, not a start configuration (the tuner
starts from ``kairos.sim.tuning.START``, and after a restart from the configuration it
applied last).

A starting controller teaches its predictor (with ``auto``, the tuner's panel) the last
``predictor_history`` jobs to finish, read from the accounting database, as it met them
live (``kairos.server.seeding``): a restart does not send it back to users' time limits.
0 starts it from nothing.

The tables are validated by pydantic models (``kairos.server.config_schema``) that read
TOML's notations (Slurm durations, memory sizes, hostlists) into plain values (seconds,
MiB, node names).  A mistake (an unknown key, a bad value) raises ``ConfigError`` naming
the file, the key and what is accepted (``kairos.server.config_errors``), so the
controller refuses to start rather than guess.  ``load_settings`` gathers the home's
paths and the file's values into ``Settings``; ``build_cluster`` makes the core's
``Cluster`` for this machine from them.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from kairos.server.config_errors import explain
from kairos.server.config_schema import (
    DB_SCHEMES, DEFAULT_PARTITION, DEFAULT_PORT, DEFAULT_QOS, LIVE_PREDICTORS, ClusterConfig,
    ConfigFile, ControllerConfig, DatabaseConfig, NodeConfig, NodeOverrides, PartitionConfig,
    QosConfig,
)
from kairos.server.paths import CONFIG_FILE, Home, default_home

__all__ = [
    "CONFIG_FILE", "DB_SCHEMES", "DEFAULT_PARTITION", "DEFAULT_PORT", "DEFAULT_QOS",
    "LIVE_PREDICTORS", "ClusterConfig", "ConfigError", "ConfigFile", "ControllerConfig",
    "DatabaseConfig", "NodeConfig", "NodeOverrides",
    "PartitionConfig", "QosConfig", "Settings", "build_cluster", "default_home",
    "load_settings", "read_config",
]


class ConfigError(ValueError):
    """A ``config.toml`` that cannot be used; the message names file, key and fix."""


# --------------------------------------------------------------------- settings


@dataclass(slots=True)
class Settings:
    """Everything the live manager needs to know before it starts: its files, and
    ``config.toml``'s values (defaults where the file is silent)."""

    home: Path
    config_path: Path
    socket_path: Path
    pid_path: Path
    log_path: Path
    db_url: str
    cluster_name: str
    admins: list[str]
    kill_wait: float  #: seconds between SIGTERM and SIGKILL
    policy: str
    order: str
    predictor: str | None
    scheduler_interval: float  #: seconds between periodic passes
    #: seconds of the controller's time the start forecasts of one request may take
    #: (squeue --start, scontrol show job, sbatch --test-only, kairos why): jobs not
    #: reached by then show no forecast (``kairos.core.forecast``)
    forecast_budget: float
    max_script_size: int  #: bytes: the largest batch script admitted
    backfill_order: str
    correction: str
    auto: bool  #: the self-tuner chooses predictor, correction and backfill order
    auto_every: float  #: seconds between tunings
    auto_window: float  #: seconds of finished jobs each tuning replays
    auto_min_jobs: int  #: the fewest finished jobs a tuning decides on
    #: at start the predictor (or the tuner's panel) learns this many of the last jobs to
    #: finish (``kairos.server.seeding``)
    predictor_history: int
    partitions: list[PartitionConfig]
    qos: dict[str, QosConfig]
    node_overrides: NodeOverrides
    cluster: ClusterConfig | None  #: None: this machine is the whole cluster
    nodes: list[NodeConfig]  #: nodes listed in the file (others may register)

    @classmethod
    def of(cls, home: Home, config: ConfigFile | None = None) -> Settings:
        """The settings of ``home`` with ``config`` (default: no ``config.toml``)."""
        config = ConfigFile() if config is None else config
        return cls(
            home=home.root, config_path=home.config, socket_path=home.socket,
            pid_path=home.pid, log_path=home.log,
            db_url=config.database.url or home.database_url,
            **config.controller.model_dump(),
            partitions=list(config.partition), qos=dict(config.qos),
            node_overrides=config.node, cluster=config.cluster, nodes=list(config.nodes),
        )

    @property
    def default_partition(self) -> PartitionConfig:
        return next(p for p in self.partitions if p.default)

    def partition(self, name: str | None) -> PartitionConfig:
        """The named partition, or the default one for ``None``/"" (KeyError if unknown)."""
        if not name:
            return self.default_partition
        for p in self.partitions:
            if p.name == name:
                return p
        raise KeyError(name)


def load_settings(home: Path | None = None, env: Mapping[str, str] = os.environ) -> Settings:
    """The settings for ``home`` (default: ``default_home(env)``), creating the folder.

    Reads ``<home>/config.toml`` when it exists; raises ``ConfigError`` for a bad one.
    """
    place = Home.prepare(home, env)
    return Settings.of(place, read_config(place))


def read_config(home: Home) -> ConfigFile:
    """``home``'s ``config.toml``, validated (the defaults when there is none), with the
    ``[cluster]`` of a test cluster that ``kairos up --nodes`` started in this home."""
    data, path = _toml(home.config), home.config
    testbed = _toml(home.root / TESTBED_CLUSTER)
    if testbed:
        if "cluster" in data:
            raise ConfigError(f"{path}: this home has a [cluster] of its own, and a test "
                              f"cluster is up in it too ({home.root / TESTBED_CLUSTER}); "
                              f"stop the test cluster with `kairos down`")
        data = {**data, **testbed}
        path = home.root / TESTBED_CLUSTER if not data.keys() - testbed.keys() else path
    try:
        return ConfigFile.model_validate(data, context={"home": home.root})
    except ValidationError as e:
        raise ConfigError(explain(e, data, path)) from None


#: Where ``kairos up --nodes N`` writes the ``[cluster]`` of its test cluster (in the
#: home, beside config.toml; ``kairos down`` removes it with the test cluster).
TESTBED_CLUSTER = "testbed/cluster.toml"


def _toml(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it: {e}") from None


# --------------------------------------------------------------------- the cluster


def build_cluster(settings: Settings, facts):
    """The core's ``Cluster`` for this machine: one node, the configured partitions.

    ``facts`` describes the machine (``kairos.node.facts`` or anything alike): ``name``,
    ``cpus`` (core ids), ``mem_mib`` and ``gpus`` (objects with a ``.type``; ``None``
    counts as type ``"gpu"``).  ``[node]`` overrides may offer less than was detected,
    never more CPUs or GPUs (the agent hands those out by id).
    """
    from kairos.core.cluster import Cluster, Node, Partition

    node = Node(name=facts.name, cpus=_offered_cpus(settings, facts),
                mem=_offered_memory(settings, facts), gpus=_offered_gpus(settings, facts),
                features=frozenset(settings.node_overrides.features))
    partitions = [
        Partition(p.name, nodes=p.nodes,
                  max_time=math.inf if p.max_time is None else p.max_time,
                  max_nodes=p.max_nodes, priority_tier=p.priority_tier, default=p.default)
        for p in settings.partitions
    ]
    try:
        return Cluster([node], partitions)
    except ValueError as e:
        raise ConfigError(f"{settings.config_path}: {e}; this machine's node is "
                          f"{facts.name!r} (leave nodes out, or write nodes = \"ALL\")") from None


def _offered_cpus(settings: Settings, facts) -> int:
    detected = len(facts.cpus)
    wanted = settings.node_overrides.cpus
    if wanted is None:
        return detected
    if wanted > detected:
        raise ConfigError(f"{settings.config_path}: [node] cpus = {wanted}, but this machine "
                          f"has {detected}; offer at most {detected}")
    return wanted


def _offered_memory(settings: Settings, facts) -> int:
    wanted = settings.node_overrides.mem_mib
    return int(facts.mem_mib) if wanted is None else wanted


def _offered_gpus(settings: Settings, facts) -> dict[str, int]:
    detected = dict(Counter(gpu.type or "gpu" for gpu in facts.gpus))
    wanted = settings.node_overrides.gpus
    if wanted is None:
        return detected
    if sum(wanted.values()) > sum(detected.values()):
        raise ConfigError(f"{settings.config_path}: [node] gpus = {wanted}, but this machine "
                          f"has {sum(detected.values())} GPU(s) {detected}; offer at most that many")
    return {gpu_type: n for gpu_type, n in wanted.items() if n > 0}
