"""Compiled code paths (``[jit]``, ``[xla]``, ``[compiled]``) run the checks that judge their own
numbers (``verify.ops.CODE_PATH_CHECKS``); the others are skips with the reason, and the plain
entries' identity and cross-framework comparisons never call a compiled path."""

from __future__ import annotations

import dataclasses

import pytest

from tests import fake_log_softmax
from verify import ops, session
from verify.checks import cross_framework, identity
from verify.registry import adapter
from verify.registry.base import Implementation


def _entry(name: str, framework: str = "numpy", code_path: str = "") -> Implementation:
    return fake_log_softmax.entry(name=name, framework=framework, code_path=code_path)


def test_only_a_compiled_mode_makes_a_code_path() -> None:
    assert adapter.Mode("jit", compiled=True).compiled
    assert not adapter.Mode("backend=jax").compiled
    assert not adapter.PLAIN.compiled


@pytest.mark.parametrize("check", [c for c in ops.CHECKS if c not in ops.CODE_PATH_CHECKS])
def test_a_code_path_skips_what_the_plain_entry_covers(check: str) -> None:
    result = session.run_check(
        _entry("fake.log_softmax[jit]", code_path="jit"),
        check,
        "float32",
        "cpu",
        profile="quick",
        seed=0,
    )
    assert result.status == "skip"
    assert "plain entry" in result.message and "compiled-code-paths" in result.message


def test_a_code_path_runs_its_own_checks() -> None:
    result = session.run_check(
        _entry("fake.log_softmax[jit]", code_path="jit"),
        "accuracy",
        "float32",
        "cpu",
        profile="quick",
        seed=0,
    )
    assert result.status == "pass" and result.examples > 0


def test_plain_entries_never_compare_with_a_code_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import verify.registry as registry

    plain = _entry("fake.log_softmax")
    other_plain = _entry("fake.other_log_softmax")
    compiled = dataclasses.replace(other_plain, name="fake.other_log_softmax[jit]", code_path="jit")
    elsewhere = _entry("elsewhere.log_softmax", framework="mlx")
    elsewhere_jit = dataclasses.replace(
        elsewhere, name="elsewhere.log_softmax[jit]", code_path="jit"
    )
    table = {"numpy": [plain, other_plain, compiled], "mlx": [elsewhere, elsewhere_jit]}
    monkeypatch.setattr(registry, "all_implementations", lambda fw=None: table[fw])
    monkeypatch.setattr(registry, "installed_frameworks", lambda: list(table))
    assert [p.name for p in identity._peers(plain)] == ["fake.other_log_softmax"]
    result = cross_framework.run(plain, "float32", "cpu", profile="quick", seed=0)
    assert result.extra["compared_with"] == ["elsewhere.log_softmax"]


def _plan_statuses(profile: str, selection: session.Selection | None = None) -> dict[str, str]:
    entries = [_entry("fake.log_softmax"), _entry("fake.log_softmax[jit]", code_path="jit")]
    run = session.SessionRun(devices=["cpu"], profile=profile, seed=0, selection=selection)
    results = session._run_plan("numpy", session.plan(entries, ["cpu"], ["accuracy"]), run)
    return {r.implementation: (r.status, r.message) for r in results}


def test_the_quick_profile_leaves_code_paths_to_the_larger_profiles() -> None:
    statuses = _plan_statuses("quick")
    assert statuses["fake.log_softmax"][0] == "pass"
    status, message = statuses["fake.log_softmax[jit]"]
    assert status == "skip"
    assert "quick profile" in message and "--implementation" in message
    assert "docs/checks.md#profiles" in message


def test_a_code_path_named_on_the_command_line_runs_at_quick() -> None:
    named = session.Selection(implementations=("fake.log_softmax*",))
    assert {s for s, _ in _plan_statuses("quick", named).values()} == {"pass"}


def test_the_default_profile_runs_code_paths() -> None:
    assert {s for s, _ in _plan_statuses("default").values()} == {"pass"}
