"""Correctly rounded reference values of a case: forward and vector-Jacobian product, and the
output shape a case has (for drawing ``grad_output``).

The checks of one run evaluate the same case more than once (Hypothesis replays the shrunk
example, ``special_values`` and ``extreme_range`` judge forward and gradient of one draw, and
``cross_framework`` asks the reference again on a disagreement), so the values are kept in a
bounded in-process memo keyed by the reference function, every argument's bytes, dtype and
shape, and the options.  The reference is deterministic, so a hit returns what a fresh call
would.  A reference call that raises is not remembered.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from verify.engine.outcome import call_reference
from verify.judge import tangent
from verify.ops import output_shape

#: the most entries the memo keeps (least recently used evicted first)
MEMO_ENTRIES = 512
#: the most array bytes (keys and values together) the memo keeps
MEMO_BYTES = 64 * 2**20


@dataclasses.dataclass
class MemoStats:
    """Counts of the memo since the process started (or :func:`clear_memo`)."""

    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


_memo: collections.OrderedDict[Hashable, tuple[Any, int]] = collections.OrderedDict()
_memo_bytes = 0
_stats = MemoStats()


def memo_stats() -> MemoStats:
    """The memo's hit and miss counts (a copy)."""
    return dataclasses.replace(_stats)


def clear_memo() -> None:
    """Forget every remembered value and reset the counts."""
    global _memo_bytes
    _memo.clear()
    _memo_bytes = 0
    _stats.hits = _stats.misses = 0


def forward(op: str, kwargs: Mapping[str, Any], dtype: str) -> np.ndarray:
    """``reference.<op>(**kwargs, out_dtype=dtype)`` as an array."""
    out = _remembered(op, False, dtype, kwargs, None)
    return np.asarray(out)


def gradient(op: str, kwargs: Mapping[str, Any], grad_output: np.ndarray, dtype: str) -> Any:
    """``reference.<op>_grad(**kwargs, grad_output=grad_output, out_dtype=dtype)``: an array,
    or a tuple of arrays (``linear_cross_entropy``: input, linear_weight, linear_bias)."""
    return _remembered(op, True, dtype, kwargs, grad_output)


def one_hot_jvp(op: str, kwargs: Mapping[str, Any], k: tuple[int, ...], dtype: str) -> np.ndarray:
    """The correctly rounded forward-mode derivative ``J e_k`` of ``op`` w.r.t. its first
    argument along the one-hot tangent at input element ``k``, shaped like the output:
    each element one element of a reference VJP (one call, :func:`verify.judge.tangent.probe`),
    exact zeros where the output does not depend on ``x_k``."""
    p = tangent.probe(op, kwargs, k)
    vjp = gradient(op, p.kwargs, p.cotangent, dtype)
    first = vjp[0] if isinstance(vjp, tuple) else vjp
    return tangent.gather(p, first, output_shape(op, kwargs), 0.0)


def _remembered(
    op: str, grad: bool, dtype: str, kwargs: Mapping[str, Any], grad_output: Any
) -> Any:
    global _memo_bytes
    key, key_bytes = _key(op, grad, dtype, kwargs, grad_output)
    found = _memo.get(key)
    if found is not None:
        _memo.move_to_end(key)
        _stats.hits += 1
        return _copy(found[0])
    _stats.misses += 1
    if grad:
        out = call_reference(op, grad=True, grad_output=grad_output, out_dtype=dtype, **kwargs)
        value: Any = (
            tuple(np.asarray(o) for o in out) if isinstance(out, tuple | list) else np.asarray(out)
        )
    else:
        value = np.asarray(call_reference(op, out_dtype=dtype, **kwargs))
    size = key_bytes + _nbytes(value)
    if size <= MEMO_BYTES:
        _memo[key] = (_copy(value), size)
        _memo_bytes += size
        while len(_memo) > MEMO_ENTRIES or _memo_bytes > MEMO_BYTES:
            _, (_, dropped) = _memo.popitem(last=False)
            _memo_bytes -= dropped
    return value


def _key(
    op: str, grad: bool, dtype: str, kwargs: Mapping[str, Any], grad_output: Any
) -> tuple[Hashable, int]:
    parts: list[Hashable] = [op, grad, str(dtype)]
    size = 0
    items = sorted(kwargs.items())
    if grad_output is not None:
        items.append(("grad_output", grad_output))
    for name, value in items:
        if isinstance(value, np.ndarray | np.generic):
            a = np.ascontiguousarray(value)
            parts.append((name, a.dtype.str, a.dtype.name, a.shape, a.tobytes()))
            size += a.nbytes
        else:
            parts.append((name, type(value).__name__, repr(value)))
    return tuple(parts), size


def _nbytes(value: Any) -> int:
    if isinstance(value, tuple):
        return sum(int(v.nbytes) for v in value)
    return int(value.nbytes)


def _copy(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(v.copy() for v in value)
    return value.copy()


__all__ = [
    "MEMO_BYTES",
    "MEMO_ENTRIES",
    "MemoStats",
    "clear_memo",
    "forward",
    "gradient",
    "memo_stats",
    "one_hot_jvp",
    "output_shape",
]
