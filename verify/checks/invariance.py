"""invariance: transformations that leave the mathematical result unchanged.

- shift: adding a per-row constant ``c`` to the logits (with ``x + c`` exact in the dtype)
  leaves softmax, log_softmax and softmax-based losses unchanged and moves logsumexp by ``c``.
  ``c`` reaches beyond ``log(max float)``, so an unshifted ``exp`` overflows and is caught, and
  up to ``2^(p + 3)``, where the float spacing exceeds 1 and an algorithm that subtracts a logit
  before shifting has no correct digit.
  Inputs are drawn on a grid fine enough to be interesting and coarse enough for ``x + c`` to
  stay exact;
- class permutation: permuting the classes (and the class weights, and remapping index targets)
  permutes softmax/log_softmax and leaves logsumexp and the losses unchanged;
- row independence: a row's result does not depend on the other rows of the batch, even when
  they hold huge values, ``-inf``, ``+inf`` or NaN (catches a max taken over the whole tensor
  and NaN leaking across rows): the first half of the rows, computed once with the case's
  other rows and once with those overwritten, in the same shape.  Applies to per-row outputs
  (softmax family, ``reduction="none"``) of cases with two rows or more.

When the two calls disagree, the reference decides
(:func:`~verify.engine.agreement.decided_by_reference`): the call whose result is outside its
bound against its own correctly rounded value fails, with that call as the reproducer; two
results that both agree with the reference pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from verify.engine.agreement import Side, agreement, decided_by_reference, worst
from verify.engine.outcome import ImplementationRaised, Verdict, call_impl
from verify.engine.search import Search
from verify.judge import tolerance
from verify.ops import (
    BINARY_CROSS_ENTROPY,
    CROSS_ENTROPY,
    FUSED_LINEAR,
    KL_DIV,
    LOG_SOFTMAX,
    LOGSUMEXP,
    NLL_LOSS,
    SOFTMAX,
    SOFTMAX_FAMILY,
    SOFTMAX_FOCAL_LOSS,
)
from verify.profiles import Profile
from verify.registry.base import Implementation, Unsupported
from verify.results import Result
from verify.strategies import cases, describe_case
from verify.strategies._values import check_dtype

CHECK = "invariance"
SHIFTABLE = (*SOFTMAX_FAMILY, CROSS_ENTROPY, SOFTMAX_FOCAL_LOSS)
PERMUTABLE = (*SHIFTABLE, NLL_LOSS)


def _logit_key(op: str) -> str:
    return "x" if op in SOFTMAX_FAMILY else "input"


def _class_axis(op: str, kw: dict[str, Any]) -> int:
    if op in SOFTMAX_FAMILY:
        return int(kw.get("axis", -1)) % np.ndim(kw["x"])
    return 1


@st.composite
def _shift_case(draw: st.DrawFn, base: dict[str, Any], op: str, dtype: str) -> dict[str, Any]:
    """Replace the logits by a grid on which ``x + c`` is exact, and draw ``c``."""
    fmt = check_dtype(dtype)
    key = _logit_key(op)
    x = np.asarray(base[key])
    j_max = math.ceil(math.log2(2 * math.log(fmt.max_finite))) + 1
    # shifts beyond log(max float), where an unshifted exp overflows, and shifts whose float
    # spacing exceeds 1, where forming x + c - lse(x + c) after rounding cancels
    coarse = [j for j in range(fmt.precision, fmt.precision + 4) if 2.0 ** (j + 2) < fmt.max_finite]
    j = draw(
        st.one_of(st.just(j_max), st.integers(0, j_max), st.sampled_from(coarse)), label="log2 c"
    )
    step = 2.0 ** (j + 2 - fmt.precision)
    # at coarse shifts the grid is a few spacings wide: ties and moderate gaps, not one-hot rows
    m = 3 if j >= fmt.precision - 2 else 2 ** (fmt.precision - 2)
    vals = draw(st.lists(st.integers(-m, m), min_size=x.size, max_size=x.size), label="grid")
    grid = np.asarray(vals, dtype=np.float64).reshape(x.shape) * step
    grid = grid * min(1.0, 8.0 / max(np.abs(grid).max(), 1e-300)) if j < 3 else grid
    grid = np.round(grid / step) * step
    sign = draw(st.sampled_from([1.0, -1.0]), label="sign of c")
    c = sign * 2.0**j
    kw = dict(base)
    kw[key] = grid.astype(fmt.dtype)
    kw["__shift__"] = c
    return kw


def _shift(impl: Implementation, kw: dict[str, Any], dtype: str, device: str) -> Verdict | None:
    op = impl.op
    c = kw.pop("__shift__")
    key = _logit_key(op)
    x = np.asarray(kw[key])
    shifted = x.astype(np.float64) + c
    xs = shifted.astype(x.dtype)
    if not np.array_equal(xs.astype(np.float64), shifted):
        return None  # not exact in the dtype (should not happen on the grid)
    skw = {**kw, key: xs}
    a = np.asarray(call_impl(impl.forward, kw, device), dtype=np.float64)
    b_raw = np.asarray(call_impl(impl.forward, skw, device), dtype=np.float64)
    b = b_raw - c if op == LOGSUMEXP else b_raw
    bound_s = tolerance.forward_bound(op, skw, dtype)
    bound = tolerance.forward_bound(op, kw, dtype)
    case = describe_case(op, skw)
    verdict = agreement(
        b,
        a,
        bound_s,
        bound,
        dtype,
        what=f"adding {c!r} to every logit",
        case=case,
        extra=tolerance.allowed_error(np.asarray(c), 0.0, dtype) if op == LOGSUMEXP else 0.0,
    )
    verdict.kwargs = skw  # the reproducer shows the shifted call that goes wrong
    sides = [
        Side(f"the call on x + {c!r}", b_raw, op, skw, bound_s),
        Side("the call on x", a, op, kw, bound),
    ]
    return decided_by_reference(verdict, sides, dtype, case)


def _permute(
    impl: Implementation, kw: dict[str, Any], dtype: str, device: str, perm: list[int]
) -> Verdict | None:
    op = impl.op
    if op not in PERMUTABLE:
        return None
    key = _logit_key(op)
    axis = _class_axis(op, kw)
    x = np.asarray(kw[key])
    if len(perm) != x.shape[axis]:
        return None
    p = np.asarray(perm)
    pkw = dict(kw)
    pkw[key] = np.take(x, p, axis=axis)
    if kw.get("weight") is not None:
        pkw["weight"] = np.asarray(kw["weight"])[p]
    if op == SOFTMAX_FOCAL_LOSS and np.ndim(kw.get("alpha", 0.0)) == 1:
        pkw["alpha"] = np.asarray(kw["alpha"])[p]
    if "target" in kw:
        t = np.asarray(kw["target"])
        if np.issubdtype(t.dtype, np.integer):
            inv = np.argsort(p)
            ign = kw.get("ignore_index", -100)
            valid = (t != ign) & (t >= 0) & (t < len(p))
            if 0 <= ign < len(p):
                return None  # a class-valued ignore_index moves with the permutation
            pkw["target"] = np.where(valid, inv[np.clip(t, 0, len(p) - 1)], t)
        else:
            pkw["target"] = np.take(t, p, axis=1)
    a_raw = np.asarray(call_impl(impl.forward, kw, device), dtype=np.float64)
    b = np.asarray(call_impl(impl.forward, pkw, device), dtype=np.float64)
    a = np.take(a_raw, p, axis=axis) if op in (SOFTMAX, LOG_SOFTMAX) else a_raw
    bound_p = tolerance.forward_bound(op, pkw, dtype)
    bound = tolerance.forward_bound(op, kw, dtype)
    case = describe_case(op, pkw)
    verdict = agreement(
        b, a, bound_p, bound, dtype, what=f"permuting the classes by {perm}", case=case
    )
    sides = [
        Side("the call on the permuted classes", b, op, pkw, bound_p),
        Side("the call on the original classes", a_raw, op, kw, bound),
    ]
    return decided_by_reference(verdict, sides, dtype, case)


def _rows(
    impl: Implementation, kw: dict[str, Any], dtype: str, device: str, other: np.ndarray
) -> Verdict | None:
    """Row independence on the case's own shape: the first ``h = ceil(N / 2)`` rows computed
    with the case's other rows, and again with those rows overwritten by ``other``'s values.
    Keeping the shape keeps to the profile's shape alphabet (a batch grown by extra rows is a
    shape a per-shape compiler compiles anew); a one-row case has no other row (None)."""
    op = impl.op
    if op in SOFTMAX_FAMILY:
        if int(kw.get("axis", -1)) % np.ndim(kw["x"]) == 0:
            return None
    elif kw.get("reduction", "mean") != "none" or op in FUSED_LINEAR:
        return None
    key = _logit_key(op)
    x = np.asarray(kw[key])
    n = x.shape[0]
    if n < 2:
        return None
    h = (n + 1) // 2
    filler = np.resize(other, (n - h, *x.shape[1:])).astype(np.float64)
    if op == BINARY_CROSS_ENTROPY:  # inputs are probabilities: other rows must be valid too
        filler = np.where(np.isfinite(filler), np.clip(np.abs(filler), 0.0, 1.0), 0.5)
    elif op == KL_DIV:  # log-probabilities
        filler = np.where(np.isnan(filler), -1.0, -np.abs(filler))
    bkw = dict(kw)
    bkw[key] = np.concatenate([x[:h], filler.astype(x.dtype)], axis=0)
    # the kept rows alone: what the reference and the bound are taken on
    kept = {k: (v[:h] if k in (key, "target") else v) for k, v in kw.items()}
    a = np.asarray(call_impl(impl.forward, kw, device), dtype=np.float64)[:h]
    b = np.asarray(call_impl(impl.forward, bkw, device), dtype=np.float64)[:h]
    bound = tolerance.forward_bound(op, kept, dtype)
    case = describe_case(op, kw)
    verdict = agreement(
        b,
        a,
        bound,
        bound,
        dtype,
        what=f"rows 0..{h - 1} computed next to other rows "
        f"(holding {sorted({repr(float(v)) for v in other.reshape(-1)})[:4]})",
        case=case,
    )
    sides = [
        Side("the rows computed next to the others", b, op, kept, bound, reproduce=bkw),
        Side("the rows computed next to the case's own rows", a, op, kept, bound, reproduce=kw),
    ]
    return decided_by_reference(verdict, sides, dtype, case)


def _strategy(impl: Implementation, dtype: str, prof: Profile) -> st.SearchStrategy[Any]:
    base = cases(impl, dtype, "moderate", prof)
    fmt = check_dtype(dtype)
    others = st.sampled_from(
        [
            np.array([np.nan]),
            np.array([np.inf, 0.0]),
            np.array([-np.inf, 1.0]),
            np.array([fmt.max_finite / 2, -fmt.max_finite / 2]),
            np.array([-1e4, 3.0]),
        ]
    )

    def add_parts(kw: dict[str, Any]) -> st.SearchStrategy[Any]:
        key = _logit_key(impl.op)
        c = np.shape(kw[key])[_class_axis(impl.op, kw)]
        shift = _shift_case(kw, impl.op, dtype) if impl.op in SHIFTABLE else st.just(None)
        return st.tuples(st.just(kw), shift, st.permutations(range(c)), others)

    return base.flatmap(add_parts)


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    def evaluate(parts: tuple[Any, ...]) -> Verdict | None:
        kw, shifted, perm, other = parts
        verdicts: list[Verdict] = []
        try:
            if shifted is not None:
                v = _shift(impl, dict(shifted), dtype, device)
                if v is not None:
                    verdicts.append(v)
            for v in (
                _permute(impl, kw, dtype, device, list(perm)),
                _rows(impl, kw, dtype, device, other),
            ):
                if v is not None:
                    verdicts.append(v)
        except ImplementationRaised as exc:
            return Verdict(
                failed=True, message=f"raised {exc} on a valid input: {describe_case(impl.op, kw)}"
            )
        if not verdicts:
            raise Unsupported("no invariance applies to this case")
        return worst(verdicts)

    search = Search(impl, CHECK, dtype, device, profile=profile, seed=seed)
    return search.run(
        _strategy(impl, dtype, search.profile), evaluate, kwargs_of=lambda parts: parts[0]
    )
