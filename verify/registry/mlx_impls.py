"""MLX entries of the registry (``mlx.core``, ``mlx.nn``, ``mlx.nn.losses``).

Every entry maps the reference's PyTorch-style arguments onto the MLX call users write, and
back.  The module is in three parts, kept apart so that the MLX-specific pieces can move onto
a shared adapter skeleton unchanged:

1. **MLX specifics** (tensor conversion, devices, ``mx.vjp``, ``mx.eval``, reproducer lines);
2. **preparers**: one per API family, reference kwargs -> :class:`_Call` in MLX's own terms,
   with the mapping of each option (what MLX cannot express raises
   :class:`~verify.registry.base.Unsupported`);
3. **the entry table** (:data:`_SPECS`: name, op, preparer, capabilities, documentation,
   deviations and known issues) and the generic glue that builds entries and factories.

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
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ml_dtypes
import mlx.core as mx
import mlx.nn
import numpy as np

from verify.registry.base import (
    Capabilities,
    Deviation,
    Implementation,
    KnownIssue,
    Kwargs,
    Unsupported,
)
from verify.registry.conventions import (
    callable_reference,
    dtype_name,
    primary_name,
    reproducer_script,
    require_defaults,
    require_reduction,
    with_defaults,
)
from verify.reproducer_literals import array_literal, imports_for

FRAMEWORK = "mlx"

_DTYPES = ("float16", "bfloat16", "float32", "float64")
_DEVICES = ("cpu", "cuda")
_DOCS = "https://ml-explore.github.io/mlx/build/html/python"
_LOSS_REDUCTIONS = ("none", "sum", "mean")


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


def _complete(op: str, kwargs: Kwargs) -> dict[str, Any]:
    """The reference kwargs with defaults filled in; ``out_dtype`` other than the input's is
    Unsupported (MLX returns the input's dtype)."""
    given = dict(kwargs)
    out_dtype = given.pop("out_dtype", None)
    full = with_defaults(op, given)
    first = np.asarray(full[primary_name(op)])
    if out_dtype is not None and np.dtype(out_dtype) != first.dtype:
        raise Unsupported("MLX returns the input's dtype; out_dtype cannot be chosen")
    return full


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Unsupported(reason)


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
    _require(exact, f"{api}: {what} is not exactly representable in {dtype_name(like)}")
    return cast


def _require_no_ignored(k: dict[str, Any], target: np.ndarray, api: str) -> None:
    _require(
        not np.any(target == int(k["ignore_index"])),
        f"{api} has no ignore_index (every target is a class)",
    )


def _prepare_softmax_family(kwargs: Kwargs, op: str, crashes_on_single_class: bool) -> _Call:
    k = _complete(op, kwargs)
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
    return _Call(arrays=(("x", x),), options=(("axis", axis),), input_shape=x.shape, crash=crash)


def _prepare_index_ce(kwargs: Kwargs, api: str) -> _Call:
    k = _complete("cross_entropy", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(np.issubdtype(target.dtype, np.integer), f"{api}[index] takes integer class indices")
    _require_no_ignored(k, target, api)
    reduction = require_reduction(k, _LOSS_REDUCTIONS, api)
    smoothing = float(k["label_smoothing"])
    _require(smoothing < 1.0, f"{api} requires label_smoothing in [0, 1), not {smoothing}")
    array_options: tuple[tuple[str, np.ndarray], ...] = ()
    if k["weight"] is not None:
        _require(
            reduction != "mean",
            f"{api}: per-target weights with reduction='mean' divide by the number of targets, "
            "not by the sum of the class weights",
        )
        _require(smoothing == 0.0, f"{api}: class weights with label smoothing do not map")
        weight = _same_dtype(np.asarray(k["weight"]), x, "weight", api)
        c = x.shape[_class_axis(x)]
        _require(
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
    k = _complete("cross_entropy", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(target.shape == x.shape, f"{api} takes probability targets shaped like the logits")
    _require(x.ndim >= 1, f"{api} needs a class axis")
    require_defaults("cross_entropy", k, ("weight", "ignore_index"), api)
    reduction = require_reduction(k, _LOSS_REDUCTIONS, api)
    smoothing = float(k["label_smoothing"])
    _require(smoothing < 1.0, f"{api} requires label_smoothing in [0, 1), not {smoothing}")
    options: tuple[tuple[str, Any], ...] = (("axis", _class_axis(x)),)
    if smoothing:
        options += (("label_smoothing", smoothing),)
    return _Call(
        arrays=(("logits", x), ("targets", _same_dtype(target, x, "target", api))),
        options=(*options, ("reduction", reduction)),
        input_shape=x.shape,
    )


def _prepare_nll(kwargs: Kwargs, api: str) -> _Call:
    k = _complete("nll_loss", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(np.issubdtype(target.dtype, np.integer), f"{api} takes integer class indices")
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
    k = _complete(op, kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(target.shape == x.shape, f"{api} takes targets shaped like the inputs")
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
    k = _complete("kl_div", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(target.shape == x.shape, f"{api} takes targets shaped like the log-predictions")
    _require(bool(k["log_target"]), f"{api} takes log-probability targets (log_target=True) only")
    reduction = require_reduction(k, ("none", "sum", "mean", "batchmean"), api)
    target = _same_dtype(target, x, "target", api)
    if reduction == "batchmean":
        _require(x.ndim == 2, f"{api}: batchmean is the mean of row sums for 2-d inputs only")
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


# === 3. the adapter (generic glue) ===========================================================


@dataclasses.dataclass(frozen=True)
class _Adapter:
    """Turns a prepared :class:`_Call` into forward, vjp, bind and reproducers."""

    fn: Callable[..., Any]
    prepare: Callable[[Kwargs], _Call]
    #: the public name a reproducer calls (None: name ``fn`` by its module and qualname)
    public: str | None

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

    def reproducer(self, kwargs: Kwargs, device: str) -> str:
        return self._script(kwargs, device, None)

    def gradient_reproducer(self, kwargs: Kwargs, grad_output: np.ndarray, device: str) -> str:
        return self._script(kwargs, device, np.asarray(grad_output))

    def _script(self, kwargs: Kwargs, device: str, grad_output: np.ndarray | None) -> str:
        call = self.prepare(kwargs)
        imports, source = _name_in_script(self.fn, self.public)
        arrays = list(call.arrays) + list(call.array_options)
        setup = _device_line(device) + "".join(f"{name} = {_mx_literal(a)}\n" for name, a in arrays)
        first, *others = (name for name, _ in call.arrays)
        arguments = [*others, *(f"{n}={n}" for n, _ in call.array_options)]
        arguments += [f"{key}={value!r}" for key, value in call.options]
        title = f"{self.public or source} on {device}"
        if grad_output is None:
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
        values = [a for _, a in arrays] + ([] if grad_output is None else [grad_output])
        return reproducer_script(
            title=title,
            imports=[*_REPRODUCER_IMPORTS, *imports_for(values), *imports],
            setup=setup,
            call=text,
            values=_PRINT_VALUES,
        )


def _name_in_script(fn: Callable[..., Any], public: str | None) -> tuple[list[str], str]:
    """Import lines and the expression that calls ``fn`` in a reproducer: the public name for
    registered APIs (``mlx.core`` is imported as ``mx``), the user's module otherwise."""
    if public is None:
        try:
            return callable_reference(fn)
        except ValueError as error:
            raise Unsupported(str(error)) from error
    api = public.split("[", 1)[0]
    if api.startswith("mlx.core."):
        return [], "mx." + api.removeprefix("mlx.core.")
    return [], api


# === the entry table ========================================================================


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    op: str
    #: the attribute path of the real API under ``mlx``
    api: str
    prepare: Callable[[Kwargs], _Call]
    capabilities: Capabilities
    docs: str
    deviations: tuple[Deviation, ...] = ()
    known_issues: tuple[KnownIssue, ...] = ()
    #: static options every call of this entry passes (e.g. precise=True)
    fixed: tuple[tuple[str, Any], ...] = ()


_LOG_CLAMP = math.exp(-100.0)


def _bce_log_clamped(kwargs: Kwargs) -> bool:
    """Whether MLX's clip of log(p) and log(1 - p) at -100 changes a term that counts (a term
    whose coefficient, target or 1 - target, is not zero)."""
    p = np.asarray(kwargs["input"]).astype(np.float64)
    t = np.asarray(kwargs["target"]).astype(np.float64)
    with np.errstate(invalid="ignore"):
        low = (p < _LOG_CLAMP) & (t != 0)
        high = ((1.0 - p) < _LOG_CLAMP) & (t != 1)
    return bool(np.any(low | high))


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

_SOFTMAX_HALF_ACCUMULATION = Deviation(
    "mx.softmax documents that without precise=True 'the accumulation type matches the "
    "input, which can lose precision over long reduction axes': float16 and bfloat16 rows "
    "are summed in float16 and bfloat16",
    f"{_DOCS}/_autosummary/mlx.core.softmax.html",
    applies=_half_precision,
    checks=_ACCURACY_CHECKS,
)

_CROSS_ENTROPY_HALF_REDUCTION = Deviation(
    "mlx.nn.losses.cross_entropy documents that 'the CPU reduces in the dtype of the logits, "
    "so upcast them to get the same accuracy': float16 and bfloat16 losses are computed and "
    "reduced in float16 and bfloat16 on the CPU",
    f"{_DOCS}/nn/_autosummary_functions/mlx.nn.losses.cross_entropy.html",
    applies=_half_precision,
    checks=_ACCURACY_CHECKS,
)


_BCE_CLIP = Deviation(
    "binary_cross_entropy(with_logits=False) clips log(p) and log(1 - p) at -100, as "
    "documented ('clips the input probabilities (in log-space) to a minimum value of -100'): "
    "a term whose exact value exceeds 100 is 100 times its coefficient (not +inf at p = 0 or "
    "1), and the gradient through the clip is 0 there",
    f"{_DOCS}/nn/_autosummary_functions/mlx.nn.losses.binary_cross_entropy.html",
    applies=_bce_log_clamped,
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


def _spec(
    name: str,
    op: str,
    prepare: Callable[[Kwargs], _Call],
    capabilities: Capabilities,
    docs: str,
    *,
    api: str | None = None,
    deviations: tuple[Deviation, ...] = (),
    known_issues: tuple[KnownIssue, ...] = (_FLOAT64_EXP,),
    fixed: tuple[tuple[str, Any], ...] = (),
) -> _Spec:
    return _Spec(
        name=name,
        op=op,
        api=api or name.split("[", 1)[0],
        prepare=prepare,
        capabilities=capabilities,
        docs=docs,
        deviations=deviations,
        known_issues=known_issues,
        fixed=fixed,
    )


_SOFTMAX_CAPS = Capabilities(reductions=("none",), target=None, axis=True, kdim=True)
_CORE_DOCS = f"{_DOCS}/_autosummary"
_NN_DOCS = f"{_DOCS}/nn/_autosummary_functions"

_SPECS: tuple[_Spec, ...] = (
    _spec(
        "mlx.core.softmax",
        "softmax",
        functools.partial(_prepare_softmax_family, op="softmax", crashes_on_single_class=False),
        _SOFTMAX_CAPS,
        f"{_CORE_DOCS}/mlx.core.softmax.html",
        deviations=(_SOFTMAX_HALF_ACCUMULATION,),
    ),
    _spec(
        "mlx.core.softmax[precise=True]",
        "softmax",
        functools.partial(_prepare_softmax_family, op="softmax", crashes_on_single_class=False),
        _SOFTMAX_CAPS,
        f"{_CORE_DOCS}/mlx.core.softmax.html",
        fixed=(("precise", True),),
    ),
    _spec(
        "mlx.core.logsumexp",
        "logsumexp",
        functools.partial(_prepare_softmax_family, op="logsumexp", crashes_on_single_class=False),
        _SOFTMAX_CAPS,
        f"{_CORE_DOCS}/mlx.core.logsumexp.html",
    ),
    _spec(
        "mlx.nn.log_softmax",
        "log_softmax",
        functools.partial(_prepare_softmax_family, op="log_softmax", crashes_on_single_class=True),
        _SOFTMAX_CAPS,
        f"{_NN_DOCS}/mlx.nn.log_softmax.html",
    ),
    _spec(
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
        f"{_NN_DOCS}/mlx.nn.losses.cross_entropy.html",
        deviations=(_CROSS_ENTROPY_HALF_REDUCTION,),
    ),
    _spec(
        "mlx.nn.losses.cross_entropy[probs]",
        "cross_entropy",
        functools.partial(_prepare_probs_ce, api="mlx.nn.losses.cross_entropy"),
        Capabilities(reductions=_LOSS_REDUCTIONS, target="probs", label_smoothing=True, kdim=True),
        f"{_NN_DOCS}/mlx.nn.losses.cross_entropy.html",
        deviations=(_CROSS_ENTROPY_HALF_REDUCTION,),
    ),
    _spec(
        "mlx.nn.losses.nll_loss",
        "nll_loss",
        functools.partial(_prepare_nll, api="mlx.nn.losses.nll_loss"),
        Capabilities(reductions=_LOSS_REDUCTIONS, target="index", kdim=True),
        f"{_NN_DOCS}/mlx.nn.losses.nll_loss.html",
        known_issues=(),
    ),
    _spec(
        "mlx.nn.losses.binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        functools.partial(_prepare_bce, api="mlx.nn.losses.binary_cross_entropy", with_logits=True),
        Capabilities(reductions=_LOSS_REDUCTIONS, target="binary", sample_weight=True, kdim=True),
        f"{_NN_DOCS}/mlx.nn.losses.binary_cross_entropy.html",
    ),
    _spec(
        "mlx.nn.losses.binary_cross_entropy[with_logits=False]",
        "binary_cross_entropy",
        functools.partial(
            _prepare_bce, api="mlx.nn.losses.binary_cross_entropy", with_logits=False
        ),
        Capabilities(reductions=_LOSS_REDUCTIONS, target="binary", sample_weight=True, kdim=True),
        f"{_NN_DOCS}/mlx.nn.losses.binary_cross_entropy.html",
        deviations=(_BCE_CLIP,),
        known_issues=(),
    ),
    _spec(
        "mlx.nn.losses.kl_div_loss",
        "kl_div",
        functools.partial(_prepare_kl, api="mlx.nn.losses.kl_div_loss"),
        Capabilities(
            reductions=("none", "sum", "mean", "batchmean"),
            target="probs",
            log_target=True,
            kdim=True,
        ),
        f"{_NN_DOCS}/mlx.nn.losses.kl_div_loss.html",
    ),
)


def _resolve(api: str) -> Callable[..., Any]:
    obj: Any = {"mlx.core": mx, "mlx.nn": mlx.nn}[".".join(api.split(".")[:2])]
    for part in api.split(".")[2:]:
        obj = getattr(obj, part)
    return obj


def _prepare_with(spec: _Spec) -> Callable[[Kwargs], _Call]:
    if not spec.fixed:
        return spec.prepare

    def prepare(kwargs: Kwargs) -> _Call:
        call = spec.prepare(kwargs)
        return dataclasses.replace(call, options=(*call.options, *spec.fixed))

    return prepare


def _build(spec: _Spec, fn: Callable[..., Any], *, public: bool) -> Implementation:
    adapter = _Adapter(fn=fn, prepare=_prepare_with(spec), public=spec.name if public else None)
    return Implementation(
        name=spec.name,
        framework=FRAMEWORK,
        op=spec.op,
        forward=adapter.forward,
        capabilities=spec.capabilities,
        dtypes=_DTYPES,
        devices=_DEVICES,
        vjp=adapter.vjp,
        bind=adapter.bind,
        reproducer=adapter.reproducer,
        gradient_reproducer=adapter.gradient_reproducer,
        deviations=spec.deviations,
        known_issues=spec.known_issues,
        docs=spec.docs,
        variant=", ".join(f"{k}={v!r}" for k, v in spec.fixed),
    )


def _factory(spec: _Spec) -> Callable[[Callable[..., Any]], Implementation]:
    def factory(fn: Callable[..., Any]) -> Implementation:
        return _build(spec, fn, public=False)

    factory.__doc__ = f"Build the {spec.name} entry around ``fn``."
    return factory


#: public name -> factory wrapping a user's callable exactly as the registered entry is wrapped
FACTORIES: dict[str, Callable[[Callable[..., Any]], Implementation]] = {
    spec.name: _factory(spec) for spec in _SPECS
}


def implementations() -> list[Implementation]:
    """Every MLX entry, built around the real functions."""
    return [_build(spec, _resolve(spec.api), public=True) for spec in _SPECS]
