"""NumPy float64 formulas for the TensorFlow and Keras entries, case by case: for each entry
name (without a backend tag), reference kwargs, the expected forward value and the expected
vector-Jacobian product as a function of the cotangent.  Shared by the TensorFlow tests and by
the Keras-backend tests, which run in processes of their own (so this module imports no
framework)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tests import _np_formulas as F
from verify.registry.base import Unsupported

#: (reference kwargs, expected forward, expected gradient for cotangent g)
Case = tuple[dict[str, Any], np.ndarray, Callable[[np.ndarray], np.ndarray]]


def loss_arrays(
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X, P, IDX, B)`` drawn from ``rng`` in this order: logits (N, C, d) = (3, 4, 2) of
    scale 2, target distributions over the class axis 1, class indices (N, d) and binary
    targets in [0, 1) shaped like the logits."""
    x = rng.normal(size=(3, 4, 2)) * 2
    p = rng.random((3, 4, 2))
    p /= p.sum(axis=1, keepdims=True)
    idx = rng.integers(0, 4, size=(3, 2))
    b = rng.random((3, 4, 2))
    return x, p, idx, b


def cast_floats(kwargs: dict[str, Any], dtype: Any) -> dict[str, Any]:
    """``kwargs`` with every floating-point array cast to ``dtype`` (indices kept)."""
    return {
        k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for k, v in kwargs.items()
    }


def grad_output(out: np.ndarray) -> np.ndarray:
    """A fixed, non-trivial cotangent shaped like ``out``."""
    return np.random.default_rng(out.size).normal(size=out.shape)


def formula_rtol(name: str, dtype: str) -> float:
    """The tolerance of an entry against the float64 formulas in ``dtype``: the probability
    paths (softmax then log, the focal losses) lose digits to the rounding of probabilities."""
    probability_path = "from_logits=False" in name or "Focal" in name
    return (1e-12 if dtype == "float64" else 2e-5) * (1e3 if probability_path else 1)


def assert_forward_and_vjp(
    entry: Any, case: Case, dtype: str, tol: float, out_dtype: str | None = None
) -> None:
    """``entry`` on ``case`` cast to ``dtype``: its value (of ``out_dtype``, default ``dtype``)
    and its VJP for a fixed cotangent agree with the formulas within ``tol``."""
    kwargs, expected, grad = case
    cast = cast_floats(kwargs, dtype)
    out = entry.forward(cast, "cpu")
    assert out.shape == np.shape(expected) and out.dtype == np.dtype(out_dtype or dtype)
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    g = grad_output(np.asarray(expected)).astype(dtype)
    vjp = entry.vjp(cast, g, "cpu")
    assert vjp.shape == np.shape(kwargs.get("input", kwargs.get("x")))
    assert vjp.dtype == np.dtype(dtype)
    assert_vjp_matches(vjp, grad, g, entry.name, tol)


def assert_runs_in_its_own_dtype(entry: Any, case: Case, dtype: str, tol: float) -> None:
    """``entry`` on ``case`` cast to the half-precision ``dtype`` returns values and
    gradients of that dtype, the values within ``tol`` of the float64 formula."""
    np_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    kwargs, expected, _ = case
    cast = cast_floats(kwargs, np_dtype)
    out = entry.forward(cast, "cpu")
    assert out.dtype == np_dtype
    np.testing.assert_allclose(out.astype(np.float64), expected, rtol=tol, atol=tol)
    assert entry.vjp(cast, np.ones(out.shape, np_dtype), "cpu").dtype == np_dtype


def assert_vjp_matches(vjp: np.ndarray, grad: Any, g: np.ndarray, name: str, tol: float) -> None:
    """``vjp`` agrees with the float64 gradient ``grad(g)`` within ``tol`` (at least 1e-6 for
    the focal losses, whose expected gradient is a central difference)."""
    gtol = max(tol, 1e-6) if "Focal" in name else tol
    np.testing.assert_allclose(vjp, grad(g.astype(np.float64)), rtol=gtol, atol=gtol)


#: a call an entry refuses: (entry name, kwargs, a text its Unsupported message contains)
UnsupportedCase = tuple[str, dict[str, Any], str]


def unsupported_cases_test(
    entries: Mapping[str, Any], cases: Sequence[UnsupportedCase], variants: Sequence[str] = ("",)
) -> Callable[..., None]:
    """A test, parametrised over ``cases``, that the entry of each name, and of the name with
    each of ``variants`` appended (``"[jit]"``: its compiled twin), raises
    :class:`~verify.registry.base.Unsupported` in forward on the CPU, its message containing
    the case's text; assign it to a ``test_*`` name of a test module."""

    @pytest.mark.parametrize(("name", "kwargs", "reason"), cases)
    def test(name: str, kwargs: dict[str, Any], reason: str) -> None:
        for variant in variants:
            with pytest.raises(Unsupported, match=re.escape(reason)):
                entries[name + variant].forward(kwargs, "cpu")

    return test


def softmax_family_cases(x: np.ndarray, axes: tuple[int, ...] = (-1, 1)) -> dict[str, list[Case]]:
    """softmax, log_softmax and logsumexp of ``x`` along each of ``axes``, with their analytic
    vector-Jacobian products: ``y (g - sum(g y))``, ``g - y sum(g)``, ``g y`` (``y`` the
    softmax)."""

    def y(a: int) -> np.ndarray:
        return F.softmax(x, a)

    def softmax_vjp(a: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda g: y(a) * (g - np.sum(g * y(a), a, keepdims=True))

    def log_softmax_vjp(a: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda g: g - y(a) * np.sum(g, a, keepdims=True)

    def logsumexp_vjp(a: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda g: np.expand_dims(g, a) * y(a)

    return {
        "softmax": [(dict(x=x, axis=a), y(a), softmax_vjp(a)) for a in axes],
        "log_softmax": [(dict(x=x, axis=a), F.log_softmax(x, a), log_softmax_vjp(a)) for a in axes],
        "logsumexp": [(dict(x=x, axis=a), F.logsumexp(x, a), logsumexp_vjp(a)) for a in axes],
    }


RNG = np.random.default_rng(20240602)
X, P, IDX, B = loss_arrays(RNG)
PROB = RNG.random((3, 4, 2)) * 0.9 + 0.05  # probabilities inside Keras's clipping range
W = RNG.random((4, 1)) + 0.5  # broadcasts against (N, C, d) as PyTorch's weight does
Q = RNG.random((4, 1)) * 3  # pos_weight per class
X2, P2 = F.log_softmax(X[:, :, 0], 1), P[:, :, 0]  # KLDivergence: log-probabilities


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
    ignored = IDX.copy()
    ignored[1, 0] = -100

    def cce(reduction: str, e: float, x: np.ndarray = X, p: np.ndarray = P) -> Case:
        t = _smooth(p, e)
        rows = x.shape[:1] + x.shape[2:]
        return (
            dict(input=x, target=p, reduction=reduction, label_smoothing=e),
            _reduce(F.ce_probs(x, t), reduction),
            lambda g: F.ce_probs_grad(x, t, _scale(g, rows, reduction)),
        )

    def sparse(reduction: str, target: np.ndarray, x: np.ndarray = X) -> Case:
        t = F.one_hot(target, 4)
        rows = F.ce_probs(x, t)
        shape = x.shape[:1] + x.shape[2:]
        count = np.sum(target != -100)
        if reduction == "mean":  # PyTorch: divide by the number of non-ignored targets
            expected = np.sum(rows) / count
            scale: Callable[[np.ndarray], np.ndarray] = lambda g: np.full(shape, g / count)  # noqa: E731
        else:
            expected = _reduce(rows, reduction)
            scale = lambda g: _scale(g, shape, reduction)  # noqa: E731
        return (
            dict(input=x, target=target, reduction=reduction),
            expected,
            lambda g: F.ce_probs_grad(x, t, scale(g)),
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

    def focal(
        formula: Callable[..., np.ndarray],
        target: np.ndarray,
        reduction: str,
        alpha: float | None,
        gamma: float,
    ) -> Case:
        """A focal loss (``alpha=None``: no class balancing, a factor of 1) with its gradient
        by central differences."""
        a = 1.0 if alpha is None else alpha

        def f(v: np.ndarray) -> np.ndarray:
            return _reduce(formula(v, target, a, gamma), reduction)

        return (
            dict(input=X, target=target, reduction=reduction, alpha=alpha, gamma=gamma),
            f(X),
            lambda g: F.central_difference(f, X, g),
        )

    def sigmoid_focal(reduction: str, alpha: float, gamma: float) -> Case:
        return focal(F.sigmoid_focal, B, reduction, alpha, gamma)

    def softmax_focal(reduction: str, alpha: float | None, gamma: float) -> Case:
        return focal(F.softmax_focal, P, reduction, alpha, gamma)

    kl_rows = np.sum(F.kl_elementwise(X2, P2), axis=1)
    family = softmax_family_cases(X)
    return {
        "tf.nn.softmax": family["softmax"],
        "tf.nn.log_softmax": family["log_softmax"],
        "tf.math.reduce_logsumexp": family["logsumexp"],
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
        # classes on axis 1: 3-D inputs put them on a non-last axis; label smoothing only on
        # 2-D inputs (on 3-D ones it is a known upstream bug, pinned in the tests)
        "keras.losses.CategoricalCrossentropy[axis=1]": [
            cce("none", 0.0),
            cce("mean", 0.0),
            cce("sum", 0.2, X[:, :, 0], P[:, :, 0]),
        ],
        # the TensorFlow and JAX backends refuse a non-last class axis with integer targets
        # (a known upstream issue): 2-D inputs, where axis=1 is the last axis
        "keras.losses.SparseCategoricalCrossentropy[axis=1]": [
            sparse("none", IDX[:, 0], X[:, :, 0]),
            sparse("mean", ignored[:, 0], X[:, :, 0]),
        ],
        "keras.losses.CategoricalFocalCrossentropy[axis=1]": [
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
