"""``sprio``: the weighted factors behind each pending job's priority, printed as Slurm
22.05's sprio prints them.

Default columns ``JOBID PARTITION PRIORITY SITE AGE FAIRSHARE JOBSIZE PARTITION QOS``
(Slurm drops the factors a site does not weigh; Kairos has no association or TRES
factors, so those columns never appear).  Options: ``-j/--jobs``, ``-u/--user``,
``-p/--partition``, ``-l/--long`` (adds USER and NICE), ``-o/--format`` (``%i %r %u %o
%Y %S %A %F %J %P %Q %N``), ``-h/--noheader``; ``SPRIO_FORMAT`` stands in for ``-o``.
``-n/--norm`` (normalized factors) is refused: the controller reports weighted factors
only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, add_list_option, parse_job_ids, resolve_users,
    run_command, write,
)
from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.sprio import format_sprio

PROG = "sprio"


@dataclass(frozen=True)
class SprioOptions:
    """What an sprio command line asks for."""

    ids: list[str] | None = None
    users: list[str] | None = None
    partitions: list[str] | None = None
    fmt: str | None = None
    header: bool = True
    long: bool = False


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "Priority factors of pending jobs (Slurm-compatible).")
    add_list_option(parser, "-j", "--jobs", dest="jobs", metavar="JOB_ID_LIST",
                    help="these jobs")
    add_list_option(parser, "-u", "--user", "--users", dest="users", metavar="USER_LIST",
                    help="jobs of these users")
    add_list_option(parser, "-p", "--partition", dest="partitions", metavar="PARTITIONS",
                    help="jobs in these partitions")
    parser.add_argument("-l", "--long", action="store_true", help="more fields")
    parser.add_argument("-n", "--norm", action="store_true",
                        help="normalized factors (not available in Kairos)")
    parser.add_argument("-o", "--format", dest="fmt", metavar="FORMAT",
                        help='fields as %%[.][size]letter, e.g. "%%.15i %%.10Y %%.10F"')
    parser.add_argument("-h", "--noheader", action="store_true", help="no header line")
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> SprioOptions:
    """The options of an sprio command line; raises ``UsageError`` in Slurm's words."""
    env = os.environ if environ is None else environ
    args = build_parser().parse(argv)
    if args.norm:
        raise UsageError(f"{PROG}: error: normalized factors (-n/--norm) are not available: "
                         "the Kairos controller reports weighted factors only; drop -n")
    options = SprioOptions(
        ids=parse_job_ids(args.jobs, prog=PROG) if args.jobs else None,
        users=resolve_users(args.users, prog=PROG) if args.users else None,
        partitions=args.partitions, fmt=args.fmt or env.get("SPRIO_FORMAT") or None,
        header=not args.noheader, long=args.long)
    try:
        format_sprio([], options.fmt)
    except FormatError as error:
        raise UsageError(f"{PROG}: error: {error}") from None
    return options


def _run(client: Any, options: SprioOptions) -> int:
    rows = client.priority(ids=options.ids, users=options.users)
    if options.partitions:
        rows = [r for r in rows if r.get("partition") in options.partitions]
    write(format_sprio(rows, options.fmt, header=options.header, long=options.long))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run)


if __name__ == "__main__":
    sys.exit(main())
