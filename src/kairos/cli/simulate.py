"""``kairos simulate``: replay a workload through the scheduling core, report the metrics.

The command parses its options, loads the workload, replays it once per policy and hands
the summaries to ``kairos.sim.report``.  Everything heavy (NumPy, Rich, ``kairos.sim``)
is imported inside the functions, so ``kairos --help`` stays fast.

Failures are raised as ``ValueError`` (an ``SwfError`` is one); the ``kairos`` app turns
them into ``kairos: error: ...`` and exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer

if TYPE_CHECKING:
    from kairos.sim.replay import ReplayResult
    from kairos.sim.workload import Workload

#: Formats ``--plot`` can write, by file suffix.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")

#: Below this many jobs a replay is quick enough to need no progress bar.
PROGRESS_MIN_JOBS = 5000


def simulate(
    trace: Annotated[Optional[Path], typer.Argument(
        help="SWF file to replay (plain or .gz), or the name of a trace in "
             "$KAIROS_TRACES (kth-sp2). Default: a trace from $KAIROS_TRACES, else a "
             "synthetic Lublin-Feitelson workload (10,000 jobs, 256 processors).",
        metavar="TRACE", show_default=False)] = None,
    trace_option: Annotated[Optional[Path], typer.Option(
        "--trace", "-t", metavar="TRACE", show_default=False,
        help="The same as the TRACE argument.")] = None,
    policy: Annotated[str, typer.Option(
        "--policy", "-p", help="Scheduling policy: fcfs, easy or conservative.")] = "easy",
    order: Annotated[str, typer.Option(
        "--order", help="Queue order: submit, sjf, f1 or multifactor.")] = "submit",
    predictor: Annotated[str, typer.Option(
        "--predictor", "-P",
        help="Runtime estimates to plan with: user (requested times), last2, rf, ml or "
             "oracle (true runtimes, for reference).")] = "user",
    correction: Annotated[str, typer.Option(
        "--correction",
        help="When a job outlives its estimate: limit (plan with its time limit), "
             "tsafrir or metastack.")] = "limit",
    backfill_order: Annotated[str, typer.Option(
        "--backfill-order",
        help="Order in which backfill candidates are tried: queue; shortest estimate "
             "first; or aged: largest expected slowdown first, and once the reserved job "
             "has waited 8 h, candidates must fit with their requested times (bounds "
             "starvation).")] = "queue",
    forecast_every: Annotated[int, typer.Option(
        "--forecast-every", min=0, metavar="N",
        help="Forecast the start time of every N-th job at its submission and report "
             "the forecast error (0: none).")] = 0,
    procs: Annotated[Optional[int], typer.Option(
        "--procs", min=1, show_default=False,
        help="Machine size in processors. Default: MaxProcs (else MaxNodes) from the "
             "trace header.")] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", min=1, show_default=False,
        help="Replay only the first N jobs of the trace.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", show_default=False,
        help="Write the simulated schedule as SWF (field 3 = simulated wait, other fields "
             "as read; .gz compresses). With --compare: one file per policy, named "
             "NAME.<policy>.swf.")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json",
        help="Print one JSON object on stdout instead of tables: the metrics. With "
             "--compare: an object with trace, procs, order and results, a list of "
             "one metrics object per policy.")] = False,
    compare: Annotated[Optional[str], typer.Option(
        "--compare", metavar="CONFIGS", show_default=False,
        help="Comma-separated configurations to replay and compare in one table. Each "
             "is a policy, predictor, correction or backfill order, or several joined "
             "with '+'; what is not named comes from the other options. E.g. "
             "fcfs,easy,conservative or user,last2,ml or easy+user,easy+ml+shortest.")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="FILE", show_default=False,
        help="Save a bar chart of average bounded slowdown and average wait per policy "
             "(.png, .pdf or .svg).")] = None,
    per_user: Annotated[bool, typer.Option(
        "--per-user", help="Also report each user's jobs, average wait and average "
                           "bounded slowdown.")] = False,
) -> None:
    """Replay a workload through the scheduler on a virtual clock; report its metrics.

    Metrics: bounded slowdown, waits, utilization and per-user fairness.  Tables go to
    stdout (plain columns when it is not a terminal), notes and progress to stderr.
    """
    if trace is not None and trace_option is not None and trace != trace_option:
        raise ValueError("give the trace once: as the TRACE argument or with --trace")
    trace = trace or trace_option
    base = Config(check_policy(policy), check_name("predictor", predictor),
                  check_name("correction", correction), check_name("backfill order", backfill_order))
    configs = parse_compare(compare, base) if compare is not None else [base]
    check_order(order)
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot: cannot write {plot.suffix or 'a file without suffix'!r}; "
                         f"name the file with one of: {', '.join(PLOT_SUFFIXES)}")

    workload = load_workload(trace, procs=procs, limit=limit)
    note(describe_workload(workload, trace))

    from kairos.sim.metrics import summarize

    summaries = []
    for config in configs:
        result = replay_with_progress(workload, config, order, forecast_every)
        summaries.append(summarize(result, per_user=per_user))
        if out is not None:
            path = out if compare is None else per_policy_path(out, config.label)
            write_schedule(result, path)
            note(f"wrote the {config.label} schedule to {path}")

    if as_json:
        print_json(summaries, workload, order, compared=compare is not None)
    else:
        from kairos.sim.report import render

        render(summaries, compare=compare is not None)
    if plot is not None:
        from kairos.sim.report import plot_compare

        note(f"wrote the plot to {plot_compare(summaries, plot)}")


# --- names -----------------------------------------------------------------------------


def _known(kind: str) -> tuple[str, ...]:
    from kairos.core import ORDERS, POLICIES
    from kairos.core.corrections import CORRECTIONS
    from kairos.core.policy import BACKFILL_ORDERS

    if kind == "predictor":
        from kairos.predict import PREDICTORS

        return tuple(PREDICTORS)
    return tuple({"policy": POLICIES, "order": ORDERS, "correction": CORRECTIONS,
                  "backfill order": BACKFILL_ORDERS}[kind])


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a known ``kind`` (predictor, correction, backfill order)."""
    known = _known(kind)
    if name not in known:
        raise ValueError(f"unknown {kind} {name!r}; choose from: {', '.join(known)}")
    return name


@dataclass(frozen=True)
class Config:
    """One way to run the twin: policy, runtime estimates, correction, backfill order."""

    policy: str
    predictor: str = "user"
    correction: str = "limit"
    backfill_order: str = "queue"

    @property
    def label(self) -> str:
        parts = [self.policy]
        if self.predictor != "user":
            parts.append(self.predictor)
        if self.correction != "limit":
            parts.append(self.correction)
        if self.backfill_order != "queue":
            parts.append(self.backfill_order)
        return "+".join(parts)


def parse_compare(text: str, base: Config) -> list[Config]:
    """``"easy,easy+ml+shortest"`` -> configurations; each '+'-joined name sets the
    policy, predictor, correction or backfill order it names (the sets don't overlap)."""
    fields = {"policy": "policy", "predictor": "predictor", "correction": "correction",
              "backfill order": "backfill_order"}
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise ValueError("--compare needs configurations separated by commas, e.g. "
                         "fcfs,easy,conservative or easy+user,easy+ml+shortest")
    configs = []
    for item in items:
        config = base
        for token in (t.strip() for t in item.split("+")):
            kind = next((k for k in fields if token in _known(k)), None)
            if kind is None:
                known = "; ".join(f"{k}: {', '.join(_known(k))}" for k in fields)
                raise ValueError(f"--compare: {token!r} in {item!r} is not a known name ({known})")
            config = replace(config, **{fields[kind]: token})
        configs.append(config)
    return list(dict.fromkeys(configs))


def check_policy(name: str) -> str:
    """``name`` if it is a scheduling policy, else a ValueError listing the valid ones."""
    known = _known("policy")
    if name not in known:
        raise ValueError(f"unknown policy {name!r}; choose from: {', '.join(known)}")
    return name


def check_order(name: str) -> str:
    """``name`` if it is a queue order, else a ValueError listing the valid ones."""
    known = _known("order")
    if name not in known:
        raise ValueError(f"unknown queue order {name!r}; choose from: {', '.join(known)}")
    return name


# --- workload and replay ---------------------------------------------------------------


def load_workload(trace: Path | None, *, procs: int | None, limit: int | None) -> Workload:
    """The trace given, else the default workload (``kairos.sim.workload``)."""
    from kairos.sim.workload import default_workload

    return default_workload(trace, procs=procs, limit=limit)


def describe_workload(workload: Workload, trace: Path | None) -> str:
    """One line saying which workload runs, and where it came from."""
    if trace is not None:
        source = f"trace {trace}"
    elif workload.records is not None:
        source = "trace from $KAIROS_TRACES"
    elif os.environ.get("KAIROS_TRACES"):
        source = "synthetic: no trace given and none found in $KAIROS_TRACES"
    else:
        source = "synthetic: no trace given; set KAIROS_TRACES to a folder of SWF files"
    skipped = sum((workload.skipped or {}).values())
    return (f"workload {workload.name} ({source}): {len(workload.jobs):,} jobs on "
            f"{workload.procs:,} processors" + (f", {skipped:,} skipped" if skipped else ""))


def run_replay(workload: Workload, config: Config, order: str, forecast_every: int = 0, *,
               progress: Callable[[int], None] | None = None) -> ReplayResult:
    """One replay (``kairos.sim.replay.replay``)."""
    from kairos.sim.replay import replay

    predictor = None if config.predictor == "user" else config.predictor
    return replay(workload, config.policy, order, predictor=predictor,
                  correction=config.correction, backfill_order=config.backfill_order,
                  forecast_every=forecast_every, progress=progress)


def replay_with_progress(workload: Workload, config: Config, order: str,
                         forecast_every: int = 0) -> ReplayResult:
    """``run_replay`` with a Rich progress bar on stderr when stderr is a terminal and
    the workload is big enough for the wait to be noticed."""
    policy = config.label
    if not sys.stderr.isatty() or len(workload.jobs) < PROGRESS_MIN_JOBS:
        return run_replay(workload, config, order, forecast_every)
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(f"replay {policy}", total=len(workload.jobs))
        result = run_replay(workload, config, order, forecast_every,
                            progress=lambda done: bar.update(task, completed=done))
    note(f"{policy}: {len(result.jobs):,} jobs replayed in {result.wall_seconds:.1f} s")
    return result


# --- output ----------------------------------------------------------------------------


def note(message: str) -> None:
    """A line for the person at the terminal, on stderr (stdout stays parseable)."""
    typer.echo(f"kairos: {message}", err=True)


def print_json(summaries: list[dict], workload: Workload, order: str, *,
               compared: bool) -> None:
    """One JSON object on stdout: the summary, or for ``--compare`` the workload and
    ``results``, one summary per policy."""
    if compared:
        document: Any = {"trace": workload.name, "procs": workload.procs, "order": order,
                         "results": summaries}
    else:
        document = summaries[0]
    sys.stdout.write(json.dumps(document, indent=2, allow_nan=False) + "\n")


def per_policy_path(path: Path, policy: str) -> Path:
    """``schedule.swf`` -> ``schedule.easy.swf`` (``.swf.gz`` and other suffixes kept)."""
    name = path.name
    for suffix in (".swf.gz", ".swf", ".gz"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return path.with_name(f"{name[:-len(suffix)]}.{policy}{suffix}")
    return path.with_name(f"{name}.{policy}")


def write_schedule(result: ReplayResult, path: Path) -> Path:
    """Write the simulated jobs as SWF, by job number: each job's record as read with
    field 3 set to its simulated wait; for a generated workload, records built from the
    jobs."""
    from kairos.sim.swf import with_wait, write_swf

    workload = result.workload
    jobs = sorted((j for j in result.jobs if j.start is not None), key=lambda j: j.id)
    if workload.records is not None:
        records = [with_wait(workload.records[j.id], j.start - j.submit) for j in jobs]
    else:
        users: dict[str, int] = {}
        records = [record_from_job(j, users) for j in jobs]
    header = list(workload.header_lines)
    if "MaxProcs" not in (workload.header or {}):
        header.append(f"; MaxProcs: {workload.procs}")  # keep the file replayable
    header += [f"; Note: simulated by Kairos with policy {result.policy}, queue order "
              f"{result.order}; field 3 is the simulated wait"]
    return write_swf(path, header, records)


def record_from_job(job: Any, users: dict[str, int]) -> tuple:
    """An SWF record for a job that came from no file: -1 for what a job doesn't know.

    User names that are not numbers get numbers in order of first appearance."""
    def number(value: Any) -> int | float:
        v = float(value)
        return int(v) if v.is_integer() else v

    user = str(job.user)
    uid = int(user) if user.isdigit() else users.setdefault(user, len(users) + 1)
    group = str(job.group)
    limit = job.time_limit if job.time_limit != float("inf") else -1
    cpus = job.request.cpus
    return (job.id, number(job.submit), number(job.start - job.submit),
            number(job.end - job.start) if job.end is not None else -1,
            cpus, -1, -1, cpus, number(limit), -1, 1, uid,
            int(group) if group.isdigit() else -1, -1, -1, -1, -1, -1)
