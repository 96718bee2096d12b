"""The dashboard grid and the full grid.

asv starts one process per parameter combination of every benchmark, skipped ones included, and
each process imports a framework, so the grid's size is what a ``--quick`` pass costs: the full
grid (every registry entry x pass x dtype x shape x device) is thousands of processes, hours on
a small machine.  Without ``XENT_BENCH_FULL=1`` the suite runs the *dashboard grid*: one
cross-entropy entry per framework, float32 for speed and memory (float32 and bfloat16 for
accuracy), 1024 rows of a 32000-class vocabulary (a quarter of the medium shape: rows as wide
as a real vocabulary, inputs of 131 MB, not 524 MB), and the CUDA device only where a GPU is
present.
``XENT_BENCH_FULL=1`` restores the full grid, as it restores the big shapes
(``benchmarks.parameters``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from benchmarks import parameters

#: the entries of the dashboard grid, one per framework, where installed
DASHBOARD_NAMES: tuple[str, ...] = (
    "torch.nn.functional.cross_entropy",
    "optax.softmax_cross_entropy_with_integer_labels[jit]",
    "tf.nn.sparse_softmax_cross_entropy_with_logits",
    "numpy.textbook.cross_entropy_shifted",
)
#: dtypes of the dashboard grid: speed and memory, and accuracy
DASHBOARD_DTYPES: tuple[str, ...] = ("float32",)
DASHBOARD_ACCURACY_DTYPES: tuple[str, ...] = ("bfloat16", "float32")
DASHBOARD_SHAPES: tuple[str, ...] = (parameters.DASHBOARD,)

#: device files of the NVIDIA driver: a cheap test for a GPU that imports no framework
_NVIDIA_DEVICE_FILES = ("/dev/nvidiactl", "/dev/nvidia0")


def gpu_present() -> bool:
    """Whether an NVIDIA GPU driver is present (no framework is imported to answer)."""
    return any(os.path.exists(path) for path in _NVIDIA_DEVICE_FILES)


def names(all_names: Sequence[str], dashboard: Sequence[str] = DASHBOARD_NAMES) -> tuple[str, ...]:
    """``all_names`` in full mode; otherwise those of ``dashboard`` among them (or the first
    of ``all_names``, so a class keeps one combination and asv's discovery stays valid)."""
    if parameters.full_mode():
        return tuple(all_names)
    chosen = tuple(n for n in dashboard if n in all_names)
    return chosen or tuple(all_names[:1])


def dtypes(dashboard: Sequence[str] = DASHBOARD_DTYPES) -> tuple[str, ...]:
    return parameters.DTYPES if parameters.full_mode() else tuple(dashboard)


def shapes(full: Sequence[str] = parameters.SHAPES) -> tuple[str, ...]:
    return tuple(full) if parameters.full_mode() else DASHBOARD_SHAPES


def devices(only: Sequence[str] = parameters.DEVICES) -> tuple[str, ...]:
    """``only`` in full mode; otherwise cpu, and cuda where a GPU is present (a class that
    measures only cuda keeps it, to be skipped, so that it stays discoverable)."""
    if parameters.full_mode():
        return tuple(only)
    kept = tuple(d for d in only if d == "cpu" or gpu_present())
    return kept or tuple(only[:1])
