r"""The tier driver for elementwise losses, and certified reductions of elementwise terms.

Losses such as binary cross-entropy, the sigmoid focal loss and the KL divergence are sums of
terms :math:`\ell_k = f(a_k, b_k, \dots)` of the elements of a few equally shaped (or
broadcast) arrays, with no statistic of a whole row.  Each output is decided by the cheapest
tier that can prove its correctly rounded value:

1. the float64 tier (skipped for a float64 output, which its error bounds cannot decide),
2. the double-double tier for the elements the first left undecided,
3. the exact tier (:class:`~reference.exact.XVal` under Ziv's loop), element by element.

A loss supplies ``vec(idx, dd)``, an :class:`~reference.enclosure.Enc` of the terms at the
flat element indices ``idx``, and ``elem(i)``, the exact term of element ``i`` (which must
return an exact rational wherever the value is rational, so that Ziv's loop ends).

Reductions are rounded once: :func:`reduce_terms` certifies
:math:`\big(\sum_k \ell_k\big) / D` for the divisor :math:`D` of ``mean`` (the element count)
or ``batchmean`` (the batch size), accumulating per-chunk sums in double-double with their
error bounds, and falls back to exact summation (exactly known terms summed as one rational,
the others as decimal intervals) only when the sum lies within the bounds of a rounding
boundary.

Vector-Jacobian products go through the same driver: the derivative of each term times the
cotangent scale :math:`s_k` (the cotangent itself for ``none``; :math:`g/D` or :math:`g` for the
reductions), rounded once.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from reference import tiers
from reference.arrays import as_float_array, out_format
from reference.enclosure import Enc
from reference.exact import XVal, ziv
from reference.formats import FLOAT64, Format
from reference.rounding import certify, round_rational, to_dtype

#: elements per chunk of the vectorised tiers (memory stays a small multiple of this)
CHUNK = 1 << 18

VecFn = Callable[[np.ndarray, bool], Enc]
ElemFn = Callable[[int], XVal]


def _tier_list(fmt: Format) -> list[bool]:
    return [True] if fmt is FLOAT64 else [False, True]


# ----------------------------------------------------------------------------- operands
def operand(x: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``x`` as float64 (exact), broadcast to ``shape`` when given (a :class:`ValueError`
    names the operand when it does not broadcast, or would enlarge the output)."""
    a = as_float_array(x, name)[0]
    if shape is None:
        return a
    try:
        if np.broadcast_shapes(a.shape, shape) != tuple(shape):
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{name} of shape {a.shape} does not broadcast to the input's shape {tuple(shape)}"
        ) from None
    return np.broadcast_to(a, shape)


def fraction(v: float) -> Fraction:
    return Fraction(float(v))


def dd_parts(q: Fraction) -> tuple[float, float, float]:
    """``(h, l, r)`` with ``|q - (h + l)| <= r``: a double-double enclosure of a rational."""
    h = float(q)
    l = float(q - Fraction(h))
    r = float(abs(q - Fraction(h) - Fraction(l))) * 2
    return h, l, r


def const(q: Fraction, dd: bool) -> Enc:
    """A rational constant as a 0-d enclosure of the tier."""
    h, l, r = dd_parts(q)
    if dd:
        return Enc(np.asarray(h), np.asarray(l), np.asarray(r), True)
    return Enc(np.asarray(h), 0.0, np.asarray(r + abs(l)), False)


def exact_float_sum(values: np.ndarray) -> Fraction:
    """The exact sum of finite float64 values, as a rational (integer arithmetic on the
    significands, grouped by exponent; vectorised, so a million terms take milliseconds)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[v != 0]
    if v.size == 0:
        return Fraction(0)
    m, e = np.frexp(v)
    M = np.ldexp(m, 53).astype(np.int64)  # exact: |M| < 2^53
    E = e.astype(np.int64) - 53
    Mh, Ml = M >> 26, M & ((1 << 26) - 1)  # M = Mh 2^26 + Ml; both sums fit in int64
    total = Fraction(0)
    for ee in np.unique(E):
        sel = E == ee
        s = (int(np.sum(Mh[sel])) << 26) + int(np.sum(Ml[sel]))
        total += Fraction(s) * Fraction(2) ** int(ee)
    return total


# ------------------------------------------------------------------ exact elementary helpers
#: below this argument exp is enclosed as [0, 10^-43429448] (e^-10^8 < 10^-43429448), which
#: keeps decimal contexts away from their exponent limits for huge float32/float64 arguments
_EXP_FLOOR_ARG = Fraction(-(10**8))
_EXP_FLOOR = Decimal("1e-43429448")


def xexp(a: Fraction) -> XVal:
    """:math:`e^a` of a rational: exactly 1 at 0, an enclosure elsewhere."""
    if a == 0:
        return XVal.of(1)
    if a < _EXP_FLOOR_ARG:
        return XVal.interval(Decimal(0), _EXP_FLOOR, lo_open=True)  # e^a > 0, below any decimal
    return XVal.of(a).exp()


def xpow(q: XVal, gamma: Fraction) -> XVal:
    r""":math:`q^\gamma` for :math:`q \ge 0`, :math:`\gamma \ge 0`: exact for an integer
    exponent of an exact base (and for the bases 0 and 1), ``exp(gamma log q)`` otherwise.
    An enclosure of ``q`` that reaches down to 0 gives :math:`[0, \overline{q}^\gamma]`."""
    if gamma == 0:
        return XVal.of(1)
    if q.exact and (q.q in (0, 1) or gamma.denominator == 1):
        return XVal.of(q.q ** int(gamma)) if gamma.denominator == 1 else XVal.of(q.q)
    if gamma.denominator == 1:
        out = q
        for _ in range(int(gamma) - 1):
            out = out * q
        return out
    lo, hi = q.bounds()
    if lo <= 0:
        top = (XVal.of(Fraction(hi)).log() * XVal.of(gamma)).exp()
        return XVal.interval(Decimal(0), top.bounds()[1])
    return (q.log() * XVal.of(gamma)).exp()


# ----------------------------------------------------------------------- the tier driver
def evaluate(n: int, fmt: Format, vec: VecFn, elem: ElemFn) -> np.ndarray:
    """The ``n`` terms, each correctly rounded into ``fmt`` (returned as float64 holding
    values of ``fmt``)."""
    out = np.empty(n)
    for start in range(0, n, CHUNK):
        pending = np.arange(start, min(n, start + CHUNK))
        for dd in _tier_list(fmt):
            with np.errstate(all="ignore"):
                enc = vec(pending, dd)
                h, l, r = _flat(enc, pending.size)
                ok, vals = certify(h, l, r, fmt)
                vals = _zero_sign(vals, h, l, r)
            out[pending[ok]] = vals[ok]
            tiers.STATS["dd" if dd else "f64"] += int(np.count_nonzero(ok))
            pending = pending[~ok]
            if pending.size == 0:
                break
        for i in pending:
            out[i] = ziv(functools.partial(elem, int(i)), fmt)
            tiers.STATS["exact"] += 1
    return out


def _zero_sign(vals: np.ndarray, h: np.ndarray, l: np.ndarray | float, r: np.ndarray) -> np.ndarray:
    """A result rounded to zero is -0 only when the whole enclosure is negative (the value is
    then a negative number below half the smallest subnormal); otherwise +0, the sign of a
    non-negative value (an exact zero included) or one the enclosure leaves open."""
    zero = vals == 0
    if not np.any(zero):
        return vals
    neg = (h + l) + r * (1 + 2.0**-50) < 0
    return np.where(zero, np.where(neg, -0.0, 0.0), vals)


def _flat(enc: Enc, k: int) -> tuple[np.ndarray, np.ndarray | float, np.ndarray]:
    h = np.broadcast_to(np.asarray(enc.h, dtype=np.float64), (k,))
    r = np.broadcast_to(np.asarray(enc.r, dtype=np.float64), (k,))
    if enc.dd:
        return h, np.broadcast_to(np.asarray(enc.l, dtype=np.float64), (k,)), r
    return h, 0.0, r


def reduce_terms(n: int, fmt: Format, vec: VecFn, elem: ElemFn, divisor: Fraction) -> float:
    """Correctly rounded :math:`(\\sum_{k<n} \\ell_k) / D`, ``D = divisor > 0``."""
    dh, dl, dr = dd_parts(divisor)
    den = Enc(np.array([dh]), np.array([dl]), np.array([dr]), True)
    for dd in _tier_list(fmt):
        acc = Enc.exact(np.zeros(1), True)
        for start in range(0, n, CHUNK):
            idx = np.arange(start, min(n, start + CHUNK))
            with np.errstate(all="ignore"):
                h, l, r = _flat(vec(idx, dd), idx.size)
                part = Enc(h, l if dd else 0.0, r, dd).sum_last()
            acc = acc + Enc(
                np.atleast_1d(part.h),
                np.atleast_1d(part.l if dd else 0.0),
                np.atleast_1d(part.r),
                True,
            )
        with np.errstate(all="ignore"):
            val = acc / den
            ok, v = certify(val.h, val.l, val.r, fmt)
        if ok[0]:
            tiers.STATS["dd" if dd else "f64"] += 1
            return float(v[0])
    # the exact tier: terms known exactly in double-double are summed as one rational
    known = Fraction(0)
    rest: list[int] = []
    for start in range(0, n, CHUNK):
        idx = np.arange(start, min(n, start + CHUNK))
        with np.errstate(all="ignore"):
            h, l, r = _flat(vec(idx, True), idx.size)
        ex = r == 0
        known += exact_float_sum(h[ex]) + exact_float_sum(np.asarray(l)[ex])
        rest.extend(int(i) for i in idx[~ex])

    def exact() -> XVal:
        total = XVal.of(known)
        for i in rest:
            total = total + elem(i)
        return total / XVal.of(divisor)

    tiers.STATS["exact"] += 1
    return ziv(exact, fmt, "reduction")


# ------------------------------------------------------------------ losses and reductions
@dataclasses.dataclass
class Terms:
    """An elementwise loss, flattened: which elements the special-value rules decide (their
    term is 0, +-inf or NaN), and the tier formulas for the others."""

    shape: tuple[int, ...]  # the shape of the ``none`` output
    fmt: Format
    special: np.ndarray  # (n,) bool
    special_value: np.ndarray  # (n,) float64: 0, +-inf or NaN where special
    vec: VecFn  # over flat indices of regular elements
    elem: ElemFn

    @property
    def n(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def loss(terms: Terms, reduction: str, divisor: Fraction) -> np.ndarray:
    """The ``none`` output, or the sum divided by ``divisor`` (1 for ``sum``), rounded once.

    Special terms combine as extended reals: NaN if any is NaN or both infinities occur,
    otherwise an infinite term decides; a mean over no elements is NaN (0/0)."""
    fmt = terms.fmt
    reg = np.flatnonzero(~terms.special)
    if reduction == "none":
        out = np.where(terms.special, terms.special_value, 0.0)
        if reg.size:
            out[reg] = evaluate(reg.size, fmt, _on(reg, terms.vec), _on_elem(reg, terms.elem))
        return _as_output(out.reshape(terms.shape), fmt)
    sv = terms.special_value[terms.special]
    if np.any(np.isnan(sv)) or (np.any(sv == np.inf) and np.any(sv == -np.inf)):
        return _as_output(np.array(np.nan), fmt)
    if np.any(np.isinf(sv)):
        return _as_output(np.array(sv[np.isinf(sv)][0]), fmt)
    if divisor == 0:
        return _as_output(np.array(np.nan), fmt)
    if reg.size == 0:
        return _as_output(np.array(0.0), fmt)
    v = reduce_terms(reg.size, fmt, _on(reg, terms.vec), _on_elem(reg, terms.elem), divisor)
    return _as_output(np.array(v), fmt)


def _on(reg: np.ndarray, vec: VecFn) -> VecFn:
    return lambda idx, dd: vec(reg[idx], dd)


def _on_elem(reg: np.ndarray, elem: ElemFn) -> ElemFn:
    return lambda i: elem(int(reg[i]))


def _as_output(values: np.ndarray, fmt: Format) -> np.ndarray:
    return to_dtype(values, fmt)


@dataclasses.dataclass
class Cotangent:
    """Per-element scale of a vector-Jacobian product: ``g`` elementwise for ``none``,
    ``g / D`` for the reductions (exact rationals)."""

    per_element: np.ndarray | None  # (n,) float64 (``none``)
    scalar: Fraction | None  # the reductions' exact scale
    undefined: np.ndarray  # (n,) bool: a NaN or infinite cotangent

    def enc(self, idx: np.ndarray, dd: bool) -> Enc:
        if self.per_element is not None:
            return Enc.exact(self.per_element[idx], dd)
        assert self.scalar is not None
        return const(self.scalar, dd)

    def exact(self, i: int) -> Fraction:
        if self.per_element is not None:
            return fraction(self.per_element[i])
        assert self.scalar is not None
        return self.scalar


def cotangent(
    grad_output: Any, reduction: str, shape: tuple[int, ...], divisor: Fraction
) -> Cotangent:
    """The scale of each of the elements of ``shape`` (the input's): ``grad_output`` has that
    shape for ``none`` and is a scalar for the reductions (default: ones).  A NaN or infinite
    cotangent leaves the elements it multiplies undefined (NaN), as for the softmax family."""
    n = int(np.prod(shape, dtype=np.int64))
    if reduction == "none":
        if grad_output is None:
            return Cotangent(np.ones(n), None, np.zeros(n, bool))
        g = as_float_array(grad_output, "grad_output")[0]
        if g.shape != tuple(shape):
            raise ValueError(
                f"grad_output must have the output's shape {tuple(shape)}, got {g.shape}"
            )
        g = g.reshape(-1)
        bad = ~np.isfinite(g)
        return Cotangent(np.where(bad, 0.0, g), None, bad)
    g = np.ones(()) if grad_output is None else as_float_array(grad_output, "grad_output")[0]
    if g.shape != ():
        raise ValueError(
            f"grad_output of a {reduction!r} reduction must be a scalar, got shape {g.shape}"
        )
    g0 = float(g)
    if not math.isfinite(g0) or divisor == 0:
        return Cotangent(None, Fraction(0), np.ones(n, bool))
    return Cotangent(None, fraction(g0) / divisor, np.zeros(n, bool))


def gradient(
    terms: Terms,
    cot: Cotangent,
    dvec: VecFn,
    delem: ElemFn,
    special_grad: np.ndarray,
) -> np.ndarray:
    """The VJP: each regular element's derivative (``dvec``/``delem``) times its scale; special
    elements whose term is finite take ``special_grad`` (an exact float64 derivative) times
    the scale; elements whose term is infinite or NaN, or whose cotangent is undefined, NaN."""
    fmt = terms.fmt
    n = terms.n
    out = np.full(n, np.nan)
    finite_special = terms.special & (terms.special_value == 0)
    reg = np.flatnonzero(~terms.special & ~cot.undefined)
    if reg.size:

        def vec(idx: np.ndarray, dd: bool) -> Enc:
            return dvec(reg[idx], dd) * cot.enc(reg[idx], dd)

        def elem(i: int) -> XVal:
            return delem(int(reg[i])) * XVal.of(cot.exact(int(reg[i])))

        out[reg] = evaluate(reg.size, fmt, vec, elem)
    sp = np.flatnonzero(finite_special & ~cot.undefined)
    if sp.size:
        sg = np.asarray(special_grad, dtype=np.float64)

        def svec(idx: np.ndarray, dd: bool) -> Enc:
            return Enc.exact(sg[sp[idx]], dd) * cot.enc(sp[idx], dd)

        def selem(i: int) -> XVal:
            return XVal.of(fraction(sg[sp[i]]) * cot.exact(int(sp[i])))

        out[sp] = evaluate(sp.size, fmt, svec, selem)
    return _as_output(out.reshape(terms.shape), fmt)


def exact_product(a: float, b: float, fmt: Format) -> float:
    """Correctly rounded product of two floats (used for rational terms)."""
    return round_rational(fraction(a) * fraction(b), fmt)


def mean_divisor(reduction: str, count: int | Fraction) -> Fraction:
    """What a loss's exact sum is divided by: ``count`` for ``mean``, 1 otherwise."""
    return Fraction(count) if reduction == "mean" else Fraction(1)


def check_reduction(reduction: str, allowed: tuple[str, ...], name: str) -> None:
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {allowed}, got {reduction!r}")


def check_same_shape(a: np.ndarray, b: np.ndarray, what: str, name: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name}: {what} must have the input's shape {a.shape}, got {b.shape}")


def loss_input(
    name: str, input: Any, reduction: str, allowed: tuple[str, ...], out_dtype: Any
) -> tuple[np.ndarray, Format]:
    """A loss's ``input`` as float64 (exact) and its output format, once ``reduction`` is one of
    ``allowed`` (the argument checks every loss starts with, in this order)."""
    check_reduction(reduction, allowed, name)
    a, fmt_name = as_float_array(input, "input")
    return a, out_format(out_dtype, fmt_name)


def elementwise_operands(
    name: str, input: Any, target: Any, reduction: str, allowed: tuple[str, ...], out_dtype: Any
) -> tuple[np.ndarray, np.ndarray, Format]:
    """:func:`loss_input`, and ``target`` as float64 of ``input``'s shape (the elementwise
    losses)."""
    a, fmt = loss_input(name, input, reduction, allowed, out_dtype)
    y = as_float_array(target, "target")[0]
    check_same_shape(a, y, "target", name)
    return a, y, fmt
