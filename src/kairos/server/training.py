"""A live controller's predictor refits, trained on a worker thread.

The controller's loop schedules, records and answers every request; a refit on it stood
the loop still for as long as the training took (ml on 20,000 jobs: a tenth of a second
or more; rf on 90 days of jobs: seconds).  ``BackgroundFits`` is the ``fitter`` of the
controller's learned predictors while it runs (``kairos.predict.fitting``): the loop
copies the training set, one worker thread trains (LightGBM and scikit-learn leave
Python's lock while they build trees), and the new model is installed back on the loop,
between two rounds.  Until then the previous model answers.  Refits are trained one at a
time, in the order they fell due, so a newer model is never replaced by an older one.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from kairos.predict.fitting import fit_now, learners

__all__ = ["BackgroundFits"]

log = logging.getLogger("kairos.controller")


class BackgroundFits:
    """The fitter of ``estimator``'s learned predictors until ``close()``."""

    def __init__(self, estimator, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.predictors = list(learners(estimator))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kairos-fit")
        self._closed = False
        #: refits handed to the worker and not yet installed (tests wait on it)
        self.in_flight = 0
        for predictor in self.predictors:
            predictor.fitter = self

    def __call__(self, predictor, rows) -> None:
        self.in_flight += 1
        self._pool.submit(self._train, predictor, rows)

    def _train(self, predictor, rows) -> None:
        try:
            model = predictor.train(rows)
        except Exception:  # noqa: BLE001 - the previous model goes on answering
            log.exception("refitting the %s predictor failed; it answers with its "
                          "previous model", getattr(predictor, "name", "runtime"))
            model = None
        try:
            self.loop.call_soon_threadsafe(self._install, predictor, model)
        except RuntimeError:  # the loop has closed: the controller has stopped
            pass

    def _install(self, predictor, model) -> None:
        self.in_flight -= 1
        if model is not None and not self._closed:
            predictor.install(model)

    def close(self) -> None:
        """Refits fall due on the caller's thread again; one being trained is dropped."""
        self._closed = True
        for predictor in self.predictors:
            predictor.fitter = fit_now
        self._pool.shutdown(wait=False, cancel_futures=True)
