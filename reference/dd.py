r"""Vectorised double-double arithmetic from error-free transformations.

A double-double is an unevaluated sum :math:`h + \ell` of two float64 arrays with
:math:`|\ell| \le \tfrac12\mathrm{ulp}(h)`, about 106 significant bits.  The building blocks are
exact:

* TwoSum (Knuth, TAOCP vol. 2, §4.2.2; Møller 1965): :math:`a + b = s + e` exactly.
* FastTwoSum (Dekker 1971), for :math:`|a| \ge |b|`.
* TwoProd by Dekker's splitting (Dekker, "A floating-point technique for extending the
  available precision", Numer. Math. 18, 1971): :math:`a b = p + e` exactly, barring overflow
  of the split (:math:`|a| < 2^{996}`) and underflow of the error term.

The compound operations follow Joldes, Muller and Popescu, "Tight and rigorous error bounds
for basic building blocks of double-word arithmetic", ACM TOMS 44(2), 2017: relative error
at most :math:`3u^2` for addition (their Algorithm 6) and :math:`5u^2` for multiplication by a
double-double (Algorithm 12), :math:`u = 2^{-53}`.  :data:`DD_OP_REL` is a rounder, larger
constant used by the callers' error bounds.
"""

from __future__ import annotations

import numpy as np

U64 = 2.0**-53
#: relative error bound used per double-double operation (>= 5 u^2 = 5 * 2^-106, with margin)
DD_OP_REL = 2.0**-101
_SPLITTER = 134217729.0  # 2^27 + 1


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def fast_two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    e = b - (s - a)
    return s, e


def split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = a * b
    ah, al = split(a)
    bh, bl = split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def add(ah, al, bh, bl):  # type: ignore[no-untyped-def]
    """Double-double + double-double (accurate version, rel. error <= 3u^2)."""
    s, e = two_sum(ah, bh)
    t, f = two_sum(al, bl)
    e = e + t
    s, e = fast_two_sum(s, e)
    e = e + f
    return fast_two_sum(s, e)


def add_d(ah, al, b):  # type: ignore[no-untyped-def]
    """Double-double + double (rel. error <= 2u^2)."""
    s, e = two_sum(ah, b)
    e = e + al
    return fast_two_sum(s, e)


def mul(ah, al, bh, bl):  # type: ignore[no-untyped-def]
    """Double-double * double-double (rel. error <= 5u^2)."""
    p, e = two_prod(ah, bh)
    e = e + (ah * bl + al * bh)
    return fast_two_sum(p, e)


def mul_d(ah, al, b):  # type: ignore[no-untyped-def]
    """Double-double * double (rel. error <= 2u^2)."""
    p, e = two_prod(ah, b)
    e = e + al * b
    return fast_two_sum(p, e)


def div(ah, al, bh, bl):  # type: ignore[no-untyped-def]
    """Double-double / double-double by two correction steps (rel. error well below 2^-101)."""
    q1 = ah / bh
    ph, pl = mul_d(bh, bl, q1)
    rh, rl = add(ah, al, -ph, -pl)
    q2 = rh / bh
    ph, pl = mul_d(bh, bl, q2)
    rh, rl = add(rh, rl, -ph, -pl)
    q3 = rh / bh
    qh, ql = fast_two_sum(q1, q2)
    return add_d(qh, ql, q3)


def sum_last_axis(h: np.ndarray, l: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum double-doubles along the last axis by pairwise halving.

    Returns ``(sh, sl, bound)`` with ``|sum - (sh + sl)| <= bound``; the bound is
    ``ceil(log2 n) * DD_OP_REL * sum |h + l|`` (each level adds at most one relative error per
    partial sum, and partial sums of absolute values dominate).
    """
    n = h.shape[-1]
    if n == 0:
        z = np.zeros(h.shape[:-1])
        return z, z.copy(), z.copy()
    absum = np.sum(np.abs(h), axis=-1) * (1 + 2.0**-40) + np.sum(np.abs(l), axis=-1)
    levels = 0
    while h.shape[-1] > 1:
        m = h.shape[-1]
        half = m // 2
        ah, al = h[..., :half], l[..., :half]
        bh, bl = h[..., half : 2 * half], l[..., half : 2 * half]
        sh, sl = add(ah, al, bh, bl)
        if m % 2:
            sh = np.concatenate([sh, h[..., -1:]], axis=-1)
            sl = np.concatenate([sl, l[..., -1:]], axis=-1)
        h, l = sh, sl
        levels += 1
    bound = levels * DD_OP_REL * absum * (1 + 2.0**-40)
    return h[..., 0], l[..., 0], bound
