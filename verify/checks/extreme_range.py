"""extreme_range: logits near the format's largest finite value, spreads so wide that ``exp``
underflows, and, in float16/bfloat16, vocabularies of thousands to tens of thousands of classes
(the profile's ``large_classes``, ``large_examples`` examples).  Forward and gradient against
the reference."""

from __future__ import annotations

from verify.engine.value_and_gradient import run_both
from verify.profiles import Profile, get_profile
from verify.registry.base import Implementation
from verify.results import SEVERITY, Result

CHECK = "extreme_range"
LOW_PRECISION = ("float16", "bfloat16")


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    prof = get_profile(profile) if isinstance(profile, str) else profile
    result = run_both(
        impl,
        dtype,
        device,
        check=CHECK,
        kind="extreme",
        profile=prof,
        seed=seed,
        note="huge magnitudes and underflowing spreads",
    )
    if dtype not in LOW_PRECISION or not prof.large_classes or not prof.large_examples:
        return result
    large = run_both(
        impl,
        dtype,
        device,
        check=CHECK,
        kind="large_vocabulary",
        profile=prof,
        seed=seed,
        note=f"vocabularies of {list(prof.large_classes)} classes",
        max_examples=prof.large_examples,
        shrink_budget=0,  # rows filled from a seed do not shrink; each costs seconds
    )
    return merge(result, large)


def merge(a: Result, b: Result) -> Result:
    """One result from two searches of the same check: the worse status speaks."""
    if b.status == "skip" and a.status != "skip":
        return a
    worse, other = (b, a) if SEVERITY[b.status] > SEVERITY[a.status] else (a, b)
    worse.examples = a.examples + b.examples
    ulps = [x for x in (a.max_ulp, b.max_ulp) if x is not None]
    ratios = [x for x in (a.max_bound_ratio, b.max_bound_ratio) if x is not None]
    worse.max_ulp = max(ulps) if ulps else None
    worse.max_bound_ratio = max(ratios) if ratios else None
    finite = [x for x in (a.finite_max_ulp, b.finite_max_ulp) if x is not None]
    worse.finite_max_ulp = max(finite) if finite else None
    worse.nonfinite_mismatches = a.nonfinite_mismatches + b.nonfinite_mismatches
    worse.duration_s = (a.duration_s or 0.0) + (b.duration_s or 0.0)
    if worse.status == "pass" and other.status == "pass":
        worse.message = f"{a.message}; {b.message}"
    return worse
