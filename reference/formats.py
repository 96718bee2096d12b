"""The binary floating-point output formats of the reference.

Each :class:`Format` is an IEEE 754-style binary format with ``precision`` significand bits
(the implicit bit included), normal exponents ``emin .. emax``, gradual underflow and overflow
to infinity.  The reference rounds every result once, directly into one of these (never through
an intermediate format, which would double-round: ``ml_dtypes`` converts float64 to bfloat16
through float32, for instance).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_dtypes
import numpy as np


@dataclasses.dataclass(frozen=True)
class Format:
    """A binary format: value = (-1)^s * m * 2^(e - precision + 1), m < 2^precision."""

    name: str
    precision: int  # significand bits, implicit bit included
    emin: int  # exponent of the smallest normal number
    emax: int  # exponent of the largest finite number
    dtype: Any  # the NumPy dtype the results are returned in

    @property
    def unit_roundoff(self) -> float:
        """u = 2^-p: the largest relative error of round-to-nearest in the normal range."""
        return 2.0 ** (-self.precision)

    @property
    def min_subnormal(self) -> float:
        return 2.0 ** (self.emin - self.precision + 1)

    @property
    def min_normal(self) -> float:
        return 2.0**self.emin

    @property
    def max_finite(self) -> float:
        return (2.0 - 2.0 ** (1 - self.precision)) * 2.0**self.emax


FLOAT16 = Format("float16", 11, -14, 15, np.dtype(np.float16))
BFLOAT16 = Format("bfloat16", 8, -126, 127, np.dtype(ml_dtypes.bfloat16))
FLOAT32 = Format("float32", 24, -126, 127, np.dtype(np.float32))
FLOAT64 = Format("float64", 53, -1022, 1023, np.dtype(np.float64))

FORMATS: dict[str, Format] = {f.name: f for f in (FLOAT16, BFLOAT16, FLOAT32, FLOAT64)}


def format_of(dtype: Any) -> Format:
    """The :class:`Format` of a dtype-like.

    Args:
        dtype: A :class:`Format`, a NumPy dtype-like (``np.float32``, ``"bfloat16"``, an array's
            dtype) or a framework dtype whose ``str`` names one of the four formats
            (``torch.float16``, ``tf.float32``; also ``half`` and ``double``).

    Returns:
        The :class:`Format` (float16, bfloat16, float32 or float64).

    Raises:
        TypeError: ``dtype`` names none of the four formats.
    """
    if isinstance(dtype, Format):
        return dtype
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.").removeprefix("tf.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = str(dtype).removeprefix("torch.").removeprefix("tf.").removeprefix("<dtype: '")
            name = name.rstrip("'>")
    if name == "half":
        name = "float16"
    if name == "double":
        name = "float64"
    if name not in FORMATS:
        raise TypeError(
            f"unsupported floating-point format {dtype!r}: expected one of {sorted(FORMATS)}"
        )
    return FORMATS[name]


def resolve_out_format(out_dtype: Any, *arrays: np.ndarray) -> Format:
    """``out_dtype`` if given, else the format of the first floating-point array."""
    if out_dtype is not None:
        return format_of(out_dtype)
    for a in arrays:
        if (a is not None and isinstance(a, np.ndarray) and a.dtype.kind in "fV") or (
            a is not None and getattr(a, "dtype", None) == ml_dtypes.bfloat16
        ):
            return format_of(a.dtype)
    raise TypeError("cannot infer out_dtype: no floating-point input; pass out_dtype=")
