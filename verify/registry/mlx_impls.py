"""MLX entries of the registry (``mlx.core``, ``mlx.nn``, ``mlx.nn.losses``).

Every entry maps the reference's PyTorch-style arguments onto the MLX call users write, and
back.  The module is built on the shared skeleton (:mod:`verify.registry.adapter`) and keeps
only what is specific to MLX:

1. **MLX specifics**: tensor conversion with an explicit dtype, ``mx.stream`` devices,
   ``mx.vjp``, ``mx.eval``, the reproducer's lines;
2. **preparers**: one per API family, reference kwargs -> :class:`_Call` in MLX's own terms,
   with the mapping of each option (what MLX cannot express raises
   :class:`~verify.registry.base.Unsupported`), and the guard against the known
   ``mlx.nn.log_softmax`` crash;
3. **the adapter** (:class:`_Adapter`, :class:`_Mlx`) and **the API table** (:data:`_SPECS`:
   name, op, preparer, capabilities, deviations and known issues), from which
   :data:`REGISTRY` builds every entry and factory.

Mappings (``docs/registry-mlx.md``):

- class axis: MLX losses and the softmax family take an ``axis`` argument, so the reference's
  class axis 1 is passed as ``axis=1`` and nothing is transposed.
- ``mlx.nn.losses.cross_entropy`` infers the target kind from ``targets.ndim``: class indices
  (shape of the logits without ``axis``) or probabilities (shape of the logits).  Its
  ``weights`` are per-target weights of the loss's shape, multiplied into the unreduced loss,
  and ``reduction="mean"`` divides by the number of targets.  The reference's per-class
  ``weight`` (PyTorch's) is therefore expressible for index targets as ``weights=weight[target]``
  (a gather, exact) with ``reduction`` ``"none"`` or ``"sum"``, without label smoothing; its
  ``"mean"`` divides by the sum of the gathered weights instead, so weighted means are
  ``Unsupported``, as are class weights with probability targets.
- ``label_smoothing`` is passed through (MLX accepts [0, 1); 1.0 is ``Unsupported``).
- no ``ignore_index``: a target holding the reference's ``ignore_index`` is ``Unsupported``.
  Class indices outside [0, C) are passed through unchanged, so the bad-input check sees what
  MLX does with them.
- ``binary_cross_entropy``: ``weights`` must have the loss's shape, so the reference's
  broadcastable element-wise ``weight`` is broadcast to the input's shape first (exact);
  ``with_logits=True`` is ``binary_cross_entropy_with_logits`` (no ``pos_weight``),
  ``with_logits=False`` is ``binary_cross_entropy``.
- ``kl_div_loss(inputs, targets, axis)`` takes *log*-probability targets (PyTorch's
  ``log_target=True``) and sums ``exp(t) (t - x)`` over ``axis`` before reducing.  The
  reference's element-wise ``"none"`` and ``"mean"`` append a unit axis and sum over it (the
  identity); ``"sum"`` sums over the class axis and then everything; ``"batchmean"`` of a 2-D
  input is the mean over rows of the row sums (``axis=1, reduction="mean"``).
- dtypes: float16, bfloat16, float32 and float64 all run on the CPU, forward and ``mx.vjp``
  (measured with MLX 0.32.4).  float64 is a CPU-only type in MLX (the GPU backends have no
  float64 kernels), so float64 on ``cuda`` is ``Unsupported``.  ``mx.array`` of a float64
  NumPy array makes a float32 array unless ``dtype=`` is given, so every conversion names its
  dtype.
- devices: MLX runs on ``mx.cpu`` and, on Linux with the CUDA build, on ``mx.gpu`` (CUDA);
  every call is built and evaluated inside ``with mx.stream(device)``, which also makes that
  device the default, so ``cross_entropy`` takes its GPU fast path (``mx.fast.cross_entropy``)
  exactly when a user on the GPU would.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ml_dtypes
import mlx.core as mx
import mlx.nn
import numpy as np

from verify.judge.severity import INACCURATE
from verify.ops import DEVICES as _DEVICES
from verify.ops import DTYPES as _DTYPES
from verify.registry import adapter
from verify.registry.base import (
    Capabilities,
    Deviation,
    Implementation,
    KnownIssue,
    Kwargs,
    Unsupported,
)
from verify.registry.conventions import (
    bce_log_clamped,
    complete,
    dtype_name,
    reproducer_script,
    require,
    require_defaults,
    require_reduction,
)
from verify.reproducer_literals import array_literal, imports_for

FRAMEWORK = "mlx"

_DOCS = "https://ml-explore.github.io/mlx/build/html/python"
_LOSS_REDUCTIONS = ("none", "sum", "mean")
#: kl_div_loss's reductions: the losses' and "batchmean" (the sum divided by the batch size)
_KL_REDUCTIONS = (*_LOSS_REDUCTIONS, "batchmean")


# === 1. MLX specifics ========================================================================

_MX_DTYPES: dict[str, Any] = {
    "float16": mx.float16,
    "bfloat16": mx.bfloat16,
    "float32": mx.float32,
    "float64": mx.float64,
}
_NUMPY_DTYPES: dict[Any, np.dtype[Any]] = {
    mx.float16: np.dtype(np.float16),
    mx.bfloat16: np.dtype(ml_dtypes.bfloat16),
    mx.float32: np.dtype(np.float32),
    mx.float64: np.dtype(np.float64),
}


class ProcessCrash(RuntimeError):
    """Raised instead of making an MLX call that is known to kill the process (SIGSEGV); the
    checks record it as an exception of the implementation, with a reproducer that crashes."""


def _mx_device(device: str) -> Any:
    if device == "cpu":
        return mx.cpu
    if device == "cuda":
        if not mx.is_available(mx.gpu):
            raise Unsupported("this MLX build has no GPU backend")
        return mx.gpu
    raise Unsupported(f"MLX entries know devices cpu and cuda, not {device!r}")


@contextmanager
def _on(device: str) -> Iterator[None]:
    """Build and evaluate MLX graphs on ``device`` (its stream is also the default device)."""
    with mx.stream(_mx_device(device)):
        yield


def _to_mx(a: np.ndarray, device: str) -> Any:
    """An MLX array holding exactly ``a`` (float arrays keep their dtype, bfloat16 included)."""
    a = np.asarray(a)
    name = dtype_name(a)
    if name in _MX_DTYPES:  # bfloat16 (ml_dtypes) has NumPy kind "V", not "f"
        if name == "float64" and device == "cuda":
            raise Unsupported("MLX has no float64 on the GPU")
        return mx.array(a, dtype=_MX_DTYPES[name])
    return mx.array(a)


def _to_numpy(out: Any) -> np.ndarray:
    """The NumPy array of an evaluated MLX array; bfloat16 travels through float32 (exact),
    because MLX arrays do not export bfloat16 through the buffer protocol."""
    if out.dtype == mx.bfloat16:
        return np.asarray(out.astype(mx.float32)).astype(ml_dtypes.bfloat16)
    return np.asarray(out)


def _evaluated(out: Any) -> Any:
    mx.eval(out)
    return out


def _pullback(f: Callable[[Any], Any], x: Any, cotangent: np.ndarray) -> tuple[Any, Any]:
    """``(f(x), d<cotangent, f>/dx)`` through ``mx.vjp``.  The cotangent is rounded into
    ``f(x)``'s dtype by NumPy (correctly rounded) before it becomes an MLX array."""
    probe = f(x)
    out_dtype = _NUMPY_DTYPES[probe.dtype]
    shaped = np.asarray(cotangent).reshape(probe.shape).astype(out_dtype)
    cot = mx.array(shaped, dtype=probe.dtype)
    (out,), (grad,) = mx.vjp(lambda v: [f(v)], [x], [cot])
    return out, grad


#: reproducer lines: imports and device selection
_REPRODUCER_IMPORTS = ("import mlx.core as mx", "import mlx.nn")
_PRINT_VALUES = "np.asarray(out.astype(mx.float32) if out.dtype == mx.bfloat16 else out)"


def _mx_literal(a: np.ndarray) -> str:
    """Source for an MLX array holding exactly ``a`` on the script's default device."""
    a = np.asarray(a)
    if dtype_name(a) in _MX_DTYPES:
        return f"mx.array({array_literal(a)}, dtype=mx.{dtype_name(a)})"
    return f"mx.array({array_literal(a)})"


def _device_line(device: str) -> str:
    return f"mx.set_default_device(mx.{'gpu' if device == 'cuda' else 'cpu'})\n"


# === 2. preparers: reference kwargs -> _Call ==================================================


@dataclasses.dataclass(frozen=True)
class _Call:
    """One MLX call prepared from reference kwargs.

    ``arrays`` are passed positionally (the first is differentiated), ``array_options`` by
    keyword, ``options`` are static Python keyword arguments.  ``input_shape`` is the shape of
    the reference's differentiated argument (the gradient is reshaped back to it when the
    preparer added a unit axis).  ``crash`` names a known process crash: the call is not made.
    """

    arrays: tuple[tuple[str, np.ndarray], ...]
    array_options: tuple[tuple[str, np.ndarray], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    input_shape: tuple[int, ...] = ()
    crash: str = ""


def _class_axis(x: np.ndarray) -> int:
    return 1 if x.ndim >= 2 else 0


def _same_dtype(a: np.ndarray, like: np.ndarray, what: str, api: str) -> np.ndarray:
    """``a`` in ``like``'s dtype when that conversion is exact, else Unsupported."""
    a = np.asarray(a)
    if a.dtype == like.dtype:
        return a
    cast = a.astype(like.dtype)
    with np.errstate(invalid="ignore"):
        exact = np.array_equal(cast.astype(np.float64), a.astype(np.float64), equal_nan=True)
    require(exact, f"{api}: {what} is not exactly representable in {dtype_name(like)}")
    return cast


def _require_no_ignored(k: dict[str, Any], target: np.ndarray, api: str) -> None:
    require(
        not np.any(target == int(k["ignore_index"])),
        f"{api} has no ignore_index (every target is a class)",
    )


def _prepare_softmax_family(
    kwargs: Kwargs, op: str, crashes_on_single_class: bool, precise: bool = False
) -> _Call:
    """``x`` and ``axis`` (plus ``precise=True`` for that entry of ``mx.softmax``); the call is
    marked as a crash when it would hit ``mlx.nn.log_softmax``'s SIGSEGV on an axis of extent 1."""
    k = complete(op, kwargs, "MLX")
    x = np.asarray(k["x"])
    axis = int(k["axis"])
    crash = ""
    if crashes_on_single_class and x.ndim >= 2 and -x.ndim <= axis < x.ndim:
        if x.shape[axis] == 1:
            crash = (
                "mlx.nn.log_softmax (mx.compile(shapeless=True)) crashes the process with "
                f"SIGSEGV on the CPU when the softmax axis has extent 1 (shape {x.shape}, "
                f"axis {axis}); the call was not made"
            )
    options: tuple[tuple[str, Any], ...] = (("axis", axis),)
    if precise:
        options += (("precise", True),)
    return _Call(arrays=(("x", x),), options=options, input_shape=x.shape, crash=crash)


def _prepare_index_ce(kwargs: Kwargs, api: str) -> _Call:
    k = complete("cross_entropy", kwargs, "MLX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    require(np.issubdtype(target.dtype, np.integer), f"{api}[index] takes integer class indices")
    _require_no_ignored(k, target, api)
    reduction = require_reduction(k, _LOSS_REDUCTIONS, api)
    smoothing = float(k["label_smoothing"])
    require(smoothing < 1.0, f"{api} requires label_smoothing in [0, 1), not {smoothing}")
    array_options: tuple[tuple[str, np.ndarray], ...] = ()
    if k["weight"] is not None:
        require(
            reduction != "mean",
            f"{api}: per-target weights with reduction='mean' divide by the number of targets, "
            "not by the sum of the class weights",
        )
        require(smoothing == 0.0, f"{api}: class weights with label smoothing do not map")
        weight = _same_dtype(np.asarray(k["weight"]), x, "weight", api)
        c = x.shape[_class_axis(x)]
        require(
            bool(np.all((target >= 0) & (target < c))),
            f"{api}: class weights are gathered by target, which needs targets in [0, C)",
        )
        array_options = (("weights", weight[target]),)
    options: tuple[tuple[str, Any], ...] = (("axis", _class_axis(x)),)
    if smoothing:
        options += (("label_smoothing", smoothing),)
    return _Call(
        arrays=(("logits", x), ("targets", target.astype(np.int64))),
        array_options=array_options,
        options=(*options, ("reduction", reduction)),
        input_shape=x.shape,
    )


def _prepare_probs_ce(kwargs: Kwargs, api: str) -> _Call:
    k = complete("cross_entropy", kwargs, "MLX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    require(target.shape == x.shape, f"{api} takes probability targets shaped like the logits")
    require(x.ndim >= 1, f"{api} needs a class axis")
    require_defaults("cross_entropy", k, ("weight", "ignore_index"), api)
    reduction = require_reduction(k, _LOSS_REDUCTIONS, api)
    smoothing = float(k["label_smoothing"])
    require(smoothing < 1.0, f"{api} requires label_smoothing in [0, 1), not {smoothing}")
    options: tuple[tuple[str, Any], ...] = (("axis", _class_axis(x)),)
    if smoothing:
        options += (("label_smoothing", smoothing),)
    return _Call(
        arrays=(("logits", x), ("targets", _same_dtype(target, x, "target", api))),
        options=(*options, ("reduction", reduction)),
        input_shape=x.shape,
    )


def _prepare_nll(kwargs: Kwargs, api: str) -> _Call:
    k = complete("nll_loss", kwargs, "MLX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    require(np.issubdtype(target.dtype, np.integer), f"{api} takes integer class indices")
    _require_no_ignored(k, target, api)
    require_defaults("nll_loss", k, ("weight",), api)
    reduction = require_reduction(k, _LOSS_REDUCTIONS, api)
    return _Call(
        arrays=(("inputs", x), ("targets", target.astype(np.int64))),
        options=(("axis", _class_axis(x)), ("reduction", reduction)),
        input_shape=x.shape,
    )


def _prepare_bce(kwargs: Kwargs, api: str, with_logits: bool) -> _Call:
    op = "binary_cross_entropy_with_logits" if with_logits else "binary_cross_entropy"
    k = complete(op, kwargs, "MLX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    require(target.shape == x.shape, f"{api} takes targets shaped like the inputs")
    if with_logits:
        require_defaults(op, k, ("pos_weight",), api)
    reduction = require_reduction(k, _LOSS_REDUCTIONS, api)
    array_options: tuple[tuple[str, np.ndarray], ...] = ()
    if k["weight"] is not None:
        weight = _same_dtype(np.asarray(k["weight"]), x, "weight", api)
        try:
            full = np.ascontiguousarray(np.broadcast_to(weight, x.shape))
        except ValueError as error:
            raise Unsupported(f"{api}: weight does not broadcast to the input") from error
        array_options = (("weights", full),)
    return _Call(
        arrays=(("inputs", x), ("targets", _same_dtype(target, x, "target", api))),
        array_options=array_options,
        options=(("with_logits", with_logits), ("reduction", reduction)),
        input_shape=x.shape,
    )


def _prepare_kl(kwargs: Kwargs, api: str) -> _Call:
    k = complete("kl_div", kwargs, "MLX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    require(target.shape == x.shape, f"{api} takes targets shaped like the log-predictions")
    require(bool(k["log_target"]), f"{api} takes log-probability targets (log_target=True) only")
    reduction = require_reduction(k, ("none", "sum", "mean", "batchmean"), api)
    target = _same_dtype(target, x, "target", api)
    if reduction == "batchmean":
        require(x.ndim == 2, f"{api}: batchmean is the mean of row sums for 2-d inputs only")
        axis, mlx_reduction = 1, "mean"
    elif reduction == "sum":
        axis, mlx_reduction = _class_axis(x), "sum"
    else:
        # a unit axis to sum over keeps every element: the reference's element-wise terms
        x, target = x[..., None], target[..., None]
        axis, mlx_reduction = -1, reduction
    return _Call(
        arrays=(("inputs", x), ("targets", target)),
        options=(("axis", axis), ("reduction", mlx_reduction)),
        input_shape=np.asarray(k["input"]).shape,
    )


# === 3. the adapter and the API table ========================================================


@dataclasses.dataclass(frozen=True)
class _Adapter(adapter.ScriptedReproducers):
    """Turns a prepared :class:`_Call` into forward, vjp, bind and reproducers."""

    fn: Callable[..., Any]
    prepare: Callable[[Kwargs], _Call]
    #: the public API a reproducer calls (None: name ``fn`` by its module and qualname)
    public: str | None
    #: the registered name reproducers are titled with (None for a user's callable)
    title: str | None

    def _closure(self, call: _Call, device: str) -> tuple[Callable[[Any], Any], Any]:
        """``(f, x)``: ``f(x)`` is the call with every other argument bound, on ``device``."""
        if call.crash:
            raise ProcessCrash(call.crash)
        x, *rest = (_to_mx(a, device) for _, a in call.arrays)
        keywords = {name: _to_mx(a, device) for name, a in call.array_options}
        options = dict(call.options)

        def f(v: Any) -> Any:
            return self.fn(v, *rest, **keywords, **options)

        return f, x

    def forward(self, kwargs: Kwargs, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        with _on(device):
            f, x = self._closure(call, device)
            return _to_numpy(_evaluated(f(x)))

    def vjp(self, kwargs: Kwargs, grad_output: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        with _on(device):
            f, x = self._closure(call, device)
            _, grad = _pullback(f, x, grad_output)
            return _to_numpy(_evaluated(grad)).reshape(call.input_shape)

    def jvp(self, kwargs: Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        with _on(device):
            f, x = self._closure(call, device)
            t = np.asarray(tangent).reshape(x.shape).astype(_NUMPY_DTYPES[x.dtype])
            _, (out,) = adapter.forward_mode(
                lambda: mx.jvp(lambda v: [f(v)], [x], [_to_mx(t, device)]), "mlx.core.jvp"
            )
            return _to_numpy(_evaluated(out))

    def bind(self, kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        call = self.prepare(kwargs)
        with _on(device):
            f, x = self._closure(call, device)
            mx.eval(x)
            ones = mx.ones_like(f(x))
        stream = _mx_device(device)

        def run() -> Any:
            # MLX is lazy: mx.eval runs the graph and returns when the device is done
            with mx.stream(stream):
                if backward:
                    _, (grad,) = mx.vjp(lambda v: [f(v)], [x], [ones])
                    return _evaluated(grad)
                return _evaluated(f(x))

        return run

    def _script(self, request: adapter.ScriptRequest) -> str:
        """The forward call; with ``grad_output`` its vector-Jacobian product (``mx.vjp``);
        with ``tangent`` its Jacobian-vector product (``mx.jvp``)."""
        kwargs, device, grad_output, tangent = request
        call = self.prepare(kwargs)
        imports, source = _script_name(self.fn, self.public)
        arrays = list(call.arrays) + list(call.array_options)
        setup = _device_line(device) + "".join(f"{name} = {_mx_literal(a)}\n" for name, a in arrays)
        first, *others = (name for name, _ in call.arrays)
        arguments = [*others, *(f"{n}={n}" for n, _ in call.array_options)]
        arguments += [f"{key}={value!r}" for key, value in call.options]
        title = f"{self.title or source} on {device}"
        if tangent is not None:
            x = np.asarray(call.arrays[0][1])
            t = np.asarray(tangent).reshape(x.shape).astype(x.dtype)
            setup += f"tangent = {_mx_literal(t)}\n"
            text = (
                f"loss = lambda v: {source}({', '.join(['v', *arguments])})\n"
                f"_, (out,) = mx.jvp(lambda v: [loss(v)], [{first}], [tangent])\n"
            )
            title = f"forward-mode derivative of {title} (mx.jvp)"
        elif grad_output is None:
            text = f"out = {source}({', '.join([first, *arguments])})\n"
        else:
            setup += f"cotangent = {_mx_literal(np.asarray(grad_output))}\n"
            text = (
                f"loss = lambda v: {source}({', '.join(['v', *arguments])})\n"
                f"cotangent = cotangent.reshape(loss({first}).shape).astype("
                f"loss({first}).dtype)\n"
                f"_, (out,) = mx.vjp(lambda v: [loss(v)], [{first}], [cotangent])\n"
            )
            if call.input_shape != np.shape(call.arrays[0][1]):
                text += f"out = out.reshape({tuple(call.input_shape)!r})\n"
            title = f"gradient of {title} (mx.vjp)"
        if call.crash:
            title += " -- this call crashes the process (SIGSEGV)"
        values = [a for _, a in arrays] + [d for d in (grad_output, tangent) if d is not None]
        return reproducer_script(
            title=title,
            imports=[*_REPRODUCER_IMPORTS, *imports_for(values), *imports],
            setup=setup,
            call=text,
            values=_PRINT_VALUES,
        )


def _script_name(fn: Callable[..., Any], public: str | None) -> tuple[list[str], str]:
    """Import lines and the expression that calls ``fn`` in a reproducer
    (:func:`~verify.registry.adapter.script_name`); ``mlx.core`` is imported as ``mx``."""
    imports, source = adapter.script_name(fn, public, lambda _: [])
    if public is not None and public.startswith("mlx.core."):
        return imports, "mx." + public.removeprefix("mlx.core.")
    return imports, source


class _Mlx:
    """The MLX half of the registry skeleton (:class:`~verify.registry.adapter.Framework`)."""

    key: str = FRAMEWORK
    dtypes: tuple[str, ...] = _DTYPES
    devices: tuple[str, ...] = _DEVICES

    def resolve(self, api: str) -> Callable[..., Any]:
        return adapter.attribute_path(mlx, api.removeprefix("mlx."))

    def docs(self, api: str) -> str:
        if api.startswith("mlx.core."):
            return f"{_DOCS}/_autosummary/{api}.html"
        return f"{_DOCS}/nn/_autosummary_functions/{api}.html"

    def functions(
        self, spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
    ) -> adapter.EntryFunctions:
        title = spec.name + mode.suffix if public is not None else None
        return adapter.EntryFunctions.of(
            _Adapter(fn=fn, prepare=spec.prepare, public=public, title=title)
        )


# --- documented deviations and known upstream issues ----------------------------------------


def _first_array(kwargs: Kwargs) -> np.ndarray | None:
    first = kwargs.get("x", kwargs.get("input"))
    return None if first is None else np.asarray(first)


def _finite_float64(kwargs: Kwargs) -> bool:
    """float64 input with every float argument finite (the cases where only exp's accuracy
    is at stake; special values are judged on their own)."""
    first = _first_array(kwargs)
    if first is None or dtype_name(first) != "float64":
        return False
    floats = [np.asarray(v) for v in kwargs.values() if isinstance(v, np.ndarray)]
    return all(
        bool(np.all(np.isfinite(a.astype(np.float64)))) for a in floats if a.dtype.kind == "f"
    )


def _half_precision(kwargs: Kwargs) -> bool:
    first = _first_array(kwargs)
    return first is not None and dtype_name(first) in ("float16", "bfloat16")


#: the checks that judge rounding error (not special values, not bad input)
_ACCURACY_CHECKS = ("accuracy", "gradient", "extreme_range", "identity", "invariance")


def _half_precision_arithmetic(text: str, page: str) -> Deviation:
    """A documented loss of accuracy of float16 and bfloat16 inputs, computed in their own
    precision: an ``inaccurate`` result of the rounding-error checks is that deviation."""
    return Deviation(
        text,
        f"{_DOCS}/{page}",
        applies=_half_precision,
        checks=_ACCURACY_CHECKS,
        severities=(INACCURATE,),
    )


_SOFTMAX_HALF_ACCUMULATION = _half_precision_arithmetic(
    "mx.softmax documents that without precise=True 'the accumulation type matches the "
    "input, which can lose precision over long reduction axes': float16 and bfloat16 rows "
    "are summed in float16 and bfloat16",
    "_autosummary/mlx.core.softmax.html",
)

_CROSS_ENTROPY_HALF_REDUCTION = _half_precision_arithmetic(
    "mlx.nn.losses.cross_entropy documents that 'the CPU reduces in the dtype of the logits, "
    "so upcast them to get the same accuracy': float16 and bfloat16 losses are computed and "
    "reduced in float16 and bfloat16 on the CPU",
    "nn/_autosummary_functions/mlx.nn.losses.cross_entropy.html",
)


_BCE_CLIP = Deviation(
    "binary_cross_entropy(with_logits=False) clips log(p) and log(1 - p) at -100, as "
    "documented ('clips the input probabilities (in log-space) to a minimum value of -100'): "
    "a term whose exact value exceeds 100 is 100 times its coefficient (not +inf at p = 0 or "
    "1), and the gradient through the clip is 0 there",
    f"{_DOCS}/nn/_autosummary_functions/mlx.nn.losses.binary_cross_entropy.html",
    applies=bce_log_clamped,
)

#: float64 exp on the CPU is MLX's float32 approximation (also its float32 saturation points)
_FLOAT64_EXP = KnownIssue(
    "MLX computes float64 exp on the CPU with its float32 SIMD approximation: relative error "
    "about 4.5e-7 (float32 class) and float32 overflow/underflow thresholds (exp(100) = inf), "
    "so every float64 result that goes through exp has float32 accuracy",
    "https://github.com/ml-explore/mlx/issues/3047",
    applies=_finite_float64,
    checks=(*_ACCURACY_CHECKS, "cross_framework"),
    dtypes=("float64",),
)


_SOFTMAX_CAPS = Capabilities(reductions=("none",), target=None, axis=True, kdim=True)
_BCE_CAPS = Capabilities(
    reductions=_LOSS_REDUCTIONS, target="binary", sample_weight=True, kdim=True
)
#: the known issue of every entry whose float64 result goes through exp
_EXP = (_FLOAT64_EXP,)


def _softmax_family(
    name: str, op: str, *, crashes_on_single_class: bool = False, precise: bool = False, **row: Any
) -> adapter.ApiSpec:
    prepare = functools.partial(
        _prepare_softmax_family,
        op=op,
        crashes_on_single_class=crashes_on_single_class,
        precise=precise,
    )
    return adapter.ApiSpec(name, op, prepare, _SOFTMAX_CAPS, known_issues=_EXP, **row)


_SPECS: tuple[adapter.ApiSpec, ...] = (
    _softmax_family("mlx.core.softmax", "softmax", deviations=(_SOFTMAX_HALF_ACCUMULATION,)),
    _softmax_family(
        "mlx.core.softmax[precise=True]", "softmax", precise=True, variant="precise=True"
    ),
    _softmax_family("mlx.core.logsumexp", "logsumexp"),
    _softmax_family("mlx.nn.log_softmax", "log_softmax", crashes_on_single_class=True),
    adapter.ApiSpec(
        "mlx.nn.losses.cross_entropy",
        "cross_entropy",
        functools.partial(_prepare_index_ce, api="mlx.nn.losses.cross_entropy"),
        Capabilities(
            reductions=_LOSS_REDUCTIONS,
            target="index",
            class_weight=True,
            label_smoothing=True,
            kdim=True,
        ),
        deviations=(_CROSS_ENTROPY_HALF_REDUCTION,),
        known_issues=_EXP,
    ),
    adapter.ApiSpec(
        "mlx.nn.losses.cross_entropy[probs]",
        "cross_entropy",
        functools.partial(_prepare_probs_ce, api="mlx.nn.losses.cross_entropy"),
        Capabilities(reductions=_LOSS_REDUCTIONS, target="probs", label_smoothing=True, kdim=True),
        deviations=(_CROSS_ENTROPY_HALF_REDUCTION,),
        known_issues=_EXP,
    ),
    adapter.ApiSpec(
        "mlx.nn.losses.nll_loss",
        "nll_loss",
        functools.partial(_prepare_nll, api="mlx.nn.losses.nll_loss"),
        Capabilities(reductions=_LOSS_REDUCTIONS, target="index", kdim=True),
    ),
    adapter.ApiSpec(
        "mlx.nn.losses.binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        functools.partial(_prepare_bce, api="mlx.nn.losses.binary_cross_entropy", with_logits=True),
        _BCE_CAPS,
        known_issues=_EXP,
    ),
    adapter.ApiSpec(
        "mlx.nn.losses.binary_cross_entropy[with_logits=False]",
        "binary_cross_entropy",
        functools.partial(
            _prepare_bce, api="mlx.nn.losses.binary_cross_entropy", with_logits=False
        ),
        _BCE_CAPS,
        deviations=(_BCE_CLIP,),
    ),
    adapter.ApiSpec(
        "mlx.nn.losses.kl_div_loss",
        "kl_div",
        functools.partial(_prepare_kl, api="mlx.nn.losses.kl_div_loss"),
        Capabilities(reductions=_KL_REDUCTIONS, target="probs", log_target=True, kdim=True),
        known_issues=_EXP,
    ),
)


#: every MLX API, plain calls (MLX's own mx.compile is not a separate code path here)
REGISTRY = adapter.Registry(_Mlx(), _SPECS)

#: public name -> factory wrapping a user's callable exactly as the registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[Implementation]:
    """Every MLX entry, built around the real functions."""
    return REGISTRY.implementations()
