"""The result file's JSON Schema (``kmsgw.bench/1``) and its check.

The schema is versioned by its id: a change that breaks readers makes ``kmsgw.bench/2``, and
``report`` refuses a file whose id it does not know rather than misread it. ``kmsgw bench report
--print-schema`` prints it; docs/benchmarking.md explains the fields.
"""

from __future__ import annotations

import importlib
from typing import Any

from gateway.bench import SCHEMA_ID

_NUM = {"type": ["number", "null"]}
_INT = {"type": ["integer", "null"]}
_STAT = {
    "type": "object",
    "required": ["mean", "ci95", "min", "max", "n"],
    "properties": {"mean": _NUM, "ci95": _NUM, "min": _NUM, "max": _NUM, "n": {"type": "integer", "minimum": 0}},
}
_LATENCY = {
    "type": ["object", "null"],
    "required": ["count", "mean", "min", "p50", "p90", "p99", "p999", "max"],
    "properties": {q: _NUM for q in ("mean", "min", "p50", "p90", "p99", "p999", "max")}
    | {"count": {"type": "integer"}},
}
_HISTOGRAM = {
    "type": ["object", "null"],
    "required": ["scheme", "count", "sum_ns", "min_ns", "max_ns", "buckets"],
    "properties": {
        "scheme": {"const": "log-linear-64"},
        "buckets": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
    },
}
_CELL = {
    "type": "object",
    "required": [
        "id", "layer", "status", "reason", "note", "concurrency", "throughput", "bytes_per_s", "latency_us",
        "histogram", "errors", "error_count", "client_cpu", "scaling_efficiency", "x_raw",
    ],
    "properties": {
        "id": {"type": "string"},
        "layer": {"enum": ["p11", "gateway"]},
        "status": {"enum": ["ok", "skipped", "failed"]},
        "reason": {"type": "string"},
        "concurrency": {"type": "integer", "minimum": 0},
        "payload": _INT,
        "throughput": {
            "allOf": [_STAT],
            "type": "object",
            "required": ["unit", "values"],
            "properties": {"unit": {"enum": ["ops/s", "calls/s", "items/s"]}, "values": {"type": "array"}},
        },
        "bytes_per_s": {"anyOf": [{"type": "null"}, _STAT]},
        "latency_us": _LATENCY,
        "histogram": _HISTOGRAM,
        "errors": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
        "error_count": {"type": "integer", "minimum": 0},
        "client_cpu": {
            "type": ["object", "null"],
            "required": ["cores_used", "percent_of_machine", "bound"],
            "properties": {"bound": {"type": "boolean"}},
        },
        "scaling_efficiency": _NUM,
        "x_raw": _NUM,
    },
    "allOf": [
        {
            "if": {"properties": {"layer": {"const": "p11"}}},
            "then": {"required": ["mechanism", "key", "payload", "model"]},
        },
        {
            "if": {"properties": {"layer": {"const": "gateway"}}},
            "then": {"required": ["transport", "operation", "mode", "workers"]},
        },
    ],
}  # fmt: skip
_CURVE = {
    "type": "object",
    "required": ["group", "points", "p99_budget_us", "budget_source", "knee"],
    "properties": {
        "points": {"type": "array", "items": {"type": "object", "required": ["concurrency", "throughput", "p99_us"]}},
        "knee": {"type": ["object", "null"], "required": ["concurrency", "throughput", "p99_us"]},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "kmsgw bench result",
    "type": "object",
    "required": [
        "schema", "kind", "created", "command", "software_token", "environment", "settings", "discovery", "cells",
        "curves", "summary",
    ],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "kind": {"enum": ["p11", "gateway"]},
        "created": {"type": "string"},
        "command": {"type": "array", "items": {"type": "string"}},
        "software_token": {"type": "boolean"},
        "environment": {
            "type": "object",
            "required": ["cpu", "cores_online", "cores_usable", "load_average_start", "load_average_end", "kernel",
                         "python", "packages"],
            "properties": {
                "load_average_start": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
                "module": {"type": ["object", "null"], "required": ["path", "sha256"]},
                "token": {"type": ["object", "null"]},
                "gateway": {"type": ["object", "null"]},
            },
        },
        "settings": {"type": "object"},
        "discovery": {
            "type": ["object", "null"],
            "required": ["library", "token", "mechanisms"],
            "properties": {
                "mechanisms": {"type": "array", "items": {"type": "object", "required": ["number", "name"]}},
            },
        },
        "cells": {"type": "array", "items": _CELL},
        "curves": {"type": "array", "items": _CURVE},
        "summary": {"type": "object", "required": ["cells", "ok", "skipped", "failed", "errors"]},
    },
}  # fmt: skip


class InvalidResult(ValueError):
    """Not a result file this version can read."""


def validate(doc: Any) -> None:
    """Raise :class:`InvalidResult` unless ``doc`` is a ``kmsgw.bench/1`` result (full JSON Schema check when
    jsonschema is installed, the id and the top-level keys otherwise)."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_ID:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InvalidResult(f"not a {SCHEMA_ID} result file (schema: {found!r})")
    try:
        jsonschema: Any = importlib.import_module("jsonschema")
    except ImportError:
        missing = [k for k in SCHEMA["required"] if k not in doc]
        if missing:
            raise InvalidResult(f"missing {', '.join(missing)}") from None
        return
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "(top)"
        raise InvalidResult(f"{where}: {first.message}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""))
