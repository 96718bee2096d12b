"""verify.judge.ulp: spacing and errors in ULPs of the reference value, special values explicit."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

from verify.judge.ulp import float_format, ulp, ulp_error


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        ("float32", 1.0, 2.0**-23),
        ("float32", 1.5, 2.0**-23),
        ("float32", 2.0, 2.0**-22),
        ("float64", 1.0, 2.0**-52),
        ("float16", 1.0, 2.0**-10),
        ("bfloat16", 1.0, 2.0**-7),
        ("float16", 0.0, 2.0**-24),  # subnormal spacing
        ("float16", 2.0**-20, 2.0**-24),
        ("float32", 1e-45, 2.0**-149),
        ("float64", 0.0, 2.0**-1074),
        ("float32", math.inf, 2.0**104),  # spacing at the largest finite value
    ],
)
def test_ulp_spacing(dtype: str, value: float, expected: float) -> None:
    assert float(ulp(value, dtype)) == expected


def test_ulp_matches_nextafter_everywhere() -> None:
    rng = np.random.default_rng(0)
    for name, dt in [
        ("float16", np.float16),
        ("float32", np.float32),
        ("bfloat16", ml_dtypes.bfloat16),
    ]:
        x = (rng.standard_normal(2000) * 10.0 ** rng.integers(-6, 4, 2000)).astype(dt)
        x = x[np.isfinite(x.astype(np.float64)) & (x.astype(np.float64) != 0)]
        up = np.nextafter(np.abs(x), np.asarray(np.inf, dtype=dt)).astype(np.float64)
        assert np.array_equal(up - np.abs(x).astype(np.float64), ulp(x, name)), name


def test_ulp_error_counts_steps() -> None:
    r = np.float32(1.25)
    y = r
    for _ in range(64):
        y = np.nextafter(y, np.float32(2))
    assert ulp_error(y, r, "float32") == 64.0
    assert ulp_error(np.float32(-0.0), np.float32(0.0), "float32") == 0.0


def test_a_float64_error_against_zero_is_a_finite_count_of_values() -> None:
    """|y - 0| / 2^-1074 overflows float64 for |y| above about 1e-15; the error between two
    finite values is then the number of float64 values between them, never inf."""
    y = 3.1622778157855475e-11  # a focal loss returned this where the exact value is 0
    assert math.isinf(y / 5e-324)  # the quotient overflows
    bits = int(np.float64(y).view(np.int64))
    assert float(ulp_error(y, 0.0, "float64")) == float(bits)
    assert float(ulp_error(-y, 0.0, "float64")) == float(bits)
    assert float(ulp_error(1e-300, 0.0, "float64")) == 1e-300 / 5e-324  # no overflow: unchanged


@pytest.mark.parametrize(
    ("y", "r", "expected"),
    [
        (math.nan, math.nan, 0.0),
        (math.nan, 1.0, math.inf),
        (1.0, math.nan, math.inf),
        (math.inf, math.inf, 0.0),
        (-math.inf, math.inf, math.inf),
        (3.0e38, math.inf, math.inf),
        (math.inf, 1.0, math.inf),
    ],
)
def test_ulp_error_special_values(y: float, r: float, expected: float) -> None:
    assert float(ulp_error(y, r, "float32")) == expected


def test_unknown_dtype_is_rejected() -> None:
    with pytest.raises(ValueError, match="no floating-point format"):
        float_format("int32")
