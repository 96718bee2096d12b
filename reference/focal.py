r"""Focal losses and their vector-Jacobian products, correctly rounded.

sigmoid_focal_loss is torchvision's ``torchvision.ops.sigmoid_focal_loss``
(https://pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html; Lin et
al., "Focal Loss for Dense Object Detection", ICCV 2017), elementwise over logits :math:`x`
and targets :math:`y \in [0, 1]`:

.. math::

   p = \sigma(x),\quad \mathrm{ce} = y\,\mathrm{sp}(-x) + (1-y)\,\mathrm{sp}(x),\quad
   p_t = p y + (1-p)(1-y),\quad
   \ell = a_t\,\mathrm{ce}\,(1 - p_t)^\gamma,

:math:`a_t = \alpha y + (1-\alpha)(1-y)` when :math:`\alpha \ge 0`, else 1; reductions
``none`` (the default), ``sum``, ``mean`` (over all elements).  With :math:`z = |x|`,
:math:`E = e^{-z}`, :math:`L = \log(1+E)` and :math:`u = 1 - y` for :math:`x \ge 0`
(:math:`u = y` for :math:`x < 0`), :math:`v = 1 - u`:

.. math::

   \mathrm{ce} = u z + L,\qquad
   q = 1 - p_t = y\,\sigma(-x) + (1-y)\,\sigma(x) = \frac{u + vE}{1 + E},

a sum of non-negative terms (no cancellation), with :math:`\log q = -z - L` when
:math:`u = 0`.  The derivative, :math:`s = \operatorname{sign}(x)` (+1 at 0),

.. math::

   \frac{\partial \ell}{\partial x} = a_t\big[(\sigma(x) - y)\,q^\gamma
       + \gamma\,\mathrm{ce}\,(1-2y)\,q^{\gamma-1}\sigma(x)\sigma(-x)\big]
   = a_t\,s\,q^\gamma\Big[\Big(u - \frac{E}{1+E}\Big)
       + \gamma\,\mathrm{ce}\,(2u-1)\,\frac{\rho}{1+E}\Big],\quad
   \rho = \frac{E}{u + vE}\ (\rho = 1 \text{ if } u = 0),

has no negative power of :math:`q` (which vanishes as :math:`|x| \to \infty`).

softmax_focal_loss is Keras's ``keras.losses.CategoricalFocalCrossentropy`` with
``from_logits=True`` (https://keras.io/api/losses/probabilistic_losses/#categoricalfocalcrossentropy-class),
over the class axis 1 of the reference's layout, with class indices (one-hot) or probability
targets :math:`y`, ``alpha`` None (no weighting), a scalar or one weight per class:

.. math::

   \ell_n = -\sum_i c_i\,(1 - p_i)^\gamma \log p_i,\quad c_i = \alpha_i y_i,\quad
   p = \mathrm{softmax}(x_n),

reductions ``none`` (one value per row), ``sum`` and ``mean`` (over rows, Keras's
``sum_over_batch_size``).  The exact value is used: Keras clips :math:`p` to
:math:`[\epsilon, 1-\epsilon]`, which the verification side records as a deviation.  With
:math:`h_i = p_i\,\partial\ell/\partial p_i = -c_i (1-p_i)^\gamma (1 - \gamma p_i \log p_i /
(1 - p_i))` the gradient is :math:`h_j - p_j \sum_i h_i`; at a unique maximum
:math:`1 - p = T/S`, :math:`p\log p / (1-p) = -\log(1+T)/T`, and the gradient is
:math:`h_j (1 - p_j) - p_j \sum_{i \ne j} h_i`.  The exact tier uses
:math:`\sum_i (p_i h_j - p_j h_i)` over the classes whose (logit, coefficient) differs from
class :math:`j`'s, so an exactly zero gradient (equal logits and coefficients) is recognised.

Special values (``docs/semantics-pointwise.md``): a zero target coefficient times an infinite
logarithm is 0 (0 log 0); a zero weight (``alpha``) times an infinite one is NaN.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

import numpy as np

from reference import tiers
from reference._docstrings import fill_doc, vjp_doc
from reference.arrays import as_float_array, class_rows, classify_rows
from reference.binary import probability_operands
from reference.elementary import TINY
from reference.enclosure import Enc, K
from reference.exact import XVal
from reference.formats import Format
from reference.lse import ExactRow, RowStats
from reference.pointwise import (
    Terms,
    const,
    cotangent,
    fraction,
    gradient,
    loss,
    loss_input,
    mean_divisor,
    xexp,
    xpow,
)
from reference.types import REDUCTIONS, OutDtype, Reduction


def _check_gamma(gamma: float, name: str) -> Fraction:
    g = float(gamma)
    if not np.isfinite(g) or g < 0:
        raise ValueError(f"{name}: gamma must be finite and >= 0, got {gamma!r}")
    return Fraction(g)


# --------------------------------------------------------------------- enclosure powers
def pow_enc(b: Enc, gamma: Fraction) -> Enc:
    r""":math:`b^\gamma` for an enclosure of a non-negative base: repeated products for an
    integer exponent, :math:`\exp(\gamma \log b)` where the enclosure stays well away from 0,
    and :math:`[0, \overline{b}^\gamma]` where it does not."""
    dd = b.dd
    shape = np.shape(b.h)
    if gamma == 0:
        return Enc.exact(np.ones(shape), dd)
    if gamma.denominator == 1:
        out = b
        for _ in range(int(gamma) - 1):
            out = out * b
        return out
    h = np.asarray(b.h, dtype=np.float64)
    r = np.asarray(b.r, dtype=np.float64)
    ok = (h > 0) & (r < 0.25 * h)
    safe = Enc(
        np.where(ok, h, 1.0),
        np.where(ok, b.l, 0.0) if dd else 0.0,
        np.where(ok, r, 0.0),
        dd,
    )
    with np.errstate(all="ignore"):
        res = (safe.log() * const(gamma, dd)).exp()
        top = np.power(np.abs(h) + np.abs(b.l if dd else 0.0) + r, float(gamma))
        top = top * (1 + 2.0**-30) + TINY
    return res.where(ok, Enc(0.5 * top, np.zeros(shape) if dd else 0.0, 0.5 * top * K, dd))


def log1p_ratio(T: Enc) -> Enc:
    r""":math:`\log(1+T)/T` (1 at 0) for an enclosure of :math:`T \ge 0`; where the enclosure
    reaches 0 it is :math:`[1 - \overline{T}/2, 1]`."""
    dd = T.dd
    h = np.asarray(T.h, dtype=np.float64)
    r = np.asarray(T.r, dtype=np.float64)
    ok = (h > 0) & (r < 0.25 * h)
    one = Enc.exact(np.ones(np.shape(h)), dd)
    safe = Enc(
        np.where(ok, h, 1.0), np.where(ok, T.l, 0.0) if dd else 0.0, np.where(ok, r, 0.0), dd
    )
    with np.errstate(all="ignore"):
        res = safe.log1p() / safe
    top = (np.abs(h) + r) * K + TINY
    return res.where(
        ok,
        Enc(1.0 - 0.25 * top, np.zeros(np.shape(h)) if dd else 0.0, 0.25 * top * K + 2.0**-60, dd),
    ).where(~((h == 0) & (r == 0)), one)


def xlog1p_ratio(T: XVal) -> XVal:
    if T.exact:
        return XVal.of(1) if T.q == 0 else T.log1p() / T
    lo, hi = T.bounds()
    if lo <= 0:
        return XVal.interval(Decimal(1) - hi / 2, Decimal(1))
    return T.log1p() / T


# ------------------------------------------------------------------- sigmoid_focal_loss
@dataclasses.dataclass
class _Sigmoid:
    x: np.ndarray
    y: np.ndarray
    alpha: float
    gamma: Fraction
    terms: Terms


def _alpha_t(alpha: float, y: np.ndarray, dd: bool) -> Enc:
    if alpha < 0:
        return Enc.exact(np.ones(y.shape), dd)
    yv = Enc.exact(y, dd)
    a = Fraction(alpha)
    return const(a, dd) * yv + const(1 - a, dd) * (Enc.exact(np.ones(y.shape), dd) - yv)


def _exact_alpha_t(alpha: float, y: float) -> Fraction:
    if alpha < 0:
        return Fraction(1)
    a, yf = Fraction(alpha), fraction(y)
    return a * yf + (1 - a) * (1 - yf)


@dataclasses.dataclass
class _FocalPieces:
    """Enclosures of the pieces of the module docstring at finite logits."""

    sgn: np.ndarray  # +1 / -1
    z: Enc
    E: Enc
    onepE: Enc
    u: Enc
    ce: Enc
    qg: Enc  # q^gamma
    rho: Enc


def _pieces(x: np.ndarray, y: np.ndarray, gamma: Fraction, dd: bool) -> _FocalPieces:
    n = x.shape[0]
    one = Enc.exact(np.ones(n), dd)
    pos = x >= 0
    z = Enc.exact(np.abs(x), dd)
    E = Enc.exact(-np.abs(x), dd).exp()
    L = E.log1p()
    yv = Enc.exact(y, dd)
    u = (one - yv).where(pos, yv)
    v = one - u
    uz = u * z
    ce = uz + L
    u0 = np.where(pos, y == 1, y == 0)
    N = u + v * E
    Nsafe = N.where(~u0, one)
    with np.errstate(all="ignore"):
        logN = Nsafe.log().where(~u0, -z)
        rho = (E / Nsafe).where(~u0, one)
    if gamma == 0:
        qg = one
    else:
        qg = ((logN - L) * const(gamma, dd)).exp()
    return _FocalPieces(np.where(pos, 1.0, -1.0), z, E, E + one, u, ce, qg, rho)


@dataclasses.dataclass
class _ExactPieces:
    sgn: int
    E: XVal
    u: Fraction
    ce: XVal
    qg: XVal
    rho: XVal


def _exact_pieces(x: float, y: float, gamma: Fraction) -> _ExactPieces:
    X, Y = fraction(x), fraction(y)
    z = abs(X)
    pos = X >= 0
    u = 1 - Y if pos else Y
    v = 1 - u
    E = xexp(-z)
    L = E.log1p()
    ce = XVal.of(u * z) + L
    onepE = E + 1
    if u == 0:
        q = E / onepE
        rho = XVal.of(1)
    else:
        N = XVal.of(u) + XVal.of(v) * E
        q = N / onepE
        rho = E / N
    return _ExactPieces(1 if pos else -1, E, u, ce, xpow(q, gamma), rho)


def _sigmoid(
    input: Any, target: Any, alpha: float, gamma: float, reduction: str, out_dtype: Any
) -> _Sigmoid:
    name = "sigmoid_focal_loss"
    a, yy, fmt = probability_operands(name, input, target, reduction, out_dtype)
    alpha = float(alpha)
    if not np.isfinite(alpha):
        raise ValueError(f"{name}: alpha must be finite, got {alpha!r}")
    g = _check_gamma(gamma, name)
    x, y = a.reshape(-1), yy.reshape(-1)
    nan = np.isnan(x) | np.isnan(y)
    # x = +inf: ce = inf unless y = 1 (then 0); x = -inf: ce = inf unless y = 0; the factor
    # (1 - p_t)^gamma tends to (1-y)^gamma resp. y^gamma > 0 there; a_t = 0 times inf: NaN
    inf_u = ((x == np.inf) & (y < 1)) | ((x == -np.inf) & (y > 0))
    special = nan | np.isinf(x)
    value = np.where(nan, np.nan, 0.0)
    for i in np.flatnonzero(inf_u & ~nan):
        at = _exact_alpha_t(alpha, float(y[i]))
        value[i] = np.nan if at == 0 else (np.inf if at > 0 else -np.inf)

    def vec(idx: np.ndarray, dd: bool) -> Enc:
        pc = _pieces(x[idx], y[idx], g, dd)
        return _alpha_t(alpha, y[idx], dd) * (pc.ce * pc.qg)

    def elem(i: int) -> XVal:
        at = _exact_alpha_t(alpha, float(y[i]))
        if at == 0:
            return XVal.of(0)
        pc = _exact_pieces(float(x[i]), float(y[i]), g)
        return XVal.of(at) * (pc.ce * pc.qg)

    terms = Terms(a.shape, fmt, special, value, vec, elem)
    return _Sigmoid(x, y, alpha, g, terms)


@fill_doc
def sigmoid_focal_loss(
    input: Any,
    target: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded sigmoid focal loss (``torchvision.ops.sigmoid_focal_loss``).

    The term is :math:`\ell = a_t\,\mathrm{ce}\,(1 - p_t)^\gamma` with :math:`p = \sigma(x)`,
    :math:`\mathrm{ce} = y\,\mathrm{sp}(-x) + (1-y)\,\mathrm{sp}(x)`,
    :math:`p_t = p y + (1-p)(1-y)`, :math:`a_t = \alpha y + (1-\alpha)(1-y)` for
    :math:`\alpha \ge 0`, else 1 (module docstring).

    Args:
        input: Logits :math:`x`.
        %(probability_target)s
        alpha: The class balance :math:`\alpha` (a negative value turns it off).
        gamma: The focusing exponent :math:`\gamma \ge 0`.
        reduction: ``none`` (the default: one value per element), ``sum`` or ``mean`` (over all
            elements).
        %(out_dtype)s

    Returns:
        %(elementwise_returns)s

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``; ``target`` is not
            shaped like ``input`` or has a value outside [0, 1]; ``alpha`` is not finite; ``gamma``
            is negative or not finite.
        %(elementwise_errors)s
    """
    s = _sigmoid(input, target, alpha, gamma, reduction, out_dtype)
    return loss(s.terms, reduction, mean_divisor(reduction, s.x.size))


@vjp_doc(sigmoid_focal_loss, "input")
def sigmoid_focal_loss_grad(
    input: Any,
    target: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: Reduction = "none",
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`sigmoid_focal_loss` with respect to ``input``.

    :math:`\partial\ell/\partial x = a_t[(\sigma(x) - y)\,q^\gamma +
    \gamma\,\mathrm{ce}\,(1-2y)\,q^{\gamma-1}\sigma(x)\sigma(-x)]`, :math:`q = 1 - p_t`, times the
    cotangent (module docstring).
    """
    s = _sigmoid(input, target, alpha, gamma, reduction, out_dtype)
    x, y, g, alpha = s.x, s.y, s.gamma, s.alpha
    cot = cotangent(grad_output, reduction, s.terms.shape, mean_divisor(reduction, x.size))

    def dvec(idx: np.ndarray, dd: bool) -> Enc:
        pc = _pieces(x[idx], y[idx], g, dd)
        one = Enc.exact(np.ones(idx.size), dd)
        inner = pc.u - pc.E / pc.onepE
        if g != 0:
            two_u = pc.u + pc.u
            inner = inner + const(g, dd) * pc.ce * (two_u - one) * pc.rho / pc.onepE
        d = _alpha_t(alpha, y[idx], dd) * pc.qg * inner
        return d * Enc.exact(pc.sgn, dd)

    def delem(i: int) -> XVal:
        at = _exact_alpha_t(alpha, float(y[i]))
        if at == 0:
            return XVal.of(0)
        pc = _exact_pieces(float(x[i]), float(y[i]), g)
        onepE = pc.E + 1
        inner = XVal.of(pc.u) - pc.E / onepE
        if g != 0 and pc.u * 2 != 1:
            inner = inner + XVal.of(g * (2 * pc.u - 1)) * pc.ce * pc.rho / onepE
        return XVal.of(at * pc.sgn) * pc.qg * inner

    # finite special terms (x = +inf with y = 1, x = -inf with y = 0): the derivative is 0
    return gradient(s.terms, cot, dvec, delem, np.zeros(x.size))


# ------------------------------------------------------------------- softmax_focal_loss
@dataclasses.dataclass
class _Softmax:
    x2: np.ndarray  # (R, C) float64 logits
    y2: np.ndarray  # (R, C) float64 target probabilities (one-hot for index targets)
    alpha: np.ndarray  # (C,) float64 class weights (ones for alpha=None)
    gamma: Fraction
    fmt: Format
    reduction: str
    out_shape: tuple[int, ...]  # the 'none' output's shape
    moved_shape: tuple[int, ...]  # (N, d1.., C) or (1, C)
    unbatched: bool
    special: np.ndarray  # (R,) bool
    value: np.ndarray  # (R,) float64: 0, +-inf or NaN where special

    def coef(self, r: int) -> list[Fraction]:
        return [fraction(self.alpha[i]) * fraction(self.y2[r, i]) for i in range(self.C)]

    @property
    def C(self) -> int:
        return self.x2.shape[1]


def _softmax_problem(
    input: Any, target: Any, alpha: Any, gamma: float, reduction: str, out_dtype: Any
) -> _Softmax:
    name = "softmax_focal_loss"
    a, fmt = loss_input(name, input, reduction, REDUCTIONS, out_dtype)
    a, x2, moved_shape, unbatched = class_rows(a, name)
    g = _check_gamma(gamma, name)
    C = a.shape[1]
    tgt = target.detach().cpu().numpy() if hasattr(target, "detach") else np.asarray(target)
    if tgt.dtype.kind in "iu":
        t = tgt.astype(np.int64).reshape(-1) if not unbatched else tgt.astype(np.int64).reshape(1)
        if (tgt.shape != moved_shape[:-1] and not unbatched) or (unbatched and tgt.shape != ()):
            want = () if unbatched else moved_shape[:-1]
            raise ValueError(f"{name}: index target must have shape {want}, got {tgt.shape}")
        if np.any((t < 0) | (t >= C)):
            bad = int(t[(t < 0) | (t >= C)][0])
            raise ValueError(f"{name}: target {bad} is out of bounds for {C} classes")
        y2 = np.zeros_like(x2)
        y2[np.arange(len(t)), t] = 1.0
    else:
        y = as_float_array(target, "target")[0]
        if y.shape != (a.shape[1:] if unbatched else a.shape):
            raise ValueError(
                f"{name}: probability target must have the input's shape "
                f"{a.shape[1:] if unbatched else a.shape}, got {y.shape}"
            )
        if unbatched:
            y = y[None]
        y2 = np.ascontiguousarray(np.moveaxis(y, 1, -1)).reshape(-1, C)
    if alpha is None:
        al = np.ones(C)
    else:
        al = (
            as_float_array(alpha, "alpha")[0]
            if not np.isscalar(alpha)
            else np.array(float(cast(float, alpha)))
        )
        if al.ndim == 0:
            al = np.full(C, float(al))
        if al.shape != (C,):
            raise ValueError(f"{name}: alpha must be a scalar or have shape ({C},), got {al.shape}")
    if not np.all(np.isfinite(al)):
        raise ValueError(f"{name}: alpha must be finite")
    special, value = _softmax_special(x2, y2, al)
    out_shape = () if unbatched else moved_shape[:-1]
    return _Softmax(
        x2, y2, al, g, fmt, reduction, out_shape, moved_shape, unbatched, special, value
    )


def _softmax_special(
    x2: np.ndarray, y2: np.ndarray, al: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rows decided by the special-value rules: (mask, value)."""
    R = x2.shape[0]
    kinds = classify_rows(x2)
    special = kinds.nan | kinds.allneg | np.any(np.isnan(y2), axis=-1)
    value = np.where(special, np.nan, 0.0)
    # classes whose probability is exactly 0: -inf logits, or all but the +inf of a row
    zero_p = np.isneginf(x2)
    pi = np.flatnonzero(kinds.posinf & ~special)
    zero_p[pi] = True
    zero_p[pi, kinds.posinf_index[pi]] = False
    cand = np.flatnonzero(~special & np.any(zero_p, axis=-1))
    for r in cand:
        terms = []
        for i in np.flatnonzero(zero_p[r]):
            yi, ai = float(y2[r, i]), float(al[i])
            if yi == 0:
                continue  # 0 log 0
            terms.append(np.nan if ai == 0 else np.copysign(np.inf, ai * yi))
        finite_entries = int(np.sum(~zero_p[r]))
        if terms:
            special[r] = True
            has = set(terms)
            value[r] = (
                np.nan
                if (np.nan in terms or any(np.isnan(terms)) or (np.inf in has and -np.inf in has))
                else terms[0]
            )
        elif finite_entries == 1:
            # one class holds all the probability: (1 - 1)^gamma log 1 = 0, constant in x
            special[r] = True
            value[r] = 0.0
    del R
    return special, value


def _rows_vec_pieces(p: _Softmax, st: RowStats, rows: np.ndarray, dd: bool) -> dict[str, Any]:
    R = len(rows)
    masked = st.masked
    zero = Enc.exact(np.zeros((R, p.C)), dd)
    one = Enc.exact(np.ones((R, p.C)), dd)
    cf = Enc.exact(p.y2[rows], dd) * Enc.exact(np.broadcast_to(p.alpha, (R, p.C)), dd)
    cf = cf.where(~masked, zero)
    logp = (st.d.where(~masked, zero) - st.logS.expand()).where(~masked, zero)
    y = st.softmax()
    umax = (st.c == 1)[:, None] & st.is_max
    om = (one - y).where(~umax, (st.T / st.S).expand())
    om = om.where(~masked, one)
    omg = pow_enc(om, p.gamma)
    return {
        "cf": cf,
        "logp": logp,
        "y": y,
        "umax": umax,
        "om": om,
        "omg": omg,
        "one": one,
        "zero": zero,
    }


def _row_loss_vec(p: _Softmax, st: RowStats, rows: np.ndarray, dd: bool) -> Enc:
    pc = _rows_vec_pieces(p, st, rows, dd)
    return (-(pc["cf"] * pc["omg"] * pc["logp"])).sum_last()


def _exact_om(er: ExactRow, i: int) -> XVal:
    _, T, S, _ = er.stats()
    if er.c == 1 and er.d[i] == 0:
        return T / S
    return XVal.of(1) - er.softmax(i)


def _row_loss_exact(p: _Softmax, er: ExactRow, r: int) -> XVal:
    total = XVal.of(0)
    logS = er.stats()[3]
    for i, ci in enumerate(p.coef(r)):
        if ci == 0 or er.d[i] is None:
            continue
        d = cast(Fraction, er.d[i])
        total = total + XVal.of(ci) * xpow(_exact_om(er, i), p.gamma) * (logS - XVal.of(d))
    return total


def _rows_grad_vec(p: _Softmax, st: RowStats, rows: np.ndarray, dd: bool, scale: Enc) -> Enc:
    pc = _rows_vec_pieces(p, st, rows, dd)
    cf, y, om, omg, umax, one = pc["cf"], pc["y"], pc["om"], pc["omg"], pc["umax"], pc["one"]
    g = const(p.gamma, dd)
    # h_i = -c_i om^g (1 - g p log p / om); at a unique maximum p log p / om = -log1p(T)/T
    with np.errstate(all="ignore"):
        plp = (y * pc["logp"] / om.where(~umax, one)).where(~st.masked, pc["zero"])
    ratio = -log1p_ratio(st.T).expand()
    plp = plp.where(~umax, ratio.bcast(plp.h.shape))
    h = -(cf * omg * (one - g * plp)) if p.gamma != 0 else -cf
    H = h.sum_last()
    Hx = h.where(~umax, pc["zero"]).sum_last()
    gen = h - y * H.expand()
    at_max = h * om - y * Hx.expand()
    return gen.where(~umax, at_max) * scale


def _h_exact(p: _Softmax, er: ExactRow, i: int, ci: Fraction) -> XVal:
    if ci == 0:
        return XVal.of(0)
    om = _exact_om(er, i)
    if p.gamma == 0:
        return XVal.of(-ci)
    _, T, _, logS = er.stats()
    if er.c == 1 and er.d[i] == 0:
        plp = -xlog1p_ratio(T)
    else:
        plp = er.softmax(i) * (XVal.of(cast(Fraction, er.d[i])) - logS) / om
    return XVal.of(-ci) * xpow(om, p.gamma) * (XVal.of(1) - XVal.of(p.gamma) * plp)


def _grad_exact(p: _Softmax, er: ExactRow, r: int, j: int) -> XVal:
    cf = p.coef(r)
    if er.d[j] is None:
        return XVal.of(0)  # p_j = 0 and c_j = 0 (else the row is special)
    hj = _h_exact(p, er, j, cf[j])
    pj = er.softmax(j)
    total = XVal.of(0)
    for i in range(p.C):
        if er.d[i] is None or (er.d[i] == er.d[j] and cf[i] == cf[j]):
            continue
        total = total + er.softmax(i) * hj - pj * _h_exact(p, er, i, cf[i])
    return total


@fill_doc
def softmax_focal_loss(
    input: Any,
    target: Any,
    alpha: Any = None,
    gamma: float = 2.0,
    reduction: Reduction = "mean",
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded categorical focal loss from logits
    (``keras.losses.CategoricalFocalCrossentropy``, ``from_logits=True``).

    Row :math:`n`'s term is :math:`\ell_n = -\sum_i \alpha_i y_i (1 - p_i)^\gamma \log p_i`,
    :math:`p = \mathrm{softmax}(x_n)`, without Keras's clipping of :math:`p` (module docstring).

    Args:
        input: Logits, shape (C,), (N, C) or (N, C, d1, ..., dk); the class axis is 1.
        target: Integer class indices of shape (N, d1, ..., dk) (() unbatched), taken as one-hot, or
            floating-point class probabilities shaped like ``input``.
        alpha: Class weights :math:`\alpha`: ``None`` (ones), a scalar or shape (C,).
        gamma: The focusing exponent :math:`\gamma \ge 0`.
        reduction: ``none`` (one value per row), ``sum`` or ``mean`` (over rows).
        %(out_dtype)s

    Returns:
        %(row_returns)s

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``; ``input`` is 0-d;
            ``gamma`` is negative or not finite; an index target has the wrong shape or holds a
            class outside [0, C); a probability target is not shaped like ``input``; ``alpha`` is
            neither a scalar nor of shape (C,), or is not finite.
        TypeError: ``input``, a probability target or an ``alpha`` array has an integer or boolean
            dtype or a format other than the four, or ``out_dtype`` names none of them.
        %(certification_error)s
    """
    p = _softmax_problem(input, target, alpha, gamma, reduction, out_dtype)
    reg = np.flatnonzero(~p.special)
    fmt = p.fmt
    if reduction == "none":
        out = p.value.copy()
        if reg.size:
            res = tiers.elementwise(
                p.x2[reg],
                fmt,
                lambda st, rows, dd: _row_loss_vec(p, st, reg[rows], dd),
                lambda er, r, i: _row_loss_exact(p, er, int(reg[r])),
                per_row=True,
            )
            out[reg] = np.asarray(res, dtype=np.float64)
        return out.reshape(p.out_shape).astype(fmt.dtype)
    sv = p.value[p.special]
    if np.any(np.isnan(sv)) or (np.any(sv == np.inf) and np.any(sv == -np.inf)):
        return np.array(np.nan).astype(fmt.dtype)
    if np.any(np.isinf(sv)):
        return np.array(sv[np.isinf(sv)][0]).astype(fmt.dtype)
    R = p.x2.shape[0]
    divisor = Fraction(R) if reduction == "mean" else Fraction(1)
    if divisor == 0:
        return np.array(np.nan).astype(fmt.dtype)
    if reg.size == 0:
        return np.array(0.0).astype(fmt.dtype)
    v = tiers.reduce_rows(
        p.x2[reg],
        fmt,
        lambda st, rows, dd: _row_loss_vec(p, st, reg[rows], dd),
        lambda er, r: _row_loss_exact(p, er, int(reg[r])),
        divisor,
    )
    return np.array(v).astype(fmt.dtype)


@vjp_doc(softmax_focal_loss, "loss")
def softmax_focal_loss_grad(
    input: Any,
    target: Any,
    alpha: Any = None,
    gamma: float = 2.0,
    reduction: Reduction = "mean",
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`softmax_focal_loss` with respect to ``input``: :math:`h_j - p_j \sum_i h_i`.

    :math:`h_i = -\alpha_i y_i (1-p_i)^\gamma (1 - \gamma p_i \log p_i / (1 - p_i))`, times the
    cotangent and the reduction's scale (module docstring).
    """
    p = _softmax_problem(input, target, alpha, gamma, reduction, out_dtype)
    R, C = p.x2.shape
    fmt = p.fmt
    cot = cotangent(
        grad_output,
        reduction,
        p.out_shape if reduction == "none" else (R,),
        Fraction(R) if reduction == "mean" else Fraction(1),
    )
    out = np.zeros((R, C))
    nonfinite = p.special & (p.value != 0)
    out[nonfinite | cot.undefined] = np.nan
    reg = np.flatnonzero(~p.special & ~cot.undefined)
    if reg.size:

        def vec(st: RowStats, rows: np.ndarray, dd: bool) -> Enc:
            sc = cot.enc(reg[rows], dd)
            sc = Enc(
                np.asarray(sc.h)[..., None] if np.ndim(sc.h) else sc.h,
                (np.asarray(sc.l)[..., None] if np.ndim(sc.l) else sc.l) if dd else 0.0,
                np.asarray(sc.r)[..., None] if np.ndim(sc.r) else sc.r,
                dd,
            )
            return _rows_grad_vec(p, st, reg[rows], dd, sc)

        def elem(er: ExactRow, r: int, i: int) -> XVal:
            rr = int(reg[r])
            return _grad_exact(p, er, rr, i) * XVal.of(cot.exact(rr))

        out[reg] = np.asarray(tiers.elementwise(p.x2[reg], fmt, vec, elem), dtype=np.float64)
    res = out.reshape(p.moved_shape)
    res = res[0] if p.unbatched else np.moveaxis(res, -1, 1)
    return np.asarray(res, dtype=np.float64).astype(fmt.dtype)


__all__ = [
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
]
