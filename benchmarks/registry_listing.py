"""The list of registry entries (name, framework, op), cached across asv's processes.

asv imports a benchmark module once to discover it and once more in every process that runs a
parameter combination, and ``params`` must be known at import.  Listing the registry means
importing every framework (seconds each), so the listing is cached in the temporary
directory under a key that changes whenever the answer could: the Python executable, every
installed distribution and its version, the ``verify`` package's source files, and the
framework selection.  A stale listing is therefore never used; a fresh one costs one import.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
from pathlib import Path


def _fingerprint(frameworks: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(sys.executable.encode())
    digest.update(",".join(frameworks).encode())
    dists = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions())
    digest.update("\n".join(dists).encode())
    import verify

    root = Path(verify.__file__).parent
    for source in sorted(root.rglob("*.py")):
        stat = source.stat()
        digest.update(f"{source.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def _list_uncached(frameworks: list[str]) -> list[tuple[str, str, str]]:
    from verify.registry import all_implementations

    rows: list[tuple[str, str, str]] = []
    for framework in frameworks:
        try:
            entries = all_implementations(framework)
        except ImportError as exc:  # keep the rest of the suite discoverable, but say why
            print(f"benchmarks: registry of {framework} not importable: {exc}", file=sys.stderr)
            continue
        rows.extend((e.name, e.framework, e.op) for e in entries)
    return rows


def registry_entries(frameworks: list[str]) -> list[tuple[str, str, str]]:
    """``(name, framework, op)`` of every registered entry of ``frameworks``."""
    cache = Path(tempfile.gettempdir()) / "xent-bench" / f"registry-{_fingerprint(frameworks)}.json"
    try:
        return [tuple(row) for row in json.loads(cache.read_text())]
    except (OSError, ValueError):
        pass
    rows = _list_uncached(frameworks)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows))
        tmp.replace(cache)  # atomic: concurrent processes never read half a file
    except OSError:
        pass  # an unwritable temp dir only costs speed
    return rows
