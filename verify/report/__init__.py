"""Report writers: ``conformance.json``, ``conformance.md``, ``conformance.html``, ``junit.xml``.

Every file is written atomically (:mod:`verify.report.atomic`), so a CI step or a browser never
reads a half-written report, even when a run is interrupted while writing.
"""

from __future__ import annotations

import os
from pathlib import Path

from verify.report import html, json_report, junit, markdown
from verify.report.atomic import write_text_atomic
from verify.report.model import Report

FILES: tuple[str, ...] = ("conformance.json", "conformance.md", "conformance.html", "junit.xml")


def write_all(report: Report, output: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the four reports of ``report`` into the directory ``output``; return their paths
    by file name.  The JSON is validated against the schema before anything is written."""
    directory = Path(output)
    directory.mkdir(parents=True, exist_ok=True)
    report = report.sorted()
    return {
        "conformance.json": json_report.write(report, directory / "conformance.json"),
        "conformance.md": write_text_atomic(directory / "conformance.md", markdown.render(report)),
        "conformance.html": write_text_atomic(directory / "conformance.html", html.render(report)),
        "junit.xml": write_text_atomic(directory / "junit.xml", junit.render(report)),
    }


__all__ = ["FILES", "Report", "write_all"]
