"""Forward-mode derivatives (jvp) judged by the gradient check.

- the reference's ``J e_k`` (:func:`verify.judge.reference_values.one_hot_jvp`) is column
  ``k`` of the Jacobian built from reference VJPs with every cotangent ``e_j``, element for
  element, and its bound is NaN exactly at the structural zeros;
- a forward-mode derivative that is off by a factor, or nonzero where the output does not
  depend on ``x_k``, fails the gradient check with a message that names the jvp, while the
  same implementation's vjp is right;
- an implementation without forward mode (an ``autograd.Function`` without ``jvp``) keeps
  today's gradient result and says why in its notes and ``extra["forward_mode"]``;
- registered entries record ``"checked"``; NumPy entries have no forward mode.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest

from tests.torch_arrays import to_numpy, to_torch, with_forward_mode
from verify import ops, profiles
from verify.checks import CHECKS
from verify.judge import reference_values as refv
from verify.judge import tangent, tolerance
from verify.registry import get
from verify.registry.user import load_user_implementation

reference = pytest.importorskip("reference")
torch = pytest.importorskip("torch")

SEED = 20261201
MODULE = "tests.test_forward_mode"


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "DATABASE_DIR", tmp_path / "examples")


# ---- the reference side: J e_k from one VJP equals the column of the full Jacobian ----------

_RNG = np.random.default_rng(7)
_X = _RNG.standard_normal((2, 3, 2)).astype(np.float32)
_PROBS = np.full(_X.shape, 1 / 3, dtype=np.float32)
_HALF = np.full(_X.shape, 0.25, dtype=np.float32)
_INDEX = np.array([[0, 2], [1, 1]])
META_CASES: list[tuple[str, dict[str, Any]]] = [
    ("softmax", {"x": _X, "axis": 1}),
    ("log_softmax", {"x": _X, "axis": -1}),
    ("logsumexp", {"x": _X, "axis": 0}),
    (
        "cross_entropy",
        {"input": _X, "target": _INDEX, "reduction": "none", "label_smoothing": 0.25},
    ),
    (
        "cross_entropy",
        {"input": _X, "target": _INDEX, "weight": np.array([1, 2, 3], np.float32)},
    ),
    ("cross_entropy", {"input": _X, "target": _PROBS, "reduction": "none"}),
    ("nll_loss", {"input": _X[0, :, 0], "target": np.array(1), "reduction": "none"}),
    (
        "binary_cross_entropy_with_logits",
        {
            "input": _X,
            "target": _HALF,
            "reduction": "none",
            "pos_weight": np.array([1, 2], np.float32),
        },
    ),
    ("kl_div", {"input": _X, "target": _HALF, "reduction": "batchmean"}),
    (
        "linear_cross_entropy",
        {
            "input": _X[:, :, 0],
            "linear_weight": _RNG.standard_normal((4, 3)).astype(np.float32),
            "target": np.array([0, 3]),
            "reduction": "none",
        },
    ),
]


def _column_from_every_cotangent(op: str, kwargs: dict[str, Any], k: tuple[int, ...]) -> Any:
    """Column ``k`` of the Jacobian the slow way: one reference VJP per output element."""
    shape = ops.output_shape(op, kwargs)
    dtype = np.asarray(kwargs[ops.spec(op).primary]).dtype
    column = np.zeros(shape)
    for j in np.ndindex(*shape):
        e = np.zeros(shape, dtype=dtype)
        e[j] = 1
        g = refv.gradient(op, kwargs, e, "float32")
        column[j] = (g[0] if isinstance(g, tuple) else g)[k]
    return column


@pytest.mark.parametrize(
    ("op", "kwargs"), META_CASES, ids=[f"{op}-{i}" for i, (op, _) in enumerate(META_CASES)]
)
def test_one_hot_jvp_is_the_jacobian_column(op: str, kwargs: dict[str, Any]) -> None:
    size = int(np.size(kwargs[ops.spec(op).primary]))
    for flat in range(size):
        k = tangent.tangent_index(op, kwargs, flat)
        got = refv.one_hot_jvp(op, kwargs, k, "float32")
        np.testing.assert_array_equal(
            got.astype(np.float64), _column_from_every_cotangent(op, kwargs, k)
        )
        bound = tolerance.one_hot_jvp_bound(op, kwargs, k, "float32")
        assert bound.shape == got.shape
        dependent = tangent.dependent(op, kwargs, k)
        assert np.array_equal(np.isnan(bound), ~dependent)
        assert np.all(got[~dependent] == 0)
        assert dependent.any()


def test_one_hot_tangent_is_one_at_k_only() -> None:
    kwargs = {"x": _X.astype(ml_dtypes.bfloat16), "axis": 1}
    v = tangent.one_hot("softmax", kwargs, (1, 2, 0))
    assert v.dtype == kwargs["x"].dtype and v.shape == _X.shape
    assert float(v.astype(np.float64).sum()) == 1.0 and float(v[1, 2, 0]) == 1.0


# ---- implementations under test: the reference's log_softmax with a forward mode of ours ----


def careful_log_softmax_jvp(x: Any, v: Any, dim: int) -> Any:
    """``J v`` of log_softmax, ``v - sum(softmax(x) * v)`` along ``dim``, in float64 and
    rounded once (PyTorch operations only, as ``torch.func`` requires of a ``jvp`` rule)."""
    p = torch.softmax(x.to(torch.float64), dim)
    w = v.to(torch.float64)
    return (w - (p * w).sum(dim, keepdim=True)).to(x.dtype)


def _doubled(x: Any, v: Any, dim: int) -> Any:
    return careful_log_softmax_jvp(x, v, dim) * 2


def _leaking(x: Any, v: Any, dim: int) -> Any:
    """The careful jvp plus 1/2 in another row (one that does not depend on ``x_k``)."""
    out = careful_log_softmax_jvp(x, v, dim)
    other = [d for d in range(x.ndim) if d != dim % x.ndim and x.shape[d] > 1]
    return out + 0.5 * torch.roll(v, 1, dims=other[0]) if other else out


def log_softmax_function(jvp: Any) -> Any:
    """A torch-signature log_softmax whose value and vjp are the reference's (through NumPy)
    and whose forward mode is ``jvp(x, v, dim)``; ``jvp=None``: an ``autograd.Function`` of
    the old API (no ``setup_context``), which ``torch.func.jvp`` cannot transform."""

    def fn(x: Any, dim: int = -1, **kwargs: Any) -> Any:
        def value(t: Any) -> Any:
            return to_torch(reference.log_softmax(to_numpy(t), axis=int(dim)), t.dtype)

        def pullback(t: Any, g: Any) -> Any:
            grad = reference.log_softmax_grad(to_numpy(t), axis=int(dim), grad_output=to_numpy(g))
            return to_torch(grad, t.dtype)

        if jvp is None:

            class OldStyle(torch.autograd.Function):
                @staticmethod
                def forward(ctx: Any, t: Any) -> Any:
                    ctx.save_for_backward(t)
                    return value(t)

                @staticmethod
                def backward(ctx: Any, g: Any) -> Any:
                    return pullback(ctx.saved_tensors[0], g)

            return OldStyle.apply(x)

        return with_forward_mode(value, pullback, lambda t, v: jvp(t, v, int(dim))).apply(x)

    return fn


careful_jvp_log_softmax = log_softmax_function(careful_log_softmax_jvp)
doubled_jvp_log_softmax = log_softmax_function(_doubled)
leaking_jvp_log_softmax = log_softmax_function(_leaking)
no_jvp_log_softmax = log_softmax_function(None)

LIKE = "torch.nn.functional.log_softmax"


def _gradient(function: str, dtype: str) -> Any:
    entry = load_user_implementation(f"{MODULE}:{function}", LIKE)
    return CHECKS["gradient"](entry, dtype, "cpu", profile="quick", seed=SEED)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_forward_mode_off_by_a_factor_fails_the_gradient_check(dtype: str) -> None:
    result = _gradient("doubled_jvp_log_softmax", dtype)
    assert result.status == "fail", result.message
    assert result.message.startswith("forward-mode derivative (jvp) along e_k"), result.message
    assert "ULP off" in result.message and "raised" not in result.message, result.message
    assert "with tangent e_k at x index" in result.message
    assert result.extra["forward_mode"] == "checked"


def test_a_nonzero_structural_zero_fails_the_gradient_check() -> None:
    result = _gradient("leaking_jvp_log_softmax", "float32")
    assert result.status == "fail", result.message
    assert "forward-mode derivative (jvp)" in result.message
    assert "does not depend on x" in result.message, result.message


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_a_correct_forward_mode_passes(dtype: str) -> None:
    result = _gradient("careful_jvp_log_softmax", dtype)
    assert result.status in ("pass", "skip"), result.message
    assert result.extra["forward_mode"] == "checked"


def test_without_forward_mode_the_gradient_result_says_why() -> None:
    result = _gradient("no_jvp_log_softmax", "float32")
    assert result.status == "pass", result.message
    assert result.extra["forward_mode"].startswith("forward mode not offered (torch.func.jvp: ")
    assert "setup_context" in result.extra["forward_mode"]
    assert "forward mode not offered" in result.message


def test_a_not_implemented_forward_formula_is_not_offered() -> None:
    def missing(x: Any, dim: int = -1, **kwargs: Any) -> Any:
        class NoFormula(torch.autograd.Function):
            @staticmethod
            def forward(t: Any) -> Any:
                return torch.log_softmax(t, dim)

            @staticmethod
            def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
                pass

            @staticmethod
            def jvp(ctx: Any, v: Any) -> Any:
                raise NotImplementedError("the derivative for 'my_op' is not implemented")

        return NoFormula.apply(x)

    from verify.registry import get_factory

    _, factory = get_factory(LIKE)
    entry = factory(missing)
    assert entry.jvp is not None
    kwargs = {"x": _X, "axis": 1}
    from verify.registry.base import ForwardModeUnavailable

    with pytest.raises(ForwardModeUnavailable, match="not implemented"):
        entry.jvp(kwargs, tangent.one_hot("log_softmax", kwargs, (0, 0, 0)), "cpu")


# ---- registered entries ----------------------------------------------------------------------


def test_registered_torch_entry_checks_forward_mode() -> None:
    entry = get("torch.nn.functional.softmax")
    assert entry.jvp is not None
    result = CHECKS["gradient"](entry, "float64", "cpu", profile="quick", seed=SEED)
    assert result.status == "pass", result.message
    assert result.extra["forward_mode"] == "checked"


FORWARD_MODE_ENTRIES = [
    ("torch.nn.functional.log_softmax", "log_softmax"),
    ("jax.nn.log_softmax", "log_softmax"),
    ("jax.nn.log_softmax[jit]", "log_softmax"),
    ("tf.nn.log_softmax", "log_softmax"),
    ("mlx.nn.log_softmax", "log_softmax"),
    ("optax.softmax_cross_entropy_with_integer_labels", "cross_entropy"),
]


@pytest.mark.parametrize(("name", "op"), FORWARD_MODE_ENTRIES)
def test_registered_jvp_matches_the_reference_on_a_small_case(name: str, op: str) -> None:
    """Each framework's forward mode (torch.func.jvp, jax.jvp plain and jitted,
    tf.autodiff.ForwardAccumulator, mlx.core.jvp) of a registered entry, in float32 (MLX's
    float64 is not float64-accurate, forward and gradient alike), is within the bound of the
    reference column (the entry's ``jvp`` used directly, outside a search)."""
    framework = name.split(".", 1)[0]
    pytest.importorskip({"optax": "optax", "tf": "tensorflow"}.get(framework, framework))
    try:
        entry = get(name)
    except KeyError:
        pytest.skip(f"{name} is not registered here")
    x = _X.astype(np.float32)
    if op == "log_softmax":
        kwargs: dict[str, Any] = {"x": x, "axis": 1}
    else:
        kwargs = {"input": x, "target": _INDEX, "reduction": "none"}
    k = (1, 2, 0)
    assert entry.jvp is not None
    got = np.asarray(entry.jvp(kwargs, tangent.one_hot(op, kwargs, k), "cpu"))
    ref = refv.one_hot_jvp(op, kwargs, k, "float32")
    assert got.shape == ref.shape
    ratio = tolerance.bound_ratio(
        got, ref, tolerance.one_hot_jvp_bound(op, kwargs, k, "float32"), "float32"
    )
    assert float(ratio.max()) <= 1.0


def test_documented_missing_forward_mode_is_not_offered() -> None:
    entry = get("torch.nn.functional.linear_cross_entropy[chunked]")
    result = CHECKS["gradient"](entry, "float32", "cpu", profile="quick", seed=SEED)
    assert "forward-AD" not in result.message
    assert result.extra["forward_mode"].startswith("forward mode not offered (the chunked path")


def test_numpy_entries_have_no_forward_mode() -> None:
    entry = get("numpy.textbook.log_softmax_shifted")
    assert entry.jvp is None
    result = CHECKS["gradient"](entry, "float64", "cpu", profile="quick", seed=SEED)
    assert result.extra["forward_mode"].startswith("not offered")
