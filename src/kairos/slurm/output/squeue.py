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
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from kairos.core.jobs import JobState
from kairos.model.job import PUBLIC_FIELDS
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
    return _reason_lists([job])[0]


def _reason_lists(jobs: Sequence[LiveJob]) -> list[str]:
    """``_reason_list`` of each job, its fields read a column at a time."""
    active, pending, no_reason = _ACTIVE_CODES, JobState.PENDING.value, (None, "", "None")
    return [(nodes or "") if code in active or (code != pending and reason in no_reason)
            else f"({reason or 'None'})"
            for code, reason, nodes in zip(map(_CODE, jobs), map(_REASON, jobs),
                                           map(_NODE_LIST, jobs))]


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


def _job_column(header: str, value: Callable[[LiveJob], str], reads: tuple[str, ...] = (),
                *, values: Callable[[list[LiveJob]], list[str]] | None = None) -> Column:
    """A column that needs the job only (not the line or the time): its texts for all
    lines are ``values`` of their jobs, by default one ``map`` of ``value``."""
    many = values or (lambda jobs: list(map(value, jobs)))
    return Column(header, lambda line, now: value(line.job), reads,
                  values=lambda lines, now: many(list(map(_JOB, lines))))


def _text_column(header: str, name: str, *, shared: bool = False) -> Column:
    """A column showing ``str`` of one job field, made in C for all lines (``shared``:
    a whole number many lines share, written once, ``_texts``)."""
    field = attrgetter(name)
    texts = _texts if shared else (lambda values: list(map(str, values)))
    return _job_column(header, lambda j: str(field(j)), (name,),
                       values=lambda jobs: texts(map(field, jobs)))


_JOB = attrgetter("job")
_TASKS = attrgetter("tasks")
_JOB_ID = attrgetter("job_id")
_ARRAY_JOB_ID = attrgetter("array_job_id")
_ARRAY_TASK_ID = attrgetter("array_task_id")
_REASON = attrgetter("reason")
_NODE_LIST = attrgetter("node_list")
_START_TIME = attrgetter("start_time")
_END_TIME = attrgetter("end_time")
_PRIORITY = attrgetter("priority")
#: A job's state code and name, read in C: ``state.value`` and a dict keyed by the
#: member both run Python code for each job (enum members hash in Python).
_CODE = attrgetter("state._value_")
_NAME = attrgetter("state._name_")
#: Codes of the states that hold resources (``JobState.active``).
_ACTIVE_CODES = frozenset(state.value for state in JobState if state.active)


def _labels(lines: Sequence[JobLine], now: float) -> list[str]:
    """Each line's ``label``: the job id, but for array tasks and pending tasks."""
    jobs = list(map(_JOB, lines))
    out = list(map(str, map(_JOB_ID, jobs)))
    shared, tasks = list(map(_TASKS, lines)), list(map(_ARRAY_TASK_ID, jobs))
    n = len(lines)
    if shared.count(None) == n and tasks.count(None) == n:
        return out  # no array task (counted in C)
    for i in [i for i, (group, task) in enumerate(zip(shared, tasks))
              if group is not None or task is not None]:
        out[i] = lines[i].label
    return out


def _texts(values: Iterable[int]) -> list[str]:
    """``str`` of each whole number, each distinct one written once (many lines share a
    few node counts)."""
    values = list(values)
    written = {value: str(value) for value in set(values)}
    return list(map(written.__getitem__, values))


def _times_used(lines: Sequence[JobLine], now: float) -> list[str]:
    """squeue's TIME of each line (``elapsed``, in whole seconds); a job that has not
    started shows no time used.  The seconds of every line first, then each number of
    seconds written once: many jobs share one (short jobs, a backlog started in one
    pass)."""
    jobs = list(map(_JOB, lines))
    pending, active = JobState.PENDING.value, _ACTIVE_CODES
    seconds = [0 if start is None or code == pending
               else max(0, int((now if code in active or end is None else end) - start))
               for start, end, code in zip(map(_START_TIME, jobs), map(_END_TIME, jobs),
                                           map(_CODE, jobs))]
    written = {value: format_duration(value) for value in set(seconds)}
    return list(map(written.__getitem__, seconds))


#: The fields some columns and sort keys read.
_LABEL = ("job_id", "array_job_id", "array_task_id")
_ELAPSED = ("state", "start_time", "end_time")
_REASON_LIST = ("state", "reason", "node_list")

_COLUMNS: dict[str, Column] = {
    "i": Column("JOBID", lambda line, now: line.label, _LABEL, values=_labels),
    "A": _text_column("JOBID", "job_id"),
    "F": _job_column("ARRAY_JOB_ID", lambda j: str(array_master_id(j)), _LABEL),
    "K": Column("ARRAY_TASK_ID", lambda line, now: line.task_text, ("array_task_id",)),
    "j": _job_column("NAME", attrgetter("name"), ("name",)),
    "u": _job_column("USER", attrgetter("user"), ("user",)),
    "U": _job_column("UID", lambda j: "" if j.uid is None else str(j.uid), ("uid",)),
    "g": _job_column("GROUP", attrgetter("group"), ("group",)),
    "G": _job_column("GROUP", lambda j: "" if j.gid is None else str(j.gid), ("gid",)),
    "a": _job_column("ACCOUNT", lambda j: or_null(j.account), ("account",)),
    "q": _job_column("QOS", lambda j: or_null(j.qos), ("qos",)),
    "P": _job_column("PARTITION", attrgetter("partition"), ("partition",)),
    "t": _job_column("ST", _CODE, ("state",)),
    "T": _job_column("STATE", _NAME, ("state",)),
    "M": Column("TIME", lambda line, now: format_duration(elapsed(line.job, now)), _ELAPSED,
                values=_times_used),
    "l": _job_column("TIME_LIMIT", lambda j: format_duration(j.time_limit),
                ("time_limit",)),
    "L": Column("TIME_LEFT", _time_left, ("time_limit", *_ELAPSED)),
    "D": _text_column("NODES", "nodes", shared=True),
    "C": _text_column("CPUS", "cpus", shared=True),
    "c": _job_column("MIN_CPUS", min_cpus, ("ntasks", "nodes", "cpus_per_task")),
    "m": _job_column("MIN_MEMORY", lambda j: format_size(j.mem_per_node or 0, "M"),
                ("mem_per_node",)),
    "b": _job_column("TRES_PER_NODE", _gres_per_node, ("gpus",)),
    "R": _job_column("NODELIST(REASON)", _reason_list, _REASON_LIST, values=_reason_lists),
    "r": _job_column("REASON", lambda j: j.reason or "None", ("reason",)),
    "N": _job_column("NODELIST", lambda j: j.node_list or "", ("node_list",)),
    "S": _job_column("START_TIME", _start, ("state", "expected_start", "start_time")),
    "e": _job_column("END_TIME", _end,
                ("state", "end_time", "expected_start", "time_limit", "start_time")),
    "V": _job_column("SUBMIT_TIME", lambda j: format_timestamp(j.submit_time),
                ("submit_time",)),
    "Q": _job_column("PRIORITY", lambda j: str(shown_priority(j)), ("priority",)),
    "p": _job_column("PRIORITY", 
        lambda j: f"{shown_priority(j) / _PRIORITY_SCALE:.14f}", ("priority",)),
    "y": _text_column("NICE", "nice"),
    "E": _job_column("DEPENDENCY", lambda j: or_null(j.dependency), ("dependency",)),
    "Z": _job_column("WORK_DIR", attrgetter("work_dir"), ("work_dir",)),
    "o": _job_column("COMMAND", lambda j: or_null(j.command), ("command",)),
    "Y": Column("SCHEDNODES", lambda line, now: "(null)"),
    "k": _job_column("COMMENT", lambda j: or_null(j.comment), ("comment",)),
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
    "numtasks": _text_column("TASKS", "ntasks"),
    "cpus-per-task": _text_column("CPUS_PER_TASK", "cpus_per_task"),
    "stdout": _job_column("STDOUT", lambda j: or_null(j.stdout), ("stdout",)),
    "stderr": _job_column("STDERR", lambda j: or_null(j.stderr), ("stderr",)),
    "pendingtime": Column("PENDING_TIME", _pending_time,
                          ("eligible_time", "submit_time", "start_time", "state")),
    "eligibletime": _job_column("ELIGIBLE_TIME",
                           lambda j: format_timestamp(j.eligible_time),
                           ("eligible_time",)),
    "tres-alloc": _job_column("TRES_ALLOC", tres, ("cpus", "mem_per_node", "nodes", "gpus")),
    "comment": "k",
    "wckey": _job_column("WCKEY", lambda j: or_null(j.wckey), ("wckey",)),
}

def _field(name: str) -> Callable[[Sequence[LiveJob], float], list]:
    """The sort key that is the field ``name`` of each job."""
    field = attrgetter(name)
    return lambda jobs, now: list(map(field, jobs))


def _field_or(name: str, missing: Any) -> Callable[[Sequence[LiveJob], float], list]:
    """The field ``name`` of each job, ``missing`` for an empty one."""
    field = attrgetter(name)
    return lambda jobs, now: [value or missing for value in map(field, jobs)]


def _each(key: Callable[[LiveJob, float], Any]) -> Callable[[Sequence[LiveJob], float], list]:
    return lambda jobs, now: [key(job, now) for job in jobs]


def _master_ids(jobs: Sequence[LiveJob], now: float = 0.0) -> list[int]:
    ids, arrays = list(map(_JOB_ID, jobs)), list(map(_ARRAY_JOB_ID, jobs))
    if arrays.count(None) == len(arrays):
        return ids
    return [job_id if array is None else array for job_id, array in zip(ids, arrays)]


def _id_keys(jobs: Sequence[LiveJob], now: float) -> list[tuple[int, int, int]]:
    return [(job_id if array is None else array, task or -1, job_id)
            for job_id, array, task in zip(map(_JOB_ID, jobs), map(_ARRAY_JOB_ID, jobs),
                                           map(_ARRAY_TASK_ID, jobs))]


def _shown_priorities(jobs: Sequence[LiveJob], now: float) -> list[int]:
    return [int(value or 0) for value in map(_PRIORITY, jobs)]


def _time_limits(jobs: Sequence[LiveJob], now: float) -> list[float]:
    return [math.inf if value is None else value
            for value in map(attrgetter("time_limit"), jobs)]


#: ``--sort`` letters -> the sort key of each of a list of jobs (``None`` sorts last).
_SORT_KEYS: dict[str, Callable[[Sequence[LiveJob], float], list]] = {
    "i": _id_keys, "A": _field("job_id"), "F": _master_ids, "K": _field("array_task_id"),
    "j": _field("name"), "u": _field("user"), "U": _field("uid"), "g": _field("group"),
    "a": _field_or("account", ""), "q": _field_or("qos", ""), "P": _field("partition"),
    "t": _field("state._value_"), "T": _field("state._name_"),
    "M": _each(lambda j, now: elapsed(j, now)), "l": _time_limits,
    "D": _field("nodes"), "C": _field("cpus"), "N": _field_or("node_list", None),
    "r": _field_or("reason", ""), "R": lambda jobs, now: _reason_lists(jobs),
    "S": _each(lambda j, now: j.expected_start if j.state is JobState.PENDING
               else j.start_time),
    "e": _field("end_time"), "V": _field("submit_time"),
    "Q": _shown_priorities, "p": _shown_priorities,
    "y": _field("nice"), "Z": _field("work_dir"),
}
#: What every squeue reads: a line's job id and array task, state and reason (pending
#: tasks of an array share a line per reason) and the order ties keep.
_ALWAYS_READ = ("job_id", "array_job_id", "array_task_id", "state", "reason")


def sort_lines(lines: Sequence[JobLine], spec: str, *, now: float) -> list[JobLine]:
    """Lines in squeue's ``--sort`` order (``P,t,-p``: partition, state, descending
    priority); ties keep ascending job id.  Raises ``FormatError`` for an unknown key."""
    return list(map(lines.__getitem__, _sort_order(lines, spec, now)))


def _sort_order(lines: Sequence[JobLine], spec: str, now: float) -> list[int]:
    """The lines' places in ``sort_lines``'s order: one stable sort of the places per
    key, last key first, each key computed once for all jobs."""
    passes = []
    for item in reversed([item.strip() for item in spec.split(",") if item.strip()]):
        key = _SORT_KEYS.get(item.lstrip("+-"))
        if key is None:
            raise FormatError(f"Invalid sort specification: {item}")
        passes.append((key, item.startswith("-")))
    jobs = list(map(_JOB, lines))
    masters, tasks = _master_ids(jobs), list(map(_ARRAY_TASK_ID, jobs))
    if tasks.count(None) == len(tasks):  # no array task: the job ids alone
        ties = masters
        order = list(range(len(jobs)))
        if ties != sorted(ties):  # (they usually come in order)
            order.sort(key=ties.__getitem__)
    else:
        ties = [(master, task or -1) for master, task in zip(masters, tasks)]
        order = _sorted_nones_last(list(range(len(jobs))), ties, False)
    for key, descending in passes:
        order = _sorted_nones_last(order, key(jobs, now), descending)
    return order


def _sorted_nones_last(order: list[int], keys: list[Any], descending: bool) -> list[int]:
    """The places in ``order`` stably sorted by their ``keys`` (``keys[place]``), those
    without one last.  Keys all equal (one partition) leave the order as it is."""
    if None in keys:
        missing = [i for i in order if keys[i] is None]
        order = [i for i in order if keys[i] is not None]
        order.sort(key=keys.__getitem__, reverse=descending)
        return order + missing
    if keys and keys.count(keys[0]) == len(keys):
        return order
    order.sort(key=keys.__getitem__, reverse=descending)
    return order


def _lines(jobs: Iterable[LiveJob], *, now: float, sort: str | None,
           expand_arrays: bool) -> tuple[list[JobLine], list[int]]:
    """The lines, as the jobs come, and their places in ``sort``'s order."""
    lines = job_lines(jobs, expand_arrays=expand_arrays)
    return lines, _sort_order(lines, sort or SQUEUE_DEFAULT_SORT, now)


def format_squeue(jobs: Iterable[LiveJob], fmt: str | None = None, *,
                  header: bool = True, now: float, sort: str | None = None,
                  expand_arrays: bool = False) -> str:
    """squeue's table with a ``-o`` format (default ``SQUEUE_DEFAULT_FORMAT``), sorted
    by ``sort`` (default ``P,t,-p``); pending array tasks share a line unless
    ``expand_arrays`` (``-r``)."""
    tokens = parse_percent_format(fmt or SQUEUE_DEFAULT_FORMAT, _COLUMNS)
    lines, order = _lines(jobs, now=now, sort=sort, expand_arrays=expand_arrays)
    return render(tokens, _COLUMNS, lines, header=header, args=(now,),
                  uncut_values=frozenset("M"), uncut_headers=frozenset("R"), order=order)


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


def squeue_job_fields(fmt: str | None, fields: str | None = None,
                      sort: str | None = None) -> list[str]:
    """The job fields an ``-o`` format (or ``-O`` list, when given) and a ``--sort``
    read, in ``LiveJob``'s order: all squeue needs to ask the controller for."""
    if fields is not None:
        columns = list(parse_squeue_fields(fields)[1].values())
    else:
        tokens = parse_percent_format(fmt or SQUEUE_DEFAULT_FORMAT, _COLUMNS)
        columns = [_COLUMNS[t.key] for t in tokens if isinstance(t, FieldSpec)]
    for item in (sort or SQUEUE_DEFAULT_SORT).split(","):
        letter = item.strip().lstrip("+-")
        if letter in _SORT_KEYS:
            columns.append(_COLUMNS[letter])
    wanted = set(_ALWAYS_READ).union(*(column.reads for column in columns))
    return [name for name in PUBLIC_FIELDS if name in wanted]


def format_squeue_fields(jobs: Iterable[LiveJob], fields: str, *,
                         header: bool = True, now: float, sort: str | None = None,
                         expand_arrays: bool = False) -> str:
    """squeue's table for an ``-O``/``--Format`` field list."""
    tokens, columns = parse_squeue_fields(fields)
    lines, order = _lines(jobs, now=now, sort=sort, expand_arrays=expand_arrays)
    return render(tokens, columns, lines, header=header, args=(now,), order=order)
