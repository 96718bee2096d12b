"""Python source that rebuilds NumPy arrays bit for bit, for standalone reproducers.

A reproducer must show the framework exactly the inputs that broke it, so values are never
printed in decimal (``repr`` of a float32 is the shortest string that rounds back to it, which is
exact but easy to mangle) nor rebuilt from a seed.  Small arrays are written element by element
as ``float.hex`` strings (https://docs.python.org/3/library/stdtypes.html#float.hex): the
value is a float64 holding the element exactly, then cast to the element dtype, which is exact
because every float16, bfloat16 and float32 value is a float64 value.  ``nan``, ``inf`` and
``-inf`` are spelled the way ``float.fromhex`` reads them.  A NaN whose bits the cast would not
reproduce (sign, payload) makes the array fall back to its raw bit patterns.  Arrays with more
than :data:`EXACT_LITERAL_LIMIT` elements are written as the zlib-compressed, base64-encoded
little-endian bytes with their dtype and shape.

bfloat16 is ``ml_dtypes.bfloat16`` (https://github.com/jax-ml/ml_dtypes).
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import ml_dtypes
import numpy as np

#: arrays with more elements than this are written as compressed bytes, not element lists
EXACT_LITERAL_LIMIT = 2000

_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
_UINT_OF_SIZE = {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64"}


def dtype_literal(dtype: np.dtype[Any], module: str = "np") -> str:
    """Source for ``dtype``: ``np.float32``, ``ml_dtypes.bfloat16``, ..."""
    dtype = np.dtype(dtype)
    if dtype == _BFLOAT16:
        return "ml_dtypes.bfloat16"
    if dtype.kind == "b":
        return f"{module}.bool_"
    if dtype.kind in "iuf" and dtype.isnative:
        return f"{module}.{dtype.name}"
    raise TypeError(f"no literal for dtype {dtype!r}")


def _shape_suffix(shape: tuple[int, ...]) -> str:
    return f".reshape({shape!r})" if len(shape) != 1 else ""


def _bits_literal(a: np.ndarray, module: str) -> str:
    uint = _UINT_OF_SIZE[a.dtype.itemsize]
    bits = a.reshape(-1).view(uint).tolist()
    hex_bits = ", ".join(f"0x{b:0{a.dtype.itemsize * 2}x}" for b in bits)
    return (
        f"{module}.array([{hex_bits}], dtype={module}.{uint})"
        f".view({dtype_literal(a.dtype, module)}){_shape_suffix(a.shape)}"
    )


def _bytes_literal(a: np.ndarray, module: str) -> str:
    little = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
    payload = base64.b64encode(zlib.compress(np.ascontiguousarray(little).tobytes(), 9))
    if a.dtype == _BFLOAT16:
        stored, view = "<u2", ".view(ml_dtypes.bfloat16)"
    else:
        stored, view = a.dtype.newbyteorder("<").str, ""
    return (
        f"{module}.frombuffer(zlib.decompress(base64.b64decode({payload.decode('ascii')!r})), "
        f"dtype={stored!r}){view}.reshape({a.shape!r}).copy()"
    )


def _short_hex(value: float) -> str:
    """``float.hex`` without the mantissa's trailing zeros ('0x1.8p+1', not '0x1.8000000000000p+1');
    ``float.fromhex`` reads both the same."""
    text = value.hex()
    if "p" not in text:
        return text  # inf, -inf, nan
    mantissa, exponent = text.split("p")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}p{exponent}"


def _float_elements_exact(a: np.ndarray) -> bool:
    """Whether float64 -> a.dtype of the hex values rebuilds ``a``'s bits (NaN payloads)."""
    flat = a.reshape(-1)
    spelled = [float.fromhex(_short_hex(float(v))) for v in flat.astype(np.float64)]
    rebuilt = np.array(spelled, dtype=np.float64).astype(a.dtype)
    uint = _UINT_OF_SIZE[a.dtype.itemsize]
    return bool(np.array_equal(rebuilt.view(uint), flat.view(uint)))


def array_literal(a: np.ndarray, module: str = "np") -> str:
    """Python source (an expression) that rebuilds ``a`` bit for bit: same dtype, shape, bits.

    ``module`` is the name NumPy is bound to in the reproducer.  The source may also need
    ``ml_dtypes`` (bfloat16) and ``base64``/``zlib`` (large arrays): see :func:`imports_for`.
    """
    a = np.asarray(a)
    dtype = a.dtype
    if a.size > EXACT_LITERAL_LIMIT:
        return _bytes_literal(a, module)
    flat = a.reshape(-1)
    if dtype.kind == "f" or dtype == _BFLOAT16:
        if not _float_elements_exact(a):
            return _bits_literal(a, module)
        hexes = ", ".join(repr(_short_hex(float(v))) for v in flat.astype(np.float64))
        return (
            f"{module}.array([float.fromhex(h) for h in ({hexes}{',' if flat.size == 1 else ''})],"
            f" dtype={module}.float64).astype({dtype_literal(dtype, module)})"
            f"{_shape_suffix(a.shape)}"
        )
    if dtype.kind in "iub":
        items = ", ".join(repr(v) for v in flat.tolist())
        dtype_source = dtype_literal(dtype, module)
        return f"{module}.array([{items}], dtype={dtype_source}){_shape_suffix(a.shape)}"
    raise TypeError(f"no literal for array of dtype {dtype!r}")


def _float_literal(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return f"float({str(value)!r})"
    return repr(value)  # repr of a Python float reads back to the same float


def value_literal(value: Any, module: str = "np") -> str:
    """Source for an argument value: arrays, NumPy scalars, Python scalars, None, strings and
    tuples/lists of those."""
    if isinstance(value, np.ndarray):
        return array_literal(value, module)
    if isinstance(value, np.generic):
        if isinstance(value, np.bool_):
            return repr(bool(value))
        if isinstance(value, np.integer):
            return repr(int(value))
        scalar = array_literal(np.asarray(value).reshape(1), module)
        return f"{scalar}[0]"
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return repr(value)
    if isinstance(value, float):
        return _float_literal(value)
    if isinstance(value, tuple):
        inner = ", ".join(value_literal(v, module) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, list):
        return "[" + ", ".join(value_literal(v, module) for v in value) + "]"
    raise TypeError(f"no literal for {type(value).__name__}")


def _walk(values: Iterable[Any]) -> Iterable[Any]:
    for value in values:
        if isinstance(value, tuple | list):
            yield from _walk(value)
        elif isinstance(value, Mapping):
            yield from _walk(value.values())
        else:
            yield value


def imports_for(values: Iterable[Any], module: str = "np") -> list[str]:
    """The import lines the literals of ``values`` need (NumPy always, since it is cheap)."""
    lines = ["import numpy" if module == "numpy" else f"import numpy as {module}"]
    arrays = [np.asarray(v) for v in _walk(values) if isinstance(v, np.ndarray | np.generic)]
    if any(a.size > EXACT_LITERAL_LIMIT for a in arrays):
        lines[:0] = ["import base64", "import zlib"]
    if any(a.dtype == _BFLOAT16 for a in arrays):
        lines.append("import ml_dtypes")
    return lines


def kwargs_literal(kwargs: Mapping[str, Any], module: str = "np", indent: str = "    ") -> str:
    """Source for ``dict(key=value, ...)`` with one argument per line."""
    if not kwargs:
        return "dict()"
    body = "".join(f"{indent}{k}={value_literal(v, module)},\n" for k, v in kwargs.items())
    return f"dict(\n{body})"


def assignments(kwargs: Mapping[str, Any], module: str = "np") -> str:
    """Source binding each keyword to a variable of the same name, one per line."""
    return "".join(f"{k} = {value_literal(v, module)}\n" for k, v in kwargs.items())
