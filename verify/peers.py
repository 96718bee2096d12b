"""Third-party fused GPU kernels as drop-in callables, for ``--impl ... --like ...``.

Each function here has the signature of the PyTorch API it replaces, so the suite can hold the
kernel to every check of that API::

    python -m verify --device cuda --impl verify.peers:liger_cross_entropy \\
        --like torch.nn.functional.cross_entropy
    python -m verify --device cuda --impl verify.peers:cut_linear_cross_entropy \\
        --like torch.nn.functional.linear_cross_entropy

The kernels are CUDA-only PyTorch extensions written in Triton or CuTe DSL:

- Liger Kernel, ``LigerCrossEntropyLoss`` and ``LigerFusedLinearCrossEntropyLoss``
  (https://github.com/linkedin/Liger-Kernel; Hsu et al., "Liger Kernel: Efficient Triton
  Kernels for LLM Training", 2024, arXiv:2410.10989);
- Cut Cross-Entropy, ``cut_cross_entropy.linear_cross_entropy``
  (https://github.com/apple/ml-cross-entropy; Wijmans et al., "Cut Your Losses in
  Large-Vocabulary Language Models", 2024, arXiv:2411.09009);
- QuACK, ``quack.cross_entropy.cross_entropy`` (https://github.com/Dao-AILab/quack).

An option the kernel's API cannot express raises :class:`~verify.registry.base.Unsupported`,
which the checks record as ``skip`` with the reason, never as a failure. The packages are
imported on first call, so importing this module needs none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from verify.registry.base import Unsupported

#: callable name -> the module its kernel comes from (imported on the first call)
MODULES: dict[str, str] = {
    "liger_cross_entropy": "liger_kernel.transformers",
    "quack_cross_entropy": "quack.cross_entropy",
    "liger_linear_cross_entropy": "liger_kernel.transformers",
    "cut_linear_cross_entropy": "cut_cross_entropy",
}


def _module(peer: str) -> Any:
    """The kernel module of the callable named ``peer`` (:data:`MODULES`)."""
    name = MODULES[peer]
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Unsupported(f"{name} is not importable here ({exc})") from None


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Unsupported(reason)


def _never_ignored(ignore_index: int | None) -> int:
    """``torch.nn.functional.linear_cross_entropy`` spells "ignore nothing" ``None``; the
    kernels need an integer, so it becomes one no valid class index can equal."""
    return -(2**31) if ignore_index is None else int(ignore_index)


def _require_cuda(*tensors: Any) -> None:
    _require(all(t.is_cuda for t in tensors), "the fused kernels run on CUDA tensors only")


def liger_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """``torch.nn.functional.cross_entropy`` through ``LigerCrossEntropyLoss`` (index targets,
    (N, C) input, no class weights)."""
    _require_cuda(input)
    _require(input.ndim == 2, "LigerCrossEntropyLoss takes (N, C) logits")
    _require(not target.is_floating_point(), "LigerCrossEntropyLoss takes class indices")
    _require(weight is None, "LigerCrossEntropyLoss has no class weights")
    loss = _module("liger_cross_entropy").LigerCrossEntropyLoss(
        ignore_index=ignore_index, label_smoothing=label_smoothing, reduction=reduction
    )
    return loss(input, target)


def quack_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """``torch.nn.functional.cross_entropy`` through QuACK's ``cross_entropy`` (index targets,
    (N, C) input, no weights, no label smoothing)."""
    _require_cuda(input)
    _require(input.ndim == 2, "quack.cross_entropy takes (N, C) logits")
    _require(not target.is_floating_point(), "quack.cross_entropy takes class indices")
    _require(weight is None, "quack.cross_entropy has no class weights")
    _require(label_smoothing == 0.0, "quack.cross_entropy has no label smoothing")
    module = _module("quack_cross_entropy")
    return module.cross_entropy(input, target, ignore_index=ignore_index, reduction=reduction)


def liger_linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> Any:
    """``torch.nn.functional.linear_cross_entropy`` through Liger's fused linear cross
    entropy (its ``forward(lin_weight, input, target, bias)`` order).  Liger's own docs
    describe label smoothing only for its unfused loss; it is passed through all the same."""
    _require_cuda(input, linear_weight)
    _require(weight is None, "LigerFusedLinearCrossEntropyLoss has no class weights here")
    loss = _module("liger_linear_cross_entropy").LigerFusedLinearCrossEntropyLoss(
        ignore_index=_never_ignored(ignore_index),
        label_smoothing=label_smoothing,
        reduction=reduction,
    )
    return loss(linear_weight, input, target, linear_bias)


def cut_linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> Any:
    """``torch.nn.functional.linear_cross_entropy`` through Cut Cross-Entropy's
    ``linear_cross_entropy(e, c, targets, ...)`` (classifier ``c`` is (V, D) like
    ``linear_weight``)."""
    _require_cuda(input, linear_weight)
    _require(weight is None, "cut_cross_entropy.linear_cross_entropy has no class weights")
    _require(label_smoothing == 0.0, "cut_cross_entropy.linear_cross_entropy: no smoothing")
    module = _module("cut_linear_cross_entropy")
    extra = {} if linear_bias is None else {"bias": linear_bias}
    return module.linear_cross_entropy(
        input,
        linear_weight,
        target,
        ignore_index=_never_ignored(ignore_index),
        reduction=reduction,
        **extra,
    )


#: callable name -> the registered implementation it replaces (the ``--like`` of each)
PEERS: dict[str, str] = {
    "liger_cross_entropy": "torch.nn.functional.cross_entropy",
    "quack_cross_entropy": "torch.nn.functional.cross_entropy",
    "liger_linear_cross_entropy": "torch.nn.functional.linear_cross_entropy",
    "cut_linear_cross_entropy": "torch.nn.functional.linear_cross_entropy",
}
