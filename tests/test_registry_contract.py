"""The contract every registered implementation keeps, whatever its framework.

One test per clause, parametrised over every entry of every installed framework (so a new
framework's entries are held to it without a line here):

- metadata: unique names, a known reference op, declared dtypes and devices, https links, a
  factory per name;
- every declared dtype runs forward (and vjp) and keeps the input's dtype and the reference's
  layout;
- ``bind`` runs forward and backward, twice;
- the reproducer, run outside this process, prints exactly what ``forward`` returns (float32
  and bfloat16 inputs, the latter rebuilt bit for bit); the gradient reproducer prints what
  ``vjp`` returns;
- the factory wraps a user's callable (``--impl FILE:FN --like NAME``, loaded as the command
  line loads it) exactly as the entry wraps the real API: same metadata, same forward and vjp,
  a reproducer that loads the user's file and prints the same numbers.

Reproducers of one framework run in one child interpreter (``run_scripts``), each script in a
fresh namespace, so the suite pays each framework's import once.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from verify.registry import (
    all_implementations,
    conventions,
    framework_module,
    installed_frameworks,
    process_compatible,
)
from verify.registry.base import Implementation, Unsupported
from verify.registry.user import load_user_implementation

REPO = Path(__file__).resolve().parents[1]
#: the installed frameworks this process can hold together: one Keras backend per process
#: (tests/test_registry_keras_backends.py runs this module again for the others)
FRAMEWORKS = process_compatible(installed_frameworks())
ENTRIES: dict[str, Implementation] = {e.name: e for e in all_implementations()}


def _params(names: list[str]) -> list[Any]:
    """Entry names as test parameters; compiled entries (inductor compiles each signature
    for seconds to minutes on a CPU) run with the slow tests only."""
    slow = pytest.mark.slow
    return [pytest.param(n, marks=slow) if n.endswith("[compiled]") else n for n in names]


NAMES = _params(sorted(ENTRIES))
WITH_GRADIENT_REPRODUCER = _params(
    sorted(n for n, e in ENTRIES.items() if e.gradient_reproducer is not None)
)
SOFTMAX_FAMILY = ("softmax", "log_softmax", "logsumexp")
LOW_PRECISION = ("float16", "bfloat16", "float32")


def _dtype(name: str) -> np.dtype[Any]:
    return conventions.BFLOAT16 if name == "bfloat16" else np.dtype(name)


def small_case(entry: Implementation, dtype: str) -> dict[str, Any]:
    """A small, well-conditioned case every entry of ``entry.op`` expresses: (2, 4) inputs,
    the entry's target kind, its first declared reduction."""
    x = np.array([[0.5, -1.25, 2.0, 0.125], [3.0, 0.0, -0.75, 1.5]])
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.125, 0.375]])
    op, caps = entry.op, entry.capabilities
    if op in SOFTMAX_FAMILY:
        kwargs: dict[str, Any] = {"x": x}
    elif op == "linear_cross_entropy":
        weight = np.array([[0.5, -0.25, 0.75], [0.0, 1.0, -0.5], [0.25, 0.25, 0.5], [-1.0, 0.5, 0]])
        kwargs = {"input": x[:, :3], "linear_weight": weight, "target": np.array([1, 3])}
    elif op == "nll_loss":
        kwargs = {"input": np.log(probs), "target": np.array([1, 3])}
    elif op == "kl_div" and caps.log_target:  # some APIs (MLX's) take log targets only
        kwargs = {"input": np.log(probs[::-1].copy()), "target": np.log(probs), "log_target": True}
    elif op == "kl_div":
        kwargs = {"input": np.log(probs[::-1].copy()), "target": probs}
    elif caps.target == "index":
        kwargs = {"input": x, "target": np.array([1, 3])}
    elif caps.target == "probs":
        kwargs = {"input": x, "target": probs}
    elif op == "binary_cross_entropy":
        kwargs = {"input": 1 / (1 + np.exp(-x)), "target": np.full_like(x, 0.25)}
    else:
        kwargs = {"input": x, "target": np.full_like(x, 0.25)}
    if "reduction" in conventions.REFERENCE_DEFAULTS[op] and caps.reductions:
        kwargs["reduction"] = caps.reductions[0]
    return {
        k: v.astype(_dtype(dtype)) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
        for k, v in kwargs.items()
    }


def _first(grad: Any) -> np.ndarray:
    """The gradient with respect to the first argument (linear_cross_entropy returns three)."""
    return np.asarray(grad[0] if isinstance(grad, tuple) else grad)


def _grad_output(out: np.ndarray) -> np.ndarray:
    return np.linspace(0.5, 1.5, out.size).reshape(out.shape).astype(out.dtype)


def _as_float64(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).astype(np.float64).reshape(-1)


# --- running reproducers outside this process ---------------------------------------------

_RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, sys, traceback
    results = {}
    for key, script in json.load(sys.stdin).items():
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(script, key, "exec"), {"__name__": "__main__"})
            results[key] = {"stdout": out.getvalue()}
        except BaseException:
            results[key] = {"error": traceback.format_exc()}
    sys.stdout.write(json.dumps(results))
    """
)


def run_scripts(scripts: dict[str, str]) -> dict[str, dict[str, str]]:
    """Run every script in one fresh interpreter (a fresh namespace each; this repository on
    the path only for scripts that load a user's file from it)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps(scripts),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=str(REPO),
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results: dict[str, dict[str, str]] = json.loads(run.stdout)
    return results


def _printed(result: dict[str, str]) -> np.ndarray:
    assert "error" not in result, result["error"]
    return conventions.parse_reproducer_output(result["stdout"])


# --- user callables: one delegate per registered name, in a file ---------------------------


def _delegate_source(framework: str, names: list[str]) -> str:
    lines = [
        f'"""Users\' callables forwarding to the {framework} APIs (contract test)."""',
        "from verify.registry import framework_module",
        f"_REGISTRY = framework_module({framework!r}).REGISTRY",
    ]
    for i, name in enumerate(names):
        lines += [
            f"_REAL_{i} = _REGISTRY.real({name!r})",
            f"def user_{i}(*args, **kwargs):",
            f"    return _REAL_{i}(*args, **kwargs)",
        ]
    return "\n".join(lines) + "\n"


@functools.cache
def _user_entries(framework: str, folder: str) -> dict[str, Implementation]:
    """Registered name -> the entry ``--impl FILE:user_i --like NAME`` builds."""
    if not hasattr(framework_module(framework), "REGISTRY"):
        return {}
    names = [e.name for e in all_implementations(framework)]
    path = Path(folder) / f"users_{framework}.py"
    path.write_text(_delegate_source(framework, names))
    return {
        name: load_user_implementation(f"{path}:user_{i}", like=name)
        for i, name in enumerate(names)
    }


@pytest.fixture(scope="session")
def user_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("user_callables"))


@functools.cache
def _framework_runs(framework: str, folder: str, compiled: bool) -> dict[str, dict[str, str]]:
    """Every reproducer of ``framework``'s entries (the compiled ones, or the others), run in
    one child interpreter."""
    scripts: dict[str, str] = {}
    users = _user_entries(framework, folder)
    for entry in all_implementations(framework):
        if entry.reproducer is None or entry.name.endswith("[compiled]") != compiled:
            continue
        for dtype in ("float32", "bfloat16"):
            scripts[f"{entry.name}|forward|{dtype}"] = entry.reproducer(
                small_case(entry, dtype), "cpu"
            )
        if entry.gradient_reproducer is not None:
            for dtype in ("float64", "bfloat16"):
                kwargs = small_case(entry, dtype)
                g = _grad_output(entry.forward(kwargs, "cpu"))
                scripts[f"{entry.name}|gradient|{dtype}"] = entry.gradient_reproducer(
                    kwargs, g, "cpu"
                )
        user = users.get(entry.name)
        if user is not None and user.reproducer is not None:
            scripts[f"{entry.name}|user|float32"] = user.reproducer(
                small_case(entry, "float32"), "cpu"
            )
    return run_scripts(scripts)


@pytest.fixture
def runs(request: pytest.FixtureRequest, user_folder: str) -> dict[str, dict[str, str]]:
    name = request.node.callspec.params["name"]
    return _framework_runs(ENTRIES[name].framework, user_folder, name.endswith("[compiled]"))


# --- the contract -----------------------------------------------------------------------


def test_every_installed_framework_registers_entries_and_factories() -> None:
    assert FRAMEWORKS and "numpy" in FRAMEWORKS
    for framework in FRAMEWORKS:
        module = framework_module(framework)
        names = [e.name for e in all_implementations(framework)]
        assert names and len(names) == len(set(names)), framework
        assert module.FRAMEWORK == framework
        assert set(module.FACTORIES) == set(names), framework


@pytest.mark.parametrize("name", NAMES)
def test_metadata_is_complete(name: str) -> None:
    entry = ENTRIES[name]
    assert entry.op in conventions.REFERENCE_DEFAULTS
    assert entry.dtypes and set(entry.dtypes) <= set(conventions.FLOAT_DTYPES)
    assert entry.devices[0] == "cpu" and entry.available_devices()[0] == "cpu"
    assert entry.docs.startswith("https://")
    assert entry.reproducer is not None
    for item in (*entry.deviations, *entry.known_issues):
        assert item.link.startswith("https://") and item.description


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_dtype_runs_and_keeps_its_dtype(name: str) -> None:
    entry = ENTRIES[name]
    wide = entry.forward(small_case(entry, "float64"), "cpu")
    for dtype in (d for d in LOW_PRECISION if d in entry.dtypes):
        kwargs = small_case(entry, dtype)
        out = entry.forward(kwargs, "cpu")
        assert conventions.dtype_name(out) == dtype and np.shape(out) == np.shape(wide)
        np.testing.assert_allclose(out.astype(np.float64), wide, rtol=3e-2, atol=3e-2)
        if entry.vjp is not None:
            grad = _first(entry.vjp(kwargs, np.ones(np.shape(out), out.dtype), "cpu"))
            primary = kwargs[conventions.primary_name(entry.op)]
            assert conventions.dtype_name(grad) == dtype and grad.shape == primary.shape


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("backward", [False, True])
def test_bind_runs(name: str, backward: bool) -> None:
    entry = ENTRIES[name]
    if entry.bind is None:
        pytest.skip(f"{name} has no bound path")
    run = entry.bind(small_case(entry, "float32"), "cpu", backward)
    first, second = run(), run()  # the second call reuses what the first set up
    assert first is not None and second is not None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_reproducer_prints_what_forward_returns(name: str, dtype: str, runs) -> None:
    entry = ENTRIES[name]
    kwargs = small_case(entry, dtype)
    script = entry.reproducer(kwargs, "cpu")
    assert "verify" not in script
    expected = _as_float64(entry.forward(kwargs, "cpu"))
    np.testing.assert_array_equal(_printed(runs[f"{name}|forward|{dtype}"]), expected)


@pytest.mark.parametrize("name", WITH_GRADIENT_REPRODUCER)
@pytest.mark.parametrize("dtype", ["float64", "bfloat16"])
def test_gradient_reproducer_prints_what_vjp_returns(name: str, dtype: str, runs) -> None:
    entry = ENTRIES[name]
    kwargs = small_case(entry, dtype)
    g = _grad_output(entry.forward(kwargs, "cpu"))
    expected = _as_float64(_first(entry.vjp(kwargs, g, "cpu")))
    np.testing.assert_array_equal(_printed(runs[f"{name}|gradient|{dtype}"]), expected)


@pytest.mark.parametrize("name", NAMES)
def test_factory_wraps_a_user_callable_like_the_entry(name: str, user_folder: str, runs) -> None:
    entry = ENTRIES[name]
    users = _user_entries(entry.framework, user_folder)
    if not users:
        pytest.skip(f"the {entry.framework} module is not built on verify.registry.adapter")
    user = users[name]
    assert user.variant == f"like {name}" and user.framework == entry.framework
    for field in ("op", "capabilities", "dtypes", "devices", "deviations", "known_issues", "docs"):
        assert getattr(user, field) == getattr(entry, field), field
    kwargs = small_case(entry, "float32")
    expected = entry.forward(kwargs, "cpu")
    np.testing.assert_array_equal(user.forward(kwargs, "cpu"), expected)
    if user.vjp is not None:
        g = _grad_output(expected)
        np.testing.assert_array_equal(
            _first(user.vjp(kwargs, g, "cpu")), _first(entry.vjp(kwargs, g, "cpu"))
        )
    script = user.reproducer(kwargs, "cpu")
    assert "spec_from_file_location" in script  # the user's file, not the public API
    np.testing.assert_array_equal(_printed(runs[f"{name}|user|float32"]), _as_float64(expected))


def _unnameable_delegate(real: Any) -> Any:
    def user_callable(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **kwargs)

    return user_callable


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_callable_no_script_can_name_has_no_reproducer(framework: str) -> None:
    module = framework_module(framework)
    if not hasattr(module, "REGISTRY"):
        pytest.skip(f"the {framework} module is not built on verify.registry.adapter")
    name = next(iter(module.FACTORIES))
    entry = module.FACTORIES[name](_unnameable_delegate(module.REGISTRY.real(name)))
    kwargs = small_case(entry, "float32")
    np.testing.assert_array_equal(
        entry.forward(kwargs, "cpu"), ENTRIES[name].forward(kwargs, "cpu")
    )
    with pytest.raises(Unsupported, match="cannot name"):
        entry.reproducer(kwargs, "cpu")


def test_run_scripts_reports_errors_per_script() -> None:
    results = run_scripts({"ok": "print('hex: []')", "bad": "raise ValueError('boom')"})
    assert results["ok"] == {"stdout": "hex: []\n"}
    assert "ValueError: boom" in results["bad"]["error"]
