"""The entries of the Keras loss table (:mod:`verify.registry.keras_losses`) on a Keras backend
other than TensorFlow: one adapter, parameterised by a :class:`KerasBackend` that says how
that backend makes tensors, differentiates and prints reproducers.

Every computation runs inside ``keras.device(...)`` (https://keras.io/api/utils/config_utils/),
so the constants Keras creates land on the entry's device too (Keras's PyTorch backend would
otherwise move every tensor to its default device, CUDA when present).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from verify.registry import adapter, conventions, keras_losses
from verify.registry.base import Kwargs
from verify.reproducer_literals import array_literal, imports_for


class KerasBackend(Protocol):
    """What one Keras backend contributes to its entries."""

    #: the ``KERAS_BACKEND`` value ("jax", "torch")
    name: str
    #: reproducer lines that must run after ``KERAS_BACKEND`` is set and before ``import keras``
    before_keras: tuple[str, ...]
    #: the reproducer's imports of the backend itself
    imports: tuple[str, ...]
    #: the expression turning the reproducer's result ``out`` into a NumPy array, exactly
    values: str

    def keras_device(self, device: str) -> str:
        """The ``keras.device`` name of a registry device ("cpu", "cuda")."""
        ...

    def tensor(self, array: np.ndarray, device: str) -> Any:
        """A tensor of the backend holding ``array`` exactly, on ``device``."""
        ...

    def tensor_source(self, literal: str, array: np.ndarray, device: str) -> str:
        """The reproducer's expression for :meth:`tensor` of the array written as ``literal``."""
        ...

    def to_numpy(self, tensor: Any) -> np.ndarray:
        """``tensor`` as a NumPy array of its own dtype (exact)."""
        ...

    def pre(self, name: str) -> tuple[Callable[[Any], Any], str]:
        """The function a ``Call.pre`` names (:data:`keras_losses.PRE`) and its source template."""
        ...

    def vjp(self, f: Callable[[Any], Any], v: Any, cotangent: np.ndarray) -> np.ndarray:
        """The vector-Jacobian product of ``f`` at ``v`` with ``cotangent`` (shaped like
        ``f(v)``), through the backend's autodiff, as a NumPy array shaped like ``v``."""
        ...

    def jvp(self, f: Callable[[Any], Any], v: Any, tangent: np.ndarray) -> np.ndarray:
        """The Jacobian-vector product of ``f`` at ``v`` along ``tangent`` (shaped like ``v``,
        in its dtype), through the backend's forward mode (raising
        :class:`~verify.registry.base.ForwardModeUnavailable` where it has none), as a NumPy
        array shaped like ``f(v)``."""
        ...

    def vjp_source(self, diff: str) -> list[str]:
        """Reproducer lines setting ``out`` to the gradient of ``loss`` at ``diff`` with the
        cotangent ``grad_output`` (a NumPy array in scope), as :meth:`vjp` computes it."""
        ...

    def jvp_source(self, diff: str) -> list[str]:
        """Reproducer lines setting ``out`` to the forward-mode derivative of ``loss`` at
        ``diff`` along the backend tensor ``tangent``, as :meth:`jvp` computes it."""
        ...


@dataclasses.dataclass(frozen=True)
class LossAdapter(adapter.ScriptedReproducers):
    """A Keras loss class called as ``keras_losses`` prepares it, on ``backend``."""

    keras: ModuleType
    backend: KerasBackend
    fn: Callable[..., Any]
    prepare: Callable[[Kwargs], keras_losses.Call]
    public: str | None

    def _function(self, call: keras_losses.Call) -> Callable[[Any, dict[str, Any]], Any]:
        pre = self.backend.pre(call.pre)[0] if call.pre else None
        return keras_losses.loss_function(self.fn, call, pre)

    def _place(self, call: keras_losses.Call, device: str) -> tuple[Any, dict[str, Any]]:
        tensors = {name: self.backend.tensor(a, device) for name, a in call.arrays}
        return tensors.pop(call.diff), tensors

    def _scope(self, device: str) -> Any:
        return self.keras.device(self.backend.keras_device(device))

    def forward(self, kwargs: Kwargs, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._function(call)
        with self._scope(device):
            v, others = self._place(call, device)
            return self.backend.to_numpy(f(v, others))

    def vjp(self, kwargs: Kwargs, grad_output: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._function(call)
        with self._scope(device):
            v, others = self._place(call, device)
            g = self.backend.vjp(lambda t: f(t, others), v, np.asarray(grad_output))
        return call.restore(g)

    def jvp(self, kwargs: Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._function(call)
        with self._scope(device):
            v, others = self._place(call, device)
            return self.backend.jvp(lambda t: f(t, others), v, call.in_layout(tangent))

    def bind(self, kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        call = self.prepare(kwargs)
        f = self._function(call)
        with self._scope(device):
            v, others = self._place(call, device)
            out = self.backend.to_numpy(f(v, others))
        ones = np.ones_like(out)

        def run() -> Any:
            # the conversion to NumPy waits for the device to finish
            with self._scope(device):
                if backward:
                    return self.backend.vjp(lambda t: f(t, others), v, ones)
                return self.backend.to_numpy(f(v, others))

        run()  # warm up kernels outside the timed region
        return run

    def _script(self, request: adapter.ScriptRequest) -> str:
        """The forward call; with ``grad_output`` its vector-Jacobian product, with
        ``tangent`` its Jacobian-vector product, through the backend's autodiff as
        :meth:`vjp` and :meth:`jvp` compute them (the gradient printed in the reference's
        layout, class axis 1)."""
        kwargs, device, grad_output, tangent = request
        call = self.prepare(kwargs)
        backend = self.backend
        imports, source = adapter.script_name(self.fn, self.public, lambda public: [])
        lines = [
            f"{name} = {backend.tensor_source(array_literal(a), a, device)}"
            for name, a in call.arrays
        ]
        literals = [a for _, a in call.arrays]
        values = backend.values
        what = f"{self.public or source} (Keras backend {backend.name}) on {device}"
        if grad_output is None and tangent is None:
            if call.pre:
                lines.append(f"{call.diff} = {backend.pre(call.pre)[1].format(call.diff)}")
            lines.append(f"out = {keras_losses.call_source(source, call)}")
        else:
            # the differentiated computation as one function of the array as given
            lines.append(f"def loss({call.diff}):")
            if call.pre:
                lines.append(f"    {call.diff} = {backend.pre(call.pre)[1].format(call.diff)}")
            lines.append(f"    return {keras_losses.call_source(source, call)}")
            if grad_output is not None:
                literals.append(np.asarray(grad_output))
                lines = [f"grad_output = {array_literal(np.asarray(grad_output))}", *lines]
                lines += backend.vjp_source(call.diff)
                values = call.restore_source(values)
                what = f"gradient of {what}"
            else:
                t = call.in_layout(np.asarray(tangent))
                literals.append(t)
                lines.append(f"tangent = {backend.tensor_source(array_literal(t), t, device)}")
                lines += backend.jvp_source(call.diff)
                what = f"forward-mode derivative of {what}"
        keras_device = backend.keras_device(device)
        body = f"with keras.device({keras_device!r}):\n"
        body += "".join(f"    {line}\n" for line in lines)
        return conventions.reproducer_script(
            title=what,
            imports=[
                *keras_losses.reproducer_imports(backend.name, backend.before_keras),
                *backend.imports,
                *imports_for(literals),
                *imports,
            ],
            setup="",
            call=body,
            values=values,
        )


@dataclasses.dataclass(frozen=True)
class KerasFramework:
    """The registry skeleton's :class:`~verify.registry.adapter.Framework` for the Keras loss
    table on one backend."""

    key: str
    keras: ModuleType
    backend: KerasBackend
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]

    def resolve(self, api: str) -> Callable[..., Any]:
        root, _, rest = api.partition(".")
        if root != "keras":
            raise KeyError(api)
        return adapter.attribute_path(self.keras, rest)

    def docs(self, api: str) -> str:
        return keras_losses.keras_io_docs(api)

    def functions(
        self, spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
    ) -> adapter.EntryFunctions:
        return adapter.EntryFunctions.of(
            LossAdapter(self.keras, self.backend, fn, spec.prepare, public)
        )


def backend_mode(backend: str) -> adapter.Mode:
    """The mode tagging every entry of a backend: names ``NAME[backend=...]``."""
    return adapter.Mode(f"backend={backend}")


def backend_registry(
    framework: str,
    keras: ModuleType,
    backend_name: str,
    backend: KerasBackend,
    dtypes: tuple[str, ...],
    devices: tuple[str, ...],
) -> adapter.Registry:
    """The entries of the Keras loss table on ``backend_name``: every row of
    ``keras_losses.specs(backend_name)``, tagged by :func:`backend_mode`."""
    return adapter.Registry(
        KerasFramework(framework, keras, backend, dtypes, devices),
        keras_losses.specs(backend_name),
        modes=(backend_mode(backend_name),),
    )
