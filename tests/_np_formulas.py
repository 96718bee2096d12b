"""Plain NumPy float64 formulas and analytic gradients the registry tests compare against.

Textbook definitions (PyTorch's conventions: class axis 1), written out independently of any
framework under test:

- log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m)), m = max_j x_j; softmax = exp(log_softmax)
- cross entropy with probabilities t: -sum_c t_c log_softmax(x)_c; gradient softmax(x) sum_c t_c - t
- binary cross entropy with logits and pos_weight q:
  (1 - t) x + (1 + (q - 1) t) softplus(-x); gradient (1 - t) - (1 + (q - 1) t) sigmoid(-x)
- sigmoid focal loss (torchvision): ce (1 - p_t)^gamma alpha_t, p_t = p t + (1 - p)(1 - t)
- softmax focal loss (Keras): -sum_c alpha (1 - p_c)^gamma t_c log p_c
- KL divergence: t (log t - x) with 0 log 0 = 0; gradient -t
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.exp(log_softmax(x, axis))


def logsumexp(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def one_hot(target: np.ndarray, classes: int) -> np.ndarray:
    """(N, d...) indices -> (N, C, d...) one-hot (rows of out-of-range indices are zero)."""
    eye = np.eye(classes)
    valid = (target >= 0) & (target < classes)
    return np.moveaxis(eye[np.where(valid, target, 0)] * valid[..., None], -1, 1)


def ce_probs(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return -np.sum(t * log_softmax(x, 1), axis=1)


def ce_probs_grad(x: np.ndarray, t: np.ndarray, g: np.ndarray) -> np.ndarray:
    return np.expand_dims(g, 1) * (softmax(x, 1) * np.sum(t, axis=1, keepdims=True) - t)


def softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def bce_logits(x: np.ndarray, t: np.ndarray, q: np.ndarray | float = 1.0) -> np.ndarray:
    return (1 - t) * x + (1 + (q - 1) * t) * softplus(-x)


def bce_logits_grad(x: np.ndarray, t: np.ndarray, q: np.ndarray | float = 1.0) -> np.ndarray:
    return (1 - t) - (1 + (q - 1) * t) * sigmoid(-x)


def sigmoid_focal(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    p = sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    loss = bce_logits(x, t) * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * t + (1 - alpha) * (1 - t))
    return loss


def softmax_focal(x: np.ndarray, t: np.ndarray, alpha: float, gamma: float) -> np.ndarray:
    p = softmax(x, 1)
    return -np.sum(alpha * (1 - p) ** gamma * t * np.log(p), axis=1)


def kl_elementwise(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0.0, t * (np.log(np.where(t == 0, 1.0, t)) - x))


def central_difference(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, g: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """sum(g * f(x)) differentiated elementwise by central differences (float64)."""
    grad = np.zeros_like(x)
    flat = grad.reshape(-1)
    for i in range(x.size):
        step = np.zeros(x.size)
        step[i] = h
        step = step.reshape(x.shape)
        flat[i] = (np.sum(g * f(x + step)) - np.sum(g * f(x - step))) / (2 * h)
    return grad


# ---- careful implementations of the stable algorithms (docs/tolerances.md) ------------------
#
# Each computes in the working precision of its input dtype (float32 for float16, bfloat16 and
# float32; float64 for float64) and rounds once into the input dtype.  They are the standard
# of care the error models bound: max shift, log1p of the complement sum, the complement at
# the top class, stable softplus/sigmoid, log1p(-p).


def working_dtype(dtype: object) -> np.dtype:
    """float64 for float64 inputs, float32 for everything narrower."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _rows_last(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


def _rows_back(a: np.ndarray, ndim: int) -> np.ndarray:
    return np.moveaxis(a, -1, 1) if ndim > 2 else a


def stable_rows(x: np.ndarray, wd: np.dtype) -> dict[str, np.ndarray]:
    """The shifted algorithm with log1p along the last axis, in ``wd``."""
    xw = x.astype(wd)
    k = np.argmax(xw, axis=-1)[..., None]
    top = np.zeros(xw.shape, dtype=bool)
    np.put_along_axis(top, k, True, axis=-1)
    a = np.take_along_axis(xw, k, axis=-1)
    d = np.where(top, wd.type(0), xw - a)
    e = np.where(top, wd.type(1), np.exp(d))
    rest = np.sum(np.where(top, wd.type(0), e), axis=-1, keepdims=True, dtype=wd)
    log1p_rest = np.log1p(rest)
    s = wd.type(1) + rest
    return {
        "top": top,
        "lse": a + log1p_rest,
        "log_softmax": d - log1p_rest,
        "softmax": e / s,
        "complement": rest / s,
    }


def stable_softmax_family(op: str, x: np.ndarray, axis: int = -1) -> np.ndarray:
    wd = working_dtype(x.dtype)
    r = stable_rows(np.moveaxis(x, axis, -1), wd)
    if op == "logsumexp":
        return r["lse"][..., 0].astype(x.dtype)
    return np.moveaxis(r[op], -1, axis).astype(x.dtype)


def _reduce(loss: np.ndarray, reduction: str, denom: float, wd: np.dtype) -> np.ndarray:
    if reduction == "none":
        return loss
    total = np.sum(loss, dtype=wd)
    return np.asarray(total if reduction == "sum" else total / wd.type(denom))


def _target_weights(
    x: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None,
    eps: float,
    wd: np.dtype,
    ignore_index: int = -100,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Effective target weights A (rows x C, classes last), valid rows, mean denominator."""
    c = x.shape[1]
    w = np.ones(c, dtype=wd) if weight is None else weight.astype(wd)
    if np.issubdtype(target.dtype, np.integer):
        valid = target != ignore_index
        tc = np.where(valid & (target >= 0) & (target < c), target, 0)
        onehot = np.eye(c, dtype=wd)[tc]
        a = wd.type(1 - eps) * onehot * w + wd.type(eps) * w / wd.type(c)
        a = np.where(valid[..., None], a, wd.type(0))
        return a, valid, float(np.sum(np.where(valid, w[tc], 0), dtype=np.float64))
    q = _rows_last(target).astype(wd)
    q = wd.type(1 - eps) * q + wd.type(eps) / wd.type(c)
    return q * w, np.ones(q.shape[:-1], dtype=bool), float(np.prod(q.shape[:-1]))


def _weighted(v: np.ndarray, weight: np.ndarray | None, wd: np.dtype) -> np.ndarray:
    """``v`` times the elementwise ``weight`` in ``wd`` (no weight: ``v``)."""
    return v if weight is None else v * weight.astype(wd)


def stable_cross_entropy(
    x: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> np.ndarray:
    wd = working_dtype(x.dtype)
    a, valid, denom = _target_weights(x, target, weight, label_smoothing, wd, ignore_index)
    r = stable_rows(_rows_last(x), wd)
    terms = np.where(a == 0, wd.type(0), -a * r["log_softmax"])
    rows = np.where(valid, np.sum(terms, axis=-1, dtype=wd), wd.type(0))
    return _reduce(rows, reduction, denom, wd).astype(x.dtype)


def stable_cross_entropy_grad(
    x: np.ndarray,
    target: np.ndarray,
    grad_output: np.ndarray,
    weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> np.ndarray:
    """``scale (y S - A)``; at the top class with ``y > 1/2``, ``scale (sum_{c != k} A_c - S (1 -
    y_k))`` with the complement ``s' / (1 + s')``."""
    wd = working_dtype(x.dtype)
    a, valid, denom = _target_weights(x, target, weight, label_smoothing, wd, ignore_index)
    r = stable_rows(_rows_last(x), wd)
    g = grad_output.astype(wd)
    if reduction == "none":
        scale = g[..., None]
    elif reduction == "sum":
        scale = g
    else:
        scale = g / wd.type(denom)
    big_s = np.sum(a, axis=-1, keepdims=True, dtype=wd)
    y = r["softmax"]
    plain = y * big_s - a
    others = np.sum(np.where(r["top"], wd.type(0), a), axis=-1, keepdims=True, dtype=wd)
    at_top = others - big_s * r["complement"]
    d = np.where(r["top"] & (y > 0.5), at_top, plain) * scale
    d = np.where(valid[..., None], d, wd.type(0))
    return _rows_back(d, x.ndim).astype(x.dtype)


def stable_nll(
    x: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None, reduction: str = "mean"
) -> np.ndarray:
    wd = working_dtype(x.dtype)
    c = x.shape[1]
    w = np.ones(c, dtype=wd) if weight is None else weight.astype(wd)
    xs = _rows_last(x).astype(wd)
    rows = -w[target] * np.take_along_axis(xs, target[..., None], -1)[..., 0]
    return _reduce(rows, reduction, float(np.sum(w[target], dtype=np.float64)), wd).astype(x.dtype)


def stable_softplus(z: np.ndarray) -> np.ndarray:
    """``max(z, 0) + log1p(exp(-|z|))`` in the dtype of ``z``."""
    return np.maximum(z, z.dtype.type(0)) + np.log1p(np.exp(-np.abs(z)))


def stable_sigmoids(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sigmoid(x), sigmoid(-x))`` from ``exp(-|x|)``."""
    z = np.exp(-np.abs(x))
    big, small = 1 / (1 + z), z / (1 + z)
    return np.where(x >= 0, big, small), np.where(x >= 0, small, big)


def _logits_coefficients(
    x: np.ndarray, t: np.ndarray, pos_weight: np.ndarray | None
) -> tuple[np.dtype, np.ndarray, np.ndarray, np.ndarray]:
    """The working dtype, ``x`` in it, and the coefficients ``A = pos_weight t`` of ``sp(-x)``
    and ``B = 1 - t`` of ``sp(x)``."""
    wd = working_dtype(x.dtype)
    xw, tw = x.astype(wd), t.astype(wd)
    a = tw if pos_weight is None else pos_weight.astype(wd) * tw
    return wd, xw, a, wd.type(1) - tw


def stable_bce_logits(
    x: np.ndarray,
    t: np.ndarray,
    pos_weight: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    reduction: str = "mean",
) -> np.ndarray:
    """``w (A sp(-x) + B sp(x))``, ``A = pos_weight t``, ``B = 1 - t``."""
    wd, xw, a, b = _logits_coefficients(x, t, pos_weight)
    loss = np.where(a == 0, wd.type(0), a * stable_softplus(-xw)) + np.where(
        b == 0, wd.type(0), b * stable_softplus(xw)
    )
    return _reduce(_weighted(loss, weight, wd), reduction, float(x.size), wd).astype(x.dtype)


def stable_bce_logits_grad(
    x: np.ndarray,
    t: np.ndarray,
    grad_output: np.ndarray,
    pos_weight: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    reduction: str = "none",
) -> np.ndarray:
    """``w (B sigmoid(x) - A sigmoid(-x))`` times the cotangent of each element."""
    wd, xw, a, b = _logits_coefficients(x, t, pos_weight)
    sig, sig_neg = stable_sigmoids(xw)
    d = _weighted(b * sig - a * sig_neg, weight, wd)
    g = grad_output.astype(wd)
    scale = g / wd.type(x.size) if reduction == "mean" else g
    return (d * scale).astype(x.dtype)


def stable_bce(
    p: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None, reduction: str = "mean"
) -> np.ndarray:
    """``-w (t log p + (1 - t) log1p(-p))``."""
    wd = working_dtype(p.dtype)
    pw, tw = p.astype(wd), t.astype(wd)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(tw == 0, wd.type(0), tw * np.log(pw))
        second = np.where(tw == 1, wd.type(0), (wd.type(1) - tw) * np.log1p(-pw))
    loss = -(first + second)
    return _reduce(_weighted(loss, weight, wd), reduction, float(p.size), wd).astype(p.dtype)


def stable_sigmoid_focal(
    x: np.ndarray, t: np.ndarray, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none"
) -> np.ndarray:
    """torchvision's ``alpha_t ce (1 - p_t)^gamma`` with ``1 - p_t = t sigmoid(-x) + (1 - t)
    sigmoid(x)`` and the stable ``ce``."""
    wd = working_dtype(x.dtype)
    xw, tw = x.astype(wd), t.astype(wd)
    p, om = stable_sigmoids(xw)
    one_minus_t = wd.type(1) - tw
    q = tw * om + one_minus_t * p
    ce = tw * stable_softplus(-xw) + one_minus_t * stable_softplus(xw)
    loss = ce * q ** wd.type(gamma)
    if alpha >= 0:
        loss = (wd.type(alpha) * tw + wd.type(1 - alpha) * one_minus_t) * loss
    return _reduce(loss, reduction, float(x.size), wd).astype(x.dtype)


def stable_softmax_focal(
    x: np.ndarray, target: np.ndarray, gamma: float = 2.0, reduction: str = "mean"
) -> np.ndarray:
    """``-(1 - p_t)^gamma log p_t`` with ``1 - p_t = -expm1(log p_t)``."""
    wd = working_dtype(x.dtype)
    ls = stable_rows(_rows_last(x), wd)["log_softmax"]
    ls_t = np.take_along_axis(ls, target[..., None], -1)[..., 0]
    loss = -((-np.expm1(ls_t)) ** wd.type(gamma)) * ls_t
    return _reduce(loss, reduction, float(loss.size), wd).astype(x.dtype)


def stable_kl(x: np.ndarray, t: np.ndarray, reduction: str = "mean") -> np.ndarray:
    """``t (log t - x)`` with ``0 log 0 = 0``."""
    wd = working_dtype(x.dtype)
    xw, tw = x.astype(wd), t.astype(wd)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(tw == 0, wd.type(0), tw * (np.log(tw) - xw))
    denom = float(x.shape[0]) if reduction == "batchmean" else float(x.size)
    return _reduce(loss, "mean" if reduction == "batchmean" else reduction, denom, wd).astype(
        x.dtype
    )


def stable_linear_cross_entropy(
    x: np.ndarray, w: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray:
    """Cross-entropy of ``x @ w.T`` (computed in the working precision)."""
    wd = working_dtype(x.dtype)
    logits = x.astype(wd) @ w.astype(wd).T
    return stable_cross_entropy(logits, target, reduction=reduction).astype(x.dtype)
