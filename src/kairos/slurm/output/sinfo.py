"""What sinfo prints: lines by partition and node state (the default), by node
(``-N``) or by partition (``-s``), with sinfo's ``%`` letters and default formats, as
in Slurm 22.05.

The format language is that of ``kairos.slurm.output.columns``, with sinfo's ``#``
widths.  Fields that sum nodes up (counts, node lists) join nodes of one partition on
one line; the others (state, CPUs, memory, ...) split them into lines that agree.
"""

from __future__ import annotations

import pwd
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kairos.slurm import hostlist
from kairos.slurm.output.columns import Column, FieldSpec, Token, parse_percent_format, render
from kairos.slurm.output.records import NodeRecord, PartitionRecord
from kairos.slurm.output.notation import format_gres
from kairos.slurm.timespec import format_duration, format_timestamp

SINFO_DEFAULT_FORMAT = "%#P %.5a %.10l %.6D %.6t %N"
SINFO_SUMMARY_FORMAT = "%#P %.5a %.10l %.16F %N"
SINFO_LONG_FORMAT = "%#P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N"
#: ``#``: as wide as the widest value (and the header); ``%#9N``: at least 9.  The
#: node-oriented partition column is right-justified, the CPUS column left-justified,
#: as the 22.05 sinfo prints them.
SINFO_NODE_FORMAT = "%#9N %.6D %.#P %6t"
SINFO_NODE_LONG_FORMAT = "%#9N %.6D %.#P %.11T %4c %.8z %.6m %.8d %.6w %.8f %20E"
#: ``-R``: why nodes are down or drained, who said so and when (the peer's formats).
SINFO_REASONS_FORMAT = "%20E %9u %19H %N"
SINFO_REASONS_LONG_FORMAT = "%20E %12U %19H %6t %N"
#: Who a reason the controller set (a silent node) is shown as.
CONTROLLER_USER = "kairos"


@dataclass(frozen=True)
class SinfoRow:
    """A sinfo line: one partition and the nodes it summarizes."""

    partition: PartitionRecord
    nodes: tuple[NodeRecord, ...]


def _limit(seconds: float | None) -> str:
    return "infinite" if seconds is None else format_duration(seconds)


def _counts_aiot(row: SinfoRow, cpus: bool) -> str:
    """Allocated/idle/other/total of CPUs or nodes."""
    allocated = idle = other = total = 0
    for node in row.nodes:
        size = node.cpus if cpus else 1
        total += size
        if not node.usable:
            other += size
        elif cpus:
            allocated += node.cpus_alloc
            idle += node.cpus - node.cpus_alloc
        elif node.busy:
            allocated += 1
        else:
            idle += 1
    return f"{allocated}/{idle}/{other}/{total}"


def _same_or_plus(values: Sequence[int]) -> str:
    """``4`` when all nodes agree, ``4+`` (the smallest and a plus) when not."""
    if not values:
        return "0"
    low = min(values)
    return str(low) if low == max(values) else f"{low}+"


def _node_gres(node: NodeRecord) -> str:
    return format_gres(node.gpus) or "(null)"


def _job_size(p: PartitionRecord) -> str:
    return f"1-{p.max_nodes}" if p.max_nodes is not None else "1-infinite"


def _reason_user(node: NodeRecord) -> str:
    return node.reason_user or CONTROLLER_USER if node.reason else "Unknown"


def _reason_user_id(node: NodeRecord) -> str:
    """``root(0)``: the user and their uid, where this machine knows them."""
    name = _reason_user(node)
    try:
        return f"{name}({pwd.getpwnam(name).pw_uid})"
    except KeyError:
        return name


def _names(row: SinfoRow) -> str:
    return hostlist.compress([n.name for n in row.nodes]) if row.nodes else ""


_COLUMNS: dict[str, Column] = {
    "P": Column("PARTITION", lambda r: r.partition.label),
    "R": Column("PARTITION", lambda r: r.partition.name),
    "a": Column("AVAIL", lambda r: "up" if r.partition.up else "down"),
    "l": Column("TIMELIMIT", lambda r: _limit(r.partition.max_time)),
    "L": Column("DEFAULTTIME", lambda r: (
        "n/a" if r.partition.default_time is None
        else format_duration(r.partition.default_time))),
    "D": Column("NODES", lambda r: str(len(r.nodes))),
    "t": Column("STATE", lambda r: r.nodes[0].short_state if r.nodes else "n/a"),
    "T": Column("STATE", lambda r: r.nodes[0].long_state if r.nodes else "n/a"),
    "N": Column("NODELIST", _names),
    "n": Column("HOSTNAMES", _names),
    "c": Column("CPUS", lambda r: _same_or_plus([n.cpus for n in r.nodes])),
    "m": Column("MEMORY", lambda r: _same_or_plus([n.mem for n in r.nodes])),
    "G": Column("GRES", lambda r: ",".join(sorted({_node_gres(n) for n in r.nodes}))
                or "(null)"),
    "C": Column("CPUS(A/I/O/T)", lambda r: _counts_aiot(r, cpus=True)),
    "F": Column("NODES(A/I/O/T)", lambda r: _counts_aiot(r, cpus=False)),
    "A": Column("NODES(A/I)", lambda r: "/".join(_counts_aiot(r, cpus=False).split("/")[:2])),
    "f": Column("AVAIL_FEATURES", lambda r: ",".join(
        sorted({f for n in r.nodes for f in n.features})) or "(null)"),
    "s": Column("JOB_SIZE", lambda r: _job_size(r.partition)),
    "g": Column("GROUPS", lambda r: "all"),
    "h": Column("OVERSUBSCRIBE", lambda r: "NO"),
    "r": Column("ROOT", lambda r: "no"),
    "E": Column("REASON", lambda r: (r.nodes[0].reason or "none") if r.nodes else "none"),
    "u": Column("USER", lambda r: _reason_user(r.nodes[0]) if r.nodes else "Unknown"),
    "U": Column("USER", lambda r: _reason_user_id(r.nodes[0]) if r.nodes else "Unknown"),
    "H": Column("TIMESTAMP", lambda r: format_timestamp(
        r.nodes[0].reason_time if r.nodes else None, "Unknown")),
    "z": Column("S:C:T", lambda r: f"1:{r.nodes[0].cpus}:1" if r.nodes else "0:0:0"),
    "d": Column("TMP_DISK", lambda r: "0"),
    "w": Column("WEIGHT", lambda r: "1"),
}

#: sinfo fields that sum up nodes; the others split nodes into separate lines.
_AGGREGATES = frozenset("DNnCFA")


def _rows(partitions: Sequence[PartitionRecord], nodes: Sequence[NodeRecord],
          tokens: Sequence[Token], *, node_oriented: bool, summarize: bool) -> list[SinfoRow]:
    by_name = {node.name: node for node in nodes}
    rows: list[SinfoRow] = []
    keys = [t.key for t in tokens if isinstance(t, FieldSpec) and t.key not in _AGGREGATES]
    for partition in partitions:
        members = sorted((by_name[n] for n in partition.nodes if n in by_name),
                         key=lambda n: _natural(n.name))
        if node_oriented:
            rows += [SinfoRow(partition, (node,)) for node in members]
            continue
        if summarize or not members:
            rows.append(SinfoRow(partition, tuple(members)))
            continue
        groups: dict[tuple[str, ...], list[NodeRecord]] = {}
        for node in members:
            single = SinfoRow(partition, (node,))
            groups.setdefault(tuple(_COLUMNS[k].value(single) for k in keys),
                              []).append(node)
        rows += [SinfoRow(partition, tuple(group)) for group in groups.values()]
    if node_oriented:
        rows.sort(key=lambda r: _natural(r.nodes[0].name))
    return rows


def _natural(name: str) -> tuple[str, int, str]:
    head = name.rstrip("0123456789")
    digits = name[len(head):]
    return head, int(digits) if digits else -1, name


def format_sinfo(partitions: Iterable[Mapping[str, Any]], nodes: Iterable[Mapping[str, Any]],
                 fmt: str | None = None, *, header: bool = True, node_oriented: bool = False,
                 summarize: bool = False, long: bool = False) -> str:
    """sinfo's table: by partition and node state (default), one line per node and
    partition (``-N``), or one line per partition (``-s``)."""
    if fmt is None:
        fmt = _default_format(node_oriented=node_oriented, summarize=summarize, long=long)
    tokens = parse_percent_format(fmt, _COLUMNS)
    rows = _rows([PartitionRecord.from_wire(p) for p in partitions],
                 [NodeRecord.from_wire(n) for n in nodes], tokens,
                 node_oriented=node_oriented, summarize=summarize)
    return render(tokens, _COLUMNS, rows, header=header)


def _default_format(*, node_oriented: bool, summarize: bool, long: bool) -> str:
    if node_oriented:
        return SINFO_NODE_LONG_FORMAT if long else SINFO_NODE_FORMAT
    if summarize:
        return SINFO_SUMMARY_FORMAT
    return SINFO_LONG_FORMAT if long else SINFO_DEFAULT_FORMAT


def format_sinfo_reasons(nodes: Iterable[Mapping[str, Any]], fmt: str | None = None, *,
                         header: bool = True, long: bool = False) -> str:
    """``sinfo -R``: one line per reason, user, time (and with ``-l`` state) of the nodes
    that are down or drained, their names as a hostlist, as Slurm 22.05 prints them."""
    fmt = fmt or (SINFO_REASONS_LONG_FORMAT if long else SINFO_REASONS_FORMAT)
    tokens = parse_percent_format(fmt, _COLUMNS)
    keys = [t.key for t in tokens if isinstance(t, FieldSpec) and t.key not in _AGGREGATES]
    listed = sorted((NodeRecord.from_wire(n) for n in nodes), key=lambda n: _natural(n.name))
    groups: dict[tuple[str, ...], list[NodeRecord]] = {}
    nowhere = PartitionRecord("")
    for node in (n for n in listed if n.has_reason):
        single = SinfoRow(nowhere, (node,))
        groups.setdefault(tuple(_COLUMNS[k].value(single) for k in keys), []).append(node)
    rows = [SinfoRow(nowhere, tuple(group)) for group in groups.values()]
    return render(tokens, _COLUMNS, rows, header=header)

