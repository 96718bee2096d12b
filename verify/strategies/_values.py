"""Scalars exactly representable in a floating-point format, and arrays built from them.

Values are composed from sign, exponent and integer significand (``m * 2^(e - p + 1)``), so
every draw is exact in the target format, from the smallest subnormal to the largest finite
value, without relying on a cast that could round or overflow.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from verify.judge.ulp import FORMATS, FloatFormat
from verify.ops import DTYPES

#: how many distinct strategies each memoised builder keeps
STRATEGY_CACHE_SIZE = 4096

BOOLEANS: st.SearchStrategy[bool] = st.booleans()

_Builder = TypeVar("_Builder", bound=Callable[..., Any])


def memoised_strategy(build: _Builder) -> _Builder:
    """``build`` memoised on its (hashable) arguments.

    A strategy built inside a draw is a new object on every draw, and Hypothesis validates each
    new object (``SearchStrategy.validate``, with its emptiness and recursion properties) before
    it draws from it: about half the time of drawing a case went there.  Strategies are
    immutable descriptions, so one object per distinct set of arguments is drawn from exactly as
    a new one would be (the same choices, the same values) and is validated once."""
    return cast(_Builder, functools.lru_cache(maxsize=STRATEGY_CACHE_SIZE)(build))


@memoised_strategy
def int_range(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, one object per range (see :func:`memoised_strategy`)."""
    return st.integers(low, high)


@memoised_strategy
def sampled(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """``st.sampled_from(values)``, one object per tuple of values."""
    return st.sampled_from(values)


@memoised_strategy
def exactly(elements: st.SearchStrategy[Any], n: int) -> st.SearchStrategy[list[Any]]:
    """Lists of exactly ``n`` draws of ``elements`` (memoised on the element strategy's
    identity: pass memoised elements)."""
    return st.lists(elements, min_size=n, max_size=n)


def check_dtype(dtype: Any, argument: str = "dtype") -> FloatFormat:
    """The format of ``dtype`` (a name or NumPy dtype); InvalidArgument otherwise."""
    try:
        name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    if name not in FORMATS:
        raise InvalidArgument(f"{argument}={dtype!r} must be one of {DTYPES}")
    return FORMATS[name]


def check_range(name: str, value: int, low: int, high: int | None = None) -> None:
    """InvalidArgument unless ``low <= value (<= high)``, naming the argument."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidArgument(f"{name}={value!r} must be {bound}")


def exact_floats(
    dtype: Any,
    *,
    min_exponent: int | None = None,
    max_exponent: int | None = None,
    signed: bool = True,
    allow_zero: bool = True,
) -> st.SearchStrategy[float]:
    """Finite values of format ``dtype`` whose binade exponent lies in
    ``[min_exponent, max_exponent]`` (default: the whole format, subnormals included).

    ``min_exponent`` below the format's ``emin`` draws subnormals.
    """
    fmt = check_dtype(dtype)
    lo = fmt.emin - fmt.precision + 1 if min_exponent is None else min_exponent
    hi = fmt.emax if max_exponent is None else max_exponent
    if lo > hi:
        raise InvalidArgument(f"min_exponent={lo} must not exceed max_exponent={hi}")
    lo = max(lo, fmt.emin - fmt.precision + 1)
    hi = min(hi, fmt.emax)
    return _exact_floats(fmt, lo, hi, bool(signed), bool(allow_zero))


@memoised_strategy
def _exact_floats(
    fmt: FloatFormat, lo: int, hi: int, signed: bool, allow_zero: bool
) -> st.SearchStrategy[float]:
    strategy: st.SearchStrategy[float] = _exact_float(fmt, lo, hi, signed)
    if allow_zero:
        strategy = st.one_of(st.just(0.0), strategy)
    return strategy


@st.composite
def _exact_float(draw: st.DrawFn, fmt: FloatFormat, lo: int, hi: int, signed: bool) -> float:
    """The body of :func:`exact_floats`, decorated once: ``st.composite`` inspects its
    function's source when it decorates, which is far too slow to repeat on every call."""
    p = fmt.precision
    e = draw(int_range(lo, hi), label="exponent")
    if e < fmt.emin:  # subnormal: value = m * 2^(emin - p + 1), with 2^(e-emin+p-1) <= m
        low_m = 1 << max(e - fmt.emin + p - 1, 0)
        m = draw(int_range(low_m, min(2 * low_m - 1, (1 << (p - 1)) - 1)), label="m")
        value = math.ldexp(m, fmt.emin - p + 1)
    else:
        m = draw(int_range(1 << (p - 1), (1 << p) - 1), label="significand")
        value = math.ldexp(m, e - p + 1)
    if signed and draw(BOOLEANS, label="negative"):
        value = -value
    return value


def grid_floats(dtype: Any, low: float, high: float, step: float) -> st.SearchStrategy[float]:
    """Multiples of ``step`` in ``[low, high]`` (exact in ``dtype`` when ``step`` is a power of
    two and ``|value| / step`` fits the significand; checked)."""
    fmt = check_dtype(dtype)
    if not (step > 0 and math.frexp(step)[0] == 0.5):
        raise InvalidArgument(f"step={step!r} must be a positive power of two")
    if not low <= high:
        raise InvalidArgument(f"low={low!r} must not exceed high={high!r}")
    n_lo, n_hi = math.ceil(low / step), math.floor(high / step)
    if max(abs(n_lo), abs(n_hi)) >= 2**fmt.precision:
        raise InvalidArgument(
            f"values up to {max(abs(low), abs(high))} on a grid of {step} do not fit the "
            f"{fmt.precision}-bit significand of {fmt.name}"
        )
    return st.integers(n_lo, n_hi).map(lambda n: n * step)


def as_array(values: Sequence[float] | np.ndarray, dtype: Any, shape: Sequence[int]) -> np.ndarray:
    """A NumPy array of ``dtype`` holding ``values`` (already exact in ``dtype``)."""
    fmt = check_dtype(dtype)
    a = np.asarray(values, dtype=np.float64).reshape(tuple(shape))
    out = a.astype(fmt.dtype)
    fin = np.isfinite(a)
    if not np.array_equal(out.astype(np.float64)[fin], a[fin]):
        raise ValueError(f"values are not exact in {fmt.name}")
    return out


def log_max(dtype: Any) -> float:
    """log of the largest finite value: exp overflows above it (88.72 in float32)."""
    return math.log(check_dtype(dtype).max_finite)


__all__ = [
    "BOOLEANS",
    "DTYPES",
    "as_array",
    "check_dtype",
    "check_range",
    "exact_floats",
    "exactly",
    "grid_floats",
    "int_range",
    "log_max",
    "memoised_strategy",
    "sampled",
]
