r"""Independent slow oracle for the reference's pointwise losses (tests only).

Built on the enclosure arithmetic of ``tests/reference_oracle.py`` (exact rationals plus
decimal approximations with rigorous error bounds, its own rounding and Ziv loop), sharing no
computation with ``reference``; like that oracle it takes only the calling convention from the
reference (:func:`~tests.reference_oracle.called_like`).  Each value is written the textbook
way, straight from the frameworks' documented definitions:

* binary cross-entropy, ``-w (y log p + (1-y) log(1-p))``
  (https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html);
* with logits, ``w (pos_weight y sp(-x) + (1-y) sp(x))``, ``sp(z) = log(1 + e^z)``
  (https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html);
* torchvision's sigmoid focal loss, ``a_t ce (1 - p_t)^gamma``
  (https://pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html);
* Keras's categorical focal cross-entropy from logits, ``-sum_i alpha_i y_i (1-p_i)^gamma
  log p_i`` (https://keras.io/api/losses/probabilistic_losses/);
* ``kl_div``: ``t (log t - x)`` or ``e^t (t - x)``
  (https://pytorch.org/docs/stable/generated/torch.nn.KLDivLoss.html);

and the derivatives are the textbook ones (the chain rule through ``p``, ``p_t`` or the
softmax).  The few rewritings are identities the oracle needs to *decide* exact results:
``A sp(-x) + B sp(x) = -A x`` when ``A + B = 0``; ``1 - p_t = y sigma(-x) + (1-y) sigma(x)``
(a sum of positive terms, so an enclosure never reaches zero); and the softmax VJP as
``p_j sum_i p_i (f'_j - f'_i)``, whose terms vanish exactly for classes with equal logits and
coefficients.  Special values follow ``docs/semantics-pointwise.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from tests.reference_oracle import DTYPES, Args, Real, Row, called_like, decide, round_fraction

Builder = Callable[[], Real]
#: an element: ("special", float) | ("exact", Fraction) | ("real", builder)
Item = tuple[str, Any]


def fr(v: float) -> Fraction:
    return Fraction(float(v))


def as64(a: Any) -> tuple[np.ndarray, str]:
    arr = np.asarray(a)
    return arr.astype(np.float64), arr.dtype.name


def _input_target(a: Args) -> tuple[np.ndarray, str, np.ndarray]:
    """``a.input`` as float64 with its dtype's name, and ``a.target`` as float64."""
    x, name = as64(a.input)
    return x, name, np.asarray(a.target).astype(np.float64)


def out_name(out_dtype: Any, default: str) -> str:
    if out_dtype is None:
        return default
    return np.dtype(out_dtype).name if not isinstance(out_dtype, str) else out_dtype


# ----------------------------------------------------------------------- real functions
def softplus(z: Fraction) -> Real:
    """log(1 + e^z), written without overflow."""
    if z > 0:
        return Real(z) + Real(-z).exp().log1p()
    return Real(z).exp().log1p()


def sigmoid(z: Fraction) -> Real:
    if z >= 0:
        return Real(Fraction(1)) / (Real(Fraction(1)) + Real(-z).exp())
    e = Real(z).exp()
    return e / (Real(Fraction(1)) + e)


def power(b: Real, g: Fraction) -> Real:
    if g == 0:
        return Real(Fraction(1))
    if g.denominator == 1 and g > 0:
        out = b
        for _ in range(int(g) - 1):
            out = out * b
        return out
    if b.exact and b.q == 1:
        return Real(Fraction(1))
    return (b.log() * g).exp()


def times_weight_inf(w: Fraction, sign: float = 1.0) -> float:
    """w * (sign * inf): NaN for a zero weight."""
    if w == 0:
        return math.nan
    return math.copysign(math.inf, sign * float(w))


# ------------------------------------------------------------------------ reductions
def finish(
    items: list[Item], shape: tuple[int, ...], fmt: str, reduction: str, divisor: Fraction
) -> np.ndarray:
    if reduction == "none":
        vals = []
        for kind, v in items:
            if kind == "special":
                vals.append(v)
            elif kind == "exact":
                vals.append(round_fraction(v, fmt))
            else:
                vals.append(decide(v, fmt))
        return np.array(vals, dtype=np.float64).reshape(shape)
    specials = [v for k, v in items if k == "special"]
    if any(math.isnan(v) for v in specials):
        return np.array(math.nan)
    infs = {v for v in specials if math.isinf(v)}
    if len(infs) == 2:
        return np.array(math.nan)
    if infs:
        return np.array(infs.pop())
    if divisor == 0:
        return np.array(math.nan)
    exact = sum((v for k, v in items if k == "exact"), Fraction(0))
    reals = [v for k, v in items if k == "real"]
    if not reals:
        return np.array(round_fraction(exact / divisor, fmt))

    def build() -> Real:
        total = Real(exact)
        for b in reals:
            total = total + b()
        return total / divisor

    return np.array(decide(build, fmt))


def scales(grad_output: Any, reduction: str, n: int, divisor: Fraction) -> list[Fraction | None]:
    """Per-element cotangent scale (None: undefined)."""
    if reduction == "none":
        g = np.ones(n) if grad_output is None else np.asarray(grad_output, np.float64).reshape(-1)
        return [fr(v) if math.isfinite(v) else None for v in g]
    g0 = 1.0 if grad_output is None else float(np.asarray(grad_output, np.float64))
    if not math.isfinite(g0) or divisor == 0:
        return [None] * n
    return [fr(g0) / divisor] * n


def finish_grad(
    items: list[Item], s: list[Fraction | None], shape: tuple[int, ...], fmt: str
) -> np.ndarray:
    """``items`` are derivatives: ("special", nan) or exact/real values, times ``s``."""
    vals = []
    for (kind, v), sk in zip(items, s, strict=True):
        if sk is None or kind == "special":
            vals.append(math.nan)
        elif kind == "exact":
            vals.append(round_fraction(v * sk, fmt))
        else:
            vals.append(decide(lambda v=v, sk=sk: v() * sk, fmt))
    return np.array(vals, dtype=np.float64).reshape(shape)


def mean_divisor(reduction: str, count: int) -> Fraction:
    """What the exact sum is divided by: ``count`` for the mean, 1 otherwise."""
    return Fraction(count) if reduction == "mean" else Fraction(1)


def elementwise_loss(
    items: list[Item],
    x: np.ndarray,
    name: str,
    out_dtype: Any,
    reduction: str,
    divisor: Fraction | None = None,
) -> np.ndarray:
    """An elementwise loss of ``x``'s shape from its items (the mean over every element unless
    ``divisor`` says otherwise)."""
    div = mean_divisor(reduction, x.size) if divisor is None else divisor
    return finish(items, x.shape, out_name(out_dtype, name), reduction, div)


def elementwise_grad(
    items: list[Item],
    x: np.ndarray,
    name: str,
    out_dtype: Any,
    reduction: str,
    grad_output: Any,
    divisor: Fraction | None = None,
) -> np.ndarray:
    """The VJP of :func:`elementwise_loss` from the derivatives' items."""
    div = mean_divisor(reduction, x.size) if divisor is None else divisor
    s = scales(grad_output, reduction, x.size, div)
    return finish_grad(items, s, x.shape, out_name(out_dtype, name))


def _bcast(a: Any, shape: tuple[int, ...]) -> np.ndarray:
    if a is None:
        return np.ones(int(np.prod(shape)))
    return np.broadcast_to(np.asarray(a).astype(np.float64), shape).reshape(-1)


# ------------------------------------------------------------------- binary cross-entropy
def _bce_items(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[list[Item], list[Item]]:
    loss: list[Item] = []
    grad: list[Item] = []
    for pk, yk, wk in zip(p.reshape(-1), y.reshape(-1), w.reshape(-1), strict=True):
        if math.isnan(pk) or math.isnan(yk) or math.isnan(wk):
            loss.append(("special", math.nan))
            grad.append(("special", math.nan))
            continue
        P, Y, W = fr(pk), fr(yk), fr(wk)
        if P == 0 or P == 1:
            inf = (P == 0 and Y > 0) or (P == 1 and Y < 1)
            if inf:
                loss.append(("special", times_weight_inf(W)))
                grad.append(("special", math.nan))
            else:
                loss.append(("exact", Fraction(0)))
                # limits of w (p - y) / (p (1 - p)): w at p = 0, -w at p = 1
                grad.append(("exact", W if P == 0 else -W))
            continue

        def build(P: Fraction = P, Y: Fraction = Y, W: Fraction = W) -> Real:
            a = Real(P).log() * Y
            b = Real(-P).log1p() * (1 - Y)
            return -((a + b) * W)

        loss.append(("real", build))
        grad.append(("exact", W * (P - Y) / (P * (1 - P))))
    return loss, grad


@called_like(reference.binary_cross_entropy)
def binary_cross_entropy(a: Args) -> np.ndarray:
    p, name, y = _input_target(a)
    loss, _ = _bce_items(p, y, _bcast(a.weight, p.shape))
    return elementwise_loss(loss, p, name, a.out_dtype, a.reduction)


@called_like(reference.binary_cross_entropy_grad)
def binary_cross_entropy_grad(a: Args) -> np.ndarray:
    p, name, y = _input_target(a)
    _, grad = _bce_items(p, y, _bcast(a.weight, p.shape))
    return elementwise_grad(grad, p, name, a.out_dtype, a.reduction, a.grad_output)


def _logits_items(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, pw: np.ndarray
) -> tuple[list[Item], list[Item]]:
    loss: list[Item] = []
    grad: list[Item] = []
    for xk, yk, wk, pk in zip(x.reshape(-1), y.reshape(-1), w, pw, strict=True):
        if any(math.isnan(v) for v in (xk, yk, wk, pk)):
            loss.append(("special", math.nan))
            grad.append(("special", math.nan))
            continue
        Y, W, PW = fr(yk), fr(wk), fr(pk)
        A, B = PW * Y, 1 - Y
        if math.isinf(xk):
            coef = B if xk > 0 else A
            if Y == (1 if xk > 0 else 0):
                loss.append(("exact", Fraction(0)))  # the target coefficient is 0
                grad.append(("exact", Fraction(0)))
            elif coef == 0:
                loss.append(("special", math.nan))  # pos_weight 0 times inf
                grad.append(("special", math.nan))
            else:
                loss.append(("special", times_weight_inf(W, float(coef))))
                grad.append(("special", math.nan))
            continue
        X = fr(xk)
        if A + B == 0:
            loss.append(("exact", -W * A * X))
        else:
            loss.append(
                ("real", lambda X=X, A=A, B=B, W=W: (softplus(-X) * A + softplus(X) * B) * W)
            )
        # the same derivative in the form without cancellation on each side of 0:
        # s(X)(A + B) - A for X <= 0, and B - (A + B) s(-X) for X > 0 (s(X) = 1 - s(-X))
        grad.append(
            (
                "real",
                lambda X=X, A=A, B=B, W=W: (
                    (sigmoid(X) * (A + B) - A) * W
                    if X <= 0
                    else (Real.of(B) - sigmoid(-X) * (A + B)) * W
                ),
            )
        )
    return loss, grad


@called_like(reference.binary_cross_entropy_with_logits)
def binary_cross_entropy_with_logits(a: Args) -> np.ndarray:
    x, name, y = _input_target(a)
    loss, _ = _logits_items(x, y, _bcast(a.weight, x.shape), _bcast(a.pos_weight, x.shape))
    return elementwise_loss(loss, x, name, a.out_dtype, a.reduction)


@called_like(reference.binary_cross_entropy_with_logits_grad)
def binary_cross_entropy_with_logits_grad(a: Args) -> np.ndarray:
    x, name, y = _input_target(a)
    _, grad = _logits_items(x, y, _bcast(a.weight, x.shape), _bcast(a.pos_weight, x.shape))
    return elementwise_grad(grad, x, name, a.out_dtype, a.reduction, a.grad_output)


# ---------------------------------------------------------------------------- kl_div
def _kl_decided(zero_mass: bool, tk: float, xk: float) -> tuple[Item, Item] | None:
    """The (loss, derivative) items of a term that the target's zero mass or an infinity
    decides, without arithmetic; None for a finite term."""
    if zero_mass:
        return ("exact", Fraction(0)), ("exact", Fraction(0))
    if tk == math.inf:
        return ("special", math.nan if xk == math.inf else math.inf), ("special", math.nan)
    if math.isinf(xk):
        return ("special", -xk), ("special", math.nan)
    return None


def _kl_term(xk: float, tk: float, log_target: bool) -> tuple[Item, Item]:
    if math.isnan(xk) or math.isnan(tk) or (not log_target and tk < 0):
        return ("special", math.nan), ("special", math.nan)
    decided = _kl_decided(tk == (-math.inf if log_target else 0), tk, xk)
    if decided is not None:
        return decided
    T, X = fr(tk), fr(xk)
    if not log_target:
        return ("real", lambda: (Real(T).log() - X) * T), ("exact", -T)
    if tk > 1800 and T != X:  # beyond every format (documented convention)
        return ("special", math.copysign(math.inf, tk - xk)), ("special", math.nan)
    return ("real", lambda: Real(T).exp() * (T - X)), ("real", lambda: -Real(T).exp())


def _kl_items(x: np.ndarray, t: np.ndarray, log_target: bool) -> tuple[list[Item], list[Item]]:
    terms = [
        _kl_term(xk, tk, log_target) for xk, tk in zip(x.reshape(-1), t.reshape(-1), strict=True)
    ]
    return [loss for loss, _ in terms], [grad for _, grad in terms]


def _kl_divisor(shape: tuple[int, ...], reduction: str) -> Fraction:
    if reduction == "mean":
        return Fraction(int(np.prod(shape)))
    if reduction == "batchmean":
        return Fraction(shape[0] if shape else 1)
    return Fraction(1)


@called_like(reference.kl_div)
def kl_div(a: Args) -> np.ndarray:
    x, name, t = _input_target(a)
    loss, _ = _kl_items(x, t, a.log_target)
    divisor = _kl_divisor(x.shape, a.reduction)
    return elementwise_loss(loss, x, name, a.out_dtype, a.reduction, divisor)


@called_like(reference.kl_div_grad)
def kl_div_grad(a: Args) -> np.ndarray:
    x, name, t = _input_target(a)
    _, grad = _kl_items(x, t, a.log_target)
    divisor = _kl_divisor(x.shape, a.reduction)
    return elementwise_grad(grad, x, name, a.out_dtype, a.reduction, a.grad_output, divisor)


# -------------------------------------------------------------------- sigmoid focal loss
def _alpha_t(alpha: float, Y: Fraction) -> Fraction:
    if alpha < 0:
        return Fraction(1)
    a = fr(alpha)
    return a * Y + (1 - a) * (1 - Y)


def _sfl_items(
    x: np.ndarray, y: np.ndarray, alpha: float, gamma: float
) -> tuple[list[Item], list[Item]]:
    g = fr(gamma)
    loss: list[Item] = []
    grad: list[Item] = []
    for xk, yk in zip(x.reshape(-1), y.reshape(-1), strict=True):
        if math.isnan(xk) or math.isnan(yk):
            loss.append(("special", math.nan))
            grad.append(("special", math.nan))
            continue
        Y = fr(yk)
        at = _alpha_t(alpha, Y)
        if math.isinf(xk):
            if Y == (1 if xk > 0 else 0):
                loss.append(("exact", Fraction(0)))
                grad.append(("exact", Fraction(0)))
            else:
                loss.append(("special", times_weight_inf(at)))
                grad.append(("special", math.nan))
            continue
        X = fr(xk)

        def pieces(X: Fraction = X, Y: Fraction = Y) -> tuple[Real, Real, Real, Real]:
            p, pm = sigmoid(X), sigmoid(-X)
            ce = softplus(-X) * Y + softplus(X) * (1 - Y)
            q = pm * Y + p * (1 - Y)
            return p, pm, ce, q

        def build(at: Fraction = at, pieces=pieces) -> Real:  # type: ignore[no-untyped-def]
            _, _, ce, q = pieces()
            return ce * power(q, g) * at

        def dbuild(at: Fraction = at, Y: Fraction = Y, pieces=pieces) -> Real:  # type: ignore[no-untyped-def]
            p, pm, ce, q = pieces()
            d = (p - Y) * power(q, g)
            if g != 0:
                d = d + ce * power(q, g - 1) * p * pm * (g * (1 - 2 * Y))
            return d * at

        loss.append(("real", build))
        grad.append(("real", dbuild))
    return loss, grad


@called_like(reference.sigmoid_focal_loss)
def sigmoid_focal_loss(a: Args) -> np.ndarray:
    x, name, y = _input_target(a)
    loss, _ = _sfl_items(x, y, a.alpha, a.gamma)
    return elementwise_loss(loss, x, name, a.out_dtype, a.reduction)


@called_like(reference.sigmoid_focal_loss_grad)
def sigmoid_focal_loss_grad(a: Args) -> np.ndarray:
    x, name, y = _input_target(a)
    _, grad = _sfl_items(x, y, a.alpha, a.gamma)
    return elementwise_grad(grad, x, name, a.out_dtype, a.reduction, a.grad_output)


# -------------------------------------------------------------------- softmax focal loss
def _sfm_rows(
    input: Any, target: Any, alpha: Any
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], tuple[int, ...], str]:
    x, name = as64(input)
    unbatched = x.ndim == 1
    xb = x[None] if unbatched else x
    C = xb.shape[1]
    moved = np.moveaxis(xb, 1, -1)
    rows = moved.reshape(-1, C)
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        coef = np.eye(C)[t.reshape(-1)]
    else:
        tb = t.astype(np.float64)[None] if unbatched else t.astype(np.float64)
        coef = np.moveaxis(tb, 1, -1).reshape(-1, C)
    al = np.ones(C) if alpha is None else np.broadcast_to(np.asarray(alpha, np.float64), (C,))
    cf = [[fr(al[i]) * fr(coef[r, i]) for i in range(C)] for r in range(rows.shape[0])]
    out_shape = () if unbatched else moved.shape[:-1]
    return rows, np.array(cf, dtype=object), out_shape, moved.shape, name


def _sfm_row_special(x: np.ndarray, c: list[Fraction], yrow: list[float]) -> float | None:
    """The row's value when a special rule decides it, else None."""
    if (
        any(math.isnan(v) for v in x)
        or sum(v == math.inf for v in x) >= 2
        or all(v == -math.inf for v in x)
    ):
        return math.nan
    if math.inf in list(x):
        k = list(x).index(math.inf)
        zero_p = [i for i in range(len(x)) if i != k]
    else:
        zero_p = [i for i in range(len(x)) if x[i] == -math.inf]
    vals = set()
    for i in zero_p:
        if yrow[i] == 0:
            continue
        vals.add(math.nan if c[i] == 0 else math.copysign(math.inf, float(c[i])))
    if vals:
        if any(math.isnan(v) for v in vals) or len(vals) == 2:
            return math.nan
        return vals.pop()
    if len(x) - len(zero_p) == 1:
        return 0.0
    return None


@called_like(reference.softmax_focal_loss)
def softmax_focal_loss(a: Args) -> np.ndarray:
    rows, cf, out_shape, _, name = _sfm_rows(a.input, a.target, a.alpha)
    y = _targets(rows, a.target)
    g = fr(a.gamma)
    items: list[Item] = []
    for r in range(rows.shape[0]):
        c = list(cf[r])
        sv = _sfm_row_special(rows[r], c, y[r])
        if sv is not None:
            items.append(("special", sv) if sv != 0 else ("exact", Fraction(0)))
            continue
        if all(ci == 0 for ci in c):
            items.append(("exact", Fraction(0)))
            continue

        def build(x: np.ndarray = rows[r], c: list[Fraction] = c) -> Real:
            st = Row(list(x))
            logS = st.log_S()
            total = Real(Fraction(0))
            for i, ci in enumerate(c):
                if ci == 0 or st.d[i] is None:
                    continue
                om = (
                    st.one_minus_softmax_at_max()
                    if st.c == 1 and st.d[i] == 0
                    else Real(Fraction(1)) - st.softmax(i)
                )
                total = total - power(om, g) * (Real(st.d[i]) - logS) * ci
            return total

        items.append(("real", build))
    fmt = out_name(a.out_dtype, name)
    div = mean_divisor(a.reduction, rows.shape[0])
    return finish(items, out_shape if a.reduction == "none" else (), fmt, a.reduction, div)


def _targets(rows: np.ndarray, target: Any) -> list[list[float]]:
    t = np.asarray(target)
    C = rows.shape[1]
    if t.dtype.kind in "iu":
        return np.eye(C)[t.reshape(-1)].tolist()
    tb = t.astype(np.float64)
    if tb.ndim == 1:
        tb = tb[None]
    return np.moveaxis(tb, 1, -1).reshape(-1, C).tolist()


@called_like(reference.softmax_focal_loss_grad)
def softmax_focal_loss_grad(a: Args) -> np.ndarray:
    rows, cf, out_shape, moved_shape, name = _sfm_rows(a.input, a.target, a.alpha)
    y = _targets(rows, a.target)
    R, C = rows.shape
    g = fr(a.gamma)
    fmt = out_name(a.out_dtype, name)
    div = mean_divisor(a.reduction, R)
    s = scales(a.grad_output, a.reduction, R, div)
    out = np.zeros((R, C))
    for r in range(R):
        c = list(cf[r])
        sv = _sfm_row_special(rows[r], c, y[r])
        if s[r] is None or (sv is not None and sv != 0):
            out[r] = math.nan
            continue
        if sv == 0:
            out[r] = 0.0
            continue
        x = rows[r]
        for j in range(C):
            if x[j] == -math.inf:
                out[r, j] = 0.0
                continue
            others = [i for i in range(C) if x[i] != -math.inf and (x[i] != x[j] or c[i] != c[j])]
            if not others:
                out[r, j] = 0.0
                continue

            def fprime(st: Row, i: int, ci: Fraction) -> Real:
                # f'_i = -c_i ((1-p_i)^g / p_i - g (1-p_i)^(g-1) log p_i)
                if ci == 0:
                    return Real(Fraction(0))
                p = st.softmax(i)
                om = (
                    st.one_minus_softmax_at_max()
                    if st.c == 1 and st.d[i] == 0
                    else Real(Fraction(1)) - p
                )
                v = power(om, g) / p
                if g != 0:
                    v = v - power(om, g - 1) * (Real(st.d[i]) - st.log_S()) * g
                return -(v * ci)

            def build(
                x: np.ndarray = x,
                c: list[Fraction] = c,
                j: int = j,
                others: list[int] = others,
                sr: Fraction = s[r],
            ) -> Real:
                st = Row(list(x))
                fj = fprime(st, j, c[j])
                total = Real(Fraction(0))
                for i in others:
                    total = total + st.softmax(i) * (fj - fprime(st, i, c[i]))
                return st.softmax(j) * total * sr

            out[r, j] = decide(build, fmt)
    res = out.reshape(moved_shape)
    return (
        res[0] if len(out_shape) == 0 and np.asarray(a.input).ndim == 1 else np.moveaxis(res, -1, 1)
    )


__all__ = [
    "DTYPES",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "kl_div",
    "kl_div_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
]


# ------------------------------------------------------------------ drawing test inputs
def in_dtype(values: Any, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """float64 values rounded into ``dtype`` (so exactly representable), shaped."""
    return np.asarray(values, dtype=np.float64).astype(DTYPES[dtype]).reshape(shape)


# ------------------------------------------------------------------- reference against oracle
def assert_same(got: np.ndarray, want: np.ndarray, dtype: str) -> None:
    """``got`` is of the format named ``dtype`` and equals ``want`` element for element (NaN
    where it is NaN; +0 and -0 compare equal)."""
    got = np.asarray(got)
    assert got.dtype == DTYPES[dtype], (got.dtype, dtype)
    g = got.astype(np.float64)
    w = np.asarray(want, dtype=np.float64)
    assert g.shape == w.shape, (g.shape, w.shape)
    same = (g == w) | (np.isnan(g) & np.isnan(w))
    assert np.all(same), f"reference {g.tolist()} != oracle {w.tolist()}"


#: one row of an oracle table: a reference function, its cases, how many to draw
OracleRow = tuple[Callable[..., Any], st.SearchStrategy[dict], int]


def oracle_table(rows: Sequence[OracleRow]) -> pytest.MarkDecorator:
    """Parametrise a test over ``rows`` as ``(fn, cases, examples)``, one id per function."""
    return pytest.mark.parametrize(
        ("fn", "cases", "examples"), rows, ids=[fn.__name__ for fn, _, _ in rows]
    )


def assert_matches_oracle(
    fn: Callable[..., Any], cases: st.SearchStrategy[dict], examples: int
) -> None:
    """``fn`` (a reference function) and this module's function of the same name agree to the
    bit on ``examples`` drawn cases (``{"kw": kwargs, "dtype": the output format's name}``)."""
    expected = globals()[fn.__name__]

    @settings(max_examples=examples)
    @given(cases)
    def agrees(case: dict) -> None:
        assert_same(fn(**case["kw"]), expected(**case["kw"]), case["dtype"])

    agrees()


def oracle_test(rows: Sequence[OracleRow]) -> Callable[..., None]:
    """A test, parametrised over ``rows``, that each reference function agrees with this
    module's (:func:`assert_matches_oracle`); assign it to a ``test_*`` name of a test module."""

    @oracle_table(rows)
    def test(fn: Callable[..., Any], cases: st.SearchStrategy[dict], examples: int) -> None:
        assert_matches_oracle(fn, cases, examples)

    return test
