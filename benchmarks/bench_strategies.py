"""Drawing cases: the part of every example that comes before the framework is called.

``CaseDrawing.track_cases_per_second`` draws the cases of one NumPy textbook entry
(``verify.strategies.cases``, the ``accuracy`` kind, the default profile's shape alphabet,
float32) with a seeded Hypothesis search that only generates (no framework call, no reference,
no judging), and reports cases drawn per second.  Every search of a run pays this for each
example, whatever the framework: a slowdown of the strategies (a strategy rebuilt on every
draw, which Hypothesis validates anew each time) shows here before it shows as fewer examples
judged per second in ``bench_conformance_run``.
"""

from __future__ import annotations

import time

from benchmarks.timing import OneSample

#: the entries whose cases are drawn: a softmax-family op (logit styles along an axis drawn
#: anywhere) and a class-index loss (targets, ignore_index, weights, label smoothing)
ENTRIES = ("numpy.textbook.log_softmax_shifted", "numpy.textbook.cross_entropy_shifted")
DRAWS = 300
SEED = 20261202


class CaseDrawing(OneSample):
    """Cases drawn per second for one entry (generation only)."""

    params = (ENTRIES,)
    param_names = ("entry",)
    timeout = 300.0

    def setup(self, entry: str) -> None:
        from verify import registry

        impls = {i.name: i for i in registry.framework_module("numpy").implementations()}
        self.impl = impls[entry]

    def draw_cases(self, count: int) -> int:
        """Draw ``count`` cases of the entry (seeded, generation only); the number drawn."""
        from hypothesis import HealthCheck, Phase, given, seed, settings

        from verify.strategies import cases

        drawn = 0

        @seed(SEED)
        @settings(
            max_examples=count,
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(cases(self.impl, "float32", "accuracy", "default"))
        def draw(case: dict[str, object]) -> None:
            nonlocal drawn
            drawn += 1

        draw()
        return drawn

    def track_cases_per_second(self, entry: str) -> float:
        started = time.perf_counter()
        drawn = self.draw_cases(DRAWS)
        return drawn / (time.perf_counter() - started)

    track_cases_per_second.unit = "cases/s"  # type: ignore[attr-defined]
