"""``junit.xml``: the results as JUnit XML test cases, for CI systems' test-report views.

One ``<testsuite>`` per framework, one ``<testcase>`` per result (classname: the
implementation; name: ``check[dtype-device]``).  ``fail`` maps to ``<failure>``, ``error`` to
``<error>``, ``skip`` to ``<skipped>``; a ``fail`` that matches a registered upstream issue is
reported as ``<skipped>`` naming the issue, as pytest reports an expected failure (xfail), so
that the XML agrees with the exit status.  The element and attribute names follow the schema
that Jenkins, GitLab and GitHub test reporters read
(https://github.com/testmoapp/junitxml#basic-junit-xml-structure).

Strings are XML-escaped by :mod:`xml.etree.ElementTree`; characters XML 1.0 cannot carry at all
(C0 controls other than tab and newline, lone surrogates, U+FFFE/U+FFFF) are replaced by
``\\xNN``-style escapes first (https://www.w3.org/TR/xml/#charsets).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from verify.report.model import Report
from verify.report.text import format_number
from verify.results import Result

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: object) -> str:
    """``text`` with the characters XML 1.0 forbids replaced by visible escapes."""
    return _ILLEGAL_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _body(r: Result) -> str:
    lines = [
        f"status: {r.status}" + (f" (baseline: {r.baseline})" if r.baseline else ""),
        f"examples: {r.examples}; max ULP error: {format_number(r.max_ulp)}; "
        f"max error/bound: {format_number(r.max_bound_ratio)}",
    ]
    if r.message:
        lines += ["", r.message]
    if r.reference_value:
        lines += ["", "correctly rounded reference value:", r.reference_value]
    if r.reproducer:
        lines += ["", "reproducer:", r.reproducer]
    urls = ([r.known_issue] if r.known_issue else []) + list(r.links)
    if urls:
        lines += ["", "links:", *urls]
    return xml_text("\n".join(lines))


def _testcase(suite: ET.Element, r: Result) -> str:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=xml_text(r.implementation),
        name=xml_text(f"{r.check}[{r.dtype}-{r.device}]"),
        time=f"{r.duration_s or 0.0:.3f}",
    )
    first_line = xml_text((r.message or r.status).splitlines()[0] if r.message else r.status)
    if r.baseline == "regressed":
        first_line = "regressed: " + first_line
    if r.status == "fail" and r.known_issue and r.baseline != "regressed":
        node = ET.SubElement(
            case, "skipped", message=xml_text(f"known upstream issue {r.known_issue}")
        )
        node.text = _body(r)
        return "skipped"
    if r.status == "fail":
        kind = r.severity or "nonconformance"  # the severity class names the failure type
        node = ET.SubElement(case, "failure", message=first_line, type=xml_text(kind))
        node.text = _body(r)
        return "failure"
    if r.status == "error":
        node = ET.SubElement(case, "error", message=first_line, type="error")
        node.text = _body(r)
        return "error"
    if r.status == "skip":
        ET.SubElement(case, "skipped", message=first_line)
        return "skipped"
    out = ET.SubElement(case, "system-out")
    out.text = _body(r)
    return "passed"


def render(report: Report) -> str:
    """The JUnit XML document of ``report``."""
    root = ET.Element("testsuites", name="xent-conformance")
    by_framework: dict[str, list[Result]] = {}
    for r in report.results:
        by_framework.setdefault(r.framework, []).append(r)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for framework, results in by_framework.items():
        suite = ET.SubElement(root, "testsuite", name=xml_text(framework))
        counts = {"tests": len(results), "failures": 0, "errors": 0, "skipped": 0}
        time = 0.0
        for r in results:
            outcome = _testcase(suite, r)
            if outcome == "failure":
                counts["failures"] += 1
            elif outcome == "error":
                counts["errors"] += 1
            elif outcome == "skipped":
                counts["skipped"] += 1
            time += r.duration_s or 0.0
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{time:.3f}")
        started = report.environment.get("started")
        if started:
            suite.set("timestamp", str(started))
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
