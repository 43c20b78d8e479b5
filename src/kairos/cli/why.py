"""``kairos why JOBID``: why a pending job waits, when it will start, and what would let
it start sooner, as the controller explains it (``GET /api/v1/jobs/{id}/why``).

Plain text for people, ``--json`` for programs.  Only the API client and Slurm's time
formats are imported, and only when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer


def why(
    job_id: Annotated[str, typer.Argument(help="A job id (12, or 12_3 for an array task).")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Why a pending job waits: the jobs and reservation in its way, the rule that
    applies, its forecast start (the one squeue --start shows) with an interval, and
    changes that would let it start sooner, each checked by running the scheduler's
    twin forward."""
    from kairos.cli.client import as_command_errors, connect

    with as_command_errors():
        info = connect(autostart=False).why(job_id)
    if json_out:
        import json

        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo(render(info))


def render(info: dict) -> str:
    """The explanation in a few labelled lines."""
    from kairos.slurm.timespec import format_duration, format_timestamp

    now = info["now"]

    def when(t: float | None) -> str:
        if t is None:
            return "never (under these assumptions)"
        if t <= now + 0.5:
            return "now"
        return f"{format_timestamp(t)} (in {format_duration(t - now)})"

    def job(ref: dict) -> str:
        return f"job {ref['job_id']} ({ref['user']})"

    lines = [f"job {info['job_id']} ({info['user']}, partition {info['partition']}) is "
             f"PENDING, reason {info['reason']}",
             f"  rule      {info['rule']}"]
    if not info.get("forecast_known", True):
        lines.append("  start     not known: the forecast stopped at the controller's "
                     "forecast_budget before this job started ([controller] in config.toml)")
    else:
        start = f"  start     {when(info['expected_start'])}"
        if info["expected_start"] is not None and info["nodes"]:
            start += f" on {','.join(info['nodes'])}"
        lines.append(start)
    low, high = info["start_interval"]
    if low is not None and low != high:
        lines.append(f"  interval  {when(low)} to {when(high)}: from every job running its "
                     "expected time to every job running to its time limit")
    planned = info["estimate"]
    if planned is not None and planned != info["time_limit"]:
        lines.append(f"  runtime   planned {format_duration(planned)} of its time limit "
                     f"{format_duration(info['time_limit'])} (the predictor's estimate)")
    if info["begin"] is not None:
        lines.append(f"  begin     not before {format_timestamp(info['begin'])}")
    for dep in info["dependencies"]:
        target = f":{dep['job_id']}" if dep["job_id"] is not None else ""
        state = f"; job {dep['job_id']} is {dep['state']}" if dep["state"] else ""
        lines.append(f"  waits on  {dep['kind']}{target} ({dep['status']}{state})")
    if info["jobs_ahead"]:
        lines.append(f"  ahead     {info['jobs_ahead']} job(s) before it in the queue "
                     f"({info['order']} order)")
    for r in info["blocking"]:
        lines.append(f"  reserved  {job(r)} holds a reservation from {when(r['start'])}")
    if info["reservation"] is not None:
        lines.append(f"  reserved  for this job from {when(info['reservation']['start'])}")
    if info["holders"]:
        lines.append("  in its way (running on the nodes it needs):")
        for h in info["holders"]:
            limit = f", time limit {format_timestamp(h['limit_end'])}" if h["limit_end"] else ""
            lines.append(f"    {job(h)} on {','.join(h['nodes'])}: expected to end "
                         f"{format_timestamp(h['expected_end'])}{limit}")
    if info["what_ifs"]:
        lines.append("  sooner (each checked by running the scheduler's twin forward):")
        for w in info["what_ifs"]:
            lines.append(f"    {change(w, info['job_id']):<28} would start {when(w['start'])}")
    lines.append("  (forecasts assume no more jobs are submitted: a later job of higher "
                 "priority can still pass it)")
    return "\n".join(lines)


def change(what_if: dict, label: str) -> str:
    """A what-if as the option (or command) that makes it."""
    from kairos.slurm.timespec import format_duration

    c = what_if["changes"]
    if what_if["kind"] == "release":
        return f"scontrol release {label}"
    parts = []
    if "time_limit" in c:
        parts.append(f"--time={format_duration(c['time_limit'])}")
    if "partition" in c:
        parts.append(f"--partition={c['partition']}")
    if "nodes" in c:
        parts.append(f"--nodes={c['nodes']}")
    if "tasks" in c:
        parts.append(f"--ntasks={c['tasks']}")
    if "cpus_per_task" in c:
        parts.append(f"--cpus-per-task={c['cpus_per_task']}")
    return " ".join(parts)
