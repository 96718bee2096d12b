"""The tolerance policy: how far a result may be from the correctly rounded reference.

For every op and dtype, :func:`forward_bound` and :func:`gradient_bound` return, per output
element, a bound ``E`` on the error of the **best known stable algorithm** for that op,
evaluated on exactly the given inputs in the working precision (first-order running error
analysis, :mod:`verify.judge.error_tracking`; one model per op family in
:mod:`verify.judge.error_models`).  A result ``y`` is judged against the correctly rounded
reference value ``r`` with

    allowed = ulp(r) + SAFETY * E,        bound_ratio = |y - r| / allowed   (> 1 fails)

``ulp(r)`` pays for the two final roundings (the implementation's into the output format and
the reference's).  Inputs are never perturbed: conditioning enters only through what the
stable algorithm itself must round (``x - max x`` for the shift-invariant ops, ``log1p`` of the
complement sum, the elementary functions, the blocked sums), so an algorithm that cancels where
the stable one does not (``lse - x_t`` at logits whose spacing exceeds 1, ``p - 1`` after
rounding ``p``, ``x + softplus(-x)``) is reported.  The standard of care per op, with its
citations, is ``docs/tolerances.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.judge import tangent
from verify.judge.error_models import FORWARD, GRADIENT, OPS, Model
from verify.judge.error_models.model import ELEMENTARY_ULPS, working_arithmetic
from verify.judge.ulp import ulp
from verify.ops import output_shape

#: the modelled error E is multiplied by this before adding the final-rounding ULP: it covers
#: reorderings of the stable algorithm (summation orders, ``exp(d) / s`` against
#: ``exp(d - log s)``) and the neglected second-order terms
SAFETY = 2.0


def _known(op: str) -> None:
    if op not in FORWARD:
        raise ValueError(f"no error model for op {op!r}; known: {', '.join(OPS)}")


def forward_bound(op: str, kwargs: Mapping[str, Any], dtype: Any) -> np.ndarray:
    """Modelled error bound ``E`` of the stable algorithm for ``op`` on ``kwargs`` (reference
    argument names), per element of the output (0-d for reductions); NaN where the
    special-value table fixes the value."""
    _known(op)
    return np.asarray(FORWARD[op](kwargs, Model(dtype)), dtype=np.float64)


def gradient_bound(
    op: str, kwargs: Mapping[str, Any], grad_output: Any, dtype: Any
) -> np.ndarray | tuple[np.ndarray, ...]:
    """Modelled error bound ``E`` of the vector-Jacobian product of ``op`` with
    ``grad_output`` w.r.t. its first argument (a tuple for ``linear_cross_entropy``)."""
    _known(op)
    g = np.asarray(grad_output, dtype=np.float64)
    return GRADIENT[op](kwargs, g, Model(dtype))


def one_hot_jvp_bound(
    op: str, kwargs: Mapping[str, Any], k: tuple[int, ...], dtype: Any
) -> np.ndarray:
    """Bound ``E`` per output element of the forward-mode derivative ``J e_k`` (one-hot
    tangent at input element ``k``): each element that depends on ``x_k`` gets the
    :func:`gradient_bound` of the reference VJP it is an element of (same cotangent, same
    element), so a jvp verdict means what a vjp verdict means; NaN (an exact match required)
    at the structural zeros."""
    p = tangent.probe(op, kwargs, k)
    bound = gradient_bound(op, p.kwargs, p.cotangent, dtype)
    first = bound[0] if isinstance(bound, tuple) else bound
    return tangent.gather(p, np.asarray(first, dtype=np.float64), output_shape(op, kwargs), np.nan)


def allowed_error(reference: Any, model_bound: Any, dtype: Any) -> np.ndarray:
    """``ulp(r) + SAFETY * E``: the largest acceptable ``|y - r|`` per element."""
    r = np.asarray(reference, dtype=np.float64)
    e = np.broadcast_to(np.asarray(model_bound, dtype=np.float64), r.shape)
    return ulp(r, dtype) + SAFETY * e


def bound_ratio(result: Any, reference: Any, model_bound: Any, dtype: Any) -> np.ndarray:
    """``|y - r| / allowed_error`` per element (> 1 fails).

    Non-finite reference values must be matched exactly (ratio 0 or inf; NaN matches NaN);
    where the modelled bound is NaN (rows holding NaN or +inf, whose values the special-value
    table fixes) the result must equal the reference exactly; an infinite bound accepts any
    finite result.
    """
    y = np.asarray(result, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    y, r = np.broadcast_arrays(y, r)
    allowed = allowed_error(r, model_bound, dtype)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        ratio = np.abs(y - r) / allowed
    same = (y == r) | (np.isnan(y) & np.isnan(r))
    exact_required = ~np.isfinite(r) | ~np.isfinite(y) | np.isnan(allowed)
    ratio = np.where(exact_required, np.where(same, 0.0, np.inf), ratio)
    ratio = np.where(np.isposinf(allowed) & np.isfinite(y) & np.isfinite(r), 0.0, ratio)
    return ratio


__all__ = [
    "ELEMENTARY_ULPS",
    "OPS",
    "SAFETY",
    "allowed_error",
    "bound_ratio",
    "forward_bound",
    "gradient_bound",
    "one_hot_jvp_bound",
    "working_arithmetic",
]
