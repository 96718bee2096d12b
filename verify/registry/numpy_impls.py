"""Textbook NumPy formulations: the code users copy from tutorials and answers.

They are here to fail.  Each is computed in the input's dtype, except that float16 and
bfloat16 inputs are upcast to float32 for the arithmetic and the result is rounded back (what
most users do, since NumPy has no bfloat16 arithmetic of its own), so the report shows,
against the correctly rounded reference, why the stable forms matter:

- ``softmax_unshifted``: exp(x) / sum(exp(x)) overflows to inf/inf = NaN once a logit exceeds
  log(max float) (about 88.7 in float32, 709.8 in float64);
- ``softmax_shifted``: exp(x - max x) / sum(exp(x - max x)), the stable form
  (https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.softmax.html);
- ``log_softmax_naive``: log(softmax_shifted(x)) gives -inf where the probability underflows
  although log_softmax is finite there;
- ``log_softmax_shifted``: (x - m) - log(sum(exp(x - m))) with m = max x;
- ``logsumexp_naive``: log(sum(exp(x))) overflows; ``logsumexp_shifted``: m + log(sum(exp(x - m)))
  (https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.logsumexp.html);
- ``cross_entropy_naive``: -sum(onehot * log(softmax_shifted(x))) where 0 * log(0) = 0 * -inf
  is NaN for any class whose probability underflows;
- ``cross_entropy_shifted``: -log_softmax_shifted(x)[target].

Gradients are the textbook analytic formulas, built from each entry's own softmax: softmax
s(x): s * (g - sum(g * s)); log_softmax: g - s * sum(g); logsumexp: g * s; cross entropy
(mean over N rows): (s - onehot) * g / N.  They are what users hand-write in NumPy, so the
gradient check has something to check.  Nothing here is hidden by deviations: the failures are
the point.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from verify.registry import adapter, conventions
from verify.registry.base import Capabilities, Implementation, Kwargs, Unsupported
from verify.reproducer_literals import assignments, imports_for

FRAMEWORK = "numpy"
PREFIX = "numpy.textbook."
DOCS = "https://numpy.org/doc/stable/reference/routines.math.html"


# --- the formulas (self-contained: each reproducer inlines its source) -------------------


def softmax_unshifted(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_shifted(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax_naive(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return np.log(e / np.sum(e, axis=axis, keepdims=True))


def log_softmax_shifted(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def logsumexp_naive(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.log(np.sum(np.exp(x), axis=axis))


def logsumexp_shifted(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def cross_entropy_naive(
    input: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray:
    onehot = np.eye(input.shape[1], dtype=input.dtype)[target]
    e = np.exp(input - np.max(input, axis=1, keepdims=True))
    probs = e / np.sum(e, axis=1, keepdims=True)
    losses = -np.sum(onehot * np.log(probs), axis=1)
    if reduction == "none":
        return losses
    return np.sum(losses) if reduction == "sum" else np.mean(losses)


def cross_entropy_shifted(
    input: np.ndarray, target: np.ndarray, reduction: str = "mean"
) -> np.ndarray:
    shifted = input - np.max(input, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    losses = -np.take_along_axis(log_probs, target[:, None], axis=1)[:, 0]
    if reduction == "none":
        return losses
    return np.sum(losses) if reduction == "sum" else np.mean(losses)


# --- analytic gradients -------------------------------------------------------------------


def _softmax_vjp(softmax: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def vjp(x: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
        s = softmax(x, axis)
        return s * (g - np.sum(g * s, axis=axis, keepdims=True))

    return vjp


def _log_softmax_vjp(softmax: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def vjp(x: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
        return g - softmax(x, axis) * np.sum(g, axis=axis, keepdims=True)

    return vjp


def _logsumexp_vjp(softmax: Callable[..., Any]) -> Callable[..., np.ndarray]:
    def vjp(x: np.ndarray, g: np.ndarray, axis: int) -> np.ndarray:
        return np.expand_dims(g, axis) * softmax(x, axis)

    return vjp


def _cross_entropy_vjp(
    input: np.ndarray, target: np.ndarray, g: np.ndarray, reduction: str
) -> np.ndarray:
    n = input.shape[0]
    diff = softmax_shifted(input, 1)
    # p - onehot(target), the one-hot scattered in place (an identity matrix indexed by the
    # targets would be C x C: 4 GB at a 32000-class vocabulary)
    diff[np.arange(n), target] -= 1
    if reduction == "none":
        return diff * g[:, None]
    scale = g / n if reduction == "mean" else g
    return diff * scale


# --- entries ------------------------------------------------------------------------------


def _compute_dtype(dtype: np.dtype[Any]) -> np.dtype[Any]:
    """float16/bfloat16 are upcast to float32 for the arithmetic (as users do)."""
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


def _script(title: str, original: np.ndarray, imports: Sequence[str], setup: str, call: str) -> str:
    """The reproducer of a formula: its imports and source, the input bit for bit, ``call``
    (which computes ``out`` in the compute dtype and rounds it back), and ``out`` printed."""
    return conventions.reproducer_script(
        title=title,
        imports=[*imports_for([original]), *imports],
        setup=setup,
        call=call,
        values="out",
    )


def _functions(
    builtin: bool,
    forward: Callable[[Kwargs, str], np.ndarray],
    vjp: Callable[[Kwargs, np.ndarray, str], np.ndarray],
    bind: Callable[[Kwargs, str, bool], Callable[[], Any]],
    reproducer: Callable[[Kwargs, str], str],
) -> adapter.EntryFunctions:
    """A formula's entry functions: only the built-in formulas, whose analytic VJP is known,
    get ``vjp`` and ``bind`` (a user's formula has neither)."""
    return adapter.EntryFunctions(
        forward, vjp if builtin else None, bind if builtin else None, reproducer
    )


def _softmax_family(
    spec: adapter.ApiSpec, fn: Callable[..., Any], builtin: bool
) -> adapter.EntryFunctions:
    op, public = spec.op, spec.name
    softmax = softmax_unshifted if public.endswith("unshifted") else softmax_shifted
    grads = {"softmax": _softmax_vjp, "log_softmax": _log_softmax_vjp, "logsumexp": _logsumexp_vjp}
    analytic = grads[op](softmax)

    def prepare(kwargs: Kwargs) -> tuple[np.ndarray, int, np.dtype[Any]]:
        args = conventions.with_defaults(op, kwargs)
        x = np.asarray(args["x"])
        return x.astype(_compute_dtype(x.dtype)), int(args["axis"]), x.dtype

    def forward(kwargs: Kwargs, device: str) -> np.ndarray:
        _cpu_only(device)
        x, axis, dtype = prepare(kwargs)
        with np.errstate(all="ignore"):
            return conventions.as_result(fn(x, axis=axis), dtype)

    def vjp(kwargs: Kwargs, grad_output: np.ndarray, device: str) -> np.ndarray:
        _cpu_only(device)
        x, axis, dtype = prepare(kwargs)
        g = np.asarray(grad_output).astype(x.dtype)
        with np.errstate(all="ignore"):
            return conventions.as_result(analytic(x, g, axis), dtype)

    def bind(kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        _cpu_only(device)
        x, axis, _ = prepare(kwargs)
        if not backward:
            return lambda: fn(x, axis=axis)
        g = np.ones_like(fn(x, axis=axis))
        return lambda: (fn(x, axis=axis), analytic(x, g, axis))

    def reproducer(kwargs: Kwargs, device: str) -> str:
        _, axis, dtype = prepare(kwargs)
        original = np.asarray(kwargs["x"])
        imports, name, definition = _formula_source(fn, builtin)
        setup = definition + assignments({"x": original})
        call = f"out = {name}(x.astype(np.{_compute_dtype(dtype).name}), axis={axis})\n"
        call += f"out = out.astype(x.dtype)  # rounded back to {dtype.name}\n"
        title = f"{public}: {op} along axis {axis} on a {dtype.name} input"
        return _script(title, original, imports, setup, call)

    return _functions(builtin, forward, vjp, bind, reproducer)


def _cross_entropy(
    spec: adapter.ApiSpec, fn: Callable[..., Any], builtin: bool
) -> adapter.EntryFunctions:
    op, public = spec.op, spec.name

    def prepare(kwargs: Kwargs) -> tuple[np.ndarray, np.ndarray, str, np.dtype[Any]]:
        args = conventions.with_defaults(op, kwargs)
        conventions.require_defaults(
            op, args, ("weight", "ignore_index", "label_smoothing"), public
        )
        x = np.asarray(args["input"])
        if x.ndim != 2:
            raise Unsupported(f"{public} takes (N, C) inputs only, not {x.ndim}-d")
        reduction = conventions.require_reduction(args, ("none", "sum", "mean"), public)
        target = np.asarray(args["target"]).astype(np.int64)
        return x.astype(_compute_dtype(x.dtype)), target, reduction, x.dtype

    def forward(kwargs: Kwargs, device: str) -> np.ndarray:
        _cpu_only(device)
        x, target, reduction, dtype = prepare(kwargs)
        with np.errstate(all="ignore"):
            return conventions.as_result(fn(x, target, reduction=reduction), dtype)

    def vjp(kwargs: Kwargs, grad_output: np.ndarray, device: str) -> np.ndarray:
        _cpu_only(device)
        x, target, reduction, dtype = prepare(kwargs)
        g = np.asarray(grad_output).astype(x.dtype)
        with np.errstate(all="ignore"):
            return conventions.as_result(_cross_entropy_vjp(x, target, g, reduction), dtype)

    def bind(kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        _cpu_only(device)
        x, target, reduction, _ = prepare(kwargs)
        if not backward:
            return lambda: fn(x, target, reduction=reduction)
        g = np.ones_like(fn(x, target, reduction=reduction))
        return lambda: (
            fn(x, target, reduction=reduction),
            _cross_entropy_vjp(x, target, g, reduction),
        )

    def reproducer(kwargs: Kwargs, device: str) -> str:
        _, target, reduction, dtype = prepare(kwargs)
        original = np.asarray(kwargs["input"])
        imports, name, definition = _formula_source(fn, builtin)
        setup = definition + assignments({"input": original, "target": target})
        call = (
            f"out = {name}(input.astype(np.{_compute_dtype(dtype).name}), target, "
            f"reduction={reduction!r})\n"
            f"out = out.astype(input.dtype)  # rounded back to {dtype.name}\n"
        )
        title = f"{public}: cross entropy (reduction={reduction!r}) on a {dtype.name} input"
        return _script(title, original, imports, setup, call)

    return _functions(builtin, forward, vjp, bind, reproducer)


def _cpu_only(device: str) -> None:
    if device != "cpu":
        raise Unsupported(f"NumPy runs on the CPU only, not on {device!r}")


def _formula_source(fn: Callable[..., Any], builtin: bool) -> tuple[list[str], str, str]:
    """(imports, expression naming fn, definition source) for a reproducer."""
    if builtin:
        return [], fn.__name__, inspect.getsource(fn) + "\n\n"
    imports, expression = adapter.script_name(fn, None, lambda public: [])
    return imports, expression, ""


_SOFTMAX_CAPS = Capabilities(reductions=(), axis=True)
_CROSS_ENTROPY_CAPS = Capabilities(reductions=("none", "sum", "mean"), target="index")
_VARIANT = "float32 arithmetic for float16/bfloat16"


def _row(formula: str, op: str) -> adapter.ApiSpec:
    caps = _CROSS_ENTROPY_CAPS if op == "cross_entropy" else _SOFTMAX_CAPS
    prepare = _cross_entropy if op == "cross_entropy" else _softmax_family
    return adapter.ApiSpec(PREFIX + formula, op, prepare, caps, variant=_VARIANT, docs=DOCS)


_SPECS: tuple[adapter.ApiSpec, ...] = (
    _row("softmax_unshifted", "softmax"),
    _row("softmax_shifted", "softmax"),
    _row("log_softmax_naive", "log_softmax"),
    _row("log_softmax_shifted", "log_softmax"),
    _row("logsumexp_naive", "logsumexp"),
    _row("logsumexp_shifted", "logsumexp"),
    _row("cross_entropy_naive", "cross_entropy"),
    _row("cross_entropy_shifted", "cross_entropy"),
)


class _NumPy:
    """The NumPy half of the registry skeleton (:class:`~verify.registry.adapter.Framework`).

    A row's ``prepare`` builds the entry's functions; the analytic gradient belongs to the
    textbook formula, so a user's callable gets none (no vjp, no bind)."""

    key: str = FRAMEWORK
    dtypes: tuple[str, ...] = conventions.FLOAT_DTYPES
    devices: tuple[str, ...] = ("cpu",)

    def resolve(self, api: str) -> Callable[..., Any]:
        function: Callable[..., Any] = globals()[api.removeprefix(PREFIX)]
        return function

    def docs(self, api: str) -> str:
        return DOCS

    def functions(
        self, spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
    ) -> adapter.EntryFunctions:
        functions: adapter.EntryFunctions = spec.prepare(spec, fn, public is not None)
        return functions


REGISTRY = adapter.Registry(_NumPy(), _SPECS)

FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[Implementation]:
    """Every textbook formula, built around its own function."""
    return REGISTRY.implementations()
