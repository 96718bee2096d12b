"""The op catalogue: what each op of the suite *is*, defined once.

One :class:`OpSpec` per op names its reference function and vector-Jacobian product
(``reference.<name>`` and ``reference.<name>_grad``), its family, the target kinds entries may
declare, its class axis, the rule that gives its output shape, its error model (the public entry
points of :mod:`verify.judge.tolerance` that bound it) and the case builder of
:mod:`verify.strategies` that draws its inputs.  Argument names and defaults are *not* typed
here: :attr:`OpSpec.arrays` and :attr:`OpSpec.defaults` are read from
:func:`inspect.signature` of the reference function, so the catalogue and ``docs/contract.md``
section 2 cannot drift apart.

The names the rest of the suite uses as vocabulary live here too: :data:`DTYPES` (the output
formats, in report order), :data:`DEVICES`, :data:`CHECKS` (the check categories in the order a
session runs them, ``bad_input`` last: on CUDA an out-of-range index can poison the device
context), :data:`PROFILE_NAMES` and :data:`SOFTMAX_FAMILY`.

This module imports only the standard library and NumPy; the reference is imported on first
use of :attr:`OpSpec.reference` / :attr:`OpSpec.vjp` / :attr:`OpSpec.defaults`.  A catalogue
entry whose reference function is missing is an error of the suite (``LookupError``), never a
reason to skip a check.  Adding an op means one entry here, its reference function and VJP,
its error model in ``verify/judge/tolerance.py`` and its framework entries
(``docs/registry.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import types
from collections.abc import Callable, Mapping
from typing import Any, Literal, get_args

import numpy as np

#: output formats, as NumPy names, in the order reports list them
DTYPES: tuple[str, ...] = ("float16", "bfloat16", "float32", "float64")
#: devices an entry may declare (``cuda`` only where a GPU is present)
DEVICES: tuple[str, ...] = ("cpu", "cuda")
#: check categories of the report, in the order a session runs them (``bad_input`` last)
Check = Literal[
    "accuracy",
    "gradient",
    "identity",
    "invariance",
    "special_values",
    "extreme_range",
    "cross_framework",
    "bad_input",
]
CHECKS: tuple[str, ...] = get_args(Check)
#: the checks an entry of a compiled code path (``[jit]``, ``[xla]``, ``[compiled]``: the same
#: API as a plain entry, through a compiler) runs: every check that judges its own numbers
#: against the reference.  ``identity``, ``invariance`` and ``cross_framework`` test what the
#: API means; the plain entry runs them, and since the reference decides each of them (a side
#: fails only where its own value is outside its bound), on a compiled path they would only
#: repeat ``accuracy`` on another sample while compiling for every new shape
#: (``docs/checks.md``, "Compiled code paths")
CODE_PATH_CHECKS: tuple[str, ...] = (
    "accuracy",
    "gradient",
    "special_values",
    "extreme_range",
    "bad_input",
)
#: run profiles (``verify/profiles.py`` defines what each one draws)
PROFILE_NAMES: tuple[str, ...] = ("quick", "default", "thorough")

Family = Literal["softmax_family", "class_loss", "elementwise_loss"]
#: how the output's shape follows from the arguments before any reduction
OutputRule = Literal["like_primary", "drop_axis", "per_target_position"]

#: the module whose public entry points are the error models (``docs/tolerances.md``)
TOLERANCE_MODULE = "verify.judge.tolerance"
#: the module whose private builders draw cases (``verify.strategies.cases`` dispatches)
STRATEGY_MODULE = "verify.strategies._cases"
#: the option a reference function takes for its output format (not part of the semantics)
OUT_DTYPE = "out_dtype"


@dataclasses.dataclass(frozen=True)
class ErrorModel:
    """The functions of :data:`TOLERANCE_MODULE` that bound an op's forward value and its
    vector-Jacobian product (``docs/tolerances.md``)."""

    forward: str = "forward_bound"
    gradient: str = "gradient_bound"

    def forward_function(self) -> Callable[..., Any]:
        return getattr(importlib.import_module(TOLERANCE_MODULE), self.forward)

    def gradient_function(self) -> Callable[..., Any]:
        return getattr(importlib.import_module(TOLERANCE_MODULE), self.gradient)


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """One op: a reference function of ``docs/contract.md`` section 2 and what the suite needs
    to know about it that its signature does not say."""

    #: the reference function's name (``reference.<name>``; its VJP is ``<name>_grad``)
    name: str
    family: Family
    #: target kinds an entry of this op may declare (``Capabilities.target``); () without target
    target_kinds: tuple[str, ...]
    #: the axis holding the classes in the reference layout (the softmax family's ``axis``
    #: default; axis 1 for the losses, PyTorch's convention)
    class_axis: int
    output_rule: OutputRule
    #: the case builder of :data:`STRATEGY_MODULE` that draws this op's inputs
    strategy: str
    #: the array argument holding the classes, and its class axis (``linear_weight`` rows for
    #: the fused linear cross entropy; the softmax family's ``axis`` argument overrides it)
    classes_from: tuple[str, int] = ("input", 1)
    error_model: ErrorModel = ErrorModel()

    @property
    def grad_name(self) -> str:
        return f"{self.name}_grad"

    @property
    def reference(self) -> Callable[..., Any]:
        """``reference.<name>`` (``LookupError`` when the reference lacks it)."""
        return _reference_function(self.name)

    @property
    def vjp(self) -> Callable[..., Any]:
        """``reference.<name>_grad`` (``LookupError`` when the reference lacks it)."""
        return _reference_function(self.grad_name)

    @property
    def arrays(self) -> tuple[str, ...]:
        """The required (data) arguments, in the reference's positional order."""
        return _signature_facts(self.name)[0]

    @property
    def defaults(self) -> Mapping[str, Any]:
        """Every optional argument and its default (``out_dtype`` aside)."""
        return _signature_facts(self.name)[1]

    @property
    def primary(self) -> str:
        """The argument that is differentiated and fixes the dtype: ``x`` or ``input``."""
        return self.arrays[0]

    @property
    def default_reduction(self) -> str | None:
        value = self.defaults.get("reduction")
        return None if value is None else str(value)

    @property
    def has_index_targets(self) -> bool:
        return "index" in self.target_kinds


def _spec(
    name: str,
    family: Family,
    target_kinds: tuple[str, ...],
    output_rule: OutputRule,
    **rest: Any,
) -> OpSpec:
    strategy = {
        "softmax_family": "_softmax_family",
        "class_loss": "_index_loss",
        "elementwise_loss": "_elementwise_loss",
    }[family]
    if family == "softmax_family":
        rest.setdefault("classes_from", ("x", -1))
    axis = -1 if family == "softmax_family" else 1
    return OpSpec(name, family, target_kinds, axis, output_rule, strategy, **rest)


_CLASS_TARGETS = ("index", "probs")

# The op names: the only place the suite spells them out (the framework registries, the
# reference and the tests aside); every other module reads them from here.
LOGSUMEXP = "logsumexp"
SOFTMAX = "softmax"
LOG_SOFTMAX = "log_softmax"
NLL_LOSS = "nll_loss"
CROSS_ENTROPY = "cross_entropy"
BINARY_CROSS_ENTROPY = "binary_cross_entropy"
BINARY_CROSS_ENTROPY_WITH_LOGITS = "binary_cross_entropy_with_logits"
SIGMOID_FOCAL_LOSS = "sigmoid_focal_loss"
SOFTMAX_FOCAL_LOSS = "softmax_focal_loss"
KL_DIV = "kl_div"
LINEAR_CROSS_ENTROPY = "linear_cross_entropy"

#: the catalogue, in the order reports and docs list the ops
OPS: Mapping[str, OpSpec] = {
    s.name: s
    for s in (
        _spec(LOGSUMEXP, "softmax_family", (), "drop_axis"),
        _spec(SOFTMAX, "softmax_family", (), "like_primary"),
        _spec(LOG_SOFTMAX, "softmax_family", (), "like_primary"),
        _spec(NLL_LOSS, "class_loss", ("index",), "per_target_position"),
        _spec(CROSS_ENTROPY, "class_loss", _CLASS_TARGETS, "per_target_position"),
        _spec(BINARY_CROSS_ENTROPY, "elementwise_loss", ("binary",), "like_primary"),
        _spec(BINARY_CROSS_ENTROPY_WITH_LOGITS, "elementwise_loss", ("binary",), "like_primary"),
        _spec(SIGMOID_FOCAL_LOSS, "elementwise_loss", ("binary",), "like_primary"),
        _spec(SOFTMAX_FOCAL_LOSS, "class_loss", _CLASS_TARGETS, "per_target_position"),
        _spec(KL_DIV, "elementwise_loss", ("probs",), "like_primary"),
        _spec(
            LINEAR_CROSS_ENTROPY,
            "class_loss",
            ("index",),
            "per_target_position",
            classes_from=("linear_weight", 0),
        ),
    )
}


def ops_of(family: Family) -> tuple[str, ...]:
    """The names of the ops of one family, in catalogue order."""
    return tuple(name for name, spec in OPS.items() if spec.family == family)


SOFTMAX_FAMILY: tuple[str, ...] = ops_of("softmax_family")
#: losses over a class axis (index or probability targets)
CLASS_LOSSES: tuple[str, ...] = ops_of("class_loss")
#: losses applied element by element to an input and a target of the same shape
ELEMENTWISE_LOSSES: tuple[str, ...] = ops_of("elementwise_loss")
#: the ops whose logits are a product taken inside the op (``input @ linear_weight.T``)
FUSED_LINEAR: tuple[str, ...] = tuple(
    n for n, s in OPS.items() if s.classes_from[0] not in ("x", "input")
)


def ops_with_target(kind: str) -> tuple[str, ...]:
    """The names of the ops whose entries may declare target kind ``kind``, in catalogue
    order."""
    return tuple(name for name, spec in OPS.items() if kind in spec.target_kinds)


#: the ops that take probability targets (a distribution over the classes)
PROBABILITY_TARGET_OPS: tuple[str, ...] = ops_with_target("probs")
#: the ops that take a target in [0, 1] of the input's shape
BINARY_TARGET_OPS: tuple[str, ...] = ops_with_target("binary")


def spec(op: str) -> OpSpec:
    """The catalogue entry of ``op``; ``KeyError`` naming the known ops otherwise."""
    try:
        return OPS[op]
    except KeyError:
        raise KeyError(f"unknown op {op!r}; the catalogue has {', '.join(OPS)}") from None


def class_count(op: str, kwargs: Mapping[str, Any]) -> int:
    """The number of classes of a case (``linear_weight`` rows for the fused linear op)."""
    s = spec(op)
    name, axis = s.classes_from
    if s.family == "softmax_family":
        axis = int(kwargs.get("axis", axis))
    return int(np.shape(kwargs[name])[axis])


def output_shape(op: str, kwargs: Mapping[str, Any]) -> tuple[int, ...]:
    """Shape of ``op``'s output for reference-convention ``kwargs`` (``docs/contract.md``
    section 2): 0-d for the ``mean``/``sum``/``batchmean`` reductions; otherwise the input's
    shape (softmax, log_softmax, the elementwise losses), the input's shape without ``axis``
    (logsumexp), or one value per target position (the class losses: the index target's shape,
    or a probability target's shape without the class axis).  Array arguments may be anything
    :func:`numpy.shape` reads."""
    s = spec(op)
    primary = tuple(np.shape(kwargs[s.primary]))
    if s.family == "softmax_family":
        if s.output_rule == "drop_axis":
            axis = int(kwargs.get("axis", s.defaults["axis"]))
            return primary[: axis % len(primary)] + primary[axis % len(primary) + 1 :]
        return primary
    if kwargs.get("reduction", s.default_reduction) != "none":
        return ()
    if s.output_rule == "per_target_position":
        target = kwargs["target"]
        shape = tuple(np.shape(target))
        if np.issubdtype(np.asarray(target).dtype, np.integer):
            return shape
        return shape[: s.class_axis] + shape[s.class_axis + 1 :]
    return primary


@functools.cache
def _reference_function(name: str) -> Callable[..., Any]:
    module = importlib.import_module("reference")
    fn = getattr(module, name, None)
    if not callable(fn):
        raise LookupError(f"the op catalogue names reference.{name}, which does not exist")
    return fn


@functools.cache
def _signature_facts(name: str) -> tuple[tuple[str, ...], Mapping[str, Any]]:
    parameters = inspect.signature(_reference_function(name)).parameters.values()
    arrays = tuple(p.name for p in parameters if p.default is inspect.Parameter.empty)
    defaults = {
        p.name: p.default
        for p in parameters
        if p.default is not inspect.Parameter.empty and p.name != OUT_DTYPE
    }
    return arrays, types.MappingProxyType(defaults)


__all__ = [
    "BINARY_CROSS_ENTROPY",
    "BINARY_CROSS_ENTROPY_WITH_LOGITS",
    "BINARY_TARGET_OPS",
    "CHECKS",
    "CLASS_LOSSES",
    "CODE_PATH_CHECKS",
    "CROSS_ENTROPY",
    "DEVICES",
    "DTYPES",
    "ELEMENTWISE_LOSSES",
    "FUSED_LINEAR",
    "KL_DIV",
    "LINEAR_CROSS_ENTROPY",
    "LOGSUMEXP",
    "LOG_SOFTMAX",
    "NLL_LOSS",
    "OPS",
    "PROBABILITY_TARGET_OPS",
    "PROFILE_NAMES",
    "SIGMOID_FOCAL_LOSS",
    "SOFTMAX",
    "SOFTMAX_FAMILY",
    "SOFTMAX_FOCAL_LOSS",
    "Check",
    "ErrorModel",
    "OpSpec",
    "class_count",
    "ops_of",
    "ops_with_target",
    "output_shape",
    "spec",
]
