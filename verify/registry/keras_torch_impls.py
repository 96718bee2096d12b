"""Keras 3 losses on Keras's PyTorch backend (framework key ``keras-torch``).

The rows are the backend-neutral table of :mod:`verify.registry.keras_losses`; every name
carries the tag ``[backend=torch]`` (``keras.losses.CategoricalCrossentropy[backend=torch]``).
``KERAS_BACKEND=torch`` is set before Keras is first imported; a process whose Keras already
runs another backend refuses these entries
(:class:`~verify.registry.keras_losses.KerasBackendConflict`).  Tensors are ``torch.Tensor`` s
made under ``keras.device`` (bfloat16 through float32, which holds every bfloat16 value
exactly), gradients come from ``torch.autograd.grad``
(https://pytorch.org/docs/stable/generated/torch.autograd.grad.html) and forward-mode
derivatives from ``torch.func.jvp`` (https://pytorch.org/docs/stable/generated/torch.func.jvp.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from verify.ops import DEVICES as _DEVICES
from verify.ops import DTYPES as _DTYPES
from verify.registry import adapter, base, conventions, keras_adapter, keras_losses
from verify.registry.torch_impls import FORWARD_MODE_MISSING

FRAMEWORK = "keras-torch"

#: Keras with its PyTorch backend (refused when this process's Keras runs another one)
keras = keras_losses.import_keras("torch")

_PRE: dict[str, tuple[Callable[[Any], Any], str]] = {
    "softmax": (lambda t: torch.softmax(t, dim=-1), "torch.softmax({}, dim=-1)"),
    "exp": (torch.exp, "torch.exp({})"),
}


def _tensor(array: np.ndarray, device: str) -> torch.Tensor:
    array = np.asarray(array)
    if array.dtype == conventions.BFLOAT16:
        return torch.from_numpy(array.astype(np.float32)).to(device=device, dtype=torch.bfloat16)
    return torch.from_numpy(np.array(array, copy=True)).to(device)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        return tensor.to(torch.float32).numpy().astype(conventions.BFLOAT16)
    return tensor.numpy()


class _TorchBackend:
    name = "torch"
    before_keras: tuple[str, ...] = ()
    imports: tuple[str, ...] = ("import torch",)
    values = "out.detach().cpu().to(torch.float64).numpy()"

    def keras_device(self, device: str) -> str:
        return {"cpu": "cpu", "cuda": "cuda:0"}[device]

    def tensor(self, array: np.ndarray, device: str) -> Any:
        return _tensor(array, self.keras_device(device))

    def tensor_source(self, literal: str, array: np.ndarray, device: str) -> str:
        where = self.keras_device(device)
        if np.asarray(array).dtype == conventions.BFLOAT16:
            return (
                f"torch.from_numpy({literal}.astype(np.float32))"
                f".to(device={where!r}, dtype=torch.bfloat16)"
            )
        return f"torch.from_numpy({literal}).to({where!r})"

    def to_numpy(self, tensor: Any) -> np.ndarray:
        return _numpy(tensor)

    def pre(self, name: str) -> tuple[Callable[[Any], Any], str]:
        return _PRE[name]

    def vjp(self, f: Callable[[Any], Any], v: Any, cotangent: np.ndarray) -> np.ndarray:
        v = v.detach().requires_grad_(True)
        out = f(v)
        seed = _tensor(cotangent, str(out.device)).to(out.dtype).reshape(out.shape)
        (grad,) = torch.autograd.grad(out, v, grad_outputs=seed, allow_unused=True)
        return np.zeros(v.shape, _numpy(v).dtype) if grad is None else _numpy(grad)

    def jvp(self, f: Callable[[Any], Any], v: Any, tangent: np.ndarray) -> np.ndarray:
        t = _tensor(tangent, str(v.device)).to(v.dtype)
        _, out = adapter.forward_mode(
            lambda: torch.func.jvp(f, (v,), (t,)), "torch.func.jvp", FORWARD_MODE_MISSING
        )
        return _numpy(out)

    def vjp_source(self, diff: str) -> list[str]:
        return [
            f"leaf = {diff}.detach().requires_grad_(True)",
            "out = loss(leaf)",
            "seed = torch.from_numpy(np.asarray(grad_output, dtype=np.float64))",
            "seed = seed.to(device=out.device, dtype=out.dtype).reshape(out.shape)",
            "(out,) = torch.autograd.grad(out, leaf, grad_outputs=seed, materialize_grads=True)",
        ]

    def jvp_source(self, diff: str) -> list[str]:
        return [f"_, out = torch.func.jvp(loss, ({diff},), (tangent,))"]


REGISTRY = keras_adapter.backend_registry(
    FRAMEWORK, keras, "torch", _TorchBackend(), _DTYPES, _DEVICES
)

#: public name -> factory wrapping a user's callable (a Keras loss class) exactly as the
#: registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[base.Implementation]:
    """Every Keras loss on the PyTorch backend."""
    return REGISTRY.implementations()
