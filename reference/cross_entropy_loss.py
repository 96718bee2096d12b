r"""nll_loss and cross_entropy (PyTorch's semantics), and their vector-Jacobian products.

Class axis 1; input (N, C) or (N, C, d1, ..., dk) (or (C,) unbatched); index targets
(N, d1, ..., dk) or probability targets shaped like the input.  Flattening the non-class axes
gives rows :math:`n` with logits :math:`x_{n,\cdot}`.  With class weights :math:`w`
(default 1) and label smoothing :math:`\varepsilon`, each row has effective target weights

.. math::

   q_{n,i} = (1-\varepsilon)\, w_{t_n} [i = t_n] + \tfrac{\varepsilon}{C} w_i
   \quad\text{(index targets)},\qquad
   q_{n,i} = w_i \big((1-\varepsilon) y_{n,i} + \tfrac{\varepsilon}{C}\big)
   \quad\text{(probability targets)},

and the row's loss is :math:`\ell_n = \sum_i q_{n,i} (\mathrm{LSE}(x_n) - x_{n,i})
= Q_n \log S_n - \sum_i q_{n,i} d_{n,i}` with :math:`Q_n = \sum_i q_{n,i}` (terms whose
target probability is exactly 0 contribute 0).  Reductions: ``none`` returns
:math:`\ell`, ``sum`` :math:`\sum_n \ell_n`, ``mean`` divides the sum by
:math:`W = \sum_{n\,\text{not ignored}} w_{t_n}` for index targets and by the number of rows
for probability targets, exactly as ``torch.nn.functional.cross_entropy`` documents
(https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html), including
its normalisation of the smoothing term by the same :math:`W`.

The gradient of row :math:`n` is :math:`s_n (Q_n y_{n,i} - q_{n,i})` with :math:`y` the
softmax and :math:`s_n` the reduction's scale times the cotangent; at a unique maximum it is
evaluated as :math:`s_n(Q_n (y_i - 1) + (Q_n - q_i))` with :math:`y_i - 1 = -T/S`, free of
cancellation.

``nll_loss`` is the same with the input taken as log-probabilities:
:math:`\ell_n = -w_{t_n} x_{n, t_n}`, gradient :math:`-s_n w_{t_n}` at the target (the map is
linear, so this holds for infinite inputs too, as autodiff gives).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Any

import numpy as np

from reference import dd as ddm
from reference import tiers
from reference._docstrings import fill_doc, vjp_doc
from reference.arrays import (
    as_float_array,
    as_native_array,
    assign_rows,
    class_rows,
    classify_rows,
    out_format,
    select_rows,
    to_output,
    widen,
)
from reference.enclosure import Enc
from reference.exact import XVal
from reference.formats import Format
from reference.pointwise import dd_parts, fraction
from reference.rounding import round_dd, round_rational
from reference.types import REDUCTIONS, OutDtype, Reduction


# ------------------------------------------------------------------------------ arguments
def _enc_of_fractions(qs: list[Fraction], dd: bool) -> Enc:
    parts = np.array([dd_parts(q) for q in qs]).reshape(-1, 3)
    h, l, r = parts[:, 0], parts[:, 1], parts[:, 2]
    if dd:
        return Enc(h, l, r, True)
    return Enc(h, 0.0, r + np.abs(l), False)


@dataclasses.dataclass
class _Problem:
    x2: np.ndarray  # (R, C) logits (or log-probabilities for nll), float64
    out_shape: tuple[int, ...]  # shape of the 'none' output
    C: int
    fmt: Format
    reduction: str
    index: bool
    t: np.ndarray | None  # (R,) int64 targets (index), -1 where ignored
    ignored: np.ndarray  # (R,) bool
    w: np.ndarray  # (C,) float64 class weights
    eps: Fraction
    y: np.ndarray | None  # (R, C) probability targets

    # exact rationals, computed lazily
    def q_row(self, r: int) -> list[Fraction]:
        C, eps = self.C, self.eps
        beta = eps / C
        if self.index:
            t = int(self.t[r])  # type: ignore[index]
            q = [beta * fraction(wi) for wi in self.w] if eps else [Fraction(0)] * C
            q[t] += (1 - eps) * fraction(self.w[t])
            return q
        assert self.y is not None
        return [
            fraction(self.w[i]) * ((1 - eps) * fraction(self.y[r, i]) + beta)
            if (self.y[r, i] != 0 or eps)
            else Fraction(0)
            for i in range(C)
        ]

    def target_prob_row(self, r: int) -> list[Fraction]:
        """The (label-smoothed) target probability of each class in row ``r``."""
        C, eps = self.C, self.eps
        if self.index:
            t = int(self.t[r])  # type: ignore[index]
            return [(1 - eps) * (i == t) + eps / C for i in range(C)]
        assert self.y is not None
        return [(1 - eps) * fraction(self.y[r, i]) + eps / C for i in range(C)]

    def total_weight(self) -> Fraction:
        if not self.index:
            return Fraction(self.x2.shape[0])
        keep = ~self.ignored
        return sum((fraction(v) for v in self.w[self.t[keep]]), Fraction(0))  # type: ignore[index]


def _problem(
    input: Any,
    target: Any,
    weight: Any,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
    out_dtype: Any,
    name: str,
) -> _Problem:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    a, fmt_name = as_native_array(input, "input")
    fmt = out_format(out_dtype, fmt_name)
    a, x2, moved_shape, unbatched = class_rows(a, name)
    C = a.shape[1]
    out_shape = () if unbatched else moved_shape[:-1]
    tgt = np.asarray(target)
    if hasattr(target, "detach"):
        tgt = target.detach().cpu().numpy()
    index = tgt.dtype.kind in "iu"
    if weight is None:
        w = np.ones(C)
    else:
        w = as_float_array(weight, "weight")[0]
        if w.shape != (C,):
            raise ValueError(f"{name}: weight must have shape ({C},), got {w.shape}")
    if index:
        t = tgt.astype(np.int64)
        if unbatched:
            t = t.reshape(1)
        if t.shape != moved_shape[:-1]:
            raise ValueError(
                f"{name}: index target must have shape {moved_shape[:-1] if not unbatched else ()}"
                f", got {tgt.shape}"
            )
        t = t.reshape(-1)
        ignored = t == ignore_index
        bad = ~ignored & ((t < 0) | (t >= C))
        if np.any(bad):
            raise ValueError(
                f"{name}: target {int(t[bad][0])} is out of bounds for {C} classes "
                f"(and is not ignore_index={ignore_index})"
            )
        t = np.where(ignored, -1, t)
        y = None
    else:
        if name == "nll_loss":
            raise TypeError("nll_loss: target must hold integer class indices")
        y = as_native_array(target, "target")[0]
        if unbatched:
            y = y[None]
        if y.shape != a.shape:
            raise ValueError(
                f"{name}: probability target must have the input's shape {a.shape[unbatched:]}, "
                f"got {tgt.shape}"
            )
        y = np.ascontiguousarray(np.moveaxis(y, 1, -1)).reshape(-1, C)
        t = None
        ignored = np.zeros(x2.shape[0], bool)
    return _Problem(
        x2, out_shape, C, fmt, reduction, index, t, ignored, w, Fraction(float(label_smoothing)), y
    )


# ------------------------------------------------------------------ vectorised pieces (CE)
def _row_q(p: _Problem, rows: np.ndarray, dd: bool) -> tuple[Enc | None, Enc]:
    """(q as (r, C) Enc or None for the sparse index case, Q as (r,) Enc)."""
    alpha, beta = 1 - p.eps, p.eps / p.C
    if p.index and p.eps == 0:
        wt = p.w[p.t[rows]]  # type: ignore[index]
        return None, Enc.exact(wt, dd)
    if p.index:
        bw = _enc_of_fractions([beta * fraction(v) for v in p.w], dd)
        aw = _enc_of_fractions([alpha * fraction(v) for v in p.w], dd)
        t = p.t[rows]  # type: ignore[index]
        R = len(rows)
        q = bw.bcast((R, p.C))
        q = Enc(np.array(q.h), np.array(q.l) if dd else 0.0, np.array(q.r), dd)
        add = aw[t]
        cur = q[np.arange(R), t] + add
        q.h[np.arange(R), t] = cur.h
        if dd:
            q.l[np.arange(R), t] = cur.l
        q.r[np.arange(R), t] = cur.r
    else:
        y = Enc.exact(widen(p.y[rows]), dd)  # type: ignore[index]
        a = _enc_of_fractions([alpha], dd)
        b = _enc_of_fractions([beta], dd)
        yt = y * Enc(a.h[0], a.l[0] if dd else 0.0, a.r[0], dd) + Enc(
            b.h[0], b.l[0] if dd else 0.0, b.r[0], dd
        )
        if p.eps == 0:
            yt = y
        q = yt * Enc.exact(p.w, dd)
    return q, q.sum_last()


def _row_terms(p: _Problem, st: Any, rows: np.ndarray, dd: bool) -> Enc:
    """l_n = Q log S - sum_i q_i d_i for regular rows without infinite terms."""
    q, Q = _row_q(p, rows, dd)
    if q is None:
        t = p.t[rows]  # type: ignore[index]
        dt = st.d[np.arange(len(rows)), t]
        return Q * (st.logS - dt)
    d = st.d.where(~st.masked, Enc.exact(np.zeros(st.masked.shape), dd))
    return Q * st.logS - (q * d).sum_last()


def _row_grads(p: _Problem, st: Any, rows: np.ndarray, dd: bool, scale: Enc) -> Enc:
    """s_n (Q y_i - q_i) for the rows (``scale`` has shape (R,)), with the unique-maximum entry
    in cancellation-free form."""
    q, Q = _row_q(p, rows, dd)
    R = len(rows)
    ar = np.arange(R)
    if q is None:
        # q is w_t at the target only: s Q e_i / S everywhere, then the target column
        t = p.t[rows]  # type: ignore[index]
        sq = Q * scale
        g = st.scaled_e(sq / st.S)
        yt = st.e_at(ar, t) / st.S
        tmax = st.is_max[ar, t] & (st.c == 1)
        ym1 = st.softmax_minus_one_at_max().where(tmax, yt - Enc.exact(np.ones(R), dd))
        gt = sq * ym1
        if not g.h.flags.writeable or (dd and not g.l.flags.writeable):
            g = Enc(np.array(g.h), np.array(g.l) if dd else 0.0, np.array(g.r), dd)
        g.h[ar, t] = gt.h
        if dd:
            g.l[ar, t] = gt.l
        g.r[ar, t] = gt.r
        return g
    y = st.softmax()
    g = Q.expand() * y - q
    unique = (st.c == 1)[:, None] & st.is_max
    if np.any(unique):
        ym1 = st.softmax_minus_one_at_max().expand()
        alt = Q.expand() * ym1 + (Q.expand() - q)
        g = alt.where(unique, g)
    return g * scale.expand()


# ------------------------------------------------------------------------ special rows
def _row_special(p: _Problem, nll: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose term is decided by the special-value table: returns (mask, value)."""
    R = p.x2.shape[0]
    special = np.zeros(R, bool)
    value = np.zeros(R)
    if nll:
        xt = widen(p.x2[np.arange(R), np.where(p.ignored, 0, p.t)])  # type: ignore[arg-type]
        nonfinite = ~np.isfinite(xt) & ~p.ignored
        special |= nonfinite | p.ignored
        with np.errstate(invalid="ignore"):
            value = np.where(nonfinite, -p.w[np.where(p.ignored, 0, p.t)] * xt, 0.0)  # type: ignore[arg-type]
        return special, value
    kinds = classify_rows(p.x2)
    special |= p.ignored
    nanrow = (kinds.nan | kinds.allneg) & ~p.ignored
    special |= nanrow
    value[nanrow] = np.nan
    # positive weight on a class whose log-softmax is -inf -> +inf
    for r in np.flatnonzero(~special & (kinds.posinf | kinds.neginf)):
        q = p.q_row(int(r))
        xr = widen(p.x2[r])
        prob = p.target_prob_row(int(r))  # the (smoothed) target probability of each class
        if kinds.posinf[r]:
            k = kinds.posinf_index[r]
            infinite = [i for i in range(p.C) if i != k and prob[i] > 0]
        else:
            infinite = [i for i in range(p.C) if xr[i] == -np.inf and prob[i] > 0]
        # an infinite term with positive weight is +inf; with weight 0 it is 0 * inf = NaN
        nan = any(q[i] == 0 for i in infinite)
        pos = any(q[i] > 0 for i in infinite)
        if infinite or kinds.posinf[r]:
            special[r] = True
            value[r] = np.nan if nan else (np.inf if pos else 0.0)
    return special, value


# --------------------------------------------------------------------------- the API
def _reduce(p: _Problem, special: np.ndarray, value: np.ndarray, vec, row, nll: bool) -> np.ndarray:  # type: ignore[no-untyped-def]
    fmt = p.fmt
    reg = np.flatnonzero(~special)
    if p.reduction == "none":
        out = value.copy()
        if reg.size:
            if nll:
                out[reg] = _nll_terms_exact_round(p, reg)
            else:
                out[reg] = tiers.elementwise(
                    select_rows(p.x2, reg),
                    fmt,
                    lambda st, rows, dd: vec(st, reg[rows], dd),
                    lambda er, r, i: row(er, int(reg[r])),
                    per_row=True,
                )
        return to_output(out.reshape(p.out_shape), fmt.name)
    sv = value[special & ~p.ignored]
    W = p.total_weight() if p.reduction == "mean" else Fraction(1)
    if np.any(np.isnan(sv)) or (p.reduction == "mean" and W == 0):
        return to_output(np.array(np.nan), fmt.name)
    if np.any(np.isinf(sv)):
        return to_output(np.array(np.sum(sv[np.isinf(sv)])), fmt.name)
    if nll:
        total = sum((_nll_term(p, int(r)) for r in reg), Fraction(0))
        return to_output(np.array(round_rational(total / W, fmt)), fmt.name)
    if reg.size == 0:
        return to_output(np.array(round_rational(Fraction(0) / W, fmt)), fmt.name)
    res = tiers.reduce_rows(
        select_rows(p.x2, reg),
        fmt,
        lambda st, rows, dd: vec(st, reg[rows], dd),
        lambda er, r: row(er, int(reg[r])),
        W,
    )
    return to_output(np.array(res), fmt.name)


def _nll_term(p: _Problem, r: int) -> Fraction:
    t = int(p.t[r])  # type: ignore[index]
    return -fraction(p.w[t]) * fraction(p.x2[r, t])


def _round_products(a: np.ndarray, b: np.ndarray, fmt: Format) -> np.ndarray:
    """Correctly rounded products a*b: TwoProd makes them exact double-doubles (far from the
    bottom of the float64 range, where the low word could underflow: those go through
    rationals)."""
    ph, pl = ddm.two_prod(a, b)
    out = round_dd(ph, pl, fmt)
    low = (np.abs(ph) < 2.0**-900) & (ph != 0) | ~np.isfinite(ph)
    for i in np.flatnonzero(low):
        if np.isfinite(a[i]) and np.isfinite(b[i]):
            out[i] = round_rational(fraction(a[i]) * fraction(b[i]), fmt)
        else:
            with np.errstate(invalid="ignore"):
                out[i] = a[i] * b[i]
    return out


def _nll_terms_exact_round(p: _Problem, rows: np.ndarray) -> np.ndarray:
    t = p.t[rows]  # type: ignore[index]
    return _round_products(-p.w[t], widen(p.x2[rows, t]), p.fmt)


@fill_doc
def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded negative log-likelihood loss (``torch.nn.functional.nll_loss``).

    Row :math:`n`'s term is :math:`\ell_n = -w_{t_n} x_{n,t_n}` (0 where ignored).

    Args:
        input: Log-probabilities, shape (C,), (N, C) or (N, C, d1, ..., dk); the class axis is 1 (0
            unbatched).
        target: Integer class indices of shape (N, d1, ..., dk) (() unbatched).
        %(class_weight)s
        %(ignore_index)s
        reduction: ``none`` (one value per row), ``sum`` or ``mean`` (the sum over the total weight
            :math:`W` of the non-ignored rows' targets).
        %(out_dtype)s

    Returns:
        %(row_returns)s
        A ``mean`` over zero total weight is NaN.

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``; ``input`` is 0-d;
            ``weight`` is not of shape (C,); an index target has the wrong shape or holds a class
            outside [0, C) that is not ``ignore_index``.
        TypeError: ``input`` or ``weight`` has an integer or boolean dtype or a format other than
            the four, or ``out_dtype`` names none of them. A target that does not hold integer class
            indices raises it too.
    """
    p = _problem(input, target, weight, ignore_index, reduction, 0.0, out_dtype, "nll_loss")
    special, value = _row_special(p, nll=True)
    return _reduce(p, special, value, None, None, nll=True)


@fill_doc
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded cross-entropy (``torch.nn.functional.cross_entropy``).

    Row :math:`n`'s term is :math:`\ell_n = \sum_i q_{n,i} (\log\sum_j e^{x_{n,j}} - x_{n,i})`,
    :math:`q` the weighted, smoothed target (module docstring).

    Args:
        input: Logits, shape (C,), (N, C) or (N, C, d1, ..., dk); the class axis is 1 (0 unbatched).
        target: Integer class indices of shape (N, d1, ..., dk) (() unbatched), or floating-point
            class probabilities shaped like ``input``.
        %(class_weight)s
        %(ignore_index)s
        reduction: ``none`` (one value per row), ``sum`` or ``mean`` (the sum over the total weight
            :math:`W` of the non-ignored rows' targets; over the number of rows for probability
            targets).
        label_smoothing: :math:`\varepsilon \in [0, 1]`, mixing the target with the uniform
            distribution over the C classes.
        %(out_dtype)s

    Returns:
        %(row_returns)s
        A ``mean`` over zero total weight is NaN.

    Raises:
        ValueError: ``reduction`` is not one of ``none``, ``sum``, ``mean``; ``label_smoothing`` is
            not in [0, 1]; ``input`` is 0-d; ``weight`` is not of shape (C,); an index target has
            the wrong shape or holds a class outside [0, C) that is not ``ignore_index``; a
            probability target is not shaped like ``input``.
        TypeError: ``input``, ``weight`` or a probability target has an integer or boolean dtype or
            a format other than the four, or ``out_dtype`` names none of them.
        %(certification_error)s
    """
    p = _problem(
        input, target, weight, ignore_index, reduction, label_smoothing, out_dtype, "cross_entropy"
    )
    special, value = _row_special(p, nll=False)

    def vec(st, rows, dd):  # type: ignore[no-untyped-def]
        return _row_terms(p, st, rows, dd)

    def row(er, r):  # type: ignore[no-untyped-def]
        q = p.q_row(r)
        Q = sum(q, Fraction(0))
        qd = sum(
            (qi * er.d[i] for i, qi in enumerate(q) if qi and er.d[i] is not None), Fraction(0)
        )
        return XVal.of(Q) * er.stats()[3] - XVal.of(qd)

    return _reduce(p, special, value, vec, row, nll=False)


def _scales(p: _Problem, grad_output: Any) -> tuple[np.ndarray, Fraction | None]:
    """Per-row cotangent scale s_n as float64 (NaN where undefined) and, for the reductions
    to a scalar, exactly (``none``: the float64 values are the exact scales)."""
    R = p.x2.shape[0]
    if p.reduction == "none":
        if grad_output is None:
            return np.ones(R), None
        g = as_float_array(grad_output, "grad_output")[0]
        if g.shape != p.out_shape:
            raise ValueError(f"grad_output must have shape {p.out_shape}, got {g.shape}")
        return g.reshape(-1), None
    g = np.ones(()) if grad_output is None else as_float_array(grad_output, "grad_output")[0]
    if g.shape != ():
        raise ValueError(f"grad_output of a {p.reduction!r} reduction must be a scalar")
    g0 = float(g)
    if not np.isfinite(g0):
        return np.full(R, np.nan), None
    if p.reduction == "sum":
        return np.full(R, g0), fraction(g0)
    W = p.total_weight()
    if W == 0:
        return np.full(R, np.nan), None
    s = fraction(g0) / W
    return np.full(R, float(s)), s


def _scale_enc(
    p: _Problem, gvec: np.ndarray, gex: Fraction | None, rows: np.ndarray, dd: bool
) -> Enc:
    """The scales s_n of ``rows`` (from :func:`_scales`) as an (r,) enclosure: exact per row
    for ``none``, else the exact scalar ``gex`` in the float64 or double-double tier."""
    if p.reduction == "none":
        return Enc.exact(gvec[rows], dd)
    h, l, r = dd_parts(gex)  # type: ignore[arg-type]
    if not dd:
        r, l = r + abs(l), 0.0
    n = len(rows)
    return Enc(np.full(n, h), np.full(n, l) if dd else 0.0, np.full(n, r), dd)


def _grad(p: _Problem, grad_output: Any, nll: bool) -> np.ndarray:
    R, C = p.x2.shape
    fmt = p.fmt
    gvec, gex = _scales(p, grad_output)
    out = np.zeros((R, C), dtype=fmt.dtype)
    special, value = _row_special(p, nll=nll)
    nonfinite_term = special & ~p.ignored & ~(value == 0)
    undefined = np.isnan(gvec) & ~p.ignored
    if nll:
        rows = np.flatnonzero(~p.ignored & ~undefined)
        t = p.t[rows]  # type: ignore[index]
        if p.reduction == "mean":
            vals = np.array([round_rational(-fraction(p.w[ti]) * gex, fmt) for ti in t])  # type: ignore[operator]
        else:
            vals = _round_products(-p.w[t], gvec[rows], fmt)
        out[rows, t] = vals
        und = np.flatnonzero(undefined)
        out[und, p.t[und]] = np.nan  # type: ignore[index]
        return _grad_output_shape(p, out)
    out[nonfinite_term | undefined] = np.nan
    reg = np.flatnonzero(~special & ~undefined)
    if reg.size:

        def vec(st, rows, dd):  # type: ignore[no-untyped-def]
            return _row_grads(p, st, reg[rows], dd, _scale_enc(p, gvec, gex, reg[rows], dd))

        qcache: dict[int, tuple[list[Fraction], Fraction]] = {}

        def elem(er, r, i):  # type: ignore[no-untyped-def]
            rr = int(reg[r])
            if rr not in qcache:  # the row's target weights, once per row
                qcache.clear()
                qrow = p.q_row(rr)
                qcache[rr] = (qrow, sum(qrow, Fraction(0)))
            q, Q = qcache[rr]
            s = fraction(gvec[rr]) if p.reduction == "none" else gex
            if er.c == 1 and er.d[i] == 0:
                v = XVal.of(Q) * er.softmax_minus_one(i) + XVal.of(Q - q[i])
            else:
                v = XVal.of(Q) * er.softmax(i) - XVal.of(q[i])
            return v * XVal.of(s)

        out = assign_rows(out, reg, tiers.elementwise(select_rows(p.x2, reg), fmt, vec, elem))
    return _grad_output_shape(p, out)


def _grad_output_shape(p: _Problem, out2: np.ndarray) -> np.ndarray:
    shape = (*p.out_shape, p.C) if p.out_shape else (p.C,)
    moved = out2.reshape(shape)
    res = moved if not p.out_shape else np.moveaxis(moved, -1, 1)
    return to_output(res, p.fmt.name)


@vjp_doc(nll_loss, "loss", exact_tier=False)
def nll_loss_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`nll_loss` with respect to ``input``: :math:`-s_n w_{t_n}` at the target.

    :math:`s_n` is the cotangent :math:`g` times the reduction's scale (1, or :math:`1/W` for
    ``mean``); every other element is 0.
    """
    p = _problem(input, target, weight, ignore_index, reduction, 0.0, out_dtype, "nll_loss")
    return _grad(p, grad_output, nll=True)


@vjp_doc(
    cross_entropy,
    "loss",
    note="It is 0 on ignored rows and NaN on rows whose term is not finite.",
)
def cross_entropy_grad(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""VJP of :func:`cross_entropy` with respect to ``input``: :math:`s_n (Q_n y_{n,i} - q_{n,i})`.

    :math:`y` is the softmax of row :math:`n`, :math:`Q_n = \sum_i q_{n,i}` and :math:`s_n` the
    cotangent :math:`g` times the reduction's scale.
    """
    p = _problem(
        input, target, weight, ignore_index, reduction, label_smoothing, out_dtype, "cross_entropy"
    )
    return _grad(p, grad_output, nll=False)
