"""Building blocks of the REST schema: wire types, the error meaning of each field, parsing.

Every request field is declared with :func:`field`, which records the :class:`Err` a bad value
of that field means (``x-kmsgw-error`` in the JSON schema). :func:`parse_body` validates a body
against its model and turns the first validation error into that meaning, so a field of the
wrong JSON type never reaches the core and each operation answers its own code (KMS.1401 for
``pending_days``, KMS.1901 for ``datakey_length`` ...). Value rules that every transport shares
(ranges, key id format, alias pattern) stay in the core (``gateway.core.validate``); the schema
checks JSON types and wire encodings (digit strings, hex, base64, UTF-8).

Wire conventions (docs/api.md; SDK ``huaweicloudsdkkms.v2.model``): numbers the reference types as String
travel as strings of decimal digits (``"pending_days": "7"``) and a JSON number there is a type
error; binary values are hex (data keys) or base64 (encrypt-data); true/false in responses are
the strings ``"true"``/``"false"`` where the SDK models type them as ``str``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, WithJsonSchema

from gateway.core.errors import Err, KmsError

ERROR_KEY = "x-kmsgw-error"
_DIGITS = re.compile(r"[0-9]{1,10}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def field(err: Err, description: str, default: Any = ..., **kw: Any) -> Any:
    """A request field whose bad value means ``err``; no default: the field is required."""
    return Field(default, description=description, json_schema_extra={ERROR_KEY: err.name}, **kw)


# -- wire types ---------------------------------------------------------------------------------
def _digits(value: object) -> int:
    if type(value) is not str or not _DIGITS.fullmatch(value):
        raise ValueError('must be a string of decimal digits, e.g. "7"')
    return int(value)


def _digits_or_empty(value: object) -> int | None:
    if value is None or value == "":
        return None
    return _digits(value)


def _hex(value: object) -> bytes:
    if type(value) is not str:
        raise ValueError("must be a hex string")
    try:
        return binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise ValueError("must be a hex string (two digits per byte)") from None


def _base64(value: object) -> bytes:
    if type(value) is not str:
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be standard base64") from None


def _utf8(value: object) -> bytes:
    if type(value) is not str:
        raise ValueError("must be a string")
    return value.encode("utf-8")  # the JSON parser already refused lone surrogates


#: A decimal number carried as a JSON string (the reference's "String" numbers); the handler gets an int.
NumStr = Annotated[int, PlainValidator(_digits), WithJsonSchema({"type": "string", "pattern": "^[0-9]{1,10}$"})]
#: As NumStr, optional: ``""`` and ``null`` mean absent.
OptNumStr = Annotated[
    int | None,
    PlainValidator(_digits_or_empty),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": "^([0-9]{1,10})?$"}, {"type": "null"}]}),
]
#: Bytes carried as hex (either case on input; the gateway answers upper case, as the reference's examples).
HexBytes = Annotated[bytes, PlainValidator(_hex), WithJsonSchema({"type": "string", "pattern": "^([0-9a-fA-F]{2})*$"})]
#: Bytes carried as standard base64.
B64Bytes = Annotated[bytes, PlainValidator(_base64), WithJsonSchema({"type": "string", "contentEncoding": "base64"})]
#: Text whose UTF-8 bytes the core takes (encrypt-data's plain_text).
TextBytes = Annotated[bytes, PlainValidator(_utf8), WithJsonSchema({"type": "string"})]
#: A JSON object of string to string (the reference's encryption_context).
Context = dict[str, str]


def hex_out(data: bytes) -> str:
    return data.hex().upper()


def bool_str(value: bool) -> str:
    return "true" if value else "false"


# -- base models --------------------------------------------------------------------------------
class RequestModel(BaseModel):
    """A request body: strict JSON types, unknown fields ignored (the SDK sends a few we do not use)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    sequence: str | None = field(
        Err.INVALID_SEQUENCE, "Request serial number, 36 characters, e.g. 919c82d4-8046-4722-9094-35c3c6524cff.", None
    )


class ResponseModel(BaseModel):
    """A response body: exactly the declared fields (``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(ResponseModel):
    error_code: str = Field(description="KMS.XXXX code of the configured error dialect.", examples=["KMS.0207"])
    error_msg: str = Field(description="What went wrong; states the real rule where the catalog is terse.")


class ErrorResponse(ResponseModel):
    """Every error: the HTTP status of its code and this envelope."""

    error: ErrorBody


# -- parsing ------------------------------------------------------------------------------------
def parse_body(model: type[RequestModel], body: bytes) -> RequestModel:
    """Validate a raw body; an empty body is ``{}`` (the SDK sends none for model-less calls)."""
    if not body.strip():
        body = b"{}"
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise _to_kms_error(model, exc) from None


def _to_kms_error(model: type[BaseModel], exc: ValidationError) -> KmsError:
    first = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    kind, loc, msg = first["type"], first["loc"], first["msg"]
    if kind == "json_invalid":
        return KmsError(
            Err.INVALID_JSON, f"Invalid JSON format of the request message: {msg.removeprefix('Invalid JSON: ')}."
        )
    if not loc:
        return KmsError(Err.INVALID_JSON, "The request body must be a JSON object.")
    where = _dotted(loc)
    if kind == "missing":
        return KmsError(Err.MISSING_PARAMETER, f"Parameter missing in the request message: {where}.")
    return KmsError(meaning_of(model, loc), f"Invalid {where}: {msg.removeprefix('Value error, ')}.")


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def meaning_of(model: type[BaseModel], loc: tuple[int | str, ...]) -> Err:
    """The error meaning of the field at ``loc``: the innermost declared one, walking nested models."""
    err: Err = Err.INVALID_PARAMETER
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part) if current is not None else None
        if info is None:
            break
        extra = info.json_schema_extra
        if isinstance(extra, dict) and ERROR_KEY in extra:
            err = Err[str(extra[ERROR_KEY])]
        current = _nested_model(info.annotation)
    return err


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation) if get_origin(annotation) is not None else ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None
