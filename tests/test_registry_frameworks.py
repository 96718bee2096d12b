"""The table of frameworks (``verify/registry/frameworks.py``): every record is complete and
consistent with the project (its module, its pip extra, its GPU probe), and every per-framework
view other modules read is derived from it."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import verify.registry as registry
from verify import cli, pytest_plugin
from verify.registry import devices, frameworks
from verify.registry.frameworks import FRAMEWORKS, FrameworkSpec
from verify.report import findings, model

REPO = Path(__file__).resolve().parent.parent
EXTRAS: dict[str, list[str]] = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]
#: packages whose import makes reading the table slow (or fixes a process-wide state)
HEAVY = ("torch", "jax", "tensorflow", "keras", "mlx", "optax")


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0] for r in requirements}


def _module_path(module: str) -> Path:
    return REPO.joinpath(*module.split(".")).with_suffix(".py")


def _declared_key(module: str) -> str:
    """The ``FRAMEWORK = "..."`` a registry module assigns, read without importing it."""
    tree = ast.parse(_module_path(module).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "FRAMEWORK" for t in node.targets
        ):
            assert isinstance(node.value, ast.Constant)
            return str(node.value.value)
    raise AssertionError(f"{module} assigns no FRAMEWORK")


@pytest.mark.parametrize("spec", FRAMEWORKS, ids=[s.key for s in FRAMEWORKS])
def test_every_record_is_complete(spec: FrameworkSpec) -> None:
    assert spec.key and spec.packages and spec.distributions
    assert _module_path(spec.module).is_file() and _declared_key(spec.module) == spec.key
    if spec.install != frameworks.BASE_INSTALL:
        assert spec.install == f"xent-conformance[{spec.key}]"
        assert set(spec.packages) <= _requirement_names(EXTRAS[spec.key])
        assert spec.key in EXTRAS["all"][0]
    assert spec.gpu_probe is None or spec.gpu_probe in devices.GPU_PROBES
    assert spec.name_prefixes or spec.keras_tag is not None, "no name points to it"
    assert spec.keras_tag in (None, "") or re.fullmatch(r"\[backend=\w+\]", spec.keras_tag)


def test_records_do_not_overlap() -> None:
    keys = [s.key for s in FRAMEWORKS]
    prefixes = [p for s in FRAMEWORKS for p in s.name_prefixes]
    tags = [s.keras_tag for s in FRAMEWORKS if s.keras_tag is not None]
    for values in (keys, [s.module for s in FRAMEWORKS], prefixes, tags):
        assert len(values) == len(set(values)), values
    assert tags.count("") == 1  # the untagged Keras names belong to one framework
    assert set(devices.GPU_PROBES) == {s.gpu_probe for s in FRAMEWORKS} - {None}


def test_the_views_other_modules_read_are_derived_from_the_records() -> None:
    by_key = {s.key: s for s in FRAMEWORKS}
    assert frameworks.BY_KEY == by_key and list(frameworks.BY_KEY) == [s.key for s in FRAMEWORKS]
    assert registry.FRAMEWORK_MODULES == {k: s.module for k, s in by_key.items()}
    assert registry.FRAMEWORK_PACKAGES == {k: s.packages for k, s in by_key.items()}
    assert model.FRAMEWORK_DISTRIBUTIONS == {k: s.distributions for k, s in by_key.items()}
    assert findings.FRAMEWORK_DISTRIBUTIONS is model.FRAMEWORK_DISTRIBUTIONS
    groups = {s.exclusive_group for s in FRAMEWORKS} - {None}
    assert {frozenset(g) for g in registry.PROCESS_EXCLUSIVE} == {
        frozenset(k for k, s in by_key.items() if s.exclusive_group == g) for g in groups
    }
    assert registry.NAME_PREFIXES == {p: s.key for s in FRAMEWORKS for p in s.name_prefixes}
    assert frameworks.KERAS_BACKEND_TAGS == {s.keras_tag: s.key for s in FRAMEWORKS if s.keras_tag}
    assert frameworks.KERAS_UNTAGGED == next(s.key for s in FRAMEWORKS if s.keras_tag == "")


def test_every_front_end_offers_the_table_s_frameworks() -> None:
    help_text = " ".join(cli.build_parser().format_help().split())
    assert all(s.key in help_text for s in FRAMEWORKS)
    options: dict[str, dict[str, object]] = {}

    class _Group:
        def addoption(self, name: str, **kwargs: object) -> None:
            options[name] = kwargs

    class _Parser:
        def getgroup(self, *args: object) -> _Group:
            return _Group()

    pytest_plugin.pytest_addoption(_Parser())  # type: ignore[arg-type]
    assert options["--framework"]["choices"] == tuple(s.key for s in FRAMEWORKS)


def test_start_order_puts_the_slowest_first_and_keeps_the_rest_as_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = [s.key for s in FRAMEWORKS]
    ordered = frameworks.start_order(keys)
    assert sorted(ordered) == sorted(keys)
    ranks = [frameworks.BY_KEY[k].start_rank for k in ordered]
    assert ranks == sorted(ranks)
    assert ordered == ["jax", "keras-jax", "torch", "tensorflow", "keras-torch", "mlx", "numpy"]
    # a framework without a rank starts after the ranked ones, in table order
    unranked = [
        dataclasses.replace(s, key=f"new{i}", start_rank=frameworks.LATE_START)
        for i, s in enumerate(FRAMEWORKS[:2])
    ]
    monkeypatch.setattr(frameworks, "BY_KEY", {**frameworks.BY_KEY, **{s.key: s for s in unranked}})
    assert frameworks.start_order(["new1", "numpy", "new0", "jax"]) == [
        "jax",
        "numpy",
        "new1",
        "new0",
    ]


def test_unknown_frameworks_are_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown framework 'paddle'; known: torch, jax"):
        frameworks.spec_of("paddle")
    with pytest.raises(ValueError, match="unknown framework 'paddle'"):
        registry.framework_module("paddle")
    assert devices.present_devices("paddle") == ("cpu",)


def test_installed_frameworks_record_their_distributions() -> None:
    for key in registry.installed_frameworks():
        for distribution in frameworks.BY_KEY[key].distributions:
            assert importlib.util.find_spec(distribution.replace("-", "_")) is not None, (
                key,
                distribution,
            )


def test_reading_the_table_imports_no_framework() -> None:
    script = (
        "import sys, verify.registry, verify.registry.devices, verify.report.model; "
        f"print(sorted(set(sys.modules) & set({HEAVY!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
