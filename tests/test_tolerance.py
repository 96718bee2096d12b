"""The error models are sound and tight, and they reject the algorithms that cancel.

- Soundness: careful implementations of the stable algorithms (``tests/_np_formulas.py``,
  computing in the working precision and rounding once) are within the bound (ratio <= 1) in
  every dtype, on well-conditioned inputs and on the inputs where careless algorithms lose
  every digit (logits whose spacing exceeds 1, top gaps where ``1 - p`` falls below the unit
  roundoff, saturated softplus arguments); the correctly rounded value itself has ratio 0.
- Tightness: the reference value moved by 64 ULPs fails on every well-conditioned input, for
  every error model.
- The three calls of the verdict issue (optax without a shift, PyTorch's BCE-with-logits at
  ``x = -40``, the cross-entropy gradient ``p - 1``) fail, judged by ``verify.judge.compare``
  with the returned values written literally.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tests import _np_formulas as nf
from verify.judge import tolerance
from verify.judge.compare import judge
from verify.judge.ulp import ulp

reference = pytest.importorskip("reference")

DTYPES = ("float16", "bfloat16", "float32", "float64")


def _np_dtype(name: str) -> Any:
    return ml_dtypes.bfloat16 if name == "bfloat16" else np.dtype(name)


def _biased(r: np.ndarray, dtype: str) -> np.ndarray:
    r64 = np.asarray(r, dtype=np.float64)
    return r64 + 64 * ulp(r64, dtype) * np.where(r64 < 0, -1.0, 1.0)


# ---- the three calls of the verdict issue ----------------------------------------------------


def test_optax_unshifted_gather_fails() -> None:
    """optax.softmax_cross_entropy_with_integer_labels(float32 [[1e8]*3], [0]) returns 0.0
    (``lse - x_t`` after rounding ``lse``); the exact value is log 3."""
    kw = {"input": np.array([[1e8, 1e8, 1e8]], np.float32), "target": np.array([0])}
    kw["reduction"] = "none"
    ref = reference.cross_entropy(**kw)
    bound = tolerance.forward_bound("cross_entropy", kw, "float32")
    v = judge(np.array([0.0], np.float32), ref, bound, "float32", what="forward", case="1e8 row")
    assert v.failed
    assert "returned 0.0" in v.message and "1.0986" in v.message and "ULP off" in v.message
    assert not judge(ref, ref, bound, "float32", what="forward", case="").failed


def test_torch_bce_with_logits_cancellation_fails() -> None:
    """binary_cross_entropy_with_logits(float64 [-40.0], [0.0], reduction="none") returns 0.0
    (``x + softplus(-x)`` cancels); the exact value is log1p(exp(-40)) = 4.248e-18."""
    kw = {"input": np.array([-40.0]), "target": np.array([0.0]), "reduction": "none"}
    ref = reference.binary_cross_entropy_with_logits(**kw)
    bound = tolerance.forward_bound("binary_cross_entropy_with_logits", kw, "float64")
    v = judge(np.array([0.0]), ref, bound, "float64", what="forward", case="x = -40")
    assert v.failed
    assert "returned 0.0" in v.message and "4.248354255291589e-18" in v.message


def test_cross_entropy_gradient_p_minus_one_fails() -> None:
    """The gradient of cross_entropy(float64 [[37.42994775023705, 0.0]], [0]) as returned by
    PyTorch, JAX and TensorFlow: [0, 5.55e-17] (``p - 1`` after rounding ``p``); exact
    [-5.55e-17, 5.55e-17]."""
    kw = {"input": np.array([[37.42994775023705, 0.0]]), "target": np.array([0])}
    g = np.array(1.0)
    ref = reference.cross_entropy_grad(**kw, grad_output=g)
    bound = tolerance.gradient_bound("cross_entropy", kw, g, "float64")
    returned = np.array([[0.0, float(ref[0, 1])]])
    v = judge(returned, ref, bound, "float64", what="gradient", case="gap 37.4")
    assert v.failed
    assert "index (0, 0) returned 0.0" in v.message and "-5.55" in v.message
    assert "1 of 2 elements" in v.message


# ---- inputs ------------------------------------------------------------------------------------


def _logit_rows(dtype: str, seed: int, stressed: bool) -> list[np.ndarray]:
    """Well-conditioned rows (scales 0.1 to 4, ties), or the stressed ones: confident rows in
    the complement range, coarse rows (spacing > 1), saturated values."""
    rng = np.random.default_rng(seed)
    dt = _np_dtype(dtype)
    fmt = np.finfo(np.float64 if dtype == "float64" else np.float32)
    if not stressed:
        out = [
            (rng.standard_normal((3, c)) * s).astype(dt) for s in (0.1, 1.0, 4.0) for c in (2, 5)
        ]
        out.append(np.array([[1.0, 1.0, 1.0, 1.0]], dtype=dt))
        return out
    from verify.judge.ulp import float_format
    from verify.strategies._logits import complement_gaps

    f = float_format(dtype)
    lo, hi = complement_gaps(f)
    out = []
    for c in (2, 4):
        gaps = rng.uniform(lo, hi, (3, c))
        gaps[:, 0] = 0.0
        out.append((-gaps).astype(dt))
    base = 2.0 ** (f.precision + 2)
    out.append(
        (base + rng.integers(-4, 5, (3, 3)) * 2.0 ** (f.precision + 2 - f.precision + 1)).astype(dt)
    )
    out.append(np.full((1, 3), base, dtype=dt))
    del fmt
    return out


Case = tuple[str, dict[str, Any], Callable[[], np.ndarray]]


def _cases(dtype: str, stressed: bool) -> list[Case]:
    """(op, reference kwargs, careful implementation) for every error model."""
    rng = np.random.default_rng(7)
    dt = _np_dtype(dtype)
    out: list[Case] = []
    for x in _logit_rows(dtype, 1, stressed):
        for op in ("softmax", "log_softmax", "logsumexp"):
            out.append(
                (op, {"x": x, "axis": -1}, lambda op=op, x=x: nf.stable_softmax_family(op, x))
            )
        t = rng.integers(0, x.shape[1], x.shape[0])
        if stressed:
            t[:] = np.argmax(x.astype(np.float64), axis=1)
        w = (rng.integers(1, 9, x.shape[1]) / 4).astype(dt)
        for red in ("none", "sum", "mean"):
            for eps in (0.0, 0.125):
                kw = {
                    "input": x,
                    "target": t,
                    "weight": w,
                    "reduction": red,
                    "label_smoothing": eps,
                }
                out.append(
                    (
                        "cross_entropy",
                        kw,
                        lambda x=x, t=t, w=w, red=red, eps=eps: nf.stable_cross_entropy(
                            x, t, w, eps, red
                        ),
                    )
                )
        out.append(
            (
                "softmax_focal_loss",
                {"input": x, "target": t, "reduction": "none"},
                lambda x=x, t=t: nf.stable_softmax_focal(x, t, reduction="none"),
            )
        )
        ls = reference.log_softmax(x, axis=1)
        out.append(
            (
                "nll_loss",
                {"input": ls, "target": t, "reduction": "none"},
                lambda ls=ls, t=t: nf.stable_nll(ls, t, reduction="none"),
            )
        )
    shape = (3, 4)
    if stressed:
        from verify.judge.ulp import float_format
        from verify.strategies._logits import complement_gaps

        lo, hi = complement_gaps(float_format(dtype))
        xs = [(rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)).astype(dt)]
        ps = [np.exp(-rng.uniform(lo, hi, shape)).astype(dt)]
    else:
        xs = [(rng.standard_normal(shape) * s).astype(dt) for s in (0.5, 3.0)]
        ps = [(rng.integers(8, 248, shape) / 256).astype(dt)]
    for x in xs:
        for t in (
            rng.integers(0, 2, shape).astype(dt),
            (rng.integers(0, 65, shape) / 64).astype(dt),
        ):
            for red in ("none", "mean"):
                out.append(
                    (
                        "binary_cross_entropy_with_logits",
                        {"input": x, "target": t, "reduction": red},
                        lambda x=x, t=t, red=red: nf.stable_bce_logits(x, t, reduction=red),
                    )
                )
            out.append(
                (
                    "sigmoid_focal_loss",
                    {"input": x, "target": t, "reduction": "none"},
                    lambda x=x, t=t: nf.stable_sigmoid_focal(x, t),
                )
            )
    for p in ps:
        for t in (np.zeros(shape, dt), (rng.integers(0, 65, shape) / 64).astype(dt)):
            out.append(
                (
                    "binary_cross_entropy",
                    {"input": p, "target": t, "reduction": "none"},
                    lambda p=p, t=t: nf.stable_bce(p, t, reduction="none"),
                )
            )
    q = rng.integers(1, 17, shape).astype(np.float64)
    q = (q / q.sum(axis=1, keepdims=True)).astype(dt)
    lp = np.log(rng.integers(1, 17, shape) / 17.0).astype(dt)
    out.append(
        (
            "kl_div",
            {"input": lp, "target": q, "reduction": "none"},
            lambda lp=lp, q=q: nf.stable_kl(lp, q, reduction="none"),
        )
    )
    hx = (rng.standard_normal((3, 4)) * (8.0 if stressed else 0.5)).astype(dt)
    hw = (rng.standard_normal((5, 4)) * (8.0 if stressed else 0.5)).astype(dt)
    ht = rng.integers(0, 5, 3)
    out.append(
        (
            "linear_cross_entropy",
            {"input": hx, "linear_weight": hw, "target": ht, "reduction": "none"},
            lambda: nf.stable_linear_cross_entropy(hx, hw, ht, reduction="none"),
        )
    )
    return out


OPS = tolerance.OPS


def _worst(
    cases: list[Case], op: str, dtype: str, value: Callable[[Case, np.ndarray], Any]
) -> list[float]:
    ratios = []
    for case in cases:
        if case[0] != op:
            continue
        kw = case[1]
        ref = getattr(reference, op)(**kw)
        e = tolerance.forward_bound(op, kw, dtype)
        ratios.append(float(tolerance.bound_ratio(value(case, ref), ref, e, dtype).max()))
    return ratios


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stressed", [False, True], ids=["well-conditioned", "stressed"])
@pytest.mark.parametrize("op", OPS)
def test_careful_implementation_within_bound(op: str, dtype: str, stressed: bool) -> None:
    cases = _cases(dtype, stressed)
    ratios = _worst(cases, op, dtype, lambda case, ref: case[2]())
    assert ratios, f"no case for {op}"
    assert max(ratios) <= 1.0, ratios
    assert max(_worst(cases, op, dtype, lambda case, ref: ref)) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", OPS)
def test_64_ulp_bias_fails(op: str, dtype: str) -> None:
    """On every well-conditioned input, a 64-ULP bias of the correctly rounded value fails."""
    ratios = _worst(_cases(dtype, False), op, dtype, lambda case, ref: _biased(ref, dtype))
    assert ratios and min(ratios) > 1.0, ratios


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stressed", [False, True], ids=["well-conditioned", "stressed"])
def test_cross_entropy_gradient_sound_and_tight(dtype: str, stressed: bool) -> None:
    for op, kw, _ in _cases(dtype, stressed):
        if op != "cross_entropy":
            continue
        x = kw["input"]
        g = np.ones(np.shape(reference.cross_entropy(**kw)), dtype=x.dtype)
        ref = reference.cross_entropy_grad(**kw, grad_output=g)
        e = tolerance.gradient_bound("cross_entropy", kw, g, dtype)
        args = {k: v for k, v in kw.items() if k not in ("input", "target")}
        careful = nf.stable_cross_entropy_grad(x, kw["target"], g, **args)
        assert float(tolerance.bound_ratio(careful, ref, e, dtype).max()) <= 1.0
        if not stressed:
            biased = _biased(ref, dtype)
            assert float(tolerance.bound_ratio(biased, ref, e, dtype).max()) > 1.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stressed", [False, True], ids=["well-conditioned", "stressed"])
def test_bce_with_logits_gradient_sound_and_tight(dtype: str, stressed: bool) -> None:
    for op, kw, _ in _cases(dtype, stressed):
        if op != "binary_cross_entropy_with_logits" or kw["reduction"] != "none":
            continue
        g = np.ones(kw["input"].shape, dtype=kw["input"].dtype)
        ref = reference.binary_cross_entropy_with_logits_grad(**kw, grad_output=g)
        e = tolerance.gradient_bound("binary_cross_entropy_with_logits", kw, g, dtype)
        careful = nf.stable_bce_logits_grad(kw["input"], kw["target"], g)
        assert float(tolerance.bound_ratio(careful, ref, e, dtype).max()) <= 1.0
        hard = np.isin(kw["target"].astype(np.float64), (0.0, 1.0)).all()
        if not stressed and hard:  # soft targets: sigmoid(x) - t cancels in every algorithm
            assert float(tolerance.bound_ratio(_biased(ref, dtype), ref, e, dtype).min()) > 1.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bound_follows_x_minus_max_not_x(dtype: str) -> None:
    """Shifting by a power of two beyond the float spacing of 1 leaves the bound of
    log_softmax where the shifted algorithm leaves its error: unchanged."""
    p = 24 if dtype == "float32" else 53
    x = np.array([[0.0, -8.0, -16.0, 0.0]], dtype=dtype)  # multiples of the spacing 8 at c
    shifted = x + np.asarray(2.0 ** (p + 2), dtype=dtype)
    e = tolerance.forward_bound("log_softmax", {"x": x}, dtype)
    assert np.array_equal(shifted.astype(np.float64) - 2.0 ** (p + 2), x.astype(np.float64))
    e_shifted = tolerance.forward_bound("log_softmax", {"x": shifted}, dtype)
    np.testing.assert_allclose(e_shifted, e, rtol=1e-12)


def test_nan_bound_demands_exact_special_values() -> None:
    x = np.array([[np.inf, 1.0]])
    e = tolerance.forward_bound("softmax", {"x": x}, "float64")
    assert np.isnan(e).all()
    r = np.array([[1.0, 0.0]])
    assert tolerance.bound_ratio(r, r, e, "float64").max() == 0.0
    assert np.isinf(tolerance.bound_ratio(np.array([[0.5, 0.5]]), r, e, "float64").max())
    assert np.isinf(tolerance.bound_ratio(np.array([[np.nan, np.nan]]), r, e, "float64").max())


def test_unknown_op_is_rejected() -> None:
    with pytest.raises(ValueError, match="no error model"):
        tolerance.forward_bound("hinge", {"input": np.zeros(2)}, "float32")


def test_textbook_formulas_that_cancel_fail_where_the_stable_ones_pass() -> None:
    """The textbook float64 formulas of ``tests/_np_formulas.py`` (``log(sum(exp(x - m)))``,
    ``(1 - t) x + softplus(-x)``) lose every digit on a confident row and a saturated logit;
    the bound rejects them there and accepts the stable ones."""
    x = np.array([[0.0, -40.0, -41.0]])
    kw = {"x": x, "axis": -1}
    ref = reference.log_softmax(**kw)
    e = tolerance.forward_bound("log_softmax", kw, "float64")
    assert float(tolerance.bound_ratio(nf.log_softmax(x), ref, e, "float64").max()) > 1.0
    stable = nf.stable_softmax_family("log_softmax", x)
    assert float(tolerance.bound_ratio(stable, ref, e, "float64").max()) <= 1.0

    z, t = np.array([-40.0, 45.0]), np.array([0.0, 1.0])
    kw = {"input": z, "target": t, "reduction": "none"}
    ref = reference.binary_cross_entropy_with_logits(**kw)
    e = tolerance.forward_bound("binary_cross_entropy_with_logits", kw, "float64")
    assert float(tolerance.bound_ratio(nf.bce_logits(z, t), ref, e, "float64").max()) > 1.0
    stable = nf.stable_bce_logits(z, t, reduction="none")
    assert float(tolerance.bound_ratio(stable, ref, e, "float64").max()) <= 1.0
