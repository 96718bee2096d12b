"""Targets and per-class options: class indices with ``ignore_index``, probability targets with
exact zeros, binary targets, KL targets, class weights, label smoothing, focal parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from verify.judge.ulp import FloatFormat
from verify.strategies._logits import check_shape
from verify.strategies._values import (
    as_array,
    check_dtype,
    check_range,
    exact_floats,
    int_range,
    memoised_strategy,
    sampled,
)

#: label_smoothing values: dyadic (k / 256), so that every dtype holds them exactly; powers of
#: two (exact products) and values whose products with a logit round.  A small alphabet, like
#: the shapes (``Profile.shapes``): a compiler specialises on the value (``torch.compile``
#: compiles each label_smoothing anew), so a few values compile once and are reused, where
#: 255 would compile on nearly every draw
LABEL_SMOOTHING_VALUES: tuple[float, ...] = (
    0.0625,
    0.125,
    0.25,
    0.5,
    1.0,
    3 / 256,
    77 / 256,
    191 / 256,
)
LABEL_SMOOTHING = st.one_of(st.just(0.0), st.sampled_from(LABEL_SMOOTHING_VALUES))
FOCAL_GAMMAS: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0)
FOCAL_ALPHAS: tuple[float, ...] = (0.25, 0.5, 0.75, 0.0, 1.0, -1.0)


def _seeded_or_listed(
    n: int, elements: st.SearchStrategy[Any], fill: Any
) -> st.SearchStrategy[Any]:
    if n <= 256:
        return st.lists(elements, min_size=n, max_size=n)
    return st.integers(0, 2**32 - 1).map(fill)


def index_targets(
    num_classes: int,
    shape: Sequence[int],
    *,
    ignore_index: int | None = None,
    min_valid: int = 0,
) -> st.SearchStrategy[np.ndarray]:
    """int64 class indices in ``[0, num_classes)`` of ``shape``; when ``ignore_index`` is given,
    some entries hold it (at least ``min_valid`` entries stay real classes)."""
    check_range("num_classes", num_classes, 1)
    shape = check_shape(shape, allow_empty=True)
    n = int(np.prod(shape)) if shape else 1
    check_range("min_valid", min_valid, 0, n)

    return _index_array(num_classes, shape, n, ignore_index, min_valid)


@memoised_strategy
def _class_values(num_classes: int, n: int) -> st.SearchStrategy[list[int]]:
    return _seeded_or_listed(
        n,
        int_range(0, num_classes - 1),
        lambda s: np.random.default_rng(s).integers(0, num_classes, n).tolist(),
    )


@memoised_strategy
def _ignored_positions(n: int, most: int) -> st.SearchStrategy[list[int]]:
    return st.lists(int_range(0, n - 1), max_size=most, unique=True)


@memoised_strategy
@st.composite
def _index_array(
    draw: st.DrawFn,
    num_classes: int,
    shape: tuple[int, ...],
    n: int,
    ignore_index: int | None,
    min_valid: int,
) -> np.ndarray:
    """The body of :func:`index_targets`, decorated once (see ``logits._logits_array``)."""
    vals = draw(_class_values(num_classes, n), label="classes")
    t = np.asarray(vals, dtype=np.int64)
    if ignore_index is not None and n > min_valid:
        ignored = draw(_ignored_positions(n, n - min_valid), label="ignored positions")
        t[ignored] = ignore_index
    return t.reshape(shape)


def probability_targets(
    dtype: Any,
    shape: Sequence[int],
    *,
    class_axis: int = 1,
    zeros: bool = True,
    normalised: bool = True,
) -> st.SearchStrategy[np.ndarray]:
    """Probability vectors along ``class_axis`` (non-negative, in ``dtype``), with exact zeros
    when ``zeros``.  ``normalised`` rows sum to 1 before rounding into ``dtype`` (the rounded
    row may be off by a few ULPs, which the reference takes as given)."""
    fmt = check_dtype(dtype)
    shape = check_shape(shape)
    if isinstance(class_axis, bool) or not -len(shape) <= class_axis < len(shape):
        raise InvalidArgument(f"class_axis={class_axis!r} is out of range for shape {shape}")
    return _probability_rows(fmt, shape, class_axis, bool(zeros), bool(normalised))


@memoised_strategy
def _probability_weights(n: int, zeros: bool) -> st.SearchStrategy[list[int]]:
    return _seeded_or_listed(
        n,
        int_range(0 if zeros else 1, 16),
        lambda s: np.random.default_rng(s).integers(0, 17, n).tolist(),
    )


@memoised_strategy
@st.composite
def _probability_rows(
    draw: st.DrawFn,
    fmt: FloatFormat,
    shape: tuple[int, ...],
    class_axis: int,
    zeros: bool,
    normalised: bool,
) -> np.ndarray:
    """The body of :func:`probability_targets`, decorated once (``st.composite`` inspects its
    function's source when it decorates, far too slow to repeat on every call)."""
    n = int(np.prod(shape))
    raw = np.asarray(
        draw(_probability_weights(n, zeros), label="probability weights"),
        dtype=np.float64,
    ).reshape(shape)
    moved = np.moveaxis(raw, class_axis, -1)
    empty = moved.sum(axis=-1) == 0
    moved[empty, 0] = 1.0
    if normalised:
        moved = moved / moved.sum(axis=-1, keepdims=True)
    else:
        moved = moved / 8.0
    vals = np.moveaxis(moved, -1, class_axis)
    return vals.astype(fmt.dtype)


def binary_targets(
    dtype: Any, shape: Sequence[int], *, soft: bool = True
) -> st.SearchStrategy[np.ndarray]:
    """Targets in ``[0, 1]`` shaped like the input: 0/1 labels, and when ``soft`` also
    fractional values (exact in ``dtype``)."""
    fmt = check_dtype(dtype)
    shape = check_shape(shape, allow_empty=True)
    return _binary_targets(fmt, shape, bool(soft))


@memoised_strategy
def _binary_targets(
    fmt: FloatFormat, shape: tuple[int, ...], soft: bool
) -> st.SearchStrategy[np.ndarray]:
    n = int(np.prod(shape))
    elem = st.sampled_from([0.0, 1.0])
    if soft:
        elem = st.one_of(elem, st.integers(0, 64).map(lambda k: k / 64))
    return _seeded_or_listed(
        n, elem, lambda s: np.random.default_rng(s).integers(0, 2, n).astype(float).tolist()
    ).map(lambda v: as_array(v, fmt.name, shape))


def probabilities(
    dtype: Any, shape: Sequence[int], *, edges: bool = True
) -> st.SearchStrategy[np.ndarray]:
    """Inputs of binary_cross_entropy: values in ``[0, 1]`` exact in ``dtype`` (0 and 1 and
    values within an ULP of them when ``edges``)."""
    fmt = check_dtype(dtype)
    shape = check_shape(shape, allow_empty=True)
    return _probabilities(fmt, shape, bool(edges))


@memoised_strategy
def _probabilities(
    fmt: FloatFormat, shape: tuple[int, ...], edges: bool
) -> st.SearchStrategy[np.ndarray]:
    n = int(np.prod(shape))
    inner = st.integers(1, 255).map(lambda k: k / 256)
    tiny = exact_floats(
        fmt.name, min_exponent=fmt.emin, max_exponent=-2, signed=False, allow_zero=False
    )
    elem = st.one_of(inner, tiny)
    if edges:
        one_below = float(np.nextafter(np.asarray(1.0, fmt.dtype), np.asarray(0.0, fmt.dtype)))
        elem = st.one_of(elem, st.sampled_from([0.0, 1.0, one_below]))
    return _seeded_or_listed(
        n, elem, lambda s: (np.random.default_rng(s).integers(1, 256, n) / 256).tolist()
    ).map(lambda v: as_array(v, fmt.name, shape))


def class_weights(
    dtype: Any, num_classes: int, *, allow_zero: bool = False
) -> st.SearchStrategy[np.ndarray]:
    """Per-class weights (positive, or non-negative when ``allow_zero``) exact in ``dtype``."""
    fmt = check_dtype(dtype)
    check_range("num_classes", num_classes, 1)
    return _class_weights(fmt, int(num_classes), bool(allow_zero))


@memoised_strategy
def _class_weights(
    fmt: FloatFormat, num_classes: int, allow_zero: bool
) -> st.SearchStrategy[np.ndarray]:
    elem = st.integers(0 if allow_zero else 1, 32).map(lambda k: k / 8)
    return _seeded_or_listed(
        num_classes,
        elem,
        lambda s: (np.random.default_rng(s).integers(1, 33, num_classes) / 8).tolist(),
    ).map(lambda v: as_array(v, fmt.name, (num_classes,)))


def ignore_indices(num_classes: int) -> st.SearchStrategy[int]:
    """The default ``-100``, another negative value, or a real class index (PyTorch allows
    ignoring a valid class)."""
    check_range("num_classes", num_classes, 1)
    return _ignore_indices(int(num_classes))


@memoised_strategy
def _ignore_indices(num_classes: int) -> st.SearchStrategy[int]:
    return st.one_of(st.just(-100), int_range(-5, -1), int_range(0, num_classes - 1))


def focal_gamma() -> st.SearchStrategy[float]:
    """Focal ``gamma``: 0 (cross-entropy itself) and the usual exponents."""
    return sampled(FOCAL_GAMMAS)


def focal_alpha() -> st.SearchStrategy[float]:
    """torchvision's ``alpha``: a weight in [0, 1], or negative to disable the weighting."""
    return sampled(FOCAL_ALPHAS)


__all__ = [
    "LABEL_SMOOTHING",
    "binary_targets",
    "class_weights",
    "focal_alpha",
    "focal_gamma",
    "ignore_indices",
    "index_targets",
    "probabilities",
    "probability_targets",
]
