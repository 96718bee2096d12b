"""The docstring sections that the public reference functions share, each written once.

A loss's docstring names a shared section by a placeholder ``%(name)s`` standing alone on its
line (the spelling of pandas' ``Substitution``), and :func:`fill_doc` replaces it by the
entries of :data:`SECTIONS`.  A vector-Jacobian product's docstring holds only its summary and
its mathematics: :func:`vjp_doc` appends the Args, Returns and Raises sections every VJP
shares, stated in terms of the function it differentiates and of the decorated signature.
Every entry is wrapped to the source's 100 columns and indented like its placeholder, the
continuation lines of an ``Args`` or ``Raises`` entry by four more spaces, so ``help()`` shows
complete sections.  An unknown name raises :class:`KeyError` and a placeholder sharing its
line with other text :class:`ValueError`, both at import: no docstring is left half filled.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: the width of a section's text: 100 columns less the 8 its body is indented by in the source
_WIDTH = 92
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
#: the section headers whose entries (``name: text``) continue on hanging-indented lines
_ENTRY_HEADERS = ("Args:", "Raises:")

#: what a dtype check rejects (:func:`reference.arrays.as_native_array`)
_BAD_DTYPE = "has an integer or boolean dtype or a format other than the four"
_BAD_OUT_DTYPE = "``out_dtype`` names none of them"
#: the ``out_dtype`` entry, for a function whose first argument is ``{}``
_OUT_DTYPE = "out_dtype: The output format (:data:`reference.types.OutDtype`); ``None``: ``{}``'s."
_CERTIFICATION_ERROR = (
    "CertificationError: A value the exact tier could not certify (none unproven is returned)."
)

#: the shared sections: each a tuple of entries (one paragraph each)
SECTIONS: dict[str, tuple[str, ...]] = {
    # --- Args entries of the losses
    "out_dtype": (_OUT_DTYPE.format("input"),),
    "probability_target": (r"target: Probabilities :math:`y \in [0, 1]`, shaped like ``input``.",),
    "elementwise_weight": (
        r"weight: Weights :math:`w` broadcast to ``input``'s shape (``None``: ones).",
    ),
    "elementwise_reduction": (
        "reduction: ``none`` (one value per element), ``sum`` or ``mean`` (over all elements).",
    ),
    "class_weight": ("weight: Class weights of shape (C,) (``None``: ones).",),
    "ignore_index": (
        "ignore_index: A target value whose rows contribute exactly 0 (loss and gradient).",
    ),
    # --- Returns of the losses
    "elementwise_returns": (
        "``input``'s shape for ``none``, else a 0-d array, in the output format; the exact value "
        "rounded once.",
    ),
    "row_returns": (
        "The per-row losses of shape (N, d1, ..., dk) (() unbatched) for ``none``, else a 0-d "
        "array, in the output format; the exact value rounded once.",
    ),
    # --- Raises entries of the losses
    "elementwise_errors": (
        f"TypeError: An array argument {_BAD_DTYPE}, or {_BAD_OUT_DTYPE}.",
        _CERTIFICATION_ERROR,
    ),
    "certification_error": (_CERTIFICATION_ERROR,),
    # --- the softmax family (an array ``x`` reduced or normalised along ``axis``)
    "rows_x": ("x: Floating-point array, at least one dimension (a torch tensor is read too).",),
    "rows_out_dtype": (_OUT_DTYPE.format("x"),),
    "rows_raises": (
        "ValueError: ``x`` is 0-d, or ``axis`` is out of range.",
        f"TypeError: ``x`` {_BAD_DTYPE}, or {_BAD_OUT_DTYPE}.",
        _CERTIFICATION_ERROR,
    ),
}

#: the shapes a VJP's ``grad_output`` takes: (what it is shaped like, how a wrong one is put);
#: ``{of}`` is the differentiated function's name
Cotangent = Literal["input", "loss", "x", "output"]
_COTANGENTS: dict[str, tuple[str, str]] = {
    "input": (
        "shaped like ``input`` for ``none``, a scalar otherwise",
        "has the wrong shape (the input's for ``none``, a scalar otherwise)",
    ),
    "loss": (
        "shaped like the loss for ``none``, a scalar otherwise",
        "has the wrong shape (the loss's for ``none``, a scalar otherwise)",
    ),
    "x": ("shaped like ``x``", "has another shape than ``x``"),
    "output": ("shaped like :func:`{of}`'s output", "has another shape than the output"),
}


def _fill(doc: str, sections: Mapping[str, tuple[str, ...]]) -> str:
    """``doc`` with each placeholder line replaced by its section's wrapped entries."""
    out: list[str] = []
    header = ""
    for line in doc.split("\n"):
        text = line.strip()
        if text.endswith(":") and " " not in text:
            header = text
        names = _PLACEHOLDER.findall(line)
        if not names:
            out.append(line)
            continue
        if text != f"%({names[0]})s":
            raise ValueError(f"a docstring placeholder must stand alone on its line: {text!r}")
        if names[0] not in sections:
            raise KeyError(f"no docstring section named {names[0]!r}")
        indent = line[: len(line) - len(line.lstrip())]
        hanging = "    " if header in _ENTRY_HEADERS else ""
        for entry in sections[names[0]]:
            wrapped = textwrap.wrap(
                entry,
                _WIDTH,
                subsequent_indent=hanging,
                break_long_words=False,
                break_on_hyphens=False,
            )
            out.extend(indent + w for w in wrapped)
    return "\n".join(out)


def fill_doc(f: F) -> F:
    """Fill the placeholders of ``f``'s docstring from :data:`SECTIONS`."""
    f.__doc__ = _fill(f.__doc__ or "", SECTIONS)
    return f


#: the sections every VJP's docstring ends with
_VJP_SECTIONS = """
Args:
    %(vjp_args)s

Returns:
    %(vjp_returns)s

Raises:
    %(vjp_raises)s
"""


def vjp_doc(
    of: Callable[..., Any],
    cotangent: Cotangent,
    *,
    exact_tier: bool = True,
    returns: str | None = None,
    note: str = "",
) -> Callable[[F], F]:
    """Complete the docstring of the VJP of ``of`` (its summary and mathematics) with the
    sections every VJP shares, stated in terms of ``of`` and of the decorated signature:

    * Args: its parameters but ``grad_output``, in signature order, "as for" ``of``, then
      ``grad_output`` shaped as ``cotangent`` says;
    * Returns: ``returns``, by default the first parameter's shape with each element the
      exact value rounded once, followed by ``note``;
    * Raises: ``of``'s errors, a wrongly shaped or typed ``grad_output``, and (with
      ``exact_tier``, where a value can need the exact tier) :class:`CertificationError`.
    """
    name = of.__name__
    shaped, wrong = (s.format(of=name) for s in _COTANGENTS[cotangent])

    def decorate(f: F) -> F:
        params = [p for p in inspect.signature(f).parameters if p != "grad_output"]
        raises = [
            f"ValueError: As for :func:`{name}`, or ``grad_output`` {wrong}.",
            f"TypeError: As for :func:`{name}`, or ``grad_output`` {_BAD_DTYPE}.",
        ]
        if exact_tier:
            raises.append(f"CertificationError: As for :func:`{name}`.")
        default = (
            f"``{params[0]}``'s shape, in the output format, each element the exact value "
            "rounded once."
        )
        own = {
            "vjp_args": (
                f"{', '.join(params)}: As for :func:`{name}`.",
                f"grad_output: The cotangent :math:`g`, {shaped} (``None``: ones).",
            ),
            "vjp_returns": (f"{returns or default} {note}".strip(),),
            "vjp_raises": tuple(raises),
        }
        doc = (f.__doc__ or "").rstrip()
        body = [line for line in doc.split("\n")[1:] if line.strip()]
        indent = min(
            (line[: len(line) - len(line.lstrip())] for line in body), key=len, default="    "
        )
        sections = textwrap.indent(_VJP_SECTIONS, indent)
        f.__doc__ = doc + "\n" + _fill(sections, own) + indent
        return f

    return decorate
