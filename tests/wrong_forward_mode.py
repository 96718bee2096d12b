"""A PyTorch log_softmax whose value and vector-Jacobian product are right (computed in float64
and rounded once) and whose forward-mode derivative is twice the right one: a wrong forward
mode that only the jvp half of the gradient check catches.  Defined at module level so that a
standalone reproducer can import it by name (``--impl tests.wrong_forward_mode:...``)."""

from __future__ import annotations

from typing import Any

import torch


class _DoubledJvpLogSoftmax(torch.autograd.Function):
    """``log_softmax(x)``; backward ``g - softmax(x) * sum(g)``; jvp ``2 (v - sum(softmax(x)
    v))`` (the right one is ``v - sum(softmax(x) v)``), all along ``dim``."""

    @staticmethod
    def forward(x: torch.Tensor, dim: int) -> torch.Tensor:
        return torch.log_softmax(x.to(torch.float64), dim).to(x.dtype)

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        ctx.dim = inputs[1]
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> Any:
        (x,) = ctx.saved_tensors
        p = torch.softmax(x.to(torch.float64), ctx.dim)
        w = g.to(torch.float64)
        return (w - p * w.sum(ctx.dim, keepdim=True)).to(g.dtype), None

    @staticmethod
    def jvp(ctx: Any, v: torch.Tensor, _: Any) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        p = torch.softmax(x.to(torch.float64), ctx.dim)
        w = v.to(torch.float64)
        return (2 * (w - (p * w).sum(ctx.dim, keepdim=True))).to(v.dtype)


def doubled_jvp_log_softmax(x: torch.Tensor, dim: int = -1, **kwargs: Any) -> torch.Tensor:
    """log_softmax along ``dim`` with a forward mode off by a factor of 2."""
    return _DoubledJvpLogSoftmax.apply(x, int(dim))
