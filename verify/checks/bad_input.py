"""bad_input: what an implementation does with input outside its contract.

For each invalid case (an out-of-range class index, a negative class index that is not
``ignore_index``, a target whose batch size does not match, negative or non-normalised
probability targets, binary-cross-entropy inputs outside [0, 1], an out-of-range axis, a
linear weight of the wrong width) it records one of:

- ``raises``: a clear error (exception type and message recorded);
- ``NaN/inf``: a non-finite result that signals the problem;
- ``silent``: a finite number, silently wrong; this fails (severity ``accepted_bad_input``)
  unless a registered :class:`~verify.registry.base.Deviation` covering ``bad_input``
  documents it.  The input pattern of the result names the invalid input.

The cases are fixed (not searched): they are built from a small seeded valid case.  On CUDA an
out-of-range index can trigger a device-side assert that poisons the process's context, so the
session runs this check after all others of a device.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify.engine.outcome import format_value
from verify.engine.search import matching_deviation, reproducer_for, result_for
from verify.judge import severity
from verify.judge.ulp import float_format
from verify.ops import (
    BINARY_CROSS_ENTROPY,
    BINARY_TARGET_OPS,
    CLASS_LOSSES,
    FUSED_LINEAR,
    KL_DIV,
    PROBABILITY_TARGET_OPS,
    SOFTMAX_FAMILY,
    class_count,
)
from verify.profiles import Profile, get_profile
from verify.registry.base import Implementation, Unsupported
from verify.results import Result

CHECK = "bad_input"


def batch_shape(profile: Profile) -> tuple[int, int]:
    """The (N, C) of the valid case the invalid inputs are made from: the largest of the
    profile's shape alphabet, so a framework that compiles per shape (XLA) has compiled it
    already for the other checks, and N > 1 rows leave room for a row-count mismatch."""
    return max(((n, c) for n, c, _ in profile.shapes), key=lambda nc: (nc[0] * nc[1], nc))


def _valid_case(
    impl: Implementation, dtype: str, seed: int, shape: tuple[int, int]
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    dt = float_format(dtype).dtype
    n, c = shape
    x = (rng.standard_normal((n, c)) * 2).astype(dt)
    op, caps = impl.op, impl.capabilities
    if op in SOFTMAX_FAMILY:
        return {"x": x, "axis": -1}
    kw: dict[str, Any] = {"input": x}
    if op in FUSED_LINEAR:
        kw["linear_weight"] = (rng.standard_normal((c, c))).astype(dt)
    if op in CLASS_LOSSES:
        if caps.target == "probs":
            kw["target"] = np.full((n, c), 1.0 / c).astype(dt)
        else:
            kw["target"] = rng.integers(0, c, n).astype(np.int64)
    elif op == BINARY_CROSS_ENTROPY:
        kw["input"] = rng.uniform(0.1, 0.9, (n, c)).astype(dt)
        kw["target"] = rng.integers(0, 2, (n, c)).astype(dt)
    elif op == KL_DIV:
        p = np.full((n, c), 1.0 / c)
        kw["input"] = np.log(p).astype(dt)
        kw["target"] = p.astype(dt)
    else:
        kw["target"] = rng.integers(0, 2, (n, c)).astype(dt)
    if caps.reductions:
        kw["reduction"] = "sum" if "sum" in caps.reductions else caps.reductions[0]
    return kw


def bad_cases(
    impl: Implementation, dtype: str, seed: int, shape: tuple[int, int]
) -> list[tuple[str, dict[str, Any]]]:
    """(description, kwargs) of the invalid inputs that apply to ``impl``, made from a valid
    case of ``shape`` (N, C)."""
    kw = _valid_case(impl, dtype, seed, shape)
    op, caps = impl.op, impl.capabilities
    dt = float_format(dtype).dtype
    out: list[tuple[str, dict[str, Any]]] = []
    if op in SOFTMAX_FAMILY:
        if caps.axis:
            out.append(("axis out of range (axis=2 for a 2-d input)", {**kw, "axis": 2}))
        return out
    x = np.asarray(kw["input"])
    t = np.asarray(kw["target"])
    n = x.shape[0]
    c = class_count(op, kw)
    if np.issubdtype(t.dtype, np.integer):
        bad = t.copy()
        bad[0] = c
        out.append((f"class index {c} with {c} classes", {**kw, "target": bad}))
        bad = t.copy()
        bad[0] = -1
        out.append(("class index -1 (ignore_index is -100)", {**kw, "target": bad}))
        out.append(
            (f"target of {n + 1} rows for {n} inputs", {**kw, "target": np.concatenate([t, t[:1]])})
        )
    else:
        if op in PROBABILITY_TARGET_OPS:
            neg = np.asarray(t, np.float64).copy()
            neg[0, 0], neg[0, 1] = -0.5, neg[0, 1] + 0.5 + neg[0, 0]
            out.append(("negative probability in the target", {**kw, "target": neg.astype(dt)}))
            out.append(
                (
                    "target rows summing to 2",
                    {**kw, "target": (np.asarray(t, np.float64) * 2).astype(dt)},
                )
            )
        if op in BINARY_TARGET_OPS:
            out.append(
                (
                    "target 2.0 outside [0, 1]",
                    {**kw, "target": np.full_like(np.asarray(t, np.float64), 2.0).astype(dt)},
                )
            )
        if op == BINARY_CROSS_ENTROPY:
            xb = np.asarray(x, np.float64).copy()
            xb[0, 0] = 1.5
            out.append(("input probability 1.5", {**kw, "input": xb.astype(dt)}))
            xb[0, 0] = -0.5
            out.append(("input probability -0.5", {**kw, "input": xb.astype(dt)}))
        out.append(
            (f"target of {n + 1} rows for {n} inputs", {**kw, "target": np.concatenate([t, t[:1]])})
        )
    if op in FUSED_LINEAR:
        w = np.asarray(kw["linear_weight"])
        out.append(
            (
                "linear_weight one column too wide",
                {**kw, "linear_weight": np.concatenate([w, w[:, :1]], axis=1)},
            )
        )
    return out


def _classify(impl: Implementation, kwargs: Mapping[str, Any], device: str) -> tuple[str, str]:
    try:
        y = impl.forward(dict(kwargs), device)
    except Unsupported:
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        detail = (
            f"{type(exc).__name__}: {text[:160]}" if text else f"{type(exc).__name__} (no message)"
        )
        return "raises", detail
    arr = np.asarray(y, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        return "non-finite", f"returns {format_value(y)}"
    return "silent", f"silently returns {format_value(y)}"


def run(
    impl: Implementation, dtype: str, device: str, *, profile: str | Profile, seed: int | None
) -> Result:
    started = time.perf_counter()
    findings: list[str] = []
    silent: list[tuple[str, dict[str, Any], str]] = []
    deviations: list[Any] = []
    deviating: list[str] = []
    examples = 0
    unsupported = ""
    prof = get_profile(profile) if isinstance(profile, str) else profile
    for desc, kw in bad_cases(impl, dtype, seed or 0, batch_shape(prof)):
        try:
            kind, detail = _classify(impl, kw, device)
        except Unsupported as exc:
            unsupported = str(exc)
            continue
        examples += 1
        findings.append(f"{desc}: {detail}")
        if kind == "silent":
            dev = matching_deviation(impl, CHECK, kw)
            if dev is not None:
                deviations.append(dev)
                deviating.append(desc)
            else:
                silent.append((desc, kw, detail))
    result = functools.partial(
        result_for,
        impl,
        CHECK,
        dtype,
        device,
        examples=examples,
        duration_s=round(time.perf_counter() - started, 3),
    )
    if examples == 0:
        reason = unsupported or "no invalid input applies to this entry"
        return result(status="skip", message=f"not applicable: {reason}")
    summary = "; ".join(findings)
    if silent:
        desc, kw, detail = silent[0]
        return result(
            status="fail",
            message=f"accepts invalid input without an error: {desc}: {detail}. All: {summary}",
            reproducer=reproducer_for(impl, kw, device, ""),
            links=[d.link for d in deviations],
            severity=severity.ACCEPTED_BAD_INPUT,
            extra={"input_pattern": f"bad input: {desc}", "severity_note": f"{desc}: {detail}"},
        )
    if deviations:
        return result(
            status="deviation",
            message=f"documented behaviour: {summary}",
            links=sorted({d.link for d in deviations}),
            severity=severity.ACCEPTED_BAD_INPUT,
            extra={"input_pattern": f"bad input: {deviating[0]}"},
        )
    return result(status="pass", message=summary)
