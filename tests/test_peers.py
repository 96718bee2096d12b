"""The drop-in callables for third-party fused kernels (``verify.peers``)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from verify import peers
from verify.registry.base import Unsupported

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", sorted(peers.PEERS))
def test_signature_follows_the_api_it_replaces(name: str) -> None:
    like = peers.PEERS[name]
    api = getattr(torch.nn.functional, like.rsplit(".", 1)[1])
    ours = list(inspect.signature(getattr(peers, name)).parameters)
    theirs = [p for p in inspect.signature(api).parameters if p not in ("size_average", "reduce")]
    assert ours == [p for p in theirs if p in ours]
    assert set(theirs) - set(ours) <= {"options"}, "every option of the API is taken"


@pytest.mark.parametrize("name", sorted(peers.PEERS))
def test_like_names_are_registered(name: str) -> None:
    from verify.registry import get

    assert get(peers.PEERS[name]).framework == "torch"


def test_every_peer_names_the_module_of_its_kernel() -> None:
    assert set(peers.MODULES) == set(peers.PEERS)


@pytest.mark.parametrize("name", sorted(peers.PEERS))
def test_a_missing_kernel_module_is_unsupported_naming_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(peers.MODULES, name, "no_such_kernel_package")
    with pytest.raises(Unsupported, match="no_such_kernel_package is not importable here"):
        peers._module(name)


def test_cpu_tensors_are_unsupported_not_failures() -> None:
    x = torch.zeros((2, 3))
    t = torch.tensor([0, 1])
    with pytest.raises(Unsupported, match="CUDA"):
        peers.liger_cross_entropy(x, t)
    w = torch.zeros((3, 4))
    with pytest.raises(Unsupported, match="CUDA"):
        peers.cut_linear_cross_entropy(torch.zeros((2, 4)), w, t)


def test_through_like_a_cpu_run_skips_with_the_reason() -> None:
    from verify.registry.user import load_user_implementation
    from verify.session import run_check

    entry = load_user_implementation(
        "verify.peers:liger_cross_entropy", "torch.nn.functional.cross_entropy"
    )
    result = run_check(entry, "accuracy", "float32", "cpu", profile="quick", seed=0)
    assert result.status == "skip", result.message
    assert "CUDA" in result.message
    assert np.isfinite(result.examples)
