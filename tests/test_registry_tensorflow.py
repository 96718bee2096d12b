"""Tests of the TensorFlow and Keras entries: forward against float64 NumPy formulas for every
supported option (reductions, label smoothing, ignore_class, weights, pos_weight, alpha, gamma),
vjp against analytic (or central-difference) gradients, Unsupported where declared, every dtype
runs in its own precision, reproducers print the same numbers, FACTORIES wrap user callables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from tests import _np_formulas as F
from verify.registry import tensorflow_impls
from verify.registry.base import Unsupported

ENTRIES = {e.name: e for e in tensorflow_impls.implementations()}
RNG = np.random.default_rng(20240602)
X = RNG.normal(size=(3, 4, 2)) * 2
P = RNG.random((3, 4, 2))
P /= P.sum(axis=1, keepdims=True)
IDX = RNG.integers(0, 4, size=(3, 2))
B = RNG.random((3, 4, 2))
PROB = RNG.random((3, 4, 2)) * 0.9 + 0.05  # probabilities inside Keras's clipping range
W = RNG.random((4, 1)) + 0.5  # broadcasts against (N, C, d) as PyTorch's weight does
Q = RNG.random((4, 1)) * 3  # pos_weight per class
X2, P2 = F.log_softmax(X[:, :, 0], 1), P[:, :, 0]  # KLDivergence: log-probabilities

Case = tuple[dict[str, Any], np.ndarray, Callable[[np.ndarray], np.ndarray]]


def _reduce(values: np.ndarray, reduction: str) -> np.ndarray:
    return {"none": values, "sum": np.sum(values), "mean": np.mean(values)}[reduction]


def _scale(g: np.ndarray, shape: tuple[int, ...], reduction: str) -> np.ndarray:
    """d(reduction)/d(values) times the cotangent, shaped like the unreduced values."""
    if reduction == "none":
        return g
    factor = 1.0 if reduction == "sum" else 1.0 / np.prod(shape)
    return np.full(shape, float(g) * factor)


def _smooth(t: np.ndarray, e: float) -> np.ndarray:
    return t * (1 - e) + e / t.shape[1]


def _cases() -> dict[str, list[Case]]:
    per_row = X.shape[:1] + X.shape[2:]
    ignored = IDX.copy()
    ignored[1, 0] = -100

    def lse_grad(axis: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda g: np.expand_dims(g, axis) * F.softmax(X, axis)

    def cce(reduction: str, e: float) -> Case:
        t = _smooth(P, e)
        return (
            dict(input=X, target=P, reduction=reduction, label_smoothing=e),
            _reduce(F.ce_probs(X, t), reduction),
            lambda g: F.ce_probs_grad(X, t, _scale(g, per_row, reduction)),
        )

    def sparse(reduction: str, target: np.ndarray) -> Case:
        t = F.one_hot(target, 4)
        rows = F.ce_probs(X, t)
        count = np.sum(target != -100)
        if reduction == "mean":  # PyTorch: divide by the number of non-ignored targets
            expected = np.sum(rows) / count
            scale: Callable[[np.ndarray], np.ndarray] = lambda g: np.full(per_row, g / count)  # noqa: E731
        else:
            expected = _reduce(rows, reduction)
            scale = lambda g: _scale(g, per_row, reduction)  # noqa: E731
        return (
            dict(input=X, target=target, reduction=reduction),
            expected,
            lambda g: F.ce_probs_grad(X, t, scale(g)),
        )

    def bce(reduction: str, weight: np.ndarray | None) -> Case:
        w = 1.0 if weight is None else weight
        return (
            dict(input=X, target=B, reduction=reduction, weight=weight),
            _reduce(w * F.bce_logits(X, B), reduction),
            lambda g: _scale(g, X.shape, reduction) * w * F.bce_logits_grad(X, B),
        )

    def bce_probs(reduction: str) -> Case:
        values = -(B * np.log(PROB) + (1 - B) * np.log1p(-PROB))
        grad = -(B / PROB - (1 - B) / (1 - PROB))
        return (
            dict(input=PROB, target=B, reduction=reduction),
            _reduce(values, reduction),
            lambda g: _scale(g, X.shape, reduction) * grad,
        )

    def sigmoid_focal(reduction: str, alpha: float, gamma: float) -> Case:
        def f(v: np.ndarray) -> np.ndarray:
            return _reduce(F.sigmoid_focal(v, B, alpha, gamma), reduction)

        return (
            dict(input=X, target=B, reduction=reduction, alpha=alpha, gamma=gamma),
            f(X),
            lambda g: F.central_difference(f, X, g),
        )

    def softmax_focal(reduction: str, alpha: float | None, gamma: float) -> Case:
        a = 1.0 if alpha is None else alpha

        def f(v: np.ndarray) -> np.ndarray:
            return _reduce(F.softmax_focal(v, P, a, gamma), reduction)

        return (
            dict(input=X, target=P, reduction=reduction, alpha=alpha, gamma=gamma),
            f(X),
            lambda g: F.central_difference(f, X, g),
        )

    kl_rows = np.sum(F.kl_elementwise(X2, P2), axis=1)
    return {
        "tf.nn.softmax": [
            (
                dict(x=X, axis=axis),
                F.softmax(X, axis),
                lambda g, a=axis: (
                    F.softmax(X, a) * (g - np.sum(g * F.softmax(X, a), a, keepdims=True))
                ),
            )
            for axis in (-1, 1)
        ],
        "tf.nn.log_softmax": [
            (
                dict(x=X, axis=axis),
                F.log_softmax(X, axis),
                lambda g, a=axis: g - F.softmax(X, a) * np.sum(g, a, keepdims=True),
            )
            for axis in (-1, 1)
        ],
        "tf.math.reduce_logsumexp": [
            (dict(x=X, axis=axis), F.logsumexp(X, axis), lse_grad(axis)) for axis in (-1, 1)
        ],
        "tf.nn.softmax_cross_entropy_with_logits": [cce("none", 0.0)],
        "tf.nn.sparse_softmax_cross_entropy_with_logits": [sparse("none", IDX)],
        "tf.nn.sigmoid_cross_entropy_with_logits": [bce("none", None)],
        "tf.nn.weighted_cross_entropy_with_logits": [
            (
                dict(input=X, target=B, reduction="none", pos_weight=Q),
                F.bce_logits(X, B, Q),
                lambda g: g * F.bce_logits_grad(X, B, Q),
            ),
            bce("none", None),
        ],
        "keras.losses.CategoricalCrossentropy": [
            cce("none", 0.0),
            cce("sum", 0.2),
            cce("mean", 0.1),
        ],
        "keras.losses.CategoricalCrossentropy[from_logits=False]": [
            cce("mean", 0.0),
            cce("none", 0.1),
        ],
        "keras.losses.SparseCategoricalCrossentropy": [
            sparse("none", IDX),
            sparse("sum", ignored),
            sparse("mean", ignored),
            sparse("none", ignored),
        ],
        "keras.losses.BinaryCrossentropy": [
            bce("none", None),
            bce("mean", W),
            bce("sum", W),
        ],
        "keras.losses.BinaryCrossentropy[from_logits=False]": [
            bce_probs("mean"),
            bce_probs("none"),
        ],
        "keras.losses.BinaryFocalCrossentropy": [
            sigmoid_focal("none", 0.25, 2.0),
            sigmoid_focal("mean", -1.0, 1.5),
            sigmoid_focal("sum", 0.6, 0.0),
        ],
        "keras.losses.CategoricalFocalCrossentropy": [
            softmax_focal("none", None, 2.0),
            softmax_focal("mean", 0.25, 1.0),
        ],
        "keras.losses.KLDivergence": [
            (
                dict(input=X2, target=P2, reduction="sum"),
                np.sum(kl_rows),
                lambda g: -P2 * g,
            ),
            (
                dict(input=X2, target=P2, reduction="batchmean"),
                np.sum(kl_rows) / X2.shape[0],
                lambda g: -P2 * g / X2.shape[0],
            ),
        ],
    }


CASES = _cases()


def _cast(kwargs: dict[str, Any], dtype: Any) -> dict[str, Any]:
    return {
        k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for k, v in kwargs.items()
    }


def _grad_output(out: np.ndarray) -> np.ndarray:
    """A fixed, non-trivial cotangent shaped like ``out``."""
    return np.random.default_rng(out.size).normal(size=out.shape)


def test_registry_lists_every_entry_with_docs_and_factories() -> None:
    plain = {n for n in ENTRIES if not n.endswith("[xla]")}
    assert plain == set(CASES) and set(ENTRIES) == set(tensorflow_impls.FACTORIES)
    # every tf.nn / tf.math function also runs under tf.function(jit_compile=True)
    assert set(ENTRIES) - plain == {f"{n}[xla]" for n in plain if n.startswith("tf.")}
    for entry in ENTRIES.values():
        assert entry.framework == "tensorflow" and entry.docs.startswith("https://")
        for item in (*entry.deviations, *entry.known_issues):
            assert item.link.startswith("https://")


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_vjp_match_numpy_formulas(name: str, dtype: str) -> None:
    entry = ENTRIES[name]
    # the probability paths (softmax then log) lose digits to the rounding of probabilities
    probability_path = "from_logits=False" in name or "Focal" in name
    rtol = (1e-12 if dtype == "float64" else 2e-5) * (1e3 if probability_path else 1)
    for kwargs, expected, grad in CASES[name.removesuffix("[xla]")]:
        cast = _cast(kwargs, dtype)
        out = entry.forward(cast, "cpu")
        assert out.dtype == np.dtype(dtype) and out.shape == np.shape(expected)
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
        g = _grad_output(np.asarray(expected)).astype(dtype)
        vjp = entry.vjp(cast, g, "cpu")
        assert vjp.shape == np.shape(kwargs.get("input", kwargs.get("x")))
        assert vjp.dtype == np.dtype(dtype)
        gtol = max(rtol, 1e-6) if "Focal" in name else rtol
        np.testing.assert_allclose(vjp, grad(g.astype(np.float64)), rtol=gtol, atol=gtol)


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_dtypes_run_in_their_own_dtype(name: str, dtype: str) -> None:
    np_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    kwargs, expected, _ = CASES[name.removesuffix("[xla]")][0]
    cast = _cast(kwargs, np_dtype)
    out = ENTRIES[name].forward(cast, "cpu")
    assert out.dtype == np_dtype
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=0.06, atol=0.06)
    assert ENTRIES[name].vjp(cast, np.ones(out.shape, np_dtype), "cpu").dtype == np_dtype


@pytest.mark.parametrize(
    ("name", "kwargs", "reason"),
    [
        ("tf.nn.softmax_cross_entropy_with_logits", dict(input=X, target=P), "reductions"),
        (
            "tf.nn.sparse_softmax_cross_entropy_with_logits",
            dict(input=X, target=np.where(IDX == 0, -100, IDX), reduction="none"),
            "ignore_index",
        ),
        (
            "tf.nn.sigmoid_cross_entropy_with_logits",
            dict(input=X, target=B, reduction="none", pos_weight=Q),
            "pos_weight",
        ),
        (
            "keras.losses.CategoricalCrossentropy",
            dict(input=X, target=P, weight=np.ones(4)),
            "weight",
        ),
        (
            "keras.losses.SparseCategoricalCrossentropy",
            dict(input=X, target=IDX, label_smoothing=0.1),
            "label_smoothing",
        ),
        (
            "keras.losses.BinaryCrossentropy",
            dict(input=X, target=B, pos_weight=Q),
            "pos_weight",
        ),
        ("keras.losses.KLDivergence", dict(input=X2, target=P2), "reductions"),
        ("keras.losses.KLDivergence", dict(input=X, target=P, reduction="batchmean"), "2-D"),
        (
            "keras.losses.KLDivergence",
            dict(input=X2, target=P2, reduction="sum", log_target=True),
            "probability",
        ),
        ("tf.nn.softmax", dict(x=X, out_dtype=np.float32), "out_dtype"),
    ],
)
def test_unsupported_cases_raise(name: str, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(Unsupported, match=reason):
        ENTRIES[name].forward(kwargs, "cpu")


def test_keras_reproducer_constructs_the_loss_with_its_options() -> None:
    kwargs = _cast(CASES["keras.losses.SparseCategoricalCrossentropy"][2][0], ml_dtypes.bfloat16)
    source = ENTRIES["keras.losses.SparseCategoricalCrossentropy"].reproducer(kwargs, "cpu")
    assert "ml_dtypes" in source and "ignore_class=-100" in source
    assert "keras.losses.SparseCategoricalCrossentropy(from_logits=True" in source


def test_bind_runs_forward_and_backward() -> None:
    entry = ENTRIES["keras.losses.CategoricalCrossentropy"]
    kwargs, expected, grad = CASES["keras.losses.CategoricalCrossentropy"][2]
    assert entry.bind is not None
    np.testing.assert_allclose(entry.bind(kwargs, "cpu", False)(), expected, rtol=1e-12)
    backward = np.moveaxis(entry.bind(kwargs, "cpu", True)(), -1, 1)  # the API's layout
    np.testing.assert_allclose(backward, grad(np.asarray(1.0)), rtol=1e-12, atol=1e-15)


def test_documented_clipping_is_registered_where_it_applies() -> None:
    kl = ENTRIES["keras.losses.KLDivergence"]
    zero_target = P2.copy()
    zero_target[0] = [1.0, 0.0, 0.0, 0.0]
    kwargs = dict(input=X2, target=zero_target, reduction="sum")
    assert kl.deviations[0].applies(kwargs)
    assert not kl.deviations[0].applies(dict(input=np.log(P2), target=P2, reduction="sum"))
    cce = ENTRIES["keras.losses.CategoricalCrossentropy[from_logits=False]"]
    far = X.copy()
    far[0, 0, 0] = 40.0
    assert cce.known_issues[0].applies(dict(input=far, target=P))
    assert not cce.known_issues[0].applies(dict(input=X * 0.1, target=P))


def test_all_ignored_mean_is_zero_in_keras_not_nan() -> None:
    """Keras divides with divide_no_nan where PyTorch's mean over zero weight is 0/0 = NaN:
    a real difference the checks will report (no documentation or upstream issue found)."""
    entry = ENTRIES["keras.losses.SparseCategoricalCrossentropy"]
    out = entry.forward(dict(input=X, target=np.full_like(IDX, -100), reduction="mean"), "cpu")
    assert out == 0.0


def test_xla_out_of_range_labels_give_nan_where_eager_raises() -> None:
    """XLA cannot raise from compiled code: an out-of-range label gives a NaN loss and a NaN
    gradient row, as TensorFlow documents for GPUs, where eager CPU raises."""
    kwargs = dict(input=X[:, :, 0], target=np.array([1, 9, 0]), reduction="none")
    name = "tf.nn.sparse_softmax_cross_entropy_with_logits"
    with pytest.raises(Exception, match="outside the valid range"):
        ENTRIES[name].forward(kwargs, "cpu")
    out = ENTRIES[f"{name}[xla]"].forward(kwargs, "cpu")
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()
    grad = ENTRIES[f"{name}[xla]"].vjp(kwargs, np.ones(3), "cpu")
    assert np.isnan(grad[1]).all() and np.isfinite(grad[[0, 2]]).all()


def test_xla_reproducer_binds_static_options_before_jit_compile() -> None:
    source = ENTRIES["tf.nn.softmax[xla]"].reproducer(dict(x=X, axis=1), "cpu")
    assert "tf.function(functools.partial(tf.nn.softmax, axis=1), jit_compile=True)" in source
