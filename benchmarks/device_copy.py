"""Measured streaming bandwidth of a device, the roof of the bandwidth benchmarks.

The probe is an elementwise negation ``y = -x`` of a large float32 array into a preallocated
output, in the framework under test on the device under test: it reads every byte once and
writes every byte once, the same access pattern as a fused loss kernel, so
``2 * nbytes / time`` is the bandwidth such a kernel can hope for.  The array (256 MiB) is far
larger than any CPU cache or GPU L2.  An elementwise op is used rather than a framework "copy"
because some copies are lazy or elided (``jnp.copy`` under ``jit`` may alias its input).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.timing import best_time

PROBE_BYTES = 256 * 1024 * 1024


def _numpy_probe(n: int) -> Callable[[], Any]:
    x = np.ones(n, dtype=np.float32)
    y = np.empty_like(x)
    return functools.partial(np.negative, x, out=y)


def _torch_probe(n: int, device: str) -> Callable[[], Any]:
    import torch

    x = torch.ones(n, dtype=torch.float32, device=device)
    y = torch.empty_like(x)

    def run() -> None:
        torch.neg(x, out=y)
        if device == "cuda":
            torch.cuda.synchronize()

    return run


def _jax_probe(n: int, device: str) -> Callable[[], Any]:
    import jax
    import jax.numpy as jnp

    platform = "gpu" if device == "cuda" else "cpu"
    x = jax.device_put(jnp.ones(n, dtype=jnp.float32), jax.devices(platform)[0])
    neg = jax.jit(jnp.negative)
    neg(x).block_until_ready()
    return lambda: neg(x).block_until_ready()


def _tensorflow_probe(n: int, device: str) -> Callable[[], Any]:
    import tensorflow as tf

    name = "/GPU:0" if device == "cuda" else "/CPU:0"
    with tf.device(name):
        x = tf.ones((n,), dtype=tf.float32)
    neg = tf.function(tf.negative, jit_compile=False)

    def run() -> None:
        with tf.device(name):
            neg(x)
        # https://www.tensorflow.org/api_docs/python/tf/test/experimental/sync_devices
        tf.test.experimental.sync_devices()

    run()
    return run


def _framework_probe(framework: str, device: str, n: int) -> Callable[[], Any]:
    if framework == "torch":
        return _torch_probe(n, device)
    if framework == "jax":
        return _jax_probe(n, device)
    if framework == "tensorflow":
        return _tensorflow_probe(n, device)
    if device == "cpu":
        return _numpy_probe(n)
    raise NotImplementedError(f"no {device} bandwidth probe for framework {framework!r}")


def _measure(probe: Callable[[], Any]) -> float:
    probe()
    return 2.0 * PROBE_BYTES / best_time(probe, min_repeats=5, budget_s=0.5)


@functools.cache
def copy_bandwidth(framework: str, device: str) -> float:
    """Streaming bandwidth in bytes/s of ``device`` (cached per process).

    On a GPU: the probe in ``framework`` itself.  On the CPU: the larger of the NumPy probe
    and ``framework``'s own (frameworks differ in threading and in whether an output buffer is
    reused; the roof is the best rate the machine showed, not the framework's own habit).
    """
    n = PROBE_BYTES // 4
    if device != "cpu":
        return _measure(_framework_probe(framework, device, n))
    rates = [_measure(_numpy_probe(n))]
    if framework in ("torch", "jax", "tensorflow"):
        rates.append(_measure(_framework_probe(framework, device, n)))
    return max(rates)
