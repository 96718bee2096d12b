"""A crash costs one check, not the rest: an implementation that aborts the process through
``--impl`` ends its worker, the check it was in is an ``error`` naming the signal, and a new
worker goes on with the next check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from verify.report import json_report

REPO = Path(__file__).resolve().parents[1]


def test_an_aborting_implementation_costs_one_check_per_crash(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "verify",
            "--impl",
            "tests.aborting_impl:log_softmax",
            "--like",
            "numpy.textbook.log_softmax_shifted",
            "--profile",
            "quick",
            "--dtype",
            "float32",
            "--dtype",
            "float64",
            "--seed",
            "3",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    report = json_report.load(out / "conformance.json")
    keys = [r.key for r in report.results]
    # every check of the plan has a result: 8 checks x 2 dtypes, none lost to a crash
    assert len(keys) == len(set(keys)) == 16
    crashed = [r for r in report.results if r.status == "error"]
    assert crashed, "the implementation aborted, so at least one check is an error"
    for r in crashed:
        assert "SIGABRT" in r.message and "a new worker goes on" in r.message
        assert r.implementation == "tests.aborting_impl:log_softmax"
    after = [r for r in report.results if r.status != "error"]
    assert len(after) >= 16 - len(crashed) and len(crashed) <= 8
    assert len(report.environment["incidents"]) == len(crashed)
