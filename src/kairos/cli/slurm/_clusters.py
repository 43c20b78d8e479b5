"""``-M/--clusters`` for squeue, sinfo, sacct, scancel and scontrol.

Workflow tools pass it whether or not a site runs several clusters (the Snakemake
Slurm plugin asks ``sacct --clusters all``).  A Kairos controller runs one cluster, so
``all`` and its own name (any case, as Slurm's names) mean that cluster; any other name
is refused, naming the cluster this controller runs, rather than answered from the
wrong place.  squeue and sinfo then print Slurm's ``CLUSTER: <name>`` line before their
table (also with ``--noheader``, as Slurm does); sacct, scancel and scontrol print what
they print for the one cluster.
"""

from __future__ import annotations

import argparse
from typing import Any

from kairos.cli.slurm._query import UsageError, add_list_option


def add_clusters_option(parser: argparse.ArgumentParser) -> None:
    add_list_option(parser, "-M", "--clusters", dest="clusters", metavar="CLUSTER_NAMES",
                    help="this controller's cluster, or 'all' (Kairos runs one cluster)")


def checked_cluster(client: Any, wanted: list[str] | None, *, prog: str) -> str | None:
    """The controller's cluster name when ``-M`` named it (or ``all``); None without
    ``-M``.  Raises ``UsageError`` for a name this controller does not run."""
    if not wanted:
        return None
    name = str(client.status()["cluster"])
    unknown = [item for item in wanted if item.lower() not in ("all", name.lower())]
    if unknown:
        raise UsageError(f"{prog}: error: '{','.join(unknown)}' is an invalid entry for "
                         f"--cluster: this Kairos controller runs one cluster, '{name}' "
                         f"(use -M {name}, -M all, or leave -M out)")
    return name


def cluster_line(name: str | None) -> str:
    """Slurm's ``CLUSTER: <name>`` line squeue and sinfo print first under ``-M``."""
    return "" if name is None else f"CLUSTER: {name}\n"
