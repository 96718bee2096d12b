"""Full keyword-argument dicts for an implementation: :func:`cases`.

A case is the reference-convention kwargs of one call (``x``/``axis`` for the softmax family;
``input``, ``target``, ``weight``, ``ignore_index``, ``reduction``, ``label_smoothing``, ...
for the losses, ``docs/registry.md``), drawn only with the options the implementation's
:class:`~verify.registry.base.Capabilities` say it supports.

Kinds:

- ``accuracy`` / ``gradient``: finite inputs of every logit style (moderate, wide, ties,
  near-ties, subnormals, spreads that underflow ``exp``);
- ``moderate``: well-scaled finite inputs (identities and invariances);
- ``extreme``: magnitudes near the format's largest value, huge spreads;
- ``large_vocabulary``: one row of the profile's large class counts (tens of thousands);
- ``special``: the special-value table: ``-inf`` masks, ``+inf``, NaN, ignored rows holding
  inf/NaN, exact zero targets, all targets ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from verify import ops
from verify.judge.ulp import FloatFormat
from verify.ops import CLASS_LOSSES as INDEX_LOSSES
from verify.ops import ELEMENTWISE_LOSSES, SOFTMAX_FAMILY
from verify.profiles import Profile, get_profile
from verify.strategies import _targets as tg
from verify.strategies._logits import logits
from verify.strategies._values import BOOLEANS, check_dtype, int_range, memoised_strategy, sampled

KINDS: tuple[str, ...] = (
    "accuracy",
    "gradient",
    "moderate",
    "extreme",
    "large_vocabulary",
    "special",
)

_FINITE_STYLES = (
    "moderate",
    "moderate",
    "wide",
    "ties",
    "near_ties",
    "subnormal",
    "spread",
    "coarse",
    "confident",
    "saturated",
)
_STYLES = {
    "accuracy": _FINITE_STYLES,
    "gradient": _FINITE_STYLES,
    "moderate": ("moderate", "ties", "confident", "coarse"),
    "extreme": ("huge", "spread", "wide"),
    "large_vocabulary": ("moderate", "spread", "ties"),
    "special": ("masked", "special", "masked"),
}


_NON_FINITE = sampled((np.nan, np.inf, -np.inf))


def _profile(profile: str | Profile) -> Profile:
    try:
        return get_profile(profile) if isinstance(profile, str) else profile
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None


def _sizes(draw: st.DrawFn, impl: Any, kind: str, prof: Profile, dtype: str) -> dict[str, Any]:
    """Batch N, classes C and spatial extents: one shape of the profile's alphabet
    (``Profile.shapes``: few distinct shapes, so compiled functions are reused), without the
    extents for a loss that takes no K-dimensional input; large C only in the
    large-vocabulary draws."""
    if kind == "large_vocabulary":
        if not prof.large_classes:
            raise InvalidArgument(f"profile {prof.name!r} draws no large vocabularies")
        return {
            "n": 1,
            "c": draw(sampled(prof.large_classes), label="classes"),
            "spatial": (),
        }
    n, c, spatial = draw(sampled(prof.shapes), label="shape")
    if impl.op not in SOFTMAX_FAMILY and not impl.capabilities.kdim:
        spatial = ()
    return {"n": n, "c": c, "spatial": spatial}


def _style(draw: st.DrawFn, kind: str) -> str:
    return draw(sampled(_STYLES[kind]), label="logit style")


def _with_reduction(draw: st.DrawFn, impl: Any, kw: dict[str, Any]) -> dict[str, Any]:
    """``kw`` with a ``reduction`` drawn from those the entry offers (none when it offers
    none: the reference default applies)."""
    offered = tuple(impl.capabilities.reductions)
    if offered:
        kw["reduction"] = draw(sampled(offered), label="reduction")
    return kw


@st.composite
def _softmax_family(
    draw: st.DrawFn, impl: Any, dtype: str, kind: str, prof: Profile
) -> dict[str, Any]:
    s = _sizes(draw, impl, kind, prof, dtype)
    shape: tuple[int, ...] = (s["n"], s["c"])
    axis = -1
    if impl.capabilities.axis and s["c"] <= prof.max_classes:
        # the shape's trailing extents as extra axes, the class axis anywhere
        shape = shape + s["spatial"]
        axis = draw(int_range(-len(shape), len(shape) - 1), label="axis")
    x = draw(logits(dtype, shape, style=_style(draw, kind), class_axis=axis), label="x")
    return {"x": x, "axis": axis}


@st.composite
def _index_loss(draw: st.DrawFn, impl: Any, dtype: str, kind: str, prof: Profile) -> dict[str, Any]:
    op, caps = impl.op, impl.capabilities
    s = _sizes(draw, impl, kind, prof, dtype)
    n, c, spatial = s["n"], s["c"], s["spatial"]
    kw: dict[str, Any] = {}
    style = _style(draw, kind)
    if op == ops.LINEAR_CROSS_ENTROPY:
        h = draw(sampled(prof.hidden_sizes), label="hidden")
        hidden_style = "moderate" if style not in ("huge", "wide") else style
        kw["input"] = draw(logits(dtype, (n, h), style=hidden_style), label="input")
        kw["linear_weight"] = draw(logits(dtype, (c, h), style="moderate"), label="linear_weight")
        if "linear_bias" in caps.extra and draw(BOOLEANS, label="bias"):
            kw["linear_bias"] = draw(logits(dtype, (c,), style="moderate"), label="linear_bias")
    elif op == ops.NLL_LOSS:
        ls = draw(logits(dtype, (n, c, *spatial), style=style, class_axis=1), label="log-probs")
        kw["input"] = ls
    else:
        kw["input"] = draw(
            logits(dtype, (n, c, *spatial), style=style, class_axis=1), label="input"
        )
    probs = caps.target == "probs"
    if probs:
        kw["target"] = draw(
            tg.probability_targets(dtype, (n, c, *spatial), class_axis=1), label="target"
        )
    else:
        ignore = None
        if caps.ignore_index and draw(BOOLEANS, label="use ignore_index"):
            ignore = draw(tg.ignore_indices(c), label="ignore_index")
            kw["ignore_index"] = ignore
        min_valid = 0 if kind == "special" else 1
        kw["target"] = draw(
            tg.index_targets(c, (n, *spatial), ignore_index=ignore, min_valid=min_valid),
            label="target",
        )
    if caps.class_weight and draw(BOOLEANS, label="use weight"):
        kw["weight"] = draw(
            tg.class_weights(dtype, c, allow_zero=kind == "special"), label="weight"
        )
    if caps.label_smoothing:
        kw["label_smoothing"] = draw(tg.LABEL_SMOOTHING, label="label_smoothing")
    if op == ops.SOFTMAX_FOCAL_LOSS:
        if "gamma" in caps.extra:
            kw["gamma"] = draw(tg.focal_gamma(), label="gamma")
        if "alpha" in caps.extra and draw(BOOLEANS, label="use alpha"):
            kw["alpha"] = draw(sampled((0.25, 0.5, 1.0)), label="alpha")
    return _with_reduction(draw, impl, kw)


@st.composite
def _elementwise_loss(
    draw: st.DrawFn, impl: Any, dtype: str, kind: str, prof: Profile
) -> dict[str, Any]:
    op, caps = impl.op, impl.capabilities
    s = _sizes(draw, impl, kind, prof, dtype)
    shape = (s["n"], s["c"], *s["spatial"])
    style = _style(draw, kind)
    kw: dict[str, Any] = {}
    if op == ops.BINARY_CROSS_ENTROPY:
        kw["input"] = draw(
            tg.probabilities(dtype, shape, edges=kind in ("special", "extreme")), label="input"
        )
        kw["target"] = draw(tg.binary_targets(dtype, shape), label="target")
    elif op == ops.KL_DIV:
        log_target = caps.log_target and draw(BOOLEANS, label="log_target")
        raw = draw(tg.probability_targets(dtype, shape, class_axis=1), label="q")
        with np.errstate(divide="ignore"):
            kw["input"] = np.log(raw.astype(np.float64)).astype(raw.dtype)
            if kind != "special":
                kw["input"] = np.where(
                    np.isinf(kw["input"].astype(np.float64)),
                    np.asarray(-30.0, raw.dtype),
                    kw["input"],
                ).astype(raw.dtype)
        p = draw(tg.probability_targets(dtype, shape, class_axis=1), label="target")
        if log_target:
            with np.errstate(divide="ignore"):
                lp = np.log(p.astype(np.float64))
            kw["target"] = np.where(np.isinf(lp), -30.0, lp).astype(p.dtype)
            kw["log_target"] = True
        else:
            kw["target"] = p
    else:
        kw["input"] = draw(logits(dtype, shape, style=style, class_axis=1), label="input")
        kw["target"] = draw(tg.binary_targets(dtype, shape), label="target")
    if (
        op in (ops.BINARY_CROSS_ENTROPY, ops.BINARY_CROSS_ENTROPY_WITH_LOGITS)
        and (caps.class_weight or caps.sample_weight)
        and draw(BOOLEANS, label="use weight")
    ):
        kw["weight"] = draw(tg.class_weights(dtype, shape[-1]), label="weight")
    if (
        op == ops.BINARY_CROSS_ENTROPY_WITH_LOGITS
        and caps.pos_weight
        and draw(BOOLEANS, label="use pos_weight")
    ):
        kw["pos_weight"] = draw(tg.class_weights(dtype, shape[-1]), label="pos_weight")
    if op == ops.SIGMOID_FOCAL_LOSS:
        if "alpha" in caps.extra:
            kw["alpha"] = draw(tg.focal_alpha(), label="alpha")
        if "gamma" in caps.extra:
            kw["gamma"] = draw(tg.focal_gamma(), label="gamma")
    return _with_reduction(draw, impl, kw)


@st.composite
def _special_overrides(
    draw: st.DrawFn, impl: Any, dtype: str, kw: dict[str, Any]
) -> dict[str, Any]:
    """Make the special-value rows of the table appear: non-finite logits in ignored rows,
    all targets ignored, zero-probability targets at -inf logits."""
    op = impl.op
    kw = dict(kw)
    fmt = check_dtype(dtype)
    target = kw.get("target")
    if (
        op in INDEX_LOSSES
        and target is not None
        and np.issubdtype(np.asarray(target).dtype, np.integer)
    ):
        caps = impl.capabilities
        if caps.ignore_index and op != ops.LINEAR_CROSS_ENTROPY:
            what = draw(
                sampled(("ignored non-finite", "all ignored", "as drawn")),
                label="special ignore case",
            )
            ignore = kw.get("ignore_index", -100)
            t = np.array(target)
            if what == "all ignored":
                t[...] = ignore
                kw["ignore_index"] = ignore
            elif what == "ignored non-finite":
                x = np.array(kw["input"], dtype=np.float64)
                row = draw(int_range(0, t.shape[0] - 1), label="ignored row")
                t[row] = ignore
                kw["ignore_index"] = ignore
                x[row] = draw(_NON_FINITE, label="ignored value")
                kw["input"] = x.astype(fmt.dtype)
            kw["target"] = t
    if (
        op in (ops.CROSS_ENTROPY, ops.SOFTMAX_FOCAL_LOSS)
        and target is not None
        and not np.issubdtype(np.asarray(target).dtype, np.integer)
    ):
        # zero probability where the logit is -inf: 0 * log 0 = 0
        x = np.array(kw["input"], dtype=np.float64)
        q = np.asarray(target, dtype=np.float64)
        x = np.where((q == 0) & draw(BOOLEANS, label="mask zero-target classes"), -np.inf, x)
        kw["input"] = x.astype(fmt.dtype)
    return kw


def cases(
    impl: Any, dtype: Any, kind: str = "accuracy", profile: str | Profile = "default"
) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword-argument dicts for ``impl`` (an :class:`~verify.registry.base.Implementation`)
    in ``dtype``: only the options its capabilities support, sized by ``profile``."""
    fmt = check_dtype(dtype)
    if kind not in KINDS:
        raise InvalidArgument(f"kind={kind!r} must be one of {KINDS}")
    prof = _profile(profile)
    op = getattr(impl, "op", None)
    if op in SOFTMAX_FAMILY:
        base = _softmax_family(impl, fmt.name, kind, prof)
    elif op in INDEX_LOSSES:
        base = _index_loss(impl, fmt.name, kind, prof)
    elif op in ELEMENTWISE_LOSSES:
        base = _elementwise_loss(impl, fmt.name, kind, prof)
    else:
        raise InvalidArgument(f"impl.op={op!r} is not an op the strategies know")
    if kind == "special":
        return base.flatmap(lambda kw: _special_overrides(impl, fmt.name, kw))
    return base


def grad_outputs(shape: tuple[int, ...], dtype: Any) -> st.SearchStrategy[np.ndarray]:
    """Cotangents for a vector-Jacobian product: ones (the default), or moderate values exact
    in ``dtype`` (signs mixed, so cancellations in the backward pass are exercised)."""
    return _grad_outputs(tuple(shape), check_dtype(dtype))


@memoised_strategy
def _grad_outputs(shape: tuple[int, ...], fmt: FloatFormat) -> st.SearchStrategy[np.ndarray]:
    n = int(np.prod(shape)) if shape else 1
    # a new array on every draw (the strategy is shared; a caller may write into its draw)
    ones = st.just(shape).map(lambda s: np.ones(s, dtype=fmt.dtype))
    if n > 256:
        return ones
    vals = st.lists(st.integers(-16, 16).map(lambda k: k / 8), min_size=n, max_size=n).map(
        lambda v: np.asarray(v, dtype=np.float64).reshape(shape).astype(fmt.dtype)
    )
    return st.one_of(ones, vals)


def describe_case(op: str, kwargs: dict[str, Any]) -> str:
    """A one-line description of what is special about a case (for messages)."""
    parts = []
    arrays = {k: np.asarray(v) for k, v in kwargs.items() if isinstance(v, np.ndarray)}
    for name, a in arrays.items():
        if a.dtype.kind != "f" and a.dtype.name != "bfloat16":
            continue
        f = a.astype(np.float64)
        if np.isnan(f).any():
            parts.append(f"NaN in {name}")
        if np.isposinf(f).any():
            parts.append(f"+inf in {name}")
        if np.isneginf(f).any():
            parts.append(f"-inf in {name}")
    t = kwargs.get("target")
    if t is not None and np.issubdtype(np.asarray(t).dtype, np.integer):
        ign = kwargs.get("ignore_index", -100)
        k = int((np.asarray(t) == ign).sum())
        if k:
            parts.append("all targets ignored" if k == np.asarray(t).size else f"{k} ignored")
    shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in arrays.items())
    opts = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if not isinstance(v, np.ndarray))
    desc = f"{op}({shapes}{', ' + opts if opts else ''})"
    return desc + (f" [{'; '.join(parts)}]" if parts else "")


__all__ = ["KINDS", "cases", "describe_case", "grad_outputs"]
