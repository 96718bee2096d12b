"""logsumexp, softmax, log_softmax and their VJPs: bit-exact against the independent oracle
(tests/reference_oracle.py) in every format, the special-value table, and bad input."""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from tests import reference_oracle as oracle
from tests.reference_cases import DTYPES, arrays, assert_same, out_dtypes, resolve

FORMATS = list(DTYPES)
FUNCS = ["logsumexp", "softmax", "log_softmax"]


def _call(name: str, x: np.ndarray, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    return getattr(reference, name)(x, **kw), getattr(oracle, name)(x, **kw)


@st.composite
def problems(draw: st.DrawFn, neg_inf: bool = False):  # type: ignore[no-untyped-def]
    name = draw(st.sampled_from(FORMATS))
    wide = draw(st.booleans())
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    x = draw(arrays(name, shape, wide, neg_inf))
    axis = draw(st.integers(-ndim, ndim - 1))
    out = draw(out_dtypes())
    return name, x, axis, out


@pytest.mark.parametrize("func", FUNCS)
@settings(max_examples=60)
@given(case=problems())
def test_values_match_the_oracle(func: str, case) -> None:  # type: ignore[no-untyped-def]
    name, x, axis, out = case
    got, expected = _call(func, x, axis=axis, out_dtype=out)
    assert_same(got, expected, resolve(out, name), func)


@pytest.mark.parametrize("func", FUNCS)
@settings(max_examples=40)
@given(case=problems(), data=st.data())
def test_gradients_match_the_oracle(func: str, case, data) -> None:  # type: ignore[no-untyped-def]
    name, x, axis, out = case
    gshape = tuple(np.delete(x.shape, axis % x.ndim)) if func == "logsumexp" else x.shape
    g = data.draw(arrays(name, gshape, wide=False)) if data.draw(st.booleans()) else None
    got, expected = _call(func + "_grad", x, axis=axis, grad_output=g, out_dtype=out)
    assert_same(got, expected, resolve(out, name), func + "_grad")


@pytest.mark.parametrize("func", FUNCS)
@settings(max_examples=30)
@given(case=problems(neg_inf=True))
def test_masked_rows_match_the_oracle(func: str, case) -> None:  # type: ignore[no-untyped-def]
    name, x, axis, out = case
    got, expected = _call(func, x, axis=axis, out_dtype=out)
    assert_same(got, expected, resolve(out, name), func)
    got, expected = _call(func + "_grad", x, axis=axis, out_dtype=out)
    assert_same(got, expected, resolve(out, name), func + "_grad")


# -------------------------------------------------------------------- special values
NAN, INF = math.nan, math.inf


@pytest.mark.parametrize("name", FORMATS)
def test_special_value_table(name: str) -> None:
    rows = np.array(
        [
            [0.0, -INF, 1.0],  # masked entry: exactly 0 probability
            [NAN, 0.0, 1.0],  # NaN row
            [INF, 0.0, -INF],  # single +inf: one-hot
            [INF, INF, 0.0],  # two +inf: NaN
            [-INF, -INF, -INF],  # all masked: NaN
            [2.0, 2.0, 2.0],
        ]
    ).astype(DTYPES[name])
    lse = reference.logsumexp(rows).astype(np.float64)
    sm = reference.softmax(rows).astype(np.float64)
    ls = reference.log_softmax(rows).astype(np.float64)
    assert sm[0, 1] == 0 and ls[0, 1] == -INF and np.isfinite(ls[0, [0, 2]]).all()
    assert np.isnan(lse[1]) and np.isnan(sm[1]).all() and np.isnan(ls[1]).all()
    assert lse[2] == INF and list(sm[2]) == [1.0, 0.0, 0.0] and list(ls[2]) == [0.0, -INF, -INF]
    assert np.isnan(lse[3]) and np.isnan(sm[3]).all() and np.isnan(ls[3]).all()
    assert lse[4] == -INF and np.isnan(sm[4]).all() and np.isnan(ls[4]).all()
    assert np.all(sm[5] == oracle.round_fraction(Fraction(1, 3), name))
    for func in FUNCS:
        assert_same(getattr(reference, func)(rows), getattr(oracle, func)(rows), DTYPES[name], func)
        assert_same(
            getattr(reference, func + "_grad")(rows),
            getattr(oracle, func + "_grad")(rows),
            DTYPES[name],
            func + "_grad",
        )


def test_single_positive_infinity_gradients() -> None:
    x = np.array([[1.0, INF, -INF, 0.5]])
    g = np.array([[0.5, 2.0, 3.0, -1.0]])
    assert np.all(reference.softmax_grad(x, grad_output=g) == 0)
    # the limit of g_i - y_i sum(g) with y one-hot at the +inf
    assert list(reference.log_softmax_grad(x, grad_output=g)[0]) == [0.5, 2.0 - 4.5, 3.0, -1.0]
    assert np.isnan(reference.logsumexp_grad(x)).all()


@pytest.mark.parametrize("func", ["log_softmax", "softmax_grad"])
def test_spread_beyond_float64_max(func: str) -> None:
    x = np.array([1e308, -1e308])
    assert_same(getattr(reference, func)(x), getattr(oracle, func)(x), np.float64, func)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("func", FUNCS + [f + "_grad" for f in FUNCS])
def test_bad_input_is_rejected_with_a_clear_message(func: str) -> None:
    f = getattr(reference, func)
    with pytest.raises(TypeError, match=r"x|float|integer"):
        f(np.array([[1, 2, 3]]))
    with pytest.raises(TypeError, match=r"float|format|dtype"):
        f(np.array([[1, 2, 3]], dtype=np.complex128))
    with pytest.raises(TypeError, match=r"format|dtype|float"):
        f(np.array([[1.0, 2.0]]), out_dtype=np.int32)
    with pytest.raises(ValueError, match="axis"):
        f(np.array([[1.0, 2.0]]), axis=2)


@pytest.mark.parametrize("func", [f + "_grad" for f in FUNCS])
def test_grad_output_of_the_wrong_shape_is_rejected(func: str) -> None:
    with pytest.raises(ValueError, match="grad_output"):
        getattr(reference, func)(np.zeros((2, 3)), grad_output=np.ones((3, 2)))


def test_log_softmax_grad_at_plus_inf_rounds_cotangents_once() -> None:
    """A row with one +inf passes the cotangents through; each must be rounded once into the
    output format (1 + 2^-8 + 2^-30 is just above a bfloat16 midpoint: rounding through float32
    first would give 1.0)."""
    g = np.array([[1 + 2.0**-8 + 2.0**-30, 0.5, 0.25]])
    x = np.array([[0.0, np.inf, 1.0]])
    out = reference.log_softmax_grad(x, grad_output=g, out_dtype=ml_dtypes.bfloat16)
    assert out.dtype == ml_dtypes.bfloat16
    # g_i elsewhere, g_k - sum g at the +inf (exact value -1.25390625...: rounds to -1.2578125)
    assert out.astype(np.float64).tolist() == [[1.0078125, -1.2578125, 0.25]]
