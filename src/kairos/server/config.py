"""Where the live manager keeps its files, and what ``config.toml`` may change.

Everything lives in one folder, ``$KAIROS_HOME`` (default ``~/.kairos``, created private,
mode 0700): the controller's socket, pid file, log and (by default) its SQLite database.
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
    predictor = "last2"            # none | user | last2 | rf | ml
    scheduler_interval = 1.0       # seconds between periodic scheduling passes

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

A mistake (an unknown key, a bad value) raises ``ConfigError`` naming the file, the key
and what is accepted, so the controller refuses to start rather than guess.

This module is imported by the command-line client to find the socket, so it imports
nothing heavy at load time: TOML parsing, Slurm notations and the core are loaded only
when there is a file to read or a cluster to build.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.toml"
DEFAULT_PARTITION = "local"
DEFAULT_QOS = "normal"
#: Database URL schemes Kairos can drive (``postgresql://`` means psycopg 3).
DB_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
#: The predictors a live controller can use (the oracle needs the future).
LIVE_PREDICTORS = ("user", "last2", "rf", "ml")


class ConfigError(ValueError):
    """A ``config.toml`` that cannot be used; the message names file, key and fix."""


@dataclass(frozen=True, slots=True)
class PartitionConfig:
    """A partition as configured; ``default_time`` is applied by the controller."""

    name: str
    nodes: tuple[str, ...] | None = None  #: None: every node
    max_time: float | None = None  #: seconds; None: unlimited
    default_time: float | None = None  #: seconds; None: the partition's max_time
    max_nodes: int | None = None
    priority_tier: int = 1
    default: bool = False


@dataclass(frozen=True, slots=True)
class QosConfig:
    priority: float = 0.0  #: the multifactor QoS factor, 0..1
    max_wall: float | None = None  #: seconds; None: unlimited
    max_jobs_per_user: int | None = None  #: running at once; None: unlimited


@dataclass(frozen=True, slots=True)
class NodeOverrides:
    """What to offer of the local machine instead of what was detected (None: detected)."""

    cpus: int | None = None
    mem_mib: int | None = None
    gpus: dict[str, int] | None = None  #: GPU type -> count
    features: tuple[str, ...] = ()


def _default_partitions() -> list[PartitionConfig]:
    return [PartitionConfig(DEFAULT_PARTITION, default=True)]


def _default_qos() -> dict[str, QosConfig]:
    return {DEFAULT_QOS: QosConfig()}


@dataclass(slots=True)
class Settings:
    """Everything the live manager needs to know before it starts."""

    home: Path
    config_path: Path
    socket_path: Path
    pid_path: Path
    log_path: Path
    db_url: str
    cluster_name: str = "kairos"
    admins: list[str] = field(default_factory=lambda: ["root"])
    kill_wait: float = 30.0  #: seconds between SIGTERM and SIGKILL
    policy: str = "easy"
    order: str = "multifactor"
    predictor: str | None = None
    scheduler_interval: float = 1.0  #: seconds between periodic passes
    partitions: list[PartitionConfig] = field(default_factory=_default_partitions)
    qos: dict[str, QosConfig] = field(default_factory=_default_qos)
    node_overrides: NodeOverrides = field(default_factory=NodeOverrides)

    def is_admin(self, user: str) -> bool:
        return user == "root" or user in self.admins

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


def default_home(env: Mapping[str, str] = os.environ) -> Path:
    """``$KAIROS_HOME``, else ``~/.kairos`` (``~`` from ``$HOME`` when set)."""
    if env.get("KAIROS_HOME"):
        return Path(env["KAIROS_HOME"]).expanduser()
    user_home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return user_home / ".kairos"


def load_settings(home: Path | None = None, env: Mapping[str, str] = os.environ) -> Settings:
    """The settings for ``home`` (default: ``default_home(env)``), creating the folder.

    Reads ``<home>/config.toml`` when it exists; raises ``ConfigError`` for a bad one.
    """
    home = Path(home).expanduser() if home is not None else default_home(env)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home = home.resolve()
    settings = Settings(
        home=home, config_path=home / CONFIG_FILE, socket_path=home / "kairos.sock",
        pid_path=home / "kairos.pid", log_path=home / "kairos.log",
        db_url=f"sqlite:///{home / 'kairos.db'}",
    )
    if settings.config_path.is_file():
        _apply_file(settings)
    return settings


# ------------------------------------------------------------------ reading the file


class _Where:
    """Names a place in the file for error messages: ``<file>: [section] key``."""

    def __init__(self, path: Path, section: str) -> None:
        self.path = path
        self.section = section

    def error(self, key: str, value: Any, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.section} {key} = {_show(value)}: {problem}")

    def check_keys(self, table: Mapping, accepted: Mapping | tuple) -> None:
        unknown = sorted(set(table) - set(accepted))
        if unknown:
            raise ConfigError(f"{self.path}: unknown key {unknown[0]!r} in {self.section}; "
                              f"accepted keys: {', '.join(sorted(accepted))}")


def _show(value: Any) -> str:
    """A value as TOML would spell it (roughly), for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)


def _apply_file(settings: Settings) -> None:
    import tomllib

    path = settings.config_path
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it: {e}") from None
    sections: dict[str, Callable[[Settings, Any, Path], None]] = {
        "controller": _apply_controller, "database": _apply_database,
        "partition": _apply_partitions, "qos": _apply_qos, "node": _apply_node,
    }
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ConfigError(f"{path}: unknown section [{unknown[0]}]; accepted sections: "
                          f"[controller], [database], [[partition]], [qos.<name>], [node]")
    for name, apply in sections.items():
        if name in data:
            apply(settings, data[name], path)


def _table(value: Any, path: Path, section: str) -> Mapping:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {section} must be a table (a [section] header with "
                          f"key = value lines), not {_show(value)}")
    return value


def _apply_controller(settings: Settings, value: Any, path: Path) -> None:
    where = _Where(path, "[controller]")
    table = _table(value, path, "[controller]")
    readers = {
        "cluster_name": _name, "admins": _names, "kill_wait": _non_negative_seconds,
        "policy": _policy, "order": _order, "predictor": _predictor,
        "scheduler_interval": _positive_seconds,
    }
    where.check_keys(table, readers)
    for key, raw in table.items():
        setattr(settings, key, readers[key](raw, where, key))
    if "root" not in settings.admins:
        settings.admins = ["root", *settings.admins]


def _apply_database(settings: Settings, value: Any, path: Path) -> None:
    where = _Where(path, "[database]")
    table = _table(value, path, "[database]")
    where.check_keys(table, ("url",))
    if "url" in table:
        settings.db_url = _db_url(table["url"], where, "url", settings.home)


def _apply_partitions(settings: Settings, value: Any, path: Path) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{path}: partitions are written [[partition]] (double brackets), "
                          f"one table per partition, each with at least a name")
    partitions = [_partition(table, _Where(path, f"[[partition]] #{i}"))
                  for i, table in enumerate(value, 1)]
    names = [p.name for p in partitions]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"{path}: two [[partition]] tables are named {name!r}; names must be unique")
    defaults = [p.name for p in partitions if p.default]
    if len(defaults) > 1:
        raise ConfigError(f"{path}: partitions {', '.join(defaults)} all say default = true; "
                          f"at most one may")
    if not defaults:
        partitions[0] = dataclasses.replace(partitions[0], default=True)
    settings.partitions = partitions


def _partition(table: Mapping, where: _Where) -> PartitionConfig:
    readers = {
        "name": _name, "nodes": _node_names, "max_time": _duration, "default_time": _duration,
        "max_nodes": _max_nodes, "priority_tier": _non_negative_int, "default": _boolean,
    }
    where.check_keys(table, readers)
    if "name" not in table:
        raise ConfigError(f"{where.path}: {where.section} has no name; add name = \"...\"")
    name = _name(table["name"], where, "name")
    where.section = f"[[partition]] {name!r}"
    values = {key: readers[key](raw, where, key) for key, raw in table.items()}
    partition = PartitionConfig(**values)
    if (partition.default_time is not None and partition.max_time is not None
            and partition.default_time > partition.max_time):
        raise where.error("default_time", table["default_time"],
                          f"longer than max_time ({_show(table['max_time'])}); "
                          f"make it at most max_time")
    return partition


def _apply_qos(settings: Settings, value: Any, path: Path) -> None:
    table = _table(value, path, "[qos]")
    qos = _default_qos()
    for name, entry in table.items():
        section = f"[qos.{name}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: {section} must be a table, e.g. [qos.{name}] "
                              f"followed by priority = 0.5")
        where = _Where(path, section)
        readers = {"priority": _factor, "max_wall": _duration,
                   "max_jobs_per_user": _optional_positive_int}
        where.check_keys(entry, readers)
        qos[name] = QosConfig(**{key: readers[key](raw, where, key) for key, raw in entry.items()})
    settings.qos = qos


def _apply_node(settings: Settings, value: Any, path: Path) -> None:
    where = _Where(path, "[node]")
    table = _table(value, path, "[node]")
    readers = {"cpus": _positive_int, "mem_mib": _memory, "gpus": _gpu_counts,
               "features": _feature_names}
    where.check_keys(table, readers)
    settings.node_overrides = NodeOverrides(
        **{key: readers[key](raw, where, key) for key, raw in table.items()})


# --------------------------------------------------------------------- value readers
# Each takes (raw TOML value, where, key) and returns the typed value or raises.


def _name(raw: Any, where: _Where, key: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or any(c in raw for c in " ,\t\n"):
        raise where.error(key, raw, "expected a non-empty name without spaces or commas")
    return raw


def _names(raw: Any, where: _Where, key: str) -> list[str]:
    if not isinstance(raw, list):
        raise where.error(key, raw, 'expected a list of user names, e.g. ["alice", "bob"]')
    return [_name(item, where, key) for item in raw]


def _boolean(raw: Any, where: _Where, key: str) -> bool:
    if not isinstance(raw, bool):
        raise where.error(key, raw, "expected true or false")
    return raw


def _number(raw: Any) -> bool:
    return isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw)


def _non_negative_seconds(raw: Any, where: _Where, key: str) -> float:
    if not _number(raw) or raw < 0:
        raise where.error(key, raw, "expected a number of seconds, 0 or more")
    return float(raw)


def _positive_seconds(raw: Any, where: _Where, key: str) -> float:
    if not _number(raw) or raw <= 0:
        raise where.error(key, raw, "expected a number of seconds greater than 0")
    return float(raw)


def _positive_int(raw: Any, where: _Where, key: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise where.error(key, raw, "expected a whole number, 1 or more")
    return raw


def _non_negative_int(raw: Any, where: _Where, key: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise where.error(key, raw, "expected a whole number, 0 or more")
    return raw


def _optional_positive_int(raw: Any, where: _Where, key: str) -> int | None:
    if isinstance(raw, str) and raw.strip().upper() in ("UNLIMITED", "INFINITE"):
        return None
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise where.error(key, raw, 'expected a whole number, 1 or more, or "UNLIMITED"')
    return raw


_max_nodes = _optional_positive_int


def _factor(raw: Any, where: _Where, key: str) -> float:
    if not _number(raw) or not 0 <= raw <= 1:
        raise where.error(key, raw, "expected a number from 0 to 1")
    return float(raw)


def _choice(raw: Any, where: _Where, key: str, choices) -> str:
    if raw not in choices:
        raise where.error(key, raw, f"expected one of: {', '.join(choices)}")
    return raw


def _policy(raw: Any, where: _Where, key: str) -> str:
    from kairos.core.policy import POLICIES

    return _choice(raw, where, key, tuple(POLICIES))


def _order(raw: Any, where: _Where, key: str) -> str:
    from kairos.core.order import ORDERS

    return _choice(raw, where, key, tuple(ORDERS))


def _predictor(raw: Any, where: _Where, key: str) -> str | None:
    if isinstance(raw, str) and raw.lower() == "none":
        return None
    return _choice(raw, where, key, ("none", *LIVE_PREDICTORS))


def _duration(raw: Any, where: _Where, key: str) -> float | None:
    """A Slurm duration (text, or a whole number of minutes as Slurm reads bare numbers)."""
    from kairos.slurm.timespec import parse_duration

    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        raw = str(raw)
    if not isinstance(raw, str):
        raise where.error(key, raw, 'expected a Slurm duration such as "1-00:00:00", '
                                    '"4:00:00", "30" (minutes) or "UNLIMITED"')
    try:
        return parse_duration(raw)
    except ValueError as e:
        raise where.error(key, raw, str(e)) from None


def _memory(raw: Any, where: _Where, key: str) -> int:
    from kairos.slurm.timespec import parse_memory

    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return raw
    if not isinstance(raw, str):
        raise where.error(key, raw, 'expected MiB as a whole number, or a size such as "32G"')
    try:
        mib = parse_memory(raw)
    except ValueError as e:
        raise where.error(key, raw, str(e)) from None
    if mib < 1:
        raise where.error(key, raw, "expected at least 1 MiB")
    return mib


def _node_names(raw: Any, where: _Where, key: str) -> tuple[str, ...] | None:
    from kairos.slurm.hostlist import expand

    if isinstance(raw, str) and raw.strip().upper() == "ALL":
        return None
    if isinstance(raw, list) and raw:
        return tuple(_name(item, where, key) for item in raw)
    if isinstance(raw, str) and raw.strip():
        try:
            return tuple(expand(raw))
        except ValueError as e:
            raise where.error(key, raw, str(e)) from None
    raise where.error(key, raw, 'expected "ALL", a hostlist such as "node[1-4]", '
                                'or a list of node names')


def _gpu_counts(raw: Any, where: _Where, key: str) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise where.error(key, raw, "expected a table of GPU type = count, e.g. "
                                    "{ a100 = 2 } ({} offers no GPUs)")
    counts = {}
    for gpu_type, count in raw.items():
        counts[gpu_type] = _non_negative_int(count, where, f"{key}.{gpu_type}")
    return counts


def _feature_names(raw: Any, where: _Where, key: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise where.error(key, raw, 'expected a list of feature names, e.g. ["avx512"]')
    return tuple(_name(item, where, key) for item in raw)


def _db_url(raw: Any, where: _Where, key: str, home: Path) -> str:
    """A SQLAlchemy URL Kairos can drive; a relative SQLite path is taken from ``home``."""
    if not isinstance(raw, str) or "://" not in raw:
        raise where.error(key, raw, "expected a database URL: sqlite:///path or "
                                    "postgresql+psycopg://user@host/dbname")
    scheme, _, rest = raw.partition("://")
    if scheme not in DB_SCHEMES:
        raise ConfigError(f"{where.path}: {where.section} {key}: unsupported database "
                          f"{scheme!r}; use sqlite:///path or postgresql+psycopg://user@host/dbname")
    if scheme.startswith("postgresql"):
        return f"postgresql+psycopg://{rest}"
    database = rest[1:] if rest.startswith("/") else rest
    if not database:
        raise where.error(key, raw, "a SQLite URL needs a file: sqlite:///kairos.db "
                                    "(in the Kairos home) or sqlite:////absolute/path.db")
    return f"{scheme}:///{home / Path(database).expanduser()}"


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
