"""Merging reports from several machines or devices."""

from __future__ import annotations

import itertools
import json

from tests.report_samples import environment, result
from verify.report import FILES, json_report
from verify.report.merge import merge_reports
from verify.report.model import Report


def _reports():
    a = Report(
        environment(
            devices=["cpu"], started="2025-01-31T10:00:00Z", finished="2025-01-31T10:10:00Z"
        ),
        [result(device="cpu", duration_s=1.0), result(device="cpu", dtype="float64")],
    )
    b = Report(
        environment(
            devices=["cuda"],
            platform="Linux-aarch64",
            frameworks={"numpy": "2.4.6", "torch": "2.12.0"},
            started="2025-01-31T09:00:00Z",
            finished="2025-01-31T09:30:00Z",
        ),
        [result(device="cuda"), result(device="cpu", duration_s=7.0)],  # same as a's first
    )
    c = Report(
        environment(seed=5),
        [result(device="cpu", dtype="float64", status="fail", max_ulp=3.0)],  # conflicts
    )
    return a, b, c


def test_environment_merge():
    a, b, c = _reports()
    merged = merge_reports([a, b, c], ["a.json", "b.json", "c.json"]).environment
    assert merged["devices"] == ["cpu", "cuda"]
    assert merged["started"] == "2025-01-31T09:00:00Z"
    assert merged["finished"] == "2025-01-31T12:05:00Z"
    assert merged["platform"] == "Linux-aarch64 | Linux-x86_64"
    assert merged["frameworks"]["torch"] == "2.12.0 | 2.13.0"
    assert merged["frameworks"]["numpy"] == "2.4.6"
    assert merged["seed"] is None  # the runs disagree
    assert [s["report"] for s in merged["merge"]["sources"]] == ["a.json", "b.json", "c.json"]
    json_report.validate(json.loads(json_report.dumps(Report(merged, []))))


def test_duplicates_collapse_and_conflicts_are_reported_whatever_the_order():
    reports = list(zip(_reports(), ["a.json", "b.json", "c.json"], strict=True))
    outcomes = set()
    for perm in itertools.permutations(reports):
        merged = merge_reports([p[0] for p in perm], [p[1] for p in perm])
        keys = [r.key for r in merged.results]
        assert len(keys) == len(set(keys)) == 3
        conflicts = merged.environment["merge"]["conflicts"]
        assert len(conflicts) == 1  # identical duplicates (timings aside) are no conflict
        assert conflicts[0]["key"][2] == "float64" and conflicts[0]["kept"] == "fail"
        kept = next(r for r in merged.results if r.dtype == "float64")
        assert kept.status == "fail" and kept.max_ulp == 3.0
        assert kept.extra["merge_conflict"]
        outcomes.add(json.dumps([r.to_json() for r in merged.results], sort_keys=True))
    assert len(outcomes) == 1  # the input order does not matter


def test_merge_command_writes_all_files_and_exit_status(tmp_path, capsys):
    from verify.cli import main

    names = []
    for i, report in enumerate(_reports()):
        path = tmp_path / f"r{i}.json"
        json_report.write(report, path)
        names.append(str(path))
    out = tmp_path / "merged"
    assert main(["merge", names[0], names[1], "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert main(["merge", *names, "--output", str(out)]) == 1  # the kept conflict is a fail
    err = capsys.readouterr().err
    assert "conflicting results" in err and "kept fail" in err
    merged = json_report.load(out / "conformance.json")
    assert len(merged.results) == 3
    assert main(["merge", names[0], str(tmp_path / "nope.json"), "--output", str(out)]) == 2
    assert main(["merge", "--output", str(out)]) == 2
