"""Findings: grouping by cause, their order, the ready-to-file issue, and their place at the
top of every human-readable report (and in the JSON, under the schema)."""

from __future__ import annotations

import json
import math

from tests.report_samples import environment, result
from verify.judge import severity as sev
from verify.report import findings, html, json_report, markdown, summary
from verify.report.model import Report

REPRO = "import torch\nx = torch.tensor([[float('inf'), 0.0]], requires_grad=True)\n"
CONV = "gradient w.r.t. input: torch returns 0 at +inf/NaN inputs; the contract says NaN"


def _conv(impl: str = "torch.logsumexp", **kw: object):
    base: dict = dict(
        op="logsumexp",
        check="special_values",
        status="fail",
        severity=sev.CONVENTION,
        max_ulp=math.inf,
        reproducer=REPRO,
        reference_value="nan",
        extra={"input_pattern": "+inf in input", "severity_note": CONV},
    )
    base.update(kw)
    return result(impl, **base)


def _wrong(impl: str = "torch.nn.functional.cross_entropy", **kw: object):
    base: dict = dict(
        check="extreme_range",
        status="fail",
        severity=sev.WRONG_VALUE,
        max_ulp=math.inf,
        finite_max_ulp=1.5,
        nonfinite_mismatches=4,
        reproducer="import torch\nprint(torch.nn.functional.cross_entropy(...))\n",
        reference_value="1.7e38",
        extra={
            "input_pattern": "logits near the format's max; label_smoothing",
            "severity_note": "forward: torch returns +inf where the correctly rounded value is "
            "1.7e+38",
        },
    )
    base.update(kw)
    return result(impl, **base)


def _inaccurate(**kw: object):
    base: dict = dict(
        impl="torch.nn.functional.log_softmax",
        op="log_softmax",
        status="fail",
        dtype="bfloat16",
        severity=sev.INACCURATE,
        max_ulp=2.5,
        finite_max_ulp=2.5,
        reproducer="import torch\n",
        extra={"input_pattern": "finite inputs", "severity_note": "forward: 2.5 ULP"},
    )
    base.update(kw)
    return result(**base)


def test_one_cause_across_dtypes_devices_and_variants_is_one_finding():
    rows = [
        _conv(dtype="float32"),
        _conv(dtype="bfloat16", reproducer=REPRO + "# longer\n" * 3),
        _conv(dtype="float16", device="cuda"),
        _conv("jax.nn.logsumexp[jit]", framework="jax", reproducer="import jax\n"),
        _conv("jax.nn.logsumexp", framework="jax", reproducer="import jax  # plain\n"),
    ]
    found = findings.group(rows)
    torch_, jax_ = sorted(found, key=lambda f: f.family)[::-1]
    assert len(found) == 2
    assert torch_.family == "torch.logsumexp" and torch_.results == 3
    assert torch_.dtypes == ["float16", "bfloat16", "float32"]
    assert torch_.devices == ["cpu", "cuda"]
    assert torch_.reproducer == REPRO  # the smallest of the three
    assert jax_.family == "jax.nn.logsumexp"
    assert jax_.implementations == ["jax.nn.logsumexp", "jax.nn.logsumexp[jit]"]
    assert jax_.reproducer == "import jax\n"


def test_distinct_causes_stay_apart():
    rows = [
        _conv(),
        _conv(extra={"input_pattern": "NaN in input", "severity_note": CONV}),  # other pattern
        _conv(check="gradient"),  # other check
        _conv(severity=sev.INACCURATE),  # other severity
        _conv("torch.nn.functional.softmax", op="softmax"),  # other family
    ]
    assert len(findings.group(rows)) == 5


def test_worst_first_unregistered_first_deviations_last():
    rows = [
        _conv(),
        _inaccurate(),
        _wrong(dtype="float32"),
        _wrong(
            "keras.losses.CategoricalCrossentropy",
            framework="tensorflow",
            known_issue="https://github.com/keras-team/keras/issues/17634",
        ),
        _conv("torch.nn.functional.kl_div", status="deviation", links=["https://doc.example/"]),
        result("torch.softmax", op="softmax", check="identity", status="error", message="boom"),
        result("torch.softmax", op="softmax", status="pass"),
    ]
    found = findings.group(rows, environment())
    order = [(f.severity, f.family, f.status) for f in found]
    assert order == [
        (sev.WRONG_VALUE, "torch.nn.functional.cross_entropy", "fail"),
        (sev.WRONG_VALUE, "keras.losses.CategoricalCrossentropy", "fail"),  # registered
        (sev.ERROR, "torch.softmax", "error"),
        (sev.INACCURATE, "torch.nn.functional.log_softmax", "fail"),
        (sev.CONVENTION, "torch.logsumexp", "fail"),
        (sev.CONVENTION, "torch.nn.functional.kl_div", "deviation"),
    ]
    registered = found[1]
    assert registered.registered and registered.links == [
        "https://github.com/keras-team/keras/issues/17634"
    ]
    assert registered.issue is None  # it has an upstream link
    assert findings.counts(found) == {
        sev.WRONG_VALUE: 2,
        sev.ERROR: 1,
        sev.INACCURATE: 1,
        sev.CONVENTION: 1,
    }
    assert findings.headline(found) == (
        "5 findings (2 wrong value, 1 check error, 1 inaccurate, 1 convention)"
    )


def test_ready_to_file_issue_has_versions_reproducer_and_values():
    env = environment(frameworks={"numpy": "2.4.6", "torch": "2.13.0", "jax": "0.10.2"})
    (f,) = findings.group([_wrong()], env)
    assert f.issue is not None
    assert f.issue.startswith("Title: torch.nn.functional.cross_entropy extreme range:")
    assert "torch 2.13.0" in f.issue and "numpy 2.4.6" in f.issue and "CPython 3.11.7" in f.issue
    assert "jax" not in f.issue  # only the framework's own versions
    assert "```python\nimport torch\nprint(torch.nn.functional.cross_entropy(...))\n```" in f.issue
    assert "returns +inf where the correctly rounded value is 1.7e+38" in f.issue
    assert "`1.7e38`" in f.issue


def test_conventions_name_the_other_families_that_follow_them():
    rows = [
        _conv(),
        _conv(
            "tf.math.reduce_logsumexp",
            framework="tensorflow",
            extra={
                "input_pattern": "+inf in input",
                "severity_note": CONV.replace("torch", "tensorflow"),
            },
        ),
    ]
    by_family = {f.family: f for f in findings.group(rows)}
    assert by_family["torch.logsumexp"].same_convention == ["tf.math.reduce_logsumexp"]
    assert by_family["tf.math.reduce_logsumexp"].same_convention == ["torch.logsumexp"]


def _report() -> Report:
    return Report(environment(), [result(), _inaccurate(), _conv(), _wrong()])


def test_json_report_holds_findings_and_validates(tmp_path):
    report = _report()
    json_report.write(report, tmp_path / "r.json")
    doc = json.loads((tmp_path / "r.json").read_text("utf-8"))
    json_report.validate(doc)
    assert [f["severity"] for f in doc["findings"]] == [
        sev.WRONG_VALUE,
        sev.INACCURATE,
        sev.CONVENTION,
    ]
    wrong = next(r for r in doc["results"] if r["check"] == "extreme_range")
    assert wrong["severity"] == sev.WRONG_VALUE
    assert wrong["finite_max_ulp"] == 1.5 and wrong["nonfinite_mismatches"] == 4
    assert wrong["max_ulp"] == "inf"  # the contract's field keeps its meaning
    back = json_report.load(tmp_path / "r.json")
    assert [r.severity for r in back.results] == [r.severity for r in report.results]


def test_schema_rejects_an_unknown_severity():
    doc = json_report.document(_report())
    doc["results"][1]["severity"] = "catastrophic"
    try:
        json_report.validate(doc)
    except json_report.ReportError as exc:
        assert "severity" in str(exc) or "catastrophic" in str(exc)
    else:
        raise AssertionError("an unknown severity validated")


def test_markdown_leads_with_findings():
    text = markdown.render(_report())
    head = text.index("### Findings, worst first (3 findings")
    assert head < text.index("### Environment") < text.index("### Matrix")
    assert text.index("wrong value") < text.index("**inaccurate**") < text.index("**convention**")
    assert "ready-to-file issue" in text and "max ULP error 1.5 +4 non-finite" in text
    first = text.splitlines()[0]
    assert first.startswith("## ❌")
    assert "3 findings \\(1 wrong value, 1 inaccurate, 1 convention\\)" in first


def test_html_leads_with_findings_and_has_copy_buttons():
    page = html.render(_report())
    assert page.index('id="findings"') < page.index("<h2>Matrix</h2>")
    assert page.index('data-severity="wrong_value"') < page.index('data-severity="convention"')
    assert page.count('class="copy" type="button" data-copy="finding-') == 3
    assert "largest finite ULP error: 2.5, 4 examples with non-finite mismatches" in page


def test_terminal_summary_leads_with_findings():
    text = summary.render(_report())
    assert text.startswith("Findings, worst first: 3 findings (1 wrong value")
    assert text.index("[wrong value]") < text.index("[inaccurate]") < text.index("implementation")
    assert "not reported upstream" in text
    assert text.rstrip().endswith("in 3 unregistered non-conforming results")


def test_junit_failure_type_is_the_severity():
    from verify.report import junit

    xml = junit.render(_report())
    assert 'type="wrong_value"' in xml and 'type="convention"' in xml
