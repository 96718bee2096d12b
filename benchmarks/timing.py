"""Best-of-k wall-clock timing for ``track_`` benchmarks that derive a figure from a time.

asv's ``time_`` benchmarks do their own statistics; ``track_`` benchmarks (ratios, GB/s)
need a time inside the benchmark.  The minimum over repeats estimates the undisturbed cost
(the other samples carry scheduler and cache noise), as ``timeit``'s documentation advises:
https://docs.python.org/3/library/timeit.html#timeit.Timer.repeat
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_time(
    fn: Callable[[], Any], *, min_repeats: int = 3, max_repeats: int = 50, budget_s: float = 1.0
) -> float:
    """Smallest wall time of ``fn()`` in seconds over at least ``min_repeats`` calls.

    Keeps calling while the total stays under ``budget_s`` (and at most ``max_repeats``
    times).  ``fn`` must synchronise with its device before returning.
    """
    best = float("inf")
    spent = 0.0
    count = 0
    while count < min_repeats or (spent < budget_s and count < max_repeats):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best = min(best, elapsed)
        spent += elapsed
        count += 1
    return best


class OneSample:
    """asv sampling of a benchmark whose one call takes seconds to minutes: one call, one
    sample, no calibration or warm-up loop (asv's ``number``, ``repeat``, ``warmup_time``:
    https://asv.readthedocs.io/en/stable/benchmarks.html#timing-benchmarks).  Benchmark
    classes inherit it and set their own ``timeout``."""

    number = 1
    repeat = 1
    warmup_time = 0.0
