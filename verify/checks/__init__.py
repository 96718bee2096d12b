"""The checks, one module per category of the report (``docs/contract.md`` section 4).

Each module exposes ``run(impl, dtype, device, *, profile, seed) -> Result``.  :data:`CHECKS`
maps the category name to it, in the order a session runs them (``bad_input`` last: on CUDA an
out-of-range index can poison the device context).  See ``docs/checks.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from verify.checks import (
    accuracy,
    bad_input,
    cross_framework,
    extreme_range,
    gradient,
    identity,
    invariance,
    special_values,
)
from verify.results import Result

CheckFunction = Callable[..., Result]

CHECKS: dict[str, CheckFunction] = {
    "accuracy": accuracy.run,
    "gradient": gradient.run,
    "identity": identity.run,
    "invariance": invariance.run,
    "special_values": special_values.run,
    "extreme_range": extreme_range.run,
    "cross_framework": cross_framework.run,
    "bad_input": bad_input.run,
}

__all__ = ["CHECKS", "CheckFunction"]
