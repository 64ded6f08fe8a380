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
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from gateway.core.aws.errors import AwsError, AwsName


@cache
def model() -> dict[str, Any]:
    return json.loads((resources.files("gateway.aws") / "service.json").read_text())


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
    out = _checker(model()["operations"][operation]["input"])(data, "", problems)
    if problems:
        shown = problems[:10]
        noun = "error" if len(problems) == 1 else "errors"
        raise AwsError(AwsName.VALIDATION, f"{len(problems)} validation {noun} detected: " + "; ".join(shown))
    assert isinstance(out, dict)
    return out


# Each shape of the model becomes one checker, built once: a function of (value, path, problems)
# that answers the value as the handlers take it, raises SerializationException for a value of the
# wrong JSON type and appends AWS's wording of every constraint it breaks to ``problems``. Built
# once rather than interpreted from the model on every request (the hot path decodes every body).
Checker = Callable[[Any, str, list[str]], Any]


@cache
def _checker(shape_name: str) -> Checker:
    shape = model()["shapes"][shape_name]
    build = _BUILDERS.get(shape["type"])
    if build is None:
        return _unexpected
    return build(shape)


def _unexpected(value: Any, path: str, problems: list[str]) -> Any:
    raise _serialization(f"Unexpected value at '{path}'.")


def _member_path(path: str, name: str) -> str:
    return f"{path}.{_lower_camel(name)}" if path else _lower_camel(name)


def _structure(shape: dict[str, Any]) -> Checker:
    members: dict[str, str] = shape["members"]
    required = tuple(shape.get("required", ()))

    def check(value: Any, path: str, problems: list[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _serialization(f"Expected a structure at '{path}'.")
        out: dict[str, Any] = {}
        for name, item in value.items():
            target = members.get(name)
            if target is None or item is None:
                continue  # AWS ignores members it does not know
            out[name] = _checker(target)(item, _member_path(path, name), problems)
        for name in required:
            if value.get(name) is None:
                where = _member_path(path, name)
                problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        return out

    return check


def _string(shape: dict[str, Any]) -> Checker:
    length = _length(shape)
    enum = frozenset(shape["enum"]) if "enum" in shape else None
    allowed = ", ".join(shape.get("enum", ()))
    pattern = re.compile(shape["pattern"]) if "pattern" in shape else None

    def check(value: Any, path: str, problems: list[str]) -> str:
        if not isinstance(value, str):
            raise _serialization(f"Expected a string at '{path}'.")
        length(len(value), path, problems)
        if enum is not None and value not in enum:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{allowed}]"
            )
        elif pattern is not None and not pattern.search(value):
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: "
                + pattern.pattern
            )
        return value

    return check


def _blob(shape: dict[str, Any]) -> Checker:
    length = _length(shape)

    def check(value: Any, path: str, problems: list[str]) -> bytes:
        if not isinstance(value, str):
            raise _serialization(f"Expected base64 text at '{path}'.")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _serialization(f"Value at '{path}' is not valid base64.") from None
        length(len(raw), path, problems)
        return raw

    return check


def _integer(shape: dict[str, Any]) -> Checker:
    low, high = shape.get("min"), shape.get("max")

    def check(value: Any, path: str, problems: list[str]) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _serialization(f"Expected an integer at '{path}'.")
        if low is not None and value < low:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {low}"
            )
        if high is not None and value > high:
            problems.append(
                f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {high}"
            )
        return value

    return check


def _boolean(shape: dict[str, Any]) -> Checker:
    def check(value: Any, path: str, problems: list[str]) -> bool:
        if not isinstance(value, bool):
            raise _serialization(f"Expected a boolean at '{path}'.")
        return value

    return check


def _timestamp(shape: dict[str, Any]) -> Checker:
    def check(value: Any, path: str, problems: list[str]) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _serialization(f"Expected a timestamp (seconds) at '{path}'.")
        return value

    return check


def _list(shape: dict[str, Any]) -> Checker:
    length = _length(shape)
    member = shape["member"]

    def check(value: Any, path: str, problems: list[str]) -> list[Any]:
        if not isinstance(value, list):
            raise _serialization(f"Expected a list at '{path}'.")
        length(len(value), path, problems)
        item = _checker(member)
        return [item(v, f"{path}.{i + 1}.member", problems) for i, v in enumerate(value)]

    return check


def _map(shape: dict[str, Any]) -> Checker:
    length = _length(shape)
    key_shape, value_shape = shape["key"], shape["value"]

    def check(value: Any, path: str, problems: list[str]) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise _serialization(f"Expected a map at '{path}'.")
        length(len(value), path, problems)
        key, val = _checker(key_shape), _checker(value_shape)
        key_path, value_path = f"{path}.key", f"{path}.value"
        return {key(k, key_path, problems): val(v, value_path, problems) for k, v in value.items()}

    return check


_BUILDERS: dict[str, Callable[[dict[str, Any]], Checker]] = {
    "structure": _structure,
    "string": _string,
    "blob": _blob,
    "integer": _integer,
    "long": _integer,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "list": _list,
    "map": _map,
}


def _length(shape: dict[str, Any]) -> Callable[[int, str, list[str]], None]:
    """The check of a shape's min/max length (of a string, a decoded blob, a list or a map)."""
    low, high = shape.get("min"), shape.get("max")

    def check(length: int, path: str, problems: list[str]) -> None:
        if low is not None and length < low:
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {low}"
            )
        if high is not None and length > high:
            problems.append(
                f"Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {high}"
            )

    return check


def _json_default(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot encode {type(value).__name__}")


_ENCODER = json.JSONEncoder(default=_json_default)  # made once: json.dumps(default=...) builds one per call


def encode(answer: dict[str, Any]) -> bytes:
    """A response body: None members left out, bytes as base64, timestamps already epoch seconds."""
    out = {}
    for name, value in answer.items():
        if value is not None:
            out[name] = base64.b64encode(value).decode() if type(value) is bytes else value  # the common case first
    return _ENCODER.encode(out).encode()
