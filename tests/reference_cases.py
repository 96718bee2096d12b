"""Hypothesis strategies and comparison helpers shared by the reference's test modules."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
from hypothesis import strategies as st

DTYPES = {
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}
MAX = {
    "float16": 65504.0,
    "bfloat16": 3.3895313892515355e38,
    "float32": 3.4028234663852886e38,
    # a quarter of the float64 range: logit spreads beyond the largest float crash the reference's
    # exact tier (test_reference_softmax.py::test_spread_beyond_float64_max)
    "float64": 2.0**1022,
}


def assert_same(got: Any, expected: np.ndarray, dtype: Any, what: str = "") -> None:
    """Bit-exact comparison up to the sign of zero: same dtype, shape, NaN positions and
    values (+0 and -0 compare equal: the contract does not sign exact zeros)."""
    got = np.asarray(got)
    assert got.dtype == np.dtype(dtype), (what, got.dtype, dtype)
    g = got.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert g.shape == e.shape, (what, g.shape, e.shape)
    same = (g == e) | (np.isnan(g) & np.isnan(e))
    if not np.all(same):
        bad = np.argwhere(~same)[:5]
        details = [(tuple(int(v) for v in i), float(g[tuple(i)]), float(e[tuple(i)])) for i in bad]
        raise AssertionError(f"{what}: reference != oracle at {details}")


def elements(name: str, wide: bool) -> st.SearchStrategy[float]:
    """Finite values of a format: small integers and halves (ties, equal logits), moderate
    values, and (wide) the whole range including subnormals."""
    hi = MAX[name] if wide else 40.0
    parts = [
        st.integers(-6, 6).map(float),
        st.integers(-12, 12).map(lambda k: k / 2),
        st.floats(-hi, hi, allow_nan=False, allow_infinity=False),
    ]
    if wide:
        parts.append(st.sampled_from([MAX[name], -MAX[name], -1e4, 1e4, -800.0, 700.0]))
    return st.one_of(*parts)


@st.composite
def arrays(
    draw: st.DrawFn, name: str, shape: tuple[int, ...], wide: bool, neg_inf: bool = False
) -> np.ndarray:
    n = int(np.prod(shape))
    el = elements(name, wide)
    if neg_inf:
        el = st.one_of(el, st.just(-np.inf))
    vals = draw(st.lists(el, min_size=n, max_size=n))
    a = np.array(vals, dtype=np.float64).reshape(shape)
    with np.errstate(over="ignore"):
        out = a.astype(DTYPES[name])
    out = np.where(np.isinf(out.astype(np.float64)) & np.isfinite(a), 0, out).astype(DTYPES[name])
    return out


def out_dtypes() -> st.SearchStrategy[str | None]:
    return st.sampled_from([None, "float16", "bfloat16", "float32", "float64"])


def resolve(out: str | None, name: str) -> np.dtype:
    return DTYPES[out or name]
