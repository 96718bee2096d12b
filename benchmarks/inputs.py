"""Seeded, reference-convention arguments for one benchmark call.

The arrays are what a training step feeds a loss: logits drawn from N(0, 2^2) (a spread that
makes the softmax neither uniform nor one-hot), integer class targets, probability targets
that are a softmax of other random logits.  Inputs of ops whose domain is not all reals are
mapped into it: ``nll_loss`` and ``kl_div`` get log-probabilities, ``binary_cross_entropy``
gets probabilities in (0, 1).  Everything derives from one seed, so two runs (and two
implementations) see bit-identical data.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

from verify.ops import BINARY_CROSS_ENTROPY, FUSED_LINEAR, KL_DIV, NLL_LOSS
from verify.registry.base import Capabilities
from verify.registry.conventions import REFERENCE_ARRAYS

SEED = 20240601
LOGIT_SCALE = 2.0


def numpy_dtype(name: str) -> np.dtype:
    """NumPy dtype for a dtype name; ``bfloat16`` is ``ml_dtypes.bfloat16``."""
    if name == "bfloat16":
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def _log_softmax64(x: np.ndarray) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _random_logits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """float32 N(0, LOGIT_SCALE^2) draws (float32 keeps the LLM shape's draw at 4 bytes/elt)."""
    x = rng.standard_normal(shape, dtype=np.float32)
    x *= LOGIT_SCALE
    return x


def _cast(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return x if x.dtype == dtype else x.astype(dtype)


def _rowwise(x: np.ndarray, fn: Any, dtype: np.dtype, block: int = 1024) -> np.ndarray:
    """``fn`` applied in float64 to blocks of rows, cast into ``dtype`` (bounded temporaries)."""
    out = np.empty(x.shape, dtype=dtype)
    for start in range(0, x.shape[0], block):
        out[start : start + block] = fn(x[start : start + block].astype(np.float64))
    return out


def _pick_reduction(capabilities: Capabilities) -> str:
    for reduction in ("mean", "sum", "none"):
        if reduction in capabilities.reductions:
            return reduction
    return capabilities.reductions[0]


def first_argument(op: str) -> str:
    """Name of ``op``'s differentiated argument: ``x`` (softmax family) or ``input``."""
    return REFERENCE_ARRAYS[op][0]


def make_kwargs(
    op: str,
    capabilities: Capabilities,
    shape: tuple[int, ...],
    dtype: str,
    seed: int = SEED,
) -> dict[str, Any]:
    """Reference-convention keyword arguments of one ``op`` call.

    ``shape`` is (N, C) for every op but ``linear_cross_entropy``, where it is
    (N, hidden, vocabulary).  Index targets are int64 in [0, C); floating arrays are in
    ``dtype``.  Options are left at the API's defaults except ``reduction`` (``"mean"`` when
    offered: the training-loop case).
    """
    if op in FUSED_LINEAR:
        return _linear_kwargs(capabilities, shape, dtype, seed)
    n, c = shape
    np_dtype = numpy_dtype(dtype)
    rng = np.random.default_rng(seed)
    logits = _random_logits(rng, (n, c))
    if op in (NLL_LOSS, KL_DIV):
        first = _rowwise(logits, _log_softmax64, np_dtype)
    elif op == BINARY_CROSS_ENTROPY:
        first = _rowwise(logits, lambda v: 1.0 / (1.0 + np.exp(-v)), np_dtype)
    else:
        first = _cast(logits, np_dtype)
    del logits
    kwargs: dict[str, Any] = {first_argument(op): first}

    kind = capabilities.target
    if kind == "index":
        kwargs["target"] = rng.integers(0, c, size=n, dtype=np.int64)
    elif kind == "probs":
        kwargs["target"] = _rowwise(
            _random_logits(rng, (n, c)), lambda v: np.exp(_log_softmax64(v)), np_dtype
        )
    elif kind == "binary":
        kwargs["target"] = _cast(rng.random((n, c), dtype=np.float32), np_dtype)
    if kind is not None:
        kwargs["reduction"] = _pick_reduction(capabilities)
    return kwargs


def _linear_kwargs(
    capabilities: Capabilities, shape: tuple[int, ...], dtype: str, seed: int
) -> dict[str, Any]:
    """Activations ~ N(0, 1) and a weight ~ N(0, 1/hidden): logits of unit variance."""
    n, hidden, vocabulary = shape
    np_dtype = numpy_dtype(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, hidden), dtype=np.float32)
    w = rng.standard_normal((vocabulary, hidden), dtype=np.float32)
    w *= np.float32(1.0 / np.sqrt(hidden))
    return {
        "input": _cast(x, np_dtype),
        "linear_weight": _cast(w, np_dtype),
        "target": rng.integers(0, vocabulary, size=n, dtype=np.int64),
        "reduction": _pick_reduction(capabilities),
    }


def array_arguments(kwargs: dict[str, Any]) -> list[np.ndarray]:
    """The NumPy arrays among ``kwargs`` (what a kernel must read)."""
    return [v for v in kwargs.values() if isinstance(v, np.ndarray)]
