"""linear_cross_entropy: cross-entropy of the logits ``input @ linear_weight.T (+ bias)``.

Standard of care: the logits as blocked inner products (error ``k(h) u |X| |W|^T``, Higham
2002, section 3.1), materialised in the input dtype for float16/bfloat16 (the output of a
linear layer is a tensor of that dtype), then the cross-entropy of :mod:`.cross_entropy_loss`
on those logits, whose rounding errors it propagates (the shift subtracts two logits that
both carry an error).  Gradients: ``G W``, ``G^T X`` and ``sum G`` with ``G`` the gradient
w.r.t. the logits, materialised likewise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import error_tracking as et
from verify.judge.error_models import cross_entropy_loss as cel
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked


def _logits(kw: Mapping[str, Any], m: Model) -> tuple[Tracked, Tracked, Tracked]:
    ar = m.ar
    xin = et.exact(kw["input"])
    w = et.exact(kw["linear_weight"])
    logits = et.matmul(xin, Tracked(w.v.T, w.e.T), ar)
    b = kw.get("linear_bias")
    if b is not None:
        bias = et.exact(np.broadcast_to(np.asarray(b, np.float64), logits.shape))
        logits = et.add(logits, bias, ar)
    return m.materialise(logits), xin, w


def forward(kw: Mapping[str, Any], m: Model) -> np.ndarray:
    logits, _, _ = _logits(kw, m)
    return cel.loss_from_logits(kw, logits, m).e


def gradient(kw: Mapping[str, Any], g: np.ndarray, m: Model) -> tuple[np.ndarray, ...]:
    ar = m.ar
    logits, xin, w = _logits(kw, m)
    gl = m.materialise(cel.logits_gradient(kw, logits, g, m))
    out = [et.matmul(gl, w, ar).e, et.matmul(Tracked(gl.v.T, gl.e.T), xin, ar).e]
    if kw.get("linear_bias") is not None:
        out.append(et.total(gl, ar, axis=0).e)
    return tuple(out)


__all__ = ["forward", "gradient"]
