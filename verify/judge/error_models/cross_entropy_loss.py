"""cross_entropy (index and probability targets, class weights, label smoothing) and nll_loss.

Standard of care, on the rows of :mod:`.softmax_family` (classes moved last):

- loss of a row: ``sum_c A_c (L - d_c)`` with ``A`` the effective target weights
  (``(1 - eps) w_t [c = t] + eps w_c / C`` for index targets, ``w_c ((1 - eps) q_c + eps / C)``
  for probabilities), ``d = x - max x`` and ``L = log1p(s')``: every term is non-negative, so
  nothing cancels.  Forming ``logsumexp(x) - x_t`` after rounding ``logsumexp`` (or gathering
  ``x_t`` before the shift) is not accepted: at logits whose float spacing exceeds 1 it has no
  correct digit;
- gradient w.r.t. the logits: ``scale (y S - A)`` with ``S = sum_c A_c``, except at the row's
  largest class when its probability exceeds 1/2, where it is formed through the complement,
  ``scale (sum_{c != k} A_c - S (1 - y_k))`` with ``1 - y_k = s' / (1 + s')`` (or
  ``-expm1(log_softmax_k)``; M. Mächler, "Accurately computing log(1 - exp(-|a|))", 2012,
  https://cran.r-project.org/web/packages/Rmpfr/vignettes/log1mexp-note.pdf).  ``y_k - 1`` formed
  after ``y_k`` was rounded loses every digit once ``1 - y_k`` is below the unit roundoff;
- for float16/bfloat16 the log-probabilities are materialised in the input dtype (PyTorch
  documents ``cross_entropy`` as ``nll_loss(log_softmax(x))``:
  https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html), as are the
  per-row losses before the reduction and the gradient w.r.t. the log-probabilities;
- nll_loss: ``-w_t x_t`` rounded once, then the reduction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models import softmax_family as sf
from verify.judge.error_models.layout import cotangent, keep_last, reduce, rows_back, rows_last
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked


def _class_weights(kw: Mapping[str, Any], c: int) -> np.ndarray:
    weight = kw.get("weight")
    return np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)


def _index_rows(kw: Mapping[str, Any], c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(valid mask, clipped target class, weight of each row's target; 0 when ignored)."""
    target = np.asarray(kw["target"])
    valid = target != int(kw.get("ignore_index", -100))
    tc = np.where(valid & (target >= 0) & (target < c), target, 0)
    return valid, tc, np.where(valid, _class_weights(kw, c)[tc], 0.0)


def target_weights(kw: Mapping[str, Any], c: int, m: Model) -> tuple[Tracked, np.ndarray, Tracked]:
    """The effective target weights ``A`` (rows x C), the valid-row mask and the mean's
    denominator."""
    ar = m.ar
    w = _class_weights(kw, c)
    eps = float(kw.get("label_smoothing", 0.0) or 0.0)
    target = np.asarray(kw["target"])
    if np.issubdtype(target.dtype, np.integer):
        valid, tc, wt = _index_rows(kw, c)
        onehot = np.eye(c)[tc]
        a = et.mul(et.exact((1 - eps) * onehot), et.exact(np.broadcast_to(w, onehot.shape)), ar)
        if eps > 0:
            smooth = et.div(
                et.exact(np.broadcast_to(eps * w, onehot.shape)), et.exact(float(c)), ar
            )
            a = et.add(a, smooth, ar)
        a = et.where(valid[..., None], a, et.exact(np.zeros_like(onehot)))
        return a, valid, et.total(et.exact(wt), ar)
    q = np.asarray(rows_last(target), dtype=np.float64)
    valid = np.ones(q.shape[:-1], dtype=bool)
    qt = et.exact(q)
    if eps > 0:
        qt = et.add(
            et.mul(et.exact(np.full_like(q, 1 - eps)), qt, ar),
            et.div(et.exact(np.full_like(q, eps)), et.exact(float(c)), ar),
            ar,
        )
    a = et.mul(et.exact(np.broadcast_to(w, q.shape)), qt, ar)
    return a, valid, et.exact(np.asarray(float(valid.size)))


def row_losses(kw: Mapping[str, Any], logits: Tracked, m: Model) -> tuple[Tracked, dict[str, Any]]:
    """Per-row losses (materialised) and the pieces the gradient reuses."""
    ar = m.ar
    c = logits.v.shape[-1]
    a, valid, denom = target_weights(kw, c, m)
    r = sf.row(logits, m)
    ls = m.materialise(r.log_softmax)
    zero = (a.v == 0) & (a.e == 0)
    terms = et.where(zero, et.exact(np.zeros_like(a.v)), et.mul(a, et.neg(ls), ar))
    loss = et.total(terms, ar, axis=-1)
    loss = Tracked(loss.v, sf.special(loss.e[..., None], r)[..., 0])
    loss = et.where(valid, loss, et.exact(np.zeros_like(loss.v)))
    return m.materialise(loss), {"A": a, "valid": valid, "denom": denom, "row": r, "ls": ls}


def loss_from_logits(kw: Mapping[str, Any], logits: Tracked, m: Model) -> Tracked:
    rows, info = row_losses(kw, logits, m)
    return reduce(rows, kw.get("reduction", "mean"), info["denom"], m)


def _row_cotangent(kw: Mapping[str, Any], g: np.ndarray, info: dict[str, Any], m: Model) -> Tracked:
    reduction = kw.get("reduction", "mean")
    shape = (*info["valid"].shape, 1)
    gv = np.asarray(g, dtype=np.float64)
    if reduction == "none":
        return et.exact(gv[..., None])
    if reduction == "sum":
        return et.exact(np.full(shape, float(gv)))
    sc = et.div(et.exact(gv), info["denom"], m.ar)
    return Tracked(np.full(shape, sc.v), np.full(shape, sc.e))


def logits_gradient(kw: Mapping[str, Any], logits: Tracked, g: np.ndarray, m: Model) -> Tracked:
    """The vector-Jacobian product w.r.t. the logits (rows x C), complement at the top."""
    ar = m.ar
    _, info = row_losses(kw, logits, m)
    r: sf.Row = info["row"]
    gl = m.materialise(et.mul(info["A"], _row_cotangent(kw, g, info, m), ar))
    if m.low:  # autodiff reuses the saved (materialised) log-probabilities
        y = et.exp(info["ls"], ar)
        k = np.argmax(r.top, axis=-1)[..., None]
        comp = et.take(et.neg(et.expm1(info["ls"], ar)), k, -1)
    else:
        y, comp = r.softmax, r.complement
    gsum = keep_last(et.total(gl, ar, axis=-1))
    plain = et.sub(et.mul(y, gsum, ar), gl, ar)
    zero = et.exact(np.zeros_like(gl.v))
    others = keep_last(et.total(et.where(r.top, zero, gl), ar, axis=-1))
    at_top = et.sub(others, et.mul(gsum, comp, ar), ar)
    at_top = Tracked(np.broadcast_to(at_top.v, gl.v.shape), np.broadcast_to(at_top.e, gl.v.shape))
    out = et.where(r.top & (y.v > 0.5), at_top, plain)
    out = Tracked(out.v, sf.special(out.e, r))
    return et.where(info["valid"][..., None], out, zero)


def forward(kw: Mapping[str, Any], m: Model) -> np.ndarray:
    return loss_from_logits(kw, et.exact(rows_last(kw["input"])), m).e


def gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    x = np.asarray(kw["input"])
    return rows_back(logits_gradient(kw, et.exact(rows_last(x)), g, m).e, x.ndim)


def nll_forward(kw: Mapping[str, Any], m: Model) -> np.ndarray:
    ar = m.ar
    x = rows_last(kw["input"])
    valid, tc, wt = _index_rows(kw, x.shape[-1])
    xt = et.exact(np.take_along_axis(np.asarray(x, np.float64), tc[..., None], -1)[..., 0])
    row = et.neg(et.mul(et.exact(wt), xt, ar))
    row = et.where(valid, row, et.exact(np.zeros_like(row.v)))
    return reduce(row, kw.get("reduction", "mean"), et.total(et.exact(wt), ar), m).e


def nll_gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    x_in = np.asarray(kw["input"])
    x = rows_last(x_in)
    valid, tc, wt = _index_rows(kw, x.shape[-1])
    sc = cotangent(kw, g, wt.shape, et.total(et.exact(wt), m.ar), m)
    val = et.mul(et.exact(wt), sc, m.ar)
    e = np.zeros(x.shape)
    np.put_along_axis(e, tc[..., None], np.where(valid, val.e, 0.0)[..., None], axis=-1)
    return rows_back(e, x_in.ndim)


__all__ = [
    "forward",
    "gradient",
    "logits_gradient",
    "loss_from_logits",
    "nll_forward",
    "nll_gradient",
    "row_losses",
    "target_weights",
]
