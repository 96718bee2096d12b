"""kl_div (PyTorch's semantics: ``input`` holds log-probabilities ``x``).

Standard of care: the pointwise term ``t (log t - x)`` with ``0 log 0 = 0`` (``xlogy``), or
``exp(t) (t - x)`` for ``log_target=True``; ``log t`` and ``exp t`` are the only roundings
besides one subtraction and one product, then the reduction.  The subtraction can cancel where
``t = exp(x)``; that cancellation belongs to the formula every implementation uses (the
rounding of ``log t`` is what a careful implementation must pay), and it is charged exactly
that.  Gradient: ``-t`` (``-exp(t)``) times the cotangent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models.layout import cotangent, elementwise_denominator
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked


def terms(kw: Mapping[str, Any], m: Model) -> Tracked:
    ar = m.ar
    x = et.exact(kw["input"])
    t = np.asarray(kw["target"], dtype=np.float64)
    tt = et.exact(t)
    if kw.get("log_target", False):
        return et.mul(et.exp(tt, ar), et.sub(tt, x, ar), ar)
    with np.errstate(divide="ignore"):
        lt = et.log(tt, ar)
    pointwise = et.mul(tt, et.sub(lt, x, ar), ar)
    return et.where(t == 0, et.exact(np.zeros_like(t)), pointwise)


def gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> np.ndarray:
    ar = m.ar
    t = np.asarray(kw["target"], dtype=np.float64)
    d = et.exp(et.exact(t), ar) if kw.get("log_target", False) else et.exact(t)
    sc = cotangent(kw, g, t.shape, elementwise_denominator(kw), m)
    return et.mul(d, sc, ar).e


__all__ = ["gradient", "terms"]
