"""The short plain-text summary a run prints on stdout: one line per implementation with its
counts per status, the verdict and where the reports are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from verify.report.model import Report
from verify.report.text import STATUS_ORDER, verdict

_HEAD = {"pass": "pass", "deviation": "dev", "fail": "fail", "error": "error", "skip": "skip"}


def render(report: Report, paths: Mapping[str, Path] | None = None) -> str:
    """The summary table of ``report`` (and the report file locations, when given)."""
    per_impl: dict[str, Counter[str]] = {}
    regressions: Counter[str] = Counter()
    for r in report.results:
        per_impl.setdefault(r.implementation, Counter())[r.status] += 1
        if r.baseline == "regressed":
            regressions[r.implementation] += 1
    width = max([len("implementation"), *(len(name) for name in per_impl)])
    width = min(width, 60)
    head = f"{'implementation':<{width}} " + " ".join(f"{_HEAD[s]:>5}" for s in STATUS_ORDER)
    lines = [head, "-" * len(head)]
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
