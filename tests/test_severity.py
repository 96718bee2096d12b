"""Severity classes: the classifier on literal returned/correctly rounded values, the input
patterns it depends on, and the severity the comparison attaches to a failing verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.report_samples import result
from verify.judge import severity as sev
from verify.judge.compare import judge
from verify.judge.input_pattern import FINITE, profile

INF, NAN = math.inf, math.nan

# (returned, correctly rounded, dtype, +inf/NaN among the inputs, expected class)
TABLE = [
    # NaN, inf or 0 instead of a number on finite inputs / -inf masks
    (NAN, 0.0, "float32", False, sev.WRONG_VALUE),
    (INF, 1.7e38, "float32", False, sev.WRONG_VALUE),
    (-INF, -128.0, "bfloat16", False, sev.WRONG_VALUE),
    (0.0, 1.0986122886681098, "float64", False, sev.WRONG_VALUE),  # a loss of 0 for log 3
    (15.9453125, INF, "float16", False, sev.WRONG_VALUE),  # a clipped loss where it is +inf
    (NAN, INF, "float32", False, sev.WRONG_VALUE),
    (-INF, INF, "float32", False, sev.WRONG_VALUE),
    # no correct digits
    (0.0, -0.00033545494079589844, "float16", False, sev.NO_CORRECT_DIGITS),  # below eps
    (-0.0, -2.5720833312682017e-41, "float32", False, sev.NO_CORRECT_DIGITS),
    (0.25, -0.25, "float32", False, sev.NO_CORRECT_DIGITS),  # wrong sign
    (3.0, 1.0, "float32", False, sev.NO_CORRECT_DIGITS),  # relative error 2
    (1e-8, 0.0, "float32", False, sev.NO_CORRECT_DIGITS),  # nonzero for an exact 0
    # inaccurate
    (-0.12451171875, -0.126953125, "bfloat16", False, sev.INACCURATE),
    (1.0000001192092896, 1.0, "float32", False, sev.INACCURATE),
    (12.0703125, 20.203125, "bfloat16", False, sev.INACCURATE),  # relative error 0.4
    (1.3234889746638334e-11, 1.0, "float64", False, sev.NO_CORRECT_DIGITS),  # not one bit
    (14.958853788872602, 56.88756590877391, "float64", False, sev.NO_CORRECT_DIGITS),
    # conventions: +inf/NaN inputs, NaN by rule
    (0.0, NAN, "float32", True, sev.CONVENTION),  # logsumexp gradient at +inf
    (NAN, 0.0, "float32", True, sev.CONVENTION),  # NaN in an ignored row
    (NAN, 1.0, "bfloat16", True, sev.CONVENTION),  # softmax of a lone +inf
    (0.0, NAN, "float32", False, sev.CONVENTION),  # a mean over zero weight: 0/0
    (-1.0, NAN, "float64", False, sev.CONVENTION),  # gradient of a +inf term (-inf mask)
]


@pytest.mark.parametrize(("returned", "exact", "dtype", "nonfinite", "expected"), TABLE)
def test_classify_table(returned, exact, dtype, nonfinite, expected):
    got = sev.classify(returned, exact, dtype, nonfinite_inputs=nonfinite, bound_ratio=3.0, ulps=3)
    assert got.severity == expected, got.note


def test_finite_mismatch_at_nonfinite_inputs_is_judged_on_accuracy():
    # a +inf elsewhere in the case does not excuse a finite element that is 3 ULP off
    got = sev.classify(1.0000003576278687, 1.0, "float32", nonfinite_inputs=True, ulps=3)
    assert got.severity == sev.INACCURATE


def test_notes_say_what_was_returned_and_which_convention():
    note = sev.classify(0.0, NAN, "float32", nonfinite_inputs=True, who="torch").note
    assert note == "torch returns 0 at +inf/NaN inputs; the contract says NaN"
    note = sev.classify(
        -0.12451171875, -0.126953125, "bfloat16", nonfinite_inputs=False, bound_ratio=2.5, ulps=2.5
    ).note
    assert "-0.12451171875" in note and "2.5 ULP" in note and "2.5 times the bound" in note


def test_order_and_labels():
    assert sev.SEVERITIES[0] == sev.WRONG_VALUE and sev.SEVERITIES[-1] == sev.CONVENTION
    ranks = [sev.rank(s) for s in sev.SEVERITIES]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert sev.rank(None) == 0 < sev.rank(sev.CONVENTION)
    assert set(sev.LABEL) == set(sev.MEANING) == set(sev.SEVERITIES)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (NAN, 0.0157, sev.WRONG_VALUE),
        (INF, 24.75, sev.WRONG_VALUE),
        (1.0, -1.0, sev.NO_CORRECT_DIGITS),
        (0.0, 5.0, sev.NO_CORRECT_DIGITS),
        (0.1253662109375, 0.12353515625, sev.INACCURATE),
    ],
)
def test_classify_disagreement(a, b, expected):
    assert sev.classify_disagreement(a, b, "float16").severity == expected


def test_severity_of_old_rows_without_the_field():
    def row(**kw):
        unjudged = dict(examples=0, max_ulp=None, max_bound_ratio=None)
        return result(
            "f", **{"framework": "numpy", "op": "softmax", "status": "fail", **unjudged, **kw}
        )

    assert sev.severity_of(row(status="pass")) is None
    assert sev.severity_of(row(severity=sev.CONVENTION)) == sev.CONVENTION
    assert sev.severity_of(row(status="error")) == sev.ERROR
    assert sev.severity_of(row(check="bad_input")) == sev.ACCEPTED_BAD_INPUT
    assert sev.severity_of(row(max_ulp=math.inf)) == sev.WRONG_VALUE
    assert sev.severity_of(row(max_ulp=3.0)) == sev.INACCURATE


# ---- input patterns ------------------------------------------------------------------------


def test_input_patterns():
    x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
    assert profile("softmax", {"x": x, "axis": -1}, "float32").pattern == FINITE
    p = profile("softmax", {"x": np.array([[np.inf, 1.0]], np.float32), "axis": -1}, "float32")
    assert p.nonfinite and p.pattern == "+inf in input"
    p = profile("softmax", {"x": np.array([[-np.inf, 1.0]], np.float32), "axis": -1}, "float32")
    assert not p.nonfinite and p.pattern == "-inf mask"
    p = profile("log_softmax", {"x": np.full((1, 3), -np.inf, np.float32), "axis": 1}, "float32")
    assert p.pattern == "all -inf row"
    big = np.array([[3e38, 0.0]], np.float32)
    ls = {"input": big, "target": np.array([0]), "label_smoothing": 0.1}
    assert profile("cross_entropy", ls, "float32").pattern == (
        "logits near the format's max; exp underflows; label_smoothing"
    )


def test_pattern_does_not_depend_on_dtype_or_values():
    def pat(dtype, big):
        x = np.array([[big, 0.0, np.nan]], np.float64)
        kw = {"input": x, "target": np.array([0])}
        return profile("cross_entropy", kw, dtype).pattern

    assert pat("float16", 6e4) == pat("float32", 3e38) == pat("bfloat16", 3e38)


def test_ignored_rows_holding_nan():
    x = np.array([[np.nan, 1.0], [0.0, 1.0]], np.float32)
    kw = {"input": x, "target": np.array([-100, 1]), "ignore_index": -100}
    p = profile("cross_entropy", kw, "float32")
    assert p.nonfinite and p.pattern == "ignored rows hold inf/NaN"
    kw["target"] = np.array([-100, -100])
    assert profile("cross_entropy", kw, "float32").pattern == (
        "ignored rows hold inf/NaN; all targets ignored"
    )


# ---- the comparison --------------------------------------------------------------------------


def test_judge_classifies_its_worst_element_and_counts_nonfinite_apart():
    ref = np.array([1.0, 2.0, 0.5], np.float32)
    got = np.array([1.0, np.nan, 0.50000006], np.float32)
    inputs = profile("softmax", {"x": ref, "axis": -1}, "float32")
    v = judge(got, ref, 0.0, "float32", what="forward", case="c", inputs=inputs, who="numpy")
    assert v.failed and v.severity == sev.WRONG_VALUE
    assert v.severity_note.startswith("forward: numpy returns NaN")
    assert v.input_pattern == FINITE
    assert v.max_ulp == math.inf
    assert v.nonfinite_mismatches == 1
    assert v.finite_max_ulp == pytest.approx(1.0)  # 0.50000006 is one ULP from 0.5


def test_judge_passing_verdict_has_no_severity():
    ref = np.array([1.0, 2.0], np.float32)
    v = judge(ref.copy(), ref, 0.0, "float32", what="forward", case="c")
    assert not v.failed and v.severity is None and v.finite_max_ulp == 0.0
