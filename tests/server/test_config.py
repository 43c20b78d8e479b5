"""KAIROS_HOME, config.toml and the cluster they describe."""

from __future__ import annotations

import math
import stat
import textwrap
from dataclasses import dataclass, field

import pytest

from kairos.server.config import (
    ConfigError, NodeOverrides, PartitionConfig, QosConfig, build_cluster, default_home,
    load_settings,
)


@dataclass
class Gpu:
    type: str | None


@dataclass
class Facts:
    """What kairos.node.facts reports about a machine (the fields build_cluster reads)."""

    name: str = "node1"
    cpus: list[int] = field(default_factory=lambda: list(range(16)))
    mem_mib: int = 64 * 1024
    gpus: list[Gpu] = field(default_factory=lambda: [Gpu("a100"), Gpu("a100"), Gpu("t4")])


def home_with(tmp_path, text: str):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(textwrap.dedent(text))
    return home


def test_defaults_describe_one_private_home(tmp_path):
    home = tmp_path / "deep" / "kairos"
    s = load_settings(home, env={})
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (s.home, s.config_path) == (home, home / "config.toml")
    assert (s.socket_path, s.pid_path, s.log_path) == (
        home / "kairos.sock", home / "kairos.pid", home / "kairos.log")
    assert s.db_url == f"sqlite:///{home / 'kairos.db'}"
    assert (s.cluster_name, s.kill_wait, s.policy, s.order, s.predictor, s.scheduler_interval) == (
        "kairos", 30.0, "easy", "multifactor", None, 1.0)
    assert s.partitions == [PartitionConfig(name="local", default=True)]
    assert s.partition(None) is s.partition("local") is s.default_partition
    assert s.qos == {"normal": QosConfig()}
    assert s.node_overrides == NodeOverrides()
    assert s.admins == ["root"]


def test_home_comes_from_the_environment(tmp_path):
    assert default_home({"KAIROS_HOME": str(tmp_path / "k")}) == tmp_path / "k"
    assert default_home({"HOME": str(tmp_path)}) == tmp_path / ".kairos"
    s = load_settings(env={"KAIROS_HOME": str(tmp_path / "k"), "HOME": "/nonexistent"})
    assert s.home == tmp_path / "k" and s.home.is_dir()


def test_a_full_config_file(tmp_path):
    home = home_with(tmp_path, """
        [controller]
        cluster_name = "lab"
        admins = ["alice", "bob"]
        kill_wait = 5
        policy = "conservative"
        order = "sjf"
        predictor = "last2"
        scheduler_interval = 0.25

        [database]
        url = "postgresql://kairos:pw@db.example/kairos"

        [[partition]]
        name = "short"
        nodes = "node[1-2]"
        max_time = "4:00:00"
        default_time = 30
        max_nodes = 1
        priority_tier = 2

        [[partition]]
        name = "long"
        nodes = ["node1"]
        max_time = "7-00:00:00"
        max_nodes = "UNLIMITED"
        default = true

        [[partition]]
        name = "any"
        nodes = "ALL"
        max_time = "UNLIMITED"

        [qos.high]
        priority = 0.8
        max_wall = "1-00:00:00"
        max_jobs_per_user = 4

        [qos.normal]
        priority = 0.1

        [node]
        cpus = 8
        mem_mib = "32G"
        gpus = { a100 = 1 }
        features = ["avx512", "nvme"]
    """)
    s = load_settings(home, env={})
    assert (s.cluster_name, s.kill_wait, s.policy, s.order, s.predictor, s.scheduler_interval) == (
        "lab", 5.0, "conservative", "sjf", "last2", 0.25)
    assert s.admins == ["root", "alice", "bob"]
    assert s.db_url == "postgresql+psycopg://kairos:pw@db.example/kairos"
    # Expected values in seconds: model_construct takes them as already validated
    # (validation reads the file's notations, such as "4:00:00", not seconds).
    assert s.partitions == [
        PartitionConfig.model_construct(name="short", nodes=("node1", "node2"), max_time=4 * 3600.0,
                                        default_time=30 * 60.0, max_nodes=1, priority_tier=2),
        PartitionConfig.model_construct(name="long", nodes=("node1",), max_time=7 * 86400.0,
                                        default=True),
        PartitionConfig(name="any"),
    ]
    assert s.default_partition.name == "long"
    assert s.qos == {"normal": QosConfig(priority=0.1),
                     "high": QosConfig.model_construct(priority=0.8, max_wall=86400.0,
                                                       max_jobs_per_user=4)}
    assert s.node_overrides == NodeOverrides(cpus=8, mem_mib=32 * 1024, gpus={"a100": 1},
                                             features=("avx512", "nvme"))


def test_the_first_partition_is_the_default_unless_one_says_so(tmp_path):
    home = home_with(tmp_path, """
        [[partition]]
        name = "a"
        [[partition]]
        name = "b"
    """)
    assert [p.default for p in load_settings(home, env={}).partitions] == [True, False]


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///jobs.db", "sqlite:///{home}/jobs.db"),
    ("sqlite:////var/lib/kairos/jobs.db", "sqlite:////var/lib/kairos/jobs.db"),
    ("postgresql+psycopg://u@h:5433/k", "postgresql+psycopg://u@h:5433/k"),
])
def test_database_urls(tmp_path, url, expected):
    home = home_with(tmp_path, f'[database]\nurl = "{url}"\n')
    assert load_settings(home, env={}).db_url == expected.format(home=home)


def test_predictor_none_means_no_predictor(tmp_path):
    home = home_with(tmp_path, '[controller]\npredictor = "none"\n')
    assert load_settings(home, env={}).predictor is None


@pytest.mark.parametrize("text, message", [
    ('[controller]\npolcy = "easy"\n',
     r"unknown key 'polcy' in \[controller\]; accepted keys: admins, auto, auto_every, "
     r"auto_min_jobs, auto_window, backfill_order, cluster_name, correction, "
     r"forecast_budget, kill_wait, max_script_size, order, policy, predictor, "
     r"predictor_history, scheduler_interval"),
    ('[scheduler]\npolicy = "easy"\n', r"unknown section \[scheduler\]; accepted sections: \[controller\]"),
    ('[[partition]]\nname = "p"\nmax_time = "1-xx"\n',
     r"\[\[partition\]\] 'p' max_time = \"1-xx\": invalid time '1-xx': use minutes, .*UNLIMITED"),
    ('[[partition]]\nname = "p"\nmax_time = 1.5\n', r"max_time = 1.5: expected a Slurm duration"),
    ('[database]\nurl = "mysql://root@localhost/kairos"\n',
     r"\[database\] url: unsupported database 'mysql'; use sqlite:///path or postgresql\+psycopg://"),
    ('[database]\nurl = "kairos.db"\n', r"url = \"kairos.db\": expected a database URL"),
    ('[controller]\npolicy = "sjf"\n', r"policy = \"sjf\": expected one of: fcfs, easy, conservative"),
    ('[controller]\npredictor = "oracle"\n', r"expected one of: none, user, last2, rf, ml, mlq"),
    ('[controller]\nkill_wait = -1\n', r"kill_wait = -1: expected a number of seconds, 0 or more"),
    ('[controller]\npredictor_history = -1\n',
     r"predictor_history = -1: expected a whole number of jobs, 0 or more"),
    ('[controller]\nscheduler_interval = 0\n', r"scheduler_interval = 0: expected a number of seconds greater than 0"),
    ('[controller]\nmax_script_size = "4M"\n', r"max_script_size = \"4M\": expected a number of bytes, 1 or more"),
    ('[controller]\nadmins = "alice"\n', r"admins = \"alice\": expected a list of user names"),
    ('[partition]\nname = "p"\n', r"partitions are written \[\[partition\]\] \(double brackets\)"),
    ('[[partition]]\nmax_time = "1:00:00"\n', r"\[\[partition\]\] #1 has no name"),
    ('[[partition]]\nname = "p"\n[[partition]]\nname = "p"\n', r"two \[\[partition\]\] tables are named 'p'"),
    ('[[partition]]\nname = "a"\ndefault = true\n[[partition]]\nname = "b"\ndefault = true\n',
     r"partitions a, b all say default = true; at most one may"),
    ('[[partition]]\nname = "p"\nmax_time = "1:00:00"\ndefault_time = "2:00:00"\n',
     r"default_time = \"2:00:00\": longer than max_time \(\"1:00:00\"\)"),
    ('[[partition]]\nname = "p"\nnodes = "n[3-1]"\n', r"nodes = \"n\[3-1\]\": "),
    ('[[partition]]\nname = "p"\nmaxtime = "1:00:00"\n', r"unknown key 'maxtime' in \[\[partition\]\] #1"),
    ('[qos.high]\npriority = 2\n', r"\[qos.high\] priority = 2: expected a number from 0 to 1"),
    ('[qos.high]\nmax_jobs = 2\n', r"unknown key 'max_jobs' in \[qos.high\]; accepted keys: max_jobs_per_user, max_wall, priority"),
    ('[node]\ngpus = 2\n', r"\[node\] gpus = 2: expected a table of GPU type = count"),
    ('[node]\nmem_mib = "lots"\n', r"\[node\] mem_mib = \"lots\": invalid memory size"),
    ('[node]\ncpus = 0\n', r"\[node\] cpus = 0: expected a whole number, 1 or more"),
    ('[controller\n', r"not valid TOML"),
])
def test_each_mistake_names_file_key_and_what_is_accepted(tmp_path, text, message):
    home = home_with(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(home, env={})
    assert str(caught.value).startswith(f"{home / 'config.toml'}: ")


def test_a_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_build_cluster_offers_the_whole_machine_by_default(tmp_path):
    s = load_settings(tmp_path / "h", env={})
    cluster = build_cluster(s, Facts())
    [node] = cluster.nodes
    assert (node.name, node.cpus, node.mem, node.gpus, node.features) == (
        "node1", 16, 65536, {"a100": 2, "t4": 1}, frozenset())
    [partition] = cluster.partitions
    assert (partition.name, partition.nodes, partition.max_time, partition.default) == (
        "local", None, math.inf, True)
    assert cluster.partition("").name == "local"


def test_build_cluster_applies_overrides_and_partitions(tmp_path):
    home = home_with(tmp_path, """
        [[partition]]
        name = "short"
        nodes = ["node1"]
        max_time = "1:00:00"
        max_nodes = 1
        priority_tier = 3
        [[partition]]
        name = "long"
        default = true
        [node]
        cpus = 4
        mem_mib = 1000
        gpus = { h100 = 1, t4 = 0 }
        features = ["fast"]
    """)
    cluster = build_cluster(load_settings(home, env={}), Facts(gpus=[Gpu(None), Gpu(None)]))
    [node] = cluster.nodes
    assert (node.cpus, node.mem, node.gpus, node.features) == (4, 1000, {"h100": 1}, frozenset({"fast"}))
    short, long = cluster.partitions
    assert (short.nodes, short.max_time, short.max_nodes, short.priority_tier, short.default) == (
        ("node1",), 3600.0, 1, 3, False)
    assert cluster.partition("").name == "long"


def test_build_cluster_counts_untyped_gpus_as_gpu(tmp_path):
    cluster = build_cluster(load_settings(tmp_path / "h", env={}), Facts(gpus=[Gpu(None)] * 3))
    assert cluster.nodes[0].gpus == {"gpu": 3}


@pytest.mark.parametrize("text, message", [
    ('[[partition]]\nname = "p"\nnodes = "other[1-2]"\n',
     r"partition 'p' names unknown node 'other1'; this machine's node is 'node1'"),
    ("[node]\ncpus = 17\n", r"\[node\] cpus = 17, but this machine has 16; offer at most 16"),
    ("[node]\ngpus = { a100 = 4 }\n", r"but this machine has 3 GPU\(s\)"),
])
def test_build_cluster_refuses_what_the_machine_lacks(tmp_path, text, message):
    settings = load_settings(home_with(tmp_path, text), env={})
    with pytest.raises(ConfigError, match=message):
        build_cluster(settings, Facts())


def test_the_cluster_runs_in_the_core(tmp_path):
    from kairos.core import Job, Request, Scheduler

    cluster = build_cluster(load_settings(tmp_path / "h", env={}), Facts())
    scheduler = Scheduler(cluster, "easy", "submit")
    scheduler.submit(Job(1, "alice", 0.0, Request(tasks=16, gpus_per_node=(("a100", 2),)), 60.0), 0.0)
    scheduler.submit(Job(2, "alice", 0.0, Request(tasks=1), 60.0), 0.0)
    assert [start.job_id for start in scheduler.schedule(0.0)] == [1]


def test_build_cluster_from_this_machines_facts(tmp_path):
    facts_module = pytest.importorskip("kairos.node.facts")
    facts = facts_module.detect()
    cluster = build_cluster(load_settings(tmp_path / "h", env={}), facts)
    [node] = cluster.nodes
    assert (node.name, node.cpus, node.mem) == (facts.name, len(facts.cpus), facts.mem_mib)
    assert sum(node.gpus.values()) == len(facts.gpus)
