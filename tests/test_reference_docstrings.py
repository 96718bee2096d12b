"""The public reference functions' docstrings: complete sections, every shared one filled in."""

from __future__ import annotations

import inspect
import re

import pytest

import reference
from reference import _docstrings

PUBLIC_FUNCTIONS = [
    getattr(reference, name)
    for name in reference.__all__
    if inspect.isfunction(getattr(reference, name))
]


def _section(doc: str, header: str) -> str:
    """The text of the ``header`` section (up to the next section or the end)."""
    after = doc.split(f"\n{header}\n", 1)[1]
    return re.split(r"\n(?:Args|Returns|Raises):\n", after, maxsplit=1)[0]


@pytest.mark.parametrize("f", PUBLIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_docstring_has_filled_sections(f):
    raw = f.__doc__
    assert raw, f.__name__
    assert "%(" not in raw, "a placeholder was left unfilled"
    assert all(len(line) <= 100 for line in raw.split("\n")), "a line runs past 100 columns"
    doc = inspect.cleandoc(raw)
    for header in ("Args:", "Returns:", "Raises:"):
        assert f"\n{header}\n" in doc, f"{f.__name__} lacks {header}"
        assert _section(doc, header).strip(), f"{f.__name__}: {header} is empty"
    args = _section(doc, "Args:")
    for name in inspect.signature(f).parameters:
        assert re.search(rf"(?:^|[ ,]){name}[,:]", args, re.M), f"{f.__name__}: {name} undocumented"


def test_vjp_sections_follow_the_signature():
    doc = inspect.cleandoc(reference.binary_cross_entropy_with_logits_grad.__doc__)
    args = _section(doc, "Args:")
    # the parameters but grad_output, in signature order, then grad_output
    assert args.startswith("    input, target, weight, reduction, pos_weight, out_dtype: As for")
    assert "    grad_output: The cotangent" in args
    raises = _section(doc, "Raises:")
    assert "CertificationError: As for :func:`binary_cross_entropy_with_logits`." in raises
    # nll_loss decides every value exactly: its VJP raises no CertificationError
    assert "CertificationError" not in reference.nll_loss_grad.__doc__


def test_fill_wraps_and_indents_entries():
    entry = "name: " + " ".join(["word"] * 40)
    doc = "Summary.\n\n    Args:\n        %(x)s\n        other: Text.\n    "
    filled = _docstrings._fill(doc, {"x": (entry,)})
    lines = filled.split("\n")
    body = lines[3 : lines.index("        other: Text.")]
    assert len(body) > 1
    assert body[0].startswith("        name: word")
    assert all(line.startswith("            word") for line in body[1:])  # hanging indent
    assert all(len(line) <= 100 for line in body)
    assert " ".join(line.strip() for line in body) == entry
    assert filled.endswith("\n    ")


def test_fill_rejects_unknown_and_inline_placeholders():
    with pytest.raises(KeyError):
        _docstrings._fill("    Args:\n        %(no_such_section)s\n", {})
    with pytest.raises(ValueError):
        _docstrings._fill("    Returns:\n        Text %(out_dtype)s.\n", _docstrings.SECTIONS)
