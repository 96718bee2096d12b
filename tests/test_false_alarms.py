"""No false alarms: results that agree with the reference pass every check.

Three kinds of implementation go through ``--impl MODULE:FUNCTION --like NAME`` (the same
factory, so the same arguments, tensors and torch autograd as the registered ``NAME``):

- the reference itself, behind a ``torch.autograd.Function`` whose backward is the reference's
  vector-Jacobian product: every check must pass in every dtype, identities and invariances
  included (the reference decides who is wrong when two results disagree);
- careful implementations of the stable algorithms (``tests/_np_formulas.py``), computing in
  the working precision of the dtype (float32 for float16/bfloat16/float32, float64 for
  float64) and rounding once;
- the same algorithms computed in float64 and rounded once, for float16, bfloat16 and float32
  inputs.

The careful and float64 log_softmax also offer forward mode (a ``jvp`` rule in PyTorch
operations, ``v - sum(softmax(x) v)``), so the gradient check judges their
``torch.func.jvp`` too; the other functions have none (NumPy-backed rules cannot run under
``torch.func``) and their gradient results say so.

And the search reports a nondeterministic implementation as a ``fail`` showing both outcomes,
never as an ``error`` of the suite.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tests import _np_formulas as nf
from tests.torch_arrays import to_numpy, to_torch, with_forward_mode
from verify import profiles
from verify.checks import CHECKS
from verify.registry.base import Unsupported
from verify.registry.user import load_user_implementation

reference = pytest.importorskip("reference")
torch = pytest.importorskip("torch")

SEED = 20261201
DTYPES = ("float16", "bfloat16", "float32", "float64")
MODULE = "tests.test_false_alarms"


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "DATABASE_DIR", tmp_path / "examples")


# ---- torch <-> NumPy, and a torch function backed by NumPy forward/backward -----------------


Forward = Callable[[dict[str, Any]], np.ndarray]
Backward = Callable[[dict[str, Any], np.ndarray], np.ndarray]

FAMILY = ("softmax", "log_softmax", "logsumexp")


Tangent = Callable[[Any, Any, int], Any]


def _torch_backed(
    op: str, forward: Forward, backward: Backward, tangent: Tangent | None = None
) -> Callable[..., Any]:
    """A torch-signature function (``fn(x, dim=...)`` or ``fn(input, target, **options)``)
    whose values and gradients come from NumPy ``forward``/``backward`` on reference kwargs.
    With ``tangent(x, v, dim)`` (PyTorch operations only, as ``torch.func`` requires of a
    ``jvp`` rule; softmax family) it offers forward mode too; without, ``torch.func.jvp``
    cannot transform it (forward mode not offered)."""

    def fn(x: Any, *args: Any, **kwargs: Any) -> Any:
        def kw_of(t: Any) -> dict[str, Any]:
            if op in FAMILY:
                return {"x": to_numpy(t), "axis": int(kwargs.get("dim", args[0] if args else -1))}
            kw = {"input": to_numpy(t), "target": to_numpy(args[0] if args else kwargs["target"])}
            options = {k: v for k, v in kwargs.items() if v is not None and k != "target"}
            kw.update({k: to_numpy(v) for k, v in options.items()})
            return kw

        if tangent is None:

            class Backed(torch.autograd.Function):
                @staticmethod
                def forward(ctx: Any, t: Any) -> Any:
                    ctx.kw = kw_of(t)
                    return to_torch(forward(ctx.kw), t.dtype)

                @staticmethod
                def backward(ctx: Any, g: Any) -> Any:
                    return to_torch(backward(ctx.kw, to_numpy(g)), x.dtype)

            return Backed.apply(x)

        dim = int(kwargs.get("dim", args[0] if args else -1))
        return with_forward_mode(
            lambda t: to_torch(forward(kw_of(t)), t.dtype),
            lambda t, g: to_torch(backward(kw_of(t), to_numpy(g)), x.dtype),
            lambda t, v: tangent(t, v, dim),
        ).apply(x)

    return fn


# ---- the reference ---------------------------------------------------------------------------


def _certified(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, with a case the reference cannot certify set aside (the checks do the same when
    the reference judges; here the reference is also the implementation under test)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except reference.CertificationError as exc:
            raise Unsupported(f"the reference cannot certify this case: {exc}") from exc

    return call


def _reference(op: str) -> Callable[..., Any]:
    return _torch_backed(
        op,
        _certified(lambda kw: getattr(reference, op)(**kw)),
        _certified(lambda kw, g: getattr(reference, f"{op}_grad")(**kw, grad_output=g)),
    )


reference_log_softmax = _reference("log_softmax")
reference_logsumexp = _reference("logsumexp")
reference_cross_entropy = _reference("cross_entropy")
reference_bce_with_logits = _reference("binary_cross_entropy_with_logits")


# ---- careful stable implementations, in the working precision or in float64 -----------------


def _is_float(v: Any) -> bool:
    return isinstance(v, np.ndarray) and (v.dtype.kind == "f" or v.dtype == ml_dtypes.bfloat16)


def _cast(kw: dict[str, Any], upcast: bool) -> dict[str, Any]:
    """The floating-point arrays of ``kw`` in float64 when ``upcast`` (exact)."""
    if not upcast:
        return kw
    return {k: v.astype(np.float64) if _is_float(v) else v for k, v in kw.items()}


def _log_softmax_pair(upcast: bool) -> tuple[Forward, Backward]:
    def forward(kw: dict[str, Any]) -> np.ndarray:
        k = _cast(kw, upcast)
        return nf.stable_softmax_family("log_softmax", k["x"], k["axis"]).astype(kw["x"].dtype)

    def backward(kw: dict[str, Any], g: np.ndarray) -> np.ndarray:
        k = _cast(kw, upcast)
        wd = nf.working_dtype(k["x"].dtype)
        y = nf.stable_softmax_family("softmax", k["x"].astype(wd), k["axis"])
        gw = g.astype(wd)
        d = gw - y * np.sum(gw, axis=k["axis"], keepdims=True, dtype=wd)
        return d.astype(kw["x"].dtype)

    return forward, backward


def _ce_options(k: dict[str, Any]) -> dict[str, Any]:
    return {
        "weight": k.get("weight"),
        "label_smoothing": float(k.get("label_smoothing", 0.0)),
        "reduction": k.get("reduction", "mean"),
        "ignore_index": int(k.get("ignore_index", -100)),
    }


def _bce_options(k: dict[str, Any]) -> dict[str, Any]:
    return {
        "pos_weight": k.get("pos_weight"),
        "weight": k.get("weight"),
        "reduction": k.get("reduction", "mean"),
    }


def _loss_pair(
    value: Callable[..., Any],
    grad: Callable[..., Any],
    options: Callable[[dict[str, Any]], dict[str, Any]],
    upcast: bool,
) -> tuple[Forward, Backward]:
    """Forward and backward of a loss ``value(input, target, **options)`` whose gradient is
    ``grad(input, target, cotangent, **options)``, in the working precision or in float64."""

    def forward(kw: dict[str, Any]) -> np.ndarray:
        k = _cast(kw, upcast)
        out = value(k["input"], k["target"], **options(k))
        return np.asarray(out).astype(kw["input"].dtype)

    def backward(kw: dict[str, Any], g: np.ndarray) -> np.ndarray:
        k = _cast(kw, upcast)
        gg = g.astype(np.float64) if upcast else g
        out = grad(k["input"], k["target"], gg, **options(k))
        return out.astype(kw["input"].dtype)

    return forward, backward


def _cross_entropy_pair(upcast: bool) -> tuple[Forward, Backward]:
    return _loss_pair(nf.stable_cross_entropy, nf.stable_cross_entropy_grad, _ce_options, upcast)


def _bce_pair(upcast: bool) -> tuple[Forward, Backward]:
    return _loss_pair(nf.stable_bce_logits, nf.stable_bce_logits_grad, _bce_options, upcast)


def _log_softmax_tangent(upcast: bool) -> Tangent:
    """``J v = v - sum(softmax(x) * v)`` along ``dim`` in the working precision (float32 for
    float16/bfloat16/float32, float64 for float64) or in float64, rounded once."""

    def jvp(x: Any, v: Any, dim: int) -> Any:
        wd = torch.float64 if upcast or x.dtype == torch.float64 else torch.float32
        p = torch.softmax(x.to(wd), dim)
        w = v.to(wd)
        return (w - (p * w).sum(dim, keepdim=True)).to(x.dtype)

    return jvp


careful_log_softmax = _torch_backed(
    "log_softmax", *_log_softmax_pair(upcast=False), _log_softmax_tangent(upcast=False)
)
careful_cross_entropy = _torch_backed("cross_entropy", *_cross_entropy_pair(upcast=False))
careful_bce_with_logits = _torch_backed(
    "binary_cross_entropy_with_logits", *_bce_pair(upcast=False)
)
float64_log_softmax = _torch_backed(
    "log_softmax", *_log_softmax_pair(upcast=True), _log_softmax_tangent(upcast=True)
)
float64_cross_entropy = _torch_backed("cross_entropy", *_cross_entropy_pair(upcast=True))
float64_bce_with_logits = _torch_backed("binary_cross_entropy_with_logits", *_bce_pair(upcast=True))

LIKE = {
    "log_softmax": "torch.nn.functional.log_softmax",
    "logsumexp": "torch.logsumexp",
    "cross_entropy": "torch.nn.functional.cross_entropy",
    "bce_with_logits": "torch.nn.functional.binary_cross_entropy_with_logits",
}

#: checks of the value and gradient bounds (special values and bad input belong to the
#: reference-backed panel only: the careful NumPy formulas do not tabulate them; nor do they
#: scale sums whose terms approach the largest float, which ``extreme_range`` draws, so that
#: check runs on the float64-then-round-once panel, whose intermediates cannot overflow)
BOUND_CHECKS = ("accuracy", "gradient", "identity", "invariance")


def _run(function: str, like: str, check: str, dtype: str) -> Any:
    entry = load_user_implementation(f"{MODULE}:{function}", like)
    return CHECKS[check](entry, dtype, "cpu", profile="quick", seed=SEED)


def _assert_no_alarm(result: Any) -> None:
    assert result.status in ("pass", "skip"), (result.status, result.message)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("check", [c for c in CHECKS if c != "cross_framework"])
@pytest.mark.parametrize("op", ["log_softmax", "cross_entropy", "bce_with_logits"])
def test_reference_through_impl_like_passes_every_check(op: str, check: str, dtype: str) -> None:
    _assert_no_alarm(_run(f"reference_{op}", LIKE[op], check, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("check", BOUND_CHECKS)
@pytest.mark.parametrize("op", ["log_softmax", "cross_entropy", "bce_with_logits"])
def test_careful_stable_implementation_passes(op: str, check: str, dtype: str) -> None:
    _assert_no_alarm(_run(f"careful_{op}", LIKE[op], check, dtype))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("check", (*BOUND_CHECKS, "extreme_range"))
@pytest.mark.parametrize("op", ["log_softmax", "cross_entropy", "bce_with_logits"])
def test_float64_rounded_once_passes(op: str, check: str, dtype: str) -> None:
    _assert_no_alarm(_run(f"float64_{op}", LIKE[op], check, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("variant", ["careful", "float64"])
def test_careful_forward_mode_is_judged_and_passes(variant: str, dtype: str) -> None:
    if variant == "float64" and dtype == "float64":
        pytest.skip("the float64 panel covers the lower dtypes")
    result = _run(f"{variant}_log_softmax", LIKE["log_softmax"], "gradient", dtype)
    _assert_no_alarm(result)
    assert result.extra["forward_mode"] == "checked"


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("check", [c for c in CHECKS if c != "cross_framework"])
def test_reference_logsumexp_passes_every_check(check: str, dtype: str) -> None:
    _assert_no_alarm(_run("reference_logsumexp", LIKE["logsumexp"], check, dtype))


# ---- nondeterminism --------------------------------------------------------------------------

_calls = itertools.count()


def flaky_log_softmax(x: Any, dim: int = -1, **kwargs: Any) -> Any:
    """The reference, except that one call in three raises (as a kernel with a race might)."""
    if next(_calls) % 3 == 2:
        raise RuntimeError("transient kernel failure")
    return reference_log_softmax(x, dim=dim)


def test_nondeterministic_implementation_is_a_fail_with_both_outcomes() -> None:
    result = _run("flaky_log_softmax", LIKE["log_softmax"], "accuracy", "float32")
    assert result.status == "fail", (result.status, result.message)
    assert "nondeterministic" in result.message
    assert "transient kernel failure" in result.message and "pass" in result.message
    assert result.reproducer.strip()
