"""What squeue, sacct, sinfo, scontrol, sprio and sshare print, the way Slurm 22.05
prints it.

Scripts written for Slurm parse these outputs (``squeue -h -o %i``, ``sacct -P -n -o
JobID,State``, ``scontrol show job 12 | grep JobState``), so the Kairos commands must
print the same headers, column widths, state codes and time notations.  Everything was
checked against a real Slurm 22.05 (squeue, sinfo, scontrol, sacct on its job-completion
log); where Kairos differs it says so below.  The functions are pure: they take the
JSON dicts the controller sends (``JobInfo`` and friends, see ``docs/live.md``), turn
them into records at the boundary and return text; the current time is an argument.

Format mini-languages
---------------------
* squeue/sinfo/sprio ``-o``: ``%[.][width]letter`` with literal text between fields.
  ``.`` right-justifies, a width alone left-justifies, no width prints the value as is.
  A value longer than its width is cut to the width (squeue's TIME is never cut, and
  neither is the NODELIST(REASON) header), as Slurm does.
* squeue ``-O``: ``Name[:[.][width][suffix]]`` separated by commas; default width 20,
  no separator besides the padding.
* sacct ``-o``: ``Field[%[-]width]``; each field has Slurm's default width and
  justification, ``%N`` right-justifies to N, ``%-N`` left-justifies; a value too long
  for its column ends in ``+``.  ``--parsable2`` joins with ``|``, ``--parsable`` also
  ends each line with ``|``.

Differences from Slurm, on purpose
----------------------------------
* Kairos has no job steps.  sacct without ``-X`` prints, like Slurm, a ``<id>.batch``
  line after each job that started: job name ``batch``, the job's state (a job that
  hit its time limit shows ``TIMEOUT`` on the job line and ``CANCELLED`` on the batch
  line, as in Slurm), its exit code and usage.  MaxRSS and TotalCPU appear on both
  lines (Slurm has them on steps only), so ``-X`` still reports usage.
* ``CANCELLED`` is printed without Slurm's `` by <uid>`` suffix (Kairos does not
  record who cancelled a job).
* Pending tasks of one array with the same reason share a line (``12_[3-7]``) in
  squeue and sacct unless ``-r``; the throttle (``%2``) is not shown.
* Ties in the default squeue order (partition, state, descending priority) are broken
  by ascending job id.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from kairos.slurm import hostlist
from kairos.slurm.arrays import format_array
from kairos.slurm.timespec import format_duration, format_timestamp

#: squeue's formats (``-o``) by option, as in Slurm 22.05.
SQUEUE_DEFAULT_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
SQUEUE_LONG_FORMAT = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
SQUEUE_START_FORMAT = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"
#: squeue's default order: partition, state, descending priority.
SQUEUE_DEFAULT_SORT = "P,t,-p"
#: squeue's default width for an ``-O`` field without one.
SQUEUE_FIELD_WIDTH = 20

SACCT_DEFAULT_FIELDS = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
SACCT_BRIEF_FIELDS = "JobID,State,ExitCode"
#: ``sacct -l`` reduced to the fields Kairos records.
SACCT_LONG_FIELDS = ("JobID,JobIDRaw,JobName,Partition,MaxRSS,NTasks,AllocCPUS,Elapsed,"
                     "State,ExitCode,ReqMem,ReqTRES,AllocTRES,TotalCPU")

SINFO_DEFAULT_FORMAT = "%#P %.5a %.10l %.6D %.6t %N"
SINFO_SUMMARY_FORMAT = "%#P %.5a %.10l %.16F %N"
SINFO_LONG_FORMAT = "%#P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N"
#: ``#``: as wide as the widest value (and the header); ``%#9N``: at least 9.  The
#: node-oriented partition column is right-justified, the CPUS column left-justified,
#: as the 22.05 sinfo prints them.
SINFO_NODE_FORMAT = "%#9N %.6D %.#P %6t"
SINFO_NODE_LONG_FORMAT = "%#9N %.6D %.#P %.11T %4c %.8z %.6m %.8d %.6w %.8f %20E"

SPRIO_DEFAULT_FORMAT = "%.15i %9r %.10Y %.10S %.10A %.10F %.10J %.10P %.10Q"
SPRIO_LONG_FORMAT = "%.15i %9r %.8u %.10Y %.10S %.10A %.10F %.10J %.10P %.10Q %.11N"

#: Slurm's largest job priority; squeue's ``%p`` divides by it.
_PRIORITY_SCALE = 2**32 - 1


class FormatError(ValueError):
    """A format, field list or sort key that the command does not know."""


class UnknownStateError(ValueError):
    """A job state given on the command line that is neither a code nor a name."""


# --- job states ------------------------------------------------------------------------

class JobState(Enum):
    """Slurm's job states, valued by their compact code (``squeue %t``), in the order
    Slurm lists them."""

    PENDING = "PD"
    RUNNING = "R"
    SUSPENDED = "S"
    COMPLETED = "CD"
    CANCELLED = "CA"
    FAILED = "F"
    TIMEOUT = "TO"
    NODE_FAIL = "NF"
    PREEMPTED = "PR"
    BOOT_FAIL = "BF"
    DEADLINE = "DL"
    OUT_OF_MEMORY = "OOM"
    COMPLETING = "CG"
    CONFIGURING = "CF"
    RESIZING = "RS"
    RESV_DEL_HOLD = "RD"
    REQUEUED = "RQ"
    REQUEUE_FED = "RF"
    REQUEUE_HOLD = "RH"
    REVOKED = "RV"
    SIGNALING = "SI"
    SPECIAL_EXIT = "SE"
    STAGE_OUT = "SO"
    STOPPED = "ST"

    @property
    def code(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        """Holding or about to hold resources (time keeps counting)."""
        return self in (JobState.RUNNING, JobState.COMPLETING, JobState.SUSPENDED,
                        JobState.CONFIGURING, JobState.SIGNALING, JobState.STAGE_OUT)

    @property
    def finished(self) -> bool:
        return not self.active and self is not JobState.PENDING

    @classmethod
    def parse(cls, token: str) -> JobState:
        """A state from its code or name, any case (``pd``, ``PENDING``)."""
        text = token.strip().upper()
        if text in cls.__members__:
            return cls[text]
        try:
            return cls(text)
        except ValueError:
            raise UnknownStateError(
                f"Invalid job state specified: {token}") from None


#: What squeue shows without ``-t``.
SQUEUE_DEFAULT_STATES = frozenset({JobState.PENDING, JobState.RUNNING, JobState.COMPLETING})


def state_code(name: str) -> str:
    """``PENDING`` -> ``PD``; an unknown name is returned as it is."""
    try:
        return JobState.parse(name).code
    except UnknownStateError:
        return name


def parse_states(text: str) -> frozenset[JobState]:
    """A comma list of state codes or names, or ``all``; raises ``UnknownStateError``
    naming the bad item and listing the valid names."""
    items = [item for item in text.split(",") if item.strip()]
    if any(item.strip().lower() == "all" for item in items):
        return frozenset(JobState)
    states = set()
    for item in items:
        try:
            states.add(JobState.parse(item))
        except UnknownStateError:
            valid = ",".join(state.name for state in JobState)
            raise UnknownStateError(f"Invalid job state specified: {item}\n"
                                    f"Valid job states include: {valid}") from None
    return frozenset(states)


# --- records built from the wire -------------------------------------------------------

def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class JobRecord:
    """One job as the query commands see it, made from a ``JobInfo`` dict.

    ``array_tasks`` is set on a line standing for several pending tasks of one array
    (``"3-7"``); ``job_id`` is then the lowest task's.
    """

    job_id: int
    name: str
    user: str
    state: JobState
    partition: str = ""
    array_job_id: int | None = None
    array_task_id: int | None = None
    array_tasks: str | None = None
    uid: int | None = None
    group: str = ""
    gid: int | None = None
    account: str | None = None
    qos: str | None = None
    reason: str | None = None
    priority: int = 0
    nice: int = 0
    held: bool = False
    submit_time: float = 0.0
    eligible_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    expected_start: float | None = None
    time_limit: float | None = None
    time_min: float | None = None
    nodes: int = 1
    ntasks: int = 1
    cpus_per_task: int = 1
    cpus: int = 1
    mem_per_node: int | None = None
    gpus: tuple[tuple[str | None, int], ...] = ()
    dependency: str | None = None
    work_dir: str = ""
    stdout: str | None = None
    stderr: str | None = None
    command: str | None = None
    node_list: str | None = None
    exit_code: int = 0
    signal: int = 0
    cpu_time: float | None = None
    max_rss: int | None = None
    restarts: int = 0

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> JobRecord:
        """The record for a ``JobInfo`` dict (missing optional keys take defaults)."""
        gpus = tuple((kind or None, int(count)) for kind, count in info.get("gpus") or ())
        return cls(
            job_id=int(info["job_id"]), name=str(info.get("name") or ""),
            user=str(info.get("user") or ""), state=JobState.parse(info["state"]),
            partition=str(info.get("partition") or ""),
            array_job_id=_optional_int(info.get("array_job_id")),
            array_task_id=_optional_int(info.get("array_task_id")),
            uid=_optional_int(info.get("uid")), group=str(info.get("group") or ""),
            gid=_optional_int(info.get("gid")), account=info.get("account"),
            qos=info.get("qos"), reason=info.get("reason"),
            priority=int(info.get("priority") or 0), nice=int(info.get("nice") or 0),
            held=bool(info.get("held")), submit_time=float(info.get("submit_time") or 0),
            eligible_time=_optional_float(info.get("eligible_time")),
            start_time=_optional_float(info.get("start_time")),
            end_time=_optional_float(info.get("end_time")),
            expected_start=_optional_float(info.get("expected_start")),
            time_limit=_optional_float(info.get("time_limit")),
            time_min=_optional_float(info.get("time_min")),
            nodes=int(info.get("nodes") or 1), ntasks=int(info.get("ntasks") or 1),
            cpus_per_task=int(info.get("cpus_per_task") or 1),
            cpus=int(info.get("cpus") or 1),
            mem_per_node=_optional_int(info.get("mem_per_node")), gpus=gpus,
            dependency=info.get("dependency") or None,
            work_dir=str(info.get("work_dir") or ""), stdout=info.get("stdout"),
            stderr=info.get("stderr"), command=info.get("command"),
            node_list=info.get("node_list") or None,
            exit_code=int(info.get("exit_code") or 0), signal=int(info.get("signal") or 0),
            cpu_time=_optional_float(info.get("cpu_time")),
            max_rss=_optional_int(info.get("max_rss")),
            restarts=int(info.get("restarts") or 0),
        )

    @property
    def display_id(self) -> str:
        """``12``, ``12_3`` for an array task, ``12_[3-7]`` for pending tasks."""
        if self.array_tasks is not None:
            return f"{self.array_job_id}_[{self.array_tasks}]"
        if self.array_task_id is not None:
            return f"{self.array_job_id}_{self.array_task_id}"
        return str(self.job_id)

    @property
    def array_master_id(self) -> int:
        return self.array_job_id if self.array_job_id is not None else self.job_id

    @property
    def task_text(self) -> str:
        if self.array_tasks is not None:
            return self.array_tasks
        return "N/A" if self.array_task_id is None else str(self.array_task_id)

    @property
    def started(self) -> bool:
        return self.start_time is not None and self.state is not JobState.PENDING

    def elapsed(self, now: float) -> float:
        """Seconds run so far (running) or in all (finished); 0 before the start."""
        if not self.started:
            return 0.0
        assert self.start_time is not None
        end = now if self.state.active or self.end_time is None else self.end_time
        return max(0.0, end - self.start_time)

    @property
    def first_node(self) -> str:
        if not self.node_list:
            return ""
        try:
            names = hostlist.expand(self.node_list)
        except ValueError:
            return self.node_list
        return names[0] if names else ""


def job_records(jobs: Iterable[Mapping[str, Any]]) -> list[JobRecord]:
    return [JobRecord.from_wire(job) for job in jobs]


def collapse_pending_arrays(records: Sequence[JobRecord]) -> list[JobRecord]:
    """Pending tasks of one array with the same reason become one line (``12_[3-7]``),
    as squeue and sacct show them without ``-r``; the line goes where its first task
    was."""
    groups: dict[tuple[int, str | None], list[JobRecord]] = {}
    for record in records:
        if record.state is JobState.PENDING and record.array_task_id is not None:
            groups.setdefault((record.array_master_id, record.reason), []).append(record)
    result = []
    for record in records:
        if record.state is not JobState.PENDING or record.array_task_id is None:
            result.append(record)
            continue
        members = groups.pop((record.array_master_id, record.reason), None)
        if members is None:  # already shown with its group
            continue
        if len(members) == 1:
            result.append(record)
            continue
        first = min(members, key=lambda r: r.array_task_id or 0)
        tasks = format_array([m.array_task_id or 0 for m in members])
        result.append(replace(first, array_tasks=tasks))
    return result


# --- value notations -------------------------------------------------------------------

def format_clock(seconds: float) -> str:
    """``[D-]HH:MM:SS`` (sacct's Elapsed, scontrol's RunTime and TimeLimit)."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{text}" if days else text


def format_cpu_time(seconds: float) -> str:
    """sacct's TotalCPU: ``MM:SS.mmm`` under an hour, else ``[D-]HH:MM:SS``."""
    if seconds >= 3600:
        return format_clock(seconds)
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{secs:06.3f}"


def format_exit(code: int, signal: int) -> str:
    """``code:signal``, as Slurm prints exit codes."""
    return f"{code}:{signal}"


def format_size(value: int, unit: str) -> str:
    """A size in ``unit`` (``K`` or ``M``) moved to the largest unit that divides it
    exactly, as Slurm prints memory: 4096 M is ``4G``, 1234 K stays ``1234K``."""
    units = "KMGTPE"
    index = units.index(unit)
    if value == 0:
        return "0"
    while value % 1024 == 0 and index < len(units) - 1:
        value //= 1024
        index += 1
    return f"{value}{units[index]}"


def format_gres(gpus: Iterable[tuple[str | None, int]]) -> str:
    """``gpu:2`` / ``gpu:a100:2`` items joined by commas."""
    return ",".join(f"gpu:{kind}:{count}" if kind else f"gpu:{count}"
                    for kind, count in gpus if count)


def _tres(record: JobRecord) -> str:
    """``cpu=4,mem=8G,node=1,billing=4[,gres/gpu=2]``, Slurm's TRES string order."""
    parts = [f"cpu={record.cpus}"]
    if record.mem_per_node:
        parts.append(f"mem={format_size(record.mem_per_node * record.nodes, 'M')}")
    parts += [f"node={record.nodes}", f"billing={record.cpus}"]
    gpu_total = sum(count for _, count in record.gpus) * record.nodes
    if gpu_total:
        parts.append(f"gres/gpu={gpu_total}")
    return ",".join(parts)


def _null(value: Any) -> str:
    return "(null)" if value in (None, "") else str(value)


# --- the %-format mini-language --------------------------------------------------------

@dataclass(frozen=True)
class FieldSpec:
    """One field of a format: which (a letter or a name), how wide, which side.

    ``width`` ``None`` prints the value as it is; ``fit`` marks sinfo's ``#`` width
    (as wide as the widest value or the header).
    """

    key: str
    width: int | None = None
    right: bool = False
    suffix: str = ""
    fit: bool = False


Token = str | FieldSpec


def parse_percent_format(fmt: str, known: Iterable[str], *,
                         what: str = "job") -> list[Token]:
    """Literal text and ``%[.][width]letter`` fields; ``%%`` is a literal ``%``.

    Raises ``FormatError`` (Slurm's words) at the first letter ``known`` lacks.
    """
    letters = set(known)
    tokens: list[Token] = []
    text: list[str] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            text.append(char)
            i += 1
            continue
        if fmt[i + 1:i + 2] == "%":
            text.append("%")
            i += 2
            continue
        spec, i = _read_field(fmt, i + 1)
        if spec.key not in letters:
            raise FormatError(f"Invalid {what} format specification: {spec.key}")
        if text:
            tokens.append("".join(text))
            text = []
        tokens.append(spec)
    if text:
        tokens.append("".join(text))
    return tokens


def _read_field(fmt: str, i: int) -> tuple[FieldSpec, int]:
    right = fmt[i:i + 1] == "."
    i += right
    fit = fmt[i:i + 1] == "#"
    i += fit
    start = i
    while i < len(fmt) and fmt[i].isdigit():
        i += 1
    width = int(fmt[start:i]) if i > start else None
    key = fmt[i:i + 1]
    return FieldSpec(key=key, width=width, right=right, fit=fit), i + 1


def _fit(value: str, spec: FieldSpec, width: int | None, *, cut: bool = True) -> str:
    if width is None:
        return value + spec.suffix
    if cut and len(value) > width:
        value = value[:width]
    padded = value.rjust(width) if spec.right else value.ljust(width)
    return padded + spec.suffix


@dataclass(frozen=True)
class Column:
    """A printable field: its header and how to get its text from a row."""

    header: str
    value: Callable[..., str]


def _render(tokens: Sequence[Token], columns: Mapping[str, Column], rows: Sequence[Any],
            *, header: bool, args: tuple = (), uncut_values: frozenset[str] = frozenset(),
            uncut_headers: frozenset[str] = frozenset()) -> str:
    """The lines of a %-format (or -O) table: header first when asked."""
    values = [[columns[t.key].value(row, *args) if isinstance(t, FieldSpec) else t
               for t in tokens] for row in rows]
    widths = [_token_width(t, columns, values, i) for i, t in enumerate(tokens)]
    lines = []
    if header:
        lines.append("".join(
            _fit(columns[t.key].header, t, widths[i], cut=t.key not in uncut_headers)
            if isinstance(t, FieldSpec) else t for i, t in enumerate(tokens)))
    for row_values in values:
        lines.append("".join(
            _fit(v, t, widths[i], cut=t.key not in uncut_values)
            if isinstance(t, FieldSpec) else v
            for i, (t, v) in enumerate(zip(tokens, row_values))))
    return "".join(line + "\n" for line in lines)


def _token_width(token: Token, columns: Mapping[str, Column], values: list[list[str]],
                 index: int) -> int | None:
    if not isinstance(token, FieldSpec):
        return None
    if token.fit:
        longest = max((len(row[index]) for row in values), default=0)
        return max(longest, len(columns[token.key].header), token.width or 0)
    return token.width


# --- squeue ----------------------------------------------------------------------------

def _squeue_end(job: JobRecord) -> str:
    if job.state.finished:
        return format_timestamp(job.end_time)
    if job.state is JobState.PENDING:
        if job.expected_start is not None and job.time_limit is not None:
            return format_timestamp(job.expected_start + job.time_limit)
        return "N/A"
    if job.start_time is not None and job.time_limit is not None:
        return format_timestamp(job.start_time + job.time_limit)
    return "NONE"


def _squeue_start(job: JobRecord) -> str:
    if job.state is JobState.PENDING:
        return format_timestamp(job.expected_start)
    return format_timestamp(job.start_time)


def _squeue_reason_list(job: JobRecord) -> str:
    """Nodes for running jobs and finished ones that ended normally, else (reason)."""
    shows_nodes = job.state.active or (job.state.finished and job.reason in (None, "", "None"))
    if shows_nodes:
        return job.node_list or ""
    return f"({job.reason or 'None'})"


def _time_left(job: JobRecord, now: float) -> str:
    if job.time_limit is None:
        return "UNLIMITED"
    return format_duration(job.time_limit - job.elapsed(now))


def _pending_time(job: JobRecord, now: float) -> str:
    since = job.eligible_time if job.eligible_time is not None else job.submit_time
    until = job.start_time if job.started and job.start_time is not None else now
    return str(max(0, int(until - since)))


def _min_cpus(job: JobRecord) -> str:
    tasks_per_node = max(1, math.ceil(job.ntasks / max(1, job.nodes)))
    return str(job.cpus_per_task * tasks_per_node)


def _gres_per_node(job: JobRecord) -> str:
    gres = format_gres(job.gpus)
    return ",".join(f"gres:{item}" for item in gres.split(",")) if gres else "N/A"


_SQUEUE_COLUMNS: dict[str, Column] = {
    "i": Column("JOBID", lambda j, now: j.display_id),
    "A": Column("JOBID", lambda j, now: str(j.job_id)),
    "F": Column("ARRAY_JOB_ID", lambda j, now: str(j.array_master_id)),
    "K": Column("ARRAY_TASK_ID", lambda j, now: j.task_text),
    "j": Column("NAME", lambda j, now: j.name),
    "u": Column("USER", lambda j, now: j.user),
    "U": Column("UID", lambda j, now: "" if j.uid is None else str(j.uid)),
    "g": Column("GROUP", lambda j, now: j.group),
    "G": Column("GROUP", lambda j, now: "" if j.gid is None else str(j.gid)),
    "a": Column("ACCOUNT", lambda j, now: _null(j.account)),
    "q": Column("QOS", lambda j, now: _null(j.qos)),
    "P": Column("PARTITION", lambda j, now: j.partition),
    "t": Column("ST", lambda j, now: j.state.code),
    "T": Column("STATE", lambda j, now: j.state.name),
    "M": Column("TIME", lambda j, now: format_duration(j.elapsed(now))),
    "l": Column("TIME_LIMIT", lambda j, now: format_duration(j.time_limit)),
    "L": Column("TIME_LEFT", _time_left),
    "D": Column("NODES", lambda j, now: str(j.nodes)),
    "C": Column("CPUS", lambda j, now: str(j.cpus)),
    "c": Column("MIN_CPUS", lambda j, now: _min_cpus(j)),
    "m": Column("MIN_MEMORY", lambda j, now: format_size(j.mem_per_node or 0, "M")),
    "b": Column("TRES_PER_NODE", lambda j, now: _gres_per_node(j)),
    "R": Column("NODELIST(REASON)", lambda j, now: _squeue_reason_list(j)),
    "r": Column("REASON", lambda j, now: j.reason or "None"),
    "N": Column("NODELIST", lambda j, now: j.node_list or ""),
    "S": Column("START_TIME", lambda j, now: _squeue_start(j)),
    "e": Column("END_TIME", lambda j, now: _squeue_end(j)),
    "V": Column("SUBMIT_TIME", lambda j, now: format_timestamp(j.submit_time)),
    "Q": Column("PRIORITY", lambda j, now: str(j.priority)),
    "p": Column("PRIORITY", lambda j, now: f"{j.priority / _PRIORITY_SCALE:.14f}"),
    "y": Column("NICE", lambda j, now: str(j.nice)),
    "E": Column("DEPENDENCY", lambda j, now: _null(j.dependency)),
    "Z": Column("WORK_DIR", lambda j, now: j.work_dir),
    "o": Column("COMMAND", lambda j, now: _null(j.command)),
    "Y": Column("SCHEDNODES", lambda j, now: "(null)"),
}

#: ``-O`` names (lower case) -> the %-letter printing the same thing, or a column.
_SQUEUE_NAMED: dict[str, str | Column] = {
    "account": "a", "arrayjobid": "F", "arraytaskid": "K", "command": "o",
    "dependency": "E", "endtime": "e", "groupid": "G", "groupname": "g",
    "jobarrayid": "i", "jobid": "A", "mincpus": "c", "minmemory": "m", "name": "j",
    "nice": "y", "nodelist": "N", "numcpus": "C", "numnodes": "D", "partition": "P",
    "priority": "p", "prioritylong": "Q", "qos": "q", "reason": "r", "reasonlist": "R",
    "schednodes": "Y", "starttime": "S", "state": "T", "statecompact": "t",
    "submittime": "V", "timeleft": "L", "timelimit": "l", "timeused": "M",
    "tres-per-node": "b", "userid": "U", "username": "u", "workdir": "Z",
    "numtasks": Column("TASKS", lambda j, now: str(j.ntasks)),
    "cpus-per-task": Column("CPUS_PER_TASK", lambda j, now: str(j.cpus_per_task)),
    "stdout": Column("STDOUT", lambda j, now: _null(j.stdout)),
    "stderr": Column("STDERR", lambda j, now: _null(j.stderr)),
    "pendingtime": Column("PENDING_TIME", _pending_time),
    "eligibletime": Column("ELIGIBLE_TIME",
                           lambda j, now: format_timestamp(j.eligible_time)),
    "tres-alloc": Column("TRES_ALLOC", lambda j, now: _tres(j)),
}

#: ``--sort`` letters -> a sort key (``None`` sorts last).
_SQUEUE_SORT_KEYS: dict[str, Callable[[JobRecord, float], Any]] = {
    "i": lambda j, now: (j.array_master_id, j.array_task_id or -1, j.job_id),
    "A": lambda j, now: j.job_id, "F": lambda j, now: j.array_master_id,
    "K": lambda j, now: j.array_task_id, "j": lambda j, now: j.name,
    "u": lambda j, now: j.user, "U": lambda j, now: j.uid, "g": lambda j, now: j.group,
    "a": lambda j, now: j.account or "", "q": lambda j, now: j.qos or "",
    "P": lambda j, now: j.partition, "t": lambda j, now: j.state.code,
    "T": lambda j, now: j.state.name, "M": lambda j, now: j.elapsed(now),
    "l": lambda j, now: j.time_limit if j.time_limit is not None else math.inf,
    "D": lambda j, now: j.nodes, "C": lambda j, now: j.cpus, "N": lambda j, now: j.node_list,
    "r": lambda j, now: j.reason or "", "R": lambda j, now: _squeue_reason_list(j),
    "S": lambda j, now: j.expected_start if j.state is JobState.PENDING else j.start_time,
    "e": lambda j, now: j.end_time, "V": lambda j, now: j.submit_time,
    "Q": lambda j, now: j.priority, "p": lambda j, now: j.priority,
    "y": lambda j, now: j.nice, "Z": lambda j, now: j.work_dir,
}


def _squeue_named_column(name: str) -> Column:
    target = _SQUEUE_NAMED.get(name.lower())
    if target is None:
        raise FormatError(f"Invalid job format specification: {name}")
    return _SQUEUE_COLUMNS[target] if isinstance(target, str) else target


def sort_jobs(records: Sequence[JobRecord], spec: str, *, now: float) -> list[JobRecord]:
    """Records in squeue's ``--sort`` order (``P,t,-p``: partition, state, descending
    priority); ties keep ascending job id.  Raises ``FormatError`` for an unknown key."""
    ordered = sorted(records, key=lambda j: (j.array_master_id, j.array_task_id or -1))
    keys = [item.strip() for item in spec.split(",") if item.strip()]
    for item in reversed(keys):
        descending = item.startswith("-")
        letter = item.lstrip("+-")
        key = _SQUEUE_SORT_KEYS.get(letter)
        if key is None:
            raise FormatError(f"Invalid sort specification: {item}")
        ordered = _sorted_nones_last(ordered, lambda j, k=key: k(j, now), descending)
    return ordered


def _sorted_nones_last(records: list[JobRecord], key: Callable[[JobRecord], Any],
                       descending: bool) -> list[JobRecord]:
    present = [r for r in records if key(r) is not None]
    missing = [r for r in records if key(r) is None]
    return sorted(present, key=key, reverse=descending) + missing


def _squeue_rows(jobs: Iterable[Mapping[str, Any]], *, now: float, sort: str | None,
                 expand_arrays: bool) -> list[JobRecord]:
    records = job_records(jobs)
    if not expand_arrays:
        records = collapse_pending_arrays(records)
    return sort_jobs(records, sort or SQUEUE_DEFAULT_SORT, now=now)


def format_squeue(jobs: Iterable[Mapping[str, Any]], fmt: str | None = None, *,
                  header: bool = True, now: float, sort: str | None = None,
                  expand_arrays: bool = False) -> str:
    """squeue's table for ``JobInfo`` dicts with a ``-o`` format (default
    ``SQUEUE_DEFAULT_FORMAT``), sorted by ``sort`` (default ``P,t,-p``); pending array
    tasks share a line unless ``expand_arrays`` (``-r``)."""
    tokens = parse_percent_format(fmt or SQUEUE_DEFAULT_FORMAT, _SQUEUE_COLUMNS)
    rows = _squeue_rows(jobs, now=now, sort=sort, expand_arrays=expand_arrays)
    return _render(tokens, _SQUEUE_COLUMNS, rows, header=header, args=(now,),
                   uncut_values=frozenset("M"), uncut_headers=frozenset("R"))


def parse_squeue_fields(fields: str) -> tuple[list[Token], dict[str, Column]]:
    """The tokens and columns of an ``-O`` list ``Name[:[.][width][suffix]],...``."""
    tokens: list[Token] = []
    columns: dict[str, Column] = {}
    for index, item in enumerate(part for part in fields.split(",") if part.strip()):
        name, colon, rest = item.strip().partition(":")
        key = f"{index}:{name}"
        columns[key] = _squeue_named_column(name)
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


def squeue_shows_times(fmt: str | None, fields: str | None = None) -> bool:
    """Whether an ``-o`` format (or ``-O`` list, when given) prints start or end times,
    which need the controller's start-time forecast."""
    if fields is not None:
        _, columns = parse_squeue_fields(fields)
        wanted = (_SQUEUE_COLUMNS["S"], _SQUEUE_COLUMNS["e"])
        return any(column in wanted for column in columns.values())
    tokens = parse_percent_format(fmt or SQUEUE_DEFAULT_FORMAT, _SQUEUE_COLUMNS)
    return any(isinstance(t, FieldSpec) and t.key in ("S", "e") for t in tokens)


def format_squeue_fields(jobs: Iterable[Mapping[str, Any]], fields: str, *,
                         header: bool = True, now: float, sort: str | None = None,
                         expand_arrays: bool = False) -> str:
    """squeue's table for an ``-O``/``--Format`` field list."""
    tokens, columns = parse_squeue_fields(fields)
    rows = _squeue_rows(jobs, now=now, sort=sort, expand_arrays=expand_arrays)
    return _render(tokens, columns, rows, header=header, args=(now,))


# --- sacct -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SacctLine:
    """A line of sacct: a job, or its batch step (``step="batch"``)."""

    job: JobRecord
    step: str | None = None

    @property
    def is_step(self) -> bool:
        return self.step is not None


@dataclass(frozen=True)
class SacctField:
    """A sacct field: its header, default width and side, and its value."""

    header: str
    width: int
    value: Callable[[SacctLine, float], str]
    left: bool = False


def _sacct_state(line: SacctLine) -> str:
    state = line.job.state
    if line.is_step and state is JobState.TIMEOUT:
        return JobState.CANCELLED.name
    return state.name


def _sacct_alloc_cpus(line: SacctLine) -> int:
    job = line.job
    if not job.started:
        return 0
    return max(1, job.cpus // max(1, job.nodes)) if line.is_step else job.cpus


def _sacct_id(line: SacctLine) -> str:
    return line.job.display_id + (f".{line.step}" if line.step else "")


def _sacct_raw_id(line: SacctLine) -> str:
    return str(line.job.job_id) + (f".{line.step}" if line.step else "")


def _sacct_node_list(line: SacctLine) -> str:
    if not line.job.started:
        return "None assigned"
    return line.job.first_node if line.is_step else (line.job.node_list or "")


def _sacct_end(line: SacctLine) -> str:
    job = line.job
    return format_timestamp(job.end_time if job.state.finished else None, "Unknown")


def _sacct_time_limit(line: SacctLine) -> str:
    if line.is_step:
        return ""
    limit = line.job.time_limit
    return "UNLIMITED" if limit is None else format_clock(limit)


def _job_only(value: Callable[[JobRecord], str]) -> Callable[[SacctLine, float], str]:
    """A field Slurm leaves blank on step lines."""
    return lambda line, now: "" if line.is_step else value(line.job)


_SACCT_FIELDS: dict[str, SacctField] = {
    "jobid": SacctField("JobID", 12, lambda l, now: _sacct_id(l), left=True),
    "jobidraw": SacctField("JobIDRaw", 12, lambda l, now: _sacct_raw_id(l), left=True),
    "jobname": SacctField("JobName", 10,
                          lambda l, now: l.step if l.step else l.job.name),
    "user": SacctField("User", 9, _job_only(lambda j: j.user)),
    "uid": SacctField("UID", 6, _job_only(lambda j: "" if j.uid is None else str(j.uid))),
    "group": SacctField("Group", 9, _job_only(lambda j: j.group)),
    "gid": SacctField("GID", 6, _job_only(lambda j: "" if j.gid is None else str(j.gid))),
    "partition": SacctField("Partition", 10, _job_only(lambda j: j.partition)),
    "account": SacctField("Account", 10, lambda l, now: l.job.account or ""),
    "qos": SacctField("QOS", 10, _job_only(lambda j: j.qos or "")),
    "alloccpus": SacctField("AllocCPUS", 10, lambda l, now: str(_sacct_alloc_cpus(l))),
    "ncpus": SacctField("NCPUS", 10, lambda l, now: str(_sacct_alloc_cpus(l))),
    "reqcpus": SacctField("ReqCPUS", 8, _job_only(lambda j: str(j.cpus))),
    "ntasks": SacctField("NTasks", 8, lambda l, now: "1" if l.is_step else ""),
    "state": SacctField("State", 10, lambda l, now: _sacct_state(l)),
    "exitcode": SacctField("ExitCode", 8,
                           lambda l, now: format_exit(l.job.exit_code, l.job.signal)),
    "elapsed": SacctField("Elapsed", 10, lambda l, now: format_clock(l.job.elapsed(now))),
    "elapsedraw": SacctField("ElapsedRaw", 10,
                             lambda l, now: str(int(l.job.elapsed(now)))),
    "cputime": SacctField("CPUTime", 10, lambda l, now: format_clock(
        l.job.elapsed(now) * _sacct_alloc_cpus(l))),
    "cputimeraw": SacctField("CPUTimeRAW", 10, lambda l, now: str(
        int(l.job.elapsed(now)) * _sacct_alloc_cpus(l))),
    "totalcpu": SacctField("TotalCPU", 10, lambda l, now: (
        "" if l.job.cpu_time is None else format_cpu_time(l.job.cpu_time))),
    "maxrss": SacctField("MaxRSS", 10, lambda l, now: (
        "" if l.job.max_rss is None else format_size(l.job.max_rss, "K"))),
    "submit": SacctField("Submit", 19, lambda l, now: format_timestamp(
        l.job.start_time if l.is_step else l.job.submit_time, "Unknown")),
    "eligible": SacctField("Eligible", 19, lambda l, now: format_timestamp(
        l.job.eligible_time, "Unknown")),
    "start": SacctField("Start", 19, lambda l, now: format_timestamp(
        l.job.start_time if l.job.started else None, "Unknown")),
    "end": SacctField("End", 19, lambda l, now: _sacct_end(l)),
    "timelimit": SacctField("Timelimit", 10, lambda l, now: _sacct_time_limit(l)),
    "nodelist": SacctField("NodeList", 15, lambda l, now: _sacct_node_list(l)),
    "nnodes": SacctField("NNodes", 8, lambda l, now: "1" if l.is_step else str(l.job.nodes)),
    "reqmem": SacctField("ReqMem", 10, _job_only(
        lambda j: format_size(j.mem_per_node or 0, "M"))),
    "reqtres": SacctField("ReqTRES", 10, _job_only(_tres)),
    "alloctres": SacctField("AllocTRES", 10, lambda l, now: (
        _tres(l.job) if l.job.started else "")),
    "workdir": SacctField("WorkDir", 20, _job_only(lambda j: j.work_dir)),
    "reason": SacctField("Reason", 22, _job_only(lambda j: j.reason or "None")),
    "priority": SacctField("Priority", 10, _job_only(lambda j: str(j.priority))),
    "restarts": SacctField("Restarts", 8, _job_only(lambda j: str(j.restarts))),
}


@dataclass(frozen=True)
class SacctColumn:
    field: SacctField
    width: int
    left: bool


def parse_sacct_fields(fields: str) -> list[SacctColumn]:
    """``JobID,State%20,JobName%-30`` -> columns; raises ``FormatError`` (Slurm's
    words) for a field sacct does not know."""
    columns = []
    for item in (part.strip() for part in fields.split(",")):
        if not item:
            continue
        name, percent, width_text = item.partition("%")
        spec = _SACCT_FIELDS.get(name.lower())
        if spec is None:
            raise FormatError(f'Invalid field requested: "{name}"')
        width, left = spec.width, spec.left
        if percent:
            try:
                number = int(width_text)
            except ValueError:
                raise FormatError(f'Invalid field width in "{item}": use '
                                  "Field%N (right-justified) or Field%-N") from None
            width, left = abs(number), number < 0
        columns.append(SacctColumn(spec, width, left))
    if not columns:
        raise FormatError("No fields requested: give a comma list such as JobID,State")
    return columns


def sacct_field_names() -> list[str]:
    """The field names sacct accepts (``--helpformat``)."""
    return [spec.header for spec in _SACCT_FIELDS.values()]


def _sacct_cell(text: str, column: SacctColumn) -> str:
    if len(text) > column.width:
        text = text[:max(0, column.width - 1)] + "+"
    return text.ljust(column.width) if column.left else text.rjust(column.width)


def _sacct_header_cell(column: SacctColumn) -> str:
    """Headers are cut to the width without the ``+`` values get."""
    text = column.field.header[:column.width]
    return text.ljust(column.width) if column.left else text.rjust(column.width)


def _sacct_lines(records: Sequence[JobRecord], steps: bool) -> list[SacctLine]:
    lines = []
    for record in records:
        lines.append(SacctLine(record))
        if steps and record.started:
            lines.append(SacctLine(record, "batch"))
    return lines


def format_sacct(jobs: Iterable[Mapping[str, Any]], fields: str | None = None, *,
                 header: bool = True, parsable2: bool = False, parsable: bool = False,
                 steps: bool = True, now: float, expand_arrays: bool = False) -> str:
    """sacct's table for ``JobInfo`` dicts in job id order, with a ``.batch`` line per
    started job unless ``steps`` is false (``-X``)."""
    columns = parse_sacct_fields(fields or SACCT_DEFAULT_FIELDS)
    records = sorted(job_records(jobs), key=lambda j: (j.array_master_id,
                                                       j.array_task_id or -1, j.job_id))
    if not expand_arrays:
        records = collapse_pending_arrays(records)
    rows = [[c.field.value(line, now) for c in columns]
            for line in _sacct_lines(records, steps)]
    out = []
    if parsable or parsable2:
        end = "|" if parsable else ""
        if header:
            out.append("|".join(c.field.header for c in columns) + end)
        out += ["|".join(row) + end for row in rows]
    else:
        if header:
            out.append("".join(_sacct_header_cell(c) + " " for c in columns))
            out.append("".join("-" * c.width + " " for c in columns))
        out += ["".join(_sacct_cell(v, c) + " " for v, c in zip(row, columns))
                for row in rows]
    return "".join(line + "\n" for line in out)


# --- sinfo -----------------------------------------------------------------------------

class NodeState(Enum):
    """A node's state on the wire, with sinfo's short (``%t``) and long (``%T``) words."""

    IDLE = "idle"
    MIXED = "mixed"
    ALLOCATED = "allocated"
    DOWN = "down"
    DRAIN = "drain"


@dataclass(frozen=True)
class NodeRecord:
    """One node as ``client.nodes()`` describes it."""

    name: str
    state: NodeState
    cpus: int
    cpus_alloc: int = 0
    mem: int = 0
    mem_alloc: int = 0
    gpus: tuple[tuple[str | None, int], ...] = ()
    gpus_alloc: tuple[tuple[str | None, int], ...] = ()
    partitions: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    boot_time: float | None = None
    os: str = ""
    reason: str | None = None

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> NodeRecord:
        def gres(mapping: Mapping[str, int] | None) -> tuple[tuple[str | None, int], ...]:
            return tuple((kind or None, int(n)) for kind, n in (mapping or {}).items())
        return cls(
            name=str(info["name"]), state=NodeState(str(info.get("state", "idle")).lower()),
            cpus=int(info.get("cpus") or 0), cpus_alloc=int(info.get("cpus_alloc") or 0),
            mem=int(info.get("mem") or 0), mem_alloc=int(info.get("mem_alloc") or 0),
            gpus=gres(info.get("gpus")), gpus_alloc=gres(info.get("gpus_alloc")),
            partitions=tuple(info.get("partitions") or ()),
            features=tuple(info.get("features") or ()),
            boot_time=_optional_float(info.get("boot_time")), os=str(info.get("os") or ""),
            reason=info.get("reason"),
        )

    @property
    def busy(self) -> bool:
        return self.cpus_alloc > 0

    @property
    def short_state(self) -> str:
        if self.state is NodeState.DRAIN:
            return "drng" if self.busy else "drain"
        return {NodeState.MIXED: "mix", NodeState.ALLOCATED: "alloc"}.get(
            self.state, self.state.value)

    @property
    def long_state(self) -> str:
        if self.state is NodeState.DRAIN:
            return "draining" if self.busy else "drained"
        return self.state.value

    @property
    def scontrol_state(self) -> str:
        if self.state is NodeState.DRAIN:
            base = "IDLE" if not self.busy else (
                "ALLOCATED" if self.cpus_alloc >= self.cpus else "MIXED")
            return f"{base}+DRAIN"
        return self.state.name

    @property
    def usable(self) -> bool:
        return self.state not in (NodeState.DOWN, NodeState.DRAIN)


@dataclass(frozen=True)
class PartitionRecord:
    """One partition as ``client.partitions()`` describes it."""

    name: str
    default: bool = False
    up: bool = True
    max_time: float | None = None
    default_time: float | None = None
    max_nodes: int | None = None
    nodes: tuple[str, ...] = ()
    priority_tier: int = 1
    total_cpus: int = 0
    total_nodes: int = 0

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> PartitionRecord:
        return cls(
            name=str(info["name"]), default=bool(info.get("default")),
            up=bool(info.get("up", True)), max_time=_optional_float(info.get("max_time")),
            default_time=_optional_float(info.get("default_time")),
            max_nodes=_optional_int(info.get("max_nodes")),
            nodes=tuple(info.get("nodes") or ()),
            priority_tier=int(info.get("priority_tier") or 1),
            total_cpus=int(info.get("total_cpus") or 0),
            total_nodes=int(info.get("total_nodes") or len(info.get("nodes") or ())),
        )

    @property
    def label(self) -> str:
        """The name, with ``*`` for the default partition (sinfo's ``%P``)."""
        return self.name + ("*" if self.default else "")


@dataclass(frozen=True)
class SinfoRow:
    """A sinfo line: one partition and the nodes it summarizes."""

    partition: PartitionRecord
    nodes: tuple[NodeRecord, ...]


def _sinfo_limit(seconds: float | None) -> str:
    return "infinite" if seconds is None else format_duration(seconds)


def _counts_aiot(row: SinfoRow, cpus: bool) -> str:
    """Allocated/idle/other/total of CPUs or nodes."""
    allocated = idle = other = total = 0
    for node in row.nodes:
        size = node.cpus if cpus else 1
        total += size
        if not node.usable:
            other += size
        elif cpus:
            allocated += node.cpus_alloc
            idle += node.cpus - node.cpus_alloc
        elif node.busy:
            allocated += 1
        else:
            idle += 1
    return f"{allocated}/{idle}/{other}/{total}"


def _same_or_plus(values: Sequence[int]) -> str:
    """``4`` when all nodes agree, ``4+`` (the smallest and a plus) when not."""
    if not values:
        return "0"
    low = min(values)
    return str(low) if low == max(values) else f"{low}+"


def _node_gres(node: NodeRecord) -> str:
    return format_gres(node.gpus) or "(null)"


def _job_size(p: PartitionRecord) -> str:
    return f"1-{p.max_nodes}" if p.max_nodes is not None else "1-infinite"


def _sinfo_names(row: SinfoRow) -> str:
    return hostlist.compress([n.name for n in row.nodes]) if row.nodes else ""


_SINFO_COLUMNS: dict[str, Column] = {
    "P": Column("PARTITION", lambda r: r.partition.label),
    "R": Column("PARTITION", lambda r: r.partition.name),
    "a": Column("AVAIL", lambda r: "up" if r.partition.up else "down"),
    "l": Column("TIMELIMIT", lambda r: _sinfo_limit(r.partition.max_time)),
    "L": Column("DEFAULTTIME", lambda r: (
        "n/a" if r.partition.default_time is None
        else format_duration(r.partition.default_time))),
    "D": Column("NODES", lambda r: str(len(r.nodes))),
    "t": Column("STATE", lambda r: r.nodes[0].short_state if r.nodes else "n/a"),
    "T": Column("STATE", lambda r: r.nodes[0].long_state if r.nodes else "n/a"),
    "N": Column("NODELIST", _sinfo_names),
    "n": Column("HOSTNAMES", _sinfo_names),
    "c": Column("CPUS", lambda r: _same_or_plus([n.cpus for n in r.nodes])),
    "m": Column("MEMORY", lambda r: _same_or_plus([n.mem for n in r.nodes])),
    "G": Column("GRES", lambda r: ",".join(sorted({_node_gres(n) for n in r.nodes}))
                or "(null)"),
    "C": Column("CPUS(A/I/O/T)", lambda r: _counts_aiot(r, cpus=True)),
    "F": Column("NODES(A/I/O/T)", lambda r: _counts_aiot(r, cpus=False)),
    "A": Column("NODES(A/I)", lambda r: "/".join(_counts_aiot(r, cpus=False).split("/")[:2])),
    "f": Column("AVAIL_FEATURES", lambda r: ",".join(
        sorted({f for n in r.nodes for f in n.features})) or "(null)"),
    "s": Column("JOB_SIZE", lambda r: _job_size(r.partition)),
    "g": Column("GROUPS", lambda r: "all"),
    "h": Column("OVERSUBSCRIBE", lambda r: "NO"),
    "r": Column("ROOT", lambda r: "no"),
    "E": Column("REASON", lambda r: (r.nodes[0].reason or "none") if r.nodes else "none"),
    "z": Column("S:C:T", lambda r: f"1:{r.nodes[0].cpus}:1" if r.nodes else "0:0:0"),
    "d": Column("TMP_DISK", lambda r: "0"),
    "w": Column("WEIGHT", lambda r: "1"),
}

#: sinfo fields that sum up nodes; the others split nodes into separate lines.
_SINFO_AGGREGATES = frozenset("DNnCFA")


def _sinfo_rows(partitions: Sequence[PartitionRecord], nodes: Sequence[NodeRecord],
                tokens: Sequence[Token], *, node_oriented: bool,
                summarize: bool) -> list[SinfoRow]:
    by_name = {node.name: node for node in nodes}
    rows: list[SinfoRow] = []
    keys = [t.key for t in tokens if isinstance(t, FieldSpec) and t.key not in _SINFO_AGGREGATES]
    for partition in partitions:
        members = sorted((by_name[n] for n in partition.nodes if n in by_name),
                         key=lambda n: _natural(n.name))
        if node_oriented:
            rows += [SinfoRow(partition, (node,)) for node in members]
            continue
        if summarize or not members:
            rows.append(SinfoRow(partition, tuple(members)))
            continue
        groups: dict[tuple[str, ...], list[NodeRecord]] = {}
        for node in members:
            single = SinfoRow(partition, (node,))
            groups.setdefault(tuple(_SINFO_COLUMNS[k].value(single) for k in keys),
                              []).append(node)
        rows += [SinfoRow(partition, tuple(group)) for group in groups.values()]
    if node_oriented:
        rows.sort(key=lambda r: _natural(r.nodes[0].name))
    return rows


def _natural(name: str) -> tuple[str, int, str]:
    head = name.rstrip("0123456789")
    digits = name[len(head):]
    return head, int(digits) if digits else -1, name


def format_sinfo(partitions: Iterable[Mapping[str, Any]], nodes: Iterable[Mapping[str, Any]],
                 fmt: str | None = None, *, header: bool = True, node_oriented: bool = False,
                 summarize: bool = False, long: bool = False) -> str:
    """sinfo's table: by partition and node state (default), one line per node and
    partition (``-N``), or one line per partition (``-s``)."""
    if fmt is None:
        fmt = _sinfo_default_format(node_oriented=node_oriented, summarize=summarize,
                                    long=long)
    tokens = parse_percent_format(fmt, _SINFO_COLUMNS)
    rows = _sinfo_rows([PartitionRecord.from_wire(p) for p in partitions],
                       [NodeRecord.from_wire(n) for n in nodes], tokens,
                       node_oriented=node_oriented, summarize=summarize)
    return _render(tokens, _SINFO_COLUMNS, rows, header=header)


def _sinfo_default_format(*, node_oriented: bool, summarize: bool, long: bool) -> str:
    if node_oriented:
        return SINFO_NODE_LONG_FORMAT if long else SINFO_NODE_FORMAT
    if summarize:
        return SINFO_SUMMARY_FORMAT
    return SINFO_LONG_FORMAT if long else SINFO_DEFAULT_FORMAT


# --- scontrol show ---------------------------------------------------------------------

def _key_values(lines: Sequence[Sequence[tuple[str, Any]]], *, oneliner: bool) -> str:
    """Slurm's record layout: first line flush left, the rest indented by three spaces,
    a blank line after; ``oneliner`` puts everything on one line."""
    texts = [" ".join(f"{k}={v}" for k, v in line) for line in lines]
    if oneliner:
        return " ".join(texts) + "\n"
    return texts[0] + "\n" + "".join(f"   {t}\n" for t in texts[1:]) + "\n"


def _scontrol_time(epoch: float | None) -> str:
    return format_timestamp(epoch, "Unknown")


def _scontrol_limit(seconds: float | None, unlimited: str = "UNLIMITED") -> str:
    return unlimited if seconds is None else format_clock(seconds)


def _job_end_estimate(job: JobRecord) -> float | None:
    if job.state.finished:
        return job.end_time
    if job.state.active and job.start_time is not None and job.time_limit is not None:
        return job.start_time + job.time_limit
    return None


def format_scontrol_job(job: Mapping[str, Any], *, now: float,
                        oneliner: bool = False) -> str:
    """``scontrol show job``'s record for a ``JobInfo`` dict (the keys scripts grep:
    JobId, JobName, UserId, JobState, Reason, ExitCode, RunTime, TimeLimit,
    SubmitTime, StartTime, EndTime, Partition, NodeList, NumNodes, NumCPUs, TRES,
    Command, WorkDir, StdErr, StdOut ...)."""
    j = JobRecord.from_wire(job)
    first = [("JobId", j.job_id)]
    if j.array_task_id is not None:
        first += [("ArrayJobId", j.array_job_id), ("ArrayTaskId", j.array_task_id)]
    first.append(("JobName", j.name))
    start = j.expected_start if j.state is JobState.PENDING else j.start_time
    lines: list[list[tuple[str, Any]]] = [
        first,
        [("UserId", f"{j.user}({_null(j.uid)})"), ("GroupId", f"{j.group}({_null(j.gid)})"),
         ("MCS_label", "N/A")],
        [("Priority", j.priority), ("Nice", j.nice), ("Account", _null(j.account)),
         ("QOS", _null(j.qos))],
        [("JobState", j.state.name), ("Reason", j.reason or "None"),
         ("Dependency", _null(j.dependency))],
        [("Requeue", 1), ("Restarts", j.restarts), ("BatchFlag", 1), ("Reboot", 0),
         ("ExitCode", format_exit(j.exit_code, j.signal))],
        [("RunTime", format_clock(j.elapsed(now))), ("TimeLimit", _scontrol_limit(j.time_limit)),
         ("TimeMin", _scontrol_limit(j.time_min, "N/A"))],
        [("SubmitTime", _scontrol_time(j.submit_time)),
         ("EligibleTime", _scontrol_time(j.eligible_time))],
        [("StartTime", _scontrol_time(start)), ("EndTime", _scontrol_time(_job_end_estimate(j))),
         ("Deadline", "N/A")],
        [("Partition", j.partition)],
        [("NodeList", j.node_list or "")],
    ]
    if j.state.active and j.node_list:
        lines.append([("BatchHost", j.first_node)])
    lines += [
        [("NumNodes", j.nodes), ("NumCPUs", j.cpus), ("NumTasks", j.ntasks),
         ("CPUs/Task", j.cpus_per_task)],
        [("TRES", _tres(j))],
        [("MinCPUsNode", _min_cpus(j)), ("MinMemoryNode", format_size(j.mem_per_node or 0, "M"))],
        [("Command", _null(j.command))],
        [("WorkDir", j.work_dir)],
        [("StdErr", _null(j.stderr or j.stdout))],
        [("StdIn", "/dev/null")],
        [("StdOut", _null(j.stdout))],
    ]
    if j.gpus:
        lines.insert(-5, [("TresPerNode", ",".join(
            f"gres:{item}" for item in format_gres(j.gpus).split(",")))])
    return _key_values(lines, oneliner=oneliner)


def format_scontrol_node(node: Mapping[str, Any], *, oneliner: bool = False) -> str:
    """``scontrol show node``'s record for a ``client.nodes()`` dict."""
    n = NodeRecord.from_wire(node)
    gres = format_gres(n.gpus) or "(null)"
    features = ",".join(n.features) or "(null)"
    cfg_tres = f"cpu={n.cpus},mem={format_size(n.mem, 'M')},billing={n.cpus}"
    alloc_tres = [f"cpu={n.cpus_alloc}"] if n.cpus_alloc else []
    if n.mem_alloc:
        alloc_tres.append(f"mem={format_size(n.mem_alloc, 'M')}")
    gpus_alloc = sum(count for _, count in n.gpus_alloc)
    if gpus_alloc:
        alloc_tres.append(f"gres/gpu={gpus_alloc}")
    gpu_total = sum(count for _, count in n.gpus)
    if gpu_total:
        cfg_tres += f",gres/gpu={gpu_total}"
    lines: list[list[tuple[str, Any]]] = [
        [("NodeName", n.name)],
        [("CPUAlloc", n.cpus_alloc), ("CPUEfctv", n.cpus), ("CPUTot", n.cpus)],
        [("AvailableFeatures", features)],
        [("ActiveFeatures", features)],
        [("Gres", gres)],
        [("NodeAddr", n.name), ("NodeHostName", n.name)],
        [("OS", n.os or "(null)")],
        [("RealMemory", n.mem), ("AllocMem", n.mem_alloc)],
        [("State", n.scontrol_state)],
        [("Partitions", ",".join(n.partitions))],
        [("BootTime", format_timestamp(n.boot_time, "None"))],
        [("CfgTRES", cfg_tres)],
        [("AllocTRES", ",".join(alloc_tres))],
    ]
    if n.reason:
        lines.append([("Reason", n.reason)])
    return _key_values(lines, oneliner=oneliner)


def format_scontrol_partition(partition: Mapping[str, Any], *, oneliner: bool = False) -> str:
    """``scontrol show partition``'s record for a ``client.partitions()`` dict."""
    p = PartitionRecord.from_wire(partition)
    lines: list[list[tuple[str, Any]]] = [
        [("PartitionName", p.name)],
        [("AllowGroups", "ALL"), ("AllowAccounts", "ALL"), ("AllowQos", "ALL")],
        [("AllocNodes", "ALL"), ("Default", "YES" if p.default else "NO"), ("QoS", "N/A")],
        [("DefaultTime", _scontrol_limit(p.default_time, "NONE"))],
        [("MaxNodes", "UNLIMITED" if p.max_nodes is None else p.max_nodes),
         ("MaxTime", _scontrol_limit(p.max_time)), ("MinNodes", 0)],
        [("Nodes", hostlist.compress(list(p.nodes)) if p.nodes else "(null)")],
        [("PriorityJobFactor", 1), ("PriorityTier", p.priority_tier)],
        [("State", "UP" if p.up else "DOWN"), ("TotalCPUs", p.total_cpus),
         ("TotalNodes", p.total_nodes)],
    ]
    return _key_values(lines, oneliner=oneliner)


# --- sprio -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PriorityRecord:
    """One pending job's priority and its weighted factors (``client.priority()``)."""

    job_id: str
    user: str
    account: str
    partition: str
    priority: float
    factors: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> PriorityRecord:
        return cls(job_id=str(info["job_id"]), user=str(info.get("user") or ""),
                   account=str(info.get("account") or ""),
                   partition=str(info.get("partition") or ""),
                   priority=float(info.get("priority") or 0),
                   factors={k: float(v) for k, v in (info.get("factors") or {}).items()})

    def factor(self, name: str) -> str:
        return f"{self.factors.get(name, 0.0):.0f}"

    @property
    def sort_key(self) -> tuple[int, str]:
        head = self.job_id.split("_")[0]
        return (int(head) if head.isdigit() else 0, self.job_id)


_SPRIO_COLUMNS: dict[str, Column] = {
    "i": Column("JOBID", lambda r: r.job_id),
    "r": Column("PARTITION", lambda r: r.partition),
    "u": Column("USER", lambda r: r.user),
    "o": Column("ACCOUNT", lambda r: r.account),
    "Y": Column("PRIORITY", lambda r: f"{r.priority:.0f}"),
    "S": Column("SITE", lambda r: r.factor("site")),
    "A": Column("AGE", lambda r: r.factor("age")),
    "F": Column("FAIRSHARE", lambda r: r.factor("fairshare")),
    "J": Column("JOBSIZE", lambda r: r.factor("jobsize")),
    "P": Column("PARTITION", lambda r: r.factor("partition")),
    "Q": Column("QOS", lambda r: r.factor("qos")),
    "N": Column("NICE", lambda r: r.factor("nice")),
}


def format_sprio(rows: Iterable[Mapping[str, Any]], fmt: str | None = None, *,
                 header: bool = True, long: bool = False) -> str:
    """sprio's table of weighted priority factors, by ascending job id."""
    tokens = parse_percent_format(
        fmt or (SPRIO_LONG_FORMAT if long else SPRIO_DEFAULT_FORMAT), _SPRIO_COLUMNS)
    records = sorted((PriorityRecord.from_wire(r) for r in rows), key=lambda r: r.sort_key)
    return _render(tokens, _SPRIO_COLUMNS, records, header=header)


# --- sshare ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ShareRecord:
    """One association's shares and usage (``client.shares()``); ``user`` empty for an
    account line."""

    account: str
    user: str
    raw_shares: float | None
    norm_shares: float
    raw_usage: float
    effective_usage: float
    fairshare: float | None
    norm_usage: float | None = None
    level_fs: float | None = None

    @classmethod
    def from_wire(cls, info: Mapping[str, Any]) -> ShareRecord:
        return cls(account=str(info.get("account") or ""), user=str(info.get("user") or ""),
                   raw_shares=_optional_float(info.get("raw_shares")),
                   norm_shares=float(info.get("norm_shares") or 0),
                   raw_usage=float(info.get("raw_usage") or 0),
                   effective_usage=float(info.get("effective_usage") or 0),
                   fairshare=_optional_float(info.get("fairshare")),
                   norm_usage=_optional_float(info.get("norm_usage")),
                   level_fs=_optional_float(info.get("level_fs")))


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


@dataclass(frozen=True)
class ShareColumn:
    """An sshare column: header, width, side, value; ``long_only`` for ``-l``."""

    header: str
    width: int
    value: Callable[[ShareRecord], str]
    left: bool = False
    long_only: bool = False

    def cell(self, text: str) -> str:
        text = text[:self.width]
        return text.ljust(self.width) if self.left else text.rjust(self.width)


_SSHARE_COLUMNS = [
    ShareColumn("Account", 20, lambda r: (" " + r.account) if r.user else r.account,
                left=True),
    ShareColumn("User", 10, lambda r: r.user),
    ShareColumn("RawShares", 10,
                lambda r: "" if r.raw_shares is None else f"{r.raw_shares:.0f}"),
    ShareColumn("NormShares", 11, lambda r: _fraction(r.norm_shares)),
    ShareColumn("RawUsage", 11, lambda r: f"{r.raw_usage:.0f}"),
    ShareColumn("NormUsage", 11, lambda r: _fraction(r.norm_usage), long_only=True),
    ShareColumn("EffectvUsage", 13, lambda r: _fraction(r.effective_usage)),
    ShareColumn("FairShare", 10, lambda r: _fraction(r.fairshare)),
    ShareColumn("LevelFS", 10, lambda r: _fraction(r.level_fs), long_only=True),
]


def format_sshare(rows: Iterable[Mapping[str, Any]], *, header: bool = True,
                  long: bool = False, parsable2: bool = False, parsable: bool = False) -> str:
    """sshare's table of fair-share associations, in the order given (a user's line
    shows its account indented by one space, as Slurm does)."""
    columns = [c for c in _SSHARE_COLUMNS if long or not c.long_only]
    values = [[c.value(ShareRecord.from_wire(r)) for c in columns] for r in rows]
    out = []
    if parsable or parsable2:
        end = "|" if parsable else ""
        if header:
            out.append("|".join(c.header for c in columns) + end)
        out += ["|".join(row) + end for row in values]
    else:
        if header:
            out.append("".join(c.cell(c.header) + " " for c in columns))
            out.append("".join("-" * c.width + " " for c in columns))
        out += ["".join(c.cell(v) + " " for v, c in zip(row, columns)) for row in values]
    return "".join(line + "\n" for line in out)


def current_date_line(now: float) -> str:
    """The date line ``squeue -l`` and ``sinfo -l`` print first."""
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(now))
