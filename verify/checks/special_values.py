"""special_values: the special-value table of the contract (``docs/semantics.md``).

Cases drawn with ``kind="special"``: ``-inf`` masks (softmax exactly 0, finite loss unless a
target class is masked), ``+inf`` logits, NaN, ignored rows holding inf/NaN (they contribute
exactly 0 to loss and gradient), exact-zero probability targets at ``-inf`` logits
(``0 * log 0 = 0``), all targets ignored with ``reduction="mean"`` (NaN).  Non-finite
reference values must be matched exactly; finite ones within the bound.  Forward and gradient.
"""

from __future__ import annotations

from verify.engine.value_and_gradient import run_both
from verify.profiles import Profile
from verify.registry.base import Implementation
from verify.results import Result

CHECK = "special_values"


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    return run_both(
        impl,
        dtype,
        device,
        check=CHECK,
        kind="special",
        profile=profile,
        seed=seed,
        note="-inf masks, +inf, NaN, ignored non-finite rows, 0 log 0",
    )
