"""squeue asks the controller for the fields it prints only, in the columnar layout, and
formats jobs built from those rows: its text must be the text of the whole ``JobInfo``
records read back as ``LiveJob``s, whatever the jobs and the command line."""

from __future__ import annotations

import json
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from kairos.cli.slurm import squeue
from kairos.core.jobs import JobState
from kairos.model import LiveJob
from kairos.model.job import PUBLIC_FIELDS, rows_from_wire
from kairos.server import views
from kairos.slurm.output.squeue import _COLUMNS, _NAMED, _SORT_KEYS

NOW = 1_800_000_000.0
#: A controller with no core jobs: the views show the jobs' own fields.
CONTROLLER = SimpleNamespace(scheduler=SimpleNamespace(jobs={}), clock=lambda: NOW)

times = st.none() | st.floats(NOW - 10**6, NOW + 10**5, allow_nan=False).map(round)
texts = st.sampled_from(["", "a", "train", "None", "a-rather-long-name-of-a-job"])
maybe_texts = st.none() | texts
common_states = st.sampled_from([JobState.PENDING, JobState.RUNNING, JobState.COMPLETED,
                                 JobState.FAILED])


@st.composite
def jobs(draw) -> list[LiveJob]:
    out, next_id = [], 100
    for _ in range(draw(st.integers(0, 12))):
        tasks = draw(st.sampled_from([0, 0, 1, 3]))
        shared = dict(
            user=draw(st.sampled_from(["alice", "bob"])), uid=draw(st.integers(-1, 2000)),
            gid=draw(st.integers(-1, 2000)), group=draw(texts), name=draw(texts),
            account=draw(texts), partition=draw(st.sampled_from(["cpu", "gpu", "x"])),
            qos=draw(st.sampled_from(["normal", "high", ""])),
            time_limit=draw(st.none() | st.sampled_from([60.0, 3600.0, 90000.0])),
            nodes=draw(st.integers(1, 4)), ntasks=draw(st.integers(1, 8)),
            cpus_per_task=draw(st.integers(1, 4)), cpus=draw(st.integers(1, 32)),
            mem_per_node=draw(st.none() | st.integers(1, 10**6)),
            gpus=draw(st.sampled_from([(), (("a100", 2),), ((None, 1),)])),
            dependency=draw(st.none() | st.just("afterok:7")), work_dir=draw(texts),
            stdout=draw(maybe_texts), stderr=draw(maybe_texts), command=draw(texts),
            comment=draw(maybe_texts), wckey=draw(maybe_texts), nice=draw(st.integers(-5, 5)),
            submit_time=draw(st.floats(NOW - 10**6, NOW).map(round)))
        for task in range(max(1, tasks)):
            state = draw(common_states | st.sampled_from(list(JobState)))
            job = LiveJob(
                job_id=next_id, state=state,
                reason=draw(st.sampled_from(["None", "Priority", "JobHeldUser", "", "NodeFail"])),
                priority=draw(st.floats(0, 2**32 - 1, allow_nan=False)),
                eligible_time=draw(times), start_time=draw(times), end_time=draw(times),
                expected_start=draw(times), node_list=draw(st.none() | st.just("n[01-02]")),
                array_job_id=out[-1].array_job_id if task else (next_id if tasks else None),
                array_task_id=task if tasks else None, **shared)
            out.append(job)
            next_id += 1
    return out


letters = st.sampled_from(sorted(_COLUMNS))
percent_formats = st.lists(st.tuples(st.sampled_from(["", "."]),
                                     st.sampled_from(["", "1", "5", "12"]), letters),
                           min_size=1, max_size=6).map(
    lambda fields: " ".join(f"%{dot}{width}{letter}" for dot, width, letter in fields))
named_formats = st.lists(st.tuples(st.sampled_from(sorted(_NAMED)),
                                   st.sampled_from(["", ":8", ":.4", ":30|"])),
                         min_size=1, max_size=6).map(
    lambda fields: ",".join(name + spec for name, spec in fields))
sorts = st.lists(st.tuples(st.sampled_from(["", "-", "+"]), st.sampled_from(sorted(_SORT_KEYS))),
                 min_size=1, max_size=3).map(lambda keys: ",".join(a + b for a, b in keys))


@st.composite
def command_lines(draw) -> list[str]:
    argv = ["-t", draw(st.sampled_from(["all", "pd,r", "cd,ca,f,to"]))]
    shape = draw(st.sampled_from(["default", "o", "O", "l", "start"]))
    argv += {"default": [], "l": ["-l"], "start": ["--start", "-t", "all"],
             "o": ["-o", draw(percent_formats)], "O": ["-O", draw(named_formats)]}[shape]
    if draw(st.booleans()):
        argv += ["-S", draw(sorts)]
    for flag in ("-r", "-h"):
        if draw(st.booleans()):
            argv.append(flag)
    if draw(st.booleans()):
        argv += ["-A", draw(texts) or "a"]
    if draw(st.booleans()):
        argv += ["-q", "high"]
    return argv


def over_the_wire(payload):
    return json.loads(json.dumps(payload, separators=(",", ":")))


def by_records(found: list[LiveJob], options: squeue.SqueueOptions) -> str:
    """What squeue printed before the columnar layout: every field, as ``LiveJob``s."""
    wire = over_the_wire(views.job_views(CONTROLLER, found))
    return squeue.render(squeue.select([LiveJob.from_wire(info) for info in wire], options),
                         options, now=NOW)


def by_rows(found: list[LiveJob], options: squeue.SqueueOptions) -> str:
    fields = squeue.wire_fields(options)
    table = over_the_wire({"fields": fields, "rows": views.job_table(CONTROLLER, found, fields)})
    return squeue.render(squeue.select(rows_from_wire(table["fields"], table["rows"]), options),
                         options, now=NOW)


@settings(max_examples=300, deadline=None)
@given(jobs(), command_lines())
def test_squeue_prints_the_same_from_its_fields_as_from_whole_records(found, argv):
    options = squeue.parse_args(argv, {})
    assert by_rows(found, options) == by_records(found, options)


def test_a_field_left_out_shows():
    """The comparison above sees a field squeue would not ask for."""
    job = LiveJob(job_id=5, user="alice", name="train", state=JobState.RUNNING, start_time=NOW)
    options = squeue.parse_args(["-o", "%i %j"], {})
    fields = [name for name in squeue.wire_fields(options) if name != "name"]
    table = over_the_wire({"fields": fields, "rows": views.job_table(CONTROLLER, [job], fields)})
    text = squeue.render(rows_from_wire(table["fields"], table["rows"]), options, now=NOW)
    assert text != by_records([job], options)


def test_squeue_asks_for_what_its_format_prints():
    assert squeue.wire_fields(squeue.parse_args(["-o", "%i"], {})) == [
        "job_id", "partition", "state", "reason", "priority", "array_job_id", "array_task_id"]
    fields = squeue.wire_fields(squeue.parse_args(["-O", "Name,StdOut", "-S", "V", "-A", "x"], {}))
    assert {"name", "stdout", "submit_time", "account"} <= set(fields)
    assert "partition" not in fields and "node_list" not in fields
    assert set(squeue.wire_fields(squeue.parse_args(["-l", "--start"], {}))) <= set(PUBLIC_FIELDS)


def test_rows_read_as_live_jobs():
    job = LiveJob(job_id=7, user="bob", array_job_id=6, array_task_id=1, state=JobState.FAILED,
                  gpus=(("a100", 2),), node_cpus=(4, 4))
    fields = ["job_id", "array_job_id", "array_task_id", "state", "gpus", "node_cpus"]
    wire = over_the_wire([[job.to_wire()[name] for name in fields]])
    [row] = rows_from_wire(fields, wire)
    assert (row.label, row.finished, row.state, row.gpus, row.node_cpus) == (
        "6_1", True, JobState.FAILED, (("a100", 2),), (4, 4))
    assert (row.name, row.qos, row.time_limit) == ("", "normal", None)  # LiveJob's defaults


def test_the_table_shows_the_cores_live_values_as_the_views_do():
    """A pending job the core knows shows its reason ("None" as Priority) and priority,
    a spread one the fewest nodes it can run on; one that left PENDING waits for
    nothing; a pending job the core does not know shows its own fields."""
    spread = LiveJob(job_id=1, user="a", partition="cpu", ntasks=6,
                     submission=SimpleNamespace(spread=True))  # type: ignore[arg-type]
    waiting = LiveJob(job_id=2, user="a", dependency="afterok:1", priority=3.0)
    unknown = LiveJob(job_id=3, user="a", reason="JobHeldUser", priority=4.0)
    done = LiveJob(job_id=4, user="a", state=JobState.COMPLETED, dependency="afterok:1")
    core = {1: SimpleNamespace(reason="None", priority=5.5, dependencies=()),
            2: SimpleNamespace(reason="Resources", priority=7.0, dependencies=()),
            4: SimpleNamespace(reason="None", priority=9.0, dependencies=())}
    controller = SimpleNamespace(
        scheduler=SimpleNamespace(jobs=core), clock=lambda: NOW,
        cluster=SimpleNamespace(partitions=[SimpleNamespace(name="cpu", nodes=None)],
                                nodes=[SimpleNamespace(name="n1", cpus=4)]))
    found = [spread, waiting, unknown, done]
    fields = ["job_id", "reason", "priority", "dependency", "nodes", "state"]
    table = over_the_wire(views.job_table(controller, found, fields))
    assert table == [[1, "Priority", 5.5, None, 2, "PENDING"],
                     [2, "Resources", 7.0, "afterok:1", 1, "PENDING"],
                     [3, "JobHeldUser", 4.0, None, 1, "PENDING"],
                     [4, "None", 0.0, None, 1, "COMPLETED"]]
    records = over_the_wire(views.job_views(controller, found))
    assert [[info[name] for name in fields] for info in records] == table
    everything = views.job_table(controller, found, list(PUBLIC_FIELDS))
    assert over_the_wire([dict(zip(PUBLIC_FIELDS, row)) for row in everything]) == records
