"""Which devices each framework can use on this machine.

``"cpu"`` is always present.  ``"cuda"`` is present when the framework itself reports a GPU:
``torch.cuda.is_available()`` (https://pytorch.org/docs/stable/generated/torch.cuda.is_available.html),
``jax.devices("gpu")`` (https://docs.jax.dev/en/latest/_autosummary/jax.devices.html; it raises
when no GPU backend exists) or ``tf.config.list_physical_devices("GPU")``
(https://www.tensorflow.org/api_docs/python/tf/config/list_physical_devices) or
``mx.is_available(mx.gpu)`` (https://ml-explore.github.io/mlx/build/html/python/_autosummary/mlx.core.is_available.html;
the Linux CUDA build's GPU).  The answer is
cached per process: probing a device initialises the framework's runtime, which is slow.
"""

from __future__ import annotations

import functools
import importlib.util

from verify.ops import DEVICES as DEVICES
from verify.registry.frameworks import BY_KEY


def _torch_has_cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _jax_has_gpu() -> bool:
    import jax

    try:
        return len(jax.devices("gpu")) > 0
    except RuntimeError:  # "Unknown backend gpu" / no GPU platform initialised
        return False


def _tensorflow_has_gpu() -> bool:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU")) > 0


def _mlx_has_gpu() -> bool:
    import mlx.core as mx

    return bool(mx.is_available(mx.gpu))


#: package whose runtime is asked -> its probe (a framework's ``gpu_probe`` names the package)
GPU_PROBES = {
    "torch": _torch_has_cuda,
    "jax": _jax_has_gpu,
    "tensorflow": _tensorflow_has_gpu,
    "mlx": _mlx_has_gpu,
}


@functools.cache
def present_devices(framework: str) -> tuple[str, ...]:
    """Devices ``framework`` can run on here, ``("cpu",)`` or ``("cpu", "cuda")``.

    Frameworks without a GPU path (``"numpy"``) and frameworks that are not installed get
    ``("cpu",)``; the probe imports the framework only when it is installed.
    """
    spec = BY_KEY.get(framework)
    package = spec.gpu_probe if spec is not None else None
    if package is None or importlib.util.find_spec(package) is None:
        return ("cpu",)
    return ("cpu", "cuda") if GPU_PROBES[package]() else ("cpu",)
