"""The short plain-text summary a run prints on stdout: the findings, worst first (one cause
per entry, :mod:`verify.report.findings`), one line per implementation with its counts per
status, the verdict and where the reports are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from verify.judge import severity
from verify.report import findings as findings_
from verify.report.model import Report
from verify.report.text import STATUS_ORDER, dtype_short, verdict

#: findings listed on the terminal (the reports list all of them)
SHOWN_FINDINGS = 12

_HEAD = {"pass": "pass", "deviation": "dev", "fail": "fail", "error": "error", "skip": "skip"}


def findings_lines(report: Report, limit: int = SHOWN_FINDINGS) -> list[str]:
    """The findings of ``report`` (failures and errors), worst first, two lines each."""
    found = [
        f for f in findings_.group(report.results, report.environment) if f.status != "deviation"
    ]
    if not found:
        return []
    lines = [f"Findings, worst first: {findings_.headline(found)}"]
    for i, f in enumerate(found[:limit], 1):
        label = severity.LABEL.get(f.severity, f.severity)
        upstream = (
            f"registered: {f.links[0]}"
            if f.registered and f.links
            else (f"upstream: {f.links[0]}" if f.links else "not reported upstream")
        )
        dtypes = " ".join(dtype_short(d) for d in f.dtypes)
        impls = ", ".join(f.implementations)
        lines.append(f"{i:>3}. [{label}] {f.title}")
        count = f"{f.results} result{'s' * (f.results != 1)}"
        lines.append(f"     {impls} · {dtypes} · {count} · {upstream}")
        if f.same_convention:
            lines.append(f"     same convention in: {', '.join(f.same_convention)}")
    if len(found) > limit:
        lines.append(f"     ... {len(found) - limit} more in the reports")
    return [*lines, ""]


def render(report: Report, paths: Mapping[str, Path] | None = None) -> str:
    """The summary of ``report``: its findings, the table of counts per implementation, the
    verdict (and the report file locations, when given)."""
    per_impl: dict[str, Counter[str]] = {}
    regressions: Counter[str] = Counter()
    for r in report.results:
        per_impl.setdefault(r.implementation, Counter())[r.status] += 1
        if r.baseline == "regressed":
            regressions[r.implementation] += 1
    width = max([len("implementation"), *(len(name) for name in per_impl)])
    width = min(width, 60)
    head = f"{'implementation':<{width}} " + " ".join(f"{_HEAD[s]:>5}" for s in STATUS_ORDER)
    lines = [*findings_lines(report), head, "-" * len(head)]
    total: Counter[str] = Counter()
    for name, counts in per_impl.items():
        shown = name if len(name) <= width else name[: width - 1] + "…"
        row = f"{shown:<{width}} " + " ".join(f"{counts[s]:>5}" for s in STATUS_ORDER)
        if regressions[name]:
            row += f"  ({regressions[name]} regressed)"
        lines.append(row)
        total.update(counts)
    lines.append("-" * len(head))
    lines.append(f"{'total':<{width}} " + " ".join(f"{total[s]:>5}" for s in STATUS_ORDER))
    lines.append("")
    lines.append(verdict(report.results, bool(report.environment.get("interrupted"))))
    if paths:
        lines.append("reports: " + ", ".join(str(p) for p in paths.values()))
    return "\n".join(lines) + "\n"
