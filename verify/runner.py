"""Running sessions in worker processes: one or more processes per framework (or user callable).

Why processes: a framework that crashes the interpreter (``abort()`` in native code, a
segmentation fault, an out-of-memory kill) or hangs must not take the other frameworks' results
with it, and CUDA cannot be used in a process forked from one that initialised it, so workers
are started with the ``spawn`` method
(https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods,
https://pytorch.org/docs/stable/notes/multiprocessing.html#cuda-in-multiprocessing).

Each worker calls a *session function* (``verify.session.run_framework`` or
``run_user_implementation``, or any picklable callable with the same keyword arguments) and
sends every :class:`~verify.session.ProgressEvent` and :class:`~verify.results.Result` over its
own pipe.  Jobs with the same ``share`` label run one plan together: they get one shared
counter (:class:`~verify.session.Claims`) from which each claims the next group of checks, so a
slow framework keeps every core busy until its last group.  The parent waits on all pipes and
process sentinels at once (:func:`multiprocessing.connection.wait`) and

- turns a worker that dies before saying it is done into an ``error`` result for the check it
  was running (exit code or signal, and the tail of its output, in the message), then starts a
  replacement worker that resumes with the next check (the checks already reported and the one
  that crashed are skipped), so a crash costs one check, not the rest of the framework;
- kills a worker whose current check has run longer than ``check_timeout`` seconds, records an
  ``error`` result for that check and resumes the same way;
- on SIGINT or SIGTERM stops all workers (a second signal kills them at once instead of
  terminating them), keeps every result that had arrived and marks the run interrupted.

Workers write their own stdout/stderr (framework warnings, native crash messages) into one log
file each, so the progress display stays readable and a crash report can quote them.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import signal
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from verify.progress import ProgressDisplay
from verify.results import Result
from verify.session import Claims, ProgressEvent, SearchKey, Selection, SessionRun

#: A session function: ``session(*job.args, run)`` with a :class:`~verify.session.SessionRun`
#: yields results.  It must be picklable (a module-level function or a functools.partial).
SessionFunction = Callable[..., Iterable[Result]]

DEFAULT_CHECK_TIMEOUT_S = 900.0
#: seconds a terminated worker gets to exit before it is killed
_GRACE_S = 3.0
_POLL_S = 0.25
_LOG_TAIL_LINES = 15
#: replacement workers started for one job after crashes or timeouts, at most
MAX_RESTARTS = 25


@dataclasses.dataclass(frozen=True)
class Job:
    """One worker process's work: ``session(*args, ...)`` for ``framework``."""

    label: str
    framework: str
    session: SessionFunction
    args: tuple[Any, ...] = ()
    #: implementation name -> op, for naming the op of an error result (filled in by the worker
    #: from the registry when the framework has one)
    ops: tuple[tuple[str, str], ...] = ()
    #: which searches to run (None: all)
    selection: Selection | None = None
    #: jobs with the same non-empty ``share`` split one plan between them (see the module doc)
    share: str = ""


@dataclasses.dataclass
class RunOutcome:
    """What a run produced."""

    results: list[Result]
    #: devices the workers found present (among those asked for), sorted
    devices: list[str]
    interrupted: bool
    #: one line per worker that crashed, hung or raised
    incidents: list[str]
    #: worker log files by job label
    logs: dict[str, Path]
    #: seconds each worker ran, by job label (a replaced worker's time included), and the
    #: wall time of the whole run
    worker_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    wall_s: float = 0.0


# ---------------------------------------------------------------------------------------------
# worker side


def _registry_ops(framework: str) -> dict[str, str]:
    """Implementation name -> op for a registered framework (best effort, in the worker)."""
    try:
        from verify.registry import FRAMEWORK_MODULES, all_implementations

        if framework not in FRAMEWORK_MODULES:
            return {}
        return {entry.name: entry.op for entry in all_implementations(framework)}
    except Exception:
        return {}


def _present(framework: str, requested: Sequence[str]) -> list[str]:
    try:
        from verify.registry.devices import present_devices

        here = present_devices(framework)
    except Exception:
        here = ("cpu",)
    return [d for d in requested if d in here]


#: where compiled programs are kept between processes and runs, relative to the working
#: directory like Hypothesis' ``.hypothesis/``: XLA's (JAX's persistent compilation cache,
#: https://docs.jax.dev/en/latest/persistent_compilation_cache.html; the environment variable
#: ``JAX_COMPILATION_CACHE_DIR`` overrides it) and inductor's (torch.compile's FX graph and
#: C++ kernel caches, https://docs.pytorch.org/tutorials/recipes/torch_compile_caching_tutorial.html;
#: ``TORCHINDUCTOR_CACHE_DIR`` overrides it).  A CI job that keeps ``.cache/`` between runs
#: (docs/ci.md) loads what an earlier run compiled instead of compiling it again.
COMPILATION_CACHE_DIR = Path(".cache")
JAX_CACHE_DIR = COMPILATION_CACHE_DIR / "jax"
INDUCTOR_CACHE_DIR = COMPILATION_CACHE_DIR / "torchinductor"


def _use_compilation_caches() -> None:
    """Let the workers of a run (and later runs) share what XLA and inductor compiled: the
    workers that split a framework's plan compile each (program, shape, dtype) once between
    them, and a rerun loads it from disk.  Every XLA program is cached, however fast it
    compiled (the defaults keep only those over one second: eager op-by-op dispatch compiles
    thousands of small ones).  Set before the frameworks are imported, which read their
    configuration from the environment then."""
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(JAX_CACHE_DIR.absolute()))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(INDUCTOR_CACHE_DIR.absolute()))


def _redirect_output(log_path: str | None) -> None:
    if log_path is None:
        return
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def worker_main(
    conn: multiprocessing.connection.Connection,
    job: Job,
    devices: Sequence[str],
    profile: str,
    seed: int,
    log_path: str | None,
    claims: Claims | None = None,
    first_groups: tuple[int, ...] = (),
) -> None:
    """Entry point of a worker process (runs in the child)."""
    # Ctrl-C reaches the whole process group; the parent decides how workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _redirect_output(log_path)
    _use_compilation_caches()
    try:
        present = _present(job.framework, devices)
        conn.send(("devices", present))
        if not job.ops:
            ops = _registry_ops(job.framework)
            if ops:
                conn.send(("ops", ops))
        if present:

            def on_progress(event: ProgressEvent) -> None:
                conn.send(("progress", event))

            def on_group(index: int) -> None:
                conn.send(("group", index))

            run = SessionRun(
                devices=present,
                profile=profile,
                seed=seed,
                on_progress=on_progress,
                selection=job.selection,
                claims=claims,
                first_groups=first_groups,
                on_group=on_group,
            )
            results = job.session(*job.args, run)
            for result in results:
                conn.send(("result", result))
        conn.send(("done", None))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            conn.send(("raised", "".join(traceback.format_exception(exc)).rstrip()))
        raise
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# parent side


@dataclasses.dataclass
class _Active:
    job: Job
    process: Any  # multiprocessing.context.SpawnProcess
    conn: multiprocessing.connection.Connection
    log_path: Path
    started: float
    check_started: float
    event: ProgressEvent | None = None
    finished_keys: set[SearchKey] = dataclasses.field(default_factory=set)
    ops: dict[str, str] = dataclasses.field(default_factory=dict)
    #: the group of the plan being run (see verify.session.groups), and restarts so far
    group: int | None = None
    restarts: int = 0
    devices: list[str] = dataclasses.field(default_factory=list)
    done: bool = False
    raised: str | None = None
    eof: bool = False


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Runner:
    """Runs jobs in worker processes and collects their results.

    ``progress`` receives ``job_started``/``event``/``result``/``job_finished``/``message``
    calls (a :class:`~verify.progress.ProgressDisplay`); ``parallel`` is how many workers run
    at once; ``log_dir`` is where worker logs go (a temporary directory when None).
    """

    def __init__(
        self,
        *,
        devices: Sequence[str],
        profile: str,
        seed: int,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT_S,
        parallel: int = 1,
        progress: ProgressDisplay | None = None,
        log_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        if check_timeout <= 0:
            raise ValueError("check_timeout must be positive")
        self.devices = tuple(devices)
        self.profile = profile
        self.seed = seed
        self.check_timeout = float(check_timeout)
        self.parallel = parallel
        self.progress = progress
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self._stop_requested = threading.Event()
        self._kill_requested = threading.Event()
        self._context = multiprocessing.get_context("spawn")
        self._claims: dict[str, Any] = {}
        #: shares whose every group has been claimed
        self._exhausted: set[str] = set()

    def request_stop(self) -> None:
        """Ask the run to stop (what SIGINT/SIGTERM do); safe from a signal handler.  A second
        request makes the workers be killed rather than terminated."""
        if self._stop_requested.is_set():
            self._kill_requested.set()
        self._stop_requested.set()

    # -- public -----------------------------------------------------------------------------
    def run(self, jobs: Sequence[Job]) -> RunOutcome:
        """Run ``jobs``; return when all are finished or the run was stopped."""
        labels = [job.label for job in jobs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"job labels must be unique: {labels}")
        with contextlib.ExitStack() as stack:
            if self.log_dir is None:
                log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verify-")))
            else:
                log_dir = self.log_dir
                log_dir.mkdir(parents=True, exist_ok=True)
            stack.enter_context(self._signals())
            return self._run(list(jobs), log_dir)

    # -- internals --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _signals(self):  # type: ignore[no-untyped-def]
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {}

        def handler(signum: int, frame: object) -> None:
            # never raises: every signal only asks (more firmly) for the run to stop, so the
            # results that arrived are always reported
            self.request_stop()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, handler)
        try:
            yield
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)

    def _notify(self, method: str, *args: Any) -> None:
        if self.progress is not None:
            getattr(self.progress, method)(*args)

    def _start(
        self, job: Job, log_dir: Path, *, first_groups: tuple[int, ...] = (), restarts: int = 0
    ) -> _Active:
        stem = "".join(c if c.isalnum() else "_" for c in job.label)
        log_path = log_dir / (f"{stem}.log" if not restarts else f"{stem}.restart{restarts}.log")
        log_path.write_bytes(b"")
        claims = None
        if job.share:
            if job.share not in self._claims:
                self._claims[job.share] = self._context.Value("q", 0)
            claims = self._claims[job.share]
        parent_conn, child_conn = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=worker_main,
            args=(
                child_conn,
                job,
                self.devices,
                self.profile,
                self.seed,
                str(log_path),
                claims,
                first_groups,
            ),
            name=f"verify-{job.label}",
        )
        process.start()
        child_conn.close()  # so that the parent sees EOF when the worker is gone
        now = time.monotonic()
        if not restarts:
            self._notify("job_started", job.label)
        return _Active(
            job, process, parent_conn, log_path, now, now, ops=dict(job.ops), restarts=restarts
        )

    def _restart(self, state: _Active, log_dir: Path) -> _Active | None:
        """A replacement for a worker that crashed or timed out in a check: it skips what was
        reported and the check that crashed, and resumes the group it was in.  None when the
        worker had not started a check (a broken import would only crash again), when the
        restarts are used up or when the run is stopping."""
        event = state.event
        if event is None or state.restarts >= MAX_RESTARTS or self._stop_requested.is_set():
            return None
        previous = state.job.selection or Selection()
        skip = previous.skip | frozenset(state.finished_keys) | {_check_key(event)}
        job = dataclasses.replace(state.job, selection=dataclasses.replace(previous, skip=skip))
        first = (state.group,) if state.group is not None else ()
        self._notify(
            "message",
            f"{job.label}: starting a new worker to go on after "
            f"{event.implementation} {event.check} {event.dtype} {event.device}",
        )
        replacement = self._start(job, log_dir, first_groups=first, restarts=state.restarts + 1)
        replacement.ops.update(state.ops)
        replacement.devices = list(state.devices)
        return replacement

    def _run(self, jobs: list[Job], log_dir: Path) -> RunOutcome:
        pending = collections.deque(jobs)
        active: list[_Active] = []
        results: list[Result] = []
        incidents: list[str] = []
        devices: set[str] = set()
        logs: dict[str, Path] = {}
        interrupted = False
        run_started = time.monotonic()
        self._worker_seconds: dict[str, float] = {}
        try:
            while pending or active:
                if self._stop_requested.is_set():
                    interrupted = True
                    break
                while pending and len(active) < self.parallel:
                    job = pending.popleft()
                    if job.share and job.share in self._exhausted:
                        continue  # the other workers of its plan have claimed all of it
                    state = self._start(job, log_dir)
                    logs[state.job.label] = state.log_path
                    active.append(state)
                waitables = [s.conn for s in active if not s.eof]
                waitables += [s.process.sentinel for s in active]
                multiprocessing.connection.wait(waitables, timeout=_POLL_S)
                for state in list(active):
                    results.extend(self._drain(state))
                    finished = self._finish_if_over(state)
                    if finished is None:
                        continue
                    results.extend(finished[0])
                    devices.update(state.devices)
                    active.remove(state)
                    self._count_time(state)
                    if finished[1]:
                        incidents.append(finished[1])
                        replacement = self._restart(state, log_dir)
                        if replacement is not None:
                            logs[f"{state.job.label} (restart {replacement.restarts})"] = (
                                replacement.log_path
                            )
                            active.append(replacement)
        finally:
            if active:
                interrupted = interrupted or self._stop_requested.is_set()
                for state in active:
                    self._stop(state, kill=self._kill_requested.is_set())
                    self._count_time(state)
                    results.extend(self._drain(state))
                    devices.update(state.devices)
                    self._notify("job_finished", state.job.label, "stopped (interrupted)")
        if interrupted:
            self._notify("message", "interrupted: workers stopped; reporting what finished")
        return RunOutcome(
            results,
            sorted(devices),
            interrupted,
            incidents,
            logs,
            {label: round(seconds, 1) for label, seconds in self._worker_seconds.items()},
            round(time.monotonic() - run_started, 1),
        )

    def _count_time(self, state: _Active) -> None:
        label = state.job.label
        spent = time.monotonic() - state.started
        self._worker_seconds[label] = self._worker_seconds.get(label, 0.0) + spent

    def _drain(self, state: _Active) -> list[Result]:
        """Receive everything the worker has sent so far."""
        out: list[Result] = []
        while not state.eof:
            try:
                if not state.conn.poll():
                    break
                kind, payload = state.conn.recv()
            except (EOFError, OSError):
                state.eof = True
                break
            except Exception:  # a message cut short by a dying worker
                state.eof = True
                break
            if kind == "progress":
                previous = state.event
                state.event = payload
                if previous is None or _check_key(previous) != _check_key(payload):
                    state.check_started = time.monotonic()
                self._notify("event", state.job.label, payload)
            elif kind == "result":
                result: Result = payload
                state.finished_keys.add(result.key)
                state.ops.setdefault(result.implementation, result.op)
                state.check_started = time.monotonic()
                out.append(result)
                self._notify("result", state.job.label, result)
            elif kind == "devices":
                state.devices = list(payload)
            elif kind == "ops":
                state.ops.update(payload)
            elif kind == "group":
                if payload < 0:
                    self._exhausted.add(state.job.share)
                else:
                    state.group = int(payload)
            elif kind == "done":
                state.done = True
            elif kind == "raised":
                state.raised = payload
        return out

    def _finish_if_over(self, state: _Active) -> tuple[list[Result], str] | None:
        """If the worker is over (done, dead, or past its timeout), reap it and return the
        error results and incident line it leaves; None while it is still working."""
        label = state.job.label
        timed_out = (
            not state.done
            and state.process.is_alive()
            and time.monotonic() - state.check_started > self.check_timeout
        )
        if timed_out:
            self._stop(state, kill=True)
            self._drain(state)
            what = f"timed out after {self.check_timeout:g} s"
        elif state.process.is_alive() and not (state.done and state.eof):
            return None
        else:
            # dead (or done): collect the last messages before judging
            if not state.eof:
                self._drain(state)
                if not state.eof and state.process.is_alive():
                    return None
            state.process.join(timeout=_GRACE_S)
            if state.process.is_alive():
                self._stop(state)
            if state.done and state.raised is None:
                state.conn.close()
                note = "done" if state.devices else "skipped: none of the devices asked for"
                self._notify("job_finished", label, note)
                return [], ""
            if state.raised is not None:
                last = state.raised.splitlines()[-1] if state.raised else "an exception"
                what = f"raised {last}"
            else:
                what = f"crashed ({_signal_name(state.process.exitcode)})"
        state.conn.close()
        error = self._error_result(state, what)
        self._notify("result", label, error)
        self._notify("job_finished", label, what)
        return [error], f"{label}: worker {what}"

    def _error_result(self, state: _Active, what: str) -> Result:
        job = state.job
        event = state.event
        running = event is not None and _check_key(event) not in state.finished_keys
        log_tail = _tail(state.log_path)
        if running and event is not None:
            where = (
                f"while running {event.implementation} {event.check} {event.dtype} "
                f"{event.device} (progress {event.done}/{event.total or '?'})"
            )
            result = Result(
                implementation=event.implementation,
                framework=event.framework or job.framework,
                op=state.ops.get(event.implementation, ""),
                check=event.check,
                dtype=event.dtype,
                device=event.device,
                status="error",
            )
        else:
            where = (
                "between checks"
                if state.finished_keys
                else "before its first check (while starting or importing)"
            )
            result = Result(
                implementation=f"{job.label} (worker)",
                framework=job.framework,
                op="",
                check="accuracy",
                dtype="*",
                device="*",
                status="error",
            )
        rest = (
            "a new worker goes on with the next check"
            if running and state.restarts < MAX_RESTARTS and not self._stop_requested.is_set()
            else "its remaining checks did not run"
        )
        lines = [f"The {job.label} worker process {what} {where}; {rest}."]
        if state.raised:
            lines += ["", state.raised]
        elif log_tail:
            lines += ["", "Last lines of the worker's output:", log_tail]
        result.message = "\n".join(lines)
        result.extra["worker_log"] = state.log_path.name
        return result

    def _stop(self, state: _Active, kill: bool = False) -> None:
        process = state.process
        if process.is_alive():
            if kill:
                process.kill()
            else:
                process.terminate()
            process.join(timeout=_GRACE_S)
            if process.is_alive():
                process.kill()
                process.join(timeout=_GRACE_S)


def _check_key(event: ProgressEvent) -> tuple[str, str, str, str]:
    return (event.implementation, event.check, event.dtype, event.device)
