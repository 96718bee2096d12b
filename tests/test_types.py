"""The type check of ``tox -e lint`` runs with the project's own tests, so CI runs it too.

The files and settings are pyproject.toml's ``[tool.mypy]`` (the reference, the whole of
``verify/`` and the benchmarks); a type error there, or a ``type: ignore`` it does not need,
fails this test with mypy's report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api", reason="mypy is in the test extra")

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_reports_no_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    stdout, stderr, status = api.run(["--no-incremental"])
    assert status == 0, stdout + stderr
