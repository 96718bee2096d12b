"""Comparing a run with an earlier report (``--baseline OLD.json``).

Each result is matched with the old one of the same key (implementation, check, dtype, device:
:attr:`verify.results.Result.key`) and labelled in ``Result.baseline``:

- ``new``: the key is not in the baseline;
- ``regressed``: it conformed before (pass, deviation or skip) and now fails or errors;
- ``fixed``: it failed or errored before and now conforms;
- ``unchanged``: otherwise (including a failure that is still there).

A regression makes the exit status 1 even when the failure is a registered known issue:
something that used to work broke.  Keys of the baseline that this run does not have are
listed in ``environment["baseline"]["missing"]``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from verify.results import Result

BAD = frozenset({"fail", "error"})
LABELS: tuple[str, ...] = ("new", "fixed", "regressed", "unchanged")


def label(old: Result | None, new: Result) -> str:
    """The baseline label of ``new`` given the baseline's result ``old`` for the same key."""
    if old is None:
        return "new"
    was_bad, is_bad = old.status in BAD, new.status in BAD
    if is_bad and not was_bad:
        return "regressed"
    if was_bad and not is_bad:
        return "fixed"
    return "unchanged"


def apply_baseline(
    results: Sequence[Result], baseline: Sequence[Result], *, path: str
) -> dict[str, Any]:
    """Label every result in place; return the ``environment["baseline"]`` summary."""
    old_by_key: dict[tuple[str, str, str, str], Result] = {}
    for earlier in baseline:
        old_by_key.setdefault(earlier.key, earlier)
    seen = set()
    counts: Counter[str] = Counter()
    for result in results:
        old = old_by_key.get(result.key)
        result.baseline = label(old, result)
        if old is not None:
            result.extra["baseline_status"] = old.status
            if old.max_ulp is not None:
                result.extra["baseline_max_ulp"] = old.max_ulp
            if old.severity:
                result.extra["baseline_severity"] = old.severity
        counts[result.baseline] += 1
        seen.add(result.key)
    missing = sorted(key for key in old_by_key if key not in seen)
    return {
        "path": path,
        "counts": {name: counts.get(name, 0) for name in LABELS},
        "missing": [list(key) for key in missing],
    }
