"""Errors in units in the last place (ULPs) of the correctly rounded reference value.

The error of a returned value ``y`` against the correctly rounded reference value ``r`` is

    err(y, r) = |y - r| / ulp(r)

where ``ulp(r)`` is the spacing of the output format at ``r``: ``2^(e - p + 1)`` for
``2^e <= |r| < 2^(e+1)`` with ``e`` clamped below at the format's ``emin`` (so every subnormal
and zero has the spacing of the subnormal range, ``2^(emin - p + 1)``).  This is the convention
of Zimmermann et al., "Accuracy of Mathematical Functions in Single, Double, Double Extended,
and Quadruple Precision" (https://members.loria.fr/PZimmermann/papers/accuracy.pdf), who
measure library functions against correctly rounded MPFR values in ULPs of the correct result.

Special values are handled explicitly, never through floating-point accident:

- both NaN: 0 (NaN is the right answer); one NaN: ``inf``;
- ``r`` infinite: 0 when ``y == r``, else ``inf``;
- ``y`` infinite and ``r`` finite: ``inf``;
- signed zeros compare equal (``-0`` against ``+0`` is 0 ULP);
- both finite, where the quotient overflows float64 (float64 only: ``|y|`` above about 1e-15
  against ``r`` in the subnormal range or 0, whose spacing is 2^-1074): the number of float64
  values between ``y`` and ``r`` (at most 2^64) instead, so an error between finite values is
  always a finite count of ULPs.

Arithmetic is done in float64 on values that are exact in float64 (every supported format is a
subset of float64), so ``|y - r|`` is exact up to one final float64 rounding, which changes a
ULP count by a relative 2^-53 at most.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.formats import FORMATS as REFERENCE_FORMATS
from reference.formats import Format

#: the binary formats, shared with the reference (one definition: ``reference/formats.py``)
FloatFormat = Format
FORMATS: dict[str, FloatFormat] = dict(REFERENCE_FORMATS)


def float_format(dtype: Any) -> FloatFormat:
    """The :class:`FloatFormat` of a dtype name, NumPy dtype or array; ValueError otherwise."""
    if isinstance(dtype, np.ndarray | np.generic):
        dtype = dtype.dtype
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"no floating-point format for dtype {name!r}; expected one of {sorted(FORMATS)}"
        ) from None


def ulp(r: Any, dtype: Any) -> np.ndarray:
    """Spacing of format ``dtype`` at each value of ``r`` (float64 array, same shape).

    ``ulp(r) = 2^(max(e, emin) - p + 1)`` with ``2^e <= |r| < 2^(e+1)``; zero and subnormals get
    the subnormal spacing; infinities get the spacing at the largest finite value; NaN gives NaN.
    """
    fmt = float_format(dtype)
    a = np.abs(np.asarray(r, dtype=np.float64))
    finite = np.isfinite(a)
    safe = np.where(finite, a, fmt.max_finite)
    _, e = np.frexp(safe)  # safe = m * 2^e with 0.5 <= m < 1, so the binade exponent is e - 1
    exponent = np.where(safe == 0, fmt.emin, np.maximum(e - 1, fmt.emin))
    out = np.ldexp(1.0, exponent - fmt.precision + 1)
    return np.where(np.isnan(a), np.nan, out)


def ulp_error(y: Any, r: Any, dtype: Any) -> np.ndarray:
    """Elementwise ``|y - r| / ulp(r)`` in the format of ``dtype`` (float64 array).

    ``y`` is the returned value, ``r`` the correctly rounded reference value; both are
    broadcast together.  See the module docstring for the treatment of NaN and infinities.
    """
    yv = np.asarray(y, dtype=np.float64)
    rv = np.asarray(r, dtype=np.float64)
    yv, rv = np.broadcast_arrays(yv, rv)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(yv - rv)
        err = diff / ulp(rv, dtype)
    y_nan, r_nan = np.isnan(yv), np.isnan(rv)
    err = np.where(y_nan | r_nan, np.where(y_nan & r_nan, 0.0, np.inf), err)
    y_inf, r_inf = np.isinf(yv), np.isinf(rv)
    same_inf = y_inf & r_inf & (yv == rv)
    err = np.where((y_inf | r_inf) & ~(y_nan | r_nan), np.where(same_inf, 0.0, np.inf), err)
    overflow = np.isinf(err) & np.isfinite(yv) & np.isfinite(rv)
    if overflow.any():
        err = np.where(overflow, _float64_steps(yv, rv), err)
    return err


def _float64_steps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many float64 values lie between ``a`` and ``b`` (finite; -0 and +0 are one value),
    as float64: the distance of their ordinal keys (the bit patterns, sign-magnitude turned
    into a monotone integer order)."""

    def key(x: np.ndarray) -> np.ndarray:
        bits = np.array(x, dtype=np.float64).view(np.int64)  # a contiguous copy, any rank
        magnitude = bits & np.int64(0x7FFF_FFFF_FFFF_FFFF)
        return np.where(bits < 0, -magnitude, magnitude).astype(np.float64)

    return np.abs(key(a) - key(b))


def max_ulp_error(y: Any, r: Any, dtype: Any) -> float:
    """The largest :func:`ulp_error` over all elements (0.0 for empty arrays)."""
    err = ulp_error(y, r, dtype)
    return float(err.max()) if err.size else 0.0


__all__ = ["FORMATS", "FloatFormat", "float_format", "max_ulp_error", "ulp", "ulp_error"]
