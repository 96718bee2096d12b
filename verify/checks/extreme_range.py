"""extreme_range: logits near the format's largest finite value, spreads so wide that ``exp``
underflows, and (float16/bfloat16, ``default`` and ``thorough`` profiles) vocabularies of
thousands to tens of thousands of classes.  Forward and gradient against the reference."""

from __future__ import annotations

from verify.checks.value_and_gradient import run_both
from verify.profiles import Profile
from verify.registry.base import Implementation
from verify.results import Result

CHECK = "extreme_range"


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    return run_both(
        impl,
        dtype,
        device,
        check=CHECK,
        kind="extreme",
        profile=profile,
        seed=seed,
        note="huge magnitudes, underflowing spreads, large vocabularies",
    )
