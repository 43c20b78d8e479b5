"""Runtime predictors: what the scheduler plans with instead of the requested time.

Each predictor is a ``kairos.core.estimate.RuntimeEstimator``: asked once per job at its
submission (``estimate(job, now)``, in seconds) and told of every job that finishes
(``observe(job, now)``), so it can only learn from jobs that ended before it answers.  The
scheduler clamps the answer to ``[1 s, time_limit]``; a job is never killed for outliving
it.

``PREDICTORS`` names them:

* ``user`` - the requested time (the time limit): what Slurm plans with today;
* ``last2`` - Tsafrir, Etsion and Feitelson (2007): the mean of the user's last two
  finished runtimes, capped at the request;
* ``rf`` - Metastack's random forest (50 trees, depth 10, on user, partition, queue and the
  request), refit on the last 90 days of finished jobs;
* ``ml`` - Kairos's own: LightGBM on online features of the request, the calendar and the
  user's recent history, refit on a sliding window of finished jobs;
* ``mlq`` - the same model planned at a quantile of its own recent errors (``MLQ``)
  rather than at its point answer scaled down;
* ``oracle`` - the true runtime, from the workload (a bound for replays, never real).

``make_predictor(name, workload=..., **options)`` builds one; ``kairos.predict.model_io``
trains one from a trace and saves or loads it.
"""

from __future__ import annotations

from collections.abc import Callable

from kairos.predict.baselines import LastTwo, Oracle, UserEstimate

__all__ = ["MLQ", "PREDICTORS", "make_predictor"]


def _rf(**options):
    from kairos.predict.forest import ForestPredictor

    return ForestPredictor(**options)


def _ml(**options):
    from kairos.predict.learned import LearnedPredictor

    return LearnedPredictor(**options)


#: What ``mlq`` changes in ml's defaults: plan at the 35% quantile of the runtime (the
#: model's answer plus the 35% quantile of its recent errors), unscaled.  Of 25%-45%,
#: 35% had the lowest mean average bounded slowdown over the five traces under plain
#: EASY (a replay is noisy: neighbouring quantiles move single traces by 10%).
MLQ: dict = {"quantile": 0.35, "scale": 1.0}


def _mlq(**options):
    from kairos.predict.learned import LearnedPredictor

    p = LearnedPredictor(**{**MLQ, **options})
    p.name = "mlq"
    return p


def _oracle(workload=None, **options):
    runtimes = getattr(workload, "runtimes", None)
    if runtimes is None:
        raise ValueError("the 'oracle' predictor needs the true runtimes: "
                         "make_predictor('oracle', workload=W) with a Workload W")
    return Oracle(runtimes, **options)


#: name -> (factory, one-line description).  Factories take the options as keywords;
#: those that need the workload (``oracle``) take it as ``workload=``.
PREDICTORS: dict[str, tuple[Callable, str]] = {
    "user": (UserEstimate, "the requested time (time limit), as Slurm plans today"),
    "last2": (LastTwo, "mean of the user's last two finished runtimes (Tsafrir et al. 2007)"),
    "rf": (_rf, "Metastack's random forest on the request, refit on the last 90 days"),
    "ml": (_ml, "LightGBM on online request and history features, refit on recent jobs"),
    "mlq": (_mlq, "ml planned at a quantile of its own recent errors"),
    "oracle": (_oracle, "the true runtime (reference bound for replays only)"),
}

_NEEDS_WORKLOAD = {"oracle"}


def make_predictor(name: str, *, workload=None, **options):
    """A new predictor called ``name`` (one of ``PREDICTORS``) with ``options``.

    ``workload`` is needed by ``oracle`` (its ``runtimes``); others ignore it.  Raises
    ``ValueError`` for an unknown name, an unknown option, or an oracle without runtimes.
    """
    entry = PREDICTORS.get(name)
    if entry is None:
        raise ValueError(f"unknown predictor {name!r} (known: {', '.join(PREDICTORS)})")
    factory = entry[0]
    if name in _NEEDS_WORKLOAD:
        return factory(workload=workload, **options)
    try:
        return factory(**options)
    except TypeError as e:
        raise ValueError(f"predictor {name!r}: {e}") from None
