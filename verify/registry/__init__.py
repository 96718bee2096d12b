"""The registry of implementations under test.

Each framework has one module (its record in :mod:`verify.registry.frameworks`, the table of
frameworks), imported only when asked for, because importing PyTorch, JAX or TensorFlow takes
seconds.  The code that loads several frameworks into one process keeps one member of each
:data:`PROCESS_EXCLUSIVE` set (:func:`process_compatible`); the runner gives every framework
worker processes of their own.  A framework module exposes

- ``FRAMEWORK: str`` -- its key in :data:`FRAMEWORK_MODULES`;
- ``FACTORIES: dict[str, Callable[[Callable], Implementation]]`` -- for each registered name,
  a factory that builds the entry (adapter, capabilities, deviations, ...) around a given
  callable, so ``--impl M:F --like NAME`` can wrap a user's function exactly as ``NAME`` is;
- ``implementations() -> list[Implementation]`` -- the entries built around the real functions.

Names are the public names users call (``torch.nn.functional.cross_entropy``).  When one API
yields several entries (different target kinds, different code paths) the extra entries carry a
bracketed qualifier: ``torch.nn.functional.cross_entropy[probs]``.  Names are unique across the
registry; they are the ``implementation`` of every result.  See ``docs/registry.md``.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from types import ModuleType

from verify.registry.base import Implementation
from verify.registry.frameworks import (
    FRAMEWORK_MODULES,
    FRAMEWORK_PACKAGES,
    FRAMEWORKS,
    KERAS_BACKEND_TAGS,
    KERAS_UNTAGGED,
    NAME_PREFIXES,
    PROCESS_EXCLUSIVE,
    spec_of,
)

Factory = Callable[[Callable[..., object]], Implementation]


def _spec_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def _installed() -> tuple[str, ...]:
    return tuple(
        spec.key
        for spec in FRAMEWORKS
        if all(_spec_exists(p) for p in spec.packages) and _spec_exists(spec.module)
    )


def installed_frameworks() -> list[str]:
    """Frameworks whose packages and registry module are importable, in table order.

    Uses ``importlib.util.find_spec`` only: nothing heavy is imported to answer.
    """
    return list(_installed())


def _loaded(framework: str) -> bool:
    return FRAMEWORK_MODULES[framework] in sys.modules


def process_compatible(frameworks: Iterable[str], with_: str | None = None) -> list[str]:
    """``frameworks`` (in order) less those that cannot share this process with the others
    (:data:`PROCESS_EXCLUSIVE`): of each exclusive set, only ``with_`` when it belongs to it,
    else the member this process already imported, else the first one listed."""
    chosen = list(dict.fromkeys(frameworks))
    for group in PROCESS_EXCLUSIVE:
        members = [fw for fw in chosen if fw in group]
        if with_ in group:
            keep: str | None = with_
        else:
            keep = next((fw for fw in members if _loaded(fw)), members[0] if members else None)
        chosen = [fw for fw in chosen if fw not in group or fw == keep]
    return chosen


def shares_this_process(framework: str) -> bool:
    """Whether ``framework`` can be imported here: no other member of an exclusive set it
    belongs to (:data:`PROCESS_EXCLUSIVE`) is imported in this process."""
    return not any(
        _loaded(other)
        for group in PROCESS_EXCLUSIVE
        if framework in group
        for other in group - {framework}
    )


@functools.cache
def entry_names(framework: str) -> tuple[str, ...]:
    """The registered names of ``framework``; listed by a child interpreter when the framework
    cannot share this process (:func:`shares_this_process`), so looking names up never loads
    a second Keras backend."""
    if shares_this_process(framework):
        return tuple(entry.name for entry in _entries(framework))
    import json
    import os
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = (
        "import json, verify.registry as r; "
        f"print(json.dumps([e.name for e in r.all_implementations({framework!r})]))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def framework_module(framework: str) -> ModuleType:
    """Import and return the registry module of ``framework`` (ValueError if unknown)."""
    return importlib.import_module(spec_of(framework).module)


@functools.cache
def _entries(framework: str) -> tuple[Implementation, ...]:
    entries = tuple(framework_module(framework).implementations())
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuntimeError(f"duplicate implementation names in {framework}: {duplicates}")
    return entries


def all_implementations(framework: str | None = None) -> list[Implementation]:
    """Every registered entry of ``framework``, or when None of every installed framework that
    can share this process (:func:`process_compatible`; the others need a process of their
    own, as the runner gives them)."""
    frameworks = process_compatible(installed_frameworks()) if framework is None else [framework]
    return [entry for fw in frameworks for entry in _entries(fw)]


def _candidate_frameworks(name: str) -> list[str]:
    """The framework a name's first component points to, or every installed one."""
    installed = installed_frameworks()
    root = name.split(".", 1)[0]
    tagged = [fw for tag, fw in KERAS_BACKEND_TAGS.items() if name.endswith(tag)]
    first = (tagged or [KERAS_UNTAGGED])[0] if root == "keras" else NAME_PREFIXES.get(root)
    return [first] if first in installed else process_compatible(installed)


def _not_found(name: str, known: list[str], what: str) -> KeyError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return KeyError(f"unknown {what} {name!r}{hint}")


def get(name: str) -> Implementation:
    """The registered entry called ``name``; KeyError (with close matches) when there is none."""
    known: list[str] = []
    for framework in _candidate_frameworks(name):
        for entry in _entries(framework):
            if entry.name == name:
                return entry
            known.append(entry.name)
    raise _not_found(name, known, "implementation")


def get_factory(name: str) -> tuple[str, Factory]:
    """``(framework, factory)`` for the registered name ``name`` (see ``FACTORIES``)."""
    known: list[str] = []
    for framework in _candidate_frameworks(name):
        factories: dict[str, Factory] = framework_module(framework).FACTORIES
        if name in factories:
            return framework, factories[name]
        known.extend(factories)
    raise _not_found(name, known, "implementation")


__all__ = [
    "FRAMEWORKS",
    "FRAMEWORK_MODULES",
    "FRAMEWORK_PACKAGES",
    "NAME_PREFIXES",
    "PROCESS_EXCLUSIVE",
    "Factory",
    "all_implementations",
    "entry_names",
    "framework_module",
    "get",
    "get_factory",
    "installed_frameworks",
    "process_compatible",
    "shares_this_process",
]
