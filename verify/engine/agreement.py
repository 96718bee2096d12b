"""Judging two computed results that should be mathematically equal (identities, invariances,
two implementations): neither is the reference, so each side gets its own allowance.

    |a - b| <= allowed_a + allowed_b,   allowed = ulp(v) + SAFETY * E

with ``E`` the modelled bound of each side's computation (:mod:`verify.judge.tolerance`)
and ``v`` the side's own value standing in for the unknown reference.  NaN and infinities
must match exactly.

A disagreement alone does not say who is wrong.  :func:`decided_by_reference` asks the
reference: only a side that is itself outside its bound against the correctly rounded value
fails (and only the sides the check is about are blamed; another entry's error shows in that
entry's own results).  Two sides that both agree with the reference never fail, however far
apart they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.engine.outcome import Verdict
from verify.judge import severity, tolerance


def agreement(
    a: Any,
    b: Any,
    bound_a: Any,
    bound_b: Any,
    dtype: str,
    *,
    what: str,
    case: str,
    extra: Any = 0.0,
) -> Verdict:
    """Verdict on ``a == b`` up to both sides' allowances (plus ``extra``, absolute)."""
    av = np.asarray(a, dtype=np.float64)
    bv = np.asarray(b, dtype=np.float64)
    if av.shape != bv.shape:
        return Verdict(
            failed=True,
            message=f"{what}: shapes {list(av.shape)} and {list(bv.shape)} differ, on {case}",
            severity=severity.WRONG_VALUE,
        )
    if av.size == 0:
        return Verdict(failed=False, max_bound_ratio=0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        allow = (
            tolerance.allowed_error(np.where(np.isfinite(av), av, 0.0), bound_a, dtype)
            + tolerance.allowed_error(np.where(np.isfinite(bv), bv, 0.0), bound_b, dtype)
            + np.asarray(extra, dtype=np.float64)
        )
        ratio = np.abs(av - bv) / allow
    same = (av == bv) | (np.isnan(av) & np.isnan(bv))
    exact = ~np.isfinite(av) | ~np.isfinite(bv) | np.isnan(allow)
    ratio = np.where(exact, np.where(same, 0.0, np.inf), ratio)
    ratio = np.where(np.isposinf(allow) & ~exact, 0.0, ratio)
    flat = ratio.reshape(-1)
    worst = int(np.argmax(flat))
    failed = bool(flat[worst] > 1.0)
    message = ""
    why = None
    if failed:
        idx = tuple(int(i) for i in np.unravel_index(worst, av.shape)) if av.ndim else ()
        message = (
            f"{what}: at {idx if idx else 'the scalar result'} {float(av.reshape(-1)[worst])!r} "
            f"vs {float(bv.reshape(-1)[worst])!r} (bound ratio {flat[worst]:.3g}), on {case}"
        )
        why = severity.classify_disagreement(av.reshape(-1)[worst], bv.reshape(-1)[worst], dtype)
    return Verdict(
        failed=failed,
        max_bound_ratio=float(flat[worst]),
        message=message,
        severity=why.severity if why else None,
        severity_note=f"{what}: {why.note}" if why else "",
    )


@dataclasses.dataclass(frozen=True)
class Side:
    """One side of a comparison: what it is, the value it returned, and the call whose
    correctly rounded value it must match (``op`` on ``kwargs``, bound ``bound``)."""

    label: str
    value: Any
    op: str
    kwargs: Mapping[str, Any]
    bound: Any
    #: whether this side is the implementation under test (only such sides can fail)
    blamed: bool = True
    #: the call the reproducer should show for this side (defaults to ``kwargs``)
    reproduce: Mapping[str, Any] | None = None


def decided_by_reference(verdict: Verdict, sides: list[Side], dtype: str, case: str) -> Verdict:
    """``verdict`` (an :func:`agreement`) settled by the reference when it failed.

    Each blamed side is judged against the correctly rounded value of its own call; the first
    one outside its bound fails, its message naming the disagreement.  When none is, the
    comparison passes (the other side, not under test here, is the one off, or both are within
    their bounds).
    """
    if not verdict.failed:
        return verdict
    from verify.judge import reference_values as refv
    from verify.judge.compare import judge

    what = verdict.message.split(": at ")[0]
    ratios: list[float] = []
    for side in sides:
        ref = refv.forward(side.op, side.kwargs, dtype)
        own = judge(side.value, ref, side.bound, dtype, what=side.label, case=case)
        if own.failed and side.blamed:
            own.message = f"{what}; against the reference, {own.message}"
            own.kwargs = side.reproduce if side.reproduce is not None else side.kwargs
            return own
        if side.blamed:
            ratios.append(own.max_bound_ratio or 0.0)
    return Verdict(failed=False, max_bound_ratio=max(ratios, default=0.0))


def worst(verdicts: list[Verdict]) -> Verdict | None:
    """The first failing verdict, else the one with the largest ratio (None if empty)."""
    if not verdicts:
        return None
    failed = [v for v in verdicts if v.failed]
    if failed:
        pick = failed[0]
    else:
        pick = max(verdicts, key=lambda v: v.max_bound_ratio or 0.0)
    pick.max_bound_ratio = (
        max((v.max_bound_ratio or 0.0) for v in verdicts) if not failed else (pick.max_bound_ratio)
    )
    return pick


__all__ = ["Side", "agreement", "decided_by_reference", "worst"]
