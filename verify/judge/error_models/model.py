"""The arithmetic an error model assumes for inputs of one dtype: working precision, accuracy
of the elementary functions, and which intermediates are materialised in the input dtype.

- Working precision: float32 for float16, bfloat16 and float32 inputs, float64 for float64.
  PyTorch computes half-precision reductions and softmax kernels in ``at::opmath_type``/
  ``acc_type`` (float32), XLA and cuDNN accumulate half precision in float32.
- Elementary functions (``exp``, ``log``, ``log1p``, ``expm1``, ``pow``) within
  :data:`ELEMENTARY_ULPS` ULPs of the working precision: the CUDA C Programming Guide lists
  ``expf`` at 2 ULPs and ``logf`` at 1 ULP; glibc and SLEEF are within 1 ULP.
- Materialised intermediates (float16/bfloat16 only): a tensor that a loss is documented to
  pass between library operations (``cross_entropy = nll_loss(log_softmax(x))``, the logits of
  a linear layer, the per-element loss before its reduction, the output autodiff saves) is
  rounded to the input dtype.  Each such rounding is relative, so it never hides a lost
  complement or a missing shift.
"""

from __future__ import annotations

from typing import Any

from verify.judge import error_tracking as et
from verify.judge.error_tracking import Arithmetic, Tracked
from verify.judge.ulp import FORMATS, float_format

#: accuracy assumed of exp/log/log1p/expm1/pow, in ULPs of the working precision
ELEMENTARY_ULPS = 2.0

#: the precision careful kernels compute in, per input format
WORKING_FORMAT = {"float16": "float32", "bfloat16": "float32", "float32": "float32"}


def working_arithmetic(dtype: Any) -> Arithmetic:
    """The :class:`~verify.judge.error_tracking.Arithmetic` assumed for inputs of ``dtype``."""
    fmt = float_format(dtype)
    work = FORMATS[WORKING_FORMAT.get(fmt.name, fmt.name)]
    u = work.unit_roundoff
    return Arithmetic(u=u, uf=2 * ELEMENTARY_ULPS * u, tiny=work.min_subnormal / 2)


class Model:
    """The arithmetic of one dtype and whether intermediates are materialised in it."""

    def __init__(self, dtype: Any) -> None:
        self.fmt = float_format(dtype)
        self.ar = working_arithmetic(dtype)
        #: float16 and bfloat16: narrower than the working precision
        self.low = self.fmt.precision < 24

    def materialise(self, a: Tracked) -> Tracked:
        """``a`` as a tensor of the input dtype between two library operations (a no-op
        unless the dtype is narrower than the working precision)."""
        if not self.low:
            return a
        return self.saved(a)

    def saved(self, a: Tracked) -> Tracked:
        """``a`` rounded to the input dtype (an output kept for the backward pass)."""
        return et.rounded_to(a, self.fmt.unit_roundoff, self.fmt.min_subnormal / 2)


__all__ = ["ELEMENTARY_ULPS", "WORKING_FORMAT", "Model", "working_arithmetic"]
