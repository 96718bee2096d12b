"""Test scaffolding: the Hypothesis settings of the fast property tests of strategies and the
catalogue."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fast(max_examples: int) -> settings:
    """``max_examples`` examples, the same ones on every run (``derandomize``), no example
    database, no deadline, and no health checks: the strategies under test draw large, slow
    and sometimes filtered examples by design."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
