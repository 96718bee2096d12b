"""What one example of a check found, and the calls that produce it.

A check evaluates one drawn case at a time and returns a :class:`Verdict` (or None when there
was nothing to judge).  Calls into the reference and into the implementation go through
:func:`call_reference` and :func:`call_impl`, which turn "the reference could not decide this
case" and "the implementation raised on a valid input" into distinct, typed outcomes.  A
reference function the op catalogue names but the reference lacks is an error of the suite
(``LookupError`` from :mod:`verify.ops`), never a skip.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from verify import ops
from verify.registry.base import Unsupported


class ReferenceFailed(Exception):
    """The reference raised on a case (e.g. it could not certify a rounding): the example is
    set aside and counted, never blamed on the implementation."""


class ImplementationRaised(Exception):
    """The implementation raised on an input it should accept."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.original = exc


@dataclasses.dataclass
class Verdict:
    """The judgement of one example."""

    failed: bool
    max_ulp: float | None = None
    max_bound_ratio: float | None = None
    message: str = ""
    #: the correctly rounded reference value(s), as text
    reference_value: str = ""
    #: the kwargs the reproducer should show (defaults to the drawn case)
    kwargs: Mapping[str, Any] | None = None
    #: which implementation the reproducer should call (defaults to the one under test)
    reproduce_with: Any = None
    #: how bad a failure is (a class of :mod:`verify.judge.severity`), and one line saying why
    severity: str | None = None
    severity_note: str = ""
    #: what is special about the case's inputs (:mod:`verify.judge.input_pattern`)
    input_pattern: str = ""
    #: the largest ULP error over the elements where both values are finite
    finite_max_ulp: float | None = None
    #: elements where a NaN or an infinity on either side does not match
    nonfinite_mismatches: int = 0
    #: the cotangent, when the failure is in a vector-Jacobian product: the reproducer then
    #: computes that product (``Implementation.gradient_reproducer``)
    grad_output: Any = None
    #: the tangent (shaped like the first argument), when the failure is in a Jacobian-vector
    #: product: the reproducer then computes that product (``Implementation.jvp_reproducer``)
    tangent: Any = None


def raised_verdict(what: str, exc: Exception, case: str, pattern: str, **fields: Any) -> Verdict:
    """The failing verdict of a call that raised ``exc`` on the valid input ``case``: ``what``
    ("forward", "gradient", ...) raised where the contract expects a value, a wrong value
    (:func:`verify.judge.severity.raised_on_valid_input`).  ``fields`` are further
    :class:`Verdict` fields (the reference value, the cotangent)."""
    from verify.judge import severity

    why = severity.raised_on_valid_input(what)
    return Verdict(
        failed=True,
        message=f"{what} raised {exc} on a valid input: {case}",
        severity=why.severity,
        severity_note=f"{why.note}: {exc}",
        input_pattern=pattern,
        **fields,
    )


def call_reference(op: str, *, grad: bool = False, **kwargs: Any) -> Any:
    """``reference.<op>(**kwargs)`` (or ``<op>_grad``), the functions the op catalogue names.

    An unknown op (``KeyError``) or a missing reference function (``LookupError``) propagates:
    the suite itself is wrong.  What the reference raises on the case, or a case it does not
    decide in time, becomes :class:`ReferenceFailed`."""
    spec = ops.spec(op)
    name = spec.grad_name if grad else spec.name
    fn = spec.vjp if grad else spec.reference
    try:
        with _time_limit(REFERENCE_TIME_LIMIT_S):
            return fn(**kwargs)
    except _ReferenceTimeout:
        raise ReferenceFailed(
            f"reference.{name} did not decide within {REFERENCE_TIME_LIMIT_S:g} s "
            "(an extreme case of its exact tier)"
        ) from None
    except Exception as exc:
        text = " ".join(str(exc).split())[:200]
        raise ReferenceFailed(f"reference.{name} raised {type(exc).__name__}: {text}") from exc


#: budget of one reference evaluation inside a check; an example the reference cannot decide
#: in time is set aside (counted in the result's message), never blamed on the implementation
REFERENCE_TIME_LIMIT_S = 20.0


class _ReferenceTimeout(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_ReferenceTimeout` in the main thread after ``seconds`` (POSIX timers;
    a no-op elsewhere or off the main thread)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _ReferenceTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call_impl(fn: Callable[..., Any], *args: Any) -> Any:
    """Call an implementation's adapter; :class:`Unsupported` passes through, anything else
    it raises becomes :class:`ImplementationRaised`."""
    try:
        return fn(*args)
    except Unsupported:
        raise
    except Exception as exc:
        raise ImplementationRaised(exc) from exc


def format_value(a: Any, limit: int = 12) -> str:
    """Compact text of a reference value: repr of floats, or a list for small arrays."""
    if isinstance(a, tuple):
        return "(" + ", ".join(format_value(x, limit) for x in a) + ")"
    arr = np.asarray(a)
    if arr.ndim == 0:
        return repr(float(arr.astype(np.float64)))
    flat = arr.astype(np.float64).reshape(-1)
    body = ", ".join(repr(float(v)) for v in flat[:limit])
    more = f", ... ({flat.size} values)" if flat.size > limit else ""
    return f"array(shape={list(arr.shape)}, dtype={arr.dtype.name}, values=[{body}{more}])"


__all__ = [
    "ImplementationRaised",
    "ReferenceFailed",
    "Verdict",
    "call_impl",
    "call_reference",
    "format_value",
]
