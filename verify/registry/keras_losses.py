"""The Keras 3 loss classes (``keras.losses.*``) as registry rows, independent of the backend.

Keras 3 runs its losses on TensorFlow, JAX or PyTorch; the backend is fixed once per process,
when ``keras`` is first imported, by the ``KERAS_BACKEND`` environment variable
(https://keras.io/getting_started/#configuring-your-backend).  This module holds what every
backend's entries share: how the reference's NumPy keyword arguments become a Keras call
(:class:`Call`), the API table (:func:`specs`: capabilities, documented deviations, known
upstream issues with links), and :func:`import_keras`, which loads Keras with a given backend
or refuses when this process already holds another one.  The framework modules
(``tensorflow_impls`` for the TensorFlow backend, ``keras_jax_impls``, ``keras_torch_impls``)
turn the rows into entries: tensors of their backend, gradients through its autodiff.

Mapping of the reference's PyTorch-style arguments onto the Keras calls:

- class axis: Keras losses take the classes on ``axis`` (default the last), so ``input`` (and
  probability targets) of shape (N, C, d1, ..., dk) are transposed to (N, d1, ..., dk, C);
  per-example losses then have the reference's layout (N, d1, ..., dk) and gradients are
  transposed back.  Transposition is exact.  The ``[axis=1]`` rows instead keep the reference's
  layout and pass ``axis=1`` (https://keras.io/api/losses/probabilistic_losses/).
- binary Keras losses average over the last axis
  (https://keras.io/api/losses/probabilistic_losses/#binarycrossentropy-class); the adapter
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
- ``from_logits=False`` entries take probabilities; the adapter makes them inside the
  differentiated computation with the backend's softmax (categorical) or exp (``KLDivergence``,
  whose reference input is log-probabilities), as a user feeding a model's probabilities does,
  so their rounding belongs to the measured pipeline (:data:`PRE`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from verify.registry import adapter, conventions
from verify.registry.base import Capabilities, Deviation, KnownIssue, Kwargs
from verify.registry.conventions import AXIS_1, AXIS_1_VARIANT

#: the backends Keras 3 runs on, as ``KERAS_BACKEND`` spells them
KERAS_BACKENDS: tuple[str, ...] = ("tensorflow", "jax", "torch")

#: keras.config.epsilon(), the clipping bound of Keras's probability paths
EPSILON = 1e-7

_KERAS_REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}
KERAS_REDUCTIONS: tuple[str, ...] = ("none", "sum", "mean")

_KERAS_IO_LOSSES = "https://keras.io/api/losses/probabilistic_losses"
_TF_DOCS = "https://www.tensorflow.org/api_docs/python"


class KerasBackendConflict(ImportError):
    """Keras is already loaded in this process with another backend (the backend is fixed at
    the first ``import keras``), so entries of this backend need a process of their own."""


def import_keras(backend: str) -> ModuleType:
    """``keras``, loaded with ``backend`` (``KERAS_BACKEND`` is set before the first import);
    :class:`KerasBackendConflict` naming the loaded backend when another one holds the process."""
    loaded = sys.modules.get("keras")
    if loaded is None:
        os.environ["KERAS_BACKEND"] = backend
        import keras

        loaded = keras
    actual = loaded.backend.backend()
    if actual != backend:
        raise KerasBackendConflict(
            f"keras is already imported with the {actual!r} backend in this process; the "
            f"{backend!r} backend's entries need a process of their own (the backend is fixed "
            "at the first import of keras)"
        )
    return loaded


def reproducer_imports(backend: str, before_keras: tuple[str, ...] = ()) -> list[str]:
    """The lines a standalone reproducer starts Keras with: ``KERAS_BACKEND`` set to
    ``backend`` before ``import keras`` (``before_keras``: lines that must run in between)."""
    return [
        "import os",
        f"os.environ['KERAS_BACKEND'] = {backend!r}",
        *before_keras,
        "import keras",
    ]


@dataclasses.dataclass(frozen=True)
class Call:
    """One API call prepared from reference kwargs, in the API's layout.

    ``arrays`` are keyword arguments of a function, or for a Keras loss class ``y_true``,
    ``y_pred`` and optionally ``sample_weight``; ``diff`` names the differentiated one.
    ``pre`` names a function (:data:`PRE`) applied to it inside the differentiated computation,
    ``options`` are the function's static keyword arguments or the loss class's constructor
    arguments.
    """

    arrays: tuple[tuple[str, np.ndarray], ...]
    diff: str
    options: tuple[tuple[str, Any], ...] = ()
    pre: str | None = None
    class_last: bool = False
    #: a unit last axis was appended to the arrays (binary Keras losses)
    unit_axis: bool = False

    def restore(self, gradient: np.ndarray) -> np.ndarray:
        """A gradient of the differentiated array, in the reference's layout."""
        g = gradient[..., 0] if self.unit_axis else gradient
        return conventions.class_first(g) if self.class_last else g

    def in_layout(self, tangent: np.ndarray) -> np.ndarray:
        """A tangent given in the reference's layout, in the API's (the inverse of
        :meth:`restore`), in the differentiated array's dtype."""
        t = np.asarray(tangent).astype(dict(self.arrays)[self.diff].dtype)
        t = conventions.class_last(t) if self.class_last else t
        return t[..., None] if self.unit_axis else t

    def restore_source(self, values: str) -> str:
        """The reproducer's expression for :meth:`restore` of the gradient ``values``."""
        values = f"{values}[..., 0]" if self.unit_axis else values
        return f"np.moveaxis({values}, -1, 1)" if self.class_last else values


#: the functions a ``Call.pre`` names: softmax over the last (class) axis, and exp
PRE: tuple[str, ...] = ("softmax", "exp")


def inputs(k: dict[str, Any], api: str, *, classes: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(input, target)`` as arrays; Unsupported without a class axis when ``classes``."""
    x, target = np.asarray(k["input"]), np.asarray(k["target"])
    if classes:
        conventions.require(x.ndim >= 2, f"{api} needs a class axis")
    return x, target


def class_case(
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
    k = conventions.complete("cross_entropy", kwargs, "Keras")
    x, target = inputs(k, api, classes=True)
    if probability_targets:
        conventions.require(target.shape == x.shape, f"{api} takes {probability_targets}")
    else:
        conventions.require(
            np.issubdtype(target.dtype, np.integer), f"{api} takes integer class indices"
        )
    reduction = conventions.require_reduction(k, reductions, api)
    conventions.require_defaults("cross_entropy", k, defaults, api)
    return k, x, target, reduction


# --- preparers: reference kwargs -> Call ------------------------------------------------------


def _options(x: np.ndarray, reduction: str, **options: Any) -> tuple[tuple[str, Any], ...]:
    return (
        *options.items(),
        ("reduction", _KERAS_REDUCTION[reduction]),
        ("dtype", x.dtype.name),
    )


def _layout(a: np.ndarray, axis: int | None) -> np.ndarray:
    """``a`` with classes last (``axis=None``, Keras's default ``axis=-1``) or as it is."""
    return conventions.class_last(a) if axis is None else a


def _axis_option(axis: int | None) -> tuple[tuple[str, Any], ...]:
    return () if axis is None else (("axis", axis),)


def _prep_categorical(
    kwargs: Kwargs, api: str, *, from_logits: bool, axis: int | None = None
) -> Call:
    k, x, target, reduction = class_case(
        kwargs, api, KERAS_REDUCTIONS, ("weight",), "one-hot/probability targets (y_true)"
    )
    options = _options(
        x,
        reduction,
        from_logits=from_logits,
        label_smoothing=float(k["label_smoothing"]),
        **dict(_axis_option(axis)),
    )
    return Call(
        arrays=(("y_true", _layout(target, axis).astype(x.dtype)), ("y_pred", _layout(x, axis))),
        diff="y_pred",
        options=options,
        pre=None if from_logits else "softmax",
        class_last=axis is None,
    )


def _prep_sparse(kwargs: Kwargs, api: str, *, axis: int | None = None) -> Call:
    k, x, target, reduction = class_case(
        kwargs, api, KERAS_REDUCTIONS, ("weight", "label_smoothing")
    )
    ignore = int(k["ignore_index"])
    ignore_class = ignore if np.any(target == ignore) else None
    options = _options(
        x, reduction, from_logits=True, ignore_class=ignore_class, **dict(_axis_option(axis))
    )
    return Call(
        arrays=(("y_true", target.astype(np.int64)), ("y_pred", _layout(x, axis))),
        diff="y_pred",
        options=options,
        class_last=axis is None,
    )


def _unit_axis(a: np.ndarray) -> np.ndarray:
    return a[..., np.newaxis]


def _prep_binary(kwargs: Kwargs, api: str, *, from_logits: bool) -> Call:
    op = "binary_cross_entropy_with_logits" if from_logits else "binary_cross_entropy"
    k = conventions.complete(op, kwargs, "Keras")
    x, target = inputs(k, api, classes=False)
    conventions.require(target.shape == x.shape, f"{api} takes targets shaped like the predictions")
    reduction = conventions.require_reduction(k, KERAS_REDUCTIONS, api)
    if from_logits:
        conventions.require_defaults(op, k, ("pos_weight",), api)
    arrays = [("y_true", _unit_axis(target.astype(x.dtype))), ("y_pred", _unit_axis(x))]
    if k["weight"] is not None:
        weight = np.broadcast_to(np.asarray(k["weight"]).astype(x.dtype), x.shape)
        arrays.append(("sample_weight", _unit_axis(np.ascontiguousarray(weight))))
    options = _options(x, reduction, from_logits=from_logits)
    return Call(arrays=tuple(arrays), diff="y_pred", options=options, unit_axis=True)


def _prep_binary_focal(kwargs: Kwargs, api: str) -> Call:
    k = conventions.complete("sigmoid_focal_loss", kwargs, "Keras")
    x, target = inputs(k, api, classes=False)
    conventions.require(target.shape == x.shape, f"{api} takes targets shaped like the logits")
    reduction = conventions.require_reduction(k, KERAS_REDUCTIONS, api)
    alpha = float(k["alpha"])
    # torchvision's alpha < 0 ("no weighting") is Keras's apply_class_balancing=False
    options = _options(
        x,
        reduction,
        apply_class_balancing=alpha >= 0,
        alpha=alpha if alpha >= 0 else 0.25,
        gamma=float(k["gamma"]),
        from_logits=True,
    )
    return Call(
        arrays=(("y_true", _unit_axis(target.astype(x.dtype))), ("y_pred", _unit_axis(x))),
        diff="y_pred",
        options=options,
        unit_axis=True,
    )


def _prep_categorical_focal(kwargs: Kwargs, api: str, *, axis: int | None = None) -> Call:
    k = conventions.complete("softmax_focal_loss", kwargs, "Keras")
    x, target = inputs(k, api, classes=True)
    if np.issubdtype(target.dtype, np.integer):
        conventions.require(
            target.shape == x.shape[:1] + x.shape[2:], f"{api}: bad index target shape"
        )
        # one-hot encoding (exact), as keras.utils.to_categorical does for Keras users
        target = np.moveaxis(np.eye(x.shape[1], dtype=x.dtype)[target], -1, 1)
    conventions.require(
        target.shape == x.shape, f"{api} takes one-hot/probability targets (y_true)"
    )
    reduction = conventions.require_reduction(k, KERAS_REDUCTIONS, api)
    alpha = k["alpha"]
    # the reference's alpha=None is no class weighting, Keras's alpha=1.0
    alpha_value: Any = 1.0 if alpha is None else alpha
    if isinstance(alpha_value, np.ndarray):
        conventions.require(
            axis is None or alpha_value.size == 1,
            f"{api} broadcasts a per-class alpha against the last axis, not axis={axis}",
        )
        alpha_value = [float(v) for v in alpha_value.reshape(-1)]
    else:
        alpha_value = float(alpha_value)
    options = _options(
        x,
        reduction,
        alpha=alpha_value,
        gamma=float(k["gamma"]),
        from_logits=True,
        **dict(_axis_option(axis)),
    )
    return Call(
        arrays=(("y_true", _layout(target, axis).astype(x.dtype)), ("y_pred", _layout(x, axis))),
        diff="y_pred",
        options=options,
        class_last=axis is None,
    )


def _prep_kl(kwargs: Kwargs, api: str) -> Call:
    k = conventions.complete("kl_div", kwargs, "Keras")
    x, target = inputs(k, api, classes=True)
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
    return Call(
        arrays=(
            ("y_true", conventions.class_last(target).astype(x.dtype)),
            ("y_pred", conventions.class_last(x)),
        ),
        diff="y_pred",
        options=options,
        pre="exp",
        class_last=True,
    )


# --- which cases the deviations and known issues cover ----------------------------------------


def _softmax_outside_clip(kwargs: Kwargs) -> bool:
    """Whether softmax(input) over the class axis leaves [eps, 1 - eps] somewhere."""
    x = np.asarray(kwargs["input"], dtype=np.float64)
    with np.errstate(all="ignore"):
        shifted = x - np.max(x, axis=1, keepdims=True)
        p = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
    return bool(np.any(~((p >= EPSILON) & (p <= 1 - EPSILON))))


def _probability_outside_clip(kwargs: Kwargs) -> bool:
    p = np.asarray(kwargs["input"], dtype=np.float64)
    return bool(np.any(~((p >= EPSILON) & (p <= 1 - EPSILON))))


def _sigmoid_outside_clip(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs["input"], dtype=np.float64)
    with np.errstate(all="ignore"):
        p = 1.0 / (1.0 + np.exp(-x))
    return bool(np.any(~((p >= EPSILON) & (p <= 1 - EPSILON))))


def _kl_outside_clip(kwargs: Kwargs) -> bool:
    x = np.asarray(kwargs["input"], dtype=np.float64)
    t = np.asarray(kwargs["target"], dtype=np.float64)
    with np.errstate(all="ignore"):
        q = np.exp(x)
    return bool(np.any(~((q >= EPSILON) & (q <= 1))) or np.any(~((t >= EPSILON) & (t <= 1))))


def _smoothing_off_last_axis(kwargs: Kwargs) -> bool:
    """Whether label smoothing is on and the last axis is not the class axis 1 in size, so
    Keras's ``e / shape[-1]`` is not the reference's ``e / C``."""
    x = np.asarray(kwargs["input"])
    smoothing = float(kwargs.get("label_smoothing", 0.0) or 0.0)
    return smoothing != 0.0 and x.ndim > 2 and x.shape[-1] != x.shape[1]


def _classes_not_last(kwargs: Kwargs) -> bool:
    return np.asarray(kwargs["input"]).ndim > 2


_CLIP_ISSUE = "https://github.com/keras-team/keras/issues/17634"
_PROBABILITY_PATH_ISSUE = "https://github.com/keras-team/keras/issues/9247"
_BCE_CLIP_ISSUE = "https://github.com/keras-team/keras/issues/15249"
_SMOOTHING_AXIS_ISSUE = "https://github.com/keras-team/keras/issues/23451"
_SPARSE_AXIS_ISSUE = "https://github.com/keras-team/keras/issues/21097"
_FLOAT64_DOWNCAST_ISSUE = "https://github.com/keras-team/keras/issues/23223"

_SOFTMAX_CLIP = KnownIssue(
    "from probabilities, Keras clips them to [epsilon, 1 - epsilon] (epsilon = 1e-7) before "
    "the log, so large logit gaps give a loss that differs from the from_logits=True one",
    _CLIP_ISSUE,
    applies=_softmax_outside_clip,
)
_FOCAL_CLIP = KnownIssue(
    "Keras applies softmax and clips the probabilities to [epsilon, 1 - epsilon] before the "
    "log, even with from_logits=True",
    _CLIP_ISSUE,
    applies=_softmax_outside_clip,
)
_SMOOTHING_AXIS = KnownIssue(
    "with axis other than -1, Keras's label smoothing divides by the size of the last axis "
    "(ops.shape(y_true)[-1]), not of the class axis, so smoothed targets do not sum to 1 and "
    "the loss is wrong; fixed upstream by https://github.com/keras-team/keras/pull/23437",
    _SMOOTHING_AXIS_ISSUE,
    applies=_smoothing_off_last_axis,
)
_SPARSE_AXIS = KnownIssue(
    "with axis=1 on inputs of more than 2 dimensions the TensorFlow backend raises 'Only "
    "axis=-1 is currently supported' and the JAX backend checks the target's shape against "
    "the input's leading axes and raises ValueError; the PyTorch backend moves the class axis",
    _SPARSE_AXIS_ISSUE,
    applies=_classes_not_last,
)


#: off the TensorFlow backend, Keras's ops.mean computes a float64 mean in float32
FLOAT64_MEAN = KnownIssue(
    "on the JAX and PyTorch backends keras.ops.mean computes in "
    "dtypes.result_type(x.dtype, 'float32'), which Keras's type lattice resolves to float32 "
    "for float64 input, so the binary losses' mean over the last axis rounds float64 losses to "
    "float32 precision (returned as float64)",
    _FLOAT64_DOWNCAST_ISSUE,
    dtypes=("float64",),
)


def _batch_mean(kwargs: Kwargs) -> bool:
    return kwargs.get("reduction", "mean") in ("mean", "batchmean")


#: on the PyTorch backend, Keras's "sum_over_batch_size" reduction returns float32 for float64
FLOAT64_BATCH_MEAN = KnownIssue(
    "on the PyTorch backend the reduction 'sum_over_batch_size' of a float64 loss returns a "
    "float32 result: Keras's dtypes.result_type demotes float64 to float32 off TensorFlow",
    _FLOAT64_DOWNCAST_ISSUE,
    applies=_batch_mean,
    dtypes=("float64",),
)


def _nan_input(kwargs: Kwargs) -> bool:
    return bool(np.any(np.isnan(np.asarray(kwargs["input"], dtype=np.float64))))


#: on the PyTorch backend, the probability path of the binary losses is torch's BCE kernel
TORCH_BCE_NAN = KnownIssue(
    "on the PyTorch backend the binary probability path calls torch's binary_cross_entropy, "
    "which raises 'all elements of input should be between 0 and 1' on the CPU for NaN "
    "probabilities (the other backends return NaN)",
    "https://github.com/keras-team/keras/issues/23661",
    applies=_nan_input,
)

#: the rows whose loss goes through Keras's binary probability path (from_logits=False, and
#: BinaryFocalCrossentropy, which applies the sigmoid first)
_BINARY_PROBABILITY_PATH = (
    "keras.losses.BinaryCrossentropy[from_logits=False]",
    "keras.losses.BinaryFocalCrossentropy",
)

# --- the table --------------------------------------------------------------------------------


def _caps(target: str, **flags: Any) -> Capabilities:
    return Capabilities(reductions=KERAS_REDUCTIONS, target=target, kdim=True, **flags)


def named_row(
    name: str,
    op: str,
    prepare: Callable[..., Call],
    capabilities: Capabilities,
    *,
    deviations: tuple[Deviation, ...] = (),
    known_issues: tuple[KnownIssue, ...] = (),
    variant: str = "",
    modes: tuple[adapter.Mode, ...] = (),
    **options: Any,
) -> adapter.ApiSpec:
    """A table row whose preparer takes the public name (without its bracketed qualifiers) as
    ``api``, and ``options`` (the Keras rows here, the tf.nn rows of TensorFlow's table)."""
    bound = functools.partial(prepare, api=name.split("[", 1)[0], **options)
    return adapter.ApiSpec(
        name, op, bound, capabilities, deviations, known_issues, variant, modes=modes
    )


def _row(
    name: str, op: str, prepare: Callable[..., Call], capabilities: Capabilities, **fields: Any
) -> adapter.ApiSpec:
    """A Keras row (:func:`named_row`); a name ending in :data:`AXIS_1` keeps the reference's
    layout and passes ``axis=1``."""
    if name.endswith(AXIS_1):
        fields["axis"] = 1
        fields["variant"] = ", ".join(v for v in (fields.get("variant", ""), AXIS_1_VARIANT) if v)
    return named_row(name, op, prepare, capabilities, **fields)


_SPECS: tuple[adapter.ApiSpec, ...] = (
    _row(
        "keras.losses.CategoricalCrossentropy",
        "cross_entropy",
        _prep_categorical,
        _caps("probs", label_smoothing=True),
        variant="from_logits=True",
        from_logits=True,
    ),
    _row(
        "keras.losses.CategoricalCrossentropy[from_logits=False]",
        "cross_entropy",
        _prep_categorical,
        _caps("probs", label_smoothing=True),
        known_issues=(_SOFTMAX_CLIP,),
        variant="from_logits=False, probabilities from the backend's softmax",
        from_logits=False,
    ),
    _row(
        "keras.losses.SparseCategoricalCrossentropy",
        "cross_entropy",
        _prep_sparse,
        _caps("index", ignore_index=True),
        variant="from_logits=True",
    ),
    _row(
        "keras.losses.BinaryCrossentropy",
        "binary_cross_entropy_with_logits",
        _prep_binary,
        _caps("binary", sample_weight=True),
        variant="from_logits=True",
        from_logits=True,
    ),
    _row(
        "keras.losses.BinaryCrossentropy[from_logits=False]",
        "binary_cross_entropy",
        _prep_binary,
        _caps("binary", sample_weight=True),
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
        _prep_binary_focal,
        _caps("binary", extra=("alpha", "gamma")),
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
        _prep_categorical_focal,
        _caps("probs", extra=("alpha", "gamma")),
        known_issues=(_FOCAL_CLIP,),
        variant="from_logits=True",
    ),
    _row(
        "keras.losses.KLDivergence",
        "kl_div",
        _prep_kl,
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
        variant="y_pred = exp(input)",
    ),
    _row(
        "keras.losses.CategoricalCrossentropy" + AXIS_1,
        "cross_entropy",
        _prep_categorical,
        _caps("probs", label_smoothing=True),
        known_issues=(_SMOOTHING_AXIS,),
        variant="from_logits=True",
        from_logits=True,
    ),
    _row(
        "keras.losses.SparseCategoricalCrossentropy" + AXIS_1,
        "cross_entropy",
        _prep_sparse,
        _caps("index", ignore_index=True),
        known_issues=(_SPARSE_AXIS,),
        variant="from_logits=True",
    ),
    _row(
        "keras.losses.CategoricalFocalCrossentropy" + AXIS_1,
        "softmax_focal_loss",
        _prep_categorical_focal,
        _caps("probs", extra=("alpha", "gamma")),
        known_issues=(_FOCAL_CLIP,),
        variant="from_logits=True",
    ),
)


#: the rows whose loss is Keras's mean over the last axis (the appended unit axis)
_MEAN_OVER_LAST_AXIS = (
    "keras.losses.BinaryCrossentropy",
    "keras.losses.BinaryCrossentropy[from_logits=False]",
    "keras.losses.BinaryFocalCrossentropy",
)


def specs(backend: str) -> tuple[adapter.ApiSpec, ...]:
    """The table's rows as they run on ``backend`` (one of :data:`KERAS_BACKENDS`): the same
    rows everywhere, plus the known issues of that backend's own ops."""

    def extra(spec: adapter.ApiSpec) -> tuple[KnownIssue, ...]:
        issues: list[KnownIssue] = []
        if backend != "tensorflow" and spec.name in _MEAN_OVER_LAST_AXIS:
            issues.append(FLOAT64_MEAN)
        reductions = spec.capabilities.reductions
        if backend == "torch" and ("mean" in reductions or "batchmean" in reductions):
            issues.append(FLOAT64_BATCH_MEAN)
        if backend == "torch" and spec.name in _BINARY_PROBABILITY_PATH:
            issues.append(TORCH_BCE_NAN)
        return tuple(issues)

    return tuple(
        dataclasses.replace(spec, known_issues=(*spec.known_issues, *extra(spec)))
        for spec in _SPECS
    )


def keras_io_docs(api: str) -> str:
    """The keras.io documentation of the loss class ``api`` (``keras.losses.X``)."""
    return f"{_KERAS_IO_LOSSES}/#{api.rsplit('.', 1)[-1].lower()}-class"


def call_source(source: str, call: Call) -> str:
    """The expression constructing the loss ``source`` with ``call``'s options and calling it
    on ``y_true`` and ``y_pred`` (and ``sample_weight``), for reproducers."""
    options = ", ".join(f"{key}={value!r}" for key, value in call.options)
    extra = ", sample_weight=sample_weight" if "sample_weight" in dict(call.arrays) else ""
    return f"{source}({options})(y_true, y_pred{extra})"


def loss_function(
    loss_class: Callable[..., Any], call: Call, pre: Callable[[Any], Any] | None
) -> Callable[[Any, dict[str, Any]], Any]:
    """``f(y_pred, others)``: ``pre`` (if any) on ``y_pred``, then the loss constructed with
    ``call``'s options, called on ``others["y_true"]`` (and ``sample_weight``)."""
    loss = loss_class(**dict(call.options))

    def run(v: Any, others: dict[str, Any]) -> Any:
        y_pred = pre(v) if pre else v
        extra = {"sample_weight": others["sample_weight"]} if "sample_weight" in others else {}
        return loss(others["y_true"], y_pred, **extra)

    return run
