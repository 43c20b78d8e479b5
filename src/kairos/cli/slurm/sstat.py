"""``sstat``: the usage of running job steps, as Slurm 22.05's sstat prints it.

``-j/--jobs JOB[.STEP],...`` (required): a step, or a job's lowest-numbered running
step (all of them with ``-a/--allsteps``); ``-o/--format`` fields (``JobID AveCPU
MaxRSS NTasks Nodelist``: what Kairos records; sstat's other fields are refused by
name), ``-e/--helpformat``, ``-n/--noheader``, ``-p/--parsable``, ``-P/--parsable2``;
``--noconvert`` and ``-v`` are accepted.  The data are the steps' as the controller
has them (``GET /api/v1/jobs/{id}/steps``).  A job or step not running is reported on
stderr in Slurm's words (``sstat: error: No steps running for job 12``) after the
header, with exit status 0, as the peer does.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kairos.cli.slurm._query import (
    SlurmArgumentParser, UsageError, add_list_option, run_command, write,
)

PROG = "sstat"
_STEP = re.compile(r"(\d+)(?:\.(\d+|batch|extern))?")


@dataclass(frozen=True)
class SstatOptions:
    steps: list[tuple[str, str | None]]  #: (job id, step id or None)
    fields: str
    all_steps: bool = False
    header: bool = True
    parsable: bool = False
    parsable2: bool = False
    help_format: bool = False


def build_parser() -> SlurmArgumentParser:
    parser = SlurmArgumentParser(PROG, "Usage of running job steps (Slurm-compatible).",
                                 help_short=True)
    add_list_option(parser, "-j", "--jobs", dest="jobs", metavar="JOB(.STEP)",
                    help="these steps, or these jobs' running steps")
    parser.add_argument("-a", "--allsteps", action="store_true",
                        help="every running step of a job given without a step")
    parser.add_argument("-o", "--format", "--fields", dest="fields", metavar="FIELDS",
                        help="fields, e.g. JobID,AveCPU,MaxRSS")
    parser.add_argument("-e", "--helpformat", action="store_true",
                        help="list the fields --format accepts")
    parser.add_argument("-n", "--noheader", action="store_true", help="no header lines")
    parser.add_argument("-p", "--parsable", action="store_true",
                        help="'|' between fields and at the end")
    parser.add_argument("-P", "--parsable2", action="store_true", help="'|' between fields")
    parser.add_argument("-i", "--pidformat", action="store_true",
                        help="refused: Kairos does not report the steps' pids")
    parser.add_argument("--noconvert", action="store_true", help="accepted for compatibility")
    parser.add_argument("-v", "--verbose", action="count", help="accepted for compatibility")
    return parser


def parse_args(argv: Sequence[str]) -> SstatOptions:
    """The options of an sstat command line; raises ``UsageError`` in Slurm's words."""
    from kairos.slurm.output.columns import FormatError
    from kairos.slurm.output.sstat import SSTAT_DEFAULT_FIELDS, parse_sstat_fields

    args = build_parser().parse(argv)
    if args.pidformat:
        raise UsageError(f"{PROG}: error: --pidformat is not supported: Kairos does not "
                         "report the pids of a step's tasks")
    fields = args.fields or SSTAT_DEFAULT_FIELDS
    try:
        parse_sstat_fields(fields)
    except FormatError as error:
        raise UsageError(f"{PROG}: error: {error}") from None
    if args.helpformat:
        return SstatOptions([], fields, help_format=True)
    if not args.jobs:
        raise UsageError(f"{PROG}: error: You didn't give me any jobs to stat.")
    steps = []
    for item in args.jobs:
        match = _STEP.fullmatch(item.strip())
        if match is None:
            raise UsageError(f"{PROG}: error: Invalid job id: {item}")
        steps.append((match[1], match[2]))
    return SstatOptions(steps, fields, all_steps=args.allsteps, header=not args.noheader,
                        parsable=args.parsable and not args.parsable2, parsable2=args.parsable2)


def select(client: Any, options: SstatOptions) -> tuple[list[dict[str, Any]], list[str]]:
    """The running steps the options name, and the errors for those that are not."""
    from kairos.cli.client import ApiError
    from kairos.core.jobs import JobState

    found, errors = [], []
    for job_id, step_id in options.steps:
        try:
            running = [s for s in client.steps(job_id) if s.get("state") == JobState.RUNNING.name]
        except ApiError:
            errors.append(f"{PROG}: error: couldn't get steps for job {job_id}")
            continue
        if step_id is not None:
            chosen = [s for s in running if str(s.get("step_id")) == step_id]
            if not chosen:
                errors.append(f"{PROG}: error: StepId={job_id}.{step_id} not found running.")
        else:
            chosen = sorted(running, key=lambda s: int(s.get("step_id", 0)))
            if not options.all_steps:
                chosen = chosen[:1]
            if not chosen:
                errors.append(f"{PROG}: error: No steps running for job {job_id}")
        found += chosen
    return found, errors


def _run(client: Any, options: SstatOptions) -> int:
    from kairos.slurm.output.sstat import format_sstat, sstat_field_names

    if client is None:
        names = sstat_field_names()
        write("".join("".join(n.ljust(20) for n in names[i:i + 4]).rstrip() + "\n"
                      for i in range(0, len(names), 4)))
        return 0
    steps, errors = select(client, options)
    write(format_sstat(steps, options.fields, header=options.header,
                       parsable2=options.parsable2, parsable=options.parsable))
    for error in errors:
        print(error, file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_command(PROG, argv, parse_args, _run,
                       needs_client=lambda options: not options.help_format)


if __name__ == "__main__":
    sys.exit(main())
