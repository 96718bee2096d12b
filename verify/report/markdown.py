"""``conformance.md``: GitHub-flavoured Markdown for a pull-request comment or a CI step summary.

Layout: a verdict line (the findings counted by severity), the findings, worst first (one
cause each, with the implementations and dtypes it hits, its minimal reproducer, its upstream
link or a ready-to-file issue in a collapsed block), the environment, the implementation x
check matrix (per dtype, how many devices passed, deviated, failed...), then every failure and
error with its reproducer in a fenced code block, then the documented deviations.

Everything an implementation can put into a report (names, messages, reproducers, URLs) is
treated as hostile: table cells and prose are HTML-escaped and Markdown punctuation is
backslash-escaped (GFM spec, "Backslash escapes" and "Tables":
https://github.github.com/gfm/#backslash-escapes, https://github.github.com/gfm/#tables-extension-);
code goes into fenced blocks whose fence is longer than any backtick run inside
(https://github.github.com/gfm/#fenced-code-blocks); only http(s) URLs become links.
GitHub limits a comment to 65536 characters, so the failure list is cut to fit
:data:`MAX_CHARS`, saying how many were left out.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections import Counter

from verify.judge import severity
from verify.report import findings as findings_
from verify.report.model import Report, status_counts
from verify.report.text import (
    SEVERITY_SYMBOL,
    STATUS_ORDER,
    STATUS_SYMBOL,
    checks_present,
    dtype_short,
    dtypes_present,
    format_number,
    ulp_summary,
    verdict,
)
from verify.results import Result

MAX_CHARS = 60_000
#: the findings list gets at most this share of :data:`MAX_CHARS`
FINDINGS_CHARS = 24_000
#: beyond it, findings are listed without their issue text, in this much more
FINDINGS_LIST_CHARS = 16_000
#: characters that start inline Markdown constructs anywhere in a line (emphasis, code, links,
#: images, raw HTML after escaping, tables, strikethrough); line-start constructs cannot occur
#: because escaped text never begins a line
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()!|~<>#$])")
#: GFM extended autolinks (https://github.github.com/gfm/#autolinks-extension-)
_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=www)(\.)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def escape(text: object) -> str:
    """``str(text)`` as inert inline Markdown: one line, HTML-escaped, punctuation escaped."""
    one_line = _CONTROL.sub("\ufffd", " ".join(str(text).split()))
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=True))
    return _AUTOLINK.sub(lambda m: "\\" + m.group(), escaped)


def fenced(text: str, language: str = "") -> str:
    """``text`` in a fenced code block that nothing inside can close."""
    body = _CONTROL.sub("\ufffd", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}"


def link(url: str, label: str | None = None) -> str:
    """A Markdown link to ``url`` when it is http(s); otherwise the escaped text."""
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return escape(url)
    safe = urllib.parse.quote(url.strip(), safe=":/?#@!$&'*+,;=%~-._")
    safe = safe.replace("(", "%28").replace(")", "%29")
    return f"[{escape(label or url)}](<{safe}>)"


def _cell(results: list[Result]) -> str:
    """One line per status present: its mark, then the dtypes with that status (a count
    after a dtype when several devices share it)."""
    lines = []
    for status in STATUS_ORDER:
        counts = Counter(r.dtype for r in results if r.status == status)
        if not counts:
            continue
        dtypes = [
            escape(dtype_short(d)) + (f"×{counts[d]}" if counts[d] > 1 else "")
            for d in dtypes_present(results)
            if d in counts
        ]
        lines.append(f"{STATUS_SYMBOL[status]} {' '.join(dtypes)}")
    return "<br>".join(lines) if lines else " "


def _matrix(results: list[Result]) -> list[str]:
    checks = checks_present(results)
    lines = [
        "| implementation | " + " | ".join(escape(c) for c in checks) + " |",
        "| --- |" + " --- |" * len(checks),
    ]
    by_impl: dict[str, list[Result]] = {}
    for r in results:
        by_impl.setdefault(r.implementation, []).append(r)
    for impl, rows in by_impl.items():
        cells = [_cell([r for r in rows if r.check == c]) for c in checks]
        lines.append(f"| {escape(impl)} | " + " | ".join(cells) + " |")
    legend = ", ".join(f"{STATUS_SYMBOL[s]} {s}" for s in STATUS_ORDER)
    lines += ["", f"Each cell lists the dtypes per status (×N: on N devices): {legend}."]
    return lines


def _environment(report: Report) -> list[str]:
    env = report.environment
    frameworks = ", ".join(f"{escape(k)} {escape(v)}" for k, v in env.get("frameworks", {}).items())
    lines = [
        f"- profile **{escape(env.get('profile', ''))}**, seed {escape(env.get('seed'))}, "
        f"devices {escape(', '.join(env.get('devices', [])) or 'none')}",
        f"- {escape(env.get('python', ''))} on {escape(env.get('platform', ''))}",
        f"- {frameworks}",
        f"- started {escape(env.get('started', ''))}, finished {escape(env.get('finished'))}",
    ]
    if env.get("interrupted"):
        lines.append("- ⚠️ **the run was interrupted**: results are incomplete")
    baseline = env.get("baseline")
    if baseline:
        counts = ", ".join(f"{v} {escape(k)}" for k, v in baseline["counts"].items())
        lines.append(
            f"- baseline {escape(baseline['path'])}: {counts}; "
            f"{len(baseline['missing'])} baseline results missing from this run"
        )
    merge = env.get("merge")
    if merge:
        lines.append(
            f"- merged from {len(merge['sources'])} reports, "
            f"{len(merge['conflicts'])} conflicting duplicates"
        )
    return lines


def _detail(r: Result) -> list[str]:
    tags = [r.status]
    if r.severity:
        tags.append(severity.LABEL.get(r.severity, r.severity))
    if r.known_issue:
        tags.append("known upstream issue")
    if r.baseline:
        tags.append(r.baseline)
    head = (
        f"#### {STATUS_SYMBOL[r.status]} {escape(r.implementation)}: "
        f"{escape(r.check)}, {escape(r.dtype)}, {escape(r.device)}"
    )
    lines = [
        head,
        "",
        f"{escape(', '.join(tags))}; {r.examples} examples; "
        f"max ULP error {escape(ulp_summary(r))}; "
        f"max error/bound {escape(format_number(r.max_bound_ratio))}",
        "",
    ]
    if r.message:
        lines += [fenced(r.message, "text"), ""]
    if r.reproducer:
        lines += ["Reproducer:", "", fenced(r.reproducer, "python"), ""]
    if r.reference_value:
        lines += ["Correctly rounded reference value:", "", fenced(r.reference_value, "text"), ""]
    urls = ([r.known_issue] if r.known_issue else []) + list(r.links)
    if urls:
        lines += ["Links: " + ", ".join(link(u) for u in urls), ""]
    return lines


def _count(n: int) -> str:
    return f"{n} result{'s' * (n != 1)}"


def _finding(i: int, f: findings_.Finding, with_text: bool = True) -> list[str]:
    """A finding as a list item; ``with_text`` adds its issue (or reproducer) block."""
    label = severity.LABEL.get(f.severity, f.severity)
    mark = SEVERITY_SYMBOL.get(f.severity, "")
    where = ", ".join(escape(x) for x in f.implementations)
    dtypes = " ".join(escape(dtype_short(d)) for d in f.dtypes)
    if f.links:
        upstream = ("registered: " if f.registered else "upstream: ") + ", ".join(
            link(u) for u in f.links
        )
    else:
        upstream = "not reported upstream" + (
            ": a ready-to-file issue follows"
            if with_text
            else " (ready-to-file issue in conformance.html and .json)"
        )
    lines = [
        f"{i}. {mark} **{escape(label)}**: {escape(f.title)}",
        f"   <br>{where} · {dtypes} · {escape(', '.join(f.devices))} · {_count(f.results)}"
        f" · {upstream}",
    ]
    if f.same_convention:
        lines.append(f"   <br>same convention in: {escape(', '.join(f.same_convention))}")
    if not with_text:
        pass
    elif f.issue:
        lines += [
            "",
            "   <details><summary>ready-to-file issue</summary>",
            "",
            *("   " + line if line else "" for line in fenced(f.issue, "markdown").splitlines()),
            "",
            "   </details>",
        ]
    elif f.reproducer:
        lines += [
            "",
            "   <details><summary>reproducer</summary>",
            "",
            *("   " + line if line else "" for line in fenced(f.reproducer, "python").splitlines()),
            "",
            "   </details>",
        ]
    return [*lines, ""]


def _findings(report: Report) -> list[str]:
    found = [
        f for f in findings_.group(report.results, report.environment) if f.status != "deviation"
    ]
    if not found:
        return []
    lines = [f"### Findings, worst first ({escape(findings_.headline(found))})", ""]
    used = 0
    for i, f in enumerate(found, 1):
        # every finding gets its lines; the issue texts go in while they fit the budget
        block = _finding(i, f)
        size = sum(len(line) + 1 for line in block)
        if used + size > FINDINGS_CHARS:
            block = _finding(i, f, with_text=False)
            size = sum(len(line) + 1 for line in block)
        if used + size > FINDINGS_CHARS + FINDINGS_LIST_CHARS:
            lines += [f"_{len(found) - i + 1} more findings not shown (size limit)._", ""]
            break
        lines += block
        used += size
    legend = "; ".join(
        f"{SEVERITY_SYMBOL[s]} {escape(severity.LABEL[s])}: {escape(severity.MEANING[s])}"
        for s in severity.SEVERITIES
    )
    return [*lines, f"Severities, worst first: {legend}.", ""]


def render(report: Report) -> str:
    """The Markdown text of ``report``."""
    results = report.results
    counts = status_counts(results)
    symbol = "✅" if verdict(results) == "conforms" else "❌"
    line = verdict(results, bool(report.environment.get("interrupted")))
    lines = [
        f"## {symbol} xent-conformance: {escape(line)}",
        "",
        " · ".join(f"{STATUS_SYMBOL[s]} {counts[s]} {s}" for s in STATUS_ORDER),
        "",
        *_findings(report),
        "### Environment",
        "",
        *_environment(report),
        "",
        "### Matrix",
        "",
        *(_matrix(results) if results else ["No results."]),
        "",
    ]
    failures = [r for r in results if r.status in ("fail", "error")]
    failures.sort(key=lambda r: (not r.nonconforming, r.baseline != "regressed"))
    if failures:
        lines += [f"### Failures and errors ({len(failures)})", ""]
        used = sum(len(line) + 1 for line in lines)
        for i, r in enumerate(failures):
            block = _detail(r)
            size = sum(len(line) + 1 for line in block)
            if used + size > MAX_CHARS:
                lines += [
                    f"_{len(failures) - i} more not shown (size limit): see conformance.json "
                    "or conformance.html._",
                    "",
                ]
                break
            lines += block
            used += size
    deviations = [r for r in results if r.status == "deviation"]
    if deviations:
        lines += [f"### Documented deviations ({len(deviations)})", ""]
        used = sum(len(line) + 1 for line in lines)
        for i, r in enumerate(deviations):
            urls = ", ".join(link(u) for u in r.links) or "no link"
            line = (
                f"- {escape(r.implementation)} {escape(r.check)} {escape(r.dtype)} "
                f"{escape(r.device)}: {escape(r.message[:300])} ({urls})"
            )
            if used + len(line) > MAX_CHARS + 4000:
                lines.append(f"- _{len(deviations) - i} more not shown (size limit)_")
                break
            lines.append(line)
            used += len(line) + 1
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
