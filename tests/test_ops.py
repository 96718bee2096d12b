"""Meta-tests of the op catalogue (``verify/ops.py``): every op has what the suite needs (its
reference function and VJP, an error model, strategies, at least one registry entry), the
catalogue agrees with the reference's signatures, each name of the suite's vocabulary is
defined once, a missing reference function is an error (never a skip), and the memo of
reference values returns what a fresh call returns."""

from __future__ import annotations

import ast
import inspect
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
from tests.fast_settings import fast
from verify import ops
from verify.judge import reference_values as refv
from verify.registry.base import Capabilities, Implementation

ROOT = Path(__file__).resolve().parent.parent
FAST = fast(6)
#: names of the reference package that are not ops
NOT_OPS = {"FORMATS", "CertificationError", "Format", "format_of"}


def entry(op: str) -> Implementation:
    """An entry of ``op`` with every option its reference function takes, and the first target
    kind of the catalogue."""
    spec = ops.OPS[op]
    options = set(spec.defaults)
    return Implementation(
        name=f"t.{op}",
        framework="numpy",
        op=op,
        forward=lambda kw, device: np.zeros(()),
        capabilities=Capabilities(
            target=spec.target_kinds[0] if spec.target_kinds else None,
            axis="axis" in options,
            kdim=op not in ops.FUSED_LINEAR and spec.family != "softmax_family",
            class_weight="weight" in options,
            ignore_index="ignore_index" in options,
            label_smoothing="label_smoothing" in options,
            pos_weight="pos_weight" in options,
            log_target="log_target" in options,
            extra=tuple(sorted(options & {"alpha", "gamma", "linear_bias"})),
            reductions=("none", "sum", "mean") if "reduction" in options else (),
        ),
    )


# -- completeness ---------------------------------------------------------------------------


def test_the_catalogue_covers_the_reference_api() -> None:
    public = set(reference.__all__) - NOT_OPS
    named = set(ops.OPS) | {s.grad_name for s in ops.OPS.values()}
    assert named == public


@pytest.mark.parametrize("op", list(ops.OPS))
def test_every_op_has_its_reference_function_and_vjp(op: str) -> None:
    spec = ops.OPS[op]
    assert spec.reference is getattr(reference, op)
    assert spec.vjp is getattr(reference, f"{op}_grad")
    grad_parameters = inspect.signature(spec.vjp).parameters
    assert "grad_output" in grad_parameters
    # the VJP takes the forward's arguments (and grad_output)
    assert set(inspect.signature(spec.reference).parameters) <= set(grad_parameters)


@pytest.mark.parametrize("op", list(ops.OPS))
def test_arguments_are_read_from_the_signature(op: str) -> None:
    from verify.registry.conventions import REFERENCE_ARRAYS, REFERENCE_DEFAULTS

    parameters = list(inspect.signature(getattr(reference, op)).parameters.values())
    required = tuple(p.name for p in parameters if p.default is inspect.Parameter.empty)
    optional = {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
    assert optional.pop("out_dtype") is None
    spec = ops.OPS[op]
    assert spec.arrays == required == REFERENCE_ARRAYS[op]
    assert dict(spec.defaults) == optional == REFERENCE_DEFAULTS[op]
    assert spec.primary in ("x", "input")
    assert spec.default_reduction == optional.get("reduction")
    class_argument, _axis = spec.classes_from
    assert class_argument in spec.arrays


@pytest.mark.parametrize("op", list(ops.OPS))
def test_every_op_has_an_error_model_and_a_case_builder(op: str) -> None:
    from verify.judge import tolerance
    from verify.strategies import _cases

    spec = ops.OPS[op]
    assert spec.error_model.forward_function() is tolerance.forward_bound
    assert spec.error_model.gradient_function() is tolerance.gradient_bound
    assert op in tolerance.OPS
    assert callable(getattr(_cases, spec.strategy))


@pytest.mark.parametrize("op", list(ops.OPS))
@FAST
@given(data=st.data())
def test_strategies_error_model_and_output_shape_agree_with_the_reference(
    op: str, data: st.DataObject
) -> None:
    """On drawn cases: the reference's output has the catalogue's output shape, and both error
    models give bounds of the output's (and the input's) shape."""
    from verify.strategies import cases, grad_outputs

    spec = ops.OPS[op]
    kw = data.draw(cases(entry(op), "float32", "moderate", "quick"), label="kwargs")
    out = np.asarray(spec.reference(**kw))
    shape = ops.output_shape(op, kw)
    assert out.shape == shape
    bound = np.asarray(spec.error_model.forward_function()(op, kw, "float32"))
    assert np.broadcast_shapes(bound.shape, shape) == shape
    g = data.draw(grad_outputs(shape, "float32"), label="grad_output")
    bounds = spec.error_model.gradient_function()(op, kw, g, "float32")
    first = bounds[0] if isinstance(bounds, tuple) else bounds
    primary = np.shape(kw[spec.primary])
    assert np.broadcast_shapes(np.shape(first), primary) == primary
    classes = ops.class_count(op, kw)
    if spec.family == "softmax_family":
        assert classes == np.shape(kw["x"])[kw.get("axis", -1)]
    elif np.issubdtype(np.asarray(kw["target"]).dtype, np.integer):
        target = np.asarray(kw["target"])
        assert np.all(target[target != kw.get("ignore_index", -100)] < classes)


@pytest.fixture(scope="module")
def registered() -> list[Implementation]:
    from verify.registry import all_implementations

    return all_implementations()


def test_every_op_has_a_registry_entry_and_every_entry_a_known_op(
    registered: list[Implementation],
) -> None:
    assert {e.op for e in registered} == set(ops.OPS)
    for e in registered:
        kinds = ops.OPS[e.op].target_kinds
        assert (e.capabilities.target in kinds) if kinds else e.capabilities.target is None, e.name
        assert set(e.dtypes) <= set(ops.DTYPES), e.name
        assert set(e.devices) <= set(ops.DEVICES), e.name


def test_families_partition_the_catalogue() -> None:
    families = typing.get_args(ops.Family)
    together = [op for family in families for op in ops.ops_of(family)]
    assert sorted(together) == sorted(ops.OPS)
    assert ops.SOFTMAX_FAMILY == ("logsumexp", "softmax", "log_softmax")
    assert set(ops.FUSED_LINEAR) == {"linear_cross_entropy"}
    for op in ops.SOFTMAX_FAMILY:
        assert ops.OPS[op].target_kinds == ()
        assert ops.OPS[op].class_axis == ops.OPS[op].defaults["axis"]


def test_an_unknown_op_is_named() -> None:
    with pytest.raises(KeyError, match=r"unknown op 'hinge'; the catalogue has logsumexp"):
        ops.spec("hinge")


@pytest.mark.parametrize(
    ("op", "kwargs", "expected"),
    [
        ("softmax", {"x": np.zeros((8, 5))}, (8, 5)),
        ("logsumexp", {"x": np.zeros((8, 5, 3)), "axis": 1}, (8, 3)),
        ("logsumexp", {"x": np.zeros((8, 5))}, (8,)),
        ("cross_entropy", {"input": np.zeros((8, 5)), "target": np.zeros(8, np.int64)}, ()),
        (
            "cross_entropy",
            {"input": np.zeros((8, 5, 2)), "target": np.zeros((8, 5, 2)), "reduction": "none"},
            (8, 2),
        ),
        ("sigmoid_focal_loss", {"input": np.zeros((8, 5)), "target": np.zeros((8, 5))}, (8, 5)),
        ("kl_div", {"input": np.zeros((8, 5)), "target": np.zeros((8, 5))}, ()),
        (
            "linear_cross_entropy",
            {
                "input": np.zeros((8, 3)),
                "linear_weight": np.zeros((5, 3)),
                "target": np.zeros(8, np.int64),
                "reduction": "none",
            },
            (8,),
        ),
    ],
)
def test_output_shape(op: str, kwargs: dict[str, object], expected: tuple[int, ...]) -> None:
    assert ops.output_shape(op, kwargs) == expected


# -- each name defined once -----------------------------------------------------------------


def test_check_names_are_the_catalogues() -> None:
    from verify import checks, results

    assert typing.get_args(results.Check) == ops.CHECKS
    assert tuple(checks.CHECKS) == ops.CHECKS
    assert ops.CHECKS[-1] == "bad_input"
    assert results.CHECKS is ops.CHECKS


def test_profile_dtype_and_device_names_are_the_catalogues() -> None:
    from verify import profiles, strategies
    from verify.registry import base, conventions, devices

    assert tuple(profiles.PROFILES) == ops.PROFILE_NAMES
    assert strategies.DTYPES is ops.DTYPES
    assert conventions.FLOAT_DTYPES is ops.DTYPES
    assert base.Implementation.__dataclass_fields__["dtypes"].default is ops.DTYPES
    assert devices.DEVICES is ops.DEVICES


#: tuple literals that only ``verify/ops.py`` may spell out
_VOCABULARY = {
    "dtype tuple": re.compile(r'\(\s*"float16",\s*"bfloat16",\s*"float32",\s*"float64",?\s*\)'),
    "device tuple": re.compile(r'=\s*\(\s*"cpu",\s*"cuda",?\s*\)'),
    "profile tuple": re.compile(r'\(\s*"quick",\s*"default",\s*"thorough",?\s*\)'),
    "softmax family": re.compile(r'\(\s*"softmax",\s*"log_softmax",\s*"logsumexp",?\s*\)'),
}


def test_no_other_module_defines_the_vocabulary() -> None:
    offenders = []
    for folder in ("verify", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "verify" / "ops.py":
                continue
            code = "\n".join(
                line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
            )
            offenders += [
                f"{path.relative_to(ROOT)}: {what}"
                for what, pattern in _VOCABULARY.items()
                if pattern.search(code)
            ]
    assert offenders == []


#: modules that may spell op names out: the catalogue and the framework registries (whose
#: entries name their op); the reference and the tests are not scanned
_OP_NAME_OWNERS = ("verify/ops.py", "verify/registry/")


def _op_name_literals(path: Path) -> list[str]:
    """The string constants of a module that are exactly an op's name (docstrings and comments
    mention ops in prose and never equal a name)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ops.OPS
    ]


def test_op_names_are_read_from_the_catalogue() -> None:
    offenders = []
    for folder in ("verify", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.relative_to(ROOT).as_posix().startswith(_OP_NAME_OWNERS):
                continue
            offenders += _op_name_literals(path)
    assert offenders == []


def test_the_op_name_scan_finds_a_literal_and_skips_prose(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Mentions linear_cross_entropy in prose."""\n'
        "# kl_div in a comment\n"
        'FUSED = op == "linear_cross_entropy"\n'
        'OTHER = "linear_cross_entropy_peer"\n'
    )
    assert _op_name_literals(module) == ["m.py:3: 'linear_cross_entropy'"]


def test_the_op_name_constants_are_the_catalogues() -> None:
    constants = {
        value
        for name, value in vars(ops).items()
        if name.isupper() and isinstance(value, str) and value in ops.OPS
    }
    assert constants == set(ops.OPS)
    assert ops.LINEAR_CROSS_ENTROPY in ops.FUSED_LINEAR
    assert ops.PROBABILITY_TARGET_OPS == (ops.CROSS_ENTROPY, ops.SOFTMAX_FOCAL_LOSS, ops.KL_DIV)
    assert ops.BINARY_TARGET_OPS == (
        ops.BINARY_CROSS_ENTROPY,
        ops.BINARY_CROSS_ENTROPY_WITH_LOGITS,
        ops.SIGMOID_FOCAL_LOSS,
    )


# -- a missing reference function is an error, never a skip ---------------------------------


@pytest.fixture
def without_reference_softmax(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delattr(reference, "softmax")
    ops._reference_function.cache_clear()
    refv.clear_memo()
    yield
    ops._reference_function.cache_clear()
    refv.clear_memo()


def test_a_missing_reference_function_raises(without_reference_softmax: None) -> None:
    with pytest.raises(LookupError, match=r"names reference\.softmax, which does not exist"):
        ops.OPS["softmax"].reference  # noqa: B018


def test_a_missing_reference_function_is_an_error_of_the_check(
    without_reference_softmax: None,
) -> None:
    from verify.checks import accuracy
    from verify.registry import numpy_impls

    impl = next(e for e in numpy_impls.implementations() if e.op == "softmax")
    result = accuracy.run(impl, "float64", "cpu", profile="quick", seed=0)
    assert result.status == "error"
    assert "reference.softmax, which does not exist" in result.message


# -- the memo of reference values ------------------------------------------------------------


@pytest.fixture
def memo() -> Iterator[ModuleType]:
    refv.clear_memo()
    yield refv
    refv.clear_memo()


def test_the_memo_returns_what_a_fresh_call_returns(memo: ModuleType) -> None:
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    first = memo.forward("log_softmax", {"x": x, "axis": -1}, "float32")
    first[...] = 0  # the caller owns what it gets
    again = memo.forward("log_softmax", {"x": x.copy(), "axis": -1}, "float32")
    np.testing.assert_array_equal(again, reference.log_softmax(x, out_dtype="float32"))
    assert (memo.memo_stats().hits, memo.memo_stats().misses) == (1, 1)
    memo.forward("log_softmax", {"x": x, "axis": 0}, "float32")  # another option
    memo.forward("log_softmax", {"x": x, "axis": -1}, "float64")  # another format
    memo.forward("log_softmax", {"x": x.astype(np.float32), "axis": -1}, "float32")  # dtype
    g = np.ones((3, 4))
    memo.gradient("log_softmax", {"x": x, "axis": -1}, g, "float32")
    memo.gradient("log_softmax", {"x": x, "axis": -1}, 2 * g, "float32")
    assert (memo.memo_stats().hits, memo.memo_stats().misses) == (1, 6)
    grad = memo.gradient("log_softmax", {"x": x, "axis": -1}, g, "float32")
    np.testing.assert_array_equal(
        grad, reference.log_softmax_grad(x, grad_output=g, out_dtype="float32")
    )
    assert memo.memo_stats().hits == 2


def test_the_memo_keeps_same_bytes_of_other_dtypes_apart(memo: ModuleType) -> None:
    import ml_dtypes

    bits = np.array([[0x3C00, 0x4000]], dtype=np.uint16)
    as_half = memo.forward("softmax", {"x": bits.view(np.float16)}, "float32")
    as_bf16 = memo.forward("softmax", {"x": bits.view(ml_dtypes.bfloat16)}, "float32")
    assert memo.memo_stats().misses == 2
    assert not np.array_equal(as_half, as_bf16)


def test_the_memo_is_bounded(memo: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MEMO_ENTRIES", 3)
    for k in range(5):
        memo.forward("logsumexp", {"x": np.full((1, 3), float(k))}, "float64")
    assert len(memo._memo) == 3
    memo.forward("logsumexp", {"x": np.full((1, 3), 0.0)}, "float64")  # evicted: recomputed
    memo.forward("logsumexp", {"x": np.full((1, 3), 4.0)}, "float64")  # kept: a hit
    assert (memo.memo_stats().hits, memo.memo_stats().misses) == (1, 6)
