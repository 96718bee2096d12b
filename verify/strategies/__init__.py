"""Hypothesis strategies for cross-entropy-family inputs, exported for users.

``cases(impl, dtype, kind, profile)`` composes a full reference-convention kwargs dict for a
registered implementation; the pieces (``logits``, ``index_targets``, ``probability_targets``,
``binary_targets``, ``class_weights``, ...) can be used on their own::

    from hypothesis import given
    from verify.strategies import logits

    @given(logits("bfloat16", (4, 32000), style="spread"))
    def test_my_softmax(x): ...
"""

from verify.strategies._cases import KINDS, cases, describe_case, grad_outputs
from verify.strategies._logits import ELEMENTWISE_LIMIT, LOGIT_STYLES, logits
from verify.strategies._targets import (
    LABEL_SMOOTHING,
    binary_targets,
    class_weights,
    focal_alpha,
    focal_gamma,
    ignore_indices,
    index_targets,
    probabilities,
    probability_targets,
)
from verify.strategies._values import DTYPES, exact_floats, grid_floats

__all__ = [
    "DTYPES",
    "ELEMENTWISE_LIMIT",
    "KINDS",
    "LABEL_SMOOTHING",
    "LOGIT_STYLES",
    "binary_targets",
    "cases",
    "class_weights",
    "describe_case",
    "exact_floats",
    "focal_alpha",
    "focal_gamma",
    "grad_outputs",
    "grid_floats",
    "ignore_indices",
    "index_targets",
    "logits",
    "probabilities",
    "probability_targets",
]
