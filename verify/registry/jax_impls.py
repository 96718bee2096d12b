"""JAX and optax entries of the registry.

Every entry maps the reference's PyTorch-style arguments (class axis 1, ``input``/``target``,
``reduction``, ``ignore_index``, ...) onto the JAX call users write, and back:

- class axis: optax losses take the classes on the last axis (``[..., num_classes]``,
  https://optax.readthedocs.io/en/latest/api/losses.html), so ``input`` and probability
  targets of shape (N, C, d1, ..., dk) are transposed to (N, d1, ..., dk, C) before the call.
  The per-example loss then has the reference's ``reduction="none"`` layout (N, d1, ..., dk),
  and the gradient is transposed back.  Transposition is exact.
- reductions: optax returns per-example losses and has no reduction argument, so only
  ``reduction="none"`` is expressible (a mean taken by the adapter would test the adapter, not
  optax); :class:`~verify.registry.base.Unsupported` is raised for the others.
  ``optax.kl_divergence`` sums over ``axis``: ``axis=()`` is the reference's elementwise
  ``"none"`` and ``axis=None`` its ``"sum"``.
- ``ignore_index`` (``optax.softmax_cross_entropy_with_integer_labels`` only) maps onto the
  documented ``where`` mask of shape ``[batch_size]``: masked rows return 0.  Their labels are
  replaced by 0 before the call, because optax requires labels in ``[0, num_classes)``.
- float64 needs JAX's x64 mode (https://docs.jax.dev/en/latest/default_dtypes.html); importing
  this module turns it on with ``jax.config.update("jax_enable_x64", True)`` before any array is
  made, so every dtype keeps its own precision.

Each API has two entries: the plain call and the same call under ``jax.jit`` (name suffix
``[jit]``, variant ``"jit"``), because XLA may fuse and rewrite the compiled graph.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from verify.registry import adapter, conventions
from verify.registry.base import Capabilities, Deviation, Implementation, Kwargs, Unsupported
from verify.registry.conventions import AXIS_1, AXIS_1_VARIANT
from verify.reproducer_literals import array_literal, imports_for

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402  (x64 must be enabled before first use)
import jax.scipy.special  # noqa: E402
import optax  # noqa: E402

from verify.ops import DEVICES as _DEVICES  # noqa: E402
from verify.ops import DTYPES as _DTYPES  # noqa: E402

FRAMEWORK = "jax"

_OPTAX_DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html"


@dataclasses.dataclass(frozen=True)
class _Call:
    """One API call prepared from reference kwargs, in the API's own layout.

    ``args[0]`` is the differentiated array (logits).  ``class_last`` says whether it was
    transposed from the reference's class axis 1 to the last axis (so its gradient must be
    transposed back).  ``options`` are the static Python keyword arguments.
    """

    args: tuple[tuple[str, np.ndarray], ...]
    array_kwargs: tuple[tuple[str, np.ndarray], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    class_last: bool = False


# --- preparers: reference kwargs -> _Call ---------------------------------------------------


def _prepare_softmax_family(kwargs: Kwargs, op: str, arg_name: str) -> _Call:
    k = conventions.complete(op, kwargs, "JAX")
    return _Call(args=((arg_name, np.asarray(k["x"])),), options=(("axis", int(k["axis"])),))


def _class_axis_call(
    logits: np.ndarray,
    labels: np.ndarray,
    class_axis: int | None,
    array_kwargs: tuple[tuple[str, np.ndarray], ...] = (),
) -> _Call:
    """The call with classes moved last (``class_axis=None``: optax's default ``axis=-1``), or
    left on the reference's axis 1 and named by optax's ``axis`` argument."""
    if class_axis is None:
        return _Call(
            args=(("logits", conventions.class_last(logits)), ("labels", labels)),
            array_kwargs=array_kwargs,
            class_last=True,
        )
    return _Call(
        args=(("logits", logits), ("labels", labels)),
        array_kwargs=array_kwargs,
        options=(("axis", class_axis),),
    )


def _prepare_probs_ce(kwargs: Kwargs, api: str, class_axis: int | None = None) -> _Call:
    k = conventions.complete("cross_entropy", kwargs, "JAX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    conventions.require(
        target.shape == x.shape, f"{api} takes probability targets shaped like the logits"
    )
    conventions.require(x.ndim >= 2, f"{api} needs a class axis")
    conventions.require_reduction(k, ("none",), api)
    conventions.require_defaults("cross_entropy", k, ("weight", "label_smoothing"), api)
    labels = target if class_axis is not None else conventions.class_last(target)
    return _class_axis_call(x, labels.astype(x.dtype), class_axis)


def _prepare_integer_ce(kwargs: Kwargs, api: str, class_axis: int | None = None) -> _Call:
    k = conventions.complete("cross_entropy", kwargs, "JAX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    conventions.require(
        np.issubdtype(target.dtype, np.integer), f"{api} takes integer class indices"
    )
    conventions.require(x.ndim >= 2, f"{api} needs a class axis")
    conventions.require_reduction(k, ("none",), api)
    conventions.require_defaults("cross_entropy", k, ("weight", "label_smoothing"), api)
    ignored = target == int(k["ignore_index"])
    array_kwargs: tuple[tuple[str, np.ndarray], ...] = ()
    if ignored.any():
        # optax's documented mask: rows with where=False return 0; their labels must still be
        # valid indices, so the adapter writes 0 there (what a user with padding does).
        array_kwargs = (("where", ~ignored),)
        target = np.where(ignored, 0, target)
    return _class_axis_call(x, target.astype(np.int64), class_axis, array_kwargs)


def _prepare_binary(kwargs: Kwargs, api: str, op: str) -> _Call:
    k = conventions.complete(op, kwargs, "JAX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    conventions.require(target.shape == x.shape, f"{api} takes targets shaped like the logits")
    conventions.require_reduction(k, ("none",), api)
    options: tuple[tuple[str, Any], ...] = ()
    if op == "sigmoid_focal_loss":
        alpha = float(k["alpha"])
        # torchvision: alpha < 0 means "no weighting"; optax spells that alpha=None.
        options = (("alpha", alpha if alpha >= 0 else None), ("gamma", float(k["gamma"])))
    else:
        conventions.require_defaults(op, k, ("weight", "pos_weight"), api)
    return _Call(args=(("logits", x), ("labels", target.astype(x.dtype))), options=options)


def _prepare_kl(kwargs: Kwargs, api: str) -> _Call:
    k = conventions.complete("kl_div", kwargs, "JAX")
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    conventions.require(
        target.shape == x.shape, f"{api} takes targets shaped like the log-predictions"
    )
    conventions.require(
        not k["log_target"],
        f"{api} takes probabilities (optax.kl_divergence_with_log_targets is another function)",
    )
    # optax sums over ``axis``: () keeps every element ("none"), None sums them all ("sum").
    axis = {"none": (), "sum": None}[conventions.require_reduction(k, ("none", "sum"), api)]
    return _Call(
        args=(("log_predictions", x), ("targets", target.astype(x.dtype))),
        options=(("axis", axis),),
    )


# --- the adapter ---------------------------------------------------------------------------


def _device(device: str) -> Any:
    if device == "cpu":
        return jax.devices("cpu")[0]
    if device == "cuda":
        return jax.devices("gpu")[0]
    raise Unsupported(f"JAX entries know devices cpu and cuda, not {device!r}")


def _to_numpy(out: Any) -> np.ndarray:
    return np.asarray(jax.device_get(out))


def _bind_options(
    fn: Callable[..., Any], names: tuple[str, ...], kw_names: tuple[str, ...], options: tuple
) -> Callable[..., Any]:
    """``f(*arrays)``: positional arrays, then keyword arrays, with static options bound."""
    bound = dict(options)

    def invoke(*arrays: Any) -> Any:
        keywords = dict(zip(kw_names, arrays[len(names) :], strict=True))
        return fn(*arrays[: len(names)], **keywords, **bound)

    return invoke


@functools.lru_cache(maxsize=256)
def _jitted(
    fn: Callable[..., Any], names: tuple[str, ...], kw_names: tuple[str, ...], options: tuple
) -> Callable[..., Any]:
    # Cached so that repeated calls with the same options reuse XLA's compilation cache.
    return jax.jit(_bind_options(fn, names, kw_names, options))


def _jvp(f: Callable[..., Any], x: Any, t: Any, *rest: Any) -> Any:
    """``jax.jvp`` of ``f`` in its first argument, the others held fixed."""
    return jax.jvp(lambda logits: f(logits, *rest), (x,), (t,))


@functools.lru_cache(maxsize=256)
def _jitted_jvp(
    fn: Callable[..., Any], names: tuple[str, ...], kw_names: tuple[str, ...], options: tuple
) -> Callable[..., Any]:
    # jax.jit(jax.jvp(f)), as a jitted training step holds it: compiled once per signature
    return jax.jit(functools.partial(_jvp, _bind_options(fn, names, kw_names, options)))


@dataclasses.dataclass(frozen=True)
class _Adapter(adapter.ScriptedReproducers):
    """Turns a prepared :class:`_Call` into forward, vjp, bind and reproducer."""

    fn: Callable[..., Any]
    prepare: Callable[[Kwargs], _Call]
    jit: bool
    #: the public name a reproducer calls (None: import ``fn`` by its module and qualname)
    public: str | None

    def _callable(self, call: _Call) -> Callable[..., Any]:
        names = tuple(name for name, _ in call.args)
        kw_names = tuple(name for name, _ in call.array_kwargs)
        if self.jit:
            return _jitted(self.fn, names, kw_names, call.options)
        return _bind_options(self.fn, names, kw_names, call.options)

    def _place(self, call: _Call, device: str) -> list[Any]:
        target = _device(device)
        arrays = [a for _, a in call.args] + [a for _, a in call.array_kwargs]
        return [jax.device_put(a, target) for a in arrays]

    def forward(self, kwargs: Kwargs, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        return _to_numpy(self._callable(call)(*self._place(call, device)))

    def vjp(self, kwargs: Kwargs, grad_output: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        f = self._callable(call)
        x, *rest = self._place(call, device)
        out, pullback = jax.vjp(lambda logits: f(logits, *rest), x)
        cotangent = np.asarray(grad_output).astype(out.dtype).reshape(out.shape)
        (grad,) = pullback(jax.device_put(cotangent, _device(device)))
        g = _to_numpy(grad)
        return conventions.class_first(g) if call.class_last else g

    def jvp(self, kwargs: Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        call = self.prepare(kwargs)
        x, *rest = self._place(call, device)
        t = np.asarray(tangent).astype(x.dtype)
        t = jax.device_put(conventions.class_last(t) if call.class_last else t, _device(device))
        names = tuple(name for name, _ in call.args)
        kw_names = tuple(name for name, _ in call.array_kwargs)
        if self.jit:
            step = _jitted_jvp(self.fn, names, kw_names, call.options)
        else:
            step = functools.partial(_jvp, _bind_options(self.fn, names, kw_names, call.options))
        _, out = adapter.forward_mode(lambda: step(x, t, *rest), "jax.jvp")
        return _to_numpy(out)

    def bind(self, kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        call = self.prepare(kwargs)
        f = self._callable(call)
        x, *rest = self._place(call, device)
        if backward:

            def grad_of(logits: Any, *others: Any) -> Any:
                out, pullback = jax.vjp(lambda v: f(v, *others), logits)
                return pullback(jnp.ones_like(out))[0]

            step = jax.jit(grad_of) if self.jit else grad_of
        else:
            step = f

        def run() -> Any:
            return step(x, *rest).block_until_ready()

        run()  # compile (jit) and warm up outside the timed region
        return run

    def _script(self, request: adapter.ScriptRequest) -> str:
        """The forward call; with ``grad_output`` its vector-Jacobian product through
        ``jax.vjp`` (printed in the reference's layout, class axis 1); with ``tangent`` its
        Jacobian-vector product through ``jax.jvp`` (under ``jax.jit`` for a jitted entry, as
        :meth:`jvp` computes it), printed in the layout of the output."""
        kwargs, device, grad_output, tangent = request
        call = self.prepare(kwargs)
        imports, source = adapter.script_name(self.fn, self.public, _public_imports)
        arrays = list(call.args) + list(call.array_kwargs)
        platform = "gpu" if device == "cuda" else "cpu"
        setup = f'device = jax.devices("{platform}")[0]\n' + "".join(
            f"{name} = jax.device_put({array_literal(a)}, device)\n" for name, a in arrays
        )
        options = ", ".join(f"{key}={value!r}" for key, value in call.options)
        positional = [name for name, _ in call.args]
        keywords = [f"{name}={name}" for name, _ in call.array_kwargs]
        if self.jit:
            # the options are static Python values: bind them before tracing, as users do
            fn = (
                f"jax.jit(functools.partial({source}, {options}))"
                if options
                else f"jax.jit({source})"
            )
            parts = positional + keywords
        else:
            fn = source
            parts = positional + keywords + ([options] if options else [])
        body = f"out = {fn}({', '.join(parts)})\n"
        values = "np.asarray(out)"
        literals = [a for _, a in arrays]
        what = f"{self.public or source} on {device}{' under jax.jit' if self.jit else ''}"
        if grad_output is not None:
            first = positional[0]
            rest = ", ".join(parts[1:])
            setup += f"grad_output = {array_literal(grad_output)}\n"
            body = (
                f"out, pullback = jax.vjp(lambda {first}: {fn}({first}"
                f"{', ' + rest if rest else ''}), {first})\n"
                "(grad,) = pullback(jax.device_put(grad_output.astype(out.dtype)"
                ".reshape(out.shape), device))\n"
            )
            values = (
                "np.moveaxis(np.asarray(grad), -1, 1)" if call.class_last else "np.asarray(grad)"
            )
            literals.append(grad_output)
            what = f"gradient of {what}"
        if tangent is not None:
            first = positional[0]
            rest = ", ".join(parts[1:])
            x = np.asarray(call.args[0][1])
            t = np.asarray(tangent).astype(x.dtype)
            t = conventions.class_last(t) if call.class_last else t
            setup += f"tangent = jax.device_put({array_literal(t)}, device)\n"
            step = (
                f"jax.jvp(lambda {first}: {fn}({first}{', ' + rest if rest else ''}), "
                f"({first},), (tangent,))"
            )
            if self.jit:  # jax.jit(jax.jvp(f)), as the entry's jvp runs it
                step = f"jax.jit(lambda {first}, tangent: {step})({first}, tangent)"
            body = f"_, out = {step}\n"
            values = "np.asarray(out)"
            literals.append(t)
            what = f"forward-mode derivative (jax.jvp) of {what}"
        return conventions.reproducer_script(
            title=what,
            imports=[
                *(["import functools"] if self.jit else []),
                "import jax",
                'jax.config.update("jax_enable_x64", True)  # float64 needs x64 mode',
                *imports_for(literals),
                *imports,
            ],
            setup=setup,
            call=body,
            values=values,
        )


def _public_imports(public: str) -> list[str]:
    """Import lines a reproducer needs to call the public name ``public``."""
    if public.startswith("jax.scipy."):
        return ["import jax.scipy.special"]
    package = public.split(".", 1)[0]
    return [] if package == "jax" else [f"import {package}"]


#: the jax.jit code path of every API
JIT = adapter.Mode("jit", compiled=True)


class _Jax:
    """The JAX half of the registry skeleton (:class:`~verify.registry.adapter.Framework`)."""

    key: str = FRAMEWORK
    dtypes: tuple[str, ...] = _DTYPES
    devices: tuple[str, ...] = _DEVICES

    def resolve(self, api: str) -> Callable[..., Any]:
        root, _, rest = api.partition(".")
        return adapter.attribute_path({"jax": jax, "optax": optax}[root], rest)

    def docs(self, api: str) -> str:
        if api.startswith("optax."):
            return f"{_OPTAX_DOCS}#optax.losses.{api.removeprefix('optax.')}"
        return f"https://docs.jax.dev/en/latest/_autosummary/{api}.html"

    def functions(
        self, spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
    ) -> adapter.EntryFunctions:
        return adapter.EntryFunctions.of(
            _Adapter(fn=fn, prepare=spec.prepare, jit=mode == JIT, public=public)
        )


# --- entry table -----------------------------------------------------------------------------


def _minus_inf_where_target_zero(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs.get("input"), dtype=np.float64)
    target = np.asarray(kwargs.get("target"), dtype=np.float64)
    return bool(np.any(np.isneginf(x) & (target == 0)))


def _zero_target(kwargs: Kwargs) -> bool:
    return bool(np.any(np.asarray(kwargs.get("target"), dtype=np.float64) == 0))


_SOFTMAX_CAPS = Capabilities(reductions=("none",), target=None, axis=True, kdim=True)
_PROBS_CAPS = Capabilities(reductions=("none",), target="probs", kdim=True)


def _softmax_family(name: str, op: str, arg_name: str) -> adapter.ApiSpec:
    prepare = functools.partial(_prepare_softmax_family, op=op, arg_name=arg_name)
    return adapter.ApiSpec(name, op, prepare, _SOFTMAX_CAPS)


def _cross_entropy(
    name: str,
    prepare: Callable[..., _Call],
    capabilities: Capabilities,
    deviations: tuple[Deviation, ...] = (),
) -> adapter.ApiSpec:
    """An optax cross-entropy row; a name ending in :data:`AXIS_1` keeps the reference's class
    axis and passes ``axis=1``."""
    class_axis = 1 if name.endswith(AXIS_1) else None
    bound = functools.partial(prepare, api=name.split("[", 1)[0], class_axis=class_axis)
    variant = AXIS_1_VARIANT if class_axis else ""
    return adapter.ApiSpec(
        name, "cross_entropy", bound, capabilities, deviations=deviations, variant=variant
    )


def _probs_ce(name: str, deviations: tuple[Deviation, ...] = ()) -> adapter.ApiSpec:
    return _cross_entropy(name, _prepare_probs_ce, _PROBS_CAPS, deviations)


_SOFTMAX_CE_DEVIATION = Deviation(
    "optax documents that softmax_cross_entropy differs from "
    "safe_softmax_cross_entropy in how logits=-inf are handled: a -inf logit with a "
    "zero label gives 0 * -inf = NaN instead of 0 (0 log 0 = 0); reported upstream "
    "as https://github.com/google-deepmind/optax/issues/896",
    f"{_OPTAX_DOCS}#optax.losses.safe_softmax_cross_entropy",
    applies=_minus_inf_where_target_zero,
)
_INTEGER_CE_CAPS = Capabilities(reductions=("none",), target="index", ignore_index=True, kdim=True)


def _integer_ce(name: str) -> adapter.ApiSpec:
    return _cross_entropy(name, _prepare_integer_ce, _INTEGER_CE_CAPS)


_SPECS: tuple[adapter.ApiSpec, ...] = (
    _softmax_family("jax.nn.softmax", "softmax", "x"),
    _softmax_family("jax.nn.log_softmax", "log_softmax", "x"),
    _softmax_family("jax.nn.logsumexp", "logsumexp", "a"),
    _softmax_family("jax.scipy.special.logsumexp", "logsumexp", "a"),
    _probs_ce("optax.softmax_cross_entropy", deviations=(_SOFTMAX_CE_DEVIATION,)),
    _integer_ce("optax.softmax_cross_entropy_with_integer_labels"),
    _probs_ce("optax.safe_softmax_cross_entropy"),
    adapter.ApiSpec(
        "optax.sigmoid_binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        functools.partial(
            _prepare_binary,
            api="optax.sigmoid_binary_cross_entropy",
            op="binary_cross_entropy_with_logits",
        ),
        Capabilities(reductions=("none",), target="binary", kdim=True),
    ),
    adapter.ApiSpec(
        "optax.sigmoid_focal_loss",
        "sigmoid_focal_loss",
        functools.partial(_prepare_binary, api="optax.sigmoid_focal_loss", op="sigmoid_focal_loss"),
        Capabilities(reductions=("none",), target="binary", kdim=True, extra=("alpha", "gamma")),
    ),
    adapter.ApiSpec(
        "optax.kl_divergence",
        "kl_div",
        functools.partial(_prepare_kl, api="optax.kl_divergence"),
        Capabilities(reductions=("none", "sum"), target="probs", kdim=True),
        deviations=(
            Deviation(
                "optax documents targets as 'expected to be strictly positive'; where a target "
                "is 0 and the log-prediction is -inf it computes 0 * inf = NaN, not 0",
                f"{_OPTAX_DOCS}#optax.losses.kl_divergence",
                applies=_zero_target,
            ),
        ),
    ),
    _probs_ce("optax.softmax_cross_entropy" + AXIS_1, deviations=(_SOFTMAX_CE_DEVIATION,)),
    _integer_ce("optax.softmax_cross_entropy_with_integer_labels" + AXIS_1),
)

#: every API, plain and under jax.jit
REGISTRY = adapter.Registry(_Jax(), _SPECS, modes=(adapter.PLAIN, JIT))

#: public name -> factory wrapping a user's callable exactly as the registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[Implementation]:
    """Every JAX/optax entry, plain and jitted."""
    return REGISTRY.implementations()
