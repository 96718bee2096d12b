"""Third-party fused GPU kernels, benchmarked beside the frameworks' own (GPU only).

- Liger Kernel's ``LigerCrossEntropyLoss`` and ``LigerFusedLinearCrossEntropyLoss``
  (Triton; https://github.com/linkedin/Liger-Kernel)
- Cut Cross-Entropy's ``linear_cross_entropy`` (Triton; https://github.com/apple/ml-cross-entropy)
- QuACK's ``quack.cross_entropy.cross_entropy`` (CuTe DSL; https://github.com/Dao-AILab/quack)

They are not registry entries: they are CUDA-only PyTorch extensions whose conformance the
suite does not claim.  Each runs only where ``torch.cuda.is_available()`` and its package
imports (``pip install liger-kernel cut-cross-entropy quack-kernels``); elsewhere setup raises
NotImplementedError with the reason, which asv reports as skipped.  Inputs match the registry
benchmarks (same seeds, shapes and dtypes), class-index targets, ``reduction="mean"``, so the
figures sit next to ``torch.nn.functional.cross_entropy`` and
``torch.nn.functional.linear_cross_entropy`` on the dashboard.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from benchmarks import grid, parameters
from benchmarks.inputs import make_kwargs
from benchmarks.prepared_call import PASSES, WARMUP_CALLS, require_fits, require_shape_enabled
from benchmarks.units import unit
from verify import peers
from verify.ops import CROSS_ENTROPY, FUSED_LINEAR, LINEAR_CROSS_ENTROPY
from verify.registry.base import Capabilities

_INDEX_TARGETS = Capabilities(target="index", reductions=("mean",))


def _peer(name: str) -> Callable[[], Callable[..., Any]]:
    """A factory of ``verify.peers.<name>`` that fails with ImportError where the package is
    missing (setup turns it into a skip)."""

    def factory() -> Callable[..., Any]:
        importlib.import_module(peers.MODULES[name])
        return getattr(peers, name)

    return factory


#: peer name -> factory of a callable taking torch tensors in the reference's order
#: (the drop-in callables of :mod:`verify.peers`, also usable with ``--impl/--like``)
CROSS_ENTROPY_PEERS: dict[str, Callable[[], Callable[..., Any]]] = {
    "liger_kernel.LigerCrossEntropyLoss": _peer("liger_cross_entropy"),
    "quack.cross_entropy": _peer("quack_cross_entropy"),
}
LINEAR_PEERS: dict[str, Callable[[], Callable[..., Any]]] = {
    "liger_kernel.LigerFusedLinearCrossEntropyLoss": _peer("liger_linear_cross_entropy"),
    "cut_cross_entropy.linear_cross_entropy": _peer("cut_linear_cross_entropy"),
}
#: the dtypes these kernels are written for
PEER_DTYPES = ("bfloat16", "float16", "float32")


def _bind_peer(
    factory: Callable[[], Callable[..., Any]], op: str, dtype: str, shape: str, backward: bool
) -> Callable[[], Any]:
    """The peer's call on seeded CUDA tensors, synchronised, warmed up."""
    require_shape_enabled(shape, "cuda")
    try:
        import torch
    except ImportError:
        raise NotImplementedError("peers are PyTorch extensions; torch is not installed") from None
    if not torch.cuda.is_available():
        raise NotImplementedError("peer kernels run on CUDA GPUs only; none is present")
    try:
        fn = factory()
    except ImportError as exc:
        raise NotImplementedError(f"peer package not importable: {exc}") from None
    dims = parameters.parse_shape(shape)
    require_fits("torch", op, dims, dtype, "cuda", backward)
    kwargs = make_kwargs(op, _INDEX_TARGETS, dims, dtype)
    order = ("input", "linear_weight", "target") if op in FUSED_LINEAR else ("input", "target")
    from verify.registry.torch_impls import to_tensor

    tensors = [to_tensor(kwargs[name], "cuda") for name in order]
    differentiable = [i for i, name in enumerate(order) if name != "target"]

    def run() -> Any:
        if not backward:
            with torch.no_grad():
                out = fn(*tensors)
        else:
            leaves = list(tensors)
            for i in differentiable:
                leaves[i] = tensors[i].detach().requires_grad_(True)
            out = fn(*leaves)
            out.backward()
        torch.cuda.synchronize()
        return out

    for _ in range(WARMUP_CALLS):
        run()
    return run


def _axes(*axes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The parameter axes where a GPU is present (or with XENT_BENCH_FULL=1); elsewhere one
    combination, skipped, so that the class stays discoverable without costing a process per
    combination (benchmarks.grid)."""
    if grid.gpu_present() or parameters.full_mode():
        return axes
    return tuple(axis[:1] for axis in axes)


class _PeerBenchmark:
    param_names = ("peer", "pass", "dtype", "shape")
    timeout = 600.0
    op = CROSS_ENTROPY
    peers: dict[str, Callable[[], Callable[..., Any]]] = CROSS_ENTROPY_PEERS

    def setup(self, peer: str, pass_: str, dtype: str, shape: str) -> None:
        backward = pass_ == "forward_backward"
        self.run = _bind_peer(self.peers[peer], self.op, dtype, shape, backward)


class PeerCrossEntropyTime(_PeerBenchmark):
    """Wall time of one call on the GPU, synchronised."""

    params = _axes(tuple(CROSS_ENTROPY_PEERS), PASSES, PEER_DTYPES, parameters.SHAPES)

    def time_call(self, peer: str, pass_: str, dtype: str, shape: str) -> None:
        self.run()


class PeerCrossEntropyGpuMemory(_PeerBenchmark):
    """``torch.cuda.max_memory_allocated`` during one call."""

    params = _axes(tuple(CROSS_ENTROPY_PEERS), PASSES, PEER_DTYPES, parameters.SHAPES)

    @unit("bytes")
    def track_gpu_peak_bytes(self, peer: str, pass_: str, dtype: str, shape: str) -> int:
        from benchmarks.device_memory import gpu_peak_bytes

        return gpu_peak_bytes("torch", self.run)


class PeerLinearCrossEntropyTime(_PeerBenchmark):
    """Wall time of one fused linear + cross entropy call on the GPU, synchronised."""

    op = LINEAR_CROSS_ENTROPY
    peers = LINEAR_PEERS
    params = _axes(tuple(LINEAR_PEERS), PASSES, PEER_DTYPES, parameters.LINEAR_SHAPES)

    def time_call(self, peer: str, pass_: str, dtype: str, shape: str) -> None:
        self.run()


class PeerLinearCrossEntropyGpuMemory(_PeerBenchmark):
    """``torch.cuda.max_memory_allocated`` during one fused linear + cross entropy call."""

    op = LINEAR_CROSS_ENTROPY
    peers = LINEAR_PEERS
    params = _axes(tuple(LINEAR_PEERS), PASSES, PEER_DTYPES, parameters.LINEAR_SHAPES)

    @unit("bytes")
    def track_gpu_peak_bytes(self, peer: str, pass_: str, dtype: str, shape: str) -> int:
        from benchmarks.device_memory import gpu_peak_bytes

        return gpu_peak_bytes("torch", self.run)
