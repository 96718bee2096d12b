"""Condition-aware error bounds: how far a careful implementation may be from the reference.

For every op and dtype, :func:`forward_bound` and :func:`gradient_bound` return, per output
element, a bound ``E`` on the error of a careful floating-point evaluation, obtained by running
the op's textbook algorithm through first-order running error analysis
(:mod:`verify.judge.error_tracking`).  A result ``y`` is judged against the correctly rounded
reference value ``r`` with

    allowed = ulp(r) + SAFETY * E,        bound_ratio = |y - r| / allowed   (> 1 fails)

``ulp(r)`` pays for the two final roundings (the implementation's into the output format and
the reference's); ``E`` grows with the problem's condition number because every input is
charged a relative perturbation of one unit roundoff, so ill-conditioned inputs are judged by
a wider bound, never skipped.  The analysis follows Blanchard, Higham & Higham, "Accurately
computing the log-sum-exp and softmax functions", IMA J. Numer. Anal. 41(4), 2021
(https://doi.org/10.1093/imanum/draa038): the shifted algorithms ``a + log(sum exp(x - a))``,
``exp(x - a) / sum exp(x - a)`` and ``x - a - log(sum exp(x - a))`` with ``a = max x``, and the
division-free ``exp(x - lse(x))`` variants; the bound is the larger of the two algorithm
families, so either is accepted.

The arithmetic model (see ``docs/tolerances.md`` for the reasoning):

- working precision: float32 for float16, bfloat16 and float32 inputs (frameworks upcast
  half-precision data and accumulate in float32), float64 for float64;
- elementary functions within 2 ULPs of the working precision (``uf = 4u``): CUDA documents
  ``expf`` at 2 ULPs and ``logf`` at 1 ULP; glibc and SLEEF are within 1 ULP;
- reductions: at least 4 interleaved partial sums combined pairwise
  (:meth:`verify.judge.error_tracking.Arithmetic.k`), which covers SIMD lanes, pairwise and blocked
  summation and GPU tree reductions;
- for float16 and bfloat16, tensors that a loss passes between library primitives (the
  log-probabilities of ``log_softmax`` inside cross-entropy, the logits of a linear layer, the
  saved outputs that autodiff reuses, the per-element loss before the reduction) are
  materialised in the input dtype, as eager frameworks do; fused softmax-family kernels are not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_tracking import Arithmetic, Tracked
from verify.judge.ulp import FORMATS, float_format, ulp
from verify.ops import SOFTMAX_FAMILY

#: the modelled error E is multiplied by this before adding the final-rounding ULP: it covers
#: the reorderings of one algorithm (e.g. ``(1-t)x + sp`` against ``max(x,0) - xt + sp``) and the
#: neglected second-order terms
SAFETY = 2.0
#: accuracy assumed of exp/log/log1p/expm1/pow, in ULPs of the working precision
ELEMENTARY_ULPS = 2.0

WORKING_FORMAT = {"float16": "float32", "bfloat16": "float32", "float32": "float32"}


def working_arithmetic(dtype: Any) -> Arithmetic:
    """The :class:`~verify.judge.error_tracking.Arithmetic` assumed for inputs of ``dtype``."""
    fmt = float_format(dtype)
    work = FORMATS[WORKING_FORMAT.get(fmt.name, fmt.name)]
    u = work.unit_roundoff
    return Arithmetic(u=u, uf=2 * ELEMENTARY_ULPS * u, tiny=work.min_subnormal / 2)


class _Model:
    """Holds the arithmetic of one dtype and whether intermediates are materialised."""

    def __init__(self, dtype: Any) -> None:
        self.fmt = float_format(dtype)
        self.ar = working_arithmetic(dtype)
        self.low = self.fmt.precision < 24

    def materialise(self, a: Tracked) -> Tracked:
        if not self.low:
            return a
        return et.rounded_to(a, self.fmt.unit_roundoff, self.fmt.min_subnormal / 2)

    def saved(self, a: Tracked) -> Tracked:
        """An output saved for the backward pass: always held in the output dtype."""
        return et.rounded_to(a, self.fmt.unit_roundoff, self.fmt.min_subnormal / 2)


def _emax(a: Tracked, b: Tracked) -> Tracked:
    return Tracked(a.v, np.maximum(a.e, b.e))


# ---- the softmax family along the last axis --------------------------------------------------


def _softmax_parts(x: Tracked, m: _Model) -> dict[str, Tracked]:
    """log_softmax, softmax and logsumexp of ``x`` along its last axis, with error bounds.

    Rows with NaN or +inf get NaN bounds: their semantics are exact (special values), so the
    checks require an exact match there.
    """
    ar = m.ar
    with np.errstate(invalid="ignore"):
        a = np.max(x.v, axis=-1, keepdims=True)
        bad = np.isnan(a) | np.isposinf(a) | np.isneginf(a)
        bad = bad | np.any(np.isnan(x.v), axis=-1, keepdims=True)
    shift = et.exact(np.where(bad, np.nan, a))
    d = et.sub(x, shift, ar)
    ex = et.exp(d, ar)
    s = et.total(ex, ar, axis=-1)
    s = Tracked(s.v[..., None], s.e[..., None])
    log_s = et.log(s, ar)
    lse = et.add(shift, log_s, ar)
    # family 1: shifted formulas
    ls1 = et.sub(d, log_s, ar)
    sm1 = et.div(ex, s, ar)
    # family 2: division-free, through lse
    ls2 = et.sub(x, lse, ar)
    sm2 = et.exp(ls2, ar)
    return {"log_softmax": _emax(ls1, ls2), "softmax": _emax(sm1, sm2), "logsumexp": lse}


def _last(a: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(np.asarray(a), axis, -1)


def _softmax_family_forward(op: str, kw: Mapping[str, Any], m: _Model) -> np.ndarray:
    x = np.asarray(kw["x"])
    axis = int(kw.get("axis", -1)) % max(x.ndim, 1)
    xt = et.perturbed(_last(x, axis), m.ar)
    part = _softmax_parts(xt, m)[op]
    if op == "logsumexp":
        return _logsumexp_composite(xt, m).e[..., 0]
    return np.moveaxis(part.e, -1, axis)


def _logsumexp_composite(x: Tracked, m: _Model) -> Tracked:
    """``a + log(sum(exp(x - a)))`` as separate library operations: for float16/bfloat16 each
    intermediate tensor is materialised in the input dtype (logsumexp is rarely one fused
    kernel)."""
    ar = m.ar
    parts = _softmax_parts(x, m)
    if not m.low:
        return parts["logsumexp"]
    a = np.max(x.v, axis=-1, keepdims=True)
    bad = ~np.isfinite(a) | np.any(np.isnan(x.v), axis=-1, keepdims=True)
    shift = et.exact(np.where(bad, np.nan, a))
    ex = m.materialise(et.exp(m.materialise(et.sub(x, shift, ar)), ar))
    s = et.total(ex, ar, axis=-1)
    s = m.materialise(Tracked(s.v[..., None], s.e[..., None]))
    lse = et.add(shift, m.materialise(et.log(s, ar)), ar)
    return _emax(lse, parts["logsumexp"])


def _softmax_family_grad(op: str, kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    ar = m.ar
    x = np.asarray(kw["x"])
    axis = int(kw.get("axis", -1)) % max(x.ndim, 1)
    xt = et.perturbed(_last(x, axis), ar)
    parts = _softmax_parts(xt, m)
    if op == "logsumexp":
        gt = et.exact(np.asarray(g, dtype=np.float64)[..., None])
        lse = m.saved(parts["logsumexp"])
        y = _emax(parts["softmax"], et.exp(et.sub(xt, lse, ar), ar))
        out = et.mul(gt, y, ar)
    elif op == "softmax":
        gt = et.exact(_last(g, axis))
        y = m.saved(parts["softmax"])
        dot = et.total(et.mul(gt, y, ar), ar, axis=-1)
        dot = Tracked(dot.v[..., None], dot.e[..., None])
        out = et.mul(y, et.sub(gt, dot, ar), ar)
    else:
        gt = et.exact(_last(g, axis))
        y = et.exp(m.saved(parts["log_softmax"]), ar)
        y = _emax(y, parts["softmax"])
        gs = et.total(gt, ar, axis=-1)
        gs = Tracked(gs.v[..., None], gs.e[..., None])
        out = et.sub(gt, et.mul(y, gs, ar), ar)
    return np.moveaxis(out.e, -1, axis)


# ---- losses ----------------------------------------------------------------------------------


def _rows_last(a: np.ndarray) -> np.ndarray:
    """(N, C, d1..dk) -> (N, d1..dk, C); (N, C) unchanged."""
    a = np.asarray(a)
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


def _rows_back(a: np.ndarray, ndim: int) -> np.ndarray:
    return np.moveaxis(a, -1, 1) if ndim > 2 else a


def _reduce(loss: Tracked, reduction: str, denom: Tracked | None, m: _Model) -> Tracked:
    if reduction == "none":
        return loss
    tot = et.total(loss, m.ar)
    if reduction == "sum":
        return tot
    assert denom is not None
    return et.div(tot, denom, m.ar)


def _class_targets(kw: Mapping[str, Any], logits: Tracked, m: _Model) -> dict[str, Any]:
    """Per-row quantities of softmax cross-entropy: effective target weights ``A`` (rows x C),
    the valid-row mask, the per-row loss and the mean's denominator."""
    ar = m.ar
    c = logits.v.shape[-1]
    weight = kw.get("weight")
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    eps = float(kw.get("label_smoothing", 0.0) or 0.0)
    parts = _softmax_parts(logits, m)
    ls = m.materialise(parts["log_softmax"])
    target = np.asarray(kw["target"])
    if np.issubdtype(target.dtype, np.integer):
        ignore = int(kw.get("ignore_index", -100))
        valid = target != ignore
        tc = np.where(valid & (target >= 0) & (target < c), target, 0)
        onehot = np.eye(c)[tc]
        a_tr = et.mul(et.exact((1 - eps) * onehot * w), et.exact(np.ones_like(onehot)), ar)
        if eps > 0:
            smooth = et.perturbed(np.broadcast_to(w * (eps / c), onehot.shape), ar)
            a_tr = et.add(a_tr, smooth, ar)
        a_tr = et.where(valid[..., None], a_tr, et.exact(np.zeros_like(onehot)))
        wt = np.where(valid, w[tc], 0.0)
        denom = et.total(et.exact(wt), ar)
    else:
        q = np.asarray(_rows_last(target), dtype=np.float64)
        valid = np.ones(q.shape[:-1], dtype=bool)
        qt = et.exact(q)
        if eps > 0:
            qt = et.add(
                et.mul(et.perturbed(np.full_like(q, 1 - eps), ar), qt, ar),
                et.perturbed(np.full_like(q, eps / c), ar),
                ar,
            )
        a_tr = et.mul(et.exact(np.broadcast_to(w, q.shape)), qt, ar)
        denom = et.exact(np.asarray(float(valid.size)))
    zero = (a_tr.v == 0) & (a_tr.e == 0)
    terms = et.mul(a_tr, ls, ar)
    terms = et.where(zero, et.exact(np.zeros_like(terms.v)), terms)
    row = et.neg(et.total(terms, ar, axis=-1))
    row = et.where(valid, row, et.exact(np.zeros_like(row.v)))
    return {"A": a_tr, "valid": valid, "row": row, "denom": denom, "parts": parts, "ls": ls}


def _cross_entropy_from_logits(
    kw: Mapping[str, Any], logits: Tracked, m: _Model
) -> tuple[Tracked, dict[str, Any]]:
    info = _class_targets(kw, logits, m)
    row = m.materialise(info["row"])
    return _reduce(row, kw.get("reduction", "mean"), info["denom"], m), info


def _cross_entropy_grad_logits(
    kw: Mapping[str, Any], logits: Tracked, g: np.ndarray, m: _Model
) -> Tracked:
    """Gradient of cross-entropy w.r.t. the logits (rows x C): ``scale * (y * sum(A) - A)``."""
    ar = m.ar
    info = _class_targets(kw, logits, m)
    reduction = kw.get("reduction", "mean")
    gv = np.asarray(g, dtype=np.float64)
    if reduction == "none":
        scale = et.exact(gv[..., None])
    elif reduction == "sum":
        scale = et.exact(np.full((*info["valid"].shape, 1), float(gv)))
    else:
        d = info["denom"]
        sc = et.div(et.exact(gv), d, ar)
        scale = Tracked(
            np.full((*info["valid"].shape, 1), sc.v), np.full((*info["valid"].shape, 1), sc.e)
        )
    gl = m.materialise(et.mul(info["A"], scale, ar))
    gsum = et.total(gl, ar, axis=-1)
    gsum = Tracked(gsum.v[..., None], gsum.e[..., None])
    y = _emax(et.exp(m.saved(info["ls"]), ar), info["parts"]["softmax"])
    out = et.sub(et.mul(y, gsum, ar), gl, ar)
    return et.where(info["valid"][..., None], out, et.exact(np.zeros_like(out.v)))


def _cross_entropy_forward(kw: Mapping[str, Any], m: _Model) -> np.ndarray:
    x = et.perturbed(_rows_last(kw["input"]), m.ar)
    return _cross_entropy_from_logits(kw, x, m)[0].e


def _cross_entropy_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    x_in = np.asarray(kw["input"])
    x = et.perturbed(_rows_last(x_in), m.ar)
    return _rows_back(_cross_entropy_grad_logits(kw, x, g, m).e, x_in.ndim)


def _index_rows(kw: Mapping[str, Any], c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target = np.asarray(kw["target"])
    ignore = int(kw.get("ignore_index", -100))
    valid = target != ignore
    tc = np.where(valid & (target >= 0) & (target < c), target, 0)
    weight = kw.get("weight")
    w = np.ones(c) if weight is None else np.asarray(weight, dtype=np.float64)
    return valid, tc, np.where(valid, w[tc], 0.0)


def _nll_forward(kw: Mapping[str, Any], m: _Model) -> np.ndarray:
    ar = m.ar
    x = _rows_last(kw["input"])
    valid, tc, wt = _index_rows(kw, x.shape[-1])
    xt = et.perturbed(np.take_along_axis(np.asarray(x, np.float64), tc[..., None], -1)[..., 0], ar)
    row = et.neg(et.mul(et.exact(wt), xt, ar))
    row = et.where(valid, row, et.exact(np.zeros_like(row.v)))
    return _reduce(row, kw.get("reduction", "mean"), et.total(et.exact(wt), ar), m).e


def _scale_for(
    kw: Mapping[str, Any], g: np.ndarray, shape: tuple[int, ...], denom: Tracked, m: _Model
) -> Tracked:
    reduction = kw.get("reduction", "mean")
    gv = np.asarray(g, dtype=np.float64)
    if reduction == "none":
        return et.exact(np.broadcast_to(gv, shape))
    if reduction == "sum":
        return et.exact(np.full(shape, float(gv)))
    sc = et.div(et.exact(gv), denom, m.ar)
    return Tracked(np.full(shape, sc.v), np.full(shape, sc.e))


def _nll_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    x_in = np.asarray(kw["input"])
    x = _rows_last(x_in)
    valid, tc, wt = _index_rows(kw, x.shape[-1])
    sc = _scale_for(kw, g, wt.shape, et.total(et.exact(wt), m.ar), m)
    val = et.mul(et.exact(wt), sc, m.ar)
    e = np.zeros(x.shape)
    np.put_along_axis(e, tc[..., None], np.where(valid, val.e, 0.0)[..., None], axis=-1)
    return _rows_back(e, x_in.ndim)


def _elementwise_denominator(kw: Mapping[str, Any]) -> Tracked:
    x = np.asarray(kw["input"])
    if kw.get("reduction") == "batchmean":
        return et.exact(np.asarray(float(x.shape[0] if x.ndim else 1)))
    return et.exact(np.asarray(float(x.size)))


def _weight(kw: Mapping[str, Any], name: str, shape: tuple[int, ...]) -> Tracked:
    w = kw.get(name)
    if w is None:
        return et.exact(np.ones(shape))
    return et.exact(np.broadcast_to(np.asarray(w, dtype=np.float64), shape))


def _bce_terms(kw: Mapping[str, Any], m: _Model) -> Tracked:
    ar = m.ar
    p = et.perturbed(kw["input"], ar)
    t = np.asarray(kw["target"], dtype=np.float64)
    one = et.exact(np.ones_like(p.v))
    lp = et.log(p, ar)
    l1p = et.log(et.sub(one, p, ar), ar)
    zero = et.exact(np.zeros_like(p.v))
    a = et.where(t == 0, zero, et.mul(et.exact(t), lp, ar))
    b = et.where(t == 1, zero, et.mul(et.perturbed(1 - t, ar), l1p, ar))
    loss = et.neg(et.add(a, b, ar))
    return et.mul(_weight(kw, "weight", p.shape), loss, ar)


def _sigmoids(x: Tracked, ar: Arithmetic) -> tuple[Tracked, Tracked]:
    """(sigmoid(x), sigmoid(-x)), each through exp(-|x|) (no cancellation)."""
    z = et.exp(et.neg(et.abs_(x)), ar)
    one = et.exact(np.ones_like(x.v))
    big = et.div(one, et.add(one, z, ar), ar)
    small = et.div(z, et.add(one, z, ar), ar)
    pos = x.v >= 0
    return et.where(pos, big, small), et.where(pos, small, big)


def _softplus_neg(x: Tracked, ar: Arithmetic) -> Tracked:
    """softplus(-x) = max(-x, 0) + log1p(exp(-|x|))."""
    return et.add(et.relu(et.neg(x)), et.log1p(et.exp(et.neg(et.abs_(x)), ar), ar), ar)


def _bce_logits_terms(kw: Mapping[str, Any], m: _Model) -> Tracked:
    ar = m.ar
    x = et.perturbed(kw["input"], ar)
    t = np.asarray(kw["target"], dtype=np.float64)
    sp = _softplus_neg(x, ar)
    pw = kw.get("pos_weight")
    if pw is None:
        coef = et.exact(np.ones_like(t))
    else:
        pwb = np.broadcast_to(np.asarray(pw, dtype=np.float64), t.shape)
        coef = et.add(
            et.exact(np.ones_like(t)), et.mul(et.perturbed(pwb - 1, ar), et.exact(t), ar), ar
        )
    loss = et.add(et.mul(et.perturbed(1 - t, ar), x, ar), et.mul(coef, sp, ar), ar)
    return et.mul(_weight(kw, "weight", x.shape), loss, ar)


def _focal_pieces(kw: Mapping[str, Any], m: _Model) -> dict[str, Tracked]:
    ar = m.ar
    x = et.perturbed(kw["input"], ar)
    t = np.asarray(kw["target"], dtype=np.float64)
    p, om = _sigmoids(x, ar)
    q = et.add(et.mul(et.exact(t), om, ar), et.mul(et.perturbed(1 - t, ar), p, ar), ar)
    ce = et.add(et.mul(et.perturbed(1 - t, ar), x, ar), _softplus_neg(x, ar), ar)
    alpha = float(kw.get("alpha", 0.25))
    if alpha >= 0:
        at = et.add(et.perturbed(alpha * t, ar), et.perturbed((1 - alpha) * (1 - t), ar), ar)
    else:
        at = et.exact(np.ones_like(t))
    return {"x": x, "p": p, "om": om, "q": q, "ce": ce, "at": at}


def _sigmoid_focal_forward(kw: Mapping[str, Any], m: _Model) -> Tracked:
    ar = m.ar
    pc = _focal_pieces(kw, m)
    gamma = float(kw.get("gamma", 2.0))
    loss = et.mul(pc["at"], et.mul(pc["ce"], et.power(pc["q"], gamma, ar), ar), ar)
    return loss


def _sigmoid_focal_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    ar = m.ar
    pc = _focal_pieces(kw, m)
    t = np.asarray(kw["target"], dtype=np.float64)
    gamma = float(kw.get("gamma", 2.0))
    dce = et.sub(pc["p"], et.exact(t), ar)
    term1 = et.mul(dce, et.power(pc["q"], gamma, ar), ar)
    if gamma != 0:
        dq = et.neg(et.mul(et.exact(2 * t - 1), et.mul(pc["p"], pc["om"], ar), ar))
        dpow = et.mul(
            et.perturbed(np.full_like(t, gamma), ar), et.power(pc["q"], gamma - 1, ar), ar
        )
        term2 = et.mul(et.mul(pc["ce"], dpow, ar), dq, ar)
        d = et.add(term1, term2, ar)
    else:
        d = term1
    d = et.mul(pc["at"], d, ar)
    sc = _scale_for(kw, g, t.shape, _elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


def _softmax_focal_rows(kw: Mapping[str, Any], m: _Model) -> dict[str, Any]:
    ar = m.ar
    x_in = np.asarray(kw["input"])
    x = et.perturbed(_rows_last(x_in), ar)
    c = x.v.shape[-1]
    parts = _softmax_parts(x, m)
    target = np.asarray(kw["target"])
    tc = np.clip(target, 0, c - 1)
    ls_t = et.take(parts["log_softmax"], tc[..., None], -1)
    ls_t = Tracked(ls_t.v[..., 0], ls_t.e[..., 0])
    q = et.neg(et.expm1(ls_t, ar))
    alpha = kw.get("alpha")
    if alpha is None:
        at = et.exact(np.ones_like(q.v))
    elif np.ndim(alpha) == 0:
        at = et.perturbed(np.full_like(q.v, float(alpha)), ar)
    else:
        at = et.exact(np.asarray(alpha, dtype=np.float64)[tc])
    return {"x": x, "parts": parts, "tc": tc, "ls_t": ls_t, "q": q, "at": at}


def _softmax_focal_forward(kw: Mapping[str, Any], m: _Model) -> Tracked:
    ar = m.ar
    r = _softmax_focal_rows(kw, m)
    gamma = float(kw.get("gamma", 2.0))
    row = et.neg(et.mul(et.mul(r["at"], et.power(r["q"], gamma, ar), ar), r["ls_t"], ar))
    return row


def _softmax_focal_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    ar = m.ar
    x_in = np.asarray(kw["input"])
    r = _softmax_focal_rows(kw, m)
    gamma = float(kw.get("gamma", 2.0))
    q, ls_t = r["q"], r["ls_t"]
    p = et.exp(ls_t, ar)
    f = et.power(q, gamma, ar)
    if gamma != 0:
        f2 = et.mul(
            et.mul(et.perturbed(np.full_like(q.v, gamma), ar), et.power(q, gamma - 1, ar), ar),
            et.mul(p, ls_t, ar),
            ar,
        )
        f = et.sub(f, f2, ar)
    f = et.mul(r["at"], f, ar)
    y = r["parts"]["softmax"]
    c = y.v.shape[-1]
    onehot = np.eye(c, dtype=bool)[r["tc"]]
    qb = Tracked(
        np.broadcast_to(q.v[..., None], y.v.shape), np.broadcast_to(q.e[..., None], y.v.shape)
    )
    dy = et.where(onehot, qb, et.neg(y))
    d = et.neg(et.mul(Tracked(f.v[..., None], f.e[..., None]), dy, ar))
    rows = q.v.shape
    denom = et.exact(np.asarray(float(np.prod(rows))))
    sc = _scale_for(kw, g, rows, denom, m)
    out = et.mul(d, Tracked(sc.v[..., None], sc.e[..., None]), ar)
    return _rows_back(out.e, x_in.ndim)


def _kl_terms(kw: Mapping[str, Any], m: _Model) -> Tracked:
    ar = m.ar
    x = et.perturbed(kw["input"], ar)
    t = np.asarray(kw["target"], dtype=np.float64)
    if kw.get("log_target", False):
        tt = et.perturbed(t, ar)
        return et.mul(et.exp(tt, ar), et.sub(tt, x, ar), ar)
    lt = et.log(et.exact(t), ar)
    terms = et.mul(et.exact(t), et.sub(lt, x, ar), ar)
    return et.where(t == 0, et.exact(np.zeros_like(t)), terms)


def _kl_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    ar = m.ar
    t = np.asarray(kw["target"], dtype=np.float64)
    d = et.exp(et.perturbed(t, ar), ar) if kw.get("log_target", False) else et.exact(t)
    sc = _scale_for(kw, g, t.shape, _elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


def _bce_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    ar = m.ar
    p = et.perturbed(kw["input"], ar)
    t = et.exact(kw["target"])
    one = et.exact(np.ones_like(p.v))
    d = et.div(et.sub(p, t, ar), et.mul(et.sub(one, p, ar), p, ar), ar)
    d = et.mul(_weight(kw, "weight", p.shape), d, ar)
    sc = _scale_for(kw, g, p.shape, _elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


def _bce_logits_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> np.ndarray:
    ar = m.ar
    x = et.perturbed(kw["input"], ar)
    t = np.asarray(kw["target"], dtype=np.float64)
    sig, _ = _sigmoids(x, ar)
    pw = kw.get("pos_weight")
    if pw is None:
        d = et.sub(sig, et.exact(t), ar)
    else:
        pwb = np.broadcast_to(np.asarray(pw, dtype=np.float64), t.shape)
        coef = et.add(
            et.exact(np.ones_like(t)), et.mul(et.perturbed(pwb - 1, ar), et.exact(t), ar), ar
        )
        d = et.sub(et.mul(coef, sig, ar), et.mul(et.exact(pwb), et.exact(t), ar), ar)
    d = et.mul(_weight(kw, "weight", x.shape), d, ar)
    sc = _scale_for(kw, g, x.shape, _elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


def _linear_logits(kw: Mapping[str, Any], m: _Model) -> tuple[Tracked, Tracked, Tracked]:
    ar = m.ar
    xin = et.perturbed(kw["input"], ar)
    w = et.perturbed(kw["linear_weight"], ar)
    logits = et.matmul(xin, Tracked(w.v.T, w.e.T), ar)
    b = kw.get("linear_bias")
    if b is not None:
        logits = et.add(
            logits, et.perturbed(np.broadcast_to(np.asarray(b, np.float64), logits.shape), ar), ar
        )
    return m.materialise(logits), xin, w


def _linear_ce_forward(kw: Mapping[str, Any], m: _Model) -> np.ndarray:
    logits, _, _ = _linear_logits(kw, m)
    return _cross_entropy_from_logits(kw, logits, m)[0].e


def _linear_ce_grad(kw: Mapping[str, Any], g: np.ndarray, m: _Model) -> tuple[np.ndarray, ...]:
    ar = m.ar
    logits, xin, w = _linear_logits(kw, m)
    gl = m.materialise(_cross_entropy_grad_logits(kw, logits, g, m))
    d_input = et.matmul(gl, w, ar)
    d_weight = et.matmul(Tracked(gl.v.T, gl.e.T), xin, ar)
    out: list[np.ndarray] = [d_input.e, d_weight.e]
    if kw.get("linear_bias") is not None:
        out.append(et.total(gl, ar, axis=0).e)
    return tuple(out)


def _elementwise_loss(terms_fn: Any) -> Any:
    def forward(kw: Mapping[str, Any], m: _Model) -> np.ndarray:
        terms = m.materialise(terms_fn(kw, m))
        reduction = kw.get("reduction", "mean")
        return _reduce(terms, reduction, _elementwise_denominator(kw), m).e

    return forward


def _softmax_focal_reduced(kw: Mapping[str, Any], m: _Model) -> np.ndarray:
    row = m.materialise(_softmax_focal_forward(kw, m))
    denom = et.exact(np.asarray(float(row.v.size)))
    return _reduce(row, kw.get("reduction", "mean"), denom, m).e


def _with_probability_targets(fn: Any, gradient: bool) -> Any:
    """Extend an index-target model of ``softmax_focal_loss`` to probability targets.

    With targets ``y`` the loss is ``sum_i y_i l_i`` where ``l_i`` is the loss with index target
    ``i``, so its error is at most ``sum_i |y_i| E_i`` (rows weighted one by one for
    ``reduction="none"`` and for gradients; for a reduction to a scalar each class's bound is
    scaled by its largest ``|y_i|`` over the rows, an upper bound), plus the rounding of the
    weighted sum itself, covered by a relative ``2^-20``.  The same holds for the gradient,
    a linear function of the per-class gradients."""

    def wrapped(kw: Mapping[str, Any], *args: Any) -> Any:
        target = np.asarray(kw["target"])
        if target.dtype.kind in "iu":
            return fn(kw, *args)
        x = np.asarray(kw["input"])
        y = np.abs(_rows_last(target.astype(np.float64)))  # (..., C)
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
            elif b.ndim and b.shape == yi.reshape(b.shape).shape and b.size == yi.size:
                total = total + b * yi.reshape(b.shape)
            else:
                total = total + b * float(yi.max())
        return np.asarray(total, dtype=np.float64) * (1 + 2.0**-20)

    return wrapped


_FORWARD = {
    "cross_entropy": _cross_entropy_forward,
    "nll_loss": _nll_forward,
    "binary_cross_entropy": _elementwise_loss(_bce_terms),
    "binary_cross_entropy_with_logits": _elementwise_loss(_bce_logits_terms),
    "sigmoid_focal_loss": _elementwise_loss(_sigmoid_focal_forward),
    "softmax_focal_loss": _with_probability_targets(_softmax_focal_reduced, gradient=False),
    "kl_div": _elementwise_loss(_kl_terms),
    "linear_cross_entropy": _linear_ce_forward,
}

_GRADIENT = {
    "cross_entropy": _cross_entropy_grad,
    "nll_loss": _nll_grad,
    "binary_cross_entropy": _bce_grad,
    "binary_cross_entropy_with_logits": _bce_logits_grad,
    "sigmoid_focal_loss": _sigmoid_focal_grad,
    "softmax_focal_loss": _with_probability_targets(_softmax_focal_grad, gradient=True),
    "kl_div": _kl_grad,
    "linear_cross_entropy": _linear_ce_grad,
}

OPS: tuple[str, ...] = SOFTMAX_FAMILY + tuple(_FORWARD)


def forward_bound(op: str, kwargs: Mapping[str, Any], dtype: Any) -> np.ndarray:
    """Modelled error bound ``E`` of a careful evaluation of ``op`` on ``kwargs`` (reference
    argument names), per element of the output (0-d for reductions)."""
    m = _Model(dtype)
    if op in SOFTMAX_FAMILY:
        return _softmax_family_forward(op, kwargs, m)
    if op not in _FORWARD:
        raise ValueError(f"no error model for op {op!r}; known: {', '.join(OPS)}")
    return np.asarray(_FORWARD[op](kwargs, m))


def gradient_bound(
    op: str, kwargs: Mapping[str, Any], grad_output: Any, dtype: Any
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Modelled error bound ``E`` of the vector-Jacobian product of ``op`` with
    ``grad_output`` w.r.t. its first argument (a tuple for ``linear_cross_entropy``)."""
    m = _Model(dtype)
    g = np.asarray(grad_output, dtype=np.float64)
    if op in SOFTMAX_FAMILY:
        return _softmax_family_grad(op, kwargs, g, m)
    if op not in _GRADIENT:
        raise ValueError(f"no error model for op {op!r}; known: {', '.join(OPS)}")
    return _GRADIENT[op](kwargs, g, m)


def allowed_error(reference: Any, model_bound: Any, dtype: Any) -> np.ndarray:
    """``ulp(r) + SAFETY * E``: the largest acceptable ``|y - r|`` per element."""
    r = np.asarray(reference, dtype=np.float64)
    e = np.broadcast_to(np.asarray(model_bound, dtype=np.float64), r.shape)
    return ulp(r, dtype) + SAFETY * e


def bound_ratio(result: Any, reference: Any, model_bound: Any, dtype: Any) -> np.ndarray:
    """``|y - r| / allowed_error`` per element (> 1 fails).

    Non-finite reference values must be matched exactly (ratio 0 or inf; NaN matches NaN);
    where the modelled bound is NaN (rows holding NaN or +inf, whose values the special-value
    table fixes) the result must equal the reference exactly; an infinite bound accepts any
    finite result.
    """
    y = np.asarray(result, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    y, r = np.broadcast_arrays(y, r)
    allowed = allowed_error(r, model_bound, dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ratio = np.abs(y - r) / allowed
    same = (y == r) | (np.isnan(y) & np.isnan(r))
    exact_required = ~np.isfinite(r) | ~np.isfinite(y) | np.isnan(allowed)
    ratio = np.where(exact_required, np.where(same, 0.0, np.inf), ratio)
    ratio = np.where(np.isposinf(allowed) & np.isfinite(y) & np.isfinite(r), 0.0, ratio)
    return ratio


__all__ = [
    "ELEMENTARY_ULPS",
    "OPS",
    "SAFETY",
    "allowed_error",
    "bound_ratio",
    "forward_bound",
    "gradient_bound",
    "working_arithmetic",
]
