"""binary_cross_entropy and binary_cross_entropy_with_logits (PyTorch's semantics).

Standard of care:

- with logits ``x``, targets ``t``, ``pos_weight`` ``pi`` and ``weight`` ``w``: the loss
  ``w (A sp(-x) + B sp(x))`` with ``A = pi t``, ``B = 1 - t`` and the stable softplus
  ``sp(z) = max(z, 0) + log1p(exp(-|z|))``: both terms are non-negative, so nothing cancels and
  ``sp(z) ~ exp(z)`` keeps its relative accuracy for very negative ``z``.  The textbook
  ``(1 - t) x + (1 + (pi - 1) t) sp(-x)`` cancels for ``t = 0`` and very negative ``x``
  (``x + sp(-x)``: at ``x = -40`` in float64 it returns 0 for ``4.2e-18``) and is not accepted;
- its gradient ``w (B sigma(x) - A sigma(-x))``, each sigmoid formed from ``exp(-|x|)``
  (``sigma(-x) = 1 - sigma(x)`` without forming the difference);
- with probabilities ``p``: ``-w (t log p + (1 - t) log1p(-p))``; ``log(1 - p)`` of a rounded
  ``1 - p`` loses every digit once ``p`` is below the unit roundoff; gradient
  ``w (p - t) / (p (1 - p))`` (``1 - p`` is exact for ``p >= 1/2``, Sterbenz).

References: M. Mächler, "Accurately computing log(1 - exp(-|a|)) assessed by the Rmpfr
package", 2012 (https://cran.r-project.org/web/packages/Rmpfr/vignettes/log1mexp-note.pdf), sections
2-3 on ``log1p(exp(x))``; N. J. Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd
ed., SIAM 2002, section 1.14.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models.layout import broadcast_weight, cotangent, elementwise_denominator
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Arithmetic, Tracked


def sigmoids(x: Tracked, ar: Arithmetic) -> tuple[Tracked, Tracked]:
    """``(sigmoid(x), sigmoid(-x))``, both from ``exp(-|x|)`` (no cancellation)."""
    z = et.exp(et.neg(et.abs_(x)), ar)
    one = et.exact(np.ones_like(x.v))
    onepz = et.add(one, z, ar)
    big = et.div(one, onepz, ar)
    small = et.div(z, onepz, ar)
    pos = x.v >= 0
    return et.where(pos, big, small), et.where(pos, small, big)


def softplus(z: Tracked, ar: Arithmetic) -> Tracked:
    """``sp(z) = max(z, 0) + log1p(exp(-|z|))``."""
    tail = et.log1p(et.exp(et.neg(et.abs_(z)), ar), ar)
    return et.add(et.relu(z), tail, ar)


def logits_coefficients(kw: Mapping[str, Any], m: Model) -> tuple[Tracked, Tracked]:
    """``A = pos_weight * t`` and ``B = 1 - t``, each rounded once."""
    ar = m.ar
    t = et.exact(kw["target"])
    b = et.sub(et.exact(np.ones_like(t.v)), t, ar)
    pw = kw.get("pos_weight")
    if pw is None:
        return t, b
    pwb = et.exact(np.broadcast_to(np.asarray(pw, dtype=np.float64), t.shape))
    return et.mul(pwb, t, ar), b


def _weighted_pair(
    a: Tracked, left: Tracked, b: Tracked, right: Tracked, ar: Arithmetic
) -> Tracked:
    """``a * left + b * right`` where a zero coefficient drops its term exactly."""
    zero = et.exact(np.zeros_like(a.v))
    first = et.where((a.v == 0) & (a.e == 0), zero, et.mul(a, left, ar))
    second = et.where((b.v == 0) & (b.e == 0), zero, et.mul(b, right, ar))
    return et.add(first, second, ar)


def logits_terms(kw: Mapping[str, Any], m: Model) -> Tracked:
    ar = m.ar
    x = et.exact(kw["input"])
    a, b = logits_coefficients(kw, m)
    loss = _weighted_pair(a, softplus(et.neg(x), ar), b, softplus(x, ar), ar)
    return et.mul(broadcast_weight(kw, "weight", x.shape), loss, ar)


def logits_gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    ar = m.ar
    x = et.exact(kw["input"])
    a, b = logits_coefficients(kw, m)
    sig, sig_neg = sigmoids(x, ar)
    d = et.sub(et.mul(b, sig, ar), et.mul(a, sig_neg, ar), ar)
    d = et.mul(broadcast_weight(kw, "weight", x.shape), d, ar)
    sc = cotangent(kw, g, x.shape, elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


def probability_terms(kw: Mapping[str, Any], m: Model) -> Tracked:
    ar = m.ar
    p = et.exact(kw["input"])
    t = et.exact(kw["target"])
    one_minus_t = et.sub(et.exact(np.ones_like(t.v)), t, ar)
    loss = _weighted_pair(t, et.log(p, ar), one_minus_t, et.log1p(et.neg(p), ar), ar)
    return et.mul(broadcast_weight(kw, "weight", p.shape), et.neg(loss), ar)


def probability_gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    ar = m.ar
    p = et.exact(kw["input"])
    t = et.exact(kw["target"])
    one = et.exact(np.ones_like(p.v))
    d = et.div(et.sub(p, t, ar), et.mul(et.sub(one, p, ar), p, ar), ar)
    d = et.mul(broadcast_weight(kw, "weight", p.shape), d, ar)
    sc = cotangent(kw, g, p.shape, elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


__all__ = [
    "logits_coefficients",
    "logits_gradient",
    "logits_terms",
    "probability_gradient",
    "probability_terms",
    "sigmoids",
    "softplus",
]
