"""PyTorch entries: ``torch.nn.functional`` losses, softmax family, ``torch.logsumexp`` and
``torch.nn.CrossEntropyLoss`` as a module.

The reference's conventions *are* PyTorch's (class axis 1, index targets or probability targets
shaped like the input, ``ignore_index``, ``label_smoothing``, the reductions), so every adapter
passes the reference's options through under PyTorch's own names.  Arrays become tensors with
``torch.from_numpy`` (bfloat16 goes through float32, which holds every bfloat16 value exactly)
on the requested device; results come back with ``.cpu()`` and an exact conversion to the input's
NumPy dtype.  Gradients are ``torch.autograd.grad`` with respect to ``input`` (for
``linear_cross_entropy``: ``input``, ``linear_weight`` and ``linear_bias``, as
``reference.linear_cross_entropy_grad`` returns them); forward-mode derivatives are
``torch.func.jvp`` with respect to ``input`` (``x``).

Every float16/bfloat16/float32/float64 CPU kernel used here exists in the installed PyTorch
(checked forward and backward); a kernel that a build lacks ("... not implemented for 'Half'")
is reported as :class:`~verify.registry.base.Unsupported` with PyTorch's message.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from verify.judge.severity import WRONG_VALUE
from verify.ops import DEVICES
from verify.registry import adapter, conventions
from verify.registry.base import (
    Capabilities,
    Deviation,
    Implementation,
    KnownIssue,
    Kwargs,
    Unsupported,
)
from verify.reproducer_literals import imports_for, value_literal

FRAMEWORK = "torch"
DOCS = "https://docs.pytorch.org/docs/stable/generated/"

_TORCH_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
}

#: CUDA checks class indices with a device-side assert, which leaves the CUDA context unusable
#: for the rest of the process (https://github.com/pytorch/pytorch/issues/1328); out-of-range
#: targets are therefore only sent to the CPU.
CUDA_ASSERT_ISSUE = "https://github.com/pytorch/pytorch/issues/1328"


def _four_d_non_contiguous(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs.get("input"))
    return x.ndim == 4 and not x.flags.c_contiguous


#: nll_loss on (N, C, H, W) dispatches to nll_loss2d without making the input contiguous, and
#: nll_loss2d's backward refuses the strided grad_input it then allocates (fixed upstream in
#: pytorch/pytorch#175246, not in this release)
NLL_LOSS_2D_NONCONTIGUOUS = KnownIssue(
    "nll_loss's backward raises 'grad_input must be contiguous' for a non-contiguous 4-D "
    "input (a class axis moved with permute/movedim)",
    "https://github.com/pytorch/pytorch/issues/175084",
    applies=_four_d_non_contiguous,
    # the raise is what the gradient check reports; an inaccuracy, or a failure of another
    # check, on such an input stays unregistered
    checks=("gradient",),
    severities=(WRONG_VALUE,),
)


#: torch.func.jvp's messages for a function it cannot transform, so that no forward mode is
#: offered for it (a missing forward-AD formula of a built-in op is a NotImplementedError): an
#: autograd.Function written for the old API (no ``setup_context``), and a function that
#: leaves PyTorch (NumPy on the input's data);
#: https://docs.pytorch.org/docs/stable/notes/extending.func.html
FORWARD_MODE_MISSING = (
    "must override the setup_context staticmethod",
    "Cannot access data pointer of Tensor that doesn't have storage",
)


#: under torch.func.jvp, Dynamo breaks the graph ("attempted to apply meta conversion to view
#: functorch tensor ... not supported") and runs the function eagerly, so the compiled code
#: path has no forward mode of its own to judge
COMPILED_NO_FORWARD_MODE = (
    "torch.func.jvp of a torch.compile'd function falls back to eager (a Dynamo graph break on "
    "functorch tensors), so the compiled code has no forward mode to judge"
)


# --- tensors --------------------------------------------------------------------------------


def to_tensor(array: np.ndarray, device: str) -> torch.Tensor:
    """A copy of ``array`` as a tensor on ``device`` (bfloat16 via float32, exactly)."""
    array = np.asarray(array)
    if array.dtype == conventions.BFLOAT16:
        tensor = torch.from_numpy(array.astype(np.float32)).to(torch.bfloat16)
    else:
        tensor = torch.from_numpy(np.array(array, copy=True))
    return tensor.to(device)


def memory_order(array: np.ndarray) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """``array``'s elements in memory order, and the ``permute`` that gives that contiguous
    array ``array``'s shape and strides back (None: ``array`` is C-contiguous, or not a
    permutation of a contiguous block).  :func:`to_tensor` keeps a NumPy view's layout (a
    strategy's class axis moved with ``np.moveaxis`` is a transposed view), so a tensor can be
    non-contiguous, and a reproducer must rebuild that layout to reproduce what it does."""
    array = np.asarray(array)
    strides = array.strides
    if array.ndim < 2 or array.flags.c_contiguous or min(strides, default=1) <= 0:
        return array, None
    order = tuple(int(i) for i in np.argsort([-s for s in strides], kind="stable"))
    base = np.ascontiguousarray(np.transpose(array, order))
    if np.transpose(base, np.argsort(order)).strides != strides:
        return array, None
    return base, tuple(int(i) for i in np.argsort(order))


def to_numpy(tensor: torch.Tensor, dtype: np.dtype[Any]) -> np.ndarray:
    """``tensor`` on the CPU as a NumPy array of ``dtype`` (an exact conversion)."""
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.to(torch.float32)
    return conventions.as_result(tensor.numpy(), dtype)


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# --- one call, as data ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Tensor:
    """A reference to the tensor called ``name`` in a :class:`_Call`."""

    name: str


@dataclasses.dataclass(frozen=True)
class _Source:
    """A keyword value given as source text (e.g. an options object)."""

    source: str
    value: Any


@dataclasses.dataclass
class _Call:
    """One API call: which arrays become tensors and how they are passed.

    ``ctor`` is set for module-form APIs: ``fn(**ctor)(*args, **kwargs)``.
    """

    arrays: dict[str, np.ndarray]
    args: tuple[str, ...]
    kwargs: dict[str, Any]
    #: the tensors gradients are taken with respect to (first: the reference's first argument)
    wrt: tuple[str, ...]
    ctor: dict[str, Any] | None = None
    dtype: np.dtype[Any] = dataclasses.field(default_factory=lambda: np.dtype(np.float64))

    def invoke(self, fn: Callable[..., Any], tensors: Mapping[str, torch.Tensor]) -> Any:
        def resolve(value: Any) -> Any:
            if isinstance(value, _Tensor):
                return tensors[value.name]
            if isinstance(value, _Source):
                return value.value
            return value

        args = [tensors[name] for name in self.args]
        kwargs = {k: resolve(v) for k, v in self.kwargs.items()}
        # PyTorch's own API warnings (kl_div's reduction="mean" notice) are not results; a
        # chunked linear_cross_entropy that silently falls back to the reference path would
        # mean a wrong capability declaration here, so that one is an error.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if self.ctor is not None:
                    out = fn(**{k: resolve(v) for k, v in self.ctor.items()})(*args, **kwargs)
                else:
                    out = fn(*args, **kwargs)
            except RuntimeError as error:
                if "not implemented for" in str(error):
                    raise Unsupported(" ".join(str(error).split())) from error
                raise
        for warning in caught:
            if "options`` ignored" in str(warning.message):
                raise AssertionError(f"chunked path not taken: {warning.message}")
        return out

    def source(self, expression: str) -> str:
        def render(value: Any) -> str:
            if isinstance(value, _Tensor):
                return value.name
            if isinstance(value, _Source):
                return value.source
            return value_literal(value)

        kwargs = [f"{k}={render(v)}" for k, v in self.kwargs.items()]
        call_args = ", ".join([*self.args, *kwargs])
        if self.ctor is not None:
            ctor = ", ".join(f"{k}={render(v)}" for k, v in self.ctor.items())
            return f"module = {expression}({ctor})\nout = module({call_args})\n"
        return f"out = {expression}({call_args})\n"


# --- argument translation -------------------------------------------------------------------


def _same_dtype(name: str, array: Any, dtype: np.dtype[Any], api: str) -> np.ndarray:
    """A float auxiliary array in the input's dtype, which PyTorch requires; only an exact
    conversion is made, anything else is Unsupported."""
    array = np.asarray(array)
    if array.dtype == dtype:
        return array
    converted = array.astype(dtype)
    back = converted.astype(array.dtype)
    if not np.array_equal(back, array, equal_nan=True):
        raise Unsupported(
            f"{api} needs {name} in the input's dtype {dtype.name}; {array.dtype.name} values "
            "do not convert exactly"
        )
    return converted


def _index_target(args: Mapping[str, Any]) -> np.ndarray:
    return np.asarray(args["target"]).astype(np.int64)


def _out_of_range(args: Mapping[str, Any], classes: int) -> bool:
    target = _index_target(args)
    ignore = int(args.get("ignore_index", -100))
    valid = (target == ignore) | ((target >= 0) & (target < classes))
    return not bool(np.all(valid))


def _loss_call(
    args: Mapping[str, Any],
    api: str,
    *,
    target: str,
    options: tuple[str, ...],
    extra_kwargs: Mapping[str, Any] | None = None,
) -> _Call:
    """The call ``api(input, target, **options)`` for a reference loss (options in PyTorch's
    names, which are the reference's)."""
    x = np.asarray(args["input"])
    arrays: dict[str, np.ndarray] = {"input": x}
    if target == "index":
        arrays["target"] = _index_target(args)
    else:
        arrays["target"] = _same_dtype("target", args["target"], x.dtype, api)
    kwargs: dict[str, Any] = {}
    for name in options:
        value = args[name]
        if isinstance(value, np.ndarray):
            arrays[name] = _same_dtype(name, value, x.dtype, api)
            kwargs[name] = _Tensor(name)
        elif value is not None:
            kwargs[name] = value
    kwargs.update(extra_kwargs or {})
    return _Call(arrays, ("input", "target"), kwargs, ("input",), dtype=x.dtype)


# --- torch.compile -------------------------------------------------------------------------

#: the torch.compile code path (inductor, dynamic shapes) of the APIs listed with it
COMPILED = adapter.Mode("compiled", compiled=True)

# A compiled function past Dynamo's recompile limit silently runs eagerly, which would report
# eager results under a [compiled] name: allow more variants (dtypes, ranks, options) and make
# hitting the limit an error instead.  A process that has compiled many entries reaches it
# too (in a default run, after the two cross_entropy[compiled] entries had compiled 151
# signatures, the next four [compiled] entries of that worker hit it at their first call and
# were not run), so the entry then starts Dynamo afresh
# (:func:`_reset_dynamo`) and compiles again, and only a case that reaches the limit alone is
# not run.
torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT = 256
torch._dynamo.config.fail_on_recompile_limit_hit = True

#: how many times this process has reset Dynamo's caches (:func:`_reset_dynamo`); a signature
#: compiled before a reset compiles again after it
_dynamo_generation = 0


def _reset_dynamo() -> None:
    """Clear Dynamo's in-process caches (not inductor's on disk, so the compiled kernels of
    the variants seen before load again without being rebuilt)."""
    global _dynamo_generation
    torch._dynamo.reset()
    _dynamo_generation += 1


RECOMPILE_LIMIT_DOCS = (
    "https://docs.pytorch.org/docs/stable/torch.compiler_troubleshooting.html"
    "#changing-the-cache-size-limit"
)

_COMPILERS = ("g++", "c++", "clang++")


@functools.cache
def _cpp_compiler() -> str | None:
    """The C++ compiler inductor's CPU backend would use, or None."""
    wanted = os.environ.get("CXX")
    for name in ((wanted,) if wanted else ()) + _COMPILERS:
        if shutil.which(name):
            return name
    return None


@functools.cache
def _compiled_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` under ``torch.compile`` (inductor), once per process: every later draw reuses
    the compiled code.  ``dynamic=True`` keeps new shapes from recompiling, and Python floats
    and ints (``label_smoothing``, ``ignore_index``) are symbolic too (Dynamo's
    ``specialize_float``/``specialize_int`` are off); Dynamo guards on strings and booleans
    (``reduction``, ``log_target``), so each of their values compiles once."""
    return torch.compile(fn, backend="inductor", dynamic=True)


class _Compiled:
    """``fn`` called through :func:`_compiled_function`.  The first call of each signature
    (string and boolean options, tensor dtypes, ranks, devices, grad mode: what Dynamo guards
    on) is where inductor compiles; its wall time, which includes that one run, is summed
    into ``seconds``."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.signatures: set[tuple[Any, ...]] = set()
        #: Dynamo resets this entry caused (its recompile limit was reached)
        self.resets = 0

    def require_compiler(self, device: str) -> None:
        if device == "cpu" and _cpp_compiler() is None:
            raise Unsupported(
                "torch.compile (inductor) on the CPU needs a C++ compiler; none of "
                f"{', '.join(_COMPILERS)} (or $CXX) is on PATH"
            )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        guarded = tuple(sorted((k, v) for k, v in kwargs.items() if isinstance(v, str | bool)))
        every = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        tensors = tuple((t.dtype, t.dim(), t.device.type, t.requires_grad) for t in every)
        signature = (guarded, tensors, torch.is_grad_enabled(), _dynamo_generation)
        first = signature not in self.signatures
        started = time.perf_counter()
        try:
            out = _compiled_function(self.fn)(*args, **kwargs)
        except torch._dynamo.exc.FailOnRecompileLimitHit:
            # what this process compiled before (other entries' variants too) fills the limit:
            # start afresh and compile this signature again
            _reset_dynamo()
            self.resets += 1
            signature, first = (*signature[:3], _dynamo_generation), True
            started = time.perf_counter()
            try:
                out = _compiled_function(self.fn)(*args, **kwargs)
            except torch._dynamo.exc.FailOnRecompileLimitHit as error:
                # a limit of this harness, not a result of the API: skip rather than fail
                raise Unsupported(
                    f"torch.compile reached Dynamo's recompile limit ({RECOMPILE_LIMIT} variants"
                    " of this function) in a fresh Dynamo; the case is not run rather than run "
                    f"eagerly ({RECOMPILE_LIMIT_DOCS})"
                ) from error
        if first:
            self.seconds += time.perf_counter() - started
            self.signatures.add(signature)
        return out

    def result_extra(self) -> dict[str, Any]:
        return {
            "compile_s": round(self.seconds, 3),
            "compiled_signatures": len(self.signatures),
            "dynamo_resets": self.resets,
        }


# --- the entry builder ----------------------------------------------------------------------


def _entry_functions(
    spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
) -> adapter.EntryFunctions:
    """Forward, vjp, bind and reproducers of ``spec`` calling ``fn`` (see the module doc),
    through ``torch.compile`` when ``mode`` is :data:`COMPILED`."""
    op = spec.op
    compiled = _Compiled(fn) if mode == COMPILED else None
    runner: Callable[..., Any] = fn if compiled is None else compiled
    #: index-target entries refuse out-of-range targets on CUDA (see CUDA_ASSERT_ISSUE)
    index_target = spec.capabilities.target == "index"

    def prepare(kwargs: Kwargs, device: str) -> _Call:
        args = conventions.with_defaults(op, kwargs)
        if index_target and device != "cpu":
            x = np.asarray(args["input"])
            classes = x.shape[1] if op != "linear_cross_entropy" else args["linear_weight"].shape[0]
            if _out_of_range(args, classes):
                raise Unsupported(
                    "class indices outside [0, C) are not sent to CUDA: PyTorch checks them "
                    "with a device-side assert that leaves the CUDA context unusable "
                    f"({CUDA_ASSERT_ISSUE})"
                )
        if compiled is not None:
            compiled.require_compiler(device)
        return spec.prepare(args)

    def tensors_for(call: _Call, device: str, grad: bool) -> dict[str, torch.Tensor]:
        tensors = {name: to_tensor(a, device) for name, a in call.arrays.items()}
        if grad:
            for name in call.wrt:
                tensors[name].requires_grad_(True)
        return tensors

    def forward(kwargs: Kwargs, device: str) -> np.ndarray:
        call = prepare(kwargs, device)
        tensors = tensors_for(call, device, grad=False)
        with torch.no_grad():
            out = call.invoke(runner, tensors)
        _synchronize(device)
        return to_numpy(out, call.dtype)

    def vjp(kwargs: Kwargs, grad_output: np.ndarray, device: str) -> Any:
        call = prepare(kwargs, device)
        tensors = tensors_for(call, device, grad=True)
        with torch.enable_grad():
            out = call.invoke(runner, tensors)
            g = to_tensor(np.asarray(grad_output), device).to(out.dtype).reshape(out.shape)
            inputs = [tensors[name] for name in call.wrt]
            grads = torch.autograd.grad(out, inputs, g, allow_unused=True)
        _synchronize(device)
        results = tuple(None if grad is None else to_numpy(grad, call.dtype) for grad in grads)
        if op == "linear_cross_entropy":
            # (input, linear_weight, linear_bias) as reference.linear_cross_entropy_grad
            return (*results, None)[:3]
        return results[0]

    def jvp(kwargs: Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        call = prepare(kwargs, device)
        tensors = tensors_for(call, device, grad=False)
        name = call.wrt[0]
        x = tensors[name]
        t = to_tensor(np.asarray(tangent), device).to(x.dtype).reshape(x.shape)

        def along(v: torch.Tensor) -> Any:
            return call.invoke(runner, {**tensors, name: v})

        _, out = adapter.forward_mode(
            lambda: torch.func.jvp(along, (x,), (t,)), "torch.func.jvp", FORWARD_MODE_MISSING
        )
        _synchronize(device)
        return to_numpy(out, call.dtype)

    def bind(kwargs: Kwargs, device: str, backward: bool) -> Callable[[], Any]:
        call = prepare(kwargs, device)
        tensors = tensors_for(call, device, grad=False)
        _synchronize(device)
        if not backward:

            def run_forward() -> Any:
                with torch.no_grad():
                    out = call.invoke(runner, tensors)
                _synchronize(device)
                return out

            if compiled is not None:
                run_forward()  # compile outside the timed region
            return run_forward

        with torch.no_grad():
            template = call.invoke(runner, tensors)
        g = torch.ones_like(template)

        def run_backward() -> Any:
            # a fresh graph per call: new leaves, new forward, one backward
            leaves = dict(tensors)
            for name in call.wrt:
                leaves[name] = tensors[name].detach().requires_grad_(True)
            with torch.enable_grad():
                out = call.invoke(runner, leaves)
                grads = torch.autograd.grad(out, [leaves[n] for n in call.wrt], g)
            _synchronize(device)
            return grads

        if compiled is not None:
            run_backward()  # compile the backward outside the timed region
        return run_backward

    def reproducer(kwargs: Kwargs, device: str) -> str:
        return _script(kwargs, device, None)

    def gradient_reproducer(kwargs: Kwargs, grad_output: np.ndarray, device: str) -> str:
        return _script(kwargs, device, np.asarray(grad_output))

    def jvp_reproducer(kwargs: Kwargs, tangent: np.ndarray, device: str) -> str:
        return _script(kwargs, device, None, np.asarray(tangent))

    def _script(
        kwargs: Kwargs,
        device: str,
        grad_output: np.ndarray | None,
        tangent: np.ndarray | None = None,
    ) -> str:
        """The forward call; with ``grad_output`` its vector-Jacobian product
        (``torch.autograd.grad``); with ``tangent`` its Jacobian-vector product
        (``torch.func.jvp``)."""
        call = prepare(kwargs, device)
        fn_imports, expression = adapter.script_name(fn, public, _public_imports)
        lines = []
        for name, array in call.arrays.items():
            base, permute = memory_order(array)
            if array.dtype == conventions.BFLOAT16:
                literal = value_literal(base.astype(np.float32))
                lines.append(f"{name} = torch.from_numpy({literal}).to(torch.bfloat16)")
            else:
                lines.append(f"{name} = torch.from_numpy({value_literal(base)})")
            if permute is not None:  # the tensor the entry called with is this strided view
                lines[-1] += f".permute{permute}"
            if device != "cpu":
                lines[-1] += f".to({device!r})"
        if compiled is not None:
            expression = f"torch.compile({expression}, dynamic=True)"
        body = call.source(expression)
        values = 'out.detach().to("cpu", torch.float64).numpy()'
        arrays: list[np.ndarray] = list(call.arrays.values())
        what = op
        if grad_output is not None:
            lines += [f"{name}.requires_grad_(True)" for name in call.wrt]
            literal = value_literal(
                grad_output.astype(np.float32)
                if grad_output.dtype == conventions.BFLOAT16
                else grad_output
            )
            body += (
                f"grad_output = torch.from_numpy({literal}).to(out.dtype).to(out.device)"
                ".reshape(out.shape)\n"
                f"grad = torch.autograd.grad(out, [{call.wrt[0]}], grad_output)[0]\n"
            )
            values = 'grad.detach().to("cpu", torch.float64).numpy()'
            arrays.append(grad_output)
            what = f"gradient of {op} with respect to {call.wrt[0]}"
        if tangent is not None:
            first = call.wrt[0]
            literal = value_literal(
                tangent.astype(np.float32) if tangent.dtype == conventions.BFLOAT16 else tangent
            )
            lines.append(
                f"tangent = torch.from_numpy({literal}).to({first}.dtype).to({first}.device)"
                f".reshape({first}.shape)"
            )
            inner = "".join(f"    {line}\n" for line in body.splitlines())
            body = (
                f"def along({first}):\n{inner}    return out\n"
                f"_, out = torch.func.jvp(along, ({first},), (tangent,))\n"
            )
            arrays.append(tangent)
            what = f"forward-mode derivative (torch.func.jvp) of {op} along a tangent of {first}"
        setup = "\n".join(lines) + "\n"
        imports = [*imports_for(arrays), "import torch", *fn_imports]
        imports = [line for line in imports if line != "import ml_dtypes"]
        return conventions.reproducer_script(
            title=(
                f"{spec.name}: {what} on {conventions.dtype_name(call.dtype)} inputs, "
                f"device {device!r}, PyTorch {torch.__version__}"
            ),
            imports=imports,
            setup=setup,
            call=body,
            values=values,
        )

    return adapter.EntryFunctions(
        forward=forward,
        vjp=vjp,
        jvp=jvp if compiled is None else adapter.not_offered(COMPILED_NO_FORWARD_MODE),
        jvp_reproducer=jvp_reproducer if compiled is None else None,
        bind=bind,
        reproducer=reproducer,
        gradient_reproducer=gradient_reproducer,
        result_extra=None if compiled is None else compiled.result_extra,
    )


def _public_imports(public: str) -> list[str]:
    """The import a reproducer needs to call ``public``: its module."""
    return [f"import {public.rsplit('.', 1)[0]}"]


class _Torch:
    """The PyTorch half of the registry skeleton (:class:`~verify.registry.adapter.Framework`)."""

    key: str = FRAMEWORK
    dtypes: tuple[str, ...] = conventions.FLOAT_DTYPES
    devices: tuple[str, ...] = DEVICES

    def resolve(self, api: str) -> Callable[..., Any]:
        return adapter.attribute_path(torch, api.removeprefix("torch."))

    def docs(self, api: str) -> str:
        return f"{DOCS}{api}.html"

    def functions(
        self, spec: adapter.ApiSpec, fn: Callable[..., Any], public: str | None, mode: adapter.Mode
    ) -> adapter.EntryFunctions:
        return _entry_functions(spec, fn, public, mode)


# --- translations, one per API --------------------------------------------------------------


def _softmax_family(args: dict[str, Any]) -> _Call:
    x = np.asarray(args["x"])
    return _Call({"x": x}, ("x",), {"dim": int(args["axis"])}, ("x",), dtype=x.dtype)


def _cross_entropy_index(args: dict[str, Any]) -> _Call:
    options = ("weight", "ignore_index", "reduction", "label_smoothing")
    return _loss_call(args, "cross_entropy", target="index", options=options)


def _cross_entropy_probs(args: dict[str, Any]) -> _Call:
    api = "torch.nn.functional.cross_entropy with probability targets"
    conventions.require_defaults("cross_entropy", args, ("ignore_index",), api)
    options = ("weight", "reduction", "label_smoothing")
    return _loss_call(args, api, target="probs", options=options)


def _cross_entropy_module(args: dict[str, Any]) -> _Call:
    call = _cross_entropy_index(args)
    call.ctor, call.kwargs = call.kwargs, {}
    return call


def _nll_loss(args: dict[str, Any]) -> _Call:
    return _loss_call(
        args, "nll_loss", target="index", options=("weight", "ignore_index", "reduction")
    )


def _binary_cross_entropy(args: dict[str, Any]) -> _Call:
    return _loss_call(
        args, "binary_cross_entropy", target="binary", options=("weight", "reduction")
    )


def _binary_cross_entropy_with_logits(args: dict[str, Any]) -> _Call:
    options = ("weight", "reduction", "pos_weight")
    return _loss_call(args, "binary_cross_entropy_with_logits", target="binary", options=options)


def _kl_div(args: dict[str, Any]) -> _Call:
    return _loss_call(args, "kl_div", target="probs", options=("reduction", "log_target"))


def _linear_cross_entropy(chunked: bool) -> Callable[[dict[str, Any]], _Call]:
    api = "torch.nn.functional.linear_cross_entropy" + (" (chunked)" if chunked else "")

    def translate(args: dict[str, Any]) -> _Call:
        x = np.asarray(args["input"])
        if x.ndim != 2:
            raise Unsupported(f"{api}: the entry takes (N, in_features) inputs, not {x.ndim}-d")
        if chunked:
            conventions.require_defaults(
                "linear_cross_entropy", args, ("label_smoothing",), api + " path"
            )
        arrays = {
            "input": x,
            "linear_weight": _same_dtype("linear_weight", args["linear_weight"], x.dtype, api),
            "target": _index_target(args),
        }
        kwargs: dict[str, Any] = {}
        wrt = ["input", "linear_weight"]
        for name in ("linear_bias", "weight"):
            if args[name] is not None:
                arrays[name] = _same_dtype(name, args[name], x.dtype, api)
                kwargs[name] = _Tensor(name)
                if name == "linear_bias":
                    wrt.append(name)
        kwargs["reduction"] = args["reduction"]
        kwargs["ignore_index"] = int(args["ignore_index"])
        if not chunked:
            kwargs["label_smoothing"] = args["label_smoothing"]
        else:
            kwargs["options"] = _Source(
                "torch.nn.LinearCrossEntropyOptions()", torch.nn.LinearCrossEntropyOptions()
            )
        return _Call(
            arrays, ("input", "linear_weight", "target"), kwargs, tuple(wrt), dtype=x.dtype
        )

    return translate


# --- documented deviations and known upstream issues ----------------------------------------

BCE_LOG_CLAMP = Deviation(
    description=(
        "binary_cross_entropy clamps log(p) and log(1 - p) at -100, so a term whose exact "
        "value exceeds 100 (p < e^-100 with target > 0, or p = 1 with target < 1) is 100 "
        "times its coefficient instead of the exact value (+inf at p = 0 or 1); the gradient "
        "is that of the clamped loss"
    ),
    link="https://docs.pytorch.org/docs/stable/generated/torch.nn.BCELoss.html",
    applies=conventions.bce_log_clamped,
)


#: PyTorch documents that the chunked path does not support forward-mode AD; torch.func.jvp
#: there returns a zero tangent without an error (it is not judged as a result)
CHUNKED_NO_FORWARD_MODE = (
    "the chunked path of torch.nn.functional.linear_cross_entropy documents that forward-mode "
    "AD (jvp, jacfwd) is unsupported; torch.func.jvp returns a zero tangent there, silently "
    "(https://docs.pytorch.org/docs/stable/generated/"
    "torch.nn.functional.linear_cross_entropy.html)"
)


# --- the registry ---------------------------------------------------------------------------

_LOSS_REDUCTIONS = ("none", "sum", "mean")


_INDEX_CE = Capabilities(
    reductions=_LOSS_REDUCTIONS,
    target="index",
    class_weight=True,
    ignore_index=True,
    label_smoothing=True,
    kdim=True,
)
_SOFTMAX_CAPS = Capabilities(reductions=(), axis=True)
#: the rows that also run under torch.compile
_WITH_COMPILED = (adapter.PLAIN, COMPILED)
_LINEAR_CE = Capabilities(
    reductions=_LOSS_REDUCTIONS,
    target="index",
    class_weight=True,
    ignore_index=True,
    extra=("linear_bias",),
)

_SPECS: tuple[adapter.ApiSpec, ...] = (
    adapter.ApiSpec(
        "torch.nn.functional.cross_entropy",
        "cross_entropy",
        _cross_entropy_index,
        _INDEX_CE,
        variant="class-index targets",
        modes=_WITH_COMPILED,
    ),
    adapter.ApiSpec(
        "torch.nn.functional.cross_entropy[probs]",
        "cross_entropy",
        _cross_entropy_probs,
        Capabilities(
            reductions=_LOSS_REDUCTIONS,
            target="probs",
            class_weight=True,
            label_smoothing=True,
            kdim=True,
        ),
        variant="probability targets",
        modes=_WITH_COMPILED,
    ),
    adapter.ApiSpec(
        "torch.nn.CrossEntropyLoss",
        "cross_entropy",
        _cross_entropy_module,
        _INDEX_CE,
        variant="module form, class-index targets",
    ),
    adapter.ApiSpec(
        "torch.nn.functional.nll_loss",
        "nll_loss",
        _nll_loss,
        Capabilities(
            reductions=_LOSS_REDUCTIONS,
            target="index",
            class_weight=True,
            ignore_index=True,
            kdim=True,
        ),
        known_issues=(NLL_LOSS_2D_NONCONTIGUOUS,),
    ),
    adapter.ApiSpec(
        "torch.nn.functional.log_softmax",
        "log_softmax",
        _softmax_family,
        _SOFTMAX_CAPS,
        modes=_WITH_COMPILED,
    ),
    adapter.ApiSpec(
        "torch.nn.functional.softmax",
        "softmax",
        _softmax_family,
        _SOFTMAX_CAPS,
        modes=_WITH_COMPILED,
    ),
    adapter.ApiSpec("torch.logsumexp", "logsumexp", _softmax_family, _SOFTMAX_CAPS),
    adapter.ApiSpec(
        "torch.nn.functional.binary_cross_entropy",
        "binary_cross_entropy",
        _binary_cross_entropy,
        Capabilities(reductions=_LOSS_REDUCTIONS, target="binary", sample_weight=True, kdim=True),
        deviations=(BCE_LOG_CLAMP,),
    ),
    adapter.ApiSpec(
        "torch.nn.functional.binary_cross_entropy_with_logits",
        "binary_cross_entropy_with_logits",
        _binary_cross_entropy_with_logits,
        Capabilities(
            reductions=_LOSS_REDUCTIONS,
            target="binary",
            sample_weight=True,
            pos_weight=True,
            kdim=True,
        ),
        modes=_WITH_COMPILED,
    ),
    adapter.ApiSpec(
        "torch.nn.functional.kl_div",
        "kl_div",
        _kl_div,
        Capabilities(
            reductions=("none", "sum", "mean", "batchmean"),
            target="probs",
            log_target=True,
            kdim=True,
        ),
        modes=_WITH_COMPILED,
    ),
    adapter.ApiSpec(
        "torch.nn.functional.linear_cross_entropy",
        "linear_cross_entropy",
        _linear_cross_entropy(chunked=False),
        dataclasses.replace(_LINEAR_CE, label_smoothing=True),
        variant="reference path (options=None)",
    ),
    adapter.ApiSpec(
        "torch.nn.functional.linear_cross_entropy[chunked]",
        "linear_cross_entropy",
        _linear_cross_entropy(chunked=True),
        _LINEAR_CE,
        variant="chunked path (options=torch.nn.LinearCrossEntropyOptions())",
        no_forward_mode=CHUNKED_NO_FORWARD_MODE,
    ),
)

REGISTRY = adapter.Registry(_Torch(), _SPECS)

#: public name -> factory wrapping a user's callable exactly as the registered entry is wrapped
FACTORIES: dict[str, adapter.Factory] = REGISTRY.factories()


def implementations() -> list[Implementation]:
    """Every PyTorch entry, built around the real API."""
    return REGISTRY.implementations()
