"""The command line: options, usage errors (exit 2, one line), exit statuses, reports,
baseline regressions, determinism and interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.runner_fakes import fake_session
from verify import cli
from verify.errors import UsageError
from verify.report import FILES, json_report
from verify.report.model import Report
from verify.runner import Job

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env


def _plan(tmp_path: Path, *behaviours: str, **kw) -> cli.RunPlan:
    jobs = [Job(b.split(":")[0], "numpy", fake_session, (b,)) for b in behaviours]
    kw.setdefault("devices", ("cpu",))
    kw.setdefault("explicit_devices", False)
    kw.setdefault("profile", "quick")
    kw.setdefault("seed", 0)
    kw.setdefault("output", tmp_path / "out")
    return cli.RunPlan(jobs=jobs, **kw)


def _run(plan: cli.RunPlan, capsys=None) -> int:
    import io

    out, err = io.StringIO(), io.StringIO()
    status = cli.execute(plan, stdout=out, stderr=err, live=False)
    _run.stdout, _run.stderr = out.getvalue(), err.getvalue()
    return status


# -- usage errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["--profile", "bogus"], "invalid choice"),
        (["--bogus"], "unrecognized arguments"),
        (["--device", "tpu"], "invalid choice"),
        (["--seed", "-3"], "negative"),
        (["--seed", "x"], "not an integer"),
        (["--jobs", "0"], "give 1 or more"),
        (["--check-timeout", "nan"], "positive"),
        (["--impl", "mod:fn"], "--impl needs --like"),
        (["--like", "torch.nn.functional.cross_entropy"], "--like needs --impl"),
        (["--impl", "m:f", "--like", "x", "--framework", "torch"], "do not mix"),
        (["--framework", "paddle"], "unknown framework 'paddle'"),
        (["--baseline", "/nonexistent/old.json"], "--baseline"),
        (["merge"], "required"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, phrase, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("verify: error: ")
    assert phrase in captured.err


def test_framework_not_installed(monkeypatch, capsys):
    import verify.registry

    monkeypatch.setattr(verify.registry, "installed_frameworks", lambda: ["numpy"])
    assert cli.main(["--framework", "torch"]) == 2
    err = capsys.readouterr().err
    assert "not installed" in err and "xent-conformance[torch]" in err


def test_output_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert cli.main(["--output", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_impl_module_that_does_not_import(capsys):
    status = cli.main(
        ["--impl", "no_such_module_xyz:fn", "--like", "torch.nn.functional.cross_entropy"]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not import" in err


def test_help_and_subprocess_usage_error():
    ok = subprocess.run(
        [sys.executable, "-m", "verify", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
    )
    assert ok.returncode == 0 and "--framework" in ok.stdout and "--impl" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "verify", "--framework", "nope"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=REPO,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "unknown framework 'nope'" in bad.stderr


def test_explicit_device_that_is_absent_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="none of the devices"):
        _run(_plan(tmp_path, "ok", devices=("cuda",), explicit_devices=True))


def test_parsed_options_reach_the_plan(monkeypatch, tmp_path):
    import verify.registry

    monkeypatch.setattr(verify.registry, "installed_frameworks", lambda: ["numpy", "torch"])
    args = cli.build_parser().parse_args(
        [
            "--framework",
            "torch",
            "--framework",
            "torch",
            "--device",
            "cpu",
            "--profile",
            "thorough",
            "--seed",
            "9",
            "--output",
            str(tmp_path),
            "--check-timeout",
            "12",
            "--jobs",
            "2",
        ]
    )
    plan = cli.plan_from_args(args)
    # one job per worker slot, sharing torch's plan
    assert [j.label for j in plan.jobs] == ["torch", "torch/2"]
    assert all(j.args == ("torch",) and j.share == "torch" for j in plan.jobs)
    assert plan.devices == ("cpu",) and plan.explicit_devices
    assert (plan.profile, plan.seed, plan.check_timeout, plan.parallel) == ("thorough", 9, 12, 2)
    default = cli.plan_from_args(cli.build_parser().parse_args(["--jobs", "1"]))
    assert [j.label for j in default.jobs] == ["torch", "numpy"]  # the slower one first
    assert default.devices == ("cpu", "cuda") and not default.explicit_devices
    assert (default.profile, default.seed, str(default.output)) == ("default", 0, "reports")


# -- exit statuses and reports ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviours", "status"),
    [
        (("ok",), 0),
        (("ok", "known"), 0),
        (("ok", "fail"), 1),
        (("abort", "ok"), 1),
        (("empty",), 1),
    ],
)
def test_exit_status(tmp_path, behaviours, status):
    assert _run(_plan(tmp_path, *behaviours)) == status
    out = tmp_path / "out"
    assert all((out / name).is_file() for name in FILES)
    report = json_report.load(out / "conformance.json")
    assert report.environment["profile"] == "quick" and report.environment["finished"]
    assert "total" in _run.stdout and str(out / "conformance.json") in _run.stdout


def test_crash_is_reported_in_every_format(tmp_path):
    assert _run(_plan(tmp_path, "abort", "ok")) == 1
    out = tmp_path / "out"
    report = json_report.load(out / "conformance.json")
    errors = [r for r in report.results if r.status == "error"]
    assert len(errors) == 1 and "SIGABRT" in errors[0].message
    assert sum(r.framework == "fake_ok" for r in report.results) == 8
    assert report.environment["incidents"] == ["abort: worker crashed (killed by signal SIGABRT)"]
    assert "SIGABRT" in (out / "conformance.md").read_text("utf-8")
    assert 'errors="1"' in (out / "junit.xml").read_text("utf-8")
    assert (out / "logs" / "abort.log").is_file()


def test_baseline_regression_is_never_exit_0(tmp_path):
    first = _plan(tmp_path, "known", output=tmp_path / "first")
    assert _run(first) == 0  # the failure is a registered upstream issue
    old = json.loads((tmp_path / "first" / "conformance.json").read_text("utf-8"))
    for r in old["results"]:
        if r["status"] == "fail":
            r["status"] = "pass"  # the baseline saw it pass
    (tmp_path / "old.json").write_text(json.dumps(old), "utf-8")
    second = _plan(tmp_path, "known", output=tmp_path / "second", baseline=tmp_path / "old.json")
    assert _run(second) == 1
    report = json_report.load(tmp_path / "second" / "conformance.json")
    labels = {r.baseline for r in report.results}
    assert labels == {"regressed", "unchanged"}
    assert report.environment["baseline"]["counts"]["regressed"] == 1
    assert "1 regressed" in _run.stdout


def _comparable(report: Report) -> list[dict]:
    rows = []
    for r in report.results:
        obj = r.to_json()
        obj.pop("duration_s", None)
        rows.append(obj)
    return rows


def test_same_seed_gives_the_same_report(tmp_path):
    reports = []
    for i, seed in enumerate((3, 3, 4)):
        plan = _plan(tmp_path, "ok", "fail", seed=seed, output=tmp_path / f"r{i}", parallel=2)
        _run(plan)
        reports.append(json_report.load(tmp_path / f"r{i}" / "conformance.json"))
    assert _comparable(reports[0]) == _comparable(reports[1])
    assert _comparable(reports[0]) != _comparable(reports[2])
    assert reports[0].environment["seed"] == 3


def _start_fake_run(tmp_path: Path, jobs: str, out: Path, prelude: str = "") -> subprocess.Popen:
    """Start ``cli.execute`` on the fake-session ``jobs`` (Python source of the job list) in
    a process group of its own, after ``prelude`` (source run at import), writing to ``out``."""
    imports = """
        from pathlib import Path
        from tests.runner_fakes import fake_session
        from verify import cli
        from verify.runner import Job
        """
    main = f"""
        if __name__ == "__main__":
            plan = cli.RunPlan(
                jobs={jobs},
                devices=("cpu",), explicit_devices=False, profile="quick", seed=0,
                output=Path({str(out)!r}))
            raise SystemExit(cli.execute(plan))
        """
    script = tmp_path / "run.py"
    script.write_text("".join(textwrap.dedent(part) for part in (imports, prelude, main)))
    return subprocess.Popen(
        [sys.executable, str(script)],
        env=_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _assert_interrupted_report(proc: subprocess.Popen, stdout: str, stderr: str, out: Path) -> None:
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    report = json_report.load(out / "conformance.json")
    assert report.environment["interrupted"] is True
    assert len(report.results) >= 2 and all(r.status == "pass" for r in report.results)
    assert "interrupted" in stdout


def test_sigint_writes_a_valid_report_of_what_finished(tmp_path):
    marker = tmp_path / "marker"
    out = tmp_path / "out"
    jobs = f"""[Job("slow", "numpy", fake_session, ("slow:{marker}",)),
                      Job("ok", "numpy", fake_session, ("ok",))]"""
    proc = _start_fake_run(tmp_path, jobs, out)
    try:
        _wait_for(marker, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole process group
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_interrupted_report(proc, stdout, stderr, out)
    assert "interrupted" in (out / "conformance.md").read_text("utf-8")


@pytest.mark.slow
def test_real_run_is_deterministic_and_valid(tmp_path):
    """``python -m verify`` end to end with the real checks (the NumPy textbook entries, the
    quick profile), twice with the same seed: valid reports, identical results."""
    outputs = []
    for i in range(2):
        out = tmp_path / f"run{i}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "verify",
                "--framework",
                "numpy",
                "--profile",
                "quick",
                "--seed",
                "11",
                "--output",
                str(out),
            ],
            capture_output=True,
            text=True,
            env=_env(),
            cwd=tmp_path,
            timeout=1200,
        )
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        report = json_report.load(out / "conformance.json")
        assert report.results and report.environment["seed"] == 11
        assert (proc.returncode == 1) == bool(report.nonconforming)
        outputs.append(_comparable(report))
    assert outputs[0] == outputs[1]


def test_signals_while_the_report_is_written_do_not_lose_it(tmp_path):
    """The worst moments: a first SIGINT stops the run, then two more signals (SIGINT and a
    SIGTERM, as a ``timeout`` wrapper sends) arrive while the reports are being written.  The
    reports of what finished are still written whole, valid, and marked interrupted."""
    marker, writing = tmp_path / "marker", tmp_path / "writing"
    out = tmp_path / "out"
    prelude = f"""
        import time

        real_write_all = cli.write_all

        def slow_write_all(report, output):
            Path({str(writing)!r}).write_text("writing")
            time.sleep(3)  # the signals arrive now
            return real_write_all(report, output)

        cli.write_all = slow_write_all
        """
    jobs = f"""[Job("slow", "numpy", fake_session, ("slow:{marker}",))]"""
    proc = _start_fake_run(tmp_path, jobs, out, prelude)
    try:
        _wait_for(marker, proc)
        os.killpg(proc.pid, signal.SIGINT)
        _wait_for(writing, proc)
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_interrupted_report(proc, stdout, stderr, out)
    for name in FILES:
        assert (out / name).stat().st_size > 0
