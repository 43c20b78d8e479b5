"""What sacct prints: its fields, their widths and its job and ``.batch`` lines, as in
Slurm 22.05 (widths checked against a 22.05 job-completion log).

``-o`` is ``Field[%[-]width]``: each field has Slurm's default width and side, ``%N``
right-justifies to N, ``%-N`` left-justifies; a value too long for its column ends in
``+``.  ``--parsable2`` joins with ``|``, ``--parsable`` also ends each line with ``|``.

Without ``-X`` sacct prints, like Slurm, a ``<id>.batch`` line after each job that
started with a batch script: job name ``batch``, the job's state (a job that hit its
time limit shows ``TIMEOUT`` on the job line and ``CANCELLED`` on the batch line, as in
Slurm), its exit code and usage; then a line per job step (``<id>.0``, ``<id>.1``...,
from ``LiveStep`` records): the step's name, state, exit code, node list, task and CPU
counts, start, end, elapsed and CPU time, MaxRSS.  An allocation-only job (``salloc``,
``srun`` outside a job) has no ``.batch`` line, only its steps.

Differences from Slurm, on purpose:

* MaxRSS and TotalCPU appear on the job and batch lines too (Slurm has them on steps
  only), so ``-X`` still reports usage.
* ``CANCELLED`` is printed without Slurm's `` by <uid>`` suffix (Kairos does not
  record who cancelled a job).
* Pending array tasks share a line as in squeue (see ``kairos.slurm.output.jobs``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kairos.core.jobs import JobState
from kairos.slurm.output.columns import FormatError
from kairos.slurm.output.jobs import (
    JobLine, array_master_id, elapsed, first_node, job_lines, shown_priority, started, tres,
)
from kairos.slurm.output.notation import (
    format_clock, format_cpu_time, format_exit, format_size,
)
from kairos.slurm.timespec import format_timestamp

if TYPE_CHECKING:
    from kairos.model import LiveJob
    from kairos.model.step import LiveStep

SACCT_DEFAULT_FIELDS = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
SACCT_BRIEF_FIELDS = "JobID,State,ExitCode"
#: ``sacct -l`` reduced to the fields Kairos records.
SACCT_LONG_FIELDS = ("JobID,JobIDRaw,JobName,Partition,MaxRSS,NTasks,AllocCPUS,Elapsed,"
                     "State,ExitCode,ReqMem,ReqTRES,AllocTRES,TotalCPU")


@dataclass(frozen=True)
class SacctLine:
    """A line of sacct: a job line, its batch step (``step="batch"``), or one of its
    job steps (``step="0"``, with the step's ``record``)."""

    job_line: JobLine
    step: str | None = None
    record: LiveStep | None = None

    @property
    def job(self) -> LiveJob:
        return self.job_line.job

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


def _state(line: SacctLine) -> str:
    state = line.job.state
    if line.is_step and state is JobState.TIMEOUT:
        return JobState.CANCELLED.name
    return state.name


def _alloc_cpus(line: SacctLine) -> int:
    job = line.job
    if not started(job):
        return 0
    if not line.is_step:
        return job.cpus
    if job.node_cpus:  # the batch script's node: the first
        return job.node_cpus[0]
    return max(1, job.cpus // max(1, job.nodes))


def _job_id(line: SacctLine) -> str:
    return line.job_line.label + (f".{line.step}" if line.step else "")


def _raw_id(line: SacctLine) -> str:
    return str(line.job.job_id) + (f".{line.step}" if line.step else "")


def _node_list(line: SacctLine) -> str:
    if not started(line.job):
        return "None assigned"
    return first_node(line.job) if line.is_step else (line.job.node_list or "")


def _end(line: SacctLine) -> str:
    job = line.job
    return format_timestamp(job.end_time if job.state.finished else None, "Unknown")


def _time_limit(line: SacctLine) -> str:
    if line.is_step:
        return ""
    limit = line.job.time_limit
    return "UNLIMITED" if limit is None else format_clock(limit)


def _of_job(value: Callable[[LiveJob], str]) -> Callable[[SacctLine, float], str]:
    """A field of the job, printed on step lines too."""
    return lambda line, now: value(line.job)


def _job_only(value: Callable[[LiveJob], str]) -> Callable[[SacctLine, float], str]:
    """A field Slurm leaves blank on step lines."""
    return lambda line, now: "" if line.is_step else value(line.job)


def _step_elapsed(step: LiveStep, now: float) -> float:
    if step.start_time is None:
        return 0.0
    end = step.end_time if step.state.finished and step.end_time is not None else now
    return max(0.0, end - step.start_time)


def _step_end(step: LiveStep) -> str:
    return format_timestamp(step.end_time if step.state.finished else None, "Unknown")


#: What a job step's line shows, where it is not what its batch line would show.
_STEP_VALUES: dict[str, Callable[[LiveStep, float], str]] = {
    "jobname": lambda s, now: s.name,
    "alloccpus": lambda s, now: str(s.cpus),
    "ncpus": lambda s, now: str(s.cpus),
    "ntasks": lambda s, now: str(s.ntasks),
    "state": lambda s, now: s.state.name,
    "exitcode": lambda s, now: format_exit(s.exit_code, s.signal),
    "elapsed": lambda s, now: format_clock(_step_elapsed(s, now)),
    "elapsedraw": lambda s, now: str(int(_step_elapsed(s, now))),
    "cputime": lambda s, now: format_clock(_step_elapsed(s, now) * s.cpus),
    "cputimeraw": lambda s, now: str(int(_step_elapsed(s, now)) * s.cpus),
    "totalcpu": lambda s, now: "" if s.cpu_time is None else format_cpu_time(s.cpu_time),
    "maxrss": lambda s, now: "" if s.max_rss is None else format_size(s.max_rss, "K"),
    "submit": lambda s, now: format_timestamp(s.start_time, "Unknown"),
    "eligible": lambda s, now: format_timestamp(s.start_time, "Unknown"),
    "start": lambda s, now: format_timestamp(s.start_time, "Unknown"),
    "end": lambda s, now: _step_end(s),
    "nodelist": lambda s, now: s.node_list,
    "nnodes": lambda s, now: str(s.nodes),
    "alloctres": lambda s, now: f"cpu={s.cpus},node={s.nodes}",
}


_FIELDS: dict[str, SacctField] = {
    "jobid": SacctField("JobID", 12, lambda line, now: _job_id(line), left=True),
    "jobidraw": SacctField("JobIDRaw", 12, lambda line, now: _raw_id(line), left=True),
    "jobname": SacctField("JobName", 10,
                          lambda line, now: line.step if line.step else line.job.name),
    "user": SacctField("User", 9, _job_only(lambda j: j.user)),
    "uid": SacctField("UID", 6, _job_only(lambda j: "" if j.uid is None else str(j.uid))),
    "group": SacctField("Group", 9, _job_only(lambda j: j.group)),
    "gid": SacctField("GID", 6, _job_only(lambda j: "" if j.gid is None else str(j.gid))),
    "partition": SacctField("Partition", 10, _job_only(lambda j: j.partition)),
    "account": SacctField("Account", 10, _of_job(lambda j: j.account or "")),
    "qos": SacctField("QOS", 10, _job_only(lambda j: j.qos or "")),
    "alloccpus": SacctField("AllocCPUS", 10, lambda line, now: str(_alloc_cpus(line))),
    "ncpus": SacctField("NCPUS", 10, lambda line, now: str(_alloc_cpus(line))),
    "reqcpus": SacctField("ReqCPUS", 8, _job_only(lambda j: str(j.cpus))),
    "ntasks": SacctField("NTasks", 8, lambda line, now: "1" if line.is_step else ""),
    "state": SacctField("State", 10, lambda line, now: _state(line)),
    "exitcode": SacctField("ExitCode", 8,
                           _of_job(lambda j: format_exit(j.exit_code, j.signal))),
    "elapsed": SacctField("Elapsed", 10,
                          lambda line, now: format_clock(elapsed(line.job, now))),
    "elapsedraw": SacctField("ElapsedRaw", 10,
                             lambda line, now: str(int(elapsed(line.job, now)))),
    "cputime": SacctField("CPUTime", 10, lambda line, now: format_clock(
        elapsed(line.job, now) * _alloc_cpus(line))),
    "cputimeraw": SacctField("CPUTimeRAW", 10, lambda line, now: str(
        int(elapsed(line.job, now)) * _alloc_cpus(line))),
    "totalcpu": SacctField("TotalCPU", 10, _of_job(
        lambda j: "" if j.cpu_time is None else format_cpu_time(j.cpu_time))),
    "maxrss": SacctField("MaxRSS", 10, _of_job(
        lambda j: "" if j.max_rss is None else format_size(j.max_rss, "K"))),
    "submit": SacctField("Submit", 19, lambda line, now: format_timestamp(
        line.job.start_time if line.is_step else line.job.submit_time, "Unknown")),
    "eligible": SacctField("Eligible", 19, _of_job(
        lambda j: format_timestamp(j.eligible_time, "Unknown"))),
    "start": SacctField("Start", 19, _of_job(
        lambda j: format_timestamp(j.start_time if started(j) else None, "Unknown"))),
    "end": SacctField("End", 19, lambda line, now: _end(line)),
    "timelimit": SacctField("Timelimit", 10, lambda line, now: _time_limit(line)),
    "nodelist": SacctField("NodeList", 15, lambda line, now: _node_list(line)),
    "nnodes": SacctField("NNodes", 8,
                         lambda line, now: "1" if line.is_step else str(line.job.nodes)),
    "reqmem": SacctField("ReqMem", 10, _job_only(
        lambda j: format_size(j.mem_per_node or 0, "M"))),
    "reqtres": SacctField("ReqTRES", 10, _job_only(tres)),
    "alloctres": SacctField("AllocTRES", 10, _of_job(
        lambda j: tres(j) if started(j) else "")),
    "workdir": SacctField("WorkDir", 20, _job_only(lambda j: j.work_dir)),
    "reason": SacctField("Reason", 22, _job_only(lambda j: j.reason or "None")),
    "priority": SacctField("Priority", 10, _job_only(lambda j: str(shown_priority(j)))),
    "restarts": SacctField("Restarts", 8, _job_only(lambda j: str(j.restarts))),
    "comment": SacctField("Comment", 14, _job_only(lambda j: j.comment or "")),
    "wckey": SacctField("WCKey", 10, _job_only(lambda j: j.wckey or "")),
}


@dataclass(frozen=True)
class SacctColumn:
    """A field as a command line asks for it: with its width and side."""

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
        spec = _FIELDS.get(name.lower())
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
    return [spec.header for spec in _FIELDS.values()]


def _cell(text: str, column: SacctColumn) -> str:
    if len(text) > column.width:
        text = text[:max(0, column.width - 1)] + "+"
    return text.ljust(column.width) if column.left else text.rjust(column.width)


def _header_cell(column: SacctColumn) -> str:
    """Headers are cut to the width without the ``+`` values get."""
    text = column.field.header[:column.width]
    return text.ljust(column.width) if column.left else text.rjust(column.width)


def _with_steps(lines: Sequence[JobLine], steps: bool,
                job_steps: Mapping[int, Sequence[LiveStep]],
                batchless: Collection[int]) -> list[SacctLine]:
    out = []
    for job_line in lines:
        out.append(SacctLine(job_line))
        if not steps or job_line.tasks is not None:
            continue
        job = job_line.job
        if started(job) and job.job_id not in batchless:
            out.append(SacctLine(job_line, "batch"))
        for record in sorted(job_steps.get(job.job_id, ()), key=lambda s: s.step_id):
            out.append(SacctLine(job_line, str(record.step_id), record))
    return out


def _value(column: SacctColumn, line: SacctLine, now: float) -> str:
    if line.record is not None:
        step_value = _STEP_VALUES.get(column.field.header.lower())
        if step_value is not None:
            return step_value(line.record, now)
    return column.field.value(line, now)


def format_sacct(jobs: Iterable[LiveJob], fields: str | None = None, *,
                 header: bool = True, parsable2: bool = False, parsable: bool = False,
                 steps: bool = True, now: float, expand_arrays: bool = False,
                 job_steps: Mapping[int, Sequence[LiveStep]] | None = None,
                 batchless: Collection[int] = (),
                 keep: Callable[[str, str], bool] | None = None) -> str:
    """sacct's table in job id order; unless ``steps`` is false (``-X``), after each
    job its ``.batch`` line (when it started, and is not in ``batchless``: jobs without
    a batch script) and a line per job step in ``job_steps`` (job id -> steps).
    ``keep(job_id, raw_id)``, when given, picks the lines to print by their JobID and
    JobIDRaw (``sacct -j 12.0`` prints that step's line alone)."""
    columns = parse_sacct_fields(fields or SACCT_DEFAULT_FIELDS)
    ordered = sorted(jobs, key=lambda j: (array_master_id(j), j.array_task_id or -1,
                                          j.job_id))
    lines = _with_steps(job_lines(ordered, expand_arrays=expand_arrays), steps,
                        job_steps or {}, batchless)
    if keep is not None:
        lines = [line for line in lines if keep(_job_id(line), _raw_id(line))]
    rows = [[_value(c, line, now) for c in columns] for line in lines]
    out = []
    if parsable or parsable2:
        end = "|" if parsable else ""
        if header:
            out.append("|".join(c.field.header for c in columns) + end)
        out += ["|".join(row) + end for row in rows]
    else:
        if header:
            out.append("".join(_header_cell(c) + " " for c in columns))
            out.append("".join("-" * c.width + " " for c in columns))
        out += ["".join(_cell(v, c) + " " for v, c in zip(row, columns)) for row in rows]
    return "".join(line + "\n" for line in out)
