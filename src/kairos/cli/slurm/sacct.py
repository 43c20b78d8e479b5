"""``sacct``: finished and current jobs from the accounting database, printed as Slurm
22.05's sacct prints them.

Options: ``-j/--jobs`` (jobs, and steps as ``12.0`` or ``12.batch``: that line alone),
``-S/--starttime``, ``-E/--endtime``, ``-u/--user`` (also
``--uid``), ``-a/--allusers``, ``-s/--state`` (codes or names), ``-r/--partition``,
``--name``, ``-A/--accounts``, ``-o/--format`` (``Field%width``), ``-b/--brief``,
``-l/--long``, ``-X/--allocations``, ``-n/--noheader``, ``-P/--parsable2``,
``-p/--parsable``, ``-e/--helpformat``, ``-M/--clusters`` (this controller's cluster or
``all``; see ``_clusters``) and ``-L/--allclusters``; ``SACCT_FORMAT`` stands in for
``-o``.

The time window follows sacct's rules: without ``-j`` and ``-s`` it starts at midnight
today; with ``-j`` it starts at the epoch; with ``-s`` (and no ``-j``) it is the present
moment; ``-E`` defaults to now (also with ``-s -S``, where Slurm's manual says the
window shrinks to the start time: ``sacct -s F -S monday`` means the failures since
Monday).  Like Slurm, a user other than root sees their own jobs
unless ``-a``, ``-u`` or ``-j`` says otherwise.  Without ``-X`` each job that started
with a batch script gets a ``<id>.batch`` line and each of its job steps a ``<id>.<n>``
line, as in Slurm (see ``kairos.slurm.output.sacct``).
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kairos.cli.slurm._clusters import add_clusters_option, checked_cluster
from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, add_list_option, current_user, parse_job_ids,
    resolve_users, run_command, without_collections, write,
)
from kairos.core.jobs import JobState
from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.sacct import (
    SACCT_BRIEF_FIELDS, SACCT_DEFAULT_FIELDS, SACCT_LONG_FIELDS, format_sacct,
    parse_sacct_fields, sacct_field_names,
)

if TYPE_CHECKING:
    from kairos.model import LiveJob

PROG = "sacct"

_MMDD = re.compile(r"(\d{2})(\d{2})(\d{2})?(?:-(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_DOTTED = re.compile(r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}))?(?:-(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
#: ``-j`` items naming a step: a job (``12``, ``12_3``) and ``.0``, ``.batch``...
_STEP_ID = re.compile(r"(\d+(?:_\d+)?)\.(\d+|batch|extern)")
_PAST_ONLY = re.compile(r"\d{1,2}:\d{2}(:\d{2})?\s*(am|pm)?|midnight|noon|fika|teatime")


@dataclass(frozen=True)
class SacctOptions:
    """What an sacct command line asks for, the time window resolved."""

    ids: list[str] | None
    users: list[str] | None
    all_users: bool
    states: list[str] | None
    start: float
    end: float
    fields: str
    header: bool = True
    parsable2: bool = False
    parsable: bool = False
    steps: bool = True
    partitions: list[str] | None = None
    names: list[str] | None = None
    accounts: list[str] | None = None
    help_format: bool = False
    #: steps named by ``-j`` (``12.0``, ``12.batch``): only their lines are printed for
    #: their jobs; ``plain_ids`` are the jobs named whole
    named_steps: frozenset[str] = frozenset()
    plain_ids: frozenset[str] = frozenset()
    clusters: list[str] | None = None  #: ``-M``: checked against the controller's


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "Accounting data of jobs (Slurm-compatible).",
                                 help_short=True)
    add_list_option(parser, "-j", "--jobs", dest="jobs", metavar="JOB_ID_LIST",
                    help="these jobs (12, 12_3, 12_[1-3])")
    parser.add_argument("-S", "--starttime", metavar="TIME",
                        help="jobs active after this time (default: midnight)")
    parser.add_argument("-E", "--endtime", metavar="TIME",
                        help="jobs active before this time (default: now)")
    add_list_option(parser, "-u", "--user", "--uid", dest="users", metavar="USER_LIST",
                    help="jobs of these users (names or uids)")
    parser.add_argument("-a", "--allusers", action="store_true", help="all users' jobs")
    add_list_option(parser, "-s", "--state", dest="states", metavar="STATES",
                    help="jobs in these states (codes or names)")
    add_list_option(parser, "-r", "--partition", dest="partitions", metavar="PARTITIONS",
                    help="jobs in these partitions")
    add_list_option(parser, "--name", dest="names", metavar="NAMES",
                    help="jobs with these names")
    add_list_option(parser, "-A", "--accounts", dest="accounts", metavar="ACCOUNTS",
                    help="jobs charged to these accounts")
    parser.add_argument("-o", "--format", dest="fields", metavar="FIELDS",
                        help="fields, e.g. JobID,JobName%%30,State,Elapsed")
    parser.add_argument("-b", "--brief", action="store_true", help="JobID, State, ExitCode")
    parser.add_argument("-l", "--long", action="store_true", help="more fields")
    parser.add_argument("-X", "--allocations", action="store_true",
                        help="no .batch step lines")
    parser.add_argument("-n", "--noheader", action="store_true", help="no header lines")
    parser.add_argument("-P", "--parsable2", action="store_true",
                        help="'|' between fields")
    parser.add_argument("-p", "--parsable", action="store_true",
                        help="'|' between fields and at the end")
    parser.add_argument("-e", "--helpformat", action="store_true",
                        help="list the fields --format accepts")
    add_clusters_option(parser)
    parser.add_argument("-L", "--allclusters", action="store_true",
                        help="jobs of all clusters (this controller runs one)")
    return parser


def parse_time(text: str, now: float) -> float:
    """Epoch seconds of an sacct ``-S``/``-E`` time, read as a past moment:
    ``HH:MM[:SS]`` is today (yesterday if still to come), ``today``/``midnight``
    today's start, ``MMDD[YY]``, ``MM/DD[/YY]``, ``MM.DD[.YY]`` (each with an optional
    ``-HH:MM[:SS]``), ``YYYY-MM-DD[THH:MM[:SS]]``, ``now[+-count[unit]]``."""
    from kairos.slurm.timespec import parse_begin

    value = text.strip().lower()
    current = datetime.fromtimestamp(now)
    if value in ("today", "midnight"):
        return datetime(current.year, current.month, current.day).timestamp()
    for pattern in (_MMDD, _DOTTED):
        match = pattern.fullmatch(value)
        if match is not None:
            return _month_day(match, current).timestamp()
    try:
        moment = parse_begin(value, now)
    except ValueError:
        raise UsageError(f"{PROG}: error: Invalid time specification: {text} (use "
                         "HH:MM[:SS], MMDD[YY], MM/DD[/YY], YYYY-MM-DD[THH:MM[:SS]], "
                         "today, midnight or now[+-count[units]])") from None
    if _PAST_ONLY.fullmatch(value) and moment > now:
        moment -= 86400
    return moment


def _month_day(match: re.Match[str], current: datetime) -> datetime:
    month, day = int(match[1]), int(match[2])
    hour, minute, second = (int(g or 0) for g in match.groups()[3:])
    try:
        if match[3] is not None:
            return datetime(2000 + int(match[3]), month, day, hour, minute, second)
        moment = datetime(current.year, month, day, hour, minute, second)
    except ValueError:
        raise UsageError(f"{PROG}: error: Invalid time specification: "
                         f"{match[0]} (no such date)") from None
    return moment if moment <= current else moment.replace(year=current.year - 1)


def _states(items: list[str] | None) -> list[str] | None:
    if not items:
        return None
    try:
        return sorted({JobState.parse(item).name for item in items})
    except ValueError as error:
        raise UsageError(f"{PROG}: error: {error}") from None


def _window(args: Any, now: float) -> tuple[float, float]:
    """sacct's default time window (see the module docstring)."""
    start = parse_time(args.starttime, now) if args.starttime else None
    end = parse_time(args.endtime, now) if args.endtime else None
    if start is None:
        if args.jobs:
            start = 0.0
        elif args.states:
            start = now
        else:
            start = datetime.fromtimestamp(now).replace(
                hour=0, minute=0, second=0, microsecond=0).timestamp()
    return start, now if end is None else end


def parse_args(argv: Sequence[str], *, now: float | None = None,
               environ: Mapping[str, str] | None = None) -> SacctOptions:
    """The options of an sacct command line; raises ``UsageError`` in Slurm's words."""
    env = os.environ if environ is None else environ
    now = time.time() if now is None else now
    args = build_parser().parse(argv)
    fields = args.fields or (SACCT_BRIEF_FIELDS if args.brief else None) \
        or (SACCT_LONG_FIELDS if args.long else None) \
        or env.get("SACCT_FORMAT") or SACCT_DEFAULT_FIELDS
    try:
        parse_sacct_fields(fields)
    except FormatError as error:
        raise UsageError(f"{PROG}: error: {error}") from None
    users = resolve_users(args.users, prog=PROG, message="Invalid user id") \
        if args.users else None
    if users is None and not args.allusers and not args.jobs and os.getuid() != 0:
        users = [current_user()]
    start, end = _window(args, now)
    named_steps = frozenset(item for item in args.jobs or () if _STEP_ID.fullmatch(item))
    plain = parse_job_ids([item for item in args.jobs or () if item not in named_steps],
                          prog=PROG)
    ids = plain + sorted({_STEP_ID.fullmatch(item)[1] for item in named_steps})
    return SacctOptions(
        ids=ids or None, users=users, named_steps=named_steps, plain_ids=frozenset(plain),
        clusters=args.clusters,
        all_users=args.allusers or os.getuid() == 0, states=_states(args.states),
        start=start, end=end, fields=fields, header=not args.noheader,
        parsable2=args.parsable2, parsable=args.parsable and not args.parsable2,
        steps=not args.allocations, partitions=args.partitions, names=args.names,
        accounts=args.accounts, help_format=args.helpformat)


def select(jobs: list[LiveJob], options: SacctOptions) -> list[LiveJob]:
    """Filters the controller has no parameter for: partition, name, account."""
    def wanted(job: LiveJob) -> bool:
        return ((not options.partitions or job.partition in options.partitions)
                and (not options.names or job.name in options.names)
                and (not options.accounts or job.account in options.accounts))
    return [job for job in jobs if wanted(job)]


def help_format_text() -> str:
    """``--helpformat``: the field names, four to a line."""
    names = sacct_field_names()
    rows = [names[i:i + 4] for i in range(0, len(names), 4)]
    return "".join("".join(name.ljust(20) for name in row).rstrip() + "\n" for row in rows)


def _run(client: Any, options: SacctOptions) -> int:
    return without_collections(_show, client, options)  # a cluster's whole history


def _show(client: Any, options: SacctOptions) -> int:
    from kairos.model import LiveJob

    if client is None:
        write(help_format_text())
        return 0
    checked_cluster(client, options.clusters, prog=PROG)
    query = dict(ids=options.ids, users=options.users, states=options.states,
                 start=options.start, end=options.end)
    if options.steps:
        jobs = client.accounting_with_steps(**query)
    else:
        jobs = client.accounting(**query, all_users=options.all_users)
    rows = select([LiveJob.from_wire(job) for job in jobs], options)
    write(format_sacct(rows, options.fields, header=options.header,
                       parsable2=options.parsable2, parsable=options.parsable,
                       steps=options.steps, now=time.time(), job_steps=job_steps(jobs),
                       batchless={job["job_id"] for job in jobs if job.get("allocation")},
                       keep=_named_lines(options) if options.named_steps else None))
    return 0


def _named_lines(options: SacctOptions):
    """Which lines ``-j`` asks for, by JobID and JobIDRaw: the steps it names, and
    every line of the jobs it names whole (an array job by its id: all its tasks)."""
    def keep(job_id: str, raw_id: str) -> bool:
        if job_id in options.named_steps or raw_id in options.named_steps:
            return True
        job, raw = job_id.partition(".")[0], raw_id.partition(".")[0]
        return bool({job, raw, job.partition("_")[0]} & options.plain_ids)
    return keep


def job_steps(jobs: list[dict[str, Any]]) -> dict[int, list[Any]]:
    """Each job's steps (``LiveStep`` records) from the controller's accounting dicts."""
    from kairos.model.step import LiveStep

    return {job["job_id"]: [LiveStep.from_wire(step) for step in job.get("steps") or ()]
            for job in jobs if job.get("steps")}


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run,
                       needs_client=lambda options: not options.help_format)


if __name__ == "__main__":
    sys.exit(main())
