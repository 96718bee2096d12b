"""One registry entry bound to seeded data on a device: the thing every benchmark times.

:func:`prepare` resolves a parameter combination into a :class:`PreparedCall` or raises
NotImplementedError with the reason it cannot run here (asv records the combination as
skipped): an entry that does not support the dtype, a device that is absent, a shape that is
switched off or does not fit in memory, an API without a gradient.
:class:`PreparedCallBenchmark` is the ``setup`` the per-measurement classes share.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from benchmarks import host_memory, parameters
from benchmarks.inputs import make_kwargs, numpy_dtype
from benchmarks.units import unit
from verify.ops import FUSED_LINEAR
from verify.registry.base import Implementation, Unsupported

#: Working-set estimate of one call, in multiples of the largest array (the (N, C) scores)
#: held at >= 4 bytes an element (frameworks compute half precision in float32): input,
#: result or softmax buffer and a temporary for the forward; add the gradient and the saved
#: activations for the backward.
FORWARD_ARRAYS = 3
FORWARD_BACKWARD_ARRAYS = 6
#: warm-up calls in setup: the first traces/compiles (jit, tf.function, XLA, torch.compile),
#: the second runs the compiled code once so that caches and allocators are primed
WARMUP_CALLS = 2


@dataclasses.dataclass
class PreparedCall:
    impl: Implementation
    kwargs: dict[str, Any]
    device: str
    backward: bool
    run: Callable[[], Any]


def working_set_bytes(op: str, dims: tuple[int, ...], dtype: str, backward: bool) -> int:
    """Rough upper estimate of the memory one call needs (see the constants above)."""
    if op in FUSED_LINEAR:
        rows, hidden, vocabulary = dims
        elements = rows * vocabulary + (rows + vocabulary) * hidden  # logits + operands
    else:
        elements = math.prod(dims)
    per_element = max(numpy_dtype(dtype).itemsize, 4)
    arrays = FORWARD_BACKWARD_ARRAYS if backward else FORWARD_ARRAYS
    return elements * per_element * arrays


def require_fits(
    framework: str, op: str, dims: tuple[int, ...], dtype: str, device: str, backward: bool
) -> None:
    """NotImplementedError when the call's estimated working set exceeds the free memory."""
    need = working_set_bytes(op, dims, dtype, backward)
    if device == "cpu":
        free = host_memory.available_bytes()
    else:
        from benchmarks.device_memory import gpu_free_bytes

        free = gpu_free_bytes(framework)
    if free is not None and need > free:
        raise NotImplementedError(
            f"needs about {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free on {device}"
        )


def require_shape_enabled(shape: str, device: str) -> None:
    """Skip GPU-only shapes on the CPU and full-mode shapes outside full mode."""
    if shape in parameters.GPU_ONLY_SHAPES and device == "cpu":
        raise NotImplementedError(f"shape {shape} is benchmarked on GPUs only")
    if shape in parameters.FULL_ONLY_SHAPES:
        parameters.require_full_mode(f"shape {shape}")


def resolve(name: str, dtype: str, device: str, backward: bool) -> Implementation:
    """The registry entry ``name`` if it can run ``dtype`` on ``device`` here."""
    if name == parameters.NO_ENTRY:
        raise NotImplementedError("no registry entry for this benchmark in this environment")
    from verify.registry import get

    impl = get(name)
    if dtype not in impl.dtypes:
        raise NotImplementedError(f"{name} does not support {dtype}")
    if device not in impl.devices:
        raise NotImplementedError(f"{name} does not run on {device}")
    if device not in impl.available_devices():
        raise NotImplementedError(f"no {device} device for {impl.framework} on this machine")
    if impl.bind is None:
        raise NotImplementedError(f"{name} has no bind() for benchmarking")
    if backward and impl.vjp is None:
        raise NotImplementedError(f"{name} has no gradient")
    return impl


def prepare(name: str, dtype: str, shape: str, device: str, backward: bool) -> PreparedCall:
    """Resolve, build seeded inputs, bind on ``device`` and warm up (compile) the call."""
    require_shape_enabled(shape, device)
    impl = resolve(name, dtype, device, backward)
    dims = parameters.parse_shape(shape)
    require_fits(impl.framework, impl.op, dims, dtype, device, backward)
    kwargs = make_kwargs(impl.op, impl.capabilities, dims, dtype)
    bind = impl.bind
    assert bind is not None  # resolve() refuses an entry without one
    try:
        run = bind(kwargs, device, backward)
        for _ in range(WARMUP_CALLS):
            run()
    except Unsupported as exc:
        raise NotImplementedError(f"{name}: {exc}") from None
    return PreparedCall(impl=impl, kwargs=kwargs, device=device, backward=backward, run=run)


PASSES = ("forward", "forward_backward")


class PreparedCallBenchmark:
    """Shared asv ``setup``: ``self.call`` is the entry bound to seeded data, warmed up.

    Subclasses set ``params`` (registry names, passes, dtypes, shapes, devices) and define
    the measurement methods.
    """

    param_names = ("implementation", "pass", "dtype", "shape", "device")
    timeout = 600.0
    call: PreparedCall

    def setup(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        self.call = prepare(name, dtype, shape, device, backward=pass_ == "forward_backward")


# The measurements every prepared call is benchmarked by.  Their names start with an
# underscore: asv skips such module attributes, so these bases are not benchmarks themselves
# (https://asv.readthedocs.io/en/stable/writing_benchmarks.html); a subclass in a bench_*
# module sets ``params`` and inherits the methods.
class _CallTime(PreparedCallBenchmark):
    """Wall time of one call (forward, or forward and backward), device synchronised."""

    def time_call(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        self.call.run()


class _CallHostMemory(PreparedCallBenchmark):
    """CPU memory: asv's process peak RSS, and the RSS growth during the call alone."""

    def peakmem_call(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        self.call.run()

    @unit("bytes")
    def track_rss_increase(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> int:
        return host_memory.peak_rss_increase(self.call.run)


class _CallGpuMemory(PreparedCallBenchmark):
    """GPU peak memory allocated by the framework during one call (see device_memory)."""

    @unit("bytes")
    def track_gpu_peak_bytes(
        self, name: str, pass_: str, dtype: str, shape: str, device: str
    ) -> int:
        from benchmarks.device_memory import gpu_peak_bytes

        return gpu_peak_bytes(self.call.impl.framework, self.call.run)
