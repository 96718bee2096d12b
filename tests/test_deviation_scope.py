"""A documented deviation covers only the severity classes it names."""

from __future__ import annotations

import numpy as np

from verify.engine.search import matching_deviation
from verify.judge import severity
from verify.registry.base import Capabilities, Deviation, Implementation

_PRECISION = Deviation(
    "accumulates in half precision",
    "https://example.org/doc",
    checks=("accuracy",),
    severities=(severity.INACCURATE,),
)
_ANY = Deviation("clips at -100", "https://example.org/clip", checks=("accuracy",))


def _entry(*deviations: Deviation) -> Implementation:
    return Implementation(
        name="scope.entry",
        framework="numpy",
        op="softmax",
        forward=lambda kw, device: np.asarray(kw["x"]),
        capabilities=Capabilities(),
        deviations=deviations,
    )


def test_a_precision_deviation_covers_inaccurate_results_only() -> None:
    impl = _entry(_PRECISION)
    kw = {"x": np.zeros((1, 2), np.float16)}
    assert matching_deviation(impl, "accuracy", kw, severity.INACCURATE) is _PRECISION
    for worse in (severity.WRONG_VALUE, severity.NO_CORRECT_DIGITS, None):
        assert matching_deviation(impl, "accuracy", kw, worse) is None


def test_a_deviation_without_severities_covers_every_class() -> None:
    impl = _entry(_ANY)
    kw = {"x": np.zeros((1, 2), np.float32)}
    for cls in (severity.WRONG_VALUE, severity.INACCURATE, None):
        assert matching_deviation(impl, "accuracy", kw, cls) is _ANY
    assert matching_deviation(impl, "gradient", kw, severity.INACCURATE) is None
