"""Input handling shared by the reference functions: dtype checks, exact widening to float64,
moving the class axis last, and row classification for the special-value semantics."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from reference.formats import FORMATS, format_of


def as_float_array(x: Any, name: str) -> tuple[np.ndarray, str]:
    """``x`` as a float64 array (exact: every supported format embeds in float64) and the name
    of its original format."""
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
    return a.astype(np.float64), fmt.name


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


def classify_rows(x2: np.ndarray) -> RowKinds:
    R = x2.shape[0]
    if x2.shape[-1] and R and np.isfinite(np.max(x2)) and np.isfinite(np.min(x2)):
        # np.max propagates NaN: finite extremes mean every entry is finite
        no = np.zeros(R, bool)
        return RowKinds(no, no, no, np.ones(R, bool), np.zeros(R, np.int64))
    has_nan = np.any(np.isnan(x2), axis=-1)
    n_pos = np.sum(np.isposinf(x2), axis=-1)
    nan = has_nan | (n_pos >= 2)
    posinf = ~nan & (n_pos == 1)
    allneg = ~nan & np.all(np.isneginf(x2), axis=-1)
    regular = ~(nan | posinf | allneg)
    idx = np.argmax(np.isposinf(x2), axis=-1) if x2.shape[-1] else np.zeros(len(x2), int)
    return RowKinds(nan, posinf, allneg, regular, idx)


def to_output(values: np.ndarray, fmt_name: str) -> np.ndarray:
    """float64 values already rounded into the format -> an array of that dtype (exact)."""
    return np.asarray(values, dtype=np.float64).astype(FORMATS[fmt_name].dtype)
