"""The worker-process runner: isolation of crashes and hangs, stopping, determinism, progress."""

from __future__ import annotations

import io
import threading
import time

import pytest

from tests.runner_fakes import fake_session
from verify.progress import ProgressDisplay
from verify.runner import Job, Runner
from verify.session import ProgressEvent


def _job(behaviour: str) -> Job:
    return Job(behaviour.split(":")[0], "numpy", fake_session, (behaviour,))


def _runner(**kw) -> Runner:
    kw.setdefault("devices", ("cpu",))
    kw.setdefault("profile", "quick")
    kw.setdefault("seed", 1)
    return Runner(**kw)


def _strip(results):
    return sorted((r.key, r.status, r.max_ulp, r.examples) for r in results)


def test_crashing_and_raising_workers_leave_the_others_intact(tmp_path):
    outcome = _runner(parallel=2, log_dir=tmp_path).run([_job("abort"), _job("ok"), _job("raise")])
    by_fw: dict[str, list] = {}
    for r in outcome.results:
        by_fw.setdefault(r.framework, []).append(r)
    assert [r.status for r in by_fw["fake_ok"]] == ["pass"] * 8
    for name, phrase in (("fake_abort", "SIGABRT"), ("fake_raise", "RuntimeError: a bug")):
        # the crash costs one check: a new worker goes on with the other five
        statuses = [r.status for r in by_fw[name]]
        assert statuses == ["pass"] * 3 + ["error"] + ["pass"] * 5
        error = by_fw[name][3]
        assert error.key == (f"{name}.logsumexp", "gradient", "float16", "cpu")
        assert phrase in error.message and "a new worker goes on" in error.message
    assert len(outcome.incidents) == 2 and not outcome.interrupted
    assert outcome.devices == ["cpu"]
    assert (tmp_path / "abort.log").exists() and (tmp_path / "abort.restart1.log").exists()


def test_a_worker_that_keeps_aborting_loses_one_check_per_crash(tmp_path):
    """Every third check aborts the process: each crash is one ``error`` naming the signal,
    and every other check still reports (18 checks, 6 crashes, 6 workers started after)."""
    outcome = _runner(log_dir=tmp_path).run([_job("abort-every:3")])
    statuses = [r.status for r in outcome.results]
    assert len(statuses) == 18, statuses
    errors = [r for r in outcome.results if r.status == "error"]
    assert len(errors) == 6 and statuses.count("pass") == 12
    assert all("SIGABRT" in e.message for e in errors)
    assert len({r.key for r in outcome.results}) == 18
    assert len(outcome.incidents) == 6


def test_a_hanging_check_times_out_as_an_error():
    started = time.monotonic()
    # generous enough for a worker's start (which counts toward its first check) on a busy
    # machine, short enough to keep the test quick
    outcome = _runner(check_timeout=10).run([_job("hang"), _job("ok")])
    assert time.monotonic() - started < 60
    errors = [r for r in outcome.results if r.status == "error"]
    assert len(errors) == 1 and "timed out after 10 s" in errors[0].message
    assert errors[0].check == "gradient" and errors[0].implementation == "fake_hang.logsumexp"
    assert sum(r.framework == "fake_ok" for r in outcome.results) == 8
    assert sum(r.framework == "fake_hang" and r.status == "pass" for r in outcome.results) == 8


def test_same_seed_same_results_any_parallelism():
    jobs = [_job("ok"), _job("fail")]
    one = _runner(seed=7).run(jobs).results
    two = _runner(seed=7, parallel=2).run(jobs).results
    other = _runner(seed=8).run(jobs).results
    assert _strip(one) == _strip(two)
    assert _strip(one) != _strip(other)


def test_devices_not_present_are_not_run():
    outcome = _runner(devices=("cuda",)).run([_job("ok")])
    assert outcome.results == [] and outcome.devices == []


def test_stop_request_keeps_finished_results(tmp_path):
    marker = tmp_path / "marker"
    runner = _runner()

    def stop_when_started():
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.request_stop()

    threading.Thread(target=stop_when_started, daemon=True).start()
    started = time.monotonic()
    outcome = runner.run([_job(f"slow:{marker}"), _job("ok")])
    assert time.monotonic() - started < 30
    assert outcome.interrupted
    assert len(outcome.results) >= 2 and all(r.status == "pass" for r in outcome.results)
    assert not any(r.framework == "fake_ok" for r in outcome.results)  # never started


def test_invalid_runner_settings():
    with pytest.raises(ValueError):
        _runner(parallel=0)
    with pytest.raises(ValueError):
        _runner(check_timeout=0)
    with pytest.raises(ValueError, match="unique"):
        _runner().run([_job("ok"), _job("ok")])


def test_plain_progress_lines():
    stream = io.StringIO()
    clock = iter(range(0, 10_000, 1)).__next__
    display = ProgressDisplay(stream, live=False, clock=lambda: float(clock()))
    display.job_started("torch")
    event = ProgressEvent("torch", "torch.softmax", "accuracy", "float32", "cpu", 1, 100)
    display.event("torch", event)
    for _ in range(40):  # the same check, long enough for a heartbeat
        display.event("torch", event)
    from tests.report_samples import result

    display.result("torch", result("torch.softmax", max_ulp=0.25))
    display.job_finished("torch")
    text = stream.getvalue()
    assert "\x1b" not in text
    assert "torch: started" in text
    assert "still running torch.softmax accuracy float32 cpu [1/100]" in text
    assert "torch.softmax accuracy float32 cpu -> pass (100 examples, max 0.25 ULP)" in text
    assert "torch: done (1 pass)" in text


def test_live_progress_redraws_in_place():
    stream = io.StringIO()
    display = ProgressDisplay(stream, live=True)
    display.job_started("jax")
    display.job_started("torch")
    display.event("jax", ProgressEvent("jax", "optax.x", "gradient", "bfloat16", "cpu", 3, 9))
    display.job_finished("jax", "done")
    display.close()
    text = stream.getvalue()
    assert "\x1b[2K" in text and "\x1b[2F" in text
    assert "done" in text.splitlines()[-2]
