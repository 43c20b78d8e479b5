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
   estimates, with what last2, rf and ml give in that same configuration;
4. plain EASY with ml's uncertainty (``UNCERTAINTY``): ml with the ``remaining``
   correction, and ``mlq`` (ml planned at a quantile of its own errors) with each;
5. ``guarded`` backfilling (EASY++ plus requested-time promises for jobs that have
   waited too long, ``kairos.core.policy.guarded``) with user, last2 and ml, and at
   neighbouring settings (``GUARDED_VARIANTS``), against EASY, EASY++ and aged;
6. ``--auto`` (``kairos.sim.tuning``): the self-tuner, which picks predictor, correction
   and backfill order from its own past as the replay goes, against EASY, EASY++ (last2,
   shortest-first), Metastack's random forest (rf with the metastack correction, queue
   order) and the best fixed configuration of the guarded table;
7. with ``--noise``, plain EASY with ml and ml-v1 at scales 0.84 and 0.86 besides 0.85,
   and mlq at quantiles 0.30 and 0.40 besides 0.35, to show how far one replay moves
   when a setting moves a little.

``ml-v1`` is ml with its previous settings (``VARIANTS``), kept as a reference column.

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

PREDICTORS = ("user", "last2", "rf", "ml-v1", "ml", "oracle")
#: Configurations of a registered predictor run under a name of their own (name ->
#: (predictor, options)): ``ml-v1`` is ml with the settings it had before its refits were
#: made cheaper (a window of 50,000 jobs, 100 trees at a learning rate of 0.1, 255 bins).
ML_V1 = {"window": 50_000, "trees": 100, "learning_rate": 0.1, "max_bin": 255, "period": 5_000}
#: Scales around ml's 0.85, and quantiles around mlq's 0.35, for the noise runs
#: (``--noise``): a replay is chaotic, so one run per trace says little; the mean over
#: neighbouring settings says more.
NOISE_SCALES = (0.84, 0.86)
NOISE_QUANTILES = (0.3, 0.4)
VARIANTS: dict[str, tuple[str, dict]] = {
    "ml-v1": ("ml", ML_V1),
    **{f"ml-v1@{x}": ("ml", {**ML_V1, "scale": x}) for x in NOISE_SCALES},
    **{f"ml@{x}": ("ml", {"scale": x}) for x in NOISE_SCALES},
    **{f"mlq@{x}": ("mlq", {"quantile": x}) for x in NOISE_QUANTILES},
}
#: predictor -> its runs at neighbouring settings, in order (itself in the middle).
NOISE: dict[str, tuple[str, ...]] = {
    "ml-v1": ("ml-v1@0.84", "ml-v1", "ml-v1@0.86"),
    "ml": ("ml@0.84", "ml", "ml@0.86"),
    "mlq": ("mlq@0.3", "mlq", "mlq@0.4"),
}
#: Plain EASY runs (with forecasts) of ml's uncertainty: (predictor, correction).
UNCERTAINTY = (("ml", "remaining"), ("mlq", "limit"), ("mlq", "remaining"))
CORRECTIONS = ("limit", "tsafrir", "metastack")
#: Backfill orders run with every predictor and correction besides plain EASY.
BACKFILL_GRID = ("shortest", "aged")
#: ``guarded`` runs (``limit`` correction): these predictors at the default settings ...
GUARDED_PREDICTORS = ("user", "last2", "ml")
#: ... and last2 and ml at neighbouring settings, by backfill order name ->
#: (slowdown_bound, wait_cap in hours): a replay is chaotic, so the defaults are shown
#: beside their neighbours.
GUARDED_VARIANTS = {"guarded@48h": (10.0, 48.0), "guarded@72h": (10.0, 72.0),
                    "guarded@S5": (5.0, 60.0), "guarded@S20": (20.0, 60.0)}
#: The target of the guarded table: this much lower average bounded slowdown than EASY
#: with user estimates, within ``MAX_WAIT_LIMIT``.
GUARDED_TARGET = 0.35
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


def _import_libraries() -> None:
    """Each worker imports LightGBM and scikit-learn before its first replay: about a
    second, once per process, which would otherwise count in the speed of whichever
    replay happened to come first (as trace parsing, it is not the replay's cost)."""
    import lightgbm  # noqa: F401
    import sklearn.ensemble  # noqa: F401


def run_one(path: str, limit: int | None, predictor: str, backfill_order: str, correction: str,
            forecast_every: int) -> dict:
    """One replay in a worker process; returns its summary."""
    import warnings

    from kairos.sim.metrics import summarize
    from kairos.sim.replay import replay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workload = _workload(path, limit)
    planner = None if predictor == "user" else predictor
    if predictor in VARIANTS:
        from kairos.predict import make_predictor

        name, options = VARIANTS[predictor]
        planner = make_predictor(name, workload=workload, **options)
    if predictor == "auto":
        from kairos.core import Cluster
        from kairos.sim.tuning import Tuner

        result = replay(workload, "easy", tuner=Tuner(lambda: Cluster.pool(workload.procs)),
                        forecast_every=forecast_every)
        s = summarize(result)
        s.update(predictor="auto", backfill_order="auto", correction="auto", limit=limit,
                 tuning=[{k: v for k, v in d.as_dict().items() if k != "trials"}
                         for d in result.tuning])  # the trials of each make the cache big
        return s
    scheduler = None
    if backfill_order in GUARDED_VARIANTS:
        from kairos.core import Cluster, Scheduler
        from kairos.core.policy import Guarded
        from kairos.predict import make_predictor

        bound, cap = GUARDED_VARIANTS[backfill_order]
        if isinstance(planner, str):
            planner = make_predictor(planner, workload=workload)
        scheduler = Scheduler(Cluster.pool(workload.procs),
                              Guarded(slowdown_bound=bound, wait_cap=cap * 3600),
                              estimator=planner, correct=correction)
    result = replay(workload, "easy", predictor=planner,
                    backfill_order=backfill_order, correction=correction,
                    forecast_every=forecast_every, scheduler=scheduler)
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
    out.append("| trace | jobs | " + " | ".join(PREDICTORS) + " | gap closed by ml-v1 | by ml |")
    out.append("|---|---:|" + "---:|" * len(PREDICTORS) + "---:|---:|")
    for t in traces:
        row = [by.get((t, p, "queue", "limit")) for p in PREDICTORS]
        if row[0] is None:
            continue
        vals = {p: (r["avg_bsld"] if r else None) for p, r in zip(PREDICTORS, row)}
        out.append(f"| {t} | {row[0]['jobs']:,} | " + " | ".join(fmt(vals[p]) for p in PREDICTORS)
                   + f" | {gap_closed(vals, 'ml-v1')} | {gap_closed(vals, 'ml')} |")
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
    out += forecast_table(by, traces)
    out += uncertainty_table(by, traces)
    out += noise_table(by, traces)
    for order in BACKFILL_GRID:
        out += order_table(by, traces, order)
    out += max_wait_table(by, traces)
    out += guarded_table(by, traces)
    out += within_limit_table(results, by, traces)
    out += auto_table(by, traces)
    out += cost_table(by, traces)
    return "\n".join(out) + "\n"


def gap_closed(vals: dict, p: str) -> str:
    """(user - p) / (user - oracle) in average bounded slowdown, as a percentage; "-"
    where a value is missing or the oracle does not beat user estimates."""
    user, oracle, mine = vals.get("user"), vals.get("oracle"), vals.get(p)
    if None in (user, oracle, mine) or oracle >= user:
        return "-"
    return f"{100 * (user - mine) / (user - oracle):.0f}%"


def uncertainty_table(by: dict, traces: list[str]) -> list[str]:
    """Plain EASY with ml's error quantiles: the ``remaining`` correction and ``mlq``."""
    configs = [("ml", "limit")] + list(UNCERTAINTY)
    names = [p if c == "limit" else f"{p}+{c}" for p, c in configs]
    out = ["\n### Plain EASY with ml's uncertainty: average bounded slowdown (maximum wait over "
           "EASY user's), gap closed, jobs/s\n"]
    out.append("| trace | user | " + " | ".join(names) + " | oracle | gap closed: "
               + " / ".join(names) + " | jobs/s: " + " / ".join(names) + " |")
    out.append("|---|---:|" + "---:|" * len(names) + "---:|---:|---:|")
    for t in traces:
        user, oracle = by.get((t, "user", "queue", "limit")), by.get((t, "oracle", "queue", "limit"))
        runs = [by.get((t, p, "queue", c)) for p, c in configs]
        if user is None or all(r is None for r in runs):
            continue
        vals = {"user": user["avg_bsld"], "oracle": oracle["avg_bsld"] if oracle else None}
        vals.update({n: r["avg_bsld"] if r else None for n, r in zip(names, runs)})

        def cell(r):
            if r is None:
                return "-"
            if not user["max_wait"]:
                return fmt(r["avg_bsld"])
            return f"{fmt(r['avg_bsld'])} ({r['max_wait'] / user['max_wait']:.2f}x)"

        out.append(f"| {t} | {fmt(user['avg_bsld'])} | " + " | ".join(cell(r) for r in runs)
                   + f" | {fmt(vals['oracle'])} | " + " / ".join(gap_closed(vals, n) for n in names)
                   + " | " + " / ".join(fmt(r["jobs_per_second"], 0) if r else "-" for r in runs) + " |")
    return out


def noise_table(by: dict, traces: list[str]) -> list[str]:
    """ml-v1, ml and mlq under plain EASY at neighbouring settings (``NOISE``), and the
    mean of each."""
    names = tuple(NOISE)
    out = ["\n### Noise: plain EASY average bounded slowdown at neighbouring settings "
           "(`ml-v1`, `ml`: scale 0.84 / 0.85 / 0.86; `mlq`: quantile 0.30 / 0.35 / 0.40), "
           "their mean, and the gap the mean closes\n"]
    out.append("| trace | user | oracle | " + " | ".join(f"{n} | {n} mean | {n} gap" for n in names) + " |")
    out.append("|---|---:|---:|" + "---:|---:|---:|" * len(names))
    for t in traces:
        user, oracle = by.get((t, "user", "queue", "limit")), by.get((t, "oracle", "queue", "limit"))
        if user is None or oracle is None:
            continue
        cells = []
        for n in names:
            runs = [by.get((t, v, "queue", "limit")) for v in NOISE[n]]
            if any(r is None for r in runs):
                cells += ["-", "-", "-"]
                continue
            mean = sum(r["avg_bsld"] for r in runs) / len(runs)
            vals = {"user": user["avg_bsld"], "oracle": oracle["avg_bsld"], n: mean}
            cells += [" / ".join(fmt(r["avg_bsld"]) for r in runs), fmt(mean), gap_closed(vals, n)]
        if any(c != "-" for c in cells):
            out.append(f"| {t} | {fmt(user['avg_bsld'])} | {fmt(oracle['avg_bsld'])} | " + " | ".join(cells) + " |")
    return out


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


def against_easy(r: dict | None, base: dict) -> str:
    """A run's average bounded slowdown, its change against EASY with user estimates
    (``base``) and its maximum wait over EASY's; "-" for a run not made."""
    if r is None:
        return "-"
    return (f"{fmt(r['avg_bsld'])} ({100 * (r['avg_bsld'] / base['avg_bsld'] - 1):+.0f}%, "
            f"{r['max_wait'] / base['max_wait']:.2f}x)")


def guarded_table(by: dict, traces: list[str]) -> list[str]:
    """``guarded`` against EASY, EASY++ and aged: average bounded slowdown (change
    against EASY with user estimates, maximum wait over EASY user's), and the same at
    neighbouring settings."""
    cols = [("EASY++ last2", "last2", "shortest"), ("EASY++ ml", "ml", "shortest"),
            ("aged last2", "last2", "aged"), ("aged ml", "ml", "aged")]
    cols += [(f"guarded {p}", p, "guarded") for p in GUARDED_PREDICTORS]
    variants = list(GUARDED_VARIANTS)
    out = ["\n### Guarded backfilling: average bounded slowdown (change against EASY with user "
           "estimates, maximum wait over EASY user's), `limit` correction\n"]
    out.append(f"\"target\": `guarded` with ml at least {100 * GUARDED_TARGET:.0f}% lower with a maximum "
               f"wait within {MAX_WAIT_LIMIT}x. The last columns rerun `guarded` with ml and last2 "
               "at neighbouring settings: " + ", ".join(
                   f"`{v}` = bound {b:g}, cap {c:g} h" for v, (b, c) in GUARDED_VARIANTS.items())
               + " (default: bound 10, cap 60 h).\n")
    out.append("| trace | EASY user | " + " | ".join(c[0] for c in cols) + " | target | "
               + " | ".join(f"ml {v} / last2 {v}" for v in variants) + " |")
    out.append("|---|---:|" + "---|" * len(cols) + "---|" + "---|" * len(variants))
    for t in traces:
        base = by.get((t, "user", "queue", "limit"))
        if base is None or not base["max_wait"] or not any(
                by.get((t, p, "guarded", "limit")) for p in GUARDED_PREDICTORS):
            continue

        def cell(r, base=base):
            return against_easy(r, base)

        cells = [cell(by.get((t, p, o, "limit"))) for _, p, o in cols]
        ml = by.get((t, "ml", "guarded", "limit"))
        met = "-" if ml is None else "met" if (
            ml["avg_bsld"] <= (1 - GUARDED_TARGET) * base["avg_bsld"]
            and ml["max_wait"] <= MAX_WAIT_LIMIT * base["max_wait"]) else "missed"
        noise = [f"{cell(by.get((t, 'ml', v, 'limit')))} / {cell(by.get((t, 'last2', v, 'limit')))}"
                 for v in variants]
        out.append(f"| {t} | {fmt(base['avg_bsld'])} | " + " | ".join(cells) + f" | {met} | "
                   + " | ".join(noise) + " |")
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

        def cell(r, base=base):
            return against_easy(r, base)

        ok = [r for r in results if r["trace"] == t and r["predictor"] not in ("oracle", "auto")
              and r["backfill_order"] not in GUARDED_VARIANTS  # neighbours, not configurations
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


#: The self-tuner's targets: this much lower average bounded slowdown than EASY with user
#: estimates, within ``MAX_WAIT_LIMIT``, and lower than EASY++ and Metastack's forest.
AUTO_TARGET = 0.35
#: What ``--auto`` is measured against: name -> (predictor, backfill order, correction).
AUTO_RIVALS = {"EASY++ last2": ("last2", "shortest", "limit"),
               "Metastack rf": ("rf", "queue", "metastack"),
               "guarded ml": ("ml", "guarded", "limit")}


def auto_table(by: dict, traces: list[str]) -> list[str]:
    """The self-tuner against EASY, EASY++, Metastack's forest and guarded ml; its target,
    its tunings and switches, and its speed (training and what-if replays included)."""
    out = [f"\n### Self-tuning (`--auto`): average bounded slowdown (change against EASY with "
           "user estimates, maximum wait over EASY user's)\n"]
    out.append(f"\"target\": at least {100 * AUTO_TARGET:.0f}% lower than EASY user, maximum wait "
               f"within {MAX_WAIT_LIMIT}x, and lower than EASY++ and Metastack's forest. "
               "\"tunings\": what-ifs decided on / switches made. jobs/s: end to end, with "
               "the predictors' training and every what-if replay, no forecasts.\n")
    out.append("| trace | EASY user | " + " | ".join(AUTO_RIVALS) + " | auto | target | tunings | "
               "auto jobs/s |")
    out.append("|---|---:|" + "---|" * len(AUTO_RIVALS) + "---|---|---:|---:|")
    for t in traces:
        base, auto = by.get((t, "user", "queue", "limit")), by.get((t, "auto", "auto", "auto"))
        if base is None or auto is None or not base["max_wait"]:
            continue

        def cell(r, base=base):
            return against_easy(r, base)

        rivals = {name: by.get((t, *cfg)) for name, cfg in AUTO_RIVALS.items()}
        beaten = all(r is not None and auto["avg_bsld"] < r["avg_bsld"]
                     for name, r in rivals.items() if name != "guarded ml")
        met = (auto["avg_bsld"] <= (1 - AUTO_TARGET) * base["avg_bsld"]
               and auto["max_wait"] <= MAX_WAIT_LIMIT * base["max_wait"] and beaten)
        tunings = auto.get("tuning") or []
        out.append(f"| {t} | {fmt(base['avg_bsld'])} | "
                   + " | ".join(cell(r) for r in rivals.values())
                   + f" | {cell(auto)} | {'met' if met else 'missed'} | {len(tunings)} / "
                   f"{sum(d['applied'] for d in tunings)} | {fmt(auto['jobs_per_second'], 0)} |")
    return out


#: The forecasts' target: this share of jobs forecast within 10% of their wait or 1 min.
FORECAST_TARGET = 0.70


def forecast_table(by: dict, traces: list[str]) -> list[str]:
    """Start-time forecasts at submission under plain EASY: the share within 10% of the
    job's wait or 1 min, and the median / 90th percentile error, per predictor (``user``
    is what Slurm's ``squeue --start`` does: plan with requested times)."""
    out = ["\n### Start-time forecasts under plain EASY: share of jobs forecast within 10% of "
           "their wait or 1 min (median / 90th percentile error, hours)\n"]
    out.append(f"Every 50th job is forecast at its submission; target: {100 * FORECAST_TARGET:.0f}%. "
               "`user` is the Slurm-style forecast (requested times).\n")
    out.append("| trace | " + " | ".join(PREDICTORS) + " |")
    out.append("|---|" + "---|" * len(PREDICTORS))
    for t in traces:
        cells = []
        for p in PREDICTORS:
            r = by.get((t, p, "queue", "limit")) or {}
            share = r.get("forecast_within")
            cells.append("-" if share is None else
                         f"{100 * share:.0f}% ({r['forecast_p50_error'] / 3600:.2f} / "
                         f"{r['forecast_p90_error'] / 3600:.2f})")
        if any(c != "-" for c in cells):
            out.append(f"| {t} | " + " | ".join(cells) + " |")
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
    parser.add_argument("--predictors", default=None,
                        help="run only these predictors (comma-separated; the tables show "
                             "every cached one)")
    parser.add_argument("--skip-guarded", action="store_true",
                        help="no runs of guarded backfilling")
    parser.add_argument("--skip-uncertainty", action="store_true",
                        help="no runs of ml's uncertainty (the UNCERTAINTY configurations)")
    parser.add_argument("--skip-auto", action="store_true",
                        help="no runs of the self-tuner (nor of Metastack's forest, its rival)")
    parser.add_argument("--noise", action="store_true",
                        help="also run the NOISE settings (plain EASY, no forecasts)")
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
        only = None if args.predictors is None else {p.strip() for p in args.predictors.split(",")}
        for w, path in paths.items():
            for p in PREDICTORS:
                if only is not None and p not in only:
                    continue
                tasks.append((path, args.limit, p, "queue", "limit", args.forecast_every))
                if not args.skip_shortest:
                    for order in BACKFILL_GRID:
                        for c in (CORRECTIONS if p != "oracle" else ("limit",)):
                            tasks.append((path, args.limit, p, order, c, 0))
            if not args.skip_guarded:
                for p in GUARDED_PREDICTORS:
                    if only is None or p in only:
                        tasks.append((path, args.limit, p, "guarded", "limit", 0))
                for v in GUARDED_VARIANTS:
                    for p in ("ml", "last2"):
                        if only is None or p in only:
                            tasks.append((path, args.limit, p, v, "limit", 0))
            if not args.skip_uncertainty:
                for p, c in UNCERTAINTY:
                    if only is None or p in only:
                        tasks.append((path, args.limit, p, "queue", c, args.forecast_every))
            if not args.skip_auto:
                if only is None or "auto" in only:
                    tasks.append((path, args.limit, "auto", "auto", "auto", 0))
                if only is None or "rf" in only:
                    tasks.append((path, args.limit, "rf", "queue", "metastack", 0))
            if args.noise:
                for n, runs in NOISE.items():
                    for v in runs:
                        if v != n and (only is None or n in only):
                            tasks.append((path, args.limit, v, "queue", "limit", 0))
        # Names in the results are trace names (file stems), not the short names.
        from kairos.sim.workload import trace_name

        todo = [t for t in tasks if (trace_name(t[0]), t[2], t[3], t[4], t[1]) not in done]
        todo.sort(key=lambda t: (t[2] not in ("rf", "ml-v1"), -os.path.getsize(t[0])))  # slow ones first
        print(f"{len(todo)} replays to run ({len(tasks) - len(todo)} cached)", file=sys.stderr)
        began = time.time()
        with ProcessPoolExecutor(max_workers=args.workers, initializer=_import_libraries) as pool:
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
