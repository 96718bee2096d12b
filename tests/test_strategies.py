"""verify.strategies: exact values in every dtype, capabilities respected, precise errors."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from verify.judge.ulp import FORMATS
from verify.registry.base import Capabilities, Implementation
from verify.strategies import (
    LOGIT_STYLES,
    cases,
    class_weights,
    exact_floats,
    index_targets,
    logits,
    probability_targets,
)

FAST = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
DTYPES = ["float16", "bfloat16", "float32", "float64"]


def entry(op: str, **caps: object) -> Implementation:
    return Implementation(
        name=f"t.{op}",
        framework="numpy",
        op=op,
        forward=lambda kw, device: np.zeros(()),
        capabilities=Capabilities(**caps),
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", DTYPES)
@FAST
@given(data=st.data())
def test_exact_floats_are_exact_and_in_range(dtype: str, data: st.DataObject) -> None:
    fmt = FORMATS[dtype]
    v = data.draw(exact_floats(dtype), label="value")
    arr = np.asarray(v).astype(fmt.dtype)
    assert float(arr.astype(np.float64)) == v
    assert abs(v) <= fmt.max_finite


@pytest.mark.parametrize("style", LOGIT_STYLES)
@FAST
@given(data=st.data())
def test_logit_styles(style: str, data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    x = data.draw(logits(dtype, (3, 5), style=style), label="x")
    assert x.shape == (3, 5)
    assert x.dtype == FORMATS[dtype].dtype
    f = x.astype(np.float64)
    if style not in ("masked", "special"):
        assert np.all(np.isfinite(f))
    if style == "masked":
        assert not np.any(np.isnan(f)) and np.all(np.any(np.isfinite(f), axis=-1))
    if style == "subnormal":
        assert np.all(np.abs(f) < FORMATS[dtype].min_normal)


@FAST
@given(data=st.data())
def test_large_vocabulary_rows_are_cheap(data: st.DataObject) -> None:
    x = data.draw(logits("bfloat16", (1, 32000), style="spread"), label="x")
    assert x.dtype == np.dtype(ml_dtypes.bfloat16) and x.shape == (1, 32000)


@FAST
@given(data=st.data())
def test_index_targets_and_ignore(data: st.DataObject) -> None:
    t = data.draw(index_targets(5, (4, 2), ignore_index=-100, min_valid=1), label="t")
    assert t.dtype == np.int64 and t.shape == (4, 2)
    assert np.all((t == -100) | ((t >= 0) & (t < 5)))
    assert np.sum(t != -100) >= 1


@FAST
@given(data=st.data())
def test_probability_targets(data: st.DataObject) -> None:
    q = data.draw(probability_targets("float32", (3, 4, 2), class_axis=1), label="q")
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["accuracy", "special", "extreme", "moderate"])
@FAST
@given(data=st.data())
def test_cases_respect_capabilities(dtype: str, kind: str, data: st.DataObject) -> None:
    narrow = entry("cross_entropy", target="index", reductions=("mean",))
    kw = data.draw(cases(narrow, dtype, kind, "quick"), label="kwargs")
    assert set(kw) <= {"input", "target", "reduction"}
    assert kw["reduction"] == "mean"
    wide = entry(
        "cross_entropy",
        target="index",
        class_weight=True,
        ignore_index=True,
        label_smoothing=True,
        kdim=True,
    )
    kw = data.draw(cases(wide, dtype, kind, "quick"), label="kwargs")
    assert kw["input"].dtype == FORMATS[dtype].dtype
    assert kw["target"].shape == (kw["input"].shape[0], *kw["input"].shape[2:])
    eps = kw.get("label_smoothing", 0.0)
    assert eps == float(np.asarray(eps).astype(FORMATS["bfloat16"].dtype))


@pytest.mark.parametrize(
    "op",
    [
        "softmax",
        "log_softmax",
        "logsumexp",
        "nll_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "sigmoid_focal_loss",
        "softmax_focal_loss",
        "kl_div",
        "linear_cross_entropy",
    ],
)
@FAST
@given(data=st.data())
def test_cases_for_every_op(op: str, data: st.DataObject) -> None:
    impl = entry(
        op,
        target="index",
        axis=True,
        log_target=True,
        pos_weight=True,
        extra=("alpha", "gamma", "linear_bias"),
    )
    kw = data.draw(cases(impl, "float32", "accuracy", "quick"), label="kwargs")
    main = kw.get("x", kw.get("input"))
    assert main.dtype == np.float32
    if op == "binary_cross_entropy":
        assert np.all((main >= 0) & (main <= 1))


def test_argument_errors_are_precise() -> None:
    with pytest.raises(InvalidArgument, match=r"dtype='float8' must be one of"):
        logits("float8", (2, 3)).validate()
    with pytest.raises(InvalidArgument, match=r"style='loud' must be one of"):
        logits("float32", (2, 3), style="loud").validate()
    with pytest.raises(InvalidArgument, match=r"shape=\(2, 0\) must be"):
        logits("float32", (2, 0)).validate()
    with pytest.raises(InvalidArgument, match=r"num_classes=0 must be at least 1"):
        index_targets(0, (3,)).validate()
    with pytest.raises(InvalidArgument, match=r"kind='fuzzy' must be one of"):
        cases(entry("softmax"), "float32", "fuzzy").validate()
    with pytest.raises(InvalidArgument, match=r"unknown profile 'huge'"):
        cases(entry("softmax"), "float32", "accuracy", "huge").validate()
    with pytest.raises(InvalidArgument, match=r"impl.op='hinge'"):
        cases(entry("hinge"), "float32").validate()
    with pytest.raises(InvalidArgument, match="num_classes"):
        class_weights("float32", -1).validate()
