r"""kl_div (PyTorch's semantics) and its vector-Jacobian product, correctly rounded.

``torch.nn.functional.kl_div(input, target, reduction, log_target)``
(https://pytorch.org/docs/stable/generated/torch.nn.functional.kl_div.html,
https://pytorch.org/docs/stable/generated/torch.nn.KLDivLoss.html) takes the input as
log-probabilities :math:`x = \log q` and the target :math:`t` as probabilities, or as
log-probabilities with ``log_target=True``; the pointwise terms are

.. math::

   \ell = t\,(\log t - x)\quad(\ell = 0 \text{ where } t = 0),\qquad
   \ell = e^{t}\,(t - x)\quad(\texttt{log\_target}),

reduced by ``none``, ``sum``, ``mean`` (the sum over the number of elements) or ``batchmean``
(the sum over the first dimension's size, the mathematically correct KL divergence per
sample).  The derivative with respect to the input is :math:`-t` (:math:`-e^{t}`).

Exact cases: :math:`t = 1` gives :math:`-x` and :math:`t = 0` gives 0 (without log target);
:math:`t = 0` gives :math:`-x` and :math:`t = x` gives 0 (with log target); the gradient
without log target is rational everywhere and with log target at :math:`t = 0`.  Elsewhere
:math:`\log t` and :math:`e^t` are transcendental (Lindemann-Weierstrass), and so are the
terms.  Special values are tabulated in ``docs/semantics-pointwise.md``.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np

from reference._docstrings import fill_doc, vjp_doc
from reference.enclosure import Enc
from reference.exact import XVal
from reference.pointwise import (
    Terms,
    cotangent,
    elementwise_operands,
    fraction,
    gradient,
    loss,
    xexp,
)
from reference.types import KL_REDUCTIONS, KLReduction, OutDtype

#: with ``log_target``, a target above this makes |e^t (t - x)| exceed 10^458 whenever
#: t != x (|t - x| >= 2^-1074): beyond every format's range, so the term is taken as +-inf
LOG_TARGET_OVERFLOW = 1800.0


@dataclasses.dataclass
class _KL:
    x: np.ndarray
    t: np.ndarray
    log_target: bool
    terms: Terms
    divisor: Fraction


def _kl(input: Any, target: Any, reduction: str, log_target: bool, out_dtype: Any) -> _KL:
    name = "kl_div"
    a, tt, fmt = elementwise_operands(name, input, target, reduction, KL_REDUCTIONS, out_dtype)
    shape = a.shape
    x, t = a.reshape(-1), tt.reshape(-1)
    nan = np.isnan(x) | np.isnan(t)
    with np.errstate(invalid="ignore"):
        if log_target:
            # t = -inf is a zero probability: 0 whatever the input; t = +inf: +inf unless the
            # input is +inf too (inf - inf); infinite inputs: -inf * ... as extended reals
            zero = t == -np.inf
            big = (t > LOG_TARGET_OVERFLOW) & (t != x)
            value = np.where(zero, 0.0, np.where(big, np.copysign(np.inf, t - x), 0.0))
            inf_x = np.isinf(x) & np.isfinite(t)
            value = np.where(inf_x, -x, value)
            value = np.where((t == np.inf) & (x == np.inf), np.nan, value)
            special = nan | zero | big | inf_x | (t == np.inf)
        else:
            # t = 0: 0 whatever the input (0 log 0 = 0); t < 0: log of a negative, NaN;
            # t = +inf: +inf unless x = +inf; infinite inputs with 0 < t < inf: -inf * x
            zero = t == 0
            neg = t < 0
            tinf = t == np.inf
            inf_x = np.isinf(x) & (t > 0) & ~tinf
            value = np.where(inf_x, -x, 0.0)
            value = np.where(tinf, np.where(x == np.inf, np.nan, np.inf), value)
            value = np.where(neg, np.nan, value)
            special = nan | zero | neg | tinf | inf_x
        value = np.where(nan, np.nan, value)

    if log_target:

        def vec(idx: np.ndarray, dd: bool) -> Enc:
            tv = Enc.exact(t[idx], dd)
            return tv.exp() * (tv - Enc.exact(x[idx], dd))

        def elem(i: int) -> XVal:
            ti = fraction(t[i])
            diff = ti - fraction(x[i])
            if diff == 0:
                return XVal.of(0)
            return xexp(ti) * XVal.of(diff)

    else:

        def vec(idx: np.ndarray, dd: bool) -> Enc:
            tv = Enc.exact(t[idx], dd)
            return tv * (tv.log() - Enc.exact(x[idx], dd))

        def elem(i: int) -> XVal:
            ti = fraction(t[i])
            return XVal.of(ti) * (XVal.of(ti).log() - XVal.of(fraction(x[i])))

    terms = Terms(shape, fmt, special, value, vec, elem)
    if reduction == "mean":
        divisor = Fraction(x.size)
    elif reduction == "batchmean":
        divisor = Fraction(shape[0] if len(shape) else 1)
    else:
        divisor = Fraction(1)
    return _KL(x, t, log_target, terms, divisor)


@fill_doc
def kl_div(
    input: Any,
    target: Any,
    reduction: KLReduction = "mean",
    log_target: bool = False,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded Kullback-Leibler divergence (``torch.nn.functional.kl_div``).

    The term is :math:`\ell = t\,(\log t - x)` (0 where :math:`t = 0`), or :math:`e^t (t - x)` with
    ``log_target``; :math:`x` are log-probabilities.

    Args:
        input: Log-probabilities :math:`x`.
        target: Probabilities :math:`t`, or log-probabilities with ``log_target``, shaped like
            ``input``.
        reduction: ``none``, ``sum``, ``mean`` (over all elements) or ``batchmean`` (over the first
            dimension's size).
        log_target: Whether ``target`` holds log-probabilities.
        %(out_dtype)s

    Returns:
        %(elementwise_returns)s

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``, ``batchmean``;
            ``target`` is not shaped like ``input``.
        %(elementwise_errors)s
    """
    k = _kl(input, target, reduction, log_target, out_dtype)
    return loss(k.terms, reduction, k.divisor)


@vjp_doc(kl_div, "input")
def kl_div_grad(
    input: Any,
    target: Any,
    reduction: KLReduction = "mean",
    log_target: bool = False,
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`kl_div` with respect to ``input``: :math:`-t\,s` (:math:`-e^t s` with
    ``log_target``).

    :math:`s` is the cotangent :math:`g` times the reduction's scale.
    """
    k = _kl(input, target, reduction, log_target, out_dtype)
    t = k.t
    cot = cotangent(grad_output, reduction, k.terms.shape, k.divisor)

    if k.log_target:

        def dvec(idx: np.ndarray, dd: bool) -> Enc:
            return -Enc.exact(t[idx], dd).exp()

        def delem(i: int) -> XVal:
            return -xexp(fraction(t[i]))

    else:

        def dvec(idx: np.ndarray, dd: bool) -> Enc:
            return Enc.exact(-t[idx], dd)

        def delem(i: int) -> XVal:
            return XVal.of(-fraction(t[i]))

    # finite special terms are those of a zero target probability: derivative -0 = 0
    return gradient(k.terms, cot, dvec, delem, np.zeros(t.size))
