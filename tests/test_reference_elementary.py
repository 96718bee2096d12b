"""The error bounds of the reference's exp/log/log1p (``reference.elementary``) contain the
exact values, computed here with :mod:`decimal` at 90 significant digits (libmpdec's exp and
ln are correctly rounded: https://docs.python.org/3/library/decimal.html#decimal.Decimal.exp),
and the float64 libm assumption (NumPy's exp/log/log1p within 2^-50 relative) holds."""

from __future__ import annotations

import decimal
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference import elementary as el

CTX = decimal.Context(prec=90, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
SLACK = Fraction(1, 10**85)  # relative error of the decimal "exact" values


def _dec(*parts: float) -> Decimal:
    total = Decimal(0)
    for p in parts:
        total = CTX.add(total, Decimal(p))  # Decimal(float) is exact
    return total


def _contains(value: tuple[float, ...], bound: float, exact: Decimal) -> bool:
    v = sum((Fraction(p) for p in value), Fraction(0))
    e = Fraction(exact)
    return abs(v - e) <= Fraction(bound) + abs(e) * SLACK


def _two_sum(a: float, b: float) -> tuple[float, float]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _dd(h: float, frac: float) -> tuple[float, float]:
    """A normalised double-double with high word near h and a low word frac * ulp(h) / 2."""
    s, e = _two_sum(h, frac * math.ulp(h) / 2)
    assume(math.isfinite(s))
    return s, e


FRAC = st.sampled_from([0.0, 1.0, -1.0]) | st.floats(-1.0, 1.0)
REL_RAD = st.sampled_from([0.0, 0.0, 2.0**-90, 2.0**-60, 2.0**-30])


@settings(max_examples=400)
@given(st.floats(-760.0, 715.0) | st.floats(-1.0, 1.0) | st.floats(-1e-300, 1e-300), FRAC, REL_RAD)
def test_exp_dd_bound_contains_exp(x: float, frac: float, rel: float) -> None:
    xh, xl = _dd(x, frac)
    rad = abs(xh) * rel
    eh, elo, b = (float(v[0]) for v in el.exp_dd(np.array([xh]), np.array([xl]), rad))
    if xh > 709.78:
        assert eh == math.inf
        return
    for dx in (-rad, 0.0, rad) if rad else (0.0,):
        assert _contains((eh, elo), b, CTX.exp(_dec(xh, xl, dx))), (xh, xl, rad, dx)


def _assert_f64_bound(
    kernel: Callable[..., tuple[np.ndarray, np.ndarray]],
    exact: Callable[[Decimal], Decimal],
    x: float,
    rad: float,
) -> None:
    """The float64 kernel's value and bound for ``x`` with input radius ``rad`` contain the
    exact function of ``x - rad``, ``x`` and ``x + rad``."""
    v, b = (float(t[0]) for t in kernel(np.array([x]), np.array([rad])))
    for d in (-rad, 0.0, rad) if rad else (0.0,):
        assert _contains((v,), b, exact(_dec(x, d))), (x, rad, d)


@settings(max_examples=300)
@given(st.floats(-745.0, 709.0) | st.floats(-1e-10, 1e-10), REL_RAD)
def test_exp_f64_bound_contains_exp(x: float, rel: float) -> None:
    _assert_f64_bound(el.exp_f64, CTX.exp, x, abs(x) * rel)


POSITIVE = (
    st.floats(min_value=5e-324, max_value=1.7976931348623157e308)
    | st.floats(0.5, 2.0)
    | st.sampled_from([1.0, 2.0, 0.5, 5e-324])
)


@settings(max_examples=400)
@given(POSITIVE, FRAC, REL_RAD)
def test_log_dd_bound_contains_log(s: float, frac: float, rel: float) -> None:
    sh, sl = _dd(s, frac) if s > 1e-290 else (s, 0.0)
    rad = sh * rel
    yh, yl, b = (float(v[0]) for v in el.log_dd(np.array([sh]), np.array([sl]), rad))
    for ds in (-rad, 0.0, rad) if rad else (0.0,):
        assert _contains((yh, yl), b, CTX.ln(_dec(sh, sl, ds))), (sh, sl, rad, ds)


@settings(max_examples=300)
@given(POSITIVE, REL_RAD)
def test_log_f64_bound_contains_log(s: float, rel: float) -> None:
    _assert_f64_bound(el.log_f64, CTX.ln, s, s * rel)


def _log1p(t: Decimal) -> Decimal:
    """log(1 + t) at 90 digits without losing a tiny t: series below 1e-20."""
    if abs(t) < Decimal("1e-20"):
        return CTX.subtract(t, CTX.divide(CTX.multiply(t, t), 2))  # next term < 1e-60 |t|
    return CTX.ln(CTX.add(1, t))


NONNEG = (
    st.floats(0.0, 1.7976931348623157e308)
    | st.floats(0.0, 2.0**-19)
    | st.floats(0.0, 1e-300)
    | st.sampled_from([0.0, 2.0**-20, 1.0])
)


@settings(max_examples=400)
@given(NONNEG, FRAC, REL_RAD)
def test_log1p_dd_bound_contains_log1p(t: float, frac: float, rel: float) -> None:
    th, tl = _dd(t, frac) if t > 1e-290 else (t, 0.0)
    if th < 0 or (th == 0 and tl < 0):
        th, tl = 0.0, 0.0
    rad = th * rel
    yh, yl, b = (float(v[0]) for v in el.log1p_dd(np.array([th]), np.array([tl]), rad))
    for dt in (-rad, 0.0, rad) if rad else (0.0,):
        assert _contains((yh, yl), b, _log1p(_dec(th, tl, dt))), (th, tl, rad, dt)


@settings(max_examples=300)
@given(NONNEG, REL_RAD)
def test_log1p_f64_bound_contains_log1p(t: float, rel: float) -> None:
    _assert_f64_bound(el.log1p_f64, _log1p, t, t * rel)


def test_exact_cases_have_zero_radius() -> None:
    assert el.exp_dd(np.array([0.0]), np.array([0.0]))[2][0] == 0
    assert el.log_dd(np.array([1.0]), np.array([0.0]))[2][0] == 0
    assert el.log1p_dd(np.array([0.0]), np.array([0.0]))[2][0] == 0
    h, _, b = el.exp_dd(np.array([-np.inf]), np.array([0.0]))
    assert h[0] == 0 and b[0] == 0


# ------------------------------------------------------------- the libm assumption
def _libm_samples(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    return {
        "exp": np.concatenate(
            [
                rng.uniform(-745, 709.7, n),
                rng.uniform(-1, 1, n // 4),
                rng.standard_normal(n // 4) * 1e-8,
            ]
        ),
        "log": np.concatenate([np.exp2(rng.uniform(-1074, 1024, n)), rng.uniform(0.5, 2, n // 4)]),
        "log1p": np.concatenate([np.exp2(rng.uniform(-1074, 1000, n)), rng.uniform(0, 1, n // 4)]),
    }


def _check_libm(n: int) -> None:
    """np.exp/np.log/np.log1p against the double-double tier (whose bounds the property tests
    above check against decimal): |f64 - exact| <= 2^-50 |f64| everywhere sampled (plus the
    absolute floor TINY for exp's subnormal results).  Where the double-double enclosure is
    too coarse to decide (subnormal results, whose dd bound is itself about TINY), decimal
    decides."""
    s = _libm_samples(n)
    exact_fns = {
        "exp": lambda x: CTX.exp(_dec(x)),
        "log": lambda x: CTX.ln(_dec(x)),
        "log1p": lambda x: _log1p(_dec(x)),
    }
    with np.errstate(all="ignore"):
        for name, f, g in (
            ("exp", np.exp, el.exp_dd),
            ("log", np.log, el.log_dd),
            ("log1p", np.log1p, el.log1p_dd),
        ):
            x = s[name]
            x = x[np.isfinite(x) & ((x > 0) | (name == "exp"))]
            v = f(x)
            h, l, b = g(x, np.zeros_like(x))
            claim = 2.0**-50 * np.abs(v) + (el.TINY if name == "exp" else 0.0)
            undecided = np.flatnonzero(~(np.abs((v - h) - l) + b <= claim))
            assert undecided.size <= max(200, x.size // 100), (name, undecided.size)
            for i in undecided:
                assert _contains((float(v[i]),), float(claim[i]), exact_fns[name](float(x[i]))), (
                    name,
                    float(x[i]),
                )


def test_float64_libm_assumption() -> None:
    _check_libm(50_000)


@pytest.mark.slow
def test_float64_libm_assumption_many() -> None:
    _check_libm(2_000_000)


def test_libm_spot_check_against_decimal() -> None:
    rng = np.random.default_rng(7)
    for x in rng.uniform(-700, 700, 300):
        assert _contains((float(np.exp(x)),), 2.0**-50 * float(np.exp(x)), CTX.exp(_dec(x)))
    for s in np.exp2(rng.uniform(-1000, 1000, 300)):
        v = float(np.log(s))
        assert _contains((v,), 2.0**-50 * abs(v), CTX.ln(_dec(s)))
