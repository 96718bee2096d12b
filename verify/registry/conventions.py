"""Helpers shared by the framework adapters: the reference's argument conventions.

Adapters receive the reference's keyword arguments (``docs/contract.md`` section 2: PyTorch's names
and semantics, NumPy arrays, bfloat16 as ``ml_dtypes.bfloat16``, index targets int64) and must
return a NumPy array of the input's dtype laid out as the reference lays it out (0-d for
reductions).  An option an API cannot express raises
:class:`~verify.registry.base.Unsupported`; these helpers make that uniform.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import ml_dtypes
import numpy as np

from verify.ops import DTYPES, OPS
from verify.registry.base import Unsupported

#: the reference functions' keyword defaults (``docs/contract.md`` section 2), read from their
#: signatures by the op catalogue (``out_dtype`` aside)
REFERENCE_DEFAULTS: dict[str, dict[str, Any]] = {op: dict(s.defaults) for op, s in OPS.items()}

#: the arguments that carry data (no default), per op, in the reference's positional order
REFERENCE_ARRAYS: dict[str, tuple[str, ...]] = {op: s.arrays for op, s in OPS.items()}

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
FLOAT_DTYPES: tuple[str, ...] = DTYPES


def primary_name(op: str) -> str:
    """The argument that is differentiated and fixes the dtype: ``x`` or ``input``."""
    return OPS[op].primary


def with_defaults(op: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` completed with the reference's defaults; unknown keys raise TypeError."""
    known = set(REFERENCE_DEFAULTS[op]) | set(REFERENCE_ARRAYS[op])
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"{op}: unknown reference arguments {unknown}")
    missing = [name for name in REFERENCE_ARRAYS[op] if name not in kwargs]
    if missing:
        raise TypeError(f"{op}: missing reference arguments {missing}")
    return {**REFERENCE_DEFAULTS[op], **kwargs}


def is_default(op: str, name: str, value: Any) -> bool:
    """Whether ``value`` is the reference default of ``name`` (arrays are never default)."""
    default = REFERENCE_DEFAULTS[op][name]
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    return bool(value is default or value == default)


def require_defaults(op: str, kwargs: Mapping[str, Any], names: Iterable[str], api: str) -> None:
    """Raise Unsupported when any of ``names`` is given a value other than its default."""
    for name in names:
        if name in kwargs and not is_default(op, name, kwargs[name]):
            raise Unsupported(f"{api} has no equivalent of {name}={_short(kwargs[name])}")


def require_reduction(kwargs: Mapping[str, Any], offered: Iterable[str], api: str) -> str:
    """The requested reduction (default "mean"), or Unsupported when the API lacks it."""
    reduction = kwargs.get("reduction", "mean")
    offered = tuple(offered)
    if reduction not in offered:
        raise Unsupported(f"{api} offers reductions {offered}, not {reduction!r}")
    return str(reduction)


def require_dtype(dtype: np.dtype[Any], supported: Iterable[str], api: str) -> None:
    """Raise Unsupported unless ``dtype``'s name is one of ``supported``."""
    if dtype_name(dtype) not in tuple(supported):
        raise Unsupported(f"{api} does not support {dtype_name(dtype)}")


def dtype_name(dtype: Any) -> str:
    """NumPy name of a dtype or of an array's dtype ("bfloat16" for ml_dtypes.bfloat16)."""
    if isinstance(dtype, np.ndarray | np.generic):
        dtype = dtype.dtype
    return np.dtype(dtype).name


def as_result(values: Any, dtype: np.dtype[Any]) -> np.ndarray:
    """``values`` (array-like) as a NumPy array of ``dtype``; 0-d stays 0-d.

    The cast must be exact: adapters call it on values the framework computed *in* ``dtype``
    (possibly carried as float32 because the framework's NumPy bridge lacks bfloat16).
    """
    out = np.asarray(values)
    if out.dtype != np.dtype(dtype):
        out = out.astype(dtype)
    return out


def default_grad_output(output: np.ndarray) -> np.ndarray:
    """Ones shaped and typed like ``output`` (the reference's ``grad_output=None``)."""
    return np.ones_like(output)


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"<array {value.dtype.name}{list(value.shape)}>"
    return repr(value)


PRINT_RESULT = """
result = {values}
print(repr(result))
print("hex:", [float(v).hex() for v in {np}.asarray(result, dtype={np}.float64).reshape(-1)])
"""


def reproducer_script(
    *,
    title: str,
    imports: Iterable[str],
    setup: str,
    call: str,
    values: str,
    module: str = "np",
) -> str:
    """A standalone script: a comment line, imports, ``setup`` (input literals), ``call``
    (assigns ``out``), then prints ``values`` (an expression turning ``out`` into a NumPy
    array, exactly) with ``repr`` and as ``float.hex`` strings on a line starting "hex:"."""
    unique: list[str] = []
    for line in imports:
        if line not in unique:
            unique.append(line)
    head = f"# {title}\n" + "\n".join(unique) + "\n\n"
    return head + setup + call.rstrip("\n") + "\n" + PRINT_RESULT.format(values=values, np=module)


def parse_reproducer_output(stdout: str) -> np.ndarray:
    """The float64 values a reproducer printed on its "hex:" line (for tests and reports)."""
    import ast

    for line in stdout.splitlines():
        if line.startswith("hex: "):
            return np.array([float.fromhex(h) for h in ast.literal_eval(line[5:])])
    raise ValueError("no 'hex:' line in reproducer output")


def callable_reference(fn: Any) -> tuple[list[str], str]:
    """Import lines and an expression that name ``fn`` in a standalone script.

    Functions reachable as ``module.qualname`` are imported by module; functions of a module
    loaded from a file path (``--impl path/to/file.py:fn``) are loaded from that file.
    """
    import sys

    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if module and qualname and "<" not in qualname:
        loaded = sys.modules.get(module)
        if loaded is not None and not module.startswith("_verify_user_"):
            return [f"import {module}"], f"{module}.{qualname}"
        filename = getattr(loaded, "__file__", None)
        if filename:
            lines = [
                "import importlib.util",
                f"_spec = importlib.util.spec_from_file_location('user_impl', {filename!r})",
                "user_impl = importlib.util.module_from_spec(_spec)",
                "_spec.loader.exec_module(user_impl)",
            ]
            return lines, f"user_impl.{qualname}"
    raise ValueError(f"cannot name {fn!r} in a standalone script")


def complete(op: str, kwargs: Mapping[str, Any], framework: str) -> dict[str, Any]:
    """The reference kwargs with defaults filled in (:func:`with_defaults`), for frameworks
    whose result has the input's dtype: an ``out_dtype`` other than the input's is
    Unsupported ("``framework`` returns the input's dtype")."""
    given = dict(kwargs)
    out_dtype = given.pop("out_dtype", None)
    full = with_defaults(op, given)
    first = np.asarray(full[primary_name(op)])
    if out_dtype is not None and np.dtype(out_dtype) != first.dtype:
        raise Unsupported(f"{framework} returns the input's dtype; out_dtype cannot be chosen")
    return full


def class_last(a: np.ndarray) -> np.ndarray:
    """The reference's class axis 1 moved last (the layout of optax, tf.nn and Keras)."""
    return np.moveaxis(a, 1, -1) if a.ndim >= 2 else a


#: the qualifier of the entries that keep the reference's class axis 1 (and pass the API
#: ``axis=1``) instead of moving it last (:func:`class_last`), and the variant they show
AXIS_1 = "[axis=1]"
AXIS_1_VARIANT = "axis=1: classes on the reference's axis 1, not moved last"


def class_first(a: np.ndarray) -> np.ndarray:
    """The inverse of :func:`class_last`: the last axis back to axis 1."""
    return np.moveaxis(a, -1, 1) if a.ndim >= 2 else a


def require(condition: bool, reason: str) -> None:
    """Raise Unsupported(``reason``) unless ``condition`` holds."""
    if not condition:
        raise Unsupported(reason)


#: e^-100: PyTorch's BCELoss and MLX's binary_cross_entropy clamp log(p) and log(1 - p) at
#: -100, so a probability (or 1 - probability) below it gives a clamped term
BCE_LOG_FLOOR = math.exp(-100.0)


def bce_log_clamped(kwargs: Mapping[str, Any]) -> bool:
    """Whether a clamp of log(p) and log(1 - p) at -100 changes a term of the binary
    cross-entropy that counts (a term whose coefficient, target or 1 - target, is not zero)."""
    p = np.asarray(kwargs["input"]).astype(np.float64)
    t = np.asarray(kwargs["target"]).astype(np.float64)
    with np.errstate(invalid="ignore"):
        low = (p < BCE_LOG_FLOOR) & (t != 0)
        high = ((1.0 - p) < BCE_LOG_FLOOR) & (t != 1)
    return bool(np.any(low | high))
