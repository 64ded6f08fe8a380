"""AWS JSON 1.1 request bodies checked against AWS's own service model (service.json, trimmed from
botocore's ``kms`` model by shapes_gen.py): member names, types, required members, lengths, ranges,
enums and patterns, with AWS's ValidationException wording. Blobs arrive base64 and leave here as bytes.

A body that is not a JSON object, or a member of the wrong JSON type, is SerializationException; a
value outside its shape's constraints is ValidationException, as AWS answers both.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from gateway.core.aws.errors import AwsError, AwsName


@cache
def model() -> dict[str, Any]:
    return json.loads((resources.files("gateway.aws") / "service.json").read_text())


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def operations() -> dict[str, dict[str, str]]:
    return model()["operations"]


def _serialization(message: str) -> AwsError:
    return AwsError(AwsName.SERIALIZATION, message)


def _lower_camel(path: str) -> str:
    return path[:1].lower() + path[1:]


def decode(operation: str, body: bytes) -> dict[str, Any]:
    """The request's members, checked; blobs as bytes."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise _serialization("Start of structure or map found where not expected.") from None
    if not isinstance(data, dict):
        raise _serialization("Start of structure or map found where not expected.")
    problems: list[str] = []
    out = _structure(model()["operations"][operation]["input"], data, "", problems)
    if problems:
        shown = problems[:10]
        noun = "error" if len(problems) == 1 else "errors"
        raise AwsError(AwsName.VALIDATION, f"{len(problems)} validation {noun} detected: " + "; ".join(shown))
    return out


def _structure(shape_name: str, data: dict[str, Any], path: str, problems: list[str]) -> dict[str, Any]:
    shape = model()["shapes"][shape_name]
    members: dict[str, str] = shape["members"]
    out: dict[str, Any] = {}
    for name, value in data.items():
        target = members.get(name)
        if target is None or value is None:
            continue  # AWS ignores members it does not know
        out[name] = _value(target, value, f"{path}{'.' if path else ''}{_lower_camel(name)}", problems)
    for name in shape.get("required", ()):
        if data.get(name) is None:
            where = f"{path}{'.' if path else ''}{_lower_camel(name)}"
            problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
    return out


def _value(shape_name: str, value: Any, path: str, problems: list[str]) -> Any:
    shape = model()["shapes"][shape_name]
    kind = shape["type"]
    if kind == "string":
        if not isinstance(value, str):
            raise _serialization(f"Expected a string at '{path}'.")
        _length(shape, len(value), path, problems)
        if "enum" in shape and value not in shape["enum"]:
            allowed = ", ".join(shape["enum"])
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{allowed}]"
            )
        elif "pattern" in shape and not _pattern(shape["pattern"]).search(value):
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: "
                + shape["pattern"]
            )
        return value
    if kind == "blob":
        if not isinstance(value, str):
            raise _serialization(f"Expected base64 text at '{path}'.")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _serialization(f"Value at '{path}' is not valid base64.") from None
        _length(shape, len(raw), path, problems)
        return raw
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _serialization(f"Expected an integer at '{path}'.")
        if "min" in shape and value < shape["min"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {shape['min']}"
            )
        if "max" in shape and value > shape["max"]:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {shape['max']}"
            )
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _serialization(f"Expected a boolean at '{path}'.")
        return value
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _serialization(f"Expected a timestamp (seconds) at '{path}'.")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise _serialization(f"Expected a list at '{path}'.")
        _length(shape, len(value), path, problems)
        return [_value(shape["member"], item, f"{path}.{i + 1}.member", problems) for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _serialization(f"Expected a map at '{path}'.")
        _length(shape, len(value), path, problems)
        return {
            _value(shape["key"], k, f"{path}.key", problems): _value(shape["value"], v, f"{path}.value", problems)
            for k, v in value.items()
        }
    if kind == "structure":
        if not isinstance(value, dict):
            raise _serialization(f"Expected a structure at '{path}'.")
        return _structure(shape_name, value, path, problems)
    raise _serialization(f"Unexpected value at '{path}'.")


def _length(shape: dict[str, Any], length: int, path: str, problems: list[str]) -> None:
    if "min" in shape and length < shape["min"]:
        problems.append(
            f"Value at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {shape['min']}"
        )
    if "max" in shape and length > shape["max"]:
        problems.append(
            f"Value at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {shape['max']}"
        )


def _json_default(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(answer: dict[str, Any]) -> bytes:
    """A response body: None members left out, bytes as base64, timestamps already epoch seconds."""
    return json.dumps({k: v for k, v in answer.items() if v is not None}, default=_json_default).encode()
