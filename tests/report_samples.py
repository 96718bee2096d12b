"""Hand-built reports for the report-writer tests (test code only)."""

from __future__ import annotations

import math

from verify.report.model import Report
from verify.results import Result


def environment(**overrides: object) -> dict:
    env = {
        "python": "CPython 3.11.7",
        "platform": "Linux-x86_64",
        "frameworks": {"numpy": "2.4.6", "torch": "2.13.0"},
        "devices": ["cpu"],
        "profile": "default",
        "seed": 0,
        "started": "2025-01-31T12:00:00Z",
        "finished": "2025-01-31T12:05:00Z",
        "interrupted": False,
    }
    env.update(overrides)
    return env


def result(impl: str = "torch.nn.functional.cross_entropy", **fields: object) -> Result:
    base: dict = {
        "implementation": impl,
        "framework": impl.split(".", 1)[0],
        "op": "cross_entropy",
        "check": "accuracy",
        "dtype": "float32",
        "device": "cpu",
        "status": "pass",
        "examples": 100,
        "max_ulp": 0.5,
        "max_bound_ratio": 0.1,
    }
    base.update(fields)
    return Result(**base)


def sample_report() -> Report:
    """A little of everything: statuses, dtypes, devices, non-finite numbers, points."""
    points = [
        {"magnitude": 10.0 ** (k / 4 - 2), "classes": 2 ** (k % 14 + 1), "ulp": (k % 7) / 10}
        for k in range(60)
    ]
    points.append({"magnitude": 3.0, "classes": 10, "ulp": math.inf})
    results = [
        result(extra={"points": points}),
        result(
            dtype="float16",
            status="fail",
            max_ulp=math.inf,
            max_bound_ratio=math.nan,
            message="loss is nan, reference inf",
            severity="wrong_value",
            finite_max_ulp=1.5,
            nonfinite_mismatches=2,
            reproducer="import torch\nprint(1)",
            reference_value="inf",
            links=["https://pytorch.org/docs/stable/"],
        ),
        result(
            dtype="bfloat16",
            status="deviation",
            message="documented",
            links=["https://example.org/doc"],
        ),
        result(
            check="gradient",
            dtype="float64",
            status="skip",
            max_ulp=None,
            max_bound_ratio=None,
            message="unsupported",
        ),
        result(
            check="special_values",
            status="fail",
            severity="convention",
            known_issue="https://github.com/x/y/issues/1",
            extra={"input_pattern": "+inf in input"},
        ),
        result(
            "torch.softmax",
            op="softmax",
            check="identity",
            device="cuda",
            status="error",
            message="worker crashed",
        ),
    ]
    return Report(environment(devices=["cpu", "cuda"]), results)
