"""The tables ``config.toml`` may hold, as pydantic models that read TOML's notations.

One model per table (``ControllerConfig``, ``DatabaseConfig``, ``PartitionConfig``,
``QosConfig``, ``NodeOverrides``) and ``ConfigFile`` for the whole file.  They refuse
unknown keys, take strict types where TOML gives them (a ``"5"`` is not a number), and
turn Slurm's notations into plain values: durations into seconds (bare integers are
minutes), memory sizes into MiB, hostlists into node names.  Rules across keys live in
model and field validators (``default_time`` within ``max_time``, unique partition
names, one default partition, ``root`` always an admin, the planning keys that go
together and ``auto``, which chooses them).

Every refusal says what is accepted: validators raise ``ValueError`` with that text, and
each field's ``description`` says it for pydantic's own checks, so that
``kairos.server.config_errors`` can speak in the file's words.  ``kairos.server.config``
shows an example file and turns the result into ``Settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, ModelWrapValidatorHandler, StrictBool,
    StrictFloat, StrictInt, ValidationInfo, field_validator, model_validator,
)
from pydantic_core import PydanticCustomError

from kairos.core.corrections import CORRECTIONS
from kairos.core.order import ORDERS
from kairos.core.policy import BACKFILL_ORDERS, POLICIES
from kairos.slurm.hostlist import expand
from kairos.slurm.timespec import parse_duration, parse_memory

DEFAULT_PARTITION = "local"
DEFAULT_QOS = "normal"
#: Slurm's default max_script_size (SchedulerParameters): the largest batch script, bytes.
MAX_SCRIPT_SIZE = 4 * 1024 * 1024
#: Database URL schemes Kairos can drive (``postgresql://`` means psycopg 3).
DB_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg")
#: The predictors a live controller can use (the oracle needs the future).
LIVE_PREDICTORS = ("user", "last2", "rf", "ml", "mlq")
#: The predictors that learn how long jobs outlive their estimates (``remaining``).
REMAINING_PREDICTORS = ("ml", "mlq")
#: How many of the last jobs to finish a starting controller teaches its predictor
#: (``kairos.server.seeding``): ml refits on its last 20,000, so more would not reach
#: its model.
PREDICTOR_HISTORY = 20_000
_DAY = 86400.0
#: The error type of validators whose message must not repeat the value (see its use).
VALUE_NOT_SHOWN = "value_not_shown"
_UNLIMITED_WORDS = ("UNLIMITED", "INFINITE")


# ------------------------------------------------------------- TOML's notations
# Before-validators: each takes the raw TOML value and returns the typed one, or raises
# ValueError saying what is accepted (pydantic reports it at the key's location).


def is_name(raw: Any) -> bool:
    return isinstance(raw, str) and bool(raw.strip()) and not any(c in raw for c in " ,\t\n")


def _name(raw: Any) -> str:
    if not is_name(raw):
        raise ValueError("expected a non-empty name without spaces or commas")
    return raw


def _duration(raw: Any) -> float | None:
    """A Slurm duration (text, or a whole number of minutes as Slurm reads bare numbers)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValueError('expected a Slurm duration such as "1-00:00:00", "4:00:00", '
                         '"30" (minutes) or "UNLIMITED"')
    return parse_duration(raw)


def _unlimited_as_none(raw: Any) -> Any:
    if isinstance(raw, str) and raw.strip().upper() in _UNLIMITED_WORDS:
        return None
    return raw


def _memory(raw: Any) -> Any:
    """A Slurm size with a unit ("32G") in MiB; whole numbers are MiB already."""
    if not isinstance(raw, str):
        return raw
    mib = parse_memory(raw)
    if mib < 1:
        raise ValueError("expected at least 1 MiB")
    return mib


def _hostlist(raw: Any) -> Any:
    """``"ALL"`` is every node (None); other text is a hostlist; lists are left to the type."""
    if isinstance(raw, str) and raw.strip().upper() == "ALL":
        return None
    if isinstance(raw, str) and raw.strip():
        return tuple(expand(raw))
    return raw


def _choice(raw: Any, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ValueError(f"expected one of: {', '.join(choices)}")
    return raw


def _positive_duration(raw: Any) -> float:
    seconds = _duration(raw)
    if seconds is None or not 0 < seconds < float("inf"):
        raise ValueError('expected a Slurm duration longer than 0, such as "7-00:00:00" or '
                         '"12:00:00" (not UNLIMITED)')
    return seconds


Name = Annotated[str, BeforeValidator(_name)]
Duration = Annotated[float | None, BeforeValidator(_duration)]
PositiveDuration = Annotated[float, BeforeValidator(_positive_duration)]
CountOrUnlimited = Annotated[StrictInt | None, BeforeValidator(_unlimited_as_none)]
_DURATION = "a Slurm duration"
_COUNT_OR_UNLIMITED = 'a whole number, 1 or more, or "UNLIMITED"'


# ------------------------------------------------------------------- the tables


class _Table(BaseModel):
    """A table of ``config.toml``: unknown keys are refused, values frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ControllerConfig(_Table):
    """``[controller]``: how the controller schedules and whom it obeys."""

    cluster_name: Name = Field("kairos", description="a name without spaces or commas")
    admins: list[Name] = Field(default_factory=lambda: ["root"],
                               description='a list of user names, e.g. ["alice", "bob"]')
    kill_wait: StrictFloat = Field(30.0, ge=0, allow_inf_nan=False,
                                   description="a number of seconds, 0 or more")
    policy: str = Field("easy", description="one of: " + ", ".join(POLICIES))
    order: str = Field("multifactor", description="one of: " + ", ".join(ORDERS))
    predictor: str | None = Field(None, description="one of: none, " + ", ".join(LIVE_PREDICTORS))
    scheduler_interval: StrictFloat = Field(1.0, gt=0, allow_inf_nan=False,
                                            description="a number of seconds greater than 0")
    forecast_budget: StrictFloat = Field(2.0, gt=0, allow_inf_nan=False,
                                         description="a number of seconds greater than 0")
    max_script_size: StrictInt = Field(MAX_SCRIPT_SIZE, ge=1,
                                       description="a number of bytes, 1 or more")
    backfill_order: str = Field("queue", description="one of: " + ", ".join(BACKFILL_ORDERS))
    correction: str = Field("limit", description="one of: " + ", ".join(CORRECTIONS))
    auto: StrictBool = Field(False, description="true or false")
    auto_every: PositiveDuration = Field(21 * _DAY, description=_DURATION)
    auto_window: PositiveDuration = Field(7 * _DAY, description=_DURATION)
    auto_min_jobs: StrictInt = Field(200, ge=1, description="a whole number, 1 or more")
    predictor_history: StrictInt = Field(PREDICTOR_HISTORY, ge=0,
                                         description="a whole number of jobs, 0 or more")

    @field_validator("admins")
    @classmethod
    def _root_is_always_an_admin(cls, admins: list[str]) -> list[str]:
        return admins if "root" in admins else ["root", *admins]

    @field_validator("policy", mode="before")
    @classmethod
    def _known_policy(cls, raw: Any) -> str:
        return _choice(raw, tuple(POLICIES))

    @field_validator("order", mode="before")
    @classmethod
    def _known_order(cls, raw: Any) -> str:
        return _choice(raw, tuple(ORDERS))

    @field_validator("predictor", mode="before")
    @classmethod
    def _live_predictor(cls, raw: Any) -> str | None:
        if isinstance(raw, str) and raw.lower() == "none":
            return None
        return _choice(raw, ("none", *LIVE_PREDICTORS))

    @field_validator("backfill_order", mode="before")
    @classmethod
    def _known_backfill_order(cls, raw: Any) -> str:
        return _choice(raw, BACKFILL_ORDERS)

    @field_validator("correction", mode="before")
    @classmethod
    def _known_correction(cls, raw: Any) -> str:
        return _choice(raw, tuple(CORRECTIONS))

    @model_validator(mode="after")
    def _planning_keys_agree(self) -> ControllerConfig:
        """Keys that only make sense together; ``auto`` chooses the planning keys."""
        if self.auto:
            if self.policy != "easy":
                raise ValueError(f'auto = true tunes EASY backfilling, but policy = '
                                 f'"{self.policy}"; set policy = "easy" (or leave it out), '
                                 f'or auto = false')
            chosen = [k for k in ("predictor", "correction", "backfill_order")
                      if k in self.model_fields_set]
            if chosen:
                raise ValueError(f"auto = true chooses the predictor, correction and "
                                 f"backfill_order itself; remove {', '.join(chosen)} from "
                                 f"[controller], or set auto = false")
        if self.policy == "fcfs" and self.backfill_order != "queue":
            raise ValueError(f'backfill_order = "{self.backfill_order}": policy = "fcfs" '
                             f'does not backfill; set policy = "easy", or leave '
                             f'backfill_order out')
        if self.backfill_order == "guarded" and self.policy != "easy":
            raise ValueError(f'backfill_order = "guarded" is EASY\'s, not policy = '
                             f'"{self.policy}"\'s (conservative already promises every job '
                             f'a start); set policy = "easy", or another backfill_order')
        if self.correction == "remaining" and self.predictor not in REMAINING_PREDICTORS:
            raise ValueError('correction = "remaining" reads what the predictor learned of '
                             'jobs that outlive their estimates; set predictor = "ml" or '
                             '"mlq", or another correction')
        return self


class DatabaseConfig(_Table):
    """``[database]``: where jobs are kept (None: SQLite in the home)."""

    url: str | None = Field(None, description="a database URL: sqlite:///path or "
                                              "postgresql+psycopg://user@host/dbname")

    @field_validator("url", mode="before")
    @classmethod
    def _drivable_url(cls, raw: Any, info: ValidationInfo) -> str:
        """A SQLAlchemy URL Kairos can drive; a relative SQLite path is taken from the
        home given as validation context (``{"home": Path}``)."""
        if not isinstance(raw, str) or "://" not in raw:
            raise ValueError("expected a database URL: sqlite:///path or "
                             "postgresql+psycopg://user@host/dbname")
        scheme, _, rest = raw.partition("://")
        if scheme not in DB_SCHEMES:
            # Not "url = <value>": an unknown URL may carry a password.
            raise PydanticCustomError(
                VALUE_NOT_SHOWN, f"unsupported database {scheme!r}; use sqlite:///path "
                                  f"or postgresql+psycopg://user@host/dbname")
        if scheme.startswith("postgresql"):
            return f"postgresql+psycopg://{rest}"
        database = rest[1:] if rest.startswith("/") else rest
        if not database:
            raise ValueError("a SQLite URL needs a file: sqlite:///kairos.db "
                             "(in the Kairos home) or sqlite:////absolute/path.db")
        home = Path((info.context or {}).get("home", ""))
        return f"{scheme}:///{home / Path(database).expanduser()}"


class PartitionConfig(_Table):
    """A ``[[partition]]`` table.  Times are seconds (``max_time`` None: unlimited;
    ``default_time`` None: ``max_time``, applied by the controller); ``nodes`` None is
    every node."""

    name: Name = Field(description="a name without spaces or commas")
    nodes: Annotated[tuple[Name, ...] | None, BeforeValidator(_hostlist)] = Field(
        None, min_length=1,
        description='"ALL", a hostlist such as "node[1-4]", or a list of node names')
    max_time: Duration = Field(None, description=_DURATION)
    default_time: Duration = Field(None, description=_DURATION)
    max_nodes: CountOrUnlimited = Field(None, ge=1, description=_COUNT_OR_UNLIMITED)
    priority_tier: StrictInt = Field(1, ge=0, description="a whole number, 0 or more")
    default: StrictBool = Field(False, description="true or false")

    @model_validator(mode="wrap")
    @classmethod
    def _default_time_within_max_time(
            cls, data: Any, handler: ModelWrapValidatorHandler[PartitionConfig]) -> PartitionConfig:
        partition = handler(data)
        if (partition.default_time is not None and partition.max_time is not None
                and partition.default_time > partition.max_time):
            # Quote the file's own words, not seconds.
            raise ValueError(f"default_time = {toml_text(data['default_time'])}: longer than "
                             f"max_time ({toml_text(data['max_time'])}); make it at most max_time")
        return partition


class QosConfig(_Table):
    """A ``[qos.<name>]`` table: ``priority`` is the multifactor QoS factor, ``max_wall``
    seconds and ``max_jobs_per_user`` jobs running at once (None: unlimited)."""

    priority: StrictFloat = Field(0.0, ge=0, le=1, allow_inf_nan=False,
                                  description="a number from 0 to 1")
    max_wall: Duration = Field(None, description=_DURATION)
    max_jobs_per_user: CountOrUnlimited = Field(None, ge=1, description=_COUNT_OR_UNLIMITED)


class NodeOverrides(_Table):
    """``[node]``: what to offer of the local machine instead of what was detected
    (None: what was detected); ``gpus`` maps a GPU type to a count."""

    cpus: StrictInt | None = Field(None, ge=1, description="a whole number, 1 or more")
    mem_mib: Annotated[StrictInt | None, BeforeValidator(_memory)] = Field(
        None, ge=1, description='MiB as a whole number, 1 or more, or a size such as "32G"')
    gpus: dict[str, Annotated[StrictInt, Field(ge=0)]] | None = Field(
        None, description="a table of GPU type = count (0 or more), e.g. { a100 = 2 } "
                          "({} offers no GPUs)")
    features: tuple[Name, ...] = Field((), description='a list of feature names, e.g. ["avx512"]')


def parse_address(raw: Any) -> Any:
    """``HOST:PORT`` as (host, port); a bare ``HOST`` gets the default port."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f'expected "HOST:PORT", e.g. "10.0.0.1:{DEFAULT_PORT}"')
    host, colon, port = raw.strip().rpartition(":")
    if not colon:
        return raw.strip(), DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f'expected "HOST:PORT" with a port from 1 to 65535, e.g. '
                         f'"10.0.0.1:{DEFAULT_PORT}"')
    return host.strip("[]"), int(port)


#: The controller's TCP port for node daemons when ``[cluster]`` gives none.
DEFAULT_PORT = 6820
Address = Annotated[tuple[str, int], BeforeValidator(parse_address)]


class ClusterConfig(_Table):
    """``[cluster]``: the controller heads several hosts, each running ``kairos node``
    (absent: this machine is the whole cluster).  Times in seconds."""

    listen: Address = Field(description='"HOST:PORT" where node daemons reach the controller')
    auth: str = Field("auto", description="one of: auto, munge, key")
    key_file: str = Field("cluster.key", description="a path (relative to the Kairos home)")
    munge_socket: str | None = Field(None, description="a path to munged's socket")
    node_timeout: StrictFloat | StrictInt = Field(
        30.0, gt=0, description="a number of seconds greater than 0")
    heartbeat_interval: StrictFloat | StrictInt = Field(
        5.0, gt=0, description="a number of seconds greater than 0")
    return_to_service: StrictInt = Field(
        1, ge=0, le=2, description="0 (a DOWN node stays down until resumed), 1 (a node "
                                   "that stopped answering returns when it registers) or 2 "
                                   "(any DOWN node returns when it registers)")
    dynamic_nodes: StrictBool = Field(True, description="true or false")
    local_node: StrictBool = Field(False, description="true or false")

    @field_validator("auth", mode="before")
    @classmethod
    def _known_auth(cls, raw: Any) -> str:
        return _choice(raw, ("auto", "munge", "key"))


class NodeConfig(_Table):
    """A ``[[nodes]]`` table: a node the cluster is built with (Slurm's NodeName line);
    it is DOWN until its daemon registers, and registers only from ``addr``."""

    name: Name = Field(description="a name without spaces or commas")
    addr: str = Field(description="the node's address, e.g. \"10.0.0.11\"")
    cpus: StrictInt = Field(ge=1, description="a whole number, 1 or more")
    mem_mib: Annotated[StrictInt, BeforeValidator(_memory)] = Field(
        ge=1, description='MiB as a whole number, 1 or more, or a size such as "32G"')
    gpus: dict[str, Annotated[StrictInt, Field(ge=0)]] = Field(
        default_factory=dict, description="a table of GPU type = count, e.g. { a100 = 2 }")
    features: tuple[Name, ...] = Field((), description='a list of feature names, e.g. ["avx512"]')


def _default_partitions() -> list[PartitionConfig]:
    return [PartitionConfig(name=DEFAULT_PARTITION, default=True)]


def _default_qos() -> dict[str, QosConfig]:
    return {DEFAULT_QOS: QosConfig()}


class ConfigFile(_Table):
    """The whole ``config.toml``; a missing table means its defaults."""

    controller: ControllerConfig = Field(default_factory=ControllerConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    partition: list[PartitionConfig] = Field(default_factory=_default_partitions, min_length=1)
    qos: dict[str, QosConfig] = Field(default_factory=_default_qos)
    node: NodeOverrides = Field(default_factory=NodeOverrides)
    cluster: ClusterConfig | None = None
    nodes: list[NodeConfig] = Field(default_factory=list)

    @field_validator("nodes")
    @classmethod
    def _unique_node_names(cls, nodes: list[NodeConfig]) -> list[NodeConfig]:
        names = [n.name for n in nodes]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two [[nodes]] tables are named {name!r}; names must be unique")
        return nodes

    @field_validator("partition")
    @classmethod
    def _one_default_among_unique_names(
            cls, partitions: list[PartitionConfig]) -> list[PartitionConfig]:
        names = [p.name for p in partitions]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two [[partition]] tables are named {name!r}; "
                                 f"names must be unique")
        defaults = [p.name for p in partitions if p.default]
        if len(defaults) > 1:
            raise ValueError(f"partitions {', '.join(defaults)} all say default = true; "
                             f"at most one may")
        if not defaults:
            partitions[0] = partitions[0].model_copy(update={"default": True})
        return partitions

    @field_validator("qos")
    @classmethod
    def _normal_always_exists(cls, qos: dict[str, QosConfig]) -> dict[str, QosConfig]:
        return {**_default_qos(), **qos}


#: The model of each section's tables (``qos`` and ``partition``: of each entry).
TABLES: dict[str, type[_Table]] = {
    "controller": ControllerConfig, "database": DatabaseConfig, "partition": PartitionConfig,
    "qos": QosConfig, "node": NodeOverrides, "cluster": ClusterConfig, "nodes": NodeConfig,
}
SECTION_NAMES = ("[controller], [database], [[partition]], [qos.<name>], [node], [cluster], "
                 "[[nodes]]")


def toml_text(value: Any) -> str:
    """A value as TOML would spell it (roughly), for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return repr(value)
