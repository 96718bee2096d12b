"""Error of a result in units in the last place (ULP) of the correctly rounded reference.

For a reference value ``r`` (already rounded into the output format) and a result ``y`` in the
same format, the error is ``|y - r| / ulp(r)`` where ``ulp(r) = numpy.spacing(|r|)``: the gap
from ``|r|`` to the next larger number of the format (for ``r = 0`` the smallest subnormal).
The difference is formed in float64 (exact for float16/bfloat16/float32 inputs; for float64 the
rounding of the difference is far below the resolution this metric needs).  NaN where the
reference has NaN, and equal infinities, count as 0 ULP; any other non-finite disagreement is
``inf`` so that it cannot hide on a dashboard.  NumPy's definition of spacing:
https://numpy.org/doc/stable/reference/generated/numpy.spacing.html
"""

from __future__ import annotations

import numpy as np


def max_ulp_error(result: np.ndarray, reference: np.ndarray) -> float:
    """Largest ``|result - reference|`` over all elements, in ULPs of ``reference``'s format."""
    reference = np.asarray(reference)
    result = np.asarray(result)
    if result.shape != reference.shape:
        raise ValueError(f"shape mismatch: result {result.shape}, reference {reference.shape}")
    if result.size == 0:
        return 0.0
    fmt = reference.dtype
    ref64 = reference.astype(np.float64)
    res64 = result.astype(fmt).astype(np.float64)  # judged in the reference's format

    ref_finite = np.isfinite(ref64)
    res_finite = np.isfinite(res64)
    both_nan = np.isnan(ref64) & np.isnan(res64)
    same_inf = ~ref_finite & ~res_finite & (ref64 == res64)
    agree_nonfinite = both_nan | same_inf
    if np.any(~(ref_finite & res_finite) & ~agree_nonfinite):
        return float("inf")

    mask = ref_finite & res_finite
    if not np.any(mask):
        return 0.0
    magnitude = np.abs(reference[mask])
    with np.errstate(over="ignore"):
        spacing = np.spacing(magnitude).astype(np.float64)
        top = ~np.isfinite(spacing)  # |r| is the format's largest finite number
        if np.any(top):
            below = np.nextafter(magnitude[top], np.zeros((), dtype=fmt))
            spacing[top] = magnitude[top].astype(np.float64) - below.astype(np.float64)
    return float(np.max(np.abs(res64[mask] - ref64[mask]) / spacing))
