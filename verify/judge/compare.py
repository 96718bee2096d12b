"""Judging a returned array against the correctly rounded reference under the tolerance
policy (:mod:`verify.judge.tolerance`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from verify.engine.outcome import Verdict, format_value
from verify.judge import tolerance
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
) -> Verdict:
    """Compare ``result`` with ``reference`` (same shape, dtype ``dtype``).

    Fails on a shape mismatch, on any element whose error exceeds ``ulp(r) + SAFETY * E``
    (see :func:`verify.judge.tolerance.bound_ratio`), and on NaN/inf where the reference has
    none (or the reverse).  The message names the worst element, the value returned, the
    reference value, the error in ULPs and the bound.
    """
    ref = np.asarray(reference)
    y = np.asarray(result)
    if y.shape != ref.shape:
        return Verdict(
            failed=True,
            message=f"{what}: returned shape {list(y.shape)}, the reference has "
            f"{list(ref.shape)}, on {case}",
            reference_value=format_value(ref),
        )
    if ref.size == 0:
        return Verdict(failed=False, max_ulp=0.0, max_bound_ratio=0.0)
    ulps = ulp_error(y, ref, dtype)
    ratio = tolerance.bound_ratio(y, ref, model_bound, dtype)
    worst = int(np.argmax(ratio.reshape(-1)))
    max_ratio = float(ratio.reshape(-1)[worst])
    finite_ulps = ulps[np.isfinite(ulps)]
    max_ulp = float(ulps.max())
    failed = max_ratio > 1.0
    message = ""
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
    return Verdict(
        failed=failed,
        max_ulp=max_ulp if finite_ulps.size == ulps.size else float("inf"),
        max_bound_ratio=max_ratio,
        message=message,
        reference_value=format_value(ref),
    )


def judge_many(parts: list[tuple[str, Any, Any, Any]], dtype: str, case: str) -> Verdict:
    """Judge several (name, result, reference, bound) outputs; the worst verdict wins."""
    verdicts = [judge(y, r, e, dtype, what=name, case=case) for name, y, r, e in parts]
    failed = [v for v in verdicts if v.failed]
    pick = failed[0] if failed else max(verdicts, key=lambda v: v.max_bound_ratio or 0.0)
    return Verdict(
        failed=bool(failed),
        max_ulp=max((v.max_ulp or 0.0) for v in verdicts),
        max_bound_ratio=max((v.max_bound_ratio or 0.0) for v in verdicts),
        message=pick.message,
        reference_value=" | ".join(v.reference_value for v in verdicts),
    )


__all__ = ["judge", "judge_many"]
