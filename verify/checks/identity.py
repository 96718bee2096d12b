"""identity: algebraic identities inside one framework, each where the framework has the pieces.

- ``mean = sum / total weight``: the mean reduction equals the sum reduction divided by the
  total weight (sum of the target classes' weights over non-ignored rows for index targets; the
  number of rows for probability targets, as PyTorch defines it:
  https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html; the
  number of elements for elementwise losses; the batch size for ``batchmean``);
- ``cross_entropy = nll_loss(log_softmax)`` with the framework's own nll_loss and log_softmax;
- one-hot probability targets give the index-target loss, with and without class weights
  (``reduction="mean"`` with weights is excluded: PyTorch normalises it differently for the two
  target kinds, see the page above);
- label smoothing equals cross-entropy against the smoothed target
  ``(1 - eps) * onehot + eps / C`` (the smoothed target rounded into the dtype; the rounding is
  added to the allowance);
- module form = functional form: every other registered entry of the same op, framework and
  target kind gives the same values.

Both sides are the framework's own results (:mod:`agreement`).  When they disagree, the
reference decides (:func:`~verify.engine.agreement.decided_by_reference`): the check fails only
when this entry's own result is outside its bound against the correctly rounded value; a peer
that is off (another entry's ``nll_loss``, ``log_softmax`` or module form) shows in that
entry's results, not here.  Without the reference the disagreement itself fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from verify import ops
from verify.engine.agreement import Side, agreement, decided_by_reference, worst
from verify.engine.outcome import ImplementationRaised, Verdict, call_impl
from verify.engine.search import Search
from verify.judge import tolerance
from verify.ops import CLASS_LOSSES, SOFTMAX_FAMILY, class_count
from verify.profiles import Profile
from verify.registry.base import Implementation, Unsupported
from verify.results import Result
from verify.strategies import cases, describe_case

CHECK = "identity"


def _peers(impl: Implementation) -> list[Implementation]:
    try:
        from verify.registry import all_implementations

        # the plain entries of the framework: a compiled code path is judged against the
        # reference by its own checks (verify.ops.CODE_PATH_CHECKS)
        return [
            p
            for p in all_implementations(impl.framework)
            if p.name != impl.name and not p.code_path
        ]
    except Exception:
        return []


def _run(fn: Callable[..., Any], *args: Any) -> np.ndarray:
    return np.asarray(call_impl(fn, *args))


def _is_index(kw: Mapping[str, Any]) -> bool:
    return np.issubdtype(np.asarray(kw["target"]).dtype, np.integer)


def _mean_vs_sum(
    impl: Implementation, kw: dict[str, Any], dtype: str, device: str
) -> Verdict | None:
    reds = impl.capabilities.reductions
    if impl.op in SOFTMAX_FAMILY or "mean" not in reds or "sum" not in reds:
        return None
    mean_kw = {**kw, "reduction": "mean"}
    sum_kw = {**kw, "reduction": "sum"}
    op = impl.op
    x = np.asarray(kw["input"])
    if op in CLASS_LOSSES and _is_index(kw):
        t = np.asarray(kw["target"])
        valid = t != kw.get("ignore_index", -100)
        w = kw.get("weight")
        c = class_count(op, kw)
        wv = np.ones(c) if w is None or op == ops.SOFTMAX_FOCAL_LOSS else np.asarray(w, np.float64)
        total = float(np.where(valid, wv[np.clip(t, 0, c - 1)], 0.0).sum())
    elif op in CLASS_LOSSES:
        total = float(np.asarray(kw["target"]).size / np.asarray(kw["target"]).shape[1])
    else:
        total = float(x.size)
    if total == 0:
        return None
    m = _run(impl.forward, mean_kw, device)
    s = _run(impl.forward, sum_kw, device)
    bound_mean = tolerance.forward_bound(op, mean_kw, dtype)
    bound_sum = tolerance.forward_bound(op, sum_kw, dtype)
    e_sum = tolerance.allowed_error(np.asarray(s, np.float64), bound_sum, dtype)
    case = describe_case(op, mean_kw)
    verdict = agreement(
        m,
        np.asarray(s, np.float64) / total,
        bound_mean,
        0.0,
        dtype,
        what=f"mean reduction vs sum / total weight ({total!r})",
        case=case,
        extra=e_sum / total,
    )
    sides = [
        Side('reduction="mean"', m, op, mean_kw, bound_mean),
        Side('reduction="sum"', s, op, sum_kw, bound_sum),
    ]
    return decided_by_reference(verdict, sides, dtype, case)


def _ce_vs_nll(
    impl: Implementation, kw: dict[str, Any], dtype: str, device: str, peers: list[Implementation]
) -> Verdict | None:
    if impl.op != ops.CROSS_ENTROPY or not _is_index(kw) or kw.get("label_smoothing", 0.0):
        return None
    nll = next((p for p in peers if p.op == ops.NLL_LOSS and dtype in p.dtypes), None)
    lsm = next((p for p in peers if p.op == ops.LOG_SOFTMAX and dtype in p.dtypes), None)
    if nll is None or lsm is None:
        return None
    x = np.asarray(kw["input"])
    ce = _run(impl.forward, kw, device)
    ls = _run(lsm.forward, {"x": x, "axis": 1}, device).astype(x.dtype)
    nkw = {k: v for k, v in kw.items() if k != "label_smoothing"}
    nkw["input"] = ls
    b = _run(nll.forward, nkw, device)
    bound = tolerance.forward_bound(ops.CROSS_ENTROPY, kw, dtype)
    case = describe_case(impl.op, kw)
    composite = f"{nll.name}({lsm.name}(input))"
    verdict = agreement(ce, b, bound, bound, dtype, what=f"{impl.name} vs {composite}", case=case)
    sides = [
        Side(impl.name, ce, ops.CROSS_ENTROPY, kw, bound),
        Side(composite, b, ops.CROSS_ENTROPY, kw, bound, blamed=False),
    ]
    return decided_by_reference(verdict, sides, dtype, case)


def _smoothed(kw: Mapping[str, Any], c: int, eps: float, dtype: Any) -> np.ndarray:
    t = np.asarray(kw["target"])
    onehot = np.eye(c)[np.clip(t, 0, c - 1)]
    q = (1 - eps) * onehot + eps / c
    q = np.moveaxis(q, -1, 1) if q.ndim > 2 else q
    return q.astype(np.asarray(kw["input"]).dtype)


def _probs_vs_index(
    impl: Implementation, kw: dict[str, Any], dtype: str, device: str, peers: list[Implementation]
) -> Verdict | None:
    if impl.op != ops.CROSS_ENTROPY or not _is_index(kw):
        return None
    t = np.asarray(kw["target"])
    if np.any(t == kw.get("ignore_index", -100)):
        return None
    if kw.get("reduction", "mean") == "mean" and kw.get("weight") is not None:
        return None
    probs = [
        p
        for p in [impl, *peers]
        if p.op == ops.CROSS_ENTROPY and p.capabilities.target == "probs" and dtype in p.dtypes
    ]
    if not probs:
        return None
    other = probs[0]
    x = np.asarray(kw["input"])
    c = x.shape[1]
    eps = float(kw.get("label_smoothing", 0.0) or 0.0)
    q = _smoothed(kw, c, eps, dtype)
    pkw = {k: v for k, v in kw.items() if k not in ("ignore_index", "label_smoothing")}
    pkw["target"] = q
    a = _run(impl.forward, kw, device)
    try:
        b = _run(other.forward, pkw, device)
    except Unsupported:
        return None
    exact_q = (1 - eps) * np.eye(c)[t] + eps / c
    exact_q = np.moveaxis(exact_q, -1, 1) if exact_q.ndim > 2 else exact_q
    w = np.ones(c) if kw.get("weight") is None else np.asarray(kw["weight"], np.float64)
    wshape = (1, c) + (1,) * (x.ndim - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x.astype(np.float64)
        ls = xs - xs.max(axis=1, keepdims=True)
        ls = ls - np.log(np.exp(ls).sum(axis=1, keepdims=True))
        extra_rows = np.sum(
            np.abs(q.astype(np.float64) - exact_q) * np.abs(ls) * w.reshape(wshape), axis=1
        )
    red = kw.get("reduction", "mean")
    extra = (
        extra_rows
        if red == "none"
        else extra_rows.sum() / (extra_rows.size if red == "mean" else 1)
    )
    what = (
        "label smoothing vs cross-entropy against the smoothed target"
        if eps
        else ("index targets vs one-hot probability targets")
    )
    bound_a = tolerance.forward_bound(ops.CROSS_ENTROPY, kw, dtype)
    bound_b = tolerance.forward_bound(ops.CROSS_ENTROPY, pkw, dtype)
    case = describe_case(impl.op, kw)
    verdict = agreement(
        a, b, bound_a, bound_b, dtype, what=f"{what} ({other.name})", case=case, extra=extra
    )
    sides = [
        Side(impl.name, a, ops.CROSS_ENTROPY, kw, bound_a),
        Side(
            f"{other.name} on the rounded target",
            b,
            ops.CROSS_ENTROPY,
            pkw,
            bound_b,
            blamed=other is impl,
        ),
    ]
    return decided_by_reference(verdict, sides, dtype, case)


def _same_op(
    impl: Implementation, kw: dict[str, Any], dtype: str, device: str, peers: list[Implementation]
) -> list[Verdict]:
    out = []
    bound = tolerance.forward_bound(impl.op, kw, dtype)
    a = None
    for p in peers:
        if p.op != impl.op or p.capabilities.target != impl.capabilities.target:
            continue
        if dtype not in p.dtypes:
            continue
        try:
            b = _run(p.forward, kw, device)
        except (Unsupported, ImplementationRaised):
            continue
        if a is None:
            a = _run(impl.forward, kw, device)
        case = describe_case(impl.op, kw)
        verdict = agreement(a, b, bound, bound, dtype, what=f"{impl.name} vs {p.name}", case=case)
        sides = [
            Side(impl.name, a, impl.op, kw, bound),
            Side(p.name, b, impl.op, kw, bound, blamed=False),
        ]
        out.append(decided_by_reference(verdict, sides, dtype, case))
    return out


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    peers = [
        p
        for p in _peers(impl)
        if p.op in (impl.op, ops.NLL_LOSS, ops.LOG_SOFTMAX, ops.CROSS_ENTROPY)
    ]

    def evaluate(kw: dict[str, Any]) -> Verdict | None:
        verdicts: list[Verdict] = []
        try:
            for fn in (_mean_vs_sum,):
                v = fn(impl, kw, dtype, device)
                if v is not None:
                    verdicts.append(v)
            for fn2 in (_ce_vs_nll, _probs_vs_index):
                v = fn2(impl, kw, dtype, device, peers)
                if v is not None:
                    verdicts.append(v)
            verdicts.extend(_same_op(impl, kw, dtype, device, peers))
        except ImplementationRaised as exc:
            return Verdict(
                failed=True, message=f"raised {exc} on a valid input: {describe_case(impl.op, kw)}"
            )
        if not verdicts:
            raise Unsupported(
                "no identity applies to this entry (no reductions to relate and "
                "no other entry of the framework to compare with)"
            )
        return worst(verdicts)

    search = Search(impl, CHECK, dtype, device, profile=profile, seed=seed)
    return search.run(cases(impl, dtype, "moderate", search.profile), evaluate)
