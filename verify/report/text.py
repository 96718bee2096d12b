"""Shared presentation vocabulary of the human-readable reports (Markdown, HTML, terminal)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from verify.judge import severity
from verify.report import findings
from verify.report.model import DTYPE_ORDER
from verify.results import CHECKS, Result

STATUS_ORDER: tuple[str, ...] = ("pass", "deviation", "fail", "error", "skip")
STATUS_SYMBOL: dict[str, str] = {
    "pass": "✅",
    "deviation": "⚠️",
    "fail": "❌",
    "error": "💥",
    "skip": "⏭️",
}
DTYPE_SHORT: dict[str, str] = {
    "float16": "f16",
    "bfloat16": "bf16",
    "float32": "f32",
    "float64": "f64",
}


#: a short mark per severity class, for plain text and Markdown
SEVERITY_SYMBOL: dict[str, str] = {
    severity.WRONG_VALUE: "🟥",
    severity.ACCEPTED_BAD_INPUT: "🟥",
    severity.ERROR: "🟪",
    severity.NO_CORRECT_DIGITS: "🟧",
    severity.INACCURATE: "🟨",
    severity.CONVENTION: "⬜",
}


def ulp_summary(result: Result) -> str:
    """The result's largest finite ULP error, with its non-finite mismatches counted apart:
    ``"2.5"``, ``"2.5 +3 non-finite"``; ``max_ulp`` for reports without ``finite_max_ulp``."""
    if result.finite_max_ulp is None:
        return format_number(result.max_ulp)
    text = format_number(result.finite_max_ulp)
    if result.nonfinite_mismatches:
        text += f" +{result.nonfinite_mismatches} non-finite"
    return text


def dtype_short(dtype: str) -> str:
    """``float32`` -> ``f32``; unknown names are returned unchanged."""
    return DTYPE_SHORT.get(dtype, dtype)


def format_number(value: float | None, digits: int = 3) -> str:
    """A compact rendering of a ULP count or bound ratio (``—`` when not measured)."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def checks_present(results: Iterable[Result]) -> list[str]:
    """The checks that occur in ``results``, in the contract's order."""
    present = {r.check for r in results}
    return [c for c in CHECKS if c in present]


def dtypes_present(results: Iterable[Result]) -> list[str]:
    """The dtypes that occur in ``results``, narrow to wide, unknown names last."""
    present = {r.dtype for r in results}
    known = [d for d in DTYPE_ORDER if d in present]
    return known + sorted(present - set(DTYPE_ORDER))


def verdict(results: Sequence[Result], interrupted: bool = False) -> str:
    """One line: whether the results conform, as the exit status says it; when they do not,
    the unregistered findings counted by severity (``verify.report.findings``)."""
    bad = [r for r in results if r.nonconforming]
    regressed = [r for r in results if r.baseline == "regressed"]
    if bad or regressed:
        parts = []
        if bad:
            found = findings.headline(findings.group(bad))
            parts.append(
                f"{found} in {len(bad)} unregistered non-conforming result{'s' * (len(bad) != 1)}"
            )
        if regressed:
            parts.append(f"{len(regressed)} regression{'s' * (len(regressed) != 1)}")
        line = "does not conform: " + ", ".join(parts)
    elif not results:
        line = "no results"
    else:
        line = "conforms"
    if interrupted:
        line += " (run interrupted: incomplete)"
    return line
