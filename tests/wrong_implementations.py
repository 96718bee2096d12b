"""Deliberately wrong implementations, each with the mistake real code makes.

Every function computes in float64 NumPy (unless the mistake is the precision) and is wrapped as
an :class:`~verify.registry.base.Implementation`, so the checks treat it like any registered
entry.  ``tests/test_checks_catch_wrong.py`` asserts that the relevant check fails on each, with
a message and a reproducer, and that careful implementations pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from verify.registry.base import Capabilities, Implementation

Kw = dict[str, Any]


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _out(values: Any, like: Any) -> np.ndarray:
    return np.asarray(values).astype(np.asarray(like).dtype)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """The stable algorithm: shift by the max, then ``log1p`` of the sum of the terms other
    than one top term (``log(1 + s)`` would lose ``s`` below the unit roundoff)."""
    m = np.max(x, axis=axis, keepdims=True)
    z = x - m
    top = np.argmax(x, axis=axis)
    e = np.exp(z)
    np.put_along_axis(e, np.expand_dims(top, axis), 0.0, axis=axis)
    return z - np.log1p(np.sum(e, axis=axis, keepdims=True))


def _ce_rows(x: np.ndarray, t: np.ndarray, w: np.ndarray, eps: float, off: float) -> np.ndarray:
    """Per-row CE with label smoothing whose off-target mass is ``off`` per class."""
    c = x.shape[1]
    ls = _log_softmax(x, 1)
    onehot = np.eye(c)[np.clip(t, 0, c - 1)]
    q = (1 - eps) * onehot + off * (1 - onehot)
    return -np.sum(q * w * ls, axis=1)


# ---- forward mistakes ------------------------------------------------------------------------


def softmax_unshifted(kw: Kw, device: str) -> np.ndarray:
    """exp(x) / sum(exp(x)): overflows to inf / inf = NaN for large logits."""
    x, axis = _f64(kw["x"]), kw.get("axis", -1)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return _out(e / np.sum(e, axis=axis, keepdims=True), kw["x"])


def softmax_careful(kw: Kw, device: str) -> np.ndarray:
    """Shifted softmax with the extended-real limit for a single +inf logit."""
    x, axis = _f64(kw["x"]), kw.get("axis", -1)
    with np.errstate(invalid="ignore"):
        y = np.exp(_log_softmax(x, axis))
        pos = np.isposinf(x)
        one_inf = np.sum(pos, axis=axis, keepdims=True) == 1
        no_nan = ~np.any(np.isnan(x), axis=axis, keepdims=True)
        y = np.where(one_inf & no_nan, pos.astype(float), y)
        return _out(y, kw["x"])


def softmax_global_max(kw: Kw, device: str) -> np.ndarray:
    """Shifts by the largest logit of the whole tensor, not of each row: a row far below
    another row underflows to 0 / 0."""
    x, axis = _f64(kw["x"]), kw.get("axis", -1)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(x - np.max(x))
        return _out(e / np.sum(e, axis=axis, keepdims=True), kw["x"])


def softmax_mask_nan(kw: Kw, device: str) -> np.ndarray:
    """Masks by multiplying: (x - max) * (x - max > -80) gives -inf * 0 = NaN at -inf logits."""
    x, axis = _f64(kw["x"]), kw.get("axis", -1)
    with np.errstate(invalid="ignore", over="ignore"):
        z = x - np.max(x, axis=axis, keepdims=True)
        z = z * (z > -80)
        e = np.exp(z) * (z > -80)
        return _out(e / np.sum(e, axis=axis, keepdims=True), kw["x"])


def log_softmax_biased_64ulp(kw: Kw, device: str) -> np.ndarray:
    """A correct result pushed 64 ULPs away from zero."""
    x, axis = _f64(kw["x"]), kw.get("axis", -1)
    y = _log_softmax(x, axis).astype(np.asarray(kw["x"]).dtype)
    for _ in range(64):
        y = np.nextafter(y, np.asarray(-np.inf, dtype=y.dtype))
    return y


def log_softmax_float32_inside(kw: Kw, device: str) -> np.ndarray:
    """A float64 API whose arithmetic is float32."""
    x = np.asarray(kw["x"], dtype=np.float32)
    return _out(_log_softmax(x, kw.get("axis", -1)), kw["x"])


def logsumexp_unshifted(kw: Kw, device: str) -> np.ndarray:
    """log(sum(exp(x))): overflows for large logits, -inf when all underflow."""
    x = _f64(kw["x"])
    with np.errstate(over="ignore", divide="ignore"):
        return _out(np.log(np.sum(np.exp(x), axis=kw.get("axis", -1))), kw["x"])


def _ce_common(kw: Kw) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    x = _f64(kw["input"])
    t = np.asarray(kw["target"])
    c = x.shape[1]
    w = np.ones(c) if kw.get("weight") is None else _f64(kw["weight"])
    valid = t != kw.get("ignore_index", -100)
    return x, t, w, valid, float(kw.get("label_smoothing", 0.0) or 0.0)


def _reduce(rows: np.ndarray, reduction: str, denom: float) -> np.ndarray:
    if reduction == "none":
        return rows
    total = rows.sum()
    return np.asarray(total if reduction == "sum" else total / denom)


def cross_entropy_careful(kw: Kw, device: str) -> np.ndarray:
    x, t, w, valid, eps = _ce_common(kw)
    c = x.shape[1]
    ls = _log_softmax(x, 1)
    tc = np.clip(t, 0, c - 1)
    nll = -w[tc] * np.take_along_axis(ls, tc[:, None], 1)[:, 0]
    smooth = -np.sum(w * ls, axis=1) / c
    rows = np.where(valid, (1 - eps) * nll + eps * smooth, 0.0)
    denom = np.where(valid, w[np.clip(t, 0, c - 1)], 0.0).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(_reduce(rows, kw.get("reduction", "mean"), denom), kw["input"])


def cross_entropy_smoothing_c_minus_1(kw: Kw, device: str) -> np.ndarray:
    """Label smoothing that spreads eps over the C - 1 other classes (eps/(C-1)), not eps/C
    over all of them, as PyTorch defines it."""
    x, t, w, valid, eps = _ce_common(kw)
    c = x.shape[1]
    off = eps / (c - 1)
    rows = _ce_rows(x, t, w, eps, off)
    rows = np.where(valid, rows, 0.0)
    denom = np.where(valid, w[np.clip(t, 0, c - 1)], 0.0).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(_reduce(rows, kw.get("reduction", "mean"), denom), kw["input"])


def cross_entropy_mean_over_n(kw: Kw, device: str) -> np.ndarray:
    """Weighted mean divided by the number of rows instead of the total weight."""
    x, t, w, valid, _ = _ce_common(kw)
    c = x.shape[1]
    rows = -np.take_along_axis(_log_softmax(x, 1), np.clip(t, 0, c - 1)[:, None], 1)[:, 0]
    rows = np.where(valid, rows * w[np.clip(t, 0, c - 1)], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(_reduce(rows, kw.get("reduction", "mean"), float(valid.sum())), kw["input"])


def cross_entropy_counts_ignored(kw: Kw, device: str) -> np.ndarray:
    """The mean counts ignored rows in its denominator."""
    x, t, _w, valid, _ = _ce_common(kw)
    c = x.shape[1]
    rows = -np.take_along_axis(_log_softmax(x, 1), np.clip(t, 0, c - 1)[:, None], 1)[:, 0]
    rows = np.where(valid, rows, 0.0)
    return _out(_reduce(rows, kw.get("reduction", "mean"), float(t.size)), kw["input"])


def cross_entropy_clips_indices(kw: Kw, device: str) -> np.ndarray:
    """Clips class indices into [0, C) instead of rejecting them: an out-of-range or negative
    index silently scores some other class (the careful forward above, minus validation)."""
    return cross_entropy_careful(kw, device)


def cross_entropy_validated(kw: Kw, device: str) -> np.ndarray:
    """The careful forward behind the checks PyTorch makes: class indices in [0, C) or
    ``ignore_index``, one target per row."""
    x, t = np.asarray(kw["input"]), np.asarray(kw["target"])
    if t.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(f"target shape {t.shape} does not match input shape {x.shape}")
    valid = t != kw.get("ignore_index", -100)
    if np.any((t[valid] < 0) | (t[valid] >= x.shape[1])):
        raise IndexError(f"class index out of range [0, {x.shape[1]})")
    return cross_entropy_careful(kw, device)


def cross_entropy_mean_over_n_with_sum(kw: Kw, device: str) -> np.ndarray:
    """Weighted mean divided by the number of rows, next to a correct ``sum``: the entry's own
    mean and sum disagree, which the identity check sees without the reference."""
    return cross_entropy_mean_over_n(kw, device)


def log_softmax_careful(kw: Kw, device: str) -> np.ndarray:
    """Shifted log_softmax in float64, rounded once into the input's dtype."""
    x, axis = _f64(kw["x"]), kw.get("axis", -1)
    with np.errstate(invalid="ignore"):
        return _out(_log_softmax(x, axis), kw["x"])


# ---- gradient mistakes -----------------------------------------------------------------------


def _ce_grad(kw: Kw, g: np.ndarray, scale_by_n: bool) -> np.ndarray:
    x, t, _, valid, _ = _ce_common(kw)
    c = x.shape[1]
    # p - onehot, with the target column as minus the sum of the other probabilities (the
    # complement: 1 - p_t would cancel when p_t -> 1)
    p = np.exp(_log_softmax(x, 1))
    hit = np.eye(c, dtype=bool)[np.clip(t, 0, c - 1)]
    others = np.sum(np.where(hit, 0.0, p), axis=1, keepdims=True)
    d = np.where(hit, -others, p)
    d = np.where(valid[:, None], d, 0.0)
    red = kw.get("reduction", "mean")
    gv = _f64(g)
    if red == "none":
        d = d * gv[:, None]
    else:
        d = d * gv
        if red == "mean" and scale_by_n:
            d = d / valid.sum()
    return _out(d, kw["input"])


def cross_entropy_grad_careful(kw: Kw, g: np.ndarray, device: str) -> np.ndarray:
    return _ce_grad(kw, g, scale_by_n=True)


def cross_entropy_grad_missing_1_over_n(kw: Kw, g: np.ndarray, device: str) -> np.ndarray:
    """The mean's gradient without its 1/N."""
    return _ce_grad(kw, g, scale_by_n=False)


# ---- entries ---------------------------------------------------------------------------------


def _entry(
    op: str,
    forward: Callable[..., np.ndarray],
    caps: Capabilities,
    dtypes: tuple[str, ...] = ("float32", "float64"),
    vjp: Callable[..., np.ndarray] | None = None,
) -> Implementation:
    """The entry ``wrong.<name>``, named after the function that is wrong: ``vjp`` when one
    is given (the forward is then a careful one), else ``forward``."""
    return Implementation(
        name=f"wrong.{(vjp or forward).__name__}",
        framework="numpy",
        op=op,
        forward=forward,
        capabilities=caps,
        dtypes=dtypes,
        vjp=vjp,
    )


SOFTMAX_CAPS = Capabilities(reductions=(), axis=False)
CE_CAPS = Capabilities(reductions=("none", "sum", "mean"), target="index")
MEAN_CAPS = Capabilities(reductions=("mean",), target="index")
#: a capability set with some fields changed
_with = dataclasses.replace

ENTRIES: dict[str, Implementation] = {
    e.name.removeprefix("wrong."): e
    for e in [
        _entry("softmax", softmax_unshifted, SOFTMAX_CAPS),
        _entry("softmax", softmax_careful, SOFTMAX_CAPS),
        _entry("softmax", softmax_mask_nan, SOFTMAX_CAPS),
        _entry("softmax", softmax_global_max, SOFTMAX_CAPS),
        _entry("log_softmax", log_softmax_biased_64ulp, SOFTMAX_CAPS),
        _entry("log_softmax", log_softmax_float32_inside, SOFTMAX_CAPS, dtypes=("float64",)),
        _entry("logsumexp", logsumexp_unshifted, SOFTMAX_CAPS),
        _entry(
            "cross_entropy",
            cross_entropy_careful,
            _with(CE_CAPS, class_weight=True, ignore_index=True, label_smoothing=True),
            vjp=None,
        ),
        _entry(
            "cross_entropy", cross_entropy_smoothing_c_minus_1, _with(CE_CAPS, label_smoothing=True)
        ),
        _entry("cross_entropy", cross_entropy_mean_over_n, _with(MEAN_CAPS, class_weight=True)),
        _entry("cross_entropy", cross_entropy_counts_ignored, _with(MEAN_CAPS, ignore_index=True)),
        _entry(
            "cross_entropy",
            cross_entropy_careful,
            MEAN_CAPS,
            vjp=cross_entropy_grad_missing_1_over_n,
        ),
        _entry(
            "cross_entropy",
            cross_entropy_mean_over_n_with_sum,
            _with(MEAN_CAPS, reductions=("mean", "sum"), class_weight=True),
        ),
        _entry("cross_entropy", cross_entropy_clips_indices, CE_CAPS),
        _entry("cross_entropy", cross_entropy_validated, CE_CAPS),
        _entry("log_softmax", log_softmax_careful, SOFTMAX_CAPS),
        _entry("cross_entropy", cross_entropy_careful, CE_CAPS, vjp=cross_entropy_grad_careful),
    ]
}
