"""linear_cross_entropy and its VJP: bit-exact against an independent oracle built here from
exact rational logits and the slow oracle's decimal enclosures (tests/reference_oracle.py), in
every format; agreement with reference.cross_entropy when the logits are exact floats; the
special values; logits beyond float64's range; bad input; and PyTorch's convention."""

from __future__ import annotations

import decimal
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from reference.linear import linear_cross_entropy, linear_cross_entropy_grad
from tests import reference_oracle as oracle
from tests.reference_cases import DTYPES, arrays, assert_same, out_dtypes, resolve

FORMATS = list(DTYPES)


# ------------------------------------------------------------------------ the oracle
class _FracRow(oracle.Row):
    """The oracle's row statistics for a row of exact rational logits."""

    def __init__(self, z: list[Fraction]) -> None:
        self.m = max(z)
        self.d = [zi - self.m for zi in z]
        self.c = sum(1 for di in self.d if di == 0)


def _exact_logits(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Object array of Fractions shaped like PyTorch's logits: (N, V, d...) or (V,)."""
    x2 = np.atleast_2d(np.asarray(x, dtype=np.float64))
    w64 = np.asarray(w, dtype=np.float64)
    V, dk, H = w64.shape[0], w64.shape[1:-1], w64.shape[-1]
    wf = w64.reshape(-1, H)
    bf = None if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
    z = np.empty((x2.shape[0], wf.shape[0]), dtype=object)
    for n in range(x2.shape[0]):
        for j in range(wf.shape[0]):
            acc = sum(
                (Fraction(float(x2[n, h])) * Fraction(float(wf[j, h])) for h in range(H)),
                Fraction(0),
            )
            z[n, j] = acc + (Fraction(float(bf[j])) if bf is not None else 0)
    if np.asarray(x).ndim == 1:
        return z.reshape(V)
    return z.reshape(x2.shape[0], V, *dk)


class _Oracle:
    """Loss and gradients of cross_entropy(z) for exact rational logits z, from the
    definitions: the loss row Q log S - sum_i q_i d_i, dz = s (Q y - q), and the three
    contractions summed exactly before one rounding."""

    def __init__(self, x, w, target, b, weight, ignore_index, reduction, ls, fmt):  # type: ignore[no-untyped-def]
        self.x, self.w, self.b = x, w, b
        self.z = _exact_logits(x, w, b)
        self.p = oracle._Loss(
            oracle.Args(
                input=np.zeros(self.z.shape),
                target=target,
                weight=weight,
                ignore_index=ignore_index,
                reduction=reduction,
                out_dtype=fmt,
            ),
            ls,
        )
        zr = np.moveaxis(self.z, 0 if self.z.ndim == 1 else 1, -1).reshape(-1, self.p.C)
        self.rows = [_FracRow(list(r)) for r in zr]
        self.fmt = fmt
        self._dz: dict[tuple[int, int, int], oracle.Real] = {}

    def _term(self, r: int) -> oracle.Real:
        st_, q = self.rows[r], self.p.q(r)
        Q = sum(q, Fraction(0))
        lin = sum((qi * di for qi, di in zip(q, st_.d, strict=True) if qi), Fraction(0))
        return st_.log_S() * Q - lin

    def loss(self) -> np.ndarray:
        p = self.p
        if p.reduction == "none":
            vals = [
                0.0 if p.ignored[r] else oracle.decide(lambda r=r: self._term(r), self.fmt)
                for r in range(p.R)
            ]
            return np.array(vals).reshape(p.none_shape)
        W = p.divisor()
        if p.reduction == "mean" and W == 0:
            return np.array(math.nan)

        def build() -> oracle.Real:
            total = oracle.Real(Fraction(0))
            for r in range(p.R):
                if not p.ignored[r]:
                    total = total + self._term(r)
            return total / W

        return np.array(oracle.decide(build, self.fmt))

    def _dz_row(self, r: int, i: int, s: Fraction) -> oracle.Real:
        key = (decimal.getcontext().prec, r, i)
        if key not in self._dz:
            st_, q = self.rows[r], self.p.q(r)
            Q = sum(q, Fraction(0))
            if st_.c == 1 and st_.d[i] == 0:
                v = oracle.Real(Q - q[i]) - st_.one_minus_softmax_at_max() * Q
            else:
                v = st_.softmax(i) * Q - q[i]
            self._dz[key] = v * s
        return self._dz[key]

    def grads(self, grad_output: Any) -> tuple[np.ndarray, ...]:
        p = self.p
        s = oracle._scales(p, grad_output)
        x2 = np.atleast_2d(np.asarray(self.x, dtype=np.float64))
        w64 = np.asarray(self.w, dtype=np.float64)
        H = w64.shape[-1]
        wf = w64.reshape(-1, H)
        N, J, V = x2.shape[0], wf.shape[0], p.C
        D = J // V
        nan_row = [s[r] is None and not p.ignored[r] for r in range(p.R)]

        def dz(n: int, j: int) -> oracle.Real | float | None:
            """The exact dz at (n, j); None for an ignored row, NaN for an undefined one."""
            v, d = divmod(j, D)
            r = n * D + d
            if p.ignored[r]:
                return None
            if nan_row[r]:
                return math.nan
            return self._dz_row(r, v, s[r])

        def decide_dot(terms: list[tuple[int, int, Fraction]]) -> float:
            """Round sum_t dz(n_t, j_t) c_t once, dz evaluated at each precision of decide; a
            NaN dz makes the element NaN (NaN * 0 included)."""
            if any(isinstance(dz(n, j), float) for n, j, _ in terms):
                return math.nan

            def build() -> oracle.Real:
                acc = oracle.Real(Fraction(0))
                for n, j, c in terms:
                    a = dz(n, j)
                    if a is not None and c != 0:
                        acc = acc + a * c
                return acc

            return oracle.decide(build, self.fmt)

        fx = [[Fraction(float(v)) for v in row] for row in x2]
        fw = [[Fraction(float(v)) for v in row] for row in wf]
        gi = np.array(
            [[decide_dot([(n, j, fw[j][h]) for j in range(J)]) for h in range(H)] for n in range(N)]
        )
        gw = np.array(
            [[decide_dot([(n, j, fx[n][h]) for n in range(N)]) for h in range(H)] for j in range(J)]
        )
        gb = np.array([decide_dot([(n, j, Fraction(1)) for n in range(N)]) for j in range(J)])
        return (gi.reshape(np.shape(self.x)), gw.reshape(w64.shape), gb.reshape(w64.shape[:-1]))


# ----------------------------------------------------------------------- strategies
@st.composite
def problems(draw: st.DrawFn, kdim: bool = False) -> dict[str, Any]:
    name = draw(st.sampled_from(FORMATS), label="format")
    n = draw(st.integers(1, 6 if not kdim else 3), label="N")
    h = draw(st.integers(1, 8 if not kdim else 3), label="H")
    v = draw(st.integers(1, 12 if not kdim else 4), label="V")
    dk = (draw(st.integers(1, 3), label="d1"),) if kdim else ()
    unbatched = not kdim and draw(st.booleans(), label="unbatched")
    x = draw(arrays(name, (h,) if unbatched else (n, h), wide=False), label="input")
    w = draw(arrays(name, (v, *dk, h), wide=False), label="linear_weight")
    b = draw(arrays(name, (v, *dk), wide=False), label="bias") if draw(st.booleans()) else None
    weight = None
    if draw(st.booleans(), label="class weights"):
        cw = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 3.0])
        weight = np.array(draw(st.lists(cw, min_size=v, max_size=v)), dtype=DTYPES[name])
    tshape: tuple[int, ...] = () if unbatched else (n, *dk)
    probs = draw(st.booleans(), label="probability targets") and not kdim
    if probs:
        raw = draw(arrays(name, (v,) if unbatched else (n, v), wide=False))
        pr = np.abs(raw.astype(np.float64))
        pr = pr / np.maximum(pr.sum(axis=-1, keepdims=True), 1.0)
        target: np.ndarray = pr.astype(DTYPES[name])
    else:
        t = draw(
            st.lists(st.integers(0, v - 1), min_size=math.prod(tshape), max_size=math.prod(tshape))
        )
        target = np.array(t, dtype=np.int64).reshape(tshape)
        if tshape and draw(st.booleans(), label="ignore some"):
            k = draw(st.integers(0, math.prod(tshape) - 1))
            target.reshape(-1)[k] = -100
    return {
        "name": name,
        "input": x,
        "linear_weight": w,
        "target": target,
        "linear_bias": b,
        "weight": weight,
        "reduction": draw(st.sampled_from(["none", "mean", "sum"]), label="reduction"),
        "label_smoothing": draw(st.sampled_from([0.0, 0.0, 0.1, 0.25]), label="smoothing"),
        "out": draw(out_dtypes(), label="out_dtype"),
    }


def _kwargs(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c[k] for k in ("linear_bias", "weight", "reduction", "label_smoothing")}


def _oracle(c: dict[str, Any]) -> _Oracle:
    fmt = c["out"] or c["name"]
    return _Oracle(
        c["input"],
        c["linear_weight"],
        c["target"],
        c["linear_bias"],
        c["weight"],
        -100,
        c["reduction"],
        c["label_smoothing"],
        fmt,
    )


def _cotangent(c: dict[str, Any], data: st.DataObject) -> np.ndarray | None:
    if not data.draw(st.booleans(), label="explicit grad_output"):
        return None
    ora = _oracle(c)
    shape = ora.p.none_shape if c["reduction"] == "none" else ()
    return data.draw(arrays(c["name"], shape, wide=False), label="grad_output")


# ---------------------------------------------------------------------------- tests
@settings(max_examples=50)
@given(c=problems())
def test_loss_matches_the_oracle(c: dict[str, Any]) -> None:
    got = linear_cross_entropy(
        c["input"], c["linear_weight"], c["target"], **_kwargs(c), out_dtype=c["out"]
    )
    assert_same(got, _oracle(c).loss(), resolve(c["out"], c["name"]), "linear_cross_entropy")


@settings(max_examples=40)
@given(c=problems(), data=st.data())
def test_gradients_match_the_oracle(c: dict[str, Any], data: st.DataObject) -> None:
    g = _cotangent(c, data)
    got = linear_cross_entropy_grad(
        c["input"], c["linear_weight"], c["target"], **_kwargs(c), grad_output=g, out_dtype=c["out"]
    )
    expected = _oracle(c).grads(g)
    dtype = resolve(c["out"], c["name"])
    for part, e, what in zip(got, expected, ("input", "linear_weight", "linear_bias"), strict=True):
        if what == "linear_bias" and c["linear_bias"] is None:
            assert part is None
            continue
        assert_same(part, e, dtype, f"grad {what}")


@settings(max_examples=12)
@given(c=problems(kdim=True), data=st.data())
def test_k_dimensional_weight_matches_the_oracle(c: dict[str, Any], data: st.DataObject) -> None:
    """linear_weight (V, d1, H): logits (N, V, d1), targets (N, d1), as PyTorch reshapes."""
    ora = _oracle(c)
    dtype = resolve(c["out"], c["name"])
    got = linear_cross_entropy(
        c["input"], c["linear_weight"], c["target"], **_kwargs(c), out_dtype=c["out"]
    )
    assert_same(got, ora.loss(), dtype, "loss")
    g = _cotangent(c, data)
    grads = linear_cross_entropy_grad(
        c["input"], c["linear_weight"], c["target"], **_kwargs(c), grad_output=g, out_dtype=c["out"]
    )
    for part, e in zip(grads, ora.grads(g), strict=True):
        if part is not None:
            assert_same(part, e, dtype, "K-dim grad")


@settings(max_examples=40)
@given(c=problems(), data=st.data())
def test_identity_weight_agrees_with_cross_entropy(c: dict[str, Any], data: st.DataObject) -> None:
    """With W = I (V = H) and no bias the logits are the input itself, exactly: the loss and
    grad_input are cross_entropy's, grad_b would be the column sums (checked through W's)."""
    x = c["input"]
    H = x.shape[-1]
    eye = np.eye(H).astype(x.dtype)
    if x.ndim == 1:
        t = np.array(data.draw(st.integers(0, H - 1)))
    else:
        t = np.array(
            data.draw(st.lists(st.integers(0, H - 1), min_size=x.shape[0], max_size=x.shape[0]))
        )
    kw = {
        "weight": None,
        "reduction": c["reduction"],
        "label_smoothing": c["label_smoothing"],
        "out_dtype": c["out"],
    }
    dtype = resolve(c["out"], c["name"])
    assert_same(
        linear_cross_entropy(x, eye, t, **kw),
        reference.cross_entropy(x, t, **kw),
        dtype,
        "loss with W = I",
    )
    gi, _, gb = linear_cross_entropy_grad(x, eye, t, **kw)
    assert gb is None
    assert_same(gi, reference.cross_entropy_grad(x, t, **kw), dtype, "grad_input with W = I")


def test_exact_float_logits_need_no_widening() -> None:
    """float16 inputs whose products and sums are exact in float64: the logits are exact
    floats (no Lipschitz widening, delta = 0), the loss equals cross_entropy of those float64
    logits rounded to float16, and the float64 gradients match the oracle."""
    from reference import linear as lin

    rng = np.random.default_rng(7)
    x = rng.integers(-8, 8, (5, 4)).astype(np.float16) / 4
    w = rng.integers(-8, 8, (6, 4)).astype(np.float16) / 8
    t = rng.integers(0, 6, 5)
    z = x.astype(np.float64) @ w.astype(np.float64).T  # exact: few bits
    lg = lin._exact_logits(lin._linear_args(x, w, None, None))
    assert np.all(lg.delta == 0)
    assert np.array_equal(lg.zh, z - z.max(axis=1, keepdims=True))
    for red in ("none", "mean", "sum"):
        got = linear_cross_entropy(x, w, t, reduction=red)
        want = reference.cross_entropy(z, t, reduction=red, out_dtype="float16")
        assert_same(got, want, np.float16, red)
        gi, gw, _ = linear_cross_entropy_grad(x, w, t, reduction=red, out_dtype="float64")
        egi, egw, _ = _Oracle(x, w, t, None, None, -100, red, 0.0, "float64").grads(None)
        assert_same(gi, egi, np.float64, "grad_input")
        assert_same(gw, egw, np.float64, "grad_weight")


# ------------------------------------------------------------------- special values
def _lce(x, w, t, **kw):  # type: ignore[no-untyped-def]
    return linear_cross_entropy(np.asarray(x), np.asarray(w), np.asarray(t), **kw)


def test_nan_input_row_gives_nan_for_that_row_only() -> None:
    x = np.array([[1.0, 2.0], [np.nan, 1.0], [0.5, -1.0]])
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    t = np.array([0, 1, 2])
    loss = _lce(x, w, t, reduction="none")
    assert np.isnan(loss[1]) and np.all(np.isfinite(loss[[0, 2]]))
    assert np.isnan(_lce(x, w, t))
    gi, gw, gb = linear_cross_entropy_grad(x, w, t, linear_bias=np.zeros(3))
    assert np.all(np.isnan(gi[1])) and np.all(np.isfinite(gi[[0, 2]]))
    assert np.all(np.isnan(gw)) and np.all(np.isnan(gb))


def test_ignored_rows_contribute_nothing_whatever_they_hold() -> None:
    x = np.array([[1.0, 2.0], [np.nan, np.inf], [0.5, -1.0]], dtype=np.float32)
    w = np.array([[1.0, 0.5], [0.25, 1.0], [1.0, 1.0]], dtype=np.float32)
    t = np.array([0, -100, 2])
    clean = x.copy()
    clean[1] = 0
    for red in ("none", "mean", "sum"):
        a = _lce(x, w, t, reduction=red)
        b = _lce(clean, w, t, reduction=red)
        assert_same(a, b, np.float32, red)
        ga = linear_cross_entropy_grad(x, w, t, reduction=red)
        gb = linear_cross_entropy_grad(clean, w, t, reduction=red)
        for u, v in zip(ga[:2], gb[:2], strict=True):
            assert_same(u, v, np.float32, "grad " + red)
        assert np.all(ga[0][1] == 0)


def test_minus_inf_bias_masks_a_class() -> None:
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = np.array([0.0, 0.0, -np.inf])
    t = np.array([0, 1])
    z = x @ w.T + np.array([0.0, 0.0, -np.inf])  # exact here
    assert_same(
        _lce(x, w, t, linear_bias=b, reduction="none"),
        reference.cross_entropy(z, t, reduction="none"),
        np.float64,
        "masked",
    )
    # the masked class as a target: +inf; with smoothing every class counts: +inf
    assert np.all(np.isposinf(_lce(x, w, [2, 0], linear_bias=b, reduction="none")[0]))
    assert np.isposinf(_lce(x, w, t, linear_bias=b, label_smoothing=0.1))
    gi, gw, gb = linear_cross_entropy_grad(x, w, t, linear_bias=b)
    assert gb is not None and gb[2] == 0 and np.all(np.isfinite(gi)) and np.all(gw[2] == 0)
    gi, _, gb = linear_cross_entropy_grad(x, w, [2, 0], linear_bias=b, reduction="none")
    assert np.all(np.isnan(gi[0])) and np.all(np.isfinite(gi[1]))


def test_infinite_products_follow_extended_arithmetic() -> None:
    # +inf * 0 is NaN: the whole logit row holds a NaN
    x = np.array([[np.inf, 1.0], [1.0, 1.0]])
    w = np.array([[0.0, 1.0], [1.0, 1.0]])
    loss = _lce(x, w, [0, 0], reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    # one +inf logit at the target of a one-hot row: loss 0; elsewhere +inf
    w = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert_same(_lce(x[:1], w, [0], reduction="none"), np.array([0.0]), np.float64, "one-hot")
    assert np.isposinf(_lce(x[:1], w, [1], reduction="none")[0])


def test_mean_over_zero_weight_is_nan() -> None:
    x = np.ones((2, 3))
    w = np.ones((4, 3))
    assert np.isnan(_lce(x, w, [-100, -100]))
    gi, gw, _ = linear_cross_entropy_grad(x, w, np.array([-100, -100]))
    assert np.all(gi == 0) and np.all(gw == 0)


def test_logits_beyond_the_float64_range() -> None:
    """Logit spreads of 2e600: the exact tier encloses the negligible exponentials."""
    big = 1e300
    x = np.array([[big]])
    w = np.array([[big], [-big]])
    assert _lce(x, w, [0], reduction="none")[0] == 0.0  # log(1 + e^-2e600) rounds to 0
    assert np.isposinf(_lce(x, w, [1], reduction="none")[0])  # 2e600 overflows
    # the gradient is finite: dz = (1 - y_1, y_1 - 1) with y_1 = e^-2e600
    gi, gw, _ = linear_cross_entropy_grad(x, w, np.array([1]), reduction="sum")
    assert gi[0, 0] == 2 * big
    assert gw[0, 0] == big and gw[1, 0] == -big
    gi, gw, _ = linear_cross_entropy_grad(x, w, np.array([0]), reduction="sum")
    assert gi[0, 0] == 0.0 and gw[0, 0] == 0.0 and gw[1, 0] == 0.0
    # label smoothing puts the weight 0.05 on the far logit: a loss of 1e599, which overflows
    ls = _lce(x, w, [0], label_smoothing=0.1, reduction="none")[0]
    assert np.isposinf(ls)


@pytest.mark.parametrize(
    ("dtype", "scale", "ulp"), [(np.float32, 2.0**13, 2.0**-23), (np.float64, 2.0**1000, 2.0**-52)]
)
@pytest.mark.parametrize("g", [1.0, -1.0])
def test_tail_breaks_an_exact_midpoint(dtype: Any, scale: float, ulp: float, g: float) -> None:
    """grad_input = g (w0 - w1)(1 - y1) with y1 = e^{-(z0 - z1)} / S below e^{-4096}: the
    rational part g (w0 - w1) = g (1 + ulp + ulp/2) is a rounding midpoint whose even neighbour
    is 1 + 2 ulp, but the exact value lies just inside it, so it rounds to 1 + ulp (toward zero).
    In float64 the spread 2^1000 also exceeds the vectorised tiers' range."""
    x = np.array([[scale]], dtype=dtype)
    w = np.array([[1 + ulp], [-ulp / 2]], dtype=dtype)
    t = np.array([1])
    gi, gw, _ = linear_cross_entropy_grad(x, w, t, reduction="sum", grad_output=np.array(g))
    assert gi.dtype == np.dtype(dtype)
    assert gi[0, 0] == g * (1 + ulp)  # ties-to-even of the rational part would give 1 + 2 ulp
    assert gw[0, 0] == g * scale and gw[1, 0] == -g * scale  # g x (1 - y1): just inside x
    # the loss (z0 - z1) + log1p(y1 S): a midpoint plus a tiny positive term, rounded up (which
    # here is also the even neighbour)
    z = Fraction(scale) * (Fraction(float(w[0, 0])) - Fraction(float(w[1, 0])))
    want = reference_rounding_round(z, dtype)
    assert _lce(x, w, t, reduction="sum")[()] == want


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_tail_breaks_an_exact_midpoint_of_the_loss(reduction: str) -> None:
    """loss = z0 - z1 + log1p(e^{z1 - z0}) with z0 - z1 = 4098, a float16 midpoint whose even
    neighbour is 4096: the exact value lies just above it and rounds to 4100."""
    x = np.array([[1366.0]], dtype=np.float16)
    w = np.array([[3.0], [0.0]], dtype=np.float16)
    got = _lce(x, w, [1], reduction=reduction)
    assert float(np.asarray(got).reshape(-1)[0]) == 4100.0
    # and with the opposite target the loss is log1p(e^-4098): a positive value below float16's
    # smallest subnormal, rounded to 0
    assert float(np.asarray(_lce(x, w, [0], reduction=reduction)).reshape(-1)[0]) == 0.0


def reference_rounding_round(q: Fraction, dtype: Any) -> float:
    return oracle.round_fraction(q, np.dtype(dtype).name)


def test_tiny_logits_below_the_float64_range() -> None:
    """Products of tiny numbers give logits below float64's smallest subnormal: exact logits
    keep them apart (1e-400 > 0), and the result matches the oracle."""
    x = np.array([[1e-200, 3e-200], [5e-200, -1e-200]])
    w = np.array([[1e-200, 0.0], [0.0, 1e-200], [1.0, 0.0]])
    t = np.array([0, 1])
    ora = _Oracle(x, w, t, None, None, -100, "sum", 0.0, "float64")
    assert_same(_lce(x, w, t, reduction="sum"), ora.loss(), np.float64, "loss")
    for got, e in zip(
        linear_cross_entropy_grad(x, w, t, reduction="sum")[:2], ora.grads(None)[:2], strict=True
    ):
        assert_same(got, e, np.float64, "grad")


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("args", "kw", "match"),
    [
        ((np.ones((2, 3)), np.ones((4, 5)), np.array([0, 1])), {}, "features"),
        ((np.ones((2, 3)), np.ones((4,)), np.array([0, 1])), {}, "linear_weight must"),
        ((np.ones((2, 3, 1)), np.ones((4, 1)), np.array([0, 1])), {}, "input must"),
        (
            (np.ones((2, 3)), np.ones((4, 3)), np.array([0, 1])),
            {"linear_bias": np.ones(5)},
            "linear_bias",
        ),
        ((np.ones((2, 3)), np.ones((4, 3)), np.array([0, 1])), {"weight": np.ones(3)}, "weight"),
        ((np.ones((2, 3)), np.ones((4, 3)), np.array([0, 4])), {}, "out of bounds"),
        ((np.ones((2, 3)), np.ones((4, 3)), np.array([0, 1, 2])), {}, "target"),
        ((np.ones(3), np.ones((4, 2, 3)), np.array(0)), {}, "batched"),
        ((np.ones((2, 3)), np.ones((4, 3)), np.array([0, 1])), {"reduction": "avg"}, "reduction"),
    ],
)
def test_bad_input_is_rejected(args: tuple, kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        linear_cross_entropy(*args, **kw)
    with pytest.raises(ValueError, match=match):
        linear_cross_entropy_grad(*args, **kw)


def test_integer_arrays_are_rejected() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        linear_cross_entropy(np.ones((2, 3), dtype=np.int32), np.ones((4, 3)), np.array([0, 1]))


# --------------------------------------------------------------------------- PyTorch
def test_convention_matches_torch_in_float64() -> None:
    """A sanity check of the argument conventions against PyTorch in float64 (not of accuracy:
    the tolerance is loose)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    N, H, V = 12, 16, 20
    x = rng.standard_normal((N, H))
    w = rng.standard_normal((V, H)) / 4
    b = rng.standard_normal(V)
    cw = rng.uniform(0.5, 2.0, V)
    t = rng.integers(0, V, N)
    t[3] = -100
    kw = {"weight": cw, "reduction": "mean", "label_smoothing": 0.1}
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    loss = F.linear_cross_entropy(
        tx,
        tw,
        torch.tensor(t),
        linear_bias=tb,
        weight=torch.tensor(cw),
        reduction="mean",
        label_smoothing=0.1,
    )
    loss.backward()
    ref = linear_cross_entropy(x, w, t, linear_bias=b, **kw)
    np.testing.assert_allclose(ref, loss.detach().numpy(), rtol=1e-12)
    gi, gw, gb = linear_cross_entropy_grad(x, w, t, linear_bias=b, **kw)
    for got, want in ((gi, tx.grad), (gw, tw.grad), (gb, tb.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-14)
