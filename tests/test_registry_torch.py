"""Tests of the PyTorch entries: for every supported option the adapter computes what the
option means (against float64 NumPy formulas written here), gradients are gradients (against
central differences), declared limits raise Unsupported, and reproducers print what forward
returns."""

from __future__ import annotations

import itertools

import ml_dtypes
import numpy as np
import pytest

pytest.importorskip("torch")

from tests._np_formulas import central_difference as numeric_vjp
from verify.registry import all_implementations, torch_impls
from verify.registry.base import Unsupported
from verify.registry.torch_impls import BCE_LOG_CLAMP, CUDA_ASSERT_ISSUE

ALL_ENTRIES = {e.name: e for e in all_implementations("torch")}
#: the eager entries (the [compiled] ones are tested at the end of this file)
ENTRIES = {n: e for n, e in ALL_ENTRIES.items() if not n.endswith("[compiled]")}
COMPILED = {n: e for n, e in ALL_ENTRIES.items() if n.endswith("[compiled]")}
RNG_SEED = 20240611
#: index-target cross-entropy options: a layout switch (k-dim input, linear bias), class
#: weights, an ignored target, the reduction, label smoothing
_SWITCH = [False, True]
INDEX_TARGET_GRID = list(
    itertools.product(_SWITCH, _SWITCH, _SWITCH, ["none", "sum", "mean"], [0.0, 0.2])
)

# --- float64 formulas (PyTorch's documented semantics) ------------------------------------


def log_softmax64(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def cross_entropy_index64(x, t, weight=None, ignore_index=-100, reduction="mean", ls=0.0):
    c = x.shape[1]
    lp = log_softmax64(np.moveaxis(x, 1, -1), -1)
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    tc = np.where(keep, t, 0)
    nll = -np.take_along_axis(lp, tc[..., None], -1)[..., 0] * w[tc]
    smooth = -np.sum(lp * w, -1)
    loss = np.where(keep, (1 - ls) * nll + ls / c * smooth, 0.0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / np.where(keep, w[tc], 0.0).sum()


def cross_entropy_probs64(x, p, weight=None, reduction="mean", ls=0.0):
    c = x.shape[1]
    lp = log_softmax64(np.moveaxis(x, 1, -1), -1)
    q = np.moveaxis(p, 1, -1) * (1 - ls) + ls / c
    w = np.ones(c) if weight is None else weight
    loss = -np.sum(lp * q * w, -1)
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def nll_loss64(x, t, weight=None, ignore_index=-100, reduction="mean"):
    c = x.shape[1]
    lp = np.moveaxis(x, 1, -1)
    w = np.ones(c) if weight is None else weight
    keep = t != ignore_index
    tc = np.where(keep, t, 0)
    loss = np.where(keep, -np.take_along_axis(lp, tc[..., None], -1)[..., 0] * w[tc], 0.0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / np.where(keep, w[tc], 0.0).sum()


def reduce64(loss, reduction):
    return {"none": loss, "sum": np.sum(loss), "mean": np.mean(loss)}[reduction]


def bce64(p, t, weight=None, reduction="mean"):
    w = 1.0 if weight is None else weight
    with np.errstate(divide="ignore"):
        loss = -w * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
    return reduce64(loss, reduction)


def bce_logits64(x, t, weight=None, reduction="mean", pos_weight=None):
    w = 1.0 if weight is None else weight
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -w * (pw * t * -np.logaddexp(0, -x) + (1 - t) * -np.logaddexp(0, x))
    return reduce64(loss, reduction)


def kl_div64(x, t, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(t) * (t - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0.0) - t * x
    if reduction == "batchmean":
        return loss.sum() / x.shape[0]
    return reduce64(loss, reduction)


def check_gradient(entry, kwargs, wrt="input"):
    out = entry.forward(kwargs, "cpu")
    g = np.random.default_rng(RNG_SEED).uniform(0.5, 1.5, np.shape(out))
    got = entry.vjp(kwargs, g, "cpu")

    def f(value):
        return entry.forward({**kwargs, wrt: value}, "cpu")

    expected = numeric_vjp(f, kwargs[wrt], g)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


# --- inputs -------------------------------------------------------------------------------


def logits(shape, scale=3.0):
    return np.random.default_rng(RNG_SEED).standard_normal(shape) * scale


def probabilities(shape):
    p = np.random.default_rng(RNG_SEED + 1).random(shape) + 0.05
    return p / p.sum(axis=1, keepdims=True)


def index_targets(shape, classes):
    return np.random.default_rng(RNG_SEED + 2).integers(0, classes, shape)


CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 0.25])


# --- cross entropy, both target kinds, function and module form ---------------------------


@pytest.mark.parametrize("name", ["torch.nn.functional.cross_entropy", "torch.nn.CrossEntropyLoss"])
@pytest.mark.parametrize(("kdim", "weighted", "ignore", "reduction", "ls"), INDEX_TARGET_GRID)
def test_cross_entropy_index(name, kdim, weighted, ignore, reduction, ls):
    entry = ENTRIES[name]
    shape = (3, 4, 2) if kdim else (3, 4)
    x = logits(shape)
    t = index_targets((3, 2) if kdim else (3,), 4)
    t.reshape(-1)[0] = 1
    kwargs = {"input": x, "target": t, "reduction": reduction, "label_smoothing": ls}
    if weighted:
        kwargs["weight"] = CLASS_WEIGHT
    if ignore:
        kwargs["ignore_index"] = 1
    expected = cross_entropy_index64(
        x, t, CLASS_WEIGHT if weighted else None, 1 if ignore else -100, reduction, ls
    )
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    check_gradient(entry, kwargs)


@pytest.mark.parametrize(
    ("kdim", "weighted", "reduction", "ls"),
    list(itertools.product([False, True], [False, True], ["none", "sum", "mean"], [0.0, 0.2])),
)
def test_cross_entropy_probs(kdim, weighted, reduction, ls):
    entry = ENTRIES["torch.nn.functional.cross_entropy[probs]"]
    shape = (3, 4, 2) if kdim else (3, 4)
    x, p = logits(shape), probabilities(shape)
    kwargs = {"input": x, "target": p, "reduction": reduction, "label_smoothing": ls}
    if weighted:
        kwargs["weight"] = CLASS_WEIGHT
    expected = cross_entropy_probs64(x, p, CLASS_WEIGHT if weighted else None, reduction, ls)
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    check_gradient(entry, kwargs)
    with pytest.raises(Unsupported, match="ignore_index"):
        entry.forward({**kwargs, "ignore_index": 0}, "cpu")


def test_all_targets_ignored_mean_is_nan_like_the_reference():
    entry = ENTRIES["torch.nn.functional.cross_entropy"]
    out = entry.forward(
        {"input": logits((2, 4)), "target": np.array([1, 1]), "ignore_index": 1}, "cpu"
    )
    assert np.isnan(out)


@pytest.mark.parametrize(
    ("kdim", "weighted", "ignore", "reduction"),
    list(itertools.product([False, True], [False, True], [False, True], ["none", "sum", "mean"])),
)
def test_nll_loss(kdim, weighted, ignore, reduction):
    entry = ENTRIES["torch.nn.functional.nll_loss"]
    shape = (3, 4, 2) if kdim else (3, 4)
    x = log_softmax64(logits(shape), 1)
    t = index_targets((3, 2) if kdim else (3,), 4)
    t.reshape(-1)[0] = 1
    kwargs = {"input": x, "target": t, "reduction": reduction}
    if weighted:
        kwargs["weight"] = CLASS_WEIGHT
    if ignore:
        kwargs["ignore_index"] = 1
    expected = nll_loss64(
        x, t, CLASS_WEIGHT if weighted else None, 1 if ignore else -100, reduction
    )
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    check_gradient(entry, kwargs)


# --- softmax family -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["torch.nn.functional.softmax", "torch.nn.functional.log_softmax", "torch.logsumexp"]
)
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family(name, axis):
    entry = ENTRIES[name]
    x = logits((3, 4, 2))
    kwargs = {"x": x, "axis": axis}
    ls = log_softmax64(x, axis)
    expected = {
        "softmax": np.exp(ls),
        "log_softmax": ls,
        "logsumexp": np.squeeze(np.take(x, [0], axis) - np.take(ls, [0], axis), axis),
    }[entry.op]
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12, atol=1e-15)
    check_gradient(entry, kwargs, wrt="x")


# --- binary losses, KL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weighted", "reduction", "kdim"),
    list(itertools.product([False, True], ["none", "sum", "mean"], [False, True])),
)
def test_binary_cross_entropy(weighted, reduction, kdim):
    entry = ENTRIES["torch.nn.functional.binary_cross_entropy"]
    shape = (3, 4, 2) if kdim else (3, 4)
    p = 1 / (1 + np.exp(-logits(shape, 1.0)))
    t = np.random.default_rng(3).random(shape)
    w = np.random.default_rng(4).random(shape) + 0.5
    kwargs = {"input": p, "target": t, "reduction": reduction}
    if weighted:
        kwargs["weight"] = w
    expected = bce64(p, t, w if weighted else None, reduction)
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    check_gradient(entry, kwargs)
    assert not BCE_LOG_CLAMP.applies(kwargs)


def test_binary_cross_entropy_log_clamp_is_the_documented_deviation():
    entry = ENTRIES["torch.nn.functional.binary_cross_entropy"]
    assert BCE_LOG_CLAMP in entry.deviations and "BCELoss" in BCE_LOG_CLAMP.link
    kwargs = {
        "input": np.array([0.0, 1.0, 0.5]),
        "target": np.array([1.0, 0.0, 0.5]),
        "reduction": "none",
    }
    np.testing.assert_array_equal(entry.forward(kwargs, "cpu")[:2], [100.0, 100.0])
    assert BCE_LOG_CLAMP.applies(kwargs)
    # 0 * log(0) = 0: a clamped log whose coefficient is zero changes nothing
    assert not BCE_LOG_CLAMP.applies(
        {"input": np.array([0.0, 1.0]), "target": np.array([0.0, 1.0])}
    )
    # p = 1e-13 is far from the clamp: the deviation does not cover this case, so a gradient
    # that differs from the exact 1 / (1 - p) there is reported as a failure, not excused.
    assert not BCE_LOG_CLAMP.applies({"input": np.array([1e-13]), "target": np.array([0.0])})


@pytest.mark.parametrize(
    ("weighted", "pos_weighted", "reduction"),
    list(itertools.product([False, True], [False, True], ["none", "sum", "mean"])),
)
def test_binary_cross_entropy_with_logits(weighted, pos_weighted, reduction):
    entry = ENTRIES["torch.nn.functional.binary_cross_entropy_with_logits"]
    x = logits((3, 4))
    t = np.random.default_rng(3).random((3, 4))
    w = np.random.default_rng(4).random((3, 4)) + 0.5
    pw = np.array([0.5, 1.0, 2.0, 3.0])
    kwargs = {"input": x, "target": t, "reduction": reduction}
    if weighted:
        kwargs["weight"] = w
    if pos_weighted:
        kwargs["pos_weight"] = pw
    expected = bce_logits64(x, t, w if weighted else None, reduction, pw if pos_weighted else None)
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    check_gradient(entry, kwargs)


@pytest.mark.parametrize(
    ("reduction", "log_target"),
    list(itertools.product(["none", "sum", "mean", "batchmean"], [False, True])),
)
def test_kl_div(reduction, log_target):
    entry = ENTRIES["torch.nn.functional.kl_div"]
    x = log_softmax64(logits((3, 4)), 1)
    t = probabilities((3, 4))
    t[0, 0] = 0.0  # 0 * log 0 = 0
    if log_target:
        t = np.log(probabilities((3, 4)))
    kwargs = {"input": x, "target": t, "reduction": reduction, "log_target": log_target}
    np.testing.assert_allclose(
        entry.forward(kwargs, "cpu"), kl_div64(x, t, reduction, log_target), rtol=1e-12
    )
    check_gradient(entry, kwargs)


# --- linear cross entropy, both paths -----------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize(("biased", "weighted", "ignore", "reduction", "ls"), INDEX_TARGET_GRID)
def test_linear_cross_entropy(chunked, biased, weighted, ignore, reduction, ls):
    name = "torch.nn.functional.linear_cross_entropy" + ("[chunked]" if chunked else "")
    entry = ENTRIES[name]
    x = logits((5, 3), 1.0)
    w = logits((4, 3), 1.0)[::-1].copy()
    b = np.array([0.1, -0.2, 0.3, 0.0])
    t = index_targets((5,), 4)
    t[0] = 1
    kwargs = {
        "input": x,
        "linear_weight": w,
        "target": t,
        "reduction": reduction,
        "label_smoothing": ls,
    }
    if biased:
        kwargs["linear_bias"] = b
    if weighted:
        kwargs["weight"] = CLASS_WEIGHT
    if ignore:
        kwargs["ignore_index"] = 1
    if chunked and ls:
        with pytest.raises(Unsupported, match="label_smoothing"):
            entry.forward(kwargs, "cpu")
        return
    z = x @ w.T + (b if biased else 0.0)
    expected = cross_entropy_index64(
        z, t, CLASS_WEIGHT if weighted else None, 1 if ignore else -100, reduction, ls
    )
    np.testing.assert_allclose(entry.forward(kwargs, "cpu"), expected, rtol=1e-12)
    out = entry.forward(kwargs, "cpu")
    g = np.random.default_rng(RNG_SEED).uniform(0.5, 1.5, np.shape(out))
    grads = entry.vjp(kwargs, g, "cpu")
    assert isinstance(grads, tuple) and len(grads) == 3
    for got, wrt in zip(grads, ("input", "linear_weight", "linear_bias"), strict=True):
        if wrt == "linear_bias" and not biased:
            assert got is None
            continue

        def f(value, wrt=wrt):
            return entry.forward({**kwargs, wrt: value}, "cpu")

        np.testing.assert_allclose(got, numeric_vjp(f, kwargs[wrt], g), rtol=1e-6, atol=1e-8)


def test_linear_cross_entropy_takes_two_dimensional_inputs_only():
    entry = ENTRIES["torch.nn.functional.linear_cross_entropy"]
    with pytest.raises(Unsupported, match="3-d"):
        entry.forward(
            {
                "input": np.zeros((2, 3, 4)),
                "linear_weight": np.zeros((5, 4)),
                "target": np.zeros((2, 3), int),
            },
            "cpu",
        )


# --- dtypes, devices, limits --------------------------------------------------------------


def small_case(entry, dtype):
    x = np.array([[0.5, -1.25, 2.0, 0.125], [3.0, 0.0, -0.75, 1.5]])
    op = entry.op
    if op in ("softmax", "log_softmax", "logsumexp"):
        kwargs = {"x": x}
    elif op == "cross_entropy":
        target = probabilities((2, 4)) if entry.capabilities.target == "probs" else np.array([1, 3])
        kwargs = {"input": x, "target": target}
    elif op == "nll_loss":
        kwargs = {"input": log_softmax64(x, 1), "target": np.array([1, 3])}
    elif op == "binary_cross_entropy":
        kwargs = {"input": 1 / (1 + np.exp(-x)), "target": np.full_like(x, 0.25)}
    elif op == "binary_cross_entropy_with_logits":
        kwargs = {"input": x, "target": np.full_like(x, 0.25)}
    elif op == "kl_div":
        kwargs = {"input": log_softmax64(x, 1), "target": probabilities((2, 4))}
    else:
        kwargs = {
            "input": x[:, :3],
            "linear_weight": logits((4, 3), 0.5),
            "target": np.array([1, 3]),
        }
    return {
        k: (v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
        for k, v in kwargs.items()
    }


def test_auxiliary_arrays_must_convert_exactly_to_the_input_dtype():
    entry = ENTRIES["torch.nn.functional.cross_entropy"]
    base = {"input": logits((2, 4)).astype(np.float32), "target": np.array([0, 1])}
    entry.forward({**base, "weight": np.array([0.5, 1.0, 2.0, 0.25])}, "cpu")  # exact: fine
    with pytest.raises(Unsupported, match="do not convert exactly"):
        entry.forward({**base, "weight": np.array([0.1, 1.0, 1.0, 1.0])}, "cpu")


@pytest.mark.parametrize(
    "name",
    [n for n, e in ENTRIES.items() if e.capabilities.target == "index"],
)
def test_out_of_range_targets_are_kept_off_cuda(name):
    entry = ENTRIES[name]
    kwargs = small_case(entry, "float32")
    kwargs["target"] = np.array([1, 9])
    with pytest.raises(Unsupported, match="device-side assert") as info:
        entry.forward(kwargs, "cuda")  # raised before any CUDA call: no GPU needed
    assert CUDA_ASSERT_ISSUE in str(info.value)
    with pytest.raises((IndexError, RuntimeError)):
        entry.forward(kwargs, "cpu")  # PyTorch's own error on the CPU


def test_entries_declare_devices_docs_and_unique_names():
    assert len(ENTRIES) == 12
    for entry in ENTRIES.values():
        assert entry.devices == ("cpu", "cuda")
        assert entry.available_devices()[0] == "cpu"
        assert entry.docs.startswith("https://docs.pytorch.org/")
        assert entry.vjp and entry.bind and entry.reproducer


# --- reproducers (the contract test runs them; what is PyTorch's own is here) --------------


def test_bfloat16_reproducers_build_tensors_from_float32_literals():
    """torch.from_numpy has no bfloat16: the literal is float32 (exact) and the tensor is cast,
    so the script needs no ml_dtypes."""
    entry = ENTRIES["torch.nn.CrossEntropyLoss"]
    kwargs = small_case(entry, "bfloat16")
    script = entry.reproducer(kwargs, "cpu")
    assert "ml_dtypes" not in script and ".to(torch.bfloat16)" in script
    assert "module = torch.nn.CrossEntropyLoss(" in script
    g = np.ones(np.shape(entry.forward(kwargs, "cpu")), dtype=kwargs["input"].dtype)
    assert "torch.autograd.grad(out, [input], grad_output)" in entry.gradient_reproducer(
        kwargs, g, "cpu"
    )


def test_bfloat16_results_are_ml_dtypes():
    entry = ENTRIES["torch.nn.functional.softmax"]
    out = entry.forward({"x": np.zeros((1, 4), dtype=ml_dtypes.bfloat16)}, "cpu")
    assert out.dtype == np.dtype(ml_dtypes.bfloat16)


# --- torch.compile entries ----------------------------------------------------------------


def test_compiled_entries_are_the_listed_apis_with_the_eager_metadata():
    assert set(COMPILED) == {
        f"torch.nn.functional.{api}[compiled]"
        for api in (
            "cross_entropy",
            "cross_entropy[probs]",
            "log_softmax",
            "softmax",
            "binary_cross_entropy_with_logits",
            "kl_div",
        )
    }
    for name, entry in COMPILED.items():
        eager = ENTRIES[name.removesuffix("[compiled]")]
        assert entry.variant.endswith("compiled") and entry.result_extra is not None
        assert (entry.capabilities, entry.docs, entry.deviations) == (
            eager.capabilities,
            eager.docs,
            eager.deviations,
        )


def test_compiled_reproducer_compiles_the_public_function():
    entry = COMPILED["torch.nn.functional.log_softmax[compiled]"]
    script = entry.reproducer(small_case(entry, "float32"), "cpu")  # nothing is compiled here
    assert "torch.compile(torch.nn.functional.log_softmax, dynamic=True)(x, dim=-1)" in script


def test_compiled_entries_without_a_cpp_compiler_are_unsupported(monkeypatch):
    monkeypatch.setattr(torch_impls, "_cpp_compiler", lambda: None)
    entry = COMPILED["torch.nn.functional.softmax[compiled]"]
    with pytest.raises(Unsupported, match="needs a C\\+\\+ compiler"):
        entry.forward(small_case(entry, "float32"), "cpu")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COMPILED))
def test_compiled_matches_eager_and_reuses_the_compilation(name):
    import torch

    entry, eager = COMPILED[name], ENTRIES[name.removesuffix("[compiled]")]
    kwargs = small_case(entry, "float32")
    out = entry.forward(kwargs, "cpu")
    np.testing.assert_allclose(out, eager.forward(kwargs, "cpu"), rtol=1e-5, atol=1e-6)
    g = np.ones(np.shape(out), np.float32)
    np.testing.assert_allclose(
        entry.vjp(kwargs, g, "cpu"), eager.vjp(kwargs, g, "cpu"), rtol=1e-5, atol=1e-6
    )
    compiled = entry.result_extra()
    assert compiled["compile_s"] > 0 and compiled["compiled_signatures"] == 2
    # another batch size: dynamic shapes, so Dynamo makes no new graph
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    bigger = {
        k: np.concatenate([v, v]) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()
    }
    np.testing.assert_allclose(
        entry.forward(bigger, "cpu"), eager.forward(bigger, "cpu"), rtol=1e-5, atol=1e-6
    )
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
    assert entry.result_extra()["compiled_signatures"] == 2


def test_a_compiled_entry_past_the_recompile_limit_starts_dynamo_afresh(monkeypatch):
    """A worker that has compiled many entries reaches Dynamo's recompile limit; the next
    compiled call resets Dynamo and compiles again instead of leaving the case unrun."""
    import torch

    from verify.registry import torch_impls

    entry = COMPILED["torch.nn.functional.softmax[compiled]"]
    eager = ENTRIES["torch.nn.functional.softmax"]
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 1)
    generation = torch_impls._dynamo_generation
    for dtype in ("float32", "float64"):  # the second dtype is a second variant: over the limit
        kwargs = small_case(entry, dtype)
        out = entry.forward(kwargs, "cpu")
        np.testing.assert_allclose(out, eager.forward(kwargs, "cpu"), rtol=1e-5, atol=1e-6)
    assert torch_impls._dynamo_generation > generation
    assert entry.result_extra()["dynamo_resets"] >= 1


def test_memory_order_rebuilds_a_transposed_view():
    from verify.registry.torch_impls import memory_order

    a = np.arange(24.0).reshape(2, 3, 4)
    assert memory_order(a)[1] is None
    assert memory_order(np.broadcast_to(np.arange(4.0), (3, 4)))[1] is None  # zero stride
    view = np.moveaxis(a, -1, 1)  # (2, 4, 3), strides of a permutation
    base, permute = memory_order(view)
    assert base.flags.c_contiguous and permute is not None
    rebuilt = np.transpose(base, permute)
    assert np.array_equal(rebuilt, view) and rebuilt.strides == view.strides


def test_a_non_contiguous_input_is_reproduced_with_its_layout():
    """The entry calls PyTorch with the tensor of a transposed NumPy view (to_tensor keeps
    the layout); the reproducer rebuilds that layout, so it reproduces what the call did:
    here nll_loss's backward refusing a non-contiguous 4-D input (pytorch/pytorch#175084),
    a known issue of the entry."""
    import subprocess
    import sys

    entry = ENTRIES["torch.nn.functional.nll_loss"]
    x = np.moveaxis(np.zeros((1, 1, 2, 12), np.float32), -1, 1)
    kwargs = dict(input=x, target=np.zeros((1, 1, 2), np.int64), reduction="none")
    g = np.ones((1, 1, 2), np.float32)
    with pytest.raises(RuntimeError, match="grad_input must be contiguous"):
        entry.vjp(kwargs, g, "cpu")
    script = entry.gradient_reproducer(kwargs, g, "cpu")
    assert ".permute(0, 3, 1, 2)" in script
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0 and "grad_input must be contiguous" in done.stderr
    from verify.engine.search import matching_known_issue
    from verify.judge.severity import INACCURATE, WRONG_VALUE

    issue = matching_known_issue(entry, "gradient", "float32", kwargs, WRONG_VALUE)
    assert issue is not None and issue.link == "https://github.com/pytorch/pytorch/issues/175084"
    # only the raise the gradient check reports is registered, nothing else on such inputs
    assert matching_known_issue(entry, "gradient", "float32", kwargs, INACCURATE) is None
    assert matching_known_issue(entry, "accuracy", "float32", kwargs, WRONG_VALUE) is None
    contiguous = dict(kwargs, input=np.ascontiguousarray(x))
    assert matching_known_issue(entry, "gradient", "float32", contiguous, WRONG_VALUE) is None
    assert entry.vjp(contiguous, g, "cpu").shape == x.shape


def test_the_gradient_check_registers_the_nll_loss_layout_issue_as_a_wrong_value():
    """A gradient search over non-contiguous 4-D inputs ends in the registered raise: the
    failure's severity is a wrong value, so the known issue (limited to that severity)
    covers it."""
    from verify.checks import gradient

    entry = ENTRIES["torch.nn.functional.nll_loss"]
    x = np.moveaxis(np.zeros((1, 1, 2, 12), np.float32), -1, 1)
    kwargs = dict(input=x, target=np.zeros((1, 1, 2), np.int64), reduction="none")
    g = np.ones((1, 1, 2), np.float32)
    verdict = gradient.evaluate_gradient(entry, kwargs, g, "float32", "cpu")
    assert verdict.failed and verdict.severity == "wrong_value", verdict
