"""Forward and gradient judged together on one drawn case (special values, extreme range)."""

from __future__ import annotations

from verify.checks.accuracy import evaluate_forward
from verify.checks.gradient import evaluate_gradient, with_grad_output
from verify.engine.outcome import Verdict
from verify.engine.search import Search
from verify.profiles import Profile
from verify.registry.base import Implementation
from verify.results import Result


def run_both(
    impl: Implementation,
    dtype: str,
    device: str,
    *,
    check: str,
    kind: str,
    profile: str | Profile,
    seed: int | None,
    note: str,
    max_examples: int | None = None,
    shrink_budget: int | None = None,
) -> Result:
    """Search ``cases(kind=kind)``: the forward must match the reference, and so must the
    gradient where the entry has one."""
    with_grad = impl.vjp is not None

    def evaluate(pair: tuple) -> Verdict:
        kwargs, g = pair
        verdict = evaluate_forward(impl, kwargs, dtype, device)
        if verdict.failed or not with_grad:
            return verdict
        grad = evaluate_gradient(impl, kwargs, g, dtype, device)
        grad.max_ulp = max(grad.max_ulp or 0.0, verdict.max_ulp or 0.0)
        grad.max_bound_ratio = max(grad.max_bound_ratio or 0.0, verdict.max_bound_ratio or 0.0)
        grad.finite_max_ulp = max(grad.finite_max_ulp or 0.0, verdict.finite_max_ulp or 0.0)
        grad.nonfinite_mismatches += verdict.nonfinite_mismatches
        return grad

    search = Search(
        impl,
        check,
        dtype,
        device,
        profile=profile,
        seed=seed,
        max_examples=max_examples,
        key=kind,
        shrink_budget=shrink_budget,
    )
    if not with_grad:
        search.notes.append("forward only (no gradient available)")
    search.notes.append(note)
    return search.run(
        with_grad_output(impl, dtype, kind, search.profile),
        evaluate,
        kwargs_of=lambda pair: pair[0],
    )
