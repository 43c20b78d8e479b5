"""``kairos simulate``: replay a workload through the scheduling core, report the metrics.

The command parses its options and leaves the rest to the twin: it replays the workload
once per configuration (``kairos.sim.runs``), writes the schedules asked for
(``kairos.sim.schedule``) and hands the summaries to ``kairos.sim.report``.  Everything
heavy (NumPy, Rich, ``kairos.sim``) is imported inside the functions, so ``kairos --help``
stays fast.

Failures are raised as ``ValueError`` (an ``SwfError`` is one); the ``kairos`` app turns
them into ``kairos: error: ...`` and exit status 2.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from kairos.cli.twin import load_workload, note, replay_with_progress

if TYPE_CHECKING:
    from kairos.sim.runs import RunConfig

#: Formats ``--plot`` can write, by file suffix.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


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
             "tsafrir, metastack or remaining (the conditional remaining time learned by "
             "ml).")] = "limit",
    backfill_order: Annotated[str, typer.Option(
        "--backfill-order",
        help="Order in which backfill candidates are tried: queue; shortest estimate "
             "first; or aged: largest expected slowdown first, and once the reserved job "
             "has waited 8 h, candidates must fit with their requested times (bounds "
             "starvation); or guarded: shortest first, and a job that has waited too long "
             "is promised a start computed with requested times (easy only).")] = "queue",
    auto: Annotated[bool, typer.Option(
        "--auto",
        help="Self-tuning: choose the predictor, correction and backfill order as the "
             "replay goes, every 21 days, by replaying the last week's finished jobs "
             "under each candidate (EASY; the choices are reported on stderr, and in "
             "--json under \"tuning\"). 'auto' in --compare does the same.")] = False,
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
             "fcfs,easy,conservative or user,last2,ml or easy+user,easy+ml+shortest; "
             "auto is the self-tuner (--auto).")] = None,
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
    from kairos.sim.runs import RunConfig, check_name

    base = RunConfig(check_name("policy", policy), check_name("predictor", predictor),
                     check_name("correction", correction),
                     check_name("backfill order", backfill_order))
    if auto:
        if (policy, predictor, correction, backfill_order) != ("easy", "user", "limit", "queue"):
            raise ValueError("--auto chooses the predictor, correction and backfill order "
                             "itself, on the easy policy: drop --policy, --predictor, "
                             "--correction and --backfill-order, or drop --auto")
        base = replace(base, auto=True)
    configs = parse_compare(compare, base) if compare is not None else [base]
    check_name("order", order)
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot: cannot write {plot.suffix or 'a file without suffix'!r}; "
                         f"name the file with one of: {', '.join(PLOT_SUFFIXES)}")

    workload = load_workload(trace, procs=procs, limit=limit)

    from kairos.sim.metrics import summarize
    from kairos.sim.report import plot_compare, render, render_json
    from kairos.sim.schedule import per_policy_path, write_schedule

    summaries = []
    for config in configs:
        result = replay_with_progress(workload, config, order, forecast_every)
        summary = summarize(result, per_user=per_user)
        if config.auto:
            summary["tuning"] = [d.as_dict() for d in result.tuning]
            note_tuning(result.tuning)
        summaries.append(summary)
        if out is not None:
            path = out if compare is None else per_policy_path(out, config.label)
            write_schedule(result, path)
            note(f"wrote the {config.label} schedule to {path}")

    if as_json:
        render_json(summaries, compare=compare is not None, trace=workload.name,
                    procs=workload.procs, order=order)
    else:
        render(summaries, compare=compare is not None)
    if plot is not None:
        note(f"wrote the plot to {plot_compare(summaries, plot)}")


def note_tuning(decisions) -> None:
    """On stderr: how often the self-tuner decided, and each switch it made."""
    from kairos.sim.tuning import START

    switches = [d for d in decisions if d.applied]
    start = decisions[0].current.label if decisions else START.label
    note(f"auto: started with {start}; {len(decisions)} tunings, {len(switches)} switches")
    for d in switches:
        note(f"auto: day {d.time / 86400:.0f}: {d.current.label} -> {d.chosen.label} "
             f"(expected avg bsld gain {d.gain:.1f}, 95% interval {d.gain_low:.1f} to "
             f"{d.gain_high:.1f}; {d.reason})")


# --- options ---------------------------------------------------------------------------


def parse_compare(text: str, base: RunConfig) -> list[RunConfig]:
    """``--compare``: ``"easy,easy+ml+shortest"`` -> configurations; each '+'-joined name
    sets the policy, predictor, correction or backfill order it names (the sets don't
    overlap), the rest comes from ``base``."""
    from kairos.sim.runs import known_names

    fields = {"policy": "policy", "predictor": "predictor", "correction": "correction",
              "backfill order": "backfill_order"}
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise ValueError("--compare needs configurations separated by commas, e.g. "
                         "fcfs,easy,conservative or easy+user,easy+ml+shortest")
    configs = []
    for item in items:
        config = base
        if item == "auto":
            configs.append(replace(base, policy="easy", predictor="user", correction="limit",
                                   backfill_order="queue", auto=True))
            continue
        for token in (t.strip() for t in item.split("+")):
            kind = next((k for k in fields if token in known_names(k)), None)
            if kind is None:
                known = "; ".join(f"{k}: {', '.join(known_names(k))}" for k in fields)
                raise ValueError(f"--compare: {token!r} in {item!r} is not a known name ({known})")
            config = replace(config, **{fields[kind]: token}, auto=False)
        configs.append(config)
    return list(dict.fromkeys(configs))
