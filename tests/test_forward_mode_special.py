"""Forward-mode derivatives (jvp) judged at special values and extreme ranges.

- :func:`verify.judge.tangent.nonfinite_off_column` marks exactly the outputs whose Jacobian
  row (by the reference's conventions) holds a NaN or an infinity off the tangent's column;
- a forward mode that computes ``J e_k`` as IEEE arithmetic does (``sum_j J_ij (e_k)_j`` over
  the reference Jacobian, so ``NaN * 0 = NaN``) raises no alarm in ``special_values`` and
  ``extreme_range``: where the two sides differ only by that product the element is left
  unjudged and the result says so;
- a forward mode off by a factor fails both checks with a jvp message, and the failure's
  reproducer is the entry's jvp script with the failing tangent.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from tests import fake_log_softmax
from verify import ops, profiles
from verify.checks import CHECKS
from verify.judge import reference_values as refv
from verify.judge import tangent
from verify.registry.base import Implementation

SEED = 20261201
DTYPE = "float32"


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "DATABASE_DIR", tmp_path / "examples")


def test_nonfinite_off_column_marks_rows_with_nan_derivatives() -> None:
    x = np.array([[1.0, 2.0, -1.0], [math.nan, 0.0, 1.0]], np.float32)
    kwargs = {"x": x, "axis": 1}
    ones = np.ones(x.shape, np.float32)
    sums = refv.gradient(ops.LOG_SOFTMAX, kwargs, ones, DTYPE)
    # x_k in the finite row: the NaN row's outputs have NaN derivatives off the column
    mask = tangent.nonfinite_off_column(ops.LOG_SOFTMAX, kwargs, (0, 1), sums)
    assert mask.tolist() == [[False] * 3, [True] * 3]
    # x_k in the NaN row, at a finite logit: the NaN logit is off the column
    mask = tangent.nonfinite_off_column(ops.LOG_SOFTMAX, kwargs, (1, 1), sums)
    assert mask.tolist() == [[False] * 3, [True] * 3]
    # logsumexp drops the axis: one flag per row
    sums = refv.gradient(ops.LOGSUMEXP, kwargs, np.ones(2, np.float32), DTYPE)
    mask = tangent.nonfinite_off_column(ops.LOGSUMEXP, kwargs, (0, 0), sums)
    assert mask.tolist() == [False, True]


def test_nonfinite_off_column_of_a_reduced_and_an_elementwise_loss() -> None:
    x = np.array([[0.5, -1.0], [2.0, 1.0]], np.float32)
    reduced = {"input": x, "target": np.array([0, 1]), "reduction": "sum"}
    sums = refv.gradient(ops.CROSS_ENTROPY, reduced, np.ones((), np.float32), DTYPE)
    assert not tangent.nonfinite_off_column(ops.CROSS_ENTROPY, reduced, (0, 0), sums)
    sums = np.array([[0.0, math.nan], [0.0, 0.0]])  # a NaN derivative at input (0, 1)
    assert tangent.nonfinite_off_column(ops.CROSS_ENTROPY, reduced, (0, 0), sums)
    assert not tangent.nonfinite_off_column(ops.CROSS_ENTROPY, reduced, (0, 1), sums)
    pointwise = {"input": x, "target": np.full(x.shape, 0.5, np.float32), "reduction": "none"}
    op = ops.BINARY_CROSS_ENTROPY_WITH_LOGITS
    mask = tangent.nonfinite_off_column(op, pointwise, (0, 1), sums)
    assert mask.tolist() == [[False, False], [False, False]]  # the NaN is on the column
    mask = tangent.nonfinite_off_column(op, pointwise, (1, 0), sums)
    assert mask.tolist() == [[False, True], [False, False]]


# ---- entries: the reference's log_softmax with a forward mode of ours -----------------------


def _vjp(kwargs: Any, grad_output: np.ndarray, device: str) -> np.ndarray:
    return refv.gradient(ops.LOG_SOFTMAX, kwargs, np.asarray(grad_output), DTYPE)


def ieee_jvp(kwargs: Any, t: np.ndarray, device: str) -> np.ndarray:
    """``J t`` as forward mode computes it: for each output ``i``, ``sum_j J_ij t_j`` over the
    inputs ``j`` of ``i``'s row (the only ones its computation reads), in IEEE arithmetic, with
    ``J_ij`` from the reference (one VJP per output element); so a NaN or an infinity in that
    row of the Jacobian times a 0 of the tangent is NaN."""
    x = np.asarray(kwargs["x"])
    axis = int(kwargs.get("axis", -1)) % x.ndim
    out = np.zeros(x.shape)
    w = np.asarray(t, np.float64)
    index = np.indices(x.shape)
    with np.errstate(invalid="ignore"):
        for i in np.ndindex(*x.shape):
            e = np.zeros(x.shape, x.dtype)
            e[i] = 1
            row = np.asarray(_vjp(kwargs, e, device), np.float64)
            same = np.all([index[d] == i[d] for d in range(x.ndim) if d != axis], axis=0)
            out[i] = np.sum(np.where(same, row * w, 0.0))
    return out.astype(x.dtype)


def doubled_jvp(kwargs: Any, t: np.ndarray, device: str) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (2 * ieee_jvp(kwargs, t, device).astype(np.float64)).astype(DTYPE)


def _entry(jvp: Any, **fields: Any) -> Implementation:
    return fake_log_softmax.entry(DTYPE, vjp=_vjp, jvp=jvp, **fields)


@pytest.mark.parametrize("check", ["special_values", "extreme_range"])
def test_an_ieee_forward_mode_raises_no_alarm(check: str) -> None:
    result = CHECKS[check](_entry(ieee_jvp), DTYPE, "cpu", profile="quick", seed=SEED)
    assert result.status == "pass", result.message
    assert result.extra["forward_mode"].startswith("checked"), result.extra


def _softmax_tangent(kwargs: Any, t: np.ndarray, device: str) -> np.ndarray:
    """logsumexp's forward mode as frameworks write it, ``sum(softmax(x) t)`` (finite at a
    row holding one +inf: the softmax is one-hot there)."""
    x = np.asarray(kwargs["x"], np.float64)
    axis = int(kwargs.get("axis", -1))
    with np.errstate(invalid="ignore"):
        shifted = np.where(
            np.isposinf(x), 0.0, np.where(np.isposinf(x).any(axis, keepdims=True), -np.inf, x)
        )
        p = np.exp(shifted - np.max(shifted, axis, keepdims=True))
        p /= p.sum(axis, keepdims=True)
    return (p * np.asarray(t, np.float64)).sum(axis).astype(np.asarray(kwargs["x"]).dtype)


def test_where_no_convention_decides_the_jvp_is_not_judged_and_counted() -> None:
    """logsumexp of a row holding +inf: its value is +inf and the reference's derivative is NaN
    across the row (``docs/semantics.md``); a forward mode that returns the one-hot softmax
    differs only there, so it is not judged, and the log counts it."""
    from verify.checks.gradient import ForwardModeLog, evaluate_jvp

    kwargs = {"x": np.array([[math.inf, 1.0], [0.5, -1.0]], np.float32), "axis": 1}
    entry = dataclasses.replace(_entry(_softmax_tangent), op=ops.LOGSUMEXP)
    log = ForwardModeLog()
    verdict = evaluate_jvp(entry, kwargs, 1, DTYPE, "cpu", log)  # x_k = 1.0, beside +inf
    assert not verdict.failed, verdict.message
    assert (log.unjudged_examples, log.unjudged_elements) == (1, 1)
    assert "jvp not judged at 1 output elements of 1 examples" in log.summary()
    # a finite row: judged as usual, and a wrong value there fails
    assert not evaluate_jvp(entry, kwargs, 2, DTYPE, "cpu", log).failed
    twice = dataclasses.replace(entry, jvp=lambda kw, t, d: 2 * _softmax_tangent(kw, t, d))
    assert evaluate_jvp(twice, kwargs, 2, DTYPE, "cpu").failed


def test_a_nan_jvp_at_a_masked_logit_is_judged() -> None:
    """log_softmax with a -inf mask: every derivative is finite (``g_i`` at the mask), no
    Jacobian entry is NaN, so a NaN from forward mode there is a failure, not excused."""
    from verify.checks.gradient import evaluate_jvp

    kwargs = {"x": np.array([[-math.inf, 1.0, 2.0]], np.float32), "axis": 1}

    def nan_at_mask(kw: Any, t: np.ndarray, device: str) -> np.ndarray:
        out = ieee_jvp(kw, t, device).astype(np.float64)
        out[np.isneginf(np.asarray(kw["x"], np.float64))] = math.nan
        return out.astype(DTYPE)

    assert not evaluate_jvp(_entry(ieee_jvp), kwargs, 0, DTYPE, "cpu").failed
    verdict = evaluate_jvp(_entry(nan_at_mask), kwargs, 0, DTYPE, "cpu")
    assert verdict.failed and "returned nan" in verdict.message, verdict.message


@pytest.mark.parametrize("check", ["special_values", "extreme_range"])
def test_a_wrong_forward_mode_fails_with_its_jvp_reproducer(check: str) -> None:
    seen: list[np.ndarray] = []

    def jvp_script(kwargs: Any, t: np.ndarray, device: str) -> str:
        seen.append(np.asarray(t))
        return "# JVP SCRIPT\n"

    entry = _entry(doubled_jvp, jvp_reproducer=jvp_script)
    result = CHECKS[check](entry, DTYPE, "cpu", profile="quick", seed=SEED)
    assert result.status == "fail", result.message
    assert result.message.startswith("forward-mode derivative (jvp) along e_k"), result.message
    assert result.reproducer.startswith("# JVP SCRIPT") and seen
    assert "jvp along e_k" in result.reproducer
    k = [int(i) for i in np.argwhere(seen[-1] != 0)[0]]
    assert f"with tangent e_k at x index {k}" in result.message


def test_without_forward_mode_the_checks_judge_value_and_vjp_only() -> None:
    entry = dataclasses.replace(_entry(None))
    result = CHECKS["special_values"](entry, DTYPE, "cpu", profile="quick", seed=SEED)
    assert result.status == "pass", result.message
    assert result.extra["forward_mode"].startswith("not offered")
