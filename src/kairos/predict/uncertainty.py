"""How wrong a learned predictor has been lately, as distributions it can plan with.

A point prediction says nothing of its error.  Rather than fit one LightGBM model per
quantile (a fit per alpha, several times the cost), the predictor keeps the errors of its
own past answers - made at each job's submission, so out of sample - for the recent
finished jobs, and reads quantiles off them:

* ``Quantiles.of(q)``: the q-quantile of a sample (log-space residuals: planning at
  ``raw + residual_q`` answers the q-quantile of the runtime, if errors look alike
  across jobs);
* ``Quantiles.above(x, q)``: the q-quantile of the part of the sample above ``x``.  On
  ratios runtime / planned estimate this is the conditional law the ``remaining``
  correction needs: a job that has already run ``x`` times its estimate ends, by the
  jobs seen lately that ran at least that long, at ``above(x, q)`` times its estimate.

Each call is a binary search in a sorted array, refreshed from the window every few
hundred finished jobs: cheap enough to sit in the scheduler's loop.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Quantiles"]


class Quantiles:
    """Quantiles of a sample of floats (NaN dropped); empty until ``update``."""

    __slots__ = ("_new", "_sorted")

    def __init__(self, values=()) -> None:
        self._sorted = np.empty(0)
        self._new = None
        self.update(values)

    def update(self, values) -> None:
        """Replace the sample by ``values`` (sorted now)."""
        self.set(values)
        _ = self.sorted

    def set(self, values) -> None:
        """Replace the sample by a copy of ``values``, sorted when first read: a sample
        taken often and read rarely costs a copy."""
        self._new = np.array(values, dtype=np.float64)

    @property
    def sorted(self) -> np.ndarray:
        if self._new is not None:
            v, self._new = self._new, None
            self._sorted = np.sort(v[~np.isnan(v)])
        return self._sorted

    def __len__(self) -> int:
        return len(self.sorted)

    def of(self, q: float) -> float:
        """The q-quantile (nearest rank below), NaN for an empty sample."""
        s = self.sorted
        n = len(s)
        if not n:
            return math.nan
        return float(s[min(n - 1, max(0, int(q * (n - 1))))])

    def above(self, x: float, q: float, min_count: int = 1) -> float:
        """The q-quantile of the values > ``x``; NaN when fewer than ``min_count`` are."""
        s = self.sorted
        n = len(s)
        i = int(np.searchsorted(s, x, side="right"))
        left = n - i
        if left < max(1, min_count):
            return math.nan
        return float(s[i + min(left - 1, max(0, int(q * (left - 1))))])
