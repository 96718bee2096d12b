"""The HTML report in a real browser: headless Chromium driven over the Chrome DevTools
Protocol (https://chromedevtools.github.io/devtools-protocol/) through
``--remote-debugging-pipe`` (NUL-separated JSON messages on file descriptors 3 and 4), so no
websocket library and no browser download are needed.

Checks: the page's script runs under its own Content-Security-Policy, the matrix renders,
filtering and sorting work, a cell opens its details with the reproducer and a copy button,
the accuracy plots are drawn as SVG (and "no data" is said where there are none), hostile
strings stay text, and the console shows no errors.

Run as a script to take a screenshot of a report:
``python tests/test_browser.py reports/conformance.html docs/report-screenshot.png``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


#: puts argv[1] on fd 3 and argv[2] on fd 4 (where --remote-debugging-pipe expects them), then
#: becomes the browser
_EXEC_WITH_PIPE = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def _above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """A headless Chromium and one page, driven over the DevTools pipe."""

    def __init__(self, executable: str, width: int = 1400, height: int = 1000) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="xent-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # The child's ends move above 4 so that putting them on 3 and 4 cannot clobber one
        # with the other.
        to_browser_r, from_browser_w = _above_four(to_browser_r), _above_four(from_browser_w)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _EXEC_WITH_PIPE,
                str(to_browser_r),
                str(from_browser_w),
                executable,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
            ],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    # -- protocol -------------------------------------------------------------------------
    def _read_message(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message from the browser")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed the DevTools pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, *, session: bool = False, timeout: float = 30, **params):
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read_message(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for_event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self._read_message(deadline - time.monotonic())
            if event.get("method") == method:
                return event
            self.events.append(event)
        raise TimeoutError(method)

    # -- page helpers ---------------------------------------------------------------------
    def open(self, path: Path) -> None:
        self.call("Page.navigate", session=True, url=path.resolve().as_uri())
        self.wait_for_event("Page.loadEventFired")

    def js(self, expression: str) -> Any:
        reply = self.call(
            "Runtime.evaluate",
            session=True,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def console_errors(self) -> list[str]:
        self.js("0")  # flush pending events
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"].get("text", "")[:500])
        return errors

    def screenshot(self, path: Path) -> None:
        height = self.js("document.documentElement.scrollHeight")
        shot = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1400, "height": min(height, 1700), "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium found (install Debian's 'chromium' package to run this test)")
    b = Browser(executable)
    yield b
    b.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory, browser):
    from tests.report_samples import sample_report
    from tests.test_report_escaping import hostile_report
    from verify.report import write_all
    from verify.report.model import Report

    sample, hostile = sample_report(), hostile_report()
    report = Report(sample.environment, sample.results + hostile.results)
    out = tmp_path_factory.mktemp("html")
    write_all(report, out)
    browser.open(out / "conformance.html")
    return browser


def test_script_runs_and_matrix_renders(page):
    assert page.js("document.documentElement.getAttribute('data-ready')") == "true"
    rows = page.js("[...document.querySelectorAll('#matrix tbody tr')].map(r => r.dataset.impl)")
    assert "torch.nn.functional.cross_entropy" in rows and "torch.softmax" in rows
    assert len(rows) == 3
    headers = page.js("[...document.querySelectorAll('#matrix th')].map(t => t.dataset.sort)")
    assert headers[:3] == ["implementation", "framework", "accuracy"]
    badges = page.js("document.querySelectorAll('#matrix .badge').length")
    assert badges == 8  # one per result


def test_filtering(page):
    def visible():
        return page.js(
            "[...document.querySelectorAll('#matrix tbody tr')]"
            ".map(r => r.dataset.impl).filter(Boolean)"
        )

    page.js("""(() => { const box = document.getElementById('filter-text');
        box.value = 'softmax'; box.dispatchEvent(new Event('input')); })()""")
    assert visible() == ["torch.softmax"]
    page.js("""(() => { const box = document.getElementById('filter-text');
        box.value = ''; box.dispatchEvent(new Event('input')); })()""")
    assert len(visible()) == 3
    page.js("""(() => { const s = document.getElementById('filter-status');
        s.value = 'nonconforming'; s.dispatchEvent(new Event('change')); })()""")
    shown = visible()
    assert "torch.nn.functional.cross_entropy" in shown  # its unregistered float16 fail
    # the registered known issue alone would not show; the badges left are all non-conforming
    classes = page.js("[...document.querySelectorAll('#matrix .badge')].map(b => b.className)")
    assert classes and all(("fail" in c) or ("error" in c) for c in classes)
    page.js("""(() => { const s = document.getElementById('filter-status');
        s.value = ''; s.dispatchEvent(new Event('change'));
        const box = document.querySelector('input[data-dtype=float16]');
        box.click(); })()""")
    labels = page.js("[...document.querySelectorAll('#matrix .badge')].map(b => b.textContent)")
    assert labels and not any(label.startswith("f16") for label in labels)
    page.js("document.querySelector('input[data-dtype=float16]').click()")
    assert page.js("document.getElementById('shown').textContent") == "3 of 3 implementations shown"


def test_sorting(page):
    def order():
        return page.js(
            "[...document.querySelectorAll('#matrix tbody tr')].map(r => r.dataset.impl)"
        )

    page.js("document.querySelector('th[data-sort=implementation]').click()")
    first = order()
    page.js("document.querySelector('th[data-sort=implementation]').click()")
    assert order() == list(reversed(first))
    page.js("document.querySelector('th[data-sort=accuracy]').click()")
    assert page.js("document.querySelector('th[data-sort=accuracy]').getAttribute('aria-sort')")


def test_cell_details_and_plots(page):
    page.js("""document.querySelector(
        'tr[data-impl="torch.nn.functional.cross_entropy"] td[data-check=accuracy]').click()""")
    assert not page.js("document.getElementById('details').hidden")
    text = page.js("document.getElementById('details').textContent")
    assert "loss is nan, reference inf" in text and "import torch" in text
    assert page.js("document.querySelectorAll('#details button.copy').length") >= 1
    links = page.js("[...document.querySelectorAll('#details a')].map(a => a.href)")
    assert "https://pytorch.org/docs/stable/" in links
    # plots: the sample result carries points, drawn as SVG circles on both axes
    assert page.js("document.querySelectorAll('#details svg').length") >= 2
    page.js("""(() => { const s = document.getElementById('plot-impl');
        s.value = 'torch.nn.functional.cross_entropy';
        s.dispatchEvent(new Event('change')); })()""")
    assert page.js("document.querySelectorAll('#plots-body svg').length") == 2
    assert page.js("document.querySelectorAll('#plots-body svg circle').length") == 2 * 61
    page.js("""(() => { const s = document.getElementById('plot-impl');
        s.value = 'torch.softmax'; s.dispatchEvent(new Event('change')); })()""")
    assert "no data" in page.js("document.getElementById('plots-body').textContent")


def test_findings_lead_and_open_their_results(page):
    def top(selector):
        return page.js(
            f"document.querySelector({json.dumps(selector)}).getBoundingClientRect().top"
        )

    assert top("#findings") < top("#matrix")
    severities = page.js(
        "[...document.querySelectorAll('#findings tr.finding')].map(r => r.dataset.severity)"
    )
    assert severities[0] == "wrong_value" and "convention" in severities
    assert "findings" in page.js("document.getElementById('verdict').textContent")
    page.js("document.querySelector('#findings a[data-show-impl]').click()")
    assert not page.js("document.getElementById('details').hidden")
    heading = page.js("document.querySelector('#details h2').textContent")
    assert heading.startswith("torch.nn.functional.cross_entropy")
    assert "wrong value" in page.js("document.getElementById('details').textContent")
    page.js("document.querySelector('#findings tr.finding details').open = true")
    page.js("document.querySelector('#findings button.copy').click()")
    assert page.js("document.querySelector('#findings button.copy').textContent") in (
        "copied",
        "copy failed",
    )
    issue = page.js("document.querySelector('#findings pre').textContent")
    assert issue.startswith("Title: ") and "torch 2.13.0" in issue and "import torch" in issue
    page.js("""(() => { const box = document.getElementById('filter-text');
        box.value = 'softmax'; box.dispatchEvent(new Event('input')); })()""")
    names = page.js(
        "[...document.querySelectorAll('#findings tr.finding:not([hidden])')]"
        ".map(r => r.dataset.names)"
    )
    assert names == ["torch.softmax"]  # only the error finding of torch.softmax
    page.js("""(() => { const box = document.getElementById('filter-text');
        box.value = ''; box.dispatchEvent(new Event('input')); })()""")
    assert page.js("document.querySelectorAll('#findings tr.finding:not([hidden])').length") >= 2
    ulp = page.js(
        "document.querySelector('tr[data-impl=\"torch.nn.functional.cross_entropy\"] td.ulp')"
        ".textContent"
    )
    assert ulp == "1.5 +2 non-finite"


def test_hostile_strings_stay_text(page):
    from tests.runner_fakes import HOSTILE

    assert page.js("document.querySelectorAll('img, b').length") == 0
    assert page.js("typeof window.__pwned") == "undefined"
    names = page.js("[...document.querySelectorAll('#matrix tbody tr')].map(r => r.dataset.impl)")
    assert HOSTILE in names
    page.js(f"""[...document.querySelectorAll('#matrix tbody tr')]
        .find(r => r.dataset.impl === {json.dumps(HOSTILE)})
        .querySelector('td[data-check=accuracy]').click()""")
    text = page.js("document.getElementById('details').textContent")
    assert "</pre><b>bold</b>" in text and "window.__pwned=2" in text
    hrefs = page.js("[...document.querySelectorAll('#details a')].map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert page.js("document.querySelectorAll('img, b').length") == 0
    assert page.js("typeof window.__pwned") == "undefined"


def test_no_console_errors(page):
    assert page.console_errors() == []


def main(argv: list[str]) -> int:
    """``python tests/test_browser.py REPORT.html SHOT.png [implementation-to-open check]``"""
    executable = find_chromium()
    if executable is None:
        print("no Chromium found", file=sys.stderr)
        return 2
    browser = Browser(executable)
    try:
        browser.open(Path(argv[0]))
        if len(argv) > 3:
            impl, check = json.dumps(argv[2]), json.dumps(argv[3])
            browser.js(f"window.xentReport.showDetails({impl}, {check})")
            browser.js(f"""(() => {{ const s = document.getElementById('plot-impl');
                s.value = {impl}; s.dispatchEvent(new Event('change')); }})()""")
        browser.screenshot(Path(argv[1]))
        errors = browser.console_errors()
        if errors:
            print("console errors:", *errors, sep="\n", file=sys.stderr)
            return 1
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main(sys.argv[1:]))
