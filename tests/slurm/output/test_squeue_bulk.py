"""squeue builds its table a column and a sort key at a time for all lines (tens of
thousands of jobs): its text must be the text of the same table built a line at a
time, each cell with ``Column.value`` and ``_fit``, whatever the jobs and the format."""

from __future__ import annotations

import math

from hypothesis import given, settings

from kairos.cli.slurm import squeue
from kairos.core.jobs import JobState
from kairos.slurm.arrays import format_array
from kairos.slurm.output.columns import FieldSpec, _fit, parse_percent_format
from kairos.slurm.output.jobs import JobLine, array_master_id, elapsed, shown_priority
from kairos.slurm.output.squeue import (
    _COLUMNS, SQUEUE_DEFAULT_FORMAT, SQUEUE_DEFAULT_SORT, _reason_list, format_squeue,
    format_squeue_fields, parse_squeue_fields,
)
from tests.cli.slurm.test_squeue_rows import NOW, command_lines, jobs

#: Each ``--sort`` letter's key of one job.
KEYS = {
    "i": lambda j: (array_master_id(j), j.array_task_id or -1, j.job_id),
    "A": lambda j: j.job_id, "F": array_master_id, "K": lambda j: j.array_task_id,
    "j": lambda j: j.name, "u": lambda j: j.user, "U": lambda j: j.uid,
    "g": lambda j: j.group, "a": lambda j: j.account or "", "q": lambda j: j.qos or "",
    "P": lambda j: j.partition, "t": lambda j: j.state.value, "T": lambda j: j.state.name,
    "M": lambda j: elapsed(j, NOW),
    "l": lambda j: j.time_limit if j.time_limit is not None else math.inf,
    "D": lambda j: j.nodes, "C": lambda j: j.cpus, "N": lambda j: j.node_list or None,
    "r": lambda j: j.reason or "", "R": _reason_list,
    "S": lambda j: j.expected_start if j.state is JobState.PENDING else j.start_time,
    "e": lambda j: j.end_time, "V": lambda j: j.submit_time, "Q": shown_priority,
    "p": shown_priority, "y": lambda j: j.nice, "Z": lambda j: j.work_dir,
}


def collapsed(found, expand: bool) -> list[JobLine]:
    """A line per job, pending tasks of an array with one reason on their first's."""
    if expand:
        return [JobLine(job) for job in found]
    def task(job):
        return job.state is JobState.PENDING and job.array_task_id is not None
    groups: dict = {}
    for job in found:
        if task(job):
            groups.setdefault((array_master_id(job), job.reason), []).append(job)
    out = []
    for job in found:
        members = groups.pop((array_master_id(job), job.reason), None) if task(job) else [job]
        if members is None:
            continue
        first = min(members, key=lambda m: m.array_task_id or 0)
        out.append(JobLine(first, format_array([m.array_task_id for m in members]))
                   if len(members) > 1 else JobLine(job))
    return out


def ordered(lines: list[JobLine], spec: str) -> list[JobLine]:
    """Sorted by each key in turn, last first, lines without a key last."""
    def by(key, descending):
        def sort(rows):
            have = [line for line in rows if key(line.job) is not None]
            have.sort(key=lambda line: key(line.job), reverse=descending)
            return have + [line for line in rows if key(line.job) is None]
        return sort
    out = by(lambda j: (array_master_id(j), j.array_task_id or -1), False)(lines)
    for item in reversed([part.strip() for part in spec.split(",") if part.strip()]):
        out = by(KEYS[item.lstrip("+-")], item.startswith("-"))(out)
    return out


def line_by_line(found, options: squeue.SqueueOptions) -> str:
    if options.fields is not None:
        tokens, columns = parse_squeue_fields(options.fields)
        uncut_values = uncut_headers = frozenset()
    else:
        tokens = parse_percent_format(options.fmt or SQUEUE_DEFAULT_FORMAT, _COLUMNS)
        columns, uncut_values, uncut_headers = _COLUMNS, frozenset("M"), frozenset("R")
    lines = ordered(collapsed(found, options.expand_arrays), options.sort or SQUEUE_DEFAULT_SORT)
    cells = {i: [columns[t.key].value(line, NOW) for line in lines]
             for i, t in enumerate(tokens) if isinstance(t, FieldSpec)}
    def width(i, t):
        if not t.fit:
            return t.width
        return max([len(columns[t.key].header), t.width or 0, *map(len, cells[i])])
    out = []
    if options.header:
        out.append("".join(_fit(columns[t.key].header, t, width(i, t),
                                cut=t.key not in uncut_headers)
                           if i in cells else t for i, t in enumerate(tokens)))
    for n in range(len(lines)):
        out.append("".join(_fit(cells[i][n], t, width(i, t), cut=t.key not in uncut_values)
                           if i in cells else t for i, t in enumerate(tokens)))
    return "".join(line + "\n" for line in out)


@settings(max_examples=300, deadline=None)
@given(jobs(), command_lines())
def test_the_table_is_the_table_built_line_by_line(found, argv):
    options = squeue.parse_args(argv, {})
    found = squeue.select(found, options)
    common = dict(header=options.header, now=NOW, sort=options.sort,
                  expand_arrays=options.expand_arrays)
    if options.fields is not None:
        table = format_squeue_fields(found, options.fields, **common)
    else:
        table = format_squeue(found, options.fmt, **common)
    assert table == line_by_line(found, options)


def test_pending_tasks_with_gaps_and_two_reasons_share_two_lines():
    from tests.slurm.output.conftest import job, lines, pending

    def task(i, **fields):
        maker = job if fields.get("state") == "RUNNING" else pending
        return maker(40 + i, array_job_id=40, array_task_id=i, priority=10, **fields)

    found = [task(6), task(2), task(1), task(4, state="RUNNING"), task(3),
             task(5, reason="Dependency"), task(7, reason="Dependency"), task(8)]
    out = format_squeue(found, "%i %A", header=False, now=NOW, sort="i")
    assert lines(out) == ["40_[1-3,6,8] 41", "40_4 44", "40_[5,7] 45"]
