"""Forward, gradient and forward-mode derivative judged together on one drawn case (special
values, extreme range).

The vector-Jacobian product is judged as the ``gradient`` check judges it, and, where the
entry has a forward mode, so is the Jacobian-vector product along a drawn one-hot tangent
(:func:`verify.checks.gradient.evaluate_jvp`): its reference is the column of the reference
VJP, so at special inputs the jvp follows the conventions the vjp follows
(``docs/semantics.md``); where an output's Jacobian row holds a NaN or an infinity off the
tangent's column, which no convention covers for forward mode, the element is not judged and
the result says so."""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.checks.accuracy import evaluate_forward
from verify.checks.gradient import (
    ForwardModeLog,
    evaluate_gradient,
    evaluate_jvp,
    note_forward_mode,
    vjp_and_jvp,
    with_tangent,
)
from verify.engine.outcome import Verdict
from verify.engine.search import Search
from verify.profiles import Profile
from verify.registry.base import ForwardModeUnavailable, Implementation
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
    gradient where the entry has one, and its forward-mode derivative where it has one."""
    with_grad = impl.vjp is not None
    log = ForwardModeLog()

    def evaluate(case: tuple[dict[str, Any], np.ndarray, int | None]) -> Verdict:
        kwargs, g, flat = case
        verdict = evaluate_forward(impl, kwargs, dtype, device)
        if verdict.failed or not with_grad:
            return verdict
        grad = evaluate_gradient(impl, kwargs, g, dtype, device)
        if flat is not None:
            forward_mode = evaluate_jvp(impl, kwargs, flat, dtype, device, log)
            log.record(forward_mode)
            if not isinstance(forward_mode, ForwardModeUnavailable):
                grad = vjp_and_jvp(grad, forward_mode)
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
    result = search.run(
        with_tangent(impl, dtype, kind, search.profile),
        evaluate,
        kwargs_of=lambda case: case[0],
    )
    if with_grad:
        note_forward_mode(result, impl, log)
    return result
