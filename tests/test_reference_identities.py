"""Exact mathematical identities the correctly rounded reference must reproduce bit for bit."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from tests import reference_oracle as oracle
from tests.reference_cases import DTYPES, arrays, assert_same

FORMATS = list(DTYPES)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("C", [1, 2, 3, 4, 7, 8, 1000])
def test_uniform_logits(name: str, C: int) -> None:
    """LSE(m, ..., m) = m + log C; softmax = 1/C, exactly 2^-k when C = 2^k."""
    m = 1.5
    x = np.full((1, C), m).astype(DTYPES[name])
    lse = oracle.decide(lambda: oracle.Real(Fraction(C)).log() + Fraction(m), name)
    assert float(reference.logsumexp(x)[0]) == lse
    sm = reference.softmax(x).astype(np.float64)
    assert np.all(sm == oracle.round_fraction(Fraction(1, C), name))
    if C & (C - 1) == 0:
        assert np.all(sm == 1.0 / C)
    # uniform rows have exactly rational gradients: y_i (g_i - mean g), g_i - G / C
    if C > 8:
        return  # the oracle's softmax_grad is quadratic in C
    g = np.arange(C, dtype=np.float64).reshape(1, C).astype(DTYPES[name])
    assert_same(
        reference.softmax_grad(x, grad_output=g),
        oracle.softmax_grad(x, grad_output=g),
        DTYPES[name],
    )
    assert_same(
        reference.log_softmax_grad(x, grad_output=g),
        oracle.log_softmax_grad(x, grad_output=g),
        DTYPES[name],
    )


@pytest.mark.parametrize("name", FORMATS)
def test_single_class(name: str) -> None:
    x = np.array([[3.25], [-7.0], [0.0]]).astype(DTYPES[name])
    assert np.all(reference.log_softmax(x).astype(np.float64) == 0)
    assert np.all(reference.softmax(x).astype(np.float64) == 1)
    assert np.array_equal(reference.logsumexp(x).astype(np.float64), x[:, 0].astype(np.float64))
    t = np.zeros(3, dtype=np.int64)
    for red in ("none", "sum", "mean"):
        assert np.all(reference.cross_entropy(x, t, reduction=red).astype(np.float64) == 0)
        assert np.all(reference.cross_entropy_grad(x, t, reduction=red).astype(np.float64) == 0)


@settings(max_examples=60)
@given(st.sampled_from(FORMATS), st.data())
def test_two_classes_are_softplus(name: str, data) -> None:  # type: ignore[no-untyped-def]
    """CE([a, b], 0) = softplus(b - a) = log(1 + e^(b - a)), evaluated by the oracle from
    that formula (not from its log-sum-exp)."""
    x = data.draw(arrays(name, (1, 2), wide=False))
    a, b = (Fraction(float(v)) for v in x[0])

    def softplus() -> oracle.Real:
        d = b - a
        if d > 0:  # log(1 + e^d) = d + log(1 + e^-d)
            return oracle.Real(-d).exp().log1p() + d
        return oracle.Real(d).exp().log1p()

    expected = oracle.decide(softplus, name)
    got = reference.cross_entropy(x, np.array([0]), reduction="sum")
    assert float(got) == expected


@settings(max_examples=60)
@given(st.sampled_from(FORMATS), st.integers(-20, 20), st.data())
def test_exact_shift_leaves_log_softmax_unchanged(name: str, k: int, data) -> None:  # type: ignore[no-untyped-def]
    """x + c for a c that makes every x_i + c exact in the format: identical log_softmax and
    softmax bits (the functions are shift-invariant and the reference rounds the exact value)."""
    x = data.draw(arrays(name, (2, 3), wide=False))
    x64 = x.astype(np.float64)
    c = float(k)
    shifted = (x64 + c).astype(DTYPES[name])
    if not np.array_equal(shifted.astype(np.float64), x64 + c):
        return  # the shift is not exact in this format for these values
    for f in ("log_softmax", "softmax", "softmax_grad", "log_softmax_grad"):
        a = getattr(reference, f)(x)
        b = getattr(reference, f)(shifted)
        assert_same(b, a.astype(np.float64), a.dtype, f)
    lse = reference.logsumexp(x).astype(np.float64)
    lse_s = reference.logsumexp(shifted, out_dtype="float64")
    # LSE shifts by c exactly in the exact arithmetic; compare through the oracle
    assert_same(lse_s, oracle.logsumexp(shifted, out_dtype="float64"), np.float64)
    assert lse.shape == lse_s.shape


@settings(max_examples=40)
@given(st.sampled_from(FORMATS), st.data())
def test_index_target_gradient_rows_sum_to_zero(name: str, data) -> None:  # type: ignore[no-untyped-def]
    """sum_i (y_i - [i = t]) = 0 exactly: the rounded row sums are within n ulp of 0 (each
    element is off by at most half an ulp of itself), and where the oracle finds every term
    rational (equal logits) the row is exactly 0."""
    C = data.draw(st.integers(2, 6))
    x = data.draw(arrays(name, (3, C), wide=False))
    t = np.array(data.draw(st.lists(st.integers(0, C - 1), min_size=3, max_size=3)))
    g = reference.cross_entropy_grad(x, t, reduction="sum", out_dtype="float64")
    spacing = np.spacing(np.abs(g)).sum(axis=1)
    sums = np.array([float(sum(Fraction(float(v)) for v in row)) for row in g])
    assert np.all(np.abs(sums) <= spacing * C)
    equal = np.all(x == x[:, :1], axis=1)
    assert np.all(sums[equal] == 0)


def test_zero_cotangent_gives_exact_zeros() -> None:
    x = np.array([[0.3, -2.0, 5.0]])
    for f, shape in (
        ("softmax_grad", x.shape),
        ("log_softmax_grad", x.shape),
        ("logsumexp_grad", (1,)),
    ):
        assert np.all(getattr(reference, f)(x, grad_output=np.zeros(shape)) == 0)
    assert np.all(
        reference.cross_entropy_grad(x, np.array([1]), reduction="sum", grad_output=np.array(0.0))
        == 0
    )
