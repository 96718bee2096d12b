"""softmax, log_softmax and logsumexp along one axis: the shifted algorithm with ``log1p``.

The standard of care (Blanchard, Higham & Higham, "Accurately computing the log-sum-exp and
softmax functions", IMA J. Numer. Anal. 41(4), 2021, https://doi.org/10.1093/imanum/draa038:
the shifted algorithm in its ``log1p`` form) for a row ``x`` with largest element ``a = x_k``:

    d_i = x_i - a                         (exact for the top class, d_k = 0)
    s'  = sum_{i != k} exp(d_i)           (the complement sum, 0 <= s' <= n - 1)
    L   = log1p(s')                       (relative accuracy also when s' is tiny)
    logsumexp = a + L,   log_softmax_i = d_i - L,
    softmax_i = exp(d_i) / (1 + s'),  and the complement 1 - softmax_k = s' / (1 + s').

Inputs are exact: every error below comes from a rounding this algorithm performs, so the bound
grows with ``|x_i - a|`` (not with ``|x|``), with the summation error of ``s'`` and with the
elementary functions' errors.  No variant that cancels is accepted: ``lse - x_t`` formed after
rounding ``lse``, ``log(1 + s')`` where ``s'`` is below the unit roundoff, ``p - 1`` after ``p``
was rounded.

Rows holding NaN or ``+inf`` (and rows of only ``-inf``) get NaN bounds: their values are fixed
by the special-value table and must match exactly.

Vector-Jacobian products follow the autodiff formulas on the outputs computed above:
softmax ``y * (g - <g, y>)``, log_softmax ``g - softmax * sum(g)``, logsumexp ``g * softmax``
(the softmax of the shifted algorithm, not ``exp(x - lse)`` with a rounded ``lse``, which loses
every digit once the float spacing at ``x`` exceeds 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models.layout import keep_last
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked
from verify.ops import LOGSUMEXP, SOFTMAX, SOFTMAX_FAMILY

OPS = SOFTMAX_FAMILY


@dataclasses.dataclass(frozen=True)
class Row:
    """The pieces of the shifted algorithm on rows along the last axis (reduced quantities keep
    that axis with length 1)."""

    #: rows whose values the special-value table fixes (NaN, +inf, all -inf)
    bad: np.ndarray
    #: the largest element of each row, with the error it carries (0 for exact inputs)
    shift: Tracked
    #: True at one largest element per row
    top: np.ndarray
    #: ``x - a`` and ``exp(x - a)`` (1, exactly, at the top)
    d: Tracked
    e: Tracked
    #: ``s'`` (the complement sum), ``1 + s'`` and ``log1p(s')``
    rest: Tracked
    s: Tracked
    log1p_rest: Tracked
    logsumexp: Tracked
    log_softmax: Tracked
    softmax: Tracked
    #: ``1 - softmax`` at the top, ``s' / (1 + s')``
    complement: Tracked


def row(x: Tracked, m: Model) -> Row:
    """The shifted algorithm on ``x`` along its last axis (``x`` exact, or carrying the errors
    of an earlier computation such as a linear layer)."""
    ar = m.ar
    v = x.v
    with np.errstate(invalid="ignore"):
        a = np.max(v, axis=-1, keepdims=True)
        bad = np.isnan(a) | np.isinf(a) | np.any(np.isnan(v), axis=-1, keepdims=True)
        k = np.argmax(np.where(np.isnan(v), -np.inf, v), axis=-1)[..., None]
    top = np.zeros(v.shape, dtype=bool)
    np.put_along_axis(top, k, True, axis=-1)
    picked = et.take(x, k, -1)
    shift = Tracked(np.where(bad, np.nan, picked.v), picked.e)
    # x_k - a is exactly 0 at the top; exp(0) is exactly 1
    d = et.where(top, et.exact(np.zeros_like(v)), et.sub(x, shift, ar))
    e = et.where(top, et.exact(np.ones_like(v)), et.exp(d, ar))
    zero = et.exact(np.zeros_like(v))
    rest = keep_last(et.total(et.where(top, zero, e), ar, axis=-1))
    one = et.exact(np.ones_like(rest.v))
    s = et.add(one, rest, ar)
    log1p_rest = et.log1p(rest, ar)
    return Row(
        bad=bad,
        shift=shift,
        top=top,
        d=d,
        e=e,
        rest=rest,
        s=s,
        log1p_rest=log1p_rest,
        logsumexp=et.add(shift, log1p_rest, ar),
        log_softmax=et.sub(d, log1p_rest, ar),
        softmax=et.div(e, s, ar),
        complement=et.div(rest, s, ar),
    )


def _last(a: Any, axis: int) -> np.ndarray:
    return np.moveaxis(np.asarray(a), axis, -1)


def _axis(kw: Mapping[str, Any]) -> int:
    x = np.asarray(kw["x"])
    return int(kw.get("axis", -1)) % max(x.ndim, 1)


def _composite_logsumexp(r: Row, m: Model) -> Tracked:
    """``a + log(sum(exp(x - a)))`` as separate library operations whose intermediate tensors
    are half-precision tensors (PyTorch's ``logsumexp`` and JAX's are compositions of
    primitives, not one kernel): each piece is rounded to the input dtype, and the ``log`` of
    the rounded sum replaces ``log1p`` (the rounding of ``1 + s'`` already costs a unit
    roundoff of the input dtype)."""
    ar = m.ar
    e = m.materialise(et.exp(m.materialise(r.d), ar))
    s = m.materialise(keep_last(et.total(e, ar, axis=-1)))
    return et.add(r.shift, m.materialise(et.log(s, ar)), ar)


def forward(op: str, kw: Mapping[str, Any], m: Model) -> np.ndarray:
    axis = _axis(kw)
    r = row(et.exact(_last(kw["x"], axis)), m)
    if op == LOGSUMEXP:
        lse = r.logsumexp
        if m.low:
            composite = _composite_logsumexp(r, m)
            lse = Tracked(lse.v, np.maximum(lse.e, composite.e))
        return special(lse.e, r)[..., 0]
    part = r.softmax if op == SOFTMAX else r.log_softmax
    return np.moveaxis(special(part.e, r), -1, axis)


def gradient(op: str, kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    ar = m.ar
    axis = _axis(kw)
    r = row(et.exact(_last(kw["x"], axis)), m)
    if op == LOGSUMEXP:
        gt = et.exact(np.asarray(g, dtype=np.float64)[..., None])
        out = et.mul(gt, m.materialise(r.softmax), ar)
    elif op == SOFTMAX:
        gt = et.exact(_last(g, axis))
        y = m.saved(r.softmax)
        dot = keep_last(et.total(et.mul(gt, y, ar), ar, axis=-1))
        out = et.mul(y, et.sub(gt, dot, ar), ar)
    else:
        gt = et.exact(_last(g, axis))
        y = et.exp(m.saved(r.log_softmax), ar) if m.low else r.softmax
        gs = keep_last(et.total(gt, ar, axis=-1))
        out = et.sub(gt, et.mul(y, gs, ar), ar)
    return np.moveaxis(special(out.e, r), -1, axis)


def special(bound: np.ndarray, r: Row) -> np.ndarray:
    """``bound`` with NaN on the rows whose values the special-value table fixes."""
    return np.where(r.bad, np.nan, bound)


__all__ = ["OPS", "Row", "forward", "gradient", "row", "special"]
