"""nll_loss, cross_entropy and their VJPs: bit-exact against the independent oracle
(tests/reference_oracle.py) with every option, the special-value table of the contract, and bad
input.  Semantics: https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from tests import reference_oracle as oracle
from tests.reference_cases import DTYPES, arrays, assert_same, out_dtypes, resolve

FORMATS = list(DTYPES)
REDUCTIONS = ["none", "sum", "mean"]
INF, NAN = math.inf, math.nan


@st.composite
def problems(draw: st.DrawFn, probs: bool = False, neg_inf: bool = False) -> dict:
    """Input (C,), (N, C) or (N, C, d1, d2); index or probability targets; options."""
    name = draw(st.sampled_from(FORMATS))
    C = draw(st.integers(1, 5))
    layout = draw(st.sampled_from(["unbatched", "batched", "kdim"]))
    N = draw(st.integers(1, 3))
    shape = {"unbatched": (C,), "batched": (N, C), "kdim": (N, C, 2, 1)}[layout]
    x = draw(arrays(name, shape, draw(st.booleans()), neg_inf))
    rest = () if layout == "unbatched" else (N, *shape[2:])
    ignore_index = draw(st.sampled_from([-100, 0, 1]))
    if probs:
        t = draw(arrays(name, shape, wide=False)).astype(np.float64)
        t = np.abs(t) * draw(st.sampled_from([1.0, 0.0625]))
        t = np.where(draw(arrays(name, shape, wide=False)).astype(np.float64) > 0, t, 0.0)
        target = t.astype(DTYPES[name])  # exact zeros included
    else:
        n = int(np.prod(rest))  # 1 for the unbatched () target
        idx = draw(st.lists(st.integers(0, C - 1) | st.just(ignore_index), min_size=n, max_size=n))
        target = np.array(idx, dtype=np.int64).reshape(rest)
        target = np.where((target >= C) | ((target < 0) & (target != ignore_index)), 0, target)
    weight = None
    if draw(st.booleans()):
        w = draw(
            st.lists(st.sampled_from([1.0, 0.5, 2.0, 0.1, 3.0, 1e-3, 0.0]), min_size=C, max_size=C)
        )
        weight = np.array(w).astype(DTYPES[name])
    kw = {
        "weight": weight,
        "reduction": draw(st.sampled_from(REDUCTIONS)),
        "label_smoothing": draw(st.sampled_from([0.0, 0.0, 0.1, 0.25, 1.0])),
        "out_dtype": draw(out_dtypes()),
    }
    if not probs:
        kw["ignore_index"] = ignore_index
    return {"name": name, "x": x, "target": target, "kw": kw}


def _check(func: str, p: dict, grad: bool, data: st.DataObject | None = None) -> None:
    kw = dict(p["kw"])
    if func == "nll_loss":
        kw.pop("label_smoothing")
    if grad and data is not None and data.draw(st.booleans()):
        shape = (
            ()
            if kw["reduction"] != "none"
            else np.shape(reference.__dict__[func](p["x"], p["target"], **kw))
        )
        kw["grad_output"] = data.draw(arrays(p["name"], shape, wide=False))
    f = func + "_grad" if grad else func
    got = getattr(reference, f)(p["x"], p["target"], **kw)
    expected = getattr(oracle, f)(p["x"], p["target"], **kw)
    assert_same(got, expected, resolve(kw["out_dtype"], p["name"]), f)


@settings(max_examples=80)
@given(p=problems())
def test_cross_entropy_index_targets(p: dict) -> None:
    _check("cross_entropy", p, grad=False)


@settings(max_examples=60)
@given(p=problems(), data=st.data())
def test_cross_entropy_grad_index_targets(p: dict, data: st.DataObject) -> None:
    _check("cross_entropy", p, grad=True, data=data)


@settings(max_examples=50)
@given(p=problems(probs=True))
def test_cross_entropy_probability_targets(p: dict) -> None:
    _check("cross_entropy", p, grad=False)


@settings(max_examples=40)
@given(p=problems(probs=True), data=st.data())
def test_cross_entropy_grad_probability_targets(p: dict, data: st.DataObject) -> None:
    _check("cross_entropy", p, grad=True, data=data)


@settings(max_examples=40)
@given(p=problems(neg_inf=True), data=st.data())
def test_cross_entropy_with_masked_logits(p: dict, data: st.DataObject) -> None:
    _check("cross_entropy", p, grad=False)
    _check("cross_entropy", p, grad=True, data=data)


@settings(max_examples=60)
@given(p=problems(), data=st.data())
def test_nll_loss_and_grad(p: dict, data: st.DataObject) -> None:
    _check("nll_loss", p, grad=False)
    _check("nll_loss", p, grad=True, data=data)


# ------------------------------------------- regressions of bugs found by these tests
@pytest.mark.parametrize("what", ["loss", "grad"])
def test_nll_loss_product_tie(what: str) -> None:
    """w x = (1 + 2^-11) + 2^-63 - 2^-104 with x = 1 + 2^-11 - 2^-52, w = 1 + 2^-52: its
    float64 rounding is the float16 midpoint 1 + 2^-11, the exact value lies above it, so
    -w x rounds to -(1 + 2^-10), not to the even -1."""
    x = np.array([[1 + 2.0**-11 - 2.0**-52, 0.0]])
    w = np.array([1 + 2.0**-52, 1.0])
    t = np.array([0])
    if what == "loss":
        got = reference.nll_loss(x, t, weight=w, reduction="none", out_dtype=np.float16)
        assert float(got[0]) == -(1 + 2.0**-10)
    else:
        got = reference.nll_loss_grad(
            np.zeros((1, 2)),
            t,
            weight=np.array([x[0, 0], 1.0]),
            reduction="sum",
            grad_output=np.array(w[0]),
            out_dtype=np.float16,
        )
        assert float(got[0, 0]) == -(1 + 2.0**-10)


def test_zero_weight_masked_non_target_class() -> None:
    x = np.array([[0.0, -INF]])
    got = reference.cross_entropy(x, np.array([0]), weight=np.array([1.0, 0.0]), reduction="none")
    assert got[0] == 0.0


def test_midpoint_plus_a_far_term() -> None:
    """CE = 8196 + log1p(e^-8196): 8196 is the float16 midpoint between 8192 and 8200."""
    x = np.array([[0.0, -8196.0]], dtype=np.float32)
    got = reference.cross_entropy(x, np.array([1]), reduction="none", out_dtype=np.float16)
    assert float(got[0]) == 8200.0


# -------------------------------------------------------------------- special values
def test_special_value_table_index_targets() -> None:
    x = np.array(
        [
            [0.0, -INF, 1.0],  # masked non-target class: finite
            [-INF, 0.0, 1.0],  # target class masked: +inf
            [NAN, 0.0, 1.0],  # NaN row
            [INF, 0.0, 1.0],  # single +inf at the target: 0
            [0.0, INF, 1.0],  # single +inf elsewhere: +inf
            [INF, INF, 0.0],  # two +inf: NaN
            [-INF, -INF, -INF],  # all masked: NaN
            [NAN, INF, -INF],  # ignored: contributes exactly 0, whatever it holds
        ]
    )
    t = np.array([0, 0, 0, 0, 0, 0, 0, -100])
    loss = reference.cross_entropy(x, t, reduction="none")
    assert np.isfinite(loss[0]) and loss[1] == INF and np.isnan(loss[2])
    assert loss[3] == 0 and loss[4] == INF and np.isnan(loss[5]) and np.isnan(loss[6])
    assert loss[7] == 0
    grad = reference.cross_entropy_grad(x, t, reduction="none")
    assert np.isfinite(grad[0]).all() and np.isnan(grad[[1, 2, 4, 5, 6]]).all()
    assert np.all(grad[3] == 0) and np.all(grad[7] == 0)
    # other rows keep their gradients when one row is +inf/NaN (reduction sum)
    g_sum = reference.cross_entropy_grad(x, t, reduction="sum")
    assert np.array_equal(g_sum[0], grad[0]) and np.isnan(g_sum[1]).all()
    assert reference.cross_entropy(x[[0, 3, 7]], t[[0, 3, 7]], reduction="sum") == loss[0]
    assert reference.cross_entropy(x[[0, 1]], t[[0, 1]], reduction="mean") == INF
    assert np.isnan(reference.cross_entropy(x[[0, 2]], t[[0, 2]], reduction="sum"))
    for red in REDUCTIONS:
        assert_same(
            reference.cross_entropy(x, t, reduction=red),
            oracle.cross_entropy(x, t, reduction=red),
            np.float64,
            red,
        )
        assert_same(
            reference.cross_entropy_grad(x, t, reduction=red),
            oracle.cross_entropy_grad(x, t, reduction=red),
            np.float64,
            red,
        )


def test_label_smoothing_makes_any_masked_class_infinite() -> None:
    x = np.array([[0.0, -INF, 1.0]])
    assert np.isfinite(reference.cross_entropy(x, np.array([0]), reduction="sum"))
    assert reference.cross_entropy(x, np.array([0]), reduction="sum", label_smoothing=0.1) == INF


def test_probability_targets_zero_log_zero() -> None:
    x = np.array([[0.0, -INF, 1.0], [2.0, -INF, -INF]])
    y = np.array([[0.25, 0.0, 0.75], [1.0, 0.0, 0.0]])
    loss = reference.cross_entropy(x, y, reduction="none")
    assert np.isfinite(loss).all() and loss[1] == 0
    y2 = np.array([[0.25, 0.25, 0.5], [1.0, 0.0, 0.0]])
    assert reference.cross_entropy(x, y2, reduction="none")[0] == INF
    assert_same(loss, oracle.cross_entropy(x, y, reduction="none"), np.float64)
    assert_same(
        reference.cross_entropy_grad(x, y, reduction="mean"),
        oracle.cross_entropy_grad(x, y, reduction="mean"),
        np.float64,
    )


@pytest.mark.parametrize("func", ["cross_entropy", "nll_loss"])
def test_mean_over_zero_total_weight_is_nan(func: str) -> None:
    x = np.array([[1.0, 2.0], [3.0, -1.0]], dtype=np.float32)
    t = np.array([-100, -100])
    f = getattr(reference, func)
    assert np.isnan(f(x, t, reduction="mean"))
    assert f(x, t, reduction="sum") == 0
    g = getattr(reference, func + "_grad")(x, t, reduction="mean")
    assert np.all(g == 0)  # every row ignored: exactly 0
    w = np.array([0.0, 1.0], dtype=np.float32)
    t0 = np.array([0, 0])
    assert np.isnan(f(x, t0, weight=w, reduction="mean"))
    g0 = getattr(reference, func + "_grad")(x, t0, weight=w, reduction="mean")
    assert np.isnan(g0[:, 0]).all()


def test_nll_loss_infinite_inputs() -> None:
    x = np.array([[-INF, 0.0], [1.0, NAN], [INF, 0.0]])
    t = np.array([0, 0, 1])
    assert list(reference.nll_loss(x, t, reduction="none")) == [INF, -1.0, -0.0]
    assert reference.nll_loss(x, t, reduction="sum") == INF
    g = reference.nll_loss_grad(x, t, reduction="sum")
    assert g.tolist() == [[-1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("func", ["cross_entropy", "nll_loss"])
def test_bad_input_is_rejected_with_a_clear_message(func: str) -> None:
    f = getattr(reference, func)
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match="target"):
        f(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="target"):
        f(x, np.array([0, -2]))
    with pytest.raises(ValueError, match="target"):
        f(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="weight"):
        f(x, np.array([0, 1]), weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        f(x, np.array([0, 1]), reduction="average")
    with pytest.raises(TypeError, match="input"):
        f(np.zeros((2, 3), dtype=np.int32), np.array([0, 1]))
    with pytest.raises(TypeError, match="format"):
        f(x, np.array([0, 1]), out_dtype=np.int8)
    with pytest.raises(ValueError, match="input"):
        f(np.array(1.0), np.array(0))
    if func == "cross_entropy":
        for eps in (-0.1, 1.5):
            with pytest.raises(ValueError, match="label_smoothing"):
                f(x, np.array([0, 1]), label_smoothing=eps)
        with pytest.raises(ValueError, match="target"):
            f(x, np.zeros((2, 4)))
    else:
        with pytest.raises(TypeError, match="target"):
            f(x, np.zeros((2, 3)))


@pytest.mark.parametrize("func", ["cross_entropy_grad", "nll_loss_grad"])
def test_grad_output_shape_is_checked(func: str) -> None:
    f = getattr(reference, func)
    x, t = np.zeros((2, 3)), np.array([0, 1])
    with pytest.raises(ValueError, match="grad_output"):
        f(x, t, reduction="sum", grad_output=np.ones(2))
    with pytest.raises(ValueError, match="grad_output"):
        f(x, t, reduction="none", grad_output=np.ones(3))
