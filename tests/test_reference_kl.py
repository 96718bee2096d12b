"""kl_div of the reference, bit for bit against the independent oracle of
``tests/pointwise_oracle.py`` in every dtype, with ``out_dtype``, ``log_target``, every
reduction (batchmean included) and drawn cotangents; special values; bad input errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

import tests.pointwise_oracle as oracle
from reference.kl import kl_div, kl_div_grad
from tests.pointwise_oracle import DTYPES, assert_same, in_dtype
from tests.test_reference_binary import NAMES, SHAPES


@st.composite
def kl_cases(draw: st.DrawFn, grad: bool = False) -> dict:
    dtype = draw(st.sampled_from(NAMES))
    shape = draw(SHAPES)
    n = int(np.prod(shape))
    log_target = draw(st.booleans())
    x = draw(
        st.lists(
            st.one_of(st.floats(-40, 5), st.sampled_from([0.0, -1.0, -30.0])),
            min_size=n,
            max_size=n,
        )
    )
    if log_target:
        t = draw(
            st.lists(
                st.one_of(st.floats(-40, 2), st.sampled_from([0.0, -np.inf])),
                min_size=n,
                max_size=n,
            )
        )
        if draw(st.booleans()):  # t = x: an exact zero
            t = [xv if k % 2 else tv for k, (xv, tv) in enumerate(zip(x, t, strict=True))]
    else:
        t = draw(
            st.lists(
                st.one_of(
                    st.integers(0, 16).map(lambda k: k / 16),
                    st.floats(0, 1),
                    st.sampled_from([0.0, 1.0, 1e-30]),
                ),
                min_size=n,
                max_size=n,
            )
        )
    reduction = draw(st.sampled_from(["none", "sum", "mean", "batchmean"]))
    out = draw(st.sampled_from([None, *NAMES]))
    kw = {
        "input": in_dtype(x, dtype, shape),
        "target": in_dtype(t, dtype, shape),
        "reduction": reduction,
        "log_target": log_target,
        "out_dtype": out,
    }
    if grad:
        if reduction == "none":
            g = draw(st.lists(st.integers(-16, 16).map(lambda k: k / 8), min_size=n, max_size=n))
            kw["grad_output"] = np.asarray(g).reshape(shape)
        else:
            kw["grad_output"] = np.asarray(draw(st.sampled_from([1.0, -0.5, 3.0])))
    return {"kw": kw, "dtype": out or dtype}


test_matches_oracle = oracle.oracle_test(
    [(kl_div, kl_cases(), 150), (kl_div_grad, kl_cases(grad=True), 120)]
)


def test_kl_special_values() -> None:
    x = np.array([-np.inf, np.inf, -np.inf, 0.5, np.nan, 0.0])
    t = np.array([0.0, 0.0, 0.5, -0.5, 0.5, 1.0])
    out = kl_div(x, t, reduction="none")
    assert out[0] == 0 and out[1] == 0  # 0 log 0 = 0 whatever the input
    assert out[2] == np.inf
    assert np.isnan(out[3]) and np.isnan(out[4])
    assert out[5] == 0  # t = 1, x = 0: exactly 0
    g = kl_div_grad(x, t, reduction="none")
    assert g[0] == 0 and g[1] == 0 and g[5] == -1
    assert np.all(np.isnan(g[2:5]))
    # log_target: t = -inf is a zero probability
    out = kl_div(
        np.array([np.inf, 1.0]), np.array([-np.inf, 0.0]), reduction="none", log_target=True
    )
    assert out.tolist() == [0.0, -1.0]
    assert np.isnan(kl_div(x, t, reduction="sum"))
    assert kl_div(x[[0, 2]], t[[0, 2]], reduction="batchmean") == np.inf


def test_kl_reductions_divisors() -> None:
    x = np.zeros((2, 3), np.float32)
    t = np.full((2, 3), 0.5, np.float32)
    for red in ("sum", "mean", "batchmean"):
        want = oracle.kl_div(x, t, reduction=red, out_dtype="float64")
        assert_same(kl_div(x, t, reduction=red, out_dtype="float64"), want, "float64")
    # batchmean divides by N = 2, mean by the 6 elements: -t / N and -t / 6 exactly rounded
    assert np.all(kl_div_grad(x, t, reduction="batchmean") == np.float32(-0.25))
    assert np.all(kl_div_grad(x, t, reduction="mean") == np.float32(-0.5 / 6))
    # the mean over zero elements is 0/0
    assert np.isnan(kl_div(np.zeros((0, 2)), np.zeros((0, 2)), reduction="mean"))


def test_kl_bad_inputs() -> None:
    x = np.zeros(3)
    with pytest.raises(ValueError, match="reduction"):
        kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        kl_div(x, np.zeros(2))
    with pytest.raises(TypeError):
        kl_div(np.zeros(3, np.int32), x)
    with pytest.raises(ValueError, match="grad_output"):
        kl_div_grad(x, x, reduction="none", grad_output=np.ones(2))


def test_kl_large_input() -> None:
    rng = np.random.default_rng(3)
    x = np.log(rng.dirichlet(np.ones(8), 25_000)).astype(np.float32)
    t = rng.dirichlet(np.ones(8), 25_000).astype(np.float32)
    got = float(kl_div(x, t, reduction="batchmean", out_dtype="float64"))
    xd, td = x.astype(np.float64), t.astype(np.float64)
    assert got == pytest.approx(np.sum(td * (np.log(td) - xd)) / 25_000, rel=1e-12)
    assert kl_div(x, t, reduction="none").dtype == DTYPES["float32"]
