"""accuracy: forward values against the correctly rounded reference, within the bound.

For drawn finite inputs of every style (``verify.strategies._cases(kind="accuracy")``), the
implementation's forward result must be within ``ulp(r) + SAFETY * E`` of the reference value
``r = reference.<op>(..., out_dtype=dtype)`` element by element (``docs/tolerances.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verify.engine.outcome import ImplementationRaised, Verdict, call_impl, raised_verdict
from verify.engine.search import Search
from verify.judge import reference_values as refv
from verify.judge import tolerance
from verify.judge.compare import judge
from verify.judge.input_pattern import profile
from verify.profiles import Profile
from verify.registry.base import Implementation
from verify.results import Result
from verify.strategies import cases, describe_case

CHECK = "accuracy"


def evaluate_forward(
    impl: Implementation, kwargs: Mapping[str, Any], dtype: str, device: str
) -> Verdict:
    """Judge one forward call of ``impl`` on ``kwargs`` against the reference."""
    ref = refv.forward(impl.op, kwargs, dtype)
    case = describe_case(impl.op, dict(kwargs))
    inputs = profile(impl.op, kwargs, dtype)
    try:
        y = call_impl(impl.forward, dict(kwargs), device)
    except ImplementationRaised as exc:
        return raised_verdict(
            "forward", exc, case, inputs.pattern, reference_value=str(ref.tolist())
        )
    bound = tolerance.forward_bound(impl.op, kwargs, dtype)
    return judge(y, ref, bound, dtype, what="forward", case=case, inputs=inputs, who=impl.framework)


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    search = Search(impl, CHECK, dtype, device, profile=profile, seed=seed)
    return search.run(
        cases(impl, dtype, CHECK, search.profile),
        lambda kw: evaluate_forward(impl, kw, dtype, device),
    )
