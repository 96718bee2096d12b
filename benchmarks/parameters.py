"""The parameter axes of the suite and the switches that select them.

asv evaluates ``params`` when it imports a benchmark module, once at discovery and again in
every process that runs one parameter combination, so everything here is deterministic for a
given environment (same installed frameworks, same environment variables).

Environment variables (see ``docs/benchmarks.md``):

- ``XENT_BENCH_FULL=1`` enables the LLM shape (8192 x 128256) and the GPU-sized linear cross
  entropy shape (8192 x 4096 x 128256).  Without it those combinations are skipped, which
  keeps a ``--quick`` pass to minutes on a small CPU machine.
- ``XENT_BENCH_FRAMEWORKS=torch,jax`` restricts the registry entries benchmarked to these
  frameworks (default: every installed one).  Each asv process imports the registry modules
  of the selected frameworks, so a narrow selection also makes every process start faster.
"""

from __future__ import annotations

import functools
import os

from verify.ops import DEVICES as DEVICES
from verify.ops import DTYPES as DTYPES
from verify.ops import FUSED_LINEAR, OPS

#: Shapes (N rows, C classes) as asv parameter strings: small, medium and LLM vocabulary.
SMALL = "256x10"
MEDIUM = "4096x32000"
LLM = "8192x128256"
SHAPES: tuple[str, ...] = (SMALL, MEDIUM, LLM)
#: the dashboard grid's shape (``benchmarks.grid``): a 32000-class vocabulary, 1024 rows
DASHBOARD = "1024x32000"

#: linear_cross_entropy shapes (N rows, hidden, vocabulary): a CPU-sized one, and the LLM head
#: of the brief (8192 tokens, hidden 4096, vocabulary 128256), which runs on GPUs only
LINEAR_CPU = "2048x512x32000"
LINEAR_GPU = "8192x4096x128256"
LINEAR_SHAPES: tuple[str, ...] = (LINEAR_CPU, LINEAR_GPU)
#: shapes that run only with XENT_BENCH_FULL=1, and shapes never run on a CPU
FULL_ONLY_SHAPES: frozenset[str] = frozenset({LLM, LINEAR_GPU})
GPU_ONLY_SHAPES: frozenset[str] = frozenset({LINEAR_GPU})


#: Ops whose first argument is an (N, C) array of scores, probabilities or log-probabilities;
#: ``linear_cross_entropy`` takes (N, hidden) activations and has its own benchmark module.
ROW_OPS: tuple[str, ...] = tuple(op for op in OPS if op not in FUSED_LINEAR)

FULL_ENV = "XENT_BENCH_FULL"
FRAMEWORKS_ENV = "XENT_BENCH_FRAMEWORKS"


def full_mode() -> bool:
    """True when ``XENT_BENCH_FULL=1``: the big shapes run instead of being skipped."""
    return os.environ.get(FULL_ENV, "") == "1"


def parse_shape(shape: str) -> tuple[int, ...]:
    """``"4096x32000"`` -> ``(4096, 32000)``."""
    return tuple(int(part) for part in shape.split("x"))


def require_full_mode(what: str) -> None:
    """Skip (asv treats NotImplementedError raised in setup as "skipped") unless full mode."""
    if not full_mode():
        raise NotImplementedError(f"{what} runs only with {FULL_ENV}=1")


def selected_frameworks() -> list[str]:
    """Installed frameworks, narrowed by ``XENT_BENCH_FRAMEWORKS`` when it is set."""
    from verify.registry import installed_frameworks

    installed = installed_frameworks()
    wanted = os.environ.get(FRAMEWORKS_ENV, "").strip()
    if not wanted:
        return list(installed)
    names = {w.strip() for w in wanted.split(",") if w.strip()}
    return [fw for fw in installed if fw in names]


@functools.cache
def implementation_names(ops: tuple[str, ...]) -> list[str]:
    """Registry names (sorted) of the selected frameworks' entries computing one of ``ops``.

    Returns ``[NO_ENTRY]`` rather than an empty list when nothing matches, so a parameterised
    class still has one (skipped) combination and asv's discovery stays valid.
    """
    try:
        frameworks = selected_frameworks()
    except ImportError:  # the registry package is not importable in this environment
        return [NO_ENTRY]
    from benchmarks.registry_listing import registry_entries

    names = [name for name, _, op in registry_entries(frameworks) if op in ops]
    return sorted(names) or [NO_ENTRY]


NO_ENTRY = "<no registry entry>"
