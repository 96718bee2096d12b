"""Host (CPU) memory probes: available memory and the peak resident set of one call.

asv's ``peakmem_`` benchmarks report the process's lifetime maximum resident set size, which
includes the framework import and the inputs built in setup.  :func:`peak_rss_increase`
isolates the call itself: on Linux, writing ``5`` to ``/proc/self/clear_refs`` resets the
high-water mark ``VmHWM`` of ``/proc/self/status`` to the current RSS
(https://docs.kernel.org/admin-guide/mm/soft-dirty.html,
https://man7.org/linux/man-pages/man5/proc_pid_status.5.html), so the peak reached during the
call minus the RSS before it is the memory the call needed beyond its inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_MEMINFO = Path("/proc/meminfo")


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise OSError(f"{field} not in {_STATUS}")
    return int(match.group(1))


def available_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes; None where it cannot be read."""
    try:
        text = _MEMINFO.read_text()
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def peak_reset_supported() -> bool:
    """True where the resident-set high-water mark can be reset (Linux >= 4.0)."""
    try:
        _CLEAR_REFS.write_text("5")
        _status_kib("VmHWM")
    except OSError:
        return False
    return True


def peak_rss_increase(fn: Callable[[], Any]) -> int:
    """Bytes by which the resident set's peak during ``fn()`` exceeds the RSS before it.

    Raises NotImplementedError (asv: skipped) where the high-water mark cannot be reset.
    """
    if not peak_reset_supported():
        raise NotImplementedError("resetting the peak RSS needs Linux /proc/self/clear_refs")
    before = _status_kib("VmRSS")
    _CLEAR_REFS.write_text("5")
    result = fn()
    peak = _status_kib("VmHWM")
    del result
    return max(0, peak - before) * 1024
