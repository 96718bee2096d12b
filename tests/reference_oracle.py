r"""An independent, slow oracle for testing the reference (tests only).

It shares no computation with ``reference``: the values are built straight from the defining
formulas with :mod:`fractions` (exact rationals) and :mod:`decimal` (high-precision
approximations with a rigorous error radius), and rounded with its own rounding routine.  Only
the calling convention (argument names, order and defaults) is the reference's: each oracle
function is declared :func:`called_like` its reference function and reads the caller's
arguments bound to that signature, so the two cannot drift apart.

Numbers are :class:`Real`: ``q + a +- e`` with ``q`` an exact :class:`~fractions.Fraction`,
``a`` a :class:`~decimal.Decimal` approximation and ``e`` an upper bound on the error (a
"midpoint-radius" enclosure, Rump, BIT 39(3), 1999, split into an exact and an approximate
part).  Keeping the rational part exact matters: a logsumexp :math:`m + \log(1 + T)` whose
exact part ``m`` is a rounding midpoint is decided by the sign of the tiny transcendental part,
which a plain decimal sum would lose.  Results that are exact rationals (``exp(0) = 1``,
``log 1 = 0``, products with an exact zero) stay exact and are rounded exactly, ties included.

:func:`decide` evaluates a builder at 50, 100, 200, ... decimal digits until the enclosure
lies inside one rounding interval of the output format (Ziv's strategy, ACM TOMS 17(3), 1991);
it raises :class:`Undecided` rather than guess.  The sign of a zero result is not decided
(an exact zero and a negative real below half the smallest subnormal both give a zero).

The row semantics (special values, weights, label smoothing, reductions) follow the project's
contract and PyTorch's documentation of ``torch.nn.functional.cross_entropy`` and ``nll_loss``
(https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html).
"""

from __future__ import annotations

import dataclasses
import decimal
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import ml_dtypes
import numpy as np

import reference

# name -> (significand bits p, emin, emax): IEEE 754-2019 Table 3.5, bfloat16 as in ml_dtypes
FORMAT_PARAMS: dict[str, tuple[int, int, int]] = {
    "float16": (11, -14, 15),
    "bfloat16": (8, -126, 127),
    "float32": (24, -126, 127),
    "float64": (53, -1022, 1023),
}
DTYPES: dict[str, Any] = {
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
}
PRECISIONS = (50, 100, 200, 400, 800, 1600)


#: the caller's arguments by name, bound to a reference function's signature (defaults applied)
Args = SimpleNamespace


def called_like(
    ref: Callable[..., Any],
) -> Callable[[Callable[[Args], np.ndarray]], Callable[..., np.ndarray]]:
    """Give an oracle function ``ref``'s calling convention: a call binds its arguments to
    ``ref``'s signature (names, order and defaults: defined once, in the reference), and the
    oracle function receives them as one :data:`Args`.  The result reports ``ref``'s signature."""
    sig = inspect.signature(ref)

    def wrap(oracle: Callable[[Args], np.ndarray]) -> Callable[..., np.ndarray]:
        @functools.wraps(oracle)
        def call(*args: Any, **kwargs: Any) -> np.ndarray:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            return oracle(Args(**bound.arguments))

        call.__signature__ = sig  # type: ignore[attr-defined]
        return call

    return wrap


class Undecided(ArithmeticError):
    """The oracle could not decide the rounded value at its highest precision."""


class _Imprecise(ArithmeticError):
    """An enclosure too wide for the operation at the current precision (retry higher)."""


# ---------------------------------------------------------------------------- rounding
def round_fraction(v: Fraction, fmt: str) -> float:
    """Round an exact rational to ``fmt``, ties to even, with gradual underflow and overflow
    to infinity (IEEE 754-2019 §4.3.1, §7.4).  Returned as a float64 holding the value."""
    p, emin, emax = FORMAT_PARAMS[fmt]
    if v == 0:
        return 0.0
    neg = v < 0
    a = -v if neg else v
    # exponent e with 2^e <= a < 2^(e+1), by bisection-free comparison
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    quantum = Fraction(2) ** (max(e, emin) - p + 1)
    n = round(a / quantum)  # Fraction.__round__ rounds half to even
    r = n * quantum
    if r >= Fraction(2) ** (emax + 1):
        res = math.inf
    else:
        res = float(r)  # exact: r has at most p significant bits and is in float64's range
    if n == 0:
        res = 0.0
    return -res if neg else res


# --------------------------------------------------------------------- decimal helpers
def _u() -> Decimal:
    """A bound on the relative error of one correctly rounded decimal operation."""
    return Decimal(1).scaleb(1 - decimal.getcontext().prec)


_UP = decimal.Context(
    prec=30, rounding=decimal.ROUND_CEILING, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
)
_DOWN = decimal.Context(
    prec=30, rounding=decimal.ROUND_FLOOR, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
)


def _up_sum(*terms: Decimal) -> Decimal:
    s = Decimal(0)
    for t in terms:
        s = _UP.add(s, t)
    return s


def _up_mul(*factors: Decimal) -> Decimal:
    s = Decimal(1)
    for f in factors:
        s = _UP.multiply(s, f)
    return s


def _dec(q: Fraction) -> Decimal:
    """q rounded to the current precision (error at most u |q|)."""
    return decimal.getcontext().divide(Decimal(q.numerator), Decimal(q.denominator))


_ZERO = Decimal(0)


class Real:
    """The enclosure ``[q + a - e, q + a + e]``."""

    __slots__ = ("a", "e", "q")

    def __init__(self, q: Fraction, a: Decimal = _ZERO, e: Decimal = _ZERO) -> None:
        self.q = q
        self.a = a
        self.e = e

    @staticmethod
    def of(v: Real | Fraction | int | float) -> Real:
        if isinstance(v, Real):
            return v
        return Real(Fraction(v))

    @property
    def exact(self) -> bool:
        return self.a == 0 and self.e == 0

    def _mid(self) -> tuple[Decimal, Decimal]:
        """(a decimal approximation of q + a, its error bound including e)."""
        ctx = decimal.getcontext()
        if self.q == 0:
            return self.a, self.e
        m = ctx.add(_dec(self.q), self.a)
        u = _u()
        err = _up_sum(self.e, _up_mul(u, abs(_dec(self.q))), _up_mul(u, abs(m)), _up_mul(u, u))
        return m, err

    def __neg__(self) -> Real:
        return Real(-self.q, -self.a, self.e)

    def __add__(self, other: Real | Fraction | int) -> Real:
        o = Real.of(other)
        a = decimal.getcontext().add(self.a, o.a)
        e = _up_sum(self.e, o.e, _up_mul(_u(), abs(a)))
        return Real(self.q + o.q, a, e)

    __radd__ = __add__

    def __sub__(self, other: Real | Fraction | int) -> Real:
        return self + (-Real.of(other))

    def __rsub__(self, other: Real | Fraction | int) -> Real:
        return Real.of(other) + (-self)

    def __mul__(self, other: Real | Fraction | int) -> Real:
        o = Real.of(other)
        if (self.exact and self.q == 0) or (o.exact and o.q == 0):
            return Real(Fraction(0))
        if self.exact and o.exact:
            return Real(self.q * o.q)
        ctx = decimal.getcontext()
        u = _u()
        q1, q2 = _dec(self.q), _dec(o.q)
        t1 = ctx.multiply(q1, o.a)
        t2 = ctx.multiply(self.a, q2)
        t3 = ctx.multiply(self.a, o.a)
        a = ctx.add(ctx.add(t1, t2), t3)
        # rounding: conversions (u each), three products, two sums
        absterms = _up_sum(abs(t1), abs(t2), abs(t3))
        rnd = _up_sum(_up_mul(Decimal(6), u, absterms), _up_mul(u, abs(a)))
        # propagation: |XY - X'Y'| <= |X'| e2 + |Y'| e1 + e1 e2
        x_abs = _up_sum(abs(_dec(self.q)), abs(self.a), _up_mul(u, abs(q1)))
        y_abs = _up_sum(abs(_dec(o.q)), abs(o.a), _up_mul(u, abs(q2)))
        prop = _up_sum(_up_mul(x_abs, o.e), _up_mul(y_abs, self.e), _up_mul(self.e, o.e))
        return Real(self.q * o.q, a, _up_sum(rnd, prop))

    __rmul__ = __mul__

    def __truediv__(self, other: Real | Fraction | int) -> Real:
        o = Real.of(other)
        ctx = decimal.getcontext()
        u = _u()
        if o.exact:
            if o.q == 0:
                raise ZeroDivisionError("oracle: division by an exact zero")
            if self.exact:
                return Real(self.q / o.q)
            d = _dec(o.q)
            a = ctx.divide(self.a, d)
            lower = _DOWN.multiply(abs(d), _DOWN.subtract(Decimal(1), u))
            e = _up_sum(_UP.divide(self.e, lower), _up_mul(Decimal(3), u, abs(a)))
            return Real(self.q / o.q, a, e)
        x, ex = self._mid()
        y, ey = o._mid()
        gap = _DOWN.subtract(abs(y), ey)
        if gap <= 0:
            raise _Imprecise("divisor enclosure reaches zero")
        a = ctx.divide(x, y)
        e = _up_sum(_UP.divide(_up_sum(ex, _up_mul(abs(a), ey)), gap), _up_mul(u, abs(a)))
        return Real(Fraction(0), a, e)

    def exp(self) -> Real:
        if self.exact and self.q == 0:
            return Real(Fraction(1))
        x, ex = self._mid()
        top = _UP.add(x, ex)
        if top < -(10**6):
            # exp(t) = 10^(t log10 e) <= 10^(0.43 t) for t < 0: enclose in [-E, E]
            k = max(math.ceil(float(_UP.multiply(top, Decimal("0.43")))), -(10**17))
            return Real(Fraction(0), _ZERO, Decimal(1).scaleb(k))
        if ex > 1:
            raise _Imprecise("exp argument too wide")
        v = decimal.getcontext().exp(x)  # correctly rounded by libmpdec
        grow = _UP.subtract(_UP.exp(ex), Decimal(1))  # e^ex - 1 bounds the relative spread
        e = _up_sum(_up_mul(abs(v), _up_sum(Decimal(1), _u()), grow), _up_mul(_u(), abs(v)))
        return Real(Fraction(0), v, e)

    def log(self) -> Real:
        if self.exact and self.q == 1:
            return Real(Fraction(0))
        x, ex = self._mid()
        low = _DOWN.subtract(x, ex)
        if low <= 0:
            raise _Imprecise("log argument reaches zero")
        v = decimal.getcontext().ln(x)
        e = _up_sum(_UP.divide(ex, low), _up_mul(_u(), abs(v)))
        return Real(Fraction(0), v, e)

    def log1p(self) -> Real:
        """log(1 + t): a Taylor series for tiny t (no cancellation), else log of 1 + t."""
        if self.exact and self.q == 0:
            return Real(Fraction(0))
        t, et = self._mid()
        tiny = Decimal(1).scaleb(-8)
        if _UP.add(abs(t), et) >= tiny:
            return (Real(Fraction(1)) + self).log()
        ctx = decimal.getcontext()
        u = _u()
        total = _ZERO
        power = t
        k = 1
        abs_sum = _ZERO
        while True:
            term = ctx.divide(power, k)
            total = ctx.add(total, term if k % 2 else -term)
            abs_sum = _UP.add(abs_sum, abs(term))
            k += 1
            power = ctx.multiply(power, t)
            if abs(power) <= _up_mul(u, abs(t), Decimal("1e-5")) or power == 0:
                break
        one_minus = _DOWN.subtract(Decimal(1), _UP.add(abs(t), et))
        # tail sum_{j>=k} |t|^j / j <= |t|^k / (1 - |t|); rounding <= 4 k u sum|terms|;
        # propagation |log1p(t) - log1p(t')| <= et / (1 - max|t|)
        tail = _UP.divide(abs(power), one_minus)
        rnd = _up_mul(Decimal(4 * k), u, abs_sum)
        prop = _UP.divide(et, one_minus)
        return Real(Fraction(0), total, _up_sum(tail, rnd, prop))


# ---------------------------------------------------------------------- deciding a value
_FLOOR_EXP = -5000


def _clamp(t: Decimal) -> Decimal:
    """Map tiny magnitudes (0 < |t| < 10^-5000) to +-10^-5000: monotone, and it changes no
    rounding of q + t for the rationals q arising here (their distance to a rounding boundary,
    when nonzero, exceeds 10^-5000), while keeping Fraction conversions small."""
    if t != 0 and t.adjusted() < _FLOOR_EXP:
        return Decimal(1).scaleb(_FLOOR_EXP).copy_sign(t)
    return t


def round_real(r: Real, fmt: str) -> float | None:
    """The rounded value of every point of ``r``, or None when they differ (+0 and -0 are
    considered equal)."""
    if r.exact:
        return round_fraction(r.q, fmt)
    # a +- e rounded outwards at the working precision: the 30 digits of _DOWN and _UP would
    # blur a result that q and a nearly cancel (q = -1/4, a = 1/4 + 1.25e-21)
    down, up = decimal.getcontext().copy(), decimal.getcontext().copy()
    down.rounding, up.rounding = decimal.ROUND_FLOOR, decimal.ROUND_CEILING
    lo = _clamp(down.subtract(r.a, r.e) if r.e else r.a)
    hi = _clamp(up.add(r.a, r.e) if r.e else r.a)
    lo_f = round_fraction(r.q + Fraction(lo), fmt)
    hi_f = round_fraction(r.q + Fraction(hi), fmt)
    if lo_f == hi_f:
        return hi_f if hi_f != 0 else 0.0
    return None


def decide(build: Callable[[], Real], fmt: str) -> float:
    """Evaluate ``build`` at rising precision until its enclosure rounds to one value."""
    for prec in PRECISIONS:
        with decimal.localcontext() as ctx:
            ctx.prec = prec
            ctx.rounding = decimal.ROUND_HALF_EVEN
            ctx.Emax = decimal.MAX_EMAX
            ctx.Emin = decimal.MIN_EMIN
            try:
                v = round_real(build(), fmt)
            except _Imprecise:
                continue
        if v is not None:
            return v
    raise Undecided(f"oracle could not decide a {fmt} value at {PRECISIONS[-1]} digits")


# --------------------------------------------------------------------------- row maths
def _fr(v: float) -> Fraction:
    return Fraction(float(v))


class Row:
    """Log-sum-exp statistics of one regular row (finite maximum, no NaN, no +inf):
    d_i = x_i - m exactly, c maxima, T = sum of e^{d_i} over the others, S = c + T."""

    def __init__(self, x: Sequence[float]) -> None:
        finite = [v for v in x if v != -math.inf]
        self.m = _fr(max(finite))
        self.d: list[Fraction | None] = [None if v == -math.inf else _fr(v) - self.m for v in x]
        self.c = sum(1 for di in self.d if di == 0)

    # each accessor recomputes at the caller's precision
    def e(self, i: int) -> Real:
        di = self.d[i]
        return Real(Fraction(0)) if di is None else Real(di).exp()

    def T(self) -> Real:
        total = Real(Fraction(0))
        for di in self.d:
            if di is not None and di != 0:
                total = total + Real(di).exp()
        return total

    def S(self) -> Real:
        return self.T() + self.c

    def log_S(self) -> Real:
        return self.T().log1p() if self.c == 1 else self.S().log()

    def softmax(self, i: int) -> Real:
        return self.e(i) / self.S()

    def one_minus_softmax_at_max(self) -> Real:
        """1 - y_i = T / S for the unique maximum (no cancellation)."""
        return self.T() / self.S()


def _classify(x: np.ndarray) -> str:
    if np.any(np.isnan(x)) or np.sum(np.isposinf(x)) >= 2:
        return "nan"
    if np.sum(np.isposinf(x)) == 1:
        return "posinf"
    if x.size == 0 or np.all(np.isneginf(x)):
        return "allneg"
    return "regular"


def _as64(x: Any) -> tuple[np.ndarray, str]:
    a = np.asarray(x)
    name = "bfloat16" if a.dtype == ml_dtypes.bfloat16 else a.dtype.name
    if name not in FORMAT_PARAMS:
        raise TypeError(f"oracle: unsupported dtype {a.dtype}")
    return a.astype(np.float64), name


def _out_name(out_dtype: Any, default: str) -> str:
    if out_dtype is None:
        return default
    dt = np.dtype(out_dtype)
    return "bfloat16" if dt == ml_dtypes.bfloat16 else dt.name


def _rows(a: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...]]:
    moved = np.moveaxis(a, axis, -1)
    return moved.reshape(-1, moved.shape[-1]), moved.shape


def _back(rows: np.ndarray, moved_shape: tuple[int, ...], axis: int) -> np.ndarray:
    return np.moveaxis(rows.reshape(moved_shape), -1, axis)


@dataclasses.dataclass
class _ByRow:
    """``x`` as float64 rows along ``axis``, the output format, and the way back."""

    shape: tuple[int, ...]
    rows: np.ndarray
    moved: tuple[int, ...]
    axis: int
    fmt: str

    def cotangent_rows(self, grad_output: Any) -> np.ndarray:
        """``grad_output`` (ones by default), shaped like ``x``, as rows."""
        return _rows(_cotangent(grad_output, self.shape), self.axis)[0]

    def back(self, out: np.ndarray) -> np.ndarray:
        return _back(out, self.moved, self.axis)

    def each(
        self,
        on_posinf: Callable[[int, np.ndarray], Any] | None,
        element: Callable[[int, Row, int], float],
    ) -> np.ndarray:
        """Row by row, in ``x``'s layout: a row holding +inf gives ``on_posinf(r, row)`` (None:
        NaN), any other row that is not regular NaN, and element ``i`` of a regular row
        ``element(r, Row(row), i)``."""
        out = np.empty(self.rows.shape)
        for r, row in enumerate(self.rows):
            kind = _classify(row)
            if kind == "posinf" and on_posinf is not None:
                out[r] = on_posinf(r, row)
            elif kind != "regular":
                out[r] = math.nan
            else:
                st = Row(row)
                out[r] = [element(r, st, i) for i in range(len(row))]
        return self.back(out)


def _by_row(a: Args) -> _ByRow:
    """``a.x`` by rows along ``a.axis``, in the output format ``a.out_dtype``."""
    x, name = _as64(a.x)
    rows, moved = _rows(x, a.axis)
    return _ByRow(x.shape, rows, moved, a.axis, _out_name(a.out_dtype, name))


# ------------------------------------------------------------------- softmax family
@called_like(reference.logsumexp)
def logsumexp(a: Args) -> np.ndarray:
    """m + log S per row (m the row maximum, S = sum_i e^{x_i - m})."""
    p = _by_row(a)
    rows, fmt, moved = p.rows, p.fmt, p.moved
    out = np.empty(rows.shape[0])
    for r, row in enumerate(rows):
        kind = _classify(row)
        if kind != "regular":
            out[r] = {"nan": math.nan, "posinf": math.inf, "allneg": -math.inf}[kind]
            continue
        st = Row(row)
        out[r] = decide(lambda st=st: st.log_S() + st.m, fmt)
    return out.reshape(moved[:-1])


@called_like(reference.softmax)
def softmax(a: Args) -> np.ndarray:
    """e^{x_i - m} / S; a row with one +inf is one-hot there."""
    p = _by_row(a)
    return p.each(
        lambda r, row: np.where(np.isposinf(row), 1.0, 0.0),
        lambda r, st, i: decide(lambda: st.softmax(i), p.fmt),
    )


@called_like(reference.log_softmax)
def log_softmax(a: Args) -> np.ndarray:
    """(x_i - m) - log S; a row with one +inf is 0 there and -inf elsewhere."""
    p = _by_row(a)

    def element(r: int, st: Row, i: int) -> float:
        di = st.d[i]
        if di is None:
            return -math.inf
        return decide(lambda: Real(di) - st.log_S(), p.fmt)

    return p.each(lambda r, row: np.where(np.isposinf(row), 0.0, -math.inf), element)


def _cotangent(grad_output: Any, shape: tuple[int, ...]) -> np.ndarray:
    if grad_output is None:
        return np.ones(shape)
    g = _as64(grad_output)[0]
    assert g.shape == shape, (g.shape, shape)
    return g


@called_like(reference.logsumexp_grad)
def logsumexp_grad(a: Args) -> np.ndarray:
    """g * softmax(x); rows whose logsumexp is +inf or NaN give NaN."""
    p = _by_row(a)
    g = _cotangent(a.grad_output, p.moved[:-1]).reshape(-1)
    return p.each(None, lambda r, st, i: decide(lambda: st.softmax(i) * _fr(g[r]), p.fmt))


@called_like(reference.softmax_grad)
def softmax_grad(a: Args) -> np.ndarray:
    r"""y_i (g_i - \sum_j g_j y_j) = y_i \sum_j (g_i - g_j) y_j; a one-hot row gives 0."""
    p = _by_row(a)
    g = p.cotangent_rows(a.grad_output)

    def element(r: int, st: Row, i: int) -> float:
        # group the coefficients g_i - g_j by equal logits: exact rationals
        groups: dict[Fraction, tuple[int, Fraction]] = {}
        for j, dj in enumerate(st.d):
            if dj is None:
                continue
            first, coef = groups.get(dj, (j, Fraction(0)))
            groups[dj] = (first, coef + _fr(g[r, i]) - _fr(g[r, j]))

        def build() -> Real:
            acc = Real(Fraction(0))
            for first, coef in groups.values():
                if coef:
                    acc = acc + st.e(first) * coef
            S = st.S()
            return st.e(i) * acc / S / S

        return decide(build, p.fmt)

    return p.each(lambda r, row: 0.0, element)


@called_like(reference.log_softmax_grad)
def log_softmax_grad(a: Args) -> np.ndarray:
    r"""g_i - y_i \sum_j g_j; a row with one +inf at k is the limit g_i - [i = k] \sum_j g_j."""
    p = _by_row(a)
    g = p.cotangent_rows(a.grad_output)
    G = [sum((_fr(v) for v in gr), Fraction(0)) for gr in g]

    def limit(r: int, row: np.ndarray) -> list[float]:
        k = int(np.flatnonzero(np.isposinf(row))[0])
        return [
            round_fraction(_fr(g[r, i]) - (G[r] if i == k else 0), p.fmt) for i in range(len(row))
        ]

    def element(r: int, st: Row, i: int) -> float:
        gi = _fr(g[r, i])

        def build() -> Real:
            if st.c == 1 and st.d[i] == 0:
                # g_i - y_i G = g_i (1 - y_i) - y_i (G - g_i), 1 - y_i = T/S
                return st.one_minus_softmax_at_max() * gi - st.softmax(i) * (G[r] - gi)
            return Real(gi) - st.softmax(i) * G[r]

        return decide(build, p.fmt)

    return p.each(limit, element)


# ------------------------------------------------------------------- nll / cross-entropy
class _Loss:
    """Flattened problem: rows (R, C), targets, weights, smoothing, reduction."""

    def __init__(self, args: Args, label_smoothing: float) -> None:
        """The problem of ``nll_loss``'s or ``cross_entropy``'s arguments ``args`` (the former
        smooths nothing: ``label_smoothing`` 0)."""
        input, target, weight = args.input, args.target, args.weight
        ignore_index, reduction, out_dtype = args.ignore_index, args.reduction, args.out_dtype
        a, name = _as64(input)
        self.fmt = _out_name(out_dtype, name)
        self.unbatched = a.ndim == 1
        if self.unbatched:
            a = a[None]
        self.C = a.shape[1]
        moved = np.moveaxis(a, 1, -1)
        self.none_shape = () if self.unbatched else moved.shape[:-1]
        self.x = moved.reshape(-1, self.C)
        self.R = self.x.shape[0]
        t = np.asarray(target)
        self.index = t.dtype.kind in "iu"
        self.w = [Fraction(1)] * self.C if weight is None else [_fr(v) for v in _as64(weight)[0]]
        self.eps = _fr(label_smoothing)
        self.reduction = reduction
        if self.index:
            self.t = t.reshape(-1).astype(np.int64)
            self.ignored = self.t == ignore_index
            self.y = None
        else:
            y = _as64(t)[0]
            if self.unbatched:
                y = y[None]
            self.y = np.moveaxis(y, 1, -1).reshape(-1, self.C)
            self.t = None
            self.ignored = np.zeros(self.R, bool)

    def q(self, r: int) -> list[Fraction]:
        """Effective target weights q_{r,i} (the loss is sum_i q_i (LSE - x_i))."""
        C, eps = self.C, self.eps
        if self.index:
            t = int(self.t[r])
            q = [eps / C * wi for wi in self.w]
            q[t] += (1 - eps) * self.w[t]
            return q
        assert self.y is not None
        return [
            wi * ((1 - eps) * _fr(yi) + eps / C) for wi, yi in zip(self.w, self.y[r], strict=True)
        ]

    def _raw_mass(self, r: int, i: int) -> Fraction:
        """The target mass of class i before the class weight."""
        beta = self.eps / self.C
        if self.index:
            return beta + ((1 - self.eps) if i == int(self.t[r]) else 0)
        assert self.y is not None
        return (1 - self.eps) * _fr(self.y[r, i]) + beta

    def divisor(self) -> Fraction:
        if self.reduction != "mean":
            return Fraction(1)
        if not self.index:
            return Fraction(self.R)
        return sum(
            (self.w[int(t)] for t, ig in zip(self.t, self.ignored, strict=True) if not ig),
            Fraction(0),
        )

    def row_kind(self, r: int) -> tuple[str, float]:
        """('ignored' | 'special' | 'regular', special value)."""
        if self.ignored[r]:
            return "ignored", 0.0
        row = self.x[r]
        kind = _classify(row)
        if kind in ("nan", "allneg"):
            return "special", math.nan
        # classes whose log-softmax is -inf: masked logits, or all but a single +inf
        if kind == "posinf":
            k = int(np.flatnonzero(np.isposinf(row))[0])
            infinite = [i != k for i in range(self.C)]
        else:
            infinite = [bool(v == -math.inf) for v in row]
        q = self.q(r)
        mass = [qi != 0 or (self.w[i] == 0 and self._raw_mass(r, i) != 0) for i, qi in enumerate(q)]
        if any(
            inf and m and self.w[i] == 0
            for i, (inf, m) in enumerate(zip(infinite, mass, strict=True))
        ):
            return "special", math.nan  # weight 0 times an infinite term
        if any(inf and qi > 0 for inf, qi in zip(infinite, q, strict=True)):
            return "special", math.inf
        if kind == "posinf":
            return "special", 0.0  # the limit of L - x_k
        return "regular", 0.0

    def term(self, r: int) -> Callable[[], Real]:
        """Q log S - sum_i q_i d_i (terms with q_i = 0 are 0, the 0 log 0 = 0 rule)."""
        st = Row(self.x[r])
        q = self.q(r)
        Q = sum(q, Fraction(0))
        lin = sum(
            (qi * di for qi, di in zip(q, st.d, strict=True) if qi and di is not None), Fraction(0)
        )
        return lambda: st.log_S() * Q - lin


def _finish(values: list[float], shape: tuple[int, ...], fmt: str) -> np.ndarray:
    return np.array(values, dtype=np.float64).reshape(shape)


def _reduce(
    p: _Loss,
    special_terms: list[float],
    exact_terms: list[Fraction],
    real_terms: list[Callable[[], Real]],
) -> np.ndarray:
    if any(math.isnan(v) for v in special_terms):
        return np.array(math.nan)
    infs = [v for v in special_terms if math.isinf(v)]
    W = p.divisor()
    if p.reduction == "mean" and W == 0:
        return np.array(math.nan)
    if infs:
        return np.array(float(np.sum(infs)))

    def build() -> Real:
        total = Real(sum(exact_terms, Fraction(0)))
        for f in real_terms:
            total = total + f()
        return total / W

    return np.array(decide(build, p.fmt))


@called_like(reference.nll_loss)
def nll_loss(a: Args) -> np.ndarray:
    """-w_t x_t per row (exact rationals), reduced exactly and rounded once."""
    p = _Loss(a, 0.0)
    none, special, exact = [], [], []
    for r in range(p.R):
        if p.ignored[r]:
            none.append(0.0)
            exact.append(Fraction(0))
            continue
        t = int(p.t[r])
        xt = float(p.x[r, t])
        if math.isfinite(xt):
            v = -p.w[t] * _fr(xt)
            exact.append(v)
            none.append(round_fraction(v, p.fmt))
        else:
            v = math.nan if (p.w[t] == 0 or math.isnan(xt)) else -float(p.w[t]) * xt
            special.append(v)
            none.append(v)
    if p.reduction == "none":
        return _finish(none, p.none_shape, p.fmt)
    return _reduce(p, special, exact, [])


@called_like(reference.cross_entropy)
def cross_entropy(a: Args) -> np.ndarray:
    """sum_i q_i (log S - d_i) per row (:meth:`_Loss.term`), special rows by
    :meth:`_Loss.row_kind`, reduced in one sum and rounded once."""
    p = _Loss(a, a.label_smoothing)
    none, special, real = [], [], []
    for r in range(p.R):
        kind, val = p.row_kind(r)
        if kind == "ignored":
            none.append(0.0)
        elif kind == "special":
            none.append(val)
            special.append(val)
        else:
            f = p.term(r)
            real.append(f)
            if p.reduction == "none":
                none.append(decide(f, p.fmt))
    if p.reduction == "none":
        return _finish(none, p.none_shape, p.fmt)
    return _reduce(p, special, [], real)


def _scales(p: _Loss, grad_output: Any) -> list[Fraction | None]:
    """Per-row exact cotangent scale s_n (None where undefined: non-finite cotangent, or a
    mean over zero total weight)."""
    if p.reduction == "none":
        g = np.ones(p.none_shape) if grad_output is None else _as64(grad_output)[0]
        return [_fr(v) if math.isfinite(v) else None for v in np.asarray(g).reshape(-1)]
    g0 = 1.0 if grad_output is None else float(_as64(grad_output)[0])
    if not math.isfinite(g0):
        return [None] * p.R
    W = p.divisor()
    if W == 0:
        return [None] * p.R
    return [_fr(g0) / W] * p.R


def _grad_shape(p: _Loss, rows: np.ndarray) -> np.ndarray:
    if p.unbatched:
        return rows.reshape(p.C)
    return np.moveaxis(rows.reshape((*p.none_shape, p.C)), -1, 1)


@called_like(reference.nll_loss_grad)
def nll_loss_grad(a: Args) -> np.ndarray:
    """-s_n w_t at the target, 0 elsewhere (the map is linear in the input)."""
    p = _Loss(a, 0.0)
    s = _scales(p, a.grad_output)
    out = np.zeros((p.R, p.C))
    for r in range(p.R):
        if p.ignored[r]:
            continue
        t = int(p.t[r])
        sr = s[r]
        out[r, t] = math.nan if sr is None else round_fraction(-p.w[t] * sr, p.fmt)
    return _grad_shape(p, out)


@called_like(reference.cross_entropy_grad)
def cross_entropy_grad(a: Args) -> np.ndarray:
    """s_n (Q y_i - q_i) per row; NaN rows where the term is +inf/NaN or s_n undefined."""
    p = _Loss(a, a.label_smoothing)
    s = _scales(p, a.grad_output)
    out = np.zeros((p.R, p.C))
    for r in range(p.R):
        kind, val = p.row_kind(r)
        if kind == "ignored":
            continue
        if s[r] is None or (kind == "special" and val != 0):
            out[r] = math.nan
            continue
        if kind == "special":  # a one-hot row whose term is 0: the limit gradient is 0
            continue
        st = Row(p.x[r])
        q = p.q(r)
        Q = sum(q, Fraction(0))
        sr = s[r]
        for i in range(p.C):

            def build(
                st: Row = st, i: int = i, qi: Fraction = q[i], Q: Fraction = Q, sr=sr
            ) -> Real:
                if st.c == 1 and st.d[i] == 0:
                    # Q y_i - q_i = (Q - q_i) - Q (1 - y_i), 1 - y_i = T/S
                    v = Real(Q - qi) - st.one_minus_softmax_at_max() * Q
                else:
                    v = st.softmax(i) * Q - qi
                return v * sr

            out[r, i] = decide(build, p.fmt)
    return _grad_shape(p, out)


def as_float64(a: Any) -> np.ndarray:
    """A reference result as float64 (exact for the four formats)."""
    return np.asarray(a).astype(np.float64)
