"""Tests of the registry's shared infrastructure: the lazy table, devices, user callables,
exact array literals."""

from __future__ import annotations

import base64
import textwrap
import zlib

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import verify.registry as registry
from verify.errors import UsageError
from verify.registry import conventions
from verify.registry.devices import present_devices
from verify.registry.user import load_user_implementation, parse_spec
from verify.reproducer_literals import (
    EXACT_LITERAL_LIMIT,
    array_literal,
    assignments,
    imports_for,
    kwargs_literal,
    value_literal,
)

BF16 = np.dtype(ml_dtypes.bfloat16)
UINT = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _namespace() -> dict[str, object]:
    return {"np": np, "ml_dtypes": ml_dtypes, "zlib": zlib, "base64": base64}


def _bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def _roundtrip(a: np.ndarray) -> np.ndarray:
    rebuilt = eval(array_literal(a), _namespace())
    assert rebuilt.dtype == a.dtype
    assert rebuilt.shape == a.shape
    assert _bits(rebuilt) == _bits(a)
    return rebuilt


# --- reproducer literals ------------------------------------------------------------------


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    st.sampled_from([np.float16, np.float32, np.float64, np.uint16]).flatmap(
        lambda dtype: hnp.arrays(
            dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
        )
    )
)
def test_array_literal_roundtrips_every_bit_pattern(bits_or_floats: np.ndarray) -> None:
    if bits_or_floats.dtype == np.uint16:  # every bfloat16 bit pattern, NaN payloads included
        a = bits_or_floats.view(BF16)
    else:
        a = bits_or_floats
    _roundtrip(a)


@pytest.mark.parametrize("dtype", [np.float16, BF16, np.float32, np.float64])
def test_array_literal_special_values(dtype: np.dtype) -> None:
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -2.5]
    a = np.array(values, dtype=np.float64).astype(dtype)
    info = ml_dtypes.finfo(dtype) if dtype == BF16 else np.finfo(dtype)
    tiny = np.array([float(info.smallest_subnormal), float(info.max)]).astype(dtype)
    a = np.concatenate([a, tiny]).reshape(3, 3)
    _roundtrip(a)
    # a negative NaN with a payload cannot be spelled 'nan': the bit form keeps it
    itemsize = np.dtype(dtype).itemsize
    odd = np.array([0], dtype=UINT[itemsize]).view(dtype)
    odd.view(UINT[itemsize])[0] = np.iinfo(UINT[itemsize]).max
    assert np.isnan(odd[0])
    assert "view(" in array_literal(odd)
    _roundtrip(odd)


def test_array_literal_is_readable_for_small_arrays() -> None:
    source = array_literal(np.array([1.5, -np.inf], dtype=np.float32))
    assert "'0x1.8p+0'" in source and "'-inf'" in source and "np.float32" in source


def test_array_literal_integers_and_bools() -> None:
    for a in (np.array([[0, 3], [-100, 2]], dtype=np.int64), np.array([True, False])):
        _roundtrip(a)
    _roundtrip(np.zeros((0, 3), dtype=np.int64))


@pytest.mark.parametrize("dtype", [np.float16, BF16, np.float32, np.float64, np.int64])
def test_large_arrays_are_compressed_bytes(dtype: np.dtype) -> None:
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((EXACT_LITERAL_LIMIT + 1,)) * 100).astype(dtype).reshape(-1, 1)
    source = array_literal(a)
    assert "zlib.decompress" in source and "float.fromhex" not in source
    rebuilt = _roundtrip(a)
    assert rebuilt.flags.writeable
    assert "import zlib" in imports_for([a])


def test_value_and_kwargs_literals_roundtrip() -> None:
    kwargs = {
        "input": np.array([[1.0, np.nan]], dtype=BF16),
        "target": np.array([1], dtype=np.int64),
        "weight": None,
        "ignore_index": -100,
        "reduction": "mean",
        "label_smoothing": 0.1,
        "alpha": float("-inf"),
        "shape": (2,),
        "scalar": np.float32(3.25),
    }
    rebuilt = eval(kwargs_literal(kwargs), _namespace())
    assert set(rebuilt) == set(kwargs)
    assert _bits(rebuilt["input"]) == _bits(kwargs["input"])
    assert rebuilt["input"].dtype == BF16
    assert rebuilt["label_smoothing"] == 0.1 and rebuilt["alpha"] == float("-inf")
    assert rebuilt["shape"] == (2,) and rebuilt["weight"] is None
    assert rebuilt["scalar"] == np.float32(3.25) and rebuilt["scalar"].dtype == np.float32
    scope = _namespace()
    exec(assignments(kwargs), scope)
    assert scope["reduction"] == "mean" and scope["ignore_index"] == -100
    assert imports_for(kwargs.values()) == ["import numpy as np", "import ml_dtypes"]
    with pytest.raises(TypeError):
        value_literal(object())


def test_reproducer_script_prints_parseable_hex() -> None:
    x = np.array([0.1, -np.inf, np.nan], dtype=np.float32)
    script = conventions.reproducer_script(
        title="demo",
        imports=imports_for([x]),
        setup=assignments({"x": x}),
        call="out = x * 2\n",
        values="out",
    )
    scope: dict[str, object] = {}
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(script, scope)
    printed = conventions.parse_reproducer_output(buffer.getvalue())
    np.testing.assert_array_equal(printed, (x * 2).astype(np.float64))
    with pytest.raises(ValueError):
        conventions.parse_reproducer_output("no numbers here")


# --- conventions --------------------------------------------------------------------------


def test_with_defaults_and_unsupported_options() -> None:
    args = conventions.with_defaults("cross_entropy", {"input": 1, "target": 2})
    assert args["ignore_index"] == -100 and args["reduction"] == "mean"
    with pytest.raises(TypeError, match="unknown"):
        conventions.with_defaults("softmax", {"x": 1, "dim": 0})
    with pytest.raises(TypeError, match="missing"):
        conventions.with_defaults("kl_div", {"input": 1})
    conventions.require_defaults("cross_entropy", args, ("label_smoothing",), "api")
    with pytest.raises(conventions.Unsupported, match=r"label_smoothing=0\.2"):
        conventions.require_defaults(
            "cross_entropy", {"label_smoothing": 0.2}, ["label_smoothing"], "api"
        )
    with pytest.raises(conventions.Unsupported, match="weight"):
        conventions.require_defaults("cross_entropy", {"weight": np.ones(3)}, ["weight"], "api")
    with pytest.raises(conventions.Unsupported, match="batchmean"):
        conventions.require_reduction({"reduction": "batchmean"}, ("sum", "mean"), "api")


# --- the table, devices ---------------------------------------------------------------------


def test_installed_frameworks_and_lookup() -> None:
    installed = registry.installed_frameworks()
    assert "numpy" in installed and "torch" in installed
    assert set(installed) <= set(registry.FRAMEWORK_MODULES)
    entry = registry.get("numpy.textbook.softmax_shifted")
    assert entry.framework == "numpy" and entry.op == "softmax"
    names = [e.name for fw in ("numpy", "torch") for e in registry.all_implementations(fw)]
    assert len(names) == len(set(names))
    with pytest.raises(KeyError, match=r"did you mean numpy\.textbook\.softmax_shifted"):
        registry.get("numpy.textbook.softmax_shiftd")
    with pytest.raises(KeyError, match="unknown implementation"):
        registry.get("no.such.thing.anywhere")
    framework, factory = registry.get_factory("torch.nn.functional.softmax")
    assert framework == "torch" and callable(factory)
    with pytest.raises(ValueError, match="unknown framework"):
        registry.framework_module("mxnet")


def test_present_devices_always_has_cpu_and_is_cached() -> None:
    for framework in ("numpy", "torch", "not-a-framework"):
        devices = present_devices(framework)
        assert devices[0] == "cpu" and set(devices) <= {"cpu", "cuda"}
        assert present_devices(framework) is devices
    import torch

    assert ("cuda" in present_devices("torch")) == torch.cuda.is_available()


# --- user callables -------------------------------------------------------------------------

USER_MODULE = textwrap.dedent(
    """
    import numpy as np
    import torch.nn.functional as F

    NOT_CALLABLE = 3

    def my_cross_entropy(input, target, **kwargs):
        return F.cross_entropy(input, target, **kwargs)

    def my_softmax(x, axis=-1):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    path = tmp_path / "user_losses_for_test.py"
    path.write_text(USER_MODULE)
    (tmp_path / "broken_module_for_test.py").write_text(
        "raise RuntimeError('boom\\nsecond line')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def test_user_callable_from_dotted_module_and_path(user_module) -> None:
    like = "torch.nn.functional.cross_entropy"
    kwargs = {
        "input": np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]),
        "target": np.array([2, 0]),
        "label_smoothing": 0.1,
    }
    expected = registry.get(like).forward(kwargs, "cpu")
    for spec in ("user_losses_for_test:my_cross_entropy", f"{user_module}:my_cross_entropy"):
        entry = load_user_implementation(spec, like)
        assert entry.name == spec and entry.variant == f"like {like}"
        assert entry.framework == "torch" and entry.op == "cross_entropy"
        np.testing.assert_array_equal(entry.forward(kwargs, "cpu"), expected)
        assert entry.vjp is not None
        script = entry.reproducer(kwargs, "cpu")
        assert "my_cross_entropy(input, target" in script
        scope: dict[str, object] = {}
        exec(compile(script, "<reproducer>", "exec"), scope)


def test_user_callable_like_numpy_textbook(user_module) -> None:
    entry = load_user_implementation(f"{user_module}:my_softmax", "numpy.textbook.softmax_shifted")
    x = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(entry.forward({"x": x}, "cpu"), np.exp(x) / np.exp(x).sum())
    assert entry.vjp is None  # the textbook's analytic gradient is not the user's


@pytest.mark.parametrize(
    ("spec", "like", "message"),
    [
        (
            "user_losses_for_test:my_cross_entropy",
            "torch.nn.functional.cross_entropi",
            "did you mean torch.nn.functional.cross_entropy",
        ),
        ("no_colon_here", "torch.nn.functional.cross_entropy", "is not MODULE:FUNCTION"),
        (
            "no_such_module_xyz:f",
            "torch.nn.functional.cross_entropy",
            "does not import (ModuleNotFoundError",
        ),
        (
            "broken_module_for_test:f",
            "torch.nn.functional.cross_entropy",
            "does not import (RuntimeError: boom second line)",
        ),
        (
            "user_losses_for_test:my_cross_entropi",
            "torch.nn.functional.cross_entropy",
            "did you mean my_cross_entropy",
        ),
        (
            "user_losses_for_test:NOT_CALLABLE",
            "torch.nn.functional.cross_entropy",
            "not a callable",
        ),
        ("missing/file.py:f", "torch.nn.functional.cross_entropy", "does not exist"),
    ],
)
def test_user_callable_errors_are_one_line_usage_errors(user_module, spec, like, message) -> None:
    with pytest.raises(UsageError) as info:
        load_user_implementation(spec, like)
    text = str(info.value)
    assert "\n" not in text
    assert message in text
    assert info.value.exit_status == 2


def test_parse_spec_takes_the_last_colon() -> None:
    assert parse_spec("C:/dir/file.py:fn") == ("C:/dir/file.py", "fn")
    with pytest.raises(UsageError):
        parse_spec("module:")
