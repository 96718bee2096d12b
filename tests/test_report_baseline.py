"""--baseline diffing: labels, summary, and their appearance in every format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.report_samples import environment, result
from verify.report import write_all
from verify.report.baseline import apply_baseline, label
from verify.report.model import Report


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, "pass", "new"),
        (None, "fail", "new"),
        ("pass", "pass", "unchanged"),
        ("pass", "fail", "regressed"),
        ("deviation", "error", "regressed"),
        ("skip", "fail", "regressed"),
        ("fail", "pass", "fixed"),
        ("error", "deviation", "fixed"),
        ("fail", "fail", "unchanged"),
        ("fail", "error", "unchanged"),
        ("pass", "deviation", "unchanged"),
    ],
)
def test_label(old, new, expected):
    old_result = None if old is None else result(status=old)
    assert label(old_result, result(status=new)) == expected


def test_apply_baseline_labels_counts_and_missing():
    old = [
        result(dtype="float16", status="pass"),
        result(dtype="float32", status="fail"),
        result(dtype="float64", status="pass"),
        result(check="gradient", status="pass"),  # not in the new run
    ]
    new = [
        result(dtype="float16", status="fail", known_issue="https://github.com/x/y/issues/2"),
        result(dtype="float32", status="pass"),
        result(dtype="float64", status="pass"),
        result(dtype="bfloat16", status="pass"),
    ]
    summary = apply_baseline(new, old, path="old.json")
    assert [r.baseline for r in new] == ["regressed", "fixed", "unchanged", "new"]
    assert summary["counts"] == {"new": 1, "fixed": 1, "regressed": 1, "unchanged": 1}
    assert summary["missing"] == [list(old[3].key)]
    assert new[0].extra["baseline_status"] == "pass"
    # a regression is never conforming, even when it matches a registered upstream issue
    report = Report(environment(baseline=summary), new)
    assert report.nonconforming == [new[0]]


def test_baseline_labels_reach_every_format(tmp_path):
    old = [result(status="pass")]
    new = [result(status="fail", message="now wrong")]
    summary = apply_baseline(new, old, path="old.json")
    write_all(Report(environment(baseline=summary), new), tmp_path)
    doc = json.loads((tmp_path / "conformance.json").read_text("utf-8"))
    assert doc["results"][0]["baseline"] == "regressed"
    assert doc["environment"]["baseline"]["counts"]["regressed"] == 1
    md = (tmp_path / "conformance.md").read_text("utf-8")
    assert "regressed" in md and "1 regression" in md
    page = (tmp_path / "conformance.html").read_text("utf-8")
    assert '"baseline":"regressed"' in page
    case = ET.parse(tmp_path / "junit.xml").getroot().find(".//testcase")
    assert case.find("failure").get("message").startswith("regressed: ")
