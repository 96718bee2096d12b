r"""Row statistics of the log-sum-exp, at every tier.

For a row :math:`x_1..x_C` with finite maximum :math:`m` (entries of -inf allowed):

.. math::

   d_i = x_i - m \le 0,\qquad e_i = e^{d_i},\qquad c = \#\{i : x_i = m\},\qquad
   T = \sum_{x_i < m} e_i,\qquad S = c + T,

   \log S = \begin{cases}\operatorname{log1p}(T) & c = 1\\ \log(c + T) & c > 1\end{cases},
   \qquad \mathrm{LSE}(x) = m + \log S.

Splitting the maximal terms off keeps :math:`\log S` accurate in *relative* terms when it is
tiny (a confident prediction whose cross-entropy is :math:`\approx T \ll 1`), and
:math:`y_i - 1 = -T/S` for the unique maximum avoids the cancellation of :math:`y_i - 1`.
The shift by the maximum is the standard overflow-free evaluation (Blanchard, Higham and
Higham, "Accurately computing the log-sum-exp and softmax functions", IMA J. Numer. Anal.
41(4), 2021); here it is also exact: :math:`d_i` is computed exactly in double-double, and in
the float64 tier with its rounding error bounded.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
from fractions import Fraction
from typing import cast

import numpy as np

from reference import dd as ddm
from reference.elementary import F64_ELEM_REL, TINY
from reference.enclosure import Enc, K, U, blocked_sum
from reference.exact import XVal

TINY_REL = 2.0**-1000  # relative slack absorbing results near the float64 underflow threshold


@dataclasses.dataclass
class RowStats:
    """Vectorised statistics of rows ``x`` (shape (R, C)); see the module docstring."""

    m: np.ndarray  # (R,)
    d: Enc  # (R, C)
    is_max: np.ndarray  # (R, C) bool
    masked: np.ndarray  # (R, C) bool: x == -inf
    c: np.ndarray  # (R,) count of maxima
    e_: Enc | None  # (R, C), exactly 1 at maxima, 0 at -inf (float64 tier: built on demand)
    ev: np.ndarray  # the values of e
    T: Enc  # (R,)
    S: Enc  # (R,)
    logS: Enc  # (R,)
    #: float64 tier: per-row bound on the relative error of every e_i (None in double-double)
    kappa: np.ndarray | None = None

    @property
    def e(self) -> Enc:
        if self.e_ is None:
            assert self.kappa is not None
            self.e_ = Enc(self.ev, 0.0, self.ev * self.kappa[:, None] + TINY, False)
        return self.e_

    def e_at(self, rows: np.ndarray, cols: np.ndarray) -> Enc:
        """e at the given (row, column) pairs, without building the whole enclosure."""
        if self.kappa is None:
            return self.e[rows, cols]
        v = self.ev[rows, cols]
        return Enc(v, 0.0, v * self.kappa[rows] + TINY, False)

    def softmax(self) -> Enc:
        """y_i = e_i / S."""
        return self.scaled_e(Enc.exact(np.ones(self.m.shape), self.e.dd) / self.S)

    def scaled_e(self, f: Enc) -> Enc:
        """e_i * f_n for a per-row factor f (shape (R,)).  In the float64 tier the bound is
        relative, |v| (kappa_n + r_f/|f| + u), one multiplication per element."""
        if self.kappa is None:
            return self.e * f.expand()
        fh = f.h[:, None]
        v = self.ev * fh
        rel = (self.kappa + f.r / np.abs(f.h) + 2 * U) * K
        r = np.abs(v) * rel[:, None] + TINY * np.abs(fh)
        return Enc(v, 0.0, r, False)

    def softmax_minus_one_at_max(self) -> Enc:
        """y_i - 1 = -(S - e_i)/S, exact in form for the unique maximum: -T/S."""
        return -(self.T / self.S)


def row_stats(x: np.ndarray, dd: bool, accurate: bool = False) -> RowStats:
    """Statistics of the rows of ``x`` (float64, every row with a finite maximum and no NaN or
    +inf) in the float64 (``dd=False``) or double-double tier.

    ``accurate`` (float64 tier only) is the intermediate tier used for rows the plain float64
    tier could not certify: ``d`` exact by TwoSum, ``e_i = e^{d_h}(1 + d_l)`` (relative error
    the libm bound plus 2u), and ``T`` summed in double-double, so that only the per-element
    exponential error remains."""
    with np.errstate(over="ignore", invalid="ignore"):
        return _row_stats(x, dd, accurate)


def _row_stats(x: np.ndarray, dd: bool, accurate: bool) -> RowStats:
    m = np.max(x, axis=-1)
    lo = np.min(x, axis=-1)
    any_masked = bool(np.any(np.isneginf(lo)))
    masked = np.isneginf(x) if any_masked else np.zeros(x.shape, bool)
    with np.errstate(invalid="ignore", over="ignore"):
        if dd:
            dh, dl = ddm.two_sum(x, -m[:, None])
            if any_masked:
                dh = np.where(masked, -np.inf, dh)
                dl = np.where(masked, 0.0, dl)
            d = Enc(dh, dl, np.zeros_like(dh), True)
            is_max = dh == 0
            e = d.exp()
            e_rest = e.where(~is_max, Enc.exact(np.zeros_like(dh), dd))
            T = e_rest.sum_last()
            kappa = None
        elif accurate:
            dh, dl = ddm.two_sum(x, -m[:, None])
            kappa = np.full(m.shape, F64_ELEM_REL + 3 * U + TINY_REL)
            is_max = dh == 0
            v = np.exp(dh)
            v = v + v * dl  # e^{dh + dl} = e^{dh}(1 + dl + O(dl^2)), |dl| <= u |dh|
            v_rest = v - is_max
            sh, sl, sb = ddm.sum_last_axis(v_rest, np.zeros_like(v_rest))
            Th = sh + sl
            T = Enc(Th, 0.0, (kappa * Th + sb + U * np.abs(Th) + TINY * x.shape[-1]) * K, False)
            if any_masked:
                dh = np.where(masked, -np.inf, dh)
            d = Enc(dh, 0.0, np.abs(dl), False)
            e = None
        else:
            dh = x - m[:, None]
            # |fl(d) - d| <= u |d| <= u D with D the row's spread: a relative error of at most
            # e^{uD} - 1 on e_i = exp(d_i); with the libm error this is kappa per row.
            if any_masked:
                lo = np.min(np.where(masked, m[:, None], x), axis=-1)
            D = m - lo
            kappa = F64_ELEM_REL + U * D * 1.01 + TINY_REL
            is_max = dh == 0
            v = np.exp(dh)
            v_rest = v - is_max  # exactly 0 at the maxima, where exp(0) = 1
            Th, Tb = blocked_sum(v_rest, nonneg=True)
            T = Enc(Th, 0.0, (kappa * Th + Tb + TINY * x.shape[-1]) * K, False)
            d = Enc(dh, 0.0, U * np.abs(dh), False)  # inf at -inf entries: never used there
            e = None  # built on demand from v and kappa (see RowStats.e)
    c = np.sum(is_max, axis=-1)
    S = T + Enc.exact(c.astype(np.float64), dd)
    unique = c == 1
    if np.all(unique):
        logS = T.log1p()
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            logS = T.log1p().where(unique, S.log())
    return RowStats(
        m=m,
        d=d,
        is_max=is_max,
        masked=masked,
        c=c,
        e_=e,
        ev=cast(Enc, e).h if dd else v,  # dd: e is built above
        T=T,
        S=S,
        logS=logS,
        kappa=kappa,
    )


class ExactRow:
    """The same statistics for one row, as :class:`~reference.exact.XVal` at the current
    decimal precision (cached per precision).  Terms so small that they cannot matter at this
    precision are enclosed in bulk: ``k`` terms below :math:`e^{-L}` add at most
    :math:`k e^{-L}`."""

    def __init__(self, row: np.ndarray | list[Fraction] | list[Fraction | float]) -> None:
        """``row``: floats (an array) or exact rationals (a list of Fractions, with
        ``-math.inf`` for masked entries), e.g. logits computed exactly from a matmul."""
        vals = [v if isinstance(v, Fraction) else float(v) for v in row]
        finite = [v for v in vals if v != -math.inf]
        self.m = max(finite)
        self.fm = Fraction(self.m)
        self.d = [None if v == -math.inf else Fraction(v) - self.fm for v in vals]
        self.c = sum(1 for v in vals if v == self.m)
        self._cache: dict[int, tuple[list[XVal | None], XVal, XVal, XVal]] = {}

    def stats(self) -> tuple[list[XVal | None], XVal, XVal, XVal]:
        """(e_i or None for -inf, T, S, log S) at the current precision."""
        prec = decimal.getcontext().prec
        if prec in self._cache:
            return self._cache[prec]
        n = len(self.d)
        # terms below e^cutoff cannot matter at this precision: enclosed in bulk, between the
        # largest of them (a strictly positive lower bound, so that an exact midpoint plus a
        # far term still rounds away from the tie) and count * e^cutoff
        cutoff = Fraction(-int(prec * 2.31 + math.log(n + 1) + 20))
        es: list[XVal | None] = []
        T = XVal.of(0)
        small_count = 0
        small_max: Fraction | None = None
        for di in self.d:
            if di is None:
                es.append(None)
                continue
            if di == 0:
                es.append(XVal.of(1))
                continue
            if di < cutoff:
                small_count += 1
                small_max = di if small_max is None else max(small_max, di)
                es.append(None)  # computed on demand
                continue
            ei = XVal.of(di).exp()
            es.append(ei)
            T = T + ei
        if small_count:
            assert small_max is not None
            with decimal.localcontext() as c2:
                c2.prec = 20
                c2.Emin, c2.Emax = -(10**9), 10**9
                ub = decimal.Decimal(int(cutoff)).exp() * 2 * small_count
                lb = decimal.Decimal(0)
                if small_max > -(10**8):  # e^small_max still above decimal's underflow
                    lb = (decimal.Decimal(small_max.numerator) / small_max.denominator).exp()
                    lb = lb * decimal.Decimal("0.999999")
            # the tail is strictly positive even where its lower bound underflows to 0
            T = T + XVal.interval(lb, ub, lo_open=True)
        S = T + self.c
        logS = T.log1p() if self.c == 1 else S.log()
        out = (es, T, S, logS)
        self._cache[prec] = out
        return out

    def e(self, i: int) -> XVal:
        es = self.stats()[0]
        if self.d[i] is None:
            return XVal.of(0)
        ei = es[i]
        if ei is None:
            ei = XVal.of(cast(Fraction, self.d[i])).exp()
        return ei

    def softmax(self, i: int) -> XVal:
        _es, _T, S, _logS = self.stats()
        if self.c == 1 and self.d[i] == 0:
            return XVal.of(1) / S
        return self.e(i) / S

    def softmax_minus_one(self, i: int) -> XVal:
        _es, T, S, _logS = self.stats()
        if self.d[i] == 0 and self.c == 1:
            return -(T / S)
        return self.softmax(i) - 1

    def log_softmax(self, i: int) -> XVal | float:
        if self.d[i] is None:
            return -math.inf  # exactly -inf at a -inf logit
        _es, _T, _S, logS = self.stats()
        return XVal.of(cast(Fraction, self.d[i])) - logS

    def lse(self) -> XVal:
        return XVal.of(self.fm) + self.stats()[3]
