"""Hostile strings (names, messages, reproducers, URLs) stay inert text in every format."""

from __future__ import annotations

import html.parser
import json
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.report_samples import environment, result
from tests.runner_fakes import HOSTILE
from verify.report import html as html_report
from verify.report import json_report, junit, markdown
from verify.report.model import Report

PAYLOAD_MESSAGE = f"message {HOSTILE}\n</script><script>window.__pwned=2</script>"
PAYLOAD_REPRO = f"print({HOSTILE!r})\n```\n~~~\n</pre><b>bold</b>\n````"


def hostile_report() -> Report:
    r = result(
        HOSTILE,
        framework=f"fw{HOSTILE}",
        status="fail",
        message=PAYLOAD_MESSAGE,
        reproducer=PAYLOAD_REPRO,
        reference_value=HOSTILE,
        links=["javascript:window.__pwned=3", f"https://example.org/a b)<{HOSTILE}"],
        known_issue=None,
        extra={"points": [{"magnitude": 1.0, "classes": 5, "ulp": "inf"}]},
    )
    return Report(environment(platform=HOSTILE, frameworks={HOSTILE: HOSTILE}), [r, result()])


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


def test_html_page_keeps_hostile_strings_inert():
    page = html_report.render(hostile_report())
    parser = _Collector()
    parser.feed(page)
    assert "img" not in parser.tags and "b" not in parser.tags
    assert parser.tags.count("script") == 2  # the data and the page's own script
    assert not [a for a in parser.attrs if a[0].startswith("on")]
    data = json.loads(parser.scripts[0])
    assert data["results"][0]["implementation"] == HOSTILE
    assert data["results"][0]["message"] == PAYLOAD_MESSAGE
    assert data["results"][0]["reproducer"] == PAYLOAD_REPRO
    assert data["environment"]["platform"] == HOSTILE
    # the CSP admits exactly the page's own script, by hash
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(parser.scripts[1].encode()).digest()).decode()
    assert f"script-src &#x27;sha256-{digest}&#x27;" in page
    assert "default-src &#x27;none&#x27;" in page


def test_html_page_needs_no_network():
    page = html_report.render(hostile_report())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page


def test_markdown_escapes_cells_and_fences_code():
    md = markdown.render(hostile_report())
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    parser = _Collector()
    parser.feed(rendered)
    assert "img" not in parser.tags and "b" not in parser.tags and "script" not in parser.tags
    assert not [a for a in parser.attrs if a[0].startswith("on")]
    hrefs = [v for k, v in parser.attrs if k == "href"]
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    # the table keeps its shape: the hostile name's '|' did not open a column
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.S)
    assert len({r.count("<td") + r.count("<th") for r in rows}) == 1
    # the reproducer comes out of its fenced block byte for byte
    blocks = re.findall(r'<code class="language-python">(.*?)</code>', rendered, re.S)
    import html as html_lib

    assert html_lib.unescape(blocks[0]).rstrip("\n") == PAYLOAD_REPRO.rstrip("\n")


def test_junit_is_well_formed_and_round_trips_text():
    xml = junit.render(hostile_report())
    root = ET.fromstring(xml)
    case = root.find(".//testcase")
    assert case.get("classname") == HOSTILE.replace("\x00", "\\x00")
    failure = case.find("failure")
    assert PAYLOAD_REPRO in failure.text
    assert root.get("tests") == "2" and root.get("failures") == "1"


def test_json_round_trips_hostile_text(tmp_path):
    json_report.write(hostile_report(), tmp_path / "r.json")
    back = json_report.load(tmp_path / "r.json")
    assert back.results[0].implementation == HOSTILE
    assert back.results[0].reproducer == PAYLOAD_REPRO


text_strategy = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("<>&|`'\"\\\n]]>"),
    max_size=40,
)


@settings(
    max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(name=text_strategy.filter(lambda s: s.strip()), message=text_strategy, repro=text_strategy)
def test_any_text_survives_every_format(name, message, repro):
    r = result(name, status="fail", message=message, reproducer=repro, reference_value=message)
    report = Report(environment(), [r])
    # JSON: exact round trip
    back = Report.from_json(json.loads(json_report.dumps(report)))
    assert (back.results[0].implementation, back.results[0].message) == (name, message)
    # HTML: the embedded data decodes to the same strings; no tag is smuggled in
    parser = _Collector()
    parser.feed(html_report.render(report))
    assert parser.tags.count("script") == 2
    data = json.loads(parser.scripts[0])
    assert data["results"][0]["implementation"] == name
    assert data["results"][0]["reproducer"] == repro
    # JUnit: always well-formed XML
    ET.fromstring(junit.render(report))
    # Markdown: the reproducer's fence is longer than any backtick run inside it
    md = markdown.render(report)
    if repro.strip():
        longest = max((len(m) for m in re.findall("`+", repro)), default=0)
        assert "`" * max(3, longest + 1) + "python\n" in md
