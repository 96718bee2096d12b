"""A log_softmax entry built on the reference itself, for tests that plant one wrong function
(a vjp, a jvp) and watch what the checks and reproducers make of it."""

from __future__ import annotations

from typing import Any

import numpy as np

import reference
from verify import ops
from verify.registry.base import Capabilities, Implementation

#: what the fake entry's forward reproducer prints, so a test can tell it from a product's script
FORWARD_SCRIPT = "# FORWARD SCRIPT\n"


def reference_forward(kwargs: Any, device: str) -> np.ndarray:
    """log_softmax of ``kwargs["x"]`` along ``kwargs["axis"]``, correctly rounded."""
    return np.asarray(reference.log_softmax(kwargs["x"], axis=kwargs.get("axis", -1)))


def entry(
    dtype: str = "float32", name: str = "fake.log_softmax", framework: str = "numpy", **fields: Any
) -> Implementation:
    """A log_softmax entry ``name`` of ``framework`` on ``dtype``: the reference's forward, the
    forward reproducer :data:`FORWARD_SCRIPT`, and ``fields`` (``vjp``, ``jvp``,
    ``code_path``, reproducers) as given."""
    return Implementation(
        name=name,
        framework=framework,
        op=ops.LOG_SOFTMAX,
        forward=reference_forward,
        capabilities=Capabilities(axis=True),
        dtypes=(dtype,),
        reproducer=lambda kwargs, device: FORWARD_SCRIPT,
        **fields,
    )
