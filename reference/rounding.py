r"""Rounding exact and enclosed values once, round-half-even, into a target format.

Three entry points:

* :func:`round_dd` rounds the exact value :math:`h + \ell` of a normalised double-double pair
  (:math:`|\ell| \le \tfrac12 \mathrm{ulp}(h)`) into a :class:`~reference.formats.Format`,
  vectorised, with no intermediate rounding: the significand is cut at the format's precision
  by exact power-of-two scaling and the discarded part is compared with one half, the low word
  breaking ties.  Subnormals (a fixed quantum below ``2^emin``) and overflow (to infinity from
  the midpoint between the largest finite number and ``2^(emax+1)`` up, IEEE 754-2019 §4.3.1)
  follow the standard.
* :func:`certify` takes an enclosure :math:`h + \ell \pm r` and says, element by element,
  whether every real number in it rounds to the same value (Ziv's test); only certified
  elements may be returned.
* :func:`round_rational` rounds an exact rational (a :class:`fractions.Fraction`) with integer
  arithmetic: the last-resort tier.

The result of rounding is returned as float64 holding a value that is exactly representable in
the target format; :func:`to_dtype` then converts without a second rounding.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, cast

import numpy as np

from reference.formats import FLOAT64, Format


def round_dd(hi: np.ndarray, lo: np.ndarray | float, fmt: Format) -> np.ndarray:
    """Round the exact sums ``hi + lo`` into ``fmt``; returns float64 (representable in fmt).

    ``hi`` and ``lo`` must form normalised double-double pairs (``fl(hi + lo) == hi``).  NaN
    stays NaN; infinities stay infinities.
    """
    return round_dd_margin(hi, lo, fmt)[0]


def round_dd_margin(
    hi: np.ndarray, lo: np.ndarray | float, fmt: Format
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`round_dd` plus, per element, a lower bound on the distance from ``hi + lo`` to the
    nearest rounding boundary (midpoint between two neighbours of the format, or the overflow
    threshold).  Any value closer than that rounds to the same result."""
    hi = np.asarray(hi, dtype=np.float64)
    if fmt is not FLOAT64 and np.isscalar(lo) and lo == 0:
        if fmt.name in ("float32", "float16"):
            return _round_cast_margin(hi, fmt)
        return _round_f64_margin(hi, fmt)
    if fmt.name in ("float32", "float16") and np.all(np.isfinite(hi)):
        # fl(hi + lo) differs from the exact sum by less than half a float64 ulp, far below
        # the target's spacing: round it, and take that residual off the margin (an exact tie
        # of fl(hi + lo) has margin 0, so the residual's sign is never needed)
        lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), hi.shape)
        v = hi + lo
        res = np.abs((hi - v) + lo)
        r, m = _round_cast_margin(v, fmt)
        m = m - res * (1 + 2.0**-50)
        tie = (m <= 0) & (lo != 0)
        if np.any(tie):
            # fl(hi + lo) on (or next to) a boundary: the low word decides, so round these
            # few exactly by the general path instead of double rounding through fl(hi + lo)
            r = r.copy()
            rg, mg = _round_general(hi[tie], lo[tie], fmt)
            r[tie] = rg
            m = m.copy()
            m[tie] = mg
        return r, m
    if fmt is FLOAT64:
        return _round_dd_to_f64_margin(hi, np.asarray(lo, dtype=np.float64))
    return _round_general(hi, lo, fmt)


def _round_general(
    hi: np.ndarray, lo: np.ndarray | float, fmt: Format
) -> tuple[np.ndarray, np.ndarray]:
    """The general vectorised path of :func:`round_dd_margin` (any format, any low word)."""
    hi = np.asarray(hi, dtype=np.float64)
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), hi.shape)
    out = np.array(hi, dtype=np.float64, copy=True)
    margin = np.zeros(hi.shape)
    finite = np.isfinite(hi) & (hi != 0)
    zero = hi == 0
    if np.any(zero):
        # value lo with |lo| tiny: rounds to zero or to a subnormal; handled by the general
        # code when lo != 0, so move it to hi
        out = np.where(zero, lo, out)
        hi = np.where(zero, lo, hi)
        lo = np.where(zero, 0.0, lo)
        finite = np.isfinite(hi) & (hi != 0)
        margin = np.where(hi == 0, fmt.min_subnormal / 2, margin)
    if not np.any(finite):
        return _overflow(out, fmt), margin
    full = bool(np.all(finite))
    h = hi if full else hi[finite]
    l = lo if full else lo[finite]
    sign = np.sign(h)
    h = np.abs(h)
    l = l * sign
    mant, exp2 = np.frexp(h)  # h = mant * 2^exp2, mant in [0.5, 1)
    e = exp2 - 1  # floor(log2 h)
    # h an exact power of two with a negative low word: the value lies in the binade below,
    # whose quantum is half as large.
    e = e - ((mant == 0.5) & (l < 0))
    qexp = np.maximum(e, fmt.emin) - (fmt.precision - 1)  # quantum = 2^qexp
    sh = np.ldexp(h, -qexp)  # exact: power-of-two scaling within range
    sl = np.ldexp(l, -qexp)
    fl = np.floor(sh)
    a = sh - fl  # exact fractional part of the high word, in quanta
    odd = np.fmod(fl, 2.0) == 1.0
    # Case a != 0: the quantum of sh is <= 1/2, so |sl| < |a - 1/2| unless a == 1/2 exactly.
    up_a = (a > 0.5) | ((a == 0.5) & ((sl > 0) | ((sl == 0) & odd)))
    # Case a == 0: the value is fl + sl with |sl| <= 1 (the finer binade quantum included).
    down0 = (sl < -0.5) | ((sl == -0.5) & odd)
    up0 = (sl > 0.5) | ((sl == 0.5) & odd)
    n = np.where(a != 0, fl + up_a, fl + up0 - down0)
    # distance (in quanta) from the value to the nearest half-integer boundary
    f = (fl - n) + a + sl
    mq = 0.5 - np.abs(f)
    # next to a power of two the neighbouring binade's boundaries are twice as close
    pow2 = n == 2.0 ** (fmt.precision - 1)
    mq = np.where(pow2, 0.5 * mq, mq) - 2.0**-45
    res = np.ldexp(n, qexp) * sign
    # rounded to zero: keep the sign of the exact value
    res = np.where(n == 0, np.copysign(0.0, sign), res)
    mg = np.maximum(np.ldexp(mq, qexp), 0.0)
    if full:
        out, margin = res, mg
    else:
        out[finite] = res
        margin[finite] = mg
    if fmt is not FLOAT64:
        big = np.abs(out) >= fmt.max_finite
        if np.any(big):  # near overflow: let the exact tier decide
            margin = np.where(big, 0.0, margin)
    return _overflow(out, fmt), margin


_MANT = np.uint64((1 << 52) - 1)
_IMPLICIT = np.uint64(1 << 52)
_ABS = np.uint64((1 << 63) - 1)


def _round_f64_margin(h: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    r"""Fast path of :func:`round_dd_margin` for plain float64 values (no low word) and a
    narrower format, by integer operations on the IEEE 754 encoding: the significand
    :math:`M \in [2^{52}, 2^{53})` loses its ``k`` low bits, ``k = 53 - p`` in the normal
    range of the format and more below ``2^emin``."""
    p = fmt.precision
    bits = np.ascontiguousarray(h).view(np.uint64)
    sign_neg = (bits >> np.uint64(63)) == 1
    a = bits & _ABS
    E = (a >> np.uint64(52)).astype(np.int64)  # biased exponent
    e = E - 1023
    k = (53 - p) + np.maximum(0, fmt.emin - e)
    special = (E == 2047) | (E == 0) | (k >= 53)  # nan/inf, zero/f64-subnormal, underflow
    kk = np.where(special, 1, k).astype(np.uint64)
    M = (a & _MANT) | _IMPLICIT
    q = np.uint64(1) << kk
    low = M & (q - np.uint64(1))
    half = q >> np.uint64(1)
    base_odd = ((M >> kk) & np.uint64(1)) == 1
    up = (low > half) | ((low == half) & base_odd)
    trunc = (a & ~(q - np.uint64(1))).view(np.float64)
    ulpq = ((E + k.astype(np.int64)).clip(1, 2046).astype(np.uint64) << np.uint64(52)).view(
        np.float64
    ) * 2.0**-52
    res = trunc + np.where(up, ulpq, 0.0)
    # distance to the nearest boundary: |low - half| units of 2^(e-52)
    unit = ((E - 52).clip(1, 2046).astype(np.uint64) << np.uint64(52)).view(np.float64)
    dist = np.abs(low.astype(np.float64) - half.astype(np.float64)) * unit
    # a result at a power of two has a neighbouring binade twice as fine
    rb = res.view(np.uint64)
    pow2 = (rb & _MANT) == 0
    margin = np.where(pow2, 0.5 * dist, dist)
    if np.any(special):
        sp = special
        tiny = sp & (E < 2047)  # zero, float64 subnormal, or below the min subnormal
        res = np.where(tiny, 0.0, np.where(sp, np.abs(h), res))
        half_min = fmt.min_subnormal / 2
        margin = np.where(
            tiny, half_min - np.abs(np.where(tiny, h, 0.0)), np.where(sp, 0.0, margin)
        )
        # exactly half the smallest subnormal ties to zero (even); just above rounds up
        exact_half = sp & (np.abs(h) == half_min)
        margin = np.where(exact_half, 0.0, margin)
        above_half = tiny & (np.abs(h) > half_min)
        res = np.where(above_half, fmt.min_subnormal, res)
        margin = np.where(above_half, 0.0, margin)
    big = res >= fmt.max_finite
    margin = np.where(big, 0.0, margin)
    res = np.where(res >= 2.0 ** (fmt.emax + 1), np.inf, res)
    res = np.where(sign_neg, -res, res)
    return res, np.maximum(margin, 0.0)


def _round_cast_margin(h: np.ndarray, fmt: Format) -> tuple[np.ndarray, np.ndarray]:
    """Fast path for float32 and float16 targets: NumPy's float64 -> float32 and float64 ->
    float16 conversions round once, to nearest even, with subnormals and overflow (the first
    is the hardware conversion; the second converts the float64 bits directly,
    numpy/_core/src/common/half.hpp); ``tests/test_reference_rounding.py`` checks both against
    exact rational rounding.

    The margin is conservative: the smaller of the two half-spacings around the result (a
    quarter of the spacing above a power of two) less the distance to the result.  The
    spacing is read off the exponent bits."""
    ut: Any  # np.uint32 or np.uint16, and a mask of that type
    emask: Any
    if fmt.name == "float32":
        ut, emask, mbits = np.uint32, np.uint32(0x7F800000), 23
    else:
        ut, emask, mbits = np.uint16, np.uint16(0x7C00), 10
    with np.errstate(over="ignore", invalid="ignore"):
        r = h.astype(fmt.dtype)
        back = r.astype(np.float64)
        bits = r.view(ut)
        ebits = (bits & emask).astype(np.int32) - (mbits << mbits)
        if np.all(ebits > 0):
            sp = ebits.astype(ut).view(fmt.dtype).astype(np.float64)
        else:
            # small exponent fields: the spacing 2^(E - bias - mbits) is itself a subnormal,
            # whose encoding is 1 << (E - 1) (E = 0: the smallest subnormal)
            E = (bits & emask).astype(np.int32) >> mbits
            small = np.left_shift(1, np.maximum(E - 1, 0))
            sp_bits = np.where(ebits > 0, ebits, small)
            sp = sp_bits.astype(ut).view(fmt.dtype).astype(np.float64)
        pow2 = (bits & ut((1 << mbits) - 1)) == 0
        half_min = sp * (0.5 - 0.25 * pow2)
        margin = half_min - np.abs(h - back)  # the subtraction is exact (Sterbenz)
    if not np.all(np.abs(back) < fmt.max_finite):
        with np.errstate(invalid="ignore"):
            margin = margin * (np.abs(back) < fmt.max_finite)  # overflow region: exact tier
    return back, margin


def _round_dd_to_f64_margin(h: np.ndarray, l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 target from a double-double: ``fl(h + l)`` is the correctly rounded sum (IEEE
    754 addition); the margin is half the spacing on the value's side less the distance."""
    with np.errstate(over="ignore", invalid="ignore"):
        r = h + l
        delta = (h - r) + l  # the exact value minus r, up to a relative 2^-53 of delta
        sp = np.spacing(np.abs(r))
    pow2 = (r.view(np.uint64) & _MANT) == 0
    inward = (delta * np.sign(r)) < 0
    dist = np.abs(delta) * (1 + 2.0**-50)
    half_out = 0.5 * sp
    half_in = np.where(pow2, 0.25 * sp, half_out)
    margin = np.where(
        inward,
        np.minimum(half_in - dist, half_out + dist),
        np.minimum(half_out - dist, half_in + dist),
    )
    margin = np.where(np.abs(r) >= FLOAT64.max_finite, 0.0, margin)
    margin = np.where(np.isfinite(r), np.maximum(margin, 0.0), 0.0)
    r = np.where(np.isfinite(h), r, h)
    return r, margin


def _overflow(values: np.ndarray, fmt: Format) -> np.ndarray:
    if fmt is FLOAT64:
        return values
    too_big = np.abs(values) >= 2.0 ** (fmt.emax + 1)
    if np.any(too_big):
        values = np.where(too_big, np.copysign(np.inf, values), values)
    return values


def certify(
    hi: np.ndarray, lo: np.ndarray | float, rad: np.ndarray | float, fmt: Format
) -> tuple[np.ndarray, np.ndarray]:
    """Round the enclosure ``[hi + lo - rad, hi + lo + rad]`` into ``fmt``.

    Returns ``(ok, rounded)``: ``ok[i]`` is true when every real number of the i-th enclosure
    rounds to ``rounded[i]``; elsewhere ``rounded`` must not be used.  ``rad == 0`` means the
    value is exact.  NaN enclosures are never certified (callers handle special values first).
    """
    hi = np.asarray(hi, dtype=np.float64)
    if fmt.name in ("float32", "float16") and np.isscalar(lo) and lo == 0:
        # float64 enclosures: the cast test (its 2^-52 |v| widening costs nothing at this
        # accuracy); double-double ones keep their precision through the exact margins below
        return _certify_by_cast(hi, cast("np.ndarray | float", lo), rad, fmt)
    rad = np.broadcast_to(np.asarray(rad, dtype=np.float64), hi.shape)
    mid, margin = round_dd_margin(hi, lo, fmt)
    # NaN or infinite radii and NaN margins compare false: never certified
    with np.errstate(invalid="ignore"):
        ok = (rad * (1.0 + 2.0**-50) < margin) | ((rad == 0) & ~np.isnan(hi))
    return ok, mid


def _certify_by_cast(
    hi: np.ndarray, lo: np.ndarray | float, rad: np.ndarray | float, fmt: Format
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`certify` for float32 and float16: round both ends of the enclosure with NumPy's
    correctly rounding conversion and compare.  The ends are formed in float64, so the radius
    is first widened by ``2^-52 |v|`` (more than the rounding error of forming them) and by the
    low word's residual; rounding is monotonic, so equal rounded ends prove the whole
    enclosure rounds alike.  Exact values (radius 0) round directly, ties included."""
    with np.errstate(over="ignore", invalid="ignore"):
        # forming v -+ w rounds by at most u |v -+ w| <= u (|v| + w): widening to
        # w = (r + 2u |v|)(1 + 4u) keeps the true ends inside the computed ones
        if np.isscalar(lo) and lo == 0:
            v = hi
            w = (rad + np.abs(hi) * 2.0**-52) * (1 + 2.0**-51)
        else:
            lo = np.asarray(lo, dtype=np.float64)
            v = hi + lo
            w = (rad + np.abs((hi - v) + lo) * (1 + 2.0**-50) + np.abs(v) * 2.0**-52) * (
                1 + 2.0**-51
            )
        low = (v - w).astype(fmt.dtype)
        ok = low == (v + w).astype(fmt.dtype)
        mid = low  # where ok, everything in between rounds alike (monotonic rounding)
        exact = np.broadcast_to(np.asarray(rad) == 0, v.shape)
        if np.any(exact):
            # exact values round directly; the low word breaks ties of fl(hi + lo)
            lo_e = 0.0 if np.isscalar(lo) else np.broadcast_to(lo, v.shape)[exact]
            mid = mid.copy()
            mid[exact] = round_dd(hi[exact], lo_e, fmt).astype(fmt.dtype)
            ok = ok | (exact & ~np.isnan(v))
    return ok, mid.astype(np.float64)


def round_rational(q: Fraction | int, fmt: Format) -> float:
    """Round an exact rational into ``fmt`` (round-half-even, subnormals, overflow)."""
    q = Fraction(q)
    if q == 0:
        return 0.0
    sign = -1.0 if q < 0 else 1.0
    q = abs(q)
    num, den = q.numerator, q.denominator
    # e = floor(log2 q)
    e = num.bit_length() - den.bit_length()
    if (num << max(0, -e)) < (den << max(0, e)):
        e -= 1
    qexp = max(e, fmt.emin) - (fmt.precision - 1)
    # n = q / 2^qexp, rounded half-even
    if qexp >= 0:
        scaled_num, scaled_den = num, den << qexp
    else:
        scaled_num, scaled_den = num << (-qexp), den
    n, rem = divmod(scaled_num, scaled_den)
    twice = 2 * rem
    if twice > scaled_den or (twice == scaled_den and n % 2 == 1):
        n += 1
    if n == 0:
        return math.copysign(0.0, sign)
    if qexp + n.bit_length() - 1 > fmt.emax:
        return sign * math.inf
    return sign * math.ldexp(float(n), qexp)


def to_dtype(values: np.ndarray, fmt: Format) -> np.ndarray:
    """Convert float64 values that are exactly representable in ``fmt`` into its dtype (exact:
    no second rounding happens because nothing is left to round)."""
    return np.asarray(values, dtype=np.float64).astype(fmt.dtype)
