"""The one adapter skeleton every framework registry module is built on.

A framework module (``torch_impls``, ``jax_impls``, ...) keeps only what is specific to its
framework:

- an :class:`ApiSpec` table, one row per public API (name, reference op, capabilities,
  preparer, documented deviations and known issues);
- a :class:`Framework`: how a row becomes the entry's functions (tensor conversion and device
  placement, the autodiff call, the reproducer's script), which dtypes and devices it declares,
  how public names resolve to the real callables and where their documentation lives;
- the :class:`Mode` s each API runs through (the plain call; ``jax.jit``; ...).

:class:`Registry` does the rest once for all frameworks: it builds every
:class:`~verify.registry.base.Implementation` (name, variant, metadata) and the ``FACTORIES``
that wrap a user's callable exactly as a registered entry wraps the real one
(``python -m verify --impl M:F --like NAME``, ``docs/registry.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np

from verify.registry import base
from verify.registry.conventions import callable_reference

Factory = Callable[[Callable[..., Any]], base.Implementation]


@dataclasses.dataclass(frozen=True)
class ApiSpec:
    """One row of a framework's API table.

    ``name`` is the registered name: the public API users call, optionally followed by a
    bracketed qualifier that tells entries of the same API apart
    (``torch.nn.functional.cross_entropy[probs]``).  ``prepare`` translates the reference's
    keyword arguments into the framework's call; its signature belongs to the framework.
    """

    name: str
    op: str
    prepare: Callable[..., Any]
    capabilities: base.Capabilities
    deviations: tuple[base.Deviation, ...] = ()
    known_issues: tuple[base.KnownIssue, ...] = ()
    #: a short note shown in reports ("module form", "from_logits=True")
    variant: str = ""
    #: documentation URL; empty: the framework derives it from :attr:`api`
    docs: str = ""
    #: the modes this row runs through; empty: the registry's modes
    modes: tuple[Mode, ...] = ()
    #: why the API documents no forward-mode derivative (its entries' ``jvp`` then raises
    #: :class:`~verify.registry.base.ForwardModeUnavailable` with it); empty: the framework's
    #: forward mode is used
    no_forward_mode: str = ""

    @property
    def api(self) -> str:
        """The public expression users call: the name without its bracketed qualifier."""
        return self.name.split("[", 1)[0]


@dataclasses.dataclass(frozen=True)
class Mode:
    """A code path the same API runs through: the plain call (``key=""``) or a compiled one.

    Entries of a mode other than the plain one are named ``NAME[key]`` and carry ``key`` in
    their variant (``optax.softmax_cross_entropy[jit]``, variant ``"jit"``).
    """

    key: str = ""
    #: whether this mode runs the API through a compiler beside a plain entry of the same API
    #: (``jax.jit``, XLA, inductor): the entry's ``code_path`` is then ``key``, and it runs the
    #: checks of :data:`verify.ops.CODE_PATH_CHECKS`; a tag that is the only way the framework
    #: runs the API (a Keras backend) is not one
    compiled: bool = False

    @property
    def suffix(self) -> str:
        return f"[{self.key}]" if self.key else ""


PLAIN = Mode()


@dataclasses.dataclass(frozen=True)
class EntryFunctions:
    """What a framework supplies for one entry (see :class:`base.Implementation` for the contracts
    of each callable; None: the entry has no such path)."""

    forward: Callable[[base.Kwargs, str], np.ndarray]
    vjp: Callable[[base.Kwargs, np.ndarray, str], Any] | None = None
    bind: Callable[[base.Kwargs, str, bool], Callable[[], Any]] | None = None
    reproducer: Callable[[base.Kwargs, str], str] | None = None
    gradient_reproducer: Callable[[base.Kwargs, np.ndarray, str], str] | None = None
    result_extra: Callable[[], dict[str, Any]] | None = None
    jvp: Callable[[base.Kwargs, np.ndarray, str], np.ndarray] | None = None
    jvp_reproducer: Callable[[base.Kwargs, np.ndarray, str], str] | None = None

    @classmethod
    def of(cls, adapter: object) -> EntryFunctions:
        """The methods of that name an adapter object has (``forward`` required)."""
        names = [field.name for field in dataclasses.fields(cls)]
        return cls(**{name: getattr(adapter, name) for name in names if hasattr(adapter, name)})


class Framework(Protocol):
    """The framework-specific half of a registry module."""

    @property
    def key(self) -> str:
        """Key in ``verify.registry.FRAMEWORK_MODULES``."""
        ...

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The dtypes every entry declares."""
        ...

    @property
    def devices(self) -> tuple[str, ...]:
        """The devices every entry declares."""
        ...

    def resolve(self, api: str) -> Callable[..., Any]:
        """The real callable (function or class) named ``api``."""
        ...

    def docs(self, api: str) -> str:
        """The documentation URL of ``api``."""
        ...

    def functions(
        self, spec: ApiSpec, fn: Callable[..., Any], public: str | None, mode: Mode
    ) -> EntryFunctions:
        """The entry's functions calling ``fn`` as ``spec`` says, through ``mode``.

        ``public`` is ``spec.api`` when ``fn`` is the real API (reproducers then call it by
        its public name), None for a user's callable (reproducers import it from its module).
        """
        ...


def forward_mode(run: Callable[[], Any], framework: str, missing: tuple[str, ...] = ()) -> Any:
    """``run()``, a framework's forward-mode derivative, with "this op has no forward mode"
    turned into :class:`~verify.registry.base.ForwardModeUnavailable`: a
    ``NotImplementedError`` (PyTorch's missing forward-AD formulas), or an error whose message
    holds one of the framework's ``missing`` phrases.  Anything else propagates (a failure of
    the implementation)."""
    try:
        return run()
    except base.Unsupported:
        raise
    except NotImplementedError as error:
        raise base.ForwardModeUnavailable(f"{framework}: {_one_line(error)}") from error
    except Exception as error:
        if any(phrase in str(error) for phrase in missing):
            raise base.ForwardModeUnavailable(f"{framework}: {_one_line(error)}") from error
        raise


def not_offered(reason: str) -> Callable[[base.Kwargs, np.ndarray, str], np.ndarray]:
    """A ``jvp`` that raises :class:`~verify.registry.base.ForwardModeUnavailable` with
    ``reason`` (an API, or a code path, without forward mode)."""

    def jvp(kwargs: base.Kwargs, tangent: np.ndarray, device: str) -> np.ndarray:
        raise base.ForwardModeUnavailable(reason)

    return jvp


def _one_line(error: BaseException, limit: int = 200) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class ScriptRequest(NamedTuple):
    """What one reproducer script shows: the call of ``kwargs`` on ``device``, and with
    ``grad_output`` its vector-Jacobian product with that cotangent, with ``tangent`` (shaped
    like the first argument, in the reference's layout) its Jacobian-vector product along it
    through the framework's forward mode (both None: the forward call)."""

    kwargs: base.Kwargs
    device: str
    grad_output: np.ndarray | None = None
    tangent: np.ndarray | None = None


class ScriptedReproducers:
    """``reproducer``, ``gradient_reproducer`` and ``jvp_reproducer`` of an adapter that writes
    all three with one ``_script(request)`` (a :class:`ScriptRequest`)."""

    def _script(self, request: ScriptRequest) -> str:
        raise NotImplementedError

    def reproducer(self, kwargs: base.Kwargs, device: str) -> str:
        return self._script(ScriptRequest(kwargs, device))

    def gradient_reproducer(self, kwargs: base.Kwargs, grad_output: np.ndarray, device: str) -> str:
        return self._script(ScriptRequest(kwargs, device, grad_output=np.asarray(grad_output)))

    def jvp_reproducer(self, kwargs: base.Kwargs, tangent: np.ndarray, device: str) -> str:
        return self._script(ScriptRequest(kwargs, device, tangent=np.asarray(tangent)))


def attribute_path(root: Any, dotted: str) -> Any:
    """``root.a.b.c`` for ``dotted == "a.b.c"`` (``getattr`` per component)."""
    obj = root
    for part in dotted.split(".") if dotted else ():
        obj = getattr(obj, part)
    return obj


def script_name(
    fn: Callable[..., Any], public: str | None, public_imports: Callable[[str], list[str]]
) -> tuple[list[str], str]:
    """Import lines and the expression that call ``fn`` in a standalone reproducer: the public
    name (with ``public_imports(public)``) for a registered API, the user's module otherwise;
    a callable no script can name is base.Unsupported."""
    if public is not None:
        return public_imports(public), public
    try:
        return callable_reference(fn)
    except ValueError as error:
        raise base.Unsupported(str(error)) from error


@dataclasses.dataclass(frozen=True)
class Registry:
    """The entries of one framework: every row of ``specs`` through every mode of ``modes``,
    in table order (row-major)."""

    framework: Framework
    specs: tuple[ApiSpec, ...]
    modes: tuple[Mode, ...] = (PLAIN,)

    def _rows(self) -> list[tuple[str, ApiSpec, Mode]]:
        return [
            (spec.name + mode.suffix, spec, mode)
            for spec in self.specs
            for mode in spec.modes or self.modes
        ]

    def real(self, name: str) -> Callable[..., Any]:
        """The real callable behind the registered ``name``."""
        for entry_name, spec, _ in self._rows():
            if entry_name == name:
                return self.framework.resolve(spec.api)
        raise KeyError(name)

    def build(self, spec: ApiSpec, mode: Mode, fn: Callable[..., Any]) -> base.Implementation:
        """The entry of ``spec`` through ``mode`` around ``fn`` (the real API or a user's)."""
        public = spec.api if fn is self.framework.resolve(spec.api) else None
        functions = self.framework.functions(spec, fn, public, mode)
        if spec.no_forward_mode and functions.jvp is not None:
            functions = dataclasses.replace(
                functions, jvp=not_offered(spec.no_forward_mode), jvp_reproducer=None
            )
        return base.Implementation(
            name=spec.name + mode.suffix,
            framework=self.framework.key,
            op=spec.op,
            forward=functions.forward,
            capabilities=spec.capabilities,
            dtypes=self.framework.dtypes,
            devices=self.framework.devices,
            vjp=functions.vjp,
            jvp=functions.jvp,
            bind=functions.bind,
            reproducer=functions.reproducer,
            gradient_reproducer=functions.gradient_reproducer,
            jvp_reproducer=functions.jvp_reproducer if functions.jvp is not None else None,
            result_extra=functions.result_extra,
            deviations=spec.deviations,
            known_issues=spec.known_issues,
            docs=spec.docs or self.framework.docs(spec.api),
            variant=", ".join(note for note in (spec.variant, mode.key) if note),
            code_path=mode.key if mode.compiled else "",
        )

    def factories(self) -> dict[str, Factory]:
        """Registered name -> factory building that entry around a given callable."""

        def factory(spec: ApiSpec, mode: Mode, name: str) -> Factory:
            def build(fn: Callable[..., Any]) -> base.Implementation:
                return self.build(spec, mode, fn)

            build.__doc__ = f"The {name} entry built around a given callable."
            return build

        return {name: factory(spec, mode, name) for name, spec, mode in self._rows()}

    def implementations(self) -> list[base.Implementation]:
        """Every entry, built around the real APIs."""
        return [
            self.build(spec, mode, self.framework.resolve(spec.api))
            for _, spec, mode in self._rows()
        ]
