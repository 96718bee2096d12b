"""The conformance items of ``pytest --pyargs verify --framework NAME`` (see
:mod:`verify.pytest_plugin`)."""

from __future__ import annotations

from typing import Any

import pytest

from verify.pytest_plugin import assert_conforms
from verify.session import run_check


def test_conformance(
    conformance_item: tuple[Any, str, str, str], request: pytest.FixtureRequest
) -> None:
    impl, check, dtype, device = conformance_item
    result = run_check(
        impl,
        check,
        dtype,
        device,
        profile=request.config.getoption("xent_profile"),
        seed=request.config.getoption("xent_seed"),
    )
    assert_conforms(result)
