"""Tests of the asv benchmark suite (``benchmarks/``): its helpers, asv's discovery of it, and
one quick pass through asv on a small, NumPy-only subset."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
# `benchmarks` is asv's benchmark directory, not an installed package: import it from this
# checkout also when pytest runs without the repository root on sys.path
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import inputs, min_bytes, parameters, prepared_call  # noqa: E402
from verify.judge import ulp  # noqa: E402
from verify.ops import output_shape  # noqa: E402
from verify.registry.base import Capabilities  # noqa: E402

ASV = shutil.which("asv")


# -- ULP error (the benchmarks use verify.judge.ulp, judged in the reference's format) --------


def max_ulp_error(result: np.ndarray, reference: np.ndarray) -> float:
    return ulp.max_ulp_error(result, reference, reference.dtype)


@given(
    st.floats(min_value=2.0**-100, max_value=2.0**100, width=32),
    st.integers(min_value=0, max_value=5),
)
def test_ulp_error_counts_steps_within_a_binade(value: float, steps: int) -> None:
    ref = np.float32(value)
    moved = ref
    for _ in range(steps):
        moved = np.nextafter(moved, np.float32(np.inf))
    if np.frexp(moved)[1] != np.frexp(ref)[1]:  # crossed into the next binade: wider ULP
        return
    assert max_ulp_error(np.array([moved]), np.array([ref])) == steps


def test_ulp_error_special_values_and_formats() -> None:
    nan, inf = np.float32(np.nan), np.float32(np.inf)
    assert max_ulp_error(np.array([nan, inf, -inf]), np.array([nan, inf, -inf])) == 0.0
    assert max_ulp_error(np.array([1.0], np.float32), np.array([nan])) == float("inf")
    assert max_ulp_error(np.array([inf]), np.array([np.finfo(np.float32).max])) == float("inf")
    # at zero the ULP is the smallest subnormal
    tiny = np.float32(np.finfo(np.float32).smallest_subnormal)
    assert max_ulp_error(np.array([3 * tiny]), np.array([np.float32(0)])) == 3.0
    # bfloat16 keeps 8 significant bits: 1 + 2^-7 is one ULP above 1
    bf = ml_dtypes.bfloat16
    assert max_ulp_error(np.array([1 + 2**-7], bf), np.array([1.0], bf)) == 1.0
    # at the largest finite number the ULP is the gap below it
    top = np.array([ml_dtypes.finfo(bf).max], bf)
    below = np.nextafter(top, np.zeros((), bf))
    assert max_ulp_error(below, top) == 1.0
    with pytest.raises(ValueError, match="shape"):
        max_ulp_error(np.zeros(2), np.zeros(3))


# -- byte counts and shapes -----------------------------------------------------------------


def test_minimum_bytes_of_cross_entropy() -> None:
    n, c = 4096, 32000
    kwargs = inputs.make_kwargs(
        "cross_entropy", Capabilities(target="index"), (n, c), "float32", seed=1
    )
    arrays = inputs.array_arguments(kwargs)
    out = output_shape("cross_entropy", kwargs)
    assert out == ()
    assert min_bytes.forward_bytes(arrays, out, 4) == n * c * 4 + n * 8 + 4
    both = min_bytes.forward_backward_bytes(arrays, kwargs["input"], out, 4)
    assert both == 2 * n * c * 4 + n * 8 + 2 * 4


@pytest.mark.parametrize(
    ("op", "reduction", "expected"),
    [
        ("softmax", None, (8, 5)),
        ("logsumexp", None, (8,)),
        ("cross_entropy", "none", (8,)),
        ("binary_cross_entropy_with_logits", "none", (8, 5)),
        ("kl_div", "batchmean", ()),
        ("linear_cross_entropy", "none", (8,)),
    ],
)
def test_output_shape_of_benchmark_inputs(
    op: str, reduction: str | None, expected: tuple[int, ...]
) -> None:
    """The result shapes the bandwidth figures count, on the benchmarks' own inputs."""
    target = "binary" if op.startswith("binary") else ("probs" if op == "kl_div" else "index")
    caps = Capabilities(target=None if reduction is None else target, reductions=(reduction,))
    shape = (8, 3, 5) if op == "linear_cross_entropy" else (8, 5)
    kwargs = inputs.make_kwargs(op, caps, shape, "float32")
    assert output_shape(op, kwargs) == expected


# -- inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", parameters.DTYPES)
def test_inputs_are_seeded_typed_and_in_domain(dtype: str) -> None:
    caps = Capabilities(target="probs", reductions=("none", "sum"))
    a = inputs.make_kwargs("kl_div", caps, (16, 7), dtype)
    b = inputs.make_kwargs("kl_div", caps, (16, 7), dtype)
    assert a["input"].dtype == inputs.numpy_dtype(dtype)
    np.testing.assert_array_equal(a["input"].astype(np.float64), b["input"].astype(np.float64))
    assert a["reduction"] == "sum"  # "mean" is not offered: the next choice
    logp = a["input"].astype(np.float64)
    assert np.all(logp <= 0)  # log-probabilities
    probs = a["target"].astype(np.float64)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=2e-2)

    bce = inputs.make_kwargs("binary_cross_entropy", Capabilities(target="binary"), (9, 4), dtype)
    p = bce["input"].astype(np.float64)
    assert np.all((p >= 0) & (p <= 1))

    softmax = inputs.make_kwargs("softmax", Capabilities(), (3, 4), dtype)
    assert set(softmax) == {"x"}  # the reference's argument name; no reduction


def test_linear_cross_entropy_inputs() -> None:
    kwargs = inputs.make_kwargs(
        "linear_cross_entropy", Capabilities(target="index"), (32, 16, 100), "float32"
    )
    assert kwargs["input"].shape == (32, 16)
    assert kwargs["linear_weight"].shape == (100, 16)
    assert kwargs["target"].dtype == np.int64
    assert kwargs["target"].min() >= 0 and kwargs["target"].max() < 100


# -- parameters and skipping ----------------------------------------------------------------


def test_shapes_and_full_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parameters.parse_shape(parameters.LLM) == (8192, 128256)
    assert parameters.parse_shape(parameters.LINEAR_GPU) == (8192, 4096, 128256)
    monkeypatch.delenv(parameters.FULL_ENV, raising=False)
    with pytest.raises(NotImplementedError, match=parameters.FULL_ENV):
        prepared_call.require_shape_enabled(parameters.LLM, "cuda")
    with pytest.raises(NotImplementedError, match="GPUs only"):
        prepared_call.require_shape_enabled(parameters.LINEAR_GPU, "cpu")
    prepared_call.require_shape_enabled(parameters.MEDIUM, "cpu")
    monkeypatch.setenv(parameters.FULL_ENV, "1")
    prepared_call.require_shape_enabled(parameters.LLM, "cpu")


def test_working_set_estimate_skips_what_cannot_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    # LLM shape, float32, forward: three 4.2 GB arrays
    need = prepared_call.working_set_bytes("cross_entropy", (8192, 128256), "float32", False)
    assert need == 3 * 8192 * 128256 * 4
    monkeypatch.setattr(prepared_call.host_memory, "available_bytes", lambda: need - 1)
    with pytest.raises(NotImplementedError, match="GiB"):
        prepared_call.require_fits(
            "torch", "cross_entropy", (8192, 128256), "float32", "cpu", False
        )


def test_resolve_skips_absent_devices_and_unknown_entries() -> None:
    with pytest.raises(NotImplementedError):
        prepared_call.resolve(parameters.NO_ENTRY, "float32", "cpu", False)
    with pytest.raises(NotImplementedError, match="cuda"):
        prepared_call.resolve("numpy.textbook.cross_entropy_shifted", "float32", "cuda", False)


# -- in-process quick pass over the benchmark classes ----------------------------------------


def test_benchmark_classes_run_on_a_numpy_entry() -> None:
    from benchmarks import bench_implementations as bench

    name = "numpy.textbook.cross_entropy_shifted"
    args = (name, "forward_backward", "float32", parameters.SMALL, "cpu")
    timing = bench.ImplementationTime()
    timing.setup(*args)
    timing.time_call(*args)

    bandwidth = bench.ImplementationBandwidth()
    bandwidth.setup(*args)
    n, c = parameters.parse_shape(parameters.SMALL)
    assert bandwidth.bytes == 2 * n * c * 4 + n * 8 + 2 * 4
    assert bandwidth.track_gbps(*args) > 0

    memory = bench.ImplementationHostMemory()
    memory.setup(*args)
    assert memory.track_rss_increase(*args) >= 0

    accuracy = bench.ImplementationAccuracy()
    try:
        accuracy.setup(name, "forward", "float64", "cpu")
    except NotImplementedError as exc:  # only while the reference lacks cross_entropy
        assert "reference" in str(exc)
    else:
        error = accuracy.track_max_ulp(name, "forward", "float64", "cpu")
        assert 0 <= error < 1e3  # the shifted textbook formula is accurate in float64


# -- asv itself -----------------------------------------------------------------------------


def _asv(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # asv drops PYTHONPATH in benchmark processes; ASV_PYTHONPATH is its way to pass one, so the
    # suite imports `verify` and `reference` from this checkout even when not installed
    env["ASV_PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env[parameters.FRAMEWORKS_ENV] = "numpy"  # one light framework keeps every process fast
    env.pop(parameters.FULL_ENV, None)
    return subprocess.run(
        [ASV, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _describe_machine() -> None:
    """asv refuses to run before it has a description of the machine (~/.asv-machine.json)."""
    machine = _asv("machine", "--yes", timeout=60)
    assert machine.returncode == 0, machine.stdout + machine.stderr


def _numpy_cross_entropy_benchmark(benchmark: str) -> str:
    """The ``--bench`` pattern of one NumPy cross-entropy parameter combination."""
    return (
        rf"{benchmark}\('numpy\.textbook\.cross_entropy_shifted', "
        rf"'forward', 'float32', '{parameters.DASHBOARD}', 'cpu'\)"
    )


@pytest.mark.skipif(ASV is None, reason="asv is not installed (pip install -e .[bench])")
def test_asv_discovers_the_suite() -> None:
    proc = _asv("check", "--python=same", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No problems found" in proc.stdout


@pytest.mark.skipif(ASV is None, reason="asv is not installed (pip install -e .[bench])")
def test_asv_quick_pass_on_a_small_subset() -> None:
    _describe_machine()
    pattern = _numpy_cross_entropy_benchmark(r"Implementation(Time|Bandwidth)\.\w+")
    proc = _asv(
        "run",
        "--python=same",
        "--quick",
        "--dry-run",
        "--show-stderr",
        "--bench",
        pattern,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "failed" not in out.lower(), out
    for benchmark in ("time_call", "track_gbps", "track_fraction_of_copy"):
        assert benchmark in out, out


@pytest.mark.skipif(ASV is None, reason="asv is not installed (pip install -e .[bench])")
def test_asv_publish_builds_the_dashboard(tmp_path: Path) -> None:
    """One real result recorded for this commit (``--set-commit-hash``: with ``--python=same``
    asv keeps results only then), and ``asv publish`` turns it into the dashboard.  A copy of
    the configuration writes results and HTML under a temporary directory."""
    text = (ROOT / "asv.conf.json").read_text()
    conf = json.loads(re.sub(r"(?m)^\s*//.*$", "", text))  # asv allows whole-line comments
    conf["results_dir"] = str(tmp_path / "results")
    conf["html_dir"] = str(tmp_path / "html")
    conf["repo"] = str(ROOT)
    conf["benchmark_dir"] = str(ROOT / conf.get("benchmark_dir", "benchmarks"))
    config = tmp_path / "asv.conf.json"
    config.write_text(json.dumps(conf))
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    _describe_machine()
    pattern = _numpy_cross_entropy_benchmark(r"ImplementationTime\.time_call")
    run = _asv(
        "run", "--config", str(config), "--python=same", "--quick",
        "--set-commit-hash", commit, "--bench", pattern, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    recorded = [p for p in (tmp_path / "results").rglob("*.json") if p.name != "machine.json"]
    assert recorded, run.stdout + run.stderr
    published = _asv("publish", "--config", str(config), timeout=300)
    assert published.returncode == 0, published.stdout + published.stderr
    assert (tmp_path / "html" / "index.html").exists()


# -- the dashboard grid and the conformance-run benchmark -------------------------------------


def test_dashboard_grid_is_small_and_the_switch_restores_the_full_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import grid

    everything = ["a.cross_entropy", "numpy.textbook.cross_entropy_shifted", "z.softmax"]
    monkeypatch.delenv(parameters.FULL_ENV, raising=False)
    assert grid.names(everything) == ("numpy.textbook.cross_entropy_shifted",)
    assert grid.names(["only.one"]) == ("only.one",)  # a class keeps one combination
    assert grid.dtypes() == ("float32",) and grid.shapes() == (parameters.DASHBOARD,)
    monkeypatch.setattr(grid, "gpu_present", lambda: False)
    assert grid.devices() == ("cpu",) and grid.devices(("cuda",)) == ("cuda",)
    monkeypatch.setattr(grid, "gpu_present", lambda: True)
    assert grid.devices() == parameters.DEVICES
    monkeypatch.setenv(parameters.FULL_ENV, "1")
    assert grid.names(everything) == tuple(everything)
    assert grid.dtypes() == parameters.DTYPES and grid.shapes() == parameters.SHAPES


def test_conformance_run_benchmark_counts_examples_per_second(tmp_path: Path) -> None:
    from benchmarks import bench_conformance_run as bench

    assert set(bench.SLICES) == {"torch", "jax", "tensorflow", "numpy", "mlx"}
    examples = bench.ConformanceExamples()
    examples.setup("numpy")
    try:
        rate = examples.track_examples_per_second("numpy")
    finally:
        examples.teardown("numpy")
    assert rate > 0


def test_case_drawing_benchmark_draws_its_entries_cases() -> None:
    from benchmarks import bench_strategies as bench

    for entry in bench.ENTRIES:
        drawing = bench.CaseDrawing()
        drawing.setup(entry)
        assert drawing.impl.name == entry
        assert drawing.draw_cases(12) == 12


def test_conformance_run_benchmark_runs_every_framework_only_in_the_full_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import bench_conformance_run as bench

    monkeypatch.delenv(parameters.FULL_ENV, raising=False)
    assert bench._run_scopes() == ("numpy",)
    monkeypatch.setenv(parameters.FULL_ENV, "1")
    assert bench._run_scopes() == ("numpy", "all")
