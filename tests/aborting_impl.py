"""A user implementation that aborts the interpreter on its 40th call (``os.abort()``, as a
native crash would), for the crash-recovery test of ``python -m verify --impl``.  Test code
only; each process counts its own calls."""

from __future__ import annotations

import os

import numpy as np

from verify.registry.numpy_impls import log_softmax_shifted

ABORT_ON_CALL = 40
_calls = 0


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    global _calls
    _calls += 1
    if _calls == ABORT_ON_CALL:
        os.abort()
    return log_softmax_shifted(x, axis=axis)
