r"""``linear_cross_entropy`` (PyTorch's semantics) and its vector-Jacobian product.

The logits are the affine map :math:`z = x W^\top + b` of the activations ``input``
:math:`x` (shape (N, H), or (H,) unbatched) by ``linear_weight`` :math:`W` (shape (V, H), or
(V, d1, ..., dk, H) for a K-dimensional loss, whose logits then have shape (N, V, d1, ..., dk))
and the optional ``linear_bias`` :math:`b` (shape (V,) or (V, d1, ..., dk)), followed by
:func:`reference.cross_entropy` with the same ``weight``, ``ignore_index``, ``reduction`` and
``label_smoothing``, as ``torch.nn.functional.linear_cross_entropy`` documents
(https://docs.pytorch.org/docs/main/generated/torch.nn.functional.linear_cross_entropy.html).
The logits are never rounded: every input is a dyadic rational, so :math:`z` is computed exactly
with integer arithmetic and only the results are rounded, once.

Gradients, with :math:`\partial z = \partial\ell/\partial z` the exact cross-entropy gradient
:math:`s_n (Q_n y_{n,i} - q_{n,i})` (see :mod:`reference.cross_entropy_loss`):
:math:`\bar x = \partial z\, W`, :math:`\bar W = \partial z^\top x`,
:math:`\bar b = \sum_n \partial z_n`; each element is the exact real value rounded once.

How the values are decided
    ``zh`` is the float64 nearest to each exact logit after the exact shift of every row by its
    maximum (the loss and its gradient are invariant under it, and the shift keeps every
    logit of a regular row in float64's range; it also makes the row maximum exactly 0), and
    :math:`\delta_n = \max_i |z_{n,i} - zh_{n,i}|` is an upper bound per row.  The vectorised
    tiers of :mod:`reference.tiers` evaluate :math:`f(zh)` with rigorous enclosures, which are
    then widened to enclose :math:`f(z)` by these Lipschitz bounds in the infinity norm
    (:math:`\|z - zh\|_\infty \le \delta`):

    * loss row :math:`\ell(z) = \sum_i q_i(\mathrm{LSE}(z) - z_i)` has gradient
      :math:`Q y_i - q_i`, whose 1-norm is at most :math:`|Q|\sum_i y_i + \sum_i |q_i| =
      |Q| + \|q\|_1` (:math:`2Q` for non-negative weights); by the mean value theorem
      :math:`|\ell(z) - \ell(zh)| \le (|Q| + \|q\|_1)\,\delta`.
    * softmax: :math:`\log y_i(z) - \log y_i(zh) = (z_i - zh_i) - (\mathrm{LSE}(z) -
      \mathrm{LSE}(zh))` and LSE is 1-Lipschitz in the infinity norm (its gradient is the
      softmax, of 1-norm 1), so :math:`y_i(z) \in y_i(zh)[e^{-2\delta}, e^{2\delta}]` and
      :math:`|y_i(z) - y_i(zh)| \le y_i(zh)(e^{2\delta} - 1)`.
    * hence :math:`|\partial z_i(z) - \partial z_i(zh)| = |s Q|\,|y_i(z) - y_i(zh)| \le
      |s Q|\, y_i(zh) (e^{2\delta} - 1)`.

    Where the logits are exact floats (:math:`\delta = 0`: often the case for float16 and
    bfloat16 inputs) nothing is widened.  The loss reuses the cross-entropy assembly (special
    values, reductions) with these widened enclosures.  The gradient contractions are float64
    matrix products of the enclosure midpoints with the exact ``W``, ``x`` or ones, bounded by
    :math:`\gamma_k\,|\partial z_h|\,|B| + \partial z_r\,|B|` with
    :math:`\gamma_k = k u/(1 - k u)`, :math:`u = 2^{-53}`, for any order of summation (Higham,
    *Accuracy and Stability of Numerical Algorithms*, 2nd ed., Lemma 3.1 and §3.5), plus
    :math:`k\,2^{-1074}` for underflow; :func:`reference.rounding.certify` decides each element.
    Anything not certified goes to the exact tier: a :class:`~reference.exact.XVal` sum over
    the contraction of the exact :math:`\partial z` (from :class:`~reference.lse.ExactRow` of
    the exact logit row) times the exact entries, under Ziv's loop.  For float64 outputs the
    float64 :math:`\delta \approx 2^{-53}|z|` and the float64 products are too coarse to
    certify, so those outputs are decided by the exact tier: fine at the small shapes the
    reference is used at for this op (N, H, V = 8, 8, 12: 0.07 s for the three gradients;
    32, 64, 256: about 35 s, against 0.6 s in float32).

Huge logit spreads
    Rows whose shifted logits fall below :math:`-2^{1000}` (only float64 inputs near the top of
    the range produce them) skip the vectorised tiers.  In the exact tier, the exponentials of
    shifted logits below :math:`-2^{12}` (the *tail*: large inputs in any format) are enclosed
    by :math:`[0, 10^{-1700}]`, the linear terms :math:`q_i z_i` staying exact.  Such rows are
    typically one-hot up to the tail, and then a gradient element is an exact rational
    :math:`E_0` (often a rounding midpoint, e.g. :math:`s(W_{k,h} - W_{t,h})`) plus a
    perturbation of known first-order form whose sign decides the rounding: see
    :func:`_decide_rational`.  What still cannot be decided raises
    :class:`~reference.exact.CertificationError` rather than guessing.

Non-finite inputs
    A logit is the extended-real sum of its products: NaN if any product is NaN (a NaN factor,
    or :math:`0\cdot\infty`) or if both :math:`+\infty` and :math:`-\infty` occur; otherwise
    :math:`\pm\infty` if an infinite product occurs; the cross-entropy table then applies to the
    logit rows.  Gradients: a row whose term is +inf or NaN (or whose cotangent is undefined)
    has NaN :math:`\partial z`, which makes its row of :math:`\bar x` and every element of
    :math:`\bar W` and :math:`\bar b` it enters NaN; an element of :math:`\bar x` (:math:`\bar W`)
    whose contraction multiplies a non-ignored row's :math:`\partial z` by a non-finite entry of
    :math:`W` (:math:`x`) is NaN (the derivative at an infinite parameter is undefined; autodiff
    gives NaN or an infinity there).  Ignored rows contribute exactly 0 whatever they hold.
"""

from __future__ import annotations

import dataclasses
import decimal
import math
from fractions import Fraction
from typing import Any, cast

import numpy as np

from reference import cross_entropy_loss as cel
from reference._docstrings import fill_doc, vjp_doc
from reference.arrays import as_native_array, out_format, to_output, widen
from reference.enclosure import Enc
from reference.exact import XVal, ziv
from reference.formats import FLOAT64, Format
from reference.lse import ExactRow, row_stats
from reference.pointwise import fraction
from reference.rounding import certify, round_rational
from reference.tiers import STATS
from reference.types import OutDtype, Reduction

U = 2.0**-53
K = 1.0 + 2.0**-40
#: smallest positive float64 (the absolute error of one underflowing product is at most half)
ETA = 2.0**-1074
#: shifted logits below -2^HUGE_EXP skip the vectorised tiers (see the module docstring)
HUGE_EXP = 1000
#: in the exact tier, shifted logits below -2^TAIL_EXP form the tail: their exponentials, below
#: e^{-4096} < 10^-1778, are enclosed by [0, _TAIL] (which bounds k e^{-4096} for any row length
#: k < 10^78).  Perturbations that small could not be resolved by Ziv's loop, capped at 2560
#: digits; larger ones can, so rows with logits above the tail go through it.
TAIL_EXP = 12
_TAIL = decimal.Decimal("1e-1700")

_F64_TIERS = (("f64", False, False), ("f64acc", False, True), ("dd", True, False))


# ------------------------------------------------------------------------------ arguments
@dataclasses.dataclass
class _Linear:
    """The flattened problem: logits Z2 (N, J) with J = V * D columns ordered (v, d)."""

    x: np.ndarray  # (N, H) float64
    W2: np.ndarray  # (J, H) float64
    b2: np.ndarray | None  # (J,) float64
    V: int
    D: int
    unbatched: bool
    in_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    b_shape: tuple[int, ...] | None
    logits_shape: tuple[int, ...]
    fmt: Format


def _linear_args(input: Any, linear_weight: Any, linear_bias: Any, out_dtype: Any) -> _Linear:
    x, xname = as_native_array(input, "input")
    w, _ = as_native_array(linear_weight, "linear_weight")
    fmt = out_format(out_dtype, xname)
    if x.ndim not in (1, 2):
        raise ValueError(
            f"linear_cross_entropy: input must have shape (H,) or (N, H), got {x.shape}"
        )
    if w.ndim < 2:
        raise ValueError(
            "linear_cross_entropy: linear_weight must have shape (V, H) or (V, d1, ..., dk, H),"
            f" got {w.shape}"
        )
    H = x.shape[-1]
    if w.shape[-1] != H:
        raise ValueError(
            f"linear_cross_entropy: input has {H} features but linear_weight has "
            f"{w.shape[-1]} (its last axis)"
        )
    V = w.shape[0]
    dk = tuple(w.shape[1:-1])
    D = math.prod(dk)
    unbatched = x.ndim == 1
    if dk and unbatched:
        raise ValueError(
            f"linear_cross_entropy: a K-dimensional linear_weight {w.shape} needs batched input "
            f"(N, {H}), got {x.shape}"
        )
    b2 = None
    b_shape = None
    if linear_bias is not None:
        b, _ = as_native_array(linear_bias, "linear_bias")
        if b.shape != (V, *dk):
            raise ValueError(
                f"linear_cross_entropy: linear_bias must have shape {(V, *dk)}, got {b.shape}"
            )
        b_shape = b.shape
        b2 = widen(b).reshape(V * D)
    x2 = widen(x).reshape(-1, H)
    N = x2.shape[0]
    logits_shape = (V,) if unbatched else (N, V, *dk)
    return _Linear(
        x2,
        widen(w).reshape(V * D, H),
        b2,
        V,
        D,
        unbatched,
        x.shape,
        w.shape,
        b_shape,
        logits_shape,
        fmt,
    )


# ------------------------------------------------------------------------- exact logits
def _scaled_ints(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Finite float64 values ``a`` as Python integers ``A`` (object array) and an exponent
    ``e`` with ``a = A * 2^e`` exactly (non-finite entries become 0)."""
    fin = np.isfinite(a)
    v = np.where(fin, a, 0.0)
    mant, ex = np.frexp(v)
    m = (mant * 2.0**53).astype(np.int64)  # exact: 53-bit significands
    e = ex.astype(np.int64) - 53
    nz = m != 0
    e0 = int(e[nz].min()) if np.any(nz) else 0
    shift = np.where(nz, e - e0, 0).astype(object)
    ints = m.astype(object) * (np.ones(a.shape, dtype=object) << shift)
    return ints, e0


@dataclasses.dataclass
class _Logits:
    """The exact logits in CE-row layout (R = N*D rows of V classes), shifted per row."""

    zh: np.ndarray  # (N, V, *dk) float64: nearest float64 of the shifted logits / markers
    delta: np.ndarray  # (R,) bound on |z - zh| over the finite entries (inf: exact tier only)
    ints: np.ndarray  # (R, V) object: shifted logits as integers (times 2^e0); None if not
    e0: int
    kind: np.ndarray  # (R, V) int8: 0 finite, 1 +inf, 2 -inf, 3 NaN


def _extended_kinds(L: _Linear) -> np.ndarray:
    """(N, J) kinds of the exact logits for non-finite inputs (0 finite, 1 +inf, 2 -inf, 3 NaN):
    the extended-real sum of the products x_nh W_jh and the bias."""
    x, W = L.x[:, None, :], L.W2[None, :, :]
    with np.errstate(invalid="ignore"):
        prod = x * W  # IEEE: inf * 0 = NaN, inf * finite = signed inf
    nan = np.any(np.isnan(prod), axis=-1)
    pos = np.any(np.isposinf(prod), axis=-1)
    neg = np.any(np.isneginf(prod), axis=-1)
    if L.b2 is not None:
        nan |= np.isnan(L.b2)[None, :]
        pos |= np.isposinf(L.b2)[None, :]
        neg |= np.isneginf(L.b2)[None, :]
    kind = np.zeros(nan.shape, np.int8)
    kind[pos] = 1
    kind[neg] = 2
    kind[nan | (pos & neg)] = 3
    return kind


def _to_rows(L: _Linear, a2: np.ndarray) -> np.ndarray:
    """(N, J) with J ordered (v, d) -> CE rows (N*D, V)."""
    N = a2.shape[0]
    return a2.reshape(N, L.V, L.D).transpose(0, 2, 1).reshape(N * L.D, L.V)


def _from_rows(L: _Linear, r: np.ndarray) -> np.ndarray:
    """CE rows (N*D, V) -> (N, J)."""
    N = r.shape[0] // L.D
    return r.reshape(N, L.D, L.V).transpose(0, 2, 1).reshape(N, L.V * L.D)


def _exact_logits(L: _Linear) -> _Logits:
    xi, ex = _scaled_ints(L.x)
    wi, ew = _scaled_ints(L.W2)
    Z = xi.dot(wi.T) if L.x.shape[1] else np.zeros((L.x.shape[0], L.W2.shape[0]), dtype=object)
    e0 = ex + ew
    if L.b2 is not None:
        bi, eb = _scaled_ints(L.b2)
        if eb < e0:
            Z = Z * (1 << (e0 - eb))
            e0 = eb
        Z = Z + bi[None, :] * (1 << (eb - e0))
    finite_in = (
        np.all(np.isfinite(L.x))
        and np.all(np.isfinite(L.W2))
        and (L.b2 is None or np.all(np.isfinite(L.b2)))
    )
    kind2 = np.zeros(Z.shape, np.int8) if finite_in else _extended_kinds(L)
    Zr = _to_rows(L, Z)
    kind = _to_rows(L, kind2)
    R, V = Zr.shape
    zh = np.zeros((R, V))
    delta = np.zeros(R)
    ints = np.empty((R, V), dtype=object)
    huge = Fraction(-(2**HUGE_EXP))
    for r in range(R):
        k = kind[r]
        fin = k == 0
        if np.any(k == 3) or np.any(k == 1):
            # +inf or NaN: the cross-entropy table decides; finite values do not matter
            zh[r] = np.where(
                k == 1, np.inf, np.where(k == 2, -np.inf, np.where(k == 3, np.nan, 0.0))
            )
            continue
        if not np.any(fin):
            zh[r] = -np.inf
            continue
        m = max(Zr[r, fin])
        row = np.where(fin, Zr[r] - m, 0)
        ints[r] = row
        vals, err, out_of_range = _round_row(row, fin, e0, huge)
        zh[r] = np.where(fin, vals, -np.inf)
        delta[r] = np.inf if out_of_range else err
    shaped = _from_rows(L, zh).reshape(L.logits_shape)
    return _Logits(shaped, delta, ints, e0, kind)


def _round_row(
    row: np.ndarray, fin: np.ndarray, e0: int, huge: Fraction
) -> tuple[np.ndarray, float, bool]:
    """Nearest float64 of the entries ``row * 2^e0`` (non-positive integers), an upper bound on
    the largest error, and whether some entry lies below the ``huge`` threshold (those are
    clamped to it)."""
    out = np.zeros(len(row))
    err = 0.0
    big = False
    scale = Fraction(2) ** e0
    for i, D in enumerate(row):
        if not fin[i] or D == 0:
            continue
        if -(1 << 53) < D and -1022 + 53 <= e0 <= 1023 - 53:
            out[i] = math.ldexp(float(D), e0)  # exact: 53 bits, normal range
            continue
        q = Fraction(D) * scale
        if q < huge:
            out[i] = float(huge)
            big = True
            continue
        f = round_rational(q, FLOAT64)
        out[i] = f
        e = abs(q - Fraction(f))
        if e:
            err = max(err, float(e) * (1 + 2.0**-50) + ETA)
    return out, err, big


class _ExactLogitRow:
    """Exact statistics of one shifted logit row (:class:`ExactRow` of its rationals); the tail
    entries (below -2^12) enter as -inf, their exponentials enclosed by [0, 10^-1700]."""

    def __init__(self, ints: np.ndarray, kind: np.ndarray, e0: int) -> None:
        scale = Fraction(2) ** e0
        huge = -(2**TAIL_EXP)
        self.z: list[Fraction | None] = [
            Fraction(v) * scale if k == 0 else None for v, k in zip(ints, kind, strict=True)
        ]
        self.tail = {i for i, v in enumerate(self.z) if v is not None and v < huge}
        self.er = ExactRow(
            [-math.inf if (v is None or i in self.tail) else v for i, v in enumerate(self.z)]
        )
        #: every finite logit above the tail is a maximum: the softmax is rational up to the tail
        self.rational = all(d == 0 for d in self.er.d if d is not None)

    def _tiny(self) -> XVal:
        return XVal.interval(decimal.Decimal(0), _TAIL)

    def log_s(self) -> XVal:
        v = self.er.stats()[3]
        return v + self._tiny() if self.tail else v

    def softmax(self, i: int) -> XVal:
        if i in self.tail:
            return self._tiny()
        y = self.er.softmax(i)
        return y - y * self._tiny() if self.tail else y

    def softmax_minus_one(self, i: int) -> XVal:
        v = self.er.softmax_minus_one(i)
        return v - self._tiny() if self.tail else v

    def unique_max(self, i: int) -> bool:
        return self.er.c == 1 and self.er.d[i] == 0

    def loss_split(self, q: list[Fraction]) -> tuple[Fraction, Fraction] | None:
        """``(E0, Q)`` when the row's loss is exactly ``E0 + Q log1p(sum of the tail's
        exponentials)``: a unique maximum and nothing else above the tail (``S' = 1``)."""
        if not (self.rational and self.er.c == 1):
            return None
        lin = sum(
            (qi * zi for qi, zi in zip(q, self.z, strict=True) if qi and zi is not None),
            Fraction(0),
        )
        return -lin, sum(q, Fraction(0))

    def tail_groups(self, coef: Fraction, groups: dict[Fraction, _Group]) -> None:
        """Add ``coef * e^{z_j}`` for every tail entry (first order of ``coef log1p(T)``)."""
        for j in self.tail:
            groups.setdefault(self.z[j], _Group()).add(coef, None)  # type: ignore[arg-type]

    def loss(self, q: list[Fraction]) -> XVal:
        Q = sum(q, Fraction(0))
        lin = sum(
            (qi * zi for qi, zi in zip(q, self.z, strict=True) if qi and zi is not None),
            Fraction(0),
        )
        return XVal.of(Q) * self.log_s() - XVal.of(lin)

    def dz(self, i: int, q: list[Fraction], s: Fraction) -> XVal:
        Q = sum(q, Fraction(0))
        if self.unique_max(i):
            v = XVal.of(Q) * self.softmax_minus_one(i) + XVal.of(Q - q[i])
        else:
            v = XVal.of(Q) * self.softmax(i) - XVal.of(q[i])
        return v * XVal.of(s)


# ------------------------------------------------------------------------ shared pieces
def _weight_bound(p: cel._Problem) -> np.ndarray:
    """Per row, an upper bound on |Q_n| + sum_i |q_{n,i}| (float64)."""
    alpha, beta = float(1 - p.eps), float(p.eps / p.C)
    aw = np.abs(p.w)
    if p.index:
        t = np.where(p.ignored, 0, cast(np.ndarray, p.t))  # index targets: t is set
        b = 2 * (beta * np.sum(aw) + alpha * aw[t])
    else:
        y = widen(p.y)  # type: ignore[arg-type]
        b = 2 * np.sum(aw[None, :] * (alpha * np.abs(y) + beta), axis=-1)
    return b * (1 + (p.C + 8) * U) * K


def _problem(
    L: _Linear,
    lg: _Logits,
    target: Any,
    weight: Any,
    ignore_index: int | None,
    reduction: str,
    label_smoothing: float,
) -> cel._Problem:
    ii = -100 if ignore_index is None else ignore_index
    return cel._problem(
        lg.zh, target, weight, ii, reduction, label_smoothing, L.fmt.name, "linear_cross_entropy"
    )


class _Rows:
    """Cache of exact logit rows (built on first use)."""

    def __init__(self, lg: _Logits) -> None:
        self.lg = lg
        self.cache: dict[int, _ExactLogitRow] = {}

    def __call__(self, r: int) -> _ExactLogitRow:
        if r not in self.cache:
            self.cache[r] = _ExactLogitRow(self.lg.ints[r], self.lg.kind[r], self.lg.e0)
        return self.cache[r]


# ------------------------------------------------------------------------------- the loss
@fill_doc
def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any = None,
    weight: Any = None,
    ignore_index: int | None = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    out_dtype: OutDtype = None,
) -> np.ndarray:
    r"""Correctly rounded ``cross_entropy(input @ linear_weight^T + linear_bias, target, ...)``
    (``torch.nn.functional.linear_cross_entropy``).

    The logits :math:`z = x W^\top + b` are taken exactly (never rounded), then
    :math:`\ell_n = \sum_i q_{n,i} (\log\sum_j e^{z_{n,j}} - z_{n,i})` as in
    :func:`reference.cross_entropy`.

    Args:
        input: Activations :math:`x` of shape (N, H) or (H,).
        linear_weight: :math:`W` of shape (V, H), or (V, d1, ..., dk, H) for a K-dimensional loss.
        target: As for :func:`reference.cross_entropy`, for logits of shape (N, V) or
            (N, V, d1, ..., dk) ((V,) unbatched).
        linear_bias: :math:`b` of shape (V,) or (V, d1, ..., dk) (``None``: none).
        weight, reduction, label_smoothing: As for :func:`reference.cross_entropy`.
        ignore_index: As for :func:`reference.cross_entropy` (``None``: -100).
        %(out_dtype)s

    Returns:
        %(row_returns)s

    Raises:
        ValueError: ``input`` is not of shape (H,) or (N, H); ``linear_weight`` is not of shape
            (V, H) or (V, d1, ..., dk, H) with ``input``'s H (or is K-dimensional with unbatched
            input); ``linear_bias`` is not of shape (V, d1, ..., dk); and every
            :func:`reference.cross_entropy` argument error (``reduction``, ``label_smoothing``,
            ``weight``, ``target``) for the logits of shape (N, V, d1, ..., dk).
        TypeError: ``input``, ``linear_weight``, ``linear_bias``, ``weight`` or a probability
            target has an integer or boolean dtype or a format other than the four, or
            ``out_dtype`` names none of them.
        %(certification_error)s
    """
    L = _linear_args(input, linear_weight, linear_bias, out_dtype)
    lg = _exact_logits(L)
    p = _problem(L, lg, target, weight, ignore_index, reduction, label_smoothing)
    special, value = cel._row_special(p, nll=False)
    bound = _weight_bound(p)
    rows = _Rows(lg)

    def vec(st, rr, dd):  # type: ignore[no-untyped-def]
        t = cel._row_terms(p, st, rr, dd)
        with np.errstate(invalid="ignore", over="ignore"):
            extra = bound[rr] * lg.delta[rr] * K
            extra = np.where(lg.delta[rr] == 0, 0.0, extra)
        return Enc(t.h, t.l, (t.r + extra) * K, t.dd)

    decided: dict[int, float | None] = {}

    def row(er, r):  # type: ignore[no-untyped-def]
        q = p.q_row(r)
        if p.reduction == "none":
            # a single row's value: decide a tail-broken tie exactly (see _round_perturbed)
            if r not in decided:
                decided[r] = _decide_loss(p, rows, [r], Fraction(1))
            v = decided[r]
            if v is not None:
                if not math.isfinite(v):  # overflow: any rational beyond the threshold
                    return XVal.of((1 if v > 0 else -1) * Fraction(2) ** (p.fmt.emax + 2))
                return XVal.of(v)
        return rows(r).loss(q)

    if p.reduction != "none":
        total = _decide_reduction(p, rows, special, value)
        if total is not None:
            return to_output(np.array(total), L.fmt.name)
    return cel._reduce(p, special, value, vec, row, nll=False)


def _decide_loss(p: cel._Problem, rows: _Rows, regs: list[int], divisor: Fraction) -> float | None:
    """The rounded ``sum_r loss_r / divisor`` when every row's loss splits as
    ``E0 + Q log1p(T_tail)`` (see :meth:`_ExactLogitRow.loss_split`); None otherwise.
    ``log1p(T) = T - T^2/2 + ...``: first order ``sum_j e^{z_j}``, remainder below ``k^2
    e^{2 z*}``."""
    e0 = Fraction(0)
    groups: dict[Fraction, _Group] = {}
    mass = Fraction(0)
    for r in regs:
        row = rows(r)
        split = row.loss_split(p.q_row(r))
        if split is None:
            return None
        e, Q = split
        e0 += e / divisor
        if row.tail and Q:
            row.tail_groups(Q / divisor, groups)
            mass += abs(Q / divisor) * (len(row.tail) ** 2 + 1)
    return _round_perturbed(e0, groups, mass, p.fmt)


def _decide_reduction(
    p: cel._Problem, rows: _Rows, special: np.ndarray, value: np.ndarray
) -> float | None:
    """A sum or mean whose rows all split exactly (see :func:`_decide_loss`), decided
    directly; None when the cross-entropy assembly must decide (special values, zero total
    weight, or transcendental rows, where its Ziv loop works)."""
    sv = value[special & ~p.ignored]
    if np.any(sv != 0):
        return None
    W = p.total_weight() if p.reduction == "mean" else Fraction(1)
    if W == 0:
        return None
    regs = [int(r) for r in np.flatnonzero(~special)]
    if not regs:
        return None
    return _decide_loss(p, rows, regs, W)


# ---------------------------------------------------------------------------- the gradient
def _contract(ah: np.ndarray, ar: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``ah @ b`` and a bound on ``|(ah + e) @ b - fl(ah @ b)|`` for any ``|e| <= ar``."""
    k = ah.shape[1]
    g = k * U / (1 - k * U)
    t = k * ETA
    with np.errstate(over="ignore", invalid="ignore"):
        val = ah @ b
        ab = np.abs(b)
        f1 = np.abs(ah) @ ab
        f2 = ar @ ab
        rad = ((g * (f1 + t) + (f2 + t)) * (1 + 2 * g) + t) * K
    return val, rad


@vjp_doc(
    linear_cross_entropy,
    "loss",
    returns="``(grad_input, grad_linear_weight, grad_linear_bias)`` shaped like ``input``, "
    "``linear_weight`` and ``linear_bias`` (``None`` without a bias), in the output format, each "
    "element the exact value rounded once.",
)
def linear_cross_entropy_grad(
    input: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any = None,
    weight: Any = None,
    ignore_index: int | None = -100,
    reduction: Reduction = "mean",
    label_smoothing: float = 0.0,
    grad_output: Any = None,
    out_dtype: OutDtype = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    r"""VJP of :func:`linear_cross_entropy`:
    :math:`(\partial z\, W,\ \partial z^\top x,\ \sum_n \partial z_n)`.

    :math:`\partial z` is the exact cross-entropy gradient with respect to the logits
    (:func:`reference.cross_entropy_grad`).
    """
    L = _linear_args(input, linear_weight, linear_bias, out_dtype)
    lg = _exact_logits(L)
    p = _problem(L, lg, target, weight, ignore_index, reduction, label_smoothing)
    fmt = L.fmt
    R, V = p.x2.shape
    N, J = L.x.shape[0], L.W2.shape[0]
    gvec, gex = cel._scales(p, grad_output)
    special, value = cel._row_special(p, nll=False)
    undefined = np.isnan(gvec) & ~p.ignored
    nan_rows = (special & ~p.ignored & ~(value == 0)) | undefined
    reg = np.flatnonzero(~special & ~undefined)
    active = ~p.ignored  # rows whose dz may enter the contractions (zero rows included)

    # NaN overlays in the (N, J) layout
    nan2 = _from_rows(L, np.repeat(nan_rows[:, None], V, axis=1))
    act2 = _from_rows(L, np.repeat(active[:, None], V, axis=1)).astype(np.float64)
    bad_w = (~np.isfinite(L.W2)).astype(np.float64)
    bad_x = (~np.isfinite(L.x)).astype(np.float64)
    nan_in = np.any(nan2, axis=1)[:, None] | ((act2 @ bad_w) > 0)
    nan_w = np.any(nan2, axis=0)[:, None] | ((act2.T @ bad_x) > 0)
    nan_b = np.any(nan2, axis=0)
    xf = np.where(np.isfinite(L.x), L.x, 0.0)
    wf = np.where(np.isfinite(L.W2), L.W2, 0.0)

    outs = [np.zeros((N, L.x.shape[1])), np.zeros(L.W2.shape), np.zeros(J)]
    nans = [nan_in, nan_w, nan_b]
    pending = [~m for m in nans]
    bound = _weight_bound(p)
    ones = np.ones((N, 1))

    def contractions(dh2: np.ndarray, dr2: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        gi = _contract(dh2, dr2, wf)
        gw = _contract(dh2.T, dr2.T, xf)
        gb = _contract(dh2.T, dr2.T, ones)
        return [gi, gw, (gb[0][:, 0], gb[1][:, 0])]

    tiers = [] if fmt is FLOAT64 else _F64_TIERS
    if reg.size:
        zrows = widen(p.x2[reg])
        for name, dd, acc in tiers:
            st = row_stats(zrows, dd, acc)
            with np.errstate(all="ignore"):
                g = cel._row_grads(p, st, reg, dd, cel._scale_enc(p, gvec, gex, reg, dd))
                gh = np.array(g.h, dtype=np.float64)
                gr = np.array(g.r, dtype=np.float64)
                if dd:
                    gr = gr + np.abs(g.l)
                dl = lg.delta[reg]
                if np.any(dl != 0):
                    y = st.softmax()
                    yup = np.abs(y.h) + y.r + (np.abs(y.l) if dd else 0.0)
                    grow = np.expm1(2 * dl) * K
                    w = (np.abs(gvec[reg]) * (1 + 2.0**-50) * bound[reg] * grow)[:, None] * yup
                    gr = np.where(
                        (dl == 0)[:, None], gr, np.where(np.isinf(dl)[:, None], np.inf, gr + w * K)
                    )
            dh = np.zeros((R, V))
            dr = np.zeros((R, V))
            dh[reg] = gh
            dr[reg] = gr
            res = contractions(_from_rows(L, dh), _from_rows(L, dr))
            for k, (val, rad) in enumerate(res):
                ok, v = certify(val, 0.0, rad, fmt)
                sel = pending[k] & ok
                outs[k][sel] = v[sel]
                pending[k] &= ~ok
                STATS[name] += int(np.sum(sel))
            if not any(np.any(m) for m in pending):
                break
    else:
        for k in range(3):
            outs[k][pending[k]] = 0.0
            pending[k][...] = False
    if any(np.any(m) for m in pending):
        _exact_tier(L, lg, p, reg, gvec, gex, xf, wf, outs, pending)
    for k in range(3):
        outs[k][nans[k]] = np.nan
    gi = to_output(outs[0].reshape(L.in_shape), fmt.name)
    gw = to_output(outs[1].reshape(L.w_shape), fmt.name)
    gb = None if L.b_shape is None else to_output(outs[2].reshape(L.b_shape), fmt.name)
    return gi, gw, gb


def _exact_tier(
    L: _Linear,
    lg: _Logits,
    p: cel._Problem,
    reg: np.ndarray,
    gvec: np.ndarray,
    gex: Fraction | None,
    xf: np.ndarray,
    wf: np.ndarray,
    outs: list[np.ndarray],
    pending: list[np.ndarray],
) -> None:
    """Decide the still pending outputs one by one from the exact dz (cached per precision)."""
    fmt = L.fmt
    D = L.D
    rows = _Rows(lg)
    regset = {int(r) for r in reg}
    qs: dict[int, tuple[list[Fraction], Fraction]] = {}
    cache: dict[tuple[int, int, int], XVal] = {}

    def fx(n: int, h: int) -> Fraction:
        return Fraction(float(xf[n, h]))

    def fw(j: int, h: int) -> Fraction:
        return Fraction(float(wf[j, h]))

    def decide(terms: list[tuple[int, int, Fraction]], what: str) -> float:
        """Round sum_t dz[r_t, v_t] * b_t once (terms with a zero factor left out)."""
        terms = [(r, v, b) for r, v, b in terms if r in regset and b != 0]
        for r, _, _ in terms:
            if r not in qs:
                s = fraction(gvec[r]) if p.reduction == "none" else gex
                qs[r] = (p.q_row(r), s)  # type: ignore[assignment]
        STATS["exact"] += 1
        v = _decide_rational(terms, rows, qs, fmt)
        if v is not None:
            return v

        def build() -> XVal:
            acc = XVal.of(0)
            for r, v, b in terms:
                acc = acc + dz(r, v) * b
            return acc

        return ziv(build, fmt, what)

    def dz(r: int, v: int) -> XVal:
        key = (decimal.getcontext().prec, r, v)
        if key not in cache:
            q, s = qs[r]
            cache[key] = rows(r).dz(v, q, s)
        return cache[key]

    N, J = L.x.shape[0], L.W2.shape[0]
    for n, h in np.argwhere(pending[0]):
        terms = [(int(n) * D + j % D, j // D, fw(j, h)) for j in range(J)]
        outs[0][n, h] = decide(terms, "grad_input")
    for j, h in np.argwhere(pending[1]):
        terms = [(n * D + int(j) % D, int(j) // D, fx(n, h)) for n in range(N)]
        outs[1][j, h] = decide(terms, "grad_linear_weight")
    for (j,) in np.argwhere(pending[2]):
        terms = [(n * D + int(j) % D, int(j) // D, Fraction(1)) for n in range(N)]
        outs[2][j] = decide(terms, "grad_linear_bias")


def _decide_rational(
    terms: list[tuple[int, int, Fraction]],
    rows: _Rows,
    qs: dict[int, tuple[list[Fraction], Fraction]],
    fmt: Format,
) -> float | None:
    r"""Round :math:`E = \sum_t \partial z_{r_t, v_t} b_t` when every term is rational up to
    the tail: :math:`v_t` is a tail entry of its row, a -inf entry, or a maximum of a row
    whose finite logits above the tail (:math:`-2^{12}`) are all maxima.  With
    :math:`t_j = e^{z_j}` for the tail entries and :math:`S'` the row's sum without them
    (:math:`S' = c`, the count of maxima, in the last case), :math:`y_j = t_j/(S' + \sum t)`
    and at a maximum :math:`y_k = 1/(c + \sum t)`, so :math:`E = E_0 + P` with :math:`E_0` the
    exact rational at :math:`t = 0` and, to first order, :math:`P = \sum_j C_j t_j`
    (:math:`\partial y_j/\partial t_j = 1/S'`, :math:`\partial y_k/\partial t_j = -1/c^2`);
    the remainder is below :math:`(\sum|s Q b|)(k^2 + 1) e^{2 z^*}` (:math:`S' \ge 1`).
    :func:`_round_perturbed` then rounds; the sign of :math:`P`, when needed, is that of
    :math:`\sum_j C_j e^{z_j - z^*}` (:math:`z^*` the largest tail logit with a nonzero
    coefficient), decided at rising precision.  Returns None when this does not apply or stays
    undecided."""
    e0 = Fraction(0)
    groups: dict[Fraction, _Group] = {}
    mass = Fraction(0)
    any_tail = False
    for r, v, b in terms:
        row = rows(r)
        q, s = qs[r]
        Q = sum(q, Fraction(0))
        c = row.er.c
        dv = row.er.d[v]
        in_tail = v in row.tail
        if dv is not None and not (dv == 0 and row.rational):
            return None  # a transcendental softmax value
        y0 = Fraction(1, c) if dv == 0 else Fraction(0)
        e0 += s * (Q * y0 - q[v]) * b
        if not row.tail or (dv is None and not in_tail):
            continue  # no tail in the row, or a -inf entry: dz = -s q_v exactly
        any_tail = True
        sqb = s * Q * b
        mass += abs(sqb) * (len(row.tail) ** 2 + 1)
        if dv == 0:
            for j in row.tail:
                groups.setdefault(row.z[j], _Group()).add(-sqb / (c * c), None)  # type: ignore[arg-type]
        elif row.rational:
            groups.setdefault(row.z[v], _Group()).add(sqb / c, None)  # type: ignore[arg-type]
        else:
            groups.setdefault(row.z[v], _Group()).add(sqb, row)  # type: ignore[arg-type]
    return _round_perturbed(e0, groups, mass if any_tail else Fraction(0), fmt)


def _round_perturbed(
    e0: Fraction, groups: dict[Fraction, _Group], mass: Fraction, fmt: Format
) -> float | None:
    """Round ``e0 + P`` where ``P = sum_z C_z e^z`` over tail logits (first order) plus a
    remainder below ``mass * e^{2 z*}``; ``mass`` also bounds the coefficients' absolute sum
    (0: no tail, ``P = 0``).  Since ``e^{z*} < e^{-4096} < 2^-5909``, ``|P| < eps = mass
    2^-5900``: if ``e0 +- eps`` round alike, so does ``e0 + P``; if ``e0`` is itself a rounding
    boundary (the others are at least 2^-1075 away, far beyond eps) the sign of ``P`` decides.
    None otherwise."""
    if mass == 0:
        return round_rational(e0, fmt)  # exact: ties to even
    eps = mass * Fraction(1, 2**5900)
    lo = round_rational(e0 - eps, fmt)
    hi = round_rational(e0 + eps, fmt)
    if lo == hi:
        return lo
    if math.isfinite(lo) and math.isfinite(hi):
        boundary = (Fraction(lo) + Fraction(hi)) / 2
    else:
        top = Fraction(fmt.max_finite) + Fraction(2) ** (fmt.emax - fmt.precision)
        boundary = top if e0 > 0 else -top
    if e0 != boundary:
        return None
    sign = _perturbation_sign(groups, mass)
    if sign == 0:
        return None
    return hi if sign > 0 else lo


class _Group:
    """The first-order coefficient of one tail exponential: an exact part plus terms
    ``factor / S'`` of rows whose S' is transcendental."""

    def __init__(self) -> None:
        self.exact = Fraction(0)
        self.over_s: list[tuple[Fraction, _ExactLogitRow]] = []

    def add(self, factor: Fraction, row: _ExactLogitRow | None) -> None:
        if row is None:
            self.exact += factor
        elif factor:
            self.over_s.append((factor, row))

    @property
    def live(self) -> bool:
        return self.exact != 0 or bool(self.over_s)

    def value(self) -> XVal:
        acc = XVal.of(self.exact)
        for f, row in self.over_s:
            acc = acc + XVal.of(f) / row.er.stats()[2]
        return acc


def _perturbation_sign(groups: dict[Fraction, _Group], mass: Fraction) -> int:
    """Sign of sum_j C_j e^{z_j} (+ a remainder below mass * e^{2 z*}); 0 when undecided."""
    live = {z: g for z, g in groups.items() if g.live}
    if not live:
        return 0
    top = max(live)
    huge = -(2**TAIL_EXP)
    for prec in (40, 160, 640):
        with decimal.localcontext() as ctx:
            ctx.prec = prec
            ctx.Emax = 10**9
            ctx.Emin = -(10**9)
            tiny = XVal.interval(decimal.Decimal(0), _TAIL)
            acc = XVal.of(0)
            for z, g in live.items():
                d = z - top
                if d == 0:
                    acc = acc + g.value()
                else:
                    acc = acc + (tiny if d < huge else XVal.of(d).exp()) * g.value()
            slack = XVal.of(mass) * tiny  # [0, mass * TAIL]; minus itself: symmetric
            acc = acc + slack - slack
            lo, hi = acc.bounds()
            if lo > 0:
                return 1
            if hi < 0:
                return -1
    return 0
