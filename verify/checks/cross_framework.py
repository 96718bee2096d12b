"""cross_framework: registered implementations of other frameworks that claim the same semantics
(same op, same target kind, same dtype) must agree with this one on the same inputs.

Two results agree when ``|a - b| <= allowed_a + allowed_b`` (:mod:`agreement`).  On a
disagreement the reference decides who is wrong: this entry fails only when its own result is
outside its bound (the other entry's own result then shows its failure).  Other frameworks are
compared on CPU.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from verify.engine.agreement import agreement
from verify.engine.outcome import ImplementationRaised, Verdict, call_impl, raised_verdict
from verify.engine.search import Search, skip_result
from verify.judge import input_pattern, tolerance
from verify.judge import reference_values as refv
from verify.judge.compare import judge
from verify.profiles import Profile
from verify.registry.base import Implementation, Unsupported
from verify.results import Result
from verify.strategies import cases, describe_case

CHECK = "cross_framework"


def counterparts(impl: Implementation, dtype: str) -> list[Implementation]:
    """Entries of other installed frameworks with the same op, target kind and dtype, among
    the frameworks that can share this process with ``impl``'s (``process_compatible``)."""
    from verify.registry import all_implementations, installed_frameworks, process_compatible

    out: list[Implementation] = []
    for fw in process_compatible(installed_frameworks(), with_=impl.framework):
        if fw == impl.framework:
            continue
        try:
            entries = all_implementations(fw)
        except Exception:
            continue
        out.extend(
            e
            for e in entries
            if e.op == impl.op
            and e.capabilities.target == impl.capabilities.target
            and dtype in e.dtypes
        )
    return out


def run(
    impl: Implementation,
    dtype: str,
    device: str,
    *,
    profile: str | Profile,
    seed: int | None,
    others: list[Implementation] | None = None,
) -> Result:
    if others is None:
        # the plain entries of the other frameworks: their compiled code paths are judged
        # against the reference by their own checks (verify.ops.CODE_PATH_CHECKS)
        others = [o for o in counterparts(impl, dtype) if not o.code_path]
    if not others:
        return skip_result(
            impl, CHECK, dtype, device, "no other installed framework registers the same semantics"
        )

    def evaluate(pair: tuple[dict[str, Any], Implementation]) -> Verdict | None:
        kw, other = pair
        case = describe_case(impl.op, kw)
        inputs = input_pattern.profile(impl.op, kw, dtype)
        try:
            a = call_impl(impl.forward, dict(kw), device)
        except ImplementationRaised as exc:
            return raised_verdict("forward", exc, case, inputs.pattern)
        try:
            b = call_impl(other.forward, dict(kw), "cpu")
        except (Unsupported, ImplementationRaised):
            return None
        bound = tolerance.forward_bound(impl.op, kw, dtype)
        v = agreement(a, b, bound, bound, dtype, what=f"{impl.name} vs {other.name}", case=case)
        v.input_pattern = inputs.pattern
        if not v.failed:
            return v
        ref = refv.forward(impl.op, kw, dtype)
        own = judge(
            a, ref, bound, dtype, what="forward", case=case, inputs=inputs, who=impl.framework
        )
        if own.failed:
            own.message = f"disagrees with {other.name}, and is the one off: {own.message}"
            return own
        v.failed = False
        return v

    search = Search(impl, CHECK, dtype, device, profile=profile, seed=seed)
    strategy = st.tuples(cases(impl, dtype, "accuracy", search.profile), st.sampled_from(others))
    result = search.run(strategy, evaluate, kwargs_of=lambda pair: pair[0])
    result.extra["compared_with"] = sorted({o.name for o in others})
    return result


__all__ = ["counterparts", "run"]
