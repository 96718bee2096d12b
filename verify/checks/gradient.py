"""gradient: vector-Jacobian products through the framework's autodiff against the correctly
rounded ``reference.<op>_grad``, within the bound.

``grad_output`` is drawn too (ones, or mixed-sign values exact in the dtype), so cancellations
in the backward formulas are exercised.  For ``linear_cross_entropy`` the reference returns the
gradients of ``input``, ``linear_weight`` and ``linear_bias``; every component the adapter
returns is judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify import ops
from verify.engine.outcome import ImplementationRaised, Verdict, call_impl
from verify.engine.search import Search, skip_result
from verify.judge import reference_values as refv
from verify.judge import severity, tolerance
from verify.judge.compare import judge_many
from verify.judge.input_pattern import profile
from verify.profiles import Profile
from verify.registry.base import Implementation
from verify.results import Result
from verify.strategies import cases, describe_case, grad_outputs

CHECK = "gradient"
GRAD_NAMES = ("input", "linear_weight", "linear_bias")


def with_grad_output(
    impl: Implementation, dtype: str, kind: str, profile: Profile
) -> st.SearchStrategy[tuple[dict[str, Any], np.ndarray]]:
    """(kwargs, grad_output) pairs."""
    return cases(impl, dtype, kind, profile).flatmap(
        lambda kw: st.tuples(st.just(kw), grad_outputs(refv.output_shape(impl.op, kw), dtype))
    )


def evaluate_gradient(
    impl: Implementation, kwargs: Mapping[str, Any], g: np.ndarray, dtype: str, device: str
) -> Verdict:
    """Judge one vector-Jacobian product of ``impl`` against the reference."""
    assert impl.vjp is not None
    ref = refv.gradient(impl.op, kwargs, g, dtype)
    case = (
        describe_case(impl.op, dict(kwargs)) + f" with grad_output {g.astype(np.float64).tolist()}"
    )
    inputs = profile(impl.op, kwargs, dtype)
    try:
        got = call_impl(impl.vjp, dict(kwargs), g, device)
    except ImplementationRaised as exc:
        why = severity.raised_on_valid_input("gradient")
        return Verdict(
            failed=True,
            message=f"gradient raised {exc} on a valid input: {case}",
            severity=why.severity,
            severity_note=f"{why.note}: {exc}",
            input_pattern=inputs.pattern,
        )
    bounds = tolerance.gradient_bound(impl.op, kwargs, g, dtype)
    refs = ref if isinstance(ref, tuple) else (ref,)
    gots = tuple(got) if isinstance(got, tuple | list) else (got,)
    bnds = bounds if isinstance(bounds, tuple) else (bounds,)
    # linear_cross_entropy: (input, linear_weight, linear_bias); without a bias the last is
    # None on both sides and has no bound
    parts = [
        (
            f"gradient w.r.t. {GRAD_NAMES[i] if impl.op in ops.FUSED_LINEAR else 'input'}",
            gots[i],
            refs[i],
            bnds[i],
        )
        for i in range(min(len(gots), len(refs), len(bnds)))
        if gots[i] is not None and refs[i] is not None
    ]
    return judge_many(parts, dtype, case, inputs=inputs, who=impl.framework)


def run(
    impl: Implementation,
    dtype: str,
    device: str,
    *,
    profile: str | Profile,
    seed: int | None,
    kind: str = "gradient",
    check: str = CHECK,
) -> Result:
    if impl.vjp is None:
        return skip_result(impl, check, dtype, device, f"{impl.name} has no gradient")
    search = Search(impl, check, dtype, device, profile=profile, seed=seed)
    return search.run(
        with_grad_output(impl, dtype, kind, search.profile),
        lambda pair: evaluate_gradient(impl, pair[0], pair[1], dtype, device),
        kwargs_of=lambda pair: pair[0],
    )
