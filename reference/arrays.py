"""Input handling shared by the reference functions: dtype checks, exact widening to float64,
moving the class axis last, and row classification for the special-value semantics."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from reference.formats import FORMATS, format_of
from reference.rounding import to_dtype


def as_float_array(x: Any, name: str) -> tuple[np.ndarray, str]:
    """``x`` as a float64 array (exact: every supported format embeds in float64) and the name
    of its original format.  For small arguments; large ones go through
    :func:`as_native_array` and are widened chunk by chunk."""
    a, fmt = as_native_array(x, name)
    return a.astype(np.float64), fmt


def as_native_array(x: Any, name: str) -> tuple[np.ndarray, str]:
    """``x`` as a NumPy array in its own floating-point format (no copy when it already is
    one), and that format's name."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            import ml_dtypes

            x = x.float().numpy().astype(ml_dtypes.bfloat16)
        else:
            x = x.numpy()
    a = np.asarray(x)
    if a.dtype.kind in "iub":
        raise TypeError(
            f"{name} must be a floating-point array (float16, bfloat16, float32 or float64), "
            f"got integer dtype {a.dtype}"
        )
    fmt = format_of(a.dtype)
    return a, fmt.name


def out_format(out_dtype: Any, default: str):  # type: ignore[no-untyped-def]
    return format_of(out_dtype) if out_dtype is not None else FORMATS[default]


def move_axis_last(a: np.ndarray, axis: int) -> tuple[np.ndarray, tuple[int, ...], int]:
    """Rows of ``a`` along ``axis``: returns (rows (R, C), the moved shape, normalised axis)."""
    if a.ndim == 0:
        raise ValueError("expected an array with at least one dimension, got a scalar")
    ax = axis if axis >= 0 else a.ndim + axis
    if not 0 <= ax < a.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of {a.ndim} dimensions")
    moved = np.moveaxis(a, ax, -1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1]), moved.shape, ax


def class_rows(a: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], bool]:
    """The rows of a loss input whose class axis is 1 (0 for an unbatched (C,) input): ``a``
    with a batch axis of 1 added when unbatched, its rows (R, C) with the class axis moved
    last, that moved shape (N, d1, ..., dk, C), and whether ``a`` was unbatched.  A 0-d ``a``
    raises :class:`ValueError`."""
    if a.ndim == 0:
        raise ValueError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ..., dk)")
    unbatched = a.ndim == 1
    if unbatched:
        a = a[None]
    moved = np.moveaxis(a, 1, -1)
    return a, np.ascontiguousarray(moved).reshape(-1, a.shape[1]), moved.shape, unbatched


def restore_axis(rows: np.ndarray, moved_shape: tuple[int, ...], ax: int) -> np.ndarray:
    return np.moveaxis(rows.reshape(moved_shape), -1, ax)


@dataclasses.dataclass
class RowKinds:
    """Classification of rows for the special-value table of docs/semantics.md."""

    nan: np.ndarray  # holds NaN, or +inf next to another +inf
    posinf: np.ndarray  # exactly one +inf (and no NaN)
    allneg: np.ndarray  # every entry -inf (or no entries)
    regular: np.ndarray  # finite maximum, no NaN, no +inf
    posinf_index: np.ndarray  # column of the +inf where posinf
    neginf: np.ndarray  # holds at least one -inf


def widen(a: np.ndarray) -> np.ndarray:
    """Exact conversion of a block of rows to float64."""
    return np.asarray(a, dtype=np.float64)


def select_rows(x2: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x2[rows]``, without a copy when ``rows`` is every row in order."""
    if len(rows) == x2.shape[0]:
        return x2
    return x2[rows]


def classify_rows(x2: np.ndarray) -> RowKinds:
    """Row classes of ``x2`` (any supported dtype), computed chunk by chunk in float64."""
    R = x2.shape[0]
    if x2.shape[-1] and R:
        hi, lo = widen(np.max(x2)), widen(np.min(x2))
        if np.isfinite(hi) and np.isfinite(lo):
            # np.max propagates NaN: finite extremes mean every entry is finite
            no = np.zeros(R, bool)
            return RowKinds(no, no, no, np.ones(R, bool), np.zeros(R, np.int64), no)
    step = max(1, (1 << 20) // max(x2.shape[-1], 1))
    parts = [_classify(widen(x2[i : i + step])) for i in range(0, R, step)] or [
        _classify(widen(x2))
    ]
    return RowKinds(
        *(np.concatenate([getattr(k, f.name) for k in parts]) for f in dataclasses.fields(RowKinds))
    )


def _classify(x2: np.ndarray) -> RowKinds:
    has_nan = np.any(np.isnan(x2), axis=-1)
    n_pos = np.sum(np.isposinf(x2), axis=-1)
    nan = has_nan | (n_pos >= 2)
    posinf = ~nan & (n_pos == 1)
    allneg = ~nan & np.all(np.isneginf(x2), axis=-1)
    regular = ~(nan | posinf | allneg)
    idx = np.argmax(np.isposinf(x2), axis=-1) if x2.shape[-1] else np.zeros(len(x2), int)
    return RowKinds(nan, posinf, allneg, regular, idx, np.any(np.isneginf(x2), axis=-1))


def to_output(values: np.ndarray, fmt_name: str) -> np.ndarray:
    """Values already rounded into the format -> an array of that dtype (exact; no copy when
    it already is one)."""
    fmt = FORMATS[fmt_name]
    values = np.asarray(values)
    if values.dtype == fmt.dtype:
        return values
    return to_dtype(values, fmt)


def assign_rows(out: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``out[rows] = values``, or ``values`` itself when ``rows`` is every row."""
    if len(rows) == out.shape[0]:
        return values
    out[rows] = values
    return out
