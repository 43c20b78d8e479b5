"""``sshare``: fair-share shares and usage per account and user, printed as Slurm
22.05's sshare prints them.

Columns ``Account User RawShares NormShares RawUsage EffectvUsage FairShare``
(``-l/--long`` adds NormUsage and LevelFS).  Options: ``-u/--users``, ``-a/--all``
(every user; by default only the caller's associations, as in Slurm),
``-A/--accounts``, ``-U/--Users`` (user lines only), ``-n/--noheader``,
``-P/--parsable2``, ``-p/--parsable``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kairos.cli.slurm._query import (
    SlurmArgumentParser, add_list_option, current_user, resolve_users, run_command, write,
)

PROG = "sshare"


@dataclass(frozen=True)
class SshareOptions:
    """What an sshare command line asks for."""

    users: list[str] | None = None
    accounts: list[str] | None = None
    users_only: bool = False
    header: bool = True
    long: bool = False
    parsable2: bool = False
    parsable: bool = False


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "Fair-share shares and usage (Slurm-compatible).",
                                 help_short=True)
    add_list_option(parser, "-u", "--users", dest="users", metavar="USER_LIST",
                    help="these users")
    parser.add_argument("-a", "--all", action="store_true", help="all users")
    add_list_option(parser, "-A", "--accounts", dest="accounts", metavar="ACCOUNTS",
                    help="these accounts")
    parser.add_argument("-U", "--Users", action="store_true", help="user lines only")
    parser.add_argument("-l", "--long", action="store_true", help="NormUsage and LevelFS too")
    parser.add_argument("-n", "--noheader", action="store_true", help="no header lines")
    parser.add_argument("-P", "--parsable2", action="store_true", help="'|' between fields")
    parser.add_argument("-p", "--parsable", action="store_true",
                        help="'|' between fields and at the end")
    return parser


def parse_args(argv: Sequence[str]) -> SshareOptions:
    """The options of an sshare command line; raises ``UsageError`` in Slurm's words."""
    args = build_parser().parse(argv)
    users = resolve_users(args.users, prog=PROG) if args.users else None
    if users is None and not args.all:
        users = [current_user()]
    return SshareOptions(users=users, accounts=args.accounts, users_only=args.Users,
                         header=not args.noheader, long=args.long,
                         parsable2=args.parsable2,
                         parsable=args.parsable and not args.parsable2)


def select(rows: list[dict[str, Any]], options: SshareOptions) -> list[dict[str, Any]]:
    """Account and user-line filters the controller has no parameter for."""
    if options.accounts:
        rows = [r for r in rows if r.get("account") in options.accounts]
    if options.users_only:
        rows = [r for r in rows if r.get("user")]
    return rows


def _run(client: Any, options: SshareOptions) -> int:
    from kairos.slurm.output.sshare import format_sshare

    rows = select(client.shares(users=options.users), options)
    write(format_sshare(rows, header=options.header, long=options.long,
                        parsable2=options.parsable2, parsable=options.parsable))
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run)


if __name__ == "__main__":
    sys.exit(main())
