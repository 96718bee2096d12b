"""Speed and memory of the correctly rounded reference engine itself (``reference``).

The reference has to be fast enough to judge millions of Hypothesis examples and the LLM
shape.  Its targets:

- ``reference.cross_entropy`` and ``reference.cross_entropy_grad`` on a float32 64 x 32768
  input: at most 5x the time of a plain float64 NumPy evaluation of the stable formula on the
  same data; on a float64 input (which needs more than double precision internally): at most
  100x.  ``ReferenceVsNumpy.track_ratio_to_numpy`` puts the ratio on the dashboard.
- The LLM shape 8192 x 128256 in float32, forward and gradient: under a minute each, with a
  working set that streams over rows rather than materialising float64 copies of the whole
  input (``ReferenceLargeShape``; only with ``XENT_BENCH_FULL=1``).

The NumPy baseline is the textbook stable formula in float64 (max-shifted log-sum-exp; the
gradient is ``(softmax - onehot) / N``), the usual definition, e.g.
https://docs.pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import host_memory, parameters
from benchmarks.timing import OneSample, best_time
from benchmarks.units import unit
from verify.ops import CROSS_ENTROPY, spec

RATIO_SHAPE = (64, 32768)
FUNCTIONS = ("forward", "gradient")
SEED = 7


def _reference_function(function: str) -> Callable[..., Any]:
    """``reference.cross_entropy`` or ``reference.cross_entropy_grad`` (from the op catalogue:
    a missing one raises, it is never skipped)."""
    op = spec(CROSS_ENTROPY)
    return op.reference if function == "forward" else op.vjp


def numpy_cross_entropy(logits: np.ndarray, target: np.ndarray) -> np.float64:
    """Mean cross entropy in float64: ``mean(logsumexp(x_n) - x_n[t_n])``, max-shifted."""
    x = logits.astype(np.float64)
    shift = x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(x - shift).sum(axis=1)) + shift[:, 0]
    return np.mean(lse - x[np.arange(x.shape[0]), target])


def numpy_cross_entropy_grad(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Gradient of the mean cross entropy in float64: ``(softmax(x) - onehot(t)) / N``."""
    x = logits.astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    e[np.arange(x.shape[0]), target] -= 1.0
    e /= x.shape[0]
    return e


def _seeded(shape: tuple[int, int], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    logits = rng.standard_normal(shape, dtype=np.float32)
    logits *= 2.0
    target = rng.integers(0, shape[1], size=shape[0], dtype=np.int64)
    return logits.astype(dtype, copy=False), target


class ReferenceVsNumpy:
    """Reference cross entropy (forward, gradient) against the float64 NumPy formula."""

    params = (FUNCTIONS, ("float32", "float64"))
    param_names = ("function", "dtype")
    timeout = 300.0

    def setup(self, function: str, dtype: str) -> None:
        self.reference = _reference_function(function)
        self.baseline = numpy_cross_entropy if function == "forward" else numpy_cross_entropy_grad
        self.logits, self.target = _seeded(RATIO_SHAPE, dtype)
        self.reference(input=self.logits, target=self.target)  # warm caches and lazy imports

    def _reference_call(self) -> Any:
        return self.reference(input=self.logits, target=self.target)

    def _baseline_call(self) -> Any:
        return self.baseline(self.logits, self.target)

    def time_reference(self, function: str, dtype: str) -> None:
        self._reference_call()

    def time_numpy_float64(self, function: str, dtype: str) -> None:
        self._baseline_call()

    @unit("x NumPy float64")
    def track_ratio_to_numpy(self, function: str, dtype: str) -> float:
        reference_s = best_time(self._reference_call, budget_s=2.0)
        baseline_s = best_time(self._baseline_call, budget_s=2.0)
        return reference_s / baseline_s


class ReferenceLargeShape(OneSample):
    """Reference cross entropy at the LLM shape (float32): time and memory (full mode only)."""

    params = (FUNCTIONS,)
    param_names = ("function",)
    timeout = 900.0  # one call takes tens of seconds

    def setup(self, function: str) -> None:
        parameters.require_full_mode(f"the reference at {parameters.LLM}")
        self.reference = _reference_function(function)
        rows, classes = parameters.parse_shape(parameters.LLM)
        from benchmarks.prepared_call import require_fits

        backward = function == "gradient"
        require_fits("numpy", CROSS_ENTROPY, (rows, classes), "float32", "cpu", backward)
        self.logits, self.target = _seeded((rows, classes), "float32")

    def _call(self) -> Any:
        return self.reference(input=self.logits, target=self.target)

    def time_reference(self, function: str) -> None:
        self._call()

    def peakmem_reference(self, function: str) -> None:
        self._call()

    @unit("bytes")
    def track_rss_increase(self, function: str) -> int:
        return host_memory.peak_rss_increase(self._call)
