"""Driving a check with Hypothesis: find a failing example, shrink it, and fold everything seen
into one :class:`~verify.results.Result`.

The per-example function is wrapped with :func:`hypothesis.given` and run programmatically,
with the profile's settings (:func:`verify.profiles.hypothesis_settings`), a seed derived from
the session's seed and the search's identity, and the example database under ``.hypothesis/``,
so a failure found once is replayed first next time.  When an example fails, Hypothesis shrinks
it and replays the minimal one last; that one becomes the reproducer.  An implementation whose
outcome on one input changes between calls (a failure that passes on replay, an exception
raised one time in three: GPU kernels with atomic reductions do this) is a finding: Hypothesis
reports it as flaky, and the result is a ``fail`` whose message shows both outcomes.  A
mismatch that one of the implementation's registered
:class:`~verify.registry.base.Deviation` covers is recorded (status ``deviation`` with its
link) and the search goes on looking for unregistered failures.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from hypothesis import given, seed
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure, FlakyStrategyDefinition, HypothesisException

from verify import ops
from verify.engine.outcome import ReferenceFailed, Verdict, format_value
from verify.judge import input_pattern, severity
from verify.profiles import Profile, get_profile, hypothesis_settings, search_seed
from verify.registry.base import Implementation, Unsupported
from verify.results import Result


class _Failed(Exception):
    pass


def matching_deviation(
    impl: Implementation, check: str, kwargs: Mapping[str, Any], severity: str | None = None
) -> Any:
    """The entry's documented deviation covering a failure of ``check`` on ``kwargs`` whose
    severity class is ``severity`` (None: unclassified), or None."""
    return _first_covering(impl.deviations, check, kwargs, severity)


def matching_known_issue(
    impl: Implementation,
    check: str,
    dtype: str,
    kwargs: Mapping[str, Any],
    severity: str | None = None,
) -> Any:
    """The entry's known issue covering a failure of ``check`` in ``dtype`` on ``kwargs`` whose
    severity class is ``severity`` (None: unclassified), or None."""
    in_dtype = [issue for issue in impl.known_issues if not issue.dtypes or dtype in issue.dtypes]
    return _first_covering(in_dtype, check, kwargs, severity)


def _first_covering(
    notes: Sequence[Any], check: str, kwargs: Mapping[str, Any], severity: str | None
) -> Any:
    """The first of ``notes`` (deviations or known issues) that names ``check`` (or no check)
    and ``severity`` (or no severity), and whose ``applies`` accepts ``kwargs``; None if there
    is none."""
    for note in notes:
        if (
            (not note.checks or check in note.checks)
            and (not note.severities or severity in note.severities)
            and _applies(note.applies, kwargs)
        ):
            return note
    return None


def _applies(fn: Callable[[Mapping[str, Any]], bool], kwargs: Mapping[str, Any]) -> bool:
    try:
        return bool(fn(kwargs))
    except Exception:
        return False


def reproducer_for(
    impl: Implementation,
    kwargs: Mapping[str, Any],
    device: str,
    reference_value: str,
    grad_output: np.ndarray | None = None,
    tangent: np.ndarray | None = None,
) -> str:
    """The entry's standalone reproducer, plus a line with the correctly rounded value.

    With ``grad_output`` (a failure of the vector-Jacobian product), the script computes that
    product with the entry's :attr:`~verify.registry.base.Implementation.gradient_reproducer`;
    with ``tangent`` (a failure of the Jacobian-vector product), it computes that product
    through the framework's forward mode with the entry's
    :attr:`~verify.registry.base.Implementation.jvp_reproducer`.  An entry without the one it
    needs gets its forward script and a line naming the cotangent or the tangent."""
    script = ""
    maker: Any = impl.reproducer
    args: tuple[Any, ...] = (dict(kwargs), device)
    if tangent is not None and impl.jvp_reproducer is not None:
        maker, args = impl.jvp_reproducer, (dict(kwargs), tangent, device)
    elif tangent is None and grad_output is not None and impl.gradient_reproducer is not None:
        maker, args = impl.gradient_reproducer, (dict(kwargs), grad_output, device)
    if maker is not None:
        try:
            script = maker(*args)
        except Exception as exc:  # a broken reproducer must not hide the finding
            script = f"# the entry's reproducer failed: {type(exc).__name__}: {exc}\n"
    if not script:
        listed = ", ".join(
            f"{k}={format_value(v, limit=10**6) if hasattr(v, 'shape') else repr(v)}"
            for k, v in kwargs.items()
        )
        script = f"# {impl.name}({listed})\n"
    if maker is impl.reproducer and tangent is not None:
        script = (
            script.rstrip("\n")
            + f"\n# {_tangent_line(np.asarray(tangent), ops.spec(impl.op).primary)}\n"
        )
    elif maker is impl.reproducer and grad_output is not None:
        script = script.rstrip("\n") + (
            "\n# the failure is in the vector-Jacobian product with grad_output "
            f"{format_value(np.asarray(grad_output), limit=10**6)}\n"
        )
    if reference_value:
        script = script.rstrip("\n") + f"\n# correctly rounded reference value: {reference_value}\n"
    return script


def _tangent_line(tangent: np.ndarray, primary: str) -> str:
    """The comment naming the tangent of a failing Jacobian-vector product: its one-hot index
    ``k`` when it is ``e_k``, else its values."""
    nonzero = np.argwhere(tangent.astype(np.float64) != 0)
    head = "the failure is in the Jacobian-vector product (forward mode) along the tangent"
    if len(nonzero) == 1 and float(tangent.astype(np.float64)[tuple(nonzero[0])]) == 1.0:
        k = [int(i) for i in nonzero[0]]
        return f"{head} e_k, 1 at {primary} index {k} and 0 elsewhere (shape {list(tangent.shape)})"
    return f"{head} {format_value(tangent, limit=10**6)}"


def case_key(case: Any) -> bytes:
    """Bytes identifying a drawn case (arrays by dtype, shape and contents)."""
    parts: list[bytes] = []

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for k in sorted(v):
                parts.append(str(k).encode())
                walk(v[k])
        elif isinstance(v, tuple | list):
            parts.append(b"(")
            for item in v:
                walk(item)
            parts.append(b")")
        elif isinstance(v, np.ndarray):
            parts.append(f"{v.dtype.name}{v.shape}".encode() + np.ascontiguousarray(v).tobytes())
        else:
            parts.append(repr(v).encode())

    walk(case)
    return b"|".join(parts)


class _ShrinkBudgetSpent(BaseException):
    """Raised past the shrink budget.  A BaseException, not an Exception, so that Hypothesis
    (which catches Exception as test failures) lets it end the search at once."""


#: plot points kept per result (the report draws them; more only bloats the JSON)
MAX_POINTS = 200


class Search:
    """One (implementation, check, dtype, device) search."""

    def __init__(
        self,
        impl: Implementation,
        check: str,
        dtype: str,
        device: str,
        *,
        profile: str | Profile,
        seed: int | None,
        max_examples: int | None = None,
        key: str = "",
        shrink_budget: int | None = None,
    ) -> None:
        self.impl, self.check, self.dtype, self.device = impl, check, dtype, device
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.seed = seed
        self.max_examples = max_examples
        self.shrink_budget = (
            self.profile.shrink_examples if shrink_budget is None else shrink_budget
        )
        self.key = f"{impl.name}|{check}|{dtype}|{device}|{key}"
        self.examples = 0
        self.supported = 0
        self.max_ulp: float | None = None
        self.max_ratio: float | None = None
        self.finite_max_ulp: float | None = None
        self.nonfinite_mismatches = 0
        self.unsupported_reason = ""
        self.deviations: dict[str, Any] = {}
        self.failure: tuple[Mapping[str, Any], Verdict] | None = None
        self.failing_key = b""
        self.notes: list[str] = []
        self.reference_failures = 0
        self.reference_failure = ""
        #: evaluations spent shrinking since the first failure, and the failing cases seen
        self.shrink_calls = 0
        self.failing_keys: set[bytes] = set()
        #: per-example accuracy points for the report's plots (search phase only, capped)
        self.points: list[dict[str, float]] = []
        #: what each case seen failing gave on every evaluation (to show nondeterminism)
        self.outcomes: dict[bytes, list[str]] = {}

    def _record(self, verdict: Verdict) -> None:
        if verdict.max_ulp is not None:
            self.max_ulp = max(self.max_ulp or 0.0, verdict.max_ulp)
        if verdict.max_bound_ratio is not None:
            self.max_ratio = max(self.max_ratio or 0.0, verdict.max_bound_ratio)
        if verdict.finite_max_ulp is not None:
            self.finite_max_ulp = max(self.finite_max_ulp or 0.0, verdict.finite_max_ulp)
        self.nonfinite_mismatches += verdict.nonfinite_mismatches > 0

    def _add_point(self, kwargs: Mapping[str, Any], verdict: Verdict) -> None:
        """One plot point: the example's largest finite logit magnitude, its class count and
        its error in ULPs (``Result.extra["points"]``, drawn by the HTML report)."""
        if verdict.max_ulp is None or len(self.points) >= MAX_POINTS:
            return
        a = kwargs.get("x", kwargs.get("input"))
        if a is None:
            return
        try:
            arr = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError):
            return
        if arr.ndim == 0 or arr.size == 0:
            return
        finite = np.abs(arr[np.isfinite(arr)])
        axis = kwargs.get("axis", -1) if "x" in kwargs else (1 if arr.ndim >= 2 else 0)
        try:
            classes = int(arr.shape[axis])
        except (IndexError, TypeError):
            return
        self.points.append(
            {
                "magnitude": float(finite.max()) if finite.size else 0.0,
                "classes": classes,
                "ulp": float(verdict.max_ulp),
            }
        )

    def run(
        self,
        strategy: st.SearchStrategy[Any],
        evaluate: Callable[[Any], Verdict | None],
        kwargs_of: Callable[[Any], Mapping[str, Any]] = lambda case: case,
    ) -> Result:
        """Search ``strategy`` with ``evaluate`` and return the folded result."""
        started = time.perf_counter()

        budget = self.shrink_budget

        def judge_example(case: Any, key: bytes) -> bool:
            """Evaluate one case; True when it is an unregistered failure."""
            if self.failure is not None:
                # shrinking: past the budget, only the cases already seen failing fail again,
                # so Hypothesis stops early and still replays its minimal failure
                self.shrink_calls += 1
                if self.shrink_calls > budget:
                    # stop the search outright: Hypothesis would otherwise go on shrinking for
                    # up to five minutes; the smallest failure seen so far is reported
                    raise _ShrinkBudgetSpent
            self.examples += 1
            try:
                verdict = evaluate(case)
            except Unsupported as exc:
                self.unsupported_reason = str(exc)
                return False
            except ReferenceFailed as exc:
                self.reference_failures += 1
                self.reference_failure = self.reference_failure or str(exc)
                return False
            self.supported += 1
            if verdict is None:
                self._outcome(key, "nothing to judge")
                return False
            self._outcome(key, _describe(verdict))
            self._record(verdict)
            if self.failure is None:
                self._add_point(kwargs_of(case), verdict)
            if not verdict.failed:
                return False
            kwargs = verdict.kwargs if verdict.kwargs is not None else kwargs_of(case)
            dev = matching_deviation(self.impl, self.check, kwargs, verdict.severity)
            if dev is not None:
                self.deviations.setdefault(dev.link, (dev, kwargs, verdict))
                return False
            # the reproducer: the smallest of the most severe failures seen
            if self.failure is None or (severity.rank(verdict.severity), -len(key)) >= (
                severity.rank(self.failure[1].severity),
                -len(self.failing_key),
            ):
                self.failure = (kwargs, verdict)
                self.failing_key = key
            self.failing_keys.add(key)
            return True

        def one_example(case: Any) -> None:
            # one raise site: Hypothesis tells failures apart by where they are raised
            if judge_example(case, case_key(case)):
                raise _Failed("the example fails")

        one_example._hypothesis_internal_add_digest = self.key.encode()  # type: ignore[attr-defined]
        test = given(strategy)(one_example)
        test = hypothesis_settings(self.profile, seed=self.seed, max_examples=self.max_examples)(
            test
        )
        s = search_seed(self.seed, self.key)
        if s is not None:
            test = seed(s)(test)
        try:
            test()
        except (_Failed, _ShrinkBudgetSpent):
            pass
        except FlakyStrategyDefinition as exc:
            return self._result("error", f"search failed: {type(exc).__name__}: {exc}", started)
        except (Flaky, FlakyFailure) as exc:
            if self.failure is None:
                return self._result("error", f"search failed: {type(exc).__name__}: {exc}", started)
            return self._nondeterministic(exc, started)
        except HypothesisException as exc:
            return self._result("error", f"search failed: {type(exc).__name__}: {exc}", started)
        except Exception as exc:
            head = " ".join(str(exc).split())[:300]
            result = self._result(
                "error", f"the check itself raised {type(exc).__name__}: {head}", started
            )
            result.extra["traceback"] = "".join(traceback.format_exception(exc))[-4000:]
            return result
        return self._fold(started)

    def _outcome(self, key: bytes, text: str) -> None:
        """Remember what ``key`` gave (only for cases that failed at least once: the others
        cannot show nondeterminism worth reporting)."""
        seen = self.outcomes.get(key)
        if seen is None and not text.startswith("fail"):
            return
        seen = self.outcomes.setdefault(key, [])
        if len(seen) < 4:
            seen.append(text)

    def _nondeterministic(self, exc: BaseException, started: float) -> Result:
        """A ``fail``: the same input failed once and gave another outcome on replay."""
        varied = [o for o in self.outcomes.values() if len(set(o)) > 1]
        history = varied[0] if varied else self.outcomes.get(self.failing_key, [])
        shown = "; then ".join(dict.fromkeys(history)) if history else "no second outcome"
        result = self._fold(started)
        result.message = (
            "nondeterministic: the same input gave different outcomes on repeated calls "
            f"({shown}); first failure: {result.message} "
            f"(Hypothesis: {type(exc).__name__})"
        )
        result.extra["nondeterministic"] = True
        return result

    def _result(self, status: str, message: str, started: float, **extra: Any) -> Result:
        result = self._bare_result(status, message, started, **extra)
        if self.points:
            result.extra["points"] = list(self.points)
        result.finite_max_ulp = self.finite_max_ulp
        result.nonfinite_mismatches = self.nonfinite_mismatches
        if status == "error":
            result.severity = severity.ERROR
        if self.impl.result_extra is not None:  # e.g. a compiled entry's compile time
            result.extra.update(self.impl.result_extra())
        return result

    def _classified(self, result: Result, verdict: Verdict, kwargs: Mapping[str, Any]) -> Result:
        """``result`` with the severity of ``verdict``, its note and the input pattern of the
        failing case ``kwargs``."""
        result.severity = verdict.severity or severity.INACCURATE
        if verdict.severity_note:
            result.extra["severity_note"] = verdict.severity_note
        result.extra["input_pattern"] = (
            verdict.input_pattern or input_pattern.profile(self.impl.op, kwargs, self.dtype).pattern
        )
        return result

    def _bare_result(self, status: str, message: str, started: float, **extra: Any) -> Result:
        return result_for(
            self.impl,
            self.check,
            self.dtype,
            self.device,
            status=status,
            examples=self.examples,
            max_ulp=self.max_ulp,
            max_bound_ratio=self.max_ratio,
            message=message,
            duration_s=round(time.perf_counter() - started, 3),
            **extra,
        )

    def _reproducer(self, target: Implementation, kwargs: Any, verdict: Verdict) -> str:
        """``target``'s script for the call of ``verdict`` (its cotangent or tangent when the
        failing product is a derivative)."""
        return reproducer_for(
            target,
            kwargs,
            self.device,
            verdict.reference_value,
            verdict.grad_output,
            verdict.tangent,
        )

    def _fold(self, started: float) -> Result:
        if self.failure is not None:
            kwargs, verdict = self.failure
            target = verdict.reproduce_with or self.impl
            issue = matching_known_issue(
                self.impl, self.check, self.dtype, kwargs, verdict.severity
            )
            links = [issue.link] if issue else []
            message = verdict.message
            if issue:
                message += f" (registered upstream issue: {issue.description})"
            if self.deviations:
                links += list(self.deviations)
            result = self._result(
                "fail",
                message,
                started,
                reproducer=self._reproducer(target, kwargs, verdict),
                reference_value=verdict.reference_value,
                links=links,
                known_issue=issue.link if issue else None,
            )
            return self._classified(result, verdict, kwargs)
        if self.deviations:
            dev, kwargs, verdict = next(iter(self.deviations.values()))
            result = self._result(
                "deviation",
                f"documented deviation: {dev.description}; e.g. {verdict.message}",
                started,
                reproducer=self._reproducer(self.impl, kwargs, verdict),
                reference_value=verdict.reference_value,
                links=list(self.deviations),
            )
            return self._classified(result, verdict, kwargs)
        if self.reference_failures:
            self.notes.append(
                f"{self.reference_failures} examples set aside because the reference failed "
                f"(first: {self.reference_failure})"
            )
        if self.supported == 0 and self.reference_failures:
            return self._result(
                "error",
                f"every example failed in the reference: {self.reference_failure}",
                started,
            )
        if self.supported == 0:
            reason = self.unsupported_reason or "no applicable case was drawn"
            return self._result("skip", f"not applicable: {reason}", started)
        note = f"; {'; '.join(self.notes)}" if self.notes else ""
        return self._result("pass", f"{self.supported} examples within the bound{note}", started)


def _describe(verdict: Verdict) -> str:
    """A short text of one outcome, for showing that an input gave several."""
    if verdict.failed:
        head = verdict.message.split(": on ")[0][:160]
        return f"fail ({head})"
    ratio = verdict.max_bound_ratio
    return "pass" + (f" (bound ratio {ratio:.3g})" if ratio is not None else "")


def result_for(impl: Implementation, check: str, dtype: str, device: str, **fields: Any) -> Result:
    """The result of ``check`` on ``impl`` in ``dtype`` on ``device``: the row's identity read
    from the entry, the other :class:`~verify.results.Result` fields from ``fields``."""
    return Result(
        implementation=impl.name,
        framework=impl.framework,
        op=impl.op,
        check=check,
        dtype=dtype,
        device=device,
        **fields,
    )


def skip_result(impl: Implementation, check: str, dtype: str, device: str, message: str) -> Result:
    """A ``skip`` result for a check that does not apply."""
    return result_for(impl, check, dtype, device, status="skip", message=message)


__all__ = [
    "Search",
    "matching_deviation",
    "matching_known_issue",
    "reproducer_for",
    "result_for",
    "skip_result",
]
