"""Findings: the non-pass results of a report grouped by cause into a short list of distinct
problems, worst first.

Results (``fail`` and ``error``; documented ``deviation`` results are grouped apart) that share

- the implementation *family*: the registry name without its bracketed variant tags
  (``optax.softmax_cross_entropy[jit]`` and ``optax.softmax_cross_entropy`` are one family,
  so are ``torch.nn.functional.cross_entropy[probs]`` and the plain entry),
- the check,
- the severity (:mod:`verify.judge.severity`),
- the input pattern (:mod:`verify.judge.input_pattern`, ``Result.extra["input_pattern"]``),

are one finding, across dtypes, devices and variants.  Each finding keeps the smallest
reproducer of its results, the implementations, dtypes and devices it hits, and its upstream
link (the registered known issue, or the documentation a deviation cites).  A finding without
one gets a ready-to-file issue: a title, the versions of the run, the reproducer in the
framework's own API, and the value returned against the correctly rounded value.

The order is: severity (worst first), unregistered before registered, more results first,
then by family, check and pattern.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from verify.judge import severity as sev
from verify.registry.frameworks import FRAMEWORK_DISTRIBUTIONS
from verify.report.model import DTYPE_ORDER
from verify.results import Result

_TAG = re.compile(r"\[[^\]]*\]")


def family(implementation: str) -> str:
    """The implementation family: the registry name without bracketed variant tags."""
    return _TAG.sub("", implementation).strip() or implementation


def input_pattern(result: Result) -> str:
    """The result's input pattern (``extra["input_pattern"]``), or ``""`` when not recorded."""
    value = result.extra.get("input_pattern") if isinstance(result.extra, dict) else None
    return str(value) if value else ""


@dataclasses.dataclass
class Finding:
    """One distinct problem: every result of one cause."""

    severity: str
    family: str
    framework: str
    op: str
    check: str
    input_pattern: str
    status: str
    title: str
    implementations: list[str]
    dtypes: list[str]
    devices: list[str]
    #: how many results it covers
    results: int
    #: all its results are registered upstream issues (they do not make the exit status 1)
    registered: bool
    links: list[str]
    #: why it has this severity, for the representative result (returned against correct)
    note: str
    message: str
    reproducer: str
    reference_value: str
    #: a ready-to-file issue when no upstream link is known, else None
    issue: str | None = None
    #: for a convention: the other families that follow the same convention on the same op,
    #: check and input pattern
    same_convention: list[str] = dataclasses.field(default_factory=list)

    @property
    def id(self) -> str:
        """A stable identifier (the grouping key), usable as an anchor."""
        raw = f"{self.status}-{self.family}-{self.check}-{self.severity}-{self.input_pattern}"
        return re.sub(r"[^A-Za-z0-9]+", "-", raw).strip("-").lower()

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["id"] = self.id
        if out["issue"] is None:
            del out["issue"]
        return out


def _dtype_rank(dtype: str) -> tuple[int, str]:
    return (DTYPE_ORDER.index(dtype) if dtype in DTYPE_ORDER else len(DTYPE_ORDER), dtype)


def _representative(results: Sequence[Result]) -> Result:
    """The result whose reproducer is the smallest (its minimal example), ties by order."""
    with_code = [r for r in results if r.reproducer] or list(results)
    return min(with_code, key=lambda r: (len(r.reproducer), _dtype_rank(r.dtype)))


def _title(rep: Result, fam: str, severity: str, pattern: str) -> str:
    note = str(rep.extra.get("severity_note", "")) if isinstance(rep.extra, dict) else ""
    what = note or (rep.message.split(";")[0] if rep.message else sev.LABEL[severity])
    what = " ".join(what.split())
    if len(what) > 160:
        what = what[:159] + "…"
    where = f" on {pattern}" if pattern and not pattern.startswith("bad input") else ""
    return f"{fam} {rep.check.replace('_', ' ')}: {what}{where}"


def versions(environment: Mapping[str, Any], framework: str) -> str:
    """The versions a bug report needs: the framework's distributions, NumPy, Python and the
    platform, as one line."""
    installed = environment.get("frameworks", {}) or {}
    names = [*FRAMEWORK_DISTRIBUTIONS.get(framework, (framework,)), "numpy"]
    parts = [f"{n} {installed[n]}" for n in dict.fromkeys(names) if n in installed]
    for key in ("python", "platform"):
        if environment.get(key):
            parts.append(str(environment[key]))
    return ", ".join(parts) or "unknown"


def issue_text(finding: Finding, environment: Mapping[str, Any]) -> str:
    """A ready-to-file issue (Markdown) for a finding without an upstream link."""
    kind = sev.LABEL.get(finding.severity, finding.severity)
    convention = finding.severity == sev.CONVENTION
    lines = [
        f"Title: {finding.title}",
        "",
        f"**Versions**: {versions(environment, finding.framework)}",
        f"**Affected**: {', '.join(finding.implementations)}; "
        f"dtypes {', '.join(finding.dtypes)}; devices {', '.join(finding.devices)}",
        f"**Kind**: {kind} ({sev.MEANING.get(finding.severity, '')})",
        "",
        "**Reproducer**",
        "",
        "```python",
        finding.reproducer.rstrip() or "# (no reproducer recorded)",
        "```",
        "",
        f"**Returned versus correctly rounded**: {finding.note or finding.message}",
    ]
    if finding.same_convention:
        lines.append(f"**Same convention in**: {', '.join(finding.same_convention)}")
    if finding.reference_value:
        lines.append(f"**Correctly rounded value**: `{finding.reference_value}`")
    lines += [
        "",
        (
            "This input has +inf or NaN, or a NaN-by-rule answer, where frameworks follow "
            "different conventions; the expected value is the convention this suite's "
            "contract fixes, please say which one is intended."
            if convention
            else "The correctly rounded value is the exact result rounded once into the dtype "
            "(computed by the xent-conformance reference)."
        ),
    ]
    return "\n".join(lines) + "\n"


#: frameworks whose entries demonstrate what unstable textbook formulas do (``numpy``): their
#: findings are real but expected, so within a severity they come after the frameworks' own
DEMONSTRATIONS = frozenset({"numpy"})


def _sort_key(f: Finding) -> tuple[Any, ...]:
    return (
        -sev.rank(f.severity),
        f.framework in DEMONSTRATIONS,
        f.registered,
        -f.results,
        f.family,
        f.check,
        f.input_pattern,
    )


def group(results: Iterable[Result], environment: Mapping[str, Any] | None = None) -> list[Finding]:
    """The findings of ``results``: fail/error results by cause, then deviations by cause,
    each list worst first (deviations always after failures)."""
    env = environment or {}
    groups: dict[tuple[str, ...], list[Result]] = {}
    for r in results:
        severity = sev.severity_of(r)
        if severity is None or r.status not in ("fail", "error", "deviation"):
            continue
        kind = "deviation" if r.status == "deviation" else "fail"
        key = (kind, family(r.implementation), r.check, severity, input_pattern(r))
        groups.setdefault(key, []).append(r)
    findings = []
    for (kind, fam, check, severity, pattern), members in groups.items():
        rep = _representative(members)
        if kind == "deviation":
            links = sorted({u for r in members for u in r.links})
        else:
            links = sorted({r.known_issue for r in members if r.known_issue})
        note = str(rep.extra.get("severity_note", "")) if isinstance(rep.extra, dict) else ""
        finding = Finding(
            severity=severity,
            family=fam,
            framework=rep.framework,
            op=rep.op,
            check=check,
            input_pattern=pattern,
            status="deviation" if kind == "deviation" else rep.status,
            title=_title(rep, fam, severity, pattern),
            implementations=sorted({r.implementation for r in members}),
            dtypes=sorted({r.dtype for r in members}, key=_dtype_rank),
            devices=sorted({r.device for r in members}),
            results=len(members),
            registered=all(bool(r.known_issue) for r in members),
            links=links,
            note=note,
            message=rep.message,
            reproducer=rep.reproducer,
            reference_value=rep.reference_value,
        )
        if not links and kind != "deviation" and finding.status != "error":
            finding.issue = issue_text(finding, env)
        findings.append(finding)
    _link_conventions(findings)
    failures = sorted((f for f in findings if f.status != "deviation"), key=_sort_key)
    deviations = sorted((f for f in findings if f.status == "deviation"), key=_sort_key)
    return failures + deviations


def _convention_key(f: Finding) -> tuple[str, ...]:
    return (f.op, f.check, f.input_pattern, f.note.replace(f"{f.framework} returns", "returns"))


def _link_conventions(findings: list[Finding]) -> None:
    """Fill ``same_convention``: which families return the same value where the contract fixes
    a convention, so that a report says which convention each framework follows."""
    by_key: dict[tuple[str, ...], list[Finding]] = {}
    for f in findings:
        if f.severity == sev.CONVENTION and f.note:
            by_key.setdefault(_convention_key(f), []).append(f)
    for group_ in by_key.values():
        for f in group_:
            f.same_convention = sorted({g.family for g in group_ if g.family != f.family})


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Number of findings (failures and errors, not deviations) per severity, worst first;
    classes without findings are left out."""
    out = {s: 0 for s in sev.SEVERITIES}
    for f in findings:
        if f.status != "deviation":
            out[f.severity] = out.get(f.severity, 0) + 1
    return {s: n for s, n in out.items() if n}


def headline(findings: Sequence[Finding]) -> str:
    """``"7 findings (2 wrong value, 1 inaccurate, ...)"`` (failures only; empty without)."""
    by = counts(findings)
    total = sum(by.values())
    if not total:
        return ""
    parts = ", ".join(f"{n} {sev.LABEL.get(s, s)}" for s, n in by.items())
    return f"{total} finding{'s' * (total != 1)} ({parts})"


__all__ = ["Finding", "counts", "family", "group", "headline", "input_pattern", "issue_text"]
