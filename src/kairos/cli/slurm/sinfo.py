"""``sinfo``: partitions and nodes, printed as Slurm 22.05's sinfo prints them.

Default: one line per partition and node state (``PARTITION AVAIL TIMELIMIT NODES
STATE NODELIST``).  ``-N/--Node`` one line per node, ``-s/--summarize`` one line per
partition with ``NODES(A/I/O/T)``, ``-R/--list-reasons`` why nodes are down or drained
(``REASON USER TIMESTAMP NODELIST``), ``-l/--long`` more fields (and the date first),
``-o/--format`` Slurm's ``%`` fields, ``-h/--noheader``, ``-p/--partition`` and
``-n/--nodes`` to narrow down, ``-t/--states`` node states (idle, mix, alloc, down,
drain).  ``SINFO_FORMAT`` and ``SINFO_PARTITION`` stand in for ``-o`` and ``-p``.
A node that stopped answering has Slurm's ``*`` after its state (``down*``, ``idle*``).
``-M/--clusters`` names this controller's cluster or ``all``: Slurm's ``CLUSTER:`` line
comes first (see ``_clusters``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kairos.cli.slurm._clusters import add_clusters_option, checked_cluster, cluster_line
from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, add_list_option, run_command, write,
)

PROG = "sinfo"

#: Node state words accepted by ``-t`` -> the wire state.
_NODE_STATES = {"idle": "idle", "mix": "mixed", "mixed": "mixed", "alloc": "allocated",
                "allocated": "allocated", "down": "down", "drain": "drain",
                "drained": "drain", "draining": "drain", "drng": "drain"}


@dataclass(frozen=True)
class SinfoOptions:
    """What an sinfo command line asks for."""

    fmt: str | None = None
    header: bool = True
    node_oriented: bool = False
    summarize: bool = False
    reasons: bool = False
    long: bool = False
    partitions: list[str] | None = None
    nodes: list[str] | None = None
    states: frozenset[str] | None = None
    clusters: list[str] | None = None  #: ``-M``: checked against the controller's


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "View partitions and nodes (Slurm-compatible).")
    parser.add_argument("-N", "--Node", action="store_true", help="one line per node")
    parser.add_argument("-s", "--summarize", action="store_true",
                        help="one line per partition")
    parser.add_argument("-R", "--list-reasons", dest="reasons", action="store_true",
                        help="why nodes are down or drained, by whom and since when")
    parser.add_argument("-l", "--long", action="store_true", help="more fields")
    parser.add_argument("-o", "--format", dest="fmt", metavar="FORMAT",
                        help='fields as %%[.][size]letter, e.g. "%%P %%.5a %%N"')
    parser.add_argument("-h", "--noheader", action="store_true", help="no header line")
    add_list_option(parser, "-p", "--partition", dest="partitions", metavar="PARTITION",
                    help="only these partitions")
    add_list_option(parser, "-n", "--nodes", dest="nodes", metavar="NODES",
                    help="only these nodes (a hostlist)")
    add_list_option(parser, "-t", "--states", dest="states", metavar="STATES",
                    help="only nodes in these states")
    parser.add_argument("-a", "--all", action="store_true",
                        help="accepted for compatibility")
    add_clusters_option(parser)
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> SinfoOptions:
    """The options of an sinfo command line; raises ``UsageError`` in Slurm's words."""
    from kairos.slurm import hostlist
    from kairos.slurm.output.columns import FormatError
    from kairos.slurm.output.sinfo import format_sinfo

    env = os.environ if environ is None else environ
    args = build_parser().parse(argv)
    partitions = args.partitions or ([p for p in env["SINFO_PARTITION"].split(",") if p]
                                     if env.get("SINFO_PARTITION") else None)
    nodes = None
    if args.nodes:
        try:
            nodes = hostlist.expand(",".join(args.nodes))
        except ValueError as error:
            raise UsageError(f"{PROG}: error: {error}") from None
    options = SinfoOptions(
        fmt=args.fmt or env.get("SINFO_FORMAT") or None, header=not args.noheader,
        node_oriented=args.Node, summarize=args.summarize and not args.fmt,
        reasons=args.reasons, long=args.long, partitions=partitions, nodes=nodes,
        states=_states(args.states), clusters=args.clusters)
    try:
        format_sinfo([], [], options.fmt)
    except FormatError as error:
        raise UsageError(f"{PROG}: error: {error}") from None
    return options


def _states(items: list[str] | None) -> frozenset[str] | None:
    if not items:
        return None
    states = set()
    for item in items:
        state = _NODE_STATES.get(item.lower())
        if state is None:
            raise UsageError(f"{PROG}: error: Invalid node state specified: {item} "
                             f"(use {', '.join(sorted(set(_NODE_STATES)))})")
        states.add(state)
    return frozenset(states)


def select(partitions: list[dict[str, Any]], nodes: list[dict[str, Any]],
           options: SinfoOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The partitions and nodes the options ask for."""
    if options.partitions is not None:
        partitions = [p for p in partitions if p["name"] in options.partitions]
    if options.nodes is not None:
        nodes = [n for n in nodes if n["name"] in options.nodes]
    if options.states is not None:
        nodes = [n for n in nodes if str(n.get("state")).lower() in options.states]
    if options.nodes is not None or options.states is not None:
        kept = {n["name"] for n in nodes}
        partitions = [p for p in partitions if kept & set(p.get("nodes") or ())]
    return partitions, nodes


def render(partitions: list[dict[str, Any]], nodes: list[dict[str, Any]],
           options: SinfoOptions, *, now: float) -> str:
    from kairos.slurm.output.notation import current_date_line
    from kairos.slurm.output.sinfo import format_sinfo, format_sinfo_reasons

    if options.reasons:
        table = format_sinfo_reasons(nodes, options.fmt, header=options.header,
                                     long=options.long)
    else:
        table = format_sinfo(partitions, nodes, options.fmt, header=options.header,
                             node_oriented=options.node_oriented,
                             summarize=options.summarize, long=options.long)
    if options.long and options.header:
        table = current_date_line(now) + "\n" + table
    return table


def _run(client: Any, options: SinfoOptions) -> int:
    cluster = cluster_line(checked_cluster(client, options.clusters, prog=PROG))
    partitions, nodes = select(client.partitions(), client.nodes(), options)
    write(cluster + render(partitions, nodes, options, now=time.time()))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run)


if __name__ == "__main__":
    sys.exit(main())
