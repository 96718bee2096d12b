"""Error models: for each op, a first-order bound on the error of the best known stable
algorithm evaluated on exactly the given inputs, one module per op family (mirroring
``reference/``).

- :mod:`.softmax_family`: softmax, log_softmax, logsumexp (shift by the maximum, ``log1p`` of
  the complement sum);
- :mod:`.cross_entropy_loss`: cross_entropy, nll_loss (complement at the top class);
- :mod:`.binary`: binary_cross_entropy, binary_cross_entropy_with_logits (stable softplus and
  sigmoid, ``log1p(-p)``);
- :mod:`.focal`: sigmoid_focal_loss, softmax_focal_loss;
- :mod:`.kl`: kl_div;
- :mod:`.linear`: linear_cross_entropy;
- :mod:`.model` (working precision, materialisation) and :mod:`.layout` (axes, reductions).

:data:`FORWARD` and :data:`GRADIENT` map an op to ``fn(kwargs, model)`` and
``fn(kwargs, grad_output, model)``; :mod:`verify.judge.tolerance` is the public entry point.
The policy and its citations: ``docs/tolerances.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from verify.judge.error_models import binary, cross_entropy_loss, focal, kl, linear
from verify.judge.error_models import softmax_family as sf
from verify.judge.error_models.layout import elementwise_denominator, reduce
from verify.judge.error_models.model import Model
from verify.judge.error_tracking import Tracked


def _elementwise(terms: Callable[[Mapping[str, Any], Model], Tracked]) -> Any:
    """An elementwise loss: per-element terms (materialised), then the reduction."""

    def forward(kw: Mapping[str, Any], m: Model) -> np.ndarray:
        loss = m.materialise(terms(kw, m))
        return reduce(loss, kw.get("reduction", "mean"), elementwise_denominator(kw), m).e

    return forward


def _family_forward(op: str) -> Any:
    return lambda kw, m: sf.forward(op, kw, m)


def _family_gradient(op: str) -> Any:
    return lambda kw, g, m: sf.gradient(op, kw, g, m)


FORWARD: dict[str, Callable[..., Any]] = {
    **{op: _family_forward(op) for op in sf.OPS},
    "cross_entropy": cross_entropy_loss.forward,
    "nll_loss": cross_entropy_loss.nll_forward,
    "binary_cross_entropy": _elementwise(binary.probability_terms),
    "binary_cross_entropy_with_logits": _elementwise(binary.logits_terms),
    "sigmoid_focal_loss": _elementwise(focal.sigmoid_terms),
    "softmax_focal_loss": focal.softmax_forward,
    "kl_div": _elementwise(kl.terms),
    "linear_cross_entropy": linear.forward,
}

GRADIENT: dict[str, Callable[..., Any]] = {
    **{op: _family_gradient(op) for op in sf.OPS},
    "cross_entropy": cross_entropy_loss.gradient,
    "nll_loss": cross_entropy_loss.nll_gradient,
    "binary_cross_entropy": binary.probability_gradient,
    "binary_cross_entropy_with_logits": binary.logits_gradient,
    "sigmoid_focal_loss": focal.sigmoid_gradient,
    "softmax_focal_loss": focal.softmax_gradient,
    "kl_div": kl.gradient,
    "linear_cross_entropy": linear.gradient,
}

OPS: tuple[str, ...] = tuple(FORWARD)

__all__ = ["FORWARD", "GRADIENT", "OPS", "Model"]
