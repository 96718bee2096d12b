"""Correctly rounded reference values of a case: forward and vector-Jacobian product, and the
output shape a case has (for drawing ``grad_output``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.engine.outcome import ReferenceMissing, call_reference


def require_reference(op: str, *, grad: bool = False) -> None:
    """Raise :class:`ReferenceMissing` unless ``reference.<op>`` (``_grad``) exists."""
    name = f"{op}_grad" if grad else op
    try:
        import reference
    except ImportError as exc:
        raise ReferenceMissing(f"the reference package cannot be imported ({exc})") from None
    if not hasattr(reference, name):
        raise ReferenceMissing(f"reference.{name} does not exist yet")


def forward(op: str, kwargs: Mapping[str, Any], dtype: str) -> np.ndarray:
    return np.asarray(call_reference(op, out_dtype=dtype, **kwargs))


def gradient(op: str, kwargs: Mapping[str, Any], grad_output: np.ndarray, dtype: str) -> Any:
    out = call_reference(op, grad=True, grad_output=grad_output, out_dtype=dtype, **kwargs)
    return tuple(np.asarray(o) for o in out) if isinstance(out, tuple | list) else np.asarray(out)


def output_shape(op: str, kwargs: Mapping[str, Any]) -> tuple[int, ...]:
    """Shape of ``op``'s output for ``kwargs`` (0-d for sum/mean/batchmean reductions)."""
    if op in ("softmax", "log_softmax"):
        return tuple(np.shape(kwargs["x"]))
    if op == "logsumexp":
        shape = list(np.shape(kwargs["x"]))
        del shape[int(kwargs.get("axis", -1))]
        return tuple(shape)
    reduction = kwargs.get("reduction", "none" if op == "sigmoid_focal_loss" else "mean")
    if reduction != "none":
        return ()
    if op in ("cross_entropy", "nll_loss", "softmax_focal_loss", "linear_cross_entropy"):
        target = np.asarray(kwargs["target"])
        if np.issubdtype(target.dtype, np.integer):
            return tuple(target.shape)
        shape = list(target.shape)
        del shape[1]
        return tuple(shape)
    return tuple(np.shape(kwargs["input"]))


__all__ = ["forward", "gradient", "output_shape", "require_reference"]
