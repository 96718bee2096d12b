"""The declarative description of one implementation under test.

Every public function users call (``torch.nn.functional.cross_entropy``,
``optax.softmax_cross_entropy``, ``keras.losses.CategoricalCrossentropy``, a NumPy textbook
formula, or a user's callable) is one :class:`Implementation`.  The entry maps the reference's
semantics (PyTorch's argument names and conventions, ``docs/contract.md`` section 2) onto the
API's own: an adapter takes the *reference-convention* keyword arguments (NumPy arrays:
``input``, ``target``, ``weight``, ``ignore_index``, ``reduction``, ``label_smoothing``, ...),
calls the framework, and returns a NumPy array laid out as the reference lays it out.  Checks
(``verify.checks``) and benchmarks (``benchmarks/``) only ever talk to this interface, so one
entry per implementation serves every check, every dtype and every device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from verify.ops import DTYPES

#: Reference-convention keyword arguments of one call (NumPy arrays and Python scalars).
Kwargs = Mapping[str, Any]


class Unsupported(Exception):
    """The implementation's API cannot express this case (an option it lacks, a dtype it
    refuses); checks record it as ``skip`` with this message, never as a failure."""


class ForwardModeUnavailable(Exception):
    """The framework offers no forward-mode derivative for this call (PyTorch raises
    ``NotImplementedError`` for an op whose forward-AD formula is missing); the gradient check
    records the reason in its notes, never as a failure."""


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """Which reference options the API can express.  Strategies draw only supported cases."""

    #: reductions the API offers, in reference spelling
    reductions: tuple[str, ...] = ("none", "sum", "mean")
    #: "index" (class indices), "probs" (probability targets), "binary" (targets in [0, 1]
    #: shaped like the input) or None (no target: softmax, log_softmax, logsumexp)
    target: str | None = None
    class_weight: bool = False
    ignore_index: bool = False
    label_smoothing: bool = False
    #: accepts (N, C, d1, ..., dk) inputs
    kdim: bool = False
    #: accepts an ``axis``/``dim`` argument other than the last (softmax family)
    axis: bool = False
    pos_weight: bool = False
    sample_weight: bool = False
    log_target: bool = False
    #: other option names the adapter understands (alpha, gamma, ...)
    extra: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Registered:
    """What an entry registers about a known difference: what it is, its source (the
    documentation page or the issue URL), and the cases and checks it covers."""

    description: str
    link: str
    #: whether a given case (the reference's kwargs) is covered
    applies: Callable[[Kwargs], bool] = lambda kwargs: True
    #: check categories it covers; empty means all
    checks: tuple[str, ...] = ()
    #: severity classes of ``verify.judge.severity`` it covers; empty means all.  A documented
    #: loss of precision covers ``inaccurate`` results only, never a wrong value; an issue
    #: about a call that raises covers the wrong values it reports, not an inaccuracy beside it.
    severities: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Deviation(_Registered):
    """A difference from the reference semantics that the framework *documents*.

    A mismatch on a covered case is reported with status ``deviation`` (and ``link``)
    instead of ``fail``.
    """


@dataclasses.dataclass(frozen=True)
class KnownIssue(_Registered):
    """An upstream bug report (``link`` is the issue URL).  A matching failure is still a
    ``fail`` in the report, but it is registered, so it does not make the exit status 1."""

    #: dtypes it covers; empty means all
    dtypes: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Implementation:
    """One implementation under test, as users call it."""

    #: the public, fully qualified name users call, e.g. "torch.nn.functional.cross_entropy"
    name: str
    #: "torch", "jax", "tensorflow", "numpy", "mlx" or "user"
    framework: str
    #: the reference function it claims to compute: "cross_entropy", "softmax", ...
    op: str
    #: forward(kwargs, device) -> NumPy array in the reference's layout and dtype
    forward: Callable[[Kwargs, str], np.ndarray]
    capabilities: Capabilities = Capabilities()
    #: dtypes the API supports, as NumPy names ("float16", "bfloat16", "float32", "float64")
    dtypes: tuple[str, ...] = DTYPES
    #: devices it can run on when present ("cpu", "cuda")
    devices: tuple[str, ...] = ("cpu",)
    #: vjp(kwargs, grad_output, device) -> gradient w.r.t. ``input`` (through the framework's
    #: autodiff), or None when the API has no gradient
    vjp: Callable[[Kwargs, np.ndarray, str], np.ndarray] | None = None
    #: jvp(kwargs, tangent, device) -> the Jacobian-vector product w.r.t. ``input`` (``x``)
    #: through the framework's forward-mode autodiff, ``tangent`` shaped like that argument
    #: in the reference's layout, the result in the layout of the reference's output; None when
    #: the framework has no forward mode.  Raises :class:`ForwardModeUnavailable` for a call
    #: whose forward mode the framework does not offer.
    jvp: Callable[[Kwargs, np.ndarray, str], np.ndarray] | None = None
    #: bind(kwargs, device, backward) -> a zero-argument callable that runs only the framework's
    #: computation on data already converted and placed on ``device`` (forward, or forward and
    #: backward when ``backward`` is true) and waits for it to finish (device synchronised).
    #: Benchmarks time this callable; conversion stays outside the timed code.
    bind: Callable[[Kwargs, str, bool], Callable[[], Any]] | None = None
    #: reproducer(kwargs, device) -> standalone Python in the framework's own API that makes
    #: the same call and prints the result
    reproducer: Callable[[Kwargs, str], str] | None = None
    deviations: tuple[Deviation, ...] = ()
    known_issues: tuple[KnownIssue, ...] = ()
    #: documentation URL of the API
    docs: str = ""
    #: a short note shown in reports (e.g. "jitted", "module form")
    variant: str = ""
    #: gradient_reproducer(kwargs, grad_output, device) -> standalone Python in the framework's
    #: own API that computes the vector-Jacobian product ``vjp`` computes and prints it
    #: (optional; gradient checks fall back to :attr:`reproducer` when it is None)
    gradient_reproducer: Callable[[Kwargs, np.ndarray, str], str] | None = None
    #: jvp_reproducer(kwargs, tangent, device) -> standalone Python that computes the
    #: Jacobian-vector product ``jvp`` computes, through the framework's own forward-mode API,
    #: and prints it in the layout of the reference's output (optional; None where there is no
    #: forward mode: a jvp failure's reproducer is then :attr:`reproducer` naming the tangent)
    jvp_reproducer: Callable[[Kwargs, np.ndarray, str], str] | None = None
    #: result_extra() -> facts about the entry's run so far that every result of it records in
    #: ``Result.extra`` (e.g. ``{"compile_s": ...}``, the seconds a compiled entry spent
    #: compiling in this process); None: nothing to add
    result_extra: Callable[[], dict[str, Any]] | None = None
    #: the compiled code path the API runs through ("jit", "xla", "compiled"), "" for the
    #: plain call (:class:`verify.registry.adapter.Mode`)
    code_path: str = ""

    def available_devices(self) -> tuple[str, ...]:
        """Subset of :attr:`devices` present on this machine (import of the framework is lazy)."""
        from verify.registry.devices import present_devices

        return tuple(d for d in self.devices if d in present_devices(self.framework))
