"""gradient: vector-Jacobian products through the framework's autodiff against the correctly
rounded ``reference.<op>_grad``, within the bound; and, where the framework offers forward
mode, Jacobian-vector products on the same drawn case.

``grad_output`` is drawn too (ones, or mixed-sign values exact in the dtype), so cancellations
in the backward formulas are exercised.  For ``linear_cross_entropy`` the reference returns the
gradients of ``input``, ``linear_weight`` and ``linear_bias``; every component the adapter
returns is judged.

Where the framework offers forward-mode autodiff (the entry's ``jvp``: ``jax.jvp``,
``torch.func.jvp``, ``tf.autodiff.ForwardAccumulator``, ``mlx.core.jvp``), the same case also
judges the Jacobian-vector product along a one-hot tangent ``e_k`` at a drawn input element
``k``.  ``J e_k`` is a column of the Jacobian, so each of its elements is one element of a
correctly rounded reference VJP, held to that VJP's bound, and the outputs that do not depend
on ``x_k`` must be exactly zero (:mod:`verify.judge.tangent`).  For ``linear_cross_entropy``
the tangent is on ``input`` only (``linear_weight`` and ``linear_bias`` are held fixed).  A
call whose forward mode the framework does not offer (PyTorch raises ``NotImplementedError``
for an op without a forward-AD formula) is noted, never failed; ``Result.extra
["forward_mode"]`` says ``"checked"`` or why not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify import ops
from verify.engine.outcome import (
    ImplementationRaised,
    Verdict,
    call_impl,
    format_value,
    raised_verdict,
)
from verify.engine.search import Search, skip_result
from verify.judge import reference_values as refv
from verify.judge import severity, tangent, tolerance
from verify.judge.compare import judge, judge_many, worst
from verify.judge.input_pattern import profile
from verify.profiles import Profile
from verify.registry.base import ForwardModeUnavailable, Implementation, Unsupported
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


def with_tangent(
    impl: Implementation, dtype: str, kind: str, profile: Profile
) -> st.SearchStrategy[tuple[dict[str, Any], np.ndarray, int | None]]:
    """(kwargs, grad_output, tangent element) triples: the pairs of :func:`with_grad_output`
    and, for an entry with a forward mode, the flat (C-order) index of the input element ``k``
    whose one-hot tangent the jvp is taken along (None without one)."""
    primary = ops.spec(impl.op).primary

    def add_tangent(
        pair: tuple[dict[str, Any], np.ndarray],
    ) -> st.SearchStrategy[tuple[dict[str, Any], np.ndarray, int | None]]:
        size = int(np.size(pair[0][primary]))
        if impl.jvp is None or size == 0:
            return st.just((pair[0], pair[1], None))
        return st.tuples(st.just(pair[0]), st.just(pair[1]), st.integers(0, size - 1))

    return with_grad_output(impl, dtype, kind, profile).flatmap(add_tangent)


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
        return raised_verdict("gradient", exc, case, inputs.pattern, grad_output=g)
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
    verdict = judge_many(parts, dtype, case, inputs=inputs, who=impl.framework)
    verdict.grad_output = g  # a failure's reproducer computes this product
    return verdict


@dataclasses.dataclass
class ForwardModeLog:
    """What the examples of one search found about the entry's forward mode."""

    checked: int = 0
    not_offered: int = 0
    reason: str = ""
    #: examples, and elements in all, where the jvp was not judged because the output's
    #: Jacobian row holds a non-finite entry off the tangent's column
    #: (:func:`verify.judge.tangent.nonfinite_off_column`)
    unjudged_examples: int = 0
    unjudged_elements: int = 0

    def record(self, outcome: Verdict | ForwardModeUnavailable) -> None:
        if isinstance(outcome, ForwardModeUnavailable):
            self.not_offered += 1
            self.reason = self.reason or str(outcome)
        else:
            self.checked += 1

    def unjudged(self, elements: int) -> None:
        if elements:
            self.unjudged_examples += 1
            self.unjudged_elements += elements

    def unjudged_note(self) -> str:
        """Where the jvp was left unjudged, and why; "" when nowhere."""
        if not self.unjudged_elements:
            return ""
        return (
            f"jvp not judged at {self.unjudged_elements} output elements of "
            f"{self.unjudged_examples} examples, where one side is NaN and the output's "
            "Jacobian row holds a NaN or an infinity off the tangent's column (forward mode "
            "multiplies it by the tangent's 0; no derivative convention says which is right)"
        )

    def summary(self) -> str:
        """``"checked"``, or why forward mode was not offered (with both counts when only some
        examples had it); and where it was left unjudged."""
        note = self.unjudged_note()
        tail = f"; {note}" if note else ""
        if not self.not_offered:
            return "checked" + tail
        why = f"forward mode not offered ({self.reason})"
        if not self.checked:
            return why
        return f"checked on {self.checked} examples; {why} on {self.not_offered}{tail}"


def evaluate_jvp(
    impl: Implementation,
    kwargs: Mapping[str, Any],
    flat: int,
    dtype: str,
    device: str,
    log: ForwardModeLog | None = None,
) -> Verdict | ForwardModeUnavailable:
    """Judge the entry's forward-mode derivative along the one-hot tangent at input element
    number ``flat`` (C order) against :func:`verify.judge.reference_values.one_hot_jvp`, with
    the bound :func:`verify.judge.tolerance.one_hot_jvp_bound`; the structurally zero elements
    must be exactly 0.  Elements without a derivative convention are not judged
    (:func:`_undefined_where_value_is_nan`, :func:`_undefined_off_column`; counted in ``log``).
    A :class:`~verify.registry.base.ForwardModeUnavailable` when the framework offers no
    forward mode for this call."""
    assert impl.jvp is not None
    op = impl.op
    primary = ops.spec(op).primary
    k = tangent.tangent_index(op, kwargs, flat)
    what = f"forward-mode derivative (jvp) along e_k, k = {primary} index {list(k)}"
    case = describe_case(op, dict(kwargs)) + f" with tangent e_k at {primary} index {list(k)}"
    if op in ops.FUSED_LINEAR:
        case += " (linear_weight and linear_bias held fixed)"
    inputs = profile(op, kwargs, dtype)
    e_k = tangent.one_hot(op, kwargs, k)  # a failure's reproducer computes J e_k
    try:
        got = call_impl(impl.jvp, dict(kwargs), e_k, device)
    except Unsupported as exc:  # e.g. a kernel the build lacks, only in forward mode
        return ForwardModeUnavailable(str(exc))
    except ImplementationRaised as exc:
        if isinstance(exc.original, ForwardModeUnavailable):
            return exc.original
        return raised_verdict(what, exc, case, inputs.pattern, tangent=e_k)
    ref = refv.one_hot_jvp(op, kwargs, k, dtype)
    got = np.asarray(got)
    if got.size == ref.size:  # the framework's output layout, as the vjp's cotangent takes it
        got = got.reshape(ref.shape)
    if got.shape == ref.shape:
        got = _undefined_where_value_is_nan(op, kwargs, dtype, got, ref)
        got, unjudged = _undefined_off_column(op, kwargs, k, dtype, got, ref)
        if log is not None:
            log.unjudged(unjudged)
        off = ~tangent.dependent(op, kwargs, k) & (got.astype(np.float64) != 0)
        if off.any():
            j = tuple(int(i) for i in np.argwhere(off)[0])
            value = float(got.astype(np.float64)[j])
            why = severity.classify(
                value, 0.0, dtype, nonfinite_inputs=inputs.nonfinite, who=impl.framework
            )
            return Verdict(
                failed=True,
                max_ulp=float("inf"),
                max_bound_ratio=float("inf"),
                message=(
                    f"{what}: at output index {list(j)} returned {value!r}, but that output does "
                    f"not depend on {primary}{list(k)}, so the derivative is exactly 0; "
                    f"{int(off.sum())} of {ref.size} elements nonzero where they must be 0; "
                    f"on {case}"
                ),
                reference_value=f"jvp along e_k: {format_value(ref)}",
                severity=why.severity,
                severity_note=f"{what}: {why.note}",
                input_pattern=inputs.pattern,
                tangent=e_k,
            )
    bound = tolerance.one_hot_jvp_bound(op, kwargs, k, dtype)
    verdict = judge(got, ref, bound, dtype, what=what, case=case, inputs=inputs, who=impl.framework)
    verdict.reference_value = f"jvp along e_k: {verdict.reference_value}"
    verdict.tangent = e_k
    return verdict


def _undefined_where_value_is_nan(
    op: str, kwargs: Mapping[str, Any], dtype: str, got: np.ndarray, ref: np.ndarray
) -> np.ndarray:
    """``got`` with its NaNs replaced by the reference where the op's own value is NaN on
    finite inputs (``reduction="mean"`` over zero total weight is 0/0): forward mode carries
    that NaN into the derivative, reverse mode's convention gives the ignored rows 0
    (``docs/semantics.md``), and neither is judged there."""
    nan = np.isnan(got.astype(np.float64)) & ~np.isnan(ref.astype(np.float64))
    if not nan.any():
        return got
    value = np.broadcast_to(np.isnan(refv.forward(op, kwargs, dtype).astype(np.float64)), nan.shape)
    return np.where(nan & value, ref, got)


def _undefined_off_column(
    op: str,
    kwargs: Mapping[str, Any],
    k: tuple[int, ...],
    dtype: str,
    got: np.ndarray,
    ref: np.ndarray,
) -> tuple[np.ndarray, int]:
    """``got`` with the reference put where exactly one side is NaN and the output's Jacobian
    row holds a non-finite entry off column ``k`` (the reference's conventions for rows whose
    term is NaN or +inf, ``docs/semantics.md``): forward mode's IEEE product of that entry with
    the tangent's 0 is NaN, the column's entry is not, and no convention decides between them
    (:func:`verify.judge.tangent.nonfinite_off_column`); and how many elements that is.  Costs
    one more reference VJP (cotangent 1), only on an example where the NaNs differ."""
    differ = np.isnan(got.astype(np.float64)) != np.isnan(ref.astype(np.float64))
    if not differ.any():
        return got, 0
    primary = np.asarray(kwargs[ops.spec(op).primary])
    ones = np.ones(refv.output_shape(op, kwargs), dtype=primary.dtype)
    sums = refv.gradient(op, kwargs, ones, dtype)
    first = sums[0] if isinstance(sums, tuple) else sums
    undefined = differ & tangent.nonfinite_off_column(op, kwargs, k, first)
    if not undefined.any():
        return got, 0
    return np.where(undefined, ref, got), int(undefined.sum())


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    if impl.vjp is None:
        return skip_result(impl, CHECK, dtype, device, f"{impl.name} has no gradient")
    search = Search(impl, CHECK, dtype, device, profile=profile, seed=seed)
    log = ForwardModeLog()

    def evaluate(case: tuple[dict[str, Any], np.ndarray, int | None]) -> Verdict:
        kwargs, g, flat = case
        verdict = evaluate_gradient(impl, kwargs, g, dtype, device)
        if flat is None:
            return verdict
        forward = evaluate_jvp(impl, kwargs, flat, dtype, device, log)
        log.record(forward)
        if isinstance(forward, ForwardModeUnavailable):
            return verdict
        return vjp_and_jvp(verdict, forward)

    result = search.run(
        with_tangent(impl, dtype, CHECK, search.profile), evaluate, kwargs_of=lambda c: c[0]
    )
    note_forward_mode(result, impl, log)
    return result


def vjp_and_jvp(vjp: Verdict, jvp: Verdict) -> Verdict:
    """The verdicts of one example's vjp and jvp as one (the more severe failure), with the
    reference value of the product that failed, which its reproducer computes."""
    both = worst([vjp, jvp])
    if both.failed:
        both.reference_value = (jvp if both.tangent is not None else vjp).reference_value
    return both


def note_forward_mode(result: Result, impl: Implementation, log: ForwardModeLog) -> None:
    """What the search found about the entry's forward mode, in ``result.extra
    ["forward_mode"]`` and, on a pass, in its message."""
    if impl.jvp is None:
        result.extra["forward_mode"] = f"not offered (no forward mode in {impl.framework} entries)"
    elif log.checked or log.not_offered:
        result.extra["forward_mode"] = log.summary()
    if result.status != "pass":
        return
    if log.not_offered:
        result.message += f"; forward mode not offered ({log.reason})"
        if log.checked:
            result.message += f" on {log.not_offered} of {log.checked + log.not_offered} examples"
    if log.unjudged_note():
        result.message += f"; {log.unjudged_note()}"
