"""GPU memory probes, one per framework: reset the peak counter, read the peak, read the free.

- PyTorch: ``torch.cuda.reset_peak_memory_stats`` / ``torch.cuda.max_memory_allocated``
  (https://pytorch.org/docs/stable/generated/torch.cuda.max_memory_allocated.html) and
  ``torch.cuda.mem_get_info``.
- JAX: ``Device.memory_stats()`` keys ``peak_bytes_in_use`` and ``bytes_limit``
  (https://docs.jax.dev/en/latest/_autosummary/jax.Device.memory_stats.html).  JAX offers no
  reset, so the peak is taken as "peak after the call" and setup keeps the inputs resident
  before the first reading; ``peak_bytes_in_use`` only grows, hence the benchmark process
  measures exactly one configuration (asv starts one process per parameter combination).
- TensorFlow: ``tf.config.experimental.reset_memory_stats`` and
  ``tf.config.experimental.get_memory_info(...)["peak"]``
  (https://www.tensorflow.org/api_docs/python/tf/config/experimental/get_memory_info).

Every function raises NotImplementedError (asv: skipped) when the framework has no GPU here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _torch_peak(fn: Callable[[], Any]) -> int:
    import torch

    if not torch.cuda.is_available():
        raise NotImplementedError("torch sees no CUDA device")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated())


def _jax_gpu() -> Any:
    import jax

    try:
        devices = jax.devices("gpu")
    except RuntimeError as exc:
        raise NotImplementedError(f"jax sees no GPU: {exc}") from None
    if not devices:
        raise NotImplementedError("jax sees no GPU")
    return devices[0]


def _jax_peak(fn: Callable[[], Any]) -> int:
    device = _jax_gpu()
    fn()
    stats = device.memory_stats() or {}
    if "peak_bytes_in_use" not in stats:
        raise NotImplementedError("this JAX backend reports no peak_bytes_in_use")
    return int(stats["peak_bytes_in_use"])


def _tensorflow_peak(fn: Callable[[], Any]) -> int:
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        raise NotImplementedError("tensorflow sees no GPU")
    tf.config.experimental.reset_memory_stats("GPU:0")
    fn()
    return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])


_PEAK = {"torch": _torch_peak, "jax": _jax_peak, "tensorflow": _tensorflow_peak}


def gpu_peak_bytes(framework: str, fn: Callable[[], Any]) -> int:
    """Peak GPU memory allocated by ``framework`` while ``fn()`` runs (see module docstring)."""
    probe = _PEAK.get(framework)
    if probe is None:
        raise NotImplementedError(f"no GPU memory probe for framework {framework!r}")
    return probe(fn)


def gpu_free_bytes(framework: str) -> int | None:
    """Free GPU memory as ``framework`` sees it, or None where the framework cannot say."""
    if framework == "torch":
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[0])
        return None
    if framework == "jax":
        try:
            stats = _jax_gpu().memory_stats() or {}
        except NotImplementedError:
            return None
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return None
