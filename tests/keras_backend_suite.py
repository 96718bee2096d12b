"""Tests of the Keras entries on one Keras backend other than TensorFlow, in a process of its own.

Keras fixes its backend at the first ``import keras``, so these tests cannot run in the main
pytest process (which holds Keras on TensorFlow).  ``tests/test_registry_keras_backends.py``
runs this module in a child pytest, once per backend, with ``XENT_KERAS_FRAMEWORK`` naming the
framework (``keras-jax`` or ``keras-torch``).  The expected values are the float64 NumPy
formulas the TensorFlow entries are tested against (``tests/loss_cases.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import ml_dtypes
import numpy as np
import pytest

FRAMEWORK = os.environ.get("XENT_KERAS_FRAMEWORK", "")
if not FRAMEWORK:
    pytest.skip("run through tests/test_registry_keras_backends.py", allow_module_level=True)

from tests import _np_formulas as F  # noqa: E402
from tests.loss_cases import (  # noqa: E402
    CASES,
    IDX,
    P,
    X,
    assert_forward_and_vjp,
    assert_runs_in_its_own_dtype,
    cast_floats,
    formula_rtol,
)
from verify import ops, registry  # noqa: E402
from verify.checks import cross_framework  # noqa: E402
from verify.registry import conventions, keras_losses  # noqa: E402

BACKEND = FRAMEWORK.removeprefix("keras-")
TAG = f"[backend={BACKEND}]"
ENTRIES = {e.name: e for e in registry.all_implementations(FRAMEWORK)}


def _downcast(entry: Any, kwargs: dict[str, Any]) -> str:
    """Which float64 known issue covers ``kwargs``: "dtype" (a float32 result), "precision"
    (float32 precision in a float64 result) or ""."""
    issues = entry.known_issues
    if keras_losses.FLOAT64_BATCH_MEAN in issues and keras_losses.FLOAT64_BATCH_MEAN.applies(
        kwargs
    ):
        return "dtype"
    return "precision" if keras_losses.FLOAT64_MEAN in issues else ""


def test_every_row_of_the_table_is_an_entry_tagged_with_the_backend() -> None:
    import keras

    assert keras.backend.backend() == BACKEND
    assert sorted(ENTRIES) == sorted(spec.name + TAG for spec in keras_losses.specs(BACKEND))
    module = registry.framework_module(FRAMEWORK)
    assert set(module.FACTORIES) == set(ENTRIES) and module.FRAMEWORK == FRAMEWORK
    for name, entry in ENTRIES.items():
        assert entry.framework == FRAMEWORK and entry.docs.startswith("https://keras.io/")
        assert entry.variant.endswith(f"backend={BACKEND}")
        assert registry.get(name) is entry


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_and_vjp_match_numpy_formulas(name: str, dtype: str) -> None:
    entry = ENTRIES[name]
    for case in CASES[name.removesuffix(TAG)]:
        # float64 computed or returned in float32: the known issues of the next two tests
        downcast = dtype == "float64" and _downcast(entry, case[0])
        tol = 1e-6 if downcast else formula_rtol(name, dtype)
        assert_forward_and_vjp(entry, case, dtype, tol, "float32" if downcast == "dtype" else None)


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_dtypes_run_in_their_own_dtype(name: str, dtype: str) -> None:
    assert_runs_in_its_own_dtype(ENTRIES[name], CASES[name.removesuffix(TAG)][0], dtype, 0.06)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_forward_mode_is_the_transpose_of_the_vjp(name: str) -> None:
    """The backend's forward mode (``jax.jvp``, ``torch.func.jvp``) along ``e_k`` is column
    ``k`` of the Jacobian whose rows the vjp gives along ``e_j``; tangents come in the
    reference's layout (class axis 1), as the checks draw them."""
    entry = ENTRIES[name]
    assert entry.jvp is not None and entry.jvp_reproducer is not None
    kwargs = cast_floats(CASES[name.removesuffix(TAG)][0][0], "float32")
    x = np.asarray(kwargs[ops.spec(entry.op).primary])
    out = np.asarray(entry.forward(kwargs, "cpu"))
    rows = [
        entry.vjp(kwargs, np.eye(out.size, dtype=out.dtype)[j].reshape(out.shape), "cpu")
        for j in range(out.size)
    ]
    jacobian = np.array([np.asarray(r, np.float64).reshape(-1) for r in rows])
    for k in range(x.size):
        tangent = np.eye(x.size, dtype=x.dtype)[k].reshape(x.shape)
        column = np.asarray(entry.jvp(kwargs, tangent, "cpu"), np.float64)
        assert column.shape == out.shape
        np.testing.assert_allclose(column.reshape(-1), jacobian[:, k], rtol=1e-5, atol=1e-6)


def test_float64_binary_losses_have_float32_precision_a_known_issue() -> None:
    """keras.ops.mean on float64 input computes in float32 off the TensorFlow backend
    (keras-team/keras#23223); when this test fails, Keras has fixed it: drop the known issue."""
    name = f"keras.losses.BinaryCrossentropy{TAG}"
    kwargs, expected, _ = CASES["keras.losses.BinaryCrossentropy"][0]  # reduction "none"
    out = ENTRIES[name].forward(kwargs, "cpu")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, out.astype(np.float32).astype(np.float64))
    assert not np.allclose(out, expected, rtol=1e-12, atol=0)
    assert keras_losses.FLOAT64_MEAN in ENTRIES[name].known_issues


def test_float64_batch_mean_returns_float32_on_torch_a_known_issue() -> None:
    """Keras's sum_over_batch_size reduction of a float64 loss returns float32 on the PyTorch
    backend (keras-team/keras#23223); when this test fails, drop the known issue."""
    name = f"keras.losses.CategoricalCrossentropy{TAG}"
    kwargs, expected, _ = CASES["keras.losses.CategoricalCrossentropy"][2]  # reduction "mean"
    out = ENTRIES[name].forward(kwargs, "cpu")
    if BACKEND == "torch":
        assert out.dtype == np.float32
        assert keras_losses.FLOAT64_BATCH_MEAN in ENTRIES[name].known_issues
    else:
        assert out.dtype == np.float64
        assert keras_losses.FLOAT64_BATCH_MEAN not in ENTRIES[name].known_issues
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_binary_probability_path_on_nan_a_known_issue_on_torch() -> None:
    """torch's BCE kernel raises on NaN probabilities on the CPU (keras-team/keras#23661);
    the JAX backend returns NaN."""
    entry = ENTRIES[f"keras.losses.BinaryCrossentropy[from_logits=False]{TAG}"]
    kwargs = dict(input=np.array([[0.25, np.nan]]), target=np.array([[1.0, 0.0]]), reduction="none")
    if BACKEND == "torch":
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            entry.forward(kwargs, "cpu")
        assert keras_losses.TORCH_BCE_NAN in entry.known_issues
    else:
        assert np.isnan(entry.forward(kwargs, "cpu")[0, 1])
        assert keras_losses.TORCH_BCE_NAN not in entry.known_issues
    assert keras_losses.TORCH_BCE_NAN.applies(kwargs)


def test_the_tensorflow_backend_entries_are_refused_in_this_process() -> None:
    with pytest.raises(keras_losses.KerasBackendConflict, match=f"'{BACKEND}' backend"):
        registry.all_implementations("tensorflow")
    assert "verify.registry.tensorflow_impls" not in sys.modules


def test_cross_framework_counterparts_never_load_another_keras_backend() -> None:
    entry = ENTRIES[f"keras.losses.CategoricalCrossentropy{TAG}"]
    others = cross_framework.counterparts(entry, "float32")
    frameworks = {o.framework for o in others}
    assert frameworks and not frameworks & {"tensorflow", "keras-jax", "keras-torch"}
    assert "verify.registry.tensorflow_impls" not in sys.modules


def test_axis_1_label_smoothing_is_the_same_known_issue_on_this_backend() -> None:
    entry = ENTRIES[f"keras.losses.CategoricalCrossentropy[axis=1]{TAG}"]
    kwargs = dict(input=X, target=P, reduction="none", label_smoothing=0.2)
    wrong = P * 0.8 + 0.2 / X.shape[-1]
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), F.ce_probs(X, wrong), rtol=1e-12)
    assert entry.known_issues[0].applies(kwargs)


def test_axis_1_sparse_on_a_non_last_class_axis() -> None:
    """The JAX backend raises (keras-team/keras#21097); the PyTorch backend moves the class
    axis and computes the loss."""
    entry = ENTRIES[f"keras.losses.SparseCategoricalCrossentropy[axis=1]{TAG}"]
    kwargs = dict(input=X, target=IDX, reduction="none")
    if BACKEND == "jax":
        with pytest.raises(ValueError, match="same shape up until the last dimension"):
            entry.forward(kwargs, "cpu")
    else:
        expected = F.ce_probs(X, F.one_hot(IDX, 4))
        np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    assert entry.known_issues[0].applies(kwargs)


def test_bind_runs_forward_and_backward() -> None:
    name = f"keras.losses.CategoricalCrossentropy{TAG}"
    kwargs, expected, grad = CASES["keras.losses.CategoricalCrossentropy"][1]  # "sum"
    bind = ENTRIES[name].bind
    assert bind is not None
    np.testing.assert_allclose(bind(kwargs, "cpu", False)(), expected, rtol=1e-12)
    backward = np.moveaxis(bind(kwargs, "cpu", True)(), -1, 1)  # the API's layout
    np.testing.assert_allclose(backward, grad(np.asarray(1.0)), rtol=1e-12, atol=1e-15)


def test_a_reproducer_runs_standalone_and_prints_the_entry_s_values() -> None:
    """The script sets KERAS_BACKEND itself: it runs in a clean interpreter whose environment
    asks for another backend."""
    entry = ENTRIES[f"keras.losses.SparseCategoricalCrossentropy{TAG}"]
    kwargs = cast_floats(
        CASES["keras.losses.SparseCategoricalCrossentropy"][3][0], ml_dtypes.bfloat16
    )
    source = entry.reproducer(kwargs, "cpu")
    assert f"os.environ['KERAS_BACKEND'] = {BACKEND!r}" in source
    assert source.index("KERAS_BACKEND") < source.index("import keras")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    printed = conventions.parse_reproducer_output(done.stdout)
    expected = entry.forward(kwargs, "cpu").astype(np.float64).reshape(-1)
    np.testing.assert_array_equal(printed, expected)
