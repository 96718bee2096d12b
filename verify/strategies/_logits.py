"""Logit arrays in every dtype, by style: moderate, wide, ties, near-ties, subnormal, spreads
that underflow ``exp``, ``-inf`` masks, the special values ``+inf`` and NaN, and the ranges
where careless algorithms lose every digit: logits whose float spacing exceeds 1 (``coarse``:
``lse - x_t`` after rounding ``lse`` cancels), a top logit ahead of the others by a gap where
``1 - p`` falls below the unit roundoff (``confident``: ``p - 1`` and ``log(1 + s)`` lose the
complement), and softplus/sigmoid arguments in that range (``saturated``).

Arrays up to :data:`ELEMENTWISE_LIMIT` elements are drawn element by element (Hypothesis
shrinks them well); larger ones (large vocabularies) are filled from a drawn seed with NumPy's
generator, so a 50k-class row costs one draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from verify.judge.ulp import FloatFormat
from verify.strategies._values import (
    as_array,
    check_dtype,
    exact_floats,
    exactly,
    int_range,
    memoised_strategy,
    sampled,
)

#: arrays with more elements than this are generated from a seed
ELEMENTWISE_LIMIT = 256

LOGIT_STYLES: tuple[str, ...] = (
    "moderate",  # |x| <= 8: well conditioned
    "wide",  # magnitudes from tiny to a few times log(max) (exp overflows unshifted)
    "ties",  # a few distinct values repeated exactly
    "near_ties",  # values one ULP apart
    "subnormal",  # subnormals and zeros of the format
    "spread",  # one large logit, the others far enough below that exp underflows
    "huge",  # magnitudes near the format's largest finite value
    "masked",  # moderate values with some -inf (vocabulary masking), never a whole row
    "special",  # moderate values with +inf and NaN inserted
    "coarse",  # close to one another, at magnitudes whose float spacing exceeds 1
    "confident",  # a top logit ahead of the others by gaps where 1 - p underflows u
    "saturated",  # +-gap elementwise, gaps in the same range (softplus/sigmoid arguments)
)


def check_shape(shape: Sequence[int], *, allow_empty: bool = False) -> tuple[int, ...]:
    """``shape`` as a tuple of ints; InvalidArgument unless every extent is a positive int
    (and, unless ``allow_empty``, there is at least one)."""
    what = "a tuple of positive ints" if allow_empty else "a non-empty tuple of positive ints"
    try:
        dims = tuple(shape)
    except TypeError:
        raise InvalidArgument(f"shape={shape!r} must be {what}") from None
    if (not dims and not allow_empty) or any(
        isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 for n in dims
    ):
        raise InvalidArgument(f"shape={shape!r} must be {what}")
    return tuple(int(n) for n in dims)


def complement_gaps(fmt: FloatFormat) -> tuple[float, float]:
    """Gaps ``g`` between the top logit and another where ``exp(-g)`` is below the unit
    roundoff yet still representable: ``1 - p`` is lost by an algorithm that forms ``p``
    first (about 15 to 105 in float32, 33 to 746 in float64)."""
    low = 0.9 * fmt.precision * math.log(2)
    high = (fmt.precision - fmt.emin) * math.log(2) + 1
    return low, high


def _coarse_values(fmt: FloatFormat, exponent: int, offsets: np.ndarray, sign: float) -> np.ndarray:
    """``sign * (M + j) * 2^(exponent - p + 1)``: values one to a few spacings apart in the
    binade of ``2^exponent`` (spacing ``2^(exponent - p + 1) >= 2``), exact by construction."""
    p = fmt.precision
    mid = 3 * 2 ** (p - 2)  # the middle of the binade's significands
    return sign * np.ldexp((mid + offsets).astype(np.float64), exponent - p + 1)


def _coarse_exponents(fmt: FloatFormat) -> tuple[int, int]:
    """Binades whose spacing exceeds 1: from ``2^p`` a few binades up (below the largest)."""
    return fmt.precision, min(fmt.precision + 6, fmt.emax - 1)


@memoised_strategy
def _element(style: str, fmt: FloatFormat) -> st.SearchStrategy[float]:
    lm = math.log(fmt.max_finite)
    lm_exp = math.floor(math.log2(lm)) + 2  # up to ~4 * log(max)
    if style == "moderate":
        return exact_floats(fmt.name, min_exponent=-6, max_exponent=2)
    if style == "wide":
        return exact_floats(fmt.name, min_exponent=fmt.emin, max_exponent=lm_exp)
    if style == "subnormal":
        return exact_floats(fmt.name, max_exponent=fmt.emin - 1)
    if style == "huge":
        return exact_floats(fmt.name, min_exponent=fmt.emax - 3, max_exponent=fmt.emax)
    raise AssertionError(style)


def _round_to(values: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    clipped = np.clip(values, -fmt.max_finite, fmt.max_finite)
    return clipped.astype(fmt.dtype).astype(np.float64)


def _seeded(style: str, fmt: FloatFormat, n: int, seed: int, scale: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lm = math.log(fmt.max_finite)
    x: np.ndarray
    if style in ("moderate", "masked", "special", "ties", "near_ties"):
        x = rng.standard_normal(n) * scale
    elif style == "wide":
        x = rng.standard_normal(n) * (lm * scale / 4)
    elif style == "spread":
        x = -rng.uniform(0, 3 * lm, n)
        x[rng.integers(n)] = 0.0
    elif style == "huge":
        x = rng.uniform(-1, 1, n) * fmt.max_finite
    elif style == "coarse":
        lo, hi = _coarse_exponents(fmt)
        x = _coarse_values(fmt, int(rng.integers(lo, hi + 1)), rng.integers(-4, 5, n), 1.0)
    elif style in ("confident", "saturated"):
        g_lo, g_hi = complement_gaps(fmt)
        gaps = rng.uniform(g_lo, g_hi, n)
        if style == "confident":
            x = -gaps
            x[rng.integers(n)] = 0.0
        else:
            x = gaps * rng.choice([-1.0, 1.0], n)
    else:  # subnormal
        x = (
            rng.integers(-(2 ** (fmt.precision - 1)), 2 ** (fmt.precision - 1), n)
            * fmt.min_subnormal
        )
    if style == "ties":
        x = rng.choice(_round_to(x[:3], fmt), n)
    return _round_to(x, fmt)


_SEEDS = int_range(0, 2**32 - 1)
_FILL_SCALES = sampled((1.0, 4.0, 16.0))
_SIGNS = sampled((1.0, -1.0))
_SPECIAL_KINDS = {"masked": sampled((-np.inf,)), "special": sampled((np.inf, -np.inf, np.nan))}


@memoised_strategy
def _tie_pool(fmt: FloatFormat) -> st.SearchStrategy[list[float]]:
    return st.lists(_element("moderate", fmt), min_size=1, max_size=3)


@memoised_strategy
def _gaps(
    fmt: FloatFormat,
) -> tuple[float, st.SearchStrategy[float], st.SearchStrategy[float]]:
    """(the smallest complement gap, signed gaps of the ``saturated`` style, gaps below the top
    of ``confident``)."""
    g_lo, g_hi = complement_gaps(fmt)
    in_range = st.floats(g_lo, g_hi, allow_nan=False)
    signed = st.tuples(in_range, _SIGNS).map(lambda gs: gs[0] * gs[1])
    return g_lo, signed, st.one_of(in_range, st.floats(0, 4, allow_nan=False))


@memoised_strategy
def _spread_gaps(fmt: FloatFormat) -> st.SearchStrategy[float]:
    return st.floats(0, 3 * math.log(fmt.max_finite), allow_nan=False)


@memoised_strategy
def _positions(n: int) -> st.SearchStrategy[list[int]]:
    return st.permutations(range(n))


@memoised_strategy
def _special_positions(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(int_range(0, n - 1), min_size=1, max_size=max(1, n - 1))


@memoised_strategy
@st.composite
def _flat_logits(draw: st.DrawFn, style: str, fmt: FloatFormat, n: int) -> np.ndarray:
    if n > ELEMENTWISE_LIMIT:
        seed = draw(_SEEDS, label="fill seed")
        scale = draw(_FILL_SCALES, label="fill scale")
        return _seeded(style, fmt, n, seed, scale)
    if style in ("moderate", "wide", "subnormal", "huge"):
        drawn = draw(exactly(_element(style, fmt), n), label=f"{style} values")
        return np.asarray(drawn, dtype=np.float64)
    if style == "ties":
        pool = draw(_tie_pool(fmt), label="tie values")
        idx = draw(exactly(int_range(0, len(pool) - 1), n), label="ties")
        return np.asarray([pool[i] for i in idx], dtype=np.float64)
    if style == "near_ties":
        base = draw(_element("moderate", fmt), label="near-tie base")
        steps = draw(exactly(int_range(-2, 2), n), label="ulp steps")
        b = np.asarray(base, dtype=fmt.dtype)
        out = []
        for k in steps:
            v = b
            for _ in range(abs(k)):
                v = np.nextafter(v, np.asarray(np.inf if k > 0 else -np.inf, dtype=fmt.dtype))
            out.append(float(v))
        return np.asarray(out, dtype=np.float64)
    if style == "coarse":
        lo, hi = _coarse_exponents(fmt)
        e = draw(int_range(lo, hi), label="binade exponent")
        offsets = draw(exactly(int_range(-4, 4), n), label="spacings")
        sign = draw(_SIGNS, label="sign")
        return _coarse_values(fmt, e, np.asarray(offsets), sign)
    if style in ("confident", "saturated"):
        g_lo, signed, below_top = _gaps(fmt)
        if style == "saturated":
            drawn = draw(exactly(signed, n), label="saturated values")
            return _round_to(np.asarray(drawn, dtype=np.float64), fmt)
        top = draw(_element("moderate", fmt), label="top logit")
        gaps = draw(exactly(below_top, n - 1), label="gaps below top")
        if n > 1 and all(g < g_lo for g in gaps):
            gaps[0] = g_lo
        row = np.asarray([top] + [top - g for g in gaps], dtype=np.float64)
        order = draw(_positions(n), label="position of top")
        return _round_to(row[list(order)], fmt)
    if style == "spread":
        top = draw(_element("moderate", fmt), label="top logit")
        gaps = draw(exactly(_spread_gaps(fmt), n - 1), label="gaps below top")
        vals = np.asarray([top] + [top - g for g in gaps], dtype=np.float64)
        perm = draw(_positions(n), label="position of top")
        return _round_to(vals[list(perm)], fmt)
    if style in ("masked", "special"):
        vals = np.asarray(
            draw(exactly(_element("moderate", fmt), n), label="values"), dtype=np.float64
        )
        where = draw(_special_positions(n), label="special positions")
        kinds = draw(exactly(_SPECIAL_KINDS[style], len(where)), label="special kinds")
        for i, kind in zip(where, kinds, strict=True):
            vals[i] = kind
        return vals
    raise InvalidArgument(f"style={style!r} must be one of {LOGIT_STYLES}")


def logits(
    dtype: Any, shape: Sequence[int], *, style: str = "moderate", class_axis: int = -1
) -> st.SearchStrategy[np.ndarray]:
    """Arrays of ``shape`` and ``dtype`` in one :data:`LOGIT_STYLES` style.

    Row-structured styles (``spread``, ``confident``, ``masked``) are applied along
    ``class_axis``; ``masked``
    never masks a whole row (a fully masked row is a special value, drawn by ``special``).
    """
    fmt = check_dtype(dtype)
    shape = check_shape(shape)
    if style not in LOGIT_STYLES:
        raise InvalidArgument(f"style={style!r} must be one of {LOGIT_STYLES}")
    if not -len(shape) <= class_axis < len(shape):
        raise InvalidArgument(f"class_axis={class_axis} is out of range for shape {shape}")
    c = shape[class_axis]
    moved = tuple(np.moveaxis(np.empty(shape, dtype=bool), class_axis, -1).shape)
    rows = int(np.prod(moved[:-1]))

    if style == "masked" and c == 1:
        style = "moderate"  # a single class cannot be partly masked

    return _logits_array(style, fmt, rows, c, moved, class_axis, shape)


__all__ = ["ELEMENTWISE_LIMIT", "LOGIT_STYLES", "complement_gaps", "logits"]


@memoised_strategy
@st.composite
def _logits_array(
    draw: st.DrawFn,
    style: str,
    fmt: FloatFormat,
    rows: int,
    c: int,
    moved: tuple[int, ...],
    class_axis: int,
    shape: tuple[int, ...],
) -> np.ndarray:
    """The body of :func:`logits`, defined once: ``st.composite`` inspects its function's
    source when it decorates, which is far too slow to repeat on every draw."""
    if rows * c > ELEMENTWISE_LIMIT or style not in ("spread", "confident", "masked"):
        flat = draw(_flat_logits(style, fmt, rows * c), label=f"{style} logits")
        if style == "masked" and rows * c > ELEMENTWISE_LIMIT:
            mask_seed = draw(_SEEDS, label="mask seed")
            rng = np.random.default_rng(mask_seed)
            mask = rng.random(rows * c) < 0.5
            mask.reshape(rows, c)[:, 0] = False
            flat = np.where(mask, -np.inf, flat)
        arr = flat.reshape(moved)
    else:
        row_list = [draw(_flat_logits(style, fmt, c), label=f"row {i}") for i in range(rows)]
        arr = np.stack(row_list).reshape(moved)
    return as_array(np.moveaxis(arr, -1, class_axis), fmt.name, shape)
