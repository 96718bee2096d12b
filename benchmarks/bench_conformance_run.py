"""The conformance run itself: examples per second per framework, and the quick profile's wall
time, so that a slowdown of ``python -m verify`` shows on the dashboard.

- ``ConformanceExamples.track_examples_per_second``: per installed framework, a fixed slice of
  a real run (the accuracy and gradient checks of the framework's dashboard entries, float32,
  quick profile, seed 0), run in the benchmark process as a worker runs it
  (``verify.session.run_framework``), from a cold start of the process: compiling, drawing,
  the reference, the error model and the framework calls all count, as in a run.  The figure
  is examples judged per second of wall time.
- ``ConformanceRun.track_quick_profile_wall_s``: ``python -m verify --profile quick`` in a
  subprocess, in a fresh working directory (no example database, no compilation cache): what
  a new user's "fast look" costs.  On the dashboard grid it runs the NumPy framework (the
  floor every framework pays: strategies, reference, error models, reports, process start,
  with no compiler), because every framework takes longer than the dashboard's budget of 10
  minutes on a 2-core machine; with ``XENT_BENCH_FULL=1`` it runs every installed framework
  (parameter ``"all"``).  ``track_quick_profile_examples`` is the number of examples that run
  judged, so a faster run that judged less shows too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import parameters
from benchmarks.timing import OneSample

#: the implementations of each framework's slice (names or globs of verify's selection)
SLICES: dict[str, tuple[str, ...]] = {
    "torch": ("torch.nn.functional.cross_entropy", "torch.nn.functional.log_softmax"),
    "jax": (
        "optax.softmax_cross_entropy_with_integer_labels",
        "optax.softmax_cross_entropy_with_integer_labels[jit]",
    ),
    "tensorflow": ("tf.nn.sparse_softmax_cross_entropy_with_logits", "tf.nn.log_softmax"),
    "numpy": ("numpy.textbook.cross_entropy_shifted", "numpy.textbook.log_softmax_shifted"),
    "mlx": ("mlx.nn.losses.cross_entropy", "mlx.nn.log_softmax"),
}
SLICE_CHECKS = ("accuracy", "gradient")
SLICE_DTYPES = ("float32",)


def _frameworks() -> list[str]:
    try:
        installed = parameters.selected_frameworks()
    except ImportError:
        return ["numpy"]
    return [fw for fw in SLICES if fw in installed] or ["numpy"]


class ConformanceExamples(OneSample):
    """Examples judged per second by one framework's worker, on a fixed slice of a run."""

    params = (tuple(_frameworks()),)
    param_names = ("framework",)
    timeout = 900.0

    def setup(self, framework: str) -> None:
        from verify.registry import installed_frameworks

        if framework not in installed_frameworks():
            raise NotImplementedError(f"{framework} is not installed")
        self.cwd = tempfile.TemporaryDirectory(prefix="xent-bench-run-")
        self.old_cwd = os.getcwd()
        os.chdir(self.cwd.name)  # the example database goes to the temporary directory

    def teardown(self, framework: str) -> None:
        os.chdir(self.old_cwd)
        self.cwd.cleanup()

    def track_examples_per_second(self, framework: str) -> float:
        from verify.session import Selection, SessionRun, run_framework

        selection = Selection(
            implementations=SLICES[framework], checks=SLICE_CHECKS, dtypes=SLICE_DTYPES
        )
        started = time.perf_counter()
        results = list(
            run_framework(
                framework,
                SessionRun(devices=["cpu"], profile="quick", seed=0, selection=selection),
            )
        )
        elapsed = time.perf_counter() - started
        return sum(r.examples for r in results) / elapsed

    track_examples_per_second.unit = "examples/s"  # type: ignore[attr-defined]


def _run_scopes() -> tuple[str, ...]:
    """The frameworks of the quick-profile run: NumPy on the dashboard grid, every installed
    framework (``"all"``) in the full grid."""
    return ("numpy", "all") if parameters.full_mode() else ("numpy",)


class ConformanceRun(OneSample):
    """``python -m verify --profile quick`` end to end: wall time and examples judged."""

    params = (_run_scopes(),)
    param_names = ("frameworks",)
    timeout = 3600.0

    def setup_cache(self) -> dict[str, tuple[float, int]]:
        """Run once per scope (asv shares the answers between the two track_ methods)."""
        from verify.report import json_report

        out: dict[str, tuple[float, int]] = {}
        for scope in _run_scopes():
            with tempfile.TemporaryDirectory(prefix="xent-bench-quick-") as tmp:
                env = dict(os.environ)
                root = str(Path(__file__).resolve().parent.parent)
                env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
                # a cold start, as a new user has
                env.pop("JAX_COMPILATION_CACHE_DIR", None)
                env.pop("TORCHINDUCTOR_CACHE_DIR", None)
                selection = [] if scope == "all" else ["--framework", scope]
                started = time.perf_counter()
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "verify",
                        "--profile",
                        "quick",
                        "--output",
                        "out",
                        *selection,
                    ],
                    cwd=tmp,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
                wall = time.perf_counter() - started
                report = json_report.load(Path(tmp) / "out" / "conformance.json")
            out[scope] = (wall, sum(r.examples for r in report.results))
        return out

    def track_quick_profile_wall_s(
        self, cached: dict[str, tuple[float, int]], frameworks: str
    ) -> float:
        return cached[frameworks][0]

    track_quick_profile_wall_s.unit = "seconds"  # type: ignore[attr-defined]

    def track_quick_profile_examples(
        self, cached: dict[str, tuple[float, int]], frameworks: str
    ) -> int:
        return cached[frameworks][1]

    track_quick_profile_examples.unit = "examples"  # type: ignore[attr-defined]
