"""TensorFlow (``tf.nn``, ``tf.math``) and Keras 3 (TensorFlow backend) entries of the registry.

Mapping of the reference's PyTorch-style arguments onto the TensorFlow/Keras calls:

- class axis: ``tf.nn.*cross_entropy_with_logits`` and Keras losses take the classes on the
  last axis, so ``input`` (and probability targets) of shape (N, C, d1, ..., dk) are transposed
  to (N, d1, ..., dk, C); per-example losses then have the reference's layout (N, d1, ..., dk)
  and gradients are transposed back.  Transposition is exact.
- binary Keras losses average over the last axis
  (https://www.tensorflow.org/api_docs/python/tf/keras/losses/BinaryCrossentropy); the adapter
  appends a unit axis, as Keras users do with (N, 1) targets, so the mean over it is the
  identity and the reductions act elementwise as the reference's do.
- Keras reductions: ``"none"``, ``"sum"`` and ``"sum_over_batch_size"`` (the reference's
  ``"mean"``: the sum divided by the number of per-example losses).  ``KLDivergence`` sums over
  the class axis first, so its ``"sum"`` is the reference's ``"sum"`` and its
  ``"sum_over_batch_size"`` on 2-D input is the reference's ``"batchmean"``.
- Keras computes a loss in its ``dtype`` argument (default ``keras.config.floatx()``, float32)
  and casts the inputs to it; the adapter passes the input's dtype so each dtype is tested in
  its own precision.
- label smoothing: ``CategoricalCrossentropy`` smooths ``y * (1 - e) + e / C``, exactly the
  reference's (PyTorch's) convention for probability targets.
- ``ignore_index`` maps onto ``SparseCategoricalCrossentropy(ignore_class=...)``.
- ``from_logits=False`` entries take probabilities; the adapter makes them inside the taped
  computation with ``tf.nn.softmax`` (categorical) or ``tf.math.exp`` (``KLDivergence``, whose
  reference input is log-probabilities), as a user feeding a model's probabilities does, so
  their rounding belongs to the measured pipeline.  ``tf.nn.softmax`` output carries no Keras
  logits attribute, so Keras really takes the probability path.
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
from verify.registry import adapter, base, conventions
from verify.registry.base import Capabilities, Deviation, KnownIssue, Kwargs, Unsupported
from verify.reproducer_literals import array_literal, imports_for

FRAMEWORK = "tensorflow"

_TF_DOCS = "https://www.tensorflow.org/api_docs/python"
#: keras.config.epsilon(), the clipping bound of Keras's probability paths
_EPSILON = 1e-7

_KERAS_REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}


@dataclasses.dataclass(frozen=True)
class _Call:
    """One API call prepared from reference kwargs, in the API's layout.

    ``arrays`` are keyword arguments of a ``tf.nn`` function, or for a Keras loss class
    ``y_true``, ``y_pred`` and optionally ``sample_weight``; ``diff`` names the differentiated
    one.  ``pre`` is a TensorFlow function applied to it inside the taped computation
    (``"softmax"`` or ``"exp"``), ``options`` are the function's static keyword arguments or the
    loss class's constructor arguments.
    """

    arrays: tuple[tuple[str, np.ndarray], ...]
    diff: str
    options: tuple[tuple[str, Any], ...] = ()
    pre: str | None = None
    class_last: bool = False
    #: a unit last axis was appended to the arrays (binary Keras losses)
    unit_axis: bool = False


def _inputs(k: dict[str, Any], api: str, *, classes: bool) -> tuple[np.ndarray, np.ndarray]:
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    if classes:
        conventions.require(x.ndim >= 2, f"{api} needs a class axis")
    return x, target


def _class_case(
    kwargs: Kwargs,
    api: str,
    reductions: tuple[str, ...],
    defaults: tuple[str, ...],
    probability_targets: str = "",
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, str]:
    """``(kwargs completed, input, target, reduction)`` of a cross-entropy call with a class
    axis, checked in this order: the class axis; the target (integer class indices, or when
    ``probability_targets`` describes them, an array shaped like the input); the reduction
    among ``reductions``; the options ``defaults`` at their reference defaults."""
    k = conventions.complete("cross_entropy", kwargs, "TensorFlow")
    x, target = _inputs(k, api, classes=True)
    if probability_targets:
        conventions.require(target.shape == x.shape, f"{api} takes {probability_targets}")
    else:
        conventions.require(
            np.issubdtype(target.dtype, np.integer), f"{api} takes integer class indices"
        )
    reduction = conventions.require_reduction(k, reductions, api)
    conventions.require_defaults("cross_entropy", k, defaults, api)
    return k, x, target, reduction


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


# --- Keras loss classes ----------------------------------------------------------------------


def _keras_options(x: np.ndarray, reduction: str, **options: Any) -> tuple[tuple[str, Any], ...]:
    return (
        *options.items(),
        ("reduction", _KERAS_REDUCTION[reduction]),
        ("dtype", x.dtype.name),
    )


def _prep_keras_categorical(kwargs: Kwargs, api: str, *, from_logits: bool) -> _Call:
    k, x, target, reduction = _class_case(
        kwargs, api, _KERAS_REDUCTIONS, ("weight",), "one-hot/probability targets (y_true)"
    )
    options = _keras_options(
        x, reduction, from_logits=from_logits, label_smoothing=float(k["label_smoothing"])
    )
    return _Call(
        arrays=(
            ("y_true", conventions.class_last(target).astype(x.dtype)),
            ("y_pred", conventions.class_last(x)),
        ),
        diff="y_pred",
        options=options,
        pre=None if from_logits else "softmax",
        class_last=True,
    )


def _prep_keras_sparse(kwargs: Kwargs, api: str) -> _Call:
    k, x, target, reduction = _class_case(
        kwargs, api, _KERAS_REDUCTIONS, ("weight", "label_smoothing")
    )
    ignore = int(k["ignore_index"])
    ignore_class = ignore if np.any(target == ignore) else None
    options = _keras_options(x, reduction, from_logits=True, ignore_class=ignore_class)
    return _Call(
        arrays=(("y_true", target.astype(np.int64)), ("y_pred", conventions.class_last(x))),
        diff="y_pred",
        options=options,
        class_last=True,
    )


def _unit_axis(a: np.ndarray) -> np.ndarray:
    return a[..., np.newaxis]


def _prep_keras_binary(kwargs: Kwargs, api: str, *, from_logits: bool) -> _Call:
    op = "binary_cross_entropy_with_logits" if from_logits else "binary_cross_entropy"
    k = conventions.complete(op, kwargs, "TensorFlow")
    x, target = _inputs(k, api, classes=False)
    conventions.require(target.shape == x.shape, f"{api} takes targets shaped like the predictions")
    reduction = conventions.require_reduction(k, ("none", "sum", "mean"), api)
    if from_logits:
        conventions.require_defaults(op, k, ("pos_weight",), api)
    arrays = [("y_true", _unit_axis(target.astype(x.dtype))), ("y_pred", _unit_axis(x))]
    if k["weight"] is not None:
        weight = np.broadcast_to(np.asarray(k["weight"]).astype(x.dtype), x.shape)
        arrays.append(("sample_weight", _unit_axis(np.ascontiguousarray(weight))))
    options = _keras_options(x, reduction, from_logits=from_logits)
    return _Call(arrays=tuple(arrays), diff="y_pred", options=options, unit_axis=True)


def _prep_keras_binary_focal(kwargs: Kwargs, api: str) -> _Call:
    k = conventions.complete("sigmoid_focal_loss", kwargs, "TensorFlow")
    x, target = _inputs(k, api, classes=False)
    conventions.require(target.shape == x.shape, f"{api} takes targets shaped like the logits")
    reduction = conventions.require_reduction(k, ("none", "sum", "mean"), api)
    alpha = float(k["alpha"])
    # torchvision's alpha < 0 ("no weighting") is Keras's apply_class_balancing=False
    options = _keras_options(
        x,
        reduction,
        apply_class_balancing=alpha >= 0,
        alpha=alpha if alpha >= 0 else 0.25,
        gamma=float(k["gamma"]),
        from_logits=True,
    )
    return _Call(
        arrays=(("y_true", _unit_axis(target.astype(x.dtype))), ("y_pred", _unit_axis(x))),
        diff="y_pred",
        options=options,
        unit_axis=True,
    )


def _prep_keras_categorical_focal(kwargs: Kwargs, api: str) -> _Call:
    k = conventions.complete("softmax_focal_loss", kwargs, "TensorFlow")
    x, target = _inputs(k, api, classes=True)
    if np.issubdtype(target.dtype, np.integer):
        conventions.require(
            target.shape == x.shape[:1] + x.shape[2:], f"{api}: bad index target shape"
        )
        # one-hot encoding (exact), as keras.utils.to_categorical does for Keras users
        target = np.moveaxis(np.eye(x.shape[1], dtype=x.dtype)[target], -1, 1)
    conventions.require(
        target.shape == x.shape, f"{api} takes one-hot/probability targets (y_true)"
    )
    reduction = conventions.require_reduction(k, ("none", "sum", "mean"), api)
    alpha = k["alpha"]
    # the reference's alpha=None is no class weighting, Keras's alpha=1.0
    alpha_value: Any = 1.0 if alpha is None else alpha
    if isinstance(alpha_value, np.ndarray):
        alpha_value = [float(v) for v in alpha_value.reshape(-1)]
    else:
        alpha_value = float(alpha_value)
    options = _keras_options(
        x, reduction, alpha=alpha_value, gamma=float(k["gamma"]), from_logits=True
    )
    return _Call(
        arrays=(
            ("y_true", conventions.class_last(target).astype(x.dtype)),
            ("y_pred", conventions.class_last(x)),
        ),
        diff="y_pred",
        options=options,
        class_last=True,
    )


def _prep_keras_kl(kwargs: Kwargs, api: str) -> _Call:
    k = conventions.complete("kl_div", kwargs, "TensorFlow")
    x, target = _inputs(k, api, classes=True)
    conventions.require(target.shape == x.shape, f"{api} takes targets shaped like the predictions")
    conventions.require(not k["log_target"], f"{api} takes probability targets")
    reduction = conventions.require_reduction(k, ("sum", "batchmean"), api)
    if reduction == "batchmean":
        # Keras divides by the number of rows N*d1*...*dk, the reference by N
        conventions.require(
            x.ndim == 2, f"{api}'s sum_over_batch_size is batchmean only for 2-D input"
        )
    keras_reduction = "sum" if reduction == "sum" else "sum_over_batch_size"
    options = (("reduction", keras_reduction), ("dtype", x.dtype.name))
    return _Call(
        arrays=(
            ("y_true", conventions.class_last(target).astype(x.dtype)),
            ("y_pred", conventions.class_last(x)),
        ),
        diff="y_pred",
        options=options,
        pre="exp",
        class_last=True,
    )


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
XLA = adapter.Mode("xla")


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
class _Adapter:
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
        if call.unit_axis:
            g = g[..., 0]
        return conventions.class_first(g) if call.class_last else g

    def jvp(self, kwargs: Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._compute(call)
        v, others = self._place(call, device)
        t = np.asarray(tangent).astype(v.dtype.as_numpy_dtype)
        t = conventions.class_last(t) if call.class_last else t
        t = t[..., None] if call.unit_axis else t

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

    def reproducer(self, kwargs: Kwargs, device: str) -> str:
        return self._script(kwargs, device, None)

    def gradient_reproducer(self, kwargs: Kwargs, grad_output: np.ndarray, device: str) -> str:
        return self._script(kwargs, device, np.asarray(grad_output))

    def _script(self, kwargs: Kwargs, device: str, grad_output: np.ndarray | None) -> str:
        """The forward call, or with ``grad_output`` its vector-Jacobian product through
        ``tf.GradientTape`` (printed in the reference's layout, class axis 1)."""
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
            values = "grad.numpy()" + ("[..., 0]" if call.unit_axis else "")
            if call.class_last:
                values = f"np.moveaxis({values}, -1, 1)"
            literals.append(grad_output)
            what = f"gradient of {what}"
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
    return ["import keras"] if public.startswith("keras.") else []


class _TensorFlow:
    """The TensorFlow half of the registry skeleton
    (:class:`~verify.registry.adapter.Framework`)."""

    key: str = FRAMEWORK
    dtypes: tuple[str, ...] = _DTYPES
    devices: tuple[str, ...] = _DEVICES

    def resolve(self, api: str) -> Callable[..., Any]:
        import keras

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


def _softmax_outside_clip(kwargs: Kwargs) -> bool:
    """Whether softmax(input) over the class axis leaves [eps, 1 - eps] somewhere."""
    x = np.asarray(kwargs["input"], dtype=np.float64)
    with np.errstate(all="ignore"):
        shifted = x - np.max(x, axis=1, keepdims=True)
        p = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
    return bool(np.any(~((p >= _EPSILON) & (p <= 1 - _EPSILON))))


def _probability_outside_clip(kwargs: Kwargs) -> bool:
    p = np.asarray(kwargs["input"], dtype=np.float64)
    return bool(np.any(~((p >= _EPSILON) & (p <= 1 - _EPSILON))))


def _sigmoid_outside_clip(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs["input"], dtype=np.float64)
    with np.errstate(all="ignore"):
        p = 1.0 / (1.0 + np.exp(-x))
    return bool(np.any(~((p >= _EPSILON) & (p <= 1 - _EPSILON))))


def _kl_outside_clip(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs["input"], dtype=np.float64)
    t = np.asarray(kwargs["target"], dtype=np.float64)
    with np.errstate(all="ignore"):
        q = np.exp(x)
    return bool(np.any(~((q >= _EPSILON) & (q <= 1))) or np.any(~((t >= _EPSILON) & (t <= 1))))


_KERAS_REDUCTIONS = ("none", "sum", "mean")
_SOFTMAX_CAPS = Capabilities(reductions=("none",), target=None, axis=True, kdim=True)

_CLIP_ISSUE = "https://github.com/keras-team/keras/issues/17634"
_PROBABILITY_PATH_ISSUE = "https://github.com/keras-team/keras/issues/9247"
_BCE_CLIP_ISSUE = "https://github.com/keras-team/keras/issues/15249"


#: the rows that also run under XLA
_WITH_XLA = (adapter.PLAIN, XLA)


def _softmax_family(name: str, op: str, arg_name: str) -> adapter.ApiSpec:
    prepare = functools.partial(_prep_softmax_family, op=op, arg_name=arg_name)
    return adapter.ApiSpec(name, op, prepare, _SOFTMAX_CAPS, modes=_WITH_XLA)


def _row(
    name: str,
    op: str,
    prepare: Callable[..., _Call],
    capabilities: Capabilities,
    *,
    deviations: tuple[Deviation, ...] = (),
    known_issues: tuple[KnownIssue, ...] = (),
    variant: str = "",
    **options: Any,
) -> adapter.ApiSpec:
    """A table row whose preparer takes the public name as ``api`` and ``options``; the
    tf.nn functions also run under XLA."""
    bound = functools.partial(prepare, api=name.split("[", 1)[0], **options)
    modes = _WITH_XLA if name.startswith("tf.") else ()
    return adapter.ApiSpec(
        name, op, bound, capabilities, deviations, known_issues, variant, modes=modes
    )


def _keras_caps(target: str, **flags: Any) -> Capabilities:
    return Capabilities(reductions=_KERAS_REDUCTIONS, target=target, kdim=True, **flags)


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
    _row(
        "keras.losses.CategoricalCrossentropy",
        "cross_entropy",
        _prep_keras_categorical,
        _keras_caps("probs", label_smoothing=True),
        variant="from_logits=True",
        from_logits=True,
    ),
    _row(
        "keras.losses.CategoricalCrossentropy[from_logits=False]",
        "cross_entropy",
        _prep_keras_categorical,
        _keras_caps("probs", label_smoothing=True),
        known_issues=(
            KnownIssue(
                "from probabilities, Keras clips them to [epsilon, 1 - epsilon] "
                "(epsilon = 1e-7) before the log, so large logit gaps give a loss that "
                "differs from the from_logits=True one",
                _CLIP_ISSUE,
                applies=_softmax_outside_clip,
            ),
        ),
        variant="from_logits=False, probabilities from tf.nn.softmax",
        from_logits=False,
    ),
    _row(
        "keras.losses.SparseCategoricalCrossentropy",
        "cross_entropy",
        _prep_keras_sparse,
        _keras_caps("index", ignore_index=True),
        variant="from_logits=True",
    ),
    _row(
        "keras.losses.BinaryCrossentropy",
        "binary_cross_entropy_with_logits",
        _prep_keras_binary,
        _keras_caps("binary", sample_weight=True),
        variant="from_logits=True",
        from_logits=True,
    ),
    _row(
        "keras.losses.BinaryCrossentropy[from_logits=False]",
        "binary_cross_entropy",
        _prep_keras_binary,
        _keras_caps("binary", sample_weight=True),
        known_issues=(
            KnownIssue(
                "Keras clips probabilities to [epsilon, 1 - epsilon] (epsilon = 1e-7) "
                "before taking logs, so predictions of 0 or 1 give finite, clipped losses",
                _BCE_CLIP_ISSUE,
                applies=_probability_outside_clip,
            ),
        ),
        variant="from_logits=False",
        from_logits=False,
    ),
    _row(
        "keras.losses.BinaryFocalCrossentropy",
        "sigmoid_focal_loss",
        _prep_keras_binary_focal,
        _keras_caps("binary", extra=("alpha", "gamma")),
        known_issues=(
            KnownIssue(
                "with from_logits=True Keras applies the sigmoid and then the probability "
                "formula, clipping sigmoid(x) to [epsilon, 1 - epsilon]; large |logits| give "
                "clipped losses and lost precision",
                _PROBABILITY_PATH_ISSUE,
                applies=_sigmoid_outside_clip,
            ),
        ),
        variant="from_logits=True",
    ),
    _row(
        "keras.losses.CategoricalFocalCrossentropy",
        "softmax_focal_loss",
        _prep_keras_categorical_focal,
        _keras_caps("probs", extra=("alpha", "gamma")),
        known_issues=(
            KnownIssue(
                "Keras applies softmax and clips the probabilities to [epsilon, 1 - epsilon] "
                "before the log, even with from_logits=True",
                _CLIP_ISSUE,
                applies=_softmax_outside_clip,
            ),
        ),
        variant="from_logits=True",
    ),
    _row(
        "keras.losses.KLDivergence",
        "kl_div",
        _prep_keras_kl,
        Capabilities(reductions=("sum", "batchmean"), target="probs", kdim=True),
        deviations=(
            Deviation(
                "Keras documents that y_true and y_pred are clipped to [1e-7, 1] before "
                "loss = y_true * log(y_true / y_pred), so zero targets contribute "
                "1e-7 * log(1e-7 / y_pred) instead of 0",
                f"{_TF_DOCS}/tf/keras/losses/KLD",
                applies=_kl_outside_clip,
            ),
        ),
        variant="y_pred = tf.math.exp(input)",
    ),
)

REGISTRY = adapter.Registry(_TensorFlow(), _SPECS)

#: public name -> factory wrapping a user's callable (a function, or for Keras entries a loss
#: class constructed with the same arguments) exactly as the registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[base.Implementation]:
    """Every TensorFlow and Keras entry."""
    return REGISTRY.implementations()
