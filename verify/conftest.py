"""Wiring for ``pytest --pyargs verify``: the conformance options and parametrisation."""

from verify.pytest_plugin import pytest_addoption, pytest_generate_tests

__all__ = ["pytest_addoption", "pytest_generate_tests"]
