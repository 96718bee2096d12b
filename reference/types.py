"""The literal and alias types of the public reference signatures (``docs/contract.md`` section 2).

Each is defined once here; the tuples of allowed values that the argument checks use are read
from the literals, so a signature and its check cannot disagree.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from numpy.typing import DTypeLike

from reference.formats import Format

#: ``reduction`` of the losses: per element (or per row) values, their exact sum, or their
#: exact mean (PyTorch's names).
Reduction: TypeAlias = Literal["none", "sum", "mean"]

#: ``reduction`` of :func:`reference.kl_div`: also ``batchmean``, the sum divided by the size of
#: the first dimension (``torch.nn.functional.kl_div``).
KLReduction: TypeAlias = Literal["none", "sum", "mean", "batchmean"]

#: ``out_dtype``: ``None`` (the input's format) or one of float16, bfloat16, float32, float64
#: named by a NumPy dtype-like (``np.float32``, ``ml_dtypes.bfloat16``, ``"bfloat16"``) or a
#: :class:`reference.Format`.  At run time a framework dtype whose ``str`` names one of the
#: four formats (``torch.float16``, ``tf.float32``) is accepted too; anything else raises
#: :class:`TypeError` (:func:`reference.formats.format_of`).
OutDtype: TypeAlias = DTypeLike | Format | None

#: The allowed values of :data:`Reduction` and :data:`KLReduction`, in that order.
REDUCTIONS: tuple[Reduction, ...] = get_args(Reduction)
KL_REDUCTIONS: tuple[KLReduction, ...] = get_args(KLReduction)
