"""``squeue``: the jobs in the queue, printed as Slurm 22.05's squeue prints them.

Options scripts rely on: ``-u/--user`` (``--me``), ``-j/--jobs`` (``12``, ``12_3``,
``12_[1-3]``), ``-t/--states`` (codes or names, any case, or ``all``; default pending,
running and completing), ``-p/--partition``, ``-n/--name``, ``-A/--account``,
``-q/--qos``, ``--start`` (expected start times of pending jobs), ``-o/--format``,
``-O/--Format``, ``-h/--noheader``, ``-l/--long``, ``-S/--sort``, ``-r/--array`` (one
line per array task), ``-a/--all`` (accepted; every partition is always shown) and
``-M/--clusters`` (this controller's cluster or ``all``: Slurm's ``CLUSTER:`` line first;
see ``_clusters``).
``SQUEUE_FORMAT``, ``SQUEUE_FORMAT2`` and ``SQUEUE_SORT`` stand in for ``-o``, ``-O`` and
``-S`` as in Slurm.  Formatting lives in ``kairos.slurm.output.squeue``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from kairos.cli.slurm._clusters import add_clusters_option, checked_cluster, cluster_line
from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, add_list_option, current_user, fail, parse_job_ids,
    resolve_users, run_command, without_collections, write,
)
from kairos.core.jobs import JobState
from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.notation import current_date_line
from kairos.slurm.output.squeue import (
    SQUEUE_DEFAULT_SORT, SQUEUE_DEFAULT_STATES, SQUEUE_LONG_FORMAT, SQUEUE_START_FORMAT,
    format_squeue, format_squeue_fields, parse_squeue_fields, sort_lines, squeue_job_fields,
    squeue_shows_times,
)
from kairos.slurm.output.states import UnknownStateError, parse_states

if TYPE_CHECKING:
    from kairos.model import LiveJob

PROG = "squeue"


@dataclass(frozen=True)
class SqueueOptions:
    """What an squeue command line asks for, options resolved to their defaults."""

    users: list[str] | None = None
    ids: list[str] | None = None
    states: frozenset[JobState] = SQUEUE_DEFAULT_STATES
    partitions: list[str] | None = None
    names: list[str] | None = None
    accounts: list[str] | None = None
    qos: list[str] | None = None
    start: bool = False
    fmt: str | None = None
    fields: str | None = None
    header: bool = True
    long: bool = False
    sort: str = SQUEUE_DEFAULT_SORT
    expand_arrays: bool = False
    clusters: list[str] | None = None  #: ``-M``: checked against the controller's

    @property
    def all_states(self) -> bool:
        return self.states == frozenset(JobState)

    @property
    def needs_forecast(self) -> bool:
        """Whether the output shows start or end times (``expected_start`` needed)."""
        return self.start or squeue_shows_times(self.fmt, self.fields)


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "View the jobs in the queue (Slurm-compatible).",
                                 dash_values=("-S", "--sort"))
    add_list_option(parser, "-u", "--user", "--users", dest="users", metavar="USER_LIST",
                    help="jobs of these users (names or uids)")
    parser.add_argument("--me", action="store_true", help="my jobs only")
    add_list_option(parser, "-j", "--jobs", "--job", dest="jobs", metavar="JOB_ID_LIST",
                    help="these jobs (12, 12_3, 12_[1-3])")
    parser.add_argument("-t", "--states", "--state", dest="states", metavar="STATES",
                        help="state codes or names, comma separated, or 'all'")
    add_list_option(parser, "-p", "--partition", "--partitions", dest="partitions",
                    metavar="PARTITIONS", help="jobs in these partitions")
    add_list_option(parser, "-n", "--name", dest="names", metavar="NAMES",
                    help="jobs with these names")
    add_list_option(parser, "-A", "--account", dest="accounts", metavar="ACCOUNTS",
                    help="jobs charged to these accounts")
    add_list_option(parser, "-q", "--qos", dest="qos", metavar="QOS", help="jobs with this QOS")
    parser.add_argument("--start", action="store_true",
                        help="expected start times of pending jobs")
    parser.add_argument("-o", "--format", dest="fmt", metavar="FORMAT",
                        help='fields as %%[.][size]letter, e.g. "%%.18i %%.8j %%T"')
    parser.add_argument("-O", "--Format", dest="fields", metavar="FIELDS",
                        help="fields by name, e.g. JobID,Name:30,State")
    parser.add_argument("-h", "--noheader", action="store_true", help="no header line")
    parser.add_argument("-l", "--long", action="store_true", help="more fields")
    parser.add_argument("-S", "--sort", metavar="SORT",
                        help='sort keys, e.g. "P,t,-p" (the default)')
    parser.add_argument("-r", "--array", action="store_true",
                        help="one line per array task")
    parser.add_argument("-a", "--all", action="store_true",
                        help="accepted for compatibility (all partitions are shown)")
    add_clusters_option(parser)
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> SqueueOptions:
    """The options of an squeue command line; raises ``UsageError`` in Slurm's words."""
    env = os.environ if environ is None else environ
    args = build_parser().parse(argv)
    users = resolve_users(args.users, prog=PROG) if args.users else None
    if args.me:
        users = (users or []) + [current_user()]
    fmt = args.fmt or env.get("SQUEUE_FORMAT") or None
    fields = args.fields or (env.get("SQUEUE_FORMAT2") if not fmt else None) or None
    if fmt is None and fields is None:
        fmt = SQUEUE_START_FORMAT if args.start else (
            SQUEUE_LONG_FORMAT if args.long else None)
    sort = args.sort or env.get("SQUEUE_SORT") or ("S" if args.start else
                                                  SQUEUE_DEFAULT_SORT)
    options = SqueueOptions(
        users=users, ids=parse_job_ids(args.jobs, prog=PROG) if args.jobs else None,
        states=_states(args.states, start=args.start), partitions=args.partitions,
        names=args.names, accounts=args.accounts, qos=args.qos, start=args.start,
        fmt=fmt, fields=fields, header=not args.noheader, long=args.long, sort=sort,
        expand_arrays=args.array, clusters=args.clusters)
    _check_formats(options)
    return options


def _states(text: str | None, *, start: bool) -> frozenset[JobState]:
    if text is None:
        return frozenset({JobState.PENDING}) if start else SQUEUE_DEFAULT_STATES
    try:
        return parse_states(text)
    except UnknownStateError as error:
        raise UsageError("\n".join(f"{PROG}: error: {line}"
                                   for line in str(error).splitlines())) from None


def _check_formats(options: SqueueOptions) -> None:
    """Reject a bad ``-o``, ``-O`` or ``--sort`` before asking the controller."""
    try:
        if options.fields is not None:
            parse_squeue_fields(options.fields)
        else:
            format_squeue([], options.fmt, now=0.0)
        sort_lines([], options.sort, now=0.0)
    except FormatError as error:
        raise UsageError(f"{PROG}: error: {error}") from None


def select(jobs: Sequence[LiveJob], options: SqueueOptions) -> list[LiveJob]:
    """The jobs the options ask for, filtered here too (state, account, QOS), so the
    output is right whatever the controller filtered."""
    accounts, qos = options.accounts, options.qos
    if options.all_states and not accounts and not qos:
        return list(jobs)
    codes = {state.value for state in options.states}
    return [job for job, code in zip(jobs, map(_STATE_CODE, jobs))
            if code in codes and (not accounts or job.account in accounts)
            and (not qos or job.qos in qos)]


#: A job's state code, read in C (a set of members would hash each in Python).
_STATE_CODE = attrgetter("state._value_")


def render(jobs: Sequence[LiveJob], options: SqueueOptions, *, now: float) -> str:
    """The text squeue prints for these jobs (``-l`` adds the date line first)."""
    common = dict(header=options.header, now=now, sort=options.sort,
                  expand_arrays=options.expand_arrays)
    if options.fields is not None:
        table = format_squeue_fields(jobs, options.fields, **common)
    else:
        table = format_squeue(jobs, options.fmt, **common)
    if options.long and options.header:
        table = current_date_line(now) + "\n" + table
    return table


def wire_fields(options: SqueueOptions) -> list[str]:
    """The job fields this command line prints, sorts or filters by: all it asks for."""
    wanted = squeue_job_fields(options.fmt, options.fields, options.sort)
    extra = [name for name, given in (("account", options.accounts), ("qos", options.qos))
             if given and name not in wanted]
    return wanted + extra


def _run(client: Any, options: SqueueOptions) -> int:
    return without_collections(_show, client, options)


def _show(client: Any, options: SqueueOptions) -> int:
    from kairos.model.job import rows_from_wire

    cluster = cluster_line(checked_cluster(client, options.clusters, prog=PROG))
    state_names = None if options.all_states else sorted(s.name for s in options.states)
    fields, values = client.job_table(
        wire_fields(options), users=options.users, ids=options.ids, states=state_names,
        partitions=options.partitions, names=options.names, start=options.needs_forecast,
        all_states=options.all_states)
    rows = select(rows_from_wire(fields, values), options)
    if options.ids and len(options.ids) == 1 and not rows:
        if not client.jobs(ids=options.ids, all_states=True):
            write(cluster)
            return fail("slurm_load_jobs error: Invalid job id specified")
    write(cluster + render(rows, options, now=time.time()))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run)


if __name__ == "__main__":
    sys.exit(main())
