"""``kairos tune``: the controller's self-tuner (``[controller] auto = true``).

It shows how the controller plans now, its last tuning - every candidate's average
bounded slowdown and maximum wait over the recent finished jobs, the best candidate
against the current configuration with the expected gain and its 95% interval, and
whether it was applied and when - its earlier decisions and when it tunes next
(``GET /api/v1/tuning``).  ``--now`` asks for a tuning now and waits for it
(administrators; ``POST /api/v1/tuning``).

With ``auto`` off the command shows how the controller plans, says that it does not tune
itself and exits with status 1; ``--now`` is refused (status 2).  There is no what-if
without the tuner: only its panel of predictors records what each would have said of
each job at its submission, and without those answers every candidate would plan with
time limits alike.

Plain text when piped, a Rich table on a terminal, ``--json`` for programs.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

#: seconds to wait for a tuning asked with --now: it replays the window once per candidate
TUNE_TIMEOUT = 1800.0


def tune(
    now: Annotated[bool, typer.Option(
        "--now", help="Tune now and wait for the decision (administrators).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """The self-tuner: the configuration the controller plans with, what each candidate
    configuration did on the recent finished jobs, what was applied and when, and when
    it tunes next."""
    from kairos.cli.client import as_command_errors, connect

    with as_command_errors():
        client = connect(autostart=False)
        if now:
            client.timeout = TUNE_TIMEOUT
            info = client.tune()
        else:
            info = client.tuning()
    if json_out:
        import json

        typer.echo(json.dumps(info, indent=2))
    elif sys.stdout.isatty():
        print_rich(info)
    else:
        typer.echo(render(info))
    if not info["auto"]:
        typer.echo("kairos: self-tuning is off: set auto = true in [controller] of the "
                   "controller's config.toml to let it choose", err=True)
        raise typer.Exit(1)


def render(info: dict, clock: float | None = None) -> str:
    """The answer in labelled lines, the candidates as a plain table."""
    lines = header(info, clock)
    decision = info.get("decision") or (info["decisions"][-1] if info["decisions"] else None)
    if decision is not None:
        lines += [""] + summary(decision, "this tuning" if "decision" in info else "last tuning")
        lines.append(f"  {'candidate':<26} {'avg bsld':>9} {'max wait':>12}")
        for config, avg_bsld, max_wait, note in rows(decision):
            lines.append(f"  {config:<26} {avg_bsld:>9} {max_wait:>12}  {note}".rstrip())
    lines += earlier(info, decision)
    return "\n".join(lines)


def print_rich(info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print("\n".join(header(info)), highlight=False)
    decision = info.get("decision") or (info["decisions"][-1] if info["decisions"] else None)
    if decision is not None:
        console.print()
        console.print("\n".join(summary(decision, "this tuning" if "decision" in info
                                                  else "last tuning")), highlight=False)
        table = Table(title_justify="left")
        table.add_column("candidate", style="bold")
        table.add_column("avg bsld", justify="right")
        table.add_column("max wait", justify="right")
        table.add_column("")
        for config, avg_bsld, max_wait, note in rows(decision):
            table.add_row(config, avg_bsld, max_wait, note)
        console.print(table)
    for line in earlier(info, decision):
        console.print(line, highlight=False)


def header(info: dict, clock: float | None = None) -> list[str]:
    """How the controller plans, whether it tunes itself, and when next."""
    from kairos.slurm.timespec import format_duration, format_timestamp

    c = info["current"]
    lines = [f"configuration  {c['label']} ({c['policy'].upper()}, predictor "
             f"{c['predictor']}, correction {c['correction']}, backfill order "
             f"{c['backfill_order']})"]
    if not info["auto"]:
        lines.append("self-tuning    off")
        return lines
    lines.append(f"self-tuning    on: every {format_duration(info['every'])}, on the jobs of "
                 f"the last {format_duration(info['window'])} that finished (at least "
                 f"{info['min_jobs']})")
    if info["running"]:
        lines.append("next tuning    running now")
    elif info["next"] is not None:
        clock = time.time() if clock is None else clock
        left = info["next"] - clock
        when = f"in {format_duration(left)}" if left > 0 else "due"
        lines.append(f"next tuning    {format_timestamp(info['next'])} ({when})")
    lines.append(f"candidates     {', '.join(info['candidates'])}")
    return lines


def summary(decision: dict, title: str) -> list[str]:
    """What a tuning compared, what it found and what it did."""
    from kairos.slurm.timespec import format_duration, format_timestamp

    lines = [f"{title}, {format_timestamp(decision['time'])}: {decision['jobs']} finished jobs"]
    if decision["chosen"] == decision["current"]:
        lines.append(f"  best           {decision['chosen']}, the current configuration")
    else:
        lines.append(f"  best           {decision['chosen']}, against the current "
                     f"{decision['current']}")
        lines.append(f"  expected gain  {decision['gain']:.2f} in average bounded slowdown "
                     f"(95% interval {decision['gain_low']:.2f} to {decision['gain_high']:.2f})")
    if decision["applied"]:
        did = f"applied {decision['chosen']} at {format_timestamp(decision['time'])}"
    else:
        did = f"kept {decision['current']}"
    lines.append(f"  decision       {did}: {decision['reason']}")
    lines.append(f"  wait bound     {format_duration(decision['wait_limit'])} (the longest "
                 f"wait a candidate may have)")
    return lines


def rows(decision: dict) -> list[tuple[str, str, str, str]]:
    """Each candidate: its configuration, average bounded slowdown, maximum wait and
    whether it was the current one, the one chosen, or the best one left unapplied."""
    from kairos.slurm.timespec import format_duration

    out = []
    for t in decision["trials"]:
        notes = []
        if t["config"] == decision["current"]:
            notes.append("current")
        elif t["config"] == decision["chosen"]:
            notes.append("chosen" if decision["applied"] else "best, not applied")
        if t["max_wait"] > decision["wait_limit"]:
            notes.append("over the wait bound")
        out.append((t["config"], f"{t['avg_bsld']:.2f}", format_duration(t["max_wait"]),
                    ", ".join(notes)))
    return out


def earlier(info: dict, shown: dict | None) -> list[str]:
    """The decisions before the one shown, newest first, one line each."""
    from kairos.slurm.timespec import format_timestamp

    before = [d for d in info["decisions"] if d is not shown and d != shown]
    if not before:
        return []
    lines = ["", "earlier tunings:"]
    for d in reversed(before[-10:]):
        did = (f"applied {d['chosen']} (was {d['current']})" if d["applied"]
               else f"kept {d['current']}")
        lines.append(f"  {format_timestamp(d['time'])}  {d['jobs']} jobs, {did}")
    return lines
