"""Speed, memory, bandwidth and accuracy of every registry entry, on the same dashboard.

One class per measurement, each parameterised over the registry (``verify.registry``), the
pass (``forward``, or ``forward_backward``: the loss and the gradient of its input through the
framework's autodiff), the dtype, the shape (N x C) and the device.  Everything a class needs
is built in ``setup``: seeded inputs, the call bound on the device by the entry's ``bind``
(which synchronises the device before returning), and two warm-up calls so that compiled
paths (``jax.jit``, ``tf.function`` with or without XLA, ``torch.compile``) are traced and
compiled before anything is measured.  Combinations that cannot run here (dtype not
supported, no GPU, shape switched off or too big) raise NotImplementedError in setup, which
asv reports as skipped.
"""

from __future__ import annotations

import numpy as np

from benchmarks import device_copy, host_memory, min_bytes, parameters
from benchmarks.inputs import numpy_dtype
from benchmarks.prepared_call import PreparedCall, prepare, resolve
from benchmarks.timing import best_time
from benchmarks.ulp_error import max_ulp_error

NAMES = tuple(parameters.implementation_names(parameters.ROW_OPS))
PASSES = ("forward", "forward_backward")

#: the fixed input of the accuracy benchmark: wide enough rows for the reductions to matter,
#: small enough for the reference to evaluate in well under a second
ACCURACY_SHAPE = (256, 1024)


class _PreparedCallBenchmark:
    """Shared setup: ``self.call`` is the entry bound to seeded data, warmed up."""

    params: tuple[tuple[str, ...], ...] = (
        NAMES,
        PASSES,
        parameters.DTYPES,
        parameters.SHAPES,
        parameters.DEVICES,
    )
    param_names = ("implementation", "pass", "dtype", "shape", "device")
    timeout = 600.0
    call: PreparedCall

    def setup(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        self.call = prepare(name, dtype, shape, device, backward=pass_ == "forward_backward")


class ImplementationTime(_PreparedCallBenchmark):
    """Wall time of one call (forward, or forward and backward), device synchronised."""

    def time_call(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        self.call.run()


class ImplementationHostMemory(_PreparedCallBenchmark):
    """CPU memory: asv's process peak RSS, and the RSS growth during the call alone."""

    params = (NAMES, PASSES, parameters.DTYPES, parameters.SHAPES, ("cpu",))

    def peakmem_call(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        self.call.run()

    def track_rss_increase(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> int:
        return host_memory.peak_rss_increase(self.call.run)

    track_rss_increase.unit = "bytes"  # type: ignore[attr-defined]


class ImplementationGpuMemory(_PreparedCallBenchmark):
    """GPU peak memory allocated by the framework during one call (see device_memory)."""

    params = (NAMES, PASSES, parameters.DTYPES, parameters.SHAPES, ("cuda",))

    def track_gpu_peak_bytes(
        self, name: str, pass_: str, dtype: str, shape: str, device: str
    ) -> int:
        from benchmarks.device_memory import gpu_peak_bytes

        return gpu_peak_bytes(self.call.impl.framework, self.call.run)

    track_gpu_peak_bytes.unit = "bytes"  # type: ignore[attr-defined]


class ImplementationBandwidth(_PreparedCallBenchmark):
    """Achieved bandwidth (minimum bytes / best time) and its fraction of the device's own
    streaming bandwidth measured in the same process (see min_bytes and device_copy)."""

    def setup(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> None:
        super().setup(name, pass_, dtype, shape, device)
        rows, classes = parameters.parse_shape(shape)
        kwargs = self.call.kwargs
        out = min_bytes.output_shape(self.call.impl.op, kwargs.get("reduction"), rows, classes)
        itemsize = numpy_dtype(dtype).itemsize
        arrays = [v for v in kwargs.values() if isinstance(v, np.ndarray)]
        if self.call.backward:
            self.bytes = min_bytes.forward_backward_bytes(arrays, kwargs["input"], out, itemsize)
        else:
            self.bytes = min_bytes.forward_bytes(arrays, out, itemsize)
        self.seconds = best_time(self.call.run)

    def track_gbps(self, name: str, pass_: str, dtype: str, shape: str, device: str) -> float:
        return self.bytes / self.seconds / 1e9

    track_gbps.unit = "GB/s"  # type: ignore[attr-defined]

    def track_fraction_of_copy(
        self, name: str, pass_: str, dtype: str, shape: str, device: str
    ) -> float:
        roof = device_copy.copy_bandwidth(self.call.impl.framework, device)
        return self.bytes / self.seconds / roof

    track_fraction_of_copy.unit = "fraction"  # type: ignore[attr-defined]


class ImplementationAccuracy:
    """Largest error, in ULPs of the correctly rounded reference, on one fixed seeded input:
    of the result (``forward``) or of the gradient of ``input`` (``forward_backward``)."""

    params = (NAMES, PASSES, parameters.DTYPES, parameters.DEVICES)
    param_names = ("implementation", "pass", "dtype", "device")
    timeout = 300.0

    def setup(self, name: str, pass_: str, dtype: str, device: str) -> None:
        from benchmarks.inputs import make_kwargs

        backward = pass_ == "forward_backward"
        self.impl = resolve(name, dtype, device, backward)
        try:
            import reference
        except ImportError:
            raise NotImplementedError("the reference package is not importable") from None
        function_name = f"{self.impl.op}_grad" if backward else self.impl.op
        self.reference = getattr(reference, function_name, None)
        if self.reference is None:
            raise NotImplementedError(f"reference.{function_name} does not exist yet")
        kwargs = make_kwargs(self.impl.op, self.impl.capabilities, ACCURACY_SHAPE, dtype)
        self.error = self._measure(kwargs, dtype, device, backward)

    def _measure(self, kwargs: dict, dtype: str, device: str, backward: bool) -> float:
        from verify.registry.base import Unsupported

        np_dtype = numpy_dtype(dtype)
        try:
            if not backward:
                result = self.impl.forward(kwargs, device)
                expected = self.reference(**kwargs, out_dtype=np_dtype)
            else:
                rows, classes = ACCURACY_SHAPE
                out = min_bytes.output_shape(self.impl.op, kwargs.get("reduction"), rows, classes)
                upstream = np.ones(out, dtype=np_dtype)
                result = self.impl.vjp(kwargs, upstream, device)  # type: ignore[misc]
                expected = self.reference(**kwargs, grad_output=upstream, out_dtype=np_dtype)
        except Unsupported as exc:
            raise NotImplementedError(str(exc)) from None
        return max_ulp_error(np.asarray(result), np.asarray(expected))

    def track_max_ulp(self, name: str, pass_: str, dtype: str, device: str) -> float:
        return self.error

    track_max_ulp.unit = "ULP"  # type: ignore[attr-defined]
