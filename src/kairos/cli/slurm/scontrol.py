"""``scontrol``: look at and change jobs, nodes and partitions, as Slurm 22.05's
scontrol does for the subcommands scripts use.

* ``show job [ID]``, ``show node [NAME]``, ``show partition [NAME]`` (``jobs``,
  ``nodes``, ``partitions`` too): Slurm's ``Key=Value`` records, a blank line after
  each; ``-o/--oneliner`` puts each record on one line.
* ``hold IDS``, ``release IDS``, ``requeue IDS`` (ids by spaces or commas, ``12_[1-3]``).
* ``update JobId=ID Key=Value ...`` with ``TimeLimit`` (Slurm's duration forms or
  ``UNLIMITED``), ``Priority``, ``Nice`` and ``JobName`` (or ``Name``); keys in any case.
* ``update NodeName=LIST State=DRAIN|DOWN|RESUME [Reason=...]`` (administrators): a
  reason is required to drain or down a node, as in Slurm.
* ``show hostnames [LIST]``: one name per line (default: ``$SLURM_JOB_NODELIST``, else
  ``$SLURM_NODELIST``); ``show hostlist LIST`` and ``show hostlistsorted LIST``: the
  names compressed (``n[1-3],a``), in the order given or sorted.  No controller needed.
* ``show config`` (or a prefix: ``show conf``): Slurm's ``Key = value`` lines, with the
  settings a Kairos controller can state truthfully (ClusterName, MinJobAge, KillWait,
  SchedulerType...).  Like Slurm, a key after ``config`` does not narrow the output.
* ``-M/--clusters`` may name this controller's cluster or ``all`` (see ``_clusters``).

Other subcommands and keys are refused with Slurm's messages.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from kairos.cli.slurm._clusters import add_clusters_option, checked_cluster
from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, fail, parse_job_ids, run_command, write,
)

PROG = "scontrol"

_ENTITIES = {"job": "job", "jobs": "job", "jobid": "job", "node": "node", "nodes": "node",
             "nodename": "node", "partition": "partition", "partitions": "partition",
             "partitionname": "partition"}
_JOB_ACTIONS = ("hold", "uhold", "release", "requeue")
_UPDATE_KEYS = {"timelimit": "time_limit", "priority": "priority", "nice": "nice",
                "jobname": "name", "name": "name"}


_NODE_STATES = ("DOWN", "DRAIN", "RESUME")
_HOSTLIST_ENTITIES = ("hostnames", "hostlist", "hostlistsorted")


@dataclass(frozen=True)
class ScontrolCommand:
    """One scontrol command: ``action`` is ``show``, ``hold``, ``release``,
    ``requeue``, ``update`` (jobs), ``update_node`` or ``hostlist`` (``show hostnames``
    and friends, answered without the controller)."""

    action: str
    entity: str | None = None
    name: str | None = None
    ids: list[str] = field(default_factory=list)
    updates: dict[str, Any] = field(default_factory=dict)
    oneliner: bool = False
    nodes: list[str] = field(default_factory=list)
    output: str = ""  #: what ``show hostnames`` and friends print
    clusters: list[str] | None = None  #: ``-M``: checked against the controller's


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "Show and change jobs, nodes and partitions "
                                 "(Slurm-compatible).", help_short=True)
    parser.add_argument("words", nargs="*", metavar="COMMAND",
                        help="show job|node|partition [NAME], show config, show "
                             "hostnames|hostlist LIST, hold|release|requeue IDS, update "
                             "JobId=ID TimeLimit=|Priority=|Nice=|JobName=, update NodeName=LIST "
                             "State=DRAIN|DOWN|RESUME Reason=")
    parser.add_argument("-o", "--oneliner", action="store_true",
                        help="one line per record")
    parser.add_argument("-d", "--details", action="store_true",
                        help="accepted for compatibility")
    parser.add_argument("-a", "--all", action="store_true",
                        help="accepted for compatibility")
    add_clusters_option(parser)
    return parser


def parse_args(argv: Sequence[str]) -> ScontrolCommand:
    """The command of an scontrol command line; raises ``UsageError`` in Slurm's words."""
    args = build_parser().parse(argv, intermixed=True)
    if not args.words:
        raise UsageError(f"{PROG}: error: no command given: use show, hold, release, "
                         "requeue or update")
    keyword, rest = args.words[0].lower(), args.words[1:]
    if keyword == "show":
        command = _parse_show(rest, args.oneliner)
    elif keyword in _JOB_ACTIONS:
        command = _parse_job_action(keyword, rest)
    elif keyword == "update":
        command = _parse_update(rest)
    else:
        raise UsageError(f"invalid keyword: {args.words[0]}")
    return replace(command, clusters=args.clusters)


def _parse_show(rest: list[str], oneliner: bool) -> ScontrolCommand:
    if not rest:
        raise UsageError("too few arguments for keyword:show")
    if rest[0].lower() in _HOSTLIST_ENTITIES:
        return _parse_hostlist(rest[0].lower(), rest[1:])
    if rest[0] and "config".startswith(rest[0].lower()):  # Slurm takes c, conf...
        return ScontrolCommand("show", entity="config", oneliner=oneliner)
    entity = _ENTITIES.get(rest[0].lower())
    if entity is None:
        raise UsageError(f"invalid entity:{rest[0]} for keyword:show ")
    name = rest[1] if len(rest) > 1 else None
    if entity == "job" and name is not None:
        name = parse_job_ids([name], prog=PROG, message="Invalid job id: {id}")[0]
    return ScontrolCommand("show", entity=entity, name=name, oneliner=oneliner)


def _parse_hostlist(entity: str, rest: list[str]) -> ScontrolCommand:
    """``show hostnames [LIST]``, ``show hostlist LIST``, ``show hostlistsorted LIST``."""
    import os

    from kairos.slurm import hostlist

    if len(rest) > 1:
        raise UsageError("too many arguments for keyword:show")
    text = rest[0] if rest else ""
    if not text and entity == "hostnames":
        text = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST") or ""
    if "/" in text:
        raise UsageError(f"{PROG}: error: reading host names from a file is not "
                         "supported; give the names")
    try:
        names = hostlist.expand(text)
    except ValueError as error:
        raise UsageError(f"{PROG}: error: {error}") from None
    if not names:
        raise UsageError(f"{PROG}: error: host list is empty")
    if entity == "hostnames":
        output = "".join(f"{name}\n" for name in names)
    else:
        output = hostlist.compress(names, sort=entity == "hostlistsorted") + "\n"
    return ScontrolCommand("hostlist", entity=entity, output=output)


def _parse_job_action(keyword: str, rest: list[str]) -> ScontrolCommand:
    words = [item for word in rest for item in word.split(",") if item]
    if not words:
        raise UsageError(f"too few arguments for keyword:{keyword}")
    ids = parse_job_ids(words, prog=PROG, message="Invalid job id specified for job {id}")
    return ScontrolCommand("hold" if keyword == "uhold" else keyword, ids=ids)


def _parse_update(rest: list[str]) -> ScontrolCommand:
    if rest and rest[0].partition("=")[0].lower() == "nodename":
        return _parse_node_update(rest)
    job_id = None
    updates: dict[str, Any] = {}
    for word in rest:
        key, equals, value = word.partition("=")
        lowered = key.lower()
        if lowered == "jobid" and equals:
            job_id = value
        elif lowered in _UPDATE_KEYS and equals:
            updates[_UPDATE_KEYS[lowered]] = _update_value(lowered, value)
        elif job_id is None and not updates and lowered == "partitionname":
            raise UsageError(f"{PROG}: error: Kairos does not update {key} records; "
                             "only jobs (JobId=...) and nodes (NodeName=...)")
        else:
            raise UsageError(f"Update of this parameter is not supported: {word}\n"
                             "Request aborted")
    if job_id is None:
        raise UsageError('No valid entity in update command\nInput line must include '
                         '"NodeName", "PartitionName", "Reservation", "JobId", or '
                         '"SlurmctldDebug"')
    ids = parse_job_ids([job_id], prog=PROG, message="Invalid job id specified for job {id}")
    if not updates:
        raise UsageError(f"{PROG}: error: nothing to update: give TimeLimit=, Priority=, "
                         "Nice= or JobName=")
    return ScontrolCommand("update", ids=ids, updates=updates)


def _parse_node_update(rest: list[str]) -> ScontrolCommand:
    """``update NodeName=LIST State=DRAIN|DOWN|RESUME [Reason=...]``."""
    from kairos.slurm import hostlist

    names, state, reason = "", None, None
    for word in rest:
        key, equals, value = word.partition("=")
        lowered = key.lower()
        if lowered == "nodename" and equals:
            names = value
        elif lowered == "state" and equals:
            state = value.upper()
            if state not in _NODE_STATES:
                raise UsageError(f"Invalid input: {word}\nRequest aborted\n"
                                 f"Valid states are: {' '.join(_NODE_STATES)}")
        elif lowered == "reason" and equals:
            reason = value
        else:
            raise UsageError(f"Update of this parameter is not supported: {word}\n"
                             "Request aborted")
    try:
        nodes = hostlist.expand(names)
    except ValueError as error:
        raise UsageError(f"{PROG}: error: {error}") from None
    if not nodes:
        raise UsageError("slurm_update error: Invalid node name specified")
    if state is None:
        raise UsageError("slurm_update error: Invalid node state specified")
    if state != "RESUME" and not (reason or "").strip():
        raise UsageError("You must specify a reason when DOWNING or DRAINING a node. "
                         "Request denied")
    return ScontrolCommand("update_node", nodes=nodes, updates={"state": state, "reason": reason})


def _update_value(key: str, value: str) -> Any:
    if key == "timelimit":
        from kairos.slurm.timespec import parse_duration
        try:
            return parse_duration(value)
        except ValueError:
            raise UsageError(f"{PROG}: error: Invalid TimeLimit value") from None
    if key in ("priority", "nice"):
        try:
            return int(value)
        except ValueError:
            raise UsageError(f"{PROG}: error: Invalid {key.capitalize()} value: {value} "
                             "(a whole number)") from None
    return value


def _show(client: Any, command: ScontrolCommand) -> int:
    from kairos.model import LiveJob
    from kairos.slurm.output.scontrol import (
        format_scontrol_job, format_scontrol_node, format_scontrol_partition,
    )

    one = command.oneliner
    if command.entity == "config":
        from kairos.slurm.output.scontrol import format_scontrol_config

        write(format_scontrol_config(client.config(), now=time.time()))
        return 0
    if command.entity == "job":
        jobs = _named_jobs(client, command.name) if command.name \
            else client.jobs(all_states=True)
        now = time.time()
        write("".join(format_scontrol_job(LiveJob.from_wire(j), now=now, oneliner=one)
                      for j in jobs))
        if not jobs:
            write("No jobs in the system\n")
        return 0
    if command.entity == "node":
        nodes = [n for n in client.nodes() if command.name in (None, n["name"])]
        if command.name and not nodes:
            return fail(f"Node {command.name} not found")
        write("".join(format_scontrol_node(n, oneliner=one) for n in nodes))
        return 0
    partitions = [p for p in client.partitions() if command.name in (None, p["name"])]
    if command.name and not partitions:
        return fail(f"Partition {command.name} not found")
    write("".join(format_scontrol_partition(p, oneliner=one) for p in partitions))
    return 0


def _named_jobs(client: Any, job_id: str) -> list[dict[str, Any]]:
    """Every task of an array job id, as Slurm shows them; else the one job."""
    from kairos.cli.client import ApiError

    try:
        found = client.jobs(ids=[job_id], all_states=True, start=True)
    except ApiError:
        found = []  # _one_job says what is wrong
    return found if len(found) > 1 else [_one_job(client, job_id)]


def _one_job(client: Any, job_id: str) -> dict[str, Any]:
    """The job, or Slurm's message when the controller does not know it (HTTP 404)."""
    from kairos.cli.client import ApiError

    try:
        return client.job(job_id)
    except ApiError as error:
        if getattr(error, "status", None) == 404:
            raise UsageError("slurm_load_jobs error: Invalid job id specified") from None
        raise


def _update_nodes(client: Any, command: ScontrolCommand) -> int:
    from kairos.cli.client import ApiError

    status = 0
    for name in command.nodes:
        try:
            client.update_node(name, command.updates["state"], command.updates["reason"])
        except ApiError as error:
            status = fail(f"slurm_update error: {error.message}")
    return status


def _run(client: Any, command: ScontrolCommand) -> int:
    if client is not None:
        checked_cluster(client, command.clusters, prog=PROG)
    if command.action == "hostlist":
        write(command.output)
        return 0
    if command.action == "update_node":
        return _update_nodes(client, command)
    if command.action == "show":
        return _show(client, command)
    if command.action == "update":
        for job_id in command.ids:
            client.update(job_id, dict(command.updates))
        return 0
    getattr(client, command.action)(command.ids)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run,
                       needs_client=lambda command: command.action != "hostlist")


if __name__ == "__main__":
    sys.exit(main())
