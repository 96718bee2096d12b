"""The result record of a conformance run (``docs/contract.md`` section 4).

One :class:`Result` is one row of ``conformance.json``'s ``results`` array: one implementation,
one check category, one dtype, one device.  Checks produce them, the runner collects them, the
report writers (``verify.report``) render them.  Extra fields are allowed by the contract; the
named ones keep their meaning.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal, get_args

from verify.ops import CHECKS as CHECKS
from verify.ops import Check as Check

SCHEMA = "xent-conformance/1"

Status = Literal["pass", "fail", "deviation", "skip", "error"]
STATUSES: tuple[str, ...] = get_args(Status)

#: Severity order used when several outcomes are folded into one result: the worst wins.
SEVERITY = {"pass": 0, "skip": 1, "deviation": 2, "fail": 3, "error": 4}


@dataclasses.dataclass
class Result:
    """One verdict: ``implementation`` x ``check`` x ``dtype`` x ``device``.

    ``max_ulp`` is the largest error seen, in fractional units in the last place of the
    correctly rounded reference value; ``max_bound_ratio`` is the largest ratio of the error to
    the condition-aware error bound of ``docs/tolerances.md`` (a ratio above 1 fails).
    ``reproducer`` is standalone Python in the framework's own API that shows the problem;
    ``reference_value`` is the correctly rounded value the reference gives for it.
    """

    implementation: str
    framework: str
    op: str
    check: str
    dtype: str
    device: str
    status: str
    examples: int = 0
    max_ulp: float | None = None
    max_bound_ratio: float | None = None
    message: str = ""
    reproducer: str = ""
    reference_value: str = ""
    links: list[str] = dataclasses.field(default_factory=list)
    #: Extra, optional fields (allowed by the contract).
    #: URL of the registered upstream issue this failure matches (a registered ``fail`` does not
    #: make the exit status 1, ``docs/contract.md`` section 3); None when it is not registered.
    known_issue: str | None = None
    #: set by ``--baseline`` diffing: "new", "fixed", "regressed" or "unchanged"
    baseline: str | None = None
    duration_s: float | None = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: how bad a non-pass result is: a class of ``verify.judge.severity`` (wrong_value,
    #: accepted_bad_input, error, no_correct_digits, inaccurate, convention); None on pass/skip
    severity: str | None = None
    #: the largest ULP error over the comparisons where both values are finite (``max_ulp`` is
    #: ``inf`` as soon as one NaN or infinity mismatches), and how many examples had such a
    #: non-finite mismatch
    finite_max_ulp: float | None = None
    nonfinite_mismatches: int = 0

    def __post_init__(self) -> None:
        if self.check not in CHECKS:
            raise ValueError(f"check must be one of {CHECKS}, got {self.check!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def nonconforming(self) -> bool:
        """True when this result makes the exit status 1: a ``fail`` or ``error`` that is not a
        registered upstream issue (``deviation`` is documented behaviour and conforms)."""
        return self.status in ("fail", "error") and not self.known_issue

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity of a result across runs (used by baseline diffing and merging)."""
        return (self.implementation, self.check, self.dtype, self.device)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``docs/contract.md`` section 4 (non-finite floats become strings)."""
        out = dataclasses.asdict(self)
        for name in ("max_ulp", "max_bound_ratio", "duration_s"):
            value = out[name]
            if isinstance(value, float) and not math.isfinite(value):
                out[name] = repr(float(value))  # "inf" / "nan": JSON has no literal for them
        if not out["extra"]:
            del out["extra"]
        for name in ("duration_s", "known_issue", "baseline", "severity", "finite_max_ulp"):
            if out[name] is None:
                del out[name]
        if not out["nonfinite_mismatches"]:
            del out["nonfinite_mismatches"]
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Result:
        """Inverse of :meth:`to_json`; unknown keys are kept in ``extra``."""
        fields = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in obj.items() if k in fields}
        unknown = {k: v for k, v in obj.items() if k not in fields}
        for name in ("max_ulp", "max_bound_ratio", "duration_s", "finite_max_ulp"):
            if isinstance(known.get(name), str):
                known[name] = float(known[name])
        result = cls(**known)
        result.extra.update(unknown)
        return result
