r"""The exact tier: rationals where the value is rational, decimal intervals elsewhere.

A :class:`XVal` is either an exact rational (:class:`fractions.Fraction`) or a closed interval
``[lo, hi]`` of :class:`decimal.Decimal` numbers that is known to contain the exact value.
Arithmetic on two rationals stays exact; arithmetic that involves an interval rounds the lower
end toward -inf and the upper end toward +inf (``decimal`` rounds ``+ - * /`` correctly in any
rounding mode).  ``exp`` and ``ln`` are correctly rounded by ``decimal`` only in
ROUND_HALF_EVEN mode, so their results are widened by one unit in the last place on each side.
Exact cases are recognised before any transcendental is taken: ``exp(0) = 1``, ``ln(1) = 0``.

:func:`ziv` evaluates a function at rising precision until the interval rounds to one value of
the output format (Ziv, "Fast evaluation of elementary mathematical functions with correctly
rounded last bit", ACM TOMS 17(3), 1991).  A value that is exactly a rounding boundary can
only be produced by an exact (rational) computation, which rounds directly, so the loop ends;
reaching the precision cap raises instead of returning an unproven value.

``log1p`` has no decimal counterpart; for small arguments it uses the alternating series
:math:`t - t^2/2 + t^3/3 - \dots` whose truncation error is bounded by the first omitted term.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import cast

from reference.formats import Format
from reference.rounding import round_rational

PRECISIONS = (40, 80, 160, 320, 640, 1280, 2560)


class CertificationError(ArithmeticError):
    """The exact tier could not decide the correctly rounded value (never silently returned)."""


def _ctx(rounding: str) -> decimal.Context:
    prec = decimal.getcontext().prec
    return decimal.Context(prec=prec, rounding=rounding, Emax=10**9, Emin=-(10**9))


def _dec_bounds(q: Fraction) -> tuple[Decimal, Decimal]:
    lo = _ctx(decimal.ROUND_FLOOR).divide(Decimal(q.numerator), Decimal(q.denominator))
    hi = _ctx(decimal.ROUND_CEILING).divide(Decimal(q.numerator), Decimal(q.denominator))
    return lo, hi


def _widen(v: Decimal) -> tuple[Decimal, Decimal]:
    """Outward by one unit in the last place (plus one for safety) of the current precision."""
    if v == 0:
        tiny = Decimal(1).scaleb(-decimal.getcontext().prec * 4)
        return -tiny, tiny
    ulp = Decimal(1).scaleb(v.adjusted() - decimal.getcontext().prec + 2)
    return _ctx(decimal.ROUND_FLOOR).subtract(v, ulp), _ctx(decimal.ROUND_CEILING).add(v, ulp)


class XVal:
    """A real number known as ``q + [lo, hi]``: an exact rational part ``q`` plus a decimal
    interval (absent when the number is exactly ``q``).

    Keeping the rational part exact matters at rounding boundaries: an exact midpoint plus a
    strictly positive tiny term must round away from the tie, which a decimal sum at any
    fixed precision would lose; :func:`round_xval` adds the parts as exact rationals."""

    __slots__ = ("hi", "hi_open", "lo", "lo_open", "q")

    def __init__(
        self,
        q: Fraction | None = None,
        lo: Decimal | None = None,
        hi: Decimal | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
    ) -> None:
        self.q = Fraction(0) if q is None else q
        self.lo = lo
        self.hi = hi
        #: the true value is strictly above ``q + lo`` (strictly below ``q + hi``): set where a
        #: positive term is too small for any decimal (e^-1e37), so that an exact rounding
        #: tie plus that term still rounds the right way; kept by increasing maps and by
        #: scaling with exact constants, dropped (conservatively) elsewhere
        self.lo_open = lo_open and lo is not None
        self.hi_open = hi_open and hi is not None

    # construction ---------------------------------------------------------------------
    @classmethod
    def of(cls, v: XVal | Fraction | int | float) -> XVal:
        if isinstance(v, XVal):
            return v
        return cls(q=Fraction(v))

    @classmethod
    def interval(
        cls, lo: Decimal, hi: Decimal, lo_open: bool = False, hi_open: bool = False
    ) -> XVal:
        return cls(lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)

    @property
    def exact(self) -> bool:
        return self.lo is None

    def _iv(self) -> tuple[Decimal, Decimal]:
        if self.lo is None:
            return Decimal(0), Decimal(0)
        return self.lo, self.hi  # type: ignore[return-value]

    def bounds(self) -> tuple[Decimal, Decimal]:
        """Decimal bounds of the whole value (outward rounded)."""
        qlo, qhi = _dec_bounds(self.q)
        if self.lo is None:
            return qlo, qhi
        return (
            _ctx(decimal.ROUND_FLOOR).add(qlo, self.lo),
            _ctx(decimal.ROUND_CEILING).add(qhi, cast(Decimal, self.hi)),
        )

    @staticmethod
    def _mul_iv(a: tuple[Decimal, Decimal], b: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
        down, up = _ctx(decimal.ROUND_FLOOR), _ctx(decimal.ROUND_CEILING)
        lo = min(down.multiply(x, y) for x in a for y in b)
        hi = max(up.multiply(x, y) for x in a for y in b)
        return lo, hi

    # arithmetic -----------------------------------------------------------------------
    def __neg__(self) -> XVal:
        if self.lo is None:
            return XVal(q=-self.q)
        return XVal(
            q=-self.q,
            lo=-cast(Decimal, self.hi),
            hi=-self.lo,
            lo_open=self.hi_open,
            hi_open=self.lo_open,
        )

    def __add__(self, other: object) -> XVal:
        o = XVal.of(other)  # type: ignore[arg-type]
        q = self.q + o.q
        if self.lo is None and o.lo is None:
            return XVal(q=q)
        alo, ahi = self._iv()
        blo, bhi = o._iv()
        return XVal(
            q=q,
            lo=_ctx(decimal.ROUND_FLOOR).add(alo, blo),
            hi=_ctx(decimal.ROUND_CEILING).add(ahi, bhi),
            lo_open=self.lo_open or o.lo_open,
            hi_open=self.hi_open or o.hi_open,
        )

    __radd__ = __add__

    def __sub__(self, other: object) -> XVal:
        return self + (-XVal.of(other))  # type: ignore[arg-type]

    def __rsub__(self, other: object) -> XVal:
        return XVal.of(other) + (-self)  # type: ignore[arg-type]

    def __mul__(self, other: object) -> XVal:
        o = XVal.of(other)  # type: ignore[arg-type]
        if self.lo is None and o.lo is None:
            return XVal(q=self.q * o.q)
        if (self.lo is None and self.q == 0) or (o.lo is None and o.q == 0):
            return XVal(q=Fraction(0))
        # (q1 + I1)(q2 + I2) = q1 q2 + q1 I2 + q2 I1 + I1 I2: the first term stays exact
        parts = []  # (lo, hi, lo_open, hi_open)
        if o.lo is not None and self.q != 0:
            plo, phi = self._mul_iv(_dec_bounds(self.q), o._iv())
            flags = (o.lo_open, o.hi_open) if self.q > 0 else (o.hi_open, o.lo_open)
            parts.append((plo, phi, *flags))
        if self.lo is not None and o.q != 0:
            plo, phi = self._mul_iv(_dec_bounds(o.q), self._iv())
            flags = (self.lo_open, self.hi_open) if o.q > 0 else (self.hi_open, self.lo_open)
            parts.append((plo, phi, *flags))
        if self.lo is not None and o.lo is not None:
            parts.append((*self._mul_iv(self._iv(), o._iv()), False, False))
        down, up = _ctx(decimal.ROUND_FLOOR), _ctx(decimal.ROUND_CEILING)
        lo, hi, lopen, hopen = Decimal(0), Decimal(0), False, False
        for plo, phi, po, ph in parts:
            lo, hi = down.add(lo, plo), up.add(hi, phi)
            lopen, hopen = lopen or po, hopen or ph
        return XVal(q=self.q * o.q, lo=lo, hi=hi, lo_open=lopen, hi_open=hopen)

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> XVal:
        o = XVal.of(other)  # type: ignore[arg-type]
        if self.lo is None and o.lo is None:
            return XVal(q=self.q / o.q)
        if self.lo is None and self.q == 0:
            return XVal(q=Fraction(0))
        if o.lo is None:  # (q + I) / c = q/c + I/c
            c = _dec_bounds(1 / o.q)
            if self.lo is None:
                return XVal(q=self.q / o.q)
            ilo, ihi = self._mul_iv(self._iv(), c)
            flags = (self.lo_open, self.hi_open) if o.q > 0 else (self.hi_open, self.lo_open)
            return XVal(q=self.q / o.q, lo=ilo, hi=ihi, lo_open=flags[0], hi_open=flags[1])
        blo, bhi = o.bounds()
        if blo <= 0 <= bhi:
            raise CertificationError("division by an interval containing zero")
        alo, ahi = self.bounds()
        down, up = _ctx(decimal.ROUND_FLOOR), _ctx(decimal.ROUND_CEILING)
        if alo >= 0 and blo > 0:  # both non-negative: monotone, strict ends carry over
            return XVal(
                lo=down.divide(alo, bhi),
                hi=up.divide(ahi, blo),
                lo_open=self.lo_open or o.hi_open,
                hi_open=self.hi_open or o.lo_open,
            )
        cands_lo = [down.divide(x, y) for x in (alo, ahi) for y in (blo, bhi)]
        cands_hi = [up.divide(x, y) for x in (alo, ahi) for y in (blo, bhi)]
        return XVal(lo=min(cands_lo), hi=max(cands_hi))

    def __rtruediv__(self, other: object) -> XVal:
        return XVal.of(other) / self  # type: ignore[arg-type]

    # transcendentals ------------------------------------------------------------------
    def exp(self) -> XVal:
        if self.lo is None and self.q == 0:
            return XVal(q=Fraction(1))
        lo, hi = self.bounds()
        ctx = _ctx(decimal.ROUND_HALF_EVEN)
        elo = _widen(ctx.exp(lo))[0]
        lo_open = self.lo_open
        if elo <= 0:  # underflowed: e^x is still strictly positive
            elo, lo_open = Decimal(0), True
        return XVal(lo=elo, hi=_widen(ctx.exp(hi))[1], lo_open=lo_open, hi_open=self.hi_open)

    def log(self) -> XVal:
        if self.lo is None and self.q == 1:
            return XVal(q=Fraction(0))
        lo, hi = self.bounds()
        if lo <= 0:
            raise CertificationError("log of an interval reaching zero")
        ctx = _ctx(decimal.ROUND_HALF_EVEN)
        return XVal(
            lo=_widen(ctx.ln(lo))[0],
            hi=_widen(ctx.ln(hi))[1],
            lo_open=self.lo_open,
            hi_open=self.hi_open,
        )

    def log1p(self) -> XVal:
        """log(1 + t) for t > -1, accurate in relative terms for tiny |t| of either sign (the
        series below 1e-6), exactly 0 at 0."""
        if self.lo is None and self.q == 0:
            return XVal(q=Fraction(0))
        lo, hi = self.bounds()
        prec = decimal.getcontext().prec
        small = Decimal(1).scaleb(-6)
        if abs(lo) < small and abs(hi) < small:
            return XVal(
                lo=_log1p_series(lo, prec)[0],
                hi=_log1p_series(hi, prec)[1],
                lo_open=self.lo_open,
                hi_open=self.hi_open,
            )
        return (XVal.of(1) + self).log()

    def __repr__(self) -> str:
        if self.lo is None:
            return f"XVal({self.q})"
        return f"XVal({self.q} + [{self.lo}, {self.hi}])"


def _log1p_series(t: Decimal, prec: int) -> tuple[Decimal, Decimal]:
    """Enclosure of log(1 + t) for |t| < 1e-6 by the power series.  For t > 0 the series
    alternates; for t < 0 every term is negative and the tail after the term in t^k is at most
    |t|^(k+1)/(k+1) / (1 - |t|); both are covered by twice the first omitted term."""
    if t == 0:
        return Decimal(0), Decimal(0)
    ctx = decimal.Context(prec=prec + 10, Emax=10**9, Emin=-(10**9))
    total = Decimal(0)
    power = t
    k = 1
    eps = Decimal(1).scaleb(-(prec + 5))
    while True:
        term = ctx.divide(power, k)
        total = ctx.add(total, term if k % 2 else -term)
        k += 1
        power = ctx.multiply(power, t)
        nxt = abs(ctx.divide(power, k))
        if nxt < abs(total) * eps:
            break
    # error: the omitted tail (<= 2 nxt) plus rounding of ~k operations at prec+10 digits
    err = 2 * nxt + abs(total) * Decimal(1).scaleb(-(prec + 8)) * k
    return _ctx(decimal.ROUND_FLOOR).subtract(total, err), _ctx(decimal.ROUND_CEILING).add(
        total, err
    )


#: far below half the smallest spacing of any format (2^-1075): stepping an open end this much
#: inward crosses no rounding boundary other than the end itself
_INWARD = Fraction(1, 2**1200)

_HUGE = Decimal("1E4000")
_TINY = Decimal("1E-4000")


def _end_fraction(q: Fraction, d: Decimal, fmt: Format) -> Fraction:
    """``d`` as an exact rational, except where its exponent is extreme (an exponential that
    under- or overflowed every decimal range): materialising 10^(10^9) would take forever, and
    a stand-in rounds the same.  Above 1e4000 the sum rounds to an infinity whatever the
    magnitude, so 1e400 stands in; below 1e-4000, +-1e-4000 stands in when ``q`` is exactly a
    rounding boundary (only the side matters) or at least 1e-4000 from every boundary."""
    if d == 0 or _TINY <= abs(d) <= _HUGE:
        return Fraction(d)
    sign = 1 if d > 0 else -1
    if abs(d) > _HUGE:
        return Fraction(sign * 10**400)
    tiny = Fraction(1, 10**4000)
    gap = _boundary_gap(q, fmt)
    if gap == 0 or gap > tiny:
        return sign * tiny
    return Fraction(d)  # pathological: q within 1e-4000 of a boundary; convert exactly


def _boundary_gap(q: Fraction, fmt: Format) -> Fraction:
    """A lower bound on the distance from ``q`` to the nearest rounding boundary of ``fmt``,
    or 0.  The candidates ``r - quantum/2``, ``r - quantum/4``, ``r + quantum/2`` and
    ``r + quantum`` around the rounded value ``r`` include every boundary next to it (the
    quarter and the whole quantum cover the binade changes), so the smallest distance to them
    never exceeds the true one; 0 means ``q`` is a boundary or a candidate at least a quarter
    quantum from the real ones."""
    if abs(q) >= Fraction(2) ** (fmt.emax + 1):
        return Fraction(1)  # beyond the overflow threshold
    r = Fraction(round_rational(q, fmt))
    a = abs(r)
    e = a.numerator.bit_length() - a.denominator.bit_length() if a else fmt.emin
    if a and Fraction(2) ** e > a:
        e -= 1
    quantum = Fraction(2) ** (max(e, fmt.emin) - fmt.precision + 1)
    cands = (
        r - quantum,
        r - quantum / 2,
        r - quantum / 4,
        r + quantum / 4,
        r + quantum / 2,
        r + quantum,
    )
    return min(abs(q - c) for c in cands)


def round_xval(v: XVal, fmt: Format) -> float | None:
    """The correctly rounded value of ``v`` in ``fmt``, or None when its enclosure straddles a
    rounding boundary.  The ends ``q + lo`` and ``q + hi`` are formed as exact rationals; an
    open end lying exactly on a boundary is resolved by stepping just inside it."""
    if v.lo is None:
        return round_rational(v.q, fmt)
    lo = v.q + _end_fraction(v.q, v.lo, fmt)
    hi = v.q + _end_fraction(v.q, cast(Decimal, v.hi), fmt)
    # an open end steps inward by less than any spacing and less than the interval's width
    step = min(_INWARD, (hi - lo) / 4)
    if v.lo_open:
        lo += step
    if v.hi_open:
        hi -= step
    a = round_rational(lo, fmt)
    b = round_rational(hi, fmt)
    if a == b:
        return a
    return None


def _width(v: XVal) -> Decimal:
    """Width of the interval part (0 when exact)."""
    if v.lo is None:
        return Decimal(0)
    return v.hi - v.lo  # type: ignore[operator]


def ziv(fn: Callable[[], XVal | float], fmt: Format, what: str = "value") -> float:
    """Evaluate ``fn`` (which builds its result from :class:`XVal` operations) at rising
    decimal precision until its enclosure rounds to one value of ``fmt``."""
    prev_width: Decimal | None = None
    for prec in PRECISIONS:
        with decimal.localcontext() as ctx:
            ctx.prec = prec
            ctx.Emax = 10**9
            ctx.Emin = -(10**9)
            v = fn()
            if isinstance(v, float):  # an infinity or NaN decided by the formula itself
                return v
            r = round_xval(v, fmt)
            width = _width(v)
        if r is not None:
            return r
        # more digits that no longer narrow the enclosure cannot decide it (an underflowed or
        # otherwise saturated term): stop instead of climbing to thousands of digits
        if prev_width is not None and prec >= 160 and width > 0 and width >= prev_width / 2:
            break
        prev_width = width
    raise CertificationError(
        f"could not certify the correctly rounded {what} in {fmt.name} at "
        f"{PRECISIONS[-1]} digits (an exact case the reference does not recognise)"
    )
