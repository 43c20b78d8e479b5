"""Prediction quality: what each runtime predictor does to an EASY schedule, per trace.

    python benchmarks/prediction_quality.py                       # every trace with requested times
    python benchmarks/prediction_quality.py --traces KTH-SP2 --limit 20000
    python benchmarks/prediction_quality.py --markdown docs/prediction.md   # also write the tables

Runs, on each trace in $KAIROS_TRACES (or ../shared/traces) whose jobs carry requested
times (SWF field 9):

1. plain EASY (queue-order backfilling, "limit" correction) with each predictor
   user / last2 / rf / ml / oracle: average bounded slowdown, average and maximum wait,
   estimate accuracy, start-time forecast error (every ``--forecast-every``-th job);
2. every predictor with shortest-first backfilling and each correction (limit, tsafrir,
   metastack): the best configuration against EASY with user estimates, and its maximum
   wait (starvation shows there);
3. the same with the ``aged`` backfill order (largest expected slowdown first; the
   reserved job protected with requested times once it has waited 8 h), and the best
   configuration of all whose maximum wait stays within 1.5x of EASY with user
   estimates, with what last2, rf and ml give in that same configuration.

Replays run in parallel processes; results are cached in ``--cache`` so tables can be
re-rendered without re-running (``--render-only``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

PREDICTORS = ("user", "last2", "rf", "ml", "oracle")
CORRECTIONS = ("limit", "tsafrir", "metastack")
#: Backfill orders run with every predictor and correction besides plain EASY.
BACKFILL_GRID = ("shortest", "aged")
#: Starvation limit: a configuration's maximum wait over EASY-with-user-estimates'.
MAX_WAIT_LIMIT = 1.5
#: Target: the best configuration within the limit lowers average bounded slowdown by this.
TARGET_GAIN = 0.25
#: Traces whose requested times are (nearly) complete; see shared traces README.
DEFAULT_TRACES = ("KTH-SP2", "SDSC-SP2", "CTC-SP2", "HPC2N", "SDSC-BLUE", "LLNL-Thunder")

_WORKLOADS: dict = {}


def _workload(path: str, limit: int | None):
    from kairos.sim.workload import load_trace

    key = (path, limit)
    if key not in _WORKLOADS:
        _WORKLOADS[key] = load_trace(path, limit=limit)
    return _WORKLOADS[key]


def run_one(path: str, limit: int | None, predictor: str, backfill_order: str, correction: str,
            forecast_every: int) -> dict:
    """One replay in a worker process; returns its summary."""
    import warnings

    from kairos.sim.metrics import summarize
    from kairos.sim.replay import replay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workload = _workload(path, limit)
    result = replay(workload, "easy", predictor=None if predictor == "user" else predictor,
                    backfill_order=backfill_order, correction=correction,
                    forecast_every=forecast_every)
    s = summarize(result)
    s.update(predictor=predictor, backfill_order=backfill_order, correction=correction, limit=limit)
    return s


def key(s: dict) -> tuple:
    return (s["trace"], s["predictor"], s["backfill_order"], s["correction"])


def fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def render(results: list[dict], traces: list[str]) -> str:
    """The tables, as Markdown."""
    by = {key(s): s for s in results}
    out = []
    out.append("### Plain EASY, average bounded slowdown (queue-order backfilling, `limit` correction)\n")
    out.append("| trace | jobs | " + " | ".join(PREDICTORS) + " | gap closed by ml |")
    out.append("|---|---:|" + "---:|" * len(PREDICTORS) + "---:|")
    for t in traces:
        row = [by.get((t, p, "queue", "limit")) for p in PREDICTORS]
        if row[0] is None:
            continue
        vals = {p: (r["avg_bsld"] if r else None) for p, r in zip(PREDICTORS, row)}
        gap = None
        if None not in (vals["user"], vals["ml"], vals["oracle"]) and vals["user"] != vals["oracle"]:
            gap = (vals["user"] - vals["ml"]) / (vals["user"] - vals["oracle"])
        out.append(f"| {t} | {row[0]['jobs']:,} | " + " | ".join(fmt(vals[p]) for p in PREDICTORS)
                   + f" | {'-' if gap is None else f'{100 * gap:.0f}%'} |")
    out.append("\n### Plain EASY, average wait (hours) and start-time forecast error (hours: median / 90th percentile)\n")
    out.append("| trace | " + " | ".join(f"{p} wait | {p} forecast" for p in PREDICTORS) + " |")
    out.append("|---|" + "---:|---:|" * len(PREDICTORS))
    for t in traces:
        cells = []
        for p in PREDICTORS:
            r = by.get((t, p, "queue", "limit"))
            if r is None:
                cells += ["-", "-"]
                continue
            f50, f90 = r.get("forecast_p50_error"), r.get("forecast_p90_error")
            cells += [fmt(r["avg_wait"] / 3600, 2),
                      "-" if f50 is None else f"{f50 / 3600:.2f} / {f90 / 3600:.2f}"]
        if any(c != "-" for c in cells):
            out.append(f"| {t} | " + " | ".join(cells) + " |")
    out.append("\n### Estimate accuracy under plain EASY (mean absolute error in hours, share under-estimated, mean predicted/actual)\n")
    out.append("| trace | " + " | ".join(PREDICTORS[:-1]) + " |")
    out.append("|---|" + "---:|" * (len(PREDICTORS) - 1))
    for t in traces:
        cells = []
        for p in PREDICTORS[:-1]:
            r = by.get((t, p, "queue", "limit"))
            cells.append("-" if r is None else
                         f"{r['pred_mae'] / 3600:.2f} h, {100 * r['pred_under']:.0f}%, {r['pred_ratio']:.1f}x")
        if any(c != "-" for c in cells):
            out.append(f"| {t} | " + " | ".join(cells) + " |")
    for order in BACKFILL_GRID:
        out += order_table(by, traces, order)
    out += max_wait_table(by, traces)
    out += within_limit_table(results, by, traces)
    out += cost_table(by, traces)
    return "\n".join(out) + "\n"


ORDER_TITLES = {
    "shortest": "Shortest-first backfilling",
    "aged": "Aged backfilling (largest expected slowdown first, reserved job protected after 8 h)",
}


def order_table(by: dict, traces: list[str], order: str) -> list[str]:
    """Average bounded slowdown per predictor and correction under one backfill order,
    and the configuration with the best average (whatever its maximum wait)."""
    out = []
    out.append(f"\n### {ORDER_TITLES[order]}: average bounded slowdown per predictor and correction; best configuration\n")
    out.append("| trace | EASY user | " + " | ".join(f"{p}+{c}" for p in PREDICTORS[:-1] for c in CORRECTIONS)
               + " | oracle | best Kairos | vs EASY user | its max wait / EASY user's |")
    out.append("|---|---:|" + "---:|" * (3 * (len(PREDICTORS) - 1) + 1) + "---|---:|---:|")
    for t in traces:
        base = by.get((t, "user", "queue", "limit"))
        if base is None:
            continue
        cells, best = [], None
        for p in PREDICTORS[:-1]:
            for c in CORRECTIONS:
                r = by.get((t, p, order, c))
                cells.append(fmt(r["avg_bsld"]) if r else "-")
                if r and (best is None or r["avg_bsld"] < best["avg_bsld"]):
                    best = r
        oracle = by.get((t, "oracle", order, "limit"))
        cells.append(fmt(oracle["avg_bsld"]) if oracle else "-")
        if best is None:
            continue
        gain = 1 - best["avg_bsld"] / base["avg_bsld"]
        ratio = best["max_wait"] / base["max_wait"] if base["max_wait"] else None
        out.append(f"| {t} | {fmt(base['avg_bsld'])} | " + " | ".join(cells)
                   + f" | {best['predictor']}+{best['correction']}+{order} | {-100 * gain:+.0f}% | {fmt(ratio, 2)} |")
    return out


def max_wait_table(by: dict, traces: list[str]) -> list[str]:
    """Starvation at a glance: maximum wait over EASY-with-user-estimates' for each
    predictor with the ``limit`` correction, under each backfill order."""
    orders = ("queue",) + BACKFILL_GRID
    predictors = PREDICTORS[1:]
    out = [f"\n### Maximum wait over EASY with user estimates (`limit` correction): {' / '.join(orders)} backfilling\n"]
    out.append("| trace | " + " | ".join(predictors) + " |")
    out.append("|---|" + "---:|" * len(predictors))
    for t in traces:
        base = by.get((t, "user", "queue", "limit"))
        if base is None or not base["max_wait"]:
            continue
        cells = []
        for p in predictors:
            runs = [by.get((t, p, o, "limit")) for o in orders]
            cells.append(" / ".join("-" if r is None else f"{r['max_wait'] / base['max_wait']:.2f}" for r in runs))
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    return out


def config_name(r: dict) -> str:
    return f"{r['predictor']}+{r['correction']}+{r['backfill_order']}"


def within_limit_table(results: list[dict], by: dict, traces: list[str]) -> list[str]:
    """Per trace: the best configuration whose maximum wait stays within the limit, and
    what last2, rf and ml give in that same correction and backfill order."""
    out = []
    out.append(f"\n### Best configuration whose maximum wait stays within {MAX_WAIT_LIMIT}x of EASY with user estimates\n")
    out.append("Each cell: average bounded slowdown (change against EASY with user estimates, "
               "maximum wait over EASY user's). The last three columns hold the best "
               "configuration's correction and backfill order and change the predictor; "
               f"\"target\": at least {100 * TARGET_GAIN:.0f}% lower within the limit; \"ml first\": "
               "ml has the lowest average of the three there, within the limit.\n")
    out.append("| trace | EASY user | best within the limit | result | target | best with ml within the limit | result "
               "| same config, last2 | same config, rf | same config, ml | ml first |")
    out.append("|---|---:|---|---|---|---|---|---|---|---|---|")
    for t in traces:
        base = by.get((t, "user", "queue", "limit"))
        if base is None or not base["max_wait"]:
            continue

        def cell(r):
            if r is None:
                return "-"
            return (f"{fmt(r['avg_bsld'])} ({100 * (r['avg_bsld'] / base['avg_bsld'] - 1):+.0f}%, "
                    f"{r['max_wait'] / base['max_wait']:.2f}x)")

        ok = [r for r in results if r["trace"] == t and r["predictor"] != "oracle"
              and r["max_wait"] <= MAX_WAIT_LIMIT * base["max_wait"]]
        if not ok:
            continue
        best = min(ok, key=lambda r: r["avg_bsld"])
        mls = [r for r in ok if r["predictor"] == "ml"]
        ml = min(mls, key=lambda r: r["avg_bsld"]) if mls else None
        same = {p: by.get((t, p, best["backfill_order"], best["correction"])) for p in ("last2", "rf", "ml")}
        met = best["avg_bsld"] <= (1 - TARGET_GAIN) * base["avg_bsld"]
        ml_first = "-"
        if None not in same.values():
            lowest = same["ml"]["avg_bsld"] <= min(same["last2"]["avg_bsld"], same["rf"]["avg_bsld"])
            starves = same["ml"]["max_wait"] > MAX_WAIT_LIMIT * base["max_wait"]
            ml_first = "no" if not lowest else "lowest, but starves" if starves else "yes"
        out.append(f"| {t} | {fmt(base['avg_bsld'])} | {config_name(best)} | {cell(best)} | "
                   f"{'met' if met else 'missed'} | {config_name(ml) if ml else '-'} | {cell(ml)} | "
                   + " | ".join(cell(r) for r in same.values()) + f" | {ml_first} |")
    return out


def cost_table(by: dict, traces: list[str]) -> list[str]:
    out = []
    out.append("\n### Cost: replay speed with each predictor (jobs/s, plain EASY, forecasts included)\n")
    out.append("| trace | " + " | ".join(PREDICTORS) + " |")
    out.append("|---|" + "---:|" * len(PREDICTORS))
    for t in traces:
        cells = [fmt((by.get((t, p, "queue", "limit")) or {}).get("jobs_per_second"), 0) for p in PREDICTORS]
        if any(c != "-" for c in cells):
            out.append(f"| {t} | " + " | ".join(cells) + " |")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", default=",".join(DEFAULT_TRACES))
    parser.add_argument("--folder", default=os.environ.get("KAIROS_TRACES", str(REPO.parent / "shared" / "traces")))
    parser.add_argument("--limit", type=int, default=None, help="only the first N jobs of each trace")
    parser.add_argument("--forecast-every", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cache", default=str(REPO / "benchmarks" / "results" / "prediction_quality.json"))
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--markdown", help="also write the tables to this Markdown file (between markers)")
    parser.add_argument("--skip-shortest", action="store_true",
                        help="only the plain EASY runs (no shortest-first or aged backfilling)")
    args = parser.parse_args()

    from kairos.sim.workload import find_traces

    wanted = [w.strip() for w in args.traces.split(",") if w.strip()]
    paths = {}
    for w in wanted:
        match = [p for p in find_traces(args.folder) if p.name.lower().startswith(w.lower())]
        if match:
            paths[w] = str(match[0])
        else:
            print(f"skip {w}: not in {args.folder}", file=sys.stderr)
    cache = Path(args.cache)
    results = json.loads(cache.read_text()) if cache.exists() else []
    done = {key(s) + (s.get("limit"),) for s in results}

    if not args.render_only:
        tasks = []
        for w, path in paths.items():
            for p in PREDICTORS:
                tasks.append((path, args.limit, p, "queue", "limit", args.forecast_every))
                if not args.skip_shortest:
                    for order in BACKFILL_GRID:
                        for c in (CORRECTIONS if p != "oracle" else ("limit",)):
                            tasks.append((path, args.limit, p, order, c, 0))
        # Names in the results are trace names (file stems), not the short names.
        from kairos.sim.workload import trace_name

        todo = [t for t in tasks if (trace_name(t[0]), t[2], t[3], t[4], t[1]) not in done]
        todo.sort(key=lambda t: (t[2] not in ("rf", "ml"), -os.path.getsize(t[0])))  # slow ones first
        print(f"{len(todo)} replays to run ({len(tasks) - len(todo)} cached)", file=sys.stderr)
        began = time.time()
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            futures = {pool.submit(run_one, *t): t for t in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                s = fut.result()
                results = [r for r in results if key(r) + (r.get("limit"),) != key(s) + (s.get("limit"),)]
                results.append(s)
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(results, indent=1))
                print(f"[{i}/{len(todo)} {time.time() - began:.0f}s] {s['trace']} {s['predictor']} "
                      f"{s['backfill_order']} {s['correction']}: avg bsld {s['avg_bsld']:.1f}, "
                      f"{s['jobs_per_second']:.0f} jobs/s", file=sys.stderr)

    names = []
    for s in results:
        if s["trace"] not in names and (args.limit is None or s.get("limit") == args.limit):
            names.append(s["trace"])
    order = {w.lower(): i for i, w in enumerate(wanted)}
    names.sort(key=lambda n: next((i for w, i in order.items() if n.lower().startswith(w)), 99))
    selected = [s for s in results if s.get("limit") == args.limit]
    text = render(selected, names)
    print(text)
    if args.markdown:
        path = Path(args.markdown)
        doc = path.read_text() if path.exists() else "<!-- prediction-tables -->\n<!-- /prediction-tables -->\n"
        start, end = "<!-- prediction-tables -->", "<!-- /prediction-tables -->"
        if start in doc and end in doc:
            doc = doc[:doc.index(start) + len(start)] + "\n" + text + doc[doc.index(end):]
        else:
            doc += f"\n{start}\n{text}{end}\n"
        path.write_text(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
