"""Entries for users' own callables: ``python -m verify --impl MODULE:FUNCTION --like NAME``.

The user's function is wrapped by the same factory that builds the registered entry ``NAME``
(``FACTORIES`` of ``NAME``'s framework module), so it is called with the same arguments, tensor
types and devices as ``NAME``, differentiated through the same framework's autodiff and held to
all of ``NAME``'s checks.  The entry keeps ``NAME``'s framework (devices and autodiff are that
framework's) and takes the spec as its name and ``"like NAME"`` as its variant.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from verify.errors import UsageError
from verify.registry import get_factory
from verify.registry.base import Implementation


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``"module:function"`` (the module part may be a dotted name or a ``.py`` path)."""
    module, sep, function = spec.rpartition(":")
    if not sep or not module or not function:
        raise UsageError(
            f"--impl {spec!r} is not MODULE:FUNCTION; write e.g. mypkg.losses:cross_entropy "
            "or path/to/losses.py:cross_entropy"
        )
    return module, function


def _import_path(path: Path) -> ModuleType:
    if not path.is_file():
        raise UsageError(f"--impl file {str(path)!r} does not exist; give an existing .py file")
    name = f"_verify_user_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"--impl file {str(path)!r} cannot be loaded as Python source")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # Let the file import its siblings, as running it as a script would.
    sys.path.insert(0, str(path.resolve().parent))
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise UsageError(
            f"--impl file {str(path)!r} does not import ({_one_line(error)}); fix the module"
        ) from error
    finally:
        sys.path.pop(0)
    return module


def import_module(module: str) -> ModuleType:
    """Import ``module`` (a dotted name, or a path ending in ``.py``) or raise UsageError."""
    if module.endswith(".py") or "/" in module or "\\" in module:
        return _import_path(Path(module))
    try:
        return importlib.import_module(module)
    except Exception as error:
        raise UsageError(
            f"--impl module {module!r} does not import ({_one_line(error)}); check the name "
            "and that it is on PYTHONPATH, or pass a path to a .py file"
        ) from error


def load_user_implementation(spec: str, like: str) -> Implementation:
    """The entry for the user's callable ``spec`` built exactly as the registered ``like`` is.

    Raises :class:`~verify.errors.UsageError` with a one-line fix-it message when ``like`` is
    unknown, the module does not import, or the attribute is missing or not callable.
    """
    try:
        _, factory = get_factory(like)
    except KeyError as error:
        raise UsageError(f"--like: {error.args[0]}") from error
    module_name, attribute = parse_spec(spec)
    module = import_module(module_name)
    fn: object = module
    for part in attribute.split("."):
        if not hasattr(fn, part):
            public = [n for n in dir(module) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"--impl: module {module_name!r} has no attribute {attribute!r}{hint}")
        fn = getattr(fn, part)
    if not callable(fn):
        raise UsageError(
            f"--impl: {spec!r} is a {type(fn).__name__}, not a callable; name a function"
        )
    entry = factory(_as_callable(fn))
    return dataclasses.replace(entry, name=spec, variant=f"like {like}")


def _as_callable(fn: object) -> Callable[..., object]:
    assert callable(fn)
    return fn
