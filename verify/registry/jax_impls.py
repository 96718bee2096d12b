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

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402  (x64 must be enabled before first use)
import jax.scipy.special  # noqa: E402
import optax  # noqa: E402

from verify.ops import DEVICES as _DEVICES  # noqa: E402
from verify.ops import DTYPES as _DTYPES  # noqa: E402
from verify.registry.base import (  # noqa: E402
    Capabilities,
    Deviation,
    Implementation,
    KnownIssue,
    Kwargs,
    Unsupported,
)
from verify.registry.conventions import (  # noqa: E402
    callable_reference,
    primary_name,
    reproducer_script,
    require_defaults,
    require_reduction,
    with_defaults,
)
from verify.reproducer_literals import array_literal, imports_for  # noqa: E402

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


def _complete(op: str, kwargs: Kwargs) -> dict[str, Any]:
    """The reference kwargs with defaults filled in; ``out_dtype`` other than the input's
    dtype is Unsupported (JAX returns the input's dtype)."""
    given = dict(kwargs)
    out_dtype = given.pop("out_dtype", None)
    full = with_defaults(op, given)
    first = np.asarray(full[primary_name(op)])
    if out_dtype is not None and np.dtype(out_dtype) != first.dtype:
        raise Unsupported("JAX returns the input's dtype; out_dtype cannot be chosen")
    return full


def _class_last(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, 1, -1) if a.ndim >= 2 else a


def _class_first(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, -1, 1) if a.ndim >= 2 else a


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Unsupported(reason)


# --- preparers: reference kwargs -> _Call ---------------------------------------------------


def _prepare_softmax_family(kwargs: Kwargs, op: str, arg_name: str) -> _Call:
    k = _complete(op, kwargs)
    return _Call(args=((arg_name, np.asarray(k["x"])),), options=(("axis", int(k["axis"])),))


def _prepare_probs_ce(kwargs: Kwargs, api: str) -> _Call:
    k = _complete("cross_entropy", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(target.shape == x.shape, f"{api} takes probability targets shaped like the logits")
    _require(x.ndim >= 2, f"{api} needs a class axis")
    require_reduction(k, ("none",), api)
    require_defaults("cross_entropy", k, ("weight", "label_smoothing"), api)
    return _Call(
        args=(("logits", _class_last(x)), ("labels", _class_last(target).astype(x.dtype))),
        class_last=True,
    )


def _prepare_integer_ce(kwargs: Kwargs, api: str) -> _Call:
    k = _complete("cross_entropy", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(np.issubdtype(target.dtype, np.integer), f"{api} takes integer class indices")
    _require(x.ndim >= 2, f"{api} needs a class axis")
    require_reduction(k, ("none",), api)
    require_defaults("cross_entropy", k, ("weight", "label_smoothing"), api)
    ignored = target == int(k["ignore_index"])
    array_kwargs: tuple[tuple[str, np.ndarray], ...] = ()
    if ignored.any():
        # optax's documented mask: rows with where=False return 0; their labels must still be
        # valid indices, so the adapter writes 0 there (what a user with padding does).
        array_kwargs = (("where", ~ignored),)
        target = np.where(ignored, 0, target)
    return _Call(
        args=(("logits", _class_last(x)), ("labels", target.astype(np.int64))),
        array_kwargs=array_kwargs,
        class_last=True,
    )


def _prepare_binary(kwargs: Kwargs, api: str, op: str) -> _Call:
    k = _complete(op, kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(target.shape == x.shape, f"{api} takes targets shaped like the logits")
    require_reduction(k, ("none",), api)
    options: tuple[tuple[str, Any], ...] = ()
    if op == "sigmoid_focal_loss":
        alpha = float(k["alpha"])
        # torchvision: alpha < 0 means "no weighting"; optax spells that alpha=None.
        options = (("alpha", alpha if alpha >= 0 else None), ("gamma", float(k["gamma"])))
    else:
        require_defaults(op, k, ("weight", "pos_weight"), api)
    return _Call(args=(("logits", x), ("labels", target.astype(x.dtype))), options=options)


def _prepare_kl(kwargs: Kwargs, api: str) -> _Call:
    k = _complete("kl_div", kwargs)
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    _require(target.shape == x.shape, f"{api} takes targets shaped like the log-predictions")
    _require(
        not k["log_target"],
        f"{api} takes probabilities (optax.kl_divergence_with_log_targets is another function)",
    )
    # optax sums over ``axis``: () keeps every element ("none"), None sums them all ("sum").
    axis = {"none": (), "sum": None}[require_reduction(k, ("none", "sum"), api)]
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


@dataclasses.dataclass(frozen=True)
class _Adapter:
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
        return _class_first(g) if call.class_last else g

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

    def reproducer(self, kwargs: Kwargs, device: str) -> str:
        call = self.prepare(kwargs)
        imports, source = _name_in_script(self.fn, self.public)
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
        return reproducer_script(
            title=f"{self.public or source} on {device}{' under jax.jit' if self.jit else ''}",
            imports=[
                *(["import functools"] if self.jit else []),
                "import jax",
                'jax.config.update("jax_enable_x64", True)  # float64 needs x64 mode',
                *imports_for([a for _, a in arrays]),
                *imports,
            ],
            setup=setup,
            call=f"out = {fn}({', '.join(parts)})\n",
            values="np.asarray(out)",
        )


def _name_in_script(fn: Callable[..., Any], public: str | None) -> tuple[list[str], str]:
    """Import lines and the expression that call ``fn`` in a reproducer: the public name for
    registered APIs, the user's module otherwise."""
    if public is None:
        try:
            return callable_reference(fn)
        except ValueError as error:
            raise Unsupported(str(error)) from error
    if public.startswith("jax.scipy."):
        return ["import jax.scipy.special"], public
    package = public.split(".", 1)[0]
    return ([] if package == "jax" else [f"import {package}"]), public


# --- entry table -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    op: str
    prepare: Callable[[Kwargs], _Call]
    capabilities: Capabilities
    docs: str
    deviations: tuple[Deviation, ...] = ()
    known_issues: tuple[KnownIssue, ...] = ()


def _minus_inf_where_target_zero(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs.get("input"), dtype=np.float64)
    target = np.asarray(kwargs.get("target"), dtype=np.float64)
    return bool(np.any(np.isneginf(x) & (target == 0)))


def _zero_target(kwargs: Kwargs) -> bool:
    return bool(np.any(np.asarray(kwargs.get("target"), dtype=np.float64) == 0))


_SOFTMAX_CAPS = Capabilities(reductions=("none",), target=None, axis=True, kdim=True)
_PROBS_CAPS = Capabilities(reductions=("none",), target="probs", kdim=True)

_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "jax.nn.softmax",
        "softmax",
        functools.partial(_prepare_softmax_family, op="softmax", arg_name="x"),
        _SOFTMAX_CAPS,
        "https://docs.jax.dev/en/latest/_autosummary/jax.nn.softmax.html",
    ),
    _Spec(
        "jax.nn.log_softmax",
        "log_softmax",
        functools.partial(_prepare_softmax_family, op="log_softmax", arg_name="x"),
        _SOFTMAX_CAPS,
        "https://docs.jax.dev/en/latest/_autosummary/jax.nn.log_softmax.html",
    ),
    _Spec(
        "jax.nn.logsumexp",
        "logsumexp",
        functools.partial(_prepare_softmax_family, op="logsumexp", arg_name="a"),
        _SOFTMAX_CAPS,
        "https://docs.jax.dev/en/latest/_autosummary/jax.nn.logsumexp.html",
    ),
    _Spec(
        "jax.scipy.special.logsumexp",
        "logsumexp",
        functools.partial(_prepare_softmax_family, op="logsumexp", arg_name="a"),
        _SOFTMAX_CAPS,
        "https://docs.jax.dev/en/latest/_autosummary/jax.scipy.special.logsumexp.html",
    ),
    _Spec(
        "optax.softmax_cross_entropy",
        "cross_entropy",
        functools.partial(_prepare_probs_ce, api="optax.softmax_cross_entropy"),
        _PROBS_CAPS,
        f"{_OPTAX_DOCS}#optax.losses.softmax_cross_entropy",
        deviations=(
            Deviation(
                "optax documents that softmax_cross_entropy differs from "
                "safe_softmax_cross_entropy in how logits=-inf are handled: a -inf logit with a "
                "zero label gives 0 * -inf = NaN instead of 0 (0 log 0 = 0); reported upstream "
                "as https://github.com/google-deepmind/optax/issues/896",
                f"{_OPTAX_DOCS}#optax.losses.safe_softmax_cross_entropy",
                applies=_minus_inf_where_target_zero,
            ),
        ),
    ),
    _Spec(
        "optax.softmax_cross_entropy_with_integer_labels",
        "cross_entropy",
        functools.partial(
            _prepare_integer_ce, api="optax.softmax_cross_entropy_with_integer_labels"
        ),
        Capabilities(reductions=("none",), target="index", ignore_index=True, kdim=True),
        f"{_OPTAX_DOCS}#optax.losses.softmax_cross_entropy_with_integer_labels",
    ),
    _Spec(
        "optax.safe_softmax_cross_entropy",
        "cross_entropy",
        functools.partial(_prepare_probs_ce, api="optax.safe_softmax_cross_entropy"),
        _PROBS_CAPS,
        f"{_OPTAX_DOCS}#optax.losses.safe_softmax_cross_entropy",
    ),
    _Spec(
        "optax.sigmoid_binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        functools.partial(
            _prepare_binary,
            api="optax.sigmoid_binary_cross_entropy",
            op="binary_cross_entropy_with_logits",
        ),
        Capabilities(reductions=("none",), target="binary", kdim=True),
        f"{_OPTAX_DOCS}#optax.losses.sigmoid_binary_cross_entropy",
    ),
    _Spec(
        "optax.sigmoid_focal_loss",
        "sigmoid_focal_loss",
        functools.partial(_prepare_binary, api="optax.sigmoid_focal_loss", op="sigmoid_focal_loss"),
        Capabilities(reductions=("none",), target="binary", kdim=True, extra=("alpha", "gamma")),
        f"{_OPTAX_DOCS}#optax.losses.sigmoid_focal_loss",
    ),
    _Spec(
        "optax.kl_divergence",
        "kl_div",
        functools.partial(_prepare_kl, api="optax.kl_divergence"),
        Capabilities(reductions=("none", "sum"), target="probs", kdim=True),
        f"{_OPTAX_DOCS}#optax.losses.kl_divergence",
        deviations=(
            Deviation(
                "optax documents targets as 'expected to be strictly positive'; where a target "
                "is 0 and the log-prediction is -inf it computes 0 * inf = NaN, not 0",
                f"{_OPTAX_DOCS}#optax.losses.kl_divergence",
                applies=_zero_target,
            ),
        ),
    ),
)


def _resolve(name: str) -> Callable[..., Any]:
    obj: Any = {"jax": jax, "optax": optax}[name.split(".", 1)[0]]
    for part in name.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _build(spec: _Spec, fn: Callable[..., Any], *, jit: bool, public: bool) -> Implementation:
    adapter = _Adapter(fn=fn, prepare=spec.prepare, jit=jit, public=spec.name if public else None)
    return Implementation(
        name=f"{spec.name}[jit]" if jit else spec.name,
        framework=FRAMEWORK,
        op=spec.op,
        forward=adapter.forward,
        capabilities=spec.capabilities,
        dtypes=_DTYPES,
        devices=_DEVICES,
        vjp=adapter.vjp,
        bind=adapter.bind,
        reproducer=adapter.reproducer,
        deviations=spec.deviations,
        known_issues=spec.known_issues,
        docs=spec.docs,
        variant="jit" if jit else "",
    )


def _factory(spec: _Spec, *, jit: bool) -> Callable[[Callable[..., Any]], Implementation]:
    def factory(fn: Callable[..., Any]) -> Implementation:
        return _build(spec, fn, jit=jit, public=False)

    factory.__doc__ = f"Build the {spec.name}{'[jit]' if jit else ''} entry around ``fn``."
    return factory


#: public name -> factory wrapping a user's callable exactly as the registered entry is wrapped
FACTORIES: dict[str, Callable[[Callable[..., Any]], Implementation]] = {
    f"{spec.name}{suffix}": _factory(spec, jit=bool(suffix))
    for spec in _SPECS
    for suffix in ("", "[jit]")
}


def implementations() -> list[Implementation]:
    """Every JAX/optax entry, plain and jitted."""
    return [
        _build(spec, _resolve(spec.name), jit=jit, public=True)
        for spec in _SPECS
        for jit in (False, True)
    ]
