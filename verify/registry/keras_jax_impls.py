"""Keras 3 losses on Keras's JAX backend (framework key ``keras-jax``).

The rows are the backend-neutral table of :mod:`verify.registry.keras_losses`; every name
carries the tag ``[backend=jax]`` (``keras.losses.CategoricalCrossentropy[backend=jax]``).
``KERAS_BACKEND=jax`` is set before Keras is first imported; a process whose Keras already runs
another backend refuses these entries (:class:`~verify.registry.keras_losses.KerasBackendConflict`),
which is why the runner gives every framework worker processes of its own.  Tensors are
``jax.Array`` s placed under ``keras.device`` (which sets ``jax.default_device``), gradients come
from ``jax.vjp`` (https://docs.jax.dev/en/latest/_autosummary/jax.vjp.html) and forward-mode
derivatives from ``jax.jvp`` (https://docs.jax.dev/en/latest/_autosummary/jax.jvp.html).
64-bit types are enabled first (``jax_enable_x64``), as in :mod:`verify.registry.jax_impls`, so
float64 is tested in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from verify.ops import DEVICES as _DEVICES
from verify.ops import DTYPES as _DTYPES
from verify.registry import adapter, base, keras_adapter, keras_losses

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402  (x64 must be enabled before first use)

FRAMEWORK = "keras-jax"

#: Keras with its JAX backend (refused when this process's Keras runs another one)
keras = keras_losses.import_keras("jax")

_PRE: dict[str, tuple[Callable[[Any], Any], str]] = {
    "softmax": (lambda t: jax.nn.softmax(t, axis=-1), "jax.nn.softmax({}, axis=-1)"),
    "exp": (jnp.exp, "jnp.exp({})"),
}


class _JaxBackend:
    name = "jax"
    before_keras: tuple[str, ...] = ("import jax", "jax.config.update('jax_enable_x64', True)")
    imports: tuple[str, ...] = ("import jax.numpy as jnp",)
    values = "np.asarray(out)"

    def keras_device(self, device: str) -> str:
        return {"cpu": "cpu:0", "cuda": "gpu:0"}[device]

    def tensor(self, array: np.ndarray, device: str) -> Any:
        return jnp.asarray(array)  # on the default device keras.device has set

    def tensor_source(self, literal: str, array: np.ndarray, device: str) -> str:
        return f"jnp.asarray({literal})"

    def to_numpy(self, tensor: Any) -> np.ndarray:
        return np.asarray(tensor)

    def pre(self, name: str) -> tuple[Callable[[Any], Any], str]:
        return _PRE[name]

    def vjp(self, f: Callable[[Any], Any], v: Any, cotangent: np.ndarray) -> np.ndarray:
        out, pullback = jax.vjp(f, v)
        (grad,) = pullback(jnp.asarray(cotangent, dtype=out.dtype).reshape(out.shape))
        return np.asarray(grad)

    def jvp(self, f: Callable[[Any], Any], v: Any, tangent: np.ndarray) -> np.ndarray:
        t = jnp.asarray(tangent)
        _, out = adapter.forward_mode(lambda: jax.jvp(f, (v,), (t,)), "jax.jvp")
        return np.asarray(out)

    def vjp_source(self, diff: str) -> list[str]:
        return [
            f"out, pullback = jax.vjp(loss, {diff})",
            "(out,) = pullback(jnp.asarray(grad_output, dtype=out.dtype).reshape(out.shape))",
        ]

    def jvp_source(self, diff: str) -> list[str]:
        return [f"_, out = jax.jvp(loss, ({diff},), (tangent,))"]


REGISTRY = keras_adapter.backend_registry(FRAMEWORK, keras, "jax", _JaxBackend(), _DTYPES, _DEVICES)

#: public name -> factory wrapping a user's callable (a Keras loss class) exactly as the
#: registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[base.Implementation]:
    """Every Keras loss on the JAX backend."""
    return REGISTRY.implementations()
