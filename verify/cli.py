"""The command line: ``python -m verify`` (``docs/contract.md`` section 3).

::

    python -m verify [--framework NAME ...] [--profile quick|default|thorough]
                     [--device cpu|cuda ...] [--output DIR] [--baseline OLD.json] [--seed N]
                     [--check-timeout SECONDS] [--jobs N]
                     [--implementation NAME|GLOB ...] [--check NAME ...] [--dtype NAME ...]
                     [--shard K/N]
    python -m verify --impl MODULE:FUNCTION --like QUALIFIED_NAME [--check ...] [--dtype ...]
                     [--profile ...] [--output DIR]
    python -m verify merge REPORT.json ... [--output DIR] [--baseline OLD.json]

Exit status: 0 everything conforms (registered deviations and known upstream issues
included); 1 a non-conformance that is not registered, or a regression against ``--baseline``;
2 a usage error, with a one-line message saying what to fix; 130 the run was interrupted
(SIGINT/SIGTERM; the reports of what finished are still written).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import difflib
import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from verify.errors import UsageError
from verify.ops import DEVICES
from verify.ops import PROFILE_NAMES as PROFILES
from verify.progress import ProgressDisplay
from verify.registry.frameworks import BY_KEY, start_order
from verify.report import json_report, merge, summary, write_all
from verify.report.baseline import apply_baseline
from verify.report.model import Report, base_environment, utc_now
from verify.results import CHECKS
from verify.runner import DEFAULT_CHECK_TIMEOUT_S, Job, Runner, RunOutcome
from verify.session import DTYPE_ORDER, Selection, matches

DEFAULT_OUTPUT = "reports"
DEFAULT_SEED = 0
EXIT_OK, EXIT_NONCONFORMING, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
PROG = "python -m verify"
#: the check categories of the report (contract section 4), the choices of ``--check``
CHECK_NAMES: tuple[str, ...] = tuple(CHECKS)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2 (raised as UsageError)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m verify`` (the run form)."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Verify softmax/cross-entropy implementations against a correctly rounded "
            "reference. Subcommand: 'merge REPORT.json ... --output DIR' combines reports."
        ),
        epilog="Exit status: 0 conforms, 1 unregistered non-conformance or regression, "
        "2 usage error, 130 interrupted.",
    )
    parser.add_argument(
        "--framework",
        action="append",
        metavar="NAME",
        help=f"framework to verify: {', '.join(BY_KEY)} (repeatable; default: every installed one)",
    )
    parser.add_argument("--profile", choices=PROFILES, default="default")
    parser.add_argument(
        "--device",
        action="append",
        choices=DEVICES,
        help="device to run on (repeatable; default: every available one)",
    )
    parser.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR")
    parser.add_argument("--baseline", metavar="OLD.json", help="earlier conformance.json to diff")
    parser.add_argument("--seed", type=_non_negative_int, default=DEFAULT_SEED, metavar="N")
    parser.add_argument("--impl", metavar="MODULE:FUNCTION", help="a callable to verify")
    parser.add_argument(
        "--like", metavar="QUALIFIED_NAME", help="registered implementation --impl replaces"
    )
    parser.add_argument(
        "--check-timeout",
        type=_positive_float,
        default=DEFAULT_CHECK_TIMEOUT_S,
        metavar="SECONDS",
        help=f"a check running longer is stopped and reported as an error "
        f"(default {DEFAULT_CHECK_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=DEFAULT_JOBS,
        metavar="N",
        help="worker processes at the same time; the checks of a slow framework are shared "
        f"between them (default: the number of CPUs, at most 4; here {DEFAULT_JOBS})",
    )
    parser.add_argument(
        "--implementation",
        action="append",
        metavar="NAME",
        help="registered implementation to verify, a name or a glob pattern such as "
        "'torch.nn.functional.*' or '*[compiled]' (* and ? are wildcards, brackets are "
        "literal; repeatable; default: all)",
    )
    parser.add_argument(
        "--check",
        action="append",
        choices=CHECK_NAMES,
        help="check to run (repeatable; default: all)",
    )
    parser.add_argument(
        "--dtype",
        action="append",
        choices=DTYPE_ORDER,
        help="dtype to verify (repeatable; default: every dtype an implementation supports)",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="run only the K-th of N deterministic shares of the searches (for a CI matrix; "
        "join the shards' reports with 'merge')",
    )
    return parser


def _default_jobs() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


DEFAULT_JOBS = _default_jobs()


def build_merge_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m verify merge``."""
    parser = _Parser(
        prog=f"{PROG} merge",
        description="Combine conformance.json reports from several machines or devices.",
    )
    parser.add_argument("reports", nargs="+", metavar="REPORT.json")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR")
    parser.add_argument(
        "--baseline", metavar="OLD.json", help="earlier conformance.json to diff the merge with"
    )
    return parser


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative; give 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("give 1 or more")
    return value


def _shard(text: str) -> tuple[int, int]:
    k_text, slash, n_text = text.partition("/")
    try:
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, such as 1/4") from None
    if not slash or n < 1 or not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"{text!r}: give K/N with 1 <= K <= N, such as 1/4")
    return k, n


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


@dataclasses.dataclass
class RunPlan:
    """A validated run: what to verify, where, and where the reports go."""

    jobs: list[Job]
    devices: tuple[str, ...]
    explicit_devices: bool
    profile: str
    seed: int
    output: Path
    baseline: Path | None = None
    check_timeout: float = DEFAULT_CHECK_TIMEOUT_S
    parallel: int = 1
    selection: Selection | None = None


def _chosen_frameworks(names: Sequence[str] | None) -> list[str]:
    from verify.registry import installed_frameworks

    installed = installed_frameworks()
    if names:
        chosen: list[str] = []
        for name in names:
            if name not in BY_KEY:
                raise UsageError(f"unknown framework {name!r}; choose from {', '.join(BY_KEY)}")
            if name not in installed:
                extra = BY_KEY[name].install
                raise UsageError(
                    f"framework {name!r} is not installed; install it (pip install '{extra}') "
                    f"or choose from the installed ones: {', '.join(installed) or 'none'}"
                )
            if name not in chosen:
                chosen.append(name)
    else:
        chosen = list(installed)
        if not chosen:
            raise UsageError("no framework is installed; pip install 'xent-conformance[all]'")
    return chosen


def _frameworks_with(chosen: list[str], patterns: Sequence[str]) -> list[str]:
    """The frameworks among ``chosen`` holding an entry that a pattern selects; UsageError
    naming the close matches for a pattern that selects nothing.  Only the registries a
    pattern can point to are imported (``torch.*`` imports PyTorch's alone)."""
    from verify.registry import NAME_PREFIXES, entry_names

    def candidates(pattern: str) -> list[str]:
        first = NAME_PREFIXES.get(pattern.split(".", 1)[0])
        return [first] if first in chosen else list(chosen)

    names: dict[str, list[str]] = {}
    used: set[str] = set()
    for pattern in patterns:
        found = False
        for fw in candidates(pattern):
            if fw not in names:
                names[fw] = list(entry_names(fw))  # never loads a second Keras backend
            if any(matches(name, [pattern]) for name in names[fw]):
                used.add(fw)
                found = True
        if not found:
            known = sorted({n for fw in candidates(pattern) for n in names[fw]})
            close = difflib.get_close_matches(pattern, known, n=5, cutoff=0.5)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            where = ", ".join(candidates(pattern))
            raise UsageError(f"--implementation {pattern!r} matches nothing in {where}{hint}")
    return [fw for fw in chosen if fw in used]


def _framework_jobs(names: Sequence[str] | None, selection: Selection, parallel: int) -> list[Job]:
    """One job per framework and worker slot: the jobs of a framework share its plan (the
    first one starts it, the others join when a slot frees up; see ``verify.runner``)."""
    from verify.session import run_framework

    chosen = _chosen_frameworks(names)
    if selection.implementations:
        chosen = _frameworks_with(chosen, selection.implementations)
    chosen = start_order(chosen)
    return [
        Job(
            label=fw if part == 1 else f"{fw}/{part}",
            framework=fw,
            session=run_framework,
            args=(fw,),
            selection=selection,
            share=fw,
        )
        for part in range(1, parallel + 1)
        for fw in chosen
    ]


def _user_job(impl: str, like: str, selection: Selection) -> Job:
    from verify.registry.user import load_user_implementation
    from verify.session import run_user_implementation

    entry = load_user_implementation(impl, like)  # UsageError with a fix-it message
    return Job(
        label="user",
        framework=entry.framework,
        session=functools.partial(run_user_implementation, impl, like),
        ops=((entry.name, entry.op),),
        selection=selection,
    )


def plan_from_args(args: argparse.Namespace) -> RunPlan:
    """Validate the parsed options into a :class:`RunPlan` (UsageError when they do not fit)."""
    if args.impl and not args.like:
        raise UsageError("--impl needs --like QUALIFIED_NAME (the registered API it replaces)")
    if args.like and not args.impl:
        raise UsageError("--like needs --impl MODULE:FUNCTION (the callable to verify)")
    if args.impl and args.framework:
        raise UsageError("--impl and --framework do not mix; run them separately")
    if args.impl and args.implementation:
        raise UsageError(
            "--impl and --implementation do not mix: --impl verifies your callable as --like"
        )
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {args.output!r} is a file; give a directory")
    baseline = Path(args.baseline) if args.baseline else None
    if baseline is not None:
        try:
            json_report.load(baseline)
        except json_report.ReportError as exc:
            raise UsageError(f"--baseline: {exc}") from exc
    selection = Selection(
        implementations=tuple(dict.fromkeys(args.implementation or ())),
        checks=tuple(dict.fromkeys(args.check or ())),
        dtypes=tuple(dict.fromkeys(args.dtype or ())),
        shard=args.shard,
    )
    jobs = (
        [_user_job(args.impl, args.like, selection)]
        if args.impl
        else _framework_jobs(args.framework, selection, args.jobs)
    )
    devices = tuple(dict.fromkeys(args.device)) if args.device else DEVICES
    return RunPlan(
        jobs=jobs,
        devices=devices,
        explicit_devices=bool(args.device),
        profile=args.profile,
        seed=args.seed,
        output=output,
        baseline=baseline,
        check_timeout=args.check_timeout,
        parallel=args.jobs,
        selection=selection,
    )


def _exit_status(report: Report) -> int:
    return EXIT_NONCONFORMING if report.nonconforming else EXIT_OK


def build_report(plan: RunPlan, outcome: RunOutcome, environment: dict) -> Report:
    """The report of a finished (or interrupted) run, diffed against the baseline if any."""
    environment = dict(environment)
    environment["devices"] = list(outcome.devices)
    environment["finished"] = utc_now()
    environment["interrupted"] = outcome.interrupted
    environment["check_timeout_s"] = plan.check_timeout
    selection = plan.selection
    if selection is not None:
        chosen = {
            "implementations": list(selection.implementations),
            "checks": list(selection.checks),
            "dtypes": list(selection.dtypes),
        }
        chosen = {key: value for key, value in chosen.items() if value}
        if chosen:
            environment["selection"] = chosen
        if selection.shard is not None:
            environment["shard"] = f"{selection.shard[0]}/{selection.shard[1]}"
    if outcome.incidents:
        environment["incidents"] = list(outcome.incidents)
    environment["timing"] = _timing(outcome)
    report = Report(environment, outcome.results).sorted()
    if plan.baseline is not None:
        old = json_report.load(plan.baseline)
        report.environment["baseline"] = apply_baseline(
            report.results, old.results, path=str(plan.baseline)
        )
    return report


@contextlib.contextmanager
def _signals_recorded(runner: Runner) -> Iterator[list[int]]:
    """While the run and the writing of its reports go on, SIGINT and SIGTERM never raise:
    each is recorded (and asks the runner to stop), so however many arrive, and whenever, the
    reports of what finished are written whole.  The runner installs its own handler on top
    while it runs; this one covers the moments before and after, report writing included."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        runner.request_stop()

    signums = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield received
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _timing(outcome: RunOutcome) -> dict:
    """Where the run's time went: its wall time, each worker's, and per framework the
    examples judged, the seconds its checks took (summed over workers) and their ratio."""
    frameworks: dict[str, dict[str, float]] = {}
    for result in outcome.results:
        entry = frameworks.setdefault(result.framework, {"examples": 0, "check_s": 0.0})
        entry["examples"] += result.examples or 0
        entry["check_s"] += result.duration_s or 0.0
    for entry in frameworks.values():
        entry["check_s"] = round(entry["check_s"], 1)
        entry["examples_per_s"] = (
            round(entry["examples"] / entry["check_s"], 2) if entry["check_s"] else 0.0
        )
    return {
        "wall_s": outcome.wall_s,
        "workers_s": dict(outcome.worker_seconds),
        "frameworks": frameworks,
    }


def execute(
    plan: RunPlan,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    live: bool | None = None,
) -> int:
    """Run ``plan``, write the reports, print the summary; return the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environment = base_environment(
        frameworks=list(dict.fromkeys(job.framework for job in plan.jobs)),
        profile=plan.profile,
        seed=plan.seed,
    )
    progress = ProgressDisplay(stderr, live=live)
    runner = Runner(
        devices=plan.devices,
        profile=plan.profile,
        seed=plan.seed,
        check_timeout=plan.check_timeout,
        parallel=plan.parallel,
        progress=progress,
        log_dir=plan.output / "logs",
    )
    with _signals_recorded(runner) as received:
        outcome = runner.run(plan.jobs)
        progress.close()
        if plan.explicit_devices and not outcome.devices and not outcome.interrupted:
            asked = " ".join(f"--device {d}" for d in plan.devices)
            raise UsageError(f"none of the devices asked for ({asked}) is available here; use cpu")
        report = build_report(plan, outcome, environment)
        paths = write_all(report, plan.output)
        stdout.write(summary.render(report, paths))
        stdout.flush()
    if outcome.interrupted or received:
        return EXIT_INTERRUPTED
    if not report.results:
        stderr.write("verify: no results were produced; nothing was verified\n")
        return EXIT_NONCONFORMING
    return _exit_status(report)


def run_merge(argv: Sequence[str], *, stdout: TextIO, stderr: TextIO) -> int:
    """``python -m verify merge REPORT.json ... --output DIR``."""
    args = build_merge_parser().parse_args(list(argv))
    output = Path(args.output)
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output {args.output!r} is a file; give a directory")
    reports = []
    for name in args.reports:
        try:
            reports.append(json_report.load(name))
        except json_report.ReportError as exc:
            raise UsageError(str(exc)) from exc
    old = None
    if args.baseline:
        try:
            old = json_report.load(args.baseline)
        except json_report.ReportError as exc:
            raise UsageError(f"--baseline: {exc}") from exc
    merged = merge.merge_reports(reports, list(args.reports))
    if old is not None:
        merged.environment["baseline"] = apply_baseline(
            merged.results, old.results, path=str(args.baseline)
        )
    for conflict in merged.environment["merge"]["conflicts"]:
        sources = ", ".join(f"{s['report']}: {s['status']}" for s in conflict["sources"])
        stderr.write(
            f"verify merge: conflicting results for {' / '.join(conflict['key'])} "
            f"({sources}); kept {conflict['kept']}\n"
        )
    paths = write_all(merged, output)
    stdout.write(summary.render(merged, paths))
    return _exit_status(merged)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m verify`` and ``xent-verify``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "merge":
            return run_merge(argv[1:], stdout=sys.stdout, stderr=sys.stderr)
        args = build_parser().parse_args(argv)
        return execute(plan_from_args(args))
    except UsageError as exc:
        sys.stderr.write(f"verify: error: {exc}\n")
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        sys.stderr.write("verify: interrupted\n")
        return EXIT_INTERRUPTED
