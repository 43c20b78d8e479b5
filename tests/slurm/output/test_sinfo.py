"""sinfo's output against the peer's, and its grouping of nodes into lines."""

from __future__ import annotations

from kairos.slurm.output.sinfo import format_sinfo
from tests.slurm.output.conftest import PEER_NODE, PEER_PARTITION, lines


def test_sinfo_outputs_match_the_peer():
    p, n = [PEER_PARTITION], [PEER_NODE]
    assert lines(format_sinfo(p, n)) == [
        "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST",
        "debug*       up   infinite      1  alloc vm"]
    assert lines(format_sinfo(p, n, node_oriented=True)) == [
        "NODELIST   NODES PARTITION STATE ", "vm             1    debug* alloc "]
    assert lines(format_sinfo(p, n, summarize=True)) == [
        "PARTITION AVAIL  TIMELIMIT   NODES(A/I/O/T) NODELIST",
        "debug*       up   infinite          1/0/0/1 vm"]
    assert lines(format_sinfo(p, n, long=True)) == [
        "PARTITION AVAIL  TIMELIMIT   JOB_SIZE ROOT OVERSUBS     GROUPS  NODES       STATE "
        "NODELIST",
        "debug*       up   infinite 1-infinite   no       NO        all      1   allocated vm"]
    assert lines(format_sinfo(p, n, node_oriented=True, long=True))[0] == (
        "NODELIST   NODES PARTITION       STATE CPUS    S:C:T MEMORY TMP_DISK WEIGHT "
        "AVAIL_FE REASON              ")
    assert lines(format_sinfo(p, n, "%P|%a|%l|%D|%t|%T|%N|%c|%m|%G|%C|%F")) == [
        "PARTITION|AVAIL|TIMELIMIT|NODES|STATE|STATE|NODELIST|CPUS|MEMORY|GRES|"
        "CPUS(A/I/O/T)|NODES(A/I/O/T)",
        "debug*|up|infinite|1|alloc|allocated|vm|2|23081|(null)|2/0/0/2|1/0/0/1"]


def gpu_cluster() -> tuple[list[dict], list[dict]]:
    partition = dict(PEER_PARTITION, name="gpu", default=False, max_time=2 * 86400,
                     nodes=["n01", "n02", "n03", "n10"], total_cpus=32, total_nodes=4)
    def node(name, state, alloc=0):
        return dict(PEER_NODE, name=name, state=state, cpus=8, cpus_alloc=alloc, mem=64000,
                    mem_alloc=0, gpus={"a100": 4}, partitions=["gpu"])
    nodes = [node("n10", "drain"), node("n02", "idle"), node("n01", "idle"),
             node("n03", "mixed", 2)]
    return [PEER_PARTITION, partition], [PEER_NODE] + nodes


def test_sinfo_groups_nodes_by_partition_and_state():
    partitions, nodes = gpu_cluster()
    assert lines(format_sinfo(partitions, nodes, header=False)) == [
        "debug*       up   infinite      1  alloc vm",
        "gpu          up 2-00:00:00      2   idle n[01-02]",
        "gpu          up 2-00:00:00      1    mix n03",
        "gpu          up 2-00:00:00      1  drain n10"]
    assert lines(format_sinfo(partitions, nodes, "%R %C %F %G", header=False)) == [
        "debug 2/0/0/2 1/0/0/1 (null)", "gpu 2/22/8/32 1/2/1/4 gpu:a100:4"]
    assert format_sinfo(partitions, nodes, "%R %N", summarize=True,
                                header=False).splitlines()[1] == "gpu n[01-03,10]"


def test_sinfo_node_lines_are_sorted_by_name():
    partitions, nodes = gpu_cluster()
    out = format_sinfo(partitions, nodes, node_oriented=True, header=False)
    assert [line.split()[0] for line in lines(out)] == ["n01", "n02", "n03", "n10", "vm"]
    assert lines(out)[3] == "n10            1       gpu drain "
