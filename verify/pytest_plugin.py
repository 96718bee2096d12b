"""pytest entry: one test item per implementation x check x dtype x device.

    pytest --pyargs verify --framework torch [--profile quick|default|thorough]
           [--device cpu --device cuda] [--xent-seed N] [--check accuracy ...]
    pytest -p verify.pytest_plugin --pyargs verify --framework torch

An item fails on a nonconforming result (``fail`` or ``error`` that is not a registered upstream
issue) with the result's message and reproducer; ``skip`` results skip; a registered upstream
issue is an ``xfail`` carrying its link; documented deviations pass.  tox and CI can run one
framework per environment this way.
"""

from __future__ import annotations

from typing import Any

import pytest

from verify.ops import PROFILE_NAMES
from verify.registry.frameworks import FRAMEWORK_MODULES
from verify.results import Result


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xent-conformance", "cross-entropy conformance")
    options: list[tuple[str, dict[str, Any]]] = [
        (
            "--framework",
            dict(
                action="append",
                default=None,
                choices=tuple(FRAMEWORK_MODULES),
                help="framework to verify (repeatable; default: all installed)",
            ),
        ),
        (
            "--profile",
            dict(
                default="default",
                choices=PROFILE_NAMES,
                help="run profile (default: default)",
            ),
        ),
        (
            "--device",
            dict(
                action="append",
                default=None,
                help="device to verify on (repeatable; default: all present)",
            ),
        ),
        ("--xent-seed", dict(type=int, default=0, help="seed of the searches (default 0)")),
        (
            "--check",
            dict(action="append", default=None, help="only this check category (repeatable)"),
        ),
        (
            "--implementation",
            dict(
                action="append",
                default=None,
                help="only this registered implementation (repeatable)",
            ),
        ),
    ]
    for name, kwargs in options:
        dest = name.lstrip("-").replace("-", "_")
        dest = dest if dest.startswith("xent_") else "xent_" + dest
        try:
            group.addoption(name, dest=dest, **kwargs)
        except ValueError:  # already added (plugin loaded twice: -p and the package conftest)
            return


def _devices(config: pytest.Config, framework: str) -> list[str]:
    from verify.registry.devices import present_devices

    wanted = config.getoption("xent_device")
    present = list(present_devices(framework))
    return [d for d in wanted if d in present] if wanted else present


def conformance_items(config: pytest.Config) -> list[tuple[Any, str, str, str]]:
    """The (implementation, check, dtype, device) items the options select."""
    from verify.registry import all_implementations, installed_frameworks, process_compatible
    from verify.session import plan

    # one process holds one Keras backend: without --framework, the frameworks that can share it
    frameworks = config.getoption("xent_framework") or process_compatible(installed_frameworks())
    checks = config.getoption("xent_check")
    names = config.getoption("xent_implementation")
    items = []
    for fw in frameworks:
        impls = [i for i in all_implementations(fw) if not names or i.name in names]
        items.extend(plan(impls, _devices(config, fw), checks))
    return items


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "conformance_item" not in metafunc.fixturenames:
        return
    items = conformance_items(metafunc.config)
    metafunc.parametrize(
        "conformance_item",
        items,
        ids=[f"{impl.name}-{check}-{dtype}-{device}" for impl, check, dtype, device in items],
    )


def assert_conforms(result: Result) -> None:
    """Turn one result into a pytest outcome."""
    if result.status == "skip":
        pytest.skip(result.message)
    if result.status in ("fail", "error") and result.known_issue:
        pytest.xfail(f"registered upstream issue {result.known_issue}: {result.message}")
    if result.nonconforming:
        text = f"{result.status}: {result.message}"
        if result.reproducer:
            text += f"\n--- reproducer ---\n{result.reproducer}"
        pytest.fail(text, pytrace=False)
