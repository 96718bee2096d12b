"""Selecting what a run verifies: implementation names and globs, checks, dtypes, deterministic
shards (``--shard K/N``) whose merged reports equal an unsharded run, and the groups several
workers claim from one plan."""

from __future__ import annotations

import io
import itertools
import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import cli
from verify.report import json_report
from verify.session import Selection, groups, matches, shard_of

KEYS = st.tuples(
    st.sampled_from(["torch.softmax", "optax.softmax_cross_entropy[jit]", "np.textbook.lse"]),
    st.sampled_from(cli.CHECK_NAMES),
    st.sampled_from(["float16", "bfloat16", "float32", "float64"]),
    st.sampled_from(["cpu", "cuda"]),
)


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(key=KEYS, n=st.integers(1, 7))
def test_every_search_is_in_exactly_one_shard(key, n):
    owners = [k for k in range(1, n + 1) if Selection(shard=(k, n)).admits(key)]
    assert owners == [shard_of(key, n) + 1]


@settings(max_examples=40, derandomize=True, database=None, deadline=None)
@given(key=KEYS, n=st.integers(2, 9))
def test_the_checks_of_one_implementation_and_dtype_share_a_shard(key, n):
    impl, _check, dtype, device = key
    assert {shard_of((impl, check, dtype, device), n) for check in cli.CHECK_NAMES} == {
        shard_of(key, n)
    }


def test_shards_split_a_plan_evenly_enough():
    keys = list(
        itertools.product(
            [f"impl{i}" for i in range(20)],
            cli.CHECK_NAMES,
            ["float16", "bfloat16", "float32", "float64"],
            ["cpu"],
        )
    )
    sizes = [sum(Selection(shard=(k, 4)).admits(key) for key in keys) for k in range(1, 5)]
    assert sum(sizes) == len(keys)
    assert min(sizes) > len(keys) / 4 * 0.7


def test_names_and_globs():
    assert matches("torch.nn.functional.cross_entropy", ["torch.nn.functional.*"])
    assert matches("optax.softmax_cross_entropy[jit]", ["optax.softmax_cross_entropy[jit]"])
    assert not matches("optax.softmax_cross_entropy", ["optax.softmax_cross_entropy[jit]"])
    # brackets are literal: tags, not character classes
    assert matches("optax.softmax_cross_entropy[jit]", ["*[jit]"])
    assert not matches("torch.logsumexp", ["*[compiled]"])
    assert matches("torch.nn.functional.softmax[compiled]", ["*[compiled]"])
    assert matches("a.f[jit]", ["a.?[jit]"]) and not matches("a.fj", ["a.f[jit]"])
    sel = Selection(implementations=("a.*",), checks=("gradient",), dtypes=("bfloat16",))
    assert sel.admits(("a.f", "gradient", "bfloat16", "cpu"))
    assert not sel.admits(("a.f", "accuracy", "bfloat16", "cpu"))
    assert not sel.admits(("a.f", "gradient", "float32", "cpu"))
    assert not sel.admits(("b.f", "gradient", "bfloat16", "cpu"))
    skip = Selection(skip=frozenset({("a.f", "gradient", "bfloat16", "cpu")}))
    assert not skip.admits(("a.f", "gradient", "bfloat16", "cpu"))


class _Entry:
    def __init__(self, name: str) -> None:
        self.name = name
        self.code_path = ""  # a plain entry


def test_groups_keep_an_implementation_together_and_bad_input_last():
    a, b = _Entry("a"), _Entry("b")
    items = [
        (a, "accuracy", "float32", "cpu"),
        (a, "gradient", "float32", "cpu"),
        (b, "accuracy", "float32", "cpu"),
        (a, "bad_input", "float32", "cpu"),
        (b, "bad_input", "float32", "cpu"),
    ]
    got = [[(i[0].name, i[1]) for i in g] for g in groups(items)]
    assert got == [
        [("a", "accuracy"), ("a", "gradient")],
        [("b", "accuracy")],
        [("a", "bad_input")],
        [("b", "bad_input")],
    ]


class _Counter:
    """What ``multiprocessing.Value`` offers, for threads."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


def test_workers_sharing_a_plan_claim_each_group_once():
    from verify.session import _claimed_groups

    plan = [[("item", i)] for i in range(50)]
    counter = _Counter()
    claimed: list[list[int]] = [[], [], []]

    def work(slot: int) -> None:
        for index, _group in _claimed_groups(plan, counter, ()):
            claimed[slot].append(index)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(itertools.chain(*claimed)) == list(range(50))
    # a restarted worker resumes its group first, then claims as usual
    resumed = [i for i, _ in _claimed_groups(plan, None, (7,))]
    assert resumed[0] == 7 and sorted(resumed) == list(range(50))


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "x/2", "2", "1/-1"])
def test_bad_shard_is_a_usage_error(text, capsys):
    assert cli.main(["--shard", text]) == 2
    assert "K/N" in capsys.readouterr().err


def test_unknown_implementation_lists_close_matches(capsys):
    argv = ["--framework", "numpy", "--implementation", "numpy.textbook.softmax_shiftd"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matches nothing" in err
    assert "numpy.textbook.softmax_shifted" in err


def test_selection_reaches_the_plan(tmp_path):
    args = cli.build_parser().parse_args(
        [
            "--framework",
            "numpy",
            "--implementation",
            "numpy.textbook.*_shifted",
            "--check",
            "gradient",
            "--dtype",
            "bfloat16",
            "--shard",
            "2/3",
            "--jobs",
            "2",
            "--output",
            str(tmp_path),
        ]
    )
    plan = cli.plan_from_args(args)
    assert plan.selection == Selection(
        implementations=("numpy.textbook.*_shifted",),
        checks=("gradient",),
        dtypes=("bfloat16",),
        shard=(2, 3),
    )
    assert [job.label for job in plan.jobs] == ["numpy", "numpy/2"]
    assert all(job.share == "numpy" and job.selection == plan.selection for job in plan.jobs)


def _results(path):
    report = json_report.load(path)
    rows = []
    for r in report.results:
        obj = r.to_json()
        obj.pop("duration_s", None)
        rows.append(json.dumps(json_report.jsonable(obj), sort_keys=True))
    return report, sorted(rows)


@pytest.fixture(scope="module")
def sharded_and_whole(tmp_path_factory):
    """A real run (NumPy textbook entries, quick profile) unsharded, and as three shards
    merged: (exit status of each, the two reports, the shards' sizes).  Each run has a
    directory of its own, so a fresh example database (one shared with the unsharded run
    would replay its failing examples first)."""
    base = tmp_path_factory.mktemp("shards")
    common = [
        "--framework",
        "numpy",
        "--profile",
        "quick",
        "--seed",
        "5",
        "--implementation",
        "numpy.textbook.log_softmax_*",
        "--implementation",
        "numpy.textbook.cross_entropy_naive",
        "--dtype",
        "float32",
        "--dtype",
        "bfloat16",
    ]
    with pytest.MonkeyPatch.context() as mp:

        def in_own_dir(name: str, args: list[str]) -> int:
            (base / name).mkdir()
            mp.chdir(base / name)
            return cli.main(args)

        status = in_own_dir("run-whole", [*common, "--output", str(base / "whole")])
        shard_status = [
            in_own_dir(f"run-s{k}", [*common, "--shard", f"{k}/3", "--output", str(base / f"s{k}")])
            for k in (1, 2, 3)
        ]
        merged = ["merge", *(str(base / f"s{k}/conformance.json") for k in (1, 2, 3))]
        merge_status = cli.main([*merged, "--output", str(base / "merged")])
    sizes = [len(json_report.load(base / f"s{k}/conformance.json").results) for k in (1, 2, 3)]
    return (status, shard_status, merge_status), base / "whole", base / "merged", sizes


@pytest.mark.slow
def test_merged_shards_equal_an_unsharded_run(sharded_and_whole):
    (status, shard_status, merge_status), whole_dir, merged_dir, sizes = sharded_and_whole
    assert status in (0, 1) and all(s in (0, 1) for s in shard_status)
    assert merge_status == status
    whole, whole_rows = _results(whole_dir / "conformance.json")
    joined, joined_rows = _results(merged_dir / "conformance.json")
    # 3 implementations x 8 checks x 2 dtypes, each in one shard
    assert len(whole_rows) == sum(sizes) == 3 * 8 * 2
    assert joined_rows == whole_rows  # every field but the duration
    key = lambda r: (r.implementation, r.check, r.dtype, r.device)  # noqa: E731
    assert [key(r) for r in joined.nonconforming] == [key(r) for r in whole.nonconforming]


def test_merged_shards_of_fake_frameworks_equal_the_unsharded_report(tmp_path):
    from tests.runner_fakes import fake_session
    from verify.runner import Job

    def run(output, shard=None):
        selection = Selection(shard=shard)
        jobs = [Job(b, "numpy", fake_session, (b,), selection=selection) for b in ("ok", "fail")]
        plan = cli.RunPlan(
            jobs=jobs,
            devices=("cpu",),
            explicit_devices=False,
            profile="quick",
            seed=2,
            output=output,
            parallel=2,
            selection=selection,
        )
        return cli.execute(plan, stdout=io.StringIO(), stderr=io.StringIO(), live=False)

    status = run(tmp_path / "whole")
    assert status == 1  # the fake "fail" framework has a non-conformance
    shard_status = [run(tmp_path / f"s{k}", (k, 3)) for k in (1, 2, 3)]
    sources = [str(tmp_path / f"s{k}" / "conformance.json") for k in (1, 2, 3)]
    merged_status = cli.run_merge(
        [*sources, "--output", str(tmp_path / "merged")],
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert merged_status == status and 1 in shard_status
    sizes = [len(json_report.load(s).results) for s in sources]
    whole, whole_rows = _results(tmp_path / "whole/conformance.json")
    merged, merged_rows = _results(tmp_path / "merged/conformance.json")
    assert sum(sizes) == len(whole_rows) == 17 and all(sizes)
    assert merged_rows == whole_rows
    assert bool(merged.nonconforming) == bool(whole.nonconforming)
    assert json_report.load(sources[0]).environment["shard"] == "1/3"


def test_merge_diffs_against_a_baseline(tmp_path):
    from tests.report_samples import result
    from verify.report.model import Report, base_environment

    def report(status: str, name: str):
        env = base_environment(frameworks=["numpy"], profile="quick", seed=0)
        row = result("numpy.textbook.softmax_shifted", op="softmax", status=status, examples=8)
        path = tmp_path / f"{name}.json"
        json_report.write(Report(env, [row]), path)
        return str(path)

    old, new = report("pass", "old"), report("fail", "new")
    out = io.StringIO()
    argv = [new, "--baseline", old, "--output", str(tmp_path / "m")]
    assert cli.run_merge(argv, stdout=out, stderr=io.StringIO()) == 1
    merged = json_report.load(tmp_path / "m" / "conformance.json")
    assert merged.results[0].baseline == "regressed"
    assert merged.environment["baseline"]["path"] == old
    with pytest.raises(cli.UsageError, match="--baseline"):
        cli.run_merge(
            [new, "--baseline", str(tmp_path / "none.json")],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )


def test_a_restarted_worker_numbers_the_groups_as_the_others_do(monkeypatch):
    """Groups are numbered before the skipped searches are removed: a replacement worker whose
    ``skip`` covers a whole group still claims the same group numbers as its peers."""
    import verify.session as session
    from verify.results import Result

    def fake_check(impl, check, dtype, device, *, profile, seed):
        return Result(impl.name, "numpy", "softmax", check, dtype, device, "pass")

    monkeypatch.setattr(session, "run_check", fake_check)
    entries = [_Entry(n) for n in ("a", "b", "c")]
    items = [(e, check, "float32", "cpu") for e in entries for check in ("accuracy", "gradient")]
    counter = _Counter()
    counter.value = 1  # a peer has claimed group 0 ("a")
    skip = frozenset({("a", "accuracy", "float32", "cpu"), ("a", "gradient", "float32", "cpu")})
    claimed: list[int] = []
    run = session._run_plan(
        "numpy",
        items,
        session.SessionRun(
            devices=["cpu"],
            profile="quick",
            seed=0,
            selection=Selection(skip=skip),
            claims=counter,
            on_group=claimed.append,
        ),
    )
    names = [r.implementation for r in run]
    assert names == ["b", "b", "c", "c"]
    assert claimed == [1, 2, -1, -1]
