"""One LightGBM prediction at a time, without the per-call cost of ``Booster.predict``.

The scheduler asks for a runtime when a job is submitted, one job at a time.
``Booster.predict`` is built for matrices: for a single row it spends ~70 us checking and
converting its input before the trees are walked.  LightGBM's C API has a path for exactly
this case (``LGBM_BoosterPredictForMatSingleRowFast``: the configuration is parsed once,
then each call only walks the trees), which the Python package does not wrap; ``RowPredictor``
calls it through ``ctypes`` on a preallocated buffer, and falls back on ``Booster.predict``
where the library lacks it.  Both give the same raw score (same trees, same doubles).
"""

from __future__ import annotations

import ctypes

import numpy as np

__all__ = ["RowPredictor"]

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class RowPredictor:
    """``predictor(row) -> raw score`` of ``booster`` for one row of ``ncol`` floats."""

    def __init__(self, booster, ncol: int) -> None:
        self.booster = booster  # the fast configuration points into it: keep it alive
        self.ncol = int(ncol)
        self._buf = np.zeros(self.ncol, dtype=np.float64)
        self._out = np.zeros(1, dtype=np.float64)
        self._config = None
        self._call = None
        try:
            from lightgbm.basic import _LIB, _c_str, _safe_call

            fast = _LIB.LGBM_BoosterPredictForMatSingleRowFast
            handle = booster._handle
        except (ImportError, AttributeError):  # another build of LightGBM: the slow path
            return
        config = ctypes.c_void_p()
        _safe_call(_LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
            handle, ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0), ctypes.c_int(-1),
            ctypes.c_int(_DTYPE_FLOAT64), ctypes.c_int32(self.ncol), _c_str("num_threads=1"),
            ctypes.byref(config)))
        self._config = config
        self._free = _LIB.LGBM_FastConfigFree
        self._check = _safe_call
        fast.restype = ctypes.c_int
        self._out_len = ctypes.c_int64(0)
        args = (config, self._buf.ctypes.data_as(ctypes.c_void_p), ctypes.byref(self._out_len),
                self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
        self._args = args
        self._call = fast

    def __call__(self, row) -> float:
        buf = self._buf
        buf[:] = row
        if self._call is None:
            return float(self.booster.predict(buf.reshape(1, -1), num_threads=1)[0])
        ret = self._call(*self._args)
        if ret:
            self._check(ret)  # raises LightGBM's error
        return float(self._out[0])

    def __del__(self) -> None:
        config, self._config = getattr(self, "_config", None), None
        if config is not None:
            try:
                self._free(config)
            except Exception:  # interpreter shutdown: the library may be gone already
                pass
