"""verify.strategies: exact values in every dtype, capabilities respected, precise errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.fast_settings import fast
from verify import ops
from verify.judge.ulp import FORMATS
from verify.registry.base import Capabilities, Implementation
from verify.strategies import (
    LOGIT_STYLES,
    binary_targets,
    cases,
    class_weights,
    exact_floats,
    grad_outputs,
    grid_floats,
    ignore_indices,
    index_targets,
    logits,
    probabilities,
    probability_targets,
)

FAST = fast(25)
DTYPES = list(ops.DTYPES)


def entry(op: str, **caps: object) -> Implementation:
    return Implementation(
        name=f"t.{op}",
        framework="numpy",
        op=op,
        forward=lambda kw, device: np.zeros(()),
        capabilities=Capabilities(**caps),
    )


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


@pytest.mark.parametrize("op", list(ops.OPS))
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


#: invalid arguments of the public strategies, and the precise error each raises (the message
#: names the argument and its value, and says what is expected)
INVALID_ARGUMENTS = [
    (lambda: logits("float8", (2, 3)), r"^dtype='float8' must be one of \('float16', "),
    (lambda: logits(np.int32, (2, 3)), r"^dtype=<class 'numpy.int32'> must be one of"),
    (lambda: logits("float32", (2, 3), style="loud"), r"^style='loud' must be one of \("),
    (lambda: logits("float32", (2, 0)), r"^shape=\(2, 0\) must be a non-empty tuple of positive"),
    (lambda: logits("float32", ()), r"^shape=\(\) must be a non-empty tuple of positive ints$"),
    (lambda: logits("float32", (2, 3.0)), r"^shape=\(2, 3.0\) must be a non-empty tuple of"),
    (lambda: logits("float32", (2, True)), r"^shape=\(2, True\) must be a non-empty tuple"),
    (lambda: logits("float32", 7), r"^shape=7 must be a non-empty tuple of positive ints$"),
    (
        lambda: logits("float32", (2, 3), class_axis=2),
        r"^class_axis=2 is out of range for shape \(2, 3\)$",
    ),
    (lambda: index_targets(0, (3,)), r"^num_classes=0 must be at least 1$"),
    (lambda: index_targets(2.5, (3,)), r"^num_classes=2.5 must be an integer$"),
    (lambda: index_targets(4, (3, -1)), r"^shape=\(3, -1\) must be a tuple of positive ints$"),
    (lambda: index_targets(4, (3,), min_valid=4), r"^min_valid=4 must be between 0 and 3$"),
    (
        lambda: probability_targets("float32", ()),
        r"^shape=\(\) must be a non-empty tuple of positive ints$",
    ),
    (
        lambda: probability_targets("float32", (2, 3), class_axis=-3),
        r"^class_axis=-3 is out of range for shape \(2, 3\)$",
    ),
    (lambda: binary_targets("float32", (0, 3)), r"^shape=\(0, 3\) must be a tuple of positive"),
    (lambda: probabilities("float64", (2, -3)), r"^shape=\(2, -3\) must be a tuple of positive"),
    (lambda: class_weights("float32", -1), r"^num_classes=-1 must be at least 1$"),
    (lambda: class_weights("int8", 3), r"^dtype='int8' must be one of"),
    (lambda: ignore_indices(0), r"^num_classes=0 must be at least 1$"),
    (
        lambda: exact_floats("float16", min_exponent=3, max_exponent=2),
        r"^min_exponent=3 must not exceed max_exponent=2$",
    ),
    (lambda: grid_floats("float32", 0.0, 1.0, 0.3), r"^step=0.3 must be a positive power of two$"),
    (lambda: grid_floats("float32", 0.0, 1.0, -0.5), r"^step=-0.5 must be a positive power of two"),
    (lambda: grid_floats("float32", 2.0, 1.0, 0.5), r"^low=2.0 must not exceed high=1.0$"),
    (
        lambda: grid_floats("float16", 0.0, 4096.0, 0.5),
        r"^values up to 4096.0 on a grid of 0.5 do not fit the 11-bit significand of float16$",
    ),
    (lambda: cases(entry("softmax"), "float32", "fuzzy"), r"^kind='fuzzy' must be one of \("),
    (
        lambda: cases(entry("softmax"), "float32", "accuracy", "huge"),
        r"^unknown profile 'huge'; expected one of quick, default, thorough$",
    ),
    (
        lambda: cases(entry("hinge"), "float32"),
        r"^impl.op='hinge' is not an op the strategies know$",
    ),
    (
        lambda: cases(entry("softmax"), "float32", "large_vocabulary", "quick"),
        r"^profile 'quick' draws no large vocabularies\b",
    ),
]


@pytest.mark.parametrize(("make", "message"), INVALID_ARGUMENTS)
def test_invalid_arguments_raise_precise_errors(
    make: Callable[[], st.SearchStrategy[Any]], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        strategy = make()
        strategy.validate()
        # some errors are found when a value is drawn (sizes depend on the profile)
        find(strategy, lambda _: True, settings=settings(database=None, max_examples=1))


# --- strategies built inside a draw are built once ------------------------------------------

#: builders called inside draws, each with two calls that must give one object (arguments
#: spelled differently but equal) and a third, different call
_BUILDERS: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[], Any]]] = [
    (
        "logits",
        lambda: logits("float32", (2, 3), style="ties"),
        lambda: logits(np.dtype("float32"), [2, 3], style="ties"),
        lambda: logits("float32", (2, 3), style="near_ties"),
    ),
    (
        "exact_floats",
        lambda: exact_floats("bfloat16", min_exponent=-6, max_exponent=2),
        lambda: exact_floats("bfloat16", min_exponent=-6, max_exponent=2),
        lambda: exact_floats("float16", min_exponent=-6, max_exponent=2),
    ),
    (
        "index_targets",
        lambda: index_targets(5, (2, 3), ignore_index=-100, min_valid=1),
        lambda: index_targets(5, [2, 3], ignore_index=-100, min_valid=1),
        lambda: index_targets(5, (2, 3), min_valid=1),
    ),
    (
        "probability_targets",
        lambda: probability_targets("float16", (2, 4)),
        lambda: probability_targets("float16", [2, 4], zeros=True),
        lambda: probability_targets("float16", (2, 4), zeros=False),
    ),
    (
        "binary_targets",
        lambda: binary_targets("float32", (2, 2)),
        lambda: binary_targets("float32", [2, 2]),
        lambda: binary_targets("float32", (2, 2), soft=False),
    ),
    (
        "probabilities",
        lambda: probabilities("float64", (3,)),
        lambda: probabilities("float64", [3]),
        lambda: probabilities("float64", (3,), edges=False),
    ),
    (
        "class_weights",
        lambda: class_weights("float32", 4),
        lambda: class_weights("float32", 4, allow_zero=False),
        lambda: class_weights("float32", 4, allow_zero=True),
    ),
    (
        "ignore_indices",
        lambda: ignore_indices(3),
        lambda: ignore_indices(3),
        lambda: ignore_indices(4),
    ),
    (
        "grad_outputs",
        lambda: grad_outputs((2, 3), "float32"),
        lambda: grad_outputs([2, 3], np.float32),
        lambda: grad_outputs((2, 3), "float64"),
    ),
]


@pytest.mark.parametrize(
    ("name", "first", "again", "other"), _BUILDERS, ids=[b[0] for b in _BUILDERS]
)
def test_a_strategy_built_inside_a_draw_is_built_once(
    name: str, first: Callable[[], Any], again: Callable[[], Any], other: Callable[[], Any]
) -> None:
    """Hypothesis validates every new strategy object before drawing from it; the builders a
    case calls on every draw return one object per distinct set of arguments, so that
    validation happens once (and a different set of arguments gets its own strategy)."""
    assert first() is again()
    assert first() is not other()


def test_memoised_builders_still_validate_their_arguments() -> None:
    """Arguments are checked before the memoised part, so a bad call raises every time (an
    error is never cached as a strategy), and an unhashable spelling is normalised, not
    rejected."""
    for _ in range(2):
        with pytest.raises(InvalidArgument, match="shape"):
            logits("float32", (2, 0))
        with pytest.raises(InvalidArgument, match="num_classes"):
            class_weights("float32", 0)
    assert logits("float32", [2, 3]) is logits("float32", (2, 3))


def test_a_drawn_cotangent_is_a_new_array_on_every_draw() -> None:
    """The cotangent strategy is built once per shape and dtype and shared by every search that
    draws it (each gradient search asks for it anew); a search that writes into its draw must
    not change what a later search draws."""
    seen: list[np.ndarray] = []

    def search() -> None:
        @settings(max_examples=10, database=None, derandomize=True)
        @given(st.data())
        def draw(data: st.DataObject) -> None:
            g = data.draw(grad_outputs((2, 3), "float32"))
            assert all(g is not earlier for earlier in seen)
            seen.append(g)
            g[...] = 7

        draw()

    search()
    search()
    assert len(seen) > 2
