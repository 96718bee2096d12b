"""Running first-order error bounds: arrays that carry a bound on their own rounding error.

A :class:`Tracked` value holds ``v`` (the intermediate as evaluated in float64, standing for
the exact real value) and ``e`` (an upper bound on ``|computed - exact|`` for an evaluation of
the same expression in a working precision with unit roundoff ``u``).  Every operation
propagates the operands' bounds to first order and adds its own rounding, in the standard model
``fl(a op b) = (a op b)(1 + d), |d| <= u`` (N. J. Higham, *Accuracy and Stability of Numerical
Algorithms*, 2nd ed., SIAM 2002, section 2.2 and the "running error analysis" of section 3.3).
Elementary functions (``exp``, ``log``, ``log1p``, ``expm1``, ``pow``) are allowed a relative
error ``uf`` instead of ``u``.  Sums over ``n`` terms use the bound
``|fl(sum) - sum| <= k(n) u sum |x_i|`` of the summation model in :class:`Arithmetic`.

Inputs enter through :func:`exact`: the error models charge only the roundings an algorithm
performs on the given inputs, never a perturbation of the inputs themselves.  This is the
machinery behind :mod:`verify.judge.error_models`; it knows nothing about losses.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class Arithmetic:
    """The working precision and the summation model.

    ``u``: unit roundoff of the working precision; ``uf``: relative error allowed to each
    elementary function; ``tiny``: absolute error of a result that underflows (half the
    smallest subnormal of the working format); ``lanes``: the narrowest number of interleaved
    partial sums assumed for a reduction (see :meth:`k`).
    """

    u: float
    uf: float
    tiny: float
    lanes: int = 4

    def k(self, n: int) -> float:
        """Error constant of a reduction over ``n`` terms: ``|err| <= k(n) u sum|x_i|``.

        Model: ``lanes`` interleaved recursive partial sums (SIMD accumulators, or the threads
        of a GPU block), each over ``ceil(n / lanes)`` terms, combined pairwise:
        ``k = ceil(n / lanes) - 1 + ceil(log2(lanes))``, never more than ``n - 1`` (the
        order-independent worst case).  One extra ``u`` covers a final scaling.
        """
        if n <= 1:
            return 1.0
        lanes = min(self.lanes, n)
        blocked = math.ceil(n / lanes) - 1 + math.ceil(math.log2(lanes))
        return float(min(n - 1, blocked) + 1)


@dataclasses.dataclass(frozen=True)
class Tracked:
    """An intermediate ``v`` with a first-order bound ``e`` on its absolute error."""

    v: np.ndarray
    e: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.v.shape)


def _f64(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def exact(a: object) -> Tracked:
    """A value known exactly (an input taken as given, a constant)."""
    v = _f64(a)
    return Tracked(v, np.zeros_like(v))


def _fin(e: np.ndarray) -> np.ndarray:
    """Errors of exactly-known non-finite values are 0 (inf - inf is not an error size)."""
    return np.where(np.isnan(e), np.inf, e)


def _round(v: np.ndarray, e: np.ndarray, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore"):
        add = np.where(np.isfinite(v), ar.u * np.abs(v) + ar.tiny, 0.0)
    return Tracked(v, _fin(e + add))


def add(a: Tracked, b: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore"):
        return _round(a.v + b.v, a.e + b.e, ar)


def sub(a: Tracked, b: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore"):
        return _round(a.v - b.v, a.e + b.e, ar)


def neg(a: Tracked) -> Tracked:
    return Tracked(-a.v, a.e)


def mul(a: Tracked, b: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore"):
        v = a.v * b.v
        e = np.abs(a.v) * b.e + np.abs(b.v) * a.e + a.e * b.e
        # 0 * inf-sized errors: an exact zero factor keeps the product exact
        e = np.where((a.v == 0) & (a.e == 0) | (b.v == 0) & (b.e == 0), 0.0, e)
    return _round(v, e, ar)


def div(a: Tracked, b: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        v = a.v / b.v
        rel_b = b.e / np.abs(b.v)
        e = np.where(rel_b < 1, (a.e + np.abs(v) * b.e) / (np.abs(b.v) * (1 - rel_b)), np.inf)
        e = np.where((a.v == 0) & (a.e == 0), 0.0, e)
    return _round(v, e, ar)


def exp(a: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.exp(a.v)
        e = v * (np.expm1(a.e) + ar.uf * np.exp(a.e))
        e = np.where(v == 0, ar.tiny * (1 + np.exp(a.e)), e)
        e = np.where(np.isneginf(a.v), 0.0, e)
    return Tracked(v, _fin(e + ar.tiny))


def expm1(a: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.expm1(a.v)
        e = np.exp(a.v) * np.expm1(a.e) + ar.uf * np.abs(v)
        e = np.where(np.isneginf(a.v), 0.0, e)
    return Tracked(v, _fin(e + ar.tiny))


def log(a: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        v = np.log(a.v)
        rel = a.e / np.abs(a.v)
        e = np.where(rel < 1, -np.log1p(-np.minimum(rel, 0.999)), np.inf) + ar.uf * np.abs(v)
        e = np.where((a.v == 0) & (a.e == 0), 0.0, e)
    return Tracked(v, _fin(e))


def log1p(a: Tracked, ar: Arithmetic) -> Tracked:
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.log1p(a.v)
        denom = 1 + a.v - a.e
        e = np.where(denom > 0, a.e / denom, np.inf) + ar.uf * np.abs(v)
    return Tracked(v, _fin(e))


def power(a: Tracked, gamma: float, ar: Arithmetic) -> Tracked:
    """``a ** gamma`` for ``a >= 0`` (evaluated as ``exp(gamma log a)``)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        v = np.power(a.v, gamma)
        rel = np.where(a.v > 0, a.e / a.v, np.inf)
        lg = np.where(a.v > 0, np.abs(np.log(np.where(a.v > 0, a.v, 1.0))), 0.0)
        e = v * (np.expm1(abs(gamma) * rel) + ar.uf * (1 + abs(gamma) * lg))
        if gamma == 0:
            e = np.zeros_like(v)
        else:
            # 0 ** gamma: an error a.e in the base moves the result by at most a.e ** gamma
            e = np.where(a.v == 0, np.power(a.e, gamma) if gamma > 0 else np.inf, e)
    return _round(v, _fin(e), ar)


def where(cond: np.ndarray, a: Tracked, b: Tracked) -> Tracked:
    return Tracked(np.where(cond, a.v, b.v), np.where(cond, a.e, b.e))


def take(a: Tracked, index: np.ndarray, axis: int) -> Tracked:
    return Tracked(
        np.take_along_axis(a.v, index, axis=axis), np.take_along_axis(a.e, index, axis=axis)
    )


def total(a: Tracked, ar: Arithmetic, axis: int | tuple[int, ...] | None = None) -> Tracked:
    """Sum over ``axis`` (all axes when None) under the summation model ``ar.k``."""
    v_full = np.asarray(a.v)
    axes = tuple(range(v_full.ndim)) if axis is None else axis
    axes = (axes,) if isinstance(axes, int) else axes
    n = int(np.prod([v_full.shape[i] for i in axes])) if v_full.ndim else 1
    with np.errstate(invalid="ignore", over="ignore"):
        v = np.sum(v_full, axis=axes)
        e = np.sum(a.e, axis=axes) + ar.k(n) * ar.u * np.sum(np.abs(v_full), axis=axes)
    return Tracked(np.asarray(v), _fin(np.asarray(e)))


def rounded_to(a: Tracked, u_out: float, tiny_out: float) -> Tracked:
    """``a`` materialised in a narrower format (unit roundoff ``u_out``)."""
    with np.errstate(invalid="ignore", over="ignore"):
        add_e = np.where(np.isfinite(a.v), u_out * np.abs(a.v) + tiny_out, 0.0)
    return Tracked(a.v, _fin(a.e + add_e))


def scale(a: Tracked, factor: float) -> Tracked:
    """Multiply by an exact factor (a power of two, or a factor applied to the bound only)."""
    return Tracked(a.v * factor, a.e * abs(factor))


def matmul(a: Tracked, b: Tracked, ar: Arithmetic) -> Tracked:
    """``a @ b`` for 2-d operands: each output is an inner product of ``a.shape[1]`` terms."""
    n = a.v.shape[-1]
    with np.errstate(invalid="ignore", over="ignore"):
        v = a.v @ b.v
        abs_prod = np.abs(a.v) @ np.abs(b.v)
        e = a.e @ np.abs(b.v) + np.abs(a.v) @ b.e + ar.k(n) * ar.u * abs_prod
    return Tracked(v, _fin(e))


def abs_(a: Tracked) -> Tracked:
    return Tracked(np.abs(a.v), a.e)


def relu(a: Tracked) -> Tracked:
    """``max(a, 0)``: exact, and 1-Lipschitz, so the operand's error bound passes through."""
    return Tracked(np.maximum(a.v, 0.0), a.e)
