"""Live progress of a run on stderr.

On a terminal: one line per framework worker, redrawn in place (ANSI "cursor up" and "erase
line", ECMA-48 CSI sequences CUU and EL: https://ecma-international.org/publications-and-standards/standards/ecma-48/),
showing the implementation and check being run, how far the worker has got (``done/total`` of
the session's progress events), the counts of results so far and the elapsed time.  Anywhere
else (CI logs, files): plain lines, one per finished result, one per worker start and end, and a
heartbeat line for a check that runs long, so that a log shows progress without control
characters.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from verify.report.text import format_number
from verify.results import Result
from verify.session import ProgressEvent

#: plain mode: seconds between heartbeat lines of one long-running check
HEARTBEAT_S = 30.0
#: terminal mode: minimum seconds between redraws
REDRAW_S = 0.1


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


@dataclasses.dataclass
class _Worker:
    label: str
    started: float
    event: ProgressEvent | None = None
    counts: Counter[str] = dataclasses.field(default_factory=Counter)
    finished: float | None = None
    note: str = ""
    last_heartbeat: float = 0.0


class ProgressDisplay:
    """Receives the runner's notifications and shows them on ``stream``."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if live is None:
            isatty = getattr(self.stream, "isatty", None)
            live = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self.live = live
        self.clock = clock
        self.t0 = clock()
        self.workers: dict[str, _Worker] = {}
        self._drawn = 0
        self._last_draw = 0.0

    # -- notifications from the runner ------------------------------------------------------
    def job_started(self, label: str) -> None:
        self.workers[label] = _Worker(label, self.clock())
        if not self.live:
            self._line(f"{label}: started")
        self._redraw(force=True)

    def event(self, label: str, event: ProgressEvent) -> None:
        worker = self.workers.setdefault(label, _Worker(label, self.clock()))
        previous = worker.event
        worker.event = event
        if not self.live:
            now = self.clock()
            same = previous is not None and _same_check(previous, event)
            if not same:
                worker.last_heartbeat = now
            elif now - worker.last_heartbeat >= HEARTBEAT_S:
                worker.last_heartbeat = now
                self._line(
                    f"{label}: still running {event.implementation} {event.check} "
                    f"{event.dtype} {event.device} [{_fraction(event)}]"
                )
        self._redraw()

    def result(self, label: str, result: Result) -> None:
        worker = self.workers.setdefault(label, _Worker(label, self.clock()))
        worker.counts[result.status] += 1
        if not self.live:
            detail = f"{result.examples} examples"
            if result.max_ulp is not None:
                detail += f", max {format_number(result.max_ulp)} ULP"
            self._line(
                f"{label}: {result.implementation} {result.check} {result.dtype} "
                f"{result.device} -> {result.status} ({detail})"
            )
        self._redraw()

    def job_finished(self, label: str, note: str = "") -> None:
        worker = self.workers.setdefault(label, _Worker(label, self.clock()))
        worker.finished = self.clock()
        worker.note = note
        if not self.live:
            self._line(f"{label}: {note or 'done'} ({self._counts(worker)})")
        self._redraw(force=True)

    def message(self, text: str) -> None:
        """A line that stays (warnings, interruption)."""
        self._clear()
        self._line(text)
        self._redraw(force=True)

    def close(self) -> None:
        """Leave the final state on screen."""
        self._redraw(force=True)
        self.stream.flush()

    # -- drawing ----------------------------------------------------------------------------
    def _counts(self, worker: _Worker) -> str:
        order = ("pass", "deviation", "fail", "error", "skip")
        parts = [f"{worker.counts[s]} {s}" for s in order if worker.counts[s]]
        return ", ".join(parts) or "no results"

    def _status_line(self, worker: _Worker) -> str:
        end = worker.finished if worker.finished is not None else self.clock()
        elapsed = _clock(end - worker.started)
        if worker.finished is not None:
            doing = worker.note or "done"
        elif worker.event is None:
            doing = "starting"
        else:
            e = worker.event
            doing = f"{e.implementation} {e.check} {e.dtype} {e.device} [{_fraction(e)}]"
        return f"{worker.label:<11} {elapsed:>6}  {doing}  [{self._counts(worker)}]"

    def _line(self, text: str) -> None:
        stamp = _clock(self.clock() - self.t0)
        self.stream.write(f"[{stamp}] {text}\n")
        self.stream.flush()

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self, force: bool = False) -> None:
        if not self.live:
            return
        now = self.clock()
        if not force and now - self._last_draw < REDRAW_S:
            return
        self._last_draw = now
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        lines = [self._status_line(w)[:width] for w in self.workers.values()]
        out = f"\x1b[{self._drawn}F" if self._drawn else ""
        out += "".join(f"\x1b[2K{line}\n" for line in lines)
        self.stream.write(out)
        self.stream.flush()
        self._drawn = len(lines)


def _fraction(event: ProgressEvent) -> str:
    """``done/total`` of an event (the session decides the unit: checks or examples)."""
    return f"{event.done}/{event.total}" if event.total else str(event.done)


def _same_check(a: ProgressEvent, b: ProgressEvent) -> bool:
    return (a.implementation, a.check, a.dtype, a.device) == (
        b.implementation,
        b.check,
        b.dtype,
        b.device,
    )
