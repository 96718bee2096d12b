"""Test scaffolding: torch tensors to NumPy arrays and back, bfloat16 kept exact (NumPy's
bfloat16 is ``ml_dtypes.bfloat16``, which torch cannot share memory with)."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest

torch = pytest.importorskip("torch")


def to_numpy(t: Any) -> Any:
    """``t`` as a NumPy array (detached; bfloat16 as ``ml_dtypes.bfloat16``); a value that is
    not a tensor is returned as it is."""
    if not isinstance(t, torch.Tensor):
        return t
    t = t.detach()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(ml_dtypes.bfloat16)
    return t.numpy()


def to_torch(a: Any, dtype: Any) -> Any:
    """``a`` as a CPU tensor of ``dtype`` (a bfloat16 array as torch.bfloat16; a 0-d array
    stays 0-d)."""
    a = np.asarray(a)
    if a.dtype == ml_dtypes.bfloat16:
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(a, copy=True)).to(dtype)
