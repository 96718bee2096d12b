"""conformance.json: schema validation of real writer output, round trips, and rejection."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

from tests.report_samples import environment, result, sample_report
from verify.report import FILES, json_report, write_all
from verify.report.model import Report, base_environment, sort_key
from verify.results import SCHEMA


def test_written_report_validates_against_the_shipped_schema(tmp_path):
    paths = write_all(sample_report(), tmp_path)
    assert sorted(p.name for p in paths.values()) == sorted(FILES)
    document = json.loads((tmp_path / "conformance.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(json_report.schema())
    jsonschema.validate(document, json_report.schema(), cls=jsonschema.Draft202012Validator)
    assert document["schema"] == SCHEMA
    assert {
        "python",
        "platform",
        "frameworks",
        "devices",
        "profile",
        "seed",
        "started",
        "finished",
    } <= set(document["environment"])
    no_temp_files = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert no_temp_files == []


def test_round_trip_keeps_every_field_including_non_finite(tmp_path):
    report = sample_report().sorted()
    json_report.write(report, tmp_path / "r.json")
    back = json_report.load(tmp_path / "r.json")
    assert back.environment == report.environment
    assert len(back.results) == len(report.results)
    for a, b in zip(report.results, back.results, strict=True):
        assert a.key == b.key and a.status == b.status and a.known_issue == b.known_issue
        if a.max_ulp is None:
            assert b.max_ulp is None
        elif math.isinf(a.max_ulp):
            assert b.max_ulp == a.max_ulp
        else:
            assert b.max_ulp == a.max_ulp
    text = (tmp_path / "r.json").read_text("utf-8")

    def no_constants(name: str) -> None:  # strict JSON: no NaN/Infinity literals
        raise AssertionError(f"non-standard JSON constant {name}")

    json.loads(text, parse_constant=no_constants)


def test_numpy_values_in_extra_are_made_json(tmp_path):
    import numpy as np

    r = result(
        extra={
            "points": [
                {"magnitude": np.float32(2.5), "classes": np.int64(7), "ulp": np.float64(np.inf)}
            ],
            "arr": np.arange(3),
        }
    )
    json_report.write(Report(environment(), [r]), tmp_path / "r.json")
    back = json_report.load(tmp_path / "r.json")
    assert back.results[0].extra["points"] == [{"magnitude": 2.5, "classes": 7, "ulp": "inf"}]
    assert back.results[0].extra["arr"] == [0, 1, 2]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.pop("schema"), "schema"),
        (lambda d: d.update(schema="xent-conformance/2"), "schema"),
        (lambda d: d["environment"].pop("seed"), "seed"),
        (lambda d: d["results"][0].update(status="passed"), "results/0/status"),
        (lambda d: d["results"][0].update(check="speed"), "results/0/check"),
        (lambda d: d["results"][0].update(max_ulp="huge"), "results/0/max_ulp"),
        (lambda d: d["results"][0].pop("reproducer"), "reproducer"),
        (lambda d: d["environment"].update(started="yesterday"), "environment/started"),
    ],
)
def test_schema_rejects_broken_documents(mutate, where):
    document = json.loads(json_report.dumps(sample_report()))
    json_report.validate(document)
    mutate(document)
    with pytest.raises(json_report.ReportError) as info:
        json_report.validate(document)
    assert "\n" not in str(info.value)
    assert where.split("/")[-1] in str(info.value) or where in str(info.value)


def test_load_reports_what_is_wrong_in_one_line(tmp_path):
    missing = tmp_path / "missing.json"
    not_json = tmp_path / "bad.json"
    not_json.write_text("{nope", "utf-8")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"schema": "other"}), "utf-8")
    for path, phrase in ((missing, "cannot read"), (not_json, "not JSON"), (wrong, "not a")):
        with pytest.raises(json_report.ReportError, match=phrase) as info:
            json_report.load(path)
        assert "\n" not in str(info.value)


def test_base_environment_has_the_contract_fields_and_sorting_is_canonical():
    env = base_environment(frameworks=["torch"], profile="quick", seed=3)
    assert env["profile"] == "quick" and env["seed"] == 3
    assert "numpy" in env["frameworks"]
    a = result(dtype="float64")
    b = result(dtype="float16")
    c = result(check="gradient", dtype="float16")
    assert sorted([c, a, b], key=sort_key) == [b, a, c]
