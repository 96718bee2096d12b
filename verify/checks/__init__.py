"""The checks, one module per category of the report (``docs/contract.md`` section 4).

Each module exposes ``run(impl, dtype, device, *, profile, seed) -> Result``.  :data:`CHECKS`
maps the category name to it, in the order a session runs them (:data:`verify.ops.CHECKS`:
``bad_input`` last, since on CUDA an out-of-range index can poison the device context).
See ``docs/checks.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from verify import ops
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

_MODULES = {
    "accuracy": accuracy,
    "gradient": gradient,
    "identity": identity,
    "invariance": invariance,
    "special_values": special_values,
    "extreme_range": extreme_range,
    "cross_framework": cross_framework,
    "bad_input": bad_input,
}
if set(_MODULES) != set(ops.CHECKS):  # pragma: no cover - a check without a module
    raise ImportError(f"check modules {sorted(_MODULES)} differ from verify.ops.CHECKS")

#: the check functions, in the catalogue's session order
CHECKS: dict[str, CheckFunction] = {name: _MODULES[name].run for name in ops.CHECKS}

__all__ = ["CHECKS", "CheckFunction"]
