"""The tier driver: float64, then double-double, then exact, until every output is certified.

An operation supplies a vectorised formula over :class:`~reference.lse.RowStats` (evaluated in
the float64 tier and, where that does not certify, in the double-double tier) and a scalar
formula over :class:`~reference.lse.ExactRow` (the exact tier, run under Ziv's loop for the
few elements still undecided).  Rows are processed in chunks of about :data:`CHUNK` elements,
so memory stays a small multiple of one chunk whatever the input's size.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from reference.arrays import widen
from reference.enclosure import Enc
from reference.exact import XVal, ziv
from reference.formats import FLOAT64, Format
from reference.lse import ExactRow, RowStats, row_stats
from reference.rounding import certify

CHUNK = 1 << 20

VecFn = Callable[[RowStats, np.ndarray, bool], Enc]
ElemFn = Callable[[ExactRow, int, int], XVal | float]
RowFn = Callable[[ExactRow, int], XVal]

#: counters of how many outputs each tier decided (for the docs and the closing figures)
STATS = {"f64": 0, "f64acc": 0, "dd": 0, "exact": 0}

#: (name, double-double?, accurate row sums?) of the vectorised tiers, in order
_F64 = ("f64", False, False)
_F64ACC = ("f64acc", False, True)
_DD = ("dd", True, False)


def _tiers(fmt: Format) -> list[tuple[str, bool, bool]]:
    return [_DD] if fmt is FLOAT64 else [_F64, _F64ACC, _DD]


def elementwise(
    x2: np.ndarray,
    fmt: Format,
    vec: VecFn,
    elem: ElemFn,
    per_row: bool = False,
    exact_rows: Callable[[int], list[Fraction]] | None = None,
) -> np.ndarray:
    """Evaluate an output of shape (R, C) (or (R,) when ``per_row``) for the regular rows
    ``x2`` (any supported dtype); returns it in ``fmt``'s dtype.  Rows are widened to float64
    one chunk at a time.

    ``exact_rows(r)``, when given, returns row ``r``'s exact values for the exact tier (when
    ``x2`` only approximates them; ``vec`` must then widen its bounds accordingly)."""
    R, C = x2.shape
    out = np.empty((R,) if per_row else (R, C), dtype=fmt.dtype)
    step = max(1, CHUNK // max(C, 1))
    for start in range(0, R, step):
        rows = np.arange(start, min(R, start + step))
        buf = np.empty((len(rows),) if per_row else (len(rows), C))
        _chunk(x2, rows, fmt, vec, elem, per_row, buf, exact_rows)
        out[rows] = buf.astype(fmt.dtype)  # exact: the values are representable
    return out


def _chunk(x2, rows, fmt, vec, elem, per_row, buf, exact_rows=None) -> None:  # type: ignore[no-untyped-def]
    """Decide the outputs of ``rows`` into ``buf`` (float64, indexed from ``rows[0]``)."""
    done = None
    pending = rows
    base = rows[0]
    xw = widen(x2[rows[0] : rows[-1] + 1])
    for name, dd, acc in _tiers(fmt):
        st = row_stats(xw[pending - base], dd, acc)
        with np.errstate(all="ignore"):
            enc = vec(st, pending, dd)
            ok, vals = certify(enc.h, enc.l, enc.r, fmt)
        if done is None:
            buf[...] = vals
            done = ok
            decided = ok
        else:
            decided = ~done[pending - base] & ok  # only what earlier tiers left open
            cur = buf[pending - base]
            cur[decided] = vals[decided]
            buf[pending - base] = cur
            done[pending - base] |= ok
        STATS[name] += int(np.sum(decided))
        if np.all(done):
            return
        bad_rows = ~done if per_row else ~np.all(done, axis=-1)
        pending = rows[bad_rows]
    assert done is not None  # every format has at least one tier
    # the exact tier, element by element
    for r in rows[~done if per_row else ~np.all(done, axis=-1)]:
        er = ExactRow(exact_rows(int(r)) if exact_rows else xw[r - base])
        if per_row:
            buf[r - base] = ziv(functools.partial(elem, er, int(r), -1), fmt)
            STATS["exact"] += 1
            continue
        for i in np.flatnonzero(~done[r - base]):
            buf[r - base, i] = ziv(functools.partial(elem, er, int(r), int(i)), fmt)
            STATS["exact"] += 1


def reduce_rows(
    x2: np.ndarray,
    fmt: Format,
    vec: Callable[[RowStats, np.ndarray, bool], Enc],
    row: RowFn,
    divisor: Fraction,
    extra: Fraction = Fraction(0),
) -> float:
    """Certified ``(extra + sum_r term_r) / divisor`` over the regular rows of ``x2``.

    ``vec`` returns the per-row terms of a chunk; ``row`` one row's exact term.
    """
    R, C = x2.shape
    step = max(1, CHUNK // max(C, 1))
    dh, dl = float(divisor), float(divisor - Fraction(float(divisor)))
    drad = float(abs(divisor - Fraction(dh) - Fraction(dl))) * 2
    for name, dd, accurate in _tiers(fmt):
        acc = Enc.exact(np.array([float(extra)]), True)
        acc.l = np.array([float(extra - Fraction(float(extra)))])
        acc.r = np.array([float(abs(extra - Fraction(acc.h[0]) - Fraction(acc.l[0]))) * 2])
        for start in range(0, R, step):
            rows = np.arange(start, min(R, start + step))
            st = row_stats(widen(x2[start : start + len(rows)]), dd, accurate)
            with np.errstate(all="ignore"):
                terms = vec(st, rows, dd)
            if not dd:
                terms = Enc(terms.h, np.zeros_like(terms.h), terms.r, True)
            s = terms.bcast(terms.h.shape).sum_last() if terms.h.ndim else terms
            s = Enc(np.atleast_1d(s.h), np.atleast_1d(s.l), np.atleast_1d(s.r), True)
            acc = acc + s
        with np.errstate(all="ignore"):
            val = acc / Enc(np.array([dh]), np.array([dl]), np.array([drad]), True)
            ok, v = certify(val.h, val.l, val.r, fmt)
        if ok[0]:
            STATS[name] += 1
            return float(v[0])

    def exact() -> XVal:
        total = XVal.of(extra)
        for r in range(R):
            total = total + row(ExactRow(widen(x2[r])), r)
        return total / XVal.of(divisor)

    STATS["exact"] += 1
    return ziv(exact, fmt, "reduction")
