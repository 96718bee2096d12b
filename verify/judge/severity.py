"""How bad a non-conformance is: the severity classes of the report, worst first.

Every non-pass result carries one severity (``Result.severity``), decided from what the
comparison knows about its worst element: the value returned ``y``, the correctly rounded
value ``r``, whether the inputs of the case held ``+inf`` or NaN, the relative error and the
error/bound ratio.  The classes, worst first:

``wrong_value``
    A wrong value where the answer is defined, on finite inputs or ``-inf`` masks: NaN or an
    infinity instead of a finite number, a finite number (or NaN) instead of the exact
    infinity, the infinity of the wrong sign, a zero instead of a number larger than the
    format's machine epsilon, a wrong shape, or an exception on a valid input.
``accepted_bad_input``
    Input outside the contract (an out-of-range class index, a target outside [0, 1], ...)
    silently accepted: a finite result that looks like an answer (the ``bad_input`` check).
``error``
    The check could not finish (the implementation crashed, hung, or the check raised).
``no_correct_digits``
    A finite result without one correct digit: relative error at least 1/2 (not one correct
    significant bit), the wrong sign, a nonzero where the answer is exactly 0, or a zero where
    the answer is a number at most the machine epsilon in magnitude (an underflowed or
    cancelled small value).
``inaccurate``
    A finite result with the right sign and some correct digits, outside the condition-aware
    bound of ``docs/tolerances.md``; the note says how many times the bound and how many ULPs.
``convention``
    A mismatch at ``+inf`` or NaN inputs, or where the contract's answer is NaN by convention
    (``0/0`` means, an all ``-inf`` row, gradients of a row whose term is ``+inf``): the
    contract fixes one convention (``docs/contract.md`` section 2, ``docs/semantics.md``) where
    frameworks legitimately differ; the note says which convention the implementation follows.

The relative error is ``|y - r| / |r|``; a relative error below ``2^-k`` means about ``k``
correct significant bits (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
section 1.2), so one of at least 1/2 leaves none.  The machine epsilon is ``2^(1 - p)`` of
the output format with ``p`` significand bits.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from verify.judge.ulp import float_format

WRONG_VALUE = "wrong_value"
ACCEPTED_BAD_INPUT = "accepted_bad_input"
ERROR = "error"
NO_CORRECT_DIGITS = "no_correct_digits"
INACCURATE = "inaccurate"
CONVENTION = "convention"

#: a relative error from which a result has no correct significant bit
NO_DIGITS_RELATIVE_ERROR = 0.5

#: the severity classes, worst first (the order of the findings list)
SEVERITIES: tuple[str, ...] = (
    WRONG_VALUE,
    ACCEPTED_BAD_INPUT,
    ERROR,
    NO_CORRECT_DIGITS,
    INACCURATE,
    CONVENTION,
)
#: rank of each class: larger is worse
RANK: dict[str, int] = {name: len(SEVERITIES) - i for i, name in enumerate(SEVERITIES)}
#: short human labels of the classes (report headlines)
LABEL: dict[str, str] = {
    WRONG_VALUE: "wrong value",
    ACCEPTED_BAD_INPUT: "accepts bad input",
    ERROR: "check error",
    NO_CORRECT_DIGITS: "no correct digits",
    INACCURATE: "inaccurate",
    CONVENTION: "convention",
}
#: one sentence per class (report legends, docs/reports.md)
MEANING: dict[str, str] = {
    WRONG_VALUE: "NaN, inf or 0 instead of a number (or a number instead of inf) on finite "
    "inputs or -inf masks, a wrong shape, or an exception on a valid input",
    ACCEPTED_BAD_INPUT: "input outside the contract silently accepted with a finite result",
    ERROR: "the check could not finish: the implementation crashed or hung, or the check raised",
    NO_CORRECT_DIGITS: "a finite result without one correct digit: relative error >= 1/2, the "
    "wrong sign, or a zero for a tiny value",
    INACCURATE: "right sign and some correct digits, but outside the error bound",
    CONVENTION: "a value at +inf/NaN inputs or a NaN-by-convention case where the contract fixes "
    "one convention and frameworks differ",
}


def rank(severity: str | None) -> int:
    """Rank of ``severity`` (0 for None or an unknown name): larger is worse."""
    return RANK.get(severity or "", 0)


@dataclasses.dataclass(frozen=True)
class Classification:
    """A severity and one line saying why (what was returned against what)."""

    severity: str
    note: str


def value_kind(v: float) -> str:
    """``'NaN'``, ``'+inf'``, ``'-inf'``, ``'0'`` or ``'finite'``: the class of a value that a
    convention is about."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return "0" if v == 0 else "finite"


def _show(v: float) -> str:
    kind = value_kind(v)
    return repr(v) if kind == "finite" else kind


def classify(
    returned: float,
    exact: float,
    dtype: Any,
    *,
    nonfinite_inputs: bool,
    bound_ratio: float = math.inf,
    ulps: float = math.inf,
    who: str = "",
) -> Classification:
    """The severity of returning ``returned`` where the correctly rounded value is ``exact``.

    ``nonfinite_inputs``: the case's inputs hold ``+inf`` or NaN (``-inf`` masks do not count);
    ``bound_ratio`` and ``ulps``: the element's error against its bound and in ULPs; ``who``:
    the implementation (family) named in a convention's note.
    """
    y, r = float(returned), float(exact)
    subject = f"{who} returns" if who else "returns"
    if y == r or (math.isnan(y) and math.isnan(r)):  # the bound itself failed: no mismatch
        return Classification(INACCURATE, f"{subject} {_show(y)}, outside the bound")
    nonfinite = not (math.isfinite(y) and math.isfinite(r))
    if nonfinite_inputs and nonfinite:
        return Classification(
            CONVENTION, f"{subject} {_show(y)} at +inf/NaN inputs; the contract says {_show(r)}"
        )
    if math.isnan(r):
        return Classification(
            CONVENTION,
            f"{subject} {_show(y)} where the contract's convention is NaN (0/0, an "
            "all -inf row, or the gradient of an infinite term)",
        )
    if nonfinite:
        return Classification(
            WRONG_VALUE, f"{subject} {_show(y)} where the correctly rounded value is {_show(r)}"
        )
    eps = 2.0 ** (1 - float_format(dtype).precision)
    if y == 0.0 and abs(r) > eps:
        return Classification(
            WRONG_VALUE, f"{subject} 0 where the correctly rounded value is {r!r}"
        )
    if r == 0.0:
        return Classification(NO_CORRECT_DIGITS, f"{subject} {y!r} where the exact value is 0")
    rel = abs(y - r) / abs(r)
    if y == 0.0:
        return Classification(
            NO_CORRECT_DIGITS, f"{subject} 0 for the tiny value {r!r} (all digits lost)"
        )
    if (y < 0) != (r < 0):
        return Classification(
            NO_CORRECT_DIGITS, f"{subject} {y!r} of the wrong sign; correctly rounded {r!r}"
        )
    if rel >= NO_DIGITS_RELATIVE_ERROR:
        return Classification(
            NO_CORRECT_DIGITS, f"{subject} {y!r}, relative error {rel:.3g}; correctly rounded {r!r}"
        )
    return Classification(
        INACCURATE,
        f"{subject} {y!r} for {r!r}: {ulps:.4g} ULP, {bound_ratio:.3g} times the bound",
    )


def classify_disagreement(a: float, b: float, dtype: Any) -> Classification:
    """The severity of two results that should be equal (an identity, an invariance, two
    frameworks) disagreeing on finite inputs, neither being the reference: a non-finite value
    on one side only is ``wrong_value``; finite values of different signs, or whose difference
    is at least the larger magnitude, ``no_correct_digits``; otherwise ``inaccurate``."""
    a, b = float(a), float(b)
    if math.isfinite(a) != math.isfinite(b) or (math.isinf(a) and a != b):
        return Classification(WRONG_VALUE, f"{_show(a)} against {_show(b)}")
    if not math.isfinite(a):
        return Classification(CONVENTION, f"{_show(a)} against {_show(b)}")
    scale = max(abs(a), abs(b))
    if ((a < 0) != (b < 0) and a != 0 and b != 0) or (scale and abs(a - b) >= scale):
        return Classification(NO_CORRECT_DIGITS, f"{a!r} against {b!r}: no digit in common")
    return Classification(INACCURATE, f"{a!r} against {b!r}")


def raised_on_valid_input(what: str) -> Classification:
    """An exception where the contract expects a value."""
    return Classification(WRONG_VALUE, f"{what} raised on a valid input")


def wrong_shape(what: str) -> Classification:
    return Classification(WRONG_VALUE, f"{what} returned the wrong shape")


def severity_of(result: Any) -> str | None:
    """The severity of a report row: its ``severity`` field, else (a report written before the
    field existed) ``error`` for errors, ``accepted_bad_input`` for a failed ``bad_input``
    check, ``wrong_value`` when the largest error is not finite and ``inaccurate`` otherwise;
    None for ``pass`` and ``skip``."""
    if result.status in ("pass", "skip"):
        return None
    if getattr(result, "severity", None):
        return str(result.severity)
    if result.status == "error":
        return ERROR
    if result.check == "bad_input":
        return ACCEPTED_BAD_INPUT
    ulp = result.max_ulp
    if ulp is not None and not math.isfinite(float(ulp)):
        return WRONG_VALUE
    return INACCURATE


__all__ = [
    "ACCEPTED_BAD_INPUT",
    "CONVENTION",
    "ERROR",
    "INACCURATE",
    "LABEL",
    "MEANING",
    "NO_CORRECT_DIGITS",
    "RANK",
    "SEVERITIES",
    "WRONG_VALUE",
    "Classification",
    "classify",
    "classify_disagreement",
    "raised_on_valid_input",
    "rank",
    "severity_of",
    "value_kind",
    "wrong_shape",
]
