"""A failure of the vector-Jacobian product gets a reproducer that computes that product: the
entry's ``gradient_reproducer`` with the failing cotangent, or (an entry without one) its
forward script and a line naming the cotangent."""

from __future__ import annotations

import dataclasses

import numpy as np

from tests import fake_log_softmax
from verify import ops
from verify.checks import gradient
from verify.judge import reference_values as refv
from verify.registry.base import Implementation


def _zero_vjp(kwargs, grad_output, device):  # wrong: the gradient is never all zero here
    return np.zeros_like(kwargs["x"])


def _entry(**fields) -> Implementation:
    return fake_log_softmax.entry(**{"vjp": _zero_vjp, **fields})


def test_a_vjp_failure_reproduces_the_product() -> None:
    seen = []

    def gradient_script(kwargs, grad_output, device):
        seen.append(np.asarray(grad_output))
        return "# GRADIENT SCRIPT\n"

    impl = _entry(gradient_reproducer=gradient_script)
    result = gradient.run(impl, "float32", "cpu", profile="quick", seed=0)
    assert result.status == "fail", result.message
    assert result.reproducer.startswith("# GRADIENT SCRIPT")
    assert "FORWARD SCRIPT" not in result.reproducer and seen


def test_without_a_gradient_reproducer_the_cotangent_is_named() -> None:
    impl = dataclasses.replace(_entry(), gradient_reproducer=None)
    result = gradient.run(impl, "float32", "cpu", profile="quick", seed=0)
    assert result.status == "fail", result.message
    assert result.reproducer.startswith("# FORWARD SCRIPT")
    assert "vector-Jacobian product with grad_output" in result.reproducer


def _reference_jvp(kwargs, tangent, device):  # right: the reference's column of the Jacobian
    k = tuple(int(i) for i in np.argwhere(np.asarray(tangent, np.float64) != 0)[0])
    return refv.one_hot_jvp(ops.LOG_SOFTMAX, kwargs, k, "float32")


def test_a_vjp_failure_beside_a_right_jvp_keeps_its_cotangent() -> None:
    """Judged together with a forward mode that passes, the failing vjp still gets the
    gradient script and its cotangent (the jvp's tangent is not what failed)."""
    seen = []

    def gradient_script(kwargs, grad_output, device):
        seen.append(np.asarray(grad_output))
        return "# GRADIENT SCRIPT\n"

    impl = _entry(
        gradient_reproducer=gradient_script,
        jvp=_reference_jvp,
        jvp_reproducer=lambda kwargs, tangent, device: "# JVP SCRIPT\n",
    )
    result = gradient.run(impl, "float32", "cpu", profile="quick", seed=0)
    assert result.status == "fail", result.message
    assert result.extra["forward_mode"] == "checked"
    assert not result.message.startswith("forward-mode"), result.message
    assert result.reproducer.startswith("# GRADIENT SCRIPT") and seen
    assert "jvp along e_k" not in result.reproducer
