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

from verify import ops
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
    ops.CROSS_ENTROPY: cross_entropy_loss.forward,
    ops.NLL_LOSS: cross_entropy_loss.nll_forward,
    ops.BINARY_CROSS_ENTROPY: _elementwise(binary.probability_terms),
    ops.BINARY_CROSS_ENTROPY_WITH_LOGITS: _elementwise(binary.logits_terms),
    ops.SIGMOID_FOCAL_LOSS: _elementwise(focal.sigmoid_terms),
    ops.SOFTMAX_FOCAL_LOSS: focal.softmax_forward,
    ops.KL_DIV: _elementwise(kl.terms),
    ops.LINEAR_CROSS_ENTROPY: linear.forward,
}

GRADIENT: dict[str, Callable[..., Any]] = {
    **{op: _family_gradient(op) for op in sf.OPS},
    ops.CROSS_ENTROPY: cross_entropy_loss.gradient,
    ops.NLL_LOSS: cross_entropy_loss.nll_gradient,
    ops.BINARY_CROSS_ENTROPY: binary.probability_gradient,
    ops.BINARY_CROSS_ENTROPY_WITH_LOGITS: binary.logits_gradient,
    ops.SIGMOID_FOCAL_LOSS: focal.sigmoid_gradient,
    ops.SOFTMAX_FOCAL_LOSS: focal.softmax_gradient,
    ops.KL_DIV: kl.gradient,
    ops.LINEAR_CROSS_ENTROPY: linear.gradient,
}

OPS: tuple[str, ...] = tuple(FORWARD)

__all__ = ["FORWARD", "GRADIENT", "OPS", "Model"]
