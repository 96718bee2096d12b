"""Tests of the NumPy textbook entries: each computes its formula, its analytic gradient is a
real gradient, its reproducer runs, and its failures at the extremes are real."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests._np_formulas import central_difference as _numeric_vjp
from verify.registry import all_implementations, conventions, get
from verify.registry.base import Unsupported

ENTRIES = {e.name: e for e in all_implementations("numpy")}
SOFTMAX_FAMILY = [n for n, e in ENTRIES.items() if e.op != "cross_entropy"]
CROSS_ENTROPY = [n for n, e in ENTRIES.items() if e.op == "cross_entropy"]


def _log_softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def _expected(op: str, x: np.ndarray, axis: int) -> np.ndarray:
    log_softmax = _log_softmax64(x, axis)
    if op == "softmax":
        return np.exp(log_softmax)
    if op == "log_softmax":
        return log_softmax
    return np.squeeze(np.max(x, axis=axis, keepdims=True), axis) + np.log(
        np.sum(np.exp(x - np.max(x, axis=axis, keepdims=True)), axis=axis)
    )


def _cross_entropy64(x: np.ndarray, t: np.ndarray, reduction: str) -> np.ndarray:
    losses = -_log_softmax64(x, 1)[np.arange(len(t)), t]
    return {"none": losses, "sum": np.sum(losses), "mean": np.mean(losses)}[reduction]


moderate = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4),
    elements=st.floats(-20, 20),
)


@pytest.mark.parametrize("name", SOFTMAX_FAMILY)
@settings(derandomize=True, max_examples=25, deadline=None)
@given(x=moderate, data=st.data())
def test_softmax_family_forward_and_gradient(name: str, x: np.ndarray, data) -> None:
    entry = ENTRIES[name]
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    kwargs = {"x": x, "axis": axis}
    out = entry.forward(kwargs, "cpu")
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, _expected(entry.op, x, axis), rtol=1e-12, atol=1e-12)
    g = data.draw(hnp.arrays(np.float64, out.shape, elements=st.floats(-2, 2)))
    numeric = _numeric_vjp(lambda v: entry.forward({"x": v, "axis": axis}, "cpu"), x, g)
    np.testing.assert_allclose(entry.vjp(kwargs, g, "cpu"), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CROSS_ENTROPY)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_forward_and_gradient(name: str, reduction: str) -> None:
    entry = ENTRIES[name]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 5)) * 3
    t = np.array([0, 4, 2, 2])
    kwargs = {"input": x, "target": t, "reduction": reduction}
    out = entry.forward(kwargs, "cpu")
    np.testing.assert_allclose(out, _cross_entropy64(x, t, reduction), rtol=1e-12)
    g = rng.standard_normal(np.shape(out))
    numeric = _numeric_vjp(
        lambda v: entry.forward({"input": v, "target": t, "reduction": reduction}, "cpu"), x, g
    )
    np.testing.assert_allclose(entry.vjp(kwargs, g, "cpu"), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_low_precision_computes_in_float32_and_rounds_back(name: str, dtype: str) -> None:
    entry = ENTRIES[name]
    x = np.array([[0.5, -1.25, 2.0], [3.0, 0.0, -0.75]]).astype(dtype)
    kwargs = {"x": x} if entry.op != "cross_entropy" else {"input": x, "target": np.array([1, 0])}
    out = entry.forward(kwargs, "cpu")
    assert conventions.dtype_name(out) == dtype
    wide = {k: (v.astype(np.float32) if k in ("x", "input") else v) for k, v in kwargs.items()}
    np.testing.assert_array_equal(out, entry.forward(wide, "cpu").astype(out.dtype))


def test_unsupported_options_are_declared_and_raised() -> None:
    entry = ENTRIES["numpy.textbook.cross_entropy_shifted"]
    caps = entry.capabilities
    assert caps.target == "index" and not caps.class_weight and not caps.ignore_index
    base = {"input": np.zeros((2, 3)), "target": np.array([0, 1])}
    for option in ({"weight": np.ones(3)}, {"ignore_index": 1}, {"label_smoothing": 0.1}):
        with pytest.raises(Unsupported):
            entry.forward({**base, **option}, "cpu")
    with pytest.raises(Unsupported, match="batchmean"):
        entry.forward({**base, "reduction": "batchmean"}, "cpu")
    with pytest.raises(Unsupported, match="3-d"):
        entry.forward({"input": np.zeros((2, 3, 4)), "target": np.zeros((2, 4), int)}, "cpu")
    with pytest.raises(Unsupported, match="CPU only"):
        ENTRIES["numpy.textbook.softmax_shifted"].forward({"x": np.zeros((1, 2))}, "cuda")
    assert all(e.devices == ("cpu",) for e in ENTRIES.values())


def test_the_naive_forms_fail_where_the_shifted_forms_do_not() -> None:
    """The purpose of these entries: the report shows the textbook failure modes."""
    big = {"x": np.array([[1000.0, 0.0]])}
    assert np.isnan(get("numpy.textbook.softmax_unshifted").forward(big, "cpu")).any()
    np.testing.assert_allclose(get("numpy.textbook.softmax_shifted").forward(big, "cpu"), [[1, 0]])
    assert np.isinf(get("numpy.textbook.logsumexp_naive").forward(big, "cpu")).all()
    np.testing.assert_allclose(get("numpy.textbook.logsumexp_shifted").forward(big, "cpu"), [1000])
    assert np.isneginf(get("numpy.textbook.log_softmax_naive").forward(big, "cpu")[0, 1])
    np.testing.assert_allclose(
        get("numpy.textbook.log_softmax_shifted").forward(big, "cpu"), [[0, -1000]]
    )
    ce = {"input": np.array([[1000.0, 0.0]]), "target": np.array([0])}
    assert np.isnan(get("numpy.textbook.cross_entropy_naive").forward(ce, "cpu"))
    assert get("numpy.textbook.cross_entropy_shifted").forward(ce, "cpu") == 0.0


def test_bfloat16_inputs_are_ml_dtypes() -> None:
    out = ENTRIES["numpy.textbook.softmax_shifted"].forward(
        {"x": np.zeros((1, 4), dtype=ml_dtypes.bfloat16)}, "cpu"
    )
    assert out.dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(out.astype(np.float32), np.full((1, 4), 0.25, np.float32))
