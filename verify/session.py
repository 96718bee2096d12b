"""Running the checks of one framework (or one user callable) and yielding results.

This is the seam between the checks (``verify.checks``) and the orchestration
(``verify.runner``, ``verify.cli``): the runner calls these functions inside a worker process,
one framework per process, and forwards the results and progress events to the parent.

Order: for each device, every implementation x check x dtype except ``bad_input``, then
``bad_input`` for every implementation (an out-of-range class index can trip a CUDA device-side
assert that poisons the process's device context, so it goes last).  Every search is seeded
from ``seed`` and its own identity, so a run is reproducible, whichever process runs it.

Selection (:class:`Selection`): implementation names or glob patterns, checks, dtypes, a
deterministic shard ``K/N`` of the searches (by a hash of the search's identity, not by its
position, so the shards of one run partition its searches whatever is installed), and keys to
skip (what a restarted worker already has).

Sharing (:class:`Claims`): several worker processes may run one framework's plan together.  The
plan is cut into *groups*, one per (implementation, device, phase), so that one process runs all
of an implementation's checks and dtypes and reuses what it compiled; each process claims the
next unclaimed group from a counter the processes share, so the work balances itself and the
last groups of a slow framework go to whichever process is free.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from verify.checks import CHECKS
from verify.engine.search import result_for, skip_result
from verify.ops import CODE_PATH_CHECKS
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

#: (implementation, check, dtype, device): the identity of one search, and of its result
SearchKey = tuple[str, str, str, str]


def shard_of(key: SearchKey, shards: int) -> int:
    """The shard (0-based, of ``shards``) that the search ``key`` belongs to: a hash of its
    implementation, dtype and device, so the assignment does not depend on what else is in
    the run, and every check of one implementation in one dtype on one device runs in the same
    shard.  They draw the same shapes, so what the framework compiles for them (XLA programs,
    inductor kernels) is compiled by one shard, not once in each of them."""
    impl, _check, dtype, device = key
    digest = hashlib.sha256("|".join((impl, dtype, device)).encode()).digest()
    return int.from_bytes(digest[:8], "little") % shards


def _glob(pattern: str) -> str:
    """``pattern`` for ``fnmatch`` with its brackets literal: ``*`` and ``?`` are the only
    wildcards, since entry names use brackets for their tags (``f[jit]``, ``*[compiled]``)."""
    return pattern.replace("[", "[[]")


def matches(name: str, patterns: Sequence[str]) -> bool:
    """Whether ``name`` is one of ``patterns`` or matches one as a glob: ``*`` any run of
    characters, ``?`` one; ``[`` and ``]`` match themselves (``'*[compiled]'`` selects the
    compiled entries)."""
    return any(name == p or fnmatch.fnmatchcase(name, _glob(p)) for p in patterns)


@dataclasses.dataclass(frozen=True)
class Selection:
    """Which searches of a plan to run (every field empty/None: all of them)."""

    #: implementation names or glob patterns
    implementations: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    dtypes: tuple[str, ...] = ()
    #: (k, n): the k-th (1-based) of n shards
    shard: tuple[int, int] | None = None
    #: searches not to run (they already have a result)
    skip: frozenset[SearchKey] = frozenset()

    def admits(self, key: SearchKey) -> bool:
        """Whether the search ``key`` is selected."""
        impl, check, dtype, _device = key
        if self.implementations and not matches(impl, self.implementations):
            return False
        if self.checks and check not in self.checks:
            return False
        if self.dtypes and dtype not in self.dtypes:
            return False
        if self.shard is not None and shard_of(key, self.shard[1]) != self.shard[0] - 1:
            return False
        return key not in self.skip


class Claims(Protocol):
    """A counter shared by the processes running one plan (``multiprocessing.Value``)."""

    def get_lock(self) -> Any: ...

    value: int


PlanItem = tuple[Implementation, str, str, str]


@dataclasses.dataclass(frozen=True)
class SessionRun:
    """What a session function is asked to run, and where it reports as it goes.

    The runner builds one per worker process; a session function takes it after its own
    positional arguments (``session(*job.args, run)``)."""

    devices: Sequence[str]
    profile: str
    seed: int
    on_progress: ProgressCallback | None = None
    #: which searches of the plan to run (None: all)
    selection: Selection | None = None
    #: the counter shared with the other processes running this plan (None: run all groups)
    claims: Claims | None = None
    #: groups to run before claiming more (a restarted worker's unfinished group)
    first_groups: Sequence[int] = ()
    #: called with each group's index as it is claimed, and -1 once every group is claimed
    on_group: Callable[[int], None] | None = None


def _dtypes(impl: Implementation) -> list[str]:
    return [d for d in DTYPE_ORDER if d in impl.dtypes]


def _devices_of(impl: Implementation) -> tuple[str, ...]:
    try:
        return impl.available_devices()
    except Exception:
        return ("cpu",) if "cpu" in impl.devices else ()


def plan(
    impls: Iterable[Implementation], devices: Sequence[str], checks: Sequence[str] | None = None
) -> list[PlanItem]:
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
        return skip_result(impl, check, dtype, device, f"{impl.name} does not run on {device} here")
    if impl.code_path and check not in CODE_PATH_CHECKS:
        return skip_result(
            impl,
            check,
            dtype,
            device,
            f"{check} tests what the API means, which the plain entry's {check} check covers; "
            f"this {impl.code_path} code path is judged against the reference by "
            f"{', '.join(CODE_PATH_CHECKS)} (docs/checks.md#compiled-code-paths)",
        )
    try:
        result = CHECKS[check](impl, dtype, device, profile=profile, seed=seed)
    except Exception as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        result = result_for(
            impl,
            check,
            dtype,
            device,
            status="error",
            message=f"the {check} check crashed: {type(exc).__name__}: {exc}",
            extra={"traceback": tb},
        )
    if result.duration_s is None:
        result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _not_in_profile(impl: Implementation, profile: str) -> str:
    return (
        f"the {profile} profile runs the plain entries; this {impl.code_path} code path runs at "
        f"the default and thorough profiles, or when --implementation names it "
        "(docs/checks.md#profiles)"
    )


def item_key(item: PlanItem) -> SearchKey:
    impl, check, dtype, device = item
    return (impl.name, check, dtype, device)


def groups(items: Sequence[PlanItem]) -> list[list[PlanItem]]:
    """The plan cut into claimable groups, in plan order: consecutive items of one
    (implementation, device, phase), phase being ``bad_input`` or not (so ``bad_input`` still
    comes after every other check of a device in every process)."""
    out: list[list[PlanItem]] = []
    last: tuple[str, str, bool] | None = None
    for item in items:
        impl, check, _dtype, device = item
        label = (impl.name, device, check == "bad_input")
        if label != last:
            out.append([])
            last = label
        out[-1].append(item)
    return out


def _claimed_groups(
    all_groups: list[list[PlanItem]], claims: Claims | None, first: Sequence[int]
) -> Iterator[tuple[int, list[PlanItem]]]:
    """The groups this process runs: ``first`` (a restarted worker resumes its group), then
    each next unclaimed one (all of them in order when there is no shared counter)."""
    for index in first:
        if 0 <= index < len(all_groups):
            yield index, all_groups[index]
    if claims is None:
        for index, group in enumerate(all_groups):
            if index not in first:
                yield index, group
        return
    while True:
        with claims.get_lock():
            index = claims.value
            claims.value = index + 1
        if index >= len(all_groups):
            return
        yield index, all_groups[index]


def _run_plan(framework: str, items: list[PlanItem], run: SessionRun) -> Iterator[Result]:
    profile, seed, on_progress = run.profile, run.seed, run.on_progress
    claims, on_group = run.claims, run.on_group
    settings = get_profile(profile)  # a bad profile name fails before any work
    selection = run.selection or Selection()
    # groups are numbered on the selected plan before ``skip`` is applied, so that every
    # worker sharing the counter (a restarted one included) numbers them alike
    unskipped = dataclasses.replace(selection, skip=frozenset())
    items = [item for item in items if unskipped.admits(item_key(item))]
    total = sum(item_key(item) not in selection.skip for item in items)
    done = 0
    last: PlanItem | None = None
    all_groups = groups(items)
    for index, group in _claimed_groups(all_groups, claims, run.first_groups):
        if on_group is not None:
            on_group(index)
            if claims is not None and index == len(all_groups) - 1:
                on_group(-1)  # the last group is claimed: a worker joining now has nothing to do
        for impl, check, dtype, device in group:
            if (impl.name, check, dtype, device) in selection.skip:
                continue
            if on_progress is not None:
                on_progress(ProgressEvent(framework, impl.name, check, dtype, device, done, total))
            if (
                impl.code_path
                and not settings.compiled_code_paths
                and not (
                    selection.implementations and matches(impl.name, selection.implementations)
                )
            ):
                yield skip_result(impl, check, dtype, device, _not_in_profile(impl, profile))
            else:
                yield run_check(impl, check, dtype, device, profile=profile, seed=seed)
            done += 1
            last = (impl, check, dtype, device)
    if claims is not None and on_group is not None:
        on_group(-1)  # every group is claimed (also when there were none)
    if on_progress is not None and last is not None:
        impl, check, dtype, device = last
        on_progress(ProgressEvent(framework, impl.name, check, dtype, device, done, done))


def run_framework(framework: str, run: SessionRun) -> Iterator[Result]:
    """Run the selected checks of every registered implementation of ``framework`` on
    ``run.devices`` (with ``run.claims``: the groups this process claims, see :class:`Claims`)."""
    from verify.registry import all_implementations

    yield from _run_plan(framework, plan(all_implementations(framework), run.devices), run)


def run_user_implementation(impl: str, like: str, run: SessionRun) -> Iterator[Result]:
    """Run ``like``'s (selected) checks on the callable ``impl`` ("module:function")."""
    from verify.registry.user import load_user_implementation

    entry = load_user_implementation(impl, like)
    yield from _run_plan(entry.framework, plan([entry], run.devices), run)
