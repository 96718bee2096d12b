"""Tests of the TensorFlow and Keras entries: forward against float64 NumPy formulas for every
supported option (reductions, label smoothing, ignore_class, weights, pos_weight, alpha, gamma),
vjp against analytic (or central-difference) gradients, Unsupported where declared, every dtype
runs in its own precision, reproducers print the same numbers, FACTORIES wrap user callables."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from tests import _np_formulas as F
from tests.loss_cases import (
    CASES,
    IDX,
    P2,
    X2,
    B,
    P,
    Q,
    X,
    assert_forward_and_vjp,
    assert_runs_in_its_own_dtype,
    cast_floats,
    formula_rtol,
    unsupported_cases_test,
)
from verify.registry import tensorflow_impls

ENTRIES = {e.name: e for e in tensorflow_impls.implementations()}


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
    for case in CASES[name.removesuffix("[xla]")]:
        assert_forward_and_vjp(ENTRIES[name], case, dtype, formula_rtol(name, dtype))


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_dtypes_run_in_their_own_dtype(name: str, dtype: str) -> None:
    assert_runs_in_its_own_dtype(ENTRIES[name], CASES[name.removesuffix("[xla]")][0], dtype, 0.06)


test_unsupported_cases_raise = unsupported_cases_test(
    ENTRIES,
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


def test_keras_reproducer_constructs_the_loss_with_its_options() -> None:
    kwargs = cast_floats(
        CASES["keras.losses.SparseCategoricalCrossentropy"][2][0], ml_dtypes.bfloat16
    )
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


def test_axis_1_label_smoothing_divides_by_the_last_axis_a_known_issue() -> None:
    """Keras smooths with e / shape[-1] whatever the class axis (keras-team/keras#23451): on
    (N, C, d) input with d != C the loss is the cross-entropy against wrongly smoothed targets;
    the registered known issue covers exactly these cases.  When this test fails, Keras has
    fixed it: drop the known issue."""
    entry = ENTRIES["keras.losses.CategoricalCrossentropy[axis=1]"]
    kwargs = dict(input=X, target=P, reduction="none", label_smoothing=0.2)
    wrong = P * 0.8 + 0.2 / X.shape[-1]
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), F.ce_probs(X, wrong), rtol=1e-12)
    assert entry.known_issues[0].applies(kwargs)
    assert not entry.known_issues[0].applies({**kwargs, "label_smoothing": 0.0})
    assert not entry.known_issues[0].applies({**kwargs, "input": X[:, :, 0], "target": P[:, :, 0]})


def test_axis_1_sparse_raises_on_a_non_last_class_axis_a_known_issue() -> None:
    entry = ENTRIES["keras.losses.SparseCategoricalCrossentropy[axis=1]"]
    kwargs = dict(input=X, target=IDX, reduction="none")
    with pytest.raises(ValueError, match="Only axis=-1"):
        entry.forward(kwargs, "cpu")
    assert entry.known_issues[0].applies(kwargs)
    assert not entry.known_issues[0].applies(dict(input=X[:, :, 0], target=IDX[:, 0]))


def test_axis_1_rows_keep_the_reference_layout() -> None:
    source = ENTRIES["keras.losses.CategoricalFocalCrossentropy[axis=1]"].reproducer(
        dict(input=X, target=P, reduction="none"), "cpu"
    )
    assert "axis=1" in source and "reshape((3, 4, 2))" in source
    assert "os.environ['KERAS_BACKEND'] = 'tensorflow'" in source
