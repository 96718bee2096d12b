"""TensorFlow (``tf.nn``, ``tf.math``) and Keras 3 (TensorFlow backend) entries of the registry.

Mapping of the reference's PyTorch-style arguments onto the TensorFlow calls:

- class axis: ``tf.nn.*cross_entropy_with_logits`` take the classes on the last axis, so
  ``input`` (and probability targets) of shape (N, C, d1, ..., dk) are transposed to
  (N, d1, ..., dk, C); per-example losses then have the reference's layout (N, d1, ..., dk) and
  gradients are transposed back.  Transposition is exact.
- the Keras rows (``keras.losses.*``, names without a backend tag) are the backend-neutral table
  of :mod:`verify.registry.keras_losses`, run with Keras's TensorFlow backend: tensors are
  ``tf.constant`` s, gradients come from ``tf.GradientTape``.  Keras is loaded through
  :func:`~verify.registry.keras_losses.import_keras`, which refuses a process whose Keras
  already runs another backend.
- ``from_logits=False`` entries make their probabilities inside the taped computation with
  ``tf.nn.softmax`` (categorical) or ``tf.math.exp`` (``KLDivergence``).  ``tf.nn.softmax``
  output carries no Keras logits attribute, so Keras really takes the probability path.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from verify.ops import DEVICES as _DEVICES
from verify.ops import DTYPES as _DTYPES
from verify.registry import adapter, base, conventions, keras_losses
from verify.registry.base import Capabilities, Kwargs, Unsupported
from verify.reproducer_literals import array_literal, imports_for

FRAMEWORK = "tensorflow"

_TF_DOCS = "https://www.tensorflow.org/api_docs/python"
#: Keras with its TensorFlow backend (refused when this process's Keras runs another one)
keras = keras_losses.import_keras("tensorflow")


_Call = keras_losses.Call
_class_case = keras_losses.class_case
_inputs = keras_losses.inputs


# --- tf.nn / tf.math -------------------------------------------------------------------------


def _prep_softmax_family(kwargs: Kwargs, op: str, arg_name: str) -> _Call:
    k = conventions.complete(op, kwargs, "TensorFlow")
    return _Call(
        arrays=((arg_name, np.asarray(k["x"])),), diff=arg_name, options=(("axis", int(k["axis"])),)
    )


def _prep_nn_probs_ce(kwargs: Kwargs, api: str) -> _Call:
    _, x, target, _ = _class_case(
        kwargs,
        api,
        ("none",),
        ("weight", "label_smoothing"),
        "probability targets shaped like the logits",
    )
    return _Call(
        arrays=(
            ("labels", conventions.class_last(target).astype(x.dtype)),
            ("logits", conventions.class_last(x)),
        ),
        diff="logits",
        class_last=True,
    )


def _prep_nn_sparse_ce(kwargs: Kwargs, api: str) -> _Call:
    k, x, target, _ = _class_case(kwargs, api, ("none",), ("weight", "label_smoothing"))
    conventions.require(
        not np.any(target == int(k["ignore_index"])),
        f"{api} has no ignore_index (labels must lie in [0, num_classes))",
    )
    return _Call(
        arrays=(("labels", target.astype(np.int64)), ("logits", conventions.class_last(x))),
        diff="logits",
        class_last=True,
    )


def _prep_nn_sigmoid(kwargs: Kwargs, api: str, *, pos_weight: bool) -> _Call:
    k = conventions.complete("binary_cross_entropy_with_logits", kwargs, "TensorFlow")
    x, target = _inputs(k, api, classes=False)
    conventions.require(target.shape == x.shape, f"{api} takes labels shaped like the logits")
    conventions.require_reduction(k, ("none",), api)
    conventions.require_defaults("binary_cross_entropy_with_logits", k, ("weight",), api)
    arrays = [("labels", target.astype(x.dtype)), ("logits", x)]
    if pos_weight:
        q = k["pos_weight"]
        # pos_weight=1 is the unweighted loss: (1 - z) x + (1 + (q - 1) z) log(1 + exp(-x))
        arrays.append(("pos_weight", np.asarray(1.0 if q is None else q).astype(x.dtype)))
    else:
        conventions.require_defaults("binary_cross_entropy_with_logits", k, ("pos_weight",), api)
    return _Call(arrays=tuple(arrays), diff="logits")


# --- the adapter -----------------------------------------------------------------------------

_PRE: dict[str, tuple[Callable[[Any], Any], str]] = {
    "softmax": (lambda t: tf.nn.softmax(t, axis=-1), "tf.nn.softmax({}, axis=-1)"),
    "exp": (tf.math.exp, "tf.math.exp({})"),
}


def _device_name(device: str) -> str:
    if device == "cpu":
        return "/CPU:0"
    if device == "cuda":
        return "/GPU:0"
    raise Unsupported(f"TensorFlow entries know devices cpu and cuda, not {device!r}")


def _to_numpy(t: Any) -> np.ndarray:
    # np.asarray() of a 0-d bfloat16 EagerTensor fails; .numpy() does not
    return np.asarray(t.numpy())


#: the tf.function(jit_compile=True) code path of the tf.nn / tf.math functions
XLA = adapter.Mode("xla", compiled=True)


@functools.lru_cache(maxsize=256)
def _xla_function(
    fn: Callable[..., Any], diff: str, options: tuple[tuple[str, Any], ...]
) -> Callable[..., Any]:
    """``f(diff_tensor, others)`` calling ``fn`` under ``tf.function(jit_compile=True)``, with
    the static options bound before tracing; cached so repeated calls reuse the trace."""
    bound = dict(options)

    def run(v: Any, others: dict[str, Any]) -> Any:
        return fn(**{diff: v}, **others, **bound)

    return tf.function(run, jit_compile=True)


@dataclasses.dataclass(frozen=True)
class _Adapter(adapter.ScriptedReproducers):
    fn: Callable[..., Any]
    prepare: Callable[[Kwargs], _Call]
    #: "function" (tf.nn style, keyword arrays) or "loss_class" (Keras: construct, then call)
    style: str
    public: str | None
    #: run the call under tf.function(jit_compile=True) (XLA)
    xla: bool = False

    def _compute(self, call: _Call) -> Callable[..., Any]:
        """``f(diff_tensor, others: dict)`` running ``pre`` and the API call."""
        options = dict(call.options)
        pre = _PRE[call.pre][0] if call.pre else None
        fn = self.fn
        if self.style == "loss_class":
            loss = fn(**options)

            def run_loss(v: Any, others: dict[str, Any]) -> Any:
                y_pred = pre(v) if pre else v
                extra = (
                    {"sample_weight": others["sample_weight"]} if "sample_weight" in others else {}
                )
                return loss(others["y_true"], y_pred, **extra)

            return run_loss

        if self.xla:
            return _xla_function(fn, call.diff, call.options)

        def run_function(v: Any, others: dict[str, Any]) -> Any:
            return fn(**{call.diff: pre(v) if pre else v}, **others, **options)

        return run_function

    def _place(self, call: _Call, device: str) -> tuple[Any, dict[str, Any]]:
        with tf.device(_device_name(device)):
            tensors = {name: tf.constant(a) for name, a in call.arrays}
        diff = tensors.pop(call.diff)
        return diff, tensors

    def forward(self, kwargs: Kwargs, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._compute(call)
        v, others = self._place(call, device)
        with tf.device(_device_name(device)):
            return _to_numpy(f(v, others))

    def vjp(self, kwargs: Kwargs, grad_output: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._compute(call)
        v, others = self._place(call, device)
        with tf.device(_device_name(device)):
            with tf.GradientTape() as tape:
                tape.watch(v)
                out = f(v, others)
            cotangent = tf.constant(
                np.asarray(grad_output).astype(out.dtype.as_numpy_dtype).reshape(out.shape)
            )
            grad = tape.gradient(out, v, output_gradients=cotangent)
        g = np.zeros(v.shape, v.dtype.as_numpy_dtype) if grad is None else _to_numpy(grad)
        return call.restore(g)

    def jvp(self, kwargs: Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._compute(call)
        v, others = self._place(call, device)
        t = call.in_layout(tangent)

        def run() -> tuple[Any, Any]:
            with tf.autodiff.ForwardAccumulator(v, tf.constant(t)) as accumulator:
                out = f(v, others)
            return out, accumulator.jvp(out)

        with tf.device(_device_name(device)):
            out, derivative = adapter.forward_mode(run, "tf.autodiff.ForwardAccumulator")
        if derivative is None:  # the output does not depend on the watched tensor
            return np.zeros(out.shape, out.dtype.as_numpy_dtype)
        return _to_numpy(derivative)

    def bind(self, kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        call = self.prepare(kwargs)
        f = self._compute(call)
        v, others = self._place(call, device)
        name = _device_name(device)

        def run() -> Any:
            with tf.device(name):
                if not backward:
                    return f(v, others).numpy()  # .numpy() waits for the result
                with tf.GradientTape() as tape:
                    tape.watch(v)
                    out = f(v, others)
                return tape.gradient(out, v).numpy()

        run()  # warm up kernels outside the timed region
        return run

    def _script(self, request: adapter.ScriptRequest) -> str:
        """The forward call; with ``grad_output`` its vector-Jacobian product through
        ``tf.GradientTape`` (printed in the reference's layout, class axis 1); with ``tangent``
        its Jacobian-vector product through ``tf.autodiff.ForwardAccumulator``."""
        kwargs, device, grad_output, tangent = request
        call = self.prepare(kwargs)
        imports, source = adapter.script_name(self.fn, self.public, _public_imports)
        setup = "".join(f"{name} = tf.constant({array_literal(a)})\n" for name, a in call.arrays)
        diff = call.diff
        options = ", ".join(f"{key}={value!r}" for key, value in call.options)
        if self.style == "loss_class":
            extra = ", sample_weight=sample_weight" if "sample_weight" in dict(call.arrays) else ""
            expr = f"{source}({options})(y_true, y_pred{extra})"
        else:
            args = ", ".join(f"{name}={name}" for name, _ in call.arrays)
            expr = f"{source}({args}{', ' + options if options else ''})"
            if self.xla:
                # the options are static Python values: bound before tracing, as users do
                bound = f"functools.partial({source}, {options})" if options else source
                expr = f"tf.function({bound}, jit_compile=True)({args})"
        lines = [f"{diff} = {_PRE[call.pre][1].format(diff)}"] if call.pre else []
        lines.append(f"out = {expr}")
        values = "out.numpy()"
        literals = [a for _, a in call.arrays]
        what = f"{self.public or source} on {device}{' under XLA' if self.xla else ''}"
        if grad_output is not None:
            # the derivative with respect to the tensor as given, before any conversion
            setup += f"leaf = {diff}\ngrad_output = {array_literal(grad_output)}\n"
            lines = [
                "with tf.GradientTape() as tape:",
                "    tape.watch(leaf)",
                f"    {diff} = leaf",
                *(f"    {line}" for line in lines),
                "cotangent = tf.constant(grad_output.astype(out.dtype.as_numpy_dtype)"
                ".reshape(out.shape))",
                "grad = tape.gradient(out, leaf, output_gradients=cotangent)",
            ]
            values = call.restore_source("grad.numpy()")
            literals.append(grad_output)
            what = f"gradient of {what}"
        if tangent is not None:
            t = call.in_layout(tangent)
            setup += f"leaf = {diff}\ntangent = tf.constant({array_literal(t)})\n"
            lines = [
                "with tf.autodiff.ForwardAccumulator(leaf, tangent) as accumulator:",
                f"    {diff} = leaf",
                *(f"    {line}" for line in lines),
                "out = accumulator.jvp(out, unconnected_gradients=tf.UnconnectedGradients.ZERO)",
            ]
            literals.append(t)
            what = f"forward-mode derivative (tf.autodiff.ForwardAccumulator) of {what}"
        body = f"with tf.device({_device_name(device)!r}):\n" + "".join(
            f"    {line}\n" for line in lines
        )
        return conventions.reproducer_script(
            title=what,
            imports=[
                *(["import functools"] if self.xla and call.options else []),
                "import tensorflow as tf",
                *imports_for(literals),
                *imports,
            ],
            setup=setup,
            call=body,
            values=values,
        )


def _public_imports(public: str) -> list[str]:
    """Import lines a reproducer needs besides ``import tensorflow as tf``."""
    return keras_losses.reproducer_imports("tensorflow") if public.startswith("keras.") else []


class _TensorFlow:
    """The TensorFlow half of the registry skeleton
    (:class:`~verify.registry.adapter.Framework`)."""

    key: str = FRAMEWORK
    dtypes: tuple[str, ...] = _DTYPES
    devices: tuple[str, ...] = _DEVICES

    def resolve(self, api: str) -> Callable[..., Any]:
        root, _, rest = api.partition(".")
        return adapter.attribute_path({"tf": tf, "keras": keras}[root], rest)

    def docs(self, api: str) -> str:
        return f"{_TF_DOCS}/" + ("tf." + api if api.startswith("keras.") else api).replace(".", "/")

    def functions(
        self, spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
    ) -> adapter.EntryFunctions:
        # Keras losses are classes: constructed with the options, then called
        style = "loss_class" if spec.api.startswith("keras.") else "function"
        return adapter.EntryFunctions.of(
            _Adapter(fn=fn, prepare=spec.prepare, style=style, public=public, xla=mode == XLA)
        )


# --- entry table -----------------------------------------------------------------------------


_SOFTMAX_CAPS = Capabilities(reductions=("none",), target=None, axis=True, kdim=True)

#: the rows that also run under XLA
_WITH_XLA = (adapter.PLAIN, XLA)


def _softmax_family(name: str, op: str, arg_name: str) -> adapter.ApiSpec:
    prepare = functools.partial(_prep_softmax_family, op=op, arg_name=arg_name)
    return adapter.ApiSpec(name, op, prepare, _SOFTMAX_CAPS, modes=_WITH_XLA)


def _row(
    name: str, op: str, prepare: Callable[..., _Call], capabilities: Capabilities, **fields: Any
) -> adapter.ApiSpec:
    """A table row (:func:`keras_losses.named_row`); the tf.nn functions also run under XLA."""
    modes = _WITH_XLA if name.startswith("tf.") else ()
    return keras_losses.named_row(name, op, prepare, capabilities, modes=modes, **fields)


_SPECS: tuple[adapter.ApiSpec, ...] = (
    _softmax_family("tf.nn.softmax", "softmax", "logits"),
    _softmax_family("tf.nn.log_softmax", "log_softmax", "logits"),
    _softmax_family("tf.math.reduce_logsumexp", "logsumexp", "input_tensor"),
    _row(
        "tf.nn.softmax_cross_entropy_with_logits",
        "cross_entropy",
        _prep_nn_probs_ce,
        Capabilities(reductions=("none",), target="probs", kdim=True),
    ),
    _row(
        "tf.nn.sparse_softmax_cross_entropy_with_logits",
        "cross_entropy",
        _prep_nn_sparse_ce,
        Capabilities(reductions=("none",), target="index", kdim=True),
    ),
    _row(
        "tf.nn.sigmoid_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        _prep_nn_sigmoid,
        Capabilities(reductions=("none",), target="binary", kdim=True),
        pos_weight=False,
    ),
    _row(
        "tf.nn.weighted_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        _prep_nn_sigmoid,
        Capabilities(reductions=("none",), target="binary", kdim=True, pos_weight=True),
        pos_weight=True,
    ),
    *keras_losses.specs("tensorflow"),
)

REGISTRY = adapter.Registry(_TensorFlow(), _SPECS)

#: public name -> factory wrapping a user's callable (a function, or for Keras entries a loss
#: class constructed with the same arguments) exactly as the registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[base.Implementation]:
    """Every TensorFlow and Keras entry."""
    return REGISTRY.implementations()
