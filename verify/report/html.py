"""``conformance.html``: one self-contained page (inline CSS and JS, no network at all).

The page leads with the findings (:mod:`verify.report.findings`): one row per distinct
problem, worst first, with its severity, the implementations and dtypes it hits, its upstream
link or a ready-to-file issue with a copy button, and a link to its results in the matrix.
It embeds the report as JSON in a ``<script type="application/json">`` element and a
small script (``assets/report.js``) renders from it: a sortable, filterable implementation x
check matrix whose cells open their details (max ULP error, bound ratio, examples, message,
reproducer with a copy button, links) and accuracy plots in inline SVG, ULP error against the
largest logit magnitude and against the class count, from ``Result.extra["points"]``.

Hostile input stays inert at three levels:

- the server-rendered parts (header, environment, the no-script table) go through
  :func:`html.escape`;
- the embedded JSON escapes ``<``, ``>``, ``&`` and U+2028/U+2029 as ``\\uXXXX`` so that nothing
  in it can end the script element (HTML spec, "Restrictions for contents of script elements":
  https://html.spec.whatwg.org/multipage/scripting.html#restrictions-for-contents-of-script-elements),
  and the script inserts strings only as text nodes;
- a Content-Security-Policy (https://developer.mozilla.org/docs/Web/HTTP/CSP) allows only the
  page's own script, by its SHA-256 hash, and no network fetches of any kind.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from importlib import resources
from typing import Any

from verify.judge import severity
from verify.report import findings as findings_
from verify.report.json_report import jsonable
from verify.report.model import Report, status_counts
from verify.report.text import (
    STATUS_ORDER,
    checks_present,
    dtype_short,
    format_number,
    verdict,
)

#: findings shown before the rest are folded into a "more" block
FINDINGS_SHOWN = 15

#: Per result, at most this many accuracy points are embedded (the worst ones always).
MAX_POINTS = 600
_WORST_KEPT = 150


def _asset(name: str) -> str:
    return resources.files("verify.report").joinpath("assets", name).read_text("utf-8")


def _ulp_key(point: dict[str, Any]) -> float:
    value: Any = point.get("ulp")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.inf
    return math.inf if math.isnan(number) else number


def thin_points(points: list[dict[str, Any]], limit: int = MAX_POINTS) -> list[dict[str, Any]]:
    """At most ``limit`` points: the worst by ULP error, then an even stride through the rest
    (deterministic, so that the same report always gives the same page)."""
    if len(points) <= limit:
        return points
    order = sorted(range(len(points)), key=lambda i: _ulp_key(points[i]), reverse=True)
    worst = set(order[:_WORST_KEPT])
    rest = [i for i in range(len(points)) if i not in worst]
    room = limit - len(worst)
    step = len(rest) / room
    sampled = {rest[int(k * step)] for k in range(room)}
    return [points[i] for i in sorted(worst | sampled)]


def _page_data(report: Report) -> dict[str, Any]:
    results = []
    for r in report.results:
        obj = r.to_json()
        extra = obj.get("extra")
        if extra and isinstance(extra.get("points"), list):
            extra = dict(extra)
            extra["points"] = thin_points(extra["points"])
            obj["extra"] = extra
        results.append(obj)
    return {"environment": report.environment, "results": results}


def embed_json(value: Any) -> str:
    """JSON text that is safe inside a ``<script>`` element."""
    text = json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; "
        "style-src 'unsafe-inline'; img-src data:; "
        "connect-src 'none'; form-action 'none'; base-uri 'none'"
    )


def _environment(report: Report) -> str:
    env = report.environment
    e = html.escape
    frameworks = ", ".join(f"{e(str(k))} {e(str(v))}" for k, v in env.get("frameworks", {}).items())
    rows = [
        ("profile", e(str(env.get("profile", "")))),
        ("seed", e(str(env.get("seed")))),
        ("devices", e(", ".join(map(str, env.get("devices", [])))) or "none"),
        ("python", e(str(env.get("python", "")))),
        ("platform", e(str(env.get("platform", "")))),
        ("packages", frameworks),
        ("started", e(str(env.get("started", "")))),
        ("finished", e(str(env.get("finished")))),
    ]
    baseline = env.get("baseline")
    if baseline:
        counts = ", ".join(f"{int(v)} {e(str(k))}" for k, v in baseline.get("counts", {}).items())
        rows.append(
            (
                "baseline",
                f"{e(str(baseline.get('path', '')))}: {counts}; "
                f"{len(baseline.get('missing', []))} baseline results missing from this run",
            )
        )
    merge = env.get("merge")
    if merge:
        names = ", ".join(e(str(s.get("report", ""))) for s in merge.get("sources", []))
        rows.append(
            (
                "merged from",
                f"{names} ({len(merge.get('conflicts', []))} conflicting duplicates)",
            )
        )
    return "\n".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)


def _noscript_table(report: Report) -> str:
    e = html.escape
    checks = checks_present(report.results)
    head = "".join(f"<th>{e(c)}</th>" for c in checks)
    by_impl: dict[str, dict[str, list[str]]] = {}
    for r in report.results:
        cell = by_impl.setdefault(r.implementation, {}).setdefault(r.check, [])
        cell.append(f"{e(dtype_short(r.dtype))} {e(r.device)}: {e(r.status)}")
    body = "".join(
        f"<tr><td>{e(impl)}</td>"
        + "".join(f"<td>{'<br>'.join(cells.get(c, []))}</td>" for c in checks)
        + "</tr>"
        for impl, cells in by_impl.items()
    )
    return (
        '<table class="matrix"><thead><tr><th>implementation</th>'
        f"{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _finding_row(i: int, f: findings_.Finding) -> str:
    e = html.escape
    label = severity.LABEL.get(f.severity, f.severity)
    where = ", ".join(e(x).replace(".", ".<wbr>") for x in f.implementations)
    dtypes = " ".join(e(dtype_short(d)) for d in f.dtypes)
    if f.links:
        prefix = "registered" if f.registered else "upstream"
        upstream = f'<span class="muted">{prefix}:</span> ' + " ".join(_link(u) for u in f.links)
    else:
        upstream = '<span class="unreported">not reported</span>'
    body = f.issue or f.reproducer
    what = "ready-to-file issue" if f.issue else "reproducer"
    detail = (
        f'<details><summary>{what}</summary><div class="block">'
        f'<button class="copy" type="button" data-copy="finding-{i}-text">copy {what}</button>'
        f'<pre id="finding-{i}-text">{e(body)}</pre></div></details>'
        if body
        else ""
    )
    show = (
        f'<a href="#details" class="show" data-show-impl="{e(f.implementations[0])}" '
        f'data-show-check="{e(f.check)}">{f.results} result{"s" * (f.results != 1)}</a>'
    )
    same = (
        f'<br><span class="muted">same convention in: {e(", ".join(f.same_convention))}</span>'
        if f.same_convention
        else ""
    )
    return (
        f'<tr class="finding" data-severity="{e(f.severity)}" id="finding-{i}" '
        f'data-framework="{e(f.framework)}" data-names="{e(" ".join(f.implementations))}">'
        f'<td class="num">{i}</td>'
        f'<td><span class="sev {e(f.severity)}">{e(label)}</span></td>'
        f'<td><div class="title">{e(f.title)}</div>{detail}</td>'
        f'<td class="where"><code>{where}</code><br>{dtypes} · {e(", ".join(f.devices))}'
        f"<br>{show}{same}</td>"
        f"<td>{upstream}</td></tr>"
    )


def _link(url: str) -> str:
    e = html.escape
    if url.startswith(("https://", "http://")):
        return f'<a href="{e(url, quote=True)}" rel="noopener noreferrer">{e(url)}</a>'
    return f"<code>{e(url)}</code>"


def _findings(report: Report) -> str:
    found = findings_.group(report.results, report.environment)
    failures = [f for f in found if f.status != "deviation"]
    deviations = [f for f in found if f.status == "deviation"]
    if not failures and not deviations:
        return '<p class="muted" id="no-findings">No findings: every result conforms.</p>'
    parts = []
    head = (
        '<table class="findings"><thead><tr><th>#</th><th>severity</th><th>problem</th>'
        "<th>where</th><th>upstream</th></tr></thead><tbody>"
    )
    if failures:
        rows = [_finding_row(i, f) for i, f in enumerate(failures, 1)]
        shown, more = rows[:FINDINGS_SHOWN], rows[FINDINGS_SHOWN:]
        parts.append(head + "".join(shown) + "</tbody></table>")
        if more:
            parts.append(
                f"<details><summary>{len(more)} more findings</summary>"
                + head
                + "".join(more)
                + "</tbody></table></details>"
            )
    if deviations:
        start = len(failures) + 1
        rows = [_finding_row(start + i, f) for i, f in enumerate(deviations)]
        parts.append(
            f'<details id="deviations"><summary>{len(deviations)} documented deviations '
            "(behaviour the framework documents)</summary>"
            + head
            + "".join(rows)
            + "</tbody></table></details>"
        )
    legend = " ".join(
        f'<span class="sev {s}" title="{html.escape(severity.MEANING[s])}">'
        f"{html.escape(severity.LABEL[s])}</span>"
        for s in severity.SEVERITIES
    )
    parts.append(f'<p class="muted legend">worst first: {legend} (hover for meaning)</p>')
    return "\n".join(parts)


def render(report: Report) -> str:
    """The HTML page of ``report``."""
    e = html.escape
    script = _asset("report.js")
    counts = status_counts(report.results)
    line = verdict(report.results, bool(report.environment.get("interrupted")))
    ok = line.startswith("conforms")
    count_spans = "".join(
        f'<span class="count-{s}"><span class="badge {s}">{counts[s]}</span> {s}</span>'
        for s in STATUS_ORDER
    )
    interrupted = (
        '<p class="banner">This run was interrupted: the results below are incomplete.</p>'
        if report.environment.get("interrupted")
        else ""
    )
    finite: list[float] = []
    for r in report.results:
        if r.finite_max_ulp is not None:
            finite.append(r.finite_max_ulp)
        elif r.max_ulp is not None and math.isfinite(r.max_ulp):  # reports without the field
            finite.append(r.max_ulp)
    worst = format_number(max(finite)) if finite else "—"
    nonfinite = sum(r.nonfinite_mismatches for r in report.results)
    if nonfinite:
        worst += f", {nonfinite} examples with non-finite mismatches"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{e(_csp(script))}">
<link rel="icon" href="data:,">
<title>xent-conformance report</title>
<style>
{_asset("report.css")}
</style>
</head>
<body>
<header>
<h1>xent-conformance report</h1>
<p class="verdict {"ok" if ok else "bad"}" id="verdict">{e(line)}</p>
{interrupted}
<p class="counts">{count_spans}<span class="muted">largest finite ULP error: {e(worst)}</span></p>
</header>
<main>
<h2 id="findings-head">Findings, worst first</h2>
<section id="findings">
{_findings(report)}
</section>
<details class="env"><summary>environment</summary>
<dl class="env">
{_environment(report)}
</dl>
</details>
<h2>Matrix</h2>
<div class="controls" id="controls">
<label>implementation <input type="search" id="filter-text" placeholder="filter by name"></label>
<label>framework <select id="filter-framework"></select></label>
<label>status <select id="filter-status"></select></label>
<label>device <select id="filter-device"></select></label>
<span id="filter-dtypes">dtypes</span>
<span class="muted" id="shown"></span>
</div>
<p class="muted">Each cell holds one badge per dtype (and device); click a cell for its details,
a column header to sort. A black ring marks a regression against the baseline.</p>
<table class="matrix" id="matrix"><thead></thead><tbody></tbody></table>
<noscript>{_noscript_table(report)}</noscript>
<section id="details" hidden></section>
<h2>Accuracy plots</h2>
<p class="muted">ULP error of each accuracy example against the largest logit magnitude and the
number of classes (both log scales; errors below 1e-3 ULP are drawn on the bottom line, dashed
lines at 0.5 and 1 ULP).
<label>implementation <select id="plot-impl"></select></label></p>
<div id="plots-body"></div>
</main>
<footer>Generated by xent-conformance (python -m verify).
Self-contained page: no network access.</footer>
<script type="application/json" id="report-data">{embed_json(_page_data(report))}</script>
<script>{script}</script>
</body>
</html>
"""
