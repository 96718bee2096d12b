"""Running the checks of one framework (or one user callable) and yielding results.

This is the seam between the checks (``verify.checks``) and the orchestration
(``verify.runner``, ``verify.cli``): the runner calls these functions inside a worker process,
one framework per process, and forwards the results and progress events to the parent.

Order: for each device, every implementation x check x dtype except ``bad_input``, then
``bad_input`` for every implementation (an out-of-range class index can trip a CUDA device-side
assert that poisons the process's device context, so it goes last).  Every search is seeded
from ``seed`` and its own identity, so a run is reproducible.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence

from verify.checks import CHECKS
from verify.ops import DTYPES as DTYPE_ORDER
from verify.profiles import get_profile
from verify.registry.base import Implementation
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


def _dtypes(impl: Implementation) -> list[str]:
    return [d for d in DTYPE_ORDER if d in impl.dtypes]


def _devices_of(impl: Implementation) -> tuple[str, ...]:
    try:
        return impl.available_devices()
    except Exception:
        return ("cpu",) if "cpu" in impl.devices else ()


def plan(
    impls: Iterable[Implementation], devices: Sequence[str], checks: Sequence[str] | None = None
) -> list[tuple[Implementation, str, str, str]]:
    """(implementation, check, dtype, device) in the order a session runs them."""
    names = [c for c in CHECKS if checks is None or c in checks]
    impls = list(impls)
    out: list[tuple[Implementation, str, str, str]] = []
    for device in devices:
        for impl in impls:
            for check in names:
                if check == "bad_input":
                    continue
                out.extend((impl, check, dtype, device) for dtype in _dtypes(impl))
        if "bad_input" in names:
            for impl in impls:
                out.extend((impl, "bad_input", dtype, device) for dtype in _dtypes(impl))
    return out


def run_check(
    impl: Implementation, check: str, dtype: str, device: str, *, profile: str, seed: int
) -> Result:
    """One check on one implementation; never raises (a crash of the check is ``error``)."""
    started = time.perf_counter()
    if device not in _devices_of(impl):
        return Result(
            implementation=impl.name,
            framework=impl.framework,
            op=impl.op,
            check=check,
            dtype=dtype,
            device=device,
            status="skip",
            message=f"{impl.name} does not run on {device} here",
        )
    try:
        result = CHECKS[check](impl, dtype, device, profile=profile, seed=seed)
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        result = Result(
            implementation=impl.name,
            framework=impl.framework,
            op=impl.op,
            check=check,
            dtype=dtype,
            device=device,
            status="error",
            message=f"the {check} check crashed: {type(exc).__name__}: {exc}",
            extra={"traceback": tb},
        )
    if result.duration_s is None:
        result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _run_plan(
    framework: str,
    items: list[tuple[Implementation, str, str, str]],
    profile: str,
    seed: int,
    on_progress: ProgressCallback | None,
) -> Iterator[Result]:
    get_profile(profile)  # a bad profile name fails before any work
    total = len(items)
    for done, (impl, check, dtype, device) in enumerate(items):
        if on_progress is not None:
            on_progress(ProgressEvent(framework, impl.name, check, dtype, device, done, total))
        yield run_check(impl, check, dtype, device, profile=profile, seed=seed)
    if on_progress is not None and items:
        impl, check, dtype, device = items[-1]
        on_progress(ProgressEvent(framework, impl.name, check, dtype, device, total, total))


def run_framework(
    framework: str,
    *,
    devices: Sequence[str],
    profile: str,
    seed: int,
    on_progress: ProgressCallback | None = None,
) -> Iterator[Result]:
    """Run every check of every registered implementation of ``framework`` on ``devices``."""
    from verify.registry import all_implementations

    impls = all_implementations(framework)
    yield from _run_plan(framework, plan(impls, devices), profile, seed, on_progress)


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
    from verify.registry.user import load_user_implementation

    entry = load_user_implementation(impl, like)
    yield from _run_plan(entry.framework, plan([entry], devices), profile, seed, on_progress)
