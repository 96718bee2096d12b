"""The checks catch deliberately wrong implementations and pass careful ones.

Quick profile, fixed seeds, a private example database: deterministic and fast.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.wrong_implementations import ENTRIES
from verify import profiles
from verify.checks import CHECKS
from verify.checks.bad_input import batch_shape
from verify.results import Result

#: the class count of the quick profile's bad-input case
_C = batch_shape(profiles.get_profile("quick"))[1]

SEED = 1234


@pytest.fixture(autouse=True)
def _private_database(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "DATABASE_DIR", tmp_path / "examples")


def run(name: str, check: str, dtype: str, profile: str = "quick") -> Result:
    return CHECKS[check](ENTRIES[name], dtype, "cpu", profile=profile, seed=SEED)


def assert_caught(result: Result, *words: str) -> None:
    assert result.status == "fail", (result.status, result.message)
    assert result.message
    for w in words:
        assert w in result.message, result.message
    assert result.reproducer.strip(), "a failure carries a reproducer"
    assert "correctly rounded reference value" in result.reproducer or check_free(result)


def check_free(result: Result) -> bool:
    """Identity and invariance failures need no reference value."""
    return result.check in ("identity", "invariance", "bad_input")


def assert_passed(result: Result) -> None:
    """``result`` passed, on drawn examples."""
    assert result.status == "pass", result.message
    assert result.examples > 0


@pytest.mark.parametrize(
    ("name", "check", "dtype", "words"),
    [
        ("softmax_unshifted", "invariance", "float64", ("adding",)),
        ("softmax_global_max", "invariance", "float64", ("computed next to other rows",)),
        ("softmax_unshifted", "extreme_range", "float64", ("forward",)),
        ("softmax_mask_nan", "special_values", "float32", ("returned nan",)),
        ("log_softmax_biased_64ulp", "accuracy", "float32", ("ULP off",)),
        ("log_softmax_biased_64ulp", "accuracy", "float64", ("ULP off",)),
        ("log_softmax_float32_inside", "accuracy", "float64", ("ULP off",)),
        ("logsumexp_unshifted", "extreme_range", "float32", ("forward",)),
        ("cross_entropy_smoothing_c_minus_1", "accuracy", "float64", ("label_smoothing",)),
        ("cross_entropy_mean_over_n", "accuracy", "float64", ("weight",)),
        ("cross_entropy_counts_ignored", "accuracy", "float64", ("ignore",)),
        ("cross_entropy_grad_missing_1_over_n", "gradient", "float64", ("gradient",)),
        (
            "cross_entropy_mean_over_n_with_sum",
            "identity",
            "float64",
            ("mean reduction vs sum / total weight",),
        ),
        (
            "cross_entropy_clips_indices",
            "bad_input",
            "float32",
            ("accepts invalid input without an error", f"class index {_C} with {_C} classes"),
        ),
    ],
)
def test_wrong_implementation_is_caught(
    name: str, check: str, dtype: str, words: tuple[str, ...]
) -> None:
    result = run(name, check, dtype)
    assert_caught(result, *words)
    assert result.max_bound_ratio is None or result.max_bound_ratio > 1


def test_minimal_reproducer_is_small() -> None:
    """Shrinking leaves a small failing example: the 64-ULP bias fails on one tiny row."""
    result = run("log_softmax_biased_64ulp", "accuracy", "float64")
    assert "x[1, 2]" in result.message or "x[1, 1]" in result.message, result.message


@pytest.mark.parametrize(
    ("name", "check", "dtype"),
    [
        ("softmax_careful", "accuracy", "float64"),
        ("softmax_careful", "invariance", "float32"),
        ("softmax_careful", "special_values", "float64"),
        ("cross_entropy_careful", "accuracy", "float64"),
        ("cross_entropy_grad_careful", "gradient", "float64"),
        ("cross_entropy_careful", "identity", "float64"),
        ("cross_entropy_validated", "bad_input", "float32"),
    ],
)
def test_careful_numpy_passes(name: str, check: str, dtype: str) -> None:
    assert_passed(run(name, check, dtype))


def test_cross_framework_blames_the_entry_that_is_off() -> None:
    """Two entries disagree; the reference decides: the 64-ULP one fails, the careful one
    passes against it."""
    wrong, careful = ENTRIES["log_softmax_biased_64ulp"], ENTRIES["log_softmax_careful"]
    other = dataclasses.replace(careful, name="other.log_softmax", framework="other")
    result = CHECKS["cross_framework"](
        wrong, "float32", "cpu", profile="quick", seed=SEED, others=[other]
    )
    assert_caught(result, "disagrees with other.log_softmax, and is the one off", "ULP off")
    assert result.extra["compared_with"] == ["other.log_softmax"]
    against_wrong = dataclasses.replace(wrong, name="other.biased", framework="other")
    result = CHECKS["cross_framework"](
        careful, "float32", "cpu", profile="quick", seed=SEED, others=[against_wrong]
    )
    assert_passed(result)


torch = pytest.importorskip("torch")


def run_torch_cross_entropy(check: str) -> Result:
    """``check`` on ``torch.nn.functional.cross_entropy`` in float64 (quick profile)."""
    from verify.registry import get

    impl = get("torch.nn.functional.cross_entropy")
    return CHECKS[check](impl, "float64", "cpu", profile="quick", seed=SEED)


@pytest.mark.parametrize("check", ["identity", "invariance"])
def test_torch_cross_entropy_float64_passes(check: str) -> None:
    result = run_torch_cross_entropy(check)
    assert result.status == "pass", result.message


def test_torch_cross_entropy_float64_gradient_fails_only_on_the_lost_complement() -> None:
    """PyTorch forms the true class's gradient as ``p - 1`` after rounding ``p``, which keeps
    no correct digit on a confident row (pytorch/pytorch#195678, docs/tolerances.md); any
    other gradient failure in float64 would be a new finding."""
    result = run_torch_cross_entropy("gradient")
    if result.status != "pass":
        assert result.status == "fail" and result.severity == "no_correct_digits", result.message
        assert "returned 0.0" in result.message, result.message


def test_torch_cross_entropy_float64_forward_is_at_worst_inaccurate() -> None:
    """PyTorch forms log(sum) where the stable algorithm takes log1p of the non-top terms
    (docs/tolerances.md): on confident rows that costs hundreds of ULPs, a finding of the lowest
    accuracy class, never a wrong value."""
    result = run_torch_cross_entropy("accuracy")
    assert result.status in ("pass", "fail"), result.message
    assert result.severity in (None, "inaccurate"), result.message


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_bad_input_uses_the_largest_shape_of_the_alphabet(name: str) -> None:
    """The invalid inputs are made from a shape the other checks compiled already, with room
    (N > 1) for a row-count mismatch."""
    prof = profiles.get_profile(name)
    alphabet = {(n, c) for n, c, _ in prof.shapes}
    n, c = batch_shape(prof)
    assert (n, c) in alphabet and n > 1
    assert n * c == max(a * b for a, b in alphabet)
