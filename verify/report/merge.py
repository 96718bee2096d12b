"""Combining reports from several machines or devices into one (``python -m verify merge``).

Environment: values every source agrees on are kept as they are; where sources differ, the
distinct values are joined with ``" | "`` (``seed`` becomes null), devices are united,
``started``/``finished`` span all runs, ``interrupted`` is true if any run was, and every
source's own environment is kept in ``environment["merge"]["sources"]``.

Results: one per key (implementation, check, dtype, device).  Duplicates that agree (same
fields, timings and baseline labels aside) collapse into one.  Conflicting duplicates are
resolved independently of the order of the inputs: the most severe status wins
(``verify.results.SEVERITY``), then the worse severity class (``verify.judge.severity``), ties
go to the larger ``max_ulp``, then to the canonical JSON
text (timings included, so even agreeing duplicates resolve the same way in any order).  Every
conflict is listed in ``environment["merge"]["conflicts"]`` and marked on the kept result
(``extra["merge_conflict"]``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from verify.judge import severity
from verify.report.json_report import jsonable
from verify.report.model import Report, sort_key
from verify.results import SEVERITY, Result

#: fields that may differ between duplicates without it being a conflict
_VOLATILE = ("duration_s", "baseline")
_VOLATILE_EXTRA = ("baseline_status", "baseline_max_ulp", "merge_conflict", "source")


def _comparable(result: Result) -> str:
    obj = result.to_json()
    for name in _VOLATILE:
        obj.pop(name, None)
    extra = dict(obj.get("extra", {}))
    for name in _VOLATILE_EXTRA:
        extra.pop(name, None)
    obj["extra"] = extra
    return json.dumps(jsonable(obj), sort_keys=True)


def _rank(result: Result) -> tuple[Any, ...]:
    ulp = result.max_ulp
    ulp_rank = -math.inf if ulp is None else (math.inf if math.isnan(ulp) else ulp)
    full = json.dumps(jsonable(result.to_json()), sort_keys=True)
    worse = severity.rank(result.severity)
    return (SEVERITY.get(result.status, 0), worse, ulp_rank, _comparable(result), full)


def _merge_values(values: list[Any]) -> Any:
    distinct: list[Any] = []
    for value in values:
        if value not in distinct:
            distinct.append(value)
    if len(distinct) == 1:
        return distinct[0]
    return " | ".join(sorted(str(v) for v in distinct))


def merge_environments(environments: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The environment of the merged report (see the module docstring)."""
    merged: dict[str, Any] = {}
    for name in ("python", "platform", "profile"):
        merged[name] = _merge_values([env.get(name, "") for env in environments])
    seeds = {env.get("seed") for env in environments}
    merged["seed"] = seeds.pop() if len(seeds) == 1 else None
    frameworks: dict[str, list[str]] = {}
    for env in environments:
        for dist, version in env.get("frameworks", {}).items():
            frameworks.setdefault(dist, []).append(version)
    merged["frameworks"] = {k: _merge_values(v) for k, v in sorted(frameworks.items())}
    merged["devices"] = sorted({d for env in environments for d in env.get("devices", [])})
    merged["started"] = min(env["started"] for env in environments)
    finished = [env["finished"] for env in environments if env.get("finished") is not None]
    merged["finished"] = max(finished) if len(finished) == len(environments) else None
    merged["interrupted"] = any(env.get("interrupted", False) for env in environments)
    return merged


def merge_reports(reports: Sequence[Report], names: Sequence[str]) -> Report:
    """Merge ``reports`` (read from the files ``names``) into one report."""
    if not reports:
        raise ValueError("nothing to merge")
    environment = merge_environments([r.environment for r in reports])
    by_key: dict[tuple[str, str, str, str], list[tuple[Result, str]]] = {}
    for report, name in zip(reports, names, strict=True):
        for result in report.results:
            by_key.setdefault(result.key, []).append((result, name))
    conflicts: list[dict[str, Any]] = []
    merged: list[Result] = []
    for key in sorted(by_key):
        candidates = by_key[key]
        best, _ = max(candidates, key=lambda item: _rank(item[0]))
        kept = dataclasses.replace(best, extra=dict(best.extra))  # never mutate the inputs
        versions = {_comparable(r) for r, _ in candidates}
        if len(versions) > 1:
            conflict = {
                "key": list(key),
                "kept": kept.status,
                "sources": sorted(
                    (
                        {"report": name, "status": r.status, "max_ulp": jsonable(r.max_ulp)}
                        for r, name in candidates
                    ),
                    key=lambda s: (s["report"], s["status"], str(s["max_ulp"])),
                ),
            }
            conflicts.append(conflict)
            kept.extra["merge_conflict"] = conflict["sources"]
        merged.append(kept)
    environment["merge"] = {
        "sources": [
            {"report": name, "environment": r.environment}
            for r, name in zip(reports, names, strict=True)
        ],
        "conflicts": conflicts,
    }
    return Report(environment, sorted(merged, key=sort_key))
