"""Running the checks of one framework (or one user callable) and yielding results.

This is the seam between the checks (``verify.checks``) and the orchestration
(``verify.runner``, ``verify.cli``): the runner calls these functions inside a worker process,
one framework per process, and forwards the results and progress events to the parent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

from verify.results import Result


@dataclasses.dataclass(frozen=True)
class ProgressEvent:
    """Emitted by a session while it works: which check is running and how far along it is."""

    framework: str
    implementation: str
    check: str
    dtype: str
    device: str
    done: int
    total: int | None = None


ProgressCallback = Callable[[ProgressEvent], None]


def run_framework(
    framework: str,
    *,
    devices: Sequence[str],
    profile: str,
    seed: int,
    on_progress: ProgressCallback | None = None,
) -> Iterator[Result]:
    """Run every check of every registered implementation of ``framework`` on ``devices``."""
    raise NotImplementedError("verify.session.run_framework is being written")


def run_user_implementation(
    impl: str,
    like: str,
    *,
    devices: Sequence[str],
    profile: str,
    seed: int,
    on_progress: ProgressCallback | None = None,
) -> Iterator[Result]:
    """Run all of ``like``'s checks on the callable ``impl`` ("module:function")."""
    raise NotImplementedError("verify.session.run_user_implementation is being written")
