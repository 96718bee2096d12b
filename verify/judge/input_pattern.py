"""What is special about a case's inputs, as a short signature that does not depend on the
dtype, the shape or the values drawn: the *input pattern* failures are grouped by
(``verify.report.findings``), and the flag the severity classifier needs (``+inf`` or NaN
among the inputs, :mod:`verify.judge.severity`).

The pattern lists, in a fixed order, the features present:

- ``ignored rows hold inf/NaN``: non-finite logits only in rows whose target is ignored;
- ``NaN in input``, ``+inf in input``, ``all -inf row``, ``-inf mask`` (the class axis);
- ``non-finite target`` (NaN or an infinity in a target, weight or other float argument);
- ``all targets ignored``;
- ``logits near the format's max``: a finite magnitude at least ``2^(emax - 3)``;
- ``exp underflows``: a row whose finite logits spread wider than ``-log`` of the format's
  smallest subnormal, so ``exp`` of the smallest relative to the largest is 0;
- ``≥1000 classes``;
- ``label_smoothing``: a nonzero ``label_smoothing`` option.

With none of them the pattern is ``finite inputs``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge.ulp import FORMATS

LARGE_VOCABULARY = 1000
FINITE = "finite inputs"
_LOGITS = ("x", "input")


@dataclasses.dataclass(frozen=True)
class InputProfile:
    """The features of one case's inputs."""

    #: the inputs hold +inf or NaN somewhere (``-inf`` masks excluded)
    nonfinite: bool
    features: tuple[str, ...]

    @property
    def pattern(self) -> str:
        """The signature: the features joined by ``"; "``, or ``"finite inputs"``."""
        return "; ".join(self.features) if self.features else FINITE


def _float(a: Any) -> np.ndarray | None:
    arr = np.asarray(a)
    if arr.dtype.kind != "f" and arr.dtype.name != "bfloat16":
        return None
    return arr.astype(np.float64)


def _class_axis(op: str, kwargs: Mapping[str, Any], x: np.ndarray) -> int:
    if "x" in kwargs:
        axis = int(kwargs.get("axis", -1))
    else:
        axis = 1 if x.ndim >= 2 else 0
    return axis % x.ndim if x.ndim else 0


def _ignored_rows(kwargs: Mapping[str, Any], x: np.ndarray, axis: int) -> np.ndarray | None:
    """Boolean mask broadcastable to ``x``: positions in rows whose index target is ignored."""
    t = kwargs.get("target")
    if t is None or "input" not in kwargs:
        return None
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.integer) or x.ndim < 1:
        return None
    ignored = t == kwargs.get("ignore_index", -100)
    try:
        return np.broadcast_to(np.expand_dims(ignored, axis), x.shape)
    except ValueError:
        return None


def profile(op: str, kwargs: Mapping[str, Any], dtype: str) -> InputProfile:
    """The :class:`InputProfile` of the case ``kwargs`` of ``op`` in ``dtype``."""
    features: list[str] = []
    nonfinite = False
    name = next((k for k in _LOGITS if k in kwargs), None)
    x = _float(kwargs[name]) if name is not None else None
    if x is not None and x.size:
        axis = _class_axis(op, kwargs, x)
        ignored = _ignored_rows(kwargs, x, axis)
        special = ~np.isfinite(x)
        live = special if ignored is None else special & ~ignored
        if ignored is not None and (special & ignored).any() and not live.any():
            features.append("ignored rows hold inf/NaN")
        if np.isnan(x[live]).any():
            features.append("NaN in input")
        if np.isposinf(x[live]).any():
            features.append("+inf in input")
        nonfinite = bool(np.isnan(x).any() or np.isposinf(x).any())
        if x.ndim and np.isneginf(x).all(axis=axis).any():
            features.append("all -inf row")
        elif np.isneginf(x[live]).any():
            features.append("-inf mask")
        fmt = FORMATS.get(dtype)
        finite = np.where(np.isfinite(x), x, np.nan)
        if fmt is not None and np.isfinite(x).any():
            if np.nanmax(np.abs(finite)) >= 2.0 ** (fmt.emax - 3):
                features.append("logits near the format's max")
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # rows without a finite logit
                spread = np.nanmax(finite, axis=axis) - np.nanmin(finite, axis=axis)
            if np.nanmax(spread, initial=0.0) > -math.log(fmt.min_subnormal):
                features.append("exp underflows")
        if x.ndim and x.shape[axis] >= LARGE_VOCABULARY:
            features.append(f"≥{LARGE_VOCABULARY} classes")
    for key, value in kwargs.items():
        if key == name:
            continue
        a = _float(value) if isinstance(value, np.ndarray) else None
        if a is not None and not np.isfinite(a).all():
            nonfinite = nonfinite or bool(np.isnan(a).any() or np.isposinf(a).any())
            if "non-finite target" not in features:
                features.append("non-finite target")
    t = kwargs.get("target")
    if t is not None and np.issubdtype(np.asarray(t).dtype, np.integer) and np.asarray(t).size:
        if (np.asarray(t) == kwargs.get("ignore_index", -100)).all():
            features.append("all targets ignored")
    if float(kwargs.get("label_smoothing", 0.0) or 0.0) > 0.0:
        features.append("label_smoothing")
    return InputProfile(nonfinite=nonfinite, features=tuple(features))


__all__ = ["FINITE", "LARGE_VOCABULARY", "InputProfile", "profile"]
