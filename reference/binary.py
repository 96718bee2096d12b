r"""binary_cross_entropy and binary_cross_entropy_with_logits (PyTorch's semantics), and their
vector-Jacobian products, correctly rounded.

binary_cross_entropy (https://pytorch.org/docs/stable/generated/torch.nn.functional.binary_cross_entropy.html,
https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html), probabilities
:math:`p \in [0, 1]`, targets :math:`y \in [0, 1]`, optional ``weight`` :math:`w` broadcast to
the input's shape:

.. math::

   \ell = -w\,\big(y \log p + (1 - y) \log(1 - p)\big),\qquad
   \frac{\partial \ell}{\partial p} = w\,\frac{p - y}{p (1 - p)}.

The value is the exact one: PyTorch clamps each logarithm at -100, a documented deviation
that the verification side records; the reference does not copy it.  :math:`0 \log 0 = 0`, so
:math:`p = 0, y = 0` and :math:`p = 1, y = 1` give 0, and there the derivative is the limit
:math:`w` (respectively :math:`-w`): the one-sided derivative of :math:`-w\log(1-p)` at 0
(of :math:`-w \log p` at 1).  :math:`p = 0` with :math:`y > 0` (or :math:`p = 1` with
:math:`y < 1`) gives :math:`+\infty` times :math:`w`.

binary_cross_entropy_with_logits
(https://pytorch.org/docs/stable/generated/torch.nn.functional.binary_cross_entropy_with_logits.html,
https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html), logits :math:`x`,
``pos_weight`` :math:`\pi` broadcast over the last (class) dimension, :math:`A = \pi y`,
:math:`B = 1 - y`:

.. math::

   \ell = w\,\big(A\,\mathrm{sp}(-x) + B\,\mathrm{sp}(x)\big)
        = w\,\big((A + B)\,\log(1 + e^{-|x|}) + c\,|x|\big),\quad
   c = \begin{cases}B & x \ge 0\\ A & x < 0\end{cases},

with :math:`\mathrm{sp}(z) = \log(1 + e^z) = \max(z, 0) + \log(1 + e^{-|z|})`, which keeps
relative accuracy where :math:`\mathrm{sp}(z) \approx e^z` is tiny.  The derivative is
:math:`w\,((A + B)\sigma(x) - A)`, evaluated as :math:`w\,(B - (A+B)\sigma(-|x|))` for
:math:`x \ge 0` and :math:`w\,((A+B)\sigma(-|x|) - A)` for :math:`x < 0`,
:math:`\sigma(-|x|) = e^{-|x|} / (1 + e^{-|x|})`.

Exact cases (the exact tier must see them to end Ziv's loop): a zero weight; :math:`A + B = 0`
(only for :math:`\pi = 1 - 2^j, y = 2^{-j}`), where the loss is the rational :math:`-wAx`;
:math:`x = 0`, where :math:`\sigma = 1/2`.  Elsewhere the values are irrational
(Lindemann-Weierstrass), so the enclosures eventually separate them from every rounding
boundary.  Special values are tabulated in ``docs/semantics-pointwise.md``.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np

from reference import elementary as el
from reference._docstrings import fill_doc, vjp_doc
from reference.enclosure import Enc
from reference.exact import XVal
from reference.formats import Format
from reference.pointwise import (
    Terms,
    cotangent,
    elementwise_operands,
    fraction,
    gradient,
    loss,
    mean_divisor,
    operand,
    xexp,
)
from reference.types import REDUCTIONS, OutDtype, Reduction


# --------------------------------------------------------------- shared logistic pieces
@dataclasses.dataclass
class Logistic:
    r"""Enclosures of the pieces of :math:`\mathrm{sp}` and :math:`\sigma` at logits ``x``:
    ``z = |x|`` (exact), ``E`` :math:`= e^{-z}`, ``L`` :math:`= \log(1 + E)`, ``sm``
    :math:`= \sigma(-z) = E/(1+E)`, ``pos``: :math:`x \ge 0`."""

    z: Enc
    E: Enc
    L: Enc
    pos: np.ndarray

    @property
    def onepE(self) -> Enc:
        return self.E + Enc.exact(np.ones(self.pos.shape), self.E.dd)

    @property
    def sm(self) -> Enc:
        return self.E / self.onepE


def logistic(x: np.ndarray, dd: bool) -> Logistic:
    """The pieces at finite logits ``x`` in the float64 or double-double tier."""
    z = np.abs(x)
    E = Enc.exact(-z, dd).exp()
    return Logistic(Enc.exact(z, dd), E, E.log1p(), x >= 0)


@dataclasses.dataclass
class ExactLogistic:
    """The same pieces for one finite logit, as exact values or decimal enclosures."""

    z: Fraction
    E: XVal
    L: XVal
    pos: bool

    @property
    def sm(self) -> XVal:
        return self.E / (self.E + 1)


def exact_logistic(x: float) -> ExactLogistic:
    fx = fraction(x)
    z = abs(fx)
    E = xexp(-z)
    return ExactLogistic(z, E, E.log1p(), fx >= 0)


def log1m(p: np.ndarray, dd: bool) -> Enc:
    r""":math:`\log(1 - p)` for exact :math:`p \in (0, 1)`: ``log1p(-p)`` (NumPy's in float64,
    whose relative error the float64 tier bounds by :data:`~reference.elementary.F64_ELEM_REL`
    as for the other elementary functions; in double-double the logarithm of :math:`1 - p`
    formed exactly)."""
    if dd:
        h, l, r = el.log1p_dd(-p, np.zeros_like(p), 0.0)
        return Enc(h, l, r, True)
    v = np.log1p(-p)
    return Enc(v, 0.0, np.abs(v) * el.F64_ELEM_REL, False)


def check_unit_interval(a: np.ndarray, what: str, name: str) -> None:
    """Values in [0, 1] (NaN allowed: it propagates)."""
    bad = (a < 0) | (a > 1)
    if np.any(bad):
        v = float(a[bad][0])
        raise ValueError(f"{name}: {what} must lie in [0, 1] (NaN propagates), got {v!r}")


def probability_operands(
    name: str, input: Any, target: Any, reduction: str, out_dtype: Any, input_too: bool = False
) -> tuple[np.ndarray, np.ndarray, Format]:
    """:func:`~reference.pointwise.elementwise_operands` of a loss whose target holds
    probabilities, checked to lie in [0, 1] (with ``input_too``, the input first)."""
    a, y, fmt = elementwise_operands(name, input, target, reduction, REDUCTIONS, out_dtype)
    if input_too:
        check_unit_interval(a, "input probabilities", name)
    check_unit_interval(y, "target", name)
    return a, y, fmt


def check_weight(w: np.ndarray, what: str, name: str) -> None:
    """Finite weights (NaN allowed: it propagates)."""
    if np.any(np.isinf(w)):
        raise ValueError(f"{name}: {what} must be finite (NaN propagates)")


def _weights(weight: Any, what: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The argument ``what`` of ``name`` broadcast to ``shape`` as float64 (``None``: ones),
    checked finite (NaN allowed: it propagates)."""
    w = np.ones(shape) if weight is None else operand(weight, what, shape)
    check_weight(w, what, name)
    return w


def _times_weight(u_inf: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``w * u`` for unweighted terms ``u`` that are +inf where ``u_inf`` (else 0): a zero
    weight times an infinite term is NaN (as IEEE 754 and cross_entropy's zero class weight),
    a target coefficient of 0 having been applied already (0 log 0 = 0)."""
    with np.errstate(invalid="ignore"):
        return np.where(u_inf, np.where(w == 0, np.nan, np.copysign(np.inf, w)), 0.0)


# ------------------------------------------------------------------- binary_cross_entropy
@dataclasses.dataclass
class _BCE:
    p: np.ndarray
    y: np.ndarray
    w: np.ndarray
    terms: Terms
    divisor: Fraction


def _bce(input: Any, target: Any, weight: Any, reduction: str, out_dtype: Any) -> _BCE:
    name = "binary_cross_entropy"
    a, y, fmt = probability_operands(name, input, target, reduction, out_dtype, input_too=True)
    shape = a.shape
    w = _weights(weight, "weight", shape, name)
    p, y, w = a.reshape(-1), y.reshape(-1), np.ascontiguousarray(w).reshape(-1)
    nan = np.isnan(p) | np.isnan(y) | np.isnan(w)
    p0, p1 = p == 0, p == 1
    special = nan | p0 | p1
    value = np.where(nan, np.nan, _times_weight((p0 & (y > 0)) | (p1 & (y < 1)), w))

    def vec(idx: np.ndarray, dd: bool) -> Enc:
        pi, yi, wi = p[idx], y[idx], w[idx]
        one = Enc.exact(np.ones(idx.size), dd)
        yv = Enc.exact(yi, dd)
        s = yv * Enc.exact(pi, dd).log() + (one - yv) * log1m(pi, dd)
        return -(Enc.exact(wi, dd) * s)

    def elem(i: int) -> XVal:
        wi, yi, pi = fraction(w[i]), fraction(y[i]), fraction(p[i])
        if wi == 0:
            return XVal.of(0)
        s = XVal.of(0)
        if yi != 0:
            s = s + XVal.of(yi) * XVal.of(pi).log()
        if yi != 1:
            s = s + XVal.of(1 - yi) * XVal.of(-pi).log1p()
        return -(XVal.of(wi) * s)

    terms = Terms(shape, fmt, special, value, vec, elem)
    return _BCE(p, y, w, terms, Fraction(p.size))


@fill_doc
def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: Reduction = "mean",
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded binary cross-entropy of probabilities
    (``torch.nn.functional.binary_cross_entropy``).

    The term is :math:`\ell = -w\,(y \log p + (1 - y) \log(1 - p))` with :math:`0 \log 0 = 0` and
    without PyTorch's clamp of each logarithm at -100 (module docstring).

    Args:
        input: Probabilities :math:`p \in [0, 1]` (NaN propagates).
        %(probability_target)s
        %(elementwise_weight)s
        %(elementwise_reduction)s
        %(out_dtype)s

    Returns:
        %(elementwise_returns)s
        An input of 0 where :math:`y > 0`, or of 1 where :math:`y < 1`, gives :math:`+\infty`
        times :math:`w`.

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``; ``target`` is not
            shaped like ``input``; ``input`` or ``target`` has a value outside [0, 1]; ``weight``
            does not broadcast to ``input``'s shape or holds an infinity.
        %(elementwise_errors)s
    """
    b = _bce(input, target, weight, reduction, out_dtype)
    return loss(b.terms, reduction, mean_divisor(reduction, b.divisor))


@vjp_doc(binary_cross_entropy, "input")
def binary_cross_entropy_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: Reduction = "mean",
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`binary_cross_entropy` with respect to ``input``:
    :math:`g\,w\,(p - y) / (p (1 - p))`.

    At :math:`p = y \in \{0, 1\}` the one-sided limit :math:`w` (:math:`-w` at 1) is used.
    """
    b = _bce(input, target, weight, reduction, out_dtype)
    p, y, w = b.p, b.y, b.w
    cot = cotangent(grad_output, reduction, b.terms.shape, mean_divisor(reduction, b.divisor))

    def dvec(idx: np.ndarray, dd: bool) -> Enc:
        pv = Enc.exact(p[idx], dd)
        num = pv - Enc.exact(y[idx], dd)
        den = pv * (Enc.exact(np.ones(idx.size), dd) - pv)
        return (num / den) * Enc.exact(w[idx], dd)

    def delem(i: int) -> XVal:
        pi = fraction(p[i])
        return XVal.of(fraction(w[i]) * (pi - fraction(y[i])) / (pi * (1 - pi)))

    # the finite special terms: p = 0, y = 0 (derivative w) and p = 1, y = 1 (derivative -w)
    special_grad = np.where(p == 0, w, -w)
    return gradient(b.terms, cot, dvec, delem, special_grad)


# ------------------------------------------------------- binary_cross_entropy_with_logits
@dataclasses.dataclass
class _Logits:
    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    pw: np.ndarray
    terms: Terms
    divisor: Fraction


def _AB(pw: np.ndarray, y: np.ndarray, dd: bool) -> tuple[Enc, Enc]:
    r"""Enclosures of the coefficients :math:`A = \pi y` and :math:`B = 1 - y` (module
    docstring) at exact ``pw`` and ``y``."""
    yv = Enc.exact(y, dd)
    return Enc.exact(pw, dd) * yv, Enc.exact(np.ones(y.size), dd) - yv


def _exact_AB(pw: float, y: float) -> tuple[Fraction, Fraction]:
    yf = fraction(y)
    return fraction(pw) * yf, 1 - yf


def _with_logits(
    input: Any, target: Any, weight: Any, reduction: str, pos_weight: Any, out_dtype: Any
) -> _Logits:
    name = "binary_cross_entropy_with_logits"
    a, y, fmt = probability_operands(name, input, target, reduction, out_dtype)
    shape = a.shape
    w = _weights(weight, "weight", shape, name)
    pw = _weights(pos_weight, "pos_weight", shape, name)
    x, y = a.reshape(-1), y.reshape(-1)
    w, pw = np.ascontiguousarray(w).reshape(-1), np.ascontiguousarray(pw).reshape(-1)
    nan = np.isnan(x) | np.isnan(y) | np.isnan(w) | np.isnan(pw)
    xpos, xneg = x == np.inf, x == -np.inf
    special = nan | xpos | xneg
    # x = +inf: B sp(+inf) = inf unless B = 0; x = -inf: A sp(+inf) with A = pos_weight * y
    # (y = 0: 0 log 0 = 0; a zero pos_weight times inf: NaN; a negative one: -inf)
    with np.errstate(invalid="ignore"):
        u_neg = np.where(y > 0, pw * np.inf, 0.0)
        u = np.where(xpos, np.where(y < 1, np.inf, 0.0), np.where(xneg, u_neg, 0.0))
        value = np.where(
            np.isinf(u), np.where(w == 0, np.nan, w * u), np.where(np.isnan(u), np.nan, 0.0)
        )
    value = np.where(nan, np.nan, value)

    def vec(idx: np.ndarray, dd: bool) -> Enc:
        lg = logistic(x[idx], dd)
        A, B = _AB(pw[idx], y[idx], dd)
        c = B.where(lg.pos, A)
        return Enc.exact(w[idx], dd) * ((A + B) * lg.L + c * lg.z)

    def elem(i: int) -> XVal:
        wi = fraction(w[i])
        if wi == 0:
            return XVal.of(0)
        A, B = _exact_AB(pw[i], y[i])
        lg = exact_logistic(x[i])
        c = B if lg.pos else A
        return XVal.of(wi) * (XVal.of(A + B) * lg.L + XVal.of(c * lg.z))

    terms = Terms(shape, fmt, special, value, vec, elem)
    return _Logits(x, y, w, pw, terms, Fraction(x.size))


@fill_doc
def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: Reduction = "mean",
    pos_weight: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded binary cross-entropy of logits
    (``torch.nn.functional.binary_cross_entropy_with_logits``).

    The term is :math:`\ell = w\,(\pi y\,\mathrm{sp}(-x) + (1 - y)\,\mathrm{sp}(x))`,
    :math:`\mathrm{sp}(z) = \log(1 + e^z)` (module docstring).

    Args:
        input: Logits :math:`x`.
        %(probability_target)s
        %(elementwise_weight)s
        %(elementwise_reduction)s
        pos_weight: Positive-class weights :math:`\pi` broadcast to ``input``'s shape (usually one
            per class along the last dimension; ``None``: ones).
        %(out_dtype)s

    Returns:
        %(elementwise_returns)s

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``; ``target`` is not
            shaped like ``input``; ``target`` has a value outside [0, 1]; ``weight`` or
            ``pos_weight`` does not broadcast to ``input``'s shape or holds an infinity.
        %(elementwise_errors)s
    """
    b = _with_logits(input, target, weight, reduction, pos_weight, out_dtype)
    return loss(b.terms, reduction, mean_divisor(reduction, b.divisor))


@vjp_doc(binary_cross_entropy_with_logits, "input")
def binary_cross_entropy_with_logits_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: Reduction = "mean",
    pos_weight: Any = None,
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`binary_cross_entropy_with_logits` with respect to ``input``:
    :math:`g\,w\,((\pi y + 1 - y)\,\sigma(x) - \pi y)`.
    """
    b = _with_logits(input, target, weight, reduction, pos_weight, out_dtype)
    x, y, w, pw = b.x, b.y, b.w, b.pw
    cot = cotangent(grad_output, reduction, b.terms.shape, mean_divisor(reduction, b.divisor))

    def dvec(idx: np.ndarray, dd: bool) -> Enc:
        lg = logistic(x[idx], dd)
        A, B = _AB(pw[idx], y[idx], dd)
        sm = lg.sm
        d = (B - (A + B) * sm).where(lg.pos, (A + B) * sm - A)
        return d * Enc.exact(w[idx], dd)

    def delem(i: int) -> XVal:
        wi = fraction(w[i])
        if wi == 0:
            return XVal.of(0)
        A, B = _exact_AB(pw[i], y[i])
        lg = exact_logistic(x[i])
        sm = lg.sm
        d = (XVal.of(B) - XVal.of(A + B) * sm) if lg.pos else (XVal.of(A + B) * sm - XVal.of(A))
        return d * XVal.of(wi)

    # finite special terms (x = +inf with y = 1, x = -inf with y = 0): the derivative's limit
    # w B (resp. -w A) is 0
    return gradient(b.terms, cot, dvec, delem, np.zeros(x.size))
