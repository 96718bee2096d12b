"""Session functions with scripted behaviour, for testing the orchestration (``verify.runner``,
``verify.cli``) without the real checks: they run inside spawned worker processes, so they
live in an importable module of their own.  Test code only."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from verify.results import Result
from verify.session import ProgressCallback, ProgressEvent, Selection, SessionRun

HOSTILE = '<img src=x onerror="window.__pwned=1">&amp;|`x`*_[a](javascript:alert(1))\x00]]>'


def _result(framework: str, impl: str, check: str, dtype: str, device: str, rng: random.Random):
    ulp = round(rng.uniform(0.0, 0.9), 6)
    points = [
        {
            "magnitude": 10 ** rng.uniform(-2, 4),
            "classes": rng.choice([2, 3, 10, 100, 1000, 32000]),
            "ulp": abs(rng.gauss(0, 0.3)),
        }
        for _ in range(40)
    ]
    return Result(
        implementation=impl,
        framework=framework,
        op=impl.rsplit(".", 1)[-1],
        check=check,
        dtype=dtype,
        device=device,
        status="pass",
        examples=rng.randint(50, 500),
        max_ulp=ulp,
        max_bound_ratio=round(ulp / 4, 6),
        duration_s=time.perf_counter() % 1,  # a timing: must not matter for determinism
        extra={"points": points} if check == "accuracy" else {},
    )


def _ok(
    framework: str, devices: Sequence[str], seed: int, on_progress: ProgressCallback | None
) -> Iterator[Result]:
    for impl in (f"{framework}.softmax", f"{framework}.cross_entropy"):
        for check in ("accuracy", "gradient"):
            for dtype in ("float32", "float64"):
                for device in devices:
                    rng = random.Random(f"{seed}|{impl}|{check}|{dtype}|{device}")
                    if on_progress:
                        on_progress(ProgressEvent(framework, impl, check, dtype, device, 0, 10))
                        on_progress(ProgressEvent(framework, impl, check, dtype, device, 10, 10))
                    yield _result(framework, impl, check, dtype, device, rng)


def fake_session(behaviour: str, run: SessionRun) -> Iterator[Result]:
    """``behaviour`` picks the script: ok, fail, known, abort, hang, raise, slow:<dir>,
    hostile, empty, abort-every:<k> (aborts in every k-th check a process runs; what it
    reports honours ``run.selection``, so a restarted worker goes on after the crash).  The
    sharing fields (claims, first groups) are not used: each fake runs its whole script."""
    devices, seed, on_progress, selection = run.devices, run.seed, run.on_progress, run.selection
    if behaviour.startswith("abort-every:"):
        yield from _abort_every(
            int(behaviour.split(":", 1)[1]), devices, seed, on_progress, selection
        )
        return
    framework = f"fake_{behaviour.split(':', 1)[0]}"
    if behaviour == "empty":
        return
    chosen = selection or Selection()
    if behaviour in ("ok", "abort", "hang", "raise"):
        skip = chosen.skip
        results = [r for r in _ok(framework, devices, seed, on_progress) if chosen.admits(r.key)]
        if behaviour == "ok":
            yield from results
            return
        bad = (f"{framework}.logsumexp", "gradient", "float16", "cpu")
        if bad in skip:  # a restarted worker: the check that crashed is not run again
            yield from results
            return
        yield from results[:3]
        if on_progress:
            on_progress(ProgressEvent(framework, *bad, 7))
        if behaviour == "abort":
            os.abort()
        if behaviour == "hang":
            time.sleep(3600)
        raise RuntimeError("a bug in the check")
    if behaviour in ("fail", "known"):
        yield from (r for r in _ok(framework, devices, seed, on_progress) if chosen.admits(r.key))
        bad = _result(
            framework, f"{framework}.nll", "special_values", "float32", "cpu", random.Random(seed)
        )
        bad.status = "fail"
        bad.message = "nll_loss(-inf logit at target) gave nan, reference gives inf"
        bad.reproducer = "import fake\nprint(fake.nll([[-inf, 0.0]], [0]))"
        bad.reference_value = "inf"
        if behaviour == "known":
            bad.known_issue = "https://github.com/example/fake/issues/1"
        if chosen.admits(bad.key):
            yield bad
        return
    if behaviour.startswith("slow:"):
        marker = Path(behaviour.split(":", 1)[1])
        for i, result in enumerate(_ok(framework, devices, seed, on_progress)):
            yield result
            if i == 1:
                marker.write_text("two results sent")
            time.sleep(0.5)
        time.sleep(3600)
        return
    if behaviour == "hostile":
        rng = random.Random(seed)
        r = _result(framework, HOSTILE, "accuracy", "float32", "cpu", rng)
        r.status = "fail"
        r.message = f"message {HOSTILE}\n</script><script>window.__pwned=2</script>"
        r.reproducer = f"print({HOSTILE!r})\n```\n~~~\n</pre><b>bold</b>"
        r.reference_value = HOSTILE
        r.links = ["javascript:window.__pwned=3", f"https://example.org/{HOSTILE}"]
        r.extra["points"].append({"magnitude": 1.0, "classes": 5, "ulp": "inf"})
        yield r
        return
    raise ValueError(f"unknown behaviour {behaviour!r}")


def _abort_every(
    every: int,
    devices: Sequence[str],
    seed: int,
    on_progress: ProgressCallback | None,
    selection: Selection | None,
) -> Iterator[Result]:
    framework = "fake_abort_every"
    selection = selection or Selection()
    ran = 0
    for impl in (f"{framework}.softmax", f"{framework}.cross_entropy", f"{framework}.nll"):
        for check in ("accuracy", "gradient", "identity"):
            for dtype in ("float32", "float64"):
                for device in devices:
                    if not selection.admits((impl, check, dtype, device)):
                        continue
                    if on_progress:
                        on_progress(ProgressEvent(framework, impl, check, dtype, device, ran, 18))
                    ran += 1
                    if ran % every == 0:
                        os.abort()
                    rng = random.Random(f"{seed}|{impl}|{check}|{dtype}|{device}")
                    yield _result(framework, impl, check, dtype, device, rng)
