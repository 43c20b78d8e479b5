"""``kairos predict``: runtime predictors - list them, judge them on a trace, train one.

``evaluate`` replays the workload once per predictor through the same scheduler and
reports both how close the estimates were and what they did to the schedule, plus the
error of start-time forecasts made at submission.  ``train`` fits a predictor on a
whole trace and saves it, versioned, for the live controller to load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from kairos.cli.twin import load_workload, note, replay_with_progress

app = typer.Typer(help="Runtime predictors: list, evaluate on a trace, train and save.",
                  no_args_is_help=True)

DEFAULT_PREDICTORS = "user,last2,rf,ml,oracle"


@app.command("list")
def list_predictors() -> None:
    """The predictors and what each plans with."""
    from kairos.predict import PREDICTORS

    width = max(map(len, PREDICTORS))
    for name, (_, description) in PREDICTORS.items():
        typer.echo(f"{name.ljust(width)}  {description}")


@app.command()
def evaluate(
    trace: Annotated[Optional[Path], typer.Argument(
        metavar="TRACE", show_default=False,
        help="SWF trace (or a trace name in $KAIROS_TRACES); default as for simulate.")] = None,
    predictors: Annotated[str, typer.Option(
        "--predictors", help="Comma-separated predictors to compare.")] = DEFAULT_PREDICTORS,
    policy: Annotated[str, typer.Option("--policy", "-p", help="fcfs, easy or conservative.")] = "easy",
    order: Annotated[str, typer.Option("--order", help="Queue order.")] = "submit",
    correction: Annotated[str, typer.Option(
        "--correction", help="limit, tsafrir, metastack or remaining (with ml).")] = "limit",
    backfill_order: Annotated[str, typer.Option(
        "--backfill-order", help="queue, shortest (EASY++), aged (largest expected slowdown first) or "
                             "guarded (shortest first, with promises for starving jobs).")] = "queue",
    forecast_every: Annotated[int, typer.Option(
        "--forecast-every", min=0, metavar="N",
        help="Forecast every N-th job's start at submission (0: none).")] = 20,
    procs: Annotated[Optional[int], typer.Option("--procs", min=1, show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", min=1, show_default=False, help="Only the first N jobs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Judge predictors on a trace: estimate accuracy (mean absolute error, share
    under-estimated, mean predicted/actual), the schedule they give (average bounded
    slowdown, average and maximum wait) and start-time forecast error."""
    names = [p.strip() for p in predictors.split(",") if p.strip()]
    if not names:
        raise ValueError(f"--predictors needs names separated by commas, e.g. {DEFAULT_PREDICTORS}")
    from kairos.sim.runs import RunConfig, check_name

    base = RunConfig(check_name("policy", policy), "user", check_name("correction", correction),
                     check_name("backfill order", backfill_order))
    configs = [RunConfig(base.policy, check_name("predictor", n), base.correction,
                         base.backfill_order) for n in dict.fromkeys(names)]
    check_name("order", order)
    workload = load_workload(trace, procs=procs, limit=limit)

    from kairos.sim.metrics import summarize
    from kairos.sim.report import PREDICTION_COLUMNS, render, render_json

    summaries = [summarize(replay_with_progress(workload, c, order, forecast_every)) for c in configs]
    if as_json:
        render_json(summaries, compare=True, trace=workload.name, procs=workload.procs, order=order)
    else:
        render(summaries, compare=True, columns=PREDICTION_COLUMNS)


@app.command()
def train(
    source: Annotated[Path, typer.Option(
        "--from", metavar="TRACE", help="SWF trace to learn from (or a name in $KAIROS_TRACES).")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="MODEL", help="Folder to write the model to.")],
    predictor: Annotated[str, typer.Option("--predictor", "-P", help="ml, rf, last2 or user.")] = "ml",
    procs: Annotated[Optional[int], typer.Option("--procs", min=1, show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, show_default=False)] = None,
) -> None:
    """Train a predictor on a whole trace and save it (versioned) to MODEL.

    Jobs are seen in submit order and each is learnt from at its real end in the trace
    (submit + wait + runtime), as a live controller would have seen them."""
    from kairos.sim.runs import check_name

    check_name("predictor", predictor)
    workload = load_workload(source, procs=procs, limit=limit)
    from kairos.predict.model_io import read_meta, save, train_from_workload

    model = train_from_workload(workload, predictor)
    path = save(model, out)
    meta = read_meta(path)
    note(f"trained {predictor} on {meta.get('jobs', '?')} finished jobs of {workload.name}")
    typer.echo(str(path))
