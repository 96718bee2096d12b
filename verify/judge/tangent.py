"""Where the forward-mode derivative along a one-hot tangent lives, stated from the reference.

Let ``L`` be an op as a function of its first argument ``x`` (``x`` or ``input``; the other
arguments fixed) and ``e_k`` the tangent that is 1 at the input element ``k`` and 0 elsewhere.
The Jacobian-vector product is the column ``k`` of the Jacobian::

    (J e_k)_j = dL_j / dx_k = (J^T e_j)_k = (VJP of L with cotangent e_j)_k

so every element is one element of a reference vector-Jacobian product, which the reference
rounds correctly (``reference.<op>_grad``).  Only the outputs that depend on ``x_k`` can be
nonzero; the others are structurally zero:

- a reduced loss (``mean``, ``sum``, ``batchmean``): the output is the scalar ``L`` and
  ``J e_k = dL/dx_k``, element ``k`` of the VJP with cotangent 1;
- ``logsumexp``: only the value of ``x_k``'s row along ``axis`` depends on it;
- ``softmax`` and ``log_softmax``: the ``C`` outputs of ``x_k``'s row; the row is taken out
  and repeated ``C`` times, so the ``C`` VJPs with cotangents ``e_1 ... e_C`` are one reference
  call on a ``(C, C)`` array with the identity as cotangent (row ``i`` holds ``J^T e_i``);
- the class losses with ``reduction="none"``: the value at ``x_k``'s position, computed on
  that row alone (``input`` of shape ``(1, C)``, its target, the class weights as given);
- the elementwise losses with ``reduction="none"``: the value at ``k`` itself (the Jacobian is
  diagonal), element ``k`` of the VJP with cotangent ``e_k`` on the whole case.

So the reference side costs one VJP per example, on at most ``C x C`` elements for the
row-wise ops; no full Jacobian is ever formed.  :class:`Probe` is that one call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from verify import ops


@dataclasses.dataclass(frozen=True)
class Probe:
    """The reference VJP that holds ``J e_k``: take the VJP of the op on ``kwargs`` with
    ``cotangent``; then ``(J e_k)[outputs[i]] = vjp[sources[i]]`` (the VJP w.r.t. the first
    argument) and every other element of ``J e_k`` is exactly zero."""

    kwargs: dict[str, Any]
    cotangent: np.ndarray
    outputs: tuple[tuple[int, ...], ...]
    sources: tuple[tuple[int, ...], ...]


def tangent_index(op: str, kwargs: Mapping[str, Any], flat: int) -> tuple[int, ...]:
    """The input element ``k`` (an index into the first argument) numbered ``flat`` in C
    order."""
    shape = np.shape(kwargs[ops.spec(op).primary])
    return tuple(int(i) for i in np.unravel_index(int(flat), shape))


def one_hot(op: str, kwargs: Mapping[str, Any], k: tuple[int, ...]) -> np.ndarray:
    """The tangent ``e_k``: shaped and typed like the first argument, 1 at ``k``, 0 elsewhere."""
    x = np.asarray(kwargs[ops.spec(op).primary])
    v = np.zeros(x.shape, dtype=x.dtype)
    v[k] = 1
    return v


def probe(op: str, kwargs: Mapping[str, Any], k: tuple[int, ...]) -> Probe:
    """The one reference VJP that states ``J e_k`` for ``op`` on ``kwargs`` (see the module
    doc for the cases)."""
    s = ops.spec(op)
    x = np.asarray(kwargs[s.primary])
    dtype = x.dtype
    out_shape = ops.output_shape(op, kwargs)
    if s.family == "softmax_family":
        axis = int(kwargs.get("axis", s.defaults["axis"])) % x.ndim
        row_at: tuple[int | slice, ...] = (*k[:axis], slice(None), *k[axis + 1 :])
        row = x[row_at]
        c = row.shape[0]
        rest = tuple(i for d, i in enumerate(k) if d != axis)
        if s.output_rule == "drop_axis":  # logsumexp: one output, the row's value
            sub = {**kwargs, "x": row, "axis": 0}
            return Probe(sub, np.ones((), dtype), (rest,), ((k[axis],),))
        sub = {**kwargs, "x": np.ascontiguousarray(np.broadcast_to(row, (c, c))), "axis": 1}
        outputs = tuple((*rest[:axis], i, *rest[axis:]) for i in range(c))
        sources = tuple((i, k[axis]) for i in range(c))
        return Probe(sub, np.eye(c, dtype=dtype), outputs, sources)
    if out_shape == ():  # a reduced loss (or a single unbatched row): dL/dx_k
        return Probe(dict(kwargs), np.ones((), dtype), ((),), (k,))
    if s.family == "elementwise_loss":  # diagonal Jacobian
        e = np.zeros(out_shape, dtype=dtype)
        e[k] = 1
        return Probe(dict(kwargs), e, (k,), (k,))
    # a class loss with reduction="none": the row of x_k, alone; classes on axis 1
    position = (k[0], *k[2:])
    row_at = (k[0], slice(None), *k[2:])
    sub = dict(kwargs)
    sub[s.primary] = x[row_at][None]
    target = np.asarray(kwargs["target"])
    integer_target = np.issubdtype(target.dtype, np.integer)
    sub["target"] = target[position][None] if integer_target else target[row_at][None]
    return Probe(sub, np.ones((1,), dtype), (position,), ((0, k[1]),))


def dependent(op: str, kwargs: Mapping[str, Any], k: tuple[int, ...]) -> np.ndarray:
    """Boolean, shaped like the output: the elements of ``J e_k`` that may be nonzero (the
    outputs that depend on ``x_k``); every other element is structurally zero."""
    mask = np.zeros(ops.output_shape(op, kwargs), dtype=bool)
    for j in probe(op, kwargs, k).outputs:
        mask[j] = True
    return mask


def gather(p: Probe, vjp: np.ndarray, out_shape: tuple[int, ...], fill: float) -> np.ndarray:
    """``J e_k`` (or its bound) laid out like the output: ``vjp[sources[i]]`` at
    ``outputs[i]``, ``fill`` at the structural zeros; ``vjp`` is the probe's VJP (or its
    bound) w.r.t. the first argument."""
    vjp = np.asarray(vjp)
    out = np.full(out_shape, fill, dtype=vjp.dtype)
    for j, src in zip(p.outputs, p.sources, strict=True):
        out[j] = vjp[src]
    return out


def nonfinite_off_column(
    op: str, kwargs: Mapping[str, Any], k: tuple[int, ...], row_sums: np.ndarray
) -> np.ndarray:
    """Boolean, shaped like the output: the outputs ``i`` whose Jacobian row holds a
    non-finite entry ``J_ij`` at some input ``j != k`` of ``x_k``'s kind of row, by the
    reference's conventions (``docs/semantics.md``: a row whose own term is NaN or +inf has NaN
    derivatives).  ``row_sums`` is the reference VJP with every cotangent 1 (``J^T 1``), which
    is non-finite at input ``j`` exactly when some ``J_ij`` is; each output depends only on
    the inputs of its own row (the softmax family's row along ``axis``; a class loss's row of
    classes, axis 1; the input itself for the elementwise losses; every input for a reduced
    loss).

    Forward mode computes ``(J e_k)_i = sum_j J_ij (e_k)_j`` in IEEE arithmetic, so a NaN or an
    infinity at ``J_ij``, ``j != k``, times the tangent's 0 gives NaN where the column's exact
    entry is ``J_ik`` (0 at a structural zero); the semantics gives no convention for which of
    the two a forward mode must return there."""
    s = ops.spec(op)
    bad = ~np.isfinite(np.asarray(row_sums, dtype=np.float64))
    bad[k] = False
    out_shape = ops.output_shape(op, kwargs)
    if s.family == "softmax_family":
        axis = int(kwargs.get("axis", s.defaults["axis"])) % bad.ndim
        keep = s.output_rule != "drop_axis"
        return np.broadcast_to(bad.any(axis=axis, keepdims=keep), out_shape)
    if out_shape == ():
        return np.asarray(bad.any())
    if s.family == "elementwise_loss":
        return bad.reshape(out_shape)
    return bad.any(axis=1).reshape(out_shape)


__all__ = [
    "Probe",
    "dependent",
    "gather",
    "nonfinite_off_column",
    "one_hot",
    "probe",
    "tangent_index",
]
