r"""logsumexp, softmax and log_softmax, and their vector-Jacobian products.

.. math::

   \mathrm{LSE}(x) = \log\sum_j e^{x_j},\qquad
   \mathrm{softmax}(x)_i = y_i = e^{x_i - \mathrm{LSE}(x)},\qquad
   \mathrm{log\_softmax}(x)_i = x_i - \mathrm{LSE}(x).

Vector-Jacobian products with cotangent :math:`g`:

.. math::

   \bar x_i = g\,y_i\ (\mathrm{LSE}),\qquad
   \bar x_i = y_i\Big(g_i - \sum_j g_j y_j\Big) = y_i \sum_j (g_i - g_j)\, y_j\ (\mathrm{softmax}),
   \qquad \bar x_i = g_i - y_i \sum_j g_j\ (\mathrm{log\_softmax}).

The second form of the softmax product is used by the exact tier: grouped by equal logits its
coefficients are exact rationals, so an exactly zero result is recognised (by the
Lindemann-Weierstrass theorem the value is otherwise irrational and Ziv's loop ends).
Special values follow ``docs/semantics.md``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from reference import tiers
from reference._docstrings import fill_doc, vjp_doc
from reference.arrays import (
    RowKinds,
    as_native_array,
    assign_rows,
    classify_rows,
    move_axis_last,
    out_format,
    restore_axis,
    select_rows,
    to_output,
    widen,
)
from reference.enclosure import Enc
from reference.exact import XVal
from reference.formats import Format
from reference.rounding import round_dd, round_rational
from reference.types import OutDtype


def _prepare(x: Any, axis: int, out_dtype: Any):  # type: ignore[no-untyped-def]
    a, fmt_name = as_native_array(x, "x")
    fmt = out_format(out_dtype, fmt_name)
    x2, moved, ax = move_axis_last(a, axis)
    return a, x2, moved, ax, fmt


def _with_regular_rows(
    out: np.ndarray,
    x2: np.ndarray,
    regular: np.ndarray,
    fmt: Format,
    vec: tiers.VecFn,
    elem: tiers.ElemFn,
    per_row: bool = False,
) -> np.ndarray:
    """``out`` with the rows of ``x2`` flagged ``regular`` (a finite maximum) evaluated by the
    tiers (:func:`reference.tiers.elementwise`: ``vec`` in float64 and double-double, ``elem``
    exact); the other rows keep the special values already in ``out``."""
    reg = np.flatnonzero(regular)
    if reg.size:
        res = tiers.elementwise(select_rows(x2, reg), fmt, vec, elem, per_row=per_row)
        out = assign_rows(out, reg, res)
    return out


def _set_posinf_rows(out: np.ndarray, kinds: RowKinds, off: float, at: float) -> None:
    """Fill the rows of ``out`` whose input row holds one +inf (a one-hot softmax): ``at`` at
    the +inf, ``off`` elsewhere."""
    pi = np.flatnonzero(kinds.posinf)
    out[pi] = off
    out[pi, kinds.posinf_index[pi]] = at


def _grad_rows(grad_output: Any, shape: tuple[int, ...], ax: int | None, name: str) -> np.ndarray:
    g = as_native_array(grad_output, "grad_output")[0]
    if g.shape != shape:
        raise ValueError(f"grad_output of {name} must have shape {shape}, got {g.shape}")
    if ax is None:
        return g.reshape(-1)
    return move_axis_last(g, ax)[0]


def _cotangent_rows(
    grad_output: Any, a: np.ndarray, x2: np.ndarray, ax: int, name: str
) -> np.ndarray:
    """The cotangent of an elementwise output of ``name`` in the rows layout of ``x2``: ones
    (in ``x2``'s format) for ``None``, else ``grad_output`` of ``a``'s shape, moved alike."""
    if grad_output is None:
        return np.ones_like(x2)
    return _grad_rows(grad_output, a.shape, ax, name)


@fill_doc
def logsumexp(x: Any, axis: int = -1, out_dtype: OutDtype = None) -> np.ndarray:
    r"""Correctly rounded :math:`\mathrm{LSE}(x) = \log\sum_j e^{x_j}` along ``axis``.

    Args:
        %(rows_x)s
        axis: The reduced axis (negative counts from the end).
        %(rows_out_dtype)s

    Returns:
        ``x``'s shape without ``axis``, in the output format: each value the exact
        :math:`\mathrm{LSE}` rounded once (+inf for a row holding one +inf, -inf for an all -inf or
        empty row, NaN for NaN or two +inf).

    Raises:
        %(rows_raises)s
    """
    _a, x2, moved, _ax, fmt = _prepare(x, axis, out_dtype)
    kinds = classify_rows(x2)
    out = np.full(x2.shape[0], np.nan, dtype=fmt.dtype)
    out[kinds.posinf] = np.inf
    out[kinds.allneg] = -np.inf
    out = _with_regular_rows(
        out,
        x2,
        kinds.regular,
        fmt,
        lambda st, rows, dd: st.logS + Enc.exact(st.m, dd),
        lambda er, r, i: er.lse(),
        per_row=True,
    )
    return to_output(out.reshape(moved[:-1]), fmt.name)


@vjp_doc(
    logsumexp, "output", note="It is NaN on rows that are not regular (NaN, +inf or all -inf)."
)
def logsumexp_grad(
    x: Any, axis: int = -1, grad_output: Any = None, out_dtype: OutDtype = None
) -> np.ndarray:
    r"""VJP of :func:`logsumexp`: :math:`\bar x_i = g\,\mathrm{softmax}(x)_i`."""
    _a, x2, moved, ax, fmt = _prepare(x, axis, out_dtype)
    out_shape = moved[:-1]
    if grad_output is None:
        g = np.ones(x2.shape[0])
    else:
        g = widen(_grad_rows(grad_output, out_shape, None, "logsumexp"))
    kinds = classify_rows(x2)
    out = np.full(x2.shape, np.nan, dtype=fmt.dtype)
    gr = g[kinds.regular]
    out = _with_regular_rows(
        out,
        x2,
        kinds.regular,
        fmt,
        lambda st, rows, dd: st.scaled_e(Enc.exact(gr[rows], dd) / st.S),
        lambda er, r, i: er.softmax(i) * XVal.of(Fraction(float(gr[r]))),
    )
    return to_output(restore_axis(out, moved, ax), fmt.name)


@fill_doc
def softmax(x: Any, axis: int = -1, out_dtype: OutDtype = None) -> np.ndarray:
    r"""Correctly rounded :math:`\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}` along ``axis``.

    Args:
        %(rows_x)s
        axis: The class axis (negative counts from the end).
        %(rows_out_dtype)s

    Returns:
        ``x``'s shape, in the output format, each element the exact value rounded once (a row
        holding one +inf is one-hot; a NaN, two-+inf or all -inf row is NaN).

    Raises:
        %(rows_raises)s
    """
    _a, x2, moved, ax, fmt = _prepare(x, axis, out_dtype)
    kinds = classify_rows(x2)
    out = np.full(x2.shape, np.nan, dtype=fmt.dtype)
    _set_posinf_rows(out, kinds, 0.0, 1.0)
    out = _with_regular_rows(
        out,
        x2,
        kinds.regular,
        fmt,
        lambda st, rows, dd: st.softmax(),
        lambda er, r, i: er.softmax(i),
    )
    return to_output(restore_axis(out, moved, ax), fmt.name)


@vjp_doc(
    softmax,
    "x",
    note="It is exactly 0 on a one-hot row or where :math:`g` is constant along the row.",
)
def softmax_grad(
    x: Any, axis: int = -1, grad_output: Any = None, out_dtype: OutDtype = None
) -> np.ndarray:
    r"""VJP of :func:`softmax`: :math:`\bar x_i = y_i (g_i - \sum_j g_j y_j)`,
    :math:`y = \mathrm{softmax}(x)`.
    """
    a, x2, moved, ax, fmt = _prepare(x, axis, out_dtype)
    g = _cotangent_rows(grad_output, a, x2, ax, "softmax")
    kinds = classify_rows(x2)
    out = np.full(x2.shape, np.nan, dtype=fmt.dtype)
    out[kinds.posinf] = 0.0  # one-hot softmax: y_i (g_i - g_k) = 0 in the limit
    # a cotangent constant along a row gives exactly 0: y_i sum_j (g_i - g_j) y_j with every
    # g_i - g_j = 0 (no enclosure can certify an exact zero, so decide it here)
    gw_min = np.min(g, axis=-1) if g.shape[-1] else np.zeros(g.shape[0])
    gw_max = np.max(g, axis=-1) if g.shape[-1] else np.zeros(g.shape[0])
    flat = kinds.regular & (widen(gw_min) == widen(gw_max))
    out[flat] = 0.0
    reg = np.flatnonzero(kinds.regular & ~flat)
    if reg.size:
        xr, gr = select_rows(x2, reg), select_rows(g, reg)

        def vec(st, rows, dd):  # type: ignore[no-untyped-def]
            y = st.softmax()
            ge = Enc.exact(widen(gr[rows]), dd)
            c = (y * ge).sum_last()
            return y * (ge - c.expand())

        groups_cache: dict[int, tuple[np.ndarray, list[tuple[int, int, Fraction]]]] = {}

        def row_groups(r: int) -> tuple[np.ndarray, list[tuple[int, int, Fraction]]]:
            """Per distinct finite logit: (a column holding it, its count, sum of its g)."""
            if r not in groups_cache:
                row, grow = widen(xr[r]), widen(gr[r])
                acc: dict[float, list] = {}
                for j in range(len(row)):
                    if row[j] != -np.inf:
                        entry = acc.setdefault(row[j], [j, 0, Fraction(0)])
                        entry[1] += 1
                        entry[2] += Fraction(float(grow[j]))
                groups_cache.clear()  # rows are visited in order: keep one
                groups_cache[r] = (grow, [tuple(v) for v in acc.values()])
            return groups_cache[r]

        def elem(er, r, i):  # type: ignore[no-untyped-def]
            # y_i sum_v beta_v y_v, beta_v = n_v g_i - sum_{j: x_j = v} g_j (exact rationals)
            grow, groups = row_groups(r)
            gi = Fraction(float(grow[i]))
            total = XVal.of(0)
            for j, n, gsum in groups:
                beta = n * gi - gsum
                if beta:
                    total = total + er.softmax(j) * XVal.of(beta)
            return er.softmax(i) * total

        out = assign_rows(out, reg, tiers.elementwise(xr, fmt, vec, elem))
    return to_output(restore_axis(out, moved, ax), fmt.name)


@fill_doc
def log_softmax(x: Any, axis: int = -1, out_dtype: OutDtype = None) -> np.ndarray:
    r"""Correctly rounded :math:`\mathrm{log\_softmax}(x)_i = x_i - \log\sum_j e^{x_j}` along
    ``axis``.

    Args:
        x, axis, out_dtype: As for :func:`softmax`.

    Returns:
        ``x``'s shape, in the output format, each element the exact value rounded once (-inf at a
        -inf logit; on a row holding one +inf, 0 there and -inf elsewhere).

    Raises:
        %(rows_raises)s
    """
    _a, x2, moved, ax, fmt = _prepare(x, axis, out_dtype)
    kinds = classify_rows(x2)
    out = np.full(x2.shape, np.nan, dtype=fmt.dtype)
    _set_posinf_rows(out, kinds, -np.inf, 0.0)

    def vec(st, rows, dd):  # type: ignore[no-untyped-def]
        ls = st.d - st.logS.expand()
        if np.any(st.masked):  # exactly -inf there, certified as such (radius 0)
            ls = ls.where(~st.masked, Enc.exact(np.full(st.masked.shape, -np.inf), dd))
        return ls

    out = _with_regular_rows(out, x2, kinds.regular, fmt, vec, lambda er, r, i: er.log_softmax(i))
    return to_output(restore_axis(out, moved, ax), fmt.name)


@vjp_doc(log_softmax, "x")
def log_softmax_grad(
    x: Any, axis: int = -1, grad_output: Any = None, out_dtype: OutDtype = None
) -> np.ndarray:
    r"""VJP of :func:`log_softmax`: :math:`\bar x_i = g_i - y_i \sum_j g_j`,
    :math:`y = \mathrm{softmax}(x)`.
    """
    a, x2, moved, ax, fmt = _prepare(x, axis, out_dtype)
    g = _cotangent_rows(grad_output, a, x2, ax, "log_softmax")
    kinds = classify_rows(x2)
    out = np.full(x2.shape, np.nan, dtype=fmt.dtype)
    pi = np.flatnonzero(kinds.posinf)
    if pi.size:
        # one-hot softmax: g_i everywhere (each rounded once into the output format), and the
        # exact rational g_k - sum_j g_j at the +inf
        gp = widen(g[pi])
        res = round_dd(gp, 0.0, fmt)
        for n, r in enumerate(pi):
            k = kinds.posinf_index[r]
            exact = Fraction(float(gp[n, k])) - sum(Fraction(float(v)) for v in gp[n])
            res[n, k] = round_rational(exact, fmt)
        out[pi] = res
    reg = np.flatnonzero(kinds.regular)
    if reg.size:
        xr, gr = select_rows(x2, reg), select_rows(g, reg)

        def vec(st, rows, dd):  # type: ignore[no-untyped-def]
            ge = Enc.exact(widen(gr[rows]), dd)
            G = ge.sum_last()
            return ge - st.softmax() * G.expand()

        gsums: dict[int, Fraction] = {}

        def elem(er, r, i):  # type: ignore[no-untyped-def]
            if r not in gsums:
                gsums.clear()
                gsums[r] = sum((Fraction(float(v)) for v in widen(gr[r])), Fraction(0))
            return XVal.of(Fraction(float(gr[r][i]))) - er.softmax(i) * XVal.of(gsums[r])

        out = assign_rows(out, reg, tiers.elementwise(xr, fmt, vec, elem))
    return to_output(restore_axis(out, moved, ax), fmt.name)
