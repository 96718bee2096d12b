r"""exp, log and log1p with rigorous error bounds, in float64 and in double-double.

Every function returns a value and an absolute error bound ``rad`` per element: the exact
mathematical result lies in ``[value - rad, value + rad]`` (for the double-double versions,
``value = hi + lo``).

Float64 tier
    NumPy's ``exp``, ``log`` and ``log1p`` in float64.  Their accuracy is not specified by
    IEEE 754; we assume a relative error below :data:`F64_ELEM_REL` = 2^-50 (8 units of
    roundoff, 4 ulp), far above the errors that glibc and NumPy's SIMD kernels document
    (below 1 ulp for exp and log) and checked against the double-double tier by
    ``tests/test_reference_elementary.py`` on hundreds of thousands of arguments.

Double-double tier
    exp: :math:`e^x = 2^K\,2^{j/256}\,e^r` with :math:`x = (256K + j)\ln 2/256 + r`,
    :math:`|r| \le \ln 2/512`; :math:`\ln 2/256` is split in three parts (Cody and Waite,
    "Software Manual for the Elementary Functions", 1980) so the reduction is exact to
    2^-140; the table :math:`2^{j/256}` is built once with :mod:`decimal` to 60 digits; and
    :math:`e^r = 1 + r + r^2/2 + r^3 p(r)` with :math:`r` and :math:`r^2/2` in double-double
    and the degree-6 polynomial :math:`p` (truncation below 2^-117) in float64: the relative
    error stays below :data:`EXP_DD_REL` = 2^-78, plenty to certify float64 results (whose
    unit roundoff is 2^-53) for all but about one argument in 2^25, which the exact tier
    then decides.
    log: one Newton step :math:`y = y_0 + \log(1 + t)`, :math:`t = S e^{-y_0} - 1` from the
    float64 logarithm :math:`y_0` of the mantissa (so :math:`|t| < 2^{-45}`), with the exponent
    added as :math:`E \ln 2` in double-double.
    log1p: a degree-6 series for :math:`|T| < 2^{-20}`, otherwise log of :math:`1 + T` formed
    exactly by TwoSum.
"""

from __future__ import annotations

import decimal
from fractions import Fraction
from typing import cast

import numpy as np

from reference import dd

U64 = 2.0**-53
F64_ELEM_REL = 2.0**-50
EXP_DD_REL = 2.0**-78
#: absolute error floor of results near the bottom of the float64 range (subnormal low words)
TINY = 2.0**-1072

_N = 256


def _dd_of_fraction(q: Fraction) -> tuple[float, float]:
    hi = float(q)
    lo = float(q - Fraction(hi))
    return hi, lo


def _build_constants() -> tuple[np.ndarray, np.ndarray, tuple[float, float, float], tuple]:
    ctx = decimal.Context(prec=60)
    ln2 = ctx.ln(decimal.Decimal(2))
    th = np.empty(_N)
    tl = np.empty(_N)
    for j in range(_N):
        v = ctx.exp(ctx.multiply(ln2, ctx.divide(decimal.Decimal(j), decimal.Decimal(_N))))
        th[j], tl[j] = _dd_of_fraction(Fraction(v))
    ell = Fraction(ln2) / _N
    # L1: 34 significant bits, so n * L1 is exact for |n| < 2^19
    l1 = float(Fraction(int(ell * 2**42), 2**42))
    rest = ell - Fraction(l1)
    l2 = float(rest)
    l3 = float(rest - Fraction(l2))
    ln2_dd = _dd_of_fraction(Fraction(ln2))
    return th, tl, (l1, l2, l3), ln2_dd


_TH, _TL, (_L1, _L2, _L3), (LN2_HI, LN2_LO) = _build_constants()
_INV_L = _N / np.log(2.0)
_THIRD = _dd_of_fraction(Fraction(1, 3))
_C = {k: _dd_of_fraction(Fraction(1, __import__("math").factorial(k))) for k in range(2, 10)}


# ----------------------------------------------------------------------------- float64 tier
def exp_f64(x: np.ndarray, rad: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """exp of the enclosure ``x +- rad`` in float64: ``(value, absolute bound)``."""
    with np.errstate(over="ignore", under="ignore"):
        v = np.exp(x)
        # relative: libm error, plus the input radius: e^{x+r} = e^x e^r, e^r - 1 <= r e^r
        rel = F64_ELEM_REL + np.asarray(rad) * np.exp(np.minimum(rad, 700.0)) * (1 + 2**-40)
        out_rad = v * rel + TINY
    exact = (x == 0) & (np.asarray(rad) == 0)
    return v, np.where(exact, 0.0, out_rad)


def log_f64(s: np.ndarray, rad: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """log of the enclosure ``s +- rad`` (``rad < s/2``) in float64."""
    v = np.log(s)
    rr = np.asarray(rad) / s
    out_rad = np.abs(v) * F64_ELEM_REL + rr * (1 + 2 * rr) * (1 + 2**-40)
    # |log(s +- r) - log s| <= r/(s - r) <= rr (1 + 2 rr) needs rr <= 1/2
    out_rad = np.where(rr <= 0.5, out_rad, np.inf)
    exact = (s == 1) & (np.asarray(rad) == 0)
    return v, np.where(exact, 0.0, out_rad)


def log1p_f64(t: np.ndarray, rad: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + t) for the enclosure ``t +- rad`` (t >= 0) in float64."""
    v = np.log1p(t)
    # derivative 1/(1 + t) <= 2 while the enclosure stays above t = -1/2
    rr = np.asarray(rad) / (1 + t)
    out_rad = np.abs(v) * F64_ELEM_REL + rr * (1 + 2 * rr) * (1 + 2**-40)
    out_rad = np.where(rr <= 0.5, out_rad, np.inf)
    exact = (t == 0) & (np.asarray(rad) == 0)
    return v, np.where(exact, 0.0, out_rad)


# ------------------------------------------------------------------------ double-double tier
def exp_dd(
    xh: np.ndarray, xl: np.ndarray | float, rad: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp of the double-double enclosure ``xh + xl +- rad``: ``(hi, lo, bound)``.

    Arguments below -745.2 give 0 (the exact value is below half the smallest subnormal, which
    the bound covers); above 709.78, +inf.
    """
    xh = np.asarray(xh, dtype=np.float64)
    xl = np.broadcast_to(np.asarray(xl, dtype=np.float64), xh.shape)
    rad = np.broadcast_to(np.asarray(rad, dtype=np.float64), xh.shape)
    low = xh < -745.2
    high = xh > 709.78
    safe = ~(low | high) & np.isfinite(xh)
    x_h = np.where(safe, xh, 0.0)
    x_l = np.where(safe, xl, 0.0)
    n = np.rint(x_h * _INV_L)
    t1 = x_h - n * _L1  # exact (Sterbenz; n * L1 exact)
    rh, rl = dd.two_sum(t1, x_l)
    ph, pl = dd.two_prod(n, cast(np.ndarray, -_L2))  # a float64 scalar broadcasts
    rh, rl = dd.add(rh, rl, ph, pl)
    rh, rl = dd.add_d(rh, rl, -n * _L3)
    # e^r = 1 + r + r^2/2 + r^3 p(r), p(r) = 1/6 + r/24 + ... + r^6/9! in float64 (relative
    # error a few u on a term below 2^-31); r and r^2/2 carried in double-double.
    p = _C[9][0]
    for k in (8, 7, 6, 5, 4, 3):
        p = _C[k][0] + rh * p
    r2h, r2l = dd.two_prod(rh, rh)
    r2l = r2l + 2.0 * rh * rl
    t3 = (r2h * rh) * p
    qh, ql = dd.add_d(0.5 * r2h, 0.5 * r2l, t3)
    qh, ql = dd.add(rh, rl, qh, ql)
    qh, ql = dd.add_d(qh, ql, 1.0)
    ni = n.astype(np.int64)
    j = np.mod(ni, _N)
    k = (ni - j) // _N
    eh, el = dd.mul(_TH[j], _TL[j], qh, ql)
    with np.errstate(over="ignore", under="ignore"):
        eh = np.ldexp(eh, k)
        el = np.ldexp(el, k)
        rel = EXP_DD_REL + rad * np.exp(np.minimum(rad, 700.0)) * (1 + 2**-40)
        bound = np.abs(eh) * rel * (1 + 2**-40) + TINY
    eh = np.where(low, 0.0, np.where(high, np.inf, eh))
    el = np.where(safe, el, 0.0)
    # e^x < 2^-1075 there; 2^-1074 is the smallest bound float64 can hold
    bound = np.where(low, 2.0**-1074 * np.exp(np.minimum(rad, 700.0)), bound)
    exact = (xh == 0) & (xl == 0) & (rad == 0)
    eh = np.where(np.isneginf(xh), 0.0, eh)
    bound = np.where(exact | np.isneginf(xh), 0.0, bound)
    bad = np.isnan(xh) | np.isnan(xl) | np.isnan(rad)  # e.g. inf - inf in a TwoSum upstream
    if np.any(bad):
        eh = np.where(bad, np.nan, eh)
        bound = np.where(bad, np.inf, bound)
    return eh, el, bound


def log_dd(
    sh: np.ndarray, sl: np.ndarray, rad: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log of the positive double-double enclosure ``sh + sl +- rad`` (``rad < s/2``)."""
    sh = np.asarray(sh, dtype=np.float64)
    sl = np.broadcast_to(np.asarray(sl, dtype=np.float64), sh.shape)
    rad = np.broadcast_to(np.asarray(rad, dtype=np.float64), sh.shape)
    _mant, ex = np.frexp(sh)
    mh = np.ldexp(sh, -ex) * 2.0  # in [1, 2)
    ml = np.ldexp(sl, -ex) * 2.0
    e = (ex - 1).astype(np.float64)
    y0 = np.log(mh)
    zh, zl, zb = exp_dd(-y0, 0.0)
    th, tl = dd.mul(mh, ml, zh, zl)
    th, tl = dd.add_d(th, tl, -1.0)
    # log(1+t) = t - t^2/2 + t^3/3 ..., |t| < 2^-45
    t2 = th * th
    yh, yl = dd.add_d(th, tl, -0.5 * t2)
    yh, yl = dd.add_d(yh, yl, y0)
    eh, el = dd.mul_d(LN2_HI, LN2_LO, e)
    yh, yl = dd.add(yh, yl, eh, el)
    rr = np.where(rad <= 0.5 * sh, rad / sh, np.inf)
    bound = (
        2 * zb  # relative error of exp(-y0) ~ absolute error of t
        + np.abs(th) ** 3
        + 4 * dd.DD_OP_REL * (np.abs(yh) + np.abs(y0) + 1)
        + rr * (1 + 2 * rr)
    ) * (1 + 2**-40)
    exact = (sh == 1) & (sl == 0) & (rad == 0)
    return yh, yl, np.where(exact, 0.0, bound)


def log1p_dd(
    th: np.ndarray, tl: np.ndarray, rad: np.ndarray | float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log(1 + t) of the double-double enclosure ``th + tl +- rad``, t > -1.  The series branch
    (|t| < 2^-20) holds for either sign: its terms decrease geometrically, so the omitted tail
    is below |t|^7; the general branch forms 1 + t exactly by TwoSum."""
    th = np.asarray(th, dtype=np.float64)
    tl = np.broadcast_to(np.asarray(tl, dtype=np.float64), th.shape)
    rad = np.broadcast_to(np.asarray(rad, dtype=np.float64), th.shape)
    small = np.abs(th) < 2.0**-20
    # series: t - t^2/2 + t^3/3 + t^4 (-1/4 + t/5 - t^2/6); the first three terms in
    # double-double, the tail (below 2^-80 |t|) in float64
    q = -0.25 + th * (0.2 - th / 6)
    t2h, t2l = dd.mul(th, tl, th, tl)
    sh_, sl_ = dd.add(th, tl, -0.5 * t2h, -0.5 * t2l)
    t3h, t3l = dd.mul(t2h, t2l, th, tl)
    t3h, t3l = dd.mul(t3h, t3l, *_THIRD)
    sh_, sl_ = dd.add(sh_, sl_, t3h, t3l)
    sh_, sl_ = dd.add_d(sh_, sl_, (t2h * t2h) * q)
    series_bound = np.abs(th) * (2.0**-99) + np.abs(th) ** 7
    # general: log of 1 + t formed exactly
    oh, ol = dd.two_sum(np.ones_like(th), th)
    oh, ol = dd.fast_two_sum(oh, ol + tl)
    gh, gl, gb = log_dd(np.where(small, 1.0, oh), np.where(small, 0.0, ol))
    yh = np.where(small, sh_, gh)
    yl = np.where(small, sl_, gl)
    rr = np.where(rad <= 0.5 * (1 + th), rad / (1 + th), np.inf)
    bound = np.where(small, series_bound, gb) + rr * (1 + 2 * rr) * (1 + 2**-40)
    exact = (th == 0) & (tl == 0) & (rad == 0)
    return yh, yl, np.where(exact, 0.0, bound)
