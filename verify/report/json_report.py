"""``conformance.json``: writing, reading and validating the machine-readable report.

The layout is ``docs/contract.md`` section 4; the JSON Schema shipped next to this module
(``conformance.schema.json``, JSON Schema draft 2020-12,
https://json-schema.org/draft/2020-12/json-schema-core) states it formally, and every report
this package reads is validated against it with ``jsonschema``
(https://python-jsonschema.readthedocs.io/).
"""

from __future__ import annotations

import functools
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

from verify.report import findings
from verify.report.atomic import write_text_atomic
from verify.report.model import Report

SCHEMA_FILE = "conformance.schema.json"


class ReportError(ValueError):
    """A file that is not a valid ``conformance.json`` (one-line message)."""


@functools.cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``conformance.json``."""
    text = resources.files("verify.report").joinpath(SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


def jsonable(value: Any) -> Any:
    """``value`` with everything JSON cannot hold made representable: NumPy scalars and arrays
    become Python numbers and lists, non-finite floats the strings ``'inf'``, ``'-inf'``,
    ``'nan'`` (as :meth:`verify.results.Result.to_json` writes them), tuples lists, and any
    other object its ``str``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        value = float(value)  # NumPy float64 is a float subclass with its own repr
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    tolist = getattr(value, "tolist", None)  # NumPy scalars and arrays
    if callable(tolist):
        return jsonable(tolist())
    return str(value)


def document(report: Report) -> dict[str, Any]:
    """The JSON document of ``report``, with its ``findings`` (:mod:`verify.report.findings`)."""
    doc = report.to_json()
    doc["findings"] = [f.to_json() for f in findings.group(report.results, report.environment)]
    return doc


def dumps(report: Report) -> str:
    """The report as JSON text (UTF-8 safe, strict JSON: no NaN literals)."""
    return json.dumps(jsonable(document(report)), indent=1, ensure_ascii=False, allow_nan=False)


def validate(document: Any) -> None:
    """Raise :class:`ReportError` when ``document`` does not follow the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ReportError(f"not a xent-conformance/1 report: at {where}: {error.message}")


def write(report: Report, path: str | os.PathLike[str]) -> Path:
    """Validate and atomically write ``report`` to ``path``."""
    text = dumps(report)
    validate(json.loads(text))
    return write_text_atomic(path, text + "\n")


def load(path: str | os.PathLike[str]) -> Report:
    """Read and validate a ``conformance.json``; :class:`ReportError` says what is wrong."""
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise ReportError(f"cannot read report {os.fspath(path)!r}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ReportError(f"report {os.fspath(path)!r} is not UTF-8 text") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"report {os.fspath(path)!r} is not JSON: {exc}") from exc
    try:
        validate(document)
    except ReportError as exc:
        raise ReportError(f"{os.fspath(path)!r}: {exc}") from exc
    return Report.from_json(document)
