"""The tolerance policy passes careful implementations and fails a 64-ULP bias.

Careful results: PyTorch's float64/float32 kernels, and the correctly rounded value itself.
Biased results: the reference value moved 64 ULPs.  Inputs: seeded random logits of moderate
and large scale, ties, spreads, many classes.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from verify.judge import tolerance
from verify.judge.ulp import ulp

reference = pytest.importorskip("reference")
torch = pytest.importorskip("torch")

TORCH = {"float32": torch.float32, "float64": torch.float64}


def _inputs(dtype: str, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    out = []
    for scale in (0.1, 1.0, 10.0, 100.0):
        for c in (2, 7, 33):
            out.append((rng.standard_normal((3, c)) * scale).astype(dt))
    out.append(np.array([[1.0, 1.0, 1.0, 1.0]], dtype=dt))  # exact ties
    out.append(np.array([[0.0, -60.0, -200.0, 3.0]], dtype=dt))  # exp underflows
    return out


def _biased(r: np.ndarray, dtype: str) -> np.ndarray:
    r64 = r.astype(np.float64)
    return r64 + 64 * ulp(r64, dtype) * np.where(r64 < 0, -1.0, 1.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
def test_torch_softmax_family_within_bound(op: str, dtype: str) -> None:
    fn = {"softmax": torch.softmax, "log_softmax": torch.log_softmax, "logsumexp": torch.logsumexp}[
        op
    ]
    worst = 0.0
    for x in _inputs(dtype, 1):
        r = getattr(reference, op)(x, axis=-1)
        y = fn(torch.from_numpy(x), -1).numpy()
        e = tolerance.forward_bound(op, {"x": x, "axis": -1}, dtype)
        worst = max(worst, float(tolerance.bound_ratio(y, r, e, dtype).max()))
    assert worst <= 1.0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("op", ["log_softmax", "logsumexp"])
def test_64_ulp_bias_fails(op: str, dtype: str) -> None:
    """On every well-scaled input of few classes, a 64-ULP bias exceeds the bound."""
    for x in _inputs(dtype, 2)[:6]:
        r = getattr(reference, op)(x, axis=-1)
        e = tolerance.forward_bound(op, {"x": x, "axis": -1}, dtype)
        assert float(tolerance.bound_ratio(r, r, e, dtype).max()) == 0.0
        assert float(tolerance.bound_ratio(_biased(r, dtype), r, e, dtype).max()) > 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_torch_cross_entropy_and_gradient_within_bound(dtype: str, reduction: str) -> None:
    rng = np.random.default_rng(3)
    for x in _inputs(dtype, 4):
        t = rng.integers(0, x.shape[1], x.shape[0])
        w = (rng.integers(1, 9, x.shape[1]) / 4).astype(x.dtype)
        kw = {
            "input": x,
            "target": t,
            "weight": w,
            "reduction": reduction,
            "label_smoothing": 0.125,
        }
        r = reference.cross_entropy(**kw)
        xt = torch.from_numpy(x).requires_grad_(True)
        y = torch.nn.functional.cross_entropy(
            xt,
            torch.from_numpy(t),
            weight=torch.from_numpy(w),
            reduction=reduction,
            label_smoothing=0.125,
        )
        e = tolerance.forward_bound("cross_entropy", kw, dtype)
        assert float(tolerance.bound_ratio(y.detach().numpy(), r, e, dtype).max()) <= 1.0
        g = np.ones(np.shape(r), dtype=x.dtype)
        y.backward(torch.from_numpy(g))
        rg = reference.cross_entropy_grad(**kw, grad_output=g)
        eg = tolerance.gradient_bound("cross_entropy", kw, g, dtype)
        ratio = tolerance.bound_ratio(xt.grad.numpy(), rg, eg, dtype)
        assert float(ratio.max()) <= 1.0
        assert float(tolerance.bound_ratio(_biased(r, dtype), r, e, dtype).max()) > 1.0 or (
            x.shape[1] > 7 or abs(float(x.astype(np.float64).max())) > 50
        )


def test_ill_conditioned_inputs_get_wider_bounds() -> None:
    x_small = np.array([[0.5, -0.25, 1.0]])
    x_large = x_small * 2.0**20
    e_small = tolerance.forward_bound("log_softmax", {"x": x_small}, "float64")
    e_large = tolerance.forward_bound("log_softmax", {"x": x_large}, "float64")
    assert np.all(e_large > 1000 * e_small)


def test_nan_bound_demands_exact_special_values() -> None:
    x = np.array([[np.inf, 1.0]])
    e = tolerance.forward_bound("softmax", {"x": x}, "float64")
    r = np.array([[1.0, 0.0]])
    assert tolerance.bound_ratio(r, r, e, "float64").max() == 0.0
    assert np.isinf(tolerance.bound_ratio(np.array([[np.nan, np.nan]]), r, e, "float64").max())


def test_unknown_op_is_rejected() -> None:
    with pytest.raises(ValueError, match="no error model"):
        tolerance.forward_bound("hinge", {"input": np.zeros(2)}, "float32")
