"""Tests of the JAX/optax entries: forward against float64 NumPy formulas for every supported
option, vjp against analytic (or central-difference) gradients, Unsupported where declared,
every dtype runs, reproducers print the same numbers, and FACTORIES wrap user callables."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("jax")
pytest.importorskip("optax")


from tests import _np_formulas as F
from tests.loss_cases import (
    Case,
    assert_runs_in_its_own_dtype,
    cast_floats,
    grad_output,
    loss_arrays,
    softmax_family_cases,
    unsupported_cases_test,
)
from verify.registry import jax_impls

ENTRIES = {e.name: e for e in jax_impls.implementations()}
RNG = np.random.default_rng(20240601)
X, P, IDX, B = loss_arrays(RNG)
P[0, 1, 0] = 0.0  # exact zeros in the target distribution
P[0, :, 0] /= P[0, :, 0].sum()


def _cases() -> dict[str, list[Case]]:
    ignored = IDX.copy()
    ignored[1, 0] = -100
    ignored_other = IDX.copy()
    ignored_other[2, 1] = 3  # ignore_index may be a valid class id
    oh = F.one_hot(ignored, 4)
    oh_other = F.one_hot(np.where(ignored_other == 3, -1, ignored_other), 4)

    def lse_grad(axis: int) -> Callable[[np.ndarray], np.ndarray]:
        return lambda g: np.expand_dims(g, axis) * F.softmax(X, axis)

    def idx_grad(t: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        return lambda g: F.ce_probs_grad(X, t, g)

    def focal(alpha: float, gamma: float) -> Case:
        kw = dict(input=X, target=B, alpha=alpha, gamma=gamma)
        expected = F.sigmoid_focal(X, B, alpha, gamma)
        return (
            kw,
            expected,
            lambda g: F.central_difference(lambda v: F.sigmoid_focal(v, B, alpha, gamma), X, g),
        )

    family = softmax_family_cases(X)
    return {
        "jax.nn.softmax": family["softmax"],
        "jax.nn.log_softmax": family["log_softmax"],
        "jax.nn.logsumexp": family["logsumexp"],
        "jax.scipy.special.logsumexp": [(dict(x=X), F.logsumexp(X, -1), lse_grad(-1))],
        "optax.softmax_cross_entropy": [
            (dict(input=X, target=P, reduction="none"), F.ce_probs(X, P), idx_grad(P)),
        ],
        "optax.safe_softmax_cross_entropy": [
            (dict(input=X, target=P, reduction="none"), F.ce_probs(X, P), idx_grad(P)),
        ],
        "optax.softmax_cross_entropy_with_integer_labels": [
            (
                dict(input=X, target=IDX, reduction="none"),
                F.ce_probs(X, F.one_hot(IDX, 4)),
                idx_grad(F.one_hot(IDX, 4)),
            ),
            (dict(input=X, target=ignored, reduction="none"), F.ce_probs(X, oh), idx_grad(oh)),
            (
                dict(input=X, target=ignored_other, reduction="none", ignore_index=3),
                F.ce_probs(X, oh_other),
                idx_grad(oh_other),
            ),
        ],
        "optax.sigmoid_binary_cross_entropy": [
            (
                dict(input=X, target=B, reduction="none"),
                F.bce_logits(X, B),
                lambda g: g * F.bce_logits_grad(X, B),
            ),
        ],
        "optax.sigmoid_focal_loss": [focal(0.25, 2.0), focal(-1.0, 1.5), focal(0.7, 0.0)],
        "optax.kl_divergence": [
            (dict(input=X, target=P, reduction="none"), F.kl_elementwise(X, P), lambda g: -P * g),
            (
                dict(input=X, target=P, reduction="sum"),
                np.sum(F.kl_elementwise(X, P)),
                lambda g: -P * g,
            ),
        ],
    }


CASES = _cases()


def _api(name: str) -> str:
    """The case key of an entry: its name without the [axis=1] and [jit] qualifiers."""
    return name.removesuffix("[jit]").removesuffix("[axis=1]")


def test_every_entry_has_a_plain_and_a_jitted_form() -> None:
    plain = {n for n in ENTRIES if not n.endswith("[jit]")}
    assert {n for n in plain if "[axis=1]" not in n} == set(CASES)
    assert {n for n in plain if "[axis=1]" in n} == {
        "optax.softmax_cross_entropy[axis=1]",
        "optax.softmax_cross_entropy_with_integer_labels[axis=1]",
    }
    assert {f"{n}[jit]" for n in plain} == set(ENTRIES) - plain
    for name, entry in ENTRIES.items():
        assert entry.framework == "jax"
        assert entry.variant.endswith("jit") == name.endswith("[jit]")
        assert entry.docs.startswith("https://")
        assert set(jax_impls.FACTORIES) == set(ENTRIES)


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_vjp_match_numpy_formulas(name: str, dtype: str) -> None:
    entry = ENTRIES[name]
    rtol = 1e-12 if dtype == "float64" else 2e-5
    cases = CASES[_api(name)]
    # every option in float64; float32 on the first case (JAX compiles per shape and dtype)
    for kwargs, expected, grad in cases if dtype == "float64" else cases[:1]:
        cast = cast_floats(kwargs, dtype)
        out = entry.forward(cast, "cpu")
        assert out.dtype == np.dtype(dtype)
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
        g = grad_output(np.asarray(expected))
        vjp = entry.vjp(cast, g.astype(dtype), "cpu")
        assert vjp.shape == X.shape and vjp.dtype == np.dtype(dtype)
        # the cotangent was rounded to dtype too: compare against the rounded one
        np.testing.assert_allclose(
            vjp,
            grad(g.astype(dtype).astype(np.float64)),
            rtol=1e-5 if dtype == "float64" and "focal" in name else rtol,
            atol=1e-7 if "focal" in name else rtol,
        )


@pytest.mark.parametrize("name", sorted(n for n in ENTRIES if not n.endswith("[jit]")))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_dtypes_run_in_their_own_dtype(name: str, dtype: str) -> None:
    assert_runs_in_its_own_dtype(ENTRIES[name], CASES[_api(name)][0], dtype, 0.05)


test_unsupported_cases_raise = unsupported_cases_test(
    ENTRIES,
    [
        ("optax.softmax_cross_entropy", dict(input=X, target=P), "reductions"),
        (
            "optax.softmax_cross_entropy",
            dict(input=X, target=P, reduction="none", label_smoothing=0.1),
            "label_smoothing",
        ),
        (
            "optax.softmax_cross_entropy_with_integer_labels",
            dict(input=X, target=IDX, reduction="none", weight=np.ones(4)),
            "weight",
        ),
        (
            "optax.softmax_cross_entropy_with_integer_labels",
            dict(input=X, target=IDX, reduction="sum"),
            "reductions",
        ),
        (
            "optax.sigmoid_binary_cross_entropy",
            dict(input=X, target=B, reduction="none", pos_weight=np.ones(2)),
            "pos_weight",
        ),
        ("optax.sigmoid_focal_loss", dict(input=X, target=B, reduction="mean"), "reductions"),
        ("optax.kl_divergence", dict(input=X, target=P, reduction="batchmean"), "reductions"),
        (
            "optax.kl_divergence",
            dict(input=X, target=P, reduction="sum", log_target=True),
            "log_targets",
        ),
        ("jax.nn.softmax", dict(x=X, out_dtype=np.float32), "out_dtype"),
    ],
    variants=("", "[jit]"),
)


def test_declared_capabilities_match_the_adapters() -> None:
    for name, entry in ENTRIES.items():
        caps = entry.capabilities
        assert not caps.class_weight and not caps.label_smoothing, name
        if entry.op != "kl_div":
            assert caps.reductions == ("none",), name
    assert ENTRIES["optax.kl_divergence"].capabilities.reductions == ("none", "sum")
    assert ENTRIES["optax.softmax_cross_entropy_with_integer_labels"].capabilities.ignore_index


def test_jitted_reproducer_binds_static_options_before_jit() -> None:
    entry = ENTRIES["optax.kl_divergence[jit]"]
    source = entry.reproducer(dict(input=X, target=P, reduction="sum"), "cpu")
    assert "jax.jit(functools.partial(optax.kl_divergence, axis=None))" in source
    assert "jax_enable_x64" in source


def test_bind_runs_forward_and_backward() -> None:
    kwargs = dict(input=X, target=IDX, reduction="none")
    for name in (
        "optax.softmax_cross_entropy_with_integer_labels",
        "optax.softmax_cross_entropy_with_integer_labels[jit]",
    ):
        entry = ENTRIES[name]
        assert entry.bind is not None
        forward = entry.bind(kwargs, "cpu", False)
        np.testing.assert_allclose(np.asarray(forward()), CASES[_api(name)][0][1])
        backward = entry.bind(kwargs, "cpu", True)
        grad = np.moveaxis(np.asarray(backward()), -1, 1)  # bind returns the API's layout
        np.testing.assert_allclose(
            grad, F.ce_probs_grad(X, F.one_hot(IDX, 4), np.ones((3, 2))), rtol=1e-12
        )


def test_ignored_rows_are_zero_whatever_their_logits_hold() -> None:
    x = X.copy()
    x[1, :, 0] = [np.nan, np.inf, -np.inf, 1.0]
    target = IDX.copy()
    target[1, 0] = -100
    for name in (
        "optax.softmax_cross_entropy_with_integer_labels",
        "optax.softmax_cross_entropy_with_integer_labels[jit]",
    ):
        entry = ENTRIES[name]
        kwargs = dict(input=x, target=target, reduction="none")
        out = entry.forward(kwargs, "cpu")
        assert out[1, 0] == 0.0 and np.isfinite(out).all()
        grad = entry.vjp(kwargs, np.ones_like(out), "cpu")
        assert (grad[1, :, 0] == 0).all() and np.isfinite(grad).all()


def test_minus_inf_logit_with_zero_label_is_a_registered_deviation() -> None:
    x = X.copy()
    x[0, 1, 0] = -np.inf  # P[0, 1, 0] == 0
    kwargs = dict(input=x, target=P, reduction="none")
    plain = ENTRIES["optax.softmax_cross_entropy"]
    assert np.isnan(plain.forward(kwargs, "cpu")[0, 0])  # 0 * -inf: the documented difference
    assert any(d.applies(kwargs) for d in plain.deviations)
    safe = ENTRIES["optax.safe_softmax_cross_entropy"].forward(kwargs, "cpu")
    np.testing.assert_allclose(safe, F.ce_probs(np.where(np.isinf(x), -1e300, x), P), rtol=1e-12)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(2, 5),
    scale=st.floats(0.1, 30.0),
    seed=st.integers(0, 2**16),
)
def test_integer_label_cross_entropy_property(n: int, c: int, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c)) * scale
    target = rng.integers(0, c, size=n)
    out = ENTRIES["optax.softmax_cross_entropy_with_integer_labels[jit]"].forward(
        dict(input=x, target=target, reduction="none"), "cpu"
    )
    np.testing.assert_allclose(out, F.ce_probs(x, F.one_hot(target, c)), rtol=1e-12, atol=1e-13)


def test_axis_1_entries_pass_the_reference_layout_and_name_the_axis() -> None:
    """(N, C, d) logits stay as they are: optax reduces over axis=1, a non-last class axis."""
    for name in (
        "optax.softmax_cross_entropy[axis=1]",
        "optax.softmax_cross_entropy_with_integer_labels[axis=1]",
    ):
        entry, moved = ENTRIES[name], ENTRIES[name.removesuffix("[axis=1]")]
        kwargs = CASES[_api(name)][-1][0]
        assert X.ndim == 3 and "axis=1" in entry.reproducer(kwargs, "cpu")
        np.testing.assert_allclose(
            entry.forward(kwargs, "cpu"), moved.forward(kwargs, "cpu"), rtol=1e-12
        )
        g = grad_output(moved.forward(kwargs, "cpu"))
        np.testing.assert_allclose(
            entry.vjp(kwargs, g, "cpu"), moved.vjp(kwargs, g, "cpu"), rtol=1e-12, atol=1e-15
        )
