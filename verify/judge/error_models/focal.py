"""sigmoid_focal_loss (torchvision) and softmax_focal_loss (index or probability targets).

Standard of care:

- sigmoid focal loss ``alpha_t ce (1 - p_t)^gamma`` with ``ce`` the stable logits BCE of
  :mod:`.binary` and the complement ``1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x)`` formed
  from the two sigmoids of ``exp(-|x|)``, never as ``1 - p_t`` after rounding ``p_t``; its
  gradient ``alpha_t (dce q^gamma + ce gamma q^(gamma-1) dq)`` with
  ``dce = (1 - t) sigmoid(x) - t sigmoid(-x)``, ``dq = (1 - 2t) sigmoid(x) sigmoid(-x)``;
- softmax focal loss ``-alpha (1 - p_t)^gamma log p_t`` with ``log p_t`` the stable
  log-softmax of :mod:`.softmax_family` and ``1 - p_t = -expm1(log p_t)`` (M. Mächler,
  "Accurately computing log(1 - exp(-|a|))", 2012): relative accuracy also where ``p_t -> 1``.
  Probability targets combine the index-target bounds linearly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models import binary
from verify.judge.error_models import softmax_family as sf
from verify.judge.error_models.layout import (
    cotangent,
    elementwise_denominator,
    reduce,
    rows_back,
    rows_last,
)
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked


def _sigmoid_pieces(kw: Mapping[str, Any], m: Model) -> dict[str, Tracked]:
    ar = m.ar
    x = et.exact(kw["input"])
    t = np.asarray(kw["target"], dtype=np.float64)
    tt = et.exact(t)
    one_minus_t = et.sub(et.exact(np.ones_like(t)), tt, ar)
    p, om = binary.sigmoids(x, ar)
    q = et.add(et.mul(tt, om, ar), et.mul(one_minus_t, p, ar), ar)
    ce = et.add(
        et.mul(tt, binary.softplus(et.neg(x), ar), ar),
        et.mul(one_minus_t, binary.softplus(x, ar), ar),
        ar,
    )
    alpha = float(kw.get("alpha", 0.25))
    if alpha >= 0:
        at = et.add(
            et.mul(et.exact(np.full_like(t, alpha)), tt, ar),
            et.mul(et.exact(np.full_like(t, 1 - alpha)), one_minus_t, ar),
            ar,
        )
    else:
        at = et.exact(np.ones_like(t))
    return {"t": tt, "omt": one_minus_t, "p": p, "om": om, "q": q, "ce": ce, "at": at}


def sigmoid_terms(kw: Mapping[str, Any], m: Model) -> Tracked:
    ar = m.ar
    pc = _sigmoid_pieces(kw, m)
    gamma = float(kw.get("gamma", 2.0))
    return et.mul(pc["at"], et.mul(pc["ce"], et.power(pc["q"], gamma, ar), ar), ar)


def sigmoid_gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    ar = m.ar
    pc = _sigmoid_pieces(kw, m)
    t = pc["t"].v
    gamma = float(kw.get("gamma", 2.0))
    dce = et.sub(et.mul(pc["omt"], pc["p"], ar), et.mul(pc["t"], pc["om"], ar), ar)
    d = et.mul(dce, et.power(pc["q"], gamma, ar), ar)
    if gamma != 0:
        dq = et.mul(et.exact(1 - 2 * t), et.mul(pc["p"], pc["om"], ar), ar)
        dpow = et.mul(et.exact(np.full_like(t, gamma)), et.power(pc["q"], gamma - 1, ar), ar)
        d = et.add(d, et.mul(et.mul(pc["ce"], dpow, ar), dq, ar), ar)
    d = et.mul(pc["at"], d, ar)
    sc = cotangent(kw, g, t.shape, elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


def _softmax_rows(kw: Mapping[str, Any], m: Model) -> dict[str, Any]:
    ar = m.ar
    x = et.exact(rows_last(kw["input"]))
    r = sf.row(x, m)
    c = x.v.shape[-1]
    tc = np.clip(np.asarray(kw["target"]), 0, c - 1)
    ls_t = et.take(r.log_softmax, tc[..., None], -1)
    ls_t = Tracked(ls_t.v[..., 0], ls_t.e[..., 0])
    q = et.neg(et.expm1(ls_t, ar))
    alpha = kw.get("alpha")
    if alpha is None:
        at = et.exact(np.ones_like(q.v))
    elif np.ndim(alpha) == 0:
        at = et.exact(np.full_like(q.v, float(alpha)))
    else:
        at = et.exact(np.asarray(alpha, dtype=np.float64)[tc])
    return {"row": r, "tc": tc, "ls_t": ls_t, "q": q, "at": at}


def _softmax_index_forward(kw: Mapping[str, Any], m: Model) -> np.ndarray:
    ar = m.ar
    pc = _softmax_rows(kw, m)
    gamma = float(kw.get("gamma", 2.0))
    loss = et.neg(et.mul(et.mul(pc["at"], et.power(pc["q"], gamma, ar), ar), pc["ls_t"], ar))
    loss = Tracked(loss.v, sf.special(loss.e[..., None], pc["row"])[..., 0])
    loss = m.materialise(loss)
    denom = et.exact(np.asarray(float(loss.v.size)))
    return reduce(loss, kw.get("reduction", "mean"), denom, m).e


def _softmax_index_gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    ar = m.ar
    x_in = np.asarray(kw["input"])
    pc = _softmax_rows(kw, m)
    gamma = float(kw.get("gamma", 2.0))
    q, ls_t = pc["q"], pc["ls_t"]
    p = et.exp(ls_t, ar)
    f = et.power(q, gamma, ar)
    if gamma != 0:
        f2 = et.mul(
            et.mul(et.exact(np.full_like(q.v, gamma)), et.power(q, gamma - 1, ar), ar),
            et.mul(p, ls_t, ar),
            ar,
        )
        f = et.sub(f, f2, ar)
    f = et.mul(pc["at"], f, ar)
    r: sf.Row = pc["row"]
    y = r.softmax
    onehot = np.eye(y.v.shape[-1], dtype=bool)[pc["tc"]]
    qb = Tracked(
        np.broadcast_to(q.v[..., None], y.v.shape), np.broadcast_to(q.e[..., None], y.v.shape)
    )
    dy = et.where(onehot, qb, et.neg(y))
    d = et.neg(et.mul(Tracked(f.v[..., None], f.e[..., None]), dy, ar))
    rows = q.v.shape
    sc = cotangent(kw, g, rows, et.exact(np.asarray(float(np.prod(rows)))), m)
    out = et.mul(d, Tracked(sc.v[..., None], sc.e[..., None]), ar)
    return rows_back(sf.special(out.e, r), x_in.ndim)


def _with_probability_targets(
    fn: Callable[..., np.ndarray], gradient: bool
) -> Callable[..., np.ndarray]:
    """Extend an index-target bound of ``softmax_focal_loss`` to probability targets.

    With targets ``y`` the loss is ``sum_i y_i l_i`` where ``l_i`` is the loss with index target
    ``i``, so its error is at most ``sum_i |y_i| E_i`` (rows weighted one by one for
    ``reduction="none"`` and for gradients; for a reduction to a scalar each class's bound is
    scaled by its largest ``|y_i|`` over the rows, an upper bound), plus the rounding of the
    weighted sum itself, covered by a relative ``2^-20``.  The same holds for the gradient,
    a linear function of the per-class gradients."""

    def wrapped(kw: Mapping[str, Any], *args: Any) -> np.ndarray:
        target = np.asarray(kw["target"])
        if target.dtype.kind in "iu":
            return fn(kw, *args)
        x = np.asarray(kw["input"])
        y = np.abs(rows_last(target.astype(np.float64)))  # (..., C)
        index_shape = y.shape[:-1]
        moved_back = x.ndim > 1
        total: Any = 0.0
        for i in np.flatnonzero(np.any(y != 0, axis=tuple(range(y.ndim - 1)))):
            kw_i = dict(
                kw,
                target=np.full(index_shape, i, dtype=np.int64).reshape(
                    (x.shape[0], *x.shape[2:]) if moved_back else ()
                ),
            )
            b = np.asarray(fn(kw_i, *args), dtype=np.float64)
            yi = y[..., i]
            if gradient:  # per element: weight each row's gradient bound by its |y_i|
                w = yi.reshape((x.shape[0], 1, *x.shape[2:])) if moved_back else yi
                total = total + b * w
            elif b.ndim and b.size == yi.size:
                total = total + b * yi.reshape(b.shape)
            else:
                total = total + b * float(yi.max())
        return np.asarray(total, dtype=np.float64) * (1 + 2.0**-20)

    return wrapped


softmax_forward = _with_probability_targets(_softmax_index_forward, gradient=False)
softmax_gradient = _with_probability_targets(_softmax_index_gradient, gradient=True)

__all__ = ["sigmoid_gradient", "sigmoid_terms", "softmax_forward", "softmax_gradient"]
