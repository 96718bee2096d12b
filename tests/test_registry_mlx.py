"""Tests of what is specific to the MLX entries: conversion keeps every dtype exactly, each
option maps onto the MLX call (forward and ``mx.vjp`` gradient against the reference; the
reproducers of the mapped options), Unsupported where declared, the crash guard, and the
checks catch the divergences of MLX 0.32.4 recorded in docs/registry-mlx.md.

The registry contract (metadata, every declared dtype, ``bind``, reproducers of a small case,
factories wrapping a user's callable) is tests/test_registry_contract.py's, for every entry."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("mlx.core")

import mlx.core as mx

import reference
from tests.loss_cases import loss_arrays, unsupported_cases_test
from verify import profiles
from verify.checks import CHECKS
from verify.checks.bad_input import batch_shape
from verify.registry import mlx_impls
from verify.registry.base import Unsupported
from verify.registry.conventions import parse_reproducer_output

ENTRIES = {e.name: e for e in mlx_impls.implementations()}
RNG = np.random.default_rng(20261201)
X, P, IDX, B = loss_arrays(RNG)
W = np.array([0.5, 1.0, 2.0, 0.25])

#: name -> reference kwargs covering each option the entry maps
CASES: dict[str, list[dict[str, Any]]] = {
    "mlx.core.softmax": [dict(x=X, axis=1), dict(x=X, axis=-1)],
    "mlx.core.softmax[precise=True]": [dict(x=X, axis=0)],
    "mlx.core.logsumexp": [dict(x=X, axis=1), dict(x=X, axis=-1)],
    "mlx.nn.log_softmax": [dict(x=X, axis=1), dict(x=X, axis=-1)],
    "mlx.nn.losses.cross_entropy": [
        dict(input=X, target=IDX, reduction="none"),
        dict(input=X, target=IDX, reduction="mean", label_smoothing=0.25),
        dict(input=X, target=IDX, reduction="sum", weight=W),
        dict(input=X, target=IDX, reduction="none", weight=W),
    ],
    "mlx.nn.losses.cross_entropy[probs]": [
        dict(input=X, target=P, reduction="none"),
        dict(input=X, target=P, reduction="sum", label_smoothing=0.125),
    ],
    "mlx.nn.losses.nll_loss": [
        dict(input=reference.log_softmax(X, axis=1), target=IDX, reduction="mean"),
        dict(input=reference.log_softmax(X, axis=1), target=IDX, reduction="none"),
    ],
    "mlx.nn.losses.binary_cross_entropy": [
        dict(input=X, target=B, reduction="none"),
        dict(input=X, target=B, reduction="mean", weight=np.array([0.5, 2.0])),
    ],
    "mlx.nn.losses.binary_cross_entropy[with_logits=False]": [
        dict(input=B, target=B[::-1], reduction="sum"),
        dict(input=B, target=B[::-1], reduction="none", weight=B),
    ],
    "mlx.nn.losses.kl_div_loss": [
        dict(input=np.log(P), target=np.log(P[::-1]), log_target=True, reduction=reduction)
        for reduction in ("none", "sum", "mean")
    ]
    + [
        dict(
            input=np.log(P[:, :, 0]),
            target=np.log(P[::-1, :, 0]),
            log_target=True,
            reduction="batchmean",
        )
    ],
}


def _cast(kwargs: dict[str, Any], dtype: Any) -> dict[str, Any]:
    return {
        k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for k, v in kwargs.items()
    }


def test_every_entry_has_cases_and_mlx_documentation() -> None:
    assert set(CASES) == set(ENTRIES)
    for entry in ENTRIES.values():
        assert entry.docs.startswith("https://ml-explore.github.io/mlx/")
        assert entry.dtypes == ("float16", "bfloat16", "float32", "float64")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_conversion_keeps_the_dtype_and_the_bits(dtype: str) -> None:
    np_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(dtype)
    a = (RNG.normal(size=(5, 3)) * 1e3).astype(np_dtype)
    converted = mlx_impls._to_mx(a, "cpu")
    assert converted.dtype == mlx_impls._MX_DTYPES[dtype]
    back = mlx_impls._to_numpy(converted)
    assert back.dtype == np_dtype
    assert np.array_equal(back.view(np.uint8), a.view(np.uint8))


def test_plain_mx_array_of_float64_would_be_float32() -> None:
    """Why every conversion names its dtype: MLX's default for float64 NumPy data."""
    assert mx.array(np.ones(2)).dtype == mx.float32
    assert mlx_impls._to_mx(np.ones(2), "cpu").dtype == mx.float64


def _rtol(name: str, dtype: str) -> float:
    # float64 exp runs MLX's float32 approximation on the CPU (registered known issue)
    return 2e-5 if dtype == "float32" else 1e-6


@pytest.mark.parametrize("name", sorted(ENTRIES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_and_vjp_match_the_reference(name: str, dtype: str) -> None:
    entry = ENTRIES[name]
    rtol = _rtol(name, dtype)
    for kwargs in CASES[name]:
        cast = _cast(kwargs, dtype)
        out = entry.forward(cast, "cpu")
        expected = getattr(reference, entry.op)(**cast)
        assert out.dtype == np.dtype(dtype) and out.shape == np.shape(expected)
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
        g = np.random.default_rng(out.size).normal(size=out.shape).astype(dtype)
        grad = entry.vjp(cast, g, "cpu")
        expected_grad = getattr(reference, f"{entry.op}_grad")(**cast, grad_output=g)
        primary = cast.get("x", cast.get("input"))
        assert grad.shape == primary.shape and grad.dtype == np.dtype(dtype)
        np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=rtol)


def test_class_weights_become_per_target_weights() -> None:
    entry = ENTRIES["mlx.nn.losses.cross_entropy"]
    call = mlx_impls._prepare_index_ce(dict(input=X, target=IDX, weight=W, reduction="none"), "ce")
    assert dict(call.array_options)["weights"].tolist() == W[IDX].tolist()
    assert dict(call.options)["axis"] == 1
    unweighted = entry.forward(dict(input=X, target=IDX, reduction="none"), "cpu")
    weighted = entry.forward(dict(input=X, target=IDX, weight=W, reduction="none"), "cpu")
    np.testing.assert_array_equal(weighted, unweighted * W[IDX])


test_unsupported_cases_raise = unsupported_cases_test(
    ENTRIES,
    [
        (
            "mlx.nn.losses.cross_entropy",
            dict(input=X, target=IDX, weight=W, reduction="mean"),
            "reduction='mean'",
        ),
        (
            "mlx.nn.losses.cross_entropy",
            dict(input=X, target=IDX, weight=W, reduction="sum", label_smoothing=0.5),
            "label smoothing",
        ),
        ("mlx.nn.losses.cross_entropy", dict(input=X, target=IDX, label_smoothing=1.0), "[0, 1)"),
        (
            "mlx.nn.losses.cross_entropy",
            dict(input=X, target=np.where(np.arange(2) == 0, -100, IDX)),
            "ignore_index",
        ),
        ("mlx.nn.losses.cross_entropy[probs]", dict(input=X, target=P, weight=W), "weight"),
        ("mlx.nn.losses.nll_loss", dict(input=X, target=IDX, weight=W), "weight"),
        (
            "mlx.nn.losses.binary_cross_entropy",
            dict(input=X, target=B, pos_weight=np.ones(2)),
            "pos_weight",
        ),
        ("mlx.nn.losses.kl_div_loss", dict(input=X, target=P), "log_target"),
        (
            "mlx.nn.losses.kl_div_loss",
            dict(input=X, target=P, log_target=True, reduction="batchmean"),
            "2-d",
        ),
        ("mlx.core.softmax", dict(x=X, out_dtype=np.float32), "out_dtype"),
    ],
)


def test_binary_cross_entropy_clip_is_excused_only_where_it_changes_a_counted_term() -> None:
    entry = ENTRIES["mlx.nn.losses.binary_cross_entropy[with_logits=False]"]
    (clip,) = entry.deviations
    counted = dict(
        input=np.array([0.0, 0.5], np.float32),
        target=np.array([1.0, 0.5], np.float32),
        reduction="none",
    )
    assert clip.applies(counted)
    assert entry.forward(counted, "cpu")[0] == 100.0  # -log(0) = inf, clipped to 100
    uncounted = dict(input=np.array([0.0, 1.0]), target=np.array([0.0, 1.0]), reduction="none")
    assert not clip.applies(uncounted)


def test_float64_on_the_gpu_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        mlx_impls._to_mx(np.ones(2), "cuda")


def test_log_softmax_over_a_single_class_is_not_called() -> None:
    """mlx.nn.log_softmax segfaults on such input; the adapter raises instead of crashing."""
    entry = ENTRIES["mlx.nn.log_softmax"]
    kwargs = dict(x=np.ones((1, 2)), axis=0)
    with pytest.raises(mlx_impls.ProcessCrash, match="SIGSEGV"):
        entry.forward(kwargs, "cpu")
    assert "crashes the process" in entry.reproducer(kwargs, "cpu")
    # the same extent-1 axis through mx.softmax (not compiled) is fine
    out = ENTRIES["mlx.core.softmax"].forward(kwargs, "cpu")
    np.testing.assert_array_equal(out, np.ones((1, 2)))


def _run_script(source: str) -> np.ndarray:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<reproducer>", "exec"), {"__name__": "__reproducer__"})
    return parse_reproducer_output(out.getvalue())


#: cases whose reproducer writes what the contract's small case does not: keyword arrays
#: (gathered class weights, broadcast element-wise weights), a static option (precise=True),
#: the unit axis of kl_div_loss's element-wise reductions (its gradient reshaped back)
#: (name, index into CASES, what the forward and gradient scripts must both write)
MAPPED_OPTIONS = [
    ("mlx.core.softmax[precise=True]", 0, "axis=0, precise=True)"),
    ("mlx.nn.losses.cross_entropy", 2, "weights=weights, axis=1, reduction='sum')"),
    ("mlx.nn.losses.binary_cross_entropy", 1, "weights=weights, with_logits=True"),
    ("mlx.nn.losses.binary_cross_entropy[with_logits=False]", 1, "with_logits=False"),
    ("mlx.nn.losses.kl_div_loss", 0, "axis=-1, reduction='none')"),
]


@pytest.mark.parametrize(("name", "case", "written"), MAPPED_OPTIONS)
def test_reproducers_of_mapped_options_print_the_forward_and_gradient_values(
    name: str, case: int, written: str
) -> None:
    entry = ENTRIES[name]
    cast = _cast(CASES[name][case], np.float64)
    source = entry.reproducer(cast, "cpu")
    assert "import mlx.core as mx" in source and "verify" not in source and written in source
    expected = entry.forward(cast, "cpu")
    np.testing.assert_array_equal(_run_script(source), expected.astype(np.float64).reshape(-1))
    g = np.full(expected.shape, 0.5)
    assert entry.gradient_reproducer is not None
    script = entry.gradient_reproducer(cast, g, "cpu")
    assert "mx.vjp" in script and written in script
    np.testing.assert_array_equal(
        _run_script(script), entry.vjp(cast, g, "cpu").astype(np.float64).reshape(-1)
    )


def test_bind_runs_forward_and_backward() -> None:
    entry = ENTRIES["mlx.nn.losses.cross_entropy"]
    kwargs = dict(input=X.astype(np.float32), target=IDX, reduction="sum")
    forward = entry.bind(kwargs, "cpu", False)
    np.testing.assert_allclose(np.asarray(forward()), reference.cross_entropy(**kwargs), rtol=1e-6)
    backward = entry.bind(kwargs, "cpu", True)
    np.testing.assert_allclose(
        np.asarray(backward()), reference.cross_entropy_grad(**kwargs), rtol=1e-5, atol=1e-7
    )


@settings(max_examples=20, derandomize=True, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_index_cross_entropy_property(n: int, c: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, c)) * 5).astype(np.float32)
    target = rng.integers(0, c, size=n)
    kwargs = dict(input=x, target=target, reduction="none")
    out = ENTRIES["mlx.nn.losses.cross_entropy"].forward(kwargs, "cpu")
    np.testing.assert_allclose(out, reference.cross_entropy(**kwargs), rtol=2e-6, atol=1e-6)


# --- the divergences the checks must catch ----------------------------------------------------


def test_out_of_range_class_index_returns_a_number() -> None:
    """mlx.nn.losses.cross_entropy([[1., 2.]], [5]) is 0.313 without an error."""
    out = ENTRIES["mlx.nn.losses.cross_entropy"].forward(
        dict(input=np.array([[1.0, 2.0]], np.float32), target=np.array([5]), reduction="none"),
        "cpu",
    )
    assert np.isfinite(out).all()


def test_infinite_logit_binary_cross_entropy_is_nan() -> None:
    """binary_cross_entropy(inf, 1, with_logits=True) is NaN where the loss is 0."""
    entry = ENTRIES["mlx.nn.losses.binary_cross_entropy"]
    for x, t, exact in ((np.inf, 1.0, 0.0), (-np.inf, 0.0, 0.0)):
        kwargs = dict(
            input=np.array([x], np.float32), target=np.array([t], np.float32), reduction="none"
        )
        assert reference.binary_cross_entropy_with_logits(**kwargs)[0] == exact
        assert np.isnan(entry.forward(kwargs, "cpu")[0])


@pytest.fixture
def _private_database(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(profiles, "DATABASE_DIR", tmp_path / "examples")


@pytest.mark.usefixtures("_private_database")
def test_bad_input_check_catches_the_silent_out_of_range_index() -> None:
    result = CHECKS["bad_input"](
        ENTRIES["mlx.nn.losses.cross_entropy"], "float32", "cpu", profile="quick", seed=1
    )
    assert result.status == "fail"
    c = batch_shape(profiles.get_profile("quick"))[1]
    assert f"class index {c} with {c} classes: silently returns" in result.message


@pytest.mark.usefixtures("_private_database")
def test_special_values_check_catches_the_infinite_logit_nan() -> None:
    result = CHECKS["special_values"](
        ENTRIES["mlx.nn.losses.binary_cross_entropy"], "float32", "cpu", profile="quick", seed=1
    )
    assert result.status == "fail" and result.known_issue is None
    assert "returned nan" in result.message and "inf in input" in result.message
    assert "mlx.nn.losses.binary_cross_entropy(" in result.reproducer
