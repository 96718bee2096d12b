"""The Keras entries on Keras's JAX and PyTorch backends (frameworks ``keras-jax`` and
``keras-torch``), each tested in a pytest process of its own: Keras fixes its backend at the
first ``import keras``, and this process holds Keras on TensorFlow.

Each child runs ``tests/keras_backend_suite.py`` (values and gradients against NumPy formulas,
the refusal of another backend, standalone reproducers), the registry contract
(``tests/test_registry_contract.py``) and the forward-mode reproducers
(``tests/test_jvp_reproducer.py``) on that framework's entries, with the framework's registry
imported first so that the contract's process-wide entry list holds it instead of TensorFlow's
Keras (``verify.registry.process_compatible``).  Here, in the main process, the registry keeps
the frameworks that cannot share a process apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from verify import registry

REPO = Path(__file__).resolve().parents[1]
KERAS_FRAMEWORKS = ("keras-jax", "keras-torch")


def _child_pytest(framework: str) -> list[str]:
    backend = framework.removeprefix("keras-")
    args = [
        "-q",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        "-m",
        "not slow",
        "tests/keras_backend_suite.py",
        "tests/test_registry_contract.py",
        "tests/test_jvp_reproducer.py",
        "-k",
        f"keras_backend_suite or (keras and {backend})",
    ]
    preload = registry.FRAMEWORK_MODULES[framework]
    return [
        sys.executable,
        "-c",
        f"import sys, pytest, {preload}; sys.exit(pytest.main({args!r}))",
    ]


@pytest.mark.parametrize("framework", KERAS_FRAMEWORKS)
def test_backend_entries_pass_their_suite_and_the_contract_in_their_own_process(
    framework: str,
) -> None:
    if framework not in registry.installed_frameworks():
        pytest.skip(f"{framework} is not installed")
    env = {**os.environ, "XENT_KERAS_FRAMEWORK": framework, "PYTHONPATH": str(REPO)}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run(
        _child_pytest(framework), cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    tail = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and "keras" in done.stdout + framework


def test_frameworks_that_fix_keras_s_backend_never_share_a_process() -> None:
    group = {"tensorflow", *KERAS_FRAMEWORKS}
    assert group in [set(g) for g in registry.PROCESS_EXCLUSIVE]
    installed = ["torch", "jax", "tensorflow", "numpy", "keras-jax", "keras-torch"]
    assert registry.process_compatible(installed, with_="keras-jax") == [
        "torch",
        "jax",
        "numpy",
        "keras-jax",
    ]
    assert registry.process_compatible(installed, with_="torch") == [
        "torch",
        "jax",
        "tensorflow",
        "numpy",
    ]
    assert registry.process_compatible(["keras-torch", "numpy"]) == ["keras-torch", "numpy"]


def test_this_process_lists_tensorflow_s_keras_and_not_the_other_backends() -> None:
    pytest.importorskip("tensorflow")
    frameworks = {e.framework for e in registry.all_implementations()}
    assert "tensorflow" in frameworks and not frameworks & set(KERAS_FRAMEWORKS)


def test_backend_tagged_names_resolve_to_their_framework_without_importing_it() -> None:
    assert registry._candidate_frameworks("keras.losses.KLDivergence[backend=jax]") == ["keras-jax"]
    assert registry._candidate_frameworks("keras.losses.KLDivergence[backend=torch]") == [
        "keras-torch"
    ]
    assert registry._candidate_frameworks("keras.losses.KLDivergence") == ["tensorflow"]


def test_names_of_a_framework_that_cannot_share_this_process_come_from_a_child() -> None:
    """With TensorFlow's Keras loaded here, keras-jax's names are listed by a child
    interpreter (so ``--implementation`` patterns never load a second Keras backend)."""
    pytest.importorskip("tensorflow")
    if "keras-jax" not in registry.installed_frameworks():
        pytest.skip("keras-jax is not installed")
    registry.all_implementations("tensorflow")
    assert not registry.shares_this_process("keras-jax")
    names = registry.entry_names("keras-jax")
    assert "keras.losses.CategoricalCrossentropy[backend=jax]" in names
    assert "verify.registry.keras_jax_impls" not in sys.modules
