"""Axis layout and reductions shared by the loss models: classes moved last, the ``none`` /
``sum`` / ``mean`` / ``batchmean`` reductions, and the cotangent each element receives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked


def rows_last(a: Any) -> np.ndarray:
    """(N, C, d1..dk) -> (N, d1..dk, C); (N, C) and 1-d arrays unchanged."""
    a = np.asarray(a)
    return np.moveaxis(a, 1, -1) if a.ndim > 2 else a


def rows_back(a: np.ndarray, ndim: int) -> np.ndarray:
    """The inverse of :func:`rows_last` for an array that had ``ndim`` dimensions."""
    return np.moveaxis(a, -1, 1) if ndim > 2 else a


def keep_last(a: Tracked) -> Tracked:
    """A reduction over the last axis with that axis kept (length 1)."""
    return Tracked(a.v[..., None], a.e[..., None])


def reduce(loss: Tracked, reduction: str, denominator: Tracked | None, m: Model) -> Tracked:
    """``none`` / ``sum`` / ``mean`` (``batchmean``) of per-element losses: one blocked sum
    and, for a mean, one division."""
    if reduction == "none":
        return loss
    tot = et.total(loss, m.ar)
    if reduction != "sum":
        assert denominator is not None
        tot = et.div(tot, denominator, m.ar)
    if np.isnan(loss.e).any():  # an element the special-value table fixes: so is the sum
        tot = Tracked(tot.v, np.full_like(tot.e, np.nan))
    return tot


def elementwise_denominator(kw: Mapping[str, Any]) -> Tracked:
    """The mean's divisor of an elementwise loss: the element count, or the batch size for
    ``batchmean``; exact."""
    x = np.asarray(kw["input"])
    if kw.get("reduction") == "batchmean":
        return et.exact(np.asarray(float(x.shape[0] if x.ndim else 1)))
    return et.exact(np.asarray(float(x.size)))


def cotangent(
    kw: Mapping[str, Any], g: np.ndarray, shape: tuple[int, ...], denominator: Tracked, m: Model
) -> Tracked:
    """The cotangent each element of the loss receives: ``g`` itself (``none``), the scalar
    ``g`` (``sum``), or ``g / denominator`` rounded once (``mean``)."""
    reduction = kw.get("reduction", "mean")
    gv = np.asarray(g, dtype=np.float64)
    if reduction == "none":
        return et.exact(np.broadcast_to(gv, shape))
    if reduction == "sum":
        return et.exact(np.full(shape, float(gv)))
    sc = et.div(et.exact(gv), denominator, m.ar)
    return Tracked(np.full(shape, sc.v), np.full(shape, sc.e))


def broadcast_weight(kw: Mapping[str, Any], name: str, shape: tuple[int, ...]) -> Tracked:
    """An optional weight argument broadcast to ``shape`` (ones when absent); exact."""
    w = kw.get(name)
    if w is None:
        return et.exact(np.ones(shape))
    return et.exact(np.broadcast_to(np.asarray(w, dtype=np.float64), shape))


__all__ = [
    "broadcast_weight",
    "cotangent",
    "elementwise_denominator",
    "keep_last",
    "reduce",
    "rows_back",
    "rows_last",
]
