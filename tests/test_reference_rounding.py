"""Unit and property tests of the reference's rounding (``reference.rounding``).

Expected values come from the test oracle's own rounding (``tests/reference_oracle.py``:
exact rationals, Python's round-half-even on Fractions) or are written out by hand from
IEEE 754-2019 §4.3.1 (round to nearest, ties to even), §3.4 (gradual underflow) and §7.4
(overflow to infinity from the midpoint between the largest finite number and 2^(emax+1)).
"""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference.formats import BFLOAT16, FLOAT16, FLOAT32, FLOAT64, FORMATS, Format
from reference.rounding import certify, round_dd, round_dd_margin, round_rational, to_dtype
from tests.reference_oracle import FORMAT_PARAMS, round_fraction

ALL = [FLOAT16, BFLOAT16, FLOAT32, FLOAT64]
NARROW = [FLOAT16, BFLOAT16, FLOAT32]
IDS = [f.name for f in ALL]

PER_FORMAT = [
    pytest.param(FLOAT16, id="float16"),
    pytest.param(BFLOAT16, id="bfloat16"),
    pytest.param(FLOAT32, id="float32"),
    pytest.param(FLOAT64, id="float64"),
]


def _q(x: float) -> Fraction:
    return Fraction(float(x))


def _same(a: float, b: float) -> bool:
    """Equal as values, NaN equal to NaN, and the sign of zero compared too."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _rdd(hi: float, lo: float, fmt: Format, scalar_lo: bool) -> float:
    """round_dd on one element, with the low word a scalar (fast path when 0) or an array."""
    h = np.array([hi])
    l = lo if scalar_lo else np.array([lo])
    return float(round_dd(h, l, fmt)[0])


def _quantum(fmt: Format, v: float) -> float:
    e = math.frexp(abs(v))[1] - 1 if v else fmt.emin
    return 2.0 ** (max(e, fmt.emin) - fmt.precision + 1)


# ----------------------------------------------------------------- the formats themselves
def test_format_parameters_match_ieee_and_the_dtypes() -> None:
    for f in ALL:
        assert (f.precision, f.emin, f.emax) == FORMAT_PARAMS[f.name]
        info = ml_dtypes.finfo(f.dtype) if f is BFLOAT16 else np.finfo(f.dtype)
        assert float(info.max) == f.max_finite
        assert float(info.smallest_normal) == f.min_normal
        assert float(info.smallest_subnormal) == f.min_subnormal


# -------------------------------------------------------------------------- ties to even
@pytest.mark.parametrize("fmt", ALL, ids=IDS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("scalar_lo", [True, False])
def test_ties_go_to_even(fmt: Format, sign: float, scalar_lo: bool) -> None:
    p = fmt.precision
    ulp1 = 2.0 ** (1 - p)
    for base, expected in [
        (1.0, 1.0),  # 1 + ulp/2: between 1 (even) and 1 + ulp (odd) -> 1
        (1.0 + ulp1, 1.0 + 2 * ulp1),  # between odd and even -> up
        (1.5, 1.5),
        (1.5 - ulp1, 1.5),  # odd below 1.5 -> up to even 1.5
    ]:
        if fmt is FLOAT64:  # the midpoint needs a low word
            hi, lo = sign * base, sign * ulp1 / 2
            if scalar_lo:
                continue
        else:
            hi, lo = sign * (base + ulp1 / 2), 0.0
        assert _same(_rdd(hi, lo, fmt, scalar_lo), sign * expected)
        q = _q(hi) + _q(lo)
        assert _same(round_rational(q, fmt), sign * expected)
        # one unit of 2^-40 of the quantum either side breaks the tie
        nudge = Fraction(ulp1) * Fraction(1, 2**40)
        sg = int(sign)
        assert round_rational(q + sg * nudge, fmt) == sign * (base + ulp1)
        assert round_rational(q - sg * nudge, fmt) == sign * base


@pytest.mark.parametrize("fmt", PER_FORMAT)
def test_low_word_breaks_a_high_word_tie(fmt: Format) -> None:
    if fmt is FLOAT64:
        pytest.skip("a float64 high word is never a float64 midpoint")
    ulp1 = 2.0 ** (1 - fmt.precision)
    hi = 1.0 + ulp1 / 2  # exact midpoint between 1 and 1 + ulp
    tiny = 2.0**-70
    assert _rdd(hi, tiny, fmt, True) == 1.0 + ulp1
    assert _rdd(hi, -tiny, fmt, True) == 1.0
    assert _rdd(hi, 0.0, fmt, False) == 1.0


@pytest.mark.parametrize("fmt", ALL, ids=IDS)
def test_power_of_two_with_negative_low_word(fmt: Format) -> None:
    """Just below a power of two the quantum halves: 2 - tiny rounds to 2, but 2 - 3/4 of the
    lower binade's quantum rounds down."""
    qlow = 2.0 ** (1 - fmt.precision)  # quantum of [1, 2)
    assert _rdd(2.0, -qlow / 4, fmt, False) == 2.0
    assert _rdd(2.0, -qlow / 2, fmt, False) == 2.0  # tie: 2 is even (…000), 2 - q odd
    assert _rdd(2.0, -qlow * 3 / 4, fmt, False) == 2.0 - qlow
    if fmt is not FLOAT64:
        assert _rdd(2.0 - qlow * 3 / 4, 0.0, fmt, True) == 2.0 - qlow


# ---------------------------------------------------------------------------- subnormals
@pytest.mark.parametrize("fmt", ALL, ids=IDS)
@pytest.mark.parametrize("sign", [1, -1])
def test_subnormals(fmt: Format, sign: int) -> None:
    s = Fraction(fmt.min_subnormal)
    cases = [
        (s, s),
        (s / 2, Fraction(0)),  # tie between 0 (even) and s (odd)
        (s / 2 + s / 2**30, s),
        (s / 2 - s / 2**30, Fraction(0)),
        (s * 3 / 2, 2 * s),  # tie between s (odd) and 2s (even)
        (s * 5 / 2, 2 * s),
        (s / 2**20, Fraction(0)),
        (Fraction(fmt.min_normal) - s / 2, Fraction(fmt.min_normal)),  # tie: 2^emin is even
        (Fraction(fmt.min_normal) - s * 3 / 4, Fraction(fmt.min_normal) - s),
    ]
    for v, expected in cases:
        got = round_rational(sign * v, fmt)
        assert _same(got, float(expected) * sign), (fmt.name, v)
        if fmt is not FLOAT64:  # v is a float64 here: both round_dd paths
            assert Fraction(float(v)) == v
            for scalar_lo in (True, False):
                got = _rdd(float(sign * v), 0.0, fmt, scalar_lo)
                assert _same(got, float(expected) * sign)


def test_float64_subnormals_through_double_double() -> None:
    s = FLOAT64.min_subnormal
    assert _rdd(s, 0.0, FLOAT64, False) == s
    assert _rdd(3 * s, 0.0, FLOAT64, False) == 3 * s
    assert _rdd(2.0**-1022, -(2.0**-1074), FLOAT64, False) == 2.0**-1022 - s


# ----------------------------------------------------------------------------- overflow
@pytest.mark.parametrize("fmt", ALL, ids=IDS)
@pytest.mark.parametrize("sign", [1, -1])
def test_overflow_thresholds(fmt: Format, sign: int) -> None:
    M = Fraction(fmt.max_finite)
    half_ulp = Fraction(2) ** (fmt.emax - fmt.precision)
    top = Fraction(2) ** (fmt.emax + 1)
    cases = [
        (M, float(M)),
        (M + half_ulp - half_ulp / 2**20, float(M)),
        (M + half_ulp, math.inf),  # the midpoint ties to the even 2^(emax+1): overflow
        (M + half_ulp + half_ulp / 2**20, math.inf),
        (top, math.inf),
        (top * 4, math.inf),
    ]
    for v, expected in cases:
        assert round_rational(sign * v, fmt) == sign * expected, (fmt.name, v)
    if fmt is not FLOAT64:
        for v, expected in cases:
            assert Fraction(float(v)) == v
            for scalar_lo in (True, False):
                assert _rdd(float(sign * v), 0.0, fmt, scalar_lo) == sign * expected
    else:
        assert _rdd(sign * float(M), sign * float(half_ulp), fmt, False) == sign * math.inf
        below = float(half_ulp) * (1 - 2.0**-20)
        assert _rdd(sign * float(M), sign * below, fmt, False) == sign * float(M)


# ---------------------------------------------------- double rounding through float32
def _via_float32(v: float) -> float:
    return float(np.float32(v).astype(ml_dtypes.bfloat16))


@pytest.mark.parametrize(
    "v",
    [
        1.0 + 2.0**-8 + 2.0**-30,  # above the bfloat16 midpoint; float32 rounds onto it
        -(1.0 + 2.0**-8 + 2.0**-30),
        1.0 + 2.0**-7 + 2.0**-8 - 2.0**-33,  # below an up-tie: float32 lifts it onto the tie
        (1.0 + 2.0**-7 + 2.0**-8 - 2.0**-33) * 2.0**100,  # below an up-tie, float32 lifts it
    ],
)
def test_bfloat16_double_rounding_cases(v: float) -> None:
    expected = round_fraction(_q(v), "bfloat16")
    assert _via_float32(v) != expected  # the case is real: float64->float32->bfloat16 is wrong
    for scalar_lo in (True, False):
        assert _rdd(v, 0.0, BFLOAT16, scalar_lo) == expected
    assert round_rational(_q(v), BFLOAT16) == expected
    out = to_dtype(round_dd(np.array([v]), 0.0, BFLOAT16), BFLOAT16)
    assert out.dtype == ml_dtypes.bfloat16 and float(out[0]) == expected


# ---------------------------------------------------------- signed zero, NaN, infinity
@pytest.mark.parametrize("fmt", ALL, ids=IDS)
def test_zero_nan_inf_pass_through(fmt: Format) -> None:
    vals = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, -1e-300, 1e-300])
    for lo in (0.0, np.zeros(vals.shape)):
        out = round_dd(vals, lo, fmt)
        # a negative real that rounds to zero gives -0 (IEEE 754-2019 §6.3)
        assert out[0] == 0 and out[1] == 0
        assert math.isnan(out[2]) and out[3] == np.inf and out[4] == -np.inf
        if fmt is FLOAT64:
            assert out[5] == -1e-300 and out[6] == 1e-300
        else:
            assert _same(out[5], -0.0) and _same(out[6], 0.0)
    assert _same(round_rational(Fraction(0), fmt), 0.0)
    assert _same(round_rational(Fraction(-1, 10**400), fmt), -0.0)
    ok, _ = certify(np.array([1.0, np.inf]), 0.0, np.array([np.inf, np.nan]), fmt)
    assert not ok.any()


@pytest.mark.parametrize("fmt", ALL, ids=IDS)
def test_certify_never_certifies_nan(fmt: Format) -> None:
    """certify's docstring: NaN enclosures are never certified."""
    ok, _ = certify(np.array([np.nan, np.nan]), 0.0, np.array([0.0, 1.0]), fmt)
    assert not ok.any()


def test_to_dtype_is_exact() -> None:
    for f in ALL:
        v = np.array([f.max_finite, f.min_subnormal, -f.min_normal, 1.0 + 2.0 ** (1 - f.precision)])
        out = to_dtype(v, f)
        assert out.dtype == f.dtype
        assert np.array_equal(out.astype(np.float64), v)


# -------------------------------------------------------------------- property tests
def _two_sum(a: float, b: float) -> tuple[float, float]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@st.composite
def dd_near_boundaries(draw: st.DrawFn, fmt: Format) -> tuple[Format, float, float]:
    """A normalised double-double placed at, near or between rounding boundaries of ``fmt``,
    across its whole range."""
    e = draw(st.integers(fmt.emin - fmt.precision - 2, fmt.emax))
    q = 2.0 ** (max(e, fmt.emin) - fmt.precision + 1)
    n = draw(st.integers(0, 2**fmt.precision + 1))
    frac = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 0.5 - 2.0**-20, 0.5 + 2.0**-20]))
    base = (n + frac) * q if abs(n * q) < 1e300 else n * q
    assume(math.isfinite(base) and abs(base) <= 2.0**1023)
    sign = draw(st.sampled_from([1.0, -1.0]))
    hi = sign * base
    tail = draw(st.sampled_from([0.0, 1.0, -1.0]) | st.floats(-1.0, 1.0, allow_subnormal=False))
    scale = math.ulp(hi) * 2.0 ** -draw(st.integers(1, 40)) if hi else 0.0
    lo = tail * scale
    h, l = _two_sum(hi, lo)
    assume(math.isfinite(h))
    return fmt, h, l


@st.composite
def dd_anywhere(draw: st.DrawFn, fmt: Format) -> tuple[Format, float, float]:
    hi = draw(st.floats(allow_nan=False, allow_infinity=False))
    lo = draw(st.floats(allow_nan=False, allow_infinity=False, min_value=-1.0, max_value=1.0))
    h, l = _two_sum(hi, lo * math.ulp(hi) / 2)
    assume(math.isfinite(h))
    return fmt, h, l


def _cases(fmt: Format) -> st.SearchStrategy[tuple[Format, float, float]]:
    return st.one_of(dd_near_boundaries(fmt), dd_anywhere(fmt))


@pytest.mark.parametrize("fmt", PER_FORMAT)
@settings(max_examples=400)
@given(data=st.data())
def test_round_dd_agrees_with_exact_rounding(fmt: Format, data: st.DataObject) -> None:
    _, h, l = data.draw(_cases(fmt))
    expected = round_fraction(_q(h) + _q(l), fmt.name)
    got = _rdd(h, l, fmt, False)
    assert got == expected or (math.isnan(got) and math.isnan(expected)), (h, l)
    assert round_rational(_q(h) + _q(l), fmt) == expected
    if l == 0 and fmt is not FLOAT64:
        assert _rdd(h, 0.0, fmt, True) == expected


@pytest.mark.parametrize("fmt", ALL, ids=IDS)
@settings(max_examples=400)
@given(data=st.data())
def test_round_dd_margin_is_a_safe_distance(fmt: Format, data: st.DataObject) -> None:
    _, h, l = data.draw(_cases(fmt))
    exact = _q(h) + _q(l)
    lows: list[float | np.ndarray] = [np.array([l])]
    if l == 0 and fmt is not FLOAT64:
        lows.append(0.0)  # the integer fast path
    for lo in lows:
        val, margin = round_dd_margin(np.array([h]), lo, fmt)
        v, m = float(val[0]), float(margin[0])  # m may be negative: a weaker lower bound
        if m > 0:  # then the value itself must be the correctly rounded one
            assert v == round_fraction(exact, fmt.name)
            inside = Fraction(m) * (1 - Fraction(1, 2**30))
            for probe in (exact - inside, exact + inside):
                r = round_fraction(probe, fmt.name)
                assert r == v, (h, l, m, probe)


@pytest.mark.parametrize("fmt", ALL, ids=IDS)
def test_margin_is_not_vacuous(fmt: Format) -> None:
    """Away from boundaries the margin is a sizeable fraction of the quantum (a margin of 0
    everywhere would make certify useless and the property above vacuous)."""
    ulp1 = 2.0 ** (1 - fmt.precision)
    hi = np.array([1.25 + ulp1 / 4, 1.5 - ulp1 / 4, 1.25])
    lo = np.zeros(3) if fmt is FLOAT64 else 0.0
    if fmt is FLOAT64:
        hi = np.array([1.25, 1.5, 1.25])
        lo = np.array([ulp1 / 4, -ulp1 / 4, 0.0])
    _, margin = round_dd_margin(hi, lo, fmt)
    assert np.all(margin >= ulp1 / 8)


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param(FLOAT16, id="float16"),
        pytest.param(BFLOAT16, id="bfloat16"),
        pytest.param(FLOAT32, id="float32"),
        pytest.param(FLOAT64, id="float64"),
    ],
)
@settings(max_examples=300)
@given(data=st.data())
def test_certify_only_certifies_what_rounds_uniquely(fmt: Format, data: st.DataObject) -> None:
    _, h, l = data.draw(_cases(fmt))
    rel = data.draw(st.sampled_from([0.0, 2.0**-60, 2.0**-40, 2.0**-20, 0.25, 0.5, 1.0]))
    rad = rel * _quantum(fmt, h)
    ok, val = certify(np.array([h]), np.array([l]), np.array([rad]), fmt)
    if rad == 0:
        assert ok[0]
    if ok[0]:
        exact = _q(h) + _q(l)
        for probe in (exact - Fraction(rad), exact, exact + Fraction(rad)):
            r = round_fraction(probe, fmt.name)
            assert r == float(val[0]) or (r == 0 and val[0] == 0), (h, l, rad)


@pytest.mark.parametrize("fmt", NARROW, ids=[f.name for f in NARROW])
def test_certify_refuses_an_enclosure_across_a_midpoint(fmt: Format) -> None:
    ulp1 = 2.0 ** (1 - fmt.precision)
    mid = 1.0 + ulp1 / 2
    ok, _ = certify(np.array([mid, mid - 2.0**-45]), 0.0, np.array([2.0**-50, 2.0**-44]), fmt)
    assert not ok.any()
    ok, val = certify(np.array([mid - 2.0**-30]), 0.0, np.array([2.0**-50]), fmt)
    assert ok[0] and val[0] == 1.0


@settings(max_examples=1000)
@given(
    st.sampled_from(ALL),
    st.integers(-(2**1200), 2**1200),
    st.integers(1, 2**1200),
    st.integers(-1100, 1100),
)
def test_round_rational_matches_the_oracle(fmt: Format, num: int, den: int, shift: int) -> None:
    q = Fraction(num, den) * Fraction(2) ** shift
    assert _same(round_rational(q, fmt), round_fraction(q, fmt.name)) or (
        q == 0 and round_rational(q, fmt) == 0
    )


def test_every_format_is_registered() -> None:
    assert set(FORMATS) == set(FORMAT_PARAMS)


def test_round_dd_double_rounds_a_low_word_tie() -> None:
    """0.500732421875 is the float16 midpoint between 0.50048828125 (odd) and 0.5009765625;
    a negative low word puts the exact value below it, so it must round down."""
    out = round_dd(np.array([0.500732421875]), np.array([-(2.0**-54)]), FLOAT16)
    assert out[0] == 0.50048828125


def test_certify_wide_enclosure_near_zero() -> None:
    """[v - 2^-25, v + 2^-25] with v = 2^-1023 > 0 reaches past half the smallest float16
    subnormal (2^-25), where values round up to 2^-24: it must not be certified as 0."""
    ok, _ = certify(np.array([2.0**-1023]), np.array([0.0]), np.array([2.0**-25]), FLOAT16)
    assert not ok[0]
