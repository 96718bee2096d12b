"""Test scaffolding: torch tensors to NumPy arrays and back, bfloat16 kept exact (NumPy's
bfloat16 is ``ml_dtypes.bfloat16``, which torch cannot share memory with), and a torch
function with both modes of differentiation built from plain callables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def to_numpy(t: Any) -> Any:
    """``t`` as a NumPy array (detached; bfloat16 as ``ml_dtypes.bfloat16``); a value that is
    not a tensor is returned as it is."""
    if not isinstance(t, torch.Tensor):
        return t
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(ml_dtypes.bfloat16)
    return t.numpy()


def to_torch(a: Any, dtype: Any) -> Any:
    """``a`` as a CPU tensor of ``dtype`` (a bfloat16 array as torch.bfloat16; a 0-d array
    stays 0-d)."""
    a = np.asarray(a)
    if a.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(a, copy=True)).to(dtype)


def with_forward_mode(
    value: Callable[[Any], Any],
    pullback: Callable[[Any, Any], Any],
    tangent: Callable[[Any, Any], Any],
) -> Any:
    """``value(t)`` as a ``torch.autograd.Function`` (call its ``apply``), differentiable in both
    modes: reverse ``pullback(t, g)``, forward ``tangent(t, v)``.  The ``setup_context`` form
    that ``torch.func`` requires (https://pytorch.org/docs/stable/notes/extending.func.html):
    the input is saved as a tensor (it may be one of ``torch.func``'s wrapped tensors, so no
    NumPy is applied to it before ``value``/``pullback`` ask)."""

    class WithForwardMode(torch.autograd.Function):
        @staticmethod
        def forward(t: Any) -> Any:
            return value(t)

        @staticmethod
        def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
            ctx.save_for_backward(inputs[0])
            ctx.save_for_forward(inputs[0])

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return pullback(ctx.saved_tensors[0], g)

        @staticmethod
        def jvp(ctx: Any, v: Any) -> Any:
            return tangent(ctx.saved_tensors[0], v)

    return WithForwardMode
