"""The in-memory report: the run's environment and its results (``docs/contract.md`` section 4)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib.metadata
import platform
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from verify.ops import DTYPES as DTYPE_ORDER
from verify.registry.frameworks import FRAMEWORK_DISTRIBUTIONS
from verify.results import CHECKS, SCHEMA, Result

#: Always recorded: the array libraries every run depends on.
BASE_DISTRIBUTIONS: tuple[str, ...] = ("numpy", "ml_dtypes", "hypothesis")


def utc_now() -> str:
    """The current time as an ISO 8601 UTC timestamp with second precision."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def distribution_versions(frameworks: Iterable[str]) -> dict[str, str]:
    """Installed versions of the distributions behind ``frameworks`` (plus the base ones),
    read from package metadata without importing anything."""
    names: list[str] = list(BASE_DISTRIBUTIONS)
    for framework in frameworks:
        names.extend(FRAMEWORK_DISTRIBUTIONS.get(framework, (framework,)))
    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return dict(sorted(versions.items()))


def base_environment(*, frameworks: Iterable[str], profile: str, seed: int) -> dict[str, Any]:
    """The environment block of a run that starts now (``devices`` and ``finished`` are filled
    in by the runner when it is over)."""
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "machine": platform.machine(),
        "frameworks": distribution_versions(frameworks),
        "devices": [],
        "profile": profile,
        "seed": seed,
        "started": utc_now(),
        "finished": None,
        "interrupted": False,
        "argv": list(sys.argv[1:]),
    }


def sort_key(result: Result) -> tuple[Any, ...]:
    """Canonical order of results in every report: by framework, implementation, check (in the
    contract's order), dtype (narrow to wide), then device."""
    check_rank = CHECKS.index(result.check) if result.check in CHECKS else len(CHECKS)
    dtype_rank = (
        DTYPE_ORDER.index(result.dtype) if result.dtype in DTYPE_ORDER else len(DTYPE_ORDER)
    )
    return (
        result.framework,
        result.implementation,
        check_rank,
        dtype_rank,
        result.dtype,
        result.device,
        result.op,
    )


@dataclasses.dataclass
class Report:
    """A conformance report: ``environment`` (a JSON object) and ``results``."""

    environment: dict[str, Any]
    results: list[Result]

    def sorted(self) -> Report:
        """A copy with the results in canonical order."""
        return Report(dict(self.environment), sorted(self.results, key=sort_key))

    @property
    def nonconforming(self) -> list[Result]:
        """Results that make the exit status 1 (unregistered ``fail``/``error``, and baseline
        regressions)."""
        return [r for r in self.results if r.nonconforming or r.baseline == "regressed"]

    def to_json(self) -> dict[str, Any]:
        """The JSON document of ``docs/contract.md`` section 4."""
        return {
            "schema": SCHEMA,
            "environment": self.environment,
            "results": [_plain(r).to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Report:
        """Inverse of :meth:`to_json` (validate with :func:`verify.report.json_report.validate`
        first)."""
        return cls(dict(obj["environment"]), [Result.from_json(r) for r in obj["results"]])


def _plain(result: Result) -> Result:
    """``result`` with NumPy scalars in its numeric fields turned into Python numbers (so that
    ``Result.to_json`` spells non-finite values ``'inf'``/``'nan'``, not ``'np.float64(inf)'``)."""
    changes: dict[str, Any] = {}
    for name in ("max_ulp", "max_bound_ratio", "duration_s"):
        value = getattr(result, name)
        if value is not None and type(value) is not float:
            changes[name] = float(value)
    if type(result.examples) is not int:
        changes["examples"] = int(result.examples)
    return dataclasses.replace(result, **changes) if changes else result


def status_counts(results: Sequence[Result]) -> dict[str, int]:
    """Number of results per status, in the contract's status order."""
    counts = {s: 0 for s in ("pass", "deviation", "fail", "error", "skip")}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts
