r"""Midpoint-radius enclosures: a value and a rigorous absolute error bound, per element.

:class:`Enc` holds ``h`` (float64), ``l`` (the low word of a double-double, or the scalar 0 in
the float64 tier) and ``r`` (a float64 bound): the exact real value lies in
:math:`[h + l - r,\; h + l + r]`.  Two tiers share the same operations:

* ``dd=False`` (float64): each operation's rounding error is bounded by :math:`u|v|`,
  :math:`u = 2^{-53}` (IEEE 754 round-to-nearest in the normal range; the results here stay
  far from the subnormal range or carry an absolute floor), and input radii propagate by the
  usual first-order-exact rules, e.g. for a product
  :math:`|ab - \hat a\hat b| \le |\hat a| r_b + |\hat b| r_a + r_a r_b`.
* ``dd=True`` (double-double): the same rules with the double-double operation bound
  :data:`reference.dd.DD_OP_REL`.

Bounds are computed in float64 and multiplied by :math:`1 + 2^{-40}`, which covers the
rounding of the bound arithmetic itself (a handful of operations each off by at most
:math:`u`).  See Rump, "Fast and parallel interval arithmetic", BIT 39(3), 1999, for
midpoint-radius arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference import dd as ddm
from reference import elementary as el

U = 2.0**-53
K = 1.0 + 2.0**-40


class Enc:
    __slots__ = ("dd", "h", "l", "r")

    def __init__(self, h: Any, l: Any, r: Any, dd: bool) -> None:
        self.h = h
        self.l = l
        self.r = r
        self.dd = dd

    # construction ----------------------------------------------------------------------
    @classmethod
    def exact(cls, v: Any, dd: bool) -> Enc:
        v = np.asarray(v, dtype=np.float64)
        return cls(v, np.zeros_like(v) if dd else 0.0, np.zeros_like(v), dd)

    @property
    def rel(self) -> float:
        return ddm.DD_OP_REL if self.dd else U

    def value(self) -> np.ndarray:
        return self.h + self.l if self.dd else self.h

    def __getitem__(self, idx: Any) -> Enc:
        l = self.l[idx] if self.dd else 0.0
        return Enc(self.h[idx], l, self.r[idx], self.dd)

    def bcast(self, shape: tuple[int, ...]) -> Enc:
        l = np.broadcast_to(self.l, shape) if self.dd else 0.0
        return Enc(np.broadcast_to(self.h, shape), l, np.broadcast_to(self.r, shape), self.dd)

    def expand(self) -> Enc:
        """Add a trailing axis (row quantities broadcast against (rows, classes))."""
        l = self.l[..., None] if self.dd else 0.0
        return Enc(self.h[..., None], l, self.r[..., None], self.dd)

    # arithmetic -------------------------------------------------------------------------
    def __neg__(self) -> Enc:
        return Enc(-self.h, -self.l if self.dd else 0.0, self.r, self.dd)

    def __add__(self, o: Enc) -> Enc:
        o = _lift(o, self.dd)
        if self.dd:
            h, l = ddm.add(self.h, self.l, o.h, o.l)
        else:
            h, l = self.h + o.h, 0.0
        return Enc(h, l, (self.r + o.r + self.rel * np.abs(h)) * K, self.dd)

    __radd__ = __add__

    def __sub__(self, o: Enc) -> Enc:
        return self + (-_lift(o, self.dd))

    def __rsub__(self, o: Enc) -> Enc:
        return _lift(o, self.dd) + (-self)

    def __mul__(self, o: Enc) -> Enc:
        o = _lift(o, self.dd)
        if self.dd:
            h, l = ddm.mul(self.h, self.l, o.h, o.l)
        else:
            h, l = self.h * o.h, 0.0
        r = np.abs(self.h) * o.r + np.abs(o.h) * self.r + self.r * o.r + self.rel * np.abs(h)
        return Enc(h, l, r * K, self.dd)

    __rmul__ = __mul__

    def __truediv__(self, o: Enc) -> Enc:
        o = _lift(o, self.dd)
        if self.dd:
            h, l = ddm.div(self.h, self.l, o.h, o.l)
        else:
            h, l = self.h / o.h, 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            den = np.abs(o.h) - o.r * K
            r = (self.r + np.abs(h) * o.r) / den + self.rel * np.abs(h)
            # a divisor enclosure reaching zero bounds nothing
            r = np.where(den > 0, r, np.inf)
        return Enc(h, l, r * K, self.dd)

    def _elementary(self, dd: Callable[..., Any], f64: Callable[..., Any]) -> Enc:
        """The enclosure of an elementary function: ``dd(h, l, r) -> (h, l, r)`` in
        double-double, ``f64(h, r) -> (h, r)`` in float64 (``reference.elementary``)."""
        l: np.ndarray | float
        if self.dd:
            h, l, r = dd(self.h, self.l, self.r)
        else:
            h, r = f64(self.h, self.r)
            l = 0.0
        return Enc(h, l, r, self.dd)

    def exp(self) -> Enc:
        with np.errstate(invalid="ignore"):
            e = self._elementary(el.exp_dd, el.exp_f64)
        return Enc(e.h, e.l, np.where(np.isneginf(self.h), 0.0, e.r), self.dd)

    def log(self) -> Enc:
        return self._elementary(el.log_dd, el.log_f64)

    def log1p(self) -> Enc:
        return self._elementary(el.log1p_dd, el.log1p_f64)

    # reductions -------------------------------------------------------------------------
    def sum_last(self) -> Enc:
        """Sum along the last axis."""
        self.h.shape[-1]
        rsum = np.sum(self.r, axis=-1) * K
        if self.dd:
            h, l, b = ddm.sum_last_axis(self.h, np.broadcast_to(self.l, self.h.shape))
            return Enc(h, l, (rsum + b) * K, True)
        h, b = blocked_sum(self.h)
        return Enc(h, 0.0, (rsum + b) * K, False)

    def where(self, mask: np.ndarray, other: Enc) -> Enc:
        other = _lift(other, self.dd)
        h = np.where(mask, self.h, other.h)
        l = np.where(mask, self.l, other.l) if self.dd else 0.0
        return Enc(h, l, np.where(mask, self.r, other.r), self.dd)


def _lift(o: Any, dd: bool) -> Enc:
    if isinstance(o, Enc):
        return o
    return Enc.exact(o, dd)


_BLOCK = 64


def blocked_sum(v: np.ndarray, nonneg: bool = False) -> tuple[np.ndarray, np.ndarray]:
    r"""Sum float64 values along the last axis, returning ``(sum, bound)``.

    Blocks of 64 are summed by NumPy (any order: error at most :math:`63u\sum|v|` per block,
    Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §4.2), the block sums
    are then added exactly by TwoSum in a pairwise tree whose low parts are summed
    separately; the bound covers both stages.
    """
    n = v.shape[-1]
    lead = v.shape[:-1]
    if n <= _BLOCK:
        s = np.sum(v, axis=-1)
        return s, (max(n - 1, 0) * U) * (np.abs(s) if nonneg else np.sum(np.abs(v), axis=-1)) * K
    nb = -(-n // _BLOCK)
    pad = nb * _BLOCK - n
    if pad:
        v = np.concatenate([v, np.zeros((*lead, pad))], axis=-1)
    blocks = v.reshape((*lead, nb, _BLOCK))
    part = np.sum(blocks, axis=-1)
    # for non-negative terms the computed block sums bound the exact ones: |v| sums need no pass
    abs_v = part * (1 + _BLOCK * U) if nonneg else np.sum(np.abs(blocks), axis=-1)
    block_err = (_BLOCK - 1) * U * np.sum(abs_v, axis=-1) * K
    h = part
    lo_acc = np.zeros(lead)
    levels = 0
    while h.shape[-1] > 1:
        m = h.shape[-1]
        half = m // 2
        s, e = ddm.two_sum(h[..., :half], h[..., half : 2 * half])
        lo_acc = lo_acc + np.sum(e, axis=-1)
        if m % 2:
            s = np.concatenate([s, h[..., -1:]], axis=-1)
        h = s
        levels += 1
    total = h[..., 0] + lo_acc
    # TwoSum is exact; the low parts sum to at most levels*u*sum|v| and are added with
    # relative error (nb + levels) u; the final addition rounds once.
    abs_all = np.sum(abs_v, axis=-1)
    err = block_err + (U * np.abs(total) + (nb + levels) * levels * U * U * abs_all) * K
    return total, err
