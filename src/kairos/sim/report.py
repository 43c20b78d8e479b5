"""Rendering of replay metrics: Rich tables for people, stable columns for pipes, plots.

Everything here takes the flat dicts of ``kairos.sim.metrics.summarize``.

- ``render`` writes one summary (``compare=False``) or a comparison table (one row per
  summary) to a file: a Rich table when the file is a terminal, else plain text whose
  columns and keys never change, so ``awk`` and ``grep`` keep working.
- ``render_json`` writes them as one JSON object instead (``--json``).
- ``plot_compare`` saves a bar chart of average bounded slowdown and average wait per
  policy.  Matplotlib is imported only there, and draws without any GUI backend.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO, Any, Callable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table

Summary = dict[str, Any]

# --- value formats ---------------------------------------------------------------------


def _missing(fmt: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda v: "-" if v is None else fmt(v)


def duration(seconds: float) -> str:
    """A short human duration: ``42s``, ``12m05s``, ``3h04m``, ``2d03h``."""
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.0f}s" if seconds >= 1 or seconds == 0 else f"{seconds:.2f}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


_RICH_FORMATS: dict[str, Callable[[Any], str]] = {
    "bsld": _missing(lambda v: f"{v:,.2f}"),
    "seconds": _missing(duration),
    "ratio": _missing(lambda v: f"{100 * v:.1f}%"),
    "count": _missing(lambda v: f"{v:,}"),
    "rate": _missing(lambda v: f"{v:,.0f}"),
    "fairness": _missing(lambda v: f"{v:.3f}"),
    "wall": _missing(duration),
    "text": _missing(str),
}

_PLAIN_FORMATS: dict[str, Callable[[Any], str]] = {
    "bsld": _missing(lambda v: f"{v:.3f}"),
    "seconds": _missing(lambda v: f"{v:.1f}"),
    "ratio": _missing(lambda v: f"{v:.4f}"),
    "count": _missing(lambda v: f"{v:d}"),
    "rate": _missing(lambda v: f"{v:.1f}"),
    "fairness": _missing(lambda v: f"{v:.4f}"),
    "wall": _missing(lambda v: f"{v:.3f}"),
    "text": _missing(str),
}

#: The comparison table: (summary key, Rich heading, plain heading, kind of value).
COMPARE_COLUMNS = (
    ("jobs", "jobs", "jobs", "count"),
    ("avg_bsld", "avg bsld", "avg_bsld", "bsld"),
    ("max_bsld", "max bsld", "max_bsld", "bsld"),
    ("avg_wait", "avg wait", "avg_wait", "seconds"),
    ("p90_wait", "p90 wait", "p90_wait", "seconds"),
    ("max_wait", "max wait", "max_wait", "seconds"),
    ("utilization", "utilization", "utilization", "ratio"),
    ("jobs_per_second", "jobs/s", "jobs_per_second", "rate"),
)

#: ``kairos predict evaluate``: how good the estimates were, and what they bought.
PREDICTION_COLUMNS = (
    ("pred_mae", "estimate MAE", "pred_mae", "seconds"),
    ("pred_under", "under estimated", "pred_under", "ratio"),
    ("pred_ratio", "mean pred/actual", "pred_ratio", "fairness"),
    ("avg_bsld", "avg bsld", "avg_bsld", "bsld"),
    ("avg_wait", "avg wait", "avg_wait", "seconds"),
    ("max_wait", "max wait", "max_wait", "seconds"),
    ("forecast_p50_error", "forecast p50 err", "forecast_p50_error", "seconds"),
    ("forecast_p90_error", "forecast p90 err", "forecast_p90_error", "seconds"),
    ("jobs_per_second", "jobs/s", "jobs_per_second", "rate"),
)

#: One summary, in reading order: (summary key, label, kind of value).
SUMMARY_ROWS = (
    ("jobs", "jobs simulated", "count"),
    ("skipped", "jobs skipped", "count"),
    ("avg_bsld", "avg bounded slowdown", "bsld"),
    ("max_bsld", "max bounded slowdown", "bsld"),
    ("avg_wait", "avg wait", "seconds"),
    ("p50_wait", "median wait", "seconds"),
    ("p90_wait", "p90 wait", "seconds"),
    ("p99_wait", "p99 wait", "seconds"),
    ("max_wait", "max wait", "seconds"),
    ("utilization", "utilization", "ratio"),
    ("makespan", "makespan", "seconds"),
    ("users", "users", "count"),
    ("fairness_jain", "fairness (Jain, user avg bsld)", "fairness"),
    ("worst_user_avg_bsld", "worst user avg bsld", "bsld"),
    ("pred_mae", "estimate mean abs error", "seconds"),
    ("pred_under", "jobs under-estimated", "ratio"),
    ("forecasts", "start forecasts", "count"),
    ("forecast_p50_error", "forecast median error", "seconds"),
    ("forecast_p90_error", "forecast p90 error", "seconds"),
    ("replay_seconds", "replay time", "wall"),
    ("jobs_per_second", "jobs/s", "rate"),
)

PER_USER_COLUMNS = (
    ("user", "user", "text"),
    ("jobs", "jobs", "count"),
    ("avg_wait", "avg wait", "seconds"),
    ("avg_bsld", "avg bsld", "bsld"),
)


# --- Rich tables -----------------------------------------------------------------------


def _title(summaries: Sequence[Summary]) -> str:
    traces = ", ".join(dict.fromkeys(str(s["trace"]) for s in summaries))
    procs = ", ".join(dict.fromkeys(str(s["procs"]) for s in summaries))
    orders = ", ".join(dict.fromkeys(str(s["order"]) for s in summaries))
    return f"{traces} · {procs} processors · queue order {orders}"


def _label(summary: Summary, summaries: Sequence[Summary]) -> str:
    """The policy, plus whatever else (queue order, predictor, correction) the rows
    differ in or is not the default."""
    parts = [str(summary["policy"])]
    if summary.get("predictor") == "auto":  # the tuner chose them: "easy+auto" says it
        return parts[0]
    for key, default in (("order", None), ("predictor", "user"), ("correction", "limit")):
        values = {s.get(key, default) for s in summaries}
        if len(values) > 1 or (default is not None and summary.get(key, default) != default):
            parts.append(str(summary.get(key, default)))
    return "/".join(parts)


def compare_table(summaries: Sequence[Summary], columns=COMPARE_COLUMNS) -> Table:
    """One row per summary (policy), the given ``columns`` (``COMPARE_COLUMNS``)."""
    labels = [_label(s, summaries) for s in summaries]
    table = Table(title=_title(summaries), title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    table.add_column("policy", style="bold", no_wrap=True,
                     min_width=max(len(label) for label in labels))
    for _, heading, _, _ in columns:
        # two-word headings on two lines keep the table within 80 columns
        table.add_column(heading.replace(" ", "\n"), justify="right", no_wrap=True)
    best = _best_rows(summaries)
    for i, s in enumerate(summaries):
        cells = [_RICH_FORMATS[kind](s.get(key)) for key, _, _, kind in columns]
        cells = [f"[green]{c}[/]" if (key, i) in best else c
                 for c, (key, _, _, _) in zip(cells, columns)]
        table.add_row(labels[i], *cells)
    return table


def _best_rows(summaries: Sequence[Summary]) -> set[tuple[str, int]]:
    """(column, row) pairs holding the best value of a column (lowest, or highest
    utilization), to highlight when there is something to compare."""
    if len(summaries) < 2:
        return set()
    best = set()
    for key, higher in (("avg_bsld", False), ("max_bsld", False), ("avg_wait", False),
                        ("p90_wait", False), ("max_wait", False), ("utilization", True),
                        ("pred_mae", False), ("forecast_p50_error", False),
                        ("forecast_p90_error", False)):
        values = [(s.get(key), i) for i, s in enumerate(summaries) if s.get(key) is not None]
        if not values:
            continue
        target = (max if higher else min)(v for v, _ in values)
        best.update((key, i) for v, i in values if v == target)
    return best


def summary_table(summary: Summary) -> Table:
    """One summary as a two-column table of metric and value."""
    table = Table(title=f"{_title([summary])} · policy {summary['policy']} · "
                        f"estimates {summary.get('predictor', 'user')}",
                  title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label, kind in SUMMARY_ROWS:
        table.add_row(label, _RICH_FORMATS[kind](summary.get(key)))
        if key == "skipped":
            for reason, n in (summary.get("skipped_by_reason") or {}).items():
                table.add_row(f"  [dim]{reason}[/]", f"[dim]{n:,}[/]")
    return table


def per_user_table(summary: Summary) -> Table:
    """The ``per_user`` rows of a summary made with ``per_user=True``."""
    table = Table(title=f"per user · policy {summary['policy']}", title_justify="left")
    for _, heading, kind in PER_USER_COLUMNS:
        table.add_column(heading, justify="left" if kind == "text" else "right")
    for row in summary.get("per_user") or []:
        table.add_row(*(_RICH_FORMATS[kind](row.get(key)) for key, _, kind in PER_USER_COLUMNS))
    return table


# --- plain text ------------------------------------------------------------------------


def _columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, one line per row, header first."""
    widths = [max(len(cell) for cell in col) for col in zip(header, *rows)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
             for line in (header, *rows)]
    return "\n".join(lines) + "\n"


def plain_compare(summaries: Sequence[Summary], columns=COMPARE_COLUMNS) -> str:
    """The comparison table as stable columns: trace, policy, order, predictor,
    correction, then the metrics
    in ``COMPARE_COLUMNS`` order (seconds for waits, a fraction for utilization)."""
    header = ["trace", "policy", "order", "predictor", "correction",
              *(plain for _, _, plain, _ in columns)]
    rows = [[str(s["trace"]), str(s["policy"]), str(s["order"]), str(s.get("predictor", "user")),
             str(s.get("correction", "limit")),
             *(_PLAIN_FORMATS[kind](s.get(key)) for key, _, _, kind in columns)]
            for s in summaries]
    return _columns(header, rows)


def plain_summary(summary: Summary) -> str:
    """One ``key value`` line per metric (``skipped.<reason>`` for each skip reason)."""
    lines = [(key, _PLAIN_FORMATS["text"](summary.get(key))) for key in
             ("trace", "policy", "order", "procs")]
    for key, _, kind in SUMMARY_ROWS:
        lines.append((key, _PLAIN_FORMATS[kind](summary.get(key))))
        if key == "skipped":
            lines += [(f"skipped.{reason}", str(n))
                      for reason, n in (summary.get("skipped_by_reason") or {}).items()]
    width = max(len(k) for k, _ in lines)
    return "".join(f"{k.ljust(width)}  {v}\n" for k, v in lines)


def plain_per_user(summaries: Sequence[Summary]) -> str:
    """The ``per_user`` rows of all ``summaries`` in one table, led by a policy column."""
    header = ["policy", *(key for key, _, _ in PER_USER_COLUMNS)]
    rows = [[str(s["policy"]),
             *(_PLAIN_FORMATS[kind](row.get(key)) for key, _, kind in PER_USER_COLUMNS)]
            for s in summaries for row in s.get("per_user") or []]
    return _columns(header, rows)


# --- output ----------------------------------------------------------------------------


def render(summaries: Sequence[Summary], file: IO[str] | None = None, *,
           compare: bool | None = None, rich: bool | None = None,
           columns=COMPARE_COLUMNS) -> None:
    """Write ``summaries`` to ``file`` (stdout by default).

    ``compare`` picks the comparison table (default: when there is more than one
    summary).  ``rich`` picks Rich tables over plain text (default: when ``file`` is a
    terminal).  Per-user tables follow for every summary that holds ``per_user``.
    """
    file = sys.stdout if file is None else file
    if compare is None:
        compare = len(summaries) > 1
    if rich is None:
        rich = file.isatty()
    with_users = [s for s in summaries if "per_user" in s]
    if not rich:
        parts = [plain_compare(summaries, columns)] if compare else [plain_summary(s) for s in summaries]
        if with_users:
            parts.append(plain_per_user(with_users))
        file.write("\n".join(parts))
        return
    console = Console(file=file)
    if compare:
        console.print(compare_table(summaries, columns))
    else:
        for s in summaries:
            console.print(summary_table(s))
    for s in with_users:
        console.print(per_user_table(s))


def render_json(summaries: Sequence[Summary], file: IO[str] | None = None, *,
                compare: bool, trace: str, procs: int, order: str) -> None:
    """Write one JSON object to ``file`` (stdout by default): the one summary, or with
    ``compare`` the workload (``trace``, ``procs``), the queue ``order`` and ``results``,
    one summary per configuration."""
    document: Any = summaries[0]
    if compare:
        document = {"trace": trace, "procs": procs, "order": order, "results": list(summaries)}
    (sys.stdout if file is None else file).write(json.dumps(document, indent=2, allow_nan=False) + "\n")


# --- plots -----------------------------------------------------------------------------


def plot_compare(summaries: Sequence[Summary], path: str | Path) -> Path:
    """Save side-by-side bar charts of average bounded slowdown and average wait per
    policy to ``path``; the suffix picks the format (``.png``, ``.pdf``, ``.svg``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not summaries:
        raise ValueError("nothing to plot: no results")
    path = Path(path)
    labels = [_label(s, summaries) for s in summaries]
    bsld = [s.get("avg_bsld") or 0.0 for s in summaries]
    waits = [s.get("avg_wait") or 0.0 for s in summaries]
    unit, scale = _wait_unit(max(waits))

    fig = Figure(figsize=(max(6.0, 1.6 * len(summaries) + 3), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    colors = [f"C{i}" for i in range(len(summaries))]
    for ax, values, ylabel, fmt in (
        (left, bsld, "average bounded slowdown", "{:.2f}"),
        (right, [w / scale for w in waits], f"average wait ({unit})", "{:.1f}"),
    ):
        bars = ax.bar(labels, values, color=colors)
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2)
        ax.set_ylabel(ylabel)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    fig.suptitle(_title(summaries))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path


def _wait_unit(seconds: float) -> tuple[str, float]:
    if seconds >= 2 * 3600:
        return "hours", 3600.0
    if seconds >= 120:
        return "minutes", 60.0
    return "seconds", 1.0
