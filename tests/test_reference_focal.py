"""sigmoid_focal_loss and softmax_focal_loss of the reference, bit for bit against the
independent oracle of ``tests/pointwise_oracle.py`` in every dtype, with ``out_dtype``,
``alpha``, ``gamma`` (integer and fractional), every reduction and drawn cotangents; special
values; bad input errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

import tests.pointwise_oracle as oracle
from reference.focal import (
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    softmax_focal_loss,
    softmax_focal_loss_grad,
)
from tests.pointwise_oracle import assert_same, in_dtype
from tests.test_reference_binary import NAMES, SHAPES

GAMMAS = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0, 1.5])


def _cotangent(draw: st.DrawFn, kw: dict, shape: tuple[int, ...]) -> None:
    if kw["reduction"] == "none":
        n = int(np.prod(shape))
        g = draw(st.lists(st.integers(-16, 16).map(lambda k: k / 8), min_size=n, max_size=n))
        kw["grad_output"] = np.asarray(g, dtype=np.float64).reshape(shape)
    else:
        kw["grad_output"] = np.asarray(draw(st.sampled_from([1.0, -0.5, 3.0])))


def _case(draw: st.DrawFn, dtype: str, kw: dict, grad: bool, loss_shape: tuple[int, ...]) -> dict:
    """A focal-loss case: ``kw`` (input, target, alpha) completed with a drawn ``gamma``,
    reduction and output format, and for a gradient a cotangent of the unreduced loss's
    ``loss_shape``."""
    out = draw(st.sampled_from([None, *NAMES]))
    kw |= {
        "gamma": draw(GAMMAS),
        "reduction": draw(st.sampled_from(["none", "sum", "mean"])),
        "out_dtype": out,
    }
    if grad:
        _cotangent(draw, kw, loss_shape)
    return {"kw": kw, "dtype": out or dtype}


@st.composite
def sigmoid_cases(draw: st.DrawFn, grad: bool = False) -> dict:
    dtype = draw(st.sampled_from(NAMES))
    shape = draw(SHAPES)
    n = int(np.prod(shape))
    x = draw(
        st.lists(
            st.one_of(
                st.floats(-20, 20),
                st.integers(-4, 4).map(float),
                st.floats(-100, 100),
                st.sampled_from([0.0, 1e-20, -37.5]),
            ),
            min_size=n,
            max_size=n,
        )
    )
    y = draw(
        st.lists(
            st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.integers(0, 64).map(lambda k: k / 64)),
            min_size=n,
            max_size=n,
        )
    )
    kw = {
        "input": in_dtype(x, dtype, shape),
        "target": in_dtype(y, dtype, shape),
        "alpha": draw(st.sampled_from([0.25, 0.5, 0.75, 0.0, 1.0, -1.0])),
    }
    return _case(draw, dtype, kw, grad, shape)


@st.composite
def softmax_cases(draw: st.DrawFn, grad: bool = False) -> dict:
    dtype = draw(st.sampled_from(NAMES))
    C = draw(st.integers(1, 4))
    lead = draw(st.sampled_from([(), (1,), (2,), (3,), (2, "d")]))
    if lead == ():
        shape: tuple[int, ...] = (C,)
        rows_shape: tuple[int, ...] = ()
    elif len(lead) == 2:
        d = draw(st.integers(1, 2))
        shape, rows_shape = (2, C, d), (2, d)
    else:
        shape, rows_shape = (lead[0], C), (lead[0],)
    n = int(np.prod(shape))
    # small integers make ties (equal logits, exact softmax values) frequent
    x = np.asarray(
        draw(
            st.lists(
                st.one_of(st.integers(-3, 3).map(float), st.floats(-30, 30)), min_size=n, max_size=n
            )
        ),
        dtype=np.float64,
    ).reshape(shape)
    index = draw(st.booleans())
    if index:
        t = np.asarray(
            draw(
                st.lists(
                    st.integers(0, C - 1),
                    min_size=max(1, int(np.prod(rows_shape))),
                    max_size=max(1, int(np.prod(rows_shape))),
                )
            )
        ).reshape(rows_shape)
        onehot = np.moveaxis(np.eye(C)[t], -1, 0 if rows_shape == () else 1)
        zero = onehot == 0
        target = t
    else:
        y = np.asarray(
            draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 0.125]), min_size=n, max_size=n)),
            dtype=np.float64,
        ).reshape(shape)
        zero = y == 0
        target = in_dtype(y, dtype, shape)
    if draw(st.booleans()):  # -inf logits on zero-target classes (0 log 0 = 0)
        mask = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n))).reshape(shape)
        x = np.where(zero & mask, -np.inf, x)
    alpha = draw(
        st.one_of(
            st.none(),
            st.sampled_from([0.25, 1.0]),
            st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0]), min_size=C, max_size=C).map(
                np.asarray
            ),
        )
    )
    kw = {"input": in_dtype(x, dtype, shape), "target": target, "alpha": alpha}
    return _case(draw, dtype, kw, grad, rows_shape)


test_matches_oracle = oracle.oracle_test(
    [
        (sigmoid_focal_loss, sigmoid_cases(), 120),
        (sigmoid_focal_loss_grad, sigmoid_cases(grad=True), 100),
        (softmax_focal_loss, softmax_cases(), 120),
        (softmax_focal_loss_grad, softmax_cases(grad=True), 100),
    ]
)


def test_gradient_matching_the_oracle_where_its_terms_nearly_cancel() -> None:
    """At x = 1.00056e-20, y = 1/2 and gamma = 0 the derivative a_t (sigma(x) - y) is about
    x / 8: the oracle's exact -1/4 and its decimal part cancel in 21 digits, and it still
    decides the float64 value (its enclosure is rounded outwards at the working precision)."""
    kw = {
        "input": in_dtype([1.00056e-20], "bfloat16", (1,)),
        "target": in_dtype([0.5], "bfloat16", (1,)),
        "gamma": 0.0,
        "reduction": "none",
        "grad_output": np.array([0.125]),
        "out_dtype": "float64",
    }
    assert_same(sigmoid_focal_loss_grad(**kw), oracle.sigmoid_focal_loss_grad(**kw), "float64")


# ------------------------------------------------------------------------ special values
def test_sigmoid_focal_special_values() -> None:
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, np.nan, np.inf])
    y = np.array([1.0, 0.0, 0.0, 0.5, 1.0, 0.0])
    out = sigmoid_focal_loss(x, y, alpha=0.25)
    assert out[:4].tolist() == [0.0, 0.0, np.inf, np.inf] and np.isnan(out[4])
    # alpha = 1 gives a zero weight to y = 0: zero times an infinite loss is NaN
    assert np.isnan(sigmoid_focal_loss(x[5:], y[5:], alpha=1.0)[0])
    g = sigmoid_focal_loss_grad(x, y)
    assert g[0] == 0 and g[1] == 0 and np.all(np.isnan(g[2:]))


def test_sigmoid_focal_exact_cases() -> None:
    # gamma = 0, x = 0: the derivative a_t (1/2 - y) is rational
    g = sigmoid_focal_loss_grad(
        np.array([0.0], np.float16), np.array([1.0], np.float16), alpha=-1, gamma=0.0
    )
    assert g.tolist() == [-0.5]
    # y = 1/2 at x = 0: sigma - y = 0 and 1 - 2y = 0, an exact zero for every gamma
    g = sigmoid_focal_loss_grad(np.array([0.0]), np.array([0.5]), gamma=0.5)
    assert g.tolist() == [0.0]
    # the loss at huge confident logits underflows to 0 (no NaN from 0^gamma or 0/0)
    out = sigmoid_focal_loss(
        np.array([1e6, -1e6], np.float32), np.array([1.0, 0.0], np.float32), gamma=0.5
    )
    assert out.tolist() == [0.0, 0.0]
    assert sigmoid_focal_loss_grad(
        np.array([1e6], np.float32), np.array([1.0], np.float32), gamma=0.5
    ).tolist() == [0.0]


def test_softmax_focal_special_values() -> None:
    x = np.array(
        [
            [0.0, -np.inf, 1.0],
            [np.inf, 0.0, 0.0],
            [np.nan, 0.0, 0.0],
            [-np.inf, -np.inf, -np.inf],
            [2.0, -np.inf, -np.inf],
        ]
    )
    t = np.array([0, 1, 0, 0, 0])
    out = softmax_focal_loss(x, t, reduction="none")
    assert out[1] == np.inf and np.isnan(out[2]) and np.isnan(out[3]) and out[4] == 0
    assert np.isfinite(out[0])
    g = softmax_focal_loss_grad(x, t, reduction="none")
    assert np.all(np.isnan(g[1:4])) and np.all(g[4] == 0) and np.all(np.isfinite(g[0]))
    # a zero alpha on a class with positive target at -inf: NaN; positive alpha: +inf
    xr = np.array([[0.0, -np.inf]])
    assert np.isnan(softmax_focal_loss(xr, np.array([1]), alpha=np.array([1.0, 0.0])))
    assert softmax_focal_loss(xr, np.array([1])) == np.inf
    # equal logits and equal coefficients: an exactly zero gradient
    g = softmax_focal_loss_grad(np.zeros((1, 4)), np.full((1, 4), 0.25), gamma=0.5)
    assert np.all(g == 0)


def test_softmax_focal_unbatched_and_spatial() -> None:
    x = np.array([0.5, -1.0, 2.0])
    assert softmax_focal_loss(x, np.array(2), reduction="none").shape == ()
    assert softmax_focal_loss_grad(x, np.array(2)).shape == (3,)
    xs = np.zeros((2, 3, 4))
    assert softmax_focal_loss(xs, np.zeros((2, 4), np.int64), reduction="none").shape == (2, 4)
    assert softmax_focal_loss_grad(xs, np.zeros((2, 4), np.int64)).shape == (2, 3, 4)


def test_large_inputs_are_vectorised() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, 100_000).astype(np.float32)
    y = rng.integers(0, 2, 100_000).astype(np.float32)
    got = sigmoid_focal_loss(x, y, out_dtype="float64")
    xd, yd = x.astype(np.float64), y.astype(np.float64)

    # float64 without cancellation: ce and 1 - p_t as sums of positive terms
    def sp(z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))

    ce = yd * sp(-xd) + (1 - yd) * sp(xd)
    q = yd / (1 + np.exp(xd)) + (1 - yd) / (1 + np.exp(-xd))
    approx = ce * q**2 * (0.25 * yd + 0.75 * (1 - yd))
    assert np.max(np.abs(got - approx) / np.maximum(approx, 1e-300)) < 1e-12
    xs = rng.normal(0, 3, (20_000, 5)).astype(np.float32)
    t = rng.integers(0, 5, 20_000)
    assert np.isfinite(softmax_focal_loss(xs, t))
    assert np.all(np.isfinite(softmax_focal_loss_grad(xs, t)))


def test_focal_bad_inputs() -> None:
    x = np.zeros(3)
    with pytest.raises(ValueError, match="gamma"):
        sigmoid_focal_loss(x, x, gamma=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        sigmoid_focal_loss(x, x, alpha=np.inf)
    with pytest.raises(ValueError, match="target"):
        sigmoid_focal_loss(x, np.array([0.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="reduction"):
        sigmoid_focal_loss(x, x, reduction="batchmean")
    xs = np.zeros((2, 3))
    with pytest.raises(ValueError, match="out of bounds"):
        softmax_focal_loss(xs, np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        softmax_focal_loss(xs, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="alpha"):
        softmax_focal_loss(xs, np.array([0, 1]), alpha=np.ones(2))
    with pytest.raises(ValueError, match="gamma"):
        softmax_focal_loss(xs, np.array([0, 1]), gamma=np.nan)
