"""What squeue prints: its ``-o`` letters and ``-O`` names, its ``--sort`` keys and its
default formats, as in Slurm 22.05.

``-o`` is the ``%``-format language of ``kairos.slurm.output.columns``; squeue's TIME
values are never cut to their width, and neither is the NODELIST(REASON) header, as in
Slurm.  ``-O`` is ``Name[:[.][width][suffix]]`` separated by commas: default width 20,
no separator besides the padding.

Differences from Slurm, on purpose: ties in the default order (partition, state,
descending priority) are broken by ascending job id; a line of pending array tasks
(``12_[3-7]``, see ``kairos.slurm.output.jobs``) does not show the array's throttle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from kairos.core.jobs import JobState
from kairos.slurm.output.columns import (
    Column, FieldSpec, FormatError, Token, parse_percent_format, render,
)
from kairos.slurm.output.jobs import (
    JobLine, array_master_id, elapsed, job_lines, min_cpus, shown_priority, started, tres,
)
from kairos.slurm.output.notation import format_gres, format_size, or_null
from kairos.slurm.timespec import format_duration, format_timestamp

if TYPE_CHECKING:
    from kairos.model import LiveJob

#: squeue's formats (``-o``) by option, as in Slurm 22.05.
SQUEUE_DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
SQUEUE_LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
SQUEUE_START_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"
#: squeue's default order: partition, state, descending priority.
SQUEUE_DEFAULT_SORT = "P,t,-p"
#: squeue's default width for an ``-O`` field without one.
SQUEUE_FIELD_WIDTH = 20
#: What squeue shows without ``-t``.
SQUEUE_DEFAULT_STATES = frozenset({JobState.PENDING, JobState.RUNNING, JobState.COMPLETING})

#: Slurm's largest job priority; squeue's ``%p`` divides by it.
_PRIORITY_SCALE = 2**32 - 1


def _end(job: LiveJob) -> str:
    if job.state.finished:
        return format_timestamp(job.end_time)
    if job.state is JobState.PENDING:
        if job.expected_start is not None and job.time_limit is not None:
            return format_timestamp(job.expected_start + job.time_limit)
        return "N/A"
    if job.start_time is not None and job.time_limit is not None:
        return format_timestamp(job.start_time + job.time_limit)
    return "NONE"


def _start(job: LiveJob) -> str:
    if job.state is JobState.PENDING:
        return format_timestamp(job.expected_start)
    return format_timestamp(job.start_time)


def _reason_list(job: LiveJob) -> str:
    """Nodes for running jobs and finished ones that ended normally, else (reason)."""
    shows_nodes = job.state.active or (job.state.finished and job.reason in (None, "", "None"))
    if shows_nodes:
        return job.node_list or ""
    return f"({job.reason or 'None'})"


def _time_left(line: JobLine, now: float) -> str:
    if line.job.time_limit is None:
        return "UNLIMITED"
    return format_duration(line.job.time_limit - elapsed(line.job, now))


def _pending_time(line: JobLine, now: float) -> str:
    job = line.job
    since = job.eligible_time if job.eligible_time is not None else job.submit_time
    until = job.start_time if started(job) and job.start_time is not None else now
    return str(max(0, int(until - since)))


def _gres_per_node(job: LiveJob) -> str:
    gres = format_gres(job.gpus)
    return ",".join(f"gres:{item}" for item in gres.split(",")) if gres else "N/A"


def _of_job(value: Callable[[LiveJob], str]) -> Callable[[JobLine, float], str]:
    """A column that needs the job only (not the line or the time)."""
    return lambda line, now: value(line.job)


_COLUMNS: dict[str, Column] = {
    "i": Column("JOBID", lambda line, now: line.label),
    "A": Column("JOBID", _of_job(lambda j: str(j.job_id))),
    "F": Column("ARRAY_JOB_ID", _of_job(lambda j: str(array_master_id(j)))),
    "K": Column("ARRAY_TASK_ID", lambda line, now: line.task_text),
    "j": Column("NAME", _of_job(lambda j: j.name)),
    "u": Column("USER", _of_job(lambda j: j.user)),
    "U": Column("UID", _of_job(lambda j: "" if j.uid is None else str(j.uid))),
    "g": Column("GROUP", _of_job(lambda j: j.group)),
    "G": Column("GROUP", _of_job(lambda j: "" if j.gid is None else str(j.gid))),
    "a": Column("ACCOUNT", _of_job(lambda j: or_null(j.account))),
    "q": Column("QOS", _of_job(lambda j: or_null(j.qos))),
    "P": Column("PARTITION", _of_job(lambda j: j.partition)),
    "t": Column("ST", _of_job(lambda j: j.state.code)),
    "T": Column("STATE", _of_job(lambda j: j.state.name)),
    "M": Column("TIME", lambda line, now: format_duration(elapsed(line.job, now))),
    "l": Column("TIME_LIMIT", _of_job(lambda j: format_duration(j.time_limit))),
    "L": Column("TIME_LEFT", _time_left),
    "D": Column("NODES", _of_job(lambda j: str(j.nodes))),
    "C": Column("CPUS", _of_job(lambda j: str(j.cpus))),
    "c": Column("MIN_CPUS", _of_job(min_cpus)),
    "m": Column("MIN_MEMORY", _of_job(lambda j: format_size(j.mem_per_node or 0, "M"))),
    "b": Column("TRES_PER_NODE", _of_job(_gres_per_node)),
    "R": Column("NODELIST(REASON)", _of_job(_reason_list)),
    "r": Column("REASON", _of_job(lambda j: j.reason or "None")),
    "N": Column("NODELIST", _of_job(lambda j: j.node_list or "")),
    "S": Column("START_TIME", _of_job(_start)),
    "e": Column("END_TIME", _of_job(_end)),
    "V": Column("SUBMIT_TIME", _of_job(lambda j: format_timestamp(j.submit_time))),
    "Q": Column("PRIORITY", _of_job(lambda j: str(shown_priority(j)))),
    "p": Column("PRIORITY", _of_job(
        lambda j: f"{shown_priority(j) / _PRIORITY_SCALE:.14f}")),
    "y": Column("NICE", _of_job(lambda j: str(j.nice))),
    "E": Column("DEPENDENCY", _of_job(lambda j: or_null(j.dependency))),
    "Z": Column("WORK_DIR", _of_job(lambda j: j.work_dir)),
    "o": Column("COMMAND", _of_job(lambda j: or_null(j.command))),
    "Y": Column("SCHEDNODES", lambda line, now: "(null)"),
    "k": Column("COMMENT", _of_job(lambda j: or_null(j.comment))),
}

#: ``-O`` names (lower case) -> the %-letter printing the same thing, or a column.
_NAMED: dict[str, str | Column] = {
    "account": "a", "arrayjobid": "F", "arraytaskid": "K", "command": "o",
    "dependency": "E", "endtime": "e", "groupid": "G", "groupname": "g",
    "jobarrayid": "i", "jobid": "A", "mincpus": "c", "minmemory": "m", "name": "j",
    "nice": "y", "nodelist": "N", "numcpus": "C", "numnodes": "D", "partition": "P",
    "priority": "p", "prioritylong": "Q", "qos": "q", "reason": "r", "reasonlist": "R",
    "schednodes": "Y", "starttime": "S", "state": "T", "statecompact": "t",
    "submittime": "V", "timeleft": "L", "timelimit": "l", "timeused": "M",
    "tres-per-node": "b", "userid": "U", "username": "u", "workdir": "Z",
    "numtasks": Column("TASKS", _of_job(lambda j: str(j.ntasks))),
    "cpus-per-task": Column("CPUS_PER_TASK", _of_job(lambda j: str(j.cpus_per_task))),
    "stdout": Column("STDOUT", _of_job(lambda j: or_null(j.stdout))),
    "stderr": Column("STDERR", _of_job(lambda j: or_null(j.stderr))),
    "pendingtime": Column("PENDING_TIME", _pending_time),
    "eligibletime": Column("ELIGIBLE_TIME",
                           _of_job(lambda j: format_timestamp(j.eligible_time))),
    "tres-alloc": Column("TRES_ALLOC", _of_job(tres)),
    "comment": "k",
    "wckey": Column("WCKEY", _of_job(lambda j: or_null(j.wckey))),
}

#: ``--sort`` letters -> a sort key of a job (``None`` sorts last).
_SORT_KEYS: dict[str, Callable[[LiveJob, float], Any]] = {
    "i": lambda j, now: (array_master_id(j), j.array_task_id or -1, j.job_id),
    "A": lambda j, now: j.job_id, "F": lambda j, now: array_master_id(j),
    "K": lambda j, now: j.array_task_id, "j": lambda j, now: j.name,
    "u": lambda j, now: j.user, "U": lambda j, now: j.uid, "g": lambda j, now: j.group,
    "a": lambda j, now: j.account or "", "q": lambda j, now: j.qos or "",
    "P": lambda j, now: j.partition, "t": lambda j, now: j.state.code,
    "T": lambda j, now: j.state.name, "M": lambda j, now: elapsed(j, now),
    "l": lambda j, now: j.time_limit if j.time_limit is not None else math.inf,
    "D": lambda j, now: j.nodes, "C": lambda j, now: j.cpus,
    "N": lambda j, now: j.node_list or None,
    "r": lambda j, now: j.reason or "", "R": lambda j, now: _reason_list(j),
    "S": lambda j, now: j.expected_start if j.state is JobState.PENDING else j.start_time,
    "e": lambda j, now: j.end_time, "V": lambda j, now: j.submit_time,
    "Q": lambda j, now: shown_priority(j), "p": lambda j, now: shown_priority(j),
    "y": lambda j, now: j.nice, "Z": lambda j, now: j.work_dir,
}


def sort_lines(lines: Sequence[JobLine], spec: str, *, now: float) -> list[JobLine]:
    """Lines in squeue's ``--sort`` order (``P,t,-p``: partition, state, descending
    priority); ties keep ascending job id.  Raises ``FormatError`` for an unknown key."""
    ordered = sorted(lines, key=lambda line: (array_master_id(line.job),
                                              line.job.array_task_id or -1))
    keys = [item.strip() for item in spec.split(",") if item.strip()]
    for item in reversed(keys):
        descending = item.startswith("-")
        key = _SORT_KEYS.get(item.lstrip("+-"))
        if key is None:
            raise FormatError(f"Invalid sort specification: {item}")
        ordered = _sorted_nones_last(ordered, lambda line, k=key: k(line.job, now),
                                     descending)
    return ordered


def _sorted_nones_last(lines: list[JobLine], key: Callable[[JobLine], Any],
                       descending: bool) -> list[JobLine]:
    present = [line for line in lines if key(line) is not None]
    missing = [line for line in lines if key(line) is None]
    return sorted(present, key=key, reverse=descending) + missing


def _rows(jobs: Iterable[LiveJob], *, now: float, sort: str | None,
          expand_arrays: bool) -> list[JobLine]:
    lines = job_lines(jobs, expand_arrays=expand_arrays)
    return sort_lines(lines, sort or SQUEUE_DEFAULT_SORT, now=now)


def format_squeue(jobs: Iterable[LiveJob], fmt: str | None = None, *,
                  header: bool = True, now: float, sort: str | None = None,
                  expand_arrays: bool = False) -> str:
    """squeue's table with a ``-o`` format (default ``SQUEUE_DEFAULT_FORMAT``), sorted
    by ``sort`` (default ``P,t,-p``); pending array tasks share a line unless
    ``expand_arrays`` (``-r``)."""
    tokens = parse_percent_format(fmt or SQUEUE_DEFAULT_FORMAT, _COLUMNS)
    rows = _rows(jobs, now=now, sort=sort, expand_arrays=expand_arrays)
    return render(tokens, _COLUMNS, rows, header=header, args=(now,),
                  uncut_values=frozenset("M"), uncut_headers=frozenset("R"))


def parse_squeue_fields(fields: str) -> tuple[list[Token], dict[str, Column]]:
    """The tokens and columns of an ``-O`` list ``Name[:[.][width][suffix]],...``."""
    tokens: list[Token] = []
    columns: dict[str, Column] = {}
    for index, item in enumerate(part for part in fields.split(",") if part.strip()):
        name, colon, rest = item.strip().partition(":")
        key = f"{index}:{name}"
        columns[key] = _named_column(name)
        width: int | None = SQUEUE_FIELD_WIDTH
        right = False
        suffix = ""
        if colon:
            right = rest.startswith(".")
            digits = rest[right:]
            count = len(digits) - len(digits.lstrip("0123456789"))
            width = int(digits[:count]) if count else None
            suffix = digits[count:]
        tokens.append(FieldSpec(key=key, width=width, right=right, suffix=suffix))
    if not tokens:
        raise FormatError("Invalid job format specification: (empty)")
    return tokens, columns


def _named_column(name: str) -> Column:
    target = _NAMED.get(name.lower())
    if target is None:
        raise FormatError(f"Invalid job format specification: {name}")
    return _COLUMNS[target] if isinstance(target, str) else target


def squeue_shows_times(fmt: str | None, fields: str | None = None) -> bool:
    """Whether an ``-o`` format (or ``-O`` list, when given) prints start or end times,
    which need the controller's start-time forecast."""
    if fields is not None:
        _, columns = parse_squeue_fields(fields)
        wanted = (_COLUMNS["S"], _COLUMNS["e"])
        return any(column in wanted for column in columns.values())
    tokens = parse_percent_format(fmt or SQUEUE_DEFAULT_FORMAT, _COLUMNS)
    return any(isinstance(t, FieldSpec) and t.key in ("S", "e") for t in tokens)


def format_squeue_fields(jobs: Iterable[LiveJob], fields: str, *,
                         header: bool = True, now: float, sort: str | None = None,
                         expand_arrays: bool = False) -> str:
    """squeue's table for an ``-O``/``--Format`` field list."""
    tokens, columns = parse_squeue_fields(fields)
    rows = _rows(jobs, now=now, sort=sort, expand_arrays=expand_arrays)
    return render(tokens, columns, rows, header=header, args=(now,))
