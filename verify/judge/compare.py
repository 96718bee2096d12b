"""Judging a returned array against the correctly rounded reference under the tolerance
policy (:mod:`verify.judge.tolerance`), with the severity of a failure
(:mod:`verify.judge.severity`) decided from its worst element."""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.engine.outcome import Verdict, format_value
from verify.judge import severity, tolerance
from verify.judge.input_pattern import InputProfile
from verify.judge.ulp import ulp, ulp_error


def _flat_index(shape: tuple[int, ...], i: int) -> str:
    if not shape:
        return "the scalar result"
    return "index " + str(tuple(int(k) for k in np.unravel_index(i, shape)))


def judge(
    result: Any,
    reference: Any,
    model_bound: Any,
    dtype: str,
    *,
    what: str,
    case: str,
    inputs: InputProfile | None = None,
    who: str = "",
) -> Verdict:
    """Compare ``result`` with ``reference`` (same shape, dtype ``dtype``).

    Fails on a shape mismatch, on any element whose error exceeds ``ulp(r) + SAFETY * E``
    (see :func:`verify.judge.tolerance.bound_ratio`), and on NaN/inf where the reference has
    none (or the reverse).  The message names the worst element, the value returned, the
    reference value, the error in ULPs and the bound.  ``inputs`` (the case's
    :class:`~verify.judge.input_pattern.InputProfile`) decides, with the worst element, the
    severity of a failure; ``who`` names the implementation in a convention's note.
    """
    ref = np.asarray(reference)
    y = np.asarray(result)
    pattern = inputs.pattern if inputs is not None else ""
    if y.shape != ref.shape:
        shape = severity.wrong_shape(what)
        return Verdict(
            failed=True,
            message=f"{what}: returned shape {list(y.shape)}, the reference has "
            f"{list(ref.shape)}, on {case}",
            reference_value=format_value(ref),
            severity=shape.severity,
            severity_note=shape.note,
            input_pattern=pattern,
        )
    if ref.size == 0:
        return Verdict(failed=False, max_ulp=0.0, max_bound_ratio=0.0, finite_max_ulp=0.0)
    ulps = ulp_error(y, ref, dtype)
    ratio = tolerance.bound_ratio(y, ref, model_bound, dtype)
    worst = int(np.argmax(ratio.reshape(-1)))
    max_ratio = float(ratio.reshape(-1)[worst])
    y64 = y.astype(np.float64)
    r64 = ref.astype(np.float64)
    both_finite = np.isfinite(y64) & np.isfinite(r64)
    finite_ulps = ulps[np.isfinite(ulps)]
    max_ulp = float(ulps.max())
    finite_max_ulp = float(ulps[both_finite].max()) if both_finite.any() else 0.0
    nonfinite_mismatches = int((~both_finite & ~np.isfinite(ulps)).sum())
    failed = max_ratio > 1.0
    message = ""
    why: severity.Classification | None = None
    if failed:
        allowed = tolerance.allowed_error(ref, model_bound, dtype).reshape(-1)[worst]
        yv = float(y.astype(np.float64).reshape(-1)[worst])
        rv = float(ref.astype(np.float64).reshape(-1)[worst])
        err = float(ulps.reshape(-1)[worst])
        n_bad = int((ratio > 1).sum())
        if np.isfinite(allowed) and np.isfinite(rv) and np.isfinite(yv):
            detail = (
                f"{err:.4g} ULP off (allowed {allowed / float(ulp(rv, dtype)):.3g} ULP, "
                f"bound ratio {max_ratio:.3g})"
            )
        else:
            detail = "the special-value semantics require an exact match"
        message = (
            f"{what}: at {_flat_index(ref.shape, worst)} returned {yv!r}, correctly rounded "
            f"reference {rv!r}: {detail}; {n_bad} of {ref.size} elements outside the bound; "
            f"on {case}"
        )
        why = severity.classify(
            yv,
            rv,
            dtype,
            nonfinite_inputs=inputs.nonfinite if inputs is not None else False,
            bound_ratio=max_ratio,
            ulps=err,
            who=who,
        )
    return Verdict(
        failed=failed,
        max_ulp=max_ulp if finite_ulps.size == ulps.size else float("inf"),
        max_bound_ratio=max_ratio,
        message=message,
        reference_value=format_value(ref),
        severity=why.severity if why else None,
        severity_note=f"{what}: {why.note}" if why else "",
        input_pattern=pattern,
        finite_max_ulp=finite_max_ulp,
        nonfinite_mismatches=nonfinite_mismatches,
    )


def judge_many(
    parts: list[tuple[str, Any, Any, Any]],
    dtype: str,
    case: str,
    inputs: InputProfile | None = None,
    who: str = "",
) -> Verdict:
    """Judge several (name, result, reference, bound) outputs; the worst verdict wins (the
    most severe failure, the first of those)."""
    verdicts = [
        judge(y, r, e, dtype, what=name, case=case, inputs=inputs, who=who)
        for name, y, r, e in parts
    ]
    return worst(verdicts, inputs)


def worst(verdicts: list[Verdict], inputs: InputProfile | None = None) -> Verdict:
    """Several verdicts on one example folded into one: the most severe failure (the first of
    those) or, when none failed, the largest bound ratio; the largest errors of all.  The
    derivative the picked verdict judged (its cotangent or tangent) stays with it, so the
    reproducer computes the product that failed."""
    failed = [v for v in verdicts if v.failed]
    if failed:
        pick = max(failed, key=lambda v: severity.rank(v.severity))
    else:
        pick = max(verdicts, key=lambda v: v.max_bound_ratio or 0.0)
    return Verdict(
        failed=bool(failed),
        max_ulp=max((v.max_ulp or 0.0) for v in verdicts),
        max_bound_ratio=max((v.max_bound_ratio or 0.0) for v in verdicts),
        message=pick.message,
        reference_value=" | ".join(v.reference_value for v in verdicts),
        severity=pick.severity,
        severity_note=pick.severity_note,
        input_pattern=inputs.pattern if inputs is not None else pick.input_pattern,
        finite_max_ulp=max((v.finite_max_ulp or 0.0) for v in verdicts),
        nonfinite_mismatches=sum(v.nonfinite_mismatches for v in verdicts),
        grad_output=pick.grad_output,
        tangent=pick.tangent,
    )


__all__ = ["judge", "judge_many", "worst"]
