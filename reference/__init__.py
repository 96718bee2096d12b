"""The correctly rounded reference for the cross-entropy family.

Every function returns a NumPy array (0-d for reductions) holding the exact mathematical value
at the given inputs, rounded once (round-half-even) into ``out_dtype`` (float16, bfloat16,
float32 or float64; default: the input's dtype), gradients included.  Semantics and argument
names follow PyTorch (class axis 1); ``docs/semantics.md`` tabulates the special values.
No arbitrary-precision package is used: float64 and double-double arithmetic with rigorous
error bounds decide almost every output, and the standard library's :mod:`decimal` and
:mod:`fractions` decide the rest (see ``docs/reference.md``).
"""

from reference.binary import (
    binary_cross_entropy,
    binary_cross_entropy_grad,
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
)
from reference.cross_entropy_loss import (
    cross_entropy,
    cross_entropy_grad,
    nll_loss,
    nll_loss_grad,
)
from reference.exact import CertificationError
from reference.focal import (
    sigmoid_focal_loss,
    sigmoid_focal_loss_grad,
    softmax_focal_loss,
    softmax_focal_loss_grad,
)
from reference.formats import FORMATS, Format, format_of
from reference.kl import kl_div, kl_div_grad
from reference.linear import linear_cross_entropy, linear_cross_entropy_grad
from reference.softmax_family import (
    log_softmax,
    log_softmax_grad,
    logsumexp,
    logsumexp_grad,
    softmax,
    softmax_grad,
)

__all__ = [
    "FORMATS",
    "CertificationError",
    "Format",
    "binary_cross_entropy",
    "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "format_of",
    "kl_div",
    "kl_div_grad",
    "linear_cross_entropy",
    "linear_cross_entropy_grad",
    "log_softmax",
    "log_softmax_grad",
    "logsumexp",
    "logsumexp_grad",
    "nll_loss",
    "nll_loss_grad",
    "sigmoid_focal_loss",
    "sigmoid_focal_loss_grad",
    "softmax",
    "softmax_focal_loss",
    "softmax_focal_loss_grad",
    "softmax_grad",
]
