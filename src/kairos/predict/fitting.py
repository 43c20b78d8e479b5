"""Where a learned predictor's refits run.

A refit is three steps.  The predictor takes what it learns from (``training_set()``,
on the caller's thread: a copy, or views its window never writes again, as its window
goes on changing as jobs end); a model is trained on that (``train(rows)``, which reads
nothing else of the predictor and may run on any thread); and the predictor answers
with the model from then on (``install(model)``).

The twin, ``kairos predict`` and a controller's start run the three at once
(``fit_now``, every predictor's default ``fitter``), so that a replay is the same on
every run.  A live controller hands the training to a worker thread
(``kairos.server.training``): a refit on tens of thousands of jobs takes from a tenth of
a second (ml) to seconds (rf), time the loop that schedules and answers requests would
otherwise stand still, and the old model answers until the new one is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

__all__ = ["Learner", "fit_now", "learners"]


class Learner(Protocol):
    """A predictor that refits (``ml``, ``mlq``, ``rf``)."""

    #: called with (the predictor, its training set) when a refit falls due
    fitter: object

    def training_set(self): ...

    def train(self, rows): ...

    def install(self, model) -> None: ...

    def prepare(self) -> None:
        """Import what fits need (seconds for LightGBM or scikit-learn), so that the
        first refit of a live controller does not."""


def fit_now(predictor: Learner, rows) -> None:
    """Train on ``rows`` and answer with the model, on the caller's thread."""
    predictor.install(predictor.train(rows))


def learners(estimator) -> Iterator[Learner]:
    """The predictors that refit in what a scheduler plans with: ``estimator`` itself, or
    the members of a ``PredictorPanel``."""
    members = getattr(estimator, "members", None)
    for member in (members.values() if members is not None else [estimator]):
        if hasattr(member, "train") and hasattr(member, "fitter"):
            yield member
