"""The recent finished jobs a learned predictor refits on, as a ring of NumPy rows.

A deque of Python lists costs a list-to-array conversion of the whole window at every
refit (50,000 rows x 24 columns); the ring keeps the rows as the array the fit reads, and
``arrays()`` hands them back oldest first, as the deque did.  Beside each row's features
and label it keeps two numbers about the prediction the job had at its submission
(``kairos.predict.uncertainty`` reads them): ``residual`` (label - the model's raw answer,
NaN when there was no model yet) and ``ratio`` (runtime / the planned estimate).
"""

from __future__ import annotations

import numpy as np

__all__ = ["TimeWindow", "Window"]


class Window:
    """At most ``size`` (row, label, residual, ratio), oldest dropped first."""

    def __init__(self, size: int, ncol: int) -> None:
        if size < 1:
            raise ValueError(f"a window holds at least one job (got {size})")
        self.size = int(size)
        self.ncol = int(ncol)
        self.X = np.empty((self.size, self.ncol), dtype=np.float64)
        self.y = np.empty(self.size, dtype=np.float64)
        self.residual = np.full(self.size, np.nan)
        self.ratio = np.full(self.size, np.nan)
        self.head = 0  # where the next row goes
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, row, label: float, residual: float = np.nan, ratio: float = np.nan) -> None:
        i = self.head
        self.X[i] = row
        self.y[i] = label
        self.residual[i] = residual
        self.ratio[i] = ratio
        self.head = i + 1 if i + 1 < self.size else 0
        if self.count < self.size:
            self.count += 1

    def _order(self, column: np.ndarray) -> np.ndarray:
        if self.count < self.size:
            return column[:self.count]
        return np.concatenate((column[self.head:], column[:self.head]))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """X, y, residual, ratio of the jobs held, oldest first (copies when the ring has
        wrapped, views otherwise)."""
        return (self._order(self.X), self._order(self.y), self._order(self.residual),
                self._order(self.ratio))

    def recent(self, column: np.ndarray) -> np.ndarray:
        """The filled part of ``column`` (one of ``residual``, ``ratio``), in any order."""
        return column[:self.count]

    def extend(self, X, y, residual=None, ratio=None) -> None:
        """Append many jobs, oldest first (a loaded predictor's window)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.ncol)
        n = len(X)
        residual = np.full(n, np.nan) if residual is None else np.asarray(residual, dtype=np.float64)
        ratio = np.full(n, np.nan) if ratio is None else np.asarray(ratio, dtype=np.float64)
        for i in range(n):
            self.append(X[i], float(y[i]), float(residual[i]), float(ratio[i]))


class TimeWindow:
    """The jobs that ended in a span of time, as NumPy rows: (end time, row, label),
    oldest first, the oldest dropped by time (``drop_before``).  ``rf`` refits on the
    last 90 days: kept as the arrays the fit reads, not as a deque of lists turned into
    an array at every refit."""

    def __init__(self, ncol: int, capacity: int = 1024) -> None:
        self.ncol = int(ncol)
        self._t = np.empty(capacity, dtype=np.float64)
        self._X = np.empty((capacity, self.ncol), dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._start = self._stop = 0

    def __len__(self) -> int:
        return self._stop - self._start

    def append(self, t: float, row, label: float) -> None:
        i = self._stop
        if i == len(self._t):
            i = self._make_room(1)
        self._t[i] = t
        self._X[i] = row
        self._y[i] = label
        self._stop = i + 1

    def extend(self, t, X, y) -> None:
        """Append many jobs, oldest first (a loaded predictor's window)."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, self.ncol)
        n = len(X)
        i = self._stop
        if i + n > len(self._t):
            i = self._make_room(n)
        self._t[i:i + n] = t
        self._X[i:i + n] = X
        self._y[i:i + n] = y
        self._stop = i + n

    def _make_room(self, n: int) -> int:
        """Move the jobs held to the front of arrays with room for ``n`` more (twice as
        large when more than half full); where the next one goes."""
        held = len(self)
        size = len(self._t)
        if 2 * (held + n) > size:
            size = max(2 * size, 2 * (held + n))
        t, X, y = (np.empty(size), np.empty((size, self.ncol)), np.empty(size))
        lo, hi = self._start, self._stop
        t[:held], X[:held], y[:held] = self._t[lo:hi], self._X[lo:hi], self._y[lo:hi]
        self._t, self._X, self._y = t, X, y
        self._start, self._stop = 0, held
        return held

    def drop_before(self, horizon: float) -> None:
        """Drop the oldest jobs while they ended before ``horizon`` (in the order they
        came, as a deque's popleft would)."""
        t = self._t[self._start:self._stop]
        late = np.flatnonzero(t >= horizon)
        self._start += int(late[0]) if len(late) else len(t)

    def last_time(self) -> float:
        return float(self._t[self._stop - 1])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(end times, rows, labels) of the jobs held, oldest first, as views: a row is
        never written again once appended (new ones go after it, or into new arrays),
        so they hold while the window goes on, on any thread."""
        lo, hi = self._start, self._stop
        return self._t[lo:hi], self._X[lo:hi], self._y[lo:hi]
