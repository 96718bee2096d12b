"""Speed, memory, bandwidth and accuracy of every registry entry, on the same dashboard.

One class per measurement, each parameterised over the registry (``verify.registry``), the
pass (``forward``, or ``forward_backward``: the loss and the gradient of its input through the
framework's autodiff), the dtype, the shape (N x C) and the device.  Everything a class needs
is built in ``setup``: seeded inputs, the call bound on the device by the entry's ``bind``
(which synchronises the device before returning), and two warm-up calls so that compiled
paths (``jax.jit`` entries, and any ``tf.function``/XLA/``torch.compile`` entry the registry
holds) are traced and compiled before anything is measured.  Combinations that cannot run
here (dtype not supported, no GPU, shape switched off or too big) raise NotImplementedError in
setup, which asv reports as skipped.  Without ``XENT_BENCH_FULL=1`` the grid is the dashboard
grid of :mod:`benchmarks.grid` (one cross-entropy entry per framework, float32, 1024 x 32000),
so that ``asv run --quick`` takes minutes; the full grid is behind the switch.
``linear_cross_entropy`` entries take (N, hidden) activations and are benchmarked in
``bench_linear_cross_entropy``; their accuracy is here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks import device_copy, grid, min_bytes, parameters
from benchmarks.inputs import first_argument, make_kwargs, numpy_dtype
from benchmarks.prepared_call import (
    PASSES,
    PreparedCallBenchmark,
    _CallGpuMemory,
    _CallHostMemory,
    _CallTime,
    resolve,
)
from benchmarks.timing import best_time
from benchmarks.units import unit
from verify.judge.ulp import max_ulp_error
from verify.ops import FUSED_LINEAR, output_shape, spec

#: the entries measured: the dashboard grid's, or every one with XENT_BENCH_FULL=1 (benchmarks.grid)
NAMES = grid.names(parameters.implementation_names(parameters.ROW_OPS))
ALL_NAMES = grid.names(parameters.implementation_names((*parameters.ROW_OPS, *FUSED_LINEAR)))
DTYPES = grid.dtypes()
SHAPES = grid.shapes()
DEVICES = grid.devices()

#: the fixed inputs of the accuracy benchmark: rows wide enough for the reductions to matter,
#: small enough for the reference to evaluate in well under a second
ACCURACY_SHAPE = (256, 1024)
ACCURACY_LINEAR_SHAPE = (64, 128, 1024)
ACCURACY_SEED = 11


class ImplementationTime(_CallTime):
    """Wall time of one call (forward, or forward and backward), device synchronised."""

    params = (NAMES, PASSES, DTYPES, SHAPES, DEVICES)


class ImplementationHostMemory(_CallHostMemory):
    """CPU memory: asv's process peak RSS, and the RSS growth during the call alone."""

    params = (NAMES, PASSES, DTYPES, SHAPES, ("cpu",))


class ImplementationGpuMemory(_CallGpuMemory):
    """GPU peak memory allocated by the framework during one call (see device_memory)."""

    params = (
        NAMES if grid.gpu_present() or parameters.full_mode() else NAMES[:1],
        PASSES,
        DTYPES,
        SHAPES,
        ("cuda",),
    )


class ImplementationBandwidth(PreparedCallBenchmark):
    """Achieved bandwidth (minimum bytes / best time) and its fraction of the device's own
    streaming bandwidth measured in the same process (see min_bytes and device_copy)."""

    params = (NAMES, PASSES, DTYPES, SHAPES, DEVICES)

    def setup(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        super().setup(name, pass_, dtype, shape, device)
        kwargs = self.call.kwargs
        op = self.call.impl.op
        out = output_shape(op, kwargs)
        itemsize = numpy_dtype(dtype).itemsize
        arrays = [v for v in kwargs.values() if isinstance(v, np.ndarray)]
        if self.call.backward:
            first = kwargs[first_argument(op)]
            self.bytes = min_bytes.forward_backward_bytes(arrays, first, out, itemsize)
        else:
            self.bytes = min_bytes.forward_bytes(arrays, out, itemsize)
        self.seconds = best_time(self.call.run)

    @unit("GB/s")
    def track_gbps(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> float:
        return self.bytes / self.seconds / 1e9

    @unit("fraction")
    def track_fraction_of_copy(
        self, name: str, pass_: str, dtype: str, shape: str, device: str
    ) -> float:
        roof = device_copy.copy_bandwidth(self.call.impl.framework, device)
        return self.bytes / self.seconds / roof


def _as_tuple(value: Any) -> tuple[np.ndarray, ...]:
    if isinstance(value, tuple | list):
        return tuple(np.asarray(v) for v in value if v is not None)
    return (np.asarray(value),)


class ImplementationAccuracy:
    """Largest error, in ULPs of the correctly rounded reference, on one fixed seeded input:
    of the result (``forward``) or of the gradient (``forward_backward``; for
    ``linear_cross_entropy`` the largest over the gradients of input and weight)."""

    params = (
        ALL_NAMES,
        PASSES,
        grid.dtypes(grid.DASHBOARD_ACCURACY_DTYPES),
        DEVICES,
    )
    param_names = ("implementation", "pass", "dtype", "device")
    timeout = 300.0

    def setup(self, name: str, pass_: str, dtype: str, device: str) -> None:
        backward = pass_ == "forward_backward"
        impl = resolve(name, dtype, device, backward)
        op = spec(impl.op)  # a missing reference function raises: the suite is wrong
        expected_fn = op.vjp if backward else op.reference
        linear = impl.op in FUSED_LINEAR
        shape = ACCURACY_LINEAR_SHAPE if linear else ACCURACY_SHAPE
        kwargs = make_kwargs(impl.op, impl.capabilities, shape, dtype)
        np_dtype = numpy_dtype(dtype)
        from verify.registry.base import Unsupported

        try:
            if not backward:
                result = impl.forward(kwargs, device)
                expected = expected_fn(**kwargs, out_dtype=np_dtype)
            else:
                out = output_shape(impl.op, kwargs)
                # a random upstream gradient: with ones, the softmax gradient is exactly 0,
                # a degenerate case (and one the reference takes far longer to round)
                rng = np.random.default_rng(ACCURACY_SEED)
                upstream = rng.standard_normal(out).astype(np_dtype)
                vjp = impl.vjp
                assert vjp is not None  # resolve() refuses a backward pass without one
                result = vjp(kwargs, upstream, device)
                expected = expected_fn(**kwargs, grad_output=upstream, out_dtype=np_dtype)
        except Unsupported as exc:
            raise NotImplementedError(f"{name}: {exc}") from None
        pairs = zip(_as_tuple(result), _as_tuple(expected), strict=False)
        self.error = max(max_ulp_error(r, e, e.dtype) for r, e in pairs)

    @unit("ULP")
    def track_max_ulp(self, name: str, pass_: str, dtype: str, device: str) -> float:
        return self.error
