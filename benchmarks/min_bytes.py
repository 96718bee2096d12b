"""The fewest bytes a fused kernel must move between memory and the processor for one call.

This is the numerator of the achieved-bandwidth figure (the roofline model: a kernel whose
arithmetic intensity is low, as every softmax/cross-entropy kernel's is, cannot run faster
than ``min_bytes / bandwidth``; https://doi.org/10.1145/1498765.1498785).

- Forward: every array argument is read once (logits, targets, class weights) and the result
  is written once.  A fused kernel keeps a row's running max and sum in registers, so nothing
  else need touch memory.
- Forward and backward: the forward's traffic, plus reading the upstream gradient (shaped like
  the result; a scalar for reduced losses) and writing the gradient with respect to
  ``input`` (shaped like ``input``).  Recomputing the softmax from the logits during the
  backward pass instead of storing it costs arithmetic, not memory traffic, so a perfectly
  fused forward+backward cross entropy with class-index targets moves
  ``2 * N * C * itemsize + N * 8`` bytes (plus a few scalars).

Sizes are counted in the reference-convention dtypes (int64 class indices); a framework
that narrows indices to int32 reads slightly less.  The result's shape is
:func:`verify.ops.output_shape` of the call's arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def forward_bytes(
    arguments: Iterable[np.ndarray], output_shape: tuple[int, ...], itemsize: int
) -> int:
    """Read each argument once, write the output once."""
    return sum(int(a.nbytes) for a in arguments) + math.prod(output_shape) * itemsize


def forward_backward_bytes(
    arguments: Iterable[np.ndarray],
    input_array: np.ndarray,
    output_shape: tuple[int, ...],
    itemsize: int,
) -> int:
    """Forward traffic + read the upstream gradient + write the input's gradient."""
    upstream = math.prod(output_shape) * itemsize
    return forward_bytes(arguments, output_shape, itemsize) + upstream + int(input_array.nbytes)
