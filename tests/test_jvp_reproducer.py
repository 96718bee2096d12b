"""A failure of the forward-mode derivative (jvp) gets a reproducer that computes that
derivative with the framework's own forward-mode API.

- every registered entry's ``jvp_reproducer``, run outside this process, prints exactly what
  the entry's ``jvp`` returns along the same one-hot tangent (float64 and bfloat16 inputs; one
  child interpreter per framework);
- a wrong forward mode (vjp right) fails the gradient check, and the failure's reproducer is the
  ``torch.func.jvp`` script, which, run in a fresh interpreter, prints the wrong derivative the
  entry returned (it would print the forward values if the search dropped the tangent);
- an entry without a ``jvp_reproducer`` gets its forward script and a line naming the tangent;
- entries without forward mode (compiled PyTorch, NumPy, an API that documents none) have no
  ``jvp_reproducer``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from tests.test_registry_contract import (
    ENTRIES,
    REPO,
    _as_float64,
    _params,
    _printed,
    run_scripts,
    small_case,
)
from verify import ops, profiles
from verify.checks import CHECKS
from verify.judge import reference_values as refv
from verify.judge import tangent as tangents
from verify.judge import tolerance
from verify.registry import all_implementations, conventions, get
from verify.registry.base import ForwardModeUnavailable, Implementation
from verify.registry.user import load_user_implementation

WITH_JVP_REPRODUCER = _params(sorted(n for n, e in ENTRIES.items() if e.jvp_reproducer is not None))
DTYPES = ("float64", "bfloat16")
SEED = 20261201


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "DATABASE_DIR", tmp_path / "examples")


def _tangent_case(entry: Implementation, dtype: str) -> tuple[dict[str, Any], np.ndarray]:
    """The contract's small case and the one-hot tangent at its second-to-last input element
    (second row: every row-wise op has a nonzero column there)."""
    kwargs = small_case(entry, dtype)
    size = int(np.size(kwargs[ops.spec(entry.op).primary]))
    k = tangents.tangent_index(entry.op, kwargs, size - 2)
    return kwargs, tangents.one_hot(entry.op, kwargs, k)


def _expected(entry: Implementation, dtype: str) -> np.ndarray | None:
    """What the entry's ``jvp`` returns on the tangent case, None where forward mode is not
    offered for it."""
    assert entry.jvp is not None
    kwargs, t = _tangent_case(entry, dtype)
    try:
        return _as_float64(entry.jvp(kwargs, t, "cpu"))
    except ForwardModeUnavailable:
        return None


@functools.cache
def _framework_runs(framework: str, compiled: bool) -> dict[str, dict[str, str]]:
    """Every jvp reproducer of ``framework``'s entries (the compiled ones, or the others), run
    in one child interpreter."""
    scripts: dict[str, str] = {}
    for entry in all_implementations(framework):
        if entry.jvp_reproducer is None or entry.name.endswith("[compiled]") != compiled:
            continue
        for dtype in DTYPES:
            kwargs, t = _tangent_case(entry, dtype)
            scripts[f"{entry.name}|jvp|{dtype}"] = entry.jvp_reproducer(kwargs, t, "cpu")
    return run_scripts(scripts)


@pytest.mark.parametrize("name", WITH_JVP_REPRODUCER)
@pytest.mark.parametrize("dtype", DTYPES)
def test_jvp_reproducer_prints_what_jvp_returns(name: str, dtype: str) -> None:
    entry = ENTRIES[name]
    expected = _expected(entry, dtype)
    if expected is None:
        pytest.skip(f"{name}: forward mode not offered on this case")
    kwargs, t = _tangent_case(entry, dtype)
    script = entry.jvp_reproducer(kwargs, t, "cpu")
    assert "verify" not in script
    runs = _framework_runs(entry.framework, name.endswith("[compiled]"))
    np.testing.assert_array_equal(_printed(runs[f"{name}|jvp|{dtype}"]), expected)


def test_every_framework_with_forward_mode_writes_jvp_reproducers() -> None:
    """An entry that has a forward mode of its own has a jvp reproducer (PyTorch's compiled
    entries and APIs documenting none have neither; NumPy has no forward mode)."""
    for name, entry in ENTRIES.items():
        offered = entry.jvp is not None and "not_offered" not in entry.jvp.__qualname__
        if entry.framework == "numpy":
            assert entry.jvp is None and entry.jvp_reproducer is None, name
        elif offered:
            assert entry.jvp_reproducer is not None, name
        else:
            assert entry.jvp_reproducer is None, name


def test_entries_without_forward_mode_have_no_jvp_reproducer() -> None:
    assert get("numpy.textbook.log_softmax_shifted").jvp_reproducer is None
    chunked = "torch.nn.functional.linear_cross_entropy[chunked]"
    if chunked in ENTRIES:
        assert ENTRIES[chunked].jvp_reproducer is None
    for name, entry in ENTRIES.items():
        if name.endswith("[compiled]"):
            assert entry.jvp_reproducer is None, name


# ---- a wrong forward mode: the failure's reproducer shows the wrong jvp ----------------------

torch = pytest.importorskip("torch")

#: a log_softmax whose value and vjp are right and whose jvp is twice the right one
WRONG = "tests.wrong_forward_mode:doubled_jvp_log_softmax"
LIKE = "torch.nn.functional.log_softmax"


def _recording(entry: Implementation) -> tuple[Implementation, list[tuple[Any, np.ndarray]]]:
    """``entry`` whose jvp reproducer records the case and tangent it is asked for."""
    seen: list[tuple[Any, np.ndarray]] = []
    assert entry.jvp_reproducer is not None
    make = entry.jvp_reproducer

    def jvp_reproducer(kwargs: Any, tangent: np.ndarray, device: str) -> str:
        seen.append((dict(kwargs), np.asarray(tangent)))
        return make(kwargs, tangent, device)

    return dataclasses.replace(entry, jvp_reproducer=jvp_reproducer), seen


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_jvp_failure_reproduces_the_wrong_derivative(dtype: str) -> None:
    entry, seen = _recording(load_user_implementation(WRONG, LIKE))
    result = CHECKS["gradient"](entry, dtype, "cpu", profile="quick", seed=SEED)
    assert result.status == "fail", result.message
    assert result.message.startswith("forward-mode derivative (jvp) along e_k"), result.message
    assert seen, "the failure's reproducer was not the jvp reproducer"
    kwargs, t = seen[-1]
    assert float(np.abs(t.astype(np.float64)).sum()) == 1.0  # e_k
    assert "torch.func.jvp" in result.reproducer
    assert "correctly rounded reference value: jvp along e_k" in result.reproducer
    k = tuple(int(i) for i in np.argwhere(t.astype(np.float64) != 0)[0])
    assert f"x index {list(k)}" in result.message  # the tangent the reproducer uses
    done = subprocess.run(
        [sys.executable, "-c", result.reproducer],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(REPO),
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = conventions.parse_reproducer_output(done.stdout)
    wrong = entry.jvp(kwargs, t, "cpu")
    np.testing.assert_array_equal(printed, _as_float64(wrong))
    # and what it prints is the failure: outside the bound of the reference column
    ref = refv.one_hot_jvp(ops.LOG_SOFTMAX, kwargs, k, dtype)
    bound = tolerance.one_hot_jvp_bound(ops.LOG_SOFTMAX, kwargs, k, dtype)
    ratio = tolerance.bound_ratio(np.asarray(wrong).reshape(ref.shape), ref, bound, dtype)
    assert float(np.nanmax(ratio)) > 1.0


def test_without_a_jvp_reproducer_the_tangent_is_named() -> None:
    entry = dataclasses.replace(load_user_implementation(WRONG, LIKE), jvp_reproducer=None)
    result = CHECKS["gradient"](entry, "float32", "cpu", profile="quick", seed=SEED)
    assert result.status == "fail", result.message
    assert "torch.func.jvp" not in result.reproducer
    found = re.search(
        r"# the failure is in the Jacobian-vector product \(forward mode\) along the tangent "
        r"e_k, 1 at x index (\[[0-9, ]+\])",
        result.reproducer,
    )
    assert found, result.reproducer
    assert f"with tangent e_k at x index {found.group(1)}" in result.message
